// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "resolve.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJECTS 512

struct objects {
	char *names[MAX_OBJECTS];
	unsigned int n;
	uintptr_t self;		/* load address of this library */
};

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct objects *o = arg;

	(void)size;
	if (info->dlpi_addr != o->self && info->dlpi_name &&
	    info->dlpi_name[0] && o->n < MAX_OBJECTS) {
		/* A copy: another thread may unload the object meanwhile. */
		o->names[o->n] = strdup(info->dlpi_name);
		if (o->names[o->n])
			o->n++;
	}
	return 0;
}

/*
 * RTLD_NEXT does not see libraries a program dlopen()ed with RTLD_LOCAL
 * (Python loads libssl through its _ssl module that way), so look through
 * every loaded object.
 */
static void *search_loaded(const char *name)
{
	struct objects *o;
	Dl_info self;
	void *handle, *fn = NULL;
	unsigned int i;

	if (!dladdr((void *)search_loaded, &self))
		return NULL;
	o = malloc(sizeof(*o));	/* 4 KiB: too much for small thread stacks */
	if (!o)
		return NULL;
	o->n = 0;
	o->self = (uintptr_t)self.dli_fbase;
	/* dlopen() must not run inside dl_iterate_phdr(): collect first. */
	dl_iterate_phdr(collect, o);
	for (i = 0; i < o->n; i++) {
		handle = fn ? NULL : dlopen(o->names[i], RTLD_LAZY | RTLD_NOLOAD);
		if (handle) {
			fn = dlsym(handle, name);
			dlclose(handle);
		}
		free(o->names[i]);
	}
	free(o);
	return fn;
}

void *resolve_symbol(const char *name)
{
	int saved = errno;
	void *fn;

	fn = dlsym(RTLD_NEXT, name);
	if (!fn) {
		fn = search_loaded(name);
		/* Leave no error of ours for the program's next dlerror(). */
		dlerror();
	}
	errno = saved;
	return fn;
}
