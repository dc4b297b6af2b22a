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

ip netns exec "$(ns S)" timeout 60 python3 "$PCAP_HELPERS/scenario.py" \
	10.77.1.2 7419 "$TMP/expect.json" || fail "scenario.py failed"
records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' \
	"$TMP/expect.json")
# Everything written, including what waited for the aborted record.
nfq_wait_stat nfq pcapng records "$records"
nfq_wait_stat nfq pcapng held_now 0
stop_bg nfq
has_rule R1 && fail "the nft rule is still there after tlstap-nfq exited"

[ "$(nfq_stat nfq nfq bad_packets)" = 0 ] || fail "bad packets counted"
[ "$(nfq_stat nfq reasm lost_ranges)" = 1 ] ||
	fail "reasm.lost_ranges $(nfq_stat nfq reasm lost_ranges), want 1"
[ "$(nfq_stat nfq reasm aborted)" = 1 ] || fail "the aborted record was not counted"
[ "$(nfq_stat nfq pcapng lost_ranges)" = 1 ] || fail "pcapng saw no LOST range"
[ "$(nfq_stat nfq pcapng hold_expired)" = 1 ] ||
	fail "pcapng.hold_expired $(nfq_stat nfq pcapng hold_expired), want 1"
[ "$(nfq_stat nfq pcapng late_records)" = 0 ] || fail "records came too late"
for c in opens=2 closes=4 closes_unknown=1; do
	[ "$(nfq_stat nfq pcapng "${c%=*}")" = "${c#*=}" ] ||
		fail "pcapng.${c%=*} $(nfq_stat nfq pcapng "${c%=*}"), want ${c#*=}"
done
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
echo "PASS: $TEST_NAME ($records records)"
