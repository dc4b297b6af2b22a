#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Targets where nothing listens: tlstap-fwd sends to three targets, only
# the first of which runs a receiver; the hosts of the other two (IPv4 and
# IPv6) answer with ICMP port unreachable. Checks: every record steered to
# target 1 arrives there; the ICMP reports are counted per target
# (icmp_unreachable: targets 2 and 3, not 1; the total is their sum) and
# named in tlstap-fwd's log, at most a line per target and second; they
# are neither failed sends nor dropped datagrams.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 3
T1="10.77.1.2:7419"
T2="10.77.2.2:7419"
T3="[fd77:3::2]:7419"
start_receivers 1
start=$SECONDS
start_fwd fwd S "$TMP/in.sock" --target "$T1" --target "$T2" --target "$T3"
send_records --seed 41 --flows 90 --records 600 --max-size 4096
# Target 1's share, as the reference steering deals the flows.
want=$(python3 - "$NFQ_HELPERS" "$TMP/expect.json" "$HASH_KEY" "$T1" "$T2" "$T3" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import tlstap_ref as ref
key = bytes.fromhex(sys.argv[3])
order, table = ref.build_table(key, sys.argv[4:])
n = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    fam = e["family"]
    h = ref.siphash24(key, ref.flow_key(
        fam, ref.addr_bytes(fam, e["src"]), e["sport"],
        ref.addr_bytes(fam, e["dst"]), e["dport"], e["conn_id"]))
    n += order[table[ref.bucket(h)]] == sys.argv[4]
print(n)
PY
) || fail "reference steering"
wait_lines "$want" "$TMP/recv1.json"
# Some ICMP comes back after the last datagram: wait for what the
# receivers' hosts still allow themselves (a report a second per peer).
sleep 1.5
stop_bg fwd
stop_receivers 1
elapsed=$((SECONDS - start + 1))

python3 - "$TMP" "$T1" "$T2" "$T3" "$want" "$elapsed" <<'PY' || fail "$(tail -n 1 "$TMP/icmp.out")"
import json, sys
tmp, t1, t2, t3, want, elapsed = sys.argv[1:7]
out = open(tmp + "/icmp.out", "w")
def check(ok, what):
    if not ok:
        out.write("FAIL %s\n" % what); out.close(); sys.exit(1)
err = open(tmp + "/fwd.err").read().splitlines()
fwd = json.loads([l for l in err if l.startswith("{")][-1])
got = sum(1 for l in open(tmp + "/recv1.json"))
check(got == int(want), "target 1 got %d records, want %s" % (got, want))
check(fwd["send_errors"] == 0 and fwd["dropped_datagrams"] == 0,
      "send_errors %d, dropped_datagrams %d" % (fwd["send_errors"],
                                               fwd["dropped_datagrams"]))
by = {t["target"]: t for t in fwd["targets"]}
name = {t1: "10.77.1.2:7419", t2: "10.77.2.2:7419", t3: "[fd77:3::2]:7419"}
unreach = {t: by[name[t]].get("icmp_unreachable", 0) for t in (t1, t2, t3)}
check(unreach[t1] == 0, "target 1 (listening) counted %d" % unreach[t1])
for t in (t2, t3):
    s = by[name[t]]
    check(s["datagrams"] > 0, "%s: nothing sent" % t)
    check(unreach[t] > 0, "%s: no ICMP unreachable counted (%d datagrams "
          "sent, send_errors %d)" % (t, s["datagrams"], s["send_errors"]))
    lines = [l for l in err if l.startswith("tlstap-fwd: %s: " % name[t])
             and "ICMP destination unreachable (port unreachable)" in l]
    check(lines, "%s: no log line for its ICMP reports" % t)
    check(len(lines) <= int(elapsed), "%s: %d log lines in %s s"
          % (t, len(lines), elapsed))
total = sum(unreach.values())
check(fwd["icmp_unreachable"] == total, "total icmp_unreachable %d, targets' "
      "sum %d" % (fwd["icmp_unreachable"], total))
out.write("ICMP port unreachable: %s\n" % ", ".join(
    "%s %d" % (t, unreach[t]) for t in (t1, t2, t3)))
PY
cat "$TMP/icmp.out"
echo "PASS: $TEST_NAME"
