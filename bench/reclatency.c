// SPDX-License-Identifier: GPL-2.0
/*
 * reclatency: how long a record takes from its writer to the wire. Listens
 * on a UDP address for tlstap datagrams (a sender's target) and, for the
 * first chunk of every record (offset 0, carrying the record header), takes
 * the kernel's receive time of the datagram (SO_TIMESTAMPNS, CLOCK_REALTIME)
 * minus the record's timestamp_ns (CLOCK_REALTIME when the writer made the
 * record, just before it committed it). Sender and receiver on one host or
 * one VM share the clock. Stops after COUNT records or SECONDS without a
 * datagram and prints one line of key=value figures:
 *   records, lat_us_p50, lat_us_p99, lat_us_max
 * Usage: reclatency ADDR PORT COUNT [SECONDS]
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/tlstap.h>

/* Where timestamp_ns sits in a record. */
#define TS_OFF	offsetof(struct tlstap_record, timestamp_ns)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The receive time of the datagram msg carries, ns; 0 if none. */
static uint64_t rx_time(struct msghdr *msg)
{
	struct cmsghdr *cm;
	struct timespec ts;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned long count, n = 0;
	struct timeval tv = { .tv_sec = 10 };
	static uint8_t buf[65536];
	uint64_t *lat;
	int fd, on = 1;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: reclatency ADDR PORT COUNT [SECONDS]\n");
		return 2;
	}
	count = strtoul(argv[3], NULL, 0);
	if (argc == 5)
		tv.tv_sec = atoi(argv[4]);
	lat = calloc(count ? count : 1, sizeof(*lat));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_port = htons(atoi(argv[2]));
	if (!lat || fd < 0 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ 8 << 20 }, sizeof(int)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("reclatency");
		return 1;
	}
	printf("reclatency: listening\n");
	fflush(stdout);
	while (n < count) {
		union {
			char b[CMSG_SPACE(sizeof(struct timespec))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
		};
		ssize_t len = recvmsg(fd, &msg, 0);
		struct tlstap_msg_hdr mh;
		uint64_t rx;
		size_t pos;

		if (len < 0) {
			if (errno == EAGAIN)
				break;
			perror("reclatency: recvmsg");
			return 1;
		}
		rx = rx_time(&msg);
		if ((size_t)len < sizeof(mh))
			continue;
		memcpy(&mh, buf, sizeof(mh));
		if (mh.type != TLSTAP_MSG_DATA || !rx)
			continue;
		for (pos = sizeof(mh); pos + TLSTAP_CHUNK_HDR_LEN <= (size_t)len;) {
			struct tlstap_chunk_hdr ch;
			uint16_t clen;
			uint64_t ts;

			memcpy(&ch, buf + pos, sizeof(ch));
			clen = be16toh(ch.len);
			pos += TLSTAP_CHUNK_HDR_LEN;
			if (!ch.offset && clen >= TS_OFF + sizeof(ts) &&
			    pos + clen <= (size_t)len && n < count) {
				memcpy(&ts, buf + pos + TS_OFF, sizeof(ts));
				ts = be64toh(ts);
				lat[n++] = rx > ts ? rx - ts : 0;
			}
			pos += clen;
		}
	}
	if (!n) {
		fprintf(stderr, "reclatency: no record arrived\n");
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("records=%lu lat_us_p50=%.1f lat_us_p99=%.1f lat_us_max=%.1f\n",
	       n, lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3, lat[n - 1] / 1e3);
	return 0;
}
