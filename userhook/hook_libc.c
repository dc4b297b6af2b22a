// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "hook_libc.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture.h"
#include "process.h"
#include "resolve.h"

static _Atomic(void *) real_close, real_close_range, real_closefrom,
	real_dup2, real_dup3, real_read, real_write, real_readv, real_writev,
	real_recv, real_send, real_recvfrom, real_sendto, real_recvmsg,
	real_sendmsg;

void hook_libc_resolve(void)
{
	resolve_cached(&real_close, "close");
	resolve_cached(&real_close_range, "close_range");
	resolve_cached(&real_closefrom, "closefrom");
	resolve_cached(&real_dup2, "dup2");
	resolve_cached(&real_dup3, "dup3");
	resolve_cached(&real_read, "read");
	resolve_cached(&real_write, "write");
	resolve_cached(&real_readv, "readv");
	resolve_cached(&real_writev, "writev");
	resolve_cached(&real_recv, "recv");
	resolve_cached(&real_send, "send");
	resolve_cached(&real_recvfrom, "recvfrom");
	resolve_cached(&real_sendto, "sendto");
	resolve_cached(&real_recvmsg, "recvmsg");
	resolve_cached(&real_sendmsg, "sendmsg");
}

/*
 * Whether [first, last] holds a descriptor of ours: the output's or a
 * capture ring's. Not in a vfork() child (posix_spawn, Python's
 * subprocess): it shares our memory but not our descriptor table, what
 * it closes is its own copy. Async-signal-safe.
 */
static bool ours_in(unsigned int first, unsigned int last)
{
	int fd = atomic_load(&tlstap.output.fd);

	return ((fd >= 0 && (unsigned int)fd >= first &&
		 (unsigned int)fd <= last) ||
		ring_fds_in(&tlstap.rings, first, last)) &&
	       getpid() == tlstap.pid;
}

/* The program closes [first, last] for good: forget ours there. */
static void forget(unsigned int first, unsigned int last)
{
	if (!ours_in(first, last))
		return;
	output_fd_closing(&tlstap.output, first, last);
	ring_fds_closed(&tlstap.rings, first, last);
}

/*
 * The program may replace [first, last] (close_range(), a dup): ours
 * there are set aside until the call returns, when settle() says
 * whether it released them (or failed and released nothing).
 */
struct held {
	bool any;
	int output;			/* the output's descriptor, or -1 */
	struct ring_hold rings;
};

static void hold(unsigned int first, unsigned int last, struct held *h)
{
	h->any = ours_in(first, last);
	if (!h->any)
		return;
	h->output = output_fd_closing(&tlstap.output, first, last);
	ring_fds_hold(&tlstap.rings, first, last, &h->rings);
}

/* Returns ret, errno kept. */
static int settle(const struct held *h, int ret)
{
	int saved = errno;

	if (h->any) {
		if (ret < 0)
			output_fd_kept(&tlstap.output, h->output);
		ring_fds_settle(&tlstap.rings, &h->rings, ret >= 0);
	}
	errno = saved;
	return ret;
}

TLSTAP_EXPORT int close(int fd)
{
	__typeof__(&close) real = resolve_cached(&real_close, "close");

	if (fd >= 0) {
		forget((unsigned int)fd, (unsigned int)fd);
		capture_socket_closing(fd);
	}
	/* Linux releases the number even when close() fails. */
	return real ? real(fd) : capture_missing_enosys("close", -1);
}

TLSTAP_EXPORT int close_range(unsigned int first, unsigned int last,
			      int flags)
{
	__typeof__(&close_range) real =
		resolve_cached(&real_close_range, "close_range");
	struct held h = { .any = false };

	if (!real)
		return capture_missing_enosys("close_range", -1);
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		hold(first, last, &h);
	return settle(&h, real(first, last, flags));
}

TLSTAP_EXPORT void closefrom(int lowfd)
{
	__typeof__(&closefrom) real = resolve_cached(&real_closefrom,
						     "closefrom");

	if (!real) {
		capture_missing_enosys("closefrom", -1);
		return;
	}
	forget(lowfd < 0 ? 0 : (unsigned int)lowfd, UINT_MAX);
	real(lowfd);
}

static void hold_target(int oldfd, int newfd, struct held *h)
{
	h->any = false;
	if (oldfd != newfd && newfd >= 0)
		hold((unsigned int)newfd, (unsigned int)newfd, h);
}

TLSTAP_EXPORT int dup2(int oldfd, int newfd)
{
	__typeof__(&dup2) real = resolve_cached(&real_dup2, "dup2");
	struct held h;

	if (!real)
		return capture_missing_enosys("dup2", -1);
	hold_target(oldfd, newfd, &h);
	return settle(&h, real(oldfd, newfd));
}

TLSTAP_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	__typeof__(&dup3) real = resolve_cached(&real_dup3, "dup3");
	struct held h;

	if (!real)
		return capture_missing_enosys("dup3", -1);
	hold_target(oldfd, newfd, &h);
	return settle(&h, real(oldfd, newfd, flags));
}

/* The I/O functions: note the descriptor, then do the real call. */
#define IO_HOOK(ret_t, name, params, args)				\
	TLSTAP_EXPORT ret_t name params					\
	{								\
		__typeof__(&name) real = resolve_cached(&real_##name, #name); \
									\
		capture_note_fd(fd);					\
		if (!real)						\
			return capture_missing_enosys(#name, -1);	\
		return real args;					\
	}

IO_HOOK(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))
IO_HOOK(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))
IO_HOOK(ssize_t, readv, (int fd, const struct iovec *iov, int n),
	(fd, iov, n))
IO_HOOK(ssize_t, writev, (int fd, const struct iovec *iov, int n),
	(fd, iov, n))
IO_HOOK(ssize_t, recv, (int fd, void *buf, size_t n, int flags),
	(fd, buf, n, flags))
IO_HOOK(ssize_t, send, (int fd, const void *buf, size_t n, int flags),
	(fd, buf, n, flags))
IO_HOOK(ssize_t, recvfrom, (int fd, void *buf, size_t n, int flags,
			    struct sockaddr *addr, socklen_t *addrlen),
	(fd, buf, n, flags, addr, addrlen))
IO_HOOK(ssize_t, sendto, (int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t addrlen),
	(fd, buf, n, flags, addr, addrlen))
IO_HOOK(ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags),
	(fd, msg, flags))
IO_HOOK(ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags),
	(fd, msg, flags))
