/* SPDX-License-Identifier: GPL-2.0 */
/* /dev/tlstap: where capture hooks write records. */
#ifndef _TLSTAP_DEVICE_H
#define _TLSTAP_DEVICE_H

#include <linux/mutex.h>
#include <linux/uio.h>
#include <linux/tlstap.h>

#include "recinfo.h"

struct tlstap;
struct tlstap_capture;
struct tlstap_target;

/* An open /dev/tlstap. */
struct tlstap_file {
	struct tlstap *tt;
	struct mutex lock;		/* making the ring */
	struct tlstap_capture *ring;	/* made by mmap(), kept to release */
};

int tlstap_device_register(struct tlstap *tt);
void tlstap_device_unregister(struct tlstap *tt);

int tlstap_queue_record(struct tlstap *tt, const struct tlstap_record *rec,
			const struct tlstap_record_info *ri,
			const struct tlstap_writer *writer,
			struct iov_iter *from, bool nonblock,
			struct tlstap_target **queued_to);
void tlstap_count_drop(struct tlstap *tt, int err);

#endif /* _TLSTAP_DEVICE_H */
