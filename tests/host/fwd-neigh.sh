#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A first burst to targets whose neighbours are not resolved yet, with the
# first ARP request (target 1, IPv4) and the first neighbour solicitation
# (target 2, IPv6) dropped on the way in (nft in the receivers'
# namespaces), so that resolution takes a retransmission, about a second.
# The kernel queues only about 200 KB for a neighbour being resolved and
# drops the rest; tlstap-fwd must hold a target's datagrams in its ring
# until the neighbour is resolved. Checks: every record byte-exact, and
# nothing was lost on the way: the receivers saw no hole (no seq gap, no
# NACK, no retransmission); each dropped solicitation was exactly the first
# (the case really happened); tlstap-fwd counts both targets ready, none
# sent unresolved. Then a target whose address nobody has: after 3 s
# (TLSTAP_RESOLVE_MS) its datagrams go anyway, and it says so (state
# unresolved, resolve_timeouts 1, a log line).
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 2
T1="10.77.1.2:7419"
T2="[fd77:2::2]:7419"
# The first request for the target's address, nothing else: numgen inc
# counts from 0 for the packets that reach it.
ip netns exec "$(ns R1)" nft -f - <<'NFT' || fail "nft ARP rule in R1"
table arp tlstap_neigh {
	chain in {
		type filter hook input priority 0;
		arp operation request arp daddr ip 10.77.1.2 numgen inc mod 1000000 == 0 counter drop
	}
}
NFT
ip netns exec "$(ns R2)" nft -f - <<'NFT' || fail "nft ND rule in R2"
table ip6 tlstap_neigh {
	chain in {
		type filter hook prerouting priority -300;
		icmpv6 type nd-neighbor-solicit ip6 daddr ff02::1:ff00:2 numgen inc mod 1000000 == 0 counter drop
	}
}
NFT
start_receivers 2
start_fwd fwd S "$TMP/in.sock" --target "$T1" --target "$T2"
# About 3 MB at once: far beyond what the kernel queues per neighbour.
send_records --seed 31 --flows 40 --records 1500 --max-size 4096
wait_lines "$(json_field "$TMP/summary.json" records)" "$TMP"/recv{1,2}.json
stop_bg fwd
stop_receivers 2

python3 - "$TMP" <<'PY' || fail "$(tail -n 1 "$TMP/neigh.out")"
import json, sys
tmp = sys.argv[1]
out = open(tmp + "/neigh.out", "w")
def check(ok, what):
    if not ok:
        out.write("FAIL %s\n" % what); out.close(); sys.exit(1)
def last(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")][-1]
for i in (1, 2):
    r = last("%s/recv%d.err" % (tmp, i))
    check(r["seq_gaps"] == 0 and r["nacks_sent"] == 0 and
          r["retransmitted"] == 0,
          "receiver %d saw holes: seq_gaps %d, nacks_sent %d, retransmitted %d"
          % (i, r["seq_gaps"], r["nacks_sent"], r["retransmitted"]))
    dg = [json.loads(l) for l in open("%s/recv%d.dg" % (tmp, i))]
    check(sum(1 for d in dg if d.get("type") == 1) > 300,
          "receiver %d: too few datagrams to overflow the neighbour queue" % i)
fwd = last(tmp + "/fwd.err")
check(fwd["resolve_timeouts"] == 0, "tlstap-fwd: %d targets sent unresolved"
      % fwd["resolve_timeouts"])
for t in fwd["targets"]:
    check(t["state"] == "ready", "%s: state %s" % (t["target"], t["state"]))
    check(t["retransmits"] == 0 and t["dropped_datagrams"] == 0,
          "%s: %s" % (t["target"], t))
out.write("no hole: %s\n" % ", ".join("%s %d datagrams" % (t["target"],
          t["datagrams"]) for t in fwd["targets"]))
PY
cat "$TMP/neigh.out"
for i in 1 2; do
	dropped=$(nft_counters "R$i" "$([ "$i" = 1 ] && echo arp || echo ip6)" tlstap_neigh)
	[ "$dropped" = 1 ] || fail "R$i dropped $dropped solicitations, want the first one"
done
check_delivery delivery '"tos": 32' "1 $T1 1500" "2 $T2 1500"

start_fwd fwd-none S "$TMP/none.sock" --target 10.77.1.9:7419
timeout 60 python3 "$NFQ_HELPERS/gen_records.py" --seed 32 --flows 4 \
	--records 20 --max-size 1000 --unix "$TMP/none.sock" \
	--expect "$TMP/none.expect" >"$TMP/none.summary" || fail "test writer failed"
sleep 4
stop_bg fwd-none
python3 - "$TMP/fwd-none.err" <<'PY' || fail "no host at the address: $(tail -n 2 "$TMP/fwd-none.err")"
import json, sys
err = open(sys.argv[1]).read().splitlines()
fwd = json.loads([l for l in err if l.startswith("{")][-1])
t = fwd["targets"][0]
assert fwd["resolve_timeouts"] == 1 and t["state"] == "unresolved", fwd
assert t["datagrams"] > 1 and t["dropped_datagrams"] == 0, t
assert any("10.77.1.9:7419: the next hop is not resolved after 3000 ms" in l
           for l in err), err
PY
echo "no host at the address: unresolved after 3 s, sent anyway"
echo "PASS: $TEST_NAME"
