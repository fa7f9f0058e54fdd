#!/usr/bin/env bash
# userca backup / backup --verify / restore (issue 17, items 1 and 2): a backup
# of a live CA (the daemon enrolling, a batch issuing) restores into a new
# folder whose database passes integrity_check and holds every certificate
# committed before the backup began; a quiet backup restores to the same
# records and files byte for byte, and a daemon on it serves the same files;
# the restored CA issues and revokes, its next CRL numbered above every CRL
# before; --include-root decides the root key; archives are 0600 and not
# overwritten; a flipped byte, a truncated or extended archive and a wrong
# passphrase are refused and write nothing; the passphrase never comes from
# the command line.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool sqlite3

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
BKPASS=$T/bk.pass
printf '%s\n' 'a long backup passphrase' >"$BKPASS"
chmod 600 "$BKPASS"

# records HOME: every certificate row (serial, status, sha256), sorted.
records() { sqlite3 "$1/userca.db" 'select serial, status, sha256 from certificates order by serial'; }
# files HOME: sha256 and mode of every file but the database and dot-files.
files() {
	(cd "$1" && find . -type f ! -name '.*' ! -name 'userca.db*' | sort |
	    while read -r f; do printf '%s %s %s\n' "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"; done)
}
max_crl() { sqlite3 "$1/userca.db" 'select coalesce(max(number), 0) from crls'; }
# leftovers DIR: what a refused restore might have left in DIR.
leftovers() { find "$1" -maxdepth 1 -name '.*restore*' | wc -l; }

# ---- a CA with some history ------------------------------------------------------
new_csr alice -subj /CN=alice
must "issue alice" uc issue --home "$H" --user alice --email alice@example.com --csr alice.csr --out alice.pem
must "issue bob (p12)" uc issue --home "$H" --user bob --p12 bob.p12
must "revoke bob" uc revoke --home "$H" --user bob --yes

# ---- a backup of a live CA ---------------------------------------------------------
ed_conf "$T/d.ini" "$H" "[crl]
poll = 1s"
ed_start live "$T/d.ini"
TOKENS=()
for i in 1 2 3 4 5 6; do
	tok=$(new_token "$H" "dev$i" "dev$i@example.com") || fail "token dev$i"
	TOKENS+=("$tok")
done
{
	echo username,email
	for i in $(seq 1 400); do echo "user$i,user$i@example.com"; done
} >staff.csv
BEFORE=$(records "$H")

uc batch staff.csv --home "$H" --out "$T/handout" --jobs 2 >"$T/batch.out" 2>&1 &
BATCH=$!
(
	for tok in "${TOKENS[@]}"; do
		curl -sS --max-time 30 --cacert "$ED_CACERT" -o /dev/null -w '%{http_code}\n' \
		    -H 'Content-Type: application/json' -d '{}' "$HTTPS/api/v1/enroll/$tok/p12"
	done >"$T/enroll.codes" 2>&1
) &
ENROLL=$!
sleep 0.2
if kill -0 "$BATCH" 2>/dev/null; then pass "the batch is issuing when the backup starts"
else echo "NOTE: the batch finished before the backup started"; fi
expect_rc 0 "backup while the daemon enrolls and a batch issues" \
    uc backup --home "$H" --out "$T/live.ucbk" --passphrase-file "$BKPASS"
wait "$BATCH" || bad "batch exited $?: $(tail -3 "$T/batch.out")"
check_grep "the batch issued all 400" '400 issued' "$T/batch.out"
wait "$ENROLL" || true
check_eq "six enrollments during the backup" "$(grep -c '^200$' "$T/enroll.codes")" 6
check_eq "archive mode" "$(stat -c %a "$T/live.ucbk")" 600
expect_rc 0 "backup --verify (live)" uc backup --verify "$T/live.ucbk" --passphrase-file "$BKPASS"
check_stdout "--verify says ok" ': ok$'

expect_rc 0 "restore the live backup into a new folder" \
    uc restore "$T/live.ucbk" --home "$T/r-live" --passphrase-file "$BKPASS"
check_eq "restored database: integrity_check" "$(sqlite3 "$T/r-live/userca.db" 'PRAGMA integrity_check')" ok
check_eq "restored home is 0700" "$(stat -c %a "$T/r-live")" 700
missing=$(comm -23 <(echo "$BEFORE") <(records "$T/r-live") | wc -l)
check_eq "every certificate committed before the backup is in the restored records" "$missing" 0
extra=$(comm -13 <(records "$H") <(records "$T/r-live") | wc -l)
check_eq "the restored records are a state of the original (nothing it does not have)" "$extra" 0
n_live=$(records "$T/r-live" | wc -l)
check_cond "the live snapshot holds at least the $(echo "$BEFORE" | wc -l) certificates from before ($n_live)" \
    "[[ $n_live -ge $(echo "$BEFORE" | wc -l) ]]"
check_nofile "no root key without --include-root" "$T/r-live/root/root.key"

# ---- a quiet backup: the same records and files ------------------------------
expect_rc 0 "backup (quiet, daemon running)" \
    env USERCA_BACKUP_PASSPHRASE='a long backup passphrase' "$USERCA" backup --home "$H" --out "$T/quiet.ucbk" --json
check_stdout "--json names the members" '"members": [0-9]+'
check_stdout "--json: no root key" '"root_key": false'
CRL_BEFORE=$(max_crl "$H")
PUB_CRL_BEFORE=$(crl_number "$H/public/crl.der")
ORIG_RECORDS=$(records "$H")
ORIG_FILES=$(files "$H")
expect_rc 0 "restore into an existing empty folder" \
    env USERCA_BACKUP_PASSPHRASE='a long backup passphrase' "$USERCA" restore "$T/quiet.ucbk" --home "$T/r-quiet"
mkdir "$T/r-empty"
expect_rc 0 "restore into an empty folder that exists" \
    uc restore "$T/quiet.ucbk" --home "$T/r-empty" --passphrase-file "$BKPASS"
check_eq "restored records = original records" "$(records "$T/r-quiet")" "$ORIG_RECORDS"
check_eq "restored records (existing empty folder) = original" "$(records "$T/r-empty")" "$ORIG_RECORDS"
check_eq "restored files and modes = original (root key aside)" "$(files "$T/r-quiet")" \
    "$(grep -v ' ./root/root.key$' <<<"$ORIG_FILES")"
check_eq "restored crls = original crls" \
    "$(sqlite3 "$T/r-quiet/userca.db" 'select number, hex(der) from crls order by number')" \
    "$(sqlite3 "$H/userca.db" 'select number, hex(der) from crls order by number')"
check_eq "restored users = original users" \
    "$(sqlite3 "$T/r-quiet/userca.db" 'select username, email from users order by username')" \
    "$(sqlite3 "$H/userca.db" 'select username, email from users order by username')"

# A daemon on the restored home serves the same files.
for f in ca.pem ca.crt crl.der crl.pem root.crl ca.json; do
	hp "/$f"; cp "$T/body" "$T/orig.$f"
done
ed_stop live
ed_conf "$T/q.ini" "$T/r-quiet" "[crl]
poll = 1s"
sed -i "s|^cert = .*|cert = $H.tls/tls.crt|; s|^key = .*|key = $H.tls/tls.key|" "$T/q.ini"
ed_start restored "$T/q.ini"
for f in ca.pem ca.crt crl.der crl.pem root.crl ca.json; do
	hp "/$f"
	check_same "the restored daemon serves the same /$f" "$T/body" "$T/orig.$f"
done
ed_stop restored
check_eq "the restored daemon exited cleanly" "$ED_RC" 0

# ---- the restored CA issues and revokes, CRL numbers go on upwards ----------
new_csr carol -subj /CN=carol
expect_rc 0 "the restored CA issues" \
    uc issue --home "$T/r-quiet" --user carol --csr carol.csr --out carol.pem
check "carol's certificate verifies against the ORIGINAL bundle" \
    openssl verify -CAfile "$H/public/ca-bundle.pem" carol.pem
ALICE=$(cert_serial alice.pem)
expect_rc 0 "revoke alice on the restored CA" \
    uc revoke --home "$T/r-quiet" --user alice --yes
NEWNUM=$(crl_number "$T/r-quiet/public/crl.der")
check_cond "restored CRL number $NEWNUM > every CRL before (db $CRL_BEFORE, published $PUB_CRL_BEFORE)" \
    "[[ $NEWNUM -gt $CRL_BEFORE && $NEWNUM -gt $PUB_CRL_BEFORE ]]"
check_grep "alice is on the restored CA's CRL" "^$ALICE\$" <(crl_serials "$T/r-quiet/public/crl.der")
check "the new CRL is signed by the (original) issuing CA" \
    openssl crl -inform DER -in "$T/r-quiet/public/crl.der" -CAfile "$H/issuing/ca.crt" -noout
check_fails "alice fails openssl verify -crl_check against the restored CRL" \
    openssl verify -crl_check -CAfile "$H/public/ca-bundle.pem" -CRLfile "$T/r-quiet/public/crl.pem" alice.pem
db_checks "$T/r-quiet"

# ---- the root key ---------------------------------------------------------------
expect_rc 0 "backup --include-root" \
    uc backup --home "$H" --out "$T/root.ucbk" --include-root --passphrase-file "$BKPASS"
expect_rc 0 "restore it" uc restore "$T/root.ucbk" --home "$T/r-root" --passphrase-file "$BKPASS"
check_same "--include-root: the root key is restored as it was" "$H/root/root.key" "$T/r-root/root/root.key"
check_eq "root key mode" "$(stat -c %a "$T/r-root/root/root.key")" 600
check "the restored root key opens with the root passphrase" \
    openssl pkey -in "$T/r-root/root/root.key" -passin "file:$PASSFILE" -noout
cp -a "$T/r-live" "$T/online"
rm -f "$T/online/root/root.key"
expect_rc 1 "--include-root on a home without the root key is refused" \
    uc backup --home "$T/online" --out "$T/none.ucbk" --include-root --passphrase-file "$BKPASS"
check_nofile "... and writes nothing" "$T/none.ucbk"

# ---- refusals -------------------------------------------------------------------
expect_rc 1 "backup refuses to overwrite" \
    uc backup --home "$H" --out "$T/quiet.ucbk" --passphrase-file "$BKPASS"
expect_rc 0 "--force replaces it" \
    uc backup --home "$H" --out "$T/quiet.ucbk" --passphrase-file "$BKPASS" --force
check_eq "replaced archive mode" "$(stat -c %a "$T/quiet.ucbk")" 600
expect_rc 1 "no passphrase: refused" uc backup --home "$H" --out "$T/nopass.ucbk"
check_stderr "names where the passphrase comes from" 'USERCA_BACKUP_PASSPHRASE'
check_nofile "... and nothing written" "$T/nopass.ucbk"
printf 'short\n' >"$T/short.pass"
expect_rc 1 "a short passphrase is refused" \
    uc backup --home "$H" --out "$T/short.ucbk" --passphrase-file "$T/short.pass"
expect_rc 2 "a passphrase on the command line is not accepted (backup)" \
    uc backup --home "$H" --out "$T/argv.ucbk" 'a long backup passphrase'
check_nogrep "... and not echoed" 'long backup' "$ERR"
expect_rc 2 "... nor as --passphrase" \
    uc backup --home "$H" --out "$T/argv.ucbk" --passphrase 'a long backup passphrase'
check_nogrep "... and not echoed" 'long backup' "$ERR"
expect_rc 2 "a passphrase on the command line is not accepted (restore)" \
    uc restore "$T/quiet.ucbk" 'a long backup passphrase' --home "$T/r-argv"
check_nogrep "... and not echoed" 'long backup' "$ERR"
expect_rc 2 "... nor as --pass (no prefix of --passphrase-file)" \
    uc restore "$T/quiet.ucbk" --pass 'a long backup passphrase' --home "$T/r-argv"
check_nogrep "... and not echoed" 'long backup' "$ERR"
check_nofile "... nothing written" "$T/r-argv"
expect_rc 1 "restore into a non-empty folder is refused" \
    uc restore "$T/quiet.ucbk" --home "$H" --passphrase-file "$BKPASS"

# refused ARCHIVE DESC: --verify and restore fail; nothing is written.
refused() {
	local f=$1 d=$2 pf=${3:-$BKPASS}
	expect_rc 1 "$d: --verify refuses it" uc backup --verify "$f" --passphrase-file "$pf"
	expect_rc 1 "$d: restore refuses it" uc restore "$f" --home "$T/r-bad" --passphrase-file "$pf"
	check_nofile "$d: the target folder was not created" "$T/r-bad"
	check_eq "$d: no staging folder left beside it" "$(leftovers "$T")" 0
}
SIZE=$(stat -c %s "$T/quiet.ucbk")
for off in 20 40 $((SIZE / 2)) $((SIZE - 1)); do
	cp "$T/quiet.ucbk" "$T/flip.ucbk"
	py 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1)
f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 1]))' "$T/flip.ucbk" "$off"
	check_cond "byte $off was flipped" "! cmp -s '$T/flip.ucbk' '$T/quiet.ucbk'"
	refused "$T/flip.ucbk" "one bit flipped at byte $off"
done
head -c $((SIZE - 100)) "$T/quiet.ucbk" >"$T/trunc.ucbk"
refused "$T/trunc.ucbk" "truncated"
check_stderr "says truncated" 'truncated'
head -c 30 "$T/quiet.ucbk" >"$T/trunc30.ucbk"
refused "$T/trunc30.ucbk" "cut inside the header"
{ cat "$T/quiet.ucbk"; printf x; } >"$T/long.ucbk"
refused "$T/long.ucbk" "a byte appended"
printf '%s\n' 'another long passphrase' >"$T/wrong.pass"
refused "$T/quiet.ucbk" "wrong passphrase" "$T/wrong.pass"
check_stderr "names the passphrase" 'passphrase'
refused "$H/userca.db" "not an archive"

# the archive holds no plaintext: no PEM header, no SQLite header
check_cond "no PEM or SQLite text in the archive" \
    "! grep -aqE 'BEGIN|SQLite format' '$T/root.ucbk'"

summary
