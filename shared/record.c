// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Every field has one valid range and reserved bytes are zero. The rules
 * and their order are kmod/record.c's: a header the module refuses with
 * EINVAL is refused here as bad_type, bad_hdr_len, bad_dir, bad_family,
 * bad_flow, empty or bad_lifecycle; one it refuses with EMSGSIZE as
 * too_long.
 */
#include <endian.h>
#include <string.h>

#include "record.h"

_Static_assert(sizeof(struct tlstap_record) == TLSTAP_RECORD_HDR_LEN,
	       "record header size");

static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

enum record_status record_flow_check(const struct record_flow *flow)
{
	if (flow->dir != TLSTAP_DIR_READ && flow->dir != TLSTAP_DIR_WRITE)
		return RECORD_BAD_DIR;
	switch (flow->family) {
	case TLSTAP_FAMILY_NONE:
		if (flow->sport || flow->dport || !all_zero(flow->saddr, 16) ||
		    !all_zero(flow->daddr, 16))
			return RECORD_BAD_FLOW;
		return RECORD_OK;
	case TLSTAP_FAMILY_IPV4:
		if (!all_zero(flow->saddr + 4, 12) ||
		    !all_zero(flow->daddr + 4, 12))
			return RECORD_BAD_FLOW;
		/* fall through */
	case TLSTAP_FAMILY_IPV6:
		/* A TCP connection never has port 0. */
		if (!flow->sport || !flow->dport)
			return RECORD_BAD_FLOW;
		return RECORD_OK;
	default:
		return RECORD_BAD_FAMILY;
	}
}

enum record_status record_parse(const void *buf, size_t avail,
				uint32_t max_msg_len, struct record_info *out)
{
	struct tlstap_record h;
	enum record_status st;

	if (avail < sizeof(h))
		return RECORD_SHORT;
	memcpy(&h, buf, sizeof(h));
	if (h.type != TLSTAP_RECORD_DATA && h.type != TLSTAP_RECORD_OPEN &&
	    h.type != TLSTAP_RECORD_CLOSE)
		return RECORD_BAD_TYPE;
	if (h.hdr_len != TLSTAP_RECORD_HDR_LEN)
		return RECORD_BAD_HDR_LEN;

	memset(out, 0, sizeof(*out));
	out->type = h.type;
	out->flow.family = h.family;
	out->flow.dir = h.dir;
	out->flow.sport = be16toh(h.sport);
	out->flow.dport = be16toh(h.dport);
	memcpy(out->flow.saddr, h.saddr, 16);
	memcpy(out->flow.daddr, h.daddr, 16);
	st = record_flow_check(&out->flow);
	if (st != RECORD_OK)
		return st;

	out->msg_len = be32toh(h.msg_len);
	out->dropped = be64toh(h.dropped);
	if (out->type == TLSTAP_RECORD_DATA) {
		/* Empty data records exist only to report a loss. */
		if (!out->msg_len && !out->dropped)
			return RECORD_EMPTY;
	} else if (out->msg_len || out->dropped) {
		/* OPEN and CLOSE say when, never what or how much. */
		return RECORD_BAD_LIFECYCLE;
	}
	if (out->msg_len > max_msg_len)
		return RECORD_TOO_LONG;
	if (avail - TLSTAP_RECORD_HDR_LEN < out->msg_len)
		return RECORD_SHORT;
	out->len = TLSTAP_RECORD_HDR_LEN + out->msg_len;
	out->pid = be32toh(h.pid);
	out->timestamp_ns = be64toh(h.timestamp_ns);
	out->conn_id = be64toh(h.conn_id);
	out->bytes = buf;
	out->msg = (const uint8_t *)buf + TLSTAP_RECORD_HDR_LEN;
	return RECORD_OK;
}

const char *record_status_name(enum record_status st)
{
	static const char *const names[RECORD_STATUS_COUNT] = {
		[RECORD_OK] = "ok",
		[RECORD_SHORT] = "truncated",
		[RECORD_BAD_TYPE] = "bad_type",
		[RECORD_BAD_HDR_LEN] = "bad_hdr_len",
		[RECORD_BAD_DIR] = "bad_dir",
		[RECORD_BAD_FAMILY] = "bad_family",
		[RECORD_BAD_FLOW] = "bad_flow",
		[RECORD_EMPTY] = "empty",
		[RECORD_BAD_LIFECYCLE] = "bad_lifecycle",
		[RECORD_TOO_LONG] = "too_long",
	};

	return (unsigned int)st < RECORD_STATUS_COUNT ? names[st] : "unknown";
}

void record_encode_hdr(struct tlstap_record *hdr,
		       const struct record_info *info)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->type = info->type;
	hdr->dir = info->flow.dir;
	hdr->family = info->flow.family;
	hdr->hdr_len = TLSTAP_RECORD_HDR_LEN;
	hdr->sport = htobe16(info->flow.sport);
	hdr->dport = htobe16(info->flow.dport);
	hdr->msg_len = htobe32(info->msg_len);
	hdr->pid = htobe32(info->pid);
	memcpy(hdr->saddr, info->flow.saddr, 16);
	memcpy(hdr->daddr, info->flow.daddr, 16);
	hdr->timestamp_ns = htobe64(info->timestamp_ns);
	hdr->conn_id = htobe64(info->conn_id);
	hdr->dropped = htobe64(info->dropped);
}
