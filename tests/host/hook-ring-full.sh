#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A full capture ring (64 KiB, ring_kb = 64) while tlstap-fwd is stopped
# with SIGSTOP:
# - on_full = drop: the records that do not fit are dropped and counted;
#   the next record of the connection that gets through carries the
#   count, or, at the connection's end, a loss report does: captured +
#   dropped = every byte moved, the drops in the middle of the
#   connection (drop) or up to its end (tail: a smaller record may still
#   fit where a larger one did not, so which of the two tells the last
#   drops depends on the sizes);
# - on_full = block: the writer waits in poll() for tlstap-fwd's ROOM and
#   burns no CPU while it waits (not a spin); after SIGCONT everything
#   arrives, byte for byte.
. "$(dirname "$0")/hook/lib.sh"
. "$HOOK_DIR/fwd.sh"

make_cert
port=$(freeport)
bg $PEER server 127.0.0.1 "$port" "$T/cert.pem" "$T/key.pem" "$T/srv" --conns 100
wait_port "$port"

conf() { # NAME ON_FULL
	write_conf "$T/$1.conf" <<CONF
global:
  if = $T/$1.sock
  on_full = $2
  ring_kb = 64
CONF
}

# held NAME HOLD SIZES: a hooked client makes its ring (first round) and
# waits; tlstap-fwd is stopped; the client sends the other rounds but
# the last (HOLD --wait-before-last) or all (--wait-before-close) into
# the full ring and waits again; tlstap-fwd continues and drains; the
# client finishes. Its pid in cp.
held() {
	local name=$1 hold=$2 sizes=$3
	start_fwd "$name" raw
	conf "$name" drop
	env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/$name.conf" $PEER client 127.0.0.1 \
		"$port" "$T/$name" --sizes "$sizes" --wait-after-first "$T/$name.go1" \
		"$hold" "$T/$name.go2" >"$T/$name.log" 2>&1 &
	cp=$!
	BG_PIDS+=("$cp")
	waiting "$T/$name.go1"
	kill -STOP "${FWD_PID[$name]}"
	touch "$T/$name.go1"
	waiting "$T/$name.go2"
	kill -CONT "${FWD_PID[$name]}"
	settle "$T/$name.out"
	touch "$T/$name.go2"
	wait "$cp" || fail "$name: client failed: $(tail -n1 "$T/$name.log")"
	stop_fwd "$name"
}

held drop --wait-before-last 10,300000,300000,300000,50
out=$($RECORDS one-side "$T/drop.out" --pid "$cp" --logs "$T/drop" --accounted) ||
	fail "drop: $out"
echo "drop: $out"
held tail --wait-before-close 10,300000,300000
out=$($RECORDS one-side "$T/tail.out" --pid "$cp" --logs "$T/tail" --accounted) ||
	fail "tail: $out"
echo "tail: $out"
[ "$(fwd_counter tail input_messages)" = 0 ] || fail "tail: records came by write()"

# on_full = block.
start_fwd block raw
conf block block
env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/block.conf" $PEER client 127.0.0.1 \
	"$port" "$T/block" --sizes 10,300000,300000,10 \
	--wait-after-first "$T/block.go1" >"$T/block.log" 2>&1 &
cp=$!
BG_PIDS+=("$cp")
waiting "$T/block.go1"
kill -STOP "${FWD_PID[block]}"
touch "$T/block.go1"
sleep 1
t0=$(cpu_ticks "$cp")
sleep 2
t1=$(cpu_ticks "$cp")
kill -0 "$cp" 2>/dev/null || fail "block: the client finished while tlstap-fwd was stopped"
grep -q '^State:.S' "/proc/$cp/status" ||
	fail "block: the client is not asleep: $(grep '^State' "/proc/$cp/status")"
# A spinning writer would have burnt about 200 ticks in those 2 s.
[ $((t1 - t0)) -le 10 ] || fail "block: the waiting client used $((t1 - t0)) ticks of CPU in 2 s"
kill -CONT "${FWD_PID[block]}"
wait "$cp" || fail "block: client failed: $(tail -n1 "$T/block.log")"
stop_fwd block
out=$($RECORDS one-side "$T/block.out" --pid "$cp" --logs "$T/block") || fail "block: $out"
[ "$(fwd_counter block ring_room_sent)" -ge 1 ] || fail "block: no ROOM was sent"
echo "block: $((t1 - t0)) ticks of CPU while waiting, $(fwd_counter block ring_room_sent) ROOM messages"
echo "PASS $TEST_NAME"
