#!/usr/bin/env bash
# shellcheck disable=SC2034,SC2154  # variables read by the sourced helpers; ED_PID is lib_enrolld.sh's
# Issuing CA rollover (userca intermediate rollover), checked with tools we
# did not write:
#   - one home holding the root key: users of the first issuing CA (alice,
#     olga) and of the second (bob, nina) pass openssl verify -crl_check_all
#     with public/ca-bundle.pem and public/crls.pem; olga's revocation lands
#     on the first CA's CRL (crl.der, also crl-1.der), nina's on the
#     second's (crl-2.der);
#   - every certificate's own CRL distribution point and caIssuers URL,
#     fetched from the running userca-enrolld, give its own issuer's CRL
#     (openssl crl -CAfile, openssl verify -crl_check with that CRL alone:
#     the revoked users are on it) and its own issuer (openssl verify
#     -partial_chain with that certificate alone), for users of CA 1 and
#     CA 2, and of all three CAs after a second rollover;
#   - real nginx (ssl_verify_client on, ssl_crl with the CRLs as
#     userca-gateway-sync writes them from userca-enrolld) across the
#     rollover: the truth table at the end; Apache httpd on the same files;
#   - the sync still fails closed: a crl.pem without the first CA's CRL is
#     refused while both CAs are in the bundle;
#   - OCSP answers for both CAs (the first one signing its own answers):
#     good/revoked as the records say, and openssl ocsp verifies them;
#   - userca-enrolld says so when the issuing CA changed under it, and warns
#     (200, "warning") within [ca] issuing_warn_before of its expiry;
#   - the air gap as two homes: 'intermediate rollover --request' online,
#     'root sign-intermediate' offline, 'intermediate install' online;
#   - an old-style home (issuing CA without EKU, as homes made before the
#     constrained EKU) gets clientAuth, serverAuth, OCSPSigning and
#     emailProtection (--smime) on its new issuing CA.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool dash curl
SYNC=$UC_SRC/scripts/userca-gateway-sync

declare -A TT=()
TT_ORDER=()
tt() {	# ROW WANT GOT
	TT_ORDER+=("$1")
	TT[$1]="$2|$3"
	check_eq "$1" "$3" "$2"
}

H=$T/pki
BASE_URL=http://127.0.0.1:$HTTP_PORT
ca_init "$H" --intermediate --profile modern --allow-http-links
must "issue-server for nginx" uc issue-server --home "$H" --dns localhost --ip 127.0.0.1 \
    --out "$T/tls" --passphrase-file "$PASSFILE"
cat >"$T/d.ini" <<EOF
[ca]
home = $H
[http]
listen = 127.0.0.1:$HTTP_PORT
[enroll]
allow_plain_http = true
[crl]
poll = 1s
EOF
ed_start d "$T/d.ini"
PIN=$(cert_fp "$H/root/root.crt" sha256)

# user NAME: NAME.key + NAME.pem issued from a CSR by the CLI
user() {
	new_csr "$T/$1" -subj "/CN=$1"
	must "issue $1" uc issue --home "$H" --user "$1" --csr "$T/$1.csr" --out "$T/$1.pem"
	openssl x509 -in "$T/$1.pem" -out "$T/$1.crt"
}
user alice
user olga
cp "$H/issuing/ca.crt" "$T/ca1.crt"

. "$HERE/lib_nginx.sh"
GW=$T/gw
NX_PORT=$(free_port)
nginx_conf nx "$GW" "$NX_PORT"
run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --quiet
[[ $RC -eq 0 ]] || { _show; fail "first sync (exit $RC)"; }
nginx_start nx "$NX_PORT"
# row DESC USER WANT: curl with USER's certificate through nginx
row() {
	local code
	code=$(curl -sS --max-time 10 --cacert "$T/tls/tls.crt" --cert "$T/$2.crt" --key "$T/$2.key" \
	    -o "$T/body" -w '%{http_code}' "https://127.0.0.1:$NX_PORT/" 2>"$T/curl.err") || true
	tt "$1" "$3" "${code:-000}"
}
# sync_reload: one sync that installs and reloads nginx
sync_reload() {
	local w
	w=$(workers nx)
	run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --reload "$(reload_cmd nx)"
	check_eq "sync ($1): exit 0" "$RC" 0
	[[ $RC -eq 0 ]] || _show
	wait_reload nx "$w"
}
row "before the rollover: alice (CA 1)" alice 200
row "before the rollover: olga (CA 1)" olga 200

# ---- the rollover ----
hp /healthz
check_grep "/healthz before: ok" '"status": *"ok"' "$T/body"
# Requests keep coming while the daemon switches (for the sanitizer builds).
openssl ocsp -issuer "$T/ca1.crt" -cert "$T/alice.crt" -reqout "$T/alice.ocspreq" -no_nonce 2>/dev/null
( while :; do
	for p in /ca.pem /metrics /healthz /crl.pem; do curl -s -o /dev/null "$HTTP$p"; done
	curl -s -o /dev/null -H 'Content-Type: application/ocsp-request' --data-binary "@$T/alice.ocspreq" "$HTTP/ocsp"
done ) &
ED_PID[load]=$!
must "intermediate rollover" uc intermediate rollover --home "$H" --passphrase-file "$PASSFILE"
check_stdout "rollover: says issuing CA 2" 'issuing CA 2'
check_same "issuing/previous/1.crt is the first issuing CA" "$H/issuing/previous/1.crt" "$T/ca1.crt"
check_mode "issuing/previous/1.key 0600" "$H/issuing/previous/1.key" 600
check_eq "issuing/previous/1.key is the first CA's key" "$(pubkey_of_key "$H/issuing/previous/1.key")" \
    "$(pubkey_of_cert "$T/ca1.crt")"
check_ne "issuing/ca.crt is a new CA" "$(pubkey_of_cert "$H/issuing/ca.crt")" "$(pubkey_of_cert "$T/ca1.crt")"
check_eq "issuing/ca.key is its key" "$(pubkey_of_key "$H/issuing/ca.key")" "$(pubkey_of_cert "$H/issuing/ca.crt")"
check_grep "the new CA is 'Issuing CA 2'" "CN *= *$ORG Issuing CA 2" <(openssl x509 -in "$H/issuing/ca.crt" -noout -subject)
check "the new CA verifies against the root" openssl verify -CAfile "$H/root/root.crt" "$H/issuing/ca.crt"
check_eq "records: the new CA is an intermediate recorded by rollover" \
    "$(sqlite3 "$H/userca.db" "select kind || '|' || method from certificates where ltrim(serial, '0') = '$(cert_serial "$H/issuing/ca.crt")'")" \
    'intermediate|rollover'
check_eq "public/ca-bundle.pem: CA 2, CA 1, root" "$(split_pem "$H/public/ca-bundle.pem" "$T/bundle")" 3
check_eq "...in that order" "$(cert_fp "$T/bundle1.pem" sha256) $(cert_fp "$T/bundle2.pem" sha256) $(cert_fp "$T/bundle3.pem" sha256)" \
    "$(cert_fp "$H/issuing/ca.crt" sha256) $(cert_fp "$T/ca1.crt" sha256) $PIN"
check_eq "public/ca.crt: still CA 1 (its certificates' caIssuers)" \
    "$(openssl x509 -inform DER -in "$H/public/ca.crt" -outform DER | sha256sum)" \
    "$(openssl x509 -in "$T/ca1.crt" -outform DER | sha256sum)"
check_eq "public/issuing-2.crt: CA 2" "$(openssl x509 -inform DER -in "$H/public/issuing-2.crt" -outform DER | sha256sum)" \
    "$(openssl x509 -in "$H/issuing/ca.crt" -outform DER | sha256sum)"
check_eq "public/issuing-1.crt: CA 1" "$(openssl x509 -inform DER -in "$H/public/issuing-1.crt" -outform DER | sha256sum)" \
    "$(openssl x509 -in "$T/ca1.crt" -outform DER | sha256sum)"
crl_issuer() { openssl crl -inform "$1" -in "$2" -noout -issuer | sed 's/^issuer= *//'; }
S1=$(openssl x509 -in "$T/ca1.crt" -noout -subject | sed 's/^subject= *//')
S2=$(openssl x509 -in "$H/issuing/ca.crt" -noout -subject | sed 's/^subject= *//')
check_eq "public/crl.der: still CA 1's CRL (its certificates' CRL DP)" "$(crl_issuer DER "$H/public/crl.der")" "$S1"
check_eq "public/crl-1.der: CA 1's CRL" "$(crl_issuer DER "$H/public/crl-1.der")" "$S1"
check_eq "public/crl-2.der: CA 2's CRL" "$(crl_issuer DER "$H/public/crl-2.der")" "$S2"
check_eq "public/crl.pem: crl.der's CRL (CA 1's) first" "$(crl_issuer PEM "$H/public/crl.pem")" "$S1"
check_eq "public/crl.pem holds 2 CRLs" "$(grep -c 'BEGIN X509 CRL' "$H/public/crl.pem")" 2
check_eq "public/crls.pem holds 3 CRLs (CA 1, CA 2, root)" "$(grep -c 'BEGIN X509 CRL' "$H/public/crls.pem")" 3
check_grep "ca.json: previous[0] is generation 1" '"generation": 1' "$H/public/ca.json"
check_grep "userca-trust.ps1 imports the previous issuing CA" \
    "\\\$PreviousThumbprints = @\\('$(cert_fp "$T/ca1.crt" sha1 | tr a-f A-F)'\\)" "$H/public/gateway/userca-trust.ps1"

# The daemon opened the home before the rollover: within its poll (1 s)
# it opens it again and issues, signs and serves as CA 2.
ok=0
for ((i = 0; i < 50; i++)); do
	hp /ca.pem
	[[ $(grep -c 'BEGIN CERTIFICATE' "$T/body") == 3 ]] && { ok=1; break; }
	sleep 0.1
done
check_eq "daemon started before: serves the new bundle (3 certificates)" "$ok" 1
sleep 1
kill "${ED_PID[load]}" 2>/dev/null; wait "${ED_PID[load]}" 2>/dev/null || true
unset "ED_PID[load]"
check_grep "daemon log: it followed the rollover" 'rolled over: issuing as .*Issuing CA 2' "$T/d.log"
hp /healthz
check_eq "daemon started before: /healthz 200" "$CODE" 200
check_grep "...'ok'" '"status": *"ok"' "$T/body"
hp /crl.pem
check_eq "daemon /crl.pem: both issuing CRLs" "$(grep -c 'BEGIN X509 CRL' "$T/body")" 2
TOK=$(new_token "$H" carl) || fail "token for carl"
new_csr "$T/carl" -subj /CN=whatever
hp "/api/v1/enroll/$TOK/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/carl.csr"
expect_http "enrollment through the same daemon after the rollover" 200
openssl x509 -in "$T/body" -out "$T/carl.crt" 2>/dev/null || true
check_eq "...carl's certificate comes from CA 2" "$(openssl x509 -in "$T/carl.crt" -noout -issuer 2>/dev/null | sed 's/^issuer= *//')" \
    "$(openssl x509 -in "$H/issuing/ca.crt" -noout -subject | sed 's/^subject= *//')"
check "...and verifies with the chain it came with" openssl verify -CAfile "$H/root/root.crt" -untrusted "$T/body" "$T/carl.crt"
ed_stop d
cat >>"$T/d.ini" <<EOF
[ca]
issuing_warn_before = 3650d
EOF
ed_start d2 "$T/d.ini"
hp /healthz
check_eq "/healthz with issuing_warn_before 3650d: 200 (a warning is no outage)" "$CODE" 200
check_grep "...'warning': the issuing CA expires within issuing_warn_before" '"status": *"warning".*roll it over|roll it over.*"status": *"warning"' "$T/body"
hp /metrics
check_grep "/metrics: userca_issuing_ca_expiry_seconds" '^userca_issuing_ca_expiry_seconds [0-9]{8,}$' "$T/body"

user bob
user nina
check_eq "bob's certificate comes from CA 2 at once" "$(openssl x509 -in "$T/bob.crt" -noout -issuer | sed 's/^issuer= *//')" "$S2"
check_eq "records: bob's issuer_ski is CA 2's" \
    "$(sqlite3 "$H/userca.db" "select issuer_ski from certificates where ltrim(serial, '0') = '$(cert_serial "$T/bob.crt")'")" \
    "$(openssl x509 -in "$H/issuing/ca.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')"

ov() {	# CERT: openssl verify -crl_check_all with the published files
	openssl verify -crl_check_all -purpose sslclient -CAfile "$H/public/ca-bundle.pem" \
	    -CRLfile "$H/public/crls.pem" "$1" 2>&1
}
for u in alice olga bob nina; do
	check "openssl verify -crl_check_all: $u (published bundle and crls.pem)" ov "$T/$u.crt"
done

sync_reload "after the rollover"
check_eq "sync: ca.pem with 3 certificates" "$(grep -c 'BEGIN CERTIFICATE' "$GW/ca.pem")" 3
check_eq "sync: crls.pem with 3 CRLs" "$(grep -c 'BEGIN X509 CRL' "$GW/crls.pem")" 3
row "after the rollover: alice (CA 1)" alice 200
row "after the rollover: olga (CA 1)" olga 200
row "after the rollover: bob (CA 2)" bob 200
row "after the rollover: nina (CA 2)" nina 200

# ---- revocations: CA 1's user on CA 1's CRL, CA 2's on CA 2's ----
must "revoke olga (CA 1) by user" uc revoke --home "$H" --user olga --reason keyCompromise
must "revoke nina (CA 2) by serial" uc revoke --home "$H" --serial "$(cert_serial "$T/nina.crt")"
crl_has() { crl_serials "$1" | grep -qx "$(cert_serial "$2")"; }
check "olga is on crl-1.der (CA 1's CRL)" crl_has "$H/public/crl-1.der" "$T/olga.crt"
check "olga is on crl.der (CA 1's CRL)" crl_has "$H/public/crl.der" "$T/olga.crt"
check_fails "olga is not on crl-2.der (CA 2's CRL)" crl_has "$H/public/crl-2.der" "$T/olga.crt"
check "nina is on crl-2.der (CA 2's CRL)" crl_has "$H/public/crl-2.der" "$T/nina.crt"
check_fails "nina is not on crl.der" crl_has "$H/public/crl.der" "$T/nina.crt"
check_fails "nina is not on crl-1.der" crl_has "$H/public/crl-1.der" "$T/nina.crt"
for u in olga nina; do
	run ov "$T/$u.crt"
	check_grep "openssl verify -crl_check_all: $u revoked" 'certificate revoked' "$OUT"
done
check "openssl verify -crl_check_all: alice still ok" ov "$T/alice.crt"
check "openssl verify -crl_check_all: bob still ok" ov "$T/bob.crt"
# nth_crl N FILE: the Nth CRL of a PEM file, as text
nth_crl() { awk -v n="$1" '/BEGIN X509 CRL/{c++} c==n' "$2" | openssl crl -noout -text 2>/dev/null; }
ok=0
for ((i = 0; i < 50; i++)); do
	hp /crl.pem
	nth_crl 1 "$T/body" | grep -q "$(cert_serial "$T/olga.crt")" &&
	    nth_crl 2 "$T/body" | grep -q "$(cert_serial "$T/nina.crt")" && { ok=1; break; }
	sleep 0.1
done
check_eq "daemon /crl.pem: olga on CA 1's CRL (first), nina on CA 2's (second)" "$ok" 1

# ---- each certificate's own CRL DP and caIssuers, from the daemon ----
# own_urls WHO ISSUER [revoked]: WHO's CRL distribution point and caIssuers
# URLs, fetched as a relying party would (Windows follows them), hold
# ISSUER's CRL (with WHO on it when revoked) and ISSUER itself.
cdp_of() { openssl x509 -in "$1" -noout -ext crlDistributionPoints | sed -n 's/^ *URI://p'; }
aia_of() { openssl x509 -in "$1" -noout -ext authorityInfoAccess | sed -n 's/^ *CA Issuers - URI://p'; }
own_urls() {
	local who=$1 iss=$2 u a
	u=$(cdp_of "$T/$who.crt")
	a=$(aia_of "$T/$who.crt")
	check_eq "$who: one CRL DP, one caIssuers, under the base URL" "$(printf '%s\n' "$u" "$a" | grep -c "^$BASE_URL/")" 2
	rm -f "$T/$who.cdp" "$T/$who.cdp.pem" "$T/$who.aia" "$T/$who.aia.pem"
	curl -fsS --max-time 10 -o "$T/$who.cdp" "$u" 2>"$T/curl.err" || true
	curl -fsS --max-time 10 -o "$T/$who.aia" "$a" 2>>"$T/curl.err" || true
	openssl crl -inform DER -in "$T/$who.cdp" -out "$T/$who.cdp.pem" 2>/dev/null || true
	openssl x509 -inform DER -in "$T/$who.aia" -out "$T/$who.aia.pem" 2>/dev/null || true
	run openssl crl -in "$T/$who.cdp.pem" -CAfile "$iss" -noout
	check_grep "$who: the CRL at its CRL DP ($u) is signed by its issuer (openssl crl -CAfile)" 'verify OK' "$ERR"
	run openssl verify -crl_check -purpose sslclient -CAfile "$H/root/root.crt" -untrusted "$iss" \
	    -CRLfile "$T/$who.cdp.pem" "$T/$who.crt"
	if [[ ${3:-} == revoked ]]; then
		cat "$ERR" >>"$OUT"
		check_grep "$who: revoked on that CRL (openssl verify -crl_check)" 'certificate revoked' "$OUT"
	else
		check_eq "$who: openssl verify -crl_check with that CRL alone" "$RC" 0
	fi
	check_eq "$who: caIssuers ($a) is its issuer" "$(cert_fp "$T/$who.aia.pem" sha256 2>/dev/null)" "$(cert_fp "$iss" sha256)"
	check "$who: ...which signed it (openssl verify -partial_chain)" \
	    openssl verify -partial_chain -CAfile "$T/$who.aia.pem" "$T/$who.crt"
}
cp "$H/issuing/ca.crt" "$T/ca2.crt"
own_urls alice "$T/ca1.crt"
own_urls olga "$T/ca1.crt" revoked
own_urls bob "$T/ca2.crt"
own_urls nina "$T/ca2.crt" revoked
sync_reload "after the revocations"
row "after the revocations: alice (CA 1)" alice 200
row "after the revocations: olga (CA 1, revoked)" olga 400
row "after the revocations: bob (CA 2)" bob 200
row "after the revocations: nina (CA 2, revoked)" nina 400

# Apache httpd on the same synced files (SSLCARevocationCheck chain).
. "$HERE/lib_apache.sh"
if ap_have; then
	ap_upstream ap_echo	# not 'echo': lib_nginx.sh's upstream is ED_PID[echo]
	AP_PORT=$(free_port)
	ap_conf ap "$AP_PORT" "$GW"
	ap_start ap "$AP_PORT"
	for u in alice olga bob nina; do ap_cert "$u" --cert "$T/$u.crt" --key "$T/$u.key"; done
	# A refused certificate ends the TLS handshake (curl: 000).
	for r in "alice (CA 1):alice:200" "olga (CA 1, revoked):olga:refused" "bob (CA 2):bob:200" "nina (CA 2, revoked):nina:refused"; do
		IFS=: read -r d who want <<<"$r"
		ap_req "$who" "$AP_PORT"
		tt "Apache, after the revocations: $d" "$want" "${CODE/#000/refused}"
	done
	ap_stop ap
	ap_stop ap_echo
else
	echo "SKIP: $AP_WHY: no Apache rows"
fi

# ---- the sync fails closed: CA 1's CRL missing ----
SD=$T/static
mkdir "$SD"
cp "$H/public/ca-bundle.pem" "$SD/ca.pem"
cp "$H/public/root.crl" "$SD/root.crl"
openssl crl -inform DER -in "$H/public/crl-2.der" -out "$SD/crl.pem"
ST_PORT=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$SD" "$ST_PORT" >"$T/static.log" 2>&1 &
ED_PID[static]=$!
for ((i = 0; i < 50; i++)); do curl -fs -o /dev/null "http://127.0.0.1:$ST_PORT/ca.pem" && break; sleep 0.1; done
GWSUM=$(cd "$GW" && sha256sum ./*.pem)
run dash "$SYNC" --url "http://127.0.0.1:$ST_PORT" --pin-sha256 "$PIN" --dir "$GW"
tt "sync: crl.pem without CA 1's CRL" "exit 1" "exit $RC"
check_stderr "...refused: no CRL from the issuing CA 1" "no CRL from the issuing CA 'CN=$ORG Issuing CA,"
check_eq "...installed files unchanged" "$(cd "$GW" && sha256sum ./*.pem)" "$GWSUM"
row "after the refused sync: olga (revoked)" olga 400
row "after the refused sync: alice" alice 200
stop static

# ---- OCSP for both issuing CAs ----
# CA 2's answers come from its delegated responder; CA 1 signs its own
# (RFC 6960 4.2.2.2).  openssl ocsp checks the signature either way.
ocsp() {	# ISSUER CERT [-no_nonce]
	run openssl ocsp -issuer "$1" -cert "$2" -url "$HTTP/ocsp" -CAfile "$H/public/ca-bundle.pem" "${@:3}"
}
ocsp "$T/ca1.crt" "$T/alice.crt"
check_grep "OCSP for alice (CA 1): good" ': good' "$OUT"
check_grep "...the answer verifies (signed by CA 1)" 'Response verify OK' "$ERR"
ocsp "$T/ca1.crt" "$T/olga.crt" -no_nonce
check_grep "OCSP for olga (CA 1, revoked, no nonce): revoked" ': revoked' "$OUT"
check_grep "...the answer verifies" 'Response verify OK' "$ERR"
ocsp "$T/ca1.crt" "$T/bob.crt"
check_nogrep "OCSP for bob asked as CA 1's: not good" ': good' "$OUT"
ocsp "$H/issuing/ca.crt" "$T/bob.crt" -no_nonce
check_grep "OCSP for bob (CA 2): good" ': good' "$OUT"
check_grep "...the answer verifies (CA 2's delegated responder)" 'Response verify OK' "$ERR"
ocsp "$H/issuing/ca.crt" "$T/nina.crt"
check_grep "OCSP for nina (CA 2): revoked" ': revoked' "$OUT"

# ---- a second rollover: three CAs, each certificate's URLs still right ----
must "second intermediate rollover" uc intermediate rollover --home "$H" --passphrase-file "$PASSFILE"
check_stdout "...says issuing CA 3" 'issuing CA 3'
cp "$H/issuing/ca.crt" "$T/ca3.crt"
user dave
user erin
check_eq "dave's certificate comes from CA 3" "$(openssl x509 -in "$T/dave.crt" -noout -issuer | sed 's/^issuer= *//')" \
    "$(openssl x509 -in "$T/ca3.crt" -noout -subject | sed 's/^subject= *//')"
must "revoke erin (CA 3)" uc revoke --home "$H" --user erin
ok=0
for ((i = 0; i < 50; i++)); do
	hp /crl.pem
	[[ $(grep -c 'BEGIN X509 CRL' "$T/body") == 3 ]] &&
	    nth_crl 2 "$T/body" | grep -q "$(cert_serial "$T/erin.crt")" && { ok=1; break; }
	sleep 0.1
done
check_eq "daemon followed the second rollover: /crl.pem with 3 CRLs (CA 1's, then the current CA 3's with erin on it, then CA 2's)" "$ok" 1
check_eq "public/crl.der: still CA 1's CRL" "$(crl_issuer DER "$H/public/crl.der")" "$S1"
check_eq "public/crl-2.der: still CA 2's CRL" "$(crl_issuer DER "$H/public/crl-2.der")" "$S2"
own_urls alice "$T/ca1.crt"
own_urls olga "$T/ca1.crt" revoked
own_urls bob "$T/ca2.crt"
own_urls nina "$T/ca2.crt" revoked
own_urls dave "$T/ca3.crt"
own_urls erin "$T/ca3.crt" revoked
sync_reload "after the second rollover"
check_eq "sync: ca.pem with 4 certificates" "$(grep -c 'BEGIN CERTIFICATE' "$GW/ca.pem")" 4
row "after the second rollover: alice (CA 1)" alice 200
row "after the second rollover: olga (CA 1, revoked)" olga 400
row "after the second rollover: bob (CA 2)" bob 200
row "after the second rollover: nina (CA 2, revoked)" nina 400
row "after the second rollover: dave (CA 3)" dave 200
row "after the second rollover: erin (CA 3, revoked)" erin 400
ed_stop d2
stop nx

# ---- the air gap, as two homes ----
OFF=$T/offline
ON=$T/online
X=$T/xfer
mkdir -p "$X"
ca_init "$OFF" --profile modern --smime
must "online: intermediate request" uc intermediate request --home "$ON" --org "$ORG" \
    --base-url "$BASE_URL" --profile modern --out "$X/req.csr"
must "offline: sign it" uc root sign-intermediate --home "$OFF" "$X/req.csr" --out "$X/ca1.crt" \
    --passphrase-file "$PASSFILE"
must "online: install it" uc intermediate install --home "$ON" "$X/ca1.crt" --root "$OFF/root/root.crt"
new_csr "$T/u1" -subj /CN=u1
must "online: issue u1 (CA 1)" env -u USERCA_PASSPHRASE "$USERCA" issue --home "$ON" --user u1 --csr "$T/u1.csr" --out "$T/u1.pem"
expect_rc 1 "online: 'intermediate rollover' without the root key is refused" \
    env -u USERCA_PASSPHRASE setsid -w "$USERCA" intermediate rollover --home "$ON" </dev/null
check_stderr "...naming the root key" 'root key'
must "online: intermediate rollover --request" env -u USERCA_PASSPHRASE \
    "$USERCA" intermediate rollover --request --home "$ON" --out "$X/next.csr"
check_mode "online: issuing/next.key 0600" "$ON/issuing/next.key" 600
check_eq "online: the request carries issuing/next.key" "$(openssl req -in "$X/next.csr" -noout -pubkey)" \
    "$(pubkey_of_key "$ON/issuing/next.key")"
check_stdout "online: prints the request key's SHA-256" \
    "$(openssl req -in "$X/next.csr" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64 | tr a-f A-F)"
new_csr "$T/u1b" -subj /CN=u1b
must "online: still issuing from CA 1 while the request is away" env -u USERCA_PASSPHRASE \
    "$USERCA" issue --home "$ON" --user u1b --csr "$T/u1b.csr" --out "$T/u1b.pem"
check "...u1b issued by CA 1" openssl verify -CAfile "$OFF/root/root.crt" -untrusted "$X/ca1.crt" "$T/u1b.pem"
expect_rc 1 "online: a second --request is refused" env -u USERCA_PASSPHRASE \
    "$USERCA" intermediate rollover --request --home "$ON" --out "$X/next2.csr"
must "offline: sign the rollover request" uc root sign-intermediate --home "$OFF" "$X/next.csr" \
    --out "$X/ca2.crt" --passphrase-file "$PASSFILE"
check_grep "offline: the new CA has the constrained EKU (with emailProtection: --smime root home)" \
    'TLS Web Client Authentication, TLS Web Server Authentication, E-mail Protection, OCSP Signing|E-mail Protection' \
    <(openssl x509 -in "$X/ca2.crt" -noout -ext extendedKeyUsage)
expect_rc 1 "online: installing CA 1 again as the rollover's certificate is refused (not next.key's)" \
    uc intermediate install --home "$ON" "$X/ca1.crt" --root "$OFF/root/root.crt"
check_file "...issuing/next.key still there" "$ON/issuing/next.key"
must "online: intermediate install (the rollover)" env -u USERCA_PASSPHRASE \
    "$USERCA" intermediate install --home "$ON" "$X/ca2.crt" --root "$OFF/root/root.crt"
check_nofile "online: issuing/next.key gone (it is issuing/ca.key now)" "$ON/issuing/next.key"
check_same "online: issuing/previous/1.crt is CA 1" "$ON/issuing/previous/1.crt" "$X/ca1.crt"
check_eq "online: issuing/ca.crt is CA 2" "$(cert_fp "$ON/issuing/ca.crt" sha256)" "$(cert_fp "$X/ca2.crt" sha256)"
new_csr "$T/u2" -subj /CN=u2
must "online: issue u2 (CA 2)" env -u USERCA_PASSPHRASE "$USERCA" issue --home "$ON" --user u2 --csr "$T/u2.csr" --out "$T/u2.pem"
must "online: revoke u1 (CA 1)" env -u USERCA_PASSPHRASE "$USERCA" revoke --home "$ON" --user u1
openssl crl -inform DER -in "$OFF/public/root.crl" -out "$T/offroot.pem"
cat "$ON/public/crl.pem" "$T/offroot.pem" >"$T/oncrls.pem"
aov() {
	openssl verify -crl_check_all -purpose sslclient -CAfile "$ON/public/ca-bundle.pem" \
	    -CRLfile "$T/oncrls.pem" "$1" 2>&1
}
check "air gap: u2 (CA 2) verifies with -crl_check_all" aov "$T/u2.pem"
check "air gap: u1b (CA 1) verifies with -crl_check_all" aov "$T/u1b.pem"
run aov "$T/u1.pem"
check_grep "air gap: u1 (CA 1) revoked on CA 1's CRL" 'certificate revoked' "$OUT"
check "...u1 is on online public/crl-1.der" crl_has "$ON/public/crl-1.der" "$T/u1.pem"
printf 'serial\n%s\n' "$(cert_serial "$T/u1b.pem")" >"$T/bulk.csv"
must "online: revoke --csv with u1b's serial (CA 1)" env -u USERCA_PASSPHRASE "$USERCA" revoke --home "$ON" --csv "$T/bulk.csv"
check "...u1b is on online public/crl-1.der" crl_has "$ON/public/crl-1.der" "$T/u1b.pem"
printf 'username\nu2\n' >"$T/bulk2.csv"
must "online: revoke --csv with user u2 (CA 2)" env -u USERCA_PASSPHRASE "$USERCA" revoke --home "$ON" --csv "$T/bulk2.csv"
check "...u2 is on online public/crl-2.der" crl_has "$ON/public/crl-2.der" "$T/u2.pem"
check_eq "offline records: both issuing CAs, intermediates" \
    "$(sqlite3 "$OFF/userca.db" "select count(*) from certificates where kind = 'intermediate'")" 2

# ---- a rollover killed between its two renames, then run again ----
if command -v strace >/dev/null; then
	K=$T/killed
	ca_init "$K" --intermediate --profile modern
	cp "$K/issuing/ca.crt" "$T/k1.crt"
	# rename: next.crt into place, next.key -> ca.key, next.crt -> ca.crt (3rd)
	strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=KILL:when=3 \
	    "$USERCA" intermediate rollover --home "$K" --passphrase-file "$PASSFILE" >/dev/null 2>&1 || true
	check_file "killed: issuing/next.crt left" "$K/issuing/next.crt"
	check_same "killed: issuing/ca.crt still CA 1" "$K/issuing/ca.crt" "$T/k1.crt"
	new_csr "$T/k" -subj /CN=k
	expect_rc 1 "killed: issuing refuses (ca.key is the new key, ca.crt the old one)" \
	    uc issue --home "$K" --user k --csr "$T/k.csr" --out "$T/k.pem"
	check_nofile "...nothing issued" "$T/k.pem"
	must "re-run finishes the rollover" uc intermediate rollover --home "$K" --passphrase-file "$PASSFILE"
	check_stdout "...saying so" 'interrupted rollover finished'
	check_same "re-run: issuing/previous/1.crt is CA 1" "$K/issuing/previous/1.crt" "$T/k1.crt"
	check_eq "re-run: issuing/previous/1.key is CA 1's key" "$(pubkey_of_key "$K/issuing/previous/1.key")" \
	    "$(pubkey_of_cert "$T/k1.crt")"
	check_eq "re-run: issuing/ca.key matches issuing/ca.crt" "$(pubkey_of_key "$K/issuing/ca.key")" \
	    "$(pubkey_of_cert "$K/issuing/ca.crt")"
	check_nofile "re-run: no issuing/next.crt" "$K/issuing/next.crt"
	check_eq "re-run: one new issuing CA recorded" \
	    "$(sqlite3 "$K/userca.db" "select count(*) from certificates where method = 'rollover'")" 1
	must "re-run: issuing works (CA 2)" uc issue --home "$K" --user k --csr "$T/k.csr" --out "$T/k.pem"
	check "...k chains to the new CA" openssl verify -CAfile "$K/root/root.crt" -untrusted "$K/issuing/ca.crt" "$T/k.pem"
else
	echo "SKIP: strace missing: no kill between the renames"
fi

# ---- an old-style home: issuing CA without EKU ----
O=$T/old
ca_init "$O" --intermediate --profile modern --smime
# As made before the constrained EKU: the same key, re-signed by the root
# without extendedKeyUsage.
cat >"$T/old.ext" <<'EOF'
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
openssl req -new -key "$O/issuing/ca.key" -subj "/O=$ORG/CN=$ORG Issuing CA" -out "$T/old.csr" 2>/dev/null
openssl x509 -req -in "$T/old.csr" -CA "$O/root/root.crt" -CAkey "$O/root/root.key" -passin "file:$PASSFILE" \
    -set_serial 0x1234 -days 3650 -extfile "$T/old.ext" -out "$T/old-ca.crt" 2>/dev/null ||
    fail "openssl: the old-style issuing CA"
cp "$T/old-ca.crt" "$O/issuing/ca.crt"
must "old-style home: crl and publish with the EKU-less CA" uc crl --home "$O"
check_eq "old-style: the issuing CA has no EKU" \
    "$(openssl x509 -in "$O/issuing/ca.crt" -noout -ext extendedKeyUsage 2>/dev/null | wc -l)" 0
new_csr "$T/o1" -subj /CN=o1
must "old-style: issue o1" uc issue --home "$O" --user o1 --csr "$T/o1.csr" --out "$T/o1.pem"
must "old-style: intermediate rollover" uc intermediate rollover --home "$O" --passphrase-file "$PASSFILE"
run openssl x509 -in "$O/issuing/ca.crt" -noout -ext extendedKeyUsage
for p in 'TLS Web Client Authentication' 'TLS Web Server Authentication' 'OCSP Signing' 'E-mail Protection'; do
	check_grep "old-style after rollover: the new issuing CA has EKU $p" "$p" "$OUT"
done
new_csr "$T/o2" -subj /CN=o2
must "old-style: issue o2 (new CA)" uc issue --home "$O" --user o2 --csr "$T/o2.csr" --out "$T/o2.pem"
check "old-style: o2 chains to the EKU-constrained CA (openssl verify -purpose sslclient)" \
    openssl verify -purpose sslclient -CAfile "$O/public/ca-bundle.pem" -CRLfile "$O/public/crls.pem" -crl_check_all "$T/o2.pem"
check "old-style: o1 (EKU-less CA) still verifies" \
    openssl verify -purpose sslclient -CAfile "$O/public/ca-bundle.pem" -CRLfile "$O/public/crls.pem" -crl_check_all "$T/o1.pem"

echo "Truth table across the rollover (nginx $("$NGINX" -v 2>&1 | sed 's|.*/||'), ssl_crl = the sync's crls.pem):"
for r in "${TT_ORDER[@]}"; do
	printf '  %-52s want %-8s got %s\n' "$r" "${TT[$r]%%|*}" "${TT[$r]#*|}"
done
summary
