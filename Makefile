# SPDX-License-Identifier: GPL-2.0
# tlstap: top-level build and test entry points.
#
#   make / make all   the module (when kernel headers are found) and userspace
#   make module       kmod/tlstap.ko against KDIR (W=1 is passed through)
#   make deps         install every Debian package the project needs: the
#                     sets run, build and test of scripts/debian-packages
#                     (scripts/install-deps, as make check and .ci/run)
#   make check        deps (all three sets), style, build (userspace with
#                     SANITIZE=1), fuzzing, host tests, KUnit (under KASAN
#                     and UBSAN) and VM tests; ends with "N passed, N failed"
#   make host-test    build userspace with SANITIZE=1 and run tests/host/
#   make style        checkpatch (Linux 6.1's) on kmod/, shared/ and the
#                     userspace C, shellcheck on every script; 0 findings
#                     wanted (scripts/style)
#   make fuzz         the libFuzzer harnesses of fuzz/, FUZZ_SECONDS each
#                     (default 10; FUZZ_TESTS="name1 name2" to select)
#   make kunit        KUnit suites under UML (KUNIT_FILTER=glob to select)
#   make kunit-san    the same with KASAN and UBSAN (own build directory)
#   make vm-test      build the module and userspace, run tests/vm/ in qemu
#                     (VM_TESTS="name1 name2" to select)
#   make bench        the module and tlstap-fwd side by side in qemu
#                     (bench/run, ROUNDS=5); prints a table of medians
#   make demo         the packages to run and build only (sets run and
#                     build, apt-get's progress shown), build, then curl
#                     and wget through tlstap-run to a local HTTPS server,
#                     the records shown as JSON lines and a pcapng
#                     (scripts/demo; the module where the kernel loads
#                     it, else tlstap-fwd)
#   make demo-vm      the same with the module, inside the qemu guest
#                     (needs make deps: qemu and the guest's kernel)
#   make install      tools, libtlstap.so, udev rule, systemd unit, man
#                     pages under PREFIX (/usr/local), tlstap.conf (if
#                     none) in SYSCONFDIR (PREFIX/etc; /etc for
#                     PREFIX=/usr); DESTDIR honoured; with PREFIX=/usr and
#                     no DESTDIR also install-system; make uninstall
#                     removes the files
#   make install-system  the steps that change this system beyond the
#                     files: the group tlstap, udev and systemd reloaded
#   make dkms-install tlstap.ko under DKMS (dkms/tlstap-dkms), for
#                     DKMS_KERNEL (default: the kernel scripts/kdir finds);
#                     make dkms-uninstall removes it
#   make clean

# The running kernel's headers, else the newest Debian 6.1 headers.
KDIR ?= $(shell $(CURDIR)/scripts/kdir 2>/dev/null)
USERSPACE_DIRS := userhook lib fwd ctl nfq-tools tests/tools bench
# The tools' directories: each installs its programs into SBINDIR.
TOOL_DIRS := fwd ctl nfq-tools

# Installation, by the GNU conventions: nothing outside PREFIX, but with
# PREFIX=/usr the configuration goes to /etc, as a distribution's. The
# library and tlstap-run are built with SYSCONFDIR (userhook/Makefile):
# the installed library reads SYSCONFDIR/tlstap.conf. udev and systemd
# read the rule and the unit under /usr and /usr/local.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/tlstap
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# The library's own directory (tlstap-run finds it as ../lib/tlstap).
PKGLIBDIR := $(PREFIX)/lib/tlstap
# The release: the VERSION file is its one place.
VERSION := $(shell cat $(CURDIR)/VERSION)
# make install and uninstall with PREFIX=/usr and no DESTDIR work on the
# system's own directories: they tell udev and systemd, and install adds
# the group (install-system).
SYSTEM_INSTALL := $(if $(DESTDIR),,$(filter /usr,$(PREFIX)))
MAN1 := tlstap-run.1
MAN4 := tlstap.4
MAN5 := tlstap.conf.5
MAN8 := tlstap-fwd.8 tlstap-recv.8 tlstap-nfq.8 tlstapctl.8
INSTALL_VARS = PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BINDIR=$(BINDIR) SBINDIR=$(SBINDIR)
# userhook's install build: its own directory, so that the build the
# tests use is never rebuilt under them with other paths compiled in.
USERHOOK_INSTALL_VARS = $(INSTALL_VARS) LIBDIR=$(PKGLIBDIR) \
	SYSCONFDIR=$(SYSCONFDIR) O=build-install

.PHONY: all module userspace deps check style host-test fuzz kunit kunit-san vm-test \
	bench clean install install-system uninstall dkms-install dkms-uninstall \
	demo demo-vm

all: $(if $(KDIR),module) userspace

module:
	@test -n "$(KDIR)" || { echo "make module: no kernel headers found:" \
		"install linux-headers-amd64 (make deps) or pass KDIR=DIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Each userspace directory is built by its own Makefile, once it has one.
userspace:
	@set -e; for dir in $(USERSPACE_DIRS); do \
		if [ -f $$dir/Makefile ]; then $(MAKE) -C $$dir; fi; \
	done

deps:
	$(CURDIR)/scripts/install-deps run build test

check:
	$(CURDIR)/tests/run deps module userspace style fuzz host kunit-san vm

style:
	$(CURDIR)/scripts/style

host-test:
	HOST_TESTS='$(HOST_TESTS)' $(CURDIR)/tests/run userspace host

fuzz:
	FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_TESTS='$(FUZZ_TESTS)' \
		$(CURDIR)/tests/run fuzz

kunit:
	KUNIT_FILTER='$(KUNIT_FILTER)' $(CURDIR)/tests/run kunit

kunit-san:
	KUNIT_FILTER='$(KUNIT_FILTER)' $(CURDIR)/tests/run kunit-san

vm-test:
	VM_TESTS='$(VM_TESTS)' $(CURDIR)/tests/run module userspace vm

bench:
	$(CURDIR)/bench/run

demo:
	$(CURDIR)/scripts/demo

# The module for the kernel the VM boots, whatever this host runs.
demo-vm: userspace
	$(MAKE) module KDIR=$$($(CURDIR)/scripts/kdir --vm)
	VM_SCRIPT=$(CURDIR)/scripts/demo-kernel $(CURDIR)/tests/vm/harness/run

# The man pages name this installation's paths and version: @NAME@ in
# man/ is replaced as the systemd unit's are.
MAN_SED := sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@PKGLIBDIR@|$(PKGLIBDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
	-e 's|@UDEVRULESDIR@|$(UDEVRULESDIR)|g'

# The plain (not sanitized) build of userhook and the tools. A man page
# goes with its tool: a section 8 page only with its program installed.
install:
	$(MAKE) -C userhook install $(USERHOOK_INSTALL_VARS)
	@set -e; for dir in $(TOOL_DIRS); do $(MAKE) -C $$dir install $(INSTALL_VARS); done
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	@set -e; for page in $(MAN1) $(MAN4) $(MAN5) $(MAN8); do \
		dest=$(DESTDIR)$(MANDIR)/man$${page##*.}/$$page; \
		case $$page in *.8) [ -x $(DESTDIR)$(SBINDIR)/$${page%.8} ] || continue ;; esac; \
		echo "man/$$page, its paths filled in: $$dest"; \
		$(MAN_SED) man/$$page >$$dest; \
		chmod 0644 $$dest; \
	done
	install -d $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/default \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 dist/tlstap.conf.example $(DESTDIR)$(DOCDIR)/
	@# Configuration is the administrator's: never overwritten.
	@set -e; for f in tlstap.conf:tlstap.conf.example \
			default/tlstap-recv:tlstap-recv.default; do \
		dest=$(DESTDIR)$(SYSCONFDIR)/$${f%%:*}; \
		if [ -e $$dest ]; then echo "kept $$dest"; \
		else echo install -m 0644 dist/$${f#*:} $$dest; \
			install -m 0644 dist/$${f#*:} $$dest; fi; \
	done
	install -m 0644 dist/60-tlstap.rules $(DESTDIR)$(UDEVRULESDIR)/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		dist/tlstap-recv.service >$(DESTDIR)$(SYSTEMDUNITDIR)/tlstap-recv.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tlstap-recv.service
ifneq ($(SYSTEM_INSTALL),)
	$(MAKE) --no-print-directory install-system
endif

define reload_udev_systemd
if [ -d /run/udev/control ] || [ -S /run/udev/control ]; then udevadm control --reload; fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
endef

# What changes this system beyond the files, as root: the group tlstap
# (the udev rule gives it /dev/tlstap), udev and systemd told to reread
# their rules and units. With a PREFIX they do not read, it says how to
# point them at the installed rule and unit.
install-system:
	@test -z "$(DESTDIR)" || { echo "make install-system changes this" \
		"system: not with DESTDIR (a package does it when installed)" >&2; exit 1; }
	getent group tlstap >/dev/null || groupadd -r tlstap
	$(reload_udev_systemd)
	@case $(UDEVRULESDIR) in /usr/lib/udev/rules.d | /usr/local/lib/udev/rules.d) ;; \
	*) echo "udev reads no rules in $(UDEVRULESDIR): to use the rule," \
		"ln -s $(UDEVRULESDIR)/60-tlstap.rules /etc/udev/rules.d/" ;; esac
	@case $(SYSTEMDUNITDIR) in /usr/lib/systemd/system | /usr/local/lib/systemd/system) ;; \
	*) echo "systemd reads no units in $(SYSTEMDUNITDIR): to use the unit," \
		"systemctl link $(SYSTEMDUNITDIR)/tlstap-recv.service" ;; esac

# Configuration files are removed only when unchanged; the group stays
# (files may belong to it).
uninstall:
	$(MAKE) -C userhook uninstall $(USERHOOK_INSTALL_VARS)
	@set -e; for dir in $(TOOL_DIRS); do $(MAKE) -C $$dir uninstall $(INSTALL_VARS); done
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(MAN1)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man4/,$(MAN4)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(MAN5)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(MAN8)) \
		$(DESTDIR)$(DOCDIR)/tlstap.conf.example \
		$(DESTDIR)$(UDEVRULESDIR)/60-tlstap.rules \
		$(DESTDIR)$(SYSTEMDUNITDIR)/tlstap-recv.service
	if [ -d $(DESTDIR)$(DOCDIR) ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(DOCDIR); fi
	@set -e; for f in tlstap.conf:tlstap.conf.example \
			default/tlstap-recv:tlstap-recv.default; do \
		dest=$(DESTDIR)$(SYSCONFDIR)/$${f%%:*}; \
		if [ ! -e $$dest ]; then continue; fi; \
		if cmp -s dist/$${f#*:} $$dest; then echo rm -f $$dest; rm -f $$dest; \
		else echo "kept $$dest (changed)"; fi; \
	done
ifneq ($(SYSTEM_INSTALL),)
	$(reload_udev_systemd)
endif

dkms-install:
	$(CURDIR)/dkms/tlstap-dkms install $(DKMS_KERNEL)

dkms-uninstall:
	$(CURDIR)/dkms/tlstap-dkms remove

clean:
	@set -e; for dir in $(USERSPACE_DIRS); do \
		if [ -f $$dir/Makefile ]; then $(MAKE) -C $$dir clean; fi; \
	done
	$(MAKE) -C fuzz clean
ifneq ($(KDIR),)
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	@# kbuild cleans the directories it descends into: not shared/.
	find shared \( -name '*.o' -o -name '.*.cmd' -o -name '.*.d' \) -delete
else
	find kmod shared \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '.*.d' -o -name modules.order \) -delete
	rm -f Module.symvers modules.order
endif
