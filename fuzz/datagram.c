// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The receivers' datagram parser (shared/wire.c) on one UDP
 * payload: wire_parse_msg, then the check of its type (wire_check_data
 * with the chunk walk, wire_check_ranges for NACK and GAP,
 * wire_check_heartbeat). Checks: an accepted datagram is exactly its
 * declared length; every chunk lies inside it, inside its record and
 * inside the record size limit, and the chunks cover the body exactly;
 * and whatever is accepted is what the protocol's own builders
 * (wire_builder_*, wire_build_ranges, wire_build_heartbeat) produce from
 * the parsed values, byte for byte.
 */
#include "fuzz.h"
#include "wire.h"

#define MAX_MSG_LEN	TLSTAP_DEFAULT_MAX_RECORD

static void check_data(const uint8_t *data, size_t size,
		       const struct wire_msg *msg)
{
	struct wire_builder b;
	struct wire_chunk ch;
	uint8_t *copy;
	size_t pos = 0, covered = 0;
	unsigned int n = 0;

	if (wire_check_data(msg, MAX_MSG_LEN) != WIRE_OK)
		return;
	copy = malloc(size);
	CHECK(copy, "malloc");
	wire_builder_start(&b, copy, size, msg->stream_id, msg->seq, msg->flags);
	while (wire_next_chunk(msg, &pos, &ch)) {
		CHECK(ch.data >= msg->body && ch.data + ch.len <= data + size,
		      "chunk %u outside the datagram", n);
		CHECK(ch.len && (uint64_t)ch.offset + ch.len <= ch.meta.record_len,
		      "chunk %u: [%u, +%u) of %u", n, ch.offset, ch.len,
		      ch.meta.record_len);
		CHECK(ch.meta.record_len >= TLSTAP_RECORD_HDR_LEN &&
		      ch.meta.record_len <= TLSTAP_RECORD_HDR_LEN + MAX_MSG_LEN,
		      "chunk %u: record_len %u", n, ch.meta.record_len);
		CHECK(record_flow_check(&ch.meta.flow) == RECORD_OK,
		      "chunk %u: flow", n);
		CHECK(wire_builder_room(&b) >= ch.len, "chunk %u does not fit again", n);
		wire_builder_add(&b, &ch.meta, ch.offset, ch.data, ch.len);
		covered += TLSTAP_CHUNK_HDR_LEN + ch.len;
		n++;
	}
	CHECK(n == msg->count, "%u chunks walked, count %u", n, msg->count);
	CHECK(covered == msg->body_len, "chunks cover %zu of %zu bytes", covered,
	      msg->body_len);
	CHECK(wire_builder_finish(&b) == size && !memcmp(copy, data, size),
	      "rebuilt DATA datagram differs");
	free(copy);
}

static void check_ranges(const uint8_t *data, size_t size,
			 const struct wire_msg *msg)
{
	struct wire_range r[TLSTAP_NACK_MAX_RANGES];
	uint8_t copy[TLSTAP_MSG_HDR_LEN + TLSTAP_NACK_MAX_RANGES * 8];

	if (wire_check_ranges(msg) != WIRE_OK)
		return;
	CHECK(msg->count >= 1 && msg->count <= TLSTAP_NACK_MAX_RANGES, "count %u",
	      msg->count);
	for (unsigned int i = 0; i < msg->count; i++) {
		r[i] = wire_get_range(msg, i);
		CHECK(r[i].last - r[i].first < TLSTAP_NACK_MAX_SPAN,
		      "range %u spans %u", i, r[i].last - r[i].first + 1);
		CHECK(!i || (int32_t)(r[i].first - r[i - 1].last) > 0,
		      "range %u not after range %u", i, i - 1);
	}
	CHECK(wire_build_ranges(copy, msg->type, msg->stream_id, r, msg->count) ==
		      size && !memcmp(copy, data, size),
	      "rebuilt %s differs", msg->type == TLSTAP_MSG_NACK ? "NACK" : "GAP");
}

static void check_heartbeat(const uint8_t *data, size_t size,
			    const struct wire_msg *msg)
{
	struct wire_heartbeat hb;
	uint8_t copy[WIRE_HEARTBEAT_LEN];

	if (wire_check_heartbeat(msg, &hb) != WIRE_OK)
		return;
	CHECK((int32_t)(hb.oldest - (hb.highest + 1)) <= 0,
	      "oldest %u after highest %u + 1", hb.oldest, hb.highest);
	CHECK(wire_build_heartbeat(copy, msg->stream_id, hb.highest, hb.oldest) ==
		      size && !memcmp(copy, data, size),
	      "rebuilt HEARTBEAT differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg msg;
	enum wire_status st = wire_parse_msg(data, size, &msg);

	CHECK(wire_status_name(st) != NULL, "no name");
	if (st != WIRE_OK)
		return 0;
	CHECK(msg.len == size && size <= TLSTAP_MAX_DGRAM, "len %u of %zu",
	      msg.len, size);
	CHECK(msg.body == data + TLSTAP_MSG_HDR_LEN &&
	      msg.body_len == size - TLSTAP_MSG_HDR_LEN, "body");
	switch (msg.type) {
	case TLSTAP_MSG_DATA:
		check_data(data, size, &msg);
		break;
	case TLSTAP_MSG_NACK:
	case TLSTAP_MSG_GAP:
		check_ranges(data, size, &msg);
		break;
	case TLSTAP_MSG_HEARTBEAT:
		check_heartbeat(data, size, &msg);
		break;
	default:
		CHECK(0, "type %u accepted", msg.type);
	}
	return 0;
}
