// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "line.h"

#include <string.h>

void line_add(struct line *l, const char *s)
{
	while (*s && l->len < LINE_SIZE - 1)
		l->buf[l->len++] = *s++;
	l->buf[l->len] = '\0';
}

void line_add_uint(struct line *l, unsigned long long n)
{
	char digits[24];
	size_t i = sizeof(digits);

	digits[--i] = '\0';
	do
		digits[--i] = (char)('0' + n % 10);
	while ((n /= 10) && i);
	line_add(l, digits + i);
}

void line_add_errno(struct line *l, int err)
{
	/* glibc documents it AS-Safe, unlike strerror(). */
	const char *s = strerrordesc_np(err);

	if (s) {
		line_add(l, s);
	} else {
		line_add(l, "error ");
		line_add_uint(l, (unsigned int)err);
	}
}
