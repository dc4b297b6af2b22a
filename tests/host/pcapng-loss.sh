#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The pcapng output where things go wrong: hand-made datagrams
# (tests/host/pcap/scenario.py) reach tlstap-nfq --output pcapng in a
# target namespace: reordered and duplicated datagrams, a 70000-byte HTTP
# response in two records, OPEN and CLOSE records (one whose client is
# the end with the lower port, one closing with a hole still pending, one
# of a connection never seen), a socket-less session, IPv6, `dropped`
# bytes, a loss report, a datagram that never comes (NACKed, unanswered,
# given up as a LOST range) and an aborted record (never reported lost:
# the writer's hold time runs out). Checked with tshark (check_pcap.py):
# every connection a whole TCP connection with its plaintext in record
# order, its handshake from the client the OPEN names, its FIN exchange
# from the end that closed, exactly the holes the documented rules give,
# a tlstap comment on every packet after a hole, checksums good, nothing
# malformed; and the counters agree (records, OPENs and CLOSEs, one LOST
# range, also as a LOST line on stderr, one expired hold, nothing late).
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
setup_topology 1
start_bg nfq R1 "$BIN/tlstap-nfq" --install-rule --output pcapng \
	--out "$TMP/out.pcapng" --log-datagrams "$TMP/nfq.dg" --stats-json
wait_rule R1

run_scenario pcapng
stop_bg nfq
has_rule R1 && fail "the nft rule is still there after tlstap-nfq exited"

nfq_stats_are nfq nfq bad_packets=0
nfq_stats_are nfq reasm lost_ranges=1 aborted=1
nfq_stats_are nfq pcapng lost_ranges=1 hold_expired=1 late_records=0 \
	opens=2 closes=4 closes_unknown=1
grep -q '^{"type":"lost",.*"record_first":3,"record_last":3,.*"reason":"timeout"}$' \
	"$TMP/nfq.err" || fail "no LOST line for the lost record on stderr"
[ "$(nfq_stat nfq pcapng held)" -gt 0 ] ||
	fail "no record had to wait: the datagrams were not reordered"

python3 "$PCAP_HELPERS/check_pcap.py" "$TMP/out.pcapng" "$TMP/expect.json" \
	>"$TMP/check.out" || fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
cat "$TMP/check.out"
# What a user types: the first connection is the HTTP exchange.
tshark -r "$TMP/out.pcapng" -q -z follow,tcp,ascii,0 >"$TMP/follow.txt" 2>&1 ||
	fail "tshark follow failed: $(tail -n 1 "$TMP/follow.txt")"
grep -q "^GET /a HTTP/1.1" "$TMP/follow.txt" || fail "follow: no request"
grep -q "^HTTP/1.1 200 OK" "$TMP/follow.txt" || fail "follow: no response"
echo "PASS: $TEST_NAME ($RECORDS records)"
