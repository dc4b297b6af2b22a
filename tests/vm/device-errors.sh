#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad writes to /dev/tlstap and its sysfs files fail with the right errno
# and lose nothing valid; a full ring gives EAGAIN or makes writers sleep.
. "$TLSTAP_SRC/tests/lib/vm.sh"

DEVW="python3 $TOOLS/devwrite.py"

# expect_sysfs_fail FILE VALUE ERRNO-TEXT: the write fails, FILE unchanged.
expect_sysfs_fail() {
	local before after out
	before=$(cat "$SYS/$1")
	if out=$(bash -c "echo '$2' > $SYS/$1" 2>&1); then
		fail "writing '$2' to $1 succeeded"
	fi
	case "$out" in
	*"$3"*) ;;
	*) fail "writing '$2' to $1: '$out', want '$3'" ;;
	esac
	after=$(cat "$SYS/$1")
	[ "$before" = "$after" ] || fail "$1 changed by a bad write"
	echo "ok   $1 <- '$2': $3"
}

load_module
[ "$(stat -c %a /dev/tlstap)" = 600 ] || fail "/dev/tlstap mode $(stat -c %a /dev/tlstap)"
[ "$(cat "$SYS/tos")" = 32 ] || fail "default TOS $(cat "$SYS/tos")"
$DEVW no-target
[ "$(stat_of drop_no_target)" -eq 1 ] || fail "drop_no_target not counted"

host_ns t1 1
start_recv t1 10.77.1.2:7419 t1
echo "add 10.77.1.2:7419" >"$SYS/targets"

expect_sysfs_fail tos 0 "Invalid argument"
expect_sysfs_fail tos 256 "Invalid argument"
expect_sysfs_fail tos abc "Invalid argument"
expect_sysfs_fail max_record 0 "Invalid argument"
expect_sysfs_fail max_record 99999999999 "Invalid argument"
expect_sysfs_fail flush_us 0 "Invalid argument"
expect_sysfs_fail ring_kb 1 "Invalid argument"
expect_sysfs_fail hash_key 0011 "Invalid argument"
expect_sysfs_fail hash_key 000102030405060708090a0b0c0d0e0g "Invalid argument"
expect_sysfs_fail targets "add 10.77.1.2" "Invalid argument"
expect_sysfs_fail targets "add 10.77.1.2:7419 weight 0" "Invalid argument"
expect_sysfs_fail targets "add 10.77.1.2:7419" "File exists"
expect_sysfs_fail targets "del 10.77.9.9:7419" "No such file"
expect_sysfs_fail targets "add [::]:7419" "Invalid argument"

# A ring larger than memory allows is refused, and nothing else happens:
# (the guest has 1 GiB; the bound is a quarter of RAM for all rings).
echo 1048576 >"$SYS/ring_kb"
expect_sysfs_fail targets "add 10.77.1.3:7419" "Cannot allocate memory"
echo 4096 >"$SYS/ring_kb"

echo 000102030405060708090a0b0c0d0e0f >"$SYS/hash_key"
[ "$(cat "$SYS/hash_key")" = 000102030405060708090a0b0c0d0e0f ] || fail "hash_key readback"
$DEVW malformed
$DEVW fault

# A ring of 16 slots for a second target takes one 16 KiB record at a time.
echo "del 10.77.1.2:7419" >"$SYS/targets"
echo 64 >"$SYS/ring_kb"
echo "add 10.77.1.2:7419" >"$SYS/targets"
FLOOD_COUNT=$WORK/nb $DEVW flood-nonblock
FLOOD_COUNT=$WORK/b $DEVW flood-block
[ "$(stat_of drop_ring_full)" -gt 0 ] || fail "drop_ring_full not counted"

# Everything accepted arrives: 1 + 1 + 2 + 1 + 1 records, the flood's,
# and the record before the fault; the two faulting writes abort theirs.
want=$((6 + 1 + $(cat "$WORK/nb") + $(cat "$WORK/b")))
[ "$(stat_of records)" -eq "$want" ] || fail "module accepted $(stat_of records), want $want"
wait_for 60 all_sent_received || fail "received $(dgrams_received) of $(stat_of datagrams) datagrams"
stop_recv
got=$(python3 - "$WORK/t1.raw" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
n = pos = 0
while pos < len(d):
    pos += 72 + struct.unpack_from("!I", d, pos + 8)[0]
    n += 1
print(n)
PY
)
[ "$got" -eq "$want" ] || fail "target reassembled $got records, want $want"
[ "$(awk '$1 == "aborted" { print $2 }' "$WORK/t1.err")" = 2 ] ||
	fail "receiver did not count 2 aborted records: $(cat "$WORK/t1.err")"
[ "$(stat_of drop_fault)" -eq 2 ] || fail "drop_fault $(stat_of drop_fault)"
echo "ok   $got records reassembled, the two faulting ones dropped whole"
