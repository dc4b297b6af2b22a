// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Seqpacket writers and their capture rings (docs/PROTOCOL.md 7): the
 * connections, CREATE and WAKE, the rings' walk, and the draining of
 * every input, woken or polled every --poll-us.
 */
#include "fwd.h"

/*
 * Every record from a ring goes out here. Its writer, for the stamp of
 * the wire, is the ring's creator (ring->pid, ring->uid: SO_PEERCRED of
 * the connection that asked for it).
 */
void ring_record(void *ctx, const struct fwdring *ring,
		 const struct record_info *r)
{
	const struct ucred writer = { .pid = (pid_t)ring->pid,
				      .uid = ring->uid };

	forward_record(ctx, r, &writer);
}

/* A ring message to a producer, with a descriptor (SCM_RIGHTS) if fd >= 0. */
static int send_ring_msg(int conn_fd, uint8_t type, uint32_t status,
			 uint32_t size, int fd)
{
	struct tlstap_capring_msg m = {
		.type = type,
		.status = status,
		.size = size,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(conn_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	       (ssize_t)sizeof(m) ? 0 : -1;
}

/* Where a ring's records are copied to: made with the first ring. */
static bool ring_sink_alloc(struct fwd *f)
{
	f->ring_sink.buf = malloc(FWDRING_BUF_LEN(f->opt.max_record));
	return f->ring_sink.buf;
}

/* CREATE on connection ci: a ring (its memfd passed), or why not. */
static void ring_create(struct fwd *f, unsigned int ci,
			const struct tlstap_capring_msg *m)
{
	struct conn *c = &f->conns[ci];
	uint32_t status;

	if (m->reserved[0] || m->reserved[1] || m->reserved[2] || m->status ||
	    m->reserved2)
		status = EINVAL;
	else if (!f->opt.ring_memory)
		status = EOPNOTSUPP;
	else if (c->has_ring)
		status = EEXIST;
	else if (!capring_size_valid(m->size))
		status = EINVAL;
	else if (fwdring_bytes(m->size) > f->opt.ring_memory - f->ring_bytes)
		status = ENOMEM;
	else if (!f->ring_sink.buf && !ring_sink_alloc(f))
		status = ENOMEM;
	else
		status = (uint32_t)fwdring_create(&c->ring, m->size,
						  f->opt.max_record,
						  (uint32_t)c->cred.pid, c->cred.uid,
						  !f->in_oneshot);
	if (status) {
		/* --ring-memory 0 asks for EOPNOTSUPP: nothing to report. */
		if (status != EOPNOTSUPP)
			ratelog(&f->log, "capture ring of %u bytes refused: %s",
				m->size, strerror((int)status));
		if (send_ring_msg(c->fd, TLSTAP_CAPRING_MSG_CREATED, status, 0,
				  -1))
			ratelog(&f->log, "answering CREATE: %s", strerror(errno));
		return;
	}
	if (send_ring_msg(c->fd, TLSTAP_CAPRING_MSG_CREATED, 0, m->size,
			  c->ring.memfd)) {
		ratelog(&f->log, "passing a capture ring to pid %u: %s",
			c->ring.pid, strerror(errno));
		fwdring_free(&c->ring);
		return;
	}
	c->has_ring = true;
	f->rings++;
	f->ring_bytes += fwdring_bytes(m->size);
	f->st.rings_created++;
}

/* A message whose first byte is 0x80 or above: no record, a ring message. */
static void ring_message(struct fwd *f, unsigned int ci, const uint8_t *buf,
			 size_t len)
{
	struct tlstap_capring_msg m;

	if (len == sizeof(m)) {
		memcpy(&m, buf, sizeof(m));
		if (m.type == TLSTAP_CAPRING_MSG_CREATE) {
			ring_create(f, ci, &m);
			return;
		}
		if (m.type == TLSTAP_CAPRING_MSG_WAKE) {
			/* Its arrival made the connection readable: polling. */
			f->st.ring_wakeups++;
			return;
		}
	}
	report_malformed(f, RECORD_BAD_TYPE, len,
			 "(no ring message a producer sends)");
}

/*
 * Hands at most max frames of c's ring on; final: its producer is gone.
 * A producer waiting for room hears of it (ROOM). Whether the walk
 * consumed anything.
 */
static bool ring_walk(struct fwd *f, struct conn *c, uint32_t max, bool final)
{
	uint32_t cons = c->ring.cons;

	if (fwdring_drain(&c->ring, max, final, &f->ring_sink) < 0) {
		f->st.rings_ended++;
		ratelog(&f->log, "capture ring of pid %u (uid %u) ended, drained no more: %s%s%s", c->ring.pid, c->ring.uid,
			c->ring.why, c->ring.bad ? ": " : "",
			c->ring.bad ? record_status_name(c->ring.bad) : "");
	}
	if (c->ring.cons == cons)
		return false;
	/* A full socket buffer: the producer has ROOMs to read already. */
	if (!final && fwdring_waiting(&c->ring) &&
	    !send_ring_msg(c->fd, TLSTAP_CAPRING_MSG_ROOM, 0, 0, -1))
		f->st.ring_room_sent++;
	return true;
}

/* The connection ended: what its ring holds goes out, then the ring. */
void ring_release(struct fwd *f, struct conn *c)
{
	if (!c->has_ring)
		return;
	ring_walk(f, c, UINT32_MAX, true);
	f->ring_bytes -= fwdring_bytes(c->ring.view.data_size);
	f->rings--;
	fwdring_free(&c->ring);
	c->has_ring = false;
}

/* NEED_WAKEUP in every ring (idle), or in none. */
void rings_idle(struct fwd *f, bool idle)
{
	for (unsigned int i = 0; i < MAX_CONNS && f->rings; i++)
		if (f->conns[i].has_ring)
			fwdring_set_idle(&f->conns[i].ring, idle);
}

/*
 * Polling found no input for a while: NEED_WAKEUP in every ring, then a
 * last walk (after fwdring_set_idle()'s barrier) for what was published
 * before the producers could see the flag. true: there was some, keep
 * polling.
 */
static bool rings_sleep(struct fwd *f)
{
	bool moved = false;

	if (!f->rings)
		return false;
	rings_idle(f, true);
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (f->conns[i].has_ring &&
		    ring_walk(f, &f->conns[i], RING_WALK_FRAMES, false))
			moved = true;
	if (moved)
		rings_idle(f, false);
	return moved;
}

/*
 * The writer of a datagram: its SCM_CREDENTIALS, copied into cred; the
 * unknown writer if none came (the control buffer held something else).
 */
static const struct ucred *dgram_writer(struct msghdr *mh, struct ucred *cred)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(*cred))) {
			memcpy(cred, CMSG_DATA(cm), sizeof(*cred));
			return cred;
		}
	}
	return &writer_unknown;
}

/*
 * Reads whole-record messages until the socket is drained: the records of
 * seqpacket connection ci are its peer's, a datagram's its sender's (ci
 * -1). Returns 1 if the peer of a seqpacket connection hung up.
 */
static int read_messages(struct fwd *f, int fd, int ci)
{
	const struct ucred *peer = ci >= 0 ? &f->conns[ci].cred : NULL;

	for (;;) {
		int n;

		for (int i = 0; i < IN_BATCH; i++)
			mmsg_slot_reset(&f->in_msgs[i], NULL, &f->in_iov[i],
					peer ? NULL : f->in_cmsg[i].buf,
					peer ? 0 : sizeof(f->in_cmsg[i].buf));
		n = recvmmsg(fd, f->in_msgs, IN_BATCH,
			     MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno == ECONNRESET)
				return 1;
			die("reading %s: %s", f->opt.in_path, strerror(errno));
		}
		f->st.input_calls++;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &f->in_msgs[i].msg_hdr;
			const uint8_t *buf = f->in_iov[i].iov_base;
			struct ucred cred;

			if (!f->in_msgs[i].msg_len &&
			    f->opt.in_kind == IN_UNIX_SEQPACKET)
				return 1;
			if (ci >= 0 && buf[0] >= 0x80) {
				ring_message(f, (unsigned int)ci, buf,
					     f->in_msgs[i].msg_len);
				continue;
			}
			process_message(f, f->in_iov[i].iov_base,
					f->in_msgs[i].msg_len,
					!!(mh->msg_flags & MSG_TRUNC),
					peer ? peer : dgram_writer(mh, &cred));
		}
		if (n < IN_BATCH)
			return 0;
	}
}

static void close_conn(struct fwd *f, unsigned int i)
{
	ring_release(f, &f->conns[i]);
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->conns[i].fd, NULL);
	close(f->conns[i].fd);
	f->conns[i].fd = -1;
}

static void accept_conns(struct fwd *f)
{
	for (;;) {
		int fd = accept4(f->in_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		socklen_t len;
		unsigned int i;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			ratelog(&f->log, "accept on %s: %s", f->opt.in_path,
				strerror(errno));
			return;
		}
		for (i = 0; i < MAX_CONNS && f->conns[i].fd >= 0; i++)
			;
		if (i == MAX_CONNS) {
			ratelog(&f->log, "%d writers already connected: refusing one", MAX_CONNS);
			close(fd);
			continue;
		}
		f->conns[i].fd = fd;
		/* The writer as it was when it connected: a Unix socket's peer. */
		len = sizeof(f->conns[i].cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &f->conns[i].cred,
			       &len)) {
			ratelog(&f->log, "SO_PEERCRED on %s: %s: its writer is unknown", f->opt.in_path, strerror(errno));
			f->conns[i].cred = writer_unknown;
		}
		if (epoll_add_input(f, fd, i))
			die("a seqpacket connection cannot be polled");
	}
}

/*
 * Reads the byte stream until it would block. Returns 1 at end of input
 * (stdin EOF), -1 if framing was lost, 0 otherwise.
 */
static int read_stream(struct fwd *f)
{
	for (;;) {
		ssize_t n = read(f->in_fd, f->stream_buf + f->stream_len,
				 f->stream_cap - f->stream_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			die("reading %s: %s",
			    f->opt.in_path ? f->opt.in_path : "stdin",
			    strerror(errno));
		}
		f->st.input_calls++;
		if (n == 0) {
			if (f->stream_len) {
				/* The writer left in the middle of a record. */
				report_malformed(f, RECORD_SHORT, f->stream_len,
						 "at end of input");
				f->stream_offset += f->stream_len;
				f->stream_len = 0;
			}
			if (f->opt.in_kind == IN_STDIN)
				return 1;
			/* Every writer closed the FIFO: wait for new ones. */
			epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->in_fd, NULL);
			close(f->in_fd);
			open_fifo(f);
			if (epoll_add_input(f, f->in_fd, EV_INPUT))
				die("%s cannot be polled", f->opt.in_path);
			return 0;
		}
		f->st.input_bytes += (size_t)n;
		f->stream_len += (size_t)n;
		if (process_stream(f))
			return -1;
	}
}

/*
 * Seqpacket connection i: its messages, then its ring. A connection
 * with a ring carries few messages (WAKE): it stays armed while polling,
 * so that the poll timer need not read it, only walk its ring. Polling,
 * a walk takes a bounded share (the next tick takes more); otherwise the
 * producer wakes us for every record, and a walk takes all there is.
 */
static void conn_input(struct fwd *f, unsigned int i)
{
	struct conn *c = &f->conns[i];

	if (read_messages(f, c->fd, (int)i)) {
		close_conn(f, i);
		return;
	}
	if (!c->has_ring)
		return;
	if (f->in_oneshot)
		arm_input(f, c->fd, i);
	ring_walk(f, c, f->in_oneshot ? RING_WALK_FRAMES : UINT32_MAX, false);
}

/* Reads everything the input has ready. 1: input ended, -1: framing lost. */
int drain_input(struct fwd *f, uint32_t source)
{
	switch (f->opt.in_kind) {
	case IN_UNIX_DGRAM:
		read_messages(f, f->in_fd, -1);
		return 0;
	case IN_UNIX_SEQPACKET:
		if (source == EV_INPUT) {
			accept_conns(f);
			return 0;
		}
		conn_input(f, source);
		return 0;
	default:
		return read_stream(f);
	}
}

/* Before exiting: what the writers already handed over still goes out. */
int drain_all(struct fwd *f)
{
	if (f->opt.in_kind == IN_UNIX_SEQPACKET) {
		for (unsigned int i = 0; i < MAX_CONNS; i++)
			if (f->conns[i].fd >= 0)
				drain_input(f, i);
		return 0;
	}
	return drain_input(f, EV_INPUT);
}

/*
 * Polling: drains every input descriptor (they are disarmed). Returns
 * what drain_input returns for the stream input; notes when input came.
 */
int poll_inputs(struct fwd *f, uint64_t now)
{
	/* Not input_calls: a FIFO without writers reads end-of-file. */
	unsigned long long got = f->st.input_messages + f->st.input_bytes +
				 f->st.ring.records;
	int r = 0;

	if (f->opt.in_kind == IN_UNIX_SEQPACKET) {
		for (unsigned int i = 0; i < MAX_CONNS; i++) {
			if (f->conns[i].fd < 0)
				continue;
			if (f->conns[i].has_ring)
				ring_walk(f, &f->conns[i], RING_WALK_FRAMES,
					  false);
			else
				conn_input(f, i);
		}
	} else {
		r = drain_input(f, EV_INPUT);
	}
	if (f->st.input_messages + f->st.input_bytes + f->st.ring.records != got)
		f->last_input_ns = now;
	return r;
}

/*
 * Polling found nothing for a while: wait on the inputs again, the
 * rings' producers asked to wake us (unless their last look found more).
 */
void stop_polling(struct fwd *f)
{
	if (rings_sleep(f)) {
		f->last_input_ns = now_ns();
		return;
	}
	f->polling = 0;
	if (f->opt.in_kind != IN_UNIX_SEQPACKET) {
		arm_input(f, f->in_fd, EV_INPUT);
		return;
	}
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (f->conns[i].fd >= 0)
			arm_input(f, f->conns[i].fd, i);
}
