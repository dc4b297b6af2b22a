// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-run [-c CONF] [-i IF] -- CMD [ARGS...]
 *
 * Runs CMD with libtlstap.so preloaded. -c sets TLSTAP_CONF (made absolute:
 * CMD may change directory), -i sets TLSTAP_IF, which overrides the
 * config's output, and TLSTAP_STDERR=1 lets the library report on
 * stderr. Exit status: CMD's, or 125 when tlstap-run itself
 * fails, 126 when CMD cannot run, 127 when CMD is not found (as env(1)).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(TLSTAP_LIBDIR) || !defined(TLSTAP_SYSCONFDIR)
#error "TLSTAP_LIBDIR and TLSTAP_SYSCONFDIR must be given (Makefile)"
#endif

#define LIBNAME "libtlstap.so"
#define MAX_IF 107	/* sockaddr_un.sun_path, as the library checks */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tlstap-run [-c CONF] [-i IF] -- CMD [ARGS...]\n"
		"  -c CONF  config file (default: $TLSTAP_CONF, else "
		TLSTAP_SYSCONFDIR "/tlstap.conf)\n"
		"  -i IF    output for the records, overriding the config's 'if':\n"
		"           /dev/tlstap, a Unix datagram or seqpacket socket, or a FIFO\n");
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

int main(int argc, char **argv)
{
	const char *conf = NULL, *iface = NULL;
	char lib[PATH_MAX];
	int opt;

	while ((opt = getopt(argc, argv, "+c:i:h")) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'i':
			iface = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 125;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 125;
	}
	if (find_library(lib)) {
		fprintf(stderr,
			"tlstap-run: %s not found next to tlstap-run nor in %s\n",
			LIBNAME, TLSTAP_LIBDIR);
		return 125;
	}
	if ((conf && set_conf(conf)) || (iface && set_if(iface)))
		return 125;
	if (preload(lib)) {
		fprintf(stderr, "tlstap-run: setting LD_PRELOAD: %s\n",
			strerror(errno));
		return 125;
	}
	/* The library may report on stderr: the user is watching. */
	if (setenv("TLSTAP_STDERR", "1", 1)) {
		fprintf(stderr, "tlstap-run: setting TLSTAP_STDERR: %s\n",
			strerror(errno));
		return 125;
	}
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "tlstap-run: %s: %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
