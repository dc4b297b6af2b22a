// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The gap tracker's bound on open ranges (gaptrack.c). */
#include <string.h>

#include "gaptrack.h"
#include "seqtrack.h"
#include "unit.h"

/* The gap tracker's bound: the oldest ranges go first, said as LOST. */
static void gt_lost(void *arg, const struct gap_lost *l)
{
	struct gap_lost *out = arg;

	*out = *l;
	out[1].seq_first++;	/* count in the slot after */
}

static void test_gaptrack_bound(void)
{
	struct gap_policy pol = { .timeout_ns = 20 * MS, .max_tries = 6,
				  .max_ranges = 4 };
	struct gap_lost got[2];
	struct gaptrack g;
	static struct seqtrack t;
	struct gap_dgram_edges e = { .last_ends = 1, .first_starts = 1 };
	uint32_t skipped;

	memset(got, 0, sizeof(got));
	seqtrack_init(&t);
	CHECK(!gaptrack_init(&g, &pol, gt_lost, got), "init");
	for (uint32_t s = 0; s < 12; s += 2) {
		seqtrack_see(&t, s, &skipped);
		if (skipped)
			gaptrack_open(&g, &t, s - 1, s - 1, 0, T0);
		e.first_rid = e.last_rid = s;
		gaptrack_arrived(&g, &t, s, &e, 1, 0);
	}
	CHECK(g.n == 4 && got[1].seq_first == 1 && got[0].seq_first == 1 &&
	      got[0].first.state == GAP_EDGE_KNOWN && got[0].first.rid == 1 &&
	      got[0].last.rid == 1 && got[0].reason == GAP_REASON_TIMEOUT &&
	      t.holes == 4, "bounded: %u ranges, %u handed out", g.n,
	      got[1].seq_first);
	gaptrack_free(&g);
}

UNIT_TESTS(UNIT_TEST(test_gaptrack_bound))
