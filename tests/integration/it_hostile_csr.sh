#!/usr/bin/env bash
# Hostile CSRs (tests/data/csr-hostile, written by its gen_csr_hostile.py;
# CASES says which are refused and what the refusal must say) through
# `userca issue --csr` and through the daemon's POST /api/v1/enroll/TOKEN/csr.
#   refused: exit 1 / HTTP 400 with a message naming the problem, no
#     certificate or user row, no output file, the token still unused;
#   accepted (sound keys in unusual encodings: compressed or hybrid EC
#     points, RSA without parameters): the certificate's SubjectPublicKeyInfo
#     is byte for byte the canonical one (named curve, uncompressed point,
#     RSA with NULL parameters), read from the certificate's own bytes and
#     checked again with `openssl x509 -text` and `openssl asn1parse`.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

D=$UC_SRC/tests/data/csr-hostile
[[ -f $D/CASES ]] || fail "no corpus at $D (run gen_csr_hostile.py)"
H=$T/pki
DB=$H/userca.db
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
API=/api/v1/enroll

ncerts() { sqlite3 "$DB" "select count(*) from certificates"; }
nusers() { sqlite3 "$DB" "select count(*) from users where username = '$1'"; }
used_at() { sqlite3 "$DB" "select ifnull(used_at, 'NULL') from tokens where $(token_sql "$1")"; }

# spki_of CERT.pem OUT.der: the SubjectPublicKeyInfo as the certificate's
# DER holds it (the first certificate of the file), not re-encoded by a tool.
spki_of() {
	"$PY" - "$1" "$2" <<'EOF'
import base64, re, sys
pem = open(sys.argv[1], "rb").read()
der = base64.b64decode(re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END",
                                 pem, re.S).group(1))
def hdr(i):
    n = der[i + 1]
    if n < 0x80:
        return 2, n
    k = n & 0x7F
    return 2 + k, int.from_bytes(der[i + 2:i + 2 + k], "big")
def kids(i):
    h, n = hdr(i)
    j, out = i + h, []
    while j < i + h + n:
        out.append(j)
        hh, nn = hdr(j)
        j += hh + nn
    return out
f = kids(kids(0)[0])			# TBSCertificate's fields
s = f[6 if der[f[0]] == 0xA0 else 5]	# [0] version, serial, sig, issuer, validity, subject, SPKI
h, n = hdr(s)
open(sys.argv[2], "wb").write(der[s:s + h + n])
EOF
}

# check_canonical WHO NAME CERT.pem
check_canonical() {
	local who=$1 n=$2 c=$3
	if ! spki_of "$c" "$T/got.spki"; then
		bad "$who $n: no certificate in the output"; return 0
	fi
	check_same "$who $n: the certificate's SPKI is the canonical encoding" \
	    "$T/got.spki" "$D/$n.spki.der"
	openssl x509 -in "$c" -noout -text >"$T/x509.txt" 2>&1
	openssl asn1parse -in "$c" >"$T/asn1.txt" 2>&1
	case $n in
	ec_*)
		check_grep "$who $n: x509 -text: named curve" 'ASN1 OID: prime256v1' "$T/x509.txt"
		check_cond "$who $n: x509 -text: uncompressed point (04)" \
		    "grep -A1 '^ *pub:' '$T/x509.txt' | tail -1 | grep -Eq '^ *04:'"
		check_nogrep "$who $n: asn1parse: no explicit curve parameters" 'prime-field' "$T/asn1.txt"
		;;
	rsa_*)
		check_cond "$who $n: asn1parse: rsaEncryption with NULL parameters" \
		    "grep -A1 ':rsaEncryption' '$T/asn1.txt' | tail -1 | grep -q 'prim: NULL'"
		;;
	esac
}

# ---- userca issue --csr ----------------------------------------------------------
while IFS=$'\t' read -r -u 3 name verdict why; do
	[[ -z $name || $name == \#* ]] && continue
	u=cli-${name//_/-}
	before=$(ncerts)
	if [[ $verdict == refuse ]]; then
		expect_rc 1 "issue --csr $name is refused" uc issue --home "$H" \
		    --user "$u" --csr "$D/$name.der" --out "$T/$u.pem"
		check_stderr "...$name: the message says why (/$why/)" "$why"
		check_stderr "...$name: the message names the CSR" "$name\\.der"
		check_eq "...$name: no certificate recorded" "$(ncerts)" "$before"
		check_eq "...$name: no user record" "$(nusers "$u")" 0
		check_nofile "...$name: no certificate written" "$T/$u.pem"
	else
		expect_rc 0 "issue --csr $name is issued" uc issue --home "$H" \
		    --user "$u" --csr "$D/$name.der" --out "$T/$u.pem"
		check_eq "...$name: one certificate recorded" "$(ncerts)" $((before + 1))
		check_canonical cli "$name" "$T/$u.pem"
	fi
done 3<"$D/CASES"

# ---- POST /api/v1/enroll/TOKEN/csr -----------------------------------------------
ed_conf "$T/main.ini" "$H" "[limits]
rate_limit = 100000"
ed_start main "$T/main.ini"

while IFS=$'\t' read -r -u 3 name verdict why; do
	[[ -z $name || $name == \#* ]] && continue
	u=web-${name//_/-}
	tk=$(new_token "$H" "$u") || fail "userca token $u"
	before=$(ncerts)
	hs "$API/$tk/csr" -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$D/$name.der"
	if [[ $verdict == refuse ]]; then
		expect_http "POST csr $name is refused" 400
		check_cond "...$name: error is bad_csr or weak_key" \
		    "[[ \$(jget '$T/body' error) =~ ^(bad_csr|weak_key)\$ ]]"
		jget "$T/body" detail >"$T/detail"
		check_grep "...$name: detail says why (/$why/)" "$why" "$T/detail"
		check_eq "...$name: no certificate recorded" "$(ncerts)" "$before"
		check_eq "...$name: the token is not used up" "$(used_at "$tk")" NULL
	else
		expect_http "POST csr $name is issued" 200
		cp "$T/body" "$T/$u.chain"
		check_eq "...$name: one certificate recorded" "$(ncerts)" $((before + 1))
		check_canonical web "$name" "$T/$u.chain"
	fi
done 3<"$D/CASES"

ed_stop main
check_eq "daemon stopped cleanly" "$ED_RC" 0
summary
