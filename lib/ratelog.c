// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdarg.h>
#include <stdio.h>

#include "ratelog.h"

void ratelog_init(struct ratelog *rl, const char *prog, unsigned int burst)
{
	rl->prog = prog;
	rl->burst = burst;
	rl->window = 0;
	rl->printed = 0;
	rl->suppressed = 0;
}

void ratelog(struct ratelog *rl, const char *fmt, ...)
{
	struct timespec now;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != rl->window) {
		if (rl->suppressed)
			fprintf(stderr, "%s: %lu similar messages suppressed\n",
				rl->prog, rl->suppressed);
		rl->window = now.tv_sec;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->suppressed++;
		return;
	}
	rl->printed++;
	fprintf(stderr, "%s: ", rl->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
