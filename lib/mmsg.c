// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <string.h>

#include "mmsg.h"

void mmsg_slot_reset(struct mmsghdr *m, struct sockaddr_storage *from,
		     struct iovec *iov, void *control, size_t control_len)
{
	struct msghdr *mh = &m->msg_hdr;

	memset(mh, 0, sizeof(*mh));
	mh->msg_name = from;
	mh->msg_namelen = from ? sizeof(*from) : 0;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_control = control;
	mh->msg_controllen = control_len;
}
