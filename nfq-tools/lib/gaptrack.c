// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Ranges live in one sorted array: holes open at the top (appended),
 * arrivals split them, give-ups mark them and merge neighbours. All of
 * them lie within the sequence window, so serial order relative to the
 * first range is a total order.
 */
#include <stdlib.h>
#include <string.h>

#include "gaptrack.h"

#define MAX_BACKOFF_SHIFT	20

int gaptrack_init(struct gaptrack *g, const struct gap_policy *policy,
		  gap_lost_fn lost, void *arg)
{
	memset(g, 0, sizeof(*g));
	g->cap = 16;
	g->r = calloc(g->cap, sizeof(*g->r));
	if (!g->r)
		return -1;
	g->top.state = GAP_EDGE_NEVER;
	g->policy = policy;
	g->lost = lost;
	g->arg = arg;
	return 0;
}

void gaptrack_free(struct gaptrack *g)
{
	free(g->r);
	g->r = NULL;
	g->n = g->cap = 0;
}

static int32_t key(const struct gaptrack *g, uint32_t x)
{
	return (int32_t)(x - g->r[0].first);
}

/* Index of the first range whose last is at or after x. */
static unsigned int lower(const struct gaptrack *g, uint32_t x)
{
	unsigned int lo = 0, hi = g->n;
	int32_t kx;

	if (!g->n)
		return 0;
	kx = key(g, x);
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (key(g, g->r[mid].last) < kx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void remove_at(struct gaptrack *g, unsigned int i)
{
	memmove(&g->r[i], &g->r[i + 1], (g->n - i - 1) * sizeof(*g->r));
	g->n--;
}

static void insert_at(struct gaptrack *g, unsigned int i,
		      const struct gap_range *nr)
{
	memmove(&g->r[i + 1], &g->r[i], (g->n - i) * sizeof(*g->r));
	g->r[i] = *nr;
	g->n++;
}

static struct gap_edge edge_before(const struct gap_dgram_edges *e)
{
	struct gap_edge edge = { .state = GAP_EDGE_KNOWN,
				 .rid = e->first_starts ? e->first_rid - 1
							: e->first_rid };

	return edge;
}

static struct gap_edge edge_after(const struct gap_dgram_edges *e)
{
	struct gap_edge edge = { .state = GAP_EDGE_KNOWN,
				 .rid = e->last_ends ? e->last_rid + 1
						     : e->last_rid };

	return edge;
}

static void mark_lost(struct gaptrack *g, struct seqtrack *t, unsigned int i,
		      enum gap_reason reason)
{
	struct gap_range *r = &g->r[i];
	uint32_t s = r->first;

	r->lost = (uint8_t)reason;
	/* A given-up seq that comes after all is a duplicate, not news. */
	do
		seqtrack_fill(t, s);
	while (s++ != r->last);
	g->given_up += r->last - r->first + 1;
}

static void emit(struct gaptrack *g, unsigned int i)
{
	const struct gap_range *r = &g->r[i];
	struct gap_lost l = {
		.seq_first = r->first,
		.seq_last = r->last,
		.first = r->left,
		.last = r->right,
		.reason = (enum gap_reason)r->lost,
	};

	remove_at(g, i);
	g->lost(g->arg, &l);
}

static int resolvable(const struct gap_range *r)
{
	return r->lost && r->left.state != GAP_EDGE_UNKNOWN &&
	       r->right.state != GAP_EDGE_UNKNOWN;
}

static void merge_lost(struct gaptrack *g)
{
	unsigned int i = 0;

	while (i + 1 < g->n) {
		struct gap_range *a = &g->r[i], *b = &g->r[i + 1];

		if (!a->lost || !b->lost || a->last + 1 != b->first) {
			i++;
			continue;
		}
		a->last = b->last;
		a->right = b->right;
		/* The sender's word that it is gone outweighs a timeout. */
		if (b->lost == GAP_REASON_GAP)
			a->lost = GAP_REASON_GAP;
		remove_at(g, i + 1);
	}
}

static void resolve_all(struct gaptrack *g)
{
	unsigned int i = 0;

	while (i < g->n) {
		if (resolvable(&g->r[i]))
			emit(g, i);
		else
			i++;
	}
}

/*
 * Makes room by handing out the oldest range now, whatever its edges: an
 * edge still unknown becomes one that never will be, on both sides of it.
 */
static void force_oldest(struct gaptrack *g, struct seqtrack *t)
{
	struct gap_range *r = &g->r[0];

	if (!r->lost)
		mark_lost(g, t, 0, GAP_REASON_TIMEOUT);
	if (r->left.state == GAP_EDGE_UNKNOWN)
		r->left.state = GAP_EDGE_NEVER;
	if (r->right.state == GAP_EDGE_UNKNOWN) {
		r->right.state = GAP_EDGE_NEVER;
		if (g->n > 1 && g->r[1].first == r->last + 1)
			g->r[1].left.state = GAP_EDGE_NEVER;
		else if (g->n == 1 && g->top.state == GAP_EDGE_UNKNOWN)
			g->top.state = GAP_EDGE_NEVER;
	}
	emit(g, 0);
	resolve_all(g);
}

/* Room for k more ranges, within the policy's bound and memory. */
static void ensure_room(struct gaptrack *g, struct seqtrack *t,
			unsigned int k)
{
	while (g->n && g->n + k > g->policy->max_ranges)
		force_oldest(g, t);
	if (g->n + k > g->cap) {
		unsigned int cap = 2 * g->cap;
		struct gap_range *nr;

		if (cap > g->policy->max_ranges)
			cap = g->policy->max_ranges;
		nr = realloc(g->r, cap * sizeof(*nr));
		if (nr) {
			g->r = nr;
			g->cap = cap;
		}
		while (g->n && g->n + k > g->cap)
			force_oldest(g, t);
	}
}

void gaptrack_open(struct gaptrack *g, struct seqtrack *t, uint32_t first,
		   uint32_t last, int clipped, uint64_t now)
{
	struct gap_range nr = {
		.first = first,
		.last = last,
		.right = { .state = GAP_EDGE_UNKNOWN },
		.deadline_ns = now,
		.answers = g->answers,
	};

	ensure_room(g, t, 1);
	nr.left = g->top;
	if (clipped)
		nr.left.state = GAP_EDGE_NEVER;
	insert_at(g, g->n, &nr);
	g->top.state = GAP_EDGE_UNKNOWN;
}

void gaptrack_arrived(struct gaptrack *g, struct seqtrack *t, uint32_t seq,
		      const struct gap_dgram_edges *e, int is_top, int resent)
{
	unsigned int i, j, k;

	i = lower(g, seq);
	if (i < g->n && key(g, g->r[i].first) < key(g, seq) &&
	    g->r[i].last != seq) {
		/* It will split a range in two. */
		ensure_room(g, t, 1);
		i = lower(g, seq);
	}
	if (i < g->n && key(g, g->r[i].first) <= key(g, seq)) {
		struct gap_range *r = &g->r[i];

		if (r->lost)
			return;	/* cannot happen: given-up seqs are filled */
		if (resent)
			g->answers++;
		if (r->first == r->last) {
			remove_at(g, i);
		} else if (seq == r->first) {
			r->first++;
		} else if (seq == r->last) {
			r->last--;
		} else {
			struct gap_range upper = *r;

			upper.first = seq + 1;
			r->last = seq - 1;
			insert_at(g, i + 1, &upper);
		}
	}
	if (is_top)
		g->top = edge_after(e);
	if (!g->n)
		return;
	/* The ranges next to seq learn their edges from it. */
	j = lower(g, seq - 1);
	if (j < g->n && g->r[j].last == seq - 1)
		g->r[j].right = edge_before(e);
	else
		j = g->n;
	k = lower(g, seq + 1);
	if (k < g->n && g->r[k].first == seq + 1)
		g->r[k].left = edge_after(e);
	else
		k = g->n;
	if (k < g->n && resolvable(&g->r[k]))
		emit(g, k);
	if (j < g->n && resolvable(&g->r[j]))
		emit(g, j);
}

uint32_t gaptrack_give_up(struct gaptrack *g, struct seqtrack *t,
			  uint32_t first, uint32_t last,
			  enum gap_reason reason)
{
	uint32_t given = 0;
	unsigned int i;

	if (!g->n || (int32_t)(last - first) < 0)
		return 0;
	ensure_room(g, t, 2);
	if (!g->n)
		return 0;
	for (i = lower(g, first);
	     i < g->n && key(g, g->r[i].first) <= key(g, last); i++) {
		struct gap_range piece;

		if (g->r[i].lost)
			continue;
		/* Split off what lies outside [first, last]: still waiting. */
		if (key(g, g->r[i].first) < key(g, first)) {
			piece = g->r[i];
			piece.first = first;
			piece.left.state = GAP_EDGE_UNKNOWN;
			g->r[i].last = first - 1;
			g->r[i].right.state = GAP_EDGE_UNKNOWN;
			insert_at(g, ++i, &piece);
		}
		if (key(g, g->r[i].last) > key(g, last)) {
			piece = g->r[i];
			piece.first = last + 1;
			piece.left.state = GAP_EDGE_UNKNOWN;
			g->r[i].last = last;
			g->r[i].right.state = GAP_EDGE_UNKNOWN;
			insert_at(g, i + 1, &piece);
		}
		given += g->r[i].last - g->r[i].first + 1;
		mark_lost(g, t, i, reason);
	}
	if (given) {
		merge_lost(g);
		resolve_all(g);
	}
	return given;
}

void gaptrack_expire(struct gaptrack *g, struct seqtrack *t,
		     uint32_t new_next)
{
	uint32_t low = new_next - SEQTRACK_WINDOW;
	int any = 0;

	for (unsigned int i = 0; i < g->n; i++) {
		if ((int32_t)(g->r[i].first - low) >= 0)
			break;
		if (!g->r[i].lost) {
			mark_lost(g, t, i, GAP_REASON_TIMEOUT);
			any = 1;
		}
	}
	if (any) {
		merge_lost(g);
		resolve_all(g);
	}
}

uint64_t gaptrack_tick(struct gaptrack *g, struct seqtrack *t, uint64_t now,
		       uint64_t seen, gap_nack_fn nack, void *nack_arg)
{
	struct wire_range buf[TLSTAP_NACK_MAX_RANGES];
	unsigned int nb = 0;
	uint64_t next = 0;
	int expired = 0;

	for (unsigned int i = 0; i < g->n; i++) {
		struct gap_range *r = &g->r[i];
		unsigned int shift;
		uint32_t s;

		if (r->lost)
			continue;
		if (r->deadline_ns > seen) {
			if (!next || r->deadline_ns < next)
				next = r->deadline_ns;
			continue;
		}
		/*
		 * Answered since its last NACK: the sender is at work on the
		 * stream's holes, lowest first, at the pace of its rate
		 * limit. That NACK used up no try, and asking again soon
		 * keeps its bucket busy.
		 */
		if (r->answers != g->answers)
			r->tries = 0;
		if (r->tries >= g->policy->max_tries) {
			mark_lost(g, t, i, GAP_REASON_TIMEOUT);
			expired = 1;
			continue;
		}
		/* Into the NACK, merged with an adjacent range, cut at 1024. */
		for (s = r->first;; s++) {
			uint32_t e = r->last - s >= TLSTAP_NACK_MAX_SPAN
					     ? s + TLSTAP_NACK_MAX_SPAN - 1
					     : r->last;

			if (nb && buf[nb - 1].last + 1 == s &&
			    e - buf[nb - 1].first < TLSTAP_NACK_MAX_SPAN) {
				buf[nb - 1].last = e;
			} else {
				if (nb == TLSTAP_NACK_MAX_RANGES) {
					nack(nack_arg, buf, nb);
					nb = 0;
				}
				buf[nb].first = s;
				buf[nb].last = e;
				nb++;
			}
			s = e;
			if (e == r->last)
				break;
		}
		r->tries++;
		r->answers = g->answers;
		shift = r->tries - 1u < MAX_BACKOFF_SHIFT ? r->tries - 1u
							  : MAX_BACKOFF_SHIFT;
		r->deadline_ns = now + (g->policy->timeout_ns << shift);
		if (!next || r->deadline_ns < next)
			next = r->deadline_ns;
	}
	if (nb)
		nack(nack_arg, buf, nb);
	if (expired) {
		merge_lost(g);
		resolve_all(g);
	}
	return next;
}

void gaptrack_flush(struct gaptrack *g, struct seqtrack *t)
{
	for (unsigned int i = 0; i < g->n; i++)
		if (!g->r[i].lost)
			mark_lost(g, t, i, GAP_REASON_TIMEOUT);
	merge_lost(g);
	for (unsigned int i = 0; i < g->n; i++) {
		if (g->r[i].left.state == GAP_EDGE_UNKNOWN)
			g->r[i].left.state = GAP_EDGE_NEVER;
		if (g->r[i].right.state == GAP_EDGE_UNKNOWN)
			g->r[i].right.state = GAP_EDGE_NEVER;
	}
	resolve_all(g);
	if (g->top.state == GAP_EDGE_UNKNOWN)
		g->top.state = GAP_EDGE_NEVER;
}

int gaptrack_add(struct gaptrack *g, const struct gap_range *r)
{
	struct gap_range nr = *r;

	if ((int32_t)(nr.last - nr.first) < 0 ||
	    (g->n && (int32_t)(nr.first - g->r[g->n - 1].last) <= 0) ||
	    g->n >= g->policy->max_ranges)
		return -1;
	if (g->n == g->cap) {
		unsigned int cap = 2 * g->cap;
		struct gap_range *grown = realloc(g->r, cap * sizeof(*grown));

		if (!grown)
			return -1;
		g->r = grown;
		g->cap = cap;
	}
	nr.deadline_ns = 0;
	nr.tries = 0;
	nr.answers = g->answers;
	g->r[g->n++] = nr;
	return 0;
}

unsigned int gaptrack_waiting_ranges(const struct gaptrack *g)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < g->n; i++)
		n += !g->r[i].lost;
	return n;
}
