// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The capture ring's consumer walk (shared/capring.c, the source tlstap.ko
 * and tlstap-fwd share) over arbitrary ring bytes and positions, with
 * the producer writing into the ring while the walk runs (a byte of the
 * data area or the producer position changed at every frame handed on).
 * Either take() answers as the input says (taken, later, refused), or
 * tlstap-fwd's own take (fwd/fwdring.c: record parsing, loss
 * reports for frames never committed or too long) runs.
 *
 * Checks: every frame handed on lies inside the data area, after the
 * consumer position and before the producer position the walk started
 * from, in order, its record header's msg_len its frame's; the walk
 * hands on at most max frames and moves the consumer position by whole
 * frames, never past that producer position; tlstap-fwd's take hands on
 * only well-formed records (a loss report for what it could not take)
 * and a refused ring stays refused. ASan sees any read outside the data
 * area (it is a heap block of exactly its size); libFuzzer's timeout, a
 * walk that would not end.
 *
 * Input: u8 size (data area 64 << (size % 11) bytes), u32 consumer
 * position (rounded down to 8), u32 producer position, u8 max frames
 * (0: unbounded), u8 mode (bit 0: final, bit 1: tlstap-fwd's take, bit
 * 2: max_record 100 instead of 65536), u8 count of take() answers, that
 * many u8 answers (% 3: taken, later, refused), u8 count of writes, that
 * many (u16 offset, u8 value; offset 0xffff: the producer position gets
 * the next write's 4 bytes), then the data area's bytes (zeros after
 * the input's end).
 */
#include <endian.h>
#include <errno.h>

#include "capring.h"
#include "fuzz.h"
#include "fwdring.h"

#define MAX_ANSWERS	32
#define MAX_WRITES	32

struct write {
	uint16_t off;
	uint8_t val;
};

struct walk {
	uint8_t *data;
	uint32_t data_size;
	uint32_t *prod_pos;		/* the shared word the producer writes */
	uint32_t cons0, prod0;		/* where the walk started */
	const uint32_t *cons;		/* the walk's position, as it goes */
	uint32_t last;			/* end of the last frame handed on */
	unsigned int taken, calls;
	uint8_t answers[MAX_ANSWERS];
	unsigned int nanswers;
	struct write writes[MAX_WRITES];
	unsigned int nwrites, written;
	uint32_t max_record;
};

/* The producer writes while the consumer walks. */
static void producer_writes(struct walk *w)
{
	struct write *x;

	if (w->written >= w->nwrites)
		return;
	x = &w->writes[w->written++];
	if (x->off == 0xffff) {
		*w->prod_pos = (uint32_t)x->val * 0x01010101u;
		return;
	}
	w->data[x->off % w->data_size] = x->val;
}

/* A frame handed on: where it lies, whatever the producer wrote. */
static void check_frame(struct walk *w, const uint8_t *msg, uint32_t msg_len,
			uint32_t rec_msg_len)
{
	uint32_t pos = *w->cons, off = pos & (w->data_size - 1);
	const uint8_t *frame = w->data + off;
	uint32_t end = pos - w->cons0 + TLSTAP_CAPRING_FRAME_HDR_LEN +
		       TLSTAP_RECORD_HDR_LEN + msg_len;
	uint32_t sum = 0;

	CHECK(msg == frame + TLSTAP_CAPRING_FRAME_HDR_LEN + TLSTAP_RECORD_HDR_LEN,
	      "frame at offset %u, plaintext at %td", off, msg - w->data);
	CHECK(off + TLSTAP_CAPRING_FRAME_HDR_LEN + TLSTAP_RECORD_HDR_LEN +
	      (uint64_t)msg_len <= w->data_size,
	      "frame at %u of %u bytes past the data area's end", off, msg_len);
	CHECK(end <= w->prod0 - w->cons0,
	      "frame ends %u bytes after the consumer position, producer %u",
	      end, w->prod0 - w->cons0);
	CHECK(pos - w->cons0 >= w->last, "frames out of order");
	CHECK(rec_msg_len == msg_len, "record msg_len %u, frame's %u",
	      rec_msg_len, msg_len);
	w->last = end;
	for (uint32_t i = 0; i < msg_len; i++)
		sum += msg[i];
	(void)sum;
}

static int take_answer(void *arg, const struct capring_frame *f)
{
	struct walk *w = arg;
	uint8_t answer = w->calls < w->nanswers ? w->answers[w->calls] : 0;

	w->calls++;
	check_frame(w, f->msg, f->msg_len, be32toh(f->rec.msg_len));
	producer_writes(w);
	switch (answer % 3) {
	case 0:
		w->taken++;
		return CAPRING_TAKEN;
	case 1:
		return CAPRING_LATER;
	default:
		return -EINVAL;
	}
}

/* tlstap-fwd's sink: only whole, well-formed records come out. */
static void sink_record(void *arg, const struct fwdring *ring,
			const struct record_info *r)
{
	struct walk *w = arg;
	struct record_info again;

	(void)ring;
	w->taken++;
	CHECK(r->len == TLSTAP_RECORD_HDR_LEN + r->msg_len,
	      "len %u, msg_len %u", r->len, r->msg_len);
	CHECK(r->msg_len <= w->max_record, "msg_len %u over %u", r->msg_len,
	      w->max_record);
	CHECK(record_parse(r->bytes, r->len, w->max_record, &again) == RECORD_OK &&
	      again.len == r->len, "a record handed on does not parse");
	producer_writes(w);
}

static void run_fwdring(struct walk *w, struct capring_view *v, uint32_t max,
			bool final)
{
	struct tlstap_capring_consumer line = { 0 };
	struct fwdring_counts counts = { 0 };
	struct fwdring ring = {
		.memfd = -1,
		.view = *v,
		.line = &line,
		.cons = w->cons0,
	};
	struct fwdring_sink sink = {
		.record = sink_record,
		.ctx = w,
		.max_record = w->max_record,
		.counts = &counts,
	};
	int n;

	sink.buf = malloc(FWDRING_BUF_LEN(w->max_record));
	CHECK(sink.buf, "malloc");
	w->cons = &ring.cons;
	n = fwdring_drain(&ring, max, final, &sink);
	CHECK(n == (int)w->taken || (n == -1 && ring.status == EBADMSG),
	      "drain says %d, %u records handed on", n, w->taken);
	CHECK(ring.cons - w->cons0 <= w->prod0 - w->cons0,
	      "consumer position %u past the producer's %u", ring.cons, w->prod0);
	CHECK(line.cons_pos == ring.cons || ring.cons == w->cons0,
	      "consumer position not written out");
	CHECK(counts.records == w->taken, "counted %llu, handed on %u",
	      counts.records, w->taken);
	if (n < 0) {
		CHECK(line.status == EBADMSG && ring.why, "ended without a reason");
		CHECK(fwdring_drain(&ring, max, final, &sink) == 0,
		      "an ended ring drained again");
	}
	free(sink.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk w = { 0 };
	struct capring_view v;
	struct input in;
	uint32_t prod_pos, cons, max;
	uint8_t mode;
	const char *why = NULL;
	int n;

	input_init(&in, data, size);
	w.data_size = 64u << (input_u8(&in) % 11);
	w.cons0 = input_u32(&in) & ~(uint32_t)(TLSTAP_CAPRING_ALIGN - 1);
	prod_pos = input_u32(&in);
	max = input_u8(&in);
	mode = input_u8(&in);
	w.nanswers = input_u8(&in) % (MAX_ANSWERS + 1);
	for (unsigned int i = 0; i < w.nanswers; i++)
		w.answers[i] = input_u8(&in);
	w.nwrites = input_u8(&in) % (MAX_WRITES + 1);
	for (unsigned int i = 0; i < w.nwrites; i++) {
		w.writes[i].off = input_u16(&in);
		w.writes[i].val = input_u8(&in);
	}
	w.max_record = mode & 4 ? 100 : TLSTAP_DEFAULT_MAX_RECORD;
	if (!max)
		max = UINT32_MAX;

	/* Their own heap blocks: ASan sees a read past either. */
	w.data = malloc(w.data_size);
	w.prod_pos = malloc(sizeof(*w.prod_pos));
	CHECK(w.data && w.prod_pos, "malloc");
	input_bytes(&in, w.data, w.data_size);
	*w.prod_pos = prod_pos;
	w.prod0 = prod_pos;
	v.data = w.data;
	v.data_size = w.data_size;
	v.prod_pos = w.prod_pos;

	if (mode & 2) {
		run_fwdring(&w, &v, max, mode & 1);
	} else {
		cons = w.cons0;
		w.cons = &cons;
		n = capring_drain(&v, &cons, max, mode & 1, take_answer, &w, &why);
		CHECK(n == (int)w.taken || (n == -EBADMSG && why),
		      "drain says %d, %u taken", n, w.taken);
		CHECK(n < 0 || (uint32_t)n <= max, "%d frames, max %u", n, max);
		CHECK(cons - w.cons0 <= w.prod0 - w.cons0 &&
		      (cons - w.cons0) % TLSTAP_CAPRING_ALIGN == 0,
		      "consumer position %u from %u, producer %u", cons,
		      w.cons0, w.prod0);
		CHECK(w.calls <= w.data_size / TLSTAP_CAPRING_FRAME_HDR_LEN,
		      "%u frames handed on from %u bytes", w.calls, w.data_size);
	}
	free(w.data);
	free(w.prod_pos);
	return 0;
}
