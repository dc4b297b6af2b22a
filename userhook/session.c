// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "session.h"

#include <stdlib.h>
#include <string.h>

struct session {
	struct session *next;
	const void *key;
	uintptr_t token;
	bool ready;		/* info is valid for token */
	struct session_info info;
	uint64_t dropped;
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
	s->next = t->buckets[bucket];
	t->buckets[bucket] = s;
	return s;
}

bool session_lookup(struct session_table *t, const void *key,
		    uintptr_t token, struct session_info *info,
		    uint64_t *dropped)
{
	unsigned int b = bucket_of(key);
	struct session *s;
	bool hit = false;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s && s->ready && s->token == token) {
		*info = s->info;
		*dropped = s->dropped;
		s->dropped = 0;
		hit = true;
	}
	pthread_mutex_unlock(lock_of(t, b));
	return hit;
}

/* What the entry's connection lost that no record reported. */
static void take_loss(struct session *s, struct session_loss *loss)
{
	loss->dropped = 0;
	if (s->ready && !s->info.excluded && s->dropped) {
		loss->info = s->info;
		loss->dropped = s->dropped;
		s->dropped = 0;
	}
}

bool session_publish(struct session_table *t, const void *key,
		     uintptr_t token, struct session_info *info,
		     uint64_t *dropped, struct session_loss *loss)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	loss->dropped = 0;
	pthread_mutex_lock(lock_of(t, b));
	s = find_or_add(t, b, key);
	if (!s) {
		pthread_mutex_unlock(lock_of(t, b));
		return false;
	}
	if (s->ready && s->token == token) {
		*info = s->info;
	} else {
		/* New session, or a new transport: a new connection. */
		take_loss(s, loss);
		s->token = token;
		s->info = *info;
		s->dropped = 0;
		s->ready = true;
	}
	*dropped = s->dropped;
	s->dropped = 0;
	pthread_mutex_unlock(lock_of(t, b));
	return true;
}

void session_add_dropped(struct session_table *t, const void *key,
			 uintptr_t token, uint64_t bytes)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s && s->ready && s->token == token)
		s->dropped += bytes;
	pthread_mutex_unlock(lock_of(t, b));
}

void session_set_flow(struct session_table *t, const void *key,
		      uintptr_t token, const struct flow *flow)
{
	unsigned int b = bucket_of(key);
	struct session *s;

	pthread_mutex_lock(lock_of(t, b));
	s = find(t, b, key);
	if (s && s->ready && s->token == token)
		s->info.flow = *flow;
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

void session_forget(struct session_table *t, const void *key,
		    struct session_loss *loss)
{
	unsigned int b = bucket_of(key);
	struct session **p, *s = NULL;

	loss->dropped = 0;
	pthread_mutex_lock(lock_of(t, b));
	for (p = &t->buckets[b]; *p; p = &(*p)->next)
		if ((*p)->key == key) {
			s = *p;
			*p = s->next;
			take_loss(s, loss);
			break;
		}
	pthread_mutex_unlock(lock_of(t, b));
	if (s) {
		free(s->name);
		free(s);
	}
}

void session_each_loss(struct session_table *t,
		       void (*report)(const struct session_loss *loss))
{
	struct session_loss loss;
	struct session *s;
	unsigned int b;

	for (b = 0; b < SESSION_BUCKETS; b++) {
		if (pthread_mutex_trylock(lock_of(t, b)))
			continue;
		for (s = t->buckets[b]; s; s = s->next) {
			take_loss(s, &loss);
			if (loss.dropped)
				report(&loss);
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
