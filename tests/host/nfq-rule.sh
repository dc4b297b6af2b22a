#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-nfq's nft rule: --print-rule prints the documented text;
# --install-rule queues exactly the datagrams to the configured port whose
# DSCP is the configured TOS's (ECN bits ignored), IPv4 and IPv6, to the
# configured queue, in the input or forward hook, and removes the table
# when tlstap-nfq exits on SIGTERM; a second instance on a busy queue
# fails with a clear error and leaves the first one's rule alone; after
# SIGKILL the rule stays, `bypass` lets the datagrams through while no one
# listens, and --remove-rule deletes it (twice: idempotent); bad options
# and a caller without CAP_NET_ADMIN get a clear error and change nothing.
# Queued junk is counted invalid and dropped, never used.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

build_tools
NFQ=$BIN/tlstap-nfq
setup_topology 1
inr() { ip netns exec "$(ns R1)" "$@"; }
ins() { ip netns exec "$(ns S)" "$@"; }

# 1. The rule text, as tlstap-nfq(8) documents it (THE RULE).
cat >"$TMP/want-default.txt" <<'RULE'
table inet tlstap {
	chain nfqueue {
		type filter hook input priority filter - 10; policy accept;
		udp dport 7419 ip dscp 0x08 queue num 0 bypass
		udp dport 7419 ip6 dscp 0x08 queue num 0 bypass
	}
}
RULE
"$NFQ" --print-rule >"$TMP/default.txt" || fail "--print-rule failed"
cmp -s "$TMP/default.txt" "$TMP/want-default.txt" ||
	fail "--print-rule: $(diff "$TMP/want-default.txt" "$TMP/default.txt" | head -n 3 | tr '\n' ' ')"
"$NFQ" --print-rule --hook forward --queue 3 --port 7500 --tos 0xb8 \
	>"$TMP/fwd.txt" || fail "--print-rule (forward) failed"
grep -q "hook forward priority filter - 10" "$TMP/fwd.txt" &&
	grep -q "udp dport 7500 ip dscp 0x2e queue num 3 bypass" "$TMP/fwd.txt" &&
	grep -q "udp dport 7500 ip6 dscp 0x2e queue num 3 bypass" "$TMP/fwd.txt" ||
	fail "--print-rule (forward): $(tr '\n' ' ' <"$TMP/fwd.txt")"

# 2. Installed: what it queues and what it does not.
for p in 7500 7501; do start_sink "sink$p" R1 "$p"; done
start_bg nfq R1 "$NFQ" --install-rule --queue 3 --port 7500 --tos 0xb8 \
	--log-datagrams "$TMP/nfq.dg" --out "$TMP/nfq.json" --stats-json
wait_rule R1
inr nft list table inet tlstap >"$TMP/installed.txt" 2>/dev/null
grep -q "hook input priority filter - 10" "$TMP/installed.txt" ||
	fail "installed chain: $(tr '\n' ' ' <"$TMP/installed.txt")"
grep -q "udp dport 7500 ip dscp ef" "$TMP/installed.txt" &&
	grep -q "udp dport 7500 ip6 dscp ef" "$TMP/installed.txt" ||
	fail "installed rule: $(tr '\n' ' ' <"$TMP/installed.txt")"
# nft prints the native statement as "queue ... to 3"; an xtables target
# it cannot show (nft warns on stderr), hence the functional checks below.
if grep -q "queue .*to 3" "$TMP/installed.txt"; then
	kind="nft queue expression"
else
	kind="xtables NFQUEUE target (kernel without CONFIG_NFT_QUEUE)"
fi
S=python3
ins $S "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7500 0xb8 3     # queued
ins $S "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7500 0xbb 2     # queued: ECN bits
ins $S "$PCAP_HELPERS/send_udp.py" fd77:1::2 7500 0xb8 2     # queued: IPv6
ins $S "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7500 0x20 4     # other DSCP
ins $S "$PCAP_HELPERS/send_udp.py" fd77:1::2 7500 0x00 1     # other DSCP
ins $S "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7501 0xb8 5     # other port
nfq_wait_stat nfq nfq packets 7

# 3. A second instance on the same queue: refused, rule untouched.
if inr timeout 10 "$NFQ" --install-rule --queue 3 --port 7600 \
	>/dev/null 2>"$TMP/second.err"; then
	fail "a second tlstap-nfq on queue 3 started"
fi
grep -q "queue 3: bind: another program (netlink port [0-9]*) holds this queue" "$TMP/second.err" ||
	fail "second instance: $(head -n 1 "$TMP/second.err")"
inr nft list table inet tlstap 2>/dev/null | grep -q "udp dport 7500" ||
	fail "the failed second instance changed the rule"

stop_bg nfq
has_rule R1 && fail "rule left after SIGTERM"
for p in 7500 7501; do stop_bg "sink$p"; done
[ "$(cat "$TMP/sink7500.count")" = 5 ] ||
	fail "port 7500 socket got $(cat "$TMP/sink7500.count") datagrams, want the 5 of other DSCPs"
[ "$(cat "$TMP/sink7501.count")" = 5 ] ||
	fail "port 7501 socket got $(cat "$TMP/sink7501.count") datagrams, want 5"
[ "$(nfq_stat nfq reasm invalid)" = 7 ] || fail "queued junk not counted invalid"
[ "$(nfq_stat nfq reasm records)" = 0 ] || fail "records out of junk"
[ -s "$TMP/nfq.json" ] && fail "output written out of junk"
[ "$(grep -c '"nf_verdict":"drop"' "$TMP/nfq.dg")" = 7 ] || fail "junk not dropped"

# 4. SIGKILL: the rule stays, bypass lets datagrams pass, --remove-rule.
start_sink sink7419 R1 7419
start_bg nfqk R1 "$NFQ" --install-rule --hook input
wait_rule R1
kill -KILL "$(cat "/proc/$(cat "$TMP/nfqk.pid")/task/$(cat "$TMP/nfqk.pid")/children")"
wait "$(cat "$TMP/nfqk.pid")" 2>/dev/null
has_rule R1 || fail "the rule vanished with a killed tlstap-nfq"
ins python3 "$PCAP_HELPERS/send_udp.py" 10.77.1.2 7419 0x20 3
sleep 0.3
inr "$NFQ" --remove-rule || fail "--remove-rule failed"
has_rule R1 && fail "--remove-rule left the table"
inr "$NFQ" --remove-rule || fail "--remove-rule without a table failed"
stop_bg sink7419
[ "$(cat "$TMP/sink7419.count")" = 3 ] ||
	fail "bypass: $(cat "$TMP/sink7419.count") of 3 datagrams passed with no one on the queue"

# 5. The forward hook.
start_bg nfqf R1 "$NFQ" --install-rule --hook forward --accept --queue 5
wait_rule R1
inr nft list table inet tlstap 2>/dev/null |
	grep -q "hook forward priority filter - 10" ||
	fail "--hook forward: $(inr nft list table inet tlstap 2>&1 | tr '\n' ' ')"
stop_bg nfqf
has_rule R1 && fail "forward rule left after SIGTERM"

# 6. Bad options and missing privileges: an error, no rule.
bad() {
	local want=$1
	shift
	if inr timeout 10 "$@" >/dev/null 2>"$TMP/bad.err"; then
		fail "'$*' succeeded"
	fi
	grep -q -- "$want" "$TMP/bad.err" || fail "'$*': $(head -n 1 "$TMP/bad.err")"
	has_rule R1 && fail "'$*' left a rule"
}
bad "--hook: want input or forward" "$NFQ" --hook sideways --install-rule
bad "--tos: '0' is not a number in 1..255" "$NFQ" --tos 0 --install-rule
bad "does not go with" "$NFQ" --install-rule --remove-rule
bad "--output: want json, raw, pcapng or tap:NAME" "$NFQ" --output xml
bad "needs CAP_NET_ADMIN" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all "$NFQ" --install-rule
echo "PASS: $TEST_NAME (rule through the $kind)"
