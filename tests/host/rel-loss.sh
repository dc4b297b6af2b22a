#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Reliable delivery through loss: tlstap-fwd -> tlstap-recv over a veth
# that drops 5% of the datagrams at random in each direction (DATA,
# heartbeats, retransmissions; NACKs) and reorders 10% of them (a slow
# HTB class the rest overtakes; see lossy_link in nfq/lib.sh). The replay
# ring holds all of it (16 MiB): a receiver descheduled on a busy host
# could otherwise fall more than the default 4 MiB behind and get GAPs,
# which rel-gap.sh tests. Checks: every record arrives byte-exact, once,
# and no LOST range; every seq accepted once (retransmissions flagged,
# the rest duplicates); the receiver NACKed and got retransmissions, the
# forwarder retransmitted, rejected nothing, sent no GAP and dropped
# nothing; counters agree with what the checker saw.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 1
TOS=32
T1="10.77.1.2:7419"
lossy_link 1 5 10 5
start_receivers 1
start_fwd fwd S "$TMP/in.sock" --tos "$TOS" --target "$T1" \
	--replay-bytes 16777216

send_records --seed 11 --flows 60 --records 3000 --max-size 4096 --loss-every 50
want=$(json_field "$TMP/summary.json" records)
wait_lines "$want" "$TMP/recv1.json"
# Late NACK answers may still be in flight: let them land as duplicates.
sleep 0.5
stop_bg fwd
stop_bg recv1

check_delivery delivery "\"tos\": $TOS, \"reliable\": true" "1 $T1 1500 stats"
python3 - "$TMP" <<'PY' || fail "$(tail -n 1 "$TMP/counters.out")"
import json, sys
tmp = sys.argv[1]
def last(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")][-1]
fwd, rcv = last(tmp + "/fwd.err"), last(tmp + "/recv1.err")
t = fwd["targets"][0]
dg = [json.loads(l) for l in open(tmp + "/recv1.dg")]
rtx_seen = sum(1 for d in dg if d.get("type") == 1 and d["flags"] & 1)
out = open(tmp + "/counters.out", "w")
def check(ok, what):
    if not ok:
        out.write("FAIL %s\n" % what); out.close(); sys.exit(1)
check(rcv["nacks_sent"] > 0 and rcv["retransmitted"] > 0,
      "no NACK or no retransmission: %s" % rcv)
check(rcv["lost_datagrams"] == 0 and rcv["lost_records"] == 0 and
      rcv["lost_ranges"] == 0, "receiver lost %s" % rcv)
check(rcv["retransmitted"] == rtx_seen, "receiver counted %d retransmissions, its log %d"
      % (rcv["retransmitted"], rtx_seen))
check(fwd["retransmits"] >= rcv["retransmitted"], "forwarder retransmitted %d, "
      "receiver got %d" % (fwd["retransmits"], rcv["retransmitted"]))
check(fwd["nack_rejected"] == 0 and fwd["gaps_sent"] == 0 and
      fwd["nack_ratelimited"] == 0, "forwarder rejected, GAPed or limited: %s" % fwd)
check(fwd["nacks_received"] <= rcv["nacks_sent"] and fwd["nacks_received"] > 0,
      "NACKs received %d, sent %d" % (fwd["nacks_received"], rcv["nacks_sent"]))
check(rcv["heartbeats_received"] > 0, "no heartbeat")
print("loss: %d datagrams, %d retransmitted (%.1f%%), %d NACKs sent, %d received, "
      "%d heartbeats" % (t["datagrams"], fwd["retransmits"],
      100.0 * fwd["retransmits"] / t["datagrams"], rcv["nacks_sent"],
      fwd["nacks_received"], rcv["heartbeats_received"]))
PY
echo "PASS: $TEST_NAME"
