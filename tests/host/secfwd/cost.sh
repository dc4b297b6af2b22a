#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# What the Secure Forward costs, against tlstap-fwd on the application
# host sending plaintext UDP itself. Not a test (run by hand, as root):
#   tests/host/secfwd/cost.sh [ROUNDS]
# Hosts as in secure-forward.sh (lib.sh). bench/writebench in app writes
# COUNT records of SIZE bytes of plaintext, one per datagram, blocking,
# to
#   direct  tlstap-fwd --unix in app, UDP routed through gw to ids;
#   secfwd  socat -> ssh -R -> sshd -> socat -> tlstap-fwd --stdin in gw.
# ids runs tlstap-recv --output raw into /dev/null. A run ends when
# the sending tlstap-fwd's I/O counters stop moving. Per run: records/s
# over the whole chain, the writer's send() latency, and the CPU time per
# record of every process of app and gw (utime + stime from /proc,
# grouped by name). Prints one line per run and the medians per mode and
# size. Variants alternate within each round (runs vary from one to the
# next on a shared machine).
LIFETIME=3600
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}

for dir in fwd nfq-tools bench; do
	make -s -C "$SRC/$dir" >"$D/build-$dir.log" 2>&1 ||
		fail "building $dir: $(tail -n 2 "$D/build-$dir.log" | tr '\n' ' ')"
done
FWD=$SRC/fwd/build/tlstap-fwd
RECV=$SRC/nfq-tools/build/tlstap-recv
WB=$SRC/bench/writebench

setup_hosts
setup_keys
# The direct variant's UDP crosses gw as a router.
ip -n "$APP" route add 10.78.2.0/24 via 10.78.1.2 &&
	ip -n "$IDS" route add 10.78.1.0/24 via 10.78.2.1 &&
	ip netns exec "$GW" sysctl -q -w net.ipv4.ip_forward=1 || fail "routes"

bg recv "$IDS" timeout "$LIFETIME" "$RECV" --listen 10.78.2.2:7419 \
	--output raw --out /dev/null
wait_until "tlstap-recv does not listen" recv.err listens "$IDS" u 7419

start_sshd
start_bridge
start_ssh
start_gw_forwarder "$FWD" --target 10.78.2.2:7419
(umask 177 && exec ip netns exec "$APP" timeout "$LIFETIME" "$FWD" \
	--unix "$D/app/direct.sock" --target 10.78.2.2:7419) \
	>"$D/direct.out" 2>"$D/direct.err" &
BG_PIDS+=("$!")
wait_until "tlstap-fwd --unix did not start" direct.err test -S "$D/app/direct.sock"

"$PY" - "$D" "$APP" "$GW" "$WB" "$ROUNDS" <<'PY'
import os, statistics, subprocess, sys, time

d, app, gw, wb, rounds = sys.argv[1:6]
tick = os.sysconf("SC_CLK_TCK")
# (size, records): a few seconds per run on a 2-core machine.
cases = [(256, 200000), (1024, 200000), (16384, 20000)]
modes = {"direct": (app, f"{d}/app/direct.sock"),
         "secfwd": (gw, f"{d}/app/hook.sock")}


def pids(ns):
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                         text=True, check=True).stdout
    return [int(p) for p in out.split()]


def cpu(ns):
    """CPU ticks per process name in namespace ns."""
    by_name = {}
    for pid in pids(ns):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        by_name[name] = by_name.get(name, 0) + int(fields[11]) + int(fields[12])
    return by_name


def fwd_pid(ns):
    for pid in pids(ns):
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() == "tlstap-fwd":
                return pid
    sys.exit(f"no tlstap-fwd in {ns}")


def settle(pid):
    """Waits until the process's I/O counters stay put for 200 ms; returns
    the time they last changed."""
    last, since = None, time.monotonic()
    while True:
        with open(f"/proc/{pid}/io") as f:
            io = f.read()
        now = time.monotonic()
        if io != last:
            last, since = io, now
        elif now - since >= 0.2:
            return since
        time.sleep(0.01)


results = {}
for rnd in range(int(rounds)):
    for size, count in cases:
        for mode, (fwd_ns, sock) in modes.items():
            before = {ns: cpu(ns) for ns in (app, gw)}
            t0 = time.monotonic()
            wbout = subprocess.run(["ip", "netns", "exec", app, wb, sock,
                                    str(size), str(count)],
                                   capture_output=True, text=True, check=True).stdout
            t1 = settle(fwd_pid(fwd_ns))
            after = {ns: cpu(ns) for ns in (app, gw)}
            fig = {"rec_per_s": count / (t1 - t0),
                   "MB_per_s": count * size / (t1 - t0) / 1e6}
            wbf = dict(kv.split("=") for kv in wbout.split())
            fig["send_p50_ns"] = int(wbf["write_ns_p50"])
            for host, ns in (("app", app), ("gw", gw)):
                for name, t in after[ns].items():
                    used = t - before[ns].get(name, 0)
                    if name == "writebench" or used <= 0:
                        continue
                    fig[f"{host}:{name}_us"] = used / tick * 1e6 / count
            print(f"round {rnd + 1} {mode} size={size} " +
                  " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in sorted(fig.items())), flush=True)
            results.setdefault((mode, size), []).append(fig)

print("medians (CPU in microseconds per record, by host:process):")
for (mode, size), runs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    keys = sorted({k for r in runs for k in r})
    print(f"{mode} size={size} " + " ".join(
        f"{k}={statistics.median(r.get(k, 0) for r in runs):.2f}" for k in keys))
PY
