// SPDX-License-Identifier: GPL-2.0
/*
 * The one place knobs and the hash key change. sysfs and the netlink
 * family both come here, so they share the limits, the locking and the
 * announcement of every change to the netlink event group.
 */
#include <linux/bitops.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <asm/unaligned.h>

#include "tlstap.h"
#include "config.h"
#include "flowtable.h"
#include "netlink.h"

/* Where each knob lives in struct tlstap: all u32. */
static const size_t knob_offset[TLSTAP_KNOB_COUNT] = {
	[TLSTAP_KNOB_TOS] = offsetof(struct tlstap, tos),
	[TLSTAP_KNOB_MAX_RECORD] = offsetof(struct tlstap, max_record),
	[TLSTAP_KNOB_FLUSH_US] = offsetof(struct tlstap, flush_us),
	[TLSTAP_KNOB_RING_KB] = offsetof(struct tlstap, ring_kb),
	[TLSTAP_KNOB_HEARTBEAT_MS] = offsetof(struct tlstap, heartbeat_ms),
	[TLSTAP_KNOB_RETRANSMIT_PPS] = offsetof(struct tlstap, retransmit_pps),
};

struct netlink_range_validation tlstap_knob_ranges[TLSTAP_KNOB_COUNT] __ro_after_init;

void __init tlstap_config_init(void)
{
	unsigned int k;

	for (k = 0; k < TLSTAP_KNOB_COUNT; k++) {
		tlstap_knob_ranges[k].min = tlstap_knob_names[k].min;
		tlstap_knob_ranges[k].max = tlstap_knob_names[k].max;
	}
}

static u32 *knob_ptr(struct tlstap *tt, enum tlstap_knob knob)
{
	return (u32 *)((u8 *)tt + knob_offset[knob]);
}

u32 tlstap_knob_get(struct tlstap *tt, enum tlstap_knob knob)
{
	return READ_ONCE(*knob_ptr(tt, knob));
}

void tlstap_set_hash_key(struct tlstap *tt, const u8 key[TLSTAP_HASH_KEY_LEN])
{
	memcpy(tt->hash_key_bytes, key, TLSTAP_HASH_KEY_LEN);
	/* The reference SipHash key layout, as tlstap-fwd reads it too. */
	tt->hash_key.key[0] = get_unaligned_le64(key);
	tt->hash_key.key[1] = get_unaligned_le64(key + 8);
}

void tlstap_hash_key_get(struct tlstap *tt, u8 key[TLSTAP_HASH_KEY_LEN])
{
	mutex_lock(&tt->config_lock);
	memcpy(key, tt->hash_key_bytes, TLSTAP_HASH_KEY_LEN);
	mutex_unlock(&tt->config_lock);
}

/*
 * Everything is checked before anything changes: -EINVAL (a value out of
 * range) or -ENOMEM (no memory for the new steering table) leaves the
 * configuration as it was, and announces nothing.
 */
int tlstap_config_apply(struct tlstap *tt,
			const struct tlstap_config_change *change,
			enum tlstap_origin origin)
{
	u8 old[TLSTAP_HASH_KEY_LEN];
	unsigned int k;
	LIST_HEAD(none);
	int err = 0;

	for_each_set_bit(k, &change->knobs, TLSTAP_KNOB_COUNT)
		if (change->val[k] < tlstap_knob_names[k].min ||
		    change->val[k] > tlstap_knob_names[k].max)
			return -EINVAL;

	mutex_lock(&tt->config_lock);
	if (change->hash_key_set) {
		memcpy(old, tt->hash_key_bytes, sizeof(old));
		tlstap_set_hash_key(tt, change->hash_key);
		err = tlstap_flowtable_rebuild(tt, &none);
		if (err) {
			tlstap_set_hash_key(tt, old);
			goto out;
		}
	}
	for_each_set_bit(k, &change->knobs, TLSTAP_KNOB_COUNT)
		WRITE_ONCE(*knob_ptr(tt, k), change->val[k]);
	/* Under the lock: listeners see changes in the order they were made. */
	tlstap_netlink_notify_config(change, origin);
out:
	mutex_unlock(&tt->config_lock);
	memzero_explicit(old, sizeof(old));
	return err;
}
