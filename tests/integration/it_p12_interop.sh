#!/usr/bin/env bash
# PKCS#12 files from `issue --p12`, modern and legacy, with a given and a
# generated password, opened by four tools we did not write: openssl, GnuTLS
# certtool, Java keytool, python3-cryptography.  Wrong passwords are refused
# by all four.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool certtool keytool

H=$T/pki
ca_init "$H" --intermediate --profile modern
[[ $(split_pem "$H/public/ca-bundle.pem" "$T/pub") -eq 2 ]] || fail "ca-bundle.pem does not hold 2 certificates"
ISS=$T/pub1.pem
ROOT=$T/pub2.pem
GIVEN='Given-p12 pass 42'
printf '%s\n' "$GIVEN" >"$T/given.pass"
printf 'wrong password\n' >"$T/wrong.pass"

# The same checks for every file.  p12_checks FILE PASSWORD FORMAT USER
p12_checks() {
	local f=$1 pw=$2 fmt=$3 user=$4 tag="$3/${1##*/}"
	local pf=$T/${user}.pw
	printf '%s\n' "$pw" >"$pf"
	check_mode "$tag: file mode 0600" "$f" 600

	# openssl, without -legacy: both formats must open with the default provider.
	run openssl pkcs12 -info -noout -in "$f" -passin "file:$pf"
	if [[ $RC -eq 0 ]]; then pass "$tag: openssl pkcs12 -info opens it (no -legacy)"; else bad "$tag: openssl pkcs12 -info failed"; _show; fi
	cat "$OUT" "$ERR" >"$T/info.txt"
	check_grep "$tag: the key is in a shrouded (encrypted) keybag" 'Shrouded Keybag' "$T/info.txt"
	check_nogrep "$tag: no RC2 anywhere" 'rc2' "$T/info.txt"
	if [[ $fmt == modern ]]; then
		check_grep "$tag: key: PBES2 PBKDF2 AES-256-CBC hmacWithSHA256" \
		    'Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC.*PRF hmacWithSHA256' "$T/info.txt"
		check_grep "$tag: certs: PBES2 PBKDF2 AES-256-CBC" \
		    'PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC' "$T/info.txt"
		check_grep "$tag: MAC sha256" '^MAC: sha256' "$T/info.txt"
		check_nogrep "$tag: no 3DES/SHA1 PBE" 'TripleDES|3DES' "$T/info.txt"
	else
		check_grep "$tag: key: pbeWithSHA1And3-KeyTripleDES-CBC" \
		    'Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC' "$T/info.txt"
		check_grep "$tag: certs: pbeWithSHA1And3-KeyTripleDES-CBC" \
		    'PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC' "$T/info.txt"
		check_grep "$tag: MAC sha1" '^MAC: sha1' "$T/info.txt"
		check_nogrep "$tag: no AES/PBES2 (old clients cannot read it)" 'AES|PBES2' "$T/info.txt"
	fi
	check_fails "$tag: openssl refuses a wrong password" \
	    openssl pkcs12 -info -noout -in "$f" -passin "file:$T/wrong.pass"

	run certtool --p12-info --inder --infile "$f" --password "$pw"
	if [[ $RC -eq 0 ]]; then pass "$tag: certtool --p12-info opens it"; else bad "$tag: certtool --p12-info failed"; _show; fi
	cp "$OUT" "$T/certtool.txt"
	if [[ $fmt == modern ]]; then
		check_grep "$tag: certtool: AES-256-CBC" 'Cipher: AES-256-CBC' "$T/certtool.txt"
		check_grep "$tag: certtool: MAC SHA256" 'MAC: SHA256' "$T/certtool.txt"
	else
		check_grep "$tag: certtool: PKCS12-3DES-SHA1" 'PKCS12-3DES-SHA1' "$T/certtool.txt"
		check_grep "$tag: certtool: MAC SHA1" 'MAC: SHA1' "$T/certtool.txt"
	fi
	check_grep "$tag: certtool: the key is an encrypted PKCS#8" 'PKCS #8 Encrypted key' "$T/certtool.txt"
	check_fails "$tag: certtool refuses a wrong password" \
	    certtool --p12-info --inder --infile "$f" --password "wrong password"

	run keytool -list -v -storetype PKCS12 -keystore "$f" -storepass "$pw"
	if [[ $RC -eq 0 ]]; then pass "$tag: keytool -list opens it"; else bad "$tag: keytool -list failed"; _show; fi
	cp "$OUT" "$T/keytool.txt"
	check_grep "$tag: keytool: 1 entry" 'Your keystore contains 1 entry' "$T/keytool.txt"
	check_grep "$tag: keytool: a PrivateKeyEntry" 'Entry type: PrivateKeyEntry' "$T/keytool.txt"
	check_grep "$tag: keytool: chain of at least 2 (user + issuing)" 'Certificate chain length: [2-9]' "$T/keytool.txt"
	check_fails "$tag: keytool refuses a wrong password" \
	    keytool -list -storetype PKCS12 -keystore "$f" -storepass "wrong password"

	check "$tag: python3-cryptography opens it; key matches cert; chain, friendly name" py '
import sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization as s, hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
data = open(sys.argv[1], "rb").read()
key, cert, extra = pkcs12.load_key_and_certificates(data, sys.argv[2].encode())
iss = x509.load_pem_x509_certificate(open(sys.argv[3], "rb").read())
root = x509.load_pem_x509_certificate(open(sys.argv[4], "rb").read())
errs = []
def need(ok, m):
    if not ok: errs.append(m)
need(key is not None and cert is not None, "key and certificate present")
pub = lambda k: k.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
need(pub(key.public_key()) == pub(cert.public_key()), "the key is the certificate key")
need([a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [sys.argv[5]], "CN is the user")
need(cert.issuer == iss.subject, "issued by the issuing CA")
fps = [c.fingerprint(hashes.SHA256()) for c in extra]
need(iss.fingerprint(hashes.SHA256()) in fps, "issuing CA in the chain")
need(cert not in extra, "end-entity not repeated in the chain")
try:
    p = pkcs12.load_pkcs12(data, sys.argv[2].encode())
    need(p.cert.friendly_name, "friendly name set on the certificate")
except AttributeError:
    pass
if errs:
    print("\n".join(errs)); sys.exit(1)
' "$f" "$pw" "$ISS" "$ROOT" "$user"
	check_fails "$tag: python3-cryptography refuses a wrong password" py '
import sys
from cryptography.hazmat.primitives.serialization import pkcs12
pkcs12.load_key_and_certificates(open(sys.argv[1], "rb").read(), b"wrong password")
' "$f"

	p12_cert "$f" "$pf" "$T/$user.crt" 2>/dev/null || true
	check "$tag: the certificate verifies to the root" \
	    openssl verify -purpose sslclient -CAfile "$ROOT" -untrusted "$ISS" "$T/$user.crt"
}

for fmt in modern legacy; do
	# a password from --password-file: not printed
	must "$fmt: issue --p12 with --password-file" uc issue --home "$H" --user "u-$fmt-given" \
	    --email "u-$fmt@example.test" --p12 "$T/$fmt-given.p12" --p12-format "$fmt" \
	    --password-file "$T/given.pass"
	check_nogrep "$fmt: a given password is not printed" 'password' "$OUT"
	check_nogrep "$fmt: a given password appears nowhere in the output" "$GIVEN" "$OUT"
	check_stdout "$fmt: serial printed" '^serial: [0-9A-Fa-f]+$'
	p12_checks "$T/$fmt-given.p12" "$GIVEN" "$fmt" "u-$fmt-given"

	# a generated password, printed once
	must "$fmt: issue --p12 with a generated password" uc issue --home "$H" --user "u-$fmt-gen" \
	    --p12 "$T/$fmt-gen.p12" --p12-format "$fmt"
	gen=$(sed -n 's/^password: //p' "$OUT" | head -1)
	check_cond "$fmt: 'password: X' printed on stdout" '[[ -n $gen ]]'
	# >= 80 bits need >= 13 characters even from all 95 printable ASCII ones
	check_cond "$fmt: generated password long enough for >= 80 bits (${#gen} chars)" '(( ${#gen} >= 13 ))'
	check_cond "$fmt: generated password differs from the other format's" '[[ $gen != "${prev_gen:-}" ]]'
	prev_gen=$gen
	p12_checks "$T/$fmt-gen.p12" "$gen" "$fmt" "u-$fmt-gen"
done

# --json output
must "issue --p12 --json" uc issue --home "$H" --user u-json --p12 "$T/json.p12" --json
cp "$OUT" "$T/issue.json"
check "issue --json: serial, password, not_after, file; the password opens the file; serial is the cert's" py '
import json, sys
from cryptography.hazmat.primitives.serialization import pkcs12
d = json.load(open(sys.argv[1]))
for k in ("serial", "password", "not_after", "file"):
    assert k in d, "missing " + k
key, cert, extra = pkcs12.load_key_and_certificates(open(sys.argv[2], "rb").read(), d["password"].encode())
assert ("%X" % cert.serial_number) == d["serial"].replace(":", "").upper().lstrip("0"), (d["serial"], cert.serial_number)
assert d["not_after"] == cert.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ"), (d["not_after"], cert.not_valid_after)
' "$T/issue.json" "$T/json.p12"

# the output file is never overwritten
sha256sum "$T/modern-given.p12" >"$T/p12.sum"
expect_rc 1 "issue --p12 to an existing file fails" uc issue --home "$H" --user u-again \
    --p12 "$T/modern-given.p12" --password-file "$T/given.pass"
check_stderr "...naming the file" 'modern-given\.p12'
check "...and leaves the file alone" sha256sum -c --quiet "$T/p12.sum"

db_checks "$H"
summary
