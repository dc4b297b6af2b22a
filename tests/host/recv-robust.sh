#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-recv against real tlstap-fwd datagrams, replayed (inside a private
# namespace, on its loopback) shuffled with duplicates, with one datagram
# missing, mixed with malformed datagrams and with control messages, each
# scenario from its own source port. Checks: the shuffled stream yields
# every record once, byte-exact; the gapped stream yields exactly the
# records that did not touch the missing datagram (never a partial one)
# and, its NACKs unanswered, one LOST range of exactly the others after
# the last try; malformed datagrams yield nothing and are all counted
# invalid; control messages are counted (a heartbeat of a stream not seen
# before starts it after the seqs it names: nothing asked for, nothing
# LOST, PROTOCOL.md 5.1); duplicates counted;
# the datagram log (--log-datagrams) tells each datagram's verdict.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
add_ns R
start_bg capture R python3 "$NFQ_HELPERS/udp_capture.py" 127.0.0.1 7500 \
	"$TMP/capture.hex"
wait_udp_bound capture R 7500
timeout 60 python3 "$NFQ_HELPERS/gen_records.py" --seed 8 --flows 20 \
	--records 150 --none-every 0 --stream - --expect "$TMP/expect.json" \
	2>"$TMP/summary.json" |
	ip netns exec "$(ns R)" timeout 60 "$FWD_BIN/tlstap-fwd" --stdin \
		--target 127.0.0.1:7500 --max-datagram 1400 --port 7600 \
		--hash-key "$HASH_KEY" 2>"$TMP/fwd.err" ||
	fail "capture run failed: $(tail -n 1 "$TMP/fwd.err")"
sleep 0.5
stop_bg capture

start_bg recv R "$BIN/tlstap-recv" --listen 127.0.0.1:7419 \
	--out "$TMP/recv.json" --stats-json --log-datagrams "$TMP/dgrams.json"
wait_udp_bound recv R 7419
ip netns exec "$(ns R)" timeout 60 python3 "$NFQ_HELPERS/replay.py" \
	"$TMP/capture.hex" "$TMP/expect.json" 127.0.0.1 7419 "$TMP/plan.json" ||
	fail "replay failed"
# The records, and the LOST line of 40002 after its NACKs time out (1.26 s).
want=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(len(p["40001"]) + len(p["40002"]) + 1)' "$TMP/plan.json")
wait_lines "$want" "$TMP/recv.json"
sleep 0.3
stop_bg recv

python3 - "$TMP" <<'PY' >"$TMP/check.out" || fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
import json, sys
from collections import defaultdict
tmp = sys.argv[1]
plan = json.load(open(tmp + "/plan.json"))
expected = {e["time_ns"]: e for e in map(json.loads, open(tmp + "/expect.json"))}
got = defaultdict(list)
lost = defaultdict(list)
for line in open(tmp + "/recv.json"):
    r = json.loads(line)
    (lost if r["type"] == "lost" else got)[r["sender"].rsplit(":", 1)[1]].append(r)
def fail(msg):
    print("FAIL " + msg); sys.exit(1)
for port in ("40001", "40002"):
    times = [r["time_ns"] for r in got[port]]
    if sorted(times) != sorted(plan[port]):
        fail("sender %s: %d records, want %d (extra %s, missing %s)" % (
            port, len(times), len(plan[port]),
            sorted(set(times) - set(plan[port]))[:3],
            sorted(set(plan[port]) - set(times))[:3]))
    for r in got[port]:
        e = expected[r["time_ns"]]
        for k, v in e.items():
            if k != "flow" and r[k] != v:
                fail("sender %s record %d: %s = %r, want %r" % (port, r["time_ns"], k, r[k], v))
    print("sender %s: %d records byte-exact" % (port, len(times)))
if lost["40001"] or lost["40003"]:
    fail("LOST lines for complete or malformed input: %s" % (lost["40001"] + lost["40003"]))
ids = plan["lost_record_ids"]
want = {"record_first": min(ids), "record_last": max(ids),
        "seq_first": plan["victim_seq"], "seq_last": plan["victim_seq"],
        "reason": "timeout"}
if len(lost["40002"]) != 1 or any(lost["40002"][0][k] != v for k, v in want.items()):
    fail("sender 40002: LOST %s, want one %s" % (lost["40002"], want))
if ids != list(range(min(ids), max(ids) + 1)):
    fail("test data: lost record ids %s not contiguous" % ids)
if got["40003"] or got["40004"]:
    fail("records from malformed/control input: %d" % (len(got["40003"]) + len(got["40004"])))
if lost["40004"]:
    fail("sender 40004: LOST %s for a stream known by its HEARTBEAT" % lost["40004"])
stats = [json.loads(l) for l in open(tmp + "/recv.err") if l.startswith("{")][-1]
checks = {"invalid": plan["malformed"], "unsupported": 1,
          "gaps_unknown_stream": 1, "heartbeats_received": 1,
          "duplicates": plan["duplicates"], "streams": 3,
          "records": len(plan["40001"]) + len(plan["40002"]),
          "inconsistent": 0, "invalid_records": 0, "evicted": 0,
          "pending_bytes": 0, "lost_datagrams": 1,
          "lost_records": len(ids), "lost_ranges": 1, "lost_open_ended": 0}
for k, v in checks.items():
    if stats[k] != v:
        fail("counter %s = %d, want %d" % (k, stats[k], v))
# The datagram log: one JSON line per datagram, verdicts as counted.
dgrams = [json.loads(l) for l in open(tmp + "/dgrams.json")]
verdicts = defaultdict(int)
for d in dgrams:
    verdicts[d["verdict"]] += 1
    if d["verdict"] == "invalid" and ("seq" in d or d["status"] == "ok"):
        fail("datagram log: an invalid datagram with header fields: %s" % d)
if len(dgrams) != stats["datagrams"] or verdicts["invalid"] != stats["invalid"] \
        or verdicts["duplicate"] != stats["duplicates"] \
        or verdicts["unsupported"] != stats["unsupported"] + stats["gaps_unknown_stream"]:
    fail("datagram log %s against counters datagrams %d invalid %d "
         "duplicates %d unsupported %d gaps_unknown_stream %d" % (
         dict(verdicts), stats["datagrams"], stats["invalid"],
         stats["duplicates"], stats["unsupported"], stats["gaps_unknown_stream"]))
# 6 tries for 40002; the shuffled 40001 may add some.
if stats["nacks_sent"] < 6:
    fail("%d NACKs sent, want at least 6" % stats["nacks_sent"])
if stats["streams_joined"] < 1:
    fail("40004 did not join its stream after the HEARTBEAT's seqs")
print("counters: invalid %d, unsupported %d, duplicates %d, late %d, "
      "lost record ids %s (datagram %d) in one LOST range, %d NACKs" % (
      stats["invalid"], stats["unsupported"], stats["duplicates"],
      stats["late"], ids, plan["victim_seq"], stats["nacks_sent"]))
PY
cat "$TMP/check.out"
echo "PASS: $TEST_NAME"
