#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# What a program can see of the hook: nothing. probe.c runs a TLS client
# and server over non-blocking TCP and prints, after every call, the
# return value, SSL_get_error(), errno, the error queue (holding an error
# of the program's own across a hooked SSL_write), SSL_peek's result and
# the SSL BIO's method. Its output must be the same unhooked, hooked with
# a receiver, and hooked with the output missing. The capture holds what
# the probe logged, once (SSL_peek's copy is not captured), both ways.
. "$(dirname "$0")/hook/lib.sh"

build_probe
start_capture
write_conf "$T/missing.conf" <<CONF
global:
  if = $T/nobody-listens.sock
CONF

probe() { # NAME [ENV...]
	local name=$1
	shift
	env "$@" timeout 60 "$T/probe" "$T/cert.pem" "$T/key.pem" "$T/$name" \
		>"$T/$name.out" 2>"$T/$name.err" ||
		fail "$name: probe failed: $(tail -n1 "$T/$name.err")"
	[ ! -s "$T/$name.err" ] || fail "$name: stderr: $(head -c 300 "$T/$name.err")"
}

probe plain
probe hooked LD_PRELOAD="$LIB" TLSTAP_CONF="$T/tlstap.conf"
probe missing LD_PRELOAD="$LIB" TLSTAP_CONF="$T/missing.conf"
grep -q 'err_first=4000002a' "$T/plain.out" || fail "the probe's own error is not shown"
for v in hooked missing; do
	diff -u "$T/plain.out" "$T/$v.out" >"$T/$v.diff" ||
		fail "$v: the program sees a difference: $(grep '^[-+][^-+]' "$T/$v.diff" | head -n2 | tr '\n' ' ')"
done
stop_reader "$READER_PID"
out=$($RECORDS in-process "$T/rec" --logs "$T/hooked") || fail "$out"
echo "PASS $TEST_NAME"
