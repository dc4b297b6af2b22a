// SPDX-License-Identifier: GPL-2.0
/*
 * A record is trusted by nothing downstream until it passes here: every
 * field has one valid range, reserved bytes are zero, and the length is
 * bounded before anything is reserved for it.
 */
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/kernel.h>
#include <linux/build_bug.h>

#include "record.h"

static_assert(sizeof(struct tlstap_record) == TLSTAP_RECORD_HDR_LEN);

static bool all_zero(const u8 *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static bool flow_valid(const struct tlstap_record *rec)
{
	switch (rec->family) {
	case TLSTAP_FAMILY_NONE:
		return !rec->sport && !rec->dport &&
		       all_zero(rec->saddr, 16) && all_zero(rec->daddr, 16);
	case TLSTAP_FAMILY_IPV4:
		if (!all_zero(rec->saddr + 4, 12) ||
		    !all_zero(rec->daddr + 4, 12))
			return false;
		fallthrough;
	case TLSTAP_FAMILY_IPV6:
		/* A TCP connection never has port 0. */
		return rec->sport && rec->dport;
	default:
		return false;
	}
}

/*
 * Returns 0, -EINVAL for a malformed header or -EMSGSIZE for a plaintext
 * longer than max_msg_len.
 */
int tlstap_record_parse(const struct tlstap_record *rec, u32 max_msg_len,
			struct tlstap_record_info *info)
{
	u32 msg_len = be32_to_cpu(rec->msg_len);

	if (rec->type != TLSTAP_RECORD_DATA && rec->type != TLSTAP_RECORD_OPEN &&
	    rec->type != TLSTAP_RECORD_CLOSE)
		return -EINVAL;
	if (rec->hdr_len != TLSTAP_RECORD_HDR_LEN)
		return -EINVAL;
	if (rec->dir != TLSTAP_DIR_READ && rec->dir != TLSTAP_DIR_WRITE)
		return -EINVAL;
	if (!flow_valid(rec))
		return -EINVAL;
	if (rec->type == TLSTAP_RECORD_DATA) {
		/* Empty data records exist only to report a loss. */
		if (!msg_len && !rec->dropped)
			return -EINVAL;
	} else if (msg_len || rec->dropped) {
		/* OPEN and CLOSE say when, never what or how much. */
		return -EINVAL;
	}
	if (msg_len > max_msg_len)
		return -EMSGSIZE;

	info->msg_len = msg_len;
	info->len = TLSTAP_RECORD_HDR_LEN + msg_len;
	info->family = rec->family;
	info->dir = rec->dir;
	info->sport = rec->sport;
	info->dport = rec->dport;
	info->conn_id = rec->conn_id;
	info->saddr = rec->saddr;
	info->daddr = rec->daddr;
	return 0;
}
