#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A receiver restarted in the middle of a stream outputs nothing twice.
# tlstap-fwd sends batches of records (tests/host/nfq/gen_records.py) in a
# namespace of its own. Checks:
# - without a state file, a second tlstap-recv after the first outputs
#   exactly the records sent to it: it starts the running stream at the
#   first seq it sees, asks for nothing before it, and says so in one
#   line (sender, stream, seq);
# - the systemd unit (dist/tlstap-recv.service: its ExecStart line as
#   systemd runs it, with dist/tlstap-recv.default's settings; PID 1 here
#   is not systemd, so `systemctl restart` is what systemd does: SIGTERM,
#   wait, the same ExecStart again) keeps its state file across the
#   restart: stopped while a record is half received (its other
#   datagrams dropped, the NACKs for them too) and while records are sent
#   to the closed port, then started again, its one output file holds
#   every record exactly once, byte-exact, and no LOST line;
# - tlstap-nfq with --state, restarted between two batches, likewise.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

build_tools
add_ns R
: >"$TMP/all.expect"

# --- Without a state file.
start_fwd fwd R "$TMP/in.sock" --target 127.0.0.1:7501 --port 7600 \
	--max-datagram 1400
start_bg a R "$BIN/tlstap-recv" --listen 127.0.0.1:7501 --out "$TMP/a.json" \
	--stats-json
wait_udp_bound a R 7501
send_batch p1 41 10 --max-size 3000
wait_records 10 "$TMP/a.json"
stop_bg a
start_bg b R "$BIN/tlstap-recv" --listen 127.0.0.1:7501 --out "$TMP/b.json" \
	--stats-json
wait_udp_bound b R 7501
send_batch p2 42 10 --max-size 3000
wait_records 10 "$TMP/b.json"
# What it would have asked for before its start would be here by now.
sleep 1
stop_bg b
check_records "$TMP/p2.expect" "$TMP/b.json"
[ "$(grep -c 'starting at seq' "$TMP/b.err")" = 1 ] ||
	fail "b: want one line saying where it joined: $(head -n 3 "$TMP/b.err")"
grep -q "^tlstap-recv: stream 127.0.0.1:7600/[0-9]*: starting at seq [1-9][0-9]*" \
	"$TMP/b.err" || fail "b: $(grep 'starting at seq' "$TMP/b.err")"
echo "without state: $(grep 'starting at seq' "$TMP/b.err")"
stop_bg fwd

# --- The systemd unit: its command line, its settings, its state file.
state=$TMP/state
mkdir -m 700 "$state"
mapfile -t unit_cmd < <(python3 "$SRC/tests/host/lib/execstart.py" \
	"$SRC/dist/tlstap-recv.service" "@SBINDIR@=$BIN" "/var/lib/tlstap-recv=$state")
[ "${unit_cmd[0]:-}" = /bin/sh ] || fail "unexpected ExecStart: ${unit_cmd[*]}"
# The administrator's settings: where to listen, NACK retries slow enough
# that the hole below outlives the restart.
sed -e 's/^TLSTAP_RECV_LISTEN=.*/TLSTAP_RECV_LISTEN=127.0.0.1:7502/' \
	-e 's/^TLSTAP_RECV_OPTIONS=.*/TLSTAP_RECV_OPTIONS="--nack-timeout-ms 1000"/' \
	"$SRC/dist/tlstap-recv.default" >"$TMP/default"
grep -q '^TLSTAP_RECV_OPTIONS="--nack' "$TMP/default" || fail "dist/tlstap-recv.default has no TLSTAP_RECV_OPTIONS"

UNIT_PID=
unit_start() { # NAME
	(set -a && . "$TMP/default" && exec ip netns exec "$(ns R)" \
		"${unit_cmd[@]}") 2>"$TMP/$1.err" &
	UNIT_PID=$!
	BG_PIDS+=("$UNIT_PID")
	for _ in $(seq 100); do
		[ -n "$(ip netns exec "$(ns R)" ss -Hlun 'sport = :7502')" ] && return 0
		sleep 0.05
	done
	fail "$1: the unit's tlstap-recv does not listen: $(tail -n 2 "$TMP/$1.err")"
}
unit_stop() { # NAME
	local rc=0
	kill -TERM "$UNIT_PID"
	wait "$UNIT_PID" || rc=$?
	[ "$rc" = 0 ] || fail "$1: the unit's tlstap-recv exited $rc: $(tail -n 2 "$TMP/$1.err")"
}
# Every record file the unit wrote.
unit_records() {
	cat "$state"/records*.json 2>/dev/null
}
wait_unit_records() { # N
	local got i
	for ((i = 0; i < 600; i++)); do
		got=$(unit_records | grep -c '^{"type":"\(data\|loss\)"')
		[ "$got" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "the unit's files hold $got records, want $1"
}

: >"$TMP/all.expect"
# One datagram per send: nft sees (and drops) single datagrams on lo.
start_fwd fwd R "$TMP/in.sock" --target 127.0.0.1:7502 --port 7600 \
	--max-datagram 1400 --no-gso
unit_start u1
send_batch u1 51 10 --max-size 3000
wait_unit_records 10
# Record 19, the last of the next batch (5000 bytes, four datagrams), loses
# every datagram but its first (those whose first chunk is record 19 at
# an offset), and the NACKs for them are lost too: it is half received
# when the unit stops.
ip netns exec "$(ns R)" nft -f - <<'NFT' || fail "nft rules"
table inet tlstap_restart {
	chain in {
		type filter hook prerouting priority -300;
		udp dport 7502 @th,64,8 1 @th,88,8 0 @th,192,32 19 @th,256,32 != 0 counter drop
	}
	chain out {
		type filter hook output priority 0;
		udp sport 7502 @th,64,8 2 counter drop
	}
}
NFT
send_batch u2 52 10 --max-size 3000 --last-size 5000
wait_unit_records 19
sleep 0.3
unit_stop u1
ip netns exec "$(ns R)" nft list table inet tlstap_restart >"$TMP/nft.txt"
dropped=$(sed -n 's/.*counter packets \([0-9]*\).*/\1/p' "$TMP/nft.txt" | head -n 1)
nacks=$(sed -n 's/.*counter packets \([0-9]*\).*/\1/p' "$TMP/nft.txt" | tail -n 1)
[ "$dropped" -ge 1 ] && [ "$nacks" -ge 1 ] ||
	fail "the rules dropped $dropped datagrams and $nacks NACKs, want both"
# shellcheck disable=SC2046  # the state files' names have no spaces
! grep -q '"type":"lost"' "$TMP/u1.err" $(ls "$state"/records*.json) ||
	fail "the unit gave records up when it stopped"
[ -s "$state/state" ] || fail "no state file in the state directory: $(ls "$state")"
head -n 1 "$state/state" | grep -q '^tlstap-receiver-state 1$' ||
	fail "the state file starts with '$(head -n 1 "$state/state")'"
ip netns exec "$(ns R)" nft delete table inet tlstap_restart
# Sent while the unit is down: to a closed port.
send_batch u3 53 5 --max-size 3000
unit_start u2
send_batch u4 54 10 --max-size 3000
wait_unit_records 35
sleep 1
unit_stop u2
stop_bg fwd
unit_records >"$TMP/unit.json"
check_records "$TMP/all.expect" "$TMP/unit.json"
[ "$(ls "$state"/records*.json)" = "$state/records.json" ] ||
	fail "the unit wrote $(ls "$state"/records*.json | wc -l) files, want records.json"
echo "the unit, restarted: $dropped datagrams and $nacks NACKs dropped before, 35 records once each"

# --- tlstap-nfq with a state file, restarted between two batches.
: >"$TMP/all.expect"
start_fwd fwd R "$TMP/in.sock" --target 127.0.0.1:7503 --port 7600 \
	--max-datagram 1400
for run in 1 2; do
	start_bg "nfq$run" R "$BIN/tlstap-nfq" --install-rule --port 7503 \
		--out "$TMP/nfq.json" --state "$TMP/nfq.state" --stats-json
	wait_rule R
	send_batch "n$run" "6$run" 10 --max-size 3000
	wait_records $((run * 10)) "$TMP/nfq.json"
	sleep 0.5
	stop_bg "nfq$run"
done
stop_bg fwd
check_records "$TMP/all.expect" "$TMP/nfq.json"
echo "PASS: $TEST_NAME"
