// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * userhook's config parser (config_parse, then config_select and
 * settings_excluded as the hook uses them) on arbitrary text. Checks: a
 * refused file leaves nothing allocated and says where and why; an
 * accepted one holds only what the grammar allows (names, absolute paths,
 * interface paths that fit a Unix socket address, ring sizes in range),
 * and every program gets exactly its section's settings over global's.
 */
#include <limits.h>

#include "config.h"
#include "fuzz.h"

static unsigned int count_lines(const uint8_t *data, size_t size)
{
	unsigned int n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + 1;
}

static int name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > CONFIG_MAX_NAME)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-", name[i]))
			return 0;
	return 1;
}

/* What config_select must give the program at exe (section sec or none). */
static void expect(const struct config *cfg, const struct config_section *sec,
		   struct settings *want)
{
	settings_defaults(want);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < cfg->n_sections; i++) {
			const struct config_section *s = &cfg->sections[i];

			if (pass == 0 ? strcmp(s->name, "global") != 0 : s != sec)
				continue;
			if (s->capture_line)
				want->capture = s->capture;
			if (s->on_full_line)
				want->on_full = s->on_full;
			if (s->ring_line)
				want->ring = s->ring;
			if (s->ring_kb_line)
				want->ring_kb = s->ring_kb;
			if (s->if_line)
				strcpy(want->if_path, s->if_path);
			if (s->n_excludes)
				want->n_excludes = s->n_excludes;
		}
	}
}

static void check_select(const uint8_t *data, size_t size, size_t which)
{
	struct config cfg;
	struct config_error err;
	struct settings got, want;
	const struct config_section *sec;
	char exe[PATH_MAX];

	CHECK(config_parse((const char *)data, size, &cfg, &err) == 0,
	      "a second parse of the same text failed: %s", err.msg);
	sec = &cfg.sections[which];
	snprintf(exe, sizeof(exe), "%s", sec->path);
	/* The first section naming this path, as written or resolved. */
	for (size_t i = 0; i < which; i++) {
		const char *p = cfg.sections[i].path;
		char resolved[PATH_MAX];

		if (p && (!strcmp(p, exe) ||
			  (realpath(p, resolved) && !strcmp(resolved, exe)))) {
			sec = &cfg.sections[i];
			break;
		}
	}
	expect(&cfg, sec, &want);
	config_select(&cfg, exe, &got);
	CHECK(got.capture == want.capture, "capture of '%s'", exe);
	CHECK(got.on_full == want.on_full, "on_full of '%s'", exe);
	CHECK(got.ring == want.ring && got.ring_kb == want.ring_kb,
	      "ring of '%s'", exe);
	CHECK(!strcmp(got.if_path, want.if_path), "if of '%s': %s, not %s",
	      exe, got.if_path, want.if_path);
	CHECK(got.n_excludes == want.n_excludes, "excludes of '%s': %zu, not %zu",
	      exe, got.n_excludes, want.n_excludes);
	/* The patterns moved out of cfg: matching must not touch cfg. */
	config_free(&cfg);
	(void)settings_excluded(&got, "");
	(void)settings_excluded(&got, "www.example.com");
	(void)settings_excluded(&got, exe);
	settings_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct config_error err;
	struct settings s;
	size_t named = 0;

	memset(&err, 0x55, sizeof(err));
	if (config_parse((const char *)data, size, &cfg, &err)) {
		CHECK(!cfg.sections && !cfg.n_sections, "refused, yet sections");
		CHECK(memchr(err.msg, '\0', sizeof(err.msg)) && err.msg[0],
		      "refused without a message");
		CHECK(err.line <= count_lines(data, size),
		      "error at line %u of %u", err.line,
		      count_lines(data, size));
		return 0;
	}
	for (size_t i = 0; i < cfg.n_sections; i++) {
		const struct config_section *sec = &cfg.sections[i];
		int global = !strcmp(sec->name, "global");

		CHECK(name_ok(sec->name), "section name '%s'", sec->name);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(cfg.sections[j].name, sec->name),
			      "section '%s' twice", sec->name);
		CHECK(global ? !sec->path : sec->path && sec->path[0] == '/',
		      "path of section '%s'", sec->name);
		CHECK(!sec->if_line ||
			      (sec->if_path[0] == '/' &&
			       strlen(sec->if_path) <= CONFIG_MAX_IF),
		      "if of section '%s'", sec->name);
		CHECK(sec->ring_kb >= CONFIG_RING_KB_MIN &&
		      sec->ring_kb <= CONFIG_RING_KB_MAX &&
		      !(sec->ring_kb & (sec->ring_kb - 1)),
		      "ring_kb %u of section '%s'", sec->ring_kb, sec->name);
		CHECK(sec->line >= 1 && sec->line <= count_lines(data, size),
		      "line of section '%s'", sec->name);
		named += !global;
	}
	config_free(&cfg);

	/* Up to three programs named by the file, and one it does not name. */
	if (config_parse((const char *)data, size, &cfg, &err) == 0) {
		config_select(&cfg, NULL, &s);
		settings_free(&s);
		config_free(&cfg);
	}
	for (size_t i = 0, tried = 0; tried < 3 && named; i++) {
		if (config_parse((const char *)data, size, &cfg, &err))
			break;
		if (i >= cfg.n_sections) {
			config_free(&cfg);
			break;
		}
		if (cfg.sections[i].path) {
			config_free(&cfg);
			check_select(data, size, i);
			tried++;
		} else {
			config_free(&cfg);
		}
	}
	return 0;
}
