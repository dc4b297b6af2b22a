#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-fwd beside a receiver on one host, both with their default ports:
# tlstap-recv listens on 7419 (the targets' port by convention), so
# tlstap-fwd must send from an ephemeral port, name it in its start line
# and take its NACKs there. 5% of the datagrams to the receiver are
# dropped (nft, on the way in), so that the receiver NACKs. Checks: every
# record byte-exact, no LOST range; the port of the start line is the one
# the datagrams came from and the NACKs went to (tlstap-fwd honoured
# them, and retransmitted); an explicit --port on the receiver's port
# fails with an error that names the way out.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
add_ns H
ip netns exec "$(ns H)" nft -f - <<'NFT' || fail "nft loss rule"
table inet tlstap_loss {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 numgen random mod 100 < 5 counter drop
	}
}
NFT
T1="127.0.0.1:7419"
start_bg recv1 H "$BIN/tlstap-recv" --listen "$T1" --out "$TMP/recv1.json" \
	--log-datagrams "$TMP/recv1.dg" --stats-json
wait_udp_bound recv1 H 7419

# No --port: start_fwd would give the tests' 7419.
start_bg fwd H "$FWD_BIN/tlstap-fwd" --unix "$TMP/in.sock" --hash-key "$HASH_KEY" \
	--stats-json --no-gso --max-datagram 1400 --target "$T1"
for ((i = 0; i < 200; i++)); do
	[ -e "$TMP/in.sock" ] && break
	kill -0 "$(cat "$TMP/fwd.pid")" 2>/dev/null ||
		fail "tlstap-fwd with the default port: $(cat "$TMP/fwd.err")"
	sleep 0.05
done
port=$(sed -n 's/^tlstap-fwd: reading .*; sending from UDP port \([0-9]*\) .*/\1/p' "$TMP/fwd.err")
[ -n "$port" ] || fail "no start line naming the port: $(head -n 3 "$TMP/fwd.err")"
[ "$port" != 7419 ] || fail "tlstap-fwd took the receiver's port"
send_records --seed 51 --flows 30 --records 1500 --max-size 4096
wait_lines "$(json_field "$TMP/summary.json" records)" "$TMP/recv1.json"
sleep 0.5
stop_bg fwd

# An explicit port that the receiver holds: refused, with the way out.
if ip netns exec "$(ns H)" timeout 10 "$FWD_BIN/tlstap-fwd" --unix "$TMP/x.sock" \
	--target "$T1" --port 7419 2>"$TMP/busy.err"; then
	fail "tlstap-fwd --port 7419 started beside the receiver"
fi
if ! grep -q "binding source port 7419: Address already in use" "$TMP/busy.err" ||
	! grep -q -- "--port" "$TMP/busy.err"; then
	fail "the error does not name the way out: $(cat "$TMP/busy.err")"
fi

stop_bg recv1

check_delivery delivery '"tos": 32, "reliable": true' "1 $T1 1428 stats"
python3 - "$TMP" "$port" <<'PY' || fail "$(tail -n 1 "$TMP/port.out")"
import json, sys
tmp, port = sys.argv[1], sys.argv[2]
out = open(tmp + "/port.out", "w")
def check(ok, what):
    if not ok:
        out.write("FAIL %s\n" % what); out.close(); sys.exit(1)
def last(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")][-1]
fwd, rcv = last(tmp + "/fwd.err"), last(tmp + "/recv1.err")
senders = {json.loads(l)["sender"] for l in open(tmp + "/recv1.dg")}
check(senders == {"127.0.0.1:" + port}, "datagrams from %s, start line "
      "says port %s" % (sorted(senders), port))
check(rcv["nacks_sent"] > 0, "the receiver sent no NACK: the loss rule "
      "dropped nothing")
check(0 < fwd["nacks_received"] <= rcv["nacks_sent"] and
      fwd["retransmits"] > 0, "NACKs sent %d, honoured %d, retransmits %d"
      % (rcv["nacks_sent"], fwd["nacks_received"], fwd["retransmits"]))
out.write("port %s: %d NACKs honoured, %d retransmits\n"
          % (port, fwd["nacks_received"], fwd["retransmits"]))
PY
cat "$TMP/port.out"
echo "PASS: $TEST_NAME"
