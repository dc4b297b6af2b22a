// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "runcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "line.h"
#include "output.h"
#include "ring.h"

/* The kernel reads this much of a file for its "#!" line. */
#define SHEBANG_MAX	256
/* And follows interpreters that are scripts this deep. */
#define SHEBANG_DEPTH	4

static int find_file(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno;
	if (!S_ISREG(st.st_mode) || access(path, X_OK))
		return EACCES;
	return 0;
}

int check_find(const char *name, char path[PATH_MAX])
{
	const char *dirs = getenv("PATH"), *p;
	int err = ENOENT, e;
	size_t n;

	if (!*name)
		return ENOENT;
	if (strchr(name, '/')) {
		if (strlen(name) >= PATH_MAX)
			return ENAMETOOLONG;
		strcpy(path, name);
		return find_file(path);
	}
	if (!dirs)
		dirs = "/bin:/usr/bin";		/* execvp()'s default */
	for (p = dirs;; p += n + 1) {
		n = strcspn(p, ":");
		/* An empty element is the current directory. */
		if (snprintf(path, PATH_MAX, "%.*s%s%s", (int)n, p,
			     n ? "/" : "", name) < PATH_MAX) {
			e = find_file(path);
			if (!e)
				return 0;
			if (e == EACCES)
				err = EACCES;	/* as execvp(): go on, say so */
		}
		if (!p[n])
			return err;
	}
}

/*
 * The interpreter a script names on its "#!" line, or, when that is
 * env(1) with a program name, the program env runs: true and *out, false
 * when path is no script.
 */
static bool interpreter(const char *path, char out[PATH_MAX])
{
	char buf[SHEBANG_MAX + 1], *p, *interp, *arg, *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	n = read(fd, buf, SHEBANG_MAX);
	close(fd);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return false;
	buf[n] = '\0';
	p = buf + 2;
	p[strcspn(p, "\n")] = '\0';
	interp = p + strspn(p, " \t");
	p = interp + strcspn(interp, " \t");
	arg = p;
	if (*p) {
		*p = '\0';
		arg = p + 1 + strspn(p + 1, " \t");
	}
	/* The kernel passes the rest of the line as one argument. */
	end = arg + strlen(arg);
	while (end > arg && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (!*interp)
		return false;
	if (!strcmp(basename(interp), "env") && *arg && *arg != '-' &&
	    !strpbrk(arg, " \t=") && !check_find(arg, out))
		return true;
	snprintf(out, PATH_MAX, "%s", interp);
	return true;
}

/* What /proc/self/exe will be in the program: it, or its interpreter. */
static int binary_of(const char *path, char out[PATH_MAX], bool *script)
{
	char cur[PATH_MAX], next[PATH_MAX];

	snprintf(cur, sizeof(cur), "%s", path);
	for (int depth = 0; depth <= SHEBANG_DEPTH && interpreter(cur, next);
	     depth++) {
		strcpy(cur, next);
		*script = true;
	}
	return realpath(cur, out) ? 0 : -1;
}

/*
 * The kernel sets AT_SECURE, and the library then stays inert, when the
 * exec changes the credentials: a set-user-ID or set-group-ID binary of
 * another user or group, or file capabilities for a user other than
 * root; not on a file system mounted nosuid.
 */
static const char *never_captured(const char *bin)
{
	struct statvfs vfs;
	struct stat st;

	if (stat(bin, &st) || (!statvfs(bin, &vfs) && (vfs.f_flag & ST_NOSUID)))
		return NULL;
	if ((st.st_mode & S_ISUID) && st.st_uid != getuid())
		return "set-user-ID";
	if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) &&
	    st.st_gid != getgid())
		return "set-group-ID";
	if (getuid() && getxattr(bin, "security.capability", NULL, 0) > 0)
		return "given capabilities by its file";
	return NULL;
}

/* The config as the library reads it: TLSTAP_CONF, TLSTAP_IF, the file. */
static void read_config(struct check *c)
{
	const char *env_conf = getenv("TLSTAP_CONF");
	const char *env_if = getenv("TLSTAP_IF");
	bool conf_given = env_conf && *env_conf;
	const struct config_section *sec;
	struct config cfg;

	c->config = CHECK_CONFIG_BROKEN;
	c->err.line = 0;
	if (conf_given && strlen(env_conf) >= sizeof(c->conf)) {
		snprintf(c->conf, sizeof(c->conf), "TLSTAP_CONF");
		snprintf(c->err.msg, sizeof(c->err.msg), "longer than PATH_MAX");
		return;
	}
	strcpy(c->conf, conf_given ? env_conf : CONFIG_DEFAULT_PATH);
	c->if_from_env = env_if && *env_if;
	if (c->if_from_env &&
	    (env_if[0] != '/' || strlen(env_if) > CONFIG_MAX_IF)) {
		snprintf(c->conf, sizeof(c->conf), "TLSTAP_IF");
		snprintf(c->err.msg, sizeof(c->err.msg), env_if[0] != '/' ?
			 "must be an absolute path" : "longer than 107 bytes");
		return;
	}
	if (config_load(c->conf, &cfg, &c->err)) {
		/* As the library: only a missing default file is no error. */
		if (errno != ENOENT || conf_given)
			return;
		c->config = CHECK_CONFIG_NONE;
		if (!c->if_from_env)
			return;
		settings_defaults(&c->settings);
	} else {
		c->config = CHECK_CONFIG_READ;
		sec = config_select(&cfg, c->binary, &c->settings);
		if (sec) {
			strcpy(c->section, sec->name);
			c->section_line = sec->line;
		}
		config_free(&cfg);
	}
	c->have_settings = true;
	if (c->if_from_env)
		strcpy(c->settings.if_path, env_if);
}

/* Opens the output as output.c does, and closes it. */
static void try_output(struct check *c)
{
	struct output out = { .lock = PTHREAD_MUTEX_INITIALIZER };
	const char *path = c->settings.if_path;
	socklen_t len = sizeof(int);
	struct stat st;
	int fd, type;

	c->tried = true;
	if (!stat(path, &st) && S_ISFIFO(st.st_mode)) {
		/*
		 * Opening a FIFO and closing it again gives a reader that
		 * waits for its first writer an end of file: only look.
		 */
		c->fifo = true;
		if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS))
			c->open_err = errno;
		return;
	}
	output_init(&out, path, false);
	if (!output_ready(&out)) {
		c->open_err = atomic_load(&out.error);
		if (!c->open_err)
			c->open_err = EIO;
		return;
	}
	fd = atomic_load(&out.fd);
	if (atomic_load(&out.kind) == OUTPUT_DEVICE)
		c->kind = "a character device";
	else if (!getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) &&
		 type == SOCK_SEQPACKET)
		c->kind = "a Unix seqpacket socket";
	else
		c->kind = "a Unix datagram socket";
	close(fd);
}

/* Makes a capture ring as ring.c does, and lets it go at once. */
static void try_ring(struct check *c)
{
	struct ring_table *t = calloc(1, sizeof(*t));
	struct ring *r;

	c->ring_tried = true;
	if (!t) {
		c->ring_err = ENOMEM;
		return;
	}
	ring_table_init(t, c->settings.if_path, true, c->settings.ring_kb,
			false);
	r = ring_slot_alloc(t);
	if (!r)
		c->ring_err = ENOSPC;
	else if (ring_open(t, r))
		c->ring_err = errno;
	c->ring_impossible = atomic_load(&t->transport) == RING_TRANSPORT_NONE;
	if (r)
		ring_close(r);
	if (t->enabled)
		pthread_key_delete(t->key);
	free(t);
}

int check_program(struct check *c, const char *path, bool try_rings)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->program, sizeof(c->program), "%s", path);
	if (binary_of(path, c->binary, &c->script))
		return -1;
	c->never = never_captured(c->binary);
	if (c->never)
		return 0;
	read_config(c);
	if (!c->have_settings || !c->settings.capture)
		return 0;
	try_output(c);
	if (try_rings && !c->open_err && !c->fifo && c->settings.ring)
		try_ring(c);
	return 0;
}

void check_free(struct check *c)
{
	if (c->have_settings)
		settings_free(&c->settings);
	c->have_settings = false;
}

bool check_captured(const struct check *c)
{
	return !c->never && c->have_settings && c->settings.capture &&
	       c->tried && !c->open_err;
}

static void print_user(FILE *f)
{
	const struct passwd *pw = getpwuid(getuid());
	gid_t groups[NGROUPS_MAX];
	const struct group *gr;
	int n;

	fprintf(f, "user: uid %u (%s), ", (unsigned int)getuid(),
		pw ? pw->pw_name : "?");
	gr = getgrgid(getgid());
	fprintf(f, "gid %u (%s)\n", (unsigned int)getgid(),
		gr ? gr->gr_name : "?");
	n = getgroups(NGROUPS_MAX, groups);
	fprintf(f, "groups:");
	for (int i = 0; i < n; i++) {
		gr = getgrgid(groups[i]);
		fprintf(f, " %u (%s)", (unsigned int)groups[i],
			gr ? gr->gr_name : "?");
	}
	fprintf(f, n > 0 ? "\n" : " none\n");
}

static void print_config(const struct check *c, FILE *f)
{
	switch (c->config) {
	case CHECK_CONFIG_READ:
		fprintf(f, "config: %s\n", c->conf);
		break;
	case CHECK_CONFIG_NONE:
		fprintf(f, "config: %s: none; without a config file only -i (TLSTAP_IF) captures\n",
			c->conf);
		break;
	case CHECK_CONFIG_BROKEN:
		if (c->err.line)
			fprintf(f, "config: %s:%u: %s\n", c->conf, c->err.line,
				c->err.msg);
		else
			fprintf(f, "config: %s: %s\n", c->conf, c->err.msg);
		break;
	}
}

static void print_settings(const struct check *c, FILE *f)
{
	const struct settings *s = &c->settings;

	if (c->config == CHECK_CONFIG_READ) {
		if (*c->section)
			fprintf(f, "section: %s, line %u\n", c->section,
				c->section_line);
		else
			fprintf(f, "section: none, global applies\n");
	}
	fprintf(f, "capture: %s\n", s->capture ? "yes" : "no");
	fprintf(f, "output: %s%s\n", s->if_path,
		c->if_from_env ? " (from -i or TLSTAP_IF)" : "");
	fprintf(f, "on_full: %s\n", s->on_full == ON_FULL_BLOCK ? "block" : "drop");
	for (size_t i = 0; i < s->n_excludes; i++)
		fprintf(f, "exclude: %s\n", s->exclude_texts[i]);
	if (!s->n_excludes)
		fprintf(f, "exclude: none\n");
	if (s->ring)
		fprintf(f, "ring: yes, %u KiB\n", s->ring_kb);
	else
		fprintf(f, "ring: no\n");
}

static void print_output(const struct check *c, FILE *f)
{
	struct line l;

	line_init(&l);
	if (c->open_err) {
		output_explain(&l, c->settings.if_path, c->open_err);
		fprintf(f, "opens: no, %s\n", l.buf);
		return;
	}
	if (c->fifo) {
		fprintf(f, "opens: a FIFO, writable; whether it has a reader is not checked (opening it would end a reader that waits for its first writer)\n");
		fprintf(f, "records: by write(), a FIFO has no capture rings\n");
		return;
	}
	fprintf(f, "opens: yes, %s\n", c->kind);
	if (!c->settings.ring) {
		fprintf(f, "records: by write(), ring = no\n");
	} else if (!c->ring_err) {
		fprintf(f, "records: into a capture ring per thread, %u KiB\n",
			c->settings.ring_kb);
	} else if (c->ring_impossible && !strcmp(c->kind, "a Unix datagram socket")) {
		fprintf(f, "records: by write(), a datagram socket has no capture rings\n");
	} else {
		line_add_errno(&l, c->ring_err);
		fprintf(f, "records: by write(), no capture ring: %s%s\n", l.buf,
			c->ring_err == EACCES ?
			" (a ring needs the device opened for reading too)" : "");
	}
}

void check_print(const struct check *c, FILE *f)
{
	if (c->script)
		fprintf(f, "program: %s, a script run by %s\n", c->program,
			c->binary);
	else
		fprintf(f, "program: %s\n", c->binary);
	print_user(f);
	if (c->never) {
		fprintf(f, "captured: no, %s is %s: the library never captures it\n",
			c->program, c->never);
		return;
	}
	print_config(c, f);
	if (c->have_settings)
		print_settings(c, f);
	if (c->tried)
		print_output(c, f);
	if (check_captured(c))
		fprintf(f, "captured: yes\n");
	else if (c->config == CHECK_CONFIG_BROKEN)
		fprintf(f, "captured: no, the config is broken\n");
	else if (!c->have_settings)
		fprintf(f, "captured: no, no config file and no -i\n");
	else if (!c->settings.capture)
		fprintf(f, "captured: no, capture = no\n");
	else
		fprintf(f, "captured: no, its records are dropped until the output can be opened\n");
}

int check_warn(const struct check *c, FILE *f)
{
	struct line l;

	if (c->never) {
		fprintf(f, "tlstap-run: %s is %s: the library never captures it\n",
			c->binary, c->never);
		return 1;
	}
	switch (c->config) {
	case CHECK_CONFIG_BROKEN:
		if (c->err.line)
			fprintf(f, "tlstap-run: %s:%u: %s: %s is not captured\n",
				c->conf, c->err.line, c->err.msg, c->binary);
		else
			fprintf(f, "tlstap-run: %s: %s: %s is not captured\n",
				c->conf, c->err.msg, c->binary);
		return 1;
	case CHECK_CONFIG_NONE:
		if (c->have_settings)
			break;
		fprintf(f, "tlstap-run: no config file %s and no -i: %s is not captured\n",
			c->conf, c->binary);
		return 1;
	case CHECK_CONFIG_READ:
		break;
	}
	if (!c->settings.capture || !c->open_err)
		return 0;
	line_init(&l);
	output_explain(&l, c->settings.if_path, c->open_err);
	fprintf(f, "tlstap-run: %s: cannot open output %s: %s; its records are dropped until it can be opened\n",
		c->binary, c->settings.if_path, l.buf);
	return 1;
}
