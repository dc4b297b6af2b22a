/* SPDX-License-Identifier: GPL-2.0 */
/* The generic netlink family "tlstap": targets, knobs, counters, events. */
#ifndef _TLSTAP_NETLINK_H
#define _TLSTAP_NETLINK_H

#include <linux/tlstap.h>

struct tlstap;
struct tlstap_target;
struct tlstap_config_change;

int tlstap_netlink_init(struct tlstap *tt);
void tlstap_netlink_exit(void);

/* Events, sent under config_lock by whoever made the change. */
void tlstap_netlink_notify_config(const struct tlstap_config_change *change,
				  enum tlstap_origin origin);
void tlstap_netlink_notify_target(const struct tlstap_target *t, u8 cmd,
				  enum tlstap_origin origin);

#endif /* _TLSTAP_NETLINK_H */
