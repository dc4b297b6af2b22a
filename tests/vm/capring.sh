#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Capture rings: mmap() of /dev/tlstap (docs/PROTOCOL.md 7), written by
# tests/tools/ringwriter with shared/capring.h's producer steps. Every case
# is checked exactly against what tlstap-recv output (tests/tools/
# ringcheck.py: every record the writer committed, byte for byte, once;
# a loss report with its dropped count for each one lost; nothing else):
#  1. the mmap() interface: each refusal (EINVAL, EPERM, ENODEV, EEXIST,
#     EACCES), the desc and consumer line, the mapping's flags;
#  2. records committed, the writer then exiting, closing its file, or
#     killed (SIGKILL); abandoned frames and records over max_record
#     become loss reports;
#  3. a frame reserved and never committed when the writer is killed: a
#     loss report for it;
#  4. a full ring behind a frame still reserved: poll() reports no room
#     and nothing moves until it is committed; a full target ring: the
#     records wait in the capture ring; no target: dropped, counted;
#  5. the module idle: the producer wakes it, the record leaves while the
#     producer lives;
#  6. four threads with a ring each; fork(): the child has no mapping and
#     may not map the parent's ring;
#  7. a scribbler writing hostile positions and frames: its rings end
#     (rings_ended), another writer's records all arrive intact;
#  8. the memory bound: ENOMEM exactly past a quarter of RAM, given back;
#  9. rmmod right after a writer was killed: its ring is drained first.
. "$TLSTAP_SRC/tests/lib/vm.sh"

RW=$TOOLS/ringwriter
RC="python3 $TOOLS/ringcheck.py"
T1=10.77.1.2:7419

records_at_least() { [ "$(stat_of records)" -ge "$1" ]; }
stat_is() { [ "$(stat_of "$1")" -eq "$2" ]; } # NAME VALUE

# begin NAME: a receiver and a new target (a stream of its own, so that
# the receiver never sees what another case's receiver missed); $base is
# the module's records count at the start.
begin() {
	base=$(stat_of records)
	start_recv t1 "$T1" "$1"
	echo "add $T1" >"$SYS/targets"
}

# settle NAME: waits until the module took $base plus the records of the
# writer's expected file $WORK/NAME.exp and the receiver got every
# datagram, then removes the target and stops the receiver.
settle() {
	local name=$1 want
	want=$($RC --count "$WORK/$name.exp") || fail "$name: cannot count $WORK/$name.exp"
	wait_for 120 records_at_least $((base + want)) ||
		fail "$name: the module took $(($(stat_of records) - base)) records, want $want"
	wait_for 120 all_sent_received ||
		fail "$name: received $(dgrams_received) of $(stat_of datagrams) datagrams"
	echo "del $T1" >"$SYS/targets"
	stop_recv
}

# check NAME RECORDS LOSS_REPORTS [EXPECTED...]: the receiver's output is
# exactly what the writer's expected file (or the files named) hold.
check() {
	local name=$1 records=$2 losses=$3
	shift 3
	[ $# -gt 0 ] || set -- "$WORK/$name.exp"
	$RC --expected "$@" --got "$WORK/$name.raw" --records "$records" \
		--loss-reports "$losses" || fail "$name: the receiver's output differs"
}

load_module
host_ns t1 1
echo "capture ring test: $(nproc) CPUs, flush_us $(cat "$SYS/flush_us")"

# 1. The interface, refusals first.
"$RW" errors || fail "mmap interface (above)"
[ "$(stat_of rings_created)" -eq 1 ] || fail "rings_created $(stat_of rings_created), want 1"

# 2. Committed records; the writer exits, closes, is killed.
ring_base=$(stat_of ring_records)
aband=$(stat_of ring_abandoned)
begin exit
"$RW" --id 1 --records 3000 --msg-len 3000 --abandon-every 50 \
	--expected "$WORK/exit.exp" commit || fail "ringwriter commit (exit)"
settle exit
check exit 3000 60
stat_grew ring_records "$ring_base" 3000
stat_grew ring_abandoned "$aband" 60
echo "ok   3,000 records (60 abandoned: loss reports), the writer exited"

begin close
"$RW" --id 2 --records 2000 --msg-len 16304 --end close \
	--expected "$WORK/close.exp" commit || fail "ringwriter commit (close)"
settle close
check close 2000 0
echo "ok   2,000 records up to 16,304 bytes (the most a 64 KiB ring takes), the writer closed"

oversize=$(stat_of drop_oversize)
echo 1000 >"$SYS/max_record"
begin kill
"$RW" --id 3 --records 2000 --msg-len 1000 --oversize-every 25 --end kill \
	--size 1048576 --expected "$WORK/kill.exp" commit && fail "ringwriter was not killed"
echo 65536 >"$SYS/max_record"
settle kill
check kill 2000 80
stat_grew drop_oversize "$oversize" 80
echo "ok   2,000 records (80 over max_record: loss reports), the writer killed"

# 3. Killed with a frame reserved: its plaintext is lost, and said so.
aband=$(stat_of ring_abandoned)
begin reserved
"$RW" --id 4 --records 500 --expected "$WORK/reserved.exp" reserve-kill &&
	fail "ringwriter was not killed"
settle reserved
check reserved 501 1
stat_grew ring_abandoned "$aband" 1
echo "ok   a frame reserved at SIGKILL: reported lost with its bytes"

# 4. A full ring that the module cannot consume (a frame held reserved).
begin full
"$RW" --id 5 --records 200 --msg-len 4000 --expected "$WORK/full.exp" full ||
	fail "ringwriter full"
settle full
check full "$($RC --count "$WORK/full.exp")" 0
echo "ok   full ring: no room while held, every record after"

# A target's ring of 16 datagrams: the capture ring's records wait in it
# (the module takes none it cannot queue), none is dropped.
ring_full=$(stat_of drop_ring_full)
echo 64 >"$SYS/ring_kb"
begin backpressure
"$RW" --id 11 --records 1000 --msg-len 16000 --size 1048576 \
	--expected "$WORK/backpressure.exp" commit || fail "ringwriter commit (backpressure)"
settle backpressure
echo 4096 >"$SYS/ring_kb"
check backpressure 1000 0
stat_grew drop_ring_full "$ring_full" 0
echo "ok   1,000 records of up to 16,000 bytes through a 64 KiB target ring: all waited, none dropped"

# No target: every record is taken and counted dropped, none is kept.
no_target=$(stat_of drop_no_target)
ring_base=$(stat_of ring_records)
"$RW" --id 12 --records 500 --end kill commit && fail "ringwriter was not killed"
wait_for 30 stat_is drop_no_target $((no_target + 500)) ||
	fail "drop_no_target +$(stat_delta drop_no_target "$no_target"), want 500"
stat_grew ring_records "$ring_base" 0
echo "ok   no target: 500 ring records dropped and counted"

# 5. The module goes idle and is woken by the producer.
wakeups=$(stat_of ring_wakeups)
begin idle
"$RW" --id 6 --records 3 --expected "$WORK/idle.exp" idle-wake ||
	fail "ringwriter idle-wake"
settle idle
check idle 3 0
[ "$(stat_delta ring_wakeups "$wakeups")" -ge 3 ] ||
	fail "ring_wakeups +$(stat_delta ring_wakeups "$wakeups"), want at least 3"
echo "ok   idle module woken by the producer, records drained while it lived"

# 6. Threads, each with its own ring; fork.
created=$(stat_of rings_created)
begin threads
"$RW" --id 7 --threads 4 --records 1000 --expected "$WORK/threads.exp" threads ||
	fail "ringwriter threads"
settle threads
check threads 4000 0
stat_grew rings_created "$created" 4
echo "ok   four threads, four rings, 4,000 records"

begin fork
"$RW" --id 8 --records 400 --expected "$WORK/fork.exp" fork || fail "ringwriter fork"
settle fork
check fork 600 0
echo "ok   fork: the child has no mapping; the parent's 400 ring records and the child's 200 write()s arrive"

# 7. A scribbler beside an honest writer.
ended=$(stat_of rings_ended)
begin scribble
"$RW" --seed "$RANDOM" --seconds 20 scribble >"$WORK/scribble.out" 2>&1 &
scribbler=$!
"$RW" --id 9 --records 3000 --msg-len 8000 --expected "$WORK/scribble.exp" commit ||
	fail "ringwriter commit beside the scribbler"
wait "$scribbler" || fail "scribbler: $(cat "$WORK/scribble.out")"
cat "$WORK/scribble.out"
read -r _ _ rings _ by_us _ <"$WORK/scribble.out"
settle scribble
check scribble 3000 0
n=$(stat_delta rings_ended "$ended")
[ "$by_us" -ge 1 ] && [ "$n" -ge "$by_us" ] && [ "$n" -le "$rings" ] ||
	fail "rings_ended +$n, the scribbler saw $by_us of its $rings rings end"
dmesg | grep -o 'capture ring of pid [0-9]* ended at position [0-9]*: .*' >"$WORK/ended" ||
	fail "no ring ended in the kernel log"
sed 's/^[^:]*: //' "$WORK/ended" | sort | uniq -c
echo "ok   scribbler: $n of its $rings rings ended, the other writer intact"

# 8. The memory bound: all rings, a target's 1,024 pages included, at
# most a quarter of RAM; a 16 MiB ring takes 4,098 pages. The rings of a
# run are freed after its exit, by the worker: the next run may have to
# wait for them.
bound_is() { # WANT
	got=$("$RW" bound) || fail "ringwriter bound: $got"
	[ "$got" = "rings $1" ]
}
echo "add $T1" >"$SYS/targets"
limit=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 16))
want=$(((limit - 1024) / 4098))
wait_for 30 bound_is "$want" || fail "bound: $got, want rings $want (limit $limit pages)"
created=$(stat_of rings_created)
wait_for 30 bound_is "$want" || fail "bound again: $got: the rings were not given back"
stat_grew rings_created "$created" "$want"
echo "del $T1" >"$SYS/targets"
echo "ok   $want rings of 16 MiB, then ENOMEM; given back at exit"

# 9. Unloading right after a writer was killed: the ring drains first.
begin unload
"$RW" --id 10 --records 300 --expected "$WORK/unload.exp" reserve-kill &&
	fail "ringwriter was not killed"
wait_for 30 rmmod tlstap || fail "rmmod after the killed writer"
sleep 2
stop_recv
check unload 301 1
echo "ok   rmmod drained the ring of the killed writer"
