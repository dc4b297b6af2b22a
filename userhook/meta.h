/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the hook knows of a record besides its plaintext, and its header
 * as include/uapi/linux/tlstap.h has it (encoded by shared/record.c).
 */
#ifndef TLSTAP_HOOK_META_H
#define TLSTAP_HOOK_META_H

#include <linux/tlstap.h>
#include <stdint.h>

#include "session.h"

/*
 * type is an enum tlstap_record_type; dir is TLSTAP_DIR_READ or _WRITE:
 * the plaintext came from the peer (READ) or from this end (WRITE), which
 * decides which end is the source. An OPEN or CLOSE names its connection
 * from client to server: dir WRITE when this end is the client.
 */
void record_header(struct tlstap_record *hdr, uint8_t type, uint8_t dir,
		   const struct session_info *si, uint32_t msg_len,
		   uint32_t pid, uint64_t timestamp_ns, uint64_t dropped);

/* What a record says besides its plaintext and its length. */
struct record_meta {
	uint8_t type;
	uint8_t dir;
	const struct session_info *si;
	uint32_t pid;
	uint64_t timestamp_ns;
	uint64_t dropped;
};

#endif /* TLSTAP_HOOK_META_H */
