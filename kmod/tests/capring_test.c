// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the consumer's walk over a capture ring (capring.c), fed by the
 * producer steps of capring.h and by hand-made hostile frames. The data
 * area is a kmalloc'd object of exactly data_size bytes, so that KASAN
 * reports any read outside it.
 */
#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "capring.h"

#define SMALL_RING	4096U	/* any power of two will do for the walk */
#define LOG_MAX		600

/* What take() saw, one entry per call. */
struct seen {
	struct tlstap_record rec;
	u32 msg_len;
	u8 first, last;		/* plaintext's first and last bytes */
	bool committed;
};

struct tring {
	struct kunit *test;
	u8 *data;
	u32 prod_pos;		/* shared: the producer's */
	u32 cons_pos;		/* shared: the consumer's, as published */
	struct capring_producer p;
	struct capring_view v;
	u32 cons;		/* the consumer's own */
	/* take() */
	struct seen log[LOG_MAX];
	u32 n;
	u32 later_at;		/* CAPRING_LATER at this call (1-based), 0 never */
	u32 fail_at;		/* -EINVAL at this call, 0 never */
	const char *why;
};

static void tring_init(struct kunit *test, struct tring *t, u32 data_size,
		       u32 start)
{
	memset(t, 0, sizeof(*t));
	t->test = test;
	t->data = kunit_kzalloc(test, data_size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t->data);
	t->prod_pos = start;
	t->cons_pos = start;
	t->cons = start;
	t->p.data = t->data;
	t->p.data_size = data_size;
	t->p.prod_pos = &t->prod_pos;
	t->p.cons_pos = &t->cons_pos;
	t->p.prod = start;
	t->p.cons = start;
	t->v.data = t->data;
	t->v.data_size = data_size;
	t->v.prod_pos = &t->prod_pos;
}

static struct tring *tring_new(struct kunit *test, u32 data_size, u32 start)
{
	struct tring *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	tring_init(test, t, data_size, start);
	return t;
}

static int take(void *ctx, const struct capring_frame *f)
{
	struct tring *t = ctx;
	struct seen *s;
	u32 call = t->n + 1;

	if (call == t->later_at)
		return CAPRING_LATER;
	if (call == t->fail_at)
		return -EINVAL;
	KUNIT_ASSERT_LT(t->test, t->n, (u32)LOG_MAX);
	s = &t->log[t->n++];
	s->rec = f->rec;
	s->msg_len = f->msg_len;
	s->committed = f->committed;
	if (f->msg_len) {
		s->first = f->msg[0];
		s->last = f->msg[f->msg_len - 1];
	}
	return CAPRING_TAKEN;
}

/* The consumer's walk, publishing its position as tlstap.ko does. */
static int drain(struct tring *t, u32 max, bool final)
{
	int n;

	t->why = NULL;
	n = capring_drain(&t->v, &t->cons, max, final, take, t, &t->why);
	t->cons_pos = t->cons;
	return n;
}

static void fill_header(struct tlstap_record *rec, u32 msg_len, u64 tag)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = TLSTAP_RECORD_DATA;
	rec->dir = TLSTAP_DIR_WRITE;
	rec->family = TLSTAP_FAMILY_IPV4;
	rec->hdr_len = TLSTAP_RECORD_HDR_LEN;
	rec->sport = cpu_to_be16(40000);
	rec->dport = cpu_to_be16(443);
	rec->msg_len = cpu_to_be32(msg_len);
	rec->timestamp_ns = cpu_to_be64(tag);
}

/*
 * The producer's steps for one record of msg_len bytes, each byte of the
 * plaintext (u8)(tag + i). Returns the record, or NULL when the ring is
 * full. Unless commit, the frame is left RESERVED.
 */
static struct tlstap_record *produce(struct tring *t, u32 msg_len, u64 tag,
				     bool commit)
{
	u32 len = TLSTAP_RECORD_HDR_LEN + msg_len, i;
	struct tlstap_record *rec = capring_claim(&t->p, len);
	u8 *msg;

	if (!rec)
		return NULL;
	fill_header(rec, msg_len, tag);
	capring_publish(&t->p, len);
	msg = (u8 *)(rec + 1);
	for (i = 0; i < msg_len; i++)
		msg[i] = (u8)(tag + i);
	if (commit)
		capring_commit(rec, false);
	return rec;
}

static void expect_seen(struct kunit *test, const struct seen *s, u32 msg_len,
			u64 tag, bool committed)
{
	KUNIT_EXPECT_EQ(test, be64_to_cpu(s->rec.timestamp_ns), tag);
	KUNIT_EXPECT_EQ(test, s->msg_len, msg_len);
	KUNIT_EXPECT_EQ(test, be32_to_cpu(s->rec.msg_len), msg_len);
	KUNIT_EXPECT_EQ(test, s->committed, committed);
	if (msg_len) {
		KUNIT_EXPECT_EQ(test, s->first, (u8)tag);
		KUNIT_EXPECT_EQ(test, s->last, (u8)(tag + msg_len - 1));
	}
}

/* A frame header written by hand at position pos. */
static struct tlstap_capring_frame *frame_at(struct tring *t, u32 pos)
{
	return (struct tlstap_capring_frame *)
	       (t->data + (pos & (t->v.data_size - 1)));
}

static void capring_takes_committed_records(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);

	KUNIT_ASSERT_NOT_NULL(test, produce(t, 10, 100, true));
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 0, 200, true));
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 300, 300, true));
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 3);
	KUNIT_EXPECT_EQ(test, t->cons, t->prod_pos);
	KUNIT_EXPECT_EQ(test, t->n, 3U);
	expect_seen(test, &t->log[0], 10, 100, true);
	expect_seen(test, &t->log[1], 0, 200, true);
	expect_seen(test, &t->log[2], 300, 300, true);
	/* 8 + 72 + 10 rounded up to 8. */
	KUNIT_EXPECT_EQ(test, capring_frame_step(82), 96U);
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 0);
}

/*
 * Many records of varied sizes through the data area several times and
 * across 2^32: padding frames where a record would not fit, every record
 * in order and whole.
 */
static void capring_wraps_positions_and_area(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0xfffff000U);
	u32 written = 0, checked = 0, i, lens[LOG_MAX];
	bool padded = false;

	for (i = 0; i < 300; i++) {
		u32 msg_len = (i * 37) % 900;
		u32 before = t->p.prod;

		if (!produce(t, msg_len, i, true)) {
			/* Full: the consumer makes room. */
			KUNIT_ASSERT_GT(test, drain(t, 256, false), 0);
			KUNIT_ASSERT_NOT_NULL(test, produce(t, msg_len, i, true));
		}
		lens[written++] = msg_len;
		if (t->p.prod - before > capring_frame_step(TLSTAP_RECORD_HDR_LEN +
							    msg_len))
			padded = true;
		if (i % 7 == 6)
			KUNIT_ASSERT_GE(test, drain(t, 256, false), 0);
	}
	KUNIT_ASSERT_GE(test, drain(t, 256, false), 0);
	KUNIT_EXPECT_EQ(test, t->cons, t->prod_pos);
	KUNIT_EXPECT_TRUE(test, padded);
	/* Past 2^32: the positions wrapped. */
	KUNIT_EXPECT_LT(test, t->cons, 0xfffff000U);
	KUNIT_ASSERT_EQ(test, t->n, written);
	for (i = 0; i < written; i++, checked++)
		expect_seen(test, &t->log[i], lens[i], i, true);
	KUNIT_EXPECT_EQ(test, checked, 300U);
}

/* A RESERVED frame ends the walk until it is committed. */
static void capring_reserved_frame_waits(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);
	struct tlstap_record *held;

	KUNIT_ASSERT_NOT_NULL(test, produce(t, 5, 1, true));
	held = produce(t, 5, 2, false);
	KUNIT_ASSERT_NOT_NULL(test, held);
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 5, 3, true));
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 1);
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 0);
	KUNIT_EXPECT_NE(test, t->cons, t->prod_pos);
	capring_commit(held, false);
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 2);
	KUNIT_EXPECT_EQ(test, t->cons, t->prod_pos);
	expect_seen(test, &t->log[1], 5, 2, true);
	expect_seen(test, &t->log[2], 5, 3, true);
}

/* An abandoned frame is handed on as not committed, its lengths intact. */
static void capring_abandoned_frame(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);
	struct tlstap_record *rec = produce(t, 40, 7, false);

	KUNIT_ASSERT_NOT_NULL(test, rec);
	capring_commit(rec, true);
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 4, 8, true));
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 2);
	KUNIT_EXPECT_EQ(test, t->log[0].committed, false);
	KUNIT_EXPECT_EQ(test, t->log[0].msg_len, 40U);
	KUNIT_EXPECT_EQ(test, be64_to_cpu(t->log[0].rec.timestamp_ns), 7ULL);
	expect_seen(test, &t->log[1], 4, 8, true);
}

/* Final (the producer is gone): a RESERVED frame is handed on as lost. */
static void capring_final_takes_reserved_frame(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);

	KUNIT_ASSERT_NOT_NULL(test, produce(t, 3, 1, true));
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 30, 2, false));
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 3, 3, true));
	KUNIT_EXPECT_EQ(test, drain(t, 256, true), 3);
	KUNIT_EXPECT_EQ(test, t->cons, t->prod_pos);
	expect_seen(test, &t->log[0], 3, 1, true);
	KUNIT_EXPECT_FALSE(test, t->log[1].committed);
	KUNIT_EXPECT_EQ(test, t->log[1].msg_len, 30U);
	expect_seen(test, &t->log[2], 3, 3, true);
}

/* Fills the ring with no consumer progress: claims fail, then work again. */
static void capring_full_ring(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0x100);
	u32 n = 0;

	while (produce(t, 100, n, true))
		n++;
	KUNIT_EXPECT_GT(test, n, 0U);
	KUNIT_EXPECT_LE(test, t->prod_pos - t->cons_pos, SMALL_RING);
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), (int)n);
	KUNIT_EXPECT_NOT_NULL(test, produce(t, 100, n, true));
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 1);
	KUNIT_EXPECT_EQ(test, t->n, n + 1);
}

/* A walk takes at most max record frames; the next one goes on. */
static void capring_work_bound(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);
	u32 i;

	for (i = 0; i < 10; i++)
		KUNIT_ASSERT_NOT_NULL(test, produce(t, 8, i, true));
	KUNIT_EXPECT_EQ(test, drain(t, 4, false), 4);
	KUNIT_EXPECT_EQ(test, drain(t, 4, false), 4);
	KUNIT_EXPECT_EQ(test, drain(t, 4, false), 2);
	KUNIT_EXPECT_EQ(test, drain(t, 4, false), 0);
	for (i = 0; i < 10; i++)
		expect_seen(test, &t->log[i], 8, i, true);
}

/* LATER leaves the frame for the next walk. */
static void capring_take_later(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);
	u32 i, at;

	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_NOT_NULL(test, produce(t, 8, i, true));
	t->later_at = 3;
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 2);
	at = t->cons;
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 0);
	KUNIT_EXPECT_EQ(test, t->cons, at);
	t->later_at = 0;
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 2);
	for (i = 0; i < 4; i++)
		expect_seen(test, &t->log[i], 8, i, true);
}

/* A record take() refuses ends the walk; records before it were taken. */
static void capring_take_refuses(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);
	u32 i, bad;

	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_NOT_NULL(test, produce(t, 8, i, true));
	t->fail_at = 2;
	bad = t->cons + capring_frame_step(TLSTAP_RECORD_HDR_LEN + 8);
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), -EBADMSG);
	KUNIT_EXPECT_STREQ(test, t->why, "malformed record");
	KUNIT_EXPECT_EQ(test, t->cons, bad);
	KUNIT_EXPECT_EQ(test, t->n, 1U);
}

/* A hostile producer position: nothing is read, the ring is broken. */
static void expect_broken_position(struct kunit *test, u32 prod,
				   const char *why)
{
	struct tring *t = tring_new(test, SMALL_RING, 0x7ffffff8U);
	u32 at;

	KUNIT_ASSERT_NOT_NULL(test, produce(t, 8, 1, true));
	KUNIT_ASSERT_EQ(test, drain(t, 256, false), 1);
	at = t->cons;
	t->prod_pos = at + prod;
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), -EBADMSG);
	KUNIT_EXPECT_STREQ(test, t->why, why);
	KUNIT_EXPECT_EQ(test, t->cons, at);
	KUNIT_EXPECT_EQ(test, t->n, 1U);
}

static void capring_hostile_positions(struct kunit *test)
{
	expect_broken_position(test, -8U, "producer position out of range");
	expect_broken_position(test, 0x80000000U,
			       "producer position out of range");
	expect_broken_position(test, SMALL_RING + 8,
			       "producer position out of range");
	expect_broken_position(test, 12, "producer position not 8-byte aligned");
	expect_broken_position(test, SMALL_RING - 4,
			       "producer position not 8-byte aligned");
}

/*
 * A frame written by hand after one good record: the walk takes the good
 * one, stops at the bad one with the rule it broke, reads nothing past
 * the area (KASAN watches) and keeps its position at the bad frame.
 */
static void expect_broken_frame(struct kunit *test, u32 start, u32 len,
				u32 state, u32 prod_add, u32 rec_msg_len,
				const char *why)
{
	struct tring *t = tring_new(test, SMALL_RING, start);
	struct tlstap_capring_frame *f;
	struct tlstap_record *rec;
	u32 bad;

	KUNIT_ASSERT_NOT_NULL(test, produce(t, 8, 1, true));
	bad = t->p.prod;
	f = frame_at(t, bad);
	f->len = len;
	f->state = state;
	if ((bad & (SMALL_RING - 1)) + 8 + sizeof(*rec) <= SMALL_RING) {
		rec = (struct tlstap_record *)(f + 1);
		fill_header(rec, rec_msg_len, 2);
	}
	t->prod_pos = bad + prod_add;
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), -EBADMSG);
	KUNIT_EXPECT_STREQ(test, t->why, why);
	KUNIT_EXPECT_EQ(test, t->cons, bad);
	KUNIT_EXPECT_EQ(test, t->n, 1U);
	expect_seen(test, &t->log[0], 8, 1, true);
}

static void capring_hostile_frames(struct kunit *test)
{
	const u32 ok = TLSTAP_RECORD_HDR_LEN + 16;	/* a record of 16 bytes */

	/* Longer than what was published. */
	expect_broken_frame(test, 0, ok, TLSTAP_CAPRING_COMMITTED, 48, 16,
			    "frame past the producer position or the end");
	expect_broken_frame(test, 0, 0xffffffffU, TLSTAP_CAPRING_COMMITTED,
			    capring_frame_step(ok), 16,
			    "frame past the producer position or the end");
	/* Past the end of the data area: published up to it, and beyond. */
	expect_broken_frame(test, SMALL_RING - 96 - 80, 200,
			    TLSTAP_CAPRING_COMMITTED, 208, 200 - 72,
			    "frame past the producer position or the end");
	/* Padding in the middle of the area. */
	expect_broken_frame(test, 0, 64, TLSTAP_CAPRING_PADDING, 72, 0,
			    "padding frame that does not end the data area");
	/* States nobody writes. */
	expect_broken_frame(test, 0, ok, 0, capring_frame_step(ok), 16,
			    "unknown frame state");
	expect_broken_frame(test, 0, ok, 5, capring_frame_step(ok), 16,
			    "unknown frame state");
	expect_broken_frame(test, 0, ok, 0x80000002U, capring_frame_step(ok), 16,
			    "unknown frame state");
	/* Too short for its record header, in any state but padding. */
	expect_broken_frame(test, 0, 10, TLSTAP_CAPRING_COMMITTED, 24, 0,
			    "record frame shorter than a record header");
	expect_broken_frame(test, 0, 0, TLSTAP_CAPRING_ABANDONED, 8, 0,
			    "record frame shorter than a record header");
	/* The record's msg_len is not the frame's. */
	expect_broken_frame(test, 0, ok, TLSTAP_CAPRING_COMMITTED,
			    capring_frame_step(ok), 17,
			    "record length differs from its frame's");
	expect_broken_frame(test, 0, ok, TLSTAP_CAPRING_ABANDONED,
			    capring_frame_step(ok), 0xffffffffU,
			    "record length differs from its frame's");
}

/*
 * Padding at the very end is skipped; a padding frame that runs past the
 * end, or a record frame in its place, breaks the ring.
 */
static void capring_padding_at_the_end(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, SMALL_RING - 96);
	struct tlstap_capring_frame *f;

	/* Padding exactly to the end, then a record at offset 0. */
	f = frame_at(t, t->p.prod);
	f->len = 88;
	f->state = TLSTAP_CAPRING_PADDING;
	t->p.prod += 96;
	t->prod_pos = t->p.prod;
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 8, 9, true));
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 1);
	KUNIT_EXPECT_EQ(test, t->cons, t->prod_pos);
	expect_seen(test, &t->log[0], 8, 9, true);

	/* Padding whose len says more than the rest of the area. */
	t = tring_new(test, SMALL_RING, SMALL_RING - 96);
	f = frame_at(t, t->p.prod);
	f->len = 96;
	f->state = TLSTAP_CAPRING_PADDING;
	t->prod_pos = t->p.prod + 200;
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), -EBADMSG);
	KUNIT_EXPECT_STREQ(test, t->why,
			   "frame past the producer position or the end");
	KUNIT_EXPECT_EQ(test, t->cons, SMALL_RING - 96);
}

/* An unaligned start (a caller's bug) never reads past the area. */
static void capring_unaligned_consumer(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, SMALL_RING - 4);

	t->prod_pos = t->cons + 8;
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), -EBADMSG);
	KUNIT_EXPECT_STREQ(test, t->why,
			   "frame header past the producer position or the end");
}

/* The producer refuses to write on a consumer position that cannot be. */
static void capring_producer_checks_consumer(struct kunit *test)
{
	struct tring *t = tring_new(test, SMALL_RING, 0);

	while (produce(t, 100, 0, true))
		;
	/* Ahead of what was published. */
	t->cons_pos = t->p.prod + 8;
	KUNIT_EXPECT_FALSE(test, capring_refresh(&t->p));
	KUNIT_EXPECT_NULL(test, produce(t, 100, 0, true));
	/* Behind what it read before. */
	t->cons_pos = t->p.cons - 8;
	KUNIT_EXPECT_FALSE(test, capring_refresh(&t->p));
	t->cons_pos = t->p.prod;
	KUNIT_EXPECT_TRUE(test, capring_refresh(&t->p));
	KUNIT_EXPECT_NOT_NULL(test, produce(t, 100, 0, true));
}

/*
 * The smallest ring a producer may make, with the largest frames: a
 * quarter of the data area each, so that half the area free (poll()'s
 * POLLOUT) takes one, the padding before it included.
 */
static void capring_largest_frame(struct kunit *test)
{
	const u32 size = TLSTAP_CAPRING_MIN_SIZE, quarter = size / 4;
	struct tring *t = tring_new(test, size, 0x100);
	u32 max = capring_max_msg_len(size), i;

	KUNIT_EXPECT_EQ(test, capring_frame_step(TLSTAP_RECORD_HDR_LEN + max),
			quarter);
	KUNIT_ASSERT_NOT_NULL(test, produce(t, 1, 1, true));
	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_NOT_NULL(test, produce(t, max, i + 2, true));
	/* Less than a quarter left, and not before the end. */
	KUNIT_EXPECT_NULL(test, produce(t, max, 5, true));
	KUNIT_EXPECT_EQ(test, drain(t, 2, false), 2);
	KUNIT_EXPECT_EQ(test, size - (t->p.prod - t->cons), size / 2);
	/* Half free: padding to the end, then the frame at offset 0. */
	KUNIT_ASSERT_NOT_NULL(test, produce(t, max, 5, true));
	KUNIT_EXPECT_EQ(test, t->p.prod & (size - 1), quarter);
	KUNIT_EXPECT_EQ(test, t->p.prod, 5 * quarter);
	KUNIT_EXPECT_EQ(test, drain(t, 256, false), 3);
	KUNIT_EXPECT_EQ(test, t->cons, t->prod_pos);
	expect_seen(test, &t->log[0], 1, 1, true);
	for (i = 1; i < 5; i++)
		expect_seen(test, &t->log[i], max, i + 1, true);
	KUNIT_EXPECT_TRUE(test, capring_size_valid(TLSTAP_CAPRING_MIN_SIZE));
	KUNIT_EXPECT_TRUE(test, capring_size_valid(TLSTAP_CAPRING_MAX_SIZE));
	KUNIT_EXPECT_FALSE(test, capring_size_valid(TLSTAP_CAPRING_MIN_SIZE / 2));
	KUNIT_EXPECT_FALSE(test, capring_size_valid(TLSTAP_CAPRING_MAX_SIZE * 2));
	KUNIT_EXPECT_FALSE(test, capring_size_valid(3 * TLSTAP_CAPRING_MIN_SIZE));
}

static struct kunit_case capring_cases[] = {
	KUNIT_CASE(capring_takes_committed_records),
	KUNIT_CASE(capring_wraps_positions_and_area),
	KUNIT_CASE(capring_reserved_frame_waits),
	KUNIT_CASE(capring_abandoned_frame),
	KUNIT_CASE(capring_final_takes_reserved_frame),
	KUNIT_CASE(capring_full_ring),
	KUNIT_CASE(capring_work_bound),
	KUNIT_CASE(capring_take_later),
	KUNIT_CASE(capring_take_refuses),
	KUNIT_CASE(capring_hostile_positions),
	KUNIT_CASE(capring_hostile_frames),
	KUNIT_CASE(capring_padding_at_the_end),
	KUNIT_CASE(capring_unaligned_consumer),
	KUNIT_CASE(capring_producer_checks_consumer),
	KUNIT_CASE(capring_largest_frame),
	{}
};

static struct kunit_suite capring_suite = {
	.name = "tlstap_capring",
	.test_cases = capring_cases,
};

kunit_test_suite(capring_suite);
