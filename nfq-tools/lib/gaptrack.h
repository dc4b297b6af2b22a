/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The missing sequence numbers of one stream, as ranges, and what becomes
 * of them (docs/PROTOCOL.md 5.1): NACKed at once, again after a timeout
 * that doubles, a bounded number of times; given up when a GAP says so,
 * when a HEARTBEAT's oldest_seq has passed them, or when the tries run out.
 *
 * A try is used up only by a NACK that went unanswered: while
 * retransmissions of the stream keep filling its holes, its sender is
 * repairing them at the pace of its rate limit, lowest seqs first, and
 * the holes it has not reached yet are asked for again after the first,
 * undoubled timeout, with all their tries. So a hole of any size is
 * repaired whole while the sender answers, and one nobody answers is
 * given up after the same tries and time as if there were no others.
 *
 * A given-up range must say which records it took with it. Senders pack
 * records in order, so the datagram just before a range tells the first
 * record that can have bytes in it, and the one just after tells the last:
 * every record id between them was lost (record-id continuity). A range
 * keeps those two edges; it is handed out ("resolved") once both are
 * known. An edge next to another missing range is not known yet: it
 * waits until that range arrives or is given up too (adjacent given-up
 * ranges merge). An edge that can never be known (a stream joined by a
 * heartbeat, the end of the stream at exit) is reported as such. Until
 * the stream's first datagram arrives (it sets the top edge), the
 * records before a hole cannot be known.
 *
 * Pure logic: no clock (the caller passes now), no I/O (NACKs and lost
 * ranges go to callbacks).
 */
#ifndef TLSTAP_NFQ_GAPTRACK_H
#define TLSTAP_NFQ_GAPTRACK_H

#include <stdint.h>

#include "seqtrack.h"
#include "wire.h"

enum gap_edge_state {
	GAP_EDGE_UNKNOWN,	/* the neighbouring seq is missing: wait */
	GAP_EDGE_KNOWN,
	GAP_EDGE_NEVER,		/* cannot be known */
};

/*
 * Left edge: rid is the first record that can have bytes in the range;
 * right edge: the last one.
 */
struct gap_edge {
	uint8_t state;		/* enum gap_edge_state */
	uint32_t rid;
};

enum gap_reason {
	GAP_REASON_GAP = 1,	/* the sender no longer holds them */
	GAP_REASON_TIMEOUT,	/* NACKs went unanswered */
};

struct gap_range {
	uint32_t first, last;	/* sequence numbers, inclusive */
	struct gap_edge left, right;
	uint64_t deadline_ns;	/* waiting: next NACK, or give-up */
	unsigned long long answers;	/* the stream's, at its last NACK */
	uint8_t tries;		/* NACKs since the stream's last answer */
	uint8_t lost;		/* 0: waiting; else enum gap_reason */
};

/* What a datagram that arrived says about the records at its two ends. */
struct gap_dgram_edges {
	uint32_t first_rid;	/* record of its first chunk */
	uint32_t last_rid;	/* record of its last chunk */
	uint8_t first_starts;	/* the first chunk is at offset 0 */
	uint8_t last_ends;	/* the last chunk ends its record */
};

/* A given-up range handed out: seqs and the records they took. */
struct gap_lost {
	uint32_t seq_first, seq_last;
	struct gap_edge first, last;	/* KNOWN or NEVER */
	enum gap_reason reason;
};

struct gap_policy {
	uint64_t timeout_ns;	/* before the second NACK; doubles */
	unsigned int max_tries;	/* unanswered NACKs before giving up */
	unsigned int max_ranges; /* per stream; the oldest go first */
};

typedef void (*gap_lost_fn)(void *arg, const struct gap_lost *l);
/* n (1..TLSTAP_NACK_MAX_RANGES) ranges to NACK in one message. */
typedef void (*gap_nack_fn)(void *arg, const struct wire_range *ranges,
			    unsigned int n);

struct gaptrack {
	struct gap_range *r;	/* ascending, disjoint, within the window */
	unsigned int n, cap;
	struct gap_edge top;	/* records after the highest seq that came */
	const struct gap_policy *policy;
	gap_lost_fn lost;
	void *arg;
	unsigned long long given_up;	/* seqs given up so far */
	/* Answers: holes a retransmission filled, whoever asked for it. */
	unsigned long long answers;
};

/* 0, or -1 if memory is short. */
int gaptrack_init(struct gaptrack *g, const struct gap_policy *policy,
		  gap_lost_fn lost, void *arg);
void gaptrack_free(struct gaptrack *g);

/*
 * Seqs first..last just became holes at the top of the window (skipped by
 * a datagram, or announced by a heartbeat). clipped: more were skipped
 * than the window holds, so the records before first cannot be known.
 * They are due for a NACK at now.
 */
void gaptrack_open(struct gaptrack *g, struct seqtrack *t, uint32_t first,
		   uint32_t last, int clipped, uint64_t now);

/*
 * Datagram seq arrived; is_top: it is the highest so far; resent: the
 * sender flagged it a retransmission (one that fills a hole answers the
 * stream's NACKs).
 */
void gaptrack_arrived(struct gaptrack *g, struct seqtrack *t, uint32_t seq,
		      const struct gap_dgram_edges *e, int is_top, int resent);

/* Gives up the missing seqs within first..last; returns how many. */
uint32_t gaptrack_give_up(struct gaptrack *g, struct seqtrack *t,
			  uint32_t first, uint32_t last,
			  enum gap_reason reason);

/*
 * Before the window moves up to new_next: missing seqs that would leave
 * it are given up (reason timeout).
 */
void gaptrack_expire(struct gaptrack *g, struct seqtrack *t,
		     uint32_t new_next);

/*
 * NACKs what is due (through nack, ranges merged and cut to the
 * protocol's limits) and gives up what has had all its tries: a range
 * whose last NACK was followed by an answer (see gaptrack_arrived) starts
 * its tries and backoff over. Due means
 * a deadline at or before seen: the arrival time of the newest datagram
 * the caller has processed (now, once it has read everything), because
 * the answer to a NACK sent at t arrives after t, behind whatever was
 * already queued. New deadlines count from now. Returns the next
 * deadline, 0 if nothing is waiting.
 */
uint64_t gaptrack_tick(struct gaptrack *g, struct seqtrack *t, uint64_t now,
		       uint64_t seen, gap_nack_fn nack, void *nack_arg);

/* At the end: everything missing is given up and handed out. */
void gaptrack_flush(struct gaptrack *g, struct seqtrack *t);

/*
 * A range carried over from an earlier run (a state file), above every
 * range there is: waiting ones are NACKed at the next tick, with every
 * try. 0, or -1 if it is not above the others or memory is short.
 */
int gaptrack_add(struct gaptrack *g, const struct gap_range *r);

/* Missing seqs still waiting (for reports). */
unsigned int gaptrack_waiting_ranges(const struct gaptrack *g);

#endif
