/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What libtlstap.so will do in a program, found out before it runs, by
 * the library's own code: the config file it reads (TLSTAP_CONF, else
 * the built-in default), the section config_select() picks for the
 * binary, TLSTAP_IF, the output opened as output.c opens it and a
 * capture ring made as ring.c makes one, all with the credentials of
 * this process (tlstap-run's, or those of --user). tlstap-run warns with
 * it before it starts a program, and prints all of it for --check.
 */
#ifndef TLSTAP_RUNCHECK_H
#define TLSTAP_RUNCHECK_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"

enum check_config {
	CHECK_CONFIG_READ,
	CHECK_CONFIG_NONE,	/* the default file does not exist */
	CHECK_CONFIG_BROKEN,	/* unreadable, malformed, or a bad TLSTAP_IF */
};

struct check {
	char program[PATH_MAX];		/* as found in PATH */
	char binary[PATH_MAX];		/* what runs it: /proc/self/exe */
	bool script;			/* binary is its interpreter */
	const char *never;		/* why it is never captured, or NULL */
	char conf[PATH_MAX];
	enum check_config config;
	struct config_error err;	/* CHECK_CONFIG_BROKEN */
	char section[CONFIG_MAX_NAME + 1];	/* "" when global alone applies */
	unsigned int section_line;
	bool if_from_env;		/* TLSTAP_IF overrides the config */
	bool have_settings;
	struct settings settings;
	/* The output, when captured. */
	bool tried;
	int open_err;			/* 0: it opens (or, a FIFO: writable) */
	const char *kind;		/* what it is, when it opens */
	bool fifo;
	/* The capture ring, when asked for and the output opens. */
	bool ring_tried;
	int ring_err;			/* 0: one was made (and let go) */
	bool ring_impossible;		/* the output can have none */
};

/*
 * Finds name as execvp() would (PATH, when it has no slash): 0 and the
 * file in path, or an errno (ENOENT, EACCES).
 */
int check_find(const char *name, char path[PATH_MAX]);

/*
 * Looks at the program at path (check_find's). Opens the output to see
 * that it can be; with try_ring, makes a ring too. 0, or -1 with errno
 * when the program cannot be looked at. check_free() afterwards.
 */
int check_program(struct check *c, const char *path, bool try_ring);
void check_free(struct check *c);

/* Whether the program will be captured and its output opens. */
bool check_captured(const struct check *c);

/* --check's report: one "key: value" line each. */
void check_print(const struct check *c, FILE *f);

/*
 * Before a run: the problems, one line each on f, "tlstap-run: ...".
 * Returns how many (capture = no is none: the config says so).
 */
int check_warn(const struct check *c, FILE *f);

#endif /* TLSTAP_RUNCHECK_H */
