/* SPDX-License-Identifier: GPL-2.0 */
/* Global counters, per CPU, summed when read. */
#ifndef _TLSTAP_STATS_H
#define _TLSTAP_STATS_H

#include <linux/percpu.h>
#include <linux/types.h>

enum tlstap_stat {
	TLSTAP_STAT_RECORDS,		/* accepted into a ring */
	TLSTAP_STAT_BYTES,		/* record bytes accepted */
	TLSTAP_STAT_DATAGRAMS,		/* sent */
	TLSTAP_STAT_DROP_INVALID,	/* malformed record */
	TLSTAP_STAT_DROP_OVERSIZE,	/* over max_record or the ring */
	TLSTAP_STAT_DROP_NO_TARGET,	/* no target configured */
	TLSTAP_STAT_DROP_RING_FULL,	/* -EAGAIN to a non-blocking writer */
	TLSTAP_STAT_DROP_FAULT,		/* bad user pointer mid-record */
	TLSTAP_STAT_DROP_NOMEM,
	TLSTAP_STAT_TX_ERRORS,		/* route or transmit failed */
	TLSTAP_STAT_RESEGMENTED,	/* slots re-cut for a smaller MTU */
	TLSTAP_STAT_GSO_BATCHES,	/* skbs carrying several datagrams */
	TLSTAP_STAT_NACKS,		/* NACKs honoured */
	TLSTAP_STAT_NACK_REJECTED,	/* malformed, or not from a target */
	TLSTAP_STAT_NACK_RATELIMITED,	/* requests over the resend budget */
	TLSTAP_STAT_RETRANSMITS,	/* datagrams sent again */
	TLSTAP_STAT_GAPS,		/* GAP ranges: asked for, gone */
	TLSTAP_STAT_HEARTBEATS,
	TLSTAP_STAT_RINGS_CREATED,	/* capture rings made by mmap() */
	TLSTAP_STAT_RING_RECORDS,	/* records taken from capture rings */
	TLSTAP_STAT_RING_WAKEUPS,	/* zero-byte writes on a ring's file */
	TLSTAP_STAT_RINGS_ENDED,	/* capture rings a bad frame ended */
	TLSTAP_STAT_RING_ABANDONED,	/* frames never committed: reported lost */
	TLSTAP_STAT_ICMP_UNREACHABLE,	/* ICMP destination unreachable */
	TLSTAP_STAT_RESOLVE_TIMEOUTS,	/* targets sent unresolved */
	TLSTAP_STAT_COUNT
};

struct tlstap_stats {
	u64 v[TLSTAP_STAT_COUNT];
};

struct tlstap;

extern const char *const tlstap_stat_names[TLSTAP_STAT_COUNT];

/* The sums over all CPUs, for sysfs and netlink alike. */
void tlstap_stats_read(struct tlstap *tt, u64 sum[TLSTAP_STAT_COUNT]);

#define tlstap_stat_add(tt, which, n) \
	this_cpu_add((tt)->stats->v[which], (n))
#define tlstap_stat_inc(tt, which) tlstap_stat_add(tt, which, 1)

#endif /* _TLSTAP_STATS_H */
