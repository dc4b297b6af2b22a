// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * What a program can observe of the hook: a TLS client and server in one
 * process, over TCP on loopback, non-blocking. Every step prints what a
 * program sees: return values, SSL_get_error(), errno, the error queue
 * (with an error of our own left on it), the BIO method of an SSL BIO.
 * Run unhooked and hooked, the outputs must be identical. The bytes sent
 * each way are written to PREFIX.c2s and PREFIX.s2c for the capture check.
 *
 *	probe CERT KEY PREFIX
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static FILE *c2s, *s2c;

static void die(const char *what)
{
	fprintf(stderr, "probe: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(2);
}

/* Everything a program could look at after a call. */
static void show(const char *step, SSL *ssl, long ret, int saved_errno)
{
	unsigned long e = ERR_peek_error(), last = ERR_peek_last_error();

	printf("%-28s ret=%ld ssl_error=%d errno=%d err_first=%lx err_last=%lx\n",
	       step, ret, ssl ? SSL_get_error(ssl, (int)ret) : -1, saved_errno,
	       e, last);
}

static void tcp_pair(int *c, int *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		die("listen");
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	*s = accept(l, NULL, NULL);
	if (*s < 0)
		die("accept");
	close(l);
	fcntl(*c, F_SETFL, O_NONBLOCK);
	fcntl(*s, F_SETFL, O_NONBLOCK);
}

static void handshake(SSL *c, SSL *s)
{
	int i, rc, rs;

	for (i = 0; i < 1000; i++) {
		rc = SSL_do_handshake(c);
		rs = SSL_do_handshake(s);
		if (rc == 1 && rs == 1)
			return;
		poll(NULL, 0, 1);
	}
	die("handshake");
}

/* Reads exactly n bytes on ssl (non-blocking, retrying). */
static void read_all(SSL *ssl, char *buf, size_t n)
{
	size_t got = 0, r;
	int tries;

	for (tries = 0; got < n && tries < 5000; tries++) {
		if (SSL_read_ex(ssl, buf + got, n - got, &r))
			got += r;
		else if (SSL_get_error(ssl, 0) == SSL_ERROR_WANT_READ)
			poll(NULL, 0, 1);
		else
			die("read_all");
	}
	if (got < n)
		die("read_all: timeout");
	ERR_clear_error();
}

int main(int argc, char **argv)
{
	static char buf[70000], big[200000];
	char path[4096];
	SSL_CTX *cctx, *sctx;
	SSL *c, *s;
	BIO *sbio;
	size_t n;
	int cfd, sfd, ret, e;

	if (argc != 4)
		die("usage: probe CERT KEY PREFIX");
	snprintf(path, sizeof(path), "%s.c2s", argv[3]);
	c2s = fopen(path, "wb");
	snprintf(path, sizeof(path), "%s.s2c", argv[3]);
	s2c = fopen(path, "wb");
	if (!c2s || !s2c)
		die("log files");
	setvbuf(stdout, NULL, _IOLBF, 0);
	cctx = SSL_CTX_new(TLS_client_method());
	sctx = SSL_CTX_new(TLS_server_method());
	if (!cctx || !sctx ||
	    SSL_CTX_use_certificate_file(sctx, argv[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, argv[2], SSL_FILETYPE_PEM) != 1)
		die("contexts");
	tcp_pair(&cfd, &sfd);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	SSL_set_fd(c, cfd);
	SSL_set_fd(s, sfd);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	SSL_set_tlsext_host_name(c, "probe.test");
	handshake(c, s);

	/* Nothing to read: WANT_READ, EAGAIN, nothing on the queue. */
	errno = 0;
	ret = SSL_read(c, buf, sizeof(buf));
	e = errno;
	show("SSL_read (empty)", c, ret, e);
	ERR_clear_error();
	errno = 0;
	ret = SSL_read_ex(s, buf, sizeof(buf), &n);
	e = errno;
	show("SSL_read_ex (empty)", s, ret, e);
	ERR_clear_error();

	/* An error of the program's own stays on the queue, alone. */
	ERR_raise_data(ERR_LIB_USER, 42, "the program's own error");
	errno = 4242;
	ret = SSL_write(c, "hello", 5);
	e = errno;
	show("SSL_write (error queued)", c, ret, e);
	fwrite("hello", 1, 5, c2s);
	errno = 4343;
	ret = SSL_peek(s, buf, sizeof(buf));
	e = errno;
	show("SSL_peek", s, ret, e);
	errno = 4444;
	ret = SSL_read(s, buf, sizeof(buf));
	e = errno;
	show("SSL_read", s, ret, e);
	printf("read: %.*s\n", ret > 0 ? ret : 0, buf);
	ERR_clear_error();

	/* The _ex pair: a large write the peer drains as it goes. */
	for (n = 0; n < sizeof(big); n++)
		big[n] = (char)('a' + n % 26);
	{
		size_t sent = 0, got = 0, w, r;
		int tries;

		for (tries = 0; tries < 20000 && got < sizeof(big); tries++) {
			if (sent < sizeof(big)) {
				if (SSL_write_ex(s, big + sent, sizeof(big) - sent, &w)) {
					fwrite(big + sent, 1, w, s2c);
					sent += w;
				} else if (SSL_get_error(s, 0) != SSL_ERROR_WANT_WRITE) {
					die("SSL_write_ex");
				}
			}
			if (SSL_read_ex(c, buf, sizeof(buf), &r))
				got += r;
			else if (SSL_get_error(c, 0) == SSL_ERROR_WANT_READ)
				poll(NULL, 0, 1);
			else
				die("SSL_read_ex");
		}
		printf("200000 bytes: sent %zu, received %zu, queue %lx\n", sent,
		       got, ERR_peek_error());
	}

	/* An SSL BIO: the program sees the method it expects. */
	sbio = BIO_new(BIO_f_ssl());
	if (!sbio)
		die("BIO_new");
	BIO_set_ssl(sbio, c, BIO_NOCLOSE);
	printf("SSL BIO: type=%d name=%s is_f_ssl=%d\n", BIO_method_type(sbio),
	       BIO_method_name(sbio), BIO_method_type(sbio) == BIO_TYPE_SSL);
	errno = 0;
	ret = BIO_write(sbio, "via bio", 7);
	e = errno;
	show("BIO_write (SSL BIO)", c, ret, e);
	fwrite("via bio", 1, 7, c2s);
	read_all(s, buf, 7);
	printf("server got: %.7s\n", buf);
	BIO_free_all(sbio);	/* drops the reference it took on the rbio */

	/* The server closes: the client sees ZERO_RETURN. */
	SSL_shutdown(s);
	{
		int tries;

		for (tries = 0; tries < 1000; tries++) {
			errno = 0;
			ret = SSL_read(c, buf, sizeof(buf));
			e = errno;
			if (SSL_get_error(c, ret) != SSL_ERROR_WANT_READ)
				break;
			ERR_clear_error();
			poll(NULL, 0, 1);
		}
		show("SSL_read (closed)", c, ret, e);
	}
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	close(cfd);
	close(sfd);
	fclose(c2s);
	fclose(s2c);
	printf("done\n");
	return 0;
}
