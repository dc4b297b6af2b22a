#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Checks what came out at the far end of the Secure Forward.

  check.py JSON --sender ADDR --wait SECONDS
           [--rev PORT SERVER_PID CLIENT_SENT CLIENT_GOT]...
           [--http PORT SERVER_PID REQUEST_LINE BODY]...
           [--tunnel CAPTURE] [--clear CAPTURE] [--min-record BYTES]

JSON is tlstap-recv's output (--output json). Waits up to SECONDS until
every exchange's plaintext has arrived, then checks, and prints one line
of figures, or "FAIL: reason" with exit status 1:

- every line is a data record (or a connection's OPEN or CLOSE) without
  dropped bytes, all from one
  tlstap-fwd stream sent from ADDR, record ids 0..n-1 in file order (the
  byte stream kept every record whole and in order), and every record
  belongs to one of the exchanges;
- per exchange (a hooked server on PORT with SERVER_PID, one hooked
  client, one connection each): both ends' captures equal each other in
  both directions, byte for byte, and both ends agree on the addresses
  and ports; each process's records are in the order it made its calls
  (timestamps never go back along the record ids);
- --rev: openssl s_server -rev: the client's WRITE is CLIENT_SENT, its
  READ is CLIENT_GOT (what s_client printed);
- --http: openssl s_server -WWW: the client's WRITE starts with
  REQUEST_LINE, its READ is an HTTP response whose body is BODY;
- --min-record: at least one record carries more than BYTES of plaintext
  (so a datagram larger than socat's default 8192-byte buffer crossed);
- --tunnel CAPTURE (frames captured between application host and
  gateway): none of the plaintext's distinctive pieces appears in it, yet
  it carried at least as many bytes as the plaintext;
- --clear CAPTURE (frames between gateway and IDS, plain UDP): most of
  those pieces do appear, so the search above would have found them.
"""
import argparse
import base64
import json
import sys
import time


class CheckFailed(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def load(path):
    """Complete lines of tlstap-recv's output (the last may be partial
    while it is still writing)."""
    recs = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break
            try:
                r = json.loads(line)
            except ValueError as e:
                raise CheckFailed(f"{path}:{n}: not JSON: {e}")
            r["_data"] = base64.b64decode(r["data"], validate=True) \
                if "data" in r else b""
            recs.append(r)
    return recs


def stream(side, direction):
    return b"".join(r["_data"] for r in side if r["dir"] == direction)


class Exchange:
    def __init__(self, kind, port, server_pid, a, b):
        self.kind, self.port, self.server_pid = kind, int(port), int(server_pid)
        if kind == "rev":
            self.client_sent, self.client_got = read_file(a), read_file(b)
        else:
            self.request, self.body = a.encode(), read_file(b)

    def mine(self, r):
        return self.port in (r.get("sport"), r.get("dport"))

    def sides(self, recs):
        own = [r for r in recs if self.mine(r)]
        return ([r for r in own if r["pid"] != self.server_pid],
                [r for r in own if r["pid"] == self.server_pid])

    def arrived(self, recs):
        """Both ends' records of both directions are all there."""
        cli, srv = self.sides(recs)
        c_write, c_read = stream(cli, "write"), stream(cli, "read")
        s_write, s_read = stream(srv, "write"), stream(srv, "read")
        if self.kind == "rev":
            return (len(c_write) >= len(self.client_sent) and
                    len(s_read) >= len(self.client_sent) and
                    len(c_read) >= len(self.client_got) and
                    len(s_write) >= len(self.client_got))
        return (b"\r\n\r\n" in c_write and b"\r\n\r\n" in s_read and
                len(c_read) > len(self.body) and len(s_write) > len(self.body)
                and c_read.endswith(self.body[-64:])
                and s_write.endswith(self.body[-64:]))

    def check(self, recs):
        name = f"{self.kind} exchange on port {self.port}"
        cli, srv = self.sides(recs)
        require(srv, f"{name}: no records from the server (pid {self.server_pid})")
        require(cli, f"{name}: no records from the client")
        require(len({r["pid"] for r in cli}) == 1,
                f"{name}: client records from several pids")
        for who, side in (("server", srv), ("client", cli)):
            conns = {r["conn_id"] for r in side}
            require(len(conns) == 1, f"{name}: {who} has {len(conns)} connection ids")
            times = [r["time_ns"] for r in side]
            require(times == sorted(times),
                    f"{name}: {who}'s records are not in the order of its calls")

        c_write, c_read = stream(cli, "write"), stream(cli, "read")
        s_write, s_read = stream(srv, "write"), stream(srv, "read")
        require(c_write == s_read,
                f"{name}: client WRITE ({len(c_write)} B) and server READ ({len(s_read)} B) differ")
        require(s_write == c_read,
                f"{name}: server WRITE ({len(s_write)} B) and client READ ({len(c_read)} B) differ")
        if self.kind == "rev":
            require(c_write == self.client_sent,
                    f"{name}: client WRITE ({len(c_write)} B) is not what it sent "
                    f"({len(self.client_sent)} B)")
            require(c_read == self.client_got,
                    f"{name}: client READ ({len(c_read)} B) is not what it printed "
                    f"({len(self.client_got)} B)")
        else:
            require(c_write.startswith(self.request + b"\r\n"),
                    f"{name}: client WRITE starts {c_write[:40]!r}")
            head, sep, body = c_read.partition(b"\r\n\r\n")
            require(sep and head.startswith(b"HTTP/1.0 200"),
                    f"{name}: client READ is no HTTP 200 response: {c_read[:40]!r}")
            require(body == self.body,
                    f"{name}: response body ({len(body)} B) differs from the file "
                    f"({len(self.body)} B)")
        # Both ends agree on the 4-tuple: the server's READ comes from the
        # client's source address and port, and so on.
        first = next(r for r in cli if r["dir"] == "write")
        client = (first["src"], first["sport"])
        server = (first["dst"], first["dport"])
        require(server[1] == self.port, f"{name}: client wrote to port {server[1]}")
        for who, side, local, remote in (("client", cli, client, server),
                                         ("server", srv, server, client)):
            for r in side:
                got = ((r["src"], r["sport"]), (r["dst"], r["dport"]))
                want = (local, remote) if r["dir"] == "write" else (remote, local)
                require(got == want,
                        f"{name}: {who} {r['dir']} record has {got}, want {want}")
        return len(c_write), len(c_read)

    def pieces(self):
        """Distinctive slices of this exchange's plaintext, 24 bytes each."""
        data = self.client_sent if self.kind == "rev" else self.body
        step = max(len(data) // 40, 24)
        return [data[i:i + 24] for i in range(0, len(data) - 24, step)]


def check_captures(exchanges, plaintext, tunnel, clear):
    pieces = [p for x in exchanges for p in x.pieces()]
    if tunnel:
        frames = read_file(tunnel)
        require(len(frames) >= plaintext,
                f"the tunnel capture holds {len(frames)} B, less than the "
                f"{plaintext} B of plaintext that crossed it")
        seen = [p for p in pieces if p in frames]
        require(not seen, f"plaintext in clear between application host and "
                f"gateway: {seen[:1]!r}")
    if clear:
        frames = read_file(clear)
        seen = sum(p in frames for p in pieces)
        require(seen * 2 >= len(pieces),
                f"only {seen} of {len(pieces)} plaintext pieces found in the "
                f"clear capture: the tunnel search proves nothing")


def check(args, exchanges):
    deadline = time.monotonic() + args.wait
    while True:
        recs = load(args.json)
        if all(x.arrived(recs) for x in exchanges) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.1)
    require(recs, "no records arrived")
    for n, r in enumerate(recs):
        require(r["type"] in ("data", "open", "close"),
                f"record {n} is a {r['type']} record")
        require(r["dropped"] == 0, f"record {n} reports {r['dropped']} dropped bytes")
        want_data = r["type"] == "data"
        require(r["len"] == len(r["_data"]) and (r["len"] > 0) == want_data,
                f"record {n} ({r['type']}): len {r['len']} but {len(r['_data'])} bytes of data")
        require(r["record_id"] == n,
                f"line {n + 1} holds record id {r['record_id']}: a record was "
                f"lost, cut or reordered")
    streams = {r["stream"] for r in recs}
    require(len(streams) == 1, f"{len(streams)} sender streams")
    senders = {r["sender"].rsplit(":", 1)[0] for r in recs}
    require(senders == {args.sender}, f"records sent from {sorted(senders)}")
    stray = [r for r in recs if not any(x.mine(r) for x in exchanges)]
    require(not stray, f"{len(stray)} records belong to no exchange")
    figures = [x.check(recs) for x in exchanges]
    largest = max(r["len"] for r in recs)
    if args.min_record is not None:
        require(largest > args.min_record,
                f"the largest record holds {largest} B, not more than {args.min_record}")
    plaintext = sum(len(r["_data"]) for r in recs)
    check_captures(exchanges, plaintext, args.tunnel, args.clear)
    print(f"{len(recs)} records, {plaintext} B of plaintext, largest {largest} B; "
          + "; ".join(f"{x.kind}: {w} B sent, {g} B received"
                      for x, (w, g) in zip(exchanges, figures)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("json")
    p.add_argument("--sender", required=True)
    p.add_argument("--wait", type=float, default=30)
    p.add_argument("--rev", nargs=4, action="append", default=[],
                   metavar=("PORT", "SERVER_PID", "CLIENT_SENT", "CLIENT_GOT"))
    p.add_argument("--http", nargs=4, action="append", default=[],
                   metavar=("PORT", "SERVER_PID", "REQUEST_LINE", "BODY"))
    p.add_argument("--min-record", type=int)
    p.add_argument("--tunnel")
    p.add_argument("--clear")
    args = p.parse_args()
    exchanges = [Exchange("rev", *a) for a in args.rev] + \
        [Exchange("http", *a) for a in args.http]
    if not exchanges:
        p.error("no exchange to check")
    try:
        check(args, exchanges)
    except CheckFailed as e:
        print(f"FAIL: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
