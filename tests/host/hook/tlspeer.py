#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""TLS test peers built on Python's ssl module (SSL_read_ex/SSL_write_ex).

Protocol: the client sends frames (4-byte big-endian length + bytes); the
server answers each with a frame of the same length holding the bytes
reversed; a zero-length frame ends the connection. Every peer logs the
exact bytes it sent and received, per connection, to PREFIX.PORT.sent and
PREFIX.PORT.got, PORT being the client's port: the tests compare the
hook's capture with these logs.

  tlspeer.py server ADDR PORT CERT KEY PREFIX [--conns N]
  tlspeer.py client ADDR PORT PREFIX --sizes 5,300000 [--sni NAME]
        [--threads T --conns-per-thread C] [--wait-before-last PATH]
        [--wait-before-close PATH] [--wait-after-first PATH]
        [--take-over-fds] [--spawn N] [--close-socket-first PATH]
  tlspeer.py fork ADDR PORT PREFIX        connect, fork mid-session
  tlspeer.py exec ADDR PORT PREFIX        a connection, execve(), another
  tlspeer.py memory PREFIX CERT KEY       two sessions over memory BIOs
"""
import argparse
import os
import random
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time


class Logged:
    """A TLS socket whose traffic is logged under PREFIX.PORT."""

    def __init__(self, sock, prefix, port):
        self.sock = sock
        self.sent = open(f"{prefix}.{port}.sent", "ab")
        self.got = open(f"{prefix}.{port}.got", "ab")

    def send(self, data):
        self.sock.sendall(data)
        self.sent.write(data)
        self.sent.flush()

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("peer closed")
            buf += chunk
        self.got.write(buf)
        self.got.flush()
        return buf

    def close(self):
        self.sent.close()
        self.got.close()


def frame(data):
    return struct.pack(">I", len(data)) + data


def payload(n, rng):
    return bytes(rng.getrandbits(8) for _ in range(n)) if n < 4096 else os.urandom(n)


def serve_conn(conn, ctx, prefix):
    peer_port = conn.getpeername()[1]
    with ctx.wrap_socket(conn, server_side=True) as tls:
        lg = Logged(tls, prefix, peer_port)
        while True:
            n = struct.unpack(">I", lg.recv_exact(4))[0]
            if n == 0:
                break
            data = lg.recv_exact(n)
            lg.send(frame(data[::-1]))
        lg.close()
        try:
            tls.unwrap()
        except (ssl.SSLError, OSError):
            pass


def cmd_server(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(128)
    threads = []
    for _ in range(a.conns):
        conn, _ = ls.accept()
        t = threading.Thread(target=serve_conn, args=(conn, ctx, a.prefix))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(a, ctx):
    raw = socket.create_connection((a.addr, a.port), timeout=60)
    tls = ctx.wrap_socket(raw, server_hostname=a.sni)
    return Logged(tls, a.prefix, tls.getsockname()[1]), tls


def rounds(lg, sizes, rng):
    for n in sizes:
        data = payload(n, rng)
        lg.send(frame(data))
        n2 = struct.unpack(">I", lg.recv_exact(4))[0]
        if lg.recv_exact(n2) != data[::-1]:
            raise SystemExit("server answered wrongly")


def wait_for(path):
    """Says it waits (PATH.waiting), then waits until PATH exists."""
    open(path + ".waiting", "w").close()
    for _ in range(1200):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise SystemExit(f"{path} never appeared")


def take_over_fds(lg, prefix):
    """What a daemon may do: close every descriptor but its own, then
    open files until the numbers freed are all taken again."""
    keep = {0, 1, 2, lg.sock.fileno(), lg.sent.fileno(), lg.got.fileno()}
    before = high_fds()
    freed = [int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) not in keep]
    for fd in freed:
        try:
            os.close(fd)
        except OSError:
            pass
    top = max(freed + [3])
    opened = []
    while not opened or opened[-1] < top:
        opened.append(os.open(f"{prefix}.junk.{len(opened)}",
                              os.O_WRONLY | os.O_CREAT, 0o644))
    # The descriptors at or above the hook's floor before, and those the
    # program now holds at the same numbers.
    with open(prefix + ".fds", "w") as f:
        f.write(f"{before}\n{sorted(set(before) & set(opened))}\n")
    return opened


def high_fds():
    """The hook keeps its output at 100 or above; the program stays below."""
    return sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) >= 100)


def one_client(a, ctx, seed):
    rng = random.Random(seed)
    lg, tls = connect(a, ctx)
    sizes = a.sizes
    if a.wait_after_first:
        rounds(lg, sizes[:1], rng)
        wait_for(a.wait_after_first)
        sizes = sizes[1:]
    if a.spawn:
        # subprocess uses vfork(); the child closes every descriptor.
        rounds(lg, sizes[:1], rng)
        before = high_fds()
        for _ in range(a.spawn):
            subprocess.run(["true"], check=True)
            rounds(lg, sizes[1:], rng)
        with open(a.prefix + ".fds", "w") as f:
            f.write(f"{before}\n{high_fds()}\n")
    elif a.take_over_fds:
        rounds(lg, sizes[:1], rng)
        take_over_fds(lg, a.prefix)
        rounds(lg, sizes[1:], rng)
    elif a.wait_before_last:
        rounds(lg, sizes[:-1], rng)
        wait_for(a.wait_before_last)
        rounds(lg, sizes[-1:], rng)
    else:
        rounds(lg, sizes, rng)
    lg.send(frame(b""))
    lg.close()
    if a.wait_before_close:
        wait_for(a.wait_before_close)
    if a.close_socket_first:
        # The socket's descriptor closed while the session lives on: the
        # CLOSE is close()'s, not SSL_free's (detach() frees the session
        # without closing the descriptor again). The times around it go
        # to PATH.
        t0 = time.time_ns()
        os.close(tls.fileno())
        time.sleep(0.3)
        t1 = time.time_ns()
        tls.detach()
        with open(a.close_socket_first, "w") as f:
            f.write(f"{t0} {t1}\n")
        return
    tls.close()


def cmd_client(a):
    ctx = client_ctx()
    if a.threads == 1 and a.conns_per_thread == 1:
        one_client(a, ctx, 1)
        return
    errors = []

    def worker(t):
        try:
            for c in range(a.conns_per_thread):
                one_client(a, ctx, t * 1000 + c)
        except Exception as e:  # reported after join
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit(f"client errors: {errors[:3]}")


def cmd_fork(a):
    """Handshake and one round in the parent; the child goes on with the
    same session (two rounds and the end), then opens a session of its
    own. A TLS session has one sequence number per direction: only one of
    the two processes may use it after the fork. Pids and ports go to
    PREFIX.parent and PREFIX.child."""
    ctx = client_ctx()
    rng = random.Random(7)
    lg, tls = connect(a, ctx)
    rounds(lg, [100], rng)
    with open(a.prefix + ".parent", "w") as f:
        f.write(f"{os.getpid()} {tls.getsockname()[1]}\n")
    lg.sent.flush()
    lg.got.flush()
    pid = os.fork()
    if pid == 0:
        try:
            rounds(lg, [200, 70000], rng)
            lg.send(frame(b""))
            lg2, tls2 = connect(a, ctx)
            rounds(lg2, [300], rng)
            lg2.send(frame(b""))
            with open(a.prefix + ".child", "w") as f:
                f.write(f"{os.getpid()} {tls2.getsockname()[1]}\n")
            os._exit(0)
        except BaseException as e:
            print(f"child: {e!r}", file=sys.stderr)
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if status:
        raise SystemExit("child failed")


def cmd_exec(a):
    """A connection (PREFIX.a, two rounds), then execve() of this script as
    a new program that makes another (PREFIX.b). Each program first lists
    its descriptors at 100 and above (PREFIX.fds0, PREFIX.fds): the second
    must have what the first had before any TLS call, the hook's gone."""
    first = not a.after_exec
    with open(a.prefix + (".fds0" if first else ".fds"), "w") as f:
        f.write(f"{high_fds()}\n")
    conn = argparse.Namespace(**vars(a))
    conn.prefix = a.prefix + (".a" if first else ".b")
    conn.sizes = [100, 5000] if first else [300, 7000]
    one_client(conn, client_ctx(), 1)
    if first:
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__),
                                  "exec", a.addr, str(a.port), a.prefix,
                                  "--after-exec"])


def cmd_memory(a):
    """Client and server SSLObjects joined by memory BIOs, no socket."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(a.cert, a.key)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    cli = client_ctx().wrap_bio(c_in, c_out, server_hostname="memory.test")
    srv = sctx.wrap_bio(s_in, s_out, server_side=True)

    def pump():
        s_in.write(c_out.read())
        c_in.write(s_out.read())

    for _ in range(10):
        for obj in (cli, srv):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        pump()
    logs = {}
    for name in ("client", "server"):
        logs[name] = {k: open(f"{a.prefix}.{name}.{k}", "wb") for k in ("sent", "got")}
    for n in (11, 5000, 100000):
        data = os.urandom(n)
        cli.write(data)
        logs["client"]["sent"].write(data)
        pump()
        got = b""
        while len(got) < n:
            got += srv.read(n - len(got))
        logs["server"]["got"].write(got)
        srv.write(got[::-1])
        logs["server"]["sent"].write(got[::-1])
        pump()
        back = b""
        while len(back) < n:
            back += cli.read(n - len(back))
        logs["client"]["got"].write(back)
    for d in logs.values():
        for f in d.values():
            f.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("server")
    for k in ("addr", "port", "cert", "key", "prefix"):
        p.add_argument(k)
    p.add_argument("--conns", type=int, default=1)
    for name in ("client", "fork", "exec"):
        p = sub.add_parser(name)
        for k in ("addr", "port", "prefix"):
            p.add_argument(k)
        p.add_argument("--sizes", default="5,300000,17")
        p.add_argument("--sni", default="peer.test")
        p.add_argument("--close-socket-first", metavar="PATH")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--conns-per-thread", type=int, default=1)
        p.add_argument("--wait-before-last", metavar="PATH",
                       help="before the last round, wait for PATH to exist")
        p.add_argument("--wait-before-close", metavar="PATH",
                       help="after the last frame, wait for PATH, then close")
        p.add_argument("--wait-after-first", metavar="PATH",
                       help="after the first round, wait for PATH to exist")
        p.add_argument("--spawn", type=int, default=0, metavar="N",
                       help="after the first round, run N subprocesses, each followed by the other rounds")
        p.add_argument("--take-over-fds", action="store_true",
                       help="after the first round, close and reuse every descriptor")
        if name == "exec":
            p.add_argument("--after-exec", action="store_true", help=argparse.SUPPRESS)
    p = sub.add_parser("memory")
    for k in ("prefix", "cert", "key"):
        p.add_argument(k)
    a = ap.parse_args()
    if hasattr(a, "port"):
        a.port = int(a.port)
    if hasattr(a, "sizes"):
        a.sizes = [int(x) for x in a.sizes.split(",")]
    {"server": cmd_server, "client": cmd_client, "fork": cmd_fork,
     "exec": cmd_exec, "memory": cmd_memory}[a.cmd](a)


if __name__ == "__main__":
    main()
