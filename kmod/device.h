/* SPDX-License-Identifier: GPL-2.0 */
/* /dev/tlstap: where capture hooks write records. */
#ifndef _TLSTAP_DEVICE_H
#define _TLSTAP_DEVICE_H

struct tlstap;

int tlstap_device_register(struct tlstap *tt);
void tlstap_device_unregister(struct tlstap *tt);

#endif /* _TLSTAP_DEVICE_H */
