/* SPDX-License-Identifier: GPL-2.0 */
/* A distributor target: its address, ring, route cache and worker. */
#ifndef _TLSTAP_TARGET_H
#define _TLSTAP_TARGET_H

#include <linux/list.h>
#include <linux/workqueue.h>
#include <linux/hrtimer.h>
#include <net/dst_cache.h>

#include "ring.h"
#include "target_parse.h"

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
	struct hrtimer flush_timer;

	/* Written by the worker only. */
	u64 packets;
	u64 bytes;
	u64 errors;
};

int tlstap_targets_apply(struct tlstap *tt, const struct tlstap_target_cmd *cmd);
void tlstap_targets_flush(struct tlstap *tt);
int tlstap_targets_show(struct tlstap *tt, char *buf, size_t size);

#endif /* _TLSTAP_TARGET_H */
