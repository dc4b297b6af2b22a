// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * shared/record.c in userspace: record_parse() on records of every kind,
 * the malformed headers of record_cases.h (the KUnit suite's too), and
 * random bytes.
 */
#include <endian.h>
#include <errno.h>

#include "record_cases.h"
#include "testrec.h"
#include "unit.h"

static int all_zero_bytes(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

static void test_record_parse(void)
{
	static uint8_t buf[2 * 70000];
	struct record_info ri;
	struct tlstap_record *h = (struct tlstap_record *)buf;
	size_t len;

	len = make_record(buf, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE, 100, 1, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK &&
	      ri.len == len && ri.msg_len == 100 && ri.flow.sport == 443 &&
	      ri.pid == 4242 && ri.dropped == 7 && ri.conn_id == 1 &&
	      ri.msg == buf + 72, "valid IPv4 record");
	CHECK(record_parse(buf, len - 1, 65536, &ri) == RECORD_SHORT,
	      "short body");
	CHECK(record_parse(buf, 71, 65536, &ri) == RECORD_SHORT, "short hdr");
	CHECK(record_parse(buf, len, 99, &ri) == RECORD_TOO_LONG, "too long");
	buf[len] = 0xee;
	CHECK(record_parse(buf, len + 1, 65536, &ri) == RECORD_OK &&
	      ri.len == len, "a record followed by more bytes");

	h->type = 4;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_TYPE, "type");
	h->type = TLSTAP_RECORD_OPEN;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_LIFECYCLE,
	      "an OPEN with plaintext");
	h->type = TLSTAP_RECORD_DATA;
	h->hdr_len = 73;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_HDR_LEN, "hl");
	h->hdr_len = 72;
	for (int d = 0; d < 256; d++) {
		enum record_status st;

		h->dir = (uint8_t)d;
		st = record_parse(buf, len, 65536, &ri);
		CHECK((d == 1 || d == 2) ? st == RECORD_OK : st == RECORD_BAD_DIR,
		      "dir %d gave %s", d, record_status_name(st));
	}
	h->dir = TLSTAP_DIR_READ;
	for (int fam = 0; fam < 256; fam++) {
		enum record_status st;

		if (fam == 0 || fam == 4 || fam == 6)
			continue;
		h->family = (uint8_t)fam;
		st = record_parse(buf, len, 65536, &ri);
		CHECK(st == RECORD_BAD_FAMILY, "family %d gave %s", fam,
		      record_status_name(st));
	}
	h->family = TLSTAP_FAMILY_IPV4;
	h->saddr[15] = 1;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "IPv4 with bytes after the address");
	h->saddr[15] = 0;
	h->daddr[4] = 1;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "IPv4 daddr with bytes after the address");
	h->daddr[4] = 0;
	h->family = TLSTAP_FAMILY_IPV6;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK, "as IPv6");
	h->sport = 0;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW, "port 0");
	h->family = TLSTAP_FAMILY_NONE;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "NONE with addresses");
	len = make_record(buf, TLSTAP_FAMILY_NONE, TLSTAP_DIR_READ, 1, 5, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK, "valid NONE");
	h->dport = htobe16(1);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_FLOW,
	      "NONE with a port");
	len = make_record(buf, TLSTAP_FAMILY_IPV6, TLSTAP_DIR_READ, 0, 5, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK &&
	      ri.len == 72 && ri.msg_len == 0 && ri.dropped == 7 &&
	      record_is_loss_report(&ri), "msg_len 0, dropped 7: loss report");
	h->dropped = 0;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_EMPTY,
	      "msg_len 0, nothing dropped");
	h->dropped = htobe64(1ull << 63);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK &&
	      ri.dropped == 1ull << 63, "loss report, top bit of dropped");
	CHECK(record_parse(buf, 71, 65536, &ri) == RECORD_SHORT,
	      "loss report one byte short");
	h->type = TLSTAP_RECORD_CLOSE;
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_BAD_LIFECYCLE,
	      "a CLOSE with dropped bytes");
	h->dropped = 0;
	CHECK(record_parse(buf, len, 0, &ri) == RECORD_OK &&
	      ri.type == TLSTAP_RECORD_CLOSE && ri.len == 72 &&
	      !record_is_loss_report(&ri), "a CLOSE");
	h->type = TLSTAP_RECORD_OPEN;
	CHECK(record_parse(buf, len, 0, &ri) == RECORD_OK &&
	      ri.type == TLSTAP_RECORD_OPEN && !record_is_loss_report(&ri),
	      "an OPEN");
	h->type = TLSTAP_RECORD_DATA;
	h->dropped = htobe64(1ull << 63);
	h->msg_len = htobe32(0xffffffffu);
	CHECK(record_parse(buf, sizeof(buf), 0xffffffffu, &ri) == RECORD_SHORT,
	      "msg_len 2^32-1 with a huge maximum is only short");
	len = make_record(buf, TLSTAP_FAMILY_IPV6, TLSTAP_DIR_READ, 65536, 5, 0);
	CHECK(record_parse(buf, len, 65536, &ri) == RECORD_OK, "64 KiB");

	/* Random bytes never crash and never parse past the buffer. */
	for (int i = 0; i < 20000; i++) {
		size_t n = rnd() % 200;

		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)rnd();
		if (i % 2) {
			buf[0] = 1;
			buf[3] = 72;
		}
		if (record_parse(buf, n, 65536, &ri) == RECORD_OK)
			CHECK(ri.len <= n, "parsed beyond the buffer");
	}
}

/*
 * The module's KUnit cases (kmod/tests/record_test.c): valid headers,
 * each malformed one of record_cases.h with its status and the module's
 * errno, and random headers, whatever is accepted sound.
 */
static void test_record_cases(void)
{
	static uint8_t buf[72 + 65536];
	struct tlstap_record r;
	struct record_info ri;
	enum record_status st;

	/* record_valid: the same headers, accepted the same. */
	record_case_v4(&r);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK &&
	      ri.msg_len == 100 && ri.len == 172 && ri.conn_id == 7,
	      "record_case_v4's record");
	r.dir = TLSTAP_DIR_READ;
	r.family = TLSTAP_FAMILY_IPV6;
	memset(r.saddr, 0xfd, 16);
	memset(r.daddr, 0x01, 16);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK, "v6");
	record_case_v4(&r);
	r.family = TLSTAP_FAMILY_NONE;
	r.sport = r.dport = 0;
	memset(r.saddr, 0, 16);
	memset(r.daddr, 0, 16);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK, "none");
	record_case_v4(&r);
	r.msg_len = 0;
	r.dropped = htobe64(4096);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, 72, 65536, &ri) == RECORD_OK && ri.len == 72 &&
	      ri.dropped == 4096 && record_is_loss_report(&ri),
	      "loss report: no plaintext, bytes dropped");
	record_case_v4(&r);
	r.msg_len = htobe32(65536);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK,
	      "msg_len max");
	r.msg_len = htobe32(1);
	memcpy(buf, &r, sizeof(r));
	CHECK(record_parse(buf, sizeof(buf), 65536, &ri) == RECORD_OK &&
	      !record_is_loss_report(&ri), "msg_len 1");

	/* record_malformed: same reason, same errno class. */
	for (size_t i = 0; i < sizeof(record_bad_cases) /
			       sizeof(record_bad_cases[0]); i++) {
		const struct record_bad_case *c = &record_bad_cases[i];

		record_case_make(&r, c);
		memcpy(buf, &r, sizeof(r));
		st = record_parse(buf, sizeof(buf), RECORD_CASES_MAX_MSG, &ri);
		CHECK(st == c->status && record_status_errno(st) == c->err,
		      "case %s: %s, want %s", c->name, record_status_name(st),
		      record_status_name(c->status));
	}

	/* record_random: whatever the bytes, an accepted header is sound. */
	{
		unsigned int accepted = 0, loss = 0, lifecycle = 0;

		for (uint32_t i = 0; i < 200000; i++) {
			for (size_t k = 0; k < sizeof(r); k++)
				((uint8_t *)&r)[k] = (uint8_t)rnd();
			if (i & 1) {
				/* A quarter OPEN or CLOSE, most of those empty. */
				r.type = (i & 6) ? TLSTAP_RECORD_DATA :
					 TLSTAP_RECORD_OPEN + (i >> 3 & 1);
				r.hdr_len = TLSTAP_RECORD_HDR_LEN;
				r.dir = 1 + (r.dir & 1);
				r.family = (r.family & 1) ? TLSTAP_FAMILY_IPV6
							  : TLSTAP_FAMILY_IPV4;
				r.msg_len = htobe32(be32toh(r.msg_len) %
						    (2 * 65536));
				if (r.family == TLSTAP_FAMILY_IPV4 && (i & 2)) {
					memset(r.saddr + 4, 0, 12);
					memset(r.daddr + 4, 0, 12);
				}
				/* Loss reports, with and without a loss. */
				if (!(i & 12)) {
					r.msg_len = 0;
					if (i & 16)
						r.dropped = 0;
				}
				if (r.type != TLSTAP_RECORD_DATA && (i & 48)) {
					r.msg_len = 0;
					r.dropped = 0;
				}
			}
			memcpy(buf, &r, sizeof(r));
			if (record_parse(buf, sizeof(buf), 65536, &ri) !=
			    RECORD_OK)
				continue;
			accepted++;
			loss += record_is_loss_report(&ri);
			lifecycle += r.type != TLSTAP_RECORD_DATA;
			if (!(ri.type == r.type &&
			      (r.type == TLSTAP_RECORD_DATA
				       ? ri.msg_len || r.dropped
				       : (r.type == TLSTAP_RECORD_OPEN ||
					  r.type == TLSTAP_RECORD_CLOSE) &&
						 !ri.msg_len && !r.dropped) &&
			      r.hdr_len == TLSTAP_RECORD_HDR_LEN &&
			      (r.dir == TLSTAP_DIR_READ ||
			       r.dir == TLSTAP_DIR_WRITE) &&
			      ri.msg_len <= 65536 &&
			      ri.len == ri.msg_len + 72 && r.sport && r.dport &&
			      (r.family == TLSTAP_FAMILY_IPV6 ||
			       (r.family == TLSTAP_FAMILY_IPV4 &&
				all_zero_bytes(r.saddr + 4, 12) &&
				all_zero_bytes(r.daddr + 4, 12))))) {
				CHECK(0, "random header %u accepted", i);
				break;
			}
		}
		CHECK(accepted > 10000 && loss > 1000 && lifecycle > 1000,
		      "random: %u accepted, %u loss reports, %u OPEN or CLOSE",
		      accepted, loss, lifecycle);
	}
}

UNIT_TESTS(UNIT_TEST(test_record_parse), UNIT_TEST(test_record_cases))
