#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unloading is clean: refused while a writer holds /dev/tlstap open, fine
# right after a writer that was sending is killed, and with a target that
# has no route (its datagrams fail while the ring drains).
. "$TLSTAP_SRC/tests/lib/vm.sh"

load_module
host_ns t1 1
start_recv t1 10.77.1.2:7419 t1
echo "add 10.77.1.2:7419" >"$SYS/targets"
echo "add 10.200.0.1:7419" >"$SYS/targets"	# no route to it

# An open writer pins the module.
exec 3>/dev/tlstap
if rmmod tlstap 2>"$WORK/rmmod.err"; then
	fail "rmmod succeeded with /dev/tlstap open"
fi
grep -q "in use" "$WORK/rmmod.err" || fail "rmmod: $(cat "$WORK/rmmod.err")"
[ -e "$SYS" ] || fail "module gone after a refused rmmod"
"$TOOLS/recgen" -n 50 -f 20 -m 4000 >/dev/null || fail "write after refused rmmod"
exec 3>&-
echo "ok   rmmod refused while open, writes still work"

# Kill a writer in full flight, unload at once.
"$TOOLS/recgen" -n 1000000 -f 500 -m 65536 -b 4 >/dev/null 2>&1 &
writer=$!
sleep 2
kill -9 "$writer"
wait "$writer" 2>/dev/null || true
[ "$(stat_of records)" -gt 100 ] || fail "the writer wrote only $(stat_of records) records"
[ "$(stat_of tx_errors)" -gt 0 ] || fail "no tx_errors towards the unroutable target"
cat "$SYS/stats"
wait_for 10 rmmod tlstap || fail "rmmod after the writer died"
[ ! -e "$SYS" ] || fail "sysfs left behind"
[ ! -e /dev/tlstap ] || fail "/dev/tlstap left behind"
echo "ok   unloaded while the rings drained"

# The UDP port is free again: the socket was released.
python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7419)); s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); s6.bind(("::", 7419))' ||
	fail "UDP port 7419 still bound after unload"

# Load and unload again: nothing left over from the first instance.
load_module
echo "add 10.77.1.2:7419" >"$SYS/targets"
"$TOOLS/recgen" -n 100 -f 20 -m 65536 >/dev/null
rmmod tlstap || fail "second rmmod"
echo "ok   reloaded and unloaded"
