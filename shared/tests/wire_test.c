// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * shared/wire.c in userspace: DATA datagrams built and parsed, every
 * byte that may not be what it is, control messages (NACK, GAP,
 * HEARTBEAT) and their ranges.
 */
#include <endian.h>
#include <string.h>

#include "testrec.h"
#include "unit.h"

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

UNIT_TESTS(UNIT_TEST(test_wire), UNIT_TEST(test_wire_control),
	   UNIT_TEST(test_wire_ranges))
