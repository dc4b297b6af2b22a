// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of the nfq-tools library: record and datagram parsers, the
 * SipHash reference vector, steering, packing and reassembly. Plain C:
 * every failed check prints where and what, and the run ends with
 * "N passed, N failed".
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "addr.h"
#include "jsonout.h"
#include "outfile.h"
#include "reasm.h"
#include "record.h"
#include "recvopts.h"
#include "recvstate.h"
#include "replay.h"
#include "seqtrack.h"
#include "sockerr.h"
#include "statprint.h"
#include "steer.h"
#include "txring.h"
#include "wire.h"

static unsigned int passed, failed;

/* A clock for the reassembly core: any time but 0. */
#define T0 1000000000ull

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (cond) {                                                 \
			passed++;                                           \
		} else {                                                    \
			failed++;                                           \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,       \
				__LINE__, #cond);                           \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
		}                                                           \
	} while (0)

/* A deterministic generator so that failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static int all_zero_bytes(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/* Builds a record of msg_len bytes into buf; returns its length. */
static size_t make_record(uint8_t *buf, uint8_t family, uint8_t dir,
			  uint32_t msg_len, uint64_t conn_id, uint8_t fill)
{
	struct record_info ri;
	struct tlstap_record hdr;

	memset(&ri, 0, sizeof(ri));
	ri.type = TLSTAP_RECORD_DATA;
	ri.flow.family = family;
	ri.flow.dir = dir;
	if (family != TLSTAP_FAMILY_NONE) {
		ri.flow.sport = 443;
		ri.flow.dport = 50000 + (uint16_t)(conn_id % 1000);
		if (family == TLSTAP_FAMILY_IPV4) {
			memcpy(ri.flow.saddr, "\x0a\x00\x00\x01", 4);
			memcpy(ri.flow.daddr, "\x0a\x00\x00\x02", 4);
		} else {
			memset(ri.flow.saddr, 0xfd, 16);
			memset(ri.flow.daddr, 0xfe, 16);
		}
	}
	ri.msg_len = msg_len;
	ri.pid = 4242;
	ri.timestamp_ns = 1700000000123456789ull;
	ri.conn_id = conn_id;
	ri.dropped = 7;
	record_encode_hdr(&hdr, &ri);
	memcpy(buf, &hdr, sizeof(hdr));
	for (uint32_t i = 0; i < msg_len; i++)
		buf[sizeof(hdr) + i] = (uint8_t)(fill + i * 7);
	return sizeof(hdr) + msg_len;
}

/* ------------------------------------------------------------- hashing */

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

/* ------------------------------------------------------------- records */

static void test_record_parse(void)
{
	static uint8_t buf[2 * 70000];
	struct record_info ri;
	struct tlstap_record *h = (struct tlstap_record *)buf;
	size_t len;

	len = make_record(buf, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE, 100, 1, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK &&
	      ri.len == len && ri.msg_len == 100 && ri.flow.sport == 443 &&
	      ri.pid == 4242 && ri.dropped == 7 && ri.conn_id == 1 &&
	      ri.msg == buf + 72, "valid IPv4 record");
	CHECK(record_parse(buf, len - 1, 65536, &ri) == RECORD_SHORT,
	      "short body");
	CHECK(record_parse(buf, 71, 65536, &ri) == RECORD_SHORT, "short hdr");
	CHECK(record_parse(buf, len, 99, &ri) == RECORD_TOO_LONG, "too long");
	buf[len] = 0xee;
	CHECK(record_parse(buf, len + 1, 65536, &ri) == RECORD_OK &&
	      ri.len == len, "a record followed by more bytes");

	h->type = 4;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_TYPE, "type");
	h->type = TLSTAP_RECORD_OPEN;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_LIFECYCLE,
	      "an OPEN with plaintext");
	h->type = TLSTAP_RECORD_DATA;
	h->hdr_len = 73;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_HDR_LEN, "hl");
	h->hdr_len = 72;
	for (int d = 0; d < 256; d++) {
		enum record_status st;

		h->dir = (uint8_t)d;
		st = record_parse(buf, len, 65536, &ri);
		CHECK((d == 1 || d == 2) ? st == RECORD_OK : st == RECORD_BAD_DIR,
		      "dir %d gave %s", d, record_status_name(st));
	}
	h->dir = TLSTAP_DIR_READ;
	for (int fam = 0; fam < 256; fam++) {
		enum record_status st;

		if (fam == 0 || fam == 4 || fam == 6)
			continue;
		h->family = (uint8_t)fam;
		st = record_parse(buf, len, 65536, &ri);
		CHECK(st == RECORD_BAD_FAMILY, "family %d gave %s", fam,
		      record_status_name(st));
	}
	h->family = TLSTAP_FAMILY_IPV4;
	h->saddr[15] = 1;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "IPv4 with bytes after the address");
	h->saddr[15] = 0;
	h->daddr[4] = 1;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "IPv4 daddr with bytes after the address");
	h->daddr[4] = 0;
	h->family = TLSTAP_FAMILY_IPV6;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK, "as IPv6");
	h->sport = 0;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW, "port 0");
	h->family = TLSTAP_FAMILY_NONE;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "NONE with addresses");
	len = make_record(buf, TLSTAP_FAMILY_NONE, TLSTAP_DIR_READ, 1, 5, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK, "valid NONE");
	h->dport = htobe16(1);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "NONE with a port");
	len = make_record(buf, TLSTAP_FAMILY_IPV6, TLSTAP_DIR_READ, 0, 5, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK &&
	      ri.len == 72 && ri.msg_len == 0 && ri.dropped == 7 &&
	      record_is_loss_report(&ri), "msg_len 0, dropped 7: loss report");
	h->dropped = 0;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_EMPTY,
	      "msg_len 0, nothing dropped");
	h->dropped = htobe64(1ull << 63);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK &&
	      ri.dropped == 1ull << 63, "loss report, top bit of dropped");
	CHECK(record_parse(buf, 71, 65536, &ri) == RECORD_SHORT,
	      "loss report one byte short");
	h->type = TLSTAP_RECORD_CLOSE;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_LIFECYCLE,
	      "a CLOSE with dropped bytes");
	h->dropped = 0;
	CHECK(record_parse(buf, len, 0, &ri) == RECORD_OK &&
	      ri.type == TLSTAP_RECORD_CLOSE && ri.len == 72 &&
	      !record_is_loss_report(&ri), "a CLOSE");
	h->type = TLSTAP_RECORD_OPEN;
	CHECK(record_parse(buf, len, 0, &ri) == RECORD_OK &&
	      ri.type == TLSTAP_RECORD_OPEN && !record_is_loss_report(&ri),
	      "an OPEN");
	h->type = TLSTAP_RECORD_DATA;
	h->dropped = htobe64(1ull << 63);
	h->msg_len = htobe32(0xffffffffu);
	CHECK(record_parse(buf, sizeof(buf), 0xffffffffu, &ri) == RECORD_SHORT,
	      "msg_len 2^32-1 with a huge maximum is only short");
	len = make_record(buf, TLSTAP_FAMILY_IPV6, TLSTAP_DIR_READ, 65536, 5, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK, "64 KiB");

	/* Random bytes never crash and never parse past the buffer. */
	for (int i = 0; i < 20000; i++) {
		size_t n = rnd() % 200;

		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)rnd();
		if (i % 2) {
			buf[0] = 1;
			buf[3] = 72;
		}
		if (record_parse(buf, n, 65536, &ri) == RECORD_OK)
			CHECK(ri.len <= n, "parsed beyond the buffer");
	}
}


/*
 * kmod/tests/record_test.c's cases, on a header built as its make_v4():
 * each must fail here with the reason matching the module's errno
 * (EMSGSIZE: too_long; EINVAL: every other reason), and the valid ones,
 * the loss report among them, must pass.
 */
static void make_v4(struct tlstap_record *r)
{
	memset(r, 0, sizeof(*r));
	r->type = TLSTAP_RECORD_DATA;
	r->dir = TLSTAP_DIR_WRITE;
	r->family = TLSTAP_FAMILY_IPV4;
	r->hdr_len = TLSTAP_RECORD_HDR_LEN;
	r->sport = htobe16(443);
	r->dport = htobe16(40000);
	r->msg_len = htobe32(100);
	memcpy(r->saddr, "\x0a\x00\x00\x01", 4);
	memcpy(r->daddr, "\x0a\x00\x00\x02", 4);
	r->conn_id = htobe64(7);
}

struct bad_case {
	const char *name;
	size_t off;
	size_t size;
	uint64_t value;
	void (*mangle)(struct tlstap_record *r);
	enum record_status status;
	int kmod_err;		/* what tlstap_record_parse() returns */
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

/* kmod/tests/record_test.c's OPEN and CLOSE cases. */
static void m_open_msg(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_OPEN;
}

static void m_close_dropped(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_CLOSE;
	r->msg_len = 0;
	r->dropped = htobe64(1);
}

static void m_open_huge(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_OPEN;
	r->msg_len = htobe32(65536 + 1);
}

static void m_close_v4_tail(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_CLOSE;
	r->msg_len = 0;
	r->daddr[4] = 1;
}

static const struct bad_case bad_cases[] = {
	{ "type 0", OFF(type), 1, 0, NULL, RECORD_BAD_TYPE, -EINVAL },
	{ "type 4", OFF(type), 1, 4, NULL, RECORD_BAD_TYPE, -EINVAL },
	{ "type 255", OFF(type), 1, 255, NULL, RECORD_BAD_TYPE, -EINVAL },
	{ "dir 0", OFF(dir), 1, 0, NULL, RECORD_BAD_DIR, -EINVAL },
	{ "dir 3", OFF(dir), 1, 3, NULL, RECORD_BAD_DIR, -EINVAL },
	{ "family 1", OFF(family), 1, 1, NULL, RECORD_BAD_FAMILY, -EINVAL },
	{ "family 5", OFF(family), 1, 5, NULL, RECORD_BAD_FAMILY, -EINVAL },
	{ "family AF_INET6", OFF(family), 1, 10, NULL, RECORD_BAD_FAMILY,
	  -EINVAL },
	{ "hdr_len 0", OFF(hdr_len), 1, 0, NULL, RECORD_BAD_HDR_LEN, -EINVAL },
	{ "hdr_len 71", OFF(hdr_len), 1, 71, NULL, RECORD_BAD_HDR_LEN,
	  -EINVAL },
	{ "hdr_len 73", OFF(hdr_len), 1, 73, NULL, RECORD_BAD_HDR_LEN,
	  -EINVAL },
	{ "hdr_len 255", OFF(hdr_len), 1, 255, NULL, RECORD_BAD_HDR_LEN,
	  -EINVAL },
	{ "msg_len 0, nothing dropped", OFF(msg_len), 4, 0, NULL, RECORD_EMPTY,
	  -EINVAL },
	{ "msg_len max+1", OFF(msg_len), 4, 65536 + 1, NULL, RECORD_TOO_LONG,
	  -EMSGSIZE },
	{ "msg_len 2^32-1", OFF(msg_len), 4, 0xffffffffu, NULL,
	  RECORD_TOO_LONG, -EMSGSIZE },
	{ "ipv4 saddr tail", OFF(saddr) + 4, 1, 1, NULL, RECORD_BAD_FLOW,
	  -EINVAL },
	{ "ipv4 daddr tail", OFF(daddr) + 15, 1, 1, NULL, RECORD_BAD_FLOW,
	  -EINVAL },
	{ "sport 0", OFF(sport), 2, 0, NULL, RECORD_BAD_FLOW, -EINVAL },
	{ "dport 0", OFF(dport), 2, 0, NULL, RECORD_BAD_FLOW, -EINVAL },
	{ "ipv6 dport 0", 0, 0, 0, m_v6_port0, RECORD_BAD_FLOW, -EINVAL },
	{ "none with address", 0, 0, 0, m_none_addr, RECORD_BAD_FLOW, -EINVAL },
	{ "none with port", 0, 0, 0, m_none_port, RECORD_BAD_FLOW, -EINVAL },
	{ "open with plaintext", 0, 0, 0, m_open_msg, RECORD_BAD_LIFECYCLE,
	  -EINVAL },
	{ "close with dropped", 0, 0, 0, m_close_dropped, RECORD_BAD_LIFECYCLE,
	  -EINVAL },
	{ "open longer than the maximum", 0, 0, 0, m_open_huge,
	  RECORD_BAD_LIFECYCLE, -EINVAL },
	{ "close ipv4 daddr tail", 0, 0, 0, m_close_v4_tail, RECORD_BAD_FLOW,
	  -EINVAL },
};

/* Stores value big-endian in size bytes at off. */
static void poke(struct tlstap_record *r, size_t off, size_t size,
		 uint64_t value)
{
	uint8_t *p = (uint8_t *)r + off;

	while (size--) {
		p[size] = (uint8_t)value;
		value >>= 8;
	}
}

static int errno_of(enum record_status st)
{
	switch (st) {
	case RECORD_OK:
		return 0;
	case RECORD_TOO_LONG:
		return -EMSGSIZE;
	default:
		return -EINVAL;
	}
}

static void test_record_kmod_cases(void)
{
	static uint8_t buf[72 + 65536];
	struct tlstap_record r;
	struct record_info ri;
	enum record_status st;

	/* record_valid: the same headers, accepted the same. */
	make_v4(&r);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK &&
	      ri.msg_len == 100 && ri.len == 172 && ri.conn_id == 7,
	      "make_v4 record");
	r.dir = TLSTAP_DIR_READ;
	r.family = TLSTAP_FAMILY_IPV6;
	memset(r.saddr, 0xfd, 16);
	memset(r.daddr, 0x01, 16);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK, "v6");
	make_v4(&r);
	r.family = TLSTAP_FAMILY_NONE;
	r.sport = r.dport = 0;
	memset(r.saddr, 0, 16);
	memset(r.daddr, 0, 16);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK, "none");
	make_v4(&r);
	r.msg_len = 0;
	r.dropped = htobe64(4096);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, 72, 65536, &ri) == RECORD_OK && ri.len == 72 &&
	      ri.dropped == 4096 && record_is_loss_report(&ri),
	      "loss report: no plaintext, bytes dropped");
	make_v4(&r);
	r.msg_len = htobe32(65536);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK,
	      "msg_len max");
	r.msg_len = htobe32(1);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK &&
	      !record_is_loss_report(&ri), "msg_len 1");

	/* record_malformed: same reason, same errno class. */
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];

		make_v4(&r);
		if (c->mangle)
			c->mangle(&r);
		else
			poke(&r, c->off, c->size, c->value);
		memcpy(buf, &r, sizeof(r));
		st = record_parse(buf, sizeof(buf), 65536, &ri);
		CHECK(st == c->status && errno_of(st) == c->kmod_err,
		      "case %s: %s, want %s", c->name, record_status_name(st),
		      record_status_name(c->status));
	}

	/* record_random: whatever the bytes, an accepted header is sound. */
	{
		unsigned int accepted = 0, loss = 0, lifecycle = 0;

		for (uint32_t i = 0; i < 200000; i++) {
			for (size_t k = 0; k < sizeof(r); k++)
				((uint8_t *)&r)[k] = (uint8_t)rnd();
			if (i & 1) {
				/* A quarter OPEN or CLOSE, most of those empty. */
				r.type = (i & 6) ? TLSTAP_RECORD_DATA :
					 TLSTAP_RECORD_OPEN + (i >> 3 & 1);
				r.hdr_len = TLSTAP_RECORD_HDR_LEN;
				r.dir = 1 + (r.dir & 1);
				r.family = (r.family & 1) ? TLSTAP_FAMILY_IPV6
							  : TLSTAP_FAMILY_IPV4;
				r.msg_len = htobe32(be32toh(r.msg_len) %
						    (2 * 65536));
				if (r.family == TLSTAP_FAMILY_IPV4 && (i & 2)) {
					memset(r.saddr + 4, 0, 12);
					memset(r.daddr + 4, 0, 12);
				}
				/* Loss reports, with and without a loss. */
				if (!(i & 12)) {
					r.msg_len = 0;
					if (i & 16)
						r.dropped = 0;
				}
				if (r.type != TLSTAP_RECORD_DATA && (i & 48)) {
					r.msg_len = 0;
					r.dropped = 0;
				}
			}
			memcpy(buf, &r, sizeof(r));
			if (record_parse(buf, sizeof(buf), 65536, &ri) !=
			    RECORD_OK)
				continue;
			accepted++;
			loss += record_is_loss_report(&ri);
			lifecycle += r.type != TLSTAP_RECORD_DATA;
			if (!(ri.type == r.type &&
			      (r.type == TLSTAP_RECORD_DATA
				       ? ri.msg_len || r.dropped
				       : (r.type == TLSTAP_RECORD_OPEN ||
					  r.type == TLSTAP_RECORD_CLOSE) &&
						 !ri.msg_len && !r.dropped) &&
			      r.hdr_len == TLSTAP_RECORD_HDR_LEN &&
			      (r.dir == TLSTAP_DIR_READ ||
			       r.dir == TLSTAP_DIR_WRITE) &&
			      ri.msg_len <= 65536 &&
			      ri.len == ri.msg_len + 72 && r.sport && r.dport &&
			      (r.family == TLSTAP_FAMILY_IPV6 ||
			       (r.family == TLSTAP_FAMILY_IPV4 &&
				all_zero_bytes(r.saddr + 4, 12) &&
				all_zero_bytes(r.daddr + 4, 12))))) {
				CHECK(0, "random header %u accepted", i);
				break;
			}
		}
		CHECK(accepted > 10000 && loss > 1000 && lifecycle > 1000,
		      "random: %u accepted, %u loss reports, %u OPEN or CLOSE",
		      accepted, loss, lifecycle);
	}
}

/* ------------------------------------------------------------ datagrams */

static size_t build_one(uint8_t *dg, const uint8_t *rec, size_t rec_len)
{
	struct wire_builder b;
	struct wire_chunk_meta m;
	struct record_info ri;

	record_parse(rec, rec_len, 65536, &ri);
	memset(&m, 0, sizeof(m));
	m.record_id = 3;
	m.record_len = ri.len;
	m.flow = ri.flow;
	m.writer_pid = 31337;
	m.writer_uid = 1000;
	wire_builder_start(&b, dg, 1500, 0xabcdef01, 9, 0);
	wire_builder_add(&b, &m, 0, rec, rec_len);
	return wire_builder_finish(&b);
}

static enum wire_status check_dgram(const uint8_t *dg, size_t len)
{
	struct wire_msg msg;
	enum wire_status st = wire_parse_msg(dg, len, &msg);

	return st != WIRE_OK ? st : wire_check_data(&msg, 65536);
}

static void test_wire(void)
{
	uint8_t rec[200], dg[1500], bad[1500];
	struct wire_msg msg;
	struct wire_chunk ch;
	size_t rlen = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_READ,
				  100, 1, 3);
	size_t len = build_one(dg, rec, rlen), pos = 0;
	const size_t c0 = TLSTAP_MSG_HDR_LEN;	/* first chunk header */

	CHECK(len == 16 + 64 + rlen, "datagram length %zu", len);
	CHECK(!memcmp(dg + c0 + 56, "\x00\x00\x7a\x69\x00\x00\x03\xe8", 8),
	      "writer_pid and writer_uid bytes");
	CHECK(check_dgram(dg, len) == WIRE_OK, "valid datagram");
	CHECK(wire_parse_msg(dg, len, &msg) == WIRE_OK && msg.seq == 9 &&
	      msg.stream_id == 0xabcdef01 && msg.count == 1 && msg.len == len,
	      "header fields");
	CHECK(wire_next_chunk(&msg, &pos, &ch) && ch.meta.record_id == 3 &&
	      ch.meta.record_len == rlen && ch.offset == 0 && ch.len == rlen &&
	      !memcmp(ch.data, rec, rlen) && ch.meta.flow.sport == 443 &&
	      ch.meta.writer_pid == 31337 && ch.meta.writer_uid == 1000,
	      "chunk fields");
	CHECK(!wire_next_chunk(&msg, &pos, &ch), "a second chunk");

#define MUTATE(off, val, want)                                              \
	do {                                                                \
		memcpy(bad, dg, len);                                       \
		bad[off] = (uint8_t)(val);                                  \
		CHECK(check_dgram(bad, len) == (want),                      \
		      "byte %zu = %d gave %s", (size_t)(off), (int)(val),     \
		      wire_status_name(check_dgram(bad, len)));             \
	} while (0)
	MUTATE(0, 0, WIRE_BAD_TYPE);
	MUTATE(0, 5, WIRE_BAD_TYPE);
	MUTATE(1, 1, WIRE_BAD_VERSION);		/* version 1: 56-byte chunks */
	MUTATE(1, 3, WIRE_BAD_VERSION);
	MUTATE(2, 17, WIRE_BAD_HDR_LEN);
	MUTATE(3, 2, WIRE_BAD_FLAGS);
	MUTATE(3, 1, WIRE_OK);				/* retransmit flag */
	MUTATE(13, (len & 0xff) + 1, WIRE_BAD_LEN);
	MUTATE(15, 0, WIRE_BAD_COUNT);
	MUTATE(15, 2, WIRE_CHUNK_TRUNCATED);
	MUTATE(c0 + 7, 71, WIRE_CHUNK_BAD_RECORD_LEN);	/* record_len */
	MUTATE(c0 + 7, rlen - 1, WIRE_CHUNK_BAD_RANGE);
	MUTATE(c0 + 11, 1, WIRE_CHUNK_BAD_RANGE);	/* offset */
	MUTATE(c0 + 13, 0, WIRE_CHUNK_EMPTY);		/* len */
	MUTATE(c0 + 13, rlen + 1, WIRE_CHUNK_TRUNCATED);
	MUTATE(c0 + 14, 5, WIRE_CHUNK_BAD_FLOW);	/* family */
	MUTATE(c0 + 15, 3, WIRE_CHUNK_BAD_FLOW);	/* dir */
	MUTATE(c0 + 20 + 5, 1, WIRE_CHUNK_BAD_FLOW);	/* IPv4 padding */
	MUTATE(c0 + 52, 2, WIRE_CHUNK_BAD_FLAGS);
	MUTATE(c0 + 52, 1, WIRE_OK);			/* aborted */
	MUTATE(c0 + 55, 1, WIRE_CHUNK_BAD_FLAGS);	/* reserved */
	MUTATE(c0 + 56, 0xff, WIRE_OK);			/* writer_pid */
	MUTATE(c0 + 63, 0xff, WIRE_OK);			/* writer_uid */
	CHECK(check_dgram(dg, 15) == WIRE_SHORT, "short datagram");
	memcpy(bad, dg, len);
	bad[len] = 0;
	bad[13] = (uint8_t)(len + 1);
	CHECK(check_dgram(bad, len + 1) == WIRE_TRAILING, "trailing byte");

	for (int i = 0; i < 50000; i++) {
		size_t n = 16 + rnd() % 300;

		memcpy(bad, dg, len);
		for (int k = 0; k < 4; k++)
			bad[rnd() % n] = (uint8_t)rnd();
		check_dgram(bad, n);	/* must not crash (ASan watches) */
	}
}


/* A control message: header, then body_len bytes of body (zeros). */
static size_t control_msg(uint8_t *buf, uint8_t type, uint32_t seq,
			  uint16_t count, size_t body_len)
{
	struct tlstap_msg_hdr h = {
		.type = type,
		.version = TLSTAP_WIRE_VERSION,
		.hdr_len = TLSTAP_MSG_HDR_LEN,
		.stream_id = htobe32(0x01020304),
		.seq = htobe32(seq),
		.len = htobe16((uint16_t)(sizeof(h) + body_len)),
		.count = htobe16(count),
	};

	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 0, body_len);
	return sizeof(h) + body_len;
}

static void test_wire_control(void)
{
	static uint8_t buf[TLSTAP_MAX_DGRAM + 8], rec[TLSTAP_MAX_DGRAM];
	struct wire_msg msg;
	struct wire_builder b;
	struct wire_chunk_meta m;
	struct record_info ri;
	size_t n;

	/* NACK and GAP: seq 0, count ranges of 8 bytes. */
	for (uint8_t type = TLSTAP_MSG_NACK; type <= TLSTAP_MSG_GAP; type++) {
		n = control_msg(buf, type, 0, 1, 8);
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
		      msg.type == type && msg.count == 1 && msg.body_len == 8,
		      "type %u with one range", type);
		n = control_msg(buf, type, 0, 3, 24);
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK,
		      "type %u with three ranges", type);
		n = control_msg(buf, type, 1, 1, 8);
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_SEQ,
		      "type %u with seq 1", type);
		n = control_msg(buf, type, 0x80000000u, 1, 8);
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_SEQ,
		      "type %u with seq 2^31", type);
		n = control_msg(buf, type, 0, 2, 8);
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_BODY_LEN,
		      "type %u: count 2, one range", type);
		n = control_msg(buf, type, 0, 1, 12);
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_BODY_LEN,
		      "type %u: a range and a half", type);
		n = control_msg(buf, type, 0, 1, 8);
		buf[3] = TLSTAP_MSG_F_RETRANSMIT;
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_FLAGS,
		      "type %u with the retransmit flag", type);
	}
	/* HEARTBEAT: seq is the highest sent, count 0, an 8-byte body. */
	n = control_msg(buf, TLSTAP_MSG_HEARTBEAT, 7, 0, 8);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK && msg.seq == 7,
	      "heartbeat");
	n = control_msg(buf, TLSTAP_MSG_HEARTBEAT, 7, 1, 8);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_COUNT,
	      "heartbeat with count 1");
	n = control_msg(buf, TLSTAP_MSG_HEARTBEAT, 7, 0, 0);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_BODY_LEN,
	      "heartbeat without a body");
	n = control_msg(buf, TLSTAP_MSG_HEARTBEAT, 7, 0, 16);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_BAD_BODY_LEN,
	      "heartbeat with 16 bytes of body");

	/* The largest datagram, 65507 bytes, is accepted; one more is not. */
	n = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE,
			TLSTAP_MAX_DGRAM - 16 - 64 - 72, 1, 9);
	record_parse(rec, n, 65536, &ri);
	memset(&m, 0, sizeof(m));
	m.record_len = ri.len;
	m.flow = ri.flow;
	wire_builder_start(&b, buf, TLSTAP_MAX_DGRAM, 1, 0, 0);
	CHECK(wire_builder_room(&b) == n, "room %zu for %zu",
	      wire_builder_room(&b), n);
	wire_builder_add(&b, &m, 0, rec, n);
	n = wire_builder_finish(&b);
	CHECK(n == TLSTAP_MAX_DGRAM && check_dgram(buf, n) == WIRE_OK,
	      "a %zu-byte datagram", n);
	n = control_msg(buf, TLSTAP_MSG_NACK, 0, (TLSTAP_MAX_DGRAM - 16) / 8,
			(TLSTAP_MAX_DGRAM - 16) / 8 * 8);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK, "a %zu-byte NACK", n);
	n = control_msg(buf, TLSTAP_MSG_NACK, 0, (TLSTAP_MAX_DGRAM - 16) / 8 + 1,
			((TLSTAP_MAX_DGRAM - 16) / 8 + 1) * 8);
	CHECK(n > TLSTAP_MAX_DGRAM && wire_parse_msg(buf, n, &msg) ==
	      WIRE_BAD_LEN, "a %zu-byte NACK accepted", n);
}

/* --------------------------------------------------------------- rings */

struct collected {
	unsigned int n;
	uint32_t ids[64];
	size_t lens[64];
	uint8_t *bytes[64];
	uint32_t seq_first[64];
	uint32_t writer_pid[64], writer_uid[64];
};

static void collect(void *arg, const struct reasm_record *r)
{
	struct collected *c = arg;

	if (c->n < 64) {
		c->ids[c->n] = r->record_id;
		c->lens[c->n] = r->rec->len;
		c->bytes[c->n] = malloc(r->rec->len);
		memcpy(c->bytes[c->n], r->rec->bytes, r->rec->len);
		c->seq_first[c->n] = r->seq_first;
		c->writer_pid[c->n] = r->writer_pid;
		c->writer_uid[c->n] = r->writer_uid;
	}
	c->n++;
}

static void collected_free(struct collected *c)
{
	for (unsigned int i = 0; i < c->n && i < 64; i++)
		free(c->bytes[i]);
	memset(c, 0, sizeof(*c));
}

/* LOST ranges and NACKs are not expected where this one is used. */
static void unexpected_lost(void *arg, const struct reasm_lost *l)
{
	(void)arg;
	CHECK(0, "LOST seqs %u..%u", l->seq_first, l->seq_last);
}

static void unexpected_nack(void *arg, const struct endpoint *to,
			    const uint8_t *msg, size_t len)
{
	(void)arg;
	(void)to;
	(void)msg;
	(void)len;
}

static const struct reasm_ops collect_ops = {
	.record = collect,
	.lost = unexpected_lost,
	.nack = unexpected_nack,
};

static struct reasm *new_reasm(struct collected *c)
{
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 8u << 20,
		.max_streams = 4,
	};

	return reasm_new(&cfg, &collect_ops, c);
}

/* The writer pack_records stamps into record i: one of its own each. */
#define WRITER_PID(i)	(1000u + (i))
#define WRITER_UID(i)	((i) % 2 ? 1000u : TLSTAP_WRITER_UID_UNKNOWN)

/* Packs n records of the given sizes; returns the number of datagrams. */
static uint32_t pack_records(struct txring *r, uint8_t **recs,
			     const uint32_t *sizes, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct record_info ri;
		struct wire_chunk_meta m;
		size_t len = make_record(recs[i], i % 2 ? TLSTAP_FAMILY_IPV4
							: TLSTAP_FAMILY_IPV6,
					 TLSTAP_DIR_WRITE, sizes[i], i,
					 (uint8_t)i);

		record_parse(recs[i], len, 65536, &ri);
		memset(&m, 0, sizeof(m));
		m.record_id = r->next_record_id++;
		m.record_len = ri.len;
		m.flow = ri.flow;
		m.writer_pid = WRITER_PID(i);
		m.writer_uid = WRITER_UID(i);
		CHECK(txring_pack(r, &m, 0, recs[i], len) == len,
		      "ring too small for the test");
	}
	txring_close(r);
	return txring_unsent(r);
}

static const uint32_t sizes[] = { 1, 100, 1000, 30, 5000, 65536, 57, 2, 300 };
#define NREC (sizeof(sizes) / sizeof(sizes[0]))

static void check_all_emitted(struct collected *c, uint8_t **recs,
			      const char *what)
{
	CHECK(c->n == NREC, "%s: %u records emitted, want %zu", what, c->n,
	      NREC);
	for (unsigned int i = 0; i < c->n && i < NREC; i++) {
		uint32_t id = c->ids[i];

		CHECK(id < NREC && c->lens[i] == 72 + sizes[id] &&
		      !memcmp(c->bytes[i], recs[id], c->lens[i]),
		      "%s: record %u differs", what, id);
		CHECK(c->writer_pid[i] == WRITER_PID(id) &&
		      c->writer_uid[i] == WRITER_UID(id),
		      "%s: record %u came with writer %u/%u", what, id,
		      c->writer_pid[i], c->writer_uid[i]);
	}
}

static void test_pack_and_reassemble(void)
{
	struct txring ring;
	uint8_t *recs[NREC];
	const uint8_t *dgs[4096];
	size_t dlens[4096];
	struct collected c = { 0 };
	struct reasm_dgram_info info;
	struct endpoint sender = { .family = 4, .addr = { 10, 0, 0, 9 },
				   .port = 7419 };
	struct reasm *ra;
	uint32_t n;

	for (unsigned int i = 0; i < NREC; i++)
		recs[i] = malloc(72 + 65536);
	CHECK(!txring_init(&ring, 1452, 4096, 77), "txring_init");
	n = pack_records(&ring, recs, sizes, NREC);
	CHECK(n > 50 && n < 4096, "%u datagrams", n);
	for (uint32_t s = 0; s < n; s++) {
		struct wire_msg msg;

		dgs[s] = txring_datagram(&ring, s, &dlens[s]);
		CHECK(dgs[s] && dlens[s] <= 1452, "datagram %u: %zu bytes", s,
		      dlens[s]);
		/* Closed early only when no chunk with a byte fits. */
		CHECK(s == n - 1 || dlens[s] > 1452 - 65,
		      "datagram %u closed with room: %zu", s, dlens[s]);
		CHECK(check_dgram(dgs[s], dlens[s]) == WIRE_OK &&
		      wire_parse_msg(dgs[s], dlens[s], &msg) == WIRE_OK &&
		      msg.seq == s && msg.stream_id == 77,
		      "datagram %u does not parse", s);
	}

	/* In order. */
	ra = new_reasm(&c);
	for (uint32_t s = 0; s < n; s++)
		CHECK(reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info) ==
		      REASM_ACCEPTED, "in order %u", s);
	check_all_emitted(&c, recs, "in order");
	for (unsigned int i = 0; i < c.n && i < NREC; i++)
		CHECK(c.ids[i] == i, "in order: record %u emitted as #%u",
		      c.ids[i], i);
	CHECK(reasm_stats(ra)->seq_gaps == 0 &&
	      reasm_stats(ra)->pending_bytes == 0, "in order: counters");
	/* Everything again: all duplicates, nothing emitted. */
	for (uint32_t s = 0; s < n; s++)
		CHECK(reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info) ==
		      REASM_DUPLICATE, "duplicate %u", s);
	CHECK(c.n == NREC && reasm_stats(ra)->dup_datagrams == n,
	      "duplicates emitted records");
	reasm_free(ra);
	collected_free(&c);

	/*
	 * Reversed: the stream starts at the last datagram (the first seen);
	 * the others are originals from before it, overtaken on the way:
	 * taken, though no hole was opened for them.
	 */
	ra = new_reasm(&c);
	for (uint32_t s = n; s-- > 0;)
		reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info);
	check_all_emitted(&c, recs, "reversed");
	CHECK(reasm_stats(ra)->seq_gaps == 0 &&
	      reasm_stats(ra)->late_datagrams == n - 1,
	      "reversed: gaps %llu late %llu", reasm_stats(ra)->seq_gaps,
	      reasm_stats(ra)->late_datagrams);
	reasm_free(ra);
	collected_free(&c);

	/* Shuffled, every datagram twice. */
	ra = new_reasm(&c);
	{
		uint32_t order[2 * 4096];

		for (uint32_t i = 0; i < 2 * n; i++)
			order[i] = i % n;
		for (uint32_t i = 2 * n - 1; i > 0; i--) {
			uint32_t j = rnd() % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (uint32_t i = 0; i < 2 * n; i++)
			reasm_datagram(ra, &sender, dgs[order[i]],
				       dlens[order[i]], T0, &info);
	}
	check_all_emitted(&c, recs, "shuffled twice");
	CHECK(reasm_stats(ra)->dup_datagrams == n, "shuffled: %llu dups",
	      reasm_stats(ra)->dup_datagrams);
	reasm_free(ra);
	collected_free(&c);

	/* One datagram missing: the records it touches never come out. */
	ra = new_reasm(&c);
	for (uint32_t s = 0; s < n; s++)
		if (s != n / 2)
			reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info);
	CHECK(c.n == NREC - 1, "missing chunk: %u records emitted", c.n);
	for (unsigned int i = 0; i < c.n && i < 64; i++)
		CHECK(c.ids[i] != 5, "the 64 KiB record came out incomplete");
	CHECK(reasm_stats(ra)->pending_bytes == 72 + 65536,
	      "pending %llu", reasm_stats(ra)->pending_bytes);
	/* A different stream id is a different stream. */
	{
		uint8_t copy[1500];

		memcpy(copy, dgs[n / 2], dlens[n / 2]);
		copy[4] ^= 1;
		reasm_datagram(ra, &sender, copy, dlens[n / 2], T0, &info);
		CHECK(c.n == NREC - 1 && reasm_stats(ra)->streams == 2,
		      "another stream's chunk completed a record");
	}
	/* Late arrival completes it. */
	reasm_datagram(ra, &sender, dgs[n / 2], dlens[n / 2], T0, &info);
	check_all_emitted(&c, recs, "late chunk");
	reasm_free(ra);
	collected_free(&c);

	/* Repacking the unsent datagrams at a smaller size keeps the bytes. */
	{
		struct txring r2;
		uint8_t *copy;
		size_t copy_len, pos = 0;
		uint32_t m;

		CHECK(!txring_init(&r2, 1452, 8192, 78), "txring_init");
		n = pack_records(&r2, recs, sizes, NREC);
		txring_mark_sent(&r2, 3);
		CHECK(!txring_take_unsent(&r2, &copy, &copy_len), "take");
		CHECK(r2.next_seq == 3 && txring_unsent(&r2) == 0, "rewound");
		r2.dgram_size = 1232;
		while (pos < copy_len) {
			struct wire_msg msg;
			struct wire_chunk ch;
			size_t cp = 0;
			uint16_t dl;

			memcpy(&dl, copy + pos + 12, 2);
			dl = be16toh(dl);
			CHECK(wire_parse_msg(copy + pos, dl, &msg) == WIRE_OK,
			      "copy parses");
			while (wire_next_chunk(&msg, &cp, &ch))
				CHECK(txring_pack(&r2, &ch.meta, ch.offset,
						  ch.data, ch.len) == ch.len,
				      "repack");
			pos += dl;
		}
		free(copy);
		txring_close(&r2);
		m = r2.next_seq;
		CHECK(m > n, "repacked into %u datagrams (was %u)", m, n);
		ra = new_reasm(&c);
		for (uint32_t s = 0; s < m; s++) {
			const uint8_t *d = txring_datagram(&r2, s, &dlens[0]);

			CHECK(d && (s < 3 || dlens[0] <= 1232),
			      "repacked %u: %zu", s, dlens[0]);
			if (d)
				reasm_datagram(ra, &sender, d, dlens[0], T0, &info);
		}
		check_all_emitted(&c, recs, "repacked");
		reasm_free(ra);
		collected_free(&c);
		txring_free(&r2);
	}
	txring_free(&ring);
	for (unsigned int i = 0; i < NREC; i++)
		free(recs[i]);
}

/*
 * Builds a datagram of chunk [off, off+len) of one record, written by
 * writer_pid with uid writer_uid.
 */
static size_t piece_by(uint8_t *dg, uint32_t seq, const uint8_t *rec,
		       size_t rec_len, uint32_t record_id, uint32_t off,
		       uint32_t len, uint8_t flags, uint32_t writer_pid,
		       uint32_t writer_uid)
{
	struct wire_builder b;
	struct wire_chunk_meta m;
	struct record_info ri;

	record_parse(rec, rec_len, 65536, &ri);
	memset(&m, 0, sizeof(m));
	m.record_id = record_id;
	m.record_len = (uint32_t)rec_len;
	m.flow = ri.flow;
	m.flags = flags;
	m.writer_pid = writer_pid;
	m.writer_uid = writer_uid;
	wire_builder_start(&b, dg, 65507, 5, seq, 0);
	wire_builder_add(&b, &m, off, rec + off, len);
	return wire_builder_finish(&b);
}

/* The same by writer 4343, uid 1000. */
static size_t piece(uint8_t *dg, uint32_t seq, const uint8_t *rec,
		    size_t rec_len, uint32_t record_id, uint32_t off,
		    uint32_t len, uint8_t flags)
{
	return piece_by(dg, seq, rec, rec_len, record_id, off, len, flags,
			4343, 1000);
}

static void test_reasm_rejects(void)
{
	static uint8_t rec[72 + 3000], other[72 + 3000], dg[4000];
	struct endpoint sender = { .family = 4, .addr = { 10, 0, 0, 9 },
				   .port = 7419 };
	struct reasm_dgram_info info;
	struct collected c = { 0 };
	struct reasm *ra = new_reasm(&c);
	size_t len = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE,
				 3000, 1, 0), n;

	/* Aborted: first half arrives, then an aborted chunk. */
	n = piece(dg, 0, rec, len, 0, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 1, rec, len, 0, 1000, 2072, TLSTAP_CHUNK_F_ABORTED);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 0 && reasm_stats(ra)->records_aborted == 1 &&
	      reasm_stats(ra)->pending_bytes == 0, "aborted record");

	/* Overlapping bytes that differ: never emitted. */
	memcpy(other, rec, len);
	other[500] ^= 0xff;
	n = piece(dg, 2, rec, len, 1, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 3, other, len, 1, 400, 2672, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 0 && reasm_stats(ra)->records_inconsistent == 1,
	      "overlap with different bytes emitted");

	/* Overlapping equal bytes (a retransmission cut differently): fine. */
	n = piece(dg, 4, rec, len, 2, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 5, rec, len, 2, 600, 2472, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && c.ids[0] == 2 && c.lens[0] == len &&
	      !memcmp(c.bytes[0], rec, len), "equal overlap not emitted");
	CHECK(c.writer_pid[0] == 4343 && c.writer_uid[0] == 1000,
	      "writer %u/%u", c.writer_pid[0], c.writer_uid[0]);

	/* Chunks stamped with another writer pid, or uid: never emitted. */
	n = piece(dg, 6, rec, len, 4, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece_by(dg, 7, rec, len, 4, 1000, 2072, 0, 4344, 1000);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 8, rec, len, 5, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece_by(dg, 9, rec, len, 5, 1000, 2072, 0, 4343,
		     TLSTAP_WRITER_UID_UNKNOWN);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_inconsistent == 3 &&
	      reasm_stats(ra)->pending_bytes == 0,
	      "chunks of two writers: %u records, %llu inconsistent", c.n,
	      reasm_stats(ra)->records_inconsistent);

	/* Chunks claiming another flow than the record's own header. */
	memcpy(other, rec, len);
	other[4] ^= 1;		/* the header's sport */
	n = piece(dg, 10, rec, len, 3, 0, 72, 0);
	memcpy(dg + 16 + 64, other, 72);	/* header bytes of "other" */
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 11, rec, len, 3, 72, 3000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_invalid == 1,
	      "record whose header disagrees with its chunks emitted");
	reasm_free(ra);
	collected_free(&c);

	/* The pending-memory bound evicts the oldest incomplete record. */
	{
		struct reasm_config cfg = {
			.max_msg_len = 65536,
			.max_pending_bytes = 2 * len,
			.max_streams = 4,
		};

		ra = reasm_new(&cfg, &collect_ops, &c);
		for (uint32_t id = 0; id < 3; id++) {
			n = piece(dg, id, rec, len, id, 0, 100, 0);
			reasm_datagram(ra, &sender, dg, n, T0, &info);
		}
		CHECK(reasm_stats(ra)->records_evicted == 1 &&
		      reasm_stats(ra)->pending_bytes == 2 * len,
		      "evicted %llu pending %llu",
		      reasm_stats(ra)->records_evicted,
		      reasm_stats(ra)->pending_bytes);
		n = piece(dg, 3, rec, len, 0, 100, 2972, 0);
		reasm_datagram(ra, &sender, dg, n, T0, &info);
		CHECK(c.n == 0, "an evicted record came out");
		n = piece(dg, 4, rec, len, 2, 100, 2972, 0);
		reasm_datagram(ra, &sender, dg, n, T0, &info);
		CHECK(c.n == 1 && c.ids[0] == 2, "record 2 not completed");
		reasm_free(ra);
		collected_free(&c);
	}
}


/* Loss reports: 72-byte records, packed, reassembled and output as such. */
static void test_loss_reports(void)
{
	static uint8_t data[72 + 3000], dg[2000];
	uint8_t loss[72], forged[72];
	struct endpoint sender = { .family = 4, .addr = { 10, 0, 0, 9 },
				   .port = 7419 };
	struct reasm_dgram_info info;
	struct collected c = { 0 };
	struct record_info ri;
	struct reasm *ra;
	size_t n, dlen = make_record(data, TLSTAP_FAMILY_IPV4,
				     TLSTAP_DIR_WRITE, 3000, 1, 0);
	size_t llen = make_record(loss, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_READ, 0,
				  1, 0);

	CHECK(llen == 72 && record_parse(loss, llen, 65536, &ri) == RECORD_OK,
	      "loss report does not parse");

	/* One chunk of 72 bytes: a valid datagram, emitted at once. */
	n = build_one(dg, loss, llen);
	CHECK(n == 16 + 64 + 72 && check_dgram(dg, n) == WIRE_OK,
	      "loss report datagram: %s", wire_status_name(check_dgram(dg, n)));
	ra = new_reasm(&c);
	CHECK(reasm_datagram(ra, &sender, dg, n, T0, &info) == REASM_ACCEPTED &&
	      c.n == 1 && c.ids[0] == 3 && c.lens[0] == 72 &&
	      !memcmp(c.bytes[0], loss, 72) &&
	      reasm_stats(ra)->loss_reports == 1 &&
	      reasm_stats(ra)->records == 1, "loss report not emitted");
	reasm_free(ra);
	collected_free(&c);

	/* Cut in two (40 + 32 bytes), in reverse order: emitted once. */
	ra = new_reasm(&c);
	n = piece(dg, 1, loss, llen, 0, 40, 32, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 0 && reasm_stats(ra)->pending_bytes == 72,
	      "half a loss report came out");
	n = piece(dg, 0, loss, llen, 0, 0, 40, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && c.lens[0] == 72 && !memcmp(c.bytes[0], loss, 72) &&
	      reasm_stats(ra)->loss_reports == 1 &&
	      reasm_stats(ra)->pending_bytes == 0, "split loss report");

	/* An empty record that reports nothing is not a record. */
	memcpy(forged, loss, 72);
	memset(forged + offsetof(struct tlstap_record, dropped), 0, 8);
	n = piece(dg, 2, forged, 72, 1, 0, 72, 0);
	CHECK(check_dgram(dg, n) == WIRE_OK, "well-formed datagram");
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_invalid == 1 &&
	      reasm_stats(ra)->loss_reports == 1,
	      "empty record without a loss emitted");
	/* An aborted loss report is dropped like any aborted record. */
	n = piece(dg, 3, loss, llen, 2, 0, 72, TLSTAP_CHUNK_F_ABORTED);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_aborted == 1,
	      "aborted loss report emitted");
	/* OPEN and CLOSE: 72 bytes too, counted as such, not as losses. */
	memcpy(forged, loss, 72);
	((struct tlstap_record *)forged)->type = TLSTAP_RECORD_OPEN;
	memset(forged + offsetof(struct tlstap_record, dropped), 0, 8);
	n = piece(dg, 4, forged, 72, 3, 0, 72, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	((struct tlstap_record *)forged)->type = TLSTAP_RECORD_CLOSE;
	n = piece(dg, 5, forged, 72, 4, 0, 72, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 3 && c.lens[2] == 72 && !memcmp(c.bytes[2], forged, 72) &&
	      reasm_stats(ra)->opens == 1 && reasm_stats(ra)->closes == 1 &&
	      reasm_stats(ra)->loss_reports == 1 &&
	      reasm_stats(ra)->records == 3, "OPEN and CLOSE");
	/* A CLOSE with a loss in it is no record. */
	((struct tlstap_record *)forged)->dropped = htobe64(5);
	n = piece(dg, 6, forged, 72, 5, 0, 72, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 3 && reasm_stats(ra)->records_invalid == 2,
	      "a CLOSE with dropped bytes emitted");
	reasm_free(ra);
	collected_free(&c);

	/*
	 * Packing: after a data record the open datagram has room bytes
	 * left; a chunk opens there when room >= 65 (the module's rule).
	 */
	{
		static const size_t rooms[] = { 200, 136, 100, 65, 64, 1 };

		for (size_t k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
			size_t room = rooms[k];
			size_t first_len = room >= 65 ? room - 64 : 0;
			struct wire_chunk_meta m;
			struct txring r;
			struct wire_msg msg;
			struct wire_chunk ch;
			const uint8_t *d;
			size_t len, pos = 0;
			uint32_t ndg;

			dlen = make_record(data, TLSTAP_FAMILY_IPV4,
					   TLSTAP_DIR_WRITE,
					   (uint32_t)(1000 - room - 16 - 64 - 72),
					   1, 0);
			CHECK(!txring_init(&r, 1000, 8, 5), "init");
			record_parse(data, dlen, 65536, &ri);
			memset(&m, 0, sizeof(m));
			m.record_id = r.next_record_id++;
			m.record_len = ri.len;
			m.flow = ri.flow;
			txring_pack(&r, &m, 0, data, dlen);
			record_parse(loss, llen, 65536, &ri);
			m.record_id = r.next_record_id++;
			m.record_len = ri.len;
			m.flow = ri.flow;
			CHECK(txring_pack(&r, &m, 0, loss, llen) == llen,
			      "room %zu: not packed", room);
			txring_close(&r);
			ndg = txring_unsent(&r);
			CHECK(ndg == (first_len && first_len < 72 ? 2u :
				      first_len ? 1u : 2u),
			      "room %zu: %u datagrams", room, ndg);
			d = txring_datagram(&r, 0, &len);
			CHECK(d && wire_parse_msg(d, len, &msg) == WIRE_OK &&
			      msg.count == (first_len ? 2 : 1) &&
			      len == (first_len ? 1000 - room +
						  64 + (first_len < 72 ?
							first_len : 72)
						: 1000 - room),
			      "room %zu: first datagram %zu bytes", room, len);
			/* The last chunk of the last datagram ends the report. */
			d = txring_datagram(&r, ndg - 1, &len);
			CHECK(d && wire_parse_msg(d, len, &msg) == WIRE_OK &&
			      wire_check_data(&msg, 65536) == WIRE_OK,
			      "room %zu: last datagram", room);
			while (d && wire_next_chunk(&msg, &pos, &ch))
				;
			CHECK(ch.meta.record_len == 72 &&
			      ch.offset + ch.len == 72 &&
			      ch.offset == (first_len < 72 ? first_len : 0),
			      "room %zu: report chunk at %u, %u bytes", room,
			      ch.offset, ch.len);
			ra = new_reasm(&c);
			for (uint32_t s = 0; s < ndg; s++) {
				d = txring_datagram(&r, s, &len);
				reasm_datagram(ra, &sender, d, len, T0, &info);
			}
			CHECK(c.n == 2 && c.ids[1] == 1 && c.lens[1] == 72 &&
			      !memcmp(c.bytes[1], loss, 72),
			      "room %zu: %u records", room, c.n);
			reasm_free(ra);
			collected_free(&c);
			txring_free(&r);
		}
	}
}

/* The JSON line of a record and of a loss report. */
static void test_jsonout(void)
{
	uint8_t rec[72 + 5], loss[72];
	struct endpoint sender = { .family = 4, .addr = { 127, 0, 0, 1 },
				   .port = 7419 };
	struct record_info ri;
	struct reasm_record rr = { .sender = &sender, .stream_id = 3405691582u,
				   .record_id = 4, .seq_first = 2,
				   .writer_pid = 31337, .writer_uid = 1000,
				   .rec = &ri };
	struct jsonout j;
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	CHECK(f != NULL, "open_memstream");
	if (!f)
		return;
	jsonout_init(&j, f);
	make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE, 5, 1, 'a');
	record_parse(rec, sizeof(rec), 65536, &ri);
	CHECK(!jsonout_record(&j, &rr), "data record");
	make_record(loss, TLSTAP_FAMILY_NONE, TLSTAP_DIR_READ, 0, 9, 0);
	record_parse(loss, sizeof(loss), 65536, &ri);
	/* A leap day's first nanoseconds, in both forms. */
	ri.timestamp_ns = 951782400000000005ull;
	/* From a sender that could not know its writer: null, null. */
	rr.writer_pid = 0;
	rr.writer_uid = TLSTAP_WRITER_UID_UNKNOWN;
	CHECK(!jsonout_record(&j, &rr), "loss report");
	/* An OPEN and a CLOSE: len 0, dropped 0, no data. */
	make_record(loss, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_READ, 0, 9, 0);
	((struct tlstap_record *)loss)->type = TLSTAP_RECORD_OPEN;
	((struct tlstap_record *)loss)->dropped = 0;
	CHECK(record_parse(loss, sizeof(loss), 65536, &ri) == RECORD_OK &&
	      !jsonout_record(&j, &rr), "OPEN");
	((struct tlstap_record *)loss)->type = TLSTAP_RECORD_CLOSE;
	CHECK(record_parse(loss, sizeof(loss), 65536, &ri) == RECORD_OK &&
	      !jsonout_record(&j, &rr), "CLOSE");
	CHECK(!fclose(f), "fclose");
	jsonout_free(&j);
	CHECK(text && !strcmp(text,
"{\"type\":\"data\",\"time\":\"2023-11-14T22:13:20.123456789Z\",\"time_ns\":1700000000123456789,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":31337,\"writer_uid\":1000,\"conn_id\":1,\"dir\":\"write\",\"family\":4,\"src\":\"10.0.0.1\",\"sport\":443,\"dst\":\"10.0.0.2\",\"dport\":50001,\"len\":5,\"dropped\":7,\"data\":\"YWhvdn0=\"}\n"
"{\"type\":\"loss\",\"time\":\"2000-02-29T00:00:00.000000005Z\",\"time_ns\":951782400000000005,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":null,\"writer_uid\":null,\"conn_id\":9,\"dir\":\"read\",\"family\":0,\"src\":null,\"sport\":0,\"dst\":null,\"dport\":0,\"len\":0,\"dropped\":7}\n"
"{\"type\":\"open\",\"time\":\"2023-11-14T22:13:20.123456789Z\",\"time_ns\":1700000000123456789,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":null,\"writer_uid\":null,\"conn_id\":9,\"dir\":\"read\",\"family\":4,\"src\":\"10.0.0.1\",\"sport\":443,\"dst\":\"10.0.0.2\",\"dport\":50009,\"len\":0,\"dropped\":0}\n"
"{\"type\":\"close\",\"time\":\"2023-11-14T22:13:20.123456789Z\",\"time_ns\":1700000000123456789,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":null,\"writer_uid\":null,\"conn_id\":9,\"dir\":\"read\",\"family\":4,\"src\":\"10.0.0.1\",\"sport\":443,\"dst\":\"10.0.0.2\",\"dport\":50009,\"len\":0,\"dropped\":0}\n"),
	      "JSON lines:\n%s", text ? text : "(none)");
	free(text);

	/* LOST lines, with an end that cannot be known as null. */
	{
		struct reasm_lost l = {
			.sender = &sender, .stream_id = 7, .seq_first = 10,
			.seq_last = 12, .record_first = 4, .record_last = 9,
			.has_record_first = 1, .has_record_last = 1,
			.reason = GAP_REASON_GAP,
		};

		text = NULL;
		f = open_memstream(&text, &size);
		CHECK(f && !jsonout_lost(f, &l), "LOST line");
		l.has_record_last = 0;
		l.reason = GAP_REASON_TIMEOUT;
		CHECK(f && !jsonout_lost(f, &l), "open LOST line");
		CHECK(f && !fclose(f), "fclose");
		CHECK(text && !strcmp(text,
"{\"type\":\"lost\",\"sender\":\"127.0.0.1:7419\",\"stream\":7,\"record_first\":4,\"record_last\":9,\"seq_first\":10,\"seq_last\":12,\"reason\":\"gap\"}\n"
"{\"type\":\"lost\",\"sender\":\"127.0.0.1:7419\",\"stream\":7,\"record_first\":4,\"record_last\":null,\"seq_first\":10,\"seq_last\":12,\"reason\":\"timeout\"}\n"),
		      "LOST lines:\n%s", text ? text : "(none)");
		free(text);
	}
}

static void test_ring_limits(void)
{
	struct txring r;
	uint8_t rec[72 + 3000];
	struct wire_chunk_meta m;
	struct record_info ri;
	size_t len = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_READ,
				 3000, 1, 0), got;
	const uint8_t *d;

	record_parse(rec, len, 65536, &ri);
	memset(&m, 0, sizeof(m));
	m.record_len = ri.len;
	m.flow = ri.flow;
	CHECK(!txring_init(&r, 1000, 2, 1), "init");
	got = txring_pack(&r, &m, 0, rec, len);
	CHECK(got == 2 * (1000 - 16 - 64), "packed %zu into a full ring", got);
	CHECK(txring_unsent(&r) == 2, "both full datagrams closed");
	txring_mark_sent(&r, 1);
	got += txring_pack(&r, &m, (uint32_t)got, rec + got, len - got);
	CHECK(got == 3 * (1000 - 16 - 64), "packed %zu after one sent", got);
	CHECK(txring_datagram(&r, 0, &len) == NULL,
	      "seq 0 still held after its slot was reused");
	d = txring_datagram(&r, 1, &len);
	CHECK(d && len == 1000, "seq 1 held");
	txring_free(&r);
	CHECK(txring_init(&r, 1000, 1, 1), "a one-slot ring accepted");
}

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

/* ------------------------------------------------------ reliable delivery */

/* Control messages: ranges and heartbeats, built and checked. */
static void test_wire_ranges(void)
{
	uint8_t buf[TLSTAP_MSG_HDR_LEN + 8 * (TLSTAP_NACK_MAX_RANGES + 1)];
	struct wire_range rg[TLSTAP_NACK_MAX_RANGES + 1];
	struct wire_heartbeat hb;
	struct wire_msg msg;
	size_t n;

#define RANGES_ARE(want, what, ...)                                           \
	do {                                                                  \
		struct wire_range r_[] = { __VA_ARGS__ };                     \
		n = wire_build_ranges(buf, TLSTAP_MSG_NACK, 7, r_,            \
				      sizeof(r_) / sizeof(r_[0]));            \
		CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&              \
		      wire_check_ranges(&msg) == (want), "%s", what);         \
	} while (0)

	RANGES_ARE(WIRE_OK, "one seq", { 5, 5 });
	RANGES_ARE(WIRE_OK, "1024 seqs", { 5, 1028 });
	RANGES_ARE(WIRE_BAD_RANGES, "1025 seqs", { 5, 1029 });
	RANGES_ARE(WIRE_BAD_RANGES, "last before first", { 5, 4 });
	RANGES_ARE(WIRE_OK, "across 2^32", { 0xfffffff0u, 0x10 });
	RANGES_ARE(WIRE_OK, "ascending", { 1, 2 }, { 4, 4 }, { 9, 12 });
	RANGES_ARE(WIRE_BAD_RANGES, "touching is overlapping", { 1, 2 },
		   { 2, 3 });
	RANGES_ARE(WIRE_BAD_RANGES, "descending", { 9, 9 }, { 1, 2 });
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_get_range(&msg, 1).first == 1 &&
	      wire_get_range(&msg, 1).last == 2 && msg.stream_id == 7 &&
	      msg.type == TLSTAP_MSG_NACK, "fields");
	for (unsigned int i = 0; i <= TLSTAP_NACK_MAX_RANGES; i++)
		rg[i].first = rg[i].last = 2 * i;
	n = wire_build_ranges(buf, TLSTAP_MSG_GAP, 7, rg, TLSTAP_NACK_MAX_RANGES);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_check_ranges(&msg) == WIRE_OK && msg.type == TLSTAP_MSG_GAP,
	      "64 ranges");
	n = wire_build_ranges(buf, TLSTAP_MSG_GAP, 7, rg, TLSTAP_NACK_MAX_RANGES + 1);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_check_ranges(&msg) == WIRE_BAD_RANGES, "65 ranges");
	n = control_msg(buf, TLSTAP_MSG_NACK, 0, 0, 0);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_check_ranges(&msg) == WIRE_BAD_RANGES, "no range");

	n = wire_build_heartbeat(buf, 9, 100, 40);
	CHECK(n == 24 && wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_check_heartbeat(&msg, &hb) == WIRE_OK && hb.highest == 100 &&
	      hb.oldest == 40 && msg.stream_id == 9, "heartbeat");
	n = wire_build_heartbeat(buf, 9, 100, 101);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_check_heartbeat(&msg, &hb) == WIRE_OK,
	      "heartbeat: nothing to resend");
	n = wire_build_heartbeat(buf, 9, 100, 102);
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_check_heartbeat(&msg, &hb) == WIRE_BAD_HEARTBEAT,
	      "heartbeat: oldest after highest + 1");
	n = wire_build_heartbeat(buf, 9, 100, 40);
	buf[23] = 1;
	CHECK(wire_parse_msg(buf, n, &msg) == WIRE_OK &&
	      wire_check_heartbeat(&msg, &hb) == WIRE_BAD_HEARTBEAT,
	      "heartbeat: reserved set");
#undef RANGES_ARE
}

/* What a receiver hands out, recorded for the checks. */
struct relcap {
	unsigned int nrec;
	uint8_t emitted[4096];		/* by record id: times emitted */
	unsigned int nlost;
	struct reasm_lost lost[1024];
	unsigned int nnack;
	struct wire_range nacked[64];	/* ranges of all NACKs, in order */
	unsigned int nnacked;
	int capture_nacks;		/* keep the NACK messages too */
	unsigned int npending_nacks;
	uint8_t pending_nacks[64][TLSTAP_MSG_HDR_LEN + 8 * TLSTAP_NACK_MAX_RANGES];
	size_t pending_lens[64];
	const uint8_t **recs;		/* originals, by record id */
	const size_t *rec_lens;
	unsigned int nstarts;
	struct reasm_start starts[8];	/* sender not kept */
};

static void rel_record(void *arg, const struct reasm_record *r)
{
	struct relcap *c = arg;

	c->nrec++;
	if (r->record_id < 4096) {
		c->emitted[r->record_id]++;
		if (c->recs)
			CHECK(r->rec->len == c->rec_lens[r->record_id] &&
			      !memcmp(r->rec->bytes, c->recs[r->record_id],
				      r->rec->len),
			      "record %u differs", r->record_id);
	}
}

static void rel_lost(void *arg, const struct reasm_lost *l)
{
	struct relcap *c = arg;

	if (c->nlost < 1024)
		c->lost[c->nlost] = *l;
	c->nlost++;
}

static void rel_nack(void *arg, const struct endpoint *to, const uint8_t *msg,
		     size_t len)
{
	struct relcap *c = arg;
	struct wire_msg m;

	CHECK(to->port == 7419, "NACK to port %u", to->port);
	CHECK(wire_parse_msg(msg, len, &m) == WIRE_OK &&
	      m.type == TLSTAP_MSG_NACK && m.seq == 0 && m.flags == 0 &&
	      wire_check_ranges(&m) == WIRE_OK, "NACK does not check out");
	c->nnack++;
	if (c->capture_nacks && c->npending_nacks < 64) {
		memcpy(c->pending_nacks[c->npending_nacks], msg, len);
		c->pending_lens[c->npending_nacks++] = len;
	}
	for (unsigned int i = 0; i < m.count; i++) {
		if (c->nnacked < 64)
			c->nacked[c->nnacked] = wire_get_range(&m, i);
		c->nnacked++;
	}
}

static void rel_start(void *arg, const struct reasm_start *st)
{
	struct relcap *c = arg;

	if (c->nstarts < 8) {
		c->starts[c->nstarts] = *st;
		c->starts[c->nstarts].sender = NULL;
	}
	c->nstarts++;
}

static const struct reasm_ops rel_ops = {
	.record = rel_record,
	.lost = rel_lost,
	.nack = rel_nack,
	.start = rel_start,
};

static const struct endpoint rel_sender = {
	.family = 4, .addr = { 10, 0, 0, 9 }, .port = 7419 };

static struct reasm *rel_reasm(struct relcap *c)
{
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 64u << 20,
		.max_streams = 4,
	};

	return reasm_new(&cfg, &rel_ops, c);
}

/* A stream of nrec records of sizes 1..max_size packed into 1452-byte datagrams. */
struct relstream {
	struct txring ring;
	uint8_t *recs[4096];
	size_t lens[4096];
	unsigned int nrec;
	uint32_t ndg;
};

static void relstream_make(struct relstream *st, unsigned int nrec,
			   uint32_t max_size)
{
	memset(st, 0, sizeof(*st));
	CHECK(!txring_init(&st->ring, 1452, 60000, 0x5eed), "txring_init");
	for (unsigned int i = 0; i < nrec; i++) {
		struct record_info ri;
		struct wire_chunk_meta m;
		uint32_t size = 1 + rnd() % max_size;

		st->recs[i] = malloc(72 + size);
		st->lens[i] = make_record(st->recs[i], TLSTAP_FAMILY_IPV4,
					  TLSTAP_DIR_READ, size, i,
					  (uint8_t)rnd());
		record_parse(st->recs[i], st->lens[i], 65536, &ri);
		memset(&m, 0, sizeof(m));
		m.record_id = st->ring.next_record_id++;
		m.record_len = ri.len;
		m.flow = ri.flow;
		CHECK(txring_pack(&st->ring, &m, 0, st->recs[i], st->lens[i]) ==
		      st->lens[i], "ring too small");
	}
	txring_close(&st->ring);
	st->nrec = nrec;
	st->ndg = txring_unsent(&st->ring);
}

static void relstream_free(struct relstream *st)
{
	txring_free(&st->ring);
	for (unsigned int i = 0; i < st->nrec; i++)
		free(st->recs[i]);
}

static void relstream_send(struct relstream *st, struct reasm *ra,
			   uint32_t seq, uint64_t now, int retransmit)
{
	struct reasm_dgram_info info;
	uint8_t copy[1452];
	size_t len;
	const uint8_t *d = txring_datagram(&st->ring, seq, &len);

	memcpy(copy, d, len);
	if (retransmit)
		copy[3] |= TLSTAP_MSG_F_RETRANSMIT;
	reasm_datagram(ra, &rel_sender, copy, len, now, &info);
}

/* Record ids with a chunk in the given datagrams (seq in lost[]). */
static void records_in(struct relstream *st, const uint8_t *lost,
		       uint8_t *touched)
{
	memset(touched, 0, st->nrec);
	for (uint32_t s = 0; s < st->ndg; s++) {
		struct wire_msg msg;
		struct wire_chunk ch;
		size_t len, pos = 0;
		const uint8_t *d;

		if (!lost[s])
			continue;
		d = txring_datagram(&st->ring, s, &len);
		wire_parse_msg(d, len, &msg);
		while (wire_next_chunk(&msg, &pos, &ch))
			touched[ch.meta.record_id] = 1;
	}
}

static void send_gap(struct reasm *ra, uint32_t first, uint32_t last,
		     uint64_t now)
{
	struct wire_range r = { first, last };
	struct reasm_dgram_info info;
	uint8_t buf[64];
	size_t n = wire_build_ranges(buf, TLSTAP_MSG_GAP, 0x5eed, &r, 1);

	CHECK(reasm_datagram(ra, &rel_sender, buf, n, now, &info) ==
	      REASM_CONTROL, "GAP not taken");
}

static void send_heartbeat(struct reasm *ra, uint32_t highest,
			   uint32_t oldest, uint64_t now)
{
	struct reasm_dgram_info info;
	uint8_t buf[WIRE_HEARTBEAT_LEN];
	size_t n = wire_build_heartbeat(buf, 0x5eed, highest, oldest);

	CHECK(reasm_datagram(ra, &rel_sender, buf, n, now, &info) ==
	      REASM_CONTROL, "HEARTBEAT not taken");
}

#define MS 1000000ull

/* NACK at once, then 20, 40, 80, 160, 320 ms later; give up at 640 more. */
static void test_nack_policy(void)
{
	static struct relstream st;
	static struct relcap c;
	static const uint64_t want[] = { 0, 20, 60, 140, 300, 620 };
	struct reasm *ra;
	uint32_t k;
	uint64_t next;
	uint8_t lost[4096] = { 0 }, touched[4096];

	relstream_make(&st, 40, 4000);
	k = st.ndg / 2;
	memset(&c, 0, sizeof(c));
	c.recs = (const uint8_t **)st.recs;
	c.rec_lens = st.lens;
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != k)
			relstream_send(&st, ra, s, T0, 0);
	CHECK(c.nnack == 0, "NACK before the timer ran");
	for (unsigned int t = 0; t < 6; t++) {
		if (t) {
			next = reasm_timer(ra, T0 + want[t] * MS - 1);
			CHECK(c.nnack == t, "try %u early: %u NACKs", t + 1,
			      c.nnack);
		}
		next = reasm_timer(ra, T0 + want[t] * MS);
		CHECK(c.nnack == t + 1 && c.nacked[t].first == k &&
		      c.nacked[t].last == k, "try %u: %u NACKs", t + 1, c.nnack);
		CHECK(next == T0 + (want[t] + (20ull << t)) * MS,
		      "try %u: next deadline %llu ms", t + 1,
		      (unsigned long long)((next - T0) / MS));
	}
	CHECK(reasm_timer(ra, T0 + 1259 * MS) && c.nlost == 0,
	      "gave up early");
	CHECK(!reasm_timer(ra, T0 + 1260 * MS) && c.nnack == 6,
	      "still waiting after the last try");
	lost[k] = 1;
	records_in(&st, lost, touched);
	CHECK(c.nlost == 1 && c.lost[0].reason == GAP_REASON_TIMEOUT &&
	      c.lost[0].seq_first == k && c.lost[0].seq_last == k &&
	      c.lost[0].has_record_first && c.lost[0].has_record_last,
	      "LOST after the tries: %u", c.nlost);
	for (unsigned int i = 0; i < st.nrec; i++) {
		int in = c.nlost && i - c.lost[0].record_first <=
			 c.lost[0].record_last - c.lost[0].record_first;

		CHECK(in == touched[i] && c.emitted[i] == !touched[i],
		      "record %u: lost %d, touched %d, emitted %u", i, in,
		      touched[i], c.emitted[i]);
	}
	CHECK(reasm_stats(ra)->lost_datagrams == 1 &&
	      reasm_stats(ra)->lost_records ==
		      c.lost[0].record_last - c.lost[0].record_first + 1 &&
	      reasm_stats(ra)->nacks_sent == 6 &&
	      reasm_stats(ra)->pending_bytes == 0, "counters after give-up");
	/* It comes after all: a duplicate, nothing more emitted. */
	relstream_send(&st, ra, k, T0 + 2000 * MS, 1);
	CHECK(reasm_stats(ra)->dup_datagrams == 1 && c.nrec == st.nrec -
	      (c.lost[0].record_last - c.lost[0].record_first + 1),
	      "a given-up datagram completed records");
	reasm_free(ra);

	/* Answered on the second try: complete, no more NACKs. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != k && s != k + 2)
			relstream_send(&st, ra, s, T0, 0);
	reasm_timer_backlog(ra, T0 + 5 * MS, T0);
	CHECK(c.nnack == 1 && c.nnacked == 2 && c.nacked[0].first == k &&
	      c.nacked[1].first == k + 2, "two holes, one NACK");
	/*
	 * Draining a backlog of datagrams that arrived before the retry was
	 * due: no retry yet, its answer may be behind them.
	 */
	CHECK(reasm_timer_backlog(ra, T0 + 40 * MS, T0 + 24 * MS) ==
	      T0 + 25 * MS && c.nnack == 1, "retried while draining");
	reasm_timer_backlog(ra, T0 + 41 * MS, T0 + 25 * MS);
	CHECK(c.nnack == 2, "no retry once past its deadline in the backlog");
	/* The second NACK left at 41 ms: the third is due 40 ms later. */
	relstream_send(&st, ra, k + 2, T0 + 45 * MS, 1);
	CHECK(reasm_timer(ra, T0 + 80 * MS) == T0 + 81 * MS && c.nnack == 2,
	      "third try early");
	reasm_timer(ra, T0 + 81 * MS);
	CHECK(c.nnack == 3 && c.nnacked == 5 && c.nacked[3].first == k + 2 &&
	      c.nacked[4].first == k && c.nacked[4].last == k,
	      "retry only what is missing: %u ranges", c.nnacked);
	relstream_send(&st, ra, k, T0 + 90 * MS, 1);
	CHECK(!reasm_timer(ra, T0 + 10000 * MS) && c.nnack == 3 &&
	      c.nlost == 0 && c.nrec == st.nrec &&
	      reasm_stats(ra)->retransmitted == 2, "late answer");
	reasm_free(ra);
	relstream_free(&st);
}

/*
 * Random loss and reordering; every missing datagram is GAP'ed: each
 * record comes out whole exactly once or is in exactly one LOST range,
 * and the LOST ranges hold exactly the records that had a chunk in a
 * lost datagram.
 */
static void test_lost_exact(void)
{
	static struct relstream st;
	static struct relcap c;
	static uint8_t lost[60000], touched[4096], in_lost[4096];
	static uint32_t order[60000];

	for (unsigned int round = 0; round < 20; round++) {
		struct reasm *ra;
		uint32_t nlost = 0, nrec_lost = 0;
		unsigned int loss_pct = 1 + round * 2;

		relstream_make(&st, 300, round % 2 ? 300 : 6000);
		memset(&c, 0, sizeof(c));
		c.recs = (const uint8_t **)st.recs;
		c.rec_lens = st.lens;
		ra = rel_reasm(&c);
		/* Lose some, in bursts sometimes; never the last one here. */
		for (uint32_t s = 0; s < st.ndg; s++) {
			lost[s] = s + 1 < st.ndg && rnd() % 100 < loss_pct;
			if (lost[s] && s && lost[s - 1] == 0 && rnd() % 4 == 0)
				for (uint32_t b = 1; b < 4 && s + b + 1 < st.ndg;
				     b++)
					lost[s + b] = 2;
			order[s] = s;
		}
		/*
		 * The stream starts at the first datagram that arrives: it
		 * arrives first (losses before a stream's start are
		 * test_stream_start's).
		 */
		lost[0] = 0;
		/* Reorder: swap near neighbours. */
		for (uint32_t s = 1; s + 3 < st.ndg; s++)
			if (rnd() % 5 == 0) {
				uint32_t j = s + 1 + rnd() % 3, t = order[s];

				order[s] = order[j];
				order[j] = t;
			}
		for (uint32_t i = 0; i < st.ndg; i++)
			if (!lost[order[i]])
				relstream_send(&st, ra, order[i], T0, 0);
		reasm_timer(ra, T0);
		/* The sender answers every NACK with a GAP. */
		for (uint32_t s = 0; s < st.ndg; s++) {
			if (lost[s]) {
				nlost++;
				send_gap(ra, s, s, T0 + MS);
			}
		}
		records_in(&st, lost, touched);
		memset(in_lost, 0, sizeof(in_lost));
		for (unsigned int i = 0; i < c.nlost && i < 1024; i++) {
			const struct reasm_lost *l = &c.lost[i];

			CHECK(l->has_record_first && l->has_record_last &&
			      l->reason == GAP_REASON_GAP,
			      "round %u: LOST %u..%u open or not a gap", round,
			      l->seq_first, l->seq_last);
			for (uint32_t r = l->record_first;
			     r <= l->record_last && r < st.nrec; r++)
				in_lost[r]++;
		}
		for (unsigned int r = 0; r < st.nrec; r++) {
			nrec_lost += touched[r];
			CHECK(in_lost[r] == touched[r] &&
			      c.emitted[r] == !touched[r],
			      "round %u record %u: touched %u, in LOST %u, emitted %u", round, r, touched[r], in_lost[r],
			      c.emitted[r]);
		}
		CHECK(c.nlost <= 1024, "round %u: %u LOST ranges", round,
		      c.nlost);
		CHECK(reasm_stats(ra)->lost_datagrams == nlost &&
		      reasm_stats(ra)->lost_records == nrec_lost &&
		      reasm_stats(ra)->lost_ranges == c.nlost &&
		      reasm_stats(ra)->pending_bytes == 0 &&
		      !reasm_timer(ra, T0 + 100 * MS),
		      "round %u: lost %llu/%u datagrams %llu/%u records, pending %llu", round, reasm_stats(ra)->lost_datagrams,
		      nlost, reasm_stats(ra)->lost_records, nrec_lost,
		      reasm_stats(ra)->pending_bytes);
		reasm_free(ra);
		relstream_free(&st);
	}
}

/* Heartbeats: a lost last datagram is NACKed; oldest_seq gives up. */
static void test_heartbeat(void)
{
	static struct relstream st;
	static struct relcap c;
	uint8_t lost[4096] = { 0 }, touched[4096];
	struct reasm *ra;
	uint32_t last;

	relstream_make(&st, 30, 3000);
	last = st.ndg - 1;
	memset(&c, 0, sizeof(c));
	c.recs = (const uint8_t **)st.recs;
	c.rec_lens = st.lens;
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < last; s++)
		relstream_send(&st, ra, s, T0, 0);
	CHECK(!reasm_timer(ra, T0) && c.nnack == 0, "no hole yet");
	send_heartbeat(ra, last, 0, T0 + 100 * MS);
	reasm_timer(ra, T0 + 100 * MS);
	CHECK(c.nnack == 1 && c.nacked[0].first == last &&
	      c.nacked[0].last == last, "lost last datagram not NACKed");
	/* The same heartbeat again opens nothing new. */
	send_heartbeat(ra, last, 0, T0 + 110 * MS);
	reasm_timer(ra, T0 + 110 * MS);
	CHECK(c.nnack == 1, "a repeated heartbeat NACKed again");
	relstream_send(&st, ra, last, T0 + 115 * MS, 1);
	CHECK(c.nrec == st.nrec && c.nlost == 0 &&
	      !reasm_timer(ra, T0 + 200 * MS) &&
	      reasm_stats(ra)->heartbeats_received == 2, "not recovered");
	reasm_free(ra);

	/* Lost last datagram, the sender cannot resend it: open-ended. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < last; s++)
		relstream_send(&st, ra, s, T0, 0);
	send_heartbeat(ra, last, last + 1, T0 + 100 * MS);
	CHECK(c.nlost == 0, "a LOST range without its last record");
	reasm_flush(ra);
	lost[last] = 1;
	records_in(&st, lost, touched);
	CHECK(c.nlost == 1 && c.lost[0].seq_first == last &&
	      c.lost[0].seq_last == last && c.lost[0].has_record_first &&
	      !c.lost[0].has_record_last && touched[c.lost[0].record_first] &&
	      (c.lost[0].record_first == 0 ||
	       !touched[c.lost[0].record_first - 1]) &&
	      c.lost[0].reason == GAP_REASON_GAP &&
	      reasm_stats(ra)->lost_open_ended == 1, "open-ended LOST");
	reasm_free(ra);

	/* A hole older than oldest_seq is not NACKed: lost at once. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != 3)
			relstream_send(&st, ra, s, T0, 0);
	send_heartbeat(ra, last, 5, T0 + MS);
	CHECK(c.nlost == 1 && c.lost[0].seq_first == 3 &&
	      c.lost[0].seq_last == 3 && c.lost[0].reason == GAP_REASON_GAP &&
	      !reasm_timer(ra, T0 + MS) && c.nnack == 0,
	      "hole before oldest_seq");
	reasm_free(ra);

	/*
	 * Known only by its HEARTBEAT: it starts after the highest it names
	 * (another receiver may have had those): nothing asked for, nothing
	 * said lost, the next datagram taken as the first.
	 */
	memset(&c, 0, sizeof(c));
	c.recs = (const uint8_t **)st.recs;
	c.rec_lens = st.lens;
	ra = rel_reasm(&c);
	send_heartbeat(ra, 2, 0, T0);
	CHECK(!reasm_timer(ra, T0) && c.nnack == 0 && c.nstarts == 1 &&
	      c.starts[0].how == REASM_START_JOINED &&
	      c.starts[0].by_heartbeat && c.starts[0].seq == 3 &&
	      !c.starts[0].has_record, "a HEARTBEAT starts a stream after it");
	for (uint32_t s = 3; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0, 0);
	reasm_flush(ra);
	CHECK(c.nnack == 0 && c.nlost == 0 && c.nrec > 0 &&
	      reasm_stats(ra)->streams_joined == 1,
	      "after a HEARTBEAT: %u NACKs, %u LOST, %u records", c.nnack,
	      c.nlost, c.nrec);
	reasm_free(ra);
	relstream_free(&st);
}

/*
 * Where a stream starts (PROTOCOL.md 5.1): at the first datagram seen,
 * nothing before it asked for or said lost, the records that began
 * before it not handed out; an original from before it that comes after
 * all is taken, a retransmission from before it is not (it answers
 * another receiver's NACK), and a retransmission never starts a stream.
 */
static void test_stream_start(void)
{
	static struct relstream st;
	static struct relcap c;
	uint8_t before[4096] = { 0 }, touched[4096];
	struct reasm *ra;
	const uint32_t k = 4;
	uint32_t first_rid;
	struct wire_msg msg;
	struct wire_chunk ch;
	size_t len, pos = 0;
	const uint8_t *d;

	relstream_make(&st, 60, 3000);
	CHECK(st.ndg > 2 * k, "%u datagrams", st.ndg);
	for (uint32_t s = 0; s < k; s++)
		before[s] = 1;
	records_in(&st, before, touched);
	d = txring_datagram(&st.ring, k, &len);
	wire_parse_msg(d, len, &msg);
	wire_next_chunk(&msg, &pos, &ch);
	first_rid = ch.meta.record_id + (ch.offset ? 1 : 0);

	memset(&c, 0, sizeof(c));
	c.recs = (const uint8_t **)st.recs;
	c.rec_lens = st.lens;
	ra = rel_reasm(&c);
	for (uint32_t s = k; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0, 0);
	CHECK(!reasm_timer(ra, T0) && c.nnack == 0, "NACKed before the start");
	CHECK(c.nstarts == 1 && c.starts[0].how == REASM_START_JOINED &&
	      c.starts[0].seq == k && c.starts[0].has_record &&
	      c.starts[0].record_id == first_rid &&
	      reasm_stats(ra)->streams_joined == 1,
	      "start: %u, seq %u, record %u (want %u)", c.nstarts,
	      c.starts[0].seq, c.starts[0].record_id, first_rid);
	for (unsigned int r = 0; r < st.nrec; r++)
		CHECK(c.emitted[r] == !touched[r],
		      "record %u: emitted %u, touched before the start %u", r,
		      c.emitted[r], touched[r]);
	/* A retransmission from before the start is someone else's. */
	relstream_send(&st, ra, k - 1, T0, 1);
	CHECK(reasm_stats(ra)->before_start == 1 &&
	      c.nrec == st.nrec - (unsigned int)(first_rid), "resent before");
	reasm_flush(ra);
	CHECK(c.nlost == 0 && !reasm_stats(ra)->lost_datagrams,
	      "LOST before the start");
	reasm_free(ra);

	/* Overtaken originals from before the start are taken. */
	memset(&c, 0, sizeof(c));
	c.recs = (const uint8_t **)st.recs;
	c.rec_lens = st.lens;
	ra = rel_reasm(&c);
	relstream_send(&st, ra, k, T0, 0);
	for (uint32_t s = k; s-- > 0;)
		relstream_send(&st, ra, s, T0, 0);
	for (uint32_t s = k + 1; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0, 0);
	CHECK(c.nrec == st.nrec && !reasm_stats(ra)->seq_gaps &&
	      reasm_stats(ra)->late_datagrams == k && !reasm_timer(ra, T0),
	      "overtaken: %u of %u records", c.nrec, st.nrec);
	reasm_free(ra);

	/* From seq 0: new, not joined. A retransmission starts nothing. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	relstream_send(&st, ra, 1, T0, 1);
	CHECK(reasm_stats(ra)->streams == 0 && c.nstarts == 0 &&
	      reasm_stats(ra)->before_start == 1, "a retransmission started a stream");
	relstream_send(&st, ra, 0, T0, 0);
	CHECK(c.nstarts == 1 && c.starts[0].how == REASM_START_NEW &&
	      c.starts[0].record_id == 0 &&
	      !reasm_stats(ra)->streams_joined, "from seq 0");
	reasm_free(ra);
	relstream_free(&st);
}

/* A stream evicted for another says what it still missed. */
static void test_evicted_stream(void)
{
	static struct relstream st;
	static struct relcap c;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 64u << 20,
		.max_streams = 1,
	};
	struct endpoint other = rel_sender;
	struct reasm_dgram_info info;
	struct reasm *ra;
	uint8_t lost[4096] = { 0 }, touched[4096];
	uint8_t hb[WIRE_HEARTBEAT_LEN];

	relstream_make(&st, 20, 3000);
	memset(&c, 0, sizeof(c));
	ra = reasm_new(&cfg, &rel_ops, &c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != 4)
			relstream_send(&st, ra, s, T0, 0);
	CHECK(c.nlost == 0, "LOST before eviction");
	other.port++;
	wire_build_heartbeat(hb, 1, 70000, 70001);
	reasm_datagram(ra, &other, hb, sizeof(hb), T0, &info);
	lost[4] = 1;
	records_in(&st, lost, touched);
	CHECK(c.nlost == 1 && c.lost[0].seq_first == 4 &&
	      c.lost[0].reason == GAP_REASON_TIMEOUT &&
	      c.lost[0].has_record_first && c.lost[0].has_record_last &&
	      touched[c.lost[0].record_first] &&
	      touched[c.lost[0].record_last] &&
	      reasm_stats(ra)->streams_evicted == 1,
	      "evicted stream: %u LOST", c.nlost);
	reasm_free(ra);
	relstream_free(&st);
}

/*
 * An evicted stream that comes back continues where it stopped (the
 * evicted table): nothing asked for again, nothing written twice. Without
 * the table it would start anew where it comes back: nothing twice
 * either, the records across the point lost.
 */
static void test_evicted_resume(void)
{
	static struct relstream st;
	static struct relcap c;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 64u << 20,
		.max_streams = 1,
		.max_evicted = 4,
	};
	struct endpoint other = rel_sender;
	struct reasm_dgram_info info;
	uint8_t hb[WIRE_HEARTBEAT_LEN];
	struct reasm *ra;
	uint32_t half;

	relstream_make(&st, 40, 3000);
	half = st.ndg / 2;
	other.port++;
	wire_build_heartbeat(hb, 77, 5, 0);
	for (int table = 1; table >= 0; table--) {
		memset(&c, 0, sizeof(c));
		c.recs = (const uint8_t **)st.recs;
		c.rec_lens = st.lens;
		cfg.max_evicted = table ? 4 : 0;
		ra = reasm_new(&cfg, &rel_ops, &c);
		for (uint32_t s = 0; s < half; s++)
			relstream_send(&st, ra, s, T0, 0);
		reasm_datagram(ra, &other, hb, sizeof(hb), T0, &info);
		CHECK(reasm_stats(ra)->streams_evicted == 1, "not evicted");
		for (uint32_t s = half; s < st.ndg; s++)
			relstream_send(&st, ra, s, T0, 0);
		/* An answer to an old NACK: old news. */
		relstream_send(&st, ra, 1, T0, 1);
		/*
		 * The record under way at the eviction is asked for again:
		 * the seqs its chunks came in (no others).
		 */
		reasm_timer(ra, T0);
		CHECK(table ? c.nnack == 1 && c.nnacked == 1 &&
			      c.nacked[0].last == half - 1 &&
			      c.nacked[0].last - c.nacked[0].first < 4
			    : c.nnack == 0,
		      "table %d: %u NACKs, %u..%u", table, c.nnack,
		      c.nacked[0].first, c.nacked[0].last);
		for (uint32_t s = c.nacked[0].first;
		     c.nnack && s != c.nacked[0].last + 1; s++)
			relstream_send(&st, ra, s, T0, 1);
		reasm_flush(ra);
		for (unsigned int r = 0; r < st.nrec; r++)
			CHECK(c.emitted[r] <= 1 && (!table || c.emitted[r] == 1),
			      "table %d: record %u emitted %u times", table, r,
			      c.emitted[r]);
		CHECK(c.nlost == 0, "table %d: %u LOST", table, c.nlost);
		CHECK(table ? reasm_stats(ra)->streams_resumed == 1 &&
			      c.nstarts == 3 &&
			      c.starts[2].how == REASM_START_RESUMED
			    : !reasm_stats(ra)->streams_resumed &&
			      c.starts[2].how == REASM_START_JOINED &&
			      c.starts[2].seq == half,
		      "table %d: came back as %s", table,
		      reasm_start_how_name(c.starts[2].how));
		reasm_free(ra);
	}
	relstream_free(&st);
}

/* --allow: prefixes, and a core that looks at nothing from anyone else. */
static void test_allow(void)
{
	static const char *const bad[] = { "10.0.0.0/33", "10.0.0.1/8",
					   "fd00::/129", "fd00::1/64", "x",
					   "10.0.0.0/", "10.0.0.0/+8", "/8" };
	struct addr_prefix p[2];
	struct endpoint ep = rel_sender;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 1u << 20,
		.max_streams = 4,
		.allow = p,
		.nallow = 2,
	};
	static struct relcap c;
	struct reasm_dgram_info info;
	uint8_t hb[WIRE_HEARTBEAT_LEN];
	char err[160], buf[ADDR_PREFIX_STRLEN];
	struct reasm *ra;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(addr_prefix_parse(bad[i], &p[0], err, sizeof(err)),
		      "--allow %s taken", bad[i]);
	CHECK(!addr_prefix_parse("10.0.0.9", &p[0], err, sizeof(err)) &&
	      p[0].len == 32, "one address");
	addr_prefix_format(&p[0], buf, sizeof(buf));
	CHECK(!strcmp(buf, "10.0.0.9/32"), "format %s", buf);
	CHECK(!addr_prefix_parse("fd00:1::/32", &p[1], err, sizeof(err)),
	      "IPv6 prefix: %s", err);
	CHECK(addr_prefix_match(&p[0], &ep), "10.0.0.9 in 10.0.0.9/32");
	ep.addr[3] = 8;
	CHECK(!addr_prefix_match(&p[0], &ep), "10.0.0.8 in 10.0.0.9/32");
	CHECK(!addr_prefix_parse("10.0.0.8/31", &p[0], err, sizeof(err)) &&
	      addr_prefix_match(&p[0], &ep), "10.0.0.8 in 10.0.0.8/31");
	ep.addr[3] = 10;
	CHECK(!addr_prefix_match(&p[0], &ep), "10.0.0.10 in 10.0.0.8/31");
	CHECK(!addr_prefix_parse("10.0.0.0/29", &p[0], err, sizeof(err)) &&
	      !addr_prefix_match(&p[0], &rel_sender), "10.0.0.9 in 10.0.0.0/29");
	ep.family = TLSTAP_FAMILY_IPV6;
	memcpy(ep.addr, "\xfd\x00\x00\x01\xff", 5);
	CHECK(addr_prefix_match(&p[1], &ep), "fd00:1:ff.. in fd00:1::/32");
	CHECK(!addr_prefix_parse("0.0.0.0/0", &p[1], err, sizeof(err)) &&
	      !addr_prefix_match(&p[1], &ep) && addr_prefix_match(&p[1],
								 &rel_sender),
	      "0.0.0.0/0 is every IPv4 sender and no IPv6 one");

	/* 10.0.0.0/29 only: 10.0.0.9 and an IPv6 sender are refused. */
	cfg.nallow = 1;
	memset(&c, 0, sizeof(c));
	ra = reasm_new(&cfg, &rel_ops, &c);
	wire_build_heartbeat(hb, 1, 5, 0);
	CHECK(reasm_datagram(ra, &rel_sender, hb, sizeof(hb), T0, &info) ==
		      REASM_REFUSED &&
	      reasm_datagram(ra, &ep, hb, sizeof(hb), T0, &info) ==
		      REASM_REFUSED &&
	      reasm_stats(ra)->refused == 2 && !reasm_stats(ra)->streams &&
	      !reasm_stats(ra)->datagrams, "refused");
	ep = rel_sender;
	ep.addr[3] = 3;
	CHECK(reasm_datagram(ra, &ep, hb, sizeof(hb), T0, &info) ==
		      REASM_CONTROL && reasm_stats(ra)->streams == 1,
	      "an allowed sender");
	reasm_free(ra);
}

/* A temporary directory for files, and its cleanup. */
static char tmpdir[64];

static const char *tmpfile_path(const char *name)
{
	static char path[128];

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/tlstap-unit.XXXXXX");
		CHECK(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void tmpdir_remove(void)
{
	static const char *const names[] = { "state", "state.lock",
					     "state.tmp", "bad", "bad.lock",
					     "out" };

	if (!tmpdir[0])
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmpfile_path(names[i]));
	rmdir(tmpdir);
}

/* Run 1 of test_state: up to stop, with a hole; saved. */
static void state_run1(struct relstream *st, struct relcap *c, uint32_t hole,
		       uint32_t stop, const char *path)
{
	struct recvstate rs;
	struct reasm *ra;
	char err[256];

	memset(c, 0, sizeof(*c));
	c->recs = (const uint8_t **)st->recs;
	c->rec_lens = st->lens;
	ra = rel_reasm(c);
	for (uint32_t s = 0; s < stop; s++)
		if (s != hole)
			relstream_send(st, ra, s, T0, 0);
	reasm_timer(ra, T0);
	unlink(path);
	CHECK(!recvstate_open(&rs, path, err, sizeof(err)) && !rs.existed,
	      "open: %s", err);
	CHECK(!recvstate_save(&rs, ra, err, sizeof(err)), "save: %s", err);
	recvstate_close(&rs);
	reasm_free(ra);
}

static struct reasm *state_run2(struct relstream *st, struct relcap *c,
				const char *path)
{
	struct recvstate rs;
	struct reasm *ra;
	char err[256];

	memset(c, 0, sizeof(*c));
	c->recs = (const uint8_t **)st->recs;
	c->rec_lens = st->lens;
	ra = rel_reasm(c);
	CHECK(!recvstate_open(&rs, path, err, sizeof(err)) && rs.existed &&
	      rs.nstreams == 1 && !rs.nevicted, "reopen: %s", err);
	CHECK(!recvstate_restore(&rs, ra, err, sizeof(err)), "restore: %s",
	      err);
	recvstate_close(&rs);
	CHECK(reasm_stats(ra)->streams_restored == 1 && c->nstarts == 1 &&
	      c->starts[0].how == REASM_START_RESTORED, "restored");
	reasm_timer(ra, T0 + MS);
	return ra;
}

/*
 * A state file between two runs: the second asks for the hole and for
 * what the first took but could not finish (a record under way at the
 * stop), and every record comes out once across both; if the sender no
 * longer holds them, the LOST lines name none the first run wrote.
 */
static void test_state(void)
{
	static struct relstream st;
	static struct relcap c1, c2;
	const char *path = tmpfile_path("state");
	uint8_t gapped[4096] = { 0 }, touched[4096], in_lost[4096] = { 0 };
	uint32_t hole, stop, asked = 0;
	struct reasm *ra;

	relstream_make(&st, 80, 3000);
	hole = st.ndg / 3;
	stop = 2 * st.ndg / 3;
	state_run1(&st, &c1, hole, stop, path);
	CHECK(c1.nrec && c1.nrec < st.nrec && !c1.nlost, "run 1: %u records",
	      c1.nrec);

	/* The sender answers: retransmissions, then the rest. */
	ra = state_run2(&st, &c2, path);
	CHECK(c2.nnack >= 1 && c2.nacked[0].first <= hole &&
	      c2.nacked[0].last >= hole &&
	      c2.nacked[c2.nnacked - 1].last == stop - 1,
	      "run 2 asked for %u ranges, %u..%u first", c2.nnacked,
	      c2.nacked[0].first, c2.nacked[0].last);
	for (unsigned int i = 0; i < c2.nnacked && i < 64; i++)
		for (uint32_t s = c2.nacked[i].first; s != c2.nacked[i].last + 1;
		     s++) {
			relstream_send(&st, ra, s, T0 + 2 * MS, 1);
			asked++;
		}
	CHECK(asked < stop - hole, "asked for %u seqs again", asked);
	for (uint32_t s = stop; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0 + 2 * MS, 0);
	CHECK(!reasm_timer(ra, T0 + 100 * MS) && !c2.nlost,
	      "run 2: %u LOST", c2.nlost);
	for (unsigned int r = 0; r < st.nrec; r++)
		CHECK(c1.emitted[r] + c2.emitted[r] == 1,
		      "record %u: run 1 %u, run 2 %u", r, c1.emitted[r],
		      c2.emitted[r]);
	reasm_free(ra);

	/* The sender holds none of it any more: GAPs. */
	ra = state_run2(&st, &c2, path);
	for (unsigned int i = 0; i < c2.nnacked && i < 64; i++) {
		send_gap(ra, c2.nacked[i].first, c2.nacked[i].last, T0 + 2 * MS);
		for (uint32_t s = c2.nacked[i].first; s != c2.nacked[i].last + 1;
		     s++)
			gapped[s] = 1;
	}
	for (uint32_t s = stop; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0 + 2 * MS, 0);
	records_in(&st, gapped, touched);
	for (unsigned int i = 0; i < c2.nlost && i < 1024; i++) {
		CHECK(c2.lost[i].has_record_first && c2.lost[i].has_record_last,
		      "open LOST");
		for (uint32_t r = c2.lost[i].record_first;
		     r != c2.lost[i].record_last + 1 && r < st.nrec; r++)
			in_lost[r]++;
	}
	for (unsigned int r = 0; r < st.nrec; r++)
		CHECK(c1.emitted[r] + c2.emitted[r] + in_lost[r] == 1 &&
		      (!in_lost[r] || touched[r]),
		      "record %u: run 1 %u, run 2 %u, LOST %u (touched %u)", r,
		      c1.emitted[r], c2.emitted[r], in_lost[r], touched[r]);
	reasm_free(ra);
	relstream_free(&st);
}

/* A state file that is not one is refused, naming it and its line. */
static void test_state_file(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "line 0: empty" },
		{ "tlstap-receiver-state 2\nend 0\n", "version 2" },
		{ "hello 1\n", "not a tlstap receiver state" },
		{ "tlstap-receiver-state 1\n", "no 'end'" },
		{ "tlstap-receiver-state 1\nend 0", "line 2: cut short" },
		{ "tlstap-receiver-state 1\nend 1\n", "does not count" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records -\nrange 9 9 never unknown missing\n"
		  "end 1\n", "line 3: range 9..9: not within" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records -\nrange 4 5 never unknown missing\n"
		  "range 5 6 never unknown lost\nend 1\n", "line 4" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records -\nnotdone 1 2\nend 1\n",
		  "without records" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top known:x records 3\nend 1\n", "top 'known:x'" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records 3\nevicted 10.0.0.1:7419 5 seq 1 top never records -\nend 2\n", "twice" },
		{ "tlstap-receiver-state 1\nrange 1 2 never never gap\nend 0\n",
		  "outside a stream" },
		{ "tlstap-receiver-state 1\nstreams 1\nend 0\n",
		  "unknown item" },
		{ "tlstap-receiver-state 1\nend 0\nend 0\n", "after 'end'" },
	};
	const char *path = tmpfile_path("bad");
	struct recvstate rs, other;
	char err[256];
	FILE *f;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = fopen(path, "w");
		fputs(cases[i].text, f);
		fclose(f);
		err[0] = '\0';
		CHECK(recvstate_open(&rs, path, err, sizeof(err)) &&
		      strstr(err, path) && strstr(err, cases[i].want),
		      "case %zu: '%s', want '%s'", i, err, cases[i].want);
		recvstate_close(&rs);
	}
	/* Well formed, with every item. */
	f = fopen(path, "w");
	fputs("tlstap-receiver-state 1\nstream [fd00::1]:7419 5 seq 9 top known:4 records 7\nrange 2 3 known:1 unknown missing\n"
	      "range 5 5 unknown never gap\nnotdone 3 4\nevicted 10.0.0.1:7419 5 seq 1 top never records -\nend 2\n", f);
	fclose(f);
	CHECK(!recvstate_open(&rs, path, err, sizeof(err)) &&
	      rs.nstreams == 2 && rs.nevicted == 1, "well formed: %s", err);
	/* One receiver per state file. */
	CHECK(recvstate_open(&other, path, err, sizeof(err)) &&
	      strstr(err, "another process uses it"), "second: '%s'", err);
	recvstate_close(&other);
	recvstate_close(&rs);
}

/*
 * Output files: created and removed again when the start fails, locked,
 * truncated only when started with --truncate; units whole or not at all
 * when writes fail (EFBIG under RLIMIT_FSIZE, as ENOSPC), counted; the
 * next flush writes again.
 */
static void test_outfile(void)
{
	const char *path = tmpfile_path("out");
	struct outfile o, o2;
	struct rlimit old, lim;
	struct stat sb;
	char err[256], line[100];
	int fd;

	unlink(path);
	CHECK(!outfile_open(&o, "unit", path, 0, err, sizeof(err)), "%s", err);
	outfile_abandon(&o);
	CHECK(access(path, F_OK) && errno == ENOENT, "abandoned, still there");

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, "kept\n", 5) == 5, "write");
	close(fd);
	CHECK(!outfile_open(&o, "unit", path, 1, err, sizeof(err)), "%s", err);
	CHECK(outfile_open(&o2, "unit", path, 0, err, sizeof(err)) &&
	      strstr(err, "another process is writing it"), "'%s'", err);
	outfile_abandon(&o);
	CHECK(!stat(path, &sb) && sb.st_size == 5,
	      "an existing file abandoned: %lld bytes", (long long)sb.st_size);
	CHECK(!outfile_open(&o, "unit", path, 1, err, sizeof(err)) &&
	      !stat(path, &sb) && sb.st_size == 5, "truncated when opened");
	CHECK(!outfile_start(&o, err, sizeof(err)) && !stat(path, &sb) &&
	      !sb.st_size, "--truncate: %lld bytes", (long long)sb.st_size);

	/* 100-byte units against a 1050-byte limit: 10 whole ones. */
	memset(line, 'x', sizeof(line));
	line[99] = '\n';
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 1050;
	signal(SIGXFSZ, SIG_IGN);
	CHECK(!setrlimit(RLIMIT_FSIZE, &lim), "setrlimit");
	for (int i = 0; i < 14; i++) {
		fwrite(line, 1, sizeof(line), o.f);
		CHECK(!outfile_end_unit(&o, i % 2 ? OUTFILE_LOST
					  : OUTFILE_RECORD, err, sizeof(err)),
		      "%s", err);
	}
	CHECK(!outfile_flush(&o, err, sizeof(err)) && !stat(path, &sb) &&
	      sb.st_size == 1000 &&
	      o.st.unwritten[OUTFILE_RECORD] + o.st.unwritten[OUTFILE_LOST] ==
		      4 && o.st.write_errors == 1,
	      "over the limit: %lld bytes, %llu + %llu unwritten",
	      (long long)sb.st_size, o.st.unwritten[OUTFILE_RECORD],
	      o.st.unwritten[OUTFILE_LOST]);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	fwrite(line, 1, sizeof(line), o.f);
	outfile_end_unit(&o, OUTFILE_RECORD, err, sizeof(err));
	CHECK(!outfile_close(&o, err, sizeof(err)) && !stat(path, &sb) &&
	      sb.st_size == 1100, "written again: %lld bytes",
	      (long long)sb.st_size);
}

/*
 * At max_streams, the least recently seen stream goes: a stream seen
 * again moves to the front, so of A, B, A, C it is B that is forgotten
 * (and made anew when it comes back), A that is kept.
 */
static void test_stream_lru(void)
{
	static struct relcap c;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 1u << 20,
		.max_streams = 2,
	};
	struct endpoint from[3] = { rel_sender, rel_sender, rel_sender };
	static const int order[] = { 0, 1, 0, 2, 0, 1 };
	static const unsigned long long made[] = { 1, 2, 2, 3, 3, 4 };
	struct reasm_dgram_info info;
	uint8_t hb[WIRE_HEARTBEAT_LEN];
	struct reasm *ra;

	memset(&c, 0, sizeof(c));
	ra = reasm_new(&cfg, &rel_ops, &c);
	for (int i = 0; i < 3; i++)
		from[i].port += i;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		wire_build_heartbeat(hb, 1, 0, 0);
		reasm_datagram(ra, &from[order[i]], hb, sizeof(hb), T0, &info);
		CHECK(reasm_stats(ra)->streams == made[i],
		      "stream LRU: step %zu made %llu streams, want %llu", i,
		      reasm_stats(ra)->streams, made[i]);
	}
	CHECK(reasm_stats(ra)->streams_evicted == 2,
	      "stream LRU: %llu evicted, want 2",
	      reasm_stats(ra)->streams_evicted);
	reasm_free(ra);
}

/* NACK messages: ranges cut at 1024 seqs, at most 64 per message. */
static void test_nack_limits(void)
{
	static struct relcap c;
	static uint8_t rec[72 + 10], dg[300];
	struct reasm *ra;
	size_t len = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE, 10,
				 1, 0), n;
	struct reasm_dgram_info info;
	uint32_t total = 0;

	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	/* Records of one datagram each: seq s carries record s. */
	for (uint32_t s = 0; s < 3000; s += 2999) {
		n = piece(dg, s, rec, len, s, 0, (uint32_t)len, 0);
		dg[4] = 0, dg[5] = 0, dg[6] = 0x5e, dg[7] = 0xed;
		reasm_datagram(ra, &rel_sender, dg, n, T0, &info);
	}
	reasm_timer(ra, T0);
	CHECK(c.nnack == 1 && c.nnacked == 3 && c.nacked[0].first == 1 &&
	      c.nacked[0].last == 1024 && c.nacked[1].first == 1025 &&
	      c.nacked[1].last == 2048 && c.nacked[2].first == 2049 &&
	      c.nacked[2].last == 2998, "a long hole: %u NACKs, %u ranges",
	      c.nnack, c.nnacked);
	reasm_free(ra);

	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s <= 200; s += 2) {
		n = piece(dg, s, rec, len, s, 0, (uint32_t)len, 0);
		dg[4] = 0, dg[5] = 0, dg[6] = 0x5e, dg[7] = 0xed;
		reasm_datagram(ra, &rel_sender, dg, n, T0, &info);
	}
	reasm_timer(ra, T0);
	for (unsigned int i = 0; i < c.nnacked && i < 64; i++)
		total += c.nacked[i].last - c.nacked[i].first + 1;
	CHECK(c.nnack == 2 && c.nnacked == 100, "100 holes: %u NACKs, %u ranges", c.nnack, c.nnacked);
	CHECK(total == 64, "first NACK covers %u seqs", total);
	reasm_free(ra);
}

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

/* The sender side: replay bound, token bucket, answers to NACKs. */
struct resent {
	unsigned int n;
	uint32_t seqs[4096];
};

static void note_resend(void *arg, uint32_t seq, const uint8_t *dgram,
			size_t len)
{
	struct resent *r = arg;
	struct wire_msg msg;

	CHECK(wire_parse_msg(dgram, len, &msg) == WIRE_OK && msg.seq == seq &&
	      msg.flags == TLSTAP_MSG_F_RETRANSMIT,
	      "resent %u is not its datagram, flagged", seq);
	if (r->n < 4096)
		r->seqs[r->n] = seq;
	r->n++;
}

static size_t nack_of(uint8_t *buf, const struct wire_range *rg,
		      unsigned int n, struct wire_msg *msg)
{
	size_t len = wire_build_ranges(buf, TLSTAP_MSG_NACK, 0x5eed, rg, n);

	CHECK(wire_parse_msg(buf, len, msg) == WIRE_OK &&
	      wire_check_ranges(msg) == WIRE_OK, "NACK does not check out");
	return len;
}

static void test_replay(void)
{
	static struct relstream st;
	static struct resent rs;
	struct tokenbucket tb;
	struct replay_counts rc;
	struct wire_range gap[TLSTAP_NACK_MAX_RANGES], rg[3];
	struct wire_msg msg;
	uint8_t buf[600];
	unsigned int ngap;
	size_t held = 0, len;

	/* The bucket: a burst, then the rate. */
	tokenbucket_init(&tb, 1000, 3, T0);
	CHECK(tokenbucket_take(&tb, T0) && tokenbucket_take(&tb, T0) &&
	      tokenbucket_take(&tb, T0) && !tokenbucket_take(&tb, T0),
	      "burst of 3");
	CHECK(!tokenbucket_take(&tb, T0 + 999999) &&
	      tokenbucket_take(&tb, T0 + 1000000) &&
	      !tokenbucket_take(&tb, T0 + 1000000), "one per ms");
	CHECK(tokenbucket_take(&tb, T0 + 3600 * 1000 * MS) &&
	      tokenbucket_take(&tb, T0 + 3600 * 1000 * MS) &&
	      tokenbucket_take(&tb, T0 + 3600 * 1000 * MS) &&
	      !tokenbucket_take(&tb, T0 + 3600 * 1000 * MS),
	      "an hour idle fills it to the burst, no more");

	/* The ring holds at most the replay bound of sent datagrams. */
	relstream_make(&st, 200, 3000);
	CHECK(st.ndg > 200, "%u datagrams", st.ndg);
	txring_mark_sent(&st.ring, st.ndg - 10);
	txring_set_replay_limit(&st.ring, 50 * 1452);
	for (uint32_t s = st.ring.oldest; s != st.ring.unsent; s++) {
		CHECK(txring_held(&st.ring, s, &len), "seq %u not held", s);
		held += len;
	}
	CHECK(held == st.ring.held_bytes && held <= 50 * 1452 &&
	      held + 1452 > 50 * 1452 && st.ring.oldest > 0,
	      "held %zu bytes from %u", held, st.ring.oldest);
	CHECK(!txring_held(&st.ring, st.ring.oldest - 1, &len) &&
	      !txring_held(&st.ring, st.ring.unsent, &len),
	      "held beyond [oldest, unsent)");

	/* Old: GAP; held: resent, flagged; not sent yet: ignored. */
	tokenbucket_init(&tb, 10000, 1024, T0);
	memset(&rc, 0, sizeof(rc));
	memset(&rs, 0, sizeof(rs));
	rg[0].first = 0;
	rg[0].last = st.ring.oldest + 1;
	rg[1].first = st.ring.unsent - 2;
	rg[1].last = st.ring.unsent + 3;
	nack_of(buf, rg, 2, &msg);
	replay_answer(&st.ring, &tb, &msg, T0, note_resend, &rs, gap, &ngap,
		      &rc);
	CHECK(ngap == 1 && gap[0].first == 0 &&
	      gap[0].last == st.ring.oldest - 1 &&
	      rc.gap_seqs == st.ring.oldest, "GAP %u..%u", gap[0].first,
	      gap[0].last);
	CHECK(rs.n == 4 && rs.seqs[0] == st.ring.oldest &&
	      rs.seqs[1] == st.ring.oldest + 1 &&
	      rs.seqs[2] == st.ring.unsent - 2 && rc.retransmits == 4 &&
	      rc.unsent_seqs == 4 && rc.ratelimited == 0 &&
	      rc.ratelimited_seqs == 0,
	      "resent %u, unsent %llu", rs.n, rc.unsent_seqs);
	len = 0;
	CHECK(txring_held(&st.ring, st.ring.oldest, &len)[3] ==
	      TLSTAP_MSG_F_RETRANSMIT, "flag not set in the ring");

	/* Over the bucket: counted, not sent. */
	tokenbucket_init(&tb, 10000, 5, T0);
	memset(&rc, 0, sizeof(rc));
	memset(&rs, 0, sizeof(rs));
	rg[0].first = st.ring.oldest;
	rg[0].last = st.ring.oldest + 19;
	nack_of(buf, rg, 1, &msg);
	replay_answer(&st.ring, &tb, &msg, T0, note_resend, &rs, gap, &ngap,
		      &rc);
	CHECK(rs.n == 5 && rc.ratelimited == 1 && rc.ratelimited_seqs == 15 &&
	      !ngap, "limited: %u resent, %llu NACKs (%llu seqs) limited",
	      rs.n, rc.ratelimited, rc.ratelimited_seqs);

	/* GAP ranges stay within 1024 seqs, one per NACK range at most. */
	txring_set_replay_limit(&st.ring, 0);
	CHECK(st.ring.oldest == st.ring.unsent && !st.ring.held_bytes,
	      "replay 0 still holds");
	relstream_free(&st);
}

/* Receiver and sender logic together, lossy in both directions. */
static void test_repair_loop(void)
{
	static struct relstream st;
	static struct relcap c;
	static struct resent rs;
	struct reasm *ra;
	struct tokenbucket tb;
	struct replay_counts rc = { 0 };
	uint64_t now = T0;

	relstream_make(&st, 300, 3000);
	txring_mark_sent(&st.ring, st.ndg);
	tokenbucket_init(&tb, 10000, 1024, now);
	memset(&c, 0, sizeof(c));
	c.recs = (const uint8_t **)st.recs;
	c.rec_lens = st.lens;
	c.capture_nacks = 1;
	/*
	 * A try fails 36% of the time (20% loss each way): 12 tries, so that
	 * a seq lost for good (0.36^12) does not come with the random draws.
	 */
	ra = reasm_new(&(struct reasm_config){ .max_msg_len = 65536,
					       .max_pending_bytes = 64u << 20,
					       .max_streams = 4,
					       .nack_tries = 12 },
		       &rel_ops, &c);
	/* The first arrives: a stream starts where it is first seen. */
	for (uint32_t s = 0; s < st.ndg; s++)
		if (!s || rnd() % 10)
			relstream_send(&st, ra, s, now, 0);
	/* Whatever the receiver NACKs, 20% of it is lost again. */
	for (unsigned int round = 0; round < 12 && c.nrec < st.nrec; round++) {
		uint8_t hb[WIRE_HEARTBEAT_LEN];
		struct reasm_dgram_info info;

		wire_build_heartbeat(hb, 0x5eed, st.ndg - 1, 0);
		reasm_datagram(ra, &rel_sender, hb, sizeof(hb), now, &info);
		c.npending_nacks = 0;
		reasm_timer(ra, now);
		for (unsigned int i = 0; i < c.npending_nacks; i++) {
			struct wire_range gap[TLSTAP_NACK_MAX_RANGES];
			unsigned int ngap;
			struct wire_msg msg;

			if (rnd() % 5 == 0)
				continue;
			wire_parse_msg(c.pending_nacks[i], c.pending_lens[i],
				       &msg);
			memset(&rs, 0, sizeof(rs));
			replay_answer(&st.ring, &tb, &msg, now, note_resend, &rs,
				      gap, &ngap, &rc);
			CHECK(!ngap, "GAP with everything held");
			for (unsigned int k = 0; k < rs.n && k < 4096; k++)
				if (rnd() % 5)
					relstream_send(&st, ra, rs.seqs[k], now,
						       1);
		}
		now += 30 * MS << round;
	}
	CHECK(c.nrec == st.nrec && c.nlost == 0 &&
	      reasm_stats(ra)->pending_bytes == 0 && rc.retransmits > 0 &&
	      reasm_stats(ra)->retransmitted > 0,
	      "repaired %u of %u records, %u LOST, %llu resent", c.nrec,
	      st.nrec, c.nlost, rc.retransmits);
	reasm_free(ra);
	relstream_free(&st);
}

/*
 * A hole repaired at the sender's pace (PROTOCOL.md 5.1): it resends at
 * most 256 at once, then 200 a second, so the repair takes seconds, and
 * a NACK it answers uses up no try. Then it stops answering: what is
 * left is given up after the tries, 20 + 40 + ... + 640 ms after the
 * first NACK nobody answered, as a hole nobody answers at all.
 */
static void test_nack_answered(void)
{
	static struct relstream st;
	static struct relcap c;
	static struct resent rs;
	static uint8_t missing[60000], touched[4096];
	struct replay_counts rc = { 0 };
	struct tokenbucket tb;
	struct reasm *ra;
	uint64_t now = T0, deaf_at = 0, gave_up_at = 0;
	uint32_t hole_first = 50, hole_last, hole, resent = 0;
	unsigned int deaf_nacks = 0, lost_records = 0;

	relstream_make(&st, 4000, 1400);
	hole_last = st.ndg - 50;
	hole = hole_last - hole_first + 1;
	CHECK(hole > 1500, "a hole of %u datagrams", hole);
	txring_mark_sent(&st.ring, st.ndg);
	tokenbucket_init(&tb, 200, 256, now);
	memset(&c, 0, sizeof(c));
	c.recs = (const uint8_t **)st.recs;
	c.rec_lens = st.lens;
	c.capture_nacks = 1;
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++) {
		missing[s] = s >= hole_first && s <= hole_last;
		if (!missing[s])
			relstream_send(&st, ra, s, now, 0);
	}
	/* Answered until all but 300 are back, then deaf. */
	for (;;) {
		unsigned int before = c.nnack;
		uint64_t next;

		c.npending_nacks = 0;
		next = reasm_timer(ra, now);
		if (c.nlost && !gave_up_at)
			gave_up_at = now;
		if (!next)
			break;
		if (resent + 300 > hole) {
			if (c.nnack > before && !deaf_at)
				deaf_at = now;
			deaf_nacks += c.nnack - before;
			now = next;
			continue;
		}
		for (unsigned int i = 0; i < c.npending_nacks; i++) {
			struct wire_range gap[TLSTAP_NACK_MAX_RANGES];
			unsigned int ngap;
			struct wire_msg msg;

			wire_parse_msg(c.pending_nacks[i], c.pending_lens[i],
				       &msg);
			memset(&rs, 0, sizeof(rs));
			replay_answer(&st.ring, &tb, &msg, now, note_resend, &rs,
				      gap, &ngap, &rc);
			CHECK(!ngap && rs.n <= 4096, "GAP with everything held, or %u resent at once", rs.n);
			for (unsigned int k = 0; k < rs.n; k++) {
				CHECK(missing[rs.seqs[k]], "seq %u resent twice",
				      rs.seqs[k]);
				missing[rs.seqs[k]] = 0;
				relstream_send(&st, ra, rs.seqs[k], now, 1);
			}
			resent += rs.n;
		}
		now = next;
	}
	CHECK(deaf_at && deaf_at - T0 > 5000 * MS &&
	      rc.ratelimited_seqs > 0 && resent < hole,
	      "answered for %llu ms: %u of %u resent",
	      (unsigned long long)((deaf_at - T0) / MS), resent, hole);
	CHECK(deaf_nacks == 6 && gave_up_at == deaf_at + 1260 * MS,
	      "unanswered: %u NACKs, given up %llu ms after the first",
	      deaf_nacks, (unsigned long long)((gave_up_at - deaf_at) / MS));
	/* The records of what never came back are LOST, the rest output. */
	records_in(&st, missing, touched);
	for (unsigned int l = 0; l < c.nlost && l < 1024; l++) {
		CHECK(c.lost[l].reason == GAP_REASON_TIMEOUT &&
		      c.lost[l].has_record_first && c.lost[l].has_record_last,
		      "LOST %u: reason %d", l, c.lost[l].reason);
		lost_records += c.lost[l].record_last -
				c.lost[l].record_first + 1;
	}
	for (unsigned int i = 0; i < st.nrec; i++)
		CHECK(c.emitted[i] == !touched[i], "record %u: emitted %u, touched %u", i, c.emitted[i], touched[i]);
	CHECK(c.nrec + lost_records == st.nrec &&
	      reasm_stats(ra)->lost_datagrams == hole - resent &&
	      reasm_stats(ra)->pending_bytes == 0,
	      "%u records, %u LOST, %llu datagrams given up", c.nrec,
	      lost_records, reasm_stats(ra)->lost_datagrams);
	reasm_free(ra);
	relstream_free(&st);
}

static void test_endpoint(void)
{
	struct endpoint ep;
	char err[160], buf[ENDPOINT_STRLEN];

	CHECK(!endpoint_parse("192.0.2.1:7419", 0, &ep, err, sizeof(err)) &&
	      ep.family == 4 && ep.port == 7419 && ep.addr[3] == 1, "v4");
	endpoint_format(&ep, buf, sizeof(buf));
	CHECK(!strcmp(buf, "192.0.2.1:7419"), "format %s", buf);
	CHECK(!endpoint_parse("[2001:db8::1]:1", 0, &ep, err, sizeof(err)) &&
	      ep.family == 6 && ep.port == 1 && ep.addr[15] == 1, "v6");
	endpoint_format(&ep, buf, sizeof(buf));
	CHECK(!strcmp(buf, "[2001:db8::1]:1"), "format %s", buf);
	CHECK(endpoint_parse("2001:db8::1:7419", 0, &ep, err, sizeof(err)),
	      "IPv6 without brackets");
	CHECK(endpoint_parse("192.0.2.1:0", 0, &ep, err, sizeof(err)),
	      "port 0");
	CHECK(!endpoint_parse("0.0.0.0:0", 1, &ep, err, sizeof(err)),
	      "any for listening");
	CHECK(endpoint_parse("0.0.0.0:1", 0, &ep, err, sizeof(err)),
	      "unspecified target");
	CHECK(endpoint_parse("192.0.2.1:65536", 0, &ep, err, sizeof(err)),
	      "port 65536");
	CHECK(endpoint_parse("192.0.2.1:+5", 0, &ep, err, sizeof(err)),
	      "port +5");
	CHECK(endpoint_parse("192.0.2.1", 0, &ep, err, sizeof(err)),
	      "no port");
	CHECK(endpoint_parse("[::1]7419", 0, &ep, err, sizeof(err)),
	      "no colon");
	CHECK(endpoint_parse("300.0.0.1:1", 0, &ep, err, sizeof(err)),
	      "bad IPv4");
}

/*
 * Both renderings of one set of counters: top level, object, group, an
 * array of objects, a string and a flag.
 */
static void print_counters(FILE *f, int json)
{
	struct statprint sp;

	statprint_begin(&sp, f, "prog", json);
	statprint_u64(&sp, "a", 1);
	statprint_open(&sp, "by");
	statprint_u64(&sp, "x", 2);
	statprint_u64(&sp, "yy", 12345678);
	statprint_close(&sp);
	statprint_u64(&sp, "b", 4);
	statprint_group(&sp, "g");
	statprint_u64(&sp, "c", 5);
	statprint_open(&sp, "in");
	statprint_u64(&sp, "d", 6);
	statprint_close(&sp);
	statprint_u64(&sp, "e", 7);
	statprint_close(&sp);
	statprint_group(&sp, "h");
	statprint_close(&sp);
	statprint_array(&sp, "list");
	statprint_item(&sp, "one \"1\"");
	statprint_str(&sp, "name", "one \"1\"");
	statprint_bool(&sp, "on", 1);
	statprint_close(&sp);
	statprint_item(&sp, "two");
	statprint_bool(&sp, "on", 0);
	statprint_close(&sp);
	statprint_close(&sp);
	statprint_u64(&sp, "z", 18446744073709551615ull);
	statprint_end(&sp);
}

/* What print_counters() writes; NULL if the memory stream failed. */
static char *counters_text(int json)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	print_counters(f, json);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static void test_statprint(void)
{
	static const char *const want[2] = {
		"prog: counters\n"
		"  a                                             1\n"
		"  by:\n"
		"    x                                           2\n"
		"    yy                                   12345678\n"
		"  b                                             4\n"
		"  g:\n"
		"    c                                           5\n"
		"    in:\n"
		"      d                                         6\n"
		"    e                                           7\n"
		"  h:\n"
		"  list:\n"
		"    one \"1\":\n"
		"      name                                one \"1\"\n"
		"      on                                      yes\n"
		"    two:\n"
		"      on                                       no\n"
		"  z                                18446744073709551615\n",
		"{\"a\":1,\"by\":{\"x\":2,\"yy\":12345678},\"b\":4,\"g\":{\"c\":5,\"in\":{\"d\":6},\"e\":7},\"h\":{},\"list\":[{\"name\":\"one \\\"1\\\"\",\"on\":true},{\"on\":false}],\"z\":18446744073709551615}\n",
	};

	for (int json = 0; json < 2; json++) {
		char *text = counters_text(json);

		CHECK(text && !strcmp(text, want[json]), "counters:\n%s",
		      text ? text : "(none)");
		free(text);
	}
}

static void test_recvopts(void)
{
	struct recvopts o;
	struct reasm_config cfg;

	recvopts_init(&o);
	CHECK(o.output == RECV_OUT_JSON && !o.out_path && !o.stats_json &&
	      o.max_streams == 256 && o.nack_tries == REASM_NACK_TRIES,
	      "defaults");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_OUTPUT, "pcapng") &&
	      o.output == RECV_OUT_PCAPNG, "--output pcapng");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_NACK_TIMEOUT, "0x10") &&
	      o.nack_timeout_ms == 16, "--nack-timeout-ms 0x10");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_PENDING, "2097152") &&
	      o.max_pending == 2u << 20, "--max-pending");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_JSON, NULL) && o.stats_json,
	      "--stats-json");
	CHECK(!recvopts_parse(&o, "unit", RECVOPT_END, "x"), "not ours");
	CHECK(!recvopts_parse(&o, "unit", 'h', NULL), "not ours: -h");
	recvopts_reasm_config(&o, &cfg);
	CHECK(cfg.nack_timeout_ns == 16000000ull &&
	      cfg.max_pending_bytes == 2u << 20 && cfg.max_streams == 256 &&
	      cfg.max_evicted == 4 * 256 && !cfg.allow && !cfg.nallow,
	      "core config");
	CHECK(!o.truncate && !o.state_path && !o.nallow, "defaults: files");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_TRUNCATE, NULL) && o.truncate &&
	      recvopts_parse(&o, "unit", RECVOPT_STATE, "s") &&
	      !strcmp(o.state_path, "s") &&
	      recvopts_parse(&o, "unit", RECVOPT_ALLOW, "10.0.0.0/8") &&
	      recvopts_parse(&o, "unit", RECVOPT_ALLOW, "fd00::1") &&
	      o.nallow == 2 && o.allow[1].len == 128,
	      "--truncate, --state, --allow");
	recvopts_reasm_config(&o, &cfg);
	CHECK(cfg.allow == o.allow && cfg.nallow == 2, "core config: allow");
}

/* --------------------------------------------------------- error queue */

/*
 * A datagram to a loopback port where nothing listens, asking for its
 * transmit timestamp: the error queue has the timestamp (the path was
 * open) and the kernel's ICMP port unreachable, with its name.
 */
static void sockerr_case(int ipv6)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = ipv6 ? sizeof(*sin6) : sizeof(*sin);
	union {
		char buf[SOCKERR_ASK_SENT_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int sent = 0, unreach = 0, other = 0, fd, port_fd;
	struct sockerr e;

	memset(&ss, 0, sizeof(ss));
	if (ipv6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	/* A port nobody holds: bound once, then let go. */
	port_fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	CHECK(port_fd >= 0 && !bind(port_fd, (struct sockaddr *)&ss, len) &&
	      !getsockname(port_fd, (struct sockaddr *)&ss, &len),
	      "a free port: %s", strerror(errno));
	close(port_fd);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	CHECK(fd >= 0 && !sockerr_enable(fd, ipv6) &&
	      !connect(fd, (struct sockaddr *)&ss, len),
	      "IPv%d socket: %s", ipv6 ? 6 : 4, strerror(errno));
	CHECK(sockerr_read(fd, &e) == 0, "a report before anything was sent");
	sockerr_ask_sent(&mh, ctl.buf);
	CHECK(sendmsg(fd, &mh, 0) == 1, "send: %s", strerror(errno));
	for (int i = 0; i < 100 && !(sent && unreach); i++) {
		struct pollfd pfd = { .fd = fd };
		int r;

		poll(&pfd, 1, 10);
		while ((r = sockerr_read(fd, &e)) == 1) {
			if (e.kind == SOCKERR_SENT)
				sent++;
			else if (e.kind == SOCKERR_UNREACHABLE &&
				 !strcmp(e.what, "port unreachable"))
				unreach++;
			else
				other++;
		}
		CHECK(r == 0, "reading the error queue: %s", strerror(errno));
	}
	CHECK(sent == 1 && unreach == 1 && !other,
	      "IPv%d: %d sent, %d port unreachable, %d other reports",
	      ipv6 ? 6 : 4, sent, unreach, other);
	close(fd);
}

static void test_sockerr(void)
{
	sockerr_case(0);
	sockerr_case(1);
}

int main(void)
{
	test_siphash_vector();
	test_parse_key();
	test_flow_symmetry();
	test_steer_table();
	test_record_parse();
	test_record_kmod_cases();
	test_wire();
	test_wire_control();
	test_pack_and_reassemble();
	test_reasm_rejects();
	test_loss_reports();
	test_jsonout();
	test_ring_limits();
	test_seqtrack();
	test_wire_ranges();
	test_nack_policy();
	test_lost_exact();
	test_heartbeat();
	test_stream_start();
	test_evicted_stream();
	test_evicted_resume();
	test_allow();
	test_state();
	test_state_file();
	test_outfile();
	tmpdir_remove();
	test_stream_lru();
	test_nack_limits();
	test_gaptrack_bound();
	test_replay();
	test_repair_loop();
	test_nack_answered();
	test_endpoint();
	test_statprint();
	test_recvopts();
	test_sockerr();
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
