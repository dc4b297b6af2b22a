#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# tlstap-fwd stamps each record with its writer as this host's kernel
# knows it (wire format version 2), whatever the record claims: a hooked
# openssl s_client, run as nobody in a pid namespace of its own (its
# records claim pid 1), talks to s_server -rev through tlstap-fwd into
# tlstap-recv --output json, once per input. Seqpacket (SO_PEERCRED) and
# Unix datagram (SCM_CREDENTIALS): every record's "writer_pid" is the
# client's pid in the initial namespace, "writer_uid" 65534, "pid" 1. FIFO:
# the kernel tells nothing, both are null. The client's plaintext is
# captured both ways.
. "$(dirname "$0")/nfq/lib.sh"
. "$(dirname "$0")/pcap/nfqlib.sh"

NOBODY=65534
build_tools
make -s -C "$SRC/userhook" SANITIZE=1 >"$TMP/hook-build.log" 2>&1 ||
	fail "userhook build failed: $(tail -n 3 "$TMP/hook-build.log")"
setup_topology 1
ins() { ip netns exec "$(ns S)" "$@"; }
# The client runs as nobody: it must reach the inputs, its files and the
# library here (a checkout under a private directory is out of its reach).
chmod 755 "$TMP"
cp "$SRC/userhook/build-san/libtlstap.so" "$TMP/"
chmod 644 "$TMP/libtlstap.so"
LIB=$TMP/libtlstap.so

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 -subj /CN=localhost \
	>"$TMP/cert.log" 2>&1 || fail "cannot make a certificate"
printf 'hello from nobody\nsecond line\nCLOSE\n' >"$TMP/client.in"
start_bg server S openssl s_server -rev -quiet -accept 127.0.0.1:4433 \
	-cert "$TMP/cert.pem" -key "$TMP/key.pem"
for ((i = 0; i < 100; i++)); do
	[ -n "$(ins ss -Hltn "sport = :4433")" ] && break
	sleep 0.05
done

# run_case KIND OPTION PATH: tlstap-fwd OPTION PATH (mode 0666) into
# tlstap-recv; the hooked client writes to PATH; its NSpid line (from
# /proc/self/status: its pid here, then in its namespace) first in
# $TMP/KIND.client.err, the records in $TMP/KIND.json.
run_case() {
	local kind=$1 option=$2 path=$3 records
	start_bg "recv-$kind" R1 "$BIN/tlstap-recv" --listen 10.77.1.2:7419 \
		--out "$TMP/$kind.json" --stats-json
	start_bg "fwd-$kind" S "$FWD_BIN/tlstap-fwd" "$option" "$path" --mode 0666 \
		--hash-key "$HASH_KEY" --target 10.77.1.2:7419 --stats-json
	wait_for_file "$path"
	sleep 0.3
	printf 'global:\n  if = %s\n  on_full = block\n' "$path" >"$TMP/$kind.conf"
	# sh reports its pids (reading /proc/self itself, not in a child)
	# and becomes s_client (exec: the same process).
	# shellcheck disable=SC2016  # expanded by that sh
	ins timeout 60 unshare --pid --fork setpriv --reuid="$NOBODY" \
		--regid="$NOBODY" --clear-groups env TLSTAP_CONF="$TMP/$kind.conf" \
		sh -c 'while read -r k v; do [ "$k" != NSpid: ] || echo "$k $v" >&2
			done </proc/self/status; exec env "$@"' \
		sh LD_PRELOAD="$LIB" openssl s_client -connect 127.0.0.1:4433 \
		-quiet <"$TMP/client.in" >"$TMP/$kind.client.out" \
		2>"$TMP/$kind.client.err" ||
		fail "$kind: s_client failed: $(tail -n 1 "$TMP/$kind.client.err")"
	stop_bg "fwd-$kind"
	records=$(nfq_stat "fwd-$kind" - records)
	[ "$records" -ge 2 ] || fail "$kind: tlstap-fwd forwarded $records records"
	wait_lines "$records" "$TMP/$kind.json"
	stop_bg "recv-$kind"
}

# check KIND WRITER_PID WRITER_UID: every record of KIND claims pid 1 and
# carries the writer given (JSON values: a number or null), and the
# client's lines went out as its writes.
check() {
	python3 - "$TMP/$1.json" "$TMP/client.in" "$2" "$3" <<'PY' >"$TMP/$1.check" ||
import base64, json, sys
path, sent, want_pid, want_uid = sys.argv[1:5]
want = (json.loads(want_pid), json.loads(want_uid))
recs = [json.loads(l) for l in open(path)]
def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)
if not recs or any(r["type"] == "lost" for r in recs):
    fail("%d lines, LOST among them: %s" % (len(recs), recs[:1]))
for r in recs:
    if r["pid"] != 1 or (r["writer_pid"], r["writer_uid"]) != want:
        fail("record %d: pid %s, writer %s/%s, want pid 1, writer %s/%s"
             % (r["record_id"], r["pid"], r["writer_pid"], r["writer_uid"],
                *want))
written = b"".join(base64.b64decode(r["data"]) for r in recs
                   if r["dir"] == "write" and r["type"] == "data")
if written != open(sent, "rb").read():
    fail("the client's writes captured as %r" % written)
if not any(r["dir"] == "read" for r in recs):
    fail("no record of what the client read")
print("%d records: pid 1, writer %s/%s" % (len(recs), want_pid, want_uid))
PY
		fail "$1: $(grep FAIL "$TMP/$1.check" | head -n 1)"
	cat "$TMP/$1.check"
}

# nspid KIND: the client's pid in the initial namespace, and a check that
# it had a namespace of its own (pid 1 there).
nspid() {
	local line
	read -r -a line < <(grep -m 1 "^NSpid:" "$TMP/$1.client.err")
	if [ "${#line[@]}" != 3 ] || [ "${line[2]}" != 1 ]; then
		fail "$1: the client's NSpid is '${line[*]}', want two pids, the last 1"
	fi
	echo "${line[1]}"
}

run_case seqpacket --seqpacket "$TMP/in.seq"
check seqpacket "$(nspid seqpacket)" "$NOBODY"
run_case dgram --unix "$TMP/in.sock"
check dgram "$(nspid dgram)" "$NOBODY"
run_case fifo --fifo "$TMP/in.fifo"
check fifo null null
echo "PASS: $TEST_NAME"
