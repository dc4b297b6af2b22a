// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The userspace unit tests' runner: every test of every file linked in
 * (UNIT_TESTS(), unit.h), a line each with its checks, and a last line
 * "N passed, N failed" over all checks; exit status 1 if any failed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

unsigned int unit_passed, unit_failed;

static struct unit_suite *suites, **suites_tail = &suites;

void unit_register(struct unit_suite *suite)
{
	*suites_tail = suite;
	suites_tail = &suite->next;
}

static uint64_t rng_state;

uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static char tmpdir[64];

const char *unit_tmpfile(const char *name)
{
	static char path[128];

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/tlstap-unit.XXXXXX");
		CHECK(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* The test's directory and every file in it (it makes no others). */
static void tmpdir_remove(void)
{
	struct dirent *e;
	DIR *d;

	if (!tmpdir[0])
		return;
	d = opendir(tmpdir);
	CHECK(d, "opendir %s: %s", tmpdir, strerror(errno));
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			CHECK(!unlinkat(dirfd(d), e->d_name, 0), "unlink %s/%s: %s",
			      tmpdir, e->d_name, strerror(errno));
	if (d)
		closedir(d);
	CHECK(!rmdir(tmpdir), "rmdir %s: %s", tmpdir, strerror(errno));
	tmpdir[0] = '\0';
}

int main(void)
{
	unsigned int tests = 0, tests_failed = 0;

	for (const struct unit_suite *s = suites; s; s = s->next) {
		for (size_t i = 0; i < s->count; i++) {
			unsigned int passed = unit_passed, failed = unit_failed;

			rng_state = 0x9e3779b97f4a7c15ull;
			s->tests[i].run();
			tmpdir_remove();
			passed = unit_passed - passed;
			failed = unit_failed - failed;
			if (failed)
				printf("FAIL %s: %u of %u checks failed\n",
				       s->tests[i].name, failed, passed + failed);
			else
				printf("ok   %s: %u checks\n", s->tests[i].name,
				       passed);
			/* In order with the failures on stderr. */
			fflush(stdout);
			tests++;
			tests_failed += !!failed;
		}
	}
	printf("%u tests (%u failed): %u passed, %u failed\n", tests,
	       tests_failed, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
