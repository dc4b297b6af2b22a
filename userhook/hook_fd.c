// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "hook_fd.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture.h"
#include "process.h"
#include "resolve.h"

static _Atomic(void *) real_close, real_close_range, real_closefrom,
	real_dup2, real_dup3;

void hook_fd_resolve(void)
{
	resolve_cached(&real_close, "close");
	resolve_cached(&real_close_range, "close_range");
	resolve_cached(&real_closefrom, "closefrom");
	resolve_cached(&real_dup2, "dup2");
	resolve_cached(&real_dup3, "dup3");
}

static int missing(const char *name)
{
	capture_missing(name);
	errno = ENOSYS;
	return -1;
}

TLSTAP_EXPORT int close(int fd)
{
	__typeof__(&close) real = resolve_cached(&real_close, "close");

	if (fd >= 0)
		output_fd_closing(&tlstap.output, (unsigned int)fd,
				  (unsigned int)fd);
	/* Linux releases the number even when close() fails. */
	return real ? real(fd) : missing("close");
}

TLSTAP_EXPORT int close_range(unsigned int first, unsigned int last,
			      int flags)
{
	__typeof__(&close_range) real =
		resolve_cached(&real_close_range, "close_range");
	int ours = -1, ret, saved;

	if (!real)
		return missing("close_range");
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		ours = output_fd_closing(&tlstap.output, first, last);
	ret = real(first, last, flags);
	saved = errno;
	if (ret < 0)
		output_fd_kept(&tlstap.output, ours);
	errno = saved;
	return ret;
}

TLSTAP_EXPORT void closefrom(int lowfd)
{
	__typeof__(&closefrom) real = resolve_cached(&real_closefrom,
						     "closefrom");

	if (!real) {
		missing("closefrom");
		return;
	}
	output_fd_closing(&tlstap.output, lowfd < 0 ? 0 : (unsigned int)lowfd,
			  UINT_MAX);
	real(lowfd);
}

static int forget_target(int oldfd, int newfd)
{
	if (oldfd == newfd || newfd < 0)
		return -1;
	return output_fd_closing(&tlstap.output, (unsigned int)newfd,
				 (unsigned int)newfd);
}

TLSTAP_EXPORT int dup2(int oldfd, int newfd)
{
	__typeof__(&dup2) real = resolve_cached(&real_dup2, "dup2");
	int ours, ret, saved;

	if (!real)
		return missing("dup2");
	ours = forget_target(oldfd, newfd);
	ret = real(oldfd, newfd);
	saved = errno;
	if (ret < 0)
		output_fd_kept(&tlstap.output, ours);
	errno = saved;
	return ret;
}

TLSTAP_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	__typeof__(&dup3) real = resolve_cached(&real_dup3, "dup3");
	int ours, ret, saved;

	if (!real)
		return missing("dup3");
	ours = forget_target(oldfd, newfd);
	ret = real(oldfd, newfd, flags);
	saved = errno;
	if (ret < 0)
		output_fd_kept(&tlstap.output, ours);
	errno = saved;
	return ret;
}
