#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# exclude = regex on the whole server name: an excluded connection leaves
# no record at all, on the client (the SNI it sends) and on the server
# (the name the client asked for); a name that matches only in part, or
# not at all, is captured (so the test is not vacuous). Names match case-
# insensitively. OpenSSL: curl against openssl s_server -WWW, Python's
# ssl. GnuTLS: gnutls-cli against gnutls-serv --echo.
. "$(dirname "$0")/hook/lib.sh"

start_capture 'exclude = .*\.bank\.test' 'exclude = secret\.example'
export TLSTAP_CONF=$T/tlstap.conf
mkdir "$T/www"
echo "some page" >"$T/www/page.txt"

port=$(freeport)
(cd "$T/www" && exec env LD_PRELOAD="$LIB" openssl s_server -WWW -quiet \
	-accept "127.0.0.1:$port" -cert "$T/cert.pem" -key "$T/key.pem") \
	>"$T/s_server.log" 2>&1 &
BG_PIDS+=($!)
gport=$(freeport)
bg env LD_PRELOAD="$LIB" gnutls-serv --echo -q -p "$gport" \
	--x509certfile "$T/cert.pem" --x509keyfile "$T/key.pem" >"$T/gnutls-serv.log" 2>&1
pport=$(freeport)
bg env LD_PRELOAD="$LIB" $PY "$HOOK_DIR/tlspeer.py" server 127.0.0.1 "$pport" \
	"$T/cert.pem" "$T/key.pem" "$T/psrv" --conns 2
wait_port "$port"
wait_port "$gport"
wait_port "$pport"

# check NAME WANT(0|some) STDIN CMD...: run CMD hooked, count records.
check() {
	local name=$1 want=$2 input=$3 n
	shift 3
	: >"$T/rec"
	LD_PRELOAD="$LIB" timeout 30 "$@" <"$input" >"$T/$name.out" 2>"$T/$name.err" ||
		fail "$name: client failed: $(tail -n1 "$T/$name.err")"
	settle "$T/rec"
	n=$($RECORDS count "$T/rec")
	if [ "$want" = 0 ]; then
		[ "$n" -eq 0 ] || fail "$name: excluded, yet $n records"
	else
		# Both ends: records from two pids.
		[ "$($RECORDS dump "$T/rec" | cut -d' ' -f1 | sort -u | wc -l)" -eq 2 ] ||
			fail "$name: want records from client and server, have $n"
	fi
}

for name in www.bank.test WWW.Bank.TEST www.bank.test.example bank.test; do
	case $name in www.bank.test.example | bank.test) want=some ;; *) want=0 ;; esac
	check "curl-$name" "$want" /dev/null curl -sSk \
		--resolve "$name:$port:127.0.0.1" "https://$name:$port/page.txt"
	[ $want = 0 ] || grep -qx "some page" "$T/curl-$name.out" ||
		fail "curl-$name: page not received"
done

echo 'echo this' >"$T/echo.in"
for name in secret.example public.example; do
	case $name in secret.*) want=0 ;; *) want=some ;; esac
	check "gnutls-$name" "$want" "$T/echo.in" gnutls-cli --insecure \
		-p "$gport" --sni-hostname="$name" 127.0.0.1
	grep -qx "echo this" "$T/gnutls-$name.out" || fail "gnutls-$name: no echo"
done

check python-excluded 0 /dev/null $PY "$HOOK_DIR/tlspeer.py" client \
	127.0.0.1 "$pport" "$T/pc1" --sni secret.example --sizes 10,5000
check python-other some /dev/null $PY "$HOOK_DIR/tlspeer.py" client \
	127.0.0.1 "$pport" "$T/pc2" --sni not-secret.example --sizes 10,5000
stop_reader "$READER_PID"
echo "PASS $TEST_NAME"
