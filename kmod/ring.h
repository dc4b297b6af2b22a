/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A target's ring of datagram slots, one page each. Writers reserve room
 * under the lock, copy outside it and commit; the worker sends closed slots
 * whose writers are done, in order, pointing skbs at the slot pages.
 */
#ifndef _TLSTAP_RING_H
#define _TLSTAP_RING_H

#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/ktime.h>
#include <linux/atomic.h>
#include <linux/mm_types.h>
#include <linux/minmax.h>
#include <linux/list.h>
#include <linux/math.h>

#include "dgram.h"

struct tlstap_slot {
	struct page *page;
	u16 len;		/* bytes used, message header included */
	u16 cap;		/* datagram capacity when the slot was opened */
	u16 count;		/* chunks */
	bool closed;		/* no more reservations; lock */
	atomic_t writers;	/* reservations still copying */
	u32 seq;		/* assigned when sent: the first, */
	u16 nseq;		/* and how many (more than 1 when re-cut) */
};

/* Indexes are free-running u32 counters; a slot is slots[i & mask]. */
struct tlstap_ring {
	spinlock_t lock;	/* reservations, open slot, indexes */
	struct tlstap_slot *slots;
	u32 mask;
	u32 prod;		/* slots opened */
	u32 sent;		/* slots handed to the network */
	bool open;		/* slot prod - 1 takes more chunks */
	ktime_t flush_at;	/* when the open slot must go out */
	u32 next_record_id;
	u32 next_seq;		/* worker only */
	wait_queue_head_t wait;	/* writers waiting for room */
	struct list_head waiters; /* their turns, first come first served */
};

/*
 * A blocking writer's place in the ring's queue. Without one, a writer of
 * a large record would wait forever beside writers of small records, who
 * take each slot as soon as the worker frees it.
 */
struct tlstap_ring_waiter {
	struct list_head node;	/* in waiters, or empty; lock */
	u32 slots;		/* what its record may take; lock */
};

struct tlstap_reservation {
	u32 first;		/* ring index of the first slot */
	u32 nslots;
	u32 first_off;		/* offset of the first chunk in its slot */
	u32 first_len;		/* data bytes of the first chunk */
	u32 cap;		/* capacity of the slots opened for it */
	u32 record_id;
	bool opened;		/* left a newly opened slot open */
};

int tlstap_ring_init(struct tlstap_ring *r, u32 nslots);
void tlstap_ring_free(struct tlstap_ring *r);

static inline struct tlstap_slot *tlstap_ring_slot(struct tlstap_ring *r,
						   u32 i)
{
	return &r->slots[i & r->mask];
}

static inline u32 tlstap_ring_size(const struct tlstap_ring *r)
{
	return r->mask + 1;
}

/* Lock held. Slots writers may open: sent and not yet reused. */
static inline u32 tlstap_ring_free_slots(const struct tlstap_ring *r)
{
	return tlstap_ring_size(r) - (r->prod - r->sent);
}

/*
 * Lock held. Sent slots the writers have not taken back yet: the replay
 * window is [sent - retained, sent).
 */
static inline u32 tlstap_ring_retained(const struct tlstap_ring *r)
{
	return min(r->sent, tlstap_ring_free_slots(r));
}

/* Slots a record of len bytes may take, whatever the open slot holds. */
static inline u32 tlstap_ring_slots_for(u32 len, u32 cap)
{
	return DIV_ROUND_UP(len, tlstap_wire_slot_data(cap)) + 1;
}

static inline void tlstap_ring_waiter_init(struct tlstap_ring_waiter *w)
{
	INIT_LIST_HEAD(&w->node);
}

int tlstap_ring_reserve(struct tlstap_ring *r, u32 len, u32 cap, u32 flush_us,
			struct tlstap_ring_waiter *w,
			struct tlstap_reservation *res, bool *kick);
bool tlstap_ring_turn(struct tlstap_ring *r, struct tlstap_ring_waiter *w);
void tlstap_ring_leave(struct tlstap_ring *r, struct tlstap_ring_waiter *w);
bool tlstap_ring_commit(struct tlstap_ring *r,
			const struct tlstap_reservation *res);
bool tlstap_ring_expire(struct tlstap_ring *r);
u32 tlstap_ring_collect(struct tlstap_ring *r, u32 max, bool flush_all,
			u32 *first, ktime_t *flush_at);
void tlstap_ring_advance(struct tlstap_ring *r, u32 n);

#endif /* _TLSTAP_RING_H */
