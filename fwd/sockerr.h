/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A UDP socket's error queue (IP_RECVERR, IPV6_RECVERR). Without it a
 * connected socket keeps only the last ICMP error, as a pending error
 * that the next call on the socket returns (a send's or a receive's,
 * whichever comes first) and clears; with it every ICMP error is a
 * report of its own, with its type and code. The queue also carries the
 * transmit timestamps a send asks for (SO_TIMESTAMPING): the one taken
 * when a datagram reaches the network device's queue, i.e. once the
 * next hop's neighbour is resolved, tells that the path is open.
 */
#ifndef TLSTAP_NFQ_SOCKERR_H
#define TLSTAP_NFQ_SOCKERR_H

#include <stddef.h>
#include <sys/socket.h>

enum sockerr_kind {
	SOCKERR_UNREACHABLE,	/* ICMP destination unreachable, not PMTU */
	SOCKERR_ICMP,		/* another ICMP error: PMTU, time exceeded */
	SOCKERR_SENT,		/* a datagram reached the device (timestamp) */
	SOCKERR_LOCAL,		/* the kernel's own (EMSGSIZE of a send) */
};

struct sockerr {
	enum sockerr_kind kind;
	const char *what;	/* "port unreachable", "ICMP type 11 code 0" */
	char buf[32];		/* what, when it is not a constant */
};

/* Reports every ICMP error on the error queue of fd. 0, or -1 (errno). */
int sockerr_enable(int fd, int ipv6);

/*
 * Takes the oldest report from fd's error queue, without blocking. 1: a
 * report in *e; 0: the queue is empty; -1: errno.
 */
int sockerr_read(int fd, struct sockerr *e);

/* Room for the control message of sockerr_ask_sent(). */
#define SOCKERR_ASK_SENT_SPACE	CMSG_SPACE(sizeof(unsigned int))

/*
 * Makes the message mh (without control messages yet) ask for a
 * SOCKERR_SENT report when its datagram reaches the device; buf, of
 * SOCKERR_ASK_SENT_SPACE bytes and aligned for a cmsghdr, holds the
 * request.
 */
void sockerr_ask_sent(struct msghdr *mh, void *buf);

#endif
