// SPDX-License-Identifier: GPL-2.0
/*
 * ringwriter: a capture ring producer for the VM tests. It opens
 * /dev/tlstap, makes the file's ring with mmap() (docs/PROTOCOL.md 7.3) and
 * writes records into it with shared/capring.h's producer steps, the same
 * code libtlstap.so runs, waking the module as the protocol says. Every
 * record the module must deliver (and every loss report it must send in
 * place of one) is appended, byte for byte, to the --expected file, so
 * that tests/tools/ringcheck.py can compare what a receiver output.
 *
 *   ringwriter [options] commit        N records, then --end exit|close|kill
 *   ringwriter [options] reserve-kill  N records, then one reserved and
 *                                      never committed, then SIGKILL
 *   ringwriter [options] full          a held (reserved) frame keeps the
 *                                      module from consuming: fill the ring,
 *                                      poll() must see no room; commit it,
 *                                      poll() must see room; N more records
 *   ringwriter [options] idle-wake     N times: wait until the module asks
 *                                      to be woken, write a record, and see
 *                                      it drained while we live
 *   ringwriter [options] threads       --threads T, each its own ring
 *   ringwriter [options] fork          N/2 records, fork(): the child has no
 *                                      mapping, may not map the parent's
 *                                      ring, writes N/2 by write(); the
 *                                      parent N/2 more into its ring (N
 *                                      from the ring, N/2 by write())
 *   ringwriter [options] scribble      --seconds S of hostile positions and
 *                                      frames; a new ring each time the
 *                                      module ends one. No record it writes
 *                                      is valid (every byte it scribbles is
 *                                      >= 0x80, its record type is 0), so
 *                                      none reaches a receiver.
 *   ringwriter [options] errors        every mmap() the module must refuse,
 *                                      and the ring as it must be
 *   ringwriter [options] bound         16 MiB rings on new files until the
 *                                      module refuses one; prints "rings N"
 *
 * Options: --dev PATH, --sysfs DIR, --size BYTES (data area, default
 * 65536), --records N (100), --msg-len MAX (plaintext 1..MAX, default
 * 2000), --abandon-every K, --oversize-every K (records over the module's
 * max_record), --threads T (4), --seconds S (10), --seed S, --id N (tells
 * writers' flows apart), --end exit|close|kill, --expected FILE.
 * Exit status 0 when every check held; errors go to stderr with context.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/tlstap.h>

#include "../../shared/capring.h"

#define MAX_THREADS	16
#define ROOM_WAIT_MS	30000	/* a module that gives no room in 30 s is broken */
#define DRAIN_WAIT_MS	10000
#define BOUND_MAX_RINGS	4096

struct opts {
	const char *dev;
	const char *sysfs;
	const char *expected;
	const char *end;
	uint32_t size;
	unsigned long records;
	uint32_t msg_len;
	unsigned long abandon_every;
	unsigned long oversize_every;
	unsigned int threads;
	unsigned int seconds;
	uint64_t seed;
	unsigned int id;
};

/* A producer's view of one ring. */
struct ring {
	int fd;
	size_t page;
	uint32_t size;
	uint8_t *hdr;		/* page 0, read-only: desc and consumer line */
	uint8_t *rw;		/* the producer page, then the data area */
	const struct tlstap_capring_desc *desc;
	const struct tlstap_capring_consumer *cons;
	struct tlstap_capring_producer *prod;
	struct capring_producer p;
	uint32_t woken_at;	/* cons_pos when we last woke it for room */
	unsigned long wakes;
};

/* One writer's records: its flow, its tags, where its account goes. */
struct writer {
	const struct opts *o;
	unsigned int id;
	uint64_t rnd;
	uint64_t next_tag;
	int expected_fd;	/* -1: none */
	uint8_t *msg;		/* scratch plaintext */
	uint32_t max_record;	/* the module's, from the ring's consumer line */
};

static void die(const char *what)
{
	fprintf(stderr, "ringwriter: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ringwriter: FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* xorshift64*: reproducible per writer. */
static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(rnd_next(s) >> 32) % n : 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int open_dev(const struct opts *o, int flags)
{
	int fd = open(o->dev, flags | O_CLOEXEC);

	if (fd < 0)
		die(o->dev);
	return fd;
}

static uint32_t sysfs_u32(const struct opts *o, const char *name)
{
	char path[512];
	unsigned long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", o->sysfs, name);
	f = fopen(path, "r");
	if (!f)
		die(path);
	if (fscanf(f, "%lu", &v) != 1) {
		errno = EINVAL;
		die(path);
	}
	fclose(f);
	return (uint32_t)v;
}

/* ------------------------------------------------------------ the ring */

static void *map_producer(int fd, size_t page, uint32_t size)
{
	return mmap(NULL, page + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    TLSTAP_CAPRING_PGOFF_PRODUCER * page);
}

static void *map_header(int fd, size_t page)
{
	return mmap(NULL, page, PROT_READ, MAP_SHARED, fd,
		    TLSTAP_CAPRING_PGOFF_HEADER * page);
}

/* Makes fd's ring of size bytes; 0, or -1 with errno from mmap(). */
static int ring_map(struct ring *r, int fd, uint32_t size)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->page = (size_t)sysconf(_SC_PAGESIZE);
	r->size = size;
	r->rw = map_producer(fd, r->page, size);
	if (r->rw == MAP_FAILED)
		return -1;
	r->hdr = map_header(fd, r->page);
	if (r->hdr == MAP_FAILED) {
		munmap(r->rw, r->page + size);
		return -1;
	}
	r->desc = (const struct tlstap_capring_desc *)r->hdr;
	if (r->desc->magic != TLSTAP_CAPRING_MAGIC ||
	    r->desc->version != TLSTAP_CAPRING_VERSION ||
	    r->desc->data_size != size || r->desc->page_size != r->page ||
	    r->desc->prod_off != r->page || r->desc->data_off != 2 * r->page ||
	    r->desc->cons_off != TLSTAP_CAPRING_CONS_OFF)
		fail("the ring's desc is not what PROTOCOL.md 7.1 says");
	r->cons = (const struct tlstap_capring_consumer *)
		  (r->hdr + r->desc->cons_off);
	r->prod = (struct tlstap_capring_producer *)r->rw;
	r->p.data = r->rw + (r->desc->data_off - r->desc->prod_off);
	r->p.data_size = size;
	r->p.prod_pos = &r->prod->prod_pos;
	r->p.cons_pos = &r->cons->cons_pos;
	r->p.prod = capring_read_once(r->prod->prod_pos);
	r->p.cons = capring_load_acquire(&r->cons->cons_pos);
	r->woken_at = r->p.cons;
	return 0;
}

static void ring_open(struct ring *r, const struct opts *o)
{
	if (ring_map(r, open_dev(o, O_RDWR), o->size))
		die("mmap of a new ring");
}

static void ring_unmap(struct ring *r)
{
	if (munmap(r->rw, r->page + r->size) || munmap(r->hdr, r->page))
		die("munmap of the ring");
}

static void ring_close(struct ring *r)
{
	ring_unmap(r);
	if (close(r->fd))
		die("close of the ring's file");
}

static uint32_t ring_status(const struct ring *r)
{
	return capring_read_once(r->cons->status);
}

static void wake(struct ring *r)
{
	if (write(r->fd, NULL, 0) != 0)
		die("write of zero bytes (wake-up)");
	r->wakes++;
}

/* PROTOCOL.md 7.2, producer step 7. */
static void after_publish(struct ring *r)
{
	uint32_t cons;

	if (capring_read_once(r->cons->flags) & TLSTAP_CAPRING_F_NEED_WAKEUP) {
		wake(r);
		return;
	}
	cons = capring_read_once(r->cons->cons_pos);
	if (r->p.prod - cons > r->size / 4 * 3 && cons != r->woken_at) {
		r->woken_at = cons;
		wake(r);
	}
}

/* Waits for room as a blocking producer does: poll() for POLLOUT. */
static void wait_room(struct ring *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLOUT };
	int n = poll(&pfd, 1, ROOM_WAIT_MS);

	if (n < 0)
		die("poll for room");
	if (!n)
		fail("no room in the ring after %d ms", ROOM_WAIT_MS);
}

enum put_how { PUT_COMMIT, PUT_ABANDON, PUT_HOLD };

/*
 * Writes one record (rec then msg) into the ring. Returns where its
 * header lies in the ring, or NULL with errno EBADMSG when the module
 * ended the ring. PUT_HOLD leaves the frame RESERVED, its plaintext not
 * yet written.
 */
static struct tlstap_record *ring_put(struct ring *r,
				      const struct tlstap_record *rec,
				      const uint8_t *msg, enum put_how how)
{
	uint32_t msg_len = be32toh(rec->msg_len);
	uint32_t len = TLSTAP_RECORD_HDR_LEN + msg_len;
	struct tlstap_record *dst;

	for (;;) {
		if (ring_status(r)) {
			errno = (int)ring_status(r);
			return NULL;
		}
		dst = capring_claim(&r->p, len);
		if (dst)
			break;
		wait_room(r);
	}
	memcpy(dst, rec, sizeof(*rec));
	capring_publish(&r->p, len);
	if (how == PUT_HOLD)
		return dst;
	if (how == PUT_COMMIT)
		memcpy(dst + 1, msg, msg_len);
	capring_commit(dst, how == PUT_ABANDON);
	after_publish(r);
	return dst;
}

/* --------------------------------------------------------- the records */

static void writer_init(struct writer *w, const struct opts *o,
			unsigned int id, int expected_fd, uint32_t max_record)
{
	memset(w, 0, sizeof(*w));
	w->o = o;
	w->id = id;
	w->rnd = o->seed * 0x9e3779b97f4a7c15ULL + id + 1;
	/* Tags (timestamp_ns) unique per process and writer. */
	w->next_tag = ((uint64_t)getpid() << 32) | ((uint64_t)id << 24);
	w->expected_fd = expected_fd;
	w->max_record = max_record;
	w->msg = malloc(TLSTAP_CAPRING_MAX_SIZE);
	if (!w->msg)
		die("malloc of the plaintext buffer");
}

/* A record of the writer's flow: msg_len bytes of plaintext from its tag. */
static void make_record(struct writer *w, struct tlstap_record *rec,
			uint32_t msg_len, uint64_t dropped)
{
	uint64_t tag = w->next_tag++, s = tag | 1;
	uint32_t i;

	memset(rec, 0, sizeof(*rec));
	rec->type = TLSTAP_RECORD_DATA;
	rec->dir = tag & 1 ? TLSTAP_DIR_READ : TLSTAP_DIR_WRITE;
	rec->family = TLSTAP_FAMILY_IPV4;
	rec->hdr_len = TLSTAP_RECORD_HDR_LEN;
	rec->saddr[0] = 10;
	rec->saddr[1] = 88;
	rec->saddr[2] = w->o->id;
	rec->saddr[3] = w->id + 1;
	rec->daddr[0] = 10;
	rec->daddr[1] = 88;
	rec->daddr[2] = 255;
	rec->daddr[3] = 1;
	rec->sport = htobe16(20000 + w->o->id * MAX_THREADS + w->id);
	rec->dport = htobe16(443);
	rec->msg_len = htobe32(msg_len);
	rec->pid = htobe32((uint32_t)getpid());
	rec->timestamp_ns = htobe64(tag);
	rec->conn_id = htobe64(0xc0ffee0000000000ULL | tag >> 24);
	rec->dropped = htobe64(dropped);
	for (i = 0; i < msg_len; i++)
		w->msg[i] = (uint8_t)rnd_next(&s);
}

/* Appends a record the module must deliver, in one write. */
static void expect(struct writer *w, const struct tlstap_record *rec,
		   const uint8_t *msg)
{
	struct iovec iov[2] = {
		{ (void *)rec, sizeof(*rec) },
		{ (void *)msg, be32toh(rec->msg_len) },
	};
	ssize_t want = (ssize_t)(iov[0].iov_len + iov[1].iov_len);

	if (w->expected_fd >= 0 && writev(w->expected_fd, iov, 2) != want)
		die("write of the expected file");
}

/* The loss report the module must send for a record it cannot deliver. */
static void expect_lost(struct writer *w, const struct tlstap_record *rec)
{
	struct tlstap_record lost = *rec;

	lost.dropped = htobe64(be64toh(rec->dropped) + be32toh(rec->msg_len));
	lost.msg_len = 0;
	expect(w, &lost, NULL);
}

static uint32_t pick_msg_len(struct writer *w, uint32_t size)
{
	uint32_t max = w->o->msg_len;

	if (max > capring_max_msg_len(size))
		max = capring_max_msg_len(size);
	if (max > w->max_record)
		max = w->max_record;
	return 1 + rnd_below(&w->rnd, max);
}

/*
 * Record i of a writer's run into r: committed, abandoned every
 * abandon_every-th, over max_record every oversize_every-th; the module's
 * due output goes to the expected file. Returns false if the ring ended.
 */
static bool put_one(struct writer *w, struct ring *r, unsigned long i)
{
	const struct opts *o = w->o;
	struct tlstap_record rec;
	enum put_how how = PUT_COMMIT;
	uint32_t msg_len = pick_msg_len(w, r->size);
	bool lost = false;

	if (o->oversize_every && i % o->oversize_every == o->oversize_every - 1 &&
	    w->max_record < capring_max_msg_len(r->size)) {
		msg_len = w->max_record + 1 +
			  rnd_below(&w->rnd, capring_max_msg_len(r->size) -
						w->max_record);
		lost = true;
	} else if (o->abandon_every &&
		   i % o->abandon_every == o->abandon_every - 1) {
		how = PUT_ABANDON;
		lost = true;
	}
	make_record(w, &rec, msg_len, rnd_below(&w->rnd, 4) ? 0 : 1000);
	if (!ring_put(r, &rec, w->msg, how))
		return false;
	if (lost)
		expect_lost(w, &rec);
	else
		expect(w, &rec, w->msg);
	return true;
}

static void put_many(struct writer *w, struct ring *r, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (!put_one(w, r, i))
			fail("the module ended a sound ring (status %u) at record %lu",
			     ring_status(r), i);
}

/* ------------------------------------------------------------ the modes */

static int open_expected(const struct opts *o)
{
	int fd;

	if (!o->expected)
		return -1;
	fd = open(o->expected, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die(o->expected);
	return fd;
}

static void writer_for_ring(struct writer *w, const struct opts *o,
			    unsigned int id, int expected_fd,
			    const struct ring *r)
{
	writer_init(w, o, id, expected_fd, capring_read_once(r->cons->max_msg_len));
}

static void finish(const struct opts *o, struct ring *r)
{
	printf("wakeups %lu\n", r->wakes);
	fflush(stdout);
	if (!strcmp(o->end, "kill"))
		raise(SIGKILL);
	if (!strcmp(o->end, "close"))
		ring_close(r);
	else if (strcmp(o->end, "exit"))
		fail("--end %s: exit, close or kill", o->end);
}

static int mode_commit(const struct opts *o)
{
	struct writer w;
	struct ring r;

	ring_open(&r, o);
	writer_for_ring(&w, o, 0, open_expected(o), &r);
	put_many(&w, &r, o->records);
	finish(o, &r);
	return 0;
}

/* N records, then one whose plaintext never comes: the module reports it. */
static int mode_reserve_kill(const struct opts *o)
{
	struct tlstap_record rec;
	struct writer w;
	struct ring r;

	ring_open(&r, o);
	writer_for_ring(&w, o, 0, open_expected(o), &r);
	put_many(&w, &r, o->records);
	make_record(&w, &rec, pick_msg_len(&w, r.size), 0);
	if (!ring_put(&r, &rec, w.msg, PUT_HOLD))
		fail("the module ended a sound ring");
	expect_lost(&w, &rec);
	printf("reserved %u bytes at position %u\n", be32toh(rec.msg_len),
	       r.p.prod);
	fflush(stdout);
	raise(SIGKILL);
	return 1;
}

/* poll() for POLLOUT within ms: whether it came. */
static bool room_within(struct ring *r, int ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLOUT };
	int n = poll(&pfd, 1, ms);

	if (n < 0)
		die("poll");
	if (n && (pfd.revents & (POLLERR | POLLNVAL)))
		fail("poll: revents %#x", pfd.revents);
	return n > 0;
}

/*
 * The module cannot consume past a frame still RESERVED: fill the ring
 * behind one, see that poll() reports no room and nothing moves, commit
 * it, see the room come.
 */
static int mode_full(const struct opts *o)
{
	struct tlstap_record held_rec, rec;
	struct tlstap_record *held;
	uint8_t *held_msg;
	unsigned long n = 0;
	uint32_t cons;
	struct writer w;
	struct ring r;

	ring_open(&r, o);
	writer_for_ring(&w, o, 0, open_expected(o), &r);
	make_record(&w, &held_rec, pick_msg_len(&w, r.size), 0);
	held_msg = malloc(be32toh(held_rec.msg_len));
	if (!held_msg)
		die("malloc");
	memcpy(held_msg, w.msg, be32toh(held_rec.msg_len));
	held = ring_put(&r, &held_rec, NULL, PUT_HOLD);
	if (!held)
		fail("the module ended a sound ring");
	cons = capring_read_once(r.cons->cons_pos);
	for (;;) {
		uint32_t msg_len = pick_msg_len(&w, r.size);
		struct tlstap_record *dst;

		dst = capring_claim(&r.p, TLSTAP_RECORD_HDR_LEN + msg_len);
		if (!dst)
			break;
		make_record(&w, &rec, msg_len, 0);
		memcpy(dst, &rec, sizeof(rec));
		capring_publish(&r.p, TLSTAP_RECORD_HDR_LEN + msg_len);
		memcpy(dst + 1, w.msg, msg_len);
		capring_commit(dst, false);
		after_publish(&r);
		expect(&w, &rec, w.msg);
		n++;
	}
	if (r.p.prod - cons < r.size / 2)
		fail("the ring took only %u bytes before it was full",
		     r.p.prod - cons);
	if (room_within(&r, 500))
		fail("poll() reported room in a full ring");
	if (capring_read_once(r.cons->cons_pos) != cons)
		fail("the module consumed past a frame still reserved");
	/* Its plaintext, then COMMITTED: now it all goes. */
	memcpy(held + 1, held_msg, be32toh(held_rec.msg_len));
	capring_commit(held, false);
	after_publish(&r);
	expect(&w, &held_rec, held_msg);
	if (!room_within(&r, ROOM_WAIT_MS))
		fail("no room %d ms after the held frame was committed",
		     ROOM_WAIT_MS);
	printf("full after %lu records behind the held one; room came back\n",
	       n);
	put_many(&w, &r, o->records);
	finish(o, &r);
	return 0;
}

/*
 * Each time: wait until the module has gone idle and asks to be woken,
 * write one record, and see it consumed while we still live (no release
 * drains it for us).
 */
static int mode_idle_wake(const struct opts *o)
{
	unsigned long i;
	struct writer w;
	struct ring r;
	uint64_t end;

	ring_open(&r, o);
	writer_for_ring(&w, o, 0, open_expected(o), &r);
	for (i = 0; i < o->records; i++) {
		end = now_ms() + DRAIN_WAIT_MS;
		while (!(capring_read_once(r.cons->flags) &
			 TLSTAP_CAPRING_F_NEED_WAKEUP)) {
			if (now_ms() > end)
				fail("the module did not ask to be woken in %d ms",
				     DRAIN_WAIT_MS);
			sleep_ms(10);
		}
		if (!put_one(&w, &r, 0))
			fail("the module ended a sound ring");
		end = now_ms() + DRAIN_WAIT_MS;
		while (capring_load_acquire(&r.cons->cons_pos) != r.p.prod) {
			if (now_ms() > end)
				fail("record %lu not consumed %d ms after its wake-up",
				     i, DRAIN_WAIT_MS);
			sleep_ms(10);
		}
	}
	if (r.wakes < o->records)
		fail("%lu wake-ups for %lu records after idling", r.wakes,
		     o->records);
	finish(o, &r);
	return 0;
}

struct thread_arg {
	const struct opts *o;
	unsigned int id;
	int expected_fd;
	pthread_t thread;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct writer w;
	struct ring r;

	ring_open(&r, a->o);
	writer_for_ring(&w, a->o, a->id, a->expected_fd, &r);
	put_many(&w, &r, a->o->records);
	free(w.msg);
	return NULL;
}

static int mode_threads(const struct opts *o)
{
	struct thread_arg a[MAX_THREADS];
	int expected_fd = open_expected(o);
	unsigned int i;
	int err;

	if (!o->threads || o->threads > MAX_THREADS)
		fail("--threads 1..%d", MAX_THREADS);
	for (i = 0; i < o->threads; i++) {
		a[i].o = o;
		a[i].id = i;
		a[i].expected_fd = expected_fd;
		err = pthread_create(&a[i].thread, NULL, thread_main, &a[i]);
		if (err) {
			errno = err;
			die("pthread_create");
		}
	}
	for (i = 0; i < o->threads; i++) {
		err = pthread_join(a[i].thread, NULL);
		if (err) {
			errno = err;
			die("pthread_join");
		}
	}
	return 0;
}

/* Whether this process maps the device (as /proc/self/maps names it). */
static bool maps_device(const char *dev)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f))
		if (strstr(line, dev))
			found = true;
	fclose(f);
	return found;
}

static void child_writes(const struct opts *o, int fd, int expected_fd)
{
	struct tlstap_record rec;
	struct writer w;
	unsigned long i;
	void *m;

	if (maps_device(o->dev))
		fail("the fork() child has the parent's ring mapped");
	m = map_producer(fd, (size_t)sysconf(_SC_PAGESIZE), o->size);
	if (m != MAP_FAILED || errno != EPERM)
		fail("the child mapped the parent's ring: %s",
		     m == MAP_FAILED ? strerror(errno) : "it worked");
	writer_init(&w, o, 1, expected_fd, sysfs_u32(o, "max_record"));
	for (i = 0; i < o->records / 2; i++) {
		struct iovec iov[2];
		ssize_t len;

		make_record(&w, &rec, pick_msg_len(&w, o->size), 0);
		iov[0] = (struct iovec){ &rec, sizeof(rec) };
		iov[1] = (struct iovec){ w.msg, be32toh(rec.msg_len) };
		len = (ssize_t)(iov[0].iov_len + iov[1].iov_len);
		if (writev(fd, iov, 2) != len)
			die("the child's write() of a record");
		expect(&w, &rec, w.msg);
	}
}

static int mode_fork(const struct opts *o)
{
	int expected_fd = open_expected(o), status;
	struct writer w;
	struct ring r;
	pid_t child;

	ring_open(&r, o);
	writer_for_ring(&w, o, 0, expected_fd, &r);
	put_many(&w, &r, o->records / 2);
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		child_writes(o, r.fd, expected_fd);
		_exit(0);
	}
	put_many(&w, &r, o->records - o->records / 2);
	if (waitpid(child, &status, 0) != child)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the fork() child failed (status %#x)", status);
	finish(o, &r);
	return 0;
}

/* ------------------------------------------------------------ scribbling */

/* Bytes with the top bit set: never a record type, hdr_len, dir or family. */
static void scribble_bytes(uint64_t *rnd, uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd_next(rnd) | 0x80;
}

/* A frame well formed as a frame, its record never valid (type 0). */
static void scribble_frame(struct ring *r, uint64_t *rnd)
{
	uint32_t msg_len = rnd_below(rnd, 300);
	struct tlstap_record *rec;

	rec = capring_claim(&r->p, TLSTAP_RECORD_HDR_LEN + msg_len);
	if (!rec)
		return;
	scribble_bytes(rnd, (uint8_t *)rec, TLSTAP_RECORD_HDR_LEN + msg_len);
	rec->type = 0;
	rec->msg_len = htobe32(msg_len);
	capring_publish(&r->p, TLSTAP_RECORD_HDR_LEN + msg_len);
	capring_commit(rec, rnd_below(rnd, 2));
}

static void scribble_once(struct ring *r, uint64_t *rnd)
{
	struct tlstap_capring_frame *f;
	uint32_t off;

	switch (rnd_below(rnd, 9)) {
	case 0:
	case 1:
		scribble_frame(r, rnd);
		break;
	case 2:	/* any position at all */
		capring_store_mb(&r->prod->prod_pos, (uint32_t)rnd_next(rnd));
		break;
	case 3:	/* ahead, over bytes nobody wrote as frames */
		r->p.prod += 8 * rnd_below(rnd, 2 * r->size / 8);
		capring_store_mb(&r->prod->prod_pos, r->p.prod);
		break;
	case 4:	/* backwards */
		capring_store_mb(&r->prod->prod_pos,
				 r->p.prod - 8 * (1 + rnd_below(rnd, 64)));
		break;
	case 5:	/* random bytes anywhere in the data area, frames included */
		off = rnd_below(rnd, r->size - 64);
		scribble_bytes(rnd, r->p.data + off, 64);
		break;
	case 6:	/* a frame header of any length and state at our position */
		f = (struct tlstap_capring_frame *)
		    (r->p.data + (r->p.prod & (r->size - 1)));
		capring_write_once(f->len, (uint32_t)rnd_next(rnd) >>
					   rnd_below(rnd, 32));
		capring_write_once(f->state, rnd_below(rnd, 6));
		r->p.prod += 8 * (1 + rnd_below(rnd, 32));
		capring_store_mb(&r->prod->prod_pos, r->p.prod);
		break;
	case 7:	/* the last frame rewritten while the module may read it */
		off = (r->p.prod - 8 * (1 + rnd_below(rnd, 16))) &
		      (r->size - 1);
		f = (struct tlstap_capring_frame *)(r->p.data + off);
		capring_write_once(f->len, (uint32_t)rnd_next(rnd) >>
					   rnd_below(rnd, 32));
		break;
	default:
		wake(r);
		break;
	}
}

/* Rings end one after the other, for as long as we are told. */
static int mode_scribble(const struct opts *o)
{
	uint64_t rnd = o->seed * 0x9e3779b97f4a7c15ULL + 7;
	uint64_t end = now_ms() + o->seconds * 1000ULL;
	unsigned long rings = 0, ended = 0, actions = 0;
	struct ring r;

	while (now_ms() < end) {
		ring_open(&r, o);
		rings++;
		while (!ring_status(&r) && now_ms() < end) {
			scribble_once(&r, &rnd);
			/* Now and then the worker gets its turn. */
			if (++actions % 32 == 0)
				sleep_ms(1);
		}
		if (ring_status(&r) == EBADMSG)
			ended++;
		else if (ring_status(&r))
			fail("ring status %u, not EBADMSG", ring_status(&r));
		ring_close(&r);
	}
	printf("scribble: rings %lu ended %lu actions %lu\n", rings, ended,
	       actions);
	return 0;
}

/* -------------------------------------------------------------- errors */

static void expect_errno(const char *what, void *m, size_t len, int want)
{
	int got = m == MAP_FAILED ? errno : 0;

	if (m != MAP_FAILED)
		munmap(m, len);
	if (got != want)
		fail("%s: %s, want %s", what, got ? strerror(got) : "success",
		     want ? strerror(want) : "success");
	printf("ok   %s: %s\n", what, want ? strerror(want) : "mapped");
}

static void *try_map(int fd, size_t len, int prot, int flags, size_t pgoff,
		     size_t page)
{
	return mmap(NULL, len, prot, flags, fd, (off_t)(pgoff * page));
}

/* The VmFlags of the mapping at addr in /proc/self/smaps. */
static void vm_flags_of(void *addr, char *out, size_t size)
{
	char line[512], want[32];
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		die("/proc/self/smaps");
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = true;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, size, "%s", line + 8);
			break;
		}
	}
	fclose(f);
	if (!out[0])
		fail("no VmFlags for the mapping at %p", addr);
}

static void expect_vm_flags(const char *what, void *addr, const char *has,
			    const char *lacks)
{
	char flags[512], name[4];
	const char *p;

	vm_flags_of(addr, flags, sizeof(flags));
	for (p = has; *p; p += 3) {
		snprintf(name, sizeof(name), "%.2s", p);
		if (!strstr(flags, name))
			fail("%s: VmFlags lack %s: %s", what, name, flags);
	}
	for (p = lacks; *p; p += 3) {
		snprintf(name, sizeof(name), "%.2s", p);
		if (strstr(flags, name))
			fail("%s: VmFlags have %s: %s", what, name, flags);
	}
	printf("ok   %s: VmFlags%s", what, flags);
}

static int mode_errors(const struct opts *o)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = page + o->size;
	const int rw = PROT_READ | PROT_WRITE;
	struct iovec local, remote;
	uint8_t *m, *m2, buf[64];
	struct ring r;
	int fd, rofd;
	void *x;

	fd = open_dev(o, O_RDWR);
	expect_errno("header before the ring exists",
		     try_map(fd, page, PROT_READ, MAP_SHARED, 0, page), page,
		     ENODEV);
	expect_errno("data area under 64 KiB",
		     try_map(fd, page + 32768, rw, MAP_SHARED, 1, page),
		     page + 32768, EINVAL);
	expect_errno("data area not a power of two",
		     try_map(fd, page + 3 * 65536, rw, MAP_SHARED, 1, page),
		     page + 3 * 65536, EINVAL);
	expect_errno("data area over 16 MiB",
		     try_map(fd, page + (32u << 20), rw, MAP_SHARED, 1, page),
		     page + (32u << 20), EINVAL);
	expect_errno("no data area",
		     try_map(fd, page, rw, MAP_SHARED, 1, page), page, EINVAL);
	expect_errno("page offset 2", try_map(fd, len, rw, MAP_SHARED, 2, page),
		     len, EINVAL);
	expect_errno("private producer mapping",
		     try_map(fd, len, rw, MAP_PRIVATE, 1, page), len, EINVAL);
	expect_errno("read-only producer mapping",
		     try_map(fd, len, PROT_READ, MAP_SHARED, 1, page), len,
		     EINVAL);
	rofd = open_dev(o, O_RDONLY);
	expect_errno("producer mapping of a read-only file",
		     try_map(rofd, len, rw, MAP_SHARED, 1, page), len, EACCES);
	close(rofd);

	if (ring_map(&r, fd, o->size))
		die("mmap of the ring");
	printf("ok   ring made: %u bytes\n", o->size);
	if (r.desc->creator_pid != (uint32_t)getpid() ||
	    r.desc->creator_uid != (uint32_t)getuid())
		fail("desc: creator %u uid %u, we are %d uid %u",
		     r.desc->creator_pid, r.desc->creator_uid, getpid(),
		     getuid());
	if (r.cons->max_msg_len != sysfs_u32(o, "max_record") ||
	    r.cons->status || r.cons->cons_pos || r.prod->prod_pos)
		fail("consumer line: max_msg_len %u status %u cons_pos %u",
		     r.cons->max_msg_len, r.cons->status, r.cons->cons_pos);
	printf("ok   desc and consumer line as PROTOCOL.md 7.1 says\n");

	expect_errno("writable header",
		     try_map(fd, page, rw, MAP_SHARED, 0, page), page, EPERM);
	expect_errno("header of two pages",
		     try_map(fd, 2 * page, PROT_READ, MAP_SHARED, 0, page),
		     2 * page, EINVAL);
	expect_errno("private header mapping",
		     try_map(fd, page, PROT_READ, MAP_PRIVATE, 0, page), page,
		     EINVAL);
	if (!mprotect(r.hdr, page, rw) || errno != EACCES)
		fail("mprotect of the header to PROT_WRITE: %s",
		     strerror(errno));
	printf("ok   mprotect of the header to PROT_WRITE: %s\n",
	       strerror(EACCES));
	expect_errno("producer mapping of another size",
		     try_map(fd, page + 2 * o->size, rw, MAP_SHARED, 1, page),
		     page + 2 * o->size, EEXIST);

	/* A second mapping of the same size is the same ring. */
	m = try_map(fd, len, rw, MAP_SHARED, 1, page);
	if (m == MAP_FAILED)
		die("second producer mapping");
	m[page + 100] = 0xa5;
	if (r.p.data[100] != 0xa5)
		fail("a second mapping of the same size is another ring");
	m[page + 100] = 0;
	munmap(m, len);
	printf("ok   a second producer mapping is the same ring\n");

	x = mremap(r.rw, len, 2 * len, MREMAP_MAYMOVE);
	if (x != MAP_FAILED)
		fail("mremap grew the ring");
	printf("ok   mremap cannot grow it: %s\n", strerror(errno));
	if (!madvise(r.rw, len, MADV_DOFORK) || errno != EINVAL)
		fail("madvise(MADV_DOFORK): %s", strerror(errno));
	printf("ok   madvise(MADV_DOFORK): %s\n", strerror(EINVAL));
	/* dc: not copied at fork; dd: not dumped; io: never pinned. */
	expect_vm_flags("producer mapping", r.rw, "dc dd io sh wr ", "");
	expect_vm_flags("header mapping", r.hdr, "dc dd io sh rd ", "wr mw ");
	local = (struct iovec){ buf, sizeof(buf) };
	remote = (struct iovec){ r.p.data, sizeof(buf) };
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != -1 ||
	    errno != EFAULT)
		fail("process_vm_readv of the ring: %s", strerror(errno));
	printf("ok   process_vm_readv (get_user_pages) of the ring: %s\n",
	       strerror(EFAULT));

	m2 = try_map(fd, page, PROT_READ, MAP_SHARED, 0, page);
	if (m2 == MAP_FAILED || ((const struct tlstap_capring_desc *)m2)->magic !=
				TLSTAP_CAPRING_MAGIC)
		fail("second header mapping");
	munmap(m2, page);

	if (write(fd, NULL, 0) != 0)
		die("write of zero bytes");
	if (!room_within(&r, 0))
		fail("an empty ring reports no room");
	ring_close(&r);
	printf("ok   wake-up write, POLLOUT on an empty ring\n");
	return 0;
}

/* Rings of the largest size until the module refuses one. */
static int mode_bound(const struct opts *o)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	static int fds[BOUND_MAX_RINGS];
	unsigned int n;
	void *m;

	for (n = 0; n < BOUND_MAX_RINGS; n++) {
		fds[n] = open_dev(o, O_RDWR);
		m = map_producer(fds[n], page, TLSTAP_CAPRING_MAX_SIZE);
		if (m == MAP_FAILED)
			break;
	}
	if (n == BOUND_MAX_RINGS)
		fail("%u rings of 16 MiB and no refusal", n);
	if (errno != ENOMEM)
		fail("ring %u: %s, want %s", n, strerror(errno),
		     strerror(ENOMEM));
	printf("rings %u\n", n);
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr,
		"usage: ringwriter [--dev PATH] [--sysfs DIR] [--size BYTES]\n"
		"                  [--records N] [--msg-len MAX] [--abandon-every K]\n"
		"                  [--oversize-every K] [--threads T] [--seconds S]\n"
		"                  [--seed S] [--id N] [--end exit|close|kill]\n"
		"                  [--expected FILE]\n"
		"                  commit|reserve-kill|full|idle-wake|threads|fork|\n"
		"                  scribble|errors|bound\n");
	exit(2);
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sysfs", required_argument, NULL, 'y' },
		{ "size", required_argument, NULL, 's' },
		{ "records", required_argument, NULL, 'n' },
		{ "msg-len", required_argument, NULL, 'm' },
		{ "abandon-every", required_argument, NULL, 'a' },
		{ "oversize-every", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "end", required_argument, NULL, 'e' },
		{ "expected", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		int (*run)(const struct opts *o);
	} modes[] = {
		{ "commit", mode_commit },
		{ "reserve-kill", mode_reserve_kill },
		{ "full", mode_full },
		{ "idle-wake", mode_idle_wake },
		{ "threads", mode_threads },
		{ "fork", mode_fork },
		{ "scribble", mode_scribble },
		{ "errors", mode_errors },
		{ "bound", mode_bound },
	};
	struct opts o = {
		.dev = "/dev/tlstap",
		.sysfs = "/sys/class/misc/tlstap",
		.end = "exit",
		.size = TLSTAP_CAPRING_MIN_SIZE,
		.records = 100,
		.msg_len = 2000,
		.threads = 4,
		.seconds = 10,
		.seed = 1,
	};
	unsigned int i;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.dev = optarg;
			break;
		case 'y':
			o.sysfs = optarg;
			break;
		case 's':
			o.size = (uint32_t)num(optarg);
			break;
		case 'n':
			o.records = num(optarg);
			break;
		case 'm':
			o.msg_len = (uint32_t)num(optarg);
			break;
		case 'a':
			o.abandon_every = num(optarg);
			break;
		case 'o':
			o.oversize_every = num(optarg);
			break;
		case 't':
			o.threads = (unsigned int)num(optarg);
			break;
		case 'S':
			o.seconds = (unsigned int)num(optarg);
			break;
		case 'r':
			o.seed = num(optarg);
			break;
		case 'i':
			o.id = (unsigned int)num(optarg);
			break;
		case 'e':
			o.end = optarg;
			break;
		case 'x':
			o.expected = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || !capring_size_valid(o.size) || !o.msg_len ||
	    o.id > 255)
		usage();
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(argv[optind], modes[i].name))
			return modes[i].run(&o);
	usage();
	return 2;
}
