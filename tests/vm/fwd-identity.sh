#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module and tlstap-fwd pick the same target for every record when
# they share the hash key and the targets: what four weighted targets
# received from the module is compared, record by record, with what
# tlstap-fwd --print-target says for the same records.
. "$TLSTAP_SRC/tests/lib/vm.sh"

FWD=${TLSTAP_FWD:-$TLSTAP_SRC/fwd/build/tlstap-fwd}
KEY=5a17ee5ed0c0ffee0123456789abcdef

load_module
echo "$KEY" >"$SYS/hash_key"
host_ns t1 1
host_ns t2 2
host_ns t3 3
host_ns t4 4
start_recv t1 10.77.1.2:7419 t1
start_recv t2 10.77.2.2:7419 t2
start_recv t3 10.77.3.2:7419 t3
start_recv t4 "[fd77:4::2]:7419" t4
# Added in another order than tlstap-fwd gets them: the table must not care.
echo "add [fd77:4::2]:7419 weight 1" >"$SYS/targets"
echo "add 10.77.3.2:7419 weight 3" >"$SYS/targets"
echo "add 10.77.1.2:7419 weight 1" >"$SYS/targets"
echo "add 10.77.2.2:7419 weight 2" >"$SYS/targets"

"$TOOLS/recgen" -n 2000 -f 2000 -m 2000 -b 8 -s 7 -o "$WORK/expected.bin"
wait_for 120 all_sent_received || fail "received $(dgrams_received) of $(stat_of datagrams) datagrams"
stop_recv

"$FWD" --print-target --stdin --hash-key "$KEY" \
	--target 10.77.1.2:7419 --target 10.77.2.2:7419,weight=2 \
	--target 10.77.3.2:7419,weight=3 --target "[fd77:4::2]:7419" \
	<"$WORK/expected.bin" >"$WORK/fwd.targets" 2>"$WORK/fwd.err" ||
	fail "tlstap-fwd --print-target: $(cat "$WORK/fwd.err")"

python3 - "$WORK" <<'PY'
import struct, sys
work = sys.argv[1]
addr = {"t1": "10.77.1.2:7419", "t2": "10.77.2.2:7419",
        "t3": "10.77.3.2:7419", "t4": "[fd77:4::2]:7419"}
module = {}
for name in addr:
    d = open(f"{work}/{name}.raw", "rb").read()
    pos = 0
    while pos < len(d):
        msg_len, = struct.unpack_from("!I", d, pos + 8)
        index, = struct.unpack_from("!Q", d, pos + 48)
        module[index] = addr[name]
        pos += 72 + msg_len
fwd = [dict(kv.split("=", 1) for kv in line.split())["addr"]
       for line in open(f"{work}/fwd.targets")]
if len(fwd) != 2000 or len(module) != 2000:
    sys.exit(f"FAIL: {len(fwd)} fwd lines, {len(module)} records at targets")
differ = [i for i in range(2000) if module[i] != fwd[i]]
if differ:
    i = differ[0]
    sys.exit(f"FAIL: {len(differ)} records steered differently, "
             f"first #{i}: module {module[i]}, tlstap-fwd {fwd[i]}")
per = {a: fwd.count(a) for a in addr.values()}
print(f"ok   2000 records, same target from both: {per}")
PY
