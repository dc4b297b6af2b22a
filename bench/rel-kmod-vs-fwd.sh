#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What reliable delivery costs, the module against tlstap-fwd, in one VM
# boot: the same recgen records (RECORDS, 1 B to 4 KiB, 100 flows) sent by
# tlstap.ko (written to /dev/tlstap) or by tlstap-fwd (--fifo, recgen
# writing into it) to tlstap-recv in a namespace, across a veth where
# netem drops 0%, 1% or 5% of the datagrams in each direction (NACKs
# too). One datagram per skb on both (module gso=N, tlstap-fwd --no-gso),
# so that netem drops single datagrams; both at 1472-byte datagrams.
# Replay: the module's ring_kb and tlstap-fwd's --replay-bytes, their
# defaults (4 MiB each) unless RING_KB / REPLAY say. Per run: DATA datagrams, the extra
# ones (retransmissions + GAPs + the receiver's NACKs) against them,
# heartbeats, LOST records, and the time from the first record written to
# the last one output by the receiver. Rounds alternate the senders.
# Runs inside the VM:
#   VM_SCRIPT=bench/rel-kmod-vs-fwd.sh \
#       VM_SCRIPT_ENV="ROUNDS=3 RECORDS=2000 [RING_KB=N REPLAY=BYTES]" \
#       VM_TEST_TIMEOUT=3600 tests/vm/harness/run
. "$TLSTAP_SRC/tests/lib/vm.sh"

load_module
modprobe -q sch_netem || fail "sch_netem"
echo N >/sys/module/tlstap/parameters/gso
[ -z "${RING_KB:-}" ] || echo "$RING_KB" >"$SYS/ring_kb"
echo "ring_kb $(cat "$SYS/ring_kb"), tlstap-fwd --replay-bytes ${REPLAY:-default}"
host_ns t1 1
# Neighbours for good: an entry gone stale between runs would make a new
# stream's first burst wait on ARP, whose queue drops most of it.
mac() { # NS DEV
	local l
	l=$(ip ${1:+-n "$1"} -br link show "$2")
	set -- $l
	echo "$3"
}
ip neigh replace 10.77.1.2 lladdr "$(mac t1 eth0)" dev vt1 nud permanent
ip -n t1 neigh replace 10.77.1.1 lladdr "$(mac "" vt1)" dev eth0 nud permanent
REPLAY=${REPLAY:-} python3 "$TLSTAP_SRC/bench/rel-kmod-vs-fwd.py" "$TLSTAP_SRC" "$WORK" \
	"${ROUNDS:-3}" "${RECORDS:-2000}"
