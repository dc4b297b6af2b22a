#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-nfq on two targets, consuming through its own nft rule (input
# hook, drop verdict): tlstap-fwd in the sender namespace sends a test
# writer's records (IPv4, IPv6 and socket-less flows, 1 byte to 64 KiB,
# loss reports, each flow's OPEN and CLOSE) to an IPv4 target and an
# IPv6 target, each a namespace
# with tlstap-nfq --install-rule. Checks (check_delivery.py, as for
# tlstap-recv): every record byte-exact at exactly the target the
# reference steering names, TOS, sizes, one stream per target, sequence
# numbers without holes. And: every datagram's UDP checksum verified, no
# packet rejected, nothing dropped by the kernel's queue, the datagrams
# consumed (a UDP socket on the same port receives none of them), and no
# rule left once tlstap-nfq has exited.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

build_tools
setup_topology 2
T1="10.77.1.2:7419,weight=1"
T2="[fd77:2::2]:7419,weight=1"
for i in 1 2; do
	start_sink "sink$i" "R$i" 7419
	start_nfq_receiver "nfq$i" "$i"
done

start_fwd fwd S "$TMP/in.sock" --target "$T1" --target "$T2"
send_records --seed 11 --flows 80 --records 500 --loss-every 29 --lifecycle
want=$(json_field "$TMP/summary.json" records)
wait_lines "$want" "$TMP"/recv{1,2}.json
stop_bg fwd
for i in 1 2; do
	stop_bg "nfq$i"
	has_rule "R$i" && fail "R$i: the nft rule outlived tlstap-nfq"
	stop_bg "sink$i"
	[ "$(cat "$TMP/sink$i.count")" = 0 ] ||
		fail "R$i: $(cat "$TMP/sink$i.count") datagrams reached the UDP socket past the drop verdict"
done

check_delivery delivery '"tos": 32, "want_loss_reports": true, "want_lifecycle": true' \
	"1 $T1 1500 full_size" "2 $T2 1500 full_size"
for i in 1 2; do
	dgrams=$(grep -c . "$TMP/recv$i.dg")
	nfq_stats_are "nfq$i" nfq bad_packets=0 tos_mismatch=0 csum_unchecked=0 \
		kernel_queue_dropped=0 kernel_user_dropped=0 enobufs=0
	[ "$(nfq_stat "nfq$i" nfq packets)" = "$dgrams" ] ||
		fail "R$i: $(nfq_stat "nfq$i" nfq packets) packets counted, $dgrams logged"
	[ "$(nfq_stat "nfq$i" reasm records)" = "$(grep -c . "$TMP/recv$i.json")" ] ||
		fail "R$i: records counted and written differ"
	grep -q '"nf_verdict":"accept"' "$TMP/recv$i.dg" && fail "R$i: a packet was accepted"
	grep -q '"csum_checked":false' "$TMP/recv$i.dg" && fail "R$i: a checksum was not verified"
done
echo "PASS: $TEST_NAME ($want records, $(grep -c . "$TMP/recv1.dg")+$(grep -c . "$TMP/recv2.dg") datagrams consumed)"
