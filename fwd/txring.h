/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The datagrams of one sender stream to one target, in a ring of
 * fixed-size slots indexed by sequence number: records are packed into
 * the open datagram, closed datagrams wait to be sent, and sent ones stay
 * in the ring (bounded) so that a NACK can have them sent again.
 *
 *   oldest <= unsent <= next_seq    (modulo 2^32)
 *   [oldest, unsent)   sent, held for retransmission (at most
 *                      replay_limit bytes of datagrams)
 *   [unsent, next_seq) not sent yet; next_seq - 1 may still be open
 */
#ifndef TLSTAP_NFQ_TXRING_H
#define TLSTAP_NFQ_TXRING_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct txring {
	uint8_t *mem;		/* nslots * slot_cap bytes */
	uint32_t *lens;		/* length of the datagram in each slot */
	uint32_t nslots;
	size_t slot_cap;
	size_t dgram_size;	/* current datagram size, <= slot_cap */
	uint32_t stream_id;
	uint32_t oldest;
	uint32_t unsent;
	uint32_t next_seq;
	uint32_t next_record_id;
	size_t replay_limit;	/* bytes of sent datagrams held at most */
	size_t held_bytes;	/* bytes of [oldest, unsent) */
	int open;		/* next_seq - 1 is still being filled */
	struct wire_builder cur;
};

/*
 * 0, or -1 (errno set) if memory is short. nslots >= 2, rounded up to
 * a power of two (as the module's ring): seq % nslots must stay
 * continuous when seq wraps at 2^32, or two datagrams around the wrap
 * share a slot. Sent datagrams are held as long as their slots are not
 * needed (see txring_set_replay_limit).
 */
int txring_init(struct txring *r, size_t slot_cap, uint32_t nslots,
		uint32_t stream_id);

/* Holds at most bytes of sent datagrams (0: none) from now on. */
void txring_set_replay_limit(struct txring *r, size_t bytes);
void txring_free(struct txring *r);

/*
 * Packs bytes [offset, offset + len) of a record into datagrams, opening
 * new ones as needed (overwriting the oldest sent ones). Returns how many
 * bytes it packed: fewer than len when every slot holds an unsent
 * datagram; send some and call again for the rest.
 */
size_t txring_pack(struct txring *r, const struct wire_chunk_meta *m,
		   uint32_t offset, const void *data, size_t len);

/* Finishes the open datagram, if any, so that it can be sent. */
void txring_close(struct txring *r);

/* Closed datagrams not sent yet. */
uint32_t txring_unsent(const struct txring *r);

/* The datagram with sequence number seq, if the ring holds it. */
const uint8_t *txring_datagram(const struct txring *r, uint32_t seq,
			       size_t *len);

/* The first n unsent datagrams were handed to the kernel (or given up). */
void txring_mark_sent(struct txring *r, uint32_t n);

/*
 * The sent datagram seq, if still held for retransmission; writable so
 * that its RETRANSMIT flag can be set.
 */
uint8_t *txring_held(struct txring *r, uint32_t seq, size_t *len);

/*
 * Takes the unsent datagrams out of the ring (the open one closed first)
 * as one malloc'ed block of whole datagrams back to back, and rewinds
 * next_seq so that their content can be packed again at another size;
 * the caller frees *copy. 0, or -1 (errno) if memory is short.
 */
int txring_take_unsent(struct txring *r, uint8_t **copy, size_t *copy_len);

#endif
