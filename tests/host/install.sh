#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make install DESTDIR=... PREFIX=/usr, and make install PREFIX=DIR
# without DESTDIR, then the installed copies at work:
# - every file at its place with its mode, nothing else: with DESTDIR as
#   a package has them (/etc, /usr/...), with PREFIX=DIR all under DIR
#   (configuration in DIR/etc); an existing tlstap.conf is never
#   overwritten;
# - neither install, nor make uninstall, writes anything in /etc or /usr
#   or runs groupadd, udevadm or systemctl, while make install-system
#   does the group and the reloads (all run in a private mount namespace
#   where /etc and /usr are overlays whose upper layers must stay empty,
#   and those commands are stand-ins that log);
# - the man pages pass `man --warnings` and `mandoc -T lint`;
# - the installed tlstap-run preloads the installed libtlstap.so (found
#   as ../lib/tlstap from its own place), which reads the installed
#   example config without a complaint and captures a real curl to a
#   local openssl s_server; the PREFIX=DIR copy, without options, reads
#   DIR/etc/tlstap.conf and captures, and with TLSTAP_CONF reads that
#   instead; the installed tlstap-fwd sends the records to
#   tlstap-recv started by the systemd unit's own ExecStart line (with
#   the settings of the installed /etc/default/tlstap-recv and DESTDIR
#   prefixed to its paths), and its records file shows the HTTP request
#   and response, its state file is there at stop; all in a network
#   namespace of its own;
# - systemd-analyze verify finds nothing to say about the unit, and
#   systemd-analyze security rates its exposure below 2;
# - udevadm test applies the installed rule to a /dev/tlstap node in a
#   private mount namespace (fake sysfs device, a group file with
#   tlstap): root:tlstap 0660;
# - make uninstall leaves only the changed config file, in both.
set -euo pipefail
# shellcheck source=tests/host/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
for tool in man mandoc systemd-analyze udevadm openssl curl python3 unshare; do
	command -v $tool >/dev/null || fail "$tool is not installed (scripts/debian-packages)"
done

T=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
TEST_TMP=$T
chmod 755 "$T"
ROOT=$T/root
NS=tlstap-install-$$
NS_LIST+=("$NS")
P=$T/prefix
group_before=$(getent group tlstap || true)

# fenced LOG CMD...: CMD in a private mount namespace where /etc and /usr
# are overlays (a write there lands in their upper layers, in $F, and the
# host's stay as they are), /run is a tmpfs that says udev and systemd
# run, and groupadd, useradd, udevadm and systemctl are stand-ins that
# log their command lines to $F/system.log. CMD's output to LOG; then
# fail if anything was written to /etc or /usr. $F/system.log is CMD's.
F=$T/fence
mkdir -p "$F/bin" "$F/etc.upper" "$F/etc.work" "$F/usr.upper" "$F/usr.work"
for cmd in groupadd useradd udevadm systemctl; do
	printf '#!/bin/sh\necho "%s $*" >>%s/system.log\n' "$cmd" "$F" >"$F/bin/$cmd"
	chmod 755 "$F/bin/$cmd"
done
cat >"$F/run.sh" <<FENCE
set -e
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir=$F/etc.upper,workdir=$F/etc.work /etc
mount -t overlay overlay -o lowerdir=/usr,upperdir=$F/usr.upper,workdir=$F/usr.work /usr
mount -t tmpfs none /run
mkdir -p /run/udev/control /run/systemd/system
PATH=$F/bin:\$PATH
exec "\$@"
FENCE
fenced() { # LOG CMD...
	local log=$1 rc=0 touched
	shift
	: >"$F/system.log"
	timeout 600 unshare -m bash "$F/run.sh" "$@" >"$log" 2>&1 || rc=$?
	touched=$(cd "$F" && find etc.upper usr.upper -mindepth 1 | head -n 5 | tr '\n' ' ')
	[ -z "$touched" ] || fail "'$*' wrote outside its directories: $touched"
	return $rc
}

fenced "$T/install.log" make -C "$SRC" install DESTDIR="$ROOT" PREFIX=/usr ||
	fail "make install failed: $(grep -m1 -E 'rror' "$T/install.log" || tail -n1 "$T/install.log")"
[ ! -s "$F/system.log" ] || fail "make install with DESTDIR ran: $(tr '\n' ' ' <"$F/system.log")"

# The files and their modes; tlstapctl once ctl/ builds it.
expected="644 etc/default/tlstap-recv
644 etc/tlstap.conf
755 usr/bin/tlstap-run
644 usr/lib/systemd/system/tlstap-recv.service
644 usr/lib/tlstap/libtlstap.so
644 usr/lib/udev/rules.d/60-tlstap.rules
755 usr/sbin/tlstap-fwd
755 usr/sbin/tlstap-nfq
755 usr/sbin/tlstap-recv
644 usr/share/doc/tlstap/tlstap.conf.example
644 usr/share/man/man1/tlstap-run.1
644 usr/share/man/man4/tlstap.4
644 usr/share/man/man5/tlstap.conf.5
644 usr/share/man/man8/tlstap-fwd.8
644 usr/share/man/man8/tlstap-nfq.8
644 usr/share/man/man8/tlstap-recv.8"
if [ -x "$SRC/ctl/build/tlstapctl" ]; then
	expected="$expected
755 usr/sbin/tlstapctl
644 usr/share/man/man8/tlstapctl.8"
fi
found=$(cd "$ROOT" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort -k2)
expected=$(echo "$expected" | sort -k2)
[ "$found" = "$expected" ] ||
	fail "installed files differ from the list: $(diff <(echo "$expected") <(echo "$found") | grep '^[<>]' | tr '\n' ' ')"
[ "$(find "$ROOT" -type d ! -perm 755 | wc -l)" = 0 ] ||
	fail "directories not 0755: $(find "$ROOT" -type d ! -perm 755 | tr '\n' ' ')"
[ "$(getent group tlstap || true)" = "$group_before" ] ||
	fail "make install with DESTDIR changed the host's group tlstap"
grep -q '^global:$' "$ROOT/etc/tlstap.conf" &&
	grep -q '^  if = /dev/tlstap$' "$ROOT/etc/tlstap.conf" ||
	fail "/etc/tlstap.conf has no 'global:' with 'if = /dev/tlstap'"
grep -qx 'EnvironmentFile=-/etc/default/tlstap-recv' "$ROOT/usr/lib/systemd/system/tlstap-recv.service" ||
	fail "the unit does not read /etc/default/tlstap-recv"
echo "installed with DESTDIR: $(echo "$found" | wc -l) files"

# make install PREFIX=DIR, no DESTDIR, as root: the same files, all under
# DIR, and nothing done to the system.
fenced "$T/install-prefix.log" make -C "$SRC" install PREFIX="$P" ||
	fail "make install PREFIX=$P failed: $(grep -m1 -E 'rror' "$T/install-prefix.log" || tail -n1 "$T/install-prefix.log")"
[ ! -s "$F/system.log" ] || fail "make install PREFIX=$P ran: $(tr '\n' ' ' <"$F/system.log")"
found=$(cd "$P" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort -k2)
expected_prefix=$(echo "$expected" | sed 's| usr/| |' | sort -k2)
[ "$found" = "$expected_prefix" ] ||
	fail "files under PREFIX differ from the list: $(diff <(echo "$expected_prefix") <(echo "$found") | grep '^[<>]' | tr '\n' ' ')"
if ! grep -qx "EnvironmentFile=-$P/etc/default/tlstap-recv" "$P/lib/systemd/system/tlstap-recv.service" ||
	! grep -q "^ExecStart=.*exec $P/sbin/tlstap-recv " "$P/lib/systemd/system/tlstap-recv.service"; then
	fail "the PREFIX unit does not use $P/etc and $P/sbin"
fi
! grep -Eq '@[A-Z]+@' "$P/lib/systemd/system/tlstap-recv.service" || fail "the unit has a placeholder left"
"$P/bin/tlstap-run" -h | grep -qF "else $P/etc/tlstap.conf)" ||
	fail "tlstap-run -h does not name $P/etc/tlstap.conf: $("$P/bin/tlstap-run" -h | grep CONF)"
echo "installed with PREFIX=$P: $(echo "$found" | wc -l) files, /etc and /usr untouched, no groupadd"

# make install-system: the group and the reloads, only when asked (in the
# fence, so the host gets no group); a hint for a PREFIX udev and systemd
# do not read; refused with DESTDIR.
fenced "$T/install-system.log" make -C "$SRC" --no-print-directory install-system PREFIX="$P" ||
	fail "make install-system failed: $(tail -n1 "$T/install-system.log")"
want="udevadm control --reload
systemctl daemon-reload"
[ -n "$group_before" ] || want="groupadd -r tlstap
$want"
[ "$(cat "$F/system.log")" = "$want" ] ||
	fail "make install-system ran '$(tr '\n' ' ' <"$F/system.log")', not '$(echo "$want" | tr '\n' ' ')'"
if ! grep -q "^udev reads no rules in $P/lib/udev/rules.d" "$T/install-system.log" ||
	! grep -q "^systemd reads no units in $P/lib/systemd/system" "$T/install-system.log"; then
	fail "make install-system does not say that udev and systemd do not read $P"
fi
ran=$(tr '\n' ',' <"$F/system.log" | sed 's/,$//; s/,/, /g')
rc=0
fenced "$T/install-system-destdir.log" make -C "$SRC" install-system DESTDIR="$ROOT" || rc=$?
if [ $rc = 0 ] || [ -s "$F/system.log" ] || ! grep -q 'not with DESTDIR' "$T/install-system-destdir.log"; then
	fail "make install-system DESTDIR=... was not refused: exit $rc, ran '$(tr '\n' ' ' <"$F/system.log")'"
fi
echo "install-system: ran $ran; refused with DESTDIR"

# An administrator's config survives a second install.
echo "# changed by the administrator" >>"$ROOT/etc/tlstap.conf"
cp "$ROOT/etc/tlstap.conf" "$T/conf.changed"
make -C "$SRC" install DESTDIR="$ROOT" PREFIX=/usr >"$T/install2.log" 2>&1 ||
	fail "second make install failed: $(tail -n1 "$T/install2.log")"
cmp -s "$ROOT/etc/tlstap.conf" "$T/conf.changed" ||
	fail "a second make install overwrote /etc/tlstap.conf"
grep -q "kept $ROOT/etc/tlstap.conf" "$T/install2.log" || fail "make install did not say it kept /etc/tlstap.conf"

# Man pages.
for page in "$ROOT"/usr/share/man/man*/*; do
	warnings=$(man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null) ||
		fail "man -l $page failed: $warnings"
	[ -z "$warnings" ] || fail "man --warnings $(basename "$page"): $(echo "$warnings" | head -n1)"
	lint=$(mandoc -T lint -W warning "$page" 2>&1) || fail "mandoc -T lint $(basename "$page"): $(echo "$lint" | head -n1)"
	[ -z "$lint" ] || fail "mandoc -T lint $(basename "$page"): $(echo "$lint" | head -n1)"
done
man -M "$ROOT/usr/share/man" -w tlstap.conf >/dev/null || fail "man -M does not find tlstap.conf(5)"
echo "man pages: $(ls "$ROOT"/usr/share/man/man*/* | wc -l), no warnings"

# The installed tlstap-run preloads the installed library.
preload=$("$ROOT/usr/bin/tlstap-run" -- sh -c 'echo "$LD_PRELOAD"')
[ "$preload" = "$ROOT/usr/lib/tlstap/libtlstap.so" ] ||
	fail "installed tlstap-run preloads '$preload', not $ROOT/usr/lib/tlstap/libtlstap.so"

# The unit's command line, as systemd runs it, its programs under $ROOT.
unit=$ROOT/usr/lib/systemd/system/tlstap-recv.service
state=$T/state
mkdir -m 700 "$state"
mapfile -t recv_cmd < <(python3 "$SRC/tests/host/lib/execstart.py" "$unit" \
	"/usr/sbin/=$ROOT/usr/sbin/" "/var/lib/tlstap-recv=$state")
[ "${recv_cmd[0]:-}" = /bin/sh ] || fail "unexpected ExecStart: ${recv_cmd[*]}"

ip netns add "$NS" || fail "ip netns add"
ip -n "$NS" link set lo up
ins() { ip netns exec "$NS" "$@"; }
# Background daemons without timeout(1), so that they get the signals
# themselves; the test runner kills the test's process group at the end.
(set -a && . "$ROOT/etc/default/tlstap-recv" && exec ip netns exec "$NS" \
	"${recv_cmd[@]}") 2>"$T/recv.err" &
RECV=$!
BG_PIDS+=("$RECV")
ip netns exec "$NS" "$ROOT/usr/sbin/tlstap-fwd" --unix "$T/in.sock" --mode 0600 --port 0 \
	--target 127.0.0.1:7419 --stats-json 2>"$T/fwd.err" &
FWD=$!
BG_PIDS+=("$FWD")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1" >"$T/cert.log" 2>&1 || fail "cannot make a certificate"
mkdir "$T/www"
echo "tlstap installed copy says hello" >"$T/www/hello.txt"
(cd "$T/www" && exec ip netns exec "$NS" openssl s_server -WWW -quiet \
	-accept 127.0.0.1:4433 -cert "$T/cert.pem" -key "$T/key.pem") >"$T/server.log" 2>&1 &
BG_PIDS+=("$!")
for _ in $(seq 200); do
	[ -S "$T/in.sock" ] && [ -n "$(ins ss -Hltn 'sport = :4433')" ] &&
		[ -n "$(ins ss -Hlun 'sport = :7419')" ] && break
	sleep 0.05
done
[ -S "$T/in.sock" ] || fail "tlstap-fwd made no socket: $(tail -n1 "$T/fwd.err")"
[ -n "$(ins ss -Hlun 'sport = :7419')" ] || fail "the unit's tlstap-recv does not listen: $(tail -n1 "$T/recv.err")"

ins timeout 60 "$ROOT/usr/bin/tlstap-run" -c "$ROOT/etc/tlstap.conf" -i "$T/in.sock" -- \
	curl -sS --cacert "$T/cert.pem" -o "$T/hello.out" https://127.0.0.1:4433/hello.txt \
	2>"$T/curl.err" || fail "curl failed: $(tail -n1 "$T/curl.err")"
cmp -s "$T/hello.out" "$T/www/hello.txt" || fail "curl's download differs"
! grep -q '^tlstap:' "$T/curl.err" || fail "the library complains: $(grep '^tlstap:' "$T/curl.err")"

# The PREFIX copy without options: its library reads PREFIX/etc/tlstap.conf
# (records to tlstap-fwd), and TLSTAP_CONF instead when set (capture = no).
# shellcheck disable=SC2016  # the child's LD_PRELOAD
preload=$("$P/bin/tlstap-run" -- sh -c 'echo "$LD_PRELOAD"')
[ "$preload" = "$P/lib/tlstap/libtlstap.so" ] ||
	fail "the PREFIX tlstap-run preloads '$preload', not $P/lib/tlstap/libtlstap.so"
printf 'global:\n  if = %s\n' "$T/in.sock" >"$P/etc/tlstap.conf"
printf 'global:\n  if = %s\n  capture = no\n' "$T/in.sock" >"$T/off.conf"
echo "read through PREFIX/etc/tlstap.conf" >"$T/www/prefix.txt"
echo "not captured: TLSTAP_CONF says capture = no" >"$T/www/off.txt"
for page in prefix off; do
	conf=()
	[ $page = prefix ] || conf=(TLSTAP_CONF="$T/off.conf")
	ins env "${conf[@]}" timeout 60 "$P/bin/tlstap-run" -- curl -sS --cacert "$T/cert.pem" \
		-o "$T/$page.out" "https://127.0.0.1:4433/$page.txt" 2>"$T/curl-$page.err" ||
		fail "curl through the PREFIX copy failed: $(tail -n1 "$T/curl-$page.err")"
	cmp -s "$T/$page.out" "$T/www/$page.txt" || fail "curl's download of $page.txt differs"
	! grep -q '^tlstap:' "$T/curl-$page.err" ||
		fail "the PREFIX library complains: $(grep '^tlstap:' "$T/curl-$page.err")"
done

kill -TERM "$FWD"
wait "$FWD" || fail "tlstap-fwd exited with $?: $(tail -n1 "$T/fwd.err")"
sent=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["records"])' <"$T/fwd.err") ||
	fail "no counters from tlstap-fwd"
[ "$sent" -ge 2 ] || fail "tlstap-fwd sent only $sent records"
records=("$state/records.json")
[ -f "${records[0]}" ] || fail "no records.json in the state directory: $(ls "$state")"
for _ in $(seq 100); do
	[ "$(grep -c '"type":"data"' "${records[0]}")" -ge "$sent" ] && break
	sleep 0.05
done
kill -TERM "$RECV"
wait "$RECV" || fail "tlstap-recv exited with $?: $(tail -n1 "$T/recv.err")"
head -n 1 "$state/state" | grep -q '^tlstap-receiver-state 1$' ||
	fail "the unit's tlstap-recv left no state file: $(ls "$state")"
"$SRC/scripts/demo-show" --brief "${records[0]}" >"$T/shown.json" || fail "demo-show failed"
grep -q '"dir": "write".*"text": "GET /hello.txt HTTP/1.1' "$T/shown.json" ||
	fail "no request record: $(head -c 300 "$T/shown.json")"
grep -q '"dir": "read".*"text": "HTTP/1.0 200 ok' "$T/shown.json" ||
	fail "no response record: $(head -c 300 "$T/shown.json")"
grep -q 'tlstap installed copy says hello' "$T/shown.json" || fail "the file's text is not in the records"
if ! grep -q '"dir": "write".*"text": "GET /prefix.txt HTTP/1.1' "$T/shown.json" ||
	! grep -q 'read through PREFIX/etc/tlstap.conf' "$T/shown.json"; then
	fail "the PREFIX copy without options captured nothing: it did not read $P/etc/tlstap.conf"
fi
! grep -q 'off.txt\|TLSTAP_CONF says' "$T/shown.json" ||
	fail "the PREFIX copy captured with TLSTAP_CONF saying capture = no"
echo "capture: $sent records through the installed tlstap-run (both), tlstap-fwd and the unit's tlstap-recv"

# systemd's view of the unit.
verify=$(cd "$T" && MANPATH=$ROOT/usr/share/man systemd-analyze verify "$unit" 2>&1) ||
	fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify: $(echo "$verify" | head -n1)"
exposure=$(systemd-analyze security --offline=yes "$unit" 2>&1 | sed -n 's/.*Overall exposure level for tlstap-recv.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e < 2.0) }' || fail "systemd-analyze security: exposure $exposure"
echo "systemd unit: verified, exposure $exposure"

# udev: the installed rule on a /dev/tlstap node, all in a private mount
# namespace (no udevd, no real device, the host's /dev and /run untouched).
gid=$(awk -F: '{ used[$3] = 1 } END { for (g = 60000; g > 1000; g--) if (!(g in used)) { print g; exit } }' /etc/group)
cat >"$T/udev.sh" <<UDEV
set -e
mount -t tmpfs none /etc/udev/rules.d
cp "$ROOT/usr/lib/udev/rules.d/60-tlstap.rules" /etc/udev/rules.d/
mount -t tmpfs none /run
mount -t tmpfs none /dev
mknod -m 0600 /dev/tlstap c 10 250
mount -t tmpfs none /sys/devices/virtual/misc
mkdir /sys/devices/virtual/misc/tlstap
printf 'MAJOR=10\nMINOR=250\nDEVNAME=tlstap\n' >/sys/devices/virtual/misc/tlstap/uevent
printf '10:250\n' >/sys/devices/virtual/misc/tlstap/dev
ln -s ../../../../class/misc /sys/devices/virtual/misc/tlstap/subsystem
grep -v '^tlstap:' /etc/group >/run/group || true
echo tlstap:x:$gid: >>/run/group
mount --bind /run/group /etc/group
SYSTEMD_DEVICE_VERIFY_SYSFS=0 udevadm test --action=add /devices/virtual/misc/tlstap >/run/udev.log 2>&1
grep -E 'rules|invalid|[Ee]rror' /run/udev.log | grep -v 'Reading rules file' || true
stat -c '%u:%g %a' /dev/tlstap
UDEV
udev_out=$(timeout 60 unshare -m bash "$T/udev.sh" 2>&1) || fail "udevadm test failed: $udev_out"
[ "$(echo "$udev_out" | tail -n1)" = "0:$gid 660" ] ||
	fail "udev rule gave /dev/tlstap '$(echo "$udev_out" | tail -n1)': $(echo "$udev_out" | head -n3 | tr '\n' ' ')"
echo "$udev_out" | grep -q '60-tlstap.rules:[0-9]* MODE 0660' || fail "udevadm test did not apply the rule: $udev_out"
! echo "$udev_out" | grep -qiE 'invalid|error' || fail "udevadm test: $(echo "$udev_out" | grep -iE 'invalid|error' | head -n1)"
echo "udev rule: /dev/tlstap root:tlstap 0660"

# make uninstall: only the changed config stays; nothing done to the system.
fenced "$T/uninstall.log" make -C "$SRC" uninstall DESTDIR="$ROOT" PREFIX=/usr ||
	fail "make uninstall failed: $(tail -n1 "$T/uninstall.log")"
[ ! -s "$F/system.log" ] || fail "make uninstall with DESTDIR ran: $(tr '\n' ' ' <"$F/system.log")"
left=$(cd "$ROOT" && find . -type f -printf '%P\n')
[ "$left" = etc/tlstap.conf ] || fail "make uninstall left: $(echo "$left" | tr '\n' ' ')"
fenced "$T/uninstall-prefix.log" make -C "$SRC" uninstall PREFIX="$P" ||
	fail "make uninstall PREFIX=$P failed: $(tail -n1 "$T/uninstall-prefix.log")"
[ ! -s "$F/system.log" ] || fail "make uninstall PREFIX=$P ran: $(tr '\n' ' ' <"$F/system.log")"
left=$(cd "$P" && find . -type f -printf '%P\n')
[ "$left" = etc/tlstap.conf ] || fail "make uninstall PREFIX=$P left: $(echo "$left" | tr '\n' ' ')"
echo "PASS $TEST_NAME"
