#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The hook under AddressSanitizer (and UBSan): make SANITIZE=asan, with
# libasan preloaded ahead of it (ASan's runtime must be the first object
# loaded). probe.c with leak detection on: its output as unhooked, its
# capture as it logged. A multi-threaded Python client and server (80
# connections) and wget (GnuTLS) with leak detection off, since those
# programs keep memory to the end by design: every byte captured.
. "$(dirname "$0")/hook/lib.sh"

make -s -C "$SRC/userhook" SANITIZE=asan >"$T/asan-build.log" 2>&1 ||
	fail "ASan build failed: $(tail -n 3 "$T/asan-build.log" | tr '\n' ' ')"
ASAN_LIB="$(gcc -print-file-name=libasan.so) $SRC/userhook/build-asan/libtlstap.so"
[ -e "$(gcc -print-file-name=libasan.so)" ] || fail "no libasan.so"
build_probe
start_capture
export TLSTAP_CONF=$T/tlstap.conf
LEAKS=detect_leaks=1:abort_on_error=1:halt_on_error=1
NOLEAKS=detect_leaks=0:abort_on_error=1:halt_on_error=1

timeout 60 "$T/probe" "$T/cert.pem" "$T/key.pem" "$T/plain" >"$T/plain.out" ||
	fail "probe failed unhooked"
ASAN_OPTIONS=$LEAKS LD_PRELOAD="$ASAN_LIB" timeout 120 "$T/probe" "$T/cert.pem" \
	"$T/key.pem" "$T/asan" >"$T/asan.out" 2>"$T/asan.err" ||
	fail "probe under ASan: $(grep -m1 -E 'ERROR|runtime error' "$T/asan.err")"
diff -q "$T/plain.out" "$T/asan.out" >/dev/null || fail "probe output differs under the hook"
settle "$T/rec"
cp "$T/rec" "$T/probe.rec"
out=$($RECORDS in-process "$T/probe.rec" --logs "$T/asan") || fail "probe: $out"

: >"$T/rec"
port=$(freeport)
bg env ASAN_OPTIONS=$NOLEAKS LD_PRELOAD="$ASAN_LIB" $PEER server 127.0.0.1 \
	"$port" "$T/cert.pem" "$T/key.pem" "$T/srv" --conns 80
sp=$BG_PID
wait_port "$port"
ASAN_OPTIONS=$NOLEAKS LD_PRELOAD="$ASAN_LIB" timeout 180 $PEER client 127.0.0.1 \
	"$port" "$T/cli" --threads 8 --conns-per-thread 10 --sizes 1,70000,3000 \
	>"$T/cli.log" 2>&1 || fail "python client under ASan: $(grep -m1 -E 'ERROR|Error' "$T/cli.log")"
wait "$sp" || fail "python server under ASan failed"
settle "$T/rec"
cp "$T/rec" "$T/py.rec"
out=$($RECORDS conns "$T/py.rec" --server-pid "$sp" --server-port "$port" \
	--addr 127.0.0.1 --conns 80 --client-logs "$T/cli" --server-logs "$T/srv") ||
	fail "python: $out"

: >"$T/rec"
mkdir "$T/www"
head -c 100000 /dev/urandom >"$T/www/f.bin"
wport=$(freeport)
(cd "$T/www" && exec openssl s_server -WWW -quiet -accept "127.0.0.1:$wport" \
	-cert "$T/cert.pem" -key "$T/key.pem") >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port "$wport"
ASAN_OPTIONS=$NOLEAKS LD_PRELOAD="$ASAN_LIB" timeout 60 wget -q \
	--no-check-certificate -O "$T/got.bin" "https://127.0.0.1:$wport/f.bin" \
	2>"$T/wget.err" || fail "wget under ASan: $(grep -m1 -E 'ERROR|error' "$T/wget.err")"
cmp -s "$T/got.bin" "$T/www/f.bin" || fail "wget got another file"
settle "$T/rec"
$PY - "$HOOK_DIR" "$T/rec" "$T/www/f.bin" <<'PY' || fail "wget: capture does not hold the file"
import sys
sys.path.insert(0, sys.argv[1])
import tlstap_records as tr
got = tr.stream(tr.parse(sys.argv[2]), tr.READ)
raise SystemExit(0 if got.partition(b"\r\n\r\n")[2] == tr.read_file(sys.argv[3]) else 1)
PY
stop_reader "$READER_PID"
echo "PASS $TEST_NAME"
