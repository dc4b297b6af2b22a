#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A full disk never leaves half a record. tlstap-recv writes into a small
# tmpfs (in a mount namespace of the test's own) that a filler file has
# nearly filled; tlstap-fwd sends 60 records of up to 4000 bytes, more
# than fits. For each output (JSON lines with the datagram log beside
# them, raw records, pcapng, and LOST lines in --lost FILE) checks:
# - the receiver keeps running; the file holds whole records only (JSON:
#   every line a JSON object ending in a newline; raw: whole records to
#   the last byte; pcapng: whole blocks, which tshark reads), each at most
#   once; the records not written are counted ("output" counters) and said
#   once (one line for the whole episode, not one per record);
# - once space is freed, the next records are written again, whole;
# - at exit (SIGTERM) the final counters are printed, with what could not
#   be written.
if [ -z "${TLSTAP_TEST_MNTNS:-}" ]; then
	TLSTAP_TEST_MNTNS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
add_ns R
FULL=$TMP/full
mkdir "$FULL"
trap 'umount "$FULL" 2>/dev/null; cleanup_test' EXIT

# full_fs KIB FILL_KIB: a new KIB-KiB tmpfs at $FULL, FILL_KIB of it taken.
full_fs() {
	umount "$FULL" 2>/dev/null
	mount -t tmpfs -o "size=${1}k,mode=0700" tlstap-full "$FULL" ||
		fail "mount tmpfs"
	dd if=/dev/zero of="$FULL/filler" bs=1k count="$2" status=none ||
		fail "filler"
}

# said NAME: the receiver's stderr says once that records were not written.
said() {
	local n
	n=$(grep -c "not written" "$TMP/$1.err")
	[ "$n" -ge 1 ] && [ "$n" -le 2 ] ||
		fail "$1: $n lines about records not written, want 1 (2 at most): $(grep -m3 'not written' "$TMP/$1.err")"
}

# check_file FORMAT FILE EXPECT: FILE holds whole records of EXPECT only,
# each at most once; prints how many.
check_file() {
	python3 - "$@" <<'PY' || fail "$2: see above"
import base64, json, struct, subprocess, sys
fmt, path, expect = sys.argv[1:4]
want = {}
for l in open(expect):
    e = json.loads(l)
    want[e["time_ns"]] = base64.b64decode(e.get("data", ""))
b = open(path, "rb").read()
got = []
if fmt == "json":
    if b and not b.endswith(b"\n"):
        sys.exit("FAIL the last line is cut short: %r" % b[-40:])
    for n, line in enumerate(b.splitlines(), 1):
        try:
            r = json.loads(line)
        except ValueError:
            sys.exit("FAIL line %d is not JSON: %r" % (n, line[:60]))
        got.append((r["time_ns"], base64.b64decode(r.get("data", ""))))
elif fmt == "raw":
    pos = 0
    while pos < len(b):
        if len(b) - pos < 72:
            sys.exit("FAIL a record header cut short at byte %d" % pos)
        msg_len = struct.unpack_from(">I", b, pos + 8)[0]
        if pos + 72 + msg_len > len(b):
            sys.exit("FAIL a record cut short at byte %d" % pos)
        got.append((struct.unpack_from(">Q", b, pos + 48)[0], b[pos + 72:pos + 72 + msg_len]))
        pos += 72 + msg_len
else:
    pos = 0
    while pos < len(b):
        if len(b) - pos < 12:
            sys.exit("FAIL a block cut short at byte %d" % pos)
        l = struct.unpack_from("=I", b, pos + 4)[0]
        if l < 12 or pos + l > len(b) or struct.unpack_from("=I", b, pos + l - 4)[0] != l:
            sys.exit("FAIL a block cut short at byte %d" % pos)
        pos += l
    r = subprocess.run(["tshark", "-r", path, "-q"], capture_output=True, text=True)
    complaints = [l for l in r.stderr.splitlines() if "Running as user" not in l]
    if r.returncode or complaints:
        sys.exit("FAIL tshark: %s" % r.stderr.strip()[:200])
    print("%s: %d bytes of whole blocks, tshark reads them" % (path, len(b)))
    sys.exit(0)
times = [t for t, _ in got]
if len(set(times)) != len(times):
    sys.exit("FAIL a record twice")
for t, data in got:
    if want.get(t) != data:
        sys.exit("FAIL record %d: not one of the records sent, or not byte-exact" % t)
print("%s: %d whole records" % (path, len(got)))
PY
}

# records_in FORMAT FILE: how many records FILE holds (after check_file).
records_in() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
fmt, path = sys.argv[1:3]
b = open(path, "rb").read()
if fmt == "json":
    print(len(b.splitlines()))
else:
    pos = n = 0
    while pos < len(b):
        pos += 72 + struct.unpack_from(">I", b, pos + 8)[0]
        n += 1
    print(n)
PY
}

# fwd: a sender of each receiver's own (a stream from seq 0), one
# datagram per send (the loss rule below drops single datagrams).
fwd() {
	start_fwd fwd R "$TMP/in.sock" --target 127.0.0.1:7507 --port 7600 \
		--max-datagram 1400 --no-gso
}
seed=80
for fmt in json raw pcapng; do
	full_fs 512 440
	: >"$TMP/all.expect"
	extra=()
	[ "$fmt" = json ] && extra=(--log-datagrams "$FULL/dg.json")
	start_bg "$fmt" R "$BIN/tlstap-recv" --listen 127.0.0.1:7507 \
		--output "$fmt" --out "$FULL/out.$fmt" "${extra[@]}" --stats-json
	fwd
	sleep 0.3
	send_batch "$fmt-a" $((++seed)) 60 --max-size 4000
	nfq_wait_stat "$fmt" - records 60
	unwritten=$(nfq_stat "$fmt" output records_unwritten)
	[ "$unwritten" -gt 0 ] || fail "$fmt: the disk did not fill up"
	check_file "$fmt" "$FULL/out.$fmt" "$TMP/all.expect"
	[ "$fmt" != json ] || python3 -c '
import json, sys
b = open(sys.argv[1], "rb").read()
assert not b or b.endswith(b"\n"), "cut short"
for l in b.splitlines():
    json.loads(l)' "$FULL/dg.json" || fail "the datagram log holds half a line"
	said "$fmt"
	if [ "$fmt" = pcapng ]; then
		before=$(nfq_stat "$fmt" pcapng records)
	else
		before=$(records_in "$fmt" "$FULL/out.$fmt")
	fi
	echo "$fmt: disk full, $unwritten records not written, $(grep -m1 'not written' "$TMP/$fmt.err")"
	# Space again: the next records are written.
	rm "$FULL/filler"
	send_batch "$fmt-b" $((++seed)) 10 --max-size 4000
	nfq_wait_stat "$fmt" - records 70
	sleep 0.3
	kill -USR1 "$(cat "/proc/$(cat "$TMP/$fmt.pid")/task/$(cat "$TMP/$fmt.pid")/children")"
	sleep 0.3
	[ "$(nfq_stat "$fmt" output records_unwritten)" = "$unwritten" ] ||
		fail "$fmt: records not written after space was freed"
	check_file "$fmt" "$FULL/out.$fmt" "$TMP/all.expect"
	if [ "$fmt" != pcapng ]; then
		after=$(records_in "$fmt" "$FULL/out.$fmt")
		[ "$after" = $((before + 10)) ] ||
			fail "$fmt: $after records after space was freed, want $before + 10"
	fi
	grep -q "writing again" "$TMP/$fmt.err" ||
		fail "$fmt: no line saying it writes again"
	stop_bg fwd
	stop_bg "$fmt"
	[ "$(nfq_stat "$fmt" output records_unwritten)" = "$unwritten" ] ||
		fail "$fmt: final counters: $(tail -n 1 "$TMP/$fmt.err")"
done

# LOST lines to --lost FILE on the full disk (one page free): half of the
# datagrams and every NACK lost, one try each: more LOST lines than fit.
full_fs 256 252
ip netns exec "$(ns R)" nft -f - <<'NFT' || fail "nft loss rules"
table inet tlstap_full {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7507 @th,64,8 1 @th,128,32 != 0 numgen random mod 2 0 counter drop
	}
	chain out {
		type filter hook output priority 0;
		udp sport 7507 @th,64,8 2 counter drop
	}
}
NFT
start_bg lost R "$BIN/tlstap-recv" --listen 127.0.0.1:7507 --output raw \
	--out /dev/null --lost "$FULL/lost.json" --nack-tries 1 \
	--nack-timeout-ms 10 --stats-json
fwd
sleep 0.3
send_batch lost $((++seed)) 600 --max-size 1000
sleep 2
stop_bg fwd
stop_bg lost
lost=$(nfq_stat lost - lost_ranges)
unwritten=$(nfq_stat lost output lost_unwritten)
[ "$unwritten" -gt 0 ] && [ "$unwritten" -lt "$lost" ] ||
	fail "lost: $lost LOST lines, $unwritten not written: want some of each"
python3 -c '
import json, sys
b = open(sys.argv[1], "rb").read()
assert b.endswith(b"\n"), "cut short"
n = 0
for l in b.splitlines():
    assert json.loads(l)["type"] == "lost"
    n += 1
assert n + int(sys.argv[2]) == int(sys.argv[3]), "%d written + %s not = %s" % (n, sys.argv[2], sys.argv[3])
' "$FULL/lost.json" "$unwritten" "$lost" || fail "lost.json is not whole LOST lines"
said lost
echo "--lost FILE: $lost LOST lines, $unwritten not written, the rest whole"
echo "PASS: $TEST_NAME"
