// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Steering and records: the flow-hash table over the targets, and each
 * record, parsed by shared/record.c's rules, chunked into its target's
 * datagrams.
 */
#include "fwd.h"

void setup_steering(struct fwd *f)
{
	struct steer_target_spec specs[TLSTAP_MAX_TARGETS];
	unsigned int order[TLSTAP_MAX_TARGETS];
	char err[256];

	/* Named in the start line. */
	if (!f->opt.hash_key_given &&
	    getrandom(f->opt.hash_key, sizeof(f->opt.hash_key), 0) !=
	    (ssize_t)sizeof(f->opt.hash_key))
		die("getrandom: %s", strerror(errno));
	if (steer_hasher_init(&f->hasher, f->opt.hash_key, err, sizeof(err)))
		die("%s", err);
	for (unsigned int i = 0; i < f->opt.ntargets; i++) {
		steer_target_key(&specs[i].key, f->opt.target_ep[i].family,
				 f->opt.target_ep[i].addr,
				 htobe16(f->opt.target_ep[i].port));
		specs[i].weight = f->opt.target_weight[i];
	}
	if (steer_sort_targets(specs, order, f->opt.ntargets, err, sizeof(err)))
		die("--target: %s", err);
	if (steer_table_build(&f->table, &f->hasher, specs, f->opt.ntargets,
			      err, sizeof(err)))
		die("%s", err);
	f->ntargets = f->opt.ntargets;
	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		t->ep = f->opt.target_ep[order[i]];
		t->weight = f->opt.target_weight[order[i]];
		t->fd = -1;
		endpoint_format(&t->ep, t->name, sizeof(t->name));
	}
}

static void print_target(struct fwd *f, const struct record_info *r,
			 uint64_t hash, unsigned int idx)
{
	char src[INET6_ADDRSTRLEN] = "-", dst[INET6_ADDRSTRLEN] = "-";

	if (r->flow.family != TLSTAP_FAMILY_NONE) {
		addr_format(r->flow.family, r->flow.saddr, src, sizeof(src));
		addr_format(r->flow.family, r->flow.daddr, dst, sizeof(dst));
	}
	printf("target=%u addr=%s hash=%016llx bucket=%u family=%u dir=%s src=%s sport=%u dst=%s dport=%u conn_id=%llu len=%u\n",
	       idx, f->targets[idx].name, (unsigned long long)hash,
	       steer_bucket(hash), r->flow.family,
	       r->flow.dir == TLSTAP_DIR_READ ? "read" : "write", src,
	       r->flow.sport, dst, r->flow.dport,
	       (unsigned long long)r->conn_id, r->msg_len);
}

/* A writer the input tells nothing about (a FIFO, stdin). */
const struct ucred writer_unknown = {
	.pid = 0,
	.uid = TLSTAP_WRITER_UID_UNKNOWN,
	.gid = (gid_t)-1,
};

/*
 * Sends record r, stamped with its writer as this host's kernel told it
 * (pid 0: not in our pid namespace or unknown; uid
 * TLSTAP_WRITER_UID_UNKNOWN: unknown; &writer_unknown: both unknown).
 */
void forward_record(struct fwd *f, const struct record_info *r,
		    const struct ucred *writer)
{
	struct wire_chunk_meta m;
	struct target *t;
	uint64_t hash;
	unsigned int idx;

	if (steer_flow_hash(&f->hasher, &r->flow, r->conn_id, &hash))
		die("internal error: SipHash failed");
	idx = steer_lookup(&f->table, hash);
	t = &f->targets[idx];
	f->st.records++;
	f->st.record_bytes += r->len;
	t->st.records++;
	t->st.record_bytes += r->len;
	if (record_is_loss_report(r)) {
		f->st.loss_reports++;
		t->st.loss_reports++;
	}
	if (f->opt.print_target) {
		print_target(f, r, hash, idx);
		return;
	}
	m.record_id = t->ring.next_record_id++;
	m.record_len = r->len;
	m.flow = r->flow;
	m.flags = 0;
	m.writer_pid = writer->pid > 0 ? (uint32_t)writer->pid : 0;
	m.writer_uid = writer->uid;
	pack_piece(f, t, &m, 0, r->bytes, r->len);
	if (txring_unsent(&t->ring) >= SEND_AT_DGRAMS)
		target_send(f, t);
}

void report_malformed(struct fwd *f, enum record_status st,
		      size_t discarded, const char *where)
{
	f->st.malformed[st]++;
	f->st.discarded_bytes += discarded;
	ratelog(&f->log, "malformed record (%s) %s: %zu bytes discarded",
		record_status_name(st), where, discarded);
}

/* A message of whole records (Unix datagram or seqpacket) from writer. */
void process_message(struct fwd *f, const uint8_t *buf, size_t len,
		     int truncated, const struct ucred *writer)
{
	size_t pos = 0;

	f->st.input_messages++;
	f->st.input_bytes += len;
	if (truncated)
		f->st.oversized_messages++;
	while (pos < len) {
		struct record_info r;
		enum record_status st = record_parse(buf + pos, len - pos,
						     f->opt.max_record, &r);

		if (st != RECORD_OK) {
			/*
			 * Its length cannot be trusted, so whatever follows
			 * in this message goes too; other messages do not.
			 */
			report_malformed(f, st, len - pos,
					 truncated ? "in an oversized message"
						   : "in a message");
			return;
		}
		forward_record(f, &r, writer);
		pos += r.len;
	}
}

/* Byte stream: 0, or -1 when framing is lost (malformed header). */
int process_stream(struct fwd *f)
{
	size_t pos = 0;
	int ret = 0;

	while (pos < f->stream_len) {
		struct record_info r;
		enum record_status st = record_parse(f->stream_buf + pos,
						     f->stream_len - pos,
						     f->opt.max_record, &r);

		if (st == RECORD_SHORT)
			break;
		if (st != RECORD_OK) {
			char where[96];

			snprintf(where, sizeof(where),
				 "at stream offset %llu; the stream cannot be resynchronised",
				 f->stream_offset + pos);
			report_malformed(f, st, f->stream_len - pos, where);
			pos = f->stream_len;
			ret = -1;
			break;
		}
		forward_record(f, &r, &writer_unknown);
		pos += r.len;
	}
	memmove(f->stream_buf, f->stream_buf + pos, f->stream_len - pos);
	f->stream_len -= pos;
	f->stream_offset += pos;
	return ret;
}
