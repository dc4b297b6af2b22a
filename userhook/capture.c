// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/tlstap.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "notice.h"
#include "process.h"
#include "record.h"

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

/* The first TCP/UDP socket among those the current call used. */
static bool flow_of_seen(struct flow *f)
{
	const struct capture_seen *seen = &capture_seen;
	unsigned int i;

	for (i = 0; i < seen->n; i++) {
		flow_of_fd(seen->fd[i], f);
		if (f->family != TLSTAP_FAMILY_NONE)
			return true;
	}
	return false;
}

static void setup(const void *session, const struct tls_ops *ops,
		  struct session_info *si)
{
	char name[SESSION_MAX_NAME + 1] = "";
	int fd = ops->fd(session);

	si->conn_id = process_new_conn_id();
	/*
	 * The transport's descriptor, unless the call demonstrably used
	 * other sockets (a GnuTLS transport pointer that is no descriptor).
	 */
	memset(&si->flow, 0, sizeof(si->flow));
	if (fd >= 0 && (!capture_seen.n || seen_has(&capture_seen, fd)))
		flow_of_fd(fd, &si->flow);
	if (si->flow.family == TLSTAP_FAMILY_NONE && !flow_of_seen(&si->flow) &&
	    fd >= 0)
		flow_of_fd(fd, &si->flow);
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

/*
 * The one way out for records: one record of the first bytes of p (at
 * most what a record may carry: *taken says how many) into the thread's
 * capture ring, or, without one, written to the output. true when it was
 * delivered, false when it was dropped.
 */
static bool emit(const struct record_meta *m, const uint8_t *p, size_t len,
		 size_t *taken)
{
	struct tlstap_record hdr;
	size_t max;

	switch (ring_put(&tlstap.rings, m, p, len, taken)) {
	case RING_SENT:
		return true;
	case RING_DROPPED:
		notice_dropped(tlstap.output.path, NOTICE_DROP_RING_FULL, 0);
		return false;
	case RING_UNUSED:
		break;
	}
	max = output_ready(&tlstap.output);
	if (!max) {
		notice_open_failed(&tlstap.output);
		notice_dropped(tlstap.output.path, NOTICE_DROP_NO_OUTPUT, 0);
		*taken = len;
		return false;
	}
	*taken = len < max ? len : max;
	record_header(&hdr, m->dir, m->si, (uint32_t)*taken, m->pid,
		      m->timestamp_ns, m->dropped);
	if (!output_send(&tlstap.output, &hdr, sizeof(hdr), p, *taken))
		return true;
	notice_dropped(tlstap.output.path, NOTICE_DROP_WRITE, errno);
	return false;
}

/*
 * A record without plaintext (msg_len 0) reports bytes a connection lost
 * when no later record will: the connection ended or changed transport.
 * If it cannot be written either, nothing is left to tell the loss.
 */
static void report_loss(const struct session_loss *loss)
{
	struct record_meta m = {
		.dir = TLSTAP_DIR_WRITE,
		.si = &loss->info,
		.pid = (uint32_t)tlstap.pid,
		.timestamp_ns = realtime_ns(),
		.dropped = loss->dropped,
	};
	size_t taken;

	emit(&m, NULL, 0, &taken);
}

void capture(const void *session, const struct tls_ops *ops, uint8_t dir,
	     const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct session_loss loss;
	struct session_info si;
	struct record_meta m;
	uint64_t dropped;
	uintptr_t token;
	size_t n;
	int saved = errno;

	if (!process_capturing())
		goto out;
	token = ops->token(session);
	if (!session_lookup(&tlstap.sessions, session, token, &si, &dropped)) {
		setup(session, ops, &si);
		if (!session_publish(&tlstap.sessions, session, token, &si,
				     &dropped, &loss))
			goto out;	/* out of memory: no id to report */
		if (loss.dropped)
			report_loss(&loss);
	} else if (si.flow.family == TLSTAP_FAMILY_NONE && capture_seen.n &&
		   flow_of_seen(&si.flow)) {
		/* The first call used no socket (data already buffered). */
		session_set_flow(&tlstap.sessions, session, token, &si.flow);
	}
	if (si.excluded)
		goto out;
	m.dir = dir;
	m.si = &si;
	m.pid = (uint32_t)tlstap.pid;
	m.timestamp_ns = realtime_ns();
	m.dropped = dropped;
	while (len) {
		m.dropped = emit(&m, p, len, &n) ? 0 : m.dropped + n;
		p += n;
		len -= n;
	}
	if (m.dropped)
		session_add_dropped(&tlstap.sessions, session, token, m.dropped);
out:
	errno = saved;
}

void capture_forget(const void *session)
{
	struct session_loss loss;
	int saved = errno;

	if (session && process_has_sessions()) {
		session_forget(&tlstap.sessions, session, &loss);
		if (loss.dropped)
			report_loss(&loss);
	}
	errno = saved;
}

/*
 * At exit, sessions the program never freed may still owe a loss report.
 * Only with on_full = drop: a blocking output must not hold up the exit.
 */
__attribute__((destructor)) static void report_losses_at_exit(void)
{
	int saved = errno;

	if (process_has_sessions() && tlstap.settings.on_full == ON_FULL_DROP)
		session_each_loss(&tlstap.sessions, report_loss);
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
