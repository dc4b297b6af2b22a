#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# setuid programs are never captured. In a private mount namespace (the
# host's /etc is never touched), /etc gets an overlay whose ld.so.preload
# names the library: the dynamic loader preloads it into every program,
# setuid ones included. The user daemon runs two copies of openssl
# s_client with TLSTAP_CONF set: a plain copy (AT_SECURE=0) is captured,
# which proves the setup; a copy setuid to nobody (AT_SECURE=1, read from
# /proc/PID/auxv) has the library mapped (/proc/PID/maps) and works,
# yet leaves no record.
. "$(dirname "$0")/hook/lib.sh"

start_capture
port=$(freeport)
bg openssl s_server -rev -quiet -accept "127.0.0.1:$port" -cert "$T/cert.pem" \
	-key "$T/key.pem" >"$T/s_server.log" 2>&1
wait_port "$port"
mkdir -p "$T/bin" "$T/ovl/upper" "$T/ovl/work"

cat >"$T/ns.sh" <<SH
set -eu
mount --make-rprivate /
# A tmpfs of our own: wherever \$T is, setuid bits work here.
mount -t tmpfs -o mode=755 tmpfs "$T/bin"
cp /usr/bin/openssl "$T/bin/openssl-plain"
cp /usr/bin/openssl "$T/bin/openssl-suid"
chown nobody: "$T/bin/openssl-suid"
chmod 4755 "$T/bin/openssl-suid"
install -m 644 "$LIB" "$T/bin/libtlstap.so"
mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/ovl/upper,workdir=$T/ovl/work /etc
echo "$T/bin/libtlstap.so" >/etc/ld.so.preload

run() { # NAME BINARY
	mkfifo -m 666 "$T/\$1.in"
	setpriv --reuid=daemon --regid=daemon --clear-groups \\
		env TLSTAP_CONF="$T/tlstap.conf" "\$2" s_client -quiet \\
		-connect "127.0.0.1:$port" <"$T/\$1.in" >"$T/\$1.out" 2>"$T/\$1.err" &
	pid=\$!
	exec 3>"$T/\$1.in"
	echo hello >&3
	for _ in \$(seq 100); do [ -s "$T/\$1.out" ] && break; sleep 0.05; done
	grep -c libtlstap.so "/proc/\$pid/maps" >"$T/\$1.maps" || true
	$PY -c 'import struct, sys
a = open(sys.argv[1], "rb").read()
print(dict(struct.iter_unpack("QQ", a)).get(23, "none"))' "/proc/\$pid/auxv" >"$T/\$1.secure"
	echo "\$pid" >"$T/\$1.pid"
	echo CLOSE >&3
	exec 3>&-
	wait \$pid
}
run plain "$T/bin/openssl-plain"
sleep 1
cp "$T/rec" "$T/plain.rec"
: >"$T/rec"
run suid "$T/bin/openssl-suid"
sleep 1
cp "$T/rec" "$T/suid.rec"
SH
timeout 60 unshare -m bash "$T/ns.sh" >"$T/ns.log" 2>&1 ||
	fail "namespace run failed: $(tail -n1 "$T/ns.log")"
[ -e /etc/ld.so.preload ] && grep -q "$T" /etc/ld.so.preload &&
	fail "the host's /etc/ld.so.preload was changed"

for v in plain suid; do
	[ "$(cat "$T/$v.out")" = olleh ] || fail "$v: s_client printed '$(cat "$T/$v.out")'"
	[ "$(cat "$T/$v.maps")" -ge 1 ] || fail "$v: libtlstap.so not mapped: the setup is wrong"
done
[ "$(cat "$T/plain.secure")" = 0 ] || fail "plain copy: AT_SECURE=$(cat "$T/plain.secure")"
[ "$(cat "$T/suid.secure")" = 1 ] || fail "setuid copy: AT_SECURE=$(cat "$T/suid.secure")"
[ "$($RECORDS count "$T/plain.rec" --pid "$(cat "$T/plain.pid")")" -gt 0 ] ||
	fail "the plain copy was not captured: the setup is wrong"
[ "$($RECORDS count "$T/suid.rec")" -eq 0 ] || fail "the setuid program was captured"
stop_reader "$READER_PID"
echo "PASS $TEST_NAME"
