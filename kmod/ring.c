// SPDX-License-Identifier: GPL-2.0
/*
 * Slot pages are shared with skbs in flight, never copied: before a slot is
 * opened again its page must be ours alone, otherwise it is swapped for a
 * fresh page and the skb keeps the old one until it is freed.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/tlstap.h>

#include "ring.h"

int tlstap_ring_init(struct tlstap_ring *r, u32 nslots)
{
	u32 i;

	if (!is_power_of_2(nslots))
		return -EINVAL;
	/* A ring too large for free memory fails the add, never OOM-kills. */
	r->slots = kvcalloc(nslots, sizeof(*r->slots),
			    GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
	if (!r->slots)
		return -ENOMEM;
	for (i = 0; i < nslots; i++) {
		r->slots[i].page = alloc_page(GFP_KERNEL | __GFP_RETRY_MAYFAIL |
					      __GFP_NOWARN);
		if (!r->slots[i].page) {
			while (i--)
				put_page(r->slots[i].page);
			kvfree(r->slots);
			r->slots = NULL;
			return -ENOMEM;
		}
		r->slots[i].closed = true;
	}
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wait);
	INIT_LIST_HEAD(&r->waiters);
	r->mask = nslots - 1;
	r->prod = 0;
	r->sent = 0;
	r->open = false;
	r->next_record_id = 0;
	r->next_seq = 0;
	return 0;
}

void tlstap_ring_free(struct tlstap_ring *r)
{
	u32 i;

	for (i = 0; r->slots && i <= r->mask; i++)
		put_page(r->slots[i].page);
	kvfree(r->slots);
	r->slots = NULL;
}

static bool slot_page_private(struct tlstap_slot *s)
{
	struct page *page;

	if (page_ref_count(s->page) == 1) {
		/* skbs drop their references after their last read. */
		smp_acquire__after_ctrl_dep();
		return true;
	}
	page = alloc_page(GFP_ATOMIC | __GFP_NOWARN);
	if (!page)
		return false;
	put_page(s->page);
	s->page = page;
	return true;
}

static void slot_close(struct tlstap_ring *r, struct tlstap_slot *s,
		       bool *kick)
{
	s->closed = true;
	/* Pairs with the barrier of atomic_dec_and_test() in commit. */
	smp_mb();
	if (!atomic_read(&s->writers))
		*kick = true;
}

/* Lock held. */
static struct tlstap_ring_waiter *first_waiter(struct tlstap_ring *r)
{
	return list_first_entry_or_null(&r->waiters, struct tlstap_ring_waiter,
					node);
}

static bool waiter_first(struct tlstap_ring *r, struct tlstap_ring_waiter *w)
{
	return first_waiter(r) == w;
}

/* Lock held. Whoever is next in line gets to look again. */
static void leave_queue(struct tlstap_ring *r, struct tlstap_ring_waiter *w)
{
	bool was_first = waiter_first(r, w);

	list_del_init(&w->node);
	if (was_first && !list_empty(&r->waiters))
		wake_up_interruptible_all(&r->wait);
}

/*
 * Reserves room for a record of len bytes. Returns -EAGAIN when the ring
 * lacks free slots (the caller waits or gives up); a blocking writer's w
 * then holds its place in line. The first in line keeps the slots its
 * record needs: others take only what is free beyond them. -ENOMEM when a
 * busy page could not be replaced. *kick asks the caller to wake the
 * worker.
 */
int tlstap_ring_reserve(struct tlstap_ring *r, u32 len, u32 cap, u32 flush_us,
			struct tlstap_ring_waiter *w,
			struct tlstap_reservation *res, bool *kick)
{
	struct tlstap_ring_waiter *first;
	struct tlstap_wire_plan plan;
	struct tlstap_slot *s = NULL;
	u32 room = 0, kept = 0, i;

	spin_lock(&r->lock);
	first = first_waiter(r);
	if (first && first != w)
		kept = first->slots;
	if (r->open) {
		s = tlstap_ring_slot(r, r->prod - 1);
		room = s->cap - s->len;
	}
	tlstap_wire_plan(room, cap, len, &plan);
	if (plan.new_slots + kept > tlstap_ring_free_slots(r))
		goto no_room;
	for (i = 0; i < plan.new_slots; i++) {
		if (!slot_page_private(tlstap_ring_slot(r, r->prod + i))) {
			spin_unlock(&r->lock);
			return -ENOMEM;
		}
	}
	if (w && !list_empty(&w->node))
		leave_queue(r, w);

	res->record_id = r->next_record_id++;
	res->cap = cap;
	res->nslots = plan.new_slots;
	res->opened = false;
	if (plan.first_len) {
		res->first = r->prod - 1;
		res->first_off = s->len;
		res->first_len = plan.first_len;
		res->nslots++;
		s->len += TLSTAP_CHUNK_HDR_LEN + plan.first_len;
		s->count++;
		atomic_inc(&s->writers);
		if (!tlstap_wire_room(s->len, s->cap)) {
			r->open = false;
			slot_close(r, s, kick);
		}
	} else {
		if (r->open) {
			r->open = false;
			slot_close(r, s, kick);
		}
		res->first = r->prod;
		res->first_off = TLSTAP_MSG_HDR_LEN;
		res->first_len = plan.new_slots > 1 ?
				 tlstap_wire_slot_data(cap) : plan.last_len;
	}

	for (i = 0; i < plan.new_slots; i++) {
		u32 piece = i + 1 < plan.new_slots ?
			    tlstap_wire_slot_data(cap) : plan.last_len;

		s = tlstap_ring_slot(r, r->prod++);
		s->cap = cap;
		s->len = TLSTAP_MSG_HDR_LEN + TLSTAP_CHUNK_HDR_LEN + piece;
		s->count = 1;
		atomic_set(&s->writers, 1);
		s->closed = !tlstap_wire_room(s->len, cap);
	}
	if (plan.new_slots && !s->closed) {
		r->open = true;
		r->flush_at = ktime_add_us(ktime_get(), flush_us);
		res->opened = true;
	}
	spin_unlock(&r->lock);
	return 0;

no_room:
	if (w) {
		/* Again each time: the path MTU may have changed cap. */
		w->slots = tlstap_ring_slots_for(len, cap);
		if (list_empty(&w->node))
			list_add_tail(&w->node, &r->waiters);
	}
	spin_unlock(&r->lock);
	return -EAGAIN;
}

/*
 * Whether w is first in line and the ring has slots free: the condition a
 * blocking writer waits for.
 */
bool tlstap_ring_turn(struct tlstap_ring *r, struct tlstap_ring_waiter *w)
{
	bool turn;

	spin_lock(&r->lock);
	turn = waiter_first(r, w) && tlstap_ring_free_slots(r) >= w->slots;
	spin_unlock(&r->lock);
	return turn;
}

/* A writer gives up its turn: interrupted, or its record went elsewhere. */
void tlstap_ring_leave(struct tlstap_ring *r, struct tlstap_ring_waiter *w)
{
	spin_lock(&r->lock);
	if (!list_empty(&w->node))
		leave_queue(r, w);
	spin_unlock(&r->lock);
}

/* Returns true when a slot became ready to send. */
bool tlstap_ring_commit(struct tlstap_ring *r,
			const struct tlstap_reservation *res)
{
	bool ready = false;
	u32 i;

	for (i = 0; i < res->nslots; i++) {
		struct tlstap_slot *s = tlstap_ring_slot(r, res->first + i);

		if (atomic_dec_and_test(&s->writers) && READ_ONCE(s->closed))
			ready = true;
	}
	return ready;
}

/*
 * The open slot goes at the next collect, whatever its flush time.
 * Returns whether there was one.
 */
bool tlstap_ring_expire(struct tlstap_ring *r)
{
	bool open;

	spin_lock(&r->lock);
	open = r->open;
	if (open)
		r->flush_at = 0;
	spin_unlock(&r->lock);
	return open;
}

/*
 * Closes the open slot if its flush time has come (or flush_all), then
 * returns how many slots from *first on are ready to send, at most max.
 * *flush_at is when the slot still open must go, or 0.
 */
u32 tlstap_ring_collect(struct tlstap_ring *r, u32 max, bool flush_all,
			u32 *first, ktime_t *flush_at)
{
	bool unused_kick = false;
	u32 n = 0;

	spin_lock(&r->lock);
	if (r->open && (flush_all || !ktime_before(ktime_get(), r->flush_at))) {
		r->open = false;
		slot_close(r, tlstap_ring_slot(r, r->prod - 1), &unused_kick);
	}
	*flush_at = r->open ? r->flush_at : 0;
	*first = r->sent;
	while (n < max && r->sent + n != r->prod) {
		struct tlstap_slot *s = tlstap_ring_slot(r, r->sent + n);

		if (!s->closed || atomic_read_acquire(&s->writers))
			break;
		n++;
	}
	spin_unlock(&r->lock);
	return n;
}

void tlstap_ring_advance(struct tlstap_ring *r, u32 n)
{
	spin_lock(&r->lock);
	r->sent += n;
	spin_unlock(&r->lock);
	wake_up_interruptible_all(&r->wait);
}
