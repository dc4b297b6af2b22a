// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Output files (outfile.c): locking, truncation, writes that fail. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "outfile.h"
#include "unit.h"

/*
 * Output files: created and removed again when the start fails, locked,
 * truncated only when started with --truncate; units whole or not at all
 * when writes fail (EFBIG under RLIMIT_FSIZE, as ENOSPC), counted; the
 * next flush writes again.
 */
static void test_outfile(void)
{
	const char *path = unit_tmpfile("out");
	struct outfile o, o2;
	struct rlimit old, lim;
	struct stat sb;
	char err[256], line[100];
	int fd;

	unlink(path);
	CHECK(!outfile_open(&o, "unit", path, 0, err, sizeof(err)), "%s", err);
	outfile_abandon(&o);
	CHECK(access(path, F_OK) && errno == ENOENT, "abandoned, still there");

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, "kept\n", 5) == 5, "write");
	close(fd);
	CHECK(!outfile_open(&o, "unit", path, 1, err, sizeof(err)), "%s", err);
	CHECK(outfile_open(&o2, "unit", path, 0, err, sizeof(err)) &&
	      strstr(err, "another process is writing it"), "'%s'", err);
	outfile_abandon(&o);
	CHECK(!stat(path, &sb) && sb.st_size == 5,
	      "an existing file abandoned: %lld bytes", (long long)sb.st_size);
	CHECK(!outfile_open(&o, "unit", path, 1, err, sizeof(err)) &&
	      !stat(path, &sb) && sb.st_size == 5, "truncated when opened");
	CHECK(!outfile_start(&o, err, sizeof(err)) && !stat(path, &sb) &&
	      !sb.st_size, "--truncate: %lld bytes", (long long)sb.st_size);

	/* 100-byte units against a 1050-byte limit: 10 whole ones. */
	memset(line, 'x', sizeof(line));
	line[99] = '\n';
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 1050;
	signal(SIGXFSZ, SIG_IGN);
	CHECK(!setrlimit(RLIMIT_FSIZE, &lim), "setrlimit");
	for (int i = 0; i < 14; i++) {
		fwrite(line, 1, sizeof(line), o.f);
		CHECK(!outfile_end_unit(&o, i % 2 ? OUTFILE_LOST
					  : OUTFILE_RECORD, err, sizeof(err)),
		      "%s", err);
	}
	CHECK(!outfile_flush(&o, err, sizeof(err)) && !stat(path, &sb) &&
	      sb.st_size == 1000 &&
	      o.st.unwritten[OUTFILE_RECORD] + o.st.unwritten[OUTFILE_LOST] ==
		      4 && o.st.write_errors == 1,
	      "over the limit: %lld bytes, %llu + %llu unwritten",
	      (long long)sb.st_size, o.st.unwritten[OUTFILE_RECORD],
	      o.st.unwritten[OUTFILE_LOST]);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	fwrite(line, 1, sizeof(line), o.f);
	outfile_end_unit(&o, OUTFILE_RECORD, err, sizeof(err));
	CHECK(!outfile_close(&o, err, sizeof(err)) && !stat(path, &sb) &&
	      sb.st_size == 1100, "written again: %lld bytes",
	      (long long)sb.st_size);
}

UNIT_TESTS(UNIT_TEST(test_outfile))
