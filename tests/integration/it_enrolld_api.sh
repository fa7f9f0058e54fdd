#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# userca-enrolld's HTTP contract, with curl as the device and gateway:
# token lookup and redemption (CSR PEM/DER, PKCS#7, PKCS#12 legacy/modern,
# binary PKCS#12), single use, unknown and expired tokens, bad input that
# never costs a token or leaves a row, HTTPS-only enrollment, public files with
# ETag/Last-Modified/304/Cache-Control, rate limit, no token in the log,
# /metrics, SIGHUP and SIGTERM.  Results are checked with openssl, python3 and
# sqlite3.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
DB=$H/userca.db
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
ISSUING=$T/issuing.pem
openssl x509 -in "$H/issuing/ca.crt" -out "$ISSUING" 2>/dev/null ||
    openssl x509 -inform DER -in "$H/issuing/ca.crt" -out "$ISSUING"

# Failed token attempts of this test must not trip the rate limit; its
# default (10 a minute) is tested on a fresh daemon below.
ed_conf "$T/main.ini" "$H" "[crl]
poll = 1s
[limits]
rate_limit = 100000"
ed_start main "$T/main.ini"

tok() {	# USER [EMAIL] [args]: a token, remembered for the log check
	local t
	t=$(new_token "$H" "$@") || fail "userca token $*"
	printf '%s\n' "$t" >>"$T/tokens.list"
	printf '%s\n' "$t"
}
rows() { sqlite3 "$DB" "select count(*) from certificates"; }
used_at() { sqlite3 "$DB" "select ifnull(used_at, 'NULL') from tokens where $(token_sql "$1")"; }
API=/api/v1/enroll

# ---- GET /api/v1/enroll/<token>: who and until when; does not consume ----
TA=$(tok alice alice@example.test)
hs "$API/$TA"
expect_http "GET token JSON" 200
check_eq "token JSON: user" "$(jget "$T/body" user)" alice
check_eq "token JSON: email" "$(jget "$T/body" email)" alice@example.test
EXP_DB=$(sqlite3 "$DB" "select strftime('%Y-%m-%dT%H:%M:%SZ', expires_at, 'unixepoch') from tokens where $(token_sql "$TA")")
check_eq "token JSON: expires is the token's expiry" "$(jget "$T/body" expires)" "$EXP_DB"
check_eq "token JSON: Content-Type" "$(hdr Content-Type)" application/json
hs "$API/$TA"
expect_http "GET token JSON again (not consumed)" 200
check_eq "GET does not consume the token (used_at)" "$(used_at "$TA")" NULL

# ---- POST .../csr, PEM; identity from the token, not from the CSR ----
new_csr "$T/alice" -subj "/CN=mallory/O=Evil Corp/emailAddress=mallory@evil.test" \
    -addext "subjectAltName=email:mallory@evil.test,DNS:evil.test"
hs "$API/$TA/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/alice.csr"
expect_http "POST csr (PEM)" 200
cp "$T/body" "$T/alice.chain"
check_eq "csr: Content-Type" "$(hdr Content-Type)" application/x-pem-file
NCERT=$(split_pem "$T/alice.chain" "$T/alice.c")
check_eq "csr: chain has leaf, issuing CA, root" "$NCERT" 3
ALICE=$(cert_serial "$T/alice.c1.pem")
check_eq "csr: X-Userca-Serial is the leaf's serial" "$(hdr X-Userca-Serial | norm_serial)" "$ALICE"
check_eq "csr: leaf key is the CSR's key" "$(pubkey_of_cert "$T/alice.c1.pem")" "$(pubkey_of_key "$T/alice.key")"
check_user_cert "enrolled alice" "$T/alice.c1.pem" "$ISSUING" alice alice@example.test "" mallory evil
hp /ca.pem; cp "$T/body" "$T/ca.pem"
hp /crl.pem; cp "$T/body" "$T/crl.pem"
hp /root.crl; openssl crl -inform DER -in "$T/body" -out "$T/root.crl.pem" 2>/dev/null
check "csr: leaf verifies against /ca.pem with -crl_check (/crl.pem)" \
    openssl verify -CAfile "$T/ca.pem" -crl_check -CRLfile "$T/crl.pem" "$T/alice.c1.pem"
check "csr: leaf verifies with -crl_check_all (/crl.pem + /root.crl)" \
    openssl verify -CAfile "$T/ca.pem" -crl_check_all -CRLfile "$T/crl.pem" \
    -CRLfile "$T/root.crl.pem" "$T/alice.c1.pem"
check_eq "csr: row recorded (user alice, method enroll-csr, valid)" \
    "$(sqlite3 "$DB" "select u.username || ',' || c.method || ',' || c.status from certificates c join users u on u.id = c.user_id where c.serial = '$ALICE'")" \
    "alice,enroll-csr,valid"
check_ne "csr: token consumed (used_at set)" "$(used_at "$TA")" NULL
check_eq "csr: token row points at the certificate" \
    "$(sqlite3 "$DB" "select c.serial from tokens t join certificates c on c.id = t.cert_id where $(token_sql "$TA" | sed 's/hash/t.hash/')")" "$ALICE"

# ---- second use, unknown, malformed ----
# DESIGN 3: the same key again gets the stored certificate (a client that
# lost the answer retries); another key is refused.
hs "$API/$TA/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/alice.csr"
expect_http "second use of a token, same key: the stored certificate" 200
check_eq "second use, same key: the same serial" "$(hdr X-Userca-Serial)" "$ALICE"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/alice2.key" -subj /CN=alice -out "$T/alice2.csr" 2>/dev/null
hs "$API/$TA/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/alice2.csr"
expect_http "second use of a token, another key" 403 token_used
hs "$API/$TA"
expect_http "GET of a used token" 403 token_used
check_eq "second use issued nothing" "$(sqlite3 "$DB" "select count(*) from certificates c join users u on u.id = c.user_id where u.username = 'alice'")" 1
UNKNOWN=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
hs "$API/$UNKNOWN"
expect_http "unknown token (GET)" 404 token_unknown
hs "$API/$UNKNOWN/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/alice.csr"
expect_http "unknown token (POST csr)" 404 token_unknown
hs "$API/short/p12" -H 'Content-Type: application/json' -d '{}'
expect_http "malformed token (POST p12)" 404 token_unknown

# ---- DER CSR ----
TB=$(tok bob)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$T/bob.key" \
    -outform DER -out "$T/bob.der" -subj /CN=bob 2>/dev/null
hs "$API/$TB/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/bob.der"
expect_http "POST csr (DER)" 200
split_pem "$T/body" "$T/bob.c" >/dev/null
check_user_cert "enrolled bob (DER CSR)" "$T/bob.c1.pem" "$ISSUING" bob "" ""
check_eq "DER csr: leaf key is the CSR's key" "$(pubkey_of_cert "$T/bob.c1.pem")" "$(pubkey_of_key "$T/bob.key")"

# ---- Accept: application/pkcs7-mime -> certs-only PKCS#7 (DER) ----
TC=$(tok carol carol@example.test)
new_csr "$T/carol" -subj /CN=carol
hs "$API/$TC/csr" -H 'Content-Type: application/pkcs10' -H 'Accept: application/pkcs7-mime' \
    --data-binary "@$T/carol.csr"
expect_http "POST csr, Accept: application/pkcs7-mime" 200
check_hdr "pkcs7: Content-Type application/pkcs7-mime" Content-Type '^application/pkcs7-mime'
cp "$T/body" "$T/carol.p7b"
check "pkcs7: openssl pkcs7 -print_certs reads it" openssl pkcs7 -inform DER -in "$T/carol.p7b" -print_certs -out "$T/carol.p7.pem"
check_eq "pkcs7: three certificates" "$(split_pem "$T/carol.p7.pem" "$T/carol.p")" 3
check_eq "pkcs7: has the leaf for carol" "$(openssl x509 -in "$T/carol.p1.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//' | grep -o 'CN=[^,]*')" CN=carol
check_eq "pkcs7: X-Userca-Serial is the leaf's" "$(hdr X-Userca-Serial | norm_serial)" "$(cert_serial "$T/carol.p1.pem")"
openssl pkcs7 -inform DER -in "$T/carol.p7b" -print -noout >"$T/carol.p7.txt" 2>&1
check_grep "pkcs7: signedData" 'type: pkcs7-signedData' "$T/carol.p7.txt"
check_eq "pkcs7: certs-only (signer_info empty)" "$(grep -A1 '^    signer_info:' "$T/carol.p7.txt" | tail -1 | tr -d ' ')" "<EMPTY>"

# ---- POST .../p12 ----
p12_from_json() {	# JSON OUT.p12 [PASSFILE]: decode p12 (and password)
	"$PY" -c 'import json, sys, base64
d = json.load(open(sys.argv[1]))
open(sys.argv[2], "wb").write(base64.b64decode(d["p12"], validate=True))
if len(sys.argv) > 3: open(sys.argv[3], "w").write(d["password"] + "\n")' "$@"
}
TD=$(tok dave dave@example.test)
hs "$API/$TD/p12" -H 'Content-Type: application/json' -d '{}'
expect_http "POST p12 {}" 200
cp "$T/body" "$T/dave.json"
check "p12 {}: JSON with p12 and a generated password" p12_from_json "$T/dave.json" "$T/dave.p12" "$T/dave.pass"
check_eq "p12 {}: p12_format legacy by default" "$(jget "$T/dave.json" p12_format)" legacy
check_cond "p12 {}: generated password >= 12 characters" '[[ $(head -1 "$T/dave.pass" | tr -d "\n" | wc -c) -ge 12 ]]'
check "p12 {}: opens with the password" openssl pkcs12 -in "$T/dave.p12" -passin "file:$T/dave.pass" -info -noout
check_stderr "p12 {}: legacy = PBE-SHA1-3DES" 'pbeWithSHA1And3-KeyTripleDES-CBC'
check_nogrep "p12 {}: legacy has no AES" 'aes' "$ERR"
p12_cert "$T/dave.p12" "$T/dave.pass" "$T/dave.crt"
check_user_cert "p12 dave" "$T/dave.crt" "$ISSUING" dave dave@example.test ""
check_eq "p12 {}: JSON serial is the certificate's" "$(jget "$T/dave.json" serial | norm_serial)" "$(cert_serial "$T/dave.crt")"
openssl pkcs12 -in "$T/dave.p12" -passin "file:$T/dave.pass" -nocerts -nodes 2>/dev/null | openssl pkey -out "$T/dave.key" 2>/dev/null
check_eq "p12 {}: key matches the certificate" "$(pubkey_of_key "$T/dave.key")" "$(pubkey_of_cert "$T/dave.crt")"
check_eq "p12 {}: method enroll-p12 recorded" \
    "$(sqlite3 "$DB" "select method from certificates where serial = '$(cert_serial "$T/dave.crt")'")" enroll-p12

TE=$(tok erin)
hs "$API/$TE/p12" -H 'Content-Type: application/json' -d '{"p12_format":"modern","password":"my own pass 123"}'
expect_http "POST p12 modern with own password" 200
cp "$T/body" "$T/erin.json"
check_eq "p12 own password: not echoed back" "$(jget "$T/erin.json" password)" ""
printf 'my own pass 123\n' >"$T/erin.pass"
p12_from_json "$T/erin.json" "$T/erin.p12"
check "p12 modern: opens with my own password" openssl pkcs12 -in "$T/erin.p12" -passin "file:$T/erin.pass" -info -noout
check_stderr "p12 modern: AES-256-CBC" 'AES-256-CBC'
check_stderr "p12 modern: PBKDF2" 'PBKDF2'
check_stderr "p12 modern: SHA-256 MAC" 'MAC: sha256'
check_nogrep "p12 modern: no 3DES" '3-?KeyTripleDES|RC2' "$ERR"
check_fails "p12 modern: a wrong password fails" openssl pkcs12 -in "$T/erin.p12" -passin pass:wrong-password -info -noout
p12_cert "$T/erin.p12" "$T/erin.pass" "$T/erin.crt"
check_user_cert "p12 erin" "$T/erin.crt" "$ISSUING" erin "" ""

TF=$(tok frank)
hs "$API/$TF/p12" -H 'Content-Type: application/json' -H 'Accept: application/x-pkcs12' -d '{}'
expect_http "POST p12, Accept: application/x-pkcs12" 200
check_eq "binary p12: Content-Type" "$(hdr Content-Type)" application/x-pkcs12
cp "$T/body" "$T/frank.p12"
hdr X-Userca-Password >"$T/frank.pass"
check_cond "binary p12: X-Userca-Password header set" '[[ -s $T/frank.pass && $(wc -c <"$T/frank.pass") -gt 8 ]]'
check "binary p12: opens with X-Userca-Password" openssl pkcs12 -in "$T/frank.p12" -passin "file:$T/frank.pass" -info -noout
p12_cert "$T/frank.p12" "$T/frank.pass" "$T/frank.crt"
check_user_cert "binary p12 frank" "$T/frank.crt" "$ISSUING" frank "" ""
check_hdr "binary p12: Cache-Control no-store" Cache-Control 'no-store'

# ---- bad input: 4xx JSON, no row, token not consumed ----
TX=$(tok xavier)
new_csr "$T/x" -subj /CN=xavier
openssl req -in "$T/x.csr" -outform DER -out "$T/x.der"
# Flip a byte in the signature (the last bytes of the DER are the signature's s).
cp "$T/x.der" "$T/forged.der"
LEN=$(stat -c %s "$T/forged.der")
printf '%02x' $(( 0x$(xxd -s $((LEN - 2)) -l 1 -p "$T/forged.der") ^ 0x01 )) | xxd -r -p |
    dd of="$T/forged.der" bs=1 seek=$((LEN - 2)) conv=notrunc 2>/dev/null
run openssl req -inform DER -in "$T/forged.der" -verify -noout
cat "$OUT" "$ERR" >"$T/verify.out"
check_grep "forged CSR: openssl req -verify rejects it too" 'verify failure' "$T/verify.out"
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/weak.key" -out "$T/weak.csr" -subj /CN=weak 2>/dev/null
head -c 3000 /dev/urandom >"$T/garbage"
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'A' >"$T/10m"
head -c 4096 /dev/urandom | base64 >"$T/4k"

ROWS0=$(rows)
bad_case() {	# DESC STATUS ERROR ROUTE [curl args]
	local d=$1 st=$2 err=$3 route=$4
	shift 4
	hs "$API/$TX/$route" "$@"
	expect_http "bad input: $d" "$st" "$err"
	check_eq "bad input: $d: JSON Content-Type" "$(hdr Content-Type)" application/json
	check_eq "bad input: $d: no certificate row" "$(rows)" "$ROWS0"
	check_eq "bad input: $d: token not consumed" "$(used_at "$TX")" NULL
}
bad_case "forged CSR signature" 400 bad_signature csr -H 'Content-Type: application/pkcs10' --data-binary "@$T/forged.der"
bad_case "RSA-1024 CSR" 400 weak_key csr -H 'Content-Type: application/pkcs10' --data-binary "@$T/weak.csr"
bad_case "garbage CSR" 400 bad_csr csr -H 'Content-Type: application/pkcs10' --data-binary "@$T/garbage"
bad_case "PEM header, garbage inside" 400 bad_csr csr -H 'Content-Type: application/pkcs10' \
    --data-binary $'-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'
bad_case "empty body" 400 bad_csr csr -H 'Content-Type: application/pkcs10' --data-binary ''
bad_case "wrong Content-Type (application/json)" 415 unsupported_media_type csr \
    -H 'Content-Type: application/json' --data-binary "@$T/x.csr"
bad_case "no Content-Type" 415 unsupported_media_type csr -H 'Content-Type:' --data-binary "@$T/x.csr"
bad_case "10 MB body (Content-Length)" 413 too_large csr -H 'Content-Type: application/pkcs10' --data-binary "@$T/10m"
check_cond "10 MB body: 413 within 5 s (took ${TIME}s)" "awk 'BEGIN { exit !($TIME < 5) }'"
bad_case "10 MB body (chunked)" 413 too_large csr -H 'Content-Type: application/pkcs10' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$T/10m"
check_cond "10 MB chunked: 413 within 5 s (took ${TIME}s)" "awk 'BEGIN { exit !($TIME < 5) }'"
bad_case "p12: body not JSON" 400 bad_json p12 -H 'Content-Type: application/json' -d 'not json'
bad_case "p12: JSON not an object" 400 bad_json p12 -H 'Content-Type: application/json' -d '[1,2]'
bad_case "p12: unknown field" 400 bad_json p12 -H 'Content-Type: application/json' -d '{"p12_format":"legacy","x":1}'
bad_case "p12: password not a string" 400 bad_json p12 -H 'Content-Type: application/json' -d '{"password":12345678}'
# A malformed body that holds the user's chosen password: the error names
# where, never what (jansson's own text quotes the body near the error).
bad_case "p12: malformed JSON holding a password" 400 bad_json p12 -H 'Content-Type: application/json' \
    -d '{"p12_format": "modern", "password" "Sekr1t-Kennwort-42"}'
check_nogrep "p12: malformed JSON: the error body does not echo the password" 'Sekr1t|Kennwort' "$T/body"
bad_case "p12: bad p12_format" 400 bad_format p12 -H 'Content-Type: application/json' -d '{"p12_format":"rc2-40"}'
bad_case "p12: password too short" 400 bad_password p12 -H 'Content-Type: application/json' -d '{"password":"short"}'
bad_case "p12: body as text/plain" 415 unsupported_media_type p12 -H 'Content-Type: text/plain' -d '{}'
bad_case "p12: 10 MB body" 413 too_large p12 -H 'Content-Type: application/json' --data-binary "@$T/10m"
hs "$API/$TX/nope"
expect_http "unknown route under a token" 404 not_found
hs /nope
expect_http "unknown route" 404 not_found
hs "$API/$TX/csr"
expect_http "GET on .../csr" 405 method_not_allowed
check_eq "405 names Allow: POST" "$(hdr Allow)" POST
hs "$API/$TX" -X DELETE
expect_http "DELETE on the token" 405 method_not_allowed
check_eq "405 names Allow: GET, HEAD" "$(hdr Allow)" "GET, HEAD"
hp /crl.der -X POST -H 'Content-Type: application/pkix-crl' --data-binary "@$T/x.der"
expect_http "POST /crl.der" 405 method_not_allowed
check_hdr "405 on /crl.der names Allow GET" Allow '^GET'
check_eq "bad input: token still unused after all of it" "$(used_at "$TX")" NULL
hs "$API/$TX/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/x.der"
expect_http "bad input: the token still works afterwards" 200
check_eq "bad input: exactly one row was added by the good request" "$(rows)" $((ROWS0 + 1))
check_nogrep "no 500 in the daemon log" ' 500 [0-9.]+ms$' "$T/main.log"

# ---- HTTPS only for enrollment ----
TH=$(tok harry)
hp "$API/$TH"
expect_http "token JSON over plain HTTP" 403 https_required
hp "$API/$TH/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/x.der"
expect_http "enrollment over plain HTTP" 403 https_required
hp "/enroll/$TH"
expect_http "enrollment page over plain HTTP" 403 https_required
check_eq "plain HTTP did not consume the token" "$(used_at "$TH")" NULL
hs "$API/$TH"
expect_http "same token over HTTPS" 200

# ---- public files over plain HTTP ----
NOW=$(date +%s)
for spec in crl.der:application/pkix-crl:crl.der root.crl:application/pkix-crl:root.crl \
    ca.crt:application/pkix-cert:ca.crt ca.pem:application/x-pem-file:ca-bundle.pem \
    crl.pem:application/x-pem-file:crl.pem ca.json:application/json:ca.json; do
	IFS=: read -r route type file <<<"$spec"
	hp "/$route"
	expect_http "GET /$route over plain HTTP" 200
	check_eq "/$route: Content-Type" "$(hdr Content-Type)" "$type"
	check_same "/$route: body is public/$file" "$T/body" "$H/public/$file"
	cp "$T/body" "$T/pub.$route"
	ETAG=$(hdr ETag)
	LM=$(hdr Last-Modified)
	CC=$(hdr Cache-Control)
	check_cond "/$route: ETag present ($ETAG)" '[[ $ETAG == \"*\" ]]'
	check_cond "/$route: Last-Modified present ($LM)" '[[ -n $LM ]] && date -d "$LM" >/dev/null'
	hp "/$route" -H "If-None-Match: $ETAG"
	expect_http "/$route: If-None-Match with the ETag" 304
	hp "/$route" -H 'If-None-Match: "0000"'
	expect_http "/$route: If-None-Match with another ETag" 200
	# A tag that merely contains ours (or ours without quotes) is another tag.
	hp "/$route" -H "If-None-Match: \"x${ETAG//\"/}y\""
	expect_http "/$route: If-None-Match with a longer tag containing ours" 200
	hp "/$route" -H "If-None-Match: \"a${ETAG}b\""
	expect_http "/$route: If-None-Match with ours, quotes included, inside garbage" 200
	hp "/$route" -H "If-None-Match: ${ETAG//\"/}"
	expect_http "/$route: If-None-Match with our tag unquoted (malformed)" 200
	hp "/$route" -H "If-None-Match: \"0000\", W/$ETAG"
	expect_http "/$route: If-None-Match list holding our tag as weak" 304
	hp "/$route" -H "If-Modified-Since: $LM"
	expect_http "/$route: If-Modified-Since Last-Modified" 304
	hp "/$route" -H "If-Modified-Since: $(date -u -d @$((NOW - 86400 * 400)) '+%a, %d %b %Y %H:%M:%S GMT')"
	expect_http "/$route: If-Modified-Since long ago" 200
	MAXAGE=$(sed -n 's/.*max-age=\([0-9]*\).*/\1/p' <<<"$CC")
	check_cond "/$route: Cache-Control has max-age ($CC)" '[[ -n $MAXAGE ]]'
	if [[ $route == crl.der || $route == root.crl ]]; then
		NU=$(crl_next_update "$T/body")
		check_cond "/$route: max-age $MAXAGE <= seconds to nextUpdate $((NU - NOW))" \
		    '[[ -n $MAXAGE && $MAXAGE -le $((NU - NOW)) ]]'
	fi
done
check "/ca.crt is a DER certificate: the issuing CA" cmp <(openssl x509 -inform DER -in "$T/pub.ca.crt") "$ISSUING"
check "/crl.der parses (openssl crl)" openssl crl -inform DER -in "$T/pub.crl.der" -noout
check "/ca.json is JSON" "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/pub.ca.json"
hp /crl.der -I
expect_http "HEAD /crl.der" 200

# ---- the enrollment page and its files; security headers ----
TP=$(tok pia)
hs "/enroll/$TP"
expect_http "GET /enroll/<token> (the page) over HTTPS" 200
check_hdr "page: text/html" Content-Type '^text/html'
check_hdr "page: Content-Security-Policy" Content-Security-Policy "default-src 'self'"
check_hdr "page: X-Frame-Options DENY" X-Frame-Options '^DENY$'
check_hdr "page: Referrer-Policy no-referrer (the token is in the URL)" Referrer-Policy '^no-referrer$'
check_hdr "HTTPS: Strict-Transport-Security" Strict-Transport-Security 'max-age=[1-9]'
check_eq "page: GET does not consume the token" "$(used_at "$TP")" NULL
hs /static/enroll.js
expect_http "GET /static/enroll.js" 200
check_hdr "/static/enroll.js: text/javascript (nosniff would block it otherwise)" Content-Type '^text/javascript'
check_same "/static/enroll.js is web/enroll.js" "$T/body" "$UC_SRC/web/enroll.js"
hs /static/enroll.css
expect_http "GET /static/enroll.css" 200
check_hdr "/static/enroll.css: text/css" Content-Type '^text/css'
hp /crl.der
check_hdr "plain HTTP: X-Content-Type-Options nosniff" X-Content-Type-Options '^nosniff$'

# ---- the request log cannot be forged through the URL ----
hp '/x%0D%0A10.6.6.6%20https%20POST%20/api/v1/enroll/<token>/csr%20200%201.0ms'
hs '/y%0Aforged-line'
check_nogrep "request log: a percent-encoded CR/LF in the path makes no line of its own" \
    '^(10\.6\.6\.6 |forged-line)' "$T/main.log"

# ---- /metrics ----
hp /metrics
expect_http "GET /metrics" 200
cp "$T/body" "$T/metrics"
check_hdr "/metrics: text/plain; version=0.0.4" Content-Type '^text/plain; version=0\.0\.4'
for m in userca_http_requests_total userca_issued_total userca_token_failures_total \
    userca_crl_next_update_seconds userca_crl_number; do
	check_grep "/metrics has $m" "^$m(\{[^}]*\})? -?[0-9.e+]+$" "$T/metrics"
	check_grep "/metrics: # TYPE $m" "^# TYPE $m (counter|gauge)$" "$T/metrics"
done
check "/metrics: every line is Prometheus text" "$PY" -c '
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
lab = r"\{(%s=\"(?:[^\"\\\\\n]|\\\\.)*\"(,%s=\"(?:[^\"\\\\\n]|\\\\.)*\")*)?\}" % (name, name)
pat = re.compile(r"^%s(%s)? [-+]?([0-9.]+([eE][-+]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?$" % (name, lab))
bad = [l for l in open(sys.argv[1]).read().splitlines()
       if l and not l.startswith("# HELP ") and not l.startswith("# TYPE ") and not pat.match(l)]
if bad: print("\n".join(bad)); sys.exit(1)' "$T/metrics"
check_grep "/metrics: issued_total counts the CSR enrollments (4)" '^userca_issued_total\{kind="csr"\} 4$' "$T/metrics"
check_grep "/metrics: issued_total counts the PKCS#12 enrollments (3)" '^userca_issued_total\{kind="p12"\} 3$' "$T/metrics"
check_grep "/metrics: token failures by reason (used)" '^userca_token_failures_total\{[^}]*"used"\} [1-9]' "$T/metrics"
check_grep "/metrics: token failures by reason (unknown)" '^userca_token_failures_total\{[^}]*"unknown"\} [1-9]' "$T/metrics"
check_grep "/metrics: issuing CRL number" '^userca_crl_number\{crl="issuing"\} [1-9]' "$T/metrics"
check_nogrep "/metrics: no token in any label" "$(paste -sd'|' "$T/tokens.list")" "$T/metrics"

# ---- SIGHUP: reload settings, TLS and files; keeps serving ----
ed_conf "$T/main.ini" "$H" "[crl]
poll = 1s
[limits]
rate_limit = 100000
max_body = 1k"
PID=${ED_PID[main]}
# A device's idle keep-alive HTTPS connection (a browser on the page) is open
# while the reload happens.
cat >"$T/idle.py" <<'PYEOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2]))), server_hostname="127.0.0.1")
t.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
t.recv(4096)
open(sys.argv[3], "w").write("ok\n")
time.sleep(20)
PYEOF
"$PY" "$T/idle.py" "$ED_CACERT" "$HTTPS_PORT" "$T/idle.ok" 2>/dev/null &
IDLE=$!
for ((i = 0; i < 50; i++)); do [[ -s $T/idle.ok ]] && break; sleep 0.1; done
check_file "an idle keep-alive HTTPS connection is open" "$T/idle.ok"
T0=$(date +%s.%N)
kill -HUP "$PID"
for ((i = 0; i < 150; i++)); do
	hs /healthz --max-time 1
	[[ $CODE == 200 ]] && break
	sleep 0.1
done
GAP=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
expect_http "SIGHUP: /healthz over HTTPS after the reload" 200
check_cond "SIGHUP: HTTPS kept answering (answered ${GAP}s after SIGHUP; limit 2s)" \
    "awk 'BEGIN { exit !($GAP < 2) }'"
kill "$IDLE" 2>/dev/null || true
wait "$IDLE" 2>/dev/null || true
check_grep "SIGHUP: logged" 'SIGHUP' "$T/main.log"
check_cond "SIGHUP: daemon still running" 'kill -0 $PID 2>/dev/null'
hp /crl.der
expect_http "SIGHUP: /crl.der over HTTP after the reload" 200
TS=$(tok sam)
# The network process takes the new settings from the monitor after the
# reload (asynchronous: slower builds take longer); within 3 s.
for ((i = 0; i < 30; i++)); do
	hs "$API/$TS/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/4k"
	[[ $CODE == 413 ]] && break
	sleep 0.1
done
expect_http "SIGHUP: new max_body (1k) in force within 3 s: 5k body" 413 too_large
check_eq "SIGHUP: 413 left the token unused" "$(used_at "$TS")" NULL
new_csr "$T/sam" -subj /CN=sam
hs "$API/$TS/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/sam.csr"
expect_http "SIGHUP: enrollment over HTTPS after the reload" 200

# ---- SIGTERM: exits 0 within a few seconds ----
ed_stop main
check_eq "SIGTERM: exit status 0" "$ED_RC" 0
check_cond "SIGTERM: stopped within 5 s (${ED_SECS}s)" "awk 'BEGIN { exit !($ED_SECS < 5) }'"
check_grep "SIGTERM: logged 'stopped'" 'stopped' "$T/main.log"

# ---- a daemon whose clock is 2 days on: expired token; rate limit (defaults) ----
TEXP=$(tok olga "" --ttl 60s)
TOK_OK=$(tok paula)
ed_conf "$T/later.ini" "$H"
ed_start later "$T/later.ini" USERCA_NOW=$(( $(date +%s) + 2 * 86400 ))
hs "$API/$TEXP"
expect_http "expired token (GET)" 401 token_expired		# failure 1
hs "$API/$TEXP/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/x.der"
expect_http "expired token (POST csr)" 401 token_expired	# failure 2
check_eq "expired token not consumed" "$(used_at "$TEXP")" NULL
for ((i = 3; i <= 10; i++)); do
	U=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
	echo "$U" >>"$T/tokens.list"
	hs "$API/$U"
	[[ $CODE == 404 ]] || break
done
check_eq "rate limit: failures 3..10 are 404" "$i" 11
hs "$API/$UNKNOWN"
expect_http "rate limit: 11th bad token attempt within a minute" 429 rate_limited
hs "$API/$TOK_OK"
expect_http "rate limit: a valid, unused token from that address is still served (a neighbour behind the same NAT)" 200
check_eq "rate limit: looking the good token up did not consume it" "$(used_at "$TOK_OK")" NULL
hp /crl.der
expect_http "rate limit: public files still served" 200
hp /metrics
check_grep "/metrics: token failures by reason (expired)" '^userca_token_failures_total\{[^}]*"expired"\} 2$' "$T/body"
ed_stop later
check_eq "later daemon: SIGTERM exit 0" "$ED_RC" 0

# ---- no token ever in the request log ----
check_cond "request log has enrollment lines" "grep -q '/api/v1/enroll/<token>' '$T/main.log'"
echo "$UNKNOWN" >>"$T/tokens.list"
NTOK=$(wc -l <"$T/tokens.list")
check_cond "$NTOK tokens used in this test" '[[ $NTOK -ge 20 ]]'
cat "$T/main.log" "$T/later.log" "$T/main.out" "$T/later.out" >"$T/all.log"
check_nogrep "no token in the daemon's logs (all $NTOK)" "$(paste -sd'|' "$T/tokens.list")" "$T/all.log"

db_checks "$H"
summary
