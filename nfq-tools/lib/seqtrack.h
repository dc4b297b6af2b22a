/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A sliding window over 32-bit serial numbers (datagram seq, record ids):
 * which ones were seen, which are holes, which arrive twice or too late.
 * Holes are what a receiver NACKs (lib/gaptrack.c keeps their state);
 * holes that slide out of the window are lost for good and counted as
 * expired.
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
	uint32_t holes;		/* unseen numbers inside the window */
	unsigned long long expired;	/* holes that left the window */
	uint64_t seen[SEQTRACK_WINDOW / 64];
};

void seqtrack_init(struct seqtrack *t);

/* Classifies n and records it as seen. *skipped: new holes it opened. */
enum seq_verdict seqtrack_see(struct seqtrack *t, uint32_t n,
			      uint32_t *skipped);

/*
 * n was sent (a HEARTBEAT says so) but has not arrived: the window moves
 * up to n, leaving n and whatever it skips as holes; *opened: how many.
 * On a fresh tracker, n < SEQTRACK_WINDOW starts the stream at 0 (holes
 * 0..n); a larger n joins a running stream after n, with no holes.
 */
void seqtrack_advance(struct seqtrack *t, uint32_t n, uint32_t *opened);

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
