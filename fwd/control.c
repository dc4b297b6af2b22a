// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Reliable delivery: NACKs on the source port and the targets' sockets,
 * answered by retransmissions within a token bucket and GAPs, and
 * heartbeats for a quiet target.
 */
#include "fwd.h"

/*
 * An unconnected socket per family (both, whatever the targets) on the
 * source port: NACKs from anywhere but a target's own address and port
 * land here (those land on the target's connected socket), so that every
 * one is judged and counted.
 */
void open_control(struct fwd *f)
{
	for (unsigned int i = 0; i < f->ntargets; i++)
		if (epoll_add(f, f->targets[i].fd, EV_SOCK_BASE + i))
			die("a UDP socket cannot be polled");
	for (int c = 0; c < CTL_COUNT; c++) {
		struct endpoint any = { .family = c == CTL_V6
					? TLSTAP_FAMILY_IPV6 : TLSTAP_FAMILY_IPV4,
					.port = f->src_port };
		struct sockaddr_storage ss;
		socklen_t sslen = endpoint_to_sockaddr(&any, &ss);
		int one = 1;

		f->ctl_fd[c] = socket(c == CTL_V6 ? AF_INET6 : AF_INET,
				      SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
				      0);
		/* Both families, so that a NACK from anywhere is counted. */
		if (f->ctl_fd[c] < 0 && errno == EAFNOSUPPORT)
			continue;
		if (f->ctl_fd[c] < 0)
			die("control socket: %s", strerror(errno));
		if (setsockopt(f->ctl_fd[c], SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) ||
		    (c == CTL_V6 &&
		     setsockopt(f->ctl_fd[c], IPPROTO_IPV6, IPV6_V6ONLY, &one,
				sizeof(one))))
			die("control socket options: %s", strerror(errno));
		if (bind(f->ctl_fd[c], (struct sockaddr *)&ss, sslen))
			die_bind(f, c == CTL_V6 ? "NACK socket (IPv6)" :
						  "NACK socket (IPv4)");
		if (epoll_add(f, f->ctl_fd[c], EV_SOCK_BASE + TLSTAP_MAX_TARGETS + c))
			die("a UDP socket cannot be polled");
	}
	for (int i = 0; i < CTL_BATCH; i++) {
		f->ctl_iov[i].iov_base = f->ctl_bufs[i];
		f->ctl_iov[i].iov_len = CTL_BUF;
	}
}

static void resend_flush(struct fwd *f)
{
	struct resend_batch *b = &f->resend;
	unsigned int done = 0;
	int tries = 0;

	while (done < b->n) {
		int n = sendmmsg(b->t->fd, b->msgs + done, b->n - done, 0);

		if (n <= 0) {
			if (n < 0 && (errno == EINTR ||
				      (earlier_error(f, b->t, errno) &&
				       ++tries < SEND_TRIES)))
				continue;
			/* The receiver asks again on its timeout. */
			b->t->st.retransmit_errors += b->n - done;
			ratelog(&f->log, "%s: retransmitting: %s", b->t->name,
				n < 0 ? strerror(errno) : "nothing sent");
			break;
		}
		done += (unsigned int)n;
	}
	b->n = 0;
}

static void resend_one(void *arg, uint32_t seq, const uint8_t *dgram,
		       size_t len)
{
	struct fwd *f = arg;
	struct resend_batch *b = &f->resend;

	(void)seq;
	memset(&b->msgs[b->n], 0, sizeof(b->msgs[b->n]));
	b->iov[b->n].iov_base = (void *)dgram;
	b->iov[b->n].iov_len = len;
	b->msgs[b->n].msg_hdr.msg_iov = &b->iov[b->n];
	b->msgs[b->n].msg_hdr.msg_iovlen = 1;
	if (++b->n == SEND_MSGS)
		resend_flush(f);
}

/* Sends a control message to the target (its configured address). */
static void send_control(struct fwd *f, struct target *t, const uint8_t *buf,
			 size_t len, const char *what)
{
	int tries = 0;

	while (send(t->fd, buf, len, 0) != (ssize_t)len) {
		if (errno == EINTR ||
		    (earlier_error(f, t, errno) && ++tries < SEND_TRIES))
			continue;
		t->st.send_errors++;
		ratelog(&f->log, "%s: sending a %s: %s", t->name, what,
			strerror(errno));
		return;
	}
}

/* One datagram on the source port: an honoured NACK, or rejected. */
static void take_nack(struct fwd *f, const struct endpoint *from,
		      const uint8_t *buf, size_t len, int truncated)
{
	struct wire_range gap[TLSTAP_NACK_MAX_RANGES];
	uint8_t msgbuf[TLSTAP_MSG_HDR_LEN + sizeof(gap)];
	struct target *t = NULL;
	struct wire_msg msg;
	unsigned int ngap;
	int address_known = 0;

	if (truncated || wire_parse_msg(buf, len, &msg) != WIRE_OK ||
	    msg.type != TLSTAP_MSG_NACK || wire_check_ranges(&msg) != WIRE_OK) {
		f->st.nack_rejected_malformed++;
		return;
	}
	/* From a target's address (any port), for that target's stream. */
	for (unsigned int i = 0; i < f->ntargets && !t; i++) {
		struct target *c = &f->targets[i];

		if (c->ep.family != from->family ||
		    memcmp(c->ep.addr, from->addr, 16))
			continue;
		address_known = 1;
		if (c->ring.stream_id == msg.stream_id)
			t = c;
	}
	if (!t) {
		if (address_known)
			f->st.nack_rejected_stream++;
		else
			f->st.nack_rejected_not_target++;
		return;
	}
	t->st.nacks++;
	f->resend.t = t;
	f->resend.n = 0;
	replay_answer(&t->ring, &t->bucket, &msg, now_ns(), resend_one, f,
		      gap, &ngap, &t->st.replay);
	resend_flush(f);
	if (ngap) {
		len = wire_build_ranges(msgbuf, TLSTAP_MSG_GAP,
					t->ring.stream_id, gap, ngap);
		send_control(f, t, msgbuf, len, "GAP");
		t->st.gaps_sent += ngap;
		t->st.gap_messages++;
	}
	f->linger_from_ns = now_ns();
}

/* Reads a UDP socket of the source port until it is drained. */
static void read_control(struct fwd *f, int fd)
{
	for (;;) {
		int n;

		for (int i = 0; i < CTL_BATCH; i++)
			mmsg_slot_reset(&f->ctl_msgs[i], &f->ctl_from[i],
					&f->ctl_iov[i], NULL, 0);
		n = recvmmsg(fd, f->ctl_msgs, CTL_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN, or an ICMP error of an earlier send. */
			return;
		}
		for (int i = 0; i < n; i++) {
			struct endpoint from;

			if (endpoint_from_sockaddr(
				    (struct sockaddr *)&f->ctl_from[i], &from)) {
				f->st.nack_rejected_malformed++;
				continue;
			}
			take_nack(f, &from, f->ctl_bufs[i],
				  f->ctl_msgs[i].msg_len,
				  !!(f->ctl_msgs[i].msg_hdr.msg_flags &
				     MSG_TRUNC));
		}
		if (n < CTL_BATCH)
			return;
	}
}

void read_socket(struct fwd *f, uint32_t ev)
{
	uint32_t i = ev - EV_SOCK_BASE;

	if (i < f->ntargets) {
		/* POLLERR: the error queue first, as recvmmsg would fail. */
		target_errors(f, &f->targets[i]);
		read_control(f, f->targets[i].fd);
	} else
		read_control(f, f->ctl_fd[i - TLSTAP_MAX_TARGETS]);
}

/* Heartbeats due now; returns the next deadline, 0 if none. */
uint64_t heartbeats_due(struct fwd *f, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		if (!t->heartbeats_left)
			continue;
		if (t->next_heartbeat_ns <= now) {
			uint8_t buf[WIRE_HEARTBEAT_LEN];
			size_t len = wire_build_heartbeat(
				buf, t->ring.stream_id, t->ring.unsent - 1,
				t->ring.oldest);

			send_control(f, t, buf, len, "HEARTBEAT");
			t->st.heartbeats++;
			t->heartbeats_left--;
			t->next_heartbeat_ns = now +
					       f->opt.heartbeat_ms * 1000000ull;
			if (!t->heartbeats_left) {
				/* Lingering counts from the last word. */
				if (f->linger_from_ns < now)
					f->linger_from_ns = now;
				continue;
			}
		}
		if (!next || t->next_heartbeat_ns < next)
			next = t->next_heartbeat_ns;
	}
	return next;
}
