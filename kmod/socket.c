// SPDX-License-Identifier: GPL-2.0
/*
 * Transmission as WireGuard's socket.c does it: kernel UDP sockets bound to
 * our port, a dst_cache per target, and udp_tunnel{,6}_xmit_skb() with DF
 * set and the configured TOS, so that routing, netfilter and qdiscs see
 * ordinary locally generated UDP. What comes back to the port: NACKs
 * (control.c), and ICMP errors about what we sent, counted per target.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <net/udp_tunnel.h>
#include <net/ipv6_stubs.h>
#include <net/ip6_route.h>
#include <net/route.h>
#include <net/ip.h>

#include "tlstap.h"
#include "socket.h"
#include "target.h"
#include "flowtable.h"
#include "dgram.h"
#include "control.h"

/* Everything sent to our port is a receiver's NACK, or is dropped. */
static int tlstap_socket_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct tlstap *tt = rcu_dereference_sk_user_data(sk);

	if (tt)
		tlstap_control_rcv(tt, skb);
	else
		kfree_skb(skb);
	return 0;
}

/* Softirq: the target with this address and port, counted. */
static void count_unreachable(struct tlstap *tt,
			      const struct tlstap_endpoint *ep)
{
	size_t alen = ep->family == TLSTAP_FAMILY_IPV6 ? 16 : 4;
	struct tlstap_flowtable *ft;
	unsigned int i;
	int idx;

	tlstap_stat_inc(tt, TLSTAP_STAT_ICMP_UNREACHABLE);
	idx = srcu_read_lock(&tt->srcu);
	ft = srcu_dereference(tt->table, &tt->srcu);
	for (i = 0; ft && i < ft->ntargets; i++) {
		struct tlstap_target *t = ft->targets[i];

		if (t->ep.family == ep->family && t->ep.port == ep->port &&
		    !memcmp(t->ep.addr, ep->addr, alen)) {
			atomic64_inc(&t->icmp_unreachable);
			break;
		}
	}
	srcu_read_unlock(&tt->srcu, idx);
}

/*
 * Softirq: an ICMP error about a datagram we sent, which a tunnel socket
 * gets here instead of on an error queue. skb->data is the datagram's IP
 * header as the ICMP quotes it, its UDP header at udp_offset. Destination
 * unreachable (nothing listens at the target's port, its host or network
 * is unreachable, a filter prohibits) is counted for the target; the
 * path MTU's "fragmentation needed" is not: the route has learned it.
 */
static void tlstap_socket_err(struct sock *sk, struct sk_buff *skb,
			      unsigned int udp_offset)
{
	struct tlstap *tt = rcu_dereference_sk_user_data(sk);
	const struct udphdr *uh = (const void *)(skb->data + udp_offset);
	struct tlstap_endpoint ep = { .port = uh->dest };

	if (!tt)
		return;
	if (sk->sk_family == AF_INET6) {
		if (icmp6_hdr(skb)->icmp6_type != ICMPV6_DEST_UNREACH)
			return;
		ep.family = TLSTAP_FAMILY_IPV6;
		memcpy(ep.addr, &((const struct ipv6hdr *)skb->data)->daddr, 16);
	} else {
		if (icmp_hdr(skb)->type != ICMP_DEST_UNREACH ||
		    icmp_hdr(skb)->code == ICMP_FRAG_NEEDED)
			return;
		ep.family = TLSTAP_FAMILY_IPV4;
		memcpy(ep.addr, &((const struct iphdr *)skb->data)->daddr, 4);
	}
	count_unreachable(tt, &ep);
}

static int sock_open(struct tlstap *tt, struct udp_port_cfg *cfg,
		     struct socket **sockp)
{
	struct udp_tunnel_sock_cfg tcfg = {
		.sk_user_data = tt,
		.encap_type = 1,
		.encap_rcv = tlstap_socket_rcv,
		.encap_err_rcv = tlstap_socket_err,
	};
	int err;

	cfg->local_udp_port = htons(tt->port);
	err = udp_sock_create(&init_net, cfg, sockp);
	if (err)
		return err;
	setup_udp_tunnel_sock(&init_net, *sockp, &tcfg);
	return 0;
}

int tlstap_socket_init(struct tlstap *tt)
{
	struct udp_port_cfg cfg4 = {
		.family = AF_INET,
		.use_udp_checksums = true,
	};
	struct udp_port_cfg cfg6 = {
		.family = AF_INET6,
		.use_udp6_tx_checksums = true,
		.use_udp6_rx_checksums = true,
		.ipv6_v6only = true,
	};
	int err;

	err = sock_open(tt, &cfg4, &tt->sock4);
	if (err) {
		pr_err("cannot bind UDP port %u for IPv4: %d\n", tt->port, err);
		return err;
	}
	err = sock_open(tt, &cfg6, &tt->sock6);
	if (err) {
		pr_err("cannot bind UDP port %u for IPv6: %d\n", tt->port, err);
		udp_tunnel_sock_release(tt->sock4);
		tt->sock4 = NULL;
		return err;
	}
	return 0;
}

void tlstap_socket_release(struct tlstap *tt)
{
	udp_tunnel_sock_release(tt->sock6);
	udp_tunnel_sock_release(tt->sock4);
	tt->sock4 = NULL;
	tt->sock6 = NULL;
}

/* BH disabled. Returns a referenced route or an ERR_PTR. */
static struct rtable *route4(struct tlstap *tt, struct tlstap_target *t,
			     struct flowi4 *fl)
{
	struct sock *sk = tt->sock4->sk;
	struct rtable *rt;

	memset(fl, 0, sizeof(*fl));
	memcpy(&fl->daddr, t->ep.addr, 4);
	fl->fl4_dport = t->ep.port;
	fl->fl4_sport = htons(tt->port);
	fl->flowi4_proto = IPPROTO_UDP;
	fl->flowi4_tos = RT_TOS(READ_ONCE(tt->tos));

	rt = dst_cache_get_ip4(&t->dst_cache, &fl->saddr);
	if (rt)
		return rt;
	rt = ip_route_output_flow(sock_net(sk), fl, sk);
	if (!IS_ERR(rt))
		dst_cache_set_ip4(&t->dst_cache, &rt->dst, fl->saddr);
	return rt;
}

/* BH disabled. Returns a referenced route or an ERR_PTR. */
static struct dst_entry *route6(struct tlstap *tt, struct tlstap_target *t,
				struct flowi6 *fl)
{
	struct sock *sk = tt->sock6->sk;
	struct dst_entry *dst;

	memset(fl, 0, sizeof(*fl));
	memcpy(&fl->daddr, t->ep.addr, 16);
	fl->fl6_dport = t->ep.port;
	fl->fl6_sport = htons(tt->port);
	fl->flowi6_proto = IPPROTO_UDP;

	dst = dst_cache_get_ip6(&t->dst_cache, &fl->saddr);
	if (dst)
		return dst;
	dst = ipv6_stub->ipv6_dst_lookup_flow(sock_net(sk), sk, fl, NULL);
	if (!IS_ERR(dst))
		dst_cache_set_ip6(&t->dst_cache, dst, &fl->saddr);
	return dst;
}

/*
 * The target's route now, referenced, or an ERR_PTR. Process context:
 * the worker, or the target's creation before there is one.
 */
struct dst_entry *tlstap_socket_route(struct tlstap *tt,
				      struct tlstap_target *t)
{
	struct dst_entry *dst;

	local_bh_disable();
	if (t->ep.family == TLSTAP_FAMILY_IPV6) {
		struct flowi6 fl;

		dst = route6(tt, t, &fl);
	} else {
		struct flowi4 fl;
		struct rtable *rt = route4(tt, t, &fl);

		dst = IS_ERR(rt) ? ERR_CAST(rt) : &rt->dst;
	}
	local_bh_enable();
	return dst;
}

/*
 * Datagram capacity on the target's current route; while it has no
 * route, as for a 1500-byte MTU (sends fail and are counted meanwhile).
 */
u32 tlstap_socket_capacity(struct tlstap *tt, struct tlstap_target *t)
{
	struct dst_entry *dst = tlstap_socket_route(tt, t);
	u32 mtu = ETH_DATA_LEN, cap;

	if (!IS_ERR(dst)) {
		mtu = dst_mtu(dst);
		dst_release(dst);
	}
	cap = tlstap_wire_capacity(mtu, t->ep.family == TLSTAP_FAMILY_IPV6);
	return cap ?: TLSTAP_MIN_DGRAM;
}

/* Consumes skb. */
int tlstap_socket_send(struct tlstap *tt, struct tlstap_target *t,
		       struct sk_buff *skb)
{
	u8 tos = READ_ONCE(tt->tos);
	int err = 0;

	local_bh_disable();
	if (t->ep.family == TLSTAP_FAMILY_IPV6) {
		struct dst_entry *dst;
		struct flowi6 fl;

		dst = route6(tt, t, &fl);
		if (IS_ERR(dst)) {
			err = PTR_ERR(dst);
			goto drop;
		}
		udp_tunnel6_xmit_skb(dst, tt->sock6->sk, skb, NULL, &fl.saddr,
				     &fl.daddr, tos, ip6_dst_hoplimit(dst), 0,
				     fl.fl6_sport, fl.fl6_dport, false);
	} else {
		struct rtable *rt;
		struct flowi4 fl;

		rt = route4(tt, t, &fl);
		if (IS_ERR(rt)) {
			err = PTR_ERR(rt);
			goto drop;
		}
		udp_tunnel_xmit_skb(rt, tt->sock4->sk, skb, fl.saddr, fl.daddr,
				    tos, ip4_dst_hoplimit(&rt->dst), htons(IP_DF),
				    fl.fl4_sport, fl.fl4_dport, false, false);
	}
	local_bh_enable();
	return 0;

drop:
	local_bh_enable();
	kfree_skb(skb);
	return err;
}
