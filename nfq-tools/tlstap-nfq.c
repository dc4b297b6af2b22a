// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-nfq: a receiver on NFQUEUE. An nft rule (which it can install
 * and remove) queues tlstap's datagrams, matched by UDP port and DSCP, to
 * it; it checks every packet strictly, feeds the datagrams to the
 * receivers' core (lib/reasm.c), writes whole records (JSON lines, raw
 * records or pcapng) and gives every queued packet the configured verdict:
 * drop (a target consuming them) or accept (a middlebox in the forwarding
 * path, which lets them go on to their target). NACKs leave with the
 * target's address as source (lib/nacksock.c). As tlstap-recv, it touches
 * no output before it has started (queue, NACK sockets, rule), and with
 * --state continues its streams exactly in the next run.
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
#include <sys/queue.h>
#include <sys/signalfd.h>
#include <linux/netfilter.h>

#include "addr.h"
#include "cli.h"
#include "nacksock.h"
#include "nfqueue.h"
#include "nftrule.h"
#include "ratelog.h"
#include "reasm.h"
#include "recvopts.h"
#include "recvout.h"
#include "recvstate.h"
#include "recvstats.h"
#include "wire.h"

#define PROG "tlstap-nfq"
#define BATCH 64
#define SOURCE_BUCKETS 256
#define IDLE_WARN_MS 10000

#define die(...) cli_die(PROG, __VA_ARGS__)
#define parse_ulong(...) cli_ulong(PROG, __VA_ARGS__)

enum action { ACT_RUN, ACT_REMOVE_RULE, ACT_PRINT_RULE };

struct options {
	enum action action;
	struct nftrule rule;
	int install_rule;
	int accept;
	int nack;
	uint32_t queue_maxlen;
	unsigned int idle_warn_ms;	/* 0: never */
	struct recvopts recv;	/* --rcvbuf: the netlink socket's */
};

/* Where a stream's datagrams were sent: the source its NACKs need. */
struct nack_source {
	struct nack_source *hnext;

	TAILQ_ENTRY(nack_source) lru;	/* most recently seen first */
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
	struct recvout out;
	struct nfqueue q;
	struct nacksock ns;
	struct ratelog log;
	struct nfq_stats st;
	struct nack_source *sources[SOURCE_BUCKETS];

	TAILQ_HEAD(nack_source_list, nack_source) source_lru;
	unsigned int nsources;
	int sigfd;
	int rule_installed;
	struct recvstate state;	/* --state */
	uint64_t state_saved;	/* when, monotonic ns */
	int state_dirty;	/* packets since */
	int state_failed;	/* the last save failed: again */
	int status;		/* exit status */
	uint64_t reasm_deadline;
	/* The receive batch being processed: monotonic now, the realtime
	 * clock's offset from it, the latest arrival among its packets.
	 */
	uint64_t batch_now, batch_seen;
	int64_t batch_offset;
	/*
	 * The silence since the last packet (or the start): since when,
	 * when the rules were last looked at, whether it was warned about.
	 */
	uint64_t idle_since, idle_checked;
	int idle_warned;
};

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
"    --idle-warn-ms N      warn when no packet came for N ms (default %u;\n"
"                          0: never)\n"
"    --rcvbuf BYTES        netlink receive buffer (default %d MiB)\n"
"  receiver:\n"
"    --log-datagrams FILE  one JSON line per queued packet\n"
"    --no-nack             never send NACKs\n",
		TLSTAP_DEFAULT_PORT, TLSTAP_DEFAULT_TOS, IDLE_WARN_MS,
		RECVOPTS_DEFAULT_RCVBUF >> 20);
	recvopts_usage(f);
	fputs("  other:\n"
	      "    -h, --help            this help\n"
	      "    --version             " PROG " and its version\n", f);
}

static void parse_options(struct options *o, int argc, char **argv)
{
	enum { O_QUEUE = RECVOPT_END, O_PORT, O_TOS, O_HOOK, O_INSTALL,
	       O_REMOVE, O_PRINT, O_ACCEPT, O_QMAXLEN, O_NONACK, O_IDLE };
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
		{ "no-nack", no_argument, NULL, O_NONACK },
		{ "idle-warn-ms", required_argument, NULL, O_IDLE },
		RECVOPTS_LONGOPTS,
		CLI_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli;
	int c;

	memset(o, 0, sizeof(*o));
	o->action = ACT_RUN;
	o->rule.hook = "input";
	o->rule.port = TLSTAP_DEFAULT_PORT;
	o->rule.tos = TLSTAP_DEFAULT_TOS;
	o->nack = 1;
	o->queue_maxlen = 4096;
	o->idle_warn_ms = IDLE_WARN_MS;
	recvopts_init(&o->recv);
	cli_init(&cli, PROG, usage, longopts);
	while ((c = cli_getopt(&cli, argc, argv)) != -1) {
		if (recvopts_parse(&o->recv, PROG, c, optarg))
			continue;
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
			o->rule.tos = (uint8_t)parse_ulong("--tos", optarg,
							   TLSTAP_TOS_MIN,
							   TLSTAP_TOS_MAX);
			break;
		case O_HOOK:
			if (strcmp(optarg, "input") && strcmp(optarg, "forward"))
				cli_usage_error(PROG, "--hook: want input or forward, not '%s'", optarg);
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
		case O_NONACK:
			o->nack = 0;
			break;
		case O_IDLE:
			o->idle_warn_ms = (unsigned int)parse_ulong(
				"--idle-warn-ms", optarg, 0, 86400000);
			break;
		}
	}
	cli_no_operands(PROG, argc, argv);
	recvopts_check(&o->recv, PROG);
	if (o->action != ACT_RUN && o->install_rule)
		cli_usage_error(PROG, "--install-rule runs the receiver; it does not go with --remove-rule or --print-rule");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + 1;
}

static void remove_rule(struct nfqtool *t)
{
	char err[512];

	if (!t->rule_installed)
		return;
	t->rule_installed = 0;
	if (nftrule_remove(err, sizeof(err)))
		cli_error(PROG, "%s", err);
}

static void fail(struct nfqtool *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* die(), but first the rule goes: it must not outlive us. */
static void fail(struct nfqtool *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(PROG, fmt, ap);
	va_end(ap);
	remove_rule(t);
	exit(1);
}

/* ------------------------------------------------- what feeds the queue */

/* The rules that feed our queue now; 0, or -1 (said) if nft cannot tell. */
static int read_feed(struct nfqtool *t, struct nftrule_feed *f)
{
	char err[512];

	if (!nftrule_feed(t->opt.rule.queue, f, err, sizeof(err)))
		return 0;
	cli_error(PROG, "warning: cannot tell what feeds queue %u: %s",
		  t->opt.rule.queue, err);
	return -1;
}

/*
 * Before --install-rule replaces table inet tlstap: a table there that
 * feeds another queue, one a program holds, is a running tlstap-nfq's
 * (one per network namespace owns it) and stays; one whose queue nobody
 * holds was left behind by a tlstap-nfq that did not exit (kill -9), and
 * is replaced: its rules in *left (0: none).
 */
static void check_left_behind(struct nfqtool *t, struct nftrule_feed *left)
{
	unsigned int holder;

	if (read_feed(t, left) || !left->own) {
		left->own = 0;
		return;
	}
	holder = left->own_queue == t->opt.rule.queue
			 ? 0 : nfqueue_holder(left->own_queue);
	if (holder) {
		recvout_abandon(&t->out);
		fail(t, "table inet " NFTRULE_TABLE " feeds queue %u, which a running program holds (netlink port %u): another tlstap-nfq? One per network namespace installs its rule: stop it, or start this one without --install-rule",
		     left->own_queue, holder);
	}
}

/*
 * Says whether a rule feeds the queue: without one, nothing ever
 * arrives. left: what --install-rule replaced, left behind.
 */
static void say_feed(struct nfqtool *t, const struct nftrule_feed *left)
{
	struct nftrule_feed f;
	char computed[160] = "";

	if (left->own)
		fprintf(stderr, PROG ": replaced table inet " NFTRULE_TABLE
			" (%u rule%s queueing to queue %u), left behind by a tlstap-nfq that did not exit\n", left->own,
			left->own == 1 ? "" : "s", left->own_queue);
	if (read_feed(t, &f))
		return;
	if (!f.rules) {
		cli_error(PROG, "warning: no nft rule feeds queue %u, nothing arrives (see --install-rule, --print-rule)",
			  t->opt.rule.queue);
		return;
	}
	if (f.computed)
		snprintf(computed, sizeof(computed), "; %u of them compute the queue number, which may be another", f.computed);
	fprintf(stderr, PROG ": queue %u is fed by %u nft rule%s: %s%s\n",
		t->opt.rule.queue, f.rules, f.rules == 1 ? "" : "s", f.where,
		computed);
}

/* When the silence is next looked at; 0: never. */
static uint64_t idle_due(const struct nfqtool *t)
{
	uint64_t from = t->idle_checked > t->idle_since ? t->idle_checked
							 : t->idle_since;

	if (!t->opt.idle_warn_ms || t->idle_warned)
		return 0;
	return from + t->opt.idle_warn_ms * 1000000ull;
}

/*
 * Every --idle-warn-ms of silence: a warning if no packet has come at
 * all, or if no rule feeds the queue any more (a ruleset reloaded
 * without it); once per silence. A quiet sender alone is no news.
 */
static void check_idle(struct nfqtool *t, uint64_t now)
{
	unsigned int ms = t->opt.idle_warn_ms;
	uint64_t due = idle_due(t);
	struct nftrule_feed f;
	char silence[32];

	if (!due || now < due)
		return;
	t->idle_checked = now;
	if (read_feed(t, &f)) {
		t->idle_warned = 1;	/* said why it cannot tell */
		return;
	}
	if (t->st.packets && f.rules)
		return;
	t->idle_warned = 1;
	if (ms % 1000)
		snprintf(silence, sizeof(silence), "%u ms", ms);
	else
		snprintf(silence, sizeof(silence), "%u s", ms / 1000);
	if (!t->st.packets && f.rules)
		cli_error(PROG, "warning: no packet on queue %u in the %s since the start, though %s feed%s it: no datagram matched them", t->opt.rule.queue, silence, f.where,
			  f.rules == 1 ? "s" : "");
	else if (!t->st.packets)
		cli_error(PROG, "warning: no packet on queue %u in the %s since the start: no nft rule queues packets to it",
			  t->opt.rule.queue, silence);
	else
		cli_error(PROG, "warning: no packet on queue %u for %s, and no nft rule queues packets to it any more",
			  t->opt.rule.queue, silence);
}

/* ------------------------------------------------------ NACK sources */

static unsigned int source_hash(const struct endpoint *ep, uint32_t id)
{
	uint32_t h = id ^ ep->port ^ ((uint32_t)ep->family << 16);

	for (int i = 0; i < 16; i++)
		h = h * 31 + ep->addr[i];
	return h % SOURCE_BUCKETS;
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
	TAILQ_REMOVE(&t->source_lru, s, lru);
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
		TAILQ_REMOVE(&t->source_lru, s, lru);
		TAILQ_INSERT_HEAD(&t->source_lru, s, lru);
		return;
	}
	if (t->nsources >= 2 * t->opt.recv.max_streams)
		source_free(t, TAILQ_LAST(&t->source_lru, nack_source_list));
	s = calloc(1, sizeof(*s));
	if (!s)
		fail(t, "out of memory");
	s->sender = *sender;
	s->stream_id = stream_id;
	memcpy(s->target, target->addr, 16);
	b = source_hash(sender, stream_id);
	s->hnext = t->sources[b];
	t->sources[b] = s;
	TAILQ_INSERT_HEAD(&t->source_lru, s, lru);
	t->nsources++;
}

/* ------------------------------------------------------ core callbacks */

static void on_record(void *arg, const struct reasm_record *r)
{
	struct nfqtool *t = arg;
	char err[512];

	if (recvout_record(&t->out, r, err, sizeof(err)))
		fail(t, "%s", err);
}

static void on_lost(void *arg, const struct reasm_lost *l)
{
	struct nfqtool *t = arg;
	char err[512];

	if (recvout_lost(&t->out, l, err, sizeof(err)))
		fail(t, "%s", err);
}

static void on_start(void *arg, const struct reasm_start *st)
{
	struct nfqtool *t = arg;
	char err[512];

	recvstats_start(&t->log, st);
	if (recvout_stream_start(&t->out, st, err, sizeof(err)))
		fail(t, "%s", err);
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

/*
 * The kernel's counters for our queue (/proc/net/netfilter/nfnetlink_queue):
 * packets dropped because the queue was full, or because they could not
 * be sent to us.
 */
static void print_kernel_queue(struct nfqtool *t, struct statprint *sp)
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
			statprint_u64(sp, "kernel_queue_dropped", qdropped);
			statprint_u64(sp, "kernel_user_dropped", udropped);
			break;
		}
	}
	fclose(p);
}

/* The queue's and NACK socket's counters; the core's; pcapng's; each stream's. */
static void print_stats(struct nfqtool *t)
{
	const struct nfqueue_stats *q = &t->q.st;
	struct outfile_stats os;
	struct statprint sp;

	statprint_begin(&sp, stderr, PROG, t->opt.recv.stats_json);
	statprint_group(&sp, "nfq");
	statprint_u64(&sp, "packets", t->st.packets);
	statprint_u64(&sp, "bad_packets", t->st.bad_packets);
	for (int i = 1; i < UDP_STATUS_COUNT; i++)
		statprint_u64(&sp, udp_status_name(i), t->st.bad_by[i]);
	statprint_u64(&sp, "wrong_port", t->st.wrong_port);
	statprint_u64(&sp, "tos_mismatch", t->st.tos_mismatch);
	statprint_u64(&sp, "csum_unchecked", t->st.csum_unchecked);
	statprint_u64(&sp, "recv_calls", q->recv_calls);
	statprint_u64(&sp, "enobufs", q->enobufs);
	statprint_u64(&sp, "bad_messages", q->bad_messages);
	statprint_u64(&sp, "netlink_errors", q->netlink_errors);
	statprint_u64(&sp, "verdict_msgs", q->verdict_msgs);
	statprint_u64(&sp, "nacks_sent", t->ns.sent);
	statprint_u64(&sp, "nacks_suppressed", t->st.nacks_suppressed);
	statprint_u64(&sp, "nack_no_source", t->st.nack_no_source);
	statprint_u64(&sp, "nack_send_errors", t->st.nack_send_errors);
	print_kernel_queue(t, &sp);
	statprint_close(&sp);
	statprint_group(&sp, "reasm");
	recvstats_reasm(&sp, reasm_stats(t->reasm));
	statprint_close(&sp);
	recvout_stats(&t->out, &os);
	recvstats_output(&sp, &os);
	recvout_print_stats(&t->out, &sp);
	statprint_end(&sp);
	recvstats_streams(stderr, PROG, t->reasm);
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
	char sender[ENDPOINT_STRLEN], target[ENDPOINT_STRLEN], err[512];

	fprintf(t->out.dgram_log, "{\"ip_size\":%zu,\"udp_status\":\"%s\"",
		ip_size, udp_status_name(ust));
	if (ust == UDP_OK) {
		endpoint_format(&v->src, sender, sizeof(sender));
		endpoint_format(&v->dst, target, sizeof(target));
		fprintf(t->out.dgram_log,
			",\"sender\":\"%s\",\"target\":\"%s\",\"tos\":%u,\"size\":%zu,\"csum_checked\":%s", sender, target,
			v->tos, v->payload_len,
			v->csum_checked ? "true" : "false");
	}
	if (info)
		reasm_dgram_info_json(t->out.dgram_log, info);
	fprintf(t->out.dgram_log, ",\"nf_verdict\":\"%s\"}\n",
		t->opt.accept ? "accept" : "drop");
	if (recvout_logged(&t->out, err, sizeof(err)))
		fail(t, "%s", err);
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
		ratelog(&t->log, "queued packet %u (%zu bytes) is not a whole UDP datagram: %s", pkt->id, pkt->len,
			udp_status_name(ust));
		if (t->out.dgram_log)
			log_packet(t, &v, ust, pkt->len, NULL);
		return 0;
	}
	if (!v.csum_checked)
		t->st.csum_unchecked++;
	if ((v.tos >> 2) != (t->opt.rule.tos >> 2))
		t->st.tos_mismatch++;
	if (v.dst.port != t->opt.rule.port) {
		t->st.wrong_port++;
		if (t->out.dgram_log)
			log_packet(t, &v, ust, pkt->len, NULL);
		return 0;
	}
	reasm_datagram(t->reasm, &v.src, v.payload, v.payload_len,
		       arrival(t, pkt), &info);
	t->state_dirty = 1;
	if (info.verdict == REASM_ACCEPTED || info.verdict == REASM_CONTROL ||
	    info.verdict == REASM_DUPLICATE)
		source_note(t, &v.src, info.stream_id, &v.dst);
	if (t->out.dgram_log)
		log_packet(t, &v, ust, pkt->len, &info);
	return 0;
}

static void flush_outputs(struct nfqtool *t)
{
	char err[512];

	if (recvout_flush(&t->out, err, sizeof(err)))
		fail(t, "%s", err);
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
		if (n) {
			t->idle_since = t->batch_now;
			t->idle_warned = 0;
		}
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
	uint64_t at;
	int ms = -1, out_ms = recvout_timeout_ms(&t->out);

	if (t->reasm_deadline) {
		uint64_t now = now_ns();

		ms = t->reasm_deadline <= now
			? 0 : (int)((t->reasm_deadline - now + 999999) / 1000000);
	}
	/* Records held, a file of a series due: the outputs' time. */
	if (out_ms >= 0 && (ms < 0 || ms > out_ms))
		ms = out_ms;
	if (t->state_dirty && (ms < 0 || ms > RECVSTATE_INTERVAL_MS))
		ms = RECVSTATE_INTERVAL_MS;
	at = idle_due(t);
	if (at) {
		uint64_t now = now_ns();
		int idle = at <= now ? 0 : (int)((at - now + 999999) / 1000000);

		if (ms < 0 || ms > idle)
			ms = idle;
	}
	return ms;
}

/* As tlstap-recv's: after the outputs are on the disk; see there. */
static void save_state(struct nfqtool *t, int final)
{
	char err[512];

	if (!t->opt.recv.state_path)
		return;
	if (!final) {
		if (now_ns() - t->state_saved <
		    RECVSTATE_INTERVAL_MS * 1000000ull)
			return;
		t->state_saved = now_ns();
		t->state_dirty = 0;
		if (!reasm_changed(t->reasm) && !t->state_failed)
			return;
	}
	if (recvout_sync(&t->out, err, sizeof(err)))
		fail(t, "%s", err);
	t->state_failed = recvstate_save(&t->state, t->reasm, err,
					   sizeof(err));
	if (!t->state_failed)
		return;
	if (!final) {
		ratelog(&t->log, "%s (trying again in a second)", err);
		t->state_dirty = 1;
		return;
	}
	cli_error(PROG, "%s: the next start repeats what was written since it was last saved", err);
	t->status = 1;
}

/* The outputs, once everything else has started; then the streams saved. */
static void start_outputs(struct nfqtool *t)
{
	char err[512], senders[1200], out[600], state[700] = "", rule[160];

	if (recvout_start(&t->out, err, sizeof(err)))
		fail(t, "%s", err);
	if (t->opt.recv.state_path) {
		if (recvstate_restore(&t->state, t->reasm, err, sizeof(err)))
			fail(t, "%s", err);
		if (t->state.existed)
			snprintf(state, sizeof(state), "; state %s: %u streams and %u evicted ones restored",
				 t->opt.recv.state_path,
				 t->state.nstreams - t->state.nevicted,
				 t->state.nevicted);
		else
			snprintf(state, sizeof(state), "; state %s (none yet)",
				 t->opt.recv.state_path);
	}
	recvopts_senders(&t->opt.recv, senders, sizeof(senders));
	recvout_describe(&t->out, out, sizeof(out));
	if (t->rule_installed)
		snprintf(rule, sizeof(rule), "nft rule installed: table inet "
			 NFTRULE_TABLE ", hook %s,", t->opt.rule.hook);
	else
		snprintf(rule, sizeof(rule), "no nft rule installed: the host's own is to queue");
	fprintf(stderr, PROG ": reading queue %u (%s UDP port %u, DSCP 0x%02x), verdict %s, for %s; writing %s%s%s\n",
		t->opt.rule.queue, rule, t->opt.rule.port, t->opt.rule.tos >> 2,
		t->opt.accept ? "accept" : "drop", senders, out,
		t->opt.nack ? "" : "; sending no NACKs", state);
}

/* ----------------------------------------------------------------- main */

static void setup_signals(struct nfqtool *t)
{
	t->sigfd = cli_signalfd(true);
	if (t->sigfd < 0)
		fail(t, "signals: %s", strerror(errno));
}

static void run(struct nfqtool *t)
{
	struct nfqueue_config qc = {
		.num = t->opt.rule.queue,
		.max_len = t->opt.queue_maxlen,
		.rcvbuf = t->opt.recv.rcvbuf,
		/* Passing on must never cost a datagram its delivery. */
		.fail_open = t->opt.accept,
	};
	struct reasm_config cfg;
	static const struct reasm_ops ops = {
		.record = on_record,
		.lost = on_lost,
		.nack = on_nack,
		.start = on_start,
	};
	struct nftrule_feed left = { .own = 0 };
	char err[512];

	ratelog_init(&t->log, PROG, 10);
	setup_signals(t);
	/* What can fail at start, before any output is touched. */
	if (t->opt.recv.state_path &&
	    recvstate_open(&t->state, t->opt.recv.state_path, err,
			   sizeof(err)))
		fail(t, "%s", err);
	recvopts_reasm_config(&t->opt.recv, &cfg);
	t->reasm = reasm_new(&cfg, &ops, t);
	if (!t->reasm)
		fail(t, "out of memory");
	/* Bound before the rule exists: nothing is queued to no one. */
	if (nfqueue_open(&t->q, &qc, err, sizeof(err)))
		fail(t, "%s", err);
	if (t->opt.nack && nacksock_open(&t->ns, err, sizeof(err)))
		fail(t, "%s", err);
	/* Opened (created, locked), nothing written: the rule may still fail. */
	if (recvout_open(&t->out, &t->opt.recv, PROG, err, sizeof(err)))
		fail(t, "%s", err);
	if (t->opt.install_rule) {
		check_left_behind(t, &left);
		if (nftrule_install(&t->opt.rule, err, sizeof(err))) {
			recvout_abandon(&t->out);
			fail(t, "%s", err);
		}
		t->rule_installed = 1;
	}
	start_outputs(t);
	say_feed(t, &left);
	t->idle_since = now_ns();
	t->state_saved = now_ns();
	/* Streams restored: their missing seqs are NACKed at once. */
	t->reasm_deadline = reasm_timer(t->reasm, now_ns());
	flush_outputs(t);

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
		check_idle(t, now_ns());
		flush_outputs(t);
		save_state(t, 0);
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
	/* Given up now, unless the next run continues from the state file. */
	if (!t->opt.recv.state_path)
		reasm_flush(t->reasm);
	if (recvout_finish(&t->out, err, sizeof(err)))
		fail(t, "%s", err);
	save_state(t, 1);
	print_stats(t);
	nfqueue_close(&t->q);
	if (t->opt.nack)
		nacksock_close(&t->ns);
	reasm_free(t->reasm);
	while (!TAILQ_EMPTY(&t->source_lru))
		source_free(t, TAILQ_FIRST(&t->source_lru));
	if (recvout_close(&t->out, err, sizeof(err)))
		fail(t, "%s", err);
	if (t->opt.recv.state_path)
		recvstate_close(&t->state);
	close(t->sigfd);
}

int main(int argc, char **argv)
{
	static struct nfqtool tool;
	struct nfqtool *t = &tool;
	char buf[1024];

	TAILQ_INIT(&t->source_lru);

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
	return t->status;
}
