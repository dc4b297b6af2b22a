# SPDX-License-Identifier: GPL-2.0 OR MIT
# The build every tool directory shares (fwd/, ctl/, nfq-tools/), included
# by their Makefiles after they set:
#   TOOLS  the programs, $(O)/NAME from NAME.c
#   SRCS   the library sources they link: their own, and those of ../lib/
#          (every tool's) and ../shared/ (the module's too) they use
#   TESTS  test programs, $(O)/NAME from tests/NAME.c
#   UNIT   the sources of their unit tests (tests/*_test.c, and the
#          helpers those share), linked with ../lib/tests/unit.c's runner
#          into $(O)/unit, which `make check` runs
#   EXTRA_HDRS  headers of other directories their sources include
# Targets: all (default), check (with UNIT), install, uninstall, clean.
#   make               build into build/
#   make SANITIZE=1    an ASan/UBSan variant into build-san/
#   make install       the tools into $(DESTDIR)$(SBINDIR) (make uninstall)

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	  -Wmissing-prototypes -D_GNU_SOURCE
CPPFLAGS += -I. -I../lib -I../shared -I../include/uapi
O := build
ifeq ($(SANITIZE),1)
O := build-san
CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

# Objects by where their source is: ../lib/x.c -> $(O)/common/x.o,
# ../shared/x.c -> $(O)/shared/x.o, ../DIR/x.c -> $(O)/DIR/x.o,
# lib/x.c -> $(O)/lib/x.o, x.c -> $(O)/x.o.
obj_of = $(patsubst %.c,$(O)/%.o,$(patsubst ../%.c,$(O)/%.o,$(patsubst ../lib/%.c,$(O)/common/%.o,$(1))))
LIB_OBJS := $(call obj_of,$(SRCS))
HDRS := $(wildcard *.h lib/*.h ../lib/*.h ../shared/*.h) \
	../include/uapi/linux/tlstap.h $(EXTRA_HDRS)
UNIT_OBJS := $(call obj_of,$(UNIT) $(if $(UNIT),../lib/tests/unit.c))
UNIT_HDRS := $(wildcard tests/*.h ../lib/tests/*.h ../shared/tests/*.h)

all: $(TOOLS:%=$(O)/%) $(TESTS:%=$(O)/%) $(if $(UNIT),$(O)/unit)

$(O)/common/%.o: ../lib/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/%.o: ../%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/%.o: tests/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The release, from the tree's VERSION file (its one place): --version.
VERSION := $(or $(shell cat ../VERSION 2>/dev/null),$(error ../VERSION is missing))
$(O)/common/cli.o: CPPFLAGS += -DTLSTAP_VERSION='"$(VERSION)"'
$(O)/common/cli.o: ../VERSION

$(O)/libtools.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(O)/%: $(O)/%.o $(O)/libtools.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)

ifneq ($(UNIT),)
# The unit tests include the runner's and the shared helpers' headers.
$(UNIT_OBJS): CPPFLAGS += -I../lib/tests -I../shared/tests
$(UNIT_OBJS): $(UNIT_HDRS)

$(O)/unit: $(UNIT_OBJS) $(O)/libtools.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)

check: $(O)/unit
	./$(O)/unit
endif

install: $(TOOLS:%=$(O)/%)
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $^ $(DESTDIR)$(SBINDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(TOOLS))

clean:
	rm -rf build build-san

.PHONY: all check install uninstall clean
.SECONDARY:
