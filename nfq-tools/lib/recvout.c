// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>

#include "recvout.h"

static const char *out_name(const struct recvout *ro)
{
	return ro->opt->out_path ? ro->opt->out_path : "stdout";
}

static int failed(char *err, size_t errlen, const char *what,
		  const char *name)
{
	snprintf(err, errlen, "%s%s%s: %s", what, name ? " " : "",
		 name ? name : "", strerror(errno));
	return -1;
}

static FILE *open_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f)
		failed(err, errlen, "opening", path);
	return f;
}

int recvout_open(struct recvout *ro, const struct recvopts *o,
		 const char *prog, char *err, size_t errlen)
{
	memset(ro, 0, sizeof(*ro));
	ro->opt = o;
	ro->out = o->out_path ? open_file(o->out_path, err, errlen) : stdout;
	if (!ro->out)
		return -1;
	jsonout_init(&ro->json, ro->out);
	if (o->dgram_log_path &&
	    !(ro->dgram_log = open_file(o->dgram_log_path, err, errlen)))
		return -1;
	if (o->lost_path)
		ro->lost = open_file(o->lost_path, err, errlen);
	else
		ro->lost = o->output == RECV_OUT_JSON ? ro->out : stderr;
	if (!ro->lost)
		return -1;
	if (o->output == RECV_OUT_PCAPNG) {
		struct pcapng_config pc;

		pcapng_config_init(&pc);
		pc.application = prog;
		ro->pcap = pcapng_new(ro->out, &pc);
		if (!ro->pcap)
			return failed(err, errlen,
				      "starting the pcapng output on",
				      out_name(ro));
		/* The header at once: a reader of the file sees a capture. */
		if (fflush(ro->out))
			return failed(err, errlen, "writing", out_name(ro));
	}
	return 0;
}

int recvout_record(struct recvout *ro, const struct reasm_record *r,
		   char *err, size_t errlen)
{
	int bad;

	switch (ro->opt->output) {
	case RECV_OUT_JSON:
		bad = jsonout_record(&ro->json, r);
		break;
	case RECV_OUT_RAW:
		bad = fwrite(r->rec->bytes, 1, r->rec->len, ro->out) !=
		      r->rec->len;
		break;
	default:
		bad = pcapng_record(ro->pcap, r);
		break;
	}
	return bad ? failed(err, errlen, "writing a record to", out_name(ro))
		   : 0;
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

	if (jsonout_lost(ro->lost, l))
		return failed(err, errlen, "writing a LOST line", NULL);
	if (ro->pcap && pcapng_lost(ro->pcap, &pl))
		return failed(err, errlen, "writing a LOST marker to",
			      out_name(ro));
	return 0;
}

int recvout_flush(struct recvout *ro, char *err, size_t errlen)
{
	if ((ro->pcap && pcapng_tick(ro->pcap)) || fflush(ro->out) ||
	    fflush(ro->lost) || (ro->dgram_log && fflush(ro->dgram_log)))
		return failed(err, errlen, "writing output", NULL);
	return 0;
}

int recvout_finish(struct recvout *ro, char *err, size_t errlen)
{
	if (ro->pcap && pcapng_finish(ro->pcap))
		return failed(err, errlen, "writing", out_name(ro));
	return recvout_flush(ro, err, errlen);
}

static int close_file(FILE *f, const char *path, char *err, size_t errlen,
		      int rc)
{
	if (fclose(f) && !rc)
		return failed(err, errlen, "closing", path);
	return rc;
}

int recvout_close(struct recvout *ro, char *err, size_t errlen)
{
	const struct recvopts *o = ro->opt;
	int rc = 0;

	jsonout_free(&ro->json);
	pcapng_free(ro->pcap);
	ro->pcap = NULL;
	if (ro->out && ro->out != stdout)
		rc = close_file(ro->out, o->out_path, err, errlen, rc);
	if (ro->dgram_log)
		rc = close_file(ro->dgram_log, o->dgram_log_path, err, errlen,
				rc);
	if (o->lost_path && ro->lost)
		rc = close_file(ro->lost, o->lost_path, err, errlen, rc);
	ro->out = ro->lost = ro->dgram_log = NULL;
	return rc;
}
