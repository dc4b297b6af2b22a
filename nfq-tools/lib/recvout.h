/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A receiver's outputs, as tlstap-recv and tlstap-nfq write them: whole
 * records as JSON lines, raw records or pcapng (--output, --out); LOST
 * lines with the records in JSON output, else on --lost FILE or stderr,
 * and in pcapng also as marks in the flows; the datagram log
 * (--log-datagrams, written by the tool itself).
 */
#ifndef TLSTAP_NFQ_RECVOUT_H
#define TLSTAP_NFQ_RECVOUT_H

#include <stddef.h>
#include <stdio.h>

#include "jsonout.h"
#include "pcapng.h"
#include "reasm.h"
#include "recvopts.h"

struct recvout {
	const struct recvopts *opt;
	FILE *out, *lost, *dgram_log;
	struct jsonout json;
	struct pcapng *pcap;	/* --output pcapng */
};

/*
 * Each returns 0, or -1 with err saying what failed (a message for the
 * user, errno's text included).
 */
int recvout_open(struct recvout *ro, const struct recvopts *o,
		 const char *prog, char *err, size_t errlen);
int recvout_record(struct recvout *ro, const struct reasm_record *r,
		   char *err, size_t errlen);
int recvout_lost(struct recvout *ro, const struct reasm_lost *l, char *err,
		 size_t errlen);
/* After every batch: a reader sees each record once it is complete. */
int recvout_flush(struct recvout *ro, char *err, size_t errlen);
/* At the end: what pcapng still holds is written, everything flushed. */
int recvout_finish(struct recvout *ro, char *err, size_t errlen);
/* Closes the files it opened and frees the rest, even on failure. */
int recvout_close(struct recvout *ro, char *err, size_t errlen);

#endif
