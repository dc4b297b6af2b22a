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
 *
 * Where a stream starts (docs/PROTOCOL.md 5.1): a stream the core does
 * not know starts at the first seq it sees, and nothing before it is
 * asked for, since another receiver (or this one before a restart) may
 * have taken it. A stream evicted for room is remembered in a bounded
 * table and continues where it stopped; a stream saved in a state file
 * (reasm_save(), reasm_restore()) continues exactly, nothing asked for
 * twice, nothing left out. Senders outside the allow-list are refused
 * before anything of their datagrams is looked at.
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
	unsigned int max_evicted;	/* evicted streams remembered (0: none) */
	uint64_t nack_timeout_ns;	/* 0: REASM_NACK_TIMEOUT_NS */
	unsigned int nack_tries;	/* 0: REASM_NACK_TRIES (at most 255) */
	const struct addr_prefix *allow;	/* senders taken; NULL: any */
	unsigned int nallow;
};

/*
 * A complete record, valid during the emit callback only; a loss report
 * (record_is_loss_report), an OPEN and a CLOSE are records too.
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

enum reasm_start_how {
	REASM_START_NEW,	/* at seq 0: from its beginning */
	REASM_START_JOINED,	/* at a later seq: what came before is not ours */
	REASM_START_RESUMED,	/* evicted for room, back where it stopped */
	REASM_START_RESTORED,	/* from a state file, where the run before stopped */
};

/* A stream the core starts tracking. */
struct reasm_start {
	const struct endpoint *sender;
	uint32_t stream_id;
	enum reasm_start_how how;
	uint32_t seq;		/* the first seq it takes as its own */
	int by_heartbeat;	/* JOINED by a HEARTBEAT: seq follows its highest */
	int has_record;		/* record_id is known */
	uint32_t record_id;	/* the first record it may hand out */
};

const char *reasm_start_how_name(enum reasm_start_how how);

struct reasm_ops {
	/* A whole record, valid during the call only. */
	void (*record)(void *arg, const struct reasm_record *r);
	void (*lost)(void *arg, const struct reasm_lost *l);
	/* A NACK (len bytes) to send to the stream's sender, to. */
	void (*nack)(void *arg, const struct endpoint *to, const uint8_t *msg,
		     size_t len);
	/* A stream starts (may be NULL): for logs, and pcapng's record order. */
	void (*start)(void *arg, const struct reasm_start *s);
};

struct reasm_stats {
	unsigned long long datagrams, bytes;
	unsigned long long refused;	/* from senders not allowed: not looked at */
	unsigned long long invalid;	/* datagrams that did not parse */
	unsigned long long invalid_by[WIRE_STATUS_COUNT];
	unsigned long long unsupported;	/* NACKs: a receiver takes none */
	unsigned long long dup_datagrams, late_datagrams, stale_datagrams;
	unsigned long long before_start;	/* resent from before a stream's start */
	unsigned long long retransmitted;	/* flagged by the sender */
	unsigned long long seq_gaps;		/* seqs skipped when seen */
	unsigned long long chunks, dup_chunks, stale_chunks;
	unsigned long long records, record_bytes;
	unsigned long long loss_reports;	/* data records without plaintext */
	unsigned long long opens, closes;	/* OPEN, CLOSE records */
	unsigned long long records_aborted;	/* the writer faulted */
	unsigned long long records_inconsistent;	/* chunks disagree */
	unsigned long long records_invalid;	/* bytes not a record */
	unsigned long long records_evicted;	/* pending limit reached */
	unsigned long long pending_bytes;	/* now */
	unsigned long long streams, streams_evicted;
	unsigned long long streams_joined;	/* started after their seq 0 */
	unsigned long long streams_resumed;	/* back after an eviction */
	unsigned long long streams_restored;	/* from a state file */
	unsigned long long streams_forgotten;	/* evicted, out of the table too */
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
	REASM_REFUSED,		/* from a sender not allowed: not looked at */
	REASM_BEFORE_START,	/* resent from before the stream's start */
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

/* NULL if memory is short. Every op but start is required. */
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
 * in the stream report. (A receiver with a state file saves instead.)
 */
void reasm_flush(struct reasm *r);

/*
 * A stream as a state file keeps it (the format: lib/recvstate.c): enough
 * to continue it exactly in another run. Seq ranges are those still
 * wanted, ascending: missing ones (NACKed again at once), the ones given
 * up whose LOST line waits for an edge (lost), and those that were taken
 * but carried records not handed out yet (missing again: asked for
 * again, their records already handed out dropped as duplicates). An
 * evicted stream keeps only its numbers.
 */
struct reasm_saved_stream {
	struct endpoint sender;
	uint32_t stream_id;
	int evicted;
	uint32_t seq_next;	/* one past the highest seq taken */
	struct gap_edge top;	/* records after it */
	int has_record_next;	/* a record was handed out or given up */
	uint32_t record_next;	/* one past the highest such record id */
	struct gap_range *ranges;	/* first, last, left, right, lost */
	unsigned int nranges;
	struct wire_range *notdone;	/* record ids below record_next not */
	unsigned int nnotdone;		/* handed out nor given up, ascending */
};

/*
 * Calls fn for every stream, most recently seen first, then for every
 * evicted one; stops at fn's first non-zero return and returns it (-1 if
 * memory is short).
 */
typedef int (*reasm_save_fn)(void *arg, const struct reasm_saved_stream *s);
int reasm_save(const struct reasm *r, reasm_save_fn fn, void *arg);

/*
 * Takes a saved stream back (in the order reasm_save gave them): the
 * values must be consistent (ranges within SEQTRACK_WINDOW below
 * seq_next, ascending; record ids likewise below record_next), as
 * lib/recvstate.c checks. Its missing seqs are NACKed at the next
 * reasm_timer(). 0, or -1 if memory is short.
 */
int reasm_restore(struct reasm *r, const struct reasm_saved_stream *s);

/* Something changed since the last call (a state worth saving). */
int reasm_changed(struct reasm *r);

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
