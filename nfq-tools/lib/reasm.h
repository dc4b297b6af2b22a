/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The receivers' core, shared by tlstap-recv (UDP socket) and tlstap-nfq
 * (NFQUEUE): takes DATA datagrams as bytes plus the sender's address,
 * trusts nothing that does not parse, tracks each sender stream by
 * (address, port, stream_id) and its sequence numbers, reassembles
 * records from chunks arriving in any order and any number of times, and
 * hands over only whole records that parse as records.
 *
 * Reliable delivery (docs/PROTOCOL.md 2.2, 2.3): missing sequence numbers
 * are NACKed at once and again on a timeout (lib/gaptrack.c), HEARTBEATs
 * reveal a lost last datagram, GAPs and exhausted tries give them up, and
 * the records they took are handed over as LOST ranges, never as partial
 * records. The core does no I/O and reads no clock: the front end passes
 * the time, sends the NACKs it is handed (from the socket the data came
 * in on, when it can) and calls reasm_timer() by the deadline it returns.
 */
#ifndef TLSTAP_NFQ_REASM_H
#define TLSTAP_NFQ_REASM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "gaptrack.h"
#include "record.h"
#include "seqtrack.h"
#include "wire.h"

#define REASM_NACK_TIMEOUT_NS	(20 * 1000000ull)
#define REASM_NACK_TRIES	6
#define REASM_MAX_MISSING_RANGES	8192	/* per stream */

struct reasm_config {
	uint32_t max_msg_len;		/* largest plaintext accepted */
	size_t max_pending_bytes;	/* all incomplete records together */
	unsigned int max_streams;
	uint64_t nack_timeout_ns;	/* 0: REASM_NACK_TIMEOUT_NS */
	unsigned int nack_tries;	/* 0: REASM_NACK_TRIES (at most 255) */
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
	/* The writer as the sender's kernel knew it; rec->pid is its claim. */
	uint32_t writer_pid;	/* 0: unknown */
	uint32_t writer_uid;	/* TLSTAP_WRITER_UID_UNKNOWN: unknown */
	const struct record_info *rec;
};

/*
 * Records given up: the sequence numbers seq_first..seq_last were lost
 * (a GAP, a heartbeat's oldest_seq, or NACKs unanswered), and with them
 * the records record_first..record_last, none of which was or will be
 * handed over. An end that cannot be known (has_record_first or
 * has_record_last 0) is written as null: the records before a stream was
 * joined, or after the last datagram at exit.
 */
struct reasm_lost {
	const struct endpoint *sender;
	uint32_t stream_id;
	uint32_t seq_first, seq_last;
	uint32_t record_first, record_last;
	int has_record_first, has_record_last;
	enum gap_reason reason;
};

const char *reasm_lost_reason_name(enum gap_reason reason);

struct reasm_ops {
	/* A whole record, valid during the call only. */
	void (*record)(void *arg, const struct reasm_record *r);
	void (*lost)(void *arg, const struct reasm_lost *l);
	/* A NACK (len bytes) to send to the stream's sender, to. */
	void (*nack)(void *arg, const struct endpoint *to, const uint8_t *msg,
		     size_t len);
};

struct reasm_stats {
	unsigned long long datagrams, bytes;
	unsigned long long invalid;	/* datagrams that did not parse */
	unsigned long long invalid_by[WIRE_STATUS_COUNT];
	unsigned long long unsupported;	/* NACKs: a receiver takes none */
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
	/* reliable delivery */
	unsigned long long nacks_sent;		/* NACK messages */
	unsigned long long nack_seqs;		/* seqs asked for, tries included */
	unsigned long long heartbeats_received, gaps_received;
	unsigned long long gaps_unknown_stream;	/* GAP for no stream of ours */
	unsigned long long lost_datagrams;	/* seqs given up */
	unsigned long long lost_records;	/* in LOST ranges with both ends */
	unsigned long long lost_ranges;		/* LOST markers */
	unsigned long long lost_open_ended;	/* ... with an end unknown */
};

enum reasm_verdict {
	REASM_ACCEPTED,		/* new datagram, chunks taken */
	REASM_DUPLICATE,	/* seq seen before: ignored */
	REASM_INVALID,		/* did not parse: ignored */
	REASM_CONTROL,		/* a HEARTBEAT or GAP, taken */
	REASM_UNSUPPORTED,	/* a NACK, or a GAP for no stream of ours */
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

/*
 * Writes what became of a datagram as JSON members, each preceded by a
 * comma (",\"verdict\":...,\"status\":..." and, for one that parsed, its
 * header fields), for the receivers' datagram logs.
 */
void reasm_dgram_info_json(FILE *f, const struct reasm_dgram_info *info);

struct reasm;

/* NULL if memory is short. Every op is required. */
struct reasm *reasm_new(const struct reasm_config *cfg,
			const struct reasm_ops *ops, void *arg);
/* Frees everything without handing anything out (see reasm_flush). */
void reasm_free(struct reasm *r);

/*
 * One datagram from sender. now_ns: a monotonic clock, never 0. Records
 * and LOST ranges it completes go to the ops at once; NACKs wait for
 * reasm_timer().
 */
enum reasm_verdict reasm_datagram(struct reasm *r,
				  const struct endpoint *sender,
				  const uint8_t *buf, size_t len,
				  uint64_t now_ns,
				  struct reasm_dgram_info *info);

/*
 * Sends the NACKs that are due (new holes at once: call it after every
 * batch of datagrams) and gives up what ran out of tries. Returns when to
 * call it next (same clock), 0 if nothing waits.
 */
uint64_t reasm_timer(struct reasm *r, uint64_t now_ns);

/*
 * The same for a front end still draining a backlog: seen_ns (<= now_ns)
 * is when the newest datagram it has processed arrived (the kernel's
 * receive timestamp). A NACK retry falls due only once datagrams that
 * arrived after its deadline have been processed: until then its answer
 * may be waiting unread, and a retry would only bring a duplicate. New
 * holes are NACKed at once (pass each datagram's arrival time to
 * reasm_datagram). Call reasm_timer() once the backlog is drained.
 */
uint64_t reasm_timer_backlog(struct reasm *r, uint64_t now_ns,
			     uint64_t seen_ns);

/*
 * At exit: every missing seq is given up (reason timeout) and handed out
 * as LOST ranges. Records still incomplete and not in such a range stay
 * in the stream report.
 */
void reasm_flush(struct reasm *r);

const struct reasm_stats *reasm_stats(const struct reasm *r);

/* Loss so far, per stream; for the exit report. */
struct reasm_stream_report {
	const struct endpoint *sender;
	uint32_t stream_id;
	const struct seqtrack *seqs;	/* datagram sequence numbers */
	const struct seqtrack *records;	/* completed record ids */
	unsigned int pending_records;	/* incomplete, still waiting */
	unsigned int missing_ranges;	/* being NACKed */
};

typedef void (*reasm_report_fn)(void *arg,
				const struct reasm_stream_report *s);
void reasm_foreach_stream(const struct reasm *r, reasm_report_fn fn,
			  void *arg);

#endif
