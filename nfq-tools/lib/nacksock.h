/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * UDP sockets that send NACKs with a chosen source address: the address
 * the stream's DATA datagrams were sent to, i.e. the target's, because a
 * sender honours a NACK only from a configured target's address
 * (ISSUE4-SPEC). On a target that address is local; on a middlebox it is
 * not, and IP_TRANSPARENT / IPV6_TRANSPARENT (CAP_NET_ADMIN, which
 * NFQUEUE needs anyway) lets the socket send from it. The source is
 * given per message with IP_PKTINFO / IPV6_PKTINFO.
 */
#ifndef TLSTAP_NFQ_NACKSOCK_H
#define TLSTAP_NFQ_NACKSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct nacksock {
	int fd4, fd6;
	unsigned long long sent, errors;
	int last_errno;
};

/* 0, or -1 with a message in err. */
int nacksock_open(struct nacksock *ns, char *err, size_t errlen);

/*
 * Sends buf to `to` from the address src (same family, port chosen by
 * the kernel). 0, or -1 with errno set (counted in errors).
 */
int nacksock_send(struct nacksock *ns, const struct endpoint *to,
		  const uint8_t src[16], const void *buf, size_t len);

void nacksock_close(struct nacksock *ns);

#endif
