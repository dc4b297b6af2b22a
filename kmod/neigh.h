/* SPDX-License-Identifier: GPL-2.0 */
/* A new target's next hop: resolved when it is added, waited for. */
#ifndef _TLSTAP_NEIGH_H
#define _TLSTAP_NEIGH_H

#include <linux/types.h>

struct tlstap;
struct tlstap_target;

void tlstap_neigh_resolve(struct tlstap_target *t);
bool tlstap_neigh_held(struct tlstap_target *t);
void tlstap_neigh_release(struct tlstap_target *t);
int tlstap_neigh_init(struct tlstap *tt);
void tlstap_neigh_exit(struct tlstap *tt);

#endif /* _TLSTAP_NEIGH_H */
