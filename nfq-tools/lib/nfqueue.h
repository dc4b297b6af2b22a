/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * One NFQUEUE queue through libmnl and libnetfilter_queue's nfq_nlmsg_*
 * API: bind, receive the queued packets (whole, copy mode packet), parse
 * each as IPv4/IPv6 + UDP strictly, and give verdicts in batches.
 */
#ifndef TLSTAP_NFQ_NFQUEUE_H
#define TLSTAP_NFQ_NFQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct mnl_socket;

struct nfqueue_config {
	uint16_t num;		/* queue number */
	uint32_t max_len;	/* packets the kernel queues for us */
	int rcvbuf;		/* netlink socket receive buffer */
	int fail_open;		/* queue full: accept instead of drop */
};

struct nfqueue_stats {
	unsigned long long recv_calls, packets;
	unsigned long long enobufs;	/* the socket overflowed: lost */
	unsigned long long bad_messages;	/* netlink we cannot read */
	unsigned long long netlink_errors;	/* e.g. a verdict refused */
	unsigned long long verdict_msgs;
};

struct nfqueue {
	struct nfqueue_config cfg;
	struct mnl_socket *nl;
	unsigned int portid;
	char *buf;
	size_t buf_len;
	int have_pending;	/* packets received without a verdict */
	uint32_t last_id;	/* highest of them */
	struct nfqueue_stats st;
};

/* A queued packet as the kernel gave it, valid during the callback. */
struct nfqueue_packet {
	uint32_t id;
	uint16_t hw_protocol;	/* ethertype, host order; 0 if unknown */
	uint8_t hook;		/* NF_INET_* */
	int truncated;		/* copy shorter than the packet */
	int csum_not_ready;	/* locally built, checksum not filled in */
	uint64_t tstamp_ns;	/* CLOCK_REALTIME of its arrival; 0: none */
	const uint8_t *data;	/* the IP packet */
	size_t len;
};

/* Returns 0 to go on, -1 to stop receiving (errno set). */
typedef int (*nfqueue_packet_fn)(void *arg, const struct nfqueue_packet *pkt);

/* 0, or -1 with a message in err. */
int nfqueue_open(struct nfqueue *q, const struct nfqueue_config *cfg,
		 char *err, size_t errlen);
int nfqueue_fd(const struct nfqueue *q);

/*
 * Takes up to max packets without blocking and hands each to fn. Returns
 * how many, or -1 with a message in err (the socket failed).
 */
int nfqueue_receive(struct nfqueue *q, unsigned int max, nfqueue_packet_fn fn,
		    void *arg, char *err, size_t errlen);

/*
 * One verdict (NF_ACCEPT, NF_DROP) for every packet received so far,
 * in one batch message. 0, or -1 with a message in err.
 */
int nfqueue_verdict_all(struct nfqueue *q, uint32_t verdict, char *err,
			size_t errlen);

void nfqueue_close(struct nfqueue *q);

/* The netlink port bound to queue num in this namespace, 0 if none. */
unsigned int nfqueue_holder(uint16_t num);

/* What a queued packet is, checked strictly before anything is used. */
enum udp_status {
	UDP_OK = 0,
	UDP_TRUNCATED,		/* the copy is not the whole packet */
	UDP_NOT_IP,		/* neither IPv4 nor IPv6 */
	UDP_BAD_IP_HDR,		/* lengths that do not fit */
	UDP_FRAGMENT,		/* tlstap datagrams are never fragmented */
	UDP_IPV6_EXT,		/* extension headers: tlstap sends none */
	UDP_NOT_UDP,
	UDP_BAD_UDP_LEN,
	UDP_BAD_CSUM,
	UDP_NO_MEMORY,		/* could not copy it to check it */
	UDP_STATUS_COUNT
};

const char *udp_status_name(enum udp_status st);

struct udp_view {
	struct endpoint src, dst;
	uint8_t tos;		/* IPv4 TOS or IPv6 traffic class */
	int csum_checked;	/* 0: none (IPv4 0, or not ready) */
	const uint8_t *payload;	/* points into the packet */
	size_t payload_len;
};

/*
 * Parses pkt as one whole UDP datagram over IPv4 or IPv6 and verifies its
 * checksum (unless the kernel says it is not filled in yet).
 */
enum udp_status udp_parse(const struct nfqueue_packet *pkt,
			  struct udp_view *out);

#endif
