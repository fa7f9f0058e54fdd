#!/usr/bin/env bash
# userca-enrolld --check as a real preflight (issue 16, item 6): it binds
# both listeners, loads the TLS certificate and key and matches them, finds
# web_root, opens the CA home and its database; on failure it exits 1
# listing every problem, each naming the setting ('[http] listen
# 127.0.0.1:PORT: address already in use', not libmicrohttpd's "port 0").
# A daemon started on a port in use says the same.  After SIGHUP the
# daemon logs "reloaded".
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool openssl

H=$T/pki
ed_home "$H"
WEB=$UC_SRC/web
ed_conf "$T/good.ini" "$H" "[enroll]
web_root = $WEB"
ENROLLD=("$USERCA_ENROLLD")

expect_rc 0 "--check on a good config" "${ENROLLD[@]}" --config "$T/good.ini" --check
check_stdout "--check says what it checked" "^config ok: \[http\] 127.0.0.1:$HTTP_PORT, \[https\] 127.0.0.1:$HTTPS_PORT, web_root .*, CA home $H; CRL "

# Something else on the HTTP port (python holds it while we check).
hold_port() {	# PORT: a listening socket until killed; echoes its pid
	"$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("ready", flush=True); time.sleep(120)' "$1" >"$T/hold.out" 2>&1 &
	HOLD=$!
	for _ in $(seq 50); do grep -q ready "$T/hold.out" && return 0; sleep 0.1; done
	fail "could not hold port $1"
}
hold_port "$HTTP_PORT"
expect_rc 1 "--check: HTTP port in use" "${ENROLLD[@]}" --config "$T/good.ini" --check
check_stderr "names the listener and the reason" "^  \[http\] listen 127.0.0.1:$HTTP_PORT: address already in use$"
check_nogrep "not 'port 0'" "port 0" "$ERR"
expect_rc 1 "the daemon itself, port in use: exit 1" timeout 20 "${ENROLLD[@]}" --config "$T/good.ini"
check_stderr "the daemon names the listener and the reason" "^userca-enrolld: \[http\] listen 127.0.0.1:$HTTP_PORT: address already in use$"
check_nogrep "the daemon does not say 'port 0'" "port 0" "$ERR"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null || true

# A key that is not the certificate's.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/other.key" 2>/dev/null
sed "s|^key = .*|key = $T/other.key|" "$T/good.ini" >"$T/mismatch.ini"
expect_rc 1 "--check: key mismatch" "${ENROLLD[@]}" --config "$T/mismatch.ini" --check
check_stderr "names key and certificate" "^  \[https\] key $T/other.key does not match the certificate $H.tls/tls.crt$"

# A web root that is not there.
sed "s|^web_root = .*|web_root = $T/no-such-web|" "$T/good.ini" >"$T/noweb.ini"
expect_rc 1 "--check: missing web root" "${ENROLLD[@]}" --config "$T/noweb.ini" --check
check_stderr "names web_root" "^  \[enroll\] web_root $T/no-such-web: no such file or directory$"

# All three at once, and a CA home that is not one: every problem listed.
sed -e "s|^web_root = .*|web_root = $T/no-such-web|" -e "s|^key = .*|key = $T/other.key|" \
    -e "s|^home = .*|home = $T/no-such-home|" "$T/good.ini" >"$T/all.ini"
hold_port "$HTTP_PORT"
expect_rc 1 "--check: four problems" "${ENROLLD[@]}" --config "$T/all.ini" --check
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null || true
check_stderr "heading" "^userca-enrolld: --check failed:$"
check_stderr "1/4 port in use" "^  \[http\] listen 127.0.0.1:$HTTP_PORT: address already in use$"
check_stderr "2/4 key mismatch" "^  \[https\] key .* does not match the certificate"
check_stderr "3/4 web root" "^  \[enroll\] web_root $T/no-such-web: no such file"
check_stderr "4/4 CA home" "^  \[ca\] home $T/no-such-home: "
check_eq "exactly four problems listed" "$(grep -c '^  ' "$ERR")" 4

# SIGHUP: "reloaded" in the log.
ed_start d "$T/good.ini"
kill -HUP "${ED_PID[d]}"
for _ in $(seq 50); do grep -q 'reloaded' "$T/d.log" && break; sleep 0.1; done
check_grep "SIGHUP: the daemon logs 'reloaded'" "^userca-enrolld: reloaded \(settings, TLS certificate, public files\)$" "$T/d.log"
ed_stop d

summary
