// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "meta.h"

#include <string.h>

#include "record.h"

void record_header(struct tlstap_record *hdr, uint8_t type, uint8_t dir,
		   const struct session_info *si, uint32_t msg_len,
		   uint32_t pid, uint64_t timestamp_ns, uint64_t dropped)
{
	const struct flow *f = &si->flow;
	bool from_local = dir == TLSTAP_DIR_WRITE;
	struct record_info ri = {
		.type = type,
		.flow = {
			.family = f->family,
			.dir = dir,
			.sport = from_local ? f->local_port : f->remote_port,
			.dport = from_local ? f->remote_port : f->local_port,
		},
		.msg_len = msg_len,
		.pid = pid,
		.timestamp_ns = timestamp_ns,
		.conn_id = si->conn_id,
		.dropped = dropped,
	};

	memcpy(ri.flow.saddr, from_local ? f->local_addr : f->remote_addr, 16);
	memcpy(ri.flow.daddr, from_local ? f->remote_addr : f->local_addr, 16);
	record_encode_hdr(hdr, &ri);
}
