// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "notice.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "output.h"
#include "process.h"

/*
 * A daemon may have closed stderr and reused the number for a network
 * connection: never write into a TCP or UDP socket. (A Unix socket is a
 * normal stderr under systemd.)
 */
static bool stderr_is_safe(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stat st;

	if (fstat(STDERR_FILENO, &st))
		return false;
	if (!S_ISSOCK(st.st_mode))
		return true;
	if (getsockname(STDERR_FILENO, (struct sockaddr *)&ss, &len))
		return false;
	return ss.ss_family == AF_UNIX;
}

/*
 * Raw system calls: the library interposes write(), sendto() and
 * close(), and its own calls are none of the program's.
 */
static void to_stderr(const char *prefix, const struct line *body)
{
	struct line l;
	long w;

	if (!stderr_is_safe())
		return;
	line_init(&l);
	line_add(&l, prefix);
	line_add(&l, body->buf);
	/* Cut if need be, but always a whole line. */
	if (l.len == LINE_SIZE - 1)
		l.len--;
	l.buf[l.len++] = '\n';
	do
		w = syscall(SYS_write, STDERR_FILENO, l.buf, l.len);
	while (w < 0 && errno == EINTR);
}

static void to_syslog(int severity, const struct line *body)
{
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
		.sun_path = NOTICE_LOG_PATH,
	};
	struct line l;
	int fd;

	line_init(&l);
	line_add(&l, "<");
	line_add_uint(&l, LOG_DAEMON | severity);
	line_add(&l, ">tlstap[");
	line_add_uint(&l, (unsigned int)tlstap.pid);
	line_add(&l, "]: ");
	line_add(&l, body->buf);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	syscall(SYS_sendto, fd, l.buf, l.len, MSG_DONTWAIT | MSG_NOSIGNAL,
		(struct sockaddr *)&sun, sizeof(sun));
	syscall(SYS_close, fd);
}

void notice_config(const char *fmt, ...)
{
	struct line body;
	va_list ap;
	int saved = errno, n;

	va_start(ap, fmt);
	n = vsnprintf(body.buf, sizeof(body.buf), fmt, ap);
	va_end(ap);
	body.len = n < 0 ? 0 : (size_t)n < sizeof(body.buf) ? (size_t)n :
	      sizeof(body.buf) - 1;
	body.buf[body.len] = '\0';
	to_syslog(LOG_ERR, &body);
	to_stderr("tlstap: ", &body);
	errno = saved;
}

/* A notice of the process: syslog, and stderr when tlstap-run allows. */
static void say(const struct line *body)
{
	struct line prefix;

	to_syslog(LOG_WARNING, body);
	if (!tlstap.stderr_allowed)
		return;
	line_init(&prefix);
	line_add(&prefix, "tlstap[");
	line_add_uint(&prefix, (unsigned int)tlstap.pid);
	line_add(&prefix, "]: ");
	to_stderr(prefix.buf, body);
}

/* true the first time for *said in this process. */
static bool first(_Atomic bool *said)
{
	return !atomic_load_explicit(said, memory_order_relaxed) &&
	       !atomic_exchange(said, true);
}

void notice_open_failed(const struct output *out)
{
	int saved = errno, err = atomic_load(&out->error);
	struct line body;

	if (!err || !first(&tlstap.said_open_failed))
		goto out;
	line_init(&body);
	line_add(&body, tlstap.exe);
	line_add(&body, ": cannot open output ");
	line_add(&body, out->path);
	line_add(&body, ": ");
	output_explain(&body, out->path, err);
	line_add(&body, "; its records are dropped until it can be opened");
	say(&body);
out:
	errno = saved;
}

void notice_dropped(const char *path, enum notice_drop why, int err)
{
	int saved = errno;
	struct line body;

	if (!first(&tlstap.said_dropped))
		goto out;
	line_init(&body);
	line_add(&body, tlstap.exe);
	line_add(&body, ": first record dropped: ");
	switch (why) {
	case NOTICE_DROP_RING_FULL:
		line_add(&body, "its capture ring is full (on_full = drop)");
		break;
	case NOTICE_DROP_NO_OUTPUT:
		line_add(&body, "output ");
		line_add(&body, path);
		line_add(&body, " not open");
		break;
	case NOTICE_DROP_WRITE:
		line_add(&body, "output ");
		line_add(&body, path);
		if (err == EAGAIN || err == ENOBUFS) {
			line_add(&body, " is full (on_full = drop)");
		} else {
			line_add(&body, ": ");
			line_add_errno(&body, err);
		}
		break;
	}
	line_add(&body, "; later drops are not reported here (the next record of each connection counts them in 'dropped')");
	say(&body);
out:
	errno = saved;
}
