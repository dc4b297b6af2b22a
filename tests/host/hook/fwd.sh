# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Sourced after lib.sh by the tests of capture rings (hook-ring*.sh,
# fwd-ring-hostile.sh): the real consumer, tlstap-fwd --seqpacket, and a
# real target, tlstap-recv, both ASan builds, in a network namespace of
# the test's own (the hooked programs stay outside: a Unix socket path
# reaches across namespaces).
#
# Gives: $NFQ_BIN, $FWD_BIN, $RINGWRITER (tests/tools/hookringwriter, ASan), $NS,
# start_fwd, stop_fwd, fwd_counter, cpu_ticks.

NFQ_BIN=$SRC/nfq-tools/build-san
FWD_BIN=$SRC/fwd/build-san
for dir in nfq-tools fwd; do
	make -s -C "$SRC/$dir" SANITIZE=1 >"$T/build-$dir.log" 2>&1 ||
		fail "$dir build failed: $(tail -n 3 "$T/build-$dir.log" | tr '\n' ' ')"
done
make -s -C "$SRC/tests/tools" SANITIZE=1 >"$T/build-tools.log" 2>&1 ||
	fail "tests/tools build failed: $(tail -n 3 "$T/build-tools.log" | tr '\n' ' ')"
# shellcheck disable=SC2034  # used by the sourcing script
RINGWRITER=$SRC/tests/tools/build-san/hookringwriter
# LeakSanitizer's stop-the-world at exit was seen to hang a daemon
# stopped by SIGTERM (nfq/lib.sh): leaks are the unit tests' business.
FWD_ASAN_OPTIONS=detect_leaks=0:abort_on_error=1

NS=tlstap-ring-$$
ip netns add "$NS" || fail "ip netns add $NS"
NS_LIST+=("$NS")
ip -n "$NS" link set lo up
FWD_PORT=7500
declare -A FWD_PID RECV_PID

# start_fwd NAME OUTPUT [OPTION...]: tlstap-recv writing OUTPUT (raw or
# json) to $T/NAME.out, and tlstap-fwd reading the seqpacket socket
# $T/NAME.sock (mode 0666, nginx workers run as nobody) with the
# OPTIONs, sending there; its counters (--stats-json) in $T/NAME.fwd.
# Their pids in FWD_PID[NAME] and RECV_PID[NAME].
start_fwd() {
	local name=$1 output=$2
	shift 2
	FWD_PORT=$((FWD_PORT + 1))
	: >"$T/$name.out"
	ASAN_OPTIONS=$FWD_ASAN_OPTIONS ip netns exec "$NS" "$NFQ_BIN/tlstap-recv" \
		--listen "127.0.0.1:$FWD_PORT" --output "$output" \
		--out "$T/$name.out" --stats-json 2>"$T/$name.recv" &
	RECV_PID[$name]=$!
	BG_PIDS+=($!)
	ASAN_OPTIONS=$FWD_ASAN_OPTIONS ip netns exec "$NS" "$FWD_BIN/tlstap-fwd" \
		--seqpacket "$T/$name.sock" --mode 0666 --port 0 \
		--target "127.0.0.1:$FWD_PORT" \
		--hash-key 000102030405060708090a0b0c0d0e0f --stats-json "$@" \
		2>"$T/$name.fwd" &
	FWD_PID[$name]=$!
	BG_PIDS+=($!)
	wait_path 10 "$T/$name.sock" ||
		fail "tlstap-fwd $name did not start: $(tail -n 3 "$T/$name.fwd")"
}

# stop_fwd NAME: once the records stopped coming, tlstap-fwd and
# tlstap-recv end; both must exit cleanly (no sanitizer report).
stop_fwd() {
	local name=$1 rc
	settle "$T/$name.out"
	kill -TERM "${FWD_PID[$name]}"
	rc=0
	wait "${FWD_PID[$name]}" || rc=$?
	[ $rc = 0 ] || fail "tlstap-fwd $name exited with $rc: $(tail -n 5 "$T/$name.fwd")"
	settle "$T/$name.out"
	kill -TERM "${RECV_PID[$name]}"
	rc=0
	wait "${RECV_PID[$name]}" || rc=$?
	[ $rc = 0 ] || fail "tlstap-recv $name exited with $rc: $(tail -n 5 "$T/$name.recv")"
}

# fwd_counter NAME KEY: a counter from tlstap-fwd's last JSON line.
fwd_counter() {
	$PY -c 'import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
print(json.loads(line)[sys.argv[2]])' "$T/$1.fwd" "$2"
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
