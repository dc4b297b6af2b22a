/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The options tlstap-recv and tlstap-nfq share: where records, LOST lines
 * and the datagram log go (appended to, or --truncate), the state file,
 * the senders taken (--allow), the reassembly core's limits and NACK
 * timing, the receive buffer and the counters' format. One parser, so
 * that the two take them alike.
 */
#ifndef TLSTAP_NFQ_RECVOPTS_H
#define TLSTAP_NFQ_RECVOPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "reasm.h"

enum recv_output { RECV_OUT_JSON, RECV_OUT_RAW, RECV_OUT_PCAPNG, RECV_OUT_TAP };

#define RECVOPTS_MAX_ALLOW	64
/* Evicted streams remembered, per stream tracked (--max-streams). */
#define RECVOPTS_EVICTED_PER_STREAM	4

struct recvopts {
	enum recv_output output;
	const char *tap_name;		/* --output tap:NAME */
	const char *out_path;		/* NULL: stdout */
	const char *lost_path;		/* NULL: see recvout_open() */
	const char *dgram_log_path;	/* NULL: none */
	int truncate;			/* empty the files at start */
	const char *state_path;		/* NULL: none */
	struct addr_prefix allow[RECVOPTS_MAX_ALLOW];
	unsigned int nallow;		/* 0: any sender */
	uint32_t max_record;
	size_t max_pending;
	unsigned int max_streams;
	unsigned int nack_timeout_ms;
	unsigned int nack_tries;
	int rcvbuf;
	int stats_json;
	/* pcapng into a series of files (--out the pattern); 0: never. */
	unsigned long rotate_mb;
	unsigned int rotate_seconds;
	unsigned int rotate_files;
};

/* --rcvbuf's default, for the tools' help lines. */
#define RECVOPTS_DEFAULT_RCVBUF	(16 << 20)

/* getopt_long values of RECVOPTS_LONGOPTS; a tool's own come after. */
enum {
	RECVOPT_OUTPUT = 0x100, RECVOPT_OUT, RECVOPT_LOST, RECVOPT_LOGDG,
	RECVOPT_MAXREC, RECVOPT_PENDING, RECVOPT_STREAMS, RECVOPT_NACK_TIMEOUT,
	RECVOPT_NACK_TRIES, RECVOPT_RCVBUF, RECVOPT_JSON, RECVOPT_TRUNCATE,
	RECVOPT_STATE, RECVOPT_ALLOW, RECVOPT_ROTATE_SIZE, RECVOPT_ROTATE_SECS,
	RECVOPT_ROTATE_FILES, RECVOPT_END
};

#define RECVOPTS_LONGOPTS						      \
	{ "output", required_argument, NULL, RECVOPT_OUTPUT },		      \
	{ "out", required_argument, NULL, RECVOPT_OUT },		      \
	{ "lost", required_argument, NULL, RECVOPT_LOST },		      \
	{ "log-datagrams", required_argument, NULL, RECVOPT_LOGDG },	      \
	{ "max-record", required_argument, NULL, RECVOPT_MAXREC },	      \
	{ "max-pending", required_argument, NULL, RECVOPT_PENDING },	      \
	{ "max-streams", required_argument, NULL, RECVOPT_STREAMS },	      \
	{ "nack-timeout-ms", required_argument, NULL, RECVOPT_NACK_TIMEOUT }, \
	{ "nack-tries", required_argument, NULL, RECVOPT_NACK_TRIES },	      \
	{ "rcvbuf", required_argument, NULL, RECVOPT_RCVBUF },		      \
	{ "stats-json", no_argument, NULL, RECVOPT_JSON },		      \
	{ "truncate", no_argument, NULL, RECVOPT_TRUNCATE },		      \
	{ "state", required_argument, NULL, RECVOPT_STATE },		      \
	{ "allow", required_argument, NULL, RECVOPT_ALLOW },		      \
	{ "rotate-size", required_argument, NULL, RECVOPT_ROTATE_SIZE },      \
	{ "rotate-seconds", required_argument, NULL, RECVOPT_ROTATE_SECS },   \
	{ "rotate-files", required_argument, NULL, RECVOPT_ROTATE_FILES }

/* The defaults. */
void recvopts_init(struct recvopts *o);

/*
 * getopt_long's answer c (with its optarg arg): 1 if it was one of
 * RECVOPTS_LONGOPTS, now taken, 0 if not. A bad value is a usage error
 * (cli_usage_error()).
 */
int recvopts_parse(struct recvopts *o, const char *prog, int c,
		   const char *arg);

/* After the last option: options that do not go together die. */
void recvopts_check(const struct recvopts *o, const char *prog);

/*
 * The help lines of the options but --log-datagrams and --rcvbuf, whose
 * meaning each tool words for itself.
 */
void recvopts_usage(FILE *f);

void recvopts_reasm_config(const struct recvopts *o, struct reasm_config *cfg);

/*
 * The senders taken, for the start line: "any sender (...)" with a
 * warning, or the prefixes.
 */
void recvopts_senders(const struct recvopts *o, char *buf, size_t len);

#endif
