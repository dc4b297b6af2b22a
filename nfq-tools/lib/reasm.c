// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Streams live in a small hash table with an LRU list; incomplete records
 * ("pending") in a per-stream hash by record id and on one global age
 * list, so that the memory bound evicts the oldest first. A record is
 * emitted once its bytes are all covered, every chunk agreed on its
 * length and flow, and the bytes parse as a record of that flow.
 */
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

#define STREAM_BUCKETS	256
#define PENDING_BUCKETS	256

struct range {
	uint32_t start, end;	/* [start, end) */
};

struct stream;

struct pending {
	struct pending *hnext;			/* stream's hash chain */
	struct pending *age_prev, *age_next;	/* global, oldest first */
	struct stream *stream;
	struct wire_chunk_meta meta;		/* from its first chunk */
	uint32_t received;
	uint32_t seq_first;
	int have_first;
	struct range *ranges;			/* sorted, disjoint */
	unsigned int nranges, cap_ranges;
	uint8_t *data;				/* record_len bytes */
};

struct stream {
	struct stream *hnext;
	struct stream *lru_prev, *lru_next;	/* most recent first */
	struct endpoint sender;
	uint32_t stream_id;
	struct seqtrack seqs;
	struct seqtrack done;			/* completed record ids */
	struct pending *pending[PENDING_BUCKETS];
	unsigned int npending;
};

struct reasm {
	struct reasm_config cfg;
	reasm_emit_fn emit;
	void *arg;
	struct reasm_stats st;
	struct stream *streams[STREAM_BUCKETS];
	struct stream *lru_head, *lru_tail;
	unsigned int nstreams;
	struct pending *age_head, *age_tail;
};

struct reasm *reasm_new(const struct reasm_config *cfg, reasm_emit_fn emit,
			void *arg)
{
	struct reasm *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cfg = *cfg;
	r->emit = emit;
	r->arg = arg;
	return r;
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
	if (p->age_prev)
		p->age_prev->age_next = p->age_next;
	else
		r->age_head = p->age_next;
	if (p->age_next)
		p->age_next->age_prev = p->age_prev;
	else
		r->age_tail = p->age_prev;
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
				   const struct wire_chunk_meta *meta)
{
	struct pending *p;

	/* Make room: the oldest incomplete records go first. */
	while (r->age_head &&
	       r->st.pending_bytes + meta->record_len > r->cfg.max_pending_bytes) {
		r->st.records_evicted++;
		pending_free(r, r->age_head);
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
	p->hnext = s->pending[pending_hash(meta->record_id)];
	s->pending[pending_hash(meta->record_id)] = p;
	s->npending++;
	p->age_prev = r->age_tail;
	if (r->age_tail)
		r->age_tail->age_next = p;
	else
		r->age_head = p;
	r->age_tail = p;
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

static void lru_unlink(struct reasm *r, struct stream *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		r->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		r->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void lru_push_front(struct reasm *r, struct stream *s)
{
	s->lru_next = r->lru_head;
	if (r->lru_head)
		r->lru_head->lru_prev = s;
	else
		r->lru_tail = s;
	r->lru_head = s;
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
	lru_unlink(r, s);
	r->nstreams--;
	free(s);
}

static struct stream *stream_get(struct reasm *r, const struct endpoint *ep,
				 uint32_t id)
{
	unsigned int b = stream_hash(ep, id);
	struct stream *s;

	for (s = r->streams[b]; s; s = s->hnext) {
		if (s->stream_id == id && endpoint_equal(&s->sender, ep)) {
			lru_unlink(r, s);
			lru_push_front(r, s);
			return s;
		}
	}
	if (r->nstreams >= r->cfg.max_streams) {
		r->st.streams_evicted++;
		stream_free(r, r->lru_tail);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->sender = *ep;
	s->stream_id = id;
	seqtrack_init(&s->seqs);
	seqtrack_init(&s->done);
	s->hnext = r->streams[b];
	r->streams[b] = s;
	lru_push_front(r, s);
	r->nstreams++;
	r->st.streams++;
	return s;
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
	rr.rec = &info;
	r->st.records++;
	r->st.record_bytes += meta->record_len;
	if (record_is_loss_report(&info))
		r->st.loss_reports++;
	r->emit(r->arg, &rr);
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
		p = pending_new(r, s, &ch->meta);
		if (!p) {
			r->st.records_evicted++;
			return;
		}
	}
	if (ch->meta.flags & TLSTAP_CHUNK_F_ABORTED) {
		uint32_t skipped;

		seqtrack_see(&s->done, ch->meta.record_id, &skipped);
		r->st.records_aborted++;
		pending_free(r, p);
		return;
	}
	/*
	 * Chunks that disagree on the record (length, flow, bytes sent
	 * twice) make all of it untrustworthy: it is dropped at once, and
	 * its later chunks count as duplicates.
	 */
	if (ch->meta.record_len != p->meta.record_len ||
	    !flow_equal(&ch->meta.flow, &p->meta.flow) ||
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

enum reasm_verdict reasm_datagram(struct reasm *r,
				  const struct endpoint *sender,
				  const uint8_t *buf, size_t len,
				  struct reasm_dgram_info *info)
{
	struct wire_msg msg;
	struct wire_chunk ch;
	struct stream *s;
	uint32_t skipped;
	size_t pos = 0;

	memset(info, 0, sizeof(*info));
	r->st.datagrams++;
	r->st.bytes += len;
	info->status = wire_parse_msg(buf, len, &msg);
	if (info->status == WIRE_OK) {
		info->type = msg.type;
		info->flags = msg.flags;
		info->stream_id = msg.stream_id;
		info->seq = msg.seq;
		info->count = msg.count;
		if (msg.type != TLSTAP_MSG_DATA) {
			r->st.unsupported++;
			info->verdict = REASM_UNSUPPORTED;
			return info->verdict;
		}
		info->status = wire_check_data(&msg, r->cfg.max_msg_len);
	}
	if (info->status != WIRE_OK) {
		r->st.invalid++;
		r->st.invalid_by[info->status]++;
		info->verdict = REASM_INVALID;
		return info->verdict;
	}

	s = stream_get(r, sender, msg.stream_id);
	if (!s) {
		r->st.records_evicted += msg.count;
		info->verdict = REASM_INVALID;
		return info->verdict;
	}
	if (msg.flags & TLSTAP_MSG_F_RETRANSMIT)
		r->st.retransmitted++;
	info->seq_verdict = seqtrack_see(&s->seqs, msg.seq, &skipped);
	r->st.seq_gaps += skipped;
	switch (info->seq_verdict) {
	case SEQ_DUP:
		r->st.dup_datagrams++;
		info->verdict = REASM_DUPLICATE;
		return info->verdict;
	case SEQ_LATE:
		r->st.late_datagrams++;
		break;
	case SEQ_STALE:
		/* Cannot tell a duplicate: the record ids will. */
		r->st.stale_datagrams++;
		break;
	case SEQ_NEW:
		break;
	}
	while (wire_next_chunk(&msg, &pos, &ch))
		take_chunk(r, s, &ch, msg.seq);
	info->verdict = REASM_ACCEPTED;
	return info->verdict;
}

void reasm_foreach_stream(const struct reasm *r, reasm_report_fn fn,
			  void *arg)
{
	for (const struct stream *s = r->lru_head; s; s = s->lru_next) {
		struct reasm_stream_report rep = {
			.sender = &s->sender,
			.stream_id = s->stream_id,
			.seqs = &s->seqs,
			.records = &s->done,
			.pending_records = s->npending,
		};

		fn(arg, &rep);
	}
}

void reasm_free(struct reasm *r)
{
	if (!r)
		return;
	while (r->lru_head)
		stream_free(r, r->lru_head);
	free(r);
}
