/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The library's process-wide state, all of it in one struct. The
 * constructor only copies what it needs from the environment (nginx and
 * others clear their workers' environment before the first TLS call) and
 * registers the fork handlers; the config is read on first use.
 */
#ifndef TLSTAP_PROCESS_H
#define TLSTAP_PROCESS_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "output.h"
#include "ring.h"
#include "session.h"

#define TLSTAP_EXPORT __attribute__((visibility("default")))

enum process_status {
	STATUS_UNDECIDED,	/* config not read yet */
	STATUS_CAPTURING,
	STATUS_INERT,		/* setuid, no config, bad config, capture = no */
};

struct tlstap_process {
	_Atomic bool loaded;		/* the constructor ran */
	bool fork_safe;			/* fork handlers registered */
	/* From the environment at load time. */
	char conf_path[PATH_MAX];
	bool conf_from_env;		/* TLSTAP_CONF was set */
	char if_override[CONFIG_MAX_IF + 1];
	bool if_from_env;		/* TLSTAP_IF was set */
	const char *env_problem;	/* reported on first use */
	bool stderr_allowed;		/* TLSTAP_STDERR=1: tlstap-run's */

	pid_t pid;			/* cached: getpid() is a system call */
	char exe[PATH_MAX];		/* the program's binary, for notices */
	_Atomic bool said_open_failed;	/* notice.c: once per process */
	_Atomic bool said_dropped;
	pthread_mutex_t init_lock;
	_Atomic int status;		/* enum process_status */
	struct settings settings;	/* valid when STATUS_CAPTURING */
	struct output output;
	struct ring_table rings;	/* capture rings, one per thread */
	struct session_table sessions;
	uint32_t conn_prefix;		/* random per process, new after fork */
	_Atomic uint32_t conn_next;
	/* BIO_f_ssl() as handed to the program: a copy that captures. */
	_Atomic(void *) ssl_bio_method;
};

extern struct tlstap_process tlstap;

/* Reads the config on the first call. */
bool process_init(void);

static inline bool process_capturing(void)
{
	int st = atomic_load_explicit(&tlstap.status, memory_order_acquire);

	if (st == STATUS_CAPTURING)
		return true;
	if (st == STATUS_INERT)
		return false;
	return process_init();
}

/* true when sessions may be cached: there is something to forget. */
static inline bool process_has_sessions(void)
{
	return atomic_load_explicit(&tlstap.status, memory_order_acquire) ==
	       STATUS_CAPTURING;
}

uint64_t process_new_conn_id(void);

#endif /* TLSTAP_PROCESS_H */
