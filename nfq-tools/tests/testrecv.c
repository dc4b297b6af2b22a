// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The receivers' core (reasm.c) with its output recorded, and the
 * datagrams fed to it, for the unit tests (testrecv.h).
 */
#include <stdlib.h>
#include <string.h>

#include "testrec.h"
#include "testrecv.h"
#include "unit.h"

static void collect(void *arg, const struct reasm_record *r)
{
	struct collected *c = arg;

	if (c->n < 64) {
		c->ids[c->n] = r->record_id;
		c->lens[c->n] = r->rec->len;
		c->bytes[c->n] = malloc(r->rec->len);
		memcpy(c->bytes[c->n], r->rec->bytes, r->rec->len);
		c->seq_first[c->n] = r->seq_first;
		c->writer_pid[c->n] = r->writer_pid;
		c->writer_uid[c->n] = r->writer_uid;
	}
	c->n++;
}

void collected_free(struct collected *c)
{
	for (unsigned int i = 0; i < c->n && i < 64; i++)
		free(c->bytes[i]);
	memset(c, 0, sizeof(*c));
}

/* collect_ops: no LOST range is expected, NACKs are let go. */
static void unexpected_lost(void *arg, const struct reasm_lost *l)
{
	(void)arg;
	CHECK(0, "LOST seqs %u..%u", l->seq_first, l->seq_last);
}

static void unexpected_nack(void *arg, const struct endpoint *to,
			    const uint8_t *msg, size_t len)
{
	(void)arg;
	(void)to;
	(void)msg;
	(void)len;
}

const struct reasm_ops collect_ops = {
	.record = collect,
	.lost = unexpected_lost,
	.nack = unexpected_nack,
};

struct reasm *new_reasm(struct collected *c)
{
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 8u << 20,
		.max_streams = 4,
	};

	return reasm_new(&cfg, &collect_ops, c);
}

size_t piece_by(uint8_t *dg, uint32_t seq, const uint8_t *rec,
		size_t rec_len, uint32_t record_id, uint32_t off,
		uint32_t len, uint8_t flags, uint32_t writer_pid,
		uint32_t writer_uid)
{
	struct wire_builder b;
	struct wire_chunk_meta m;
	struct record_info ri;

	record_parse(rec, rec_len, 65536, &ri);
	memset(&m, 0, sizeof(m));
	m.record_id = record_id;
	m.record_len = (uint32_t)rec_len;
	m.flow = ri.flow;
	m.flags = flags;
	m.writer_pid = writer_pid;
	m.writer_uid = writer_uid;
	wire_builder_start(&b, dg, 65507, 5, seq, 0);
	wire_builder_add(&b, &m, off, rec + off, len);
	return wire_builder_finish(&b);
}

size_t piece(uint8_t *dg, uint32_t seq, const uint8_t *rec,
	     size_t rec_len, uint32_t record_id, uint32_t off,
	     uint32_t len, uint8_t flags)
{
	return piece_by(dg, seq, rec, rec_len, record_id, off, len, flags,
			4343, 1000);
}

void relcap_reset(struct relcap *c, struct relstream *st)
{
	memset(c, 0, sizeof(*c));
	c->recs = (const uint8_t **)st->recs;
	c->rec_lens = st->lens;
}

static void rel_record(void *arg, const struct reasm_record *r)
{
	struct relcap *c = arg;

	c->nrec++;
	if (r->record_id < 4096) {
		c->emitted[r->record_id]++;
		if (c->recs)
			CHECK(r->rec->len == c->rec_lens[r->record_id] &&
			      !memcmp(r->rec->bytes, c->recs[r->record_id],
				      r->rec->len),
			      "record %u differs", r->record_id);
	}
}

static void rel_lost(void *arg, const struct reasm_lost *l)
{
	struct relcap *c = arg;

	if (c->nlost < 1024)
		c->lost[c->nlost] = *l;
	c->nlost++;
}

static void rel_nack(void *arg, const struct endpoint *to, const uint8_t *msg,
		     size_t len)
{
	struct relcap *c = arg;
	struct wire_msg m;

	CHECK(to->port == 7419, "NACK to port %u", to->port);
	CHECK(wire_parse_msg(msg, len, &m) == WIRE_OK &&
	      m.type == TLSTAP_MSG_NACK && m.seq == 0 && m.flags == 0 &&
	      wire_check_ranges(&m) == WIRE_OK, "NACK does not check out");
	c->nnack++;
	if (c->capture_nacks && c->npending_nacks < 64) {
		memcpy(c->pending_nacks[c->npending_nacks], msg, len);
		c->pending_lens[c->npending_nacks++] = len;
	}
	for (unsigned int i = 0; i < m.count; i++) {
		if (c->nnacked < 64)
			c->nacked[c->nnacked] = wire_get_range(&m, i);
		c->nnacked++;
	}
}

static void rel_start(void *arg, const struct reasm_start *st)
{
	struct relcap *c = arg;

	if (c->nstarts < 8) {
		c->starts[c->nstarts] = *st;
		c->starts[c->nstarts].sender = NULL;
	}
	c->nstarts++;
}

const struct reasm_ops rel_ops = {
	.record = rel_record,
	.lost = rel_lost,
	.nack = rel_nack,
	.start = rel_start,
};

const struct endpoint rel_sender = {
	.family = 4, .addr = { 10, 0, 0, 9 }, .port = 7419 };

struct reasm *rel_reasm(struct relcap *c)
{
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 64u << 20,
		.max_streams = 4,
	};

	return reasm_new(&cfg, &rel_ops, c);
}

void relstream_send(struct relstream *st, struct reasm *ra,
		    uint32_t seq, uint64_t now, int retransmit)
{
	struct reasm_dgram_info info;
	uint8_t copy[1452];
	size_t len;
	const uint8_t *d = txring_datagram(&st->ring, seq, &len);

	memcpy(copy, d, len);
	if (retransmit)
		copy[3] |= TLSTAP_MSG_F_RETRANSMIT;
	reasm_datagram(ra, &rel_sender, copy, len, now, &info);
}

void records_in(struct relstream *st, const uint8_t *lost,
		uint8_t *touched)
{
	memset(touched, 0, st->nrec);
	for (uint32_t s = 0; s < st->ndg; s++) {
		struct wire_msg msg;
		struct wire_chunk ch;
		size_t len, pos = 0;
		const uint8_t *d;

		if (!lost[s])
			continue;
		d = txring_datagram(&st->ring, s, &len);
		wire_parse_msg(d, len, &msg);
		while (wire_next_chunk(&msg, &pos, &ch))
			touched[ch.meta.record_id] = 1;
	}
}

void send_gap(struct reasm *ra, uint32_t first, uint32_t last,
	      uint64_t now)
{
	struct wire_range r = { first, last };
	struct reasm_dgram_info info;
	uint8_t buf[64];
	size_t n = wire_build_ranges(buf, TLSTAP_MSG_GAP, 0x5eed, &r, 1);

	CHECK(reasm_datagram(ra, &rel_sender, buf, n, now, &info) ==
	      REASM_CONTROL, "GAP not taken");
}

void send_heartbeat(struct reasm *ra, uint32_t highest,
		    uint32_t oldest, uint64_t now)
{
	struct reasm_dgram_info info;
	uint8_t buf[WIRE_HEARTBEAT_LEN];
	size_t n = wire_build_heartbeat(buf, 0x5eed, highest, oldest);

	CHECK(reasm_datagram(ra, &rel_sender, buf, n, now, &info) ==
	      REASM_CONTROL, "HEARTBEAT not taken");
}
