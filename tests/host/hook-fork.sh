#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A hooked Python client handshakes and talks, then forks: the child goes
# on with the same TLS session and ends it, then opens one of its own.
# The inherited session keeps its connection id across both pids, each
# record carries the pid that wrote it, the child's new session gets an id
# from a prefix of its own (never one its parent could hand out), and the
# first session's records, across both processes, equal what the client
# logged and the (hooked) server captured, in order; the parent writes
# its OPEN and, freeing it at the end, its CLOSE. Then vfork()
# children (subprocess) that close every descriptor: the program keeps
# its output descriptor and loses nothing.
. "$(dirname "$0")/hook/lib.sh"

start_capture
export TLSTAP_CONF=$T/tlstap.conf
port=$(freeport)
bg env LD_PRELOAD="$LIB" $PEER server 127.0.0.1 "$port" "$T/cert.pem" \
	"$T/key.pem" "$T/srv" --conns 2
sp=$BG_PID
sport=$(freeport)
bg $PEER server 127.0.0.1 "$sport" "$T/cert.pem" "$T/key.pem" "$T/ssrv"
wait_port "$port"
wait_port "$sport"
LD_PRELOAD="$LIB" timeout 60 $PEER fork 127.0.0.1 "$port" "$T/cli" \
	>"$T/cli.log" 2>&1 || fail "client failed: $(tail -n1 "$T/cli.log")"
wait "$sp" || fail "server failed"
stop_reader "$READER_PID"
read -r ppid pport <"$T/cli.parent"
read -r cpid cport <"$T/cli.child"

$PY - "$HOOK_DIR" "$T" "$sp" "$ppid" "$pport" "$cpid" "$cport" "$port" \
	>"$T/check.log" 2>&1 <<'PY' || fail "$(tail -n1 "$T/check.log")"
import sys
sys.path.insert(0, sys.argv[1])
import tlstap_records as tr
t = sys.argv[2]
sp, ppid, pport, cpid, cport, port = map(int, sys.argv[3:])
recs = tr.parse(f"{t}/rec")
try:
    srv = tr.by_conn([r for r in recs if r.pid == sp])
    cli = tr.by_conn([r for r in recs if r.pid != sp])
    tr.require({r.pid for r in recs} == {sp, ppid, cpid},
               f"pids {sorted({r.pid for r in recs})}, want server, parent, child")
    tr.require(len(cli) == 2 and len(srv) == 2, "want 2 connections on each side")
    first = [c for c, rs in cli.items() if tr.local_port(rs) == pport]
    second = [c for c, rs in cli.items() if tr.local_port(rs) == cport]
    tr.require(len(first) == 1 and len(second) == 1, "connections not found by port")
    first, second = first[0], second[0]
    tr.require({r.pid for r in cli[first]} == {ppid, cpid},
               "the inherited session's id is not used by both parent and child")
    tr.require({r.pid for r in cli[second]} == {cpid}, "the child's session has other pids")
    tr.require(second >> 32 != first >> 32,
               "the child's new session reuses the parent's id prefix")
    # Order: the parent's round, then the child's rounds and end.
    pids = [r.pid for r in tr.data(cli[first])]
    k = pids.index(cpid)
    tr.require(k > 0 and set(pids[:k]) == {ppid} and set(pids[k:]) == {cpid},
               f"unexpected writer order {pids}")
    # The parent opened the inherited connection and, once the child was
    # done with it, freed the session: its OPEN and CLOSE. The child's
    # own connection opened; the child left with _exit(): no CLOSE.
    ends = [(r.type, r.pid) for r in cli[first] if r.type != tr.TYPE_DATA]
    tr.require(ends == [(tr.TYPE_OPEN, ppid), (tr.TYPE_CLOSE, ppid)],
               f"inherited connection: OPEN and CLOSE {ends}")
    tr.lifecycle(recs, open_pids=(cpid,))
    for cid, p in ((first, pport), (second, cport)):
        rs = cli[cid]
        srs = [s for s in srv.values() if tr.remote_port(s) == p][0]
        tr.check_flow(rs, f"client:{p}", ("127.0.0.1", p), ("127.0.0.1", port))
        for d, k in ((tr.WRITE, "sent"), (tr.READ, "got")):
            tr.require(tr.stream(rs, d) == tr.read_file(f"{t}/cli.{p}.{k}"),
                       f"port {p}: client {k} differs from its capture")
        tr.require(tr.stream(rs, tr.WRITE) == tr.stream(srs, tr.READ), f"port {p}: c->s")
        tr.require(tr.stream(rs, tr.READ) == tr.stream(srs, tr.WRITE), f"port {p}: s->c")
    tr.require(all(r.dropped == 0 for r in recs), "drops reported")
except tr.CheckFailed as e:
    print(e)
    raise SystemExit(1)
PY

# vfork() children (Python's subprocess, posix_spawn) share the memory of
# the hooked program and close every descriptor of their own: the program
# keeps its one output descriptor (no leak, no reopening) and loses
# nothing.
start_reader dgram "$T/rec2.sock" "$T/rec2"
write_conf "$T/spawn.conf" <<CONF
global:
  if = $T/rec2.sock
  on_full = block
CONF
env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/spawn.conf" $PEER client 127.0.0.1 \
	"$sport" "$T/spawn" --sizes 100,2000 --spawn 20 >"$T/spawn.log" 2>&1 &
cp=$!
wait "$cp" || fail "spawning client failed: $(tail -n1 "$T/spawn.log")"
{ read -r before; read -r after; } <"$T/spawn.fds"
[ "$before" = "$after" ] ||
	fail "descriptors >= 100 before and after the vfork children: $before, $after"
stop_reader "$READER_PID"
out=$($RECORDS one-side "$T/rec2" --pid "$cp" --logs "$T/spawn") || fail "spawn: $out"
echo "PASS $TEST_NAME"
