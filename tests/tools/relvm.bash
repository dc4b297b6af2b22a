# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced after tests/lib/vm.sh by tests/vm/reliable*.sh: the module sends
# to two targets in namespaces, t1 receiving with tlstap-recv (UDP
# socket), t2 with tlstap-nfq (its own nft rule, NFQUEUE, drop verdict);
# tests/tools/relcheck.py judges what they wrote. Under TCG every process
# started costs a good fraction of a second: builtins where they do.

BUILD=$TLSTAP_SRC/nfq-tools/build
FWD=$TLSTAP_SRC/fwd/build/tlstap-fwd
NFQ=$BUILD/tlstap-nfq
KEY=3c0ffee5a17ed00d0123456789abcdef
T1=10.77.1.2:7419
T2=10.77.2.2:7419
# shellcheck disable=SC2034  # used by the tests sourcing this
GSO=/sys/module/tlstap/parameters/gso

# rel_setup: the module, its hash key, the two targets' namespaces.
rel_setup() {
	load_module
	# Loaded up front, so that a missing one fails here, with its name.
	modprobe -a nf_tables nfnetlink_queue nft_queue sch_netem sch_prio \
		cls_u32 || fail "netfilter or tc modules"
	echo "$KEY" >"$SYS/hash_key"
	host_ns t1 1
	host_ns t2 2
}

# start_receivers TAG: tlstap-recv in t1, tlstap-nfq in t2; their files
# are $WORK/TAG.t1.* and TAG.t2.* (raw records, LOST lines, datagram log,
# counters on stderr), their pids in RECV_PIDS.
start_receivers() {
	local tag=$1
	ip netns exec t1 "$RECV" --listen "$T1" --output raw \
		--out "$WORK/$tag.t1.raw" --lost "$WORK/$tag.t1.lost" \
		--log-datagrams "$WORK/$tag.t1.dgram" --stats-json \
		--rcvbuf 33554432 2>"$WORK/$tag.t1.err" &
	RECV_PIDS=$!
	ip netns exec t2 "$NFQ" --install-rule --output raw \
		--out "$WORK/$tag.t2.raw" --lost "$WORK/$tag.t2.lost" \
		--log-datagrams "$WORK/$tag.t2.dgram" --stats-json \
		--queue-maxlen 65536 --rcvbuf 33554432 2>"$WORK/$tag.t2.err" &
	RECV_PIDS="$RECV_PIDS $!"
	BG_PIDS="$BG_PIDS $RECV_PIDS"
	wait_for 30 udp_bound t1 7419 || fail "tlstap-recv did not bind"
	wait_for 30 ip netns exec t2 nft list table inet tlstap >/dev/null 2>&1 ||
		fail "tlstap-nfq did not install its rule: $(cat "$WORK/$tag.t2.err")"
	# The kernel's own queue statements, as tlstap-nfq reads them back.
	wait_for 10 grep -q "queue 0 is fed by 2 nft rules: table inet tlstap chain nfqueue (2 rules)$" "$WORK/$tag.t2.err" ||
		fail "tlstap-nfq did not see its rule feed queue 0: $(cat "$WORK/$tag.t2.err")"
}

add_targets() {
	echo "add $T1" >"$SYS/targets"
	echo "add $T2" >"$SYS/targets"
}

# snapshot NAME: the module's counters now, in $WORK/NAME.stats.
snapshot() {
	local s=
	IFS= read -r -d '' s <"$SYS/stats" || true
	printf '%s' "$s" >"$WORK/$1.stats"
}

# relcheck MODE TAG [ARGS...]: waits for the receivers, stops them
# (relcheck.py does both) and judges; the module's counters since the
# snapshot TAG.
relcheck() {
	local mode=$1 tag=$2 pids
	shift 2
	read -r -a pids <<<"$RECV_PIDS"
	python3 "$TOOLS/relcheck.py" "$mode" --expected "$WORK/$tag.bin" \
		--fwd "$FWD" --key "$KEY" --module-before "$WORK/$tag.stats" \
		--target "t1,$T1,$WORK/$tag.t1.raw,$WORK/$tag.t1.lost,$WORK/$tag.t1.dgram,$WORK/$tag.t1.err,${pids[0]}" \
		--target "t2,$T2,$WORK/$tag.t2.raw,$WORK/$tag.t2.lost,$WORK/$tag.t2.dgram,$WORK/$tag.t2.err,${pids[1]}" \
		"$@"
	local status=$?
	wait "${pids[@]}" 2>/dev/null
	return $status
}

# netem ARGS...: on both links, towards the targets; a stream's first
# datagram as first sent (IPv4, DATA, not resent, seq 0) goes around it:
# a receiver starts a stream at the first datagram it sees and asks for
# nothing before it (PROTOCOL.md 5.1), and these tests are about what
# comes after. A prio qdisc: band 2 (everything) through netem, band 1
# (that datagram, by a u32 filter) straight.
netem() {
	local dev
	for dev in vt1 vt2; do
		tc qdisc replace dev "$dev" root handle 1: prio bands 2 \
			priomap 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 &&
			tc qdisc add dev "$dev" parent 1:2 handle 20: netem "$@" &&
			tc filter add dev "$dev" parent 1: protocol ip prio 1 u32 \
				match ip protocol 17 0xff match ip dport 7419 0xffff \
				match u8 1 0xff at 28 match u8 0 0xff at 31 \
				match u32 0 0xffffffff at 36 flowid 1:1 ||
			fail "tc netem $* on $dev"
	done
}

no_netem() {
	local ns
	tc qdisc del dev vt1 root 2>/dev/null || true
	tc qdisc del dev vt2 root 2>/dev/null || true
	for ns in t1 t2; do
		tc -n "$ns" qdisc del dev eth0 root 2>/dev/null || true
	done
}
