#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The userspace unit tests, built with ASan/UBSan, leak checks on: those
# of lib/ and of shared/'s userspace build (lib/tests/, shared/tests/),
# of tlstap-fwd (fwd/tests/) and of the receivers' core (nfq-tools/tests/).
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
for dir in lib fwd nfq-tools; do
	make -s -C "$SRC/$dir" SANITIZE=1 build-san/unit >"$log" 2>&1 ||
		{ echo "FAIL: unit: $dir: build failed: $(tail -n 3 "$log")"; exit 1; }
	timeout 120 "$SRC/$dir/build-san/unit" >"$log" 2>&1
	status=$?
	echo "$dir: $(tail -n 1 "$log")"
	if [ "$status" != 0 ]; then
		echo "FAIL: unit: $dir: $(grep -m1 -E 'FAIL|ERROR' "$log")"
		failed=1
	fi
done
exit $failed
