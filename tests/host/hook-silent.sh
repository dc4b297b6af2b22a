#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Nothing captured is never said nowhere. The program runs as it would
# unhooked (stdout, exit status, and stderr unless tlstap-run started
# it), while the library reports, once per process, its first failure
# to open the output and its first dropped record to syslog (LOG_DAEMON,
# ident tlstap), received here by a syslog daemon of the test's own on
# /dev/log (the test runs in a mount namespace of its own, /dev under an
# overlay, so the host's /dev/log, if any, is never used):
# - if = a missing socket, a directory, a regular file;
# - the installed default, if = /dev/tlstap, without the module: the
#   line names the module and tlstap-fwd;
# - tlstap-run -i with a typo: tlstap-run says so before the program
#   starts and the library says it on stderr too; --strict does not run
#   the program (125);
# - tlstap-fwd's socket, mode 0600, and programs whose user may not
#   write it: curl as nobody, and nginx, whose workers run as nobody;
# - first drops: a full datagram output, a full capture ring;
# - the program's own syslog use (openlog with its ident, facility and
#   LOG_PID) is undisturbed before and after the library's lines;
# - no /dev/log at all, and a /dev/log whose daemon stopped reading
#   (its queue full): the program runs as unhooked, nothing waits.
if [ -z "${TLSTAP_SILENT_NS:-}" ]; then
	exec env TLSTAP_SILENT_NS=1 unshare -m "$0" "$@"
fi
. "$(dirname "$0")/hook/lib.sh"
. "$HOOK_DIR/fwd.sh"

mount --make-rprivate /
mkdir -p "$T/dev/upper" "$T/dev/work"
mount -t overlay overlay \
	-o "lowerdir=/dev,upperdir=$T/dev/upper,workdir=$T/dev/work" /dev ||
	fail "cannot put an overlay on /dev"
trap 'umount -l /dev 2>/dev/null; cleanup_test' EXIT
rm -f /dev/log /dev/tlstap

# nobody must be able to load the library: a checkout under a private
# directory (mktemp -d, a home) is out of its reach.
mkdir "$T/lib"
cp "$LIB" "$T/lib/"
chmod -R a+rX "$T/lib"
LIB=$T/lib/${LIB##*/}

port=$(freeport)
pport=$(freeport)
start_servers 300000 "$port" "$pport"
URL=https://127.0.0.1:$port/big.bin
CURL=$(realpath "$(command -v curl)")

conf() { # NAME IF [LINE...]: $T/NAME.conf
	local name=$1 out=$2 line
	shift 2
	{
		printf 'global:\n  if = %s\n' "$out"
		for line in "$@"; do
			printf '  %s\n' "$line"
		done
	} | write_conf "$T/$name.conf"
}

# run NAME CMD...: CMD's stdout, stderr, exit status and pid in
# $T/NAME.{out,err,rc,pid} (the pid: exec keeps it, through tlstap-run).
run() {
	local name=$1 rc=0
	shift
	timeout 60 sh -c 'echo $$ >"$0.pid"; exec "$@"' "$T/$name" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" || rc=$?
	echo $rc >"$T/$name.rc"
}

# like_plain NAME [PLAIN]: stdout and exit status as the unhooked run
# PLAIN's (default plain), stderr too once the lines of tlstap and
# tlstap-run are taken out.
like_plain() {
	local name=$1 plain=${2:-plain}
	[ "$(cat "$T/$name.rc")" = "$(cat "$T/$plain.rc")" ] ||
		fail "$name: exit $(cat "$T/$name.rc"), unhooked $(cat "$T/$plain.rc"): $(head -c 300 "$T/$name.err")"
	cmp -s "$T/$name.out" "$T/$plain.out" || fail "$name: stdout differs from an unhooked run"
	diff <(grep -Ev '^tlstap(-run)?(\[[0-9]+\])?: ' "$T/$name.err") "$T/$plain.err" >/dev/null ||
		fail "$name: stderr differs beyond tlstap's lines: $(head -c 300 "$T/$name.err")"
}

# silent_stderr NAME: not one line of tlstap's on stderr.
silent_stderr() {
	! grep -Eq '^tlstap' "$T/$1.err" || fail "$1: tlstap wrote to stderr: $(head -c 300 "$T/$1.err")"
}

# notices NAME: the syslog lines of NAME's process, in $T/NAME.log.
notices() {
	settle "$T/syslog"
	grep -F "tlstap[$(cat "$T/$1.pid")]: " "$T/syslog" >"$T/$1.log" || true
}

# open_notice LOGFILE PID EXE PATH REASON: LOGFILE has exactly one line
# of the first failure to open PATH, LOG_DAEMON|LOG_WARNING, saying
# REASON (a fixed string).
open_notice() {
	local log=$1 pid=$2 exe=$3 path=$4 reason=$5 want n
	want="<28>tlstap[$pid]: $exe: cannot open output $path: "
	n=$(grep -cF "$want" "$log" || true)
	[ "$n" = 1 ] || fail "$log: want one line '$want...', got $n: $(head -c 600 "$log")"
	grep -F "$want" "$log" | grep -qF -- "$reason" ||
		fail "$log: no '$reason' in: $(grep -F "$want" "$log")"
	grep -F "$want" "$log" | grep -qF "its records are dropped until it can be opened" ||
		fail "$log: the line does not say what happens to the records: $(grep -F "$want" "$log")"
}

# drop_notice LOGFILE PID EXE CAUSE: exactly one line of the first drop.
drop_notice() {
	local log=$1 pid=$2 exe=$3 cause=$4 want n
	want="<28>tlstap[$pid]: $exe: first record dropped: "
	n=$(grep -cF "$want" "$log" || true)
	[ "$n" = 1 ] || fail "$log: want one line '$want...', got $n: $(head -c 600 "$log")"
	grep -F "$want" "$log" | grep -qF -- "$cause" ||
		fail "$log: no '$cause' in: $(grep -F "$want" "$log")"
}

# lines LOGFILE N: LOGFILE has N lines.
lines() {
	[ "$(wc -l <"$1")" = "$2" ] || fail "$1: want $2 lines, got: $(head -c 800 "$1")"
}

run plain curl -sSk "$URL"
cmp -s "$T/plain.out" "$T/www/big.bin" || fail "unhooked curl did not get the file"
# A run that fails once data came: curl cannot write it (status 23).
FAILING=(-o "$T/no/such/dir/file")
run plain-fail curl -sSk "${FAILING[@]}" "$URL"
[ "$(cat "$T/plain-fail.rc")" = 23 ] || fail "curl ${FAILING[*]}: exit $(cat "$T/plain-fail.rc"), want 23"

# --- No /dev/log: nothing to say it to, the program runs all the same.
conf missing "$T/none.sock"
run nolog env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/missing.conf" curl -sSk "$URL"
like_plain nolog
silent_stderr nolog

# Our syslog daemon from here on.
: >"$T/syslog"
bg $PY "$HOOK_DIR/syslogd.py" /dev/log --out "$T/syslog" --ready "$T/syslog.ready"
SYSLOGD=$BG_PID
wait_path 5 "$T/syslog.ready" || fail "the syslog daemon did not start"

# --- if = a missing socket, a directory, a regular file.
conf dir "$T/www"
conf file "$T/www/big.bin"
for c in "missing $T/none.sock No such file or directory" \
	"dir $T/www a directory, not an output" \
	"file $T/www/big.bin a regular file, not an output"; do
	read -r name path reason <<<"$c"
	run "$name" env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/$name.conf" curl -sSk "$URL"
	like_plain "$name"
	silent_stderr "$name"
	notices "$name"
	pid=$(cat "$T/$name.pid")
	open_notice "$T/$name.log" "$pid" "$CURL" "$path" "$reason"
	drop_notice "$T/$name.log" "$pid" "$CURL" "output $path not open"
	lines "$T/$name.log" 2
done
# A failing program keeps its exit status too.
run missing-fail env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/missing.conf" \
	curl -sSk "${FAILING[@]}" "$URL"
like_plain missing-fail plain-fail

# A broken config: its line on stderr, as ever, and to syslog (LOG_ERR).
printf 'global:\n  if = %s\n  colour = blue\n' "$T/rec.sock" | write_conf "$T/broken.conf"
run broken env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/broken.conf" curl -sSk "$URL"
like_plain broken
grep -qx "tlstap: $T/broken.conf:3: unknown key 'colour'.*" "$T/broken.err" ||
	fail "broken: stderr: $(head -c 300 "$T/broken.err")"
notices broken
grep -qx "<27>tlstap\[$(cat "$T/broken.pid")\]: $T/broken.conf:3: unknown key 'colour'.*" "$T/broken.log" ||
	fail "broken: syslog: $(cat "$T/broken.log")"
lines "$T/broken.log" 1

# Once per process: a fork() child is another (its own pid, perhaps
# another user by then), its first failure and first drop are its own.
run forked env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/missing.conf" $PEER fork \
	127.0.0.1 "$pport" "$T/forked"
[ "$(cat "$T/forked.rc")" = 0 ] || fail "forked: the program failed: $(head -c 300 "$T/forked.err")"
silent_stderr forked
PYBIN=$(realpath "$PY")
for who in parent child; do
	read -r pid _ <"$T/forked.$who"
	echo "$pid" >"$T/forked-$who.pid"
	notices "forked-$who"
	open_notice "$T/forked-$who.log" "$pid" "$PYBIN" "$T/none.sock" "No such file or directory"
	drop_notice "$T/forked-$who.log" "$pid" "$PYBIN" "output $T/none.sock not open"
	lines "$T/forked-$who.log" 2
done

# --- The installed default, if = /dev/tlstap, on a host without the module.
[ ! -e /dev/tlstap ] || fail "/dev/tlstap exists in the overlay"
run nomodule env LD_PRELOAD="$LIB" TLSTAP_CONF="$SRC/dist/tlstap.conf.example" \
	curl -sSk "$URL"
like_plain nomodule
silent_stderr nomodule
notices nomodule
pid=$(cat "$T/nomodule.pid")
open_notice "$T/nomodule.log" "$pid" "$CURL" /dev/tlstap "modprobe tlstap"
grep -F "cannot open output /dev/tlstap" "$T/nomodule.log" | grep -F "tlstap kernel module" |
	grep -qF "tlstap-fwd" || fail "nomodule: the line names neither the module nor tlstap-fwd: $(cat "$T/nomodule.log")"

# --- tlstap-run -i with a typo: said before the program starts, and by
# the library on stderr (tlstap-run allows it) as well as to syslog.
start_reader dgram "$T/rec.sock" "$T/rec"
REC_READER=$READER_PID
conf good "$T/rec.sock" "on_full = block"
for v in ok fail; do
	opt=()
	[ $v = fail ] && opt=("${FAILING[@]}")
	name=typo-$v
	plain=plain
	[ $v = fail ] && plain='plain-fail'
	run "$name" "$RUN" -c "$T/good.conf" -i "$T/rec.sokc" -- curl -sSk "${opt[@]}" "$URL"
	like_plain "$name" "$plain"
	pid=$(cat "$T/$name.pid")
	head -n1 "$T/$name.err" | grep -qF "tlstap-run: $CURL: cannot open output $T/rec.sokc: No such file or directory" ||
		fail "$name: tlstap-run did not say it first: $(head -c 300 "$T/$name.err")"
	grep -qF "tlstap[$pid]: $CURL: cannot open output $T/rec.sokc: No such file or directory" "$T/$name.err" ||
		fail "$name: the library did not say it on stderr: $(head -c 400 "$T/$name.err")"
	grep -qF "tlstap[$pid]: $CURL: first record dropped: " "$T/$name.err" ||
		fail "$name: the library did not report its first drop on stderr: $(head -c 400 "$T/$name.err")"
	[ "$(grep -c '^tlstap' "$T/$name.err")" = 3 ] ||
		fail "$name: want 3 lines of tlstap's on stderr: $(grep '^tlstap' "$T/$name.err")"
	notices "$name"
	open_notice "$T/$name.log" "$pid" "$CURL" "$T/rec.sokc" "No such file or directory"
	lines "$T/$name.log" 2
done
settle "$T/rec"
[ ! -s "$T/rec" ] || fail "typo: records reached the right socket"
# --strict: the program does not run.
run strict "$RUN" --strict -c "$T/good.conf" -i "$T/rec.sokc" -- sh -c ": >'$T/ran'"
[ "$(cat "$T/strict.rc")" = 125 ] || fail "--strict with a typo: exit $(cat "$T/strict.rc"), want 125"
[ ! -e "$T/ran" ] || fail "--strict ran the program"
grep -qF "cannot open output $T/rec.sokc" "$T/strict.err" || fail "--strict: not said why: $(cat "$T/strict.err")"
# --strict, nothing wrong: runs, captures, says nothing.
run strict-ok "$RUN" --strict -c "$T/good.conf" -- curl -sSk "$URL"
like_plain strict-ok
silent_stderr strict-ok
settle "$T/rec"
[ "$($RECORDS count "$T/rec" --pid "$(cat "$T/strict-ok.pid")")" -gt 0 ] ||
	fail "--strict with a good output: nothing captured"

# --- tlstap-fwd's socket, mode 0600 (its default): root's, and the
# program's user may not write it.
start_fwd perm raw --mode 0600
[ "$(stat -c %a "$T/perm.sock")" = 600 ] || fail "tlstap-fwd's socket is $(stat -c %a "$T/perm.sock")"
conf perm "$T/perm.sock"
run perm-root env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/perm.conf" curl -sSk "$URL"
like_plain perm-root
notices perm-root
lines "$T/perm-root.log" 0
run perm-nobody setpriv --reuid=nobody --regid=nogroup --clear-groups \
	env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/perm.conf" curl -sSk "$URL"
like_plain perm-nobody
silent_stderr perm-nobody
notices perm-nobody
pid=$(cat "$T/perm-nobody.pid")
open_notice "$T/perm-nobody.log" "$pid" "$CURL" "$T/perm.sock" "Permission denied"
grep -F "cannot open output" "$T/perm-nobody.log" | grep -qF "uid $(id -u nobody)" ||
	fail "perm: the line does not name the user: $(cat "$T/perm-nobody.log")"
lines "$T/perm-nobody.log" 2

# nginx: the master (root) does no TLS, its workers (nobody) do.
mkdir -p "$T/ngx"
chmod 777 "$T/ngx"
nport=$(freeport)
cat >"$T/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $T/ngx/nginx.pid;
error_log $T/ngx/error.log info;
events { worker_connections 16; }
http {
	access_log off;
	client_body_temp_path $T/ngx/body;
	proxy_temp_path $T/ngx/proxy;
	fastcgi_temp_path $T/ngx/fastcgi;
	uwsgi_temp_path $T/ngx/uwsgi;
	scgi_temp_path $T/ngx/scgi;
	server {
		listen 127.0.0.1:$nport ssl;
		ssl_certificate $T/cert.pem;
		ssl_certificate_key $T/key.pem;
		root $T/www;
	}
}
CONF
bg env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/perm.conf" \
	nginx -e "$T/ngx/error.log" -c "$T/nginx.conf"
master=$BG_PID
wait_port "$nport"
worker=$(pgrep -P "$master")
[ "$(stat -c %U "/proc/$worker")" = nobody ] || fail "nginx's worker does not run as nobody"
for _ in 1 2; do
	timeout 30 curl -sSk "https://127.0.0.1:$nport/big.bin" -o "$T/ngx.out" ||
		fail "nginx: curl failed"
	cmp -s "$T/ngx.out" "$T/www/big.bin" || fail "nginx served another file"
done
NGINX=$(realpath "$(command -v nginx)")
echo "$worker" >"$T/nginx-worker.pid"
notices nginx-worker
open_notice "$T/nginx-worker.log" "$worker" "$NGINX" "$T/perm.sock" "Permission denied"
lines "$T/nginx-worker.log" 2
! grep -qF "tlstap[$master]" "$T/syslog" || fail "nginx's master reported: it does no TLS"
kill -TERM "$master"
wait "$master" || true

# --- First drops: a full datagram output (the reader stopped).
start_reader dgram "$T/full.sock" "$T/full.rec"
kill -STOP "$READER_PID"
conf full "$T/full.sock"
run full env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/full.conf" curl -sSk "$URL"
like_plain full
silent_stderr full
notices full
drop_notice "$T/full.log" "$(cat "$T/full.pid")" "$CURL" "output $T/full.sock is full"
lines "$T/full.log" 1
kill -CONT "$READER_PID"
stop_reader "$READER_PID"

# A full capture ring: tlstap-fwd makes the client's ring, then stops.
start_fwd ring raw
conf ring "$T/ring.sock" "ring_kb = 64"
env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/ring.conf" $PEER client 127.0.0.1 \
	"$pport" "$T/ringc" --sizes 1000,400000 --wait-before-last "$T/ring.go" \
	>"$T/ringc.client" 2>&1 &
cp=$!
BG_PIDS+=("$cp")
waiting "$T/ring.go"
settle "$T/ring.out"
kill -STOP "${FWD_PID[ring]}"
touch "$T/ring.go"
wait "$cp" || fail "ring: client failed: $(tail -n1 "$T/ringc.client")"
kill -CONT "${FWD_PID[ring]}"
stop_fwd ring
[ "$(fwd_counter ring rings_created)" -ge 1 ] || fail "ring: no capture ring was made"
echo "$cp" >"$T/ringc.pid"
notices ringc
drop_notice "$T/ringc.log" "$cp" "$PYBIN" "capture ring is full"
lines "$T/ringc.log" 1

# --- The program's own syslog: its ident, facility and LOG_PID stay.
cat >"$T/own.py" <<'PY'
import socket, ssl, sys, syslog
syslog.openlog(ident="myapp", logoption=syslog.LOG_PID, facility=syslog.LOG_LOCAL0)
syslog.syslog(syslog.LOG_INFO, "before")
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
s = c.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
while s.recv(65536):
    pass
syslog.syslog(syslog.LOG_INFO, "after")
PY
run own env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/missing.conf" $PY "$T/own.py" "$port"
[ "$(cat "$T/own.rc")" = 0 ] || fail "own: the program failed: $(head -c 300 "$T/own.err")"
settle "$T/syslog"
pid=$(cat "$T/own.pid")
grep -E "(myapp|tlstap)\[$pid\]: " "$T/syslog" >"$T/own.log" || true
lines "$T/own.log" 4
stamp='[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}'
sed -n 1p "$T/own.log" | grep -Eq "^<134>$stamp myapp\[$pid\]: before\$" ||
	fail "own: the program's first line: $(sed -n 1p "$T/own.log")"
sed -n 2,3p "$T/own.log" | grep -c "^<28>tlstap\[$pid\]: " | grep -qx 2 ||
	fail "own: the library's lines: $(sed -n 2,3p "$T/own.log")"
sed -n 4p "$T/own.log" | grep -Eq "^<134>$stamp myapp\[$pid\]: after\$" ||
	fail "own: the program's line after the library's: $(sed -n 4p "$T/own.log")"

# --- A /dev/log whose daemon stopped reading, its queue full: the
# program neither waits nor changes.
kill -STOP "$SYSLOGD"
filled=$($PY -c 'import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setblocking(False)
n = 0
try:
    while n < 100000:
        s.sendto(b"<14>filler", "/dev/log")
        n += 1
except BlockingIOError:
    print(n)')
[ -n "$filled" ] || fail "could not fill /dev/log's queue"
run stuck env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/missing.conf" curl -sSk "$URL"
like_plain stuck
silent_stderr stuck
kill -CONT "$SYSLOGD"

stop_reader "$REC_READER"
settle "$T/syslog"
kill -TERM "$SYSLOGD"
wait "$SYSLOGD" || fail "the syslog daemon received malformed messages: $(grep -F '\n' "$T/syslog" | head -n2)"
echo "PASS $TEST_NAME"
