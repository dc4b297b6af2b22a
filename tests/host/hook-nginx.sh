#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# nginx with an HTTPS site, its master started with LD_PRELOAD and
# TLSTAP_CONF. nginx clears its workers' environment (checked in
# /proc/PID/environ), yet the workers capture: the library took the
# config path when it loaded, in the master. Workers run as nobody.
# A hooked curl GETs a 200 KB file over IPv4 and PUTs a 300 KB file over
# IPv6 (WebDAV): each side's capture equals the other's in both
# directions, the bodies equal the files, addresses and ports agree.
. "$(dirname "$0")/hook/lib.sh"

start_capture
mkdir -p "$T/www/up" "$T/tmp"
chmod 777 "$T/www/up" "$T/tmp"
head -c 200000 /dev/urandom >"$T/www/file.bin"
head -c 300000 /dev/urandom >"$T/put.bin"
chmod 644 "$T/www/file.bin"
port=$(freeport)
while [ -n "$(ss -Hltn "sport = :$port")" ] || ! $PY -c 'import socket,sys
s=socket.socket(socket.AF_INET6); s.bind(("::1", int(sys.argv[1])))' "$port" 2>/dev/null; do
	port=$(freeport)
done
cat >"$T/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
pid $T/nginx.pid;
error_log $T/error.log info;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/tmp/body;
	proxy_temp_path $T/tmp/proxy;
	fastcgi_temp_path $T/tmp/fastcgi;
	uwsgi_temp_path $T/tmp/uwsgi;
	scgi_temp_path $T/tmp/scgi;
	server {
		listen 127.0.0.1:$port ssl;
		listen [::1]:$port ssl;
		ssl_certificate $T/cert.pem;
		ssl_certificate_key $T/key.pem;
		root $T/www;
		location /up/ {
			dav_methods PUT;
		}
	}
}
CONF
bg env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/tlstap.conf" \
	nginx -e "$T/error.log" -c "$T/nginx.conf"
master=$BG_PID
wait_port "$port"
workers=$(pgrep -P "$master" | paste -sd,)
[ "$(tr ',' '\n' <<<"$workers" | wc -l)" -eq 2 ] || fail "want 2 workers, have '$workers'"
for w in ${workers//,/ }; do
	! tr '\0' '\n' <"/proc/$w/environ" | grep -q '^TLSTAP_CONF=' ||
		fail "nginx kept TLSTAP_CONF in worker $w: nothing is proven"
	[ "$(stat -c %U "/proc/$w")" = nobody ] || fail "worker $w does not run as nobody"
done

# request NAME ADDR CHECKS... -- CURL ARGS...
request() {
	local name=$1 addr=$2 hp since out checks=()
	shift 2
	while [ "$1" != -- ]; do checks+=("$1"); shift; done
	shift
	case $addr in *:*) hp="[$addr]:$port" ;; *) hp="$addr:$port" ;; esac
	: >"$T/rec"
	since=$(date +%s%N)
	LD_PRELOAD="$LIB" TLSTAP_CONF="$T/tlstap.conf" timeout 60 \
		curl -sSk --http1.1 -H 'Expect:' "${@//@/https:\/\/$hp}" \
		>"$T/$name.log" 2>&1 || fail "$name: curl failed: $(tail -n1 "$T/$name.log")"
	settle "$T/rec"
	cp "$T/rec" "$T/$name.rec"
	out=$($RECORDS exchange "$T/$name.rec" --server-pid "$workers" \
		--server-port "$port" --addr "$addr" --since "$since" "${checks[@]}") ||
		fail "$name: $out"
}

request get 127.0.0.1 --request "GET /file.bin HTTP/1.1" \
	--body "$T/www/file.bin" -- -o "$T/got.bin" @/file.bin
cmp -s "$T/got.bin" "$T/www/file.bin" || fail "get: curl's file differs"
request put ::1 --request "PUT /up/put.bin HTTP/1.1" --sent-body "$T/put.bin" \
	-- -T "$T/put.bin" @/up/put.bin
cmp -s "$T/www/up/put.bin" "$T/put.bin" || fail "put: nginx stored something else"
! grep -q 'tlstap' "$T/error.log" || fail "tlstap complained: $(grep tlstap "$T/error.log")"
stop_reader "$READER_PID"
echo "PASS $TEST_NAME"
