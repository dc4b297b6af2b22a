#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-nfq trusts nothing below the tlstap layer either: raw IPv4 and
# IPv6 packets (tests/host/pcap/raw_send.py) with a wrong UDP checksum, a
# UDP length past or short of the packet, a zero checksum (allowed over
# IPv4, invalid over IPv6), IP options, and a payload that is not tlstap.
# Each is counted by reason and gets the configured verdict; exactly the
# good ones become records, byte-exact. Run twice: drop (nothing reaches
# the UDP socket on the port) and --accept (what the kernel's UDP layer
# itself accepts reaches it: the valid ones and the junk).
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

build_tools
setup_topology 1

run_case() {
	local name=$1
	shift
	start_sink "sink-$name" R1 7419
	start_bg "nfq-$name" R1 "$BIN/tlstap-nfq" --install-rule --no-nack \
		--out "$TMP/$name.json" --log-datagrams "$TMP/$name.dg" \
		--stats-json "$@"
	wait_rule R1
	ip netns exec "$(ns S)" timeout 30 python3 "$PCAP_HELPERS/raw_send.py" \
		10.77.1.2 fd77:1::2 "$TMP/expect.json" || fail "raw_send.py failed"
	nfq_wait_stat "nfq-$name" nfq packets 10
	stop_bg "nfq-$name"
	has_rule R1 && fail "$name: rule left behind"
	stop_bg "sink-$name"
	want_stat() {
		local got
		got=$(nfq_stat "nfq-$name" "$1" "$2")
		[ "$got" = "$3" ] || fail "$name: $1.$2 = $got, want $3"
	}
	want_stat nfq bad_udp_checksum 3
	want_stat nfq bad_udp_length 2
	want_stat nfq bad_packets 5
	want_stat nfq csum_unchecked 1
	want_stat reasm invalid 1
	want_stat reasm records 4
	python3 - "$TMP/expect.json" "$TMP/$name.json" <<'PY' || fail "$name: records differ"
import json, sys
want = {json.loads(l)["time_ns"]: json.loads(l)["data"] for l in open(sys.argv[1])}
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want), (len(got), len(want))
for r in got:
    assert want.pop(r["time_ns"]) == r["data"], r["time_ns"]
assert not want
PY
}

run_case drop
[ "$(cat "$TMP/sink-drop.count")" = 0 ] ||
	fail "drop: $(cat "$TMP/sink-drop.count") packets reached the socket"
grep -q '"nf_verdict":"accept"' "$TMP/drop.dg" && fail "drop: a packet was accepted"
run_case accept --accept
[ "$(cat "$TMP/sink-accept.count")" = 5 ] ||
	fail "accept: $(cat "$TMP/sink-accept.count") packets reached the socket, want 5"
grep -q '"nf_verdict":"drop"' "$TMP/accept.dg" && fail "accept: a packet was dropped"
echo "PASS: $TEST_NAME"
