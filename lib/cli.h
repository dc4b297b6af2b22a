/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every tool's command line needs: --help, -h and --version, a
 * usage error in one line that ends "(try --help)", "PROG: message"
 * lines on stderr, fatal or not, and number arguments checked against
 * their range.
 */
#ifndef TLSTAP_NFQ_CLI_H
#define TLSTAP_NFQ_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* getopt_long's value for --version (-h is 'h'). */
#define CLI_OPT_VERSION	0x7f00

/* Every tool's table ends with these (and the zeros). */
#define CLI_LONGOPTS						\
	{ "help", no_argument, NULL, 'h' },			\
	{ "version", no_argument, NULL, CLI_OPT_VERSION }

struct cli {
	const char *prog;
	void (*usage)(FILE *f);		/* --help's text */
	const struct option *longopts;	/* with CLI_LONGOPTS */
	/* ':' and the one-letter values of longopts: their short forms. */
	char shortopts[32];
};

void cli_init(struct cli *cli, const char *prog, void (*usage)(FILE *f),
	      const struct option *longopts);

/*
 * getopt_long over cli's table: the next option's value (optarg set), -1
 * after the last. --help and -h (the usage on stdout) and --version
 * ("PROG VERSION" on stdout) end the process with status 0; an unknown
 * or ambiguous option, or one without its argument, is a usage error.
 */
int cli_getopt(struct cli *cli, int argc, char **argv);

/* "PROG VERSION" on stdout (VERSION from the tree's VERSION file), exit 0. */
__attribute__((noreturn))
void cli_version(const char *prog);

/* A command line not understood: "PROG: message (try --help)", status 1. */
__attribute__((format(printf, 2, 3), noreturn))
void cli_usage_error(const char *prog, const char *fmt, ...);

__attribute__((format(printf, 2, 0)))
void cli_verror(const char *prog, const char *fmt, va_list ap);

__attribute__((format(printf, 2, 3)))
void cli_error(const char *prog, const char *fmt, ...);

/* cli_error(), then exit status 1. */
__attribute__((format(printf, 2, 3), noreturn))
void cli_die(const char *prog, const char *fmt, ...);

/*
 * The argument s of option opt (for the message) as a number in
 * min..max, decimal, 0x-hex or 0-octal; anything else is a usage error
 * that states the range.
 */
unsigned long cli_ulong(const char *prog, const char *opt, const char *s,
			unsigned long min, unsigned long max);

/* After the options: a usage error if operands are left (the tools take none). */
void cli_no_operands(const char *prog, int argc, char **argv);

/*
 * The signals a tool acts on (SIGTERM, SIGINT, SIGUSR1 for its counters,
 * and SIGHUP with hup) blocked and read through a non-blocking signalfd,
 * which is returned; -1 with errno on failure.
 */
int cli_signalfd(bool hup);

#endif
