#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Who may make tlstap-fwd retransmit, and how much: after a clean delivery
# to tlstap-recv, NACKs for held seqs come (nfq/nack_peer.py) from a host
# that is not a target (IPv4 and IPv6), from the target's address with
# another stream id, malformed from the target's address, and well-formed
# from the target's address but another port; then a flood of NACKs for
# 2 s. Checks: only the last one is honoured, the others counted by
# reason; retransmissions go to the target's address and port, never to
# the NACK's source; under the flood retransmissions stay within the
# token bucket (10000/s, burst 1024) and the rest is counted rate-limited.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 1
T1="10.77.1.2:7419"
ip -n "$(ns R1)" addr add 10.77.1.3/24 dev eth0 || fail "stranger's address"
start_receivers 1
start_fwd fwd S "$TMP/in.sock" --target "$T1" --replay-bytes 16777216
send_records --seed 14 --flows 20 --records 3000 --max-size 2048
wait_lines "$(json_field "$TMP/summary.json" records)" "$TMP/recv1.json"
sleep 0.5

fwd_pid=$(pgrep -P "$(cat "$TMP/fwd.pid")") || fail "no tlstap-fwd process"
recv_pid=$(pgrep -P "$(cat "$TMP/recv1.pid")") || fail "no tlstap-recv process"
# snapshot NAME: the counters of both, now.
snapshot() {
	local before
	before=$(grep -c '^{' "$TMP/fwd.err")
	kill -USR1 "$fwd_pid" "$recv_pid"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^{' "$TMP/fwd.err")" -gt "$before" ] && break
		sleep 0.05
	done
	sleep 0.1
	grep '^{' "$TMP/fwd.err" | tail -n 1 >"$TMP/$1.fwd"
	grep '^{' "$TMP/recv1.err" | tail -n 1 >"$TMP/$1.recv"
}
peer() {
	ip netns exec "$(ns R1)" timeout 30 python3 "$NFQ_HELPERS/nack_peer.py" \
		--stream "$stream" "$@" || fail "nack_peer $*"
}
stream=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["stream"])' "$TMP/recv1.dg")
top=$(python3 -c 'import json,sys; print(max(json.loads(l)["seq"] for l in open(sys.argv[1]) if "\"type\":1," in l))' "$TMP/recv1.dg")
[ "$top" -gt 2100 ] || fail "only $top datagrams: test data too thin"

snapshot clean
peer --src 10.77.1.3 --to 10.77.1.1:7419 --ranges 0-9 --count 5 --listen 0.3 >"$TMP/p1"
peer --src fd77:1::2 --to "[fd77:1::1]:7419" --ranges 0-9 --count 5 --listen 0.3 >"$TMP/p2"
stream=$((stream ^ 1)) peer --src 10.77.1.2 --to 10.77.1.1:7419 --ranges 0-9 \
	--count 5 --listen 0.3 >"$TMP/p3"
for kind in seq order span type; do
	peer --src 10.77.1.2 --to 10.77.1.1:7419 --ranges 30-31,40-41 \
		--malformed "$kind" --listen 0.1 >"$TMP/p4.$kind"
done
snapshot rejected
peer --src 10.77.1.2 --sport 5555 --to 10.77.1.1:7419 --ranges 0-9,20-29 \
	--listen 0.5 >"$TMP/p5"
snapshot honoured
peer --src 10.77.1.2 --to 10.77.1.1:7419 --ranges "0-1023,1024-2047" \
	--duration 2 >"$TMP/flood"
sleep 0.5
snapshot flood
stop_bg fwd
stop_bg recv1

python3 - "$TMP" <<'PY' >"$TMP/check.out" || fail "$(tail -n 1 "$TMP/check.out")"
import json, sys, glob
tmp = sys.argv[1]
def load(name):
    return json.load(open(tmp + "/" + name))
def fail(msg):
    print("FAIL " + msg); sys.exit(1)
snap = {k: (load(k + ".fwd"), load(k + ".recv"))
        for k in ("clean", "rejected", "honoured", "flood")}
def delta(a, b, side, key):
    return snap[b][side][key] - snap[a][side][key]
for p in glob.glob(tmp + "/p*"):
    if load(p.rsplit("/", 1)[1])["replies"]:
        fail("%s: a datagram came back to the NACK's source" % p)
if snap["clean"][0]["retransmits"] or snap["clean"][0]["nack_rejected"]:
    fail("retransmissions before any NACK: %s" % snap["clean"][0])
by = {k: snap["rejected"][0]["nack_rejected_by_reason"][k] -
         snap["clean"][0]["nack_rejected_by_reason"][k]
      for k in ("not_target", "wrong_stream", "malformed")}
if by != {"not_target": 10, "wrong_stream": 5, "malformed": 4}:
    fail("rejected by reason %s, want 10 not_target (5 IPv4, 5 IPv6), "
         "5 wrong_stream, 4 malformed" % by)
if delta("clean", "rejected", 0, "retransmits") or \
   delta("clean", "rejected", 0, "nacks_received") or \
   delta("clean", "rejected", 1, "retransmitted"):
    fail("a rejected NACK was honoured")
if delta("rejected", "honoured", 0, "nacks_received") != 1 or \
   delta("rejected", "honoured", 0, "retransmits") != 20 or \
   delta("rejected", "honoured", 1, "retransmitted") != 20:
    fail("the target's NACK from port 5555: %d retransmitted, %d arrived"
         % (delta("rejected", "honoured", 0, "retransmits"),
            delta("rejected", "honoured", 1, "retransmitted")))
flood = load("flood")
rtx = delta("honoured", "flood", 0, "retransmits")
limited = delta("honoured", "flood", 0, "nack_ratelimited")
nacks = delta("honoured", "flood", 0, "nacks_received")
bound = 10000 * (flood["seconds"] + 0.5) + 1024
if rtx > bound:
    fail("%d retransmissions in %.2f s: above the bound %d"
         % (rtx, flood["seconds"], bound))
if rtx < 0.5 * 10000 * flood["seconds"] or limited <= 0:
    fail("%d retransmissions, %d rate-limited in %.2f s: the bucket did not "
         "bind" % (rtx, limited, flood["seconds"]))
print("rejected: %s; honoured from another port: 20 retransmitted to the "
      "target; flood: %d NACKs sent, %d taken, %d retransmissions in %.2f s "
      "(%.0f/s, bound 10000/s + 1024), %d seqs rate-limited"
      % (by, flood["sent"], nacks, rtx, flood["seconds"],
         rtx / flood["seconds"], limited))
PY
cat "$TMP/check.out"
echo "PASS: $TEST_NAME"
