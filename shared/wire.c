// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Field-by-field network order, chunks unaligned (memcpy only): a parsed
 * datagram is trusted only after every one of its chunks checked out.
 */
#include "wire.h"

static_assert(sizeof(struct tlstap_msg_hdr) == TLSTAP_MSG_HDR_LEN);
static_assert(sizeof(struct tlstap_chunk_hdr) == TLSTAP_CHUNK_HDR_LEN);
static_assert(sizeof(struct tlstap_seq_range) == 8);
static_assert(sizeof(struct tlstap_heartbeat) == 8);
static_assert(TLSTAP_MIN_DGRAM ==
	      TLSTAP_MSG_HDR_LEN + TLSTAP_CHUNK_HDR_LEN + 64);
static_assert(TLSTAP_NACK_MAX_LEN ==
	      TLSTAP_MSG_HDR_LEN +
	      TLSTAP_NACK_MAX_RANGES * sizeof(struct tlstap_seq_range));

void wire_put_msg_hdr(void *buf, uint8_t type, uint8_t flags,
		      uint32_t stream_id, uint32_t seq, uint16_t len,
		      uint16_t count)
{
	struct tlstap_msg_hdr h = {
		.type = type,
		.version = TLSTAP_WIRE_VERSION,
		.hdr_len = TLSTAP_MSG_HDR_LEN,
		.flags = flags,
		.stream_id = cpu_to_be32(stream_id),
		.seq = cpu_to_be32(seq),
		.len = cpu_to_be16(len),
		.count = cpu_to_be16(count),
	};

	memcpy(buf, &h, sizeof(h));
}

void wire_put_chunk_hdr(void *buf, const struct wire_chunk_meta *m,
			uint32_t offset, uint16_t len)
{
	struct tlstap_chunk_hdr c = {
		.record_id = cpu_to_be32(m->record_id),
		.record_len = cpu_to_be32(m->record_len),
		.offset = cpu_to_be32(offset),
		.len = cpu_to_be16(len),
		.family = m->flow.family,
		.dir = m->flow.dir,
		.sport = cpu_to_be16(m->flow.sport),
		.dport = cpu_to_be16(m->flow.dport),
		.flags = m->flags,
		.writer_pid = cpu_to_be32(m->writer_pid),
		.writer_uid = cpu_to_be32(m->writer_uid),
	};

	memcpy(c.saddr, m->flow.saddr, sizeof(c.saddr));
	memcpy(c.daddr, m->flow.daddr, sizeof(c.daddr));
	memcpy(buf, &c, sizeof(c));
}

void wire_builder_start(struct wire_builder *b, uint8_t *buf, size_t cap,
			uint32_t stream_id, uint32_t seq, uint8_t flags)
{
	wire_put_msg_hdr(buf, TLSTAP_MSG_DATA, flags, stream_id, seq, 0, 0);
	b->buf = buf;
	b->cap = cap;
	b->len = TLSTAP_MSG_HDR_LEN;
	b->count = 0;
}

size_t wire_builder_room(const struct wire_builder *b)
{
	if (b->len + TLSTAP_CHUNK_HDR_LEN >= b->cap)
		return 0;
	return b->cap - b->len - TLSTAP_CHUNK_HDR_LEN;
}

void wire_builder_add(struct wire_builder *b, const struct wire_chunk_meta *m,
		      uint32_t offset, const void *data, size_t len)
{
	wire_put_chunk_hdr(b->buf + b->len, m, offset, (uint16_t)len);
	memcpy(b->buf + b->len + TLSTAP_CHUNK_HDR_LEN, data, len);
	b->len += TLSTAP_CHUNK_HDR_LEN + len;
	b->count++;
}

size_t wire_builder_finish(struct wire_builder *b)
{
	uint16_t len = cpu_to_be16((uint16_t)b->len);
	uint16_t count = cpu_to_be16(b->count);

	memcpy(b->buf + offsetof(struct tlstap_msg_hdr, len), &len, 2);
	memcpy(b->buf + offsetof(struct tlstap_msg_hdr, count), &count, 2);
	return b->len;
}

const char *wire_status_name(enum wire_status st)
{
	static const char *const names[WIRE_STATUS_COUNT] = {
		[WIRE_OK] = "ok",
		[WIRE_SHORT] = "short",
		[WIRE_BAD_TYPE] = "bad_type",
		[WIRE_BAD_VERSION] = "bad_version",
		[WIRE_BAD_HDR_LEN] = "bad_hdr_len",
		[WIRE_BAD_LEN] = "bad_len",
		[WIRE_BAD_FLAGS] = "bad_flags",
		[WIRE_BAD_SEQ] = "bad_seq",
		[WIRE_BAD_COUNT] = "bad_count",
		[WIRE_BAD_BODY_LEN] = "bad_body_len",
		[WIRE_CHUNK_TRUNCATED] = "chunk_truncated",
		[WIRE_CHUNK_EMPTY] = "chunk_empty",
		[WIRE_CHUNK_BAD_RECORD_LEN] = "chunk_bad_record_len",
		[WIRE_CHUNK_BAD_RANGE] = "chunk_bad_range",
		[WIRE_CHUNK_BAD_FLOW] = "chunk_bad_flow",
		[WIRE_CHUNK_BAD_FLAGS] = "chunk_bad_flags",
		[WIRE_TRAILING] = "trailing_bytes",
		[WIRE_BAD_RANGES] = "bad_ranges",
		[WIRE_BAD_HEARTBEAT] = "bad_heartbeat",
	};

	return (unsigned int)st < WIRE_STATUS_COUNT ? names[st] : "unknown";
}

enum wire_status wire_parse_msg(const void *buf, size_t len,
				struct wire_msg *out)
{
	struct tlstap_msg_hdr h;

	if (len < sizeof(h))
		return WIRE_SHORT;
	memcpy(&h, buf, sizeof(h));
	if (h.type < TLSTAP_MSG_DATA || h.type > TLSTAP_MSG_HEARTBEAT)
		return WIRE_BAD_TYPE;
	if (h.version != TLSTAP_WIRE_VERSION)
		return WIRE_BAD_VERSION;
	if (h.hdr_len != TLSTAP_MSG_HDR_LEN)
		return WIRE_BAD_HDR_LEN;
	if (be16_to_cpu(h.len) != len || len > TLSTAP_MAX_DGRAM)
		return WIRE_BAD_LEN;
	if (h.flags & ~(h.type == TLSTAP_MSG_DATA ? TLSTAP_MSG_F_RETRANSMIT : 0))
		return WIRE_BAD_FLAGS;
	switch (h.type) {
	case TLSTAP_MSG_NACK:
	case TLSTAP_MSG_GAP:
		if (h.seq)
			return WIRE_BAD_SEQ;
		if (len - sizeof(h) !=
		    (size_t)be16_to_cpu(h.count) * sizeof(struct tlstap_seq_range))
			return WIRE_BAD_BODY_LEN;
		break;
	case TLSTAP_MSG_HEARTBEAT:
		if (h.count)
			return WIRE_BAD_COUNT;
		if (len - sizeof(h) != sizeof(struct tlstap_heartbeat))
			return WIRE_BAD_BODY_LEN;
		break;
	}

	out->type = h.type;
	out->version = h.version;
	out->flags = h.flags;
	out->stream_id = be32_to_cpu(h.stream_id);
	out->seq = be32_to_cpu(h.seq);
	out->len = be16_to_cpu(h.len);
	out->count = be16_to_cpu(h.count);
	out->body = (const uint8_t *)buf + sizeof(h);
	out->body_len = len - sizeof(h);
	return WIRE_OK;
}

/* Decodes the chunk at *pos without judging it; 0 if it does not fit. */
static int decode_chunk(const struct wire_msg *msg, size_t pos,
			struct wire_chunk *out, const uint8_t **reserved)
{
	struct tlstap_chunk_hdr c;

	if (msg->body_len - pos < sizeof(c))
		return 0;
	memcpy(&c, msg->body + pos, sizeof(c));
	out->meta.record_id = be32_to_cpu(c.record_id);
	out->meta.record_len = be32_to_cpu(c.record_len);
	out->meta.flow.family = c.family;
	out->meta.flow.dir = c.dir;
	out->meta.flow.sport = be16_to_cpu(c.sport);
	out->meta.flow.dport = be16_to_cpu(c.dport);
	memcpy(out->meta.flow.saddr, c.saddr, 16);
	memcpy(out->meta.flow.daddr, c.daddr, 16);
	out->meta.flags = c.flags;
	out->meta.writer_pid = be32_to_cpu(c.writer_pid);
	out->meta.writer_uid = be32_to_cpu(c.writer_uid);
	out->offset = be32_to_cpu(c.offset);
	out->len = be16_to_cpu(c.len);
	out->data = msg->body + pos + sizeof(c);
	*reserved = msg->body + pos + offsetof(struct tlstap_chunk_hdr, reserved);
	return 1;
}

enum wire_status wire_check_data(const struct wire_msg *msg,
				 uint32_t max_msg_len)
{
	uint64_t max_record_len = (uint64_t)TLSTAP_RECORD_HDR_LEN + max_msg_len;
	size_t pos = 0;

	if (msg->type != TLSTAP_MSG_DATA)
		return WIRE_BAD_TYPE;
	if (!msg->count)
		return WIRE_BAD_COUNT;
	for (unsigned int i = 0; i < msg->count; i++) {
		struct wire_chunk ch;
		const uint8_t *reserved;

		if (!decode_chunk(msg, pos, &ch, &reserved))
			return WIRE_CHUNK_TRUNCATED;
		pos += TLSTAP_CHUNK_HDR_LEN;
		if (!ch.len)
			return WIRE_CHUNK_EMPTY;
		if (msg->body_len - pos < ch.len)
			return WIRE_CHUNK_TRUNCATED;
		pos += ch.len;
		/* record_len 72 is a loss report: a header, no plaintext. */
		if (ch.meta.record_len < TLSTAP_RECORD_HDR_LEN ||
		    ch.meta.record_len > max_record_len)
			return WIRE_CHUNK_BAD_RECORD_LEN;
		if ((uint64_t)ch.offset + ch.len > ch.meta.record_len)
			return WIRE_CHUNK_BAD_RANGE;
		if (record_flow_check(&ch.meta.flow) != RECORD_OK)
			return WIRE_CHUNK_BAD_FLOW;
		if ((ch.meta.flags & ~TLSTAP_CHUNK_F_ABORTED) || reserved[0] ||
		    reserved[1] || reserved[2])
			return WIRE_CHUNK_BAD_FLAGS;
	}
	if (pos != msg->body_len)
		return WIRE_TRAILING;
	return WIRE_OK;
}

int wire_next_chunk(const struct wire_msg *msg, size_t *pos,
		    struct wire_chunk *out)
{
	const uint8_t *reserved;

	if (*pos >= msg->body_len || !decode_chunk(msg, *pos, out, &reserved))
		return 0;
	*pos += TLSTAP_CHUNK_HDR_LEN + out->len;
	return 1;
}

struct wire_range wire_get_range(const struct wire_msg *msg, unsigned int i)
{
	struct tlstap_seq_range r;
	struct wire_range out;

	memcpy(&r, msg->body + (size_t)i * sizeof(r), sizeof(r));
	out.first = be32_to_cpu(r.first);
	out.last = be32_to_cpu(r.last);
	return out;
}

enum wire_status wire_check_ranges(const struct wire_msg *msg)
{
	if ((msg->type != TLSTAP_MSG_NACK && msg->type != TLSTAP_MSG_GAP) ||
	    !msg->count || msg->count > TLSTAP_NACK_MAX_RANGES)
		return WIRE_BAD_RANGES;
	for (unsigned int i = 0; i < msg->count; i++) {
		struct wire_range r = wire_get_range(msg, i);

		/* Serial order: last is first + 0..1023. */
		if (r.last - r.first >= TLSTAP_NACK_MAX_SPAN)
			return WIRE_BAD_RANGES;
		if (i) {
			struct wire_range p = wire_get_range(msg, i - 1);

			if ((int32_t)(r.first - p.last) <= 0)
				return WIRE_BAD_RANGES;
		}
	}
	return WIRE_OK;
}

size_t wire_build_ranges(uint8_t *buf, uint8_t type, uint32_t stream_id,
			 const struct wire_range *ranges, unsigned int n)
{
	size_t len = TLSTAP_MSG_HDR_LEN + n * sizeof(struct tlstap_seq_range);

	wire_put_msg_hdr(buf, type, 0, stream_id, 0, (uint16_t)len,
			 (uint16_t)n);
	for (unsigned int i = 0; i < n; i++) {
		struct tlstap_seq_range r = {
			.first = cpu_to_be32(ranges[i].first),
			.last = cpu_to_be32(ranges[i].last),
		};

		memcpy(buf + TLSTAP_MSG_HDR_LEN + i * sizeof(r), &r, sizeof(r));
	}
	return len;
}

enum wire_status wire_check_heartbeat(const struct wire_msg *msg,
				      struct wire_heartbeat *out)
{
	struct tlstap_heartbeat hb;

	if (msg->type != TLSTAP_MSG_HEARTBEAT || msg->body_len != sizeof(hb))
		return WIRE_BAD_HEARTBEAT;
	memcpy(&hb, msg->body, sizeof(hb));
	out->highest = msg->seq;
	out->oldest = be32_to_cpu(hb.oldest_seq);
	if (hb.reserved || (int32_t)(out->oldest - (out->highest + 1)) > 0)
		return WIRE_BAD_HEARTBEAT;
	return WIRE_OK;
}

size_t wire_build_heartbeat(uint8_t *buf, uint32_t stream_id,
			    uint32_t highest, uint32_t oldest)
{
	struct tlstap_heartbeat hb = { .oldest_seq = cpu_to_be32(oldest) };

	wire_put_msg_hdr(buf, TLSTAP_MSG_HEARTBEAT, 0, stream_id, highest,
			 WIRE_HEARTBEAT_LEN, 0);
	memcpy(buf + TLSTAP_MSG_HDR_LEN, &hb, sizeof(hb));
	return WIRE_HEARTBEAT_LEN;
}
