/* SPDX-License-Identifier: GPL-2.0 */
/* The published steering table: flow hash -> bucket -> target. */
#ifndef _TLSTAP_FLOWTABLE_H
#define _TLSTAP_FLOWTABLE_H

#include <linux/list.h>
#include <linux/siphash.h>
#include <linux/tlstap.h>

#include "recinfo.h"

struct tlstap;
struct tlstap_target;

struct tlstap_flowtable {
	siphash_key_t key;
	unsigned int ntargets;
	struct tlstap_target *targets[TLSTAP_MAX_TARGETS];
	u16 bucket[TLSTAP_STEER_TABLE_SIZE];
};

int tlstap_flowtable_rebuild(struct tlstap *tt, struct list_head *dying);
void tlstap_flowtable_free(struct tlstap *tt);
struct tlstap_target *tlstap_flowtable_lookup(struct tlstap *tt,
					      const struct tlstap_record_info *ri);
u64 tlstap_flow_hash(const siphash_key_t *key,
		     const struct tlstap_record_info *ri);

#endif /* _TLSTAP_FLOWTABLE_H */
