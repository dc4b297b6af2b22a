// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * One EVP_MAC_CTX keyed once; EVP_MAC_init() with a NULL key restores the
 * keyed state, which is the cheapest per-message reset OpenSSL 3 offers.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/crypto.h>

#include "steer.h"

static void openssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "unknown error");
}

int steer_hasher_init(struct steer_hasher *h,
		      const uint8_t key[TLSTAP_HASH_KEY_LEN],
		      char *err, size_t errlen)
{
	size_t size = 8;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};

	h->ctx = NULL;
	h->mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	if (!h->mac) {
		openssl_error(err, errlen, "EVP_MAC_fetch(SIPHASH)");
		return -1;
	}
	h->ctx = EVP_MAC_CTX_new(h->mac);
	if (!h->ctx) {
		openssl_error(err, errlen, "EVP_MAC_CTX_new");
		goto fail;
	}
	if (!EVP_MAC_init(h->ctx, key, TLSTAP_HASH_KEY_LEN, params)) {
		openssl_error(err, errlen, "EVP_MAC_init(SIPHASH key)");
		goto fail;
	}
	if (EVP_MAC_CTX_get_mac_size(h->ctx) != 8) {
		snprintf(err, errlen, "SIPHASH output size is not 8 bytes");
		goto fail;
	}
	return 0;
fail:
	steer_hasher_free(h);
	return -1;
}

void steer_hasher_free(struct steer_hasher *h)
{
	EVP_MAC_CTX_free(h->ctx);
	EVP_MAC_free(h->mac);
	h->ctx = NULL;
	h->mac = NULL;
}

int steer_siphash(struct steer_hasher *h, const void *data, size_t len,
		  uint64_t *out)
{
	uint8_t digest[8];
	size_t outl = 0;
	uint64_t v;

	if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) ||
	    !EVP_MAC_update(h->ctx, data, len) ||
	    !EVP_MAC_final(h->ctx, digest, &outl, sizeof(digest)) ||
	    outl != sizeof(digest))
		return -1;
	memcpy(&v, digest, sizeof(v));
	*out = le64toh(v);
	return 0;
}

int steer_table_build(struct steer_table *t, struct steer_hasher *h,
		      const struct steer_target_spec *targets, unsigned int n,
		      char *err, size_t errlen)
{
	struct steer_target st[TLSTAP_MAX_TARGETS];
	__u32 next[TLSTAP_MAX_TARGETS];

	if (n > TLSTAP_MAX_TARGETS) {
		snprintf(err, errlen, "%u targets, at most %u", n,
			 TLSTAP_MAX_TARGETS);
		return -1;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint64_t hash;

		if (i && steer_target_key_cmp(&targets[i - 1].key,
					      &targets[i].key) >= 0) {
			snprintf(err, errlen,
				 "targets not in steering order or duplicated");
			return -1;
		}
		if (!targets[i].weight || targets[i].weight > TLSTAP_MAX_WEIGHT) {
			snprintf(err, errlen, "weight %u out of 1..%u",
				 targets[i].weight, TLSTAP_MAX_WEIGHT);
			return -1;
		}
		if (steer_siphash(h, &targets[i].key, sizeof(targets[i].key),
				  &hash)) {
			openssl_error(err, errlen, "SipHash of a target key");
			return -1;
		}
		steer_target_init(&st[i], hash, targets[i].weight);
	}
	steer_fill(t->buckets, st, next, n);
	t->n = n;
	return 0;
}

int steer_sort_targets(struct steer_target_spec *targets, unsigned int *order,
		       unsigned int n, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < n; i++)
		order[i] = i;
	/* Insertion sort: at most TLSTAP_MAX_TARGETS entries. */
	for (unsigned int i = 1; i < n; i++) {
		struct steer_target_spec spec = targets[i];
		unsigned int idx = order[i], j = i;

		while (j && steer_target_key_cmp(&targets[j - 1].key,
						 &spec.key) > 0) {
			targets[j] = targets[j - 1];
			order[j] = order[j - 1];
			j--;
		}
		targets[j] = spec;
		order[j] = idx;
	}
	for (unsigned int i = 1; i < n; i++) {
		if (!steer_target_key_cmp(&targets[i - 1].key, &targets[i].key)) {
			snprintf(err, errlen, "target given twice");
			return -1;
		}
	}
	return 0;
}

int steer_flow_hash(struct steer_hasher *h, const struct record_flow *flow,
		    uint64_t conn_id, uint64_t *hash)
{
	struct tlstap_flow_key key;

	steer_flow_key(&key, flow->family, flow->saddr, htobe16(flow->sport),
		       flow->daddr, htobe16(flow->dport), htobe64(conn_id));
	return steer_siphash(h, &key, sizeof(key), hash);
}

int steer_parse_key(const char *hex, uint8_t key[TLSTAP_HASH_KEY_LEN])
{
	size_t n = 0;

	if (strlen(hex) != 2 * TLSTAP_HASH_KEY_LEN)
		return -1;
	if (!OPENSSL_hexstr2buf_ex(key, TLSTAP_HASH_KEY_LEN, &n, hex, '\0') ||
	    n != TLSTAP_HASH_KEY_LEN)
		return -1;
	return 0;
}
