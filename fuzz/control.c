// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The sender's side of the control messages: a NACK from the network,
 * parsed and checked as tlstap-fwd does (wire_parse_msg,
 * wire_check_ranges), answered from a replay ring (replay_answer on a
 * txring filled with real records) under a token bucket. Checks: every
 * datagram sent again is one the ring holds, well formed, flagged
 * RETRANSMIT, with the seq asked for; every seq asked for is counted
 * exactly once (resent, rate-limited, gone, or not sent yet); and the GAP
 * built from the answer is one the receivers' parser accepts, naming only
 * seqs that were asked for and are gone.
 *
 * Input: ring geometry and start seq, records to pack and how many
 * datagrams were sent after each, the replay limit and token bucket,
 * then the NACK datagram.
 */
#include "fuzz.h"
#include "replay.h"
#include "txring.h"
#include "wire.h"

struct answer {
	struct txring *ring;
	const struct wire_msg *nack;
	uint32_t oldest, unsent;
	unsigned long long resent;
};

static int in_nack(const struct wire_msg *nack, uint32_t seq)
{
	for (unsigned int i = 0; i < nack->count; i++) {
		struct wire_range r = wire_get_range(nack, i);

		if (seq - r.first <= r.last - r.first)
			return 1;
	}
	return 0;
}

static void resend(void *arg, uint32_t seq, const uint8_t *dgram, size_t len)
{
	struct answer *a = arg;
	struct wire_msg m;

	CHECK(seq - a->oldest < a->unsent - a->oldest,
	      "resent %u, held [%u, %u)", seq, a->oldest, a->unsent);
	CHECK(in_nack(a->nack, seq), "resent %u, not asked for", seq);
	CHECK(wire_parse_msg(dgram, len, &m) == WIRE_OK &&
	      m.type == TLSTAP_MSG_DATA && m.seq == seq &&
	      m.stream_id == a->ring->stream_id &&
	      (m.flags & TLSTAP_MSG_F_RETRANSMIT) &&
	      wire_check_data(&m, UINT32_MAX - TLSTAP_RECORD_HDR_LEN) == WIRE_OK,
	      "resent datagram %u is not a RETRANSMIT DATA datagram", seq);
	a->resent++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t record[8192];
	struct input in;
	struct txring ring;
	struct tokenbucket tb;
	struct replay_counts counts = { 0 };
	struct wire_range gap[TLSTAP_NACK_MAX_RANGES];
	struct wire_msg nack, gm;
	struct answer a = { 0 };
	uint8_t gapmsg[TLSTAP_MSG_HDR_LEN + sizeof(gap)];
	unsigned int nslots, nrecords, ngap;
	size_t slot_cap, nack_len;
	const uint8_t *nack_bytes;
	unsigned long long asked = 0;
	uint32_t start;
	uint64_t now;

	input_init(&in, data, size);
	nslots = 2 + input_u8(&in) % 31;
	slot_cap = TLSTAP_MIN_DGRAM + input_u16(&in) % 2048;
	if (txring_init(&ring, slot_cap, nslots, input_u32(&in)))
		return 0;
	/* A stream that has been running: its seqs start anywhere. */
	start = input_u32(&in);
	ring.oldest = ring.unsent = ring.next_seq = start;
	nrecords = input_u8(&in) % 64;
	for (unsigned int i = 0; i < nrecords; i++) {
		struct wire_chunk_meta m = {
			.record_id = i,
			.record_len = TLSTAP_RECORD_HDR_LEN + 1 +
				      input_u16(&in) % (sizeof(record) -
							TLSTAP_RECORD_HDR_LEN),
			.flow = { .family = TLSTAP_FAMILY_NONE,
				  .dir = TLSTAP_DIR_WRITE },
		};
		uint8_t sent = input_u8(&in);
		size_t done = 0;

		memset(record, (int)i, m.record_len);
		/* As tlstap-fwd's pack_piece: send whenever the ring is full. */
		while (done < m.record_len) {
			done += txring_pack(&ring, &m, (uint32_t)done,
					    record + done, m.record_len - done);
			if (done < m.record_len)
				txring_mark_sent(&ring, txring_unsent(&ring));
		}
		if (sent & 0x80)
			txring_close(&ring);
		sent &= 0x7f;
		txring_mark_sent(&ring, sent < txring_unsent(&ring)
						? sent : txring_unsent(&ring));
	}
	if (input_u8(&in) & 1)
		txring_set_replay_limit(&ring, input_u32(&in) % (64 * slot_cap));
	now = input_u32(&in);
	tokenbucket_init(&tb, 1 + input_u16(&in), input_u16(&in) % 2048, now);
	now += input_u32(&in);
	nack_bytes = input_take(&in, SIZE_MAX, &nack_len);

	if (wire_parse_msg(nack_bytes, nack_len, &nack) != WIRE_OK ||
	    nack.type != TLSTAP_MSG_NACK || wire_check_ranges(&nack) != WIRE_OK)
		goto out;
	for (unsigned int i = 0; i < nack.count; i++) {
		struct wire_range r = wire_get_range(&nack, i);

		asked += r.last - r.first + 1ull;
	}
	a.ring = &ring;
	a.nack = &nack;
	a.oldest = ring.oldest;
	a.unsent = ring.unsent;
	replay_answer(&ring, &tb, &nack, now, resend, &a, gap, &ngap, &counts);
	CHECK(counts.retransmits == a.resent, "%llu retransmits counted, %llu sent",
	      counts.retransmits, a.resent);
	CHECK(counts.retransmits + counts.ratelimited_seqs + counts.gap_seqs +
			      counts.unsent_seqs == asked,
	      "asked %llu, answered %llu + %llu + %llu + %llu", asked,
	      counts.retransmits, counts.ratelimited_seqs, counts.gap_seqs,
	      counts.unsent_seqs);
	CHECK(counts.ratelimited == (counts.ratelimited_seqs > 0),
	      "%llu NACKs cut short, %llu seqs refused", counts.ratelimited,
	      counts.ratelimited_seqs);
	CHECK(ngap <= TLSTAP_NACK_MAX_RANGES, "%u GAP ranges", ngap);
	if (!ngap) {
		CHECK(!counts.gap_seqs, "gone seqs without a GAP");
		goto out;
	}
	{
		unsigned long long in_gap = 0;

		for (unsigned int i = 0; i < ngap; i++) {
			in_gap += gap[i].last - gap[i].first + 1ull;
			for (uint32_t s = gap[i].first;; s++) {
				CHECK(in_nack(&nack, s), "GAP names %u, not asked for", s);
				CHECK(s - a.oldest >= a.unsent - a.oldest &&
				      (int32_t)(s - a.unsent) < 0,
				      "GAP names %u, held or unsent [%u, %u)", s,
				      a.oldest, a.unsent);
				if (s == gap[i].last)
					break;
			}
		}
		CHECK(in_gap == counts.gap_seqs, "GAP names %llu seqs, %llu gone",
		      in_gap, counts.gap_seqs);
	}
	/* What the receivers get must pass their parser. */
	nack_len = wire_build_ranges(gapmsg, TLSTAP_MSG_GAP, ring.stream_id, gap,
				     ngap);
	CHECK(wire_parse_msg(gapmsg, nack_len, &gm) == WIRE_OK &&
	      wire_check_ranges(&gm) == WIRE_OK,
	      "the GAP sent is refused by the receivers' parser");
out:
	txring_free(&ring);
	return 0;
}
