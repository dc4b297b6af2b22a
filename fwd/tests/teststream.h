/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Streams of records packed by the sender's own ring (txring.c), and the
 * sender's answers to NACKs (replay.c), for the unit tests: the datagrams
 * the receivers' tests feed their core are the sender's.
 */
#ifndef TLSTAP_TESTSTREAM_H
#define TLSTAP_TESTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "txring.h"
#include "wire.h"

/* nrec records of 1..max_size bytes of plaintext in 1452-byte datagrams. */
struct relstream {
	struct txring ring;
	uint8_t *recs[4096];
	size_t lens[4096];
	unsigned int nrec;
	uint32_t ndg;
};

/* Stream 0x5eed: IPv4 records, record id i the i-th, sizes from rnd(). */
void relstream_make(struct relstream *st, unsigned int nrec,
		    uint32_t max_size);
void relstream_free(struct relstream *st);

/* The seqs a replay_answer() resent, in order. */
struct resent {
	unsigned int n;
	uint32_t seqs[4096];
};

/* replay_answer()'s resend callback: checks the datagram, notes its seq. */
void note_resend(void *arg, uint32_t seq, const uint8_t *dgram, size_t len);

/* A NACK of stream 0x5eed for the n ranges rg, built and parsed into msg. */
size_t nack_of(uint8_t *buf, const struct wire_range *rg, unsigned int n,
	       struct wire_msg *msg);

#endif /* TLSTAP_TESTSTREAM_H */
