/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * libc functions the hook interposes, for two reasons:
 *  - close(), close_range(), closefrom(), dup2(), dup3(): when the program
 *    closes or replaces our output descriptor or a capture ring's (a
 *    daemon closing every descriptor, say), we forget it, so that no
 *    record is ever written to whatever the program opens under that
 *    number next; close() of a TLS connection's socket ends the
 *    connection (its CLOSE record);
 *  - read(), write(), readv(), writev(), recv(), send(), recvfrom(),
 *    sendto(), recvmsg(), sendmsg(): while a TLS call runs, the sockets it
 *    touches are noted, which gives the addresses of sessions whose BIO
 *    hides its descriptor (curl's own BIO, GnuTLS push functions).
 * Outside a TLS call each costs one thread-local load.
 */
#ifndef TLSTAP_HOOK_LIBC_H
#define TLSTAP_HOOK_LIBC_H

/* Resolves the real functions at load time: these are async-signal-safe
 * and may first be called from a signal handler, where dlsym() is not.
 */
void hook_libc_resolve(void);

#endif /* TLSTAP_HOOK_LIBC_H */
