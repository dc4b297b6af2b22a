// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A record is trusted by nothing downstream until it passes here: every
 * field has one valid range, reserved bytes are zero, and the length is
 * bounded before anything is reserved for it. The module, tlstap-fwd and
 * the receivers compile this one file.
 */
#include "record.h"

static_assert(sizeof(struct tlstap_record) == TLSTAP_RECORD_HDR_LEN);

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

/* The record types a writer may hand over: a new type is one case here. */
static bool type_valid(uint8_t type)
{
	switch (type) {
	case TLSTAP_RECORD_DATA:
	case TLSTAP_RECORD_OPEN:
	case TLSTAP_RECORD_CLOSE:
		return true;
	default:
		return false;
	}
}

static enum record_status flow_check(uint8_t family, uint8_t dir,
				     uint16_t sport, uint16_t dport,
				     const uint8_t *saddr, const uint8_t *daddr)
{
	if (dir != TLSTAP_DIR_READ && dir != TLSTAP_DIR_WRITE)
		return RECORD_BAD_DIR;
	switch (family) {
	case TLSTAP_FAMILY_NONE:
		if (sport || dport || !all_zero(saddr, 16) ||
		    !all_zero(daddr, 16))
			return RECORD_BAD_FLOW;
		return RECORD_OK;
	case TLSTAP_FAMILY_IPV4:
		if (!all_zero(saddr + 4, 12) || !all_zero(daddr + 4, 12))
			return RECORD_BAD_FLOW;
		fallthrough;
	case TLSTAP_FAMILY_IPV6:
		/* A TCP connection never has port 0. */
		if (!sport || !dport)
			return RECORD_BAD_FLOW;
		return RECORD_OK;
	default:
		return RECORD_BAD_FAMILY;
	}
}

enum record_status record_flow_check(const struct record_flow *flow)
{
	return flow_check(flow->family, flow->dir, flow->sport, flow->dport,
			  flow->saddr, flow->daddr);
}

enum record_status record_check_hdr(const struct tlstap_record *hdr,
				    uint32_t max_msg_len)
{
	uint32_t msg_len = be32_to_cpu(hdr->msg_len);
	enum record_status st;

	if (!type_valid(hdr->type))
		return RECORD_BAD_TYPE;
	if (hdr->hdr_len != TLSTAP_RECORD_HDR_LEN)
		return RECORD_BAD_HDR_LEN;
	/* Ports are only compared with 0: their byte order does not matter. */
	st = flow_check(hdr->family, hdr->dir, hdr->sport, hdr->dport,
			hdr->saddr, hdr->daddr);
	if (st != RECORD_OK)
		return st;
	if (hdr->type == TLSTAP_RECORD_DATA) {
		/* Empty data records exist only to report a loss. */
		if (!msg_len && !hdr->dropped)
			return RECORD_EMPTY;
	} else if (msg_len || hdr->dropped) {
		/* OPEN and CLOSE say when, never what or how much. */
		return RECORD_BAD_LIFECYCLE;
	}
	if (msg_len > max_msg_len)
		return RECORD_TOO_LONG;
	return RECORD_OK;
}

int record_status_errno(enum record_status st)
{
	switch (st) {
	case RECORD_OK:
		return 0;
	case RECORD_TOO_LONG:
		return -EMSGSIZE;
	default:
		return -EINVAL;
	}
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

enum record_status record_parse(const void *buf, size_t avail,
				uint32_t max_msg_len, struct record_info *out)
{
	struct tlstap_record h;
	enum record_status st;

	if (avail < sizeof(h))
		return RECORD_SHORT;
	memcpy(&h, buf, sizeof(h));
	/* Filled in before the checks: a caller may name the flow it refuses. */
	memset(out, 0, sizeof(*out));
	out->type = h.type;
	out->flow.family = h.family;
	out->flow.dir = h.dir;
	out->flow.sport = be16_to_cpu(h.sport);
	out->flow.dport = be16_to_cpu(h.dport);
	memcpy(out->flow.saddr, h.saddr, 16);
	memcpy(out->flow.daddr, h.daddr, 16);
	out->msg_len = be32_to_cpu(h.msg_len);
	out->dropped = be64_to_cpu(h.dropped);
	st = record_check_hdr(&h, max_msg_len);
	if (st != RECORD_OK)
		return st;
	if (avail - TLSTAP_RECORD_HDR_LEN < out->msg_len)
		return RECORD_SHORT;
	out->len = TLSTAP_RECORD_HDR_LEN + out->msg_len;
	out->pid = be32_to_cpu(h.pid);
	out->timestamp_ns = be64_to_cpu(h.timestamp_ns);
	out->conn_id = be64_to_cpu(h.conn_id);
	out->bytes = buf;
	out->msg = (const uint8_t *)buf + TLSTAP_RECORD_HDR_LEN;
	return RECORD_OK;
}

void record_encode_hdr(struct tlstap_record *hdr,
		       const struct record_info *info)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->type = info->type;
	hdr->dir = info->flow.dir;
	hdr->family = info->flow.family;
	hdr->hdr_len = TLSTAP_RECORD_HDR_LEN;
	hdr->sport = cpu_to_be16(info->flow.sport);
	hdr->dport = cpu_to_be16(info->flow.dport);
	hdr->msg_len = cpu_to_be32(info->msg_len);
	hdr->pid = cpu_to_be32(info->pid);
	memcpy(hdr->saddr, info->flow.saddr, 16);
	memcpy(hdr->daddr, info->flow.daddr, 16);
	hdr->timestamp_ns = cpu_to_be64(info->timestamp_ns);
	hdr->conn_id = cpu_to_be64(info->conn_id);
	hdr->dropped = cpu_to_be64(info->dropped);
}
