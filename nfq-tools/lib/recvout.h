/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A receiver's outputs, as tlstap-recv and tlstap-nfq write them: whole
 * records as JSON lines, raw records, or synthetic TCP connections
 * (lib/tcpsynth.c) in pcapng, one file or a rotated series, or onto a
 * TAP interface (--output, --out, --rotate-*); LOST lines with the
 * records in JSON output, else on --lost FILE or stderr, and for the
 * connections also as marks in them; the datagram log (--log-datagrams,
 * whose lines the tool writes itself).
 *
 * Files are lib/outfile.c's: opened (appending, locked) without a byte
 * written, started (--truncate, the pcapng header) only once the tool has
 * everything else, and written a record (line, block) at a time, whole
 * or not at all. The TAP interface is set up when the files are opened.
 */
#ifndef TLSTAP_NFQ_RECVOUT_H
#define TLSTAP_NFQ_RECVOUT_H

#include <stddef.h>
#include <stdio.h>

#include "jsonout.h"
#include "outfile.h"
#include "pcapng.h"
#include "reasm.h"
#include "recvopts.h"
#include "statprint.h"
#include "tapout.h"
#include "tcpsynth.h"

struct recvout {
	const struct recvopts *opt;
	const char *prog;
	struct outfile out;		/* --out, or standard output */
	struct outfile lost_file;	/* --lost FILE */
	struct outfile log_file;	/* --log-datagrams FILE */
	int have_out, have_lost_file, have_log_file;
	FILE *lost;			/* where LOST lines go */
	FILE *dgram_log;		/* where the tool writes its log lines */
	struct jsonout json;
	struct tcpsynth *synth;		/* --output pcapng, tap */
	struct pcapng *pcap;		/* --output pcapng */
	struct tapout tap;		/* --output tap */
	int have_tap;
};

/*
 * Each returns 0, or -1 with err saying what failed (a message for the
 * user, errno's text included).
 */

/*
 * Opens (creates, locks) the files, writing and truncating nothing, and
 * sets the TAP interface up.
 */
int recvout_open(struct recvout *ro, const struct recvopts *o,
		 const char *prog, char *err, size_t errlen);
/* Everything else started: --truncate, the pcapng header. */
int recvout_start(struct recvout *ro, char *err, size_t errlen);
/* The tool could not start: closes, removes the files it created. */
void recvout_abandon(struct recvout *ro);

int recvout_record(struct recvout *ro, const struct reasm_record *r,
		   char *err, size_t errlen);
int recvout_lost(struct recvout *ro, const struct reasm_lost *l, char *err,
		 size_t errlen);
/* A stream starts: pcapng writes its records in order from there. */
int recvout_stream_start(struct recvout *ro, const struct reasm_start *s,
			 char *err, size_t errlen);
/* The tool wrote one line to dgram_log. */
int recvout_logged(struct recvout *ro, char *err, size_t errlen);
/*
 * After every batch: a reader sees each record once it is complete (and a
 * series' file whose time is up is finished).
 */
int recvout_flush(struct recvout *ro, char *err, size_t errlen);

/*
 * How long the tool may wait for datagrams before recvout_flush() has
 * work (records held for earlier ones, a series' next file): ms, -1 if
 * there is none.
 */
int recvout_timeout_ms(const struct recvout *ro);
/* Flushed and on the disk (before a state file says so). */
int recvout_sync(struct recvout *ro, char *err, size_t errlen);
/*
 * At the end: what the synthesis still holds is written, everything
 * flushed, a series' last file finished.
 */
int recvout_finish(struct recvout *ro, char *err, size_t errlen);
/* Closes the files it opened and frees the rest, even on failure. */
int recvout_close(struct recvout *ro, char *err, size_t errlen);

/* What could not be written, all files together. */
void recvout_stats(const struct recvout *ro, struct outfile_stats *sum);

/* The synthesis's group of counters ("pcapng", "tap"), if it has one. */
void recvout_print_stats(const struct recvout *ro, struct statprint *sp);

/* For the start line: "json to FILE (appended)" and so on. */
void recvout_describe(const struct recvout *ro, char *buf, size_t len);

#endif
