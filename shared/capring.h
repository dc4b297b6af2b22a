/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Capture rings (include/uapi/linux/tlstap.h, docs/PROTOCOL.md section 7):
 * the frame rules and both ends, as one source for tlstap.ko, tlstap-fwd,
 * libtlstap.so and their tests, as steering.c is. Pure logic over memory
 * the caller maps: no allocation, no locking, no system call.
 *
 * The consumer trusts nothing the producer wrote: each position is
 * checked against the consumer's own, each frame header is read once and
 * checked against the data area before anything is read through it, and
 * a frame's record header is copied out before it is looked at.
 */
#ifndef _TLSTAP_CAPRING_H
#define _TLSTAP_CAPRING_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/atomic.h>
/* Pairs with the other end's release store (PROTOCOL.md 7.2). */
#define capring_load_acquire(p)		smp_load_acquire(p)
/* Pairs with the other end's acquire load. */
#define capring_store_release(p, v)	smp_store_release(p, v)
/*
 * A release store and a full barrier: earlier stores and loads do not
 * pass it, later loads do not pass it. (smp_store_mb() is not enough: it
 * orders only what comes after the store.) xchg() is fully ordered.
 */
#define capring_store_mb(p, v)		((void)xchg(p, v))
#define capring_read_once(x)		READ_ONCE(x)
#define capring_write_once(x, v)	WRITE_ONCE(x, v)
#else
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#define capring_load_acquire(p)		__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define capring_store_release(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)
#define capring_store_mb(p, v)		\
	((void)__atomic_exchange_n(p, v, __ATOMIC_SEQ_CST))
#define capring_read_once(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define capring_write_once(x, v)	__atomic_store_n(&(x), v, __ATOMIC_RELAXED)
#endif

#include <linux/tlstap.h>

/* Bytes a frame of len bytes takes: header, len, padding to 8. */
static inline __u32 capring_frame_step(__u32 len)
{
	return (TLSTAP_CAPRING_FRAME_HDR_LEN + len + TLSTAP_CAPRING_ALIGN - 1) &
	       ~(__u32)(TLSTAP_CAPRING_ALIGN - 1);
}

/*
 * The most plaintext a producer puts in one frame: a frame takes at most
 * a quarter of the data area, so that half of it free (the device's
 * POLLOUT) always holds one, with the padding a wrap may need before it.
 */
static inline __u32 capring_max_msg_len(__u32 data_size)
{
	return data_size / 4 - TLSTAP_CAPRING_FRAME_HDR_LEN -
	       TLSTAP_RECORD_HDR_LEN;
}

/* Whether data_size is a size a ring may have. */
static inline bool capring_size_valid(__u32 data_size)
{
	return data_size >= TLSTAP_CAPRING_MIN_SIZE &&
	       data_size <= TLSTAP_CAPRING_MAX_SIZE &&
	       !(data_size & (data_size - 1));
}

/* ------------------------------------------------------------ consumer */

/* What the consumer reads: its own mapping and size, the shared position. */
struct capring_view {
	const __u8 *data;		/* data_size bytes */
	__u32 data_size;		/* the consumer's, never the ring's */
	const __u32 *prod_pos;		/* producer-written */
};

/* A record frame as the consumer hands it on. */
struct capring_frame {
	struct tlstap_record rec;	/* copied out once: check this copy */
	const __u8 *msg;		/* msg_len bytes, still in the ring */
	__u32 msg_len;
	bool committed;			/* false: never committed, report lost */
};

/* take() returns one of these, or a negative errno: the record is bad. */
enum capring_take {
	CAPRING_TAKEN = 0,
	CAPRING_LATER = 1,		/* no room downstream: stop, retry */
};

typedef int (*capring_take_fn)(void *ctx, const struct capring_frame *f);

/*
 * Hands at most max record frames from *cons on to take(), in order,
 * advancing *cons past each one taken and past padding. A RESERVED frame
 * ends the walk (its producer is still writing), unless final: then the
 * producer is gone and the frame is handed on as not committed. Returns
 * the frames handed on and taken, or -EBADMSG when the ring is broken (a
 * position or frame the producer cannot have written, or a record take()
 * refused), *why naming the rule that failed; *cons then stays at the
 * bad frame.
 */
int capring_drain(const struct capring_view *v, __u32 *cons, __u32 max,
		  bool final, capring_take_fn take, void *ctx,
		  const char **why);

/* ------------------------------------------------------------ producer */

/*
 * The producer's private state; it reads only cons_pos (and, elsewhere,
 * the consumer's flags and status) of what the consumer writes.
 */
struct capring_producer {
	__u8 *data;
	__u32 data_size;
	__u32 *prod_pos;		/* shared: ours to write */
	const __u32 *cons_pos;		/* shared: the consumer's */
	__u32 prod;			/* what we published */
	__u32 cons;			/* what we last read */
};

/*
 * Reads the consumer's position. false when it makes no sense (behind
 * what was consumed before or ahead of what was published): the ring is
 * broken and must not be written again.
 */
static inline bool capring_refresh(struct capring_producer *p)
{
	__u32 cons = capring_load_acquire(p->cons_pos);

	if ((__s32)(cons - p->cons) < 0 || (__s32)(p->prod - cons) < 0)
		return false;
	p->cons = cons;
	return true;
}

/* Bytes published and not yet consumed, as of the last refresh. */
static inline __u32 capring_used(const struct capring_producer *p)
{
	return p->prod - p->cons;
}

/*
 * Starts a frame for a record of len bytes: NULL when the ring lacks the
 * room, else where the record goes. Write its header there,
 * capring_publish(), the plaintext, capring_commit().
 */
static inline void *capring_claim(struct capring_producer *p, __u32 len)
{
	__u32 step = capring_frame_step(len);
	__u32 off = p->prod & (p->data_size - 1);
	__u32 pad = off + step > p->data_size ? p->data_size - off : 0;
	struct tlstap_capring_frame *f;

	if (p->data_size - capring_used(p) < pad + step &&
	    (!capring_refresh(p) || p->data_size - capring_used(p) < pad + step))
		return NULL;
	if (pad) {
		f = (struct tlstap_capring_frame *)(p->data + off);
		f->len = pad - TLSTAP_CAPRING_FRAME_HDR_LEN;
		f->state = TLSTAP_CAPRING_PADDING;
		p->prod += pad;
		off = 0;
	}
	f = (struct tlstap_capring_frame *)(p->data + off);
	f->len = len;
	f->state = TLSTAP_CAPRING_RESERVED;
	return f + 1;
}

/*
 * Publishes the claimed frame (and any padding before it) as RESERVED:
 * its headers are visible before the position that covers them.
 */
static inline void capring_publish(struct capring_producer *p, __u32 len)
{
	p->prod += capring_frame_step(len);
	capring_store_release(p->prod_pos, p->prod);
}

/*
 * The frame whose record is at rec is complete (or, abandoned, never),
 * with a full barrier: the consumer's flags, read after this, tell
 * whether it went idle before the frame was complete (then wake it) or
 * after (then its last walk, after its own barrier, sees the frame).
 */
static inline void capring_commit(void *rec, bool abandoned)
{
	struct tlstap_capring_frame *f = (struct tlstap_capring_frame *)rec - 1;

	capring_store_mb(&f->state, abandoned ? TLSTAP_CAPRING_ABANDONED :
						 TLSTAP_CAPRING_COMMITTED);
}

#endif /* _TLSTAP_CAPRING_H */
