/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the library tells a person: a broken config, the first failure to
 * open the output, the first record dropped. A line goes to syslog
 * (LOG_DAEMON, ident "tlstap") and, when it is safe, to stderr: always
 * for config errors (the program's user started it with a config), and
 * for the rest only when tlstap-run said that it may (TLSTAP_STDERR): an
 * unsuspecting program's stderr is its own.
 *
 * Never the program's syslog state: openlog() is process-wide in glibc,
 * and syslog() would take the program's ident, facility and descriptor,
 * or open one that the program's next openlog() does not expect. So each
 * line goes through a socket of its own to /dev/log, in the format glibc's
 * syslog() sends (RFC 3164) without the timestamp: the local time needs
 * localtime_r(), which is not async-signal-safe, and the syslog daemons
 * (journald, rsyslog's imuxsock, syslog-ng, busybox) stamp what arrives
 * on /dev/log themselves. Non-blocking: a daemon that does not read, or
 * no /dev/log, loses the line and never holds up the program.
 *
 * Async-signal-safe except notice_config(); errno kept by all.
 */
#ifndef TLSTAP_NOTICE_H
#define TLSTAP_NOTICE_H

#define NOTICE_LOG_PATH	"/dev/log"

/* A config or environment problem, "tlstap: ..." on stderr (when safe). */
void notice_config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The output could not be opened (out->error): said the first time in
 * the process (a fork() child is another: it says its own, as it may run
 * as another user by then).
 */
struct output;
void notice_open_failed(const struct output *out);

/* Why a record was dropped, for notice_dropped(). */
enum notice_drop {
	NOTICE_DROP_RING_FULL,		/* capture ring full, on_full = drop */
	NOTICE_DROP_NO_OUTPUT,		/* the output is not open */
	NOTICE_DROP_WRITE,		/* the write failed: err */
};

/* A record was dropped: said for the first one of the process. */
void notice_dropped(const char *path, enum notice_drop why, int err);

#endif /* TLSTAP_NOTICE_H */
