// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Records and datagrams for the userspace unit tests (testrec.h). */
#include <string.h>

#include "testrec.h"

size_t make_record(uint8_t *buf, uint8_t family, uint8_t dir,
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

size_t build_one(uint8_t *dg, const uint8_t *rec, size_t rec_len)
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

enum wire_status check_dgram(const uint8_t *dg, size_t len)
{
	struct wire_msg msg;
	enum wire_status st = wire_parse_msg(dg, len, &msg);

	return st != WIRE_OK ? st : wire_check_data(&msg, 65536);
}
