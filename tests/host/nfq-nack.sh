#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# NACKs from tlstap-nfq reach the sender with the target's address and
# are honoured, on a target and on a middlebox:
#  1. target: tlstap-fwd -> two targets (IPv4, IPv6) with tlstap-nfq
#     consuming; 5% of the datagrams lost and 10% reordered entering each
#     target, 5% of the NACKs lost (lossy_link). Every record byte-exact,
#     no LOST range; NACKs sent from the target's own address (IP_PKTINFO)
#     and honoured, none rejected.
#  2. middlebox, target silent: S2 -> M -> T where T only has a UDP socket
#     (no receiver, so no NACK of its own), reached at an IPv4 and an
#     IPv6 address; 5% lost entering M. M's NACKs, sent with T's address
#     as source (IP_TRANSPARENT, IPV6_TRANSPARENT), are the only ones:
#     tlstap-fwd honours them for both targets, retransmits through M,
#     and M writes every record byte-exact.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

build_tools

fwd_json() {
	python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
v = json.loads(lines[-1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if k.isdigit() else v[k]
print(v)' "$TMP/$1.err" "$2" || fail "no counter $2 in $TMP/$1.err"
}

# --- 1. target mode
setup_topology 2
T1="10.77.1.2:7419"
T2="[fd77:2::2]:7419"
for i in 1 2; do
	lossy_link "$i" 5 10 5
	start_nfq_receiver "nfq$i" "$i"
done
start_fwd fwd S "$TMP/in.sock" --target "$T1" --target "$T2"
send_records --seed 21 --flows 60 --records 2000 --max-size 4096 --loss-every 50
want=$(json_field "$TMP/summary.json" records)
wait_lines "$want" "$TMP"/recv{1,2}.json
sleep 0.5
stop_bg fwd
for i in 1 2; do stop_bg "nfq$i"; done
check_delivery target-mode '"tos": 32, "reliable": true' \
	"1 $T1 1500" "2 $T2 1500"
for i in 1 2; do
	[ "$(nfq_stat "nfq$i" nfq nacks_sent)" -gt 0 ] || fail "R$i sent no NACK"
	[ "$(nfq_stat "nfq$i" nfq nack_send_errors)" = 0 ] || fail "R$i: NACK send errors"
	[ "$(nfq_stat "nfq$i" reasm retransmitted)" -gt 0 ] ||
		fail "R$i got no retransmission"
done
[ "$(fwd_json fwd nack_rejected)" = 0 ] ||
	fail "target mode: tlstap-fwd rejected $(fwd_json fwd nack_rejected) NACKs"
[ "$(fwd_json fwd retransmits)" -gt 0 ] || fail "target mode: no retransmission"
echo "target mode: $(nfq_stat nfq1 nfq nacks_sent)+$(nfq_stat nfq2 nfq nacks_sent) NACKs, $(fwd_json fwd retransmits) retransmissions"

# --- 2. middlebox, the target silent
# shellcheck disable=SC2034  # read by setup_middlebox (nfq/lib.sh)
MB_S=S2
setup_middlebox
middlebox_loss 5
start_sink sinkT T 7419
start_bg mb M "$BIN/tlstap-nfq" --install-rule --hook forward --accept \
	--out "$TMP/mb.json" --log-datagrams "$TMP/mb.dg" --stats-json
wait_rule M
start_fwd fwd2 S2 "$TMP/in2.sock" --target 10.78.2.2:7419 \
	--target "[fd78:2::2]:7419"
timeout 120 python3 "$NFQ_HELPERS/gen_records.py" --seed 22 --flows 40 \
	--records 1500 --max-size 4096 --unix "$TMP/in2.sock" \
	--expect "$TMP/expect2.json" >"$TMP/summary2.json" ||
	fail "test writer failed"
want2=$(json_field "$TMP/summary2.json" records)
wait_lines "$want2" "$TMP/mb.json"
stop_bg fwd2
stop_bg mb
stop_bg sinkT
check_records "$TMP/expect2.json" "$TMP/mb.json"
[ "$(nfq_stat mb nfq nacks_sent)" -gt 0 ] || fail "middlebox: no NACK sent"
[ "$(nfq_stat mb reasm retransmitted)" -gt 0 ] || fail "middlebox: no retransmission seen"
[ "$(fwd_json fwd2 nack_rejected)" = 0 ] ||
	fail "middlebox: tlstap-fwd rejected $(fwd_json fwd2 nack_rejected) NACKs"
for t in 0 1; do
	[ "$(fwd_json fwd2 "targets.$t.nacks_received")" -gt 0 ] ||
		fail "middlebox: no NACK honoured for $(fwd_json fwd2 "targets.$t.target")"
done
[ "$(cat "$TMP/sinkT.count")" -gt 0 ] || fail "nothing reached the target through M"
echo "PASS: $TEST_NAME (middlebox: $(nfq_stat mb nfq nacks_sent) NACKs as the target, $(fwd_json fwd2 retransmits) retransmissions)"
