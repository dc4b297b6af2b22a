// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Steering (steer.c over shared/steering.c): the SipHash reference
 * vectors, --hash-key, both directions of a flow to one target, the
 * bucket table's shares.
 */
#include <endian.h>
#include <string.h>

#include "addr.h"
#include "steer.h"
#include "unit.h"

static void test_siphash_vector(void)
{
	uint8_t key[16], msg[15];
	struct steer_hasher h;
	char err[256];
	uint64_t v = 0;

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	CHECK(!steer_hasher_init(&h, key, err, sizeof(err)), "init: %s", err);
	CHECK(!steer_siphash(&h, msg, sizeof(msg), &v), "siphash failed");
	CHECK(v == 0xa129ca6149be45e5ull,
	      "SipHash-2-4(00..0f, 00..0e) = %016llx, want a129ca6149be45e5",
	      (unsigned long long)v);
	/* The empty message of the reference vectors: 726fdb47dd0e0e31. */
	CHECK(!steer_siphash(&h, msg, 0, &v) && v == 0x726fdb47dd0e0e31ull,
	      "SipHash-2-4(00..0f, \"\") = %016llx", (unsigned long long)v);
	/* The context is reusable: the same message hashes the same. */
	CHECK(!steer_siphash(&h, msg, sizeof(msg), &v) &&
	      v == 0xa129ca6149be45e5ull, "second use gave %016llx",
	      (unsigned long long)v);
	steer_hasher_free(&h);
}

static void test_parse_key(void)
{
	uint8_t key[16];

	CHECK(!steer_parse_key("000102030405060708090a0b0c0d0E0f", key) &&
	      key[0] == 0 && key[14] == 0x0e && key[15] == 0x0f, "valid key");
	CHECK(steer_parse_key("000102030405060708090a0b0c0d0e0", key),
	      "31 digits accepted");
	CHECK(steer_parse_key("000102030405060708090a0b0c0d0e0f0", key),
	      "33 digits accepted");
	CHECK(steer_parse_key("000102030405060708090a0b0c0d0e0g", key),
	      "non-hex accepted");
	CHECK(steer_parse_key("00:01:02:03:04:05:06:07:08:09:0a:0b", key),
	      "separators accepted");
}

static void test_flow_symmetry(void)
{
	uint8_t key[16] = { 1, 2, 3 };
	struct steer_hasher h;
	struct record_flow a, b;
	uint64_t ha, hb;
	char err[256];

	CHECK(!steer_hasher_init(&h, key, err, sizeof(err)), "%s", err);
	for (int i = 0; i < 1000; i++) {
		memset(&a, 0, sizeof(a));
		a.family = i % 2 ? TLSTAP_FAMILY_IPV4 : TLSTAP_FAMILY_IPV6;
		a.dir = TLSTAP_DIR_WRITE;
		for (int k = 0; k < (a.family == TLSTAP_FAMILY_IPV4 ? 4 : 16);
		     k++) {
			a.saddr[k] = (uint8_t)rnd();
			a.daddr[k] = (uint8_t)rnd();
		}
		a.sport = (uint16_t)(rnd() | 1);
		a.dport = (uint16_t)(rnd() | 1);
		b = a;
		b.dir = TLSTAP_DIR_READ;
		memcpy(b.saddr, a.daddr, 16);
		memcpy(b.daddr, a.saddr, 16);
		b.sport = a.dport;
		b.dport = a.sport;
		CHECK(!steer_flow_hash(&h, &a, 1, &ha) &&
		      !steer_flow_hash(&h, &b, 2, &hb) && ha == hb,
		      "flow %d: directions hash differently", i);
	}
	memset(&a, 0, sizeof(a));
	a.dir = TLSTAP_DIR_READ;
	CHECK(!steer_flow_hash(&h, &a, 1, &ha) && !steer_flow_hash(&h, &a, 2, &hb) &&
	      ha != hb, "FAMILY_NONE ignores conn_id");
	steer_hasher_free(&h);
}

static void test_steer_table(void)
{
	uint8_t key[16] = { 9 };
	struct steer_hasher h;
	struct steer_target_spec t[3];
	unsigned int order[3], count[3] = { 0 };
	static struct steer_table table;
	struct endpoint ep;
	char err[256];
	const char *names[3] = { "10.0.0.3:7419", "[fd00::1]:7419",
				 "10.0.0.2:7419" };

	CHECK(!steer_hasher_init(&h, key, err, sizeof(err)), "%s", err);
	for (int i = 0; i < 3; i++) {
		CHECK(!endpoint_parse(names[i], 0, &ep, err, sizeof(err)),
		      "%s", err);
		steer_target_key(&t[i].key, ep.family, ep.addr,
				 htobe16(ep.port));
		t[i].weight = (uint32_t)i + 1;
	}
	CHECK(steer_table_build(&table, &h, t, 3, err, sizeof(err)),
	      "unsorted targets accepted");
	CHECK(!steer_sort_targets(t, order, 3, err, sizeof(err)), "%s", err);
	/* IPv4 (family 4) sorts before IPv6; 10.0.0.2 before 10.0.0.3. */
	CHECK(order[0] == 2 && order[1] == 0 && order[2] == 1,
	      "order %u %u %u", order[0], order[1], order[2]);
	CHECK(!steer_table_build(&table, &h, t, 3, err, sizeof(err)), "%s",
	      err);
	for (int b = 0; b < TLSTAP_STEER_TABLE_SIZE; b++) {
		CHECK(table.buckets[b] < 3, "bucket %d = %u", b,
		      table.buckets[b]);
		if (table.buckets[b] < 3)
			count[table.buckets[b]]++;
	}
	/* Weights 3, 1, 2 after sorting: shares of 1/2, 1/6, 1/3. */
	CHECK(count[0] > 1900 && count[0] < 2200 && count[1] > 550 &&
	      count[1] < 820 && count[2] > 1250 && count[2] < 1500,
	      "bucket shares %u %u %u", count[0], count[1], count[2]);
	t[1] = t[0];
	CHECK(steer_sort_targets(t, order, 3, err, sizeof(err)),
	      "duplicate target accepted");
	steer_hasher_free(&h);
}

UNIT_TESTS(UNIT_TEST(test_siphash_vector), UNIT_TEST(test_parse_key),
	   UNIT_TEST(test_flow_symmetry), UNIT_TEST(test_steer_table))
