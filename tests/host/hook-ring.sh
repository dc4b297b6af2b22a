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
read -r ppid pport <"$T/fork.cli.parent"
read -r cpid cport <"$T/fork.cli.child"
$PY - "$HOOK_DIR" "$T" "$sp" "$ppid" "$pport" "$cpid" "$cport" \
	>"$T/fork.check" 2>&1 <<'PY' || fail "fork: $(tail -n1 "$T/fork.check")"
import sys
sys.path.insert(0, sys.argv[1])
import tlstap_records as tr
t = sys.argv[2]
sp, ppid, pport, cpid, cport = map(int, sys.argv[3:])
recs = tr.parse(f"{t}/fork.out")
try:
    tr.require({r.pid for r in recs} == {sp, ppid, cpid},
               f"pids {sorted({r.pid for r in recs})}, want server, parent, child")
    cli = tr.by_conn([r for r in recs if r.pid != sp])
    srv = tr.by_conn([r for r in recs if r.pid == sp])
    tr.require(len(cli) == 2 and len(srv) == 2, "want 2 connections on each side")
    for rs in cli.values():
        p = tr.local_port(rs)
        srs = [s for s in srv.values() if tr.remote_port(s) == p][0]
        for d, k in ((tr.WRITE, "sent"), (tr.READ, "got")):
            tr.require(tr.stream(rs, d) == tr.read_file(f"{t}/fork.cli.{p}.{k}"),
                       f"port {p}: client {k} differs from its capture")
        tr.require(tr.stream(rs, tr.WRITE) == tr.stream(srs, tr.READ), f"port {p}: c->s")
    tr.require(all(r.dropped == 0 for r in recs), "drops reported")
except tr.CheckFailed as e:
    print(e)
    raise SystemExit(1)
PY
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
LD_PRELOAD="$LIB" TLSTAP_CONF="$T/exec.conf" timeout 60 $PY - "$HOOK_DIR" \
	"$port" "$T" >"$T/exec.log" 2>&1 <<'PY' || fail "exec: $(tail -n1 "$T/exec.log")"
import os, runpy, sys
hook, port, t = sys.argv[1:]
with open(f"{t}/exec.fds0", "w") as f:
    f.write(str(sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) >= 100)))
sys.argv = ["tlspeer.py", "client", "127.0.0.1", port, f"{t}/exec.a", "--sizes", "100,5000"]
runpy.run_path(f"{hook}/tlspeer.py", run_name="__main__")
os.execv(sys.executable, [sys.executable, "-c", f"""
import os, runpy, sys
with open("{t}/exec.fds", "w") as f:
    f.write(str(sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) >= 100)))
sys.argv = ["tlspeer.py", "client", "127.0.0.1", "{port}", "{t}/exec.b", "--sizes", "300,7000"]
runpy.run_path("{hook}/tlspeer.py", run_name="__main__")
"""])
PY
wait "$sp" || fail "exec: server failed"
stop_fwd exec
# What the program inherited is all it has after exec: the hook's went.
[ "$(cat "$T/exec.fds")" = "$(cat "$T/exec.fds0")" ] ||
	fail "exec: descriptors >= 100 $(cat "$T/exec.fds") after exec, $(cat "$T/exec.fds0") before any capture"
[ "$(fwd_counter exec rings_created)" = 2 ] ||
	fail "exec: $(fwd_counter exec rings_created) rings, want 2"
[ "$(fwd_counter exec rings)" = 0 ] || fail "exec: a ring outlived its program"
$PY - "$HOOK_DIR" "$T" >"$T/exec.check" 2>&1 <<'PY' || fail "exec: $(tail -n1 "$T/exec.check")"
import glob, sys
sys.path.insert(0, sys.argv[1])
import tlstap_records as tr
t = sys.argv[2]
recs = tr.parse(f"{t}/exec.out")
try:
    tr.require(len({r.pid for r in recs}) == 1, "exec changed the pid?")
    for who in "ab":
        log = glob.glob(f"{t}/exec.{who}.*.sent")[0]
        port = int(log.split(".")[-2])
        mine = [r for r in recs if tr.local_port([r]) == port]
        tr.require(tr.stream(mine, tr.WRITE) == tr.read_file(log), f"{who}: WRITE differs")
        tr.require(tr.stream(mine, tr.READ) == tr.read_file(log[:-4] + "got"),
                   f"{who}: READ differs")
except tr.CheckFailed as e:
    print(e)
    raise SystemExit(1)
PY

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
	pid=$($PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import tlstap_records as tr
print(*{r.pid for r in tr.parse(sys.argv[2])})' "$HOOK_DIR" "$T/sys$ring.out")
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
	ASAN_OPTIONS=$FWD_ASAN_OPTIONS "$NFQ_BIN/tlstap-fwd" --"$kind" "$T/$kind.in" \
		--mode 0666 --port 0 --target 127.0.0.1:9 --print-target --stats-json \
		>"$T/$kind.targets" 2>"$T/$kind.fwd" &
	fp=$!
	BG_PIDS+=($fp)
	for _ in $(seq 100); do [ -e "$T/$kind.in" ] && break; sleep 0.05; done
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
