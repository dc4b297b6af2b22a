// SPDX-License-Identifier: GPL-2.0
/* The global counters, summed over the CPUs for sysfs and netlink. */
#include <linux/percpu.h>
#include <linux/string.h>

#include "tlstap.h"
#include "stats.h"

void tlstap_stats_read(struct tlstap *tt, u64 sum[TLSTAP_STAT_COUNT])
{
	int cpu, i;

	memset(sum, 0, TLSTAP_STAT_COUNT * sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct tlstap_stats *s = per_cpu_ptr(tt->stats, cpu);

		for (i = 0; i < TLSTAP_STAT_COUNT; i++)
			sum[i] += READ_ONCE(s->v[i]);
	}
}
