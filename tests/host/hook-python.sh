#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Python's ssl module, which reads and writes with SSL_read_ex and
# SSL_write_ex (and loads libssl with RTLD_LOCAL, out of RTLD_NEXT's
# reach): a hooked server and a hooked client exchange frames of 5 B,
# 300 KB (one SSL_write_ex: 64 KiB records) and 17 B, over IPv4 and IPv6.
# Captures equal, byte for byte, what each peer logged as sent and
# received, and each other; ports agree. A client that closes its
# socket's descriptor before it frees the session: close() writes the
# CLOSE, once. Then two sessions over memory BIOs in one process: family
# NONE, zero addresses, their own ids.
. "$(dirname "$0")/hook/lib.sh"

start_capture
export TLSTAP_CONF=$T/tlstap.conf

for addr in 127.0.0.1 ::1; do
	case $addr in *:*) port=$(freeport --v6); v=6 ;; *) port=$(freeport); v=4 ;; esac
	: >"$T/rec"
	since=$(date +%s%N)
	bg env LD_PRELOAD="$LIB" $PEER server "$addr" "$port" "$T/cert.pem" \
		"$T/key.pem" "$T/srv$v"
	sp=$BG_PID
	wait_port "$port"
	LD_PRELOAD="$LIB" timeout 60 $PEER client "$addr" "$port" "$T/cli$v" \
		>"$T/cli$v.log" 2>&1 || fail "IPv$v client failed: $(tail -n1 "$T/cli$v.log")"
	wait "$sp" || fail "IPv$v server failed"
	settle "$T/rec"
	cp "$T/rec" "$T/v$v.rec"
	out=$($RECORDS conns "$T/v$v.rec" --server-pid "$sp" --server-port "$port" \
		--addr "$addr" --conns 1 --client-logs "$T/cli$v" \
		--server-logs "$T/srv$v" --since "$since" --max-record 65536) ||
		fail "IPv$v: $out"
done

: >"$T/rec"
port=$(freeport)
bg env LD_PRELOAD="$LIB" $PEER server 127.0.0.1 "$port" "$T/cert.pem" \
	"$T/key.pem" "$T/csrv"
sp=$BG_PID
wait_port "$port"
LD_PRELOAD="$LIB" timeout 60 $PEER client 127.0.0.1 "$port" "$T/ccli" \
	--sizes 5,3000 --close-socket-first "$T/ccli.times" >"$T/ccli.log" 2>&1 ||
	fail "close() client failed: $(tail -n1 "$T/ccli.log")"
wait "$sp" || fail "close() server failed"
settle "$T/rec"
out=$($RECORDS conns "$T/rec" --server-pid "$sp" --server-port "$port" \
	--addr 127.0.0.1 --conns 1 --client-logs "$T/ccli" --server-logs "$T/csrv") ||
	fail "close(): $out"
read -r t0 t1 <"$T/ccli.times"
$PY - "$HOOK_DIR" "$T/rec" "$sp" "$t0" "$t1" >"$T/close.check" 2>&1 <<'PY' ||
import sys
sys.path.insert(0, sys.argv[1])
import tlstap_records as tr
recs = tr.parse(sys.argv[2])
sp, t0, t1 = map(int, sys.argv[3:])
close = [r for r in recs if r.pid != sp and r.type == tr.TYPE_CLOSE]
if len(close) != 1 or not t0 <= close[0].ts < t1:
    raise SystemExit(f"client CLOSEs {[r.ts for r in close]}, want one "
                     f"between close() at {t0} and SSL_free at {t1}")
PY
	fail "close(): $(tail -n1 "$T/close.check")"

: >"$T/rec"
LD_PRELOAD="$LIB" timeout 60 $PEER memory "$T/mem" "$T/cert.pem" "$T/key.pem" \
	>"$T/mem.log" 2>&1 || fail "memory BIO peers failed: $(tail -n1 "$T/mem.log")"
settle "$T/rec"
$PY - "$HOOK_DIR" "$T/rec" "$T/mem" <<'PY' || fail "memory BIO: $(cat "$T/mem.check")"
import sys
sys.path.insert(0, sys.argv[1])
import tlstap_records as tr
recs, prefix = tr.parse(sys.argv[2]), sys.argv[3]
def check():
    tr.require(recs, "no records")
    tr.require(all(r.family == tr.FAMILY_NONE for r in recs), "a record has an address family")
    conns = tr.by_conn(recs)
    tr.require(len(conns) == 2, f"{len(conns)} connection ids, want 2")
    want = {n: {k: open(f"{prefix}.{n}.{k}", "rb").read() for k in ("sent", "got")}
            for n in ("client", "server")}
    streams = {cid: (tr.stream(rs, tr.WRITE), tr.stream(rs, tr.READ)) for cid, rs in conns.items()}
    for name in ("client", "server"):
        tr.require((want[name]["sent"], want[name]["got"]) in streams.values(),
                   f"no connection id carries what the {name} sent and received")
try:
    check()
except tr.CheckFailed as e:
    open(sys.argv[3] + ".check", "w").write(str(e))
    raise SystemExit(1)
PY
stop_reader "$READER_PID"
echo "PASS $TEST_NAME"
