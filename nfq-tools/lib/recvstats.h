/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The receivers' counters (docs/PROTOCOL.md 5.4), printed alike by
 * tlstap-recv and tlstap-nfq: the reassembly core's, the outputs', the
 * pcapng writer's, and a table of where each stream stands.
 */
#ifndef TLSTAP_NFQ_RECVSTATS_H
#define TLSTAP_NFQ_RECVSTATS_H

#include <stdio.h>

#include "outfile.h"
#include "pcapng.h"
#include "tapout.h"
#include "tcpsynth.h"
#include "ratelog.h"
#include "reasm.h"
#include "statprint.h"

/* The core's counters, into the object being printed. */
void recvstats_reasm(struct statprint *sp, const struct reasm_stats *s);

/* What the output files could not take, as the group "output". */
void recvstats_output(struct statprint *sp, const struct outfile_stats *o);

/*
 * The synthesis's and its sink's, as the group "pcapng" (p given) or
 * "tap" (t given).
 */
void recvstats_synth(struct statprint *sp, const struct tcpsynth_stats *s,
		     const struct pcapng_stats *p, const struct tapout_stats *t);

/*
 * A stream that starts where the receiver cannot see its beginning, one
 * line (rate-limited): "PROG: stream SENDER/ID: starting at seq N ..."
 * when joined, "... resumed at seq N ..." after an eviction. Nothing for
 * a stream from seq 0, or one restored from the state file.
 */
void recvstats_start(struct ratelog *log, const struct reasm_start *s);

/*
 * Where each stream stands, as a table: a line "PROG: streams", a line of
 * column names (sender/stream, next_seq, missing_seqs, expired_seqs,
 * next_record_id, incomplete_records, missing_record_ids,
 * nacking_ranges), then a line per stream, each followed by up to 8 of
 * its missing seq ranges ("missing seq A..B"). Nothing without streams.
 */
void recvstats_streams(FILE *f, const char *prog, const struct reasm *r);

#endif
