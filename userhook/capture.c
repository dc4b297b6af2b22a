// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/tlstap.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "notice.h"
#include "process.h"
#include "meta.h"

__thread const void *capture_inside __attribute__((tls_model("initial-exec")));
__thread struct capture_seen capture_seen
	__attribute__((tls_model("initial-exec")));

static void flow_of_fd(int fd, struct flow *f)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	const struct sockaddr_in6 *l6, *r6;
	const struct sockaddr_in *l4, *r4;

	memset(f, 0, sizeof(*f));
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&l, &ll) ||
	    getpeername(fd, (struct sockaddr *)&r, &rl) ||
	    l.ss_family != r.ss_family)
		return;
	if (l.ss_family == AF_INET) {
		l4 = (const struct sockaddr_in *)&l;
		r4 = (const struct sockaddr_in *)&r;
		f->family = TLSTAP_FAMILY_IPV4;
		memcpy(f->local_addr, &l4->sin_addr, 4);
		memcpy(f->remote_addr, &r4->sin_addr, 4);
		f->local_port = ntohs(l4->sin_port);
		f->remote_port = ntohs(r4->sin_port);
	} else if (l.ss_family == AF_INET6) {
		l6 = (const struct sockaddr_in6 *)&l;
		r6 = (const struct sockaddr_in6 *)&r;
		f->local_port = ntohs(l6->sin6_port);
		f->remote_port = ntohs(r6->sin6_port);
		/*
		 * A dual-stack socket talking IPv4 shows v4-mapped addresses;
		 * report IPv4, as the peer (and the wire) see it.
		 */
		if (IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr) &&
		    IN6_IS_ADDR_V4MAPPED(&r6->sin6_addr)) {
			f->family = TLSTAP_FAMILY_IPV4;
			memcpy(f->local_addr, &l6->sin6_addr.s6_addr[12], 4);
			memcpy(f->remote_addr, &r6->sin6_addr.s6_addr[12], 4);
		} else {
			f->family = TLSTAP_FAMILY_IPV6;
			memcpy(f->local_addr, &l6->sin6_addr, 16);
			memcpy(f->remote_addr, &r6->sin6_addr, 16);
		}
	}
}

static bool seen_has(const struct capture_seen *seen, int fd)
{
	unsigned int i;

	for (i = 0; i < seen->n; i++)
		if (seen->fd[i] == fd)
			return true;
	return false;
}

/* The first TCP/UDP socket among those the current call used: its fd. */
static int flow_of_seen(struct flow *f)
{
	const struct capture_seen *seen = &capture_seen;
	unsigned int i;

	for (i = 0; i < seen->n; i++) {
		flow_of_fd(seen->fd[i], f);
		if (f->family != TLSTAP_FAMILY_NONE)
			return seen->fd[i];
	}
	return -1;
}

static void setup(const void *session, const struct tls_ops *ops,
		  struct session_info *si)
{
	char name[SESSION_MAX_NAME + 1] = "";
	int fd = ops->fd(session);

	si->conn_id = process_new_conn_id();
	si->server = ops->is_server(session);
	/*
	 * The transport's descriptor, unless the call demonstrably used
	 * other sockets (a GnuTLS transport pointer that is no descriptor).
	 */
	memset(&si->flow, 0, sizeof(si->flow));
	si->fd = -1;
	if (fd >= 0 && (!capture_seen.n || seen_has(&capture_seen, fd))) {
		flow_of_fd(fd, &si->flow);
		si->fd = fd;
	}
	if (si->flow.family == TLSTAP_FAMILY_NONE) {
		si->fd = flow_of_seen(&si->flow);
		if (si->fd < 0 && fd >= 0) {
			flow_of_fd(fd, &si->flow);
			si->fd = fd;
		}
	}
	if (si->flow.family == TLSTAP_FAMILY_NONE)
		si->fd = -1;
	si->excluded = false;
	if (tlstap.settings.n_excludes) {
		ops->server_name(session, name);
		si->excluded = settings_excluded(&tlstap.settings, name);
	}
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Where a record is made, which decides what its way out may do. */
enum emit_mode {
	EMIT_CALL,	/* a TLS call: a ring made, the output opened, on_full */
	EMIT_CLOSE,	/* in close(): only what is open, no lock; on_full */
	EMIT_EXIT,	/* at exit: never waits */
};

/*
 * The one way out for records: one record of the first bytes of p (at
 * most what a record may carry: *taken says how many) into the thread's
 * capture ring, or, without one, written to the output. true when it was
 * delivered, false when it was dropped.
 */
static bool emit(const struct record_meta *m, const uint8_t *p, size_t len,
		 size_t *taken, enum emit_mode mode)
{
	static const unsigned int ring_flags[] = {
		[EMIT_CALL] = 0,
		[EMIT_CLOSE] = RING_PUT_NO_MAKE,
		[EMIT_EXIT] = RING_PUT_NO_WAIT,
	};
	struct tlstap_record hdr;
	size_t max;

	switch (ring_put(&tlstap.rings, m, p, len, taken, ring_flags[mode])) {
	case RING_SENT:
		return true;
	case RING_DROPPED:
		notice_dropped(tlstap.output.path, NOTICE_DROP_RING_FULL, 0);
		return false;
	case RING_UNUSED:
		break;
	}
	max = mode == EMIT_CLOSE ? output_open_max(&tlstap.output)
				 : output_ready(&tlstap.output);
	if (!max) {
		notice_open_failed(&tlstap.output);
		notice_dropped(tlstap.output.path, NOTICE_DROP_NO_OUTPUT, 0);
		*taken = len;
		return false;
	}
	*taken = len < max ? len : max;
	record_header(&hdr, m->type, m->dir, m->si, (uint32_t)*taken, m->pid,
		      m->timestamp_ns, m->dropped);
	if (!output_send(&tlstap.output, &hdr, sizeof(hdr), p, *taken,
			 mode == EMIT_EXIT))
		return true;
	notice_dropped(tlstap.output.path, NOTICE_DROP_WRITE, errno);
	return false;
}

/*
 * An OPEN or a CLOSE: the connection from its client to its server, so
 * dir is WRITE when this end is the client. If it cannot be written, the
 * receivers see the connection open at its first data, or never close.
 */
static void emit_lifecycle(uint8_t type, const struct session_info *si,
			   enum emit_mode mode)
{
	struct record_meta m = {
		.type = type,
		.dir = si->server ? TLSTAP_DIR_READ : TLSTAP_DIR_WRITE,
		.si = si,
		.pid = (uint32_t)tlstap.pid,
		.timestamp_ns = realtime_ns(),
	};
	size_t taken;

	emit(&m, NULL, 0, &taken, mode);
}

/*
 * A connection ends: a loss report (a data record without plaintext) for
 * each direction that lost bytes no record reported, then its CLOSE. A
 * loss report that cannot be written either leaves nothing to tell the
 * loss.
 */
static void report_end(const struct session_end *e, enum emit_mode mode)
{
	static const uint8_t dirs[2] = { TLSTAP_DIR_READ, TLSTAP_DIR_WRITE };
	size_t taken;

	for (unsigned int i = 0; i < 2; i++) {
		struct record_meta m = {
			.type = TLSTAP_RECORD_DATA,
			.dir = dirs[i],
			.si = &e->info,
			.pid = (uint32_t)tlstap.pid,
			.timestamp_ns = realtime_ns(),
			.dropped = e->dropped[i],
		};

		if (m.dropped)
			emit(&m, NULL, 0, &taken, mode);
	}
	if (e->close)
		emit_lifecycle(TLSTAP_RECORD_CLOSE, &e->info, mode);
}

void capture(const void *session, const struct tls_ops *ops, uint8_t dir,
	     const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct session_call c;
	struct session_end old;
	struct session_info si;
	struct record_meta m;
	uintptr_t token;
	size_t n;
	int saved = errno, fd;

	if (!process_capturing())
		goto out;
	token = ops->token(session);
	if (!session_lookup(&tlstap.sessions, session, token, dir, &c)) {
		setup(session, ops, &si);
		if (!session_publish(&tlstap.sessions, session, token, dir, &si,
				     &c, &old))
			goto out;	/* out of memory: no id to report */
		report_end(&old, EMIT_CALL);
	} else if (c.info.flow.family == TLSTAP_FAMILY_NONE && capture_seen.n) {
		/* The first call used no socket (data already buffered). */
		fd = flow_of_seen(&c.info.flow);
		if (fd >= 0) {
			c.info.fd = fd;
			session_set_flow(&tlstap.sessions, session, token,
					 &c.info.flow, fd);
		}
	}
	if (c.info.excluded)
		goto out;
	if (c.open)
		emit_lifecycle(TLSTAP_RECORD_OPEN, &c.info, EMIT_CALL);
	m.type = TLSTAP_RECORD_DATA;
	m.dir = dir;
	m.si = &c.info;
	m.pid = (uint32_t)tlstap.pid;
	m.timestamp_ns = realtime_ns();
	m.dropped = c.dropped;
	while (len) {
		m.dropped = emit(&m, p, len, &n, EMIT_CALL) ? 0 : m.dropped + n;
		p += n;
		len -= n;
	}
	if (m.dropped)
		session_add_dropped(&tlstap.sessions, session, token, dir,
				    m.dropped);
out:
	errno = saved;
}

void capture_end(const void *session)
{
	struct session_end e;
	int saved = errno;

	if (session && process_has_sessions()) {
		session_end(&tlstap.sessions, session, &e);
		report_end(&e, EMIT_CALL);
	}
	errno = saved;
}

void capture_forget(const void *session)
{
	struct session_end e;
	int saved = errno;

	if (session && process_has_sessions()) {
		session_forget(&tlstap.sessions, session, &e);
		report_end(&e, EMIT_CALL);
	}
	errno = saved;
}

/* A record can go out now without a lock: see emit(), EMIT_CLOSE. */
static bool capture_can_emit_now(void)
{
	return ring_thread_ready(&tlstap.rings) ||
	       output_open_max(&tlstap.output);
}

void capture_socket_closing(int fd)
{
	struct session_end e;
	int saved;

	if (__builtin_expect(!session_has_fd(&tlstap.sessions, fd), 1))
		return;
	saved = errno;
	/*
	 * Not in a vfork() child (posix_spawn, Python's subprocess): it
	 * shares our memory, not our descriptors: what it closes is its
	 * own copy. Records go out only through the thread's ring or an
	 * output already open: opening either takes locks.
	 */
	if (getpid() == tlstap.pid && capture_can_emit_now() &&
	    session_end_fd(&tlstap.sessions, fd, &e))
		report_end(&e, EMIT_CLOSE);
	errno = saved;
}

/*
 * At exit, connections the program never ended get their CLOSE, and
 * their losses reports, without waiting for room: a blocking output must
 * not hold up the exit.
 */
static void report_end_at_exit(const struct session_end *e)
{
	report_end(e, EMIT_EXIT);
}

__attribute__((destructor)) static void report_ends_at_exit(void)
{
	int saved = errno;

	if (process_has_sessions())
		session_each_end(&tlstap.sessions, report_end_at_exit);
	errno = saved;
}

void capture_missing(const char *name)
{
	static _Atomic int said;

	if (!atomic_exchange(&said, 1))
		notice_config("no loaded library defines %s", name);
}

int capture_missing_enosys(const char *name, int failed)
{
	capture_missing(name);
	errno = ENOSYS;
	return failed;
}
