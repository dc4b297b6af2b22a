# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Shared by tests/host/hook-*.sh: sourced, not run.
#
# Gives (beside ../lib/common.sh's $SRC, $TEST_NAME, fail and cleanup):
# $T (private temp dir, removed on exit), $LIB (libtlstap.so, UBSan
# build), $RUN (tlstap-run), $RECORDS (record checker), $PEER (tlspeer.py,
# a Python TLS client/server), bg (a background process that cleanup
# kills), start_reader, stop_reader, waiting, settle, make_cert, freeport,
# wait_port, write_conf, start_capture (the usual first steps),
# start_servers (the output tests' servers), build_probe.
set -euo pipefail

HOOK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/host/lib/common.sh
. "$HOOK_DIR/../lib/common.sh"
# Debian's python3 (what CI has), not another one earlier in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
RECORDS="$PY $HOOK_DIR/tlstap_records.py"
# shellcheck disable=SC2034  # used by the sourcing script
PEER="$PY $HOOK_DIR/tlspeer.py"

T=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
TEST_TMP=$T
# Workers of nginx run as nobody: they must reach sockets and configs here.
chmod 755 "$T"
declare -A READER_OUT

# bg CMD...: start in the background; $! is in BG_PID.
bg() {
	"$@" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# The UBSan build (make SANITIZE=1, as make check does), brought up to
# date here so that the test also runs on its own. UBSan aborts on
# undefined behaviour inside the hook; ASan is not used: its runtime must
# be the first object loaded, before the program's own (README.md).
BUILD=$SRC/userhook/build-san
make -s -C "$SRC/userhook" SANITIZE=1 >"$T/build.log" 2>&1 ||
	fail "build failed: $(tail -n 3 "$T/build.log" | tr '\n' ' ')"
LIB=$BUILD/libtlstap.so
RUN=$BUILD/tlstap-run
[ -r "$LIB" ] && [ -x "$RUN" ] || fail "no libtlstap.so/tlstap-run in $BUILD"

# start_reader KIND PATH OUT: a receiver on a dgram/seqpacket socket or
# FIFO at PATH appending records to OUT; its pid in READER_PID.
start_reader() {
	local kind=$1 path=$2 out=$3 ready
	ready=$T/ready.$RANDOM$RANDOM
	[ "$kind" = fifo ] && mkfifo -m 666 "$path"
	: >"$out"
	# No timeout(1) in between: tests stop and continue the reader by pid.
	bg $PY "$HOOK_DIR/reader.py" "--$kind" "$path" \
		--out "$out" --ready "$ready" ${READER_ARGS:-}
	READER_PID=$BG_PID
	READER_OUT[$READER_PID]=$out
	wait_path 5 "$ready" || fail "reader on $path did not start"
}

# waiting PATH: until the client (tlspeer.py --wait-before-...) says it
# waits for PATH (30 s).
waiting() {
	wait_path 30 "$1.waiting" || fail "the client never got to $1"
}

# settle FILE: waits until FILE has stopped growing (0.3 s unchanged, at
# most 15 s): the reader has taken every record that was queued for it.
settle() {
	local last=-1 size stable=0
	for _ in $(seq 300); do
		size=$(stat -c %s "$1")
		if [ "$size" = "$last" ]; then
			stable=$((stable + 1))
			[ $stable -ge 6 ] && return 0
		else
			stable=0
			last=$size
		fi
		sleep 0.05
	done
	fail "$1 kept growing"
}

# stop_reader PID: ends a reader once every record it was sent is read.
stop_reader() {
	settle "${READER_OUT[$1]}"
	kill -TERM "$1"
	wait "$1" || fail "the reader saw malformed records (status $?)"
}

make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
		-subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		>"$T/cert.log" 2>&1 || fail "cannot make a certificate"
	chmod 644 "$T/key.pem"
}

freeport() {
	$RECORDS freeport "$@"
}

# wait_port PORT: until something listens on TCP PORT (at most 10 s).
# Looks at the socket table: a probe connection would count as a client.
wait_port() {
	local port=$1
	for _ in $(seq 200); do
		if [ -n "$(ss -Hltn "sport = :$port")" ]; then
			return 0
		fi
		sleep 0.05
	done
	fail "nothing listens on port $port"
}

# write_conf FILE: the config text on stdin.
write_conf() {
	cat >"$1"
	chmod 644 "$1"
}

# start_capture [LINE...]: what most tests start with: a certificate
# (make_cert), a reader on the datagram socket $T/rec.sock appending to
# $T/rec, and $T/tlstap.conf sending every capture there with on_full =
# block (the checks are byte-exactness, not the reader's speed), plus
# the global settings LINE (e.g. "exclude = REGEX").
start_capture() {
	local line
	make_cert
	start_reader dgram "$T/rec.sock" "$T/rec"
	{
		printf 'global:\n  if = %s\n  on_full = block\n' "$T/rec.sock"
		for line in "$@"; do
			printf '  %s\n' "$line"
		done
	} | write_conf "$T/tlstap.conf"
}

# start_servers SIZE PORT PPORT: the unhooked servers the output tests
# talk to: openssl s_server -WWW on 127.0.0.1:PORT serving
# $T/www/big.bin (SIZE random bytes, readable by all), and tlspeer.py's
# server on 127.0.0.1:PPORT (100 connections, its logs $T/psrv*);
# returns once both listen.
start_servers() {
	make_cert
	mkdir "$T/www"
	head -c "$1" /dev/urandom >"$T/www/big.bin"
	chmod 644 "$T/www/big.bin"
	(cd "$T/www" && exec openssl s_server -WWW -quiet -accept "127.0.0.1:$2" \
		-cert "$T/cert.pem" -key "$T/key.pem") >"$T/s_server.log" 2>&1 &
	BG_PIDS+=($!)
	bg $PEER server 127.0.0.1 "$3" "$T/cert.pem" "$T/key.pem" "$T/psrv" --conns 100
	wait_port "$2"
	wait_port "$3"
}

# build_probe: probe.c (a TLS client and server over non-blocking TCP in
# one process, logging every call's result) as $T/probe.
build_probe() {
	# shellcheck disable=SC2046  # pkg-config's flags, one word each
	gcc -Wall -Wextra -Werror -O1 -g -o "$T/probe" "$HOOK_DIR/probe.c" \
		$(pkg-config --cflags --libs openssl) 2>"$T/cc.log" ||
		fail "cannot build probe.c: $(head -n3 "$T/cc.log")"
}
