// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Streams of records packed by the sender's own ring, and the sender's
 * answers to NACKs, for the unit tests (teststream.h).
 */
#include <stdlib.h>
#include <string.h>

#include "testrec.h"
#include "teststream.h"
#include "unit.h"

void relstream_make(struct relstream *st, unsigned int nrec,
		    uint32_t max_size)
{
	memset(st, 0, sizeof(*st));
	CHECK(!txring_init(&st->ring, 1452, 60000, 0x5eed), "txring_init");
	for (unsigned int i = 0; i < nrec; i++) {
		struct record_info ri;
		struct wire_chunk_meta m;
		uint32_t size = 1 + rnd() % max_size;

		st->recs[i] = malloc(72 + size);
		st->lens[i] = make_record(st->recs[i], TLSTAP_FAMILY_IPV4,
					  TLSTAP_DIR_READ, size, i,
					  (uint8_t)rnd());
		record_parse(st->recs[i], st->lens[i], 65536, &ri);
		memset(&m, 0, sizeof(m));
		m.record_id = st->ring.next_record_id++;
		m.record_len = ri.len;
		m.flow = ri.flow;
		CHECK(txring_pack(&st->ring, &m, 0, st->recs[i], st->lens[i]) ==
		      st->lens[i], "ring too small");
	}
	txring_close(&st->ring);
	st->nrec = nrec;
	st->ndg = txring_unsent(&st->ring);
}

void relstream_free(struct relstream *st)
{
	txring_free(&st->ring);
	for (unsigned int i = 0; i < st->nrec; i++)
		free(st->recs[i]);
}

void note_resend(void *arg, uint32_t seq, const uint8_t *dgram,
		 size_t len)
{
	struct resent *r = arg;
	struct wire_msg msg;

	CHECK(wire_parse_msg(dgram, len, &msg) == WIRE_OK && msg.seq == seq &&
	      msg.flags == TLSTAP_MSG_F_RETRANSMIT,
	      "resent %u is not its datagram, flagged", seq);
	if (r->n < 4096)
		r->seqs[r->n] = seq;
	r->n++;
}

size_t nack_of(uint8_t *buf, const struct wire_range *rg,
	       unsigned int n, struct wire_msg *msg)
{
	size_t len = wire_build_ranges(buf, TLSTAP_MSG_NACK, 0x5eed, rg, n);

	CHECK(wire_parse_msg(buf, len, msg) == WIRE_OK &&
	      wire_check_ranges(msg) == WIRE_OK, "NACK does not check out");
	return len;
}
