/* SPDX-License-Identifier: GPL-2.0 */
/* Knobs, targets and counters under /sys/class/misc/tlstap/. */
#ifndef _TLSTAP_SYSFS_H
#define _TLSTAP_SYSFS_H

#include <linux/sysfs.h>

extern const struct attribute_group *tlstap_attr_groups[];

#endif /* _TLSTAP_SYSFS_H */
