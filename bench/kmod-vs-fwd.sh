#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Side by side, in one VM boot: records written to /dev/tlstap (the module,
# with and without UDP GSO) and the same records sent to tlstap-fwd over
# a Unix datagram socket, one write() per record; and put into capture
# rings (libtlstap.so's ring code) drained by the module (kmod-ring) and
# by tlstap-fwd --seqpacket (fwd-ring). For 256 B, 1 KiB, 16 KiB and
# 64 KiB records:
# time in one write() (what a hooked server pays), records/s, the whole
# machine's CPU per record, datagrams per record. Rounds alternate the
# variants; the target is a veth whose peer is down, so every datagram is
# built and handed to the device but no receiver's cost is counted.
# Runs inside the VM: make bench (see docs/BENCHMARKS.md).
# FWD_QLEN sets net.unix.max_dgram_qlen for tlstap-fwd's socket (the
# kernel's default, 10 datagrams, is what the writer can queue ahead).
set -eu
SRC=${TLSTAP_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
KO=${TLSTAP_KO:-$SRC/kmod/tlstap.ko}
SYS=/sys/class/misc/tlstap
WB=$SRC/bench/writebench
FWD=$SRC/fwd/build/tlstap-fwd
ROUNDS=${ROUNDS:-3}
KEY=000102030405060708090a0b0c0d0e0f
RUN=$(mktemp -d)
fwd_pid=
fwdr_pid=
qlen_before=$(sysctl -n net.unix.max_dgram_qlen)

cleanup() {
	[ -z "$fwd_pid" ] || kill "$fwd_pid" 2>/dev/null || true
	[ -z "$fwdr_pid" ] || kill "$fwdr_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	ip link del d0 2>/dev/null || true
	rmmod tlstap 2>/dev/null || true
	sysctl -qw net.unix.max_dgram_qlen="$qlen_before"
	rm -rf "$RUN"
}
trap cleanup EXIT

modprobe -q udp_tunnel
modprobe -q ip6_udp_tunnel
modprobe -q veth
insmod "$KO"
ip link set lo up
ip link add d0 type veth peer name d0p
ip addr add 10.99.0.1/24 dev d0
ip link set d0 up
ip neigh add 10.99.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent
echo "$KEY" >"$SYS/hash_key"
echo "add 10.99.0.2:7419" >"$SYS/targets"

# Read when the socket is created.
[ -z "${FWD_QLEN:-}" ] || sysctl -qw net.unix.max_dgram_qlen="$FWD_QLEN"
echo "fwd_qlen=$(sysctl -n net.unix.max_dgram_qlen)"
"$FWD" --unix "$RUN/fwd.sock" --target 10.99.0.2:7419 --port 0 \
	--hash-key "$KEY" --max-datagram 4096 --stats-json 2>"$RUN/fwd.err" &
fwd_pid=$!
# The capture rings' tlstap-fwd, on a seqpacket socket.
"$FWD" --seqpacket "$RUN/fwdr.sock" --target 10.99.0.2:7419 --port 0 \
	--hash-key "$KEY" --max-datagram 4096 --stats-json 2>"$RUN/fwdr.err" &
fwdr_pid=$!
for _ in $(seq 50); do
	[ -S "$RUN/fwd.sock" ] && [ -S "$RUN/fwdr.sock" ] && break
	sleep 0.1
done

kmod_datagrams() {
	awk '$1 == "datagrams" { print $2 }' "$SYS/stats"
}

fwd_datagrams() { # PID ERRFILE
	local n
	n=$(grep -c '^{' "$2" || true)
	kill -USR1 "$1"
	while [ "$(grep -c '^{' "$2" || true)" -le "$n" ]; do
		sleep 0.05
	done
	grep '^{' "$2" | tail -n 1 |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["datagrams"])'
}

count_for() {
	case $1 in
	256) echo 40000 ;;
	1024) echo 30000 ;;
	16384) echo 6000 ;;
	*) echo 1500 ;;
	esac
}

run() { # VARIANT SIZE
	local n d0 d1 out
	n=$(count_for "$2")
	case $1 in
	kmod|kmod-nogso|kmod-ring)
		[ "$1" = kmod-nogso ] && echo N >/sys/module/tlstap/parameters/gso ||
			echo Y >/sys/module/tlstap/parameters/gso
		d0=$(kmod_datagrams)
		if [ "$1" = kmod-ring ]; then
			out=$("$WB" --ring /dev/tlstap "$2" "$n" "$SYS/stats")
		else
			out=$("$WB" /dev/tlstap "$2" "$n" "$SYS/stats")
		fi
		d1=$(kmod_datagrams)
		;;
	fwd)
		d0=$(fwd_datagrams "$fwd_pid" "$RUN/fwd.err")
		# Settled when tlstap-fwd's CPU times stop moving: it has sent
		# what was still queued in the socket, as the module's worker has.
		out=$("$WB" "$RUN/fwd.sock" "$2" "$n" "/proc/$fwd_pid/stat")
		d1=$(fwd_datagrams "$fwd_pid" "$RUN/fwd.err")
		;;
	fwd-ring)
		d0=$(fwd_datagrams "$fwdr_pid" "$RUN/fwdr.err")
		out=$("$WB" --ring "$RUN/fwdr.sock" "$2" "$n" "/proc/$fwdr_pid/stat")
		d1=$(fwd_datagrams "$fwdr_pid" "$RUN/fwdr.err")
		;;
	esac
	echo "variant=$1 $out dgrams_per_rec=$(awk -v a="$d0" -v b="$d1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')"
}

for round in $(seq "$ROUNDS"); do
	for size in 256 1024 16384 65536; do
		for variant in kmod fwd kmod-nogso kmod-ring fwd-ring; do
			echo "round=$round $(run "$variant" "$size")"
		done
	done
done
grep '"send_errors"' "$RUN/fwd.err" | tail -n 1
grep '"send_errors"' "$RUN/fwdr.err" | tail -n 1
cat "$SYS/stats"
