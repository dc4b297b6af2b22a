// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "outfile.h"

static const char *const kind_names[OUTFILE_KINDS] = {
	[OUTFILE_RECORD] = "records",
	[OUTFILE_LOST] = "LOST lines",
	[OUTFILE_LOG] = "log lines",
};

static const char *name(const struct outfile *o)
{
	return o->path ? o->path : "standard output";
}

static int failed(const struct outfile *o, char *err, size_t errlen,
		  const char *what)
{
	snprintf(err, errlen, "%s %s: %s", what, name(o), strerror(errno));
	return -1;
}

/* The stdio stream's writes: into the buffer, never to the file. */
static ssize_t collect(void *cookie, const char *data, size_t size)
{
	struct outfile *o = cookie;

	if (o->len + size > o->cap) {
		size_t cap = o->cap ? o->cap : 65536;
		uint8_t *grown;

		while (cap < o->len + size)
			cap *= 2;
		grown = realloc(o->buf, cap);
		if (!grown) {
			errno = ENOMEM;
			return -1;
		}
		o->buf = grown;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, data, size);
	o->len += size;
	return (ssize_t)size;
}

int outfile_open(struct outfile *o, const char *prog, const char *path,
		 int truncate, char *err, size_t errlen)
{
	static const cookie_io_functions_t io = { .write = collect };
	struct stat sb;

	memset(o, 0, sizeof(*o));
	o->prog = prog;
	o->path = path;
	o->truncate = truncate;
	o->fd = STDOUT_FILENO;
	if (path) {
		/* Made here, it is removed again if the start fails. */
		o->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
					   O_CLOEXEC, 0666);
		if (o->fd >= 0)
			o->created = 1;
		else if (errno == EEXIST)
			o->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (o->fd < 0)
			return failed(o, err, errlen, "opening");
	}
	if (fstat(o->fd, &sb))
		return failed(o, err, errlen, "inspecting");
	o->regular = S_ISREG(sb.st_mode);
	o->size = sb.st_size;
	if (o->regular && flock(o->fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK) {
			snprintf(err, errlen, "%s: another process is writing it (it is locked): refusing to share it",
				 name(o));
			return -1;
		}
		return failed(o, err, errlen, "locking");
	}
	o->f = fopencookie(o, "w", io);
	if (!o->f)
		return failed(o, err, errlen, "a stream for");
	return 0;
}

int outfile_start(struct outfile *o, char *err, size_t errlen)
{
	if (!o->truncate || !o->regular || !o->size)
		return 0;
	if (ftruncate(o->fd, 0))
		return failed(o, err, errlen, "truncating");
	o->size = 0;
	return 0;
}

static void release(struct outfile *o)
{
	if (o->f)
		fclose(o->f);
	if (o->path && o->fd >= 0)
		close(o->fd);
	free(o->buf);
	free(o->ends);
	free(o->kinds);
	free(o->header);
	o->f = NULL;
	o->fd = -1;
	o->buf = o->header = o->kinds = NULL;
	o->ends = NULL;
}

void outfile_abandon(struct outfile *o)
{
	if (o->created)
		unlink(o->path);
	release(o);
}

int outfile_end_unit(struct outfile *o, enum outfile_unit kind, char *err,
		     size_t errlen)
{
	size_t start = o->nunits ? o->ends[o->nunits - 1] : 0;

	if (fflush(o->f) || ferror(o->f)) {
		clearerr(o->f);
		return failed(o, err, errlen, "collecting output for");
	}
	if (o->len == start)
		return 0;
	if (kind == OUTFILE_HEADER) {
		size_t n = o->len - start;
		uint8_t *h = realloc(o->header, o->header_len + n);

		if (!h)
			return failed(o, err, errlen, "collecting output for");
		memcpy(h + o->header_len, o->buf + start, n);
		o->header = h;
		o->header_len += n;
		o->len = start;
		return 0;
	}
	if (o->nunits == o->unit_cap) {
		unsigned int cap = o->unit_cap ? 2 * o->unit_cap : 64;
		size_t *ends = realloc(o->ends, cap * sizeof(*ends));
		uint8_t *kinds;

		if (!ends)
			return failed(o, err, errlen, "collecting output for");
		o->ends = ends;
		kinds = realloc(o->kinds, cap);
		if (!kinds)
			return failed(o, err, errlen, "collecting output for");
		o->kinds = kinds;
		o->unit_cap = cap;
	}
	o->ends[o->nunits] = o->len;
	o->kinds[o->nunits] = (uint8_t)kind;
	o->nunits++;
	return o->len >= OUTFILE_BUFFER ? outfile_flush(o, err, errlen) : 0;
}

/* Errors a later write may not meet: the units are lost, not the run. */
static int transient(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EIO || e == EFBIG;
}

/* write() until all of it is written or it fails; *done: bytes written. */
static int write_all(struct outfile *o, const uint8_t *p, size_t len,
		     size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = write(o->fd, p + *done, len - *done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = EIO;
			return -1;
		}
		*done += (size_t)n;
		o->size += n;
	}
	return 0;
}

/*
 * Cuts the file back to size (a unit written in part). If that fails too,
 * nothing more is written until it succeeds. 0, or -1 with errno.
 */
static int cut(struct outfile *o, off_t size)
{
	o->cut_to = size;
	o->cut_pending = 0;
	/* A pipe takes what it took: nothing to cut, and no disk to fill. */
	if (!o->regular)
		return 0;
	if (ftruncate(o->fd, size)) {
		o->cut_pending = 1;
		return -1;
	}
	o->size = size;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const struct outfile *o, const char *head,
		const unsigned long long *counts, const char *tail)
{
	const char *sep = "";

	fprintf(stderr, "%s: %s: %s", o->prog, name(o), head);
	for (int k = 0; k < OUTFILE_KINDS; k++) {
		if (!counts[k])
			continue;
		fprintf(stderr, "%s%llu %s", sep, counts[k], kind_names[k]);
		sep = ", ";
	}
	fprintf(stderr, "%s\n", tail);
}

/* Units from first on are lost to err: counted, and said. */
static void lose(struct outfile *o, unsigned int first, int err)
{
	uint64_t now = now_ms();
	char tail[160];

	o->st.write_errors++;
	for (unsigned int i = first; i < o->nunits; i++) {
		o->st.unwritten[o->kinds[i]]++;
		o->lost_since[o->kinds[i]]++;
		o->lost_episode[o->kinds[i]]++;
	}
	if (o->failing && err == o->last_errno &&
	    now - o->reported_ms < OUTFILE_REPORT_MS)
		return;
	snprintf(tail, sizeof(tail), " not written%s (%s); retrying",
		 o->failing ? " since the last report" : "", strerror(err));
	say(o, "", o->lost_since, tail);
	memset(o->lost_since, 0, sizeof(o->lost_since));
	o->failing = 1;
	o->last_errno = err;
	o->reported_ms = now;
}

static void recovered(struct outfile *o)
{
	if (!o->failing)
		return;
	say(o, "writing again; ", o->lost_episode, " were not written");
	memset(o->lost_episode, 0, sizeof(o->lost_episode));
	memset(o->lost_since, 0, sizeof(o->lost_since));
	o->failing = 0;
}

int outfile_flush(struct outfile *o, char *err, size_t errlen)
{
	size_t total = o->nunits ? o->ends[o->nunits - 1] : 0, done, keep;
	unsigned int whole;
	off_t before;
	int e;

	if (!total && !o->header_len)
		return 0;
	if (o->cut_pending && cut(o, o->cut_to)) {
		lose(o, 0, errno);
		goto reset;
	}
	before = o->size;
	if (o->header_len) {
		if (write_all(o, o->header, o->header_len, &done)) {
			e = errno;
			if (!transient(e))
				return failed(o, err, errlen, "writing");
			if (done)
				cut(o, before);
			lose(o, 0, e);
			goto reset;
		}
		free(o->header);
		o->header = NULL;
		o->header_len = 0;
		before = o->size;
	}
	if (!write_all(o, o->buf, total, &done)) {
		recovered(o);
		goto reset;
	}
	e = errno;
	if (!transient(e))
		return failed(o, err, errlen, "writing");
	for (whole = 0; whole < o->nunits && o->ends[whole] <= done; whole++)
		;
	keep = whole ? o->ends[whole - 1] : 0;
	if (done > keep)
		cut(o, before + (off_t)keep);
	lose(o, whole, e);
reset:
	/* A unit under way (written in part into f) stays. */
	if (o->len > total)
		memmove(o->buf, o->buf + total, o->len - total);
	o->len -= total;
	o->nunits = 0;
	return 0;
}

int outfile_sync(struct outfile *o, char *err, size_t errlen)
{
	if (o->regular && fsync(o->fd) && errno != EINVAL)
		return failed(o, err, errlen, "syncing");
	return 0;
}

int outfile_close(struct outfile *o, char *err, size_t errlen)
{
	int rc = 0;

	if (!o->f)
		return 0;
	rc = outfile_flush(o, err, errlen);
	if (o->path && o->fd >= 0 && close(o->fd) && !rc)
		rc = failed(o, err, errlen, "closing");
	o->fd = -1;
	release(o);
	return rc;
}
