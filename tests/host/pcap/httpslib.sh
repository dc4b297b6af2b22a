# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
# Sourced after tests/host/nfq/lib.sh and pcap/nfqlib.sh by the tests of
# real HTTPS captured through the hook (pcapng-https.sh, tap-https.sh,
# tap-http2.sh): programs in namespace S run through tlstap-run, the hook
# writes to tlstap-fwd there, which sends to the receiver (job recv) at
# 10.77.1.2:7419 in R1.

# build_hook: the hook's ASan/UBSan build; $RUN is its tlstap-run.
build_hook() {
	make -s -C "$SRC/userhook" SANITIZE=1 >"$TMP/hook-build.log" 2>&1 ||
		fail "userhook build failed: $(tail -n 3 "$TMP/hook-build.log")"
	RUN=$SRC/userhook/build-san/tlstap-run
}

# make_cert: $TMP/cert.pem and $TMP/key.pem, for localhost and its
# addresses.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		>"$TMP/cert.log" 2>&1 || fail "cannot make a certificate"
}

# start_hook_fwd: the hook's config $TMP/tlstap.conf (every capture to
# $TMP/in.sock, on_full = block: the checks want every byte) and
# tlstap-fwd there as job fwd in S, sending to 10.77.1.2:7419; returns
# once the socket exists.
start_hook_fwd() {
	cat >"$TMP/tlstap.conf" <<CONF
global:
  if = $TMP/in.sock
  on_full = block
CONF
	start_bg fwd S "$FWD_BIN/tlstap-fwd" --unix "$TMP/in.sock" --mode 0666 \
		--hash-key "$HASH_KEY" --target 10.77.1.2:7419 --stats-json
	wait_for_file "$TMP/in.sock"
}

# hooked CMD...: CMD in S through tlstap-run and $TMP/tlstap.conf (60 s).
hooked() {
	ip netns exec "$(ns S)" timeout 60 "$RUN" -c "$TMP/tlstap.conf" -- "$@"
}

# wait_listen PORT: until a TCP socket listens on PORT in S (5 s).
wait_listen() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ip netns exec "$(ns S)" ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	fail "nothing listens on TCP port $1 in $(ns S)"
}

# start_s_servers ADDR:PORT...: openssl s_server -WWW in S on each,
# serving the files of $TMP/www (its log $TMP/server-PORT.log); returns
# once they listen.
start_s_servers() {
	local hp
	for hp in "$@"; do
		(cd "$TMP/www" && exec ip netns exec "$(ns S)" timeout 120 openssl \
			s_server -WWW -quiet -accept "$hp" -cert "$TMP/cert.pem" \
			-key "$TMP/key.pem") >"$TMP/server-${hp##*:}.log" 2>&1 &
		BG_PIDS+=("$!")
	done
	for hp in "$@"; do
		wait_listen "${hp##*:}"
	done
}

# drain_fwd: stops tlstap-fwd and waits until the receiver has every
# record it forwarded, $RECORDS of them.
drain_fwd() {
	stop_bg fwd
	RECORDS=$(nfq_stat fwd - records)
	nfq_wait_stat recv - records "$RECORDS"
}

# follow_exchange PCAPNG STREAM PATH: tshark's -z follow,tcp,ascii shows
# TCP stream STREAM of PCAPNG with a GET request for /PATH (an extended
# regular expression) and s_server's response; the text is left in
# $TMP/followSTREAM.txt.
follow_exchange() {
	local text=$TMP/follow$2.txt
	tshark -r "$1" -q -z "follow,tcp,ascii,$2" >"$text" 2>&1 ||
		fail "tshark follow failed: $(tail -n 1 "$text")"
	grep -qE "^GET /$3 HTTP/1.1" "$text" ||
		fail "tshark follow,tcp,ascii,$2 shows no request for /$3"
	grep -q "^HTTP/1.0 200 ok" "$text" ||
		fail "tshark follow,tcp,ascii,$2 shows no response"
}
