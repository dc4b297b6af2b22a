// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>

#include "sockerr.h"

int sockerr_enable(int fd, int ipv6)
{
	int one = 1;
	/* The report alone: no copy of the datagram on the queue. */
	unsigned int ts = SOF_TIMESTAMPING_OPT_TSONLY;

	if (setsockopt(fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       ipv6 ? IPV6_RECVERR : IP_RECVERR, &one, sizeof(one)))
		return -1;
	return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts));
}

static const char *unreach4(unsigned int code)
{
	switch (code) {
	case ICMP_NET_UNREACH:
		return "network unreachable";
	case ICMP_HOST_UNREACH:
		return "host unreachable";
	case ICMP_PROT_UNREACH:
		return "protocol unreachable";
	case ICMP_PORT_UNREACH:
		return "port unreachable";
	case ICMP_NET_ANO:
	case ICMP_HOST_ANO:
	case ICMP_PKT_FILTERED:
		return "administratively prohibited";
	default:
		return NULL;
	}
}

static const char *unreach6(unsigned int code)
{
	switch (code) {
	case ICMP6_DST_UNREACH_NOROUTE:
		return "no route";
	case ICMP6_DST_UNREACH_ADMIN:
		return "administratively prohibited";
	case ICMP6_DST_UNREACH_ADDR:
		return "address unreachable";
	case ICMP6_DST_UNREACH_NOPORT:
		return "port unreachable";
	default:
		return NULL;
	}
}

static void classify(const struct sock_extended_err *ee, struct sockerr *e)
{
	const char *what = NULL;

	switch (ee->ee_origin) {
	case SO_EE_ORIGIN_TIMESTAMPING:
		e->kind = ee->ee_info == SCM_TSTAMP_SCHED ? SOCKERR_SENT :
							   SOCKERR_LOCAL;
		e->what = "transmit timestamp";
		return;
	case SO_EE_ORIGIN_ICMP:
		/* Fragmentation needed is the path MTU, not unreachable. */
		if (ee->ee_type == ICMP_DEST_UNREACH &&
		    ee->ee_code != ICMP_FRAG_NEEDED) {
			e->kind = SOCKERR_UNREACHABLE;
			what = unreach4(ee->ee_code);
		} else {
			e->kind = SOCKERR_ICMP;
		}
		break;
	case SO_EE_ORIGIN_ICMP6:
		if (ee->ee_type == ICMP6_DST_UNREACH) {
			e->kind = SOCKERR_UNREACHABLE;
			what = unreach6(ee->ee_code);
		} else {
			e->kind = SOCKERR_ICMP;
		}
		break;
	default:
		e->kind = SOCKERR_LOCAL;
		e->what = strerror((int)ee->ee_errno);
		return;
	}
	if (!what) {
		snprintf(e->buf, sizeof(e->buf), "ICMP%s type %u code %u",
			 ee->ee_origin == SO_EE_ORIGIN_ICMP6 ? "v6" : "",
			 ee->ee_type, ee->ee_code);
		what = e->buf;
	}
	e->what = what;
}

int sockerr_read(int fd, struct sockerr *e)
{
	union {
		/* The error, its offender's address, a timestamp. */
		char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
				    sizeof(struct sockaddr_in6)) +
			 CMSG_SPACE(sizeof(struct scm_timestamping)) + 64];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh;
	struct cmsghdr *cm;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
			break;
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR)
			return -1;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		struct sock_extended_err ee;

		if (!(cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) &&
		    !(cm->cmsg_level == SOL_IPV6 &&
		      cm->cmsg_type == IPV6_RECVERR))
			continue;
		memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
		classify(&ee, e);
		return 1;
	}
	e->kind = SOCKERR_LOCAL;
	e->what = "a report without its error";
	return 1;
}

void sockerr_ask_sent(struct msghdr *mh, void *buf)
{
	unsigned int flags = SOF_TIMESTAMPING_TX_SCHED;
	struct cmsghdr *cm;

	mh->msg_control = buf;
	mh->msg_controllen = SOCKERR_ASK_SENT_SPACE;
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SO_TIMESTAMPING;
	cm->cmsg_len = CMSG_LEN(sizeof(flags));
	memcpy(CMSG_DATA(cm), &flags, sizeof(flags));
}
