# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Sourced after tests/host/nfq/lib.sh and pcap/nfqlib.sh by the tests of
# the receivers' TAP output (tests/host/tap-*.sh): the interface, tshark
# listening on it (or on another one), the frames the nft table dropped.

# wait_iface NS IFACE: until IFACE exists in NS and is up (10 s).
wait_iface() {
	local i
	for ((i = 0; i < 200; i++)); do
		ip -n "$(ns "$1")" link show "$2" 2>/dev/null | grep -q ',UP' &&
			return 0
		sleep 0.05
	done
	fail "no interface $2 up in $(ns "$1") after 10 s"
}

# start_capture NAME NS IFACE [TSHARK OPTION...]: tshark as the
# background job NAME, writing what IFACE carries to $TMP/NAME.pcapng;
# returns once it captures.
start_capture() {
	local name=$1 where=$2 iface=$3 i
	shift 3
	start_bg "$name" "$where" tshark -n -q -i "$iface" -w "$TMP/$name.pcapng" "$@"
	for ((i = 0; i < 400; i++)); do
		grep -q "Capturing on" "$TMP/$name.err" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "tshark on $iface did not start: $(tail -n 2 "$TMP/$name.err")"
}

# stop_capture NAME: tshark writes what it has and ends; how many packets
# it dropped (its own count, or the kernel's) must be none.
stop_capture() {
	sleep 0.5	# what was written last reaches its socket
	stop_bg "$1"
	grep -q "dropped" "$TMP/$1.err" &&
		! grep -qE "^0 packets dropped|[^0-9]0 packets dropped" "$TMP/$1.err" &&
		fail "tshark dropped packets: $(grep dropped "$TMP/$1.err")"
	return 0
}

# tap_dropped NS IFACE: the packets the nft table of the TAP output
# dropped in IFACE's ingress (its counter), or nothing if it is gone.
tap_dropped() {
	nft_counters "$1" netdev "tlstap_tap_$2" 2>/dev/null
}
