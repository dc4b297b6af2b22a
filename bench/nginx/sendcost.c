// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sendcost: what one record's system call costs the writer, per output
 * kind and per way the reader waits, without nginx's noise.
 *
 * A writer thread (pinned to CPU W) sends N records of SIZE bytes, one
 * system call each, spinning GAP_US between them (a server's own work
 * between two records); a reader thread (pinned to CPU R) drains them.
 * Prints the writer's wall time inside the call (median, mean, p99), its
 * CPU time per record (user + system, whole run minus the spinning is not
 * separable, so both the total and the per-call wall time are given), the
 * reader's CPU per record and how many records were dropped (EAGAIN).
 *
 * Output kinds: dgram (connected Unix datagram socket), seqpacket, fifo
 * (with the SIGPIPE guard libtlstap.so uses: 2 extra system calls),
 * fifo-raw (without it), null (/dev/null).
 * Reader modes: block (epoll_wait on the input: woken per record when it
 * sleeps), poll (EPOLLONESHOT, drained every POLL_US: nobody is woken
 * while it polls).
 *
 * Usage: sendcost KIND MODE N SIZE GAP_US POLL_US W R [SNDBUF]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct cfg {
	const char *kind, *mode;
	long n, size, gap_ns, poll_ns;
	int wcpu, rcpu, sndbuf;
	int wfd, rfd;

	_Atomic int done;
	long drops;
	long received;
	double reader_cpu_s;
	unsigned long wakeups;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (pthread_setaffinity_np(pthread_self(), sizeof(s), &s))
		fprintf(stderr, "sendcost: cannot pin to CPU %d\n", cpu);
}

static void die(const char *what)
{
	fprintf(stderr, "sendcost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long drain(struct cfg *c, char *buf, size_t cap)
{
	long got = 0;
	ssize_t r;

	if (!strcmp(c->kind, "null"))
		return 0;
	while ((r = read(c->rfd, buf, cap)) > 0)
		got += strncmp(c->kind, "fifo", 4) ? 1 : r / c->size;
	return got;
}

static void *reader(void *arg)
{
	struct cfg *c = arg;
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	double t0;
	bool polling = !strcmp(c->mode, "poll");

	if (!buf || ep < 0)
		die("reader setup");
	pin(c->rcpu);
	t0 = thread_cpu_s();
	if (strcmp(c->kind, "null")) {
		if (polling)
			ev.events |= EPOLLONESHOT;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->rfd, &ev))
			die("epoll_ctl");
	}
	while (!atomic_load(&c->done)) {
		if (polling) {
			struct timespec ts = { 0, c->poll_ns };

			nanosleep(&ts, NULL);
		} else if (epoll_wait(ep, &ev, 1, 100) <= 0) {
			continue;
		}
		c->wakeups++;
		c->received += drain(c, buf, cap);
	}
	c->received += drain(c, buf, cap);
	c->reader_cpu_s = thread_cpu_s() - t0;
	free(buf);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static struct cfg c;
	pthread_t rt;
	uint64_t *lat, sum = 0;
	char *rec;
	double w0, w1;
	int sv[2];

	if (argc < 9) {
		fprintf(stderr, "usage: sendcost KIND MODE N SIZE GAP_US POLL_US WCPU RCPU [SNDBUF]\n");
		return 2;
	}
	c.kind = argv[1];
	c.mode = argv[2];
	c.n = atol(argv[3]);
	c.size = atol(argv[4]);
	c.gap_ns = atol(argv[5]) * 1000;
	c.poll_ns = atol(argv[6]) * 1000;
	c.wcpu = atoi(argv[7]);
	c.rcpu = atoi(argv[8]);
	c.sndbuf = argc > 9 ? atoi(argv[9]) : 0;
	if (!strcmp(c.kind, "dgram") || !strcmp(c.kind, "seqpacket")) {
		int type = c.kind[0] == 'd' ? SOCK_DGRAM : SOCK_SEQPACKET;

		if (socketpair(AF_UNIX, type, 0, sv))
			die("socketpair");
		c.wfd = sv[0];
		c.rfd = sv[1];
		if (type == SOCK_DGRAM) {
			/*
			 * A socketpair's peers are each other's: the queue
			 * limit would not apply. Use a bound receiver.
			 */
			struct sockaddr_un a = { .sun_family = AF_UNIX };

			close(sv[0]);
			close(sv[1]);
			snprintf(a.sun_path, sizeof(a.sun_path),
				 "/tmp/sendcost.%d", getpid());
			c.rfd = socket(AF_UNIX, SOCK_DGRAM, 0);
			c.wfd = socket(AF_UNIX, SOCK_DGRAM, 0);
			if (c.rfd < 0 || c.wfd < 0 ||
			    bind(c.rfd, (void *)&a, sizeof(a)) ||
			    connect(c.wfd, (void *)&a, sizeof(a)))
				die("dgram");
			unlink(a.sun_path);
		}
		if (c.sndbuf && setsockopt(c.wfd, SOL_SOCKET, SO_SNDBUF,
					   &c.sndbuf, sizeof(c.sndbuf)))
			die("SO_SNDBUF");
	} else if (!strncmp(c.kind, "fifo", 4)) {
		char p[64];

		snprintf(p, sizeof(p), "/tmp/sendcost.%d", getpid());
		if (mkfifo(p, 0600))
			die("mkfifo");
		c.rfd = open(p, O_RDONLY | O_NONBLOCK);
		c.wfd = open(p, O_WRONLY | O_NONBLOCK);
		unlink(p);
		if (c.rfd < 0 || c.wfd < 0)
			die("fifo");
		if (c.sndbuf && fcntl(c.rfd, F_SETPIPE_SZ, c.sndbuf) < 0)
			die("F_SETPIPE_SZ");
	} else if (!strcmp(c.kind, "null")) {
		c.wfd = open("/dev/null", O_WRONLY);
		c.rfd = -1;
	} else {
		fprintf(stderr, "sendcost: unknown kind %s\n", c.kind);
		return 2;
	}
	if (strcmp(c.kind, "null"))
		fcntl(c.rfd, F_SETFL, fcntl(c.rfd, F_GETFL) | O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	rec = calloc(1, c.size);
	lat = calloc(c.n, sizeof(*lat));
	if (!rec || !lat)
		die("malloc");
	if (pthread_create(&rt, NULL, reader, &c))
		die("pthread_create");
	pin(c.wcpu);
	usleep(10000);
	w0 = thread_cpu_s();
	for (long i = 0; i < c.n; i++) {
		struct iovec iov[2] = { { rec, 64 }, { rec + 64, c.size - 64 } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
		uint64_t t0 = mono_ns(), t1, until;
		ssize_t r;

		if (!strcmp(c.kind, "fifo")) {
			sigset_t pipe, old, pend;

			sigemptyset(&pipe);
			sigaddset(&pipe, SIGPIPE);
			pthread_sigmask(SIG_BLOCK, &pipe, &old);
			if (sigismember(&old, SIGPIPE))
				sigpending(&pend);
			r = writev(c.wfd, iov, 2);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		} else if (c.kind[0] == 'd' || c.kind[0] == 's') {
			r = sendmsg(c.wfd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else {
			r = writev(c.wfd, iov, 2);
		}
		t1 = mono_ns();
		if (r != c.size)
			c.drops++;
		lat[i] = t1 - t0;
		sum += t1 - t0;
		until = t1 + c.gap_ns;
		while (mono_ns() < until)
			;
	}
	w1 = thread_cpu_s();
	atomic_store(&c.done, 1);
	pthread_join(rt, NULL);
	qsort(lat, c.n, sizeof(*lat), cmp_u64);
	/*
	 * Preemptions by other programs land in the top percent: the trimmed
	 * mean (lowest 98%) keeps the calls that woke the reader.
	 */
	sum = 0;
	for (long i = 0; i < c.n * 98 / 100; i++)
		sum += lat[i];
	printf("%-9s %-5s size %5ld gap %3ld us: call median %5.2f us mean %5.2f us (lowest 98%%) p99 %6.2f us; writer CPU %6.2f us/rec (incl. gap); reader CPU %5.2f us/rec, %lu wake-ups; dropped %ld of %ld\n",
	       c.kind, c.mode, c.size, c.gap_ns / 1000, lat[c.n / 2] / 1e3,
	       (double)sum / (c.n * 98 / 100) / 1e3, lat[c.n * 99 / 100] / 1e3,
	       (w1 - w0) / c.n * 1e6, c.reader_cpu_s / c.n * 1e6, c.wakeups,
	       c.drops, c.n);
	return 0;
}
