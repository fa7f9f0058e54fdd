#!/usr/bin/env bash
# Edge cases found in review: a journal line cut short by a kill or a full
# disk must not swallow the next run's first line; a root CRL signed by hand
# after a runway must void the runway (never leave an expired root CRL
# hiding valid pre-signed ones); a damaged runway file imports nothing.
. "$(dirname "$0")/lib.sh"

H=$T/home
ca_init "$H" --intermediate --profile modern

# ---- journal with a torn last line -------------------------------------------
printf 'username\nann\nben\n' >"$T/a.csv"
must "first batch" uc batch "$T/a.csv" --out "$T/out" --home "$H"
J=$T/out/.userca-batch.journal
# (A finished run wipes and removes its journal; a killed one leaves it, 0600.)
(umask 077; printf '"I","ghost","gh' >>"$J")	# a write cut short: no newline
printf 'username\ncy\ndee\n' >"$T/b.csv"
must "second batch into the same folder" uc batch "$T/b.csv" --out "$T/out" --home "$H"
# The torn line was cut off, or cy's line would have been read as its end
# (the manifest below lists cy and dee); the finished run removed the journal.
check_nofile "journal: wiped and removed once the run finished" "$J"
check_eq "manifest lists all four users with passwords" \
    "$($PY -c 'import csv,sys
rows=[r for r in csv.DictReader(open(sys.argv[1])) if r["password"]]
print(" ".join(sorted(r["username"] for r in rows)))' "$T/out/manifest.csv")" "ann ben cy dee"
for u in cy dee; do
	pw=$($PY -c 'import csv,sys
print([r["password"] for r in csv.DictReader(open(sys.argv[1])) if r["username"]==sys.argv[2]][0])' "$T/out/manifest.csv" "$u")
	check "$u.p12 opens with its manifest password" \
	    openssl pkcs12 -in "$T/out/$u.p12" -noout -passin "pass:$pw"
done

# ---- a hand-signed root CRL voids the runway -------------------------------------
must "runway of 3" uc crl --home "$H" --root --runway 3 --days 30 --out "$T/runway.pem" \
    --passphrase-file "$PASSFILE"
root_ski=$(openssl x509 -in "$H/root/root.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
future() { sqlite3 "$H/userca.db" "select count(*) from crls where issuer_ski='$root_ski' and this_update > strftime('%s','now')"; }
check_eq "runway: 2 root CRLs wait for their turn" "$(future)" 2
must "crl --root by hand" uc crl --home "$H" --root --passphrase-file "$PASSFILE"
check_eq "a hand-signed root CRL voids the pre-signed ones" "$(future)" 0
check_eq "the published root CRL is the newest" \
    "$(openssl crl -inform DER -in "$H/public/root.crl" -noout -crlnumber | sed 's/.*=//')" \
    "$(printf '0x%02X' "$(sqlite3 "$H/userca.db" "select max(number) from crls where issuer_ski='$root_ski'")")"

# ---- a damaged runway file imports nothing ---------------------------------------------
O=$T/online
must "online: intermediate request" uc intermediate request --home "$O" --org "$ORG" \
    --base-url "$BASE_URL" --profile modern --out "$T/o.csr"
OFF=$T/offline
ca_init "$OFF" --profile modern
must "offline: sign it" uc root sign-intermediate "$T/o.csr" --out "$T/o.crt" --home "$OFF" \
    --passphrase-file "$PASSFILE"
must "online: install" uc intermediate install "$T/o.crt" --root "$OFF/root/root.crt" --home "$O"
must "offline: runway of 3" uc crl --home "$OFF" --root --runway 3 --days 30 \
    --out "$T/off-runway.pem" --passphrase-file "$PASSFILE"
# Keep the first CRL whole, damage the second's base64.
$PY - "$T/off-runway.pem" "$T/damaged.pem" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
n, out, done = 0, [], False
for l in lines:
    if "BEGIN X509 CRL" in l:
        n += 1
    elif n == 2 and not done and not l.startswith("-----"):
        l, done = "!!!!" + l[4:], True
    out.append(l)
open(sys.argv[2], "w").write("\n".join(out))
PY
check_cond "the test damaged the second CRL" '! cmp -s "$T/off-runway.pem" "$T/damaged.pem"'
before=$(sqlite3 "$O/userca.db" 'select count(*) from crls')
expect_rc 1 "online: a damaged runway is refused" uc crl --import-root "$T/damaged.pem" --home "$O"
check_stderr "the message says which CRL is damaged" 'CRL 2'
check_eq "nothing of the damaged runway was recorded" \
    "$(sqlite3 "$O/userca.db" 'select count(*) from crls')" "$before"
must "online: the whole runway imports" uc crl --import-root "$T/off-runway.pem" --home "$O"
check_eq "all 3 recorded" "$(sqlite3 "$O/userca.db" 'select count(*) from crls')" "$((before + 3))"

summary
