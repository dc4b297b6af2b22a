// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hookringwriter: a capture-ring producer for what no real program does,
 * built on userhook's ring module (ring_open(), the CREATE handshake with
 * tlstap-fwd) and shared/capring.h's producer steps.
 *
 *   hookringwriter die SOCKET N LEN DROPPED
 *	N records of LEN bytes committed, one ABANDONED (LEN bytes), one more
 *	committed, then one published with DROPPED in its header and never
 *	committed: then it SIGKILLs itself. Prints what a receiver must see
 *	as one JSON line first.
 *   hookringwriter scribble SOCKET SECONDS SEED
 *	Rings one after another: some valid records, then random bytes over
 *	the ring (desc, consumer line, positions, frames) and frames that
 *	break a rule, while tlstap-fwd drains; a new ring once tlstap-fwd has
 *	ended one. It also tries to change the memfd's size through
 *	/proc/self/map_files (root): the seals must refuse. Prints
 *	{"rings":N,"ended":N} at the end.
 *
 * The records are IPv4 flows 192.0.2.1:40000 -> 198.51.100.1:443, WRITE,
 * connection id CONN_ID; record i's plaintext is the byte (i + k) & 0xff
 * at position k.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#define CONN_ID		0x52494e4700000001ull
#define RING_KB		64

static void die(const char *what)
{
	fprintf(stderr, "hookringwriter: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct session_info flow(void)
{
	struct session_info si = { .conn_id = CONN_ID, .fd = -1 };

	si.flow.family = TLSTAP_FAMILY_IPV4;
	si.flow.local_port = 40000;
	si.flow.remote_port = 443;
	memcpy(si.flow.local_addr, "\xc0\x00\x02\x01", 4);
	memcpy(si.flow.remote_addr, "\xc6\x33\x64\x01", 4);
	return si;
}

static struct ring *open_ring(struct ring_table *t, const char *sock)
{
	struct ring *r;

	ring_table_init(t, sock, true, RING_KB, false);
	r = ring_slot_alloc(t);
	if (!r)
		die("no free ring slot");
	if (ring_open(t, r))
		die("ring_open");
	return r;
}

/* Claims and publishes record i of len bytes; NULL when the ring is full. */
static uint8_t *start_record(struct ring *r, const struct session_info *si,
			     unsigned int i, uint32_t len, uint64_t dropped)
{
	uint8_t *rec = capring_claim(&r->p, TLSTAP_RECORD_HDR_LEN + len);

	if (!rec)
		return NULL;
	record_header((struct tlstap_record *)rec, TLSTAP_RECORD_DATA,
		      TLSTAP_DIR_WRITE, si, len,
		      (uint32_t)getpid(), 1000000000ull + i, dropped);
	capring_publish(&r->p, TLSTAP_RECORD_HDR_LEN + len);
	return rec;
}

static void fill(uint8_t *rec, unsigned int i, uint32_t len)
{
	for (uint32_t k = 0; k < len; k++)
		rec[TLSTAP_RECORD_HDR_LEN + k] = (uint8_t)(i + k);
}

static int cmd_die(const char *sock, unsigned int n, uint32_t len,
		   uint64_t dropped)
{
	struct ring_table *t = calloc(1, sizeof(*t));
	struct session_info si = flow();
	struct ring *r;
	uint8_t *rec;
	unsigned int i;

	if (!t)
		die("calloc");
	r = open_ring(t, sock);
	for (i = 0; i < n + 2; i++) {
		while (!(rec = start_record(r, &si, i, len, 0)))
			usleep(1000);	/* tlstap-fwd drains on its timer */
		fill(rec, i, len);
		/* The one before the last: given up on, its bytes lost. */
		capring_commit(rec, i == n);
	}
	while (!(rec = start_record(r, &si, i, len, dropped)))
		usleep(1000);
	printf("{\"pid\":%d,\"conn_id\":%llu,\"records\":%u,\"len\":%u,\"abandoned\":%u,\"lost\":%llu}\n", getpid(),
	       (unsigned long long)CONN_ID, n + 1, len, len,
	       (unsigned long long)(dropped + len));
	fflush(stdout);
	/* Half its plaintext written, never committed. */
	memset(rec + TLSTAP_RECORD_HDR_LEN, 0x55, len / 2);
	kill(getpid(), SIGKILL);
	return 1;
}

/* xorshift64*: reproducible. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* The memfd's size is sealed: shrinking or growing it must fail. */
static void try_resize(struct ring *r)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)r->map, (unsigned long)(r->map + r->map_len));
	fd = open(path, O_RDWR);
	if (fd < 0)
		die(path);
	if (!ftruncate(fd, 4096) || !ftruncate(fd, (off_t)r->map_len * 2) ||
	    !fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)) {
		fprintf(stderr, "hookringwriter: the ring's memfd is not sealed\n");
		exit(1);
	}
	/* Allowed: the pages come back as zeros. */
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)r->map_len / 2, (off_t)r->map_len / 4))
		die("punching a hole");
	close(fd);
}

/* One of the ways a producer can break the rules. */
static void scribble(struct ring *r, const struct session_info *si,
		     uint64_t *seed)
{
	uint64_t x = rnd(seed);
	uint32_t data = r->p.data_size, off = (uint32_t)(x >> 8) % data;
	uint8_t *rec;

	switch (x % 7) {
	case 0:		/* random bytes anywhere, desc and consumer line too */
		for (int i = 0; i < 64; i++)
			r->map[rnd(seed) % r->map_len] = (uint8_t)rnd(seed);
		break;
	case 1:		/* a position that cannot be */
		capring_store_release(&r->prod->prod_pos, (uint32_t)rnd(seed));
		break;
	case 2:		/* a frame header with any length and state */
		memcpy(r->p.data + (r->p.prod & (data - 1)), &x, sizeof(x));
		r->p.prod += 8 * (uint32_t)(1 + rnd(seed) % 64);
		capring_store_release(&r->prod->prod_pos, r->p.prod);
		break;
	case 3:		/* a committed record whose header is bad */
		rec = start_record(r, si, 0, 16, 0);
		if (rec) {
			rec[2] = 9;	/* family */
			capring_commit(rec, false);
		}
		break;
	case 4:		/* record length and frame length that disagree */
		rec = start_record(r, si, 0, 100, 0);
		if (rec) {
			rec[11] ^= 1;
			capring_commit(rec, false);
		}
		break;
	case 5:		/* padding in the middle of the data area */
		memcpy(r->p.data + (r->p.prod & (data - 1)),
		       "\x08\x00\x00\x00\x04\x00\x00\x00", 8);
		r->p.prod += 16;
		capring_store_release(&r->prod->prod_pos, r->p.prod);
		break;
	default:	/* random bytes over the frames already published */
		for (int i = 0; i < 256; i++)
			r->p.data[(off + i) & (data - 1)] = (uint8_t)rnd(seed);
		break;
	}
}

static void wake(struct ring *r)
{
	static const struct tlstap_capring_msg msg = {
		.type = TLSTAP_CAPRING_MSG_WAKE,
	};

	send(r->own_fd, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int cmd_scribble(const char *sock, unsigned int seconds,
			uint64_t seed)
{
	struct ring_table *t = calloc(1, sizeof(*t));
	struct session_info si = flow();
	time_t end = time(NULL) + seconds;
	unsigned int rings = 0, ended = 0;

	if (!t)
		die("calloc");
	seed |= 1;
	while (time(NULL) < end) {
		struct ring *r = open_ring(t, sock);

		rings++;
		if (rings == 1)
			try_resize(r);
		for (int round = 0; round < 200 && time(NULL) < end; round++) {
			for (unsigned int i = 0; i < 4; i++) {
				uint8_t *rec = start_record(r, &si, i, 200, 0);

				if (!rec)
					break;
				fill(rec, i, 200);
				capring_commit(rec, false);
			}
			scribble(r, &si, &seed);
			wake(r);
			usleep(2000);
			if (capring_read_once(r->cons->status)) {
				ended++;
				break;
			}
		}
		ring_close(r);
	}
	printf("{\"rings\":%u,\"ended\":%u}\n", rings, ended);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "die"))
		return cmd_die(argv[2], (unsigned int)strtoul(argv[3], NULL, 0),
			       (uint32_t)strtoul(argv[4], NULL, 0),
			       strtoull(argv[5], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "scribble"))
		return cmd_scribble(argv[2],
				    (unsigned int)strtoul(argv[3], NULL, 0),
				    strtoull(argv[4], NULL, 0));
	fprintf(stderr, "usage: hookringwriter die SOCKET N LEN DROPPED\n"
			"       hookringwriter scribble SOCKET SECONDS SEED\n");
	return 2;
}
