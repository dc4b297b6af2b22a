// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A connection ("flow") is keyed by its two ends and conn_id, so that
 * both directions of one TLS session land in one TCP connection. Its
 * client is the OPEN record's source; a flow that starts with data (its
 * OPEN lost, or sent before the stream was joined) takes the end with the
 * higher port (the ephemeral one) for the client. A session without a
 * socket (family NONE) gets the synthetic IPv6 ends described in
 * tlstap-recv(8), SYNTHETIC TCP.
 *
 * Frames per record: an OPEN is a SYN, SYN-ACK, ACK; a record's data the
 * source end's segments of at most the MTU's payload (PSH on the last),
 * then a pure ACK from the other end, so that the bytes in flight stay
 * small and stream engines that wait for acknowledged data (Suricata in
 * IDS mode) see every record; a CLOSE a FIN from the end that closed, the
 * other's FIN and the last ACK, after which the flow is forgotten. Holes
 * are left in the sequence space for bytes the hook dropped (the
 * record's `dropped`, capped at 1 GiB between two packets of a side, loss
 * reports in a row included, so the sequence numbers never look like
 * they went backwards) and, one byte each, for records a stream lost
 * (the flows they belonged to are unknown, so every flow of that stream
 * is marked). A frame that follows a hole carries a comment saying why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv4.h>
#include <libnetfilter_queue/libnetfilter_queue_tcp.h>

#include "tcpsynth.h"

#define FLOW_BUCKETS	4096
#define STREAM_BUCKETS	64
#define MAX_STREAMS	1024
#define MAX_NOTE	480	/* comment text kept per flow direction */
#define MAX_GAP		(1u << 30)
#define TCP_OPT_LEN	8	/* MSS (4), NOP, window scale (3) */
#define WSCALE		14
#define HDR_ROOM	(TCPSYNTH_ETH_HLEN + sizeof(struct ip6_hdr) + \
			 sizeof(struct tcphdr) + TCP_OPT_LEN)

/* Synthetic ends of a session without a socket: fd74:6c73:7461:70SS::/64. */
static const uint8_t none_prefix[7] = { 0xfd, 0x74, 0x6c, 0x73, 0x74, 0x61,
					0x70 };
#define NONE_LOCAL_TAG	0x01
#define NONE_PEER_TAG	0x02
#define NONE_LOCAL_PORT	49152
#define NONE_PEER_PORT	49153

enum { CLIENT = 0, SERVER = 1 };

static const uint8_t macs[2][ETH_ALEN] = {
	[CLIENT] = TCPSYNTH_MAC_CLIENT,
	[SERVER] = TCPSYNTH_MAC_SERVER,
};

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
	unsigned long file;			/* of its last frame (sink.file) */
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
	uint32_t next_id;		/* the record id to take next */
	struct held *held;		/* sorted by first id */
	uint64_t wait_since_ms;		/* when the head started waiting */
};

struct tcpsynth {
	struct tcpsynth_config cfg;
	struct tcpsynth_sink sink;
	struct tcpsynth_stats st;
	struct flow *flows[FLOW_BUCKETS];

	TAILQ_HEAD(flow_list, flow) flow_lru;
	unsigned int nflows;
	struct pstream *streams[STREAM_BUCKETS];

	TAILQ_HEAD(pstream_list, pstream) stream_lru;
	unsigned int nstreams;
	uint8_t *buf;
	uint8_t *pkt;			/* one frame under construction */
};

/* The frame starts 2 bytes in: its IP and TCP headers are 4-aligned. */
#define IP_ALIGN	2

void tcpsynth_config_init(struct tcpsynth_config *cfg)
{
	cfg->mtu = TCPSYNTH_DEFAULT_MTU;
	cfg->max_held_bytes = 64u << 20;
	cfg->hold_ms = 5000;
	cfg->max_flows = 65536;
}

const struct tcpsynth_stats *tcpsynth_stats(const struct tcpsynth *t)
{
	return &t->st;
}

/* The file frames go to now: the sink's number for it. */
static unsigned long sink_file(const struct tcpsynth *t)
{
	return t->sink.file ? t->sink.file(t->sink.arg) : 0;
}

/* ------------------------------------------------------------- frames */

static size_t ip_hlen(uint8_t family)
{
	return family == TLSTAP_FAMILY_IPV4 ? sizeof(struct iphdr)
					    : sizeof(struct ip6_hdr);
}

/* The largest segment a flow's packets carry (MSS) at the MTU. */
static uint32_t mss_of(const struct tcpsynth *t, const struct flow *f)
{
	return t->cfg.mtu - (uint32_t)(ip_hlen(f->family) +
				       sizeof(struct tcphdr));
}

/*
 * One TCP segment from end `side` of f: seq is that end's next byte, ack
 * the other end's. Options (MSS, window scale) go on SYNs only. A flow's
 * first frame in a new file says the connection continues there.
 */
static int emit(struct tcpsynth *t, struct flow *f, int side, uint8_t flags,
		const uint8_t *data, size_t len, uint64_t ts,
		const char *comment)
{
	const struct flow_end *src = &f->end[side], *dst = &f->end[!side];
	size_t optlen = (flags & TH_SYN) ? TCP_OPT_LEN : 0;
	size_t iplen = ip_hlen(f->family);
	uint8_t *eth = t->pkt, *ipp = eth + TCPSYNTH_ETH_HLEN;
	struct tcphdr *th = (struct tcphdr *)(ipp + iplen);
	size_t total = iplen + sizeof(*th) + optlen + len;
	struct tcpsynth_frame fr = {
		.data = t->pkt,
		.len = TCPSYNTH_ETH_HLEN + total,
		.ts_ns = ts,
		.comment = comment,
	};
	char text[MAX_NOTE + 160];
	unsigned long file = sink_file(t);
	uint16_t ethertype;

	if (f->file != file) {
		snprintf(text, sizeof(text), "tlstap: connection of conn_id %llu continued from an earlier file%s%s",
			 (unsigned long long)f->conn_id, comment ? "; " : "",
			 comment ? comment : "");
		fr.comment = text;
		f->file = file;
	}
	memcpy(eth, macs[!side], ETH_ALEN);
	memcpy(eth + ETH_ALEN, macs[side], ETH_ALEN);
	ethertype = htons(f->family == TLSTAP_FAMILY_IPV4 ? ETHERTYPE_IP
							  : ETHERTYPE_IPV6);
	memcpy(eth + 2 * ETH_ALEN, &ethertype, 2);
	memset(ipp, 0, iplen + sizeof(*th) + optlen);
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
		uint16_t mss = htons((uint16_t)mss_of(t, f));

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
		struct iphdr *ip = (struct iphdr *)ipp;

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
		struct ip6_hdr *ip6 = (struct ip6_hdr *)ipp;

		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons((uint16_t)(total - iplen));
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hlim = 64;
		memcpy(&ip6->ip6_src, src->addr, 16);
		memcpy(&ip6->ip6_dst, dst->addr, 16);
		nfq_tcp_compute_checksum_ipv6(th, ip6);
	}
	if (t->sink.frame(t->sink.arg, &fr))
		return -1;
	t->st.packets++;
	return 0;
}

static int unit_done(struct tcpsynth *t)
{
	return t->sink.unit_done ? t->sink.unit_done(t->sink.arg) : 0;
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

static void flow_free(struct tcpsynth *t, struct flow *f)
{
	struct flow **pp = &t->flows[flow_hash(f->family, f->conn_id,
					       &f->end[0], &f->end[1])];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	TAILQ_REMOVE(&t->flow_lru, f, lru);
	free(f->note[0]);
	free(f->note[1]);
	free(f);
	t->nflows--;
}

/*
 * The record's two ends: [0] where its plaintext came from (an OPEN's or
 * a CLOSE's: the client), [1] where it went. A session without a socket
 * gets synthetic ends, its own (local) and its peer's.
 */
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

/*
 * Arbitrary but reproducible initial sequence numbers: of the connection,
 * its ports and when it opened, so that a connection opened again (the
 * same session after its CLOSE) gets new ones.
 */
static void seq_init(struct flow *f, uint64_t ts)
{
	uint64_t h = (f->conn_id ^ ((uint64_t)f->end[CLIENT].port << 48 |
				    (uint64_t)f->end[SERVER].port << 32) ^
		      ts) * 0x9e3779b97f4a7c15ull;

	f->next_seq[CLIENT] = (uint32_t)(h >> 32);
	f->next_seq[SERVER] = (uint32_t)h;
}

/* SYN, SYN-ACK, ACK: tools then treat the flow as a whole connection. */
static int handshake(struct tcpsynth *t, struct flow *f,
		     const struct reasm_record *r)
{
	char sender[ENDPOINT_STRLEN], comment[256];
	uint64_t ts = r->rec->timestamp_ns;

	endpoint_format(r->sender, sender, sizeof(sender));
	snprintf(comment, sizeof(comment),
		 "tlstap: synthetic TCP connection for conn_id %llu (pid %u, sender %s, stream %u)%s%s",
		 (unsigned long long)f->conn_id, r->rec->pid, sender,
		 r->stream_id,
		 r->rec->type == TLSTAP_RECORD_OPEN ? ""
						     : "; opened at its first data",
		 f->family == TLSTAP_FAMILY_NONE ?
			 "; no socket: synthetic addresses" : "");
	if (emit(t, f, CLIENT, TH_SYN, NULL, 0, ts, comment))
		return -1;
	f->next_seq[CLIENT]++;
	if (emit(t, f, SERVER, TH_SYN | TH_ACK, NULL, 0, ts, NULL))
		return -1;
	f->next_seq[SERVER]++;
	return emit(t, f, CLIENT, TH_ACK, NULL, 0, ts, NULL);
}

/* The tracked flow of a record's ends, and the side e[0] is on; or NULL. */
static struct flow *flow_find(struct tcpsynth *t, const struct record_info *ri,
			      const struct flow_end e[2], int *side)
{
	unsigned int b = flow_hash(ri->flow.family, ri->conn_id, &e[0], &e[1]);
	struct flow *f;

	for (f = t->flows[b]; f; f = f->hnext) {
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
		TAILQ_REMOVE(&t->flow_lru, f, lru);
		TAILQ_INSERT_HEAD(&t->flow_lru, f, lru);
		return f;
	}
	return NULL;
}

/*
 * A new flow for a record, with its handshake; *side is the side e[0] is
 * on. An OPEN names its client (e[0]); data comes from either end, the
 * higher port taken for the client's (without a socket, the hooked
 * application's end). NULL with errno set on failure.
 */
static struct flow *flow_new(struct tcpsynth *t, const struct reasm_record *r,
			     const struct flow_end e[2], int *side)
{
	const struct record_info *ri = r->rec;
	unsigned int b = flow_hash(ri->flow.family, ri->conn_id, &e[0], &e[1]);
	struct flow *f;

	if (t->nflows >= t->cfg.max_flows) {
		t->st.flows_evicted++;
		flow_free(t, TAILQ_LAST(&t->flow_lru, flow_list));
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->family = ri->flow.family;
	f->conn_id = ri->conn_id;
	f->file = sink_file(t);
	if (ri->type == TLSTAP_RECORD_OPEN)
		*side = CLIENT;
	else if (f->family == TLSTAP_FAMILY_NONE)
		*side = ri->flow.dir == TLSTAP_DIR_WRITE ? CLIENT : SERVER;
	else
		*side = e[0].port >= e[1].port ? CLIENT : SERVER;
	f->end[*side] = e[0];
	f->end[!*side] = e[1];
	seq_init(f, ri->timestamp_ns);
	f->hnext = t->flows[b];
	t->flows[b] = f;
	TAILQ_INSERT_HEAD(&t->flow_lru, f, lru);
	t->nflows++;
	t->st.flows++;
	if (handshake(t, f, r))
		return NULL;
	return f;
}

/*
 * A side's pending hole (a LOST range's mark) goes into its sequence
 * numbers now, before what it sends next; returns its comment (the
 * caller frees it) or NULL.
 */
static char *take_hole(struct flow *f, int side)
{
	char *note = f->note[side];

	if (f->hole[side]) {
		f->next_seq[side] += f->hole[side];
		f->unshown[side] += f->hole[side];
		f->hole[side] = 0;
	}
	f->note[side] = NULL;
	return note;
}

/*
 * The end that closed (the CLOSE's writer: the client when its dir is
 * WRITE) sends a FIN, the other its own, the first the last ACK; holes
 * still pending go before the FINs, so that tools see what is missing at
 * the end. The flow is forgotten.
 */
static int fin_exchange(struct tcpsynth *t, struct flow *f, int closer,
			uint64_t ts)
{
	char *note[2] = { take_hole(f, CLIENT), take_hole(f, SERVER) };
	char text[120];
	int rc;

	/* A loss report's hole, commented where the other end saw it. */
	for (int side = 0; side < 2; side++) {
		if (note[side] || !f->unshown[side])
			continue;
		snprintf(text, sizeof(text), "tlstap: %u bytes of this direction missing before its FIN", f->unshown[side]);
		if (note_add(&note[side], text)) {
			free(note[0]);
			free(note[1]);
			return -1;
		}
	}
	rc = emit(t, f, closer, TH_FIN | TH_ACK, NULL, 0, ts, note[closer]);
	f->next_seq[closer]++;
	if (!rc)
		rc = emit(t, f, !closer, TH_FIN | TH_ACK, NULL, 0, ts,
			  note[!closer]);
	f->next_seq[!closer]++;
	if (!rc)
		rc = emit(t, f, closer, TH_ACK, NULL, 0, ts, NULL);
	free(note[0]);
	free(note[1]);
	flow_free(t, f);
	return rc;
}

/* A data record (or a loss report) of side `side` of f. */
static int write_data(struct tcpsynth *t, struct flow *f, int side,
		      const struct record_info *ri)
{
	uint64_t ts = ri->timestamp_ns;
	uint32_t mss = mss_of(t, f);
	char *note;
	int rc = 0;

	note = take_hole(f, side);
	f->note[side] = note;
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
			 "tlstap: %llu bytes of this direction dropped by the capture hook before this point%s",
			 (unsigned long long)ri->dropped,
			 gap < ri->dropped ? " (hole capped at 1 GiB)" : "");
		if (note_add(&f->note[side], text))
			return -1;
		f->next_seq[side] += gap;
		f->unshown[side] += gap;
		t->st.dropped_gaps++;
		t->st.dropped_bytes += ri->dropped;
	}
	note = f->note[side];
	f->note[side] = NULL;
	if (record_is_loss_report(ri)) {
		/* No data follows the hole: the other end acknowledges it. */
		rc = emit(t, f, !side, TH_ACK, NULL, 0, ts, note);
		t->st.loss_reports++;
	} else {
		for (uint32_t off = 0; off < ri->msg_len && !rc;) {
			uint32_t n = ri->msg_len - off;
			uint8_t flags = TH_ACK;

			if (n > mss)
				n = mss;
			else
				flags |= TH_PUSH;
			rc = emit(t, f, side, flags, ri->msg + off, n, ts,
				  off ? NULL : note);
			f->next_seq[side] += n;
			off += n;
		}
		if (!rc)
			rc = emit(t, f, !side, TH_ACK, NULL, 0, ts, NULL);
	}
	free(note);
	return rc;
}

static int write_record(struct tcpsynth *t, const struct reasm_record *r)
{
	const struct record_info *ri = r->rec;
	struct flow_end e[2];
	struct flow *f;
	int side, rc = 0;

	record_ends(ri, e);
	f = flow_find(t, ri, e, &side);
	if (ri->type == TLSTAP_RECORD_CLOSE) {
		t->st.closes++;
		if (!f) {
			/* Never seen, or forgotten: nothing to close. */
			t->st.closes_unknown++;
		} else {
			/* The writer's end: e[0] (the client) when it is. */
			rc = fin_exchange(t, f,
					  ri->flow.dir == TLSTAP_DIR_WRITE ?
					  side : !side, ri->timestamp_ns);
		}
	} else {
		if (ri->type == TLSTAP_RECORD_OPEN)
			t->st.opens++;
		if (!f)
			f = flow_new(t, r, e, &side);
		if (!f)
			return -1;
		f->sender = *r->sender;
		f->stream_id = r->stream_id;
		/* An OPEN is the handshake flow_new() made (now or earlier). */
		if (ri->type != TLSTAP_RECORD_OPEN)
			rc = write_data(t, f, side, ri);
	}
	if (rc)
		return rc;
	t->st.records++;
	return unit_done(t);
}

/*
 * Records first..last of stream s will never come (an end may be unknown:
 * has_first/has_last 0): every flow last seen on s gets a one-byte hole
 * in both directions and a comment.
 */
static int mark_lost(struct tcpsynth *t, const struct pstream *s,
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
		 "tlstap: records %s..%s of stream %u from %s lost (%s); this connection may miss data here", a, b, s->stream_id,
		 sender, reason);
	if (has_first && has_last)
		t->st.lost_records += (uint64_t)(last - first) + 1;
	TAILQ_FOREACH(f, &t->flow_lru, lru) {
		if (f->stream_id != s->stream_id ||
		    f->sender.port != s->sender.port ||
		    f->sender.family != s->sender.family ||
		    memcmp(f->sender.addr, s->sender.addr, 16))
			continue;
		for (int side = 0; side < 2; side++) {
			f->hole[side] = 1;
			if (note_add(&f->note[side], text))
				return -1;
			t->st.lost_marks++;
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

static void held_free(struct tcpsynth *t, struct held *h)
{
	if (!h->is_lost) {
		t->st.held_now--;
		t->st.held_bytes_now -= h->info.len;
	}
	free(h->bytes);
	free(h);
}

/* Writes whatever is at the head of s and its turn; frees it. */
static int stream_release(struct tcpsynth *t, struct pstream *s)
{
	int released = 0;

	while (s->held && id_diff(s->held->first, s->next_id) <= 0) {
		struct held *h = s->held;
		int rc = 0;

		s->held = h->next;
		if (h->is_lost) {
			if (id_diff(h->last, s->next_id) >= 0) {
				rc = mark_lost(t, s, s->next_id, h->last, 1,
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

			rc = write_record(t, &rr);
			s->next_id++;
		} else {
			t->st.late_records++;
		}
		held_free(t, h);
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
static int stream_force(struct tcpsynth *t, struct pstream *s,
			const char *reason)
{
	uint32_t upto;

	if (!s->held)
		return 0;
	upto = s->held->first - 1;
	if (id_diff(upto, s->next_id) >= 0) {
		if (mark_lost(t, s, s->next_id, upto, 1, 1, reason))
			return -1;
		s->next_id = upto + 1;
	}
	return stream_release(t, s);
}

/* Forgets the least recently used stream, writing what it holds. */
static int stream_evict(struct tcpsynth *t)
{
	struct pstream *s = TAILQ_LAST(&t->stream_lru, pstream_list), **pp;

	while (s->held)
		if (stream_force(t, s, "stream evicted"))
			return -1;
	pp = &t->streams[stream_hash(&s->sender, s->stream_id)];
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	TAILQ_REMOVE(&t->stream_lru, s, lru);
	free(s);
	t->nstreams--;
	return 0;
}

static struct pstream *stream_get(struct tcpsynth *t, const struct endpoint *ep,
				  uint32_t id)
{
	unsigned int b = stream_hash(ep, id);
	struct pstream *s;

	for (s = t->streams[b]; s; s = s->hnext) {
		if (s->stream_id == id && s->sender.family == ep->family &&
		    s->sender.port == ep->port &&
		    !memcmp(s->sender.addr, ep->addr, 16)) {
			TAILQ_REMOVE(&t->stream_lru, s, lru);
			TAILQ_INSERT_HEAD(&t->stream_lru, s, lru);
			return s;
		}
	}
	if (t->nstreams >= MAX_STREAMS && stream_evict(t))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->sender = *ep;
	s->stream_id = id;
	s->hnext = t->streams[b];
	t->streams[b] = s;
	TAILQ_INSERT_HEAD(&t->stream_lru, s, lru);
	t->nstreams++;
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
static int check_holds(struct tcpsynth *t)
{
	struct pstream *s;
	uint64_t now;

	if (!t->st.held_now)
		return 0;
	now = now_ms();
	TAILQ_FOREACH(s, &t->stream_lru, lru) {
		while (s->held &&
		       now - s->wait_since_ms >= t->cfg.hold_ms) {
			t->st.hold_expired++;
			if (stream_force(t, s, "hold-expired"))
				return -1;
		}
	}
	while (t->st.held_bytes_now > t->cfg.max_held_bytes) {
		struct pstream *oldest = NULL;

		TAILQ_FOREACH(s, &t->stream_lru, lru)
			if (s->held && (!oldest ||
					s->wait_since_ms < oldest->wait_since_ms))
				oldest = s;
		if (!oldest)
			break;
		t->st.hold_expired++;
		if (stream_force(t, oldest, "hold memory full"))
			return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- API */

struct tcpsynth *tcpsynth_new(const struct tcpsynth_config *cfg,
			      const struct tcpsynth_sink *sink)
{
	struct tcpsynth *t;

	if (cfg->mtu < TCPSYNTH_MIN_MTU || cfg->mtu > TCPSYNTH_MAX_MTU ||
	    !cfg->max_flows || !sink->frame) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	TAILQ_INIT(&t->flow_lru);
	TAILQ_INIT(&t->stream_lru);
	t->cfg = *cfg;
	t->sink = *sink;
	t->buf = malloc(IP_ALIGN + HDR_ROOM + cfg->mtu);
	if (!t->buf) {
		free(t);
		return NULL;
	}
	t->pkt = t->buf + IP_ALIGN;
	return t;
}

int tcpsynth_stream_start(struct tcpsynth *t, const struct endpoint *sender,
			  uint32_t stream_id, uint32_t record_id)
{
	struct pstream *s = stream_get(t, sender, stream_id);

	if (!s)
		return -1;
	stream_start(s, record_id);
	return 0;
}

int tcpsynth_record(struct tcpsynth *t, const struct reasm_record *r)
{
	struct pstream *s = stream_get(t, r->sender, r->stream_id);
	struct held *h;
	int32_t d;

	if (!s)
		return -1;
	stream_start(s, r->record_id);
	d = id_diff(r->record_id, s->next_id);
	if (d < 0) {
		t->st.late_records++;
		return check_holds(t);
	}
	if (d == 0) {
		if (write_record(t, r))
			return -1;
		s->next_id++;
		return stream_release(t, s) || check_holds(t) ? -1 : 0;
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
	t->st.held++;
	t->st.held_now++;
	t->st.held_bytes_now += h->info.len;
	return check_holds(t);
}

int tcpsynth_lost(struct tcpsynth *t, const struct tcpsynth_loss *l)
{
	struct pstream *s = stream_get(t, l->sender, l->stream_id);
	uint32_t first = l->record_first, last = l->record_last;
	struct held *h;

	if (!s)
		return -1;
	t->st.lost_ranges++;
	if (!l->has_first && !l->has_last)
		return mark_lost(t, s, 0, 0, 0, 0, l->reason);
	if (!l->has_first) {
		/* Everything up to last: what came before we joined. */
		if (!s->started) {
			s->started = 1;
			s->next_id = last + 1;
			return stream_release(t, s) || check_holds(t) ? -1 : 0;
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
	return stream_release(t, s) || check_holds(t) ? -1 : 0;
}

int tcpsynth_tick(struct tcpsynth *t)
{
	return check_holds(t);
}

int tcpsynth_finish(struct tcpsynth *t)
{
	struct pstream *s;

	TAILQ_FOREACH(s, &t->stream_lru, lru)
		while (s->held)
			if (stream_force(t, s, "end of capture"))
				return -1;
	return 0;
}

void tcpsynth_free(struct tcpsynth *t)
{
	if (!t)
		return;
	while (!TAILQ_EMPTY(&t->flow_lru))
		flow_free(t, TAILQ_FIRST(&t->flow_lru));
	while (!TAILQ_EMPTY(&t->stream_lru)) {
		struct pstream *s = TAILQ_FIRST(&t->stream_lru);

		while (s->held) {
			struct held *h = s->held;

			s->held = h->next;
			held_free(t, h);
		}
		TAILQ_REMOVE(&t->stream_lru, s, lru);
		free(s);
	}
	free(t->buf);
	free(t);
}
