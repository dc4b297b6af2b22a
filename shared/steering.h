/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Flow steering logic shared, as source, by tlstap.ko and tlstap-fwd, so
 * that both pick the same target for the same flow. Pure computation: no
 * allocation, no locking, no hashing (callers hash with SipHash-2-4).
 */
#ifndef _TLSTAP_STEERING_H
#define _TLSTAP_STEERING_H

#include <linux/types.h>
#include <linux/tlstap.h>

struct steer_target {
	__u32 offset;	/* first preferred bucket */
	__u32 skip;	/* stride through the buckets, never 0 */
	__u32 weight;	/* buckets claimed per round, 1..TLSTAP_MAX_WEIGHT */
};

#define STEER_NO_TARGET 0xffff

void steer_flow_key(struct tlstap_flow_key *key, __u8 family,
		    const __u8 saddr[16], __be16 sport,
		    const __u8 daddr[16], __be16 dport, __be64 conn_id);
void steer_target_key(struct tlstap_target_key *key, __u8 family,
		      const __u8 addr[16], __be16 port);
int steer_target_key_cmp(const struct tlstap_target_key *a,
			 const struct tlstap_target_key *b);
void steer_target_init(struct steer_target *t, __u64 hash, __u32 weight);
void steer_fill(__u16 table[TLSTAP_STEER_TABLE_SIZE],
		const struct steer_target *targets, __u32 *next,
		unsigned int n);

static inline __u32 steer_bucket(__u64 flow_hash)
{
	return (__u32)flow_hash % TLSTAP_STEER_TABLE_SIZE;
}

#endif /* _TLSTAP_STEERING_H */
