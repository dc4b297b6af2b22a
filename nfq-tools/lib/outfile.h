/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * An output file of a receiver, written in units (a record, a LOST line,
 * a line of the datagram log, the pcapng section header): a unit reaches
 * the file whole or not at all.
 *
 * Opening takes the file (O_APPEND, created if missing, flock()ed so that
 * a second receiver cannot write into it) and writes nothing; only
 * outfile_start(), once everything else has started, may empty it
 * (--truncate); outfile_abandon() removes a file that opening created.
 *
 * Writers format into the stdio stream f; each unit is collected in
 * memory and written with write() when flushed. A write that fails with
 * ENOSPC, EDQUOT, EIO or EFBIG (disk full, quota, a failing disk, a size
 * limit) loses the units it could not write: what it wrote of the first
 * of them is cut off again (ftruncate), they are counted, the failure is
 * said on stderr at once and then at most every OUTFILE_REPORT_MS while it
 * lasts, and the next flush tries again. A header unit is kept until it
 * is written: nothing is written before it.
 */
#ifndef TLSTAP_NFQ_OUTFILE_H
#define TLSTAP_NFQ_OUTFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define OUTFILE_REPORT_MS	10000
/* Collected units are written once they reach this, flushed or not. */
#define OUTFILE_BUFFER		(1u << 20)

enum outfile_unit {
	OUTFILE_RECORD,
	OUTFILE_LOST,
	OUTFILE_LOG,
	OUTFILE_KINDS,
	OUTFILE_HEADER = OUTFILE_KINDS,	/* precedes everything; kept until written */
};

struct outfile_stats {
	unsigned long long unwritten[OUTFILE_KINDS];	/* units lost */
	unsigned long long write_errors;		/* failed writes */
};

struct outfile {
	const char *prog;
	const char *path;		/* NULL: standard output */
	int fd;
	int created;			/* by outfile_open */
	int regular;			/* what is cut short can be cut off */
	int truncate;			/* emptied by outfile_start */
	off_t size;			/* the file's, as written */
	FILE *f;			/* where writers write a unit */
	uint8_t *buf;			/* units not written yet */
	size_t len, cap;
	size_t *ends;			/* where each unit ends in buf */
	uint8_t *kinds;
	unsigned int nunits, unit_cap;
	uint8_t *header;		/* a header unit not written yet */
	size_t header_len;
	int cut_pending;		/* a partial unit could not be cut off */
	off_t cut_to;			/* ... past this size */
	/* The failure being reported: since when, what was said. */
	int failing, last_errno;
	uint64_t reported_ms;
	unsigned long long lost_since[OUTFILE_KINDS];	/* since said */
	unsigned long long lost_episode[OUTFILE_KINDS];
	struct outfile_stats st;
};

/*
 * path NULL: standard output. 0, or -1 with err (naming the file): it
 * cannot be opened, or another process holds its lock.
 */
int outfile_open(struct outfile *o, const char *prog, const char *path,
		 int truncate, char *err, size_t errlen);

/* Everything else started: --truncate empties it now. 0, or -1 with err. */
int outfile_start(struct outfile *o, char *err, size_t errlen);

/* Start failed: closes, and removes the file if opening created it. */
void outfile_abandon(struct outfile *o);

/*
 * What was written to f since the last unit is one unit of the given kind.
 * 0, or -1 with err (memory is short, or a fatal write error).
 */
int outfile_end_unit(struct outfile *o, enum outfile_unit kind, char *err,
		     size_t errlen);

/*
 * Writes the collected units. -1 with err only for an error that retrying
 * cannot cure (EBADF, EPIPE ...); disk full and the like are counted.
 */
int outfile_flush(struct outfile *o, char *err, size_t errlen);

/* fsync() of a regular file (before a state file says it holds a record). */
int outfile_sync(struct outfile *o, char *err, size_t errlen);

/* Flushes and closes (standard output stays open). 0, or -1 with err. */
int outfile_close(struct outfile *o, char *err, size_t errlen);

#endif
