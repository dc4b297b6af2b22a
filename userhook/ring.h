/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A thread's capture ring (docs/PROTOCOL.md section 7): the records of a
 * thread go into memory it shares with the consumer, tlstap.ko through
 * /dev/tlstap or tlstap-fwd through its seqpacket socket, and no system
 * call is made per record. The first record of a thread makes its ring;
 * the ring goes when the thread ends, its records still delivered (the
 * consumer drains it when the last reference goes). A system call is
 * made only to wake a consumer that went idle, when the ring passes
 * three quarters full, and, with on_full = block, to wait for room.
 *
 * Where a ring cannot be had (another kind of output, ring = no, a
 * consumer without rings, a nested call from a signal handler, more
 * threads than RING_SLOTS), ring_put() says so and the record is
 * written with write() as before.
 *
 * Every ring holds a descriptor (the device file, or the connection to
 * tlstap-fwd) in a fixed table, so that the close() and dup() hooks can
 * find them lock-free and async-signal-safely: a program that closes or
 * replaces one makes its ring forget it, and the owning thread replaces
 * the ring at its next record.
 */
#ifndef TLSTAP_RING_H
#define TLSTAP_RING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capring.h"
#include "config.h"
#include "meta.h"

#define RING_SLOTS		1024	/* rings at once; more threads write() */
#define RING_CREATE_WAIT_MS	1000	/* for tlstap-fwd's CREATED */
#define RING_RETRY_NS		1000000000ull	/* a failed ring: next try */

/* What the output offers, learnt once per process. */
enum ring_transport {
	RING_TRANSPORT_UNKNOWN,
	RING_TRANSPORT_DEVICE,		/* /dev/tlstap: mmap() of the file */
	RING_TRANSPORT_FWD,		/* tlstap-fwd: CREATE, a sealed memfd */
	RING_TRANSPORT_NONE,		/* write() only */
};

/* ring.fd when it holds no descriptor of ours; -2 - fd: being closed. */
#define RING_FD_NONE		(-1)

struct ring {
	/* Shared with the close() hooks of every thread. */
	_Atomic int fd;			/* the descriptor, RING_FD_NONE, or held */
	_Atomic bool used;		/* the slot belongs to a thread */
	/* The owning thread's alone. */
	int own_fd;			/* what fd is while it is ours */
	int transport;			/* enum ring_transport */
	uint8_t *map;			/* producer page and data (device), or all */
	size_t map_len;
	uint8_t *hdr_map;		/* device: the read-only desc page */
	size_t hdr_len;
	const struct tlstap_capring_consumer *cons;
	struct tlstap_capring_producer *prod;
	struct capring_producer p;
	uint32_t frame_max;		/* plaintext per record at most */
	uint32_t kicked_cons;		/* woken at three quarters for this */
	bool kicked;
	bool waiting;			/* PF_WAITING is set */
};

struct ring_table {
	bool enabled;			/* ring = yes, and the key exists */
	bool block;			/* on_full = block */
	char path[CONFIG_MAX_IF + 1];
	uint32_t data_size;
	uint32_t page_size;
	_Atomic int transport;		/* enum ring_transport */
	pthread_key_t key;		/* the thread's ring, to close at exit */
	_Atomic unsigned int hwm;	/* slots above it were never used */
	struct ring slots[RING_SLOTS];
};

/*
 * Rings for the output path, of ring_kb KiB each (a size config.c
 * allows), or none (enabled false). Creates the thread-exit key; call
 * once.
 */
void ring_table_init(struct ring_table *t, const char *path, bool enabled,
		     unsigned int ring_kb, bool block);

enum ring_result {
	RING_UNUSED,	/* no ring now: write the record instead */
	RING_SENT,	/* the record is in the ring */
	RING_DROPPED,	/* the ring was full (on_full = drop) */
};

/* ring_put()'s flags. */
#define RING_PUT_NO_MAKE	0x1	/* no ring made: none now means UNUSED */
#define RING_PUT_NO_WAIT	0x2	/* full means DROPPED, even with block */

/*
 * One record of the first bytes of msg, as many as a record in the
 * thread's ring may carry (*taken says how many), for the record meta
 * describes. len 0: a loss report, an OPEN, a CLOSE. Makes the thread's
 * ring if it has none (unless RING_PUT_NO_MAKE). errno may change.
 */
enum ring_result ring_put(struct ring_table *t, const struct record_meta *m,
			  const void *msg, size_t len, size_t *taken,
			  unsigned int flags);

/*
 * Whether the calling thread has a ring that ring_put(RING_PUT_NO_MAKE)
 * may use now. Async-signal-safe.
 */
bool ring_thread_ready(struct ring_table *t);

/*
 * The lower layer, for ring_put() and for test programs: opens a ring of
 * t's size on t's output into the free slot r (which registers its
 * descriptor at once): 0, or -1 with errno; t->transport becomes NONE
 * when the output can have none. ring_close() lets it go: unmaps it and
 * closes its descriptor if it is still ours, and frees the slot.
 */
struct ring *ring_slot_alloc(struct ring_table *t);
int ring_open(struct ring_table *t, struct ring *r);
void ring_close(struct ring *r);

/*
 * The program is about to close [first, last] or make them copies of
 * other descriptors. ring_fds_in(): whether a ring's descriptor is among
 * them. ring_fds_closed(): they are gone whatever happens (close(),
 * closefrom()). ring_fds_hold() sets them aside until
 * ring_fds_settle() says whether the call released them (close_range(),
 * dup2(), dup3() may fail and release nothing). Lock-free and
 * async-signal-safe.
 */
struct ring_hold {
	uint64_t slot[RING_SLOTS / 64];
};

bool ring_fds_in(struct ring_table *t, unsigned int first, unsigned int last);
void ring_fds_closed(struct ring_table *t, unsigned int first,
		     unsigned int last);
void ring_fds_hold(struct ring_table *t, unsigned int first,
		   unsigned int last, struct ring_hold *h);
void ring_fds_settle(struct ring_table *t, const struct ring_hold *h,
		     bool released);

/*
 * In a fork() child: the rings are the parent's (their mappings are not
 * inherited): close the child's copies of their descriptors and forget
 * them all; the child makes its own.
 */
void ring_table_fork_child(struct ring_table *t);

#endif /* TLSTAP_RING_H */
