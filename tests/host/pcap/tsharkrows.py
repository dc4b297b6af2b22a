# SPDX-License-Identifier: GPL-2.0 OR MIT
"""A capture file as tshark dissects it, a row of fields per frame, and
what every frame the pcap checkers read must be (check_https.py,
check_pcap.py, check_series.py)."""

import ipaddress
import subprocess
import sys

# Asked of every frame: what check_frame() looks at.
FRAME_FIELDS = ["frame.number", "_ws.malformed", "_ws.expert.severity",
                "tcp.checksum.status", "ip.src", "ip.checksum.status"]


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def norm(addr):
    return str(ipaddress.ip_address(addr))


def rows(path, fields, timeout=120):
    """A dict per frame of path: tshark's values of FRAME_FIELDS and
    fields (several occurrences joined by "|"), TCP and IPv4 checksums
    verified."""
    fields = FRAME_FIELDS + [f for f in fields if f not in FRAME_FIELDS]
    cmd = ["tshark", "-r", path, "-o", "tcp.check_checksum:TRUE",
           "-o", "ip.check_checksum:TRUE",
           "-o", "tcp.analyze_sequence_numbers:TRUE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        fail("tshark -r %s: %s" % (path, out.stderr.strip()[-300:]))
    found = []
    for line in out.stdout.splitlines():
        cols = line.split("\t")
        found.append(dict(zip(fields, cols + [""] * (len(fields) - len(cols)))))
    return found


def check_frame(r, where=""):
    """Fails unless the frame is well formed: not malformed, no expert
    error (a warning, such as a hole in the sequence numbers, is fine),
    its TCP checksum and an IPv4 header's good. where: e.g. the file."""
    frame = "%sframe %s" % (where + " " if where else "", r["frame.number"])
    if r["_ws.malformed"]:
        fail("%s is malformed" % frame)
    # Severity 0x00800000 is an error; 0x00600000 a warning.
    if any(int(s, 0) >= 0x00800000
           for s in r["_ws.expert.severity"].split("|") if s):
        fail("%s has an expert error" % frame)
    if r["tcp.checksum.status"] != "1":
        fail("%s: TCP checksum status %r (1 = good)"
             % (frame, r["tcp.checksum.status"]))
    if r["ip.src"] and r["ip.checksum.status"] != "1":
        fail("%s: IPv4 checksum status %r" % (frame, r["ip.checksum.status"]))


def ends(r):
    """The frame's source and destination, each (address, port)."""
    return ((norm(r["ip.src"] or r["ipv6.src"]), int(r["tcp.srcport"])),
            (norm(r["ip.dst"] or r["ipv6.dst"]), int(r["tcp.dstport"])))
