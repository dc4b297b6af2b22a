/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Reassembled records as the Ethernet frames of synthetic TCP
 * connections, which packet tools and IDSs read as if the TLS sessions
 * had been cleartext: each connection between its real addresses and
 * ports, opened with a handshake (its OPEN record, or its first data),
 * its plaintext as segments in both directions with consistent sequence
 * and acknowledgement numbers and real checksums, closed with a FIN
 * exchange (its CLOSE record), and every known loss as a hole in the
 * sequence numbers, so that tools report missing bytes instead of
 * splicing the bytes around them. One synthesis, two sinks: a pcapng
 * capture (lib/pcapng.c) and a TAP interface (lib/tapout.c).
 *
 * Records of one sender stream are handled in record id order (the order
 * the sender took them), whatever order they complete in: a record that
 * completes early waits for the ones before it until they come, are
 * declared lost (tcpsynth_lost), or the wait runs out.
 */
#ifndef TLSTAP_NFQ_TCPSYNTH_H
#define TLSTAP_NFQ_TCPSYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "reasm.h"

#define TCPSYNTH_DEFAULT_MTU	1500
#define TCPSYNTH_MIN_MTU	128	/* an IPv6 segment still carries 60 bytes */
#define TCPSYNTH_MAX_MTU	65535	/* fits an IPv4 total length */
#define TCPSYNTH_ETH_HLEN	14

/* The synthetic MAC addresses: a connection's client, its server. */
#define TCPSYNTH_MAC_CLIENT	{ 0x02, 0x74, 0x6c, 0x73, 0x00, 0x01 }
#define TCPSYNTH_MAC_SERVER	{ 0x02, 0x74, 0x6c, 0x73, 0x00, 0x02 }

struct tcpsynth_config {
	unsigned int mtu;		/* largest IP packet: segment size */
	size_t max_held_bytes;		/* records waiting for earlier ones */
	unsigned int hold_ms;		/* longest wait for a missing record */
	unsigned int max_flows;		/* connections tracked at once */
};

/* Fills in the defaults. */
void tcpsynth_config_init(struct tcpsynth_config *cfg);

/* One frame, valid during the call only. */
struct tcpsynth_frame {
	const uint8_t *data;	/* Ethernet header, IP packet */
	size_t len;
	uint64_t ts_ns;		/* the record's CLOCK_REALTIME */
	const char *comment;	/* why a hole is before it, or NULL */
};

/* Where frames go. Each returns 0, or -1 with errno (fails the call). */
struct tcpsynth_sink {
	int (*frame)(void *arg, const struct tcpsynth_frame *f);
	/* A record's frames are all out: a unit that must stay whole. */
	int (*unit_done)(void *arg);
	/*
	 * The file frames go to now, a number that changes when a new one
	 * begins (a rotated series), or NULL (one file, an interface): the
	 * first frame of each open connection in a new file says that it
	 * continues there.
	 */
	unsigned long (*file)(void *arg);
	void *arg;
};

struct tcpsynth_stats {
	unsigned long long records;	/* taken, loss reports included */
	unsigned long long loss_reports;
	unsigned long long opens, closes;	/* OPEN, CLOSE records */
	unsigned long long closes_unknown;	/* CLOSE of no connection tracked */
	unsigned long long packets;		/* frames made */
	unsigned long long flows, flows_evicted;
	unsigned long long dropped_gaps;	/* holes from `dropped` */
	unsigned long long dropped_bytes;
	unsigned long long lost_ranges;		/* tcpsynth_lost() calls */
	unsigned long long lost_records;	/* record ids given up */
	unsigned long long lost_marks;		/* flow directions marked */
	unsigned long long held;		/* records that had to wait */
	unsigned long long held_now, held_bytes_now;
	unsigned long long hold_expired;	/* waits that ran out */
	unsigned long long late_records;	/* came after their place */
};

struct tcpsynth;

/* NULL with errno set (EINVAL for a bad config, ENOMEM). */
struct tcpsynth *tcpsynth_new(const struct tcpsynth_config *cfg,
			      const struct tcpsynth_sink *sink);

/*
 * A stream's first record that can come (the core knows where it joined
 * the stream): records are taken in id order from there. Without it a
 * stream starts at the first record that comes.
 */
int tcpsynth_stream_start(struct tcpsynth *t, const struct endpoint *sender,
			  uint32_t stream_id, uint32_t record_id);

/* One complete record (tcpsynth copies what it keeps). 0, or -1 + errno. */
int tcpsynth_record(struct tcpsynth *t, const struct reasm_record *r);

/*
 * Records record_first..record_last (inclusive) of a stream will never
 * come; an end that cannot be known has has_first or has_last 0 (the
 * records before the stream was joined, after its last datagram). Which
 * connections they belonged to, and how long they were, is unknown, so
 * every open connection last seen on that stream gets a hole (one byte)
 * in both directions where its next data goes, with a comment saying
 * why.
 */
struct tcpsynth_loss {
	const struct endpoint *sender;
	uint32_t stream_id;
	uint32_t record_first, record_last;
	int has_first, has_last;
	const char *reason;
};
int tcpsynth_lost(struct tcpsynth *t, const struct tcpsynth_loss *l);

/*
 * Gives up on records that have been missing for longer than hold_ms
 * (they count as lost, reason "hold-expired") and takes what waited for
 * them. tcpsynth_record and tcpsynth_lost do this too; a front end with a
 * timer calls it when nothing arrives. 0, or -1 + errno.
 */
int tcpsynth_tick(struct tcpsynth *t);

/*
 * Takes every record still waiting (what it waited for counts as lost,
 * reason "end of capture"). 0, or -1 + errno.
 */
int tcpsynth_finish(struct tcpsynth *t);

const struct tcpsynth_stats *tcpsynth_stats(const struct tcpsynth *t);

void tcpsynth_free(struct tcpsynth *t);

#endif
