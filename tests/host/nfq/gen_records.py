#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Test writer: deterministic capture records (IPv4, IPv6 and socket-less
flows, both directions, 1 byte to 64 KiB, optionally loss reports: no
plaintext, dropped > 0, and each flow's OPEN and CLOSE) written to a Unix datagram or seqpacket socket or a
byte stream, optionally with malformed records mixed in. Writes the
expected records as JSON lines (--expect, the fields tlstap-recv must
output) and prints a JSON summary (counts, malformed by reason) on
stdout. Each record claims a pid of its flow's (1000 + flow); the writer
tlstap-fwd reports is this process (a socket tells it, in the same pid
namespace) or unknown (a byte stream tells nothing)."""

import argparse
import base64
import json
import os
import random
import socket
import sys
import time

import tlstap_ref as ref

SPECIAL_SIZES = [1, 2, 3, 64, 65, 1179, 1180, 1252, 1400, 1452, 1453, 2904,
                 4096, 16384, 65535, 65536]


def make_flows(rng, n, none_every):
    flows = []
    for i in range(n):
        if none_every and i % none_every == none_every - 1:
            fam, cli, srv, cport, sport = ref.FAMILY_NONE, None, None, 0, 0
        elif i % 2:
            fam = ref.FAMILY_IPV6
            cli = "fd00:%x::%x" % (rng.randrange(1, 65536), rng.randrange(1, 65536))
            srv = "2001:db8::%x" % rng.randrange(1, 65536)
            cport, sport = rng.randrange(1024, 65536), 443
        else:
            fam = ref.FAMILY_IPV4
            cli = "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
            srv = "192.0.2.%d" % rng.randrange(1, 255)
            cport, sport = rng.randrange(1024, 65536), rng.choice([443, 8443])
        flows.append({"id": i, "family": fam, "local": cli, "lport": cport,
                      "peer": srv, "pport": sport,
                      "conn_id": rng.randrange(1, 1 << 63), "pid": 1000 + i})
    return flows


def sizes(rng, n, max_size):
    out = []
    for i in range(n):
        if i < len(SPECIAL_SIZES) * 2:
            s = SPECIAL_SIZES[i % len(SPECIAL_SIZES)]
        else:
            s = int(2 ** rng.uniform(0, 16))
        out.append(max(1, min(s, max_size)))
    return out


def record_for(flow, direction, msg, ts, dropped, writer, rtype=ref.RECORD_DATA):
    fam = flow["family"]
    local = ref.addr_bytes(fam, flow["local"])
    peer = ref.addr_bytes(fam, flow["peer"])
    # WRITE: the local end sent it; READ: the peer did.
    if direction == ref.DIR_WRITE:
        saddr, sport, daddr, dport = local, flow["lport"], peer, flow["pport"]
    else:
        saddr, sport, daddr, dport = peer, flow["pport"], local, flow["lport"]
    raw = ref.record(rtype, direction, fam, sport, dport, msg, flow["pid"],
                     saddr, daddr, ts, flow["conn_id"], dropped)
    kind = {ref.RECORD_OPEN: "open", ref.RECORD_CLOSE: "close"}.get(
        rtype, "data" if msg else "loss")
    exp = {"type": kind, "time_ns": ts, "pid": flow["pid"],
           "writer_pid": writer[0], "writer_uid": writer[1],
           "conn_id": flow["conn_id"],
           "dir": "read" if direction == ref.DIR_READ else "write",
           "family": fam, "src": ref.addr_text(fam, saddr), "sport": sport,
           "dst": ref.addr_text(fam, daddr), "dport": dport, "len": len(msg),
           "dropped": dropped, "flow": flow["id"]}
    # A loss report has no "data" field at all (check_delivery checks).
    if msg:
        exp["data"] = base64.b64encode(msg).decode()
    return raw, exp


def malformed(kind, good):
    """A malformed variant of a valid record (bytes), and its reason."""
    b = bytearray(good)
    b[0] = ref.RECORD_DATA      # an OPEN or CLOSE as a DATA record first
    if kind == "bad_type":
        b[0] = 4
    elif kind == "bad_lifecycle":   # an OPEN that reports a loss
        b[0] = ref.RECORD_OPEN
        b[64:72] = (1).to_bytes(8, "big")
    elif kind == "bad_dir":
        b[1] = 3
    elif kind == "bad_family":
        b[2] = 5
    elif kind == "bad_hdr_len":
        b[3] = 80
    elif kind == "bad_flow":        # IPv4 with bytes after the address
        b[2] = 4
        b[16 + 15] = 1
    elif kind == "empty":           # no plaintext and no loss to report
        b[8:12] = (0).to_bytes(4, "big")
        b[64:72] = bytes(8)
        b = b[:72]
    elif kind == "too_long":
        b[8:12] = (70000).to_bytes(4, "big")
        b = b[:72] + bytes(70000)
    elif kind == "truncated":
        b = b[:len(b) - 1]
    return bytes(b)


KINDS = ["bad_type", "bad_dir", "bad_family", "bad_hdr_len", "bad_flow",
         "empty", "bad_lifecycle", "too_long", "truncated"]


def connect(kind, path, deadline):
    while True:
        s = socket.socket(socket.AF_UNIX, kind)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flows", type=int, default=60)
    ap.add_argument("--records", type=int, default=400)
    ap.add_argument("--max-size", type=int, default=65536)
    ap.add_argument("--none-every", type=int, default=10,
                    help="every Nth flow has no socket (0: none)")
    ap.add_argument("--loss-every", type=int, default=0,
                    help="every Nth record is a loss report (0: none)")
    ap.add_argument("--lifecycle", action="store_true",
                    help="an OPEN before each flow's first record, a CLOSE "
                    "for each flow after the last (the writer its client "
                    "in even flows, its server in odd ones)")
    ap.add_argument("--unix")
    ap.add_argument("--seqpacket")
    ap.add_argument("--writers", type=int, default=1)
    ap.add_argument("--stream", help="path of a FIFO or file, - for stdout")
    ap.add_argument("--expect", required=True)
    ap.add_argument("--malformed", type=int, default=0,
                    help="malformed messages to mix in (socket inputs)")
    ap.add_argument("--malformed-at", type=int, default=-1,
                    help="stream input: a malformed header after N records")
    ap.add_argument("--pause-after", type=int, default=-1,
                    help="after N records, wait for --resume-file to exist")
    ap.add_argument("--resume-file")
    ap.add_argument("--paused-file", help="created when the pause begins")
    ap.add_argument("--last-size", type=int, default=0,
                    help="plaintext bytes of the last record (0: as planned)")
    ap.add_argument("--time-base", type=int, default=1_700_000_000_000_000_000,
                    help="timestamp of the first record (+1 ns each)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    # What the sender's kernel knows of us: JSON null when nothing.
    writer = (os.getpid(), os.getuid()) if args.unix or args.seqpacket \
        else (None, None)
    flows = make_flows(rng, args.flows, args.none_every)
    plan = []
    plan_sizes = sizes(rng, args.records, args.max_size)
    if args.last_size:
        plan_sizes[-1] = args.last_size
    opened = []

    def lifecycle(flow, rtype):
        # The connection's direction, client to server, as the writer's:
        # WRITE when it is the client.
        role = ref.DIR_WRITE if flow["id"] % 2 == 0 else ref.DIR_READ
        plan.append(record_for(flow, role, b"", args.time_base + len(plan), 0,
                               writer, rtype))

    for i, size in enumerate(plan_sizes):
        flow = flows[i % len(flows)] if i < len(flows) else rng.choice(flows)
        direction = rng.choice([ref.DIR_READ, ref.DIR_WRITE])
        msg = rng.randbytes(size)
        dropped = rng.choice([0, 0, 0, rng.randrange(1, 1 << 40)])
        if args.loss_every and i % args.loss_every == args.loss_every - 1 and \
                not (args.last_size and i == args.records - 1):
            msg, dropped = b"", rng.randrange(1, 1 << 64)
        if args.lifecycle and flow not in opened:
            opened.append(flow)
            lifecycle(flow, ref.RECORD_OPEN)
        plan.append(record_for(flow, direction, msg, args.time_base + len(plan),
                               dropped, writer))
    for flow in opened:
        lifecycle(flow, ref.RECORD_CLOSE)

    deadline = time.time() + 20
    socks = []
    if args.unix:
        socks = [connect(socket.SOCK_DGRAM, args.unix, deadline)]
    elif args.seqpacket:
        socks = [connect(socket.SOCK_SEQPACKET, args.seqpacket, deadline)
                 for _ in range(args.writers)]
    stream = None
    if args.stream:
        stream = sys.stdout.buffer if args.stream == "-" else open(args.stream, "wb")

    # Where malformed messages go: spread evenly, deterministic.
    bad_at = {}
    if args.malformed and socks:
        step = max(1, len(plan) // (args.malformed + 1))
        for k in range(args.malformed):
            bad_at[(k + 1) * step] = KINDS[k % len(KINDS)]
    reasons = {}
    expected = []
    for i, (raw, exp) in enumerate(plan):
        if i == args.pause_after and args.resume_file:
            if args.paused_file:
                open(args.paused_file, "w").close()
            while not os.path.exists(args.resume_file):
                time.sleep(0.05)
        if stream:
            if i == args.malformed_at:
                stream.write(malformed("bad_dir", raw))
                reasons["bad_dir"] = reasons.get("bad_dir", 0) + 1
                break
            stream.write(raw)
            expected.append(exp)
            continue
        sock = socks[exp["flow"] % len(socks)]
        if i in bad_at:
            kind = bad_at[i]
            bad = malformed(kind, raw)
            reasons[kind] = reasons.get(kind, 0) + 1
            if kind in ("truncated", "too_long"):
                sock.send(bad)
            else:
                # A valid record then a malformed one in the same message:
                # the valid one must still get through.
                sock.send(raw + bad)
                expected.append(exp)
            continue
        sock.send(raw)
        expected.append(exp)
    if stream and stream is not sys.stdout.buffer:
        stream.close()
    elif stream:
        stream.flush()
    for s in socks:
        s.close()
    with open(args.expect, "w") as f:
        for e in expected:
            f.write(json.dumps(e) + "\n")
    summary = {"records": len(expected),
               "record_bytes": sum(72 + e["len"] for e in expected),
               "loss_reports": sum(e["type"] == "loss" for e in expected),
               "opens": sum(e["type"] == "open" for e in expected),
               "closes": sum(e["type"] == "close" for e in expected),
               "malformed": sum(reasons.values()), "malformed_by_reason": reasons,
               "flows": len(flows)}
    (sys.stderr if args.stream == "-" else sys.stdout).write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
