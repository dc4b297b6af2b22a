#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-nfq on a middlebox: tlstap-fwd in S sends to two targets (IPv4
# and IPv6 addresses of T, each with its own tlstap-recv) through M, a
# forwarding namespace where tlstap-nfq --hook forward --accept reads
# every datagram through its own rule and lets it pass on. 3% of the
# datagrams are lost entering M, before M sees them: M and the targets
# NACK; M's NACKs carry the target's address as source and are honoured
# like the targets' own. Checks: M wrote every record byte-exact, the
# targets received every record byte-exact (check_delivery.py, as for
# tlstap-recv alone), no LOST range anywhere, M accepted every packet and
# NACKed, the forwarder rejected no NACK, and M's rule is gone once
# tlstap-nfq exits.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

build_tools
setup_middlebox
middlebox_loss 3
T4="10.78.2.2:7419"
T6="[fd78:2::2]:7419"
start_bg recv4 T "$BIN/tlstap-recv" --listen "$T4" --out "$TMP/recv4.json" \
	--log-datagrams "$TMP/recv4.dg" --stats-json
start_bg recv6 T "$BIN/tlstap-recv" --listen "$T6" --out "$TMP/recv6.json" \
	--log-datagrams "$TMP/recv6.dg" --stats-json
start_bg mb M "$BIN/tlstap-nfq" --install-rule --hook forward --accept \
	--out "$TMP/mb.json" --log-datagrams "$TMP/mb.dg" --stats-json
wait_rule M

start_fwd fwd S "$TMP/in.sock" --target "$T4" --target "$T6"
send_records --seed 5 --flows 80 --records 800 --max-size 16384 --loss-every 37
want=$(json_field "$TMP/summary.json" records)
wait_lines "$want" "$TMP"/recv{4,6}.json
wait_lines "$want" "$TMP/mb.json"
# Late NACK answers may still be in flight: let them land as duplicates.
sleep 0.5
stop_bg fwd
stop_bg mb
has_rule M && fail "the middlebox's nft rule outlived tlstap-nfq"
stop_bg recv4
stop_bg recv6

check_delivery targets '"tos": 32, "reliable": true, "want_loss_reports": true' \
	"4 $T4 1500 stats" "6 $T6 1500 stats"
check_records "$TMP/expect.json" "$TMP/mb.json"

grep -q '"nf_verdict":"drop"' "$TMP/mb.dg" && fail "the middlebox dropped a packet"
nfq_stats_are mb nfq bad_packets=0 nack_send_errors=0 nack_no_source=0 \
	kernel_queue_dropped=0
[ "$(nfq_stat mb nfq nacks_sent)" -gt 0 ] || fail "the middlebox sent no NACK"
[ "$(nfq_stat mb reasm lost_ranges)" = 0 ] || fail "the middlebox gave records up"
fwd_rejected=$(json_field "$TMP/fwd.err" nack_rejected)
fwd_nacks=$(json_field "$TMP/fwd.err" nacks_received)
[ "$fwd_rejected" = 0 ] || fail "tlstap-fwd rejected $fwd_rejected NACKs"
echo "PASS: $TEST_NAME ($want records at M and T; M sent $(nfq_stat mb nfq nacks_sent) NACKs, tlstap-fwd honoured $fwd_nacks)"
