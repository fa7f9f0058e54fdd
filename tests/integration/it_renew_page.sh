#!/usr/bin/env bash
# Renewal links on the enrollment page, and revoke_old at every door (issue
# 14, item 1; DESIGN 9), with the clock ~340 days ahead for the CLI and the
# daemon: libfaketime (FAKETIME=+340d, a running clock) on the release code
# path, or USERCA_NOW under the sanitizers (LD_PRELOAD would have to come
# after their runtime):
#   - the token lookup (GET /api/v1/enroll/<token>) of a renewal link names
#     the certificate it replaces (serial, notAfter) and whether it revokes
#     it; a first-enrollment link has no "renewal"
#   - in Debian's headless Chromium (playwright-core, web_renew.mjs) the page
#     of a renewal link says "Renew your certificate" / "This is a renewal",
#     the old certificate's expiry, and what becomes of it; a first link's
#     page does not; the link gives a PKCS#12 once, then "already used";
#     axe-core (WCAG 2.1 A/AA) finds nothing on the renewal page, light or dark
#   - [renew] revoke_old in userca.conf: honoured by renew (PKCS#12), by
#     notify's links, and renew --revoke-old by renew --tokens' links: the old
#     certificate is revoked (superseded) in the redemption's transaction and
#     on the daemon's next CRL, not before; a link made without it leaves the
#     old one valid and off the CRL.  Checked with openssl crl and
#     openssl verify -crl_check.
# Needs chromium, node + playwright-core (scripts/deps), like it_web_chromium.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || fail "chromium is not installed at $CHROMIUM (scripts/deps)"
command -v node >/dev/null || fail "node is not installed (scripts/deps)"
MODDIRS=()
for d in "$USERCA_SRC/tests/integration" "$USERCA_BUILD"; do
	[[ -f $d/node_modules/playwright-core/package.json ]] && MODDIRS+=("$d")
done
[[ ${#MODDIRS[@]} -gt 0 ]] || fail "playwright-core is not installed (npm ci --prefix tests/integration)"

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
db() { sqlite3 "$H/userca.db" "$@"; }
serial_of() { db "select c.serial from certificates c join users u on u.id = c.user_id where u.username = '$1' order by c.id limit 1"; }
cert_of() { db "select hex(der) from certificates where serial = '$1'" | xxd -r -p | openssl x509 -inform DER -out "$2"; }
status_of() { db "select status || ' ' || ifnull(reason, '-') from certificates where serial = '$1'"; }
iso() { date -u -d @"$1" +%Y-%m-%dT%H:%M:%SZ; }
set_revoke_old() { sed -i '/^revoke_old *=/d; /^\[renew\]/d' "$H/userca.conf"; printf '[renew]\nrevoke_old = %s\n' "$1" >>"$H/userca.conf"; }

# Certificates of 345 to 365 days: at now + 340 days, 5 to 25 days left.
issue_for() {	# USER DAYS
	printf 'username,email\n%s,%s@example.com\n' "$1" "$1" >"$T/$1.csv"
	must "batch $1 ($2 days)" uc batch "$T/$1.csv" --home "$H" --out "$T/in-$1" --days "$2"
}
issue_for r03 345	# 5 days left: notify --expiring 7d
issue_for r05 350	# 10 days: renew --expiring 12d (PKCS#12)
issue_for r01 355	# 15 days: renew --expiring 17d --tokens
issue_for r02 365	# 25 days: renew --expiring 30d --tokens --revoke-old
for u in r01 r02 r03 r05; do eval "OLD_$u=\$(serial_of $u)"; done

# 340 days ahead from here on: uc_ft for the CLI, FT_ENV for the daemon.
AHEAD=$(($(date +%s) + 340 * 86400))
FT=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
	[[ -f $f ]] && { FT=$f; break; }
done
[[ ${USERCA_SANITIZE:-0} == 1 ]] && FT=""
if [[ -n $FT ]]; then
	echo "    (clock: libfaketime +340d)"
	FT_ENV=("USERCA_NOW=" "LD_PRELOAD=$FT" "FAKETIME=+340d")
else
	echo "    (clock: USERCA_NOW, 340 days ahead)"
	FT_ENV=("USERCA_NOW=$AHEAD")
fi
uc_ft() { env "${FT_ENV[@]}" "$USERCA" "$@"; }
mkdir -p "$T/mail"
printf '#!/bin/sh\ncat >"%s/mail/$$.eml"\n' "$T" >"$T/sendmail"
chmod 755 "$T/sendmail"

# ---- the doors that make links or bundles, with and without revoke_old ----
set_revoke_old true
must "notify --expiring 7d ([renew] revoke_old = true)" uc_ft notify --home "$H" --expiring 7d --sendmail "$T/sendmail"
TOK3=$(grep -ho 'https://[^ ]*/enroll/[A-Za-z0-9_-]*' "$T"/mail/*.eml | head -1)
TOK3=${TOK3##*/}
check_cond "notify mailed r03 a renewal link" "[[ -n '$TOK3' ]]"
# notify --keep-old overrides [renew] revoke_old = true for its run (8d: a
# new threshold, so r03 is mailed again, into mail8/).
mkdir -p "$T/mail8"
printf '#!/bin/sh\ncat >"%s/mail8/$$.eml"\n' "$T" >"$T/sendmail8"
chmod 755 "$T/sendmail8"
must "notify --expiring 8d --keep-old ([renew] revoke_old = true)" uc_ft notify --home "$H" --expiring 8d --keep-old --sendmail "$T/sendmail8"
TOK3K=$(grep -ho 'https://[^ ]*/enroll/[A-Za-z0-9_-]*' "$T"/mail8/*.eml | head -1)
TOK3K=${TOK3K##*/}
check_cond "notify --keep-old mailed r03 another link" "[[ -n '$TOK3K' && '$TOK3K' != '$TOK3' ]]"
must "renew --expiring 12d ([renew] revoke_old = true, no flag)" uc_ft renew --home "$H" --expiring 12d --out "$T/p05" --jobs 1
check_eq "renew (PKCS#12) honours [renew] revoke_old: r05's old certificate revoked, superseded" "$(status_of "$OLD_r05")" "revoked 4"
check_eq "...and r03 (its reminder link pending) was not renewed" "$(db "select count(*) from certificates c join users u on u.id = c.user_id where u.username = 'r03'")" 1
set_revoke_old false
must "renew --expiring 17d --tokens ([renew] revoke_old = false)" uc_ft renew --home "$H" --expiring 17d --out "$T/l01" --tokens --jobs 1
must "renew --expiring 30d --tokens --revoke-old" uc_ft renew --home "$H" --expiring 30d --out "$T/l02" --tokens --revoke-old --jobs 1
tok_of() { "$PY" -c 'import csv,sys
print([r[6] for r in csv.reader(open(sys.argv[1])) if r[0] == sys.argv[2]][0].rsplit("/", 1)[1])' "$1/manifest.csv" "$2"; }
TOK1=$(tok_of "$T/l01" r01)
TOK2=$(tok_of "$T/l02" r02)
TOK4=$(new_token "$H" r04 r04@example.com) || fail "token r04"
check_eq "the second renew made r02's link only (r01's is pending)" \
    "$("$PY" -c 'import csv,sys; print(" ".join(r[0] for r in list(csv.reader(open(sys.argv[1])))[1:]))' "$T/l02/manifest.csv")" r02

# ---- the daemon: the lookup says it is a renewal ----
ed_conf "$T/d.ini" "$H" "[enroll]
web_root = $USERCA_SRC/web
[crl]
poll = 1s
[limits]
rate_limit = 100000"
ed_start main "$T/d.ini" "${FT_ENV[@]}"
API=/api/v1/enroll
renewal() {	# TOKEN -> "serial not_after revokes_old" or "none"
	hs "$API/$1" -H 'Accept: application/json'
	"$PY" -c 'import json,sys
r = json.load(open(sys.argv[1])).get("renewal")
print("none" if r is None else "%s %s %s" % (r["serial"], r["not_after"], str(r["revokes_old"]).lower()))' "$T/body"
}
na() { iso "$(db "select not_after from certificates where serial = '$1'")"; }
check_eq "lookup of r01's link: a renewal of its certificate, keeps the old one" \
    "$(renewal "$TOK1")" "$OLD_r01 $(na "$OLD_r01") false"
check_eq "lookup of r02's link (--revoke-old): revokes the old one" \
    "$(renewal "$TOK2")" "$OLD_r02 $(na "$OLD_r02") true"
check_eq "lookup of r03's reminder link ([renew] revoke_old = true when mailed): revokes it" \
    "$(renewal "$TOK3")" "$OLD_r03 $(na "$OLD_r03") true"
check_eq "lookup of r03's --keep-old reminder link: keeps the old one" \
    "$(renewal "$TOK3K")" "$OLD_r03 $(na "$OLD_r03") false"
check_eq "lookup of a first-enrollment link: no renewal" "$(renewal "$TOK4")" none

# Before any redemption: r02's and r03's old certificates valid, off the CRL.
crl_has() {	# SERIAL: its CRL entry's reason on public/crl.der, or "absent"
	openssl crl -inform DER -in "$H/public/crl.der" -noout -text >"$T/crl.txt"
	"$PY" - "$1" "$T/crl.txt" <<'EOF'
import re, sys
want = sys.argv[1].lstrip("0").upper()
text = open(sys.argv[2]).read()
for m in re.finditer(r"Serial Number: ([0-9A-F]+)\n((?:\s{8,}.*\n)*)", text):
    if m.group(1).lstrip("0").upper() == want:
        r = re.search(r"X509v3 CRL Reason Code:\s*\n\s*(\S+)", m.group(2))
        print(r.group(1) if r else "none"); break
else:
    print("absent")
EOF
}
check_eq "before: r02's old certificate is valid" "$(status_of "$OLD_r02")" "valid -"
check_eq "before: ...and not on the CRL" "$(crl_has "$OLD_r02")" absent

# ---- the page, in Chromium ----
MODJSON=$(printf '%s\n' "${MODDIRS[@]}" | node -e \
    'process.stdout.write(JSON.stringify(require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean)))')
mkdir -p "$T/dl"
cat >"$T/web.json" <<EOF
{ "chromium": "$CHROMIUM", "out": "$T/dl", "modules": $MODJSON,
  "keep": "$HTTPS/enroll/$TOK1", "revoke": "$HTTPS/enroll/$TOK2", "first": "$HTTPS/enroll/$TOK4",
  "keep_not_after": "$(na "$OLD_r01")", "revoke_not_after": "$(na "$OLD_r02")" }
EOF
node_checks 120 "$USERCA_SRC/tests/integration/web_renew.mjs" "$T/web.json"

# What the browser got: r02's new certificate, and the old one's fate.
printf '%s' "$(jget "$T/dl/result.json" password)" >"$T/pw"
if openssl pkcs12 -in "$(jget "$T/dl/result.json" p12)" -passin "file:$T/pw" -nokeys -clcerts -out "$T/new2.pem" 2>/dev/null ||
    openssl pkcs12 -legacy -in "$(jget "$T/dl/result.json" p12)" -passin "file:$T/pw" -nokeys -clcerts -out "$T/new2.pem" 2>/dev/null; then
	pass "the renewal page's PKCS#12 opens with the password it showed"
else
	bad "the renewal page's PKCS#12 does not open"
fi
NEW2=$(openssl x509 -in "$T/new2.pem" -noout -serial 2>/dev/null | cut -d= -f2 | norm_serial)
check_eq "...for r02" "$(openssl x509 -in "$T/new2.pem" -noout -subject -nameopt RFC2253 2>/dev/null | sed -n 's/.*CN=\([^,]*\).*/\1/p')" r02
check_eq "r02's old certificate is superseded by it" \
    "$(db "select n.serial from certificates o join certificates n on n.id = o.superseded_by where o.serial = '$OLD_r02'" | norm_serial)" "$NEW2"
check_eq "...and revoked (superseded) in the same transaction" "$(status_of "$OLD_r02")" "revoked 4"
check_eq "...one audit row for it" "$(db "select count(*) from audit where action = 'revoke' and subject = '$OLD_r02' and detail = 'superseded'")" 1
for _ in $(seq 50); do [[ $(crl_has "$OLD_r02") != absent ]] && break; sleep 0.2; done
check_eq "after: the daemon's next CRL holds r02's old certificate, reason superseded" "$(crl_has "$OLD_r02")" Superseded
openssl crl -inform DER -in "$H/public/crl.der" -out "$T/crl.pem"
cert_of "$OLD_r02" "$T/old2.pem"
run openssl verify -attime "$AHEAD" -crl_check -CAfile "$H/public/ca-bundle.pem" -CRLfile "$T/crl.pem" "$T/old2.pem"
check_cond "openssl verify -crl_check rejects r02's old certificate" "[[ $RC -ne 0 ]] && grep -q 'certificate revoked' '$OUT' '$ERR'"
run openssl verify -attime "$AHEAD" -crl_check -CAfile "$H/public/ca-bundle.pem" -CRLfile "$T/crl.pem" "$T/new2.pem"
check_eq "...and accepts its new one" "$RC" 0

# r01's link (made without revoke_old), through the API: the old one stays.
hs "$API/$TOK1/p12" -H 'Content-Type: application/json' -d '{}'
expect_http "r01's renewal link gives a PKCS#12" 200
check_eq "r01's old certificate is superseded but stays valid" "$(status_of "$OLD_r01")" "valid -"
sleep 1.5
check_eq "...and stays off the CRL" "$(crl_has "$OLD_r01")" absent
cert_of "$OLD_r01" "$T/old1.pem"
openssl crl -inform DER -in "$H/public/crl.der" -out "$T/crl.pem"
run openssl verify -attime "$AHEAD" -crl_check -CAfile "$H/public/ca-bundle.pem" -CRLfile "$T/crl.pem" "$T/old1.pem"
check_eq "openssl verify -crl_check still accepts r01's old certificate" "$RC" 0

# r03's reminder link through another door (own CSR): revoked as well.
check_eq "before: r03's old certificate is not on the CRL" "$(crl_has "$OLD_r03")" absent
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
    -keyout "$T/r03.key" -out "$T/r03.csr" 2>/dev/null
hs "$API/$TOK3/csr" -H 'Content-Type: application/pkcs10' --data-binary @"$T/r03.csr"
expect_http "r03's reminder link takes a CSR" 200
NEW_r03=$(hdr X-Userca-Serial)
[[ -n $NEW_r03 ]] || bad "r03's new certificate has no X-Userca-Serial"
check_eq "r03's old certificate revoked, superseded (reminder link, [renew] revoke_old)" "$(status_of "$OLD_r03")" "revoked 4"
for _ in $(seq 50); do [[ $(crl_has "$OLD_r03") != absent ]] && break; sleep 0.2; done
check_eq "...and on the next CRL" "$(crl_has "$OLD_r03")" Superseded
# DESIGN 3: the same key again gets the stored certificate (a client that
# lost the answer retries); another key is refused: the link works once.
hs "$API/$TOK3/csr" -H 'Content-Type: application/pkcs10' --data-binary @"$T/r03.csr"
expect_http "the reminder link again, same key: the stored certificate" 200
check_eq "...the same serial" "$(hdr X-Userca-Serial)" "$NEW_r03"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
    -keyout "$T/r03b.key" -out "$T/r03b.csr" 2>/dev/null
hs "$API/$TOK3/csr" -H 'Content-Type: application/pkcs10' --data-binary @"$T/r03b.csr"
expect_http "the reminder link works once (another key)" 403 token_used
ed_stop main
must "the audit log verifies" uc_ft log --home "$H" --verify
summary
