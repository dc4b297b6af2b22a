// SPDX-License-Identifier: GPL-2.0
/* KUnit: ring reservations, and the order in which blocking writers get room. */
#include <kunit/test.h>

#include "../ring.h"

#define RING_CAP 1472U
#define RING_SLOTS 8U

static u32 slot_data(void)
{
	return tlstap_wire_slot_data(RING_CAP);
}

static void ring_setup(struct kunit *test, struct tlstap_ring *r)
{
	KUNIT_ASSERT_EQ(test, tlstap_ring_init(r, RING_SLOTS), 0);
}

/* A writer that reserves and is done copying at once. */
static int write_record(struct tlstap_ring *r, u32 len,
			struct tlstap_ring_waiter *w)
{
	struct tlstap_reservation res;
	bool kick = false;
	int err;

	err = tlstap_ring_reserve(r, len, RING_CAP, 1000, w, &res, &kick);
	if (!err)
		tlstap_ring_commit(r, &res);
	return err;
}

/* The worker sends up to max slots (closing the open one) and frees them. */
static u32 send_slots(struct tlstap_ring *r, u32 max)
{
	ktime_t flush_at;
	u32 first, n;

	n = tlstap_ring_collect(r, max, true, &first, &flush_at);
	tlstap_ring_advance(r, n);
	return n;
}

static void fill(struct kunit *test, struct tlstap_ring *r)
{
	u32 i;

	for (i = 0; i < RING_SLOTS; i++)
		KUNIT_ASSERT_EQ(test, write_record(r, slot_data(), NULL), 0);
	KUNIT_ASSERT_EQ(test, write_record(r, 1, NULL), -EAGAIN);
}

static void ring_reserve_until_full(struct kunit *test)
{
	struct tlstap_ring r;

	ring_setup(test, &r);
	fill(test, &r);
	KUNIT_EXPECT_EQ(test, send_slots(&r, 3), 3U);
	KUNIT_EXPECT_EQ(test, write_record(&r, 3 * slot_data(), NULL), 0);
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, NULL), -EAGAIN);
	KUNIT_EXPECT_EQ(test, send_slots(&r, RING_SLOTS), RING_SLOTS);
	/* Small records share a slot. */
	KUNIT_EXPECT_EQ(test, write_record(&r, 10, NULL), 0);
	KUNIT_EXPECT_EQ(test, write_record(&r, 10, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_slots(&r, RING_SLOTS), 1U);
	tlstap_ring_free(&r);
}

/*
 * A large record's writer waits for its slots; small writers, blocking or
 * not, get only what is free beyond them, so it is not starved.
 */
static void ring_first_waiter_keeps_its_room(struct kunit *test)
{
	struct tlstap_ring_waiter big, small;
	u32 big_len = 3 * slot_data();
	struct tlstap_ring r;

	ring_setup(test, &r);
	tlstap_ring_waiter_init(&big);
	tlstap_ring_waiter_init(&small);
	fill(test, &r);

	KUNIT_EXPECT_EQ(test, write_record(&r, big_len, &big), -EAGAIN);
	KUNIT_EXPECT_FALSE(test, tlstap_ring_turn(&r, &big));
	KUNIT_EXPECT_EQ(test, big.slots, tlstap_ring_slots_for(big_len, RING_CAP));

	/* Two slots free, the waiter needs four: nobody takes them. */
	send_slots(&r, 2);
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, NULL), -EAGAIN);
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, &small), -EAGAIN);
	KUNIT_EXPECT_FALSE(test, tlstap_ring_turn(&r, &big));
	KUNIT_EXPECT_FALSE(test, tlstap_ring_turn(&r, &small));

	/* Four free: the first in line may go, the second may not yet. */
	send_slots(&r, 2);
	KUNIT_EXPECT_TRUE(test, tlstap_ring_turn(&r, &big));
	KUNIT_EXPECT_FALSE(test, tlstap_ring_turn(&r, &small));
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, NULL), -EAGAIN);
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, &small), -EAGAIN);

	/* Beyond the waiter's four, others may take what is free. */
	send_slots(&r, 1);
	KUNIT_EXPECT_EQ(test, write_record(&r, slot_data(), NULL), 0);
	KUNIT_EXPECT_TRUE(test, tlstap_ring_turn(&r, &big));

	/* The waiter takes its room and leaves the line to the next one. */
	KUNIT_EXPECT_EQ(test, write_record(&r, big_len, &big), 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&big.node));
	send_slots(&r, RING_SLOTS);
	KUNIT_EXPECT_TRUE(test, tlstap_ring_turn(&r, &small));
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, &small), 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&r.waiters));
	tlstap_ring_free(&r);
}

/* A writer who gives up (a signal, another target) passes its turn on. */
static void ring_leave_passes_the_turn(struct kunit *test)
{
	struct tlstap_ring_waiter first, second;
	struct tlstap_ring r;

	ring_setup(test, &r);
	tlstap_ring_waiter_init(&first);
	tlstap_ring_waiter_init(&second);
	fill(test, &r);

	KUNIT_EXPECT_EQ(test, write_record(&r, 5 * slot_data(), &first),
			-EAGAIN);
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, &second), -EAGAIN);
	send_slots(&r, 2);
	KUNIT_EXPECT_FALSE(test, tlstap_ring_turn(&r, &second));
	tlstap_ring_leave(&r, &first);
	KUNIT_EXPECT_TRUE(test, list_empty(&first.node));
	KUNIT_EXPECT_TRUE(test, tlstap_ring_turn(&r, &second));
	/* Leaving twice, or when never queued, changes nothing. */
	tlstap_ring_leave(&r, &first);
	KUNIT_EXPECT_TRUE(test, tlstap_ring_turn(&r, &second));
	KUNIT_EXPECT_EQ(test, write_record(&r, 1, &second), 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&r.waiters));
	tlstap_ring_free(&r);
}

/*
 * A waiter's need follows the capacity it last tried with: a smaller path
 * MTU means more slots, and it waits for them instead of retrying in vain.
 */
static void ring_waiter_need_follows_capacity(struct kunit *test)
{
	struct tlstap_reservation res;
	struct tlstap_ring_waiter w;
	struct tlstap_ring r;
	bool kick = false;
	u32 len = 2 * slot_data();

	ring_setup(test, &r);
	tlstap_ring_waiter_init(&w);
	fill(test, &r);
	KUNIT_EXPECT_EQ(test, write_record(&r, len, &w), -EAGAIN);
	KUNIT_EXPECT_EQ(test, w.slots, 3U);
	KUNIT_EXPECT_EQ(test, tlstap_ring_reserve(&r, len, 576, 1000, &w, &res,
						  &kick), -EAGAIN);
	KUNIT_EXPECT_EQ(test, w.slots, tlstap_ring_slots_for(len, 576));
	KUNIT_EXPECT_GT(test, w.slots, 3U);
	send_slots(&r, 3);
	KUNIT_EXPECT_FALSE(test, tlstap_ring_turn(&r, &w));
	send_slots(&r, RING_SLOTS);
	KUNIT_EXPECT_TRUE(test, tlstap_ring_turn(&r, &w));
	tlstap_ring_leave(&r, &w);
	tlstap_ring_free(&r);
}

/* An open slot waits for its flush time, unless expired (capture rings). */
static void ring_expire_sends_the_open_slot(struct kunit *test)
{
	struct tlstap_ring r;
	ktime_t flush_at;
	u32 first;

	ring_setup(test, &r);
	KUNIT_EXPECT_FALSE(test, tlstap_ring_expire(&r));
	KUNIT_ASSERT_EQ(test, write_record(&r, 10, NULL), 0);
	KUNIT_EXPECT_EQ(test, tlstap_ring_collect(&r, RING_SLOTS, false, &first,
						  &flush_at), 0U);
	KUNIT_EXPECT_NE(test, flush_at, 0);
	KUNIT_EXPECT_TRUE(test, tlstap_ring_expire(&r));
	KUNIT_EXPECT_EQ(test, tlstap_ring_collect(&r, RING_SLOTS, false, &first,
						  &flush_at), 1U);
	KUNIT_EXPECT_EQ(test, flush_at, 0);
	tlstap_ring_advance(&r, 1);
	KUNIT_EXPECT_FALSE(test, tlstap_ring_expire(&r));
	tlstap_ring_free(&r);
}

static struct kunit_case ring_cases[] = {
	KUNIT_CASE(ring_reserve_until_full),
	KUNIT_CASE(ring_first_waiter_keeps_its_room),
	KUNIT_CASE(ring_leave_passes_the_turn),
	KUNIT_CASE(ring_waiter_need_follows_capacity),
	KUNIT_CASE(ring_expire_sends_the_open_slot),
	{}
};

static struct kunit_suite ring_suite = {
	.name = "tlstap_ring",
	.test_cases = ring_cases,
};

kunit_test_suite(ring_suite);
