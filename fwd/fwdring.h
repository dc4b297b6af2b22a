/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * tlstap-fwd's end of a capture ring (docs/PROTOCOL.md section 7): a
 * memfd made on a producer's CREATE, its size sealed, mapped here and
 * passed to the producer, drained with shared/capring.c's walk.
 *
 * The producer may write any byte of the ring at any time. Nothing of it
 * is read back but prod_pos, the frames (through capring_drain()'s
 * checks; a record's header is parsed from its copy, with its plaintext
 * copied once next to it) and PF_WAITING; the consumer position lives
 * here and is only written out. The seals keep the memfd's size, so no
 * read of the mapping can fault whatever the producer does to its copy.
 */
#ifndef TLSTAP_NFQ_FWDRING_H
#define TLSTAP_NFQ_FWDRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capring.h"
#include "record.h"

struct fwdring {
	int memfd;			/* kept until the ring is drained */
	uint8_t *map;			/* the whole ring, MAP_SHARED */
	size_t map_len;
	struct capring_view view;
	struct tlstap_capring_consumer *line;	/* written, never read */
	const uint32_t *prod_flags;	/* PF_WAITING */
	uint32_t cons;			/* ours, never read back */
	uint32_t flags;			/* what we last wrote to line->flags */
	int status;			/* 0, or EBADMSG: drained no more */
	const char *why;		/* the rule it broke */
	enum record_status bad;		/* ... a record's, if that was it */
	uint32_t pid, uid;		/* its creator (SO_PEERCRED) */
};

struct fwdring_counts {
	unsigned long long records;	/* handed on, loss reports included */
	unsigned long long abandoned;	/* frames never committed */
	unsigned long long too_long;	/* records over max_record */
	unsigned long long too_long_bytes;	/* their plaintext */
};

/*
 * Where a ring's records go: record() gets each as a whole record in
 * buf (header and plaintext), a frame that was never committed or is
 * over max_record as a loss report for its plaintext.
 */
struct fwdring_sink {
	void (*record)(void *ctx, const struct fwdring *ring,
		       const struct record_info *r);
	void *ctx;
	uint32_t max_record;		/* plaintext per record at most */
	uint8_t *buf;			/* FWDRING_BUF_LEN(max_record) bytes */
	struct fwdring_counts *counts;
};

#define FWDRING_BUF_LEN(max_record) \
	((size_t)TLSTAP_RECORD_HDR_LEN + (max_record))

/* The memory a ring of data_size bytes takes: desc and producer pages too. */
size_t fwdring_bytes(uint32_t data_size);

/*
 * Makes a ring of data_size bytes for the producer pid/uid, consumer
 * flags NEED_WAKEUP when idle: 0, or an errno (EINVAL: not a valid
 * size). r->memfd is what to pass.
 */
int fwdring_create(struct fwdring *r, uint32_t data_size, uint32_t max_record,
		   uint32_t pid, uint32_t uid, bool idle);
void fwdring_free(struct fwdring *r);

/*
 * Hands at most max frames on to the sink (final: the producer is gone,
 * RESERVED frames are lost). Returns the frames taken, or -1 when the
 * ring broke a rule just now: its status is then EBADMSG (also in its
 * consumer line), r->why and r->bad say why, and it is drained no more.
 */
int fwdring_drain(struct fwdring *r, uint32_t max, bool final,
		  const struct fwdring_sink *s);

/* After a drain that consumed: whether the producer waits for room. */
bool fwdring_waiting(const struct fwdring *r);

/*
 * Sets (idle, then a full barrier: walk again after it) or clears
 * NEED_WAKEUP in the consumer line.
 */
void fwdring_set_idle(struct fwdring *r, bool idle);

#endif
