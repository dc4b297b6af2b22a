// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-run [--strict] [-c CONF] [-i IF] -- CMD [ARGS...]
 * tlstap-run --check [-c CONF] [-i IF] [--user USER] [--] CMD [ARGS...]
 *
 * Runs CMD with libtlstap.so preloaded. -c sets TLSTAP_CONF (made absolute:
 * CMD may change directory), -i sets TLSTAP_IF, which overrides the
 * config's output, and TLSTAP_STDERR=1 lets the library report on stderr.
 * Before it runs CMD it looks at what the library will do there
 * (runcheck.c) and says what would leave CMD uncaptured; --strict then
 * does not run it. --check prints all of it instead, as USER if asked.
 * Exit status: CMD's, or 125 when tlstap-run itself fails (a usage error
 * too, or --strict refuses), 126 when CMD cannot run, 127 when CMD is not
 * found (as env(1)); --check: 0 when CMD would be captured, 1 when not.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runcheck.h"

#if !defined(TLSTAP_LIBDIR) || !defined(TLSTAP_SYSCONFDIR) || \
	!defined(TLSTAP_VERSION)
#error "TLSTAP_LIBDIR, TLSTAP_SYSCONFDIR and TLSTAP_VERSION must be given (Makefile)"
#endif

#define PROG "tlstap-run"
#define LIBNAME "libtlstap.so"
#define MAX_IF 107	/* sockaddr_un.sun_path, as the library checks */
#define EXIT_OWN 125	/* tlstap-run itself failed */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tlstap-run [--strict] [-c CONF] [-i IF] -- CMD [ARGS...]\n"
		"       tlstap-run --check [-c CONF] [-i IF] [--user USER] [--] CMD\n"
		"  -c CONF      config file (default: $TLSTAP_CONF, else "
		TLSTAP_SYSCONFDIR "/tlstap.conf)\n"
		"  -i IF        output for the records, overriding the config's 'if':\n"
		"               /dev/tlstap, a Unix datagram or seqpacket socket, or a FIFO\n"
		"  --strict     do not run CMD when it would not be captured (exit 125)\n"
		"  --check      say what the config selects for CMD and whether its\n"
		"               output opens; exit 0 if CMD would be captured, else 1\n"
		"  --user USER  with --check: check as USER (root only; nginx: www-data)\n"
		"  -h, --help   this help\n"
		"  --version    tlstap-run and its version\n");
}

/* One line, "(try --help)", status 125: as env(1), its own failure. */
__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(EXIT_OWN);
}

static int try_lib(const char *dir, const char *rel, char out[PATH_MAX])
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s%s", dir, rel, LIBNAME) >=
	    (int)sizeof(path))
		return -1;
	if (!realpath(path, out) || access(out, R_OK))
		return -1;
	return 0;
}

/* Next to tlstap-run (build tree), ../lib/tlstap (installed), TLSTAP_LIBDIR. */
static int find_library(char out[PATH_MAX])
{
	char self[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		dirname(self);
		if (!try_lib(self, "", out) ||
		    !try_lib(self, "../lib/tlstap/", out))
			return 0;
	}
	return try_lib(TLSTAP_LIBDIR, "", out);
}

/* ld.so separates LD_PRELOAD entries with colons or blanks. */
static int listed(const char *list, const char *lib)
{
	size_t len = strlen(lib), n;

	while (*list) {
		n = strcspn(list, ": \t");
		if (n == len && !memcmp(list, lib, len))
			return 1;
		list += n;
		list += strspn(list, ": \t");
	}
	return 0;
}

static int preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *value;
	int rc;

	if (!old || !*old)
		return setenv("LD_PRELOAD", lib, 1);
	if (listed(old, lib))
		return 0;
	if (asprintf(&value, "%s:%s", lib, old) < 0)
		return -1;
	rc = setenv("LD_PRELOAD", value, 1);
	free(value);
	return rc;
}

static int set_conf(const char *conf)
{
	char abs[PATH_MAX];

	if (!realpath(conf, abs)) {
		fprintf(stderr, "tlstap-run: %s: %s\n", conf, strerror(errno));
		return -1;
	}
	if (setenv("TLSTAP_CONF", abs, 1)) {
		fprintf(stderr, "tlstap-run: setting TLSTAP_CONF: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int set_if(const char *iface)
{
	char abs[PATH_MAX];

	if (iface[0] == '/') {
		if (strlen(iface) >= sizeof(abs))
			goto too_long;
		strcpy(abs, iface);
	} else {
		/* The output may not exist yet: make it absolute by hand. */
		if (!getcwd(abs, sizeof(abs))) {
			fprintf(stderr, "tlstap-run: getcwd: %s\n", strerror(errno));
			return -1;
		}
		if (strlen(abs) + 1 + strlen(iface) >= sizeof(abs))
			goto too_long;
		strcat(abs, "/");
		strcat(abs, iface);
	}
	if (strlen(abs) > MAX_IF)
		goto too_long;
	if (setenv("TLSTAP_IF", abs, 1)) {
		fprintf(stderr, "tlstap-run: setting TLSTAP_IF: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
too_long:
	fprintf(stderr, "tlstap-run: -i %s: path longer than %d bytes\n",
		iface, MAX_IF);
	return -1;
}

/* --user: the check runs with USER's credentials, as USER's program would. */
static int become(const char *user)
{
	const struct passwd *pw;

	pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "tlstap-run: --user %s: no such user\n", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) ||
	    setuid(pw->pw_uid)) {
		fprintf(stderr, "tlstap-run: --user %s: %s (it needs root)\n",
			user, strerror(errno));
		return -1;
	}
	return 0;
}

/* --check: what the library will do in CMD, on stdout. */
static int check_only(const char *cmd, const char *user)
{
	char path[PATH_MAX];
	struct check c;
	int err, rc;

	if (user && become(user))
		return EXIT_OWN;
	err = check_find(cmd, path);
	if (err) {
		fprintf(stderr, "tlstap-run: %s: %s\n", cmd, strerror(err));
		return err == ENOENT ? 127 : 126;
	}
	if (check_program(&c, path, true)) {
		fprintf(stderr, "tlstap-run: %s: %s\n", path, strerror(errno));
		return 126;
	}
	check_print(&c, stdout);
	rc = check_captured(&c) ? 0 : 1;
	check_free(&c);
	if (fflush(stdout)) {
		fprintf(stderr, "tlstap-run: writing the report: %s\n",
			strerror(errno));
		return EXIT_OWN;
	}
	return rc;
}

/*
 * Before a run: says what would leave CMD uncaptured; true when something
 * would. A CMD that cannot be found or looked at is left to execvp().
 */
static bool check_before_run(const char *cmd)
{
	char path[PATH_MAX];
	struct check c;
	bool problems = false;

	if (check_find(cmd, path) || check_program(&c, path, false))
		return false;
	problems = check_warn(&c, stderr) > 0;
	check_free(&c);
	return problems;
}

enum { OPT_CHECK = 256, OPT_STRICT, OPT_USER, OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "user", required_argument, NULL, OPT_USER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *iface = NULL, *user = NULL;
	bool check = false, strict = false;
	char lib[PATH_MAX];
	int opt;

	/* '+': the command's own options are the command's. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:c:i:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'i':
			iface = optarg;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) ? EXIT_OWN : 0;
		case OPT_VERSION:
			printf(PROG " %s\n", TLSTAP_VERSION);
			return fflush(stdout) ? EXIT_OWN : 0;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_STRICT:
			strict = true;
			break;
		case OPT_USER:
			user = optarg;
			break;
		case ':':
			usage_error("option '%s' needs an argument",
				    argv[optind - 1]);
		default:
			/* getopt names a letter, or a value given to a flag. */
			if (optopt == 'h' || optopt == OPT_VERSION ||
			    optopt == OPT_CHECK || optopt == OPT_STRICT)
				usage_error("option '%.*s' takes no argument",
					    (int)strcspn(argv[optind - 1], "="),
					    argv[optind - 1]);
			if (optopt)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		usage_error("no command given");
	if (user && !check)
		usage_error("--user is for --check");
	if (check && strict)
		usage_error("--check and --strict exclude each other");
	if ((conf && set_conf(conf)) || (iface && set_if(iface)))
		return EXIT_OWN;
	if (check)
		return check_only(argv[optind], user);
	if (find_library(lib)) {
		fprintf(stderr,
			"tlstap-run: %s not found next to tlstap-run nor in %s\n",
			LIBNAME, TLSTAP_LIBDIR);
		return EXIT_OWN;
	}
	if (preload(lib)) {
		fprintf(stderr, "tlstap-run: setting LD_PRELOAD: %s\n",
			strerror(errno));
		return EXIT_OWN;
	}
	/* The library may report on stderr: the user is watching. */
	if (setenv("TLSTAP_STDERR", "1", 1)) {
		fprintf(stderr, "tlstap-run: setting TLSTAP_STDERR: %s\n",
			strerror(errno));
		return EXIT_OWN;
	}
	if (check_before_run(argv[optind]) && strict) {
		fprintf(stderr, "tlstap-run: --strict: %s not run\n",
			argv[optind]);
		return EXIT_OWN;
	}
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "tlstap-run: %s: %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
