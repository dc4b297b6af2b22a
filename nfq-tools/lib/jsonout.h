/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Records as JSON lines, plaintext in base64 (OpenSSL's EVP_EncodeBlock).
 * "type" tells them apart: "data" for a record with plaintext, "loss" for
 * a loss report (len 0, dropped > 0), "open" and "close" for a
 * connection's OPEN and CLOSE (len 0, dropped 0), none of these three
 * with a "data" field; "lost" for records given up (not records: they
 * never arrived). "time" is the record's timestamp as RFC 3339 in UTC
 * with nanoseconds, "time_ns" the same as a number (ns since the epoch).
 * "pid" is the record's own (the writer's claim); "writer_pid" and
 * "writer_uid" are what the sender's kernel knew of the writer, null
 * where it could not know.
 */
#ifndef TLSTAP_NFQ_JSONOUT_H
#define TLSTAP_NFQ_JSONOUT_H

#include <stdio.h>

#include "reasm.h"

struct jsonout {
	FILE *f;
	unsigned char *b64;
	size_t b64_cap;
};

void jsonout_init(struct jsonout *j, FILE *f);
void jsonout_free(struct jsonout *j);

/* One line. 0, or -1 with errno set (memory or the stream failed). */
int jsonout_record(struct jsonout *j, const struct reasm_record *r);

/*
 * A LOST marker, one line:
 * {"type":"lost","sender":...,"stream":...,"record_first":A,
 *  "record_last":B,"seq_first":X,"seq_last":Y,"reason":"gap"|"timeout"}
 * with null for an end that cannot be known. 0, or -1 (the stream failed).
 */
int jsonout_lost(FILE *f, const struct reasm_lost *l);

#endif
