/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Finds the real definition of a symbol we interpose, lazily and without
 * locks: the first caller resolves, a race resolves twice to the same
 * address.
 */
#ifndef TLSTAP_RESOLVE_H
#define TLSTAP_RESOLVE_H

#include <stdatomic.h>

/* The next definition of name after this library, or NULL. errno kept. */
void *resolve_symbol(const char *name);

static inline void *resolve_cached(_Atomic(void *)*slot, const char *name)
{
	void *fn = atomic_load_explicit(slot, memory_order_acquire);

	if (!fn) {
		fn = resolve_symbol(name);
		if (fn)
			atomic_store_explicit(slot, fn, memory_order_release);
	}
	return fn;
}

/*
 * REAL(SSL_read) is the real SSL_read, typed as the header declares it,
 * or NULL when no loaded object defines it.
 */
#define REAL(name) \
	({ \
		static _Atomic(void *) real_##name; \
		(__typeof__(&name))resolve_cached(&real_##name, #name); \
	})

#endif /* TLSTAP_RESOLVE_H */
