/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel types kmod/recinfo.h uses, for userspace. */
#ifndef TLSTAP_KSHIM_TYPES_H
#define TLSTAP_KSHIM_TYPES_H
#include_next <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#endif
