// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdlib.h>
#include <string.h>

#include "statprint.h"

void statprint_begin(struct statprint *sp, FILE *f, const char *prog,
		     int json)
{
	memset(sp, 0, sizeof(*sp));
	sp->out = f;
	/* Without the memory for it, piece by piece. */
	sp->f = open_memstream(&sp->buf, &sp->len);
	if (!sp->f)
		sp->f = f;
	sp->prog = prog;
	sp->json = json;
	sp->first = 1;
	if (json)
		fputc('{', sp->f);
}

/* JSON: the separator before a member of the current object. */
static void member(struct statprint *sp)
{
	if (!sp->first)
		fputc(',', sp->f);
	sp->first = 0;
}

static void json_open(struct statprint *sp, const char *name)
{
	member(sp);
	fprintf(sp->f, "\"%s\":{", name);
	sp->first = 1;
}

/* Text: a new line, for the top level (group NULL) or a group. */
static void text_line(struct statprint *sp, const char *group)
{
	if (sp->line_open)
		fputc('\n', sp->f);
	fprintf(sp->f, "%s:", sp->prog);
	if (group)
		fprintf(sp->f, " %s:", group);
	sp->line_open = 1;
	sp->line_is_group = group != NULL;
}

void statprint_group(struct statprint *sp, const char *name)
{
	if (sp->json)
		json_open(sp, name);
	else
		text_line(sp, name);
	sp->depth++;
}

void statprint_open(struct statprint *sp, const char *name)
{
	if (sp->json) {
		json_open(sp, name);
	} else {
		size_t n = strlen(sp->prefix);

		snprintf(sp->prefix + n, sizeof(sp->prefix) - n, "%s.", name);
	}
	sp->depth++;
}

void statprint_close(struct statprint *sp)
{
	size_t n = strlen(sp->prefix);

	sp->depth--;
	if (sp->json) {
		fputc('}', sp->f);
		sp->first = 0;
	} else if (n) {
		/* An object's "name." goes; a group has none. */
		n--;
		while (n && sp->prefix[n - 1] != '.')
			n--;
		sp->prefix[n] = '\0';
	}
}

void statprint_u64(struct statprint *sp, const char *name,
		   unsigned long long v)
{
	if (sp->json) {
		member(sp);
		fprintf(sp->f, "\"%s\":%llu", name, v);
		return;
	}
	if (!sp->line_open || (sp->line_is_group && !sp->depth))
		text_line(sp, NULL);
	fprintf(sp->f, " %s%s=%llu", sp->prefix, name, v);
}

void statprint_end(struct statprint *sp)
{
	if (sp->json)
		fputs("}\n", sp->f);
	else if (sp->line_open)
		fputc('\n', sp->f);
	if (sp->f == sp->out)
		return;
	/* What the memory stream holds, even if its last growth failed. */
	fclose(sp->f);
	if (sp->buf)
		fwrite(sp->buf, 1, sp->len, sp->out);
	free(sp->buf);
}
