// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-fwd: the userspace forwarder. Reads capture records from a Unix
 * datagram or seqpacket socket, a FIFO or stdin and sends them to the
 * targets in exactly the wire format of tlstap.ko, steered by the same
 * flow-hash table (same key and targets => same target per flow). Each
 * target is a stream of its own, with a random stream id, as each target
 * added to the module is. Every record is stamped with its writer as this
 * host's kernel tells it: the peer credentials of a seqpacket connection,
 * a datagram's SCM_CREDENTIALS; a FIFO or stdin tells nothing (unknown).
 *
 * One thread, one epoll loop: a batch of input (recvmmsg or a large read)
 * is parsed and packed into per-target rings of datagrams, which go out
 * with sendmmsg (UDP GSO for runs of equal-sized datagrams) whenever a
 * ring has a batch ready and whenever the input is drained, so a record
 * never waits for more input before it is sent.
 *
 * Polling (--poll-us): a writer's send into a socket or FIFO that a
 * sleeping reader waits on wakes that reader, and the writer pays for it
 * (on another CPU, an IPI: in a VM the largest part of the send). Once
 * input arrives, tlstap-fwd therefore stops waiting on its input
 * descriptors (EPOLLONESHOT leaves them disarmed: the kernel's wake-up
 * callback finds nothing to wake) and drains them every --poll-us
 * instead, so a busy writer wakes nobody; after POLL_IDLE_NS without
 * input it arms them again and sleeps until the next record, so an idle
 * forwarder costs nothing. A record waits at most --poll-us, as it waits
 * for tlstap.ko's flush interval.
 *
 * Capture rings (docs/PROTOCOL.md 7, lib/fwdring.c): a producer on a
 * seqpacket connection may ask for one with CREATE and then put its
 * records into shared memory, which tlstap-fwd drains on the same
 * --poll-us timer, so that the producer makes no system call per record.
 * Going idle, tlstap-fwd sets NEED_WAKEUP in every ring (and looks once
 * more); a producer that then publishes wakes it with a WAKE message.
 *
 * Reliable delivery (docs/PROTOCOL.md 2.2, 2.3): sent datagrams stay in
 * the ring (--replay-bytes); NACKs arrive on the source port, on each
 * target's connected socket (from the target's own address and port) or
 * on an unconnected socket per family (from any other); a NACK is
 * honoured only from a target's address with that target's stream id,
 * answered by retransmissions within a token bucket and a GAP for what
 * is gone. A target that goes quiet gets heartbeats; at the end of a
 * byte-stream input tlstap-fwd lingers to serve late NACKs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "fwdring.h"
#include "mmsg.h"
#include "ratelog.h"
#include "record.h"
#include "replay.h"
#include "sockerr.h"
#include "statprint.h"
#include "steer.h"
#include "txring.h"
#include "wire.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define PROG "tlstap-fwd"
#define die(...) cli_die(PROG, __VA_ARGS__)
#define parse_ulong(...) cli_ulong(PROG, __VA_ARGS__)
#define EXIT_FRAMING 3		/* a byte stream lost its record framing */

#define IN_BATCH	64		/* messages per recvmmsg */
#define IN_MSG_SIZE	(256 * 1024)	/* one input message at most */
#define SEND_MSGS	64		/* mmsghdr per sendmmsg */
#define GSO_MAX_SEGS	64		/* UDP_MAX_SEGMENTS of Linux 6.1 */
#define SEND_AT_DGRAMS	128		/* send once a ring has this many */
#define MAX_CONNS	1024		/* seqpacket writers at once */
#define SEND_TRIES	3		/* attempts per datagram on errors */
#define CTL_BATCH	32		/* control datagrams per recvmmsg */
#define CTL_BUF		2048		/* larger than any valid NACK */
#define POLL_DEFAULT_US	500		/* tlstap.ko's flush interval */
#define HEARTBEATS	3		/* after the last DATA, at most */
#define POLL_IDLE_NS	50000000ull	/* polling: block again after 50 ms idle */
#define ICMP_LOG_NS	1000000000ull	/* a target's ICMP reports: a line a second */
/*
 * A datagram socket queues at most net.unix.max_dgram_qlen messages
 * whatever its buffer (Debian: 10); polling needs room for what arrives
 * between two drains, so below this it waits on the socket instead.
 */
#define DGRAM_POLL_MIN_QLEN	256
/* Frames a ring hands on per walk: then the other rings have their turn. */
#define RING_WALK_FRAMES	1024

enum input_kind { IN_STDIN, IN_FIFO, IN_UNIX_DGRAM, IN_UNIX_SEQPACKET };

struct options {
	struct endpoint target_ep[TLSTAP_MAX_TARGETS];
	uint32_t target_weight[TLSTAP_MAX_TARGETS];
	unsigned int ntargets;
	uint8_t hash_key[TLSTAP_HASH_KEY_LEN];
	int hash_key_given;
	int tos;
	uint16_t port;
	uint32_t max_record;
	size_t max_datagram;
	size_t replay_bytes;
	unsigned int heartbeat_ms;
	unsigned int retransmit_rate, retransmit_burst;
	unsigned int linger_ms;
	unsigned int poll_us;		/* 0: always wait on the input */
	size_t ring_memory;		/* all capture rings together; 0: none */
	enum input_kind in_kind;
	const char *in_path;
	mode_t mode;
	int print_target;
	int stats_json;
	int gso;
};

struct target_stats {
	unsigned long long records, record_bytes, loss_reports;
	unsigned long long datagrams, bytes, gso_sends, send_calls;
	unsigned long long send_errors, dropped_datagrams, repacks;
	unsigned long long nacks;		/* honoured */
	struct replay_counts replay;
	unsigned long long retransmit_errors;
	unsigned long long gaps_sent;		/* ranges */
	unsigned long long gap_messages, heartbeats;
	unsigned long long icmp_unreachable;	/* ICMP destination unreachable */
};

/* Where a target's next hop is: enum tlstap_target_state, as the module's. */
static const char *const target_states[] = {
	[TLSTAP_TARGET_READY] = "ready",
	[TLSTAP_TARGET_RESOLVING] = "resolving",
	[TLSTAP_TARGET_UNRESOLVED] = "unresolved",
};

struct target {
	struct endpoint ep;
	uint32_t weight;
	char name[ENDPOINT_STRLEN];
	int fd;
	int hdr_overhead;	/* IP + UDP header bytes */
	int gso;		/* UDP_SEGMENT still accepted */
	struct txring ring;
	struct target_stats st;
	struct tokenbucket bucket;	/* retransmissions */
	unsigned int heartbeats_left;	/* since the last DATA */
	uint64_t next_heartbeat_ns;
	enum tlstap_target_state state;
	int probe_sent;			/* RESOLVING: the first datagram left */
	uint64_t resolve_by_ns;		/* ... and may hold the rest until then */
	unsigned long long icmp_logged;	/* icmp_unreachable at the last line */
	uint64_t icmp_logged_ns;	/* when that was */
	char icmp_what[32];		/* the last report's kind */
};

struct fwd_stats {
	unsigned long long input_calls, input_messages, input_bytes;
	unsigned long long records, record_bytes, loss_reports;
	unsigned long long malformed[RECORD_STATUS_COUNT];
	unsigned long long discarded_bytes;	/* input bytes not forwarded */
	unsigned long long oversized_messages;
	/* datagrams on the source port that are not honoured NACKs */
	unsigned long long nack_rejected_not_target;	/* unknown address */
	unsigned long long nack_rejected_stream;	/* not its stream id */
	unsigned long long nack_rejected_malformed;	/* not a good NACK */
	unsigned long long resolve_timeouts;	/* targets sent unresolved */
	/* capture rings */
	unsigned long long rings_created, ring_wakeups, rings_ended;
	unsigned long long ring_room_sent;
	struct fwdring_counts ring;	/* records, abandoned, too long */
};

enum ctl_family { CTL_V4, CTL_V6, CTL_COUNT };

/* Retransmissions of one target being gathered for one sendmmsg. */
struct resend_batch {
	struct target *t;
	unsigned int n;
	struct mmsghdr msgs[SEND_MSGS];
	struct iovec iov[SEND_MSGS];
};

struct conn {
	int fd;
	struct ucred cred;	/* SO_PEERCRED: the writer of its records */
	bool has_ring;
	struct fwdring ring;
};

struct fwd {
	struct options opt;
	struct steer_hasher hasher;
	struct steer_table table;
	struct target targets[TLSTAP_MAX_TARGETS];	/* steering order */
	unsigned int ntargets;
	struct fwd_stats st;
	struct ratelog log;
	int epfd, sigfd;
	int ctl_fd[CTL_COUNT];		/* unconnected, on the source port */
	uint16_t src_port;		/* what the target sockets bound */
	int input_done;			/* byte stream at its end: linger */
	uint64_t linger_from_ns;	/* end of input or last NACK */
	int in_fd;			/* socket, FIFO or stdin */
	int in_unpollable;		/* stdin is a regular file */
	int in_oneshot;			/* inputs armed with EPOLLONESHOT */
	int polling;			/* inputs disarmed, drained on a timer */
	uint64_t last_input_ns;		/* polling: when input last came */
	int created_path;		/* unlink opt.in_path at exit */
	struct conn conns[MAX_CONNS];	/* seqpacket connections */
	unsigned int rings;		/* live capture rings */
	size_t ring_bytes;		/* their memory */
	struct fwdring_sink ring_sink;
	/* input buffers */
	uint8_t *msg_bufs;		/* IN_BATCH * IN_MSG_SIZE */
	struct mmsghdr in_msgs[IN_BATCH];
	struct iovec in_iov[IN_BATCH];
	/*
	 * A datagram's SCM_CREDENTIALS, and room for nothing more: file
	 * descriptors a writer passes (SCM_RIGHTS) are then closed by the
	 * kernel instead of landing here.
	 */
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} in_cmsg[IN_BATCH];
	uint8_t *stream_buf;		/* byte-stream input */
	size_t stream_cap, stream_len;
	unsigned long long stream_offset;	/* bytes consumed so far */
	/* send scratch */
	struct mmsghdr out_msgs[SEND_MSGS];
	uint32_t out_dgrams[SEND_MSGS];
	struct iovec out_iov[SEND_MSGS * GSO_MAX_SEGS];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} out_cmsg[SEND_MSGS];
	/* control receive */
	uint8_t ctl_bufs[CTL_BATCH][CTL_BUF];
	struct mmsghdr ctl_msgs[CTL_BATCH];
	struct iovec ctl_iov[CTL_BATCH];
	struct sockaddr_storage ctl_from[CTL_BATCH];
	struct resend_batch resend;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " --target ADDR:PORT[,weight=W] [--target ...] [options]\n"
"  targets:\n"
"    -t, --target ADDR:PORT[,weight=W]  a target, IPV4:PORT or [IPV6]:PORT,\n"
"                         weight 1..%u (default 1); up to %u\n"
"  input (one; default stdin):\n"
"    --unix PATH          Unix datagram socket to create (whole records)\n"
"    --seqpacket PATH     Unix seqpacket socket to create (whole records)\n"
"    --fifo PATH          FIFO (created if missing): a byte stream\n"
"    --stdin              standard input: a byte stream\n"
"    --mode OCTAL         permissions of the socket or FIFO (default 0600)\n"
"    --poll-us N          while input flows, drain it every N us instead of\n"
"                         being woken by each write (default %u; 0: never)\n"
"    --ring-memory BYTES  all capture rings of --seqpacket writers together\n"
"                         (default a quarter of RAM; 0: no rings)\n"
"  sending:\n"
"    --hash-key HEX32     16-byte flow-hash key (default random)\n"
"    --tos N              IP TOS / IPv6 traffic class, 1..255 (default %u)\n"
"    --port N             UDP source port, where NACKs come back (default:\n"
"                         an ephemeral one, named in the start line)\n"
"    --max-record N       largest plaintext per record (default %u)\n"
"    --max-datagram N     cap on the UDP payload (default: path MTU)\n"
"    --no-gso             never use UDP GSO\n"
"  reliable delivery:\n"
"    --replay-bytes N     sent datagrams held per target for NACKs\n"
"                         (default 4 MiB; 0: none, every NACK gets a GAP)\n"
"    --retransmit-rate N  retransmissions per second per target (default %u)\n"
"    --retransmit-burst N ... and at once (default %u)\n"
"    --heartbeat-ms N     heartbeat interval when a target is quiet\n"
"                         (default 100; 0: none)\n"
"    --linger-ms N        at the end of a byte stream, serve NACKs until\n"
"                         none came for N ms after the heartbeats (default 500)\n"
"  other:\n"
"    --print-target       print each record's target, send nothing\n"
"    --stats-json         counters as JSON (on SIGUSR1 and at exit)\n"
"    -h, --help           this help\n"
"    --version            " PROG " and its version\n"
"A malformed record is counted and skipped. In a byte stream (FIFO,\n"
"stdin) its length cannot be trusted, so the stream cannot be resynchronised:\n"
"" PROG " then sends what it has and exits with status %d.\n",
		TLSTAP_MAX_WEIGHT, TLSTAP_MAX_TARGETS, POLL_DEFAULT_US,
		TLSTAP_DEFAULT_TOS, TLSTAP_DEFAULT_MAX_RECORD, REPLAY_DEFAULT_RATE,
		REPLAY_DEFAULT_BURST, EXIT_FRAMING);
}

static void parse_target(struct options *o, const char *arg)
{
	char spec[128], err[160];
	char *comma;
	uint32_t weight = 1;

	if (o->ntargets == TLSTAP_MAX_TARGETS)
		cli_usage_error(PROG, "--target: at most %u targets",
				TLSTAP_MAX_TARGETS);
	if (strlen(arg) >= sizeof(spec))
		cli_usage_error(PROG, "--target '%s': too long", arg);
	strcpy(spec, arg);
	comma = strchr(spec, ',');
	if (comma) {
		*comma = '\0';
		if (strncmp(comma + 1, "weight=", 7))
			cli_usage_error(PROG, "--target '%s': want "
					"ADDR:PORT[,weight=W]", arg);
		weight = (uint32_t)parse_ulong("--target weight", comma + 8, 1,
					       TLSTAP_MAX_WEIGHT);
	}
	if (endpoint_parse(spec, 0, &o->target_ep[o->ntargets], err,
			   sizeof(err)))
		cli_usage_error(PROG, "--target: %s", err);
	o->target_weight[o->ntargets++] = weight;
}

static void set_input(struct options *o, enum input_kind kind,
		      const char *path)
{
	static int given;

	if (given++)
		cli_usage_error(PROG, "give one input: --unix, --seqpacket, "
				"--fifo or --stdin");
	o->in_kind = kind;
	o->in_path = path;
}

/* A quarter of the RAM: what capture rings may take at most by default. */
static size_t ring_memory_default(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || page <= 0)
		return 256u << 20;
	return (size_t)pages / 4 * (size_t)page;
}

static void parse_options(struct options *o, int argc, char **argv)
{
	enum { O_UNIX = 256, O_SEQPACKET, O_FIFO, O_STDIN, O_MODE, O_KEY,
	       O_TOS, O_PORT, O_MAXREC, O_MAXDG, O_REPLAY, O_NOGSO, O_PRINT,
	       O_JSON, O_HEARTBEAT, O_RTX_RATE, O_RTX_BURST, O_LINGER,
	       O_POLL, O_RING_MEMORY };
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "unix", required_argument, NULL, O_UNIX },
		{ "seqpacket", required_argument, NULL, O_SEQPACKET },
		{ "fifo", required_argument, NULL, O_FIFO },
		{ "stdin", no_argument, NULL, O_STDIN },
		{ "mode", required_argument, NULL, O_MODE },
		{ "poll-us", required_argument, NULL, O_POLL },
		{ "ring-memory", required_argument, NULL, O_RING_MEMORY },
		{ "hash-key", required_argument, NULL, O_KEY },
		{ "tos", required_argument, NULL, O_TOS },
		{ "port", required_argument, NULL, O_PORT },
		{ "max-record", required_argument, NULL, O_MAXREC },
		{ "max-datagram", required_argument, NULL, O_MAXDG },
		{ "replay-bytes", required_argument, NULL, O_REPLAY },
		{ "heartbeat-ms", required_argument, NULL, O_HEARTBEAT },
		{ "retransmit-rate", required_argument, NULL, O_RTX_RATE },
		{ "retransmit-burst", required_argument, NULL, O_RTX_BURST },
		{ "linger-ms", required_argument, NULL, O_LINGER },
		{ "no-gso", no_argument, NULL, O_NOGSO },
		{ "print-target", no_argument, NULL, O_PRINT },
		{ "stats-json", no_argument, NULL, O_JSON },
		CLI_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli;
	int c;

	memset(o, 0, sizeof(*o));
	o->tos = TLSTAP_DEFAULT_TOS;
	/*
	 * Ephemeral: a receiver on this host holds 7419, the targets' port
	 * by convention. NACKs go to whatever port the datagrams came from.
	 */
	o->port = 0;
	o->max_record = TLSTAP_DEFAULT_MAX_RECORD;
	o->max_datagram = TLSTAP_MAX_DGRAM;
	o->replay_bytes = 4u << 20;
	o->heartbeat_ms = 100;
	o->retransmit_rate = REPLAY_DEFAULT_RATE;
	o->retransmit_burst = REPLAY_DEFAULT_BURST;
	o->linger_ms = 500;
	o->poll_us = POLL_DEFAULT_US;
	o->ring_memory = ring_memory_default();
	o->in_kind = IN_STDIN;
	o->mode = 0600;
	o->gso = 1;

	cli_init(&cli, PROG, usage, longopts);
	while ((c = cli_getopt(&cli, argc, argv)) != -1) {
		switch (c) {
		case 't':
			parse_target(o, optarg);
			break;
		case O_UNIX:
			set_input(o, IN_UNIX_DGRAM, optarg);
			break;
		case O_SEQPACKET:
			set_input(o, IN_UNIX_SEQPACKET, optarg);
			break;
		case O_FIFO:
			set_input(o, IN_FIFO, optarg);
			break;
		case O_STDIN:
			set_input(o, IN_STDIN, NULL);
			break;
		case O_MODE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);

			if (*end || end == optarg || m > 0777)
				cli_usage_error(PROG, "--mode: '%s' is not an "
						"octal mode, 0..0777", optarg);
			o->mode = (mode_t)m;
			break;
		}
		case O_KEY:
			if (steer_parse_key(optarg, o->hash_key))
				cli_usage_error(PROG, "--hash-key: want 32 hex "
						"digits, not '%s'", optarg);
			o->hash_key_given = 1;
			break;
		case O_TOS:
			o->tos = (int)parse_ulong("--tos", optarg, TLSTAP_TOS_MIN,
						  TLSTAP_TOS_MAX);
			break;
		case O_PORT:
			o->port = (uint16_t)parse_ulong("--port", optarg, 0,
							65535);
			break;
		case O_MAXREC:
			o->max_record = (uint32_t)parse_ulong(
				"--max-record", optarg, TLSTAP_MAX_RECORD_MIN,
				TLSTAP_MAX_RECORD_MAX);
			break;
		case O_MAXDG:
			o->max_datagram = parse_ulong("--max-datagram", optarg,
						      TLSTAP_MIN_DGRAM,
						      TLSTAP_MAX_DGRAM);
			break;
		case O_REPLAY:
			o->replay_bytes = parse_ulong("--replay-bytes", optarg,
						      0, 1ul << 30);
			break;
		case O_HEARTBEAT:
			o->heartbeat_ms = (unsigned int)parse_ulong(
				"--heartbeat-ms", optarg, 0, 60000);
			break;
		case O_RTX_RATE:
			o->retransmit_rate = (unsigned int)parse_ulong(
				"--retransmit-rate", optarg, 1, 1000000);
			break;
		case O_RTX_BURST:
			o->retransmit_burst = (unsigned int)parse_ulong(
				"--retransmit-burst", optarg, 1, 1000000);
			break;
		case O_LINGER:
			o->linger_ms = (unsigned int)parse_ulong(
				"--linger-ms", optarg, 0, 600000);
			break;
		case O_POLL:
			o->poll_us = (unsigned int)parse_ulong("--poll-us",
							       optarg, 0,
							       100000);
			break;
		case O_RING_MEMORY:
			o->ring_memory = parse_ulong("--ring-memory", optarg, 0,
						     ULONG_MAX);
			break;
		case O_NOGSO:
			o->gso = 0;
			break;
		case O_PRINT:
			o->print_target = 1;
			break;
		case O_JSON:
			o->stats_json = 1;
			break;
		}
	}
	cli_no_operands(PROG, argc, argv);
	if (!o->ntargets)
		cli_usage_error(PROG, "no --target given");
}

/* ---------------------------------------------------------------- stats */

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
static void print_stats(const struct fwd *f)
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

/* -------------------------------------------------------------- sending */

static int query_dgram_size(struct fwd *f, struct target *t, size_t *size)
{
	int mtu = 0;
	socklen_t len = sizeof(mtu);
	int ipv6 = t->ep.family == TLSTAP_FAMILY_IPV6;
	long s;

	if (getsockopt(t->fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       ipv6 ? IPV6_MTU : IP_MTU, &mtu, &len)) {
		ratelog(&f->log, "%s: reading the path MTU: %s", t->name,
			strerror(errno));
		return -1;
	}
	s = (long)mtu - t->hdr_overhead;
	if (s > (long)f->opt.max_datagram)
		s = (long)f->opt.max_datagram;
	if (s < (long)TLSTAP_MIN_DGRAM) {
		ratelog(&f->log, "%s: path MTU %d leaves room for no datagram",
			t->name, mtu);
		return -1;
	}
	*size = (size_t)s;
	return 0;
}

static void target_send(struct fwd *f, struct target *t);
static void wait_resolved(struct fwd *f, struct target *t);

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* New DATA went out: heartbeats start again once the target is quiet. */
static void arm_heartbeats(struct fwd *f, struct target *t)
{
	if (!f->opt.heartbeat_ms)
		return;
	t->heartbeats_left = HEARTBEATS;
	t->next_heartbeat_ns = now_ns() + f->opt.heartbeat_ms * 1000000ull;
}

/*
 * Packs bytes of a record, sending whenever the ring is full of unsent
 * datagrams (waiting first if the target holds them for its next hop).
 */
static void pack_piece(struct fwd *f, struct target *t,
		       const struct wire_chunk_meta *m, uint32_t offset,
		       const uint8_t *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		done += txring_pack(&t->ring, m, offset + (uint32_t)done,
				    data + done, len - done);
		if (done < len) {
			target_send(f, t);
			wait_resolved(f, t);
			target_send(f, t);
		}
	}
}

/*
 * The path MTU shrank under datagrams not sent yet: take them out of the
 * ring and pack their chunks again, smaller. Record ids and bytes stay;
 * only the unsent sequence numbers are reused.
 */
static int target_repack(struct fwd *f, struct target *t, size_t new_size)
{
	uint8_t *copy;
	size_t copy_len, pos = 0;

	if (txring_take_unsent(&t->ring, &copy, &copy_len)) {
		ratelog(&f->log, "%s: repacking: %s", t->name, strerror(errno));
		return -1;
	}
	t->ring.dgram_size = new_size;
	t->st.repacks++;
	while (pos < copy_len) {
		struct wire_msg msg;
		struct wire_chunk ch;
		size_t cpos = 0;
		uint16_t dlen;

		memcpy(&dlen, copy + pos + offsetof(struct tlstap_msg_hdr, len),
		       sizeof(dlen));
		dlen = be16toh(dlen);
		if (wire_parse_msg(copy + pos, dlen, &msg) != WIRE_OK)
			die("internal error: unparsable datagram in the ring");
		while (wire_next_chunk(&msg, &cpos, &ch))
			pack_piece(f, t, &ch.meta, ch.offset, ch.data, ch.len);
		pos += dlen;
	}
	free(copy);
	return 0;
}

/* Builds up to SEND_MSGS messages (GSO runs or single datagrams). */
static unsigned int build_send_batch(struct fwd *f, struct target *t)
{
	uint32_t avail = txring_unsent(&t->ring);
	uint32_t seq = t->ring.unsent;
	unsigned int nmsg = 0, niov = 0;

	while (avail && nmsg < SEND_MSGS) {
		struct msghdr *mh = &f->out_msgs[nmsg].msg_hdr;
		size_t first_len, total;
		const uint8_t *p = txring_datagram(&t->ring, seq, &first_len);
		uint32_t count = 1;

		f->out_iov[niov].iov_base = (void *)p;
		f->out_iov[niov].iov_len = first_len;
		total = first_len;
		/* A GSO run: equal sizes, the last one may be shorter. */
		while (t->gso && count < avail && count < GSO_MAX_SEGS) {
			size_t len;
			const uint8_t *q = txring_datagram(&t->ring, seq + count,
							   &len);

			if (len > first_len || total + len > TLSTAP_MAX_DGRAM)
				break;
			f->out_iov[niov + count].iov_base = (void *)q;
			f->out_iov[niov + count].iov_len = len;
			total += len;
			count++;
			if (len < first_len)
				break;
		}
		memset(mh, 0, sizeof(*mh));
		mh->msg_iov = &f->out_iov[niov];
		mh->msg_iovlen = count;
		if (count > 1) {
			struct cmsghdr *cm;
			uint16_t gso_size = (uint16_t)first_len;

			mh->msg_control = f->out_cmsg[nmsg].buf;
			mh->msg_controllen = sizeof(f->out_cmsg[nmsg].buf);
			cm = CMSG_FIRSTHDR(mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(gso_size));
			memcpy(CMSG_DATA(cm), &gso_size, sizeof(gso_size));
		}
		f->out_dgrams[nmsg] = count;
		niov += count;
		seq += count;
		avail -= count;
		nmsg++;
	}
	return nmsg;
}

static void account_sent(struct target *t, size_t bytes, uint32_t dgrams)
{
	t->st.datagrams += dgrams;
	t->st.bytes += bytes;
	if (dgrams > 1)
		t->st.gso_sends++;
	txring_mark_sent(&t->ring, dgrams);
}

/*
 * The target socket's error queue (lib/sockerr.h): ICMP reports about
 * what it sent, counted, and the transmit timestamp of its first datagram,
 * which ends the wait for the next hop. Returns how many ICMP errors it
 * found.
 */
static unsigned int target_errors(struct fwd *f, struct target *t)
{
	unsigned int icmp = 0;
	struct sockerr e;
	int r;

	while ((r = sockerr_read(t->fd, &e)) == 1) {
		switch (e.kind) {
		case SOCKERR_SENT:
			if (t->state == TLSTAP_TARGET_RESOLVING)
				t->state = TLSTAP_TARGET_READY;
			break;
		case SOCKERR_UNREACHABLE:
			t->st.icmp_unreachable++;
			snprintf(t->icmp_what, sizeof(t->icmp_what), "%s",
				 e.what);
			icmp++;
			break;
		case SOCKERR_ICMP:
			icmp++;
			break;
		case SOCKERR_LOCAL:
			break;
		}
	}
	if (r < 0)
		ratelog(&f->log, "%s: reading the socket's errors: %s", t->name,
			strerror(errno));
	return icmp;
}

/*
 * Whether err, which a send on t's socket returned, was an ICMP error
 * about an earlier datagram: the socket's pending error, which the next
 * call returns whatever it is, rather than this send's failure. A UDP
 * send never refuses by itself; else the error queue tells.
 */
static int earlier_error(struct fwd *f, struct target *t, int err)
{
	return target_errors(f, t) > 0 || err == ECONNREFUSED;
}

/*
 * The first unsent message failed with err. Returns 1 to try again (the
 * ring may have been repacked), 0 after giving the datagrams up.
 */
static int handle_send_error(struct fwd *f, struct target *t, int err,
			     uint32_t dgrams, int *tries)
{
	size_t size;
	int so_err;
	socklen_t len = sizeof(so_err);

	/* A pending asynchronous error (ICMP) is reported once: clear it. */
	getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &so_err, &len);
	if (err == EINTR)
		return 1;
	/* Not this send's: counted as what it was, on the error queue. */
	if (earlier_error(f, t, err) && ++*tries < SEND_TRIES * 10)
		return 1;
	t->st.send_errors++;
	if ((err == EMSGSIZE || err == EINVAL) &&
	    !query_dgram_size(f, t, &size) && size < t->ring.dgram_size) {
		ratelog(&f->log, "%s: path MTU shrank, datagrams now %zu bytes",
			t->name, size);
		if (!target_repack(f, t, size))
			return 1;
	} else if ((err == EINVAL || err == EIO) && dgrams > 1) {
		ratelog(&f->log, "%s: UDP GSO refused (%s), sending datagrams "
			"one by one", t->name, strerror(err));
		t->gso = 0;
		return 1;
	} else if (err == ENOBUFS || err == EAGAIN) {
		struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };

		/* Transient: wait a little, a bounded number of times. */
		poll(&pfd, 1, 10);
		if (++*tries < SEND_TRIES * 10)
			return 1;
	} else if (++*tries < SEND_TRIES) {
		return 1;
	}
	ratelog(&f->log, "%s: dropping %u datagram(s) from seq %u: %s",
		t->name, dgrams, t->ring.unsent, strerror(err));
	t->st.dropped_datagrams += dgrams;
	txring_mark_sent(&t->ring, dgrams);
	return 0;
}

/* Logs the ICMP reports of each target, a line a second at most. */
static uint64_t unreachable_due(struct fwd *f, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];
		uint64_t at = t->icmp_logged_ns + ICMP_LOG_NS;

		if (t->st.icmp_unreachable == t->icmp_logged)
			continue;
		if (now < at) {
			if (!next || at < next)
				next = at;
			continue;
		}
		ratelog(&f->log, "%s: ICMP destination unreachable (%s): %llu "
			"new, %llu in all", t->name, t->icmp_what,
			t->st.icmp_unreachable - t->icmp_logged,
			t->st.icmp_unreachable);
		t->icmp_logged = t->st.icmp_unreachable;
		t->icmp_logged_ns = now;
	}
	return next;
}

/*
 * The first datagram to a target goes out alone and asks for its
 * transmit timestamp, which the kernel takes when the datagram reaches
 * the device: only once the next hop's neighbour is resolved (until then
 * it waits in the neighbour's queue, one datagram, well within the ~200 KB
 * the kernel keeps there). A connected UDP socket has no call that
 * resolves, and this asks nothing of the receiver, nor privileges. The
 * rest waits in the ring for that report (target_held).
 */
static void send_probe(struct fwd *f, struct target *t)
{
	union {
		char buf[SOCKERR_ASK_SENT_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int tries = 0;

	while (txring_unsent(&t->ring)) {
		ssize_t n;

		iov.iov_base = (void *)txring_datagram(&t->ring, t->ring.unsent,
						       &iov.iov_len);
		sockerr_ask_sent(&mh, ctl.buf);
		n = sendmsg(t->fd, &mh, 0);
		t->st.send_calls++;
		if (n >= 0) {
			account_sent(t, (size_t)n, 1);
			t->probe_sent = 1;
			t->resolve_by_ns = now_ns() +
					   TLSTAP_RESOLVE_MS * 1000000ull;
			return;
		}
		/* Given up (counted), the next datagram is the probe. */
		handle_send_error(f, t, errno, 1, &tries);
	}
}

/*
 * Whether t holds its datagrams: its probe left and has not reached the
 * device yet, and TLSTAP_RESOLVE_MS have not passed since (then they go
 * anyway, counted, as the module's do).
 */
static int target_held(struct fwd *f, struct target *t)
{
	if (t->state != TLSTAP_TARGET_RESOLVING || !t->probe_sent)
		return 0;
	if (now_ns() < t->resolve_by_ns)
		return 1;
	t->state = TLSTAP_TARGET_UNRESOLVED;
	f->st.resolve_timeouts++;
	ratelog(&f->log, "%s: the next hop is not resolved after %u ms: "
		"sending anyway", t->name, TLSTAP_RESOLVE_MS);
	return 0;
}

/*
 * The ring of a held target is full, or tlstap-fwd is exiting: wait for
 * the probe's report (or the bound), as a blocking send would wait. The
 * input waits meanwhile; other targets' NACKs too, for that long at most.
 */
static void wait_resolved(struct fwd *f, struct target *t)
{
	while (target_held(f, t)) {
		/* POLLERR: the error queue has a report (or a pending error). */
		struct pollfd pfd = { .fd = t->fd };
		uint64_t now = now_ns();
		int so_err;
		socklen_t len = sizeof(so_err);

		poll(&pfd, 1, now < t->resolve_by_ns ?
			 (int)((t->resolve_by_ns - now) / 1000000) + 1 : 0);
		target_errors(f, t);
		/* An error reported before its report was queued stays set. */
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &so_err, &len);
	}
}

/*
 * Sends every closed datagram of the target's ring, unless it holds them
 * for its next hop (then only the probe, once).
 */
static void target_send(struct fwd *f, struct target *t)
{
	uint32_t unsent = t->ring.unsent;
	int tries = 0;

	if (t->state == TLSTAP_TARGET_RESOLVING) {
		if (!t->probe_sent)
			send_probe(f, t);
		else
			target_errors(f, t);
	}
	while (txring_unsent(&t->ring) && !target_held(f, t)) {
		unsigned int nmsg = build_send_batch(f, t);
		int n = sendmmsg(t->fd, f->out_msgs, nmsg, 0);

		t->st.send_calls++;
		if (n < 0) {
			handle_send_error(f, t, errno, f->out_dgrams[0], &tries);
			continue;
		}
		for (int i = 0; i < n; i++)
			account_sent(t, f->out_msgs[i].msg_len,
				     f->out_dgrams[i]);
		if (n > 0)
			tries = 0;
	}
	/* Datagrams given up on errors count: their seqs are holes. */
	if (t->ring.unsent != unsent)
		arm_heartbeats(f, t);
}

static void flush_all(struct fwd *f)
{
	for (unsigned int i = 0; i < f->ntargets; i++) {
		txring_close(&f->targets[i].ring);
		target_send(f, &f->targets[i]);
	}
}

/* At exit: what a held target has waits for its next hop, boundedly. */
static void finish_all(struct fwd *f)
{
	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		txring_close(&t->ring);
		target_send(f, t);
		wait_resolved(f, t);
		target_send(f, t);
	}
	unreachable_due(f, UINT64_MAX);
}

/*
 * The earliest time a held target must send anyway (the bound), 0 if
 * none is held.
 */
static uint64_t resolve_due(const struct fwd *f)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < f->ntargets; i++) {
		const struct target *t = &f->targets[i];

		if (t->state == TLSTAP_TARGET_RESOLVING && t->probe_sent &&
		    (!next || t->resolve_by_ns < next))
			next = t->resolve_by_ns;
	}
	return next;
}

/* After a failed bind() of the source port: why, and the way out. */
static void __attribute__((noreturn)) die_bind(struct fwd *f, const char *who)
{
	int err = errno;

	if (err != EADDRINUSE)
		die("%s: binding source port %u: %s", who, f->src_port,
		    strerror(err));
	if (f->opt.port)
		die("%s: binding source port %u: %s (another program has it, "
		    "a receiver on this host perhaps: give another --port, or "
		    "none for an ephemeral one)", who, f->src_port,
		    strerror(err));
	die("%s: binding source port %u: %s (the kernel chose it for the "
	    "first target's socket, another program holds it for this "
	    "family: start again)", who, f->src_port, strerror(err));
}

static void open_target(struct fwd *f, struct target *t)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int ipv6 = t->ep.family == TLSTAP_FAMILY_IPV6;
	int one = 1, pmtu = ipv6 ? IPV6_PMTUDISC_DO : IP_PMTUDISC_DO;
	int sndbuf = 4 << 20;
	size_t size, nslots;
	struct endpoint local = { .family = t->ep.family, .port = f->src_port };
	uint32_t stream_id;

	t->fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		die("%s: socket: %s", t->name, strerror(errno));
	/* Every target's socket shares the source port. */
	if (setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("%s: SO_REUSEADDR: %s", t->name, strerror(errno));
	if (ipv6 && setsockopt(t->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			       sizeof(one)))
		die("%s: IPV6_V6ONLY: %s", t->name, strerror(errno));
	if (setsockopt(t->fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       ipv6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER, &pmtu,
		       sizeof(pmtu)))
		die("%s: path MTU discovery: %s", t->name, strerror(errno));
	if (setsockopt(t->fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       ipv6 ? IPV6_TCLASS : IP_TOS, &f->opt.tos,
		       sizeof(f->opt.tos)))
		die("%s: setting TOS %d: %s", t->name, f->opt.tos,
		    strerror(errno));
	/* Bigger bursts before blocking; root may exceed wmem_max. */
	if (setsockopt(t->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)))
		setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
			   sizeof(sndbuf));
	sslen = endpoint_to_sockaddr(&local, &ss);
	if (bind(t->fd, (struct sockaddr *)&ss, sslen))
		die_bind(f, t->name);
	/* No --port: the kernel's choice, then shared by every socket. */
	if (!f->src_port) {
		struct endpoint bound;

		sslen = sizeof(ss);
		if (getsockname(t->fd, (struct sockaddr *)&ss, &sslen) ||
		    endpoint_from_sockaddr((struct sockaddr *)&ss, &bound))
			die("%s: getsockname: %s", t->name, strerror(errno));
		f->src_port = bound.port;
	}
	sslen = endpoint_to_sockaddr(&t->ep, &ss);
	if (connect(t->fd, (struct sockaddr *)&ss, sslen))
		die("%s: connect: %s", t->name, strerror(errno));
	/* ICMP errors, each a report; the probe's timestamp (send_probe). */
	if (sockerr_enable(t->fd, ipv6))
		die("%s: IP_RECVERR, SO_TIMESTAMPING: %s", t->name,
		    strerror(errno));
	t->state = TLSTAP_TARGET_RESOLVING;
	t->hdr_overhead = (ipv6 ? 40 : 20) + 8;
	if (query_dgram_size(f, t, &size))
		die("%s: no usable path MTU", t->name);
	/* Room for the replay plus datagrams waiting to be sent. */
	nslots = f->opt.replay_bytes / size + 2 * SEND_AT_DGRAMS;
	/* A stream per target: its own sequence space, a random id. */
	if (getrandom(&stream_id, sizeof(stream_id), 0) !=
	    (ssize_t)sizeof(stream_id))
		die("%s: getrandom: %s", t->name, strerror(errno));
	if (txring_init(&t->ring, size, (uint32_t)nslots, stream_id))
		die("%s: ring of %zu x %zu bytes: %s", t->name, nslots, size,
		    strerror(errno));
	txring_set_replay_limit(&t->ring, f->opt.replay_bytes);
	tokenbucket_init(&t->bucket, f->opt.retransmit_rate,
			 f->opt.retransmit_burst, now_ns());
	t->gso = f->opt.gso;
}

/* ------------------------------------------------------------ steering */

static void setup_steering(struct fwd *f)
{
	struct steer_target_spec specs[TLSTAP_MAX_TARGETS];
	unsigned int order[TLSTAP_MAX_TARGETS];
	char err[256];

	/* Named in the start line. */
	if (!f->opt.hash_key_given &&
	    getrandom(f->opt.hash_key, sizeof(f->opt.hash_key), 0) !=
	    (ssize_t)sizeof(f->opt.hash_key))
		die("getrandom: %s", strerror(errno));
	if (steer_hasher_init(&f->hasher, f->opt.hash_key, err, sizeof(err)))
		die("%s", err);
	for (unsigned int i = 0; i < f->opt.ntargets; i++) {
		steer_target_key(&specs[i].key, f->opt.target_ep[i].family,
				 f->opt.target_ep[i].addr,
				 htobe16(f->opt.target_ep[i].port));
		specs[i].weight = f->opt.target_weight[i];
	}
	if (steer_sort_targets(specs, order, f->opt.ntargets, err, sizeof(err)))
		die("--target: %s", err);
	if (steer_table_build(&f->table, &f->hasher, specs, f->opt.ntargets,
			      err, sizeof(err)))
		die("%s", err);
	f->ntargets = f->opt.ntargets;
	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		t->ep = f->opt.target_ep[order[i]];
		t->weight = f->opt.target_weight[order[i]];
		t->fd = -1;
		endpoint_format(&t->ep, t->name, sizeof(t->name));
	}
}

/* ------------------------------------------------------------- records */

static void print_target(struct fwd *f, const struct record_info *r,
			 uint64_t hash, unsigned int idx)
{
	char src[INET6_ADDRSTRLEN] = "-", dst[INET6_ADDRSTRLEN] = "-";

	if (r->flow.family != TLSTAP_FAMILY_NONE) {
		addr_format(r->flow.family, r->flow.saddr, src, sizeof(src));
		addr_format(r->flow.family, r->flow.daddr, dst, sizeof(dst));
	}
	printf("target=%u addr=%s hash=%016llx bucket=%u family=%u dir=%s "
	       "src=%s sport=%u dst=%s dport=%u conn_id=%llu len=%u\n",
	       idx, f->targets[idx].name, (unsigned long long)hash,
	       steer_bucket(hash), r->flow.family,
	       r->flow.dir == TLSTAP_DIR_READ ? "read" : "write", src,
	       r->flow.sport, dst, r->flow.dport,
	       (unsigned long long)r->conn_id, r->msg_len);
}

/* A writer the input tells nothing about (a FIFO, stdin). */
static const struct ucred writer_unknown = {
	.pid = 0,
	.uid = TLSTAP_WRITER_UID_UNKNOWN,
	.gid = (gid_t)-1,
};

/*
 * Sends record r, stamped with its writer as this host's kernel told it
 * (pid 0: not in our pid namespace or unknown; uid
 * TLSTAP_WRITER_UID_UNKNOWN: unknown; &writer_unknown: both unknown).
 */
static void forward_record(struct fwd *f, const struct record_info *r,
			   const struct ucred *writer)
{
	struct wire_chunk_meta m;
	struct target *t;
	uint64_t hash;
	unsigned int idx;

	if (steer_flow_hash(&f->hasher, &r->flow, r->conn_id, &hash))
		die("internal error: SipHash failed");
	idx = steer_lookup(&f->table, hash);
	t = &f->targets[idx];
	f->st.records++;
	f->st.record_bytes += r->len;
	t->st.records++;
	t->st.record_bytes += r->len;
	if (record_is_loss_report(r)) {
		f->st.loss_reports++;
		t->st.loss_reports++;
	}
	if (f->opt.print_target) {
		print_target(f, r, hash, idx);
		return;
	}
	m.record_id = t->ring.next_record_id++;
	m.record_len = r->len;
	m.flow = r->flow;
	m.flags = 0;
	m.writer_pid = writer->pid > 0 ? (uint32_t)writer->pid : 0;
	m.writer_uid = writer->uid;
	pack_piece(f, t, &m, 0, r->bytes, r->len);
	if (txring_unsent(&t->ring) >= SEND_AT_DGRAMS)
		target_send(f, t);
}

static void report_malformed(struct fwd *f, enum record_status st,
			     size_t discarded, const char *where)
{
	f->st.malformed[st]++;
	f->st.discarded_bytes += discarded;
	ratelog(&f->log, "malformed record (%s) %s: %zu bytes discarded",
		record_status_name(st), where, discarded);
}

/* A message of whole records (Unix datagram or seqpacket) from writer. */
static void process_message(struct fwd *f, const uint8_t *buf, size_t len,
			    int truncated, const struct ucred *writer)
{
	size_t pos = 0;

	f->st.input_messages++;
	f->st.input_bytes += len;
	if (truncated)
		f->st.oversized_messages++;
	while (pos < len) {
		struct record_info r;
		enum record_status st = record_parse(buf + pos, len - pos,
						     f->opt.max_record, &r);

		if (st != RECORD_OK) {
			/*
			 * Its length cannot be trusted, so whatever follows
			 * in this message goes too; other messages do not.
			 */
			report_malformed(f, st, len - pos,
					 truncated ? "in an oversized message"
						   : "in a message");
			return;
		}
		forward_record(f, &r, writer);
		pos += r.len;
	}
}

/* Byte stream: 0, or -1 when framing is lost (malformed header). */
static int process_stream(struct fwd *f)
{
	size_t pos = 0;
	int ret = 0;

	while (pos < f->stream_len) {
		struct record_info r;
		enum record_status st = record_parse(f->stream_buf + pos,
						     f->stream_len - pos,
						     f->opt.max_record, &r);

		if (st == RECORD_SHORT)
			break;
		if (st != RECORD_OK) {
			char where[96];

			snprintf(where, sizeof(where),
				 "at stream offset %llu; the stream cannot be "
				 "resynchronised",
				 f->stream_offset + pos);
			report_malformed(f, st, f->stream_len - pos, where);
			pos = f->stream_len;
			ret = -1;
			break;
		}
		forward_record(f, &r, &writer_unknown);
		pos += r.len;
	}
	memmove(f->stream_buf, f->stream_buf + pos, f->stream_len - pos);
	f->stream_len -= pos;
	f->stream_offset += pos;
	return ret;
}

/* ---------------------------------------------------------------- input */

static int make_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* 0, or -1 if fd cannot be polled (a regular file: always ready). */
static int epoll_add(struct fwd *f, int fd, uint32_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = data };

	if (!epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev))
		return 0;
	if (errno == EPERM)
		return -1;
	die("epoll_ctl: %s", strerror(errno));
}

#define EV_SIGNAL	0xffffffffu
#define EV_INPUT	0xfffffffeu	/* listener, datagram socket, stream */

/* The input descriptors that carry records (not the seqpacket listener). */
static uint32_t input_events(const struct fwd *f)
{
	return EPOLLIN | (f->in_oneshot ? EPOLLONESHOT : 0);
}

static int epoll_add_input(struct fwd *f, int fd, uint32_t data)
{
	struct epoll_event ev = { .events = input_events(f), .data.u32 = data };

	if (!epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev))
		return 0;
	if (errno == EPERM)
		return -1;
	die("epoll_ctl: %s", strerror(errno));
}

static void arm_input(struct fwd *f, int fd, uint32_t data)
{
	struct epoll_event ev = { .events = input_events(f), .data.u32 = data };

	/* A descriptor that is ready now fires at once: nothing is missed. */
	if (epoll_ctl(f->epfd, EPOLL_CTL_MOD, fd, &ev))
		die("epoll_ctl: %s", strerror(errno));
}

/*
 * Whether a datagram input can be polled: its queue must hold what
 * arrives between two drains. The limit is the sysctl of the network
 * namespace, read when the socket is created.
 */
static int dgram_queue_pollable(struct fwd *f)
{
	FILE *fp = fopen("/proc/sys/net/unix/max_dgram_qlen", "re");
	unsigned int qlen = 0;
	int ok;

	ok = fp && fscanf(fp, "%u", &qlen) == 1;
	if (fp)
		fclose(fp);
	if (ok && qlen >= DGRAM_POLL_MIN_QLEN)
		return 1;
	fprintf(stderr, PROG ": net.unix.max_dgram_qlen is %u: %s queues that "
		"many records at most, so it is not polled and every record "
		"wakes " PROG " (raise the sysctl to %u or more before starting, "
		"or use --seqpacket)\n", qlen, f->opt.in_path,
		DGRAM_POLL_MIN_QLEN);
	return 0;
}

/*
 * A seqpacket writer takes a descriptor, and one more for its capture
 * ring's memfd: MAX_CONNS of each are more than the usual soft limit of
 * 1024. Up to the hard limit, then; short of it, accept() or a CREATE
 * fails (and is logged or answered), as beyond MAX_CONNS.
 */
static void raise_fd_limit(struct fwd *f)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= 2 * MAX_CONNS + 64)
		return;
	rl.rlim_cur = rl.rlim_max < 2 * MAX_CONNS + 64 ? rl.rlim_max :
							 2 * MAX_CONNS + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		ratelog(&f->log, "raising the descriptor limit to %llu: %s",
			(unsigned long long)rl.rlim_cur, strerror(errno));
}

static void open_unix(struct fwd *f, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	const char *path = f->opt.in_path;
	int one = 1;

	if (strlen(path) >= sizeof(sun.sun_path))
		die("%s: path too long for a Unix socket", path);
	strcpy(sun.sun_path, path);
	if (!lstat(path, &sb)) {
		int probe;

		if (!S_ISSOCK(sb.st_mode))
			die("%s exists and is not a socket", path);
		/* Only a stale socket (nobody bound) may be replaced. */
		probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
		if (probe < 0)
			die("socket: %s", strerror(errno));
		if (!connect(probe, (struct sockaddr *)&sun, sizeof(sun)))
			die("%s is in use by another process", path);
		close(probe);
		if (unlink(path))
			die("removing stale %s: %s", path, strerror(errno));
	}
	f->in_fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (f->in_fd < 0)
		die("socket: %s", strerror(errno));
	/* Before bind: every datagram that can arrive names its writer. */
	if (type == SOCK_DGRAM &&
	    setsockopt(f->in_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		die("%s: SO_PASSCRED: %s", path, strerror(errno));
	if (bind(f->in_fd, (struct sockaddr *)&sun, sizeof(sun)))
		die("binding %s: %s", path, strerror(errno));
	f->created_path = 1;
	if (chmod(path, f->opt.mode))
		die("chmod %s: %s", path, strerror(errno));
	if (type == SOCK_SEQPACKET && listen(f->in_fd, MAX_CONNS))
		die("listen %s: %s", path, strerror(errno));
	if (type == SOCK_SEQPACKET)
		raise_fd_limit(f);
	if (type == SOCK_DGRAM) {
		int rcvbuf = 4 << 20;

		if (setsockopt(f->in_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
			       sizeof(rcvbuf)))
			setsockopt(f->in_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				   sizeof(rcvbuf));
	}
}

/*
 * A pipe holds 64 KiB by default: what writers send while tlstap-fwd is
 * busy or between two polls. Ask for as much as an unprivileged process
 * may (fs.pipe-max-size, 1 MiB by default); failing, the pipe keeps its
 * size and writers drop sooner, which they count.
 */
static void fifo_grow(struct fwd *f)
{
	FILE *fp = fopen("/proc/sys/fs/pipe-max-size", "re");
	unsigned int max = 0;

	if (fp && fscanf(fp, "%u", &max) == 1 && max > INT_MAX)
		max = INT_MAX;
	if (fp)
		fclose(fp);
	if (max && fcntl(f->in_fd, F_SETPIPE_SZ, (int)max) < 0)
		ratelog(&f->log, "%s: cannot grow the pipe to %u bytes: %s",
			f->opt.in_path, max, strerror(errno));
}

static void open_fifo(struct fwd *f)
{
	struct stat sb;
	const char *path = f->opt.in_path;

	if (lstat(path, &sb)) {
		if (errno != ENOENT)
			die("%s: %s", path, strerror(errno));
		if (mkfifo(path, f->opt.mode))
			die("mkfifo %s: %s", path, strerror(errno));
		f->created_path = 1;
		/* mkfifo() applies the umask; --mode is meant as given. */
		if (chmod(path, f->opt.mode))
			die("chmod %s: %s", path, strerror(errno));
	} else if (!S_ISFIFO(sb.st_mode)) {
		die("%s exists and is not a FIFO", path);
	}
	f->in_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (f->in_fd < 0)
		die("opening %s: %s", path, strerror(errno));
	fifo_grow(f);
}

static void open_input(struct fwd *f)
{
	switch (f->opt.in_kind) {
	case IN_UNIX_DGRAM:
		open_unix(f, SOCK_DGRAM);
		break;
	case IN_UNIX_SEQPACKET:
		open_unix(f, SOCK_SEQPACKET);
		break;
	case IN_FIFO:
		open_fifo(f);
		break;
	case IN_STDIN:
		f->in_fd = STDIN_FILENO;
		if (make_nonblock(f->in_fd))
			die("stdin: %s", strerror(errno));
		break;
	}
	if (f->opt.in_kind == IN_UNIX_DGRAM ||
	    f->opt.in_kind == IN_UNIX_SEQPACKET) {
		f->msg_bufs = malloc((size_t)IN_BATCH * IN_MSG_SIZE);
		if (!f->msg_bufs)
			die("out of memory for input buffers");
		for (int i = 0; i < IN_BATCH; i++) {
			f->in_iov[i].iov_base = f->msg_bufs +
						(size_t)i * IN_MSG_SIZE;
			f->in_iov[i].iov_len = IN_MSG_SIZE;
		}
	} else {
		/* Room for a whole record plus a large read behind it. */
		f->stream_cap = 2 * ((size_t)TLSTAP_RECORD_HDR_LEN +
				     f->opt.max_record) + (1u << 20);
		f->stream_buf = malloc(f->stream_cap);
		if (!f->stream_buf)
			die("out of memory for the input buffer");
	}
	f->in_oneshot = f->opt.poll_us && f->opt.in_kind != IN_STDIN &&
			(f->opt.in_kind != IN_UNIX_DGRAM || dgram_queue_pollable(f));
	/* The listener stays level-triggered: connections are rare. */
	if (f->opt.in_kind == IN_UNIX_SEQPACKET)
		f->in_unpollable = epoll_add(f, f->in_fd, EV_INPUT) < 0;
	else
		f->in_unpollable = epoll_add_input(f, f->in_fd, EV_INPUT) < 0;
	if (f->in_unpollable && f->opt.in_kind != IN_STDIN)
		die("%s cannot be polled", f->opt.in_path);
}

/* -------------------------------------------------------- capture rings */

/*
 * Every record from a ring goes out here. Its writer, for the stamp of
 * the wire, is the ring's creator (ring->pid, ring->uid: SO_PEERCRED of
 * the connection that asked for it).
 */
static void ring_record(void *ctx, const struct fwdring *ring,
			const struct record_info *r)
{
	const struct ucred writer = { .pid = (pid_t)ring->pid,
				      .uid = ring->uid };

	forward_record(ctx, r, &writer);
}

/* A ring message to a producer, with a descriptor (SCM_RIGHTS) if fd >= 0. */
static int send_ring_msg(int conn_fd, uint8_t type, uint32_t status,
			 uint32_t size, int fd)
{
	struct tlstap_capring_msg m = {
		.type = type,
		.status = status,
		.size = size,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(conn_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	       (ssize_t)sizeof(m) ? 0 : -1;
}

/* CREATE on connection ci: a ring (its memfd passed), or why not. */
static void ring_create(struct fwd *f, unsigned int ci,
			const struct tlstap_capring_msg *m)
{
	struct conn *c = &f->conns[ci];
	uint32_t status;

	if (m->reserved[0] || m->reserved[1] || m->reserved[2] || m->status ||
	    m->reserved2)
		status = EINVAL;
	else if (!f->opt.ring_memory)
		status = EOPNOTSUPP;
	else if (c->has_ring)
		status = EEXIST;
	else if (!capring_size_valid(m->size))
		status = EINVAL;
	else if (fwdring_bytes(m->size) > f->opt.ring_memory - f->ring_bytes)
		status = ENOMEM;
	else if (!f->ring_sink.buf &&
		 !(f->ring_sink.buf = malloc(FWDRING_BUF_LEN(f->opt.max_record))))
		status = ENOMEM;
	else
		status = (uint32_t)fwdring_create(&c->ring, m->size,
						  f->opt.max_record,
						  (uint32_t)c->cred.pid, c->cred.uid,
						  !f->in_oneshot);
	if (status) {
		/* --ring-memory 0 asks for EOPNOTSUPP: nothing to report. */
		if (status != EOPNOTSUPP)
			ratelog(&f->log, "capture ring of %u bytes refused: %s",
				m->size, strerror((int)status));
		if (send_ring_msg(c->fd, TLSTAP_CAPRING_MSG_CREATED, status, 0,
				  -1))
			ratelog(&f->log, "answering CREATE: %s", strerror(errno));
		return;
	}
	if (send_ring_msg(c->fd, TLSTAP_CAPRING_MSG_CREATED, 0, m->size,
			  c->ring.memfd)) {
		ratelog(&f->log, "passing a capture ring to pid %u: %s",
			c->ring.pid, strerror(errno));
		fwdring_free(&c->ring);
		return;
	}
	c->has_ring = true;
	f->rings++;
	f->ring_bytes += fwdring_bytes(m->size);
	f->st.rings_created++;
}

/* A message whose first byte is 0x80 or above: no record, a ring message. */
static void ring_message(struct fwd *f, unsigned int ci, const uint8_t *buf,
			 size_t len)
{
	struct tlstap_capring_msg m;

	if (len == sizeof(m)) {
		memcpy(&m, buf, sizeof(m));
		if (m.type == TLSTAP_CAPRING_MSG_CREATE) {
			ring_create(f, ci, &m);
			return;
		}
		if (m.type == TLSTAP_CAPRING_MSG_WAKE) {
			/* Its arrival made the connection readable: polling. */
			f->st.ring_wakeups++;
			return;
		}
	}
	report_malformed(f, RECORD_BAD_TYPE, len,
			 "(no ring message a producer sends)");
}

/*
 * Hands at most max frames of c's ring on; final: its producer is gone.
 * A producer waiting for room hears of it (ROOM). Whether the walk
 * consumed anything.
 */
static bool ring_walk(struct fwd *f, struct conn *c, uint32_t max, bool final)
{
	uint32_t cons = c->ring.cons;

	if (fwdring_drain(&c->ring, max, final, &f->ring_sink) < 0) {
		f->st.rings_ended++;
		ratelog(&f->log, "capture ring of pid %u (uid %u) ended, "
			"drained no more: %s%s%s", c->ring.pid, c->ring.uid,
			c->ring.why, c->ring.bad ? ": " : "",
			c->ring.bad ? record_status_name(c->ring.bad) : "");
	}
	if (c->ring.cons == cons)
		return false;
	/* A full socket buffer: the producer has ROOMs to read already. */
	if (!final && fwdring_waiting(&c->ring) &&
	    !send_ring_msg(c->fd, TLSTAP_CAPRING_MSG_ROOM, 0, 0, -1))
		f->st.ring_room_sent++;
	return true;
}

/* The connection ended: what its ring holds goes out, then the ring. */
static void ring_release(struct fwd *f, struct conn *c)
{
	if (!c->has_ring)
		return;
	ring_walk(f, c, UINT32_MAX, true);
	f->ring_bytes -= fwdring_bytes(c->ring.view.data_size);
	f->rings--;
	fwdring_free(&c->ring);
	c->has_ring = false;
}

/* NEED_WAKEUP in every ring (idle), or in none. */
static void rings_idle(struct fwd *f, bool idle)
{
	for (unsigned int i = 0; i < MAX_CONNS && f->rings; i++)
		if (f->conns[i].has_ring)
			fwdring_set_idle(&f->conns[i].ring, idle);
}

/*
 * Polling found no input for a while: NEED_WAKEUP in every ring, then a
 * last walk (after fwdring_set_idle()'s barrier) for what was published
 * before the producers could see the flag. true: there was some, keep
 * polling.
 */
static bool rings_sleep(struct fwd *f)
{
	bool moved = false;

	if (!f->rings)
		return false;
	rings_idle(f, true);
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (f->conns[i].has_ring &&
		    ring_walk(f, &f->conns[i], RING_WALK_FRAMES, false))
			moved = true;
	if (moved)
		rings_idle(f, false);
	return moved;
}

/*
 * The writer of a datagram: its SCM_CREDENTIALS, copied into cred; the
 * unknown writer if none came (the control buffer held something else).
 */
static const struct ucred *dgram_writer(struct msghdr *mh, struct ucred *cred)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(*cred))) {
			memcpy(cred, CMSG_DATA(cm), sizeof(*cred));
			return cred;
		}
	}
	return &writer_unknown;
}

/*
 * Reads whole-record messages until the socket is drained: the records of
 * seqpacket connection ci are its peer's, a datagram's its sender's (ci
 * -1). Returns 1 if the peer of a seqpacket connection hung up.
 */
static int read_messages(struct fwd *f, int fd, int ci)
{
	const struct ucred *peer = ci >= 0 ? &f->conns[ci].cred : NULL;

	for (;;) {
		int n;

		for (int i = 0; i < IN_BATCH; i++)
			mmsg_slot_reset(&f->in_msgs[i], NULL, &f->in_iov[i],
					peer ? NULL : f->in_cmsg[i].buf,
					peer ? 0 : sizeof(f->in_cmsg[i].buf));
		n = recvmmsg(fd, f->in_msgs, IN_BATCH,
			     MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno == ECONNRESET)
				return 1;
			die("reading %s: %s", f->opt.in_path, strerror(errno));
		}
		f->st.input_calls++;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &f->in_msgs[i].msg_hdr;
			const uint8_t *buf = f->in_iov[i].iov_base;
			struct ucred cred;

			if (!f->in_msgs[i].msg_len &&
			    f->opt.in_kind == IN_UNIX_SEQPACKET)
				return 1;
			if (ci >= 0 && buf[0] >= 0x80) {
				ring_message(f, (unsigned int)ci, buf,
					     f->in_msgs[i].msg_len);
				continue;
			}
			process_message(f, f->in_iov[i].iov_base,
					f->in_msgs[i].msg_len,
					!!(mh->msg_flags & MSG_TRUNC),
					peer ? peer : dgram_writer(mh, &cred));
		}
		if (n < IN_BATCH)
			return 0;
	}
}

static void close_conn(struct fwd *f, unsigned int i)
{
	ring_release(f, &f->conns[i]);
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->conns[i].fd, NULL);
	close(f->conns[i].fd);
	f->conns[i].fd = -1;
}

static void accept_conns(struct fwd *f)
{
	for (;;) {
		int fd = accept4(f->in_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		socklen_t len;
		unsigned int i;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			ratelog(&f->log, "accept on %s: %s", f->opt.in_path,
				strerror(errno));
			return;
		}
		for (i = 0; i < MAX_CONNS && f->conns[i].fd >= 0; i++)
			;
		if (i == MAX_CONNS) {
			ratelog(&f->log, "%d writers already connected: "
				"refusing one", MAX_CONNS);
			close(fd);
			continue;
		}
		f->conns[i].fd = fd;
		/* The writer as it was when it connected: a Unix socket's peer. */
		len = sizeof(f->conns[i].cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &f->conns[i].cred,
			       &len)) {
			ratelog(&f->log, "SO_PEERCRED on %s: %s: its writer is "
				"unknown", f->opt.in_path, strerror(errno));
			f->conns[i].cred = writer_unknown;
		}
		if (epoll_add_input(f, fd, i))
			die("a seqpacket connection cannot be polled");
	}
}

/*
 * Reads the byte stream until it would block. Returns 1 at end of input
 * (stdin EOF), -1 if framing was lost, 0 otherwise.
 */
static int read_stream(struct fwd *f)
{
	for (;;) {
		ssize_t n = read(f->in_fd, f->stream_buf + f->stream_len,
				 f->stream_cap - f->stream_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			die("reading %s: %s",
			    f->opt.in_path ? f->opt.in_path : "stdin",
			    strerror(errno));
		}
		f->st.input_calls++;
		if (n == 0) {
			if (f->stream_len) {
				/* The writer left in the middle of a record. */
				report_malformed(f, RECORD_SHORT, f->stream_len,
						 "at end of input");
				f->stream_offset += f->stream_len;
				f->stream_len = 0;
			}
			if (f->opt.in_kind == IN_STDIN)
				return 1;
			/* Every writer closed the FIFO: wait for new ones. */
			epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->in_fd, NULL);
			close(f->in_fd);
			open_fifo(f);
			if (epoll_add_input(f, f->in_fd, EV_INPUT))
				die("%s cannot be polled", f->opt.in_path);
			return 0;
		}
		f->st.input_bytes += (size_t)n;
		f->stream_len += (size_t)n;
		if (process_stream(f))
			return -1;
	}
}

/*
 * Seqpacket connection i: its messages, then its ring. A connection
 * with a ring carries few messages (WAKE): it stays armed while polling,
 * so that the poll timer need not read it, only walk its ring. Polling,
 * a walk takes a bounded share (the next tick takes more); otherwise the
 * producer wakes us for every record, and a walk takes all there is.
 */
static void conn_input(struct fwd *f, unsigned int i)
{
	struct conn *c = &f->conns[i];

	if (read_messages(f, c->fd, (int)i)) {
		close_conn(f, i);
		return;
	}
	if (!c->has_ring)
		return;
	if (f->in_oneshot)
		arm_input(f, c->fd, i);
	ring_walk(f, c, f->in_oneshot ? RING_WALK_FRAMES : UINT32_MAX, false);
}

/* Reads everything the input has ready. 1: input ended, -1: framing lost. */
static int drain_input(struct fwd *f, uint32_t source)
{
	switch (f->opt.in_kind) {
	case IN_UNIX_DGRAM:
		read_messages(f, f->in_fd, -1);
		return 0;
	case IN_UNIX_SEQPACKET:
		if (source == EV_INPUT) {
			accept_conns(f);
			return 0;
		}
		conn_input(f, source);
		return 0;
	default:
		return read_stream(f);
	}
}

/* Before exiting: what the writers already handed over still goes out. */
static int drain_all(struct fwd *f)
{
	if (f->opt.in_kind == IN_UNIX_SEQPACKET) {
		for (unsigned int i = 0; i < MAX_CONNS; i++)
			if (f->conns[i].fd >= 0)
				drain_input(f, i);
		return 0;
	}
	return drain_input(f, EV_INPUT);
}

/*
 * Polling: drains every input descriptor (they are disarmed). Returns
 * what drain_input returns for the stream input; notes when input came.
 */
static int poll_inputs(struct fwd *f, uint64_t now)
{
	/* Not input_calls: a FIFO without writers reads end-of-file. */
	unsigned long long got = f->st.input_messages + f->st.input_bytes +
				 f->st.ring.records;
	int r = 0;

	if (f->opt.in_kind == IN_UNIX_SEQPACKET) {
		for (unsigned int i = 0; i < MAX_CONNS; i++) {
			if (f->conns[i].fd < 0)
				continue;
			if (f->conns[i].has_ring)
				ring_walk(f, &f->conns[i], RING_WALK_FRAMES,
					  false);
			else
				conn_input(f, i);
		}
	} else {
		r = drain_input(f, EV_INPUT);
	}
	if (f->st.input_messages + f->st.input_bytes + f->st.ring.records != got)
		f->last_input_ns = now;
	return r;
}

/*
 * Polling found nothing for a while: wait on the inputs again, the
 * rings' producers asked to wake us (unless their last look found more).
 */
static void stop_polling(struct fwd *f)
{
	if (rings_sleep(f)) {
		f->last_input_ns = now_ns();
		return;
	}
	f->polling = 0;
	if (f->opt.in_kind != IN_UNIX_SEQPACKET) {
		arm_input(f, f->in_fd, EV_INPUT);
		return;
	}
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (f->conns[i].fd >= 0)
			arm_input(f, f->conns[i].fd, i);
}

/* ------------------------------------------------- NACKs and heartbeats */

#define EV_SOCK_BASE	0x10000u	/* + target index, or + 64 + family */

/*
 * An unconnected socket per family (both, whatever the targets) on the
 * source port: NACKs from anywhere but a target's own address and port
 * land here (those land on the target's connected socket), so that every
 * one is judged and counted.
 */
static void open_control(struct fwd *f)
{
	for (unsigned int i = 0; i < f->ntargets; i++)
		if (epoll_add(f, f->targets[i].fd, EV_SOCK_BASE + i))
			die("a UDP socket cannot be polled");
	for (int c = 0; c < CTL_COUNT; c++) {
		struct endpoint any = { .family = c == CTL_V6
					? TLSTAP_FAMILY_IPV6 : TLSTAP_FAMILY_IPV4,
					.port = f->src_port };
		struct sockaddr_storage ss;
		socklen_t sslen = endpoint_to_sockaddr(&any, &ss);
		int one = 1;

		f->ctl_fd[c] = socket(c == CTL_V6 ? AF_INET6 : AF_INET,
				      SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
				      0);
		/* Both families, so that a NACK from anywhere is counted. */
		if (f->ctl_fd[c] < 0 && errno == EAFNOSUPPORT)
			continue;
		if (f->ctl_fd[c] < 0)
			die("control socket: %s", strerror(errno));
		if (setsockopt(f->ctl_fd[c], SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) ||
		    (c == CTL_V6 &&
		     setsockopt(f->ctl_fd[c], IPPROTO_IPV6, IPV6_V6ONLY, &one,
				sizeof(one))))
			die("control socket options: %s", strerror(errno));
		if (bind(f->ctl_fd[c], (struct sockaddr *)&ss, sslen))
			die_bind(f, c == CTL_V6 ? "NACK socket (IPv6)" :
						  "NACK socket (IPv4)");
		if (epoll_add(f, f->ctl_fd[c], EV_SOCK_BASE + TLSTAP_MAX_TARGETS + c))
			die("a UDP socket cannot be polled");
	}
	for (int i = 0; i < CTL_BATCH; i++) {
		f->ctl_iov[i].iov_base = f->ctl_bufs[i];
		f->ctl_iov[i].iov_len = CTL_BUF;
	}
}

static void resend_flush(struct fwd *f)
{
	struct resend_batch *b = &f->resend;
	unsigned int done = 0;
	int tries = 0;

	while (done < b->n) {
		int n = sendmmsg(b->t->fd, b->msgs + done, b->n - done, 0);

		if (n <= 0) {
			if (n < 0 && (errno == EINTR ||
				      (earlier_error(f, b->t, errno) &&
				       ++tries < SEND_TRIES)))
				continue;
			/* The receiver asks again on its timeout. */
			b->t->st.retransmit_errors += b->n - done;
			ratelog(&f->log, "%s: retransmitting: %s", b->t->name,
				n < 0 ? strerror(errno) : "nothing sent");
			break;
		}
		done += (unsigned int)n;
	}
	b->n = 0;
}

static void resend_one(void *arg, uint32_t seq, const uint8_t *dgram,
		       size_t len)
{
	struct fwd *f = arg;
	struct resend_batch *b = &f->resend;

	(void)seq;
	memset(&b->msgs[b->n], 0, sizeof(b->msgs[b->n]));
	b->iov[b->n].iov_base = (void *)dgram;
	b->iov[b->n].iov_len = len;
	b->msgs[b->n].msg_hdr.msg_iov = &b->iov[b->n];
	b->msgs[b->n].msg_hdr.msg_iovlen = 1;
	if (++b->n == SEND_MSGS)
		resend_flush(f);
}

/* Sends a control message to the target (its configured address). */
static void send_control(struct fwd *f, struct target *t, const uint8_t *buf,
			 size_t len, const char *what)
{
	int tries = 0;

	while (send(t->fd, buf, len, 0) != (ssize_t)len) {
		if (errno == EINTR ||
		    (earlier_error(f, t, errno) && ++tries < SEND_TRIES))
			continue;
		t->st.send_errors++;
		ratelog(&f->log, "%s: sending a %s: %s", t->name, what,
			strerror(errno));
		return;
	}
}

/* One datagram on the source port: an honoured NACK, or rejected. */
static void take_nack(struct fwd *f, const struct endpoint *from,
		      const uint8_t *buf, size_t len, int truncated)
{
	struct wire_range gap[TLSTAP_NACK_MAX_RANGES];
	uint8_t msgbuf[TLSTAP_MSG_HDR_LEN + sizeof(gap)];
	struct target *t = NULL;
	struct wire_msg msg;
	unsigned int ngap;
	int address_known = 0;

	if (truncated || wire_parse_msg(buf, len, &msg) != WIRE_OK ||
	    msg.type != TLSTAP_MSG_NACK || wire_check_ranges(&msg) != WIRE_OK) {
		f->st.nack_rejected_malformed++;
		return;
	}
	/* From a target's address (any port), for that target's stream. */
	for (unsigned int i = 0; i < f->ntargets && !t; i++) {
		struct target *c = &f->targets[i];

		if (c->ep.family != from->family ||
		    memcmp(c->ep.addr, from->addr, 16))
			continue;
		address_known = 1;
		if (c->ring.stream_id == msg.stream_id)
			t = c;
	}
	if (!t) {
		if (address_known)
			f->st.nack_rejected_stream++;
		else
			f->st.nack_rejected_not_target++;
		return;
	}
	t->st.nacks++;
	f->resend.t = t;
	f->resend.n = 0;
	replay_answer(&t->ring, &t->bucket, &msg, now_ns(), resend_one, f,
		      gap, &ngap, &t->st.replay);
	resend_flush(f);
	if (ngap) {
		len = wire_build_ranges(msgbuf, TLSTAP_MSG_GAP,
					t->ring.stream_id, gap, ngap);
		send_control(f, t, msgbuf, len, "GAP");
		t->st.gaps_sent += ngap;
		t->st.gap_messages++;
	}
	f->linger_from_ns = now_ns();
}

/* Reads a UDP socket of the source port until it is drained. */
static void read_control(struct fwd *f, int fd)
{
	for (;;) {
		int n;

		for (int i = 0; i < CTL_BATCH; i++)
			mmsg_slot_reset(&f->ctl_msgs[i], &f->ctl_from[i],
					&f->ctl_iov[i], NULL, 0);
		n = recvmmsg(fd, f->ctl_msgs, CTL_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN, or an ICMP error of an earlier send. */
			return;
		}
		for (int i = 0; i < n; i++) {
			struct endpoint from;

			if (endpoint_from_sockaddr(
				    (struct sockaddr *)&f->ctl_from[i], &from)) {
				f->st.nack_rejected_malformed++;
				continue;
			}
			take_nack(f, &from, f->ctl_bufs[i],
				  f->ctl_msgs[i].msg_len,
				  !!(f->ctl_msgs[i].msg_hdr.msg_flags &
				     MSG_TRUNC));
		}
		if (n < CTL_BATCH)
			return;
	}
}

static void read_socket(struct fwd *f, uint32_t ev)
{
	uint32_t i = ev - EV_SOCK_BASE;

	if (i < f->ntargets) {
		/* POLLERR: the error queue first, as recvmmsg would fail. */
		target_errors(f, &f->targets[i]);
		read_control(f, f->targets[i].fd);
	} else
		read_control(f, f->ctl_fd[i - TLSTAP_MAX_TARGETS]);
}

/* Heartbeats due now; returns the next deadline, 0 if none. */
static uint64_t heartbeats_due(struct fwd *f, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		if (!t->heartbeats_left)
			continue;
		if (t->next_heartbeat_ns <= now) {
			uint8_t buf[WIRE_HEARTBEAT_LEN];
			size_t len = wire_build_heartbeat(
				buf, t->ring.stream_id, t->ring.unsent - 1,
				t->ring.oldest);

			send_control(f, t, buf, len, "HEARTBEAT");
			t->st.heartbeats++;
			t->heartbeats_left--;
			t->next_heartbeat_ns = now +
					       f->opt.heartbeat_ms * 1000000ull;
			if (!t->heartbeats_left) {
				/* Lingering counts from the last word. */
				if (f->linger_from_ns < now)
					f->linger_from_ns = now;
				continue;
			}
		}
		if (!next || t->next_heartbeat_ns < next)
			next = t->next_heartbeat_ns;
	}
	return next;
}

/* ----------------------------------------------------------------- main */

/* The wait until deadline (0: none) for epoll_pwait2; NULL: forever. */
static struct timespec *wait_for(uint64_t deadline, uint64_t now,
				 struct timespec *ts)
{
	uint64_t ns;

	if (!deadline)
		return NULL;
	ns = deadline > now ? deadline - now : 0;
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
	return ts;
}

/*
 * After the input ended: the deadline to wait for, 0 once the heartbeats
 * are all out, no target holds datagrams (next_due: the next of either)
 * and no NACK came for --linger-ms.
 */
static uint64_t linger_deadline(struct fwd *f, uint64_t next_due,
				uint64_t now)
{
	uint64_t end = f->linger_from_ns + f->opt.linger_ms * 1000000ull;

	if (next_due)
		return next_due;
	return end > now ? end : 0;
}

/* The earlier of two deadlines; 0 is none. */
static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a || (b && b < a) ? b : a;
}

/*
 * Heartbeats and ICMP lines due now. Returns when the next heartbeat is
 * due or a held target must send anyway, 0 if never; *next_log, when the
 * next ICMP line is.
 */
static uint64_t timers_due(struct fwd *f, uint64_t *next_log)
{
	uint64_t now = now_ns();

	*next_log = unreachable_due(f, now);
	return earliest(heartbeats_due(f, now), resolve_due(f));
}

static void end_of_input(struct fwd *f)
{
	f->input_done = 1;
	if (!f->in_unpollable)
		epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->in_fd, NULL);
	f->linger_from_ns = now_ns();
}

/* Targets named in the start line; the others are counted. */
#define START_LINE_TARGETS 4

/*
 * The start line: the input, the targets and the source port NACKs come
 * back to (or --print-target), the hash key if it is a random one.
 */
static void say_started(const struct fwd *f)
{
	static const char *const inputs[] = {
		[IN_STDIN] = "standard input",
		[IN_FIFO] = "the FIFO",
		[IN_UNIX_DGRAM] = "the Unix datagram socket",
		[IN_UNIX_SEQPACKET] = "the Unix seqpacket socket",
	};
	char targets[START_LINE_TARGETS * (ENDPOINT_STRLEN + 16) + 64];
	char key[2 * TLSTAP_HASH_KEY_LEN + 40] = "";
	size_t used;

	used = (size_t)snprintf(targets, sizeof(targets), "%u target%s:",
				f->ntargets, f->ntargets == 1 ? "" : "s");
	for (unsigned int i = 0; i < f->ntargets && i < START_LINE_TARGETS;
	     i++) {
		const struct target *t = &f->targets[i];

		used += (size_t)snprintf(targets + used, sizeof(targets) - used,
					 "%s %s", i ? "," : "", t->name);
		if (t->weight != 1)
			used += (size_t)snprintf(targets + used,
						 sizeof(targets) - used,
						 " weight %u", t->weight);
	}
	if (f->ntargets > START_LINE_TARGETS)
		snprintf(targets + used, sizeof(targets) - used,
			 " and %u more", f->ntargets - START_LINE_TARGETS);
	if (!f->opt.hash_key_given) {
		/* Flows map to targets unlike any other sender's. */
		used = (size_t)snprintf(key, sizeof(key), "; steering by the "
					"random key ");
		for (int i = 0; i < TLSTAP_HASH_KEY_LEN; i++)
			used += (size_t)snprintf(key + used, sizeof(key) - used,
						 "%02x", f->opt.hash_key[i]);
	}
	if (f->opt.print_target)
		fprintf(stderr, PROG ": reading %s%s%s; printing the target of "
			"each record (%s), sending nothing%s\n",
			inputs[f->opt.in_kind], f->opt.in_path ? " " : "",
			f->opt.in_path ? f->opt.in_path : "", targets, key);
	else
		fprintf(stderr, PROG ": reading %s%s%s; sending from UDP port "
			"%u (NACKs come back there) to %s%s\n",
			inputs[f->opt.in_kind], f->opt.in_path ? " " : "",
			f->opt.in_path ? f->opt.in_path : "", f->src_port,
			targets, key);
}

static int run(struct fwd *f)
{
	uint64_t next_due = 0, next_log = 0;

	/* A regular file on stdin: read it to the end, it never blocks. */
	if (f->in_unpollable) {
		if (drain_input(f, EV_INPUT) < 0)
			return EXIT_FRAMING;
		if (f->opt.print_target)
			return 0;
		flush_all(f);
		end_of_input(f);
		next_due = timers_due(f, &next_log);
	}
	for (;;) {
		struct epoll_event ev[16];
		uint64_t now = now_ns(), deadline = next_due, tick;
		struct timespec ts;
		int n;

		if (f->input_done) {
			deadline = linger_deadline(f, next_due, now);
			if (!deadline)
				return 0;
		} else if (f->polling) {
			tick = now + f->opt.poll_us * 1000ull;
			if (!deadline || tick < deadline)
				deadline = tick;
		}
		deadline = earliest(deadline, next_log);
		n = epoll_pwait2(f->epfd, ev, 16, wait_for(deadline, now, &ts),
				 NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_pwait2: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			int r;

			if (ev[i].data.u32 == EV_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(f->sigfd, &si, sizeof(si)) !=
				    (ssize_t)sizeof(si))
					continue;
				if (si.ssi_signo == SIGUSR1) {
					print_stats(f);
					continue;
				}
				return f->input_done || drain_all(f) >= 0
					       ? 0 : EXIT_FRAMING;
			}
			if (ev[i].data.u32 >= EV_SOCK_BASE &&
			    ev[i].data.u32 != EV_INPUT) {
				read_socket(f, ev[i].data.u32);
				continue;
			}
			/* An input fired (and EPOLLONESHOT disarmed it): poll. */
			if (f->in_oneshot && !(f->opt.in_kind ==
					       IN_UNIX_SEQPACKET &&
					       ev[i].data.u32 == EV_INPUT)) {
				if (!f->polling)
					rings_idle(f, false);
				f->polling = 1;
				f->last_input_ns = now_ns();
			}
			r = drain_input(f, ev[i].data.u32);
			if (r < 0)
				return EXIT_FRAMING;
			if (r > 0) {
				if (f->opt.print_target)
					return 0;
				end_of_input(f);
			}
		}
		if (f->polling && !f->input_done) {
			now = now_ns();
			if (poll_inputs(f, now) < 0)
				return EXIT_FRAMING;
			if (now - f->last_input_ns >= POLL_IDLE_NS)
				stop_polling(f);
		}
		/* Nothing more is ready: nothing may wait for more input. */
		if (f->opt.print_target) {
			fflush(stdout);
			continue;
		}
		flush_all(f);
		next_due = timers_due(f, &next_log);
	}
}

int main(int argc, char **argv)
{
	static struct fwd fwd;
	struct fwd *f = &fwd;
	int status;

	parse_options(&f->opt, argc, argv);
	ratelog_init(&f->log, PROG, 10);
	f->ring_sink.record = ring_record;
	f->ring_sink.ctx = f;
	f->ring_sink.max_record = f->opt.max_record;
	f->ring_sink.counts = &f->st.ring;
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		f->conns[i].fd = -1;
	setup_steering(f);
	f->src_port = f->opt.port;
	if (!f->opt.print_target)
		for (unsigned int i = 0; i < f->ntargets; i++)
			open_target(f, &f->targets[i]);

	f->sigfd = cli_signalfd(false);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->sigfd < 0 || f->epfd < 0)
		die("signalfd/epoll: %s", strerror(errno));
	if (epoll_add(f, f->sigfd, EV_SIGNAL))
		die("signalfd cannot be polled");
	if (!f->opt.print_target)
		open_control(f);
	open_input(f);
	say_started(f);

	status = run(f);
	if (f->opt.print_target) {
		fflush(stdout);
	} else {
		/* What capture rings hold goes out before the end, too. */
		for (unsigned int i = 0; i < MAX_CONNS; i++)
			ring_release(f, &f->conns[i]);
		finish_all(f);
	}
	if (status == EXIT_FRAMING)
		fprintf(stderr, PROG ": input framing lost: exiting with "
			"status %d (restart to resume)\n", EXIT_FRAMING);
	print_stats(f);
	if (f->created_path && unlink(f->opt.in_path))
		fprintf(stderr, PROG ": removing %s: %s\n", f->opt.in_path,
			strerror(errno));
	for (unsigned int i = 0; i < f->ntargets; i++) {
		txring_free(&f->targets[i].ring);
		if (f->targets[i].fd >= 0)
			close(f->targets[i].fd);
	}
	for (int c = 0; c < CTL_COUNT && !f->opt.print_target; c++)
		if (f->ctl_fd[c] >= 0)
			close(f->ctl_fd[c]);
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (f->conns[i].has_ring)
			fwdring_free(&f->conns[i].ring);
	free(f->ring_sink.buf);
	steer_hasher_free(&f->hasher);
	free(f->msg_bufs);
	free(f->stream_buf);
	return status;
}
