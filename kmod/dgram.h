/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's datagrams: their size for a path MTU, where a record's
 * chunks go, and the module's side of the wire format of shared/wire.c.
 */
#ifndef _TLSTAP_DGRAM_H
#define _TLSTAP_DGRAM_H

#include <linux/types.h>
#include <linux/tlstap.h>

#include "wire.h"
#include "recinfo.h"

/* A ring slot, in a page of its own: the largest datagram we build. */
#define TLSTAP_SLOT_SIZE	TLSTAP_MAX_MODULE_DGRAM

u32 tlstap_wire_capacity(u32 mtu, bool ipv6);

static inline u32 tlstap_wire_slot_data(u32 cap)
{
	return cap - TLSTAP_MSG_HDR_LEN - TLSTAP_CHUNK_HDR_LEN;
}

/* Room for one more chunk with at least one byte of data? */
static inline bool tlstap_wire_room(u32 used, u32 cap)
{
	return used + TLSTAP_CHUNK_HDR_LEN < cap;
}

/*
 * Where a record of len bytes goes: first_len bytes into the open slot
 * (which has room bytes left; 0 when there is none), the rest into
 * new_slots fresh slots of capacity cap, the last holding last_len bytes.
 */
struct tlstap_wire_plan {
	u32 first_len;
	u32 new_slots;
	u32 last_len;
};

void tlstap_wire_plan(u32 room, u32 cap, u32 len, struct tlstap_wire_plan *p);

int tlstap_wire_parse_nack(const u8 *buf, u32 len, u32 *stream_id,
			   struct wire_range *ranges);
void tlstap_wire_chunk_hdr(void *buf, const struct tlstap_record_info *ri,
			   const struct tlstap_writer *writer, u32 record_id,
			   u32 offset, u16 len, u8 flags);

#endif /* _TLSTAP_DGRAM_H */
