/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Records as JSON lines, plaintext in base64 (OpenSSL's EVP_EncodeBlock).
 * "type" tells them apart: "data" for a record with plaintext, "loss" for
 * a loss report (len 0, dropped > 0), which has no "data" field.
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

#endif
