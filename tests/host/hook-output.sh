#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The output side. A missing output and a full one (a receiver that
# stopped reading) leave a program's stdout, stderr and exit status as
# an unhooked run's; with on_full = drop the records that did not fit are
# counted, and the next record of the connection that gets through
# carries the count, or, at the connection's end, a loss report (a record
# without plaintext): captured + dropped = every byte moved. on_full =
# block makes the writer wait for the receiver and lose nothing. A FIFO
# and a seqpacket socket carry whole records (at most PIPE_BUF bytes into
# a FIFO, from two processes at once); a character device gets one
# writev() per record. A program that closes every descriptor, ours
# included, and reuses the numbers never receives a record in its files.
. "$(dirname "$0")/hook/lib.sh"

port=$(freeport)
# The Python server, for the runs that check one side.
pport=$(freeport)
start_servers 2000000 "$port" "$pport"
URL=https://127.0.0.1:$port/big.bin

conf() { # NAME IF ON_FULL
	write_conf "$T/$1.conf" <<CONF
global:
  if = $2
  on_full = $3
CONF
}

# like_unhooked NAME CONF: curl's stdout, stderr and status as unhooked.
like_unhooked() {
	local rc0=0 rc1=0
	timeout 60 curl -sSk "$URL" >"$T/$1.out0" 2>"$T/$1.err0" || rc0=$?
	TLSTAP_CONF=$2 LD_PRELOAD="$LIB" timeout 60 curl -sSk "$URL" \
		>"$T/$1.out1" 2>"$T/$1.err1" || rc1=$?
	[ $rc0 = $rc1 ] || fail "$1: exit $rc1 hooked, $rc0 unhooked"
	cmp -s "$T/$1.out0" "$T/$1.out1" || fail "$1: stdout differs from an unhooked run"
	cmp -s "$T/$1.err0" "$T/$1.err1" || fail "$1: stderr differs: $(head -c 200 "$T/$1.err1")"
	cmp -s "$T/$1.out1" "$T/www/big.bin" || fail "$1: curl did not get the file"
}

# Missing output.
conf missing "$T/none.sock" drop
like_unhooked missing "$T/missing.conf"

# Full output: the receiver stopped.
start_reader dgram "$T/full.sock" "$T/full.rec"
kill -STOP "$READER_PID"
conf full "$T/full.sock" drop
like_unhooked full "$T/full.conf"
kill -CONT "$READER_PID"

# held_client NAME HOLD SIZES: a hooked client (pid in cp) sends frames
# of SIZES into the full output while the reader is stopped, and waits
# (HOLD: --wait-before-last, before its last round, or
# --wait-before-close, at the end) until the reader, continued, has taken
# what fit; then it finishes.
held_client() {
	local name=$1 hold=$2 sizes=$3
	: >"$T/full.rec"
	kill -STOP "$READER_PID"
	env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/full.conf" $PEER client 127.0.0.1 \
		"$pport" "$T/$name" --sizes "$sizes" "$hold" "$T/$name.go" \
		>"$T/$name.log" 2>&1 &
	cp=$!
	BG_PIDS+=("$cp")
	waiting "$T/$name.go"
	kill -CONT "$READER_PID"
	settle "$T/full.rec"
	touch "$T/$name.go"
	wait "$cp" || fail "$name: client failed: $(tail -n1 "$T/$name.log")"
}

# Drops are counted and reported by the next record that gets through.
held_client drop --wait-before-last 300000,300000,300000,50
settle "$T/full.rec"
# (The OPEN and CLOSE too may find the output full: --lossy.)
out=$($RECORDS one-side "$T/full.rec" --pid "$cp" --logs "$T/drop" --accounted \
	--lossy) || fail "drop: $out"

# Lost at the very end: the loss report (a record without plaintext) that
# SSL_free sends tells it.
held_client tail --wait-before-close 300000,300000
stop_reader "$READER_PID"
out=$($RECORDS one-side "$T/full.rec" --pid "$cp" --logs "$T/tail" --accounted \
	--loss-report --lossy) || fail "tail: $out"

# on_full = block: the writer waits for the stopped receiver, loses nothing.
start_reader dgram "$T/block.sock" "$T/block.rec"
conf block "$T/block.sock" block
kill -STOP "$READER_PID"
env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/block.conf" $PEER client 127.0.0.1 \
	"$pport" "$T/blk" --sizes 300000,300000,10 >"$T/block.log" 2>&1 &
cp=$!
sleep 2
kill -0 "$cp" 2>/dev/null || fail "block: the client finished while the receiver was stopped"
kill -CONT "$READER_PID"
wait "$cp" || fail "block: client failed: $(tail -n1 "$T/block.log")"
stop_reader "$READER_PID"
out=$($RECORDS one-side "$T/block.rec" --pid "$cp" --logs "$T/blk") || fail "block: $out"

# FIFO and seqpacket: hooked client and hooked server share the output.
for kind in fifo seqpacket; do
	start_reader "$kind" "$T/$kind.out" "$T/$kind.rec"
	conf "$kind" "$T/$kind.out" block
	p2=$(freeport)
	bg env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/$kind.conf" $PEER server 127.0.0.1 \
		"$p2" "$T/cert.pem" "$T/key.pem" "$T/$kind.srv"
	sp=$BG_PID
	wait_port "$p2"
	LD_PRELOAD="$LIB" TLSTAP_CONF="$T/$kind.conf" timeout 60 $PEER client \
		127.0.0.1 "$p2" "$T/$kind.cli" --sizes 3,100000,5000 >"$T/$kind.log" 2>&1 ||
		fail "$kind: client failed: $(tail -n1 "$T/$kind.log")"
	wait "$sp" || fail "$kind: server failed"
	stop_reader "$READER_PID"
	max=65536
	[ $kind = fifo ] && max=$(( $(getconf PIPE_BUF /) - 72 ))
	out=$($RECORDS conns "$T/$kind.rec" --server-pid "$sp" --server-port "$p2" \
		--addr 127.0.0.1 --conns 1 --client-logs "$T/$kind.cli" \
		--server-logs "$T/$kind.srv" --max-record "$max") || fail "$kind: $out"
done

# (Background clients run without timeout(1): the records' pid must be
# theirs. The test runner's time limit bounds them.)

# A character device: /dev/null takes the records; strace shows them.
conf chardev /dev/null drop
like_unhooked chardev "$T/chardev.conf"
TLSTAP_CONF=$T/chardev.conf LD_PRELOAD="$LIB" timeout 60 strace -f -qq \
	-e trace=openat,fcntl,writev -e signal=none -o "$T/strace.log" \
	curl -sSk "$URL" -o /dev/null || fail "chardev: curl under strace failed"
fd=$(sed -n 's/.*fcntl([0-9]*, F_DUPFD_CLOEXEC, 100) *= \([0-9]*\).*/\1/p' "$T/strace.log" | head -n1)
[ -n "$fd" ] && [ "$fd" -ge 100 ] || fail "chardev: the output was not moved to a high descriptor"
grep -q 'openat(AT_FDCWD, "/dev/null", O_WRONLY|O_NOCTTY|O_NONBLOCK|O_CLOEXEC)' "$T/strace.log" ||
	fail "chardev: /dev/null not opened write-only non-blocking"
# Header bytes: type 1, dir 1 or 2, family 4, hdr_len 72 ("H").
n=$(grep -c "writev($fd, \[{iov_base=\"\\\\1\\\\[12]\\\\4H.*iov_len=72}, {" "$T/strace.log" || true)
[ "$n" -gt 10 ] || fail "chardev: $n record writev() calls to fd $fd"

# The program closes every descriptor (ours too) and reuses the numbers.
# A FIFO output: written with writev(), which a file would accept.
start_reader fifo "$T/take.fifo" "$T/take.rec"
conf take "$T/take.fifo" block
env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/take.conf" $PEER client 127.0.0.1 \
	"$pport" "$T/take" --sizes 1000,2000,3000 --take-over-fds >"$T/take.log" 2>&1 &
cp=$!
wait "$cp" || fail "take-over: client failed: $(tail -n1 "$T/take.log")"
stop_reader "$READER_PID"
# Line 1: descriptors >= 100 before the close; line 2: those among them
# that the program's own files now hold.
[ "$(sed -n 2p "$T/take.fds")" != "[]" ] ||
	fail "take-over: the client did not reuse our number: $(head -n1 "$T/take.fds")"
[ -z "$(find "$T" -name 'take.junk.*' -size +0)" ] || fail "take-over: records went into a file of the program"
out=$($RECORDS one-side "$T/take.rec" --pid "$cp" --logs "$T/take") || fail "take-over: $out"
echo "PASS $TEST_NAME"
