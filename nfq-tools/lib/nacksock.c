// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/tlstap.h>

#include "nacksock.h"

static int open_one(int af, char *err, size_t errlen)
{
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	const char *opt = "IPV6_V6ONLY";
	int one = 1;

	if (fd < 0) {
		snprintf(err, errlen, "NACK socket (%s): %s",
			 af == AF_INET ? "IPv4" : "IPv6", strerror(errno));
		return -1;
	}
	if (af == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	opt = af == AF_INET ? "IP_TRANSPARENT" : "IPV6_TRANSPARENT";
	if (setsockopt(fd, af == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
		       af == AF_INET ? IP_TRANSPARENT : IPV6_TRANSPARENT, &one,
		       sizeof(one)))
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "NACK socket (%s): %s: %s",
		 af == AF_INET ? "IPv4" : "IPv6", opt, strerror(errno));
	close(fd);
	return -1;
}

int nacksock_open(struct nacksock *ns, char *err, size_t errlen)
{
	memset(ns, 0, sizeof(*ns));
	ns->fd6 = -1;
	ns->fd4 = open_one(AF_INET, err, errlen);
	if (ns->fd4 < 0)
		return -1;
	ns->fd6 = open_one(AF_INET6, err, errlen);
	if (ns->fd6 < 0) {
		close(ns->fd4);
		ns->fd4 = -1;
		return -1;
	}
	return 0;
}

/* One control message at c; returns the control length it takes. */
static size_t put_cmsg(struct cmsghdr *c, int level, int type,
		       const void *data, size_t len)
{
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	return CMSG_SPACE(len);
}

int nacksock_send(struct nacksock *ns, const struct endpoint *to,
		  const uint8_t src[16], const void *buf, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} control;
	struct sockaddr_storage ss;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = {
		.msg_name = &ss,
		.msg_namelen = endpoint_to_sockaddr(to, &ss),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
	};
	struct cmsghdr *c;
	int fd;

	memset(&control, 0, sizeof(control));
	c = (struct cmsghdr *)control.buf;
	if (to->family == TLSTAP_FAMILY_IPV4) {
		struct in_pktinfo pi = { 0 };

		memcpy(&pi.ipi_spec_dst, src, 4);
		mh.msg_controllen = put_cmsg(c, IPPROTO_IP, IP_PKTINFO, &pi,
					     sizeof(pi));
		fd = ns->fd4;
	} else {
		struct in6_pktinfo pi = { 0 };

		memcpy(&pi.ipi6_addr, src, 16);
		mh.msg_controllen = put_cmsg(c, IPPROTO_IPV6, IPV6_PKTINFO, &pi,
					     sizeof(pi));
		fd = ns->fd6;
	}
	if (sendmsg(fd, &mh, 0) != (ssize_t)len) {
		ns->errors++;
		ns->last_errno = errno;
		return -1;
	}
	ns->sent++;
	return 0;
}

void nacksock_close(struct nacksock *ns)
{
	if (ns->fd4 >= 0)
		close(ns->fd4);
	if (ns->fd6 >= 0)
		close(ns->fd6);
	ns->fd4 = ns->fd6 = -1;
}
