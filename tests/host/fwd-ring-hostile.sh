#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# A hostile capture-ring producer (tests/tools/hookringwriter scribble): for
# a few seconds it makes rings, one after another, and writes random
# bytes over each (desc, consumer line, positions, frames), positions
# that cannot be and records that break the rules, and tries to resize
# the memfd (the seals refuse). Meanwhile a hooked client sends through
# a ring of its own. tlstap-fwd (ASan and UBSan) must survive without a
# report, end the broken rings (rings_ended, status EBADMSG), and deliver
# the other producer's records byte for byte.
. "$(dirname "$0")/hook/lib.sh"
. "$HOOK_DIR/fwd.sh"

make_cert
port=$(freeport)
bg $PEER server 127.0.0.1 "$port" "$T/cert.pem" "$T/key.pem" "$T/srv" --conns 1
wait_port "$port"
start_fwd host json
write_conf "$T/host.conf" <<CONF
global:
  if = $T/host.sock
  on_full = block
CONF

"$RINGWRITER" scribble "$T/host.sock" 4 "$$" >"$T/scribble.json" 2>"$T/scribble.err" &
wp=$!
BG_PIDS+=("$wp")
sizes=$($PY -c 'print(",".join(str(100 + 37 * i % 5000) for i in range(4000)))')
# No timeout(1) in between: the records' pid must be the client's.
env LD_PRELOAD="$LIB" TLSTAP_CONF="$T/host.conf" $PEER client \
	127.0.0.1 "$port" "$T/cli" --sizes "$sizes" >"$T/cli.log" 2>&1 &
cp=$!
wait "$cp" || fail "client failed: $(tail -n1 "$T/cli.log")"
wait "$wp" || fail "hookringwriter failed: $(cat "$T/scribble.err")"
kill -0 "${FWD_PID[host]}" || fail "tlstap-fwd died: $(tail -n 20 "$T/host.fwd")"
stop_fwd host
echo "hookringwriter: $(cat "$T/scribble.json")"
ended=$(fwd_counter host rings_ended)
[ "$ended" -ge 1 ] || fail "tlstap-fwd ended no ring"
grep -q 'capture ring of pid [0-9]* (uid 0) ended' "$T/host.fwd" ||
	fail "no ended ring was logged"
$PY - "$T/host.out" "$cp" "$T/cli" >"$T/check" 2>&1 <<'PY' ||
import base64, glob, json, sys
out, pid, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pieces = {"read": [], "write": []}
for line in open(out):
    l = json.loads(line)
    if l.get("pid") != pid or l["type"] in ("open", "close"):
        continue
    if l["type"] != "data" or l["dropped"]:
        sys.exit(f"the client's connection lost bytes: {line}")
    pieces[l["dir"]].append(base64.b64decode(l["data"]))
n = len(pieces["read"]) + len(pieces["write"])
stream = {k: b"".join(v) for k, v in pieces.items()}
sent = glob.glob(prefix + ".*.sent")[0]
if stream["write"] != open(sent, "rb").read():
    sys.exit("WRITE differs from what the client sent")
if stream["read"] != open(sent[:-4] + "got", "rb").read():
    sys.exit("READ differs from what the client received")
print(f"the client's {n} records intact")
PY
	fail "$(tail -n1 "$T/check")"
cat "$T/check"
echo "PASS $TEST_NAME ($ended rings ended)"
