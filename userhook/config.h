/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The capture config file, in the paper's format:
 *
 *	global:
 *	  if = /dev/tlstap
 *	wget:
 *	  path = /usr/bin/wget
 *	  if = /run/tlstap/wget.sock
 *	  exclude = .*\.bank\.co\.jp
 *
 * config_parse() is a pure function of the text (no file system access)
 * so that it can be fuzzed; config_select() picks the settings for one
 * program.
 */
#ifndef TLSTAP_CONFIG_H
#define TLSTAP_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/* TLSTAP_SYSCONFDIR: the Makefile's SYSCONFDIR, given where this is used. */
#define CONFIG_DEFAULT_PATH	TLSTAP_SYSCONFDIR "/tlstap.conf"
#define CONFIG_DEFAULT_IF	"/dev/tlstap"
#define CONFIG_MAX_SIZE		(1024 * 1024)
#define CONFIG_MAX_NAME		63
/* An output that is a Unix socket must fit in sockaddr_un.sun_path. */
#define CONFIG_MAX_IF		107
/*
 * Bound on config.regex_cost: glibc's regcomp() needs memory roughly
 * proportional to the square of a pattern's expanded size (about 9 MB
 * for x{0,1000}), and every hooked program compiles them all at start.
 */
#define CONFIG_MAX_REGEX_COST	4000000ull
/* Capture ring per thread (ring_kb): a power of two in this range, in KiB. */
#define CONFIG_RING_KB_DEFAULT	1024
#define CONFIG_RING_KB_MIN	64
#define CONFIG_RING_KB_MAX	16384

enum on_full {
	ON_FULL_DROP,
	ON_FULL_BLOCK,
};

struct config_section {
	char name[CONFIG_MAX_NAME + 1];
	unsigned int line;		/* of the "name:" line */
	char *path;			/* NULL in global */
	/* line of each key's setting, 0 when the section does not set it */
	unsigned int if_line, capture_line, on_full_line, ring_line,
		ring_kb_line;
	char if_path[CONFIG_MAX_IF + 1];
	bool capture;
	enum on_full on_full;
	bool ring;
	unsigned int ring_kb;
	regex_t *excludes;		/* any match excludes a connection */
	char **exclude_texts;		/* as written, for tlstap-run --check */
	size_t n_excludes;
};

struct config {
	struct config_section *sections;
	size_t n_sections;
	/* Sum of the squares of the exclude patterns' expanded sizes. */
	unsigned long long regex_cost;
};

struct config_error {
	unsigned int line;		/* 0: the problem is the whole file */
	char msg[200];
};

/* What one program does: global, overridden key by key by its section. */
struct settings {
	bool capture;
	enum on_full on_full;
	bool ring;			/* a capture ring per thread, if the output has them */
	unsigned int ring_kb;		/* its data area */
	char if_path[CONFIG_MAX_IF + 1];
	regex_t *excludes;
	char **exclude_texts;
	size_t n_excludes;
};

/* 0 and *cfg filled, or -1 and *err filled (and *cfg empty). */
int config_parse(const char *text, size_t len, struct config *cfg,
		 struct config_error *err);
void config_free(struct config *cfg);

/*
 * Settings for the program whose binary is exe (a resolved path, or NULL
 * when unknown): the first section whose path, as written or resolved,
 * equals exe overrides global. The chosen exclude patterns move into *out;
 * free them with settings_free(). Returns that section, or NULL when
 * global alone applies.
 */
const struct config_section *config_select(struct config *cfg, const char *exe,
					   struct settings *out);
void settings_defaults(struct settings *out);
void settings_free(struct settings *s);

/* true when name (possibly "") matches one exclude pattern as a whole. */
bool settings_excluded(const struct settings *s, const char *name);

/*
 * Reads and parses a config file: 0, or -1 with *err filled and errno set
 * (ENOENT when the file does not exist, EINVAL for a bad file).
 */
int config_load(const char *path, struct config *cfg, struct config_error *err);

#endif /* TLSTAP_CONFIG_H */
