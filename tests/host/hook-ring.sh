#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Capture rings into tlstap-fwd --seqpacket, with tlstap-recv as the
# target (raw records), checked byte for byte against what the peers
# logged and against the other end's capture:
# - threads: every thread of a hooked client (and of the hooked server)
#   has a ring of its own; no record goes by write();
# - fork: parent and child both capture, the child through a ring of its
#   own (the parent's is not inherited: one more ring, and the child's
#   records carry the child's pid);
# - exec: the rings close on exec (no descriptor of the hook is left in
#   the new program) and the new program captures through new ones;
# - steady state: the descriptors of the hook see far fewer system calls
#   than there are records (strace), where ring = no writes one per record;
# - tlstap-fwd out of ring memory (ENOMEM) or keeping no rings
#   (EOPNOTSUPP): records by write();
# - ring = no, a datagram socket and a FIFO output: records by write(),
#   no ring.
. "$(dirname "$0")/hook/lib.sh"
. "$HOOK_DIR/fwd.sh"

make_cert
port=$(freeport)
conf() { # NAME IF [LINE...]
	local name=$1 out=$2
	shift 2
	{
		printf 'global:\n  if = %s\n  on_full = block\n' "$out"
		for line in "$@"; do
			printf '  %s\n' "$line"
		done
	} | write_conf "$T/$name.conf"
}

# --- threads: hooked client with 4 threads x 3 connections, hooked server.
start_fwd thr raw
conf thr "$T/thr.sock"
bg env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/thr.conf" $PEER server 127.0.0.1 \
	"$port" "$T/cert.pem" "$T/key.pem" "$T/thr.srv" --conns 12
sp=$BG_PID
wait_port "$port"
env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/thr.conf" timeout 120 $PEER client \
	127.0.0.1 "$port" "$T/thr.cli" --sizes 3,70000,1000,17 --threads 4 \
	--conns-per-thread 3 >"$T/thr.log" 2>&1 ||
	fail "threads: client failed: $(tail -n1 "$T/thr.log")"
wait "$sp" || fail "threads: server failed"
stop_fwd thr
out=$($RECORDS conns "$T/thr.out" --server-pid "$sp" --server-port "$port" \
	--addr 127.0.0.1 --conns 12 --client-logs "$T/thr.cli" \
	--server-logs "$T/thr.srv") || fail "threads: $out"
rings=$(fwd_counter thr rings_created)
[ "$rings" -ge 5 ] || fail "threads: $rings rings, want one per client thread and the server's"
[ "$(fwd_counter thr input_messages)" = 0 ] ||
	fail "threads: $(fwd_counter thr input_messages) records came by write()"
[ "$(fwd_counter thr ring_records)" = "$(fwd_counter thr records)" ] ||
	fail "threads: not every record came through a ring"

# --- fork: as hook-fork.sh, the parent's session goes on in the child.
start_fwd fork raw
conf fork "$T/fork.sock"
port=$(freeport)
bg env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/fork.conf" $PEER server 127.0.0.1 \
	"$port" "$T/cert.pem" "$T/key.pem" "$T/fork.srv" --conns 2
sp=$BG_PID
wait_port "$port"
LD_PRELOAD="$LIB" TLSTAP_CONF="$T/fork.conf" timeout 60 $PEER fork 127.0.0.1 \
	"$port" "$T/fork.cli" >"$T/fork.log" 2>&1 ||
	fail "fork: client failed: $(tail -n1 "$T/fork.log")"
wait "$sp" || fail "fork: server failed"
stop_fwd fork
out=$($RECORDS fork "$T/fork.out" --server-pid "$sp" --logs "$T/fork.cli") ||
	fail "fork: $out"
# The server's two threads (one per connection), the parent's, the child's.
[ "$(fwd_counter fork rings_created)" = 4 ] ||
	fail "fork: $(fwd_counter fork rings_created) rings, want 4 (server threads, parent, child)"
[ "$(fwd_counter fork input_messages)" = 0 ] || fail "fork: records came by write()"

# --- exec: a hooked Python program captures (a client session of its
# own), then executes another that lists its descriptors >= 100 before
# its first TLS call (what the first had before its own), then captures.
start_fwd exec raw
conf exec "$T/exec.sock"
port=$(freeport)
bg $PEER server 127.0.0.1 "$port" "$T/cert.pem" "$T/key.pem" "$T/exec.srv" --conns 2
sp=$BG_PID
wait_port "$port"
LD_PRELOAD="$LIB" TLSTAP_CONF="$T/exec.conf" timeout 60 $PEER exec 127.0.0.1 \
	"$port" "$T/exec" >"$T/exec.log" 2>&1 || fail "exec: $(tail -n1 "$T/exec.log")"
wait "$sp" || fail "exec: server failed"
stop_fwd exec
# What the program inherited is all it has after exec: the hook's went.
[ "$(cat "$T/exec.fds")" = "$(cat "$T/exec.fds0")" ] ||
	fail "exec: descriptors >= 100 $(cat "$T/exec.fds") after exec, $(cat "$T/exec.fds0") before any capture"
[ "$(fwd_counter exec rings_created)" = 2 ] ||
	fail "exec: $(fwd_counter exec rings_created) rings, want 2"
[ "$(fwd_counter exec rings)" = 0 ] || fail "exec: a ring outlived its program"
out=$($RECORDS exec "$T/exec.out" --logs "$T/exec") || fail "exec: $out"

# --- steady state: the system calls on the hook's own descriptors (at
# 100 and above) while a client writes 3,000 records through its ring,
# and through write() with ring = no.
port=$(freeport)
bg $PEER server 127.0.0.1 "$port" "$T/cert.pem" "$T/key.pem" "$T/sys.srv" --conns 2
sp=$BG_PID
wait_port "$port"
sizes=$($PY -c 'print(",".join(["200"] * 1000))')
for ring in yes no; do
	start_fwd "sys$ring" raw
	conf "sys$ring" "$T/sys$ring.sock" "ring = $ring"
	TLSTAP_CONF=$T/sys$ring.conf LD_PRELOAD="$LIB" timeout 120 strace -f -qq \
		-e trace=write,writev,send,sendto,sendmsg,poll,recvfrom,recvmsg \
		-e signal=none -o "$T/sys$ring.strace" $PEER client 127.0.0.1 \
		"$port" "$T/sys$ring.cli" --sizes "$sizes" >"$T/sys$ring.log" 2>&1 ||
		fail "syscalls: client (ring = $ring) failed: $(tail -n1 "$T/sys$ring.log")"
	stop_fwd "sys$ring"
	records=$(fwd_counter "sys$ring" records)
	calls=$(grep -c -E '^[0-9]+ +[a-z]+\((1[0-9][0-9]|[2-9][0-9][0-9]|[0-9]{4,}),' \
		"$T/sys$ring.strace" || true)
	echo "ring = $ring: $records records, $calls system calls on the hook's descriptors"
	[ "$records" -ge 3000 ] || fail "syscalls: only $records records (ring = $ring)"
	if [ $ring = yes ]; then
		[ $((calls * 20)) -le "$records" ] ||
			fail "syscalls: $calls system calls for $records records through a ring"
		[ "$(fwd_counter sysyes input_messages)" = 0 ] || fail "syscalls: records by write()"
	else
		[ "$calls" -ge "$records" ] ||
			fail "syscalls: ring = no made $calls calls for $records records: the count misses them"
		[ "$(fwd_counter sysno rings_created)" = 0 ] || fail "ring = no: a ring was made"
	fi
	pid=$($RECORDS pids "$T/sys$ring.out")
	out=$($RECORDS one-side "$T/sys$ring.out" --pid "$pid" --logs "$T/sys$ring.cli") ||
		fail "syscalls (ring = $ring): $out"
done
wait "$sp" || fail "syscalls: server failed"

# --- tlstap-fwd refuses rings: over its memory bound (ENOMEM: the
# writer tries again later, writing meanwhile), or none at all
# (--ring-memory 0, EOPNOTSUPP): every record arrives by write().
for mem in 4096 0; do
	start_fwd "mem$mem" raw --ring-memory "$mem"
	conf "mem$mem" "$T/mem$mem.sock"
	port=$(freeport)
	bg $PEER server 127.0.0.1 "$port" "$T/cert.pem" "$T/key.pem" "$T/mem$mem.srv"
	sp=$BG_PID
	wait_port "$port"
	env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/mem$mem.conf" $PEER client \
		127.0.0.1 "$port" "$T/mem$mem.cli" --sizes 10,20000,300 \
		>"$T/mem$mem.log" 2>&1 &
	cp=$!
	wait "$cp" || fail "ring-memory $mem: client failed: $(tail -n1 "$T/mem$mem.log")"
	wait "$sp" || fail "ring-memory $mem: server failed"
	stop_fwd "mem$mem"
	out=$($RECORDS one-side "$T/mem$mem.out" --pid "$cp" --logs "$T/mem$mem.cli") ||
		fail "ring-memory $mem: $out"
	[ "$(fwd_counter "mem$mem" rings_created)" = 0 ] || fail "ring-memory $mem: a ring was made"
	[ "$(fwd_counter "mem$mem" input_messages)" -ge 6 ] ||
		fail "ring-memory $mem: the records did not come by write()"
done
grep -q 'capture ring of 1048576 bytes refused: Cannot allocate memory' "$T/mem4096.fwd" ||
	fail "ring-memory 4096: the refusal was not logged"

# --- a datagram socket and a FIFO keep write(): no ring.
for kind in unix fifo; do
	rm -f "$T/$kind.in"
	ASAN_OPTIONS=$FWD_ASAN_OPTIONS "$FWD_BIN/tlstap-fwd" --"$kind" "$T/$kind.in" \
		--mode 0666 --port 0 --target 127.0.0.1:9 --print-target --stats-json \
		>"$T/$kind.targets" 2>"$T/$kind.fwd" &
	fp=$!
	BG_PIDS+=("$fp")
	wait_path 5 "$T/$kind.in" ||
		fail "tlstap-fwd --$kind did not start: $(tail -n 3 "$T/$kind.fwd")"
	conf "$kind" "$T/$kind.in"
	port=$(freeport)
	bg $PEER server 127.0.0.1 "$port" "$T/cert.pem" "$T/key.pem" "$T/$kind.srv"
	sp=$BG_PID
	wait_port "$port"
	TLSTAP_CONF=$T/$kind.conf LD_PRELOAD="$LIB" timeout 60 $PEER client \
		127.0.0.1 "$port" "$T/$kind.cli" --sizes 10,20000 >"$T/$kind.log" 2>&1 ||
		fail "$kind: client failed: $(tail -n1 "$T/$kind.log")"
	wait "$sp" || fail "$kind: server failed"
	settle "$T/$kind.targets"
	kill -TERM $fp
	wait $fp || fail "$kind: tlstap-fwd failed: $(tail -n3 "$T/$kind.fwd")"
	n=$(grep -c '^target=' "$T/$kind.targets" || true)
	[ "$n" -ge 4 ] || fail "$kind: tlstap-fwd saw $n records"
	grep -q '"rings_created":0' "$T/$kind.fwd" || fail "$kind: a ring was made"
	[ "$(fwd_counter "$kind" input_messages)" -ge 1 ] || [ $kind = fifo ] ||
		fail "$kind: no record came by write()"
done
echo "PASS $TEST_NAME"
