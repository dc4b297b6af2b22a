/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the sources of shared/ take from the kernel, for their userspace
 * builds: byte order, static_assert, fallthrough. In the kernel it is the
 * kernel's own.
 */
#ifndef _TLSTAP_KCOMPAT_H
#define _TLSTAP_KCOMPAT_H

#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/byteorder.h>
#else
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>

#define be16_to_cpu(x)	be16toh(x)
#define be32_to_cpu(x)	be32toh(x)
#define be64_to_cpu(x)	be64toh(x)
#define cpu_to_be16(x)	htobe16(x)
#define cpu_to_be32(x)	htobe32(x)
#define cpu_to_be64(x)	htobe64(x)
#define fallthrough	__attribute__((__fallthrough__))
/* The kernel's one-argument form (C11's wants a message). */
#undef static_assert
#define static_assert(expr, ...)	_Static_assert(expr, #expr)
#endif

#endif /* _TLSTAP_KCOMPAT_H */
