/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every hook does after the real call moved data: find or build the
 * session's info, and write the plaintext out as records.
 */
#ifndef TLSTAP_CAPTURE_H
#define TLSTAP_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* How to ask one TLS library about one of its sessions. */
struct tls_ops {
	/* Cheap, every call: changes when the transport changes. */
	uintptr_t (*token)(const void *session);
	/* Once per session: its socket, or -1. */
	int (*fd)(const void *session);
	/* Once per session, only when there are excludes: "" if none. */
	void (*server_name)(const void *session,
			    char name[SESSION_MAX_NAME + 1]);
};

/*
 * The session a hook of this thread is in (NULL: none). A TLS call that
 * the library makes from inside another on the same session (SSL_read_ex
 * from BIO_read, gnutls_record_send2 from gnutls_record_send) is not
 * captured again; a call on another session, say from a callback, is.
 */
extern __thread const void *capture_inside
	__attribute__((tls_model("initial-exec")));

/* Emits the records for len bytes moved in direction dir. errno kept. */
void capture(const void *session, const struct tls_ops *ops, uint8_t dir,
	     const void *buf, size_t len);

/* The session is gone or reset: forget its cache. errno kept. */
void capture_forget(const void *session);

/* The real function of a hook could not be found: say so once. */
void capture_missing(const char *name);

#endif /* TLSTAP_CAPTURE_H */
