// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <string.h>

#include <linux/tlstap.h>

#include "cli.h"
#include "recvopts.h"
#include "tapout.h"

#define DEFAULT_MAX_PENDING	(64u << 20)
#define DEFAULT_MAX_STREAMS	256

void recvopts_init(struct recvopts *o)
{
	memset(o, 0, sizeof(*o));
	o->output = RECV_OUT_JSON;
	o->max_record = TLSTAP_DEFAULT_MAX_RECORD;
	o->max_pending = DEFAULT_MAX_PENDING;
	o->max_streams = DEFAULT_MAX_STREAMS;
	o->nack_timeout_ms = REASM_NACK_TIMEOUT_NS / 1000000;
	o->nack_tries = REASM_NACK_TRIES;
	o->rcvbuf = RECVOPTS_DEFAULT_RCVBUF;
}

static enum recv_output parse_output(struct recvopts *o, const char *prog,
				     const char *arg)
{
	if (!strcmp(arg, "json"))
		return RECV_OUT_JSON;
	if (!strcmp(arg, "raw"))
		return RECV_OUT_RAW;
	if (!strcmp(arg, "pcapng"))
		return RECV_OUT_PCAPNG;
	if (!strncmp(arg, "tap:", 4)) {
		o->tap_name = arg + 4;
		if (!tapout_name_ok(o->tap_name))
			cli_usage_error(prog, "--output tap:NAME: '%s' is no interface name (1 to %d letters, digits, '_', '-', '.')",
					o->tap_name, IFNAMSIZ - 1);
		return RECV_OUT_TAP;
	}
	cli_usage_error(prog, "--output: want json, raw, pcapng or tap:NAME, not '%s'", arg);
}

int recvopts_parse(struct recvopts *o, const char *prog, int c,
		   const char *arg)
{
	switch (c) {
	case RECVOPT_OUTPUT:
		o->output = parse_output(o, prog, arg);
		break;
	case RECVOPT_OUT:
		o->out_path = arg;
		break;
	case RECVOPT_LOST:
		o->lost_path = arg;
		break;
	case RECVOPT_LOGDG:
		o->dgram_log_path = arg;
		break;
	case RECVOPT_MAXREC:
		o->max_record = (uint32_t)cli_ulong(prog, "--max-record", arg,
						    TLSTAP_MAX_RECORD_MIN,
						    TLSTAP_MAX_RECORD_MAX);
		break;
	case RECVOPT_PENDING:
		o->max_pending = cli_ulong(prog, "--max-pending", arg, 1u << 20,
					   1ul << 34);
		break;
	case RECVOPT_STREAMS:
		o->max_streams = (unsigned int)cli_ulong(prog, "--max-streams",
							 arg, 1, 65536);
		break;
	case RECVOPT_NACK_TIMEOUT:
		o->nack_timeout_ms = (unsigned int)cli_ulong(
			prog, "--nack-timeout-ms", arg, 1, 60000);
		break;
	case RECVOPT_NACK_TRIES:
		o->nack_tries = (unsigned int)cli_ulong(prog, "--nack-tries",
							arg, 1, 255);
		break;
	case RECVOPT_RCVBUF:
		o->rcvbuf = (int)cli_ulong(prog, "--rcvbuf", arg, 4096,
					   1u << 30);
		break;
	case RECVOPT_JSON:
		o->stats_json = 1;
		break;
	case RECVOPT_TRUNCATE:
		o->truncate = 1;
		break;
	case RECVOPT_STATE:
		o->state_path = arg;
		break;
	case RECVOPT_ALLOW: {
		char err[160];

		if (o->nallow == RECVOPTS_MAX_ALLOW)
			cli_usage_error(prog, "--allow: at most %d",
					RECVOPTS_MAX_ALLOW);
		if (addr_prefix_parse(arg, &o->allow[o->nallow], err,
				      sizeof(err)))
			cli_usage_error(prog, "--allow: %s", err);
		o->nallow++;
		break;
	}
	case RECVOPT_ROTATE_SIZE:
		o->rotate_mb = cli_ulong(prog, "--rotate-size", arg, 1,
					 1000000);
		break;
	case RECVOPT_ROTATE_SECS:
		o->rotate_seconds = (unsigned int)cli_ulong(
			prog, "--rotate-seconds", arg, 1, 31 * 86400);
		break;
	case RECVOPT_ROTATE_FILES:
		o->rotate_files = (unsigned int)cli_ulong(prog, "--rotate-files",
							  arg, 1, 1000000);
		break;
	default:
		return 0;
	}
	return 1;
}

void recvopts_check(const struct recvopts *o, const char *prog)
{
	int rotating = o->rotate_mb || o->rotate_seconds || o->rotate_files;

	if (rotating && o->output != RECV_OUT_PCAPNG)
		cli_usage_error(prog, "--rotate-size, --rotate-seconds, --rotate-files: only with --output pcapng");
	if (rotating && !o->out_path)
		cli_usage_error(prog, "--rotate-*: --out FILE names the files (FILE_NNNNN_TIME.EXT)");
	if (o->rotate_files && !o->rotate_mb && !o->rotate_seconds)
		cli_usage_error(prog, "--rotate-files: with --rotate-size or --rotate-seconds");
	if (rotating && o->truncate)
		cli_usage_error(prog, "--truncate: the files of --rotate-* are new ones");
	if (o->output == RECV_OUT_TAP && o->out_path)
		cli_usage_error(prog, "--out: --output tap:%s writes to the interface", o->tap_name);
}

void recvopts_usage(FILE *f)
{
	fprintf(f,
"    --output json|raw|pcapng|tap:NAME\n"
"                          JSON lines (default), raw records, pcapng, or\n"
"                          frames onto the TAP interface NAME (made if\n"
"                          missing; CAP_NET_ADMIN)\n"
"    --out FILE            where records go (default stdout); appended to\n"
"    --rotate-size MB      pcapng: a new file every MB (10^6 bytes), as\n"
"                          FILE_NNNNN_TIME.EXT, finished ones renamed\n"
"                          into place\n"
"    --rotate-seconds S    pcapng: a new file every S seconds\n"
"    --rotate-files N      keep the N newest files of the series\n"
"    --lost FILE           LOST lines (records given up) go here (default:\n"
"                          with the records in JSON output, else stderr)\n"
"    --truncate            empty the files written (once started) instead\n"
"                          of appending to them\n"
"    --state FILE          where streams stop at exit (and every second),\n"
"                          to continue them exactly in the next run\n"
"    --allow ADDR[/LEN]    take datagrams from these senders only\n"
"                          (repeatable; default: any sender)\n"
"    --nack-timeout-ms N   before the second NACK, doubling (default %llu)\n"
"    --nack-tries N        unanswered NACKs per missing datagram (default %u)\n"
"    --max-record N        largest plaintext accepted (default %u)\n"
"    --max-pending BYTES   memory for incomplete records (default %u MiB)\n"
"    --max-streams N       sender streams tracked at once (default %u)\n"
"    --stats-json          counters as JSON (on SIGUSR1 and at exit)\n",
		REASM_NACK_TIMEOUT_NS / 1000000, REASM_NACK_TRIES,
		TLSTAP_DEFAULT_MAX_RECORD, DEFAULT_MAX_PENDING >> 20,
		DEFAULT_MAX_STREAMS);
}

void recvopts_reasm_config(const struct recvopts *o, struct reasm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_msg_len = o->max_record;
	cfg->max_pending_bytes = o->max_pending;
	cfg->max_streams = o->max_streams;
	cfg->nack_timeout_ns = o->nack_timeout_ms * 1000000ull;
	cfg->nack_tries = o->nack_tries;
	cfg->max_evicted = RECVOPTS_EVICTED_PER_STREAM * o->max_streams;
	cfg->allow = o->nallow ? o->allow : NULL;
	cfg->nallow = o->nallow;
}

void recvopts_senders(const struct recvopts *o, char *buf, size_t len)
{
	size_t used = 0;

	if (!o->nallow) {
		snprintf(buf, len, "any sender (warning: without --allow, anyone who can reach it can fill the stream table)");
		return;
	}
	buf[0] = '\0';
	for (unsigned int i = 0; i < o->nallow && used < len; i++) {
		char p[ADDR_PREFIX_STRLEN];

		addr_prefix_format(&o->allow[i], p, sizeof(p));
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "", p);
	}
}
