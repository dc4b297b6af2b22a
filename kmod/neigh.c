// SPDX-License-Identifier: GPL-2.0
/*
 * A new target's next hop. The kernel queues only about 200 KB for a
 * neighbour it is still resolving (ARP, ND) and drops the rest, so a new
 * target's first burst would be lost there. Resolution starts when the
 * target is added: neigh_event_send() on its route's neighbour, as RDMA's
 * address resolution does. Until the neighbour is valid the target's
 * worker holds its ring, sending nothing (writers fill it, then wait or
 * get EAGAIN, as for a slow path); after TLSTAP_RESOLVE_MS it sends
 * anyway, counted. A netevent notifier wakes the worker when the
 * neighbour is resolved, a timer at the bound.
 */
#include <linux/jiffies.h>
#include <net/dst.h>
#include <net/neighbour.h>
#include <net/netevent.h>

#include "tlstap.h"
#include "neigh.h"
#include "target.h"
#include "flowtable.h"
#include "socket.h"
#include "send.h"

static void resolve_timeout(struct timer_list *timer)
{
	struct tlstap_target *t = from_timer(t, timer, resolve_timer);

	tlstap_send_kick(t);
}

/*
 * A target being created, its worker initialised (the timer kicks it).
 * Without a route or a neighbour (a device without ARP, a local address)
 * there is nothing to wait for: READY.
 */
void tlstap_neigh_resolve(struct tlstap_target *t)
{
	struct dst_entry *dst;
	struct neighbour *n;

	timer_setup(&t->resolve_timer, resolve_timeout, 0);
	t->state = TLSTAP_TARGET_READY;
	dst = tlstap_socket_route(t->tt, t);
	if (IS_ERR(dst))
		return;
	n = dst_neigh_lookup(dst, t->ep.addr);
	dst_release(dst);
	if (!n)
		return;
	neigh_event_send(n, NULL);
	if (READ_ONCE(n->nud_state) & NUD_VALID) {
		neigh_release(n);
		return;
	}
	t->neigh = n;
	t->state = TLSTAP_TARGET_RESOLVING;
	t->resolve_by = jiffies + msecs_to_jiffies(TLSTAP_RESOLVE_MS);
	mod_timer(&t->resolve_timer, t->resolve_by);
}

/*
 * Worker: whether t must hold its datagrams still. The hold ends when the
 * neighbour is valid, or when the bound has passed (counted).
 */
bool tlstap_neigh_held(struct tlstap_target *t)
{
	struct neighbour *n = t->neigh;

	if (likely(READ_ONCE(t->state) != TLSTAP_TARGET_RESOLVING))
		return false;
	if (READ_ONCE(n->nud_state) & NUD_VALID) {
		WRITE_ONCE(t->state, TLSTAP_TARGET_READY);
	} else {
		if (time_before(jiffies, t->resolve_by))
			return true;
		WRITE_ONCE(t->state, TLSTAP_TARGET_UNRESOLVED);
		tlstap_stat_inc(t->tt, TLSTAP_STAT_RESOLVE_TIMEOUTS);
	}
	WRITE_ONCE(t->neigh, NULL);
	neigh_release(n);
	return false;
}

/* A dead target whose worker and timer have stopped (send.c). */
void tlstap_neigh_release(struct tlstap_target *t)
{
	if (t->neigh)
		neigh_release(t->neigh);
}

/*
 * Atomic context. A neighbour became valid: wake the targets waiting for
 * it. Only the pointer is compared; a held target holds its reference.
 */
static int neigh_changed(struct notifier_block *nb, unsigned long event,
			 void *ptr)
{
	struct tlstap *tt = container_of(nb, struct tlstap, netevent_nb);
	struct tlstap_flowtable *ft;
	struct neighbour *n = ptr;
	unsigned int i;
	int idx;

	if (event != NETEVENT_NEIGH_UPDATE ||
	    !(READ_ONCE(n->nud_state) & NUD_VALID))
		return NOTIFY_DONE;
	idx = srcu_read_lock(&tt->srcu);
	ft = srcu_dereference(tt->table, &tt->srcu);
	for (i = 0; ft && i < ft->ntargets; i++)
		if (READ_ONCE(ft->targets[i]->neigh) == n)
			tlstap_send_kick(ft->targets[i]);
	srcu_read_unlock(&tt->srcu, idx);
	return NOTIFY_DONE;
}

int tlstap_neigh_init(struct tlstap *tt)
{
	tt->netevent_nb.notifier_call = neigh_changed;
	return register_netevent_notifier(&tt->netevent_nb);
}

/* Before the table goes: no notification runs after this returns. */
void tlstap_neigh_exit(struct tlstap *tt)
{
	unregister_netevent_notifier(&tt->netevent_nb);
}
