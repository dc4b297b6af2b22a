#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The nfq-tools unit tests (parsers, SipHash vector, steering, packing,
# reassembly) built with ASan/UBSan, leak checks on.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
make -s -C "$SRC/nfq-tools" SANITIZE=1 >"$log" 2>&1 ||
	{ echo "FAIL: recv-unit: build failed: $(tail -n 3 "$log")"; exit 1; }
timeout 120 "$SRC/nfq-tools/build-san/unit" >"$log" 2>&1
status=$?
tail -n 1 "$log"
[ "$status" = 0 ] ||
	{ echo "FAIL: recv-unit: $(grep -m1 -E 'FAIL|ERROR' "$log")"; exit 1; }
