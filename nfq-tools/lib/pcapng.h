/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The frames of lib/tcpsynth.c as a pcapng capture: a section header
 * (shb_userappl the tool), one interface (LINKTYPE_ETHERNET, nanosecond
 * timestamps), then one enhanced packet block per frame, in this host's
 * byte order. Each record's frames are one unit of lib/outfile.c: in the
 * file whole or not at all.
 *
 * One file (a receiver's --out, or standard output), or a series rotated
 * like dumpcap's ring buffer: a new file once the current one holds
 * rotate_bytes, or is rotate_seconds old, at a record's boundary. Each
 * file is a capture of its own (its section header first); connections
 * go on from one to the next with their sequence numbers. A file is
 * written under a hidden name and renamed to its own once finished, so
 * that whoever watches the directory never reads half a file; of the
 * finished files, the rotate_files newest this run made are kept.
 */
#ifndef TLSTAP_NFQ_PCAPNG_H
#define TLSTAP_NFQ_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#include "outfile.h"
#include "tcpsynth.h"

#define PCAPNG_LINKTYPE_ETHERNET	1

struct pcapng_config {
	const char *prog;		/* shb_userappl; the outfiles' messages */
	const char *series;		/* a series' path pattern; NULL: one file */
	uint64_t rotate_bytes;		/* a new file past this (0: never) */
	unsigned int rotate_seconds;	/* or once this old (0: never) */
	unsigned int rotate_files;	/* finished files kept (0: all) */
};

struct pcapng_stats {
	unsigned long long file_bytes;	/* all files */
	unsigned long long files;	/* finished: renamed to their names */
	unsigned long long files_removed;	/* beyond rotate_files */
};

struct pcapng;

/*
 * One file: out, opened and started by the caller, who flushes and
 * closes it. NULL with errno set when memory is short.
 */
struct pcapng *pcapng_new(const struct pcapng_config *cfg,
			  struct outfile *out);

/*
 * A series (cfg->series "DIR/NAME.EXT": files DIR/NAME_NNNNN_TIME.EXT,
 * written as DIR/.NAME_NNNNN_TIME.EXT.part, DIR/.NAME.EXT.lock held):
 * takes the series and creates its first file, writing nothing. NULL
 * with err saying why.
 */
struct pcapng *pcapng_open_series(const struct pcapng_config *cfg, char *err,
				  size_t errlen);

/* Everything else started: the first file's header. 0, or -1 with err. */
int pcapng_start(struct pcapng *p, char *err, size_t errlen);

/* The tool could not start: removes the file it created; frees p. */
void pcapng_abandon(struct pcapng *p);

/* tcpsynth's sink (arg: the struct pcapng). 0, or -1 (pcapng_error()). */
int pcapng_frame(void *arg, const struct tcpsynth_frame *f);
int pcapng_unit_done(void *arg);
/* tcpsynth's sink: the number of the file written now (one file: 0). */
unsigned long pcapng_file(void *arg);

/* Why the last call failed. */
const char *pcapng_error(const struct pcapng *p);

/*
 * When the current file of a series is due to be finished (CLOCK_MONOTONIC
 * ns), 0 if never; pcapng_tick() finishes it then and starts the next.
 */
uint64_t pcapng_deadline(const struct pcapng *p);
int pcapng_tick(struct pcapng *p, uint64_t now_ns, char *err,
		size_t errlen);

/* A series' current file: its units written; on the disk. */
int pcapng_flush(struct pcapng *p, char *err, size_t errlen);
int pcapng_sync(struct pcapng *p, char *err, size_t errlen);

/*
 * The end: a series' current file finished (renamed to its name), no
 * next one begun. 0, or -1 with err.
 */
int pcapng_finish(struct pcapng *p, char *err, size_t errlen);

/* Finishes as pcapng_finish() if need be, frees p even on failure. */
int pcapng_close(struct pcapng *p, char *err, size_t errlen);

const struct pcapng_stats *pcapng_stats(const struct pcapng *p);

/* What a series' files could not write, added to *sum (one file: none). */
void pcapng_outfile_stats(const struct pcapng *p, struct outfile_stats *sum);

/* For the start line: "DIR/NAME_NNNNN_TIME.EXT, a new file every ...". */
void pcapng_describe(const struct pcapng *p, char *buf, size_t len);

#endif
