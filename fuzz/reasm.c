// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The receivers' core (nfq-tools/lib/reasm.c with gaptrack and seqtrack)
 * fed a sequence of datagrams decoded from the input, from three
 * senders, with the clock moving and NACK timers firing in between, then
 * flushed as at exit. Datagrams are raw bytes, or built from a few fields
 * with the protocol's builders (DATA chunks cut from deterministic
 * records, HEARTBEAT, GAP) so that the fuzzer spends its time on
 * reassembly rather than on framing; now and then the core is saved as a
 * state file would save it and a new core restored from that, as a
 * restarted receiver does. Checks: every record handed out is a whole
 * record that parses, of the length its chunks announced, with the
 * writer its chunks carried (while no raw datagram came); no record is
 * handed out twice or after it was declared lost, and no record in a LOST
 * range was handed out (across evictions and restarts, while no evicted
 * stream was forgotten and its record ids stayed within 2^30 of each
 * other); every NACK is a well-formed NACK to a sender; the pending
 * memory bound holds; the counters agree. ASan's leak check covers
 * reasm_free.
 *
 * Input: u8 pending-bytes limit, u8 max streams, u8 NACK tries, u8
 * max_msg_len choice, then operations (see op_* below).
 */
#include "fuzz.h"
#include "reasm.h"

#define NSENDERS	3
#define MAX_SEEN	8192
#define SPAN_LIMIT	(1u << 30)

struct seen {
	int sender;
	uint32_t stream_id, rid;
	int lost;		/* declared lost, not delivered */
};

struct stream_span {
	int sender;
	uint32_t stream_id, first_rid;
	int wide;		/* ids more than SPAN_LIMIT apart */
};

struct state {
	struct reasm *r;
	struct reasm_config cfg;
	struct endpoint senders[NSENDERS];
	struct seen seen[MAX_SEEN];
	unsigned int nseen;
	struct stream_span spans[64];
	unsigned int nspans;
	int untracked;		/* too much to remember: stop judging */
	int raw;		/* raw datagrams came: any writer may */
	unsigned long long records, lost_ranges;
	/* Of the cores before the last restart. */
	unsigned long long base_records, base_lost_ranges, base_forgotten;
};

/*
 * The writer build_data stamps into the chunks of record rid, or with
 * chunk flag 4 another one (chunks that disagree drop their record).
 */
static uint32_t writer_pid(uint32_t rid, int other)
{
	return 1 + rid % 4096 + (other ? 1u << 20 : 0);
}

static uint32_t writer_uid(uint32_t rid)
{
	return rid & 1 ? 1000 : TLSTAP_WRITER_UID_UNKNOWN;
}

static int sender_index(const struct state *s, const struct endpoint *ep)
{
	for (int i = 0; i < NSENDERS; i++)
		if (!memcmp(&s->senders[i], ep, sizeof(*ep)))
			return i;
	return -1;
}

/* Whether duplicates can be judged on this stream (see the header). */
static int judged(struct state *s, int sender, uint32_t stream_id, uint32_t rid)
{
	struct stream_span *sp = NULL;

	if (s->untracked ||
	    s->base_forgotten + reasm_stats(s->r)->streams_forgotten)
		return 0;
	for (unsigned int i = 0; i < s->nspans; i++)
		if (s->spans[i].sender == sender &&
		    s->spans[i].stream_id == stream_id)
			sp = &s->spans[i];
	if (!sp) {
		if (s->nspans == 64) {
			s->untracked = 1;
			return 0;
		}
		sp = &s->spans[s->nspans++];
		sp->sender = sender;
		sp->stream_id = stream_id;
		sp->first_rid = rid;
		sp->wide = 0;
	}
	if (rid - sp->first_rid + SPAN_LIMIT / 2 >= SPAN_LIMIT)
		sp->wide = 1;
	return !sp->wide;
}

static struct seen *find_seen(struct state *s, int sender, uint32_t stream_id,
			      uint32_t rid)
{
	for (unsigned int i = 0; i < s->nseen; i++)
		if (s->seen[i].rid == rid && s->seen[i].stream_id == stream_id &&
		    s->seen[i].sender == sender)
			return &s->seen[i];
	return NULL;
}

static void remember(struct state *s, int sender, uint32_t stream_id,
		     uint32_t rid, int lost)
{
	if (s->nseen == MAX_SEEN) {
		s->untracked = 1;
		return;
	}
	s->seen[s->nseen++] = (struct seen){ sender, stream_id, rid, lost };
}

static void on_record(void *arg, const struct reasm_record *rr)
{
	struct state *s = arg;
	const struct record_info *ri = rr->rec;
	struct record_info again;
	int sender = sender_index(s, rr->sender);
	struct seen *prev;
	uint32_t sum = 0;

	CHECK(sender >= 0, "record from an unknown sender");
	CHECK(record_parse(ri->bytes, ri->len, s->cfg.max_msg_len, &again) ==
			      RECORD_OK && again.len == ri->len &&
	      again.msg_len == ri->msg_len,
	      "record %u handed out does not parse", rr->record_id);
	for (uint32_t i = 0; i < ri->len; i++)
		sum += ri->bytes[i];
	(void)sum;
	CHECK(s->raw || (rr->writer_uid == writer_uid(rr->record_id) &&
			 (rr->writer_pid == writer_pid(rr->record_id, 0) ||
			  rr->writer_pid == writer_pid(rr->record_id, 1))),
	      "record %u handed out with writer %u/%u", rr->record_id,
	      rr->writer_pid, rr->writer_uid);
	s->records++;
	if (!judged(s, sender, rr->stream_id, rr->record_id))
		return;
	prev = find_seen(s, sender, rr->stream_id, rr->record_id);
	CHECK(!prev, "record %u of stream %u handed out %s", rr->record_id,
	      rr->stream_id, prev && prev->lost ? "after it was declared lost"
						: "twice");
	remember(s, sender, rr->stream_id, rr->record_id, 0);
}

static void on_lost(void *arg, const struct reasm_lost *l)
{
	struct state *s = arg;
	int sender = sender_index(s, l->sender);

	CHECK(sender >= 0, "LOST from an unknown sender");
	CHECK(l->seq_last - l->seq_first < (1u << 31), "LOST seqs %u..%u",
	      l->seq_first, l->seq_last);
	s->lost_ranges++;
	if (!l->has_record_first || !l->has_record_last)
		return;
	CHECK((int32_t)(l->record_last - l->record_first) >= 0,
	      "LOST records %u..%u", l->record_first, l->record_last);
	if (!judged(s, sender, l->stream_id, l->record_first) ||
	    !judged(s, sender, l->stream_id, l->record_last))
		return;
	/* None of it handed out; the ids remembered (a bounded number). */
	for (uint32_t rid = l->record_first, n = 0; n < 64; rid++, n++) {
		const struct seen *prev = find_seen(s, sender, l->stream_id,
						    rid);

		CHECK(!prev || prev->lost,
		      "LOST range %u..%u of stream %u holds record %u, handed out", l->record_first, l->record_last, l->stream_id,
		      rid);
		if (!prev)
			remember(s, sender, l->stream_id, rid, 1);
		if (rid == l->record_last)
			break;
	}
}

static void on_nack(void *arg, const struct endpoint *to, const uint8_t *msg,
		    size_t len)
{
	struct state *s = arg;
	struct wire_msg m;

	CHECK(sender_index(s, to) >= 0, "NACK to an unknown sender");
	CHECK(wire_parse_msg(msg, len, &m) == WIRE_OK &&
	      m.type == TLSTAP_MSG_NACK && wire_check_ranges(&m) == WIRE_OK,
	      "the core built a NACK the senders would refuse");
}

struct saved {
	struct reasm_saved_stream *ss;
	unsigned int n, cap;
};

static int keep_saved(void *arg, const struct reasm_saved_stream *ss)
{
	struct saved *sv = arg;
	struct reasm_saved_stream *c;

	if (sv->n == sv->cap) {
		unsigned int cap = sv->cap ? 2 * sv->cap : 8;
		struct reasm_saved_stream *grown =
			realloc(sv->ss, cap * sizeof(*grown));

		CHECK(grown, "realloc");
		sv->ss = grown;
		sv->cap = cap;
	}
	c = &sv->ss[sv->n++];
	*c = *ss;
	c->ranges = malloc((ss->nranges + 1) * sizeof(*c->ranges));
	c->notdone = malloc((ss->nnotdone + 1) * sizeof(*c->notdone));
	CHECK(c->ranges && c->notdone, "malloc");
	if (ss->nranges)
		memcpy(c->ranges, ss->ranges, ss->nranges * sizeof(*c->ranges));
	if (ss->nnotdone)
		memcpy(c->notdone, ss->notdone,
		       ss->nnotdone * sizeof(*c->notdone));
	return 0;
}

/*
 * A restart with a state file: what the core saves is what a new core is
 * restored from (lib/recvstate.c's text in between is the recvstate
 * harness's); nothing is given up at the stop.
 */
static void restart(struct state *s, const struct reasm_ops *ops)
{
	const struct reasm_stats *st = reasm_stats(s->r);
	struct saved sv = { 0 };

	CHECK(!reasm_save(s->r, keep_saved, &sv), "reasm_save");
	s->base_records += st->records;
	s->base_lost_ranges += st->lost_ranges;
	s->base_forgotten += st->streams_forgotten;
	reasm_free(s->r);
	s->r = reasm_new(&s->cfg, ops, s);
	CHECK(s->r, "reasm_new");
	for (unsigned int i = 0; i < sv.n; i++) {
		CHECK(!reasm_restore(s->r, &sv.ss[i]), "reasm_restore");
		free(sv.ss[i].ranges);
		free(sv.ss[i].notdone);
	}
	free(sv.ss);
}

/* The deterministic record (rid, record_len, flow choice) chunks cut from. */
static void make_record(uint8_t *buf, uint32_t rid, uint32_t record_len,
			uint8_t flowsel)
{
	struct record_info ri = { 0 };

	ri.flow.dir = flowsel & 1 ? TLSTAP_DIR_READ : TLSTAP_DIR_WRITE;
	switch (flowsel >> 1 & 3) {
	case 0:
		ri.flow.family = TLSTAP_FAMILY_NONE;
		break;
	case 1:
	case 3:
		ri.flow.family = TLSTAP_FAMILY_IPV4;
		memcpy(ri.flow.saddr, "\x0a\x00\x00\x01", 4);
		memcpy(ri.flow.daddr, "\x0a\x00\x00\x02", 4);
		ri.flow.sport = 443;
		ri.flow.dport = (uint16_t)(40000 + (flowsel >> 3));
		break;
	case 2:
		ri.flow.family = TLSTAP_FAMILY_IPV6;
		memset(ri.flow.saddr, 0xfd, 16);
		memset(ri.flow.daddr, 0xfe, 16);
		ri.flow.sport = 443;
		ri.flow.dport = (uint16_t)(40000 + (flowsel >> 3));
		break;
	}
	ri.type = TLSTAP_RECORD_DATA;
	ri.msg_len = record_len - TLSTAP_RECORD_HDR_LEN;
	ri.dropped = ri.msg_len ? rid % 3 : 1 + rid;
	ri.pid = 4242;
	ri.timestamp_ns = rid;
	ri.conn_id = flowsel >> 3;
	record_encode_hdr((struct tlstap_record *)buf, &ri);
	for (uint32_t i = 0; i < ri.msg_len; i++)
		buf[TLSTAP_RECORD_HDR_LEN + i] = (uint8_t)(rid * 31 + i);
}

static void flow_of(const uint8_t *rec, struct record_flow *flow)
{
	struct record_info ri;

	/* make_record's output always parses. */
	CHECK(record_parse(rec, TLSTAP_RECORD_HDR_LEN, UINT32_MAX - 72, &ri) !=
		      RECORD_BAD_FLOW, "make_record");
	*flow = ri.flow;
}

static size_t build_data(struct input *in, uint8_t *dgram, size_t cap,
			 uint32_t stream_id)
{
	static uint8_t rec[TLSTAP_RECORD_HDR_LEN + 4096];
	struct wire_builder b;
	uint8_t flags = input_u8(in);
	/*
	 * Small seqs and record ids mostly: a jump costs the core a walk of
	 * its window (up to 65536 steps), and small ones meet each other.
	 */
	int wide = flags & 0x40;
	uint32_t seq = wide ? input_u16(in) : input_u8(in);
	unsigned int nchunks = 1 + flags % 4;

	wire_builder_start(&b, dgram, cap, stream_id, seq,
			   flags & 0x80 ? TLSTAP_MSG_F_RETRANSMIT : 0);
	for (unsigned int i = 0; i < nchunks; i++) {
		struct wire_chunk_meta m = { 0 };
		uint8_t flowsel = input_u8(in), cflags = input_u8(in);
		uint32_t off, len;

		m.record_id = wide ? input_u16(in) : input_u8(in);
		m.record_len = TLSTAP_RECORD_HDR_LEN + input_u16(in) % 4096;
		off = input_u16(in) % m.record_len;
		len = 1 + input_u16(in) % (m.record_len - off);
		if (len > wire_builder_room(&b))
			len = (uint32_t)wire_builder_room(&b);
		if (!len)
			break;
		make_record(rec, m.record_id, m.record_len, flowsel);
		flow_of(rec, &m.flow);
		m.flags = cflags & 1 ? TLSTAP_CHUNK_F_ABORTED : 0;
		m.writer_pid = writer_pid(m.record_id, cflags & 4);
		m.writer_uid = writer_uid(m.record_id);
		if (cflags & 2)		/* bytes that disagree with a resend */
			rec[off] ^= 0x5a;
		wire_builder_add(&b, &m, off, rec + off, len);
	}
	return wire_builder_finish(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct reasm_ops ops = { on_record, on_lost, on_nack, NULL };
	static struct state s;
	static uint8_t dgram[TLSTAP_MAX_DGRAM];
	static const uint32_t max_msg_lens[] = { TLSTAP_DEFAULT_MAX_RECORD, 100,
						 4096, 0 };
	struct reasm_dgram_info info;
	const struct reasm_stats *st;
	unsigned long long invalid = 0;
	struct input in;
	uint64_t now = 1000000000ull;

	memset(&s, 0, sizeof(s));
	input_init(&in, data, size);
	s.cfg.max_pending_bytes = 256u << (input_u8(&in) % 14);
	s.cfg.max_streams = 1 + input_u8(&in) % 6;
	s.cfg.max_evicted = 4 * s.cfg.max_streams;
	s.cfg.nack_tries = input_u8(&in) % 4;
	s.cfg.max_msg_len = max_msg_lens[input_u8(&in) % 4];
	for (int i = 0; i < NSENDERS; i++) {
		s.senders[i].family = i == 2 ? TLSTAP_FAMILY_IPV6 : TLSTAP_FAMILY_IPV4;
		s.senders[i].addr[0] = i == 2 ? 0xfd : 10;
		s.senders[i].addr[3] = 1;
		s.senders[i].port = (uint16_t)(7419 + i);
	}
	s.r = reasm_new(&s.cfg, &ops, &s);
	CHECK(s.r, "reasm_new");

	while (in.left) {
		uint8_t op = input_u8(&in);
		const struct endpoint *from = &s.senders[(op >> 3) % NSENDERS];
		uint32_t stream_id = 1 + (op >> 6);
		const uint8_t *raw;
		size_t len;

		switch (op & 7) {
		case 0:		/* raw bytes */
			raw = input_take(&in, input_u16(&in) % 2048, &len);
			memcpy(dgram, raw, len);
			s.raw = 1;
			break;
		case 1:
		case 2:
		case 3:		/* DATA built from fields */
			len = build_data(&in, dgram, 128 + input_u8(&in) * 8,
					 stream_id);
			break;
		case 4: {	/* HEARTBEAT */
			uint32_t highest = input_u16(&in);

			len = wire_build_heartbeat(dgram, stream_id, highest,
						   highest + 1 - input_u8(&in));
			break;
		}
		case 5: {	/* GAP */
			struct wire_range g = { input_u16(&in), 0 };

			g.last = g.first + input_u8(&in);
			len = wire_build_ranges(dgram, TLSTAP_MSG_GAP, stream_id,
						&g, 1);
			break;
		}
		case 6:		/* time passes, timers run */
			now += (uint64_t)input_u16(&in) * 100000;
			reasm_timer(s.r, now);
			continue;
		default:	/* a backlog being drained, or a restart */
			if (op & 8) {
				restart(&s, &ops);
				continue;
			}
			now += (uint64_t)input_u16(&in) * 100000;
			reasm_timer_backlog(s.r, now, now - input_u16(&in) * 100000ull);
			continue;
		}
		reasm_datagram(s.r, from, dgram, len, now, &info);
		st = reasm_stats(s.r);
		CHECK(st->pending_bytes <= s.cfg.max_pending_bytes,
		      "%llu bytes pending, limit %zu", st->pending_bytes,
		      s.cfg.max_pending_bytes);
	}
	reasm_flush(s.r);
	st = reasm_stats(s.r);
	for (int i = 0; i < WIRE_STATUS_COUNT; i++)
		invalid += st->invalid_by[i];
	CHECK(invalid == st->invalid, "invalid %llu, by status %llu",
	      st->invalid, invalid);
	CHECK(s.base_records + st->records == s.records &&
	      s.base_lost_ranges + st->lost_ranges == s.lost_ranges,
	      "counted %llu records, %llu LOST; handed out %llu, %llu",
	      s.base_records + st->records,
	      s.base_lost_ranges + st->lost_ranges, s.records, s.lost_ranges);
	reasm_free(s.r);
	return 0;
}
