#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-nfq on two targets, consuming through its own nft rule (input
# hook, drop verdict): tlstap-fwd in the sender namespace sends a test
# writer's records (IPv4, IPv6 and socket-less flows, 1 byte to 64 KiB,
# loss reports) to an IPv4 target and an IPv6 target, each a namespace
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
	start_bg "nfq$i" "R$i" "$BIN/tlstap-nfq" --install-rule \
		--out "$TMP/recv$i.json" --log-datagrams "$TMP/recv$i.dg" \
		--stats-json
	wait_rule "R$i"
done

start_bg fwd S "$BIN/tlstap-fwd" --unix "$TMP/in.sock" --hash-key "$HASH_KEY" \
	--target "$T1" --target "$T2" --stats-json
wait_for_file "$TMP/in.sock"
timeout 120 python3 "$NFQ_HELPERS/gen_records.py" --seed 11 --flows 80 \
	--records 500 --loss-every 29 --unix "$TMP/in.sock" \
	--expect "$TMP/expect.json" >"$TMP/summary.json" ||
	fail "test writer failed"
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

cat >"$TMP/check.json" <<JSON
{"hash_key": "$HASH_KEY", "tos": 32, "want_loss_reports": true,
 "expect": "$TMP/expect.json", "summary": "$TMP/summary.json",
 "fwd_stats": "$TMP/fwd.err",
 "receivers": [
  {"target": "$T1", "out": "$TMP/recv1.json", "log": "$TMP/recv1.dg", "mtu": 1500, "full_size": true},
  {"target": "$T2", "out": "$TMP/recv2.json", "log": "$TMP/recv2.dg", "mtu": 1500, "full_size": true}]}
JSON
python3 "$NFQ_HELPERS/check_delivery.py" "$TMP/check.json" >"$TMP/check.out" ||
	fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
cat "$TMP/check.out"
for i in 1 2; do
	dgrams=$(grep -c . "$TMP/recv$i.dg")
	for c in bad_packets tos_mismatch csum_unchecked kernel_queue_dropped \
		kernel_user_dropped enobufs; do
		[ "$(nfq_stat "nfq$i" nfq "$c")" = 0 ] ||
			fail "R$i: nfq.$c = $(nfq_stat "nfq$i" nfq "$c")"
	done
	[ "$(nfq_stat "nfq$i" nfq packets)" = "$dgrams" ] ||
		fail "R$i: $(nfq_stat "nfq$i" nfq packets) packets counted, $dgrams logged"
	[ "$(nfq_stat "nfq$i" reasm records)" = "$(grep -c . "$TMP/recv$i.json")" ] ||
		fail "R$i: records counted and written differ"
	grep -q '"nf_verdict":"accept"' "$TMP/recv$i.dg" && fail "R$i: a packet was accepted"
	grep -q '"csum_checked":false' "$TMP/recv$i.dg" && fail "R$i: a checksum was not verified"
done
echo "PASS: $TEST_NAME ($want records, $(grep -c . "$TMP/recv1.dg")+$(grep -c . "$TMP/recv2.dg") datagrams consumed)"
