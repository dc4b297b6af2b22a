// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

/* The calling thread's ring and what it knows about getting one. */
struct ring_thread {
	struct ring *ring;	/* NULL: none yet, or none to be had now */
	uint64_t retry_at;	/* CLOCK_MONOTONIC_COARSE ns: no new ring before */
	bool busy;		/* inside ring_put(): a nested call writes */
	bool off;		/* a consumer ended our ring: write() from now on */
};

static __thread struct ring_thread ring_thread
	__attribute__((tls_model("initial-exec")));

/*
 * Our descriptors are closed and read with raw system calls: the
 * library interposes close() and the socket calls, and these are not
 * cancellation points.
 */
static void close_raw(int fd)
{
	syscall(SYS_close, fd);
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void thread_exit(void *arg);

void ring_table_init(struct ring_table *t, const char *path, bool enabled,
		     unsigned int ring_kb, bool block)
{
	long page = sysconf(_SC_PAGESIZE);

	strcpy(t->path, path);
	t->block = block;
	t->data_size = ring_kb << 10;
	t->page_size = page > 0 ? (uint32_t)page : 0;
	atomic_store(&t->transport, RING_TRANSPORT_UNKNOWN);
	t->enabled = enabled && page > 0 &&
		     pthread_key_create(&t->key, thread_exit) == 0;
}

/* ------------------------------------------------------------ registry */

struct ring *ring_slot_alloc(struct ring_table *t)
{
	for (unsigned int i = 0; i < RING_SLOTS; i++) {
		struct ring *r = &t->slots[i];
		unsigned int hwm = atomic_load(&t->hwm);
		bool free_slot = false;

		if (atomic_load_explicit(&r->used, memory_order_relaxed) ||
		    !atomic_compare_exchange_strong(&r->used, &free_slot, true))
			continue;
		while (hwm < i + 1 &&
		       !atomic_compare_exchange_weak(&t->hwm, &hwm, i + 1))
			;
		atomic_store(&r->fd, RING_FD_NONE);
		r->own_fd = -1;
		r->transport = RING_TRANSPORT_NONE;
		r->map = NULL;
		r->hdr_map = NULL;
		return r;
	}
	return NULL;
}

/*
 * A new descriptor of ours: moved out of the range programs expect (as
 * output.c does) and registered, so that a close() of the program finds
 * it from now on.
 */
static int adopt_fd(struct ring *r, int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, OUTPUT_FD_FLOOR);

	if (high >= 0) {
		close_raw(fd);
		fd = high;
	}
	r->own_fd = fd;
	atomic_store(&r->fd, fd);
	return fd;
}

/* Whether r's descriptor is still ours (no close() of the program took it). */
static bool fd_ours(struct ring *r)
{
	return atomic_load_explicit(&r->fd, memory_order_relaxed) == r->own_fd;
}

/* The descriptor is gone behind our back (EBADF): never close it. */
static void fd_lost(struct ring *r)
{
	int fd = r->own_fd;

	atomic_compare_exchange_strong(&r->fd, &fd, RING_FD_NONE);
}

/* Unmaps r and closes its descriptor unless the program took it. */
static void release(struct ring *r)
{
	int fd = r->own_fd;

	if (r->map)
		munmap(r->map, r->map_len);
	if (r->hdr_map)
		munmap(r->hdr_map, r->hdr_len);
	r->map = NULL;
	r->hdr_map = NULL;
	if (fd >= 0 && atomic_compare_exchange_strong(&r->fd, &fd, RING_FD_NONE))
		close_raw(r->own_fd);
	r->own_fd = -1;
}

void ring_close(struct ring *r)
{
	release(r);
	atomic_store(&r->used, false);
}

bool ring_fds_in(struct ring_table *t, unsigned int first, unsigned int last)
{
	unsigned int hwm = atomic_load(&t->hwm);

	for (unsigned int i = 0; i < hwm; i++) {
		int fd = atomic_load(&t->slots[i].fd);

		if (fd >= 0 && (unsigned int)fd >= first &&
		    (unsigned int)fd <= last)
			return true;
	}
	return false;
}

void ring_fds_closed(struct ring_table *t, unsigned int first,
		     unsigned int last)
{
	unsigned int hwm = atomic_load(&t->hwm);

	for (unsigned int i = 0; i < hwm; i++) {
		int fd = atomic_load(&t->slots[i].fd);

		if (fd >= 0 && (unsigned int)fd >= first &&
		    (unsigned int)fd <= last)
			atomic_compare_exchange_strong(&t->slots[i].fd, &fd,
						       RING_FD_NONE);
	}
}

/*
 * A held descriptor: set aside while a close_range() or dup() runs. Its
 * own inverse: held(held(fd)) == fd.
 */
static int held(int fd)
{
	return -2 - fd;
}

void ring_fds_hold(struct ring_table *t, unsigned int first,
		   unsigned int last, struct ring_hold *h)
{
	unsigned int hwm = atomic_load(&t->hwm);

	memset(h, 0, sizeof(*h));
	for (unsigned int i = 0; i < hwm; i++) {
		int fd = atomic_load(&t->slots[i].fd);

		if (fd >= 0 && (unsigned int)fd >= first &&
		    (unsigned int)fd <= last &&
		    atomic_compare_exchange_strong(&t->slots[i].fd, &fd,
						   held(fd)))
			h->slot[i / 64] |= 1ull << (i % 64);
	}
}

void ring_fds_settle(struct ring_table *t, const struct ring_hold *h,
		     bool released)
{
	for (unsigned int i = 0; i < RING_SLOTS; i++) {
		int cur;

		if (!(h->slot[i / 64] & (1ull << (i % 64))))
			continue;
		cur = atomic_load(&t->slots[i].fd);
		if (cur <= held(0))
			atomic_compare_exchange_strong(&t->slots[i].fd, &cur,
						       released ? RING_FD_NONE
								: held(cur));
	}
}

void ring_table_fork_child(struct ring_table *t)
{
	unsigned int hwm = atomic_load(&t->hwm);

	for (unsigned int i = 0; i < hwm; i++) {
		struct ring *r = &t->slots[i];
		int fd = atomic_load(&r->fd);

		/* The mappings stayed with the parent (MADV_DONTFORK,
		 * VM_DONTCOPY); our copies of the descriptors would keep
		 * the parent's rings from ending.
		 */
		if (fd >= 0)
			close_raw(fd);
		atomic_store(&r->fd, RING_FD_NONE);
		r->own_fd = -1;
		r->map = NULL;
		r->hdr_map = NULL;
		atomic_store(&r->used, false);
	}
	atomic_store(&t->hwm, 0);
	if (t->enabled && ring_thread.ring)
		pthread_setspecific(t->key, NULL);
	memset(&ring_thread, 0, sizeof(ring_thread));
}

/* ---------------------------------------------------------- transports */

/* The output cannot have rings: write() for the life of the process. */
static void no_rings(struct ring_table *t)
{
	atomic_store(&t->transport, RING_TRANSPORT_NONE);
}

/* What the output is: learnt once, when it first exists. */
static int transport_of(struct ring_table *t)
{
	int tr = atomic_load(&t->transport), unknown = RING_TRANSPORT_UNKNOWN;
	struct stat st;

	if (tr != RING_TRANSPORT_UNKNOWN)
		return tr;
	if (stat(t->path, &st))
		return RING_TRANSPORT_UNKNOWN;	/* not there yet */
	tr = S_ISCHR(st.st_mode) ? RING_TRANSPORT_DEVICE :
	     S_ISSOCK(st.st_mode) ? RING_TRANSPORT_FWD : RING_TRANSPORT_NONE;
	if (!atomic_compare_exchange_strong(&t->transport, &unknown, tr))
		tr = unknown;
	return tr;
}

static bool desc_ok(const struct ring_table *t,
		    const struct tlstap_capring_desc *d)
{
	return d->magic == TLSTAP_CAPRING_MAGIC &&
	       d->version == TLSTAP_CAPRING_VERSION &&
	       d->desc_len == TLSTAP_CAPRING_DESC_LEN &&
	       d->page_size == t->page_size &&
	       d->cons_off == TLSTAP_CAPRING_CONS_OFF &&
	       d->prod_off == t->page_size &&
	       d->data_off == 2 * t->page_size &&
	       d->data_size == t->data_size;
}

/*
 * The ring is mapped: hdr is its desc page (consumer line inside), prod
 * its producer page, the data area right after it.
 */
static int start(struct ring_table *t, struct ring *r, const uint8_t *hdr,
		 uint8_t *prod)
{
	if (!desc_ok(t, (const struct tlstap_capring_desc *)hdr)) {
		errno = EPROTO;
		return -1;
	}
	r->cons = (const struct tlstap_capring_consumer *)
		  (hdr + TLSTAP_CAPRING_CONS_OFF);
	r->prod = (struct tlstap_capring_producer *)prod;
	r->p.data = prod + t->page_size;
	r->p.data_size = t->data_size;
	r->p.prod_pos = &r->prod->prod_pos;
	r->p.cons_pos = &r->cons->cons_pos;
	r->p.prod = capring_read_once(r->prod->prod_pos);
	r->p.cons = capring_load_acquire(&r->cons->cons_pos);
	if (r->p.prod != r->p.cons || r->p.prod % TLSTAP_CAPRING_ALIGN) {
		errno = EPROTO;
		return -1;
	}
	r->frame_max = capring_max_msg_len(t->data_size);
	if (r->frame_max > TLSTAP_DEFAULT_MAX_RECORD)
		r->frame_max = TLSTAP_DEFAULT_MAX_RECORD;
	r->kicked = false;
	r->waiting = false;
	return 0;
}

/*
 * /dev/tlstap: mapping the producer page creates the file's ring. A file
 * that is no tlstap device, or a module without rings, refuses the
 * mapping (ENODEV, EINVAL) or the opening (EACCES): write() then.
 * ENOMEM (the module's memory bound) is worth another try later.
 */
static int open_device(struct ring_table *t, struct ring *r)
{
	size_t rw_len = (size_t)t->page_size + t->data_size;
	int fd = open(t->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	void *rw, *ro;

	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			no_rings(t);
		return -1;
	}
	fd = adopt_fd(r, fd);
	r->transport = RING_TRANSPORT_DEVICE;
	rw = mmap(NULL, rw_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)TLSTAP_CAPRING_PGOFF_PRODUCER * t->page_size);
	if (rw == MAP_FAILED) {
		if (errno == ENODEV || errno == EINVAL || errno == EACCES)
			no_rings(t);
		return -1;
	}
	r->map = rw;
	r->map_len = rw_len;
	ro = mmap(NULL, t->page_size, PROT_READ, MAP_SHARED, fd,
		  (off_t)TLSTAP_CAPRING_PGOFF_HEADER * t->page_size);
	if (ro == MAP_FAILED)
		return -1;
	r->hdr_map = ro;
	r->hdr_len = t->page_size;
	return start(t, r, ro, rw);
}

/*
 * tlstap-fwd's answer to CREATE: the memfd, or -1 and errno (the
 * answer's status, EPROTO for a message that is no CREATED, ECONNRESET
 * when it hung up).
 */
static int recv_created(struct ring_table *t, int fd)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct tlstap_capring_msg msg;
	struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm;
	int memfd = -1, err = EPROTO;
	long n;

	n = syscall(SYS_recvmsg, fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	/* Keep the first descriptor passed, close any other. */
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[4];

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
		for (size_t i = 0; i < nfds; i++) {
			if (memfd < 0)
				memfd = fds[i];
			else
				close_raw(fds[i]);
		}
	}
	if (n == 0)
		err = ECONNRESET;
	else if (n == sizeof(msg) && msg.type == TLSTAP_CAPRING_MSG_CREATED &&
		 !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		err = msg.status ? (msg.status < 4096 ? (int)msg.status : EPROTO) :
		      memfd < 0 || msg.size != t->data_size ? EPROTO : 0;
	if (err == EOPNOTSUPP)
		no_rings(t);	/* a consumer that keeps no rings */
	if (err && memfd >= 0)
		close_raw(memfd);
	errno = err;
	return err ? -1 : memfd;
}

/*
 * Waits (bounded) for tlstap-fwd's CREATED. One that does not answer at
 * all is taken for a consumer without rings: waiting again would stall
 * the thread again.
 */
static int await_created(struct ring_table *t, int fd)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) +
			    RING_CREATE_WAIT_MS * 1000000ull;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		int n;

		if (now >= deadline) {
			no_rings(t);
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			return recv_created(t, fd);
	}
}

/*
 * tlstap-fwd: a connection of the ring's own carries CREATE; the answer
 * brings the ring as a sealed memfd (its size fixed: our mapping never
 * faults), mapped whole, never inherited by a fork() child.
 */
static int open_fwd(struct ring_table *t, struct ring *r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct tlstap_capring_msg create = {
		.type = TLSTAP_CAPRING_MSG_CREATE,
		.size = t->data_size,
	};
	size_t len = 2 * (size_t)t->page_size + t->data_size;
	struct stat st;
	int fd, memfd, seals;
	void *map;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	fd = adopt_fd(r, fd);
	r->transport = RING_TRANSPORT_FWD;
	strcpy(sun.sun_path, t->path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		if (errno == EPROTOTYPE)
			no_rings(t);	/* a datagram socket */
		return -1;
	}
	if (syscall(SYS_sendto, fd, &create, sizeof(create), MSG_NOSIGNAL,
		    NULL, 0) != (long)sizeof(create))
		return -1;
	memfd = await_created(t, fd);
	if (memfd < 0)
		return -1;
	seals = fcntl(memfd, F_GET_SEALS);
	if (fstat(memfd, &st) || st.st_size != (off_t)len || seals < 0 ||
	    !(seals & F_SEAL_SHRINK)) {
		close_raw(memfd);
		errno = EPROTO;
		return -1;
	}
	/*
	 * Populated now: its pages are allocated (and charged to this
	 * process, as the module charges its rings to theirs) once, not
	 * faulted in by the first records.
	 */
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		   memfd, 0);
	close_raw(memfd);
	if (map == MAP_FAILED)
		return -1;
	r->map = map;
	r->map_len = len;
	if (madvise(map, len, MADV_DONTFORK))
		return -1;
	return start(t, r, map, (uint8_t *)map + t->page_size);
}

int ring_open(struct ring_table *t, struct ring *r)
{
	int ret = -1, saved;

	switch (transport_of(t)) {
	case RING_TRANSPORT_DEVICE:
		ret = open_device(t, r);
		break;
	case RING_TRANSPORT_FWD:
		ret = open_fwd(t, r);
		break;
	case RING_TRANSPORT_UNKNOWN:
		break;			/* errno from stat() */
	default:
		errno = EOPNOTSUPP;
		break;
	}
	if (!ret && !fd_ours(r)) {
		errno = EBADF;		/* the program closed it meanwhile */
		ret = -1;
	}
	if (ret) {
		saved = errno;
		release(r);
		errno = saved;
	}
	return ret;
}

/* ----------------------------------------------------------- the thread */

/*
 * The thread's ring is no use any more: let it go. off: its consumer
 * ended it (status), this thread writes from now on; otherwise a new
 * ring may be made after RING_RETRY_NS (a restarted tlstap-fwd).
 */
static void end(struct ring_table *t, struct ring_thread *th, bool off)
{
	struct ring *r = th->ring;

	th->ring = NULL;
	th->off |= off;
	th->retry_at = now_ns(CLOCK_MONOTONIC_COARSE) + RING_RETRY_NS;
	pthread_setspecific(t->key, NULL);
	ring_close(r);
}

/* Thread exit: the consumer drains what the ring holds once it is gone. */
static void thread_exit(void *arg)
{
	struct ring_thread *th = &ring_thread;

	if (th->ring != arg)
		return;
	th->busy = true;
	atomic_signal_fence(memory_order_seq_cst);
	th->ring = NULL;
	ring_close(arg);
	atomic_signal_fence(memory_order_seq_cst);
	th->busy = false;
}

/* Makes the thread's ring, at most once per RING_RETRY_NS. */
static struct ring *make(struct ring_table *t, struct ring_thread *th)
{
	struct ring *r;
	int cancel;
	bool ok;

	if (th->off ||
	    atomic_load_explicit(&t->transport, memory_order_relaxed) ==
		    RING_TRANSPORT_NONE ||
	    now_ns(CLOCK_MONOTONIC_COARSE) < th->retry_at)
		return NULL;
	r = ring_slot_alloc(t);
	if (r) {
		/* A half-made ring must not be left by a cancellation. */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
		ok = !ring_open(t, r) && !pthread_setspecific(t->key, r);
		pthread_setcancelstate(cancel, NULL);
		if (ok) {
			th->ring = r;
			return r;
		}
		ring_close(r);
	}
	th->retry_at = now_ns(CLOCK_MONOTONIC_COARSE) + RING_RETRY_NS;
	return NULL;
}

static struct ring *thread_ring(struct ring_table *t, struct ring_thread *th,
				unsigned int flags)
{
	struct ring *r = th->ring;

	if (__builtin_expect(r != NULL, 1)) {
		int fd = atomic_load_explicit(&r->fd, memory_order_relaxed);

		if (__builtin_expect(fd == r->own_fd, 1))
			return r;
		if (fd != RING_FD_NONE)
			return NULL;	/* a close_range() or dup2() in flight */
		end(t, th, false);	/* the program closed it */
	}
	return flags & RING_PUT_NO_MAKE ? NULL : make(t, th);
}

/*
 * Wakes the consumer: false when that showed it gone (the ring was let
 * go). A full socket buffer is fine: tlstap-fwd has messages to read.
 */
static bool wake(struct ring_table *t, struct ring_thread *th, struct ring *r)
{
	static const struct tlstap_capring_msg msg = {
		.type = TLSTAP_CAPRING_MSG_WAKE,
	};
	long ret;

	if (!fd_ours(r)) {
		end(t, th, false);
		return false;
	}
	if (r->transport == RING_TRANSPORT_DEVICE)
		ret = syscall(SYS_write, r->own_fd, NULL, 0);
	else
		ret = syscall(SYS_sendto, r->own_fd, &msg, sizeof(msg),
			      MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
	if (ret >= 0 || errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
		return true;
	if (errno == EBADF)
		fd_lost(r);
	end(t, th, false);
	return false;
}

/*
 * After a record (or a full ring): wake the consumer if it went idle,
 * or, once per consumer position, when more than three quarters are in
 * use. false: the ring was let go.
 */
static bool wake_if_needed(struct ring_table *t, struct ring_thread *th,
			   struct ring *r)
{
	/* After capring_commit()'s full barrier (PROTOCOL.md 7.2). */
	if (!(capring_read_once(r->cons->flags) & TLSTAP_CAPRING_F_NEED_WAKEUP)) {
		if (!capring_refresh(&r->p)) {
			end(t, th, true);
			return false;
		}
		if (capring_used(&r->p) <= r->p.data_size / 4 * 3 ||
		    (r->kicked && r->kicked_cons == r->p.cons))
			return true;
		r->kicked = true;
		r->kicked_cons = r->p.cons;
	}
	return wake(t, th, r);
}

/* Reads what tlstap-fwd sent (ROOM). false: it hung up. */
static bool read_room(struct ring_table *t, struct ring_thread *th,
		      struct ring *r)
{
	struct tlstap_capring_msg msg;

	for (;;) {
		long n = syscall(SYS_recvfrom, r->own_fd, &msg, sizeof(msg),
				 MSG_DONTWAIT, NULL, NULL);

		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n < 0 && errno == EBADF)
			fd_lost(r);
		end(t, th, false);
		return false;
	}
}

/*
 * on_full = block, the ring full: sleeps until there may be room, never
 * spins. /dev/tlstap: poll() for POLLOUT (half the ring free). tlstap-fwd:
 * PF_WAITING set, then a look at the room again (the caller's next
 * claim), then poll() for its ROOM. false: the ring was let go.
 */
static bool wait_room(struct ring_table *t, struct ring_thread *th,
		      struct ring *r)
{
	struct pollfd pfd = { .fd = r->own_fd };
	int n;

	if (r->transport == RING_TRANSPORT_FWD && !r->waiting) {
		capring_store_mb(&r->prod->flags, TLSTAP_CAPRING_PF_WAITING);
		r->waiting = true;
		return true;
	}
	if (!fd_ours(r)) {
		end(t, th, false);
		return false;
	}
	pfd.events = r->transport == RING_TRANSPORT_DEVICE ? POLLOUT : POLLIN;
	do
		n = poll(&pfd, 1, -1);
	while (n < 0 && errno == EINTR);
	/* The module ended the ring: write() from now on, as for status. */
	if (r->transport == RING_TRANSPORT_DEVICE && (pfd.revents & POLLERR)) {
		end(t, th, true);
		return false;
	}
	if (n < 0 || (pfd.revents & (POLLERR | POLLNVAL)) ||
	    (r->transport == RING_TRANSPORT_DEVICE &&
	     (pfd.revents & POLLHUP))) {
		end(t, th, false);
		return false;
	}
	return r->transport == RING_TRANSPORT_DEVICE || read_room(t, th, r);
}

/* The record into r, or why not. */
static enum ring_result put(struct ring_table *t, struct ring_thread *th,
			    struct ring *r, const struct record_meta *m,
			    const uint8_t *msg, size_t len, size_t *taken,
			    unsigned int flags)
{
	uint32_t max = capring_read_once(r->cons->max_msg_len), n, flen;
	uint8_t *rec;

	if (capring_read_once(r->cons->status)) {
		end(t, th, true);
		return RING_UNUSED;
	}
	if (max > r->frame_max)
		max = r->frame_max;
	if (!max && len)
		return RING_UNUSED;
	n = len < max ? (uint32_t)len : max;
	flen = TLSTAP_RECORD_HDR_LEN + n;
	while (!(rec = capring_claim(&r->p, flen))) {
		if (!capring_refresh(&r->p)) {
			end(t, th, true);	/* a consumer position that cannot be */
			return RING_UNUSED;
		}
		if (!wake_if_needed(t, th, r))
			return RING_UNUSED;
		if (!t->block || (flags & RING_PUT_NO_WAIT)) {
			*taken = n;
			return RING_DROPPED;
		}
		if (!wait_room(t, th, r))
			return RING_UNUSED;
	}
	if (r->waiting) {
		capring_write_once(r->prod->flags, 0);
		r->waiting = false;
	}
	/* The header straight into the frame, the plaintext copied once. */
	record_header((struct tlstap_record *)rec, m->type, m->dir, m->si, n,
		      m->pid, m->timestamp_ns, m->dropped);
	capring_publish(&r->p, flen);
	if (n)
		memcpy(rec + TLSTAP_RECORD_HDR_LEN, msg, n);
	capring_commit(rec, false);
	*taken = n;
	wake_if_needed(t, th, r);
	return RING_SENT;
}

bool ring_thread_ready(struct ring_table *t)
{
	const struct ring_thread *th = &ring_thread;
	struct ring *r = th->ring;

	return t->enabled && !th->busy && r &&
	       atomic_load_explicit(&r->fd, memory_order_relaxed) == r->own_fd;
}

enum ring_result ring_put(struct ring_table *t, const struct record_meta *m,
			  const void *msg, size_t len, size_t *taken,
			  unsigned int flags)
{
	struct ring_thread *th = &ring_thread;
	enum ring_result res = RING_UNUSED;
	struct ring *r;

	if (!t->enabled || th->busy)
		return RING_UNUSED;
	/* A signal handler that captures between here and the end writes. */
	th->busy = true;
	atomic_signal_fence(memory_order_seq_cst);
	r = thread_ring(t, th, flags);
	if (r)
		res = put(t, th, r, m, msg, len, taken, flags);
	atomic_signal_fence(memory_order_seq_cst);
	th->busy = false;
	return res;
}
