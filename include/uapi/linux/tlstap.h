/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * tlstap: every byte that crosses a boundary.
 *
 *   application --(record)--> /dev/tlstap or tlstap-fwd
 *   sender      --(UDP datagram: msg header + chunks)--> receiver
 *   receiver    --(NACK)--> sender --(GAP, HEARTBEAT)--> receiver
 *
 * All multi-byte fields are big-endian (network order). Structures are
 * packed by construction (no implicit padding); on the wire chunks follow
 * each other without alignment, so read them with memcpy.
 * docs/PROTOCOL.md explains every field with a hex example.
 */
#ifndef _UAPI_LINUX_TLSTAP_H
#define _UAPI_LINUX_TLSTAP_H

#include <linux/types.h>

#define TLSTAP_DEVICE_NAME	"tlstap"
#define TLSTAP_DEFAULT_PORT	7419	/* UDP: module source port, targets */
#define TLSTAP_DEFAULT_TOS	0x20	/* DSCP CS1, "lower effort" */
#define TLSTAP_DEFAULT_MAX_RECORD	65536	/* plaintext bytes per record */

/* ---------------------------------------------------------------------
 * Record: what a capture hook writes, one per TLS read or write call.
 * A record is a struct tlstap_record followed by msg_len plaintext bytes.
 * One write() may carry several whole records back to back. A record with
 * msg_len 0 is a loss report: it must have dropped > 0, and tells that the
 * connection lost bytes with no later record to say so (e.g. at its end).
 * Its dir is the direction that lost them (one report per direction), its
 * timestamp_ns the time of the report, its pid the writer's.
 */
enum tlstap_record_type {
	TLSTAP_RECORD_DATA = 1,
};

enum tlstap_dir {
	TLSTAP_DIR_READ = 1,	/* the application received the bytes */
	TLSTAP_DIR_WRITE = 2,	/* the application sent the bytes */
};

/*
 * Address family of a flow. NONE: the TLS session has no socket (memory
 * BIO); addresses and ports are zero and conn_id alone names the flow.
 * IPV4 addresses occupy the first 4 bytes of the 16, the rest is zero.
 */
enum tlstap_family {
	TLSTAP_FAMILY_NONE = 0,
	TLSTAP_FAMILY_IPV4 = 4,
	TLSTAP_FAMILY_IPV6 = 6,
};

/*
 * saddr/sport is where the plaintext came from, daddr/dport where it went:
 * for TLSTAP_DIR_WRITE the local end is the source, for TLSTAP_DIR_READ
 * the peer is.
 */
struct tlstap_record {
	__u8	type;		/* enum tlstap_record_type */
	__u8	dir;		/* enum tlstap_dir */
	__u8	family;		/* enum tlstap_family */
	__u8	hdr_len;	/* sizeof(struct tlstap_record) */
	__be16	sport;
	__be16	dport;
	__be32	msg_len;	/* plaintext bytes that follow */
	__be32	pid;		/* process (thread group) id of the writer */
	__u8	saddr[16];
	__u8	daddr[16];
	__be64	timestamp_ns;	/* CLOCK_REALTIME of the TLS call's return */
	__be64	conn_id;	/* stable for the life of the TLS session */
	__be64	dropped;	/* bytes of this connection lost before this one */
};

#define TLSTAP_RECORD_HDR_LEN	72

/* ---------------------------------------------------------------------
 * Wire format: every UDP datagram between a sender and a receiver starts
 * with a struct tlstap_msg_hdr.
 */
#define TLSTAP_WIRE_VERSION	1

enum tlstap_msg_type {
	TLSTAP_MSG_DATA = 1,		/* sender -> receiver: chunks */
	TLSTAP_MSG_NACK = 2,		/* receiver -> sender: please resend */
	TLSTAP_MSG_GAP = 3,		/* sender -> receiver: gone for good */
	TLSTAP_MSG_HEARTBEAT = 4,	/* sender -> receiver: highest seq */
};

/* msg_hdr.flags */
#define TLSTAP_MSG_F_RETRANSMIT	0x01	/* DATA sent again after a NACK */

/*
 * A stream is one sender's sequence space towards one target: every target
 * added to the module or to tlstap-fwd starts a new stream with a random
 * stream_id. Receivers key their state on (sender address and UDP port,
 * stream_id). seq counts the DATA datagrams of a stream from 0, modulo
 * 2^32; NACK and GAP carry seq 0. A datagram is at most the path MTU (a
 * target whose path MTU cannot carry TLSTAP_MIN_DGRAM bytes cannot be
 * served: its sends fail and are counted) and, from the module, at most
 * TLSTAP_MAX_MODULE_DGRAM bytes; a receiver accepts up to 65507 bytes and
 * rejects anything larger.
 */
#define TLSTAP_MAX_MODULE_DGRAM	4096
#define TLSTAP_MIN_DGRAM	136	/* msg + chunk header + 64 bytes */
struct tlstap_msg_hdr {
	__u8	type;		/* enum tlstap_msg_type */
	__u8	version;	/* TLSTAP_WIRE_VERSION */
	__u8	hdr_len;	/* sizeof(struct tlstap_msg_hdr) */
	__u8	flags;		/* TLSTAP_MSG_F_* */
	__be32	stream_id;
	__be32	seq;		/* DATA: this one; HEARTBEAT: highest sent; else 0 */
	__be16	len;		/* whole UDP payload, this header included */
	__be16	count;		/* DATA: chunks; NACK, GAP: ranges; else 0 */
};

#define TLSTAP_MSG_HDR_LEN	16

/* chunk_hdr.flags */
#define TLSTAP_CHUNK_F_ABORTED	0x01	/* the writer faulted: drop the record */

/*
 * A DATA datagram carries count chunks: a piece of one record each. The
 * bytes of a record are the struct tlstap_record and its plaintext exactly
 * as written; chunk data covers [offset, offset + len) of those
 * record_len bytes. record_id counts the records of a stream from 0,
 * modulo 2^32. The flow fields repeat the record's so that
 * every datagram can be classified on its own.
 */
struct tlstap_chunk_hdr {
	__be32	record_id;
	__be32	record_len;	/* TLSTAP_RECORD_HDR_LEN + msg_len */
	__be32	offset;
	__be16	len;		/* bytes of record data after this header */
	__u8	family;		/* enum tlstap_family */
	__u8	dir;		/* enum tlstap_dir */
	__be16	sport;
	__be16	dport;
	__u8	saddr[16];
	__u8	daddr[16];
	__u8	flags;		/* TLSTAP_CHUNK_F_* */
	__u8	reserved[3];	/* zero */
};

#define TLSTAP_CHUNK_HDR_LEN	56

/*
 * NACK and GAP carry count inclusive ranges of DATA sequence numbers:
 * 1 to TLSTAP_NACK_MAX_RANGES of them, each ascending and disjoint, with
 * last - first < TLSTAP_NACK_MAX_SPAN (serial arithmetic).
 */
struct tlstap_seq_range {
	__be32	first;
	__be32	last;
};

#define TLSTAP_NACK_MAX_RANGES	64
#define TLSTAP_NACK_MAX_SPAN	1024

/* HEARTBEAT body: the oldest seq the sender can still retransmit. */
struct tlstap_heartbeat {
	__be32	oldest_seq;
	__be32	reserved;	/* zero */
};

/* ---------------------------------------------------------------------
 * Flow steering. A record's target is
 *	table[(h mod 2^32) mod TLSTAP_STEER_TABLE_SIZE]
 * where h is the 64-bit SipHash-2-4 of the flow key under the 16-byte hash
 * key, read as two little-endian 64-bit words (the reference SipHash key
 * layout). The flow
 * key orders the two ends so that both directions hash alike: the end whose
 * (addr, port) bytes compare lower comes first. For TLSTAP_FAMILY_NONE,
 * addr_lo holds conn_id (big-endian) in its first 8 bytes and all else is
 * zero. The table is filled Maglev-style, see docs/PROTOCOL.md.
 */
#define TLSTAP_STEER_TABLE_SIZE	4093	/* prime */
#define TLSTAP_MAX_TARGETS	64
#define TLSTAP_MAX_WEIGHT	255
#define TLSTAP_HASH_KEY_LEN	16

struct tlstap_flow_key {
	__u8	family;		/* enum tlstap_family */
	__u8	reserved[3];	/* zero */
	__be16	port_lo;
	__be16	port_hi;
	__u8	addr_lo[16];
	__u8	addr_hi[16];
};

#define TLSTAP_FLOW_KEY_LEN	40

/* Identity of a target for the Maglev permutation: hashed with the key. */
struct tlstap_target_key {
	__u8	family;		/* TLSTAP_FAMILY_IPV4 or _IPV6 */
	__u8	reserved;	/* zero */
	__be16	port;
	__u8	addr[16];
};

#define TLSTAP_TARGET_KEY_LEN	20

#endif /* _UAPI_LINUX_TLSTAP_H */
