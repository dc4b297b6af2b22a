// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-recv: a target. Receives tlstap datagrams on a UDP socket,
 * hands them to the reassembly core (lib/reasm.c) and writes every whole
 * record, loss reports included, as a JSON line (or as raw record bytes,
 * the format tlstap-fwd reads, for chaining), and every LOST range as a
 * JSON line. NACKs leave from the listening socket to the address and
 * port the stream's datagrams came from. Output is flushed after every
 * batch of datagrams, so a reader sees each record as soon as it is
 * complete. Nothing is written (or truncated) before the socket is bound
 * and the files opened; with --state, where each stream stands is saved
 * every second and at exit, and the next run continues from there.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "mmsg.h"
#include "ratelog.h"
#include "reasm.h"
#include "recvopts.h"
#include "recvout.h"
#include "recvstate.h"
#include "recvstats.h"

#define PROG "tlstap-recv"
#define BATCH 64
#define DGRAM_BUF 65536		/* larger than any UDP payload */

#define die(...) cli_die(PROG, __VA_ARGS__)

struct options {
	struct endpoint listen;
	struct recvopts recv;
};

struct recv_stats {
	unsigned long long recv_calls, truncated, tos_missing;
	unsigned long long nack_send_errors;
};

struct recv {
	struct options opt;
	struct reasm *reasm;
	struct recvout out;
	struct recv_stats st;
	struct ratelog log;
	struct recvstate state;	/* --state */
	uint64_t state_saved;	/* when, monotonic ns */
	int state_dirty;	/* datagrams since */
	int state_failed;	/* the last save failed: again */
	int status;		/* exit status */
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

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " --listen ADDR:PORT [options]\n"
"    --listen ADDR:PORT    UDP address to receive on ([::]:PORT: IPv4 too)\n"
"    --log-datagrams FILE  one JSON line per datagram (seq, size, TOS...)\n"
"    --rcvbuf BYTES        socket receive buffer (default %d MiB)\n",
		RECVOPTS_DEFAULT_RCVBUF >> 20);
	recvopts_usage(f);
	fputs("    -h, --help            this help\n"
	      "    --version             " PROG " and its version\n", f);
}

static void parse_options(struct options *o, int argc, char **argv)
{
	enum { O_LISTEN = RECVOPT_END };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		RECVOPTS_LONGOPTS,
		CLI_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli;
	char err[160];
	int c, have_listen = 0;

	memset(o, 0, sizeof(*o));
	recvopts_init(&o->recv);
	cli_init(&cli, PROG, usage, longopts);
	while ((c = cli_getopt(&cli, argc, argv)) != -1) {
		if (recvopts_parse(&o->recv, PROG, c, optarg))
			continue;
		if (c == O_LISTEN) {
			if (endpoint_parse(optarg, 1, &o->listen, err,
					   sizeof(err)))
				cli_usage_error(PROG, "--listen: %s", err);
			have_listen = 1;
		}
	}
	cli_no_operands(PROG, argc, argv);
	if (!have_listen)
		cli_usage_error(PROG, "no --listen given");
	recvopts_check(&o->recv, PROG);
}

/* --------------------------------------------------------------- output */

static void emit_record(void *arg, const struct reasm_record *r)
{
	struct recv *rv = arg;
	char err[512];

	if (recvout_record(&rv->out, r, err, sizeof(err)))
		die("%s", err);
}

static void emit_lost(void *arg, const struct reasm_lost *l)
{
	struct recv *rv = arg;
	char err[512];

	if (recvout_lost(&rv->out, l, err, sizeof(err)))
		die("%s", err);
}

static void stream_started(void *arg, const struct reasm_start *st)
{
	struct recv *rv = arg;
	char err[512];

	recvstats_start(&rv->log, st);
	if (recvout_stream_start(&rv->out, st, err, sizeof(err)))
		die("%s", err);
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
	char sender[ENDPOINT_STRLEN], err[512];

	endpoint_format(from, sender, sizeof(sender));
	fprintf(rv->out.dgram_log,
		"{\"sender\":\"%s\",\"size\":%zu,\"tos\":%d", sender, size,
		tos);
	reasm_dgram_info_json(rv->out.dgram_log, info);
	fputs("}\n", rv->out.dgram_log);
	if (recvout_logged(&rv->out, err, sizeof(err)))
		die("%s", err);
}

/* Counters: the core's, the socket's, the outputs', pcapng's; per stream. */
static void print_stats(struct recv *rv)
{
	struct outfile_stats os;
	struct statprint sp;

	statprint_begin(&sp, stderr, PROG, rv->opt.recv.stats_json);
	recvstats_reasm(&sp, reasm_stats(rv->reasm));
	statprint_u64(&sp, "truncated", rv->st.truncated);
	statprint_u64(&sp, "recv_calls", rv->st.recv_calls);
	statprint_u64(&sp, "tos_missing", rv->st.tos_missing);
	statprint_u64(&sp, "nack_send_errors", rv->st.nack_send_errors);
	recvout_stats(&rv->out, &os);
	recvstats_output(&sp, &os);
	recvout_print_stats(&rv->out, &sp);
	statprint_end(&sp);
	recvstats_streams(stderr, PROG, rv->reasm);
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
	if (setsockopt(rv->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rv->opt.recv.rcvbuf,
		       sizeof(rv->opt.recv.rcvbuf)) &&
	    setsockopt(rv->fd, SOL_SOCKET, SO_RCVBUF, &rv->opt.recv.rcvbuf,
		       sizeof(rv->opt.recv.rcvbuf)))
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

		for (int i = 0; i < BATCH; i++)
			mmsg_slot_reset(&rv->msgs[i], &rv->from[i], &rv->iov[i],
					rv->cmsg[i].buf,
					sizeof(rv->cmsg[i].buf));
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
			rv->state_dirty = 1;
			if (rv->out.dgram_log)
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

static void flush_outputs(struct recv *rv)
{
	char err[512];

	if (recvout_flush(&rv->out, err, sizeof(err)))
		die("%s", err);
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

/*
 * Writes the state file: after the outputs are on the disk, so that it
 * never says a record was written that is not. At exit always (a failure
 * then fails the run: the next one would repeat records); while running
 * once a second if anything changed (a failure is said and retried).
 */
static void save_state(struct recv *rv, int final)
{
	char err[512];

	if (!rv->opt.recv.state_path)
		return;
	if (!final) {
		if (now_ns() - rv->state_saved <
		    RECVSTATE_INTERVAL_MS * 1000000ull)
			return;
		rv->state_saved = now_ns();
		rv->state_dirty = 0;
		if (!reasm_changed(rv->reasm) && !rv->state_failed)
			return;
	}
	if (recvout_sync(&rv->out, err, sizeof(err)))
		die("%s", err);
	rv->state_failed = recvstate_save(&rv->state, rv->reasm, err,
					   sizeof(err));
	if (!rv->state_failed)
		return;
	if (!final) {
		ratelog(&rv->log, "%s (trying again in a second)", err);
		rv->state_dirty = 1;
		return;
	}
	cli_error(PROG, "%s: the next start repeats what was written since it was last saved", err);
	rv->status = 1;
}

/* Everything else has started: the outputs, then the streams saved. */
static void start_outputs(struct recv *rv)
{
	char err[512], listen[ENDPOINT_STRLEN], senders[1200], out[600];
	char state[700] = "";

	if (recvout_open(&rv->out, &rv->opt.recv, PROG, err, sizeof(err)))
		die("%s", err);
	if (recvout_start(&rv->out, err, sizeof(err)))
		die("%s", err);
	if (rv->opt.recv.state_path) {
		if (recvstate_restore(&rv->state, rv->reasm, err, sizeof(err)))
			die("%s", err);
		if (rv->state.existed)
			snprintf(state, sizeof(state), "; state %s: %u streams and %u evicted ones restored",
				 rv->opt.recv.state_path,
				 rv->state.nstreams - rv->state.nevicted,
				 rv->state.nevicted);
		else
			snprintf(state, sizeof(state), "; state %s (none yet)",
				 rv->opt.recv.state_path);
	}
	endpoint_format(&rv->opt.listen, listen, sizeof(listen));
	recvopts_senders(&rv->opt.recv, senders, sizeof(senders));
	recvout_describe(&rv->out, out, sizeof(out));
	fprintf(stderr, PROG ": listening on %s (UDP) for %s; writing %s%s\n",
		listen, senders, out, state);
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
		.start = stream_started,
	};
	char err[512];

	parse_options(&rv->opt, argc, argv);
	ratelog_init(&rv->log, PROG, 10);
	/* What can fail at start, before any output is touched. */
	if (rv->opt.recv.state_path &&
	    recvstate_open(&rv->state, rv->opt.recv.state_path, err,
			   sizeof(err)))
		die("%s", err);
	recvopts_reasm_config(&rv->opt.recv, &cfg);
	rv->reasm = reasm_new(&cfg, &ops, rv);
	if (!rv->reasm)
		die("out of memory");
	/*
	 * Signals first: whoever sees the socket bound may signal at once
	 * (SIGTERM to stop it, SIGUSR1 for the counters), and either would
	 * kill it unhandled.
	 */
	rv->sigfd = cli_signalfd(false);
	if (rv->sigfd < 0)
		die("signals: %s", strerror(errno));
	open_socket(rv);
	start_outputs(rv);
	rv->state_saved = now_ns();
	/* Streams restored: their missing seqs are NACKed at once. */
	rv->deadline = reasm_timer(rv->reasm, now_ns());
	flush_outputs(rv);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = rv->fd, .events = POLLIN },
			{ .fd = rv->sigfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		int ms = poll_timeout(rv->deadline);
		int out_ms = recvout_timeout_ms(&rv->out);

		/* Records held, a file of a series due: the outputs' time. */
		if (out_ms >= 0 && (ms < 0 || ms > out_ms))
			ms = out_ms;
		if (rv->state_dirty && (ms < 0 || ms > RECVSTATE_INTERVAL_MS))
			ms = RECVSTATE_INTERVAL_MS;
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
		save_state(rv, 0);
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
	/*
	 * What is still missing now is lost: said, not left silent; with a
	 * state file the next run asks for it instead.
	 */
	if (!rv->opt.recv.state_path)
		reasm_flush(rv->reasm);
	if (recvout_finish(&rv->out, err, sizeof(err)))
		die("%s", err);
	save_state(rv, 1);
	print_stats(rv);
	reasm_free(rv->reasm);
	if (recvout_close(&rv->out, err, sizeof(err)))
		die("%s", err);
	if (rv->opt.recv.state_path)
		recvstate_close(&rv->state);
	free(rv->bufs);
	close(rv->fd);
	return rv->status;
}
