// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Config parser. Grammar, one item per line:
 *	blank line, or '#' comment (first non-blank character)
 *	NAME ':'		section start, not indented; NAME is
 *				[A-Za-z0-9_.+-]+, "global" applies to all
 *	INDENT KEY '=' VALUE	a setting of the current section; INDENT is
 *				spaces or tabs; VALUE is the rest of the line
 *				without surrounding blanks (no quoting)
 * Keys: path (named sections only, required there), if, exclude (may
 * repeat), capture = yes|no, on_full = drop|block, ring = yes|no,
 * ring_kb = a power of two from 64 to 16384.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(struct config_error *err, unsigned int line, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

static int fail(struct config_error *err, unsigned int line, const char *fmt,
		...)
{
	va_list ap;

	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
	       c == '+';
}

/* [*s, *e) without leading and trailing blanks. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

static bool span_is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

static void section_free(struct config_section *sec)
{
	size_t i;

	for (i = 0; i < sec->n_excludes; i++) {
		regfree(&sec->excludes[i]);
		free(sec->exclude_texts[i]);
	}
	free(sec->excludes);
	free(sec->exclude_texts);
	free(sec->path);
}

void config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_sections; i++)
		section_free(&cfg->sections[i]);
	free(cfg->sections);
	cfg->sections = NULL;
	cfg->n_sections = 0;
	cfg->regex_cost = 0;
}

static int add_section(struct config *cfg, const char *name, size_t len,
		       unsigned int line, struct config_error *err)
{
	struct config_section *grown, *sec;
	size_t i;

	if (len > CONFIG_MAX_NAME)
		return fail(err, line, "section name longer than %d bytes",
			    CONFIG_MAX_NAME);
	for (i = 0; i < len; i++)
		if (!is_name_char(name[i]))
			return fail(err, line,
				    "bad character in section name (allowed: letters, digits, _ . + -)");
	for (i = 0; i < cfg->n_sections; i++)
		if (strlen(cfg->sections[i].name) == len &&
		    memcmp(cfg->sections[i].name, name, len) == 0)
			return fail(err, line,
				    "section '%.*s' already defined at line %u",
				    (int)len, name, cfg->sections[i].line);
	grown = realloc(cfg->sections, (cfg->n_sections + 1) * sizeof(*grown));
	if (!grown)
		return fail(err, line, "out of memory");
	cfg->sections = grown;
	sec = &cfg->sections[cfg->n_sections++];
	memset(sec, 0, sizeof(*sec));
	memcpy(sec->name, name, len);
	sec->line = line;
	sec->capture = true;
	sec->on_full = ON_FULL_DROP;
	sec->ring = true;
	sec->ring_kb = CONFIG_RING_KB_DEFAULT;
	return 0;
}

static bool is_global(const struct config_section *sec)
{
	return strcmp(sec->name, "global") == 0;
}

static int once(unsigned int *seen, const char *key,
		const struct config_section *sec, unsigned int line,
		struct config_error *err)
{
	if (*seen)
		return fail(err, line, "'%s' set twice in section '%s' (first at line %u)",
			    key, sec->name, *seen);
	*seen = line;
	return 0;
}

#define REGEX_COST_CAP		(1ull << 32)
#define REGEX_MAX_DEPTH		32
#define REGEX_MAX_SIZE		2000	/* its square is CONFIG_MAX_REGEX_COST */

/* [p] is '[': the bracket expression's closing ']', or the last char. */
static const char *bracket_end(const char *p)
{
	const char *q = p + 1;

	if (*q == '^')
		q++;
	if (*q == ']')
		q++;
	while (*q && *q != ']') {
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			char kind = q[1];

			for (q += 2; *q && !(q[0] == kind && q[1] == ']'); q++)
				;
			if (*q)
				q += 2;
			continue;
		}
		q++;
	}
	return *q ? q : q - 1;
}

/*
 * [p] is '{': 1 and how many copies an interval makes, *end its '}'.
 * glibc also takes {,n} for {0,n}.
 */
static int interval_copies(const char *p, unsigned long long *copies,
			   const char **end)
{
	unsigned long long m = 0, n = 0;
	int comma = 0, has_n = 0;
	const char *q = p + 1;

	if ((*q < '0' || *q > '9') && *q != ',')
		return 0;
	for (; *q >= '0' && *q <= '9'; q++)
		m = m < 100000 ? m * 10 + (unsigned int)(*q - '0') : m;
	if (*q == ',') {
		comma = 1;
		for (q++; *q >= '0' && *q <= '9'; q++, has_n = 1)
			n = n < 100000 ? n * 10 + (unsigned int)(*q - '0') : n;
	}
	if (*q != '}')
		return 0;
	*copies = !comma ? m : has_n ? (n > m ? n : m) : m + 1;
	*end = q;
	return 1;
}

/* What the regex tokens that the checks below tell apart do. */
enum regex_token {
	REGEX_ATOM,		/* a character, escape or bracket expression */
	REGEX_OPEN,		/* ( */
	REGEX_CLOSE,		/* ) */
	REGEX_ALTERNATION,	/* | */
	REGEX_REPEAT,		/* * ? + {m,n} */
};

/*
 * The token at *p; *p is left on its last character. For REGEX_REPEAT,
 * *copies is how many copies of its operand regcomp() makes: 1 for * and
 * ?, which add no copy, 2 for +, the interval's for {m,n}.
 */
static enum regex_token regex_token(const char **p, unsigned long long *copies)
{
	switch (**p) {
	case '\\':
		if ((*p)[1])
			(*p)++;
		return REGEX_ATOM;
	case '[':
		*p = bracket_end(*p);
		return REGEX_ATOM;
	case '(':
		return REGEX_OPEN;
	case ')':
		return REGEX_CLOSE;
	case '|':
		return REGEX_ALTERNATION;
	case '*':
	case '?':
		*copies = 1;
		return REGEX_REPEAT;
	case '+':
		*copies = 2;
		return REGEX_REPEAT;
	case '{':
		return interval_copies(*p, copies, p) ? REGEX_REPEAT : REGEX_ATOM;
	}
	return REGEX_ATOM;
}

/*
 * The size of the pattern once regcomp() has expanded its repetitions:
 * one per atom, {m,n} copies its operand n times (m + 1 for {m,}), +
 * twice; saturates at REGEX_COST_CAP, which deeper nesting than
 * REGEX_MAX_DEPTH also returns. A short pattern such as
 * (x{0,255}){0,255} or a run of +'s is huge once expanded.
 */
static unsigned long long regex_expanded_size(const char *re)
{
	unsigned long long total[REGEX_MAX_DEPTH + 1] = { 0 };
	unsigned long long last[REGEX_MAX_DEPTH + 1] = { 0 };
	unsigned int depth = 0;

	for (const char *p = re; *p; p++) {
		unsigned long long item = 1, copies;

		switch (regex_token(&p, &copies)) {
		case REGEX_OPEN:
			if (depth == REGEX_MAX_DEPTH)
				return REGEX_COST_CAP;
			depth++;
			total[depth] = last[depth] = 0;
			continue;
		case REGEX_ALTERNATION:
			last[depth] = 0;
			continue;
		case REGEX_REPEAT:
			total[depth] = total[depth] - last[depth] +
				       last[depth] * copies;
			last[depth] *= copies;
			break;
		case REGEX_CLOSE:	/* the group is an atom of its size */
			if (depth)
				item = total[depth--] + 1;
			/* fall through */
		case REGEX_ATOM:
			total[depth] += item;
			last[depth] = item;
			break;
		}
		if (total[depth] >= REGEX_COST_CAP)
			return REGEX_COST_CAP;
	}
	while (depth) {
		unsigned long long item = total[depth--] + 1;

		total[depth] += item;
		if (total[depth] >= REGEX_COST_CAP)
			return REGEX_COST_CAP;
	}
	return total[0];
}

/*
 * Whether a backslash escapes anything but a special character of POSIX
 * EREs (or '-', '}' and ']'), or ends the pattern: other escapes are
 * undefined, and glibc reads an escaped digit or comma inside an interval
 * ("x{\\0,255}", "x{5\\,}") as part of it, which the size estimate above
 * would not count. Server names need only "\\." and "\\-".
 */
static int escapes_ordinary(const char *re)
{
	unsigned long long copies;

	for (const char *p = re; *p; p++) {
		if (*p == '\\' && (!p[1] || !strchr(".[]\\()*+?{}|^$-", p[1])))
			return 1;
		regex_token(&p, &copies);
	}
	return 0;
}

/*
 * Whether a repetition operator follows another ("a*+", "x?{2}", "b++"):
 * POSIX leaves that undefined, and glibc's regcomp() builds from it an
 * automaton whose epsilon closure takes exponential time (a 66-byte
 * pattern took more than 30 s).
 */
static int stacked_repetition(const char *re)
{
	unsigned long long copies;
	int after_repeat = 0;

	for (const char *p = re; *p; p++) {
		int repeat = regex_token(&p, &copies) == REGEX_REPEAT;

		if (repeat && after_repeat)
			return 1;
		after_repeat = repeat;
	}
	return 0;
}

static int set_exclude(struct config_section *sec, const char *value,
		       unsigned long long *regex_cost, unsigned int line,
		       struct config_error *err)
{
	unsigned long long size = regex_expanded_size(value);
	regex_t *grown;
	char **texts;
	char why[120];
	int rc;

	if (escapes_ordinary(value))
		return fail(err, line,
			    "'exclude' pattern escapes an ordinary character (as in '\\1'), which POSIX leaves undefined: escape only .[]\\()*+?{}|^$-");
	if (stacked_repetition(value))
		return fail(err, line,
			    "'exclude' pattern repeats a repetition (as in 'a*+'), which POSIX leaves undefined");
	if (size >= REGEX_COST_CAP)
		return fail(err, line,
			    "'exclude' pattern too large once its repetitions are expanded, or groups nested deeper than %d",
			    REGEX_MAX_DEPTH);
	if (size * size > CONFIG_MAX_REGEX_COST)
		return fail(err, line,
			    "'exclude' pattern too large once its repetitions are expanded (%llu atoms, at most %d)",
			    size, REGEX_MAX_SIZE);
	if (*regex_cost + size * size > CONFIG_MAX_REGEX_COST)
		return fail(err, line,
			    "'exclude' patterns too large together once their repetitions are expanded (the sum of their squared sizes is at most %llu)",
			    CONFIG_MAX_REGEX_COST);
	*regex_cost += size * size;
	grown = realloc(sec->excludes, (sec->n_excludes + 1) * sizeof(*grown));
	if (!grown)
		return fail(err, line, "out of memory");
	sec->excludes = grown;
	texts = realloc(sec->exclude_texts,
			(sec->n_excludes + 1) * sizeof(*texts));
	if (!texts)
		return fail(err, line, "out of memory");
	sec->exclude_texts = texts;
	texts[sec->n_excludes] = strdup(value);
	if (!texts[sec->n_excludes])
		return fail(err, line, "out of memory");
	/* Server names are case-insensitive (RFC 4343). */
	rc = regcomp(&sec->excludes[sec->n_excludes], value,
		     REG_EXTENDED | REG_ICASE);
	if (rc) {
		regerror(rc, &sec->excludes[sec->n_excludes], why, sizeof(why));
		free(texts[sec->n_excludes]);
		return fail(err, line, "bad regular expression in 'exclude': %s",
			    why);
	}
	sec->n_excludes++;
	return 0;
}

static int set_ring_kb(struct config_section *sec, const char *value,
		       unsigned int line, struct config_error *err)
{
	unsigned long kb = 0;
	const char *p;

	if (once(&sec->ring_kb_line, "ring_kb", sec, line, err))
		return -1;
	for (p = value; *p >= '0' && *p <= '9' && kb <= CONFIG_RING_KB_MAX; p++)
		kb = kb * 10 + (unsigned long)(*p - '0');
	if (*p || p == value || kb < CONFIG_RING_KB_MIN ||
	    kb > CONFIG_RING_KB_MAX || (kb & (kb - 1)))
		return fail(err, line,
			    "'ring_kb' must be a power of two from %d to %d",
			    CONFIG_RING_KB_MIN, CONFIG_RING_KB_MAX);
	sec->ring_kb = (unsigned int)kb;
	return 0;
}

static int set_key(struct config_section *sec, const char *key,
		   size_t key_len, const char *value,
		   unsigned long long *regex_cost, unsigned int line,
		   struct config_error *err)
{
	size_t len = strlen(value);

	if (span_is(key, key + key_len, "path")) {
		if (is_global(sec))
			return fail(err, line, "'path' is not allowed in section 'global'");
		if (sec->path)
			return fail(err, line, "'path' set twice in section '%s'",
				    sec->name);
		if (value[0] != '/')
			return fail(err, line, "'path' must be an absolute path");
		if (len >= PATH_MAX)
			return fail(err, line, "'path' longer than %d bytes",
				    PATH_MAX - 1);
		sec->path = strdup(value);
		if (!sec->path)
			return fail(err, line, "out of memory");
		return 0;
	}
	if (span_is(key, key + key_len, "if")) {
		if (once(&sec->if_line, "if", sec, line, err))
			return -1;
		if (value[0] != '/')
			return fail(err, line, "'if' must be an absolute path");
		if (len > CONFIG_MAX_IF)
			return fail(err, line, "'if' longer than %d bytes",
				    CONFIG_MAX_IF);
		memcpy(sec->if_path, value, len + 1);
		return 0;
	}
	if (span_is(key, key + key_len, "exclude"))
		return set_exclude(sec, value, regex_cost, line, err);
	if (span_is(key, key + key_len, "capture")) {
		if (once(&sec->capture_line, "capture", sec, line, err))
			return -1;
		if (strcmp(value, "yes") == 0)
			sec->capture = true;
		else if (strcmp(value, "no") == 0)
			sec->capture = false;
		else
			return fail(err, line, "'capture' must be yes or no");
		return 0;
	}
	if (span_is(key, key + key_len, "on_full")) {
		if (once(&sec->on_full_line, "on_full", sec, line, err))
			return -1;
		if (strcmp(value, "drop") == 0)
			sec->on_full = ON_FULL_DROP;
		else if (strcmp(value, "block") == 0)
			sec->on_full = ON_FULL_BLOCK;
		else
			return fail(err, line, "'on_full' must be drop or block");
		return 0;
	}
	if (span_is(key, key + key_len, "ring")) {
		if (once(&sec->ring_line, "ring", sec, line, err))
			return -1;
		if (strcmp(value, "yes") == 0)
			sec->ring = true;
		else if (strcmp(value, "no") == 0)
			sec->ring = false;
		else
			return fail(err, line, "'ring' must be yes or no");
		return 0;
	}
	if (span_is(key, key + key_len, "ring_kb"))
		return set_ring_kb(sec, value, line, err);
	return fail(err, line, "unknown key '%.*s' (known: path, if, exclude, capture, on_full, ring, ring_kb)",
		    (int)(key_len > 40 ? 40 : key_len), key);
}

static int parse_setting(struct config *cfg, const char *s, const char *e,
			 unsigned int line, struct config_error *err)
{
	const char *eq, *key, *key_end, *val, *val_end;
	char value[PATH_MAX + 1];

	if (!cfg->n_sections)
		return fail(err, line, "setting outside a section (start one with 'name:')");
	eq = memchr(s, '=', (size_t)(e - s));
	if (!eq)
		return fail(err, line, "expected 'key = value'");
	key = s;
	key_end = eq;
	trim(&key, &key_end);
	val = eq + 1;
	val_end = e;
	trim(&val, &val_end);
	if (key == key_end)
		return fail(err, line, "missing key before '='");
	if (val == val_end)
		return fail(err, line, "missing value after '%.*s ='",
			    (int)(key_end - key > 40 ? 40 : key_end - key), key);
	if ((size_t)(val_end - val) > PATH_MAX)
		return fail(err, line, "value longer than %d bytes", PATH_MAX);
	memcpy(value, val, (size_t)(val_end - val));
	value[val_end - val] = '\0';
	return set_key(&cfg->sections[cfg->n_sections - 1], key,
		       (size_t)(key_end - key), value, &cfg->regex_cost, line,
		       err);
}

static int parse_line(struct config *cfg, const char *s, const char *e,
		      unsigned int line, struct config_error *err)
{
	const char *first = s;

	if (memchr(s, '\0', (size_t)(e - s)))
		return fail(err, line, "NUL byte in line");
	if (e > s && e[-1] == '\r')
		e--;
	while (first < e && is_blank(*first))
		first++;
	if (first == e || *first == '#')
		return 0;
	if (first != s)
		return parse_setting(cfg, s, e, line, err);
	while (e > s && is_blank(e[-1]))
		e--;
	if (e[-1] != ':')
		return fail(err, line, "expected a section line 'name:' (settings must be indented)");
	if (e - 1 == s)
		return fail(err, line, "empty section name");
	return add_section(cfg, s, (size_t)(e - 1 - s), line, err);
}

int config_parse(const char *text, size_t len, struct config *cfg,
		 struct config_error *err)
{
	const char *s = text, *end = text + len, *nl;
	unsigned int line = 0;
	size_t i;

	cfg->sections = NULL;
	cfg->n_sections = 0;
	cfg->regex_cost = 0;
	if (len > CONFIG_MAX_SIZE) {
		fail(err, 0, "larger than %d bytes", CONFIG_MAX_SIZE);
		return -1;
	}
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		line++;
		if (parse_line(cfg, s, nl, line, err))
			goto bad;
		s = nl + 1;
	}
	for (i = 0; i < cfg->n_sections; i++)
		if (!is_global(&cfg->sections[i]) && !cfg->sections[i].path) {
			fail(err, cfg->sections[i].line,
			     "section '%s' has no 'path'", cfg->sections[i].name);
			goto bad;
		}
	return 0;
bad:
	config_free(cfg);
	return -1;
}

void settings_defaults(struct settings *out)
{
	memset(out, 0, sizeof(*out));
	out->capture = true;
	out->on_full = ON_FULL_DROP;
	out->ring = true;
	out->ring_kb = CONFIG_RING_KB_DEFAULT;
	strcpy(out->if_path, CONFIG_DEFAULT_IF);
}

static void apply(struct settings *out, struct config_section *sec)
{
	if (sec->capture_line)
		out->capture = sec->capture;
	if (sec->on_full_line)
		out->on_full = sec->on_full;
	if (sec->ring_line)
		out->ring = sec->ring;
	if (sec->ring_kb_line)
		out->ring_kb = sec->ring_kb;
	if (sec->if_line)
		strcpy(out->if_path, sec->if_path);
	if (sec->n_excludes) {
		/* A section's excludes replace global's; the regexes move. */
		settings_free(out);
		out->excludes = sec->excludes;
		out->exclude_texts = sec->exclude_texts;
		out->n_excludes = sec->n_excludes;
		sec->excludes = NULL;
		sec->exclude_texts = NULL;
		sec->n_excludes = 0;
	}
}

static bool section_matches(const struct config_section *sec, const char *exe)
{
	char resolved[PATH_MAX];

	if (!exe || !sec->path)
		return false;
	if (strcmp(sec->path, exe) == 0)
		return true;
	return realpath(sec->path, resolved) && strcmp(resolved, exe) == 0;
}

const struct config_section *config_select(struct config *cfg, const char *exe,
					   struct settings *out)
{
	size_t i;

	settings_defaults(out);
	for (i = 0; i < cfg->n_sections; i++)
		if (is_global(&cfg->sections[i]))
			apply(out, &cfg->sections[i]);
	for (i = 0; i < cfg->n_sections; i++)
		if (section_matches(&cfg->sections[i], exe)) {
			apply(out, &cfg->sections[i]);
			return &cfg->sections[i];
		}
	return NULL;
}

void settings_free(struct settings *s)
{
	size_t i;

	for (i = 0; i < s->n_excludes; i++) {
		regfree(&s->excludes[i]);
		free(s->exclude_texts[i]);
	}
	free(s->excludes);
	free(s->exclude_texts);
	s->excludes = NULL;
	s->exclude_texts = NULL;
	s->n_excludes = 0;
}

bool settings_excluded(const struct settings *s, const char *name)
{
	size_t len = strlen(name), i;
	regmatch_t m;

	/*
	 * POSIX matching is leftmost-longest: when a match of the whole name
	 * exists, the match found starts at 0 and ends at len.
	 */
	for (i = 0; i < s->n_excludes; i++)
		if (regexec(&s->excludes[i], name, 1, &m, 0) == 0 &&
		    m.rm_so == 0 && (size_t)m.rm_eo == len)
			return true;
	return false;
}

int config_load(const char *path, struct config *cfg, struct config_error *err)
{
	struct stat st;
	char *text;
	size_t got = 0;
	ssize_t n;
	int fd, saved;

	cfg->sections = NULL;
	cfg->n_sections = 0;
	/* O_NONBLOCK: a FIFO planted as config must not hang the program. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		saved = errno;
		fail(err, 0, "cannot open: %s", strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		fail(err, 0, "not a regular file");
		errno = EINVAL;
		return -1;
	}
	if (st.st_size > CONFIG_MAX_SIZE) {
		close(fd);
		fail(err, 0, "larger than %d bytes", CONFIG_MAX_SIZE);
		errno = EINVAL;
		return -1;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		fail(err, 0, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	saved = 0;
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			saved = errno;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got < (size_t)st.st_size) {
		free(text);
		if (saved)
			fail(err, 0, "read error: %s", strerror(saved));
		else
			fail(err, 0, "file shrank while being read");
		errno = EIO;
		return -1;
	}
	n = config_parse(text, got, cfg, err);
	free(text);
	if (n) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
