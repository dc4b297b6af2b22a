#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-fwd's other inputs, each delivering byte-exact to two targets:
# a Unix seqpacket socket with 4 concurrent writers; a FIFO that two
# writers open one after the other (tlstap-fwd waits for the next);
# stdin to EOF (exit 0), loss reports (header-only records) mixed in on
# both byte streams; and a byte stream with a malformed header, which
# cannot be resynchronised: the records before it arrive, tlstap-fwd
# counts it and exits with status 3.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
setup_topology 2
T1="10.77.1.2:7419"
T2="[fd77:2::2]:7419,weight=2"
GEN="$NFQ_HELPERS/gen_records.py"

# check_case NAME EXPECT SUMMARY: what receivers 1 and 2 got from the
# forwarder fwd-NAME, against the writers' files EXPECT and SUMMARY (a
# JSON string or list each).
check_case() {
	check_delivery "$1" "\"tos\": 32, \"expect\": $2, \"summary\": $3,
 \"fwd_stats\": \"$TMP/fwd-$1.err\"" "1 $T1 1500" "2 $T2 1500"
}

fwd_args=(--hash-key "$HASH_KEY" --target "$T1" --target "$T2" --stats-json)

# through_stdin NAME GEN-OPTION...: the writer's byte stream piped into
# tlstap-fwd --stdin (both bounded); the writer's files $TMP/NAME.expect
# and .summary, the forwarder's stderr $TMP/fwd-NAME.err, both exit
# statuses in $status.
through_stdin() {
	local name=$1
	shift
	timeout 120 python3 "$GEN" "$@" --stream - --expect "$TMP/$name.expect" \
		2>"$TMP/$name.summary" |
		ip netns exec "$(ns S)" timeout 120 "$FWD_BIN/tlstap-fwd" --stdin \
			"${fwd_args[@]}" 2>"$TMP/fwd-$name.err"
	status="${PIPESTATUS[*]}"
}

# 1. seqpacket, 4 writers at once.
start_receivers 2
start_bg fwd-seqpacket S "$FWD_BIN/tlstap-fwd" --seqpacket "$TMP/in.seq" "${fwd_args[@]}"
wait_for_file "$TMP/in.seq"
timeout 120 python3 "$GEN" --seed 11 --flows 40 --records 300 \
	--seqpacket "$TMP/in.seq" --writers 4 --malformed 4 \
	--expect "$TMP/seq.expect" >"$TMP/seq.summary" || fail "seqpacket writer"
wait_lines "$(json_field "$TMP/seq.summary" records)" "$TMP"/recv{1,2}.json
stop_bg fwd-seqpacket
[ ! -e "$TMP/in.seq" ] || fail "seqpacket socket left behind"
stop_receivers 2
check_case seqpacket "\"$TMP/seq.expect\"" "\"$TMP/seq.summary\""

# 2. FIFO, two writers one after the other.
start_receivers 2
start_bg fwd-fifo S "$FWD_BIN/tlstap-fwd" --fifo "$TMP/in.fifo" "${fwd_args[@]}"
wait_for_file "$TMP/in.fifo"
for run in 1 2; do
	timeout 120 python3 "$GEN" --seed "2$run" --flows 30 --records 200 \
		--loss-every 11 --time-base "${run}000" --stream "$TMP/in.fifo" \
		--expect "$TMP/fifo$run.expect" >"$TMP/fifo$run.summary" ||
		fail "FIFO writer $run"
done
wait_lines $(($(json_field "$TMP/fifo1.summary" records) + \
	$(json_field "$TMP/fifo2.summary" records))) "$TMP"/recv{1,2}.json
stop_bg fwd-fifo
stop_receivers 2
check_case fifo "[\"$TMP/fifo1.expect\", \"$TMP/fifo2.expect\"]" \
	"[\"$TMP/fifo1.summary\", \"$TMP/fifo2.summary\"]"

# 3. stdin to EOF: tlstap-fwd exits 0 by itself after sending everything.
start_receivers 2
through_stdin stdin --seed 31 --flows 30 --records 200 --loss-every 7
[ "$status" = "0 0" ] || fail "stdin: exit statuses $status: $(tail -n 2 "$TMP/fwd-stdin.err")"
wait_lines "$(json_field "$TMP/stdin.summary" records)" "$TMP"/recv{1,2}.json
stop_receivers 2
check_case stdin "\"$TMP/stdin.expect\"" "\"$TMP/stdin.summary\""

# 4. A malformed header in a byte stream: exit 3, the records before it sent.
start_receivers 2
through_stdin framing-lost --seed 41 --flows 30 --records 200 --malformed-at 120
[ "$status" = "0 3" ] || fail "framing loss: exit statuses $status, want 0 3"
grep -q "cannot be resynchronised" "$TMP/fwd-framing-lost.err" ||
	fail "framing loss not explained on stderr"
[ "$(json_field "$TMP/framing-lost.summary" records)" = 120 ] ||
	fail "writer sent $(json_field "$TMP/framing-lost.summary" records) records before the bad one"
wait_lines 120 "$TMP"/recv{1,2}.json
stop_receivers 2
check_case framing-lost "\"$TMP/framing-lost.expect\"" "\"$TMP/framing-lost.summary\""
echo "PASS: $TEST_NAME"
