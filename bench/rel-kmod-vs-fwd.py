#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The driver of bench/rel-kmod-vs-fwd.sh (inside the VM, t1 set up):
usage: rel-kmod-vs-fwd.py SRC WORK ROUNDS RECORDS
Prints one JSON line per run, then a table of medians."""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

SYS = "/sys/class/misc/tlstap/"
TARGET = "10.77.1.2:7419"
KEY = "000102030405060708090a0b0c0d0e0f"
LOSSES = (0, 1, 5)


def module_stats():
    return {k: int(v) for k, v in (l.split() for l in open(SYS + "stats"))}


def last_json(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")][-1]


def netem(loss):
    for tc in (["tc"], ["tc", "-n", "t1"]):
        dev = "vt1" if len(tc) == 1 else "eth0"
        subprocess.run(tc + ["qdisc", "del", "dev", dev, "root"],
                       stderr=subprocess.DEVNULL)
        if loss:
            subprocess.run(tc + ["qdisc", "add", "dev", dev, "root", "netem",
                                 "limit", "100000", "loss", "random",
                                 f"{loss}%"], check=True)


def output_count(path):
    """Records output plus records in LOST lines (with both ends)."""
    n = 0
    with open(path) as f:
        for line in f:
            if '"type":"lost"' in line:
                l = json.loads(line)
                if l["record_first"] is not None and l["record_last"] is not None:
                    n += l["record_last"] - l["record_first"] + 1
            elif line.endswith("}\n"):
                n += 1
    return n


def stop(p):
    p.send_signal(signal.SIGTERM)
    if p.wait(timeout=60):
        raise SystemExit(f"{p.args[0]} exited with {p.returncode}")


def run(src, work, sender, loss, rnd, n):
    tag = f"{work}/{sender}-{loss}-{rnd}"
    build = src + "/nfq-tools/build"
    netem(loss)
    rcv = subprocess.Popen(["ip", "netns", "exec", "t1", build + "/tlstap-recv",
                            "--listen", TARGET, "--out", tag + ".json",
                            "--stats-json", "--rcvbuf", str(32 << 20)],
                           stderr=open(tag + ".recv", "w"))
    fwd = None
    if sender == "kmod":
        with open(SYS + "targets", "w") as f:
            f.write("flush")
        with open(SYS + "targets", "w") as f:
            f.write("add " + TARGET)
        dest = "/dev/tlstap"
    else:
        dest = tag + ".fifo"
        os.mkfifo(dest)
        fwd = subprocess.Popen([src + "/fwd/build/tlstap-fwd", "--fifo", dest,
                                "--target", TARGET, "--no-gso", "--port", "7420",
                                "--hash-key", KEY, "--stats-json"]
                               + (["--replay-bytes", os.environ["REPLAY"]]
                                  if os.environ.get("REPLAY") else []),
                               stderr=open(tag + ".fwd", "w"))
    time.sleep(1)   # the receiver bound, tlstap-fwd reading its FIFO
    before = module_stats()
    t0 = time.monotonic()
    subprocess.run([src + "/tests/tools/recgen", "-d", dest, "-n", str(n),
                    "-f", "100", "-m", "4096", "-b", "4", "-s", str(rnd),
                    "-o", tag + ".bin"], check=True)
    t1 = time.monotonic()
    got, t2, idle_since = 0, None, time.monotonic()
    while time.monotonic() - idle_since < 10:
        c = output_count(tag + ".json")
        if c != got:
            got, idle_since = c, time.monotonic()
        if got >= n:
            t2 = time.monotonic()
            break
        time.sleep(0.02)
    time.sleep(1)   # heartbeats, late answers
    after = module_stats()
    stop(rcv)
    r = last_json(tag + ".recv")
    if fwd:
        stop(fwd)
        f = last_json(tag + ".fwd")
        t = f["targets"][0]
        s = {"datagrams": t["datagrams"], "retransmits": f["retransmits"],
             "gaps": t["gap_messages"], "heartbeats": f["heartbeats"]}
    else:
        d = {k: after[k] - before[k] for k in after}
        s = {"datagrams": d["datagrams"], "retransmits": d["retransmits"],
             "gaps": d["gaps_sent"], "heartbeats": d["heartbeats"]}
    s.update({"sender": sender, "loss": loss, "round": rnd, "records": n,
              "delivered": got, "lost": r["lost_records"],
              "nacks": r["nacks_sent"], "nack_seqs": r["nack_seqs"],
              "delivery_ms": round(1000 * (t2 - t0)) if t2 else None,
              "after_writer_ms": round(1000 * (t2 - t1)) if t2 else None})
    s["extra_pct"] = round(100.0 * (s["retransmits"] + s["gaps"] + s["nacks"])
                           / s["datagrams"], 2)
    print(json.dumps(s), flush=True)
    return s


def main():
    src, work, rounds, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    runs = []
    for rnd in range(1, rounds + 1):
        for loss in LOSSES:
            order = ("kmod", "fwd") if rnd % 2 else ("fwd", "kmod")
            for sender in order:
                runs.append(run(src, work, sender, loss, rnd, n))
    netem(0)
    print("| loss each way | sender | DATA datagrams | retransmitted | GAPs | "
          "NACKs (seqs) | extra % | heartbeats | LOST | delivery ms | "
          "after the writer ms |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for loss in LOSSES:
        for sender in ("kmod", "fwd"):
            rs = [r for r in runs if r["loss"] == loss and r["sender"] == sender]
            med = lambda k: statistics.median(r[k] for r in rs
                                              if r[k] is not None)
            print("| %d%% | %s | %d | %d | %d | %d (%d) | %.2f | %d | %s | %.0f | %.0f |"
                  % (loss, "tlstap.ko" if sender == "kmod" else "tlstap-fwd",
                     med("datagrams"), med("retransmits"), med("gaps"),
                     med("nacks"), med("nack_seqs"), med("extra_pct"),
                     med("heartbeats"), "/".join(str(r["lost"]) for r in rs),
                     med("delivery_ms"), med("after_writer_ms")))
    print(f"(medians of {rounds} rounds of {n} records; LOST records per round)")


if __name__ == "__main__":
    main()
