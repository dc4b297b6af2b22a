// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>

#include "cli.h"

#ifndef TLSTAP_VERSION
#error "TLSTAP_VERSION must be given (Makefile: the VERSION file)"
#endif

void cli_init(struct cli *cli, const char *prog, void (*usage)(FILE *f),
	      const struct option *longopts)
{
	size_t n = 0;

	cli->prog = prog;
	cli->usage = usage;
	cli->longopts = longopts;
	/* ':' first: a missing argument is told from an unknown option. */
	cli->shortopts[n++] = ':';
	for (const struct option *o = longopts; o->name; o++) {
		if (o->flag || o->val <= 0 || o->val > 127 || !isalnum(o->val))
			continue;
		/* The letter, two colons at most, the NUL. */
		if (n + 4 > sizeof(cli->shortopts))
			abort();
		cli->shortopts[n++] = (char)o->val;
		if (o->has_arg != no_argument)
			cli->shortopts[n++] = ':';
		if (o->has_arg == optional_argument)
			cli->shortopts[n++] = ':';
	}
	cli->shortopts[n] = '\0';
}

/*
 * What getopt_long refused (optopt and the argument it was at), said as
 * one line: getopt's own messages are off, as they come without the hint.
 */
__attribute__((noreturn))
static void bad_option(const struct cli *cli, char **argv)
{
	const char *arg = argv[optind - 1], *eq;
	const struct option *match = NULL;
	char also[256] = "";
	size_t len, used = 0;
	int matches = 0;

	if (optopt > 0 && optopt < 128 &&
	    !(isalnum(optopt) && strchr(cli->shortopts + 1, optopt)))
		cli_usage_error(cli->prog, "unknown option '-%c'", optopt);
	/* A long option: unknown, ambiguous, or given an argument. */
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	for (const struct option *o = cli->longopts; o->name && len > 2; o++) {
		if (strncmp(o->name, arg + 2, len - 2))
			continue;
		if (strlen(o->name) == len - 2) {
			match = o;
			matches = 1;
			break;
		}
		match = o;
		matches++;
		if (used < sizeof(also))
			used += (size_t)snprintf(also + used, sizeof(also) - used,
						 "%s--%s", used ? ", " : "",
						 o->name);
	}
	if (matches > 1)
		cli_usage_error(cli->prog, "option '%.*s' is ambiguous: %s",
				(int)len, arg, also);
	if (matches == 1 && eq && match->has_arg == no_argument)
		cli_usage_error(cli->prog, "option '--%s' takes no argument",
				match->name);
	cli_usage_error(cli->prog, "unknown option '%.*s'", (int)len, arg);
}

int cli_getopt(struct cli *cli, int argc, char **argv)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, cli->shortopts, cli->longopts, NULL);
	switch (c) {
	case 'h':
		cli->usage(stdout);
		exit(fflush(stdout) ? 1 : 0);
	case CLI_OPT_VERSION:
		cli_version(cli->prog);
	case ':':
		cli_usage_error(cli->prog, "option '%s' needs an argument",
				argv[optind - 1]);
	case '?':
		bad_option(cli, argv);
	default:
		return c;
	}
}

void cli_version(const char *prog)
{
	printf("%s %s\n", prog, TLSTAP_VERSION);
	exit(fflush(stdout) ? 1 : 0);
}

void cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(1);
}

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
		cli_usage_error(prog, "%s: '%s' is not a number in %lu..%lu",
				opt, s, min, max);
	return v;
}

void cli_no_operands(const char *prog, int argc, char **argv)
{
	if (optind != argc)
		cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
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
