// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The socket error queue (sockerr.c): a timestamp and an ICMP error. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "sockerr.h"
#include "unit.h"

/*
 * A datagram to a loopback port where nothing listens, asking for its
 * transmit timestamp: the error queue has the timestamp (the path was
 * open) and the kernel's ICMP port unreachable, with its name.
 */
static void sockerr_case(int ipv6)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = ipv6 ? sizeof(*sin6) : sizeof(*sin);
	union {
		char buf[SOCKERR_ASK_SENT_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int sent = 0, unreach = 0, other = 0, fd, port_fd;
	struct sockerr e;

	memset(&ss, 0, sizeof(ss));
	if (ipv6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	/* A port nobody holds: bound once, then let go. */
	port_fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	CHECK(port_fd >= 0 && !bind(port_fd, (struct sockaddr *)&ss, len) &&
	      !getsockname(port_fd, (struct sockaddr *)&ss, &len),
	      "a free port: %s", strerror(errno));
	close(port_fd);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	CHECK(fd >= 0 && !sockerr_enable(fd, ipv6) &&
	      !connect(fd, (struct sockaddr *)&ss, len),
	      "IPv%d socket: %s", ipv6 ? 6 : 4, strerror(errno));
	CHECK(sockerr_read(fd, &e) == 0, "a report before anything was sent");
	sockerr_ask_sent(&mh, ctl.buf);
	CHECK(sendmsg(fd, &mh, 0) == 1, "send: %s", strerror(errno));
	for (int i = 0; i < 100 && !(sent && unreach); i++) {
		struct pollfd pfd = { .fd = fd };
		int r;

		poll(&pfd, 1, 10);
		while ((r = sockerr_read(fd, &e)) == 1) {
			if (e.kind == SOCKERR_SENT)
				sent++;
			else if (e.kind == SOCKERR_UNREACHABLE &&
				 !strcmp(e.what, "port unreachable"))
				unreach++;
			else
				other++;
		}
		CHECK(r == 0, "reading the error queue: %s", strerror(errno));
	}
	CHECK(sent == 1 && unreach == 1 && !other,
	      "IPv%d: %d sent, %d port unreachable, %d other reports",
	      ipv6 ? 6 : 4, sent, unreach, other);
	close(fd);
}

static void test_sockerr(void)
{
	sockerr_case(0);
	sockerr_case(1);
}

UNIT_TESTS(UNIT_TEST(test_sockerr))
