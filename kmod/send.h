/* SPDX-License-Identifier: GPL-2.0 */
/* The per-target worker that turns ready ring slots into datagrams. */
#ifndef _TLSTAP_SEND_H
#define _TLSTAP_SEND_H

#include <linux/workqueue.h>
#include <linux/hrtimer.h>

struct tlstap_target;

extern bool tlstap_gso;

void tlstap_send_worker(struct work_struct *work);
enum hrtimer_restart tlstap_send_flush_timer(struct hrtimer *timer);
void tlstap_send_kick(struct tlstap_target *t);
void tlstap_send_arm_flush(struct tlstap_target *t, ktime_t at);
void tlstap_send_flush_now(struct tlstap_target *t);
void tlstap_send_drain(struct tlstap_target *t);

#endif /* _TLSTAP_SEND_H */
