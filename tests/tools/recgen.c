// SPDX-License-Identifier: GPL-2.0
/*
 * recgen: writes deterministic test records to /dev/tlstap (or any path)
 * and the same bytes to an expected-output file, so that a test can check
 * what the targets reassemble against what was written.
 *
 * Flows are IPv4, IPv6 and socketless (family NONE); each record goes in a
 * random direction of its flow, so both directions of every flow occur.
 * timestamp_ns is the record's index: unique, so checkers can match.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/tlstap.h>

struct flow {
	uint8_t family;
	uint8_t a[16], b[16];
	uint16_t aport, bport;
	uint64_t conn_id;
};

struct opts {
	const char *dev;
	const char *expected;
	unsigned long records;
	unsigned int flows;
	uint32_t max_len;
	unsigned int batch;
	unsigned int seed;
	int nonblock;
};

/* xorshift64*: reproducible across runs and hosts. */
static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void make_flow(struct flow *f, unsigned int i, uint64_t *rnd)
{
	memset(f, 0, sizeof(*f));
	f->conn_id = 0x1000000ULL + i;
	switch (i % 5) {
	case 0: case 1: case 2:
		f->family = TLSTAP_FAMILY_IPV4;
		f->a[0] = 10; f->a[1] = 1; f->a[2] = i >> 8; f->a[3] = i;
		f->b[0] = 192; f->b[1] = 0; f->b[2] = 2; f->b[3] = 1 + i % 7;
		break;
	case 3:
		f->family = TLSTAP_FAMILY_IPV6;
		f->a[0] = 0x20; f->a[1] = 0x01; f->a[2] = 0x0d; f->a[3] = 0xb8;
		f->a[14] = i >> 8; f->a[15] = i;
		memcpy(f->b, f->a, 16);
		f->b[8] = 0xff; f->b[15] = 1 + i % 5;
		break;
	default:
		f->family = TLSTAP_FAMILY_NONE;
		return;
	}
	f->aport = 1024 + rnd_next(rnd) % 60000;
	f->bport = (i & 1) ? 443 : 8443;
}

static uint32_t pick_len(unsigned long i, uint32_t max, uint64_t *rnd)
{
	uint32_t bits, len;

	if (i == 0)
		return 1;
	if (i == 1)
		return max;
	/* Log-uniform: as many tiny records as huge ones. */
	bits = 1 + rnd_next(rnd) % 17;
	len = 1 + rnd_next(rnd) % (bits >= 32 ? max : (1U << bits));
	return len > max ? max : len;
}

static void fill_record(struct tlstap_record *r, const struct flow *f,
			int dir, uint32_t len, unsigned long index)
{
	/* The local end is a: it sends what it writes. */
	int a_sends = dir == TLSTAP_DIR_WRITE;
	const uint8_t *src = a_sends ? f->a : f->b;
	const uint8_t *dst = a_sends ? f->b : f->a;
	uint16_t sport = a_sends ? f->aport : f->bport;
	uint16_t dport = a_sends ? f->bport : f->aport;

	memset(r, 0, sizeof(*r));
	r->type = TLSTAP_RECORD_DATA;
	r->dir = dir;
	r->family = f->family;
	r->hdr_len = TLSTAP_RECORD_HDR_LEN;
	r->msg_len = htonl(len);
	r->pid = htonl(getpid());
	r->timestamp_ns = htobe64(index);
	r->conn_id = htobe64(f->conn_id);
	r->dropped = htobe64(index % 11 == 0 ? index : 0);
	if (f->family == TLSTAP_FAMILY_NONE)
		return;
	memcpy(r->saddr, src, 16);
	memcpy(r->daddr, dst, 16);
	r->sport = htons(sport);
	r->dport = htons(dport);
}

static void fill_payload(uint8_t *p, uint32_t len, unsigned long index)
{
	uint64_t s = index * 0x9e3779b97f4a7c15ULL + 1;
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rnd_next(&s);
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-d DEV] [-o EXPECTED] [-n RECORDS] [-f FLOWS] [-m MAX]\n"
		"          [-b RECORDS_PER_WRITE] [-s SEED] [-N]\n", argv0);
	return 2;
}

/* Writes the records; 0, or 1 after printing why not. */
static int run(const struct opts *o, int fd, FILE *exp, struct flow *flows,
	       struct iovec *iov, uint8_t **bufs)
{
	unsigned long i, eagain = 0, bytes = 0;
	uint64_t rnd = 0x5eed0000ULL + o->seed;

	for (i = 0; i < o->flows; i++)
		make_flow(&flows[i], i, &rnd);

	for (i = 0; i < o->records;) {
		unsigned int n = 0, k;
		ssize_t w;

		for (; n < o->batch && i + n < o->records; n++) {
			unsigned long idx = i + n;
			const struct flow *f = &flows[rnd_next(&rnd) % o->flows];
			uint32_t len = pick_len(idx, o->max_len, &rnd);
			int dir = (rnd_next(&rnd) & 1) ? TLSTAP_DIR_READ :
							  TLSTAP_DIR_WRITE;

			fill_record((struct tlstap_record *)bufs[n], f, dir,
				    len, idx);
			fill_payload(bufs[n] + TLSTAP_RECORD_HDR_LEN, len, idx);
			iov[n].iov_base = bufs[n];
			iov[n].iov_len = TLSTAP_RECORD_HDR_LEN + len;
		}
		w = writev(fd, iov, n);
		if (w < 0 && errno == EAGAIN) {
			eagain++;
			continue;	/* the same records again */
		}
		if (w < 0) {
			fprintf(stderr, "recgen: write: %s\n", strerror(errno));
			return 1;
		}
		/* A short count covers whole records: resend the rest. */
		for (k = 0; k < n && (size_t)w >= iov[k].iov_len; k++) {
			w -= iov[k].iov_len;
			bytes += iov[k].iov_len;
			if (exp && fwrite(bufs[k], iov[k].iov_len, 1, exp) != 1) {
				perror("recgen: fwrite");
				return 1;
			}
		}
		if (w) {
			fprintf(stderr, "recgen: write split a record\n");
			return 1;
		}
		i += k;
	}
	printf("records %lu bytes %lu eagain %lu\n", o->records, bytes, eagain);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { "/dev/tlstap", NULL, 1000, 100, 65536, 1, 1, 0 };
	struct flow *flows = NULL;
	struct iovec *iov = NULL;
	uint8_t **bufs = NULL;
	FILE *exp = NULL;
	int fd = -1, c, ret = 1;
	unsigned int i;

	while ((c = getopt(argc, argv, "d:o:n:f:m:b:s:N")) != -1) {
		switch (c) {
		case 'd':
			o.dev = optarg;
			break;
		case 'o':
			o.expected = optarg;
			break;
		case 'n':
			o.records = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			o.flows = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			o.max_len = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			o.batch = strtoul(optarg, NULL, 0);
			break;
		case 's':
			o.seed = strtoul(optarg, NULL, 0);
			break;
		case 'N':
			o.nonblock = 1;
			break;
		default:
			return usage(argv[0]);
		}
	}
	if (!o.flows || !o.batch || !o.max_len)
		return usage(argv[0]);

	flows = calloc(o.flows, sizeof(*flows));
	iov = calloc(o.batch, sizeof(*iov));
	bufs = calloc(o.batch, sizeof(*bufs));
	if (!flows || !iov || !bufs) {
		perror("recgen: calloc");
		goto out;
	}
	for (i = 0; i < o.batch; i++) {
		bufs[i] = malloc(TLSTAP_RECORD_HDR_LEN + o.max_len);
		if (!bufs[i]) {
			perror("recgen: malloc");
			goto out;
		}
	}
	fd = open(o.dev, O_WRONLY | (o.nonblock ? O_NONBLOCK : 0));
	if (fd < 0) {
		fprintf(stderr, "recgen: open %s: %s\n", o.dev, strerror(errno));
		goto out;
	}
	if (o.expected)
		exp = fopen(o.expected, "w");
	if (o.expected && !exp) {
		fprintf(stderr, "recgen: %s: %s\n", o.expected, strerror(errno));
		goto out;
	}
	ret = run(&o, fd, exp, flows, iov, bufs);
	if (exp && fclose(exp)) {
		perror("recgen: fclose");
		ret = 1;
	}
	exp = NULL;
out:
	if (exp)
		fclose(exp);
	if (fd >= 0)
		close(fd);
	for (i = 0; bufs && i < o.batch; i++)
		free(bufs[i]);
	free(bufs);
	free(iov);
	free(flows);
	return ret;
}
