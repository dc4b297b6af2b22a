// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/tlstap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * Our own descriptors are closed and replaced with raw system calls: the
 * library interposes close() and dup3() to notice when the program closes
 * our descriptor, and must not trip over its own calls.
 */
static void close_own(int fd)
{
	syscall(SYS_close, fd);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void output_init(struct output *out, const char *path, bool block)
{
	strcpy(out->path, path);
	out->block = block;
	atomic_store(&out->fd, -1);
	atomic_store(&out->kind, OUTPUT_CLOSED);
	atomic_store(&out->dead, false);
	atomic_store(&out->retry_at, 0);
	atomic_store(&out->error, 0);
	atomic_store(&out->device_max, TLSTAP_DEFAULT_MAX_RECORD);
}

static int set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

static int unix_connect(const char *path, int type, bool block)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/*
	 * A seqpacket socket queues what its sender's buffer holds (a
	 * datagram socket: also at most net.unix.max_dgram_qlen messages):
	 * room for a few milliseconds of records lets a reader that drains
	 * on a timer (tlstap-fwd) keep up without being woken per record.
	 * The kernel caps it at net.core.wmem_max; failing, the default
	 * stays, which only means drops come sooner.
	 */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ OUTPUT_SOCKET_SNDBUF },
		   sizeof(int));
	strcpy(sun.sun_path, path);
	/* Non-blocking connect: a full listen backlog must not stall us. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    (block && set_blocking(fd))) {
		int saved = errno;

		close_own(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Reads a small sysfs file of the tlstap device into buf; false if absent. */
static bool read_sysfs(const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/%s",
		 TLSTAP_DEVICE_NAME, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close_own(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/*
 * The plaintext a record to this device may carry: the module's
 * max_record (sysfs) when the device is tlstap's, at most 64 KiB.
 */
static size_t device_max(const struct stat *st)
{
	unsigned int major, minor;
	unsigned long max;
	char buf[32];

	if (!read_sysfs("dev", buf, sizeof(buf)) ||
	    sscanf(buf, "%u:%u", &major, &minor) != 2 ||
	    makedev(major, minor) != st->st_rdev ||
	    !read_sysfs("max_record", buf, sizeof(buf)))
		return TLSTAP_DEFAULT_MAX_RECORD;
	max = strtoul(buf, NULL, 10);
	if (!max || max > TLSTAP_DEFAULT_MAX_RECORD)
		return TLSTAP_DEFAULT_MAX_RECORD;
	return max;
}

static int open_output(struct output *out, int *kind)
{
	struct stat st;
	int fd;

	if (stat(out->path, &st))
		return -1;
	if (S_ISCHR(st.st_mode)) {
		*kind = OUTPUT_DEVICE;
		atomic_store(&out->device_max, device_max(&st));
		return open(out->path, O_WRONLY | O_CLOEXEC | O_NOCTTY |
					(out->block ? 0 : O_NONBLOCK));
	}
	if (S_ISSOCK(st.st_mode)) {
		*kind = OUTPUT_SOCKET;
		fd = unix_connect(out->path, SOCK_DGRAM, out->block);
		if (fd < 0 && errno == EPROTOTYPE)
			fd = unix_connect(out->path, SOCK_SEQPACKET, out->block);
		return fd;
	}
	if (S_ISFIFO(st.st_mode)) {
		*kind = OUTPUT_FIFO;
		/* Non-blocking open: fails with ENXIO when nobody reads. */
		fd = open(out->path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0 && out->block && set_blocking(fd)) {
			close_own(fd);
			return -1;
		}
		return fd;
	}
	errno = EINVAL;
	return -1;
}

static size_t payload_max(struct output *out, int kind)
{
	if (kind == OUTPUT_FIFO)
		return PIPE_BUF - TLSTAP_RECORD_HDR_LEN;
	if (kind == OUTPUT_DEVICE)
		return atomic_load_explicit(&out->device_max,
					    memory_order_relaxed);
	return TLSTAP_DEFAULT_MAX_RECORD;
}

/* Called with out->lock held. */
static void reopen(struct output *out, int old)
{
	int fd, kind = OUTPUT_CLOSED, high;

	fd = open_output(out, &kind);
	if (fd < 0) {
		atomic_store(&out->error, errno);
		atomic_store(&out->retry_at, now_ns() + OUTPUT_RETRY_NS);
		return;
	}
	if (old >= 0) {
		/*
		 * Replace the dead file under the same number: a thread still
		 * holding the old number writes to the new output, never to
		 * a descriptor the program opened meanwhile.
		 */
		if (syscall(SYS_dup3, fd, old, O_CLOEXEC) < 0) {
			atomic_store(&out->error, errno);
			close_own(fd);
			atomic_store(&out->retry_at, now_ns() + OUTPUT_RETRY_NS);
			return;
		}
		close_own(fd);
		fd = old;
	} else {
		high = fcntl(fd, F_DUPFD_CLOEXEC, OUTPUT_FD_FLOOR);
		if (high >= 0) {
			close_own(fd);
			fd = high;
		}
	}
	atomic_store(&out->kind, kind);
	atomic_store(&out->dead, false);
	atomic_store(&out->error, 0);
	atomic_store(&out->fd, fd);
}

size_t output_open_max(struct output *out)
{
	int fd = atomic_load_explicit(&out->fd, memory_order_acquire);

	if (fd < 0 || atomic_load_explicit(&out->dead, memory_order_relaxed))
		return 0;
	return payload_max(out, atomic_load_explicit(&out->kind,
						     memory_order_relaxed));
}

size_t output_ready(struct output *out)
{
	int fd = atomic_load_explicit(&out->fd, memory_order_acquire);

	if (fd >= 0 && !atomic_load_explicit(&out->dead, memory_order_relaxed))
		return payload_max(out, atomic_load_explicit(&out->kind,
							     memory_order_relaxed));
	if (now_ns() < atomic_load(&out->retry_at))
		return 0;
	pthread_mutex_lock(&out->lock);
	fd = atomic_load(&out->fd);
	if (fd < 0 || atomic_load(&out->dead))
		reopen(out, fd);
	fd = atomic_load(&out->fd);
	pthread_mutex_unlock(&out->lock);
	if (fd < 0 || atomic_load(&out->dead))
		return 0;
	return payload_max(out, atomic_load(&out->kind));
}

/*
 * A pipe without reader raises SIGPIPE in the writer. Block it around the
 * write and consume the one we caused, leaving any that was already
 * pending for the program. One can be pending only if the program had
 * blocked it (an unblocked one is delivered before we run): only then is
 * sigpending() worth its system call.
 */
static ssize_t fifo_writev(int fd, const struct iovec *iov, int n)
{
	static const struct timespec zero;
	sigset_t pipe, old, pending;
	bool was_pending = false;
	ssize_t r;
	int saved;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	if (sigismember(&old, SIGPIPE)) {
		sigpending(&pending);
		was_pending = sigismember(&pending, SIGPIPE);
	}
	r = writev(fd, iov, n);
	saved = errno;
	if (r < 0 && saved == EPIPE && !was_pending)
		sigtimedwait(&pipe, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return r;
}

int output_send(struct output *out, const void *hdr, size_t hdr_len,
		const void *payload, size_t len, bool nowait)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = hdr_len },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	int fd = atomic_load_explicit(&out->fd, memory_order_acquire);
	int kind = atomic_load_explicit(&out->kind, memory_order_relaxed);
	ssize_t r;

	if (fd < 0 || (nowait && out->block && kind != OUTPUT_SOCKET))
		return -1;
	do {
		if (kind == OUTPUT_SOCKET)
			r = sendmsg(fd, &msg, MSG_NOSIGNAL |
					      (out->block && !nowait ? 0 : MSG_DONTWAIT));
		else if (kind == OUTPUT_FIFO)
			r = fifo_writev(fd, iov, 2);
		else
			r = writev(fd, iov, 2);
	} while (r < 0 && errno == EINTR);
	if (r == (ssize_t)(hdr_len + len))
		return 0;
	if (r >= 0)
		return -1;	/* cannot happen with these file types */
	switch (errno) {
	case EAGAIN:
	case ENOBUFS:
	case EMSGSIZE:	/* larger than the device or socket accepts */
	case EINVAL:
		return -1;
	case EBADF:
		/* Closed behind our back (raw syscall): no longer ours. */
		atomic_compare_exchange_strong(&out->fd, &fd, -1);
		return -1;
	default:
		/* ECONNREFUSED, EPIPE, ENOTCONN, ENXIO...: receiver gone. */
		atomic_store(&out->retry_at, now_ns() + OUTPUT_RETRY_NS);
		atomic_store(&out->dead, true);
		return -1;
	}
}

void output_explain(struct line *l, const char *path, int err)
{
	bool device = strcmp(path, CONFIG_DEFAULT_IF) == 0;
	struct stat st;
	bool known = stat(path, &st) == 0;

	/* open_output()'s EINVAL: a file of the wrong type. */
	if (err == EINVAL && known && !S_ISCHR(st.st_mode) &&
	    !S_ISSOCK(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		line_add(l, S_ISDIR(st.st_mode) ? "a directory" :
			    S_ISREG(st.st_mode) ? "a regular file" :
			    "a file of another type");
		line_add(l, ", not an output (the tlstap device, a Unix datagram or seqpacket socket, or a FIFO)");
		return;
	}
	line_add_errno(l, err);
	switch (err) {
	case ENOENT:
		if (device)
			line_add(l, ": the tlstap kernel module is not loaded (modprobe tlstap), or run tlstap-fwd and name its socket in 'if'");
		break;
	case EACCES:
	case EPERM:
		line_add(l, " (as uid ");
		line_add_uint(l, geteuid());
		line_add(l, ", gid ");
		line_add_uint(l, getegid());
		if (device)
			line_add(l, ": the device is root's, or group tlstap's with the installed udev rule");
		else if (known && S_ISSOCK(st.st_mode))
			line_add(l, ": tlstap-fwd makes its socket mode 0600 unless --mode says otherwise");
		line_add(l, ")");
		break;
	case ECONNREFUSED:
		line_add(l, ": nothing reads the socket");
		break;
	case ENXIO:
		if (known && S_ISFIFO(st.st_mode))
			line_add(l, ": the FIFO has no reader");
		break;
	case EPROTOTYPE:
		line_add(l, ": a stream socket; an output is a datagram or seqpacket socket");
		break;
	}
}

int output_fd_closing(struct output *out, unsigned int first,
		      unsigned int last)
{
	int fd = atomic_load(&out->fd);

	if (fd < 0 || (unsigned int)fd < first || (unsigned int)fd > last ||
	    !atomic_compare_exchange_strong(&out->fd, &fd, -1))
		return -1;
	return fd;
}

void output_fd_kept(struct output *out, int fd)
{
	int none = -1;

	if (fd >= 0)
		atomic_compare_exchange_strong(&out->fd, &none, fd);
}
