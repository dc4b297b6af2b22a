#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress: tests/tools/stresswriter throws valid, mutated and random records
# at /dev/tlstap from several threads (write and writev, blocking and not,
# truncated, bad and huge lengths, bad fields, faulting pointers), random
# and plausible-but-wrong writes at every sysfs file and, when the module
# has its generic netlink family, random messages at it, while a thread
# adds and removes targets: two with a receiver, one in a namespace with
# none, one without a route, a wrong port; all along a scribbler
# (tests/tools/ringwriter scribble) writes hostile positions and frames
# into capture rings, a new one each time the module ends one, racing the
# drain worker. STRESS_SECONDS (default 40).
# Afterwards: the kernel log holds no oops, WARN, BUG or refcount report;
# the module ended the scribbler's rings and took none of its frames;
# the module's counters equal the writers' own account (records and bytes
# accepted, calls refused); the receivers saw no malformed datagram and
# output only records the module accepted, byte for byte, each once; the
# module unloads and gives back its memory; loaded again, it delivers
# byte-exact.
. "$TLSTAP_SRC/tests/lib/vm.sh"

SECONDS_TO_RUN=${STRESS_SECONDS:-40}
WRITERS=${STRESS_WRITERS:-4}
SW=$TOOLS/stresswriter

# Memory in use that is neither page cache (tmpfs included) nor
# reclaimable slab: what a leak of the module's rings or objects raises.
mem_used_kb() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	awk '/^MemTotal:/ { t = $2 } /^MemFree:/ { f = $2 } /^Buffers:/ { b = $2 }
	     /^Cached:/ { c = $2 } /^SReclaimable:/ { s = $2 }
	     END { print t - f - b - c - s }' /proc/meminfo
}

rep() { # KEY: a value from the stress writer's report (0 if absent)
	awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$WORK/report"
}

# recv_counters FILE: tlstap-recv's JSON counters as "key value" lines
# (one python run: each costs seconds under TCG).
recv_counters() {
	python3 -c 'import json, sys
d = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
for k, v in d.items():
    print(k, json.dumps(v, separators=(",", ":")))' "$1"
}

# A receiver with a raw output and its counters as JSON at exit. The
# stress sets max_record up to 16 MiB now and then: so may the receivers.
start_stress_recv() { # NS LISTEN NAME
	ip netns exec "$1" "$RECV" --listen "$2" --output raw --out "$WORK/$3.raw" \
		--max-record 16777216 --stats-json 2>"$WORK/$3.err" &
	BG_PIDS="$BG_PIDS $!"
	wait_for 30 udp_bound "$1" "${2##*:}" || fail "tlstap-recv in $1 did not bind"
}

modprobe -q udp_tunnel
modprobe -q ip6_udp_tunnel
modprobe -q veth
host_ns t1 1
host_ns t2 2
host_ns t3 3
dmesg_lines=$(dmesg | wc -l)
mem_before=$(mem_used_kb)

insmod "$TLSTAP_KO"
start_stress_recv t1 10.77.1.2:7419 r1
start_stress_recv t2 "[fd77:2::2]:7419" r2
genl=
if [ -f "$TLSTAP_SRC/kmod/netlink.c" ]; then
	genl=--genl
fi
pool="10.77.1.2:7419,[fd77:2::2]:7419,10.77.3.2:7419,10.99.0.1:7419,[fd77:1::2]:7419,10.77.2.2:7420"
echo "stress: $WRITERS writers, $SECONDS_TO_RUN s, targets from $pool${genl:+, generic netlink}, a ring scribbler"
timeout -k 10 $((SECONDS_TO_RUN + 120)) "$TOOLS/ringwriter" --seed "$RANDOM" \
	--seconds "$SECONDS_TO_RUN" scribble >"$WORK/scribble.out" 2>&1 &
scribbler=$!
timeout -k 10 $((SECONDS_TO_RUN + 120)) "$SW" --seconds "$SECONDS_TO_RUN" \
	--writers "$WRITERS" --seed "$RANDOM" --pool "$pool" $genl \
	--accepted "$WORK/accepted" --report "$WORK/report" ||
	fail "stresswriter failed or hung (exit $?)"
wait "$scribbler" || fail "ring scribbler failed or hung: $(cat "$WORK/scribble.out")"
cat "$WORK/report" "$WORK/scribble.out"
cat "$SYS/stats" | tee "$WORK/stats"
cat "$SYS/targets"

# The module counted exactly what the writers saw.
[ "$(stat_of records)" -eq "$(rep accepted_records)" ] ||
	fail "module records $(stat_of records), writers had $(rep accepted_records) accepted"
[ "$(stat_of bytes)" -eq "$(rep accepted_bytes)" ] ||
	fail "module bytes $(stat_of bytes), writers had $(rep accepted_bytes) accepted"
drops=0
for k in drop_invalid drop_oversize drop_no_target drop_ring_full drop_fault drop_nomem; do
	drops=$((drops + $(stat_of $k)))
done
[ "$drops" -eq "$(rep module_drops)" ] ||
	fail "module counted $drops refused calls, writers saw $(rep module_drops)"
echo "ok   counters: $(stat_of records) records, $(stat_of bytes) bytes, $drops refused calls, as the writers counted"

# No frame the scribbler wrote holds a valid record: each ring it made
# ended at its first bad frame or position, and nothing of it was taken.
read -r _ _ scribbled _ scribble_ended _ <"$WORK/scribble.out"
[ "$scribble_ended" -ge 1 ] && [ "$(stat_of rings_ended)" -ge "$scribble_ended" ] &&
	[ "$(stat_of rings_ended)" -le "$scribbled" ] ||
	fail "rings_ended $(stat_of rings_ended): the scribbler saw $scribble_ended of its $scribbled rings end"
[ "$(stat_of ring_records)" -eq 0 ] || fail "ring_records $(stat_of ring_records): a scribbled frame was taken"
echo "ok   scribbler: $(stat_of rings_ended) of its $scribbled rings ended, none of its frames taken"

# Quiet, sane settings; the receivers get their resends and heartbeats,
# then report what they hold.
echo flush >"$SYS/targets"
sleep 3
stop_recv
for r in r1 r2; do
	recv_counters "$WORK/$r.err" >"$WORK/$r.counters" ||
		fail "$r: no counters: $(tail -n 2 "$WORK/$r.err")"
	c() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/$r.counters"; }
	for k in invalid inconsistent invalid_records; do
		[ "$(c $k)" -eq 0 ] || fail "$r: $k=$(c $k): $(c invalid_by_reason)"
	done
	echo "receiver $r: datagrams $(c datagrams) records $(c records) aborted $(c aborted) lost_records $(c lost_records) lost_open_ended $(c lost_open_ended) streams $(c streams) retransmitted $(c retransmitted)"
done
"$SW" --check "$WORK/accepted" "$WORK/r1.raw" "$WORK/r2.raw" | tee "$WORK/check" ||
	fail "receivers output records the module never accepted, or twice"
received=$(awk '$1 == "received_records" { print $2 }' "$WORK/check")
[ "$received" -gt 0 ] || fail "the receivers got no record at all"

# Targets come and go without leaking their rings: 40 more adds and
# removals of a 1 MiB ring would hold 40 MiB if one leaked.
echo 1024 >"$SYS/ring_kb"
churn_before=$(mem_used_kb)
for i in $(seq 40); do
	echo "add 10.77.3.2:7419" >"$SYS/targets"
	echo "del 10.77.3.2:7419" >"$SYS/targets"
done
churn_after=$(mem_used_kb)
echo "40 target add/del cycles (1 MiB rings): memory in use ${churn_before} -> ${churn_after} KiB"
[ $((churn_after - churn_before)) -lt 8192 ] || fail "target add/del leaks: +$((churn_after - churn_before)) KiB"

# It unloads, and gives back what it took.
timeout 60 rmmod tlstap || fail "rmmod after the stress failed"
[ ! -e /sys/module/tlstap ] || fail "tlstap still loaded"
mem_after=$(mem_used_kb)
echo "memory in use (no cache): before load ${mem_before} KiB, after unload ${mem_after} KiB"
[ $((mem_after - mem_before)) -lt 32768 ] ||
	fail "$((mem_after - mem_before)) KiB more in use after unload than before load"

dmesg | tail -n +$((dmesg_lines + 1)) >"$WORK/dmesg"
grep -E 'Oops|WARNING|BUG|KASAN|UBSAN|refcount|general protection|list_(add|del) corruption|blocked for more than' "$WORK/dmesg" &&
	fail "kernel log reports a problem (above)"
echo "ok   kernel log: $(wc -l <"$WORK/dmesg") new lines, none an oops, WARN, BUG or refcount report"

# Loaded again, it still delivers every record byte-exact. Each target's
# ring holds all of its ~3,100 datagrams, so a datagram the slow guest
# drops on the way is always resent on NACK, never answered with a GAP.
load_module
echo 16384 >"$SYS/ring_kb"
start_recv t1 10.77.1.2:7419 t1
start_recv t2 "[fd77:2::2]:7419" t2
echo "add 10.77.1.2:7419" >"$SYS/targets"
echo "add [fd77:2::2]:7419" >"$SYS/targets"
# 2,000 flows: enough for reccheck.py's flow-share bound (4.5 standard
# deviations) to stay under 0.06 at 1:1.
"$TOOLS/recgen" -n 8000 -f 2000 -m 20000 -b 2 -o "$WORK/expected.bin"
wait_for 120 all_sent_received || fail "received $(dgrams_received) of $(stat_of datagrams) datagrams"
stop_recv
python3 "$TOOLS/reccheck.py" --expected "$WORK/expected.bin" --tos 32 \
	--target "t1,$WORK/t1.raw,$WORK/t1.dgram,1,1472" \
	--target "t2,$WORK/t2.raw,$WORK/t2.dgram,1,1452"
echo "ok   stress: no kernel complaint, counters consistent, clean unload, delivery intact"
