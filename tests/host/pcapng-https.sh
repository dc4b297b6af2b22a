#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Real HTTPS, captured through the hook, as a pcapng that tshark reads as
# cleartext: curl (OpenSSL) over IPv4 and wget (GnuTLS) over IPv6, run
# with tlstap-run, download files from openssl s_server -WWW; the hook
# writes to tlstap-fwd, which sends to tlstap-recv --output pcapng in
# another namespace. Checks, with tshark: `-z follow,tcp,ascii` on the
# first connection shows the HTTP request and response; each connection
# carries the client's request and the server's response with the file
# as its body, byte for byte, at the real addresses and ports; no
# malformed packet, no expert error, every checksum good.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"
. "$(dirname "$0")/pcap/httpslib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
build_hook
setup_topology 1

make_cert
mkdir "$TMP/www"
head -c 150000 /dev/urandom >"$TMP/www/file.bin"
printf '<html><body>tlstap over IPv6</body></html>\n' >"$TMP/www/page.html"

start_bg recv R1 "$BIN/tlstap-recv" --listen 10.77.1.2:7419 --output pcapng \
	--out "$TMP/out.pcapng" --stats-json
start_hook_fwd
start_s_servers 127.0.0.1:4433 "[::1]:4434"

hooked curl -sk -o "$TMP/curl.out" https://127.0.0.1:4433/file.bin \
	>"$TMP/curl.log" 2>&1 || fail "curl failed: $(tail -n 1 "$TMP/curl.log")"
hooked wget -q --no-check-certificate -O "$TMP/wget.out" \
	"https://[::1]:4434/page.html" >"$TMP/wget.log" 2>&1 ||
	fail "wget failed: $(tail -n 1 "$TMP/wget.log")"
cmp -s "$TMP/curl.out" "$TMP/www/file.bin" || fail "curl's download differs"
cmp -s "$TMP/wget.out" "$TMP/www/page.html" || fail "wget's download differs"

drain_fwd
[ "$RECORDS" -gt 4 ] || fail "tlstap-fwd forwarded only $RECORDS records"
stop_bg recv
[ "$(nfq_stat recv - lost_ranges)" = 0 ] || fail "tlstap-recv lost records"

python3 "$PCAP_HELPERS/check_https.py" "$TMP/out.pcapng" \
	4433="$TMP/www/file.bin" 4434="$TMP/www/page.html" >"$TMP/check.out" ||
	fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
cat "$TMP/check.out"
follow_exchange "$TMP/out.pcapng" 0 file.bin
grep -q "^Node 1: 127.0.0.1:4433$" "$TMP/follow0.txt" ||
	fail "tshark follow: the server is not 127.0.0.1:4433"
echo "PASS: $TEST_NAME ($RECORDS records, $(tshark -r "$TMP/out.pcapng" 2>/dev/null | wc -l) packets)"
