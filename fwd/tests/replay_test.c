// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Answers to NACKs (replay.c): the token bucket, the ring's replay
 * bound, resent, GAP'ed and rate-limited seqs.
 */
#include <string.h>

#include "replay.h"
#include "teststream.h"
#include "unit.h"

static void test_replay(void)
{
	static struct relstream st;
	static struct resent rs;
	struct tokenbucket tb;
	struct replay_counts rc;
	struct wire_range gap[TLSTAP_NACK_MAX_RANGES], rg[3];
	struct wire_msg msg;
	uint8_t buf[600];
	unsigned int ngap;
	size_t held = 0, len;

	/* The bucket: a burst, then the rate. */
	tokenbucket_init(&tb, 1000, 3, T0);
	CHECK(tokenbucket_take(&tb, T0) && tokenbucket_take(&tb, T0) &&
	      tokenbucket_take(&tb, T0) && !tokenbucket_take(&tb, T0),
	      "burst of 3");
	CHECK(!tokenbucket_take(&tb, T0 + 999999) &&
	      tokenbucket_take(&tb, T0 + 1000000) &&
	      !tokenbucket_take(&tb, T0 + 1000000), "one per ms");
	CHECK(tokenbucket_take(&tb, T0 + 3600 * 1000 * MS) &&
	      tokenbucket_take(&tb, T0 + 3600 * 1000 * MS) &&
	      tokenbucket_take(&tb, T0 + 3600 * 1000 * MS) &&
	      !tokenbucket_take(&tb, T0 + 3600 * 1000 * MS),
	      "an hour idle fills it to the burst, no more");

	/* The ring holds at most the replay bound of sent datagrams. */
	relstream_make(&st, 200, 3000);
	CHECK(st.ndg > 200, "%u datagrams", st.ndg);
	txring_mark_sent(&st.ring, st.ndg - 10);
	txring_set_replay_limit(&st.ring, 50 * 1452);
	for (uint32_t s = st.ring.oldest; s != st.ring.unsent; s++) {
		CHECK(txring_held(&st.ring, s, &len), "seq %u not held", s);
		held += len;
	}
	CHECK(held == st.ring.held_bytes && held <= 50 * 1452 &&
	      held + 1452 > 50 * 1452 && st.ring.oldest > 0,
	      "held %zu bytes from %u", held, st.ring.oldest);
	CHECK(!txring_held(&st.ring, st.ring.oldest - 1, &len) &&
	      !txring_held(&st.ring, st.ring.unsent, &len),
	      "held beyond [oldest, unsent)");

	/* Old: GAP; held: resent, flagged; not sent yet: ignored. */
	tokenbucket_init(&tb, 10000, 1024, T0);
	memset(&rc, 0, sizeof(rc));
	memset(&rs, 0, sizeof(rs));
	rg[0].first = 0;
	rg[0].last = st.ring.oldest + 1;
	rg[1].first = st.ring.unsent - 2;
	rg[1].last = st.ring.unsent + 3;
	nack_of(buf, rg, 2, &msg);
	replay_answer(&st.ring, &tb, &msg, T0, note_resend, &rs, gap, &ngap,
		      &rc);
	CHECK(ngap == 1 && gap[0].first == 0 &&
	      gap[0].last == st.ring.oldest - 1 &&
	      rc.gap_seqs == st.ring.oldest, "GAP %u..%u", gap[0].first,
	      gap[0].last);
	CHECK(rs.n == 4 && rs.seqs[0] == st.ring.oldest &&
	      rs.seqs[1] == st.ring.oldest + 1 &&
	      rs.seqs[2] == st.ring.unsent - 2 && rc.retransmits == 4 &&
	      rc.unsent_seqs == 4 && rc.ratelimited == 0 &&
	      rc.ratelimited_seqs == 0,
	      "resent %u, unsent %llu", rs.n, rc.unsent_seqs);
	len = 0;
	CHECK(txring_held(&st.ring, st.ring.oldest, &len)[3] ==
	      TLSTAP_MSG_F_RETRANSMIT, "flag not set in the ring");

	/* Over the bucket: counted, not sent. */
	tokenbucket_init(&tb, 10000, 5, T0);
	memset(&rc, 0, sizeof(rc));
	memset(&rs, 0, sizeof(rs));
	rg[0].first = st.ring.oldest;
	rg[0].last = st.ring.oldest + 19;
	nack_of(buf, rg, 1, &msg);
	replay_answer(&st.ring, &tb, &msg, T0, note_resend, &rs, gap, &ngap,
		      &rc);
	CHECK(rs.n == 5 && rc.ratelimited == 1 && rc.ratelimited_seqs == 15 &&
	      !ngap, "limited: %u resent, %llu NACKs (%llu seqs) limited",
	      rs.n, rc.ratelimited, rc.ratelimited_seqs);

	/* GAP ranges stay within 1024 seqs, one per NACK range at most. */
	txring_set_replay_limit(&st.ring, 0);
	CHECK(st.ring.oldest == st.ring.unsent && !st.ring.held_bytes,
	      "replay 0 still holds");
	relstream_free(&st);
}

UNIT_TESTS(UNIT_TEST(test_replay))
