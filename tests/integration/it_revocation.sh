#!/usr/bin/env bash
# The revocation truth table, checked with openssl verify -crl_check_all and
# GnuTLS certtool against the published files only; the CRL's contents; the
# user profile; identity taken from the command line, never from the CSR.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool certtool

H=$T/pki
P=$H/public
ca_init "$H" --intermediate --profile modern
printf 'p12-password-1\n' >"$T/p12.pass"
CLIENT_AUTH=1.3.6.1.5.5.7.3.2

# ---- issue: alice and bob as PKCS#12, carol and dave from CSRs ----
must "issue alice --p12" uc issue --home "$H" --user alice --email alice@example.test \
    --upn alice@corp.example.test --p12 "$T/alice.p12" --password-file "$T/p12.pass"
ALICE=$(serial_from_out)
must "issue bob --p12" uc issue --home "$H" --user bob --p12 "$T/bob.p12" --password-file "$T/p12.pass"
BOB=$(serial_from_out)
p12_cert "$T/alice.p12" "$T/p12.pass" "$T/alice.crt" || fail "alice.p12 does not open"
p12_cert "$T/bob.p12" "$T/p12.pass" "$T/bob.crt" || fail "bob.p12 does not open"
check_eq "alice: printed serial is the certificate's" "$ALICE" "$(cert_serial "$T/alice.crt")"
check_eq "bob: printed serial is the certificate's" "$BOB" "$(cert_serial "$T/bob.crt")"
check_ne "alice and bob have different serials" "$ALICE" "$BOB"

# The CSR asks for another name and an email SAN: both must be ignored.
new_csr "$T/carol" -subj "/CN=mallory/O=Evil Corp/emailAddress=mallory@evil.test" \
    -addext "subjectAltName=email:mallory@evil.test,DNS:evil.test"
must "issue carol --csr (CSR says CN=mallory)" uc issue --home "$H" --user carol \
    --email carol@example.test --upn carol@corp.example.test --csr "$T/carol.csr" --out "$T/carol.pem"
n=$(split_pem "$T/carol.pem" "$T/carolchain")
check_eq "issue --csr output: certificate + chain to the root (3 certificates)" "$n" 3
cp "$T/carolchain1.pem" "$T/carol.crt"
CAROL=$(cert_serial "$T/carol.crt")
pubkey_of_cert "$T/carol.crt" >"$T/a.pub"
pubkey_of_key "$T/carol.key" >"$T/b.pub"
check_same "carol's certificate certifies the CSR's key" "$T/a.pub" "$T/b.pub"

# The published trust material: ca-bundle.pem = issuing, root.
[[ $(split_pem "$P/ca-bundle.pem" "$T/pub") -eq 2 ]] || fail "ca-bundle.pem does not hold 2 certificates"
ISS=$T/pub1.pem
ROOT=$T/pub2.pem
check_eq "carol's chain: 2nd certificate is the issuing CA" "$(cert_fp "$T/carolchain2.pem" sha256)" "$(cert_fp "$ISS" sha256)"
check_eq "carol's chain: 3rd certificate is the root" "$(cert_fp "$T/carolchain3.pem" sha256)" "$(cert_fp "$ROOT" sha256)"

check_user_cert "alice" "$T/alice.crt" "$ISS" alice alice@example.test alice@corp.example.test
check_user_cert "bob" "$T/bob.crt" "$ISS" bob "" ""
check_user_cert "carol (from CSR)" "$T/carol.crt" "$ISS" carol carol@example.test carol@corp.example.test \
    mallory evil
run openssl x509 -in "$T/carol.crt" -noout -subject -ext subjectAltName
check_nogrep "carol: nothing of the CSR's subject/SAN in the certificate (openssl)" 'mallory|evil' "$OUT"
check_grep "carol: SAN email from --email (openssl)" 'email:carol@example.test' "$OUT"
check_grep "carol: subject O is the CA's org" "O ?= ?$ORG" "$OUT"

# dave: a CSR certificate to stdout (no --out)
new_csr "$T/dave" -subj /CN=dave
must "issue dave --csr to stdout" uc issue --home "$H" --user dave --csr "$T/dave.csr"
openssl x509 -in "$OUT" -out "$T/dave.crt" 2>/dev/null || bad "issue --csr without --out: no PEM certificate on stdout"
DAVE=$(cert_serial "$T/dave.crt")

# never past the issuer's notAfter: ask for ~27 years under a 10-year issuing CA
new_csr "$T/erin" -subj /CN=erin
run uc issue --home "$H" --user erin --days 10000 --csr "$T/erin.csr" --out "$T/erin.pem"
if [[ $RC -eq 0 ]]; then
	check "issue --days 10000: notAfter clipped to the issuing CA's" py '
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
assert c.not_valid_after <= ca.not_valid_after, (c.not_valid_after, ca.not_valid_after)
' "$T/erin.pem" "$ISS"
else
	check_eq "issue --days 10000 refused (exit 1) rather than clipped" "$RC" 1
	check_nofile "...no certificate written" "$T/erin.pem"
fi

# ---- the CRLs, from public/ only ----
refresh_crls() {
	openssl crl -inform DER -in "$P/root.crl" -out "$T/root-crl.pem" || fail "public/root.crl is no DER CRL"
	cat "$P/crl.pem" "$T/root-crl.pem" >"$T/crls.pem"
}
crl_number() { openssl crl -in "$P/crl.pem" -noout -crlnumber | sed 's/^crlNumber=//; s/^0x//'; }
ov() {	# openssl verify of a leaf against the published material
	openssl verify -crl_check_all -purpose sslclient -CAfile "$ROOT" -untrusted "$ISS" \
	    -CRLfile "$T/crls.pem" "$1"
}
ct() {	# certtool --verify of leaf + issuing against root + both CRLs
	cat "$1" "$ISS" >"$T/chain.pem"
	certtool --verify --infile "$T/chain.pem" --load-ca-certificate "$ROOT" \
	    --load-crl "$T/crls.pem" --verify-purpose "$CLIENT_AUTH"
}
refresh_crls
for u in alice bob carol dave; do
	check "before revocation: openssl verify -crl_check_all $u OK" ov "$T/$u.crt"
done
check "before revocation: certtool --verify bob OK" ct "$T/bob.crt"
N0=$(crl_number)

must "revoke --user bob --reason keyCompromise" uc revoke --home "$H" --user bob --reason keyCompromise
refresh_crls
N1=$(crl_number)
check_cond "CRL number went up after revoke ($N0 -> $N1)" "(( 16#${N1:-0} > 16#${N0:-0} ))"

# ---- the truth table ----
check "openssl verify -crl_check_all: alice (valid) OK" ov "$T/alice.crt"
check "openssl verify -crl_check_all: carol (valid, from CSR) OK" ov "$T/carol.crt"
check "openssl verify -crl_check_all: dave (valid) OK" ov "$T/dave.crt"
check_fails "openssl verify -crl_check_all: bob (revoked) fails" ov "$T/bob.crt"
cat "$OUT" "$ERR" >"$T/bob.verify"
check_grep "...with 'certificate revoked'" 'certificate revoked' "$T/bob.verify"

# A certificate from an unrelated CA (made with openssl) is refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil-ca.key" \
    -out "$T/evil-ca.crt" -subj "/O=$ORG/CN=Evil CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
new_csr "$T/evil" -subj /CN=alice
openssl x509 -req -in "$T/evil.csr" -CA "$T/evil-ca.crt" -CAkey "$T/evil-ca.key" -CAcreateserial \
    -days 10 -out "$T/evil.crt" 2>/dev/null
check_fails "openssl verify: a certificate from an unrelated CA fails" ov "$T/evil.crt"
check_fails "certtool --verify: a certificate from an unrelated CA fails" ct "$T/evil.crt"

check "certtool --verify (clientAuth, CRLs): alice OK" ct "$T/alice.crt"
check_stdout "...'Verified'" 'Chain verification output: Verified'
check "certtool --verify (clientAuth, CRLs): carol OK" ct "$T/carol.crt"
check_fails "certtool --verify (clientAuth, CRLs): bob fails" ct "$T/bob.crt"
check_stdout "...as revoked" 'revoked'
run certtool --verify-crl --load-ca-certificate "$ISS" --infile "$P/crl.pem"
check_eq "certtool --verify-crl: crl.pem signed by the issuing CA" "$RC" 0
run certtool --verify-crl --load-ca-certificate "$ROOT" --infile "$P/crl.pem"
check_ne "certtool --verify-crl: crl.pem not signed by the root" "$RC" 0

# ---- the CRL itself ----
openssl crl -in "$P/crl.pem" -noout -text >"$T/crl.txt"
check_grep "CRL is v2" 'Version 2 \(0x1\)' "$T/crl.txt"
check_grep "CRL has a CRL Number" 'X509v3 CRL Number' "$T/crl.txt"
check_grep "CRL has an AKI" 'X509v3 Authority Key Identifier' "$T/crl.txt"
check_grep "bob's entry has reason Key Compromise" 'Key Compromise' "$T/crl.txt"
# Microsoft's Next CRL Publish (1.3.6.1.4.1.311.21.4, issue 18 item 5): when
# Windows fetches the next CRL.  A non-critical UTCTime, after thisUpdate and
# before nextUpdate (3 days before it for a 7-day CRL); the root's CRL has
# none.  The openssl verify rows above, certtool and it_gateway_nginx show that
# verifiers that do not know it still take the CRL.
check_grep "openssl crl -text shows Next CRL Publish (1.3.6.1.4.1.311.21.4)" '^ *1\.3\.6\.1\.4\.1\.311\.21\.4: *$' "$T/crl.txt"
check_nogrep "...not critical" '1\.3\.6\.1\.4\.1\.311\.21\.4: critical' "$T/crl.txt"
ncp_py='
import sys, datetime
from cryptography import x509
from cryptography.x509 import ObjectIdentifier
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
try:
    e = crl.extensions.get_extension_for_oid(ObjectIdentifier("1.3.6.1.4.1.311.21.4"))
except x509.ExtensionNotFound:
    print("absent"); sys.exit(0)
v = e.value.value
assert not e.critical, "critical"
assert v[0] == 0x17 and v[1] == len(v) - 2, "not a DER UTCTime: %s" % v.hex()
t = datetime.datetime.strptime(v[2:].decode(), "%y%m%d%H%M%SZ")
nu, lu = crl.next_update, crl.last_update
print("ok" if lu < t < nu else "bad", round((nu - t).total_seconds() / 3600, 2))
'
py "$ncp_py" "$P/crl.der" >"$T/ncp.txt" 2>&1
check_eq "Next CRL Publish: a UTCTime after thisUpdate, 72 h before nextUpdate" "$(cat "$T/ncp.txt")" "ok 72.0"
check_grep "...and the same time in openssl crl -text's dump" \
    "$(py 'import datetime,sys; print(datetime.datetime.strptime(sys.argv[1], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=None) - datetime.timedelta(hours=72))' \
    "$(openssl crl -in "$P/crl.pem" -noout -nextupdate | sed 's/^nextUpdate=//; s/  */ /g')" | sed 's/^20\(..\)-\(..\)-\(..\) \(..\):\(..\):\(..\)$/\1\2\3\4\5\6Z/')" \
    "$T/crl.txt"
py "$ncp_py" "$P/root.crl" >"$T/ncp-root.txt" 2>&1
check_eq "root.crl (the root's CRL) has no Next CRL Publish" "$(cat "$T/ncp-root.txt")" "absent"
crl_py='
import sys, datetime
from cryptography import x509
from cryptography.x509.oid import ExtensionOID as E
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
iss = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
listed = {"%X" % r.serial_number: r for r in crl}
errs = []
def need(ok, m):
    if not ok: errs.append(m)
need(crl.issuer == iss.subject, "issuer is the issuing CA")
need(crl.is_signature_valid(iss.public_key()), "signature valid")
aki = crl.extensions.get_extension_for_oid(E.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
need(aki == iss.extensions.get_extension_for_oid(E.SUBJECT_KEY_IDENTIFIER).value.digest, "AKI == issuing SKI")
now = datetime.datetime.utcnow()
left = (crl.next_update - now).total_seconds() / 86400
need(6.9 < left < 7.1, "nextUpdate ~7 days from now (%.3f days)" % left)
need(crl.last_update <= now + datetime.timedelta(minutes=5), "thisUpdate not in the future")
for s in sys.argv[3].split(","):
    if not s: continue
    r = listed.get(s)
    need(r is not None, "serial %s listed" % s)
    if r is not None:
        try:
            reason = r.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
        except x509.ExtensionNotFound:
            reason = "none"
        need(reason == sys.argv[4], "serial %s reason %s, want %s" % (s, reason, sys.argv[4]))
for s in sys.argv[5].split(","):
    need(s not in listed, "serial %s must not be listed" % s)
if errs:
    print("\n".join(errs)); sys.exit(1)
'
check "CRL (python): issuer, signature, AKI, nextUpdate ~7d, bob listed with keyCompromise, others not" \
    py "$crl_py" "$P/crl.der" "$ISS" "$BOB" key_compromise "$ALICE,$CAROL,$DAVE"
check "root CRL (python3-cryptography): signed by the root, lists nothing" py '
import sys, datetime
from cryptography import x509
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
root = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
assert crl.issuer == root.subject, "issuer"
assert crl.is_signature_valid(root.public_key()), "signature"
assert len(crl) == 0, "entries"
assert crl.next_update > datetime.datetime.utcnow(), "nextUpdate in the past"
' "$P/root.crl" "$ROOT"

# ---- the records ----
row() { sqlite3 "$H/userca.db" "select status, coalesce(reason, 'null'), revoked_at is not null from certificates where ltrim(upper(serial), '0') = '$1'"; }
check_eq "db: bob revoked, reason 1 (keyCompromise), revoked_at set" "$(row "$BOB")" 'revoked|1|1'
check_eq "db: alice valid" "$(row "$ALICE")" 'valid|null|0'
check_eq "db: carol valid, method csr" \
    "$(sqlite3 "$H/userca.db" "select status || '|' || method from certificates where ltrim(upper(serial), '0') = '$CAROL'")" 'valid|csr'

# ---- crl: a new number each time; revoke by serial ----
must "userca crl" uc crl --home "$H"
N2=$(crl_number)
check_cond "CRL number went up after 'userca crl' ($N1 -> $N2)" "(( 16#${N2:-0} > 16#${N1:-0} ))"
refresh_crls
check_fails "after 'userca crl' bob still fails" ov "$T/bob.crt"
check "after 'userca crl' alice still OK" ov "$T/alice.crt"

# --serial as a person types it: lower case with colons
dave_typed=$(openssl x509 -in "$T/dave.crt" -noout -serial | sed 's/^serial=//' | tr A-F a-f | sed 's/../&:/g; s/:$//')
must "revoke --serial $dave_typed (lower case, colons) --reason superseded" \
    uc revoke --home "$H" --serial "$dave_typed" --reason superseded
N3=$(crl_number)
check_cond "CRL number went up again ($N2 -> $N3)" "(( 16#${N3:-0} > 16#${N2:-0} ))"
refresh_crls
check_fails "dave revoked by serial fails openssl verify" ov "$T/dave.crt"
check "CRL lists bob (keyCompromise) and dave" py "$crl_py" "$P/crl.der" "$ISS" "$BOB" key_compromise "$ALICE,$CAROL"
check "CRL: dave's reason is superseded" py "$crl_py" "$P/crl.der" "$ISS" "$DAVE" superseded "$ALICE,$CAROL"
check "carol still OK" ov "$T/carol.crt"
check_eq "db: crls rows have increasing numbers for the issuing CA" \
    "$(sqlite3 "$H/userca.db" "select count(*) >= 4 from crls where issuer_ski = (select issuer_ski from certificates where ltrim(upper(serial), '0') = '$ALICE')")" 1

db_checks "$H"

# ---- a home without an intermediate: the root issues, with the passphrase ----
R=$T/rootonly
ca_init "$R" --profile modern
expect_rc 1 "root-only home: issue without the passphrase (no TTY) fails" env -u USERCA_PASSPHRASE setsid -w \
    "$USERCA" issue --home "$R" --user frank --p12 "$T/frank0.p12" --password-file "$T/p12.pass" </dev/null
check_stderr "...asking for the passphrase" 'passphrase'
check_nofile "...no file" "$T/frank0.p12"
must "root-only home: issue with --passphrase-file" uc issue --home "$R" --user frank \
    --p12 "$T/frank.p12" --password-file "$T/p12.pass" --passphrase-file "$PASSFILE"
p12_cert "$T/frank.p12" "$T/p12.pass" "$T/frank.crt"
USERCA_PASSPHRASE=$ROOT_PASS must "root-only home: issue with \$USERCA_PASSPHRASE" uc issue --home "$R" --user gina \
    --p12 "$T/gina.p12" --password-file "$T/p12.pass"
p12_cert "$T/gina.p12" "$T/p12.pass" "$T/gina.crt"
check_user_cert "root-only frank" "$T/frank.crt" "$R/root/root.crt" frank "" ""
must "root-only home: revoke gina" uc revoke --home "$R" --user gina --passphrase-file "$PASSFILE"
rv() { openssl verify -crl_check -purpose sslclient -CAfile "$R/root/root.crt" -CRLfile "$R/public/crl.pem" "$1"; }
check "root-only: openssl verify -crl_check frank OK" rv "$T/frank.crt"
check_fails "root-only: openssl verify -crl_check gina (revoked) fails" rv "$T/gina.crt"
db_checks "$R"
summary
