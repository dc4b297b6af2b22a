#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Commit-to-datagram latency of a record (docs/BENCHMARKS.md): writebench
# writes 1 KiB records at a fixed rate, by capture ring and by write(),
# into tlstap.ko (where it is loaded: the VM, make bench) and into
# tlstap-fwd --seqpacket; bench/reclatency, the target in a network
# namespace across a veth pair, takes each record's first datagram's
# kernel receive time minus the record's timestamp (the writer's
# CLOCK_REALTIME just before it commits the record: one clock, one
# machine). Prints one "variant=... rate=... records=... lat_us_p50=...
# lat_us_p99=... lat_us_max=..." line per run. ROUNDS (2), RATES ("1000
# 20000"), RUN_SECONDS per run (3; not SECONDS, which is bash's own).
set -eu
SRC=${TLSTAP_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
SYS=/sys/class/misc/tlstap
WB=$SRC/bench/writebench
LAT=$SRC/bench/reclatency
FWD=$SRC/fwd/build/tlstap-fwd
ROUNDS=${ROUNDS:-2}
RATES=${RATES:-1000 20000}
SECONDS_PER_RUN=${RUN_SECONDS:-3}
NS=tlstap-lat-$$
RUN=$(mktemp -d)
fwd_pid=
KO=${TLSTAP_KO:-$SRC/kmod/tlstap.ko}
module=0
modprobe -q udp_tunnel || true
modprobe -q ip6_udp_tunnel || true
modprobe -q veth || true
[ -d "$SYS" ] || insmod "$KO" 2>/dev/null || true
[ -d "$SYS" ] && module=1

cleanup() {
	[ -z "$fwd_pid" ] || kill "$fwd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	[ $module = 0 ] || echo "del 10.98.0.2:7419" >"$SYS/targets" 2>/dev/null || true
	ip link del l0 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$RUN"
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
ip link add l0 type veth peer name l0p
ip link set l0p netns "$NS"
ip addr add 10.98.0.1/24 dev l0
ip link set l0 up
ip -n "$NS" addr add 10.98.0.2/24 dev l0p
ip -n "$NS" link set l0p up
ping -c1 -W2 10.98.0.2 >/dev/null || { echo "latency.sh: 10.98.0.2 unreachable" >&2; exit 1; }
[ $module = 0 ] || echo "add 10.98.0.2:7419" >"$SYS/targets"
"$FWD" --seqpacket "$RUN/fwd.sock" --target 10.98.0.2:7419 \
	--max-datagram 4096 2>"$RUN/fwd.err" &
fwd_pid=$!
for _ in $(seq 50); do
	[ -S "$RUN/fwd.sock" ] && break
	sleep 0.1
done

run() { # VARIANT RATE
	local n=$(($2 * SECONDS_PER_RUN)) path ring='' out
	case $1 in
	kmod*) path=/dev/tlstap ;;
	*) path=$RUN/fwd.sock ;;
	esac
	case $1 in *-ring) ring=--ring ;; esac
	ip netns exec "$NS" "$LAT" 10.98.0.2 7419 "$n" 5 >"$RUN/lat.out" &
	local lp=$!
	while ! grep -q listening "$RUN/lat.out" 2>/dev/null; do sleep 0.05; done
	# shellcheck disable=SC2086  # $ring is one word or none
	"$WB" $ring --rate "$2" "$path" 1024 "$n" >/dev/null ||
		echo "latency.sh: $1 at $2/s: writebench failed" >&2
	wait "$lp" || { echo "latency.sh: $1 at $2/s: $(cat "$RUN/lat.out")" >&2; exit 1; }
	out=$(tail -n 1 "$RUN/lat.out")
	echo "variant=$1 rate=$2 $out"
}

variants="fwd fwd-ring"
[ $module = 0 ] || variants="kmod kmod-ring $variants"
if [ $module = 1 ]; then
	echo "latency: $(nproc) CPUs, tlstap.ko flush_us $(cat "$SYS/flush_us"), tlstap-fwd --poll-us default"
else
	echo "latency: $(nproc) CPUs, no tlstap.ko, tlstap-fwd --poll-us default"
fi
for round in $(seq "$ROUNDS"); do
	for rate in $RATES; do
		for v in $variants; do
			echo "round=$round $(run "$v" "$rate")"
		done
	done
done
