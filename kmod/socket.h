/* SPDX-License-Identifier: GPL-2.0 */
/* The module's own UDP sockets, routes per target, and transmission. */
#ifndef _TLSTAP_SOCKET_H
#define _TLSTAP_SOCKET_H

#include <linux/skbuff.h>

struct tlstap;
struct tlstap_target;

/* Room in front of our datagram for UDP, IP and link headers. */
#define TLSTAP_HEADROOM	(LL_MAX_HEADER + 40 + 8)

int tlstap_socket_init(struct tlstap *tt);
void tlstap_socket_release(struct tlstap *tt);
struct dst_entry *tlstap_socket_route(struct tlstap *tt,
				      struct tlstap_target *t);
u32 tlstap_socket_capacity(struct tlstap *tt, struct tlstap_target *t);
int tlstap_socket_send(struct tlstap *tt, struct tlstap_target *t,
		       struct sk_buff *skb);

#endif /* _TLSTAP_SOCKET_H */
