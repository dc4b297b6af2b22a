/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Per-TLS-session cache, keyed by the library's session pointer (SSL *,
 * gnutls_session_t): connection id, addresses, the exclusion decision and
 * the bytes dropped since the last record that got through. Filled on the
 * first data call of a session, dropped when the session is freed or its
 * transport changes (the token: OpenSSL's BIO, GnuTLS's fd).
 */
#ifndef TLSTAP_SESSION_H
#define TLSTAP_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SESSION_BUCKETS	16384	/* power of two */
#define SESSION_STRIPES	64	/* locks, each guards BUCKETS/STRIPES chains */
#define SESSION_MAX_NAME 255	/* a DNS name */

struct flow {
	uint8_t family;		/* enum tlstap_family */
	uint16_t local_port, remote_port;	/* host order */
	uint8_t local_addr[16], remote_addr[16];
};

struct session_info {
	uint64_t conn_id;
	struct flow flow;	/* family NONE until a socket is known */
	bool excluded;
};

struct session;

struct session_table {
	pthread_mutex_t locks[SESSION_STRIPES];
	struct session *buckets[SESSION_BUCKETS];
};

void session_table_init(struct session_table *t);

/*
 * true when key has cached info for this token: *info is filled and the
 * dropped byte count moves to *dropped (the caller puts back what it could
 * not deliver with session_add_dropped()).
 */
bool session_lookup(struct session_table *t, const void *key,
		    uintptr_t token, struct session_info *info,
		    uint64_t *dropped);

/* Bytes a connection lost with no record of it left to say so. */
struct session_loss {
	struct session_info info;
	uint64_t dropped;	/* 0: nothing to report */
};

/*
 * Stores info for (key, token) unless another thread did first, in which
 * case *info becomes the stored one. Takes the dropped count as lookup
 * does. When a new transport replaces the session's connection, the old
 * connection's unreported loss goes to *loss. false when out of memory
 * (nothing is stored).
 */
bool session_publish(struct session_table *t, const void *key,
		     uintptr_t token, struct session_info *info,
		     uint64_t *dropped, struct session_loss *loss);

void session_add_dropped(struct session_table *t, const void *key,
			 uintptr_t token, uint64_t bytes);

/* The socket of a session that had none became known. */
void session_set_flow(struct session_table *t, const void *key,
		      uintptr_t token, const struct flow *flow);

/* Server name a client set before the handshake (GnuTLS has no getter). */
void session_set_name(struct session_table *t, const void *key,
		      const char *name, size_t len);
/* Copies the stored name into buf (size > SESSION_MAX_NAME); false if none. */
bool session_get_name(struct session_table *t, const void *key, char *buf);

/* Removes the session; its unreported loss goes to *loss. */
void session_forget(struct session_table *t, const void *key,
		    struct session_loss *loss);

/*
 * Calls report() for every session with an unreported loss, skipping
 * chains whose lock another thread holds (at exit, that thread may never
 * let go).
 */
void session_each_loss(struct session_table *t,
		       void (*report)(const struct session_loss *loss));

/* fork(): hold every lock across it so the child's copy is consistent. */
void session_table_lock_all(struct session_table *t);
void session_table_unlock_all(struct session_table *t);

#endif /* TLSTAP_SESSION_H */
