/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Capture records (struct tlstap_record + plaintext): the one set of
 * validation rules and the one header encoder, compiled into tlstap.ko,
 * tlstap-fwd and the receivers, so that a record one accepts is a record
 * every other accepts.
 */
#ifndef _TLSTAP_RECORD_H
#define _TLSTAP_RECORD_H

#include "kcompat.h"
#include <linux/tlstap.h>

enum record_status {
	RECORD_OK = 0,
	RECORD_SHORT,		/* fewer bytes than the header or the record */
	RECORD_BAD_TYPE,
	RECORD_BAD_HDR_LEN,
	RECORD_BAD_DIR,
	RECORD_BAD_FAMILY,
	RECORD_BAD_FLOW,	/* addresses/ports not valid for the family */
	RECORD_EMPTY,		/* DATA, msg_len 0 and dropped 0: reports nothing */
	RECORD_BAD_LIFECYCLE,	/* OPEN or CLOSE with msg_len or dropped */
	RECORD_TOO_LONG,	/* msg_len above the configured maximum */
	RECORD_STATUS_COUNT
};

/* A flow as every layer names it: family, both ends, direction. */
struct record_flow {
	uint8_t family;		/* enum tlstap_family */
	uint8_t dir;		/* enum tlstap_dir */
	uint16_t sport;		/* host order */
	uint16_t dport;
	uint8_t saddr[16];
	uint8_t daddr[16];
};

/*
 * Checks a record header, the rules in their one order; the plaintext's
 * presence is the caller's (record_parse() checks it).
 */
enum record_status record_check_hdr(const struct tlstap_record *hdr,
				    uint32_t max_msg_len);

/* Checks the flow fields exactly as for a record header. */
enum record_status record_flow_check(const struct record_flow *flow);

/*
 * The errno the module answers a write with: 0, -EINVAL for a malformed
 * header, -EMSGSIZE for a plaintext longer than the maximum.
 */
int record_status_errno(enum record_status st);

const char *record_status_name(enum record_status st);

/* A parsed record: host-order copies of the header, pointers into buf. */
struct record_info {
	uint8_t type;		/* enum tlstap_record_type */
	struct record_flow flow;
	uint32_t msg_len;
	uint32_t len;		/* TLSTAP_RECORD_HDR_LEN + msg_len */
	uint32_t pid;
	uint64_t timestamp_ns;
	uint64_t conn_id;
	uint64_t dropped;
	const uint8_t *bytes;	/* the whole record, len bytes */
	const uint8_t *msg;	/* the plaintext, msg_len bytes */
};

/* A data record with no plaintext tells that dropped bytes were lost. */
static inline bool record_is_loss_report(const struct record_info *r)
{
	return r->type == TLSTAP_RECORD_DATA && r->msg_len == 0;
}

/*
 * Parses the record at the start of buf (avail bytes). A loss report
 * (DATA, msg_len 0, dropped > 0), an OPEN and a CLOSE (msg_len 0,
 * dropped 0) are valid records. RECORD_SHORT when
 * the header or the plaintext is not all there; any other error means the
 * header itself is malformed and its msg_len cannot be trusted.
 */
enum record_status record_parse(const void *buf, size_t avail,
				uint32_t max_msg_len, struct record_info *out);

/* Writes a record header for info (type, flow, msg_len, pid, times) into hdr. */
void record_encode_hdr(struct tlstap_record *hdr,
		       const struct record_info *info);

#endif /* _TLSTAP_RECORD_H */
