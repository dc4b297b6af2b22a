#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Where the hook's time goes in a perf recording of the nginx worker.

Usage: perfsplit.py PERF_DATA
Reads `perf script` call chains (cpu-clock samples with -g) and prints the
share of the worker's samples spent in the record's system calls (the
sendmsg or writev, and for a FIFO the SIGPIPE guard's rt_sigprocmask;
nginx's worker uses none of them for its TLS traffic: the uncaptured
profile has no such sample) and, inside them, in the kernel functions that
the Unix socket send calls directly, plus the samples in libtlstap.so's
own code. The call chains end in libc (libtlstap.so has no frame
pointers), so the system calls are recognised by libc's wrappers.
"""
import collections
import subprocess
import sys

SYSCALLS = {"__libc_sendmsg", "__sendmsg", "sendmsg", "__GI___writev",
            "__writev", "writev"}
SIGMASK = {"__GI___pthread_sigmask", "__pthread_sigmask", "pthread_sigmask",
           "pthread_sigmask@GLIBC_2.2.5", "pthread_sigmask@@GLIBC_2.32",
           "sigprocmask", "__sigprocmask", "sigpending", "__sigpending"}


def samples(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym,dso"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         check=True).stdout.decode(errors="replace")
    for block in out.split("\n\n"):
        frames = []
        for line in block.strip().splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2:
                sym, _, dso = parts[1].rpartition(" (")
                frames.append((sym.split("+")[0], dso.rstrip(")")))
        if frames:
            yield frames   # leaf first


def main():
    total = 0
    in_syscall = 0
    in_lib = 0
    parts = collections.Counter()
    for frames in samples(sys.argv[1]):
        total += 1
        if frames[0][1].endswith("libtlstap.so"):
            in_lib += 1
            continue
        syms = [s for s, _ in frames]
        if not (SYSCALLS | SIGMASK) & set(syms):
            continue
        in_syscall += 1
        part = "system call entry, exit, fd lookup"
        if SIGMASK & set(syms):
            parts["the FIFO's SIGPIPE guard (rt_sigprocmask, sigpending)"] += 1
            continue
        for i, s in enumerate(syms):
            if s in ("unix_dgram_sendmsg", "unix_seqpacket_sendmsg"):
                part = ("%s itself" % s) if i == 0 else \
                    "%s > %s" % (s, syms[i - 1])
                break
            if s in ("do_iter_write", "vfs_writev", "do_writev"):
                part = "writev to the output"
                break
        parts[part] += 1
    if not total:
        sys.exit("perfsplit: no samples in " + sys.argv[1])
    print("samples %d; libtlstap.so's own code %.1f%%; the record's system "
          "calls %.1f%%, of which (share of all samples):" % (
              total, 100.0 * in_lib / total, 100.0 * in_syscall / total))
    for part, n in parts.most_common(8):
        print("  %5.1f%%  %s" % (100.0 * n / total, part))


if __name__ == "__main__":
    main()
