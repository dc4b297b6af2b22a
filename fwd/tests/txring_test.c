// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The send ring (txring.c) when it is full. */
#include <string.h>

#include "testrec.h"
#include "txring.h"
#include "unit.h"

static void test_ring_limits(void)
{
	struct txring r;
	uint8_t rec[72 + 3000];
	struct wire_chunk_meta m;
	struct record_info ri;
	size_t len = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_READ,
				 3000, 1, 0), got;
	const uint8_t *d;

	record_parse(rec, len, 65536, &ri);
	memset(&m, 0, sizeof(m));
	m.record_len = ri.len;
	m.flow = ri.flow;
	CHECK(!txring_init(&r, 1000, 2, 1), "init");
	got = txring_pack(&r, &m, 0, rec, len);
	CHECK(got == 2 * (1000 - 16 - 64), "packed %zu into a full ring", got);
	CHECK(txring_unsent(&r) == 2, "both full datagrams closed");
	txring_mark_sent(&r, 1);
	got += txring_pack(&r, &m, (uint32_t)got, rec + got, len - got);
	CHECK(got == 3 * (1000 - 16 - 64), "packed %zu after one sent", got);
	CHECK(txring_datagram(&r, 0, &len) == NULL,
	      "seq 0 still held after its slot was reused");
	d = txring_datagram(&r, 1, &len);
	CHECK(d && len == 1000, "seq 1 held");
	txring_free(&r);
	CHECK(txring_init(&r, 1000, 1, 1), "a one-slot ring accepted");
}

UNIT_TESTS(UNIT_TEST(test_ring_limits))
