/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Malformed record headers, each breaking one of shared/record.c's rules,
 * with the status record_check_hdr() gives and the errno the module
 * answers a write() with: one table for the KUnit suite
 * (kmod/tests/record_test.c) and the userspace unit tests
 * (shared/tests/record_test.c).
 */
#ifndef _TLSTAP_RECORD_CASES_H
#define _TLSTAP_RECORD_CASES_H

#include "record.h"

/* The longest plaintext the cases are checked against. */
#define RECORD_CASES_MAX_MSG 65536

/* A valid header: IPv4 DATA, 100 bytes of plaintext, conn_id 7. */
static inline void record_case_v4(struct tlstap_record *r)
{
	static const uint8_t s[4] = { 10, 0, 0, 1 }, d[4] = { 10, 0, 0, 2 };

	memset(r, 0, sizeof(*r));
	r->type = TLSTAP_RECORD_DATA;
	r->dir = TLSTAP_DIR_WRITE;
	r->family = TLSTAP_FAMILY_IPV4;
	r->hdr_len = TLSTAP_RECORD_HDR_LEN;
	r->sport = cpu_to_be16(443);
	r->dport = cpu_to_be16(40000);
	r->msg_len = cpu_to_be32(100);
	memcpy(r->saddr, s, 4);
	memcpy(r->daddr, d, 4);
	r->conn_id = cpu_to_be64(7);
}

/* One field set to an invalid value, or a mangle for several fields. */
struct record_bad_case {
	const char *name;
	size_t off;
	size_t size;
	uint64_t value;
	void (*mangle)(struct tlstap_record *r);
	enum record_status status;	/* record_check_hdr()'s */
	int err;			/* the module's answer to write() */
};

#define RECORD_OFF(f) offsetof(struct tlstap_record, f)

static inline void record_case_v6_port0(struct tlstap_record *r)
{
	r->family = TLSTAP_FAMILY_IPV6;
	r->dport = 0;
}

static inline void record_case_none_addr(struct tlstap_record *r)
{
	r->family = TLSTAP_FAMILY_NONE;
	r->sport = 0;
	r->dport = 0;
	memset(r->daddr, 0, 16);
}

static inline void record_case_none_port(struct tlstap_record *r)
{
	r->family = TLSTAP_FAMILY_NONE;
	memset(r->saddr, 0, 16);
	memset(r->daddr, 0, 16);
	r->sport = 0;
}

/* An OPEN or CLOSE that carries plaintext or a loss. */
static inline void record_case_open_msg(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_OPEN;
}

static inline void record_case_close_dropped(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_CLOSE;
	r->msg_len = 0;
	r->dropped = cpu_to_be64(1);
}

static inline void record_case_open_huge(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_OPEN;
	r->msg_len = cpu_to_be32(RECORD_CASES_MAX_MSG + 1);
}

static inline void record_case_close_v4_tail(struct tlstap_record *r)
{
	r->type = TLSTAP_RECORD_CLOSE;
	r->msg_len = 0;
	r->daddr[4] = 1;
}

static const struct record_bad_case record_bad_cases[] = {
	{ "type 0", RECORD_OFF(type), 1, 0, NULL, RECORD_BAD_TYPE, -EINVAL },
	{ "type 4", RECORD_OFF(type), 1, 4, NULL, RECORD_BAD_TYPE, -EINVAL },
	{ "type 255", RECORD_OFF(type), 1, 255, NULL, RECORD_BAD_TYPE, -EINVAL },
	{ "dir 0", RECORD_OFF(dir), 1, 0, NULL, RECORD_BAD_DIR, -EINVAL },
	{ "dir 3", RECORD_OFF(dir), 1, 3, NULL, RECORD_BAD_DIR, -EINVAL },
	{ "family 1", RECORD_OFF(family), 1, 1, NULL, RECORD_BAD_FAMILY, -EINVAL },
	{ "family 5", RECORD_OFF(family), 1, 5, NULL, RECORD_BAD_FAMILY, -EINVAL },
	{ "family AF_INET6", RECORD_OFF(family), 1, 10, NULL, RECORD_BAD_FAMILY,
	  -EINVAL },
	{ "hdr_len 0", RECORD_OFF(hdr_len), 1, 0, NULL, RECORD_BAD_HDR_LEN, -EINVAL },
	{ "hdr_len 71", RECORD_OFF(hdr_len), 1, 71, NULL, RECORD_BAD_HDR_LEN,
	  -EINVAL },
	{ "hdr_len 73", RECORD_OFF(hdr_len), 1, 73, NULL, RECORD_BAD_HDR_LEN,
	  -EINVAL },
	{ "hdr_len 255", RECORD_OFF(hdr_len), 1, 255, NULL, RECORD_BAD_HDR_LEN,
	  -EINVAL },
	{ "msg_len 0, nothing dropped", RECORD_OFF(msg_len), 4, 0, NULL, RECORD_EMPTY,
	  -EINVAL },
	{ "msg_len max+1", RECORD_OFF(msg_len), 4, RECORD_CASES_MAX_MSG + 1, NULL,
	  RECORD_TOO_LONG, -EMSGSIZE },
	{ "msg_len 2^32-1", RECORD_OFF(msg_len), 4, 0xffffffffu, NULL,
	  RECORD_TOO_LONG, -EMSGSIZE },
	{ "ipv4 saddr tail", RECORD_OFF(saddr) + 4, 1, 1, NULL, RECORD_BAD_FLOW,
	  -EINVAL },
	{ "ipv4 daddr tail", RECORD_OFF(daddr) + 15, 1, 1, NULL, RECORD_BAD_FLOW,
	  -EINVAL },
	{ "sport 0", RECORD_OFF(sport), 2, 0, NULL, RECORD_BAD_FLOW, -EINVAL },
	{ "dport 0", RECORD_OFF(dport), 2, 0, NULL, RECORD_BAD_FLOW, -EINVAL },
	{ "ipv6 dport 0", 0, 0, 0, record_case_v6_port0, RECORD_BAD_FLOW,
	  -EINVAL },
	{ "none with address", 0, 0, 0, record_case_none_addr,
	  RECORD_BAD_FLOW, -EINVAL },
	{ "none with port", 0, 0, 0, record_case_none_port, RECORD_BAD_FLOW,
	  -EINVAL },
	{ "open with plaintext", 0, 0, 0, record_case_open_msg,
	  RECORD_BAD_LIFECYCLE, -EINVAL },
	{ "close with dropped", 0, 0, 0, record_case_close_dropped,
	  RECORD_BAD_LIFECYCLE, -EINVAL },
	{ "open longer than the maximum", 0, 0, 0, record_case_open_huge,
	  RECORD_BAD_LIFECYCLE, -EINVAL },
	{ "close ipv4 daddr tail", 0, 0, 0, record_case_close_v4_tail,
	  RECORD_BAD_FLOW, -EINVAL },
};

#undef RECORD_OFF

/* record_case_v4()'s header with case c's fault in it. */
static inline void record_case_make(struct tlstap_record *r,
				    const struct record_bad_case *c)
{
	uint64_t value = c->value;
	uint8_t *p = (uint8_t *)r + c->off;
	size_t size = c->size;

	record_case_v4(r);
	if (c->mangle) {
		c->mangle(r);
		return;
	}
	while (size--) {		/* big-endian, size bytes at off */
		p[size] = (uint8_t)value;
		value >>= 8;
	}
}

#endif /* _TLSTAP_RECORD_CASES_H */
