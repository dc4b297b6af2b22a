// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The file: a section header, one interface (LINKTYPE_RAW, nanosecond
 * timestamps), then one enhanced packet block per synthetic packet, all
 * in this host's byte order (pcapng readers swap as the section's byte
 * order magic says).
 *
 * A connection ("flow") is keyed by its two ends and conn_id, so that both
 * directions of one TLS session land in one TCP connection. The client is
 * the end with the higher port (the ephemeral one); a session without a
 * socket (family NONE) gets the synthetic IPv6 ends described in
 * nfq-tools/README.md, the hooked application's end as the client.
 *
 * Packet layout per record: the source end's data as segments of at most
 * mss bytes (PSH on the last), then a pure ACK from the other end, so
 * that the bytes in flight stay small and stream engines that wait for
 * acknowledged data (Suricata in IDS mode) see every record. Holes are
 * left in the sequence space for bytes the hook dropped (the record's
 * `dropped`, capped at 1 GiB between two packets of a side, loss reports
 * in a row included, so the sequence numbers never look like they went
 * backwards) and, one byte each, for records a stream lost (the
 * flows they belonged to are unknown, so every flow of that stream is
 * marked). A packet that follows a hole carries a comment saying why.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv4.h>
#include <libnetfilter_queue/libnetfilter_queue_tcp.h>

#include "pcapng.h"

#define BT_SHB		0x0A0D0D0Au
#define BT_IDB		0x00000001u
#define BT_EPB		0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_END		0
#define OPT_COMMENT	1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME	2
#define OPT_IF_TSRESOL	9

#define FLOW_BUCKETS	4096
#define STREAM_BUCKETS	64
#define MAX_STREAMS	1024
#define MAX_NOTE	480	/* comment text kept per flow direction */
#define MAX_GAP		(1u << 30)
#define TCP_OPT_LEN	8	/* MSS (4), NOP, window scale (3) */
#define WSCALE		14
#define HDR_ROOM	(sizeof(struct ip6_hdr) + sizeof(struct tcphdr) + \
			 TCP_OPT_LEN)

/* Synthetic ends of a session without a socket: fd74:6c73:7461:70SS::/64. */
static const uint8_t none_prefix[7] = { 0xfd, 0x74, 0x6c, 0x73, 0x74, 0x61,
					0x70 };
#define NONE_LOCAL_TAG	0x01
#define NONE_PEER_TAG	0x02
#define NONE_LOCAL_PORT	49152
#define NONE_PEER_PORT	49153

enum { CLIENT = 0, SERVER = 1 };

struct flow_end {
	uint8_t addr[16];
	uint16_t port;
};

struct flow {
	struct flow *hnext;
	TAILQ_ENTRY(flow) lru;			/* most recent first */
	uint8_t family;				/* as the records say */
	uint64_t conn_id;
	struct flow_end end[2];			/* CLIENT, SERVER */
	uint32_t next_seq[2];			/* next byte each end sends */
	uint16_t ip_id[2];
	uint32_t hole[2];			/* to skip before next data */
	uint32_t unshown[2];			/* skipped since its last packet */
	char *note[2];				/* comment for that data */
	struct endpoint sender;			/* its last record's stream */
	uint32_t stream_id;
};

/* A record that completed early, or a lost range ahead of its turn. */
struct held {
	struct held *next;
	uint32_t first, last;	/* record ids, inclusive */
	int is_lost;
	char reason[32];
	uint32_t seq_first;
	struct record_info info;	/* pointers into bytes */
	uint8_t *bytes;
};

struct pstream {
	struct pstream *hnext;
	TAILQ_ENTRY(pstream) lru;	/* most recent first */
	struct endpoint sender;
	uint32_t stream_id;
	int started;
	uint32_t next_id;		/* the record id to write next */
	struct held *held;		/* sorted by first id */
	uint64_t wait_since_ms;		/* when the head started waiting */
};

struct pcapng {
	struct pcapng_config cfg;
	FILE *f;
	struct pcapng_stats st;
	struct flow *flows[FLOW_BUCKETS];
	TAILQ_HEAD(flow_list, flow) flow_lru;
	unsigned int nflows;
	struct pstream *streams[STREAM_BUCKETS];
	TAILQ_HEAD(pstream_list, pstream) stream_lru;
	unsigned int nstreams;
	uint8_t *pkt;			/* one packet under construction */
};

void pcapng_config_init(struct pcapng_config *cfg)
{
	cfg->mss = PCAPNG_DEFAULT_MSS;
	cfg->max_held_bytes = 64u << 20;
	cfg->hold_ms = 5000;
	cfg->max_flows = 65536;
	cfg->application = "tlstap";
	cfg->written = NULL;
	cfg->written_arg = NULL;
}

const struct pcapng_stats *pcapng_stats(const struct pcapng *p)
{
	return &p->st;
}

/* ---------------------------------------------------------------- file */

static int put(struct pcapng *p, const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, p->f) != len)
		return -1;
	p->st.file_bytes += len;
	return 0;
}

static int put_u32(struct pcapng *p, uint32_t v)
{
	return put(p, &v, sizeof(v));
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static size_t option_size(size_t len)
{
	return 4 + pad4(len);
}

static int put_option(struct pcapng *p, uint16_t code, const void *val,
		      size_t len)
{
	static const uint8_t zeros[3];
	uint16_t hdr[2] = { code, (uint16_t)len };

	return put(p, hdr, sizeof(hdr)) || put(p, val, len) ||
	       put(p, zeros, pad4(len) - len);
}

static int unit_done(struct pcapng *p, int header)
{
	return p->cfg.written ? p->cfg.written(p->cfg.written_arg, header) : 0;
}

static int write_headers(struct pcapng *p)
{
	const char *app = p->cfg.application;
	static const char ifname[] = "tlstap";
	static const uint8_t tsresol = 9;	/* 10^-9 s */
	uint32_t len = 24 + (uint32_t)option_size(strlen(app)) + 4 + 4;
	uint16_t ver[2] = { 1, 0 };
	int64_t section_len = -1;	/* not known in advance */
	uint16_t link[2] = { PCAPNG_LINKTYPE_RAW, 0 };

	if (put_u32(p, BT_SHB) || put_u32(p, len) ||
	    put_u32(p, BYTE_ORDER_MAGIC) || put(p, ver, sizeof(ver)) ||
	    put(p, &section_len, sizeof(section_len)) ||
	    put_option(p, OPT_SHB_USERAPPL, app, strlen(app)) ||
	    put_option(p, OPT_END, NULL, 0) || put_u32(p, len))
		return -1;
	len = 16 + (uint32_t)(option_size(sizeof(ifname) - 1) +
			      option_size(1)) + 4 + 4;
	return put_u32(p, BT_IDB) || put_u32(p, len) ||
	       put(p, link, sizeof(link)) || put_u32(p, 0) /* snaplen */ ||
	       put_option(p, OPT_IF_NAME, ifname, sizeof(ifname) - 1) ||
	       put_option(p, OPT_IF_TSRESOL, &tsresol, 1) ||
	       put_option(p, OPT_END, NULL, 0) || put_u32(p, len) ||
	       unit_done(p, 1);
}

static int write_epb(struct pcapng *p, const uint8_t *pkt, size_t len,
		     uint64_t ts_ns, const char *comment)
{
	static const uint8_t zeros[3];
	size_t clen = comment ? strlen(comment) : 0;
	uint32_t total = (uint32_t)(28 + pad4(len) +
				    (clen ? option_size(clen) + 4 : 0) + 4);
	uint32_t hdr[7] = { BT_EPB, total, 0, (uint32_t)(ts_ns >> 32),
			    (uint32_t)ts_ns, (uint32_t)len, (uint32_t)len };

	if (put(p, hdr, sizeof(hdr)) || put(p, pkt, len) ||
	    put(p, zeros, pad4(len) - len) ||
	    (clen && (put_option(p, OPT_COMMENT, comment, clen) ||
		      put_option(p, OPT_END, NULL, 0))) ||
	    put_u32(p, total))
		return -1;
	p->st.packets++;
	return 0;
}

/* ------------------------------------------------------------- packets */

/*
 * One TCP segment from end `side` of f: seq is that end's next byte, ack
 * the other end's. Options (MSS, window scale) go on SYNs only.
 */
static int emit(struct pcapng *p, struct flow *f, int side, uint8_t flags,
		const uint8_t *data, size_t len, uint64_t ts,
		const char *comment)
{
	const struct flow_end *src = &f->end[side], *dst = &f->end[!side];
	size_t optlen = (flags & TH_SYN) ? TCP_OPT_LEN : 0;
	size_t iplen = f->family == TLSTAP_FAMILY_IPV4 ? sizeof(struct iphdr)
							: sizeof(struct ip6_hdr);
	struct tcphdr *th = (struct tcphdr *)(p->pkt + iplen);
	size_t total = iplen + sizeof(*th) + optlen + len;

	memset(p->pkt, 0, iplen + sizeof(*th) + optlen);
	th->source = htons(src->port);
	th->dest = htons(dst->port);
	th->seq = htonl(f->next_seq[side]);
	f->unshown[side] = 0;
	th->ack_seq = (flags & TH_ACK) ? htonl(f->next_seq[!side]) : 0;
	th->doff = (uint16_t)((sizeof(*th) + optlen) / 4);
	th->th_flags = flags;
	th->window = htons(65535);
	if (optlen) {
		uint8_t *o = (uint8_t *)(th + 1);
		uint16_t mss = htons(p->cfg.mss);

		o[0] = TCPOPT_MAXSEG;
		o[1] = TCPOLEN_MAXSEG;
		memcpy(o + 2, &mss, 2);
		o[4] = TCPOPT_NOP;
		o[5] = TCPOPT_WINDOW;
		o[6] = TCPOLEN_WINDOW;
		o[7] = WSCALE;
	}
	if (len)
		memcpy((uint8_t *)(th + 1) + optlen, data, len);
	if (f->family == TLSTAP_FAMILY_IPV4) {
		struct iphdr *ip = (struct iphdr *)p->pkt;

		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons((uint16_t)total);
		ip->id = htons(f->ip_id[side]++);
		ip->frag_off = htons(IP_DF);
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		memcpy(&ip->saddr, src->addr, 4);
		memcpy(&ip->daddr, dst->addr, 4);
		nfq_ip_set_checksum(ip);
		nfq_tcp_compute_checksum_ipv4(th, ip);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)p->pkt;

		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons((uint16_t)(total - iplen));
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hlim = 64;
		memcpy(&ip6->ip6_src, src->addr, 16);
		memcpy(&ip6->ip6_dst, dst->addr, 16);
		nfq_tcp_compute_checksum_ipv6(th, ip6);
	}
	return write_epb(p, p->pkt, total, ts, comment);
}

/* ---------------------------------------------------------------- flows */

static int end_cmp(const struct flow_end *a, const struct flow_end *b)
{
	int c = memcmp(a->addr, b->addr, 16);

	return c ? c : (a->port > b->port) - (a->port < b->port);
}

static unsigned int flow_hash(uint8_t family, uint64_t conn_id,
			      const struct flow_end *a,
			      const struct flow_end *b)
{
	const struct flow_end *lo = end_cmp(a, b) <= 0 ? a : b;
	const struct flow_end *hi = lo == a ? b : a;
	uint64_t h = conn_id * 0x9e3779b97f4a7c15ull ^ family;

	for (int i = 0; i < 16; i++)
		h = (h ^ lo->addr[i] ^ ((uint64_t)hi->addr[i] << 8)) *
		    0x100000001b3ull;
	h ^= (uint64_t)lo->port << 16 ^ hi->port;
	return (unsigned int)((h ^ (h >> 29)) % FLOW_BUCKETS);
}

static void flow_free(struct pcapng *p, struct flow *f)
{
	struct flow **pp = &p->flows[flow_hash(f->family, f->conn_id,
					       &f->end[0], &f->end[1])];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	TAILQ_REMOVE(&p->flow_lru, f, lru);
	free(f->note[0]);
	free(f->note[1]);
	free(f);
	p->nflows--;
}

/* The record's two ends: [0] where its plaintext came from. */
static void record_ends(const struct record_info *ri, struct flow_end e[2])
{
	memset(e, 0, 2 * sizeof(*e));
	if (ri->flow.family == TLSTAP_FAMILY_NONE) {
		int local = ri->flow.dir == TLSTAP_DIR_WRITE ? 0 : 1;
		uint64_t id = htobe64(ri->conn_id);

		memcpy(e[local].addr, none_prefix, sizeof(none_prefix));
		memcpy(e[!local].addr, none_prefix, sizeof(none_prefix));
		e[local].addr[7] = NONE_LOCAL_TAG;
		e[!local].addr[7] = NONE_PEER_TAG;
		memcpy(e[local].addr + 8, &id, 8);
		memcpy(e[!local].addr + 8, &id, 8);
		e[local].port = NONE_LOCAL_PORT;
		e[!local].port = NONE_PEER_PORT;
		return;
	}
	memcpy(e[0].addr, ri->flow.saddr, 16);
	memcpy(e[1].addr, ri->flow.daddr, 16);
	e[0].port = ri->flow.sport;
	e[1].port = ri->flow.dport;
}

/* Appends text to a direction's pending comment (bounded). */
static int note_add(char **note, const char *text)
{
	size_t old = *note ? strlen(*note) : 0, add = strlen(text);
	char *n;

	if (old + 2 + add > MAX_NOTE)
		return 0;	/* already says enough */
	n = realloc(*note, old + 2 + add + 1);
	if (!n)
		return -1;
	if (old) {
		memcpy(n + old, "; ", 2);
		old += 2;
	}
	memcpy(n + old, text, add + 1);
	*note = n;
	return 0;
}

static void seq_init(struct flow *f)
{
	/* Arbitrary but reproducible initial sequence numbers. */
	uint64_t h = (f->conn_id ^ ((uint64_t)f->end[CLIENT].port << 48 |
				    (uint64_t)f->end[SERVER].port << 32)) *
		     0x9e3779b97f4a7c15ull;

	f->next_seq[CLIENT] = (uint32_t)(h >> 32);
	f->next_seq[SERVER] = (uint32_t)h;
}

/* SYN, SYN-ACK, ACK: tools then treat the flow as a whole connection. */
static int handshake(struct pcapng *p, struct flow *f,
		     const struct reasm_record *r)
{
	char sender[ENDPOINT_STRLEN], comment[256];
	uint64_t ts = r->rec->timestamp_ns;

	endpoint_format(r->sender, sender, sizeof(sender));
	snprintf(comment, sizeof(comment),
		 "tlstap: synthetic TCP connection for conn_id %llu "
		 "(pid %u, sender %s, stream %u)%s",
		 (unsigned long long)f->conn_id, r->rec->pid, sender,
		 r->stream_id,
		 f->family == TLSTAP_FAMILY_NONE ?
			 "; no socket: synthetic addresses" : "");
	if (emit(p, f, CLIENT, TH_SYN, NULL, 0, ts, comment))
		return -1;
	f->next_seq[CLIENT]++;
	if (emit(p, f, SERVER, TH_SYN | TH_ACK, NULL, 0, ts, NULL))
		return -1;
	f->next_seq[SERVER]++;
	return emit(p, f, CLIENT, TH_ACK, NULL, 0, ts, NULL);
}

/*
 * The flow of a record and the side its plaintext came from; a new flow
 * starts with a handshake. NULL with errno set on failure.
 */
static struct flow *flow_get(struct pcapng *p, const struct reasm_record *r,
			     int *side)
{
	const struct record_info *ri = r->rec;
	struct flow_end e[2];
	unsigned int b;
	struct flow *f;

	record_ends(ri, e);
	b = flow_hash(ri->flow.family, ri->conn_id, &e[0], &e[1]);
	for (f = p->flows[b]; f; f = f->hnext) {
		if (f->family != ri->flow.family || f->conn_id != ri->conn_id)
			continue;
		if (!end_cmp(&f->end[CLIENT], &e[0]) &&
		    !end_cmp(&f->end[SERVER], &e[1]))
			*side = CLIENT;
		else if (!end_cmp(&f->end[CLIENT], &e[1]) &&
			 !end_cmp(&f->end[SERVER], &e[0]))
			*side = SERVER;
		else
			continue;
		TAILQ_REMOVE(&p->flow_lru, f, lru);
		TAILQ_INSERT_HEAD(&p->flow_lru, f, lru);
		return f;
	}
	if (p->nflows >= p->cfg.max_flows) {
		p->st.flows_evicted++;
		flow_free(p, TAILQ_LAST(&p->flow_lru, flow_list));
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->family = ri->flow.family;
	f->conn_id = ri->conn_id;
	/*
	 * The client is the end with the higher (ephemeral) port; without
	 * a socket, the hooked application's end.
	 */
	if (f->family == TLSTAP_FAMILY_NONE)
		*side = ri->flow.dir == TLSTAP_DIR_WRITE ? CLIENT : SERVER;
	else
		*side = e[0].port >= e[1].port ? CLIENT : SERVER;
	f->end[*side] = e[0];
	f->end[!*side] = e[1];
	seq_init(f);
	f->hnext = p->flows[b];
	p->flows[b] = f;
	TAILQ_INSERT_HEAD(&p->flow_lru, f, lru);
	p->nflows++;
	p->st.flows++;
	if (handshake(p, f, r))
		return NULL;
	return f;
}

static int write_record(struct pcapng *p, const struct reasm_record *r)
{
	const struct record_info *ri = r->rec;
	uint64_t ts = ri->timestamp_ns;
	struct flow *f;
	char *note;
	int side, rc = 0;

	f = flow_get(p, r, &side);
	if (!f)
		return -1;
	f->sender = *r->sender;
	f->stream_id = r->stream_id;
	if (f->hole[side]) {
		f->next_seq[side] += f->hole[side];
		f->unshown[side] += f->hole[side];
		f->hole[side] = 0;
	}
	if (ri->dropped) {
		/*
		 * Loss reports carry no packet from this side: the holes
		 * they leave add up until its next packet, and together
		 * must stay below 2^31 too.
		 */
		uint32_t room = f->unshown[side] < MAX_GAP
					? MAX_GAP - f->unshown[side] : 0;
		uint32_t gap = ri->dropped > room ? room : (uint32_t)ri->dropped;
		char text[160];

		snprintf(text, sizeof(text),
			 "tlstap: %llu bytes of this direction dropped by the "
			 "capture hook before this point%s",
			 (unsigned long long)ri->dropped,
			 gap < ri->dropped ? " (hole capped at 1 GiB)" : "");
		if (note_add(&f->note[side], text))
			return -1;
		f->next_seq[side] += gap;
		f->unshown[side] += gap;
		p->st.dropped_gaps++;
		p->st.dropped_bytes += ri->dropped;
	}
	note = f->note[side];
	f->note[side] = NULL;
	if (record_is_loss_report(ri)) {
		/* No data follows the hole: the other end acknowledges it. */
		rc = emit(p, f, !side, TH_ACK, NULL, 0, ts, note);
		p->st.loss_reports++;
	} else {
		for (uint32_t off = 0; off < ri->msg_len && !rc;) {
			uint32_t n = ri->msg_len - off;
			uint8_t flags = TH_ACK;

			if (n > p->cfg.mss)
				n = p->cfg.mss;
			else
				flags |= TH_PUSH;
			rc = emit(p, f, side, flags, ri->msg + off, n, ts,
				  off ? NULL : note);
			f->next_seq[side] += n;
			off += n;
		}
		if (!rc)
			rc = emit(p, f, !side, TH_ACK, NULL, 0, ts, NULL);
	}
	free(note);
	if (rc)
		return rc;
	p->st.records++;
	return unit_done(p, 0);
}

/*
 * Records first..last of stream s will never come (an end may be unknown:
 * has_first/has_last 0): every flow last seen on s gets a one-byte hole
 * in both directions and a comment.
 */
static int mark_lost(struct pcapng *p, const struct pstream *s,
		     uint32_t first, uint32_t last, int has_first,
		     int has_last, const char *reason)
{
	char sender[ENDPOINT_STRLEN], text[200], a[12] = "?", b[12] = "?";
	struct flow *f;

	endpoint_format(&s->sender, sender, sizeof(sender));
	if (has_first)
		snprintf(a, sizeof(a), "%u", first);
	if (has_last)
		snprintf(b, sizeof(b), "%u", last);
	snprintf(text, sizeof(text),
		 "tlstap: records %s..%s of stream %u from %s lost (%s); "
		 "this connection may miss data here", a, b, s->stream_id,
		 sender, reason);
	if (has_first && has_last)
		p->st.lost_records += (uint64_t)(last - first) + 1;
	TAILQ_FOREACH(f, &p->flow_lru, lru) {
		if (f->stream_id != s->stream_id ||
		    f->sender.port != s->sender.port ||
		    f->sender.family != s->sender.family ||
		    memcmp(f->sender.addr, s->sender.addr, 16))
			continue;
		for (int side = 0; side < 2; side++) {
			f->hole[side] = 1;
			if (note_add(&f->note[side], text))
				return -1;
			p->st.lost_marks++;
		}
	}
	return 0;
}

/* ------------------------------------------------------------- streams */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Serial number order (RFC 1982) on record ids. */
static int32_t id_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static unsigned int stream_hash(const struct endpoint *ep, uint32_t id)
{
	uint32_t h = id ^ ep->port ^ ((uint32_t)ep->family << 16);

	for (int i = 0; i < 16; i++)
		h = h * 31 + ep->addr[i];
	return h % STREAM_BUCKETS;
}

static void held_free(struct pcapng *p, struct held *h)
{
	if (!h->is_lost) {
		p->st.held_now--;
		p->st.held_bytes_now -= h->info.len;
	}
	free(h->bytes);
	free(h);
}

/* Writes whatever is at the head of s and its turn; frees it. */
static int stream_release(struct pcapng *p, struct pstream *s)
{
	int released = 0;

	while (s->held && id_diff(s->held->first, s->next_id) <= 0) {
		struct held *h = s->held;
		int rc = 0;

		s->held = h->next;
		if (h->is_lost) {
			if (id_diff(h->last, s->next_id) >= 0) {
				rc = mark_lost(p, s, s->next_id, h->last, 1,
					       1, h->reason);
				s->next_id = h->last + 1;
			}
		} else if (h->first == s->next_id) {
			struct reasm_record rr = {
				.sender = &s->sender,
				.stream_id = s->stream_id,
				.record_id = h->first,
				.seq_first = h->seq_first,
				.rec = &h->info,
			};

			rc = write_record(p, &rr);
			s->next_id++;
		} else {
			p->st.late_records++;
		}
		held_free(p, h);
		released = 1;
		if (rc)
			return -1;
	}
	/* The head, if any, now waits for another missing record. */
	if (!s->held)
		s->wait_since_ms = 0;
	else if (released)
		s->wait_since_ms = now_ms();
	return 0;
}

/* Gives up on the ids s waits for before its first held entry. */
static int stream_force(struct pcapng *p, struct pstream *s,
			const char *reason)
{
	uint32_t upto;

	if (!s->held)
		return 0;
	upto = s->held->first - 1;
	if (id_diff(upto, s->next_id) >= 0) {
		if (mark_lost(p, s, s->next_id, upto, 1, 1, reason))
			return -1;
		s->next_id = upto + 1;
	}
	return stream_release(p, s);
}

/* Forgets the least recently used stream, writing what it holds. */
static int stream_evict(struct pcapng *p)
{
	struct pstream *s = TAILQ_LAST(&p->stream_lru, pstream_list), **pp;

	while (s->held)
		if (stream_force(p, s, "stream evicted"))
			return -1;
	pp = &p->streams[stream_hash(&s->sender, s->stream_id)];
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	TAILQ_REMOVE(&p->stream_lru, s, lru);
	free(s);
	p->nstreams--;
	return 0;
}

static struct pstream *stream_get(struct pcapng *p, const struct endpoint *ep,
				  uint32_t id)
{
	unsigned int b = stream_hash(ep, id);
	struct pstream *s;

	for (s = p->streams[b]; s; s = s->hnext) {
		if (s->stream_id == id && s->sender.family == ep->family &&
		    s->sender.port == ep->port &&
		    !memcmp(s->sender.addr, ep->addr, 16)) {
			TAILQ_REMOVE(&p->stream_lru, s, lru);
			TAILQ_INSERT_HEAD(&p->stream_lru, s, lru);
			return s;
		}
	}
	if (p->nstreams >= MAX_STREAMS && stream_evict(p))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->sender = *ep;
	s->stream_id = id;
	s->hnext = p->streams[b];
	p->streams[b] = s;
	TAILQ_INSERT_HEAD(&p->stream_lru, s, lru);
	p->nstreams++;
	return s;
}

/* Unless told where the stream starts, at the first id that comes. */
static void stream_start(struct pstream *s, uint32_t id)
{
	if (s->started)
		return;
	s->started = 1;
	s->next_id = id;
}

/* Inserts h in id order; 0 if an entry for the same record is there. */
static int stream_hold(struct pstream *s, struct held *h)
{
	struct held **pp = &s->held;

	while (*pp && id_diff((*pp)->first, h->first) < 0)
		pp = &(*pp)->next;
	if (!h->is_lost && *pp && !(*pp)->is_lost && (*pp)->first == h->first)
		return 0;
	h->next = *pp;
	*pp = h;
	if (!s->wait_since_ms)
		s->wait_since_ms = now_ms();
	return 1;
}

/* Enforces the hold time and the memory bound. */
static int check_holds(struct pcapng *p)
{
	struct pstream *s;
	uint64_t now;

	if (!p->st.held_now)
		return 0;
	now = now_ms();
	TAILQ_FOREACH(s, &p->stream_lru, lru) {
		while (s->held &&
		       now - s->wait_since_ms >= p->cfg.hold_ms) {
			p->st.hold_expired++;
			if (stream_force(p, s, "hold-expired"))
				return -1;
		}
	}
	while (p->st.held_bytes_now > p->cfg.max_held_bytes) {
		struct pstream *oldest = NULL;

		TAILQ_FOREACH(s, &p->stream_lru, lru)
			if (s->held && (!oldest ||
					s->wait_since_ms < oldest->wait_since_ms))
				oldest = s;
		if (!oldest)
			break;
		p->st.hold_expired++;
		if (stream_force(p, oldest, "hold memory full"))
			return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- API */

struct pcapng *pcapng_new(FILE *f, const struct pcapng_config *cfg)
{
	struct pcapng *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	TAILQ_INIT(&p->flow_lru);
	TAILQ_INIT(&p->stream_lru);
	p->cfg = *cfg;
	if (!p->cfg.mss || p->cfg.mss > PCAPNG_MAX_MSS || !p->cfg.max_flows) {
		free(p);
		errno = EINVAL;
		return NULL;
	}
	p->f = f;
	p->pkt = malloc(HDR_ROOM + p->cfg.mss);
	if (!p->pkt || write_headers(p)) {
		free(p->pkt);
		free(p);
		return NULL;
	}
	return p;
}

int pcapng_stream_start(struct pcapng *p, const struct endpoint *sender,
			uint32_t stream_id, uint32_t record_id)
{
	struct pstream *s = stream_get(p, sender, stream_id);

	if (!s)
		return -1;
	stream_start(s, record_id);
	return 0;
}

int pcapng_record(struct pcapng *p, const struct reasm_record *r)
{
	struct pstream *s = stream_get(p, r->sender, r->stream_id);
	struct held *h;
	int32_t d;

	if (!s)
		return -1;
	stream_start(s, r->record_id);
	d = id_diff(r->record_id, s->next_id);
	if (d < 0) {
		p->st.late_records++;
		return check_holds(p);
	}
	if (d == 0) {
		if (write_record(p, r))
			return -1;
		s->next_id++;
		return stream_release(p, s) || check_holds(p) ? -1 : 0;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	h->bytes = malloc(r->rec->len);
	if (!h->bytes) {
		free(h);
		return -1;
	}
	memcpy(h->bytes, r->rec->bytes, r->rec->len);
	h->info = *r->rec;
	h->info.bytes = h->bytes;
	h->info.msg = h->bytes + TLSTAP_RECORD_HDR_LEN;
	h->first = h->last = r->record_id;
	h->seq_first = r->seq_first;
	if (!stream_hold(s, h)) {
		/* The same record twice: the core never does this. */
		free(h->bytes);
		free(h);
		return 0;
	}
	p->st.held++;
	p->st.held_now++;
	p->st.held_bytes_now += h->info.len;
	return check_holds(p);
}

int pcapng_lost(struct pcapng *p, const struct pcapng_loss *l)
{
	struct pstream *s = stream_get(p, l->sender, l->stream_id);
	uint32_t first = l->record_first, last = l->record_last;
	struct held *h;

	if (!s)
		return -1;
	p->st.lost_ranges++;
	if (!l->has_first && !l->has_last)
		return mark_lost(p, s, 0, 0, 0, 0, l->reason);
	if (!l->has_first) {
		/* Everything up to last: what came before we joined. */
		if (!s->started) {
			s->started = 1;
			s->next_id = last + 1;
			return stream_release(p, s) || check_holds(p) ? -1 : 0;
		}
		first = s->next_id;
		if (id_diff(last, first) < 0)
			return 0;
	} else if (!l->has_last) {
		/* From first to the next record that did come, if any. */
		stream_start(s, first);
		last = first;
		for (h = s->held; h; h = h->next)
			if (id_diff(h->first, first) > 0) {
				last = h->first - 1;
				break;
			}
	} else {
		stream_start(s, first);
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	h->is_lost = 1;
	h->first = first;
	h->last = last;
	snprintf(h->reason, sizeof(h->reason), "%s", l->reason);
	stream_hold(s, h);
	return stream_release(p, s) || check_holds(p) ? -1 : 0;
}

int pcapng_tick(struct pcapng *p)
{
	if (check_holds(p) || fflush(p->f))
		return -1;
	return 0;
}

int pcapng_finish(struct pcapng *p)
{
	struct pstream *s;

	TAILQ_FOREACH(s, &p->stream_lru, lru)
		while (s->held)
			if (stream_force(p, s, "end of capture"))
				return -1;
	return fflush(p->f) ? -1 : 0;
}

void pcapng_free(struct pcapng *p)
{
	if (!p)
		return;
	while (!TAILQ_EMPTY(&p->flow_lru))
		flow_free(p, TAILQ_FIRST(&p->flow_lru));
	while (!TAILQ_EMPTY(&p->stream_lru)) {
		struct pstream *s = TAILQ_FIRST(&p->stream_lru);

		while (s->held) {
			struct held *h = s->held;

			s->held = h->next;
			held_free(p, h);
		}
		TAILQ_REMOVE(&p->stream_lru, s, lru);
		free(s);
	}
	free(p->pkt);
	free(p);
}
