#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# The Secure Forward of docs/SECURITY.md ("Secure Forward over ssh"),
# with real programs on three hosts (network namespaces joined by veth):
#   app  hooked openssl s_server -rev / s_client (IPv4) and s_server -WWW
#        / curl (IPv6), all through tlstap-run -i HOOK_SOCKET; socat moves
#        each datagram of the hook's socket onto a stream socket; the ssh
#        client (key auth, host key checked) connects out to gw with -R.
#   gw   sshd (key only, remote Unix-socket forwarding only); socat reads
#        the socket sshd created into tlstap-fwd --stdin, which sends UDP
#        to ids.
#   ids  tlstap-recv --output json.
# Checks (tests/host/secfwd/check.py): every record arrives whole, in
# order (record ids 0..n-1 in file order, each process's calls in order),
# with no drops; both ends' plaintext in both directions equals what was
# sent and received, byte for byte; a record larger than socat's default
# 8192-byte buffer went through; the frames between app and gw hold none
# of the plaintext, the frames between gw and ids do. Every socket on the
# way (hook, bridge, forwarded) is a socket of mode 0600. Closing the ssh
# connection ends the gw side cleanly: socat and tlstap-fwd exit 0,
# tlstap-fwd counted no malformed record.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/secfwd/lib.sh"

command -v openssl >/dev/null && command -v curl >/dev/null ||
	fail "openssl and curl are needed (scripts/debian-packages)"

# Sanitizer builds, as the other host tests use.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for dir in userhook fwd nfq-tools; do
	make -s -C "$SRC/$dir" SANITIZE=1 >"$D/build-$dir.log" 2>&1 ||
		fail "building $dir: $(tail -n 2 "$D/build-$dir.log" | tr '\n' ' ')"
done
RUN=$SRC/userhook/build-san/tlstap-run
FWD=$SRC/fwd/build-san/tlstap-fwd
RECV=$SRC/nfq-tools/build-san/tlstap-recv

setup_hosts
setup_keys
mkdir -m 700 "$D/www"

# --- ids: the analysis host
bg recv "$IDS" timeout 120 "$RECV" --listen 10.78.2.2:7419 --output json \
	--out "$D/ids/records.json" --stats-json
wait_until "tlstap-recv does not listen" recv.err listens "$IDS" u 7419

# Frames on both links, to look for plaintext.
bg sniff-tunnel "$GW" timeout 120 "$PY" "$HELPERS/sniff.py" to-app \
	"$D/tunnel.frames" "$D/tunnel.ready"
SNIFF_PIDS=("$BG_PID")
bg sniff-clear "$IDS" timeout 120 "$PY" "$HELPERS/sniff.py" eth0 \
	"$D/clear.frames" "$D/clear.ready"
SNIFF_PIDS+=("$BG_PID")
wait_until "the frame captures did not start" sniff-tunnel.err \
	test -e "$D/tunnel.ready" -a -e "$D/clear.ready"

# --- the chain: sshd on gw, the bridge and ssh -R on app, socat into
# tlstap-fwd on gw.
start_sshd
start_bridge
start_ssh
start_gw_forwarder "$FWD" --target 10.78.2.2:7419 --stats-json

mode_600 "$HOOK_SOCK"
mode_600 "$BRIDGE_SOCK"
mode_600 "$FWD_SOCK"

# The application host's key forwards Unix sockets and nothing else: a
# command runs the forced /bin/false, a TCP listener is refused.
ip netns exec "$APP" env -u SSH_AUTH_SOCK timeout 20 ssh "${ssh_opts[@]}" \
	"$GW_LOGIN" echo ran >"$D/ssh-cmd.out" 2>"$D/ssh-cmd.err"
status=$?
[ $status = 1 ] && [ ! -s "$D/ssh-cmd.out" ] ||
	fail "a command over the forwarding key: exit $status, output '$(head -c 40 "$D/ssh-cmd.out")'"
ip netns exec "$APP" env -u SSH_AUTH_SOCK timeout 20 ssh "${ssh_opts[@]}" -N \
	-o ExitOnForwardFailure=yes -R 10.78.1.2:2222:127.0.0.1:22 "$GW_LOGIN" \
	>/dev/null 2>"$D/ssh-tcp.err"
status=$?
[ $status = 255 ] && grep -q "forwarding failed" "$D/ssh-tcp.err" ||
	fail "a TCP listener over the forwarding key: exit $status: $(tail -n 1 "$D/ssh-tcp.err")"

# --- app: TLS through the hook. on_full = block: this test checks that
# nothing is lost or cut on the way, not how fast the tunnel is.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$D/key.pem" -out "$D/cert.pem" -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
	>"$D/cert.log" 2>&1 || fail "cannot make a certificate"
printf 'global:\n  on_full = block\n' >"$D/tlstap.conf"
hooked=("$RUN" -c "$D/tlstap.conf" -i "$HOOK_SOCK" --)

# 1. s_client -> s_server -rev over IPv4: 300 KB of lines, each returned
# reversed; s_client writes what it reads from stdin, up to 16 KiB a call.
$PY -c 'import base64,os
for _ in range(4000): print(base64.b64encode(os.urandom(54)).decode())
print("CLOSE")' >"$D/lines.in"
bg rev-server "$APP" "${hooked[@]}" openssl s_server -rev -quiet \
	-accept 10.78.1.1:4433 -cert "$D/cert.pem" -key "$D/key.pem"
REV_PID=$BG_PID
wait_until "s_server -rev does not listen" rev-server.err \
	listens "$APP" t 4433
ip netns exec "$APP" timeout 60 "${hooked[@]}" openssl s_client -quiet \
	-connect 10.78.1.1:4433 -servername app.example <"$D/lines.in" \
	>"$D/lines.got" 2>"$D/rev-client.err" ||
	fail "s_client: $(tail -n 1 "$D/rev-client.err")"
[ "$(wc -l <"$D/lines.got")" = 4000 ] ||
	fail "s_client printed $(wc -l <"$D/lines.got") lines, want 4000"

# 2. curl -> s_server -WWW over IPv6 loopback: a 256 KiB binary file.
head -c 262144 /dev/urandom >"$D/www/file.bin"
(cd "$D/www" && exec ip netns exec "$APP" "${hooked[@]}" openssl s_server \
	-WWW -quiet -accept '[::1]:4434' -cert "$D/cert.pem" -key "$D/key.pem") \
	>"$D/www-server.out" 2>"$D/www-server.err" &
WWW_PID=$!
BG_PIDS+=("$WWW_PID")
wait_until "s_server -WWW does not listen" www-server.err \
	listens "$APP" t 4434
ip netns exec "$APP" timeout 60 "${hooked[@]}" curl -sS -k -o "$D/file.got" \
	"https://[::1]:4434/file.bin" 2>"$D/curl.err" ||
	fail "curl: $(tail -n 1 "$D/curl.err")"
cmp -s "$D/file.got" "$D/www/file.bin" || fail "curl's download differs"

# --- ids: the records, whole, in order, byte for byte.
exchanges=(--rev 4433 "$REV_PID" "$D/lines.in" "$D/lines.got"
	--http 4434 "$WWW_PID" "GET /file.bin HTTP/1.1" "$D/www/file.bin")
out=$(timeout 60 "$PY" "$HELPERS/check.py" "$D/ids/records.json" \
	--sender 10.78.2.1 --wait 30 --min-record 8192 "${exchanges[@]}") ||
	fail "${out#FAIL: }"

# --- plaintext on the wire: none between app and gw, plenty after gw.
for pid in "${SNIFF_PIDS[@]}"; do
	kill "$pid"
	wait "$pid" || fail "a frame capture failed: $(cat "$D"/sniff-*.err | tail -n 1)"
done
out=$(timeout 60 "$PY" "$HELPERS/check.py" "$D/ids/records.json" \
	--sender 10.78.2.1 --wait 0 "${exchanges[@]}" \
	--tunnel "$D/tunnel.frames" --clear "$D/clear.frames") ||
	fail "${out#FAIL: }"
echo "delivered: $out"

# --- closing the ssh connection ends the gw side: socat sees the end of
# the stream, tlstap-fwd sends what it has and exits at end of input.
kill "$SSH_PID"
for ((i = 0; i < 200; i++)); do
	[ -e "$D/gw.status" ] && break
	sleep 0.05
done
[ -e "$D/gw.status" ] || fail "the gw side did not end when ssh closed"
[ "$(cat "$D/gw.status")" = "0 0" ] ||
	fail "gw socat | tlstap-fwd exited $(cat "$D/gw.status"): $(tail -n 1 "$D/fwd.err")"
records=$(wc -l <"$D/ids/records.json")
$PY - "$D/fwd.err" "$records" <<'PY' || fail "tlstap-fwd's counters: $(tail -n 1 "$D/fwd.err")"
import json, sys
stats = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
want = int(sys.argv[2])
sys.exit(0 if stats["malformed"] == 0 and stats["discarded_bytes"] == 0 and
         stats["records"] == want and stats["send_errors"] == 0 else 1)
PY
echo "tlstap-fwd: $records records, none malformed, exit 0 at the end of the stream"
echo "PASS $TEST_NAME"
