// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The format (version 1), one item per line, fields separated by one
 * space, numbers decimal:
 *
 *   tlstap-receiver-state 1
 *   stream SENDER STREAM_ID seq NEXT top EDGE records NEXT|-
 *   range FIRST LAST EDGE EDGE missing|gap|timeout
 *   notdone FIRST LAST
 *   evicted SENDER STREAM_ID seq NEXT top EDGE records NEXT|-
 *   end COUNT
 *
 * range and notdone lines belong to the stream (or evicted) line before
 * them;
 * EDGE is known:RECORD_ID, unknown or never; COUNT is the number of
 * stream and evicted lines. Everything is checked before anything is
 * used: the core takes only what it could have saved itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "recvstate.h"

#define MAX_LINE	256

static int failed(char *err, size_t errlen, const char *what,
		  const char *path)
{
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

/* What was read and not restored (the counts stay, for the start line). */
static void free_streams(struct recvstate *st)
{
	for (unsigned int i = 0; st->streams && i < st->nstreams; i++) {
		free(st->streams[i].ranges);
		free(st->streams[i].notdone);
	}
	free(st->streams);
	st->streams = NULL;
}

/* ----------------------------------------------------------- reading */

struct reader {
	const char *path;
	unsigned int line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int bad(struct reader *rd, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(rd->err, rd->errlen, "state file %s line %u: %s", rd->path,
		 rd->line, what);
	return -1;
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long x;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int parse_edge(const char *s, struct gap_edge *e)
{
	memset(e, 0, sizeof(*e));
	if (!strcmp(s, "unknown")) {
		e->state = GAP_EDGE_UNKNOWN;
		return 0;
	}
	if (!strcmp(s, "never")) {
		e->state = GAP_EDGE_NEVER;
		return 0;
	}
	e->state = GAP_EDGE_KNOWN;
	return strncmp(s, "known:", 6) ? -1 : parse_u32(s + 6, &e->rid);
}

/* Splits line into at most max space-separated words. */
static unsigned int words(char *line, char **w, unsigned int max)
{
	unsigned int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		if (n == max)
			return max + 1;
		w[n++] = t;
	}
	return n;
}

/* x within the window of SEQTRACK_WINDOW numbers below next. */
static int in_window(uint32_t x, uint32_t next)
{
	return next - x - 1 < SEQTRACK_WINDOW;
}

static int parse_stream(struct reader *rd, char **w, unsigned int n,
			struct reasm_saved_stream *ss)
{
	char err[160];

	memset(ss, 0, sizeof(*ss));
	ss->evicted = !strcmp(w[0], "evicted");
	if (n != 9 || strcmp(w[3], "seq") || strcmp(w[5], "top") ||
	    strcmp(w[7], "records"))
		return bad(rd, "want '%s SENDER STREAM_ID seq N top EDGE records N|-'", w[0]);
	if (endpoint_parse(w[1], 0, &ss->sender, err, sizeof(err)))
		return bad(rd, "sender %s", err);
	if (parse_u32(w[2], &ss->stream_id) || parse_u32(w[4], &ss->seq_next))
		return bad(rd, "stream id and seq must be numbers");
	if (parse_edge(w[6], &ss->top))
		return bad(rd, "top '%s': want known:N, unknown or never", w[6]);
	if (strcmp(w[8], "-")) {
		if (parse_u32(w[8], &ss->record_next))
			return bad(rd, "records '%s': want a number or -", w[8]);
		ss->has_record_next = 1;
	}
	return 0;
}

static int parse_range(struct reader *rd, char **w, unsigned int n,
		       struct reasm_saved_stream *ss)
{
	struct gap_range g = { 0 };
	struct gap_range *grown;

	if (n != 6)
		return bad(rd, "want 'range FIRST LAST EDGE EDGE STATE'");
	if (parse_u32(w[1], &g.first) || parse_u32(w[2], &g.last) ||
	    parse_edge(w[3], &g.left) || parse_edge(w[4], &g.right))
		return bad(rd, "range: bad seq or edge");
	if (!strcmp(w[5], "gap"))
		g.lost = GAP_REASON_GAP;
	else if (!strcmp(w[5], "timeout"))
		g.lost = GAP_REASON_TIMEOUT;
	else if (strcmp(w[5], "missing"))
		return bad(rd, "range state '%s': want missing, gap or timeout",
			   w[5]);
	if (!in_window(g.first, ss->seq_next) ||
	    !in_window(g.last, ss->seq_next) ||
	    g.first - (ss->seq_next - SEQTRACK_WINDOW) >
		    g.last - (ss->seq_next - SEQTRACK_WINDOW))
		return bad(rd, "range %u..%u: not within the %u seqs below %u",
			   g.first, g.last, SEQTRACK_WINDOW, ss->seq_next);
	if (ss->nranges &&
	    g.first - (ss->seq_next - SEQTRACK_WINDOW) <=
		    ss->ranges[ss->nranges - 1].last -
			    (ss->seq_next - SEQTRACK_WINDOW))
		return bad(rd, "range %u..%u: ranges must ascend apart",
			   g.first, g.last);
	if (ss->nranges == REASM_MAX_MISSING_RANGES)
		return bad(rd, "more than %u ranges", REASM_MAX_MISSING_RANGES);
	grown = realloc(ss->ranges, (ss->nranges + 1) * sizeof(*grown));
	if (!grown)
		return bad(rd, "out of memory");
	ss->ranges = grown;
	ss->ranges[ss->nranges++] = g;
	return 0;
}

static int parse_notdone(struct reader *rd, char **w, unsigned int n,
			 struct reasm_saved_stream *ss)
{
	struct wire_range ir;
	struct wire_range *grown;
	uint32_t base = ss->record_next - SEQTRACK_WINDOW;

	if (n != 3 || parse_u32(w[1], &ir.first) || parse_u32(w[2], &ir.last))
		return bad(rd, "want 'notdone FIRST LAST'");
	if (!ss->has_record_next)
		return bad(rd, "notdone for a stream without records");
	if (!in_window(ir.first, ss->record_next) ||
	    !in_window(ir.last, ss->record_next) ||
	    ir.first - base > ir.last - base ||
	    (ss->nnotdone &&
	     ir.first - base <= ss->notdone[ss->nnotdone - 1].last - base))
		return bad(rd, "notdone %u..%u: not ascending within the %u record ids below %u", ir.first, ir.last,
			   SEQTRACK_WINDOW, ss->record_next);
	grown = realloc(ss->notdone, (ss->nnotdone + 1) * sizeof(*grown));
	if (!grown)
		return bad(rd, "out of memory");
	ss->notdone = grown;
	ss->notdone[ss->nnotdone++] = ir;
	return 0;
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct reasm_saved_stream *a = pa, *b = pb;
	int c = memcmp(a->sender.addr, b->sender.addr, sizeof(a->sender.addr));

	if (c)
		return c;
	if (a->sender.family != b->sender.family)
		return a->sender.family < b->sender.family ? -1 : 1;
	if (a->sender.port != b->sender.port)
		return a->sender.port < b->sender.port ? -1 : 1;
	return (a->stream_id > b->stream_id) - (a->stream_id < b->stream_id);
}

/* The same stream twice would be two streams in the core. */
static int check_unique(struct recvstate *st, struct reader *rd)
{
	struct reasm_saved_stream *keys;
	int rc = 0;

	if (st->nstreams < 2)
		return 0;
	keys = malloc(st->nstreams * sizeof(*keys));
	if (!keys)
		return bad(rd, "out of memory");
	memcpy(keys, st->streams, st->nstreams * sizeof(*keys));
	qsort(keys, st->nstreams, sizeof(*keys), key_cmp);
	for (unsigned int i = 1; i < st->nstreams && !rc; i++) {
		if (!key_cmp(&keys[i - 1], &keys[i])) {
			char name[ENDPOINT_STRLEN];

			endpoint_format(&keys[i].sender, name, sizeof(name));
			rc = bad(rd, "stream %s/%u twice", name,
				 keys[i].stream_id);
		}
	}
	free(keys);
	return rc;
}

static int parse_file(struct recvstate *st, FILE *f, struct reader *rd)
{
	char line[MAX_LINE + 2], *w[10];
	unsigned int n, cap = 0;
	uint32_t version, want_end;
	int ended = 0;

	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		rd->line++;
		if (!len || line[len - 1] != '\n')
			return bad(rd, len > MAX_LINE ? "line too long"
						      : "cut short");
		line[len - 1] = '\0';
		if (rd->line == 1) {
			static const char magic[] = RECVSTATE_MAGIC " ";

			if (strncmp(line, magic, sizeof(magic) - 1) ||
			    parse_u32(line + sizeof(magic) - 1, &version))
				return bad(rd, "not a tlstap receiver state file");
			if (version != RECVSTATE_VERSION)
				return bad(rd, "format version %u; this program reads version %d",
					   version, RECVSTATE_VERSION);
			continue;
		}
		if (ended)
			return bad(rd, "text after 'end'");
		n = words(line, w, 9);
		if (!n || n > 9)
			return bad(rd, "not an item of the format");
		if (!strcmp(w[0], "stream") || !strcmp(w[0], "evicted")) {
			if (st->nstreams == cap) {
				unsigned int ncap = cap ? 2 * cap : 16;
				struct reasm_saved_stream *grown = realloc(
					st->streams, ncap * sizeof(*grown));

				if (!grown)
					return bad(rd, "out of memory");
				st->streams = grown;
				cap = ncap;
			}
			if (parse_stream(rd, w, n, &st->streams[st->nstreams]))
				return -1;
			st->nevicted += st->streams[st->nstreams].evicted;
			st->nstreams++;
		} else if (!strcmp(w[0], "range") || !strcmp(w[0], "notdone")) {
			struct reasm_saved_stream *ss =
				st->nstreams ? &st->streams[st->nstreams - 1]
					     : NULL;

			if (!ss)
				return bad(rd, "%s outside a stream", w[0]);
			if (w[0][0] == 'r' ? parse_range(rd, w, n, ss)
					   : parse_notdone(rd, w, n, ss))
				return -1;
		} else if (!strcmp(w[0], "end")) {
			if (n != 2 || parse_u32(w[1], &want_end) ||
			    want_end != st->nstreams)
				return bad(rd, "'end' does not count the %u streams above", st->nstreams);
			ended = 1;
		} else {
			return bad(rd, "unknown item '%s'", w[0]);
		}
	}
	if (ferror(f))
		return failed(rd->err, rd->errlen, "reading state file",
			      rd->path);
	if (!rd->line)
		return bad(rd, "empty");
	if (!ended)
		return bad(rd, "cut short: no 'end'");
	return check_unique(st, rd);
}

int recvstate_open(struct recvstate *st, const char *path, char *err,
		   size_t errlen)
{
	char *copy;
	FILE *f;
	int fd, rc;

	memset(st, 0, sizeof(*st));
	st->path = path;
	st->lock_fd = -1;
	st->tmp_path = concat(path, ".tmp");
	st->lock_path = concat(path, ".lock");
	copy = strdup(path);
	st->dir = copy ? strdup(dirname(copy)) : NULL;
	free(copy);
	if (!st->tmp_path || !st->lock_path || !st->dir) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->lock_fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0)
		return failed(err, errlen, "opening", st->lock_path);
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK) {
			snprintf(err, errlen, "state file %s: another process uses it (%s is locked)", path, st->lock_path);
			return -1;
		}
		return failed(err, errlen, "locking", st->lock_path);
	}
	/* It must be writable at exit: found out now, not then. */
	fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return failed(err, errlen, "state file: cannot create",
			      st->tmp_path);
	close(fd);
	unlink(st->tmp_path);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return failed(err, errlen, "opening state file", path);
	}
	st->existed = 1;
	rc = recvstate_read(st, f, path, err, errlen);
	fclose(f);
	return rc;
}

int recvstate_read(struct recvstate *st, FILE *f, const char *name,
		   char *err, size_t errlen)
{
	struct reader rd = { name, 0, err, errlen };

	if (!parse_file(st, f, &rd))
		return 0;
	free_streams(st);
	st->nstreams = st->nevicted = 0;
	return -1;
}

int recvstate_restore(struct recvstate *st, struct reasm *r, char *err,
		      size_t errlen)
{
	for (unsigned int i = 0; i < st->nstreams; i++) {
		if (reasm_restore(r, &st->streams[i])) {
			snprintf(err, errlen, "restoring state file %s: out of memory", st->path);
			free_streams(st);
			return -1;
		}
	}
	free_streams(st);
	return 0;
}

/* ----------------------------------------------------------- writing */

static void put_edge(FILE *f, const struct gap_edge *e)
{
	if (e->state == GAP_EDGE_KNOWN)
		fprintf(f, "known:%u", e->rid);
	else
		fputs(e->state == GAP_EDGE_NEVER ? "never" : "unknown", f);
}

struct writer {
	FILE *f;
	unsigned int count;
};

static int put_stream(void *arg, const struct reasm_saved_stream *ss)
{
	struct writer *w = arg;
	char name[ENDPOINT_STRLEN];

	endpoint_format(&ss->sender, name, sizeof(name));
	fprintf(w->f, "%s %s %u seq %u top ", ss->evicted ? "evicted" : "stream",
		name, ss->stream_id, ss->seq_next);
	put_edge(w->f, &ss->top);
	if (ss->has_record_next)
		fprintf(w->f, " records %u\n", ss->record_next);
	else
		fputs(" records -\n", w->f);
	for (unsigned int i = 0; i < ss->nranges; i++) {
		const struct gap_range *g = &ss->ranges[i];

		fprintf(w->f, "range %u %u ", g->first, g->last);
		put_edge(w->f, &g->left);
		fputc(' ', w->f);
		put_edge(w->f, &g->right);
		fprintf(w->f, " %s\n", !g->lost ? "missing"
			: reasm_lost_reason_name((enum gap_reason)g->lost));
	}
	for (unsigned int i = 0; i < ss->nnotdone; i++)
		fprintf(w->f, "notdone %u %u\n", ss->notdone[i].first,
			ss->notdone[i].last);
	w->count++;
	return ferror(w->f) ? -1 : 0;
}

int recvstate_write(const struct reasm *r, FILE *f)
{
	struct writer w = { f, 0 };

	errno = 0;
	fprintf(f, RECVSTATE_MAGIC " %d\n", RECVSTATE_VERSION);
	if (reasm_save(r, put_stream, &w)) {
		if (!errno)
			errno = ENOMEM;
		return -1;
	}
	fprintf(f, "end %u\n", w.count);
	return ferror(f) ? -1 : 0;
}

int recvstate_save(struct recvstate *st, const struct reasm *r, char *err,
		   size_t errlen)
{
	int fd, dfd, rc;
	FILE *f;

	fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return failed(err, errlen, "writing state file", st->tmp_path);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(st->tmp_path);
		return failed(err, errlen, "writing state file", st->tmp_path);
	}
	rc = recvstate_write(r, f);
	if (!rc)
		rc = fflush(f) || fsync(fileno(f)) ? -1 : 0;
	if (fclose(f) && !rc)
		rc = -1;
	if (!rc && rename(st->tmp_path, st->path))
		rc = -1;
	if (rc) {
		int e = errno;

		unlink(st->tmp_path);
		errno = e;
		return failed(err, errlen, "writing state file", st->path);
	}
	/* The rename itself must reach the disk. */
	dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		failed(err, errlen, "syncing the directory of", st->path);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
}

void recvstate_close(struct recvstate *st)
{
	free_streams(st);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
	free(st->tmp_path);
	free(st->lock_path);
	free(st->dir);
	st->tmp_path = st->lock_path = st->dir = NULL;
}
