#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module's side of reliable delivery, against a peer that receives in
# the target's namespace and sends NACKs from there (tests/tools/nackpeer.py):
# resends, GAPs, heartbeats, NACKs that must be ignored, the rate limit.
. "$TLSTAP_SRC/tests/lib/vm.sh"

load_module
host_ns t1 1
ip -n t1 addr add 10.77.1.3/24 dev eth0
echo 50 >"$SYS/heartbeat_ms"
echo "add 10.77.1.2:7419" >"$SYS/targets"
ip netns exec t1 python3 "$TOOLS/nackpeer.py" 10.77.1.2 10.77.1.3 7419
cat "$SYS/stats"
