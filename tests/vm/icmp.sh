#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Targets where nothing listens: the module sends to three targets, only
# t1 runs a receiver; the hosts of the other two (IPv4 t2, IPv6 t3) answer
# with ICMP port unreachable. Checks: t1 gets its records byte-exact; the
# ICMP reports are counted per target (icmp_unreachable in the targets
# file: t2 and t3, not t1) and in total (stats icmp_unreachable, their
# sum); tlstapctl shows the same per target (target list, stats --json)
# and in total (stats); they are not counted as transmit errors.
. "$TLSTAP_SRC/tests/lib/vm.sh"

CTL=$TLSTAP_SRC/ctl/build/tlstapctl

# target_field ADDR FIELD: a counter of one target's line in the targets file.
target_field() {
	awk -v a="$1" -v f="$2" '$1 == a { for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }' "$SYS/targets"
}

t1_received() {
	[ "$(wc -l <"$WORK/t1.dgram")" -ge "$(target_field 10.77.1.2:7419 packets)" ]
}

load_module
host_ns t1 1
host_ns t2 2
host_ns t3 3
start_recv t1 10.77.1.2:7419 t1
echo 0f0e0d0c0b0a09080706050403020100 >"$SYS/hash_key"
echo "add 10.77.1.2:7419" >"$SYS/targets"
echo "add 10.77.2.2:7419" >"$SYS/targets"
echo "add [fd77:3::2]:7419" >"$SYS/targets"
"$TOOLS/recgen" -n 400 -f 150 -m 4096 -o "$WORK/expected.bin"
wait_for 60 t1_received || fail "t1 received $(wc -l <"$WORK/t1.dgram") of $(target_field 10.77.1.2:7419 packets) datagrams"
# The last reports come after the last datagram, and the heartbeats
# (three, 100 ms apart) bring more: let them all land.
sleep 2
stop_recv
cat "$SYS/stats" "$SYS/targets"

# t1's records: what the module's steering sends it (tlstap-fwd says which).
"$TLSTAP_SRC/fwd/build/tlstap-fwd" --print-target --stdin \
	--hash-key 0f0e0d0c0b0a09080706050403020100 --target 10.77.1.2:7419 \
	--target 10.77.2.2:7419 --target "[fd77:3::2]:7419" \
	<"$WORK/expected.bin" >"$WORK/steer.txt" || fail "tlstap-fwd --print-target"
python3 - "$WORK" <<'PY' || fail "t1's records"
import struct, sys
work = sys.argv[1]
def records(path):
    d = open(path, "rb").read()
    pos = 0
    while pos < len(d):
        n = 72 + struct.unpack_from("!I", d, pos + 8)[0]
        yield d[pos:pos + n]
        pos += n
steer = [l.split()[1] for l in open(work + "/steer.txt")]
want = sorted(r for r, t in zip(records(work + "/expected.bin"), steer)
              if t == "addr=10.77.1.2:7419")
got = sorted(records(work + "/t1.raw"))
assert want and got == want, f"t1 got {len(got)} records, want {len(want)}"
print(f"t1: {len(got)} records byte-exact")
PY

u1=$(target_field 10.77.1.2:7419 icmp_unreachable)
u2=$(target_field 10.77.2.2:7419 icmp_unreachable)
u3=$(target_field "[fd77:3::2]:7419" icmp_unreachable)
echo "icmp_unreachable: t1 ${u1:-none} t2 ${u2:-none} t3 ${u3:-none}"
[ "${u1:-x}" = 0 ] || fail "t1 (listening) counted ${u1:-no} ICMP unreachable"
[ "${u2:-0}" -gt 0 ] || fail "t2: no ICMP unreachable counted ($(target_field 10.77.2.2:7419 packets) datagrams sent)"
[ "${u3:-0}" -gt 0 ] || fail "t3: no ICMP unreachable counted ($(target_field "[fd77:3::2]:7419" packets) datagrams sent)"
[ "$(stat_of icmp_unreachable)" -eq $((u2 + u3)) ] ||
	fail "stats icmp_unreachable $(stat_of icmp_unreachable), targets $u2 + $u3"
[ "$(stat_of tx_errors)" -eq 0 ] || fail "tx_errors $(stat_of tx_errors)"

"$CTL" target list >"$WORK/list" || fail "tlstapctl target list"
# Through a file: cmp takes sysfs's size (a page) for the content's.
cat "$SYS/targets" >"$WORK/sysfs"
cmp -s "$WORK/list" "$WORK/sysfs" || fail "tlstapctl target list: $(cat "$WORK/list") sysfs: $(cat "$WORK/sysfs")"
"$CTL" stats --json >"$WORK/stats.json" || fail "tlstapctl stats --json"
python3 - "$WORK/stats.json" "$u1" "$u2" "$u3" <<'PY' || fail "tlstapctl stats --json: $(cat "$WORK/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
got = {t["target"]: t["icmp_unreachable"] for t in s["targets"]}
want = dict(zip(["10.77.1.2:7419", "10.77.2.2:7419", "[fd77:3::2]:7419"],
                map(int, sys.argv[2:5])))
assert got == want, (got, want)
assert s["global"]["icmp_unreachable"] == sum(want.values()), s["global"]
PY
"$CTL" stats >"$WORK/stats.txt" || fail "tlstapctl stats"
grep -qx "icmp_unreachable $((u2 + u3))" "$WORK/stats.txt" ||
	fail "tlstapctl stats: $(cat "$WORK/stats.txt")"
echo flush >"$SYS/targets"
