// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * wbench CERT KEY CALLS SIZE: a TLS 1.3 client makes CALLS SSL_write()
 * calls of SIZE bytes to a server thread of the same process over TCP on
 * 127.0.0.1; the server thread reads them all with SSL_read(). Run under
 * callgrind, the inclusive cost of SSL_write divided by CALLS is what one
 * call costs in user-space instructions; run natively, the line it prints
 * gives the writing thread's CPU time (user + system, so the record's
 * system call when hooked is in it) and wall time per call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct server {
	SSL *ssl;
	long long expect;	/* bytes the client sends */
	long long got;
	int error;		/* the thread failed; message already printed */
};

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("wbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static long parse_positive(const char *what, const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > max)
		die("%s must be an integer in 1..%ld, not '%s'", what, max, s);
	return v;
}

static void *serve(void *arg)
{
	struct server *srv = arg;
	static char buf[1 << 16];

	if (SSL_accept(srv->ssl) != 1) {
		fprintf(stderr, "wbench: SSL_accept failed\n");
		ERR_print_errors_fp(stderr);
		srv->error = 1;
		return NULL;
	}
	while (srv->got < srv->expect) {
		int n = SSL_read(srv->ssl, buf, sizeof(buf));

		if (n <= 0) {
			fprintf(stderr, "wbench: SSL_read failed after %lld of %lld bytes: SSL error %d\n", srv->got,
				srv->expect, SSL_get_error(srv->ssl, n));
			ERR_print_errors_fp(stderr);
			srv->error = 1;
			return NULL;
		}
		srv->got += n;
	}
	return NULL;
}

/* Two connected TCP sockets on 127.0.0.1: *client and *server. */
static void tcp_pair(int *client, int *server)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int lsn;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsn = socket(AF_INET, SOCK_STREAM, 0);
	if (lsn < 0)
		die("socket: %s", strerror(errno));
	if (bind(lsn, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(lsn, 1) ||
	    getsockname(lsn, (struct sockaddr *)&addr, &len))
		die("listening on 127.0.0.1: %s", strerror(errno));
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (*client < 0)
		die("socket: %s", strerror(errno));
	if (connect(*client, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect to 127.0.0.1:%d: %s", ntohs(addr.sin_port),
		    strerror(errno));
	*server = accept(lsn, NULL, NULL);
	if (*server < 0)
		die("accept: %s", strerror(errno));
	close(lsn);
}

static SSL_CTX *context(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (!ctx)
		die("SSL_CTX_new failed");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION))
		die("cannot require TLS 1.3");
	return ctx;
}

static double thread_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		die("getrusage: %s", strerror(errno));
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct server srv = { 0 };
	SSL_CTX *cctx, *sctx;
	double cpu0, wall0, cpu, wall;
	long calls, size, i;
	int cfd, sfd, err;
	pthread_t thread;
	SSL *cl;
	char *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: wbench CERT KEY CALLS SIZE\n");
		return 2;
	}
	calls = parse_positive("CALLS", argv[3], 1L << 30);
	size = parse_positive("SIZE", argv[4], 1 << 14);
	buf = calloc(1, size);
	if (!buf)
		die("out of memory");
	cctx = context(TLS_client_method());
	sctx = context(TLS_server_method());
	if (SSL_CTX_use_certificate_file(sctx, argv[1], SSL_FILETYPE_PEM) != 1)
		die("cannot load certificate %s", argv[1]);
	if (SSL_CTX_use_PrivateKey_file(sctx, argv[2], SSL_FILETYPE_PEM) != 1)
		die("cannot load key %s", argv[2]);
	tcp_pair(&cfd, &sfd);
	cl = SSL_new(cctx);
	srv.ssl = SSL_new(sctx);
	if (!cl || !srv.ssl)
		die("SSL_new failed");
	if (!SSL_set_fd(cl, cfd) || !SSL_set_fd(srv.ssl, sfd))
		die("SSL_set_fd failed");
	srv.expect = (long long)calls * size;
	err = pthread_create(&thread, NULL, serve, &srv);
	if (err)
		die("pthread_create: %s", strerror(err));
	if (SSL_connect(cl) != 1)
		die("SSL_connect failed");
	cpu0 = thread_cpu_s();
	wall0 = now_s();
	for (i = 0; i < calls; i++) {
		int n = SSL_write(cl, buf, (int)size);

		if (n != size)
			die("SSL_write %ld returned %d (SSL error %d)", i, n,
			    SSL_get_error(cl, n));
	}
	cpu = thread_cpu_s() - cpu0;
	wall = now_s() - wall0;
	err = pthread_join(thread, NULL);
	if (err)
		die("pthread_join: %s", strerror(err));
	if (srv.error)
		return 1;
	printf("calls %ld size %ld writer_cpu_ns_per_call %.0f wall_ns_per_call %.0f\n", calls, size, cpu / calls * 1e9,
	       wall / calls * 1e9);
	SSL_free(cl);
	SSL_free(srv.ssl);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	close(cfd);
	close(sfd);
	free(buf);
	return 0;
}
