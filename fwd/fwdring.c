// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fwdring.h"

static size_t page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (size_t)page : 4096;
}

size_t fwdring_bytes(uint32_t data_size)
{
	return 2 * page_size() + data_size;
}

void fwdring_free(struct fwdring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	if (r->memfd >= 0)
		close(r->memfd);
	r->map = NULL;
	r->memfd = -1;
}

int fwdring_create(struct fwdring *r, uint32_t data_size, uint32_t max_record,
		   uint32_t pid, uint32_t uid, bool idle)
{
	size_t page = page_size();
	struct tlstap_capring_desc *d;
	int err;

	memset(r, 0, sizeof(*r));
	r->memfd = -1;
	if (!capring_size_valid(data_size))
		return EINVAL;
	r->map_len = fwdring_bytes(data_size);
	r->memfd = memfd_create("tlstap-capring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->memfd < 0 || ftruncate(r->memfd, (off_t)r->map_len))
		goto fail;
	/* Its size fixed for good before anyone else holds it. */
	if (fcntl(r->memfd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		goto fail;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      r->memfd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		goto fail;
	}
	d = (struct tlstap_capring_desc *)r->map;
	d->magic = TLSTAP_CAPRING_MAGIC;
	d->version = TLSTAP_CAPRING_VERSION;
	d->desc_len = TLSTAP_CAPRING_DESC_LEN;
	d->page_size = (uint32_t)page;
	d->cons_off = TLSTAP_CAPRING_CONS_OFF;
	d->prod_off = (uint32_t)page;
	d->data_off = 2 * (uint32_t)page;
	d->data_size = data_size;
	d->creator_pid = pid;
	d->creator_uid = uid;
	r->line = (struct tlstap_capring_consumer *)
		  (r->map + TLSTAP_CAPRING_CONS_OFF);
	r->line->max_msg_len = max_record;
	r->flags = idle ? TLSTAP_CAPRING_F_NEED_WAKEUP : 0;
	r->line->flags = r->flags;
	r->view.data = r->map + 2 * page;
	r->view.data_size = data_size;
	r->view.prod_pos = (const uint32_t *)(r->map + page);
	r->prod_flags = (const uint32_t *)(r->map + page +
		offsetof(struct tlstap_capring_producer, flags));
	r->pid = pid;
	r->uid = uid;
	return 0;
fail:
	err = errno;
	fwdring_free(r);
	return err;
}

struct take_ctx {
	const struct fwdring *ring;
	const struct fwdring_sink *sink;
	enum record_status bad;
};

/*
 * One frame the walk checked: its record parsed from the copy (header
 * copied by the walk, plaintext copied here once, beside it), or, never
 * committed or too long, its loss report.
 */
static int take(void *arg, const struct capring_frame *f)
{
	struct take_ctx *c = arg;
	const struct fwdring_sink *s = c->sink;
	struct tlstap_record loss;
	struct record_info r;
	enum record_status st;
	uint64_t dropped;

	if (f->committed && f->msg_len <= s->max_record) {
		memcpy(s->buf, &f->rec, TLSTAP_RECORD_HDR_LEN);
		memcpy(s->buf + TLSTAP_RECORD_HDR_LEN, f->msg, f->msg_len);
		st = record_parse(s->buf, TLSTAP_RECORD_HDR_LEN + f->msg_len,
				  s->max_record, &r);
	} else {
		/* PROTOCOL.md 7.1: the header, msg_len 0, its bytes dropped. */
		loss = f->rec;
		dropped = be64toh(f->rec.dropped);
		dropped = dropped + f->msg_len < dropped ? UINT64_MAX :
			  dropped + f->msg_len;
		loss.msg_len = 0;
		loss.dropped = htobe64(dropped);
		memcpy(s->buf, &loss, sizeof(loss));
		st = record_parse(s->buf, sizeof(loss), s->max_record, &r);
	}
	if (st != RECORD_OK) {
		c->bad = st;
		return -EINVAL;
	}
	if (!f->committed) {
		s->counts->abandoned++;
	} else if (f->msg_len > s->max_record) {
		s->counts->too_long++;
		s->counts->too_long_bytes += f->msg_len;
	}
	s->counts->records++;
	s->record(s->ctx, c->ring, &r);
	return CAPRING_TAKEN;
}

int fwdring_drain(struct fwdring *r, uint32_t max, bool final,
		  const struct fwdring_sink *s)
{
	struct take_ctx c = { .ring = r, .sink = s, .bad = RECORD_OK };
	uint32_t cons = r->cons;
	int n;

	if (r->status)
		return 0;
	n = capring_drain(&r->view, &r->cons, max, final, take, &c, &r->why);
	/* The frames before a bad one were taken: their room is free. */
	if (r->cons != cons)
		capring_store_release(&r->line->cons_pos, r->cons);
	if (n >= 0)
		return n;
	r->status = EBADMSG;
	r->bad = c.bad;
	capring_write_once(r->line->status, EBADMSG);
	return -1;
}

bool fwdring_waiting(const struct fwdring *r)
{
	/* The cons_pos store before the flag load (PROTOCOL.md 7.2). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return capring_read_once(*r->prod_flags) & TLSTAP_CAPRING_PF_WAITING;
}

void fwdring_set_idle(struct fwdring *r, bool idle)
{
	r->flags = idle ? TLSTAP_CAPRING_F_NEED_WAKEUP : 0;
	if (idle)
		capring_store_mb(&r->line->flags, r->flags);
	else
		capring_write_once(r->line->flags, r->flags);
}
