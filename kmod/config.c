// SPDX-License-Identifier: GPL-2.0
/*
 * The one place knobs and the hash key change. sysfs and the netlink
 * family both come here, so they share the limits, the locking and the
 * announcement of every change to the netlink event group.
 */
#include <linux/bitops.h>
#include <linux/stddef.h>
#include <linux/string.h>

#include "tlstap.h"
#include "config.h"
#include "flowtable.h"
#include "netlink.h"

#define KNOB(knob, field, nl_attr, type, lo, hi)		\
	[knob] = {						\
		.name = #field,					\
		.attr = nl_attr,				\
		.nla_type = type,				\
		.offset = offsetof(struct tlstap, field),	\
		.range = { .min = lo, .max = hi },		\
	}

struct tlstap_knob_info tlstap_knobs[TLSTAP_KNOB_COUNT] __ro_after_init = {
	KNOB(TLSTAP_KNOB_TOS, tos, TLSTAP_A_TOS, NLA_U8,
	     TLSTAP_TOS_MIN, TLSTAP_TOS_MAX),
	KNOB(TLSTAP_KNOB_MAX_RECORD, max_record, TLSTAP_A_MAX_RECORD, NLA_U32,
	     TLSTAP_MAX_RECORD_MIN, TLSTAP_MAX_RECORD_MAX),
	KNOB(TLSTAP_KNOB_FLUSH_US, flush_us, TLSTAP_A_FLUSH_US, NLA_U32,
	     TLSTAP_FLUSH_US_MIN, TLSTAP_FLUSH_US_MAX),
	KNOB(TLSTAP_KNOB_RING_KB, ring_kb, TLSTAP_A_RING_KB, NLA_U32,
	     TLSTAP_RING_KB_MIN, TLSTAP_RING_KB_MAX),
	KNOB(TLSTAP_KNOB_HEARTBEAT_MS, heartbeat_ms, TLSTAP_A_HEARTBEAT_MS,
	     NLA_U32, TLSTAP_HEARTBEAT_MS_MIN, TLSTAP_HEARTBEAT_MS_MAX),
	KNOB(TLSTAP_KNOB_RETRANSMIT_PPS, retransmit_pps,
	     TLSTAP_A_RETRANSMIT_PPS, NLA_U32,
	     TLSTAP_RETRANSMIT_PPS_MIN, TLSTAP_RETRANSMIT_PPS_MAX),
};

static u32 *knob_ptr(struct tlstap *tt, enum tlstap_knob knob)
{
	return (u32 *)((u8 *)tt + tlstap_knobs[knob].offset);
}

u32 tlstap_knob_get(struct tlstap *tt, enum tlstap_knob knob)
{
	return READ_ONCE(*knob_ptr(tt, knob));
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
		if (change->val[k] < tlstap_knobs[k].range.min ||
		    change->val[k] > tlstap_knobs[k].range.max)
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
