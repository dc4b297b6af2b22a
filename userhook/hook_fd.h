/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * close(), close_range(), closefrom(), dup2(), dup3(): when the program
 * closes or replaces our output descriptor (a daemon closing every
 * descriptor, say), we forget it, so that no record is ever written to
 * whatever the program opens under that number next.
 */
#ifndef TLSTAP_HOOK_FD_H
#define TLSTAP_HOOK_FD_H

/* Resolves the real functions at load time: close() is async-signal-safe
 * and may first be called from a signal handler, where dlsym() is not. */
void hook_fd_resolve(void);

#endif /* TLSTAP_HOOK_FD_H */
