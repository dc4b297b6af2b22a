#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# libtlstap.so in openssl s_server and s_client, both hooked: the client
# talks through SSL_write/SSL_read, the server (-rev) through an SSL BIO.
# Over 127.0.0.1 with a few lines and SNI, and over [::1] with 300 KB.
# Each side's capture equals what the client sent and printed, and the
# other side's capture, byte for byte; both ends agree on addresses and
# ports; timestamps are CLOCK_REALTIME of this run; no drops.
. "$(dirname "$0")/hook/lib.sh"

start_capture

# run_pair NAME ADDR INPUT [--v6]
run_pair() {
	local name=$1 addr=$2 input=$3 port sp since hp out
	port=$(freeport ${4:-})
	case $addr in *:*) hp="[$addr]:$port" ;; *) hp="$addr:$port" ;; esac
	: >"$T/rec"
	since=$(date +%s%N)
	# No timeout(1) in between: the records' pid must be the server's.
	bg env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/tlstap.conf" \
		openssl s_server -rev -quiet -accept "$hp" \
		-cert "$T/cert.pem" -key "$T/key.pem" >"$T/$name.srv.out" 2>&1
	sp=$BG_PID
	wait_port "$port"
	LD_PRELOAD="$LIB" TLSTAP_CONF="$T/tlstap.conf" timeout 60 \
		openssl s_client -connect "$hp" -servername test.example -quiet \
		<"$input" >"$T/$name.cli.out" 2>"$T/$name.cli.err" ||
		fail "$name: s_client failed: $(tail -n1 "$T/$name.cli.err")"
	kill "$sp"
	settle "$T/rec"
	cp "$T/rec" "$T/$name.rec"
	out=$($RECORDS exchange "$T/$name.rec" --server-pid "$sp" \
		--server-port "$port" --addr "$addr" --client-sent "$input" \
		--client-got "$T/$name.cli.out" --since "$since") || fail "$name: $out"
}

printf 'hello, world\nsecond line\nCLOSE\n' >"$T/small.in"
run_pair v4 127.0.0.1 "$T/small.in"
[ "$(cat "$T/v4.cli.out")" = "$(printf 'dlrow ,olleh\nenil dnoces')" ] ||
	fail "v4: s_client printed something unexpected"

# 300 KB of lines: many SSL writes and BIO reads, over IPv6.
python3 -c 'import base64,os
for _ in range(4000): print(base64.b64encode(os.urandom(54)).decode())
print("CLOSE")' >"$T/big.in"
run_pair v6 ::1 "$T/big.in" --v6
[ "$(wc -c <"$T/v6.cli.out")" -eq $(( $(wc -c <"$T/big.in") - 6 )) ] ||
	fail "v6: s_client received $(wc -c <"$T/v6.cli.out") bytes"
stop_reader "$READER_PID"
echo "PASS $TEST_NAME"
