/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The UDP wire format of include/uapi/linux/tlstap.h: the one encoder of
 * message and chunk headers, the DATA builder, NACK, GAP and HEARTBEAT
 * builders, and the strict parser of any datagram, compiled into
 * tlstap.ko, tlstap-fwd and the receivers alike.
 */
#ifndef _TLSTAP_WIRE_H
#define _TLSTAP_WIRE_H

#include "kcompat.h"
#include <linux/tlstap.h>

#include "record.h"

/* What a chunk says about its record, host order. */
struct wire_chunk_meta {
	uint32_t record_id;
	uint32_t record_len;	/* TLSTAP_RECORD_HDR_LEN + msg_len */
	struct record_flow flow;
	uint8_t flags;		/* TLSTAP_CHUNK_F_* */
	/* The writer as the sender's kernel knows it (not the record's pid). */
	uint32_t writer_pid;	/* 0: unknown */
	uint32_t writer_uid;	/* TLSTAP_WRITER_UID_UNKNOWN: unknown */
};

/* One chunk of a parsed datagram; data points into the datagram. */
struct wire_chunk {
	struct wire_chunk_meta meta;
	uint32_t offset;
	uint16_t len;
	const uint8_t *data;
};

/* Writes a message header; len and count may be filled in later. */
void wire_put_msg_hdr(void *buf, uint8_t type, uint8_t flags,
		      uint32_t stream_id, uint32_t seq, uint16_t len,
		      uint16_t count);

/* Writes the header of a chunk of len bytes at offset of its record. */
void wire_put_chunk_hdr(void *buf, const struct wire_chunk_meta *m,
			uint32_t offset, uint16_t len);

/* A DATA datagram under construction in a caller-owned buffer. */
struct wire_builder {
	uint8_t *buf;
	size_t cap;		/* the datagram may grow up to this */
	size_t len;
	uint16_t count;
};

void wire_builder_start(struct wire_builder *b, uint8_t *buf, size_t cap,
			uint32_t stream_id, uint32_t seq, uint8_t flags);

/*
 * Record bytes a new chunk can carry: a chunk is opened only while there
 * is room for its header plus at least one byte; 0 otherwise.
 */
size_t wire_builder_room(const struct wire_builder *b);

/* Appends a chunk of len (1..room) bytes at offset of the record. */
void wire_builder_add(struct wire_builder *b, const struct wire_chunk_meta *m,
		      uint32_t offset, const void *data, size_t len);

/* Writes len and count into the header; returns the datagram length. */
size_t wire_builder_finish(struct wire_builder *b);

enum wire_status {
	WIRE_OK = 0,
	WIRE_SHORT,		/* shorter than a message header */
	WIRE_BAD_TYPE,
	WIRE_BAD_VERSION,
	WIRE_BAD_HDR_LEN,
	WIRE_BAD_LEN,		/* not the datagram's length, or > TLSTAP_MAX_DGRAM */
	WIRE_BAD_FLAGS,
	WIRE_BAD_SEQ,		/* NACK or GAP with a seq other than 0 */
	WIRE_BAD_COUNT,		/* DATA without chunks, HEARTBEAT with some */
	WIRE_BAD_BODY_LEN,	/* NACK, GAP, HEARTBEAT body of the wrong size */
	WIRE_CHUNK_TRUNCATED,	/* a chunk runs past the end */
	WIRE_CHUNK_EMPTY,
	WIRE_CHUNK_BAD_RECORD_LEN,
	WIRE_CHUNK_BAD_RANGE,	/* offset + len beyond record_len */
	WIRE_CHUNK_BAD_FLOW,
	WIRE_CHUNK_BAD_FLAGS,
	WIRE_TRAILING,		/* bytes after the last chunk */
	WIRE_BAD_RANGES,	/* NACK, GAP: empty, disordered or too long */
	WIRE_BAD_HEARTBEAT,	/* oldest_seq after seq + 1, reserved set */
	WIRE_STATUS_COUNT
};

const char *wire_status_name(enum wire_status st);

/* A parsed message header, host order. */
struct wire_msg {
	uint8_t type;
	uint8_t version;
	uint8_t flags;
	uint32_t stream_id;
	uint32_t seq;
	uint16_t len;
	uint16_t count;
	const uint8_t *body;	/* after the header */
	size_t body_len;
};

/*
 * Parses and checks the message header of any datagram type, and for the
 * control messages (NACK, GAP, HEARTBEAT) the size of their body too.
 */
enum wire_status wire_parse_msg(const void *buf, size_t len,
				struct wire_msg *out);

/*
 * Checks every chunk of a DATA message (record_len from
 * TLSTAP_RECORD_HDR_LEN, a loss report, to TLSTAP_RECORD_HDR_LEN +
 * max_msg_len), so that nothing of a datagram is used unless all of it is
 * well formed.
 */
enum wire_status wire_check_data(const struct wire_msg *msg,
				 uint32_t max_msg_len);

/* An inclusive range of sequence numbers, host order. */
struct wire_range {
	uint32_t first, last;
};

/*
 * Checks the body of a NACK or GAP that passed wire_parse_msg: 1 to
 * TLSTAP_NACK_MAX_RANGES ranges, each first <= last (serial order) and at most
 * TLSTAP_NACK_MAX_SPAN long, ascending and not overlapping.
 */
enum wire_status wire_check_ranges(const struct wire_msg *msg);

/* Range i (< count) of a NACK or GAP. */
struct wire_range wire_get_range(const struct wire_msg *msg, unsigned int i);

/*
 * Builds a NACK or GAP of n (1..TLSTAP_NACK_MAX_RANGES) ranges into buf (at
 * least TLSTAP_MSG_HDR_LEN + 8 * n bytes); returns its length.
 */
size_t wire_build_ranges(uint8_t *buf, uint8_t type, uint32_t stream_id,
			 const struct wire_range *ranges, unsigned int n);

#define WIRE_HEARTBEAT_LEN	(TLSTAP_MSG_HDR_LEN + 8)

/* A HEARTBEAT's body, after wire_check_heartbeat. */
struct wire_heartbeat {
	uint32_t highest;	/* the msg's seq: highest seq sent */
	uint32_t oldest;	/* oldest seq the sender can still resend */
};

/*
 * Checks a HEARTBEAT that passed wire_parse_msg: reserved zero and
 * oldest_seq no later than seq + 1 (seq + 1: nothing can be resent).
 */
enum wire_status wire_check_heartbeat(const struct wire_msg *msg,
				      struct wire_heartbeat *out);

/* Builds a HEARTBEAT into buf (WIRE_HEARTBEAT_LEN bytes). */
size_t wire_build_heartbeat(uint8_t *buf, uint32_t stream_id,
			    uint32_t highest, uint32_t oldest);

/*
 * Walks the chunks of a DATA message that passed wire_check_data: *pos
 * starts at 0; returns 0 at the end.
 */
int wire_next_chunk(const struct wire_msg *msg, size_t *pos,
		    struct wire_chunk *out);

#endif /* _TLSTAP_WIRE_H */
