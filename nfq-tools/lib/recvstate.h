/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A receiver's state file (--state FILE): per sender stream what the
 * reassembly core needs to continue it exactly in the next run (the
 * numbers of reasm_save()), so that a restart asks for nothing twice and
 * leaves nothing out. A versioned text format, one line per stream and
 * per range (man/tlstap-recv.8, FILES), replaced atomically (a temporary
 * file next to it, fsync, rename, fsync of the directory). FILE.lock,
 * held with flock() while the receiver runs, keeps a second receiver
 * from using the same state.
 *
 * A state file that cannot be read, of another version or not well
 * formed is refused with a message naming it and its line: the receiver
 * never silently starts without it.
 */
#ifndef TLSTAP_NFQ_RECVSTATE_H
#define TLSTAP_NFQ_RECVSTATE_H

#include <stddef.h>

#include "reasm.h"

#define RECVSTATE_VERSION	1
#define RECVSTATE_MAGIC		"tlstap-receiver-state"
/* How often a running receiver saves it, when anything changed. */
#define RECVSTATE_INTERVAL_MS	1000

struct recvstate {
	const char *path;
	char *tmp_path, *lock_path, *dir;
	int lock_fd;
	int existed;			/* the file was there at start */
	struct reasm_saved_stream *streams;	/* read, not restored yet */
	unsigned int nstreams, nevicted;
};

/*
 * Takes FILE.lock, checks that a file can be written next to FILE and
 * reads FILE if it exists (not finding it is fine: a first run). Nothing
 * is changed but the lock file. 0, or -1 with err saying why (naming the
 * file, and the line).
 */
int recvstate_open(struct recvstate *st, const char *path, char *err,
		   size_t errlen);

/*
 * Reads a state file's text from f (recvstate_open's reading, for a file
 * already open; name is what messages call it). 0, or -1 with err.
 */
int recvstate_read(struct recvstate *st, FILE *f, const char *name,
		   char *err, size_t errlen);

/* Hands what was read to the core (once). 0, or -1 if memory is short. */
int recvstate_restore(struct recvstate *st, struct reasm *r, char *err,
		      size_t errlen);

/* Writes the core's streams to FILE, atomically. 0, or -1 with err. */
int recvstate_save(struct recvstate *st, const struct reasm *r, char *err,
		   size_t errlen);

/* The text recvstate_save() writes, to f. 0, or -1 with errno. */
int recvstate_write(const struct reasm *r, FILE *f);

/* Releases the lock and what it holds. */
void recvstate_close(struct recvstate *st);

#endif
