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

command -v tshark >/dev/null || fail "tshark is not installed"
build_tools
make -s -C "$SRC/userhook" SANITIZE=1 >"$TMP/hook-build.log" 2>&1 ||
	fail "userhook build failed: $(tail -n 3 "$TMP/hook-build.log")"
RUN=$SRC/userhook/build-san/tlstap-run
setup_topology 1
ins() { ip netns exec "$(ns S)" "$@"; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
	>"$TMP/cert.log" 2>&1 || fail "cannot make a certificate"
mkdir "$TMP/www"
head -c 150000 /dev/urandom >"$TMP/www/file.bin"
printf '<html><body>tlstap over IPv6</body></html>\n' >"$TMP/www/page.html"
cat >"$TMP/tlstap.conf" <<CONF
global:
  if = $TMP/in.sock
  on_full = block
CONF

start_bg recv R1 "$BIN/tlstap-recv" --listen 10.77.1.2:7419 --output pcapng \
	--out "$TMP/out.pcapng" --stats-json
start_bg fwd S "$FWD_BIN/tlstap-fwd" --unix "$TMP/in.sock" --mode 0666 \
	--hash-key "$HASH_KEY" --target 10.77.1.2:7419 --stats-json
wait_for_file "$TMP/in.sock"
for hp in 127.0.0.1:4433 "[::1]:4434"; do
	(cd "$TMP/www" && exec ip netns exec "$(ns S)" timeout 120 openssl \
		s_server -WWW -quiet -accept "$hp" -cert "$TMP/cert.pem" \
		-key "$TMP/key.pem") >"$TMP/server-${hp##*:}.log" 2>&1 &
	BG_PIDS+=("$!")
done
for port in 4433 4434; do
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ins ss -Hltn "sport = :$port")" ] && break
		sleep 0.05
	done
done

ins timeout 60 "$RUN" -c "$TMP/tlstap.conf" -- curl -sk -o "$TMP/curl.out" \
	https://127.0.0.1:4433/file.bin >"$TMP/curl.log" 2>&1 ||
	fail "curl failed: $(tail -n 1 "$TMP/curl.log")"
ins timeout 60 "$RUN" -c "$TMP/tlstap.conf" -- wget -q --no-check-certificate \
	-O "$TMP/wget.out" "https://[::1]:4434/page.html" >"$TMP/wget.log" 2>&1 ||
	fail "wget failed: $(tail -n 1 "$TMP/wget.log")"
cmp -s "$TMP/curl.out" "$TMP/www/file.bin" || fail "curl's download differs"
cmp -s "$TMP/wget.out" "$TMP/www/page.html" || fail "wget's download differs"

stop_bg fwd
records=$(nfq_stat fwd - records)
[ "$records" -gt 4 ] || fail "tlstap-fwd forwarded only $records records"
nfq_wait_stat recv - records "$records"
stop_bg recv
[ "$(nfq_stat recv - lost_ranges)" = 0 ] || fail "tlstap-recv lost records"

python3 "$PCAP_HELPERS/check_https.py" "$TMP/out.pcapng" \
	4433="$TMP/www/file.bin" 4434="$TMP/www/page.html" >"$TMP/check.out" ||
	fail "$(grep FAIL "$TMP/check.out" | head -n 1)"
cat "$TMP/check.out"
tshark -r "$TMP/out.pcapng" -q -z follow,tcp,ascii,0 >"$TMP/follow.txt" 2>&1 ||
	fail "tshark follow failed: $(tail -n 1 "$TMP/follow.txt")"
grep -q "^GET /file.bin HTTP/1.1" "$TMP/follow.txt" ||
	fail "tshark follow,tcp,ascii,0 shows no request"
grep -q "^HTTP/1.0 200 ok" "$TMP/follow.txt" ||
	fail "tshark follow,tcp,ascii,0 shows no response"
grep -q "^Node 1: 127.0.0.1:4433$" "$TMP/follow.txt" ||
	fail "tshark follow: the server is not 127.0.0.1:4433"
echo "PASS: $TEST_NAME ($records records, $(tshark -r "$TMP/out.pcapng" 2>/dev/null | wc -l) packets)"
