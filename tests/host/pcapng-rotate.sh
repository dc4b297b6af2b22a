#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# pcapng rotated like dumpcap's ring buffer. tlstap-fwd sends the test
# writer's records (IPv4 and IPv6 flows, each with its OPEN and CLOSE,
# up to 16 KiB) to tlstap-recv --output pcapng --rotate-size 1
# --rotate-seconds 2: a burst, 5 s without a record, another burst.
# Checks: the series is cap_NNNNN_YYYYmmddHHMMSS.pcapng, numbered from 1
# without a gap; while the receiver runs, every file under its name is
# whole (tshark reads it; the one being written is hidden as .part); no
# .part is left at exit and the counters name every file; files rotated
# by size (each closed at most a record past 1 MB) and by time (the idle
# seconds left files with no packet); every file opens on its own with
# tshark, and together they hold every record once, connections going on
# across files (one handshake, in the file of its OPEN, one FIN each way;
# the first frame in a later file says so: check_series.py). A second
# receiver cannot write the same series. Then --rotate-files 2: the two
# newest files stay, the older ones are removed and counted.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
setup_topology 1
mkdir "$TMP/ring" "$TMP/kept"

start_bg recv R1 "$BIN/tlstap-recv" --listen 10.77.1.2:7419 --output pcapng \
	--out "$TMP/ring/cap.pcapng" --rotate-size 1 --rotate-seconds 2 \
	--stats-json
start_fwd fwd S "$TMP/in.sock" --target 10.77.1.2:7419
ip netns exec "$(ns R1)" "$BIN/tlstap-recv" --listen 10.77.1.2:7420 \
	--output pcapng --out "$TMP/ring/cap.pcapng" --rotate-size 1 \
	>"$TMP/second.out" 2>&1 && fail "a second receiver took the same series"
grep -q "another process writes this series" "$TMP/second.out" ||
	fail "a second receiver on the series: $(cat "$TMP/second.out")"

gen() { # SEED EXPECT: a burst of 600 records over 40 flows
	timeout 120 python3 "$NFQ_HELPERS/gen_records.py" --seed "$1" --flows 40 \
		--records 600 --max-size 16384 --none-every 0 --lifecycle \
		--unix "$TMP/in.sock" --expect "$2" >>"$TMP/summary.json" ||
		fail "test writer failed"
}
# whole_files DIR: every file under its own name is a capture tshark reads.
whole_files() {
	local f
	for f in "$1"/cap_*.pcapng; do
		[ -e "$f" ] || continue
		tshark -r "$f" >/dev/null 2>"$TMP/read.err" ||
			fail "$f, already under its name, is not whole: $(tail -n 1 "$TMP/read.err")"
	done
}

gen 31 "$TMP/expect1.json"
whole_files "$TMP/ring"
find "$TMP/ring" -maxdepth 1 -regextype posix-basic -regex '.*/\.cap_[0-9]\{5\}_[0-9]\{14\}\.pcapng\.part' | grep -q . ||
	fail "no hidden .part file while the receiver writes: $(ls -a "$TMP/ring")"
sleep 5
whole_files "$TMP/ring"
gen 32 "$TMP/expect2.json"
want=$(python3 -c 'import json,sys
print(sum(json.loads(l)["records"] for l in open(sys.argv[1])))' "$TMP/summary.json")
nfq_wait_stat recv - records "$want"
stop_bg fwd
stop_bg recv

find "$TMP/ring" -maxdepth 1 -name '*.part' | grep -q . && fail "a .part file is left: $(ls -a "$TMP/ring")"
mapfile -t files < <(ls "$TMP/ring"/cap_*.pcapng)
n=${#files[@]}
[ "$n" = "$(nfq_stat recv pcapng files)" ] ||
	fail "$n files, the counters say $(nfq_stat recv pcapng files)"
for ((i = 0; i < n; i++)); do
	name=$(basename "${files[$i]}")
	[[ $name =~ ^cap_([0-9]{5})_[0-9]{14}\.pcapng$ ]] ||
		fail "file $name is not named cap_NNNNN_YYYYmmddHHMMSS.pcapng"
	[ "$((10#${BASH_REMATCH[1]}))" = $((i + 1)) ] ||
		fail "file $name is number ${BASH_REMATCH[1]}, want $((i + 1))"
done
empty=0 big=0
for f in "${files[@]}"; do
	size=$(stat -c %s "$f")
	[ "$size" -le $((1000000 + 16384 * 3 + 4096)) ] ||
		fail "$f is $size bytes: not rotated at 1 MB"
	[ "$size" -ge 1000000 ] && big=$((big + 1))
	[ -z "$(tshark -r "$f" -c 1 2>/dev/null)" ] && empty=$((empty + 1))
done
[ "$big" -ge 2 ] || fail "$big files rotated by size, want 2 or more"
[ "$empty" -ge 2 ] || fail "$empty files without packets: the idle seconds did not rotate"
python3 "$PCAP_HELPERS/check_series.py" "$TMP/expect1.json" "$TMP/expect2.json" \
	-- "${files[@]}" >"$TMP/check.out" || fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
cat "$TMP/check.out"

# --rotate-files 2: only the two newest files stay.
start_bg keep R1 "$BIN/tlstap-recv" --listen 10.77.1.2:7419 --output pcapng \
	--out "$TMP/kept/cap.pcapng" --rotate-size 1 --rotate-files 2 --stats-json
start_fwd fwd2 S "$TMP/in2.sock" --target 10.77.1.2:7419
: >"$TMP/summary.json"
timeout 120 python3 "$NFQ_HELPERS/gen_records.py" --seed 33 --flows 40 \
	--records 900 --max-size 16384 --none-every 0 --lifecycle \
	--unix "$TMP/in2.sock" --expect "$TMP/expect3.json" >"$TMP/summary.json" ||
	fail "test writer failed"
nfq_wait_stat keep - records "$(json_field "$TMP/summary.json" records)"
stop_bg fwd2
stop_bg keep
mapfile -t kept < <(ls "$TMP/kept"/cap_*.pcapng)
made=$(nfq_stat keep pcapng files)
removed=$(nfq_stat keep pcapng files_removed)
[ "${#kept[@]}" = 2 ] || fail "--rotate-files 2 kept ${#kept[@]} files: ${kept[*]}"
[ "$removed" = $((made - 2)) ] && [ "$removed" -ge 1 ] ||
	fail "$made files made, $removed removed, 2 kept"
for f in "${kept[@]}"; do
	tshark -r "$f" >/dev/null 2>"$TMP/read.err" ||
		fail "$f does not open: $(tail -n 1 "$TMP/read.err")"
done
[[ ${kept[0]} == *_$(printf %05d $((made - 1)))_* && ${kept[1]} == *_$(printf %05d "$made")_* ]] ||
	fail "kept ${kept[*]}, want the two newest of $made"
echo "PASS: $TEST_NAME ($n files, $big by size, $empty empty by time; then $made files, $removed removed)"
