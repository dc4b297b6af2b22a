/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Per-TLS-session cache, keyed by the library's session pointer (SSL *,
 * gnutls_session_t): connection id, addresses, the exclusion decision,
 * the bytes each direction dropped since its last record that got
 * through, and where the connection stands: opened (its OPEN written) or
 * closed (its CLOSE written). Filled on the first data call of a
 * session, dropped when the session is freed or its transport changes
 * (the token: OpenSSL's BIO, GnuTLS's fd).
 *
 * The sockets of open connections are also in a table by descriptor, so
 * that close() finds its connection without a lock (session_end_fd).
 */
#ifndef TLSTAP_SESSION_H
#define TLSTAP_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SESSION_BUCKETS	16384	/* power of two */
#define SESSION_STRIPES	64	/* locks, each guards BUCKETS/STRIPES chains */
#define SESSION_MAX_NAME 255	/* a DNS name */
/* Sockets close() can find: descriptors below this (a table of 512 KiB). */
#define SESSION_FDS	65536

struct flow {
	uint8_t family;		/* enum tlstap_family */
	uint16_t local_port, remote_port;	/* host order */
	uint8_t local_addr[16], remote_addr[16];
};

struct session_info {
	uint64_t conn_id;
	struct flow flow;	/* family NONE until a socket is known */
	int fd;			/* the socket the flow came from, or -1 */
	bool server;		/* this end accepted the connection */
	bool excluded;
};

struct session;

struct session_table {
	pthread_mutex_t locks[SESSION_STRIPES];
	struct session *buckets[SESSION_BUCKETS];
	/* The session whose open connection has this socket, or NULL. */
	_Atomic(const void *) by_fd[SESSION_FDS];
};

void session_table_init(struct session_table *t);

/* What a TLS call moving data in direction dir needs of its session. */
struct session_call {
	struct session_info info;
	uint64_t dropped;	/* dir's bytes lost since its last record */
	bool open;		/* the connection starts: write its OPEN first */
};

/*
 * true when key has cached info for this token: c is filled and dir's
 * dropped count moves to c->dropped (the caller puts back what it could
 * not deliver with session_add_dropped()).
 */
bool session_lookup(struct session_table *t, const void *key,
		    uintptr_t token, uint8_t dir, struct session_call *c);

/*
 * What a connection that ends still has to say: its loss reports (bytes
 * each direction lost with no record left to say so), then its CLOSE.
 */
struct session_end {
	struct session_info info;
	uint64_t dropped[2];	/* by direction - 1; 0: nothing to report */
	bool close;		/* it was open: write its CLOSE */
};

/*
 * Stores info for (key, token) unless another thread did first, in which
 * case c->info becomes the stored one. Takes dir's dropped count as
 * lookup does. When a new transport replaces the session's connection,
 * the old connection ends: what it has to say goes to *old. false when
 * out of memory (nothing is stored).
 */
bool session_publish(struct session_table *t, const void *key,
		     uintptr_t token, uint8_t dir,
		     const struct session_info *info, struct session_call *c,
		     struct session_end *old);

void session_add_dropped(struct session_table *t, const void *key,
			 uintptr_t token, uint8_t dir, uint64_t bytes);

/* The socket of a session that had none became known. */
void session_set_flow(struct session_table *t, const void *key,
		      uintptr_t token, const struct flow *flow, int fd);

/* Server name a client set before the handshake (GnuTLS has no getter). */
void session_set_name(struct session_table *t, const void *key,
		      const char *name, size_t len);
/* Copies the stored name into buf (size > SESSION_MAX_NAME); false if none. */
bool session_get_name(struct session_table *t, const void *key, char *buf);

/* The role given at the session's creation (GnuTLS has no getter). */
void session_set_server(struct session_table *t, const void *key,
			bool server);
bool session_is_server(struct session_table *t, const void *key);

/*
 * The program ends the session's connection (SSL_shutdown, gnutls_bye):
 * *e says what is left to say. A data call after it opens it again.
 */
void session_end(struct session_table *t, const void *key,
		 struct session_end *e);

/* Removes the session; its connection ends as in session_end(). */
void session_forget(struct session_table *t, const void *key,
		    struct session_end *e);

/*
 * close(fd): whether fd is the socket of an open connection, with one
 * atomic load when it is not. If it is, its connection ends as in
 * session_end() and true is returned, unless the session's lock is taken
 * (by another thread, or by the code a signal handler interrupted): then
 * nothing happens, and the session's own end (or the exit) writes what
 * is left. No lock is waited for: async-signal-safe.
 */
bool session_end_fd(struct session_table *t, int fd, struct session_end *e);

/* Whether fd may be an open connection's socket: one atomic load. */
static inline bool session_has_fd(struct session_table *t, int fd)
{
	return (unsigned int)fd < SESSION_FDS &&
	       atomic_load_explicit(&t->by_fd[fd], memory_order_relaxed);
}

/*
 * At exit: calls report() for every connection with something left to
 * say, skipping chains whose lock another thread holds (at exit, that
 * thread may never let go).
 */
void session_each_end(struct session_table *t,
		      void (*report)(const struct session_end *e));

/* fork(): hold every lock across it so the child's copy is consistent. */
void session_table_lock_all(struct session_table *t);
void session_table_unlock_all(struct session_table *t);

#endif /* TLSTAP_SESSION_H */
