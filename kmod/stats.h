/* SPDX-License-Identifier: GPL-2.0 */
/* Global counters, per CPU, summed when read. */
#ifndef _TLSTAP_STATS_H
#define _TLSTAP_STATS_H

#include <linux/percpu.h>
#include <linux/types.h>

#include "names.h"


struct tlstap_stats {
	u64 v[TLSTAP_STAT_COUNT];
};

struct tlstap;

/* The sums over all CPUs, for sysfs and netlink alike. */
void tlstap_stats_read(struct tlstap *tt, u64 sum[TLSTAP_STAT_COUNT]);

#define tlstap_stat_add(tt, which, n) \
	this_cpu_add((tt)->stats->v[which], (n))
#define tlstap_stat_inc(tt, which) tlstap_stat_add(tt, which, 1)

#endif /* _TLSTAP_STATS_H */
