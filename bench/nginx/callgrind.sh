#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# What libtlstap.so adds to one SSL_write() of SIZE bytes (default 1 KiB).
# 1. User-space instructions, with callgrind: wbench makes CALLS SSL_write
#    calls (to a server thread over TCP on 127.0.0.1) without the hook,
#    with the hook writing to /dev/null, with the hook writing to
#    tlstap-fwd --unix and --seqpacket (ring = no: a sendmsg per record),
#    and with capture rings into tlstap-fwd --seqpacket (no system call
#    per record); the inclusive cost of SSL_write (for the hooked
#    runs: the library's wrapper, which calls libssl's) divided by CALLS.
#    Into tlstap-fwd with on_full = block, so that every record arrives.
#    The kernel's side of the record's system call is not in these counts.
# 2. CPU time, natively: the writing thread's user + system time per call
#    (so the record's sendmsg in the kernel is in it), ROUNDS rounds
#    alternating no hook, /dev/null, tlstap-fwd --unix, --seqpacket
#    without and with rings (on_full = block);
#    medians. wbench runs on CPU 0, tlstap-fwd on CPU 1.
# tlstap-fwd sends into a namespace's veth whose peer is down, as run.sh.
# Usage: bench/nginx/callgrind.sh   (as root)
# Environment: CALLS (20000, callgrind), NATIVE_CALLS (200000), SIZE (1024),
#   ROUNDS (7).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
# shellcheck source=bench/lib/netns.sh
. "$SRC/bench/lib/netns.sh"
CALLS=${CALLS:-20000}
NATIVE_CALLS=${NATIVE_CALLS:-200000}
SIZE=${SIZE:-1024}
ROUNDS=${ROUNDS:-7}
BUILD=$HERE/build

fail() {
	echo "callgrind.sh: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (network namespace)"
for cmd in valgrind callgrind_annotate taskset ip openssl python3 make cc; do
	command -v "$cmd" >/dev/null || fail "$cmd not found (make deps installs it)"
done
make -s -C "$HERE" || fail "building wbench failed"
make -s -C "$SRC/userhook" O="$BUILD/userhook" "$BUILD/userhook/libtlstap.so" ||
	fail "building libtlstap.so failed"
make -s -C "$SRC/fwd" O="$BUILD/fwd" "$BUILD/fwd/tlstap-fwd" ||
	fail "building tlstap-fwd failed"
LIB=$BUILD/userhook/libtlstap.so
FWD=$BUILD/fwd/tlstap-fwd
WBENCH=$BUILD/wbench

T=$(mktemp -d /tmp/tlstap-callgrind.XXXXXX)
NS=tlstap-callgrind-$$
fwd_pid=
stop_fwd() {
	[ -n "$fwd_pid" ] || return 0
	kill "$fwd_pid" 2>/dev/null || true
	wait "$fwd_pid" || fail "tlstap-fwd exited with $?: $(cat "$T/fwd.err")"
	fwd_pid=
}
cleanup() {
	[ -z "$fwd_pid" ] || kill "$fwd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
	2>"$T/openssl.err" || fail "openssl req: $(cat "$T/openssl.err")"
sender_ns "$NS" || fail "network namespace $NS"
blackhole_target "$NS" || fail "neighbour entry in $NS"
printf 'global:\n  if = /dev/null\n' >"$T/null.conf"
# on_full = block: every record reaches tlstap-fwd (checked), so the cost
# per call is that of a delivered record, not of a cheap EAGAIN. The
# writer's waits for room are not CPU time.
printf 'global:\n  if = %s\n  on_full = block\n  ring = no\n' "$T/fwd.sock" >"$T/fwd.conf"
printf 'global:\n  if = %s\n  on_full = block\n' "$T/fwd.sock" >"$T/ring.conf"

# start_fwd unix|seqpacket
start_fwd() {
	rm -f "$T/fwd.sock"
	taskset -c 1 ip netns exec "$NS" "$FWD" "--$1" "$T/fwd.sock" \
		--target 10.99.0.2:7419 --hash-key 000102030405060708090a0b0c0d0e0f \
		--stats-json 2>"$T/fwd.err" &
	fwd_pid=$!
	for _ in $(seq 100); do
		[ -S "$T/fwd.sock" ] && return 0
		kill -0 "$fwd_pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "tlstap-fwd did not start: $(cat "$T/fwd.err")"
}

# records_forwarded: the data records tlstap-fwd counted (after it stopped)
records_forwarded() {
	python3 -c 'import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
assert not (s["malformed"] or s["send_errors"] or s["dropped_datagrams"]), s
print(s["records"] - s.get("loss_reports", 0))' "$T/fwd.err"
}

# 1. callgrind
# cg NAME CONF|-: one callgrind run of wbench
cg() {
	local hook_env=()
	[ "$2" = - ] || hook_env=(LD_PRELOAD="$LIB" TLSTAP_CONF="$2")
	env "${hook_env[@]}" valgrind --tool=callgrind \
		--callgrind-out-file="$T/cg.$1" "$WBENCH" "$T/cert.pem" \
		"$T/key.pem" "$CALLS" "$SIZE" >"$T/cg.$1.out" 2>"$T/cg.$1.err" ||
		fail "valgrind $1: $(tail -n3 "$T/cg.$1.err")"
	callgrind_annotate --inclusive=yes "$T/cg.$1" >"$T/cg.$1.txt" ||
		fail "callgrind_annotate $1 failed"
}
# records_line VARIANT: "forwarded/expected" after tlstap-fwd stopped
records_line() {
	local n
	n=$(records_forwarded)
	# One record per SSL_write and one per SSL_read of the server thread
	# (each write is one TLS record, each read returns one).
	echo "$1 $n $((2 * $2))" >>"$T/records"
	[ "$n" -eq $((2 * $2)) ] ||
		fail "$1: tlstap-fwd forwarded $n records, want $((2 * $2))"
}
: >"$T/records"
cg none -
cg null "$T/null.conf"
for kind in unix seqpacket ring; do
	conf=$T/fwd.conf
	[ $kind != ring ] || conf=$T/ring.conf
	start_fwd "${kind/ring/seqpacket}"
	cg "$kind" "$conf"
	stop_fwd
	records_line "callgrind-$kind" "$CALLS"
done

echo "callgrind.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), commit ${TLSTAP_COMMIT:-$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)}, $(valgrind --version), $CALLS x SSL_write($SIZE)"
python3 - "$T" "$CALLS" <<'PY'
import re, sys
t, calls = sys.argv[1], int(sys.argv[2])
records = {l.split()[0]: l.split()[1:] for l in open(t + "/records")}
def inclusive(name):
    """Inclusive Ir by function, keyed 'function [object]'."""
    ir = {}
    for line in open("%s/cg.%s.txt" % (t, name)):
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*?:(\w+) \[(\S+)\]", line)
        if m:
            ir.setdefault("%s [%s]" % (m.group(2), m.group(3).split("/")[-1]),
                          int(m.group(1).replace(",", "")))
    return ir
rows = [("none", "no hook"), ("null", "hook, if = /dev/null"),
        ("unix", "hook, if = tlstap-fwd --unix"),
        ("seqpacket", "hook, if = tlstap-fwd --seqpacket, ring = no"),
        ("ring", "hook, if = tlstap-fwd --seqpacket, capture rings")]
base = None
print("| | Ir per SSL_write | added by the hook | capture() per SSL_write (reads' too) | records forwarded |")
print("|---|---:|---:|---:|---:|")
for name, label in rows:
    ir = inclusive(name)
    key = "SSL_write [%s]" % ("libssl.so.3" if name == "none" else "libtlstap.so")
    if key not in ir:
        sys.exit("callgrind.sh: no %s in the %s profile" % (key, name))
    per = ir[key] / calls
    base = per if base is None else base
    cap = ir.get("capture [libtlstap.so]")
    rec = records.get("callgrind-" + name)
    print("| %s | %.0f | %s | %s | %s |" % (
        label, per,
        "-" if name == "none" else "+%.0f (+%.1f%%)" % (per - base, 100 * (per - base) / base),
        "-" if cap is None else "%.0f" % (cap / calls),
        "-" if rec is None else "%s of %s" % tuple(rec)))
PY

# 2. native CPU time per call
declare -A cpu
for r in $(seq "$ROUNDS"); do
	for v in none null unix seqpacket ring; do
		hook_env=()
		case $v in
		null) hook_env=(LD_PRELOAD="$LIB" TLSTAP_CONF="$T/null.conf") ;;
		unix | seqpacket)
			start_fwd "$v"
			hook_env=(LD_PRELOAD="$LIB" TLSTAP_CONF="$T/fwd.conf")
			;;
		ring)
			start_fwd seqpacket
			hook_env=(LD_PRELOAD="$LIB" TLSTAP_CONF="$T/ring.conf")
			;;
		esac
		out=$(env "${hook_env[@]}" taskset -c 0 "$WBENCH" "$T/cert.pem" \
			"$T/key.pem" "$NATIVE_CALLS" "$SIZE") || fail "wbench $v failed"
		case $v in
		unix | seqpacket | ring)
			stop_fwd
			records_line "native-$v-$r" "$NATIVE_CALLS"
			;;
		esac
		cpu[$v]+="$(awk '{print $6}' <<<"$out") "
	done
done
python3 - "$T" "${cpu[none]}" "${cpu[null]}" "${cpu[unix]}" "${cpu[seqpacket]}" \
	"${cpu[ring]}" <<'PY'
import statistics, sys
t = sys.argv[1]
rows = [("none", "no hook"), ("null", "hook, if = /dev/null"),
        ("unix", "hook, if = tlstap-fwd --unix"),
        ("seqpacket", "hook, if = tlstap-fwd --seqpacket, ring = no"),
        ("ring", "hook, if = tlstap-fwd --seqpacket, capture rings")]
vals = [[float(x) for x in a.split()] for a in sys.argv[2:]]
records = [l.split() for l in open(t + "/records") if l.startswith("native-")]
base = statistics.median(vals[0])
print()
print("| | writer CPU ns per SSL_write, median (min-max) | added by the hook | records forwarded |")
print("|---|---:|---:|---:|")
for (name, label), v in zip(rows, vals):
    med = statistics.median(v)
    rec = [(int(n), int(e)) for k, n, e in records if k.startswith("native-%s-" % name)]
    print("| %s | %.0f (%.0f-%.0f) | %s | %s |" % (label, med, min(v), max(v),
          "-" if name == "none" else "+%.0f" % (med - base),
          "-" if not rec else "%d of %d" % tuple(map(sum, zip(*rec)))))
PY
