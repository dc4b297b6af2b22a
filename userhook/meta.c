// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "record.h"

#include <arpa/inet.h>
#include <assert.h>
#include <endian.h>
#include <string.h>

static_assert(sizeof(struct tlstap_record) == TLSTAP_RECORD_HDR_LEN,
	      "struct tlstap_record must match TLSTAP_RECORD_HDR_LEN");

void record_header(struct tlstap_record *hdr, uint8_t type, uint8_t dir,
		   const struct session_info *si, uint32_t msg_len,
		   uint32_t pid, uint64_t timestamp_ns, uint64_t dropped)
{
	const struct flow *f = &si->flow;
	bool from_local = dir == TLSTAP_DIR_WRITE;

	hdr->type = type;
	hdr->dir = dir;
	hdr->family = f->family;
	hdr->hdr_len = TLSTAP_RECORD_HDR_LEN;
	hdr->sport = htons(from_local ? f->local_port : f->remote_port);
	hdr->dport = htons(from_local ? f->remote_port : f->local_port);
	hdr->msg_len = htonl(msg_len);
	hdr->pid = htonl(pid);
	memcpy(hdr->saddr, from_local ? f->local_addr : f->remote_addr, 16);
	memcpy(hdr->daddr, from_local ? f->remote_addr : f->local_addr, 16);
	hdr->timestamp_ns = htobe64(timestamp_ns);
	hdr->conn_id = htobe64(si->conn_id);
	hdr->dropped = htobe64(dropped);
}
