#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The receivers' records/s and CPU per record: tlstap-recv (UDP socket)
# against tlstap-nfq (NFQUEUE, its own rule, drop verdict), each writing
# JSON lines, pcapng (one file, or rotated every 10 MB) or frames onto a
# TAP interface, for 1 KiB and 16 KiB records. tlstap-fwd (stdin,
# from a prepared block of 1000 flows) sends to the receiver in another
# namespace over a veth; the run ends when the receiver has output every
# record. Figures: records/s from the first record written to the last
# one counted by the receiver, and the receiver's own CPU time (wait4
# rusage, user + system) per record. Not in it: the kernel's work in
# softirq (UDP receive, or NFQUEUE's copy into netlink), charged to
# whichever process was running. NACKs and retransmissions are counted
# (a receiver slower than the sender loses datagrams to its socket or
# queue and gets them again); records not output (given up, LOST) are
# reported per round.
# Usage: nfq-tools/bench/nfq-bench.sh [ROUNDS] (as root); medians.
. "$(dirname "$0")/../../tests/host/nfq/lib.sh"
ROUNDS=${1:-3}
{ make -s -C "$SRC/nfq-tools" && make -s -C "$SRC/fwd"; } >"$TMP/build.log" 2>&1 ||
	fail "build failed: $(tail -n 3 "$TMP/build.log")"
setup_topology 1

python3 - "$SRC" "$SRC/nfq-tools/build" "$(ns S)" "$(ns R1)" "$TMP" "$ROUNDS" <<'PY'
import json, os, signal, statistics, subprocess, sys, time
src, bins, ns_s, ns_r, tmp, rounds = sys.argv[1:7]
sys.path.insert(0, src + "/tests/host/nfq")
import tlstap_ref as ref

def last_json(text, key):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            v = json.loads(line)
            if key in v:
                return v
    raise SystemExit("no counters: " + text[-300:])

def output_args(out):
    """The receiver's output options for one of OUTPUTS; a clean slate."""
    if out == "tap":
        return ["--output", "tap:tlstapbench"]
    if out == "pcapng-rotated":
        ring = tmp + "/ring"
        subprocess.run(["rm", "-rf", ring], check=True)
        os.mkdir(ring)
        return ["--output", "pcapng", "--out", ring + "/bench.pcapng",
                "--rotate-size", "10", "--rotate-files", "4"]
    path = "%s/bench.%s" % (tmp, out)
    if os.path.exists(path):
        os.unlink(path)
    return ["--output", out, "--out", path]

def run(kind, out, size, n):
    common = output_args(out) + ["--stats-json", "--max-pending", str(256 << 20)]
    if kind == "tlstap-recv":
        cmd = [bins + "/tlstap-recv", "--listen", "10.77.1.2:7419", "--rcvbuf",
               str(256 << 20)] + common
    else:
        cmd = [bins + "/tlstap-nfq", "--install-rule", "--queue-maxlen", "65536",
               "--rcvbuf", str(256 << 20)] + common
    err = open("%s/recv.err" % tmp, "w+")
    rcv = subprocess.Popen(["ip", "netns", "exec", ns_r] + cmd, stderr=err)
    for _ in range(100):
        if kind == "tlstap-recv" or subprocess.run(
                ["ip", "netns", "exec", ns_r, "nft", "list", "table", "inet", "tlstap"],
                capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    msg = os.urandom(size)
    block = b"".join(
        ref.record(1, 1 + i % 2, 4, 443 if i % 2 else 40000 + i, 40000 + i if i % 2 else 443,
                   msg, 1000, ref.addr_bytes(4, "10.0.%d.%d" % (i // 250, i % 250 + 1)),
                   ref.addr_bytes(4, "192.0.2.1"), i, i + 1, 0) for i in range(1000))
    fwd = subprocess.Popen(["ip", "netns", "exec", ns_s, src + "/fwd/build/tlstap-fwd", "--stdin",
                            "--target", "10.77.1.2:7419", "--hash-key", "00" * 16,
                            "--replay-bytes", str(256 << 20), "--stats-json"],
                           stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    t0 = time.monotonic()
    for _ in range(n // 1000):
        fwd.stdin.write(block)
    fwd.stdin.close()
    # Until the receiver has output every record, or nothing moved for 3 s
    # (records lost for good, with an end that cannot be known).
    got, t1, last, still = 0, None, -1, 0
    while still < 60:
        os.kill(rcv.pid, signal.SIGUSR1)   # ip netns exec became the receiver
        time.sleep(0.05)
        err.seek(0)
        text = err.read()
        if not any(l.startswith("{") for l in text.splitlines()):
            continue
        st = last_json(text, "reasm") if kind == "tlstap-nfq" else last_json(text, "records")
        core = st["reasm"] if kind == "tlstap-nfq" else st
        got = core["records"] + core["lost_records"]
        if got >= n:
            t1 = time.monotonic()
            break
        still = still + 1 if got == last else 0
        last = got
    fwd_err = fwd.stderr.read().decode()
    fwd.wait()
    os.kill(rcv.pid, signal.SIGTERM)
    _, status, ru = os.wait4(rcv.pid, 0)
    assert status == 0, "receiver status %d" % status
    err.seek(0)
    text = err.read()
    st = last_json(text, "reasm") if kind == "tlstap-nfq" else last_json(text, "records")
    core = st["reasm"] if kind == "tlstap-nfq" else st
    f = last_json(fwd_err, "records")
    if t1 is None:
        t1 = time.monotonic() - 3
    return {"rps": n / (t1 - t0), "cpu_us": 1e6 * (ru.ru_utime + ru.ru_stime) / n,
            "nacks": core["nacks_sent"], "rtx": f["retransmits"],
            "lost": n - core["records"]}

# pcapng-rotated: a new file every 10 MB, the 4 newest kept; tap: frames
# onto a TAP interface the receiver makes, with no listener on it (every
# frame written, then dropped by its nft table).
OUTPUTS = ("json", "pcapng", "pcapng-rotated", "tap")
print("| receiver | output | record | records | records/s | receiver CPU us/record | NACKs | retransmissions | records not output |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
# No more records than the receiver's socket buffer or queue (256 MiB,
# 65536 packets) holds while it catches up with the unpaced sender (about
# 31,000 and 36,000 datagrams): what is measured is the receiver's pace,
# not how it recovers from overflowing its buffer (see rel-bench.sh).
for size, n in ((1024, 40000), (16384, 3000)):   # whole blocks of 1000
    for kind in ("tlstap-recv", "tlstap-nfq"):
        # Rounds alternate the outputs: the host's load drifts.
        res = {out: [] for out in OUTPUTS}
        for _ in range(int(rounds)):
            for out in OUTPUTS:
                res[out].append(run(kind, out, size, n))
        for out in OUTPUTS:
            rs = res[out]
            med = lambda k: statistics.median(r[k] for r in rs)
            print("| %s | %s | %d B | %d | %.0f | %.2f | %d | %d | %s |" % (
                kind, out, size, n, med("rps"), med("cpu_us"), med("nacks"),
                med("rtx"), "/".join(str(r["lost"]) for r in rs)), flush=True)
print("(medians of %s rounds; records not output per round)" % rounds)
PY
