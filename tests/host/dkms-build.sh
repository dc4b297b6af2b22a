#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make dkms-install and make dkms-uninstall with the real dkms against the
# installed Debian 6.1 headers: dkms add, build and install of tlstap from
# /usr/src/tlstap-VERSION (a copy holding only Kbuild, kmod/ and the uapi
# header, so the build cannot lean on the checkout). Checks: dkms status
# says installed; the built .ko is named tlstap, has vermagic KVER (6.1)
# and the module parameters port and gso; dkms install put it into
# /lib/modules/KVER/updates/dkms and depmod made modinfo -k KVER find it.
# Installing into the module tree needs no module loading; loading is
# left to the VM tests. Then make dkms-uninstall leaves nothing behind.
set -euo pipefail
# shellcheck source=tests/host/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

command -v dkms >/dev/null || fail "dkms is not installed (scripts/debian-packages)"
version=$(cat "$SRC/VERSION")
kver=$("$SRC/dkms/tlstap-dkms" kernel) || fail "no kernel headers to build against (linux-headers-amd64)"
[ -d "/lib/modules/$kver/build" ] || fail "dkms needs /lib/modules/$kver/build"
if [ -e "/var/lib/dkms/tlstap/$version" ] || [ -e "/usr/src/tlstap-$version" ]; then
	fail "tlstap $version is already registered with dkms or in /usr/src: the test would replace it (make dkms-uninstall)"
fi
if [ -e /proc/modules ]; then
	echo "this kernel ($(uname -r)) supports modules; the test installs for $kver without loading"
else
	echo "this kernel ($(uname -r)) cannot load modules (no /proc/modules): dkms builds and installs for $kver, nothing is loaded"
fi

# dkms makes a module signing key on first use; keep one that was there.
key_existed=0
[ -e /var/lib/dkms/mok.key ] && key_existed=1
log=$(mktemp "/tmp/$TEST_NAME.XXXXXX")
cleanup() {
	"$SRC/dkms/tlstap-dkms" remove >>"$log" 2>&1 || true
	if [ $key_existed = 0 ]; then
		rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	fi
	rm -f "$log"
}
trap cleanup EXIT

start=$(date +%s)
timeout 600 make -s -C "$SRC" dkms-install DKMS_KERNEL="$kver" >"$log" 2>&1 ||
	fail "make dkms-install failed: $(grep -m1 -iE 'error' "$log" || tail -n1 "$log")"
echo "make dkms-install: $(($(date +%s) - start)) s"

status=$(dkms status tlstap)
[ "$status" = "tlstap/$version, $kver, x86_64: installed" ] ||
	fail "dkms status says '$status'"
built=/var/lib/dkms/tlstap/$version/$kver/x86_64/module/tlstap.ko
[ -f "$built" ] || fail "no $built"
[ "$(modinfo -F name "$built")" = tlstap ] || fail "the module is not named tlstap"
vermagic=$(modinfo -F vermagic "$built")
[ "${vermagic%% *}" = "$kver" ] || fail "vermagic '$vermagic', expected $kver"
case $kver in 6.1.*) ;; *) fail "built for $kver, not a 6.1 kernel" ;; esac
[ "$(modinfo -F version "$built")" = "$version" ] ||
	fail "module version '$(modinfo -F version "$built")', expected $version (VERSION)"
parms=$(modinfo -F parm "$built" | cut -d: -f1 | sort | tr '\n' ' ')
[ "$parms" = "gso port " ] || fail "module parameters '$parms', expected gso port"
installed=/lib/modules/$kver/updates/dkms/tlstap.ko
[ -f "$installed" ] || fail "dkms install did not put the module at $installed"
cmp -s "$built" "$installed" || fail "$installed differs from the built module"
[ "$(modinfo -k "$kver" -F filename tlstap)" = "$installed" ] ||
	fail "modinfo -k $kver does not find tlstap at $installed (depmod)"
echo "built and installed: $installed ($vermagic)"

make -s -C "$SRC" dkms-uninstall >"$log" 2>&1 ||
	fail "make dkms-uninstall failed: $(tail -n1 "$log")"
[ -z "$(dkms status tlstap)" ] || fail "dkms still lists tlstap: $(dkms status tlstap)"
[ ! -e "$installed" ] || fail "$installed is still there"
[ ! -e "/usr/src/tlstap-$version" ] || fail "/usr/src/tlstap-$version is still there"
! modinfo -k "$kver" tlstap >/dev/null 2>&1 || fail "modinfo -k $kver still finds tlstap"
echo "PASS $TEST_NAME: dkms add/build/install/remove of tlstap $version for $kver"
