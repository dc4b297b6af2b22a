#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Every tool (tlstap-fwd, tlstap-recv, tlstap-nfq, tlstapctl, tlstap-run)
# is operated alike, without surprises:
# - --version prints "NAME VERSION" (the tree's VERSION file); --help and
#   -h print the usage; all three on stdout, nothing on stderr, exit 0;
# - a usage error (an unknown option, an option without its argument, an
#   operand too many, a value out of range) is one line on stderr ending
#   "(try --help)", nothing on stdout, exit 1 (tlstap-run: 125); a range
#   message states the real range (tlstapctl set tos 256: 1..255);
# - in the man pages of a `make install DESTDIR=... PREFIX=...` tree:
#   no placeholder and no literal PREFIX, the installation's own paths and
#   the version; every tool's page has an EXIT STATUS section and names
#   every option, command and knob its --help lists, and --help lists
#   every option of the tool's getopt table (read from its source), so a
#   new option without documentation fails here;
# - tlstap-fwd, tlstap-recv and tlstap-nfq say in one line at start what
#   they read and where they send or write; they print their counters at
#   exit and on SIGUSR1 as "PROG: counters" and aligned "name value"
#   lines (groups indented), the same counters as the one JSON object of
#   --stats-json; the receivers' streams follow as a table; no line but
#   the start line and JSON is longer than 160 characters;
# - a record's JSON line carries its time as RFC 3339 with nanoseconds
#   ("time") beside the nanoseconds ("time_ns").
. "$(dirname "$0")/nfq/lib.sh"

RUN_BIN=$SRC/userhook/build-san/tlstap-run
VERSION=$(cat "$SRC/VERSION")
build_tools
make -s -C "$SRC/userhook" SANITIZE=1 >"$TMP/build-userhook.log" 2>&1 ||
	fail "userhook build failed: $(tail -n 3 "$TMP/build-userhook.log")"

tool_path() { # NAME
	case $1 in
	tlstap-run) echo "$RUN_BIN" ;;
	tlstap-fwd) echo "$FWD_BIN/$1" ;;
	tlstapctl) echo "$CTL_BIN/$1" ;;
	*) echo "$BIN/$1" ;;
	esac
}

# outcome NAME ARG...: runs a tool (no network needed), stdout, stderr and
# status in $TMP/o.out, $TMP/o.err, $rc.
outcome() {
	local name=$1
	shift
	rc=0
	timeout 10 "$(tool_path "$name")" "$@" >"$TMP/o.out" 2>"$TMP/o.err" </dev/null || rc=$?
}

# usage_error STATUS NAME ARG...: one line on stderr ending "(try --help)",
# nothing on stdout, exit STATUS; the line in $said.
usage_error() {
	local want=$1 name=$2
	shift 2
	outcome "$name" "$@"
	said=$(cat "$TMP/o.err")
	[ "$rc" = "$want" ] || fail "$name $*: exit $rc, want $want: $said"
	[ ! -s "$TMP/o.out" ] || fail "$name $*: wrote to stdout: $(head -n 2 "$TMP/o.out")"
	[ "$(wc -l <"$TMP/o.err")" = 1 ] || fail "$name $*: not one line on stderr: $said"
	[[ $said == "$name: "*" (try --help)" ]] || fail "$name $*: '$said'"
}

# 1. --version, --help, -h; usage errors.
for name in tlstap-fwd tlstap-recv tlstap-nfq tlstapctl tlstap-run; do
	outcome "$name" --version
	[ "$rc" = 0 ] && [ ! -s "$TMP/o.err" ] && [ "$(cat "$TMP/o.out")" = "$name $VERSION" ] ||
		fail "$name --version: exit $rc, '$(cat "$TMP/o.out")', stderr '$(cat "$TMP/o.err")'"
	for opt in --help -h; do
		outcome "$name" "$opt"
		[ "$rc" = 0 ] && [ ! -s "$TMP/o.err" ] && head -n 1 "$TMP/o.out" | grep -q "^usage: $name " ||
			fail "$name $opt: exit $rc, stdout '$(head -n 1 "$TMP/o.out")', stderr '$(cat "$TMP/o.err")'"
		cp "$TMP/o.out" "$TMP/$name$opt.help"
	done
	cmp -s "$TMP/$name--help.help" "$TMP/$name-h.help" || fail "$name: -h and --help differ"
	status=1
	[ "$name" = tlstap-run ] && status=125
	usage_error $status "$name" --no-such-option
done
usage_error 1 tlstap-fwd --target
usage_error 1 tlstap-fwd --target 10.0.0.1:7419 operand
usage_error 1 tlstap-fwd --target 10.0.0.1:7419 --tos 0
[[ $said == *"1..255"* ]] || fail "tlstap-fwd --tos 0: no range: $said"
usage_error 1 tlstap-fwd --stats-json=yes --target 10.0.0.1:7419
usage_error 1 tlstap-recv --listen
usage_error 1 tlstap-recv
usage_error 1 tlstap-recv --listen 127.0.0.1:7419 --max-streams 0
[[ $said == *"1..65536"* ]] || fail "tlstap-recv --max-streams 0: no range: $said"
usage_error 1 tlstap-nfq --queue
usage_error 1 tlstap-nfq --queue 70000
[[ $said == *"0..65535"* ]] || fail "tlstap-nfq --queue 70000: no range: $said"
usage_error 1 tlstapctl
usage_error 1 tlstapctl frob
usage_error 1 tlstapctl target add 10.0.0.1
usage_error 1 tlstapctl set tos
# One byte on the wire, and 0 is refused too: the range is the knob's.
usage_error 1 tlstapctl set tos 256
[[ $said == *"'256' is not a number in 1..255"* ]] || fail "tlstapctl set tos 256: $said"
usage_error 1 tlstapctl set ring_kb 4294967296
[[ $said == *"64..1048576"* ]] || fail "tlstapctl set ring_kb 4294967296: $said"
usage_error 125 tlstap-run
usage_error 125 tlstap-run -c
outcome tlstapctl help
cmp -s "$TMP/o.out" "$TMP/tlstapctl--help.help" || fail "tlstapctl help differs from --help"
echo "--version, --help, -h on stdout; usage errors in one line, (try --help)"

# 2. The installed man pages. A PREFIX of our own: its paths must show.
PREFIX=/opt/tlstap-conventions
make -C "$SRC" install DESTDIR="$TMP/root" PREFIX="$PREFIX" >"$TMP/install.log" 2>&1 ||
	fail "make install: $(tail -n 3 "$TMP/install.log")"
MAN=$TMP/root$PREFIX/share/man
for page in "$MAN"/man*/*; do
	! grep -n -E '@[A-Z_]+@|PREFIX|SYSCONFDIR' "$page" >"$TMP/left" ||
		fail "$(basename "$page") keeps a placeholder: $(head -n 1 "$TMP/left")"
	mandoc -T ascii "$page" | col -bx >"$TMP/$(basename "$page").txt"
	tail -n 1 "$TMP/$(basename "$page").txt" | grep -q "tlstap $VERSION" ||
		fail "$(basename "$page") does not name version $VERSION"
done
grep -q "$PREFIX/etc/tlstap.conf" "$TMP/tlstap-run.1.txt" &&
	grep -q "$PREFIX/lib/tlstap/libtlstap.so" "$TMP/tlstap-run.1.txt" &&
	grep -q "$PREFIX/etc/default/tlstap-recv" "$TMP/tlstap-recv.8.txt" &&
	grep -q "$PREFIX/share/doc/tlstap/tlstap.conf.example" "$TMP/tlstap.conf.5.txt" ||
	fail "the man pages do not name the installation's paths"
python3 - "$SRC" "$TMP" <<'PY' || fail "man pages: $(tail -n 1 "$TMP/man.check")"
import re, sys

src, tmp = sys.argv[1:]
TOOLS = {"tlstap-fwd": "8", "tlstap-recv": "8", "tlstap-nfq": "8",
         "tlstapctl": "8", "tlstap-run": "1"}
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
TABLE = re.compile(r'\{\s*"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument,'
                   r"\s*NULL,\s*('(.)'|\w+)\s*\}")
MACRO = re.compile(r"\b([A-Z]+_LONGOPTS)\b")


def fail(msg):
    print(msg)
    open(tmp + "/man.check", "w").write(msg + "\n")
    sys.exit(1)


def source_options(tool):
    """The options of a tool's getopt tables, its macros' included."""
    dirs = {"tlstap-run": "userhook", "tlstap-fwd": "fwd", "tlstapctl": "ctl"}
    path = "%s/%s/%s.c" % (src, dirs.get(tool, "nfq-tools"), tool)
    text = open(path).read()
    for macro in set(MACRO.findall(text)):
        for h in ("lib/cli.h", "nfq-tools/lib/recvopts.h"):
            h = open(src + "/" + h).read()
            if "#define " + macro in h:
                text += h
    opts = set()
    for name, _, letter in TABLE.findall(text):
        opts.add("--" + name)
        if letter:
            opts.add("-" + letter)
    # tlstap-run's letters are in its optstring.
    for letters in re.findall(r'getopt_long\(argc, argv, "([^"]*)"', text):
        opts.update("-" + c for c in letters if c.isalpha())
    return opts


def page_words(page):
    return set(re.findall(r"[\w.-]+", open("%s/%s.txt" % (tmp, page)).read()))


for tool, sect in TOOLS.items():
    page = "%s.%s" % (tool, sect)
    text = open("%s/%s.txt" % (tmp, page)).read()
    words = page_words(page)
    if not re.search(r"^EXIT STATUS$", text, re.M):
        fail("%s has no EXIT STATUS section" % page)
    helptext = open("%s/%s--help.help" % (tmp, tool)).read()
    listed = set(OPTION.findall(helptext))
    if tool != "tlstapctl":
        missing = source_options(tool) - listed
        if missing:
            fail("%s --help does not list %s" % (tool, " ".join(sorted(missing))))
    else:
        # Its commands and knobs, as --help lists them.
        for line in helptext.splitlines():
            m = re.match(r"\s*(?:usage:)?\s*tlstapctl (.*)", line)
            if m:
                listed.update(w.strip("[]") for w in m.group(1).split()
                              if re.fullmatch(r"[a-z_]+", w.strip("[]")))
        knobs = re.findall(r"^  ([a-z_]+) ", helptext, re.M)
        if len(knobs) < 7:
            fail("tlstapctl --help lists %d knobs" % len(knobs))
        listed.update(knobs)
    undocumented = sorted(o for o in listed if o not in words)
    if undocumented:
        fail("%s does not document %s" % (page, " ".join(undocumented)))
    print("%s: EXIT STATUS; %d options, commands and knobs documented"
          % (page, len(listed)))
PY
echo "man pages: installation's paths and version, EXIT STATUS, every option"

# 3. Start lines, counters (text and JSON, at exit and on SIGUSR1), the
# receivers' stream table, the record's time.
add_ns R
# Else tlstap-fwd --unix warns first that it cannot poll the socket.
ip netns exec "$(ns R)" sysctl -qw net.unix.max_dgram_qlen=256 ||
	fail "sysctl net.unix.max_dgram_qlen"
L=127.0.0.1:7419
TS=1700000000123456789
NFQ_HELPERS=$NFQ_HELPERS python3 - "$TMP/records.bin" "$TS" <<'PY' || fail "writing the record"
import os, sys
sys.path.insert(0, os.environ["NFQ_HELPERS"])
import tlstap_ref as ref
fam = ref.FAMILY_IPV4
rec = ref.record(1, ref.DIR_WRITE, fam, 443, 50000, b"GET / HTTP/1.1\r\n\r\n", 4321,
                 ref.addr_bytes(fam, "192.0.2.1"), ref.addr_bytes(fam, "192.0.2.2"),
                 int(sys.argv[2]), 1, 0)
open(sys.argv[1], "wb").write(rec)
PY

# wait_said NAME TEXT: until $TMP/NAME.err has a line starting TEXT (10 s).
wait_said() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -qs "^$2" "$TMP/$1.err" && return 0
		sleep 0.05
	done
	fail "$1 did not say '$2': $(head -n 3 "$TMP/$1.err")"
}

# usr1_then_stop NAME PROG KIND: SIGUSR1 makes the background job NAME
# print its counters (KIND text: a line "PROG: counters"; json: a JSON
# line), then it is stopped (SIGTERM: the counters again, exit 0).
usr1_then_stop() {
	local name=$1 prog=$2 pid n
	pid=$(cat "$TMP/$name.pid")
	# The tool is timeout's child (timeout passes SIGTERM on, not SIGUSR1).
	kill -USR1 "$(cat "/proc/$pid/task/$pid/children")"
	for ((n = 0; n < 200; n++)); do
		if [ "$3" = json ]; then
			grep -q '^{' "$TMP/$name.err" && break
		else
			grep -q "^$prog: counters$" "$TMP/$name.err" && break
		fi
		sleep 0.05
	done
	[ $n -lt 200 ] || fail "$name: no counters on SIGUSR1: $(cat "$TMP/$name.err")"
	stop_bg "$name"
}

start_bg recv R "$BIN/tlstap-recv" --listen "$L" --allow 127.0.0.0/8 \
	--out "$TMP/recv.json"
wait_said recv "tlstap-recv: listening"
ip netns exec "$(ns R)" timeout 60 "$FWD_BIN/tlstap-fwd" --stdin --target "$L" \
	--heartbeat-ms 0 --linger-ms 0 <"$TMP/records.bin" 2>"$TMP/fwd.err" ||
	fail "tlstap-fwd: $(tail -n 3 "$TMP/fwd.err")"
wait_records 1 "$TMP/recv.json"
usr1_then_stop recv tlstap-recv text
start_bg recv-json R "$BIN/tlstap-recv" --listen "$L" --allow 127.0.0.0/8 \
	--out "$TMP/recv-json.json" --stats-json
wait_said recv-json "tlstap-recv: listening"
usr1_then_stop recv-json tlstap-recv json
start_bg fwd-usr1 R "$FWD_BIN/tlstap-fwd" --unix "$TMP/in.sock" --target "$L" \
	--hash-key "$HASH_KEY"
wait_said fwd-usr1 "tlstap-fwd: reading"
usr1_then_stop fwd-usr1 tlstap-fwd text
start_bg fwd-json R "$FWD_BIN/tlstap-fwd" --unix "$TMP/in2.sock" --target "$L" \
	--hash-key "$HASH_KEY" --stats-json
wait_said fwd-json "tlstap-fwd: reading"
usr1_then_stop fwd-json tlstap-fwd json
start_bg nfq R "$BIN/tlstap-nfq" --queue 7 --allow 127.0.0.0/8 \
	--out "$TMP/nfq.json"
wait_said nfq "tlstap-nfq: reading"
usr1_then_stop nfq tlstap-nfq text
start_bg nfq-json R "$BIN/tlstap-nfq" --queue 7 --allow 127.0.0.0/8 \
	--out "$TMP/nfq-json.json" --stats-json
wait_said nfq-json "tlstap-nfq: reading"
usr1_then_stop nfq-json tlstap-nfq json

python3 - "$TMP" "$L" "$TS" "$HASH_KEY" <<'PY' || fail "$(tail -n 1 "$TMP/out.check")"
import datetime, json, re, sys

tmp, listen, ts, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
VALUE_WIDTH = 14


def fail(msg):
    print(msg)
    open(tmp + "/out.check", "w").write(msg + "\n")
    sys.exit(1)


def lines(name):
    return open("%s/%s.err" % (tmp, name)).read().splitlines()


def text_counters(name, prog, block):
    """The block-th counters print of name: [(depth, name, value or None)]."""
    err = lines(name)
    starts = [i for i, l in enumerate(err) if l == prog + ": counters"]
    if len(starts) <= block:
        fail("%s: %d counter prints, want %d" % (name, len(starts), block + 1))
    out, ends = [], set()
    for l in err[starts[block] + 1:]:
        if not l.startswith("  "):
            break
        m = re.match(r"^((?:  )+)(\S(?:.*\S)?):$", l) or \
            re.match(r"^((?:  )+)(\S+) +(\S+)$", l)
        if not m:
            fail("%s: not a counter line: %r" % (name, l))
        depth = len(m.group(1)) // 2 - 1
        value = m.group(3) if m.lastindex == 3 else None
        if out and depth > out[-1][0] + (out[-1][2] is None):
            fail("%s: indented too far: %r" % (name, l))
        if value is not None and len(value) <= VALUE_WIDTH:
            ends.add(len(l))
        out.append((depth, m.group(2), value))
    if len(ends) != 1:
        fail("%s: values not aligned (lines end at %s)" % (name, sorted(ends)))
    return out


def json_counters(name):
    objs = [json.loads(l) for l in lines(name) if l.startswith("{")]
    if len(objs) != 2:
        fail("%s: %d JSON counter lines, want 2 (SIGUSR1, exit)" % (name, len(objs)))
    out = []

    def walk(obj, depth):
        for k, v in obj.items():
            if isinstance(v, dict):
                out.append((depth, k, None))
                walk(v, depth + 1)
            elif isinstance(v, list):
                out.append((depth, k, None))
                for item in v:
                    out.append((depth + 1, None, None))
                    walk(item, depth + 2)
            else:
                out.append((depth, k, v))
    walk(objs[-1], 0)
    return out


def same_counters(text, js, what):
    """The same names, nesting and order (an array item: any label)."""
    shape = lambda c: [(d, n if n is not None else "*", v is None) for d, n, v in c]
    t, j = shape(text), shape(js)
    if len(t) == len(j):
        t = [(d, "*" if jn == "*" else n, leaf)
             for (d, n, leaf), (_, jn, _) in zip(t, j)]
    if t != j:
        diff = next((i for i in range(min(len(t), len(j))) if t[i] != j[i]),
                    min(len(t), len(j)))
        fail("%s: text and JSON counters differ at %d: %s vs %s"
             % (what, diff, t[diff:diff + 1], j[diff:diff + 1]))


def start_line(name, pattern):
    first = lines(name)[0]
    if not re.fullmatch(pattern, first):
        fail("%s: start line %r does not match %r" % (name, first, pattern))


for name in ("fwd", "recv", "recv-json", "fwd-usr1", "fwd-json", "nfq", "nfq-json"):
    long = [l for l in lines(name)[1:] if len(l) > 160 and l[0] != "{"]
    if long:
        fail("%s: a line of %d characters: %.80s..." % (name, len(long[0]), long[0]))

# One start line, then (tlstap-fwd on standard input) the counters at once.
start_line("fwd", r"tlstap-fwd: reading standard input; sending from UDP port "
           r"\d+ \(NACKs come back there\) to 1 target: %s; steering by the "
           r"random key [0-9a-f]{32}" % re.escape(listen))
if lines("fwd")[1] != "tlstap-fwd: counters":
    fail("fwd: a second line before the counters: %r" % lines("fwd")[1])
start_line("fwd-usr1", r"tlstap-fwd: reading the Unix datagram socket %s/in.sock; "
           r"sending from UDP port \d+ \(NACKs come back there\) to 1 target: %s"
           % (re.escape(tmp), re.escape(listen)))
start_line("recv", r"tlstap-recv: listening on %s \(UDP\) for 127.0.0.0/8; writing "
           r"json to %s/recv.json \(appended\)" % (re.escape(listen), re.escape(tmp)))
start_line("nfq", r"tlstap-nfq: reading queue 7 \(no nft rule installed: the host's "
           r"own is to queue UDP port 7419, DSCP 0x08\), verdict drop, for "
           r"127.0.0.0/8; writing json to %s/nfq.json \(appended\)" % re.escape(tmp))

fwd = text_counters("fwd", "tlstap-fwd", 0)
if ("records", "1") not in [(n, v) for _, n, v in fwd]:
    fail("fwd: no 'records 1' among its counters")
for name, prog, js in (("fwd-usr1", "tlstap-fwd", "fwd-json"),
                       ("recv", "tlstap-recv", "recv-json"),
                       ("nfq", "tlstap-nfq", "nfq-json")):
    text_counters(name, prog, 0)            # on SIGUSR1
    same_counters(text_counters(name, prog, 1), json_counters(js), name)

# The receiver's stream table, after each print of its counters.
err = lines("recv")
tables = [i for i, l in enumerate(err) if l == "tlstap-recv: streams"]
if len(tables) != 2:
    fail("recv: %d stream tables, want 2" % len(tables))
head, row = err[tables[0] + 1].split(), err[tables[0] + 2].split()
if head != ["sender/stream", "next_seq", "missing_seqs", "expired_seqs",
            "next_record_id", "incomplete_records", "missing_record_ids",
            "nacking_ranges"] or len(row) != len(head) or \
        not re.fullmatch(r"127\.0\.0\.1:\d+/\d+", row[0]) or row[1] != "1":
    fail("recv: stream table %r / %r" % (err[tables[0] + 1], err[tables[0] + 2]))

# The record: its time in both forms.
rec = [json.loads(l) for l in open(tmp + "/recv.json")]
want = datetime.datetime.fromtimestamp(ts // 10**9, datetime.timezone.utc)
want = want.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ts % 10**9)
if len(rec) != 1 or rec[0].get("time") != want or rec[0].get("time_ns") != ts:
    fail("record: time %r, time_ns %r; want %r, %d"
         % (rec[0].get("time"), rec[0].get("time_ns"), want, ts))
print("start lines; counters aligned and as in JSON, at exit and on SIGUSR1;"
      " stream table; time %s" % want)
PY
echo "PASS: $TEST_NAME"
