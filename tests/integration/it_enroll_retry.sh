#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# The retry window (DESIGN 25): a /p12 answer carries a retry secret and
# retry_until; one more POST with X-Userca-Retry before then issues again
# (the other format, a new password) and revokes the first certificate
# (superseded), which the daemon's CRL watch puts on /crl.der.  Once only;
# refused after the window, a second time, without or with a wrong secret;
# only the secret's SHA-256 is stored; refusals count for the rate limit.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
DB=$H/userca.db
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
API=/api/v1/enroll

ed_conf "$T/main.ini" "$H" "[crl]
poll = 1s
[limits]
rate_limit = 100000"
ed_start main "$T/main.ini"

tok() { new_token "$H" "$@" || fail "userca token $*"; }
p12_from_json() {	# JSON OUT.p12 PASSFILE
	"$PY" -c 'import json, sys, base64
d = json.load(open(sys.argv[1]))
open(sys.argv[2], "wb").write(base64.b64decode(d["p12"], validate=True))
open(sys.argv[3], "w").write(d["password"] + "\n")' "$@"
}
p12_serial() {	# P12 PASSFILE
	openssl pkcs12 -in "$1" -passin "file:$2" -clcerts -nokeys 2>/dev/null |
	    openssl x509 -noout -serial | sed 's/^serial=//' | norm_serial
}
db1() { sqlite3 "$DB" "$1"; }
post_p12() {	# TOKEN JSON [curl args]
	local t=$1 j=$2
	shift 2
	hs "$API/$t/p12" -H 'Content-Type: application/json' -d "$j" "$@"
}

# ---- the first answer carries the secret and its deadline ----
TA=$(tok alice alice@example.test)
NOW=$(date +%s)
post_p12 "$TA" '{}'
expect_http "first p12" 200
cp "$T/body" "$T/a1.json"
R=$(jget "$T/a1.json" retry)
check_cond "first answer: retry is a 22-character secret" '[[ $R =~ ^[A-Za-z0-9_-]{22}$ ]]'
UNTIL=$(jget "$T/a1.json" retry_until)
U=$(date -d "$UNTIL" +%s 2>/dev/null || echo 0)
check_cond "retry_until is 15 minutes away by default ($UNTIL)" \
    '(( U >= NOW + 890 && U <= NOW + 910 ))'
check "first answer: p12 and password" p12_from_json "$T/a1.json" "$T/a1.p12" "$T/a1.pass"
S1=$(p12_serial "$T/a1.p12" "$T/a1.pass")
check_eq "first answer: serial" "$(jget "$T/a1.json" serial | norm_serial)" "$S1"
check_eq "the database keeps the secret's SHA-256" \
    "$(db1 "select lower(hex(retry_hash)) from tokens where $(token_sql "$TA")")" \
    "$(printf '%s' "$R" | sha256sum | cut -d' ' -f1)"
check_cond "the secret itself is nowhere in the database" \
    '! grep -qaF -- "$R" "$DB" "$DB-wal" 2>/dev/null'

# ---- without or with a wrong secret: the used token answers 403 ----
post_p12 "$TA" '{"p12_format":"modern"}'
expect_http "used token, no retry secret" 403 token_used
post_p12 "$TA" '{"p12_format":"modern"}' -H "X-Userca-Retry: AAAAAAAAAAAAAAAAAAAAAA"
expect_http "used token, wrong retry secret" 403 token_used
post_p12 "$TA" '{"p12_format":"modern"}' -H "X-Userca-Retry: $R!"
expect_http "used token, malformed retry secret" 403 token_used
check_eq "refusals revoked nothing" \
    "$(db1 "select status from certificates where serial = '$S1'")" valid

# ---- the retry: the other format, a new password, once ----
post_p12 "$TA" '{"p12_format":"modern"}' -H "X-Userca-Retry: $R"
expect_http "retry within the window" 200
cp "$T/body" "$T/a2.json"
check_eq "retry: the other format" "$(jget "$T/a2.json" p12_format)" modern
check_eq "retry: no second retry secret" "$(jget "$T/a2.json" retry)" ""
check "retry: p12 and password" p12_from_json "$T/a2.json" "$T/a2.p12" "$T/a2.pass"
check_ne "retry: a new password" "$(cat "$T/a2.pass")" "$(cat "$T/a1.pass")"
check "retry: the modern PKCS#12 opens" openssl pkcs12 -in "$T/a2.p12" -passin "file:$T/a2.pass" -info -noout
check_stderr "retry: modern = AES" 'aes'
S2=$(p12_serial "$T/a2.p12" "$T/a2.pass")
check_ne "retry: a new certificate" "$S2" "$S1"
check_eq "retry: the first certificate is revoked, superseded (4)" \
    "$(db1 "select status || ' ' || reason from certificates where serial = '$S1'")" "revoked 4"
check_eq "retry: the first one is superseded by the second" \
    "$(db1 "select n.serial from certificates o join certificates n on n.id = o.superseded_by where o.serial = '$S1'")" "$S2"
check_eq "retry: the second is valid" \
    "$(db1 "select status from certificates where serial = '$S2'")" valid
check_eq "retry: the token now names the second certificate" \
    "$(db1 "select c.serial from tokens t join certificates c on c.id = t.cert_id where $(token_sql "$TA")")" "$S2"
check_eq "retry: method enroll-retry recorded" \
    "$(db1 "select method from certificates where serial = '$S2'")" enroll-retry
check_cond "retry: audited" \
    '[[ $(db1 "select count(*) from audit where action = '"'"'enroll-retry'"'"' and subject = '"'"'alice'"'"'") == 1 ]]'

post_p12 "$TA" '{}' -H "X-Userca-Retry: $R"
expect_http "a second retry" 403 token_used
check_eq "a second retry issued nothing" \
    "$(db1 "select count(*) from certificates where user_id = (select id from users where username = 'alice')")" 2

# ---- the revocation reaches the CRL (the daemon's watch re-signs it) ----
ONCRL=no
for _ in $(seq 1 40); do
	hp /crl.der
	openssl crl -inform DER -in "$T/body" -noout -text 2>/dev/null >"$T/crl.txt" || true
	if grep -A4 -i "Serial Number: *0*$S1\$" "$T/crl.txt" | grep -q "Superseded"; then
		ONCRL=yes; break
	fi
	sleep 0.5
done
check_eq "the first serial is on /crl.der, reason Superseded" "$ONCRL" yes
check_nogrep "the second serial is not on the CRL" "Serial Number: *0*$S2\$" "$T/crl.txt"

# ---- the retry window ends: 1 s ----
ed_stop main
ed_conf "$T/short.ini" "$H" "[crl]
poll = 1s
[enroll]
retry_window = 1s
[limits]
rate_limit = 4"
ed_start short "$T/short.ini"
TB=$(tok bob bob@example.test)
post_p12 "$TB" '{}' -H 'Accept: application/x-pkcs12'
expect_http "binary p12" 200
RB=$(hdr X-Userca-Retry)
check_cond "binary answer: X-Userca-Retry header" '[[ $RB =~ ^[A-Za-z0-9_-]{22}$ ]]'
check_hdr "binary answer: X-Userca-Retry-Until" X-Userca-Retry-Until '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'
SB=$(db1 "select c.serial from tokens t join certificates c on c.id = t.cert_id where $(token_sql "$TB")")
sleep 2
post_p12 "$TB" '{"p12_format":"modern"}' -H "X-Userca-Retry: $RB"
expect_http "retry after the window" 403 token_used
check_eq "after the window: the first certificate stays valid" \
    "$(db1 "select status from certificates where serial = '$SB'")" valid

# ---- refusals count for the rate limit like other token failures ----
GOT429=no
for _ in 1 2 3 4 5 6; do
	post_p12 "$TB" '{}' -H "X-Userca-Retry: $RB"
	[[ $CODE == 429 ]] && { GOT429=yes; break; }
done
check_eq "refused retries are rate-limited (429)" "$GOT429" yes

# ---- retry_window = 0: no secret handed out ----
ed_stop short
ed_conf "$T/off.ini" "$H" "[enroll]
retry_window = 0"
ed_start off "$T/off.ini"
TC=$(tok carol carol@example.test)
post_p12 "$TC" '{}'
expect_http "p12 with the window off" 200
check_eq "window off: no retry field" "$(jget "$T/body" retry)" ""
ed_stop off
check_nogrep "no retry secret in the daemon logs" "$R|$RB" "$T/main.log"

summary
