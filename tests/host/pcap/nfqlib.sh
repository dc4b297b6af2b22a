# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Sourced after tests/host/nfq/lib.sh by tests/host/nfq-*.sh and
# pcapng-*.sh: tlstap-nfq in a namespace, its nft rule, its counters.
PCAP_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# has_rule NS: the table inet tlstap exists in namespace NS.
has_rule() {
	ip netns exec "$(ns "$1")" nft list table inet tlstap >/dev/null 2>&1
}

# wait_rule NS: until tlstap-nfq has installed its rule there (10 s).
wait_rule() {
	local i
	for ((i = 0; i < 200; i++)); do
		has_rule "$1" && return 0
		sleep 0.05
	done
	fail "no nft rule in $(ns "$1") after 10 s"
}

# nfq_stat NAME GROUP KEY: from the last JSON counters tlstap-nfq wrote
# to $TMP/NAME.err (on SIGUSR1 or at exit).
nfq_stat() {
	python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
print(json.loads(lines[-1])[sys.argv[2]][sys.argv[3]])' "$TMP/$1.err" "$2" "$3" ||
		fail "no counter $2.$3 in $TMP/$1.err"
}

# nfq_wait_stat NAME GROUP KEY WANT: asks for counters (SIGUSR1) until
# GROUP.KEY equals WANT (30 s). The signal goes to tlstap-nfq itself, the
# child of timeout(1), which would die of it.
nfq_wait_stat() {
	local pid i got=
	pid=$(cat "/proc/$(cat "$TMP/$1.pid")/task/$(cat "$TMP/$1.pid")/children")
	[ -n "$pid" ] || fail "$1 is not running"
	for ((i = 0; i < 150; i++)); do
		kill -USR1 "$pid" 2>/dev/null
		sleep 0.2
		got=$(nfq_stat "$1" "$2" "$3" 2>/dev/null) || got=
		[ "$got" = "$4" ] && return 0
	done
	fail "$1: $2.$3 is ${got:-unknown}, want $4"
}

# start_sink NAME NS PORT: a UDP socket that counts what reaches it
# (count in $TMP/NAME.count after stop_bg NAME).
start_sink() {
	start_bg "$1" "$2" python3 "$PCAP_HELPERS/udp_sink.py" "$3" \
		"$TMP/$1.count" "$TMP/$1.ready"
	wait_for_file "$TMP/$1.ready"
}
