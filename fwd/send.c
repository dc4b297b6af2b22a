// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The datagrams' way out: each target's socket and path MTU, packing
 * records into its ring, sendmmsg with UDP GSO, send errors, ICMP reports
 * and the wait for an unresolved next hop.
 */
#include "fwd.h"

static int query_dgram_size(struct fwd *f, struct target *t, size_t *size)
{
	int mtu = 0;
	socklen_t len = sizeof(mtu);
	int ipv6 = t->ep.family == TLSTAP_FAMILY_IPV6;
	long s;

	if (getsockopt(t->fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       ipv6 ? IPV6_MTU : IP_MTU, &mtu, &len)) {
		ratelog(&f->log, "%s: reading the path MTU: %s", t->name,
			strerror(errno));
		return -1;
	}
	s = (long)mtu - t->hdr_overhead;
	if (s > (long)f->opt.max_datagram)
		s = (long)f->opt.max_datagram;
	if (s < (long)TLSTAP_MIN_DGRAM) {
		ratelog(&f->log, "%s: path MTU %d leaves room for no datagram",
			t->name, mtu);
		return -1;
	}
	*size = (size_t)s;
	return 0;
}

static void wait_resolved(struct fwd *f, struct target *t);

uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* New DATA went out: heartbeats start again once the target is quiet. */
static void arm_heartbeats(struct fwd *f, struct target *t)
{
	if (!f->opt.heartbeat_ms)
		return;
	t->heartbeats_left = HEARTBEATS;
	t->next_heartbeat_ns = now_ns() + f->opt.heartbeat_ms * 1000000ull;
}

/*
 * Packs bytes of a record, sending whenever the ring is full of unsent
 * datagrams (waiting first if the target holds them for its next hop).
 */
void pack_piece(struct fwd *f, struct target *t,
		const struct wire_chunk_meta *m, uint32_t offset,
		const uint8_t *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		done += txring_pack(&t->ring, m, offset + (uint32_t)done,
				    data + done, len - done);
		if (done < len) {
			target_send(f, t);
			wait_resolved(f, t);
			target_send(f, t);
		}
	}
}

/*
 * The path MTU shrank under datagrams not sent yet: take them out of the
 * ring and pack their chunks again, smaller. Record ids and bytes stay;
 * only the unsent sequence numbers are reused.
 */
static int target_repack(struct fwd *f, struct target *t, size_t new_size)
{
	uint8_t *copy;
	size_t copy_len, pos = 0;

	if (txring_take_unsent(&t->ring, &copy, &copy_len)) {
		ratelog(&f->log, "%s: repacking: %s", t->name, strerror(errno));
		return -1;
	}
	t->ring.dgram_size = new_size;
	t->st.repacks++;
	while (pos < copy_len) {
		struct wire_msg msg;
		struct wire_chunk ch;
		size_t cpos = 0;
		uint16_t dlen;

		memcpy(&dlen, copy + pos + offsetof(struct tlstap_msg_hdr, len),
		       sizeof(dlen));
		dlen = be16toh(dlen);
		if (wire_parse_msg(copy + pos, dlen, &msg) != WIRE_OK)
			die("internal error: unparsable datagram in the ring");
		while (wire_next_chunk(&msg, &cpos, &ch))
			pack_piece(f, t, &ch.meta, ch.offset, ch.data, ch.len);
		pos += dlen;
	}
	free(copy);
	return 0;
}

/* Builds up to SEND_MSGS messages (GSO runs or single datagrams). */
static unsigned int build_send_batch(struct fwd *f, struct target *t)
{
	uint32_t avail = txring_unsent(&t->ring);
	uint32_t seq = t->ring.unsent;
	unsigned int nmsg = 0, niov = 0;

	while (avail && nmsg < SEND_MSGS) {
		struct msghdr *mh = &f->out_msgs[nmsg].msg_hdr;
		size_t first_len, total;
		const uint8_t *p = txring_datagram(&t->ring, seq, &first_len);
		uint32_t count = 1;

		f->out_iov[niov].iov_base = (void *)p;
		f->out_iov[niov].iov_len = first_len;
		total = first_len;
		/* A GSO run: equal sizes, the last one may be shorter. */
		while (t->gso && count < avail && count < GSO_MAX_SEGS) {
			size_t len;
			const uint8_t *q = txring_datagram(&t->ring, seq + count,
							   &len);

			if (len > first_len || total + len > TLSTAP_MAX_DGRAM)
				break;
			f->out_iov[niov + count].iov_base = (void *)q;
			f->out_iov[niov + count].iov_len = len;
			total += len;
			count++;
			if (len < first_len)
				break;
		}
		memset(mh, 0, sizeof(*mh));
		mh->msg_iov = &f->out_iov[niov];
		mh->msg_iovlen = count;
		if (count > 1) {
			struct cmsghdr *cm;
			uint16_t gso_size = (uint16_t)first_len;

			mh->msg_control = f->out_cmsg[nmsg].buf;
			mh->msg_controllen = sizeof(f->out_cmsg[nmsg].buf);
			cm = CMSG_FIRSTHDR(mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(gso_size));
			memcpy(CMSG_DATA(cm), &gso_size, sizeof(gso_size));
		}
		f->out_dgrams[nmsg] = count;
		niov += count;
		seq += count;
		avail -= count;
		nmsg++;
	}
	return nmsg;
}

static void account_sent(struct target *t, size_t bytes, uint32_t dgrams)
{
	t->st.datagrams += dgrams;
	t->st.bytes += bytes;
	if (dgrams > 1)
		t->st.gso_sends++;
	txring_mark_sent(&t->ring, dgrams);
}

/*
 * The target socket's error queue (lib/sockerr.h): ICMP reports about
 * what it sent, counted, and the transmit timestamp of its first datagram,
 * which ends the wait for the next hop. Returns how many ICMP errors it
 * found.
 */
unsigned int target_errors(struct fwd *f, struct target *t)
{
	unsigned int icmp = 0;
	struct sockerr e;
	int r;

	while ((r = sockerr_read(t->fd, &e)) == 1) {
		switch (e.kind) {
		case SOCKERR_SENT:
			if (t->state == TLSTAP_TARGET_RESOLVING)
				t->state = TLSTAP_TARGET_READY;
			break;
		case SOCKERR_UNREACHABLE:
			t->st.icmp_unreachable++;
			snprintf(t->icmp_what, sizeof(t->icmp_what), "%s",
				 e.what);
			icmp++;
			break;
		case SOCKERR_ICMP:
			icmp++;
			break;
		case SOCKERR_LOCAL:
			break;
		}
	}
	if (r < 0)
		ratelog(&f->log, "%s: reading the socket's errors: %s", t->name,
			strerror(errno));
	return icmp;
}

/*
 * Whether err, which a send on t's socket returned, was an ICMP error
 * about an earlier datagram: the socket's pending error, which the next
 * call returns whatever it is, rather than this send's failure. A UDP
 * send never refuses by itself; else the error queue tells.
 */
int earlier_error(struct fwd *f, struct target *t, int err)
{
	return target_errors(f, t) > 0 || err == ECONNREFUSED;
}

/*
 * The first unsent message failed with err. Returns 1 to try again (the
 * ring may have been repacked), 0 after giving the datagrams up.
 */
static int handle_send_error(struct fwd *f, struct target *t, int err,
			     uint32_t dgrams, int *tries)
{
	size_t size;
	int so_err;
	socklen_t len = sizeof(so_err);

	/* A pending asynchronous error (ICMP) is reported once: clear it. */
	getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &so_err, &len);
	if (err == EINTR)
		return 1;
	/* Not this send's: counted as what it was, on the error queue. */
	if (earlier_error(f, t, err) && ++*tries < SEND_TRIES * 10)
		return 1;
	t->st.send_errors++;
	if ((err == EMSGSIZE || err == EINVAL) &&
	    !query_dgram_size(f, t, &size) && size < t->ring.dgram_size) {
		ratelog(&f->log, "%s: path MTU shrank, datagrams now %zu bytes",
			t->name, size);
		if (!target_repack(f, t, size))
			return 1;
	} else if ((err == EINVAL || err == EIO) && dgrams > 1) {
		ratelog(&f->log, "%s: UDP GSO refused (%s), sending datagrams one by one", t->name, strerror(err));
		t->gso = 0;
		return 1;
	} else if (err == ENOBUFS || err == EAGAIN) {
		struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };

		/* Transient: wait a little, a bounded number of times. */
		poll(&pfd, 1, 10);
		if (++*tries < SEND_TRIES * 10)
			return 1;
	} else if (++*tries < SEND_TRIES) {
		return 1;
	}
	ratelog(&f->log, "%s: dropping %u datagram(s) from seq %u: %s",
		t->name, dgrams, t->ring.unsent, strerror(err));
	t->st.dropped_datagrams += dgrams;
	txring_mark_sent(&t->ring, dgrams);
	return 0;
}

/* Logs the ICMP reports of each target, a line a second at most. */
uint64_t unreachable_due(struct fwd *f, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];
		uint64_t at = t->icmp_logged_ns + ICMP_LOG_NS;

		if (t->st.icmp_unreachable == t->icmp_logged)
			continue;
		if (now < at) {
			if (!next || at < next)
				next = at;
			continue;
		}
		ratelog(&f->log, "%s: ICMP destination unreachable (%s): %llu new, %llu in all", t->name, t->icmp_what,
			t->st.icmp_unreachable - t->icmp_logged,
			t->st.icmp_unreachable);
		t->icmp_logged = t->st.icmp_unreachable;
		t->icmp_logged_ns = now;
	}
	return next;
}

/*
 * The first datagram to a target goes out alone and asks for its
 * transmit timestamp, which the kernel takes when the datagram reaches
 * the device: only once the next hop's neighbour is resolved (until then
 * it waits in the neighbour's queue, one datagram, well within the ~200 KB
 * the kernel keeps there). A connected UDP socket has no call that
 * resolves, and this asks nothing of the receiver, nor privileges. The
 * rest waits in the ring for that report (target_held).
 */
static void send_probe(struct fwd *f, struct target *t)
{
	union {
		char buf[SOCKERR_ASK_SENT_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int tries = 0;

	while (txring_unsent(&t->ring)) {
		ssize_t n;

		iov.iov_base = (void *)txring_datagram(&t->ring, t->ring.unsent,
						       &iov.iov_len);
		sockerr_ask_sent(&mh, ctl.buf);
		n = sendmsg(t->fd, &mh, 0);
		t->st.send_calls++;
		if (n >= 0) {
			account_sent(t, (size_t)n, 1);
			t->probe_sent = 1;
			t->resolve_by_ns = now_ns() +
					   TLSTAP_RESOLVE_MS * 1000000ull;
			return;
		}
		/* Given up (counted), the next datagram is the probe. */
		handle_send_error(f, t, errno, 1, &tries);
	}
}

/*
 * Whether t holds its datagrams: its probe left and has not reached the
 * device yet, and TLSTAP_RESOLVE_MS have not passed since (then they go
 * anyway, counted, as the module's do).
 */
static int target_held(struct fwd *f, struct target *t)
{
	if (t->state != TLSTAP_TARGET_RESOLVING || !t->probe_sent)
		return 0;
	if (now_ns() < t->resolve_by_ns)
		return 1;
	t->state = TLSTAP_TARGET_UNRESOLVED;
	f->st.resolve_timeouts++;
	ratelog(&f->log, "%s: the next hop is not resolved after %u ms: sending anyway", t->name, TLSTAP_RESOLVE_MS);
	return 0;
}

/*
 * The ring of a held target is full, or tlstap-fwd is exiting: wait for
 * the probe's report (or the bound), as a blocking send would wait. The
 * input waits meanwhile; other targets' NACKs too, for that long at most.
 */
static void wait_resolved(struct fwd *f, struct target *t)
{
	while (target_held(f, t)) {
		/* POLLERR: the error queue has a report (or a pending error). */
		struct pollfd pfd = { .fd = t->fd };
		uint64_t now = now_ns();
		int so_err;
		socklen_t len = sizeof(so_err);

		poll(&pfd, 1, now < t->resolve_by_ns ?
			 (int)((t->resolve_by_ns - now) / 1000000) + 1 : 0);
		target_errors(f, t);
		/* An error reported before its report was queued stays set. */
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &so_err, &len);
	}
}

/*
 * Sends every closed datagram of the target's ring, unless it holds them
 * for its next hop (then only the probe, once).
 */
void target_send(struct fwd *f, struct target *t)
{
	uint32_t unsent = t->ring.unsent;
	int tries = 0;

	if (t->state == TLSTAP_TARGET_RESOLVING) {
		if (!t->probe_sent)
			send_probe(f, t);
		else
			target_errors(f, t);
	}
	while (txring_unsent(&t->ring) && !target_held(f, t)) {
		unsigned int nmsg = build_send_batch(f, t);
		int n = sendmmsg(t->fd, f->out_msgs, nmsg, 0);

		t->st.send_calls++;
		if (n < 0) {
			handle_send_error(f, t, errno, f->out_dgrams[0], &tries);
			continue;
		}
		for (int i = 0; i < n; i++)
			account_sent(t, f->out_msgs[i].msg_len,
				     f->out_dgrams[i]);
		if (n > 0)
			tries = 0;
	}
	/* Datagrams given up on errors count: their seqs are holes. */
	if (t->ring.unsent != unsent)
		arm_heartbeats(f, t);
}

void flush_all(struct fwd *f)
{
	for (unsigned int i = 0; i < f->ntargets; i++) {
		txring_close(&f->targets[i].ring);
		target_send(f, &f->targets[i]);
	}
}

/* At exit: what a held target has waits for its next hop, boundedly. */
void finish_all(struct fwd *f)
{
	for (unsigned int i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		txring_close(&t->ring);
		target_send(f, t);
		wait_resolved(f, t);
		target_send(f, t);
	}
	unreachable_due(f, UINT64_MAX);
}

/*
 * The earliest time a held target must send anyway (the bound), 0 if
 * none is held.
 */
uint64_t resolve_due(const struct fwd *f)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < f->ntargets; i++) {
		const struct target *t = &f->targets[i];

		if (t->state == TLSTAP_TARGET_RESOLVING && t->probe_sent &&
		    (!next || t->resolve_by_ns < next))
			next = t->resolve_by_ns;
	}
	return next;
}

/* After a failed bind() of the source port: why, and the way out. */
void __attribute__((noreturn)) die_bind(struct fwd *f, const char *who)
{
	int err = errno;

	if (err != EADDRINUSE)
		die("%s: binding source port %u: %s", who, f->src_port,
		    strerror(err));
	if (f->opt.port)
		die("%s: binding source port %u: %s (another program has it, a receiver on this host perhaps: give another --port, or none for an ephemeral one)", who, f->src_port,
		    strerror(err));
	die("%s: binding source port %u: %s (the kernel chose it for the first target's socket, another program holds it for this family: start again)", who, f->src_port, strerror(err));
}

void open_target(struct fwd *f, struct target *t)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int ipv6 = t->ep.family == TLSTAP_FAMILY_IPV6;
	int one = 1, pmtu = ipv6 ? IPV6_PMTUDISC_DO : IP_PMTUDISC_DO;
	int sndbuf = 4 << 20;
	size_t size, nslots;
	struct endpoint local = { .family = t->ep.family, .port = f->src_port };
	uint32_t stream_id;

	t->fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		die("%s: socket: %s", t->name, strerror(errno));
	/* Every target's socket shares the source port. */
	if (setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("%s: SO_REUSEADDR: %s", t->name, strerror(errno));
	if (ipv6 && setsockopt(t->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			       sizeof(one)))
		die("%s: IPV6_V6ONLY: %s", t->name, strerror(errno));
	if (setsockopt(t->fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       ipv6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER, &pmtu,
		       sizeof(pmtu)))
		die("%s: path MTU discovery: %s", t->name, strerror(errno));
	if (setsockopt(t->fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       ipv6 ? IPV6_TCLASS : IP_TOS, &f->opt.tos,
		       sizeof(f->opt.tos)))
		die("%s: setting TOS %d: %s", t->name, f->opt.tos,
		    strerror(errno));
	/* Bigger bursts before blocking; root may exceed wmem_max. */
	if (setsockopt(t->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)))
		setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
			   sizeof(sndbuf));
	sslen = endpoint_to_sockaddr(&local, &ss);
	if (bind(t->fd, (struct sockaddr *)&ss, sslen))
		die_bind(f, t->name);
	/* No --port: the kernel's choice, then shared by every socket. */
	if (!f->src_port) {
		struct endpoint bound;

		sslen = sizeof(ss);
		if (getsockname(t->fd, (struct sockaddr *)&ss, &sslen) ||
		    endpoint_from_sockaddr((struct sockaddr *)&ss, &bound))
			die("%s: getsockname: %s", t->name, strerror(errno));
		f->src_port = bound.port;
	}
	sslen = endpoint_to_sockaddr(&t->ep, &ss);
	if (connect(t->fd, (struct sockaddr *)&ss, sslen))
		die("%s: connect: %s", t->name, strerror(errno));
	/* ICMP errors, each a report; the probe's timestamp (send_probe). */
	if (sockerr_enable(t->fd, ipv6))
		die("%s: IP_RECVERR, SO_TIMESTAMPING: %s", t->name,
		    strerror(errno));
	t->state = TLSTAP_TARGET_RESOLVING;
	t->hdr_overhead = (ipv6 ? 40 : 20) + 8;
	if (query_dgram_size(f, t, &size))
		die("%s: no usable path MTU", t->name);
	/* Room for the replay plus datagrams waiting to be sent. */
	nslots = f->opt.replay_bytes / size + 2 * SEND_AT_DGRAMS;
	/* A stream per target: its own sequence space, a random id. */
	if (getrandom(&stream_id, sizeof(stream_id), 0) !=
	    (ssize_t)sizeof(stream_id))
		die("%s: getrandom: %s", t->name, strerror(errno));
	if (txring_init(&t->ring, size, (uint32_t)nslots, stream_id))
		die("%s: ring of %zu x %zu bytes: %s", t->name, nslots, size,
		    strerror(errno));
	txring_set_replay_limit(&t->ring, f->opt.replay_bytes);
	tokenbucket_init(&t->bucket, f->opt.retransmit_rate,
			 f->opt.retransmit_burst, now_ns());
	t->gso = f->opt.gso;
}
