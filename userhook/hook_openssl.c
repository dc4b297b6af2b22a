// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * OpenSSL 3 (and the 1.1 ABI, same prototypes): SSL_read, SSL_read_ex,
 * SSL_write, SSL_write_ex move data; SSL_shutdown ends a connection,
 * SSL_free and SSL_clear a session. SSL_peek is not hooked: the read that follows is captured.
 * BIO_f_ssl: the SSL BIO reads and writes through libssl's internal
 * functions, not the exported SSL_read_ex/SSL_write_ex, so programs that
 * talk through an SSL BIO (openssl s_server -WWW) get a copy of the
 * method whose read and write capture.
 * Nothing here links libssl: the library may be in a process that never
 * loads it, or loads another version.
 */
#include <errno.h>
#include <linux/tlstap.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

#include "capture.h"
#include "process.h"
#include "resolve.h"

/* The transport's identity: a new BIO (SSL_set_fd, SSL_set_bio) is a new
 * connection. A plain getter: it runs no BIO callback.
 */
static uintptr_t ossl_token(const void *session)
{
	SSL *ssl = (SSL *)session;
	__typeof__(&SSL_get_rbio) get_rbio = REAL(SSL_get_rbio);
	__typeof__(&SSL_get_wbio) get_wbio = REAL(SSL_get_wbio);
	BIO *bio = get_rbio ? get_rbio(ssl) : NULL;

	if (!bio && get_wbio)
		bio = get_wbio(ssl);
	return (uintptr_t)bio;
}

static int ossl_fd(const void *session)
{
	SSL *ssl = (SSL *)session;
	__typeof__(&SSL_get_rbio) get_rbio = REAL(SSL_get_rbio);
	__typeof__(&SSL_get_wbio) get_wbio = REAL(SSL_get_wbio);
	__typeof__(&SSL_get_rfd) get_rfd = REAL(SSL_get_rfd);
	__typeof__(&SSL_get_wfd) get_wfd = REAL(SSL_get_wfd);
	__typeof__(&ERR_set_mark) set_mark = REAL(ERR_set_mark);
	__typeof__(&ERR_pop_to_mark) pop_to_mark = REAL(ERR_pop_to_mark);
	int fd = -1;

	if (!get_rbio || !get_wbio || !get_rfd || !get_wfd || !set_mark ||
	    !pop_to_mark)
		return -1;
	/*
	 * SSL_get_rfd() ends in BIO_ctrl(), which may push an error for a
	 * BIO without ctrl; whatever we cause leaves the queue with us.
	 * SSL_get_rfd(ssl) with no rbio would push one: ask for the side
	 * that exists.
	 */
	set_mark();
	if (get_rbio(ssl))
		fd = get_rfd(ssl);
	else if (get_wbio(ssl))
		fd = get_wfd(ssl);
	pop_to_mark();
	return fd;
}

static void ossl_server_name(const void *session,
			     char name[SESSION_MAX_NAME + 1])
{
	__typeof__(&SSL_get_servername) get_servername = REAL(SSL_get_servername);
	const char *sni;

	/*
	 * Clients: the name set with SSL_set_tlsext_host_name(). Servers:
	 * the name the client asked for. A field read; it pushes no error.
	 */
	sni = get_servername ? get_servername((SSL *)session,
					      TLSEXT_NAMETYPE_host_name) : NULL;
	if (sni) {
		strncpy(name, sni, SESSION_MAX_NAME);
		name[SESSION_MAX_NAME] = '\0';
	}
}

/* Set by SSL_set_accept_state(), SSL_accept() or a server method. */
static bool ossl_is_server(const void *session)
{
	__typeof__(&SSL_is_server) is_server = REAL(SSL_is_server);

	return is_server && is_server((const SSL *)session) == 1;
}

static const struct tls_ops openssl_ops = {
	.token = ossl_token,
	.fd = ossl_fd,
	.server_name = ossl_server_name,
	.is_server = ossl_is_server,
};

TLSTAP_EXPORT int SSL_read(SSL *ssl, void *buf, int num)
{
	__typeof__(&SSL_read) real = REAL(SSL_read);
	struct capture_frame frame;
	int ret;

	if (!real)
		return capture_missing_enosys("SSL_read", -1);
	if (!capture_call_start(&frame, ssl))
		return real(ssl, buf, num);
	ret = real(ssl, buf, num);
	capture_call_done(&frame, ssl, &openssl_ops, TLSTAP_DIR_READ, buf, ret);
	return ret;
}

TLSTAP_EXPORT int SSL_read_ex(SSL *ssl, void *buf, size_t num,
			      size_t *readbytes)
{
	__typeof__(&SSL_read_ex) real = REAL(SSL_read_ex);
	struct capture_frame frame;
	int ret;

	if (!real)
		return capture_missing_enosys("SSL_read_ex", 0);
	if (!capture_call_start(&frame, ssl))
		return real(ssl, buf, num, readbytes);
	ret = real(ssl, buf, num, readbytes);
	capture_call_done(&frame, ssl, &openssl_ops, TLSTAP_DIR_READ, buf,
			  ret == 1 && readbytes ? (ssize_t)*readbytes : 0);
	return ret;
}

TLSTAP_EXPORT int SSL_write(SSL *ssl, const void *buf, int num)
{
	__typeof__(&SSL_write) real = REAL(SSL_write);
	struct capture_frame frame;
	int ret;

	if (!real)
		return capture_missing_enosys("SSL_write", -1);
	if (!capture_call_start(&frame, ssl))
		return real(ssl, buf, num);
	ret = real(ssl, buf, num);
	capture_call_done(&frame, ssl, &openssl_ops, TLSTAP_DIR_WRITE, buf,
			  ret);
	return ret;
}

TLSTAP_EXPORT int SSL_write_ex(SSL *ssl, const void *buf, size_t num,
			       size_t *written)
{
	__typeof__(&SSL_write_ex) real = REAL(SSL_write_ex);
	struct capture_frame frame;
	int ret;

	if (!real)
		return capture_missing_enosys("SSL_write_ex", 0);
	if (!capture_call_start(&frame, ssl))
		return real(ssl, buf, num, written);
	ret = real(ssl, buf, num, written);
	capture_call_done(&frame, ssl, &openssl_ops, TLSTAP_DIR_WRITE, buf,
			  ret == 1 && written ? (ssize_t)*written : 0);
	return ret;
}

/* The program ends the connection: its CLOSE, whatever the call returns. */
TLSTAP_EXPORT int SSL_shutdown(SSL *ssl)
{
	__typeof__(&SSL_shutdown) real = REAL(SSL_shutdown);

	capture_end(ssl);
	if (real)
		return real(ssl);
	return capture_missing_enosys("SSL_shutdown", -1);
}

TLSTAP_EXPORT void SSL_free(SSL *ssl)
{
	__typeof__(&SSL_free) real = REAL(SSL_free);

	capture_forget(ssl);
	if (real)
		real(ssl);
	else
		capture_missing("SSL_free");
}

/* SSL_clear() readies the object for a new connection. */
TLSTAP_EXPORT int SSL_clear(SSL *ssl)
{
	__typeof__(&SSL_clear) real = REAL(SSL_clear);

	capture_forget(ssl);
	if (real)
		return real(ssl);
	capture_missing("SSL_clear");
	return 0;
}

/* The SSL BIO's own read and write, as the real BIO_f_ssl() has them. */
static int (*ssl_bio_read)(BIO *, char *, size_t, size_t *);
static int (*ssl_bio_write)(BIO *, const char *, size_t, size_t *);
static long (*ssl_bio_ctrl)(BIO *, int, long, void *);

/* The SSL behind an SSL BIO: asked of its own ctrl, so that no BIO
 * callback of the program sees the question.
 */
static SSL *ssl_of_bio(BIO *bio)
{
	SSL *ssl = NULL;

	ssl_bio_ctrl(bio, BIO_C_GET_SSL, 0, &ssl);
	return ssl;
}

static int ssl_bio_read_capture(BIO *bio, char *buf, size_t size,
				size_t *readbytes)
{
	SSL *ssl = ssl_of_bio(bio);
	struct capture_frame frame;
	int ret;

	if (!ssl || !capture_call_start(&frame, ssl))
		return ssl_bio_read(bio, buf, size, readbytes);
	ret = ssl_bio_read(bio, buf, size, readbytes);
	capture_call_done(&frame, ssl, &openssl_ops, TLSTAP_DIR_READ, buf,
			  ret > 0 ? (ssize_t)*readbytes : 0);
	return ret;
}

static int ssl_bio_write_capture(BIO *bio, const char *buf, size_t size,
				 size_t *written)
{
	SSL *ssl = ssl_of_bio(bio);
	struct capture_frame frame;
	int ret;

	if (!ssl || !capture_call_start(&frame, ssl))
		return ssl_bio_write(bio, buf, size, written);
	ret = ssl_bio_write(bio, buf, size, written);
	capture_call_done(&frame, ssl, &openssl_ops, TLSTAP_DIR_WRITE, buf,
			  ret > 0 ? (ssize_t)*written : 0);
	return ret;
}

/* A copy of the real method with capturing read and write, or NULL. */
static BIO_METHOD *capturing_ssl_method(const BIO_METHOD *real)
{
	__typeof__(&BIO_meth_new) p_BIO_meth_new = REAL(BIO_meth_new);
	__typeof__(&BIO_meth_free) p_BIO_meth_free = REAL(BIO_meth_free);
	__typeof__(&BIO_meth_get_read_ex) p_BIO_meth_get_read_ex =
		REAL(BIO_meth_get_read_ex);
	__typeof__(&BIO_meth_get_write_ex) p_BIO_meth_get_write_ex =
		REAL(BIO_meth_get_write_ex);
	__typeof__(&BIO_meth_get_puts) p_BIO_meth_get_puts =
		REAL(BIO_meth_get_puts);
	__typeof__(&BIO_meth_get_gets) p_BIO_meth_get_gets =
		REAL(BIO_meth_get_gets);
	__typeof__(&BIO_meth_get_ctrl) p_BIO_meth_get_ctrl =
		REAL(BIO_meth_get_ctrl);
	__typeof__(&BIO_meth_get_create) p_BIO_meth_get_create =
		REAL(BIO_meth_get_create);
	__typeof__(&BIO_meth_get_destroy) p_BIO_meth_get_destroy =
		REAL(BIO_meth_get_destroy);
	__typeof__(&BIO_meth_get_callback_ctrl) p_BIO_meth_get_callback_ctrl =
		REAL(BIO_meth_get_callback_ctrl);
	__typeof__(&BIO_meth_set_read_ex) p_BIO_meth_set_read_ex =
		REAL(BIO_meth_set_read_ex);
	__typeof__(&BIO_meth_set_write_ex) p_BIO_meth_set_write_ex =
		REAL(BIO_meth_set_write_ex);
	__typeof__(&BIO_meth_set_puts) p_BIO_meth_set_puts =
		REAL(BIO_meth_set_puts);
	__typeof__(&BIO_meth_set_gets) p_BIO_meth_set_gets =
		REAL(BIO_meth_set_gets);
	__typeof__(&BIO_meth_set_ctrl) p_BIO_meth_set_ctrl =
		REAL(BIO_meth_set_ctrl);
	__typeof__(&BIO_meth_set_create) p_BIO_meth_set_create =
		REAL(BIO_meth_set_create);
	__typeof__(&BIO_meth_set_destroy) p_BIO_meth_set_destroy =
		REAL(BIO_meth_set_destroy);
	__typeof__(&BIO_meth_set_callback_ctrl) p_BIO_meth_set_callback_ctrl =
		REAL(BIO_meth_set_callback_ctrl);
	__typeof__(&ERR_set_mark) p_ERR_set_mark = REAL(ERR_set_mark);
	__typeof__(&ERR_pop_to_mark) p_ERR_pop_to_mark = REAL(ERR_pop_to_mark);
	BIO_METHOD *m;
	int ok;

	if (!p_BIO_meth_new || !p_BIO_meth_free || !p_BIO_meth_get_read_ex ||
	    !p_BIO_meth_get_write_ex || !p_BIO_meth_get_puts ||
	    !p_BIO_meth_get_gets || !p_BIO_meth_get_ctrl ||
	    !p_BIO_meth_get_create || !p_BIO_meth_get_destroy ||
	    !p_BIO_meth_get_callback_ctrl || !p_BIO_meth_set_read_ex ||
	    !p_BIO_meth_set_write_ex || !p_BIO_meth_set_puts ||
	    !p_BIO_meth_set_gets || !p_BIO_meth_set_ctrl ||
	    !p_BIO_meth_set_create || !p_BIO_meth_set_destroy ||
	    !p_BIO_meth_set_callback_ctrl ||
	    !p_ERR_set_mark || !p_ERR_pop_to_mark)
		return NULL;
	ssl_bio_read = p_BIO_meth_get_read_ex(real);
	ssl_bio_write = p_BIO_meth_get_write_ex(real);
	ssl_bio_ctrl = p_BIO_meth_get_ctrl(real);
	if (!ssl_bio_read || !ssl_bio_write || !ssl_bio_ctrl)
		return NULL;
	/* An allocation failure here must leave no error in the queue. */
	p_ERR_set_mark();
	m = p_BIO_meth_new(BIO_TYPE_SSL, "ssl");
	ok = m &&
	     p_BIO_meth_set_read_ex(m, ssl_bio_read_capture) &&
	     p_BIO_meth_set_write_ex(m, ssl_bio_write_capture) &&
	     p_BIO_meth_set_puts(m, p_BIO_meth_get_puts(real)) &&
	     p_BIO_meth_set_gets(m, p_BIO_meth_get_gets(real)) &&
	     p_BIO_meth_set_ctrl(m, ssl_bio_ctrl) &&
	     p_BIO_meth_set_create(m, p_BIO_meth_get_create(real)) &&
	     p_BIO_meth_set_destroy(m, p_BIO_meth_get_destroy(real)) &&
	     p_BIO_meth_set_callback_ctrl(m, p_BIO_meth_get_callback_ctrl(real));
	if (!ok && m) {
		p_BIO_meth_free(m);
		m = NULL;
	}
	p_ERR_pop_to_mark();
	return m;
}

TLSTAP_EXPORT const BIO_METHOD *BIO_f_ssl(void)
{
	__typeof__(&BIO_f_ssl) real = REAL(BIO_f_ssl);
	const BIO_METHOD *method;
	void *mine;
	int saved;

	if (!real) {
		capture_missing("BIO_f_ssl");
		return NULL;
	}
	method = real();
	mine = atomic_load(&tlstap.ssl_bio_method);
	if (mine)
		return mine;
	if (!method)
		return NULL;
	saved = errno;
	if (process_capturing()) {
		/* The first to build it publishes it; later callers share it. */
		pthread_mutex_lock(&tlstap.init_lock);
		mine = atomic_load(&tlstap.ssl_bio_method);
		if (!mine) {
			mine = capturing_ssl_method(method);
			/* Could not copy it: hand out the real one from now on. */
			atomic_store(&tlstap.ssl_bio_method,
				     mine ? mine : (void *)method);
		}
		pthread_mutex_unlock(&tlstap.init_lock);
	}
	errno = saved;
	return mine ? mine : method;
}
