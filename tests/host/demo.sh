#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/demo refuses a TLSTAP_DEMO_DIR that is not its own (a directory
# with a file of someone else's, a symbolic link, a file), touching
# nothing and saying why. make demo, twice (it must clean up after itself
# and run again), the first time into an empty directory, which it uses,
# the second into the directory it marked: it checks only the packages
# to run and build (scripts/install-deps run build); its output holds, for curl and for wget, the HTTP request line they sent and
# the response they got, as decoded records labelled with the program;
# it says which capture path it took (on a kernel without modules:
# tlstap-fwd, and why); the pcapng it names is read by tshark, which
# follows both TCP connections and shows request and response; afterwards
# no process, namespace or nft table of the demo is left.
set -euo pipefail
# shellcheck source=tests/host/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
command -v tshark >/dev/null || fail "tshark is not installed"
T=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
TEST_TMP=$T

# refused DIR WHY: scripts/demo with TLSTAP_DEMO_DIR=DIR fails at once,
# saying WHY.
refused() {
	local rc=0
	TLSTAP_DEMO_DIR=$1 timeout 60 "$SRC/scripts/demo" --no-deps --no-build >"$T/refused.out" 2>&1 || rc=$?
	[ $rc = 1 ] || fail "TLSTAP_DEMO_DIR=$1: exit $rc, not 1 (refused): $(tail -n1 "$T/refused.out")"
	grep -q "^demo: $1 $2" "$T/refused.out" || fail "TLSTAP_DEMO_DIR=$1: no '$2': $(tail -n1 "$T/refused.out")"
}
mkdir "$T/mine"
echo "someone's file" >"$T/mine/notes.txt"
refused "$T/mine" "has files and no .tlstap-demo"
if [ "$(cat "$T/mine/notes.txt" 2>/dev/null)" != "someone's file" ] || [ "$(ls -A "$T/mine")" != notes.txt ]; then
	fail "the demo changed a directory that was not its own"
fi
echo "someone's file" >"$T/file"
refused "$T/file" "exists and is not a directory"
[ "$(cat "$T/file")" = "someone's file" ] || fail "the demo changed a file named by TLSTAP_DEMO_DIR"
mkdir "$T/marked"
echo "made by tlstap's scripts/demo" >"$T/marked/.tlstap-demo"
echo "kept" >"$T/marked/kept.txt"
ln -s "$T/marked" "$T/link"
refused "$T/link" "is a symbolic link"
if [ ! -L "$T/link" ] || [ "$(cat "$T/marked/kept.txt" 2>/dev/null)" != kept ]; then
	fail "the demo followed or removed a symbolic link"
fi
echo "refused: a directory with a file of its own, a file, a symbolic link"

export TLSTAP_DEMO_DIR=$T/demo
mkdir "$TLSTAP_DEMO_DIR"
for round in 1 2; do
	timeout 240 make -s -C "$SRC" demo >"$T/demo$round.out" 2>&1 ||
		fail "make demo (round $round) failed: $(tail -n1 "$T/demo$round.out")"
	out=$T/demo$round.out
	grep -q '^deps: all [0-9]* packages of run, build are installed$' "$out" ||
		fail "round $round: the demo did not check the packages of run and build only (scripts/install-deps run build)"
	[ -f "$TLSTAP_DEMO_DIR/.tlstap-demo" ] || fail "round $round: the demo did not mark $TLSTAP_DEMO_DIR"
	for prog in curl wget; do
		grep -q "^{\"type\": \"data\", \"program\": \"$prog\", .*\"dir\": \"write\", .*\"text\": \"GET /index.html HTTP/1.1\\\\r\\\\n" "$out" ||
			fail "round $round: no request line of $prog in the output"
		grep -q "^{\"type\": \"data\", \"program\": \"$prog\", .*\"dir\": \"read\", .*\"text\": \"HTTP/1.0 200 ok\\\\r\\\\n.*Hello from the tlstap demo" "$out" ||
			fail "round $round: no response to $prog in the output"
	done
	if [ -e /proc/modules ]; then
		grep -q '^demo: capture path: ' "$out" || fail "the demo does not say which capture path it took"
	else
		grep -q '^demo: capture path: tlstap-fwd, .* because this kernel .* cannot load modules' "$out" ||
			fail "the demo does not say that it uses tlstap-fwd and why"
	fi
	pcap=$(sed -n 's/^demo: pcapng: \([^ ]*\) .*/\1/p' "$out")
	[ -n "$pcap" ] && [ -s "$pcap" ] || fail "round $round: the demo names no pcapng, or an empty one"
	for stream in 0 1; do
		tshark -r "$pcap" -q -z "follow,tcp,ascii,$stream" >"$T/follow$stream.txt" 2>&1 ||
			fail "tshark cannot read $pcap: $(tail -n1 "$T/follow$stream.txt")"
		grep -q '^GET /index.html HTTP/1.1' "$T/follow$stream.txt" ||
			fail "tshark shows no request in TCP stream $stream"
		grep -q '^HTTP/1.0 200 ok' "$T/follow$stream.txt" ||
			fail "tshark shows no response in TCP stream $stream"
	done
	agents=$(tshark -r "$pcap" -Y http.request -T fields -e http.user_agent 2>/dev/null | sort | tr '\n' ' ')
	case $agents in
	"Wget/"*"curl/"* | "curl/"*"Wget/"*) ;;
	*) fail "tshark's HTTP requests are not curl's and wget's: $agents" ;;
	esac
	left=$(ps -eo args | grep -E "^(openssl s_server|$SRC/nfq-tools/build/tlstap-)" | grep -F "$TLSTAP_DEMO_DIR" || true)
	[ -z "$left" ] || fail "round $round: left running: $left"
	! ip netns list | grep -q '^tlstap-demo-' || fail "round $round: a tlstap-demo namespace is left"
	! nft list table inet tlstap >/dev/null 2>&1 || fail "round $round: nft table inet tlstap left in this namespace"
	echo "round $round: $(grep '^demo: capture path' "$out" | cut -c1-90)..."
done
echo "PASS $TEST_NAME"
