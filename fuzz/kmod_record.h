/* SPDX-License-Identifier: GPL-2.0 */
#ifndef TLSTAP_FUZZ_KMOD_RECORD_H
#define TLSTAP_FUZZ_KMOD_RECORD_H
#include <stdint.h>
/* tlstap_record_parse() of kmod/recinfo.c: 0, -EINVAL or -EMSGSIZE. */
int kmod_record_check(const void *hdr, uint32_t max_msg_len, uint32_t *len);
#endif
