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

static enum tlstap_knob attr_knob(struct device_attribute *attr)
{
	return (uintptr_t)container_of(attr, struct dev_ext_attribute, attr)->var;
}

static ssize_t knob_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  tlstap_knob_get(dev_tt(dev), attr_knob(attr)));
}

/* Limits are checked by tlstap_config_apply(), as for netlink. */
static ssize_t knob_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t count)
{
	enum tlstap_knob knob = attr_knob(attr);
	struct tlstap_config_change change = { .knobs = BIT(knob) };
	int err;

	if (kstrtou32(buf, 0, &change.val[knob]))
		return -EINVAL;
	err = tlstap_config_apply(dev_tt(dev), &change, TLSTAP_ORIGIN_SYSFS);
	return err ?: count;
}

/* One file per knob, named by shared/names.c: tlstap_sysfs_init(). */
static struct dev_ext_attribute knob_attrs[TLSTAP_KNOB_COUNT] __ro_after_init;

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
				     tlstap_stat_names[i].name, sum[i]);
	return len;
}
static DEVICE_ATTR_RO(stats);

/* The knobs' files go after these three (tlstap_sysfs_init()). */
static struct attribute *tlstap_attrs[3 + TLSTAP_KNOB_COUNT + 1] __ro_after_init = {
	&dev_attr_targets.attr,
	&dev_attr_hash_key.attr,
	&dev_attr_stats.attr,
};

static const struct attribute_group tlstap_attr_group = {
	.attrs = tlstap_attrs,
};

const struct attribute_group *tlstap_attr_groups[] = {
	&tlstap_attr_group,
	NULL,
};

void __init tlstap_sysfs_init(void)
{
	unsigned int k;

	for (k = 0; k < TLSTAP_KNOB_COUNT; k++) {
		struct dev_ext_attribute *ea = &knob_attrs[k];

		sysfs_attr_init(&ea->attr.attr);
		ea->attr.attr.name = tlstap_knob_names[k].name;
		ea->attr.attr.mode = 0644;
		ea->attr.show = knob_show;
		ea->attr.store = knob_store;
		ea->var = (void *)(uintptr_t)k;
		tlstap_attrs[3 + k] = &ea->attr.attr;
	}
}
