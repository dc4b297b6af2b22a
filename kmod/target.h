/* SPDX-License-Identifier: GPL-2.0 */
/* A distributor target: its address, ring, route cache and worker. */
#ifndef _TLSTAP_TARGET_H
#define _TLSTAP_TARGET_H

#include <linux/list.h>
#include <linux/workqueue.h>
#include <linux/hrtimer.h>
#include <linux/timer.h>
#include <net/dst_cache.h>
#include <linux/tlstap.h>

#include "ring.h"
#include "target_parse.h"
#include "dgram.h"

struct tlstap;

struct tlstap_target {
	struct list_head list;		/* tt->targets, in key order */
	struct tlstap *tt;
	struct tlstap_endpoint ep;
	struct tlstap_target_key key;
	u32 weight;
	/* One sequence space: new for every target added, random. */
	u32 stream_id;

	struct tlstap_ring ring;
	u32 capacity;			/* datagram payload for the route MTU */
	bool dead;			/* unpublished; writers must re-steer */

	struct dst_cache dst_cache;	/* worker only */
	struct work_struct tx_work;
	unsigned int cpu;		/* where tx_work runs (send.c) */
	struct hrtimer flush_timer;

	/* NACKed ranges, queued in softirq for the worker. */
	spinlock_t nack_lock;
	unsigned int nnacks;
	struct wire_range nacks[TLSTAP_NACK_MAX_RANGES];

	/* Worker only: retransmission budget, heartbeats, scratch. */
	u64 tokens;
	ktime_t tokens_at;
	struct timer_list hb_timer;
	bool hb_due;
	unsigned int hb_sent;
	struct wire_range nacks_work[TLSTAP_NACK_MAX_RANGES];
	struct wire_range gaps_work[TLSTAP_NACK_MAX_RANGES];
	u8 gap_msg[TLSTAP_NACK_MAX_LEN];

	/* Written by the worker only. */
	u64 packets;
	u64 bytes;
	u64 errors;

	/* ICMP destination unreachable about it: softirq, any CPU. */
	atomic64_t icmp_unreachable;

	/* The next hop while it is resolved (neigh.c). */
	u8 state;			/* enum tlstap_target_state */
	struct neighbour *neigh;	/* RESOLVING: a reference */
	unsigned long resolve_by;	/* jiffies: sends anyway then */
	struct timer_list resolve_timer;
};

int tlstap_targets_apply(struct tlstap *tt, const struct tlstap_target_cmd *cmd,
			 enum tlstap_origin origin);
void tlstap_targets_flush(struct tlstap *tt);
int tlstap_targets_show(struct tlstap *tt, char *buf, size_t size);

#endif /* _TLSTAP_TARGET_H */
