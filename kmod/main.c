// SPDX-License-Identifier: GPL-2.0
/*
 * tlstap: records of TLS plaintext written to /dev/tlstap leave as
 * TOS-tagged UDP datagrams, steered by flow hash to distributor targets.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/random.h>
#include <linux/mm.h>

#include "tlstap.h"
#include "device.h"
#include "socket.h"
#include "target.h"
#include "send.h"
#include "sysfs.h"
#include "netlink.h"
#include "capture.h"
#include "neigh.h"
#include "config.h"

#define TLSTAP_DEFAULT_FLUSH_US	500
#define TLSTAP_DEFAULT_RING_KB	4096
#define TLSTAP_DEFAULT_HEARTBEAT_MS	100
#define TLSTAP_DEFAULT_RETRANSMIT_PPS	10000

static ushort port = TLSTAP_DEFAULT_PORT;
module_param(port, ushort, 0444);
MODULE_PARM_DESC(port, "UDP source port of the datagrams (default 7419)");

bool tlstap_gso = true;
module_param_named(gso, tlstap_gso, bool, 0644);
MODULE_PARM_DESC(gso, "Send runs of full datagrams as one UDP GSO skb");


static struct tlstap *tlstap;

/*
 * All rings together, targets' and capture rings, may pin at most this
 * share of RAM: their pages are allocated whole when a ring is made, not
 * as it fills, and ring_kb goes up to 1 GiB per target.
 */
#define TLSTAP_RING_RAM_SHARE 4

/*
 * Counts n more ring pages, or returns false when they would pass the
 * bound. Lock-free: capture rings are made under the caller's mmap_lock,
 * which must not nest outside config_lock (a writer faulting on its buffer
 * takes mmap_lock inside the SRCU section that config changes wait for).
 */
bool tlstap_ring_pages_charge(struct tlstap *tt, unsigned long n)
{
	unsigned long limit = totalram_pages() / TLSTAP_RING_RAM_SHARE;
	long old = atomic_long_read(&tt->ring_pages);

	do {
		if (old + n > limit)
			return false;
	} while (!atomic_long_try_cmpxchg(&tt->ring_pages, &old, old + n));
	return true;
}

void tlstap_ring_pages_uncharge(struct tlstap *tt, unsigned long n)
{
	atomic_long_sub(n, &tt->ring_pages);
}

static int __init tlstap_init(void)
{
	u8 key[TLSTAP_HASH_KEY_LEN];
	struct tlstap *tt;
	int err;

	tt = kzalloc(sizeof(*tt), GFP_KERNEL);
	if (!tt)
		return -ENOMEM;
	mutex_init(&tt->config_lock);
	INIT_LIST_HEAD(&tt->targets);
	tt->targets_gen = 1;	/* a dump's sequence number is never 0 */
	tlstap_capture_init(tt);
	get_random_bytes(key, sizeof(key));
	tlstap_set_hash_key(tt, key);
	tt->port = port;
	tt->tos = TLSTAP_DEFAULT_TOS;
	tt->max_record = TLSTAP_DEFAULT_MAX_RECORD;
	tt->flush_us = TLSTAP_DEFAULT_FLUSH_US;
	tt->ring_kb = TLSTAP_DEFAULT_RING_KB;
	tt->heartbeat_ms = TLSTAP_DEFAULT_HEARTBEAT_MS;
	tt->retransmit_pps = TLSTAP_DEFAULT_RETRANSMIT_PPS;

	err = init_srcu_struct(&tt->srcu);
	if (err)
		goto err_free;
	err = -ENOMEM;
	tt->stats = alloc_percpu(struct tlstap_stats);
	if (!tt->stats)
		goto err_srcu;
	tt->wq = alloc_workqueue("tlstap", WQ_UNBOUND, 0);
	if (!tt->wq)
		goto err_stats;
	/* Bound: a target's worker stays on its CPU (send.c). */
	tt->tx_wq = alloc_workqueue("tlstap_tx", WQ_CPU_INTENSIVE, 0);
	if (!tt->tx_wq)
		goto err_wq;
	err = tlstap_socket_init(tt);
	if (err)
		goto err_tx_wq;
	err = tlstap_neigh_init(tt);
	if (err)
		goto err_socket;
	tlstap_config_init();
	tlstap_sysfs_init();
	/* Before the device: sysfs writes announce through the family. */
	err = tlstap_netlink_init(tt);
	if (err)
		goto err_neigh;
	tt->misc.groups = tlstap_attr_groups;
	err = tlstap_device_register(tt);
	if (err)
		goto err_netlink;

	tlstap = tt;
	pr_info("loaded: UDP port %u\n", tt->port);
	return 0;

err_netlink:
	tlstap_netlink_exit();
err_neigh:
	tlstap_neigh_exit(tt);
err_socket:
	tlstap_socket_release(tt);
err_tx_wq:
	destroy_workqueue(tt->tx_wq);
err_wq:
	destroy_workqueue(tt->wq);
err_stats:
	free_percpu(tt->stats);
err_srcu:
	cleanup_srcu_struct(&tt->srcu);
err_free:
	kfree(tt);
	return err;
}

static void __exit tlstap_exit(void)
{
	struct tlstap *tt = tlstap;

	/*
	 * No file is open (the device pins the module), so no writer runs;
	 * capture rings of closed files may still be draining: they finish
	 * while the targets are there. sysfs goes first, then the family:
	 * nothing can change or announce a change any more when the targets
	 * go.
	 */
	tlstap_device_unregister(tt);
	tlstap_capture_exit(tt);
	tlstap_netlink_exit();
	tlstap_neigh_exit(tt);
	tlstap_targets_flush(tt);
	tlstap_socket_release(tt);
	destroy_workqueue(tt->tx_wq);
	destroy_workqueue(tt->wq);
	free_percpu(tt->stats);
	cleanup_srcu_struct(&tt->srcu);
	kfree(tt);
	pr_info("unloaded\n");
}

module_init(tlstap_init);
module_exit(tlstap_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION(TLSTAP_VERSION);
MODULE_DESCRIPTION("Ship captured TLS plaintext as flow-steered UDP datagrams");
MODULE_AUTHOR("The tlstap authors");
