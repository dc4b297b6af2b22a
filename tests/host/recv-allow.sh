#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Strangers on the network cannot make a receiver output records twice.
# tlstap-fwd sends 10 records to tlstap-recv, goes quiet, another address
# sends 300 well-formed HEARTBEATs with made-up stream ids (more than
# --max-streams, 256: the real stream is evicted), then tlstap-fwd sends 10
# more. Checks:
# - by default (any sender, which the start line warns about) the 20
#   records come out once each: the evicted stream continues where it
#   stopped, nothing is asked for again (counters: streams_evicted,
#   streams_resumed);
# - with --allow naming tlstap-fwd's address, the HEARTBEATs are refused
#   and counted (refused 300), no stream is evicted, the records come out
#   once each; the start line names the senders taken;
# - tlstap-nfq with --allow likewise (its core's "refused");
# - a malformed --allow is refused with a message.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

build_tools
add_ns R

# strangers PORT: 300 HEARTBEATs of made-up streams from 127.0.0.2 (TOS
# 0x20, as a sender's: tlstap-nfq's rule takes them too).
strangers() {
	ip netns exec "$(ns R)" python3 - "$NFQ_HELPERS" "$1" <<'PY' || fail "strangers"
import random, socket, sys
sys.path.insert(0, sys.argv[1])
from replay import control
rng = random.Random(5)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x20)
s.bind(("127.0.0.2", 0))
for _ in range(300):
    heartbeat = control(rng.getrandbits(32))[2]
    s.sendto(heartbeat, ("127.0.0.1", int(sys.argv[2])))
PY
}

# run NAME PORT: batch, quiet, strangers, batch, into $TMP/NAME.json.
run() {
	: >"$TMP/all.expect"
	send_batch "$1-1" "${1: -1}1" 10 --max-size 3000
	wait_records 10 "$TMP/$1.json"
	# The sender's heartbeats are over (3 x 100 ms): its stream is idle.
	sleep 0.6
	strangers "$2"
	sleep 0.3
	send_batch "$1-2" "${1: -1}2" 10 --max-size 3000
	wait_records 20 "$TMP/$1.json"
	# Anything asked for again would be here by now.
	sleep 1
}

start_fwd fwd R "$TMP/in.sock" --target 127.0.0.1:7504 --port 7600
start_bg r1 R "$BIN/tlstap-recv" --listen 127.0.0.1:7504 --out "$TMP/r1.json" \
	--stats-json
sleep 0.3
run r1 7504
stop_bg r1
check_records "$TMP/all.expect" "$TMP/r1.json"
head -n 1 "$TMP/r1.err" | grep -q "any sender" ||
	fail "r1: the start line does not warn about taking any sender: $(head -n 1 "$TMP/r1.err")"
[ "$(nfq_stat r1 - streams_evicted)" -ge 1 ] ||
	fail "r1: no stream evicted: the strangers did not fill the table"
[ "$(nfq_stat r1 - streams_resumed)" = 1 ] ||
	fail "r1: streams_resumed $(nfq_stat r1 - streams_resumed), want 1"
echo "any sender: 20 records once each, $(nfq_stat r1 - streams_evicted) streams evicted, the real one resumed"

start_bg r2 R "$BIN/tlstap-recv" --listen 127.0.0.1:7504 --out "$TMP/r2.json" \
	--allow 127.0.0.1 --allow 10.0.0.0/8 --stats-json
sleep 0.3
run r2 7504
stop_bg r2
check_records "$TMP/all.expect" "$TMP/r2.json"
nfq_stats_are r2 - refused=300 streams=1 streams_evicted=0
head -n 1 "$TMP/r2.err" | grep -q "127.0.0.1/32, 10.0.0.0/8" ||
	fail "r2: the start line does not name the senders: $(head -n 1 "$TMP/r2.err")"
echo "--allow: 300 HEARTBEATs refused, no stream evicted, 20 records once each"
stop_bg fwd

start_fwd fwd R "$TMP/in.sock" --target 127.0.0.1:7505 --port 7600
start_bg r3 R "$BIN/tlstap-nfq" --install-rule --port 7505 --allow 127.0.0.1 \
	--out "$TMP/r3.json" --stats-json
wait_rule R
run r3 7505
stop_bg r3
check_records "$TMP/all.expect" "$TMP/r3.json"
[ "$(nfq_stat r3 reasm refused)" = 300 ] ||
	fail "r3: reasm.refused $(nfq_stat r3 reasm refused), want 300"
echo "tlstap-nfq --allow: 300 refused, 20 records once each"

for bad in 10.0.0.0/33 10.0.0.1/8x "fd00::/129" nonsense; do
	rc=0
	ip netns exec "$(ns R)" "$BIN/tlstap-recv" --listen 127.0.0.1:7506 \
		--allow "$bad" 2>"$TMP/bad.err" || rc=$?
	[ "$rc" = 1 ] && grep -q -- "--allow: .*$bad" "$TMP/bad.err" ||
		fail "--allow $bad: exit $rc, $(cat "$TMP/bad.err")"
done
echo "PASS: $TEST_NAME"
