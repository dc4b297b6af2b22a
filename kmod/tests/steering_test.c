// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the SipHash key layout shared with tlstap-fwd, symmetric flow
 * keys, the weighted Maglev fill and how many flows move when a target
 * comes or goes.
 */
#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <asm/unaligned.h>

#include "steering.h"

#define FLOWS 100000

/* The reference vector: key 00..0f, message 00..0e. */
static void steer_siphash_layout(struct kunit *test)
{
	u8 key_bytes[16], msg[15];
	siphash_key_t key;
	int i;

	for (i = 0; i < 16; i++)
		key_bytes[i] = i;
	for (i = 0; i < 15; i++)
		msg[i] = i;
	key.key[0] = get_unaligned_le64(key_bytes);
	key.key[1] = get_unaligned_le64(key_bytes + 8);
	KUNIT_EXPECT_EQ(test, siphash(msg, sizeof(msg), &key),
			0xa129ca6149be45e5ULL);
}

static void random_endpoint(struct rnd_state *rnd, u8 family, u8 addr[16],
			    __be16 *port)
{
	memset(addr, 0, 16);
	prandom_bytes_state(rnd, addr, family == TLSTAP_FAMILY_IPV4 ? 4 : 16);
	*port = cpu_to_be16(1 + prandom_u32_state(rnd) % 65535);
}

static void steer_symmetric(struct kunit *test)
{
	struct tlstap_flow_key a, b;
	struct rnd_state rnd;
	u8 s[16], d[16];
	__be16 sp, dp;
	int i;

	prandom_seed_state(&rnd, 1);
	for (i = 0; i < 10000; i++) {
		u8 fam = (i & 1) ? TLSTAP_FAMILY_IPV6 : TLSTAP_FAMILY_IPV4;

		random_endpoint(&rnd, fam, s, &sp);
		random_endpoint(&rnd, fam, d, &dp);
		if (i % 7 == 0)
			memcpy(d, s, 16);	/* same host, ports decide */
		steer_flow_key(&a, fam, s, sp, d, dp, 0);
		steer_flow_key(&b, fam, d, dp, s, sp, cpu_to_be64(i));
		KUNIT_ASSERT_EQ(test, memcmp(&a, &b, sizeof(a)), 0);
		KUNIT_ASSERT_EQ(test, a.family, fam);
	}

	/* Without a socket, conn_id alone names the flow. */
	steer_flow_key(&a, TLSTAP_FAMILY_NONE, s, 0, d, 0, cpu_to_be64(5));
	steer_flow_key(&b, TLSTAP_FAMILY_NONE, d, 0, s, 0, cpu_to_be64(5));
	KUNIT_EXPECT_EQ(test, memcmp(&a, &b, sizeof(a)), 0);
	steer_flow_key(&b, TLSTAP_FAMILY_NONE, s, 0, d, 0, cpu_to_be64(6));
	KUNIT_EXPECT_NE(test, memcmp(&a, &b, sizeof(a)), 0);
}

struct steer_fixture {
	siphash_key_t key;
	struct tlstap_target_key tkeys[TLSTAP_MAX_TARGETS];
	struct steer_target perm[TLSTAP_MAX_TARGETS];
	u32 weight[TLSTAP_MAX_TARGETS];
	u32 next[TLSTAP_MAX_TARGETS];
	u16 table[TLSTAP_STEER_TABLE_SIZE];
	u16 before[FLOWS];
	u64 flow_hash[FLOWS];
};

/* Targets 10.0.0.(id):7419, in key order, with the given weights. */
static void fill(struct steer_fixture *f, const u8 *ids, unsigned int n)
{
	u8 addr[16] = { 10, 0, 0 };
	unsigned int i;

	for (i = 0; i < n; i++) {
		addr[3] = ids[i];
		steer_target_key(&f->tkeys[i], TLSTAP_FAMILY_IPV4, addr,
				 cpu_to_be16(7419));
		steer_target_init(&f->perm[i],
				  siphash(&f->tkeys[i], sizeof(f->tkeys[i]),
					  &f->key), f->weight[ids[i]]);
	}
	steer_fill(f->table, f->perm, f->next, n);
}

static struct steer_fixture *fixture(struct kunit *test)
{
	struct steer_fixture *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	struct tlstap_flow_key fk;
	struct rnd_state rnd;
	u8 s[16], d[16];
	__be16 sp, dp;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->key.key[0] = 0x0706050403020100ULL;
	f->key.key[1] = 0x0f0e0d0c0b0a0908ULL;
	prandom_seed_state(&rnd, 2);
	for (i = 0; i < FLOWS; i++) {
		random_endpoint(&rnd, TLSTAP_FAMILY_IPV4, s, &sp);
		random_endpoint(&rnd, TLSTAP_FAMILY_IPV4, d, &dp);
		steer_flow_key(&fk, TLSTAP_FAMILY_IPV4, s, sp, d, dp, 0);
		f->flow_hash[i] = siphash(&fk, sizeof(fk), &f->key);
	}
	for (i = 0; i < TLSTAP_MAX_TARGETS; i++)
		f->weight[i] = 1;
	return f;
}

static void steer_table_full(struct kunit *test)
{
	struct steer_fixture *f = fixture(test);
	static const u8 ids[] = { 1, 2, 3 };
	u32 i;

	fill(f, ids, 0);
	for (i = 0; i < TLSTAP_STEER_TABLE_SIZE; i++)
		KUNIT_ASSERT_EQ(test, f->table[i], STEER_NO_TARGET);
	fill(f, ids, ARRAY_SIZE(ids));
	for (i = 0; i < TLSTAP_STEER_TABLE_SIZE; i++)
		KUNIT_ASSERT_LT(test, f->table[i], (u16)ARRAY_SIZE(ids));
}

/* Flows spread by weight: shares within 2 points of the weight's. */
static void steer_weights(struct kunit *test)
{
	struct steer_fixture *f = fixture(test);
	static const u8 ids[] = { 1, 2, 3 };
	u32 hits[3] = { 0 }, i;

	f->weight[1] = 1;
	f->weight[2] = 2;
	f->weight[3] = 3;
	fill(f, ids, 3);
	for (i = 0; i < FLOWS; i++)
		hits[f->table[steer_bucket(f->flow_hash[i])]]++;
	for (i = 0; i < 3; i++) {
		u32 want = FLOWS * f->weight[ids[i]] / 6;

		KUNIT_EXPECT_LE_MSG(test, abs((int)hits[i] - (int)want),
				    FLOWS / 50, "target %u got %u, want %u",
				    i, hits[i], want);
	}
}

/* Fraction of flows (in 1/10000) whose target differs. */
static u32 moved(struct steer_fixture *f, const struct tlstap_target_key *old,
		 const struct tlstap_target_key *new)
{
	u32 i, n = 0;

	for (i = 0; i < FLOWS; i++) {
		u16 b = f->table[steer_bucket(f->flow_hash[i])];

		if (memcmp(&old[f->before[i]], &new[b], sizeof(*old)))
			n++;
	}
	return n * 10000ULL / FLOWS;
}

static void steer_movement(struct kunit *test)
{
	static const u8 all[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				  14, 15, 16, 17 };
	static const unsigned int sizes[] = { 2, 3, 4, 5, 8, 16 };
	struct steer_fixture *f = fixture(test);
	struct tlstap_target_key *old;
	unsigned int s, n, drop;
	u8 ids[17];
	u32 i, frac;

	old = kunit_kmalloc_array(test, TLSTAP_MAX_TARGETS, sizeof(*old),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, old);
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		u32 worst = 0;

		n = sizes[s];
		for (drop = 0; drop < n; drop += n > 4 ? 3 : 1) {
			/* Remove target drop out of n. */
			fill(f, all, n);
			for (i = 0; i < FLOWS; i++)
				f->before[i] = f->table[steer_bucket(f->flow_hash[i])];
			memcpy(old, f->tkeys, n * sizeof(*old));
			memcpy(ids, all, drop);
			memcpy(ids + drop, all + drop + 1, n - drop - 1);
			fill(f, ids, n - 1);
			frac = moved(f, old, f->tkeys);
			KUNIT_EXPECT_LE_MSG(test, frac, 10000 / n + 500,
					    "remove 1 of %u moved %u/10000", n, frac);
			worst = max(worst, frac);

			/* And add it back. */
			for (i = 0; i < FLOWS; i++)
				f->before[i] = f->table[steer_bucket(f->flow_hash[i])];
			memcpy(old, f->tkeys, (n - 1) * sizeof(*old));
			fill(f, all, n);
			frac = moved(f, old, f->tkeys);
			KUNIT_EXPECT_LE_MSG(test, frac, 10000 / n + 500,
					    "add 1 to %u moved %u/10000", n - 1, frac);
			worst = max(worst, frac);
		}
		kunit_info(test, "%u targets: at most %u/10000 flows moved (1/N = %u)\n",
			   n, worst, 10000 / n);
	}
}

static struct kunit_case steer_cases[] = {
	KUNIT_CASE(steer_siphash_layout),
	KUNIT_CASE(steer_symmetric),
	KUNIT_CASE(steer_table_full),
	KUNIT_CASE(steer_weights),
	KUNIT_CASE(steer_movement),
	{}
};

static struct kunit_suite steer_suite = {
	.name = "tlstap_steering",
	.test_cases = steer_cases,
};

kunit_test_suite(steer_suite);
