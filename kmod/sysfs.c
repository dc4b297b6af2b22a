// SPDX-License-Identifier: GPL-2.0
/*
 * The attributes hang off the misc device, so they appear together with
 * /dev/tlstap. Every store validates its whole input before it changes
 * anything: a bad write is -EINVAL and leaves the state as it was.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "tlstap.h"
#include "sysfs.h"
#include "target.h"
#include "config.h"

static struct tlstap *dev_tt(struct device *dev)
{
	return container_of(dev_get_drvdata(dev), struct tlstap, misc);
}

static ssize_t targets_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return tlstap_targets_show(dev_tt(dev), buf, PAGE_SIZE);
}

static ssize_t targets_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	struct tlstap_target_cmd cmd;
	int err;

	err = tlstap_parse_target_cmd(buf, count, &cmd);
	if (!err)
		err = tlstap_targets_apply(dev_tt(dev), &cmd,
					   TLSTAP_ORIGIN_SYSFS);
	return err ?: count;
}
static DEVICE_ATTR_RW(targets);

static ssize_t knob_show(struct device *dev, enum tlstap_knob knob, char *buf)
{
	return sysfs_emit(buf, "%u\n", tlstap_knob_get(dev_tt(dev), knob));
}

/* Limits are checked by tlstap_config_apply(), as for netlink. */
static ssize_t knob_store(struct device *dev, enum tlstap_knob knob,
			  const char *buf, size_t count)
{
	struct tlstap_config_change change = { .knobs = BIT(knob) };
	int err;

	if (kstrtou32(buf, 0, &change.val[knob]))
		return -EINVAL;
	err = tlstap_config_apply(dev_tt(dev), &change, TLSTAP_ORIGIN_SYSFS);
	return err ?: count;
}

#define TLSTAP_KNOB_ATTR(name, knob)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return knob_show(dev, knob, buf);				\
}									\
static ssize_t name##_store(struct device *dev,				\
			    struct device_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	return knob_store(dev, knob, buf, count);			\
}									\
static DEVICE_ATTR_RW(name)

TLSTAP_KNOB_ATTR(tos, TLSTAP_KNOB_TOS);
TLSTAP_KNOB_ATTR(max_record, TLSTAP_KNOB_MAX_RECORD);
TLSTAP_KNOB_ATTR(flush_us, TLSTAP_KNOB_FLUSH_US);
TLSTAP_KNOB_ATTR(ring_kb, TLSTAP_KNOB_RING_KB);
TLSTAP_KNOB_ATTR(heartbeat_ms, TLSTAP_KNOB_HEARTBEAT_MS);
TLSTAP_KNOB_ATTR(retransmit_pps, TLSTAP_KNOB_RETRANSMIT_PPS);

static ssize_t hash_key_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	u8 key[TLSTAP_HASH_KEY_LEN];
	ssize_t len;

	tlstap_hash_key_get(dev_tt(dev), key);
	len = sysfs_emit(buf, "%*phN\n", TLSTAP_HASH_KEY_LEN, key);
	memzero_explicit(key, sizeof(key));
	return len;
}

static ssize_t hash_key_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	struct tlstap_config_change change = { .hash_key_set = true };
	size_t len = count;
	int err;

	if (len && buf[len - 1] == '\n')
		len--;
	if (len != 2 * TLSTAP_HASH_KEY_LEN ||
	    hex2bin(change.hash_key, buf, TLSTAP_HASH_KEY_LEN))
		return -EINVAL;
	err = tlstap_config_apply(dev_tt(dev), &change, TLSTAP_ORIGIN_SYSFS);
	memzero_explicit(change.hash_key, sizeof(change.hash_key));
	return err ?: count;
}
static DEVICE_ATTR_ADMIN_RW(hash_key);

static ssize_t stats_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	u64 sum[TLSTAP_STAT_COUNT];
	int i, len = 0;

	tlstap_stats_read(dev_tt(dev), sum);
	for (i = 0; i < TLSTAP_STAT_COUNT; i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n",
				     tlstap_stat_names[i], sum[i]);
	return len;
}
static DEVICE_ATTR_RO(stats);

static struct attribute *tlstap_attrs[] = {
	&dev_attr_targets.attr,
	&dev_attr_tos.attr,
	&dev_attr_max_record.attr,
	&dev_attr_flush_us.attr,
	&dev_attr_ring_kb.attr,
	&dev_attr_heartbeat_ms.attr,
	&dev_attr_retransmit_pps.attr,
	&dev_attr_hash_key.attr,
	&dev_attr_stats.attr,
	NULL,
};

static const struct attribute_group tlstap_attr_group = {
	.attrs = tlstap_attrs,
};

const struct attribute_group *tlstap_attr_groups[] = {
	&tlstap_attr_group,
	NULL,
};
