#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# libtlstap.so's capture rings into /dev/tlstap (docs/PROTOCOL.md 7), with
# real programs (Python's ssl through tests/host/hook/tlspeer.py, curl,
# openssl s_server), hooked with LD_PRELOAD and if = /dev/tlstap, and
# tlstap-recv in a namespace as the module's target (JSON lines: they name
# each record's writer). The cases of tests/host/hook-ring*.sh against
# tlstap-fwd, checked by the same checker (tests/host/hook/
# tlstap_records.py) against what the peers logged:
#  1. threads: a hooked client (4 threads, run as nobody with the device's
#     group) and a hooked server (a thread per connection): a ring per
#     thread, no record by write(); every record stamped by the module
#     with its ring creator's pid and uid;
#  2. fork: parent and child capture the session they share, each through
#     a ring of its own;
#  3. exec: the rings go with the old program (no descriptor of the hook
#     is left), the new program captures through new ones;
#  4. kill -9 with records committed to the ring and not yet consumed
#     (the client reads the positions where the hook mapped them): every
#     record arrives, drained when the ring's file is released;
#  5. a full 64 KiB ring (ring_kb = 64, the target's ring 64 KiB too, so
#     that the module drains slower than bursts of 300 KB fill it):
#     on_full = drop: bytes captured + bytes reported dropped == bytes the
#     program moved; on_full = block: every byte, the writer waits in
#     poll() (each returning POLLOUT, at most one per record: no spin);
#  6. steady state: curl downloading from openssl s_server -WWW, both
#     hooked, curl under strace: the hook's descriptors see far fewer
#     system calls than curl has records; with ring = no, one write() per
#     record;
#  7. a user who may only write to the device: no ring, records by
#     write().
# Covered elsewhere: death between reserve and commit (vm/capring.sh 3: a
# frame reserved at SIGKILL becomes a loss report), a hostile producer
# (vm/capring.sh 7, vm/stress.sh).
. "$TLSTAP_SRC/tests/lib/vm.sh"

HOOK=$TLSTAP_SRC/tests/host/hook
PY=/usr/bin/python3
PEER="$PY $HOOK/tlspeer.py"
RECORDS="$PY $HOOK/tlstap_records.py"
LIB=$TLSTAP_SRC/userhook/build/libtlstap.so
T1=10.77.1.2:7419
# The device's group (the installed udev rule's tlstap), and the user a
# hooked client runs as in case 1.
DEV_GID=7419
NOBODY=65534

# mark: the module's counters that a case's checks count from.
mark() {
	records=$(stat_of records)
	ring_records=$(stat_of ring_records)
	rings=$(stat_of rings_created)
}

# through_rings NAME RINGS: since mark, RINGS rings were made and every
# record the module took, $n of them, came through one.
through_rings() {
	n=$(stat_delta records "$records")
	[ "$(stat_delta rings_created "$rings")" -eq "$2" ] ||
		fail "$1: $(stat_delta rings_created "$rings") rings, want $2"
	[ "$(stat_delta ring_records "$ring_records")" -eq "$n" ] ||
		fail "$1: $(stat_delta ring_records "$ring_records") of $n records came through rings"
}

# begin NAME: a receiver (JSON lines in $WORK/NAME.json) and a new target.
begin() {
	start_recv t1 "$T1" "$1" json
	echo "add $T1" >"$SYS/targets"
}

# quiet: the module took no record between two looks and the receiver
# has every datagram it sent.
quiet_looks=0
quiet_last=-1
quiet() {
	local n
	n=$(stat_of records)
	if [ "$n" = "$quiet_last" ] && all_sent_received; then
		quiet_looks=$((quiet_looks + 1))
	else
		quiet_looks=0
	fi
	quiet_last=$n
	[ $quiet_looks -ge 1 ]
}
settle() { # NAME: the rings drained, everything received
	quiet_looks=0
	quiet_last=-1
	wait_for 120 quiet || fail "$1: the module did not settle: $(stat_of records) records"
}

# finish NAME: once settled, the target goes and the receiver stops.
finish() {
	settle "$1"
	echo "del $T1" >"$SYS/targets"
	stop_recv
}

# conf NAME LINE...: the hook's config $WORK/NAME.conf.
conf() {
	local name=$1 line
	shift
	{
		printf 'global:\n  if = /dev/tlstap\n'
		for line in "$@"; do
			printf '  %s\n' "$line"
		done
	} >"$WORK/$name.conf"
	chmod 644 "$WORK/$name.conf"
}

# waiting PATH: until the client says it waits for PATH (tlspeer.py).
waiting() {
	wait_for 120 test -e "$1.waiting" || fail "the client never got to $1"
}

# listening PORT: a TCP socket listens on 127.0.0.1:PORT (state 0A).
listening() {
	grep -q "^ *[0-9]*: 0100007F:$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp
}

# server NAME PORT HOOKED [ARG...]: tlspeer.py's server (HOOKED yes:
# through the hook with $WORK/NAME.conf), its pid in sp.
server() {
	local name=$1 port=$2 hooked=$3
	shift 3
	if [ "$hooked" = yes ]; then
		LD_PRELOAD=$LIB TLSTAP_CONF=$WORK/$name.conf $PEER server 127.0.0.1 \
			"$port" "$WORK/cert.pem" "$WORK/key.pem" "$WORK/$name.srv" "$@" \
			2>"$WORK/$name.srv.err" &
	else
		$PEER server 127.0.0.1 "$port" "$WORK/cert.pem" "$WORK/key.pem" \
			"$WORK/$name.srv" "$@" 2>"$WORK/$name.srv.err" &
	fi
	sp=$!
	BG_PIDS="$BG_PIDS $sp"
	wait_for 30 listening "$port" || fail "$name: the server did not listen"
}

# check NAME WHAT ARGS...: a tlstap_records.py check of $WORK/NAME.json.
check() {
	local name=$1 what=$2 out
	shift 2
	out=$($RECORDS "$what" "$WORK/$name.json" "$@") || fail "$name: $out"
	echo "$name: $out"
}

# Counts, from an strace log, the calls on the hook's descriptors (it
# keeps them at 100 and above, the programs here below): prints "calls
# polls wakes polls_returning_POLLOUT seconds_asleep_in_poll".
hook_calls() {
	awk '
	/^[0-9]+ +writev?\([0-9]+,/ { fd = $0; sub(/^[0-9]+ +writev?\(/, "", fd); kind = "write" }
	/^[0-9]+ +p?poll\(\[\{fd=[0-9]+,/ { fd = $0; sub(/^[0-9]+ +p?poll\(\[\{fd=/, "", fd); kind = "poll" }
	{
		if (kind == "")
			next
		sub(/,.*/, "", fd)
		k = kind
		kind = ""
		if (fd + 0 < 100)
			next
		calls++
		if (k == "write") {
			if ($0 ~ /\([0-9]+, NULL, 0\) += 0/)
				wakes++
			next
		}
		polls++
		if ($0 ~ /= 1 \(\[\{fd=[0-9]+, revents=POLLOUT\}\]\)/)
			pollout++
		if ($0 ~ /<[0-9.]+>$/) {
			t = $0
			sub(/.*</, "", t)
			slept += t
		}
	}
	END { printf "%d %d %d %d %.3f\n", calls, polls, wakes, pollout, slept }
	' "$1"
}

# tracee STRACE_LOG: the pid of the program strace ran (the first to call).
tracee() {
	local pid _
	read -r pid _ <"$1"
	echo "$pid"
}

load_module
host_ns t1 1
# The device root's and its group's, as the udev rule makes it.
chgrp "$DEV_GID" /dev/tlstap
chmod 0660 /dev/tlstap
chmod 755 "$WORK"
install -d -o "$NOBODY" -g "$NOBODY" "$WORK/nobody"
# nobody runs copies of the client and the library: a checkout under a
# private directory is out of its reach.
install -d -m 755 "$WORK/shared"
install -m 644 "$HOOK/tlspeer.py" "$LIB" "$WORK/shared/"
NOBODY_PEER="$PY $WORK/shared/tlspeer.py"
NOBODY_LIB=$WORK/shared/${LIB##*/}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 -subj /CN=localhost \
	>"$WORK/cert.log" 2>&1 || fail "cannot make a certificate"
echo "hook rings into /dev/tlstap: $(nproc) CPUs, flush_us $(cat "$SYS/flush_us")"

# 1. Threads: 4 client threads x 2 connections, the server a thread per
# connection: 12 threads, 12 rings.
mark
begin thr
conf thr "on_full = block"
server thr 8441 yes --conns 8
setpriv --reuid="$NOBODY" --regid="$NOBODY" --groups="$DEV_GID" \
	env LD_PRELOAD="$NOBODY_LIB" TLSTAP_CONF="$WORK/thr.conf" timeout 300 \
	$NOBODY_PEER client 127.0.0.1 8441 "$WORK/nobody/thr.cli" --sizes 3,70000,1000,17 \
	--threads 4 --conns-per-thread 2 >"$WORK/thr.log" 2>&1 ||
	fail "threads: client failed: $(tail -n1 "$WORK/thr.log")"
wait "$sp" || fail "threads: server failed: $(tail -n1 "$WORK/thr.srv.err")"
finish thr
check thr conns --server-pid "$sp" --server-port 8441 --addr 127.0.0.1 --conns 8 \
	--client-logs "$WORK/nobody/thr.cli" --server-logs "$WORK/thr.srv" \
	--writers --uid "$sp:0" --default-uid "$NOBODY"
through_rings threads 12
echo "[$SECONDS s] ok   threads: $n records through 12 rings, none by write(), stamped with their writers (uid 0 and $NOBODY)"

# 2. fork: the parent's session goes on in the child, which then opens
# its own; server threads 2, parent 1, child 1: 4 rings.
mark
begin fork
conf fork "on_full = block"
server fork 8442 yes --conns 2
LD_PRELOAD=$LIB TLSTAP_CONF=$WORK/fork.conf timeout 120 $PEER fork 127.0.0.1 8442 \
	"$WORK/fork.cli" >"$WORK/fork.log" 2>&1 ||
	fail "fork: client failed: $(tail -n1 "$WORK/fork.log")"
wait "$sp" || fail "fork: server failed: $(tail -n1 "$WORK/fork.srv.err")"
finish fork
check fork fork --server-pid "$sp" --logs "$WORK/fork.cli" --writers
through_rings fork 4
echo "[$SECONDS s] ok   fork: parent and child each through a ring of their own, $n records"

# 3. exec: a connection, execve(), another: a ring before, one after.
mark
begin exec
conf exec "on_full = block"
server exec 8443 no --conns 2
LD_PRELOAD=$LIB TLSTAP_CONF=$WORK/exec.conf timeout 120 $PEER exec 127.0.0.1 8443 \
	"$WORK/exec" >"$WORK/exec.log" 2>&1 || fail "exec: client failed: $(tail -n1 "$WORK/exec.log")"
wait "$sp" || fail "exec: server failed: $(tail -n1 "$WORK/exec.srv.err")"
finish exec
[ "$(cat "$WORK/exec.fds")" = "$(cat "$WORK/exec.fds0")" ] ||
	fail "exec: descriptors >= 100 $(cat "$WORK/exec.fds") after exec, $(cat "$WORK/exec.fds0") before any capture"
check exec exec --logs "$WORK/exec" --writers
through_rings exec 2
echo "[$SECONDS s] ok   exec: no descriptor of the hook survives it, a ring on each side, $n records"

# 4. kill -9. The module's tick is made a second long: records committed
# after one of its walks stay in the ring until the next. The client
# reads its ring's positions where the hook mapped them (PROTOCOL.md 7.1:
# prod_pos at the producer page, cons_pos at 64 in the first page), goes
# on until some bytes are not consumed yet, and SIGKILLs itself: the
# module drains them when the ring's file is released.
mark
echo 1000000 >"$SYS/flush_us"
begin kill
conf kill "on_full = block"
server kill 8444 no
cat >"$WORK/kill.py" <<'PY'
import argparse, ctypes, os, random, signal, sys
sys.path.insert(0, sys.argv[1])
import tlspeer

PAGE = os.sysconf("SC_PAGE_SIZE")


def pending():
    """Bytes published and not consumed yet in this process's one ring."""
    dev = [l.split() for l in open("/proc/self/maps") if l.rstrip().endswith(" /dev/tlstap")]
    at = {int(m[2], 16): int(m[0].split("-")[0], 16) for m in dev}
    if sorted(at) != [0, PAGE]:
        sys.exit(f"want one ring's two mappings, /proc/self/maps has {dev}")
    cons = ctypes.c_uint32.from_address(at[0] + 64).value
    prod = ctypes.c_uint32.from_address(at[PAGE]).value
    return (prod - cons) & 0xffffffff


a = argparse.Namespace(addr="127.0.0.1", port=int(sys.argv[2]), prefix=sys.argv[3],
                       sni="peer.test")
lg, tls = tlspeer.connect(a, tlspeer.client_ctx())
rng = random.Random(1)
tlspeer.rounds(lg, [100, 3000, 50000, 7, 20000], rng)
for _ in range(100):
    left = pending()
    if left:
        break
    tlspeer.rounds(lg, [10], rng)
with open(a.prefix + ".pending", "w") as f:
    f.write(f"{left}\n")
os.kill(os.getpid(), signal.SIGKILL)
PY
LD_PRELOAD=$LIB TLSTAP_CONF=$WORK/kill.conf $PY "$WORK/kill.py" "$HOOK" 8444 "$WORK/kill" \
	>"$WORK/kill.log" 2>&1 &
cp=$!
wait "$cp" 2>/dev/null && fail "kill: the client was not killed: $(tail -n1 "$WORK/kill.log")"
wait "$sp" || true	# its peer vanished
finish kill
echo 500 >"$SYS/flush_us"
left=$(cat "$WORK/kill.pending") || fail "kill: the client died early: $(tail -n1 "$WORK/kill.log")"
[ "$left" -gt 0 ] || fail "kill: the ring was always drained before the client's next look"
check kill one-side --pid "$cp" --logs "$WORK/kill" --writers --open-pid "$cp"
n=$(stat_delta records "$records")
[ "$(stat_delta ring_records "$ring_records")" -eq "$n" ] ||
	fail "kill: $(stat_delta ring_records "$ring_records") of $n records came through the ring"
echo "[$SECONDS s] ok   kill -9: $n records committed, $left bytes of them still in the ring at SIGKILL: all delivered"

# 5. Full rings. The target's ring of 64 KiB takes about one 16 KB record
# at a time: the module drains at most that much per walk, while a
# 300 KB write puts 19 records into the 64 KiB capture ring at once.
echo 64 >"$SYS/ring_kb"

# on_full = drop: the records that find no room are dropped and counted;
# before its last round the client waits until the module has drained
# the ring, so that the round's records carry the count.
begin drop
conf drop "on_full = drop" "ring_kb = 64"
server drop 8445 no
LD_PRELOAD=$LIB TLSTAP_CONF=$WORK/drop.conf $PEER client 127.0.0.1 8445 "$WORK/drop" \
	--sizes 10,300000,300000,300000,50 --wait-before-last "$WORK/drop.go" \
	>"$WORK/drop.log" 2>&1 &
cp=$!
BG_PIDS="$BG_PIDS $cp"
waiting "$WORK/drop.go"
settle drop
touch "$WORK/drop.go"
wait "$cp" || fail "drop: client failed: $(tail -n1 "$WORK/drop.log")"
wait "$sp" || fail "drop: server failed: $(tail -n1 "$WORK/drop.srv.err")"
finish drop
check drop one-side --pid "$cp" --logs "$WORK/drop" --accounted --writers

# on_full = block: every byte; the writer sleeps in poll() until half the
# ring is free, which POLLOUT says (one poll per wait: a writer that
# spins, in poll() or without it, fails the count).
ring_records=$(stat_of ring_records)
wakeups=$(stat_of ring_wakeups)
begin block
conf block "on_full = block" "ring_kb = 64"
server block 8446 no
strace -f -qq -T --seccomp-bpf -e trace=write,writev,poll,ppoll -e signal=none \
	-E LD_PRELOAD="$LIB" -E TLSTAP_CONF="$WORK/block.conf" -o "$WORK/block.strace" \
	$PEER client 127.0.0.1 8446 "$WORK/block" --sizes 10,300000,300000,10 \
	>"$WORK/block.log" 2>&1 || fail "block: client failed: $(tail -n1 "$WORK/block.log")"
wait "$sp" || fail "block: server failed: $(tail -n1 "$WORK/block.srv.err")"
finish block
echo 4096 >"$SYS/ring_kb"
check block one-side --pid "$(tracee "$WORK/block.strace")" --logs "$WORK/block" --writers
read -r calls polls wakes pollout slept <<<"$(hook_calls "$WORK/block.strace")"
n=$(stat_delta ring_records "$ring_records")
echo "block: $n ring records, $polls polls (${slept} s asleep in them), $wakes wake-ups ($(stat_delta ring_wakeups "$wakeups") counted by the module)"
[ "$polls" -ge 1 ] || fail "block: the writer never waited for room in poll()"
[ "$pollout" -eq "$polls" ] ||
	fail "block: $((polls - pollout)) of $polls polls returned without POLLOUT"
[ "$polls" -le "$n" ] || fail "block: $polls polls for $n records: the writer spins"
[ $((calls - polls - wakes)) -eq 0 ] ||
	fail "block: $((calls - polls - wakes)) writes on the hook's descriptors: records by write()"
echo "[$SECONDS s] ok   full 64 KiB rings: drop accounted for, block delivered everything and slept"

# 6. Steady state: curl downloads 4 MB from openssl s_server -WWW, both
# hooked, curl under strace: records back to back, through the ring and
# with ring = no.
mkdir "$WORK/www"
head -c 4000000 /dev/urandom >"$WORK/www/file.bin"
port=8447
for ring in yes no; do
	begin "sys$ring"
	conf "sys$ring" "on_full = block" "ring = $ring"
	rings=$(stat_of rings_created)
	# s_server -WWW serves files relative to its directory.
	(cd "$WORK/www" && LD_PRELOAD=$LIB TLSTAP_CONF=$WORK/sys$ring.conf exec openssl \
		s_server -WWW -quiet -accept "127.0.0.1:$port" -cert "$WORK/cert.pem" \
		-key "$WORK/key.pem") >"$WORK/sys$ring.srv.err" 2>&1 &
	sp=$!
	BG_PIDS="$BG_PIDS $sp"
	wait_for 30 listening $port || fail "sys$ring: s_server did not listen"
	strace -f -qq --seccomp-bpf -e trace=write,writev,poll,ppoll -e signal=none \
		-E LD_PRELOAD="$LIB" -E TLSTAP_CONF="$WORK/sys$ring.conf" \
		-o "$WORK/sys$ring.strace" curl -sSk -o "$WORK/sys$ring.out" \
		"https://127.0.0.1:$port/file.bin" >"$WORK/sys$ring.log" 2>&1 ||
		fail "syscalls: curl (ring = $ring) failed: $(tail -n1 "$WORK/sys$ring.log")"
	cmp -s "$WORK/sys$ring.out" "$WORK/www/file.bin" ||
		fail "syscalls: curl (ring = $ring) downloaded other bytes"
	kill "$sp"
	wait "$sp" || true	# SIGTERM
	finish "sys$ring"
	out=$($RECORDS exchange "$WORK/sys$ring.json" --server-pid "$sp" \
		--server-port $port --addr 127.0.0.1 --request "GET /file.bin HTTP/1.1" \
		--body "$WORK/www/file.bin" --writers) || fail "sys$ring: $out"
	echo "sys$ring: $out"
	n=$(echo "$out" | sed -n 's/.* in \([0-9]*\) records;.*/\1/p')
	read -r calls _ <<<"$(hook_calls "$WORK/sys$ring.strace")"
	echo "ring = $ring: curl $n records, $calls system calls on the hook's descriptors"
	[ "$n" -ge 200 ] || fail "syscalls: only $n records of curl (ring = $ring)"
	if [ $ring = yes ]; then
		[ $((calls * 20)) -le "$n" ] ||
			fail "syscalls: $calls system calls for $n records through a ring"
		[ "$(stat_delta rings_created "$rings")" -eq 2 ] ||
			fail "syscalls: $(stat_delta rings_created "$rings") rings, want curl's and s_server's"
	else
		[ "$calls" -ge "$n" ] ||
			fail "syscalls: ring = no made $calls calls for $n records: the count misses them"
		[ "$(stat_delta rings_created "$rings")" -eq 0 ] || fail "ring = no: a ring was made"
	fi
	port=$((port + 1))
done
echo "[$SECONDS s] ok   steady state: no system call per record through the ring"

# 7. A user who may write to the device but not read it (mode 0620) gets
# no ring (open(O_RDWR) fails with EACCES): its records go by write().
chmod 0620 /dev/tlstap
mark
begin wronly
conf wronly "on_full = block"
server wronly 8449 no
setpriv --reuid="$NOBODY" --regid="$NOBODY" --groups="$DEV_GID" \
	env LD_PRELOAD="$NOBODY_LIB" TLSTAP_CONF="$WORK/wronly.conf" \
	$NOBODY_PEER client 127.0.0.1 8449 "$WORK/nobody/wronly" --sizes 10,20000,300 \
	>"$WORK/wronly.log" 2>&1 &
cp=$!
wait "$cp" || fail "write-only: client failed: $(tail -n1 "$WORK/wronly.log")"
wait "$sp" || fail "write-only: server failed: $(tail -n1 "$WORK/wronly.srv.err")"
finish wronly
check wronly one-side --pid "$cp" --logs "$WORK/nobody/wronly" --writers \
	--default-uid "$NOBODY"
n=$(stat_delta records "$records")
stat_grew rings_created "$rings" 0
stat_grew ring_records "$ring_records" 0
echo "[$SECONDS s] ok   write-only device: no ring, $n records by write()"
