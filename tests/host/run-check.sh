#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-run --check [-c CONF] [-i IF] [--user USER] PROGRAM: what the
# config selects for PROGRAM (found in PATH, its section chosen by its
# binary as the library chooses it: a symbolic link resolved, a script
# by its interpreter, through env too) and whether its output can be
# opened, as the user the program runs as:
# - section, output, on_full, exclusions (a section's replace global's),
#   ring or write();
# - a missing output, a datagram socket (write()), tlstap-fwd's seqpacket
#   socket (a real capture ring, made and let go), mode 0600: root may,
#   --user nobody may not; a FIFO; the installed default /dev/tlstap
#   without the module; capture = no; a broken config; no config file
#   (in a mount namespace); a set-user-ID binary;
# - exit status 0 only when the program would be captured, 1 when not,
#   127 for a program not found, 125 for tlstap-run's own errors.
. "$(dirname "$0")/hook/lib.sh"
. "$HOOK_DIR/fwd.sh"

# Debian's programs, whatever else PATH has (pyenv's shims...).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
CURL=$(realpath "$(command -v curl)")
PY3=$(realpath /usr/bin/python3)
SH=$(realpath /bin/sh)

# check NAME ARG...: tlstap-run --check ARG..., its stdout, stderr and
# exit status in $T/NAME.{out,err,rc}.
check() {
	local name=$1 rc=0
	shift
	timeout 30 "$RUN" --check "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	echo $rc >"$T/$name.rc"
}
has() { # NAME LINE: NAME's report has LINE, exactly
	grep -qxF -- "$2" "$T/$1.out" ||
		fail "$1: no line '$2' in: $(tr '\n' '|' <"$T/$1.out") $(head -c 300 "$T/$1.err")"
}
starts() { # NAME TEXT: NAME's report has a line that starts with TEXT
	awk -v p="$2" 'index($0, p) == 1 { found = 1 } END { exit !found }' "$T/$1.out" ||
		fail "$1: no line '$2...' in: $(tr '\n' '|' <"$T/$1.out")"
}
hasnt() { # NAME TEXT: NAME's report does not say TEXT
	! grep -qF -- "$2" "$T/$1.out" || fail "$1: '$2' in: $(tr '\n' '|' <"$T/$1.out")"
}
status() { # NAME WANT
	[ "$(cat "$T/$1.rc")" = "$2" ] ||
		fail "$1: exit $(cat "$T/$1.rc"), want $2: $(tr '\n' '|' <"$T/$1.out") $(head -c 300 "$T/$1.err")"
}
line_of() { # FILE TEXT: the number of FILE's line that is TEXT
	grep -nxF -- "$2" "$1" | cut -d: -f1
}

write_conf "$T/check.conf" <<CONF
global:
  if = $T/a.sock
  exclude = .*\.bank\.example
  exclude = intranet
curl:
  path = /usr/bin/curl
  if = $T/b.sock
  exclude = x\.example
  ring_kb = 256
  on_full = block
python:
  path = /usr/bin/python3
  ring = no
off:
  path = /usr/bin/wget
  capture = no
CONF
C=$T/check.conf
me="uid 0 (root), gid 0 ($(getent group 0 | cut -d: -f1))"

# --- curl, found in PATH, its own section; the output missing.
check curl-missing -c "$C" curl
has curl-missing "program: $CURL"
has curl-missing "user: $me"
has curl-missing "config: $C"
has curl-missing "section: curl, line $(line_of "$C" curl:)"
has curl-missing "capture: yes"
has curl-missing "output: $T/b.sock"
has curl-missing "on_full: block"
has curl-missing "exclude: x\\.example"
hasnt curl-missing "exclude: intranet"
has curl-missing "ring: yes, 256 KiB"
has curl-missing "opens: no, No such file or directory"
has curl-missing "captured: no, its records are dropped until the output can be opened"
status curl-missing 1

# A datagram socket: opens, no ring; nothing is sent to it.
start_reader dgram "$T/b.sock" "$T/b.rec"
B_READER=$READER_PID
check curl-ok -c "$C" -- curl -sS https://example.invalid/
has curl-ok "opens: yes, a Unix datagram socket"
has curl-ok "records: by write(), a datagram socket has no capture rings"
has curl-ok "captured: yes"
status curl-ok 0
stop_reader "$B_READER"
[ ! -s "$T/b.rec" ] || fail "--check sent something to the output"

# python3: a symbolic link, the section names it; global's output and
# exclusions; ring = no.
check python -c "$C" python3
has python "program: $PY3"
has python "section: python, line $(line_of "$C" python:)"
has python "output: $T/a.sock"
has python "exclude: .*\\.bank\\.example"
has python "exclude: intranet"
has python "ring: no"
status python 1

# Scripts are their interpreter's, through env too.
printf '#!/usr/bin/env python3\nprint(1)\n' >"$T/s.py"
printf '#!/bin/sh\necho 1\n' >"$T/s.sh"
chmod 755 "$T/s.py" "$T/s.sh"
check script-env -c "$C" "$T/s.py"
has script-env "program: $T/s.py, a script run by $PY3"
has script-env "section: python, line $(line_of "$C" python:)"
check script-sh -c "$C" "$T/s.sh"
has script-sh "program: $T/s.sh, a script run by $SH"
has script-sh "section: none, global applies"

# capture = no.
check off -c "$C" wget
has off "capture: no"
has off "captured: no, capture = no"
hasnt off "opens:"
status off 1

# --- tlstap-fwd's seqpacket socket, mode 0600: a real capture ring as
# root; --user nobody may not connect.
start_fwd fwd raw --mode 0600
printf 'global:\n  if = %s\n' "$T/fwd.sock" | write_conf "$T/fwd.conf"
check fwd-root -c "$T/fwd.conf" curl
has fwd-root "section: none, global applies"
has fwd-root "opens: yes, a Unix seqpacket socket"
has fwd-root "records: into a capture ring per thread, 1024 KiB"
has fwd-root "captured: yes"
status fwd-root 0
check fwd-nobody -c "$T/fwd.conf" --user nobody curl
has fwd-nobody "user: uid $(id -u nobody) (nobody), gid $(id -g nobody) ($(id -gn nobody))"
has fwd-nobody "opens: no, Permission denied (as uid $(id -u nobody), gid $(id -g nobody): tlstap-fwd makes its socket mode 0600 unless --mode says otherwise)"
has fwd-nobody "captured: no, its records are dropped until the output can be opened"
status fwd-nobody 1
printf 'global:\n  if = %s\n  ring = no\n' "$T/fwd.sock" | write_conf "$T/fwd-noring.conf"
check fwd-noring -c "$T/fwd-noring.conf" curl
has fwd-noring "records: by write(), ring = no"
status fwd-noring 0
stop_fwd fwd
[ "$(fwd_counter fwd rings_created)" = 1 ] ||
	fail "tlstap-fwd made $(fwd_counter fwd rings_created) rings, want the one of fwd-root"
[ "$(fwd_counter fwd records)" = 0 ] || fail "--check sent records to tlstap-fwd"

# A FIFO: writable; a reader is not looked for.
mkfifo -m 600 "$T/f.fifo"
check fifo -c "$C" -i "$T/f.fifo" curl
has fifo "output: $T/f.fifo (from -i or TLSTAP_IF)"
has fifo "opens: a FIFO, writable; whether it has a reader is not checked (opening it would end a reader that waits for its first writer)"
has fifo "records: by write(), a FIFO has no capture rings"
status fifo 0
check fifo-nobody -c "$C" -i "$T/f.fifo" --user nobody curl
has fifo-nobody "opens: no, Permission denied (as uid $(id -u nobody), gid $(id -g nobody))"
status fifo-nobody 1

# -i with a typo, relative: made absolute as for a run.
check typo -c "$C" -i rec.sokc curl
has typo "output: $PWD/rec.sokc (from -i or TLSTAP_IF)"
has typo "opens: no, No such file or directory"
status typo 1

# --- The installed default, if = /dev/tlstap, on a host without the
# module (in a mount namespace with /dev under an overlay, so that a
# host with the module loaded is one without it here).
mkdir -p "$T/dev/upper" "$T/dev/work"
timeout 60 unshare -m sh -c "mount --make-rprivate / &&
	mount -t overlay overlay -o lowerdir=/dev,upperdir=$T/dev/upper,workdir=$T/dev/work /dev &&
	rm -f /dev/tlstap &&
	'$RUN' --check -c '$SRC/dist/tlstap.conf.example' curl >'$T/nomodule.out' 2>'$T/nomodule.err';
	echo \$? >'$T/nomodule.rc'" || fail "nomodule: the mount namespace failed"
has nomodule "output: /dev/tlstap"
has nomodule "opens: no, No such file or directory: the tlstap kernel module is not loaded (modprobe tlstap), or run tlstap-fwd and name its socket in 'if'"
status nomodule 1

# --- A broken config.
printf 'global:\n  if = %s\n  colour = blue\n' "$T/a.sock" | write_conf "$T/bad.conf"
check bad -c "$T/bad.conf" curl
starts bad "config: $T/bad.conf:3: unknown key 'colour'"
has bad "captured: no, the config is broken"
hasnt bad "opens:"
status bad 1

# --- No config file (in a mount namespace, /etc under an overlay):
# nothing is captured without -i; with -i, the defaults.
mkdir -p "$T/etc/upper" "$T/etc/work"
start_reader dgram "$T/d.sock" "$T/d.rec"
timeout 60 unshare -m sh -c "mount --make-rprivate / &&
	mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/etc/upper,workdir=$T/etc/work /etc &&
	rm -f /etc/tlstap.conf &&
	{ env -u TLSTAP_CONF -u TLSTAP_IF '$RUN' --check curl >'$T/noconf.out' 2>'$T/noconf.err';
	  echo \$? >'$T/noconf.rc'; } &&
	{ env -u TLSTAP_CONF -u TLSTAP_IF '$RUN' --check -i '$T/d.sock' curl >'$T/noconf-i.out' 2>'$T/noconf-i.err';
	  echo \$? >'$T/noconf-i.rc'; }" || fail "noconf: the mount namespace failed"
has noconf "config: /etc/tlstap.conf: none; without a config file only -i (TLSTAP_IF) captures"
has noconf "captured: no, no config file and no -i"
status noconf 1
has noconf-i "config: /etc/tlstap.conf: none; without a config file only -i (TLSTAP_IF) captures"
has noconf-i "output: $T/d.sock (from -i or TLSTAP_IF)"
has noconf-i "ring: yes, 1024 KiB"
has noconf-i "captured: yes"
status noconf-i 0
stop_reader "$READER_PID"

# --- A set-user-ID binary is never captured (a tmpfs of our own: the
# setuid bit works there whatever mounts $T).
mkdir -p "$T/bin"
timeout 60 unshare -m sh -c "mount --make-rprivate / &&
	mount -t tmpfs -o mode=755 tmpfs '$T/bin' &&
	cp '$CURL' '$T/bin/curl-plain' && cp '$CURL' '$T/bin/curl-suid' &&
	chown nobody: '$T/bin/curl-suid' && chmod 4755 '$T/bin/curl-suid' &&
	{ '$RUN' --check -c '$C' '$T/bin/curl-suid' >'$T/suid.out' 2>'$T/suid.err'; echo \$? >'$T/suid.rc'; } &&
	{ '$RUN' --check -c '$C' '$T/bin/curl-plain' >'$T/plain.out' 2>'$T/plain.err'; echo \$? >'$T/plain.rc'; }" ||
	fail "suid: the mount namespace failed"
has suid "program: $T/bin/curl-suid"
has suid "captured: no, $T/bin/curl-suid is set-user-ID: the library never captures it"
status suid 1
hasnt plain "set-user-ID"

# --- tlstap-run's own errors.
check notfound -c "$C" no-such-program-here
status notfound 127
grep -qF "no-such-program-here" "$T/notfound.err" || fail "notfound: not said: $(cat "$T/notfound.err")"
check nouser -c "$C" --user no-such-user-here curl
status nouser 125
grep -qF "no-such-user-here" "$T/nouser.err" || fail "nouser: not said: $(cat "$T/nouser.err")"
# nobody runs a copy: a checkout under a private directory is out of its
# reach (the refusal comes before tlstap-run looks for the library).
cp "$RUN" "$T/tlstap-run-copy"
chmod 755 "$T/tlstap-run-copy"
rc=0
setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/tlstap-run-copy" --check -c "$C" \
	--user daemon curl >"$T/notroot.out" 2>"$T/notroot.err" || rc=$?
[ $rc = 125 ] || fail "--user as nobody: exit $rc, want 125"
grep -qF -- "--user" "$T/notroot.err" || fail "--user as nobody: not said: $(cat "$T/notroot.err")"
rc=0
"$RUN" --user nobody -c "$C" -- true 2>"$T/useronly.err" || rc=$?
[ $rc = 125 ] || fail "--user without --check: exit $rc, want 125"
echo "PASS $TEST_NAME"
