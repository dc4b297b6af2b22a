#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A producer that dies loses nothing it committed to its capture ring:
# - kill -9: a hooked client makes its ring, tlstap-fwd is stopped, the
#   client goes on (its records committed, none drained), is killed, and
#   once tlstap-fwd runs again every record arrives, byte for byte, from
#   the ring's connection's end;
# - death between reserve and commit (tests/tools/hookringwriter): committed
#   records arrive whole, a frame given up (ABANDONED) and the frame still
#   RESERVED at death each reach tlstap-recv as a "type":"loss" line with
#   its plaintext's bytes added to its dropped, never silently.
. "$(dirname "$0")/hook/lib.sh"
. "$HOOK_DIR/fwd.sh"

make_cert
port=$(freeport)
bg $PEER server 127.0.0.1 "$port" "$T/cert.pem" "$T/key.pem" "$T/srv" --conns 2
wait_port "$port"

# held_client NAME: tlstap-fwd NAME and a hooked client into it, which
# has made its ring; tlstap-fwd is stopped (SIGSTOP) while the client
# commits the rest of its records; the client waits before it closes.
# Sets cp.
held_client() {
	start_fwd "$1" raw
	write_conf "$T/$1.conf" <<CONF
global:
  if = $T/$1.sock
CONF
	env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/$1.conf" $PEER client 127.0.0.1 \
		"$port" "$T/$1" --sizes 100,3000,50000,7,20000 \
		--wait-after-first "$T/$1.go1" --wait-before-close "$T/$1.go2" \
		>"$T/$1.log" 2>&1 &
	cp=$!
	BG_PIDS+=("$cp")
	waiting "$T/$1.go1"
	kill -STOP "${FWD_PID[$1]}"
	touch "$T/$1.go1"
	waiting "$T/$1.go2"
}

# delivered NAME WHAT: the client's whole stream came out of NAME's
# tlstap-fwd, every record through the ring.
delivered() {
	local out
	out=$($RECORDS one-side "$T/$1.out" --pid "$cp" --logs "$T/$1" --unclosed) ||
		fail "$2: $out"
	[ "$(fwd_counter "$1" ring_records)" = "$(fwd_counter "$1" records)" ] ||
		fail "$2: not every record came through the ring"
}

held_client kill
kill -KILL "$cp"
wait "$cp" 2>/dev/null || true
[ ! -s "$T/kill.out" ] || before=$(stat -c %s "$T/kill.out")
kill -CONT "${FWD_PID[kill]}"
stop_fwd kill
delivered kill "kill -9"
[ "$(fwd_counter kill rings)" = 0 ] || fail "kill -9: the ring was not let go"
echo "kill -9: every record delivered (${before:-0} bytes before the end, $(stat -c %s "$T/kill.out") after)"

# tlstap-fwd told to stop while a live producer's ring holds records it
# never walked (it was stopped): they go out before it exits.
held_client term
kill -TERM "${FWD_PID[term]}"
kill -CONT "${FWD_PID[term]}"
rc=0
wait "${FWD_PID[term]}" || rc=$?
[ $rc = 0 ] || fail "term: tlstap-fwd exited with $rc: $(tail -n 5 "$T/term.fwd")"
touch "$T/term.go2"
wait "$cp" || fail "term: the client failed: $(tail -n1 "$T/term.log")"
settle "$T/term.out"
kill -TERM "${RECV_PID[term]}"
wait "${RECV_PID[term]}" || fail "term: tlstap-recv failed: $(tail -n 5 "$T/term.recv")"
delivered term "term"
echo "SIGTERM: every record the ring held delivered ($(stat -c %s "$T/term.out") bytes)"

start_fwd die json
rc=0
"$RINGWRITER" die "$T/die.sock" 40 1000 777 >"$T/die.json" 2>"$T/die.err" || rc=$?
[ $rc = 137 ] || fail "hookringwriter die: exit $rc, want SIGKILL: $(cat "$T/die.err")"
stop_fwd die
$PY - "$T/die.json" "$T/die.out" >"$T/die.check" 2>&1 <<'PY' ||
import base64, json, sys
want = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2])]
mine = [l for l in lines if l.get("conn_id") == want["conn_id"]]
data = [l for l in mine if l["type"] == "data"]
loss = sorted(l["dropped"] for l in mine if l["type"] == "loss")
if len(data) != want["records"]:
    sys.exit(f"{len(data)} records, want {want['records']}")
for l in data:
    i = l["time_ns"] - 1000000000
    body = bytes((i + k) & 0xff for k in range(want["len"]))
    if base64.b64decode(l["data"]) != body or l["pid"] != want["pid"] or l["dropped"]:
        sys.exit(f"record {i} is not what was written")
if loss != sorted([want["abandoned"], want["lost"]]):
    sys.exit(f"loss lines with dropped {loss}, want {want['abandoned']} and {want['lost']}")
print(f"{len(data)} records, loss lines {loss}")
PY
	fail "die: $(tail -n1 "$T/die.check")"
cat "$T/die.check"
[ "$(fwd_counter die ring_abandoned)" = 2 ] ||
	fail "die: ring_abandoned $(fwd_counter die ring_abandoned), want 2"
echo "PASS $TEST_NAME"
