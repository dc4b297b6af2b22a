// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The repair loop: the receivers' core (reasm.c) and the sender's
 * answers (fwd/replay.c) together, lossy both ways, at the sender's pace.
 */
#include <string.h>

#include "replay.h"
#include "testrecv.h"
#include "unit.h"

/* Receiver and sender logic together, lossy in both directions. */
static void test_repair_loop(void)
{
	static struct relstream st;
	static struct relcap c;
	static struct resent rs;
	struct reasm *ra;
	struct tokenbucket tb;
	struct replay_counts rc = { 0 };
	uint64_t now = T0;

	relstream_make(&st, 300, 3000);
	txring_mark_sent(&st.ring, st.ndg);
	tokenbucket_init(&tb, 10000, 1024, now);
	relcap_reset(&c, &st);
	c.capture_nacks = 1;
	/*
	 * A try fails 36% of the time (20% loss each way): 12 tries, so that
	 * a seq lost for good (0.36^12) does not come with the random draws.
	 */
	ra = reasm_new(&(struct reasm_config){ .max_msg_len = 65536,
					       .max_pending_bytes = 64u << 20,
					       .max_streams = 4,
					       .nack_tries = 12 },
		       &rel_ops, &c);
	/* The first arrives: a stream starts where it is first seen. */
	for (uint32_t s = 0; s < st.ndg; s++)
		if (!s || rnd() % 10)
			relstream_send(&st, ra, s, now, 0);
	/* Whatever the receiver NACKs, 20% of it is lost again. */
	for (unsigned int round = 0; round < 12 && c.nrec < st.nrec; round++) {
		uint8_t hb[WIRE_HEARTBEAT_LEN];
		struct reasm_dgram_info info;

		wire_build_heartbeat(hb, 0x5eed, st.ndg - 1, 0);
		reasm_datagram(ra, &rel_sender, hb, sizeof(hb), now, &info);
		c.npending_nacks = 0;
		reasm_timer(ra, now);
		for (unsigned int i = 0; i < c.npending_nacks; i++) {
			struct wire_range gap[TLSTAP_NACK_MAX_RANGES];
			unsigned int ngap;
			struct wire_msg msg;

			if (rnd() % 5 == 0)
				continue;
			wire_parse_msg(c.pending_nacks[i], c.pending_lens[i],
				       &msg);
			memset(&rs, 0, sizeof(rs));
			replay_answer(&st.ring, &tb, &msg, now, note_resend, &rs,
				      gap, &ngap, &rc);
			CHECK(!ngap, "GAP with everything held");
			for (unsigned int k = 0; k < rs.n && k < 4096; k++)
				if (rnd() % 5)
					relstream_send(&st, ra, rs.seqs[k], now,
						       1);
		}
		now += 30 * MS << round;
	}
	CHECK(c.nrec == st.nrec && c.nlost == 0 &&
	      reasm_stats(ra)->pending_bytes == 0 && rc.retransmits > 0 &&
	      reasm_stats(ra)->retransmitted > 0,
	      "repaired %u of %u records, %u LOST, %llu resent", c.nrec,
	      st.nrec, c.nlost, rc.retransmits);
	reasm_free(ra);
	relstream_free(&st);
}

/*
 * A hole repaired at the sender's pace (PROTOCOL.md 5.1): it resends at
 * most 256 at once, then 200 a second, so the repair takes seconds, and
 * a NACK it answers uses up no try. Then it stops answering: what is
 * left is given up after the tries, 20 + 40 + ... + 640 ms after the
 * first NACK nobody answered, as a hole nobody answers at all.
 */
static void test_nack_answered(void)
{
	static struct relstream st;
	static struct relcap c;
	static struct resent rs;
	static uint8_t missing[60000], touched[4096];
	struct replay_counts rc = { 0 };
	struct tokenbucket tb;
	struct reasm *ra;
	uint64_t now = T0, deaf_at = 0, gave_up_at = 0;
	uint32_t hole_first = 50, hole_last, hole, resent = 0;
	unsigned int deaf_nacks = 0, lost_records = 0;

	relstream_make(&st, 4000, 1400);
	hole_last = st.ndg - 50;
	hole = hole_last - hole_first + 1;
	CHECK(hole > 1500, "a hole of %u datagrams", hole);
	txring_mark_sent(&st.ring, st.ndg);
	tokenbucket_init(&tb, 200, 256, now);
	relcap_reset(&c, &st);
	c.capture_nacks = 1;
	ra = rel_reasm(&c);
	for (uint32_t s = 0; s < st.ndg; s++) {
		missing[s] = s >= hole_first && s <= hole_last;
		if (!missing[s])
			relstream_send(&st, ra, s, now, 0);
	}
	/* Answered until all but 300 are back, then deaf. */
	for (;;) {
		unsigned int before = c.nnack;
		uint64_t next;

		c.npending_nacks = 0;
		next = reasm_timer(ra, now);
		if (c.nlost && !gave_up_at)
			gave_up_at = now;
		if (!next)
			break;
		if (resent + 300 > hole) {
			if (c.nnack > before && !deaf_at)
				deaf_at = now;
			deaf_nacks += c.nnack - before;
			now = next;
			continue;
		}
		for (unsigned int i = 0; i < c.npending_nacks; i++) {
			struct wire_range gap[TLSTAP_NACK_MAX_RANGES];
			unsigned int ngap;
			struct wire_msg msg;

			wire_parse_msg(c.pending_nacks[i], c.pending_lens[i],
				       &msg);
			memset(&rs, 0, sizeof(rs));
			replay_answer(&st.ring, &tb, &msg, now, note_resend, &rs,
				      gap, &ngap, &rc);
			CHECK(!ngap && rs.n <= 4096, "GAP with everything held, or %u resent at once", rs.n);
			for (unsigned int k = 0; k < rs.n; k++) {
				CHECK(missing[rs.seqs[k]], "seq %u resent twice",
				      rs.seqs[k]);
				missing[rs.seqs[k]] = 0;
				relstream_send(&st, ra, rs.seqs[k], now, 1);
			}
			resent += rs.n;
		}
		now = next;
	}
	CHECK(deaf_at && deaf_at - T0 > 5000 * MS &&
	      rc.ratelimited_seqs > 0 && resent < hole,
	      "answered for %llu ms: %u of %u resent",
	      (unsigned long long)((deaf_at - T0) / MS), resent, hole);
	CHECK(deaf_nacks == 6 && gave_up_at == deaf_at + 1260 * MS,
	      "unanswered: %u NACKs, given up %llu ms after the first",
	      deaf_nacks, (unsigned long long)((gave_up_at - deaf_at) / MS));
	/* The records of what never came back are LOST, the rest output. */
	records_in(&st, missing, touched);
	for (unsigned int l = 0; l < c.nlost && l < 1024; l++) {
		CHECK(c.lost[l].reason == GAP_REASON_TIMEOUT &&
		      c.lost[l].has_record_first && c.lost[l].has_record_last,
		      "LOST %u: reason %d", l, c.lost[l].reason);
		lost_records += c.lost[l].record_last -
				c.lost[l].record_first + 1;
	}
	for (unsigned int i = 0; i < st.nrec; i++)
		CHECK(c.emitted[i] == !touched[i], "record %u: emitted %u, touched %u", i, c.emitted[i], touched[i]);
	CHECK(c.nrec + lost_records == st.nrec &&
	      reasm_stats(ra)->lost_datagrams == hole - resent &&
	      reasm_stats(ra)->pending_bytes == 0,
	      "%u records, %u LOST, %llu datagrams given up", c.nrec,
	      lost_records, reasm_stats(ra)->lost_datagrams);
	reasm_free(ra);
	relstream_free(&st);
}

UNIT_TESTS(UNIT_TEST(test_repair_loop), UNIT_TEST(test_nack_answered))
