/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ADDR:PORT endpoints (IPv6 as [ADDR]:PORT), as the module's sysfs takes
 * them, and ADDR[/PREFIX] address prefixes (the receivers' --allow).
 */
#ifndef TLSTAP_NFQ_ADDR_H
#define TLSTAP_NFQ_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct endpoint {
	uint8_t family;		/* TLSTAP_FAMILY_IPV4 or _IPV6 */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes */
	uint16_t port;		/* host order */
};

/* Longest text endpoint_format() writes, NUL included. */
#define ENDPOINT_STRLEN	(46 + 2 + 6 + 1)

/*
 * Parses ADDR:PORT or [ADDR]:PORT. allow_any admits the unspecified
 * address and port 0 (for a listening socket). 0, or -1 with err set.
 */
int endpoint_parse(const char *s, int allow_any, struct endpoint *ep,
		   char *err, size_t errlen);

/* "1.2.3.4:7419" or "[::1]:7419". */
void endpoint_format(const struct endpoint *ep, char *buf, size_t len);

/* Just the address, for a family of 4 or 6 (as in a record's flow). */
void addr_format(uint8_t family, const uint8_t addr[16], char *buf,
		 size_t len);

socklen_t endpoint_to_sockaddr(const struct endpoint *ep,
			       struct sockaddr_storage *ss);
/* 0, or -1 if the family is neither AF_INET nor AF_INET6. */
int endpoint_from_sockaddr(const struct sockaddr *sa, struct endpoint *ep);

struct addr_prefix {
	uint8_t family;		/* TLSTAP_FAMILY_IPV4 or _IPV6 */
	uint8_t len;		/* bits, up to 32 or 128 */
	uint8_t addr[16];	/* the bits past len are zero */
};

/* Longest text addr_prefix_format() writes, NUL included. */
#define ADDR_PREFIX_STRLEN	(46 + 4 + 1)

/*
 * Parses ADDR or ADDR/LEN (IPv4 or IPv6; without LEN, the one address).
 * Host bits set past LEN are refused: they say the writer meant something
 * else. 0, or -1 with err set.
 */
int addr_prefix_parse(const char *s, struct addr_prefix *p, char *err,
		      size_t errlen);

/* "10.0.0.0/8", "fd00::/64". */
void addr_prefix_format(const struct addr_prefix *p, char *buf, size_t len);

/*
 * Whether ep's address is in p. IPv4 senders are IPv4 addresses here,
 * also on a dual-stack socket (endpoint_from_sockaddr), so an IPv4
 * prefix is what matches them.
 */
int addr_prefix_match(const struct addr_prefix *p, const struct endpoint *ep);

#endif
