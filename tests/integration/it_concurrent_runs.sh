#!/usr/bin/env bash
# Two runs at once never issue twice.
#  - `userca batch` started twice on the same CSV and folder, 0.5 s apart: the
#    second exits 1 naming the first (folder lock, with its pid); every user
#    ends with exactly one valid certificate and every manifest password opens
#    its file (python3-cryptography) and holds the manifest's serial.
#  - the same with two folders: the runs race in the database; each user is
#    recorded by exactly one of them (the check and the insert are one
#    transaction), and the two manifests together list each user once.
#  - `userca issue --supersede` for one user from 10 processes at once: 10
#    certificates, exactly one valid, 9 revoked as superseded and on the
#    published CRL (openssl crl).
#  - concurrent CRL signing and publishing: public/crl.der is the newest CRL.
#  - re-issue without --email/--upn keeps both (openssl x509 -ext
#    subjectAltName); an existing --out is not overwritten without --force; an
#    unwritable --p12 is refused before anything is recorded.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_URL=http://127.0.0.1:1
H=$T/pki
ca_init "$H" --intermediate --profile modern
DB=$H/userca.db
N=${N_USERS:-1000}
# Under the sanitizers everything is ~10x slower; the runs still overlap.
[[ ${USERCA_SANITIZE:-0} == 1 ]] && N=400
{
	echo 'username,email'
	for i in $(seq 1 "$N"); do printf 'u%04d,u%04d@example.com\n' "$i" "$i"; done
} >"$T/users.csv"

# ok_manifests CSV DIR...: every user of CSV in exactly one manifest, each
# password opening its file and the file holding the manifest's serial, which
# is the user's one valid certificate in the database.
cat >"$T/manifests.py" <<'EOF'
import csv, os, sqlite3, sys
from cryptography.hazmat.primitives.serialization import pkcs12
users = [r["username"] for r in csv.DictReader(open(sys.argv[1]))]
db = sqlite3.connect(sys.argv[2])
valid = {}
for u, s in db.execute("select u.username, c.serial from certificates c join users u "
                       "on u.id = c.user_id where c.status = 'valid' and c.kind = 'user'"):
    valid.setdefault(u, []).append(s)
errs, seen = [], {}
twice = [u for u in users if len(valid.get(u, [])) != 1]
if twice:
    errs.append("%d users without exactly one valid certificate, e.g. %s: %s"
                % (len(twice), twice[0], valid.get(twice[0])))
for d in sys.argv[3:]:
    for r in csv.DictReader(open(os.path.join(d, "manifest.csv"))):
        u = r["username"]
        if u in seen:
            errs.append("%s listed twice (%s and %s)" % (u, seen[u], d))
        seen[u] = d
        p = os.path.join(d, r["p12_file"])
        try:
            key, cert, chain = pkcs12.load_key_and_certificates(
                open(p, "rb").read(), r["password"].encode())
        except Exception as e:
            errs.append("%s: manifest password does not open %s: %s" % (u, p, e))
            continue
        if format(cert.serial_number, "X") != r["serial"].lstrip("0"):
            errs.append("%s: file serial %X, manifest %s" % (u, cert.serial_number, r["serial"]))
        if valid.get(u) != [r["serial"]]:
            errs.append("%s: manifest serial %s is not the valid one %s" % (u, r["serial"], valid.get(u)))
missing = [u for u in users if u not in seen]
if missing:
    errs.append("%d users in no manifest, e.g. %s" % (len(missing), missing[0]))
for e in errs[:10]:
    print(e)
sys.exit(1 if errs else 0)
EOF

valid_count() { sqlite3 "$DB" "select count(*) from certificates where kind = 'user' and status = 'valid'"; }

# two_runs CSV DIR1 DIR2: batch into DIR1, and 0.5 s later into DIR2; sets
# p1 (the first's pid), rc1, rc2; output in $T/b1.* and $T/b2.*.
two_runs() {
	"$USERCA" batch "$1" --home "$H" --out "$2" --jobs 1 >"$T/b1.out" 2>"$T/b1.err" &
	p1=$!
	sleep 0.5
	rc2=0
	"$USERCA" batch "$1" --home "$H" --out "$3" --jobs 1 >"$T/b2.out" 2>"$T/b2.err" || rc2=$?
	rc1=0
	wait "$p1" || rc1=$?
}

# ---- 1. the same folder, 0.5 s apart ----------------------------------------------------
two_runs "$T/users.csv" "$T/out" "$T/out"
check_eq "same folder: first run exits 0" "$rc1" 0
if grep -q "is being written by userca batch, pid $p1" "$T/b2.err"; then
	check_eq "same folder: second run exits 1 naming the first (pid $p1)" "$rc2" 1
else
	# The first finished before the second looked: then it must have skipped all.
	bad "same folder: second run (exit $rc2) did not name the running first one: $(head -c 300 "$T/b2.err")"
fi
check_eq "same folder: $N valid certificates" "$(valid_count)" "$N"
check "same folder: one valid certificate per user; every manifest password opens its file" \
    "$PY" "$T/manifests.py" "$T/users.csv" "$DB" "$T/out"
_show_if() { [[ $RC -ne 0 ]] && _show; return 0; }
_show_if
check_nofile "same folder: the lock names no holder once done" "$(test -s "$T/out/.userca.lock" && echo "$T/out/.userca.lock")"

# A finished folder is resumed, not refused: a re-run issues nothing.
expect_rc 0 "same folder: a re-run afterwards exits 0" uc batch "$T/users.csv" --home "$H" --out "$T/out"
check_stdout "same folder: the re-run skips everyone" " 0 issued, $N skipped"

# ---- 2. two folders, racing in the database ----------------------------------------------
{
	echo 'username,email'
	for i in $(seq 1 "$N"); do printf 'v%04d,v%04d@example.com\n' "$i" "$i"; done
} >"$T/users2.csv"
two_runs "$T/users2.csv" "$T/outA" "$T/outB"
check_eq "two folders: first run exits 0" "$rc1" 0
check_eq "two folders: second run exits 0" "$rc2" 0
check_eq "two folders: $((2 * N)) valid certificates in all" "$(valid_count)" "$((2 * N))"
check "two folders: each user recorded once, listed in one manifest, password opens the file" \
    "$PY" "$T/manifests.py" "$T/users2.csv" "$DB" "$T/outA" "$T/outB"
_show_if
ia=$(sed -n 's/.* \([0-9]*\) issued.*/\1/p' "$T/b1.out")
ib=$(sed -n 's/.* \([0-9]*\) issued.*/\1/p' "$T/b2.out")
check_eq "two folders: issued counts add up to $N ($ia + $ib)" "$(( ${ia:-0} + ${ib:-0} ))" "$N"
echo "     first:  $(cat "$T/b1.out")"
echo "     second: $(cat "$T/b2.out")"

# ---- 3. issue --supersede from 10 processes at once -----------------------------------------
pids=()
for i in $(seq 1 10); do
	"$USERCA" issue --home "$H" --user kim --email kim@example.com --upn kim@corp.example \
	    --p12 "$T/kim$i.p12" --password-file "$PASSFILE" --supersede >"$T/kim$i.out" 2>"$T/kim$i.err" &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
check_eq "issue x10: every process succeeded" "$fails" 0
kim() { sqlite3 "$DB" "select count(*) from certificates c join users u on u.id = c.user_id where u.username = 'kim' $1"; }
check_eq "issue x10: 10 certificates for kim" "$(kim '')" 10
check_eq "issue x10: exactly one of them valid" "$(kim "and c.status = 'valid'")" 1
check_eq "issue x10: 9 revoked as superseded (reason 4)" "$(kim "and c.status = 'revoked' and c.reason = 4")" 9
openssl crl -inform DER -in "$H/public/crl.der" -noout -text >"$T/crl.txt"
listed=0
while read -r s; do
	grep -qi "Serial Number: 0*$s\$" "$T/crl.txt" && listed=$((listed + 1))
done < <(sqlite3 "$DB" "select c.serial from certificates c join users u on u.id = c.user_id where u.username = 'kim' and c.status = 'revoked'" | sed 's/^0*//')
check_eq "issue x10: the published CRL lists the 9 superseded certificates" "$listed" 9
check_eq "issue x10: public/crl.der is the newest CRL" \
    "$(openssl crl -inform DER -in "$H/public/crl.der" -noout -crlnumber | sed -e 's/.*=//' -e 's/^0x//' -e 's/^0*//' | tr A-F a-f)" \
    "$(printf '%x' "$(sqlite3 "$DB" "select max(number) from crls where issuer_ski = (select issuer_ski from crls order by id desc limit 1)")")"

# ---- 4. concurrent CRL signing: the newest one is published ---------------------------------
pids=()
for i in $(seq 1 8); do "$USERCA" crl --home "$H" >/dev/null 2>"$T/crl$i.err" & pids+=($!); done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
check_eq "crl x8: every run succeeded" "$fails" 0
check_eq "crl x8: public/crl.der holds the highest CRL number" \
    "$(openssl crl -inform DER -in "$H/public/crl.der" -noout -crlnumber | sed -e 's/.*=//' -e 's/^0x//' -e 's/^0*//' | tr A-F a-f)" \
    "$(printf '%x' "$(sqlite3 "$DB" "select max(number) from crls where issuer_ski = (select issuer_ski from crls order by id desc limit 1)")")"
check_same "crl x8: crl.pem is crl.der" <(openssl crl -in "$H/public/crl.pem" -outform DER) "$H/public/crl.der"

# ---- 5. re-issue keeps the identity; outputs checked before anything is recorded -------------
new_csr kim2 -subj /CN=whoever
must "re-issue for kim without --email/--upn" uc issue --home "$H" --user kim --csr kim2.csr --out kim2.pem
check_stderr "re-issue: says where email and upn came from" "email upn .*taken from the record of kim"
check_stderr "re-issue: warns that kim has another valid certificate" "kim has 1 other valid certificate"
openssl x509 -in kim2.pem -noout -ext subjectAltName >"$T/san.txt"
check_grep "re-issue: SAN keeps the email" "email:kim@example.com" "$T/san.txt"
check_grep "re-issue: SAN keeps the UPN (otherName)" "othername:.*kim@corp.example" "$T/san.txt"
before=$(db_state "$H")
expect_rc 1 "issue --out to an existing file without --force" uc issue --home "$H" --user kim --csr kim2.csr --out kim2.pem
check_stderr "the refusal names --out and --force" "--out .*kim2.pem.*already exists.*--force"
mkdir "$T/ro" && chmod 500 "$T/ro"
if [[ $(id -u) -eq 0 ]]; then
	# root writes anywhere: make the folder unwritable by being a file.
	rmdir "$T/ro" && echo x >"$T/ro"
fi
expect_rc 1 "issue --p12 into an unwritable place" uc issue --home "$H" --user kim --p12 "$T/ro/kim.p12" --password-file "$PASSFILE"
check_stderr "the refusal says nothing was issued" "nothing was (issued|done)"
check_eq "an unwritable output records nothing" "$(db_state "$H")" "$before"
must "issue --out with --force replaces it" uc issue --home "$H" --user kim --csr kim2.csr --out kim2.pem --force

summary
