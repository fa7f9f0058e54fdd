#!/usr/bin/env bash
# The issuing CA is constrained to what it issues: its extendedKeyUsage is
# exactly clientAuth, serverAuth, OCSPSigning (+ emailProtection with
# init --smime), from init --intermediate and from the air gap (intermediate
# request / root sign-intermediate); a root has none.  Users' and the
# daemon's certificates still verify for their purpose.  What relying
# parties enforce with it, checked here: a certificate the issuing key signs
# for another purpose fails path validation for that purpose -
#   - OpenSSL (verify -purpose smimesign/smimeencrypt): every CA in the chain
#     must allow the purpose (X509_check_purpose on each CA), so an S/MIME
#     certificate minted with the issuing key fails at depth 1;
#   - GnuTLS (certtool --verify-purpose OID): the purpose is checked along
#     the whole chain, so a codeSigning certificate fails too.
#   OpenSSL 3.0 has no code-signing purpose, and without -purpose it checks
#   no EKU at all; Windows CryptoAPI intersects EKUs along the chain.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool certtool

EKU_WANT='TLS Web Client Authentication, TLS Web Server Authentication, OCSP Signing'
OID_CLIENT=1.3.6.1.5.5.7.3.2
OID_SERVER=1.3.6.1.5.5.7.3.1
OID_CODE=1.3.6.1.5.5.7.3.3
OID_EMAIL=1.3.6.1.5.5.7.3.4
OID_OCSP=1.3.6.1.5.5.7.3.9

eku_text() { openssl x509 -in "$1" -noout -ext extendedKeyUsage 2>/dev/null | sed -n '2s/^ *//p'; }
# eku_exact DESC CERT OID...: the EKU extension is present, not critical and
# lists exactly these OIDs in this order (python3-cryptography).
eku_exact() {
	local d=$1 c=$2; shift 2
	check "$d" py '
import sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
e = c.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
got = [o.dotted_string for o in e.value]
if e.critical or got != sys.argv[2:]:
    print("critical=%s %r != %r" % (e.critical, got, sys.argv[2:])); sys.exit(1)
' "$c" "$@"
}
no_eku() {	# DESC CERT
	check "$1" py '
import sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
try:
    c.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
except x509.ExtensionNotFound:
    sys.exit(0)
print("the root has an EKU"); sys.exit(1)
' "$2"
}
# mint NAME HOME EXT...: a certificate signed directly with HOME's issuing
# key, as a thief would (openssl x509 -req), with the extension lines given.
mint() {
	local n=$1 h=$2; shift 2
	printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature "$@" >"$T/$n.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$n.key" \
	    -out "$T/$n.csr" -subj "/CN=$n" 2>/dev/null
	openssl x509 -req -in "$T/$n.csr" -CA "$h/issuing/ca.crt" -CAkey "$h/issuing/ca.key" \
	    -set_serial "0x$(openssl rand -hex 16)" -days 30 -extfile "$T/$n.ext" -out "$T/$n.crt" 2>/dev/null ||
		fail "minting $n with $h's issuing key"
	cat "$T/$n.crt" "$h/issuing/ca.crt" >"$T/$n.chain.pem"
}
# ossl_verify HOME PURPOSE CERT [openssl verify args]
ossl_verify() {
	local h=$1 p=$2 c=$3; shift 3
	run openssl verify -x509_strict -purpose "$p" -CAfile "$h/root/root.crt" -untrusted "$h/issuing/ca.crt" "$@" "$c"
}
# gnutls_verify HOME OID CHAIN.pem: 0 when GnuTLS verifies the chain for OID
gnutls_verify() {
	run certtool --verify --load-ca-certificate "$1/root/root.crt" --verify-purpose "$2" --infile "$3"
	[[ $RC -eq 0 ]] && grep -q 'Chain verification output: Verified' "$OUT"
}

# ---- init --intermediate ---------------------------------------------------------
H=$T/pki
ca_init "$H" --intermediate --profile modern
check_eq "issuing CA: openssl x509 -ext extendedKeyUsage lists exactly clientAuth, serverAuth, OCSPSigning" \
    "$(eku_text "$H/issuing/ca.crt")" "$EKU_WANT"
eku_exact "issuing CA: EKU OIDs exactly clientAuth, serverAuth, OCSPSigning, not critical (python)" \
    "$H/issuing/ca.crt" "$OID_CLIENT" "$OID_SERVER" "$OID_OCSP"
no_eku "root: no EKU" "$H/root/root.crt"
check_grep "userca.conf: smime = 0" '^smime = 0$' "$H/userca.conf"

new_csr "$T/alice" -subj /CN=x
must "issue alice" uc issue --home "$H" --user alice --email alice@example.test --csr "$T/alice.csr" --out "$T/alice.pem"
ossl_verify "$H" sslclient "$T/alice.pem"
[[ $RC -eq 0 ]] && pass "user certificate: openssl verify -x509_strict -purpose sslclient OK" ||
	{ bad "user certificate does not verify for sslclient"; _show; }
split_pem "$T/alice.pem" "$T/alice-part" >/dev/null
cat "$T/alice-part1.pem" "$H/issuing/ca.crt" >"$T/alice.chain.pem"
gnutls_verify "$H" "$OID_CLIENT" "$T/alice.chain.pem" && pass "user certificate: GnuTLS verifies it for clientAuth" ||
	{ bad "user certificate: GnuTLS refuses clientAuth"; _show; }
must "issue-server" uc issue-server --home "$H" --dns pki.example.test --out "$T/srv"
srv=$T/srv/tls.crt
[[ -f $srv ]] || fail "issue-server wrote no $srv"
ossl_verify "$H" sslserver "$srv"
[[ $RC -eq 0 ]] && pass "daemon certificate: openssl verify -purpose sslserver OK" ||
	{ bad "daemon certificate does not verify for sslserver"; _show; }

# What a stolen issuing key can no longer mint.
mint smime "$H" extendedKeyUsage=emailProtection subjectAltName=email:ceo@example.test
ossl_verify "$H" smimesign "$T/smime.crt"
if [[ $RC -ne 0 ]] && grep -q 'error 26 at 1 depth' "$OUT" "$ERR"; then
	pass "S/MIME certificate minted with the issuing key: openssl verify -purpose smimesign fails at the issuing CA (error 26, depth 1)"
else
	bad "S/MIME certificate minted with the issuing key verifies for smimesign (exit $RC)"; _show
fi
ossl_verify "$H" smimeencrypt "$T/smime.crt"
[[ $RC -ne 0 ]] && pass "...and for smimeencrypt" || bad "...verifies for smimeencrypt"
gnutls_verify "$H" "$OID_EMAIL" "$T/smime.chain.pem" && bad "...GnuTLS verifies it for emailProtection" ||
	pass "...GnuTLS refuses it for emailProtection"
mint code "$H" extendedKeyUsage=codeSigning
gnutls_verify "$H" "$OID_CODE" "$T/code.chain.pem" && bad "codeSigning certificate minted with the issuing key: GnuTLS verifies it for codeSigning" ||
	pass "codeSigning certificate minted with the issuing key: GnuTLS certtool --verify-purpose codeSigning refuses the chain"
check_grep "...because the chain does not allow the purpose" 'does not match the intended purpose' "$OUT"
ossl_verify "$H" codesign "$T/code.crt"
if grep -qi 'invalid purpose' "$OUT" "$ERR"; then
	echo "INFO: this OpenSSL has no codesign purpose (added after 3.0): not checked with openssl"
elif [[ $RC -ne 0 ]] && grep -q 'error 26 at 1 depth' "$OUT" "$ERR"; then
	pass "...openssl verify -purpose codesign fails at the issuing CA"
else
	bad "...openssl verify -purpose codesign (exit $RC)"; _show
fi
mint client "$H" extendedKeyUsage=clientAuth
ossl_verify "$H" sslclient "$T/client.crt"
[[ $RC -eq 0 ]] && pass "control: a clientAuth certificate minted the same way verifies for sslclient" ||
	{ bad "control: the minted clientAuth certificate does not verify"; _show; }

# ---- init --smime --------------------------------------------------------------------
S=$T/smimeca
ca_init "$S" --intermediate --profile modern --smime
check_grep "--smime: recorded in userca.conf" '^smime = 1$' "$S/userca.conf"
eku_exact "--smime: issuing CA EKU adds emailProtection" "$S/issuing/ca.crt" \
    "$OID_CLIENT" "$OID_SERVER" "$OID_OCSP" "$OID_EMAIL"
must "--smime: issue bob --email-protection" uc issue --home "$S" --user bob --email bob@example.test \
    --email-protection --csr "$T/alice.csr" --out "$T/bob.pem"
ossl_verify "$S" smimesign "$T/bob.pem"
[[ $RC -eq 0 ]] && pass "--smime: bob's certificate verifies for smimesign" || { bad "--smime: bob's certificate fails smimesign"; _show; }
ossl_verify "$S" sslclient "$T/bob.pem"
[[ $RC -eq 0 ]] && pass "--smime: ...and for sslclient" || { bad "--smime: bob's certificate fails sslclient"; _show; }

# ---- the air gap -------------------------------------------------------------------------
for smime in 0 1; do
	OFF=$T/off$smime ON=$T/on$smime
	if [[ $smime -eq 1 ]]; then ca_init "$OFF" --profile modern --smime; else ca_init "$OFF" --profile modern; fi
	no_eku "air gap ($smime): the root has no EKU" "$OFF/root/root.crt"
	must "air gap ($smime): intermediate request" uc intermediate request --home "$ON" --org "$ORG" \
	    --base-url "$BASE_URL" --profile modern --out "$T/req$smime.csr"
	must "air gap ($smime): root sign-intermediate" uc root sign-intermediate "$T/req$smime.csr" \
	    --out "$T/ca$smime.crt" --home "$OFF" --passphrase-file "$PASSFILE"
	if [[ $smime -eq 1 ]]; then
		eku_exact "air gap: a root made with --smime signs an issuing CA with emailProtection too" \
		    "$T/ca$smime.crt" "$OID_CLIENT" "$OID_SERVER" "$OID_OCSP" "$OID_EMAIL"
	else
		check_eq "air gap: the signed issuing CA lists exactly clientAuth, serverAuth, OCSPSigning" \
		    "$(eku_text "$T/ca$smime.crt")" "$EKU_WANT"
	fi
	must "air gap ($smime): intermediate install" uc intermediate install "$T/ca$smime.crt" \
	    --root "$OFF/root/root.crt" --home "$ON"
	new_csr "$T/u$smime" -subj /CN=x
	must "air gap ($smime): issue" uc issue --home "$ON" --user carol --csr "$T/u$smime.csr" --out "$T/u$smime.pem"
	ossl_verify "$ON" sslclient "$T/u$smime.pem"
	[[ $RC -eq 0 ]] && pass "air gap ($smime): user certificate verifies for sslclient" ||
		{ bad "air gap ($smime): user certificate fails sslclient"; _show; }
done

# ---- root only: the root issues, and has no EKU ---------------------------------------
R=$T/rootonly
ca_init "$R" --profile modern
no_eku "root only: the root (which issues) has no EKU" "$R/issuing/ca.crt"
must "root only: issue" uc issue --home "$R" --user dave --csr "$T/alice.csr" --out "$T/dave.pem" \
    --passphrase-file "$PASSFILE"
run openssl verify -x509_strict -purpose sslclient -CAfile "$R/root/root.crt" "$T/dave.pem"
[[ $RC -eq 0 ]] && pass "root only: user certificate verifies for sslclient" || { bad "root only: sslclient"; _show; }

summary
