// SPDX-License-Identifier: GPL-2.0
/*
 * stresswriter: throws random, mutated and valid records at /dev/tlstap
 * from several threads, random writes at the module's sysfs files and,
 * with --genl, random generic netlink messages at its family, while
 * another thread adds and removes targets. It keeps its own account of
 * what the module must have accepted and refused, so that the caller can
 * compare it with the module's counters, and logs a hash of every record
 * the module accepted, so that --check can tell whether what receivers
 * output was accepted, byte for byte, and only once.
 *
 *   stresswriter --seconds N [--writers N] [--seed S] [--dev PATH]
 *                [--sysfs DIR] [--param DIR] [--pool ADDR:PORT[,...]]
 *                [--genl] [--accepted FILE] [--report FILE]
 *   stresswriter --check ACCEPTED RAW...
 *
 * The report (key value lines) says what was thrown and what came back,
 * by kind and errno; see tests/vm/stress.sh for how it is judged.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <linux/tlstap.h>

#define MAX_WRITERS	16
#define MAX_ERRNO	256
#define BUF_SIZE	(1 << 20)
#define MAX_IOV		1024	/* UIO_MAXIOV */
#define MAX_POOL	16
#define RECORD_CAP	70000	/* a little over the default max_record */
#define GENL_BUF_SIZE	65536
#define GENL_MSG_MAX	16384	/* stop adding attributes past this */

/* What a writer throws; each kind is counted with its outcomes. */
enum op_kind {
	OP_VALID,	/* 1..4 valid records (loss reports among them) */
	OP_WRITEV,	/* valid records cut into up to 1024 iovecs */
	OP_TRUNCATED,	/* valid records cut short */
	OP_BAD_LEN,	/* msg_len off by a little or a lot */
	OP_HUGE_LEN,	/* msg_len over max_record, up to 2^32-1 */
	OP_BAD_FIELD,	/* type, dir, family, hdr_len, ports, padding */
	OP_RANDOM,	/* random bytes */
	OP_FLIP,	/* valid records with random header bytes flipped */
	OP_FAULT,	/* a record running into a PROT_NONE page */
	OP_FAULT_IOV,	/* an iovec pointing at the PROT_NONE page */
	OP_BAD_POINTER,	/* a kernel address: refused before the module */
	OP_TOO_MANY_IOV,/* 1025 iovecs: refused before the module */
	OP_ZERO,	/* zero bytes */
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"valid", "writev", "truncated", "bad_len", "huge_len", "bad_field",
	"random", "flip", "fault", "fault_iov", "bad_pointer", "too_many_iov",
	"zero",
};

/* Operations the VFS refuses before /dev/tlstap's write sees them. */
static bool op_reaches_module(enum op_kind k)
{
	return k != OP_BAD_POINTER && k != OP_TOO_MANY_IOV && k != OP_ZERO;
}

struct outcome {
	uint64_t calls;
	uint64_t full;		/* everything written */
	uint64_t partial;	/* fewer bytes than given */
	uint64_t err[MAX_ERRNO];
};

struct hashlog {
	uint64_t *v;
	size_t n, cap;
};

struct shared;

struct writer {
	pthread_t thread;
	struct shared *sh;
	unsigned int id;
	uint64_t rnd;
	int fd_block, fd_nonblock;
	uint8_t *buf;
	uint8_t *guard;		/* one RW page followed by a PROT_NONE one */
	struct iovec *iov;
	uint64_t tag;		/* per record: timestamp_ns, unique */
	struct outcome out[OP_COUNT];
	uint64_t nonblock_calls;
	uint64_t accepted_records, accepted_bytes, loss_reports;
	uint64_t module_drops;	/* calls the module must have counted */
	struct hashlog hashes;
};

/* A sysfs or netlink action and what it returned. */
struct tally {
	uint64_t calls, ok;
	uint64_t err[MAX_ERRNO];
};

struct endpoint_pool {
	char *ep[MAX_POOL];
	unsigned int n;
};

struct shared {
	atomic_bool stop;
	const char *dev;
	const char *sysfs;
	const char *param;
	struct endpoint_pool pool;
	bool genl;
	/* Filled by the helper threads. */
	struct tally sysfs_write, sysfs_read, targets_add, targets_del,
		     targets_flush, ring_set, genl_sent, genl_reply;
	uint64_t genl_family_id, genl_ops, genl_maxattr;
};

static void die(const char *what)
{
	fprintf(stderr, "stresswriter: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void dief(const char *msg)
{
	fprintf(stderr, "stresswriter: %s\n", msg);
	exit(2);
}

/* xorshift64*: cheap and reproducible per thread. */
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

static void rnd_fill(uint64_t *s, uint8_t *p, size_t n)
{
	while (n) {
		uint64_t v = rnd_next(s);
		size_t k = n < 8 ? n : 8;

		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void hashlog_add(struct hashlog *h, uint64_t v)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 4096;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		if (!h->v)
			die("realloc");
	}
	h->v[h->n++] = v;
}

static void tally_add(struct tally *t, int rc)
{
	t->calls++;
	if (rc >= 0)
		t->ok++;
	else if (-rc < MAX_ERRNO)
		t->err[-rc]++;
}

/* ------------------------------------------------------------------
 * Records.
 */

/* Plaintext length: mostly small, some spanning datagrams, a few large. */
static uint32_t pick_msg_len(uint64_t *r)
{
	switch (rnd_below(r, 10)) {
	case 0: case 1: case 2: case 3:
		return 1 + rnd_below(r, 200);
	case 4: case 5: case 6:
		return 1 + rnd_below(r, 4000);
	case 7: case 8:
		return 1 + rnd_below(r, 20000);
	default:
		return 1 + rnd_below(r, RECORD_CAP);
	}
}

/*
 * A valid record header at p (flows from a small set, so that they spread
 * over the targets and repeat), msg_len bytes of plaintext after it.
 * Returns the record's length.
 */
static size_t make_record(struct writer *w, uint8_t *p, uint32_t msg_len,
			  bool loss_report)
{
	struct tlstap_record rec;
	unsigned int flow = rnd_below(&w->rnd, 64);

	memset(&rec, 0, sizeof(rec));
	rec.type = TLSTAP_RECORD_DATA;
	rec.dir = rnd_below(&w->rnd, 2) ? TLSTAP_DIR_READ : TLSTAP_DIR_WRITE;
	rec.hdr_len = TLSTAP_RECORD_HDR_LEN;
	switch (flow % 4) {
	case 0: case 1:
		rec.family = TLSTAP_FAMILY_IPV4;
		rec.saddr[0] = 10; rec.saddr[1] = 1; rec.saddr[3] = flow;
		rec.daddr[0] = 192; rec.daddr[1] = 0; rec.daddr[2] = 2;
		rec.daddr[3] = 1;
		rec.sport = htons(40000 + flow);
		rec.dport = htons(443);
		break;
	case 2:
		rec.family = TLSTAP_FAMILY_IPV6;
		rec.saddr[0] = 0x20; rec.saddr[1] = 0x01; rec.saddr[15] = flow;
		rec.daddr[0] = 0x20; rec.daddr[1] = 0x01; rec.daddr[15] = 1;
		rec.sport = htons(40000 + flow);
		rec.dport = htons(8443);
		break;
	default:
		rec.family = TLSTAP_FAMILY_NONE;
		break;
	}
	if (loss_report)
		msg_len = 0;
	rec.msg_len = htonl(msg_len);
	rec.pid = htonl(getpid());
	rec.timestamp_ns = htobe64(w->tag++);
	rec.conn_id = htobe64(((uint64_t)w->id << 32) | flow);
	rec.dropped = htobe64(loss_report ? 1 + rnd_below(&w->rnd, 100000) :
			      (rnd_below(&w->rnd, 8) ? 0 : rnd_below(&w->rnd, 5000)));
	memcpy(p, &rec, sizeof(rec));
	rnd_fill(&w->rnd, p + sizeof(rec), msg_len);
	return sizeof(rec) + msg_len;
}

/* Up to 4 valid records into buf; returns the bytes used. */
static size_t make_valid(struct writer *w, uint8_t *buf, size_t room)
{
	unsigned int n = 1 + rnd_below(&w->rnd, 4), i;
	size_t len = 0;

	for (i = 0; i < n; i++) {
		uint32_t msg = pick_msg_len(&w->rnd);

		if (len + TLSTAP_RECORD_HDR_LEN + msg > room)
			break;
		len += make_record(w, buf + len, msg, !rnd_below(&w->rnd, 20));
	}
	return len;
}

static void mutate_header(struct writer *w, uint8_t *rec)
{
	struct tlstap_record *h = (struct tlstap_record *)rec;

	switch (rnd_below(&w->rnd, 8)) {
	case 0:
		h->type = 1 + 1 + rnd_below(&w->rnd, 255);
		break;
	case 1:
		h->dir = rnd_below(&w->rnd, 2) ? 0 : 3 + rnd_below(&w->rnd, 253);
		break;
	case 2:
		do
			h->family = rnd_below(&w->rnd, 256);
		while (h->family == 0 || h->family == 4 || h->family == 6);
		break;
	case 3:
		h->hdr_len = rnd_below(&w->rnd, 2) ? 0 : 73 + rnd_below(&w->rnd, 183);
		break;
	case 4:
		if (h->family == TLSTAP_FAMILY_NONE)
			h->sport = htons(1 + rnd_below(&w->rnd, 65535));
		else
			h->dport = 0;
		break;
	case 5:
		if (h->family == TLSTAP_FAMILY_IPV4)
			h->saddr[4 + rnd_below(&w->rnd, 12)] = 1 + rnd_below(&w->rnd, 255);
		else
			h->type = 0;
		break;
	case 6:		/* msg_len 0 without a loss */
		h->msg_len = 0;
		h->dropped = 0;
		break;
	default:
		if (h->family == TLSTAP_FAMILY_NONE)
			h->daddr[rnd_below(&w->rnd, 16)] = 1 + rnd_below(&w->rnd, 255);
		else
			h->hdr_len = 71;
		break;
	}
}

/* Builds one operation of kind k into w->buf; returns its length. */
static size_t build(struct writer *w, enum op_kind k)
{
	uint8_t *b = w->buf;
	size_t len = 0;
	uint32_t v;

	switch (k) {
	case OP_VALID:
	case OP_WRITEV:
		return make_valid(w, b, BUF_SIZE);
	case OP_TRUNCATED:
		len = make_valid(w, b, BUF_SIZE);
		return rnd_below(&w->rnd, len);
	case OP_BAD_LEN:
		len = make_valid(w, b, BUF_SIZE / 2);
		v = ntohl(((struct tlstap_record *)b)->msg_len);
		switch (rnd_below(&w->rnd, 4)) {
		case 0:
			v += 1 + rnd_below(&w->rnd, 100);
			break;
		case 1:
			v = v ? v - 1 - rnd_below(&w->rnd, v) : 1;
			break;
		case 2:
			v = rnd_below(&w->rnd, RECORD_CAP);
			break;
		default:
			v = (uint32_t)rnd_next(&w->rnd);
			break;
		}
		((struct tlstap_record *)b)->msg_len = htonl(v);
		return len;
	case OP_HUGE_LEN:
		len = make_record(w, b, 1 + rnd_below(&w->rnd, 100), false);
		switch (rnd_below(&w->rnd, 4)) {
		case 0:
			v = 0xffffffffU;
			break;
		case 1:
			v = TLSTAP_DEFAULT_MAX_RECORD + 1;
			break;
		case 2:
			v = 16U << 20;
			break;
		default:
			v = 0x80000000U | (uint32_t)rnd_next(&w->rnd);
			break;
		}
		((struct tlstap_record *)b)->msg_len = htonl(v);
		return len;
	case OP_BAD_FIELD:
		len = make_valid(w, b, BUF_SIZE);
		/* Sometimes a bad one after good ones: a partial write. */
		if (rnd_below(&w->rnd, 2)) {
			size_t first = len;

			len += make_record(w, b + len, pick_msg_len(&w->rnd), false);
			mutate_header(w, b + first);
		} else {
			mutate_header(w, b);
		}
		return len;
	case OP_RANDOM:
		len = rnd_below(&w->rnd, 9000);
		rnd_fill(&w->rnd, b, len);
		return len;
	case OP_FLIP: {
		unsigned int flips = 1 + rnd_below(&w->rnd, 4), i;

		len = make_valid(w, b, BUF_SIZE);
		for (i = 0; i < flips; i++)
			b[rnd_below(&w->rnd, TLSTAP_RECORD_HDR_LEN)] ^=
				1 << rnd_below(&w->rnd, 8);
		return len;
	}
	default:
		return 0;
	}
}

/*
 * Credits what the module accepted: the whole records at the start of
 * buf that the call's result covers (records are accepted whole, in
 * order, and the result is the sum of their lengths).
 */
static void credit(struct writer *w, const uint8_t *buf, size_t accepted)
{
	size_t pos = 0;

	while (pos + TLSTAP_RECORD_HDR_LEN <= accepted) {
		const struct tlstap_record *h = (const void *)(buf + pos);
		size_t len = TLSTAP_RECORD_HDR_LEN + ntohl(h->msg_len);

		if (pos + len > accepted)
			break;
		hashlog_add(&w->hashes, fnv1a(buf + pos, len));
		w->accepted_records++;
		w->accepted_bytes += len;
		if (!h->msg_len)
			w->loss_reports++;
		pos += len;
	}
	if (pos != accepted) {
		fprintf(stderr, "stresswriter: writer %u: the module accepted %zu bytes, not a whole number of records (%zu)\n",
			w->id, accepted, pos);
		exit(2);
	}
}

static void account(struct writer *w, enum op_kind k, ssize_t rc, int err,
		    size_t len, const uint8_t *buf)
{
	struct outcome *o = &w->out[k];

	o->calls++;
	if (rc < 0) {
		if (err < MAX_ERRNO)
			o->err[err]++;
		if (op_reaches_module(k))
			w->module_drops++;
		return;
	}
	if ((size_t)rc == len) {
		o->full++;
	} else {
		o->partial++;
		w->module_drops++;
	}
	if (buf)
		credit(w, buf, rc);
}

/* Cuts [buf, buf + len) into up to MAX_IOV pieces, some of them empty. */
static int cut_iov(struct writer *w, uint8_t *buf, size_t len)
{
	unsigned int want = 1 + rnd_below(&w->rnd, MAX_IOV), n = 0;
	size_t pos = 0;

	while (n < want - 1 && pos < len) {
		size_t piece = rnd_below(&w->rnd, 2 * len / want + 2);

		if (pos + piece > len)
			piece = len - pos;
		w->iov[n].iov_base = buf + pos;
		w->iov[n].iov_len = piece;
		pos += piece;
		n++;
	}
	w->iov[n].iov_base = buf + pos;
	w->iov[n].iov_len = len - pos;
	return n + 1;
}

static void run_op(struct writer *w)
{
	enum op_kind k = rnd_below(&w->rnd, OP_COUNT);
	bool nonblock = rnd_below(&w->rnd, 2);
	int fd = nonblock ? w->fd_nonblock : w->fd_block;
	long page = sysconf(_SC_PAGESIZE);
	ssize_t rc;
	size_t len;
	int iovcnt;

	w->nonblock_calls += nonblock;
	switch (k) {
	case OP_WRITEV:
		len = build(w, k);
		iovcnt = cut_iov(w, w->buf, len);
		rc = writev(fd, w->iov, iovcnt);
		account(w, k, rc, errno, len, w->buf);
		return;
	case OP_FAULT: {
		/* A record whose tail (or header) runs into the guard page. */
		uint32_t msg = 1 + rnd_below(&w->rnd, 3000);
		size_t before = rnd_below(&w->rnd, 2) ?
				TLSTAP_RECORD_HDR_LEN + rnd_below(&w->rnd, msg) :
				1 + rnd_below(&w->rnd, TLSTAP_RECORD_HDR_LEN - 1);
		uint8_t *rec = w->guard + page - before;

		len = make_record(w, w->buf, msg, false);
		memcpy(rec, w->buf, before);
		rc = write(fd, rec, len);
		account(w, k, rc, errno, len, NULL);
		return;
	}
	case OP_FAULT_IOV:
		len = make_valid(w, w->buf, BUF_SIZE / 2);
		iovcnt = cut_iov(w, w->buf, len);
		if (iovcnt < MAX_IOV) {
			int at = rnd_below(&w->rnd, iovcnt + 1);

			memmove(&w->iov[at + 1], &w->iov[at],
				(iovcnt - at) * sizeof(w->iov[0]));
			w->iov[at].iov_base = w->guard + page;
			w->iov[at].iov_len = 1 + rnd_below(&w->rnd, page);
			len += w->iov[at].iov_len;
			iovcnt++;
		}
		rc = writev(fd, w->iov, iovcnt);
		/* Records before the bad iovec may be accepted whole. */
		account(w, k, rc, errno, len, rc > 0 ? w->buf : NULL);
		return;
	case OP_BAD_POINTER:
		rc = write(fd, (void *)0xffff888000000000UL, 200);
		account(w, k, rc, errno, 200, NULL);
		return;
	case OP_TOO_MANY_IOV: {
		unsigned int i;
		struct iovec *many = calloc(MAX_IOV + 1, sizeof(*many));

		if (!many)
			die("calloc");
		len = make_record(w, w->buf, 10, false);
		many[0].iov_base = w->buf;
		many[0].iov_len = len;
		for (i = 1; i <= MAX_IOV; i++)
			many[i].iov_base = w->buf;
		rc = writev(fd, many, MAX_IOV + 1);
		account(w, k, rc, errno, len, rc > 0 ? w->buf : NULL);
		free(many);
		return;
	}
	case OP_ZERO:
		rc = write(fd, w->buf, 0);
		account(w, k, rc, errno, 0, NULL);
		return;
	default:
		len = build(w, k);
		rc = write(fd, w->buf, len);
		account(w, k, rc, errno, len, w->buf);
		return;
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	long page = sysconf(_SC_PAGESIZE);

	w->fd_block = open(w->sh->dev, O_WRONLY | O_CLOEXEC);
	w->fd_nonblock = open(w->sh->dev, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (w->fd_block < 0 || w->fd_nonblock < 0)
		die(w->sh->dev);
	w->buf = malloc(BUF_SIZE);
	w->iov = calloc(MAX_IOV + 1, sizeof(*w->iov));
	w->guard = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!w->buf || !w->iov || w->guard == MAP_FAILED)
		die("writer memory");
	if (mprotect(w->guard + page, page, PROT_NONE))
		die("mprotect");
	while (!atomic_load(&w->sh->stop))
		run_op(w);
	close(w->fd_block);
	close(w->fd_nonblock);
	munmap(w->guard, 2 * page);
	free(w->iov);
	free(w->buf);
	return NULL;
}

/* ------------------------------------------------------------------
 * sysfs: random bytes and plausible-but-wrong values at every file.
 */

static int write_file(const char *dir, const char *name, const void *buf,
		      size_t len)
{
	char path[PATH_MAX];
	ssize_t rc;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = write(fd, buf, len);
	err = errno;
	close(fd);
	return rc < 0 ? -err : 0;
}

static int read_file(const char *dir, const char *name)
{
	char path[PATH_MAX], buf[8192];
	ssize_t rc;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = read(fd, buf, sizeof(buf));
	err = errno;
	close(fd);
	return rc < 0 ? -err : 0;
}

static const char *const sysfs_files[] = {
	"targets", "tos", "max_record", "flush_us", "ring_kb", "heartbeat_ms",
	"retransmit_pps", "hash_key", "stats",
};

/* Values each file must refuse, and a few it must take (kept small). */
static const char *const wrong_values[] = {
	"", "\n", "-1", "0", "4294967296", "99999999999999999999", "0x",
	"1 2", "12abc", " 5", "+", "1e3", "0x1ffffffff", "256", "65536\n\n",
	"add", "add ", "add 10.77.1.2", "add 10.77.1.2:", "add 10.77.1.2:0",
	"add 10.77.1.2:65536", "add 300.1.1.1:7419", "add [::]:7419",
	"add [fd77:1::2]7419", "add [fd77:1::2]:", "add 10.77.1.2:7419 weight 0",
	"add 10.77.1.2:7419 weight 256", "add 10.77.1.2:7419 weight",
	"add 10.77.1.2:7419 weight 1 extra", "del", "del 10.77.1.2",
	"flush now", "ADD 10.77.1.2:7419", "add\t10.77.1.2:7419",
	"add 10.77.1.2:7419\0garbage", "000102030405060708090a0b0c0d0e0",
	"000102030405060708090a0b0c0d0e0f0", "000102030405060708090a0b0c0d0eXY",
	"1048577", "16777217", "1000001", "60001", "10000001", "63",
};

static const char *const right_values[][2] = {
	{ "tos", "32" }, { "tos", "184" }, { "max_record", "65536" },
	{ "max_record", "1000" }, { "max_record", "16777216" },
	{ "flush_us", "1" }, { "flush_us", "500" }, { "flush_us", "200000" },
	{ "ring_kb", "64" }, { "ring_kb", "256" }, { "heartbeat_ms", "1" },
	{ "heartbeat_ms", "100" }, { "retransmit_pps", "1" },
	{ "retransmit_pps", "10000" },
	{ "hash_key", "000102030405060708090a0b0c0d0e0f" },
	{ "hash_key", "ffeeddccbbaa99887766554433221100\n" },
};

static void *sysfs_main(void *arg)
{
	struct shared *sh = arg;
	uint64_t r = 0x5157f5 ^ (uint64_t)time(NULL);
	uint8_t junk[300];

	while (!atomic_load(&sh->stop)) {
		const unsigned int nfiles = sizeof(sysfs_files) / sizeof(*sysfs_files);
		unsigned int f = rnd_below(&r, nfiles + 2);
		const char *dir = sh->sysfs, *name;
		size_t len;
		int rc;

		/* The module parameters too: gso is writable, port is not. */
		if (f >= nfiles) {
			dir = sh->param;
			name = f == nfiles ? "gso" : "port";
		} else {
			name = sysfs_files[f];
		}
		switch (rnd_below(&r, 8)) {
		case 0: case 1: case 2:		/* random bytes */
			len = rnd_below(&r, sizeof(junk));
			rnd_fill(&r, junk, len);
			rc = write_file(dir, name, junk, len);
			tally_add(&sh->sysfs_write, rc);
			break;
		case 3: case 4: case 5: {	/* plausible but wrong */
			const char *v = wrong_values[rnd_below(&r,
				sizeof(wrong_values) / sizeof(*wrong_values))];

			rc = write_file(dir, name, v, strlen(v) +
					(rnd_below(&r, 2) ? 1 : 0));
			tally_add(&sh->sysfs_write, rc);
			break;
		}
		case 6: {			/* right, within safe bounds */
			unsigned int i = rnd_below(&r,
				sizeof(right_values) / sizeof(*right_values));

			rc = write_file(sh->sysfs, right_values[i][0],
					right_values[i][1],
					strlen(right_values[i][1]));
			tally_add(&sh->sysfs_write, rc);
			if (rnd_below(&r, 4) == 0) {
				rc = write_file(sh->param, "gso",
						rnd_below(&r, 2) ? "Y" : "N", 1);
				tally_add(&sh->sysfs_write, rc);
			}
			break;
		}
		default:
			tally_add(&sh->sysfs_read, read_file(dir, name));
			break;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------
 * Targets: added and removed from the pool, now and then all flushed,
 * now and then with another ring size.
 */
static void *targets_main(void *arg)
{
	struct shared *sh = arg;
	uint64_t r = 0x7a46e7 ^ (uint64_t)time(NULL);
	char line[128];
	int rc;

	while (!atomic_load(&sh->stop)) {
		const char *ep = sh->pool.ep[rnd_below(&r, sh->pool.n)];
		struct timespec ts = {
			.tv_nsec = (20 + rnd_below(&r, 200)) * 1000000L,
		};

		switch (rnd_below(&r, 16)) {
		case 0:
			rc = write_file(sh->sysfs, "targets", "flush", 5);
			tally_add(&sh->targets_flush, rc);
			break;
		case 1: case 2:
			snprintf(line, sizeof(line), "%u",
				 64 << rnd_below(&r, 4));
			rc = write_file(sh->sysfs, "ring_kb", line, strlen(line));
			tally_add(&sh->ring_set, rc);
			break;
		case 3: case 4: case 5: case 6: case 7: case 8:
			snprintf(line, sizeof(line), "del %s", ep);
			rc = write_file(sh->sysfs, "targets", line, strlen(line));
			tally_add(&sh->targets_del, rc);
			break;
		default:
			snprintf(line, sizeof(line), "add %s weight %u", ep,
				 1 + rnd_below(&r, 255));
			rc = write_file(sh->sysfs, "targets", line, strlen(line));
			tally_add(&sh->targets_add, rc);
			break;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ------------------------------------------------------------------
 * Generic netlink: random commands and attributes for the family.
 */
struct genl_family_info {
	uint16_t id;
	uint32_t maxattr;
	uint8_t cmds[64];
	unsigned int ncmds;
};

static int family_attr_cb(const struct nlattr *a, void *data)
{
	struct genl_family_info *fi = data;

	switch (mnl_attr_get_type(a)) {
	case CTRL_ATTR_FAMILY_ID:
		fi->id = mnl_attr_get_u16(a);
		break;
	case CTRL_ATTR_MAXATTR:
		fi->maxattr = mnl_attr_get_u32(a);
		break;
	case CTRL_ATTR_OPS: {
		const struct nlattr *op, *f;

		mnl_attr_for_each_nested(op, a)
			mnl_attr_for_each_nested(f, op)
				if (mnl_attr_get_type(f) == CTRL_ATTR_OP_ID &&
				    fi->ncmds < sizeof(fi->cmds))
					fi->cmds[fi->ncmds++] = mnl_attr_get_u32(f);
		break;
	}
	}
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
	return MNL_CB_OK;
}

/* Asks the controller for the family; 0, or -errno (ENOENT: not there). */
static int resolve_family(struct mnl_socket *nl, const char *name,
			  struct genl_family_info *fi)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int rc;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	memset(fi, 0, sizeof(*fi));
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, n, 1, portid, family_cb, fi);
	} while (rc > 0);
	if (rc < 0)
		return -errno;
	return fi->id ? 0 : -ENOENT;
}

/* A random attribute value: integers near the edges, strings, junk. */
static void put_random_attr(struct nlmsghdr *nlh, uint64_t *r, uint16_t type,
			    unsigned int depth)
{
	static const char *const strs[] = {
		"10.77.1.2:7419", "[fd77:1::2]:7419", "10.99.0.1:7419",
		"10.77.1.2", "[::]:0", "", "000102030405060708090a0b0c0d0e0f",
		"flush", "add 10.77.1.2:7419",
	};
	uint8_t junk[300];
	uint32_t v32;
	size_t len;

	/* Each attribute adds at most ~300 bytes to a GENL_BUF_SIZE buffer. */
	if (nlh->nlmsg_len > GENL_MSG_MAX)
		return;
	switch (rnd_below(r, 8)) {
	case 0:
		mnl_attr_put_u8(nlh, type, rnd_next(r));
		break;
	case 1:
		mnl_attr_put_u16(nlh, type, rnd_next(r));
		break;
	case 2:		/* edges, small numbers, and random ones */
		switch (rnd_below(r, 4)) {
		case 0:
			v32 = rnd_below(r, 256);
			break;
		case 1:
			v32 = 0xffffffffU - rnd_below(r, 2);
			break;
		case 2:
			/*
			 * Powers of two, but none a valid ring_kb above 512:
			 * the module takes up to 1 GiB and allocates the ring
			 * of the next target at once, more than the test VM
			 * has (see docs/RELIABILITY.md).
			 */
			v32 = 1U << rnd_below(r, 32);
			if (v32 > 512 && v32 <= 1U << 20)
				v32 = 1U << 21;
			break;
		default:
			v32 = rnd_next(r);
			break;
		}
		mnl_attr_put_u32(nlh, type, v32);
		break;
	case 3:
		mnl_attr_put_u64(nlh, type, rnd_next(r));
		break;
	case 4:
		mnl_attr_put_strz(nlh, type, strs[rnd_below(r, sizeof(strs) / sizeof(*strs))]);
		break;
	case 5:
		if (depth < 3) {
			struct nlattr *nest = mnl_attr_nest_start(nlh, type);
			unsigned int n = rnd_below(r, 4), i;

			for (i = 0; i < n; i++)
				put_random_attr(nlh, r, rnd_below(r, 12), depth + 1);
			mnl_attr_nest_end(nlh, nest);
			break;
		}
		/* fall through */
	default:
		len = rnd_below(r, sizeof(junk));
		rnd_fill(r, junk, len);
		mnl_attr_put(nlh, type, len, junk);
		break;
	}
}

static void drain_replies(struct mnl_socket *nl, struct shared *sh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	while ((n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf),
			 MSG_DONTWAIT)) > 0) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		int len = n;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_ERROR &&
			    nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				tally_add(&sh->genl_reply, e->error);
			} else if (nlh->nlmsg_type != NLMSG_DONE) {
				tally_add(&sh->genl_reply, 0);
			}
		}
	}
}

static void *genl_main(void *arg)
{
	struct shared *sh = arg;
	uint64_t r = 0x6e1 ^ (uint64_t)time(NULL);
	struct genl_family_info fi;
	struct mnl_socket *nl;
	char *buf = malloc(GENL_BUF_SIZE);
	uint32_t seq = 2;
	int rc, on = 1;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl || !buf || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("netlink socket");
	/* Replies we do not read in time are dropped, not a reason to stop. */
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
		   &on, sizeof(on));
	rc = resolve_family(nl, TLSTAP_DEVICE_NAME, &fi);
	if (rc) {
		errno = -rc;
		die("generic netlink family " TLSTAP_DEVICE_NAME);
	}
	sh->genl_family_id = fi.id;
	sh->genl_ops = fi.ncmds;
	sh->genl_maxattr = fi.maxattr;
	while (!atomic_load(&sh->stop)) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct genlmsghdr *g;
		unsigned int nattr = rnd_below(&r, 8), i;

		nlh->nlmsg_type = fi.id;
		nlh->nlmsg_flags = NLM_F_REQUEST |
				   (rnd_below(&r, 2) ? NLM_F_ACK : 0) |
				   (rnd_below(&r, 4) ? 0 : NLM_F_DUMP);
		nlh->nlmsg_seq = seq++;
		g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
		g->cmd = fi.ncmds && rnd_below(&r, 8) ?
			 fi.cmds[rnd_below(&r, fi.ncmds)] : rnd_below(&r, 256);
		g->version = rnd_below(&r, 3);
		for (i = 0; i < nattr; i++)
			put_random_attr(nlh, &r, rnd_below(&r, fi.maxattr + 3), 0);
		/* Now and then a lying length: the kernel must not believe it. */
		if (nattr && !rnd_below(&r, 8)) {
			struct nlattr *a = (void *)((char *)g + sizeof(*g));

			a->nla_len = rnd_below(&r, 0x10000);
		}
		rc = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
		tally_add(&sh->genl_sent, rc < 0 ? -errno : 0);
		drain_replies(nl, sh);
	}
	mnl_socket_close(nl);
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------------
 * Report.
 */
static void print_tally(FILE *f, const char *name, const struct tally *t)
{
	int e;

	fprintf(f, "%s_calls %llu\n%s_ok %llu\n", name,
		(unsigned long long)t->calls, name, (unsigned long long)t->ok);
	for (e = 1; e < MAX_ERRNO; e++)
		if (t->err[e])
			fprintf(f, "%s_err_%s %llu\n", name, strerrorname_np(e),
				(unsigned long long)t->err[e]);
}

static void report(FILE *f, struct shared *sh, struct writer *w,
		   unsigned int nw, double seconds)
{
	struct outcome total[OP_COUNT];
	uint64_t rec = 0, bytes = 0, drops = 0, loss = 0, calls = 0, nb = 0;
	unsigned int i, k;
	int e;

	memset(total, 0, sizeof(total));
	for (i = 0; i < nw; i++) {
		for (k = 0; k < OP_COUNT; k++) {
			total[k].calls += w[i].out[k].calls;
			total[k].full += w[i].out[k].full;
			total[k].partial += w[i].out[k].partial;
			for (e = 0; e < MAX_ERRNO; e++)
				total[k].err[e] += w[i].out[k].err[e];
		}
		rec += w[i].accepted_records;
		bytes += w[i].accepted_bytes;
		drops += w[i].module_drops;
		loss += w[i].loss_reports;
		nb += w[i].nonblock_calls;
	}
	for (k = 0; k < OP_COUNT; k++) {
		calls += total[k].calls;
		fprintf(f, "op_%s_calls %llu\nop_%s_full %llu\nop_%s_partial %llu\n",
			op_names[k], (unsigned long long)total[k].calls,
			op_names[k], (unsigned long long)total[k].full,
			op_names[k], (unsigned long long)total[k].partial);
		for (e = 1; e < MAX_ERRNO; e++)
			if (total[k].err[e])
				fprintf(f, "op_%s_err_%s %llu\n", op_names[k],
					strerrorname_np(e),
					(unsigned long long)total[k].err[e]);
	}
	fprintf(f, "seconds %.1f\nwriters %u\nwrite_calls %llu\n"
		"nonblock_calls %llu\naccepted_records %llu\n"
		"accepted_bytes %llu\naccepted_loss_reports %llu\n"
		"module_drops %llu\n", seconds, nw,
		(unsigned long long)calls, (unsigned long long)nb,
		(unsigned long long)rec, (unsigned long long)bytes,
		(unsigned long long)loss, (unsigned long long)drops);
	print_tally(f, "sysfs_write", &sh->sysfs_write);
	print_tally(f, "sysfs_read", &sh->sysfs_read);
	print_tally(f, "targets_add", &sh->targets_add);
	print_tally(f, "targets_del", &sh->targets_del);
	print_tally(f, "targets_flush", &sh->targets_flush);
	print_tally(f, "ring_set", &sh->ring_set);
	if (sh->genl) {
		fprintf(f, "genl_family_id %llu\ngenl_ops %llu\ngenl_maxattr %llu\n",
			(unsigned long long)sh->genl_family_id,
			(unsigned long long)sh->genl_ops,
			(unsigned long long)sh->genl_maxattr);
		print_tally(f, "genl_sent", &sh->genl_sent);
		print_tally(f, "genl_reply", &sh->genl_reply);
	}
}

static void save_hashes(const char *path, struct writer *w, unsigned int nw)
{
	FILE *f = fopen(path, "wb");
	unsigned int i;

	if (!f)
		die(path);
	for (i = 0; i < nw; i++)
		if (fwrite(w[i].hashes.v, sizeof(uint64_t), w[i].hashes.n, f) !=
		    w[i].hashes.n)
			die(path);
	if (fclose(f))
		die(path);
}

/* ------------------------------------------------------------------
 * --check: what receivers output against what the module accepted.
 */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t cap = 0, n;

	if (!f)
		die(path);
	*len = 0;
	do {
		if (*len == cap) {
			cap = cap ? 2 * cap : 1 << 20;
			p = realloc(p, cap);
			if (!p)
				die("realloc");
		}
		n = fread(p + *len, 1, cap - *len, f);
		*len += n;
	} while (n);
	if (ferror(f))
		die(path);
	fclose(f);
	return p;
}

static int check(const char *accepted, char **raws, int nraw)
{
	size_t alen, n, i;
	uint64_t *h = (uint64_t *)slurp(accepted, &alen);
	uint8_t *used;
	uint64_t got = 0, unknown = 0, dup = 0, bytes = 0;
	int r;

	n = alen / sizeof(uint64_t);
	qsort(h, n, sizeof(*h), cmp_u64);
	used = calloc(n + 1, 1);
	if (!used)
		die("calloc");
	for (r = 0; r < nraw; r++) {
		size_t len, pos = 0;
		uint8_t *d = slurp(raws[r], &len);

		while (pos < len) {
			const struct tlstap_record *rec = (const void *)(d + pos);
			size_t rlen;
			uint64_t v;
			uint64_t *hit;

			if (len - pos < TLSTAP_RECORD_HDR_LEN ||
			    len - pos < TLSTAP_RECORD_HDR_LEN + ntohl(rec->msg_len)) {
				fprintf(stderr, "%s: truncated record at %zu\n",
					raws[r], pos);
				return 1;
			}
			rlen = TLSTAP_RECORD_HDR_LEN + ntohl(rec->msg_len);
			v = fnv1a(d + pos, rlen);
			got++;
			bytes += rlen;
			hit = bsearch(&v, h, n, sizeof(*h), cmp_u64);
			if (!hit) {
				unknown++;
			} else {
				/* Equal hashes sit together: take a free one. */
				while (hit > h && hit[-1] == v)
					hit--;
				while (hit < h + n && *hit == v && used[hit - h])
					hit++;
				if (hit < h + n && *hit == v)
					used[hit - h] = 1;
				else
					dup++;
			}
			pos += rlen;
		}
		free(d);
	}
	for (i = 0; i < n && !used[i]; i++)
		;
	printf("received_records %llu\nreceived_bytes %llu\n"
	       "received_unknown %llu\nreceived_duplicate %llu\n"
	       "accepted_not_received %llu\n",
	       (unsigned long long)got, (unsigned long long)bytes,
	       (unsigned long long)unknown, (unsigned long long)dup,
	       (unsigned long long)(n - (got - unknown - dup)));
	free(used);
	free(h);
	return unknown || dup;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: stresswriter --seconds N [--writers N] [--seed S] [--dev PATH]\n"
		"                    [--sysfs DIR] [--param DIR] [--pool ADDR:PORT[,...]]\n"
		"                    [--genl] [--accepted FILE] [--report FILE]\n"
		"       stresswriter --check ACCEPTED RAW...\n");
	exit(2);
}

static void parse_pool(struct endpoint_pool *p, char *s)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (p->n == MAX_POOL)
			dief("--pool: too many endpoints");
		p->ep[p->n++] = tok;
	}
}

static unsigned long parse_num(const char *opt, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !*s || v > max) {
		fprintf(stderr, "stresswriter: %s: bad value '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "writers", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 'S' },
		{ "dev", required_argument, NULL, 'd' },
		{ "sysfs", required_argument, NULL, 'y' },
		{ "param", required_argument, NULL, 'p' },
		{ "pool", required_argument, NULL, 'P' },
		{ "genl", no_argument, NULL, 'g' },
		{ "accepted", required_argument, NULL, 'a' },
		{ "report", required_argument, NULL, 'r' },
		{ "check", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct shared sh = {
		.dev = "/dev/tlstap",
		.sysfs = "/sys/class/misc/tlstap",
		.param = "/sys/module/tlstap/parameters",
	};
	static struct writer w[MAX_WRITERS];
	const char *accepted = NULL, *report_path = NULL, *check_file = NULL;
	unsigned long seconds = 0, nw = 4, seed = 1;
	pthread_t sysfs_thr, targets_thr, genl_thr;
	struct timespec t0, t1;
	double elapsed;
	unsigned int i;
	FILE *rf;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			seconds = parse_num("--seconds", optarg, 86400);
			break;
		case 'w':
			nw = parse_num("--writers", optarg, MAX_WRITERS);
			break;
		case 'S':
			seed = parse_num("--seed", optarg, ULONG_MAX);
			break;
		case 'd':
			sh.dev = optarg;
			break;
		case 'y':
			sh.sysfs = optarg;
			break;
		case 'p':
			sh.param = optarg;
			break;
		case 'P':
			parse_pool(&sh.pool, optarg);
			break;
		case 'g':
			sh.genl = true;
			break;
		case 'a':
			accepted = optarg;
			break;
		case 'r':
			report_path = optarg;
			break;
		case 'c':
			check_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (check_file)
		return check(check_file, argv + optind, argc - optind);
	if (!seconds || !nw || !sh.pool.n || optind != argc)
		usage();

	atomic_init(&sh.stop, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nw; i++) {
		w[i].sh = &sh;
		w[i].id = i;
		w[i].rnd = (seed * 0x9e3779b97f4a7c15ULL) ^ (i + 1) * 0xbf58476d1ce4e5b9ULL;
		w[i].tag = (uint64_t)i << 48;
		if (pthread_create(&w[i].thread, NULL, writer_main, &w[i]))
			dief("pthread_create failed");
	}
	if (pthread_create(&sysfs_thr, NULL, sysfs_main, &sh) ||
	    pthread_create(&targets_thr, NULL, targets_main, &sh) ||
	    (sh.genl && pthread_create(&genl_thr, NULL, genl_main, &sh)))
		dief("pthread_create failed");
	sleep(seconds);
	atomic_store(&sh.stop, true);
	for (i = 0; i < nw; i++)
		pthread_join(w[i].thread, NULL);
	pthread_join(sysfs_thr, NULL);
	pthread_join(targets_thr, NULL);
	if (sh.genl)
		pthread_join(genl_thr, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (accepted)
		save_hashes(accepted, w, nw);
	rf = report_path ? fopen(report_path, "w") : stdout;
	if (!rf)
		die(report_path);
	report(rf, &sh, w, nw, elapsed);
	if (rf != stdout && fclose(rf))
		die(report_path);
	return 0;
}
