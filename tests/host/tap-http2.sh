#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# HTTP/2 on the TAP output: curl --http2 (hooked, through tlstap-run)
# fetches two files over one connection from nginx (`listen ... ssl
# http2`: ALPN h2, so curl speaks HTTP/2 inside TLS); the records go
# through tlstap-fwd to tlstap-recv --output tap:NAME, where tshark -i
# NAME captures. tshark, told the port carries HTTP/2 (-d
# tcp.port==PORT,http2: nothing on the wire says so once TLS is gone),
# decodes the client's connection preface, SETTINGS and HEADERS frames
# and shows both request paths and the 200 responses in HEADERS, and the
# DATA frames carry the files.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"
. "$(dirname "$0")/pcap/taplib.sh"
. "$(dirname "$0")/pcap/httpslib.sh"

command -v tshark >/dev/null || fail "tshark is not installed"
NGINX=$(command -v nginx) || fail "nginx is not installed"
build_tools
build_hook
setup_topology 1
TAP=tlsh2
PORT=8443

make_cert
mkdir -p "$TMP/www" "$TMP/tmp"
chmod 755 "$TMP" "$TMP/www"
chmod 777 "$TMP/tmp"
head -c 40000 /dev/urandom >"$TMP/www/one.bin"
printf 'the second file, over the same HTTP/2 connection\n' >"$TMP/www/two.txt"
chmod 644 "$TMP/www/"*
cat >"$TMP/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx-master.pid;
error_log $TMP/nginx-error.log info;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $TMP/tmp/body;
	proxy_temp_path $TMP/tmp/proxy;
	fastcgi_temp_path $TMP/tmp/fastcgi;
	uwsgi_temp_path $TMP/tmp/uwsgi;
	scgi_temp_path $TMP/tmp/scgi;
	server {
		listen 10.77.1.1:$PORT ssl http2;
		ssl_certificate $TMP/cert.pem;
		ssl_certificate_key $TMP/key.pem;
		root $TMP/www;
	}
}
CONF

start_bg recv R1 "$BIN/tlstap-recv" --listen 10.77.1.2:7419 \
	--output "tap:$TAP" --stats-json
wait_iface R1 "$TAP"
start_capture cap R1 "$TAP"
start_hook_fwd
start_bg nginx S "$NGINX" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf"
wait_listen "$PORT"

hooked curl -sk --http2 -w '%{http_version}\n' \
	-o "$TMP/one.out" "https://10.77.1.1:$PORT/one.bin" \
	-o "$TMP/two.out" "https://10.77.1.1:$PORT/two.txt" >"$TMP/curl.log" 2>&1 ||
	fail "curl failed: $(tail -n 1 "$TMP/curl.log")"
[ "$(sort -u "$TMP/curl.log")" = 2 ] ||
	fail "curl did not speak HTTP/2: $(cat "$TMP/curl.log")"
cmp -s "$TMP/one.out" "$TMP/www/one.bin" || fail "the first download differs"
cmp -s "$TMP/two.out" "$TMP/www/two.txt" || fail "the second download differs"

drain_fwd
stop_capture cap
stop_bg recv
stop_bg nginx
[ "$(nfq_stat recv - lost_ranges)" = 0 ] || fail "tlstap-recv lost records"

h2() { # FIELD...: the values tshark decodes as HTTP/2 on the port
	local args=()
	for f in "$@"; do args+=(-e "$f"); done
	tshark -r "$TMP/cap.pcapng" -d "tcp.port==$PORT,http2" -Y http2 \
		-T fields -E occurrence=a -E aggregator=, "${args[@]}" 2>/dev/null
}
h2 http2.magic >"$TMP/magic.txt"
grep -q . "$TMP/magic.txt" || fail "tshark sees no HTTP/2 connection preface"
paths=$(h2 http2.headers.path | tr ',' '\n' | grep . | sort | paste -sd' ')
[ "$paths" = "/one.bin /two.txt" ] ||
	fail "tshark decodes the request paths '$paths', want '/one.bin /two.txt'"
statuses=$(h2 http2.headers.status | tr ',' '\n' | grep -c '^200$')
[ "$statuses" = 2 ] || fail "tshark decodes $statuses responses with status 200, want 2"
conns=$(tshark -r "$TMP/cap.pcapng" -q -z conv,tcp 2>/dev/null | grep -c '<->')
[ "$conns" = 1 ] || fail "$conns TCP connections, want one for both requests"
echo "PASS: $TEST_NAME ($RECORDS records; paths $paths over one connection)"
