#!/usr/bin/env bash
# shellcheck disable=SC2016  # regexes and check_cond conditions hold literal $
# public/gateway/userca-trust.ps1, the script Windows/IIS admins run, for
# three homes: root + issuing CA with a non-ASCII org full of PowerShell
# quoting characters, a root-only CA, and a userca.conf edited by hand to
# put "#>" (end of a PowerShell block comment) in the org name.
#
#   - every script parses with the tree-sitter PowerShell grammar (WASM, run
#     by node + web-tree-sitter from tests/integration/node_modules): no
#     ERROR or MISSING node
#   - it never removes anything: no removal command or method at all, and
#     every command and method it calls is on a short list of harmless ones
#   - the root goes into Root, the issuing CA into CA and ClientAuthIssuer
#     (root-only: the root into ClientAuthIssuer too), nothing else
#   - each change (.Add, New-ItemProperty) sits behind $PSCmdlet.ShouldProcess
#     in a function with SupportsShouldProcess, so -WhatIf works
#   - the SCHANNEL values are set only under -RestrictClientAuthIssuers
#   - the root's enabled purposes (CERT_ENHKEY_USAGE_PROP_ID, 9) are set to
#     exactly the issuing CA's EKU (openssl -ext extendedKeyUsage; a plain and
#     an --smime CA), only on the root found in LocalMachine\Root by its
#     thumbprint, behind ShouldProcess, only with -Apply, skipped when
#     already equal; crypt32 is reached only through a DllImport of
#     CertGet/CertSetCertificateContextProperty; a CA without EKU (root-only)
#     sets nothing and says so
#   - UTF-8 BOM, #Requires -RunAsAdministrator first, CmdletBinding with
#     SupportsShouldProcess; thumbprint lists split and checked (40 hex)
#   - embedded thumbprints and certificates are openssl's SHA-1 and DER of
#     the CA files; the SHA-256 the script computes is checked against
#     -ExpectedRootSha256, and ca.json's root.sha256 (where the script sends
#     the admin) is openssl's SHA-256 of root.crt
#
# No PowerShell runs here: what the script does on Windows is not executed
# (nor is the C# it hands to Add-Type compiled).
# Needs node and `npm ci --prefix tests/integration` (scripts/deps does it);
# missing, the grammar check FAILS rather than skips.
. "$(dirname "$0")/lib.sh"

PS_DIR=$UC_SRC/tests/integration
fp() { openssl x509 -in "$1" -noout -fingerprint -"$2" | sed 's/.*=//; s/://g'; }
ps_var() { sed -n "s/^\\\$$1 = '\\(.*\\)'\$/\\1/p" "$2"; }

# Harmless names: reading stores and the registry, output, the script's own
# functions, certificate/hash helpers, and the three changes it may make
# (X509Store.Add, New-ItemProperty, CertSetCertificateContextProperty), all
# checked below.  The root's purposes add: Add-Type (compiles the small
# UsercaCrypt32 class: two crypt32 DllImports, checked below), Find (the root
# by thumbprint), CertGet/CertSetCertificateContextProperty, Marshal's
# AllocHGlobal/Copy/FreeHGlobal (the blob's memory) and GetLastWin32Error;
# Add is also OidCollection.Add.
ALLOWED="command Add-Type
command Add-UsercaCert
command ConvertTo-UsercaHex
command Get-ItemProperty
command Get-UsercaStore
command New-ItemProperty
command New-Object
command New-UsercaCert
command Out-Null
command Set-StrictMode
command Set-UsercaRootPurposes
command Set-UsercaSchannel
command Split-UsercaThumbprints
command Where-Object
command Write-Output
command Write-Warning
method Add
method AllocHGlobal
method CertGetCertificateContextProperty
method CertSetCertificateContextProperty
method Close
method ComputeHash
method Copy
method Create
method Dispose
method Find
method FreeHGlobal
method FromBase64String
method GetLastWin32Error
method GetNameInfo
method Open
method ShouldProcess
method ToBase64String
method ToString
method ToUpperInvariant"

# Functions whose body calls $store.Add(, New-ItemProperty or
# CertSetCertificateContextProperty: each must declare SupportsShouldProcess
# and call ShouldProcess before the change; no change may appear outside a
# function.  (The C# handed to Add-Type is indented: no line of it starts a
# function or closes one here.)
should_process_violations() {
	awk '
	/^function / { fn = $2; sp = 0; sup = 0; next }
	/^}/ { fn = ""; next }
	/SupportsShouldProcess/ { sup = 1 }
	/ShouldProcess\(/ { sp = 1 }
	/\$store\.Add\(|New-ItemProperty|::CertSetCertificateContextProperty\(/ {
		if (fn == "") print "outside a function: " $0
		else if (!sup) print fn ": no SupportsShouldProcess"
		else if (!sp) print fn ": change before ShouldProcess: " $0
	}' "$1"
}

# Lines calling Set-UsercaSchannel outside the if ($RestrictClientAuthIssuers)
# block.
schannel_outside_optin() {
	awk '
	/^if \(\$RestrictClientAuthIssuers\) \{/ { optin = 1; next }
	optin && /^}/ { optin = 0 }
	/^[ \t]*Set-UsercaSchannel / && !optin { print }' "$1"
}

check_ps1() {	# LABEL HOME ROOT_CRT ISSUING_CRT ORG
	local l=$1 h=$2 rc=$3 ic=$4 org=$5 f=$2/public/gateway/userca-trust.ps1 stores
	check_file "$l: userca-trust.ps1 written" "$f"
	check_eq "$l: starts with a UTF-8 BOM (PowerShell 5.1 reads it as UTF-8)" \
	    "$(head -c 3 "$f" | xxd -p)" "efbbbf"
	check_eq "$l: first line is #Requires -RunAsAdministrator" \
	    "$(head -1 "$f" | tail -c +4)" "#Requires -RunAsAdministrator"
	check_grep "$l: script-level CmdletBinding(SupportsShouldProcess)" \
	    '^\[CmdletBinding\(SupportsShouldProcess( = \$true)?\)\]$' "$f"
	check_grep "$l: the org name, UTF-8, in the help" "Trust the .*userca CA" "$f"
	if grep -qF -- "$org" "$f"; then pass "$l: org '$org' as written"; else bad "$l: org '$org' not in the script"; fi

	# ---- never removes -------------------------------------------------
	check_nogrep "$l: no removal of any certificate, store entry or value" \
	    'Remove-Item|Remove-ItemProperty|Move-Item|\.Remove(Range)?\(|delstore|certutil|Clear-Item' "$f"
	check_nogrep "$l: no -KeepThumbprints removal loop over Root" \
	    'Cert:\\LocalMachine\\Root' "$f"
	check_eq "$l: the changes it can make are behind ShouldProcess" \
	    "$(should_process_violations "$f")" ""
	check_eq "$l: one X509Store.Add and one New-ItemProperty in all" \
	    "$(grep -c '\$store\.Add(' "$f" || true) $(grep -c 'New-ItemProperty' "$f" || true)" "1 1"
	check_eq "$l: every other .Add( is OidCollection.Add of a purpose" \
	    "$(grep '\.Add(' "$f" | grep -vxF '    try { $store.Add($Cert) } finally { $store.Close() }' |
	       grep -vxF '    foreach ($o in $Purposes) { [void]$oids.Add((New-Object System.Security.Cryptography.Oid($o))) }' || true)" ""
	check_grep "$l: New-ItemProperty only on the SCHANNEL key" \
	    '^    New-ItemProperty -Path \$SchannelKey ' "$f"
	check_grep "$l: SchannelKey is the SCHANNEL key" \
	    "^\\\$SchannelKey = 'HKLM:\\\\SYSTEM\\\\CurrentControlSet\\\\Control\\\\SecurityProviders\\\\SCHANNEL'\$" "$f"
	check_eq "$l: SCHANNEL values set only under -RestrictClientAuthIssuers" \
	    "$(schannel_outside_optin "$f")" ""
	check_grep "$l: opt-in sets SendTrustedIssuerList=1" "^    Set-UsercaSchannel 'SendTrustedIssuerList' 1\$" "$f"
	check_grep "$l: opt-in sets ClientAuthTrustMode=2" "^    Set-UsercaSchannel 'ClientAuthTrustMode' 2\$" "$f"
	check_grep "$l: reports certificates in Root that are not self-signed (403.16)" \
	    'SubjectName\.RawData\) -ne \[Convert\]::ToBase64String\(\$c\.IssuerName\.RawData' "$f"
	check_grep "$l: imports only with -Apply" 'if \(-not \$Apply\)' "$f"

	# ---- where each certificate goes -------------------------------------
	stores=$(sed -n "s/^ *Add-UsercaCert \\\$\\([a-zA-Z]*\\) '\\([A-Za-z]*\\)'\$/\\1>\\2/p" "$f" | sort | tr '\n' ' ')
	if [[ $(ps_var RootThumbprint "$f") == "$(ps_var IssuingThumbprint "$f")" ]]; then
		check_eq "$l: root-only: root into Root and ClientAuthIssuer" \
		    "$stores" "rootCert>ClientAuthIssuer rootCert>Root "
	elif grep -q '^\$PreviousThumbprints = ' "$f"; then
		check_eq "$l: root into Root; issuing CAs, previous ones too, into CA and ClientAuthIssuer" \
		    "$stores" "c>CA c>ClientAuthIssuer issuingCert>CA issuingCert>ClientAuthIssuer rootCert>Root "
	else
		check_eq "$l: root into Root; issuing CA into CA and ClientAuthIssuer" \
		    "$stores" "issuingCert>CA issuingCert>ClientAuthIssuer rootCert>Root "
	fi

	# ---- embedded certificates -------------------------------------------
	check_eq "$l: RootThumbprint is openssl's SHA-1 of the root" \
	    "$(ps_var RootThumbprint "$f")" "$(fp "$rc" sha1)"
	check_eq "$l: IssuingThumbprint is openssl's SHA-1 of the issuing CA" \
	    "$(ps_var IssuingThumbprint "$f")" "$(fp "$ic" sha1)"
	ps_var RootCer "$f" | openssl base64 -d -A >"$T/$l-root.der"
	openssl x509 -in "$rc" -outform DER -out "$T/$l-root-want.der"
	check_same "$l: the embedded root is the root certificate's DER" "$T/$l-root.der" "$T/$l-root-want.der"
	ps_var IssuingCer "$f" | openssl base64 -d -A >"$T/$l-iss.der"
	openssl x509 -in "$ic" -outform DER -out "$T/$l-iss-want.der"
	check_same "$l: the embedded issuing CA is its certificate's DER" "$T/$l-iss.der" "$T/$l-iss-want.der"
	check_grep "$l: embedded thumbprints checked before use" 'throw "thumbprint mismatch' "$f"

	# ---- SHA-256 of the root ---------------------------------------------
	check_grep "$l: computes SHA-256 of the embedded root DER" \
	    '^\$rootSha256 = ConvertTo-UsercaHex \(\$sha\.ComputeHash\(\[Convert\]::FromBase64String\(\$RootCer\)\)\)$' "$f"
	check_grep "$l: SHA256 from .NET" '^\$sha = \[System\.Security\.Cryptography\.SHA256\]::Create\(\)$' "$f"
	check_grep "$l: -ExpectedRootSha256 must be 64 hex digits" "if \\(\\\$want -notmatch '\\^\\[0-9A-F\\]\\{64\\}\\\$'\\) \\{ throw" "$f"
	check_grep "$l: aborts when -ExpectedRootSha256 differs" 'if \(\$want -ne \$rootSha256\) \{ throw ' "$f"
	check_grep "$l: without it, says it only checked its own copy" 'only checked its own copy of the root' "$f"
	check_grep "$l: and where the fingerprint is (ca.json)" 'root\.sha256 in public/ca\.json' "$f"
	check_eq "$l: ca.json root.sha256 is openssl's SHA-256 of the root" \
	    "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["root"]["sha256"])' "$h/public/ca.json")" \
	    "$(fp "$rc" sha256)"
	check_grep "$l: thumbprint lists split on commas/spaces/quotes" "-split '\\[\\\\s,''\"\\]\\+'" "$f"
	check_grep "$l: each thumbprint exactly 40 hex digits, else abort" \
	    "if \\(\\\$t -notmatch '\\^\\[0-9A-Fa-f\\]\\{40\\}\\\$'\\) \\{ throw" "$f"

	check_purposes "$l" "$f" "$ic"

	cp "$f" "$T/ps1/$l.ps1"
}

# EKU_OIDS CERT: the certificate's EKU as openssl prints it
# (-ext extendedKeyUsage), as dotted OIDs in its order, one line; empty
# without EKU.  A name not in the table below comes out as itself and
# fails the comparison.
eku_oids() {
	{ openssl x509 -in "$1" -noout -ext extendedKeyUsage 2>/dev/null || true; } |
	    sed -n 's/^ \{4,\}//p' | tr ',' '\n' | sed 's/^ *//; s/ *$//' |
	    sed -e 's/^TLS Web Client Authentication$/1.3.6.1.5.5.7.3.2/' \
		-e 's/^TLS Web Server Authentication$/1.3.6.1.5.5.7.3.1/' \
		-e 's/^OCSP Signing$/1.3.6.1.5.5.7.3.9/' \
		-e 's/^E-mail Protection$/1.3.6.1.5.5.7.3.4/' |
	    { grep -v '^$' || true; } | tr '\n' ' ' | sed 's/ $//'
}

# The OIDs the script sets on the root: $RootPurposes = @('A', 'B', ...).
ps_purposes() {
	sed -n "s/^\\\$RootPurposes = @(\(.*\))\$/\1/p" "$1" | tr -d "'" | sed 's/, */ /g'
}

# The CERT_ENHKEY_USAGE_PROP_ID calls outside the C# declarations.
prop_calls() { grep -E '::CertSetCertificateContextProperty\(' "$1" || true; }

check_purposes() {	# LABEL FILE ISSUING_CRT
	local l=$1 f=$2 ic=$3 want
	want=$(eku_oids "$ic")
	if [[ -z $want ]]; then
		check_eq "$l: the issuing CA (the root) has no EKU, as openssl sees it" \
		    "$(openssl x509 -in "$ic" -noout -ext extendedKeyUsage 2>&1 | grep -c 'Extended Key Usage' || true)" 0
		check_eq "$l: no EKU: the script sets no purposes (no crypt32 call, no Add-Type)" \
		    "$(grep -cE 'CertSetCertificateContextProperty|Add-Type|RootPurposes' "$f" || true)" 0
		check_grep "$l: ...and says so" "root's enabled purposes are left as they are" "$f"
		return
	fi
	check_grep "$l: the script sets the root's enabled purposes (CertSetCertificateContextProperty, property 9)" \
	    '^        if \(-not \[UsercaCrypt32\]::CertSetCertificateContextProperty\(\$c\.Handle, 9, 0, \[ref\]\$blob\)\) \{' "$f"
	check_eq "$l: the purposes are exactly the issuing CA's EKU (openssl: $want)" \
	    "$(ps_purposes "$f")" "$want"
	check_eq "$l: one CertSetCertificateContextProperty call in all" "$(prop_calls "$f" | wc -l)" 1
	check_eq "$l: it is called once, after the imports, with the embedded list" \
	    "$(grep -c '^Set-UsercaRootPurposes \$RootPurposes$' "$f" || true)" 1
	check_eq "$l: ...and after Add-UsercaCert \$rootCert 'Root'" \
	    "$(awk "/^Add-UsercaCert \\\$rootCert 'Root'\$/ { r = NR } /^Set-UsercaRootPurposes / { s = NR } END { print (r && s > r) }" "$f")" 1
	check_eq "$l: the root is found in LocalMachine\\Root by its thumbprint, nothing else (read and write)" \
	    "$(grep -c "Find('FindByThumbprint', \$RootThumbprint, \$false)" "$f" || true) $(grep -c "Find(" "$f" || true)" "2 2"
	check_eq "$l: both stores it opens for that are Root" \
	    "$(grep -c "X509Store('Root', 'LocalMachine')" "$f" || true)" 2
	check_grep "$l: ...and the thumbprint is checked again before the change" \
	    '^        if \(\$c\.Thumbprint -ne \$RootThumbprint\) \{ throw ' "$f"
	check_grep "$l: the value is the DER of an ExtKeyUsageSyntax (.NET X509EnhancedKeyUsageExtension)" \
	    'X509EnhancedKeyUsageExtension\(\$oids, \$false\)\)\.RawData' "$f"
	check_grep "$l: skipped when the root's purposes already are that DER" \
	    'if \(\$now -eq \$wantHex\) \{ Write-Output "present ' "$f"
	check_grep "$l: without -Apply only reported" '(-Apply sets them)' "$f"
	check_eq "$l: the set sits after ShouldProcess in Set-UsercaRootPurposes" \
	    "$(awk '/^function Set-UsercaRootPurposes/ { in_fn = 1 } in_fn && /^}/ { in_fn = 0 }
		in_fn && /\$PSCmdlet\.ShouldProcess\(/ && !sp { sp = NR }
		in_fn && /::CertSetCertificateContextProperty\(/ { print (sp && sp < NR) }' "$f")" 1
	check_eq "$l: the only DllImports: crypt32's CertGet/CertSetCertificateContextProperty" \
	    "$(grep -A1 'DllImport' "$f" | grep -oE 'DllImport\("[a-z0-9.]+"|extern [a-z]+ [A-Za-z]+' | tr '\n' ' ' || true)" \
	    'DllImport("crypt32.dll" extern bool CertGetCertificateContextProperty DllImport("crypt32.dll" extern bool CertSetCertificateContextProperty '
	check_eq "$l: the blob's memory is freed whatever happens" \
	    "$(grep -A1 '^    } finally {$' "$f" | grep -cxF '        [System.Runtime.InteropServices.Marshal]::FreeHGlobal($p)' || true)" 1
}

mkdir -p "$T/ps1"

ORG="Café Ünïcode & 'Quote' \"dq\" ‘curly’ \$(x) \`tick"
ca_init "$T/inter" --intermediate --profile modern
check_ps1 inter "$T/inter" "$T/inter/root/root.crt" "$T/inter/issuing/ca.crt" "$ORG"

ORG='Root Only Org'
ca_init "$T/rootonly"
check_ps1 rootonly "$T/rootonly" "$T/rootonly/root/root.crt" "$T/rootonly/root/root.crt" "$ORG"
check_eq "rootonly: one certificate, so the same thumbprint twice" \
    "$(ps_var IssuingThumbprint "$T/rootonly/public/gateway/userca-trust.ps1")" \
    "$(ps_var RootThumbprint "$T/rootonly/public/gateway/userca-trust.ps1")"

# init refuses '#', but userca.conf is a text file: "#>" would end the help
# comment and make the rest of the name PowerShell code.
ORG='Plain'
ca_init "$T/hand" --intermediate --smime
sed -i 's/^org = .*/org = Evil #> Write-Host pwned <#/' "$T/hand/userca.conf"
must "publish after a hand edit of org" uc publish --home "$T/hand"
check_ps1 hand "$T/hand" "$T/hand/root/root.crt" "$T/hand/issuing/ca.crt" "Evil # > Write-Host pwned <#"
check_eq "hand (--smime): emailProtection among the root's purposes" \
    "$(ps_purposes "$T/hand/public/gateway/userca-trust.ps1" | grep -c '1\.3\.6\.1\.5\.5\.7\.3\.4' || true)" 1
check_eq "inter (no --smime): no emailProtection among them" \
    "$(ps_purposes "$T/inter/public/gateway/userca-trust.ps1" | grep -c '1\.3\.6\.1\.5\.5\.7\.3\.4' || true)" 0

# After a rollover: the previous issuing CA is imported too.
ORG='Rolled Org'
ca_init "$T/rolled" --intermediate --profile modern
must "rolled: intermediate rollover" uc intermediate rollover --home "$T/rolled" --passphrase-file "$PASSFILE"
check_ps1 rolled "$T/rolled" "$T/rolled/root/root.crt" "$T/rolled/issuing/ca.crt" "$ORG"
RF=$T/rolled/public/gateway/userca-trust.ps1
check_eq "rolled: PreviousThumbprints is openssl's SHA-1 of issuing/previous/1.crt" \
    "$(sed -n "s/^\\\$PreviousThumbprints = @('\\(.*\\)')\$/\\1/p" "$RF")" "$(fp "$T/rolled/issuing/previous/1.crt" sha1)"
check_eq "rolled: the embedded previous CA is its certificate's DER" \
    "$(sed -n '/^\$PreviousCers = @($/,/^)$/p' "$RF" | sed -n "s/^ *'\\(.*\\)'\$/\\1/p")" \
    "$(openssl x509 -in "$T/rolled/issuing/previous/1.crt" -outform DER | openssl base64 -A)"
check_cond "rolled: previous CAs checked (New-UsercaCert) before the first import" \
    '[[ $(grep -n "New-UsercaCert \$PreviousCers" "$RF" | cut -d: -f1) -lt $(grep -n "^Add-UsercaCert " "$RF" | head -1 | cut -d: -f1) ]]'

# ---- the PowerShell grammar ----------------------------------------------------
if ! command -v node >/dev/null; then
	bad "node is not installed (scripts/deps installs nodejs)"
elif [[ ! -f $PS_DIR/node_modules/web-tree-sitter/package.json ||
    ! -f $PS_DIR/node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm ]]; then
	bad "web-tree-sitter / tree-sitter-powershell missing: npm ci --prefix tests/integration (scripts/deps)"
else
	run node "$PS_DIR/ps1_parse.mjs" "$T"/ps1/*.ps1
	if [[ $RC -eq 0 ]]; then
		pass "every generated script parses (tree-sitter PowerShell grammar, no ERROR/MISSING node)"
	else
		bad "PowerShell grammar (exit $RC)"
		grep -E '^(syntax|selftest)' "$OUT" | head -20 | sed 's/^/    | /'
		_show
	fi
	check_eq "the grammar saw all four scripts" "$(grep -c '^parsed ' "$OUT")" 4
	extra=$(grep -E '^(command|method|dynamic) ' "$OUT" | grep -vxF -- "$ALLOWED" || true)
	check_eq "every command and method called is a harmless one (none removes)" "$extra" ""
	check_cond "the census found the imports and the registry write" \
	    'grep -qx "command Add-UsercaCert" "$OUT" && grep -qx "method Add" "$OUT" && grep -qx "command New-ItemProperty" "$OUT"'
	check_cond "the census found the root's purposes being set" \
	    'grep -qx "command Set-UsercaRootPurposes" "$OUT" && grep -qx "method CertSetCertificateContextProperty" "$OUT" && grep -qx "method Find" "$OUT"'
fi

summary
