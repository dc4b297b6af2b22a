// SPDX-License-Identifier: GPL-2.0
/* KUnit: record validation, every malformed case and random bytes. */
#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/string.h>

#include "../record.h"

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

	make_v4(&r);
	r.msg_len = cpu_to_be32(MAX_MSG);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
	r.msg_len = cpu_to_be32(1);
	KUNIT_EXPECT_EQ(test, tlstap_record_parse(&r, MAX_MSG, &ri), 0);
}

struct bad_case {
	const char *name;
	void (*mangle)(struct tlstap_record *r);
	int err;
};

static void m_type0(struct tlstap_record *r) { r->type = 0; }
static void m_type2(struct tlstap_record *r) { r->type = 2; }
static void m_type255(struct tlstap_record *r) { r->type = 255; }
static void m_dir0(struct tlstap_record *r) { r->dir = 0; }
static void m_dir3(struct tlstap_record *r) { r->dir = 3; }
static void m_fam1(struct tlstap_record *r) { r->family = 1; }
static void m_fam5(struct tlstap_record *r) { r->family = 5; }
static void m_fam10(struct tlstap_record *r) { r->family = 10; }
static void m_hdr0(struct tlstap_record *r) { r->hdr_len = 0; }
static void m_hdr71(struct tlstap_record *r) { r->hdr_len = 71; }
static void m_hdr73(struct tlstap_record *r) { r->hdr_len = 73; }
static void m_hdr255(struct tlstap_record *r) { r->hdr_len = 255; }
static void m_len0(struct tlstap_record *r) { r->msg_len = 0; }
static void m_len_over(struct tlstap_record *r) { r->msg_len = cpu_to_be32(MAX_MSG + 1); }
static void m_len_huge(struct tlstap_record *r) { r->msg_len = cpu_to_be32(U32_MAX); }
static void m_v4_stail(struct tlstap_record *r) { r->saddr[4] = 1; }
static void m_v4_dtail(struct tlstap_record *r) { r->daddr[15] = 1; }
static void m_sport0(struct tlstap_record *r) { r->sport = 0; }
static void m_dport0(struct tlstap_record *r) { r->dport = 0; }
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

static const struct bad_case bad_cases[] = {
	{ "type 0", m_type0, -EINVAL },
	{ "type 2", m_type2, -EINVAL },
	{ "type 255", m_type255, -EINVAL },
	{ "dir 0", m_dir0, -EINVAL },
	{ "dir 3", m_dir3, -EINVAL },
	{ "family 1", m_fam1, -EINVAL },
	{ "family 5", m_fam5, -EINVAL },
	{ "family AF_INET6", m_fam10, -EINVAL },
	{ "hdr_len 0", m_hdr0, -EINVAL },
	{ "hdr_len 71", m_hdr71, -EINVAL },
	{ "hdr_len 73", m_hdr73, -EINVAL },
	{ "hdr_len 255", m_hdr255, -EINVAL },
	{ "msg_len 0, nothing dropped", m_len0, -EINVAL },
	{ "msg_len max+1", m_len_over, -EMSGSIZE },
	{ "msg_len 2^32-1", m_len_huge, -EMSGSIZE },
	{ "ipv4 saddr tail", m_v4_stail, -EINVAL },
	{ "ipv4 daddr tail", m_v4_dtail, -EINVAL },
	{ "sport 0", m_sport0, -EINVAL },
	{ "dport 0", m_dport0, -EINVAL },
	{ "ipv6 dport 0", m_v6_port0, -EINVAL },
	{ "none with address", m_none_addr, -EINVAL },
	{ "none with port", m_none_port, -EINVAL },
};

static void record_malformed(struct kunit *test)
{
	struct tlstap_record_info ri;
	struct tlstap_record r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		make_v4(&r);
		bad_cases[i].mangle(&r);
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
	u32 accepted = 0, i;

	prandom_seed_state(&rnd, 0x746c73746170ULL);
	for (i = 0; i < 200000; i++) {
		prandom_bytes_state(&rnd, &r, sizeof(r));
		/* Bias half the cases towards valid headers. */
		if (i & 1) {
			r.type = TLSTAP_RECORD_DATA;
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
		}
		if (tlstap_record_parse(&r, MAX_MSG, &ri))
			continue;
		accepted++;
		KUNIT_ASSERT_EQ(test, r.type, TLSTAP_RECORD_DATA);
		KUNIT_ASSERT_EQ(test, r.hdr_len, TLSTAP_RECORD_HDR_LEN);
		KUNIT_ASSERT_TRUE(test, r.dir == TLSTAP_DIR_READ ||
				  r.dir == TLSTAP_DIR_WRITE);
		KUNIT_ASSERT_TRUE(test, ri.msg_len <= MAX_MSG);
		KUNIT_ASSERT_TRUE(test, ri.msg_len || r.dropped);
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
