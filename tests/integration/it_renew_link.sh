#!/usr/bin/env bash
# A renewal link from `userca renew --tokens`, used through userca-enrolld
# (the clock ~340 days ahead for both): it lives until the old certificate
# expires, gives a new certificate that supersedes the old one in the
# records (the old one stays valid), works once, and the user is then not
# due again; /metrics counts the users expiring within 7 and 30 days.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
db() { sqlite3 "$H/userca.db" "$@"; }
printf 'username,email\nl01,l01@example.com\nl02,l02@example.com\n' >l.csv
must "batch l01, l02" uc batch l.csv --home "$H" --out "$T/in"
OLD=$(db "select serial from certificates c join users u on u.id = c.user_id where u.username = 'l01'")

export USERCA_NOW=$(($(date +%s) + 340 * 86400))
must "renew --tokens" uc renew --home "$H" --expiring 30d --out "$T/links" --tokens
TOK=$(py 'import csv,sys
print([r[6] for r in csv.reader(open(sys.argv[1])) if r[0] == "l01"][0].rsplit("/", 1)[1])' "$T/links/manifest.csv")

ed_conf "$T/d.ini" "$H" "[limits]
rate_limit = 100000"
ed_start main "$T/d.ini" "USERCA_NOW=$USERCA_NOW"
API=/api/v1/enroll
gauge() { hp /metrics; sed -n "s/^userca_certificates_expiring{within=\"$1\"} //p" "$T/body"; }
check_eq "/metrics: 2 users expiring within 30 days, not renewed" "$(gauge 30d)" 2
check_eq "/metrics: none within 7 days" "$(gauge 7d)" 0
hs "$API/$TOK/p12" -H 'Content-Type: application/json' -d '{}'
check_eq "the renewal link gives a PKCS#12" "$CODE" 200
NEW=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$T/body" | norm_serial)
check_eq "the old certificate is superseded by the new one" \
	"$(db "select n.serial from certificates o join certificates n on n.id = o.superseded_by where o.serial = '$OLD'" | norm_serial)" "$NEW"
check_eq "the old certificate stays valid" "$(db "select status from certificates where serial = '$OLD'")" valid
check_eq "/metrics: 1 left once l01 renewed" "$(gauge 30d)" 1
hs "$API/$TOK/p12" -H 'Content-Type: application/json' -d '{}'
check_eq "the link works once" "$CODE" 403
ed_stop main
run uc renew --home "$H" --expiring 30d --out "$T/links2" --json
check_eq "afterwards: l02 still due (link pending, skipped), l01 not" \
	"$(py 'import json,sys; j=json.load(open(sys.argv[1])); print(j["due"], j["renewed"], j["skipped"])' "$OUT")" "1 0 1"
summary
