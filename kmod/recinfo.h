/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module keeps of a record header that shared/record.c's rules
 * accepted, and who handed the record over.
 */
#ifndef _TLSTAP_RECINFO_H
#define _TLSTAP_RECINFO_H

#include <linux/types.h>
#include <linux/tlstap.h>

/* What the rest of the module needs from a validated record header. */
struct tlstap_record_info {
	u32 msg_len;
	u32 len;		/* TLSTAP_RECORD_HDR_LEN + msg_len */
	u8 family;
	u8 dir;
	__be16 sport;
	__be16 dport;
	__be64 conn_id;
	const u8 *saddr;	/* point into the header */
	const u8 *daddr;
};

/*
 * Who handed a record over, as the kernel knows it (not as the record
 * claims): stamped into every chunk of the record.
 */
struct tlstap_writer {
	u32 pid;		/* thread group id, initial pid namespace */
	u32 uid;		/* initial user namespace */
};

int tlstap_record_parse(const struct tlstap_record *rec, u32 max_msg_len,
			struct tlstap_record_info *info);

#endif /* _TLSTAP_RECINFO_H */
