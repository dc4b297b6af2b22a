#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Real HTTPS, captured through the hook, live on an interface: curl
# (OpenSSL) over IPv4, wget (GnuTLS) over IPv6 and python3 (its ssl
# module) over IPv4, run with tlstap-run, download files from openssl
# s_server -WWW; the hook writes to tlstap-fwd, which sends to
# tlstap-recv --output tap:tlstap0 in another namespace, where tshark -i
# tlstap0 captures. Checks, with tshark: `-z follow,tcp,ascii` shows each
# request and its response; each connection opens with the client's SYN
# and ends with its FIN, the server's and the last ACK, and carries the
# request and the file as the response's body, byte for byte, at the real
# addresses and ports; `-z conv,tcp` counts the three connections made;
# no malformed packet, every checksum good.
# And the frames leave no host: the receiver's namespace forwards
# (ip_forward, IPv6 forwarding on, default routes back over its eth0,
# where the synthetic connections' addresses are), yet tshark on its eth0
# sees no TCP at all, only tlstap's datagrams (and neighbour discovery);
# every frame written to the interface is counted dropped by its nft
# table; it has no address.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"
. "$(dirname "$0")/pcap/taplib.sh"
. "$(dirname "$0")/pcap/httpslib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
build_hook
setup_topology 1
inr() { ip netns exec "$(ns R1)" "$@"; }
TAP=tlstap0

# The receiver's namespace routes: anything its stack accepted for the
# synthetic connections' addresses (S's own) would go out of eth0.
inr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
	fail "cannot turn forwarding on"
inr ip route add default via 10.77.1.1 || fail "no IPv4 default route"
inr ip -6 route add default via fd77:1::1 || fail "no IPv6 default route"

make_cert
mkdir "$TMP/www"
head -c 150000 /dev/urandom >"$TMP/www/file.bin"
printf '<html><body>tlstap over IPv6</body></html>\n' >"$TMP/www/page.html"
head -c 70000 /dev/urandom >"$TMP/www/py.bin"

start_bg recv R1 "$BIN/tlstap-recv" --listen 10.77.1.2:7419 \
	--output "tap:$TAP" --stats-json
wait_iface R1 "$TAP"
start_capture cap R1 "$TAP"
start_capture wire R1 eth0
start_hook_fwd
start_s_servers 10.77.1.1:4433 "[fd77:1::1]:4434" 10.77.1.1:4435

hooked curl -sk -o "$TMP/curl.out" https://10.77.1.1:4433/file.bin \
	>"$TMP/curl.log" 2>&1 || fail "curl failed: $(tail -n 1 "$TMP/curl.log")"
hooked wget -q --no-check-certificate -O "$TMP/wget.out" \
	"https://[fd77:1::1]:4434/page.html" >"$TMP/wget.log" 2>&1 ||
	fail "wget failed: $(tail -n 1 "$TMP/wget.log")"
hooked python3 -c '
import ssl, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], context=ssl._create_unverified_context()) as r:
    open(sys.argv[2], "wb").write(r.read())' https://10.77.1.1:4435/py.bin \
	"$TMP/py.out" >"$TMP/py.log" 2>&1 ||
	fail "python3 failed: $(tail -n 1 "$TMP/py.log")"
cmp -s "$TMP/curl.out" "$TMP/www/file.bin" || fail "curl's download differs"
cmp -s "$TMP/wget.out" "$TMP/www/page.html" || fail "wget's download differs"
cmp -s "$TMP/py.out" "$TMP/www/py.bin" || fail "python3's download differs"

drain_fwd
[ "$(nfq_stat recv - opens)" = 3 ] && [ "$(nfq_stat recv - closes)" = 3 ] ||
	fail "tlstap-recv got $(nfq_stat recv - opens) OPEN and $(nfq_stat recv - closes) CLOSE records, want 3 each"
stop_capture cap
stop_capture wire
dropped=$(tap_dropped R1 "$TAP")
addrs=$(inr ip -o addr show dev "$TAP")
stop_bg recv
[ "$(nfq_stat recv - lost_ranges)" = 0 ] || fail "tlstap-recv lost records"
frames=$(nfq_stat recv tap frames)
[ "$(nfq_stat recv tap write_errors)" = 0 ] || fail "frames the kernel refused"
[ "$dropped" = "$frames" ] ||
	fail "the nft table dropped ${dropped:-no} frames, $frames were written"
[ -z "$addrs" ] || fail "$TAP has addresses: $addrs"

# Nothing of the connections on the wire: only tlstap's UDP (and ND/ARP).
tshark -r "$TMP/wire.pcapng" -Y 'tcp || (ip && !udp && !icmp) || (ipv6 && !udp && !icmpv6)' \
	>"$TMP/leak.txt" 2>"$TMP/leak.err" || fail "tshark -r wire: $(tail -n 1 "$TMP/leak.err")"
[ ! -s "$TMP/leak.txt" ] || fail "on eth0: $(head -n 1 "$TMP/leak.txt")"
udp=$(tshark -r "$TMP/wire.pcapng" -Y "udp.port == 7419" 2>/dev/null | wc -l)
[ "$udp" -gt 0 ] || fail "the eth0 capture saw no tlstap datagram: it proves nothing"

python3 "$PCAP_HELPERS/check_https.py" "$TMP/cap.pcapng" \
	4433="$TMP/www/file.bin" 4434="$TMP/www/page.html" 4435="$TMP/www/py.bin" \
	>"$TMP/check.out" || fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
cat "$TMP/check.out"
for s in 0 1 2; do
	follow_exchange "$TMP/cap.pcapng" "$s" "(file.bin|page.html|py.bin)"
done
grep -q "^Node 1: 10.77.1.1:4433$" "$TMP"/follow*.txt ||
	fail "tshark follow: no connection to 10.77.1.1:4433"
grep -q "^Node 1: \[fd77:1::1\]:4434$" "$TMP"/follow*.txt ||
	fail "tshark follow: no connection to [fd77:1::1]:4434"
tshark -r "$TMP/cap.pcapng" -q -z conv,tcp >"$TMP/conv.txt" 2>&1 ||
	fail "tshark conv failed: $(tail -n 1 "$TMP/conv.txt")"
conns=$(grep -cE '<->' "$TMP/conv.txt")
[ "$conns" = 3 ] || fail "tshark -z conv,tcp counts $conns connections, want 3"
echo "PASS: $TEST_NAME ($RECORDS records, $frames frames, $conns connections, $udp datagrams on the wire, no TCP)"
