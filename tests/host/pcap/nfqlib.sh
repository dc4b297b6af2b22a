# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Sourced after tests/host/nfq/lib.sh by tests/host/nfq-*.sh, pcapng-*.sh,
# tap-*.sh, recv-*.sh and fwd-writer.sh: tlstap-nfq in a namespace, its
# nft rule, the receivers' and tlstap-fwd's counters, scenario.py.
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

# start_nfq_receiver NAME I: tlstap-nfq as the background job NAME in
# R$I, consuming through its own rule (input hook, drop verdict) and
# writing the files a tlstap-recv there would ($TMP/recvI.json, .dg);
# returns once the rule is in.
start_nfq_receiver() {
	start_bg "$1" "R$2" "$BIN/tlstap-nfq" --install-rule \
		--out "$TMP/recv$2.json" --log-datagrams "$TMP/recv$2.dg" \
		--stats-json
	wait_rule "R$2"
}

# nfq_stat NAME GROUP KEY: from the last JSON counters tlstap-nfq wrote
# to $TMP/NAME.err (on SIGUSR1 or at exit); with GROUP "-", a top-level
# counter (tlstap-recv's, tlstap-fwd's).
nfq_stat() {
	python3 -c '
import json, sys
group, key = sys.argv[2:4]
# The last counters: LOST lines (JSON too) may come after them.
for line in reversed([l for l in open(sys.argv[1]) if l.startswith("{")]):
    v = json.loads(line)
    v = v if group == "-" else v.get(group, {})
    if key in v:
        print(v[key])
        break
else:
    sys.exit(1)' "$TMP/$1.err" "$2" "$3" || fail "no counter $2.$3 in $TMP/$1.err"
}

# nfq_wait_stat NAME GROUP KEY WANT: asks for counters (SIGUSR1) until
# GROUP.KEY equals WANT (30 s). The signal goes to the program itself, the
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

# nfq_stats_are NAME GROUP KEY=WANT...: fails unless every counter
# GROUP.KEY of NAME's last counters (nfq_stat) is WANT.
nfq_stats_are() {
	local name=$1 group=$2 kv key got
	shift 2
	for kv in "$@"; do
		key=${kv%%=*}
		got=$(nfq_stat "$name" "$group" "$key")
		[ "$group" = - ] || key=$group.$key
		[ "$got" = "${kv#*=}" ] || fail "$name: $key is $got, want ${kv#*=}"
	done
}

# run_scenario OUTPUT: scenario.py's hand-made datagrams from S to the
# tlstap-nfq (job nfq) of R1, what they must give in $TMP/expect.json;
# returns once its output OUTPUT (pcapng, tap) counts all $RECORDS
# records written, those that waited for the aborted record included.
run_scenario() {
	ip netns exec "$(ns S)" timeout 60 python3 "$PCAP_HELPERS/scenario.py" \
		10.77.1.2 7419 "$TMP/expect.json" || fail "scenario.py failed"
	RECORDS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' \
		"$TMP/expect.json")
	nfq_wait_stat nfq "$1" records "$RECORDS"
	nfq_wait_stat nfq "$1" held_now 0
}

# start_sink NAME NS PORT: a UDP socket that counts what reaches it
# (count in $TMP/NAME.count after stop_bg NAME).
start_sink() {
	start_bg "$1" "$2" python3 "$PCAP_HELPERS/udp_sink.py" "$3" \
		"$TMP/$1.count" "$TMP/$1.ready"
	wait_for_file "$TMP/$1.ready"
}

MB_S=S
MB_M=M
MB_T=T

# setup_middlebox: sender S, middlebox M (forwarding), target T (named
# $MB_S, $MB_M, $MB_T: S, M, T unless a test already has such names):
#   S v0 10.78.1.1/24 fd78:1::1/64 -- M s0 10.78.1.2 fd78:1::2
#   M t0 10.78.2.1/24 fd78:2::1/64 -- T eth0 10.78.2.2 fd78:2::2
# S and T route everything through M. UDP GSO batches are cut into
# datagrams as they leave S, so that loss rules drop single datagrams.
# No duplicate address detection, and the neighbours resolved before the
# test: the first burst of datagrams would otherwise be dropped while
# the addresses are tentative or the neighbours unresolved.
setup_middlebox() {
	local n
	for n in "$MB_S" "$MB_M" "$MB_T"; do
		add_ns "$n"
		ip netns exec "$(ns "$n")" sysctl -qw \
			net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 ||
			fail "sysctl in $n"
	done
	ip -n "$(ns "$MB_S")" link add v0 type veth peer name s0 netns "$(ns "$MB_M")" ||
		fail "veth $MB_S-$MB_M"
	ip -n "$(ns "$MB_M")" link add t0 type veth peer name eth0 netns "$(ns "$MB_T")" ||
		fail "veth $MB_M-$MB_T"
	ip -n "$(ns "$MB_S")" addr add 10.78.1.1/24 dev v0
	ip -n "$(ns "$MB_S")" addr add fd78:1::1/64 dev v0 nodad
	ip -n "$(ns "$MB_M")" addr add 10.78.1.2/24 dev s0
	ip -n "$(ns "$MB_M")" addr add fd78:1::2/64 dev s0 nodad
	ip -n "$(ns "$MB_M")" addr add 10.78.2.1/24 dev t0
	ip -n "$(ns "$MB_M")" addr add fd78:2::1/64 dev t0 nodad
	ip -n "$(ns "$MB_T")" addr add 10.78.2.2/24 dev eth0
	ip -n "$(ns "$MB_T")" addr add fd78:2::2/64 dev eth0 nodad
	ip -n "$(ns "$MB_S")" link set v0 up
	ip -n "$(ns "$MB_M")" link set s0 up
	ip -n "$(ns "$MB_M")" link set t0 up
	ip -n "$(ns "$MB_T")" link set eth0 up
	ip -n "$(ns "$MB_S")" route add default via 10.78.1.2
	ip -n "$(ns "$MB_S")" -6 route add default via fd78:1::2
	ip -n "$(ns "$MB_T")" route add default via 10.78.2.1
	ip -n "$(ns "$MB_T")" -6 route add default via fd78:2::1
	ip netns exec "$(ns "$MB_M")" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 || fail "forwarding in $MB_M"
	ip netns exec "$(ns "$MB_S")" ethtool -K v0 tx-udp-segmentation off \
		>/dev/null || fail "ethtool on v0"
	for n in 10.78.2.2 fd78:2::2; do
		ip netns exec "$(ns "$MB_S")" ping -q -c 1 -W 5 "$n" >/dev/null ||
			fail "$MB_S cannot reach $n through $MB_M"
	done
}

# middlebox_loss PCT: PCT% of the tlstap datagrams coming from S are lost
# as they enter M, before anything in M sees them; not a stream's first
# (FIRST_DATAGRAM in nfq/lib.sh).
middlebox_loss() {
	ip netns exec "$(ns "$MB_M")" nft -f - <<NFT || fail "nft loss rule in $MB_M"
table inet tlstap_loss {
	chain in {
		type filter hook prerouting priority -300;
		iifname "s0" udp dport 7419 $FIRST_DATAGRAM counter accept
		iifname "s0" udp dport 7419 numgen random mod 100 < $1 counter drop
	}
}
NFT
}

# check_records EXPECT OUT: OUT (JSON lines of a receiver) holds every
# expected record exactly once, byte-exact, and no LOST line.
check_records() {
	python3 "$PCAP_HELPERS/check_records.py" "$1" "$2" >"$TMP/check-records.out" ||
		fail "$2: $(grep FAIL "$TMP/check-records.out" | head -n 1)"
	cat "$TMP/check-records.out"
}
