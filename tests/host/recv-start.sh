#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A receiver touches no output before everything that can fail at its
# start has succeeded, and never truncates an existing one unless told
# (--truncate). tlstap-fwd sends records to tlstap-recv A (--out late.json)
# in a namespace of its own. Checks:
# - B on A's port and file exits 1 with "Address already in use" and
#   leaves late.json byte for byte as it was (with --truncate too); one
#   with a new file leaves no file behind;
# - C on another port with A's file exits 1 saying another process writes
#   it; late.json unchanged; A goes on writing whole JSON lines;
# - D, started after A on its file, appends;
# - E with --truncate starts the file anew, once everything else started;
# - raw and pcapng output, the datagram log and --lost FILE append too:
#   two runs give every record once (raw: whole records back to back;
#   pcapng: two sections that tshark reads as one capture).
# Each receiver run has a tlstap-fwd (a stream) of its own: where a
# receiver joins a running stream is recv-restart.sh's.
# - tlstap-nfq: a second one on a busy queue exits 1 and leaves the file
#   alone; one that starts appends to what the file held.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
add_ns R
L=127.0.0.1:7500
: >"$TMP/all.expect"

# refused NAME TEXT PROG OPTION...: PROG (in R) exits 1 within 5 s with TEXT
# on stderr.
refused() {
	local name=$1 text=$2 prog=$3 rc=0
	shift 3
	ip netns exec "$(ns R)" timeout 5 "$BIN/$prog" "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
	[ "$rc" = 1 ] || fail "$name: $prog $* exited $rc, want 1: $(tail -n 2 "$TMP/$name.err")"
	grep -q -- "$text" "$TMP/$name.err" ||
		fail "$name: no '$text' on stderr: $(tail -n 2 "$TMP/$name.err")"
}

# unchanged NAME FILE: FILE is as in the snapshot $TMP/snap.
unchanged() {
	cmp -s "$2" "$TMP/snap" ||
		fail "$1 changed $2 ($(stat -c %s "$2") bytes, were $(stat -c %s "$TMP/snap")): $(head -c 80 "$2" | od -c | head -n 2)"
}

start_fwd fwd R "$TMP/in.sock" --target "$L" --port 7600 --max-datagram 1400
start_bg a R "$BIN/tlstap-recv" --listen "$L" --out "$TMP/late.json" \
	--stats-json
wait_udp_bound a R "${L##*:}"
send_batch b1 11 8 --max-size 3000
wait_records 8 "$TMP/late.json"
cp "$TMP/late.json" "$TMP/snap"

refused b "Address already in use" tlstap-recv --listen "$L" \
	--out "$TMP/late.json"
unchanged b "$TMP/late.json"
refused b-truncate "Address already in use" tlstap-recv --listen "$L" \
	--out "$TMP/late.json" --truncate
unchanged b-truncate "$TMP/late.json"
refused b-new "Address already in use" tlstap-recv --listen "$L" \
	--output pcapng --out "$TMP/new.pcapng" --lost "$TMP/new.lost" \
	--log-datagrams "$TMP/new.dg"
for f in new.pcapng new.lost new.dg; do
	[ ! -e "$TMP/$f" ] || fail "a receiver that did not start left $f behind"
done
echo "a receiver whose port is taken leaves every file as it was"

refused c "another process" tlstap-recv --listen 127.0.0.1:7501 \
	--out "$TMP/late.json"
grep -q "late.json" "$TMP/c.err" || fail "c: the message names no file: $(cat "$TMP/c.err")"
unchanged c "$TMP/late.json"
send_batch b2 12 8 --max-size 3000
wait_records 16 "$TMP/late.json"
check_records "$TMP/all.expect" "$TMP/late.json"
stop_bg a
stop_bg fwd
echo "a second receiver on the same file is refused: $(tail -n 1 "$TMP/c.err")"

# run NAME OPTION...: a receiver (OPTIONs) and a sender of its own; the
# batch NAME (6 records) sent, the receiver stopped once it has them.
run() {
	local name=$1
	shift
	start_bg "$name" R "$BIN/tlstap-recv" --listen "$L" --stats-json "$@"
	start_fwd fwd R "$TMP/in.sock" --target "$L" --port 7600 \
		--max-datagram 1400
	sleep 0.3
	send_batch "$name" "$((seed++))" 6 --max-size 3000
	nfq_wait_stat "$name" - records 6
	stop_bg fwd
	stop_bg "$name"
}
seed=20

# A new receiver on the file appends.
run d --out "$TMP/late.json"
check_records "$TMP/all.expect" "$TMP/late.json"
echo "a new receiver appends"

# --truncate: a new file, once the receiver has started.
run e --out "$TMP/late.json" --truncate
check_records "$TMP/e.expect" "$TMP/late.json"
echo "--truncate: the file holds only the new run's records"

# raw and pcapng, the datagram log and the LOST file: two runs, appended.
for r in 1 2; do
	run "raw$r" --output raw --out "$TMP/out.raw" --lost "$TMP/raw.lost" \
		--log-datagrams "$TMP/raw.dg"
done
python3 - "$TMP" <<'PY' || fail "raw output of two runs"
import base64, json, struct, sys
tmp = sys.argv[1]
want = {}
for run in (1, 2):
    for l in open("%s/raw%d.expect" % (tmp, run)):
        e = json.loads(l)
        want[e["time_ns"]] = base64.b64decode(e.get("data", ""))
raw, got, pos = open(tmp + "/out.raw", "rb").read(), {}, 0
while pos < len(raw):
    if len(raw) - pos < 72:
        sys.exit("FAIL a record cut short at byte %d" % pos)
    msg_len, ts = struct.unpack_from(">I", raw, pos + 8)[0], struct.unpack_from(">Q", raw, pos + 48)[0]
    if ts in got:
        sys.exit("FAIL record %d twice" % ts)
    got[ts] = raw[pos + 72:pos + 72 + msg_len]
    pos += 72 + msg_len
if got != want:
    sys.exit("FAIL raw: %d records, want %d" % (len(got), len(want)))
dg = [json.loads(l) for l in open(tmp + "/raw.dg")]
n = sum([json.loads(l) for l in open("%s/raw%d.err" % (tmp, r)) if l.startswith("{")][-1]["datagrams"]
        for r in (1, 2))
if len(dg) != n:
    sys.exit("FAIL datagram log: %d lines, the runs took %d datagrams" % (len(dg), n))
print("raw: %d records in two runs, the datagram log %d lines" % (len(got), len(dg)))
PY
for r in 1 2; do
	run "pcap$r" --output pcapng --out "$TMP/out.pcapng"
done
tshark -r "$TMP/out.pcapng" -T fields -e frame.number >"$TMP/frames" 2>"$TMP/tshark.err" ||
	fail "tshark cannot read the pcapng of two runs: $(head -n 2 "$TMP/tshark.err")"
! grep -v 'Running as user "root"' "$TMP/tshark.err" | grep -q . ||
	fail "tshark: $(head -n 2 "$TMP/tshark.err")"
packets=$(($(nfq_stat pcap1 pcapng packets) + $(nfq_stat pcap2 pcapng packets)))
[ "$(wc -l <"$TMP/frames")" = "$packets" ] ||
	fail "tshark reads $(wc -l <"$TMP/frames") packets, the two runs wrote $packets"
sections=$(python3 -c '
import struct, sys
b, pos, n = open(sys.argv[1], "rb").read(), 0, 0
while pos < len(b):
    t, l = struct.unpack_from("=II", b, pos)
    n += t == 0x0A0D0D0A
    pos += l
print(n)' "$TMP/out.pcapng")
[ "$sections" = 2 ] || fail "the pcapng holds $sections sections, want 2"
echo "pcapng: two runs, two sections, $packets packets, tshark reads them"

# tlstap-nfq: a queue already bound fails it; a start appends.
printf '{"type":"note","text":"written before"}\n' >"$TMP/nfq.json"
cp "$TMP/nfq.json" "$TMP/snap"
start_bg n1 R "$BIN/tlstap-nfq" --queue 3 --out "$TMP/nfq.json" --stats-json
sleep 0.3
refused n2 "queue 3" tlstap-nfq --queue 3 --out "$TMP/nfq.json" --truncate
unchanged n2 "$TMP/nfq.json"
stop_bg n1
unchanged n1 "$TMP/nfq.json"
echo "tlstap-nfq: a busy queue changes nothing; a start appends"
echo "PASS: $TEST_NAME"
