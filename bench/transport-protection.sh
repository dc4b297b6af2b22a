#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What protecting the plaintext in transit costs: tlstap-fwd in namespace
# snd sends the same records to tlstap-recv in namespace rcv over a veth,
#   plain      the datagrams as they are;
#   wireguard  through a WireGuard tunnel between the two namespaces;
#   esp        IPsec ESP in transport mode, static SAs both ways
#              (rfc4106(gcm(aes)), 128-bit ICV), on a second address
#              pair over the same veth.
# The records are fed to tlstap-fwd at a fixed RATE, below what the
# tunnel can carry: unpaced, tlstap-fwd's bursts overflow WireGuard's
# per-peer queue under TCG, which drops them, and the resends that follow
# are dropped again; what is measured is then loss recovery, not the
# tunnel's cost. Per variant and round: records/s from the first record
# until the receiver has written every record, and the whole machine's
# CPU per record (/proc/stat over the same time: the tunnels' crypto runs
# in softirq and kernel workers, which no process's times show). Rounds
# alternate the variants; medians are printed.
# Runs inside the VM (the host kernel has no WireGuard):
#   VM_SCRIPT=bench/transport-protection.sh tests/vm/harness/run
# RECORDS (default 10000), SIZE (plaintext bytes, default 1024), RATE
# (records/s, default 1000), ROUNDS (3).
set -eu
SRC=${TLSTAP_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
FWD=$SRC/fwd/build/tlstap-fwd
RECV=$SRC/nfq-tools/build/tlstap-recv
RECORDS=${RECORDS:-10000}
SIZE=${SIZE:-1024}
RATE=${RATE:-1000}
ROUNDS=${ROUNDS:-3}
RECORD=$((72 + SIZE))	# bytes of one record: header and plaintext
RUN=$(mktemp -d)

cleanup() {
	ip netns del snd 2>/dev/null || true
	ip netns del rcv 2>/dev/null || true
	rm -rf "$RUN"
}
trap cleanup EXIT

for m in veth wireguard; do
	modprobe -q "$m"
done
ip netns add snd
ip netns add rcv
ip -n snd link set lo up
ip -n rcv link set lo up
ip link add e0 netns snd type veth peer name e0 netns rcv
ip -n snd addr add 10.88.0.1/24 dev e0
ip -n rcv addr add 10.88.0.2/24 dev e0
ip -n snd link set e0 up
ip -n rcv link set e0 up

# WireGuard: 10.89.0.1 <-> 10.89.0.2 over the veth.
umask 077
wg genkey >"$RUN/k1"
wg genkey >"$RUN/k2"
wg pubkey <"$RUN/k1" >"$RUN/p1"
wg pubkey <"$RUN/k2" >"$RUN/p2"
ip -n snd link add wg0 type wireguard
ip -n rcv link add wg0 type wireguard
ip netns exec snd wg set wg0 private-key "$RUN/k1" listen-port 51820 \
	peer "$(cat "$RUN/p2")" endpoint 10.88.0.2:51820 allowed-ips 10.89.0.2/32
ip netns exec rcv wg set wg0 private-key "$RUN/k2" listen-port 51820 \
	peer "$(cat "$RUN/p1")" endpoint 10.88.0.1:51820 allowed-ips 10.89.0.1/32
ip -n snd addr add 10.89.0.1/24 dev wg0
ip -n rcv addr add 10.89.0.2/24 dev wg0
ip -n snd link set wg0 up
ip -n rcv link set wg0 up

# ESP: 10.90.0.1 <-> 10.90.0.2, each direction its own SA and key.
ip -n snd addr add 10.90.0.1/24 dev e0
ip -n rcv addr add 10.90.0.2/24 dev e0
key_out=0x$(openssl rand -hex 20)
key_in=0x$(openssl rand -hex 20)
for ns in snd rcv; do
	ip -n "$ns" xfrm state add src 10.90.0.1 dst 10.90.0.2 proto esp \
		spi 0x1001 reqid 1 mode transport aead 'rfc4106(gcm(aes))' "$key_out" 128
	ip -n "$ns" xfrm state add src 10.90.0.2 dst 10.90.0.1 proto esp \
		spi 0x1002 reqid 2 mode transport aead 'rfc4106(gcm(aes))' "$key_in" 128
done
esp_policy() { # NS DIR SRC DST REQID
	ip -n "$1" xfrm policy add src "$3/32" dst "$4/32" dir "$2" \
		tmpl src "$3" dst "$4" proto esp reqid "$5" mode transport
}
esp_policy snd out 10.90.0.1 10.90.0.2 1
esp_policy snd in 10.90.0.2 10.90.0.1 2
esp_policy rcv in 10.90.0.1 10.90.0.2 1
esp_policy rcv out 10.90.0.2 10.90.0.1 2

variants="plain:10.88.0.2 wireguard:10.89.0.2 esp:10.90.0.2"
for v in $variants; do
	ip netns exec snd ping -c 1 -W 5 "${v#*:}" >/dev/null
done

python3 - "$RUN/records.bin" "$RECORDS" "$SIZE" <<'PY'
import os, socket, struct, sys
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hdr = struct.Struct("!BBBBHHII16s16sQQQ")
body = os.urandom(size)
with open(path, "wb") as f:
    for i in range(n):
        flow = i % 64
        src = socket.inet_aton(f"10.3.0.{flow}") + bytes(12)
        dst = socket.inet_aton("192.0.2.1") + bytes(12)
        f.write(hdr.pack(1, 1 + i % 2, 4, 72, 40000 + flow, 443, size, 1,
                         src, dst, i, flow, 0) + body)
PY
want=$(stat -c %s "$RUN/records.bin")
cat >"$RUN/pace.py" <<'PY'
import sys, time
path, size, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
out = sys.stdout.buffer
start = time.monotonic()
sent = 0
while sent < len(data) // size:
    due = min(int((time.monotonic() - start) * rate) + 1, len(data) // size)
    if due > sent:
        out.write(data[sent * size:due * size])
        out.flush()
        sent = due
    time.sleep(0.002)
PY

busy_jiffies() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

one() { # VARIANT TARGET_ADDR: prints "records/s cpu_us_per_record nacks duplicates"
	local out=$RUN/$1.raw t0 t1 j0 j1 rpid hz
	rm -f "$out"
	ip netns exec rcv "$RECV" --listen "$2:7419" --output raw --out "$out" \
		2>"$RUN/$1.recv.err" &
	rpid=$!
	while [ -z "$(ip netns exec rcv ss -Hlun "sport = :7419")" ]; do sleep 0.1; done
	j0=$(busy_jiffies)
	t0=$(date +%s.%N)
	python3 "$RUN/pace.py" "$RUN/records.bin" "$RECORD" "$RATE" |
		ip netns exec snd "$FWD" --stdin --target "$2:7419" --linger-ms 3000 \
		2>"$RUN/$1.fwd.err" &
	local deadline=$((SECONDS + 600))
	while [ "$(stat -c %s "$out" 2>/dev/null || echo 0)" -lt "$want" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$1: the receiver has $(stat -c %s "$out") of $want bytes after 600 s" >&2
			tail -n 3 "$RUN/$1.fwd.err" "$RUN/$1.recv.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	t1=$(date +%s.%N)
	j1=$(busy_jiffies)
	wait $! || true
	kill "$rpid"
	wait "$rpid" || true
	# Every record once, byte-exact; a record resent after a NACK is
	# written when it completes, out of order.
	python3 - "$out" "$RUN/records.bin" "$RECORD" <<'PY' || exit 1
import sys
got, sent, size = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
split = lambda b: sorted(b[i:i + size] for i in range(0, len(b), size))
if split(got) != split(sent):
    sys.exit("the records received are not the records sent")
PY
	hz=$(getconf CLK_TCK)
	awk -v n="$RECORDS" -v t0="$t0" -v t1="$t1" -v j="$((j1 - j0))" -v hz="$hz" \
		-v nacks="$(awk '$1 == "nacks_sent" { print $2 }' "$RUN/$1.recv.err")" \
		-v dups="$(awk '$1 == "duplicates" { print $2 }' "$RUN/$1.recv.err")" \
		'BEGIN { printf "%.0f %.1f %d %d\n", n / (t1 - t0), j / hz * 1e6 / n, nacks, dups }'
}

declare -A rate cpu
for r in $(seq "$ROUNDS"); do
	for v in $variants; do
		name=${v%%:*}
		result=$(one "$name" "${v#*:}") || { echo "$name: failed" >&2; exit 1; }
		read -r rs us nacks dups <<<"$result"
		echo "round $r $name: $rs records/s, $us us CPU/record, $nacks NACKs, $dups duplicate datagrams"
		rate[$name]="${rate[$name]:-} $rs"
		cpu[$name]="${cpu[$name]:-} $us"
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "medians of $ROUNDS rounds, $RECORDS records of $SIZE bytes offered at $RATE/s:"
for v in $variants; do
	name=${v%%:*}
	echo "$name: $(echo "${rate[$name]}" | median) records/s, $(echo "${cpu[$name]}" | median) us CPU/record"
done
ip netns exec snd wg show wg0 transfer
ip -n snd -s xfrm state | awk '/^src/ { sa = $2 " > " $4 } /lifetime current/ { getline; print "esp " sa ": " $0 }'
