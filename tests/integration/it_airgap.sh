#!/usr/bin/env bash
# The air gap: an offline home (root only) and an online home (issuing CA)
# that exchange nothing but files through $T/xfer.  The online side never
# holds the root key and issues without the root passphrase.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OFF=$T/offline
ON=$T/online
X=$T/xfer
mkdir -p "$X"
printf 'p12-password-1\n' >"$T/p12.pass"

# ---- offline: a root, no intermediate ----
ca_init "$OFF" --profile modern
check_file "offline: root/root.crt" "$OFF/root/root.crt"
check_file "offline: root/root.key" "$OFF/root/root.key"
check_nofile "offline: no issuing key (the root issues, with the passphrase)" "$OFF/issuing/ca.key"
check_same "offline: issuing/ca.crt is the root" "$OFF/issuing/ca.crt" "$OFF/root/root.crt"
cp "$OFF/root/root.crt" "$X/root.crt"

# ---- online: the request ----
must "online: intermediate request" uc intermediate request --home "$ON" --org "$ORG" \
    --base-url "$BASE_URL" --profile modern --out "$X/req.csr"
check_file "online: issuing/ca.key created" "$ON/issuing/ca.key"
check_mode "online: issuing/ca.key 0600" "$ON/issuing/ca.key" 600
run openssl req -in "$X/req.csr" -verify -noout
check_stderr "online: the request's signature verifies (openssl req -verify)" 'verify OK'
openssl req -in "$X/req.csr" -noout -pubkey >"$T/req.pub" 2>/dev/null || true
pubkey_of_key "$ON/issuing/ca.key" >"$T/onkey.pub" 2>/dev/null || true
check_same "online: the request carries issuing/ca.key's public key" "$T/req.pub" "$T/onkey.pub"
check_nofile "online: no root key" "$ON/root/root.key"
expect_rc 1 "online: a second 'intermediate request' in the same home is refused" \
    uc intermediate request --home "$ON" --org "$ORG" --base-url "$BASE_URL" --profile modern --out "$X/req-again.csr"
check_same "...issuing/ca.key unchanged" "$T/onkey.pub" <(pubkey_of_key "$ON/issuing/ca.key" 2>/dev/null)

# ---- offline: sign it ----
must "offline: root sign-intermediate" uc root sign-intermediate --home "$OFF" "$X/req.csr" \
    --out "$X/ca.crt" --passphrase-file "$PASSFILE"
openssl x509 -in "$X/ca.crt" -noout -text >"$T/ca.txt" 2>&1 || openssl x509 -inform DER -in "$X/ca.crt" -noout -text >"$T/ca.txt"
check "the signed intermediate verifies against the root" openssl verify -CAfile "$X/root.crt" "$X/ca.crt"
check_grep "intermediate: CA:TRUE, pathlen:0" 'CA:TRUE, pathlen:0' "$T/ca.txt"
check_grep "intermediate: keyCertSign + cRLSign" 'Certificate Sign, CRL Sign' "$T/ca.txt"
check_grep "intermediate: CRL DP <base>/root.crl" "URI:$BASE_URL/root.crl" "$T/ca.txt"
INT_SERIAL=$(cert_serial "$X/ca.crt")
check_eq "offline db: the intermediate is recorded (kind intermediate)" \
    "$(sqlite3 "$OFF/userca.db" "select kind || '|' || status from certificates where ltrim(upper(serial), '0') = '$INT_SERIAL'")" \
    'intermediate|valid'
printf 'wrong passphrase\n' >"$T/wrong.pass"
expect_rc 1 "offline: sign-intermediate with a wrong passphrase fails" uc root sign-intermediate --home "$OFF" \
    "$X/req.csr" --out "$X/ca-wrong.crt" --passphrase-file "$T/wrong.pass"
check_nofile "...no certificate written" "$X/ca-wrong.crt"

# A second request from another online home, signed too: a valid
# intermediate, but not for $ON's key.
must "other: intermediate request" uc intermediate request --home "$T/other" --org "$ORG" \
    --base-url "$BASE_URL" --profile modern --out "$X/req2.csr"
must "offline: sign the other request" uc root sign-intermediate --home "$OFF" "$X/req2.csr" \
    --out "$X/ca2.crt" --passphrase-file "$PASSFILE"

# An unrelated root, and an intermediate it signed for $ON's own key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil-root.key" \
    -out "$X/evil-root.crt" -subj "/O=$ORG/CN=Evil Root" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$T/int.ext"
openssl x509 -req -in "$X/req.csr" -CA "$X/evil-root.crt" -CAkey "$T/evil-root.key" -CAcreateserial \
    -days 20 -extfile "$T/int.ext" -out "$X/evil-int.crt" 2>/dev/null

# ---- online: install ----
expect_rc 1 "online: installing an intermediate for another key fails" \
    uc intermediate install --home "$ON" "$X/ca2.crt" --root "$X/root.crt"
check_stderr "...saying it does not match the key" 'match|key'
check_nofile "...nothing installed" "$ON/issuing/ca.crt"
expect_rc 1 "online: installing with a root that did not sign it fails" \
    uc intermediate install --home "$ON" "$X/ca.crt" --root "$X/evil-root.crt"
check_nofile "...nothing installed" "$ON/issuing/ca.crt"
expect_rc 1 "online: installing an intermediate signed by a foreign root (given as --root ours) fails" \
    uc intermediate install --home "$ON" "$X/evil-int.crt" --root "$X/root.crt"
check_nofile "...nothing installed" "$ON/issuing/ca.crt"
check_nofile "...no database yet" "$ON/userca.db"

must "online: intermediate install" uc intermediate install --home "$ON" "$X/ca.crt" --root "$X/root.crt"
openssl x509 -in "$X/ca.crt" -outform DER -out "$T/ca.der" 2>/dev/null || cp "$X/ca.crt" "$T/ca.der"
openssl x509 -in "$ON/issuing/ca.crt" -outform DER -out "$T/on-ca.der" 2>/dev/null || true
check_same "online: issuing/ca.crt is the signed intermediate" "$T/on-ca.der" "$T/ca.der"
check_eq "online: root/root.crt is the offline root" "$(cert_fp "$ON/root/root.crt" sha256 2>/dev/null)" \
    "$(cert_fp "$X/root.crt" sha256)"
for f in ca-bundle.pem ca.crt crl.der crl.pem; do
	check_file "online: public/$f published" "$ON/public/$f"
done
check_eq "online: ca-bundle.pem holds 2 certificates" "$(split_pem "$ON/public/ca-bundle.pem" "$T/onpub")" 2
check_eq "online: ca-bundle.pem = issuing, root" \
    "$(cert_fp "$T/onpub1.pem" sha256 2>/dev/null) $(cert_fp "$T/onpub2.pem" sha256 2>/dev/null)" \
    "$(cert_fp "$ON/issuing/ca.crt" sha256) $(cert_fp "$X/root.crt" sha256)"
run openssl crl -in "$ON/public/crl.pem" -CAfile "$ON/issuing/ca.crt" -noout
check_stderr "online: crl.pem signed by the installed intermediate" 'verify OK'

# ---- online: issue without any root passphrase (and no TTY to ask on) ----
must "online: issue a user with no passphrase available" env -u USERCA_PASSPHRASE setsid -w \
    "$USERCA" issue --home "$ON" --user alice --email alice@example.test --p12 "$T/alice.p12" \
    --password-file "$T/p12.pass" </dev/null
p12_cert "$T/alice.p12" "$T/p12.pass" "$T/alice.crt" || fail "alice.p12 does not open"
new_csr "$T/bob" -subj /CN=bob
must "online: issue from a CSR with no passphrase available" env -u USERCA_PASSPHRASE setsid -w \
    "$USERCA" issue --home "$ON" --user bob --csr "$T/bob.csr" --out "$T/bob.pem" </dev/null
openssl x509 -in "$T/bob.pem" -out "$T/bob.crt"
check_user_cert "online alice" "$T/alice.crt" "$ON/issuing/ca.crt" alice alice@example.test ""

# The chain with CRLs: the online issuing CRL + the offline root CRL.
crls() {
	openssl crl -inform DER -in "$1" -out "$T/rootcrl.pem"
	cat "$ON/public/crl.pem" "$T/rootcrl.pem" >"$T/crls.pem"
}
ov() {
	openssl verify -crl_check_all -purpose sslclient -CAfile "$X/root.crt" -untrusted "$ON/issuing/ca.crt" \
	    -CRLfile "$T/crls.pem" "$1"
}
crls "$OFF/public/root.crl"
check "openssl verify -crl_check_all: alice, online intermediate, offline root" ov "$T/alice.crt"
check "openssl verify -crl_check_all: bob (CSR)" ov "$T/bob.crt"
must "online: revoke bob (no passphrase needed)" env -u USERCA_PASSPHRASE setsid -w \
    "$USERCA" revoke --home "$ON" --user bob </dev/null
crls "$OFF/public/root.crl"
check_fails "openssl verify: bob revoked on the online side" ov "$T/bob.crt"

# ---- root CRL: signed offline, imported online ----
oldnum=$(openssl crl -inform DER -in "$OFF/public/root.crl" -noout -crlnumber | sed 's/.*=0x//; s/.*=//')
must "offline: crl --root" uc crl --home "$OFF" --root --passphrase-file "$PASSFILE"
newnum=$(openssl crl -inform DER -in "$OFF/public/root.crl" -noout -crlnumber | sed 's/.*=0x//; s/.*=//')
check_cond "offline: root CRL number went up ($oldnum -> $newnum)" "(( 16#${newnum:-0} > 16#${oldnum:-0} ))"
cp "$OFF/public/root.crl" "$X/root.crl"

# a root CRL that is not the root's: the online issuing CRL; a tampered one
openssl crl -in "$ON/public/crl.pem" -outform DER -out "$X/not-root.crl"
cp "$X/root.crl" "$X/tampered.crl"
len=$(stat -c %s "$X/tampered.crl")
last=$(xxd -s $((len - 1)) -l 1 -p "$X/tampered.crl")
printf "%02x" $((0x$last ^ 0x01)) | xxd -r -p | dd of="$X/tampered.crl" bs=1 seek=$((len - 1)) conv=notrunc status=none
pub_state "$ON" >"$T/pub.before"
expect_rc 1 "online: crl --import-root of a CRL the root did not sign fails" \
    uc crl --home "$ON" --import-root "$X/not-root.crl"
expect_rc 1 "online: crl --import-root of a tampered root CRL fails" \
    uc crl --home "$ON" --import-root "$X/tampered.crl"
check_stderr "...saying signature" 'signature|verif'
pub_state "$ON" >"$T/pub.after"
check_same "...public/ unchanged" "$T/pub.before" "$T/pub.after"

must "online: crl --import-root" uc crl --home "$ON" --import-root "$X/root.crl"
check_same "online: public/root.crl is the imported file" "$ON/public/root.crl" "$X/root.crl"
crls "$ON/public/root.crl"
check "alice still verifies with the imported root CRL" ov "$T/alice.crt"

# ---- offline revokes the intermediate; the online side publishes that ----
must "offline: revoke the intermediate (cACompromise)" uc revoke --home "$OFF" --serial "$INT_SERIAL" \
    --reason cACompromise --passphrase-file "$PASSFILE"
must "offline: crl --root" uc crl --home "$OFF" --root --passphrase-file "$PASSFILE"
cp "$OFF/public/root.crl" "$X/root2.crl"
check "the new root CRL lists the intermediate" py '
import sys
from cryptography import x509
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
assert any("%X" % r.serial_number == sys.argv[2] for r in crl), "not listed"
' "$X/root2.crl" "$INT_SERIAL"
must "online: crl --import-root (the one revoking us)" uc crl --home "$ON" --import-root "$X/root2.crl"
check_same "online: public/root.crl is the new file" "$ON/public/root.crl" "$X/root2.crl"
pub_state "$ON" >"$T/pub.before"
expect_rc 1 "online: re-importing the older root CRL (a replay) is refused" \
    uc crl --home "$ON" --import-root "$X/root.crl"
pub_state "$ON" >"$T/pub.after"
check_same "...public/ unchanged (still the newer root CRL)" "$T/pub.before" "$T/pub.after"
crls "$ON/public/root.crl"
check_fails "openssl verify -crl_check_all: alice fails once her issuing CA is revoked" ov "$T/alice.crt"

# ---- custody ----
check_nofile "online never has root/root.key" "$ON/root/root.key"
# (issuing/ocsp.key: the delegated OCSP responder's, issued by the issuing CA.)
check_eq "online: the only private key files are issuing/ca.key and the OCSP responder's" \
    "$(cd "$ON" && grep -rl 'PRIVATE KEY' --exclude='*.db*' . | sort | tr '\n' ' ')" './issuing/ca.key ./issuing/ocsp.key '
check_nofile "offline: still no issuing key" "$OFF/issuing/ca.key"

db_checks "$OFF"
db_checks "$ON"
summary
