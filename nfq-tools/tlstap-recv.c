// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-recv: a target. Receives tlstap datagrams on a UDP socket,
 * hands them to the reassembly core (lib/reasm.c) and writes every whole
 * record, loss reports included, as a JSON line (or as raw record bytes,
 * the format tlstap-fwd reads, for chaining), and every LOST range as a
 * JSON line. NACKs leave from the listening socket to the address and
 * port the stream's datagrams came from. Output is flushed after every
 * batch of datagrams, so a reader sees each record as soon as it is
 * complete.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "jsonout.h"
#include "pcapng.h"
#include "ratelog.h"
#include "reasm.h"
#include "wire.h"

#define PROG "tlstap-recv"
#define BATCH 64
#define DGRAM_BUF 65536		/* larger than any UDP payload */

enum output_kind { OUT_JSON, OUT_RAW, OUT_PCAPNG };

struct options {
	struct endpoint listen;
	enum output_kind output;
	const char *out_path;
	const char *dgram_log_path;
	const char *lost_path;
	uint32_t max_record;
	size_t max_pending;
	unsigned int max_streams;
	int rcvbuf;
	int stats_json;
	unsigned int nack_timeout_ms;
	unsigned int nack_tries;
};

struct recv_stats {
	unsigned long long recv_calls, truncated, tos_missing;
	unsigned long long nack_send_errors;
};

struct recv {
	struct options opt;
	struct reasm *reasm;
	struct jsonout json;
	struct pcapng *pcap;	/* --output pcapng */
	FILE *out, *dgram_log;
	FILE *lost;		/* LOST lines: out, --lost FILE or stderr */
	struct recv_stats st;
	struct ratelog log;
	int fd, sigfd;
	uint64_t deadline;	/* of the reassembly core's timer; 0: none */
	uint8_t *bufs;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int)) * 2 +
			 CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} cmsg[BATCH];
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
"usage: " PROG " --listen ADDR:PORT [options]\n"
"    --listen ADDR:PORT    UDP address to receive on ([::]:PORT: IPv4 too)\n"
"    --output json|raw|pcapng  JSON lines (default), raw records or pcapng\n"
"    --out FILE            where records go (default stdout)\n"
"    --lost FILE           LOST lines (records given up) go here (default:\n"
"                          with the records in JSON output, stderr in raw)\n"
"    --nack-timeout-ms N   before the second NACK, doubling (default 20)\n"
"    --nack-tries N        NACKs per missing datagram (default 6)\n"
"    --log-datagrams FILE  one JSON line per datagram (seq, size, TOS...)\n"
"    --max-record N        largest plaintext accepted (default %u)\n"
"    --max-pending BYTES   memory for incomplete records (default 64 MiB)\n"
"    --max-streams N       sender streams tracked at once (default 256)\n"
"    --rcvbuf BYTES        socket receive buffer (default 16 MiB)\n"
"    --stats-json          counters as JSON (on SIGUSR1 and at exit)\n",
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
	enum { O_LISTEN = 256, O_OUTPUT, O_OUT, O_LOGDG, O_MAXREC, O_PENDING,
	       O_STREAMS, O_RCVBUF, O_JSON, O_LOST, O_NACK_TIMEOUT,
	       O_NACK_TRIES };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "out", required_argument, NULL, O_OUT },
		{ "log-datagrams", required_argument, NULL, O_LOGDG },
		{ "max-record", required_argument, NULL, O_MAXREC },
		{ "max-pending", required_argument, NULL, O_PENDING },
		{ "max-streams", required_argument, NULL, O_STREAMS },
		{ "rcvbuf", required_argument, NULL, O_RCVBUF },
		{ "stats-json", no_argument, NULL, O_JSON },
		{ "lost", required_argument, NULL, O_LOST },
		{ "nack-timeout-ms", required_argument, NULL, O_NACK_TIMEOUT },
		{ "nack-tries", required_argument, NULL, O_NACK_TRIES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[160];
	int c, have_listen = 0;

	memset(o, 0, sizeof(*o));
	o->output = OUT_JSON;
	o->max_record = TLSTAP_DEFAULT_MAX_RECORD;
	o->max_pending = 64u << 20;
	o->max_streams = 256;
	o->rcvbuf = 16 << 20;
	o->nack_timeout_ms = REASM_NACK_TIMEOUT_NS / 1000000;
	o->nack_tries = REASM_NACK_TRIES;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			if (endpoint_parse(optarg, 1, &o->listen, err,
					   sizeof(err)))
				die("--listen: %s", err);
			have_listen = 1;
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
		case O_RCVBUF:
			o->rcvbuf = (int)parse_ulong("--rcvbuf", optarg, 4096,
						     1u << 30);
			break;
		case O_JSON:
			o->stats_json = 1;
			break;
		case O_LOST:
			o->lost_path = optarg;
			break;
		case O_NACK_TIMEOUT:
			o->nack_timeout_ms = (unsigned int)parse_ulong(
				"--nack-timeout-ms", optarg, 1, 60000);
			break;
		case O_NACK_TRIES:
			o->nack_tries = (unsigned int)parse_ulong(
				"--nack-tries", optarg, 1, 255);
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
	if (!have_listen)
		die("no --listen given (see --help)");
}

/* --------------------------------------------------------------- output */

static void emit_record(void *arg, const struct reasm_record *r)
{
	struct recv *rv = arg;
	int bad;

	if (rv->opt.output == OUT_JSON)
		bad = jsonout_record(&rv->json, r);
	else if (rv->pcap)
		bad = pcapng_record(rv->pcap, r);
	else
		bad = fwrite(r->rec->bytes, 1, r->rec->len, rv->out) !=
		      r->rec->len;
	if (bad)
		die("writing a record to %s: %s",
		    rv->opt.out_path ? rv->opt.out_path : "stdout",
		    strerror(errno));
}

static void emit_lost(void *arg, const struct reasm_lost *l)
{
	struct recv *rv = arg;

	if (jsonout_lost(rv->lost, l))
		die("writing a LOST line: %s", strerror(errno));
	if (rv->pcap) {
		struct pcapng_loss pl = {
			.sender = l->sender, .stream_id = l->stream_id,
			.record_first = l->record_first,
			.record_last = l->record_last,
			.has_first = l->has_record_first,
			.has_last = l->has_record_last,
			.reason = reasm_lost_reason_name(l->reason),
		};

		if (pcapng_lost(rv->pcap, &pl))
			die("writing a LOST marker to the pcapng: %s",
			    strerror(errno));
	}
}

/* From the listening socket, to where the stream's datagrams came from. */
static void send_nack(void *arg, const struct endpoint *to,
		      const uint8_t *msg, size_t len)
{
	struct recv *rv = arg;
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (rv->opt.listen.family == TLSTAP_FAMILY_IPV6 &&
	    to->family == TLSTAP_FAMILY_IPV4) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(to->port);
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(sin6->sin6_addr.s6_addr + 12, to->addr, 4);
		sslen = sizeof(*sin6);
	} else {
		sslen = endpoint_to_sockaddr(to, &ss);
	}
	if (sendto(rv->fd, msg, len, MSG_DONTWAIT, (struct sockaddr *)&ss,
		   sslen) != (ssize_t)len) {
		char name[ENDPOINT_STRLEN];

		rv->st.nack_send_errors++;
		endpoint_format(to, name, sizeof(name));
		ratelog(&rv->log, "sending a NACK to %s: %s", name,
			strerror(errno));
	}
}

static void log_datagram(struct recv *rv, const struct endpoint *from,
			 size_t size, int tos,
			 const struct reasm_dgram_info *info)
{
	char sender[ENDPOINT_STRLEN];

	endpoint_format(from, sender, sizeof(sender));
	fprintf(rv->dgram_log, "{\"sender\":\"%s\",\"size\":%zu,\"tos\":%d",
		sender, size, tos);
	reasm_dgram_info_json(rv->dgram_log, info);
	fputs("}\n", rv->dgram_log);
}

static void report_stream(void *arg, const struct reasm_stream_report *s)
{
	struct recv *rv = arg;
	char sender[ENDPOINT_STRLEN];
	uint32_t first, last, from = s->seqs->next - SEQTRACK_WINDOW;
	unsigned int shown = 0;

	endpoint_format(s->sender, sender, sizeof(sender));
	fprintf(stderr,
		PROG ": stream %s/%u: next_seq=%u missing_seqs=%u "
		"expired_seqs=%llu next_record_id=%u incomplete_records=%u "
		"missing_record_ids=%u nacking_ranges=%u\n",
		sender, s->stream_id, s->seqs->next, s->seqs->holes,
		s->seqs->expired, s->records->next, s->pending_records,
		s->records->holes, s->missing_ranges);
	while (shown < 8 && seqtrack_next_hole(s->seqs, from, &first, &last)) {
		fprintf(stderr, PROG ":   missing seq %u..%u\n", first, last);
		from = last + 1;
		shown++;
	}
	(void)rv;
}

static void print_stats(struct recv *rv)
{
	const struct reasm_stats *s = reasm_stats(rv->reasm);

	if (rv->pcap)
		pcapng_print_stats(rv->pcap, stderr, PROG);
	if (!rv->opt.stats_json) {
		fprintf(stderr,
			PROG ": datagrams=%llu bytes=%llu invalid=%llu "
			"unsupported=%llu duplicates=%llu late=%llu "
			"stale=%llu seq_gaps=%llu records=%llu "
			"record_bytes=%llu loss_reports=%llu aborted=%llu "
			"inconsistent=%llu "
			"invalid_records=%llu evicted=%llu pending_bytes=%llu "
			"streams=%llu truncated=%llu retransmitted=%llu "
			"nacks_sent=%llu nack_seqs=%llu nack_send_errors=%llu "
			"heartbeats_received=%llu gaps_received=%llu "
			"gaps_unknown_stream=%llu lost_datagrams=%llu "
			"lost_records=%llu lost_ranges=%llu "
			"lost_open_ended=%llu\n",
			s->datagrams, s->bytes, s->invalid, s->unsupported,
			s->dup_datagrams, s->late_datagrams, s->stale_datagrams,
			s->seq_gaps, s->records, s->record_bytes,
			s->loss_reports, s->records_aborted,
			s->records_inconsistent,
			s->records_invalid, s->records_evicted,
			s->pending_bytes, s->streams, rv->st.truncated,
			s->retransmitted, s->nacks_sent, s->nack_seqs,
			rv->st.nack_send_errors, s->heartbeats_received,
			s->gaps_received, s->gaps_unknown_stream,
			s->lost_datagrams, s->lost_records, s->lost_ranges,
			s->lost_open_ended);
		for (int i = 1; i < WIRE_STATUS_COUNT; i++)
			if (s->invalid_by[i])
				fprintf(stderr, PROG ":   invalid %s=%llu\n",
					wire_status_name(i), s->invalid_by[i]);
		reasm_foreach_stream(rv->reasm, report_stream, rv);
		return;
	}
	fprintf(stderr,
		"{\"datagrams\":%llu,\"bytes\":%llu,\"invalid\":%llu,"
		"\"invalid_by_reason\":{",
		s->datagrams, s->bytes, s->invalid);
	for (int i = 1; i < WIRE_STATUS_COUNT; i++)
		fprintf(stderr, "%s\"%s\":%llu", i > 1 ? "," : "",
			wire_status_name(i), s->invalid_by[i]);
	fprintf(stderr,
		"},\"unsupported\":%llu,\"duplicates\":%llu,\"late\":%llu,"
		"\"stale\":%llu,\"retransmitted\":%llu,\"seq_gaps\":%llu,"
		"\"chunks\":%llu,\"dup_chunks\":%llu,\"stale_chunks\":%llu,"
		"\"records\":%llu,\"record_bytes\":%llu,"
		"\"loss_reports\":%llu,\"aborted\":%llu,"
		"\"inconsistent\":%llu,\"invalid_records\":%llu,"
		"\"evicted\":%llu,\"pending_bytes\":%llu,\"streams\":%llu,"
		"\"streams_evicted\":%llu,\"truncated\":%llu,"
		"\"recv_calls\":%llu,\"tos_missing\":%llu,"
		"\"nacks_sent\":%llu,\"nack_seqs\":%llu,"
		"\"nack_send_errors\":%llu,\"heartbeats_received\":%llu,"
		"\"gaps_received\":%llu,\"gaps_unknown_stream\":%llu,"
		"\"lost_datagrams\":%llu,\"lost_records\":%llu,"
		"\"lost_ranges\":%llu,\"lost_open_ended\":%llu}\n",
		s->unsupported, s->dup_datagrams, s->late_datagrams,
		s->stale_datagrams, s->retransmitted, s->seq_gaps, s->chunks,
		s->dup_chunks, s->stale_chunks, s->records, s->record_bytes,
		s->loss_reports, s->records_aborted, s->records_inconsistent,
		s->records_invalid, s->records_evicted, s->pending_bytes,
		s->streams, s->streams_evicted, rv->st.truncated,
		rv->st.recv_calls, rv->st.tos_missing, s->nacks_sent,
		s->nack_seqs, rv->st.nack_send_errors, s->heartbeats_received,
		s->gaps_received, s->gaps_unknown_stream, s->lost_datagrams,
		s->lost_records, s->lost_ranges, s->lost_open_ended);
	reasm_foreach_stream(rv->reasm, report_stream, rv);
}

/* -------------------------------------------------------------- receive */

static void open_socket(struct recv *rv)
{
	struct sockaddr_storage ss;
	socklen_t len = endpoint_to_sockaddr(&rv->opt.listen, &ss);
	int ipv6 = rv->opt.listen.family == TLSTAP_FAMILY_IPV6;
	int one = 1, zero = 0;

	rv->fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC,
			0);
	if (rv->fd < 0)
		die("socket: %s", strerror(errno));
	if (ipv6 && setsockopt(rv->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			       sizeof(zero)))
		die("IPV6_V6ONLY: %s", strerror(errno));
	/* IPv4 TOS arrives for IPv4 and v4-mapped senders alike. */
	/* Arrival times: a NACK retry waits for what came before it. */
	if (setsockopt(rv->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))
		die("SO_TIMESTAMPNS: %s", strerror(errno));
	if (setsockopt(rv->fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)))
		die("IP_RECVTOS: %s", strerror(errno));
	if (ipv6 && setsockopt(rv->fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one,
			       sizeof(one)))
		die("IPV6_RECVTCLASS: %s", strerror(errno));
	if (setsockopt(rv->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rv->opt.rcvbuf,
		       sizeof(rv->opt.rcvbuf)) &&
	    setsockopt(rv->fd, SOL_SOCKET, SO_RCVBUF, &rv->opt.rcvbuf,
		       sizeof(rv->opt.rcvbuf)))
		die("SO_RCVBUF: %s", strerror(errno));
	if (bind(rv->fd, (struct sockaddr *)&ss, len)) {
		char name[ENDPOINT_STRLEN];

		endpoint_format(&rv->opt.listen, name, sizeof(name));
		die("binding %s: %s", name, strerror(errno));
	}
	rv->bufs = malloc((size_t)BATCH * DGRAM_BUF);
	if (!rv->bufs)
		die("out of memory for receive buffers");
	for (int i = 0; i < BATCH; i++) {
		rv->iov[i].iov_base = rv->bufs + (size_t)i * DGRAM_BUF;
		rv->iov[i].iov_len = DGRAM_BUF;
	}
}

/*
 * When the kernel received the datagram, on the monotonic clock (the
 * timestamp is CLOCK_REALTIME: shifted by the clocks' offset); now if
 * there is none.
 */
static uint64_t datagram_arrival(struct msghdr *mh, int64_t offset,
				 uint64_t now)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			int64_t t;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
			    offset;
			return t > 0 && (uint64_t)t < now ? (uint64_t)t : now;
		}
	}
	return now;
}

static int datagram_tos(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
			return *(unsigned char *)CMSG_DATA(c);
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_TCLASS) {
			int v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v;
		}
	}
	return -1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Receives until the socket is drained. */
static void receive_batch(struct recv *rv)
{
	for (;;) {
		uint64_t now, seen;
		int64_t offset;
		int n;

		for (int i = 0; i < BATCH; i++) {
			struct msghdr *mh = &rv->msgs[i].msg_hdr;

			memset(mh, 0, sizeof(*mh));
			mh->msg_name = &rv->from[i];
			mh->msg_namelen = sizeof(rv->from[i]);
			mh->msg_iov = &rv->iov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = rv->cmsg[i].buf;
			mh->msg_controllen = sizeof(rv->cmsg[i].buf);
		}
		n = recvmmsg(rv->fd, rv->msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* ICMP errors and the like: report, keep going. */
			ratelog(&rv->log, "recvmmsg: %s", strerror(errno));
			return;
		}
		rv->st.recv_calls++;
		now = now_ns();
		offset = realtime_ns() - (int64_t)now;
		seen = 0;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &rv->msgs[i].msg_hdr;
			struct reasm_dgram_info info;
			struct endpoint from;
			int tos = datagram_tos(mh);
			uint64_t arrived = datagram_arrival(mh, offset, now);

			if (endpoint_from_sockaddr((struct sockaddr *)&rv->from[i],
						   &from))
				continue;
			if (tos < 0)
				rv->st.tos_missing++;
			if (mh->msg_flags & MSG_TRUNC) {
				/* Larger than any valid datagram. */
				rv->st.truncated++;
				continue;
			}
			if (arrived > seen)
				seen = arrived;
			reasm_datagram(rv->reasm, &from, rv->iov[i].iov_base,
				       rv->msgs[i].msg_len, arrived, &info);
			if (rv->dgram_log)
				log_datagram(rv, &from, rv->msgs[i].msg_len,
					     tos, &info);
		}
		/*
		 * NACK new holes at once, even in a long burst: the sender
		 * holds only so much for retransmission. A retry waits until
		 * what arrived before its deadline is read: its answer may be
		 * in it.
		 */
		rv->deadline = reasm_timer_backlog(rv->reasm, now_ns(),
						   seen ? seen : now);
		if (n < BATCH)
			return;
	}
}

static FILE *open_output(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("opening %s: %s", path, strerror(errno));
	return f;
}

static void flush_outputs(struct recv *rv)
{
	if ((rv->pcap && pcapng_tick(rv->pcap)) || fflush(rv->out) ||
	    fflush(rv->lost) ||
	    (rv->dgram_log && fflush(rv->dgram_log)))
		die("writing output: %s", strerror(errno));
}

/* Milliseconds until deadline (0: none), for poll; -1 waits forever. */
static int poll_timeout(uint64_t deadline)
{
	uint64_t now;

	if (!deadline)
		return -1;
	now = now_ns();
	if (deadline <= now)
		return 0;
	/* Rounded up: waking early would only spin. */
	return (int)((deadline - now + 999999) / 1000000);
}

int main(int argc, char **argv)
{
	static struct recv rcv;
	struct recv *rv = &rcv;
	struct reasm_config cfg;
	struct reasm_ops ops = {
		.record = emit_record,
		.lost = emit_lost,
		.nack = send_nack,
	};
	sigset_t sigs;

	parse_options(&rv->opt, argc, argv);
	ratelog_init(&rv->log, PROG, 10);
	rv->out = rv->opt.out_path ? open_output(rv->opt.out_path) : stdout;
	if (rv->opt.dgram_log_path)
		rv->dgram_log = open_output(rv->opt.dgram_log_path);
	if (rv->opt.lost_path)
		rv->lost = open_output(rv->opt.lost_path);
	else
		rv->lost = rv->opt.output == OUT_JSON ? rv->out : stderr;
	jsonout_init(&rv->json, rv->out);
	if (rv->opt.output == OUT_PCAPNG) {
		struct pcapng_config pc;

		pcapng_config_init(&pc);
		pc.application = PROG;
		rv->pcap = pcapng_new(rv->out, &pc);
		if (!rv->pcap)
			die("starting the pcapng output: %s", strerror(errno));
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_msg_len = rv->opt.max_record;
	cfg.max_pending_bytes = rv->opt.max_pending;
	cfg.max_streams = rv->opt.max_streams;
	cfg.nack_timeout_ns = rv->opt.nack_timeout_ms * 1000000ull;
	cfg.nack_tries = rv->opt.nack_tries;
	rv->reasm = reasm_new(&cfg, &ops, rv);
	if (!rv->reasm)
		die("out of memory");
	open_socket(rv);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL))
		die("sigprocmask: %s", strerror(errno));
	rv->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (rv->sigfd < 0)
		die("signalfd: %s", strerror(errno));

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = rv->fd, .events = POLLIN },
			{ .fd = rv->sigfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		int ms = poll_timeout(rv->deadline);

		/* Records held for earlier ones wait at most their hold time. */
		if (rv->pcap && pcapng_stats(rv->pcap)->held_now &&
		    (ms < 0 || ms > 100))
			ms = 100;
		if (poll(pfd, 2, ms) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pfd[0].revents)
			receive_batch(rv);
		/* Drained: old holes are NACKed again on their timeout. */
		rv->deadline = reasm_timer(rv->reasm, now_ns());
		flush_outputs(rv);
		if (!pfd[1].revents ||
		    read(rv->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1) {
			print_stats(rv);
			continue;
		}
		/* Whatever already arrived is still processed. */
		receive_batch(rv);
		break;
	}
	/* What is still missing now is lost: said, not left silent. */
	reasm_flush(rv->reasm);
	if (rv->pcap && pcapng_finish(rv->pcap))
		die("writing the pcapng: %s", strerror(errno));
	flush_outputs(rv);
	print_stats(rv);
	reasm_free(rv->reasm);
	jsonout_free(&rv->json);
	pcapng_free(rv->pcap);
	if (rv->out != stdout && fclose(rv->out))
		die("closing %s: %s", rv->opt.out_path, strerror(errno));
	if (rv->dgram_log && fclose(rv->dgram_log))
		die("closing %s: %s", rv->opt.dgram_log_path, strerror(errno));
	if (rv->opt.lost_path && fclose(rv->lost))
		die("closing %s: %s", rv->opt.lost_path, strerror(errno));
	free(rv->bufs);
	close(rv->fd);
	return 0;
}
