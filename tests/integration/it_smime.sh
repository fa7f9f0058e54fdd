#!/usr/bin/env bash
# S/MIME (issue 15): `issue --smime`, `batch --smime` and the CSV column
# smime give certificates mail clients accept for signing and encryption,
# on a CA made with `init --smime` only, and client authentication keeps
# working with the same certificate.  Checked with tools we did not write:
#   - openssl cms -sign / -verify -purpose smimesign against the root, and
#     cms -encrypt / -decrypt, for an RSA user (compatible profile) and an EC
#     user (modern profile: ECDH key agreement);
#   - GnuTLS certtool --verify-purpose emailProtection: an S/MIME user
#     verifies, a plain one of the same CA does not;
#   - python3-cryptography: pkcs7 loads the openssl-signed message, and its
#     PKCS7SignatureBuilder signs with the PKCS#12 so that openssl verifies;
#   - without the option, certificates are as before (EKU clientAuth only,
#     keyUsage digitalSignature, no SMIMECapabilities).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool certtool

OID_EMAIL=1.3.6.1.5.5.7.3.4
printf 'Subject: hello\r\n\r\nThe quarterly numbers are in.\r\n' >"$T/msg.txt"
printf 'pkcs12 password 1\n' >"$T/pw"

# exts CERT: "EKU|KU|SMIMECAP(0/1)|SANs" as python3-cryptography reads them.
exts() {
	"$PY" - "$1" <<'EOF'
import sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
E = c.extensions
eku = ",".join(o._name for o in E.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value)
ku = E.get_extension_for_oid(ExtensionOID.KEY_USAGE)
k = ku.value
names = [n for n in ("digital_signature", "key_encipherment", "key_agreement",
                     "content_commitment", "data_encipherment") if getattr(k, n)]
try:
    E.get_extension_for_oid(ObjectIdentifier("1.2.840.113549.1.9.15"))
    cap = 1
except x509.ExtensionNotFound:
    cap = 0
print("%s|%s%s|%d" % (eku, "critical:" if ku.critical else "", ",".join(names), cap))
EOF
}

# unpack P12 NAME: NAME.crt NAME.key out of the PKCS#12 (password $T/pw)
unpack() {
	openssl pkcs12 -in "$1" -passin "file:$T/pw" -nokeys -clcerts 2>/dev/null | openssl x509 -out "$T/$2.crt" ||
		fail "$2: certificate out of the PKCS#12"
	openssl pkcs12 -in "$1" -passin "file:$T/pw" -nocerts -nodes 2>/dev/null | openssl pkey -out "$T/$2.key" ||
		fail "$2: key out of the PKCS#12"
}

# mail_roundtrip HOME NAME: sign, verify for smimesign against the root,
# encrypt to the certificate, decrypt with the key; and client auth.
mail_roundtrip() {
	local h=$1 n=$2
	check "$n: openssl cms -sign with the PKCS#12's key" openssl cms -sign -in "$T/msg.txt" \
	    -signer "$T/$n.crt" -inkey "$T/$n.key" -certfile "$h/issuing/ca.crt" -outform DER -out "$T/$n.p7s" -nodetach
	check "$n: openssl cms -verify -purpose smimesign against the root" openssl cms -verify \
	    -purpose smimesign -CAfile "$h/root/root.crt" -inform DER -in "$T/$n.p7s" -out "$T/$n.verified"
	check_same "$n: the verified content is the message" "$T/msg.txt" "$T/$n.verified"
	check "$n: openssl cms -encrypt (AES-256) to the certificate" openssl cms -encrypt -aes256 \
	    -in "$T/msg.txt" -out "$T/$n.p7m" -outform DER "$T/$n.crt"
	check "$n: openssl cms -decrypt with the PKCS#12's key" openssl cms -decrypt -inform DER \
	    -in "$T/$n.p7m" -recip "$T/$n.crt" -inkey "$T/$n.key" -out "$T/$n.decrypted"
	check_same "$n: the decrypted content is the message" "$T/msg.txt" "$T/$n.decrypted"
	check "$n: still verifies for client authentication (openssl verify -purpose sslclient)" \
	    openssl verify -x509_strict -purpose sslclient -CAfile "$h/root/root.crt" -untrusted "$h/issuing/ca.crt" "$T/$n.crt"
	cat "$T/$n.crt" "$h/issuing/ca.crt" >"$T/$n.chain.pem"
}

gnutls_email() {	# HOME CHAIN: 0 when GnuTLS verifies CHAIN for emailProtection
	run certtool --verify --load-ca-certificate "$1/root/root.crt" --verify-purpose "$OID_EMAIL" --infile "$2"
	[[ $RC -eq 0 ]] && grep -q 'Chain verification output: Verified' "$OUT"
}

# ---- a CA without init --smime: as before, and --smime is refused --------------
P=$T/plain
ca_init "$P" --intermediate --profile modern
must "plain CA: issue carol (no --smime)" uc issue --home "$P" --user carol --email carol@example.test \
    --p12 "$T/carol.p12" --password-file "$T/pw"
unpack "$T/carol.p12" carol
check_eq "plain user: EKU clientAuth only, keyUsage critical digitalSignature, no SMIMECapabilities" \
    "$(exts "$T/carol.crt")" "clientAuth|critical:digital_signature|0"
expect_rc 1 "plain CA: issue --smime is refused" uc issue --home "$P" --user dave --email dave@example.test \
    --smime --p12 "$T/dave.p12" --password-file "$T/pw"
check_stderr "...and the refusal names 'init --smime'" "init --smime"
check_nofile "...and writes no PKCS#12" "$T/dave.p12"
check_eq "...and records nothing for dave" "$(sqlite3 "$P/userca.db" "select count(*) from users where username='dave'")" 0

# ---- RSA user on a compatible-profile CA made with --smime ------------------------
R=$T/rsa
ca_init "$R" --intermediate --profile compatible --smime
expect_rc 1 "S/MIME without an email address is refused" uc issue --home "$R" --user noemail --smime \
    --p12 "$T/noemail.p12" --password-file "$T/pw"
check_stderr "...naming the missing email address" "email"
must "compatible CA: issue alice --smime (PKCS#12)" uc issue --home "$R" --user alice --email alice@example.test \
    --smime --p12 "$T/alice.p12" --password-file "$T/pw"
unpack "$T/alice.p12" alice
check_cond "alice: an RSA key" '[[ $(openssl x509 -in "$T/alice.crt" -noout -text) == *rsaEncryption* ]]'
check_eq "alice: EKU clientAuth+emailProtection, keyUsage critical digitalSignature+keyEncipherment, SMIMECapabilities" \
    "$(exts "$T/alice.crt")" "clientAuth,emailProtection|critical:digital_signature,key_encipherment|1"
check "alice: SMIMECapabilities is SEQUENCE { aes256-CBC, aes192-CBC, aes128-CBC } (python3-cryptography)" "$PY" - "$T/alice.crt" <<'EOF'
import sys
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
e = c.extensions.get_extension_for_oid(ObjectIdentifier("1.2.840.113549.1.9.15"))
v = e.value.value
aes = lambda n: bytes.fromhex("300b06096086480165030401") + bytes([n])
want = b"\x30\x27" + aes(42) + aes(22) + aes(2)
assert not e.critical and v == want, (e.critical, v.hex())
EOF
mail_roundtrip "$R" alice
gnutls_email "$R" "$T/alice.chain.pem" && pass "alice: GnuTLS certtool --verify-purpose emailProtection accepts her" ||
	{ bad "alice: GnuTLS refuses emailProtection"; _show; }
must "compatible CA: issue bob without --smime" uc issue --home "$R" --user bob --email bob@example.test \
    --p12 "$T/bob.p12" --password-file "$T/pw"
unpack "$T/bob.p12" bob
check_eq "bob (no --smime on an S/MIME CA): as before" \
    "$(exts "$T/bob.crt")" "clientAuth|critical:digital_signature,key_encipherment|0"
cat "$T/bob.crt" "$R/issuing/ca.crt" >"$T/bob.chain.pem"
gnutls_email "$R" "$T/bob.chain.pem" && bad "bob: GnuTLS verifies a plain user for emailProtection" ||
	pass "bob: GnuTLS certtool --verify-purpose emailProtection refuses a plain user"
run openssl cms -sign -in "$T/msg.txt" -signer "$T/bob.crt" -inkey "$T/bob.key" -certfile "$R/issuing/ca.crt" \
    -outform DER -out "$T/bob.p7s" -nodetach
run openssl cms -verify -purpose smimesign -CAfile "$R/root/root.crt" -inform DER -in "$T/bob.p7s" -out /dev/null
[[ $RC -ne 0 ]] && grep -q 'unsuitable certificate purpose' "$ERR" &&
	pass "bob: openssl cms -verify -purpose smimesign refuses a plain user (unsuitable certificate purpose)" ||
	{ bad "bob: a plain user is not refused for its purpose (exit $RC)"; _show; }
check "bob: ...while the same message verifies with -purpose any (the chain itself is fine)" openssl cms -verify -purpose any \
    -CAfile "$R/root/root.crt" -inform DER -in "$T/bob.p7s" -out /dev/null
must "the old flag --email-protection still works (alias of --smime)" uc issue --home "$R" --user erin \
    --email erin@example.test --email-protection --p12 "$T/erin.p12" --password-file "$T/pw"
unpack "$T/erin.p12" erin
check_eq "erin: S/MIME profile" "$(exts "$T/erin.crt" | cut -d'|' -f1)" "clientAuth,emailProtection"

# python3-cryptography: load openssl's signed message; sign with the PKCS#12.
check "python3-cryptography pkcs7 loads alice's signed message and finds her certificate" "$PY" - \
    "$T/alice.p7s" "$T/alice.crt" <<'EOF'
import sys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7
certs = pkcs7.load_der_pkcs7_certificates(open(sys.argv[1], "rb").read())
mine = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
assert mine in certs, "signer certificate not in the message"
EOF
check "python3-cryptography PKCS7SignatureBuilder signs with alice's PKCS#12" "$PY" - \
    "$T/alice.p12" "$T/pw" "$T/msg.txt" "$T/alice.py.p7s" <<'EOF'
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12, pkcs7
pw = open(sys.argv[2], "rb").read().rstrip(b"\n")
key, cert, extra = pkcs12.load_key_and_certificates(open(sys.argv[1], "rb").read(), pw)
b = (pkcs7.PKCS7SignatureBuilder().set_data(open(sys.argv[3], "rb").read())
     .add_signer(cert, key, hashes.SHA256()))
for c in extra:
    b = b.add_certificate(c)
sig = b.sign(serialization.Encoding.DER, [])
open(sys.argv[4], "wb").write(sig)
EOF
check "...and openssl cms -verify -purpose smimesign accepts it" openssl cms -verify -purpose smimesign \
    -CAfile "$R/root/root.crt" -inform DER -in "$T/alice.py.p7s" -out /dev/null

# ---- EC user on a modern-profile CA made with --smime -------------------------------
E=$T/ec
ca_init "$E" --intermediate --profile modern --smime
must "modern CA: issue frank --smime (PKCS#12)" uc issue --home "$E" --user frank --email frank@example.test \
    --smime --p12 "$T/frank.p12" --password-file "$T/pw"
unpack "$T/frank.p12" frank
check_cond "frank: an EC key" '[[ $(openssl x509 -in "$T/frank.crt" -noout -text) == *id-ecPublicKey* ]]'
check_eq "frank: EKU clientAuth+emailProtection, keyUsage critical digitalSignature+keyAgreement, SMIMECapabilities" \
    "$(exts "$T/frank.crt")" "clientAuth,emailProtection|critical:digital_signature,key_agreement|1"
mail_roundtrip "$E" frank
gnutls_email "$E" "$T/frank.chain.pem" && pass "frank: GnuTLS accepts him for emailProtection" ||
	{ bad "frank: GnuTLS refuses emailProtection"; _show; }
new_csr "$T/gina" -subj /CN=x
must "modern CA: issue gina --smime from a CSR" uc issue --home "$E" --user gina --email gina@example.test \
    --smime --csr "$T/gina.csr" --out "$T/gina.pem"
check_eq "gina (CSR): S/MIME profile with keyAgreement" "$(exts "$T/gina.pem")" \
    "clientAuth,emailProtection|critical:digital_signature,key_agreement|1"

# ---- batch: --smime and the CSV column smime ------------------------------------
cat >"$T/users.csv" <<'EOF'
username,email,smime
u1,u1@example.test,yes
u2,u2@example.test,no
u3,u3@example.test,
u4,,yes
u5,u5@example.test,maybe
EOF
run uc batch "$T/users.csv" --home "$E" --out "$T/b1" --jobs 1
check_eq "batch (no --smime): u4 (no email) and u5 (bad value) fail, the rest are issued (exit 3)" "$RC" 3
check_stderr "...u5's line names the smime value" "users.csv:6: .*smime 'maybe'"
check_stderr "...u4's line says S/MIME needs an email address" "email"
b_eku() {	# DIR USER: EKU of the batch's PKCS#12 for USER
	local pw
	pw=$(tr -d '"' <"$1/manifest.csv" | awk -F, -v u="$2" '$1 == u { print $6 }')
	printf '%s\n' "$pw" >"$T/bpw"
	openssl pkcs12 -in "$1/$2.p12" -passin "file:$T/bpw" -nokeys -clcerts 2>/dev/null | openssl x509 -out "$T/b.crt" 2>/dev/null
	exts "$T/b.crt" | cut -d'|' -f1
}
check_eq "batch: u1 (smime=yes) is S/MIME" "$(b_eku "$T/b1" u1)" "clientAuth,emailProtection"
check_eq "batch: u2 (smime=no) is not" "$(b_eku "$T/b1" u2)" "clientAuth"
check_eq "batch: u3 (blank, no --smime) is not" "$(b_eku "$T/b1" u3)" "clientAuth"
cat >"$T/users2.csv" <<'EOF'
username,email,smime
v1,v1@example.test,
v2,v2@example.test,no
EOF
must "batch --smime" uc batch "$T/users2.csv" --home "$E" --out "$T/b2" --jobs 1 --smime
check_eq "batch --smime: v1 (blank) is S/MIME" "$(b_eku "$T/b2" v1)" "clientAuth,emailProtection"
check_eq "batch --smime: v2 (smime=no) is not" "$(b_eku "$T/b2" v2)" "clientAuth"
run uc batch "$T/users2.csv" --home "$P" --out "$T/b3" --jobs 1 --smime
check_ne "batch --smime on a CA without init --smime fails" "$RC" 0
check_stderr "...naming 'init --smime'" "init --smime"

# ---- the issuing CAs -------------------------------------------------------------
check_cond "plain CA's issuing EKU has no emailProtection (as before)" \
    '! openssl x509 -in "$P/issuing/ca.crt" -noout -ext extendedKeyUsage | grep -q "E-mail Protection"'
check_cond "--smime CA's issuing EKU has emailProtection" \
    'openssl x509 -in "$E/issuing/ca.crt" -noout -ext extendedKeyUsage | grep -q "E-mail Protection"'

summary
