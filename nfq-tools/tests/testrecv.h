/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The receivers' core (reasm.c) with what it hands out recorded, and the
 * datagrams the unit tests feed it: pieces of a record, or a stream the
 * sender's ring packed (teststream.h), as sender rel_sender sends them.
 */
#ifndef TLSTAP_TESTRECV_H
#define TLSTAP_TESTRECV_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "reasm.h"
#include "teststream.h"
#include "wire.h"

/* The records a core handed out (the first 64 kept, all counted). */
struct collected {
	unsigned int n;
	uint32_t ids[64];
	size_t lens[64];
	uint8_t *bytes[64];
	uint32_t seq_first[64];
	uint32_t writer_pid[64], writer_uid[64];
};

/* Records into a struct collected; a LOST range is a failed check. */
extern const struct reasm_ops collect_ops;

/* A core of 4 streams, 8 MiB pending, that collects into c. */
struct reasm *new_reasm(struct collected *c);
void collected_free(struct collected *c);

/*
 * The datagram (stream 5, seq) of chunk [off, off + len) of the record
 * rec, written by writer_pid with uid writer_uid; piece(): by writer
 * 4343, uid 1000. Returns its length.
 */
size_t piece_by(uint8_t *dg, uint32_t seq, const uint8_t *rec,
		size_t rec_len, uint32_t record_id, uint32_t off,
		uint32_t len, uint8_t flags, uint32_t writer_pid,
		uint32_t writer_uid);
size_t piece(uint8_t *dg, uint32_t seq, const uint8_t *rec,
	     size_t rec_len, uint32_t record_id, uint32_t off,
	     uint32_t len, uint8_t flags);

/* What a receiver hands out, recorded for the checks. */
struct relcap {
	unsigned int nrec;
	uint8_t emitted[4096];		/* by record id: times emitted */
	unsigned int nlost;
	struct reasm_lost lost[1024];
	unsigned int nnack;
	struct wire_range nacked[64];	/* ranges of all NACKs, in order */
	unsigned int nnacked;
	int capture_nacks;		/* keep the NACK messages too */
	unsigned int npending_nacks;
	uint8_t pending_nacks[64][TLSTAP_MSG_HDR_LEN + 8 * TLSTAP_NACK_MAX_RANGES];
	size_t pending_lens[64];
	const uint8_t **recs;		/* originals, by record id */
	const size_t *rec_lens;
	unsigned int nstarts;
	struct reasm_start starts[8];	/* sender not kept */
};

/* c emptied, to check the records handed out against st's. */
void relcap_reset(struct relcap *c, struct relstream *st);

/*
 * Records into a struct relcap; a record that differs from c->recs[] and
 * a NACK that is not well formed, or not to port 7419, fail a check.
 */
extern const struct reasm_ops rel_ops;

/* The sender of every datagram here: 10.0.0.9:7419. */
extern const struct endpoint rel_sender;

/* A core of 4 streams, 64 MiB pending, that records into c. */
struct reasm *rel_reasm(struct relcap *c);

/* Datagram seq of the stream from rel_sender at now, flagged resent or not. */
void relstream_send(struct relstream *st, struct reasm *ra,
		    uint32_t seq, uint64_t now, int retransmit);

/* touched[id] = 1 for each record with a chunk in a datagram s with lost[s]. */
void records_in(struct relstream *st, const uint8_t *lost,
		uint8_t *touched);

/* The sender's GAP for seqs first..last, and its HEARTBEAT, at now. */
void send_gap(struct reasm *ra, uint32_t first, uint32_t last,
	      uint64_t now);
void send_heartbeat(struct reasm *ra, uint32_t highest,
		    uint32_t oldest, uint64_t now);

#endif /* TLSTAP_TESTRECV_H */
