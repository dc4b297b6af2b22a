#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The TAP output where things go wrong: pcapng-loss.sh's hand-made
# datagrams (tests/host/pcap/scenario.py: reordering, duplicates, OPEN and
# CLOSE, `dropped` bytes, a loss report, a datagram lost for good, an
# aborted record) reach tlstap-nfq --output tap:NAME in a target
# namespace, with tshark -i NAME capturing. What tshark captured must be
# what the pcapng output holds for the same records (check_pcap.py, the
# same oracle, less the comments only a file can carry): whole
# connections with their handshakes and FINs,
# exactly the documented holes, each one flagged by Wireshark's analysis
# as a lost segment at the frame after it (tcp.analysis.lost_segment) and
# nowhere else; and every frame dropped by the interface's nft table
# after tshark took it. At exit the table is gone and, made by the
# receiver, the interface too.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"
. "$(dirname "$0")/pcap/taplib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
setup_topology 1
TAP=tlsloss0
start_bg nfq R1 "$BIN/tlstap-nfq" --install-rule --output "tap:$TAP" \
	--stats-json
wait_rule R1
wait_iface R1 "$TAP"
start_capture cap R1 "$TAP"

run_scenario tap
stop_capture cap
dropped=$(tap_dropped R1 "$TAP")
stop_bg nfq
ip -n "$(ns R1)" link show "$TAP" >/dev/null 2>&1 &&
	fail "$TAP outlived the receiver that made it"
ip netns exec "$(ns R1)" nft list table netdev "tlstap_tap_$TAP" >/dev/null 2>&1 &&
	fail "the nft table of $TAP outlived the receiver"

frames=$(nfq_stat nfq tap frames)
[ "$(nfq_stat nfq tap packets)" = "$frames" ] ||
	fail "tap: $(nfq_stat nfq tap packets) packets made, $frames frames written"
[ "$dropped" = "$frames" ] ||
	fail "the nft table dropped ${dropped:-no} frames, $frames were written"
captured=$(tshark -r "$TMP/cap.pcapng" 2>/dev/null | wc -l)
[ "$captured" = "$frames" ] || fail "tshark captured $captured of $frames frames"
nfq_stats_are nfq tap write_errors=0 opens=2 closes=4 closes_unknown=1 \
	hold_expired=1
nfq_stats_are nfq reasm lost_ranges=1

# Frames carry no comments: those are the pcapng output's.
python3 "$PCAP_HELPERS/check_pcap.py" "$TMP/cap.pcapng" "$TMP/expect.json" \
	--no-comments >"$TMP/check.out" ||
	fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
cat "$TMP/check.out"
echo "PASS: $TEST_NAME ($RECORDS records, $frames frames)"
