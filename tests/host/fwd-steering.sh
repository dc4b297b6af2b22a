#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# `tlstap-fwd --print-target` (what the VM test compares with tlstap.ko)
# against an independent reference of the steering (Python SipHash-2-4,
# flow key, Maglev fill): hash, bucket and target of every record, for
# one target, a weighted IPv4/IPv6 mix, and 64 targets; the random key
# tlstap-fwd prints when given none reproduces its choices; bad options
# are refused with a message.
. "$(dirname "$0")/nfq/lib.sh"

build_tools
GEN="$NFQ_HELPERS/gen_records.py"
timeout 60 python3 "$GEN" --seed 3 --flows 400 --records 1200 --max-size 64 \
	--stream "$TMP/records.bin" --expect "$TMP/expect.json" >/dev/null ||
	fail "test writer"

# check_set NAME KEY TARGET...
check_set() {
	local name=$1 key=$2 args=() t
	shift 2
	for t in "$@"; do args+=(--target "$t"); done
	timeout 60 "$FWD_BIN/tlstap-fwd" --print-target --stdin --hash-key "$key" \
		"${args[@]}" <"$TMP/records.bin" >"$TMP/$name.out" \
		2>"$TMP/$name.err" || fail "$name: tlstap-fwd failed: $(head -n 1 "$TMP/$name.err")"
	python3 "$NFQ_HELPERS/check_targets.py" "$key" "$TMP/expect.json" "$@" \
		<"$TMP/$name.out" >"$TMP/$name.check" ||
		fail "$name: $(cat "$TMP/$name.check")"
	echo "$name: $(cat "$TMP/$name.check")"
}

check_set one "$HASH_KEY" "192.0.2.1:7419"
check_set mixed 8f3a0c1d2e4b5a6978695a4b3c2d1e0f "10.0.0.2:7419,weight=3" \
	"[2001:db8::5]:7419" "10.0.0.3:9000,weight=255" \
	"[2001:db8::6]:7419,weight=7" "10.0.0.2:7420"
many=()
for i in $(seq 1 64); do
	if ((i % 3)); then many+=("10.1.$i.1:7419,weight=$i"); else many+=("[fd00::$i]:7419"); fi
done
check_set many ffeeddccbbaa99887766554433221100 "${many[@]}"

# No key: a random one, printed; it reproduces the choices.
timeout 60 "$FWD_BIN/tlstap-fwd" --print-target --stdin --target 10.0.0.2:7419 \
	--target "[2001:db8::5]:7419,weight=2" <"$TMP/records.bin" \
	>"$TMP/random.out" 2>"$TMP/random.err" || fail "random key: tlstap-fwd failed"
key=$(grep -o 'random key [0-9a-f]\{32\}' "$TMP/random.err" | cut -d' ' -f3)
[ -n "$key" ] || fail "random key not reported: $(head -n 1 "$TMP/random.err")"
python3 "$NFQ_HELPERS/check_targets.py" "$key" "$TMP/expect.json" \
	10.0.0.2:7419 "[2001:db8::5]:7419,weight=2" <"$TMP/random.out" \
	>"$TMP/random.check" || fail "random key: $(cat "$TMP/random.check")"
echo "random key: $(cat "$TMP/random.check")"

# Bad options: exit 1 and a line saying what is wrong.
refuse() {
	local want=$1
	shift
	if timeout 10 "$FWD_BIN/tlstap-fwd" --print-target --stdin "$@" </dev/null \
		>/dev/null 2>"$TMP/refuse.err"; then
		fail "accepted: $*"
	fi
	grep -q -- "$want" "$TMP/refuse.err" ||
		fail "'$*' said '$(head -n 1 "$TMP/refuse.err")', want '$want'"
}
refuse "no --target" --hash-key "$HASH_KEY"
refuse "--hash-key: want 32 hex digits" --hash-key 0011 --target 10.0.0.1:1
refuse "--hash-key: want 32 hex digits" --hash-key "${HASH_KEY%?}g" --target 10.0.0.1:1
refuse "--target weight" --target "10.0.0.1:1,weight=0"
refuse "--target weight" --target "10.0.0.1:1,weight=256"
refuse "want ADDR:PORT\[,weight=W\]" --target "10.0.0.1:1,wait=2"
refuse "bad port" --target "10.0.0.1:0"
refuse "unspecified address" --target "0.0.0.0:7419"
refuse "not an IPv4 address" --target "fd00::1:7419"
refuse "target given twice" --target 10.0.0.1:1 --target 10.0.0.1:1,weight=2
refuse "--tos" --target 10.0.0.1:1 --tos 0
refuse "--tos" --target 10.0.0.1:1 --tos 256
refuse "give one input" --target 10.0.0.1:1 --fifo /nonexistent/x
over=()
for i in $(seq 1 65); do over+=(--target "10.2.0.$i:7419"); done
refuse "at most 64 targets" "${over[@]}"
echo "PASS: $TEST_NAME"
