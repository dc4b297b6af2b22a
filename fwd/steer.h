/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Target choice exactly as tlstap.ko makes it: shared/steering.c for the
 * flow key and the Maglev table, OpenSSL's SipHash-2-4 for the hashes.
 */
#ifndef TLSTAP_NFQ_STEER_H
#define TLSTAP_NFQ_STEER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "record.h"
#include "steering.h"

/* A keyed SipHash-2-4 (64-bit output) ready for many messages. */
struct steer_hasher {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
};

/* Returns 0, or -1 with a message in err. */
int steer_hasher_init(struct steer_hasher *h,
		      const uint8_t key[TLSTAP_HASH_KEY_LEN],
		      char *err, size_t errlen);
void steer_hasher_free(struct steer_hasher *h);

/*
 * The SipHash-2-4 value of data: the 8 output bytes read little-endian,
 * as the reference implementation and the kernel's siphash() give it.
 * Returns 0, or -1 if OpenSSL failed.
 */
int steer_siphash(struct steer_hasher *h, const void *data, size_t len,
		  uint64_t *out);

/* A target as the steering sees it. */
struct steer_target_spec {
	struct tlstap_target_key key;
	uint32_t weight;	/* 1..TLSTAP_MAX_WEIGHT */
};

struct steer_table {
	unsigned int n;
	uint16_t buckets[TLSTAP_STEER_TABLE_SIZE];
};

/*
 * Fills the bucket table for n targets, which must be sorted by
 * steer_target_key_cmp() without duplicates (steer_sort_targets() does
 * both checks); buckets hold indices into that order. 0 or -1 (err).
 */
int steer_table_build(struct steer_table *t, struct steer_hasher *h,
		      const struct steer_target_spec *targets, unsigned int n,
		      char *err, size_t errlen);

/*
 * Sorts targets into steering order, carrying along an index array
 * (order[i] = caller's position of the i-th sorted target) and refuses
 * duplicates. 0 or -1 (err).
 */
int steer_sort_targets(struct steer_target_spec *targets, unsigned int *order,
		       unsigned int n, char *err, size_t errlen);

/* The flow hash of a record's flow (+ conn_id for FAMILY_NONE). */
int steer_flow_hash(struct steer_hasher *h, const struct record_flow *flow,
		    uint64_t conn_id, uint64_t *hash);

static inline unsigned int steer_lookup(const struct steer_table *t,
					uint64_t flow_hash)
{
	return t->buckets[steer_bucket(flow_hash)];
}

/* Parses 32 hex digits into a hash key. 0 or -1. */
int steer_parse_key(const char *hex, uint8_t key[TLSTAP_HASH_KEY_LEN]);

#endif
