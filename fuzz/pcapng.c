// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The synthetic TCP (nfq-tools/lib/tcpsynth.c) written as pcapng
 * (nfq-tools/lib/pcapng.c, one file through lib/outfile.c), fed arbitrary
 * records (any flow, connection, direction, size, dropped count; OPENs
 * and CLOSEs) from two senders and streams, in any record id order, with
 * LOST ranges, hold timeouts and new files (a rotated series' file
 * number changing) in between, under small limits (MTU, flows, held
 * bytes) so that segmentation and every eviction path run. The file is
 * then read back. Checks: blocks are well formed (section header, one
 * Ethernet interface, enhanced packet blocks whose two length fields
 * agree and whose options end where the block does, comments starting
 * "tlstap: "); the byte and packet counts are the writers' own counters;
 * every frame is the synthetic MACs' Ethernet frame of a valid IPv4 or
 * IPv6 TCP segment (lengths, IPv4 header checksum, TCP checksum
 * recomputed here) no larger than the MTU; and within a connection the
 * sequence numbers of each direction never go backwards but at a SYN.
 *
 * Input: u16 MTU, u8 max flows, u8 held-bytes limit, u8 hold mode, then
 * operations (record, lost, tick or new file).
 */
#include <limits.h>
#include <unistd.h>

#include "fuzz.h"
#include "outfile.h"
#include "pcapng.h"
#include "tcpsynth.h"

#define MAX_DIRS	512

struct dir_seq {
	uint8_t key[37];	/* src addr, dst addr, ports, IP version */
	uint32_t next;
};

struct reader {
	const uint8_t *buf;
	size_t len;
	unsigned int mtu;
	struct dir_seq dirs[MAX_DIRS];
	unsigned int ndirs;
	unsigned long long packets;
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Options from p to end: each padded to 4, the last one opt_endofopt. */
static void check_options(const uint8_t *p, const uint8_t *end, int required)
{
	if (p == end) {
		CHECK(!required, "no options");
		return;
	}
	for (;;) {
		uint16_t code, len;

		CHECK(end - p >= 4, "option header past the block");
		code = rd16(p);
		len = rd16(p + 2);
		p += 4;
		if (code == 0) {
			CHECK(len == 0 && p == end, "opt_endofopt not last");
			return;
		}
		CHECK((size_t)(end - p) >= ((len + 3u) & ~3u), "option past the block");
		CHECK(!memchr(p, '\0', len), "option %u holds a NUL", code);
		CHECK(code != 1 || (len >= 8 && !memcmp(p, "tlstap: ", 8)),
		      "comment %.*s", (int)len, p);
		p += (len + 3u) & ~3u;
	}
}

static void check_tcp(struct reader *rd, const uint8_t *pkt, size_t len)
{
	const uint8_t *tcp, *src, *dst;
	size_t alen, l4;
	uint32_t sum, seq;
	uint8_t key[37] = { 0 };
	struct dir_seq *d = NULL;
	size_t payload;
	uint8_t flags;

	CHECK(len >= 20 && len <= rd->mtu, "packet of %zu bytes, MTU %u", len,
	      rd->mtu);
	if (pkt[0] >> 4 == 4) {
		CHECK(pkt[0] == 0x45 && be16(pkt + 2) == len && pkt[9] == 6,
		      "IPv4 header");
		CHECK(fold(sum16(pkt, 20, 0)) == 0xffff, "IPv4 header checksum");
		l4 = 20;
		alen = 4;
		src = pkt + 12;
		dst = pkt + 16;
	} else {
		CHECK(pkt[0] >> 4 == 6 && len >= 40 && be16(pkt + 4) + 40u == len &&
		      pkt[6] == 6, "IPv6 header");
		l4 = 40;
		alen = 16;
		src = pkt + 8;
		dst = pkt + 24;
	}
	CHECK(len >= l4 + 20, "no room for TCP");
	tcp = pkt + l4;
	CHECK((tcp[12] >> 4) * 4u >= 20 && (tcp[12] >> 4) * 4u <= len - l4,
	      "TCP data offset");
	sum = sum16(src, alen, 0);
	sum = sum16(dst, alen, sum);
	sum += 6 + (uint32_t)(len - l4);
	CHECK(fold(sum16(tcp, len - l4, sum)) == 0xffff, "TCP checksum");
	payload = len - l4 - (tcp[12] >> 4) * 4u;

	memcpy(key, src, alen);
	memcpy(key + 16, dst, alen);
	memcpy(key + 32, tcp, 4);
	key[36] = pkt[0] >> 4;
	seq = be32(tcp + 4);
	flags = tcp[13];
	for (unsigned int i = 0; i < rd->ndirs; i++)
		if (!memcmp(rd->dirs[i].key, key, sizeof(key)))
			d = &rd->dirs[i];
	if (!d) {
		if (rd->ndirs == MAX_DIRS)
			return;
		d = &rd->dirs[rd->ndirs++];
		memcpy(d->key, key, sizeof(key));
	} else if (!(flags & 0x02)) {
		/* A SYN starts the connection again (after an eviction). */
		CHECK((int32_t)(seq - d->next) >= 0,
		      "sequence number went back by %d", (int32_t)(d->next - seq));
	}
	/* SYN and FIN take a sequence number each. */
	d->next = seq + (uint32_t)payload + !!(flags & 0x02) + (flags & 0x01);
}

/* An Ethernet frame between the synthetic ends, of the IP version it says. */
static void check_frame(struct reader *rd, const uint8_t *fr, size_t len)
{
	static const uint8_t macs[2][6] = { TCPSYNTH_MAC_CLIENT,
					    TCPSYNTH_MAC_SERVER };
	int to_client = !memcmp(fr, macs[0], 6);

	CHECK(len > TCPSYNTH_ETH_HLEN, "frame of %zu bytes", len);
	CHECK((to_client || !memcmp(fr, macs[1], 6)) &&
	      !memcmp(fr + 6, macs[to_client], 6), "MAC addresses");
	CHECK(be16(fr + 12) == ((fr[14] >> 4) == 4 ? 0x0800 : 0x86dd),
	      "ethertype %#x for IPv%u", be16(fr + 12), fr[14] >> 4);
	check_tcp(rd, fr + TCPSYNTH_ETH_HLEN, len - TCPSYNTH_ETH_HLEN);
}

static void read_file(struct reader *rd, const struct pcapng_stats *st,
		      const struct tcpsynth_stats *ts)
{
	const uint8_t *p = rd->buf, *end = rd->buf + rd->len;
	unsigned int n = 0;

	CHECK(st->file_bytes == rd->len, "%llu bytes counted, %zu written",
	      st->file_bytes, rd->len);
	while (p < end) {
		uint32_t type, len;

		CHECK(end - p >= 12, "block header past the end");
		type = rd32(p);
		len = rd32(p + 4);
		CHECK(len >= 12 && len % 4 == 0 && len <= (size_t)(end - p),
		      "block %u: length %u", n, len);
		CHECK(rd32(p + len - 4) == len, "block %u: trailing length", n);
		if (n == 0) {
			CHECK(type == 0x0A0D0D0A && len >= 28 &&
			      rd32(p + 8) == 0x1A2B3C4D && rd16(p + 12) == 1 &&
			      rd16(p + 14) == 0, "section header");
			check_options(p + 24, p + len - 4, 1);
		} else if (n == 1) {
			CHECK(type == 1 && len >= 20 &&
			      rd16(p + 8) == PCAPNG_LINKTYPE_ETHERNET,
			      "interface description");
			check_options(p + 16, p + len - 4, 1);
		} else {
			uint32_t cap;

			CHECK(type == 6 && len >= 32, "block %u: type %#x", n, type);
			CHECK(rd32(p + 8) == 0, "interface id");
			cap = rd32(p + 20);
			CHECK(cap == rd32(p + 24) && 28 + ((cap + 3u) & ~3u) <= len - 4,
			      "block %u: captured %u in %u", n, cap, len);
			check_options(p + 28 + ((cap + 3u) & ~3u), p + len - 4, 0);
			check_frame(rd, p + 28, cap);
			rd->packets++;
		}
		p += len;
		n++;
	}
	CHECK(n >= 2, "no headers");
	CHECK(rd->packets == ts->packets, "%llu packets counted, %llu written",
	      ts->packets, rd->packets);
}

static const struct endpoint senders[2] = {
	{ .family = TLSTAP_FAMILY_IPV4, .addr = { 10, 0, 0, 9 }, .port = 7419 },
	{ .family = TLSTAP_FAMILY_IPV6, .addr = { 0xfd, [15] = 9 }, .port = 7419 },
};

static int op_record(struct tcpsynth *t, struct input *in, uint8_t op,
		     uint8_t *rec)
{
	struct record_info ri = { 0 }, parsed;
	struct reasm_record rr = { .sender = &senders[op >> 2 & 1] };
	uint8_t shape = input_u8(in), dsel = input_u8(in);
	static const uint8_t families[] = {
		TLSTAP_FAMILY_NONE, TLSTAP_FAMILY_IPV4, TLSTAP_FAMILY_IPV6,
		TLSTAP_FAMILY_IPV4,
	};
	uint32_t msg_len = input_u16(in) % 3000;

	ri.flow.family = families[shape & 3];
	ri.flow.dir = shape & 4 ? TLSTAP_DIR_READ : TLSTAP_DIR_WRITE;
	if (ri.flow.family != TLSTAP_FAMILY_NONE) {
		/* Few ends, so that records meet in the same connections. */
		int swap = shape & 8;
		uint16_t ports[4] = { 443, 50000, 50001, 8443 };

		ri.flow.saddr[0] = ri.flow.daddr[0] = 10;
		ri.flow.saddr[3] = swap ? 2 : 1;
		ri.flow.daddr[3] = swap ? 1 : 2;
		ri.flow.sport = ports[shape >> 4 & 3];
		ri.flow.dport = ports[shape >> 6 & 3];
	}
	/*
	 * One conn_id per connection: two TLS sessions on one TCP
	 * connection at once (e.g. both ends hooked, reporting to one
	 * receiver) become two synthetic connections on the same addresses
	 * and ports, which this check cannot tell apart (see
	 * docs/RELIABILITY.md).
	 */
	if (ri.flow.family == TLSTAP_FAMILY_NONE) {
		ri.conn_id = dsel & 3;
	} else {
		uint64_t a = (uint64_t)ri.flow.saddr[3] << 16 | ri.flow.sport;
		uint64_t b = (uint64_t)ri.flow.daddr[3] << 16 | ri.flow.dport;

		ri.conn_id = (a < b ? a << 24 | b : b << 24 | a) << 8 |
			     ri.flow.family;
	}
	ri.pid = 99;
	ri.timestamp_ns = 1700000000000000000ull + input_u16(in);
	switch (dsel >> 2 & 3) {
	case 0:
		break;
	case 1:
		ri.dropped = input_u16(in);
		break;
	case 2:
		ri.dropped = (1ull << 30) + input_u32(in);
		break;
	default:
		ri.dropped = UINT64_MAX - input_u8(in);
	}
	if (dsel & 0x10)
		msg_len = 0;
	if (!msg_len && !ri.dropped)
		ri.dropped = 1;
	ri.type = TLSTAP_RECORD_DATA;
	if (dsel & 0x40) {	/* an OPEN or a CLOSE: no bytes, none dropped */
		ri.type = dsel & 0x80 ? TLSTAP_RECORD_CLOSE : TLSTAP_RECORD_OPEN;
		msg_len = 0;
		ri.dropped = 0;
	}
	ri.msg_len = msg_len;
	record_encode_hdr((struct tlstap_record *)rec, &ri);
	for (uint32_t i = 0; i < msg_len; i++)
		rec[TLSTAP_RECORD_HDR_LEN + i] = (uint8_t)(i * 7 + op);
	CHECK(record_parse(rec, TLSTAP_RECORD_HDR_LEN + msg_len,
			   UINT32_MAX - TLSTAP_RECORD_HDR_LEN, &parsed) == RECORD_OK,
	      "record built");
	rr.stream_id = 1 + (op >> 3 & 1);
	rr.record_id = input_u8(in);
	if (dsel & 0x20)	/* far ids: serial order, joining a stream late */
		rr.record_id += input_u32(in);
	rr.seq_first = rr.record_id;
	rr.rec = &parsed;
	return tcpsynth_record(t, &rr);
}

/* The sink: pcapng's, and a file number that the input changes. */
struct sink {
	struct pcapng *p;
	unsigned long file;
};

static int sink_frame(void *arg, const struct tcpsynth_frame *f)
{
	return pcapng_frame(((struct sink *)arg)->p, f);
}

static int sink_unit_done(void *arg)
{
	return pcapng_unit_done(((struct sink *)arg)->p);
}

static unsigned long sink_file(void *arg)
{
	return ((struct sink *)arg)->file;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rec[TLSTAP_RECORD_HDR_LEN + 3000];
	static struct reader rd;
	static char path[64];
	struct pcapng_config pc = { .prog = "fuzz" };
	struct tcpsynth_config cfg;
	struct sink sk = { 0 };
	struct tcpsynth_sink ts = { .frame = sink_frame,
				    .unit_done = sink_unit_done,
				    .file = sink_file, .arg = &sk };
	struct outfile of;
	struct tcpsynth *t;
	struct input in;
	char err[512];
	long n;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/tlstap-fuzz-pcapng.%d",
			 (int)getpid());
	input_init(&in, data, size);
	tcpsynth_config_init(&cfg);
	cfg.mtu = TCPSYNTH_MIN_MTU + input_u16(&in) % 2000;
	cfg.max_flows = 1 + input_u8(&in) % 8;
	cfg.max_held_bytes = 64u << (input_u8(&in) % 16);
	/* Hold times that do not depend on the clock: none, or forever. */
	cfg.hold_ms = input_u8(&in) & 1 ? 0 : UINT_MAX;
	CHECK(!outfile_open(&of, "fuzz", path, 1, err, sizeof(err)) &&
	      !outfile_start(&of, err, sizeof(err)), "%s", err);
	sk.p = pcapng_new(&pc, &of);
	CHECK(sk.p && !pcapng_start(sk.p, err, sizeof(err)), "pcapng: %s",
	      sk.p ? err : "no memory");
	t = tcpsynth_new(&cfg, &ts);
	CHECK(t, "tcpsynth_new");
	while (in.left) {
		uint8_t op = input_u8(&in);
		int rc = 0;

		switch (op & 3) {
		case 0:
		case 1:
			rc = op_record(t, &in, op, rec);
			break;
		case 2: {
			struct tcpsynth_loss l = {
				.sender = &senders[op >> 2 & 1],
				.stream_id = 1 + (op >> 3 & 1),
				.record_first = input_u8(&in),
				.has_first = op & 0x10,
				.has_last = op & 0x20,
				.reason = "gap",
			};

			l.record_last = l.record_first + input_u8(&in);
			rc = tcpsynth_lost(t, &l);
			break;
		}
		default:
			if (op & 4)
				sk.file++;	/* as a rotation does */
			else
				rc = tcpsynth_tick(t);
		}
		CHECK(rc == 0, "tcpsynth call failed: %s", pcapng_error(sk.p));
	}
	CHECK(tcpsynth_finish(t) == 0, "tcpsynth_finish");
	CHECK(tcpsynth_stats(t)->held_now == 0 &&
	      tcpsynth_stats(t)->held_bytes_now == 0,
	      "records still held after finish");
	CHECK(!outfile_flush(&of, err, sizeof(err)), "%s", err);
	memset(&rd, 0, sizeof(rd));
	f = fopen(path, "rb");
	CHECK(f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 &&
	      !fseek(f, 0, SEEK_SET), "reading %s back", path);
	rd.buf = malloc((size_t)n + 1);
	CHECK(rd.buf && fread((void *)rd.buf, 1, (size_t)n, f) == (size_t)n,
	      "reading %s", path);
	fclose(f);
	rd.len = (size_t)n;
	rd.mtu = cfg.mtu;
	read_file(&rd, pcapng_stats(sk.p), tcpsynth_stats(t));
	free((void *)rd.buf);
	tcpsynth_free(t);
	CHECK(!pcapng_close(sk.p, err, sizeof(err)), "%s", err);
	CHECK(!outfile_close(&of, err, sizeof(err)), "%s", err);
	unlink(path);
	return 0;
}
