// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-nfq: a receiver on NFQUEUE. An nft rule (which it can install
 * and remove) queues tlstap's datagrams, matched by UDP port and DSCP, to
 * it; it checks every packet strictly, feeds the datagrams to the
 * receivers' core (lib/reasm.c), writes whole records (JSON lines, raw
 * records or pcapng) and gives every queued packet the configured verdict:
 * drop (a target consuming them) or accept (a middlebox in the forwarding
 * path, which lets them go on to their target). NACKs leave with the
 * target's address as source (lib/nacksock.c).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <linux/netfilter.h>

#include "addr.h"
#include "jsonout.h"
#include "nacksock.h"
#include "nfqueue.h"
#include "nftrule.h"
#include "pcapng.h"
#include "ratelog.h"
#include "reasm.h"
#include "wire.h"

#define PROG "tlstap-nfq"
#define BATCH 64
#define SOURCE_BUCKETS 256
#define PCAPNG_TICK_MS 100

enum output_kind { OUT_JSON, OUT_RAW, OUT_PCAPNG };
enum action { ACT_RUN, ACT_REMOVE_RULE, ACT_PRINT_RULE };

struct options {
	enum action action;
	struct nftrule rule;
	int install_rule;
	int accept;
	int nack;
	unsigned int nack_timeout_ms;
	unsigned int nack_tries;
	enum output_kind output;
	const char *out_path;
	const char *dgram_log_path;
	const char *lost_path;
	uint32_t max_record;
	size_t max_pending;
	unsigned int max_streams;
	uint32_t queue_maxlen;
	int rcvbuf;
	int stats_json;
};

/* Where a stream's datagrams were sent: the source its NACKs need. */
struct nack_source {
	struct nack_source *hnext;
	struct nack_source *lru_prev, *lru_next;
	struct endpoint sender;
	uint32_t stream_id;
	uint8_t target[16];
};

struct nfq_stats {
	unsigned long long packets;
	unsigned long long bad_packets;		/* not a whole UDP datagram */
	unsigned long long bad_by[UDP_STATUS_COUNT];
	unsigned long long wrong_port;		/* not our UDP port */
	unsigned long long tos_mismatch;	/* DSCP other than configured */
	unsigned long long csum_unchecked;	/* none, or not filled in yet */
	unsigned long long nacks_suppressed;	/* --no-nack */
	unsigned long long nack_no_source;	/* stream never seen: not sent */
	unsigned long long nack_send_errors;
};

struct nfqtool {
	struct options opt;
	struct reasm *reasm;
	struct jsonout json;
	struct pcapng *pcap;
	FILE *out, *dgram_log;
	FILE *lost;		/* LOST lines: out, --lost FILE or stderr */
	struct nfqueue q;
	struct nacksock ns;
	struct ratelog log;
	struct nfq_stats st;
	struct nack_source *sources[SOURCE_BUCKETS];
	struct nack_source *src_head, *src_tail;
	unsigned int nsources;
	int sigfd;
	int rule_installed;
	uint64_t reasm_deadline;
	/* The receive batch being processed: monotonic now, the realtime
	 * clock's offset from it, the latest arrival among its packets. */
	uint64_t batch_now, batch_seen;
	int64_t batch_offset;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						    noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [options]             receive from the queue\n"
"       " PROG " --print-rule [rule options]\n"
"       " PROG " --remove-rule\n"
"  queue and rule:\n"
"    --queue N             NFQUEUE number (default 0)\n"
"    --port N              tlstap's UDP destination port (default %u)\n"
"    --tos N               tlstap's TOS; its DSCP is matched (default 0x%02x)\n"
"    --hook input|forward  input on a target (default), forward on a middlebox\n"
"    --install-rule        install the nft rule (table inet " NFTRULE_TABLE
") at start,\n"
"                          remove it at exit\n"
"    --remove-rule         delete table inet " NFTRULE_TABLE " and exit\n"
"    --print-rule          print the rule (nft syntax) and exit\n"
"    --accept              let the datagrams pass on (default: drop them)\n"
"    --queue-maxlen N      packets the kernel queues (default 4096)\n"
"    --rcvbuf BYTES        netlink receive buffer (default 16 MiB)\n"
"  receiver:\n"
"    --output json|raw|pcapng  JSON lines (default), raw records or pcapng\n"
"    --out FILE            where records go (default stdout)\n"
"    --lost FILE           LOST lines (records given up) go here (default:\n"
"                          with the records in JSON output, else stderr)\n"
"    --log-datagrams FILE  one JSON line per queued packet\n"
"    --no-nack             never send NACKs\n"
"    --nack-timeout-ms N   before the second NACK, doubling (default 20)\n"
"    --nack-tries N        NACKs per missing datagram (default 6)\n"
"    --max-record N        largest plaintext accepted (default %u)\n"
"    --max-pending BYTES   memory for incomplete records (default 64 MiB)\n"
"    --max-streams N       sender streams tracked at once (default 256)\n"
"    --stats-json          counters as JSON (on SIGUSR1 and at exit)\n",
		TLSTAP_DEFAULT_PORT, TLSTAP_DEFAULT_TOS,
		TLSTAP_DEFAULT_MAX_RECORD);
}

static unsigned long parse_ulong(const char *opt, const char *s,
				 unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		die("%s: '%s' is not a number in %lu..%lu", opt, s, min, max);
	return v;
}

static void parse_options(struct options *o, int argc, char **argv)
{
	enum { O_QUEUE = 256, O_PORT, O_TOS, O_HOOK, O_INSTALL, O_REMOVE,
	       O_PRINT, O_ACCEPT, O_QMAXLEN, O_RCVBUF, O_OUTPUT, O_OUT,
	       O_LOGDG, O_LOST, O_NONACK, O_NACK_TIMEOUT, O_NACK_TRIES, O_MAXREC, O_PENDING, O_STREAMS, O_JSON };
	static const struct option longopts[] = {
		{ "queue", required_argument, NULL, O_QUEUE },
		{ "port", required_argument, NULL, O_PORT },
		{ "tos", required_argument, NULL, O_TOS },
		{ "hook", required_argument, NULL, O_HOOK },
		{ "install-rule", no_argument, NULL, O_INSTALL },
		{ "remove-rule", no_argument, NULL, O_REMOVE },
		{ "print-rule", no_argument, NULL, O_PRINT },
		{ "accept", no_argument, NULL, O_ACCEPT },
		{ "queue-maxlen", required_argument, NULL, O_QMAXLEN },
		{ "rcvbuf", required_argument, NULL, O_RCVBUF },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "out", required_argument, NULL, O_OUT },
		{ "log-datagrams", required_argument, NULL, O_LOGDG },
		{ "lost", required_argument, NULL, O_LOST },
		{ "no-nack", no_argument, NULL, O_NONACK },
		{ "nack-timeout-ms", required_argument, NULL, O_NACK_TIMEOUT },
		{ "nack-tries", required_argument, NULL, O_NACK_TRIES },
		{ "max-record", required_argument, NULL, O_MAXREC },
		{ "max-pending", required_argument, NULL, O_PENDING },
		{ "max-streams", required_argument, NULL, O_STREAMS },
		{ "stats-json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->action = ACT_RUN;
	o->rule.hook = "input";
	o->rule.port = TLSTAP_DEFAULT_PORT;
	o->rule.tos = TLSTAP_DEFAULT_TOS;
	o->nack = 1;
	o->nack_timeout_ms = REASM_NACK_TIMEOUT_NS / 1000000;
	o->nack_tries = REASM_NACK_TRIES;
	o->output = OUT_JSON;
	o->max_record = TLSTAP_DEFAULT_MAX_RECORD;
	o->max_pending = 64u << 20;
	o->max_streams = 256;
	o->queue_maxlen = 4096;
	o->rcvbuf = 16 << 20;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_QUEUE:
			o->rule.queue = (uint16_t)parse_ulong("--queue", optarg,
							      0, 65535);
			break;
		case O_PORT:
			o->rule.port = (uint16_t)parse_ulong("--port", optarg,
							     1, 65535);
			break;
		case O_TOS:
			o->rule.tos = (uint8_t)parse_ulong("--tos", optarg, 1,
							   255);
			break;
		case O_HOOK:
			if (strcmp(optarg, "input") && strcmp(optarg, "forward"))
				die("--hook: want input or forward, got '%s'",
				    optarg);
			o->rule.hook = !strcmp(optarg, "input") ? "input"
								 : "forward";
			break;
		case O_INSTALL:
			o->install_rule = 1;
			break;
		case O_REMOVE:
			o->action = ACT_REMOVE_RULE;
			break;
		case O_PRINT:
			o->action = ACT_PRINT_RULE;
			break;
		case O_ACCEPT:
			o->accept = 1;
			break;
		case O_QMAXLEN:
			o->queue_maxlen = (uint32_t)parse_ulong(
				"--queue-maxlen", optarg, 1, 1u << 20);
			break;
		case O_RCVBUF:
			o->rcvbuf = (int)parse_ulong("--rcvbuf", optarg, 4096,
						     1u << 30);
			break;
		case O_OUTPUT:
			if (!strcmp(optarg, "json"))
				o->output = OUT_JSON;
			else if (!strcmp(optarg, "raw"))
				o->output = OUT_RAW;
			else if (!strcmp(optarg, "pcapng"))
				o->output = OUT_PCAPNG;
			else
				die("--output: want json, raw or pcapng, got "
				    "'%s'", optarg);
			break;
		case O_OUT:
			o->out_path = optarg;
			break;
		case O_LOGDG:
			o->dgram_log_path = optarg;
			break;
		case O_LOST:
			o->lost_path = optarg;
			break;
		case O_NONACK:
			o->nack = 0;
			break;
		case O_NACK_TIMEOUT:
			o->nack_timeout_ms = (unsigned int)parse_ulong(
				"--nack-timeout-ms", optarg, 1, 60000);
			break;
		case O_NACK_TRIES:
			o->nack_tries = (unsigned int)parse_ulong(
				"--nack-tries", optarg, 1, 255);
			break;
		case O_MAXREC:
			o->max_record = (uint32_t)parse_ulong("--max-record",
							      optarg, 1,
							      16u << 20);
			break;
		case O_PENDING:
			o->max_pending = parse_ulong("--max-pending", optarg,
						     1u << 20, 1ul << 34);
			break;
		case O_STREAMS:
			o->max_streams = (unsigned int)parse_ulong(
				"--max-streams", optarg, 1, 65536);
			break;
		case O_JSON:
			o->stats_json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind != argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (o->action != ACT_RUN && o->install_rule)
		die("--install-rule runs the receiver; it does not go with "
		    "--remove-rule or --print-rule");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + 1;
}

static const char *out_name(const struct nfqtool *t)
{
	return t->opt.out_path ? t->opt.out_path : "stdout";
}

static void remove_rule(struct nfqtool *t)
{
	char err[512];

	if (!t->rule_installed)
		return;
	t->rule_installed = 0;
	if (nftrule_remove(err, sizeof(err)))
		fprintf(stderr, PROG ": %s\n", err);
}

static void fail(struct nfqtool *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* die(), but first the rule goes: it must not outlive us. */
static void fail(struct nfqtool *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_rule(t);
	exit(1);
}

/* ------------------------------------------------------ NACK sources */

static unsigned int source_hash(const struct endpoint *ep, uint32_t id)
{
	uint32_t h = id ^ ep->port ^ ((uint32_t)ep->family << 16);

	for (int i = 0; i < 16; i++)
		h = h * 31 + ep->addr[i];
	return h % SOURCE_BUCKETS;
}

static void source_unlink_lru(struct nfqtool *t, struct nack_source *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		t->src_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		t->src_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void source_push_front(struct nfqtool *t, struct nack_source *s)
{
	s->lru_next = t->src_head;
	if (t->src_head)
		t->src_head->lru_prev = s;
	else
		t->src_tail = s;
	t->src_head = s;
}

static struct nack_source *source_find(struct nfqtool *t,
				       const struct endpoint *ep, uint32_t id)
{
	struct nack_source *s = t->sources[source_hash(ep, id)];

	while (s && !(s->stream_id == id && s->sender.family == ep->family &&
		      s->sender.port == ep->port &&
		      !memcmp(s->sender.addr, ep->addr, 16)))
		s = s->hnext;
	return s;
}

static void source_free(struct nfqtool *t, struct nack_source *s)
{
	struct nack_source **pp =
		&t->sources[source_hash(&s->sender, s->stream_id)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	source_unlink_lru(t, s);
	free(s);
	t->nsources--;
}

/*
 * Remembers the address a stream's datagrams were sent to. As many
 * entries as the core tracks streams (twice, for churn); the least
 * recently seen goes first.
 */
static void source_note(struct nfqtool *t, const struct endpoint *sender,
			uint32_t stream_id, const struct endpoint *target)
{
	struct nack_source *s = source_find(t, sender, stream_id);
	unsigned int b;

	if (s) {
		memcpy(s->target, target->addr, 16);
		source_unlink_lru(t, s);
		source_push_front(t, s);
		return;
	}
	if (t->nsources >= 2 * t->opt.max_streams)
		source_free(t, t->src_tail);
	s = calloc(1, sizeof(*s));
	if (!s)
		fail(t, "out of memory");
	s->sender = *sender;
	s->stream_id = stream_id;
	memcpy(s->target, target->addr, 16);
	b = source_hash(sender, stream_id);
	s->hnext = t->sources[b];
	t->sources[b] = s;
	source_push_front(t, s);
	t->nsources++;
}

/* ------------------------------------------------------ core callbacks */

static void on_record(void *arg, const struct reasm_record *r)
{
	struct nfqtool *t = arg;
	int bad;

	switch (t->opt.output) {
	case OUT_JSON:
		bad = jsonout_record(&t->json, r);
		break;
	case OUT_RAW:
		bad = fwrite(r->rec->bytes, 1, r->rec->len, t->out) !=
		      r->rec->len;
		break;
	default:
		bad = pcapng_record(t->pcap, r);
		break;
	}
	if (bad)
		fail(t, "writing a record to %s: %s", out_name(t),
		     strerror(errno));
}

/*
 * A LOST line always (with the records in JSON output, else --lost or
 * stderr, as tlstap-recv does); in pcapng output also holes in the flows.
 */
static void on_lost(void *arg, const struct reasm_lost *l)
{
	struct nfqtool *t = arg;
	struct pcapng_loss pl = {
		.sender = l->sender,
		.stream_id = l->stream_id,
		.record_first = l->record_first,
		.record_last = l->record_last,
		.has_first = l->has_record_first,
		.has_last = l->has_record_last,
		.reason = reasm_lost_reason_name(l->reason),
	};

	if (jsonout_lost(t->lost, l))
		fail(t, "writing a LOST line: %s", strerror(errno));
	if (t->pcap && pcapng_lost(t->pcap, &pl))
		fail(t, "writing a LOST marker to %s: %s", out_name(t),
		     strerror(errno));
}

static void on_nack(void *arg, const struct endpoint *to, const uint8_t *msg,
		    size_t len)
{
	struct nfqtool *t = arg;
	struct nack_source *src;
	struct wire_msg m;

	if (!t->opt.nack) {
		t->st.nacks_suppressed++;
		return;
	}
	/* The core built it: it parses, and names its stream. */
	if (wire_parse_msg(msg, len, &m) != WIRE_OK)
		fail(t, "the core built a NACK that does not parse");
	src = source_find(t, to, m.stream_id);
	if (!src) {
		t->st.nack_no_source++;
		return;
	}
	if (nacksock_send(&t->ns, to, src->target, msg, len)) {
		char name[ENDPOINT_STRLEN];

		t->st.nack_send_errors++;
		endpoint_format(to, name, sizeof(name));
		ratelog(&t->log, "sending a NACK to %s: %s", name,
			strerror(t->ns.last_errno));
	}
}

/* --------------------------------------------------------------- stats */

/* Counters as "name=value" words, or as one JSON object per group. */
struct stat_printer {
	FILE *f;
	int json, first;
};

static void stat_group(struct stat_printer *sp, const char *group)
{
	if (sp->json)
		fprintf(sp->f, "%s\"%s\":{", sp->first ? "{" : "},", group);
	else
		fprintf(sp->f, "%s" PROG ": %s:", sp->first ? "" : "\n",
			group);
	sp->first = 1;
}

static void stat(struct stat_printer *sp, const char *name,
		 unsigned long long v)
{
	if (sp->json)
		fprintf(sp->f, "%s\"%s\":%llu", sp->first ? "" : ",", name, v);
	else
		fprintf(sp->f, " %s=%llu", name, v);
	sp->first = 0;
}

/*
 * The kernel's counters for our queue (/proc/net/netfilter/nfnetlink_queue):
 * packets dropped because the queue was full, or because they could not
 * be sent to us.
 */
static void print_kernel_queue(struct nfqtool *t, struct stat_printer *sp)
{
	FILE *p = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned int num, portid, total, mode, range, qdropped, udropped, seq;
	char line[256];

	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%u %u %u %u %u %u %u %u", &num, &portid,
			   &total, &mode, &range, &qdropped, &udropped,
			   &seq) == 8 && num == t->opt.rule.queue) {
			stat(sp, "kernel_queue_dropped", qdropped);
			stat(sp, "kernel_user_dropped", udropped);
			break;
		}
	}
	fclose(p);
}

static void print_stats(struct nfqtool *t)
{
	const struct reasm_stats *s = reasm_stats(t->reasm);
	const struct nfqueue_stats *q = &t->q.st;
	struct stat_printer sp = { stderr, t->opt.stats_json, 1 };

	stat_group(&sp, "nfq");
	stat(&sp, "packets", t->st.packets);
	stat(&sp, "bad_packets", t->st.bad_packets);
	for (int i = 1; i < UDP_STATUS_COUNT; i++)
		stat(&sp, udp_status_name(i), t->st.bad_by[i]);
	stat(&sp, "wrong_port", t->st.wrong_port);
	stat(&sp, "tos_mismatch", t->st.tos_mismatch);
	stat(&sp, "csum_unchecked", t->st.csum_unchecked);
	stat(&sp, "recv_calls", q->recv_calls);
	stat(&sp, "enobufs", q->enobufs);
	stat(&sp, "bad_messages", q->bad_messages);
	stat(&sp, "netlink_errors", q->netlink_errors);
	stat(&sp, "verdict_msgs", q->verdict_msgs);
	stat(&sp, "nacks_sent", t->ns.sent);
	stat(&sp, "nacks_suppressed", t->st.nacks_suppressed);
	stat(&sp, "nack_no_source", t->st.nack_no_source);
	stat(&sp, "nack_send_errors", t->st.nack_send_errors);
	print_kernel_queue(t, &sp);

	stat_group(&sp, "reasm");
	stat(&sp, "datagrams", s->datagrams);
	stat(&sp, "bytes", s->bytes);
	stat(&sp, "invalid", s->invalid);
	for (int i = 1; i < WIRE_STATUS_COUNT; i++)
		stat(&sp, wire_status_name(i), s->invalid_by[i]);
	stat(&sp, "unsupported", s->unsupported);
	stat(&sp, "duplicates", s->dup_datagrams);
	stat(&sp, "late", s->late_datagrams);
	stat(&sp, "stale", s->stale_datagrams);
	stat(&sp, "retransmitted", s->retransmitted);
	stat(&sp, "seq_gaps", s->seq_gaps);
	stat(&sp, "chunks", s->chunks);
	stat(&sp, "dup_chunks", s->dup_chunks);
	stat(&sp, "stale_chunks", s->stale_chunks);
	stat(&sp, "records", s->records);
	stat(&sp, "record_bytes", s->record_bytes);
	stat(&sp, "loss_reports", s->loss_reports);
	stat(&sp, "aborted", s->records_aborted);
	stat(&sp, "inconsistent", s->records_inconsistent);
	stat(&sp, "invalid_records", s->records_invalid);
	stat(&sp, "evicted", s->records_evicted);
	stat(&sp, "pending_bytes", s->pending_bytes);
	stat(&sp, "streams", s->streams);
	stat(&sp, "streams_evicted", s->streams_evicted);
	stat(&sp, "nacks_sent", s->nacks_sent);
	stat(&sp, "nack_seqs", s->nack_seqs);
	stat(&sp, "heartbeats_received", s->heartbeats_received);
	stat(&sp, "gaps_received", s->gaps_received);
	stat(&sp, "gaps_unknown_stream", s->gaps_unknown_stream);
	stat(&sp, "lost_datagrams", s->lost_datagrams);
	stat(&sp, "lost_records", s->lost_records);
	stat(&sp, "lost_ranges", s->lost_ranges);
	stat(&sp, "lost_open_ended", s->lost_open_ended);
	if (t->pcap) {
		const struct pcapng_stats *p = pcapng_stats(t->pcap);

		stat_group(&sp, "pcapng");
		stat(&sp, "records", p->records);
		stat(&sp, "loss_reports", p->loss_reports);
		stat(&sp, "packets", p->packets);
		stat(&sp, "file_bytes", p->file_bytes);
		stat(&sp, "flows", p->flows);
		stat(&sp, "flows_evicted", p->flows_evicted);
		stat(&sp, "dropped_gaps", p->dropped_gaps);
		stat(&sp, "dropped_bytes", p->dropped_bytes);
		stat(&sp, "lost_ranges", p->lost_ranges);
		stat(&sp, "lost_records", p->lost_records);
		stat(&sp, "lost_marks", p->lost_marks);
		stat(&sp, "held", p->held);
		stat(&sp, "held_now", p->held_now);
		stat(&sp, "hold_expired", p->hold_expired);
		stat(&sp, "late_records", p->late_records);
	}
	fputs(sp.json ? "}}\n" : "\n", sp.f);
}

/* -------------------------------------------------------------- packets */

/*
 * One JSON line per queued packet: as tlstap-recv's per datagram ("size"
 * is the UDP payload) plus what only a queue sees.
 */
static void log_packet(struct nfqtool *t, const struct udp_view *v,
		       enum udp_status ust, size_t ip_size,
		       const struct reasm_dgram_info *info)
{
	char sender[ENDPOINT_STRLEN], target[ENDPOINT_STRLEN];

	fprintf(t->dgram_log, "{\"ip_size\":%zu,\"udp_status\":\"%s\"",
		ip_size, udp_status_name(ust));
	if (ust == UDP_OK) {
		endpoint_format(&v->src, sender, sizeof(sender));
		endpoint_format(&v->dst, target, sizeof(target));
		fprintf(t->dgram_log,
			",\"sender\":\"%s\",\"target\":\"%s\",\"tos\":%u,"
			"\"size\":%zu,\"csum_checked\":%s", sender, target,
			v->tos, v->payload_len,
			v->csum_checked ? "true" : "false");
	}
	if (info)
		reasm_dgram_info_json(t->dgram_log, info);
	fprintf(t->dgram_log, ",\"nf_verdict\":\"%s\"}\n",
		t->opt.accept ? "accept" : "drop");
}

/*
 * When the kernel received the packet, on the monotonic clock (its
 * timestamp is CLOCK_REALTIME: shifted by the clocks' offset), as
 * tlstap-recv does; the batch's time if there is none.
 */
static uint64_t arrival(struct nfqtool *t, const struct nfqueue_packet *pkt)
{
	int64_t a = (int64_t)pkt->tstamp_ns - t->batch_offset;
	uint64_t at = pkt->tstamp_ns && a > 0 && (uint64_t)a < t->batch_now
		? (uint64_t)a : t->batch_now;

	if (at > t->batch_seen)
		t->batch_seen = at;
	return at;
}

/*
 * One queued packet. Whatever it is, it gets the configured verdict
 * (given per batch): nothing that does not parse is used.
 */
static int on_packet(void *arg, const struct nfqueue_packet *pkt)
{
	struct nfqtool *t = arg;
	struct reasm_dgram_info info;
	struct udp_view v;
	enum udp_status ust = udp_parse(pkt, &v);

	t->st.packets++;
	if (ust != UDP_OK) {
		t->st.bad_packets++;
		t->st.bad_by[ust]++;
		ratelog(&t->log, "queued packet %u (%zu bytes) is not a whole "
			"UDP datagram: %s", pkt->id, pkt->len,
			udp_status_name(ust));
		if (t->dgram_log)
			log_packet(t, &v, ust, pkt->len, NULL);
		return 0;
	}
	if (!v.csum_checked)
		t->st.csum_unchecked++;
	if ((v.tos >> 2) != (t->opt.rule.tos >> 2))
		t->st.tos_mismatch++;
	if (v.dst.port != t->opt.rule.port) {
		t->st.wrong_port++;
		if (t->dgram_log)
			log_packet(t, &v, ust, pkt->len, NULL);
		return 0;
	}
	reasm_datagram(t->reasm, &v.src, v.payload, v.payload_len,
		       arrival(t, pkt), &info);
	if (info.verdict == REASM_ACCEPTED || info.verdict == REASM_CONTROL ||
	    info.verdict == REASM_DUPLICATE)
		source_note(t, &v.src, info.stream_id, &v.dst);
	if (t->dgram_log)
		log_packet(t, &v, ust, pkt->len, &info);
	return 0;
}

static void flush_outputs(struct nfqtool *t)
{
	if ((t->pcap && pcapng_tick(t->pcap)) || fflush(t->out) ||
	    fflush(t->lost) ||
	    (t->dgram_log && fflush(t->dgram_log)))
		fail(t, "writing output: %s", strerror(errno));
}

/* Receives until the queue is empty, giving verdicts batch by batch. */
static void drain_queue(struct nfqtool *t)
{
	uint32_t verdict = t->opt.accept ? NF_ACCEPT : NF_DROP;
	char err[256];
	int n;

	do {
		struct timespec rt;

		t->batch_now = now_ns();
		if (clock_gettime(CLOCK_REALTIME, &rt))
			fail(t, "clock_gettime: %s", strerror(errno));
		t->batch_offset = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec -
				  (int64_t)t->batch_now;
		t->batch_seen = 0;
		n = nfqueue_receive(&t->q, BATCH, on_packet, t, err,
				    sizeof(err));
		if (n < 0)
			fail(t, "%s", err);
		if (nfqueue_verdict_all(&t->q, verdict, err, sizeof(err)))
			fail(t, "%s", err);
		/*
		 * New holes are NACKed at once, even within a long burst; a
		 * retry waits until what arrived before its deadline is read
		 * (its answer may be queued), as in tlstap-recv.
		 */
		t->reasm_deadline = reasm_timer_backlog(
			t->reasm, now_ns(),
			t->batch_seen ? t->batch_seen : t->batch_now);
	} while (n == BATCH);
	/* Drained: old holes are NACKed again on their timeout. */
	t->reasm_deadline = reasm_timer(t->reasm, now_ns());
}

static int poll_timeout_ms(struct nfqtool *t)
{
	int ms = -1;

	if (t->reasm_deadline) {
		uint64_t now = now_ns();

		ms = t->reasm_deadline <= now
			? 0 : (int)((t->reasm_deadline - now + 999999) / 1000000);
	}
	if (t->pcap && pcapng_stats(t->pcap)->held_now &&
	    (ms < 0 || ms > PCAPNG_TICK_MS))
		ms = PCAPNG_TICK_MS;
	return ms;
}

/* ----------------------------------------------------------------- main */

static FILE *open_output(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("opening %s: %s", path, strerror(errno));
	return f;
}

static void open_outputs(struct nfqtool *t)
{
	t->out = t->opt.out_path ? open_output(t->opt.out_path) : stdout;
	if (t->opt.dgram_log_path)
		t->dgram_log = open_output(t->opt.dgram_log_path);
	if (t->opt.lost_path)
		t->lost = open_output(t->opt.lost_path);
	else
		t->lost = t->opt.output == OUT_JSON ? t->out : stderr;
	jsonout_init(&t->json, t->out);
	if (t->opt.output == OUT_PCAPNG) {
		struct pcapng_config pc;

		pcapng_config_init(&pc);
		pc.application = PROG;
		t->pcap = pcapng_new(t->out, &pc);
		if (!t->pcap)
			fail(t, "starting the pcapng output on %s: %s",
			    out_name(t), strerror(errno));
		if (fflush(t->out))
			fail(t, "writing %s: %s", out_name(t), strerror(errno));
	}
}

static void setup_signals(struct nfqtool *t)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL))
		fail(t, "sigprocmask: %s", strerror(errno));
	t->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (t->sigfd < 0)
		fail(t, "signalfd: %s", strerror(errno));
}

static void run(struct nfqtool *t)
{
	struct nfqueue_config qc = {
		.num = t->opt.rule.queue,
		.max_len = t->opt.queue_maxlen,
		.rcvbuf = t->opt.rcvbuf,
		/* Passing on must never cost a datagram its delivery. */
		.fail_open = t->opt.accept,
	};
	struct reasm_config cfg = {
		.max_msg_len = t->opt.max_record,
		.max_pending_bytes = t->opt.max_pending,
		.max_streams = t->opt.max_streams,
		.nack_timeout_ns = t->opt.nack_timeout_ms * 1000000ull,
		.nack_tries = t->opt.nack_tries,
	};
	static const struct reasm_ops ops = {
		.record = on_record,
		.lost = on_lost,
		.nack = on_nack,
	};
	char err[512];

	ratelog_init(&t->log, PROG, 10);
	setup_signals(t);
	open_outputs(t);
	t->reasm = reasm_new(&cfg, &ops, t);
	if (!t->reasm)
		fail(t, "out of memory");
	/* Bound before the rule exists: nothing is queued to no one. */
	if (nfqueue_open(&t->q, &qc, err, sizeof(err)))
		fail(t, "%s", err);
	if (t->opt.nack && nacksock_open(&t->ns, err, sizeof(err)))
		fail(t, "%s", err);
	if (t->opt.install_rule) {
		if (nftrule_install(&t->opt.rule, err, sizeof(err)))
			fail(t, "%s", err);
		t->rule_installed = 1;
	}

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = nfqueue_fd(&t->q), .events = POLLIN },
			{ .fd = t->sigfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		int n = poll(pfd, 2, poll_timeout_ms(t));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(t, "poll: %s", strerror(errno));
		}
		if (pfd[0].revents)
			drain_queue(t);
		if (t->reasm_deadline && now_ns() >= t->reasm_deadline)
			t->reasm_deadline = reasm_timer(t->reasm, now_ns());
		flush_outputs(t);
		if (!pfd[1].revents ||
		    read(t->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1) {
			print_stats(t);
			continue;
		}
		break;
	}
	/*
	 * No new packets once the rule is gone; those already queued get
	 * their verdict (closing the queue would drop them).
	 */
	remove_rule(t);
	drain_queue(t);
	reasm_flush(t->reasm);
	if (t->pcap && pcapng_finish(t->pcap))
		fail(t, "writing %s: %s", out_name(t), strerror(errno));
	flush_outputs(t);
	print_stats(t);
	nfqueue_close(&t->q);
	if (t->opt.nack)
		nacksock_close(&t->ns);
	reasm_free(t->reasm);
	pcapng_free(t->pcap);
	jsonout_free(&t->json);
	while (t->src_head)
		source_free(t, t->src_head);
	if (t->out != stdout && fclose(t->out))
		fail(t, "closing %s: %s", t->opt.out_path, strerror(errno));
	if (t->dgram_log && fclose(t->dgram_log))
		fail(t, "closing %s: %s", t->opt.dgram_log_path,
		     strerror(errno));
	if (t->opt.lost_path && fclose(t->lost))
		fail(t, "closing %s: %s", t->opt.lost_path, strerror(errno));
	close(t->sigfd);
}

int main(int argc, char **argv)
{
	static struct nfqtool tool;
	struct nfqtool *t = &tool;
	char buf[1024];

	parse_options(&t->opt, argc, argv);
	switch (t->opt.action) {
	case ACT_PRINT_RULE:
		if (nftrule_text(&t->opt.rule, buf, sizeof(buf)))
			die("the rule does not fit");
		fputs(buf, stdout);
		return 0;
	case ACT_REMOVE_RULE:
		if (nftrule_remove(buf, sizeof(buf)))
			die("%s", buf);
		return 0;
	case ACT_RUN:
		break;
	}
	run(t);
	return 0;
}
