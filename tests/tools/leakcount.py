#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Prints "SKBS PAGES_KB": what a leak of tlstap.ko would leave behind,
for a test to compare before the module is loaded and after it is
unloaded (Debian's kernel has no kmemleak).

SKBS      sk_buffs allocated, exactly: the objects in use of
          skbuff_head_cache and skbuff_fclone_cache (neither is merged
          with another cache), each shrunk first, since the free objects
          of its per-CPU slabs count as in use. A leaked datagram is one.
PAGES_KB  memory the kernel holds in whole pages, after dropping the
          caches: MemTotal less MemFree, the free pages on the per-CPU
          lists (/proc/zoneinfo "count:", not in MemFree: megabytes of
          them come and go), Buffers, Cached (shmem included), slab
          (SReclaimable, SUnreclaim: it grows as a test uses network
          namespaces, nft, TCP), AnonPages, KernelStack, PageTables and
          VmallocUsed (modules nft loads on demand). What is left is the
          per-CPU areas and the pages drivers took with alloc_page(): a
          leaked ring page is in it, and one an sk_buff held.

Run as root. --detail: the figures it used, on stderr.
"""
import os
import sys

SKB_CACHES = ("skbuff_head_cache", "skbuff_fclone_cache")


def skbs():
    n = 0
    for cache in SKB_CACHES:
        base = f"/sys/kernel/slab/{cache}"
        with open(f"{base}/shrink", "w") as f:
            f.write("1")
        with open(f"{base}/objects") as f:
            n += int(f.read().split()[0])
    return n


def meminfo():
    m = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":")
            m[key] = int(value.split()[0])
    return m


def pcp_kb():
    """Free pages on the per-CPU lists, in KiB."""
    pages = 0
    with open("/proc/zoneinfo") as f:
        for line in f:
            w = line.split()
            if len(w) == 2 and w[0] == "count:":
                pages += int(w[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


NOT_PAGES = ("MemFree", "Buffers", "Cached", "SReclaimable", "SUnreclaim",
             "AnonPages", "KernelStack", "PageTables", "VmallocUsed")


def pages_kb(detail):
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")
    m = meminfo()
    m["pcp"] = pcp_kb()
    if detail:
        print(" ".join(f"{k}={m[k]}" for k in ("MemTotal", "pcp") + NOT_PAGES +
                       ("Percpu",)), file=sys.stderr)
    return m["MemTotal"] - m["pcp"] - sum(m[k] for k in NOT_PAGES)


if __name__ == "__main__":
    print(skbs(), pages_kb("--detail" in sys.argv[1:]))
