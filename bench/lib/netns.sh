# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Sourced, not run, by bench/nginx/run.sh, bench/nginx/callgrind.sh and
# nfq-tools/bench/fwd-bench.sh: the network namespace tlstap-fwd sends
# from in a benchmark (the caller deletes it).
#
# Gives: sender_ns NS: namespace NS with lo up and a veth d0
# (10.99.0.1/24, up) to the target 10.99.0.2, its peer d0p still down in
# NS (to be moved to a receiver's namespace, or left down).
# blackhole_target NS: with d0p left down, a permanent neighbour entry for
# 10.99.0.2 (no ARP): the datagrams are built, handed to the device and
# dropped there (veth_xmit; this kernel has no dummy device).

sender_ns() {
	ip netns add "$1" &&
		ip -n "$1" link set lo up &&
		ip -n "$1" link add d0 type veth peer name d0p &&
		ip -n "$1" addr add 10.99.0.1/24 dev d0 &&
		ip -n "$1" link set d0 up
}

blackhole_target() {
	ip -n "$1" neigh add 10.99.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent
}
