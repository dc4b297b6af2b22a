/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The receivers' core, shared by tlstap-recv (UDP socket) and tlstap-nfq
 * (NFQUEUE): takes DATA datagrams as bytes plus the sender's address,
 * trusts nothing that does not parse, tracks each sender stream by
 * (address, port, stream_id) and its sequence numbers, reassembles
 * records from chunks arriving in any order and any number of times, and
 * hands over only whole records that parse as records.
 */
#ifndef TLSTAP_NFQ_REASM_H
#define TLSTAP_NFQ_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "record.h"
#include "seqtrack.h"
#include "wire.h"

struct reasm_config {
	uint32_t max_msg_len;		/* largest plaintext accepted */
	size_t max_pending_bytes;	/* all incomplete records together */
	unsigned int max_streams;
};

/*
 * A complete record, valid during the emit callback only; a loss report
 * (record_is_loss_report) is a record too.
 */
struct reasm_record {
	const struct endpoint *sender;
	uint32_t stream_id;
	uint32_t record_id;
	uint32_t seq_first;	/* datagram that carried offset 0 */
	const struct record_info *rec;
};

typedef void (*reasm_emit_fn)(void *arg, const struct reasm_record *r);

struct reasm_stats {
	unsigned long long datagrams, bytes;
	unsigned long long invalid;	/* datagrams that did not parse */
	unsigned long long invalid_by[WIRE_STATUS_COUNT];
	unsigned long long unsupported;	/* control messages, for now */
	unsigned long long dup_datagrams, late_datagrams, stale_datagrams;
	unsigned long long retransmitted;	/* flagged by the sender */
	unsigned long long seq_gaps;		/* seqs skipped when seen */
	unsigned long long chunks, dup_chunks, stale_chunks;
	unsigned long long records, record_bytes;
	unsigned long long loss_reports;	/* records without plaintext */
	unsigned long long records_aborted;	/* the writer faulted */
	unsigned long long records_inconsistent;	/* chunks disagree */
	unsigned long long records_invalid;	/* bytes not a record */
	unsigned long long records_evicted;	/* pending limit reached */
	unsigned long long pending_bytes;	/* now */
	unsigned long long streams, streams_evicted;
};

enum reasm_verdict {
	REASM_ACCEPTED,		/* new datagram, chunks taken */
	REASM_DUPLICATE,	/* seq seen before: ignored */
	REASM_INVALID,		/* did not parse: ignored */
	REASM_UNSUPPORTED,	/* a well-formed message of another type */
};

/* What became of one datagram, for logs. */
struct reasm_dgram_info {
	enum reasm_verdict verdict;
	enum wire_status status;	/* why it was invalid */
	enum seq_verdict seq_verdict;
	uint8_t type, flags;
	uint32_t stream_id, seq;
	uint16_t count;
};

struct reasm;

/* NULL if memory is short. */
struct reasm *reasm_new(const struct reasm_config *cfg, reasm_emit_fn emit,
			void *arg);
void reasm_free(struct reasm *r);

enum reasm_verdict reasm_datagram(struct reasm *r,
				  const struct endpoint *sender,
				  const uint8_t *buf, size_t len,
				  struct reasm_dgram_info *info);

const struct reasm_stats *reasm_stats(const struct reasm *r);

/* Loss so far, per stream; for the exit report. */
struct reasm_stream_report {
	const struct endpoint *sender;
	uint32_t stream_id;
	const struct seqtrack *seqs;	/* datagram sequence numbers */
	const struct seqtrack *records;	/* completed record ids */
	unsigned int pending_records;	/* incomplete, still waiting */
};

typedef void (*reasm_report_fn)(void *arg,
				const struct reasm_stream_report *s);
void reasm_foreach_stream(const struct reasm *r, reasm_report_fn fn,
			  void *arg);

#endif
