// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "txring.h"

int txring_init(struct txring *r, size_t slot_cap, uint32_t nslots,
		uint32_t stream_id)
{
	memset(r, 0, sizeof(*r));
	if (nslots < 2 || nslots > (1u << 31) || slot_cap < TLSTAP_MIN_DGRAM ||
	    slot_cap > TLSTAP_MAX_DGRAM) {
		errno = EINVAL;
		return -1;
	}
	while (nslots & (nslots - 1))
		nslots += nslots & -nslots;
	r->mem = malloc((size_t)nslots * slot_cap);
	r->lens = calloc(nslots, sizeof(*r->lens));
	if (!r->mem || !r->lens) {
		txring_free(r);
		errno = ENOMEM;
		return -1;
	}
	r->nslots = nslots;
	r->slot_cap = slot_cap;
	r->dgram_size = slot_cap;
	r->stream_id = stream_id;
	r->replay_limit = SIZE_MAX;
	return 0;
}

/* Lets the oldest held datagrams go until the bound holds. */
static void trim_held(struct txring *r)
{
	while (r->oldest != r->unsent && r->held_bytes > r->replay_limit) {
		r->held_bytes -= r->lens[r->oldest % r->nslots];
		r->oldest++;
	}
}

void txring_set_replay_limit(struct txring *r, size_t bytes)
{
	r->replay_limit = bytes;
	trim_held(r);
}

void txring_free(struct txring *r)
{
	free(r->mem);
	free(r->lens);
	r->mem = NULL;
	r->lens = NULL;
}

static uint8_t *slot(const struct txring *r, uint32_t seq)
{
	return r->mem + (size_t)(seq % r->nslots) * r->slot_cap;
}

/* Opens the next datagram; 0 if every slot holds an unsent one. */
static int open_next(struct txring *r)
{
	if (r->next_seq - r->unsent == r->nslots)
		return 0;
	/* The oldest held datagram gives up its slot. */
	if (r->next_seq - r->oldest == r->nslots) {
		r->held_bytes -= r->lens[r->oldest % r->nslots];
		r->oldest++;
	}
	wire_builder_start(&r->cur, slot(r, r->next_seq), r->dgram_size,
			   r->stream_id, r->next_seq, 0);
	r->next_seq++;
	r->open = 1;
	return 1;
}

void txring_close(struct txring *r)
{
	if (!r->open)
		return;
	r->lens[(r->next_seq - 1) % r->nslots] =
		(uint32_t)wire_builder_finish(&r->cur);
	r->open = 0;
}

size_t txring_pack(struct txring *r, const struct wire_chunk_meta *m,
		   uint32_t offset, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done = 0;

	while (done < len) {
		size_t room = r->open ? wire_builder_room(&r->cur) : 0;

		if (!room) {
			txring_close(r);
			if (!open_next(r))
				break;
			continue;
		}
		if (room > len - done)
			room = len - done;
		wire_builder_add(&r->cur, m, offset + (uint32_t)done, p + done,
				 room);
		done += room;
	}
	return done;
}

uint32_t txring_unsent(const struct txring *r)
{
	return r->next_seq - r->unsent - (r->open ? 1 : 0);
}

const uint8_t *txring_datagram(const struct txring *r, uint32_t seq,
			       size_t *len)
{
	uint32_t closed_end = r->next_seq - (r->open ? 1 : 0);

	if (seq - r->oldest >= closed_end - r->oldest)
		return NULL;
	*len = r->lens[seq % r->nslots];
	return slot(r, seq);
}

void txring_mark_sent(struct txring *r, uint32_t n)
{
	while (n--) {
		r->held_bytes += r->lens[r->unsent % r->nslots];
		r->unsent++;
	}
	trim_held(r);
}

uint8_t *txring_held(struct txring *r, uint32_t seq, size_t *len)
{
	if (seq - r->oldest >= r->unsent - r->oldest)
		return NULL;
	*len = r->lens[seq % r->nslots];
	return slot(r, seq);
}

int txring_take_unsent(struct txring *r, uint8_t **copy, size_t *copy_len)
{
	size_t total = 0;
	uint8_t *buf;

	txring_close(r);
	for (uint32_t s = r->unsent; s != r->next_seq; s++)
		total += r->lens[s % r->nslots];
	buf = malloc(total ? total : 1);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	total = 0;
	for (uint32_t s = r->unsent; s != r->next_seq; s++) {
		memcpy(buf + total, slot(r, s), r->lens[s % r->nslots]);
		total += r->lens[s % r->nslots];
	}
	r->next_seq = r->unsent;
	*copy = buf;
	*copy_len = total;
	return 0;
}
