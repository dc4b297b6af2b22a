/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Counters in the tools' one format, two renderings. With --stats-json
 * one JSON object on one line. Without, a line "PROG: counters", then
 * one "name value" line per counter, indented by two spaces per level,
 * names padded and values right-aligned so that the values form a
 * column; a group, object, array or array item is a line "name:" of its
 * own, its members indented below it.
 */
#ifndef TLSTAP_NFQ_STATPRINT_H
#define TLSTAP_NFQ_STATPRINT_H

#include <stdio.h>

#define STATPRINT_DEPTH_MAX	8

struct statprint {
	FILE *out;		/* where statprint_end() writes it all */
	FILE *f;		/* a memory stream until then (or out) */
	char *buf;
	size_t len;
	int json;
	int depth;		/* groups, objects, arrays open */
	int first;		/* JSON: nothing in the current one yet */
	char open[STATPRINT_DEPTH_MAX];	/* JSON: '}' or ']' to close each */
};

void statprint_begin(struct statprint *sp, FILE *f, const char *prog,
		     int json);
/* A group of counters (an object of the top level). */
void statprint_group(struct statprint *sp, const char *name);
/* An object within a group or an object. */
void statprint_open(struct statprint *sp, const char *name);
/* An array of objects, each begun by statprint_item(). */
void statprint_array(struct statprint *sp, const char *name);
/* An object in the array: label names it in text (JSON has none). */
void statprint_item(struct statprint *sp, const char *label);
/* Ends the innermost group, object, array or item. */
void statprint_close(struct statprint *sp);
void statprint_u64(struct statprint *sp, const char *name,
		   unsigned long long v);
void statprint_str(struct statprint *sp, const char *name, const char *s);
/* JSON true or false; text yes or no. */
void statprint_bool(struct statprint *sp, const char *name, int v);
/*
 * Ends the print and writes it to the stream at once, so that a reader
 * of an unbuffered stderr never sees half of it. The stream is not
 * flushed.
 */
void statprint_end(struct statprint *sp);

#endif
