# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# The Secure Forward of docs/SECURITY.md on three hosts, network
# namespaces joined by veth; sourced by tests/host/secure-forward.sh and
# tests/host/secfwd/cost.sh, not run.
#
#   app 10.78.1.1 --- 10.78.1.2 gw 10.78.2.1 --- 10.78.2.2 ids
#
# app: HOOK_SOCK (Unix datagram, the hook writes here) <- socat -> BRIDGE_SOCK
#      (Unix stream, listening) <- ssh -R (client, connects out to gw)
# gw:  sshd; FWD_SOCK (made by sshd for -R) <- socat -> tlstap-fwd --stdin
# ids: whatever the caller starts.
# Every socket is 0600; the working directory $D (under /run: sshd's
# StrictModes refuses keys below a world-writable /tmp) is 0700.
#
# Gives (beside ../lib/common.sh's $SRC, $TEST_NAME, fail and cleanup):
# $HELPERS $PY $D $APP $GW $IDS, bg, wait_until,
# listens, alive, mode_600, setup_hosts, setup_keys, start_sshd,
# start_bridge, start_ssh (sets SSH_PID), start_gw_forwarder (writes the
# exit statuses of socat and tlstap-fwd to $D/gw.status when they end),
# ssh_opts, GW_LOGIN. Each process is bounded by timeout(1).

set -u
HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/host/lib/common.sh
. "$HELPERS/../lib/common.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
LIFETIME=${LIFETIME:-120}

[ "$(id -u)" = 0 ] || fail "must run as root (network namespaces, sshd)"
for prog in /usr/sbin/sshd ssh ssh-keygen socat; do
	command -v "$prog" >/dev/null ||
		fail "$prog is missing (make deps installs scripts/debian-packages)"
done

D=$(mktemp -d /run/tlstap-secfwd.XXXXXX) || fail "mktemp"
TEST_TMP=$D
NS=tlstap-sf$$
APP=$NS-app GW=$NS-gw IDS=$NS-ids
HOOK_SOCK=$D/app/hook.sock
BRIDGE_SOCK=$D/app/fwd.sock
FWD_SOCK=$D/gw/secfwd.sock
# The largest datagram the hook writes: 64 KiB of plaintext + the 72-byte
# header. socat reads one datagram per read of its buffer size (-b,
# default 8192) and silently cuts a larger one.
SOCAT_BUF=65608
PRIVSEP_MADE=

# The common cleanup, and /run/sshd when start_sshd made it.
cleanup() {
	cleanup_test
	[ -z "$PRIVSEP_MADE" ] || rmdir /run/sshd 2>/dev/null
}
trap cleanup EXIT

# bg NAME NS CMD...: CMD in namespace NS, output in $D/NAME.out/.err, pid
# (CMD's own: ip netns exec executes it) in BG_PID.
bg() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$D/$name.out" 2>"$D/$name.err" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# wait_until WHAT LOG CMD...: CMD succeeds within 10 s, or the test fails
# saying WHAT and the last line of $D/LOG (LOG "-": none).
wait_until() {
	local what=$1 log=$2 i
	shift 2
	for ((i = 0; i < 200; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	[ "$log" = - ] || what="$what: $(tail -n 1 "$D/$log" 2>/dev/null)"
	fail "$what"
}

# listens NS t|u PORT: a TCP or UDP socket listens on PORT in NS.
listens() {
	[ -n "$(ip netns exec "$1" ss -Hl"$2"n "sport = :$3")" ]
}

# alive PID NAME: the background job NAME still runs.
alive() {
	kill -0 "$1" 2>/dev/null ||
		fail "$2 exited early: $(tail -n 2 "$D/$2.err" | tr '\n' ' ')"
}

# mode_600 PATH: a socket, mode 0600.
mode_600() {
	[ -S "$1" ] || fail "$1 is not a socket"
	[ "$(stat -c %a "$1")" = 600 ] || fail "$1 has mode $(stat -c %a "$1"), want 600"
}

setup_hosts() {
	local ns
	for ns in "$APP" "$GW" "$IDS"; do
		ip netns add "$ns" || fail "ip netns add $ns"
		NS_LIST+=("$ns")
		ip -n "$ns" link set lo up
	done
	ip -n "$APP" link add eth0 type veth peer name to-app netns "$GW" &&
		ip -n "$GW" link add to-ids type veth peer name eth0 netns "$IDS" ||
		fail "veth"
	ip -n "$APP" addr add 10.78.1.1/24 dev eth0 &&
		ip -n "$GW" addr add 10.78.1.2/24 dev to-app &&
		ip -n "$GW" addr add 10.78.2.1/24 dev to-ids &&
		ip -n "$IDS" addr add 10.78.2.2/24 dev eth0 &&
		ip -n "$APP" link set eth0 up && ip -n "$GW" link set to-app up &&
		ip -n "$GW" link set to-ids up && ip -n "$IDS" link set eth0 up ||
		fail "addresses"
	mkdir -m 700 "$D/app" "$D/gw" "$D/ids" || fail "mkdir in $D"
}

# The gateway's host key, the application host's client key; the client
# knows the host key, the gateway lets the key forward and nothing else
# (no shell, command, pty, agent, X11).
setup_keys() {
	ssh-keygen -q -t ed25519 -N '' -C secfwd-gw -f "$D/gw/host_ed25519" &&
		ssh-keygen -q -t ed25519 -N '' -C secfwd-app -f "$D/app/id_ed25519" ||
		fail "ssh-keygen"
	echo "10.78.1.2 $(cat "$D/gw/host_ed25519.pub")" >"$D/app/known_hosts"
	echo "restrict,port-forwarding,command=\"/bin/false\" $(cat "$D/app/id_ed25519.pub")" \
		>"$D/gw/authorized_keys"
	chmod 600 "$D/gw/authorized_keys"
	# No user config, no agent, only this key, the gateway's host key known.
	ssh_opts=(-F none -T -i "$D/app/id_ed25519" -o IdentitiesOnly=yes
		-o BatchMode=yes -o UserKnownHostsFile="$D/app/known_hosts"
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes)
	GW_LOGIN=$(id -un)@10.78.1.2
}

# sshd on the gateway's app-facing address: public keys only, remote
# Unix-socket forwarding only (sshd gates it behind AllowTcpForwarding
# remote too; PermitListen none refuses every TCP listener), sockets
# created 0600 (StreamLocalBindMask), a stale one replaced.
start_sshd() {
	# Normally made by the service's unit.
	if [ ! -d /run/sshd ]; then
		mkdir -m 755 /run/sshd || fail "mkdir /run/sshd"
		PRIVSEP_MADE=1
	fi
	cat >"$D/gw/sshd_config" <<EOF
ListenAddress 10.78.1.2:22
HostKey $D/gw/host_ed25519
PidFile none
AuthorizedKeysFile $D/gw/authorized_keys
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
AllowStreamLocalForwarding remote
StreamLocalBindMask 0177
StreamLocalBindUnlink yes
AllowTcpForwarding remote
PermitListen none
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
PermitTTY no
PermitUserRC no
ClientAliveInterval 15
ClientAliveCountMax 3
LogLevel VERBOSE
EOF
	/usr/sbin/sshd -t -f "$D/gw/sshd_config" 2>"$D/sshd-t.err" ||
		fail "sshd -t: $(head -n 1 "$D/sshd-t.err")"
	bg sshd "$GW" timeout "$LIFETIME" /usr/sbin/sshd -D -e -f "$D/gw/sshd_config"
	wait_until "sshd does not listen on 10.78.1.2:22" sshd.err listens "$GW" t 22
}

# app: each datagram of the hook's socket, whole, onto the stream socket
# ssh connects to. umask 177: both sockets are 0600 from the start.
start_bridge() {
	bg bridge "$APP" sh -c "umask 177 && exec timeout $LIFETIME socat -u \
		-b $SOCAT_BUF UNIX-RECV:$HOOK_SOCK UNIX-LISTEN:$BRIDGE_SOCK"
	wait_until "socat did not create its sockets" bridge.err test -S "$BRIDGE_SOCK"
}

# app: the ssh client connects out to gw; sshd creates FWD_SOCK there, and
# each connection to it reaches BRIDGE_SOCK here.
start_ssh() {
	bg ssh "$APP" env -u SSH_AUTH_SOCK timeout "$LIFETIME" ssh "${ssh_opts[@]}" \
		-N -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 \
		-R "$FWD_SOCK:$BRIDGE_SOCK" "$GW_LOGIN"
	SSH_PID=$BG_PID
	wait_until "ssh -R did not create $FWD_SOCK" ssh.err test -S "$FWD_SOCK"
	alive "$SSH_PID" ssh
}

# start_gw_forwarder FWD_BINARY TLSTAP_FWD_ARGS...: gw reads FWD_SOCK as a
# byte stream into tlstap-fwd --stdin; returns once the bridge on app has
# accepted the forwarded connection (the whole chain is up).
start_gw_forwarder() {
	local fwd=$1
	shift
	(
		ip netns exec "$GW" timeout "$LIFETIME" socat -u -b "$SOCAT_BUF" \
			"UNIX-CONNECT:$FWD_SOCK" STDOUT 2>"$D/gw-socat.err" |
			ip netns exec "$GW" timeout "$LIFETIME" "$fwd" --stdin "$@" \
				2>"$D/fwd.err"
		echo "${PIPESTATUS[*]}" >"$D/gw.status"
	) &
	BG_PIDS+=("$!")
	wait_until "the forwarded connection did not reach the bridge" gw-socat.err \
		sh -c "ip netns exec $APP ss -Hx state established | grep -qF '$BRIDGE_SOCK'"
}
