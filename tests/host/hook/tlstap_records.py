#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Parse and check libtlstap.so records (include/uapi/linux/tlstap.h).

A record: struct tlstap_record (72 bytes, big-endian) + msg_len bytes.
RECORDS is a file of such records (reader.py, tlstap-recv --output raw)
or of tlstap-recv's JSON lines (--output json), which also name each
record's writer as the sender's kernel knew it (writer_pid, writer_uid).
Used as a library by the hook tests and as a small CLI:
  tlstap_records.py freeport [--v6]
  tlstap_records.py exchange RECORDS --server-pid PID [--client-pid PID]
        --server-port PORT --addr ADDR [--client-sent F] [--client-got F]
        [--server-sent F] [--server-got F] [--allow-drops] [--since NS]
        [--body F] [--request TEXT] [--sent-body F] [WRITERS]
  tlstap_records.py conns RECORDS --server-pid PID --server-port PORT
        --addr ADDR --conns N --client-logs PREFIX --server-logs PREFIX
        [WRITERS]
  tlstap_records.py one-side RECORDS --pid PID --logs PREFIX [--accounted]
        [--max-record N] [--loss-report] [WRITERS]
  tlstap_records.py in-process RECORDS --logs PREFIX [WRITERS]
  tlstap_records.py fork RECORDS --server-pid PID --logs PREFIX [WRITERS]
  tlstap_records.py exec RECORDS --logs PREFIX [WRITERS]
  WRITERS: --writers [--uid PID:UID]... [--default-uid UID]: also, every
        record names its writer (JSON lines), as writers() checks
  Each of these also checks every connection's OPEN and CLOSE
  (lifecycle()): --unclosed allows connections without their CLOSE,
  --open-pid PID those of PID (a process that ends with _exit()),
  --lossy without their OPEN or CLOSE (dropped with other records).
  tlstap_records.py count RECORDS [--pid PID]
  tlstap_records.py pids RECORDS
  tlstap_records.py dump RECORDS
"""
import argparse
import base64
import collections
import glob
import ipaddress
import json
import socket
import struct
import sys
import time

HDR = struct.Struct(">BBBBHHII16s16sQQQ")
HDR_LEN = 72
assert HDR.size == HDR_LEN

TYPE_DATA, TYPE_OPEN, TYPE_CLOSE = 1, 2, 3
TYPE_NAMES = {"data": TYPE_DATA, "loss": TYPE_DATA, "open": TYPE_OPEN,
              "close": TYPE_CLOSE}
READ, WRITE = 1, 2
FAMILY_NONE, FAMILY_V4, FAMILY_V6 = 0, 4, 6
MAX_RECORD = 65536

# writer_pid, writer_uid: None where the file does not tell (raw records).
Record = collections.namedtuple(
    "Record",
    "type dir family hdr_len sport dport msg_len pid saddr daddr ts conn_id "
    "dropped data writer_pid writer_uid", defaults=(None, None))


class CheckFailed(Exception):
    pass


def check_record(raw):
    """None when raw is one well-formed record, else why not."""
    if len(raw) < HDR_LEN:
        return "shorter than the header"
    r = Record(*HDR.unpack_from(raw), data=None)
    if r.type not in (TYPE_DATA, TYPE_OPEN, TYPE_CLOSE):
        return f"type {r.type}"
    if r.dir not in (READ, WRITE):
        return f"dir {r.dir}"
    if r.family not in (FAMILY_NONE, FAMILY_V4, FAMILY_V6):
        return f"family {r.family}"
    if r.hdr_len != HDR_LEN:
        return f"hdr_len {r.hdr_len}"
    if r.msg_len > MAX_RECORD:
        return f"msg_len {r.msg_len}"
    if r.type == TYPE_DATA and r.msg_len == 0 and r.dropped == 0:
        return "msg_len 0 without dropped bytes (only a loss report is empty)"
    if r.type != TYPE_DATA and (r.msg_len or r.dropped):
        return f"type {r.type} with msg_len {r.msg_len}, dropped {r.dropped}"
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
    """Every record of a file: raw records in arrival order, JSON lines in
    their sender's (parse_json)."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf.startswith(b"{"):
        return parse_json(path, buf)
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


def packed_addr(family, text):
    """A JSON line's address as the record header holds it (16 bytes)."""
    if text is None:
        return bytes(16)
    if family == FAMILY_V4:
        return ipaddress.IPv4Address(text).packed + bytes(12)
    return ipaddress.IPv6Address(text).packed


def parse_json(path, buf):
    """tlstap-recv's JSON lines: its records ("data") and loss reports
    ("loss"), checked as raw records are, in the order their sender sent
    them: by sender stream and record_id (tlstap-recv writes a record when
    it is complete, which a datagram sent again makes later than the
    next). A "lost" line (records the receiver never got) fails: every
    check here wants all of them."""
    out = []
    for n, line in enumerate(buf.decode().splitlines(), 1):
        d = json.loads(line)
        if d["type"] == "lost":
            raise CheckFailed(f"{path}:{n}: records lost on the way: {line}")
        data = base64.b64decode(d["data"]) if d["type"] == "data" else b""
        fam = d["family"]
        fields = (TYPE_NAMES[d["type"]], READ if d["dir"] == "read" else WRITE,
                  fam, HDR_LEN,
                  d["sport"], d["dport"], d["len"], d["pid"],
                  packed_addr(fam, d["src"]), packed_addr(fam, d["dst"]),
                  d["time_ns"], d["conn_id"], d["dropped"])
        why = check_record(HDR.pack(*fields) + data)
        if why is None and (d["type"] == "data") != (d["len"] > 0):
            why = f"type {d['type']} with len {d['len']}"
        if why:
            raise CheckFailed(f"{path}:{n}: bad record: {why}")
        out.append(((d["sender"], d["stream"], d["record_id"]),
                    Record(*fields, data=data, writer_pid=d["writer_pid"],
                           writer_uid=d["writer_uid"])))
    # Record ids start at 0 per stream: no test sends 2^32 of them.
    return [r for _, r in sorted(out, key=lambda kr: kr[0])]


def addr_text(r, which):
    raw = r.saddr if which == "s" else r.daddr
    if r.family == FAMILY_V4:
        return str(ipaddress.IPv4Address(raw[:4]))
    if r.family == FAMILY_V6:
        return str(ipaddress.IPv6Address(raw))
    return "-"


def stream(records, dir_):
    return b"".join(r.data for r in records if r.dir == dir_ and r.type == TYPE_DATA)


def data(records):
    return [r for r in records if r.type == TYPE_DATA]


def lifecycle(records, closed=True, open_pids=(), lossy=False):
    """Every connection (conn_id) opens with its one OPEN, before any
    other record of it, and ends with at most one CLOSE, after every
    other (with closed, exactly one, except the connections of
    open_pids: processes that end with _exit(), which runs no library
    destructor). lossy: the output dropped records, OPEN and CLOSE may
    be among them. OPEN and CLOSE name it from the client to the server
    (dir: which end the writer is), the same ends its data records
    name."""
    for cid, recs in by_conn(records).items():
        kinds = [r.type for r in recs]
        nop = kinds.count(TYPE_OPEN)
        require(nop == 1 and kinds[0] == TYPE_OPEN or lossy and nop == 0,
                f"connection {cid:x}: records {kinds}, want one OPEN first")
        ncl = kinds.count(TYPE_CLOSE)
        require(ncl <= 1 and (not ncl or kinds[-1] == TYPE_CLOSE),
                f"connection {cid:x}: records {kinds}, want at most one CLOSE, last")
        require(ncl or not closed or lossy or recs[0].pid in open_pids,
                f"connection {cid:x} of pid {recs[0].pid}: no CLOSE")
        ends = {(addr_text(r, "s"), r.sport, addr_text(r, "d"), r.dport)
                for r in recs if r.type != TYPE_DATA}
        if not ends:
            continue
        require(len(ends) == 1 and len({r.dir for r in recs if r.type != TYPE_DATA}) == 1,
                f"connection {cid:x}: OPEN and CLOSE disagree: {sorted(ends)}")
        (ca, cp, sa, sp), = ends
        for r in data(recs):
            got = {(addr_text(r, "s"), r.sport), (addr_text(r, "d"), r.dport)}
            require(got == {(ca, cp), (sa, sp)},
                    f"connection {cid:x}: a record between {sorted(got)}, "
                    f"OPEN between {ca}:{cp} and {sa}:{sp}")
    return len(by_conn(records))


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
             request=None, sent_body=None):
    """One TLS connection between a hooked client and a hooked server:
    each side's capture equals the other's, byte for byte, in both
    directions, and both sides agree on the addresses and ports."""
    server_pids = {server_pid} if isinstance(server_pid, int) else set(server_pid)
    srv = [r for r in records if r.pid in server_pids]
    cli = [r for r in records if r.pid not in server_pids and
           (client_pid is None or r.pid == client_pid)]
    require(srv, f"no records from the server (pids {sorted(server_pids)})")
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
        head, sep, got = c_read.partition(b"\r\n\r\n")
        require(sep and head.startswith(b"HTTP/"), "client READ is no HTTP response")
        require(got == read_file(body),
                f"response body: captured {len(got)} B differ from {body}")
    if sent_body is not None:
        head, sep, got = c_write.partition(b"\r\n\r\n")
        require(sep, "client WRITE is no HTTP request")
        require(got == read_file(sent_body),
                f"request body: captured {len(got)} B differ from {sent_body}")
    # The client's local port, as the client saw it, is the source of the
    # server's READ records: both ends agree on the 4-tuple.
    c_first = next(r for r in cli if r.dir == WRITE)
    client_port = c_first.sport
    require(c_first.dport == server_port,
            f"client WRITE dport {c_first.dport}, server listens on {server_port}")
    check_flow(cli, "client", (addr, client_port), (addr, server_port))
    check_flow(srv, "server", (addr, server_port), (addr, client_port))
    # Each end knows its role: the client's OPEN is a WRITE (it is the
    # client), the server's a READ; both name the client first.
    for recs, role in ((cli, WRITE), (srv, READ)):
        for r in recs:
            require(r.type == TYPE_DATA or r.dir == role,
                    f"an OPEN or CLOSE of pid {r.pid} says dir {r.dir}, want {role}")
    return len(c_write), len(c_read), len(data(cli))


def local_port(recs):
    r = recs[0]
    return r.sport if r.dir == WRITE else r.dport


def remote_port(recs):
    r = recs[0]
    return r.dport if r.dir == WRITE else r.sport


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def conns(records, server_pid, server_port, addr, n, client_logs, server_logs,
          since=None):
    """n connections between hooked clients (any other pid) and a hooked
    server: paired by the client's port, each pair's captures equal each
    other and the peers' own logs (PREFIX.CLIENTPORT.sent/.got), in both
    directions, with the right 4-tuple; connection ids all distinct."""
    srv = [r for r in records if r.pid == server_pid]
    cli = [r for r in records if r.pid != server_pid]
    sc, cc = by_conn(srv), by_conn(cli)
    require(len(sc) == n, f"server: {len(sc)} connection ids, want {n}")
    require(len(cc) == n, f"clients: {len(cc)} connection ids, want {n}")
    require(not set(sc) & set(cc), "a connection id used by client and server")
    require(all(r.dropped == 0 for r in records), "a record reports dropped bytes")
    if since is not None:
        now = time.time_ns()
        require(all(since <= r.ts <= now for r in records),
                "a timestamp is outside the test's run (CLOCK_REALTIME)")
    fam = FAMILY_V6 if ":" in addr else FAMILY_V4
    require(all(r.family == fam for r in records), f"family is not {fam}")
    by_port = {}
    for cid, recs in sc.items():
        p = remote_port(recs)
        require(p not in by_port, f"two server connections from port {p}")
        by_port[p] = recs
    for cid, recs in cc.items():
        port = local_port(recs)
        require(len({r.pid for r in recs}) == 1, f"connection {cid:x} in several pids")
        require(port in by_port, f"client port {port}: no server connection")
        srecs = by_port[port]
        check_flow(recs, f"client:{port}", (addr, port), (addr, server_port))
        check_flow(srecs, f"server:{port}", (addr, server_port), (addr, port))
        c_w, c_r = stream(recs, WRITE), stream(recs, READ)
        s_w, s_r = stream(srecs, WRITE), stream(srecs, READ)
        require(c_w == s_r, f"port {port}: client WRITE != server READ")
        require(s_w == c_r, f"port {port}: server WRITE != client READ")
        require(c_w == read_file(f"{client_logs}.{port}.sent"),
                f"port {port}: client WRITE != what the client sent")
        require(c_r == read_file(f"{client_logs}.{port}.got"),
                f"port {port}: client READ != what the client received")
        require(s_w == read_file(f"{server_logs}.{port}.sent"),
                f"port {port}: server WRITE != what the server sent")
        require(s_r == read_file(f"{server_logs}.{port}.got"),
                f"port {port}: server READ != what the server received")
    return len(cc)


def one_side(records, pid, logs, exact):
    """The single connection of pid, against its own logs: exact (every
    byte, no drop reported), or accounted (captured + dropped = all bytes,
    with some loss reported)."""
    recs = [r for r in records if r.pid == pid]
    conns_ = by_conn(recs)
    require(len(conns_) == 1, f"pid {pid}: {len(conns_)} connection ids, want 1")
    port = local_port(recs)
    recs = data(recs)
    sent = read_file(f"{logs}.{port}.sent")
    got = read_file(f"{logs}.{port}.got")
    captured = sum(r.msg_len for r in recs)
    dropped = sum(r.dropped for r in recs)
    if exact:
        require(dropped == 0, f"{dropped} bytes reported dropped")
        require(stream(recs, WRITE) == sent, "WRITE differs from what was sent")
        require(stream(recs, READ) == got, "READ differs from what was received")
    else:
        require(dropped > 0, "nothing reported dropped")
        require(captured + dropped == len(sent) + len(got),
                f"captured {captured} + dropped {dropped} != {len(sent) + len(got)} bytes moved")
        # What got through are pieces of what moved, in order.
        for dir_, moved in ((WRITE, sent), (READ, got)):
            pos = 0
            for r in recs:
                if r.dir != dir_:
                    continue
                at = moved.find(r.data, pos)
                require(at >= 0, f"a dir {dir_} record is not the next piece of what moved")
                pos = at + len(r.data)
    return captured, dropped


def in_process(records, logs):
    """A client and a server in one process (probe.c): two connections,
    the client's (its WRITE begins with logs.c2s) and the server's; each
    equals the probe's own logs both ways; they mirror each other's ports."""
    conns_ = by_conn(records)
    require(len(conns_) == 2, f"{len(conns_)} connection ids, want 2")
    require(len({r.pid for r in records}) == 1, "records from several pids")
    c2s, s2c = read_file(logs + ".c2s"), read_file(logs + ".s2c")
    cli = [rs for rs in conns_.values() if stream(rs, WRITE) == c2s]
    srv = [rs for rs in conns_.values() if stream(rs, WRITE) == s2c]
    require(len(cli) == 1, "no connection's WRITE equals what the client sent")
    require(len(srv) == 1, "no connection's WRITE equals what the server sent")
    cli, srv = cli[0], srv[0]
    require(stream(cli, READ) == s2c, "client READ differs from what the server sent")
    require(stream(srv, READ) == c2s, "server READ differs from what the client sent")
    require(all(r.family == FAMILY_V4 for r in records), "family is not IPv4")
    require(local_port(cli) == remote_port(srv) and local_port(srv) == remote_port(cli),
            "client and server disagree on the ports")
    check_flow(cli, "client", ("127.0.0.1", local_port(cli)), ("127.0.0.1", local_port(srv)))
    check_flow(srv, "server", ("127.0.0.1", local_port(srv)), ("127.0.0.1", local_port(cli)))
    require(all(r.dropped == 0 for r in records), "drops reported")


def fork(records, server_pid, logs):
    """tlspeer.py fork against a server of pid server_pid: the parent's
    session, carried on by the child, and the child's own; PREFIX.parent
    and PREFIX.child give their pids and local ports. Both client
    connections equal the peers' logs and the server's captures. The
    child leaves with _exit(): its own connection has no CLOSE. Returns
    its pid."""
    with open(logs + ".parent") as f:
        ppid, _ = map(int, f.read().split())
    with open(logs + ".child") as f:
        cpid, _ = map(int, f.read().split())
    pids = {r.pid for r in records}
    require(pids == {server_pid, ppid, cpid},
            f"pids {sorted(pids)}, want server, parent, child")
    cli = by_conn([r for r in records if r.pid != server_pid])
    srv = by_conn([r for r in records if r.pid == server_pid])
    require(len(cli) == 2 and len(srv) == 2, "want 2 connections on each side")
    for rs in cli.values():
        p = local_port(rs)
        srs = [s for s in srv.values() if remote_port(s) == p]
        require(len(srs) == 1, f"port {p}: no server connection")
        for d, k in ((WRITE, "sent"), (READ, "got")):
            require(stream(rs, d) == read_file(f"{logs}.{p}.{k}"),
                    f"port {p}: client {k} differs from its capture")
        require(stream(rs, WRITE) == stream(srs[0], READ), f"port {p}: c->s")
    require(all(r.dropped == 0 for r in records), "drops reported")
    return cpid


def exec_(records, logs):
    """A program's client connection PREFIX.a, then, after execve(), the
    new program's PREFIX.b (tests/host/hook-ring.sh): one pid, each
    connection equal to its own logs."""
    require(len({r.pid for r in records}) == 1, "exec changed the pid?")
    for who in "ab":
        sent = glob.glob(f"{logs}.{who}.*.sent")
        require(len(sent) == 1, f"{who}: {len(sent)} connection logs, want 1")
        port = int(sent[0].split(".")[-2])
        mine = [r for r in records if local_port([r]) == port]
        require(stream(mine, WRITE) == read_file(sent[0]), f"{who}: WRITE differs")
        require(stream(mine, READ) == read_file(sent[0][:-4] + "got"),
                f"{who}: READ differs")


def writers(records, uids, default_uid):
    """Every record carries its writer as the sender's kernel stamped it:
    the pid of the process that wrote it (the record's own pid field) and
    that process's uid, uids[pid] or default_uid."""
    require(records, "no records")
    for r in records:
        require(r.writer_pid is not None, "the records do not name their writers")
        want = (r.pid, uids.get(r.pid, default_uid))
        require((r.writer_pid, r.writer_uid) == want,
                f"a record of pid {r.pid} stamped with writer {r.writer_pid} "
                f"uid {r.writer_uid}, want {want[0]} uid {want[1]}")
    return sorted({r.pid for r in records})


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
    p.add_argument("--server-pid", required=True,
                   help="pid, or comma-separated pids (nginx workers)")
    p.add_argument("--client-pid", type=int)
    p.add_argument("--server-port", type=int, required=True)
    p.add_argument("--addr", required=True)
    for k in ("client-sent", "client-got", "server-sent", "server-got"):
        p.add_argument("--" + k)
    p.add_argument("--allow-drops", action="store_true")
    p.add_argument("--since", type=int, help="ns since the epoch: no record is older")
    p.add_argument("--body", help="client READ is an HTTP response with this body")
    p.add_argument("--request", help="client WRITE starts with this")
    p.add_argument("--sent-body", help="client WRITE is an HTTP request with this body")
    p = sub.add_parser("conns")
    p.add_argument("records")
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--server-port", type=int, required=True)
    p.add_argument("--addr", required=True)
    p.add_argument("--conns", type=int, required=True)
    p.add_argument("--client-logs", required=True)
    p.add_argument("--server-logs", required=True)
    p.add_argument("--since", type=int)
    p.add_argument("--max-record", type=int,
                   help="no record carries more bytes, some exactly as many")
    p = sub.add_parser("one-side")
    p.add_argument("records")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--logs", required=True)
    p.add_argument("--accounted", action="store_true",
                   help="losses allowed but every byte captured or counted")
    p.add_argument("--max-record", type=int, help="no record carries more")
    p.add_argument("--loss-report", action="store_true",
                   help="the last data records are loss reports (msg_len 0), one per direction")
    p = sub.add_parser("in-process")
    p.add_argument("records")
    p.add_argument("--logs", required=True)
    p = sub.add_parser("fork")
    p.add_argument("records")
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--logs", required=True)
    p = sub.add_parser("exec")
    p.add_argument("records")
    p.add_argument("--logs", required=True)
    for name in ("exchange", "conns", "one-side", "in-process", "fork", "exec"):
        p = sub.choices[name]
        p.add_argument("--unclosed", action="store_true",
                       help="connections may lack their CLOSE (killed writers)")
        p.add_argument("--lossy", action="store_true",
                       help="records were dropped: OPEN and CLOSE may be missing")
        p.add_argument("--open-pid", dest="open_pids", type=int, action="append", default=[],
                       help="this pid's connections may lack their CLOSE")
        p.add_argument("--writers", action="store_true",
                       help="every record names its writer: its own pid and uid")
        p.add_argument("--uid", action="append", default=[], metavar="PID:UID",
                       help="with --writers: the uid of that pid's records")
        p.add_argument("--default-uid", type=int, default=0,
                       help="with --writers: the uid of every other pid's records")
    p = sub.add_parser("count")
    p.add_argument("records")
    p.add_argument("--pid", type=int)
    p = sub.add_parser("pids")
    p.add_argument("records")
    p = sub.add_parser("dump")
    p.add_argument("records")
    a = ap.parse_args()
    try:
        recs = parse(a.records) if hasattr(a, "records") else None
        if a.cmd == "freeport":
            print(freeport(a.v6))
        elif a.cmd == "exchange":
            spids = [int(x) for x in a.server_pid.split(",")]
            w, r, n = exchange(recs, spids, a.server_port, a.addr,
                               a.client_pid, a.client_sent, a.client_got,
                               a.server_sent, a.server_got, a.allow_drops, a.since,
                               a.body, a.request, a.sent_body)
            print(f"client wrote {w} B, read {r} B in {n} records; both ends agree")
        elif a.cmd == "conns":
            n = conns(recs, a.server_pid, a.server_port, a.addr, a.conns,
                      a.client_logs, a.server_logs, a.since)
            if a.max_record:
                require(all(r.msg_len <= a.max_record for r in recs),
                        f"a record carries more than {a.max_record} bytes")
                require(any(r.msg_len == a.max_record for r in recs),
                        f"no record of exactly {a.max_record} bytes")
            print(f"{n} connections: captures equal the peers' logs")
        elif a.cmd == "one-side":
            if a.max_record:
                require(all(r.msg_len <= a.max_record for r in recs),
                        f"a record carries more than {a.max_record} bytes")
            c, d = one_side(recs, a.pid, a.logs, not a.accounted)
            if a.loss_report:
                # One loss report per direction that lost bytes, at the end.
                mine = data([r for r in recs if r.pid == a.pid])
                n = len(mine)
                while n and mine[n - 1].msg_len == 0:
                    n -= 1
                tail = mine[n:]
                require(tail and all(r.dropped > 0 for r in tail),
                        "the last data record is no loss report")
                require(len({r.dir for r in tail}) == len(tail),
                        "two loss reports for one direction")
                require(all(r.msg_len for r in mine[:n]), "a loss report before the end")
            print(f"captured {c} B, dropped {d} B")
        elif a.cmd == "in-process":
            in_process(recs, a.logs)
            print("both connections equal the probe's logs")
        elif a.cmd == "fork":
            # The child leaves with _exit(): its own connection stays open.
            a.open_pids.append(fork(recs, a.server_pid, a.logs))
            print("parent and child: captures equal the peers' logs")
        elif a.cmd == "exec":
            exec_(recs, a.logs)
            print("before and after exec: captures equal the logs")
        elif a.cmd == "count":
            print(sum(1 for r in recs if a.pid is None or r.pid == a.pid))
        elif a.cmd == "pids":
            print(*sorted({r.pid for r in recs}))
        elif a.cmd == "dump":
            for r in recs:
                print(f"pid={r.pid} writer={r.writer_pid}/{r.writer_uid} "
                      f"conn={r.conn_id:016x} dir={'RW'[r.dir - 1]} "
                      f"fam={r.family} {addr_text(r, 's')}:{r.sport} -> "
                      f"{addr_text(r, 'd')}:{r.dport} len={r.msg_len} "
                      f"dropped={r.dropped} ts={r.ts} data={r.data[:40]!r}")
        if hasattr(a, "unclosed"):
            n = lifecycle(recs, not a.unclosed, a.open_pids, a.lossy)
            print(f"{n} connections: each its OPEN first"
                  f"{'' if a.unclosed or a.lossy else ', its CLOSE last'}")
        if getattr(a, "writers", False):
            uids = dict(tuple(map(int, u.split(":"))) for u in a.uid)
            pids = writers(recs, uids, a.default_uid)
            print(f"{len(recs)} records of pids {pids}: each stamped with its writer")
    except CheckFailed as e:
        print(e)
        sys.exit(1)


if __name__ == "__main__":
    main()
