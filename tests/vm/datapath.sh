#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Records from /dev/tlstap reach three targets (two IPv4, one IPv6; one
# behind a 1280-byte MTU) byte-exact, flows steered by weight, both
# directions of a flow to one target, every datagram TOS-tagged, within
# its MTU, and in sequence: each datagram once, in the order sent, none
# resent, no NACK, no GAP. The path (veth, per-CPU backlogs) keeps order
# only if the module sends each target's datagrams from one CPU; the
# receivers' buffers hold the whole run, so that none drops a datagram
# however long a loaded host starves it.
. "$TLSTAP_SRC/tests/lib/vm.sh"

load_module
host_ns t1 1
host_ns t2 2 1280
host_ns t3 3
# 64 MiB (the kernel doubles it): more than 4 times the truesize of what
# the busiest target gets here (14,000 datagrams of 1,252 bytes).
start_recv t1 10.77.1.2:7419 t1 raw --rcvbuf 67108864
start_recv t2 10.77.2.2:7419 t2 raw --rcvbuf 67108864
start_recv t3 "[fd77:3::2]:7419" t3 raw --rcvbuf 67108864

echo 72 >"$SYS/tos"
echo "add 10.77.1.2:7419 weight 1" >"$SYS/targets"
echo "add 10.77.2.2:7419 weight 2" >"$SYS/targets"
echo "add [fd77:3::2]:7419 weight 1" >"$SYS/targets"
cat "$SYS/targets"
[ "$(wc -l <"$SYS/targets")" -eq 3 ] || fail "targets file lists $(wc -l <"$SYS/targets") targets"

RECORDS=4500
# 1,600 flows, of which some 1,500 occur among the records: enough for
# reccheck.py's flow-share bound (4.5 standard deviations) to stay under
# 0.06 at a weight share of 1/2.
"$TOOLS/recgen" -n "$RECORDS" -f 1600 -m 65536 -b 3 -o "$WORK/expected.bin"
wait_for 120 records_settled "$RECORDS" t1 t2 t3 ||
	fail "$RECORDS records written, the receivers hold: $(records_at_receivers t1 t2 t3)"
stop_recv
cat "$SYS/stats"

rc=0
python3 "$TOOLS/reccheck.py" --expected "$WORK/expected.bin" --tos 72 --in-order \
	--target "t1,$WORK/t1.raw,$WORK/t1.dgram,1,1472" \
	--target "t2,$WORK/t2.raw,$WORK/t2.dgram,2,1252" \
	--target "t3,$WORK/t3.raw,$WORK/t3.dgram,1,1452" >"$WORK/reccheck.out" || rc=$?
cat "$WORK/reccheck.out"
[ "$rc" -eq 0 ] || fail "$(grep '^error:' "$WORK/reccheck.out" | head -n 3 | tr '\n' ' ')"
for k in nacks_received retransmits gaps_sent; do
	[ "$(stat_of "$k")" -eq 0 ] || fail "$k $(stat_of "$k"): a datagram was lost or overtaken"
done

[ "$(stat_of records)" -eq "$RECORDS" ] || fail "module accepted $(stat_of records) records"
[ "$(stat_of tx_errors)" -eq 0 ] || fail "tx_errors $(stat_of tx_errors)"
