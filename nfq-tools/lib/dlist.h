/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * An intrusive doubly linked list with both ends, for the recency and
 * age orders the tools evict by (streams, flows, incomplete records,
 * NACK sources): O(1) to move an element to an end or take it out. The
 * link sits in the element; dlist_entry() gets the element back.
 */
#ifndef TLSTAP_NFQ_DLIST_H
#define TLSTAP_NFQ_DLIST_H

#include <stddef.h>

struct dlist_link {
	struct dlist_link *prev, *next;
};

struct dlist {
	struct dlist_link *head, *tail;
};

/* The element whose member link is l; NULL for NULL. */
#define dlist_entry(l, type, member)					\
	((l) ? (type *)(void *)((char *)(l) - offsetof(type, member)) : NULL)

static inline void dlist_unlink(struct dlist *d, struct dlist_link *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		d->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else
		d->tail = l->prev;
	l->prev = l->next = NULL;
}

static inline void dlist_push_front(struct dlist *d, struct dlist_link *l)
{
	l->prev = NULL;
	l->next = d->head;
	if (d->head)
		d->head->prev = l;
	else
		d->tail = l;
	d->head = l;
}

static inline void dlist_push_back(struct dlist *d, struct dlist_link *l)
{
	l->next = NULL;
	l->prev = d->tail;
	if (d->tail)
		d->tail->next = l;
	else
		d->head = l;
	d->tail = l;
}

/* Most recent first: l moves to the front. */
static inline void dlist_touch(struct dlist *d, struct dlist_link *l)
{
	dlist_unlink(d, l);
	dlist_push_front(d, l);
}

#endif
