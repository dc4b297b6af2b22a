// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: record validation, every malformed case (shared/tests/
 * record_cases.h, the userspace unit tests' too) and random bytes.
 */
#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/string.h>

#include "../recinfo.h"
#include "tests/record_cases.h"

#define MAX_MSG RECORD_CASES_MAX_MSG

static void m_none(struct tlstap_record *r)
{
	r->family = TLSTAP_FAMILY_NONE;
	r->sport = 0;
	r->dport = 0;
	memset(r->saddr, 0, 16);
	memset(r->daddr, 0, 16);
}

static void record_valid(struct kunit *test)
{
	struct tlstap_record_info ri;
	struct tlstap_record r;

	record_case_v4(&r);
	KUNIT_ASSERT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	KUNIT_EXPECT_EQ(test, ri.msg_len, 100U);
	KUNIT_EXPECT_EQ(test, ri.len, 172U);
	KUNIT_EXPECT_EQ(test, ri.family, TLSTAP_FAMILY_IPV4);
	KUNIT_EXPECT_EQ(test, ri.dir, TLSTAP_DIR_WRITE);
	KUNIT_EXPECT_EQ(test, be16_to_cpu(ri.sport), 443);
	KUNIT_EXPECT_EQ(test, be64_to_cpu(ri.conn_id), 7ULL);
	KUNIT_EXPECT_PTR_EQ(test, ri.saddr, (const u8 *)r.saddr);

	r.dir = TLSTAP_DIR_READ;
	r.family = TLSTAP_FAMILY_IPV6;
	memset(r.saddr, 0xfd, 16);
	memset(r.daddr, 0x01, 16);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);

	record_case_v4(&r);
	r.family = TLSTAP_FAMILY_NONE;
	r.sport = 0;
	r.dport = 0;
	memset(r.saddr, 0, 16);
	memset(r.daddr, 0, 16);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);

	/* A loss report: no plaintext, bytes dropped. */
	record_case_v4(&r);
	r.msg_len = 0;
	r.dropped = cpu_to_be64(4096);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	KUNIT_EXPECT_EQ(test, ri.len, (u32)TLSTAP_RECORD_HDR_LEN);

	/* OPEN and CLOSE: no plaintext, nothing dropped, any family. */
	record_case_v4(&r);
	r.type = TLSTAP_RECORD_OPEN;
	r.msg_len = 0;
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	KUNIT_EXPECT_EQ(test, ri.len, (u32)TLSTAP_RECORD_HDR_LEN);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, 0, &ri), 0);
	r.type = TLSTAP_RECORD_CLOSE;
	r.dir = TLSTAP_DIR_READ;
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	m_none(&r);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);

	record_case_v4(&r);
	r.msg_len = cpu_to_be32(MAX_MSG);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	r.msg_len = cpu_to_be32(1);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
}

/* Each malformed header of record_cases.h, refused with its errno. */
static void record_malformed(struct kunit *test)
{
	struct tlstap_record_info ri;
	struct tlstap_record r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(record_bad_cases); i++) {
		const struct record_bad_case *c = &record_bad_cases[i];

		record_case_make(&r, c);
		KUNIT_EXPECT_EQ_MSG(test, tlstap_record_parse(&r, MAX_MSG, &ri),
				    c->err, "case: %s", c->name);
	}
}

/* Whatever the bytes, an accepted header satisfies every invariant. */
static void record_random(struct kunit *test)
{
	struct tlstap_record_info ri;
	struct rnd_state rnd;
	struct tlstap_record r;
	u32 accepted = 0, lifecycle = 0, i;

	prandom_seed_state(&rnd, 0x746c73746170ULL);
	for (i = 0; i < 200000; i++) {
		prandom_bytes_state(&rnd, &r, sizeof(r));
		/* Bias half the cases towards valid headers. */
		if (i & 1) {
			/* A quarter OPEN or CLOSE, most of those empty. */
			r.type = (i & 6) ? TLSTAP_RECORD_DATA :
				 TLSTAP_RECORD_OPEN + (i >> 3 & 1);
			r.hdr_len = TLSTAP_RECORD_HDR_LEN;
			r.dir = 1 + (r.dir & 1);
			r.family = (r.family & 1) ? TLSTAP_FAMILY_IPV6 :
						    TLSTAP_FAMILY_IPV4;
			r.msg_len = cpu_to_be32(be32_to_cpu(r.msg_len) %
						(2 * MAX_MSG));
			if (r.family == TLSTAP_FAMILY_IPV4 && (i & 2)) {
				memset(r.saddr + 4, 0, 12);
				memset(r.daddr + 4, 0, 12);
			}
			if (r.type != TLSTAP_RECORD_DATA && (i & 48)) {
				r.msg_len = 0;
				r.dropped = 0;
			}
		}
		if (tlstap_record_parse(&r, MAX_MSG, &ri))
			continue;
		accepted++;
		if (r.type != TLSTAP_RECORD_DATA)
			lifecycle++;
		KUNIT_ASSERT_TRUE(test, r.type == TLSTAP_RECORD_DATA ||
				  r.type == TLSTAP_RECORD_OPEN ||
				  r.type == TLSTAP_RECORD_CLOSE);
		KUNIT_ASSERT_EQ(test, r.hdr_len, TLSTAP_RECORD_HDR_LEN);
		KUNIT_ASSERT_TRUE(test, r.dir == TLSTAP_DIR_READ ||
				  r.dir == TLSTAP_DIR_WRITE);
		KUNIT_ASSERT_TRUE(test, ri.msg_len <= MAX_MSG);
		if (r.type == TLSTAP_RECORD_DATA)
			KUNIT_ASSERT_TRUE(test, ri.msg_len || r.dropped);
		else
			KUNIT_ASSERT_TRUE(test, !ri.msg_len && !r.dropped);
		KUNIT_ASSERT_EQ(test, ri.len, ri.msg_len + TLSTAP_RECORD_HDR_LEN);
		KUNIT_ASSERT_TRUE(test, r.sport && r.dport);
		if (r.family == TLSTAP_FAMILY_IPV4) {
			KUNIT_ASSERT_FALSE(test, memchr_inv(r.saddr + 4, 0, 12));
			KUNIT_ASSERT_FALSE(test, memchr_inv(r.daddr + 4, 0, 12));
		} else {
			KUNIT_ASSERT_EQ(test, r.family, TLSTAP_FAMILY_IPV6);
		}
	}
	/* The biased half must exercise the accepting path too. */
	KUNIT_EXPECT_GT(test, accepted, 10000U);
	KUNIT_EXPECT_GT(test, lifecycle, 1000U);
}

static struct kunit_case record_cases[] = {
	KUNIT_CASE(record_valid),
	KUNIT_CASE(record_malformed),
	KUNIT_CASE(record_random),
	{}
};

static struct kunit_suite record_suite = {
	.name = "tlstap_record",
	.test_cases = record_cases,
};

kunit_test_suite(record_suite);
MODULE_LICENSE("GPL");
