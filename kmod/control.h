/* SPDX-License-Identifier: GPL-2.0 */
/* Receivers' NACKs in; retransmissions, GAPs and HEARTBEATs out. */
#ifndef _TLSTAP_CONTROL_H
#define _TLSTAP_CONTROL_H

#include <linux/skbuff.h>
#include <linux/timer.h>

#define TLSTAP_RETRANSMIT_BURST	1024	/* resends allowed at once */

struct tlstap;
struct tlstap_target;

void tlstap_control_rcv(struct tlstap *tt, struct sk_buff *skb);
void tlstap_control_work(struct tlstap_target *t, bool sent_data);
void tlstap_control_hb_timer(struct timer_list *timer);

#endif /* _TLSTAP_CONTROL_H */
