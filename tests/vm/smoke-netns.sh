#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Proves the VM harness itself: the 6.1 image's modules load with modprobe
# and, asked for by the kernel, by themselves (a dummy link's driver),
# two network namespaces joined by veth reach each other over IPv4 and IPv6,
# and UDP datagrams sent with a given IPv4 TOS / IPv6 traffic class arrive
# carrying exactly that value and payload.
set -u
fail() { echo "FAIL: $*"; exit 1; }

a=smoke-a-$$
b=smoke-b-$$
cleanup() {
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
}
trap cleanup EXIT

for m in veth udp_tunnel ip6_udp_tunnel nf_tables nft_queue nfnetlink_queue sch_netem; do
	modprobe "$m" || fail "modprobe $m"
	grep -q "^$m " /proc/modules || fail "$m not in /proc/modules after modprobe"
done
grep -q '^dummy ' /proc/modules && fail "dummy already loaded: cannot test autoloading"
ip link add "smoke$$" type dummy || fail "the kernel did not load dummy for a dummy link"
ip link del "smoke$$"

ip netns add "$a" && ip netns add "$b" || fail "ip netns add"
ip link add va netns "$a" type veth peer name vb netns "$b" || fail "creating the veth pair"
ip -n "$a" addr add 10.99.0.1/24 dev va &&
	ip -n "$b" addr add 10.99.0.2/24 dev vb &&
	ip -n "$a" addr add fd00:99::1/64 dev va nodad &&
	ip -n "$b" addr add fd00:99::2/64 dev vb nodad || fail "addressing the veth pair"
ip -n "$a" link set lo up && ip -n "$a" link set va up &&
	ip -n "$b" link set lo up && ip -n "$b" link set vb up || fail "bringing the veth pair up"

timeout 20 ip netns exec "$a" ping -q -c 3 -i 0.2 -W 2 10.99.0.2 >/dev/null || fail "ping 10.99.0.2 from $a"
timeout 20 ip netns exec "$a" ping -q -6 -c 3 -i 0.2 -W 2 fd00:99::2 >/dev/null || fail "ping fd00:99::2 from $a"

# Receiver in b: prints "TOS PAYLOAD" per datagram; the sender in a sends
# each payload with its own TOS / traffic class.
receive() { # FAMILY ADDRESS COUNT READY_FILE
	# A bound, not a deadline: python3 over 9p under TCG starts slowly.
	timeout 120 ip netns exec "$b" python3 -c '
import socket, sys
family = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
s = socket.socket(family, socket.SOCK_DGRAM)
if family == socket.AF_INET:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
else:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
s.bind((sys.argv[2], 7419))
open(sys.argv[4], "w").close()
for _ in range(int(sys.argv[3])):
    data, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(4))
    tos = None
    for level, kind, value in anc:
        if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TOS),
                             (socket.IPPROTO_IPV6, socket.IPV6_TCLASS)):
            tos = value[0]
    print("%s %s" % (tos, data.decode()), flush=True)
' "$@"
}
send() { # FAMILY ADDRESS TOS PAYLOAD
	ip netns exec "$a" python3 -c '
import socket, sys
family = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
s = socket.socket(family, socket.SOCK_DGRAM)
if family == socket.AF_INET:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, int(sys.argv[3]))
else:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, int(sys.argv[3]))
s.sendto(sys.argv[4].encode(), (sys.argv[2], 7419))
' "$@"
}

check_family() { # FAMILY ADDRESS
	local ready out expected
	ready=$(mktemp -u)
	out=$(mktemp)
	receive "$1" "$2" 2 "$ready" >"$out" &
	local pid=$!
	for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.1; done
	[ -e "$ready" ] || fail "IPv$1 receiver did not start"
	send "$1" "$2" 40 first-tos-40 && send "$1" "$2" 184 second-tos-184 || fail "IPv$1 send"
	wait $pid || fail "IPv$1 receiver: exit $? (datagrams lost?)"
	expected=$'40 first-tos-40\n184 second-tos-184'
	[ "$(cat "$out")" = "$expected" ] ||
		fail "IPv$1: received '$(tr '\n' '|' <"$out")', expected '$(echo "$expected" | tr '\n' '|')'"
	rm -f "$ready" "$out"
}
check_family 4 10.99.0.2
check_family 6 fd00:99::2
echo "ok: modprobe, autoload, veth between namespaces, ping v4/v6, UDP TOS 40/184 and traffic class 40/184 received"
