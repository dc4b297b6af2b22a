#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The capture plane under nginx (issue 3's benchmark), on the host, as root.
# nginx 1.22 with one worker, TLS 1.3 only, a self-signed P-256 certificate
# made here, serves a 1 KiB file over HTTPS on 127.0.0.1; wrk -t1 -c32 with
# keep-alive loads it as fast as it answers (closed loop), or with RATE,
# h2load --h1 at RATE requests/s (open loop: every variant at the same
# rate, compared by the worker's CPU per request). Variants, in one run,
# rounds alternating them (the order rotates every round):
#   none            (a) no capture
#   hook-ring       (b) libtlstap.so preloaded into nginx (TLSTAP_CONF taken
#                   by the master at load; nginx scrubs the workers'
#                   environment), records into tlstap-fwd --seqpacket
#                   through capture rings (shared memory, no system call
#                   per record), drained on tlstap-fwd's timer
#   hook-seqpacket  (b) the same with ring = no: one sendmsg per record
#                   into tlstap-fwd --seqpacket, which drains its input on
#                   a timer while records flow
#   hook-seqpacket-woken  the same with tlstap-fwd --poll-us 0: it sleeps
#                   on its input and every record wakes it
#   hook            the same into tlstap-fwd --unix (datagram); with
#                   net.unix.max_dgram_qlen below 256 it is woken per record
#   hook-fifo       the same into tlstap-fwd --fifo (polling)
#   hook-dev-ring   (MODULE=1) libtlstap.so into /dev/tlstap through
#                   capture rings, drained by tlstap.ko's worker
#   hook-dev-write  (MODULE=1) the same with ring = no: a write() per record
#   hook-null       libtlstap.so writing its records to /dev/null: the
#                   hook's own cost and one cheap system call per record,
#                   without a forwarder to hand the records to
#   bpftrace        (c) sslsniff.bt: uprobes on SSL_read/SSL_write copying
#                   up to 1 KiB per call, as bcc's sslsniff does
# tlstap-fwd runs in a network namespace made here; its target is
# tlstap-recv in a second one (RECEIVER=1, the default), across a veth
# pair, writing raw records to /dev/null, and every run checks that it
# received every record tlstap-fwd sent. RECEIVER=0: the veth's peer
# stays down, every datagram is built and handed to the device, and no
# receiver's cost lands on the machine.
# MODULE=1 (where tlstap.ko is loaded: the VM, bench/nginx/vm-run): the
# module's target is the same tlstap-recv, reached from this namespace
# over a second veth pair (10.98.0.1 -> 10.98.0.2); every run checks that
# it received every record the module sent and that the module dropped
# nothing.
# CPUs: the nginx worker (and its idle master) on NGINX_CPU; wrk, tlstap-fwd,
# tlstap-recv, bpftrace and its reader, and the driver on LOAD_CPU.
# nginx loads a private copy of libssl.so.3 (LD_LIBRARY_PATH, all variants
# alike) so that bpftrace's uprobes are in nginx only, not in wrk or in any
# other program of the machine that uses the system's libssl.
#
# Usage: bench/nginx/run.sh            (as root)
# Environment: ROUNDS (8), DURATION seconds per run (5), CONNECTIONS (32),
#   NGINX_CPU (0), LOAD_CPU (1), VARIANTS (none,hook-ring,hook-seqpacket,
#   hook-seqpacket-woken,hook,hook-fifo,hook-null,bpftrace), RECEIVER (1),
#   RATE (0: wrk; else h2load at RATE requests/s, which every variant must
#   sustain), SYSCALLS=1: afterwards one run per variant counting the
#   nginx worker's system calls (perf stat, raw_syscalls:sys_enter),
#   QUIET_BELOW (0.3), QUIET_WAIT (120): before each run, wait up to
#   QUIET_WAIT s for a second in which other programs use less than
#   QUIET_BELOW CPUs (the machine is shared),
#   OUT (results JSON; default bench/nginx/build/results-DATE.json),
#   PROFILE=1: afterwards one more run of each of PROFILE_VARIANTS (default
#   none,hook-seqpacket,hook-seqpacket-woken,hook,hook-fifo,hook-null)
#   under perf record
#   (cpu-clock) on the worker; reports next to OUT, and perfsplit.py's
#   summary of where the record's system call spends its time.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
# shellcheck source=bench/lib/netns.sh
. "$SRC/bench/lib/netns.sh"
ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
NGINX_CPU=${NGINX_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
VARIANTS=${VARIANTS:-none,hook-ring,hook-seqpacket,hook-seqpacket-woken,hook,hook-fifo,hook-null,bpftrace}
RATE=${RATE:-0}
SYSCALLS=${SYSCALLS:-0}
MODULE=${MODULE:-0}
MODULE_SYS=/sys/class/misc/tlstap
RECEIVER=${RECEIVER:-1}
BUILD=$HERE/build
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$BUILD/results-$STAMP.json}
PROFILE=${PROFILE:-0}
QUIET_BELOW=${QUIET_BELOW:-0.3}
QUIET_WAIT=${QUIET_WAIT:-120}
LIBSSL=/usr/lib/x86_64-linux-gnu/libssl.so.3

fail() {
	echo "run.sh: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (nginx, network namespace, bpftrace)"
for cmd in nginx wrk bpftrace taskset ip openssl python3 make cc; do
	command -v "$cmd" >/dev/null || fail "$cmd not found (make deps installs it)"
done
[ -r "$LIBSSL" ] || fail "$LIBSSL not found"
if [ "$RATE" != 0 ]; then
	command -v h2load >/dev/null || fail "h2load not found (make deps installs nghttp2-client)"
fi
extra=()
[ "$RATE" = 0 ] || extra+=(--rate "$RATE")
if [ "$SYSCALLS" = 1 ]; then
	command -v perf >/dev/null || fail "perf not found (make deps installs linux-perf)"
	extra+=(--syscalls)
fi
profile=()
if [ "$PROFILE" = 1 ]; then
	command -v perf >/dev/null || fail "perf not found (make deps installs linux-perf)"
	profile=(--profile-dir "${OUT%.json}-perf" --profile-variants
		"${PROFILE_VARIANTS:-none,hook-seqpacket,hook-seqpacket-woken,hook,hook-fifo,hook-null}")
	mkdir -p "${OUT%.json}-perf"
fi

# Private build directories: the checkout's own build/ may be in use.
make -s -C "$SRC/userhook" O="$BUILD/userhook" "$BUILD/userhook/libtlstap.so" ||
	fail "building libtlstap.so failed"
{ make -s -C "$SRC/fwd" O="$BUILD/fwd" "$BUILD/fwd/tlstap-fwd" &&
	make -s -C "$SRC/nfq-tools" O="$BUILD/nfq-tools" "$BUILD/nfq-tools/tlstap-recv"; } ||
	fail "building tlstap-fwd, tlstap-recv failed"

T=$(mktemp -d /tmp/tlstap-nginx-bench.XXXXXX)
NS=tlstap-nginx-bench-$$
NSR=tlstap-nginx-recv-$$
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	ip netns del "$NSR" 2>/dev/null || true
	if [ "$MODULE" = 1 ]; then
		echo flush >"$MODULE_SYS/targets" 2>/dev/null || true
		ip link del m0 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
# The worker runs as nobody and reads the config and the socket from here.
chmod 755 "$T"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
	2>"$T/openssl.err" || fail "openssl req: $(cat "$T/openssl.err")"
mkdir -p "$T/www" "$T/tmp" "$T/lib"
# 1 KiB of printable text (bpftrace's %r prints it as it is).
python3 -c 'import sys; sys.stdout.write("".join(chr(32 + i % 95) for i in range(1023)) + "\n")' \
	>"$T/www/1k.txt"
chmod 644 "$T/www/1k.txt"
cp "$LIBSSL" "$T/lib/libssl.so.3"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
[ "$port" != "$status_port" ] || fail "got the same free port twice"
cat >"$T/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 10000000;
	keepalive_timeout 60s;
	client_body_temp_path $T/tmp/body;
	proxy_temp_path $T/tmp/proxy;
	fastcgi_temp_path $T/tmp/fastcgi;
	uwsgi_temp_path $T/tmp/uwsgi;
	scgi_temp_path $T/tmp/scgi;
	server {
		listen 127.0.0.1:$port ssl;
		ssl_protocols TLSv1.3;
		ssl_certificate $T/cert.pem;
		ssl_certificate_key $T/key.pem;
		root $T/www;
	}
	server {
		listen 127.0.0.1:$status_port;
		location = /status { stub_status; }
	}
}
CONF

sender_ns "$NS" || fail "network namespace $NS"
recv=()
if [ "$RECEIVER" = 1 ]; then
	ip netns add "$NSR"
	ip -n "$NS" link set d0p netns "$NSR"
	ip -n "$NSR" link set lo up
	ip -n "$NSR" addr add 10.99.0.2/24 dev d0p
	ip -n "$NSR" link set d0p up
	recv=(--recv "$BUILD/nfq-tools/tlstap-recv" --recv-netns "$NSR"
		--recv-listen 0.0.0.0:7419)
else
	blackhole_target "$NS" || fail "neighbour entry in $NS"
fi
if [ "$MODULE" = 1 ]; then
	[ -d "$MODULE_SYS" ] || fail "MODULE=1: tlstap.ko is not loaded"
	[ "$RECEIVER" = 1 ] || fail "MODULE=1 needs RECEIVER=1"
	ip link add m0 type veth peer name m0p
	ip link set m0p netns "$NSR"
	ip addr add 10.98.0.1/24 dev m0
	ip link set m0 up
	ip -n "$NSR" addr add 10.98.0.2/24 dev m0p
	ip -n "$NSR" link set m0p up
	echo flush >"$MODULE_SYS/targets"
	echo "add 10.98.0.2:7419" >"$MODULE_SYS/targets"
	# nginx's worker runs as nobody: its group may write the device, as
	# the udev rule (dist/60-tlstap.rules) does for the group tlstap.
	chgrp nogroup /dev/tlstap
	chmod 0660 /dev/tlstap
	extra+=(--module)
fi

mkdir -p "$(dirname "$OUT")"
echo "run.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), commit ${TLSTAP_COMMIT:-$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)}, kernel $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run.sh: nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(bpftrace --version)"
if [ "$RATE" = 0 ]; then load="wrk -t1 -c$CONNECTIONS -d${DURATION}s"; else load="h2load --h1 at $RATE req/s, up to $CONNECTIONS connections, ${DURATION}s"; fi
echo "run.sh: $ROUNDS rounds x {$VARIANTS}, $load; nginx worker on CPU $NGINX_CPU, wrk and the capture side on CPU $LOAD_CPU; receiver $RECEIVER; net.unix.max_dgram_qlen $(cat /proc/sys/net/unix/max_dgram_qlen), net.core.wmem_max $(cat /proc/sys/net/core/wmem_max)"
taskset -c "$LOAD_CPU" python3 "$HERE/rounds.py" --dir "$T" \
	--lib "$BUILD/userhook/libtlstap.so" --fwd "$BUILD/fwd/tlstap-fwd" \
	--bt "$HERE/sslsniff.bt" "${recv[@]}" \
	--perfsplit "$HERE/perfsplit.py" --netns "$NS" --rounds "$ROUNDS" \
	--duration "$DURATION" --connections "$CONNECTIONS" \
	--nginx-cpu "$NGINX_CPU" --load-cpu "$LOAD_CPU" --port "$port" \
	--status-port "$status_port" --variants "$VARIANTS" --json "$OUT" \
	--quiet-below "$QUIET_BELOW" --quiet-wait "$QUIET_WAIT" \
	"${extra[@]}" "${profile[@]}"
if grep -q tlstap "$T/nginx-error.log" 2>/dev/null; then
	fail "the hook complained in nginx's error log: $(grep tlstap "$T/nginx-error.log" | head -n3)"
fi
echo "run.sh: results in $OUT"
