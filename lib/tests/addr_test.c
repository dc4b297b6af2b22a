// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Endpoints and address prefixes (addr.c). */
#include <string.h>
#include <linux/tlstap.h>

#include "addr.h"
#include "unit.h"

static void test_endpoint(void)
{
	struct endpoint ep;
	char err[160], buf[ENDPOINT_STRLEN];

	CHECK(!endpoint_parse("192.0.2.1:7419", 0, &ep, err, sizeof(err)) &&
	      ep.family == 4 && ep.port == 7419 && ep.addr[3] == 1, "v4");
	endpoint_format(&ep, buf, sizeof(buf));
	CHECK(!strcmp(buf, "192.0.2.1:7419"), "format %s", buf);
	CHECK(!endpoint_parse("[2001:db8::1]:1", 0, &ep, err, sizeof(err)) &&
	      ep.family == 6 && ep.port == 1 && ep.addr[15] == 1, "v6");
	endpoint_format(&ep, buf, sizeof(buf));
	CHECK(!strcmp(buf, "[2001:db8::1]:1"), "format %s", buf);
	CHECK(endpoint_parse("2001:db8::1:7419", 0, &ep, err, sizeof(err)),
	      "IPv6 without brackets");
	CHECK(endpoint_parse("192.0.2.1:0", 0, &ep, err, sizeof(err)),
	      "port 0");
	CHECK(!endpoint_parse("0.0.0.0:0", 1, &ep, err, sizeof(err)),
	      "any for listening");
	CHECK(endpoint_parse("0.0.0.0:1", 0, &ep, err, sizeof(err)),
	      "unspecified target");
	CHECK(endpoint_parse("192.0.2.1:65536", 0, &ep, err, sizeof(err)),
	      "port 65536");
	CHECK(endpoint_parse("192.0.2.1:+5", 0, &ep, err, sizeof(err)),
	      "port +5");
	CHECK(endpoint_parse("192.0.2.1", 0, &ep, err, sizeof(err)),
	      "no port");
	CHECK(endpoint_parse("[::1]7419", 0, &ep, err, sizeof(err)),
	      "no colon");
	CHECK(endpoint_parse("300.0.0.1:1", 0, &ep, err, sizeof(err)),
	      "bad IPv4");
}

/* ADDR[/PREFIX] (the receivers' --allow): parsed, printed, matched. */
static void test_addr_prefix(void)
{
	static const char *const bad[] = { "10.0.0.0/33", "10.0.0.1/8",
					   "fd00::/129", "fd00::1/64", "x",
					   "10.0.0.0/", "10.0.0.0/+8", "/8" };
	static const struct endpoint sender = {
		.family = 4, .addr = { 10, 0, 0, 9 }, .port = 7419 };
	struct addr_prefix p[2];
	struct endpoint ep = sender;
	char err[160], buf[ADDR_PREFIX_STRLEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(addr_prefix_parse(bad[i], &p[0], err, sizeof(err)),
		      "--allow %s taken", bad[i]);
	CHECK(!addr_prefix_parse("10.0.0.9", &p[0], err, sizeof(err)) &&
	      p[0].len == 32, "one address");
	addr_prefix_format(&p[0], buf, sizeof(buf));
	CHECK(!strcmp(buf, "10.0.0.9/32"), "format %s", buf);
	CHECK(!addr_prefix_parse("fd00:1::/32", &p[1], err, sizeof(err)),
	      "IPv6 prefix: %s", err);
	CHECK(addr_prefix_match(&p[0], &ep), "10.0.0.9 in 10.0.0.9/32");
	ep.addr[3] = 8;
	CHECK(!addr_prefix_match(&p[0], &ep), "10.0.0.8 in 10.0.0.9/32");
	CHECK(!addr_prefix_parse("10.0.0.8/31", &p[0], err, sizeof(err)) &&
	      addr_prefix_match(&p[0], &ep), "10.0.0.8 in 10.0.0.8/31");
	ep.addr[3] = 10;
	CHECK(!addr_prefix_match(&p[0], &ep), "10.0.0.10 in 10.0.0.8/31");
	CHECK(!addr_prefix_parse("10.0.0.0/29", &p[0], err, sizeof(err)) &&
	      !addr_prefix_match(&p[0], &sender), "10.0.0.9 in 10.0.0.0/29");
	ep.family = TLSTAP_FAMILY_IPV6;
	memcpy(ep.addr, "\xfd\x00\x00\x01\xff", 5);
	CHECK(addr_prefix_match(&p[1], &ep), "fd00:1:ff.. in fd00:1::/32");
	CHECK(!addr_prefix_parse("0.0.0.0/0", &p[1], err, sizeof(err)) &&
	      !addr_prefix_match(&p[1], &ep) && addr_prefix_match(&p[1],
								 &sender),
	      "0.0.0.0/0 is every IPv4 sender and no IPv6 one");
}

UNIT_TESTS(UNIT_TEST(test_endpoint), UNIT_TEST(test_addr_prefix))
