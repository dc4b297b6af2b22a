/* SPDX-License-Identifier: GPL-2.0 */
#ifndef TLSTAP_KSHIM_BUILD_BUG_H
#define TLSTAP_KSHIM_BUILD_BUG_H
/* The kernel's one-argument form. */
#define static_assert(expr, ...) _Static_assert(expr, #expr)
#endif
