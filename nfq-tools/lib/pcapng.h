/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Reassembled records as a pcapng capture that packet tools read as if the
 * TLS session had been cleartext: every connection becomes a synthetic TCP
 * connection (IPv4 or IPv6, LINKTYPE_RAW) with a handshake at first sight,
 * its plaintext as segments in both directions with consistent sequence
 * and acknowledgement numbers and real checksums, and every known loss as
 * a hole in the sequence numbers, so that tools report missing bytes
 * instead of splicing the bytes around them.
 *
 * Records of one sender stream are written in record id order (the order
 * the sender took them), whatever order they complete in: a record that
 * completes early waits for the ones before it until they come, are
 * declared lost (pcapng_lost), or the wait runs out.
 */
#ifndef TLSTAP_NFQ_PCAPNG_H
#define TLSTAP_NFQ_PCAPNG_H

#include <stdint.h>
#include <stdio.h>

#include "reasm.h"

#define PCAPNG_LINKTYPE_RAW	101	/* raw IPv4 or IPv6, no link header */
#define PCAPNG_DEFAULT_MSS	1460
#define PCAPNG_MAX_MSS		65000	/* fits an IPv4 total length */

struct pcapng_config {
	uint16_t mss;			/* largest TCP payload per packet */
	size_t max_held_bytes;		/* records waiting for earlier ones */
	unsigned int hold_ms;		/* longest wait for a missing record */
	unsigned int max_flows;		/* connections tracked at once */
	const char *application;	/* the SHB's shb_userappl */
	/*
	 * Called (if set) once the section header is written (header 1)
	 * and after each record's packets: units that must reach the file
	 * whole. 0, or -1 with errno, which fails the call that wrote.
	 */
	int (*written)(void *arg, int header);
	void *written_arg;
};

/* Fills in the defaults. */
void pcapng_config_init(struct pcapng_config *cfg);

struct pcapng_stats {
	unsigned long long records;	/* written, loss reports included */
	unsigned long long loss_reports;
	unsigned long long packets, file_bytes;
	unsigned long long flows, flows_evicted;
	unsigned long long dropped_gaps;	/* holes from `dropped` */
	unsigned long long dropped_bytes;
	unsigned long long lost_ranges;		/* pcapng_lost() calls */
	unsigned long long lost_records;	/* record ids given up */
	unsigned long long lost_marks;		/* flow directions marked */
	unsigned long long held;		/* records that had to wait */
	unsigned long long held_now, held_bytes_now;
	unsigned long long hold_expired;	/* waits that ran out */
	unsigned long long late_records;	/* came after their place */
};

struct pcapng;

/*
 * Writes the section header and interface description to f. NULL with
 * errno set when memory is short or f fails.
 */
struct pcapng *pcapng_new(FILE *f, const struct pcapng_config *cfg);

/*
 * A stream's first record that can come (the core knows where it joined
 * the stream): records are written in id order from there. Without it a
 * stream starts at the first record that comes.
 */
int pcapng_stream_start(struct pcapng *p, const struct endpoint *sender,
			uint32_t stream_id, uint32_t record_id);

/* One complete record (pcapng copies what it keeps). 0, or -1 + errno. */
int pcapng_record(struct pcapng *p, const struct reasm_record *r);

/*
 * Records record_first..record_last (inclusive) of a stream will never
 * come; an end that cannot be known has has_first or has_last 0 (the
 * records before the stream was joined, after its last datagram). Which
 * connections they belonged to is unknown, so every connection last seen
 * on that stream gets a hole (one byte) in both directions where its next
 * data goes, with a comment saying why.
 */
struct pcapng_loss {
	const struct endpoint *sender;
	uint32_t stream_id;
	uint32_t record_first, record_last;
	int has_first, has_last;
	const char *reason;
};
int pcapng_lost(struct pcapng *p, const struct pcapng_loss *l);

/*
 * Gives up on records that have been missing for longer than hold_ms
 * (they count as lost, reason "hold-expired") and writes what waited for
 * them. pcapng_record and pcapng_lost do this too; a front end with a
 * timer calls it when nothing arrives. 0, or -1 + errno.
 */
int pcapng_tick(struct pcapng *p);

/*
 * Writes every record still waiting (what it waited for counts as lost,
 * reason "end of capture") and flushes f. 0, or -1 + errno.
 */
int pcapng_finish(struct pcapng *p);

const struct pcapng_stats *pcapng_stats(const struct pcapng *p);

/* Frees p; does not close its FILE. */
void pcapng_free(struct pcapng *p);

#endif
