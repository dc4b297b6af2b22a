#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-fwd end to end: a test writer feeds records (IPv4, IPv6 and
# socket-less flows, both directions, 1 byte to 64 KiB, loss reports, and
# malformed ones) through a Unix datagram socket; tlstap-fwd in the sender
# namespace sends them to 3 tlstap-recv targets in 3 namespaces (one IPv6
# target, one link at MTU 1280, weights 1:2:3). Checks: every valid record
# byte-exact at exactly one target, both directions of a flow at the same
# target, the target the reference steering predicts, flows spread by
# weight, every datagram within its link's MTU (and the largest exactly at
# it), TOS as configured, each target a stream of its own (tlstap-fwd's
# random id for it, distinct), sequence numbers and record ids without
# holes, loss reports (72-byte records, msg_len 0, dropped > 0) delivered
# as "type":"loss" lines without data and counted at both ends, each
# flow's OPEN and CLOSE as "type":"open" and "close", first and last, malformed
# records (an empty record reporting no loss among them) counted by reason.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 3
set_link_mtu 3 1280
TOS=72
T1="10.77.1.2:7419,weight=1"
T2="[fd77:2::2]:7419,weight=2"
T3="10.77.3.2:7419,weight=3"
start_receivers 3

start_fwd fwd S "$TMP/in.sock" --tos "$TOS" --target "$T1" --target "$T2" \
	--target "$T3"
send_records --seed 7 --flows 120 --records 700 --loss-every 23 --malformed 16 \
	--lifecycle
want=$(json_field "$TMP/summary.json" records)
wait_lines "$want" "$TMP"/recv{1,2,3}.json
stop_bg fwd
stop_receivers 3

check_delivery delivery \
	"\"tos\": $TOS, \"check_spread\": true, \"want_loss_reports\": true, \"want_lifecycle\": true" \
	"1 $T1 1500 full_size stats" "2 $T2 1500 full_size stats" \
	"3 $T3 1280 full_size stats"
gso=$(python3 -c 'import json,sys; print(sum(t["gso_sends"] for t in json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["targets"]))' "$TMP/fwd.err")
[ "$gso" -gt 0 ] || fail "tlstap-fwd never sent with UDP GSO"
losses=$(json_field "$TMP/summary.json" loss_reports)
echo "PASS: $TEST_NAME ($gso GSO sends, $losses loss reports)"
