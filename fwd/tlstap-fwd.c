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
 * Capture rings (docs/PROTOCOL.md 7, fwdring.c): a producer on a
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
#include "fwd.h"

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
		used = (size_t)snprintf(key, sizeof(key), "; steering by the random key ");
		for (int i = 0; i < TLSTAP_HASH_KEY_LEN; i++)
			used += (size_t)snprintf(key + used, sizeof(key) - used,
						 "%02x", f->opt.hash_key[i]);
	}
	if (f->opt.print_target)
		fprintf(stderr, PROG ": reading %s%s%s; printing the target of each record (%s), sending nothing%s\n",
			inputs[f->opt.in_kind], f->opt.in_path ? " " : "",
			f->opt.in_path ? f->opt.in_path : "", targets, key);
	else
		fprintf(stderr, PROG ": reading %s%s%s; sending from UDP port %u (NACKs come back there) to %s%s\n",
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
		fprintf(stderr, PROG ": input framing lost: exiting with status %d (restart to resume)\n", EXIT_FRAMING);
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
