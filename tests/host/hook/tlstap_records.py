#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Parse and check libtlstap.so records (include/uapi/linux/tlstap.h).

A record: struct tlstap_record (72 bytes, big-endian) + msg_len bytes.
Used as a library by the hook tests and as a small CLI:
  tlstap_records.py freeport [--v6]
  tlstap_records.py exchange RECORDS --server-pid PID [--client-pid PID]
        --server-port PORT --addr ADDR [--client-sent F] [--client-got F]
        [--server-sent F] [--server-got F] [--allow-drops] [--since NS]
        [--body F] [--request TEXT]
  tlstap_records.py count RECORDS [--pid PID]
  tlstap_records.py dump RECORDS
"""
import argparse
import collections
import ipaddress
import socket
import struct
import sys
import time

HDR = struct.Struct(">BBBBHHII16s16sQQQ")
HDR_LEN = 72
assert HDR.size == HDR_LEN

TYPE_DATA = 1
READ, WRITE = 1, 2
FAMILY_NONE, FAMILY_V4, FAMILY_V6 = 0, 4, 6
MAX_RECORD = 65536

Record = collections.namedtuple(
    "Record",
    "type dir family hdr_len sport dport msg_len pid saddr daddr ts conn_id dropped data")


class CheckFailed(Exception):
    pass


def check_record(raw):
    """None when raw is one well-formed record, else why not."""
    if len(raw) < HDR_LEN:
        return "shorter than the header"
    r = Record(*HDR.unpack_from(raw), data=None)
    if r.type != TYPE_DATA:
        return f"type {r.type}"
    if r.dir not in (READ, WRITE):
        return f"dir {r.dir}"
    if r.family not in (FAMILY_NONE, FAMILY_V4, FAMILY_V6):
        return f"family {r.family}"
    if r.hdr_len != HDR_LEN:
        return f"hdr_len {r.hdr_len}"
    if r.msg_len == 0 or r.msg_len > MAX_RECORD:
        return f"msg_len {r.msg_len}"
    if len(raw) != HDR_LEN + r.msg_len:
        return f"length {len(raw)} but msg_len {r.msg_len}"
    if r.family == FAMILY_V4 and (any(r.saddr[4:]) or any(r.daddr[4:])):
        return "IPv4 address with non-zero bytes after the 4th"
    if r.family == FAMILY_NONE and (any(r.saddr) or any(r.daddr) or r.sport or r.dport):
        return "family NONE with an address or port"
    if r.conn_id == 0:
        return "conn_id 0"
    return None


def parse(path):
    """Every record of a file the reader wrote, in arrival order."""
    with open(path, "rb") as f:
        buf = f.read()
    out, off = [], 0
    while off < len(buf):
        if len(buf) - off < HDR_LEN:
            raise CheckFailed(f"{path}: truncated header at {off}")
        fields = HDR.unpack_from(buf, off)
        msg_len = fields[6]
        end = off + HDR_LEN + msg_len
        why = check_record(buf[off:end])
        if why:
            raise CheckFailed(f"{path}: bad record at {off}: {why}")
        out.append(Record(*fields, data=buf[off + HDR_LEN:end]))
        off = end
    return out


def addr_text(r, which):
    raw = r.saddr if which == "s" else r.daddr
    if r.family == FAMILY_V4:
        return str(ipaddress.IPv4Address(raw[:4]))
    if r.family == FAMILY_V6:
        return str(ipaddress.IPv6Address(raw))
    return "-"


def stream(records, dir_):
    return b"".join(r.data for r in records if r.dir == dir_)


def by_conn(records):
    conns = collections.OrderedDict()
    for r in records:
        conns.setdefault(r.conn_id, []).append(r)
    return conns


def require(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def check_flow(recs, who, local, remote):
    """Every record of one end's connection carries its 4-tuple the right
    way round: WRITE from local to remote, READ from remote to local."""
    for r in recs:
        src = (addr_text(r, "s"), r.sport)
        dst = (addr_text(r, "d"), r.dport)
        want = (local, remote) if r.dir == WRITE else (remote, local)
        require((src, dst) == want,
                f"{who}: record dir {r.dir} has {src}->{dst}, want {want[0]}->{want[1]}")


def exchange(records, server_pid, server_port, addr, client_pid=None,
             client_sent=None, client_got=None, server_sent=None,
             server_got=None, allow_drops=False, since=None, body=None,
             request=None):
    """One TLS connection between a hooked client and a hooked server:
    each side's capture equals the other's, byte for byte, in both
    directions, and both sides agree on the addresses and ports."""
    srv = [r for r in records if r.pid == server_pid]
    cli = [r for r in records if r.pid != server_pid and
           (client_pid is None or r.pid == client_pid)]
    require(srv, f"no records from the server (pid {server_pid})")
    require(cli, "no records from the client")
    pids = {r.pid for r in cli}
    require(len(pids) == 1, f"records from several client pids {sorted(pids)}")
    sc, cc = by_conn(srv), by_conn(cli)
    require(len(sc) == 1, f"server: {len(sc)} connection ids, want 1")
    require(len(cc) == 1, f"client: {len(cc)} connection ids, want 1")
    if not allow_drops:
        require(all(r.dropped == 0 for r in records), "a record reports dropped bytes")
    for r in srv + cli:
        require(len(r.data) <= MAX_RECORD, "record larger than 64 KiB")
    if since is not None:
        now = time.time_ns()
        require(all(since <= r.ts <= now for r in srv + cli),
                "a timestamp is outside the test's run (CLOCK_REALTIME)")
    fam = FAMILY_V6 if ":" in addr else FAMILY_V4
    require(all(r.family == fam for r in srv + cli), f"family is not {fam}")
    c_write, c_read = stream(cli, WRITE), stream(cli, READ)
    s_write, s_read = stream(srv, WRITE), stream(srv, READ)
    require(c_write, "client wrote nothing")
    require(s_write, "server wrote nothing")
    require(c_write == s_read,
            f"client WRITE ({len(c_write)} B) != server READ ({len(s_read)} B)")
    require(s_write == c_read,
            f"server WRITE ({len(s_write)} B) != client READ ({len(c_read)} B)")
    for path, got, what in ((client_sent, c_write, "client sent"),
                            (client_got, c_read, "client received"),
                            (server_sent, s_write, "server sent"),
                            (server_got, s_read, "server received")):
        if path is None:
            continue
        with open(path, "rb") as f:
            want = f.read()
        require(got == want, f"{what}: captured {len(got)} B differ from {path} ({len(want)} B)")
    if request is not None:
        require(c_write.startswith(request.encode()),
                f"client WRITE starts {c_write[:40]!r}, not {request!r}")
    if body is not None:
        with open(body, "rb") as f:
            want = f.read()
        head, sep, got = c_read.partition(b"\r\n\r\n")
        require(sep and head.startswith(b"HTTP/"), "client READ is no HTTP response")
        require(got == want, f"response body: captured {len(got)} B differ from {body} ({len(want)} B)")
    # The client's local port, as the client saw it, is the source of the
    # server's READ records: both ends agree on the 4-tuple.
    c_first = next(r for r in cli if r.dir == WRITE)
    client_port = c_first.sport
    require(c_first.dport == server_port,
            f"client WRITE dport {c_first.dport}, server listens on {server_port}")
    check_flow(cli, "client", (addr, client_port), (addr, server_port))
    check_flow(srv, "server", (addr, server_port), (addr, client_port))
    return len(c_write), len(c_read)


def freeport(v6=False):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind(("::1" if v6 else "127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("freeport")
    p.add_argument("--v6", action="store_true")
    p = sub.add_parser("exchange")
    p.add_argument("records")
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--client-pid", type=int)
    p.add_argument("--server-port", type=int, required=True)
    p.add_argument("--addr", required=True)
    for k in ("client-sent", "client-got", "server-sent", "server-got"):
        p.add_argument("--" + k)
    p.add_argument("--allow-drops", action="store_true")
    p.add_argument("--since", type=int, help="ns since the epoch: no record is older")
    p.add_argument("--body", help="client READ is an HTTP response with this body")
    p.add_argument("--request", help="client WRITE starts with this")
    p = sub.add_parser("count")
    p.add_argument("records")
    p.add_argument("--pid", type=int)
    p = sub.add_parser("dump")
    p.add_argument("records")
    a = ap.parse_args()
    try:
        if a.cmd == "freeport":
            print(freeport(a.v6))
        elif a.cmd == "exchange":
            w, r = exchange(parse(a.records), a.server_pid, a.server_port, a.addr,
                            a.client_pid, a.client_sent, a.client_got,
                            a.server_sent, a.server_got, a.allow_drops, a.since,
                            a.body, a.request)
            print(f"client wrote {w} B, read {r} B; both ends agree")
        elif a.cmd == "count":
            print(sum(1 for r in parse(a.records) if a.pid is None or r.pid == a.pid))
        elif a.cmd == "dump":
            for r in parse(a.records):
                print(f"pid={r.pid} conn={r.conn_id:016x} dir={'RW'[r.dir - 1]} "
                      f"fam={r.family} {addr_text(r, 's')}:{r.sport} -> "
                      f"{addr_text(r, 'd')}:{r.dport} len={r.msg_len} "
                      f"dropped={r.dropped} ts={r.ts} data={r.data[:40]!r}")
    except CheckFailed as e:
        print(e)
        sys.exit(1)


if __name__ == "__main__":
    main()
