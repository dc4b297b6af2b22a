/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's one instance: configuration, sockets, targets and the
 * steering table that maps flows to them.
 */
#ifndef _TLSTAP_TLSTAP_H
#define _TLSTAP_TLSTAP_H

#include <linux/mutex.h>
#include <linux/srcu.h>
#include <linux/list.h>
#include <linux/siphash.h>
#include <linux/miscdevice.h>
#include <linux/workqueue.h>
#include <linux/net.h>
#include <linux/notifier.h>

#include <linux/tlstap.h>

#include "stats.h"
#include "capture.h"

struct tlstap_flowtable;

struct tlstap {
	struct miscdevice misc;
	struct workqueue_struct *wq;		/* capture.c: unbound */
	struct workqueue_struct *tx_wq;		/* send.c: per CPU */

	/* Writers and the worker read targets and table under srcu. */
	struct srcu_struct srcu;
	struct tlstap_flowtable __rcu *table;

	struct mutex config_lock;	/* serialises all changes below */
	struct list_head targets;	/* config_lock */
	unsigned int ntargets;		/* config_lock */
	/* Pages of all rings, targets' and capture rings: see charge below. */
	atomic_long_t ring_pages;
	unsigned int targets_gen;	/* config_lock; bumped by each change */
	siphash_key_t hash_key;		/* config_lock; copied into tables */
	u8 hash_key_bytes[TLSTAP_HASH_KEY_LEN]; /* config_lock; as users write it */

	/*
	 * Knobs read locklessly on the fast path (READ_ONCE), written
	 * under config_lock by config.c only; all u32 (see config.c).
	 */
	u32 tos;
	u32 max_record;
	u32 flush_us;
	u32 ring_kb;
	u32 heartbeat_ms;
	u32 retransmit_pps;

	u16 port;
	struct socket *sock4;		/* module lifetime */
	struct socket *sock6;
	struct notifier_block netevent_nb;	/* neigh.c */

	struct tlstap_stats __percpu *stats;

	struct tlstap_captures captures;
};

bool tlstap_ring_pages_charge(struct tlstap *tt, unsigned long n);
void tlstap_ring_pages_uncharge(struct tlstap *tt, unsigned long n);

#endif /* _TLSTAP_TLSTAP_H */
