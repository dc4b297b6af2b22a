// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Reassembly (reasm.c): records packed by the sender's ring come out
 * whole and once in any order, lost or not; what may not be put together
 * is not; loss reports, OPEN and CLOSE.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "testrec.h"
#include "testrecv.h"
#include "txring.h"
#include "unit.h"

/* The writer pack_records stamps into record i: one of its own each. */
#define WRITER_PID(i)	(1000u + (i))
#define WRITER_UID(i)	((i) % 2 ? 1000u : TLSTAP_WRITER_UID_UNKNOWN)

/* Packs n records of the given sizes; returns the number of datagrams. */
static uint32_t pack_records(struct txring *r, uint8_t **recs,
			     const uint32_t *sizes, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct record_info ri;
		struct wire_chunk_meta m;
		size_t len = make_record(recs[i], i % 2 ? TLSTAP_FAMILY_IPV4
							: TLSTAP_FAMILY_IPV6,
					 TLSTAP_DIR_WRITE, sizes[i], i,
					 (uint8_t)i);

		record_parse(recs[i], len, 65536, &ri);
		memset(&m, 0, sizeof(m));
		m.record_id = r->next_record_id++;
		m.record_len = ri.len;
		m.flow = ri.flow;
		m.writer_pid = WRITER_PID(i);
		m.writer_uid = WRITER_UID(i);
		CHECK(txring_pack(r, &m, 0, recs[i], len) == len,
		      "ring too small for the test");
	}
	txring_close(r);
	return txring_unsent(r);
}

static const uint32_t sizes[] = { 1, 100, 1000, 30, 5000, 65536, 57, 2, 300 };
#define NREC (sizeof(sizes) / sizeof(sizes[0]))

static void check_all_emitted(struct collected *c, uint8_t **recs,
			      const char *what)
{
	CHECK(c->n == NREC, "%s: %u records emitted, want %zu", what, c->n,
	      NREC);
	for (unsigned int i = 0; i < c->n && i < NREC; i++) {
		uint32_t id = c->ids[i];

		CHECK(id < NREC && c->lens[i] == 72 + sizes[id] &&
		      !memcmp(c->bytes[i], recs[id], c->lens[i]),
		      "%s: record %u differs", what, id);
		CHECK(c->writer_pid[i] == WRITER_PID(id) &&
		      c->writer_uid[i] == WRITER_UID(id),
		      "%s: record %u came with writer %u/%u", what, id,
		      c->writer_pid[i], c->writer_uid[i]);
	}
}

static void test_pack_and_reassemble(void)
{
	struct txring ring;
	uint8_t *recs[NREC];
	const uint8_t *dgs[4096];
	size_t dlens[4096];
	struct collected c = { 0 };
	struct reasm_dgram_info info;
	struct endpoint sender = { .family = 4, .addr = { 10, 0, 0, 9 },
				   .port = 7419 };
	struct reasm *ra;
	uint32_t n;

	for (unsigned int i = 0; i < NREC; i++)
		recs[i] = malloc(72 + 65536);
	CHECK(!txring_init(&ring, 1452, 4096, 77), "txring_init");
	n = pack_records(&ring, recs, sizes, NREC);
	CHECK(n > 50 && n < 4096, "%u datagrams", n);
	for (uint32_t s = 0; s < n; s++) {
		struct wire_msg msg;

		dgs[s] = txring_datagram(&ring, s, &dlens[s]);
		CHECK(dgs[s] && dlens[s] <= 1452, "datagram %u: %zu bytes", s,
		      dlens[s]);
		/* Closed early only when no chunk with a byte fits. */
		CHECK(s == n - 1 || dlens[s] > 1452 - 65,
		      "datagram %u closed with room: %zu", s, dlens[s]);
		CHECK(check_dgram(dgs[s], dlens[s]) == WIRE_OK &&
		      wire_parse_msg(dgs[s], dlens[s], &msg) == WIRE_OK &&
		      msg.seq == s && msg.stream_id == 77,
		      "datagram %u does not parse", s);
	}

	/* In order. */
	ra = new_reasm(&c);
	for (uint32_t s = 0; s < n; s++)
		CHECK(reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info) ==
		      REASM_ACCEPTED, "in order %u", s);
	check_all_emitted(&c, recs, "in order");
	for (unsigned int i = 0; i < c.n && i < NREC; i++)
		CHECK(c.ids[i] == i, "in order: record %u emitted as #%u",
		      c.ids[i], i);
	CHECK(reasm_stats(ra)->seq_gaps == 0 &&
	      reasm_stats(ra)->pending_bytes == 0, "in order: counters");
	/* Everything again: all duplicates, nothing emitted. */
	for (uint32_t s = 0; s < n; s++)
		CHECK(reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info) ==
		      REASM_DUPLICATE, "duplicate %u", s);
	CHECK(c.n == NREC && reasm_stats(ra)->dup_datagrams == n,
	      "duplicates emitted records");
	reasm_free(ra);
	collected_free(&c);

	/*
	 * Reversed: the stream starts at the last datagram (the first seen);
	 * the others are originals from before it, overtaken on the way:
	 * taken, though no hole was opened for them.
	 */
	ra = new_reasm(&c);
	for (uint32_t s = n; s-- > 0;)
		reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info);
	check_all_emitted(&c, recs, "reversed");
	CHECK(reasm_stats(ra)->seq_gaps == 0 &&
	      reasm_stats(ra)->late_datagrams == n - 1,
	      "reversed: gaps %llu late %llu", reasm_stats(ra)->seq_gaps,
	      reasm_stats(ra)->late_datagrams);
	reasm_free(ra);
	collected_free(&c);

	/* Shuffled, every datagram twice. */
	ra = new_reasm(&c);
	{
		uint32_t order[2 * 4096];

		for (uint32_t i = 0; i < 2 * n; i++)
			order[i] = i % n;
		for (uint32_t i = 2 * n - 1; i > 0; i--) {
			uint32_t j = rnd() % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (uint32_t i = 0; i < 2 * n; i++)
			reasm_datagram(ra, &sender, dgs[order[i]],
				       dlens[order[i]], T0, &info);
	}
	check_all_emitted(&c, recs, "shuffled twice");
	CHECK(reasm_stats(ra)->dup_datagrams == n, "shuffled: %llu dups",
	      reasm_stats(ra)->dup_datagrams);
	reasm_free(ra);
	collected_free(&c);

	/* One datagram missing: the records it touches never come out. */
	ra = new_reasm(&c);
	for (uint32_t s = 0; s < n; s++)
		if (s != n / 2)
			reasm_datagram(ra, &sender, dgs[s], dlens[s], T0, &info);
	CHECK(c.n == NREC - 1, "missing chunk: %u records emitted", c.n);
	for (unsigned int i = 0; i < c.n && i < 64; i++)
		CHECK(c.ids[i] != 5, "the 64 KiB record came out incomplete");
	CHECK(reasm_stats(ra)->pending_bytes == 72 + 65536,
	      "pending %llu", reasm_stats(ra)->pending_bytes);
	/* A different stream id is a different stream. */
	{
		uint8_t copy[1500];

		memcpy(copy, dgs[n / 2], dlens[n / 2]);
		copy[4] ^= 1;
		reasm_datagram(ra, &sender, copy, dlens[n / 2], T0, &info);
		CHECK(c.n == NREC - 1 && reasm_stats(ra)->streams == 2,
		      "another stream's chunk completed a record");
	}
	/* Late arrival completes it. */
	reasm_datagram(ra, &sender, dgs[n / 2], dlens[n / 2], T0, &info);
	check_all_emitted(&c, recs, "late chunk");
	reasm_free(ra);
	collected_free(&c);

	/* Repacking the unsent datagrams at a smaller size keeps the bytes. */
	{
		struct txring r2;
		uint8_t *copy;
		size_t copy_len, pos = 0;
		uint32_t m;

		CHECK(!txring_init(&r2, 1452, 8192, 78), "txring_init");
		n = pack_records(&r2, recs, sizes, NREC);
		txring_mark_sent(&r2, 3);
		CHECK(!txring_take_unsent(&r2, &copy, &copy_len), "take");
		CHECK(r2.next_seq == 3 && txring_unsent(&r2) == 0, "rewound");
		r2.dgram_size = 1232;
		while (pos < copy_len) {
			struct wire_msg msg;
			struct wire_chunk ch;
			size_t cp = 0;
			uint16_t dl;

			memcpy(&dl, copy + pos + 12, 2);
			dl = be16toh(dl);
			CHECK(wire_parse_msg(copy + pos, dl, &msg) == WIRE_OK,
			      "copy parses");
			while (wire_next_chunk(&msg, &cp, &ch))
				CHECK(txring_pack(&r2, &ch.meta, ch.offset,
						  ch.data, ch.len) == ch.len,
				      "repack");
			pos += dl;
		}
		free(copy);
		txring_close(&r2);
		m = r2.next_seq;
		CHECK(m > n, "repacked into %u datagrams (was %u)", m, n);
		ra = new_reasm(&c);
		for (uint32_t s = 0; s < m; s++) {
			const uint8_t *d = txring_datagram(&r2, s, &dlens[0]);

			CHECK(d && (s < 3 || dlens[0] <= 1232),
			      "repacked %u: %zu", s, dlens[0]);
			if (d)
				reasm_datagram(ra, &sender, d, dlens[0], T0, &info);
		}
		check_all_emitted(&c, recs, "repacked");
		reasm_free(ra);
		collected_free(&c);
		txring_free(&r2);
	}
	txring_free(&ring);
	for (unsigned int i = 0; i < NREC; i++)
		free(recs[i]);
}

static void test_reasm_rejects(void)
{
	static uint8_t rec[72 + 3000], other[72 + 3000], dg[4000];
	struct endpoint sender = { .family = 4, .addr = { 10, 0, 0, 9 },
				   .port = 7419 };
	struct reasm_dgram_info info;
	struct collected c = { 0 };
	struct reasm *ra = new_reasm(&c);
	size_t len = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE,
				 3000, 1, 0), n;

	/* Aborted: first half arrives, then an aborted chunk. */
	n = piece(dg, 0, rec, len, 0, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 1, rec, len, 0, 1000, 2072, TLSTAP_CHUNK_F_ABORTED);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 0 && reasm_stats(ra)->records_aborted == 1 &&
	      reasm_stats(ra)->pending_bytes == 0, "aborted record");

	/* Overlapping bytes that differ: never emitted. */
	memcpy(other, rec, len);
	other[500] ^= 0xff;
	n = piece(dg, 2, rec, len, 1, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 3, other, len, 1, 400, 2672, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 0 && reasm_stats(ra)->records_inconsistent == 1,
	      "overlap with different bytes emitted");

	/* Overlapping equal bytes (a retransmission cut differently): fine. */
	n = piece(dg, 4, rec, len, 2, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 5, rec, len, 2, 600, 2472, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && c.ids[0] == 2 && c.lens[0] == len &&
	      !memcmp(c.bytes[0], rec, len), "equal overlap not emitted");
	CHECK(c.writer_pid[0] == 4343 && c.writer_uid[0] == 1000,
	      "writer %u/%u", c.writer_pid[0], c.writer_uid[0]);

	/* Chunks stamped with another writer pid, or uid: never emitted. */
	n = piece(dg, 6, rec, len, 4, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece_by(dg, 7, rec, len, 4, 1000, 2072, 0, 4344, 1000);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 8, rec, len, 5, 0, 1000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece_by(dg, 9, rec, len, 5, 1000, 2072, 0, 4343,
		     TLSTAP_WRITER_UID_UNKNOWN);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_inconsistent == 3 &&
	      reasm_stats(ra)->pending_bytes == 0,
	      "chunks of two writers: %u records, %llu inconsistent", c.n,
	      reasm_stats(ra)->records_inconsistent);

	/* Chunks claiming another flow than the record's own header. */
	memcpy(other, rec, len);
	other[4] ^= 1;		/* the header's sport */
	n = piece(dg, 10, rec, len, 3, 0, 72, 0);
	memcpy(dg + 16 + 64, other, 72);	/* header bytes of "other" */
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	n = piece(dg, 11, rec, len, 3, 72, 3000, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_invalid == 1,
	      "record whose header disagrees with its chunks emitted");
	reasm_free(ra);
	collected_free(&c);

	/* The pending-memory bound evicts the oldest incomplete record. */
	{
		struct reasm_config cfg = {
			.max_msg_len = 65536,
			.max_pending_bytes = 2 * len,
			.max_streams = 4,
		};

		ra = reasm_new(&cfg, &collect_ops, &c);
		for (uint32_t id = 0; id < 3; id++) {
			n = piece(dg, id, rec, len, id, 0, 100, 0);
			reasm_datagram(ra, &sender, dg, n, T0, &info);
		}
		CHECK(reasm_stats(ra)->records_evicted == 1 &&
		      reasm_stats(ra)->pending_bytes == 2 * len,
		      "evicted %llu pending %llu",
		      reasm_stats(ra)->records_evicted,
		      reasm_stats(ra)->pending_bytes);
		n = piece(dg, 3, rec, len, 0, 100, 2972, 0);
		reasm_datagram(ra, &sender, dg, n, T0, &info);
		CHECK(c.n == 0, "an evicted record came out");
		n = piece(dg, 4, rec, len, 2, 100, 2972, 0);
		reasm_datagram(ra, &sender, dg, n, T0, &info);
		CHECK(c.n == 1 && c.ids[0] == 2, "record 2 not completed");
		reasm_free(ra);
		collected_free(&c);
	}
}

/* Loss reports: 72-byte records, packed, reassembled and output as such. */
static void test_loss_reports(void)
{
	static uint8_t data[72 + 3000], dg[2000];
	uint8_t loss[72], forged[72];
	struct endpoint sender = { .family = 4, .addr = { 10, 0, 0, 9 },
				   .port = 7419 };
	struct reasm_dgram_info info;
	struct collected c = { 0 };
	struct record_info ri;
	struct reasm *ra;
	size_t n, dlen = make_record(data, TLSTAP_FAMILY_IPV4,
				     TLSTAP_DIR_WRITE, 3000, 1, 0);
	size_t llen = make_record(loss, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_READ, 0,
				  1, 0);

	CHECK(llen == 72 && record_parse(loss, llen, 65536, &ri) == RECORD_OK,
	      "loss report does not parse");

	/* One chunk of 72 bytes: a valid datagram, emitted at once. */
	n = build_one(dg, loss, llen);
	CHECK(n == 16 + 64 + 72 && check_dgram(dg, n) == WIRE_OK,
	      "loss report datagram: %s", wire_status_name(check_dgram(dg, n)));
	ra = new_reasm(&c);
	CHECK(reasm_datagram(ra, &sender, dg, n, T0, &info) == REASM_ACCEPTED &&
	      c.n == 1 && c.ids[0] == 3 && c.lens[0] == 72 &&
	      !memcmp(c.bytes[0], loss, 72) &&
	      reasm_stats(ra)->loss_reports == 1 &&
	      reasm_stats(ra)->records == 1, "loss report not emitted");
	reasm_free(ra);
	collected_free(&c);

	/* Cut in two (40 + 32 bytes), in reverse order: emitted once. */
	ra = new_reasm(&c);
	n = piece(dg, 1, loss, llen, 0, 40, 32, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 0 && reasm_stats(ra)->pending_bytes == 72,
	      "half a loss report came out");
	n = piece(dg, 0, loss, llen, 0, 0, 40, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && c.lens[0] == 72 && !memcmp(c.bytes[0], loss, 72) &&
	      reasm_stats(ra)->loss_reports == 1 &&
	      reasm_stats(ra)->pending_bytes == 0, "split loss report");

	/* An empty record that reports nothing is not a record. */
	memcpy(forged, loss, 72);
	memset(forged + offsetof(struct tlstap_record, dropped), 0, 8);
	n = piece(dg, 2, forged, 72, 1, 0, 72, 0);
	CHECK(check_dgram(dg, n) == WIRE_OK, "well-formed datagram");
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_invalid == 1 &&
	      reasm_stats(ra)->loss_reports == 1,
	      "empty record without a loss emitted");
	/* An aborted loss report is dropped like any aborted record. */
	n = piece(dg, 3, loss, llen, 2, 0, 72, TLSTAP_CHUNK_F_ABORTED);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 1 && reasm_stats(ra)->records_aborted == 1,
	      "aborted loss report emitted");
	/* OPEN and CLOSE: 72 bytes too, counted as such, not as losses. */
	memcpy(forged, loss, 72);
	((struct tlstap_record *)forged)->type = TLSTAP_RECORD_OPEN;
	memset(forged + offsetof(struct tlstap_record, dropped), 0, 8);
	n = piece(dg, 4, forged, 72, 3, 0, 72, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	((struct tlstap_record *)forged)->type = TLSTAP_RECORD_CLOSE;
	n = piece(dg, 5, forged, 72, 4, 0, 72, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 3 && c.lens[2] == 72 && !memcmp(c.bytes[2], forged, 72) &&
	      reasm_stats(ra)->opens == 1 && reasm_stats(ra)->closes == 1 &&
	      reasm_stats(ra)->loss_reports == 1 &&
	      reasm_stats(ra)->records == 3, "OPEN and CLOSE");
	/* A CLOSE with a loss in it is no record. */
	((struct tlstap_record *)forged)->dropped = htobe64(5);
	n = piece(dg, 6, forged, 72, 5, 0, 72, 0);
	reasm_datagram(ra, &sender, dg, n, T0, &info);
	CHECK(c.n == 3 && reasm_stats(ra)->records_invalid == 2,
	      "a CLOSE with dropped bytes emitted");
	reasm_free(ra);
	collected_free(&c);

	/*
	 * Packing: after a data record the open datagram has room bytes
	 * left; a chunk opens there when room >= 65 (the module's rule).
	 */
	{
		static const size_t rooms[] = { 200, 136, 100, 65, 64, 1 };

		for (size_t k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
			size_t room = rooms[k];
			size_t first_len = room >= 65 ? room - 64 : 0;
			struct wire_chunk_meta m;
			struct txring r;
			struct wire_msg msg;
			struct wire_chunk ch;
			const uint8_t *d;
			size_t len, pos = 0;
			uint32_t ndg;

			dlen = make_record(data, TLSTAP_FAMILY_IPV4,
					   TLSTAP_DIR_WRITE,
					   (uint32_t)(1000 - room - 16 - 64 - 72),
					   1, 0);
			CHECK(!txring_init(&r, 1000, 8, 5), "init");
			record_parse(data, dlen, 65536, &ri);
			memset(&m, 0, sizeof(m));
			m.record_id = r.next_record_id++;
			m.record_len = ri.len;
			m.flow = ri.flow;
			txring_pack(&r, &m, 0, data, dlen);
			record_parse(loss, llen, 65536, &ri);
			m.record_id = r.next_record_id++;
			m.record_len = ri.len;
			m.flow = ri.flow;
			CHECK(txring_pack(&r, &m, 0, loss, llen) == llen,
			      "room %zu: not packed", room);
			txring_close(&r);
			ndg = txring_unsent(&r);
			CHECK(ndg == (first_len && first_len < 72 ? 2u :
				      first_len ? 1u : 2u),
			      "room %zu: %u datagrams", room, ndg);
			d = txring_datagram(&r, 0, &len);
			CHECK(d && wire_parse_msg(d, len, &msg) == WIRE_OK &&
			      msg.count == (first_len ? 2 : 1) &&
			      len == (first_len ? 1000 - room +
						  64 + (first_len < 72 ?
							first_len : 72)
						: 1000 - room),
			      "room %zu: first datagram %zu bytes", room, len);
			/* The last chunk of the last datagram ends the report. */
			d = txring_datagram(&r, ndg - 1, &len);
			CHECK(d && wire_parse_msg(d, len, &msg) == WIRE_OK &&
			      wire_check_data(&msg, 65536) == WIRE_OK,
			      "room %zu: last datagram", room);
			while (d && wire_next_chunk(&msg, &pos, &ch))
				;
			CHECK(ch.meta.record_len == 72 &&
			      ch.offset + ch.len == 72 &&
			      ch.offset == (first_len < 72 ? first_len : 0),
			      "room %zu: report chunk at %u, %u bytes", room,
			      ch.offset, ch.len);
			ra = new_reasm(&c);
			for (uint32_t s = 0; s < ndg; s++) {
				d = txring_datagram(&r, s, &len);
				reasm_datagram(ra, &sender, d, len, T0, &info);
			}
			CHECK(c.n == 2 && c.ids[1] == 1 && c.lens[1] == 72 &&
			      !memcmp(c.bytes[1], loss, 72),
			      "room %zu: %u records", room, c.n);
			reasm_free(ra);
			collected_free(&c);
			txring_free(&r);
		}
	}
}

UNIT_TESTS(UNIT_TEST(test_pack_and_reassemble), UNIT_TEST(test_reasm_rejects),
	   UNIT_TEST(test_loss_reports))
