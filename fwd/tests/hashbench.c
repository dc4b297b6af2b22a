// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * What one flow hash costs through OpenSSL's EVP_MAC "SIPHASH": the
 * re-init of one keyed context (what lib/steer.c does) against a
 * EVP_MAC_CTX_dup() of a keyed template per hash. Prints ns per hash.
 */
#include <stdio.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "steer.h"

#define N 2000000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	uint8_t key[16] = { 1, 2, 3, 4 };
	struct tlstap_flow_key fk = { .family = 4, .port_lo = 1 };
	struct steer_hasher h;
	char err[256];
	uint64_t v, sum = 0;
	double t0, t1;

	if (steer_hasher_init(&h, key, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = now();
	for (int i = 0; i < N; i++) {
		fk.addr_lo[0] = (uint8_t)i;
		if (steer_siphash(&h, &fk, sizeof(fk), &v))
			return 1;
		sum += v;
	}
	t1 = now();
	printf("EVP_MAC_init(NULL key) per hash: %.0f ns\n",
	       (t1 - t0) / N * 1e9);

	t0 = now();
	for (int i = 0; i < N; i++) {
		EVP_MAC_CTX *c = EVP_MAC_CTX_dup(h.ctx);
		uint8_t out[8];
		size_t outl;

		fk.addr_lo[0] = (uint8_t)i;
		if (!c || !EVP_MAC_update(c, (void *)&fk, sizeof(fk)) ||
		    !EVP_MAC_final(c, out, &outl, sizeof(out)))
			return 1;
		EVP_MAC_CTX_free(c);
		sum += out[0];
	}
	t1 = now();
	printf("EVP_MAC_CTX_dup per hash:        %.0f ns\n",
	       (t1 - t0) / N * 1e9);
	steer_hasher_free(&h);
	return sum == 42;	/* keep the loops from being optimised out */
}
