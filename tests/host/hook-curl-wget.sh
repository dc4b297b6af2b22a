#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# curl (OpenSSL) and wget (GnuTLS) through the hook download a 200 KB file
# from a hooked openssl s_server -WWW, over IPv4 and IPv6, started through
# tlstap-run -c. Per download: the client's capture is its HTTP request
# and the whole response (body = the file, as the client also saved it),
# the server's capture equals it in both directions, and both ends agree
# on addresses and ports; and each end's OPEN and CLOSE name its role
# right. Then GnuTLS at both ends, wget against gnutls-serv --http: the
# server's role comes from gnutls_init()'s flags.
. "$(dirname "$0")/hook/lib.sh"

start_capture
mkdir "$T/www"
head -c 200000 /dev/urandom >"$T/www/file.bin"

# fetch NAME ADDR CLIENT...: CLIENT gets OUT and URL appended.
fetch() {
	local name=$1 addr=$2 port sp since hp out
	shift 2
	case $addr in *:*) port=$(freeport --v6); hp="[$addr]:$port" ;;
	*) port=$(freeport); hp="$addr:$port" ;; esac
	: >"$T/rec"
	since=$(date +%s%N)
	# s_server -WWW serves files relative to its directory.
	(cd "$T/www" && exec "$RUN" -c "$T/tlstap.conf" -- openssl s_server \
		-WWW -quiet -accept "$hp" -cert "$T/cert.pem" -key "$T/key.pem") \
		>"$T/$name.srv.log" 2>&1 &
	sp=$!
	BG_PIDS+=("$sp")
	wait_port "$port"
	timeout 60 "$RUN" -c "$T/tlstap.conf" -- "$@" "$T/$name.out" \
		"https://$hp/file.bin" >"$T/$name.log" 2>&1 ||
		fail "$name: client failed: $(tail -n1 "$T/$name.log")"
	cmp -s "$T/$name.out" "$T/www/file.bin" || fail "$name: downloaded file differs"
	kill "$sp"
	settle "$T/rec"
	cp "$T/rec" "$T/$name.rec"
	out=$($RECORDS exchange "$T/$name.rec" --server-pid "$sp" \
		--server-port "$port" --addr "$addr" --since "$since" \
		--request "GET /file.bin HTTP/1.1" --body "$T/www/file.bin") ||
		fail "$name: $out"
}

fetch curl4 127.0.0.1 curl -sk -o
fetch curl6 ::1 curl -sk -o
fetch wget4 127.0.0.1 wget -q --no-check-certificate -O
fetch wget6 ::1 wget -q --no-check-certificate -O

port=$(freeport)
: >"$T/rec"
"$RUN" -c "$T/tlstap.conf" -- gnutls-serv --http -q -p "$port" \
	--x509certfile "$T/cert.pem" --x509keyfile "$T/key.pem" \
	>"$T/gnutls-serv.log" 2>&1 &
sp=$!
BG_PIDS+=("$sp")
wait_port "$port"
timeout 60 "$RUN" -c "$T/tlstap.conf" -- wget -q --no-check-certificate \
	-O "$T/gnutls.out" "https://127.0.0.1:$port/" >"$T/gnutls.log" 2>&1 ||
	fail "wget against gnutls-serv failed: $(tail -n1 "$T/gnutls.log")"
grep -q GnuTLS "$T/gnutls.out" || fail "gnutls-serv's page is not what wget saved"
kill "$sp"
wait "$sp" 2>/dev/null || true
settle "$T/rec"
out=$($RECORDS exchange "$T/rec" --server-pid "$sp" --server-port "$port" \
	--addr 127.0.0.1 --request "GET / HTTP/1.1") || fail "gnutls-serv: $out"
stop_reader "$READER_PID"
echo "PASS $TEST_NAME"
