/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The module's counters and knobs by name: one table of each, read by the
 * module (its sysfs files, its netlink policy and replies) and by
 * tlstapctl, so that a name and its attribute are paired in one place.
 */
#ifndef _TLSTAP_NAMES_H
#define _TLSTAP_NAMES_H

#include "kcompat.h"
#include <linux/tlstap.h>

/* In the order of the stats file. */
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
	TLSTAP_STAT_NACKS_RECEIVED,	/* NACKs honoured */
	TLSTAP_STAT_NACK_REJECTED,	/* malformed, or not from a target */
	TLSTAP_STAT_NACK_RATELIMITED,	/* requests over the resend budget */
	TLSTAP_STAT_RETRANSMITS,	/* datagrams sent again */
	TLSTAP_STAT_GAPS_SENT,		/* GAP ranges: asked for, gone */
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

struct tlstap_stat_name {
	const char *name;	/* its line in the stats file */
	__u16 attr;		/* its TLSTAP_STATS_A_* */
};

extern const struct tlstap_stat_name tlstap_stat_names[TLSTAP_STAT_COUNT];

/* The numeric knobs, each a sysfs file and a TLSTAP_A_* attribute. */
enum tlstap_knob {
	TLSTAP_KNOB_TOS,
	TLSTAP_KNOB_MAX_RECORD,
	TLSTAP_KNOB_FLUSH_US,
	TLSTAP_KNOB_RING_KB,
	TLSTAP_KNOB_HEARTBEAT_MS,
	TLSTAP_KNOB_RETRANSMIT_PPS,
	TLSTAP_KNOB_COUNT
};

struct tlstap_knob_name {
	const char *name;	/* its sysfs file */
	__u16 attr;		/* its TLSTAP_A_* */
	__u8 size;		/* of the attribute: 1 (u8) or 4 (u32) */
	__u32 min, max;		/* valid values, inclusive */
};

extern const struct tlstap_knob_name tlstap_knob_names[TLSTAP_KNOB_COUNT];

#endif /* _TLSTAP_NAMES_H */
