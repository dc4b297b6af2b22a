// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <string.h>

#include "seqtrack.h"

#define W SEQTRACK_WINDOW

void seqtrack_init(struct seqtrack *t)
{
	memset(t, 0, sizeof(*t));
}

static int test_bit(const struct seqtrack *t, uint32_t n)
{
	return (t->seen[(n % W) / 64] >> (n % 64)) & 1;
}

static void set_bit(struct seqtrack *t, uint32_t n)
{
	t->seen[(n % W) / 64] |= 1ull << (n % 64);
}

static void clear_bit(struct seqtrack *t, uint32_t n)
{
	t->seen[(n % W) / 64] &= ~(1ull << (n % 64));
}

/*
 * The first number: nothing seen yet, and what came before it is not
 * missed (see the header). The bits below it are clear: such a number
 * that arrives after all is new (SEQ_LATE), though never a hole.
 */
static void start(struct seqtrack *t, uint32_t n)
{
	memset(t->seen, 0, sizeof(t->seen));
	t->next = n;
	t->floor = n;
	t->holes = 0;
	t->started = 1;
}

void seqtrack_start(struct seqtrack *t, uint32_t n)
{
	start(t, n);
}

void seqtrack_resume(struct seqtrack *t, uint32_t next)
{
	memset(t->seen, 0xff, sizeof(t->seen));
	t->next = next;
	t->floor = next - W;
	t->holes = 0;
	t->started = 1;
}

int seqtrack_before_start(const struct seqtrack *t, uint32_t n)
{
	return t->started && (int32_t)(n - t->floor) < 0;
}

enum seq_verdict seqtrack_query(const struct seqtrack *t, uint32_t n)
{
	uint32_t back;

	if (!t->started || (int32_t)(n - t->next) >= 0)
		return SEQ_NEW;
	back = t->next - n;
	if (back > W)
		return SEQ_STALE;
	return test_bit(t, n) ? SEQ_DUP : SEQ_LATE;
}

/* Moves next up to new_next (beyond it), the numbers entering as holes. */
static void advance_to(struct seqtrack *t, uint32_t new_next)
{
	uint32_t d = new_next - t->next;	/* numbers entering the window */

	if (d >= W) {
		/* The whole window leaves, and so does what never entered. */
		t->expired += t->holes + (d - W);
		memset(t->seen, 0, sizeof(t->seen));
		t->holes = W;
	} else {
		for (uint32_t s = t->next; s != new_next; s++) {
			/* The bit of s held s - W, which leaves the window. */
			if (!test_bit(t, s) && !seqtrack_before_start(t, s - W)) {
				t->expired++;
				t->holes--;
			}
			clear_bit(t, s);
			t->holes++;
		}
	}
	t->next = new_next;
	/* What left the window is stale, before the start or not. */
	if ((int32_t)(new_next - W - t->floor) > 0)
		t->floor = new_next - W;
}

enum seq_verdict seqtrack_see(struct seqtrack *t, uint32_t n,
			      uint32_t *skipped)
{
	enum seq_verdict v;

	*skipped = 0;
	if (!t->started)
		start(t, n);
	v = seqtrack_query(t, n);
	if (v == SEQ_LATE) {
		set_bit(t, n);
		if (!seqtrack_before_start(t, n))
			t->holes--;
	}
	if (v != SEQ_NEW)
		return v;
	*skipped = n - t->next;
	advance_to(t, n + 1);
	set_bit(t, n);
	t->holes--;
	return SEQ_NEW;
}

void seqtrack_advance(struct seqtrack *t, uint32_t n, uint32_t *opened)
{
	*opened = 0;
	if (!t->started) {
		start(t, n + 1);
		return;
	}
	if ((int32_t)(n - t->next) < 0)
		return;
	*opened = n + 1 - t->next;
	advance_to(t, n + 1);
}

uint32_t seqtrack_reopen(struct seqtrack *t, uint32_t first, uint32_t last)
{
	uint32_t n = 0, s = first;

	if ((int32_t)(last - first) < 0 || last - first >= W)
		return 0;
	do {
		if (seqtrack_query(t, s) == SEQ_DUP &&
		    !seqtrack_before_start(t, s)) {
			clear_bit(t, s);
			t->holes++;
			n++;
		}
	} while (s++ != last);
	return n;
}

int seqtrack_fill(struct seqtrack *t, uint32_t n)
{
	if (seqtrack_query(t, n) != SEQ_LATE)
		return 0;
	set_bit(t, n);
	if (!seqtrack_before_start(t, n))
		t->holes--;
	return 1;
}

int seqtrack_next_hole(const struct seqtrack *t, uint32_t from,
		       uint32_t *first, uint32_t *last)
{
	uint32_t s;

	if (!t->started || !t->holes || (int32_t)(from - t->next) >= 0)
		return 0;
	if ((uint32_t)(t->next - from) > W)
		from = t->next - W;
	if (seqtrack_before_start(t, from))
		from = t->floor;
	for (s = from; s != t->next && test_bit(t, s); s++)
		;
	if (s == t->next)
		return 0;
	*first = s;
	while (s != t->next && !test_bit(t, s))
		s++;
	*last = s - 1;
	return 1;
}
