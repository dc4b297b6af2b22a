#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes crafted records to /dev/tlstap and checks what write() returns.

usage: devwrite.py CASE...   (cases below; each prints what it checked)
Exit status 1 on the first unexpected result.
"""
import ctypes
import errno
import os
import random
import socket
import struct
import sys
import time

DEV = "/dev/tlstap"
libc = ctypes.CDLL(None, use_errno=True)


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def record(msg, rtype=1, dirn=2, family=4, hdr_len=72, sport=443, dport=5555,
           conn=7, msg_len=None, src="10.0.0.1", dst="10.0.0.2"):
    if family == 4:
        sa = socket.inet_aton(src) + bytes(12)
        da = socket.inet_aton(dst) + bytes(12)
    elif family == 6:
        sa = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
        da = socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    else:
        sa = da = bytes(16)
    n = len(msg) if msg_len is None else msg_len
    return struct.pack("!BBBBHHII16s16sQQQ", rtype, dirn, family, hdr_len,
                       sport, dport, n, os.getpid(), sa, da,
                       time.time_ns(), conn, 0) + msg


def expect(what, fn, want):
    """want: an int (bytes written) or an errno constant name."""
    try:
        got = fn()
    except OSError as e:
        got = errno.errorcode[e.errno]
    if got != want:
        print(f"FAIL {what}: got {got}, want {want}")
        sys.exit(1)
    print(f"ok   {what}: {got}")


def write(fd, data):
    return lambda: os.write(fd, data)


def case_no_target(fd):
    expect("no target configured", write(fd, record(b"x")), "EDESTADDRREQ")


def case_malformed(fd):
    good = record(b"hello")
    expect("valid record", write(fd, good), len(good))
    expect("short header", write(fd, good[:50]), "EINVAL")
    expect("truncated plaintext", write(fd, record(b"x" * 10)[:-1]), "EINVAL")
    # The first 81 bytes are a whole record; the stray byte is not.
    expect("plaintext longer than msg_len",
           write(fd, record(b"x" * 10, msg_len=9)), 81)
    expect("zeros", write(fd, bytes(72)), "EINVAL")
    expect("type 2", write(fd, record(b"x", rtype=2)), "EINVAL")
    expect("dir 0", write(fd, record(b"x", dirn=0)), "EINVAL")
    expect("family 10", write(fd, record(b"x", family=10)), "EINVAL")
    expect("hdr_len 80", write(fd, record(b"x", hdr_len=80)), "EINVAL")
    expect("msg_len 0", write(fd, record(b"")), "EINVAL")
    expect("port 0", write(fd, record(b"x", sport=0)), "EINVAL")
    expect("oversize", write(fd, record(b"", msg_len=65537)), "EMSGSIZE")
    expect("huge msg_len", write(fd, record(b"", msg_len=0xffffffff)),
           "EMSGSIZE")
    two = record(b"a" * 100) + record(b"b" * 3000, family=6)
    expect("two valid, then a bad one", write(fd, two + bytes(72)), len(two))
    expect("valid, then oversize", write(fd, good + record(b"", msg_len=1 << 20)),
           len(good))
    expect("valid, then truncated", write(fd, good + good[:-1]), len(good))
    rnd = random.Random(1)
    for i in range(2000):
        junk = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 300)))
        try:
            n = os.write(fd, junk)
            print(f"FAIL random bytes #{i} accepted: {n}")
            sys.exit(1)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EMSGSIZE):
                print(f"FAIL random bytes #{i}: {e}")
                sys.exit(1)
    print("ok   2000 random writes refused with EINVAL or EMSGSIZE")


def case_fault(fd):
    """A bad pointer in the middle of a record: the records before it are
    kept, the faulting record is aborted, not sent as if whole."""
    a = record(b"A" * 200, conn=1)
    b_hdr = record(b"", msg_len=5000, conn=2)
    bufs = [ctypes.create_string_buffer(a, len(a)),
            ctypes.create_string_buffer(b_hdr, len(b_hdr))]
    iov = (IoVec * 3)((ctypes.addressof(bufs[0]), len(a)),
                      (ctypes.addressof(bufs[1]), len(b_hdr)),
                      (0x1000, 5000))
    n = libc.writev(fd, iov, 3)
    err = ctypes.get_errno()
    if n != len(a):
        print(f"FAIL writev with a fault: got {n} ({os.strerror(err)}), want {len(a)}")
        sys.exit(1)
    print(f"ok   writev with a fault after one record: {n}")
    iov = (IoVec * 2)((ctypes.addressof(bufs[1]), len(b_hdr)), (0x1000, 5000))
    expect("writev faulting in the only record",
           lambda: _raise(libc.writev(fd, iov, 2)),
           "EFAULT")


def _raise(n):
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n


def case_flood(fd, nonblock):
    """16 KiB records into a 16-slot ring: a non-blocking writer must see
    EAGAIN, a blocking one must get every record in."""
    rec = record(b"F" * 16384, conn=99)
    written = eagain = 0
    for _ in range(300):
        try:
            os.write(fd, rec)
            written += 1
        except BlockingIOError:
            eagain += 1
    print(f"flood: written {written} eagain {eagain}")
    if nonblock and not eagain:
        print("FAIL no EAGAIN from a full ring")
        sys.exit(1)
    if not nonblock and written != 300:
        print("FAIL a blocking writer lost records")
        sys.exit(1)
    with open(os.environ["FLOOD_COUNT"], "w") as f:
        f.write(str(written))


def main():
    for case in sys.argv[1:]:
        flags = os.O_WRONLY | (os.O_NONBLOCK if case == "flood-nonblock" else 0)
        fd = os.open(DEV, flags)
        if case == "no-target":
            case_no_target(fd)
        elif case == "malformed":
            case_malformed(fd)
        elif case == "fault":
            case_fault(fd)
        elif case.startswith("flood"):
            case_flood(fd, case == "flood-nonblock")
        else:
            print(f"unknown case {case}")
            sys.exit(2)
        os.close(fd)


if __name__ == "__main__":
    main()
