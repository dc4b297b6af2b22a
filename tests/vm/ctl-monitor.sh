#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tlstapctl monitor: every change, made through sysfs or through netlink,
# arrives as one line naming where it came from, in the order made; a
# refused change announces nothing; a listener needs no privilege (the
# events carry no key); unloading the module ends the monitor.
. "$TLSTAP_SRC/tests/lib/vm.sh"

CTL=$TLSTAP_SRC/ctl/build/tlstapctl
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"

ctl() {
	"$CTL" "$@" 2>"$WORK/ctl.err" || fail "tlstapctl $*: $(cat "$WORK/ctl.err")"
}

start_monitor() { # NAME [RUNNER...]
	local name=$1
	shift
	"$@" "$CTL" monitor >"$WORK/$name.out" 2>"$WORK/$name.err" &
	BG_PIDS="$BG_PIDS $!"
	eval "${name}_pid=$!"
	wait_for 20 grep -q "monitoring" "$WORK/$name.err" ||
		fail "$name did not start: $(cat "$WORK/$name.err")"
}

load_module
start_monitor root
start_monitor nobody $NOBODY

echo 5 >"$SYS/tos"
ctl set tos 6 ring_kb 128
echo "add 10.77.1.2:7419 weight 2" >"$SYS/targets"
ctl target add "[fd77:1::2]:7419" weight 3
echo 00112233445566778899aabbccddeeff >"$SYS/hash_key"
ctl set hash_key ffeeddccbbaa99887766554433221100 heartbeat_ms 50
# Refused, through either view: nothing to announce.
echo 0 >"$SYS/tos" 2>/dev/null && fail "sysfs took tos 0"
"$CTL" set tos 0 2>/dev/null && fail "tlstapctl set tos 0 succeeded"
"$CTL" target add 10.77.1.2:7419 2>/dev/null && fail "a duplicate was added"
echo "add 10.77.1.2:7419" >"$SYS/targets" 2>/dev/null && fail "sysfs added a duplicate"
echo "del 10.77.1.2:7419" >"$SYS/targets"
ctl target del "[fd77:1::2]:7419"
echo "add 10.77.1.3:7419" >"$SYS/targets"
ctl target add 10.77.1.4:7419 weight 4
echo flush >"$SYS/targets"
ctl target add 10.77.1.5:7419
ctl target flush
echo 100 >"$SYS/heartbeat_ms"

cat >"$WORK/expected" <<'EOF'
sysfs: set tos 5
netlink: set tos 6 ring_kb 128
sysfs: target add 10.77.1.2:7419 weight 2
netlink: target add [fd77:1::2]:7419 weight 3
sysfs: set hash_key
netlink: set heartbeat_ms 50 hash_key
sysfs: target del 10.77.1.2:7419
netlink: target del [fd77:1::2]:7419
sysfs: target add 10.77.1.3:7419 weight 1
netlink: target add 10.77.1.4:7419 weight 4
sysfs: target del 10.77.1.3:7419
sysfs: target del 10.77.1.4:7419
netlink: target add 10.77.1.5:7419 weight 1
netlink: target del 10.77.1.5:7419
sysfs: set heartbeat_ms 100
EOF
n=$(wc -l <"$WORK/expected")
for name in root nobody; do
	wait_for 20 test "$(wc -l <"$WORK/$name.out")" -ge "$n" ||
		fail "$name saw $(wc -l <"$WORK/$name.out") of $n events: $(cat "$WORK/$name.out")"
	diff -u "$WORK/expected" "$WORK/$name.out" || fail "$name saw other events"
done
echo "ok   $n events, through sysfs and netlink, seen by root and nobody alike"

# The events carry no key.
grep -q 0011 "$WORK/root.out" && fail "an event carried the hash key"

rmmod tlstap
for name in root nobody; do
	pid_var=${name}_pid
	wait_for 20 eval "! kill -0 ${!pid_var} 2>/dev/null" ||
		fail "$name monitor still running after rmmod"
	wait "${!pid_var}" || fail "$name monitor exited with $?"
	[ "$(tail -n 1 "$WORK/$name.out")" = "module unloaded" ] ||
		fail "$name monitor's last line: $(tail -n 1 "$WORK/$name.out")"
done
echo "ok   the monitors end when the module goes"
