// SPDX-License-Identifier: GPL-2.0
/*
 * Capture rings of /dev/tlstap (docs/PROTOCOL.md 7). mmap() of an open
 * file makes the file's ring: pages of the module, charged to the caller's
 * memory cgroup and to the rings' share of RAM, mapped into the producer
 * writable but for the first page (the consumer's), which it may map
 * read-only. One worker drains every ring on a tick of flush_us: each
 * frame is checked by capring_drain() and by tlstap_record_parse() as a
 * write() is, then its plaintext is copied once into its target's ring. A
 * ring whose producer breaks a rule ends (status EBADMSG); its file still
 * takes write()s. When the file is released (closed and unmapped, or its
 * process killed) the worker drains what the ring holds, reporting frames
 * never committed as lost, then frees it. After a quiet while the worker
 * stops ticking and asks producers to wake it (NEED_WAKEUP).
 */
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/overflow.h>
#include <linux/build_bug.h>

#include "tlstap.h"
#include "capture.h"
#include "capring.h"
#include "device.h"
#include "recinfo.h"
#include "send.h"

/* Frames per ring per walk: then the other rings' turn. */
#define CAPTURE_MAX_FRAMES	256
/* Quiet this long, the worker stops ticking; producers wake it. */
#define CAPTURE_IDLE_MS		50
/* The desc and consumer page, the producer page; then the data. */
#define CAPTURE_META_PAGES	2

static_assert(sizeof(struct tlstap_capring_desc) == TLSTAP_CAPRING_DESC_LEN);
static_assert(TLSTAP_CAPRING_CONS_OFF >= TLSTAP_CAPRING_DESC_LEN);
static_assert(TLSTAP_CAPRING_PGOFF_PRODUCER == 1);

struct tlstap_capture {
	struct list_head node;		/* captures.rings */
	struct tlstap *tt;
	struct page **pages;
	unsigned int npages;
	void *mem;			/* the pages, vmapped: the whole ring */
	struct tlstap_capring_consumer *cons_line; /* ours, in page 0 */
	const u32 *prod_pos;		/* the producer's: read, then checked */
	struct capring_view view;
	wait_queue_head_t wait;		/* poll() for room */
	struct pid *creator;		/* the process that may map it writable */
	struct tlstap_writer writer;	/* its tgid, uid: stamped on records */
	bool released;			/* the file is gone */
	bool ended;			/* a rule broken: drained no more */
	/* The worker's own. */
	bool final;			/* draining what the producer left */
	u32 final_prod;			/* its position at release, frozen */
	u32 cons;
	u32 max_msg_len;		/* as published */
};

/* A page unmapped under the producer (MADV_DONTNEED) faults SIGBUS. */
static const struct vm_operations_struct capture_vm_ops = {};

static struct tlstap *captures_tt(struct tlstap_captures *c)
{
	return container_of(c, struct tlstap, captures);
}

static void capture_kick(struct tlstap_captures *c)
{
	queue_work(captures_tt(c)->wq, &c->work);
}

static void capture_free_pages(struct tlstap_capture *ring, unsigned int n)
{
	while (n--)
		__free_page(ring->pages[n]);
	kvfree(ring->pages);
}

static struct tlstap_capture *capture_create(struct tlstap *tt, u32 data_size)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO |
			  __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	unsigned int npages = CAPTURE_META_PAGES + data_size / PAGE_SIZE, i;
	struct tlstap_capring_desc *desc;
	struct tlstap_capture *ring;

	if (!tlstap_ring_pages_charge(tt, npages))
		return ERR_PTR(-ENOMEM);
	ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		goto err_uncharge;
	ring->pages = kvcalloc(npages, sizeof(*ring->pages),
			       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!ring->pages)
		goto err_ring;
	for (i = 0; i < npages; i++) {
		ring->pages[i] = alloc_page(gfp);
		if (!ring->pages[i])
			goto err_pages;
	}
	ring->mem = vmap(ring->pages, npages, VM_MAP | VM_USERMAP, PAGE_KERNEL);
	if (!ring->mem)
		goto err_pages;

	ring->tt = tt;
	ring->npages = npages;
	ring->cons_line = ring->mem + TLSTAP_CAPRING_CONS_OFF;
	ring->prod_pos = &((struct tlstap_capring_producer *)
			   (ring->mem + PAGE_SIZE))->prod_pos;
	ring->view.data = ring->mem + CAPTURE_META_PAGES * PAGE_SIZE;
	ring->view.data_size = data_size;
	ring->view.prod_pos = ring->prod_pos;
	init_waitqueue_head(&ring->wait);
	ring->creator = get_pid(task_tgid(current));
	ring->writer.pid = task_tgid_nr(current);
	ring->writer.uid = from_kuid(&init_user_ns, current_uid());
	ring->max_msg_len = READ_ONCE(tt->max_record);

	desc = ring->mem;
	desc->magic = TLSTAP_CAPRING_MAGIC;
	desc->version = TLSTAP_CAPRING_VERSION;
	desc->desc_len = sizeof(*desc);
	desc->page_size = PAGE_SIZE;
	desc->cons_off = TLSTAP_CAPRING_CONS_OFF;
	desc->prod_off = PAGE_SIZE;
	desc->data_off = CAPTURE_META_PAGES * PAGE_SIZE;
	desc->data_size = data_size;
	desc->creator_pid = ring->writer.pid;
	desc->creator_uid = ring->writer.uid;
	ring->cons_line->max_msg_len = ring->max_msg_len;
	return ring;

err_pages:
	capture_free_pages(ring, i);
err_ring:
	kfree(ring);
err_uncharge:
	tlstap_ring_pages_uncharge(tt, npages);
	return ERR_PTR(-ENOMEM);
}

/* Not in the list any more: nothing else can reach it. */
static void capture_free(struct tlstap_capture *ring)
{
	vunmap(ring->mem);
	capture_free_pages(ring, ring->npages);
	tlstap_ring_pages_uncharge(ring->tt, ring->npages);
	put_pid(ring->creator);
	kfree(ring);
}

/* The file's ring of data_size bytes: made now, or the one it has. */
static struct tlstap_capture *capture_get(struct tlstap_file *f, u32 data_size)
{
	struct tlstap_captures *c = &f->tt->captures;
	struct tlstap_capture *ring;

	mutex_lock(&f->lock);
	ring = f->ring;
	if (ring) {
		if (ring->view.data_size != data_size)
			ring = ERR_PTR(-EEXIST);
		/* Its records carry its creator's pid: nobody else's. */
		else if (ring->creator != task_tgid(current))
			ring = ERR_PTR(-EPERM);
		goto out;
	}
	ring = capture_create(f->tt, data_size);
	if (IS_ERR(ring))
		goto out;
	spin_lock(&c->lock);
	list_add_tail(&ring->node, &c->rings);
	spin_unlock(&c->lock);
	/* Published whole: poll() and write() read it without the lock. */
	smp_store_release(&f->ring, ring);
	tlstap_stat_inc(f->tt, TLSTAP_STAT_RINGS_CREATED);
	/* Awake: the new ring's flags do not ask to be woken. */
	capture_kick(c);
out:
	mutex_unlock(&f->lock);
	return ring;
}

int tlstap_capture_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct tlstap_file *f = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct tlstap_capture *ring;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	switch (vma->vm_pgoff) {
	case TLSTAP_CAPRING_PGOFF_HEADER:
		if (len != PAGE_SIZE)
			return -EINVAL;
		/* The consumer's position is the consumer's alone. */
		if (vma->vm_flags & VM_WRITE)
			return -EPERM;
		/* Pairs with the release in capture_get(). */
		ring = smp_load_acquire(&f->ring);
		if (!ring)
			return -ENODEV;
		vma->vm_flags &= ~VM_MAYWRITE;
		break;
	case TLSTAP_CAPRING_PGOFF_PRODUCER:
		if (!(vma->vm_flags & VM_WRITE) || len <= PAGE_SIZE ||
		    len - PAGE_SIZE > TLSTAP_CAPRING_MAX_SIZE ||
		    !capring_size_valid(len - PAGE_SIZE))
			return -EINVAL;
		ring = capture_get(f, len - PAGE_SIZE);
		if (IS_ERR(ring))
			return PTR_ERR(ring);
		break;
	default:
		return -EINVAL;
	}
	/*
	 * Never inherited by a fork() child (VM_IO: not even after
	 * MADV_DOFORK), never pinned by get_user_pages() past the release,
	 * never grown, never in a core dump: it holds plaintext.
	 */
	vma->vm_flags |= VM_DONTCOPY | VM_IO | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &capture_vm_ops;
	return remap_vmalloc_range(vma, ring->mem, vma->vm_pgoff);
}

/* ------------------------------------------------------------ draining */

struct take_ctx {
	struct tlstap *tt;
	const struct tlstap_writer *writer;
	u32 max_record;
	/* The targets given records in this turn (under tt->srcu). */
	unsigned int ntouched;
	struct tlstap_target *touched[TLSTAP_MAX_TARGETS];
};

static void touch(struct take_ctx *x, struct tlstap_target *t)
{
	unsigned int i;

	for (i = 0; i < x->ntouched; i++)
		if (x->touched[i] == t)
			return;
	if (x->ntouched < ARRAY_SIZE(x->touched))
		x->touched[x->ntouched++] = t;
}

/*
 * Hands a record on to its target, the plaintext copied from msg (in the
 * ring) without blocking. A full target ring keeps it in ours, for the
 * next walk.
 */
static int queue(struct take_ctx *x, const struct tlstap_record *rec,
		 const struct tlstap_record_info *ri, const u8 *msg)
{
	struct kvec kv = { .iov_base = (void *)msg, .iov_len = ri->msg_len };
	struct tlstap *tt = x->tt;
	struct tlstap_target *t;
	struct iov_iter from;
	int err;

	iov_iter_kvec(&from, ITER_SOURCE, &kv, 1, ri->msg_len);
	err = tlstap_queue_record(tt, rec, ri, x->writer, &from, true, &t);
	switch (err) {
	case 0:
		touch(x, t);
		tlstap_stat_inc(tt, TLSTAP_STAT_RECORDS);
		tlstap_stat_add(tt, TLSTAP_STAT_BYTES, ri->len);
		tlstap_stat_inc(tt, TLSTAP_STAT_RING_RECORDS);
		return CAPRING_TAKEN;
	case -EAGAIN:
	case -ENOMEM:
		return CAPRING_LATER;
	case -EMSGSIZE:
		return err;
	default:
		/* No target: dropped and counted, as write() would. */
		tlstap_count_drop(tt, err);
		return CAPRING_TAKEN;
	}
}

/*
 * A loss report for a record whose plaintext is lost: its header with
 * msg_len 0 and dropped grown by msg_len (PROTOCOL.md 7.1).
 */
static int queue_lost(struct take_ctx *x, const struct tlstap_record *rec,
		      u32 msg_len)
{
	struct tlstap_record lost = *rec;
	struct tlstap_record_info ri;
	u64 dropped;

	if (check_add_overflow(be64_to_cpu(rec->dropped), (u64)msg_len,
			       &dropped))
		dropped = U64_MAX;
	lost.msg_len = 0;
	lost.dropped = cpu_to_be64(dropped);
	/* Valid: rec was, and dropped > 0 (rec's, or msg_len was not 0). */
	if (tlstap_record_parse(&lost, 0, &ri))
		return -EINVAL;
	return queue(x, &lost, &ri, NULL);
}

/* capring_drain()'s take(): f->rec is our copy, f->msg still the ring's. */
static int take(void *ctx, const struct capring_frame *f)
{
	struct take_ctx *x = ctx;
	struct tlstap_record_info ri;
	int err;

	err = tlstap_record_parse(&f->rec, x->max_record, &ri);
	if (err && err != -EMSGSIZE)
		return err;
	if (!err && f->committed) {
		err = queue(x, &f->rec, &ri, f->msg);
		if (err != -EMSGSIZE)
			return err;
	}
	/* Never committed, or too large: lost, and said so. */
	err = queue_lost(x, &f->rec, f->msg_len);
	if (err == CAPRING_TAKEN)
		tlstap_stat_inc(x->tt, f->committed ? TLSTAP_STAT_DROP_OVERSIZE :
						      TLSTAP_STAT_RING_ABANDONED);
	return err;
}

static void capture_end(struct tlstap_capture *ring, const char *why)
{
	WRITE_ONCE(ring->ended, true);
	WRITE_ONCE(ring->cons_line->status, EBADMSG);
	tlstap_stat_inc(ring->tt, TLSTAP_STAT_RINGS_ENDED);
	pr_warn_ratelimited("capture ring of pid %u ended at position %u: %s\n",
			    ring->writer.pid, ring->cons, why);
}

/*
 * One turn of one ring. Its records waited up to a tick in the ring
 * already, so the targets' open slots go now, not a flush interval later:
 * a record leaves within one tick (PROTOCOL.md 7.2). Returns whether the
 * turn ended at its bound: the ring may hold more.
 */
static bool capture_drain(struct tlstap_capture *ring, bool *took)
{
	struct tlstap *tt = ring->tt;
	struct take_ctx x = {
		.tt = tt,
		.writer = &ring->writer,
		.max_record = READ_ONCE(tt->max_record),
	};
	u32 cons = ring->cons;
	const char *why;
	bool moved;
	int n, idx;

	/* The producer sizes its records by it. */
	if (x.max_record != ring->max_msg_len) {
		ring->max_msg_len = x.max_record;
		WRITE_ONCE(ring->cons_line->max_msg_len, x.max_record);
	}
	idx = srcu_read_lock(&tt->srcu);
	n = capring_drain(&ring->view, &cons, CAPTURE_MAX_FRAMES, ring->final,
			  take, &x, &why);
	while (x.ntouched)
		tlstap_send_flush_now(x.touched[--x.ntouched]);
	srcu_read_unlock(&tt->srcu, idx);
	moved = cons != ring->cons;
	if (moved) {
		ring->cons = cons;
		/* Our reads of the frames are done before they are reused. */
		smp_store_release(&ring->cons_line->cons_pos, cons);
		*took = true;
	}
	if (n < 0)
		capture_end(ring, why);
	/* Pairs with the barrier after poll_wait() in capture_poll(). */
	if ((moved || n < 0) && wq_has_sleeper(&ring->wait))
		wake_up_interruptible_poll(&ring->wait, EPOLLOUT | EPOLLWRNORM);
	return n == CAPTURE_MAX_FRAMES;
}

static struct tlstap_capture *ring_after(struct tlstap_captures *c,
					 struct tlstap_capture *ring)
{
	struct list_head *pos;

	spin_lock(&c->lock);
	pos = ring ? ring->node.next : c->rings.next;
	spin_unlock(&c->lock);
	return pos == &c->rings ? NULL :
	       list_entry(pos, struct tlstap_capture, node);
}

static void capture_remove(struct tlstap_captures *c,
			   struct tlstap_capture *ring)
{
	bool empty;

	spin_lock(&c->lock);
	list_del(&ring->node);
	empty = list_empty(&c->rings);
	spin_unlock(&c->lock);
	capture_free(ring);
	if (empty)
		wake_up_all(&c->gone);
}

/*
 * One turn of every ring; a released one is drained to its end and freed.
 * Only the worker removes rings, so it may hold one across the lock.
 * Returns whether a ring had more than its turn took.
 */
static bool capture_walk(struct tlstap_captures *c, bool *took)
{
	struct tlstap_capture *ring, *next;
	bool again = false;

	for (ring = ring_after(c, NULL); ring; ring = next) {
		next = ring_after(c, ring);
		/* Pairs with the release in tlstap_capture_release(). */
		if (!ring->final && smp_load_acquire(&ring->released)) {
			/*
			 * Nothing maps it now. Its end is frozen here, so
			 * that nothing can move it (a page pinned before).
			 */
			ring->final = true;
			/* Acquire: the frames before it are read after it. */
			ring->final_prod = smp_load_acquire(ring->prod_pos);
			ring->view.prod_pos = &ring->final_prod;
		}
		if (!ring->ended)
			again |= capture_drain(ring, took);
		if (ring->final &&
		    (ring->ended || ring->cons == ring->final_prod))
			capture_remove(c, ring);
	}
	return again;
}

/* Lock held. */
static void need_wakeup_set(struct tlstap_captures *c, bool on)
{
	struct tlstap_capture *ring;

	list_for_each_entry(ring, &c->rings, node)
		if (!ring->ended)
			WRITE_ONCE(ring->cons_line->flags,
				   on ? TLSTAP_CAPRING_F_NEED_WAKEUP : 0);
}

/*
 * Asks every producer to wake us, then looks again: one that published
 * before it could see the flag shows here (our full barrier pairs with
 * the producer's after prod_pos, PROTOCOL.md 7.2). Returns whether every
 * ring was empty; if not, the flags are cleared again.
 */
static bool capture_fall_asleep(struct tlstap_captures *c)
{
	struct tlstap_capture *ring;
	bool quiet = true;

	spin_lock(&c->lock);
	need_wakeup_set(c, true);
	/* Flags stored before prod_pos is read again: see above. */
	smp_mb();
	list_for_each_entry(ring, &c->rings, node)
		if (READ_ONCE(ring->released) ||
		    (!ring->ended && READ_ONCE(*ring->prod_pos) != ring->cons))
			quiet = false;
	if (!quiet)
		need_wakeup_set(c, false);
	spin_unlock(&c->lock);
	return quiet;
}

static void capture_work(struct work_struct *work)
{
	struct tlstap_captures *c = container_of(work, struct tlstap_captures,
						 work);
	bool took = false;

	if (c->asleep) {
		spin_lock(&c->lock);
		need_wakeup_set(c, false);
		spin_unlock(&c->lock);
		c->asleep = false;
		c->busy_at = ktime_get();
	}
	/* A busy ring is served again at once, after the others. */
	while (capture_walk(c, &took))
		cond_resched();
	if (took) {
		c->busy_at = ktime_get();
	} else if (ktime_ms_delta(ktime_get(), c->busy_at) >= CAPTURE_IDLE_MS &&
		   capture_fall_asleep(c)) {
		c->asleep = true;
		return;
	}
	if (!READ_ONCE(c->stopping))
		hrtimer_start(&c->tick,
			      ns_to_ktime(READ_ONCE(captures_tt(c)->flush_us) *
					  NSEC_PER_USEC),
			      HRTIMER_MODE_REL);
}

static enum hrtimer_restart capture_tick(struct hrtimer *timer)
{
	capture_kick(container_of(timer, struct tlstap_captures, tick));
	return HRTIMER_NORESTART;
}

/* ------------------------------------------------------- file operations */

/* POLLOUT: room for the largest frame, half the data area. */
__poll_t tlstap_capture_poll(struct file *file, poll_table *pt)
{
	struct tlstap_file *f = file->private_data;
	/* Pairs with the release in capture_get(). */
	struct tlstap_capture *ring = smp_load_acquire(&f->ring);
	__poll_t ready = EPOLLOUT | EPOLLWRNORM;
	u32 cons, used;

	/* write() only: never full. */
	if (!ring)
		return ready;
	poll_wait(file, &ring->wait, pt);
	/* Pairs with wq_has_sleeper() after the worker moves cons_pos. */
	smp_mb();
	if (READ_ONCE(ring->ended))
		return ready | EPOLLERR;
	cons = smp_load_acquire(&ring->cons_line->cons_pos); /* the worker's */
	used = READ_ONCE(*ring->prod_pos) - cons;
	if (used <= ring->view.data_size / 2)
		return ready;
	capture_kick(&ring->tt->captures);
	return 0;
}

/* A zero-byte write(): the producer found NEED_WAKEUP, or a full ring. */
void tlstap_capture_wake(struct tlstap_capture *ring)
{
	tlstap_stat_inc(ring->tt, TLSTAP_STAT_RING_WAKEUPS);
	capture_kick(&ring->tt->captures);
}

/*
 * The file is gone: the worker drains the ring and frees it, however long
 * its targets take. Not to be touched after this.
 */
void tlstap_capture_release(struct tlstap_capture *ring)
{
	struct tlstap_captures *c = &ring->tt->captures;

	/* The producer's last stores before it: pairs with capture_walk(). */
	smp_store_release(&ring->released, true);
	capture_kick(c);
}

void tlstap_capture_init(struct tlstap *tt)
{
	struct tlstap_captures *c = &tt->captures;

	spin_lock_init(&c->lock);
	INIT_LIST_HEAD(&c->rings);
	INIT_WORK(&c->work, capture_work);
	hrtimer_init(&c->tick, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	c->tick.function = capture_tick;
	init_waitqueue_head(&c->gone);
	c->asleep = true;
}

static bool capture_all_gone(struct tlstap_captures *c)
{
	bool gone;

	spin_lock(&c->lock);
	gone = list_empty(&c->rings);
	spin_unlock(&c->lock);
	return gone;
}

/* Module exit: no file is open; the rings of released ones drain first. */
void tlstap_capture_exit(struct tlstap *tt)
{
	struct tlstap_captures *c = &tt->captures;

	capture_kick(c);
	wait_event(c->gone, capture_all_gone(c));
	WRITE_ONCE(c->stopping, true);
	cancel_work_sync(&c->work);
	hrtimer_cancel(&c->tick);
	cancel_work_sync(&c->work);
}
