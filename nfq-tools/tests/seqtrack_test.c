// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Sequence numbers seen, holes, the window, the 2^32 wrap (seqtrack.c). */
#include "seqtrack.h"
#include "unit.h"

static void test_seqtrack(void)
{
	static struct seqtrack t;
	uint32_t skipped, first, last;

	seqtrack_init(&t);
	CHECK(seqtrack_see(&t, 0, &skipped) == SEQ_NEW && !skipped, "0");
	CHECK(seqtrack_see(&t, 1, &skipped) == SEQ_NEW, "1");
	CHECK(seqtrack_see(&t, 5, &skipped) == SEQ_NEW && skipped == 3, "5");
	CHECK(t.holes == 3, "holes %u", t.holes);
	CHECK(seqtrack_next_hole(&t, 0, &first, &last) && first == 2 &&
	      last == 4, "hole %u..%u", first, last);
	CHECK(seqtrack_see(&t, 3, &skipped) == SEQ_LATE && t.holes == 2, "3");
	CHECK(seqtrack_see(&t, 3, &skipped) == SEQ_DUP, "3 again");
	CHECK(seqtrack_see(&t, 1, &skipped) == SEQ_DUP, "1 again");
	CHECK(seqtrack_see(&t, 5 + SEQTRACK_WINDOW, &skipped) == SEQ_NEW &&
	      t.expired == 2, "expired %llu", t.expired);
	CHECK(seqtrack_see(&t, 5, &skipped) == SEQ_STALE, "stale");

	/* Joining late, across the 2^32 wrap. */
	seqtrack_init(&t);
	CHECK(seqtrack_see(&t, 0xfffffffeu, &skipped) == SEQ_NEW && !skipped &&
	      !t.holes, "join late");
	CHECK(seqtrack_see(&t, 1, &skipped) == SEQ_NEW && skipped == 2 &&
	      t.holes == 2, "wrap: skipped %u holes %u", skipped, t.holes);
	CHECK(seqtrack_see(&t, 0xffffffffu, &skipped) == SEQ_LATE, "late");
	CHECK(t.holes == 1, "late: holes %u", t.holes);
	/* Before the start: new once, never a hole, seen after that. */
	CHECK(seqtrack_before_start(&t, 0xfffffff0u) &&
	      seqtrack_see(&t, 0xfffffff0u, &skipped) == SEQ_LATE &&
	      t.holes == 1 &&
	      seqtrack_see(&t, 0xfffffff0u, &skipped) == SEQ_DUP,
	      "before the start: holes %u", t.holes);
	/* A first number other than 0: the tracker starts there, no hole. */
	seqtrack_init(&t);
	seqtrack_see(&t, 3, &skipped);
	CHECK(t.holes == 0 && !skipped && seqtrack_before_start(&t, 0) &&
	      seqtrack_query(&t, 0) == SEQ_LATE &&
	      !seqtrack_next_hole(&t, 0, &first, &last),
	      "started at 3: holes %u", t.holes);
	/* What left the window is forgotten, before the start or not. */
	CHECK(seqtrack_see(&t, 3 + 2 * SEQTRACK_WINDOW, &skipped) == SEQ_NEW &&
	      t.holes == SEQTRACK_WINDOW - 1 &&
	      !seqtrack_before_start(&t, 3 + SEQTRACK_WINDOW + 1) &&
	      seqtrack_query(&t, 3) == SEQ_STALE, "jumped: holes %u", t.holes);
	/* A heartbeat starts a fresh tracker after its highest. */
	seqtrack_init(&t);
	seqtrack_advance(&t, 9, &skipped);
	CHECK(!skipped && t.next == 10 && !t.holes &&
	      seqtrack_query(&t, 9) == SEQ_LATE, "advance on a fresh tracker");
	/* Resumed: all below next seen, but what is reopened. */
	seqtrack_resume(&t, 100);
	CHECK(seqtrack_reopen(&t, 90, 92) == 3 && t.holes == 3 &&
	      seqtrack_query(&t, 91) == SEQ_LATE &&
	      seqtrack_query(&t, 93) == SEQ_DUP &&
	      seqtrack_query(&t, 100) == SEQ_NEW &&
	      seqtrack_reopen(&t, 95, 120) == 5,
	      "resume: holes %u", t.holes);
}

UNIT_TESTS(UNIT_TEST(test_seqtrack))
