# SPDX-License-Identifier: GPL-2.0
# tlstap: top-level build and test entry points.
#
#   make / make all   the module (when kernel headers are found) and userspace
#   make module       kmod/tlstap.ko against KDIR (W=1 is passed through)
#   make deps         install the Debian packages in scripts/debian-packages
#   make check        deps, build (userspace with SANITIZE=1), host tests,
#                     KUnit and VM tests; ends with "N passed, N failed"
#   make host-test    build userspace with SANITIZE=1 and run tests/host/
#   make kunit        KUnit suites under UML (KUNIT_FILTER=glob to select)
#   make vm-test      build the module and userspace, run tests/vm/ in qemu
#                     (VM_TESTS="name1 name2" to select)
#   make bench        the module and tlstap-fwd side by side in qemu
#                     (bench/run, ROUNDS=5); prints a table of medians
#   make clean

# The running kernel's headers, else the newest Debian 6.1 headers.
KDIR ?= $(shell $(CURDIR)/scripts/kdir 2>/dev/null)
USERSPACE_DIRS := userhook nfq-tools tests/tools bench

.PHONY: all module userspace deps check host-test kunit vm-test bench clean

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
	$(CURDIR)/scripts/install-deps

check:
	$(CURDIR)/tests/run deps module userspace host kunit vm

host-test:
	HOST_TESTS='$(HOST_TESTS)' $(CURDIR)/tests/run userspace host

kunit:
	KUNIT_FILTER='$(KUNIT_FILTER)' $(CURDIR)/tests/run kunit

vm-test:
	VM_TESTS='$(VM_TESTS)' $(CURDIR)/tests/run module userspace vm

bench:
	$(CURDIR)/bench/run

clean:
	@set -e; for dir in $(USERSPACE_DIRS); do \
		if [ -f $$dir/Makefile ]; then $(MAKE) -C $$dir clean; fi; \
	done
ifneq ($(KDIR),)
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
else
	find kmod \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '.*.d' -o -name modules.order \) -delete
	rm -f Module.symvers modules.order
endif
