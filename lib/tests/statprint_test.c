// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The counters' two renderings: aligned text and one JSON line. */
#include <stdlib.h>
#include <string.h>

#include "statprint.h"
#include "unit.h"

/*
 * Both renderings of one set of counters: top level, object, group, an
 * array of objects, a string and a flag.
 */
static void print_counters(FILE *f, int json)
{
	struct statprint sp;

	statprint_begin(&sp, f, "prog", json);
	statprint_u64(&sp, "a", 1);
	statprint_open(&sp, "by");
	statprint_u64(&sp, "x", 2);
	statprint_u64(&sp, "yy", 12345678);
	statprint_close(&sp);
	statprint_u64(&sp, "b", 4);
	statprint_group(&sp, "g");
	statprint_u64(&sp, "c", 5);
	statprint_open(&sp, "in");
	statprint_u64(&sp, "d", 6);
	statprint_close(&sp);
	statprint_u64(&sp, "e", 7);
	statprint_close(&sp);
	statprint_group(&sp, "h");
	statprint_close(&sp);
	statprint_array(&sp, "list");
	statprint_item(&sp, "one \"1\"");
	statprint_str(&sp, "name", "one \"1\"");
	statprint_bool(&sp, "on", 1);
	statprint_close(&sp);
	statprint_item(&sp, "two");
	statprint_bool(&sp, "on", 0);
	statprint_close(&sp);
	statprint_close(&sp);
	statprint_u64(&sp, "z", 18446744073709551615ull);
	statprint_end(&sp);
}

/* What print_counters() writes; NULL if the memory stream failed. */
static char *counters_text(int json)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	print_counters(f, json);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static void test_statprint(void)
{
	static const char *const want[2] = {
		"prog: counters\n"
		"  a                                             1\n"
		"  by:\n"
		"    x                                           2\n"
		"    yy                                   12345678\n"
		"  b                                             4\n"
		"  g:\n"
		"    c                                           5\n"
		"    in:\n"
		"      d                                         6\n"
		"    e                                           7\n"
		"  h:\n"
		"  list:\n"
		"    one \"1\":\n"
		"      name                                one \"1\"\n"
		"      on                                      yes\n"
		"    two:\n"
		"      on                                       no\n"
		"  z                                18446744073709551615\n",
		"{\"a\":1,\"by\":{\"x\":2,\"yy\":12345678},\"b\":4,\"g\":{\"c\":5,\"in\":{\"d\":6},\"e\":7},\"h\":{},\"list\":[{\"name\":\"one \\\"1\\\"\",\"on\":true},{\"on\":false}],\"z\":18446744073709551615}\n",
	};

	for (int json = 0; json < 2; json++) {
		char *text = counters_text(json);

		CHECK(text && !strcmp(text, want[json]), "counters:\n%s",
		      text ? text : "(none)");
		free(text);
	}
}

UNIT_TESTS(UNIT_TEST(test_statprint))
