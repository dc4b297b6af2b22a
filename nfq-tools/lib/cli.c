// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>

#include "cli.h"

void cli_verror(const char *prog, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(prog, fmt, ap);
	va_end(ap);
}

void cli_die(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(prog, fmt, ap);
	va_end(ap);
	exit(1);
}

unsigned long cli_ulong(const char *prog, const char *opt, const char *s,
			unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		cli_die(prog, "%s: '%s' is not a number in %lu..%lu", opt, s,
			min, max);
	return v;
}

void cli_usage_exit(void (*usage)(FILE *f), int c)
{
	if (c == 'h') {
		usage(stdout);
		exit(0);
	}
	usage(stderr);
	exit(1);
}

void cli_no_operands(const char *prog, int argc, char **argv)
{
	if (optind != argc)
		cli_die(prog, "unexpected argument '%s' (see --help)",
			argv[optind]);
}

int cli_signalfd(bool hup)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	if (hup)
		sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL))
		return -1;
	return signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
}
