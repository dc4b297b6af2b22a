#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The config file. (1) A section whose path is the program's binary
# overrides global key by key: its own output, capture = no, its own
# excludes replacing global's; programs without a section follow global.
# (2) Every kind of broken config makes the library print exactly one
# line "tlstap: FILE:LINE: problem" and capture nothing, while the
# program's stdout and exit status stay those of an unhooked run, for a
# run that succeeds and one that fails. (3) /etc/tlstap.conf, in a mount
# namespace: used when present; when missing, nothing is captured and
# nothing said, unless TLSTAP_IF names an output. (4) tlstap-run -c, -i,
# and its own errors. (5) Two copies of the library in a process capture
# once.
. "$(dirname "$0")/hook/lib.sh"

make_cert
start_reader dgram "$T/a.sock" "$T/a.rec"
A_PID=$READER_PID
start_reader dgram "$T/b.sock" "$T/b.rec"
B_PID=$READER_PID
mkdir "$T/www"
echo "a page of text" >"$T/www/page.txt"
port=$(freeport)
(cd "$T/www" && exec env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/override.conf" \
	openssl s_server -WWW -quiet -accept "127.0.0.1:$port" \
	-cert "$T/cert.pem" -key "$T/key.pem") >"$T/s_server.log" 2>&1 &
BG_PIDS+=($!)
wait_port "$port"
URL=https://127.0.0.1:$port/page.txt

count() { # REC
	settle "$1"
	$RECORDS count "$1"
}
clear_recs() {
	: >"$T/a.rec"
	: >"$T/b.rec"
}

# (1) Sections override global.
write_conf "$T/override.conf" <<CONF
global:
  if = $T/a.sock
  on_full = block
curl:
  path = /usr/bin/curl
  if = $T/b.sock
server:
  path = /usr/bin/openssl
  capture = no
python:
  path = /usr/bin/python3
  exclude = .*
CONF
export TLSTAP_CONF=$T/override.conf
clear_recs
LD_PRELOAD="$LIB" timeout 30 curl -sSk "$URL" >/dev/null || fail "curl failed"
[ "$(count "$T/b.rec")" -gt 0 ] || fail "curl's section: nothing in its own output"
[ "$(count "$T/a.rec")" -eq 0 ] || fail "curl's records reached global's output"
# openssl s_server (capture = no) was the other end: nothing from it.
clear_recs
LD_PRELOAD="$LIB" timeout 30 wget -q --no-check-certificate -O /dev/null "$URL" ||
	fail "wget failed"
[ "$(count "$T/a.rec")" -gt 0 ] || fail "wget (no section): nothing in global's output"
[ "$(count "$T/b.rec")" -eq 0 ] || fail "wget's records reached curl's output"
# /usr/bin/python3 is a symbolic link: the section matches the binary.
clear_recs
LD_PRELOAD="$LIB" timeout 30 $PY -c 'import ssl, socket, sys
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
s = c.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.sendall(b"GET /page.txt HTTP/1.0\r\n\r\n"); assert s.recv(100)' "$port" ||
	fail "python client failed"
[ "$(count "$T/a.rec")" -eq 0 ] && [ "$(count "$T/b.rec")" -eq 0 ] ||
	fail "python's section excludes everything, yet records arrived"

# A section's excludes replace global's; its output comes from global.
write_conf "$T/replace.conf" <<CONF
global:
  if = $T/a.sock
  on_full = block
  exclude = .*
curl:
  path = /usr/bin/curl
  exclude = nothing\.example
CONF
clear_recs
TLSTAP_CONF=$T/replace.conf LD_PRELOAD="$LIB" timeout 30 curl -sSk "$URL" \
	>/dev/null || fail "curl failed"
[ "$(count "$T/a.rec")" -gt 0 ] || fail "curl's excludes did not replace global's"
clear_recs
TLSTAP_CONF=$T/replace.conf LD_PRELOAD="$LIB" timeout 30 wget -q \
	--no-check-certificate -O /dev/null "$URL" || fail "wget failed"
[ "$(count "$T/a.rec")" -eq 0 ] || fail "global's exclude = .* did not apply to wget"

# (2) Broken configs. same_as_unhooked NAME WANT-STDERR-LINE [ENV...]
same_as_unhooked() {
	local name=$1 want=$2 args rc0 rc1
	shift 2
	for args in ok fail; do
		local opt=()
		[ $args = fail ] && opt=(--max-filesize 3)	# fails after reading
		rc0=0; timeout 30 curl -sSk "${opt[@]}" "$URL" >"$T/$name.$args.out0" \
			2>"$T/$name.$args.err0" || rc0=$?
		rc1=0; env "$@" LD_PRELOAD="$LIB" timeout 30 curl -sSk "${opt[@]}" "$URL" \
			>"$T/$name.$args.out1" 2>"$T/$name.$args.err1" || rc1=$?
		[ $rc0 = $rc1 ] || fail "$name ($args): exit $rc1 hooked, $rc0 not"
		cmp -s "$T/$name.$args.out0" "$T/$name.$args.out1" ||
			fail "$name ($args): stdout differs from an unhooked run"
		[ "$(grep -c '^tlstap: ' "$T/$name.$args.err1")" -eq 1 ] ||
			fail "$name ($args): want one tlstap line, stderr: $(head -c 300 "$T/$name.$args.err1")"
		grep -qF -- "$want" "$T/$name.$args.err1" ||
			fail "$name ($args): no '$want' in: $(grep '^tlstap' "$T/$name.$args.err1")"
		diff <(grep -v '^tlstap: ' "$T/$name.$args.err1") "$T/$name.$args.err0" >/dev/null ||
			fail "$name ($args): stderr differs beyond the tlstap line"
	done
	[ "$(count "$T/a.rec")" -eq 0 ] || fail "$name: a broken config captured"
}

broken() { # NAME WANT TEXT (printf format; A is the output)
	local name=$1 want=$2
	# shellcheck disable=SC2059
	printf "$3" "$T/a.sock" >"$T/$name.conf"
	clear_recs
	same_as_unhooked "$name" "tlstap: $T/$name.conf:$want" TLSTAP_CONF="$T/$name.conf"
}
broken unknown-key "3: unknown key 'colour'" 'global:\n  if = %s\n  colour = blue\n'
broken outside "1: setting outside a section" '  if = %s\n'
broken regex "3: bad regular expression in 'exclude'" 'global:\n  if = %s\n  exclude = (open\n'
# Patterns glibc's regcomp() would expand into gigabytes or minutes.
broken regex-size "3: 'exclude' pattern too large once its repetitions are expanded" 'global:\n  if = %s\n  exclude = (x{0,255}){0,255}\n'
broken regex-size-nomin "3: 'exclude' pattern too large once its repetitions are expanded" 'global:\n  if = %s\n  exclude = x{,32767}\n'
broken regex-stacked "3: 'exclude' pattern repeats a repetition" 'global:\n  if = %s\n  exclude = .*?+++\n'
broken regex-escape "3: 'exclude' pattern escapes an ordinary character" 'global:\n  if = %s\n  exclude = (x{0,255}){\\0,255}\n'
broken regex-escape-comma "3: 'exclude' pattern escapes an ordinary character" 'global:\n  if = %s\n  exclude = (x{0,255}){525\\,}\n'
broken capture "3: 'capture' must be yes or no" 'global:\n  if = %s\n  capture = maybe\n'
broken on-full "3: 'on_full' must be drop or block" 'global:\n  if = %s\n  on_full = wait\n'
broken no-path "3: section 'curl' has no 'path'" 'global:\n  if = %s\ncurl:\n  capture = no\n'
broken twice "3: section 'global' already defined at line 1" 'global:\n  if = %s\nglobal:\n'
broken indent "2: expected a section line" 'global:\nif = %s\n'
broken relative "2: 'if' must be an absolute path" 'global:\n  if = tl%.0sstap.sock\n'
broken path-global "3: 'path' is not allowed in section 'global'" 'global:\n  if = %s\n  path = /usr/bin/curl\n'
broken no-equal "3: expected 'key = value'" 'global:\n  if = %s\n  capture\n'
broken if-twice "3: 'if' set twice in section 'global'" 'global:\n  if = %s\n  if = /dev/tlstap\n'
broken nul "2: NUL byte in line" 'global:\n  if = %s\0\n'
clear_recs
same_as_unhooked missing "tlstap: $T/none.conf: cannot open: No such file or directory" \
	TLSTAP_CONF="$T/none.conf"
same_as_unhooked directory "tlstap: $T/www: not a regular file" TLSTAP_CONF="$T/www"
same_as_unhooked bad-if "tlstap: TLSTAP_IF: must be an absolute path" \
	TLSTAP_CONF="$T/override.conf" TLSTAP_IF=relative.sock

# (3) The default /etc/tlstap.conf, in a private mount namespace: /etc
# gets an overlay, so the host's own /etc never changes.
unset TLSTAP_CONF
mkdir -p "$T/ovl/upper" "$T/ovl/work"
cat >"$T/default.sh" <<SH
set -e
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/ovl/upper,workdir=$T/ovl/work /etc
rm -f /etc/tlstap.conf
# No config file, no TLSTAP_IF: silent, nothing captured.
LD_PRELOAD=$LIB timeout 30 curl -sSk "$URL" >$T/d1.out 2>$T/d1.err
# No config file, TLSTAP_IF set: captured there.
TLSTAP_IF=$T/b.sock LD_PRELOAD=$LIB timeout 30 curl -sSk "$URL" >$T/d2.out 2>$T/d2.err
sleep 1
cp $T/b.rec $T/d2.rec
printf 'global:\n  if = $T/a.sock\n  on_full = block\n' >/etc/tlstap.conf
LD_PRELOAD=$LIB timeout 30 curl -sSk "$URL" >$T/d3.out 2>$T/d3.err
SH
clear_recs
timeout 60 unshare -m bash "$T/default.sh" >"$T/default.log" 2>&1 ||
	fail "mount namespace run failed: $(tail -n1 "$T/default.log")"
[ ! -s "$T/d1.err" ] || fail "no config: the library spoke: $(cat "$T/d1.err")"
[ "$($RECORDS count "$T/d2.rec")" -gt 0 ] || fail "no config + TLSTAP_IF: nothing captured"
[ ! -s "$T/d2.err" ] && [ ! -s "$T/d3.err" ] || fail "the library spoke: $(cat "$T/d2.err" "$T/d3.err")"
[ "$(count "$T/a.rec")" -gt 0 ] || fail "/etc/tlstap.conf was not used"
for i in 1 2 3; do cmp -s "$T/d$i.out" "$T/www/page.txt" || fail "run $i: wrong page"; done
[ ! -e /etc/tlstap.conf ] || [ "$(cat /etc/tlstap.conf)" != "$(cat "$T/ovl/upper/tlstap.conf")" ] ||
	fail "the host's /etc/tlstap.conf changed"

# (4) tlstap-run: -i overrides the config's output; its own errors.
clear_recs
timeout 30 "$RUN" -c "$T/override.conf" -i "$T/a.sock" -- curl -sSk "$URL" \
	>/dev/null || fail "tlstap-run -c -i failed"
[ "$(count "$T/a.rec")" -gt 0 ] && [ "$(count "$T/b.rec")" -eq 0 ] ||
	fail "tlstap-run -i did not override curl's section output"
rc=0; "$RUN" -c "$T/none.conf" -- true 2>"$T/run.err" || rc=$?
[ $rc = 125 ] && grep -q "none.conf" "$T/run.err" || fail "tlstap-run -c missing: exit $rc"
rc=0; "$RUN" -- "$T/no-such-program" 2>"$T/run.err" || rc=$?
[ $rc = 127 ] || fail "tlstap-run of a missing program: exit $rc, want 127"
rc=0; "$RUN" 2>"$T/run.err" || rc=$?
[ $rc = 125 ] && grep -q "no command given (try --help)" "$T/run.err" ||
	fail "tlstap-run without a command: exit $rc: $(cat "$T/run.err")"
out=$("$RUN" -- sh -c 'echo "$LD_PRELOAD"')
[ "$out" = "$(realpath "$LIB")" ] || fail "tlstap-run set LD_PRELOAD='$out'"
out=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 "$RUN" -- sh -c 'echo "$LD_PRELOAD"')
[ "$out" = "$(realpath "$LIB"):/lib/x86_64-linux-gnu/libm.so.6" ] ||
	fail "tlstap-run lost an existing LD_PRELOAD: '$out'"

# (5) Two copies of the library in one process (tlstap-run on a system
# with /etc/ld.so.preload): one capture, not two.
cp "$LIB" "$T/libtlstap-copy.so"
clear_recs
TLSTAP_CONF=$T/replace.conf LD_PRELOAD="$LIB" timeout 30 curl -sSk "$URL" \
	>/dev/null || fail "curl with one copy failed"
settle "$T/a.rec"
cp "$T/a.rec" "$T/one.rec"
clear_recs
TLSTAP_CONF=$T/replace.conf LD_PRELOAD="$LIB $T/libtlstap-copy.so" timeout 30 \
	curl -sSk "$URL" >/dev/null || fail "curl with two copies failed"
settle "$T/a.rec"
[ "$($RECORDS count "$T/one.rec")" -gt 0 ] || fail "one copy: nothing captured"
[ "$($RECORDS count "$T/a.rec")" = "$($RECORDS count "$T/one.rec")" ] ||
	fail "two copies: $($RECORDS count "$T/a.rec") records, one copy: $($RECORDS count "$T/one.rec")"

stop_reader "$A_PID"
stop_reader "$B_PID"
echo "PASS $TEST_NAME"
