/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The userspace unit tests' scaffolding, run by lib/tests/unit.c: CHECK()
 * counts a check and prints a failed one, where and what; UNIT_TESTS()
 * lists a file's tests. Every test starts the pseudo-random sequence of
 * rnd() afresh, so that what it draws does not depend on the tests that
 * ran before it, and a failure reproduces.
 */
#ifndef TLSTAP_UNIT_H
#define TLSTAP_UNIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern unsigned int unit_passed, unit_failed;

#define CHECK(cond, ...)						\
	do {								\
		if (cond) {						\
			unit_passed++;					\
		} else {						\
			unit_failed++;					\
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,	\
				__LINE__, #cond);			\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
		}							\
	} while (0)

struct unit_test {
	const char *name;
	void (*run)(void);
};

/* A file's tests, in the order they run; the files in link order. */
struct unit_suite {
	const struct unit_test *tests;
	size_t count;
	struct unit_suite *next;
};

void unit_register(struct unit_suite *suite);

#define UNIT_TEST(fn)	{ #fn, fn }

/* UNIT_TESTS(UNIT_TEST(test_a), UNIT_TEST(test_b)): once per file. */
#define UNIT_TESTS(...)							\
	static const struct unit_test unit_tests[] = { __VA_ARGS__ };	\
	static struct unit_suite unit_suite = {				\
		unit_tests, sizeof(unit_tests) / sizeof(unit_tests[0]),	\
		NULL							\
	};								\
	__attribute__((constructor)) static void unit_suite_add(void)	\
	{								\
		unit_register(&unit_suite);				\
	}

/* A deterministic generator, started afresh for every test. */
uint32_t rnd(void);

/*
 * The path of NAME in a directory of the test's own, made on first use
 * and removed, with what it holds, when the test ends.
 */
const char *unit_tmpfile(const char *name);

/* A clock reading for code that is told the time: any time but 0. */
#define T0	1000000000ull
#define MS	1000000ull

#endif /* TLSTAP_UNIT_H */
