// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A series' names, in the directory of its pattern DIR/NAME.EXT (EXT: the
 * pattern's part after its last dot, if any):
 *	NAME_NNNNN_YYYYmmddHHMMSS.EXT	a finished file: number (from one
 *					past the highest in the directory),
 *					UTC time it was started
 *	.NAME_NNNNN_YYYYmmddHHMMSS.EXT.part	the file being written
 *	.NAME.EXT.lock			flock()ed while a receiver writes the
 *					series
 * A file is finished by flushing it, fsync(), renaming it to its name
 * (renameat2 RENAME_NOREPLACE: never over another file) and fsync() of
 * the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include "pcapng.h"

#define BT_SHB		0x0A0D0D0Au
#define BT_IDB		0x00000001u
#define BT_EPB		0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_END		0
#define OPT_COMMENT	1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME	2
#define OPT_IF_TSRESOL	9

#define SERIES_DIGITS	5	/* NNNNN; more digits past 99999 */

struct pcapng {
	struct pcapng_config cfg;
	struct pcapng_stats st;
	struct outfile *out;		/* the file written now */
	char err[3 * PATH_MAX];
	/* A series. */
	struct outfile cur;		/* its current file */
	int have_cur;
	int lock_fd;
	char dir[PATH_MAX], name[NAME_MAX + 1], ext[NAME_MAX + 1];
	unsigned long number;		/* of the current file */
	char part[PATH_MAX + 2 * NAME_MAX + 64];	/* its two names */
	char final[PATH_MAX + 2 * NAME_MAX + 64];
	uint64_t started_ns;		/* CLOCK_MONOTONIC, when it began */
	uint64_t cur_bytes;
	char **kept;			/* finished files, oldest first */
	unsigned int nkept;
	struct outfile_stats done;	/* of the files finished */
};

const struct pcapng_stats *pcapng_stats(const struct pcapng *p)
{
	return &p->st;
}

const char *pcapng_error(const struct pcapng *p)
{
	return p->err;
}

static int failed(struct pcapng *p, const char *what, const char *path)
{
	snprintf(p->err, sizeof(p->err), "pcapng: %s %s: %s", what, path,
		 strerror(errno));
	return -1;
}

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --------------------------------------------------------------- blocks */

static int put(struct pcapng *p, const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, p->out->f) != len)
		return -1;
	p->st.file_bytes += len;
	p->cur_bytes += len;
	return 0;
}

static int put_u32(struct pcapng *p, uint32_t v)
{
	return put(p, &v, sizeof(v));
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static size_t option_size(size_t len)
{
	return 4 + pad4(len);
}

static int put_option(struct pcapng *p, uint16_t code, const void *val,
		      size_t len)
{
	static const uint8_t zeros[3];
	uint16_t hdr[2] = { code, (uint16_t)len };

	return put(p, hdr, sizeof(hdr)) || put(p, val, len) ||
	       put(p, zeros, pad4(len) - len);
}

/* The section header and the interface: a file's header unit. */
static int write_headers(struct pcapng *p)
{
	const char *app = p->cfg.prog;
	static const char ifname[] = "tlstap";
	static const uint8_t tsresol = 9;	/* 10^-9 s */
	uint32_t len = 24 + (uint32_t)option_size(strlen(app)) + 4 + 4;
	uint16_t ver[2] = { 1, 0 };
	int64_t section_len = -1;	/* not known in advance */
	uint16_t link[2] = { PCAPNG_LINKTYPE_ETHERNET, 0 };
	char err[256];

	if (put_u32(p, BT_SHB) || put_u32(p, len) ||
	    put_u32(p, BYTE_ORDER_MAGIC) || put(p, ver, sizeof(ver)) ||
	    put(p, &section_len, sizeof(section_len)) ||
	    put_option(p, OPT_SHB_USERAPPL, app, strlen(app)) ||
	    put_option(p, OPT_END, NULL, 0) || put_u32(p, len))
		return failed(p, "writing the section header of",
			      p->out->path ? p->out->path : "standard output");
	len = 16 + (uint32_t)(option_size(sizeof(ifname) - 1) +
			      option_size(1)) + 4 + 4;
	if (put_u32(p, BT_IDB) || put_u32(p, len) ||
	    put(p, link, sizeof(link)) || put_u32(p, 0) /* snaplen */ ||
	    put_option(p, OPT_IF_NAME, ifname, sizeof(ifname) - 1) ||
	    put_option(p, OPT_IF_TSRESOL, &tsresol, 1) ||
	    put_option(p, OPT_END, NULL, 0) || put_u32(p, len))
		return failed(p, "writing the interface of",
			      p->out->path ? p->out->path : "standard output");
	if (outfile_end_unit(p->out, OUTFILE_HEADER, err, sizeof(err))) {
		snprintf(p->err, sizeof(p->err), "%s", err);
		return -1;
	}
	return 0;
}

int pcapng_frame(void *arg, const struct tcpsynth_frame *f)
{
	static const uint8_t zeros[3];
	struct pcapng *p = arg;
	size_t clen = f->comment ? strlen(f->comment) : 0;
	uint32_t total = (uint32_t)(28 + pad4(f->len) +
				    (clen ? option_size(clen) + 4 : 0) + 4);
	uint32_t hdr[7] = { BT_EPB, total, 0, (uint32_t)(f->ts_ns >> 32),
			    (uint32_t)f->ts_ns, (uint32_t)f->len,
			    (uint32_t)f->len };

	if (put(p, hdr, sizeof(hdr)) || put(p, f->data, f->len) ||
	    put(p, zeros, pad4(f->len) - f->len) ||
	    (clen && (put_option(p, OPT_COMMENT, f->comment, clen) ||
		      put_option(p, OPT_END, NULL, 0))) ||
	    put_u32(p, total))
		return failed(p, "writing a packet to",
			      p->out->path ? p->out->path : "standard output");
	return 0;
}

/* ---------------------------------------------------------------- series */

/* "DIR/NAME.EXT" into its parts; 0, or -1 with err. */
static int split_pattern(struct pcapng *p, const char *pattern)
{
	const char *slash = strrchr(pattern, '/'), *base, *dot;
	size_t dlen;

	base = slash ? slash + 1 : pattern;
	dlen = slash ? (size_t)(slash - pattern) : 1;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") ||
	    dlen + strlen(base) + 40 >= PATH_MAX) {
		snprintf(p->err, sizeof(p->err), "pcapng: %s: not a file name to number", pattern);
		return -1;
	}
	if (slash)
		snprintf(p->dir, sizeof(p->dir), "%.*s", (int)dlen, pattern);
	else
		strcpy(p->dir, ".");
	if (!p->dir[0])
		strcpy(p->dir, "/");
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		dot = base + strlen(base);
	snprintf(p->name, sizeof(p->name), "%.*s", (int)(dot - base), base);
	snprintf(p->ext, sizeof(p->ext), "%s", dot);
	return 0;
}

/*
 * The number in "[.]NAME_NNNNN_..." (a file of this series, finished or
 * not), or 0.
 */
static unsigned long series_number(const struct pcapng *p, const char *d)
{
	size_t nlen = strlen(p->name);
	unsigned long n;
	char *end;

	if (*d == '.')
		d++;
	if (strncmp(d, p->name, nlen) || d[nlen] != '_')
		return 0;
	d += nlen + 1;
	if (*d < '0' || *d > '9')
		return 0;
	errno = 0;
	n = strtoul(d, &end, 10);
	return !errno && *end == '_' ? n : 0;
}

/* One past the highest number the directory has for this series. */
static int next_number(struct pcapng *p)
{
	DIR *d = opendir(p->dir);
	struct dirent *e;

	if (!d)
		return failed(p, "reading the directory", p->dir);
	p->number = 0;
	while ((e = readdir(d)))
		if (series_number(p, e->d_name) > p->number)
			p->number = series_number(p, e->d_name);
	closedir(d);
	p->number++;
	return 0;
}

/* The current file's two names, for its number and the time now. */
static void file_names(struct pcapng *p)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	snprintf(p->final, sizeof(p->final), "%s/%s_%0*lu_%s%s", p->dir,
		 p->name, SERIES_DIGITS, p->number, stamp, p->ext);
	snprintf(p->part, sizeof(p->part), "%s/.%s_%0*lu_%s%s.part", p->dir,
		 p->name, SERIES_DIGITS, p->number, stamp, p->ext);
}

/* The next file of the series, created (never an existing one), empty. */
static int open_file(struct pcapng *p)
{
	char err[512];

	file_names(p);
	if (outfile_open(&p->cur, p->cfg.prog, p->part, 0, err, sizeof(err))) {
		snprintf(p->err, sizeof(p->err), "pcapng: %s", err);
		return -1;
	}
	if (!p->cur.created) {
		outfile_abandon(&p->cur);
		errno = EEXIST;
		return failed(p, "creating", p->part);
	}
	p->have_cur = 1;
	p->out = &p->cur;
	p->cur_bytes = 0;
	p->started_ns = now_mono_ns();
	return 0;
}

static void add_stats(struct outfile_stats *sum, const struct outfile_stats *s)
{
	for (int k = 0; k < OUTFILE_KINDS; k++)
		sum->unwritten[k] += s->unwritten[k];
	sum->write_errors += s->write_errors;
}

static int sync_dir(struct pcapng *p)
{
	int fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 ? -1 : fsync(fd);

	if (fd >= 0)
		close(fd);
	return rc ? failed(p, "syncing the directory", p->dir) : 0;
}

/* Keeps the newest rotate_files finished files of this run. */
static int keep(struct pcapng *p, const char *path)
{
	char *copy = strdup(path), **grown;

	grown = copy ? realloc(p->kept, (p->nkept + 1) * sizeof(*p->kept))
		     : NULL;
	if (!grown) {
		free(copy);
		return failed(p, "remembering", path);
	}
	p->kept = grown;
	p->kept[p->nkept++] = copy;
	while (p->cfg.rotate_files && p->nkept > p->cfg.rotate_files) {
		if (unlink(p->kept[0]) && errno != ENOENT)
			return failed(p, "removing", p->kept[0]);
		p->st.files_removed++;
		free(p->kept[0]);
		memmove(p->kept, p->kept + 1, --p->nkept * sizeof(*p->kept));
	}
	return 0;
}

/* The current file: written, on the disk, under its name. */
static int finish_file(struct pcapng *p)
{
	char err[512], err2[512];
	int rc;

	rc = outfile_flush(&p->cur, err, sizeof(err)) ||
	     outfile_sync(&p->cur, err, sizeof(err));
	if (outfile_close(&p->cur, err2, sizeof(err2)) && !rc) {
		rc = -1;
		memcpy(err, err2, sizeof(err));
	}
	add_stats(&p->done, &p->cur.st);
	p->have_cur = 0;
	if (rc) {
		snprintf(p->err, sizeof(p->err), "pcapng: %s", err);
		return -1;
	}
	if (renameat2(AT_FDCWD, p->part, AT_FDCWD, p->final,
		      RENAME_NOREPLACE)) {
		snprintf(p->err, sizeof(p->err), "pcapng: renaming %s to %s: %s (its records stay there)", p->part, p->final,
			 strerror(errno));
		return -1;
	}
	p->st.files++;
	return sync_dir(p) || keep(p, p->final);
}

/* The current file finished, the next one begun with its header. */
static int rotate(struct pcapng *p)
{
	p->number++;
	return finish_file(p) || open_file(p) || write_headers(p);
}

struct pcapng *pcapng_new(const struct pcapng_config *cfg,
			  struct outfile *out)
{
	struct pcapng *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->cfg.series = NULL;
	p->out = out;
	p->lock_fd = -1;
	return p;
}

struct pcapng *pcapng_open_series(const struct pcapng_config *cfg, char *err,
				  size_t errlen)
{
	struct pcapng *p = calloc(1, sizeof(*p));
	char lock[PATH_MAX + 2 * NAME_MAX + 16];

	if (!p) {
		snprintf(err, errlen, "pcapng: out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	p->lock_fd = -1;
	if (split_pattern(p, cfg->series))
		goto fail;
	snprintf(lock, sizeof(lock), "%s/.%s%s.lock", p->dir, p->name, p->ext);
	p->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (p->lock_fd < 0) {
		failed(p, "opening", lock);
		goto fail;
	}
	if (flock(p->lock_fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			snprintf(p->err, sizeof(p->err), "pcapng: %s: another process writes this series (%s is locked)",
				 cfg->series, lock);
		else
			failed(p, "locking", lock);
		goto fail;
	}
	if (next_number(p) || open_file(p))
		goto fail;
	return p;
fail:
	snprintf(err, errlen, "%s", p->err);
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	free(p);
	return NULL;
}

int pcapng_start(struct pcapng *p, char *err, size_t errlen)
{
	if (write_headers(p)) {
		snprintf(err, errlen, "%s", p->err);
		return -1;
	}
	return 0;
}

void pcapng_abandon(struct pcapng *p)
{
	if (!p)
		return;
	if (p->have_cur)
		outfile_abandon(&p->cur);
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	free(p);
}

int pcapng_unit_done(void *arg)
{
	struct pcapng *p = arg;
	char err[512];

	if (outfile_end_unit(p->out, OUTFILE_RECORD, err, sizeof(err))) {
		snprintf(p->err, sizeof(p->err), "%s", err);
		return -1;
	}
	if (p->have_cur && p->cfg.rotate_bytes &&
	    p->cur_bytes >= p->cfg.rotate_bytes)
		return rotate(p);
	return 0;
}

unsigned long pcapng_file(void *arg)
{
	const struct pcapng *p = arg;

	return p->number;
}

uint64_t pcapng_deadline(const struct pcapng *p)
{
	if (!p->have_cur || !p->cfg.rotate_seconds)
		return 0;
	return p->started_ns + p->cfg.rotate_seconds * 1000000000ull;
}

int pcapng_tick(struct pcapng *p, uint64_t now_ns, char *err, size_t errlen)
{
	uint64_t due = pcapng_deadline(p);

	if (!due || now_ns < due || !rotate(p))
		return 0;
	snprintf(err, errlen, "%s", p->err);
	return -1;
}

int pcapng_flush(struct pcapng *p, char *err, size_t errlen)
{
	return p->have_cur ? outfile_flush(&p->cur, err, errlen) : 0;
}

int pcapng_sync(struct pcapng *p, char *err, size_t errlen)
{
	return p->have_cur ? outfile_sync(&p->cur, err, errlen) : 0;
}

int pcapng_finish(struct pcapng *p, char *err, size_t errlen)
{
	if (!p->have_cur || !finish_file(p))
		return 0;
	snprintf(err, errlen, "%s", p->err);
	return -1;
}

int pcapng_close(struct pcapng *p, char *err, size_t errlen)
{
	int rc = pcapng_finish(p, err, errlen);

	if (p->lock_fd >= 0)
		close(p->lock_fd);
	for (unsigned int i = 0; i < p->nkept; i++)
		free(p->kept[i]);
	free(p->kept);
	free(p);
	return rc;
}

void pcapng_outfile_stats(const struct pcapng *p, struct outfile_stats *sum)
{
	add_stats(sum, &p->done);
	if (p->have_cur)
		add_stats(sum, &p->cur.st);
}

void pcapng_describe(const struct pcapng *p, char *buf, size_t len)
{
	char size[48] = "", secs[48] = "", files[48] = "";

	if (!p->cfg.series) {
		snprintf(buf, len, "one file");
		return;
	}
	if (p->cfg.rotate_bytes)
		snprintf(size, sizeof(size), ", at %llu MB",
			 (unsigned long long)(p->cfg.rotate_bytes / 1000000));
	if (p->cfg.rotate_seconds)
		snprintf(secs, sizeof(secs), ", after %u s",
			 p->cfg.rotate_seconds);
	if (p->cfg.rotate_files)
		snprintf(files, sizeof(files), ", the newest %u kept",
			 p->cfg.rotate_files);
	snprintf(buf, len, "%s/%s_NNNNN_TIME%s from number %lu, a new file%s%s%s",
		 p->dir, p->name, p->ext, p->number, size, secs, files);
}
