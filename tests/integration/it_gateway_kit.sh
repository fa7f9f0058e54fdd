#!/usr/bin/env bash
# public/gateway/: the nginx and Apache snippets carry the directives gateways
# need, fail closed, with the real root pin and URL.  The IIS one-to-one
# material is not published: 'userca export --all' makes it (CSV lines
# against openssl base64 of each certificate's DER, the account column and
# the importer's removal list against the records; its optional AD step's
# altSecurityIdentities strings against export --format altsecid and the
# serials reversed with openssl).  The PowerShell trust script: it_gateway_ps1.sh.
. "$(dirname "$0")/lib.sh"

H=$T/home
ca_init "$H" --intermediate --profile modern
G=$H/public/gateway
printf 'username,email\nann,ann@example.com\nben,ben@example.com\ncy,cy@example.com\n' >"$T/u.csv"
must "batch of 3" uc batch "$T/u.csv" --out "$T/out" --home "$H"
ben=$(uc list --home "$H" --user ben --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["serial"])')
must "revoke ben" uc revoke --home "$H" --serial "$ben"

# userca-trust.ps1 (thumbprints, embedded certificates, never removing a
# root, the PowerShell grammar) is it_gateway_ps1.sh's.
check_file "userca-trust.ps1 written" "$G/userca-trust.ps1"

# ---- IIS one-to-one mappings: made on demand, never published ---------------------
# dan: superseded by a second certificate; eve: a UPN; [iis] domain CORP.
printf '\n[iis]\ndomain = CORP\n' >>"$H/userca.conf"
new_csr "$T/dan1" -subj /CN=dan
must "issue dan" uc issue --home "$H" --user dan --csr "$T/dan1.csr" --out "$T/dan1.crt"
new_csr "$T/dan2" -subj /CN=dan
must "issue dan again, superseding" uc issue --home "$H" --user dan --csr "$T/dan2.csr" --out "$T/dan2.crt" --supersede
new_csr "$T/eve" -subj /CN=eve
must "issue eve with a UPN" uc issue --home "$H" --user eve --upn eve@corp.example.com --csr "$T/eve.csr" --out "$T/eve.crt"
must "publish" uc publish --home "$H"
check_nofile "no per-user material in public/gateway/ (iis-mappings.csv)" "$G/iis-mappings.csv"
check_nogrep "nothing in public/ holds a user certificate's base64" \
    "$(openssl base64 -A -in <(openssl x509 -in "$T/eve.crt" -outform DER) | cut -c1-60)" <(cat "$H"/public/gateway/* "$H"/public/*.json)
must "export --format iis-mapping --all" uc export --home "$H" --format iis-mapping --all --out "$T/iis.csv"
check_mode "export --all --out is private" "$T/iis.csv" 600
check_eq "iis-mapping --all: header" "$(head -1 "$T/iis.csv")" \
    "username,account,serial,not_after,certificate"
check_eq "iis-mapping --all to stdout is the same" "$(uc export --home "$H" --format iis-mapping --all)" "$(cat "$T/iis.csv")"
check_eq "iis-mapping --all: one line per valid, unsuperseded user certificate (ben revoked, dan's first superseded)" \
    "$(tail -n +2 "$T/iis.csv" | cut -d, -f1 | sort | tr '\n' ' ')" "ann cy dan eve "
check_nogrep "iis-mapping --all: revoked ben's line is gone" '^ben,' "$T/iis.csv"
# The account column against the record (sqlite3): the UPN, else CORP\username.
$PY - "$H/userca.db" "$T/iis.csv" >"$T/acct.txt" <<'PYEOF'
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for r in csv.DictReader(open(sys.argv[2])):
    upn, = db.execute("select u.upn from users u join certificates c on c.user_id = u.id where c.serial = ?", (r["serial"],)).fetchone()
    want = upn if upn else "CORP\\" + r["username"]
    print("ok" if r["account"] == want else "bad %s: %r, record says %r" % (r["username"], r["account"], want))
PYEOF
check_eq "iis-mapping --all: account column matches the record (UPN, else [iis] domain\\user)" \
    "$(sort -u "$T/acct.txt" | tr '\n' ' ')" "ok "
grep -q '^eve,eve@corp.example.com,' "$T/iis.csv" && pass "eve's account is her UPN" || bad "eve's account is not her UPN"
grep -q '^ann,CORP\\ann,' "$T/iis.csv" && pass "ann's account is CORP\\ann" || bad "ann's account is not CORP\\ann"
while IFS=, read -r user _ serial _ b64; do
	uc export --home "$H" --serial "$serial" --format der --out "$T/$user.der"
	check_eq "iis-mapping --all: $user's certificate is openssl base64 -A of the DER" \
	    "$b64" "$(openssl base64 -A -in "$T/$user.der")"
	check_eq "iis-mapping --all: $user's certificate equals export --serial --format iis-mapping" \
	    "$b64" "$(uc export --home "$H" --serial "$serial" --format iis-mapping)"
done < <(tail -n +2 "$T/iis.csv")

# The importer: userca-iis-mappings.ps1
must "export --format iis-ps1 --all" uc export --home "$H" --format iis-ps1 --all --out "$T/userca-iis-mappings.ps1"
P=$T/userca-iis-mappings.ps1
check_eq "iis-ps1: UTF-8 BOM" "$(head -c 3 "$P" | od -An -tx1 | tr -d ' ')" "efbbbf"
check_grep "iis-ps1: #Requires -RunAsAdministrator" '^.?.?.?#Requires -RunAsAdministrator$' "$P"
check_grep "iis-ps1: SupportsShouldProcess (-WhatIf)" '^\[CmdletBinding\(SupportsShouldProcess = \$true\)\]$' "$P"
check_grep "iis-ps1: Add-WebConfigurationProperty on oneToOneMappings" 'Add-WebConfigurationProperty .*-Filter \$Filter' "$P"
check_grep "iis-ps1: Get-Credential per account" 'Get-Credential -UserName \$a\.Account' "$P"
check_nogrep "iis-ps1: no appcmd" 'appcmd' "$P"
sed -n "/^\$Remove = @(/,/^)/s/.*Serial = '\([0-9A-F]*\)'.*/\1/p" "$P" | sort >"$T/ps1-remove"
sqlite3 "$H/userca.db" "select serial from certificates where kind = 'user' and (status = 'revoked' or superseded_by is not null)" | sort >"$T/db-remove"
check_eq "iis-ps1: the removal list is exactly the revoked and superseded certificates (sqlite3)" \
    "$(tr '\n' ' ' <"$T/ps1-remove")" "$(tr '\n' ' ' <"$T/db-remove")"
check_eq "iis-ps1: two to remove (ben revoked, dan's first superseded)" "$(wc -l <"$T/ps1-remove")" 2
sed -n "/^\$Add = @(/,/^)/s/.*Serial = '\([0-9A-F]*\)'.*/\1/p" "$P" | sort >"$T/ps1-add"
check_eq "iis-ps1: the add list is the iis-mapping lines" \
    "$(tr '\n' ' ' <"$T/ps1-add")" "$(tail -n +2 "$T/iis.csv" | cut -d, -f3 | sort | tr '\n' ' ')"
check_eq "iis-ps1: each Sha256 to remove is the recorded one" \
    "$(sed -n "/^\$Remove = @(/,/^)/s/.*Sha256 = '\([0-9A-Fa-f]*\)'.*/\1/p" "$P" | tr a-f A-F | sort | tr '\n' ' ')" \
    "$(sqlite3 "$H/userca.db" "select upper(sha256) from certificates where kind = 'user' and (status = 'revoked' or superseded_by is not null)" | sort | tr '\n' ' ')"
if command -v node >/dev/null &&
    [[ -f $UC_SRC/tests/integration/node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm ]]; then
	run node "$UC_SRC/tests/integration/ps1_parse.mjs" "$P"
	if [[ $RC -eq 0 ]]; then
		pass "iis-ps1: the PowerShell grammar parses it with no error node"
	else
		bad "iis-ps1: the PowerShell grammar finds errors"; _show
	fi
	for cmd in Add-WebConfigurationProperty Remove-WebConfigurationProperty Get-WebConfiguration Get-Credential \
	    Get-ADUser Set-ADUser; do
		check_grep "iis-ps1: calls $cmd (grammar)" "^command $cmd$" "$OUT"
	done
else
	bad "iis-ps1: node or tree-sitter-powershell missing: npm ci --prefix tests/integration (scripts/deps)"
fi

# The optional AD step (-ADStrongMapping): Set-ADUser with each certificate's
# X509IssuerSerialNumber, the one export --format altsecid prints; removals
# by the serial's bytes reversed (computed here from openssl's serial).
check_grep "iis-ps1: -ADStrongMapping and -NoIIS switches" '^    \[switch\]\$ADStrongMapping,$' "$P"
check_grep "iis-ps1: the AD step only when asked" '^if \(\$ADStrongMapping\) \{ Update-UsercaAD \}$' "$P"
check_grep "iis-ps1: Set-ADUser -Add altSecurityIdentities" 'Set-ADUser -Identity \$a\.User -Add @\{ altSecurityIdentities = \$a\.AltSecId \}' "$P"
check_grep "iis-ps1: removals behind ShouldProcess too" 'ShouldProcess\("AD user \$\(\$r\.User\)", "remove altSecurityIdentities' "$P"
ok=1
while read -r serial; do
	want=$(uc export --home "$H" --serial "$serial" --format altsecid | head -1)
	got=$(awk -v s="$serial" 'index($0, "Serial = '\''" s "'\''") { f = 1; next }
	    f && /AltSecId = / { sub(/^ *AltSecId = '\''/, ""); sub(/'\'';$/, ""); print; exit }' "$P")
	[[ -n $want && $got == "$want" ]] || { ok=0; echo "    $serial: ps1 '$got', export '$want'"; }
done <"$T/ps1-add"
check_cond "iis-ps1: each AltSecId is export --format altsecid's X509IssuerSerialNumber" "[[ $ok -eq 1 ]]"
ok=1
while read -r serial; do
	der=$(sqlite3 "$H/userca.db" "select hex(der) from certificates where serial = '$serial'")
	# openssl's serial, its bytes reversed (what AD's <SR> holds).
	want=$(printf '%s' "$der" | xxd -r -p | openssl x509 -inform DER -noout -serial | cut -d= -f2 |
	    sed 's/^\(.\(..\)*\)$/0\1/; s/^0\(\(..\)*\)$/\1/' | fold -w2 | tac | tr -d '\n')
	got=$(sed -n "s/.*Serial = '$serial'.* SR = '\([0-9A-F]*\)'.*/\1/p" "$P")
	[[ -n $want && $got == "$want" ]] || { ok=0; echo "    $serial: ps1 SR '$got', openssl reversed '$want'"; }
done <"$T/ps1-remove"
check_cond "iis-ps1: each removal's SR is the serial's bytes reversed (openssl)" "[[ $ok -eq 1 ]]"
expect_rc 2 "export --all refuses --format pem" uc export --home "$H" --format pem --all

# ---- nginx and Apache snippets ---------------------------------------------------
for d in 'ssl_verify_client on;' 'ssl_verify_depth 2;' \
    'ssl_client_certificate /etc/userca-gateway/ca.pem;' \
    'ssl_crl /etc/userca-gateway/crls.pem;' \
    'proxy_set_header X-SSL-Client-S-DN \$ssl_client_s_dn;' \
    'proxy_set_header X-SSL-Client-Serial \$ssl_client_serial;'; do
	check_grep "nginx snippet: $d" "^$d" "$G/nginx-userca.conf"
done
for d in 'SSLVerifyClient require' 'SSLVerifyDepth 2' \
    'SSLCACertificateFile /etc/userca-gateway/ca.pem' \
    'SSLCARevocationFile /etc/userca-gateway/crls.pem'; do
	check_grep "apache snippet: $d" "^$d" "$G/apache-userca.conf"
done
# Fails closed (a missing CRL refuses): no no_crl_for_cert_ok.
check_grep "apache snippet: SSLCARevocationCheck chain, nothing after it" \
    '^SSLCARevocationCheck chain$' "$G/apache-userca.conf"
check_nogrep "apache snippet: no no_crl_for_cert_ok" 'no_crl_for_cert_ok' "$G/apache-userca.conf"
# The sync command lines carry the real root pin and URL, never a placeholder.
pin=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["root"]["sha256"])' "$H/public/ca.json")
base=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "$H/public/ca.json")
check_eq "ca.json's root.sha256 is the root's (openssl)" "$(tr A-F a-f <<<"$pin")" "$(cert_fp "$H/root/root.crt" sha256)"
kpin=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["root"]["spki_sha256"])' "$H/public/ca.json")
check_eq "ca.json's root.spki_sha256 is the SHA-256 of the root's SubjectPublicKeyInfo (openssl)" "$(tr A-F a-f <<<"$kpin")" \
    "$(openssl x509 -in "$H/root/root.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)"
for f in nginx-userca.conf apache-userca.conf; do
	check_grep "$f: userca-gateway-sync --url $base" "userca-gateway-sync --url $base --dir /etc/userca-gateway" "$G/$f"
	check_grep "$f: --pin-spki-sha256 is the SHA-256 of the root's public key (survives 'root renew')" \
	    "--pin-spki-sha256 $kpin " "$G/$f"
	check_nogrep "$f: no certificate pin" '--pin-sha256' "$G/$f"
	check_nogrep "$f: no placeholder (<root sha256 ...>)" '<[^>]*(sha256|pin|url|fingerprint)[^>]*>' "$G/$f"
done
check_mode "public/gateway/ files are world-readable" "$G/nginx-userca.conf" 644

summary
