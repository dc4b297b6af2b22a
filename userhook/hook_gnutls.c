// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * GnuTLS: gnutls_record_recv(_seq) and gnutls_record_send(2) move data;
 * gnutls_record_uncork flushes data already captured when it was corked;
 * gnutls_bye ends a connection, gnutls_deinit a session;
 * gnutls_server_name_set is the only way to learn a client's server name
 * (gnutls_server_name_get serves servers), gnutls_init a session's role.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <linux/tlstap.h>
#include <string.h>

#include "capture.h"
#include "process.h"
#include "resolve.h"

/*
 * gnutls_transport_get_int() returns the descriptor set by
 * gnutls_transport_set_int() or set_ptr() with a cast descriptor, the
 * common case (wget). A program with its own push/pull functions and a
 * pointer gets no addresses (or, rarely, those of an unrelated socket
 * whose number equals the pointer's low bits: tlstap-run(1), BUGS).
 */
static uintptr_t gtls_token(const void *session)
{
	__typeof__(&gnutls_transport_get_int) get_int =
		REAL(gnutls_transport_get_int);

	return get_int ? (uintptr_t)(unsigned int)get_int((gnutls_session_t)session)
		       : 0;
}

static int gtls_fd(const void *session)
{
	__typeof__(&gnutls_transport_get_int) get_int =
		REAL(gnutls_transport_get_int);

	return get_int ? get_int((gnutls_session_t)session) : -1;
}

static void gtls_server_name(const void *session,
			     char name[SESSION_MAX_NAME + 1])
{
	__typeof__(&gnutls_server_name_get) get = REAL(gnutls_server_name_get);
	size_t len = SESSION_MAX_NAME;
	unsigned int type;

	if (session_get_name(&tlstap.sessions, session, name))
		return;	/* a client that set one */
	if (get && get((gnutls_session_t)session, name, &len, &type, 0) == 0 &&
	    type == GNUTLS_NAME_DNS && len <= SESSION_MAX_NAME)
		name[len] = '\0';
	else
		name[0] = '\0';
}

/* gnutls_init()'s flags said so (GnuTLS has no getter). */
static bool gtls_is_server(const void *session)
{
	return session_is_server(&tlstap.sessions, session);
}

static const struct tls_ops gnutls_ops = {
	.token = gtls_token,
	.fd = gtls_fd,
	.server_name = gtls_server_name,
	.is_server = gtls_is_server,
};

/* No loaded libgnutls defines the function called. */
static int gtls_missing(const char *name)
{
	capture_missing(name);
	return GNUTLS_E_INTERNAL_ERROR;
}

TLSTAP_EXPORT ssize_t gnutls_record_recv(gnutls_session_t session, void *data,
					 size_t data_size)
{
	__typeof__(&gnutls_record_recv) real = REAL(gnutls_record_recv);
	struct capture_frame frame;
	ssize_t ret;

	if (!real)
		return gtls_missing("gnutls_record_recv");
	if (!capture_call_start(&frame, session))
		return real(session, data, data_size);
	ret = real(session, data, data_size);
	capture_call_done(&frame, session, &gnutls_ops, TLSTAP_DIR_READ, data,
			  ret);
	return ret;
}

TLSTAP_EXPORT ssize_t gnutls_record_recv_seq(gnutls_session_t session,
					     void *data, size_t data_size,
					     unsigned char *seq)
{
	__typeof__(&gnutls_record_recv_seq) real = REAL(gnutls_record_recv_seq);
	struct capture_frame frame;
	ssize_t ret;

	if (!real)
		return gtls_missing("gnutls_record_recv_seq");
	if (!capture_call_start(&frame, session))
		return real(session, data, data_size, seq);
	ret = real(session, data, data_size, seq);
	capture_call_done(&frame, session, &gnutls_ops, TLSTAP_DIR_READ, data,
			  ret);
	return ret;
}

TLSTAP_EXPORT ssize_t gnutls_record_send(gnutls_session_t session,
					 const void *data, size_t data_size)
{
	__typeof__(&gnutls_record_send) real = REAL(gnutls_record_send);
	struct capture_frame frame;
	ssize_t ret;

	if (!real)
		return gtls_missing("gnutls_record_send");
	if (!capture_call_start(&frame, session))
		return real(session, data, data_size);
	ret = real(session, data, data_size);
	capture_call_done(&frame, session, &gnutls_ops, TLSTAP_DIR_WRITE, data,
			  ret);
	return ret;
}

TLSTAP_EXPORT ssize_t gnutls_record_send2(gnutls_session_t session,
					  const void *data, size_t data_size,
					  size_t pad, unsigned int flags)
{
	__typeof__(&gnutls_record_send2) real = REAL(gnutls_record_send2);
	struct capture_frame frame;
	ssize_t ret;

	if (!real)
		return gtls_missing("gnutls_record_send2");
	if (!capture_call_start(&frame, session))
		return real(session, data, data_size, pad, flags);
	ret = real(session, data, data_size, pad, flags);
	capture_call_done(&frame, session, &gnutls_ops, TLSTAP_DIR_WRITE, data,
			  ret);
	return ret;
}

/* Sends, through gnutls_record_send, what corked sends already returned. */
TLSTAP_EXPORT int gnutls_record_uncork(gnutls_session_t session,
				       unsigned int flags)
{
	__typeof__(&gnutls_record_uncork) real = REAL(gnutls_record_uncork);
	struct capture_frame frame;
	int ret;

	if (!real)
		return gtls_missing("gnutls_record_uncork");
	capture_enter(&frame, session);
	ret = real(session, flags);
	capture_leave(&frame);
	return ret;
}

TLSTAP_EXPORT int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
	__typeof__(&gnutls_init) real = REAL(gnutls_init);
	int ret, saved;

	if (!real)
		return gtls_missing("gnutls_init");
	ret = real(session, flags);
	saved = errno;
	if (ret == 0 && (flags & GNUTLS_SERVER) && process_capturing())
		session_set_server(&tlstap.sessions, *session, true);
	errno = saved;
	return ret;
}

/* The program ends the connection: its CLOSE, whatever the call returns. */
TLSTAP_EXPORT int gnutls_bye(gnutls_session_t session,
			     gnutls_close_request_t how)
{
	__typeof__(&gnutls_bye) real = REAL(gnutls_bye);

	if (!real)
		return gtls_missing("gnutls_bye");
	capture_end(session);
	return real(session, how);
}

TLSTAP_EXPORT void gnutls_deinit(gnutls_session_t session)
{
	__typeof__(&gnutls_deinit) real = REAL(gnutls_deinit);

	capture_forget(session);
	if (real)
		real(session);
	else
		capture_missing("gnutls_deinit");
}

TLSTAP_EXPORT int gnutls_server_name_set(gnutls_session_t session,
					 gnutls_server_name_type_t type,
					 const void *name, size_t name_length)
{
	__typeof__(&gnutls_server_name_set) real = REAL(gnutls_server_name_set);
	int ret, saved;

	if (!real)
		return gtls_missing("gnutls_server_name_set");
	ret = real(session, type, name, name_length);
	saved = errno;
	if (ret == 0 && type == GNUTLS_NAME_DNS && name &&
	    process_capturing() && tlstap.settings.n_excludes)
		session_set_name(&tlstap.sessions, session, name, name_length);
	errno = saved;
	return ret;
}
