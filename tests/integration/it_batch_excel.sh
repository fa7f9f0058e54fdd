#!/usr/bin/env bash
# `userca batch` over CSV files made the way Excel and PowerShell make them
# (python3 writes the bytes): Windows-1252 with accents, ';'-separated,
# UTF-16LE with a byte order mark, Export-Csv's "#TYPE" line, Active
# Directory column names.  Each is either issued correctly with the option
# the user would give, or refused as a whole (nothing recorded) with a
# message naming that option.  Accents reach the certificate's subject as
# openssl prints it (-nameopt utf8) and the user record.  A row whose UPN
# or email changed since the user's certificate was issued is reported
# ('use --reissue'), not silently skipped.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/h
ca_init "$H"

"$PY" - <<'EOF'
rows = [("username", "email", "name", "ou"),
        ("fobrien", "fobrien@example.com", "Fionnuala Ó Briain", "Ventes Île-de-France"),
        ("jmuller", "jmuller@example.com", "Jürgen Müller", "Zürich")]
def crlf(rs, sep=","):
    return "\r\n".join(sep.join(r) for r in rs) + "\r\n"
def quoted(rs):
    return [['"%s"' % c for c in r] for r in rs]
# Excel, "CSV (Comma delimited)": Windows-1252
open("cp1252.csv", "wb").write(crlf(rows).encode("cp1252"))
# Excel where ',' is the decimal mark: ';' (and Windows-1252)
open("semicolon.csv", "wb").write(crlf(rows, ";").encode("cp1252"))
# PowerShell: Export-Csv -Encoding Unicode (UTF-16LE, BOM) with its #TYPE line
open("ps_utf16.csv", "wb").write(b"\xff\xfe" + ("#TYPE System.Management.Automation.PSCustomObject\r\n"
    + crlf(quoted(rows))).encode("utf-16-le"))
# Get-ADUser -Properties mail,DisplayName,Department | Export-Csv -Encoding Unicode
ad = [("DistinguishedName", "Enabled", "Name", "SamAccountName", "UserPrincipalName",
       "mail", "DisplayName", "Department", "ObjectGUID"),
      ("CN=Fionnuala O Briain,OU=Staff,DC=corp,DC=example,DC=com", "True", "Fionnuala O Briain",
       "fobrien", "fobrien@corp.example.com", "fobrien@example.com", "Fionnuala Ó Briain",
       "Ventes Île-de-France", "1b2d3c4e-0000-4000-8000-000000000001"),
      ("CN=Jurgen Muller,OU=Staff,DC=corp,DC=example,DC=com", "True", "Jurgen Muller",
       "jmuller", "jmuller@corp.example.com", "jmuller@example.com", "Jürgen Müller", "Zürich",
       "1b2d3c4e-0000-4000-8000-000000000002")]
typeline = "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n"
open("ad.csv", "wb").write(b"\xff\xfe" + (typeline + crlf(quoted(ad))).encode("utf-16-le"))
ad[1] = ad[1][:4] + ("fiona.obrien@corp.example.com",) + ad[1][5:]  # renamed in AD since
open("ad_renamed.csv", "wb").write(b"\xff\xfe" + (typeline + crlf(quoted(ad))).encode("utf-16-le"))
EOF
MAP=username=SamAccountName,upn=UserPrincipalName,email=mail,name=DisplayName,ou=Department

# refused CASE FILE ERE [ARGS...]: exit 1 naming the fix; no record, no folder
refused() {
	local n=$1 f=$2 ere=$3 h=$T/h-$1; shift 3
	rm -rf "$h"; cp -a "$H" "$h"
	db_before=$(sqlite3 "$h/userca.db" 'select count(*) from users; select count(*) from certificates')
	for dry in --dry-run ""; do
		expect_rc 1 "$n${dry:+ $dry}: refused" uc batch "$f" --home "$h" --out "$T/out-$n" --passphrase-file "$PASSFILE" $dry "$@"
		check_stderr "$n${dry:+ $dry}: the message names the fix" "$ere"
		check_cond "$n${dry:+ $dry}: one line on stderr" "[[ \$(wc -l <'$ERR') -eq 1 ]]"
	done
	check_nofile "$n: no output folder" "$T/out-$n"
	check_eq "$n: nothing recorded" "$(sqlite3 "$h/userca.db" 'select count(*) from users; select count(*) from certificates')" "$db_before"
}

# issued CASE FILE [ARGS...]: both users issued, accents intact
issued() {
	local n=$1 f=$2 h=$T/h-$1 o=$T/out-$1 u pw subj; shift 2
	rm -rf "$h"; cp -a "$H" "$h"
	check "$n: issued" uc batch "$f" --home "$h" --out "$o" --passphrase-file "$PASSFILE" "$@"
	check_stdout "$n: summary" "^$f: 2 rows: 2 issued, 0 skipped"
	for u in fobrien jmuller; do
		pw=$("$PY" -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    if r["username"] == sys.argv[2]: print(r["password"])' "$o/manifest.csv" "$u")
		openssl pkcs12 -in "$o/$u.p12" -passin "pass:$pw" -nokeys -clcerts 2>/dev/null >"$T/$n-$u.pem" || true
		subj=$(openssl x509 -in "$T/$n-$u.pem" -noout -subject -nameopt utf8,sep_comma_plus 2>&1 || true)
		case $u in
		fobrien) want="subject=O=$ORG,OU=Ventes Île-de-France,CN=fobrien" ;;
		jmuller) want="subject=O=$ORG,OU=Zürich,CN=jmuller" ;;
		esac
		check_eq "$n: $u's subject (openssl -nameopt utf8)" "$subj" "$want"
	done
	check_eq "$n: the names are stored as UTF-8" \
	    "$(sqlite3 "$h/userca.db" "select group_concat(name, '|') from (select name from users order by username)")" \
	    "Fionnuala Ó Briain|Jürgen Müller"
}

# ---- Windows-1252 ---------------------------------------------------------------
refused cp1252 cp1252.csv "cp1252.csv: line 2: name is not valid UTF-8; .*use --encoding cp1252"
issued cp1252 cp1252.csv --encoding cp1252
issued latin1 cp1252.csv --encoding latin1

# ---- ';' ------------------------------------------------------------------------
refused semicolon semicolon.csv "semicolon.csv: line 1: the header is separated by ';'.*use --delimiter ';'" --encoding cp1252
issued semicolon semicolon.csv --delimiter ';' --encoding cp1252

# ---- PowerShell: UTF-16LE with a BOM, #TYPE line: no option needed ---------------
issued ps_utf16 ps_utf16.csv

# ---- Active Directory -----------------------------------------------------------
refused ad ad.csv "ad.csv: line 2: unknown column\(s\) 'DistinguishedName'.*--map username=SamAccountName"
refused ad_badmap ad.csv "ad.csv: line 2: --map upn=UPN: the header has no column 'UPN'" --map username=SamAccountName,upn=UPN
expect_rc 2 "--map with an unknown column is a usage error" uc batch ad.csv --home "$H" --dry-run --map user=SamAccountName
check_stderr "--map: names the column" "--map 'user=SamAccountName': 'user' is not a column"
expect_rc 2 "--encoding ebcdic is a usage error" uc batch ad.csv --home "$H" --dry-run --encoding ebcdic
check_stderr "--encoding: says what works" "--encoding 'ebcdic': use cp1252"
expect_rc 2 "--delimiter ':' is a usage error" uc batch ad.csv --home "$H" --dry-run --delimiter :
issued ad ad.csv --map "$MAP"
check_eq "ad: fobrien's UPN and email from the AD columns" \
    "$(openssl x509 -in "$T/ad-fobrien.pem" -noout -ext subjectAltName | tail -1 | sed 's/^ *//')" \
    "email:fobrien@example.com, othername: UPN::fobrien@corp.example.com"

# ---- a UPN changed in AD since the certificate was issued -------------------------
expect_rc 3 "ad_renamed --dry-run: exit 3" uc batch ad_renamed.csv --home "$T/h-ad" --dry-run --map "$MAP"
check_stderr "ad_renamed --dry-run: reported" "^ad_renamed.csv:3: fobrien: upn differs from the issued certificate; use --reissue$"
check_stdout "ad_renamed --dry-run: jmuller skipped, fobrien counted apart" "1 skipped \(already issued\)"
expect_rc 3 "ad_renamed: exit 3" uc batch ad_renamed.csv --home "$T/h-ad" --out "$T/out-ad" --map "$MAP" --passphrase-file "$PASSFILE"
check_stderr "ad_renamed: reported" "^ad_renamed.csv:3: fobrien: upn differs from the issued certificate; use --reissue$"
check_stdout "ad_renamed: says what to do" "1 user not issued: the CSV changed since the certificate was issued \(use --reissue\)"
check "ad_renamed --reissue" uc batch ad_renamed.csv --home "$T/h-ad" --out "$T/out-ad" --map "$MAP" --passphrase-file "$PASSFILE" --reissue
check_eq "ad_renamed --reissue: the new certificate has the new UPN" \
    "$(sqlite3 "$T/h-ad/userca.db" "select upn from users where username = 'fobrien'")" "fiona.obrien@corp.example.com"
expect_rc 0 "ad_renamed again: nothing differs any more" uc batch ad_renamed.csv --home "$T/h-ad" --dry-run --map "$MAP"
check_nogrep "ad_renamed again: no report" "differs" "$ERR"

summary
