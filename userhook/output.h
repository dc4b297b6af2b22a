/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Where records go: /dev/tlstap (a character device), a Unix datagram or
 * seqpacket socket, or a FIFO. Opened lazily; one write per record; never
 * a partial record.
 *
 * on_full = drop (default): the descriptor is non-blocking and a record
 * that does not fit, or finds no receiver, is dropped. on_full = block:
 * the descriptor is blocking and the writer waits for room (a missing
 * output still drops: nobody waits for a receiver that does not exist).
 *
 * /dev/tlstap: records carry at most the module's max_record (sysfs) of
 * plaintext, read when the device is opened.
 *
 * FIFO: a pipe is a byte stream, so a record is written only whole. Writes
 * of at most PIPE_BUF bytes are atomic (all or, non-blocking, EAGAIN), so
 * records into a FIFO carry at most PIPE_BUF - header bytes of plaintext;
 * larger writes become several records. This keeps records whole even
 * when several processes share one FIFO.
 */
#ifndef TLSTAP_OUTPUT_H
#define TLSTAP_OUTPUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "line.h"

/* Our descriptor stays out of the range programs hand out and expect. */
#define OUTPUT_FD_FLOOR		100
#define OUTPUT_RETRY_NS		1000000000ull	/* reopen at most once a second */
#define OUTPUT_SOCKET_SNDBUF	(1 << 20)	/* asked for; wmem_max caps it */

enum output_kind {
	OUTPUT_CLOSED,
	OUTPUT_DEVICE,
	OUTPUT_SOCKET,
	OUTPUT_FIFO,
};

struct output {
	char path[CONFIG_MAX_IF + 1];
	bool block;
	pthread_mutex_t lock;		/* serializes open and reopen */

	_Atomic int fd;			/* -1: none */
	_Atomic int kind;		/* enum output_kind */
	_Atomic bool dead;		/* fd open but its receiver went away */
	_Atomic uint64_t retry_at;	/* CLOCK_MONOTONIC_COARSE ns */
	_Atomic int error;		/* errno of the last open that failed, or 0 */
	_Atomic size_t device_max;	/* plaintext per record, for /dev/tlstap */
};

/* out->lock is initialized statically: fork handlers take it at any time. */
void output_init(struct output *out, const char *path, bool block);

/*
 * Opens the output if needed (rate-limited). Returns the plaintext bytes
 * one record may carry, or 0 when there is no usable output now (then
 * out->error says why, if an open failed).
 */
size_t output_ready(struct output *out);

/*
 * Why path cannot be opened as an output (err: the open's errno), for a
 * person: the error and, where one helps, what to do about it (the
 * module's device missing, a socket the user may not write...). Shared
 * by the library's reports and tlstap-run. Async-signal-safe.
 */
void output_explain(struct line *l, const char *path, int err);

/*
 * The plaintext bytes a record may carry when the output is open, else
 * 0; never opens it, takes no lock: async-signal-safe.
 */
size_t output_open_max(struct output *out);

/*
 * Writes one whole record: 0, or -1 when it was dropped. nowait: never
 * waits, whatever on_full says (a blocking device or FIFO then drops).
 */
int output_send(struct output *out, const void *hdr, size_t hdr_len,
		const void *payload, size_t len, bool nowait);

/*
 * The program is closing or replacing descriptors [first, last]: if ours
 * is among them, forget it (it is no longer ours to write to) and return
 * it, else -1. Lock-free and async-signal-safe: close() may be called
 * from a signal handler.
 */
int output_fd_closing(struct output *out, unsigned int first,
		      unsigned int last);

/* That close or dup failed and released nothing: fd is ours again. */
void output_fd_kept(struct output *out, int fd);

#endif /* TLSTAP_OUTPUT_H */
