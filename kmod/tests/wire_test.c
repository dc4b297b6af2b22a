// SPDX-License-Identifier: GPL-2.0
/* KUnit: datagram sizing against MTUs, placement, header bytes. */
#include <kunit/test.h>
#include <linux/string.h>

#include "../dgram.h"

static void wire_capacity(struct kunit *test)
{
	/* MTU - IP header - UDP header, at most one page. */
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(1500, false), 1472U);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(1500, true), 1452U);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(1280, true), 1232U);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(1280, false), 1252U);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(576, false), 548U);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(9000, false),
			(u32)TLSTAP_SLOT_SIZE);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(65536, true),
			(u32)TLSTAP_SLOT_SIZE);
	/* Too small to carry a chunk: refused, never underflowed. */
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(28 + TLSTAP_MIN_DGRAM,
						   false),
			(u32)TLSTAP_MIN_DGRAM);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(27 + TLSTAP_MIN_DGRAM,
						   false), 0U);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(68, false), 0U);
	KUNIT_EXPECT_EQ(test, tlstap_wire_capacity(0, true), 0U);
}

static void wire_plan_cases(struct kunit *test)
{
	u32 per = tlstap_wire_slot_data(1472);
	struct tlstap_wire_plan p;

	KUNIT_EXPECT_EQ(test, per, 1472U - 16 - 64);

	tlstap_wire_plan(0, 1472, 1, &p);
	KUNIT_EXPECT_EQ(test, p.first_len, 0U);
	KUNIT_EXPECT_EQ(test, p.new_slots, 1U);
	KUNIT_EXPECT_EQ(test, p.last_len, 1U);

	tlstap_wire_plan(0, 1472, per, &p);
	KUNIT_EXPECT_EQ(test, p.new_slots, 1U);
	KUNIT_EXPECT_EQ(test, p.last_len, per);

	tlstap_wire_plan(0, 1472, per + 1, &p);
	KUNIT_EXPECT_EQ(test, p.new_slots, 2U);
	KUNIT_EXPECT_EQ(test, p.last_len, 1U);

	/* An open slot with room for a header and one byte takes one. */
	tlstap_wire_plan(TLSTAP_CHUNK_HDR_LEN + 1, 1472, 10, &p);
	KUNIT_EXPECT_EQ(test, p.first_len, 1U);
	KUNIT_EXPECT_EQ(test, p.new_slots, 1U);
	KUNIT_EXPECT_EQ(test, p.last_len, 9U);

	tlstap_wire_plan(TLSTAP_CHUNK_HDR_LEN, 1472, 10, &p);
	KUNIT_EXPECT_EQ(test, p.first_len, 0U);
	KUNIT_EXPECT_EQ(test, p.new_slots, 1U);

	/* Fits in the open slot entirely. */
	tlstap_wire_plan(500, 1472, 100, &p);
	KUNIT_EXPECT_EQ(test, p.first_len, 100U);
	KUNIT_EXPECT_EQ(test, p.new_slots, 0U);
}

/* Every split adds up and no piece exceeds its datagram. */
static void wire_plan_sweep(struct kunit *test)
{
	static const u32 caps[] = { TLSTAP_MIN_DGRAM, 548, 1232, 1452, 1472,
				    (u32)TLSTAP_SLOT_SIZE };
	static const u32 rooms[] = { 0, 1, 64, 65, 66, 200, 1000 };
	struct tlstap_wire_plan p;
	u32 c, r, len;

	for (c = 0; c < ARRAY_SIZE(caps); c++) {
		u32 per = tlstap_wire_slot_data(caps[c]);

		for (r = 0; r < ARRAY_SIZE(rooms); r++) {
			if (rooms[r] > caps[c] - TLSTAP_MSG_HDR_LEN)
				continue;
			for (len = 1; len <= 65536 + 72; len += 97) {
				u32 sum;

				tlstap_wire_plan(rooms[r], caps[c], len, &p);
				sum = p.first_len;
				if (p.new_slots) {
					KUNIT_ASSERT_GE(test, p.last_len, 1U);
					KUNIT_ASSERT_LE(test, p.last_len, per);
					sum += (p.new_slots - 1) * per + p.last_len;
				}
				KUNIT_ASSERT_EQ(test, sum, len);
				KUNIT_ASSERT_LE(test, p.first_len +
						(p.first_len ? TLSTAP_CHUNK_HDR_LEN : 0),
						rooms[r]);
			}
		}
	}
}

static void wire_headers(struct kunit *test)
{
	static const u8 want_msg[16] = {
		0x01, 0x02, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef,
		0x00, 0x00, 0x01, 0x02, 0x05, 0xc0, 0x00, 0x03,
	};
	static const u8 saddr[16] = { 10, 0, 0, 1 }, daddr[16] = { 10, 0, 0, 2 };
	struct tlstap_record_info ri = {
		.msg_len = 1000, .len = 1072,
		.family = TLSTAP_FAMILY_IPV4, .dir = TLSTAP_DIR_READ,
		.sport = cpu_to_be16(443), .dport = cpu_to_be16(50000),
		.saddr = saddr, .daddr = daddr,
	};
	struct tlstap_writer writer = { .pid = 4242, .uid = 1000 };
	struct tlstap_writer unknown = { .pid = 0,
					 .uid = TLSTAP_WRITER_UID_UNKNOWN };
	static const u8 want_unknown[8] = {
		0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
	};
	u8 buf[TLSTAP_CHUNK_HDR_LEN + 8];
	u8 want_chunk[TLSTAP_CHUNK_HDR_LEN] = {
		0x00, 0x00, 0x00, 0x2a,	/* record_id 42 */
		0x00, 0x00, 0x04, 0x30,	/* record_len 1072 */
		0x00, 0x00, 0x01, 0x00,	/* offset 256 */
		0x02, 0x00,		/* len 512 */
		0x04, 0x01,		/* family 4, dir read */
		0x01, 0xbb, 0xc3, 0x50,	/* ports 443, 50000 */
		10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x01, 0, 0, 0,		/* flags aborted, reserved */
		0x00, 0x00, 0x10, 0x92,	/* writer_pid 4242 */
		0x00, 0x00, 0x03, 0xe8,	/* writer_uid 1000 */
	};

	memset(buf, 0xaa, sizeof(buf));
	wire_put_msg_hdr(buf, TLSTAP_MSG_DATA, 0, 0xdeadbeef, 258, 1472, 3);
	KUNIT_EXPECT_EQ(test, memcmp(buf, want_msg, sizeof(want_msg)), 0);
	KUNIT_EXPECT_EQ(test, buf[16], 0xaa);

	memset(buf, 0xaa, sizeof(buf));
	tlstap_wire_chunk_hdr(buf, &ri, &writer, 42, 256, 512,
			      TLSTAP_CHUNK_F_ABORTED);
	KUNIT_EXPECT_EQ(test, memcmp(buf, want_chunk, sizeof(want_chunk)), 0);
	KUNIT_EXPECT_EQ(test, buf[TLSTAP_CHUNK_HDR_LEN], 0xaa);

	/* A writer the sender cannot know: 0 and the unknown uid. */
	tlstap_wire_chunk_hdr(buf, &ri, &unknown, 42, 256, 512, 0);
	KUNIT_EXPECT_EQ(test, memcmp(buf + TLSTAP_CHUNK_HDR_LEN - 8, want_unknown,
				     sizeof(want_unknown)), 0);
	KUNIT_EXPECT_EQ(test, buf[TLSTAP_CHUNK_HDR_LEN], 0xaa);
}

/* Builds a NACK with the given ranges; returns its length. */
static u32 nack(u8 *buf, u32 stream, const u32 (*r)[2], u16 n)
{
	u32 len = TLSTAP_MSG_HDR_LEN + n * 8, i;

	wire_put_msg_hdr(buf, TLSTAP_MSG_NACK, 0, stream, 0, len, n);
	for (i = 0; i < n; i++) {
		__be32 v[2] = { cpu_to_be32(r[i][0]), cpu_to_be32(r[i][1]) };

		memcpy(buf + TLSTAP_MSG_HDR_LEN + 8 * i, v, 8);
	}
	return len;
}

static void wire_nack(struct kunit *test)
{
	static const u32 good[3][2] = { { 5, 9 }, { 11, 11 }, { 20, 1043 } };
	static const u32 wrap[2][2] = { { 0xfffffff0, 0xffffffff }, { 2, 3 } };
	static const u32 overlap[2][2] = { { 5, 9 }, { 9, 12 } };
	static const u32 reversed[1][2] = { { 9, 5 } };
	static const u32 toolong[1][2] = { { 0, 1024 } };
	static const u32 unordered[2][2] = { { 20, 21 }, { 5, 6 } };
	struct wire_range r[TLSTAP_NACK_MAX_RANGES];
	u8 buf[TLSTAP_NACK_MAX_LEN + 8];
	u32 len, stream = 0;

	len = nack(buf, 0xabcd, good, 3);
	KUNIT_ASSERT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r), 3);
	KUNIT_EXPECT_EQ(test, stream, 0xabcdU);
	KUNIT_EXPECT_EQ(test, r[2].first, 20U);
	KUNIT_EXPECT_EQ(test, r[2].last, 1043U);
	len = nack(buf, 1, wrap, 2);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r), 2);

	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len - 1, &stream, r),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, 15, &stream, r),
			-EINVAL);
	len = nack(buf, 1, overlap, 2);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	len = nack(buf, 1, reversed, 1);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	len = nack(buf, 1, toolong, 1);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	len = nack(buf, 1, unordered, 2);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	/* No ranges, too many, and header fields other than a NACK's. */
	len = nack(buf, 1, good, 0);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	wire_put_msg_hdr(buf, TLSTAP_MSG_NACK, 0, 1, 0,
			    TLSTAP_MSG_HDR_LEN + 8 * 65, 65);
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, TLSTAP_MSG_HDR_LEN +
						     8 * 65, &stream, r), -EINVAL);
	len = nack(buf, 1, good, 1);
	buf[0] = TLSTAP_MSG_GAP;
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	len = nack(buf, 1, good, 1);
	buf[3] = TLSTAP_MSG_F_RETRANSMIT;
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	len = nack(buf, 1, good, 1);
	buf[11] = 1;	/* seq */
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
	len = nack(buf, 1, good, 1);
	buf[1] = 1;	/* version 1: a reader of version 2 refuses it */
	KUNIT_EXPECT_EQ(test, tlstap_wire_parse_nack(buf, len, &stream, r),
			-EINVAL);
}

static struct kunit_case wire_cases[] = {
	KUNIT_CASE(wire_capacity),
	KUNIT_CASE(wire_plan_cases),
	KUNIT_CASE(wire_plan_sweep),
	KUNIT_CASE(wire_headers),
	KUNIT_CASE(wire_nack),
	{}
};

static struct kunit_suite wire_suite = {
	.name = "tlstap_wire",
	.test_cases = wire_cases,
};

kunit_test_suite(wire_suite);
