#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# The Apple profile routes (DESIGN 22): POST /api/v1/enroll/<token>/mobileconfig
# gives the identity profile (plist: com.apple.security.pkcs12 in the legacy
# format, com.apple.security.root, and com.apple.eas.account pointing at the
# identity when userca.conf has [eas] host); the password comes back as
# /p12's (JSON field, or X-Userca-Password with Accept:
# application/x-apple-aspen-config); the token is consumed; GET gives the
# SCEP profile (com.apple.security.scep with Apple's keys: URL, Challenge =
# the token, Keysize 2048, CAFingerprint; com.apple.security.root; no key
# material) and consumes nothing; the retry window
# goes from /p12 to the profile.  Both profiles are signed with the daemon's
# TLS certificate (CMS SignedData, DER, the plist inside, the TLS
# certificate and its chain included): openssl cms -verify and openssl
# smime -verify check the signature against our root (and refuse another
# root), the signer is the TLS certificate; the plist they take out is
# parsed with python3's plistlib; the PKCS#12 opened with openssl and
# python3-cryptography.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
DB=$H/userca.db
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
API=/api/v1/enroll
ROOT_DER=$T/root.der
openssl x509 -in "$H/root/root.crt" -outform DER -out "$ROOT_DER" 2>/dev/null ||
    openssl x509 -inform DER -in "$H/root/root.crt" -outform DER -out "$ROOT_DER"

tok() { new_token "$H" "$@" || fail "userca token $*"; }
used_at() { sqlite3 "$DB" "select ifnull(used_at, 'NULL') from tokens where $(token_sql "$1")"; }

# profile_check PLIST PASSWORD OUTPREFIX: plistlib, the payloads, the PKCS#12
# (python3-cryptography) and the root; prints KEY=VALUE lines of what it found.
profile_check() {
	"$PY" - "$@" "$ROOT_DER" <<'PYEOF'
import plistlib, sys
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography import x509
path, pw, out, root = sys.argv[1:5]
p = plistlib.load(open(path, "rb"))
assert p["PayloadType"] == "Configuration", p["PayloadType"]
assert p["PayloadVersion"] == 1
ids = [p["PayloadUUID"]]
by = {}
for c in p["PayloadContent"]:
    by.setdefault(c["PayloadType"], []).append(c)
    ids.append(c["PayloadUUID"])
    assert c["PayloadIdentifier"].startswith(p["PayloadIdentifier"] + ".")
assert len(set(ids)) == len(ids), "UUIDs are not distinct"
ident = by["com.apple.security.pkcs12"][0]
assert "Password" not in ident, "the password is in the profile"
data = ident["PayloadContent"]
open(out + ".p12", "wb").write(data)
key, cert, extra = pkcs12.load_key_and_certificates(data, pw.encode())
assert key is not None and cert is not None
print("cn=" + cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
print("serial=%X" % cert.serial_number)
r = by["com.apple.security.root"][0]["PayloadContent"]
print("root_same=%s" % (r == open(root, "rb").read()))
eas = by.get("com.apple.eas.account", [])
print("eas=%d" % len(eas))
if eas:
    e = eas[0]
    print("eas_host=" + e["Host"])
    print("eas_ssl=%s" % e["SSL"])
    print("eas_user=" + e.get("UserName", ""))
    print("eas_email=" + e.get("EmailAddress", ""))
    print("eas_cert_is_identity=%s" % (e["PayloadCertificateUUID"] == ident["PayloadUUID"]))
print("types=" + ",".join(sorted(by)))
PYEOF
}
kv() { sed -n "s/^$1=//p" "$T/pc.out"; }
# unsign SIGNED PLIST: the signature checked (openssl cms, against our root;
# the TLS certificate has serverAuth only, hence -purpose any) and the
# plist taken out.
unsign() {
	openssl cms -verify -inform DER -in "$1" -CAfile "$H/root/root.crt" \
	    -purpose any -out "$2" 2>"$T/unsign.err"
}
TLS_FP=$(openssl x509 -in "$H.tls/tls.crt" -noout -fingerprint -sha256)

# ---- without [eas] host: identity and root only ----
ed_conf "$T/main.ini" "$H" "[crl]
poll = 1s
[limits]
rate_limit = 100000"
ed_start main "$T/main.ini"

TA=$(tok alice alice@example.test --upn alice@corp.example.test)
hs "$API/$TA/mobileconfig"
expect_http "GET mobileconfig (the SCEP profile)" 200
check_eq "SCEP profile: Content-Type" "$(hdr Content-Type)" application/x-apple-aspen-config
check_eq "GET mobileconfig consumes nothing" "$(used_at "$TA")" NULL
cp "$T/body" "$T/scep.signed"
check "SCEP profile: a CMS signature that verifies against our root (openssl cms -verify)" \
    unsign "$T/scep.signed" "$T/scep.plist"
run openssl smime -verify -inform DER -in "$T/scep.signed" -CAfile "$H/root/root.crt" \
    -purpose any -signer "$T/scep.signer" -out /dev/null
check_stderr "... and openssl smime -verify" 'Verification successful'
check_eq "... signed by the daemon's TLS certificate" \
    "$(openssl x509 -in "$T/scep.signer" -noout -fingerprint -sha256)" "$TLS_FP"
run openssl pkcs7 -inform DER -in "$T/scep.signed" -print_certs -noout
check_stdout "... which goes in with its chain (the issuing CA)" 'subject=.*Issuing CA'
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.crt" \
    -subj /CN=other -days 2 2>/dev/null
check_fails "... and does not verify against another root" \
    openssl cms -verify -inform DER -in "$T/scep.signed" -CAfile "$T/other.crt" -purpose any -out /dev/null
check "... the plist inside starts as a plist" grep -q '^<?xml' "$T/scep.plist"
ISS_SHA1=$(openssl x509 -in "$H/issuing/ca.crt" -noout -fingerprint -sha1 | sed 's/^.*=//; s/://g' | tr A-F a-f)
"$PY" - "$T/scep.plist" "$ROOT_DER" >"$T/scep.out" 2>&1 <<'PYEOF' || true
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
assert p["PayloadType"] == "Configuration"
by = {c["PayloadType"]: c for c in p["PayloadContent"]}
s = by["com.apple.security.scep"]
c = s["PayloadContent"]
# Apple's SCEP payload keys (Configuration Profile Reference).
for k in ("URL", "Name", "Subject", "Challenge", "Keysize", "Key Type", "Key Usage", "CAFingerprint"):
    assert k in c, k
print("url=" + c["URL"])
print("challenge=" + c["Challenge"])
print("keysize=%d" % c["Keysize"])
print("keytype=" + c["Key Type"])
print("keyusage=%d" % c["Key Usage"])
print("subject=" + "/".join("=".join(rdn) for rdns in c["Subject"] for rdn in rdns))
print("fp=" + c["CAFingerprint"].hex())
print("root_same=%s" % (by["com.apple.security.root"]["PayloadContent"] == open(sys.argv[2], "rb").read()))
print("no_pkcs12=%s" % ("com.apple.security.pkcs12" not in by))
PYEOF
sk() { sed -n "s/^$1=//p" "$T/scep.out"; }
check_cond "plistlib reads the SCEP profile with Apple's keys" '[[ -n $(sk url) ]]' || sed 's/^/    | /' "$T/scep.out"
check_eq "SCEP profile: URL is our /scep" "$(sk url)" "$BASE_URL/scep"
check_eq "SCEP profile: Challenge is the token" "$(sk challenge)" "$TA"
check_eq "SCEP profile: Keysize 2048" "$(sk keysize)" 2048
check_eq "SCEP profile: Key Type RSA" "$(sk keytype)" RSA
check_eq "SCEP profile: Key Usage signing + encryption" "$(sk keyusage)" 5
check_eq "SCEP profile: Subject CN = the token's user" "$(sk subject)" CN=alice
check_eq "SCEP profile: CAFingerprint is the issuing CA's SHA-1" "$(sk fp)" "$ISS_SHA1"
check_eq "SCEP profile: the root payload" "$(sk root_same)" True
check_eq "SCEP profile: no key material" "$(sk no_pkcs12)" True
hs "$API/AAAAAAAAAAAAAAAAAAAAAA/mobileconfig"
expect_http "GET mobileconfig with an unknown token" 404 token_unknown
hs "$API/$TA/mobileconfig" -X PUT
expect_http "PUT mobileconfig" 405
hs "$API/$TA/mobileconfig" -H 'Content-Type: application/json' -d '{"p12_format":"modern"}'
expect_http "profile with p12_format modern is refused" 400 bad_format
check_eq "a refused profile consumes nothing" "$(used_at "$TA")" NULL

hs "$API/$TA/mobileconfig" -H 'Content-Type: application/json' -d '{}' \
    -H 'Accept: application/x-apple-aspen-config'
expect_http "POST mobileconfig (binary)" 200
check_eq "Content-Type" "$(hdr Content-Type)" application/x-apple-aspen-config
check_hdr "Content-Disposition names a .mobileconfig" Content-Disposition 'attachment; filename="[^"]+\.mobileconfig"'
PW=$(hdr X-Userca-Password)
check_cond "X-Userca-Password carries the generated password" '[[ ${#PW} -ge 12 ]]'
RA=$(hdr X-Userca-Retry)
check_cond "X-Userca-Retry carries a retry secret" '[[ $RA =~ ^[A-Za-z0-9_-]{22}$ ]]'
check "identity profile: signed, verifies against our root (openssl cms -verify)" \
    unsign "$T/body" "$T/a.mobileconfig"
check "plistlib parses the profile, the PKCS#12 opens (python3-cryptography)" \
    profile_check "$T/a.mobileconfig" "$PW" "$T/a"
profile_check "$T/a.mobileconfig" "$PW" "$T/a" >"$T/pc.out" 2>/dev/null || true
check_eq "identity: the token's user" "$(kv cn)" alice
check_eq "root payload is the CA's root" "$(kv root_same)" True
check_eq "no [eas] host: no EAS payload" "$(kv eas)" 0
check_eq "payload types" "$(kv types)" "com.apple.security.pkcs12,com.apple.security.root"
check "openssl opens the PKCS#12 payload (no -legacy needed)" \
    openssl pkcs12 -in "$T/a.p12" -passin "pass:$PW" -info -noout
check_stderr "the PKCS#12 payload is the legacy format (3DES)" 'pbeWithSHA1And3-KeyTripleDES-CBC'
check_eq "X-Userca-Serial is the identity's" "$(hdr X-Userca-Serial | norm_serial)" "$(kv serial | norm_serial)"
check_cond "the token is consumed" '[[ $(used_at "$TA") != NULL ]]'
check_eq "method recorded" "$(sqlite3 "$DB" "select method from certificates where serial = '$(kv serial | norm_serial)'")" enroll-p12
hs "$API/$TA/mobileconfig" -H 'Content-Type: application/json' -d '{}'
expect_http "a used token" 403 token_used
hs "$API/$TA/p12" -H 'Content-Type: application/json' -d '{}'
expect_http "a used token on /p12 too" 403 token_used

# ---- JSON answer; the retry goes from /p12 to the profile ----
TB=$(tok bob bob@example.test)
hs "$API/$TB/p12" -H 'Content-Type: application/json' -d '{"p12_format":"modern"}'
expect_http "bob: p12 modern" 200
RB=$(jget "$T/body" retry)
SB=$(jget "$T/body" serial | norm_serial)
hs "$API/$TB/mobileconfig" -H 'Content-Type: application/json' \
    -d '{"password":"correct horse battery"}' -H "X-Userca-Retry: $RB"
expect_http "bob: the retry as a profile, own password (JSON)" 200
check_eq "JSON: p12_format legacy" "$(jget "$T/body" p12_format)" legacy
check_eq "JSON: no password field with the user's own" "$(jget "$T/body" password)" ""
"$PY" -c 'import json, sys, base64
open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["mobileconfig"], validate=True))' \
    "$T/body" "$T/b.signed"
check "bob: the JSON's profile is signed too" unsign "$T/b.signed" "$T/b.mobileconfig"
check "bob: profile parses, opens with the own password" \
    profile_check "$T/b.mobileconfig" "correct horse battery" "$T/b"
check_eq "bob: the /p12 certificate is revoked, superseded" \
    "$(sqlite3 "$DB" "select status || ' ' || reason from certificates where serial = '$SB'")" "revoked 4"
hs "$API/$TB/mobileconfig" -H 'Content-Type: application/json' -d '{}' -H "X-Userca-Retry: $RB"
expect_http "bob: a second retry" 403 token_used

# ---- with [eas] host and domain: the Exchange account ----
ed_stop main
cat >>"$H/userca.conf" <<'EOF'

[eas]
host = mail.corp.example.test
domain = CORP
EOF
ed_start eas "$T/main.ini"
TC=$(tok carol 'carol&co@example.test' --upn 'carol@corp.example.test')
hs "$API/$TC/mobileconfig" -H 'Content-Type: application/json' -d '{}'
expect_http "carol: profile with [eas] host (JSON)" 200
PC=$(jget "$T/body" password)
"$PY" -c 'import json, sys, base64
open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["mobileconfig"], validate=True))' \
    "$T/body" "$T/c.signed"
unsign "$T/c.signed" "$T/c.mobileconfig" || bad "carol: the profile does not verify"
profile_check "$T/c.mobileconfig" "$PC" "$T/c" >"$T/pc.out" 2>"$T/pc.err" || { bad "carol: profile_check"; cat "$T/pc.err"; }
check_eq "EAS payload present" "$(kv eas)" 1
check_eq "EAS Host from [eas] host" "$(kv eas_host)" mail.corp.example.test
check_eq "EAS SSL true" "$(kv eas_ssl)" True
check_eq "EAS UserName is the UPN" "$(kv eas_user)" carol@corp.example.test
check_eq "EAS EmailAddress from the record (XML-escaped '&' survives)" "$(kv eas_email)" 'carol&co@example.test'
check_eq "EAS PayloadCertificateUUID is the identity's PayloadUUID" "$(kv eas_cert_is_identity)" True
check_grep "the '&' is escaped in the XML" 'carol&amp;co@example\.test' "$T/c.mobileconfig"

TD=$(tok dave dave@example.test)
hs "$API/$TD/mobileconfig" -H 'Content-Type: application/json' -d '{}'
expect_http "dave (no UPN): profile" 200
PD=$(jget "$T/body" password)
"$PY" -c 'import json, sys, base64
open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["mobileconfig"], validate=True))' \
    "$T/body" "$T/d.signed"
unsign "$T/d.signed" "$T/d.mobileconfig" || bad "dave: the profile does not verify"
profile_check "$T/d.mobileconfig" "$PD" "$T/d" >"$T/pc.out" 2>/dev/null || bad "dave: profile_check"
check_eq "EAS UserName without a UPN is DOMAIN\\user" "$(kv eas_user)" 'CORP\dave'
check_eq "EAS EmailAddress" "$(kv eas_email)" dave@example.test
ed_stop eas

summary
