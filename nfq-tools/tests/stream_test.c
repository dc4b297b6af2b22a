// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Streams in the receivers' core (reasm.c): where one starts, the
 * senders that may have one (--allow), the bound on their number, a
 * stream evicted and one that comes back.
 */
#include <string.h>

#include "testrecv.h"
#include "unit.h"

/*
 * Where a stream starts (PROTOCOL.md 5.1): at the first datagram seen,
 * nothing before it asked for or said lost, the records that began
 * before it not handed out; an original from before it that comes after
 * all is taken, a retransmission from before it is not (it answers
 * another receiver's NACK), and a retransmission never starts a stream.
 */
static void test_stream_start(void)
{
	static struct relstream st;
	static struct relcap c;
	uint8_t before[4096] = { 0 }, touched[4096];
	struct reasm *ra;
	const uint32_t k = 4;
	uint32_t first_rid;
	struct wire_msg msg;
	struct wire_chunk ch;
	size_t len, pos = 0;
	const uint8_t *d;

	relstream_make(&st, 60, 3000);
	CHECK(st.ndg > 2 * k, "%u datagrams", st.ndg);
	for (uint32_t s = 0; s < k; s++)
		before[s] = 1;
	records_in(&st, before, touched);
	d = txring_datagram(&st.ring, k, &len);
	wire_parse_msg(d, len, &msg);
	wire_next_chunk(&msg, &pos, &ch);
	first_rid = ch.meta.record_id + (ch.offset ? 1 : 0);

	relcap_reset(&c, &st);
	ra = rel_reasm(&c);
	for (uint32_t s = k; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0, 0);
	CHECK(!reasm_timer(ra, T0) && c.nnack == 0, "NACKed before the start");
	CHECK(c.nstarts == 1 && c.starts[0].how == REASM_START_JOINED &&
	      c.starts[0].seq == k && c.starts[0].has_record &&
	      c.starts[0].record_id == first_rid &&
	      reasm_stats(ra)->streams_joined == 1,
	      "start: %u, seq %u, record %u (want %u)", c.nstarts,
	      c.starts[0].seq, c.starts[0].record_id, first_rid);
	for (unsigned int r = 0; r < st.nrec; r++)
		CHECK(c.emitted[r] == !touched[r],
		      "record %u: emitted %u, touched before the start %u", r,
		      c.emitted[r], touched[r]);
	/* A retransmission from before the start is someone else's. */
	relstream_send(&st, ra, k - 1, T0, 1);
	CHECK(reasm_stats(ra)->before_start == 1 &&
	      c.nrec == st.nrec - (unsigned int)(first_rid), "resent before");
	reasm_flush(ra);
	CHECK(c.nlost == 0 && !reasm_stats(ra)->lost_datagrams,
	      "LOST before the start");
	reasm_free(ra);

	/* Overtaken originals from before the start are taken. */
	relcap_reset(&c, &st);
	ra = rel_reasm(&c);
	relstream_send(&st, ra, k, T0, 0);
	for (uint32_t s = k; s-- > 0;)
		relstream_send(&st, ra, s, T0, 0);
	for (uint32_t s = k + 1; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0, 0);
	CHECK(c.nrec == st.nrec && !reasm_stats(ra)->seq_gaps &&
	      reasm_stats(ra)->late_datagrams == k && !reasm_timer(ra, T0),
	      "overtaken: %u of %u records", c.nrec, st.nrec);
	reasm_free(ra);

	/* From seq 0: new, not joined. A retransmission starts nothing. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	relstream_send(&st, ra, 1, T0, 1);
	CHECK(reasm_stats(ra)->streams == 0 && c.nstarts == 0 &&
	      reasm_stats(ra)->before_start == 1, "a retransmission started a stream");
	relstream_send(&st, ra, 0, T0, 0);
	CHECK(c.nstarts == 1 && c.starts[0].how == REASM_START_NEW &&
	      c.starts[0].record_id == 0 &&
	      !reasm_stats(ra)->streams_joined, "from seq 0");
	reasm_free(ra);
	relstream_free(&st);
}

/* A stream evicted for another says what it still missed. */
static void test_evicted_stream(void)
{
	static struct relstream st;
	static struct relcap c;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 64u << 20,
		.max_streams = 1,
	};
	struct endpoint other = rel_sender;
	struct reasm_dgram_info info;
	struct reasm *ra;
	uint8_t lost[4096] = { 0 }, touched[4096];
	uint8_t hb[WIRE_HEARTBEAT_LEN];

	relstream_make(&st, 20, 3000);
	memset(&c, 0, sizeof(c));
	ra = reasm_new(&cfg, &rel_ops, &c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != 4)
			relstream_send(&st, ra, s, T0, 0);
	CHECK(c.nlost == 0, "LOST before eviction");
	other.port++;
	wire_build_heartbeat(hb, 1, 70000, 70001);
	reasm_datagram(ra, &other, hb, sizeof(hb), T0, &info);
	lost[4] = 1;
	records_in(&st, lost, touched);
	CHECK(c.nlost == 1 && c.lost[0].seq_first == 4 &&
	      c.lost[0].reason == GAP_REASON_TIMEOUT &&
	      c.lost[0].has_record_first && c.lost[0].has_record_last &&
	      touched[c.lost[0].record_first] &&
	      touched[c.lost[0].record_last] &&
	      reasm_stats(ra)->streams_evicted == 1,
	      "evicted stream: %u LOST", c.nlost);
	reasm_free(ra);
	relstream_free(&st);
}

/*
 * An evicted stream that comes back continues where it stopped (the
 * evicted table): nothing asked for again, nothing written twice. Without
 * the table it would start anew where it comes back: nothing twice
 * either, the records across the point lost.
 */
static void test_evicted_resume(void)
{
	static struct relstream st;
	static struct relcap c;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 64u << 20,
		.max_streams = 1,
		.max_evicted = 4,
	};
	struct endpoint other = rel_sender;
	struct reasm_dgram_info info;
	uint8_t hb[WIRE_HEARTBEAT_LEN];
	struct reasm *ra;
	uint32_t half;

	relstream_make(&st, 40, 3000);
	half = st.ndg / 2;
	other.port++;
	wire_build_heartbeat(hb, 77, 5, 0);
	for (int table = 1; table >= 0; table--) {
		relcap_reset(&c, &st);
		cfg.max_evicted = table ? 4 : 0;
		ra = reasm_new(&cfg, &rel_ops, &c);
		for (uint32_t s = 0; s < half; s++)
			relstream_send(&st, ra, s, T0, 0);
		reasm_datagram(ra, &other, hb, sizeof(hb), T0, &info);
		CHECK(reasm_stats(ra)->streams_evicted == 1, "not evicted");
		for (uint32_t s = half; s < st.ndg; s++)
			relstream_send(&st, ra, s, T0, 0);
		/* An answer to an old NACK: old news. */
		relstream_send(&st, ra, 1, T0, 1);
		/*
		 * The record under way at the eviction is asked for again:
		 * the seqs its chunks came in (no others).
		 */
		reasm_timer(ra, T0);
		CHECK(table ? c.nnack == 1 && c.nnacked == 1 &&
			      c.nacked[0].last == half - 1 &&
			      c.nacked[0].last - c.nacked[0].first < 4
			    : c.nnack == 0,
		      "table %d: %u NACKs, %u..%u", table, c.nnack,
		      c.nacked[0].first, c.nacked[0].last);
		for (uint32_t s = c.nacked[0].first;
		     c.nnack && s != c.nacked[0].last + 1; s++)
			relstream_send(&st, ra, s, T0, 1);
		reasm_flush(ra);
		for (unsigned int r = 0; r < st.nrec; r++)
			CHECK(c.emitted[r] <= 1 && (!table || c.emitted[r] == 1),
			      "table %d: record %u emitted %u times", table, r,
			      c.emitted[r]);
		CHECK(c.nlost == 0, "table %d: %u LOST", table, c.nlost);
		CHECK(table ? reasm_stats(ra)->streams_resumed == 1 &&
			      c.nstarts == 3 &&
			      c.starts[2].how == REASM_START_RESUMED
			    : !reasm_stats(ra)->streams_resumed &&
			      c.starts[2].how == REASM_START_JOINED &&
			      c.starts[2].seq == half,
		      "table %d: came back as %s", table,
		      reasm_start_how_name(c.starts[2].how));
		reasm_free(ra);
	}
	relstream_free(&st);
}

/*
 * At max_streams, the least recently seen stream goes: a stream seen
 * again moves to the front, so of A, B, A, C it is B that is forgotten
 * (and made anew when it comes back), A that is kept.
 */
static void test_stream_lru(void)
{
	static struct relcap c;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 1u << 20,
		.max_streams = 2,
	};
	struct endpoint from[3] = { rel_sender, rel_sender, rel_sender };
	static const int order[] = { 0, 1, 0, 2, 0, 1 };
	static const unsigned long long made[] = { 1, 2, 2, 3, 3, 4 };
	struct reasm_dgram_info info;
	uint8_t hb[WIRE_HEARTBEAT_LEN];
	struct reasm *ra;

	memset(&c, 0, sizeof(c));
	ra = reasm_new(&cfg, &rel_ops, &c);
	for (int i = 0; i < 3; i++)
		from[i].port += i;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		wire_build_heartbeat(hb, 1, 0, 0);
		reasm_datagram(ra, &from[order[i]], hb, sizeof(hb), T0, &info);
		CHECK(reasm_stats(ra)->streams == made[i],
		      "stream LRU: step %zu made %llu streams, want %llu", i,
		      reasm_stats(ra)->streams, made[i]);
	}
	CHECK(reasm_stats(ra)->streams_evicted == 2,
	      "stream LRU: %llu evicted, want 2",
	      reasm_stats(ra)->streams_evicted);
	reasm_free(ra);
}

/* --allow: a core that looks at nothing from anyone else. */
static void test_allow(void)
{
	struct addr_prefix p;
	struct reasm_config cfg = {
		.max_msg_len = 65536,
		.max_pending_bytes = 1u << 20,
		.max_streams = 4,
		.allow = &p,
		.nallow = 1,
	};
	static struct relcap c;
	struct reasm_dgram_info info;
	uint8_t hb[WIRE_HEARTBEAT_LEN];
	struct endpoint ep = rel_sender;
	struct reasm *ra;
	char err[160];

	/* 10.0.0.0/29 only: 10.0.0.9 and an IPv6 sender are refused. */
	CHECK(!addr_prefix_parse("10.0.0.0/29", &p, err, sizeof(err)), "%s",
	      err);
	memset(&c, 0, sizeof(c));
	ra = reasm_new(&cfg, &rel_ops, &c);
	wire_build_heartbeat(hb, 1, 5, 0);
	ep.family = TLSTAP_FAMILY_IPV6;
	memcpy(ep.addr, "\xfd\x00\x00\x01\xff", 5);
	CHECK(reasm_datagram(ra, &rel_sender, hb, sizeof(hb), T0, &info) ==
		      REASM_REFUSED &&
	      reasm_datagram(ra, &ep, hb, sizeof(hb), T0, &info) ==
		      REASM_REFUSED &&
	      reasm_stats(ra)->refused == 2 && !reasm_stats(ra)->streams &&
	      !reasm_stats(ra)->datagrams, "refused");
	ep = rel_sender;
	ep.addr[3] = 3;
	CHECK(reasm_datagram(ra, &ep, hb, sizeof(hb), T0, &info) ==
		      REASM_CONTROL && reasm_stats(ra)->streams == 1,
	      "an allowed sender");
	reasm_free(ra);
}

UNIT_TESTS(UNIT_TEST(test_stream_start), UNIT_TEST(test_evicted_stream),
	   UNIT_TEST(test_evicted_resume), UNIT_TEST(test_stream_lru),
	   UNIT_TEST(test_allow))
