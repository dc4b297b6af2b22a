// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "process.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hook_libc.h"
#include "notice.h"

#ifndef TLSTAP_SYSCONFDIR
#error "TLSTAP_SYSCONFDIR must name the directory of the default tlstap.conf"
#endif
_Static_assert(sizeof(CONFIG_DEFAULT_PATH) <= sizeof(tlstap.conf_path),
	       "SYSCONFDIR is too long");

struct tlstap_process tlstap = {
	.exe = "(unknown program)",
	.init_lock = PTHREAD_MUTEX_INITIALIZER,
	.status = STATUS_UNDECIDED,
	.output = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.fd = -1,
	},
};

static uint32_t random32(void)
{
	struct timespec ts;
	uint32_t r;
	uint64_t z;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == sizeof(r))
		return r;
	/* Early boot, no entropy yet: splitmix64 of what differs. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	z = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
	    ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)&ts;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
}

uint64_t process_new_conn_id(void)
{
	uint32_t n = atomic_fetch_add(&tlstap.conn_next, 1) + 1;

	return (uint64_t)tlstap.conn_prefix << 32 | n;
}

static void report_config_error(const char *path,
				const struct config_error *err)
{
	if (err->line)
		notice_config("%s:%u: %s", path, err->line, err->msg);
	else
		notice_config("%s: %s", path, err->msg);
}

/* Called once, with init_lock held. */
static int decide(void)
{
	struct config_error err;
	struct config cfg;
	ssize_t n;

	if (!tlstap.fork_safe)
		return STATUS_INERT;
	n = readlink("/proc/self/exe", tlstap.exe, sizeof(tlstap.exe) - 1);
	if (n > 0)
		tlstap.exe[n] = '\0';
	if (tlstap.env_problem) {
		notice_config("%s", tlstap.env_problem);
		return STATUS_INERT;
	}
	if (config_load(tlstap.conf_path, &cfg, &err)) {
		/* No config file, none asked for: nothing to capture. */
		if (errno != ENOENT || tlstap.conf_from_env) {
			report_config_error(tlstap.conf_path, &err);
			return STATUS_INERT;
		}
		if (!tlstap.if_from_env)
			return STATUS_INERT;
		settings_defaults(&tlstap.settings);
	} else {
		config_select(&cfg, n > 0 ? tlstap.exe : NULL,
			      &tlstap.settings);
		config_free(&cfg);
	}
	if (tlstap.if_from_env)
		strcpy(tlstap.settings.if_path, tlstap.if_override);
	if (!tlstap.settings.capture) {
		settings_free(&tlstap.settings);
		return STATUS_INERT;
	}
	output_init(&tlstap.output, tlstap.settings.if_path,
		    tlstap.settings.on_full == ON_FULL_BLOCK);
	ring_table_init(&tlstap.rings, tlstap.settings.if_path,
			tlstap.settings.ring, tlstap.settings.ring_kb,
			tlstap.settings.on_full == ON_FULL_BLOCK);
	tlstap.conn_prefix = random32();
	return STATUS_CAPTURING;
}

bool process_init(void)
{
	int saved = errno, st;

	if (!atomic_load(&tlstap.loaded))
		return false;	/* called before our constructor: not yet */
	pthread_mutex_lock(&tlstap.init_lock);
	st = atomic_load(&tlstap.status);
	if (st == STATUS_UNDECIDED) {
		st = decide();
		atomic_store_explicit(&tlstap.status, st, memory_order_release);
	}
	pthread_mutex_unlock(&tlstap.init_lock);
	errno = saved;
	return st == STATUS_CAPTURING;
}

/*
 * fork(): every lock is held across it, so the child never inherits one
 * taken by a thread that does not exist there. The child keeps capturing
 * with its own pid and a new connection id prefix: sessions it opens get
 * ids its parent cannot also hand out; sessions it inherited keep theirs.
 * The parent's capture rings stay the parent's: the child makes its own.
 */
static void before_fork(void)
{
	pthread_mutex_lock(&tlstap.init_lock);
	pthread_mutex_lock(&tlstap.output.lock);
	session_table_lock_all(&tlstap.sessions);
}

static void after_fork_parent(void)
{
	session_table_unlock_all(&tlstap.sessions);
	pthread_mutex_unlock(&tlstap.output.lock);
	pthread_mutex_unlock(&tlstap.init_lock);
}

static void after_fork_child(void)
{
	int saved = errno;

	tlstap.pid = getpid();
	if (atomic_load(&tlstap.status) == STATUS_CAPTURING) {
		tlstap.conn_prefix = random32();
		atomic_store(&tlstap.conn_next, 0);
	}
	ring_table_fork_child(&tlstap.rings);
	/* Another process, maybe another user by now: its own notices. */
	atomic_store(&tlstap.said_open_failed, false);
	atomic_store(&tlstap.said_dropped, false);
	after_fork_parent();
	errno = saved;
}

/*
 * Two copies of the library can be in one process (tlstap-run on a system
 * with /etc/ld.so.preload): the program's calls reach the first, which
 * passes them to the second. Only the first may capture; the second finds
 * the first's instance symbol ahead of its own and stays inert.
 */
TLSTAP_EXPORT const int tlstap_instance = 1;

static bool first_instance(void)
{
	const void *first = dlsym(RTLD_DEFAULT, "tlstap_instance");
	Dl_info theirs, ours;

	if (!first) {
		dlerror();	/* leave no error for the program */
		return true;
	}
	/*
	 * By object, not by address: &tlstap_instance here would resolve
	 * to the first copy's symbol too (interposition).
	 */
	return !dladdr(first, &theirs) ||
	       !dladdr((const void *)first_instance, &ours) ||
	       theirs.dli_fbase == ours.dli_fbase;
}

static void copy_env(const char *name, char *dst, size_t size,
		     bool *present, const char *too_long)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return;
	if (strlen(v) >= size) {
		tlstap.env_problem = too_long;
		return;
	}
	strcpy(dst, v);
	*present = true;
}

__attribute__((constructor)) static void tlstap_load(void)
{
	const char *stderr_env;
	int saved = errno;

	/*
	 * setuid/setgid and other privilege-changing execs: never capture,
	 * whatever the environment or /etc/ld.so.preload says.
	 */
	if (getauxval(AT_SECURE) || !first_instance()) {
		atomic_store(&tlstap.status, STATUS_INERT);
		errno = saved;
		return;
	}
	hook_libc_resolve();
	strcpy(tlstap.conf_path, CONFIG_DEFAULT_PATH);
	copy_env("TLSTAP_CONF", tlstap.conf_path, sizeof(tlstap.conf_path),
		 &tlstap.conf_from_env, "TLSTAP_CONF: longer than PATH_MAX");
	copy_env("TLSTAP_IF", tlstap.if_override, sizeof(tlstap.if_override),
		 &tlstap.if_from_env, "TLSTAP_IF: longer than 107 bytes");
	if (tlstap.if_from_env && tlstap.if_override[0] != '/')
		tlstap.env_problem = "TLSTAP_IF: must be an absolute path";
	stderr_env = getenv("TLSTAP_STDERR");
	tlstap.stderr_allowed = stderr_env && strcmp(stderr_env, "1") == 0;
	session_table_init(&tlstap.sessions);
	tlstap.pid = getpid();
	tlstap.fork_safe = pthread_atfork(before_fork, after_fork_parent,
					  after_fork_child) == 0;
	atomic_store(&tlstap.loaded, true);
	errno = saved;
}
