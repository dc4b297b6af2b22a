// SPDX-License-Identifier: GPL-2.0
/* KUnit: record validation, every malformed case and random bytes. */
#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/string.h>

#include "../recinfo.h"

#define MAX_MSG 65536

static void make_v4(struct tlstap_record *r)
{
	static const u8 s[4] = { 10, 0, 0, 1 }, d[4] = { 10, 0, 0, 2 };

	memset(r, 0, sizeof(*r));
	r->type = TLSTAP_RECORD_DATA;
	r->dir = TLSTAP_DIR_WRITE;
	r->family = TLSTAP_FAMILY_IPV4;
	r->hdr_len = TLSTAP_RECORD_HDR_LEN;
	r->sport = cpu_to_be16(443);
	r->dport = cpu_to_be16(40000);
	r->msg_len = cpu_to_be32(100);
	memcpy(r->saddr, s, 4);
	memcpy(r->daddr, d, 4);
	r->conn_id = cpu_to_be64(7);
}

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

	make_v4(&r);
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

	make_v4(&r);
	r.family = TLSTAP_FAMILY_NONE;
	r.sport = 0;
	r.dport = 0;
	memset(r.saddr, 0, 16);
	memset(r.daddr, 0, 16);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);

	/* A loss report: no plaintext, bytes dropped. */
	make_v4(&r);
	r.msg_len = 0;
	r.dropped = cpu_to_be64(4096);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	KUNIT_EXPECT_EQ(test, ri.len, (u32)TLSTAP_RECORD_HDR_LEN);

	/* OPEN and CLOSE: no plaintext, nothing dropped, any family. */
	make_v4(&r);
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

	make_v4(&r);
	r.msg_len = cpu_to_be32(MAX_MSG);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	r.msg_len = cpu_to_be32(1);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
}

/* One field set to an invalid value, or a mangle for several fields. */
struct bad_case {
	const char *name;
	size_t off;
	size_t size;
	u64 value;
	void (*mangle)(struct tlstap_record *r);
	int err;
};

#define OFF(f) offsetof(struct tlstap_record, f)

static void m_v6_port0(struct tlstap_record *r)
{
	r->family = TLSTAP_FAMILY_IPV6;
	r->dport = 0;
}

static void m_none_addr(struct tlstap_record *r)
{
	r->family = TLSTAP_FAMILY_NONE;
	r->sport = 0;
	r->dport = 0;
	memset(r->daddr, 0, 16);
}

static void m_none_port(struct tlstap_record *r)
{
	r->family = TLSTAP_FAMILY_NONE;
	memset(r->saddr, 0, 16);
	memset(r->daddr, 0, 16);
	r->sport = 0;
}

/* An OPEN or CLOSE that carries plaintext or a loss. */
static void m_open_msg(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_OPEN;
}

static void m_close_dropped(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_CLOSE;
	r->msg_len = 0;
	r->dropped = cpu_to_be64(1);
}

static void m_open_huge(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_OPEN;
	r->msg_len = cpu_to_be32(MAX_MSG + 1);
}

static void m_close_v4_tail(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_CLOSE;
	r->msg_len = 0;
	r->daddr[4] = 1;
}

static const struct bad_case bad_cases[] = {
	{ "type 0", OFF(type), 1, 0, NULL, -EINVAL },
	{ "type 4", OFF(type), 1, 4, NULL, -EINVAL },
	{ "type 255", OFF(type), 1, 255, NULL, -EINVAL },
	{ "dir 0", OFF(dir), 1, 0, NULL, -EINVAL },
	{ "dir 3", OFF(dir), 1, 3, NULL, -EINVAL },
	{ "family 1", OFF(family), 1, 1, NULL, -EINVAL },
	{ "family 5", OFF(family), 1, 5, NULL, -EINVAL },
	{ "family AF_INET6", OFF(family), 1, 10, NULL, -EINVAL },
	{ "hdr_len 0", OFF(hdr_len), 1, 0, NULL, -EINVAL },
	{ "hdr_len 71", OFF(hdr_len), 1, 71, NULL, -EINVAL },
	{ "hdr_len 73", OFF(hdr_len), 1, 73, NULL, -EINVAL },
	{ "hdr_len 255", OFF(hdr_len), 1, 255, NULL, -EINVAL },
	{ "msg_len 0, nothing dropped", OFF(msg_len), 4, 0, NULL, -EINVAL },
	{ "msg_len max+1", OFF(msg_len), 4, MAX_MSG + 1, NULL, -EMSGSIZE },
	{ "msg_len 2^32-1", OFF(msg_len), 4, U32_MAX, NULL, -EMSGSIZE },
	{ "ipv4 saddr tail", OFF(saddr) + 4, 1, 1,
	  NULL, -EINVAL },
	{ "ipv4 daddr tail", OFF(daddr) + 15, 1, 1,
	  NULL, -EINVAL },
	{ "sport 0", OFF(sport), 2, 0, NULL, -EINVAL },
	{ "dport 0", OFF(dport), 2, 0, NULL, -EINVAL },
	{ "ipv6 dport 0", 0, 0, 0, m_v6_port0, -EINVAL },
	{ "none with address", 0, 0, 0, m_none_addr, -EINVAL },
	{ "none with port", 0, 0, 0, m_none_port, -EINVAL },
	{ "open with plaintext", 0, 0, 0, m_open_msg, -EINVAL },
	{ "close with dropped", 0, 0, 0, m_close_dropped, -EINVAL },
	{ "open longer than the maximum", 0, 0, 0, m_open_huge, -EINVAL },
	{ "close ipv4 daddr tail", 0, 0, 0, m_close_v4_tail, -EINVAL },
};

/* Stores value big-endian in size bytes at off. */
static void poke(struct tlstap_record *r, size_t off, size_t size, u64 value)
{
	u8 *p = (u8 *)r + off;

	while (size--) {
		p[size] = value;
		value >>= 8;
	}
}

static void record_malformed(struct kunit *test)
{
	struct tlstap_record_info ri;
	struct tlstap_record r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		make_v4(&r);
		if (bad_cases[i].mangle)
			bad_cases[i].mangle(&r);
		else
			poke(&r, bad_cases[i].off, bad_cases[i].size,
			     bad_cases[i].value);
		KUNIT_EXPECT_EQ_MSG(test, tlstap_record_parse(&r, MAX_MSG, &ri),
				    bad_cases[i].err, "case: %s",
				    bad_cases[i].name);
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
