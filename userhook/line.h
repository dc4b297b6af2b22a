/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A line of text for a person, built without stdio, malloc or locale:
 * async-signal-safe, so that the library can say something from
 * wherever a record is dropped, a signal handler included. What does not
 * fit is cut; the line is always terminated.
 */
#ifndef TLSTAP_LINE_H
#define TLSTAP_LINE_H

#include <stddef.h>

#define LINE_SIZE 1024

struct line {
	size_t len;
	char buf[LINE_SIZE];	/* NUL-terminated */
};

static inline void line_init(struct line *l)
{
	l->len = 0;
	l->buf[0] = '\0';
}

void line_add(struct line *l, const char *s);
void line_add_uint(struct line *l, unsigned long long n);
/* The English text of an errno value (strerrordesc_np: no locale). */
void line_add_errno(struct line *l, int err);

#endif /* TLSTAP_LINE_H */
