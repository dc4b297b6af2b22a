/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The sender's answer to a NACK (docs/PROTOCOL.md 2.2): each requested
 * seq still held in the target's ring is sent again, flagged
 * RETRANSMIT, within a token bucket so that no NACK can become a flood;
 * seqs no longer held are answered with one GAP; seqs not sent yet are
 * ignored. Pure logic: sending is the caller's (a callback per datagram).
 */
#ifndef TLSTAP_NFQ_REPLAY_H
#define TLSTAP_NFQ_REPLAY_H

#include <stdint.h>

#include "txring.h"
#include "wire.h"

#define REPLAY_DEFAULT_RATE	10000	/* retransmissions per second */
#define REPLAY_DEFAULT_BURST	1024

/* Tokens in nanotokens: integer arithmetic, no drift. */
struct tokenbucket {
	uint64_t rate;		/* tokens per second */
	uint64_t cap;		/* burst, in nanotokens */
	uint64_t level;		/* nanotokens */
	uint64_t last_ns;
};

/* Starts full. rate >= 1. */
void tokenbucket_init(struct tokenbucket *tb, uint64_t rate, uint64_t burst,
		      uint64_t now_ns);
/* Takes one token if there is one: 1, else 0. */
int tokenbucket_take(struct tokenbucket *tb, uint64_t now_ns);

struct replay_counts {
	unsigned long long retransmits;	/* datagrams sent again */
	/* NACKs the bucket cut short (tlstap.ko's unit), and their seqs */
	unsigned long long ratelimited;
	unsigned long long ratelimited_seqs;
	unsigned long long gap_seqs;	/* seqs answered with a GAP */
	unsigned long long unsent_seqs;	/* seqs not sent yet: ignored */
};

typedef void (*replay_resend_fn)(void *arg, uint32_t seq,
				 const uint8_t *dgram, size_t len);

/*
 * Answers a NACK that passed wire_check_ranges: resend for what is held
 * (its RETRANSMIT flag set in the ring) while tokens last, and the GAP
 * ranges (ascending, at most 1024 seqs each: one per NACK range, so at
 * most TLSTAP_NACK_MAX_RANGES) in gap / *ngap.
 */
void replay_answer(struct txring *ring, struct tokenbucket *tb,
		   const struct wire_msg *nack, uint64_t now_ns,
		   replay_resend_fn resend, void *arg,
		   struct wire_range *gap, unsigned int *ngap,
		   struct replay_counts *counts);

#endif
