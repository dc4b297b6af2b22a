#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The path MTU shrinks while tlstap-fwd runs: halfway through, both links
# (one IPv4 target, one IPv6) go from 1500 to 1280. The next send fails
# (EMSGSIZE, or EINVAL for a GSO batch); tlstap-fwd re-reads the MTU and
# packs the unsent datagrams again, smaller. Checks: every record still
# byte-exact with sequence numbers and record ids without holes, nothing
# dropped, every datagram after the change within the new MTU and the
# largest exactly at it, a repack counted per target.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 2
T1="10.77.1.2:7419"
T2="[fd77:2::2]:7419"
start_receivers 2
start_fwd fwd S "$TMP/in.sock" --target "$T1" --target "$T2"

start_paused_writer 250 --seed 5 --flows 40 --records 500
wait_lines 250 "$TMP"/recv{1,2}.json
before1=$(wc -l <"$TMP/recv1.dg")
before2=$(wc -l <"$TMP/recv2.dg")
set_link_mtu 1 1280
set_link_mtu 2 1280
resume_writer
wait_lines 500 "$TMP"/recv{1,2}.json
stop_bg fwd
stop_receivers 2

check_delivery delivery '"tos": 32, "allow_send_errors": true' \
	"1 $T1 1500 full_size" "2 $T2 1500 full_size"

python3 - "$TMP" "$before1" "$before2" <<'PY' || fail "$(tail -n 1 "$TMP/after.out")"
import json, sys
tmp, before = sys.argv[1], {1: int(sys.argv[2]), 2: int(sys.argv[3])}
out = open(tmp + "/after.out", "w")
for i, limit in ((1, 1280 - 28), (2, 1280 - 48)):
    lines = [json.loads(l) for l in open("%s/recv%d.dg" % (tmp, i))][before[i]:]
    sizes = [d["size"] for d in lines]
    if not sizes or max(sizes) != limit:
        print("FAIL target %d: after the change largest datagram %s, want %d"
              % (i, max(sizes, default=None), limit), file=out)
        sys.exit(1)
    print("target %d: %d datagrams after the MTU change, largest %d"
          % (i, len(sizes), max(sizes)))
stats = [json.loads(l) for l in open(tmp + "/fwd.err") if l.startswith("{")][-1]
for t in stats["targets"]:
    if t["repacks"] < 1 or t["datagram_size"] != (1252 if "[" not in t["target"] else 1232):
        print("FAIL %s: repacks %d, datagram size %d" % (t["target"], t["repacks"], t["datagram_size"]), file=out)
        sys.exit(1)
    print("%s: %d repacks, %d send errors, datagram size now %d"
          % (t["target"], t["repacks"], t["send_errors"], t["datagram_size"]))
PY
echo "PASS: $TEST_NAME"
