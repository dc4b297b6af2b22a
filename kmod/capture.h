/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Capture rings of /dev/tlstap: shared memory made by mmap() of an open
 * file, drained into the targets by one worker (docs/PROTOCOL.md 7).
 */
#ifndef _TLSTAP_CAPTURE_H
#define _TLSTAP_CAPTURE_H

#include <linux/spinlock.h>
#include <linux/list.h>
#include <linux/workqueue.h>
#include <linux/hrtimer.h>
#include <linux/wait.h>
#include <linux/ktime.h>
#include <linux/poll.h>

struct tlstap;
struct tlstap_capture;
struct file;
struct vm_area_struct;

/* Every capture ring of the module, and the worker that drains them. */
struct tlstap_captures {
	spinlock_t lock;
	struct list_head rings;		/* lock; of open and released files */
	struct work_struct work;
	struct hrtimer tick;		/* every flush_us while awake */
	wait_queue_head_t gone;		/* module exit: the last ring freed */
	bool stopping;			/* module exit: tick no more */
	/* The worker's own. */
	bool asleep;			/* NEED_WAKEUP set in every ring, no tick */
	ktime_t busy_at;		/* when it last took a frame */
};

void tlstap_capture_init(struct tlstap *tt);
void tlstap_capture_exit(struct tlstap *tt);

int tlstap_capture_mmap(struct file *file, struct vm_area_struct *vma);
__poll_t tlstap_capture_poll(struct file *file, poll_table *pt);
void tlstap_capture_wake(struct tlstap_capture *ring);
void tlstap_capture_release(struct tlstap_capture *ring);

#endif /* _TLSTAP_CAPTURE_H */
