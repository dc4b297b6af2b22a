#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# What reliable delivery costs: tlstap-fwd -> tlstap-recv (optimised
# builds) across a veth that drops 0%, 1% or 5% of the datagrams in each
# direction at random (nft numgen, as tests/host/nfq/lib.sh's lossy_link;
# UDP GSO batches split before the link so that single datagrams are
# lost). A test writer sends RECORDS records (1 B to 4 KiB, deterministic)
# into tlstap-fwd's Unix socket as fast as it can. Per loss rate and
# round: the extra datagrams (retransmissions, GAPs and the receiver's
# NACKs) against the DATA datagrams, heartbeats apart, the
# records LOST (a receiver lagging more than the replay ring behind the
# sender gets GAPs), and the time from the first record written to the
# last one output (and from the writer's end). Medians of ROUNDS.
# Usage: [REPLAY=BYTES] nfq-tools/bench/rel-bench.sh [RECORDS [ROUNDS]]
# (as root; REPLAY: tlstap-fwd's --replay-bytes, default 4 MiB)
. "$(dirname "$0")/../../tests/host/nfq/lib.sh"
RECORDS=${1:-10000}
ROUNDS=${2:-3}
REPLAY=${REPLAY:-4194304}	# tlstap-fwd --replay-bytes
{ make -s -C "$SRC/nfq-tools" && make -s -C "$SRC/fwd"; } >"$TMP/build.log" 2>&1 ||
	fail "build failed: $(tail -n 3 "$TMP/build.log")"
BIN=$SRC/nfq-tools/build

# run LOSS ROUND: one delivery, its figures as a JSON line in $TMP/runs.
run() {
	local loss=$1 round=$2 t0 t1 t2 want got
	# shellcheck disable=SC2034  # read by ../../tests/host/nfq/lib.sh
	NS_PREFIX="tlstap-relbench-$$-$loss-$round"
	setup_topology 1
	if [ "$loss" = 0 ]; then
		split_gso 1
	else
		lossy_link 1 "$loss" 0 "$loss" 2>/dev/null
	fi
	start_bg "recv-$loss-$round" R1 "$BIN/tlstap-recv" --listen "[::]:7419" \
		--out "$TMP/recv-$loss-$round.json" --stats-json
	start_bg "fwd-$loss-$round" S "$SRC/fwd/build/tlstap-fwd" --unix "$TMP/in-$loss-$round.sock" \
		--hash-key "$HASH_KEY" --target 10.77.1.2:7419 --stats-json \
		--replay-bytes "$REPLAY"
	wait_for_file "$TMP/in-$loss-$round.sock"
	sleep 0.3
	t0=$(date +%s%N)
	timeout 300 python3 "$NFQ_HELPERS/gen_records.py" --seed 21 --flows 100 \
		--records "$RECORDS" --max-size 4096 --unix "$TMP/in-$loss-$round.sock" \
		--expect "$TMP/expect-$loss-$round.json" >"$TMP/summary-$loss-$round.json" ||
		fail "test writer failed"
	t1=$(date +%s%N)
	want=$RECORDS
	# Until every record is out (LOST lines count too), or 3 s of nothing.
	last=0
	t2=$(date +%s%N)
	for ((idle = 0; idle < 300; )); do
		got=$(wc -l <"$TMP/recv-$loss-$round.json")
		if [ "$got" = "$last" ]; then
			idle=$((idle + 1))
		else
			idle=0
			last=$got
			t2=$(date +%s%N)	# the last line seen so far
		fi
		[ "$got" -ge "$want" ] && break
		sleep 0.01
	done
	sleep 1.5	# heartbeats and late answers, then the counters
	stop_bg "fwd-$loss-$round"
	stop_bg "recv-$loss-$round"
	python3 - "$TMP" "$loss" "$round" "$t0" "$t1" "$t2" >>"$TMP/runs" <<'PY'
import json, sys
tmp, loss, rnd, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), sys.argv[3], *map(int, sys.argv[4:7])
def final(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")][-1]
fwd = final("%s/fwd-%d-%s.err" % (tmp, loss, rnd))
rcv = final("%s/recv-%d-%s.err" % (tmp, loss, rnd))
out = [json.loads(l) for l in open("%s/recv-%d-%s.json" % (tmp, loss, rnd))]
t = fwd["targets"][0]
data = sum(1 for r in out if r["type"] != "lost")
lost = sum(r["record_last"] - r["record_first"] + 1 for r in out if r["type"] == "lost")
assert data + lost == fwd["records"], "%d output + %d LOST of %d" % (data, lost, fwd["records"])
print(json.dumps({"loss": loss, "records": fwd["records"], "lost": lost,
                  "datagrams": t["next_seq"],
                  "retransmits": fwd["retransmits"], "heartbeats": fwd["heartbeats"],
                  "gap_messages": t["gap_messages"], "nacks": rcv["nacks_sent"],
                  "nack_seqs": rcv["nack_seqs"], "delivery_ms": (t2 - t0) / 1e6,
                  "after_writer_ms": (t2 - t1) / 1e6}))
PY
	for ns_name in "${NS_LIST[@]}"; do ip netns del "$ns_name"; done
	NS_LIST=()
}

for ((r = 1; r <= ROUNDS; r++)); do
	for loss in 0 1 5; do
		run "$loss" "$r"
	done
done
python3 - "$TMP/runs" "$REPLAY" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print("| loss each way | records | DATA datagrams | retransmitted (%) | "
      "GAPs | NACKs (seqs asked) | extra % | heartbeats | LOST records | "
      "delivery ms | after the writer ms |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for loss in (0, 1, 5):
    rs = [r for r in runs if r["loss"] == loss]
    med = lambda k: statistics.median(r[k] for r in rs)
    extra = statistics.median(
        100.0 * (r["retransmits"] + r["gap_messages"] + r["nacks"]) / r["datagrams"]
        for r in rs)
    print("| %d%% | %d | %d | %d (%.2f%%) | %d | %d (%d) | %.2f | %d | %s | %.0f | %.0f |" % (
        loss, med("records"), med("datagrams"), med("retransmits"),
        100.0 * med("retransmits") / med("datagrams"), med("gap_messages"),
        med("nacks"), med("nack_seqs"), extra, med("heartbeats"),
        "/".join(str(r["lost"]) for r in rs), med("delivery_ms"),
        med("after_writer_ms")))
print("(medians of %d rounds; extra: retransmissions + GAPs + NACKs per DATA "
      "datagram; LOST records per round; delivery: from the "
      "first record written to the last one out, LOST lines included; "
      "replay %s bytes)" % (len(rs), sys.argv[2]))
PY
