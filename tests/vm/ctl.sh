#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154  # out, listed...: assigned by slurp()
# tlstapctl and the module's generic netlink family: every command works;
# every bad input (address, weight, TOS and other limits, unknown knob or
# target, duplicate, too many targets, a caller without CAP_NET_ADMIN) is
# refused with a message that says what was wrong and changes nothing;
# sysfs and netlink agree on every knob and on the targets, each seeing
# what the other set; records reach a target added through tlstapctl,
# with the TOS set through it, and both views count them alike.
#
# A process costs up to a second under TCG: files are read and output
# matched with bash builtins, and tlstapctl runs only where it is tested.
. "$TLSTAP_SRC/tests/lib/vm.sh"

CTL=$TLSTAP_SRC/ctl/build/tlstapctl
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
KNOBS="tos max_record flush_us ring_kb heartbeat_ms retransmit_pps"
declare -A MIN=([tos]=1 [max_record]=1 [flush_us]=1 [ring_kb]=64
	[heartbeat_ms]=1 [retransmit_pps]=1)
declare -A MAX=([tos]=255 [max_record]=16777216 [flush_us]=1000000
	[ring_kb]=1048576 [heartbeat_ms]=60000 [retransmit_pps]=10000000)

slurp() { # VAR FILE: the whole file, without a process
	IFS= read -r -d '' "$1" <"$2" || true
}

knob() { # NAME: a knob as sysfs has it
	local v
	read -r v <"$SYS/$1"
	echo "$v"
}

ctl() { # ARGS...: must succeed; its output in $out
	"$CTL" "$@" >"$WORK/out" 2>"$WORK/ctl.err" ||
		fail "tlstapctl $*: $(<"$WORK/ctl.err")"
	slurp out "$WORK/out"
}

has_line() { # TEXT LINE
	[[ $'\n'$1 == *$'\n'"$2"$'\n'* ]]
}

# refused TEXT [RUNNER...] -- ARGS...: tlstapctl ARGS fails, saying TEXT.
refused() {
	local text=$1 runner=() said
	shift
	while [ "$1" != -- ]; do
		runner+=("$1")
		shift
	done
	shift
	if "${runner[@]}" "$CTL" "$@" >/dev/null 2>"$WORK/refused"; then
		fail "tlstapctl $* succeeded"
	fi
	slurp said "$WORK/refused"
	[[ $said == *"$text"* ]] ||
		fail "tlstapctl $*: said '$said', not '$text'"
	echo "ok   refused: tlstapctl $*: ${said%%$'\n'*}"
}

sysfs_refuses() { # FILE VALUE
	if echo "$2" >"$SYS/$1" 2>/dev/null; then
		fail "sysfs $1 took '$2'"
	fi
}

same() { # WHAT A B
	[ "$2" = "$3" ] || fail "$1: '$2' != '$3'"
}

refused "module is not loaded" -- show
load_module
host_ns t1 1

refused "no command: target, set, get, show, stats or monitor (try --help)" --
refused "unknown command 'frob' (try --help)" -- frob
refused "usage" -- target
refused "usage" -- set tos
refused "usage" -- get

# Knobs. The defaults agree; every knob set by netlink at the bottom of
# its range reads so in sysfs; set by sysfs at the top, reads so through
# netlink; one past either end is refused by both, netlink saying the
# range, and changes nothing.
ctl show
for k in $KNOBS; do
	has_line "$out" "$k $(knob "$k")" || fail "default $k: $out"
done
defaults=()
for k in $KNOBS; do
	defaults+=("$k" "$(knob "$k")")
	set_min+=("$k" "${MIN[$k]}")
done
ctl set "${set_min[@]}"
for k in $KNOBS; do
	same "$k set by netlink" "$(knob "$k")" "${MIN[$k]}"
	echo "${MAX[$k]}" >"$SYS/$k"
done
ctl show
for k in $KNOBS; do
	has_line "$out" "$k ${MAX[$k]}" || fail "$k set by sysfs: $out"
	refused "set $k $((${MIN[$k]} - 1)): $k: integer out of range, valid: ${MIN[$k]}..${MAX[$k]} (" \
		-- set "$k" $((${MIN[$k]} - 1))
	sysfs_refuses "$k" $((${MIN[$k]} - 1))
	sysfs_refuses "$k" $((${MAX[$k]} + 1))
	same "$k after refusals" "$(knob "$k")" "${MAX[$k]}"
done
# tos is one byte on the wire: a larger number never leaves, and the
# message states the knob's range.
refused "set tos: '256' is not a number in 1..255 (try --help)" -- set tos 256
refused "max_record: integer out of range, valid: 1..16777216" -- set max_record 16777217
ctl set "${defaults[@]}"
echo "ok   every knob: both ends of its range, sysfs and netlink agree"

# Several knobs at once: all or none.
ctl set tos 0x30 flush_us 700
same "tos and flush_us" "$(knob tos) $(knob flush_us)" "48 700"
refused "ring_kb: integer out of range" -- set tos 7 ring_kb 10
same "tos after a refused set" "$(knob tos)" 48
refused "unknown knob 'foo' (knobs: tos max_record" -- set foo 1
refused "unknown knob 'foo'" -- get foo
refused "set: port is read-only" -- set port 1
refused "'abc' is not a number" -- set tos abc
refused "'-1' is not a number" -- set heartbeat_ms -1
ctl get port
same "port" "$out" $'7419\n'

# The hash key, both ways; malformed keys never leave.
ctl set hash_key 00112233445566778899aabbccddeeff
same "hash_key set by netlink" "$(knob hash_key)" 00112233445566778899aabbccddeeff
echo ffeeddccbbaa99887766554433221100 >"$SYS/hash_key"
ctl get hash_key
same "hash_key set by sysfs" "$out" $'ffeeddccbbaa99887766554433221100\n'
refused "want 32 hex digits" -- set hash_key 0011
refused "want 32 hex digits" -- set hash_key zz112233445566778899aabbccddeeff
same "hash_key after refusals" "$(knob hash_key)" ffeeddccbbaa99887766554433221100
echo "ok   hash_key: sysfs and netlink agree"

# Targets: added through one view, listed alike by both, removed through
# the other.
ctl target add 10.77.1.2:7419 weight 2
echo "add [fd77:1::2]:7419 weight 3" >"$SYS/targets"
ctl target add 10.77.1.2:7420
ctl target list
slurp listed "$SYS/targets"
same "target list" "$out" "$listed"
has_line "$out" "10.77.1.2:7419 weight 2 packets 0 bytes 0 errors 0 icmp_unreachable 0 state ready" ||
	fail "target list: $out"
has_line "$out" "[fd77:1::2]:7419 weight 3 packets 0 bytes 0 errors 0 icmp_unreachable 0 state ready" ||
	fail "target list: $out"
echo "ok   targets: sysfs and netlink list alike"

refused "duplicate target: it is already configured" -- target add 10.77.1.2:7419
refused "duplicate target" -- target add "[fd77:1::2]:7419" weight 1
refused "weight: integer out of range, valid: 1..255" -- target add 10.77.1.3:7419 weight 0
refused "weight: integer out of range, valid: 1..255" -- target add 10.77.1.3:7419 weight 256
refused "want 'weight N', not 'weight x'" -- target add 10.77.1.3:7419 weight x
refused "want 'weight N', not 'wieght 2'" -- target add 10.77.1.3:7419 wieght 2
refused "usage" -- target del 10.77.1.2:7419 weight 2
refused "bad address: '10.0.0.999:7419': '10.0.0.999' is not an IPv4 address" -- target add 10.0.0.999:7419
refused "bad address: '10.0.0.1': want IPV4:PORT or [IPV6]:PORT" -- target add 10.0.0.1
refused "bad address: '10.0.0.1:0': bad port '0'" -- target add 10.0.0.1:0
refused "bad address: '10.0.0.1:65536': bad port" -- target add 10.0.0.1:65536
refused "bad address: '0.0.0.0:7419': unspecified address" -- target add 0.0.0.0:7419
refused "bad address: '[::]:7419': unspecified address" -- target add "[::]:7419"
refused "bad address: 'fd77::2:7419'" -- target add fd77::2:7419
refused "bad address: '[fd77::2]': want [IPV6]:PORT" -- target add "[fd77::2]"
refused "bad address: 'localhost:7419'" -- target add localhost:7419
refused "unknown target: no such target is configured" -- target del 10.77.1.9:7419
refused "unknown target" -- target del "[fd77:1::2]:7420"
mapfile -t lines <"$SYS/targets"
same "targets after refusals" "${#lines[@]}" 3

ctl target del "[fd77:1::2]:7419"
echo "del 10.77.1.2:7420" >"$SYS/targets"
ctl target list
same "target list after deletes" "$out" $'10.77.1.2:7419 weight 2 packets 0 bytes 0 errors 0 icmp_unreachable 0 state ready\n'
slurp listed "$SYS/targets"
same "sysfs after deletes" "$listed" "$out"

# What tlstapctl never sends (it checks addresses and lengths itself):
# requests crafted byte by byte, each refused by the kernel's policy or
# checks with the errno and extack message of docs/PROTOCOL.md 6; nothing
# changes.
slurp listed "$SYS/targets"
python3 - <<'PY' || fail "the kernel took a malformed request"
import errno, os, socket, struct, sys

NETLINK_GENERIC, SOL_NETLINK = 16, 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK = 10, 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLA_F_NESTED = 0x8000
# include/uapi/linux/tlstap.h
CMD = dict(TARGET_ADD=1, TARGET_DEL=2, TARGET_FLUSH=3, TARGET_GET=4,
           CONFIG_SET=6)
A_TARGET, A_TOS, A_PORT = 1, 2, 9
T_ADDR4, T_ADDR6, T_PORT, T_WEIGHT, T_STREAM_ID = 2, 3, 4, 5, 6

def attr(t, payload):
    return struct.pack("=HH", 4 + len(payload), t) + payload + \
        b"\0" * (-len(payload) % 4)

def nest(t, *attrs, flag=NLA_F_NESTED):
    return attr(t | flag, b"".join(attrs))

u16 = lambda t, v: attr(t, struct.pack("=H", v))
u32 = lambda t, v: attr(t, struct.pack("=I", v))

sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
sock.bind((0, 0))
seq = 0

def request(family, cmd, body, flags=NLM_F_ACK):
    """(errno, extack message, answers' payloads) of one request."""
    global seq
    seq += 1
    payload = struct.pack("=BBH", cmd, 1, 0) + body
    sock.send(struct.pack("=IHHII", 16 + len(payload), family,
                          NLM_F_REQUEST | flags, seq, 0) + payload)
    answers = []
    while True:
        data = sock.recv(65536)
        pos = 0
        while pos < len(data):
            length, mtype, mflags, mseq, _ = struct.unpack_from("=IHHII", data, pos)
            body = data[pos + 16:pos + length]
            pos += (length + 3) & ~3
            if mtype == 3:                          # NLMSG_DONE
                return 0, "", answers
            if mtype != 2:                          # not NLMSG_ERROR
                answers.append(body)
                continue
            err = -struct.unpack_from("=i", body)[0]
            msg, apos = "", 20                      # capped: nlmsgerr only
            while apos + 4 <= len(body):
                alen, atype = struct.unpack_from("=HH", body, apos)
                if atype == 1:                      # NLMSGERR_ATTR_MSG
                    msg = body[apos + 4:apos + alen].rstrip(b"\0").decode()
                apos += (alen + 3) & ~3
            return err, msg, answers

def attrs(buf):
    out, pos = {}, 0
    while pos + 4 <= len(buf):
        alen, atype = struct.unpack_from("=HH", buf, pos)
        out[atype & 0x3fff] = buf[pos + 4:pos + alen]
        pos += (alen + 3) & ~3
    return out

err, msg, answers = request(0x10, 3, attr(2, b"tlstap\0"))   # nlctrl GETFAMILY
assert not err, (err, msg)
family = struct.unpack("=H", attrs(answers[0][4:])[1])[0]

ip4 = socket.inet_aton
ip6 = lambda a: socket.inet_pton(socket.AF_INET6, a)
good = [attr(T_ADDR4, ip4("10.77.1.2")), u16(T_PORT, 7419)]
cases = [
    ("unspecified address", "TARGET_ADD", nest(A_TARGET, attr(T_ADDR4, ip4("0.0.0.0")), u16(T_PORT, 7419)),
     errno.EINVAL, "bad address: the unspecified address cannot be a target"),
    ("unspecified IPv6", "TARGET_ADD", nest(A_TARGET, attr(T_ADDR6, ip6("::")), u16(T_PORT, 7419)),
     errno.EINVAL, "bad address: the unspecified address cannot be a target"),
    ("two addresses", "TARGET_ADD", nest(A_TARGET, *good, attr(T_ADDR6, ip6("fd77:1::2"))),
     errno.EINVAL, "bad address: a target has one address, IPv4 or IPv6"),
    ("no address", "TARGET_ADD", nest(A_TARGET, u16(T_PORT, 7419)),
     errno.EINVAL, "bad address: the target has none (ADDR4 or ADDR6)"),
    ("no port", "TARGET_DEL", nest(A_TARGET, attr(T_ADDR4, ip4("10.77.1.2"))),
     errno.EINVAL, "the target has no port"),
    ("no target", "TARGET_ADD", b"", errno.EINVAL, "no target given"),
    ("port 0", "TARGET_ADD", nest(A_TARGET, good[0], u16(T_PORT, 0)),
     errno.ERANGE, "integer out of range"),
    ("5-byte IPv4 address", "TARGET_ADD", nest(A_TARGET, attr(T_ADDR4, b"\x0a\0\0\x02\0"), good[1]),
     errno.ERANGE, "binary attribute size out of range"),
    ("weight as u8", "TARGET_ADD", nest(A_TARGET, *good, attr(T_WEIGHT, b"\x02")),
     errno.EINVAL, "invalid attribute length"),
    ("nest without NLA_F_NESTED", "TARGET_ADD", nest(A_TARGET, *good, flag=0),
     errno.EINVAL, "NLA_F_NESTED is missing"),
    ("weight to TARGET_DEL", "TARGET_DEL", nest(A_TARGET, *good, u32(T_WEIGHT, 2)),
     errno.EINVAL, "Unsupported attribute"),
    ("read-only stream id", "TARGET_ADD", nest(A_TARGET, *good, u32(T_STREAM_ID, 1)),
     errno.EINVAL, "Unsupported attribute"),
    ("nothing to set", "CONFIG_SET", b"", errno.EINVAL, "nothing to set: no knob and no hash key given"),
    ("read-only port", "CONFIG_SET", u16(A_PORT, 1), errno.EINVAL, "Unsupported attribute"),
    ("tos as u32", "CONFIG_SET", u32(A_TOS, 4), errno.EINVAL, "invalid attribute length"),
    ("unknown attribute", "CONFIG_SET", u32(99, 4), errno.EINVAL, "Unknown attribute type"),
    ("attribute to FLUSH", "TARGET_FLUSH", attr(A_TOS, b"\x04"), errno.EINVAL, "Unknown attribute type"),
]
failed = 0
for name, cmd, body, want_err, want_msg in cases:
    err, msg, _ = request(family, CMD[cmd], body)
    ok = err == want_err and want_msg in msg
    print(f"{'ok  ' if ok else 'FAIL'} raw {cmd} {name}: {os.strerror(err) if err else 'accepted'}: {msg!r}")
    failed += not ok
err, msg, _ = request(family, CMD["TARGET_GET"], attr(A_TOS, b"\x04"), NLM_F_DUMP)
ok = err == errno.EINVAL and "Unknown attribute type" in msg
print(f"{'ok  ' if ok else 'FAIL'} raw TARGET_GET dump with an attribute: {os.strerror(err) if err else 'accepted'}: {msg!r}")
failed += not ok
err, msg, _ = request(family, 99, b"")
print(f"{'ok  ' if err == errno.EOPNOTSUPP else 'FAIL'} raw unknown command: {os.strerror(err) if err else 'accepted'}")
failed += err != errno.EOPNOTSUPP
sys.exit(1 if failed else 0)
PY
slurp listed_after "$SYS/targets"
same "targets after malformed requests" "$listed_after" "$listed"
same "tos after malformed requests" "$(knob tos)" 48

# At most TLSTAP_MAX_TARGETS (64): small rings for the many.
echo 64 >"$SYS/ring_kb"
for i in {2..64}; do
	echo "add 10.200.0.$i:7419" >"$SYS/targets"
done
refused "too many targets: at most 64" -- target add 10.77.1.2:7421
ctl target list
mapfile -t all <<<"${out%$'\n'}"
same "targets when full" "${#all[@]}" 64
# sysfs's file is a page: the lines that fit, then "...".
mapfile -t lines <"$SYS/targets"
same "sysfs listing when full" "${lines[-1]}" "..."
same "sysfs lines when full" "$(printf '%s\n' "${lines[@]:0:${#lines[@]}-1}")" \
	"$(printf '%s\n' "${all[@]:0:${#lines[@]}-1}")"
ctl target flush
slurp listed "$SYS/targets"
same "targets after flush" "$listed" ""
ctl target list
same "target list after flush" "$out" ""
echo 4096 >"$SYS/ring_kb"
echo "ok   at most 64 targets; flushed"

# Without CAP_NET_ADMIN: no change, no hash key; reading is open to all,
# as sysfs's files (but hash_key) are.
refused "target add 10.77.1.2:7419: not permitted (needs CAP_NET_ADMIN)" "${NOBODY[@]}" -- target add 10.77.1.2:7419
refused "target del 10.77.1.2:7419: not permitted" "${NOBODY[@]}" -- target del 10.77.1.2:7419
refused "target flush: not permitted" "${NOBODY[@]}" -- target flush
refused "set tos 4: not permitted" "${NOBODY[@]}" -- set tos 4
refused "set hash_key ...: not permitted" "${NOBODY[@]}" -- set hash_key 00112233445566778899aabbccddeeff
refused "get hash_key: not permitted" "${NOBODY[@]}" -- get hash_key
same "tos after refusals" "$(knob tos)" 48
slurp listed "$SYS/targets"
same "targets after refusals" "$listed" ""
"${NOBODY[@]}" "$CTL" show >"$WORK/out" 2>"$WORK/ctl.err" || fail "show as nobody: $(<"$WORK/ctl.err")"
slurp out "$WORK/out"
has_line "$out" "tos 48" || fail "show as nobody: $out"
has_line "$out" "hash_key hidden (reading it needs CAP_NET_ADMIN)" || fail "show as nobody: $out"
"${NOBODY[@]}" "$CTL" stats >/dev/null 2>"$WORK/ctl.err" || fail "stats as nobody: $(<"$WORK/ctl.err")"
echo "ok   without CAP_NET_ADMIN: reads only"

# show: every knob and target, root's view.
ctl target add 10.77.1.2:7419
ctl set tos 72 hash_key 0f0e0d0c0b0a09080706050403020100
ctl show
has_line "$out" "port 7419" || fail "show: $out"
for k in $KNOBS; do
	has_line "$out" "$k $(knob "$k")" || fail "show: no '$k' as in sysfs: $out"
done
has_line "$out" "hash_key 0f0e0d0c0b0a09080706050403020100" || fail "show: $out"
[[ $out =~ $'\n'"target 10.77.1.2:7419 weight 1 stream_id 0x"[0-9a-f]{8}$'\n' ]] ||
	fail "show: $out"
echo "ok   show"

# Records reach the target tlstapctl added, with the TOS it set; both
# views count them alike.
start_recv t1 10.77.1.2:7419 t1
"$TOOLS/recgen" -n 200 -f 20 -m 8000 -o "$WORK/expected.bin"
wait_for 60 all_sent_received || fail "received $(dgrams_received) of $(stat_of datagrams) datagrams"
stop_recv
python3 "$TOOLS/reccheck.py" --expected "$WORK/expected.bin" --tos 72 \
	--target "t1,$WORK/t1.raw,$WORK/t1.dgram,1,1472"
ctl target list
slurp listed "$SYS/targets"
same "target list with traffic" "$out" "$listed"
[[ $out == "10.77.1.2:7419 weight 1 packets "[1-9]* ]] || fail "no packets counted: $out"
# Heartbeats go on while a target exists: compare counters without one.
ctl target flush
ctl stats
slurp counted "$SYS/stats"
same "stats" "$out" "$counted"
same "records" "$(stat_of records)" 200
ctl stats --json
python3 - "$WORK/out" "$SYS/stats" <<'PY' || fail "stats --json disagrees with sysfs"
import json, sys
got = json.load(open(sys.argv[1]))
want = {k: int(v) for k, v in (l.split() for l in open(sys.argv[2]))}
assert got["global"] == want, (got["global"], want)
assert got["targets"] == [], got["targets"]
PY
echo "ok   records delivered to a target added by tlstapctl; stats agree"
