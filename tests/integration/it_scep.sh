#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# SCEP (RFC 8894) in userca-enrolld, with clients we did not write:
#   GetCACaps, GetCACert (the RA certificate: RSA, digitalSignature +
#   keyEncipherment, issued by the issuing CA, key 0600) at /scep and
#   /cgi-bin/pkiclient.exe;
#   micromdm scepclient (DES, so [scep] allow_des = true, and
#   -ca-fingerprint of the RA, DESIGN 19): a token enrolls (identity from the
#   token, not the CSR), the same token again and a wrong token get a SCEP
#   FAILURE, and no row;
#   strongSwan pki --scep: AES + SHA-256 and 3DES + SHA-1 (POST and the
#   alias), RenewalReq with --cert/--key (same user, supersedes the old one,
#   which stays valid), a second renewal by the same old certificate and a
#   renewal signed by a revoked certificate refused;
#   certmonger (private session bus and state): a token enrolls, then
#   getcert rekey renews signed with the current certificate (scep-renew,
#   supersedes it);
#   single DES without allow_des refused (badAlg), token untouched;
#   wrong tokens over [limits] rate_limit refused unseen, a valid one not;
#   hand-made requests (tests/integration/scep_msg.py, asn1crypto +
#   cryptography): GET PKIOperation, POST over HTTPS, GetCert, GetCRL
#   (checked with openssl crl), a replayed transaction (same
#   certificate, one row), CertPoll, a PKCSReq signed with a key other than
#   its CSR's (badMessageCheck), one encrypted to another certificate, a
#   weak key, garbage, truncated and oversized bodies: each refused as said,
#   no row, token unused.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool scepclient pki

H=$T/pki
DB=$H/userca.db
ed_home "$H"
ed_conf "$T/d.ini" "$H" "[scep]
allow_des = true
[crl]
poll = 1s"
ed_start d "$T/d.ini"
SCEP=$HTTP/scep
ALIAS=$HTTP/cgi-bin/pkiclient.exe
MSG=$HERE/scep_msg.py
RA=$H/issuing/scep-ra.crt
ISS=$H/issuing/ca.crt
CHAIN=$T/chain.pem
cat "$ISS" "$H/root/root.crt" >"$CHAIN"

tok() { new_token "$H" "$@" || fail "userca token $*"; }
used_at() { sqlite3 "$DB" "select ifnull(used_at, 'NULL') from tokens where $(token_sql "$1")"; }
rows() { sqlite3 "$DB" "select count(*) from certificates where kind = 'user'"; }
status_of() { sqlite3 "$DB" "select status from certificates where serial = '$1'"; }

# ---- GetCACaps, GetCACert --------------------------------------------------------
run curl -sS "$SCEP?operation=GetCACaps"
for c in POSTPKIOperation SHA-256 SHA-512 AES DES3 SCEPStandard Renewal; do
	check_stdout "GetCACaps: $c" "^$c\$"
done
run curl -sS -D "$T/hdr" -o "$T/ca.p7" "$ALIAS?operation=GetCACert"
check_grep "GetCACert: application/x-x509-ca-ra-cert" 'content-type: application/x-x509-ca-ra-cert' "$T/hdr"
run openssl pkcs7 -inform DER -in "$T/ca.p7" -print_certs -noout
check_stdout "GetCACert holds the RA" "subject=.*SCEP RA"
check_stdout "GetCACert holds the issuing CA" "subject=.*Issuing CA"
check_stdout "GetCACert holds the root" "subject=.*Root CA"
check_mode "the RA key is 0600" "$H/issuing/scep-ra.key" 600
run openssl x509 -in "$RA" -noout -text
check_stdout "RA: RSA 2048" "Public-Key: \\(2048 bit\\)"
check_stdout "RA: digitalSignature, keyEncipherment" "Digital Signature, Key Encipherment"
run openssl verify -CAfile "$H/root/root.crt" -untrusted "$ISS" "$RA"
check "RA chains to the root (openssl verify)"
run curl -sS -o /dev/null -w '%{http_code}' "$SCEP?operation=Nope"
check_stdout "unknown operation: 400" '^400$'
run curl -sS -o /dev/null -w '%{http_code}' "$SCEP"
check_stdout "no operation: 400" '^400$'

# ---- micromdm scepclient (DES-CBC, needs allow_des) --------------------------------
FP=$(openssl x509 -in "$RA" -outform DER | sha256sum | cut -c1-64)
# scepclient keeps csr.pem and self.pem in its working folder: one each.
sc() {	# DIR TOKEN [args]
	local d=$1 t=$2; shift 2
	mkdir -p "$d"
	(cd "$d" && timeout 60 scepclient -server-url "$SCEP" -challenge="$t" \
	    -private-key k.pem -certificate c.pem -ca-fingerprint "$FP" "$@") >"$OUT" 2>&1 || true
}
TA=$(tok alice)
N0=$(rows)
sc "$T/sc1" "$TA" -cn mallory
check_file "scepclient: certificate written" "$T/sc1/c.pem"
run openssl x509 -in "$T/sc1/c.pem" -noout -subject
check_stdout "scepclient: identity from the token (alice, not the CSR's mallory)" "CN ?= ?alice"
run openssl verify -CAfile "$H/root/root.crt" -untrusted "$ISS" "$T/sc1/c.pem"
check "scepclient's certificate verifies (openssl verify)"
S1=$(cert_serial "$T/sc1/c.pem")
check_eq "recorded, method scep" "$(sqlite3 "$DB" "select method from certificates where serial = '$S1'")" scep
check_cond "token consumed" '[[ $(used_at "$TA") != NULL ]]'
N1=$(rows)
sc "$T/sc2" "$TA"
check_grep "the same token again: FAILURE badRequest" 'failInfo: badRequest' "$OUT"
check_nofile "the same token again: no certificate" "$T/sc2/c.pem"
sc "$T/sc3" AAAAAAAAAAAAAAAAAAAAAA
check_grep "a wrong token: FAILURE badRequest" 'failInfo: badRequest' "$OUT"
check_eq "no row for either refusal" "$(rows)" "$N1"
check_eq "one row for one enrollment" "$N1" $((N0 + 1))

# ---- strongSwan pki --scep ------------------------------------------------------------
(cd "$T" && pki --scepca --url "$SCEP" --caout ss-ca.der --raout ss-ra.der) >"$OUT" 2>&1 || true
check_file "pki --scepca wrote the RA" "$T/ss-ra.der"
SSCA=()
for f in "$T"/ss-ca*.der; do SSCA+=(--cacert "$f"); done
pkiscep() {	# URL KEY OUTDER [args]
	local u=$1 k=$2 o=$3; shift 3
	pki --scep --url "$u" --in "$k" --dn "CN=device" --cacert-enc "$T/ss-ra.der" \
	    --cacert-sig "$T/ss-ra.der" "${SSCA[@]}" "$@" >"$o" 2>"$ERR" || RC=$?
}
for v in "aes sha256 $SCEP" "des3 sha1 $ALIAS" "aes sha512 $ALIAS"; do
	read -r ci dg u <<<"$v"
	u2=bob_$ci$dg
	TB=$(tok "$u2")
	pki --gen --type rsa --size 2048 >"$T/$u2.key" 2>/dev/null
	RC=0
	pkiscep "$u" "$T/$u2.key" "$T/$u2.der" --password "$TB" --cipher "$ci" --digest "$dg"
	check_eq "pki --scep $ci/$dg ($u): exit 0" "$RC" 0
	run openssl x509 -inform DER -in "$T/$u2.der" -noout -subject
	check_stdout "pki --scep $ci/$dg: issued to $u2" "CN ?= ?$u2"
	check_cond "pki --scep $ci/$dg: token consumed" '[[ $(used_at "$TB") != NULL ]]'
done
openssl x509 -inform DER -in "$T/bob_aessha256.der" -out "$T/bob.pem"
OLD=$(cert_serial "$T/bob.pem")

# Renewal (RenewalReq signed by the current certificate).
pki --gen --type rsa --size 2048 >"$T/bob2.key" 2>/dev/null
N=$(rows)
RC=0
pkiscep "$SCEP" "$T/bob2.key" "$T/bob2.der" --cert "$T/bob_aessha256.der" --key "$T/bob_aessha256.key"
check_eq "renewal (pki --scep --cert/--key): exit 0" "$RC" 0
openssl x509 -inform DER -in "$T/bob2.der" -out "$T/bob2.pem" 2>/dev/null || true
NEW=$(cert_serial "$T/bob2.pem")
run openssl x509 -in "$T/bob2.pem" -noout -subject
check_stdout "renewal: same user" "CN ?= ?bob_aessha256"
check_eq "renewal: one new row" "$(rows)" $((N + 1))
check_eq "renewal: recorded as scep-renew" "$(sqlite3 "$DB" "select method from certificates where serial = '$NEW'")" scep-renew
check_eq "renewal: the old one is superseded by the new one" \
    "$(sqlite3 "$DB" "select n.serial from certificates o join certificates n on n.id = o.superseded_by where o.serial = '$OLD'")" "$NEW"
check_eq "renewal: the old one stays valid ([renew] revoke_old off)" "$(status_of "$OLD")" valid
check_eq "renewal: the new key" "$(pubkey_of_cert "$T/bob2.pem")" "$(pubkey_of_key "$T/bob2.key")"
N=$(rows)
pki --gen --type rsa --size 2048 >"$T/bob3.key" 2>/dev/null
RC=0
pkiscep "$SCEP" "$T/bob3.key" "$T/bob3.der" --cert "$T/bob_aessha256.der" --key "$T/bob_aessha256.key"
check_ne "a second renewal by the same certificate: refused" "$RC" 0
check_grep "... with badCertId" 'badCertId' "$ERR"
# Revoked: refused.
must "revoke bob's renewed certificate" uc revoke --home "$H" --serial "$NEW"
RC=0
pkiscep "$SCEP" "$T/bob3.key" "$T/bob3.der" --cert "$T/bob2.der" --key "$T/bob2.key"
check_ne "renewal signed by a revoked certificate: refused" "$RC" 0
check_grep "... with badCertId" 'badCertId' "$ERR"
check_eq "no row for the refused renewals" "$(rows)" "$N"

# ---- hand-made requests ------------------------------------------------------------------
req() { "$PY" "$MSG" req --ra "$RA" "$@"; }
send() { "$PY" "$MSG" send --url "$SCEP" "$@" >"$OUT" 2>&1 || echo "send failed" >>"$OUT"; }
TC=$(tok carol)
req --key "$T/c.key" --challenge="$TC" --cn ignored --cipher aes128 --digest sha512 --tid tx-carol --out "$T/c.req"
send --in "$T/c.req" --key "$T/c.key" --get --out "$T/c.pem"
check_stdout "GET PKIOperation (AES-128, SHA-512): SUCCESS" '^SUCCESS '
SC=$(awk '{print $2}' "$OUT")
# GET as sscep and strongSwan write it: base64 in lines of 64 (%0A), '+' as
# %2B; answered like the POST (the same transaction: the same certificate).
B64=$(base64 -w 64 "$T/c.req" | sed 's/+/%2B/g' | awk 'NR > 1 { printf "%%0A" } { printf "%s", $0 }')
run curl -sS -o "$T/c-get.rep" -w '%{http_code} %{content_type}' "$SCEP?operation=PKIOperation&message=$B64"
check_stdout "GET with %0A-wrapped base64: a CertRep" '^200 application/x-pki-message$'
run "$PY" -c 'import sys
from asn1crypto import cms
si = cms.ContentInfo.load(open(sys.argv[1], "rb").read())["content"]["signer_infos"][0]
print("pkiStatus", [a["values"][0].native for a in si["signed_attrs"]
    if a["type"].dotted == "2.16.840.1.113733.1.9.3"][0])' "$T/c-get.rep"
check_stdout "... SUCCESS" '^pkiStatus 0$'
N=$(rows)
send --in "$T/c.req" --key "$T/c.key"
check_stdout "the same message again (replay): the same certificate" "^SUCCESS $SC\$"
check_eq "the replay issued nothing" "$(rows)" "$N"
# Over HTTPS too (the same messages; only the web page needs TLS).
TH=$(tok heidi)
req --key "$T/h.key" --challenge="$TH" --out "$T/h.req"
"$PY" "$MSG" send --url "$HTTPS/scep" --cafile "$H/public/ca-bundle.pem" --in "$T/h.req" \
    --key "$T/h.key" --out "$T/h.pem" >"$OUT" 2>&1 || true
check_stdout "PKIOperation over HTTPS: SUCCESS" '^SUCCESS '
run curl -sS --cacert "$H/public/ca-bundle.pem" "$HTTPS/cgi-bin/pkiclient.exe?operation=GetCACaps"
check_stdout "GetCACaps over HTTPS" '^SCEPStandard$'
req --key "$T/c.key" --tid tx-carol --type 20 --content "$T/c.req" --out "$T/poll.req"
send --in "$T/poll.req" --key "$T/c.key"
check_stdout "CertPoll: the transaction's certificate" "^SUCCESS $SC\$"
# GetCert: a recorded certificate by issuer and serial; GetCRL: the CRL.
req --key "$T/c.key" --type 21 --issuer-serial "$T/bob.pem" --out "$T/getcert.req"
send --in "$T/getcert.req" --key "$T/c.key"
check_stdout "GetCert: bob's certificate" "^SUCCESS $OLD\$"
req --key "$T/c.key" --type 22 --issuer-serial "$T/bob.pem" --out "$T/getcrl.req"
"$PY" "$MSG" send --url "$SCEP" --in "$T/getcrl.req" --key "$T/c.key" --out "$T/scep.crl" >"$OUT" 2>&1 || true
check_stdout "GetCRL: SUCCESS with a CRL" '^SUCCESS CRL$'
run openssl crl -inform DER -in "$T/scep.crl" -CAfile "$CHAIN" -noout
check_stderr "GetCRL: the issuing CA's CRL, verified by openssl" 'verify OK'
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/o.key" -out "$T/o.crt" -subj /CN=other -days 2 2>/dev/null
req --key "$T/c.key" --type 21 --issuer-serial "$T/o.crt" --out "$T/getcert2.req"
send --in "$T/getcert2.req" --key "$T/c.key"
check_stdout "GetCert of a certificate not ours: badCertId" '^FAILURE 4$'
req --key "$T/c.key" --tid tx-unknown --type 20 --content "$T/c.req" --out "$T/poll2.req"
send --in "$T/poll2.req" --key "$T/c.key"
check_stdout "CertPoll of an unknown transaction: badCertId" '^FAILURE 4$'

refused() {	# DESC TOKEN EXPECTED...
	local d=$1 t=$2; shift 2
	send --in "$T/x.req" --key "$T/x.key"
	check_stdout "$d: $*" "^$*\$"
	check_eq "$d: no row" "$(rows)" "$N"
	check_eq "$d: token unused" "$(used_at "$t")" NULL
}
TD=$(tok dave)
N=$(rows)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
req --key "$T/x.key" --challenge="$TD" --sign-key "$T/other.key" --out "$T/x.req"
refused "PKCSReq signed with a key other than its CSR's" "$TD" FAILURE 1
req --key "$T/x.key" --challenge="$TD" --encrypt-to "$T/o.crt" --out "$T/x.req"
refused "encrypted to another certificate" "$TD" FAILURE 1
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/weak.key" 2>/dev/null
req --key "$T/weak.key" --challenge="$TD" --out "$T/x.req"
cp "$T/weak.key" "$T/x.key"
refused "a 1024-bit RSA key" "$TD" FAILURE 2
rm -f "$T/x.key"
req --key "$T/x.key" --out "$T/x.req"
refused "no challengePassword" "$TD" FAILURE 2
req --key "$T/x.key" --challenge="$TD" --type 17 --out "$T/x.req"
refused "RenewalReq signed by a self-signed certificate" "$TD" FAILURE 2
head -c 3000 /dev/urandom >"$T/x.req"
refused "garbage" "$TD" HTTP 400
req --key "$T/x.key" --challenge="$TD" --out "$T/full.req"
head -c 900 "$T/full.req" >"$T/x.req"
refused "a truncated message" "$TD" HTTP 400
head -c 70000 /dev/zero >"$T/x.req"
refused "a body over [limits] max_body" "$TD" HTTP 413
cp "$T/full.req" "$T/x.req"
send --in "$T/x.req" --key "$T/x.key"
check_stdout "after all that, dave's token still enrolls" '^SUCCESS '

# ---- certmonger: enrollment with a token, then its own renewal (rekey) -----------------------
if command -v certmonger >/dev/null && command -v getcert >/dev/null &&
    command -v dbus-run-session >/dev/null; then
	# A private session bus and state folders: nothing under /var/lib.
	CM=$T/cm
	mkdir -p "$CM/cas" "$CM/requests" "$CM/local" "$CM/tmp" "$CM/conf"
	TF=$(tok frank)
	{
		echo "getcert add-scep-ca -s -c userca -u $SCEP"
		echo "getcert request -s -c userca -f $CM/host.pem -k $CM/host.key --challenge-password=$TF" \
		    "-N CN=mallory -I cm1 -w --wait-timeout 60"
		echo "cp $CM/host.pem $CM/first.pem"
		echo "getcert rekey -s -i cm1 -w --wait-timeout 60"
		echo "getcert list -s"
	} >"$CM/run.sh"
	N=$(rows)
	HOME=$CM CERTMONGER_CAS_DIR=$CM/cas CERTMONGER_REQUESTS_DIR=$CM/requests \
	    CERTMONGER_LOCAL_CA_DIR=$CM/local CERTMONGER_TMPDIR=$CM/tmp \
	    CERTMONGER_CONFIG_DIR=$CM/conf CERTMONGER_SYSTEM_LOCK_FILE=$CM/lock \
	    timeout 180 dbus-run-session -- certmonger -s -n -c "sh $CM/run.sh" >"$OUT" 2>&1 || true
	check_file "certmonger: enrolled with a token" "$CM/first.pem"
	run openssl x509 -in "$CM/first.pem" -noout -subject
	check_stdout "certmonger: identity from the token (frank, not mallory)" "CN ?= ?frank"
	F1=$(cert_serial "$CM/first.pem")
	F2=$(cert_serial "$CM/host.pem")
	check_ne "certmonger rekey: a new certificate" "$F2" "$F1"
	check_eq "certmonger rekey: recorded as scep-renew (signed with the current one)" \
	    "$(sqlite3 "$DB" "select method from certificates where serial = '$F2'")" scep-renew
	check_eq "certmonger rekey: supersedes the first" \
	    "$(sqlite3 "$DB" "select n.serial from certificates o join certificates n on n.id = o.superseded_by where o.serial = '$F1'")" "$F2"
	check_eq "certmonger: two rows" "$(rows)" $((N + 2))
else
	echo "SKIP: certmonger, getcert or dbus-run-session not installed"
fi

# ---- single DES without allow_des --------------------------------------------------------------
ed_stop d
check_confined d "SCEP (DES, AES, renewal, GetCert, GetCRL, certmonger)"
ed_conf "$T/d2.ini" "$H" ""
ed_start d2 "$T/d2.ini"
TE=$(tok erin)
N=$(rows)
sc "$T/sc4" "$TE"
check_grep "scepclient (DES) without allow_des: FAILURE badAlg" 'failInfo: badAlg' "$OUT"
check_eq "... no row" "$(rows)" "$N"
check_eq "... token unused" "$(used_at "$TE")" NULL
req --key "$T/e.key" --challenge="$TE" --cipher des3 --out "$T/e.req"
send --in "$T/e.req" --key "$T/e.key"
check_stdout "the same token in 3DES enrolls" '^SUCCESS '
# [limits] rate_limit (10 a minute): wrong tokens from one address are
# then refused unseen, while a valid token still enrolls (a NAT).
req --key "$T/e.key" --challenge AAAAAAAAAAAAAAAAAAAAAA --out "$T/bad.req"
for _ in $(seq 11); do send --in "$T/bad.req" --key "$T/e.key"; done
check_stdout "the 11th wrong token: FAILURE badRequest" '^FAILURE 2$'
check_grep "... refused by the rate limit" 'too many failed attempts from this address' "$T/d2.log"
TG=$(tok grace)
req --key "$T/g.key" --challenge="$TG" --out "$T/g.req"
send --in "$T/g.req" --key "$T/g.key"
check_stdout "a valid token from the same address still enrolls" '^SUCCESS '
ed_stop d2
check_nogrep "... really: erin's token is not in the log" "$TE" "$T/d2.log"
check_nogrep "... nor alice's" "$TA" "$T/d.log"
summary
