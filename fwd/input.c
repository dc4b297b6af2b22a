// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The input: a Unix datagram or seqpacket socket, a FIFO or stdin, made
 * and registered with epoll.
 */
#include "fwd.h"

static int make_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* 0, or -1 if fd cannot be polled (a regular file: always ready). */
int epoll_add(struct fwd *f, int fd, uint32_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = data };

	if (!epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev))
		return 0;
	if (errno == EPERM)
		return -1;
	die("epoll_ctl: %s", strerror(errno));
}

/* The input descriptors that carry records (not the seqpacket listener). */
static uint32_t input_events(const struct fwd *f)
{
	return EPOLLIN | (f->in_oneshot ? EPOLLONESHOT : 0);
}

int epoll_add_input(struct fwd *f, int fd, uint32_t data)
{
	struct epoll_event ev = { .events = input_events(f), .data.u32 = data };

	if (!epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev))
		return 0;
	if (errno == EPERM)
		return -1;
	die("epoll_ctl: %s", strerror(errno));
}

void arm_input(struct fwd *f, int fd, uint32_t data)
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
	fprintf(stderr, PROG ": net.unix.max_dgram_qlen is %u: %s queues that many records at most, so it is not polled and every record wakes " PROG " (raise the sysctl to %u or more before starting, or use --seqpacket)\n", qlen, f->opt.in_path,
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

void open_fifo(struct fwd *f)
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

void open_input(struct fwd *f)
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
