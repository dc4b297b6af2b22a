/* SPDX-License-Identifier: GPL-2.0 */
/* Knobs, targets and counters under /sys/class/misc/tlstap/. */
#ifndef _TLSTAP_SYSFS_H
#define _TLSTAP_SYSFS_H

#include <linux/sysfs.h>

extern const struct attribute_group *tlstap_attr_groups[];

/* Before the device is registered. */
void tlstap_sysfs_init(void);

#endif /* _TLSTAP_SYSFS_H */
