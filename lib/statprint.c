// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdlib.h>
#include <string.h>

#include "statprint.h"

/* Text: names end before this column, values are right-aligned this wide. */
#define NAME_COLUMN	34
#define VALUE_WIDTH	14

void statprint_begin(struct statprint *sp, FILE *f, const char *prog,
		     int json)
{
	memset(sp, 0, sizeof(*sp));
	sp->out = f;
	/* Without the memory for it, piece by piece. */
	sp->f = open_memstream(&sp->buf, &sp->len);
	if (!sp->f)
		sp->f = f;
	sp->json = json;
	sp->first = 1;
	if (json)
		fputc('{', sp->f);
	else
		fprintf(sp->f, "%s: counters\n", prog);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* JSON: the separator and the name (NULL in an array) of a member. */
static void member(struct statprint *sp, const char *name)
{
	if (!sp->first)
		fputc(',', sp->f);
	sp->first = 0;
	if (name) {
		json_string(sp->f, name);
		fputc(':', sp->f);
	}
}

/* Text: the indentation of the current level. */
static void indent(struct statprint *sp)
{
	fprintf(sp->f, "%*s", 2 * (sp->depth + 1), "");
}

/* Opens a container: JSON with its bracket, text as a "name:" line. */
static void open_one(struct statprint *sp, const char *name, char kind)
{
	if (sp->depth == STATPRINT_DEPTH_MAX)
		abort();
	if (sp->json) {
		member(sp, name);
		fputc(kind, sp->f);
		sp->first = 1;
	} else {
		indent(sp);
		fprintf(sp->f, "%s:\n", name);
	}
	sp->open[sp->depth++] = kind == '{' ? '}' : ']';
}

void statprint_group(struct statprint *sp, const char *name)
{
	open_one(sp, name, '{');
}

void statprint_open(struct statprint *sp, const char *name)
{
	open_one(sp, name, '{');
}

void statprint_array(struct statprint *sp, const char *name)
{
	open_one(sp, name, '[');
}

void statprint_item(struct statprint *sp, const char *label)
{
	if (sp->json) {
		member(sp, NULL);
		fputc('{', sp->f);
		sp->first = 1;
		sp->open[sp->depth++] = '}';
		return;
	}
	open_one(sp, label, '{');
}

void statprint_close(struct statprint *sp)
{
	sp->depth--;
	if (sp->json) {
		fputc(sp->open[sp->depth], sp->f);
		sp->first = 0;
	}
}

/* Text: "name value", the value ending at the values' column. */
static void text_value(struct statprint *sp, const char *name,
		       const char *value)
{
	int pad = NAME_COLUMN - 2 * (sp->depth + 1) - (int)strlen(name);

	indent(sp);
	fprintf(sp->f, "%s %*s%*s\n", name, pad > 0 ? pad : 0, "",
		VALUE_WIDTH, value);
}

void statprint_u64(struct statprint *sp, const char *name,
		   unsigned long long v)
{
	char value[24];

	if (sp->json) {
		member(sp, name);
		fprintf(sp->f, "%llu", v);
		return;
	}
	snprintf(value, sizeof(value), "%llu", v);
	text_value(sp, name, value);
}

void statprint_str(struct statprint *sp, const char *name, const char *s)
{
	if (sp->json) {
		member(sp, name);
		json_string(sp->f, s);
		return;
	}
	text_value(sp, name, s);
}

void statprint_bool(struct statprint *sp, const char *name, int v)
{
	if (sp->json) {
		member(sp, name);
		fputs(v ? "true" : "false", sp->f);
		return;
	}
	text_value(sp, name, v ? "yes" : "no");
}

void statprint_end(struct statprint *sp)
{
	if (sp->json)
		fputs("}\n", sp->f);
	if (sp->f == sp->out)
		return;
	/* What the memory stream holds, even if its last growth failed. */
	fclose(sp->f);
	if (sp->buf)
		fwrite(sp->buf, 1, sp->len, sp->out);
	free(sp->buf);
}
