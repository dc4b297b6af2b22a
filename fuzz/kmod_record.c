// SPDX-License-Identifier: GPL-2.0
/*
 * kmod/recinfo.c (compiled from the module's own source against
 * fuzz/kshim) behind an interface the harness can call without the
 * kernel's types: the record harness checks that tlstap-fwd's parser and
 * /dev/tlstap's accept and refuse the same headers.
 */
#include "kmod_record.h"
#include "recinfo.h"

#include <string.h>

int kmod_record_check(const void *hdr, uint32_t max_msg_len, uint32_t *len)
{
	struct tlstap_record_info info;
	struct tlstap_record rec;
	int rc;

	/* The module parses a copy in its own (aligned) buffer too. */
	memcpy(&rec, hdr, sizeof(rec));
	rc = tlstap_record_parse(&rec, max_msg_len, &info);

	if (!rc)
		*len = info.len;
	return rc;
}
