# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Shared by tests/host/fwd-*.sh and recv-*.sh: build the tools (ASan/UBSan
# variant), network namespaces joined by veth, receivers, cleanup.
# Topology: one sender namespace S; receiver namespace i (1..n) reached
# over veth "t$i" with 10.77.$i.1/24 + fd77:$i::1/64 on the sender side and
# 10.77.$i.2 + fd77:$i::2 on the receiver's "eth0".

set -u
NFQ_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$NFQ_HELPERS/../../.." && pwd)
BIN=$SRC/nfq-tools/build-san
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/tlstap-$TEST_NAME.XXXXXX")
NS_PREFIX="tlstap-$$"
NS_LIST=()
BG_PIDS=()
# Leak checks stay in the unit tests (recv-unit.sh): LeakSanitizer's
# stop-the-world at exit was seen to hang a daemon stopped by SIGTERM here.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
# A fixed key, so that every run steers alike (and the checker can predict).
HASH_KEY=000102030405060708090a0b0c0d0e0f

fail() {
	echo "FAIL: $TEST_NAME: $*"
	exit 1
}

cleanup() {
	local p ns
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for ns in "${NS_LIST[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || fail "must run as root (network namespaces)"

build_tools() {
	make -s -C "$SRC/nfq-tools" SANITIZE=1 >"$TMP/build.log" 2>&1 ||
		fail "build failed: $(tail -n 3 "$TMP/build.log")"
}

ns() { echo "$NS_PREFIX-$1"; }

add_ns() {
	ip netns add "$(ns "$1")" || fail "ip netns add $(ns "$1")"
	NS_LIST+=("$(ns "$1")")
	ip -n "$(ns "$1")" link set lo up
}

# setup_topology N [LINK MTU]...: sender S and receivers 1..N.
setup_topology() {
	local n=$1 i
	shift
	add_ns S
	for ((i = 1; i <= n; i++)); do
		add_ns "R$i"
		ip -n "$(ns S)" link add "t$i" type veth peer name eth0 \
			netns "$(ns "R$i")" || fail "veth $i"
		ip -n "$(ns S)" addr add "10.77.$i.1/24" dev "t$i"
		ip -n "$(ns S)" addr add "fd77:$i::1/64" dev "t$i" nodad
		ip -n "$(ns "R$i")" addr add "10.77.$i.2/24" dev eth0
		ip -n "$(ns "R$i")" addr add "fd77:$i::2/64" dev eth0 nodad
		ip -n "$(ns S)" link set "t$i" up
		ip -n "$(ns "R$i")" link set eth0 up
	done
}

# set_link_mtu I MTU: both ends of link I.
set_link_mtu() {
	ip -n "$(ns S)" link set "t$1" mtu "$2" || fail "mtu $2 on t$1"
	ip -n "$(ns "R$1")" link set eth0 mtu "$2" || fail "mtu $2 on R$1"
}

# split_gso I: UDP GSO batches are cut into datagrams before they cross
# link I (not at the receiving socket), so that nft rules in R$I see, and
# drop, single datagrams.
split_gso() {
	ip netns exec "$(ns S)" ethtool -K "t$1" tx-udp-segmentation off \
		>/dev/null || fail "ethtool on t$1"
}

# lossy_link I LOSS REORDER NACK_LOSS: random loss and reordering on link I
# (netem is not in every kernel; nft and HTB are). LOSS% of the UDP
# datagrams to port 7419 are dropped as they enter R$I, NACK_LOSS% of
# those entering S (NACKs); REORDER% of what S sends to R$I goes through a
# slow HTB class (100 Mbit/s, at most 32 queued, more are dropped) that the
# rest overtakes.
lossy_link() {
	local i=$1 loss=$2 reorder=$3 nack_loss=$4
	split_gso "$i"
	ip netns exec "$(ns "R$i")" nft -f - <<NFT || fail "nft loss rule in R$i"
table inet tlstap_loss {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 numgen random mod 100 < $loss counter drop
	}
}
NFT
	ip netns exec "$(ns S)" nft -f - <<NFT || fail "nft rules in S"
table inet tlstap_loss {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 numgen random mod 100 < $nack_loss counter drop
	}
	chain out {
		type filter hook output priority 0;
		oifname "t$i" udp dport 7419 numgen random mod 100 < $reorder counter meta priority set 1:20
	}
}
NFT
	tc -n "$(ns S)" qdisc add dev "t$i" root handle 1: htb default 10 &&
	tc -n "$(ns S)" class add dev "t$i" parent 1: classid 1:10 htb \
		rate 10gbit &&
	tc -n "$(ns S)" class add dev "t$i" parent 1: classid 1:20 htb \
		rate 100mbit ceil 100mbit burst 1600 cburst 1600 &&
	tc -n "$(ns S)" qdisc add dev "t$i" parent 1:20 pfifo limit 32 ||
		fail "HTB on t$i"
}

# start_bg NAME NS CMD...: runs CMD in namespace NS (or "-" for the root
# namespace), stdout/stderr in $TMP/NAME.out/.err, pid in $TMP/NAME.pid.
start_bg() {
	local name=$1 where=$2
	shift 2
	if [ "$where" = - ]; then
		timeout 300 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	else
		ip netns exec "$(ns "$where")" timeout 300 "$@" \
			>"$TMP/$name.out" 2>"$TMP/$name.err" &
	fi
	BG_PIDS+=("$!")
	echo "$!" >"$TMP/$name.pid"
}

# stop_bg NAME: SIGTERM (timeout passes it on), wait, check the status.
stop_bg() {
	local pid status
	pid=$(cat "$TMP/$1.pid")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	status=$?
	[ "$status" = 0 ] || fail "$1 exited with status $status: $(tail -n 3 "$TMP/$1.err")"
}

# wait_status NAME WANT: waits for a background job to end by itself.
wait_status() {
	local pid status
	pid=$(cat "$TMP/$1.pid")
	wait "$pid"
	status=$?
	[ "$status" = "$2" ] || fail "$1 exited with status $status, want $2: $(tail -n 3 "$TMP/$1.err")"
}

# start_receiver I: tlstap-recv in R$I on [::]:7419 (IPv4 too).
start_receiver() {
	start_bg "recv$1" "R$1" "$BIN/tlstap-recv" --listen "[::]:7419" \
		--out "$TMP/recv$1.json" --log-datagrams "$TMP/recv$1.dg" \
		--stats-json
}

# wait_for_file PATH: until it exists (10 s).
wait_for_file() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 did not appear"
}

# wait_lines N FILE...: until the files hold N lines together (30 s).
wait_lines() {
	local want=$1 got i
	shift
	for ((i = 0; i < 600; i++)); do
		got=$(cat "$@" 2>/dev/null | wc -l)
		[ "$got" -ge "$want" ] && return 0
		sleep 0.05
	done
	fail "receivers got $got records, want $want"
}

json_field() {
	python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

# start_rel_receiver: the receiver of target 1 for the rel-* tests:
# tlstap-recv, or with RECEIVER=nfq (rel-gap-nfq.sh, rel-tail-nfq.sh)
# tlstap-nfq with its own rule and drop verdict, writing the same files.
start_rel_receiver() {
	if [ "${RECEIVER:-recv}" = nfq ]; then
		. "$NFQ_HELPERS/../pcap/nfqlib.sh"
		start_bg recv1 R1 "$BIN/tlstap-nfq" --install-rule \
			--out "$TMP/recv1.json" --log-datagrams "$TMP/recv1.dg" \
			--stats-json
		wait_rule R1
	else
		start_receiver 1
	fi
}
