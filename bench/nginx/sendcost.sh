#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The cost of one record's system call to the writer, per output kind and
# per way the reader waits (sendcost.c), rounds alternating the cases;
# prints the median over the rounds of each figure as a Markdown table.
# Usage: bench/nginx/sendcost.sh
# Environment: ROUNDS (5), RECORDS per run (30000), SIZE bytes (1100: a
#   1 KiB response's record), GAP_US between records (28: nginx's rate),
#   POLL_US (500: tlstap-fwd's default), WRITER_CPU (0), READER_CPU (1).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-5}
RECORDS=${RECORDS:-30000}
SIZE=${SIZE:-1100}
GAP_US=${GAP_US:-28}
POLL_US=${POLL_US:-500}
WRITER_CPU=${WRITER_CPU:-0}
READER_CPU=${READER_CPU:-1}
make -s -C "$HERE" build/sendcost
PIPE_MAX=$(cat /proc/sys/fs/pipe-max-size)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
echo "sendcost.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds x $RECORDS records of $SIZE bytes, $GAP_US us apart, poll every $POLL_US us; socket send buffer 1 MiB asked (wmem_max $(cat /proc/sys/net/core/wmem_max)), pipe $PIPE_MAX bytes"
for round in $(seq "$ROUNDS"); do
	for kind in null dgram seqpacket fifo fifo-raw; do
		for mode in block poll; do
			[ $kind = null ] && [ $mode = poll ] && continue
			buf=1048576
			[ "${kind:0:4}" = fifo ] && buf=$PIPE_MAX
			"$HERE/build/sendcost" $kind $mode "$RECORDS" "$SIZE" "$GAP_US" \
				"$POLL_US" "$WRITER_CPU" "$READER_CPU" $buf >>"$OUT"
		done
	done
	echo "sendcost.sh: round $round done" >&2
done
python3 - "$OUT" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)\s+(\S+)\s+size.*median\s+([\d.]+) us mean\s+([\d.]+) us.*"
                 r"reader CPU\s+([\d.]+) us/rec, (\d+) wake-ups; dropped (\d+) of (\d+)", line)
    if not m:
        sys.exit("sendcost.sh: cannot read: " + line)
    k = (m.group(1), m.group(2))
    rows.setdefault(k, []).append([float(x) for x in m.groups()[2:]])
print("| output | reader | call median us | call mean us (lowest 98%) | "
      "reader CPU us/record | reader wake-ups per 1000 records | dropped |")
print("|---|---|---:|---:|---:|---:|---:|")
for (kind, mode), v in rows.items():
    med = [statistics.median(x[i] for x in v) for i in range(6)]
    print("| %s | %s | %.2f | %.2f | %.2f | %.0f | %.1f%% |" % (
        kind, "-" if kind == "null" else
        ("sleeps in epoll" if mode == "block" else "polls"),
        med[0], med[1], med[2], 1000 * med[3] / med[5], 100 * med[4] / med[5]))
PY
