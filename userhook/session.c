// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "session.h"

#include <stdlib.h>
#include <string.h>

enum conn_state {
	CONN_NEW,	/* no OPEN written */
	CONN_OPEN,	/* its OPEN written, its CLOSE not yet */
	CONN_CLOSED,	/* its CLOSE written */
};

struct session {
	struct session *next;
	const void *key;
	uintptr_t token;
	bool ready;		/* info is valid for token */
	bool server;		/* session_set_server() said so */
	struct session_info info;
	uint64_t dropped[2];	/* by direction - 1 */
	enum conn_state state;
	int slot;		/* the by_fd entry it holds, or -1 */
	char *name;		/* set by session_set_name, or NULL */
};

void session_table_init(struct session_table *t)
{
	unsigned int i;

	for (i = 0; i < SESSION_STRIPES; i++)
		pthread_mutex_init(&t->locks[i], NULL);
}

static unsigned int bucket_of(const void *key)
{
	/* Fibonacci hashing; heap pointers differ mostly above bit 4. */
	uint64_t h = ((uint64_t)(uintptr_t)key >> 4) * 0x9e3779b97f4a7c15ull;

	return (unsigned int)(h >> 50) & (SESSION_BUCKETS - 1);
}

static pthread_mutex_t *lock_of(struct session_table *t, unsigned int bucket)
{
	return &t->locks[bucket % SESSION_STRIPES];
}

static struct session *find(struct session_table *t, unsigned int bucket,
			    const void *key)
{
	struct session *s;

	for (s = t->buckets[bucket]; s; s = s->next)
		if (s->key == key)
			return s;
	return NULL;
}

static struct session *find_or_add(struct session_table *t,
				   unsigned int bucket, const void *key)
{
	struct session *s = find(t, bucket, key);

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key = key;
	s->slot = -1;
	s->next = t->buckets[bucket];
	t->buckets[bucket] = s;
	return s;
}

static unsigned int dir_index(uint8_t dir)
{
	return dir == 1 ? 0 : 1;	/* TLSTAP_DIR_READ, _WRITE */
}

/*
 * The connection's socket into the table: close() finds it from now on.
 * A stale entry there (its socket closed behind our back) is replaced.
 */
static void slot_take(struct session_table *t, struct session *s)
{
	int fd = s->info.fd;

	if (s->slot >= 0 || fd < 0 || fd >= SESSION_FDS)
		return;
	atomic_store_explicit(&t->by_fd[fd], s->key, memory_order_release);
	s->slot = fd;
}

/* Gives the entry back; false when close() already took it. */
static bool slot_release(struct session_table *t, struct session *s)
{
	const void *key = s->key;
	int fd = s->slot;

	if (fd < 0)
		return true;
	s->slot = -1;
	return atomic_compare_exchange_strong(&t->by_fd[fd], &key, NULL);
}

/* A data call: the connection opens unless it is (or is excluded). */
static bool opens(struct session_table *t, struct session *s)
{
	if (s->info.excluded || s->state == CONN_OPEN)
		return false;
	s->state = CONN_OPEN;
	slot_take(t, s);
	return true;
}

static void take_call(struct session_table *t, struct session *s,
		      uint8_t dir, struct session_call *c)
{
	c->info = s->info;
	c->dropped = s->dropped[dir_index(dir)];
	s->dropped[dir_index(dir)] = 0;
	c->open = opens(t, s);
}

bool session_lookup(struct session_table *t, const void *key,
		    uintptr_t token, uint8_t dir, struct session_call *c)
{
	unsigned int b = bucket_of(key);
	struct session *s;
	bool hit = false;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s && s->ready && s->token == token) {
		take_call(t, s, dir, c);
		hit = true;
	}
	pthread_mutex_unlock(lock_of(t, b));
	return hit;
}

/*
 * The entry's connection ends: its unreported loss and, if it was open
 * and close() did not get there first, its CLOSE go to *e.
 */
static void end_conn(struct session_table *t, struct session *s,
		     struct session_end *e)
{
	bool open = s->state == CONN_OPEN;

	memset(e, 0, sizeof(*e));
	if (!s->ready || s->info.excluded)
		return;
	e->info = s->info;
	memcpy(e->dropped, s->dropped, sizeof(e->dropped));
	memset(s->dropped, 0, sizeof(s->dropped));
	if (open)
		s->state = CONN_CLOSED;
	e->close = slot_release(t, s) && open;
}

bool session_publish(struct session_table *t, const void *key,
		     uintptr_t token, uint8_t dir,
		     const struct session_info *info, struct session_call *c,
		     struct session_end *old)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	memset(old, 0, sizeof(*old));
	pthread_mutex_lock(lock_of(t, b));
	s = find_or_add(t, b, key);
	if (!s) {
		pthread_mutex_unlock(lock_of(t, b));
		return false;
	}
	if (!s->ready || s->token != token) {
		/* New session, or a new transport: a new connection. */
		end_conn(t, s, old);
		s->token = token;
		s->info = *info;
		memset(s->dropped, 0, sizeof(s->dropped));
		s->state = CONN_NEW;
		s->ready = true;
	}
	take_call(t, s, dir, c);
	pthread_mutex_unlock(lock_of(t, b));
	return true;
}

void session_add_dropped(struct session_table *t, const void *key,
			 uintptr_t token, uint8_t dir, uint64_t bytes)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s && s->ready && s->token == token)
		s->dropped[dir_index(dir)] += bytes;
	pthread_mutex_unlock(lock_of(t, b));
}

void session_set_flow(struct session_table *t, const void *key,
		      uintptr_t token, const struct flow *flow, int fd)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s && s->ready && s->token == token && s->slot < 0) {
		s->info.flow = *flow;
		s->info.fd = fd;
		if (s->state == CONN_OPEN)
			slot_take(t, s);
	}
	pthread_mutex_unlock(lock_of(t, b));
}

void session_set_name(struct session_table *t, const void *key,
		      const char *name, size_t len)
{
	unsigned int b = bucket_of(key);
	struct session *s;
	char *copy;

	if (len > SESSION_MAX_NAME)
		len = SESSION_MAX_NAME;
	copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, name, len);
	copy[len] = '\0';
	pthread_mutex_lock(lock_of(t, b));
	s = find_or_add(t, b, key);
	if (s) {
		free(s->name);
		s->name = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(lock_of(t, b));
	free(copy);
}

bool session_get_name(struct session_table *t, const void *key, char *buf)
{
	unsigned int b = bucket_of(key);
	struct session *s;
	bool found = false;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s && s->name) {
		strcpy(buf, s->name);
		found = true;
	}
	pthread_mutex_unlock(lock_of(t, b));
	return found;
}

void session_set_server(struct session_table *t, const void *key,
			bool server)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	pthread_mutex_lock(lock_of(t, b));
	s = find_or_add(t, b, key);
	if (s)
		s->server = server;
	pthread_mutex_unlock(lock_of(t, b));
}

bool session_is_server(struct session_table *t, const void *key)
{
	unsigned int b = bucket_of(key);
	struct session *s;
	bool server;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	server = s && s->server;
	pthread_mutex_unlock(lock_of(t, b));
	return server;
}

void session_end(struct session_table *t, const void *key,
		 struct session_end *e)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	memset(e, 0, sizeof(*e));
	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s)
		end_conn(t, s, e);
	pthread_mutex_unlock(lock_of(t, b));
}

void session_forget(struct session_table *t, const void *key,
		    struct session_end *e)
{
	unsigned int b = bucket_of(key);
	struct session **p, *s = NULL;

	memset(e, 0, sizeof(*e));
	pthread_mutex_lock(lock_of(t, b));
	for (p = &t->buckets[b]; *p; p = &(*p)->next)
		if ((*p)->key == key) {
			s = *p;
			*p = s->next;
			end_conn(t, s, e);
			break;
		}
	pthread_mutex_unlock(lock_of(t, b));
	if (s) {
		free(s->name);
		free(s);
	}
}

bool session_end_fd(struct session_table *t, int fd, struct session_end *e)
{
	const void *key;
	struct session *s;
	unsigned int b;
	bool ended = false;

	if ((unsigned int)fd >= SESSION_FDS)
		return false;
	key = atomic_load_explicit(&t->by_fd[fd], memory_order_acquire);
	if (__builtin_expect(!key, 1))
		return false;
	b = bucket_of(key);
	if (pthread_mutex_trylock(lock_of(t, b)))
		return false;
	s = find(t, b, key);
	if (s && s->slot == fd && s->state == CONN_OPEN) {
		end_conn(t, s, e);
		ended = e->close;
	}
	pthread_mutex_unlock(lock_of(t, b));
	return ended;
}

void session_each_end(struct session_table *t,
		      void (*report)(const struct session_end *e))
{
	struct session_end e;
	struct session *s;
	unsigned int b;

	for (b = 0; b < SESSION_BUCKETS; b++) {
		if (pthread_mutex_trylock(lock_of(t, b)))
			continue;
		for (s = t->buckets[b]; s; s = s->next) {
			end_conn(t, s, &e);
			if (e.close || e.dropped[0] || e.dropped[1])
				report(&e);
		}
		pthread_mutex_unlock(lock_of(t, b));
	}
}

void session_table_lock_all(struct session_table *t)
{
	unsigned int i;

	for (i = 0; i < SESSION_STRIPES; i++)
		pthread_mutex_lock(&t->locks[i]);
}

void session_table_unlock_all(struct session_table *t)
{
	unsigned int i;

	for (i = SESSION_STRIPES; i-- > 0;)
		pthread_mutex_unlock(&t->locks[i]);
}
