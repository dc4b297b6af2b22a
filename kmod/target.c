// SPDX-License-Identifier: GPL-2.0
/*
 * Target lifetime. Targets are added, removed and listed under
 * config_lock; every change republishes the steering table, and a removed
 * target sends what writers committed to it before it is freed.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/log2.h>
#include <linux/sysfs.h>
#include <linux/random.h>
#include <linux/cpumask.h>

#include "tlstap.h"
#include "target.h"
#include "flowtable.h"
#include "steering.h"
#include "socket.h"
#include "send.h"
#include "dgram.h"
#include "control.h"
#include "netlink.h"
#include "neigh.h"

#define TLSTAP_MIN_SLOTS 16

static u32 ring_slots(u32 ring_kb)
{
	u32 n = ring_kb / (PAGE_SIZE / 1024);

	return rounddown_pow_of_two(max_t(u32, n, TLSTAP_MIN_SLOTS));
}

/* Called with config_lock held. */
static struct tlstap_target *target_create(struct tlstap *tt,
					   const struct tlstap_target_cmd *cmd)
{
	u32 nslots = ring_slots(READ_ONCE(tt->ring_kb));
	struct tlstap_target *t;
	int err;

	if (!tlstap_ring_pages_charge(tt, nslots))
		return ERR_PTR(-ENOMEM);
	err = -ENOMEM;
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		goto err_uncharge;
	t->tt = tt;
	t->ep = cmd->ep;
	t->weight = cmd->weight;
	t->stream_id = get_random_u32();
	steer_target_key(&t->key, t->ep.family, t->ep.addr, t->ep.port);

	err = tlstap_ring_init(&t->ring, nslots);
	if (err)
		goto err_free;
	err = dst_cache_init(&t->dst_cache, GFP_KERNEL);
	if (err)
		goto err_ring;
	INIT_WORK(&t->tx_work, tlstap_send_worker);
	t->cpu = cpumask_any_distribute(cpu_online_mask);
	hrtimer_init(&t->flush_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	t->flush_timer.function = tlstap_send_flush_timer;
	spin_lock_init(&t->nack_lock);
	timer_setup(&t->hb_timer, tlstap_control_hb_timer, 0);
	t->tokens = TLSTAP_RETRANSMIT_BURST;
	t->tokens_at = ktime_get();
	t->capacity = tlstap_socket_capacity(tt, t);
	tlstap_neigh_resolve(t);
	return t;

err_ring:
	tlstap_ring_free(&t->ring);
err_free:
	kfree(t);
err_uncharge:
	tlstap_ring_pages_uncharge(tt, nslots);
	return ERR_PTR(err);
}

/*
 * Unpublished and dead: no writer can reach t any more. Called with
 * config_lock held.
 */
static void target_destroy(struct tlstap_target *t)
{
	tlstap_send_drain(t);
	tlstap_neigh_release(t);
	dst_cache_destroy(&t->dst_cache);
	tlstap_ring_pages_uncharge(t->tt, tlstap_ring_size(&t->ring));
	tlstap_ring_free(&t->ring);
	kfree(t);
}

static struct tlstap_target *target_find(struct tlstap *tt,
					 const struct tlstap_target_key *key)
{
	struct tlstap_target *t;

	list_for_each_entry(t, &tt->targets, list)
		if (!steer_target_key_cmp(&t->key, key))
			return t;
	return NULL;
}

static int target_add(struct tlstap *tt, const struct tlstap_target_cmd *cmd,
		      enum tlstap_origin origin)
{
	struct tlstap_target_key key;
	struct tlstap_target *t, *pos;
	LIST_HEAD(none);
	int err;

	steer_target_key(&key, cmd->ep.family, cmd->ep.addr, cmd->ep.port);
	if (target_find(tt, &key))
		return -EEXIST;
	if (tt->ntargets == TLSTAP_MAX_TARGETS)
		return -ENOSPC;
	t = target_create(tt, cmd);
	if (IS_ERR(t))
		return PTR_ERR(t);
	/* Keep the list in key order: the table depends on it. */
	list_for_each_entry(pos, &tt->targets, list)
		if (steer_target_key_cmp(&t->key, &pos->key) < 0)
			break;
	list_add_tail(&t->list, &pos->list);
	tt->ntargets++;
	err = tlstap_flowtable_rebuild(tt, &none);
	if (err) {
		list_del(&t->list);
		tt->ntargets--;
		goto err_destroy;
	}
	tt->targets_gen++;
	tlstap_netlink_notify_target(t, TLSTAP_CMD_TARGET_ADD, origin);
	return 0;

err_destroy:
	target_destroy(t);
	return err;
}

static int target_del(struct tlstap *tt, const struct tlstap_endpoint *ep,
		      enum tlstap_origin origin)
{
	struct tlstap_target_key key;
	struct tlstap_target *t;
	struct list_head *prev;
	LIST_HEAD(dying);
	int err;

	steer_target_key(&key, ep->family, ep->addr, ep->port);
	t = target_find(tt, &key);
	if (!t)
		return -ENOENT;
	prev = t->list.prev;
	list_move(&t->list, &dying);
	tt->ntargets--;
	err = tlstap_flowtable_rebuild(tt, &dying);
	if (err) {
		list_move(&t->list, prev);
		tt->ntargets++;
		return err;
	}
	tt->targets_gen++;
	tlstap_netlink_notify_target(t, TLSTAP_CMD_TARGET_DEL, origin);
	target_destroy(t);
	return 0;
}

static int targets_flush_locked(struct tlstap *tt, enum tlstap_origin origin)
{
	struct tlstap_target *t, *tmp;
	LIST_HEAD(dying);
	int err;

	list_splice_init(&tt->targets, &dying);
	err = tlstap_flowtable_rebuild(tt, &dying);
	if (err) {
		list_splice(&dying, &tt->targets);
		return err;
	}
	tt->ntargets = 0;
	tt->targets_gen++;
	list_for_each_entry_safe(t, tmp, &dying, list) {
		tlstap_netlink_notify_target(t, TLSTAP_CMD_TARGET_DEL, origin);
		target_destroy(t);
	}
	return 0;
}

/* Changes are announced (netlink.c) in the order they are made. */
int tlstap_targets_apply(struct tlstap *tt, const struct tlstap_target_cmd *cmd,
			 enum tlstap_origin origin)
{
	int err;

	mutex_lock(&tt->config_lock);
	switch (cmd->op) {
	case TLSTAP_TARGET_ADD:
		err = target_add(tt, cmd, origin);
		break;
	case TLSTAP_TARGET_DEL:
		err = target_del(tt, &cmd->ep, origin);
		break;
	default:
		err = targets_flush_locked(tt, origin);
		break;
	}
	mutex_unlock(&tt->config_lock);
	return err;
}

/*
 * Module exit: nothing can write any more, and memory may be short (no
 * new table: the old one is unpublished, then the targets go).
 */
void tlstap_targets_flush(struct tlstap *tt)
{
	struct tlstap_target *t, *tmp;

	mutex_lock(&tt->config_lock);
	tlstap_flowtable_free(tt);
	list_for_each_entry_safe(t, tmp, &tt->targets, list) {
		list_del(&t->list);
		target_destroy(t);
	}
	tt->ntargets = 0;
	tt->targets_gen++;
	mutex_unlock(&tt->config_lock);
}

/* enum tlstap_target_state, as the targets file and tlstapctl name it. */
static const char *const target_states[] = {
	[TLSTAP_TARGET_READY] = "ready",
	[TLSTAP_TARGET_RESOLVING] = "resolving",
	[TLSTAP_TARGET_UNRESOLVED] = "unresolved",
};

static int endpoint_print(const struct tlstap_endpoint *ep, char *buf,
			  size_t size)
{
	if (ep->family == TLSTAP_FAMILY_IPV6)
		return scnprintf(buf, size, "[%pI6c]:%u", ep->addr,
				 be16_to_cpu(ep->port));
	return scnprintf(buf, size, "%pI4:%u", ep->addr, be16_to_cpu(ep->port));
}

/* One line per target; a listing too long for buf ends in "...". */
int tlstap_targets_show(struct tlstap *tt, char *buf, size_t size)
{
	struct tlstap_target *t;
	char line[256];
	int len = 0, n;

	mutex_lock(&tt->config_lock);
	list_for_each_entry(t, &tt->targets, list) {
		n = endpoint_print(&t->ep, line, sizeof(line));
		n += scnprintf(line + n, sizeof(line) - n,
			       " weight %u packets %llu bytes %llu errors %llu icmp_unreachable %lld state %s\n",
			       t->weight, READ_ONCE(t->packets),
			       READ_ONCE(t->bytes), READ_ONCE(t->errors),
			       atomic64_read(&t->icmp_unreachable),
			       target_states[READ_ONCE(t->state)]);
		if (len + n + 4 >= size) {
			len += scnprintf(buf + len, size - len, "...\n");
			break;
		}
		memcpy(buf + len, line, n);
		len += n;
	}
	mutex_unlock(&tt->config_lock);
	return len;
}
