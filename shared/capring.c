// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The consumer's walk over a capture ring. The producer may write any
 * byte of the ring at any time, so nothing it wrote is read twice: the
 * producer position is read once per walk, each frame header once, each
 * record header copied out once, and each is checked against what the
 * consumer knows (its own position and data size) before it is used. A
 * frame that breaks a rule ends the walk with an error; nothing outside
 * the data area is ever read, and the walk ends after at most max frames
 * or data_size bytes.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/string.h>
#include <asm/byteorder.h>
#else
#include <endian.h>
#include <errno.h>
#include <string.h>
#define be32_to_cpu(x)	be32toh(x)
#endif

#include "capring.h"

static int broken(const char **why, const char *rule)
{
	*why = rule;
	return -EBADMSG;
}

int capring_drain(const struct capring_view *v, __u32 *cons, __u32 max,
		  bool final, capring_take_fn take, void *ctx,
		  const char **why)
{
	__u32 prod = capring_load_acquire(v->prod_pos);
	__u32 mask = v->data_size - 1;
	__u32 n = 0;

	if ((__s32)(prod - *cons) < 0 || prod - *cons > v->data_size)
		return broken(why, "producer position out of range");
	if ((prod - *cons) % TLSTAP_CAPRING_ALIGN)
		return broken(why, "producer position not 8-byte aligned");

	while (*cons != prod && n < max) {
		__u32 off = *cons & mask;
		/* What this frame may span: up to prod and to the end. */
		__u32 room = prod - *cons < v->data_size - off ?
			     prod - *cons : v->data_size - off;
		const struct tlstap_capring_frame *fh =
			(const struct tlstap_capring_frame *)(v->data + off);
		struct capring_frame f;
		__u32 state, len, step;
		int err;

		if (room < TLSTAP_CAPRING_FRAME_HDR_LEN)
			return broken(why, "frame header past the producer position or the end");
		/* Acquire: the record's bytes are read after its state. */
		state = capring_load_acquire(&fh->state);
		len = capring_read_once(fh->len);
		if (len > room - TLSTAP_CAPRING_FRAME_HDR_LEN)
			return broken(why, "frame past the producer position or the end");
		step = capring_frame_step(len);
		if (step > room)
			return broken(why, "frame padding past the producer position or the end");

		if (state == TLSTAP_CAPRING_PADDING) {
			if (off + step != v->data_size)
				return broken(why, "padding frame that does not end the data area");
			*cons += step;
			continue;
		}
		if (state == TLSTAP_CAPRING_RESERVED && !final)
			break;
		if (state != TLSTAP_CAPRING_RESERVED &&
		    state != TLSTAP_CAPRING_COMMITTED &&
		    state != TLSTAP_CAPRING_ABANDONED)
			return broken(why, "unknown frame state");
		if (len < TLSTAP_RECORD_HDR_LEN)
			return broken(why, "record frame shorter than a record header");
		memcpy(&f.rec, fh + 1, sizeof(f.rec));
		f.msg_len = len - TLSTAP_RECORD_HDR_LEN;
		if (be32_to_cpu(f.rec.msg_len) != f.msg_len)
			return broken(why, "record length differs from its frame's");
		f.msg = (const __u8 *)(fh + 1) + TLSTAP_RECORD_HDR_LEN;
		f.committed = state == TLSTAP_CAPRING_COMMITTED;

		err = take(ctx, &f);
		if (err == CAPRING_LATER)
			break;
		if (err < 0)
			return broken(why, "malformed record");
		*cons += step;
		n++;
	}
	return n;
}
