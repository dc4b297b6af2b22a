// SPDX-License-Identifier: GPL-2.0
/*
 * A record header as the module sees it: checked by the rules every
 * component shares (shared/record.c), then kept in network order with
 * pointers into the header, as the steering and the chunks want it.
 */
#include "record.h"
#include "recinfo.h"

/*
 * Returns 0, -EINVAL for a malformed header or -EMSGSIZE for a plaintext
 * longer than max_msg_len.
 */
int tlstap_record_parse(const struct tlstap_record *rec, u32 max_msg_len,
			struct tlstap_record_info *info)
{
	int err = record_status_errno(record_check_hdr(rec, max_msg_len));

	if (err)
		return err;
	info->msg_len = be32_to_cpu(rec->msg_len);
	info->len = TLSTAP_RECORD_HDR_LEN + info->msg_len;
	info->family = rec->family;
	info->dir = rec->dir;
	info->sport = rec->sport;
	info->dport = rec->dport;
	info->conn_id = rec->conn_id;
	info->saddr = rec->saddr;
	info->daddr = rec->daddr;
	return 0;
}
