#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Test receiver for libtlstap.so records.

Listens on a Unix datagram or seqpacket socket, or reads a FIFO, checks
every record strictly against include/uapi/linux/tlstap.h and appends the
valid ones, byte for byte, to --out. A writer's request for a capture
ring (docs/PROTOCOL.md 7.3) gets EOPNOTSUPP: it writes its records. Malformed input is reported on
stderr and makes the exit status 3. SIGTERM ends it cleanly; SIGSTOP /
SIGCONT pause it (the tests use that to fill the output).
"""
import argparse
import errno
import os
import selectors
import signal
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlstap_records as tr  # noqa: E402

MAX_DGRAM = tr.HDR_LEN + 65536 + 1
# struct tlstap_capring_msg (host order): type, status, size.
CAPRING_MSG = struct.Struct("=B3xIIxxxx")
CAPRING_CREATE, CAPRING_CREATED = 0x81, 0x82


class Reader:
    def __init__(self, out_path):
        self.out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.bad = 0
        self.count = 0

    def record(self, raw):
        why = tr.check_record(raw)
        if why:
            self.bad += 1
            print(f"reader: bad record ({len(raw)} bytes): {why}", file=sys.stderr)
            return
        self.count += 1
        os.write(self.out, raw)


def serve_dgram(path, reader, rcvbuf):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(path)
    os.chmod(path, 0o666)
    yield
    while True:
        reader.record(s.recv(MAX_DGRAM))


def serve_seqpacket(path, reader, rcvbuf):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls.bind(path)
    os.chmod(path, 0o666)
    ls.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    yield
    while True:
        for key, _ in sel.select():
            if key.fileobj is ls:
                c, _ = ls.accept()
                if rcvbuf:
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                sel.register(c, selectors.EVENT_READ)
                continue
            raw = key.fileobj.recv(MAX_DGRAM)
            if not raw:
                sel.unregister(key.fileobj)
                key.fileobj.close()
            elif raw[0] == CAPRING_CREATE and len(raw) == CAPRING_MSG.size:
                # A writer asks for a capture ring: this reader keeps none.
                key.fileobj.send(CAPRING_MSG.pack(CAPRING_CREATED, errno.EOPNOTSUPP, 0))
            else:
                reader.record(raw)


def serve_fifo(path, reader, rcvbuf):
    del rcvbuf
    # O_RDWR: the FIFO stays open for writers that come and go.
    fd = os.open(path, os.O_RDWR)
    yield
    buf = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        buf += chunk
        while len(buf) >= tr.HDR_LEN:
            msg_len = int.from_bytes(buf[8:12], "big")
            if msg_len > 65536 or buf[3] != tr.HDR_LEN:
                reader.record(buf)  # reported as bad
                os._exit(3)  # the stream cannot be resynchronized
            total = tr.HDR_LEN + msg_len
            if len(buf) < total:
                break
            reader.record(buf[:total])
            buf = buf[total:]


def main():
    ap = argparse.ArgumentParser()
    kind = ap.add_mutually_exclusive_group(required=True)
    kind.add_argument("--dgram")
    kind.add_argument("--seqpacket")
    kind.add_argument("--fifo")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ready", required=True, help="file created once listening")
    ap.add_argument("--rcvbuf", type=int, default=0)
    a = ap.parse_args()

    reader = Reader(a.out)

    def stop(signum, frame):
        del signum, frame
        # timeout(1) forwards a SIGTERM twice (to us and to its group):
        # leave at once, records are written unbuffered.
        os._exit(3 if reader.bad else 0)

    signal.signal(signal.SIGTERM, stop)
    if a.dgram:
        loop = serve_dgram(a.dgram, reader, a.rcvbuf)
    elif a.seqpacket:
        loop = serve_seqpacket(a.seqpacket, reader, a.rcvbuf)
    else:
        loop = serve_fifo(a.fifo, reader, a.rcvbuf)
    next(loop)
    with open(a.ready, "w") as f:
        f.write(str(os.getpid()))
    next(loop)


if __name__ == "__main__":
    main()
