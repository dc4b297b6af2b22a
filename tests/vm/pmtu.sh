#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A smaller MTU further along the path: the target sits behind a router
# whose far link has MTU 1280. Datagrams sized for the first link's 1500
# are refused with ICMP "fragmentation needed" (DF is set); the module
# learns the path MTU, re-cuts what it had packed larger, and from then on
# every record arrives whole in datagrams that fit 1280.
. "$TLSTAP_SRC/tests/lib/vm.sh"

received_since_learned() { # LOST_BEFORE
	[ "$(($(dgrams_received) + $1))" -ge "$(stat_of datagrams)" ]
}

load_module
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# here --(1500)-- r1 --(1280)-- t1
ip netns add r1
ip netns add t1
NETNS_LIST="r1 t1"
ip link add vr type veth peer name eth0 netns r1
ip -n r1 link add eth1 mtu 1280 type veth peer name eth0 netns t1 mtu 1280
ip addr add 10.78.1.1/24 dev vr
ip addr add fd78:1::1/64 dev vr nodad
ip link set vr up
ip -n r1 addr add 10.78.1.2/24 dev eth0
ip -n r1 addr add fd78:1::2/64 dev eth0 nodad
ip -n r1 addr add 10.78.2.1/24 dev eth1
ip -n r1 addr add fd78:2::1/64 dev eth1 nodad
ip -n r1 link set eth0 up
ip -n r1 link set eth1 up
ip netns exec r1 sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n t1 addr add 10.78.2.2/24 dev eth0
ip -n t1 addr add fd78:2::2/64 dev eth0 nodad
ip -n t1 link set eth0 up
ip -n t1 link set lo up
ip route add 10.78.2.0/24 via 10.78.1.2
ip -6 route add fd78:2::/64 via fd78:1::2
ip -n t1 route add default via 10.78.2.1
ip -n t1 -6 route add default via fd78:2::1
ping -c 1 -W 5 10.78.2.2 >/dev/null || fail "no IPv4 path through r1"
ping -c 1 -W 5 fd78:2::2 >/dev/null || fail "no IPv6 path through r1"

echo 000102030405060708090a0b0c0d0e0f >"$SYS/hash_key"
start_recv t1 10.78.2.2:7419 v4
start_recv t1 "[fd78:2::2]:7419" v6
echo "add 10.78.2.2:7419" >"$SYS/targets"
echo "add [fd78:2::2]:7419" >"$SYS/targets"

# Until the ICMP comes back, the first large datagrams die at r1; what
# is still queued when it does is re-cut. One writev fills the rings.
"$TOOLS/recgen" -n 150 -b 150 -f 40 -m 65536 -s 1 >/dev/null
sleep 2
lost=$(($(stat_of datagrams) - $(dgrams_received)))
echo "first burst: $lost datagrams lost before the path MTU was known"
[ "$lost" -gt 0 ] || fail "no datagram was too large: the test proves nothing"
[ "$(stat_of resegmented)" -gt 0 ] || fail "no slot was re-cut for the smaller MTU"
# Should one target have had no large datagram in that burst, it learns
# the MTU now, as it would from its own first one.
ping -M 'do' -s 1400 -c 2 -W 2 10.78.2.2 >/dev/null 2>&1 || true
ping -M 'do' -s 1400 -c 2 -W 2 fd78:2::2 >/dev/null 2>&1 || true
sleep 1
lost=$(($(stat_of datagrams) - $(dgrams_received)))

# From now on nothing may be lost, and nothing exceed 1280.
"$TOOLS/recgen" -n 600 -f 300 -m 65536 -s 2 -o "$WORK/expected.bin"
wait_for 120 received_since_learned "$lost" ||
	fail "received $(dgrams_received) of $(stat_of datagrams) datagrams, $lost lost before"
stop_recv
cat "$SYS/stats"

python3 - "$WORK" <<'PY'
import json, struct, sys
work = sys.argv[1]
expected = {}
d = open(f"{work}/expected.bin", "rb").read()
pos = 0
while pos < len(d):
    n = 72 + struct.unpack_from("!I", d, pos + 8)[0]
    expected[struct.unpack_from("!Q", d, pos + 48)[0]] = d[pos:pos + n]
    pos += n
# Both bursts number their records from 0: match whole records by bytes.
got = set()
for name in ("v4", "v6"):
    d = open(f"{work}/{name}.raw", "rb").read()
    pos = 0
    while pos < len(d):
        n = 72 + struct.unpack_from("!I", d, pos + 8)[0]
        got.add(d[pos:pos + n])
        pos += n
missing = [i for i in expected if expected[i] not in got]
if missing:
    sys.exit(f"FAIL: {len(missing)} of {len(expected)} records missing or wrong")
big = []
for name, limit in (("v4", 1280 - 28), ("v6", 1280 - 48)):
    sizes = [json.loads(l)["size"] for l in open(f"{work}/{name}.dgram")]
    # Only datagrams that fit got through during the first burst too.
    big += [s for s in sizes if s > limit]
if big:
    sys.exit(f"FAIL: {len(big)} datagrams larger than the path allows: {big[:5]}")
print(f"ok   {len(expected)} records whole after the path MTU was learned")
PY
