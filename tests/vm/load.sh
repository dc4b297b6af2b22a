#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Load: nginx (two workers, TLS 1.3, a 1 KiB file) with the hook, wrk
# holding LOAD_CONNECTIONS (default 1,000) HTTPS connections at once,
# records through the module to two targets, each a tlstap-recv in a
# namespace. In the VM because the module runs only there; wrk and nginx
# share its two virtual CPUs (TCG): nginx advances all handshakes at
# once, so the first requests complete only after tens of seconds. The
# run therefore has a warm-up, until every one of the connections has
# completed a request (nginx's $connection in its access log), then
# LOAD_SECONDS (default 10; 60 for the long run) of load at full
# concurrency, then wrk is stopped (SIGINT: it prints its figures).
# LOAD_THREADS: wrk's threads (default 1: the CPUs are nginx's too).
# Checks: every plaintext byte nginx read and wrote (its access log) was
# captured or counted as dropped by the hook (the records' `dropped` and
# loss reports), but for what connections cut by wrk's stop left half
# done; the receivers output exactly the records the module took, saw
# every datagram it sent, nothing malformed, nothing lost; memory stays
# bounded (sampled every 2 s: kernel memory in use, receivers' RSS).
. "$TLSTAP_SRC/tests/lib/vm.sh"

DURATION=${LOAD_SECONDS:-10}
CONNS=${LOAD_CONNECTIONS:-1000}
THREADS=${LOAD_THREADS:-1}
WARMUP_MAX=${LOAD_WARMUP_MAX:-600}
LIB=$TLSTAP_SRC/userhook/build/libtlstap.so

say() { echo "[$SECONDS s] $*"; }

start_load_recv() { # NS LISTEN NAME
	ip netns exec "$1" "$RECV" --listen "$2" --output raw --out "$WORK/$3.raw" \
		--lost "$WORK/$3.lost" --stats-json 2>"$WORK/$3.err" &
	BG_PIDS="$BG_PIDS $!"
	echo $! >"$WORK/$3.pid"
	wait_for 30 udp_bound "$1" "${2##*:}" || fail "tlstap-recv in $1 did not bind"
}

json_lines() { grep -c '^{' "$1" || true; }
json_lines_above() { [ "$(json_lines "$1")" -gt "$2" ]; }

# recv_counter NAME KEY: a counter of a running receiver (SIGUSR1 makes it
# print them as a JSON line on stderr); empty if it did not answer.
recv_counter() {
	local lines
	lines=$(json_lines "$WORK/$1.err")
	kill -USR1 "$(cat "$WORK/$1.pid")"
	wait_for 10 json_lines_above "$WORK/$1.err" "$lines" || return 0
	grep '^{' "$WORK/$1.err" | tail -n 1 | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}

# The receivers hold every record the module took.
recv_caught_up() {
	local a b
	a=$(recv_counter r1 records)
	b=$(recv_counter r2 records)
	[ $((${a:-0} + ${b:-0})) -ge "$(stat_of records)" ]
}

# Every 2 s: time, memory in use (KiB: all processes and the kernel, page
# cache out), of it slab, the receivers' RSS, wrk's, nginx's (all its
# processes).
sample_memory() {
	local r1 r2
	r1=$(cat "$WORK/r1.pid")
	r2=$(cat "$WORK/r2.pid")
	while :; do
		# shellcheck disable=SC2046  # a list of pids
		awk -v r1="$(rss_kb "$r1")" -v r2="$(rss_kb "$r2")" \
		    -v w="$(rss_kb $(pgrep -x wrk))" -v n="$(rss_kb $(pgrep -x nginx))" \
		    -v t="$SECONDS" \
		    '/^MemTotal:/ { m = $2 } /^MemFree:/ { f = $2 } /^Buffers:/ { b = $2 }
		     /^Cached:/ { c = $2 } /^Slab:/ { s = $2 }
		     END { print t, m - f - b - c, s, r1, r2, w, n }' /proc/meminfo
		sleep 2
	done
}
rss_kb() { # PID...: their resident memory summed (KiB)
	local pid t=0 v
	for pid in "$@"; do
		v=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || true
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# Connections (nginx's serial numbers) that completed a request.
served_connections() {
	awk '!seen[$1]++ { n++ } END { print n + 0 }' "$WORK/access.log"
}

load_module
host_ns t1 1
host_ns t2 2
start_load_recv t1 10.77.1.2:7419 r1
start_load_recv t2 10.77.2.2:7419 r2
echo "add 10.77.1.2:7419" >"$SYS/targets"
echo "add 10.77.2.2:7419" >"$SYS/targets"

mkdir -p "$WORK/www" "$WORK/tmp"
head -c 1024 /dev/urandom >"$WORK/www/1k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=tlstap-load -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null ||
	fail "no certificate"
cat >"$WORK/nginx.conf" <<CONF
user root;
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
	log_format acct '\$connection \$request_length \$bytes_sent \$status';
	access_log $WORK/access.log acct;
	client_body_temp_path $WORK/tmp;
	proxy_temp_path $WORK/tmp;
	fastcgi_temp_path $WORK/tmp;
	uwsgi_temp_path $WORK/tmp;
	scgi_temp_path $WORK/tmp;
	keepalive_requests 1000000;
	keepalive_timeout 600s;
	# The TLS handshake runs under client_header_timeout (60 s): under
	# TCG, 1,000 handshakes at once can all take longer, be cut, start
	# again, and none ever finish.
	client_header_timeout 600s;
	send_timeout 600s;
	server {
		listen 127.0.0.1:8443 ssl backlog=4096;
		ssl_certificate $WORK/cert.pem;
		ssl_certificate_key $WORK/key.pem;
		ssl_protocols TLSv1.3;
		root $WORK/www;
	}
}
CONF
ulimit -n 8192
sysctl -qw net.core.somaxconn=4096
LD_PRELOAD=$LIB TLSTAP_IF=/dev/tlstap nginx -c "$WORK/nginx.conf" -e "$WORK/nginx.err" &
nginx_pid=$!
BG_PIDS="$BG_PIDS $nginx_pid"
wait_for 30 sh -c 'ss -Hltn "sport = :8443" | grep -q .' || fail "nginx did not listen: $(cat "$WORK/nginx.err")"
# One request first: nginx and the hook work before the load starts.
timeout 60 curl -sSk -o "$WORK/first.bin" https://127.0.0.1:8443/1k.bin ||
	fail "a first request failed: $(tail -n 3 "$WORK/nginx.err")"
cmp -s "$WORK/first.bin" "$WORK/www/1k.bin" || fail "the first request got other bytes"

sample_memory >"$WORK/memory" &
BG_PIDS="$BG_PIDS $!"
say "wrk -t$THREADS -c$CONNS: warm-up until every connection has completed a request"
wrk -t"$THREADS" -c"$CONNS" -d3600s --timeout 120s \
	https://127.0.0.1:8443/1k.bin >"$WORK/wrk.out" 2>&1 &
wrk_pid=$!
BG_PIDS="$BG_PIDS $wrk_pid"
start=$SECONDS
# nginx's serial numbers: curl's request was one, wrk's connections
# (and any it opened again after an error) the others.
while [ "$(served_connections)" -le "$CONNS" ]; do
	kill -0 "$wrk_pid" 2>/dev/null || fail "wrk ended early: $(cat "$WORK/wrk.out")"
	[ $((SECONDS - start)) -lt "$WARMUP_MAX" ] ||
		fail "warm-up: $(served_connections) connections served in $WARMUP_MAX s"
	sleep 2
	if [ $(((SECONDS - start) % 30)) -lt 2 ]; then
		say "warm-up: $(served_connections) connections served, $(wc -l <"$WORK/access.log") requests, $(ss -Htn state established "sport = :8443" | wc -l) established"
	fi
done
warmup=$((SECONDS - start))
requests0=$(wc -l <"$WORK/access.log")
open0=$(ss -Htn state established "sport = :8443" | wc -l)
say "warm-up done in $warmup s: $(served_connections) connections served ($requests0 requests), $open0 established now; load for $DURATION s"
sleep "$DURATION"
load_end=$SECONDS
open1=$(ss -Htn state established "sport = :8443" | wc -l)
kill -INT "$wrk_pid"
timeout 60 tail --pid="$wrk_pid" -f /dev/null || fail "wrk did not stop on SIGINT"
requests1=$(wc -l <"$WORK/access.log")
cat "$WORK/wrk.out"
say "load: $((requests1 - requests0)) requests in $DURATION s at full concurrency ($open0 / $open1 connections established at its start / end)"
[ "$open0" -ge "$CONNS" ] || fail "only $open0 of $CONNS connections open after the warm-up"
# nginx stops its workers gracefully; the hook sends its last loss reports.
kill -QUIT "$nginx_pid"
timeout 60 tail --pid="$nginx_pid" -f /dev/null || fail "nginx did not stop"
wait_for 60 recv_caught_up || say "receivers behind the module after 60 s"
stop_recv
cat "$SYS/stats" "$SYS/targets"

python3 - "$WORK" <<'PY' || fail "load accounting"
import json, struct, sys
work = sys.argv[1]
HDR = struct.Struct("!BBBBHHII16s16sQQQ")

def counters(name):
    return json.loads([l for l in open(f"{work}/{name}.err") if l.startswith("{")][-1])

req = sent = n = 0
status = {}
conns_served = set()
for line in open(f"{work}/access.log"):
    cn, rl, bs, st = line.split()
    req += int(rl); sent += int(bs); n += 1
    conns_served.add(cn)
    status[st] = status.get(st, 0) + 1
cap = {1: 0, 2: 0}
dropped = records = loss_reports = 0
conns = set()
for r in ("r1", "r2"):
    data = open(f"{work}/{r}.raw", "rb").read()
    pos = 0
    while pos < len(data):
        h = HDR.unpack_from(data, pos)
        cap[h[1]] += h[6]
        dropped += h[12]
        records += 1
        loss_reports += h[6] == 0
        conns.add(h[11])
        pos += HDR.size + h[6]
lost_lines = sum(1 for r in ("r1", "r2") for _ in open(f"{work}/{r}.lost"))
c = {r: counters(r) for r in ("r1", "r2")}
stats = dict(l.split() for l in open("/sys/class/misc/tlstap/stats"))
targets = {l.split()[0]: int(l.split()[4]) for l in open("/sys/class/misc/tlstap/targets")}
mem = [list(map(int, l.split())) for l in open(f"{work}/memory") if len(l.split()) == 7]
nginx_bytes = req + sent
hook_bytes = cap[1] + cap[2] + dropped
summary = {
    "requests_logged": n, "status": status, "connections_served": len(conns_served),
    "connections_captured": len(conns),
    "nginx_read": req, "nginx_written": sent,
    "captured_read": cap[1], "captured_written": cap[2], "dropped": dropped,
    "records_received": records, "loss_reports": loss_reports,
    "module_records": int(stats["records"]), "module_bytes": int(stats["bytes"]),
    "module_datagrams": int(stats["datagrams"]), "target_packets": targets,
    "drop_ring_full": int(stats["drop_ring_full"]), "tx_errors": int(stats["tx_errors"]),
    "retransmits": int(stats["retransmits"]),
    "recv_records": [c[r]["records"] for r in c],
    "recv_datagrams": [c[r]["datagrams"] for r in c],
    "recv_heartbeats": [c[r]["heartbeats_received"] for r in c],
    "recv_lost_datagrams": [c[r]["lost_datagrams"] for r in c],
    "recv_retransmitted": [c[r]["retransmitted"] for r in c],
    "recv_duplicates": [c[r]["duplicates"] for r in c],
    "lost_lines": lost_lines,
    "mem_used_kib_min_max": [min(m[1] for m in mem), max(m[1] for m in mem)],
    "slab_kib_max": max(m[2] for m in mem),
    "recv_rss_kib_max": [max(m[3] for m in mem), max(m[4] for m in mem)],
    "wrk_rss_kib_max": max(m[5] for m in mem), "nginx_rss_kib_max": max(m[6] for m in mem),
}
print("load:", json.dumps(summary))
errs = []
if n == 0:
    errs.append("nginx served nothing")
if records != int(stats["records"]):
    errs.append(f"receivers output {records} records, the module took {stats['records']}")
for r in c:
    for k in ("invalid", "inconsistent", "invalid_records", "aborted", "lost_datagrams"):
        if c[r][k]:
            errs.append(f"{r}: {k}={c[r][k]}")
if lost_lines:
    errs.append(f"{lost_lines} LOST lines")
# Every datagram a target was sent arrived, or its resend did (and a
# resend of one merely late arrives besides): datagrams = packets +
# heartbeats + resends received - originals lost on the way, with
# 0 <= originals lost <= resends received.
for r, (t, p) in zip(("r1", "r2"), sorted(targets.items())):
    missing = p + c[r]["heartbeats_received"] + c[r]["retransmitted"] - c[r]["datagrams"]
    if not 0 <= missing <= c[r]["retransmitted"]:
        errs.append(f"{r}: {c[r]['datagrams']} datagrams; {t} was sent {p}, "
                    f"{c[r]['heartbeats_received']} heartbeats, {c[r]['retransmitted']} resends")
if sum(c[r]["heartbeats_received"] for r in c) > int(stats["heartbeats"]):
    errs.append(f"receivers got {sum(c[r]['heartbeats_received'] for r in c)} heartbeats, "
                f"the module sent {stats['heartbeats']}")
if sum(c[r]["retransmitted"] for r in c) > int(stats["retransmits"]):
    errs.append(f"receivers got {sum(c[r]['retransmitted'] for r in c)} resends, "
                f"the module sent {stats['retransmits']}")
# Bytes: the hook saw at least what nginx logged, and no more than that
# plus what the connections wrk cut at its stop were in the middle of
# (an unlogged request read: its headers, well under 4 KiB each).
slack = hook_bytes - nginx_bytes
if slack < 0 or slack > 4096 * summary["connections_captured"]:
    errs.append(f"hook saw {hook_bytes} bytes (captured + dropped), nginx logged {nginx_bytes}")
for e in errs:
    print("error:", e)
sys.exit(1 if errs else 0)
PY
# Memory: bounded means the use at the end of the load is not far above
# where it was when the load began (no growth with time at full load).
# wrk's own memory is left out: it is the load, not what is measured, and
# it grows with the requests it has waiting when the guest is slow.
# The sampler is slow under TCG: its last sample before the load began
# and its first after it ended are taken in as well.
awk -v t0="$((start + warmup - 4))" -v t1="$((load_end + 4))" '
	$1 >= t0 && $1 <= t1 { v = $2 - $6; if (!n) first = v; last = v; if (v > max) max = v; n++ }
	END {
		printf "memory in use during the load, wrk aside: %d KiB at its start, %d at its end, %d at most (%d samples)\n", first, last, max, n
		if (!n) { print "no sample"; exit 1 }
		if (max > first + 65536) { print "grew by " max - first " KiB"; exit 1 }
	}' "$WORK/memory" || fail "memory grew during the load"
say "ok   load: every byte captured or counted, receivers consistent, memory bounded"
