#!/usr/bin/env bash
# shellcheck disable=SC2034
# The OCSP responder of userca-enrolld (issue 12) with clients we did not
# write:
#   openssl ocsp: good, revoked (reason and time), unknown, another CA's
#   certificate (unauthorized), with and without nonce, SHA-1 and SHA-256
#   CertIDs, three certificates in one request, every answer verified with
#   -CAfile against the root (the delegated responder must chain);
#   curl GET /ocsp/<base64> with and without padding and URL-encoded, its
#   caching headers and 304; GnuTLS ocsptool --ask / --verify-response;
#   nginx with ssl_ocsp leaf and no CRL at all: userca revoke (the CLI, the
#   same database, the daemon running) and, within about a second and
#   without any reload, the revoked user is refused and the others are not;
#   bad input (garbage, truncated, over the body limit, wrong content type);
#   the responder certificate renewed when the daemon starts with its clock
#   (USERCA_NOW) past half its life.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool openssl curl

ocsp_home alice bob carol
run openssl x509 -in "$T/alice.crt" -noout -ext authorityInfoAccess
check_stdout "new certificates carry the AIA OCSP URL" "OCSP - URI:$URL"

# Another CA, not ours.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
    -out "$T/evil.crt" -subj "/CN=Evil CA" -days 30 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/m.key" \
    -out "$T/m.csr" -subj "/CN=alice" 2>/dev/null
openssl x509 -req -in "$T/m.csr" -CA "$T/evil.crt" -CAkey "$T/evil.key" -CAcreateserial \
    -days 30 -out "$T/m.crt" 2>/dev/null || fail "openssl: the other CA's certificate"

cat >"$T/d.ini" <<EOF
[ca]
home = $H
[http]
listen = 127.0.0.1:$HTTP_PORT
[crl]
poll = 1s
EOF
ed_start d "$T/d.ini"
check_file "the responder certificate is in the CA home" "$H/issuing/ocsp.crt"
check_mode "the responder key is 0600" "$H/issuing/ocsp.key" 600
run openssl x509 -in "$H/issuing/ocsp.crt" -noout -ext extendedKeyUsage,noCheck -text
check_stdout "responder EKU OCSP Signing" "OCSP Signing"
check_stdout "responder has id-pkix-ocsp-nocheck" "No Check"

# ocsp WHAT ARGS...: openssl ocsp against the daemon, -CAfile root.
ocsp() {
	local what=$1; shift
	run openssl ocsp -url "$URL" -CAfile "$ROOT" "$@"
	[[ $RC -eq 0 ]] || { bad "$what: openssl ocsp exit $RC"; _show; }
}
ocsp "alice good" -issuer "$ISS" -cert "$T/alice.crt" -resp_text
check_stdout "alice: good" "alice.crt: good"
check_stderr "response verified against the root" "Response verify OK"
check_stdout "nonce echoed" "OCSP Nonce"
check_stdout "nextUpdate present" "Next Update"
ocsp "alice good, SHA-256, no nonce" -issuer "$ISS" -sha256 -cert "$T/alice.crt" -no_nonce -resp_text
check_stdout "SHA-256 CertID: good" "alice.crt: good"
check_stdout "SHA-256 CertID echoed" "Hash Algorithm: sha256"
check_stderr "SHA-256 answer verifies" "Response verify OK"
ocsp "three at once" -issuer "$ISS" -cert "$T/alice.crt" -cert "$T/bob.crt" -serial 0x0123456789ABCDEF
check_stdout "three: alice good" "alice.crt: good"
check_stdout "three: bob good" "bob.crt: good"
check_stdout "three: unknown serial" "0x0123456789ABCDEF: unknown"
ocsp "unknown serial" -issuer "$ISS" -serial 0x42
check_stdout "never issued: unknown" "0x42: unknown"
run openssl ocsp -url "$URL" -issuer "$T/evil.crt" -cert "$T/m.crt" -noverify
check_stdout "another CA's certificate: unauthorized" "unauthorized \(6\)"

must "revoke bob (keyCompromise)" uc revoke --home "$H" --serial "$(cert_serial "$T/bob.crt")" --reason keyCompromise
ocsp "bob revoked" -issuer "$ISS" -cert "$T/bob.crt"
check_stdout "bob: revoked" "bob.crt: revoked"
check_stdout "revocation reason keyCompromise" "Reason: keyCompromise"
check_stdout "revocation time" "Revocation Time: "
ocsp "bob revoked, SHA-1, no nonce" -issuer "$ISS" -cert "$T/bob.crt" -no_nonce
check_stdout "bob: revoked without nonce" "bob.crt: revoked"

# ---- GET (RFC 6960 appendix A) ----
openssl ocsp -issuer "$ISS" -cert "$T/alice.crt" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1
B64=$(base64 -w0 "$T/req.der")
enc() { "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
getcheck() {	# DESC PATH-SUFFIX
	CODE=$(curl -sS -o "$T/get.der" -D "$T/hdr" -w '%{http_code}' "$URL/$2")
	check_eq "$1: HTTP 200" "$CODE" 200
	run openssl ocsp -respin "$T/get.der" -issuer "$ISS" -cert "$T/alice.crt" -CAfile "$ROOT"
	check_stdout "$1: good" "alice.crt: good"
}
getcheck "GET url-encoded base64" "$(enc "$B64")"
getcheck "GET without padding" "$(enc "${B64%%=*}")"
getcheck "GET raw base64" "$B64"
check_grep "GET: Cache-Control max-age <= 60" '^cache-control: public, max-age=([0-9]|[1-5][0-9]|60),' "$T/hdr"
check_grep "GET: ETag" '^etag: "' "$T/hdr"
check_grep "GET: Last-Modified" '^last-modified: ' "$T/hdr"
ETAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$T/hdr" | tr -d '\r')
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/$(enc "$B64")")
check_eq "GET with If-None-Match: 304" "$CODE" 304
CODE=$(curl -sS -o /dev/null -D "$T/hdr" -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$T/req.der" "$URL")
check_eq "POST nonce-less: 200" "$CODE" 200
openssl ocsp -issuer "$ISS" -cert "$T/alice.crt" -reqout "$T/reqn.der" >/dev/null 2>&1
CODE=$(curl -sS -o /dev/null -D "$T/hdr" -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$T/reqn.der" "$URL")
check_grep "POST with nonce: never cached" '^cache-control: no-cache' "$T/hdr"

# ---- bad input ----
badcheck() {	# DESC WANT-HTTP WANT-OCSP-STATUS curl-args...
	local d=$1 want=$2 st=$3; shift 3
	CODE=$(curl -sS -o "$T/bad.der" -w '%{http_code}' "$@")
	check_eq "$d: HTTP $want" "$CODE" "$want"
	if [[ $st != - ]]; then
		run openssl ocsp -respin "$T/bad.der" -resp_text -noverify
		check_stdout "$d: $st" "$st"
	elif [[ $want -ge 400 ]]; then
		# HTTP errors are the daemon's JSON, like every other route's.
		check "$d: a JSON {\"error\": ...} body" "$PY" -c '
import json, sys
assert isinstance(json.load(open(sys.argv[1]))["error"], str)' "$T/bad.der"
	fi
}
head -c 300 /dev/urandom >"$T/garbage"
head -c 20 "$T/req.der" >"$T/trunc"
head -c 200000 /dev/zero >"$T/huge"
badcheck "garbage POST" 200 "malformedrequest" -H 'Content-Type: application/ocsp-request' --data-binary @"$T/garbage" "$URL"
badcheck "truncated POST" 200 "malformedrequest" -H 'Content-Type: application/ocsp-request' --data-binary @"$T/trunc" "$URL"
badcheck "over-limit body" 413 - -H 'Content-Type: application/ocsp-request' --data-binary @"$T/huge" "$URL"
badcheck "wrong content type" 415 - -H 'Content-Type: text/plain' --data-binary @"$T/req.der" "$URL"
badcheck "GET of non-base64" 200 "malformedrequest" "$URL/not*base64!"
badcheck "GET /ocsp" 405 - "$URL"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP/healthz")
check_eq "daemon still healthy after bad input" "$CODE" 200

# ---- GnuTLS ocsptool ----
if command -v ocsptool >/dev/null; then
	# GnuTLS takes the CA that issued the certificate as the OCSP trust
	# anchor (the delegated responder is one level below it).
	for u in alice bob; do
		want=good; [[ $u == bob ]] && want=revoked
		run ocsptool --ask="$URL" --load-issuer="$ISS" --load-cert="$T/$u.crt" \
		    --load-trust="$ISS" --outfile="$T/gnutls-$u.der"
		check_stdout "ocsptool --ask $u: $want" "Certificate Status: $want"
		check_stdout "ocsptool --ask $u: verified" "Verifying OCSP Response: Success"
		run ocsptool --verify-response --load-trust="$ISS" --infile="$T/gnutls-$u.der"
		check_stdout "ocsptool --verify-response $u" "Verifying OCSP Response: Success"
	done
else
	echo "NOTE: ocsptool (gnutls-bin) missing: GnuTLS client not tested"
fi

# ---- metrics and health ----
run curl -sS "$HTTP/metrics"
check_stdout "metrics: OCSP responses by status" 'userca_ocsp_responses_total\{status="successful"\} [1-9]'
check_stdout "metrics: malformed requests counted" 'userca_ocsp_responses_total\{status="malformedRequest"\} [1-9]'
check_stdout "metrics: responder lifetime" 'userca_ocsp_responder_expiry_seconds [1-9]'

# ---- nginx: ssl_ocsp leaf, no CRL; a revocation is seen within a second ----
NGINX=${NGINX:-/usr/sbin/nginx}
if [[ -x $NGINX ]]; then
	must "issue-server for nginx" uc issue-server --home "$H" --dns localhost --ip 127.0.0.1 \
	    --out "$T/tls" --passphrase-file "$PASSFILE"
	NX=$T/nx; NX_PORT=$(free_port); UP_PORT=$(free_port)
	mkdir -p "$NX/tmp"
	"$PY" -m http.server "$UP_PORT" --bind 127.0.0.1 --directory "$NX/tmp" >/dev/null 2>&1 &
	ED_PID[up]=$!
	cat >"$NX/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $NX/nginx.pid;
error_log $NX/error.log info;
events { worker_connections 64; }
http {
    access_log $NX/access.log;
    client_body_temp_path $NX/tmp/body;
    proxy_temp_path $NX/tmp/proxy;
    fastcgi_temp_path $NX/tmp/fastcgi;
    uwsgi_temp_path $NX/tmp/uwsgi;
    scgi_temp_path $NX/tmp/scgi;
    server {
        listen 127.0.0.1:$NX_PORT ssl;
        ssl_certificate $T/tls/tls.crt;
        ssl_certificate_key $T/tls/tls.key;
        ssl_client_certificate $H/public/ca-bundle.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_ocsp leaf;
        ssl_ocsp_responder $URL;
        location / { return 200 "ok\n"; }
    }
}
EOF
	"$NGINX" -p "$NX" -c "$NX/nginx.conf" -e stderr 2>>"$NX/stderr.log" &
	ED_PID[nginx]=$!
	for ((i = 0; i < 50; i++)); do
		curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$NX_PORT/" && break
		sleep 0.1
	done
	nreq() { curl -s --max-time 5 --cacert "$H/public/ca-bundle.pem" --cert "$T/$1.crt" \
	    --key "$T/$1.key" -o /dev/null -w '%{http_code}' "https://localhost:$NX_PORT/" --resolve "localhost:$NX_PORT:127.0.0.1"; }
	TT_A1=$(nreq alice); TT_C1=$(nreq carol); TT_B1=$(nreq bob)
	check_eq "nginx: alice (good) 200" "$TT_A1" 200
	check_eq "nginx: carol (good) 200" "$TT_C1" 200
	check_eq "nginx: bob (revoked before) refused" "$TT_B1" 400
	NWORKERS=$(grep -c 'start worker process' "$NX/error.log" || true)
	must "revoke alice while nginx and the daemon run" uc revoke --home "$H" \
	    --serial "$(cert_serial "$T/alice.crt")" --reason superseded
	t0=$(date +%s.%N)
	TT_A2=000
	for ((i = 0; i < 40; i++)); do
		TT_A2=$(nreq alice)
		[[ $TT_A2 == 400 ]] && break
		sleep 0.05
	done
	t1=$(date +%s.%N)
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	check_eq "nginx: alice refused after revoke" "$TT_A2" 400
	check_cond "nginx: refused within a second ($SECS s)" 'awk -v s="$SECS" "BEGIN { exit !(s < 1.0) }"'
	TT_C2=$(nreq carol)
	check_eq "nginx: carol still 200" "$TT_C2" 200
	check_eq "nginx: no reload happened" "$(grep -c 'start worker process' "$NX/error.log" || true)" "$NWORKERS"
	echo "truth table (nginx ssl_ocsp leaf, no CRL):"
	printf '  %-28s %s\n' "alice before revoke" "$TT_A1" "carol before" "$TT_C1" \
	    "bob (revoked earlier)" "$TT_B1" "alice after revoke ($SECS s)" "$TT_A2" "carol after" "$TT_C2"
	kill -TERM "${ED_PID[nginx]}"; wait "${ED_PID[nginx]}" 2>/dev/null || true; unset "ED_PID[nginx]"
	kill -TERM "${ED_PID[up]}"; wait "${ED_PID[up]}" 2>/dev/null || true; unset "ED_PID[up]"
else
	echo "NOTE: nginx missing: the gateway part is not tested"
fi

# ---- responder renewal on the test clock ----
ed_stop d
OLD=$(cert_serial "$H/issuing/ocsp.crt")
if [[ ${USERCA_TEST_CLOCK:-0} == 1 ]]; then
	ed_start d2 "$T/d.ini" USERCA_NOW=$(($(date +%s) + 4 * 86400))
	NEW=$(cert_serial "$H/issuing/ocsp.crt")
	check_ne "responder renewed past half its life" "$NEW" "$OLD"
	run openssl x509 -in "$H/issuing/ocsp.crt" -noout -startdate
	check_stdout "renewed responder starts on the test clock" "notBefore=$(date -u -d @$(($(date +%s) + 4 * 86400)) '+%b %e')"
	check_mode "renewed key still 0600" "$H/issuing/ocsp.key" 600
	ed_stop d2
fi
summary
