#!/usr/bin/env bash
# shellcheck disable=SC2016  # patterns hold literal $
# README's "IIS and Exchange (Windows Server)" section: cheap text checks that
# the commands an IIS/Exchange admin copies are the ones Microsoft documents
# and that it documents nothing userca does not do.
#
#   - one-to-one mappings with Add-WebConfigurationProperty, never appcmd
#     (Microsoft's "One-to-One Mappings" page: appcmd cannot parse the
#     certificate strings); Web-Cert-Auth; anonymous authentication off
#   - TLS 1.3: netsh http show/update sslcert with certhash=, appid= and
#     clientcertnegotiation=enable, ipport= and hostnameport= forms; the
#     "Disable TLS 1.3 over TCP" way; the Enable-ExchangeCertificate warning
#   - NTAuth gets the issuing CA (ca.crt), never root.crt
#   - Exchange: Web-Client-Auth, owa/ecp/Microsoft-Server-ActiveSync,
#     Set-Owa/Ecp/ActiveSyncVirtualDirectory, uploadReadAheadSize, KB5014754
#     and the SID extension said to be missing, not present
#   - revocation: nextUpdate, 403.13, WinHTTP proxy, certutil flush commands;
#     Microsoft's Next CRL Publish extension (1.3.6.1.4.1.311.21.4), which
#     ca/ implements (it_revocation checks the CRL itself)
#   - every public/gateway/ file README names is one ca/authority/gateway.c writes;
#     the IIS mappings are exported (userca export --all), not published
#
# Nothing runs on Windows here: whether the commands work is not tested.
. "$(dirname "$0")/lib.sh"

README=$UC_SRC/README.md
W=$T/windows.md
awk '/^### IIS and Exchange/ { on = 1; print; next } on && /^##/ { exit } on' \
    "$README" >"$W"
[[ -s $W ]] || fail "README has no '### IIS and Exchange' section"
pass "README has the IIS and Exchange section ($(wc -l <"$W") lines)"

# IIS one-to-one
check_nogrep "no appcmd for one-to-one mappings" 'appcmd.*oneToOne' "$W"
check_grep "one-to-one mappings added with Add-WebConfigurationProperty" \
    'Add-WebConfigurationProperty.*oneToOneMappings' "$W"
check_grep "oneToOneCertificateMappingsEnabled set" \
    'oneToOneCertificateMappingsEnabled -Value \$true' "$W"
check_grep "role service Web-Cert-Auth" 'Install-WindowsFeature Web-Cert-Auth' "$W"
check_grep "anonymous authentication turned off" \
    'anonymousAuthentication.*-Name enabled -Value \$false' "$W"
check_grep "says why many-to-one or AD mapping may suit better" \
    'prefer \*\*many-to-one\*\*' "$W"

# TLS 1.3: certificate in the handshake
check_grep "reads the binding with netsh http show sslcert" '^ *netsh http show sslcert$' "$W"
check_grep "ipport binding updated with certhash, appid, clientcertnegotiation" \
    'netsh http update sslcert ipport=[^ ]+ certhash=.+ appid=.+ clientcertnegotiation=enable' "$W"
check_grep "SNI binding updated by hostnameport" \
    'netsh http update sslcert hostnameport=[^ ]+ certhash=.+ appid=.+ clientcertnegotiation=enable' "$W"
check_grep "'Disable TLS 1.3 over TCP' offered instead" 'Disable TLS 1\.3( over TCP)?"?$|Disable TLS 1\.3 over TCP' "$W"
check_grep "Server 2022 reset and Server 2025 HTTP 500 named" 'Server 2025 IIS answers HTTP 500' "$W"
check_grep "warns that Enable-ExchangeCertificate rewrites the binding" \
    'Enable-ExchangeCertificate' "$W"

# NTAuth: the issuing CA
check_grep "certutil -dspublish with the issuing CA (ca.crt)" \
    'certutil -dspublish -f ca\.crt NTAuthCA' "$W"
check_nogrep "never publishes root.crt to NTAuth" 'dspublish[^`]*root\.crt' "$README"
check_nogrep "no local-only NTAuth (-enterprise -addstore) as the method" \
    'certutil -enterprise -addstore NTAuth' "$README"

# Exchange
for s in 'Install-WindowsFeature Web-Client-Auth' 'Active Directory Client Certificate Authentication' \
    "'owa', 'ecp', 'Microsoft-Server-ActiveSync'" 'clientCertificateMappingAuthentication' \
    'Set-OwaVirtualDirectory .*-FormsAuthentication \$false' \
    'Set-EcpVirtualDirectory .*-FormsAuthentication \$false' \
    'Set-ActiveSyncVirtualDirectory .*-BasicAuthEnabled \$false -WindowsAuthEnabled \$false' \
    'uploadReadAheadSize' 'KB5014754'; do
	check_grep "Exchange: $s" "$s" "$W"
done
check_grep "the SID extension is said to be missing (planned), not present" \
    'ours do not yet' "$W"
check_nogrep "no claim that our certificates carry the SID extension" \
    '(carry|carries|include|includes) the (account.s )?SID' <(grep -v 'AD CS' "$W")

# Revocation
check_grep "CRL cached until nextUpdate" 'until its nextUpdate' "$W"
check_grep "unreachable CDP gives 403.13" '403\.13' "$W"
check_grep "WinHTTP proxy shown" 'netsh winhttp show proxy' "$W"
check_grep "WinHTTP proxy set" 'netsh winhttp set proxy' "$W"
check_grep "CRL disk cache flush" 'certutil -urlcache crl delete' "$W"
check_grep "chain cache resync" 'certutil -setreg chain\\ChainCacheResyncFiletime @now' "$W"
check_grep "ca/ implements Next CRL Publish (311.21.4)" '1\.3\.6\.1\.4\.1\.311\.21\.4' "$UC_SRC/ca/pki/crl.c"
check_grep "README names Next CRL Publish (1.3.6.1.4.1.311.21.4)" \
    'Next CRL Publish extension' "$W"
check_grep "...with its OID" '1\.3\.6\.1\.4\.1\.311\.21\.4' "$W"

# Only files that exist
grep -o 'public/gateway/[A-Za-z0-9._-]*[A-Za-z0-9]' "$README" | sort -u >"$T/named"
while read -r f; do
	[[ $f == public/gateway/ ]] && continue
	if grep -qF "\"$f\"" "$UC_SRC/ca/authority/gateway.c"; then
		pass "README's $f is written by ca/authority/gateway.c"
	else
		bad "README names $f, which ca/authority/gateway.c does not write"
	fi
done <"$T/named"
# IIS mappings: exported on demand, never published
check_nogrep "README does not send admins to public/gateway/iis-mappings.csv" \
    'public/gateway/iis-mappings' "$README"
check_grep "IIS mapping script exported with userca export --all --format iis-ps1" \
    'userca export --all --format iis-ps1 --out userca-iis-mappings\.ps1' "$W"
check_grep "IIS mapping CSV exported with userca export --all --format iis-mapping" \
    'userca export --all --format iis-mapping' "$W"
check_grep "the CSV's columns as export prints them" \
    'username,account,serial,not_after,certificate' "$W"
check_grep "Unblock-File before running the mapping script" 'Unblock-File \.\\userca-iis-mappings\.ps1' "$W"

summary
