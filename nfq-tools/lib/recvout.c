// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>
#include <time.h>

#include "recvout.h"
#include "recvstats.h"

static const char *out_name(const struct recvout *ro)
{
	return ro->opt->out_path ? ro->opt->out_path : "standard output";
}

static int series(const struct recvout *ro)
{
	const struct recvopts *o = ro->opt;

	return o->output == RECV_OUT_PCAPNG &&
	       (o->rotate_mb || o->rotate_seconds);
}

static void pcap_config(const struct recvout *ro, struct pcapng_config *pc)
{
	const struct recvopts *o = ro->opt;

	memset(pc, 0, sizeof(*pc));
	pc->prog = ro->prog;
	if (series(ro)) {
		pc->series = o->out_path;
		pc->rotate_bytes = o->rotate_mb * 1000000ull;
		pc->rotate_seconds = o->rotate_seconds;
		pc->rotate_files = o->rotate_files;
	}
}

int recvout_open(struct recvout *ro, const struct recvopts *o,
		 const char *prog, char *err, size_t errlen)
{
	memset(ro, 0, sizeof(*ro));
	ro->opt = o;
	ro->prog = prog;
	ro->tap.fd = -1;
	if (series(ro)) {
		struct pcapng_config pc;

		pcap_config(ro, &pc);
		ro->pcap = pcapng_open_series(&pc, err, errlen);
		if (!ro->pcap)
			goto fail;
	} else if (o->output == RECV_OUT_TAP) {
		if (tapout_open(&ro->tap, prog, o->tap_name, err, errlen))
			goto fail;
		ro->have_tap = 1;
	} else {
		if (outfile_open(&ro->out, prog, o->out_path, o->truncate, err,
				 errlen))
			goto fail;
		ro->have_out = 1;
	}
	if (o->dgram_log_path) {
		if (outfile_open(&ro->log_file, prog, o->dgram_log_path,
				 o->truncate, err, errlen))
			goto fail;
		ro->have_log_file = 1;
		ro->dgram_log = ro->log_file.f;
	}
	if (o->lost_path) {
		if (outfile_open(&ro->lost_file, prog, o->lost_path,
				 o->truncate, err, errlen))
			goto fail;
		ro->have_lost_file = 1;
		ro->lost = ro->lost_file.f;
	} else {
		ro->lost = o->output == RECV_OUT_JSON ? ro->out.f : stderr;
	}
	jsonout_init(&ro->json, ro->out.f);
	return 0;
fail:
	recvout_abandon(ro);
	return -1;
}

void recvout_abandon(struct recvout *ro)
{
	char ignored[256];

	if (ro->have_out)
		outfile_abandon(&ro->out);
	if (ro->have_log_file)
		outfile_abandon(&ro->log_file);
	if (ro->have_lost_file)
		outfile_abandon(&ro->lost_file);
	if (ro->opt && series(ro))
		pcapng_abandon(ro->pcap);
	else if (ro->pcap)
		pcapng_close(ro->pcap, ignored, sizeof(ignored));
	tcpsynth_free(ro->synth);
	if (ro->have_tap)
		tapout_close(&ro->tap, ignored, sizeof(ignored));
	ro->have_out = ro->have_log_file = ro->have_lost_file = 0;
	ro->have_tap = 0;
	ro->pcap = NULL;
	ro->synth = NULL;
}

/* The synthesis, into pcapng or onto the TAP interface. */
static int start_synth(struct recvout *ro, char *err, size_t errlen)
{
	struct tcpsynth_config tc;
	struct tcpsynth_sink sink = { .frame = pcapng_frame,
				      .unit_done = pcapng_unit_done,
				      .file = pcapng_file };

	tcpsynth_config_init(&tc);
	if (ro->have_tap) {
		tc.mtu = ro->tap.mtu;
		sink.frame = tapout_frame;
		sink.unit_done = NULL;
		sink.file = NULL;
		sink.arg = &ro->tap;
	} else {
		if (!ro->pcap) {
			struct pcapng_config pc;

			pcap_config(ro, &pc);
			ro->pcap = pcapng_new(&pc, &ro->out);
			if (!ro->pcap) {
				snprintf(err, errlen, "pcapng: %s",
					 strerror(errno));
				return -1;
			}
		}
		if (pcapng_start(ro->pcap, err, errlen))
			return -1;
		sink.arg = ro->pcap;
	}
	ro->synth = tcpsynth_new(&tc, &sink);
	if (!ro->synth) {
		snprintf(err, errlen, "starting the %s output: %s",
			 ro->have_tap ? "tap" : "pcapng", strerror(errno));
		return -1;
	}
	return 0;
}

int recvout_start(struct recvout *ro, char *err, size_t errlen)
{
	if ((ro->have_out && outfile_start(&ro->out, err, errlen)) ||
	    (ro->have_log_file && outfile_start(&ro->log_file, err, errlen)) ||
	    (ro->have_lost_file && outfile_start(&ro->lost_file, err, errlen)))
		return -1;
	if ((ro->opt->output == RECV_OUT_PCAPNG || ro->have_tap) &&
	    start_synth(ro, err, errlen))
		return -1;
	/* The header at once: a reader of the file sees a capture. */
	return recvout_flush(ro, err, errlen);
}

/* The synthesis failed: why (a sink's message, else errno's). */
static int synth_failed(struct recvout *ro, char *err, size_t errlen,
			const char *what)
{
	if (ro->pcap && pcapng_error(ro->pcap)[0])
		snprintf(err, errlen, "%s", pcapng_error(ro->pcap));
	else
		snprintf(err, errlen, "%s %s: %s", what,
			 ro->have_tap ? ro->tap.name : out_name(ro),
			 strerror(errno));
	return -1;
}

int recvout_record(struct recvout *ro, const struct reasm_record *r,
		   char *err, size_t errlen)
{
	switch (ro->opt->output) {
	case RECV_OUT_JSON:
		if (jsonout_record(&ro->json, r)) {
			snprintf(err, errlen, "writing a record to %s: %s",
				 out_name(ro), strerror(errno));
			return -1;
		}
		break;
	case RECV_OUT_RAW:
		if (fwrite(r->rec->bytes, 1, r->rec->len, ro->out.f) !=
		    r->rec->len) {
			snprintf(err, errlen, "writing a record to %s: %s",
				 out_name(ro), strerror(errno));
			return -1;
		}
		break;
	default:
		/* The sink ends each record's unit itself. */
		return tcpsynth_record(ro->synth, r)
			       ? synth_failed(ro, err, errlen,
					      "writing a record to")
			       : 0;
	}
	return outfile_end_unit(&ro->out, OUTFILE_RECORD, err, errlen);
}

int recvout_lost(struct recvout *ro, const struct reasm_lost *l, char *err,
		 size_t errlen)
{
	struct tcpsynth_loss tl = {
		.sender = l->sender,
		.stream_id = l->stream_id,
		.record_first = l->record_first,
		.record_last = l->record_last,
		.has_first = l->has_record_first,
		.has_last = l->has_record_last,
		.reason = reasm_lost_reason_name(l->reason),
	};
	struct outfile *of = ro->have_lost_file ? &ro->lost_file
			     : ro->lost == ro->out.f ? &ro->out : NULL;

	if (jsonout_lost(ro->lost, l)) {
		snprintf(err, errlen, "writing a LOST line: %s",
			 strerror(errno));
		return -1;
	}
	if (of && outfile_end_unit(of, OUTFILE_LOST, err, errlen))
		return -1;
	if (ro->synth && tcpsynth_lost(ro->synth, &tl))
		return synth_failed(ro, err, errlen,
				    "writing a LOST marker to");
	return 0;
}

int recvout_stream_start(struct recvout *ro, const struct reasm_start *s,
			 char *err, size_t errlen)
{
	if (!ro->synth || !s->has_record ||
	    !tcpsynth_stream_start(ro->synth, s->sender, s->stream_id,
				   s->record_id))
		return 0;
	snprintf(err, errlen, "%s: %s", ro->have_tap ? "tap" : "pcapng",
		 strerror(errno));
	return -1;
}

int recvout_logged(struct recvout *ro, char *err, size_t errlen)
{
	return outfile_end_unit(&ro->log_file, OUTFILE_LOG, err, errlen);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int recvout_flush(struct recvout *ro, char *err, size_t errlen)
{
	if (ro->synth && tcpsynth_tick(ro->synth))
		return synth_failed(ro, err, errlen, "writing");
	if (ro->pcap && (pcapng_tick(ro->pcap, now_ns(), err, errlen) ||
			 pcapng_flush(ro->pcap, err, errlen)))
		return -1;
	if ((ro->have_out && outfile_flush(&ro->out, err, errlen)) ||
	    (ro->have_log_file && outfile_flush(&ro->log_file, err, errlen)) ||
	    (ro->have_lost_file &&
	     outfile_flush(&ro->lost_file, err, errlen)))
		return -1;
	if (ro->lost == stderr && fflush(stderr)) {
		snprintf(err, errlen, "writing LOST lines to standard error: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int recvout_timeout_ms(const struct recvout *ro)
{
	uint64_t due = ro->pcap ? pcapng_deadline(ro->pcap) : 0, now, left;
	int ms = -1;

	/* Records held for earlier ones wait at most their hold time. */
	if (ro->synth && tcpsynth_stats(ro->synth)->held_now)
		ms = 100;
	if (due) {
		now = now_ns();
		/* Rounded up: waking early would only spin. */
		left = due > now ? (due - now + 999999) / 1000000 : 0;
		if (ms < 0 || left < (uint64_t)ms)
			ms = (int)(left > 86400000 ? 86400000 : left);
	}
	return ms;
}

int recvout_sync(struct recvout *ro, char *err, size_t errlen)
{
	return recvout_flush(ro, err, errlen) ||
	       (ro->have_out && outfile_sync(&ro->out, err, errlen)) ||
	       (ro->pcap && pcapng_sync(ro->pcap, err, errlen)) ||
	       (ro->have_log_file && outfile_sync(&ro->log_file, err, errlen)) ||
	       (ro->have_lost_file &&
		outfile_sync(&ro->lost_file, err, errlen)) ? -1 : 0;
}

int recvout_finish(struct recvout *ro, char *err, size_t errlen)
{
	if (ro->synth && tcpsynth_finish(ro->synth))
		return synth_failed(ro, err, errlen, "writing");
	return recvout_flush(ro, err, errlen) ||
	       (ro->pcap && pcapng_finish(ro->pcap, err, errlen)) ? -1 : 0;
}

int recvout_close(struct recvout *ro, char *err, size_t errlen)
{
	int rc = 0;

	jsonout_free(&ro->json);
	tcpsynth_free(ro->synth);
	ro->synth = NULL;
	/* One file: ro->out, closed below; a series: its last file. */
	if (ro->pcap && pcapng_close(ro->pcap, err, errlen))
		rc = -1;
	ro->pcap = NULL;
	if (ro->have_tap && tapout_close(&ro->tap, err, errlen))
		rc = -1;
	if (ro->have_out && outfile_close(&ro->out, err, errlen))
		rc = -1;
	if (ro->have_log_file && outfile_close(&ro->log_file, err, errlen))
		rc = -1;
	if (ro->have_lost_file && outfile_close(&ro->lost_file, err, errlen))
		rc = -1;
	ro->have_out = ro->have_log_file = ro->have_lost_file = 0;
	ro->have_tap = 0;
	ro->lost = ro->dgram_log = NULL;
	return rc;
}

void recvout_stats(const struct recvout *ro, struct outfile_stats *sum)
{
	const struct outfile *files[] = { &ro->out, &ro->lost_file,
					  &ro->log_file };
	const int have[] = { ro->have_out, ro->have_lost_file,
			     ro->have_log_file };

	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < 3; i++) {
		if (!have[i])
			continue;
		for (int k = 0; k < OUTFILE_KINDS; k++)
			sum->unwritten[k] += files[i]->st.unwritten[k];
		sum->write_errors += files[i]->st.write_errors;
	}
	if (ro->pcap)
		pcapng_outfile_stats(ro->pcap, sum);
}

void recvout_print_stats(const struct recvout *ro, struct statprint *sp)
{
	if (!ro->synth)
		return;
	recvstats_synth(sp, tcpsynth_stats(ro->synth),
			ro->pcap ? pcapng_stats(ro->pcap) : NULL,
			ro->have_tap ? &ro->tap.st : NULL);
}

void recvout_describe(const struct recvout *ro, char *buf, size_t len)
{
	static const char *const formats[] = {
		[RECV_OUT_JSON] = "json", [RECV_OUT_RAW] = "raw",
		[RECV_OUT_PCAPNG] = "pcapng",
	};
	const char *how = !ro->opt->out_path ? ""
			  : ro->opt->truncate ? " (truncated)" : " (appended)";
	char files[600];

	if (ro->have_tap) {
		snprintf(buf, len, "frames onto the TAP interface %s (%s, MTU %u, no address, what it receives dropped after its taps)", ro->tap.name,
			 ro->tap.created ? "made" : "existing", ro->tap.mtu);
		return;
	}
	if (series(ro)) {
		pcapng_describe(ro->pcap, files, sizeof(files));
		snprintf(buf, len, "pcapng to %s", files);
		return;
	}
	snprintf(buf, len, "%s to %s%s", formats[ro->opt->output],
		 out_name(ro), how);
}
