#!/usr/bin/env bash
# init --intermediate: the root key at rest, the root and issuing CA profiles,
# the chain, the published files, refusing to init twice; then one
# `--profile compatible` init (RSA 4096 root, RSA 3072 issuing).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/pki
ca_init "$H" --intermediate --profile modern

for f in userca.conf userca.db root/root.crt root/root.key issuing/ca.crt issuing/ca.key \
    public/ca-bundle.pem public/ca.crt public/crl.der public/crl.pem public/root.crl public/ca.json; do
	check_file "init created $f" "$H/$f"
done
ROOT=$H/root/root.crt
ISS=$H/issuing/ca.crt
[[ -f $ROOT && -f $ISS ]] || fail "no root or issuing certificate"

# ---- the root key at rest ----
check_eq "root.key is encrypted PKCS#8 PEM" "$(head -1 "$H/root/root.key")" \
    '-----BEGIN ENCRYPTED PRIVATE KEY-----'
check_mode "root.key mode 0600" "$H/root/root.key" 600
check_mode "issuing ca.key mode 0600" "$H/issuing/ca.key" 600
check "root.key opens with the passphrase (openssl pkey -passin file:)" \
    openssl pkey -in "$H/root/root.key" -passin "file:$PASSFILE" -noout
check_fails "root.key refuses a wrong passphrase" \
    openssl pkey -in "$H/root/root.key" -passin pass:not-the-passphrase -noout
check_fails "root.key refuses an empty passphrase" \
    openssl pkey -in "$H/root/root.key" -passin pass: -noout
run openssl asn1parse -in "$H/root/root.key"
check_stdout "root.key encryption is PBES2/PBKDF2 with aes-256-cbc" 'aes-256-cbc'
check_stdout "root.key encryption uses PBKDF2" 'PBKDF2'
if openssl pkey -in "$H/root/root.key" -passin "file:$PASSFILE" -pubout >"$T/rootkey.pub" 2>/dev/null; then
	pubkey_of_cert "$ROOT" >"$T/rootcert.pub"
	check_same "root.key is the key of root.crt" "$T/rootkey.pub" "$T/rootcert.pub"
else
	bad "root.key does not open"
fi
pubkey_of_key "$H/issuing/ca.key" -passin pass: >"$T/isskey.pub" 2>/dev/null || true
pubkey_of_cert "$ISS" >"$T/isscert.pub"
check_same "issuing ca.key is the key of issuing ca.crt" "$T/isskey.pub" "$T/isscert.pub"

# ---- the profiles, read by openssl ----
openssl x509 -in "$ROOT" -noout -text >"$T/root.txt"
openssl x509 -in "$ISS" -noout -text >"$T/iss.txt"
check_grep "root: basicConstraints critical" 'X509v3 Basic Constraints: critical' "$T/root.txt"
check_grep "root: CA:TRUE" '^ *CA:TRUE' "$T/root.txt"
check_grep "root: keyUsage critical" 'X509v3 Key Usage: critical' "$T/root.txt"
check_grep "root: keyCertSign + cRLSign" 'Certificate Sign, CRL Sign' "$T/root.txt"
check_grep "root: SKI" 'X509v3 Subject Key Identifier' "$T/root.txt"
check_grep "root: v3" 'Version: 3 \(0x2\)' "$T/root.txt"
check_eq "root is self-issued" "$(openssl x509 -in "$ROOT" -noout -issuer | sed 's/^issuer=//')" \
    "$(openssl x509 -in "$ROOT" -noout -subject | sed 's/^subject=//')"
check "root verifies as its own trust anchor" openssl verify -CAfile "$ROOT" "$ROOT"
check_grep "root subject has O=$ORG" "O ?= ?$ORG" <(openssl x509 -in "$ROOT" -noout -subject)

check_grep "issuing: basicConstraints critical" 'X509v3 Basic Constraints: critical' "$T/iss.txt"
check_grep "issuing: CA:TRUE, pathlen:0" 'CA:TRUE, pathlen:0' "$T/iss.txt"
check_grep "issuing: keyCertSign + cRLSign" 'Certificate Sign, CRL Sign' "$T/iss.txt"
check_grep "issuing: CRL DP is <base>/root.crl" "URI:$BASE_URL/root.crl" "$T/iss.txt"
check_eq "issuing: issuer is the root" "$(openssl x509 -in "$ISS" -noout -issuer | sed 's/^issuer=//')" \
    "$(openssl x509 -in "$ROOT" -noout -subject | sed 's/^subject=//')"
check "openssl verify -CAfile root.crt issuing/ca.crt" openssl verify -CAfile "$ROOT" "$ISS"
check "issuing CA verifies for purpose any with -x509_strict" \
    openssl verify -x509_strict -CAfile "$ROOT" "$ISS"

check "python: root/issuing extensions (critical flags, AKI = root SKI, EC keys, validity)" py '
import sys, datetime
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID as E
r = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
i = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
errs = []
def need(c, m):
    if not c: errs.append(m)
for name, c in (("root", r), ("issuing", i)):
    bc = c.extensions.get_extension_for_oid(E.BASIC_CONSTRAINTS)
    need(bc.critical and bc.value.ca, name + ": basicConstraints CA:TRUE critical")
    ku = c.extensions.get_extension_for_oid(E.KEY_USAGE).value
    need(ku.key_cert_sign and ku.crl_sign, name + ": keyCertSign+cRLSign")
    need(isinstance(c.public_key(), ec.EllipticCurvePublicKey), name + ": modern profile key is EC")
    need(c.serial_number > 0 and c.serial_number.bit_length() <= 159, name + ": serial positive, <= 20 octets")
need(r.extensions.get_extension_for_oid(E.KEY_USAGE).critical, "root: keyUsage critical")
need(i.extensions.get_extension_for_oid(E.BASIC_CONSTRAINTS).value.path_length == 0, "issuing pathlen 0")
rski = r.extensions.get_extension_for_oid(E.SUBJECT_KEY_IDENTIFIER).value.digest
iski = i.extensions.get_extension_for_oid(E.SUBJECT_KEY_IDENTIFIER).value.digest
aki = i.extensions.get_extension_for_oid(E.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
need(aki == rski, "issuing AKI keyid == root SKI")
need(iski != rski, "issuing SKI differs from root SKI")
need(i.not_valid_after <= r.not_valid_after, "issuing notAfter <= root notAfter")
ry = (r.not_valid_after - r.not_valid_before).days / 365.25
iy = (i.not_valid_after - i.not_valid_before).days / 365.25
need(19.5 < ry < 20.5, "root validity ~20 years (got %.2f)" % ry)
need(9.5 < iy < 10.5, "issuing validity ~10 years (got %.2f)" % iy)
now = datetime.datetime.utcnow()
need(r.not_valid_before <= now + datetime.timedelta(minutes=5), "root valid now")
if errs:
    print("\n".join(errs)); sys.exit(1)
' "$ROOT" "$ISS"

# ---- public/ ----
P=$H/public
n=$(split_pem "$P/ca-bundle.pem" "$T/bundle")
check_eq "ca-bundle.pem holds 2 certificates" "$n" 2
check_eq "ca-bundle.pem: 1st is the issuing CA" "$(cert_fp "$T/bundle1.pem" sha256 2>/dev/null)" "$(cert_fp "$ISS" sha256)"
check_eq "ca-bundle.pem: 2nd is the root" "$(cert_fp "$T/bundle2.pem" sha256 2>/dev/null)" "$(cert_fp "$ROOT" sha256)"
openssl x509 -in "$ISS" -outform DER -out "$T/iss.der"
check_same "public/ca.crt is the issuing CA in DER" "$P/ca.crt" "$T/iss.der"

check "crl.der parses as a DER CRL" openssl crl -inform DER -in "$P/crl.der" -noout
if openssl crl -inform DER -in "$P/crl.der" -out "$T/crl-from-der.pem" 2>/dev/null; then
	check_same "crl.pem is crl.der in PEM" "$T/crl-from-der.pem" "$P/crl.pem"
else
	bad "crl.der does not convert"
fi
run openssl crl -in "$P/crl.pem" -CAfile "$ISS" -noout
check_stderr "crl.pem is signed by the issuing CA (openssl crl -CAfile: verify OK)" 'verify OK'
check_eq "crl.pem issuer is the issuing CA" \
    "$(openssl crl -in "$P/crl.pem" -noout -issuer 2>/dev/null | sed 's/^issuer=//')" \
    "$(openssl x509 -in "$ISS" -noout -subject | sed 's/^subject=//')"
check "root.crl parses as a DER CRL" openssl crl -inform DER -in "$P/root.crl" -out "$T/root-crl.pem"
run openssl crl -in "$T/root-crl.pem" -CAfile "$ROOT" -noout
check_stderr "root.crl is signed by the root (verify OK)" 'verify OK'
check_eq "root.crl issuer is the root" \
    "$(openssl crl -in "$T/root-crl.pem" -noout -issuer 2>/dev/null | sed 's/^issuer=//')" \
    "$(openssl x509 -in "$ROOT" -noout -subject | sed 's/^subject=//')"
for c in "$P/crl.pem" "$T/root-crl.pem"; do
	openssl crl -in "$c" -noout -text >"$T/crl.txt" 2>/dev/null || true
	check_grep "${c##*/}: v2 CRL" 'Version 2 \(0x1\)' "$T/crl.txt"
	check_grep "${c##*/}: CRL Number" 'X509v3 CRL Number' "$T/crl.txt"
	check_grep "${c##*/}: AKI" 'X509v3 Authority Key Identifier' "$T/crl.txt"
done
cat "$P/crl.pem" "$T/root-crl.pem" >"$T/crls.pem"
check "issuing CA verifies with -crl_check against the root CRL" \
    openssl verify -crl_check -CAfile "$ROOT" -CRLfile "$T/crls.pem" "$ISS"

check "ca.json: fingerprints match openssl x509 -fingerprint (sha1, sha256) of both CAs" py '
import json, re, sys
doc = json.load(open(sys.argv[1]))
strings = set()
def walk(v):
    if isinstance(v, dict):
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
    elif isinstance(v, str):
        strings.add(re.sub("[^0-9a-f]", "", v.lower()))
walk(doc)
missing = [name for name, fp in zip(sys.argv[2::2], sys.argv[3::2]) if fp not in strings]
if missing:
    print("not in ca.json:", missing, "\n", json.dumps(doc, indent=1)[:1500]); sys.exit(1)
' "$P/ca.json" issuing-sha1 "$(cert_fp "$ISS" sha1)" issuing-sha256 "$(cert_fp "$ISS" sha256)" \
    root-sha1 "$(cert_fp "$ROOT" sha1)" root-sha256 "$(cert_fp "$ROOT" sha256)"

check_eq "public/: no temporary files left from atomic writes" \
    "$(cd "$P" && find . -type f \( -name '.*' -o -name '*.tmp' -o -name '*~' \) | wc -l)" 0

# publish rewrites public/ from what is recorded (it does not re-sign CRLs)
num_before=$(openssl crl -in "$P/crl.pem" -noout -crlnumber 2>/dev/null)
rm -rf "${P:?}"/*
must "userca publish" uc publish --home "$H"
for f in ca-bundle.pem ca.crt crl.der crl.pem root.crl ca.json \
    gateway/nginx-userca.conf gateway/apache-userca.conf \
    gateway/userca-trust.ps1; do
	check_file "publish re-created public/$f" "$P/$f"
done
# Per-user material is made on demand (userca export --all), never published.
check_nofile "publish writes no per-user public/gateway/iis-mappings.csv" "$P/gateway/iis-mappings.csv"
check_same "publish: ca.crt is the issuing CA again" "$P/ca.crt" "$T/iss.der"
check_eq "publish: same CRL number (not re-signed)" \
    "$(openssl crl -in "$P/crl.pem" -noout -crlnumber 2>/dev/null)" "$num_before"
check_same "publish: root.crl unchanged" <(openssl crl -inform DER -in "$P/root.crl" 2>/dev/null) "$T/root-crl.pem"

check_eq "db: CRLs of both CAs recorded" \
    "$(sqlite3 "$H/userca.db" 'select count(distinct issuer_ski) from crls')" 2
db_checks "$H"

# ---- init over an existing CA ----
home_state "$H" >"$T/before"
expect_rc 1 "init over an existing CA is refused" \
    uc init --home "$H" --org "$ORG" --base-url "$BASE_URL" --intermediate --profile modern \
    --passphrase-file "$PASSFILE"
check_stderr "...saying the CA already exists" 'already|exist'
home_state "$H" >"$T/after"
check_same "...and leaves the home unchanged" "$T/before" "$T/after"
expect_rc 1 "init without --intermediate over an existing CA is refused too" \
    uc init --home "$H" --org Other --base-url http://other.test --passphrase-file "$PASSFILE"
home_state "$H" >"$T/after"
check_same "...home unchanged" "$T/before" "$T/after"
USERCA_HOME=$H expect_rc 1 "init with the home from \$USERCA_HOME is refused too" \
    uc init --org "$ORG" --base-url "$BASE_URL" --passphrase-file "$PASSFILE"
home_state "$H" >"$T/after"
check_same "...home unchanged" "$T/before" "$T/after"

# ---- --profile compatible: all RSA (slow: one RSA-4096 keygen) ----
C=$T/compat
ca_init "$C" --intermediate --profile compatible
check_grep "compatible: root key is RSA 4096" 'Public-Key: \(4096 bit\)' \
    <(openssl x509 -in "$C/root/root.crt" -noout -text)
check_grep "compatible: root signs with sha256WithRSAEncryption" 'sha256WithRSAEncryption' \
    <(openssl x509 -in "$C/root/root.crt" -noout -text)
check_grep "compatible: issuing key is RSA 3072" 'Public-Key: \(3072 bit\)' \
    <(openssl x509 -in "$C/issuing/ca.crt" -noout -text)
check_grep "compatible: root.key is RSA 4096 and opens" 'Private-Key: \(4096 bit' \
    <(openssl pkey -in "$C/root/root.key" -passin "file:$PASSFILE" -noout -text 2>&1)
check_eq "compatible: root.key is encrypted PKCS#8" "$(head -1 "$C/root/root.key")" \
    '-----BEGIN ENCRYPTED PRIVATE KEY-----'
check_mode "compatible: root.key 0600" "$C/root/root.key" 600
check "compatible: openssl verify issuing against root" \
    openssl verify -CAfile "$C/root/root.crt" "$C/issuing/ca.crt"
run openssl crl -in "$C/public/crl.pem" -CAfile "$C/issuing/ca.crt" -noout
check_stderr "compatible: crl.pem verifies (openssl crl -CAfile: verify OK)" 'verify OK'
db_checks "$C"

summary
