/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Rate-limited error lines on stderr: bad input can arrive at line rate,
 * and a flood of messages must not become the bottleneck.
 */
#ifndef TLSTAP_NFQ_RATELOG_H
#define TLSTAP_NFQ_RATELOG_H

#include <time.h>

struct ratelog {
	const char *prog;
	unsigned int burst;		/* lines per second */
	time_t window;			/* the second being counted */
	unsigned int printed;		/* lines in that second */
	unsigned long suppressed;	/* lines not printed since */
};

void ratelog_init(struct ratelog *rl, const char *prog, unsigned int burst);

__attribute__((format(printf, 2, 3)))
void ratelog(struct ratelog *rl, const char *fmt, ...);

#endif
