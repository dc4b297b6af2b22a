# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shell helpers for the VM tests: sourced, not run. The guest runs each
# test as root with TLSTAP_KO (the module) and TLSTAP_SRC (the checkout).
set -eu

SYS=/sys/class/misc/tlstap
# shellcheck disable=SC2034  # used by the tests sourcing this
TOOLS=$TLSTAP_SRC/tests/tools
RECV=${TLSTAP_RECV:-$TLSTAP_SRC/nfq-tools/build/tlstap-recv}
WORK=$(mktemp -d)
NETNS_LIST=""
BG_PIDS=""

fail() {
	echo "FAIL: $*" >&2
	tail -n 5 "$WORK"/*.err 2>/dev/null >&2 || true
	for ns in $NETNS_LIST; do
		echo "$ns: $(ip netns exec "$ns" awk '/^Udp: [0-9]/' /proc/net/snmp) $(ip netns exec "$ns" grep -E 'Udp6(InDatagrams|RcvbufErrors|InErrors)' /proc/net/snmp6 | tr -s ' \n' ' ')" >&2
	done
	echo "neighbour unresolved discards: $(unresolved_discards)" >&2
	[ ! -e "$SYS" ] || cat "$SYS/stats" "$SYS/targets" >&2
	ip -s link show type veth >&2 || true
	exit 1
}

cleanup() {
	local pid ns
	for pid in $BG_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	for ns in $NETNS_LIST; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ -e "$SYS" ]; then
		rmmod tlstap || echo "rmmod failed" >&2
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

load_module() {
	modprobe -q udp_tunnel
	modprobe -q ip6_udp_tunnel
	modprobe -q veth
	insmod "$TLSTAP_KO" "$@"
	ip link set lo up
}

# host_ns NAME INDEX [MTU]: a namespace joined to ours by veth, with
# 10.77.INDEX.2/24 and fd77:INDEX::2/64 there, .1 and ::1 here.
host_ns() {
	local ns=$1 i=$2 mtu=${3:-1500}
	ip netns add "$ns"
	NETNS_LIST="$NETNS_LIST $ns"
	ip link add "vt$i" mtu "$mtu" type veth peer name eth0 netns "$ns" mtu "$mtu"
	ip addr add "10.77.$i.1/24" dev "vt$i"
	ip addr add "fd77:$i::1/64" dev "vt$i" nodad
	ip link set "vt$i" up
	ip -n "$ns" addr add "10.77.$i.2/24" dev eth0
	ip -n "$ns" addr add "fd77:$i::2/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	# Resolve the neighbours now: a new target's first burst would
	# otherwise wait on ARP/ND, whose queue holds only ~200 KB.
	ping -c 1 -W 5 "10.77.$i.2" >/dev/null ||
		fail "no IPv4 path to $ns"
	ping -c 1 -W 5 "fd77:$i::2" >/dev/null ||
		fail "no IPv6 path to $ns"
}

# Packets the kernel dropped while waiting for ARP or ND.
unresolved_discards() {
	local f n=0 fields
	for f in /proc/net/stat/arp_cache /proc/net/stat/ndisc_cache; do
		while read -r -a fields; do
			[ "${fields[0]}" = entries ] || n=$((n + 16#${fields[11]}))
		done <"$f"
	done
	echo "$n"
}

# start_recv NS LISTEN NAME [FORMAT [OPTION...]]: tlstap-recv in NS (with
# OPTIONs), its records (raw, or FORMAT: json) and datagram log in
# $WORK/NAME.FORMAT and $WORK/NAME.dgram, its counters in $WORK/NAME.err.
declare -A RECV_PID_OF=()
start_recv() {
	local ns=$1 listen=$2 name=$3 format=${4:-raw}
	shift $(($# < 4 ? $# : 4))
	ip netns exec "$ns" "$RECV" --listen "$listen" --output "$format" \
		--out "$WORK/$name.$format" --log-datagrams "$WORK/$name.dgram" \
		"$@" 2>"$WORK/$name.err" &
	RECV_PID_OF[$name]=$!
	BG_PIDS="$BG_PIDS $!"
	wait_for 30 udp_bound "$ns" "${listen##*:}" ||
		fail "tlstap-recv in $ns did not bind: $(cat "$WORK/$name.err")"
}

stats_lines() { grep -c '^tlstap-recv: counters$' "$1" || true; }
stats_lines_above() { [ "$(stats_lines "$1")" -gt "$2" ]; }

# recv_counters NAME: the running receiver NAME's counters as it prints
# them on SIGUSR1 (aligned "name value" lines), the last dump's lines;
# empty if it did not answer. A dump still being written lacks lines:
# its callers read a missing counter as not there yet.
recv_counters() {
	local err=$WORK/$1.err n
	n=$(stats_lines "$err")
	kill -USR1 "${RECV_PID_OF[$1]}"
	wait_for 10 stats_lines_above "$err" "$n" || return 0
	awk '/^tlstap-recv: counters$/ { dump = ""; next }
	     { dump = dump $0 "\n" } END { printf "%s", dump }' "$err"
}

# counter_of NAME LINES: the value of counter NAME in recv_counters' LINES.
counter_of() {
	awk -v k="$1" '$1 == k && $2 ~ /^[0-9]+$/ { print $2; exit }' <<<"$2"
}

# records_settled N NAME...: the receivers NAME... hold N records, output
# or given up as lost.
records_settled() {
	local want=$1 name line r l sum=0
	shift
	for name; do
		line=$(recv_counters "$name")
		r=$(counter_of records "$line")
		l=$(counter_of lost_records "$line")
		sum=$((sum + ${r:-0} + ${l:-0}))
	done
	[ "$sum" -ge "$want" ]
}

# records_at_receivers NAME...: what records_settled counts, to report.
records_at_receivers() {
	local name line out=
	for name; do
		line=$(recv_counters "$name")
		out="$out $name: $(counter_of records "$line") output, $(counter_of lost_records "$line") lost;"
	done
	echo "${out# }"
}

udp_bound() { # NS PORT
	[ -n "$(ip netns exec "$1" ss -Hlun "sport = :$2")" ]
}

stat_of() { # NAME: a counter from the module's stats file
	awk -v k="$1" '$1 == k { print $2 }' "$SYS/stats"
}

stat_delta() { echo $(($(stat_of "$1") - $2)); } # NAME BEFORE

# stat_grew NAME BEFORE WANT: fails unless the counter NAME, BEFORE
# earlier, has grown by WANT.
stat_grew() {
	local got
	got=$(stat_delta "$1" "$2")
	[ "$got" -eq "$3" ] || fail "$1 +$got, want +$3"
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

dgrams_received() {
	cat "$WORK"/*.dgram 2>/dev/null | wc -l
}

all_sent_received() {
	[ "$(dgrams_received)" -ge "$(stat_of datagrams)" ]
}

# Stops the receivers (they flush their output on SIGTERM).
stop_recv() {
	local pid
	for pid in $BG_PIDS; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BG_PIDS=""
}
