# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Shared by tests/host/fwd-*.sh, nfq-*.sh, rel-*.sh, recv-*.sh and
# pcapng-*.sh (and nfq-tools/bench/): build the tools (ASan/UBSan
# variant), network namespaces joined by veth, receivers, tlstap-fwd, the
# test writer and the delivery check; ../lib/common.sh's fail and cleanup.
# Topology: one sender namespace S; receiver namespace i (1..n) reached
# over veth "t$i" with 10.77.$i.1/24 + fd77:$i::1/64 on the sender side and
# 10.77.$i.2 + fd77:$i::2 on the receiver's "eth0".

set -u
NFQ_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/host/lib/common.sh
. "$NFQ_HELPERS/../lib/common.sh"
BIN=$SRC/nfq-tools/build-san
FWD_BIN=$SRC/fwd/build-san
# shellcheck disable=SC2034  # used by the tests sourcing this
CTL_BIN=$SRC/ctl/build-san
TMP=$(mktemp -d "/tmp/tlstap-$TEST_NAME.XXXXXX")
TEST_TMP=$TMP
NS_PREFIX="tlstap-$$"
# Leak checks stay in the unit tests (unit.sh): LeakSanitizer's
# stop-the-world at exit was seen to hang a daemon stopped by SIGTERM here.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
# A fixed key, so that every run steers alike (and the checker can predict).
HASH_KEY=000102030405060708090a0b0c0d0e0f

[ "$(id -u)" = 0 ] || fail "must run as root (network namespaces)"

build_tools() {
	local dir
	for dir in nfq-tools fwd ctl; do
		make -s -C "$SRC/$dir" SANITIZE=1 >"$TMP/build.log" 2>&1 ||
			fail "$dir build failed: $(tail -n 3 "$TMP/build.log")"
	done
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

# FIRST_DATAGRAM: an nft match of a stream's first datagram as first sent
# (DATA, seq 0, not a retransmission). A receiver starts a stream at the
# first datagram it sees and asks for nothing before it (PROTOCOL.md 5.1),
# so the loss and reordering below spare it: they test what comes after.
FIRST_DATAGRAM='@th,64,8 1 @th,88,8 0 @th,128,32 0'

# lossy_link I LOSS REORDER NACK_LOSS: random loss and reordering on link I
# (netem is not in every kernel; nft and HTB are). LOSS% of the UDP
# datagrams to port 7419 are dropped as they enter R$I, NACK_LOSS% of
# those entering S (NACKs); REORDER% of what S sends to R$I goes through a
# slow HTB class (100 Mbit/s, at most 32 queued, more are dropped) that the
# rest overtakes. A stream's first datagram is spared (FIRST_DATAGRAM).
lossy_link() {
	local i=$1 loss=$2 reorder=$3 nack_loss=$4
	split_gso "$i"
	ip netns exec "$(ns "R$i")" nft -f - <<NFT || fail "nft loss rule in R$i"
table inet tlstap_loss {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7419 $FIRST_DATAGRAM counter accept
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
		oifname "t$i" udp dport 7419 $FIRST_DATAGRAM counter accept
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

# records_accounted FILE N SECONDS: waits up to SECONDS until the JSON
# lines of FILE account for N record ids, each a record or inside a LOST
# line's range; the caller's checks judge what is still missing after.
records_accounted() {
	local _
	for _ in $(seq $(($3 * 10))); do
		python3 - "$1" "$2" <<'PY' && return 0
import json, sys
ids = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "lost":
        ids.update(range(r["record_first"], r["record_last"] + 1))
    else:
        ids.add(r["record_id"])
sys.exit(0 if len(ids) >= int(sys.argv[2]) else 1)
PY
		sleep 0.1
	done
}

# wait_udp_bound NAME NS PORT: until background job NAME (start_bg) has
# a UDP socket bound to PORT in namespace NS ("-": the root one); fails
# after 30 s, or at once if NAME ended.
wait_udp_bound() {
	local name=$1 where=$2 port=$3 end=$((SECONDS + 30))
	local -a in=()
	[ "$where" = - ] || in=(ip netns exec "$(ns "$where")")
	until [ -n "$("${in[@]}" ss -Hlun "sport = :$port")" ]; do
		kill -0 "$(cat "$TMP/$name.pid")" 2>/dev/null ||
			fail "$name ended before binding UDP port $port: $(tail -n 3 "$TMP/$name.err")"
		[ "$SECONDS" -lt "$end" ] ||
			fail "$name did not bind UDP port $port in 30 s: $(tail -n 3 "$TMP/$name.err")"
		sleep 0.05
	done
}

# start_receiver I: tlstap-recv in R$I on [::]:7419 (IPv4 too); returns
# once it is bound.
start_receiver() {
	start_bg "recv$1" "R$1" "$BIN/tlstap-recv" --listen "[::]:7419" \
		--out "$TMP/recv$1.json" --log-datagrams "$TMP/recv$1.dg" \
		--stats-json
	wait_udp_bound "recv$1" "R$1" 7419
}

# start_receivers N: tlstap-recv in R1..RN (start_receiver), their
# earlier output removed.
start_receivers() {
	local i
	for ((i = 1; i <= $1; i++)); do
		rm -f "$TMP/recv$i.json" "$TMP/recv$i.dg"
		start_receiver "$i"
	done
}

# stop_receivers N: stop_bg recv1..recvN.
stop_receivers() {
	local i
	for ((i = 1; i <= $1; i++)); do
		stop_bg "recv$i"
	done
}

# start_fwd NAME NS SOCKET OPTION...: tlstap-fwd as the background job
# NAME in namespace NS, reading records from the Unix datagram socket
# SOCKET, steering with $HASH_KEY, sending from port 7419 (lossy_link's
# rules and the NACK peers aim there; tlstap-fwd's own default is an
# ephemeral port, fwd-port.sh), its JSON counters in $TMP/NAME.err;
# returns once SOCKET exists.
start_fwd() {
	local name=$1 where=$2 sock=$3
	shift 3
	start_bg "$name" "$where" "$FWD_BIN/tlstap-fwd" --unix "$sock" \
		--hash-key "$HASH_KEY" --port 7419 --stats-json "$@"
	wait_for_file "$sock"
}

# send_records OPTION...: the test writer (gen_records.py, at most 120 s)
# sends the records OPTIONs describe to $TMP/in.sock; what it sent is in
# $TMP/expect.json, its summary in $TMP/summary.json.
send_records() {
	timeout 120 python3 "$NFQ_HELPERS/gen_records.py" "$@" \
		--unix "$TMP/in.sock" --expect "$TMP/expect.json" \
		>"$TMP/summary.json" || fail "test writer failed"
}

# nft_counters NS FAMILY TABLE: the packets each counter of the nft table
# FAMILY TABLE in namespace NS counted, one a line, in its rules' order.
nft_counters() {
	ip netns exec "$(ns "$1")" nft list table "$2" "$3" |
		sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# start_paused_writer PAUSE OPTION...: the test writer (gen_records.py,
# job writer) sends the records OPTIONs describe to $TMP/in.sock and
# pauses after PAUSE of them until resume_writer; what it sent is in
# $TMP/expect.json. Returns once it has paused.
start_paused_writer() {
	local pause=$1
	shift
	start_bg writer - python3 "$NFQ_HELPERS/gen_records.py" "$@" \
		--unix "$TMP/in.sock" --pause-after "$pause" \
		--paused-file "$TMP/paused" --resume-file "$TMP/resume" \
		--expect "$TMP/expect.json"
	wait_for_file "$TMP/paused"
}

# resume_writer: the paused writer goes on; returns once it has sent the
# rest, its summary in $TMP/summary.json.
resume_writer() {
	touch "$TMP/resume"
	wait_status writer 0
	cp "$TMP/writer.out" "$TMP/summary.json"
}

# check_delivery NAME MEMBERS RECEIVER...: check_delivery.py on what the
# receivers got, with its config in $TMP/NAME.json and its output in
# $TMP/NAME.out (printed). The config: $HASH_KEY, the JSON members
# MEMBERS (e.g. '"tos": 32, "reliable": true'), and per RECEIVER, "K
# TARGET MTU [full_size] [stats]", receiver K's files $TMP/recvK.json and
# .dg (and its counters, .err). Unless MEMBERS names them, the writer's
# files and the forwarder's counters are those of send_records and
# start_fwd fwd: $TMP/expect.json, summary.json, fwd.err.
check_delivery() {
	local name=$1 members=$2 spec k target mtu flags receivers='' files=''
	shift 2
	for spec in "$@"; do
		read -r k target mtu flags <<<"$spec"
		receivers+="${receivers:+,
  }{\"target\": \"$target\", \"out\": \"$TMP/recv$k.json\", \"log\": \"$TMP/recv$k.dg\", \"mtu\": $mtu"
		if [[ " $flags " = *" full_size "* ]]; then
			receivers+=', "full_size": true'
		fi
		if [[ " $flags " = *" stats "* ]]; then
			receivers+=", \"stats\": \"$TMP/recv$k.err\""
		fi
		receivers+="}"
	done
	if [[ $members != *'"expect"'* ]]; then
		files="\"expect\": \"$TMP/expect.json\", \"summary\": \"$TMP/summary.json\",
 \"fwd_stats\": \"$TMP/fwd.err\","
	fi
	cat >"$TMP/$name.json" <<JSON
{"hash_key": "$HASH_KEY", $members,
 $files
 "receivers": [
  $receivers]}
JSON
	python3 "$NFQ_HELPERS/check_delivery.py" "$TMP/$name.json" \
		>"$TMP/$name.out" ||
		fail "$name: $(grep FAIL "$TMP/$name.out" | head -n 1)"
	cat "$TMP/$name.out"
}

# wait_for_file PATH: until it exists (10 s).
wait_for_file() {
	wait_path 10 "$1" || fail "$1 did not appear"
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

# send_batch NAME SEED N [OPTION...]: N records (gen_records.py, seed SEED,
# times from SEED * 10^9 so that batches never share one) to the
# tlstap-fwd of start_fwd on $TMP/in.sock; what must come out in
# $TMP/NAME.expect, also appended to $TMP/all.expect.
send_batch() {
	local name=$1 seed=$2 n=$3
	shift 3
	timeout 120 python3 "$NFQ_HELPERS/gen_records.py" --seed "$seed" \
		--records "$n" --flows 8 --time-base "${seed}000000000" \
		--unix "$TMP/in.sock" --expect "$TMP/$name.expect" "$@" \
		>"$TMP/$name.summary" || fail "test writer failed ($name)"
	cat "$TMP/$name.expect" >>"$TMP/all.expect"
}

# data_lines FILE: how many records (data and loss lines) FILE holds.
data_lines() {
	grep -c '^{"type":"\(data\|loss\)"' "$1" 2>/dev/null || true
}

# wait_records N FILE: until FILE holds N records (30 s).
wait_records() {
	local got i
	for ((i = 0; i < 600; i++)); do
		got=$(data_lines "$2")
		[ "$got" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "$2 holds $got records, want $1"
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
		start_nfq_receiver recv1 1
	else
		start_receiver 1
	fi
}
