#!/usr/bin/env bash
# AD strong certificate mapping (issue 14 item 5, KB5014754): `issue --sid`,
# `token --sid` and the CSV column sid put the user's SID into the record and
# the certificate's szOID_NTDS_CA_SECURITY_EXT (1.3.6.1.4.1.311.25.2) plus
# the SAN URL tag:microsoft.com,2022-09-14:sid:<SID>; a bad SID is refused;
# `export --format altsecid` prints the altSecurityIdentities strings.
# Checked with python3-asn1crypto (field by field, against AD CS's layout:
#   SEQUENCE { [0] { OID 1.3.6.1.4.1.311.25.2.1, [0] { OCTET STRING SID } } })
# and with issuer, serial and key hash computed independently (openssl,
# asn1crypto, hashlib).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$PY" -c 'import asn1crypto' 2>/dev/null || skip "python3-asn1crypto is not installed (scripts/deps)"

SID=S-1-5-21-3623811015-3361044348-30300820-1013
H=$T/pki
ca_init "$H" --intermediate --profile modern --allow-http-links
new_csr "$T/k" -subj /CN=x

# sid_check DESC CERT SID: the extension and the SAN URL, field by field.
sid_check() {
	check "$1" "$PY" - "$2" "$3" <<'EOF'
import sys
from asn1crypto import x509, core, parser
from asn1crypto.pem import unarmor
data = open(sys.argv[1], "rb").read()
if data.startswith(b"-----"):
    data = unarmor(data, multiple=True).__next__()[2]
sid = sys.argv[2].encode()
cert = x509.Certificate.load(data)
exts = [e for e in cert["tbs_certificate"]["extensions"] if e["extn_id"].dotted == "1.3.6.1.4.1.311.25.2"]
assert len(exts) == 1, "want exactly one SID extension, got %d" % len(exts)
e = exts[0]
assert not e["critical"].native, "the SID extension must not be critical"
raw = e["extn_value"].contents          # DER of the extension's value
cls, meth, tag, _, body, rest = parser.parse(raw)          # SEQUENCE (GeneralNames)
assert (cls, meth, tag, rest) == (0, 1, 16, b""), raw.hex()
cls, meth, tag, _, on, rest = parser.parse(body)           # its one element
assert (cls, meth, tag) == (2, 1, 0), "not [0] otherName: %d %d %d" % (cls, meth, tag)
assert rest == b"", "more than one GeneralName"
gn = x509.GeneralNames.load(raw)
assert gn[0].name == "other_name", gn[0].name
other = gn[0].chosen
assert other["type_id"].dotted == "1.3.6.1.4.1.311.25.2.1", other["type_id"].dotted
val = other["value"]                      # [0] EXPLICIT, unwrapped by the spec
os_ = val.parse(core.OctetString)         # the value itself: OCTET STRING
assert os_.native == sid, (os_.native, sid)
want = b"\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x19\x02\x01" + b"\xa0" + bytes([len(sid) + 2]) + b"\x04" + bytes([len(sid)]) + sid
assert on == want, (on.hex(), want.hex())
san = [n.native for n in cert.subject_alt_name_value if n.name == "uniform_resource_identifier"]
assert san == ["tag:microsoft.com,2022-09-14:sid:" + sys.argv[2]], san
EOF
}

for bad in S-1-5 S-1-5-21-x-1 s-1-5-21-1-2 S-2-5-21-1 S-1-5-21-01-2 "S-1-5-21-1-2 " S-1-5-4294967296 \
    S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16; do
	expect_rc 1 "issue --sid '$bad' is refused" uc issue --home "$H" --user badsid --sid "$bad" \
	    --csr "$T/k.csr" --out "$T/bad.pem"
done
check_stderr "...naming the sid" "sid .* is not a Windows SID"
check_eq "...and nothing is recorded" "$(sqlite3 "$H/userca.db" "select count(*) from users where username='badsid'")" 0

must "issue alice --sid" uc issue --home "$H" --user alice --upn alice@corp.example.test --sid "$SID" \
    --csr "$T/k.csr" --out "$T/alice.pem"
sid_check "alice: SID extension 1.3.6.1.4.1.311.25.2 = SEQUENCE { [0] { 1.3.6.1.4.1.311.25.2.1, [0] { OCTET STRING '$SID' } } } and SAN URL (asn1crypto)" \
    "$T/alice.pem" "$SID"
check_eq "alice: the SID is in the user record" "$(sqlite3 "$H/userca.db" "select sid from users where username='alice'")" "$SID"
must "re-issue alice without --sid" uc issue --home "$H" --user alice --csr "$T/k.csr" --out "$T/alice2.pem" --force
check_stderr "...says the sid came from the record" "taken from the record"
sid_check "re-issue keeps the SID from the record" "$T/alice2.pem" "$SID"
must "issue bob without a SID" uc issue --home "$H" --user bob --csr "$T/k.csr" --out "$T/bob.pem"
check_cond "bob: no SID extension, no SAN URL" '! openssl x509 -in "$T/bob.pem" -noout -text | grep -Eq "1\.3\.6\.1\.4\.1\.311\.25\.2|URI:tag"'

# Tokens: the SID goes into the record the enrollment reads.
must "token --sid" uc token --home "$H" --user tina --email tina@example.test --sid S-1-5-21-1-2-3-500
check_eq "token: tina's SID is in the record" "$(sqlite3 "$H/userca.db" "select sid from users where username='tina'")" S-1-5-21-1-2-3-500

# The CSV column sid.
cat >"$T/users.csv" <<'EOF'
username,email,sid
u1,u1@example.test,S-1-5-21-1-2-3-1001
u2,u2@example.test,
u3,u3@example.test,S-1-5-21-bad
EOF
run uc batch "$T/users.csv" --home "$H" --out "$T/b" --jobs 1
check_eq "batch: u3's bad SID fails its row only (exit 3)" "$RC" 3
check_stderr "...named with its line" "users.csv:4: sid 'S-1-5-21-bad'"
pw=$(tr -d '"' <"$T/b/manifest.csv" | awk -F, '$1 == "u1" { print $6 }')
printf '%s\n' "$pw" >"$T/u1.pw"
openssl pkcs12 -in "$T/b/u1.p12" -passin "file:$T/u1.pw" -nokeys -clcerts 2>/dev/null | openssl x509 -out "$T/u1.pem"
sid_check "batch: u1's certificate carries the CSV's SID" "$T/u1.pem" S-1-5-21-1-2-3-1001
check_eq "batch: u1's SID is in the record" "$(sqlite3 "$H/userca.db" "select sid from users where username='u1'")" S-1-5-21-1-2-3-1001

# export --format altsecid, against what openssl and asn1crypto compute.
serial=$(openssl x509 -in "$T/alice.pem" -noout -serial | sed 's/^serial=//')
(( ${#serial} % 2 )) && serial=0$serial
rev=$(printf '%s' "$serial" | fold -w2 | tac | tr -d '\n' | tr a-f A-F)
issuer=$(openssl x509 -in "$T/alice.pem" -noout -issuer -nameopt RFC2253,-dn_rev | sed 's/^issuer=//')
pukey=$(openssl x509 -in "$T/alice.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
    "$PY" -c 'import sys, hashlib
from asn1crypto import keys
k = keys.PublicKeyInfo.load(sys.stdin.buffer.read())
print(hashlib.sha1(k["public_key"].contents[1:]).hexdigest().upper())')
must "export --format altsecid" uc export --home "$H" --serial "$(cert_serial "$T/alice.pem")" --format altsecid
check_eq "altsecid line 1: X509IssuerSerialNumber, issuer in X.500 order, serial bytes reversed" \
    "$(sed -n 1p "$OUT")" "X509:<I>$issuer<SR>$rev"
check_eq "altsecid line 2: X509SHA1PublicKey, SHA-1 of the subjectPublicKey bits" \
    "$(sed -n 2p "$OUT")" "X509:<SHA1-PUKEY>$pukey"
check_eq "...the issuer is the issuing CA's subject, most significant RDN first" "$issuer" "O=$ORG,CN=$ORG Issuing CA"

summary
