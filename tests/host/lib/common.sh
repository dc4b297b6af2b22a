# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Sourced, not run: the start and the end of every host test, directly or
# through hook/lib.sh, nfq/lib.sh and secfwd/lib.sh.
#
# Gives: $SRC (the checkout), $TEST_NAME, fail, wait_path, and the
# cleanup at exit (also on SIGINT/SIGTERM): every pid in BG_PIDS is
# continued (it may be stopped), sent SIGTERM and waited for, every
# namespace in NS_LIST is deleted, and the directory $TEST_TMP, when set,
# removed (kept and named with KEEP_TMP=1). A test with more to undo sets its own EXIT trap and
# calls cleanup_test from it.

# shellcheck disable=SC2034  # used by the sourcing script
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
TEST_NAME=$(basename "$0" .sh)
BG_PIDS=()
NS_LIST=()
TEST_TMP=

fail() {
	echo "FAIL $TEST_NAME: $*"
	exit 1
}

# wait_path SECONDS PATH: until PATH exists (true), or false after SECONDS.
wait_path() {
	local i
	for ((i = 0; i < $1 * 20; i++)); do
		[ -e "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# Every command may fail here (and set -e must not end the cleanup early):
# what is gone already is fine.
cleanup_test() {
	local p ns
	for p in "${BG_PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	for ns in "${NS_LIST[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -n "$TEST_TMP" ] || return 0
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "kept $TEST_TMP"
	else
		rm -rf "$TEST_TMP"
	fi
}
trap cleanup_test EXIT
trap 'exit 1' INT TERM
