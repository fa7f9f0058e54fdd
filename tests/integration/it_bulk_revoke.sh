#!/usr/bin/env bash
# Bulk revocation (issue 14, item 3): `userca revoke --csv FILE --reason R`
# revokes 5,000 of 20,000 users in one transaction and one CRL: the new CRL
# (python3-cryptography) holds exactly those serials, each with the reason;
# openssl verify -crl_check rejects a sample of them and accepts a sample of
# the others.  A bad line is named FILE:LINE and the rest still go through
# (exit 3); --dry-run changes nothing; already revoked entries are a notice
# (exit 0 when nothing else failed); a serial column works the same way.
# 20,000 EC users (--profile modern) are issued by one batch (--jobs 2: about
# 25 s in a debug build).  Under the sanitizers (ASan makes each PKCS#12 ten
# times dearer) the same paths run with a tenth: 500 of 2,000.  The time is
# the bench's (scripts/bench second-year), not this test's.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/pki
P=$H/public
DB=$H/userca.db
ca_init "$H" --intermediate --profile modern
N=20000
[[ ${USERCA_SANITIZE:-0} == 1 ]] && N=2000
Q=$((N / 4))

{
	echo username,email
	for i in $(seq 1 "$N"); do echo "user$i,user$i@example.test"; done
} >"$T/users.csv"
must "batch of $N users" uc batch "$T/users.csv" --home "$H" --out "$T/b" --jobs 2
serial_of() { sqlite3 "$DB" "select serial from certificates c join users u on u.id = c.user_id where u.username = '$1'"; }
cert_of() { sqlite3 "$DB" "select hex(der) from certificates where serial = '$1'" | xxd -r -p | openssl x509 -inform DER -out "$2"; }

# Offboarding every 4th user ($Q); user2 already went last week and is
# in the file too.
must "revoke user2 alone first" uc revoke --home "$H" --user user2 --reason superseded --yes
{
	echo "username,comment"
	echo "user2,left last week"
	for i in $(seq 4 4 "$N"); do
		echo "user$i,left"
		[[ $i -eq 388 ]] && echo "nosuchuser,typo"	# line 100
	done
} >"$T/leavers.csv"
check_eq "line 100 of leavers.csv is the bad one" "$(sed -n 100p "$T/leavers.csv")" "nosuchuser,typo"
sqlite3 "$DB" "select c.serial from certificates c join users u on u.id = c.user_id
    where u.username like 'user%' and cast(substr(u.username, 5) as integer) % 4 = 0" |
    sort >"$T/want.serials"
check_eq "$Q certificates to revoke" "$(wc -l <"$T/want.serials")" "$Q"

CRLS0=$(sqlite3 "$DB" "select count(*) from crls")
NUM0=$(sqlite3 "$DB" "select max(number) from crls")

# ---- --dry-run: the same report, nothing written ----
expect_rc 3 "--dry-run: exit 3 (one bad line)" uc revoke --home "$H" --csv "$T/leavers.csv" \
    --reason keyCompromise --dry-run
check_eq "--dry-run: $Q 'would revoke' lines" "$(grep -c '^would revoke ' "$OUT")" "$Q"
check_stdout "--dry-run: says nothing was changed" "nothing was changed"
check_eq "--dry-run: nothing revoked" "$(sqlite3 "$DB" "select count(*) from certificates where status = 'revoked'")" 1
check_eq "--dry-run: no CRL" "$(sqlite3 "$DB" "select count(*) from crls")" "$CRLS0"

# ---- the real run ----
t0=$(date +%s.%N)
expect_rc 3 "revoke --csv $Q of $N users with a bad line: exit 3 (partial)" \
    uc revoke --home "$H" --csv "$T/leavers.csv" --reason keyCompromise
t1=$(date +%s.%N)
echo "    (revoke --csv of $Q users took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)"
check_stderr "the bad line is named with its line number" "leavers.csv:100: no such user 'nosuchuser'"
check_stderr "user2, already revoked: a notice with its line" "leavers.csv:2: user2 has no unrevoked certificate; nothing to do"
check_stderr "the summary says the others went through" "1 of $((Q + 2)) lines .* failed; the others went through"
check_eq "$Q revoked lines printed" "$(grep -c '^revoked ' "$OUT")" "$Q"
sqlite3 "$DB" "select serial from certificates where status = 'revoked' and reason = 1" | sort >"$T/got.serials"
check_same "exactly those serials are revoked, with keyCompromise (records)" "$T/want.serials" "$T/got.serials"
check_eq "the rest are still valid" "$(sqlite3 "$DB" "select count(*) from certificates where kind = 'user' and status = 'valid'")" $((N - Q - 1))
check_eq "one new CRL for the whole file" "$(sqlite3 "$DB" "select count(*) from crls")" $((CRLS0 + 1))
check_eq "its number is the next one" "$(sqlite3 "$DB" "select max(number) from crls")" $((NUM0 + 1))
check_stdout "...and the output names it" "$Q certificates revoked \\(keyCompromise\\); issuing CRL number $((NUM0 + 1)) published"
check_eq "one audit row per revoked certificate" \
    "$(sqlite3 "$DB" "select count(*) from audit where action = 'revoke' and detail = 'keyCompromise'")" "$Q"

# The published CRL, read with python3-cryptography: those $Q with the
# reason, user2 with its own, nothing else.
"$PY" - "$P/crl.der" "$T/crl.entries" <<'EOF'
import sys
from cryptography import x509
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
with open(sys.argv[2], "w") as f:
    for r in crl:
        try:
            reason = r.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
        except x509.ExtensionNotFound:
            reason = "none"
        f.write("%X %s\n" % (r.serial_number, reason))
EOF
grep ' key_compromise$' "$T/crl.entries" | cut -d' ' -f1 | sort >"$T/crl.kc"
check_same "the new CRL holds exactly those serials with keyCompromise" "$T/want.serials" "$T/crl.kc"
check_eq "...and user2's, superseded, nothing else" \
    "$(grep -v ' key_compromise$' "$T/crl.entries")" "$(serial_of user2) superseded"

# openssl verify -crl_check: a sample of each side.
openssl crl -inform DER -in "$P/crl.der" -out "$T/crl.pem"
for i in 8 $((N / 5)) $((3 * N / 5 + 4)) "$N"; do
	cert_of "$(serial_of "user$i")" "$T/r$i.pem"
	run openssl verify -crl_check -CAfile "$P/ca-bundle.pem" -CRLfile "$T/crl.pem" "$T/r$i.pem"
	check_cond "openssl verify -crl_check rejects revoked user$i" "[[ $RC -ne 0 ]] && grep -q 'certificate revoked' '$OUT' '$ERR'"
done
for i in 1 $((N / 5 + 1)) $((3 * N / 5 + 3)) $((N - 1)); do
	cert_of "$(serial_of "user$i")" "$T/v$i.pem"
	run openssl verify -crl_check -CAfile "$P/ca-bundle.pem" -CRLfile "$T/crl.pem" "$T/v$i.pem"
	check_eq "openssl verify -crl_check accepts user$i" "$RC" 0
done

# ---- again: idempotent ----
grep -v nosuchuser "$T/leavers.csv" >"$T/leavers2.csv"
expect_rc 0 "the same file again (bad line removed): exit 0, all notices" \
    uc revoke --home "$H" --csv "$T/leavers2.csv" --reason keyCompromise
check_eq "...$((Q + 1)) notices" "$(grep -c 'has no unrevoked certificate; nothing to do' "$ERR")" $((Q + 1))
check_eq "...and no new CRL" "$(sqlite3 "$DB" "select count(*) from crls")" $((CRLS0 + 1))

# ---- by serial ----
S1=$(serial_of user1)
S2=$(serial_of user3)
S2L=$(printf '%s' "$S2" | tr A-F a-f | sed 's/../&:/g; s/:$//')
cat >"$T/serials.csv" <<EOF
serial
$S1
$S2L
zz-not-hex
$(serial_of user8)
$S1
EOF
expect_rc 3 "revoke --csv by serial: exit 3 (one bad serial)" \
    uc revoke --home "$H" --csv "$T/serials.csv" --reason cessationOfOperation --json
check_eq "serial column: two revoked (also as lower-case hex with colons)" \
    "$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(sorted(s for r in j["revoked"] for s in r["serials"]))' "$OUT")" \
    "$("$PY" -c 'import sys; print(sorted(sys.argv[1:]))' "$S1" "$S2")"
check_eq "serial column: the bad serial's line in the JSON errors" \
    "$("$PY" -c 'import json,sys; print([e["line"] for e in json.load(open(sys.argv[1]))["errors"]])' "$OUT")" "[4]"
check_eq "serial column: already revoked and repeated serials are notices (lines 5, 6)" \
    "$("$PY" -c 'import json,sys; print([e["line"] for e in json.load(open(sys.argv[1]))["notices"]])' "$OUT")" "[5, 6]"
check_eq "serial column: recorded with cessationOfOperation" \
    "$(sqlite3 "$DB" "select count(*) from certificates where serial in ('$S1', '$S2') and reason = 5")" 2

# ---- files that are not such a CSV, and usage ----
printf 'name,email\nx,y\n' >"$T/nocol.csv"
expect_rc 1 "a file without a username or serial column: exit 1" \
    uc revoke --home "$H" --csv "$T/nocol.csv" --reason keyCompromise
check_stderr "...says what the header needs" "neither a username nor a serial column"
printf 'username\nnobody1\nnobody2\n' >"$T/allbad.csv"
expect_rc 1 "every line failing: exit 1, not 3" uc revoke --home "$H" --csv "$T/allbad.csv"
check_stderr "...each named" "allbad.csv:3: no such user 'nobody2'"
expect_rc 2 "--dry-run without --csv: usage" uc revoke --home "$H" --user user5 --dry-run
expect_rc 2 "--csv with --user: usage" uc revoke --home "$H" --user user5 --csv "$T/allbad.csv"

must "the audit log still verifies" uc log --home "$H" --verify

summary
