// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <string.h>

#include "recvstats.h"
#include "wire.h"

void recvstats_reasm(struct statprint *sp, const struct reasm_stats *s)
{
	statprint_u64(sp, "datagrams", s->datagrams);
	statprint_u64(sp, "bytes", s->bytes);
	statprint_u64(sp, "refused", s->refused);
	statprint_u64(sp, "invalid", s->invalid);
	statprint_open(sp, "invalid_by_reason");
	for (int i = 1; i < WIRE_STATUS_COUNT; i++)
		statprint_u64(sp, wire_status_name(i), s->invalid_by[i]);
	statprint_close(sp);
	statprint_u64(sp, "unsupported", s->unsupported);
	statprint_u64(sp, "duplicates", s->dup_datagrams);
	statprint_u64(sp, "late", s->late_datagrams);
	statprint_u64(sp, "stale", s->stale_datagrams);
	statprint_u64(sp, "before_start", s->before_start);
	statprint_u64(sp, "retransmitted", s->retransmitted);
	statprint_u64(sp, "seq_gaps", s->seq_gaps);
	statprint_u64(sp, "chunks", s->chunks);
	statprint_u64(sp, "dup_chunks", s->dup_chunks);
	statprint_u64(sp, "stale_chunks", s->stale_chunks);
	statprint_u64(sp, "records", s->records);
	statprint_u64(sp, "record_bytes", s->record_bytes);
	statprint_u64(sp, "loss_reports", s->loss_reports);
	statprint_u64(sp, "opens", s->opens);
	statprint_u64(sp, "closes", s->closes);
	statprint_u64(sp, "aborted", s->records_aborted);
	statprint_u64(sp, "inconsistent", s->records_inconsistent);
	statprint_u64(sp, "invalid_records", s->records_invalid);
	statprint_u64(sp, "evicted", s->records_evicted);
	statprint_u64(sp, "pending_bytes", s->pending_bytes);
	statprint_u64(sp, "streams", s->streams);
	statprint_u64(sp, "streams_evicted", s->streams_evicted);
	statprint_u64(sp, "streams_joined", s->streams_joined);
	statprint_u64(sp, "streams_resumed", s->streams_resumed);
	statprint_u64(sp, "streams_restored", s->streams_restored);
	statprint_u64(sp, "streams_forgotten", s->streams_forgotten);
	statprint_u64(sp, "nacks_sent", s->nacks_sent);
	statprint_u64(sp, "nack_seqs", s->nack_seqs);
	statprint_u64(sp, "heartbeats_received", s->heartbeats_received);
	statprint_u64(sp, "gaps_received", s->gaps_received);
	statprint_u64(sp, "gaps_unknown_stream", s->gaps_unknown_stream);
	statprint_u64(sp, "lost_datagrams", s->lost_datagrams);
	statprint_u64(sp, "lost_records", s->lost_records);
	statprint_u64(sp, "lost_ranges", s->lost_ranges);
	statprint_u64(sp, "lost_open_ended", s->lost_open_ended);
}

void recvstats_output(struct statprint *sp, const struct outfile_stats *o)
{
	statprint_group(sp, "output");
	statprint_u64(sp, "records_unwritten", o->unwritten[OUTFILE_RECORD]);
	statprint_u64(sp, "lost_unwritten", o->unwritten[OUTFILE_LOST]);
	statprint_u64(sp, "log_unwritten", o->unwritten[OUTFILE_LOG]);
	statprint_u64(sp, "write_errors", o->write_errors);
	statprint_close(sp);
}

void recvstats_synth(struct statprint *sp, const struct tcpsynth_stats *s,
		     const struct pcapng_stats *p, const struct tapout_stats *t)
{
	statprint_group(sp, p ? "pcapng" : "tap");
	statprint_u64(sp, "records", s->records);
	statprint_u64(sp, "loss_reports", s->loss_reports);
	statprint_u64(sp, "opens", s->opens);
	statprint_u64(sp, "closes", s->closes);
	statprint_u64(sp, "closes_unknown", s->closes_unknown);
	statprint_u64(sp, "packets", s->packets);
	if (p) {
		statprint_u64(sp, "file_bytes", p->file_bytes);
		statprint_u64(sp, "files", p->files);
		statprint_u64(sp, "files_removed", p->files_removed);
	}
	if (t) {
		statprint_u64(sp, "frames", t->frames);
		statprint_u64(sp, "frame_bytes", t->bytes);
		statprint_u64(sp, "write_errors", t->write_errors);
	}
	statprint_u64(sp, "flows", s->flows);
	statprint_u64(sp, "flows_evicted", s->flows_evicted);
	statprint_u64(sp, "dropped_gaps", s->dropped_gaps);
	statprint_u64(sp, "dropped_bytes", s->dropped_bytes);
	statprint_u64(sp, "lost_ranges", s->lost_ranges);
	statprint_u64(sp, "lost_records", s->lost_records);
	statprint_u64(sp, "lost_marks", s->lost_marks);
	statprint_u64(sp, "held", s->held);
	statprint_u64(sp, "held_now", s->held_now);
	statprint_u64(sp, "hold_expired", s->hold_expired);
	statprint_u64(sp, "late_records", s->late_records);
	statprint_close(sp);
}

void recvstats_start(struct ratelog *log, const struct reasm_start *s)
{
	char sender[ENDPOINT_STRLEN], rec[32] = "";

	endpoint_format(s->sender, sender, sizeof(sender));
	if (s->has_record)
		snprintf(rec, sizeof(rec), " (record %u)", s->record_id);
	switch (s->how) {
	case REASM_START_JOINED:
		if (s->by_heartbeat)
			ratelog(log, "stream %s/%u: starting at seq %u, after the highest its HEARTBEAT names: earlier datagrams are not asked for", sender,
				s->stream_id, s->seq);
		else
			ratelog(log, "stream %s/%u: starting at seq %u%s: earlier datagrams are not asked for", sender,
				s->stream_id, s->seq, rec);
		break;
	case REASM_START_RESUMED:
		ratelog(log, "stream %s/%u: resumed at seq %u%s after it was evicted", sender, s->stream_id, s->seq, rec);
		break;
	default:
		break;
	}
}

/* The stream table's columns after the sender: name and width. */
static const char *const stream_columns[] = {
	"next_seq", "missing_seqs", "expired_seqs", "next_record_id",
	"incomplete_records", "missing_record_ids", "nacking_ranges",
};

#define NUMBER_WIDTH	10	/* a u32's digits */

struct stream_table {
	FILE *f;
	int sender_width;	/* the widest SENDER/ID */
	unsigned int streams;
};

static int column_width(int i)
{
	int w = (int)strlen(stream_columns[i]);

	return w > NUMBER_WIDTH ? w : NUMBER_WIDTH;
}

static int stream_name(const struct reasm_stream_report *s, char *buf,
		       size_t len)
{
	char sender[ENDPOINT_STRLEN];

	endpoint_format(s->sender, sender, sizeof(sender));
	return snprintf(buf, len, "%s/%u", sender, s->stream_id);
}

static void measure_stream(void *arg, const struct reasm_stream_report *s)
{
	struct stream_table *t = arg;
	char name[ENDPOINT_STRLEN + 12];
	int w = stream_name(s, name, sizeof(name));

	if (w > t->sender_width)
		t->sender_width = w;
	t->streams++;
}

static void report_stream(void *arg, const struct reasm_stream_report *s)
{
	const struct stream_table *t = arg;
	char name[ENDPOINT_STRLEN + 12];
	unsigned long long v[] = {
		s->seqs->next, s->seqs->holes, s->seqs->expired,
		s->records->next, s->pending_records, s->records->holes,
		s->missing_ranges,
	};
	uint32_t first, last, from = s->seqs->next - SEQTRACK_WINDOW;
	unsigned int shown = 0;

	stream_name(s, name, sizeof(name));
	fprintf(t->f, "  %-*s", t->sender_width, name);
	for (int i = 0; i < (int)(sizeof(v) / sizeof(v[0])); i++)
		fprintf(t->f, "  %*llu", column_width(i), v[i]);
	fputc('\n', t->f);
	while (shown < 8 && seqtrack_next_hole(s->seqs, from, &first, &last)) {
		fprintf(t->f, "    missing seq %u..%u\n", first, last);
		from = last + 1;
		shown++;
	}
}

void recvstats_streams(FILE *f, const char *prog, const struct reasm *r)
{
	struct stream_table t = { f, (int)strlen("sender/stream"), 0 };

	reasm_foreach_stream(r, measure_stream, &t);
	if (!t.streams)
		return;
	fprintf(f, "%s: streams\n  %-*s", prog, t.sender_width,
		"sender/stream");
	for (int i = 0; i < (int)(sizeof(stream_columns) /
				  sizeof(stream_columns[0])); i++)
		fprintf(f, "  %*s", column_width(i), stream_columns[i]);
	fputc('\n', f);
	reasm_foreach_stream(r, report_stream, &t);
}
