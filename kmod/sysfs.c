// SPDX-License-Identifier: GPL-2.0
/*
 * The attributes hang off the misc device, so they appear together with
 * /dev/tlstap. Every store validates its whole input before it changes
 * anything: a bad write is -EINVAL and leaves the state as it was.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/sizes.h>

#include "tlstap.h"
#include "sysfs.h"
#include "target.h"
#include "flowtable.h"

#define TLSTAP_MAX_RECORD_LIMIT	SZ_16M
#define TLSTAP_MAX_FLUSH_US	1000000U
#define TLSTAP_MIN_RING_KB	64U
#define TLSTAP_MAX_RING_KB	SZ_1M

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
		err = tlstap_targets_apply(dev_tt(dev), &cmd);
	return err ?: count;
}
static DEVICE_ATTR_RW(targets);

static int store_u32(const char *buf, u32 min, u32 max, u32 *val)
{
	u32 v;

	if (kstrtou32(buf, 0, &v) || v < min || v > max)
		return -EINVAL;
	WRITE_ONCE(*val, v);
	return 0;
}

static ssize_t tos_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(dev_tt(dev)->tos));
}

static ssize_t tos_store(struct device *dev, struct device_attribute *attr,
			 const char *buf, size_t count)
{
	u8 v;

	/* Receivers and nfqueue rules tell our datagrams by a TOS >= 1. */
	if (kstrtou8(buf, 0, &v) || !v)
		return -EINVAL;
	WRITE_ONCE(dev_tt(dev)->tos, v);
	return count;
}
static DEVICE_ATTR_RW(tos);

#define TLSTAP_U32_ATTR(name, min, max)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", READ_ONCE(dev_tt(dev)->name));	\
}									\
static ssize_t name##_store(struct device *dev,				\
			    struct device_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	return store_u32(buf, min, max, &dev_tt(dev)->name) ?: count;	\
}									\
static DEVICE_ATTR_RW(name)

TLSTAP_U32_ATTR(max_record, 1, TLSTAP_MAX_RECORD_LIMIT);
TLSTAP_U32_ATTR(flush_us, 1, TLSTAP_MAX_FLUSH_US);
TLSTAP_U32_ATTR(ring_kb, TLSTAP_MIN_RING_KB, TLSTAP_MAX_RING_KB);
TLSTAP_U32_ATTR(heartbeat_ms, 1, 60000);
TLSTAP_U32_ATTR(retransmit_pps, 1, 10000000);

static ssize_t hash_key_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct tlstap *tt = dev_tt(dev);
	ssize_t len;

	mutex_lock(&tt->config_lock);
	len = sysfs_emit(buf, "%*phN\n", TLSTAP_HASH_KEY_LEN,
			 tt->hash_key_bytes);
	mutex_unlock(&tt->config_lock);
	return len;
}

static ssize_t hash_key_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	struct tlstap *tt = dev_tt(dev);
	u8 key[TLSTAP_HASH_KEY_LEN], old[TLSTAP_HASH_KEY_LEN];
	size_t len = count;
	LIST_HEAD(none);
	int err;

	if (len && buf[len - 1] == '\n')
		len--;
	if (len != 2 * TLSTAP_HASH_KEY_LEN || hex2bin(key, buf, sizeof(key)))
		return -EINVAL;

	mutex_lock(&tt->config_lock);
	memcpy(old, tt->hash_key_bytes, sizeof(old));
	tlstap_set_hash_key(tt, key);
	err = tlstap_flowtable_rebuild(tt, &none);
	if (err)
		tlstap_set_hash_key(tt, old);
	mutex_unlock(&tt->config_lock);
	return err ?: count;
}
static DEVICE_ATTR_ADMIN_RW(hash_key);

static ssize_t stats_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct tlstap *tt = dev_tt(dev);
	u64 sum[TLSTAP_STAT_COUNT] = { 0 };
	int cpu, i, len = 0;

	for_each_possible_cpu(cpu) {
		const struct tlstap_stats *s = per_cpu_ptr(tt->stats, cpu);

		for (i = 0; i < TLSTAP_STAT_COUNT; i++)
			sum[i] += READ_ONCE(s->v[i]);
	}
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
