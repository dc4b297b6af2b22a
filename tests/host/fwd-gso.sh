#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# UDP GSO and its fallback: link 1 has transmit checksum offload switched
# off (ethtool -K tx off). Linux 6.1 refuses GSO sends there (EIO): then
# tlstap-fwd must notice, fall back to one datagram per message for that
# target only, and lose nothing. Newer kernels checksum in software and
# accept them: then GSO must stay on. A probe send finds out which kernel
# this is first. Link 2 keeps GSO either way; --no-gso is checked too.
. "$(dirname "$0")/nfq/lib.sh"

command -v ethtool >/dev/null || fail "ethtool is not installed (scripts/debian-packages)"
build_tools
setup_topology 2
ip netns exec "$(ns S)" ethtool -K t1 tx off >/dev/null 2>&1 ||
	fail "ethtool -K t1 tx off failed"
T1="10.77.1.2:7419"
T2="10.77.2.2:7419"

# run_case NAME FWD-OPTION...
run_case() {
	local name=$1
	shift
	start_receivers 2
	start_fwd "fwd-$name" S "$TMP/in.sock" --target "$T1" --target "$T2" "$@"
	timeout 120 python3 "$NFQ_HELPERS/gen_records.py" --seed 12 \
		--flows 40 --records 300 --unix "$TMP/in.sock" \
		--expect "$TMP/$name.expect" >"$TMP/$name.summary" ||
		fail "$name: test writer failed"
	wait_lines "$(json_field "$TMP/$name.summary" records)" "$TMP"/recv{1,2}.json
	stop_bg "fwd-$name"
	stop_receivers 2
	check_delivery "$name" "\"tos\": 32, \"allow_send_errors\": true,
 \"expect\": \"$TMP/$name.expect\", \"summary\": \"$TMP/$name.summary\",
 \"fwd_stats\": \"$TMP/fwd-$name.err\"" \
		"1 $T1 1500 full_size" "2 $T2 1500 full_size"
}

# target_stat NAME TARGET FIELD
target_stat() {
	python3 -c 'import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
print([t for t in s["targets"] if t["target"]==sys.argv[2]][0][sys.argv[3]])' \
		"$TMP/fwd-$1.err" "$2" "$3"
}

# Does this kernel refuse a GSO send on link 1?
probe=$(ip netns exec "$(ns S)" python3 -c '
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_UDP, 103, 1000)  # UDP_SEGMENT
try:
    s.sendto(bytes(3000), ("10.77.1.2", 9))
    print("accepted")
except OSError as e:
    print("refused" if e.errno == errno.EIO else "error %s" % e)')

run_case gso
case $probe in
refused)
	[ "$(target_stat gso "$T1" gso)" = False ] || fail "GSO still on for the link without checksum offload"
	[ "$(target_stat gso "$T1" gso_sends)" = 0 ] || fail "GSO sends counted on link 1"
	[ "$(target_stat gso "$T1" send_errors)" -ge 1 ] || fail "the refused GSO send was not counted"
	grep -q "UDP GSO refused" "$TMP/fwd-gso.err" || fail "fallback not reported"
	echo "link 1: the kernel refused GSO, tlstap-fwd fell back" ;;
accepted)
	[ "$(target_stat gso "$T1" gso)" = True ] || fail "GSO switched off though the kernel accepts it"
	[ "$(target_stat gso "$T1" send_errors)" = 0 ] || fail "send errors on link 1"
	echo "link 1: this kernel accepts GSO without checksum offload; GSO stayed on" ;;
*)
	fail "GSO probe: $probe" ;;
esac
[ "$(target_stat gso "$T2" gso)" = True ] || fail "GSO switched off for link 2 too"
[ "$(target_stat gso "$T2" gso_sends)" -gt 0 ] || fail "no GSO sends on link 2"
[ "$(target_stat gso "$T2" send_errors)" = 0 ] || fail "send errors on link 2"
echo "link 2: $(target_stat gso "$T2" gso_sends) GSO sends"

run_case no-gso --no-gso
for t in "$T1" "$T2"; do
	[ "$(target_stat no-gso "$t" gso_sends)" = 0 ] || fail "--no-gso: GSO sends to $t"
	[ "$(target_stat no-gso "$t" send_errors)" = 0 ] || fail "--no-gso: send errors to $t"
done
echo "PASS: $TEST_NAME"
