// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-fwd's counters, printed on SIGUSR1 and at exit, as lines or
 * one JSON object (--stats-json).
 */
#include "fwd.h"

/* Where a target's next hop is: enum tlstap_target_state, as the module's. */
static const char *const target_states[] = {
	[TLSTAP_TARGET_READY] = "ready",
	[TLSTAP_TARGET_RESOLVING] = "resolving",
	[TLSTAP_TARGET_UNRESOLVED] = "unresolved",
};

static void print_target_stats(struct statprint *sp, const struct target *t)
{
	char label[ENDPOINT_STRLEN + 8];

	snprintf(label, sizeof(label), "target %s", t->name);
	statprint_item(sp, label);
	statprint_str(sp, "target", t->name);
	statprint_u64(sp, "weight", t->weight);
	statprint_u64(sp, "stream_id", t->ring.stream_id);
	statprint_u64(sp, "records", t->st.records);
	statprint_u64(sp, "record_bytes", t->st.record_bytes);
	statprint_u64(sp, "loss_reports", t->st.loss_reports);
	statprint_u64(sp, "datagrams", t->st.datagrams);
	statprint_u64(sp, "bytes", t->st.bytes);
	statprint_u64(sp, "send_calls", t->st.send_calls);
	statprint_u64(sp, "gso_sends", t->st.gso_sends);
	statprint_u64(sp, "send_errors", t->st.send_errors);
	statprint_u64(sp, "dropped_datagrams", t->st.dropped_datagrams);
	statprint_u64(sp, "repacks", t->st.repacks);
	statprint_u64(sp, "datagram_size", t->ring.dgram_size);
	statprint_bool(sp, "gso", t->gso);
	statprint_u64(sp, "next_seq", t->ring.next_seq);
	statprint_u64(sp, "next_record_id", t->ring.next_record_id);
	statprint_u64(sp, "nacks_received", t->st.nacks);
	statprint_u64(sp, "retransmits", t->st.replay.retransmits);
	statprint_u64(sp, "retransmit_errors", t->st.retransmit_errors);
	statprint_u64(sp, "nack_ratelimited", t->st.replay.ratelimited);
	statprint_u64(sp, "nack_ratelimited_seqs",
		      t->st.replay.ratelimited_seqs);
	statprint_u64(sp, "gap_seqs", t->st.replay.gap_seqs);
	statprint_u64(sp, "nack_unsent_seqs", t->st.replay.unsent_seqs);
	statprint_u64(sp, "gaps_sent", t->st.gaps_sent);
	statprint_u64(sp, "gap_messages", t->st.gap_messages);
	statprint_u64(sp, "heartbeats", t->st.heartbeats);
	statprint_u64(sp, "icmp_unreachable", t->st.icmp_unreachable);
	statprint_str(sp, "state", target_states[t->state]);
	statprint_u64(sp, "oldest_held", t->ring.oldest);
	statprint_u64(sp, "held_bytes", t->ring.held_bytes);
	statprint_close(sp);
}

/* The totals, by reason, the capture rings', then each target's. */
void print_stats(const struct fwd *f)
{
	const struct fwd_stats *s = &f->st;
	unsigned long long malformed = 0, dg = 0, bytes = 0, err = 0, drop = 0;
	unsigned long long nacks = 0, rtx = 0, limited = 0, gaps = 0, hb = 0;
	unsigned long long unreach = 0;
	unsigned long long by_reason[RECORD_STATUS_COUNT];
	struct statprint sp;

	/* A ring's record over --max-record is one too (it goes as a loss). */
	memcpy(by_reason, s->malformed, sizeof(by_reason));
	by_reason[RECORD_TOO_LONG] += s->ring.too_long;
	for (int i = 0; i < RECORD_STATUS_COUNT; i++)
		malformed += by_reason[i];
	for (unsigned int i = 0; i < f->ntargets; i++) {
		const struct target_stats *ts = &f->targets[i].st;

		dg += ts->datagrams;
		bytes += ts->bytes;
		err += ts->send_errors;
		drop += ts->dropped_datagrams;
		nacks += ts->nacks;
		rtx += ts->replay.retransmits;
		limited += ts->replay.ratelimited;
		gaps += ts->gaps_sent;
		hb += ts->heartbeats;
		unreach += ts->icmp_unreachable;
	}
	statprint_begin(&sp, stderr, PROG, f->opt.stats_json);
	statprint_u64(&sp, "records", s->records);
	statprint_u64(&sp, "record_bytes", s->record_bytes);
	statprint_u64(&sp, "loss_reports", s->loss_reports);
	statprint_u64(&sp, "malformed", malformed);
	statprint_open(&sp, "malformed_by_reason");
	for (int i = 1; i < RECORD_STATUS_COUNT; i++)
		statprint_u64(&sp, record_status_name(i), by_reason[i]);
	statprint_close(&sp);
	statprint_u64(&sp, "discarded_bytes",
		      s->discarded_bytes + s->ring.too_long_bytes);
	statprint_u64(&sp, "oversized_messages", s->oversized_messages);
	statprint_u64(&sp, "input_messages", s->input_messages);
	statprint_u64(&sp, "input_calls", s->input_calls);
	statprint_u64(&sp, "input_bytes", s->input_bytes);
	statprint_u64(&sp, "datagrams", dg);
	statprint_u64(&sp, "bytes", bytes);
	statprint_u64(&sp, "send_errors", err);
	statprint_u64(&sp, "dropped_datagrams", drop);
	statprint_u64(&sp, "nacks_received", nacks);
	statprint_u64(&sp, "nack_rejected", s->nack_rejected_not_target +
		      s->nack_rejected_stream + s->nack_rejected_malformed);
	statprint_open(&sp, "nack_rejected_by_reason");
	statprint_u64(&sp, "not_target", s->nack_rejected_not_target);
	statprint_u64(&sp, "wrong_stream", s->nack_rejected_stream);
	statprint_u64(&sp, "malformed", s->nack_rejected_malformed);
	statprint_close(&sp);
	statprint_u64(&sp, "nack_ratelimited", limited);
	statprint_u64(&sp, "retransmits", rtx);
	statprint_u64(&sp, "gaps_sent", gaps);
	statprint_u64(&sp, "heartbeats", hb);
	statprint_u64(&sp, "icmp_unreachable", unreach);
	statprint_u64(&sp, "resolve_timeouts", s->resolve_timeouts);
	statprint_u64(&sp, "rings", f->rings);
	statprint_u64(&sp, "rings_created", s->rings_created);
	statprint_u64(&sp, "ring_records", s->ring.records);
	statprint_u64(&sp, "ring_wakeups", s->ring_wakeups);
	statprint_u64(&sp, "rings_ended", s->rings_ended);
	statprint_u64(&sp, "ring_abandoned", s->ring.abandoned);
	statprint_u64(&sp, "ring_room_sent", s->ring_room_sent);
	statprint_u64(&sp, "ring_bytes", f->ring_bytes);
	statprint_array(&sp, "targets");
	for (unsigned int i = 0; i < f->ntargets; i++)
		print_target_stats(&sp, &f->targets[i]);
	statprint_close(&sp);
	statprint_end(&sp);
}
