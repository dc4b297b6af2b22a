#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-nfq says what feeds its queue (tlstap-nfq(8), DIAGNOSTICS):
# 1. No rule, no --install-rule: the start says so, and after
#    --idle-warn-ms without a packet one warning says so again (once).
# 2. An iptables-nft NFQUEUE rule (--queue-balance 3:5 in ip6 filter,
#    --queue-num 4 in ip filter) feeds queue 4: the start names both
#    chains; no packet: a warning names them; packets come, then
#    silence: no warning while the rules are there; the rules deleted:
#    one warning that none is left.
# 3. A rule that feeds another queue only (queue 9): not named.
# 4. --install-rule, kill -9, --install-rule again: the second start finds
#    the table the first left behind and says it replaced it; the table
#    holds its two rules, not four, and they feed the new queue; packets
#    arrive; SIGTERM removes it.
# 5. --install-rule while another tlstap-nfq's table feeds a queue it
#    holds: refused, its rule and files untouched, the other one still
#    receiving.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

command -v iptables-nft >/dev/null ||
	fail "iptables-nft missing (Debian package iptables: scripts/install-deps test)"
build_tools
NFQ=$BIN/tlstap-nfq
setup_topology 1
inr() { ip netns exec "$(ns R1)" "$@"; }
ins() { ip netns exec "$(ns S)" "$@"; }
IDLE=500

# wait_line NAME PATTERN: until $TMP/NAME.err has a line matching (10 s).
wait_line() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qs -- "$2" "$TMP/$1.err" && return 0
		sleep 0.1
	done
	fail "$1: no line '$2': $(grep -v '^{' "$TMP/$1.err" | tail -n 3 | tr '\n' ' ')"
}

# lines NAME PATTERN: how many lines of $TMP/NAME.err match.
lines() {
	grep -c -- "$2" "$TMP/$1.err" || true
}

# 1. Nothing feeds queue 4.
start_bg none R1 "$NFQ" --queue 4 --idle-warn-ms "$IDLE" --out "$TMP/none.json"
wait_line none "warning: no nft rule feeds queue 4, nothing arrives"
wait_line none "warning: no packet on queue 4 in the 500 ms since the start: no nft rule queues packets to it"
sleep 1.5
[ "$(lines none "no packet on queue")" = 1 ] ||
	fail "the silence was warned about $(lines none "no packet on queue") times, want once"
stop_bg none

# 2. iptables-nft rules feed it.
inr iptables-nft -A INPUT -p udp --dport 7419 -j NFQUEUE --queue-num 4 \
	--queue-bypass || fail "iptables-nft rule"
inr ip6tables-nft -A INPUT -p udp --dport 7419 -j NFQUEUE \
	--queue-balance 3:5 --queue-bypass || fail "ip6tables-nft rule"
# 3. ... and one feeds queue 9 only.
inr iptables-nft -A INPUT -p udp --dport 7420 -j NFQUEUE --queue-num 9 ||
	fail "iptables-nft rule for queue 9"
start_bg ipt R1 "$NFQ" --queue 4 --idle-warn-ms "$IDLE" --out "$TMP/ipt.json" \
	--stats-json
wait_line ipt "queue 4 is fed by 2 nft rules: table ip filter chain INPUT (1 rule), table ip6 filter chain INPUT (1 rule)$"
wait_line ipt "warning: no packet on queue 4 in the 500 ms since the start, though table ip filter chain INPUT (1 rule), table ip6 filter chain INPUT (1 rule) feed it: no datagram matched them"
ins python3 "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7419 0x20 3
ins python3 "$PCAP_HELPERS/send_udp.py" fd77:1::2 7419 0x20 2
nfq_wait_stat ipt nfq packets 5
sleep 2
[ "$(lines ipt "warning: no packet on queue 4 for")" = 0 ] ||
	fail "a quiet sender with the rules in place was warned about: $(grep "warning: no packet on queue 4 for" "$TMP/ipt.err")"
inr iptables-nft -D INPUT -p udp --dport 7419 -j NFQUEUE --queue-num 4 \
	--queue-bypass || fail "deleting the iptables-nft rule"
inr ip6tables-nft -F INPUT || fail "flushing ip6 filter INPUT"
wait_line ipt "warning: no packet on queue 4 for 500 ms, and no nft rule queues packets to it any more"
sleep 1.5
[ "$(lines ipt "warning: no packet on queue 4 for")" = 1 ] ||
	fail "the lost rule was warned about $(lines ipt "warning: no packet on queue 4 for") times, want once"
stop_bg ipt
[ "$(nfq_stat ipt nfq packets)" = 5 ] || fail "queue 4 got $(nfq_stat ipt nfq packets) packets, want 5"
inr iptables-nft -F INPUT || fail "flushing ip filter INPUT"

# 4. A rule left behind by kill -9 is replaced, not duplicated.
start_bg killed R1 "$NFQ" --install-rule --queue 3 --out "$TMP/killed.json"
wait_rule R1
wait_line killed "queue 3 is fed by 2 nft rules: table inet tlstap chain nfqueue (2 rules)$"
kill -KILL "$(cat "/proc/$(cat "$TMP/killed.pid")/task/$(cat "$TMP/killed.pid")/children")"
wait "$(cat "$TMP/killed.pid")" 2>/dev/null
has_rule R1 || fail "the rule vanished with a killed tlstap-nfq"
start_bg again R1 "$NFQ" --install-rule --queue 6 --out "$TMP/again.json" \
	--stats-json
wait_line again "replaced table inet tlstap (2 rules queueing to queue 3), left behind by a tlstap-nfq that did not exit"
wait_line again "queue 6 is fed by 2 nft rules: table inet tlstap chain nfqueue (2 rules)$"
rules=$(inr nft list ruleset 2>/dev/null | grep -c "udp dport 7419")
[ "$rules" = 2 ] || fail "$rules rules for port 7419 after the restart, want 2: $(inr nft list ruleset 2>&1 | tr '\n' ' ')"
[ "$(inr nft list tables | grep -c "inet tlstap$")" = 1 ] || fail "tables: $(inr nft list tables | tr '\n' ' ')"
ins python3 "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7419 0x20 4
nfq_wait_stat again nfq packets 4

# 5. Another one holding its queue: its table stays.
if inr timeout 10 "$NFQ" --install-rule --queue 7 --out "$TMP/second.json" \
	>/dev/null 2>"$TMP/second.err"; then
	fail "a second --install-rule replaced a running tlstap-nfq's table"
fi
grep -q "table inet tlstap feeds queue 6, which a running program holds (netlink port [0-9]*): another tlstap-nfq?" "$TMP/second.err" ||
	fail "second --install-rule: $(grep -v '^{' "$TMP/second.err" | tail -n 1)"
[ -e "$TMP/second.json" ] && fail "the refused start created its output"
ins python3 "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7419 0x20 2
nfq_wait_stat again nfq packets 6
stop_bg again
has_rule R1 && fail "rule left after SIGTERM"
echo "PASS: $TEST_NAME"
