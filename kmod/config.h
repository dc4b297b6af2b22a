/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The knobs and the hash key: one set of setters behind both views,
 * sysfs and generic netlink, so that the two always agree.
 */
#ifndef _TLSTAP_CONFIG_H
#define _TLSTAP_CONFIG_H

#include <linux/types.h>
#include <net/netlink.h>
#include <linux/tlstap.h>

#include "names.h"

struct tlstap;


/*
 * The knobs' ranges (shared/names.c's), where the netlink policy can point
 * at them: not const only because 6.1's nla_policy points at a non-const
 * range. Filled in by tlstap_config_init().
 */
extern struct netlink_range_validation tlstap_knob_ranges[TLSTAP_KNOB_COUNT];

void tlstap_config_init(void);

/* Some knobs and maybe the hash key, applied together or not at all. */
struct tlstap_config_change {
	unsigned long knobs;		/* BIT(enum tlstap_knob) */
	u32 val[TLSTAP_KNOB_COUNT];
	bool hash_key_set;
	u8 hash_key[TLSTAP_HASH_KEY_LEN];
};

u32 tlstap_knob_get(struct tlstap *tt, enum tlstap_knob knob);
int tlstap_config_apply(struct tlstap *tt,
			const struct tlstap_config_change *change,
			enum tlstap_origin origin);
void tlstap_hash_key_get(struct tlstap *tt, u8 key[TLSTAP_HASH_KEY_LEN]);
void tlstap_set_hash_key(struct tlstap *tt, const u8 key[TLSTAP_HASH_KEY_LEN]);

#endif /* _TLSTAP_CONFIG_H */
