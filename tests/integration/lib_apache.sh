# shellcheck shell=bash disable=SC2034,SC2178,SC2004  # CODE, CURL_RC: read by the tests; _ap_pids: a nameref to an associative array
#
# A real Apache httpd (Debian's /usr/sbin/apache2, mod_ssl) for the gateway
# tests: its own ServerRoot and config in the scratch folder, 127.0.0.1 on a
# port of its own, run in the foreground in the background (-D FOREGROUND),
# stopped by its PID; no system service, nothing under /etc/apache2 is read.
# Source it after lib.sh.  Named lib_* so tests/CMakeLists.txt does not run
# it as a test.
#
#   AP_PIDS_VAR               name of the test's associative array of PIDs its
#                             exit handler stops (default ED_PID, lib_enrolld)
#   ap_need                   apache2 and its modules installed: or skip (77),
#                             or, when CI=true, fail
#   ap_have                   the same, but returns 1 (AP_WHY says why)
#                             instead of skipping; CI=true still fails
#   ap_upstream NAME          a python HTTP server on 127.0.0.1 that answers
#                             every GET with 200 and the X-SSL-Client-*
#                             headers it got as the body; AP_UP_PORT
#   ap_snippet SRC GWDIR OUT  the generated public/gateway/apache-userca.conf,
#                             /etc/userca-gateway -> GWDIR, nothing else
#   ap_conf NAME PORT GWDIR [SNIPPET]
#                             $T/NAME/ (ServerRoot) with httpd.conf: TLS on
#                             127.0.0.1:PORT with $T/tls/tls.{crt,key},
#                             Include SNIPPET (default: ap_snippet of $H's),
#                             ProxyPass / to the upstream
#   ap_start NAME PORT [ENV=V...]
#                             start it, wait until it answers TLS
#   ap_graceful NAME          a graceful restart (apachectl graceful: -t, then
#                             SIGUSR1), wait for the new generation
#   ap_reload_cmd NAME        that, as a shell command (for --reload)
#   ap_stop NAME              SIGTERM by PID, wait
#   ap_cert WHO CURL_ARGS...  how curl presents WHO's client certificate
#                             (--cert F --key K, or --cert F.p12:PW --cert-type P12)
#   ap_req WHO PORT [curl args]
#                             one request with WHO's client certificate (or
#                             none: WHO "-"): CODE ("000" when the TLS
#                             handshake is refused: curl exit 35 or 56;
#                             else "curl exit N: ..."), CURL_RC, $T/body

APACHE2=${APACHE2:-/usr/sbin/apache2}
AP_MODULES=${AP_MODULES:-/usr/lib/apache2/modules}
AP_PIDS_VAR=${AP_PIDS_VAR:-ED_PID}
declare -A AP_CERT=()
AP_UP_PORT=

ap_have() {
	local m
	AP_WHY=
	if [[ ! -x $APACHE2 ]]; then
		AP_WHY="Apache httpd is not installed ($APACHE2; Debian: apache2, scripts/deps installs it)"
	else
		for m in mpm_event ssl socache_shmcb headers proxy proxy_http authz_core; do
			[[ -f $AP_MODULES/mod_$m.so ]] || { AP_WHY="Apache module mod_$m is missing ($AP_MODULES/mod_$m.so)"; break; }
		done
	fi
	[[ -z $AP_WHY ]] && return 0
	if [[ ${CI:-} == true ]]; then
		fail "$AP_WHY (CI=true: a missing Apache is a failure, not a skip)"
	fi
	return 1
}
ap_need() { ap_have || skip "$AP_WHY"; }

ap_upstream() {
	local -n _ap_pids=$AP_PIDS_VAR
	local i
		AP_UP_PORT=$(free_port)
	"$PY" "$HERE/echo_headers.py" "$AP_UP_PORT" 2>"$T/$1.log" &
	_ap_pids[$1]=$!
	for ((i = 0; i < 50; i++)); do
		curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$AP_UP_PORT/" && return 0
		sleep 0.1
	done
	fail "the Apache upstream (python echo) does not answer on port $AP_UP_PORT"
}

# The generated snippet as it is, with /etc/userca-gateway pointed at GWDIR:
# nothing else is changed, so a snippet that stops failing closed (e.g.
# "SSLCARevocationCheck chain no_crl_for_cert_ok", which lets a revoked user
# in while the issuing CRL is missing) fails the tests that use it.
# AP_CRL_ONLY=1 also drops the SSLOCSP* lines, for tests of the CRL path
# alone whose CA has no responder to ask (OCSP fails closed: it_ocsp).
ap_snippet() {
	local src=$1 gw=$2 out=$3
	if [[ ${AP_CRL_ONLY:-0} == 1 ]]; then
		sed -e "s|/etc/userca-gateway|$gw|g" -e '/^[[:space:]]*SSLOCSP/d' "$src" >"$out"
	else
		sed -e "s|/etc/userca-gateway|$gw|g" "$src" >"$out"
	fi
}

ap_conf() {
	local name=$1 port=$2 gw=$3 snippet=${4:-} d=$T/$1 user=
	mkdir -p "$d/logs" "$d/run"
	if [[ -z $snippet ]]; then
		snippet=$d/userca.conf
		ap_snippet "$H/public/gateway/apache-userca.conf" "$gw" "$snippet"
	fi
	# As root, the children run as nobody (Apache refuses to serve as
	# root); they only talk to the upstream, read no file.
	[[ $(id -u) -eq 0 ]] && user="User #65534
Group #65534"
	cat >"$d/httpd.conf" <<EOF
ServerRoot "$d"
DefaultRuntimeDir "$d/run"
PidFile "$d/run/httpd.pid"
Mutex file:$d/run default
ErrorLog "$d/logs/error.log"
LogLevel notice ssl:info
$user
LoadModule mpm_event_module $AP_MODULES/mod_mpm_event.so
LoadModule authz_core_module $AP_MODULES/mod_authz_core.so
LoadModule socache_shmcb_module $AP_MODULES/mod_socache_shmcb.so
LoadModule ssl_module $AP_MODULES/mod_ssl.so
LoadModule headers_module $AP_MODULES/mod_headers.so
LoadModule proxy_module $AP_MODULES/mod_proxy.so
LoadModule proxy_http_module $AP_MODULES/mod_proxy_http.so
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
ServerName localhost
Listen 127.0.0.1:$port
SSLSessionCache "shmcb:$d/run/ssl_scache(512000)"
LogFormat "%h %{SSL_CLIENT_S_DN}x %{SSL_CLIENT_VERIFY}x \"%r\" %>s" uc
<VirtualHost 127.0.0.1:$port>
    ServerName localhost
    CustomLog "$d/logs/access.log" uc
    SSLEngine on
    SSLCertificateFile $T/tls/tls.crt
    SSLCertificateKeyFile $T/tls/tls.key
    Include $snippet
    <Location />
        Require all granted
    </Location>
    ProxyPass / http://127.0.0.1:$AP_UP_PORT/
</VirtualHost>
EOF
}

# generations NAME: how many times it (re)started
ap_generations() { grep -c 'resuming normal operations' "$T/$1/logs/error.log" 2>/dev/null || echo 0; }

ap_start() {
	local -n _ap_pids=$AP_PIDS_VAR
	local name=$1 port=$2 i rc
	shift 2
	env "$@" "$APACHE2" -f "$T/$name/httpd.conf" -D FOREGROUND 2>>"$T/$name/logs/stderr.log" &
	_ap_pids[$name]=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "${_ap_pids[$name]}" 2>/dev/null || {
			unset "_ap_pids[$name]"
			tail -5 "$T/$name/logs/stderr.log" "$T/$name/logs/error.log" 2>/dev/null | sed 's/^/    | /'
			fail "apache2 ($name) exited at start"
		}
		# up: it takes the connection (the handshake fails without a
		# client certificate: curl exits 35 or 56, not 7 or 28)
		rc=0
		curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$port/" 2>/dev/null || rc=$?
		[[ $rc != 7 && $rc != 28 && -s $T/$name/run/httpd.pid ]] &&
		    { pass "apache2 ($name) up on port $port"; return 0; }
		sleep 0.1
	done
	fail "apache2 ($name) does not answer on port $port"
}

# A script, so that userca-gateway-sync's --reload can run it: what
# apachectl graceful does (apache2 -t, then SIGUSR1 to the parent), then
# wait (5 s at most) for the new generation to be up.  Not "apache2 -k
# graceful": that starts a daemon of its own when ours is not running (yet).
_ap_reload_script() {
	local name=$1 f=$T/$1/graceful.sh
	[[ -x $f ]] && return 0
	cat >"$f" <<EOF
#!/bin/sh
log='$T/$name/logs/error.log'
pid=\$(cat '$T/$name/run/httpd.pid' 2>/dev/null) || pid=
if [ -z "\$pid" ] || ! kill -0 "\$pid" 2>/dev/null; then
	echo "apache2 ($name) is not running: nothing to reload" >&2
	exit 0
fi
'$APACHE2' -f '$T/$name/httpd.conf' -t 2>>'$T/$name/logs/stderr.log' || exit 1
n=\$(grep -c 'resuming normal operations' "\$log")
kill -USR1 "\$pid" || exit 1
i=0
while [ \$i -lt 50 ]; do
	[ "\$(grep -c 'resuming normal operations' "\$log")" -gt "\$n" ] && { sleep 0.3; exit 0; }
	sleep 0.1
	i=\$((i + 1))
done
echo "apache2 ($name): no new generation 5 s after SIGUSR1 (graceful)" >&2
exit 1
EOF
	chmod 755 "$f"
}
ap_reload_cmd() { _ap_reload_script "$1"; printf "'%s'" "$T/$1/graceful.sh"; }
ap_graceful() {
	_ap_reload_script "$1"
	"$T/$1/graceful.sh" || bad "apache2 ($1) did not restart gracefully"
}

ap_stop() {
	local -n _ap_pids=$AP_PIDS_VAR
	local pid=${_ap_pids[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "_ap_pids[$1]"
}

ap_cert() {
	local who=$1
	shift
	AP_CERT[$who]=$(printf '%q ' "$@")
}

ap_req() {
	local who=$1 port=$2
	shift 2
	local -a c=()
	if [[ $who != - ]]; then
		[[ -n ${AP_CERT[$who]:-} ]] || fail "ap_req: no client certificate for '$who' in AP_CERT"
		eval "c=(${AP_CERT[$who]})"
	fi
	rm -f "$T/body"
	: >"$T/body"
	CURL_RC=0
	CODE=$(curl -sS --max-time 10 --cacert "$H/public/ca-bundle.pem" -o "$T/body" -w '%{http_code}' \
	    "${c[@]}" "$@" "https://127.0.0.1:$port/" 2>"$T/curl.err") || CURL_RC=$?
	[[ -n $CODE ]] || CODE=000
	# 000 is a refusal only when the server ended the handshake (TLS
	# alert: curl 35 or 56), not when curl could not load the
	# certificate (58), connect (7) or timed out (28).
	if [[ $CODE == 000 && $CURL_RC != 35 && $CURL_RC != 56 ]]; then
		CODE="curl exit $CURL_RC: $(head -c 200 "$T/curl.err" | tr '\n' ' ')"
	fi
}
