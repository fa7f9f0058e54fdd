#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# EST (RFC 7030) on userca-enrolld's [est] listener, with clients we did not
# write:
#   strongSwan pki --est (its own TLS 1.2 stack): enrollment with --userpass
#   user:token (identity from the token), re-enrollment with the old
#   certificate and key (TLS client certificate), then the old certificate's
#   status on the CRL and over OCSP: valid with [renew] revoke_old off,
#   revoked (superseded) with it on;
#   curl + openssl for each endpoint's wire format: cacerts and simpleenroll
#   (certs-only PKCS#7, base64, Content-Transfer-Encoding), csrattrs
#   (application/csrattrs, asn1parse), 401 + WWW-Authenticate without
#   credentials, a wrong user or token, a used token (403), a bad body and a
#   weak key (400), all plain text, never JSON, no row, token unused;
#   simpleenroll by a client certificate (one more for its user, nothing
#   superseded), simplereenroll by a certificate of another CA and by a
#   revoked one refused; EST is not served on the [https] listener;
#   [renew] refuse_early: refused before [renew] window, then allowed.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool pki curl

H=$T/pki
DB=$H/userca.db
ed_home "$H"
EST_PORT=$(free_port)
EST=https://127.0.0.1:$EST_PORT
ed_conf "$T/d.ini" "$H" "[est]
listen = 127.0.0.1:$EST_PORT
[crl]
poll = 1s"
ed_start d "$T/d.ini"
# --check names the [est] listener when its port is taken (by d itself).
run "$USERCA_ENROLLD" --config "$T/d.ini" --check
check_ne "--check with the [est] port taken: fails" "$RC" 0
check_stderr "--check names [est] listen" '\[est\] listen 127\.0\.0\.1:'
ROOT=$H/root/root.crt
ISS=$H/issuing/ca.crt
openssl x509 -in "$ROOT" -outform DER -out "$T/root.der"
openssl x509 -in "$ISS" -outform DER -out "$T/iss.der"
CA=$H/public/ca-bundle.pem
WK=$EST/.well-known/est

tok() { new_token "$H" "$@" || fail "userca token $*"; }
used_at() { sqlite3 "$DB" "select ifnull(used_at, 'NULL') from tokens where $(token_sql "$1")"; }
rows() { sqlite3 "$DB" "select count(*) from certificates where kind = 'user'"; }
status_of() { sqlite3 "$DB" "select status from certificates where serial = '$1'"; }
# est PATH [curl args]: CODE, $T/body, $T/hdr
est() {
	local p=$1; shift
	CODE=$(curl -sS --cacert "$CA" -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" "$WK/$p" 2>"$ERR") || CODE=000
}
hdr() { tr -d '\r' <"$T/hdr" | sed -n "s/^$1: //Ip" | head -1; }
# p7_cert: the first certificate of the base64 certs-only body into $1
p7_cert() {
	openssl base64 -d -A -in "$T/body" -out "$T/body.der" &&
	    openssl pkcs7 -inform DER -in "$T/body.der" -print_certs -out "$1" 2>/dev/null
}
not_json() { check_cond "$1: not JSON" '! "$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$T/body" 2>/dev/null'; }
pkiest() {	# OUT [args]
	local o=$1; shift
	RC=0
	pki --est --url "$EST" --cacert "$T/root.der" --cacert "$T/iss.der" "$@" >"$o" 2>"$ERR" || RC=$?
}
ocsp_status() {	# CERT.pem -> good/revoked
	openssl ocsp -url "$HTTP/ocsp" -issuer "$ISS" -cert "$1" -CAfile "$ROOT" 2>/dev/null |
	    sed -n 's/^.*: \(good\|revoked\|unknown\)$/\1/p' | head -1
}
on_crl() {	# SERIAL -> yes/no (the published CRL, as the daemon re-signs it)
	curl -sS -o "$T/crl.der" "$HTTP/crl.der"
	if openssl crl -inform DER -in "$T/crl.der" -noout -text | tr -d ' ' | grep -qi "SerialNumber:$1\$"; then
		echo yes
	else
		echo no
	fi
}

# ---- cacerts, csrattrs --------------------------------------------------------------------
est cacerts
check_eq "cacerts: 200" "$CODE" 200
check_eq "cacerts: certs-only PKCS#7" "$(hdr Content-Type)" "application/pkcs7-mime; smime-type=certs-only"
check_eq "cacerts: Content-Transfer-Encoding base64" "$(hdr Content-Transfer-Encoding)" base64
openssl base64 -d -A -in "$T/body" | openssl pkcs7 -inform DER -print_certs -noout >"$OUT" 2>&1 || true
check_stdout "cacerts: the issuing CA" "subject=.*Issuing CA"
check_stdout "cacerts: the root" "subject=.*Root CA"
est csrattrs
check_eq "csrattrs: 200" "$CODE" 200
check_eq "csrattrs: application/csrattrs" "$(hdr Content-Type)" application/csrattrs
openssl base64 -d -A -in "$T/body" | openssl asn1parse -inform DER >"$OUT" 2>&1 || true
check_stdout "csrattrs: id-ecPublicKey (modern profile)" "OBJECT +:id-ecPublicKey"
check_stdout "csrattrs: P-256" "OBJECT +:prime256v1"
check_stdout "csrattrs: ecdsa-with-SHA256" "OBJECT +:ecdsa-with-SHA256"
CODE=$(curl -sS --cacert "$CA" -o "$T/body" -w '%{http_code}' "$HTTPS/.well-known/est/cacerts")
check_eq "EST is not on the [https] listener" "$CODE" 404

# ---- strongSwan pki --est ----------------------------------------------------------------------
TA=$(tok alice)
pki --gen --type ecdsa --size 256 >"$T/a.key" 2>/dev/null
pki --req --in "$T/a.key" --type ecdsa --dn "CN=mallory" >"$T/a.csr" 2>/dev/null
N=$(rows)
pkiest "$T/a.der" --in "$T/a.csr" --userpass "alice:$TA"
check_eq "pki --est --userpass: exit 0" "$RC" 0
openssl x509 -inform DER -in "$T/a.der" -out "$T/a.pem" 2>/dev/null || true
run openssl x509 -in "$T/a.pem" -noout -subject
check_stdout "pki --est: identity from the token (alice, not mallory)" "CN ?= ?alice"
A1=$(cert_serial "$T/a.pem")
check_eq "pki --est: recorded as est" "$(sqlite3 "$DB" "select method from certificates where serial = '$A1'")" est
check_cond "pki --est: token consumed" '[[ $(used_at "$TA") != NULL ]]'
pkiest "$T/a-again.der" --in "$T/a.csr" --userpass "alice:$TA"
check_ne "pki --est with the used token: refused" "$RC" 0
check_eq "one row" "$(rows)" $((N + 1))

# Re-enrollment with the old certificate and key: [renew] revoke_old off.
pki --gen --type ecdsa --size 256 >"$T/a2.key" 2>/dev/null
pki --req --in "$T/a2.key" --type ecdsa --dn "CN=x" >"$T/a2.csr" 2>/dev/null
pkiest "$T/a2.der" --in "$T/a2.csr" --cert "$T/a.der" --key "$T/a.key"
check_eq "pki --est re-enrollment (--cert/--key): exit 0" "$RC" 0
openssl x509 -inform DER -in "$T/a2.der" -out "$T/a2.pem" 2>/dev/null || true
A2=$(cert_serial "$T/a2.pem")
run openssl x509 -in "$T/a2.pem" -noout -subject
check_stdout "re-enrollment: alice again" "CN ?= ?alice"
check_eq "re-enrollment: the new key" "$(pubkey_of_cert "$T/a2.pem")" "$(pubkey_of_key "$T/a2.key")"
check_eq "re-enrollment: recorded as est-renew" "$(sqlite3 "$DB" "select method from certificates where serial = '$A2'")" est-renew
check_eq "re-enrollment: supersedes the old one" \
    "$(sqlite3 "$DB" "select n.serial from certificates o join certificates n on n.id = o.superseded_by where o.serial = '$A1'")" "$A2"
check_eq "revoke_old off: the old one stays valid" "$(status_of "$A1")" valid
sleep 2
check_eq "revoke_old off: not on the CRL" "$(on_crl "$A1")" no
check_eq "revoke_old off: OCSP good" "$(ocsp_status "$T/a.pem")" good
pkiest "$T/a3.der" --in "$T/a2.csr" --cert "$T/a.der" --key "$T/a.key"
check_ne "the old certificate cannot renew twice" "$RC" 0

# SIGHUP: the network child starts the [est] listener again with the TLS
# pair and the trust list of the reload; a client certificate still enrolls.
kill -HUP "${ED_PID[d]}"
for _ in $(seq 50); do grep -q 'reloaded' "$T/d.log" && break; sleep 0.1; done
sleep 1
est cacerts
check_eq "after SIGHUP: cacerts 200" "$CODE" 200
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/h.key" \
    -subj /CN=x -outform DER -out "$T/h.der" 2>/dev/null
openssl base64 -in "$T/h.der" -out "$T/h.b64"
openssl pkey -inform DER -in "$T/a2.key" -out "$T/a2.key.pem"	# pki --gen wrote DER
est simpleenroll -H 'Content-Type: application/pkcs10' -H 'Content-Transfer-Encoding: base64' \
    --data-binary "@$T/h.b64" --cert "$T/a2.pem" --key "$T/a2.key.pem"
check_eq "after SIGHUP: simpleenroll by the client certificate 200" "$CODE" 200
check_eq "... recorded as est-cert" \
    "$(sqlite3 "$DB" "select method from certificates where serial = '$(hdr X-Userca-Serial)'")" est-cert

# [renew] revoke_old on (userca.conf, read when the daemon opens the home).
ed_stop d
check_confined d "EST (Basic, client certificates, cacerts, csrattrs)"
printf '\n[renew]\nrevoke_old = true\n' >>"$H/userca.conf"
ed_start d2 "$T/d.ini"
pki --gen --type ecdsa --size 256 >"$T/a4.key" 2>/dev/null
pki --req --in "$T/a4.key" --type ecdsa --dn "CN=x" >"$T/a4.csr" 2>/dev/null
pkiest "$T/a4.der" --in "$T/a4.csr" --cert "$T/a2.der" --key "$T/a2.key"
check_eq "re-enrollment with revoke_old: exit 0" "$RC" 0
check_eq "revoke_old on: the old one is revoked" "$(status_of "$A2")" revoked
check_eq "... as superseded" "$(sqlite3 "$DB" "select reason from certificates where serial = '$A2'")" 4
check_eq "revoke_old on: OCSP revoked at once" "$(ocsp_status "$T/a2.pem")" revoked
for _ in 1 2 3 4 5 6; do [[ $(on_crl "$A2") == yes ]] && break; sleep 1; done
check_eq "revoke_old on: on the CRL the daemon re-signed" "$(on_crl "$A2")" yes
pki --gen --type ecdsa --size 256 >"$T/a5.key" 2>/dev/null
pki --req --in "$T/a5.key" --type ecdsa --dn "CN=x" >"$T/a5.csr" 2>/dev/null
N=$(rows)
pkiest "$T/a5.der" --in "$T/a5.csr" --cert "$T/a2.der" --key "$T/a2.key"
check_ne "re-enrollment by the revoked certificate: refused" "$RC" 0
check_eq "... no row" "$(rows)" "$N"

# ---- curl: simpleenroll, simplereenroll and their refusals ------------------------------------
TB=$(tok bob)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/b.key" \
    -subj /CN=bob -outform DER -out "$T/b.csr.der" 2>/dev/null
openssl base64 -in "$T/b.csr.der" -out "$T/b.csr.b64"
N=$(rows)
post() {	# PATH BODYFILE [curl args]
	local p=$1 f=$2; shift 2
	est "$p" -H 'Content-Type: application/pkcs10' -H 'Content-Transfer-Encoding: base64' \
	    --data-binary "@$f" "$@"
}
post simpleenroll "$T/b.csr.b64"
check_eq "no credentials: 401" "$CODE" 401
check_cond "no credentials: WWW-Authenticate Basic" '[[ $(hdr WWW-Authenticate) == Basic* ]]'
not_json "401"
post simpleenroll "$T/b.csr.b64" -u "bob:AAAAAAAAAAAAAAAAAAAAAA"
check_eq "a wrong token: 401" "$CODE" 401
post simpleenroll "$T/b.csr.b64" -u "alice:$TB"
check_eq "bob's token for alice: 401" "$CODE" 401
check_eq "... bob's token unused" "$(used_at "$TB")" NULL
printf 'not base64 at all!' >"$T/junk"
post simpleenroll "$T/junk" -u "bob:$TB"
check_eq "a body that is not base64: 400" "$CODE" 400
check_eq "... text/plain" "$(hdr Content-Type)" "text/plain; charset=utf-8"
not_json "400"
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/w.key" -subj /CN=bob -outform DER \
    -out "$T/w.der" 2>/dev/null
openssl base64 -in "$T/w.der" -out "$T/w.b64"
post simpleenroll "$T/w.b64" -u "bob:$TB"
check_eq "a 1024-bit RSA key: 400" "$CODE" 400
check_eq "refusals: no row" "$(rows)" "$N"
check_eq "refusals: bob's token unused" "$(used_at "$TB")" NULL
post simpleenroll "$T/b.csr.b64" -u "bob:$TB"
check_eq "curl simpleenroll: 200" "$CODE" 200
check_eq "simpleenroll: certs-only PKCS#7" "$(hdr Content-Type)" "application/pkcs7-mime; smime-type=certs-only"
check_eq "simpleenroll: Content-Transfer-Encoding base64" "$(hdr Content-Transfer-Encoding)" base64
p7_cert "$T/b.pem" || bad "simpleenroll: the body is not base64 PKCS#7"
run openssl verify -CAfile "$ROOT" -untrusted "$ISS" "$T/b.pem"
check "simpleenroll's certificate verifies (openssl verify)"
check_eq "simpleenroll: bob's key" "$(pubkey_of_cert "$T/b.pem")" "$(pubkey_of_key "$T/b.key")"
B1=$(cert_serial "$T/b.pem")
post simpleenroll "$T/b.csr.b64" -u "bob:$TB"
check_eq "the used token: 403" "$CODE" 403
not_json "403"

# A TLS client certificate: simpleenroll (one more for bob) and simplereenroll.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/b2.key" \
    -subj /CN=x -outform DER -out "$T/b2.der" 2>/dev/null
openssl base64 -in "$T/b2.der" -out "$T/b2.b64"
post simpleenroll "$T/b2.b64" --cert "$T/b.pem" --key "$T/b.key"
check_eq "simpleenroll by bob's client certificate: 200" "$CODE" 200
p7_cert "$T/b2.pem" || true
B2=$(cert_serial "$T/b2.pem")
check_eq "... recorded as est-cert" "$(sqlite3 "$DB" "select method from certificates where serial = '$B2'")" est-cert
check_eq "... for bob" "$(sqlite3 "$DB" "select u.username from certificates c join users u on u.id = c.user_id where c.serial = '$B2'")" bob
check_eq "... the first one superseded by nothing" "$(sqlite3 "$DB" "select ifnull(superseded_by, 'none') from certificates where serial = '$B1'")" none
post simplereenroll "$T/b2.b64"
check_eq "simplereenroll without a client certificate: 401" "$CODE" 401
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
    -out "$T/evil.crt" -subj /CN=bob -days 2 2>/dev/null
post simplereenroll "$T/b2.b64" --cert "$T/evil.crt" --key "$T/evil.key"
check_eq "simplereenroll by another CA's certificate: 403" "$CODE" 403
must "revoke bob's second certificate" uc revoke --home "$H" --serial "$B2"
N=$(rows)
post simplereenroll "$T/b2.b64" --cert "$T/b2.pem" --key "$T/b2.key"
check_eq "simplereenroll by a revoked certificate: 403" "$CODE" 403
check_eq "... no row" "$(rows)" "$N"
post simplereenroll "$T/b2.b64" --cert "$T/b.pem" --key "$T/b.key"
check_eq "curl simplereenroll by bob's first certificate: 200" "$CODE" 200
p7_cert "$T/b3.pem" || true
check_eq "... supersedes it" \
    "$(sqlite3 "$DB" "select n.serial from certificates o join certificates n on n.id = o.superseded_by where o.serial = '$B1'")" \
    "$(cert_serial "$T/b3.pem")"
ed_stop d2
check_nogrep "no token in the daemon's log" "$TB|$TA" "$T/d2.log"

# [renew] refuse_early: a renewal only within [renew] window of expiry.
printf 'refuse_early = true\nwindow = 30d\n' >>"$H/userca.conf"
ed_start d3 "$T/d.ini"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/b4.key" \
    -subj /CN=x -outform DER -out "$T/b4.der" 2>/dev/null
openssl base64 -in "$T/b4.der" -out "$T/b4.b64"
N=$(rows)
post simplereenroll "$T/b4.b64" --cert "$T/b3.pem" --key "$T/b2.key"
check_eq "refuse_early: a fresh certificate does not renew yet (403)" "$CODE" 403
check_grep "... saying when it may" 'renewal opens 30 days before it expires' "$T/body"
check_eq "... no row" "$(rows)" "$N"
ed_stop d3
ed_start d4 "$T/d.ini" USERCA_NOW=$(( $(date +%s) + 340 * 86400 ))
post simplereenroll "$T/b4.b64" --cert "$T/b3.pem" --key "$T/b2.key"
check_eq "refuse_early: within the window it renews (200)" "$CODE" 200
ed_stop d4
summary
