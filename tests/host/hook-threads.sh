#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Many connections at once: a hooked Python client runs 8 threads of 10
# connections each (Python lets go of the GIL inside SSL_read_ex and
# SSL_write_ex, so the hook runs on several threads at once) against a
# hooked Python server with a thread per connection. Every one of the 80
# connections has its own id, its captures equal what both peers logged
# and each other, in both directions, with the right ports.
. "$(dirname "$0")/hook/lib.sh"

start_capture
export TLSTAP_CONF=$T/tlstap.conf
port=$(freeport)
since=$(date +%s%N)
bg env LD_PRELOAD="$LIB" $PEER server 127.0.0.1 "$port" "$T/cert.pem" \
	"$T/key.pem" "$T/srv" --conns 80
sp=$BG_PID
wait_port "$port"
LD_PRELOAD="$LIB" timeout 120 $PEER client 127.0.0.1 "$port" "$T/cli" \
	--threads 8 --conns-per-thread 10 --sizes 1,70000,3000,200 \
	>"$T/cli.log" 2>&1 || fail "client failed: $(tail -n1 "$T/cli.log")"
wait "$sp" || fail "server failed"
stop_reader "$READER_PID"
out=$($RECORDS conns "$T/rec" --server-pid "$sp" --server-port "$port" \
	--addr 127.0.0.1 --conns 80 --client-logs "$T/cli" --server-logs "$T/srv" \
	--since "$since") || fail "$out"
echo "PASS $TEST_NAME"
