// SPDX-License-Identifier: GPL-2.0
/*
 * The datagram layout of include/uapi/linux/tlstap.h, written field by
 * field in network order; chunks are not aligned on the wire.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/minmax.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/build_bug.h>

#include "wire.h"

static_assert(sizeof(struct tlstap_msg_hdr) == TLSTAP_MSG_HDR_LEN);
static_assert(sizeof(struct tlstap_chunk_hdr) == TLSTAP_CHUNK_HDR_LEN);
static_assert(sizeof(struct tlstap_seq_range) == 8);
static_assert(sizeof(struct tlstap_heartbeat) == 8);
static_assert(TLSTAP_SLOT_SIZE <= PAGE_SIZE);
static_assert(TLSTAP_MIN_CAPACITY ==
	      TLSTAP_MSG_HDR_LEN + TLSTAP_CHUNK_HDR_LEN + 64);

/* Returns 0 when the MTU is too small to carry our datagrams at all. */
u32 tlstap_wire_capacity(u32 mtu, bool ipv6)
{
	u32 hdrs = sizeof(struct udphdr) +
		   (ipv6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));

	if (mtu < hdrs + TLSTAP_MIN_CAPACITY)
		return 0;
	return min_t(u32, mtu - hdrs, TLSTAP_SLOT_SIZE);
}

void tlstap_wire_plan(u32 room, u32 cap, u32 len, struct tlstap_wire_plan *p)
{
	u32 per_slot = tlstap_wire_slot_data(cap);
	u32 rest;

	p->first_len = 0;
	if (room > TLSTAP_CHUNK_HDR_LEN)
		p->first_len = min(len, room - TLSTAP_CHUNK_HDR_LEN);
	rest = len - p->first_len;
	p->new_slots = DIV_ROUND_UP(rest, per_slot);
	p->last_len = p->new_slots ? rest - (p->new_slots - 1) * per_slot : 0;
}

void tlstap_wire_msg_hdr(void *buf, u8 type, u8 flags, u32 stream_id,
			 u32 seq, u16 len, u16 count)
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

/*
 * Validates a NACK of len bytes: every header field, and ranges that are
 * ascending, disjoint and at most TLSTAP_NACK_MAX_SPAN long, in serial
 * number order. Returns the number of ranges, or -EINVAL.
 */
int tlstap_wire_parse_nack(const u8 *buf, u32 len, u32 *stream_id,
			   struct tlstap_range *ranges)
{
	struct tlstap_msg_hdr h;
	u32 i, count;

	if (len < sizeof(h) || len > TLSTAP_NACK_MAX_LEN)
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	count = be16_to_cpu(h.count);
	if (h.type != TLSTAP_MSG_NACK || h.version != TLSTAP_WIRE_VERSION ||
	    h.hdr_len != TLSTAP_MSG_HDR_LEN || h.flags || h.seq ||
	    be16_to_cpu(h.len) != len || !count ||
	    len != sizeof(h) + count * sizeof(struct tlstap_seq_range))
		return -EINVAL;

	for (i = 0; i < count; i++) {
		struct tlstap_seq_range r;

		memcpy(&r, buf + sizeof(h) + i * sizeof(r), sizeof(r));
		ranges[i].first = be32_to_cpu(r.first);
		ranges[i].last = be32_to_cpu(r.last);
		if (ranges[i].last - ranges[i].first >= TLSTAP_NACK_MAX_SPAN)
			return -EINVAL;
		if (i && (s32)(ranges[i].first - ranges[i - 1].last) <= 0)
			return -EINVAL;
	}
	*stream_id = be32_to_cpu(h.stream_id);
	return count;
}

void tlstap_wire_chunk_hdr(void *buf, const struct tlstap_record_info *ri,
			   const struct tlstap_writer *writer, u32 record_id,
			   u32 offset, u16 len, u8 flags)
{
	struct tlstap_chunk_hdr c = {
		.record_id = cpu_to_be32(record_id),
		.record_len = cpu_to_be32(ri->len),
		.offset = cpu_to_be32(offset),
		.len = cpu_to_be16(len),
		.family = ri->family,
		.dir = ri->dir,
		.sport = ri->sport,
		.dport = ri->dport,
		.flags = flags,
		.writer_pid = cpu_to_be32(writer->pid),
		.writer_uid = cpu_to_be32(writer->uid),
	};

	memcpy(c.saddr, ri->saddr, sizeof(c.saddr));
	memcpy(c.daddr, ri->daddr, sizeof(c.daddr));
	memcpy(buf, &c, sizeof(c));
}
