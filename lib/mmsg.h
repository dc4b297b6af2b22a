/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Batched UDP receive (recvmmsg): a slot's header, set up again per call. */
#ifndef TLSTAP_NFQ_MMSG_H
#define TLSTAP_NFQ_MMSG_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * One slot for recvmmsg: the sender's address into from, the datagram
 * into iov, ancillary data into control (from, control NULL: none).
 * recvmmsg shrinks the lengths, so this comes before every call.
 */
void mmsg_slot_reset(struct mmsghdr *m, struct sockaddr_storage *from,
		     struct iovec *iov, void *control, size_t control_len);

#endif
