# shellcheck shell=bash disable=SC2034  # ED_RC, TIME, BASE_URL: read by the tests
#
# Shared setup for the userca-enrolld integration tests (it_enrolld_*.sh).
# Source it after lib.sh.  Named lib_* so tests/CMakeLists.txt does not run it
# as a test.
#
#   ed_home HOME              scratch EC CA (root + intermediate) whose base URL
#                             is https://127.0.0.1:$HTTPS_PORT, and its TLS
#                             certificate in HOME.tls/ (userca issue-server)
#   ed_conf FILE HOME [INI]   a daemon config for HOME on $HTTP_PORT/$HTTPS_PORT;
#                             INI (text) is appended: more sections/settings
#   ed_start NAME CONF [ENV=V...] [-- WRAPPER...]
#                             start userca-enrolld in the background (log in
#                             $T/NAME.log), wait for /healthz; stops on failure
#   ed_stop NAME              SIGTERM, wait; sets ED_RC (exit status) and
#                             ED_SECS (how long it took)
#   hs|hp PATH [curl args]    one request over HTTPS / plain HTTP to the
#                             daemon: CODE (status), $T/body, $T/hdr, TIME (s)
#   jget FILE KEY             a top-level JSON string/number from FILE
#   hdr NAME                  a response header of the last hs/hp
#
# Ports are picked free (bound once by python, then released) just before
# use; every daemon is stopped by its PID, also when the script stops early.

USERCA_ENROLLD=${USERCA_ENROLLD:-$(dirname "$USERCA")/enroll/userca-enrolld}
# A relative path is relative to where the script was started (lib.sh cd'd).
[[ $USERCA_ENROLLD == */* && $USERCA_ENROLLD != /* ]] && USERCA_ENROLLD=$OLDPWD/$USERCA_ENROLLD
[[ $USERCA_ENROLLD == */* && -e $USERCA_ENROLLD ]] && USERCA_ENROLLD=$(realpath -- "$USERCA_ENROLLD")
[[ -x $USERCA_ENROLLD ]] || skip "userca-enrolld is not built (libmicrohttpd missing?)"
need_tool curl

declare -A ED_PID=()
ED_RC=0
ED_SECS=0

# Stop whatever is still running, then lib.sh's exit handler (keeps $?).
_ed_exit() {
	local rc=$? n
	trap - ERR
	set +e
	for n in "${!ED_PID[@]}"; do
		kill -TERM "${ED_PID[$n]}" 2>/dev/null || true
	done
	for n in "${!ED_PID[@]}"; do
		wait "${ED_PID[$n]}" 2>/dev/null || true
	done
	(exit "$rc")
	_uc_exit
}
trap _ed_exit EXIT


HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
HTTPS=https://127.0.0.1:$HTTPS_PORT
HTTP=http://127.0.0.1:$HTTP_PORT

ed_home() {
	local h=$1
	BASE_URL=$HTTPS		# what the certificates' CRL DP and AIA name
	ca_init "$h" --intermediate --profile modern
	must "issue-server for the daemon ($h)" uc issue-server --home "$h" \
	    --dns localhost --ip 127.0.0.1 --out "$h.tls" --passphrase-file "$PASSFILE"
}

ed_conf() {
	local f=$1 h=$2
	cat >"$f" <<EOF
; userca-enrolld test config
[ca]
home = $h
[http]
listen = 127.0.0.1:$HTTP_PORT
[https]
listen = 127.0.0.1:$HTTPS_PORT
cert = $h.tls/tls.crt
key = $h.tls/tls.key
${3:-}
EOF
}

# ed_start NAME CONF [VAR=VALUE...] [-- WRAPPER ARGS...]
ed_start() {
	local name=$1 conf=$2 i code
	local -a envs=() wrap=()
	shift 2
	while [[ $# -gt 0 ]]; do
		if [[ $1 == -- ]]; then shift; wrap=("$@"); break; fi
		envs+=("$1"); shift
	done
	env ${envs[@]+"${envs[@]}"} ${wrap[@]+"${wrap[@]}"} "$USERCA_ENROLLD" \
	    --config "$conf" >"$T/$name.out" 2>"$T/$name.log" &
	ED_PID[$name]=$!
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "${ED_PID[$name]}" 2>/dev/null; then
			unset "ED_PID[$name]"
			echo "    daemon log:"; sed 's/^/    | /' "$T/$name.log" | head -30
			fail "userca-enrolld ($name) exited at start"
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		    "http://127.0.0.1:$HTTP_PORT/healthz" 2>/dev/null) || true
		[[ $code == 200 || $code == 503 ]] && { pass "daemon $name up (healthz $code)"; return 0; }
		sleep 0.1
	done
	fail "userca-enrolld ($name) did not answer /healthz within 10 s"
}

ed_stop() {
	local name=$1 pid=${ED_PID[$1]:-} t0 t1
	[[ -n $pid ]] || return 0
	t0=$(date +%s.%N)
	kill -TERM "$pid" 2>/dev/null || true
	ED_RC=0
	wait "$pid" || ED_RC=$?
	t1=$(date +%s.%N)
	ED_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	unset "ED_PID[$name]"
	if grep -Eq 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$T/$name.log"; then
		bad "sanitizer report in the daemon log ($name)"
		grep -E 'Sanitizer|runtime error|^ +#[0-9]+ ' "$T/$name.log" | head -20 | sed 's/^/    | /'
	fi
	return 0
}

# _req BASE PATH [curl args]
_req() {
	local base=$1 path=$2 out
	shift 2
	CODE=000
	TIME=0
	: >"$T/body"
	: >"$T/hdr"
	out=$(curl -sS --max-time 30 --cacert "$ED_CACERT" -o "$T/body" -D "$T/hdr" \
	    -w '%{http_code} %{time_total}' "$@" "$base$path" 2>"$T/curl.err") || true
	CODE=${out%% *}
	TIME=${out##* }
	return 0
}
ED_CACERT=/dev/null	# set to HOME/public/ca-bundle.pem by the tests
hs() { _req "$HTTPS" "$@"; }
hp() { _req "$HTTP" "$@"; }

hdr() {	# NAME: value of a header of the last response (case-insensitive)
	awk -v n="$1" 'BEGIN { n = tolower(n) ":" }
	    tolower(substr($0, 1, length(n))) == n { sub(/^[^:]*:[ \t]*/, ""); sub(/\r$/, ""); print; exit }' "$T/hdr"
}

# check_hdr DESC NAME ERE: a header of the last response matches.
check_hdr() {
	local v
	v=$(hdr "$2")
	if grep -Eiq -- "$3" <<<"$v"; then pass "$1"; else bad "$1: $2: '$v' does not match /$3/"; fi
}

jget() {	# FILE KEY
	"$PY" -c 'import json, sys
try:
    v = json.load(open(sys.argv[1])).get(sys.argv[2])
except Exception:
    v = None
print("" if v is None else v)' "$1" "$2"
}

# expect_http DESC WANT_STATUS [WANT_ERROR]: the last response's status and,
# for an error, its JSON {"error": WANT_ERROR}.
expect_http() {
	local d=$1 want=$2 err=${3:-} got
	if [[ $CODE != "$want" ]]; then
		bad "$d: HTTP $CODE, want $want"; head -c 600 "$T/body" | sed 's/^/    | /'; echo
		return 0
	fi
	if [[ -n $err ]]; then
		got=$(jget "$T/body" error)
		if [[ $got != "$err" ]]; then
			bad "$d: HTTP $CODE but error '$got', want '$err'"; head -c 600 "$T/body" | sed 's/^/    | /'; echo
			return 0
		fi
	fi
	pass "$d (HTTP $CODE${err:+ $err})"
}

# new_token HOME USER [EMAIL] [token args]: prints the token (last path segment
# of the URL on line 1); returns 1 (after a message) when userca token fails.
# In $(...) the caller must stop on that: T=$(new_token ...) || fail ...
new_token() {
	local h=$1 u=$2 e=${3:-} url
	shift 2; [[ $# -gt 0 ]] && shift
	url=$(uc token --home "$h" --user "$u" ${e:+--email "$e"} "$@" 2>"$T/token.err" | head -1) || url=""
	if [[ $url != http*/enroll/* ]]; then
		echo "FAIL: userca token --home $h --user $u $*: $(head -c 500 "$T/token.err")" >&2
		return 1
	fi
	printf '%s\n' "${url##*/}"
}

# token_sql TOKEN: the WHERE clause for its row (only its SHA-256 is stored).
token_sql() {
	printf "hex(hash) = '%s'" "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1 | tr a-f A-F)"
}

# crl_number DER_FILE / crl_serials DER_FILE (upper-case hex, one a line)
crl_number() {
	openssl crl -inform DER -in "$1" -noout -crlnumber 2>/dev/null | sed 's/^crlNumber=//; s/^0x//' |
	    while read -r h; do echo $((16#$h)); done
}
crl_serials() {
	openssl crl -inform DER -in "$1" -noout -text 2>/dev/null |
	    sed -n 's/^ *Serial Number: *//p' | norm_serial_lines
}
norm_serial_lines() { tr a-f A-F | sed -e 's/://g' -e 's/^0X//' -e 's/^0*//'; }
crl_next_update() {	# DER_FILE -> Unix seconds
	date -u -d "$(openssl crl -inform DER -in "$1" -noout -nextupdate | sed 's/^nextUpdate=//')" +%s
}

# check_confined NAME WHAT: NAME's log says its network child confined
# itself (Landlock and seccomp, unless a sanitizer build) and no child died
# (seccomp ends one with SIGSYS for a call outside its list): WHAT ran in
# the sandboxed network process of the privilege-separated daemon.
check_confined() {
	if [[ ${USERCA_SANITIZE:-0} == 1 ]]; then
		pass "$2: sanitizer build, seccomp off in the child (documented)"
	else
		check_grep "$2 in the network child under seccomp" \
		    'network child [0-9]+: uid [1-9].*seccomp' "$T/$1.log"
	fi
	check_nogrep "$2: the network child never died" \
	    'network child [0-9]+ (was killed|exited)' "$T/$1.log"
}

# csr_users HOME USER...: each user gets a certificate of HOME from an EC
# CSR, $T/USER.{key,csr,pem,crt} (crt: the leaf alone).
csr_users() {
	local h=$1 u
	shift
	for u in "$@"; do
		new_csr "$T/$u" -subj "/CN=$u"
		must "issue $u" uc issue --home "$h" --user "$u" --csr "$T/$u.csr" --out "$T/$u.pem"
		openssl x509 -in "$T/$u.pem" -out "$T/$u.crt"
	done
}

# ocsp_home USER...: a modern CA home with an intermediate at H=$T/pki whose
# base URL is this test's plain-HTTP listener (so the AIA OCSP URL is
# URL=$HTTP/ocsp), ROOT and ISS its certificates, and csr_users USER...
ocsp_home() {
	H=$T/pki
	BASE_URL=http://127.0.0.1:$HTTP_PORT
	ca_init "$H" --intermediate --profile modern
	ROOT=$H/root/root.crt
	ISS=$H/issuing/ca.crt
	URL=$HTTP/ocsp
	csr_users "$H" "$@"
}
