// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tlstap.h>

#include "addr.h"

static int parse_port(const char *s, int allow_zero, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535 || (!v && !allow_zero))
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int endpoint_parse(const char *s, int allow_any, struct endpoint *ep,
		   char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN];
	const char *port;
	size_t hlen;
	int af;

	memset(ep, 0, sizeof(*ep));
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':') {
			snprintf(err, errlen, "'%s': want [IPV6]:PORT", s);
			return -1;
		}
		hlen = (size_t)(end - s - 1);
		memcpy(host, s + 1, hlen < sizeof(host) ? hlen : 0);
		port = end + 2;
		af = AF_INET6;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon) {
			snprintf(err, errlen, "'%s': want IPV4:PORT or [IPV6]:PORT",
				 s);
			return -1;
		}
		hlen = (size_t)(colon - s);
		memcpy(host, s, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
		af = AF_INET;
	}
	if (!hlen || hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%s': bad address", s);
		return -1;
	}
	host[hlen] = '\0';
	if (inet_pton(af, host, ep->addr) != 1) {
		snprintf(err, errlen, "'%s': '%s' is not an IPv%c address", s,
			 host, af == AF_INET ? '4' : '6');
		return -1;
	}
	ep->family = af == AF_INET ? TLSTAP_FAMILY_IPV4 : TLSTAP_FAMILY_IPV6;
	if (!allow_any) {
		static const uint8_t zero[16];

		if (!memcmp(ep->addr, zero, af == AF_INET ? 4 : 16)) {
			snprintf(err, errlen, "'%s': unspecified address", s);
			return -1;
		}
	}
	if (parse_port(port, allow_any, &ep->port)) {
		snprintf(err, errlen, "'%s': bad port '%s'", s, port);
		return -1;
	}
	return 0;
}

void addr_format(uint8_t family, const uint8_t addr[16], char *buf,
		 size_t len)
{
	if (!inet_ntop(family == TLSTAP_FAMILY_IPV4 ? AF_INET : AF_INET6,
		       addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

void endpoint_format(const struct endpoint *ep, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	addr_format(ep->family, ep->addr, host, sizeof(host));
	if (ep->family == TLSTAP_FAMILY_IPV6)
		snprintf(buf, len, "[%s]:%u", host, ep->port);
	else
		snprintf(buf, len, "%s:%u", host, ep->port);
}

socklen_t endpoint_to_sockaddr(const struct endpoint *ep,
			       struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == TLSTAP_FAMILY_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->addr, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ep->port);
	memcpy(&sin6->sin6_addr, ep->addr, 16);
	return sizeof(*sin6);
}

int endpoint_from_sockaddr(const struct sockaddr *sa, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		ep->family = TLSTAP_FAMILY_IPV4;
		memcpy(ep->addr, &sin->sin_addr, 4);
		ep->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		ep->port = ntohs(sin6->sin6_port);
		/* A dual-stack socket names IPv4 peers as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ep->family = TLSTAP_FAMILY_IPV4;
			memcpy(ep->addr, sin6->sin6_addr.s6_addr + 12, 4);
			return 0;
		}
		ep->family = TLSTAP_FAMILY_IPV6;
		memcpy(ep->addr, &sin6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

int addr_prefix_parse(const char *s, struct addr_prefix *p, char *err,
		      size_t errlen)
{
	const char *slash = strchr(s, '/');
	char host[INET6_ADDRSTRLEN];
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int max;

	memset(p, 0, sizeof(*p));
	if (!hlen || hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%s': want ADDR or ADDR/PREFIX", s);
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, p->addr) == 1) {
		p->family = TLSTAP_FAMILY_IPV4;
		max = 32;
	} else if (inet_pton(AF_INET6, host, p->addr) == 1) {
		p->family = TLSTAP_FAMILY_IPV6;
		max = 128;
	} else {
		snprintf(err, errlen, "'%s': '%s' is not an IPv4 or IPv6 address",
			 s, host);
		return -1;
	}
	p->len = (uint8_t)max;
	if (slash) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || errno || *end ||
		    v > max) {
			snprintf(err, errlen, "'%s': the prefix length is not a number from 0 to %u", s, max);
			return -1;
		}
		p->len = (uint8_t)v;
	}
	for (unsigned int bit = p->len; bit < max; bit++) {
		if (p->addr[bit / 8] & (0x80 >> (bit % 8))) {
			snprintf(err, errlen, "'%s': bits set past the prefix length %u", s, p->len);
			return -1;
		}
	}
	return 0;
}

void addr_prefix_format(const struct addr_prefix *p, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	addr_format(p->family, p->addr, host, sizeof(host));
	snprintf(buf, len, "%s/%u", host, p->len);
}

int addr_prefix_match(const struct addr_prefix *p, const struct endpoint *ep)
{
	unsigned int whole = p->len / 8, rest = p->len % 8;

	if (ep->family != p->family || memcmp(ep->addr, p->addr, whole))
		return 0;
	return !rest ||
	       !((ep->addr[whole] ^ p->addr[whole]) & (0xff00 >> rest));
}
