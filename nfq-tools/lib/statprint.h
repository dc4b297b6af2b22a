/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Counters in the tools' one format, two renderings: with --stats-json
 * one JSON object on one line; without, "PROG: name=value ..." words.
 * A group (an object of the top level) is a line of its own in text,
 * "PROG: group: name=value ..."; any other object prefixes its members'
 * names, "object.name=value".
 */
#ifndef TLSTAP_NFQ_STATPRINT_H
#define TLSTAP_NFQ_STATPRINT_H

#include <stdio.h>

#define STATPRINT_PREFIX_MAX	128

struct statprint {
	FILE *out;		/* where statprint_end() writes it all */
	FILE *f;		/* a memory stream until then (or out) */
	char *buf;
	size_t len;
	const char *prog;
	int json;
	int depth;		/* groups and objects open */
	int first;		/* JSON: nothing in the current object yet */
	int line_open;		/* text: a line is started */
	int line_is_group;	/* ... and it is a group's */
	char prefix[STATPRINT_PREFIX_MAX];	/* text: below a group */
};

void statprint_begin(struct statprint *sp, FILE *f, const char *prog,
		     int json);
/* Groups only at the top level; statprint_close() ends either. */
void statprint_group(struct statprint *sp, const char *name);
void statprint_open(struct statprint *sp, const char *name);
void statprint_close(struct statprint *sp);
void statprint_u64(struct statprint *sp, const char *name,
		   unsigned long long v);
/*
 * Ends the line (and the object) and writes the whole print to the stream
 * at once, so that a reader of an unbuffered stderr never sees half of it.
 * The stream is not flushed.
 */
void statprint_end(struct statprint *sp);

#endif
