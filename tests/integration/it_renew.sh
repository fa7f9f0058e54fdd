#!/usr/bin/env bash
# userca renew (issue 14, item 1): with the clock ~340 days ahead
# ($USERCA_NOW, test clock builds), exactly the users whose newest valid
# certificate expires within the window get a new bundle or a renewal link;
# the others, revoked users and renewed lineages do not.  The old
# certificates stay valid and superseded (or, with --revoke-old, revoked
# and on the CRL); S/MIME and the SID are kept; a re-run renews nobody
# twice; a renew killed with -9 and re-run issues nobody twice.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/pki
ca_init "$H" --intermediate --profile modern --allow-http-links --smime
db() { sqlite3 "$H/userca.db" "$@"; }

# Ages at +340 days: A 365 days (25 left), C 350 (10 left), L 355 (15
# left), B 400 (60 left); r01 revoked; m01 has a newer certificate too.
SID=S-1-5-21-1004336348-1177238915-682003330-1001
printf 'username,email,name,upn,smime,sid\na01,a01@example.com,Ann One,a01@corp.example,yes,%s\na02,a02@example.com,,,,\na03,a03@example.com,,,,\nr01,r01@example.com,,,,\nm01,m01@example.com,,,,\n' "$SID" >a.csv
printf 'username,email\nc01,c01@example.com\nc02,c02@example.com\n' >c.csv
printf 'username,email\nl01,l01@example.com\nl02,l02@example.com\n' >l.csv
printf 'username,email\nb01,b01@example.com\nb02,b02@example.com\n' >b.csv
must "batch A" uc batch a.csv --home "$H" --out "$T/ia" --jobs 2
must "batch C (350 days)" uc batch c.csv --home "$H" --out "$T/ic" --days 350
must "batch L (355 days)" uc batch l.csv --home "$H" --out "$T/il" --days 355
must "batch B (400 days)" uc batch b.csv --home "$H" --out "$T/ib" --days 400
must "revoke r01" uc revoke --user r01 --reason keyCompromise --home "$H" --passphrase-file "$PASSFILE" --yes
must "m01's second certificate" uc issue --user m01 --days 400 --p12 "$T/m01.p12" --password-file "$PASSFILE" --home "$H"
serial_of() { db "select serial from certificates c join users u on u.id = c.user_id where u.username = '$1' order by c.id limit 1"; }
ncerts() { db "select count(*) from certificates where kind = 'user'"; }
before=$(ncerts)

export USERCA_NOW=$(($(date +%s) + 340 * 86400))

# ---- a dry run, then --revoke-old for those with 12 days or fewer -----------------------------
run uc renew --home "$H" --expiring 30d --dry-run --json
check_eq "dry run: 7 due (a01-a03, m01 no, c01-c02, l01-l02)" "$(py 'import json,sys; print(json.load(open(sys.argv[1]))["due"])' "$OUT")" 7
check_eq "dry run made nothing" "$(ncerts)" "$before"

C1=$(serial_of c01) C2=$(serial_of c02)
must "renew --expiring 12d --revoke-old" uc renew --home "$H" --expiring 12d --out "$T/oc" --revoke-old --jobs 2
# mcol DIR N: column N (0-based) of the manifest's rows, one per line
mcol() { py 'import csv,sys
for r in list(csv.reader(open(sys.argv[1])))[1:]: print(r[int(sys.argv[2])])' "$1/manifest.csv" "$2"; }
manifest_users() { mcol "$1" 0 | sort | paste -sd, -; }
# mrows DIR: username serial p12_file password, space-separated
mrows() { py 'import csv,sys
for r in list(csv.reader(open(sys.argv[1])))[1:]: print(r[0], r[2], r[4], r[5])' "$1/manifest.csv"; }
check_eq "12d: only c01, c02 renewed" "$(manifest_users "$T/oc")" c01,c02
check_eq "12d: the old ones revoked as superseded" "$(db "select status || ':' || reason from certificates where serial in ('$C1', '$C2')" | sort -u)" "revoked:4"
check_eq "12d: the old ones superseded_by the new" "$(db "select count(*) from certificates o join certificates n on n.id = o.superseded_by join users u on u.id = n.user_id where o.serial in ('$C1', '$C2') and n.method = 'renew'")" 2
openssl crl -in "$H/public/crl.pem" -noout -text >crl.txt
for s in "$C1" "$C2"; do check_grep "CRL lists $s" "Serial Number: 0*$s" crl.txt; done

# ---- renewal links for 20 days: l01, l02 -------------------------------------------------------
must "renew --expiring 20d --tokens" uc renew --home "$H" --expiring 20d --out "$T/ol" --tokens
check_eq "20d --tokens: l01, l02 (c renewed already)" "$(manifest_users "$T/ol")" l01,l02
L1=$(serial_of l01)
check_eq "the link lives until l01's certificate expires (DESIGN 20)" \
	"$(db "select t.expires_at = c.not_after from tokens t join certificates c on c.id = t.renews where c.serial = '$L1'")" 1
check_eq "the manifest's token_expires is that date" \
	"$(py 'import csv,sys
print([r[7] for r in csv.reader(open(sys.argv[1])) if r[0] == "l01"][0])' "$T/ol/manifest.csv")" \
	"$(date -u -d @"$(db "select not_after from certificates where serial = '$L1'")" +%Y-%m-%dT%H:%M:%SZ)"
check_eq "no certificate made for links" "$(ncerts)" $((before + 2))

# ---- the rest of the 30-day window: a01-a03 ----------------------------------------------------
A1=$(serial_of a01)
must "renew --expiring 30d" uc renew --home "$H" --expiring 30d --out "$T/oa" --jobs 2 --p12-format legacy
check_eq "30d: exactly a01-a03 (not b*, r01, m01, c*, l* with links pending)" "$(manifest_users "$T/oa")" a01,a02,a03
check_eq "30d: old a01 still valid, superseded" "$(db "select status, superseded_by is not null from certificates where serial = '$A1'")" "valid|1"
mrows "$T/oa" >oa.rows
while read -r u serial file pw; do
	openssl pkcs12 -in "$T/oa/$file" -passin "pass:$pw" -nokeys -clcerts 2>/dev/null | openssl x509 -out "$u.new.pem" 2>/dev/null
	check_eq "$u.p12 opens with its password and holds serial $serial" "$(cert_serial "$u.new.pem")" "$(echo "$serial" | norm_serial)"
done <oa.rows
openssl x509 -in a01.new.pem -noout -text >a01.txt
check_grep "a01 renewed with S/MIME (emailProtection)" "E-mail Protection" a01.txt
check_grep "a01 renewed with the SID extension" "1\.3\.6\.1\.4\.1\.311\.25\.2" a01.txt
check_grep "a01 renewed with the UPN" "a01@corp.example|othername" a01.txt
openssl x509 -in a02.new.pem -noout -text >a02.txt
check_nogrep "a02 stays without S/MIME" "E-mail Protection" a02.txt

# ---- re-runs renew nobody twice ---------------------------------------------------------------
n=$(ncerts)
must "renew again, same folder" uc renew --home "$H" --expiring 30d --out "$T/oa" --jobs 2
check_eq "re-run: no new certificate" "$(ncerts)" "$n"
check_eq "re-run: the manifest still lists a01-a03 once" "$(manifest_users "$T/oa")" a01,a02,a03
run uc renew --home "$H" --expiring 30d --out "$T/oa2" --tokens
check_eq "new folder: nobody due" "$(ncerts)" "$n"
check_eq "new folder: no link either" "$(db "select count(*) from tokens")" 2
check_stdout "says nobody was renewed (links pending for l01, l02)" "2 due: 0 renewed, 2 skipped"
check_eq "no renewal list left in the home" "$(ls -A "$H" | grep -c '^\.renew-' || true)" 0
check_eq "audit rows: renew per renewed certificate" "$(db "select count(*) from audit where action = 'renew'")" 5

# ---- killed with -9 and re-run --------------------------------------------------------------
unset USERCA_NOW
H=$T/pk
ca_init "$H" --intermediate --profile modern
NU=300
"$PY" -c 'import sys
print("username,email")
for i in range(int(sys.argv[1])): print("k%03d,k%03d@example.com" % (i, i))' "$NU" >k.csv
must "batch $NU users" uc batch k.csv --home "$H" --out "$T/ik" --jobs 2
export USERCA_NOW=$(($(date +%s) + 340 * 86400))
committed() { db "select count(*) from certificates where method = 'renew'" 2>/dev/null || echo 0; }
for attempt in 1 2; do
	before=$(committed)
	"$USERCA" renew --home "$H" --expiring 30d --out "$T/ok" --jobs 2 >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 1 1500); do
		[[ $(committed) -gt $before ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	sleep "0.0$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null && echo "INFO: renew killed after $(committed) renewals" || true
	wait "$pid" 2>/dev/null || true
	check_eq "killed ($attempt): PRAGMA integrity_check" "$(db 'pragma integrity_check')" ok
	check_eq "killed ($attempt): nobody renewed twice" "$(db "select count(*) from certificates o where (select count(*) from certificates n where n.user_id = o.user_id) > 2")" 0
done
must "renew re-run to completion" uc renew --home "$H" --expiring 30d --out "$T/ok" --jobs 2
check_eq "every user has exactly two certificates" "$(db "select count(*) from (select user_id from certificates where kind = 'user' group by user_id having count(*) = 2)")" "$NU"
check_eq "every old certificate superseded, still valid" "$(db "select count(*) from certificates where method = 'batch' and status = 'valid' and superseded_by is not null")" "$NU"
check_eq "the manifest lists each user once" "$(mcol "$T/ok" 0 | sort -u | wc -l)" "$NU"
check_eq "the manifest lists no user twice" "$(mcol "$T/ok" 0 | wc -l)" "$NU"
bad_p12=0
while read -r u serial file pw; do
	got=$(openssl pkcs12 -in "$T/ok/$file" -passin "pass:$pw" -nokeys -clcerts 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | sed 's/serial=//' | norm_serial)
	[[ $got == "$(echo "$serial" | norm_serial)" ]] || bad_p12=$((bad_p12 + 1))
done < <(mrows "$T/ok")
check_eq "every listed .p12 opens and holds the listed serial" "$bad_p12" 0
check_eq "no partial bundle left" "$(ls -A "$T/ok/.partial" | wc -l)" 0

# ---- killed after every renewal committed, before its manifest: nobody is
# due any more, and the re-run still settles the folder ------------------------------------------
if command -v strace >/dev/null; then
	unset USERCA_NOW
	H=$T/ps
	ca_init "$H" --intermediate --profile modern
	printf 'username,email\np1,p1@example.com\np2,p2@example.com\np3,p3@example.com\n' >p.csv
	must "batch p1-p3" uc batch p.csv --home "$H" --out "$T/ip"
	export USERCA_NOW=$(($(date +%s) + 340 * 86400))
	# renameat: the three bundles into place, then the manifest (4th).
	strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:signal=KILL:when=4 \
	    "$USERCA" renew --home "$H" --expiring 30d --out "$T/op" >/dev/null 2>&1 || true
	check_eq "killed at the manifest: all three renewals committed" "$(db "select count(*) from certificates where method = 'renew'")" 3
	check_nofile "killed at the manifest: none written" "$T/op/manifest.csv"
	must "re-run with nobody due" uc renew --home "$H" --expiring 30d --out "$T/op"
	check_eq "re-run: the manifest lists p1-p3 with their passwords" "$(manifest_users "$T/op")" p1,p2,p3
	check_nofile "re-run: the journal is gone" "$T/op/.userca-batch.journal"
	n_ok=0
	while read -r u serial file pw; do
		openssl pkcs12 -in "$T/op/$file" -passin "pass:$pw" -nokeys -noout 2>/dev/null && n_ok=$((n_ok + 1))
	done < <(mrows "$T/op")
	check_eq "re-run: the three bundles open" "$n_ok" 3
	check_eq "re-run: no certificate made" "$(db "select count(*) from certificates where method = 'renew'")" 3
else
	echo "SKIP: strace missing: no kill at the manifest"
fi
summary
