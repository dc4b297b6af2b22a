/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * tlstap: every byte that crosses a boundary.
 *
 *   application --(record)--> /dev/tlstap or tlstap-fwd
 *   sender      --(UDP datagram: msg header + chunks)--> receiver
 *   receiver    --(NACK)--> sender --(GAP, HEARTBEAT)--> receiver
 *
 * All multi-byte fields of records and datagrams are big-endian (network
 * order). Structures are packed by construction (no implicit padding); on
 * the wire chunks follow each other without alignment, so read them with
 * memcpy. The capture ring, shared memory within one host, is the
 * exception: its own words are in host order (section at the end).
 * docs/PROTOCOL.md explains every field with a hex example.
 */
#ifndef _UAPI_LINUX_TLSTAP_H
#define _UAPI_LINUX_TLSTAP_H

#include <linux/types.h>

#define TLSTAP_DEVICE_NAME	"tlstap"
#define TLSTAP_DEFAULT_PORT	7419	/* UDP: module source port, targets */
#define TLSTAP_DEFAULT_TOS	0x20	/* DSCP CS1, "lower effort" */
#define TLSTAP_DEFAULT_MAX_RECORD	65536	/* plaintext bytes per record */
/*
 * A new target's datagrams wait at most this long for its next hop's
 * neighbour (ARP, ND) to be resolved: the kernel's own time for three
 * solicitations a second apart. Then they go anyway (enum
 * tlstap_target_state).
 */
#define TLSTAP_RESOLVE_MS	3000

/* ---------------------------------------------------------------------
 * Record: what a capture hook writes, one per TLS read or write call.
 * A record is a struct tlstap_record followed by msg_len plaintext bytes.
 * One write() may carry several whole records back to back. A DATA record
 * with msg_len 0 is a loss report: it must have dropped > 0, and tells that
 * the connection lost bytes with no later record to say so (e.g. at its
 * end). Its dir is the direction that lost them (one report per
 * direction), its timestamp_ns the time of the report, its pid the
 * writer's.
 *
 * OPEN and CLOSE carry no plaintext (msg_len 0, dropped 0): the TLS
 * session's connection began (before its first DATA record) and ended
 * (after its last). Their saddr/sport is the client, the end that opened
 * the TCP connection, daddr/dport the server; dir says which end the
 * writer is: WRITE the client, READ the server (the rule below, with the
 * plaintext's direction read as the connection's). Each is written once
 * per connection; bytes lost and not yet reported go in loss reports
 * before the CLOSE.
 */
enum tlstap_record_type {
	TLSTAP_RECORD_DATA = 1,
	TLSTAP_RECORD_OPEN = 2,
	TLSTAP_RECORD_CLOSE = 3,
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
	__be32	pid;		/* the writer's claim: its thread group id */
	__u8	saddr[16];
	__u8	daddr[16];
	__be64	timestamp_ns;	/* CLOCK_REALTIME of the TLS call's return */
	__be64	conn_id;	/* stable for the life of the TLS session */
	__be64	dropped;	/* bytes of this direction lost before this one */
};

#define TLSTAP_RECORD_HDR_LEN	72

/* ---------------------------------------------------------------------
 * Wire format: every UDP datagram between a sender and a receiver starts
 * with a struct tlstap_msg_hdr.
 */
#define TLSTAP_WIRE_VERSION	2

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
 * TLSTAP_MAX_MODULE_DGRAM bytes; a receiver accepts up to TLSTAP_MAX_DGRAM
 * bytes (the largest UDP payload over IPv4) and rejects anything larger.
 */
#define TLSTAP_MAX_MODULE_DGRAM	4096
#define TLSTAP_MIN_DGRAM	144	/* msg + chunk header + 64 bytes */
#define TLSTAP_MAX_DGRAM	65507
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
 *
 * writer_pid and writer_uid are what the sender's kernel knows of the
 * process that handed the record over (the record's own pid is that
 * process's claim): its thread group id in the sender's pid namespace
 * (the module: the initial one) and its uid in the initial user
 * namespace. A record from a capture ring carries the ring creator's.
 * They are 0 and TLSTAP_WRITER_UID_UNKNOWN when the sender cannot know
 * (tlstap-fwd reading a FIFO or stdin). Every chunk of a record carries
 * the same values (receivers check that the chunks agree, as for the
 * flow).
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
	__be32	writer_pid;	/* 0: unknown */
	__be32	writer_uid;	/* TLSTAP_WRITER_UID_UNKNOWN: unknown */
};

#define TLSTAP_CHUNK_HDR_LEN	64
#define TLSTAP_WRITER_UID_UNKNOWN	0xffffffffu

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
/* The largest NACK or GAP: a header and TLSTAP_NACK_MAX_RANGES ranges. */
#define TLSTAP_NACK_MAX_LEN	(TLSTAP_MSG_HDR_LEN + TLSTAP_NACK_MAX_RANGES * 8)

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

/* ---------------------------------------------------------------------
 * Control: the generic netlink family TLSTAP_GENL_NAME (init network
 * namespace only). docs/PROTOCOL.md section 6 gives every attribute's type
 * and limits. Integers are in host order, except addresses. Requests that
 * change anything need CAP_NET_ADMIN; so does reading the hash key.
 *
 * A change made through netlink or sysfs is announced to the multicast
 * group TLSTAP_GENL_MCGRP_EVENTS, in the order the changes were made, as
 * a message of the command that makes it: TARGET_ADD (the target),
 * TARGET_DEL (the target; a flush sends one per target) or CONFIG_SET (the
 * knobs set, with their new values; TLSTAP_A_HASH_KEY_CHANGED instead of
 * the key). Every event carries TLSTAP_A_ORIGIN.
 */
#define TLSTAP_GENL_NAME	"tlstap"
#define TLSTAP_GENL_VERSION	1
#define TLSTAP_GENL_MCGRP_EVENTS	"events"

enum tlstap_cmd {
	TLSTAP_CMD_UNSPEC,
	TLSTAP_CMD_TARGET_ADD,		/* TARGET: address, port[, weight] */
	TLSTAP_CMD_TARGET_DEL,		/* TARGET: address, port */
	TLSTAP_CMD_TARGET_FLUSH,	/* every target */
	TLSTAP_CMD_TARGET_GET,		/* dump: a TARGET per message */
	TLSTAP_CMD_CONFIG_GET,		/* port and knobs, not the hash key */
	TLSTAP_CMD_CONFIG_SET,		/* any knobs, all or none applied */
	TLSTAP_CMD_HASH_KEY_GET,
	TLSTAP_CMD_STATS_GET,		/* STATS: the global counters */
	__TLSTAP_CMD_MAX,
};

#define TLSTAP_CMD_MAX	(__TLSTAP_CMD_MAX - 1)

enum tlstap_attr {
	TLSTAP_A_UNSPEC,
	TLSTAP_A_TARGET,		/* nest: TLSTAP_TARGET_A_* */
	TLSTAP_A_TOS,			/* u8: 1..255 */
	TLSTAP_A_MAX_RECORD,		/* u32: plaintext bytes per record */
	TLSTAP_A_FLUSH_US,		/* u32: partial datagram delay */
	TLSTAP_A_RING_KB,		/* u32: ring of a target added later */
	TLSTAP_A_HEARTBEAT_MS,		/* u32 */
	TLSTAP_A_RETRANSMIT_PPS,	/* u32: resends per second per target */
	TLSTAP_A_HASH_KEY,		/* binary: TLSTAP_HASH_KEY_LEN bytes */
	TLSTAP_A_PORT,			/* u16: UDP source port (read-only) */
	TLSTAP_A_STATS,			/* nest: TLSTAP_STATS_A_* */
	TLSTAP_A_ORIGIN,		/* u8: enum tlstap_origin (events) */
	TLSTAP_A_HASH_KEY_CHANGED,	/* flag (events) */
	__TLSTAP_A_MAX,
};

#define TLSTAP_A_MAX	(__TLSTAP_A_MAX - 1)

/*
 * The ranges of the module's settings (the attributes above, the sysfs
 * files of the same names); a value outside one is refused. The TOS is
 * never 0: receivers and nfqueue rules tell tlstap's datagrams by it.
 */
#define TLSTAP_TOS_MIN			1
#define TLSTAP_TOS_MAX			255
#define TLSTAP_MAX_RECORD_MIN		1
#define TLSTAP_MAX_RECORD_MAX		(16u << 20)
#define TLSTAP_FLUSH_US_MIN		1
#define TLSTAP_FLUSH_US_MAX		1000000
#define TLSTAP_RING_KB_MIN		64
#define TLSTAP_RING_KB_MAX		(1u << 20)
#define TLSTAP_HEARTBEAT_MS_MIN		1
#define TLSTAP_HEARTBEAT_MS_MAX		60000
#define TLSTAP_RETRANSMIT_PPS_MIN	1
#define TLSTAP_RETRANSMIT_PPS_MAX	10000000

/* Exactly one of ADDR4 and ADDR6 names a target, with PORT. */
enum tlstap_target_attr {
	TLSTAP_TARGET_A_UNSPEC,
	TLSTAP_TARGET_A_PAD,
	TLSTAP_TARGET_A_ADDR4,		/* binary: 4 bytes, network order */
	TLSTAP_TARGET_A_ADDR6,		/* binary: 16 bytes, network order */
	TLSTAP_TARGET_A_PORT,		/* u16: 1..65535 */
	TLSTAP_TARGET_A_WEIGHT,		/* u32: 1..TLSTAP_MAX_WEIGHT, default 1 */
	TLSTAP_TARGET_A_STREAM_ID,	/* u32 (read-only) */
	TLSTAP_TARGET_A_PACKETS,	/* u64: datagrams sent (read-only) */
	TLSTAP_TARGET_A_BYTES,		/* u64: their bytes (read-only) */
	TLSTAP_TARGET_A_ERRORS,		/* u64: failed sends (read-only) */
	TLSTAP_TARGET_A_ICMP_UNREACHABLE, /* u64: ICMP about it (read-only) */
	TLSTAP_TARGET_A_STATE,		/* u8: enum tlstap_target_state (read-only) */
	__TLSTAP_TARGET_A_MAX,
};

#define TLSTAP_TARGET_A_MAX	(__TLSTAP_TARGET_A_MAX - 1)

/*
 * Where a target's next hop is. A target is added RESOLVING: its
 * neighbour is being resolved, and its datagrams wait in its ring. It is
 * READY once the neighbour is (or when there is none to resolve), and
 * UNRESOLVED when TLSTAP_RESOLVE_MS passed first: its datagrams go anyway.
 * The targets listings name them "ready", "resolving", "unresolved".
 */
enum tlstap_target_state {
	TLSTAP_TARGET_READY,
	TLSTAP_TARGET_RESOLVING,
	TLSTAP_TARGET_UNRESOLVED,
};

/* The global counters, u64 each; sysfs's stats file names them alike. */
enum tlstap_stats_attr {
	TLSTAP_STATS_A_UNSPEC,
	TLSTAP_STATS_A_PAD,
	TLSTAP_STATS_A_RECORDS,
	TLSTAP_STATS_A_BYTES,
	TLSTAP_STATS_A_DATAGRAMS,
	TLSTAP_STATS_A_DROP_INVALID,
	TLSTAP_STATS_A_DROP_OVERSIZE,
	TLSTAP_STATS_A_DROP_NO_TARGET,
	TLSTAP_STATS_A_DROP_RING_FULL,
	TLSTAP_STATS_A_DROP_FAULT,
	TLSTAP_STATS_A_DROP_NOMEM,
	TLSTAP_STATS_A_TX_ERRORS,
	TLSTAP_STATS_A_RESEGMENTED,
	TLSTAP_STATS_A_GSO_BATCHES,
	TLSTAP_STATS_A_NACKS_RECEIVED,
	TLSTAP_STATS_A_NACK_REJECTED,
	TLSTAP_STATS_A_NACK_RATELIMITED,
	TLSTAP_STATS_A_RETRANSMITS,
	TLSTAP_STATS_A_GAPS_SENT,
	TLSTAP_STATS_A_HEARTBEATS,
	TLSTAP_STATS_A_RINGS_CREATED,
	TLSTAP_STATS_A_RING_RECORDS,
	TLSTAP_STATS_A_RING_WAKEUPS,
	TLSTAP_STATS_A_RINGS_ENDED,
	TLSTAP_STATS_A_RING_ABANDONED,
	TLSTAP_STATS_A_ICMP_UNREACHABLE,
	TLSTAP_STATS_A_RESOLVE_TIMEOUTS,
	__TLSTAP_STATS_A_MAX,
};

#define TLSTAP_STATS_A_MAX	(__TLSTAP_STATS_A_MAX - 1)

/* Which view of the configuration a change came through. */
enum tlstap_origin {
	TLSTAP_ORIGIN_SYSFS = 1,
	TLSTAP_ORIGIN_NETLINK = 2,
};

/* ---------------------------------------------------------------------
 * Capture ring: shared memory that carries records from one producer (a
 * capture hook's thread) to a consumer (tlstap.ko or tlstap-fwd) without a
 * system call per record. Every word below is in host byte order: the
 * ring never leaves the host. docs/PROTOCOL.md section 7 gives the
 * memory-ordering rules.
 *
 * A ring is, at offsets from its start:
 *	0			struct tlstap_capring_desc: what the ring is
 *	TLSTAP_CAPRING_CONS_OFF	struct tlstap_capring_consumer (own line)
 *	desc.prod_off		struct tlstap_capring_producer (own page)
 *	desc.data_off		the data area: desc.data_size bytes of frames
 * The consumer writes the desc and its line; the producer writes its line
 * and the frames. Positions are free-running byte counts modulo 2^32 into
 * the data area (offset = pos & (data_size - 1)), compared as signed
 * differences; 0 <= prod_pos - cons_pos <= data_size.
 *
 * /dev/tlstap: mmap() of an open file (read and write) at page offset
 * TLSTAP_CAPRING_PGOFF_PRODUCER, PROT_READ | PROT_WRITE, of one page plus
 * data_size bytes creates that file's ring (data_size a power of two from
 * TLSTAP_CAPRING_MIN_SIZE to TLSTAP_CAPRING_MAX_SIZE); the page at offset
 * 0 (desc and consumer line) can then be mapped PROT_READ only. A
 * write() of zero bytes wakes the consumer; poll() reports POLLOUT when
 * at least half the data area is free.
 *
 * tlstap-fwd: a struct tlstap_capring_msg of type CREATE on a seqpacket
 * connection to its socket is answered by one of type CREATED carrying, if
 * its status is 0, a sealed memfd (SCM_RIGHTS) that holds the whole ring.
 * WAKE (producer to tlstap-fwd) wakes the consumer; ROOM (tlstap-fwd to
 * producer) answers a producer that set TLSTAP_CAPRING_PF_WAITING. A
 * connection carries at most one ring; when it closes, tlstap-fwd drains
 * the ring and lets it go.
 */
#define TLSTAP_CAPRING_MAGIC	0x544c5352	/* "TLSR" as a host-order word */
#define TLSTAP_CAPRING_VERSION	1
#define TLSTAP_CAPRING_MIN_SIZE	(64u << 10)
#define TLSTAP_CAPRING_MAX_SIZE	(16u << 20)
#define TLSTAP_CAPRING_CONS_OFF	64
#define TLSTAP_CAPRING_PGOFF_HEADER	0
#define TLSTAP_CAPRING_PGOFF_PRODUCER	1

struct tlstap_capring_desc {
	__u32	magic;		/* TLSTAP_CAPRING_MAGIC */
	__u16	version;	/* TLSTAP_CAPRING_VERSION */
	__u16	desc_len;	/* sizeof(struct tlstap_capring_desc) */
	__u32	page_size;	/* of the consumer's host */
	__u32	cons_off;	/* TLSTAP_CAPRING_CONS_OFF */
	__u32	prod_off;	/* page_size */
	__u32	data_off;	/* 2 * page_size */
	__u32	data_size;	/* power of two */
	__u32	creator_pid;	/* the producer, as the consumer knows it */
	__u32	creator_uid;
	__u32	reserved[7];	/* zero */
};

#define TLSTAP_CAPRING_DESC_LEN	64

/* consumer.flags */
#define TLSTAP_CAPRING_F_NEED_WAKEUP	0x1	/* idle: wake me after publishing */

struct tlstap_capring_consumer {
	__u32	cons_pos;	/* frames before it are consumed */
	__u32	flags;		/* TLSTAP_CAPRING_F_* */
	__u32	status;		/* 0, or the errno that ended the ring */
	__u32	max_msg_len;	/* larger records are dropped (and reported) */
};

/* producer.flags */
#define TLSTAP_CAPRING_PF_WAITING	0x1	/* tlstap-fwd: send ROOM */

struct tlstap_capring_producer {
	__u32	prod_pos;	/* frames before it are reserved */
	__u32	flags;		/* TLSTAP_CAPRING_PF_* */
};

/*
 * A frame: this header, then len bytes, then padding to the next multiple
 * of 8. A record frame holds one record (struct tlstap_record and its
 * msg_len bytes of plaintext: len = TLSTAP_RECORD_HDR_LEN + msg_len); it
 * is published RESERVED with its record header written, then becomes
 * COMMITTED once the plaintext is, or ABANDONED (the producer gave up:
 * its plaintext is lost and reported as such). A frame never wraps: a
 * PADDING frame fills the rest of the data area instead, len = the bytes
 * after its header up to the end.
 */
enum tlstap_capring_state {
	TLSTAP_CAPRING_RESERVED = 1,
	TLSTAP_CAPRING_COMMITTED = 2,
	TLSTAP_CAPRING_ABANDONED = 3,
	TLSTAP_CAPRING_PADDING = 4,
};

struct tlstap_capring_frame {
	__u32	len;
	__u32	state;		/* enum tlstap_capring_state */
};

#define TLSTAP_CAPRING_FRAME_HDR_LEN	8
#define TLSTAP_CAPRING_ALIGN	8

/* tlstap-fwd's ring messages; a record's first byte is never >= 0x80. */
enum tlstap_capring_msg_type {
	TLSTAP_CAPRING_MSG_CREATE = 0x81,	/* size: data_size wanted */
	TLSTAP_CAPRING_MSG_CREATED = 0x82,	/* status, size; the memfd */
	TLSTAP_CAPRING_MSG_WAKE = 0x83,
	TLSTAP_CAPRING_MSG_ROOM = 0x84,
};

struct tlstap_capring_msg {
	__u8	type;		/* enum tlstap_capring_msg_type */
	__u8	reserved[3];	/* zero */
	__u32	status;		/* CREATED: 0 or an errno */
	__u32	size;		/* CREATE, CREATED: data_size */
	__u32	reserved2;	/* zero */
};

#define TLSTAP_CAPRING_MSG_LEN	16

#endif /* _UAPI_LINUX_TLSTAP_H */
