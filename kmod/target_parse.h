/* SPDX-License-Identifier: GPL-2.0 */
/* The target commands users write: add ADDR:PORT [weight W], del, flush. */
#ifndef _TLSTAP_TARGET_PARSE_H
#define _TLSTAP_TARGET_PARSE_H

#include <linux/types.h>

enum tlstap_target_op {
	TLSTAP_TARGET_ADD,
	TLSTAP_TARGET_DEL,
	TLSTAP_TARGET_FLUSH,
};

struct tlstap_endpoint {
	u8 family;		/* TLSTAP_FAMILY_IPV4 or _IPV6 */
	u8 addr[16];		/* IPv4 in the first 4 bytes */
	__be16 port;
};

struct tlstap_target_cmd {
	enum tlstap_target_op op;
	struct tlstap_endpoint ep;
	u32 weight;
};

/* 0.0.0.0 or ::, which no target may have. */
bool tlstap_endpoint_unspecified(const struct tlstap_endpoint *ep);
int tlstap_parse_endpoint(const char *s, struct tlstap_endpoint *ep);
int tlstap_parse_target_cmd(const char *buf, size_t len,
			    struct tlstap_target_cmd *cmd);

#endif /* _TLSTAP_TARGET_PARSE_H */
