// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>

#include "recvout.h"

static const char *out_name(const struct recvout *ro)
{
	return ro->opt->out_path ? ro->opt->out_path : "standard output";
}

int recvout_open(struct recvout *ro, const struct recvopts *o,
		 const char *prog, char *err, size_t errlen)
{
	memset(ro, 0, sizeof(*ro));
	ro->opt = o;
	ro->prog = prog;
	if (outfile_open(&ro->out, prog, o->out_path, o->truncate, err,
			 errlen))
		goto fail;
	ro->have_out = 1;
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
	if (ro->have_out)
		outfile_abandon(&ro->out);
	if (ro->have_log_file)
		outfile_abandon(&ro->log_file);
	if (ro->have_lost_file)
		outfile_abandon(&ro->lost_file);
	ro->have_out = ro->have_log_file = ro->have_lost_file = 0;
}

/* pcapng's units: its section header, each record's packets. */
static int pcap_written(void *arg, int header)
{
	struct recvout *ro = arg;

	if (outfile_end_unit(&ro->out, header ? OUTFILE_HEADER : OUTFILE_RECORD,
			     ro->unit_err, sizeof(ro->unit_err))) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int recvout_start(struct recvout *ro, char *err, size_t errlen)
{
	if (outfile_start(&ro->out, err, errlen) ||
	    (ro->have_log_file && outfile_start(&ro->log_file, err, errlen)) ||
	    (ro->have_lost_file && outfile_start(&ro->lost_file, err, errlen)))
		return -1;
	if (ro->opt->output == RECV_OUT_PCAPNG) {
		struct pcapng_config pc;

		pcapng_config_init(&pc);
		pc.application = ro->prog;
		pc.written = pcap_written;
		pc.written_arg = ro;
		ro->pcap = pcapng_new(ro->out.f, &pc);
		if (!ro->pcap) {
			snprintf(err, errlen, "starting the pcapng output on "
				 "%s: %s", out_name(ro), ro->unit_err[0] ?
				 ro->unit_err : strerror(errno));
			return -1;
		}
	}
	/* The header at once: a reader of the file sees a capture. */
	return recvout_flush(ro, err, errlen);
}

static int unit_failed(struct recvout *ro, char *err, size_t errlen,
		       const char *what)
{
	if (ro->unit_err[0])
		snprintf(err, errlen, "%s", ro->unit_err);
	else
		snprintf(err, errlen, "%s %s: %s", what, out_name(ro),
			 strerror(errno));
	return -1;
}

int recvout_record(struct recvout *ro, const struct reasm_record *r,
		   char *err, size_t errlen)
{
	switch (ro->opt->output) {
	case RECV_OUT_JSON:
		if (jsonout_record(&ro->json, r))
			return unit_failed(ro, err, errlen,
					   "writing a record to");
		break;
	case RECV_OUT_RAW:
		if (fwrite(r->rec->bytes, 1, r->rec->len, ro->out.f) !=
		    r->rec->len)
			return unit_failed(ro, err, errlen,
					   "writing a record to");
		break;
	default:
		/* pcapng ends each record's unit itself (pcap_written). */
		return pcapng_record(ro->pcap, r)
			       ? unit_failed(ro, err, errlen,
					     "writing a record to")
			       : 0;
	}
	return outfile_end_unit(&ro->out, OUTFILE_RECORD, err, errlen);
}

int recvout_lost(struct recvout *ro, const struct reasm_lost *l, char *err,
		 size_t errlen)
{
	struct pcapng_loss pl = {
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
	if (ro->pcap && pcapng_lost(ro->pcap, &pl))
		return unit_failed(ro, err, errlen,
				   "writing a LOST marker to");
	return 0;
}

int recvout_stream_start(struct recvout *ro, const struct reasm_start *s,
			 char *err, size_t errlen)
{
	if (!ro->pcap || !s->has_record ||
	    !pcapng_stream_start(ro->pcap, s->sender, s->stream_id,
				 s->record_id))
		return 0;
	snprintf(err, errlen, "pcapng: %s", strerror(errno));
	return -1;
}

int recvout_logged(struct recvout *ro, char *err, size_t errlen)
{
	return outfile_end_unit(&ro->log_file, OUTFILE_LOG, err, errlen);
}

int recvout_flush(struct recvout *ro, char *err, size_t errlen)
{
	if (ro->pcap && pcapng_tick(ro->pcap))
		return unit_failed(ro, err, errlen, "writing");
	if (outfile_flush(&ro->out, err, errlen) ||
	    (ro->have_log_file && outfile_flush(&ro->log_file, err, errlen)) ||
	    (ro->have_lost_file &&
	     outfile_flush(&ro->lost_file, err, errlen)))
		return -1;
	if (ro->lost == stderr && fflush(stderr)) {
		snprintf(err, errlen, "writing LOST lines to standard error: "
			 "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int recvout_sync(struct recvout *ro, char *err, size_t errlen)
{
	return recvout_flush(ro, err, errlen) ||
	       outfile_sync(&ro->out, err, errlen) ||
	       (ro->have_log_file && outfile_sync(&ro->log_file, err, errlen)) ||
	       (ro->have_lost_file &&
		outfile_sync(&ro->lost_file, err, errlen)) ? -1 : 0;
}

int recvout_finish(struct recvout *ro, char *err, size_t errlen)
{
	if (ro->pcap && pcapng_finish(ro->pcap))
		return unit_failed(ro, err, errlen, "writing");
	return recvout_flush(ro, err, errlen);
}

int recvout_close(struct recvout *ro, char *err, size_t errlen)
{
	int rc = 0;

	jsonout_free(&ro->json);
	pcapng_free(ro->pcap);
	ro->pcap = NULL;
	if (ro->have_out && outfile_close(&ro->out, err, errlen))
		rc = -1;
	if (ro->have_log_file && outfile_close(&ro->log_file, err, errlen))
		rc = -1;
	if (ro->have_lost_file && outfile_close(&ro->lost_file, err, errlen))
		rc = -1;
	ro->have_out = ro->have_log_file = ro->have_lost_file = 0;
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
}

void recvout_describe(const struct recvout *ro, char *buf, size_t len)
{
	static const char *const formats[] = {
		[RECV_OUT_JSON] = "json", [RECV_OUT_RAW] = "raw",
		[RECV_OUT_PCAPNG] = "pcapng",
	};
	const char *how = !ro->opt->out_path ? ""
			  : ro->opt->truncate ? " (truncated)" : " (appended)";

	snprintf(buf, len, "%s to %s%s", formats[ro->opt->output],
		 out_name(ro), how);
}
