// SPDX-License-Identifier: GPL-2.0
/*
 * Datagram sizing and record placement, and the module's calls into the
 * wire format's one encoder and parser (shared/wire.c).
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/minmax.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/build_bug.h>

#include "dgram.h"

static_assert(TLSTAP_SLOT_SIZE <= PAGE_SIZE);

/* Returns 0 when the MTU is too small to carry our datagrams at all. */
u32 tlstap_wire_capacity(u32 mtu, bool ipv6)
{
	u32 hdrs = sizeof(struct udphdr) +
		   (ipv6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));

	if (mtu < hdrs + TLSTAP_MIN_DGRAM)
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

/*
 * Validates a NACK of len bytes as every receiver validates one: every
 * header field, and ranges that are ascending, disjoint and at most
 * TLSTAP_NACK_MAX_SPAN long, in serial number order. Returns the number
 * of ranges, or -EINVAL.
 */
int tlstap_wire_parse_nack(const u8 *buf, u32 len, u32 *stream_id,
			   struct wire_range *ranges)
{
	struct wire_msg msg;
	unsigned int i;

	if (wire_parse_msg(buf, len, &msg) != WIRE_OK ||
	    msg.type != TLSTAP_MSG_NACK || wire_check_ranges(&msg) != WIRE_OK)
		return -EINVAL;
	for (i = 0; i < msg.count; i++)
		ranges[i] = wire_get_range(&msg, i);
	*stream_id = msg.stream_id;
	return msg.count;
}

void tlstap_wire_chunk_hdr(void *buf, const struct tlstap_record_info *ri,
			   const struct tlstap_writer *writer, u32 record_id,
			   u32 offset, u16 len, u8 flags)
{
	struct wire_chunk_meta m = {
		.record_id = record_id,
		.record_len = ri->len,
		.flow = {
			.family = ri->family,
			.dir = ri->dir,
			.sport = be16_to_cpu(ri->sport),
			.dport = be16_to_cpu(ri->dport),
		},
		.flags = flags,
		.writer_pid = writer->pid,
		.writer_uid = writer->uid,
	};

	memcpy(m.flow.saddr, ri->saddr, sizeof(m.flow.saddr));
	memcpy(m.flow.daddr, ri->daddr, sizeof(m.flow.daddr));
	wire_put_chunk_hdr(buf, &m, offset, len);
}
