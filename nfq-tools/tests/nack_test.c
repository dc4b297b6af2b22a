// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Reliable delivery at the receiver (reasm.c): NACKs and their tries,
 * GAPs and HEARTBEATs, LOST ranges that hold exactly the records lost.
 */
#include <string.h>

#include "testrec.h"
#include "testrecv.h"
#include "unit.h"

/* NACK at once, then 20, 40, 80, 160, 320 ms later; give up at 640 more. */
static void test_nack_policy(void)
{
	static struct relstream st;
	static struct relcap c;
	static const uint64_t want[] = { 0, 20, 60, 140, 300, 620 };
	struct reasm *ra;
	uint32_t k;
	uint64_t next;
	uint8_t lost[4096] = { 0 }, touched[4096];

	relstream_make(&st, 40, 4000);
	k = st.ndg / 2;
	relcap_reset(&c, &st);
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != k)
			relstream_send(&st, ra, s, T0, 0);
	CHECK(c.nnack == 0, "NACK before the timer ran");
	for (unsigned int t = 0; t < 6; t++) {
		if (t) {
			next = reasm_timer(ra, T0 + want[t] * MS - 1);
			CHECK(c.nnack == t, "try %u early: %u NACKs", t + 1,
			      c.nnack);
		}
		next = reasm_timer(ra, T0 + want[t] * MS);
		CHECK(c.nnack == t + 1 && c.nacked[t].first == k &&
		      c.nacked[t].last == k, "try %u: %u NACKs", t + 1, c.nnack);
		CHECK(next == T0 + (want[t] + (20ull << t)) * MS,
		      "try %u: next deadline %llu ms", t + 1,
		      (unsigned long long)((next - T0) / MS));
	}
	CHECK(reasm_timer(ra, T0 + 1259 * MS) && c.nlost == 0,
	      "gave up early");
	CHECK(!reasm_timer(ra, T0 + 1260 * MS) && c.nnack == 6,
	      "still waiting after the last try");
	lost[k] = 1;
	records_in(&st, lost, touched);
	CHECK(c.nlost == 1 && c.lost[0].reason == GAP_REASON_TIMEOUT &&
	      c.lost[0].seq_first == k && c.lost[0].seq_last == k &&
	      c.lost[0].has_record_first && c.lost[0].has_record_last,
	      "LOST after the tries: %u", c.nlost);
	for (unsigned int i = 0; i < st.nrec; i++) {
		int in = c.nlost && i - c.lost[0].record_first <=
			 c.lost[0].record_last - c.lost[0].record_first;

		CHECK(in == touched[i] && c.emitted[i] == !touched[i],
		      "record %u: lost %d, touched %d, emitted %u", i, in,
		      touched[i], c.emitted[i]);
	}
	CHECK(reasm_stats(ra)->lost_datagrams == 1 &&
	      reasm_stats(ra)->lost_records ==
		      c.lost[0].record_last - c.lost[0].record_first + 1 &&
	      reasm_stats(ra)->nacks_sent == 6 &&
	      reasm_stats(ra)->pending_bytes == 0, "counters after give-up");
	/* It comes after all: a duplicate, nothing more emitted. */
	relstream_send(&st, ra, k, T0 + 2000 * MS, 1);
	CHECK(reasm_stats(ra)->dup_datagrams == 1 && c.nrec == st.nrec -
	      (c.lost[0].record_last - c.lost[0].record_first + 1),
	      "a given-up datagram completed records");
	reasm_free(ra);

	/* Answered on the second try: complete, no more NACKs. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != k && s != k + 2)
			relstream_send(&st, ra, s, T0, 0);
	reasm_timer_backlog(ra, T0 + 5 * MS, T0);
	CHECK(c.nnack == 1 && c.nnacked == 2 && c.nacked[0].first == k &&
	      c.nacked[1].first == k + 2, "two holes, one NACK");
	/*
	 * Draining a backlog of datagrams that arrived before the retry was
	 * due: no retry yet, its answer may be behind them.
	 */
	CHECK(reasm_timer_backlog(ra, T0 + 40 * MS, T0 + 24 * MS) ==
	      T0 + 25 * MS && c.nnack == 1, "retried while draining");
	reasm_timer_backlog(ra, T0 + 41 * MS, T0 + 25 * MS);
	CHECK(c.nnack == 2, "no retry once past its deadline in the backlog");
	/* The second NACK left at 41 ms: the third is due 40 ms later. */
	relstream_send(&st, ra, k + 2, T0 + 45 * MS, 1);
	CHECK(reasm_timer(ra, T0 + 80 * MS) == T0 + 81 * MS && c.nnack == 2,
	      "third try early");
	reasm_timer(ra, T0 + 81 * MS);
	CHECK(c.nnack == 3 && c.nnacked == 5 && c.nacked[3].first == k + 2 &&
	      c.nacked[4].first == k && c.nacked[4].last == k,
	      "retry only what is missing: %u ranges", c.nnacked);
	relstream_send(&st, ra, k, T0 + 90 * MS, 1);
	CHECK(!reasm_timer(ra, T0 + 10000 * MS) && c.nnack == 3 &&
	      c.nlost == 0 && c.nrec == st.nrec &&
	      reasm_stats(ra)->retransmitted == 2, "late answer");
	reasm_free(ra);
	relstream_free(&st);
}

/*
 * Random loss and reordering; every missing datagram is GAP'ed: each
 * record comes out whole exactly once or is in exactly one LOST range,
 * and the LOST ranges hold exactly the records that had a chunk in a
 * lost datagram.
 */
static void test_lost_exact(void)
{
	static struct relstream st;
	static struct relcap c;
	static uint8_t lost[60000], touched[4096], in_lost[4096];
	static uint32_t order[60000];

	for (unsigned int round = 0; round < 20; round++) {
		struct reasm *ra;
		uint32_t nlost = 0, nrec_lost = 0;
		unsigned int loss_pct = 1 + round * 2;

		relstream_make(&st, 300, round % 2 ? 300 : 6000);
		relcap_reset(&c, &st);
		ra = rel_reasm(&c);
		/* Lose some, in bursts sometimes; never the last one here. */
		for (uint32_t s = 0; s < st.ndg; s++) {
			lost[s] = s + 1 < st.ndg && rnd() % 100 < loss_pct;
			if (lost[s] && s && lost[s - 1] == 0 && rnd() % 4 == 0)
				for (uint32_t b = 1; b < 4 && s + b + 1 < st.ndg;
				     b++)
					lost[s + b] = 2;
			order[s] = s;
		}
		/*
		 * The stream starts at the first datagram that arrives: it
		 * arrives first (losses before a stream's start are
		 * test_stream_start's).
		 */
		lost[0] = 0;
		/* Reorder: swap near neighbours. */
		for (uint32_t s = 1; s + 3 < st.ndg; s++)
			if (rnd() % 5 == 0) {
				uint32_t j = s + 1 + rnd() % 3, t = order[s];

				order[s] = order[j];
				order[j] = t;
			}
		for (uint32_t i = 0; i < st.ndg; i++)
			if (!lost[order[i]])
				relstream_send(&st, ra, order[i], T0, 0);
		reasm_timer(ra, T0);
		/* The sender answers every NACK with a GAP. */
		for (uint32_t s = 0; s < st.ndg; s++) {
			if (lost[s]) {
				nlost++;
				send_gap(ra, s, s, T0 + MS);
			}
		}
		records_in(&st, lost, touched);
		memset(in_lost, 0, sizeof(in_lost));
		for (unsigned int i = 0; i < c.nlost && i < 1024; i++) {
			const struct reasm_lost *l = &c.lost[i];

			CHECK(l->has_record_first && l->has_record_last &&
			      l->reason == GAP_REASON_GAP,
			      "round %u: LOST %u..%u open or not a gap", round,
			      l->seq_first, l->seq_last);
			for (uint32_t r = l->record_first;
			     r <= l->record_last && r < st.nrec; r++)
				in_lost[r]++;
		}
		for (unsigned int r = 0; r < st.nrec; r++) {
			nrec_lost += touched[r];
			CHECK(in_lost[r] == touched[r] &&
			      c.emitted[r] == !touched[r],
			      "round %u record %u: touched %u, in LOST %u, emitted %u", round, r, touched[r], in_lost[r],
			      c.emitted[r]);
		}
		CHECK(c.nlost <= 1024, "round %u: %u LOST ranges", round,
		      c.nlost);
		CHECK(reasm_stats(ra)->lost_datagrams == nlost &&
		      reasm_stats(ra)->lost_records == nrec_lost &&
		      reasm_stats(ra)->lost_ranges == c.nlost &&
		      reasm_stats(ra)->pending_bytes == 0 &&
		      !reasm_timer(ra, T0 + 100 * MS),
		      "round %u: lost %llu/%u datagrams %llu/%u records, pending %llu", round, reasm_stats(ra)->lost_datagrams,
		      nlost, reasm_stats(ra)->lost_records, nrec_lost,
		      reasm_stats(ra)->pending_bytes);
		reasm_free(ra);
		relstream_free(&st);
	}
}

/* Heartbeats: a lost last datagram is NACKed; oldest_seq gives up. */
static void test_heartbeat(void)
{
	static struct relstream st;
	static struct relcap c;
	uint8_t lost[4096] = { 0 }, touched[4096];
	struct reasm *ra;
	uint32_t last;

	relstream_make(&st, 30, 3000);
	last = st.ndg - 1;
	relcap_reset(&c, &st);
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < last; s++)
		relstream_send(&st, ra, s, T0, 0);
	CHECK(!reasm_timer(ra, T0) && c.nnack == 0, "no hole yet");
	send_heartbeat(ra, last, 0, T0 + 100 * MS);
	reasm_timer(ra, T0 + 100 * MS);
	CHECK(c.nnack == 1 && c.nacked[0].first == last &&
	      c.nacked[0].last == last, "lost last datagram not NACKed");
	/* The same heartbeat again opens nothing new. */
	send_heartbeat(ra, last, 0, T0 + 110 * MS);
	reasm_timer(ra, T0 + 110 * MS);
	CHECK(c.nnack == 1, "a repeated heartbeat NACKed again");
	relstream_send(&st, ra, last, T0 + 115 * MS, 1);
	CHECK(c.nrec == st.nrec && c.nlost == 0 &&
	      !reasm_timer(ra, T0 + 200 * MS) &&
	      reasm_stats(ra)->heartbeats_received == 2, "not recovered");
	reasm_free(ra);

	/* Lost last datagram, the sender cannot resend it: open-ended. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < last; s++)
		relstream_send(&st, ra, s, T0, 0);
	send_heartbeat(ra, last, last + 1, T0 + 100 * MS);
	CHECK(c.nlost == 0, "a LOST range without its last record");
	reasm_flush(ra);
	lost[last] = 1;
	records_in(&st, lost, touched);
	CHECK(c.nlost == 1 && c.lost[0].seq_first == last &&
	      c.lost[0].seq_last == last && c.lost[0].has_record_first &&
	      !c.lost[0].has_record_last && touched[c.lost[0].record_first] &&
	      (c.lost[0].record_first == 0 ||
	       !touched[c.lost[0].record_first - 1]) &&
	      c.lost[0].reason == GAP_REASON_GAP &&
	      reasm_stats(ra)->lost_open_ended == 1, "open-ended LOST");
	reasm_free(ra);

	/* A hole older than oldest_seq is not NACKed: lost at once. */
	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++)
		if (s != 3)
			relstream_send(&st, ra, s, T0, 0);
	send_heartbeat(ra, last, 5, T0 + MS);
	CHECK(c.nlost == 1 && c.lost[0].seq_first == 3 &&
	      c.lost[0].seq_last == 3 && c.lost[0].reason == GAP_REASON_GAP &&
	      !reasm_timer(ra, T0 + MS) && c.nnack == 0,
	      "hole before oldest_seq");
	reasm_free(ra);

	/*
	 * Known only by its HEARTBEAT: it starts after the highest it names
	 * (another receiver may have had those): nothing asked for, nothing
	 * said lost, the next datagram taken as the first.
	 */
	relcap_reset(&c, &st);
	ra = rel_reasm(&c);
	send_heartbeat(ra, 2, 0, T0);
	CHECK(!reasm_timer(ra, T0) && c.nnack == 0 && c.nstarts == 1 &&
	      c.starts[0].how == REASM_START_JOINED &&
	      c.starts[0].by_heartbeat && c.starts[0].seq == 3 &&
	      !c.starts[0].has_record, "a HEARTBEAT starts a stream after it");
	for (uint32_t s = 3; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0, 0);
	reasm_flush(ra);
	CHECK(c.nnack == 0 && c.nlost == 0 && c.nrec > 0 &&
	      reasm_stats(ra)->streams_joined == 1,
	      "after a HEARTBEAT: %u NACKs, %u LOST, %u records", c.nnack,
	      c.nlost, c.nrec);
	reasm_free(ra);
	relstream_free(&st);
}

/* NACK messages: ranges cut at 1024 seqs, at most 64 per message. */
static void test_nack_limits(void)
{
	static struct relcap c;
	static uint8_t rec[72 + 10], dg[300];
	struct reasm *ra;
	size_t len = make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE, 10,
				 1, 0), n;
	struct reasm_dgram_info info;
	uint32_t total = 0;

	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	/* Records of one datagram each: seq s carries record s. */
	for (uint32_t s = 0; s < 3000; s += 2999) {
		n = piece(dg, s, rec, len, s, 0, (uint32_t)len, 0);
		dg[4] = 0, dg[5] = 0, dg[6] = 0x5e, dg[7] = 0xed;
		reasm_datagram(ra, &rel_sender, dg, n, T0, &info);
	}
	reasm_timer(ra, T0);
	CHECK(c.nnack == 1 && c.nnacked == 3 && c.nacked[0].first == 1 &&
	      c.nacked[0].last == 1024 && c.nacked[1].first == 1025 &&
	      c.nacked[1].last == 2048 && c.nacked[2].first == 2049 &&
	      c.nacked[2].last == 2998, "a long hole: %u NACKs, %u ranges",
	      c.nnack, c.nnacked);
	reasm_free(ra);

	memset(&c, 0, sizeof(c));
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s <= 200; s += 2) {
		n = piece(dg, s, rec, len, s, 0, (uint32_t)len, 0);
		dg[4] = 0, dg[5] = 0, dg[6] = 0x5e, dg[7] = 0xed;
		reasm_datagram(ra, &rel_sender, dg, n, T0, &info);
	}
	reasm_timer(ra, T0);
	for (unsigned int i = 0; i < c.nnacked && i < 64; i++)
		total += c.nacked[i].last - c.nacked[i].first + 1;
	CHECK(c.nnack == 2 && c.nnacked == 100, "100 holes: %u NACKs, %u ranges", c.nnack, c.nnacked);
	CHECK(total == 64, "first NACK covers %u seqs", total);
	reasm_free(ra);
}

UNIT_TESTS(UNIT_TEST(test_nack_policy), UNIT_TEST(test_lost_exact),
	   UNIT_TEST(test_heartbeat), UNIT_TEST(test_nack_limits))
