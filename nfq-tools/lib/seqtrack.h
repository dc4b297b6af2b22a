/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A sliding window over 32-bit serial numbers (datagram seq, record ids):
 * which ones were seen, which are holes, which arrive twice or too late.
 * Holes are what a receiver NACKs (lib/gaptrack.c keeps their state);
 * holes that slide out of the window are lost for good and counted as
 * expired.
 *
 * A tracker starts at the first number it is given: the numbers before
 * it are not holes (nobody can say whether they were lost or went to
 * another receiver), but one of them that arrives after all is still
 * new to it (SEQ_LATE, seqtrack_before_start() tells).
 */
#ifndef TLSTAP_NFQ_SEQTRACK_H
#define TLSTAP_NFQ_SEQTRACK_H

#include <stdint.h>

#define SEQTRACK_WINDOW	65536u	/* numbers remembered below the highest */

enum seq_verdict {
	SEQ_NEW,	/* beyond everything seen so far */
	SEQ_LATE,	/* fills a hole: reordered (or retransmitted) */
	SEQ_DUP,	/* seen before */
	SEQ_STALE,	/* older than the window: cannot tell */
};

struct seqtrack {
	int started;
	uint32_t next;		/* one past the highest number seen */
	uint32_t floor;		/* the start; at most SEQTRACK_WINDOW below next */
	uint32_t holes;		/* unseen numbers from floor to next */
	unsigned long long expired;	/* holes that left the window */
	uint64_t seen[SEQTRACK_WINDOW / 64];
};

void seqtrack_init(struct seqtrack *t);

/*
 * Classifies n and records it as seen; a fresh tracker starts at n.
 * *skipped: new holes it opened.
 */
enum seq_verdict seqtrack_see(struct seqtrack *t, uint32_t n,
			      uint32_t *skipped);

/* A fresh tracker starts at n: nothing seen yet, nothing before n missed. */
void seqtrack_start(struct seqtrack *t, uint32_t n);

/*
 * A tracker continues where an earlier one stopped: every number below
 * next counts as seen (seqtrack_reopen() says which were not).
 */
void seqtrack_resume(struct seqtrack *t, uint32_t next);

/*
 * first..last (below next, within the window) were not seen after all:
 * holes again. Returns how many became holes.
 */
uint32_t seqtrack_reopen(struct seqtrack *t, uint32_t first, uint32_t last);

/*
 * n was sent (a HEARTBEAT says so) but has not arrived: the window moves
 * up to n, leaving n and whatever it skips as holes; *opened: how many.
 * A fresh tracker starts after n instead, with no holes: n is the
 * newest of what came before it.
 */
void seqtrack_advance(struct seqtrack *t, uint32_t n, uint32_t *opened);

/* n is from before the tracker's start (not a hole, not seen yet either). */
int seqtrack_before_start(const struct seqtrack *t, uint32_t n);

/*
 * Marks the hole n as seen without it having arrived (it was given up),
 * so that it counts as a duplicate if it comes after all. 1 if n was a
 * hole in the window, 0 otherwise (nothing changes).
 */
int seqtrack_fill(struct seqtrack *t, uint32_t n);

/* Classifies n without recording it. */
enum seq_verdict seqtrack_query(const struct seqtrack *t, uint32_t n);

/*
 * The first hole at or after from (within the window): 1 and the hole's
 * inclusive range, or 0 if none.
 */
int seqtrack_next_hole(const struct seqtrack *t, uint32_t from,
		       uint32_t *first, uint32_t *last);

#endif
