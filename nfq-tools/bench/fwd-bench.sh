#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-fwd throughput and CPU per record at 256 B, 1 KiB, 16 KiB and
# 64 KiB records (plaintext size), in a private network namespace whose
# target route goes to a veth whose peer is down (the datagrams are built,
# handed to the device and freed there: the sender's whole cost, no
# receiver's; GSO batches reach the device unsegmented, as with a NIC that
# has UDP segmentation offload). Input: records on stdin (a pipe), written
# by this script from a prepared block of 1000 flows on the other core; the
# CPU figure is tlstap-fwd's own (wait4 rusage), the writer's is not in it.
# Nobody NACKs here: no heartbeats and no lingering at the end of input,
# so that the wall time is the sending's.
# INPUT=seqpacket: the records go one per message into tlstap-fwd
# --seqpacket instead, as libtlstap.so sends them (one blocking send per
# record, from a writer pinned to the other CPU; tlstap-fwd polls its
# input while records flow, --poll-us default).
# Usage: nfq-tools/bench/fwd-bench.sh (as root); INPUT=stdin|seqpacket
set -eu
INPUT=${INPUT:-stdin}
case $INPUT in stdin|seqpacket) ;; *) echo "fwd-bench.sh: INPUT is stdin or seqpacket" >&2; exit 1 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
# shellcheck source=bench/lib/netns.sh
. "$SRC/bench/lib/netns.sh"
make -s -C "$SRC/fwd"
BIN=$SRC/fwd/build
NS="tlstap-bench-$$"
SOCK=$(mktemp -u /tmp/fwd-bench.XXXXXX)
trap 'ip netns del "$NS" 2>/dev/null; rm -f "$SOCK"' EXIT
sender_ns "$NS"
blackhole_target "$NS"

python3 - "$SRC" "$BIN" "$NS" "$INPUT" "$SOCK" <<'PY'
import json, os, socket, subprocess, sys, time
sys.path.insert(0, sys.argv[1] + "/tests/host/nfq")
import tlstap_ref as ref
src, bins, ns, kind, sock = sys.argv[1:6]
# (plaintext size, records): about a second or more each.
cases = [(256, 2000000), (1024, 1000000), (16384, 100000), (65536, 25000)]
if kind == "seqpacket":   # a Python writer sends fewer records a second
    cases = [(s, n // 4000 * 1000) for s, n in cases]
    os.sched_setaffinity(0, {0})
print("| record | records | records/s | MB/s in | CPU us/record (user+sys) | datagrams/record | GSO sends |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for size, n in cases:
    msg = os.urandom(size)
    recs = [
        ref.record(1, 1 + i % 2, 4, 443 if i % 2 else 40000 + i, 40000 + i if i % 2 else 443,
                   msg, 1000, ref.addr_bytes(4, "10.0.%d.%d" % (i // 250, i % 250 + 1)),
                   ref.addr_bytes(4, "192.0.2.1"), i, i + 1, 0) for i in range(1000)]
    block = b"".join(recs)
    inp = ["--stdin"] if kind == "stdin" else ["--seqpacket", sock]
    pin = [] if kind == "stdin" else ["taskset", "-c", "1"]
    p = subprocess.Popen(pin + ["ip", "netns", "exec", ns,
                          bins + "/tlstap-fwd"] + inp +
                         ["--target", "10.99.0.2:7419", "--hash-key", "00" * 16,
                          "--stats-json", "--heartbeat-ms", "0", "--linger-ms", "0"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)   # let `ip netns exec` and startup finish first
    t0 = time.monotonic()
    if kind == "stdin":
        for _ in range(n // 1000):
            p.stdin.write(block)
        p.stdin.close()
    else:
        w = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        w.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        w.connect(sock)
        for _ in range(n // 1000):
            for r in recs:
                w.send(r)
        w.close()
        # SIGTERM: tlstap-fwd reads what is still queued, sends it, exits.
        p.terminate()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    assert status == 0, err
    cpu = ru.ru_utime + ru.ru_stime
    st = json.loads([l for l in err.decode().splitlines() if l.startswith("{")][-1])
    assert st["records"] == n and st["dropped_datagrams"] == 0 and not st["send_errors"], st
    print("| %d B | %d | %.0f | %.0f | %.2f | %.2f | %d |" % (
        size, n, n / wall, n * (72 + size) / wall / 1e6, cpu / n * 1e6,
        st["datagrams"] / n, st["targets"][0]["gso_sends"]))
PY
