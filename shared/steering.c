// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Symmetric flow keys and a weighted Maglev bucket table (as IPVS's
 * ip_vs_mh.c): every target walks its own permutation of the buckets and
 * claims the next free one, weight times per round. Removing or adding one
 * of N targets moves about 1/N of the buckets.
 */
#ifdef __KERNEL__
#include <linux/string.h>
#else
#include <string.h>
#endif

#include "steering.h"

static int endpoint_cmp(const __u8 a[16], __be16 aport,
			const __u8 b[16], __be16 bport)
{
	int r = memcmp(a, b, 16);

	return r ? r : memcmp(&aport, &bport, sizeof(aport));
}

void steer_flow_key(struct tlstap_flow_key *key, __u8 family,
		    const __u8 saddr[16], __be16 sport,
		    const __u8 daddr[16], __be16 dport, __be64 conn_id)
{
	memset(key, 0, sizeof(*key));
	key->family = family;
	if (family == TLSTAP_FAMILY_NONE) {
		memcpy(key->addr_lo, &conn_id, sizeof(conn_id));
		return;
	}
	if (endpoint_cmp(saddr, sport, daddr, dport) <= 0) {
		memcpy(key->addr_lo, saddr, 16);
		key->port_lo = sport;
		memcpy(key->addr_hi, daddr, 16);
		key->port_hi = dport;
	} else {
		memcpy(key->addr_lo, daddr, 16);
		key->port_lo = dport;
		memcpy(key->addr_hi, saddr, 16);
		key->port_hi = sport;
	}
}

void steer_target_key(struct tlstap_target_key *key, __u8 family,
		      const __u8 addr[16], __be16 port)
{
	memset(key, 0, sizeof(*key));
	key->family = family;
	key->port = port;
	memcpy(key->addr, addr, 16);
}

int steer_target_key_cmp(const struct tlstap_target_key *a,
			 const struct tlstap_target_key *b)
{
	return memcmp(a, b, sizeof(*a));
}

void steer_target_init(struct steer_target *t, __u64 hash, __u32 weight)
{
	t->offset = (__u32)(hash >> 32) % TLSTAP_STEER_TABLE_SIZE;
	t->skip = (__u32)hash % (TLSTAP_STEER_TABLE_SIZE - 1) + 1;
	t->weight = weight;
}

/*
 * targets[] must be in steer_target_key_cmp() order so that every sender
 * builds the same table from the same set. next[] is n words of scratch.
 */
void steer_fill(__u16 table[TLSTAP_STEER_TABLE_SIZE],
		const struct steer_target *targets, __u32 *next,
		unsigned int n)
{
	unsigned int filled = 0, i, turn;

	for (i = 0; i < TLSTAP_STEER_TABLE_SIZE; i++)
		table[i] = STEER_NO_TARGET;
	if (!n)
		return;
	for (i = 0; i < n; i++)
		next[i] = targets[i].offset;

	for (;;) {
		for (i = 0; i < n; i++) {
			for (turn = 0; turn < targets[i].weight; turn++) {
				__u32 c = next[i];

				while (table[c] != STEER_NO_TARGET) {
					c += targets[i].skip;
					if (c >= TLSTAP_STEER_TABLE_SIZE)
						c -= TLSTAP_STEER_TABLE_SIZE;
				}
				table[c] = i;
				c += targets[i].skip;
				if (c >= TLSTAP_STEER_TABLE_SIZE)
					c -= TLSTAP_STEER_TABLE_SIZE;
				next[i] = c;
				if (++filled == TLSTAP_STEER_TABLE_SIZE)
					return;
			}
		}
	}
}
