// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The queue is bound with copy mode "packet" and a copy range of 0xffff
 * (every IP packet whole), without NFQA_CFG_F_GSO, so that the kernel
 * segments GSO batches and each tlstap datagram comes as one packet.
 * Verdicts go out as NFQNL_MSG_VERDICT_BATCH: one message per receive
 * batch instead of one per packet.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv4.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv6.h>
#include <libnetfilter_queue/libnetfilter_queue_udp.h>
#include <libnetfilter_queue/pktbuff.h>
#include <linux/tlstap.h>

#include "nfqueue.h"

#define COPY_RANGE	0xffff
/* The largest packet plus netlink's own headers. */
#define RECV_BUF	(COPY_RANGE + MNL_SOCKET_BUFFER_SIZE / 2)

unsigned int nfqueue_holder(uint16_t num)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned int n, portid, holder = 0;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %u", &n, &portid) == 2 && n == num)
			holder = portid;
	fclose(f);
	return holder;
}

static int send_config(struct nfqueue *q, struct nlmsghdr *nlh,
		       const char *what, char *err, size_t errlen)
{
	/* An ACK makes the kernel's answer (and its errno) arrive now. */
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, errlen, "queue %u: %s: %s", q->cfg.num, what,
			 strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(q->nl, q->buf, q->buf_len);
		int rc;

		if (n < 0) {
			snprintf(err, errlen, "queue %u: %s: %s", q->cfg.num,
				 what, strerror(errno));
			return -1;
		}
		rc = mnl_cb_run(q->buf, (size_t)n, nlh->nlmsg_seq, q->portid,
				NULL, NULL);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc < 0) {
			int e = errno;
			unsigned int holder = nfqueue_holder(q->cfg.num);

			/* The kernel says EPERM for both. */
			if (e == EPERM && holder)
				snprintf(err, errlen, "queue %u: %s: another program (netlink port %u) holds this queue", q->cfg.num, what, holder);
			else
				snprintf(err, errlen, "queue %u: %s: %s%s",
					 q->cfg.num, what, strerror(e),
					 e == EPERM ? " (needs CAP_NET_ADMIN)"
						    : "");
			return -1;
		}
	}
}

int nfqueue_open(struct nfqueue *q, const struct nfqueue_config *cfg,
		 char *err, size_t errlen)
{
	struct nlmsghdr *nlh;
	uint32_t seq = 1;
	int one = 1;

	memset(q, 0, sizeof(*q));
	q->cfg = *cfg;
	q->buf_len = RECV_BUF;
	q->buf = malloc(q->buf_len);
	if (!q->buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "netlink bind: %s", strerror(errno));
		goto fail;
	}
	q->portid = mnl_socket_get_portid(q->nl);
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE,
		       &cfg->rcvbuf, sizeof(cfg->rcvbuf)) &&
	    setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF,
		       &cfg->rcvbuf, sizeof(cfg->rcvbuf))) {
		snprintf(err, errlen, "netlink SO_RCVBUF: %s", strerror(errno));
		goto fail;
	}

	nlh = nfq_nlmsg_put(q->buf, NFQNL_MSG_CONFIG, cfg->num);
	nlh->nlmsg_seq = seq++;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	if (send_config(q, nlh, "bind", err, errlen))
		goto fail;

	nlh = nfq_nlmsg_put(q->buf, NFQNL_MSG_CONFIG, cfg->num);
	nlh->nlmsg_seq = seq++;
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg->max_len);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS,
			 htonl(cfg->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	if (send_config(q, nlh, "copy mode", err, errlen))
		goto fail;

	/* Overflow is counted by the kernel (queue_dropped), not an error. */
	if (mnl_socket_setsockopt(q->nl, NETLINK_NO_ENOBUFS, &one,
				  sizeof(one))) {
		snprintf(err, errlen, "NETLINK_NO_ENOBUFS: %s",
			 strerror(errno));
		goto fail;
	}
	return 0;
fail:
	nfqueue_close(q);
	return -1;
}

int nfqueue_fd(const struct nfqueue *q)
{
	return mnl_socket_get_fd(q->nl);
}

struct dispatch {
	struct nfqueue *q;
	nfqueue_packet_fn fn;
	void *arg;
	int failed;		/* fn said stop; errno is its reason */
};

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dispatch *d = data;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;
	struct nfqueue_packet pkt;
	uint32_t skbinfo = 0;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		d->q->st.bad_messages++;
		return MNL_CB_OK;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	memset(&pkt, 0, sizeof(pkt));
	pkt.id = ntohl(ph->packet_id);
	pkt.hw_protocol = ntohs(ph->hw_protocol);
	pkt.hook = ph->hook;
	/* Every packet needs a verdict, even one we cannot read. */
	if (!d->q->have_pending || (int32_t)(pkt.id - d->q->last_id) > 0)
		d->q->last_id = pkt.id;
	d->q->have_pending = 1;
	d->q->st.packets++;
	if (attr[NFQA_SKB_INFO])
		skbinfo = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
	if (attr[NFQA_TIMESTAMP] &&
	    mnl_attr_get_payload_len(attr[NFQA_TIMESTAMP]) >=
	    sizeof(struct nfqnl_msg_packet_timestamp)) {
		struct nfqnl_msg_packet_timestamp ts;

		memcpy(&ts, mnl_attr_get_payload(attr[NFQA_TIMESTAMP]),
		       sizeof(ts));
		pkt.tstamp_ns = be64toh(ts.sec) * 1000000000ull +
				be64toh(ts.usec) * 1000ull;
	}
	pkt.csum_not_ready = !!(skbinfo & NFQA_SKB_CSUMNOTREADY);
	if (attr[NFQA_PAYLOAD]) {
		pkt.data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		pkt.len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	if (attr[NFQA_CAP_LEN] &&
	    ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) != pkt.len)
		pkt.truncated = 1;
	if (d->fn(d->arg, &pkt)) {
		d->failed = 1;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int nfqueue_receive(struct nfqueue *q, unsigned int max, nfqueue_packet_fn fn,
		    void *arg, char *err, size_t errlen)
{
	struct dispatch d = { q, fn, arg, 0 };
	int fd = mnl_socket_get_fd(q->nl);
	unsigned int got = 0;

	while (got < max) {
		ssize_t n = recv(fd, q->buf, q->buf_len, MSG_DONTWAIT);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno == ENOBUFS) {
				q->st.enobufs++;
				continue;
			}
			snprintf(err, errlen, "queue %u: receive: %s",
				 q->cfg.num, strerror(errno));
			return -1;
		}
		q->st.recv_calls++;
		rc = mnl_cb_run(q->buf, (size_t)n, 0, q->portid, packet_cb, &d);
		if (rc == MNL_CB_ERROR && d.failed) {
			snprintf(err, errlen, "queue %u: %s", q->cfg.num,
				 strerror(errno));
			return -1;
		}
		/* The kernel's answer to a verdict it refused, or junk. */
		if (rc == MNL_CB_ERROR)
			q->st.netlink_errors++;
		got++;
	}
	return (int)got;
}

int nfqueue_verdict_all(struct nfqueue *q, uint32_t verdict, char *err,
			size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	if (!q->have_pending)
		return 0;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT_BATCH, q->cfg.num);
	nfq_nlmsg_verdict_put(nlh, (int)q->last_id, (int)verdict);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, errlen, "queue %u: verdict: %s", q->cfg.num,
			 strerror(errno));
		return -1;
	}
	q->have_pending = 0;
	q->st.verdict_msgs++;
	return 0;
}

void nfqueue_close(struct nfqueue *q)
{
	if (q->nl)
		mnl_socket_close(q->nl);
	q->nl = NULL;
	free(q->buf);
	q->buf = NULL;
}

/* ------------------------------------------------------------ parsing */

static const char *const udp_status_names[UDP_STATUS_COUNT] = {
	[UDP_OK] = "ok",
	[UDP_TRUNCATED] = "truncated",
	[UDP_NOT_IP] = "not_ip",
	[UDP_BAD_IP_HDR] = "bad_ip_header",
	[UDP_FRAGMENT] = "fragment",
	[UDP_IPV6_EXT] = "ipv6_extension_headers",
	[UDP_NOT_UDP] = "not_udp",
	[UDP_BAD_UDP_LEN] = "bad_udp_length",
	[UDP_BAD_CSUM] = "bad_udp_checksum",
	[UDP_NO_MEMORY] = "no_memory",
};

const char *udp_status_name(enum udp_status st)
{
	return st < UDP_STATUS_COUNT ? udp_status_names[st] : "?";
}

/*
 * The checksum as received against one computed on our copy (the
 * library writes it into the header). A computed 0 goes on the wire as
 * 0xffff (RFC 768).
 */
static int csum_ok(uint16_t received, uint16_t computed)
{
	return received == computed || (!computed && received == 0xffff);
}

/*
 * libnetfilter_queue finds the headers and checks that the declared
 * lengths fit the buffer; the rest (header length, fragments, lengths
 * that must match exactly) is checked here.
 */
static enum udp_status parse4(struct pkt_buff *pb, const struct nfqueue_packet *pkt,
			      struct udp_view *out, struct udphdr **udph)
{
	struct iphdr *ip = nfq_ip_get_hdr(pb);
	size_t hlen;

	if (!ip || ip->ihl < 5 || ntohs(ip->tot_len) != pkt->len)
		return UDP_BAD_IP_HDR;
	hlen = (size_t)ip->ihl * 4;
	if (hlen > pkt->len)
		return UDP_BAD_IP_HDR;
	if (ntohs(ip->frag_off) & (IP_MF | IP_OFFMASK))
		return UDP_FRAGMENT;
	if (ip->protocol != IPPROTO_UDP)
		return UDP_NOT_UDP;
	if (nfq_ip_set_transport_header(pb, ip) < 0)
		return UDP_BAD_UDP_LEN;
	*udph = nfq_udp_get_hdr(pb);
	if (!*udph || ntohs((*udph)->len) != pkt->len - hlen)
		return UDP_BAD_UDP_LEN;
	out->src.family = out->dst.family = TLSTAP_FAMILY_IPV4;
	memcpy(out->src.addr, &ip->saddr, 4);
	memcpy(out->dst.addr, &ip->daddr, 4);
	out->tos = ip->tos;
	if ((*udph)->check && !pkt->csum_not_ready) {
		uint16_t received = (*udph)->check;

		nfq_udp_compute_checksum_ipv4(*udph, ip);
		if (!csum_ok(received, (*udph)->check))
			return UDP_BAD_CSUM;
		out->csum_checked = 1;
	}
	return UDP_OK;
}

static enum udp_status parse6(struct pkt_buff *pb, const struct nfqueue_packet *pkt,
			      struct udp_view *out, struct udphdr **udph)
{
	struct ip6_hdr *ip6 = nfq_ip6_get_hdr(pb);

	if (!ip6 || ntohs(ip6->ip6_plen) + sizeof(*ip6) != pkt->len)
		return UDP_BAD_IP_HDR;
	if (ip6->ip6_nxt == IPPROTO_FRAGMENT)
		return UDP_FRAGMENT;
	if (ip6->ip6_nxt != IPPROTO_UDP)
		return ip6->ip6_nxt == IPPROTO_TCP ||
		       ip6->ip6_nxt == IPPROTO_ICMPV6 ? UDP_NOT_UDP
						      : UDP_IPV6_EXT;
	if (nfq_ip6_set_transport_header(pb, ip6, IPPROTO_UDP) != 1)
		return UDP_BAD_UDP_LEN;
	*udph = nfq_udp_get_hdr(pb);
	if (!*udph || ntohs((*udph)->len) != ntohs(ip6->ip6_plen))
		return UDP_BAD_UDP_LEN;
	out->src.family = out->dst.family = TLSTAP_FAMILY_IPV6;
	memcpy(out->src.addr, &ip6->ip6_src, 16);
	memcpy(out->dst.addr, &ip6->ip6_dst, 16);
	out->tos = (uint8_t)(ntohl(ip6->ip6_flow) >> 20);
	/* A zero checksum is invalid over IPv6 (RFC 8200 8.1). */
	if (!pkt->csum_not_ready) {
		uint16_t received = (*udph)->check;

		nfq_udp_compute_checksum_ipv6(*udph, ip6);
		if (!received || !csum_ok(received, (*udph)->check))
			return UDP_BAD_CSUM;
		out->csum_checked = 1;
	}
	return UDP_OK;
}

enum udp_status udp_parse(const struct nfqueue_packet *pkt,
			  struct udp_view *out)
{
	struct udphdr *udph = NULL;
	struct pkt_buff *pb;
	enum udp_status st;
	int family;
	uint8_t *payload;

	memset(out, 0, sizeof(*out));
	if (pkt->truncated)
		return UDP_TRUNCATED;
	if (!pkt->len)
		return UDP_NOT_IP;
	switch (pkt->data[0] >> 4) {
	case 4:
		family = AF_INET;
		break;
	case 6:
		family = AF_INET6;
		break;
	default:
		return UDP_NOT_IP;
	}
	/* A private copy: checksum verification writes into it. */
	pb = pktb_alloc(family, (void *)pkt->data, pkt->len, 0);
	if (!pb)
		return UDP_NO_MEMORY;
	st = family == AF_INET ? parse4(pb, pkt, out, &udph)
			       : parse6(pb, pkt, out, &udph);
	if (st == UDP_OK) {
		payload = nfq_udp_get_payload(udph, pb);
		if (!payload) {
			st = UDP_BAD_UDP_LEN;
		} else {
			out->src.port = ntohs(udph->source);
			out->dst.port = ntohs(udph->dest);
			out->payload = pkt->data + (payload - pktb_data(pb));
			out->payload_len = ntohs(udph->len) - sizeof(*udph);
		}
	}
	pktb_free(pb);
	return st;
}
