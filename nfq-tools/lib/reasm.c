// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Streams live in a small hash table with an LRU list; incomplete records
 * ("pending") in a per-stream hash by record id and on one global age
 * list, so that the memory bound evicts the oldest first. A record is
 * emitted once its bytes are all covered, every chunk agreed on its
 * length, flow and writer, and the bytes parse as a record of that flow. Each
 * stream's missing seqs are in its gaptrack; when it gives up a range,
 * the records in it are dropped from pending and marked done, so that
 * nothing of them comes out later. A stream evicted for room leaves what
 * a state file would keep of it in a second table (hash + LRU, bounded),
 * so that one that comes back continues where it stopped.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "reasm.h"

#define STREAM_BUCKETS	256
#define PENDING_BUCKETS	256

struct range {
	uint32_t start, end;	/* [start, end) */
};

struct stream;

struct pending {
	struct pending *hnext;			/* stream's hash chain */

	TAILQ_ENTRY(pending) age;		/* global, oldest first */
	struct stream *stream;
	struct wire_chunk_meta meta;		/* from its first chunk */
	uint32_t received;
	uint32_t seq_first;
	uint32_t seq_lo, seq_hi;		/* where its chunks came in */
	int have_first;
	struct range *ranges;			/* sorted, disjoint */
	unsigned int nranges, cap_ranges;
	uint8_t *data;				/* record_len bytes */
};

struct stream {
	struct stream *hnext;

	TAILQ_ENTRY(stream) lru;		/* most recent first */
	struct endpoint sender;
	uint32_t stream_id;
	struct seqtrack seqs;
	struct seqtrack done;			/* completed or lost record ids */
	struct pending *pending[PENDING_BUCKETS];
	unsigned int npending;
	struct gaptrack gaps;
	uint64_t deadline;			/* its gaptrack's; 0: none */
	/*
	 * Where it started (not for resumed or restored streams, whose
	 * numbers all count): what came before is not ours.
	 */
	int has_start;
	uint32_t start_seq;
	struct reasm *owner;
};

/*
 * A stream evicted for room, as a state file would keep it (its holes
 * given up already), to continue it if it comes back.
 */
struct evicted {
	struct evicted *hnext;

	TAILQ_ENTRY(evicted) lru;		/* most recent first */
	struct reasm_saved_stream ss;		/* its arrays its own */
};

struct reasm {
	struct reasm_config cfg;
	struct gap_policy policy;
	struct reasm_ops ops;
	void *arg;
	struct reasm_stats st;
	struct stream *streams[STREAM_BUCKETS];

	TAILQ_HEAD(stream_list, stream) lru;		/* of streams */
	unsigned int nstreams;

	TAILQ_HEAD(, pending) age;		/* of pendings */
	struct evicted *evicted[STREAM_BUCKETS];

	TAILQ_HEAD(evicted_list, evicted) evicted_lru;
	unsigned int nevicted;
	unsigned long long saved_gen;		/* reasm_changed() */
};

struct reasm *reasm_new(const struct reasm_config *cfg,
			const struct reasm_ops *ops, void *arg)
{
	struct reasm *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	TAILQ_INIT(&r->lru);
	TAILQ_INIT(&r->age);
	TAILQ_INIT(&r->evicted_lru);
	r->cfg = *cfg;
	r->policy.timeout_ns = cfg->nack_timeout_ns ? cfg->nack_timeout_ns
						    : REASM_NACK_TIMEOUT_NS;
	r->policy.max_tries = cfg->nack_tries ? cfg->nack_tries
					      : REASM_NACK_TRIES;
	if (r->policy.max_tries > 255)
		r->policy.max_tries = 255;
	r->policy.max_ranges = REASM_MAX_MISSING_RANGES;
	r->ops = *ops;
	r->arg = arg;
	return r;
}

const char *reasm_lost_reason_name(enum gap_reason reason)
{
	return reason == GAP_REASON_GAP ? "gap" : "timeout";
}

const char *reasm_start_how_name(enum reasm_start_how how)
{
	switch (how) {
	case REASM_START_NEW:
		return "new";
	case REASM_START_JOINED:
		return "joined";
	case REASM_START_RESUMED:
		return "resumed";
	case REASM_START_RESTORED:
		return "restored";
	}
	return "?";
}

const struct reasm_stats *reasm_stats(const struct reasm *r)
{
	return &r->st;
}

/* ------------------------------------------------------------- pending */

static unsigned int pending_hash(uint32_t record_id)
{
	return record_id % PENDING_BUCKETS;
}

static void pending_free(struct reasm *r, struct pending *p)
{
	struct stream *s = p->stream;
	struct pending **pp = &s->pending[pending_hash(p->meta.record_id)];

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	s->npending--;
	TAILQ_REMOVE(&r->age, p, age);
	r->st.pending_bytes -= p->meta.record_len;
	free(p->ranges);
	free(p->data);
	free(p);
}

static struct pending *pending_find(struct stream *s, uint32_t record_id)
{
	struct pending *p = s->pending[pending_hash(record_id)];

	while (p && p->meta.record_id != record_id)
		p = p->hnext;
	return p;
}

static struct pending *pending_new(struct reasm *r, struct stream *s,
				   const struct wire_chunk_meta *meta, uint32_t seq)
{
	struct pending *p;

	/* Make room: the oldest incomplete records go first. */
	while (!TAILQ_EMPTY(&r->age) &&
	       r->st.pending_bytes + meta->record_len > r->cfg.max_pending_bytes) {
		r->st.records_evicted++;
		pending_free(r, TAILQ_FIRST(&r->age));
	}
	if (r->st.pending_bytes + meta->record_len > r->cfg.max_pending_bytes)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->data = malloc(meta->record_len);
	if (!p->data) {
		free(p);
		return NULL;
	}
	p->stream = s;
	p->meta = *meta;
	p->seq_lo = seq;
	p->seq_hi = seq;
	p->hnext = s->pending[pending_hash(meta->record_id)];
	s->pending[pending_hash(meta->record_id)] = p;
	s->npending++;
	TAILQ_INSERT_TAIL(&r->age, p, age);
	r->st.pending_bytes += meta->record_len;
	return p;
}

/*
 * Adds [start, end) to the covered ranges. Bytes already covered must
 * equal the new ones (a retransmission repeats them); 0 if they differ
 * or memory is short.
 */
static int pending_cover(struct pending *p, uint32_t start, uint32_t end,
			 const uint8_t *data)
{
	unsigned int i = 0, j;
	uint32_t ns = start, ne = end;

	while (i < p->nranges && p->ranges[i].end < start)
		i++;
	/* Ranges i..j-1 touch or overlap [start, end). */
	for (j = i; j < p->nranges && p->ranges[j].start <= end; j++) {
		uint32_t os = p->ranges[j].start > start ? p->ranges[j].start
							 : start;
		uint32_t oe = p->ranges[j].end < end ? p->ranges[j].end : end;

		if (os < oe && memcmp(p->data + os, data + (os - start), oe - os))
			return 0;
		if (p->ranges[j].start < ns)
			ns = p->ranges[j].start;
		if (p->ranges[j].end > ne)
			ne = p->ranges[j].end;
		p->received -= p->ranges[j].end - p->ranges[j].start;
	}
	memcpy(p->data + start, data, end - start);
	if (j == i) {
		if (p->nranges == p->cap_ranges) {
			unsigned int cap = p->cap_ranges ? 2 * p->cap_ranges : 4;
			struct range *nr = realloc(p->ranges, cap * sizeof(*nr));

			if (!nr)
				return 0;
			p->ranges = nr;
			p->cap_ranges = cap;
		}
		memmove(&p->ranges[i + 1], &p->ranges[i],
			(p->nranges - i) * sizeof(*p->ranges));
		p->nranges++;
	} else {
		memmove(&p->ranges[i + 1], &p->ranges[j],
			(p->nranges - j) * sizeof(*p->ranges));
		p->nranges -= j - i - 1;
	}
	p->ranges[i].start = ns;
	p->ranges[i].end = ne;
	p->received += ne - ns;
	return 1;
}

static int flow_equal(const struct record_flow *a, const struct record_flow *b)
{
	return a->family == b->family && a->dir == b->dir &&
	       a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(a->saddr, b->saddr, 16) &&
	       !memcmp(a->daddr, b->daddr, 16);
}

/* The chunks of one record were stamped with one writer. */
static int writer_equal(const struct wire_chunk_meta *a,
			const struct wire_chunk_meta *b)
{
	return a->writer_pid == b->writer_pid &&
	       a->writer_uid == b->writer_uid;
}

/* ------------------------------------------------------------- streams */

static unsigned int stream_hash(const struct endpoint *ep, uint32_t id)
{
	uint32_t h = id ^ ep->port ^ ((uint32_t)ep->family << 16);

	for (int i = 0; i < 16; i++)
		h = h * 31 + ep->addr[i];
	return h % STREAM_BUCKETS;
}

static int endpoint_equal(const struct endpoint *a, const struct endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, 16);
}

static void stream_free(struct reasm *r, struct stream *s)
{
	struct stream **pp = &r->streams[stream_hash(&s->sender, s->stream_id)];

	for (unsigned int b = 0; b < PENDING_BUCKETS; b++)
		while (s->pending[b])
			pending_free(r, s->pending[b]);
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	TAILQ_REMOVE(&r->lru, s, lru);
	r->nstreams--;
	gaptrack_free(&s->gaps);
	free(s);
}

static void stream_lost(void *arg, const struct gap_lost *l);

/* ------------------------------------------------------ evicted streams */

static void saved_free(struct reasm_saved_stream *ss)
{
	free(ss->ranges);
	free(ss->notdone);
	ss->ranges = NULL;
	ss->notdone = NULL;
	ss->nranges = ss->nnotdone = 0;
}

static struct evicted *evicted_find(struct reasm *r, const struct endpoint *ep,
				    uint32_t id)
{
	struct evicted *e = r->evicted[stream_hash(ep, id)];

	while (e && !(e->ss.stream_id == id && endpoint_equal(&e->ss.sender, ep)))
		e = e->hnext;
	return e;
}

static void evicted_free(struct reasm *r, struct evicted *e)
{
	struct evicted **pp =
		&r->evicted[stream_hash(&e->ss.sender, e->ss.stream_id)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	TAILQ_REMOVE(&r->evicted_lru, e, lru);
	r->nevicted--;
	saved_free(&e->ss);
	free(e);
}

/*
 * Remembers a stream evicted, most recent first (at_tail: last, as a
 * state file lists them); the oldest entry makes room. Takes over ss's
 * arrays (freed if it cannot). 0, or -1 if memory is short.
 */
static int evicted_put(struct reasm *r, struct reasm_saved_stream *ss,
		       int at_tail)
{
	unsigned int b = stream_hash(&ss->sender, ss->stream_id);
	struct evicted *e = evicted_find(r, &ss->sender, ss->stream_id);

	if (e)
		evicted_free(r, e);
	if (!r->cfg.max_evicted) {
		r->st.streams_forgotten++;
		saved_free(ss);
		return 0;
	}
	if (r->nevicted >= r->cfg.max_evicted) {
		r->st.streams_forgotten++;
		/* Listed last, it is the oldest itself. */
		if (at_tail) {
			saved_free(ss);
			return 0;
		}
		evicted_free(r, TAILQ_LAST(&r->evicted_lru, evicted_list));
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		saved_free(ss);
		return -1;
	}
	e->ss = *ss;
	e->ss.evicted = 1;
	e->hnext = r->evicted[b];
	r->evicted[b] = e;
	if (at_tail)
		TAILQ_INSERT_TAIL(&r->evicted_lru, e, lru);
	else
		TAILQ_INSERT_HEAD(&r->evicted_lru, e, lru);
	r->nevicted++;
	return 0;
}

static int snapshot(const struct stream *s, struct reasm_saved_stream *ss);

/*
 * Forgets a stream for room: what it still missed is lost, said before it
 * is forgotten; the rest stays in the evicted table (a stream without it
 * would start anew where it comes back, and could take nothing older for
 * new), records under way included: they are asked for again.
 */
static void stream_evict(struct reasm *r, struct stream *s)
{
	struct reasm_saved_stream ss;

	r->st.streams_evicted++;
	gaptrack_flush(&s->gaps, &s->seqs);
	if (s->seqs.started) {
		if (snapshot(s, &ss))
			r->st.streams_forgotten++;
		else
			evicted_put(r, &ss, 0);
	}
	stream_free(r, s);
}

static void announce(struct reasm *r, const struct reasm_start *st)
{
	if (r->ops.start)
		r->ops.start(r->arg, st);
}

/*
 * A stream continues from what a state file or the evicted table kept:
 * every number below where it stopped is old but the ranges still
 * wanted (NACKed at the next tick) and the records not handed out.
 */
static int stream_load(struct stream *s, const struct reasm_saved_stream *ss)
{
	seqtrack_resume(&s->seqs, ss->seq_next);
	for (unsigned int i = 0; i < ss->nranges; i++) {
		if (!ss->ranges[i].lost)
			seqtrack_reopen(&s->seqs, ss->ranges[i].first,
					ss->ranges[i].last);
		if (gaptrack_add(&s->gaps, &ss->ranges[i]))
			return -1;
	}
	s->gaps.top = ss->top;
	if (ss->has_record_next) {
		seqtrack_resume(&s->done, ss->record_next);
		for (unsigned int i = 0; i < ss->nnotdone; i++)
			seqtrack_reopen(&s->done, ss->notdone[i].first,
					ss->notdone[i].last);
	}
	if (ss->nranges)
		s->deadline = 1;	/* due at once */
	return 0;
}

static void announce_loaded(struct reasm *r, const struct stream *s,
			    const struct reasm_saved_stream *ss,
			    enum reasm_start_how how)
{
	struct reasm_start st = {
		.sender = &s->sender,
		.stream_id = s->stream_id,
		.how = how,
		.seq = ss->nranges ? ss->ranges[0].first : ss->seq_next,
		.has_record = ss->has_record_next,
		.record_id = ss->nnotdone ? ss->notdone[0].first
					  : ss->record_next,
	};

	announce(r, &st);
}

/* An evicted stream back. */
static void stream_resume(struct reasm *r, struct stream *s,
			  const struct evicted *e)
{
	/* Memory short: what it cannot ask for again counts as evicted. */
	if (stream_load(s, &e->ss))
		r->st.records_evicted++;
	r->st.streams_resumed++;
	announce_loaded(r, s, &e->ss, REASM_START_RESUMED);
}

/* A new stream, first (at_tail: last) in the LRU; NULL if memory is short. */
static struct stream *stream_new(struct reasm *r, const struct endpoint *ep,
				 uint32_t id, int at_tail)
{
	unsigned int b = stream_hash(ep, id);
	struct stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->owner = r;
	if (gaptrack_init(&s->gaps, &r->policy, stream_lost, s)) {
		free(s);
		return NULL;
	}
	s->sender = *ep;
	s->stream_id = id;
	seqtrack_init(&s->seqs);
	seqtrack_init(&s->done);
	s->hnext = r->streams[b];
	r->streams[b] = s;
	if (at_tail)
		TAILQ_INSERT_TAIL(&r->lru, s, lru);
	else
		TAILQ_INSERT_HEAD(&r->lru, s, lru);
	r->nstreams++;
	r->st.streams++;
	return s;
}

/*
 * The stream, made if create and it is new (continued if it was
 * evicted); NULL if none (or no memory). A new one is not started yet:
 * its first datagram starts it.
 */
static struct stream *stream_get(struct reasm *r, const struct endpoint *ep,
				 uint32_t id, int create)
{
	unsigned int b = stream_hash(ep, id);
	struct evicted *e;
	struct stream *s;

	for (s = r->streams[b]; s; s = s->hnext) {
		if (s->stream_id == id && endpoint_equal(&s->sender, ep)) {
			TAILQ_REMOVE(&r->lru, s, lru);
			TAILQ_INSERT_HEAD(&r->lru, s, lru);
			return s;
		}
	}
	if (!create)
		return NULL;
	if (r->nstreams >= r->cfg.max_streams)
		stream_evict(r, TAILQ_LAST(&r->lru, stream_list));
	s = stream_new(r, ep, id, 0);
	e = s ? evicted_find(r, ep, id) : NULL;
	if (e) {
		stream_resume(r, s, e);
		evicted_free(r, e);
	}
	return s;
}

/*
 * A new stream's first datagram: DATA (msg) or a HEARTBEAT naming highest
 * (msg NULL). It starts there: at the DATA's seq, with the first record
 * that begins in it; after the HEARTBEAT's highest, records unknown.
 */
static void stream_begin(struct reasm *r, struct stream *s,
			 const struct wire_msg *msg, uint32_t highest)
{
	struct reasm_start st = {
		.sender = &s->sender,
		.stream_id = s->stream_id,
		.how = REASM_START_JOINED,
		.by_heartbeat = !msg,
		.seq = msg ? msg->seq : highest + 1,
	};

	if (msg) {
		struct wire_chunk ch;
		size_t pos = 0;

		if (!msg->seq)
			st.how = REASM_START_NEW;
		/* A record under way at the start began before it: not ours. */
		if (wire_next_chunk(msg, &pos, &ch)) {
			st.has_record = 1;
			st.record_id = ch.meta.record_id + (ch.offset ? 1 : 0);
			seqtrack_start(&s->done, st.record_id);
		}
	}
	seqtrack_start(&s->seqs, st.seq);
	s->has_start = 1;
	s->start_seq = st.seq;
	if (st.how == REASM_START_JOINED)
		r->st.streams_joined++;
	announce(r, &st);
}

/* ------------------------------------------------------------- records */

static void finish_record(struct reasm *r, struct stream *s,
			  const struct wire_chunk_meta *meta,
			  const uint8_t *bytes, uint32_t seq_first,
			  int inconsistent)
{
	struct record_info info;
	struct reasm_record rr;
	uint32_t skipped;

	seqtrack_see(&s->done, meta->record_id, &skipped);
	if (inconsistent) {
		r->st.records_inconsistent++;
		return;
	}
	if (record_parse(bytes, meta->record_len, r->cfg.max_msg_len, &info) !=
	    RECORD_OK || info.len != meta->record_len ||
	    !flow_equal(&info.flow, &meta->flow)) {
		r->st.records_invalid++;
		return;
	}
	rr.sender = &s->sender;
	rr.stream_id = s->stream_id;
	rr.record_id = meta->record_id;
	rr.seq_first = seq_first;
	rr.writer_pid = meta->writer_pid;
	rr.writer_uid = meta->writer_uid;
	rr.rec = &info;
	r->st.records++;
	r->st.record_bytes += meta->record_len;
	if (record_is_loss_report(&info))
		r->st.loss_reports++;
	else if (info.type == TLSTAP_RECORD_OPEN)
		r->st.opens++;
	else if (info.type == TLSTAP_RECORD_CLOSE)
		r->st.closes++;
	r->ops.record(r->arg, &rr);
}

static void take_chunk(struct reasm *r, struct stream *s,
		       const struct wire_chunk *ch, uint32_t seq)
{
	struct pending *p;

	r->st.chunks++;
	switch (seqtrack_query(&s->done, ch->meta.record_id)) {
	case SEQ_DUP:
		r->st.dup_chunks++;
		return;
	case SEQ_STALE:
		r->st.stale_chunks++;
		return;
	default:
		break;
	}
	p = pending_find(s, ch->meta.record_id);
	if (!p && (ch->meta.flags & TLSTAP_CHUNK_F_ABORTED)) {
		uint32_t skipped;

		seqtrack_see(&s->done, ch->meta.record_id, &skipped);
		r->st.records_aborted++;
		return;
	}
	/* The whole record in one chunk: no copy, no state. */
	if (!p && !ch->offset && ch->len == ch->meta.record_len) {
		finish_record(r, s, &ch->meta, ch->data, seq, 0);
		return;
	}
	if (!p) {
		p = pending_new(r, s, &ch->meta, seq);
		if (!p) {
			r->st.records_evicted++;
			return;
		}
	}
	if ((int32_t)(seq - p->seq_lo) < 0)
		p->seq_lo = seq;
	if ((int32_t)(seq - p->seq_hi) > 0)
		p->seq_hi = seq;
	if (ch->meta.flags & TLSTAP_CHUNK_F_ABORTED) {
		uint32_t skipped;

		seqtrack_see(&s->done, ch->meta.record_id, &skipped);
		r->st.records_aborted++;
		pending_free(r, p);
		return;
	}
	/*
	 * Chunks that disagree on the record (length, flow, writer, bytes
	 * sent twice) make all of it untrustworthy: it is dropped at once,
	 * and its later chunks count as duplicates.
	 */
	if (ch->meta.record_len != p->meta.record_len ||
	    !flow_equal(&ch->meta.flow, &p->meta.flow) ||
	    !writer_equal(&ch->meta, &p->meta) ||
	    !pending_cover(p, ch->offset, ch->offset + ch->len, ch->data)) {
		finish_record(r, s, &p->meta, NULL, 0, 1);
		pending_free(r, p);
		return;
	}
	if (!ch->offset && !p->have_first) {
		p->have_first = 1;
		p->seq_first = seq;
	}
	if (p->received == p->meta.record_len) {
		finish_record(r, s, &p->meta, p->data, p->seq_first, 0);
		pending_free(r, p);
	}
}

/* -------------------------------------------------------- lost records */

/*
 * Records a..b (not handed out at either end) are lost: one LOST line per
 * run of them not handed out, since a range may hold records a run
 * before this one handed out (a stream restored from a state file asks
 * for seqs again). They are marked done. Only the newest SEQTRACK_WINDOW
 * ids can be told apart: older ones count as not handed out.
 */
static void lost_runs(struct reasm *r, struct stream *s,
		      struct reasm_lost *out, uint32_t a, uint32_t b)
{
	uint32_t run = a, x = a, skipped;
	int in_run = 1;

	if (b - a >= SEQTRACK_WINDOW)
		x = b - SEQTRACK_WINDOW + 1;
	for (;; x++) {
		int done = seqtrack_query(&s->done, x) == SEQ_DUP;

		if (done && in_run) {
			out->record_first = run;
			out->record_last = x - 1;
			r->st.lost_records += x - run;
			r->st.lost_ranges++;
			r->ops.lost(r->arg, out);
			in_run = 0;
		} else if (!done && !in_run) {
			run = x;
			in_run = 1;
		}
		if (!done)
			seqtrack_see(&s->done, x, &skipped);
		if (x == b)
			break;
	}
	if (in_run) {
		out->record_first = run;
		out->record_last = b;
		r->st.lost_records += b - run + 1;
		r->st.lost_ranges++;
		r->ops.lost(r->arg, out);
	}
}

/*
 * A given-up range from the stream's gaptrack: the records in it are
 * finished for good (pending ones dropped, ids marked done) and handed
 * out as LOST ranges. Records already handed out (a record spanning
 * two lost ranges ends the first one's) are left out.
 */
static void stream_lost(void *arg, const struct gap_lost *l)
{
	struct stream *s = arg;
	struct reasm *r = s->owner;
	struct reasm_lost out = {
		.sender = &s->sender,
		.stream_id = s->stream_id,
		.seq_first = l->seq_first,
		.seq_last = l->seq_last,
		.record_first = l->first.rid,
		.record_last = l->last.rid,
		.has_record_first = l->first.state == GAP_EDGE_KNOWN,
		.has_record_last = l->last.state == GAP_EDGE_KNOWN,
		.reason = l->reason,
	};

	r->st.lost_datagrams += l->seq_last - l->seq_first + 1;
	if (out.has_record_first && out.has_record_last) {
		uint32_t a = out.record_first, b = out.record_last, n;

		while ((int32_t)(b - a) >= 0 &&
		       seqtrack_query(&s->done, a) == SEQ_DUP)
			a++;
		while ((int32_t)(b - a) >= 0 &&
		       seqtrack_query(&s->done, b) == SEQ_DUP)
			b--;
		/* Nothing of a record in it (a sender that packs oddly). */
		if ((int32_t)(b - a) < 0)
			return;
		n = b - a + 1;
		for (unsigned int i = 0; i < PENDING_BUCKETS; i++) {
			struct pending *p = s->pending[i];

			while (p) {
				struct pending *next = p->hnext;

				if (p->meta.record_id - a < n)
					pending_free(r, p);
				p = next;
			}
		}
		lost_runs(r, s, &out, a, b);
		return;
	}
	r->st.lost_open_ended++;
	r->st.lost_ranges++;
	r->ops.lost(r->arg, &out);
}

/* --------------------------------------------------------- sequencing */

struct nack_ctx {
	struct reasm *r;
	struct stream *s;
};

static void send_nack(void *arg, const struct wire_range *ranges,
		      unsigned int n)
{
	struct nack_ctx *c = arg;
	uint8_t buf[TLSTAP_MSG_HDR_LEN + TLSTAP_NACK_MAX_RANGES *
					 sizeof(struct tlstap_seq_range)];
	size_t len = wire_build_ranges(buf, TLSTAP_MSG_NACK, c->s->stream_id,
				       ranges, n);

	c->r->st.nacks_sent++;
	for (unsigned int i = 0; i < n; i++)
		c->r->st.nack_seqs += ranges[i].last - ranges[i].first + 1;
	c->r->ops.nack(c->r->arg, &c->s->sender, buf, len);
}

static void stream_due(struct stream *s, uint64_t when)
{
	if (!s->deadline || when < s->deadline)
		s->deadline = when;
}

/*
 * Before the window moves up to n + 1 (n is what moves it, known to be
 * new): holes that would leave the window are given up.
 */
static void before_advance(struct stream *s, uint32_t n)
{
	gaptrack_expire(&s->gaps, &s->seqs, n + 1);
}

/*
 * opened seqs up to last just became holes; the window holds room of
 * them (more were skipped: those left it at once, and the records
 * before the rest cannot be known).
 */
static void open_holes(struct stream *s, uint32_t last, uint32_t opened,
		       uint32_t room, uint64_t now)
{
	int clipped = opened > room;

	if (!opened)
		return;
	if (clipped)
		opened = room;
	gaptrack_open(&s->gaps, &s->seqs, last - opened + 1, last, clipped,
		      now);
	stream_due(s, now);
}

static enum reasm_verdict take_heartbeat(struct reasm *r,
					 const struct endpoint *sender,
					 const struct wire_msg *msg,
					 uint64_t now,
					 struct reasm_dgram_info *info)
{
	struct wire_heartbeat hb;
	struct stream *s;
	uint32_t opened, low;

	info->status = wire_check_heartbeat(msg, &hb);
	if (info->status != WIRE_OK)
		return REASM_INVALID;
	/*
	 * A stream not known yet starts after its highest: what came before
	 * may have been taken by another receiver (PROTOCOL.md 5.1).
	 */
	s = stream_get(r, sender, msg->stream_id, 1);
	if (!s)
		return REASM_INVALID;
	r->st.heartbeats_received++;
	if (!s->seqs.started) {
		stream_begin(r, s, NULL, hb.highest);
	} else if ((int32_t)(hb.highest - s->seqs.next) >= 0) {
		before_advance(s, hb.highest);
		seqtrack_advance(&s->seqs, hb.highest, &opened);
		open_holes(s, hb.highest, opened, SEQTRACK_WINDOW, now);
	}
	/* Older than oldest_seq: the sender cannot resend them, lost. */
	low = s->seqs.next - SEQTRACK_WINDOW;
	if ((int32_t)(hb.oldest - low) > 0)
		gaptrack_give_up(&s->gaps, &s->seqs, low, hb.oldest - 1,
				 GAP_REASON_GAP);
	return REASM_CONTROL;
}

static enum reasm_verdict take_gap(struct reasm *r,
				   const struct endpoint *sender,
				   const struct wire_msg *msg,
				   struct reasm_dgram_info *info)
{
	struct stream *s;

	info->status = wire_check_ranges(msg);
	if (info->status != WIRE_OK)
		return REASM_INVALID;
	s = stream_get(r, sender, msg->stream_id, 0);
	if (!s) {
		r->st.gaps_unknown_stream++;
		return REASM_UNSUPPORTED;
	}
	r->st.gaps_received++;
	for (unsigned int i = 0; i < msg->count; i++) {
		struct wire_range g = wire_get_range(msg, i);

		gaptrack_give_up(&s->gaps, &s->seqs, g.first, g.last,
				 GAP_REASON_GAP);
	}
	return REASM_CONTROL;
}

static enum reasm_verdict take_data(struct reasm *r,
				    const struct endpoint *sender,
				    const struct wire_msg *msg, uint64_t now,
				    struct reasm_dgram_info *info)
{
	struct gap_dgram_edges edges;
	struct wire_chunk ch;
	struct stream *s;
	uint32_t skipped;
	size_t pos = 0;
	unsigned int i = 0;

	info->status = wire_check_data(msg, r->cfg.max_msg_len);
	if (info->status != WIRE_OK)
		return REASM_INVALID;
	if (msg->flags & TLSTAP_MSG_F_RETRANSMIT)
		r->st.retransmitted++;
	/*
	 * A retransmission answers a NACK; a stream we do not know has sent
	 * none: someone else's (a receiver before this one), not a start.
	 */
	s = stream_get(r, sender, msg->stream_id,
		       !(msg->flags & TLSTAP_MSG_F_RETRANSMIT));
	if (!s && (msg->flags & TLSTAP_MSG_F_RETRANSMIT)) {
		r->st.before_start++;
		return REASM_BEFORE_START;
	}
	if (!s) {
		r->st.records_evicted += msg->count;
		return REASM_INVALID;
	}
	if (!s->seqs.started)
		stream_begin(r, s, msg, 0);
	/*
	 * From before the start: an original that was overtaken is ours (no
	 * receiver can have had it before us); a retransmission answers
	 * someone else's NACK.
	 */
	if ((msg->flags & TLSTAP_MSG_F_RETRANSMIT) &&
	    seqtrack_before_start(&s->seqs, msg->seq) &&
	    seqtrack_query(&s->seqs, msg->seq) == SEQ_LATE) {
		r->st.before_start++;
		return REASM_BEFORE_START;
	}
	if (seqtrack_query(&s->seqs, msg->seq) == SEQ_NEW)
		before_advance(s, msg->seq);
	info->seq_verdict = seqtrack_see(&s->seqs, msg->seq, &skipped);
	r->st.seq_gaps += skipped;
	switch (info->seq_verdict) {
	case SEQ_DUP:
		r->st.dup_datagrams++;
		return REASM_DUPLICATE;
	case SEQ_LATE:
		r->st.late_datagrams++;
		break;
	case SEQ_STALE:
		/* Cannot tell a duplicate: the record ids will. */
		r->st.stale_datagrams++;
		break;
	case SEQ_NEW:
		open_holes(s, msg->seq - 1, skipped, SEQTRACK_WINDOW - 1,
			   now);
		break;
	}
	memset(&edges, 0, sizeof(edges));
	while (wire_next_chunk(msg, &pos, &ch)) {
		if (!i++) {
			edges.first_rid = ch.meta.record_id;
			edges.first_starts = !ch.offset;
		}
		edges.last_rid = ch.meta.record_id;
		edges.last_ends = ch.offset + ch.len == ch.meta.record_len;
		take_chunk(r, s, &ch, msg->seq);
	}
	/* After the chunks: a LOST range it closes drops what they began. */
	if (info->seq_verdict != SEQ_STALE)
		gaptrack_arrived(&s->gaps, &s->seqs, msg->seq, &edges,
				 info->seq_verdict == SEQ_NEW,
				 msg->flags & TLSTAP_MSG_F_RETRANSMIT);
	return REASM_ACCEPTED;
}

/* Senders outside the allow-list cannot even fill the stream table. */
static int sender_allowed(const struct reasm *r, const struct endpoint *ep)
{
	if (!r->cfg.allow)
		return 1;
	for (unsigned int i = 0; i < r->cfg.nallow; i++)
		if (addr_prefix_match(&r->cfg.allow[i], ep))
			return 1;
	return 0;
}

enum reasm_verdict reasm_datagram(struct reasm *r,
				  const struct endpoint *sender,
				  const uint8_t *buf, size_t len,
				  uint64_t now_ns,
				  struct reasm_dgram_info *info)
{
	struct wire_msg msg;

	memset(info, 0, sizeof(*info));
	if (!sender_allowed(r, sender)) {
		r->st.refused++;
		info->verdict = REASM_REFUSED;
		return info->verdict;
	}
	r->st.datagrams++;
	r->st.bytes += len;
	info->status = wire_parse_msg(buf, len, &msg);
	if (info->status == WIRE_OK) {
		info->type = msg.type;
		info->flags = msg.flags;
		info->stream_id = msg.stream_id;
		info->seq = msg.seq;
		info->count = msg.count;
		switch (msg.type) {
		case TLSTAP_MSG_DATA:
			info->verdict = take_data(r, sender, &msg, now_ns,
						  info);
			break;
		case TLSTAP_MSG_HEARTBEAT:
			info->verdict = take_heartbeat(r, sender, &msg, now_ns,
						       info);
			break;
		case TLSTAP_MSG_GAP:
			info->verdict = take_gap(r, sender, &msg, info);
			break;
		default:
			r->st.unsupported++;
			info->verdict = REASM_UNSUPPORTED;
			return info->verdict;
		}
	} else {
		info->verdict = REASM_INVALID;
	}
	if (info->verdict == REASM_INVALID && info->status != WIRE_OK) {
		r->st.invalid++;
		r->st.invalid_by[info->status]++;
	}
	return info->verdict;
}

static uint64_t timer(struct reasm *r, uint64_t now_ns, uint64_t seen_ns)
{
	uint64_t next = 0;
	struct stream *s;

	TAILQ_FOREACH(s, &r->lru, lru) {
		if (s->deadline && s->deadline <= seen_ns) {
			struct nack_ctx c = { .r = r, .s = s };

			s->deadline = gaptrack_tick(&s->gaps, &s->seqs, now_ns,
						    seen_ns, send_nack, &c);
		}
		if (s->deadline && (!next || s->deadline < next))
			next = s->deadline;
	}
	return next;
}

uint64_t reasm_timer(struct reasm *r, uint64_t now_ns)
{
	return timer(r, now_ns, now_ns);
}

uint64_t reasm_timer_backlog(struct reasm *r, uint64_t now_ns,
			     uint64_t seen_ns)
{
	return timer(r, now_ns, seen_ns < now_ns ? seen_ns : now_ns);
}

void reasm_flush(struct reasm *r)
{
	struct stream *s;

	TAILQ_FOREACH(s, &r->lru, lru) {
		gaptrack_flush(&s->gaps, &s->seqs);
		s->deadline = 0;
	}
}

/* ------------------------------------------------------- state files */

/*
 * A record begun before the stream's start (its first chunk came before
 * start_seq, or in it at an offset): its head is not ours to ask for.
 */
static int pending_before_start(const struct stream *s,
				const struct pending *p)
{
	return s->has_start &&
	       ((int32_t)(p->seq_lo - s->start_seq) < 0 ||
		(p->seq_lo == s->start_seq && !p->have_first));
}

struct idranges {
	struct wire_range *r;
	unsigned int n, cap;
};

static int idranges_add(struct idranges *ir, uint32_t first, uint32_t last)
{
	if (ir->n == ir->cap) {
		unsigned int cap = ir->cap ? 2 * ir->cap : 16;
		struct wire_range *grown = realloc(ir->r, cap * sizeof(*grown));

		if (!grown)
			return -1;
		ir->r = grown;
		ir->cap = cap;
	}
	ir->r[ir->n].first = first;
	ir->r[ir->n].last = last;
	ir->n++;
	return 0;
}

/* Sorts ascending from base (serial order) and merges what touches. */
static void idranges_merge(struct idranges *ir, uint32_t base)
{
	unsigned int out = 0;

	/* Few ranges, nearly sorted already: insertion sort. */
	for (unsigned int i = 1; i < ir->n; i++) {
		struct wire_range v = ir->r[i];
		unsigned int j = i;

		while (j && ir->r[j - 1].first - base > v.first - base) {
			ir->r[j] = ir->r[j - 1];
			j--;
		}
		ir->r[j] = v;
	}
	for (unsigned int i = 0; i < ir->n; i++) {
		if (out && ir->r[i].first - base <= ir->r[out - 1].last - base + 1) {
			if (ir->r[i].last - base > ir->r[out - 1].last - base)
				ir->r[out - 1].last = ir->r[i].last;
			continue;
		}
		ir->r[out++] = ir->r[i];
	}
	ir->n = out;
}

struct granges {
	struct gap_range *r;
	unsigned int n, cap;
};

static int granges_add(struct granges *gr, const struct gap_range *g)
{
	if (gr->n == gr->cap) {
		unsigned int cap = gr->cap ? 2 * gr->cap : 16;
		struct gap_range *grown = realloc(gr->r, cap * sizeof(*grown));

		if (!grown)
			return -1;
		gr->r = grown;
		gr->cap = cap;
	}
	gr->r[gr->n++] = *g;
	return 0;
}

/*
 * Sorts ascending from base and merges ranges that overlap: the merged
 * range has the left edge of the one that starts first and the right edge
 * of the one that ends last, and is asked for again if any part was.
 */
static void granges_merge(struct granges *gr, uint32_t base)
{
	unsigned int out = 0;

	for (unsigned int i = 1; i < gr->n; i++) {
		struct gap_range v = gr->r[i];
		unsigned int j = i;

		while (j && gr->r[j - 1].first - base > v.first - base) {
			gr->r[j] = gr->r[j - 1];
			j--;
		}
		gr->r[j] = v;
	}
	for (unsigned int i = 0; i < gr->n; i++) {
		struct gap_range *prev = out ? &gr->r[out - 1] : NULL;

		if (prev && gr->r[i].first - base <= prev->last - base) {
			if (gr->r[i].last - base > prev->last - base) {
				prev->last = gr->r[i].last;
				prev->right = gr->r[i].right;
			}
			if (!gr->r[i].lost)
				prev->lost = 0;
			continue;
		}
		gr->r[out++] = gr->r[i];
	}
	gr->n = out;
}

/*
 * A stream as a state file keeps it: its ranges; what was taken but holds
 * records of ours not handed out yet (pending ones) is asked for again,
 * the seqs each of them came in, as missing ranges whose edges are those
 * records (records handed out in them come back as duplicates and are
 * dropped); the record ids not handed out. ss's arrays are allocated
 * (saved_free). 0, or -1 if memory is short.
 */
static int snapshot(const struct stream *s, struct reasm_saved_stream *ss)
{
	uint32_t base = s->seqs.next - SEQTRACK_WINDOW, first, last, from;
	struct idranges notdone = { 0 };
	struct granges ranges = { 0 };

	memset(ss, 0, sizeof(*ss));
	ss->sender = s->sender;
	ss->stream_id = s->stream_id;
	ss->seq_next = s->seqs.next;
	ss->top = s->gaps.top;
	ss->has_record_next = s->done.started;
	ss->record_next = s->done.next;
	for (unsigned int i = 0; i < s->gaps.n; i++)
		if (granges_add(&ranges, &s->gaps.r[i]))
			goto nomem;
	for (unsigned int b = 0; b < PENDING_BUCKETS; b++) {
		for (const struct pending *p = s->pending[b]; p; p = p->hnext) {
			struct gap_range g = {
				.first = p->seq_lo,
				.last = p->seq_hi,
				.left = { GAP_EDGE_KNOWN, p->meta.record_id },
				.right = { GAP_EDGE_KNOWN, p->meta.record_id },
			};

			if (pending_before_start(s, p))
				continue;
			/* Older than the window cannot be asked for. */
			if (g.first - base >= SEQTRACK_WINDOW)
				g.first = base;
			if (g.last - base >= SEQTRACK_WINDOW)
				continue;
			if (granges_add(&ranges, &g))
				goto nomem;
			/* Not handed out: below the highest that was, in the window. */
			if (s->done.started &&
			    seqtrack_query(&s->done, p->meta.record_id) ==
				    SEQ_LATE &&
			    idranges_add(&notdone, p->meta.record_id,
					 p->meta.record_id))
				goto nomem;
		}
	}
	granges_merge(&ranges, base);
	if (s->done.started) {
		from = s->done.next - SEQTRACK_WINDOW;
		while (seqtrack_next_hole(&s->done, from, &first, &last)) {
			if (idranges_add(&notdone, first, last))
				goto nomem;
			from = last + 1;
		}
		idranges_merge(&notdone, s->done.next - SEQTRACK_WINDOW);
	}
	ss->ranges = ranges.r;
	ss->nranges = ranges.n;
	ss->notdone = notdone.r;
	ss->nnotdone = notdone.n;
	return 0;
nomem:
	free(ranges.r);
	free(notdone.r);
	return -1;
}

int reasm_save(const struct reasm *r, reasm_save_fn fn, void *arg)
{
	const struct stream *s;
	const struct evicted *e;
	int rc;

	TAILQ_FOREACH(s, &r->lru, lru) {
		struct reasm_saved_stream ss;

		if (!s->seqs.started)
			continue;
		if (snapshot(s, &ss))
			return -1;
		rc = fn(arg, &ss);
		saved_free(&ss);
		if (rc)
			return rc;
	}
	TAILQ_FOREACH(e, &r->evicted_lru, lru) {
		rc = fn(arg, &e->ss);
		if (rc)
			return rc;
	}
	return 0;
}

/* A copy with arrays of its own. 0, or -1 if memory is short. */
static int saved_copy(struct reasm_saved_stream *dst,
		      const struct reasm_saved_stream *src)
{
	*dst = *src;
	dst->ranges = NULL;
	dst->notdone = NULL;
	if (src->nranges) {
		dst->ranges = malloc(src->nranges * sizeof(*dst->ranges));
		if (!dst->ranges)
			return -1;
		memcpy(dst->ranges, src->ranges,
		       src->nranges * sizeof(*dst->ranges));
	}
	if (src->nnotdone) {
		dst->notdone = malloc(src->nnotdone * sizeof(*dst->notdone));
		if (!dst->notdone) {
			free(dst->ranges);
			return -1;
		}
		memcpy(dst->notdone, src->notdone,
		       src->nnotdone * sizeof(*dst->notdone));
	}
	return 0;
}

int reasm_restore(struct reasm *r, const struct reasm_saved_stream *ss)
{
	struct reasm_saved_stream copy;
	struct stream *s;

	if (ss->evicted)
		return saved_copy(&copy, ss) ? -1 : evicted_put(r, &copy, 1);
	/* Saved most recent first: each one after the others. */
	s = stream_new(r, &ss->sender, ss->stream_id, 1);
	if (!s || stream_load(s, ss))
		return -1;
	r->st.streams_restored++;
	announce_loaded(r, s, ss, REASM_START_RESTORED);
	/* More than fit now (--max-streams lowered): the oldest go. */
	while (r->nstreams > r->cfg.max_streams)
		stream_evict(r, TAILQ_LAST(&r->lru, stream_list));
	return 0;
}

int reasm_changed(struct reasm *r)
{
	unsigned long long gen = r->st.datagrams + r->st.nacks_sent +
				 r->st.lost_datagrams + r->st.streams_evicted;

	if (gen == r->saved_gen)
		return 0;
	r->saved_gen = gen;
	return 1;
}

void reasm_foreach_stream(const struct reasm *r, reasm_report_fn fn,
			  void *arg)
{
	const struct stream *s;

	TAILQ_FOREACH(s, &r->lru, lru) {
		struct reasm_stream_report rep = {
			.sender = &s->sender,
			.stream_id = s->stream_id,
			.seqs = &s->seqs,
			.records = &s->done,
			.pending_records = s->npending,
			.missing_ranges = gaptrack_waiting_ranges(&s->gaps),
		};

		fn(arg, &rep);
	}
}

void reasm_free(struct reasm *r)
{
	if (!r)
		return;
	while (!TAILQ_EMPTY(&r->lru))
		stream_free(r, TAILQ_FIRST(&r->lru));
	while (!TAILQ_EMPTY(&r->evicted_lru))
		evicted_free(r, TAILQ_FIRST(&r->evicted_lru));
	free(r);
}

static const char *verdict_name(enum reasm_verdict v)
{
	switch (v) {
	case REASM_ACCEPTED:
		return "accepted";
	case REASM_DUPLICATE:
		return "duplicate";
	case REASM_INVALID:
		return "invalid";
	case REASM_CONTROL:
		return "control";
	case REASM_UNSUPPORTED:
		return "unsupported";
	case REASM_REFUSED:
		return "refused";
	case REASM_BEFORE_START:
		return "before_start";
	}
	return "?";
}

static const char *seq_verdict_name(enum seq_verdict v)
{
	switch (v) {
	case SEQ_NEW:
		return "new";
	case SEQ_LATE:
		return "late";
	case SEQ_DUP:
		return "dup";
	case SEQ_STALE:
		return "stale";
	}
	return "?";
}

void reasm_dgram_info_json(FILE *f, const struct reasm_dgram_info *info)
{
	fprintf(f, ",\"verdict\":\"%s\",\"status\":\"%s\"",
		verdict_name(info->verdict), wire_status_name(info->status));
	if (info->verdict != REASM_INVALID && info->verdict != REASM_REFUSED)
		fprintf(f, ",\"type\":%u,\"flags\":%u,\"stream\":%u,\"seq\":%u,\"count\":%u,\"seq_verdict\":\"%s\"",
			info->type, info->flags, info->stream_id, info->seq,
			info->count, seq_verdict_name(info->seq_verdict));
}
