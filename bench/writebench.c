// SPDX-License-Identifier: GPL-2.0
/*
 * writebench: what a hooked server pays per record, and what the whole
 * machine pays. Writes N records of one plaintext size, one record per
 * call, to /dev/tlstap or to a Unix datagram or seqpacket socket
 * (tlstap-fwd --unix, --seqpacket); with --ring, through libtlstap.so's
 * capture ring code (userhook/ring.c, on_full = block, a 1 MiB ring) into
 * /dev/tlstap or tlstap-fwd --seqpacket: no system call per record.
 * Prints one line of key=value figures:
 *   write_ns_p50/p99   time inside one write()/send() call, or putting
 *                      one record into the ring
 *   rec_per_s          records per second of wall time
 *   cpu_us_per_rec     busy CPU time of the whole machine (all CPUs, from
 *                      /proc/stat: writer, kernel worker or forwarder,
 *                      softirqs) per record
 *   writer_us_per_rec  the writer's own CPU time per record (getrusage)
 * With --rate R, the records are written at R per second (for latency:
 * bench/reclatency on the target's side) instead of back to back.
 * With SETTLE (e.g. /sys/class/misc/tlstap/stats), the machine's CPU time
 * also covers sending what is still queued when the last write returns:
 * it is read once SETTLE has stopped changing.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/tlstap.h>

#include "ring.h"

#define FLOWS 64
#define RING_KB 1024

struct bench {
	const char *path;
	uint32_t size;
	unsigned long count;
	int fd;
	int is_socket;
	bool ring;
	unsigned long rate;		/* records/s, 0: back to back */
	struct ring_table *rings;
	uint8_t *rec[FLOWS];
	struct session_info si[FLOWS];
	uint32_t *lat_ns;
};

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Busy time of all CPUs in USER_HZ ticks. */
static int cpu_busy_ticks(unsigned long long *busy)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8], &v[9]);
	fclose(f);
	if (n < 8)
		return -1;
	/* Everything but idle (3) and iowait (4). */
	*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return 0;
}

static int open_output(struct bench *b)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;

	if (stat(b->path, &st)) {
		fprintf(stderr, "writebench: %s: %s\n", b->path, strerror(errno));
		return -1;
	}
	if (b->ring) {
		b->rings = calloc(1, sizeof(*b->rings));
		if (!b->rings)
			return -1;
		ring_table_init(b->rings, b->path, true, RING_KB, true);
		return 0;
	}
	if (!S_ISSOCK(st.st_mode)) {
		b->fd = open(b->path, O_WRONLY);
		if (b->fd < 0)
			fprintf(stderr, "writebench: open %s: %s\n", b->path,
				strerror(errno));
		return b->fd < 0 ? -1 : 0;
	}
	b->is_socket = 1;
	b->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (b->fd < 0 || strlen(b->path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "writebench: socket for %s failed\n", b->path);
		return -1;
	}
	strcpy(sun.sun_path, b->path);
	if (!connect(b->fd, (struct sockaddr *)&sun, sizeof(sun)))
		return 0;
	if (errno == EPROTOTYPE) {
		/* tlstap-fwd --seqpacket. */
		close(b->fd);
		b->fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (b->fd >= 0 &&
		    !connect(b->fd, (struct sockaddr *)&sun, sizeof(sun)))
			return 0;
	}
	fprintf(stderr, "writebench: connect %s: %s\n", b->path,
		strerror(errno));
	return -1;
}

static int build_records(struct bench *b)
{
	unsigned int i;

	for (i = 0; i < FLOWS; i++) {
		struct tlstap_record *r;

		b->rec[i] = malloc(TLSTAP_RECORD_HDR_LEN + b->size);
		if (!b->rec[i])
			return -1;
		r = (struct tlstap_record *)b->rec[i];
		memset(r, 0, sizeof(*r));
		r->type = TLSTAP_RECORD_DATA;
		r->dir = (i & 1) ? TLSTAP_DIR_READ : TLSTAP_DIR_WRITE;
		r->family = TLSTAP_FAMILY_IPV4;
		r->hdr_len = TLSTAP_RECORD_HDR_LEN;
		r->sport = htons(40000 + i);
		r->dport = htons(443);
		r->msg_len = htonl(b->size);
		r->pid = htonl(getpid());
		r->saddr[0] = 10;
		r->saddr[3] = 1 + i;
		r->daddr[0] = 192;
		r->daddr[3] = 1;
		r->conn_id = htobe64(i + 1);
		memset(b->rec[i] + TLSTAP_RECORD_HDR_LEN, 'a' + i % 26, b->size);
		/* The same flow, as the hook knows it (WRITE: local first). */
		b->si[i].conn_id = i + 1;
		b->si[i].flow.family = TLSTAP_FAMILY_IPV4;
		if (r->dir == TLSTAP_DIR_WRITE) {
			memcpy(b->si[i].flow.local_addr, r->saddr, 4);
			memcpy(b->si[i].flow.remote_addr, r->daddr, 4);
			b->si[i].flow.local_port = 40000 + i;
			b->si[i].flow.remote_port = 443;
		} else {
			memcpy(b->si[i].flow.local_addr, r->daddr, 4);
			memcpy(b->si[i].flow.remote_addr, r->saddr, 4);
			b->si[i].flow.local_port = 443;
			b->si[i].flow.remote_port = 40000 + i;
		}
	}
	return 0;
}

/* One record into the thread's capture ring, as libtlstap.so puts it. */
static int ring_write(struct bench *b, unsigned int flow)
{
	const uint8_t *rec = b->rec[flow];
	const struct tlstap_record *h = (const struct tlstap_record *)rec;
	struct record_meta m = {
		.type = TLSTAP_RECORD_DATA,
		.dir = h->dir,
		.si = &b->si[flow],
		.pid = ntohl(h->pid),
		/* As the hook stamps it: reclatency measures from here. */
		.timestamp_ns = clock_ns(CLOCK_REALTIME),
	};
	size_t taken;

	if (ring_put(b->rings, &m, rec + TLSTAP_RECORD_HDR_LEN, b->size,
		     &taken, 0) != RING_SENT || taken != b->size) {
		fprintf(stderr, "writebench: no capture ring on %s, or a record larger than it takes\n", b->path);
		return -1;
	}
	return 0;
}

/* Waits until the file's content is the same 50 ms apart. */
static int settle(const char *path)
{
	char prev[4096] = "", cur[4096];
	int fd, n;

	for (;;) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		n = read(fd, cur, sizeof(cur) - 1);
		close(fd);
		if (n < 0)
			return -1;
		cur[n] = '\0';
		if (!strcmp(prev, cur))
			return 0;
		memcpy(prev, cur, n + 1);
		usleep(50000);
	}
}

/* Sleeps until CLOCK_MONOTONIC reaches at_ns. */
static void pace(uint64_t at_ns)
{
	struct timespec ts = {
		.tv_sec = at_ns / 1000000000ull,
		.tv_nsec = at_ns % 1000000000ull,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	unsigned long long busy0, busy1;
	struct rusage ru0, ru1;
	uint64_t t0, t1;
	unsigned long i;
	double wall, writer_s;

	for (;;) {
		if (argc > 1 && !strcmp(argv[1], "--ring")) {
			b.ring = true;
			argc--;
			argv++;
		} else if (argc > 2 && !strcmp(argv[1], "--rate")) {
			b.rate = strtoul(argv[2], NULL, 0);
			argc -= 2;
			argv += 2;
		} else {
			break;
		}
	}
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: writebench [--ring] [--rate R] PATH SIZE COUNT [SETTLE]\n");
		return 2;
	}
	b.path = argv[1];
	b.size = strtoul(argv[2], NULL, 0);
	b.count = strtoul(argv[3], NULL, 0);
	if (!b.size || !b.count)
		return 2;
	b.lat_ns = calloc(b.count, sizeof(*b.lat_ns));
	if (!b.lat_ns || build_records(&b) || open_output(&b))
		return 1;

	if (cpu_busy_ticks(&busy0) || getrusage(RUSAGE_SELF, &ru0))
		return 1;
	t0 = now_ns();
	for (i = 0; i < b.count; i++) {
		uint8_t *r = b.rec[i % FLOWS];
		size_t len = TLSTAP_RECORD_HDR_LEN + b.size;
		uint64_t s;
		ssize_t w;

		if (b.rate)
			pace(t0 + i * 1000000000ull / b.rate);
		s = now_ns();

		if (b.ring) {
			if (ring_write(&b, i % FLOWS))
				return 1;
			b.lat_ns[i] = now_ns() - s;
			continue;
		}
		((struct tlstap_record *)r)->timestamp_ns =
			htobe64(clock_ns(CLOCK_REALTIME));
		w = b.is_socket ? send(b.fd, r, len, 0) : write(b.fd, r, len);
		b.lat_ns[i] = now_ns() - s;
		if (w != (ssize_t)len) {
			fprintf(stderr, "writebench: write: %s\n",
				w < 0 ? strerror(errno) : "short");
			return 1;
		}
	}
	t1 = now_ns();
	if (getrusage(RUSAGE_SELF, &ru1))
		return 1;
	if (argc == 5 && settle(argv[4])) {
		fprintf(stderr, "writebench: %s: %s\n", argv[4], strerror(errno));
		return 1;
	}
	if (cpu_busy_ticks(&busy1))
		return 1;

	qsort(b.lat_ns, b.count, sizeof(*b.lat_ns), cmp_u32);
	wall = (t1 - t0) / 1e9;
	writer_s = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
		   (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		   ((ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
		    (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / 1e6;
	printf("size=%u records=%lu wall_s=%.3f rec_per_s=%.0f write_ns_p50=%u write_ns_p99=%u cpu_us_per_rec=%.2f writer_us_per_rec=%.2f\n",
	       b.size, b.count, wall, b.count / wall,
	       b.lat_ns[b.count / 2], b.lat_ns[b.count * 99 / 100],
	       (busy1 - busy0) * 1e6 / sysconf(_SC_CLK_TCK) / b.count,
	       writer_s * 1e6 / b.count);
	return 0;
}
