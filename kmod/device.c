// SPDX-License-Identifier: GPL-2.0
/*
 * write() takes whole records. Each is validated, steered to its target
 * and copied once, from the writer's iov_iter straight into the target's
 * ring; the network stack runs later, in the target's worker. Records
 * before a bad one in the same call are kept and the call returns their
 * length, as a partial write does. Every chunk carries the writer's tgid
 * and uid as the kernel knows them, whatever pid the record claims.
 * Capture rings (capture.c) hand their records to the same
 * tlstap_queue_record().
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/uio.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/sched/signal.h>
#include <linux/user_namespace.h>
#include <linux/slab.h>

#include "tlstap.h"
#include "device.h"
#include "recinfo.h"
#include "flowtable.h"
#include "target.h"
#include "send.h"
#include "dgram.h"
#include "capture.h"

/* Copies [off, off + len) of the record: its header, then the iter. */
static bool copy_piece(u8 *dst, const struct tlstap_record *rec, u32 off,
		       u32 len, struct iov_iter *from)
{
	if (off < TLSTAP_RECORD_HDR_LEN) {
		u32 n = min(len, TLSTAP_RECORD_HDR_LEN - off);

		memcpy(dst, (const u8 *)rec + off, n);
		dst += n;
		len -= n;
	}
	return copy_from_iter(dst, len, from) == len;
}

/*
 * Fills the reserved chunks. On a fault the rest is zeroed and every chunk
 * of the record is flagged aborted, so that receivers drop it whole.
 */
static int fill_record(struct tlstap_target *t,
		       const struct tlstap_reservation *res,
		       const struct tlstap_record *rec,
		       const struct tlstap_record_info *ri,
		       const struct tlstap_writer *writer,
		       struct iov_iter *from)
{
	u32 off = 0, i, pass;
	bool fault = false;

	for (pass = 0; pass < 2; pass++) {
		off = 0;
		for (i = 0; i < res->nslots; i++) {
			struct tlstap_slot *s = tlstap_ring_slot(&t->ring,
								 res->first + i);
			u8 *p = page_address(s->page);
			u32 len;

			if (i) {
				p += TLSTAP_MSG_HDR_LEN;
				len = min(ri->len - off,
					  tlstap_wire_slot_data(res->cap));
			} else {
				p += res->first_off;
				len = res->first_len;
			}
			if (pass)
				tlstap_wire_chunk_hdr(p, ri, writer,
						      res->record_id, off, len,
						      fault ? TLSTAP_CHUNK_F_ABORTED : 0);
			else if (fault)
				memset(p + TLSTAP_CHUNK_HDR_LEN, 0, len);
			else if (!copy_piece(p + TLSTAP_CHUNK_HDR_LEN, rec, off,
					     len, from))
				fault = true;
			off += len;
		}
	}
	return fault ? -EFAULT : 0;
}

/*
 * Steers a validated record (its header rec, ri parsed from it) to its
 * target and copies it there: the header, then ri->msg_len bytes of from.
 * Returns 0; -EDESTADDRREQ (no target), -EMSGSIZE (larger than the
 * target's ring), -EAGAIN (its ring is full and nonblock), -ENOMEM, or
 * -ERESTARTSYS; or -EFAULT when from faulted, the record then sent
 * aborted. *queued_to (if not NULL) is then its target, valid as long as
 * the caller stays under tt->srcu, which it must hold.
 */
int tlstap_queue_record(struct tlstap *tt, const struct tlstap_record *rec,
			const struct tlstap_record_info *ri,
			const struct tlstap_writer *writer,
			struct iov_iter *from, bool nonblock,
			struct tlstap_target **queued_to)
{
	struct tlstap_target *t, *waiting_on = NULL;
	struct tlstap_ring_waiter waiter;
	struct tlstap_reservation res;
	bool kick;
	u32 cap;
	int err;

	tlstap_ring_waiter_init(&waiter);
	for (;;) {
		t = tlstap_flowtable_lookup(tt, ri);
		/* Targets changed while we waited: our turn is elsewhere. */
		if (waiting_on && waiting_on != t) {
			tlstap_ring_leave(&waiting_on->ring, &waiter);
			waiting_on = NULL;
		}
		if (!t) {
			err = -EDESTADDRREQ;
			break;
		}
		cap = READ_ONCE(t->capacity);
		if (tlstap_ring_slots_for(ri->len, cap) >
		    tlstap_ring_size(&t->ring)) {
			err = -EMSGSIZE;
			break;
		}
		kick = false;
		err = tlstap_ring_reserve(&t->ring, ri->len, cap,
					  READ_ONCE(tt->flush_us),
					  nonblock ? NULL : &waiter, &res, &kick);
		if (kick)
			tlstap_send_kick(t);
		if (err != -EAGAIN || nonblock)
			break;
		waiting_on = t;
		err = wait_event_interruptible(t->ring.wait,
					       READ_ONCE(t->dead) ||
					       tlstap_ring_turn(&t->ring, &waiter));
		if (err)
			break;
	}
	if (waiting_on)
		tlstap_ring_leave(&waiting_on->ring, &waiter);
	if (err)
		return err;

	err = fill_record(t, &res, rec, ri, writer, from);
	if (tlstap_ring_commit(&t->ring, &res))
		tlstap_send_kick(t);
	if (res.opened)
		tlstap_send_arm_flush(t, READ_ONCE(t->ring.flush_at));
	if (queued_to)
		*queued_to = t;
	return err;
}

/* Counts a record that tlstap_queue_record() or validation refused. */
void tlstap_count_drop(struct tlstap *tt, int err)
{
	static const enum tlstap_stat reason[] = {
		[EINVAL] = TLSTAP_STAT_DROP_INVALID,
		[EMSGSIZE] = TLSTAP_STAT_DROP_OVERSIZE,
		[EDESTADDRREQ] = TLSTAP_STAT_DROP_NO_TARGET,
		[EAGAIN] = TLSTAP_STAT_DROP_RING_FULL,
		[EFAULT] = TLSTAP_STAT_DROP_FAULT,
		[ENOMEM] = TLSTAP_STAT_DROP_NOMEM,
	};

	if (-err < ARRAY_SIZE(reason) && reason[-err])
		tlstap_stat_inc(tt, reason[-err]);
}

static ssize_t tlstap_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct tlstap_file *f = iocb->ki_filp->private_data;
	struct tlstap *tt = f->tt;
	bool nonblock = (iocb->ki_filp->f_flags & O_NONBLOCK) ||
			(iocb->ki_flags & IOCB_NOWAIT);
	u32 max_record = READ_ONCE(tt->max_record);
	struct tlstap_writer writer = {
		.pid = task_tgid_nr(current),
		.uid = from_kuid(&init_user_ns, current_uid()),
	};
	struct tlstap_record_info ri;
	struct tlstap_record rec;
	size_t done = 0;
	struct tlstap_capture *ring;
	int err = 0, idx;

	/* No records: the producer of the file's ring wakes its consumer. */
	if (!iov_iter_count(from)) {
		/* Pairs with the release that published it (capture.c). */
		ring = smp_load_acquire(&f->ring);
		if (ring)
			tlstap_capture_wake(ring);
		return 0;
	}

	idx = srcu_read_lock(&tt->srcu);
	while (iov_iter_count(from)) {
		if (!copy_from_iter_full(&rec, sizeof(rec), from)) {
			err = iov_iter_count(from) < sizeof(rec) ? -EINVAL : -EFAULT;
			break;
		}
		err = tlstap_record_parse(&rec, max_record, &ri);
		if (err)
			break;
		/* A record must be whole within one call. */
		if (iov_iter_count(from) < ri.msg_len) {
			err = -EINVAL;
			break;
		}
		err = tlstap_queue_record(tt, &rec, &ri, &writer, from, nonblock,
					  NULL);
		if (err)
			break;
		tlstap_stat_inc(tt, TLSTAP_STAT_RECORDS);
		tlstap_stat_add(tt, TLSTAP_STAT_BYTES, ri.len);
		done += ri.len;
		if (fatal_signal_pending(current))
			break;
	}
	srcu_read_unlock(&tt->srcu, idx);

	if (err)
		tlstap_count_drop(tt, err);
	if (done)
		return done;
	return err;
}

static int tlstap_open(struct inode *inode, struct file *file)
{
	/* misc_open() left our miscdevice here. */
	struct tlstap *tt = container_of(file->private_data, struct tlstap,
					 misc);
	struct tlstap_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	f->tt = tt;
	mutex_init(&f->lock);
	file->private_data = f;
	return 0;
}

/* The last reference: every descriptor closed and every mapping gone. */
static int tlstap_release(struct inode *inode, struct file *file)
{
	struct tlstap_file *f = file->private_data;

	if (f->ring)
		tlstap_capture_release(f->ring);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

static const struct file_operations tlstap_fops = {
	.owner = THIS_MODULE,
	.open = tlstap_open,
	.release = tlstap_release,
	.write_iter = tlstap_write_iter,
	.mmap = tlstap_capture_mmap,
	.poll = tlstap_capture_poll,
	.llseek = no_llseek,
};

int tlstap_device_register(struct tlstap *tt)
{
	tt->misc.minor = MISC_DYNAMIC_MINOR;
	tt->misc.name = TLSTAP_DEVICE_NAME;
	tt->misc.fops = &tlstap_fops;
	tt->misc.mode = 0600;
	return misc_register(&tt->misc);
}

void tlstap_device_unregister(struct tlstap *tt)
{
	misc_deregister(&tt->misc);
}
