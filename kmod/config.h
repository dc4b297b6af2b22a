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

struct tlstap;

enum tlstap_knob {
	TLSTAP_KNOB_TOS,
	TLSTAP_KNOB_MAX_RECORD,
	TLSTAP_KNOB_FLUSH_US,
	TLSTAP_KNOB_RING_KB,
	TLSTAP_KNOB_HEARTBEAT_MS,
	TLSTAP_KNOB_RETRANSMIT_PPS,
	TLSTAP_KNOB_COUNT
};

struct tlstap_knob_info {
	const char *name;		/* its sysfs file */
	u16 attr;			/* its TLSTAP_A_* */
	u8 nla_type;			/* NLA_U8 or NLA_U32 */
	size_t offset;			/* of its u32 in struct tlstap */
	/* Valid values, inclusive; the netlink policy checks the same. */
	struct netlink_range_validation range;
};

/* Not const only because 6.1's nla_policy points at a non-const range. */
extern struct tlstap_knob_info tlstap_knobs[TLSTAP_KNOB_COUNT];

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

#endif /* _TLSTAP_CONFIG_H */
