/* SPDX-License-Identifier: GPL-2.0 */
#ifndef TLSTAP_KSHIM_KERNEL_H
#define TLSTAP_KSHIM_KERNEL_H
#include <endian.h>
#define be16_to_cpu(x)	be16toh(x)
#define be32_to_cpu(x)	be32toh(x)
#define be64_to_cpu(x)	be64toh(x)
#define fallthrough	__attribute__((__fallthrough__))
#endif
