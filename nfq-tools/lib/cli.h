/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every tool's command line needs: "PROG: message" lines on stderr,
 * fatal or not, and number arguments checked against their range.
 */
#ifndef TLSTAP_NFQ_CLI_H
#define TLSTAP_NFQ_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

__attribute__((format(printf, 2, 0)))
void cli_verror(const char *prog, const char *fmt, va_list ap);

__attribute__((format(printf, 2, 3)))
void cli_error(const char *prog, const char *fmt, ...);

/* cli_error(), then exit status 1. */
__attribute__((format(printf, 2, 3), noreturn))
void cli_die(const char *prog, const char *fmt, ...);

/*
 * The argument s of option opt (for the message) as a number in
 * min..max, decimal, 0x-hex or 0-octal; anything else dies.
 */
unsigned long cli_ulong(const char *prog, const char *opt, const char *s,
			unsigned long min, unsigned long max);

/*
 * The end of an option parse: getopt_long's -h (help on stdout, exit 0)
 * or anything it did not know (help on stderr, exit status 1).
 */
__attribute__((noreturn))
void cli_usage_exit(void (*usage)(FILE *f), int c);

/* After getopt_long: dies if operands are left (the tools take none). */
void cli_no_operands(const char *prog, int argc, char **argv);

/*
 * The signals a tool acts on (SIGTERM, SIGINT, SIGUSR1 for its counters,
 * and SIGHUP with hup) blocked and read through a non-blocking signalfd,
 * which is returned; -1 with errno on failure.
 */
int cli_signalfd(bool hup);

#endif
