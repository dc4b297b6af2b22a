# SPDX-License-Identifier: GPL-2.0
"""Raw capture records, as tlstap-recv --output raw writes them and the
test writers their expected files: each a struct tlstap_record (72 bytes,
big-endian, include/uapi/linux/tlstap.h) and its plaintext, back to back.

HDR.unpack() gives the header's fields in order: type, dir, family,
hdr_len, sport, dport, msg_len, pid, saddr, daddr, timestamp_ns, conn_id,
dropped.
"""
import struct

HDR = struct.Struct("!BBBBHHII16s16sQQQ")
assert HDR.size == 72


def records(path, partial_ok=False):
    """Yields (header fields, record bytes) of each record of the file. A
    record cut short ends the program with an error, or, with partial_ok
    (a file still being written), the records."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while len(data) - pos >= HDR.size:
        h = HDR.unpack_from(data, pos)
        end = pos + HDR.size + h[6]
        if end > len(data):
            break
        yield h, data[pos:end]
        pos = end
    if pos != len(data) and not partial_ok:
        raise SystemExit(f"FAIL: {path}: truncated record at byte {pos}")
