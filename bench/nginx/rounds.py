#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""The measuring loop of bench/nginx/run.sh (which prepares the directory,
the builds and the network namespace, and cleans up).

Each round runs every variant once, in an order that rotates from round to
round; each run starts a fresh nginx (1 worker pinned to --nginx-cpu),
loads it for --duration seconds (pinned to --load-cpu) and records: the
load's requests/s, the requests nginx served (stub_status on a plain-HTTP
port), the worker's CPU time (schedstat), the capture side's CPU time,
both CPUs' busy time (/proc/stat) and what the capture delivered.
The load is closed-loop (wrk -t1, as fast as nginx answers) or, with
--rate, open-loop (h2load --h1 at a fixed rate that every variant
sustains): the worker's CPU per request is then compared at the same
request rate. --syscalls adds one run per variant with perf counting the
worker's system calls (raw_syscalls:sys_enter), kept out of the timed
runs because counting slows every system call.
With --module, the variants that write into /dev/tlstap are available
(the module loaded and its target set by the caller, as in the VM).
Prints one line per run, then a Markdown table; writes everything as JSON.
"""
import argparse
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

# tlstap-fwd's target: the veth peer in run.sh's namespace, which is down.
TARGET = "10.99.0.2:7419"
HASH_KEY = "000102030405060708090a0b0c0d0e0f"

VARIANTS = {
    "none": "(a) no capture",
    "hook-ring": "(b) libtlstap.so -> tlstap-fwd through capture rings",
    "hook-seqpacket": "(b) libtlstap.so -> tlstap-fwd --seqpacket, "
                      "ring = no (a sendmsg per record; polls while busy)",
    "hook-seqpacket-woken": "(b) the same, tlstap-fwd --poll-us 0 "
                            "(woken per record)",
    "hook": "(b) libtlstap.so -> tlstap-fwd --unix (datagram; "
            "woken per record at max_dgram_qlen 10)",
    "hook-fifo": "(b) libtlstap.so -> tlstap-fwd --fifo (polls while busy)",
    "hook-null": "libtlstap.so -> /dev/null (no forwarder)",
    "bpftrace": "(c) bpftrace uprobes, 1 KiB copy",
    "hook-dev-ring": "(b) libtlstap.so -> /dev/tlstap through capture rings",
    "hook-dev-write": "(b) libtlstap.so -> /dev/tlstap, ring = no "
                      "(a write() per record)",
}
# The forwarder variants: tlstap-fwd's input option, extra arguments and
# whether the hook uses capture rings.
FWD_INPUTS = {
    "hook": ("--unix", [], False),
    "hook-ring": ("--seqpacket", [], True),
    "hook-seqpacket": ("--seqpacket", [], False),
    "hook-seqpacket-woken": ("--seqpacket", ["--poll-us", "0"], False),
    "hook-fifo": ("--fifo", [], False),
}
# The module variants (--module): whether the hook uses capture rings.
DEV_INPUTS = {
    "hook-dev-ring": True,
    "hook-dev-write": False,
}
DEVICE = "/dev/tlstap"
MODULE_STATS = "/sys/class/misc/tlstap/stats"


class BenchError(Exception):
    pass


class Starved(BenchError):
    """wrk's only errors were timeouts: the machine's other programs
    starved the run. It is left out, the rounds go on."""


def wait_for(what, cond, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise BenchError("timed out waiting for " + what)


def end_process(proc, what, sig=signal.SIGTERM, timeout=15,
                error=BenchError):
    """Sends sig to proc if it still runs and waits for it to end; after
    timeout seconds kills it and raises error ("WHAT did not stop")."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise error("%s did not stop within %d s" % (what, timeout))


def wait_started(proc, what, errpath, ready, waiting_for, timeout=15.0):
    """Waits until ready() (waiting_for says what that is) or until proc
    exits, which fails with what proc printed to errpath."""
    wait_for(waiting_for, lambda: ready() or proc.poll() is not None,
             timeout)
    if proc.poll() is not None:
        raise BenchError("%s exited: %s" % (what, read_text(errpath)))


def read_text(path):
    with open(path) as f:
        return f.read().strip()


def last_counters(what, errpath):
    """The last JSON line a tlstap tool printed to stderr (its counters)."""
    err = read_text(errpath)
    stats = [l for l in err.splitlines() if l.startswith("{")]
    if not stats:
        raise BenchError("%s printed no counters: %s" % (what, err))
    return json.loads(stats[-1])


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def task_runtime_ns(pid):
    """CPU time of a single-threaded process so far (ns)."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def process_cpu_s(pid):
    """User + system time of a whole process so far (s, tick resolution)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def cpu_ticks():
    """Per CPU: busy clock ticks (all but idle, iowait and steal) and the
    ticks the hypervisor stole."""
    ticks = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                ticks[int(m.group(1))] = (sum(v[:7]) - v[3] - v[4], v[7])
    return ticks


def wait_quiet(a):
    """Wait (at most --quiet-wait s) for a second in which the machine's
    other programs use less than --quiet-below CPUs; nothing of ours runs
    between measurements. Returns the seconds waited."""
    hz = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    while True:
        t0 = cpu_ticks()
        time.sleep(1)
        t1 = cpu_ticks()
        busy = sum(t1[c][0] - t0[c][0] for c in t1) / hz
        waited = time.monotonic() - start
        if busy < a.quiet_below or waited >= a.quiet_wait:
            return waited


def served_requests(status_port):
    """nginx's request counter (stub_status, plain HTTP: never captured)."""
    with socket.create_connection(("127.0.0.1", status_port), timeout=5) as s:
        s.sendall(b"GET /status HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    m = re.search(rb"\n\s*(\d+)\s+(\d+)\s+(\d+)\s*\n", data)
    if not m:
        raise BenchError("stub_status: unexpected answer %r" % data[:200])
    return int(m.group(3))


class Nginx:
    def __init__(self, a, preload):
        env = dict(os.environ, LD_LIBRARY_PATH=a.dir + "/lib")
        if preload:
            env["LD_PRELOAD"] = a.lib
            env["TLSTAP_CONF"] = a.dir + "/tlstap.conf"
        self.errlog = a.dir + "/nginx-error.log"
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(a.nginx_cpu), "nginx", "-e", self.errlog,
             "-c", a.dir + "/nginx.conf"], env=env)
        try:
            wait_for("nginx to listen", lambda: port_open(a.port) and
                     port_open(a.status_port) and self._worker() is not None)
        except BenchError:
            self.stop()
            raise
        self.worker = self._worker()

    def _worker(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid,
                                                     self.proc.pid)) as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if len(kids) == 1 else None

    def stop(self):
        """Graceful quit: the worker closes its sessions and exits, so the
        hook's last loss reports (if any) go out before tlstap-fwd stops."""
        end_process(self.proc, "nginx", signal.SIGQUIT)


def write_conf(a, output, ring):
    with open(a.dir + "/tlstap.conf", "w") as f:
        f.write("global:\n  if = %s\n  ring = %s\n" %
                (output, "yes" if ring else "no"))
    os.chmod(a.dir + "/tlstap.conf", 0o644)


def sessions(st):
    """The OPEN and CLOSE records among a sender's records (its receiver
    tells them apart; without one they count as captured records)."""
    rv = st.get("receiver")
    return rv["opens"] + rv["closes"] if rv else 0


def module_stats():
    """The module's counters (sysfs: one "name value" per line)."""
    st = {}
    with open(MODULE_STATS) as f:
        for line in f:
            name, value = line.split()
            st[name] = int(value)
    return st


class Receiver:
    """tlstap-recv in the target's namespace, writing raw records to
    /dev/null: the datagrams are received, reassembled and checked."""

    def __init__(self, a):
        self.errpath = a.dir + "/recv.err"
        with open(self.errpath, "w") as err:
            self.proc = subprocess.Popen(
                ["taskset", "-c", str(a.load_cpu), "ip", "netns", "exec",
                 a.recv_netns, a.recv, "--listen", a.recv_listen, "--output",
                 "raw", "--out", "/dev/null", "--stats-json"], stderr=err)
        self.pid = self.proc.pid
        time.sleep(0.2)
        if self.proc.poll() is not None:
            raise BenchError("tlstap-recv exited: " + read_text(self.errpath))

    def stop(self):
        end_process(self.proc, "tlstap-recv")
        return last_counters("tlstap-recv", self.errpath)


class Forwarder:
    def __init__(self, a, variant):
        opt, extra, ring = FWD_INPUTS[variant]
        self.sock = a.dir + "/fwd.in"
        self.errpath = a.dir + "/fwd.err"
        write_conf(a, self.sock, ring)
        self.recv = Receiver(a) if a.recv else None
        with open(self.errpath, "w") as err:
            self.proc = subprocess.Popen(
                ["taskset", "-c", str(a.load_cpu), "ip", "netns", "exec",
                 a.netns, a.fwd, opt, self.sock, "--mode", "0666",
                 "--target", TARGET, "--hash-key", HASH_KEY, "--stats-json"]
                + extra, stderr=err)
        self.pid = self.proc.pid   # taskset and ip netns exec exec it
        try:
            wait_started(self.proc, "tlstap-fwd", self.errpath,
                         lambda: os.path.exists(self.sock),
                         "tlstap-fwd's socket")
        except BenchError:
            self.stop()
            raise

    def stop(self):
        """SIGTERM: tlstap-fwd sends what it holds and prints its counters;
        then the receiver stops and prints its own."""
        try:
            st = self._stop_fwd()
        finally:
            if self.recv:
                time.sleep(0.3)   # the last datagrams on their way
                received = self.recv.stop()
        if self.recv:
            st["receiver"] = received
        return st

    def _stop_fwd(self):
        end_process(self.proc, "tlstap-fwd")
        if self.proc.returncode != 0:
            raise BenchError("tlstap-fwd exited with %d: %s" %
                             (self.proc.returncode, read_text(self.errpath)))
        return last_counters("tlstap-fwd", self.errpath)

    def cpu_s(self):
        """CPU seconds so far of tlstap-fwd and of the receiver."""
        return (process_cpu_s(self.pid),
                process_cpu_s(self.recv.pid) if self.recv else 0)


class DevCapture:
    """The hook into /dev/tlstap (the module loaded, its target set to the
    receiver's address by the caller); the module's counters are read
    before and after the run."""

    def __init__(self, a, variant):
        write_conf(a, DEVICE, DEV_INPUTS[variant])
        self.recv = Receiver(a) if a.recv else None
        self.before = module_stats()

    def stop(self):
        time.sleep(0.3)   # the last records drained and sent
        after = module_stats()
        st = {k: after[k] - self.before.get(k, 0) for k in after}
        if self.recv:
            st["receiver"] = self.recv.stop()
        return st

    def cpu_s(self):
        """The module works in kernel threads, not counted here; the
        receiver's CPU seconds so far."""
        return (0, process_cpu_s(self.recv.pid) if self.recv else 0)


class Bpftrace:
    """bpftrace with sslsniff.bt; its output is read on the load CPU by a
    thread of this process (the userspace side of an eBPF capture tool),
    which counts it and keeps the tail (the counters printed at exit)."""

    def __init__(self, a, worker):
        self.errpath = a.dir + "/bpftrace.err"
        self.ready = threading.Event()
        self.bytes = 0
        self.tail = b""
        with open(self.errpath, "w") as err:
            self.proc = subprocess.Popen(
                ["taskset", "-c", str(a.load_cpu), "bpftrace", a.bt,
                 a.dir + "/lib/libssl.so.3", str(worker)],
                stdout=subprocess.PIPE, stderr=err)
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            wait_started(self.proc, "bpftrace", self.errpath,
                         self.ready.is_set, "bpftrace to attach", timeout=60)
        except BenchError:
            self.stop()
            raise

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            self.bytes += len(chunk)
            self.tail = (self.tail + chunk)[-4096:]
            if not self.ready.is_set() and b"ready\n" in self.tail:
                self.ready.set()

    def stop(self):
        # Killed, its counters are lost with it: the run is left out.
        end_process(self.proc, "bpftrace", signal.SIGINT, timeout=30,
                    error=Starved)
        self.reader.join(timeout=10)
        counts = {k.decode(): int(v) for k, v in
                  re.findall(rb"@(reads|writes): (\d+)", self.tail)}
        lost = sum(int(n) for n in re.findall(r"Lost (\d+) events",
                                               read_text(self.errpath)))
        return {"reads": counts.get("reads", 0),
                "writes": counts.get("writes", 0),
                "lost_events": lost, "output_bytes": self.bytes}


def run_load(a):
    return run_h2load(a) if a.rate else run_wrk(a)


def run_on_load_cpu(a, argv):
    """Runs the load generator argv on the load CPU: its output (stdout
    and stderr) and its resource usage; BenchError if it failed."""
    p = subprocess.Popen(["taskset", "-c", str(a.load_cpu)] + argv,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise BenchError("%s failed: %s" % (argv[0], out))
    return out, ru


def run_h2load(a):
    """Open loop: h2load --h1 with clients * per-client rate = --rate."""
    url = "https://127.0.0.1:%d/1k.txt" % a.port
    clients = min(a.connections, a.rate)
    out, ru = run_on_load_cpu(a, ["h2load", "--h1", "-t1", "-c%d" % clients,
                                  "--rps=%d" % (a.rate // clients),
                                  "-D%d" % a.duration, url])
    fin = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", out)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                    r"(\d+) succeeded, (\d+) failed, (\d+) errored, "
                    r"(\d+) timeout", out)
    if not fin or not req:
        raise BenchError("cannot read h2load's output: " + out)
    if int(req.group(5)) or int(req.group(6)) or int(req.group(7)):
        raise BenchError("h2load saw failures: " + out)
    return {"requests": int(req.group(4)), "seconds": float(fin.group(1)),
            "rps": float(fin.group(2)),
            "load_cpu_s": ru.ru_utime + ru.ru_stime}


def run_wrk(a):
    url = "https://127.0.0.1:%d/1k.txt" % a.port
    out, ru = run_on_load_cpu(a, ["wrk", "-t1", "-c%d" % a.connections,
                                  "-d%ds" % a.duration, url])
    m = re.search(r"(\d+) requests in ([\d.]+)s", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        raise BenchError("cannot read wrk's output: " + out)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors and not non2xx and re.fullmatch(
            r"connect 0, read 0, write 0, timeout \d+", errors.group(1).strip()):
        raise Starved("wrk timed out (%s req/s)" % (rps.group(1) if rps else "?"))
    if errors or non2xx:
        raise BenchError("wrk saw errors: " + out)
    return {"requests": int(m.group(1)), "seconds": float(m.group(2)),
            "rps": float(rps.group(1)),
            "load_cpu_s": ru.ru_utime + ru.ru_stime}


class SyscallCount:
    """perf counting the worker's system calls while the load runs."""

    def __init__(self, a, worker):
        self.path = a.dir + "/perf-stat.csv"
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(a.load_cpu), "perf", "stat", "-x,", "-o",
             self.path, "-e", "raw_syscalls:sys_enter", "-p", str(worker)],
            stderr=subprocess.DEVNULL)
        time.sleep(0.5)   # attached before the load starts

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        if self.proc.wait(timeout=60) not in (0, -signal.SIGINT):
            raise BenchError("perf stat failed (%d)" % self.proc.returncode)
        for line in read_text(self.path).splitlines():
            f = line.split(",")
            if len(f) > 2 and f[2] == "raw_syscalls:sys_enter":
                return int(f[0])
        raise BenchError("perf stat counted nothing: " + read_text(self.path))


def measure(a, variant, perf_out=None, count_syscalls=False):
    fwd = bpf = nginx = None
    r = {"variant": variant}
    try:
        if variant in FWD_INPUTS:
            fwd = Forwarder(a, variant)
        if variant in DEV_INPUTS:
            fwd = DevCapture(a, variant)
        if variant == "hook-null":
            write_conf(a, "/dev/null", False)
        nginx = Nginx(a, preload=variant.startswith("hook"))
        if variant == "bpftrace":
            bpf = Bpftrace(a, nginx.worker)
        served0 = served_requests(a.status_port)
        ticks0 = cpu_ticks()
        w0 = task_runtime_ns(nginx.worker)
        f0 = fwd.cpu_s() if fwd else (0, 0)
        s0 = process_cpu_s(bpf.pid) if bpf else sum(f0)
        d0 = self_cpu_s()
        if perf_out:
            perf = subprocess.Popen(
                ["taskset", "-c", str(a.load_cpu), "perf", "record", "-q",
                 "-e", "cpu-clock", "-g", "-p", str(nginx.worker), "-o",
                 perf_out], stderr=open(perf_out + ".err", "w"))
            time.sleep(0.5)   # let it attach before the load starts
        syscalls = SyscallCount(a, nginx.worker) if count_syscalls else None
        r.update(run_load(a))
        if syscalls:
            r["worker_syscalls"] = syscalls.stop()
        if perf_out:
            perf.send_signal(signal.SIGINT)
            if perf.wait(timeout=60) not in (0, -signal.SIGINT):
                raise BenchError("perf record failed (%d)" % perf.returncode)
        w1 = task_runtime_ns(nginx.worker)
        f1 = fwd.cpu_s() if fwd else (0, 0)
        s1 = process_cpu_s(bpf.pid) if bpf else sum(f1)
        r["fwd_cpu_s"] = f1[0] - f0[0]
        r["recv_cpu_s"] = f1[1] - f0[1]
        d1 = self_cpu_s()
        ticks1 = cpu_ticks()
        # -1: the stub_status request that reads the counter.
        r["served"] = served_requests(a.status_port) - served0 - 1
        hz = os.sysconf("SC_CLK_TCK")
        r["worker_cpu_s"] = (w1 - w0) / 1e9
        # bpftrace's output is read by a thread of this process.
        r["sink_cpu_s"] = s1 - s0 + (d1 - d0 if bpf else 0)
        r["cpu_busy_s"] = {c: (ticks1[c][0] - ticks0[c][0]) / hz
                           for c in ticks1}
        r["steal_s"] = sum(ticks1[c][1] - ticks0[c][1] for c in ticks1) / hz
        r["other_cpu_s"] = (sum(r["cpu_busy_s"].values()) - r["worker_cpu_s"]
                            - r["load_cpu_s"] - r["sink_cpu_s"])
        r["worker_us_per_req"] = r["worker_cpu_s"] / r["served"] * 1e6
        if "worker_syscalls" in r:
            r["syscalls_per_req"] = r["worker_syscalls"] / r["served"]
    finally:
        errors = []
        for part in (bpf, nginx):
            if part:
                try:
                    res = part.stop()
                    if part is bpf:
                        r["bpftrace"] = res
                except BenchError as e:
                    errors.append(e)
        if fwd:
            try:
                r["fwd"] = fwd.stop()
            except BenchError as e:
                errors.append(e)
        if errors:
            raise (Starved if all(isinstance(e, Starved) for e in errors)
                   else BenchError)("; ".join(map(str, errors)))
    expect = 2 * r["served"]   # one SSL_read and one SSL_write per request
    if variant in DEV_INPUTS:
        st = r["fwd"]
        r["captured"] = st["records"] - sessions(st)
        drops = {k: v for k, v in st.items()
                 if k.startswith("drop_") or k in ("tx_errors",
                                                   "rings_ended")}
        if any(drops.values()):
            raise BenchError("tlstap.ko dropped: %s" % json.dumps(drops))
        received(r, st, "tlstap.ko")
    elif fwd:
        st = r["fwd"]
        r["captured"] = (st["records"] - st.get("loss_reports", 0)
                         - sessions(st))
        if st["malformed"] or st["send_errors"] or st["dropped_datagrams"]:
            raise BenchError("tlstap-fwd: malformed %d, send errors %d, "
                             "dropped datagrams %d" % (st["malformed"],
                             st["send_errors"], st["dropped_datagrams"]))
        received(r, st, "tlstap-fwd")
    elif bpf:
        r["captured"] = r["bpftrace"]["reads"] + r["bpftrace"]["writes"]
    if "captured" in r:
        r["expected"] = expect
        r["captured_pct"] = 100.0 * r["captured"] / expect
    return r


def received(r, st, sender):
    """With a receiver, what it got (r["received"]): every record the
    sender's counters st say it sent."""
    if "receiver" not in st:
        return
    rv = st["receiver"]
    r["received"] = rv["records"]
    if rv["records"] != st["records"]:
        raise BenchError("tlstap-recv got %d records of the %d %s sent: %s"
                         % (rv["records"], st["records"], sender,
                            json.dumps(rv)))


def describe(r):
    s = ("%-15s %6d req/s  load %6d req, nginx %6d  worker %5.2f s CPU "
         "(%5.1f us/req)" % (r["variant"], r["rps"], r["requests"],
                             r["served"], r["worker_cpu_s"],
                             r["worker_us_per_req"]))
    if "captured" in r:
        s += "  capture side %5.2f s CPU, records %d of %d (%.2f%%)" % (
            r["sink_cpu_s"], r["captured"], r["expected"], r["captured_pct"])
    if r["variant"] in FWD_INPUTS or r["variant"] in DEV_INPUTS:
        s += " (fwd %.2f s, recv %.2f s)" % (r["fwd_cpu_s"], r["recv_cpu_s"])
    if "syscalls_per_req" in r:
        s += ", worker system calls %.2f/req" % r["syscalls_per_req"]
    if "bpftrace" in r:
        s += ", lost events %d" % r["bpftrace"]["lost_events"]
    if r["variant"] in FWD_INPUTS:
        s += ", loss reports %d" % r["fwd"].get("loss_reports", 0)
    s += "  load %.2f s CPU, everything else %.2f s CPU, steal %.2f s" % (
        r["load_cpu_s"], r["other_cpu_s"], r["steal_s"])
    if r.get("waited_for_quiet_s", 0) > 1.5:
        s += ", waited %.0f s for quiet" % r["waited_for_quiet_s"]
    return s


def summarize(a, runs, title):
    by = {v: [r for r in runs if r["variant"] == v] for v in a.variants}
    print()
    print(title)
    if not by["none"]:
        print("(no run of variant none)")
        return []
    base = statistics.median(r["rps"] for r in by["none"])
    base_cpu = statistics.median(r["worker_us_per_req"] for r in by["none"])
    rounds = {}
    for r in runs:
        rounds.setdefault(r["round"], {})[r["variant"]] = r
    print("| variant | runs | median req/s | min-max req/s | ratio to (a) | "
          "paired ratio, median (min-max) | worker CPU us/request (ratio) | "
          "capture side CPU us/record (tlstap-fwd, tlstap-recv) | "
          "records captured | worker busy (CPU %s) | load CPU busy | "
          "other programs' CPU s/run, median |" % a.nginx_cpu)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    table = []
    for v in a.variants:
        rs = by[v]
        if not rs:
            print("| %s | 0 | | | | | | | | | | |" % VARIANTS[v])
            continue
        rps = [r["rps"] for r in rs]
        med = statistics.median(rps)
        cpu = statistics.median(r["worker_us_per_req"] for r in rs)
        pairs = [rd[v]["rps"] / rd["none"]["rps"] for rd in rounds.values()
                 if v in rd and "none" in rd] or [float("nan")]
        row = {"variant": v, "runs": len(rs), "median_rps": med,
               "min_rps": min(rps), "max_rps": max(rps), "ratio": med / base,
               "paired_ratio_median": statistics.median(pairs),
               "paired_ratio_min": min(pairs), "paired_ratio_max": max(pairs),
               "worker_us_per_req": cpu, "cpu_ratio": base_cpu / cpu,
               "other_cpu_s": statistics.median(r["other_cpu_s"] for r in rs),
               # Which side limited the run: the worker's share of its CPU,
               # and how busy the CPU of wrk and the capture side was.
               "worker_busy": statistics.median(
                   r["worker_cpu_s"] / r["seconds"] for r in rs),
               "load_cpu_busy": statistics.median(
                   r["cpu_busy_s"][a.load_cpu] / r["seconds"] for r in rs)}
        sink = capt = "-"
        if "captured" in rs[0]:
            row["sink_us_per_record"] = statistics.median(
                r["sink_cpu_s"] / max(r["captured"], 1) * 1e6 for r in rs)
            row["captured_pct_min"] = min(r["captured_pct"] for r in rs)
            row["captured_pct_max"] = max(r["captured_pct"] for r in rs)
            sink = "%.2f" % row["sink_us_per_record"]
            if v in FWD_INPUTS or v in DEV_INPUTS:
                for part in ("fwd", "recv"):
                    row[part + "_us_per_record"] = statistics.median(
                        r[part + "_cpu_s"] / max(r["captured"], 1) * 1e6
                        for r in rs)
                sink += " (fwd %.2f, recv %.2f)" % (
                    row["fwd_us_per_record"], row["recv_us_per_record"])
            capt = "%.2f-%.2f%%" % (row["captured_pct_min"],
                                    row["captured_pct_max"])
        table.append(row)
        print("| %s | %d | %.0f | %.0f-%.0f | %.1f%% | %.1f%% (%.1f-%.1f%%) | "
              "%.1f (%.1f%%) | %s | %s | %.0f%% | %.0f%% | %.2f |" % (
                  VARIANTS[v], len(rs), med, min(rps), max(rps), 100 * row["ratio"],
                  100 * row["paired_ratio_median"],
                  100 * row["paired_ratio_min"], 100 * row["paired_ratio_max"],
                  cpu, 100 * row["cpu_ratio"], sink, capt,
                  100 * row["worker_busy"], 100 * row["load_cpu_busy"],
                  row["other_cpu_s"]))
    return table


def syscall_runs(a):
    """One more run of each variant counting the worker's system calls."""
    print()
    print("Worker system calls per request (one run each, perf stat):")
    print("| variant | system calls/request | worker CPU us/request |")
    print("|---|---:|---:|")
    rows = []
    for v in a.variants:
        r = measure(a, v, count_syscalls=True)
        print("syscall run  " + describe(r), flush=True)
        rows.append({"variant": v, "syscalls_per_req": r["syscalls_per_req"],
                     "worker_us_per_req": r["worker_us_per_req"], "run": r})
    for row in rows:
        print("| %s | %.2f | %.1f |" % (VARIANTS[row["variant"]],
                                       row["syscalls_per_req"],
                                       row["worker_us_per_req"]))
    return rows


def perf_report(path, *args):
    out = subprocess.run(["perf", "report", "-i", path, "--stdio", "-q"] +
                         list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    if out.returncode != 0:
        raise BenchError("perf report %s failed" % path)
    return out.stdout.decode(errors="replace")


def profile(a):
    """One more run of each variant with perf record on the worker
    (cpu-clock samples: this machine has no hardware counters); the reports
    go to --profile-dir, a summary to stdout."""
    print()
    for v in a.profile_variants:
        data = "%s/perf.%s.data" % (a.profile_dir, v)
        r = measure(a, v, perf_out=data)
        print("profile run  " + describe(r))
        by_dso = perf_report(data, "--no-children", "--sort", "dso",
                             "-g", "none")
        by_sym = perf_report(data, "--no-children", "--sort", "dso,sym",
                             "-g", "none")
        inclusive = perf_report(data, "--children", "--sort", "dso,sym",
                                "-g", "none")
        for name, text in (("dso", by_dso), ("sym", by_sym),
                           ("children", inclusive)):
            with open("%s/perf.%s.%s.txt" % (a.profile_dir, v, name), "w") as f:
                f.write(text)
        print("  worker samples by object: " + ", ".join(
            "%s %s" % (l.split()[1], l.split()[0]) for l in
            by_dso.splitlines() if l.strip() and not l.startswith("#"))[:400])
        split = subprocess.run([sys.executable, a.perfsplit, data],
                               stdout=subprocess.PIPE)
        if split.returncode != 0:
            raise BenchError("perfsplit.py %s failed" % data)
        print("  " + split.stdout.decode().rstrip().replace("\n", "\n  "))


def interrupted(signum, _frame):
    # An exception, so that measure() stops nginx, tlstap-fwd and bpftrace
    # on its way out (a background job may have SIGINT ignored: take both).
    raise BenchError("interrupted by signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", required=True)
    p.add_argument("--lib", required=True, help="libtlstap.so")
    p.add_argument("--fwd", required=True, help="tlstap-fwd")
    p.add_argument("--bt", required=True, help="sslsniff.bt")
    p.add_argument("--recv", help="tlstap-recv: run it as the target, in "
                   "--recv-netns")
    p.add_argument("--recv-netns")
    p.add_argument("--recv-listen", default=TARGET,
                   help="the receiver's --listen address")
    p.add_argument("--rate", type=int, default=0,
                   help="open loop: h2load at this many requests/s "
                   "(0: closed loop, wrk)")
    p.add_argument("--syscalls", action="store_true",
                   help="afterwards one run per variant counting the "
                   "worker's system calls")
    p.add_argument("--module", action="store_true",
                   help="tlstap.ko is loaded and its target set: the "
                   "hook-dev-* variants may run")
    p.add_argument("--perfsplit", required=True, help="perfsplit.py")
    p.add_argument("--netns", required=True)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--nginx-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--status-port", type=int, required=True)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--json", required=True)
    p.add_argument("--quiet-below", type=float, default=0.3,
                   help="before each run, wait for a second in which other "
                   "programs use less than this many CPUs")
    p.add_argument("--quiet-wait", type=float, default=120,
                   help="... but at most this many seconds")
    p.add_argument("--quiet-max-other", type=float, default=0.5,
                   help="second table: only runs during which other programs "
                   "and steal each took less than this many CPU seconds")
    p.add_argument("--profile-dir", help="also profile with perf record")
    p.add_argument("--profile-variants",
                   default="none,hook-seqpacket,hook-seqpacket-woken,hook,"
                   "hook-fifo,hook-null")
    a = p.parse_args()
    a.variants = a.variants.split(",")
    unknown = set(a.variants) - set(VARIANTS)
    if unknown or "none" not in a.variants:
        p.error("variants: 'none' and some of %s" % ", ".join(VARIANTS))
    if not a.module and set(a.variants) & set(DEV_INPUTS):
        p.error("the hook-dev-* variants need --module")
    runs = []
    try:
        for rnd in range(a.rounds):
            k = rnd % len(a.variants)
            for v in a.variants[k:] + a.variants[:k]:
                waited = wait_quiet(a)
                try:
                    r = measure(a, v)
                except Starved as e:
                    print("round %d  %-15s left out: %s" % (rnd, v, e),
                          flush=True)
                    continue
                r["round"] = rnd
                r["waited_for_quiet_s"] = waited
                runs.append(r)
                # Kept as they come: a run that breaks later keeps these.
                with open(a.json + ".partial", "w") as f:
                    json.dump({"runs": runs}, f)
                print("round %d  %s" % (rnd, describe(r)), flush=True)
    except BenchError as e:
        print("rounds.py: " + str(e), file=sys.stderr)
        return 1
    table = summarize(a, runs, "All runs:")
    quiet = [r for r in runs if r["other_cpu_s"] < a.quiet_max_other and
             r["steal_s"] < a.quiet_max_other]
    quiet_table = summarize(
        a, quiet, "Quiet runs only (other programs and the hypervisor's "
        "steal each below %.1f s CPU during the run):" % a.quiet_max_other)
    syscalls = []
    if a.syscalls:
        try:
            syscalls = syscall_runs(a)
        except BenchError as e:
            print("rounds.py: system call runs: " + str(e), file=sys.stderr)
            return 1
    if a.profile_dir:
        a.profile_variants = a.profile_variants.split(",")
        try:
            profile(a)
        except BenchError as e:
            print("rounds.py: profile: " + str(e), file=sys.stderr)
            return 1
    with open(a.json, "w") as f:
        json.dump({"runs": runs, "table": table, "quiet_table": quiet_table,
                   "syscalls": syscalls,
                   "settings": {k: getattr(a, k) for k in (
                       "rounds", "duration", "connections", "nginx_cpu",
                       "load_cpu", "variants", "rate")}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
