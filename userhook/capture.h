/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every hook does after the real call moved data: find or build the
 * session's info, and write the plaintext out as records.
 */
#ifndef TLSTAP_CAPTURE_H
#define TLSTAP_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "session.h"

/* How to ask one TLS library about one of its sessions. */
struct tls_ops {
	/* Cheap, every call: changes when the transport changes. */
	uintptr_t (*token)(const void *session);
	/* Once per session: its socket, or -1 when the transport does not
	 * say (the sockets the call used are tried next).
	 */
	int (*fd)(const void *session);
	/* Once per session, only when there are excludes: "" if none. */
	void (*server_name)(const void *session,
			    char name[SESSION_MAX_NAME + 1]);
	/* Once per session: this end accepted the connection. */
	bool (*is_server)(const void *session);
};

/*
 * The session a TLS call of this thread is in (NULL: none). A TLS call
 * that the library makes from inside another on the same session
 * (SSL_read_ex from SSL_read_early_data, gnutls_record_send2 from
 * gnutls_record_send) is not captured again; a call on another session,
 * say from a callback, is.
 */
extern __thread const void *capture_inside
	__attribute__((tls_model("initial-exec")));

/* Descriptors the current TLS call read or wrote (hook_libc.c notes them). */
#define CAPTURE_SEEN_MAX 4
struct capture_seen {
	unsigned int n;
	int fd[CAPTURE_SEEN_MAX];
};
extern __thread struct capture_seen capture_seen
	__attribute__((tls_model("initial-exec")));

static inline void capture_note_fd(int fd)
{
	struct capture_seen *seen;
	unsigned int i;

	if (__builtin_expect(!capture_inside, 1))
		return;
	seen = &capture_seen;
	for (i = 0; i < seen->n; i++)
		if (seen->fd[i] == fd)
			return;
	if (seen->n < CAPTURE_SEEN_MAX)
		seen->fd[seen->n++] = fd;
}

/* What a TLS call nested in another (a callback) saves and restores. */
struct capture_frame {
	const void *inside;
	struct capture_seen seen;
};

static inline void capture_enter(struct capture_frame *f, const void *session)
{
	f->inside = capture_inside;
	if (f->inside)
		f->seen = capture_seen;
	capture_inside = session;
	capture_seen.n = 0;
}

static inline void capture_leave(const struct capture_frame *f)
{
	capture_inside = f->inside;
	if (f->inside)
		capture_seen = f->seen;
}

/*
 * Emits the records for len bytes moved in direction dir. Called inside
 * the frame of the TLS call, so that the descriptors it used are known.
 * errno kept.
 */
void capture(const void *session, const struct tls_ops *ops, uint8_t dir,
	     const void *buf, size_t len);

/*
 * The hook of a call that moves plaintext, around the real call:
 *	if (!capture_call_start(&frame, session))
 *		return real(...);
 *	ret = real(...);
 *	capture_call_done(&frame, session, ops, dir, buf, bytes moved);
 * false: the call is nested in one on the same session, which captures.
 */
static inline bool capture_call_start(struct capture_frame *f,
				      const void *session)
{
	if (capture_inside == session)
		return false;
	capture_enter(f, session);
	return true;
}

/*
 * After the real call: the bytes of buf it moved, counted as TLS
 * libraries count them (<= 0: it failed or moved none), become records;
 * the frame ends. errno kept. A macro, so that the code after the real
 * call has the hook's source line: callgrind files code by source file
 * and would count an inlined function's as another function, outside
 * the hook's cost that bench/nginx/callgrind.sh reads.
 */
#define capture_call_done(f, session, ops, dir, buf, moved)		\
	do {								\
		ssize_t moved_ = (moved);				\
									\
		if (moved_ > 0)						\
			capture(session, ops, dir, buf, (size_t)moved_);\
		capture_leave(f);					\
	} while (0)

/*
 * The program ends the session's connection (SSL_shutdown, gnutls_bye):
 * its loss reports and CLOSE, unless written already. errno kept.
 */
void capture_end(const void *session);

/*
 * The session is gone or reset: its connection ends as in capture_end(),
 * its cache is forgotten. errno kept.
 */
void capture_forget(const void *session);

/*
 * close(fd) is called: if fd is an open connection's socket, the
 * connection ends as in capture_end(). One atomic load when it is not;
 * async-signal-safe (the records go out only through what is open
 * already, else the session's own end writes them). errno kept.
 */
void capture_socket_closing(int fd);

/* The real function of a hook could not be found: say so once. */
void capture_missing(const char *name);
/* The same, for a call that fails with errno: ENOSYS, and returns failed. */
int capture_missing_enosys(const char *name, int failed);

#endif /* TLSTAP_CAPTURE_H */
