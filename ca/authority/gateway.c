/*
 * gateway.c: public/gateway/, the material gateway admins copy:
 *
 *   nginx-userca.conf   ssl_verify_client with our bundle and CRLs
 *   apache-userca.conf  the same for Apache httpd (mod_ssl)
 *   userca-trust.ps1    imports our root and issuing CA into the Windows
 *                       stores (never removes one), checks thumbprints
 *                       and, given one, the root's SHA-256; sets the
 *                       root's enabled purposes to the issuing CA's EKU
 *
 * IIS one-to-one mappings name every user: they are made on demand
 * (iis.c), never published here.
 *
 * The nginx and Apache snippets point at the folder userca-gateway-sync
 * keeps up to date (/etc/userca-gateway).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "authority_int.h"
#include "ucbuf.h"

#define SYNC_DIR	"/etc/userca-gateway"

static int
write_buf(struct authority *a, const char *rel, struct ucbuf *b)
{
	char *path;
	int rc;

	if (b->err != UC_OK)
		return b->err;
	if ((path = path_join(a->home, rel)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = file_write_atomic(path, ucbuf_str(b), ucbuf_len(b), 0644);
	free(path);
	return rc;
}

static char *
b64_der(X509 *x)
{
	unsigned char *der = NULL;
	size_t len;
	char *out;
	int n;

	if (cert_der(x, &der, &len) != UC_OK)
		return NULL;
	if ((out = malloc((len + 2) / 3 * 4 + 1)) != NULL) {
		n = EVP_EncodeBlock((unsigned char *)out, der, (int)len);
		out[n] = '\0';
	}
	free(der);
	return out;
}

/*
 * The SHA-256 of the root's public key, hex, for the --pin-spki-sha256 the
 * snippets' sync command lines carry: the real value, never a placeholder
 * to fill in.  The key, not the certificate: 'userca root renew' re-signs
 * the root with the same key, and such a pin keeps working across it.
 */
static char *
root_pin(struct authority *a)
{
	return cert_spki_sha256(a->root != NULL ? a->root : a->issuing);
}

static int
write_nginx(struct authority *a)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	char *pin, ubuf[1100];
	const char *url;
	int rc;

	if ((pin = root_pin(a)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	ucbuf_printf(&b,
"# userca: TLS client certificates for %s users.\n"
"# Include inside a 'server { listen 443 ssl; ... }' block.  The files in\n"
"# %s are kept current by userca-gateway-sync (cron or its\n"
"# systemd timer), which checks every CRL before installing it and runs\n"
"# 'nginx -s reload' when something changed:\n"
"#   userca-gateway-sync --url %s --dir %s \\\n"
"#       --pin-spki-sha256 %s --reload 'nginx -s reload'\n"
"\n"
"ssl_client_certificate %s/ca.pem;   # issuing CA + root\n"
"ssl_verify_client on;\n"
"ssl_verify_depth 2;                   # user -> issuing CA -> root\n"
"ssl_crl %s/crls.pem;                # root CRL + issuing CRL\n"
"\n"
"# Who the user is, for the application behind this proxy.  nginx drops\n"
"# server-level proxy_set_header lines in any location that sets its own:\n"
"# repeat these four there (or include this file there as well).\n"
"proxy_set_header X-SSL-Client-Verify $ssl_client_verify;\n"
"proxy_set_header X-SSL-Client-S-DN $ssl_client_s_dn;\n"
"proxy_set_header X-SSL-Client-Serial $ssl_client_serial;\n"
"proxy_set_header X-SSL-Client-Fingerprint $ssl_client_fingerprint;\n",
	    a->conf.org, SYNC_DIR, a->conf.base_url, SYNC_DIR, pin, SYNC_DIR,
	    SYNC_DIR);
	if ((url = aocsp_url(a, ubuf, sizeof(ubuf))) != NULL)
		ucbuf_printf(&b,
"\n"
"# OCSP: nginx asks the CA's responder about each user's certificate as\n"
"# they connect, so a revocation is refused at once, without waiting for\n"
"# a CRL sync or a reload.  No answer means no access (fail closed).  The\n"
"# answer cache stays off (or keep it under a minute: ssl_ocsp_cache\n"
"# shared:userca_ocsp:1m; answers may then be up to 60 s old).  A responder\n"
"# URL naming a host needs a 'resolver' in this server block.\n"
"ssl_ocsp leaf;\n"
"ssl_ocsp_responder %s;\n", url);
	rc = write_buf(a, "public/gateway/nginx-userca.conf", &b);
	ucbuf_free(&b);
	free(pin);
	return rc;
}

/*
 * "SSLCARevocationCheck chain" alone fails closed: a certificate whose
 * issuer has no CRL in the file is refused ("no_crl_for_cert_ok" would let
 * a revoked user in while the issuing CRL is missing).
 */
static int
write_apache(struct authority *a)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	char *pin, ubuf[1100];
	const char *url;
	int rc;

	if ((pin = root_pin(a)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	ucbuf_printf(&b,
"# userca: TLS client certificates for %s users (Apache httpd, mod_ssl,\n"
"# mod_headers).  Inside the <VirtualHost *:443> with SSLEngine on.  The\n"
"# files in %s are kept current by userca-gateway-sync (cron or\n"
"# its systemd timer), which checks every CRL before installing it:\n"
"#   userca-gateway-sync --url %s --dir %s \\\n"
"#       --pin-spki-sha256 %s --reload 'apachectl graceful'\n"
"# Without a current CRL for every CA in the chain, Apache refuses.\n"
"\n"
"SSLCACertificateFile %s/ca.pem\n"
"SSLVerifyClient require\n"
"SSLVerifyDepth 2\n"
"SSLCARevocationFile %s/crls.pem\n"
"SSLCARevocationCheck chain\n"
"\n"
"RequestHeader set X-SSL-Client-Verify \"%%{SSL_CLIENT_VERIFY}s\"\n"
"RequestHeader set X-SSL-Client-S-DN \"%%{SSL_CLIENT_S_DN}s\"\n"
"RequestHeader set X-SSL-Client-Serial \"%%{SSL_CLIENT_M_SERIAL}s\"\n",
	    a->conf.org, SYNC_DIR, a->conf.base_url, SYNC_DIR, pin, SYNC_DIR,
	    SYNC_DIR);
	if ((url = aocsp_url(a, ubuf, sizeof(ubuf))) != NULL)
		ucbuf_printf(&b,
"\n"
"# OCSP: mod_ssl asks the CA's responder about each user's certificate,\n"
"# so a revocation is refused at once; certificates issued before the CA\n"
"# ran a responder have no OCSP URL, hence the override.  No answer means\n"
"# no access.\n"
"SSLOCSPEnable leaf\n"
"SSLOCSPDefaultResponder %s\n"
"SSLOCSPOverrideResponder on\n"
"SSLOCSPResponderTimeout 5\n", url);
	rc = write_buf(a, "public/gateway/apache-userca.conf", &b);
	ucbuf_free(&b);
	free(pin);
	return rc;
}

/*
 * The org name goes into the script's help comment, where only "#>" is
 * special: it would end the comment and turn the rest of the name into
 * code.  init refuses '#' and control characters, but userca.conf can be
 * edited by hand (a newline cannot get through the INI reader).
 */
void
gateway_ps_comment(struct ucbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		ucbuf_printf(b, "%c", *s);
		if (s[0] == '#' && s[1] == '>')
			ucbuf_printf(b, " ");
	}
}

/*
 * The issuing CA's EKU as a PowerShell list of dotted OIDs, in the
 * certificate's order ("'1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1'"), into
 * *out; *out stays empty for a CA certificate without EKU (a root-only CA:
 * the root has none).  The script gives the root exactly these purposes.
 */
static int
eku_oids(X509 *x, struct ucbuf *out)
{
	EXTENDED_KEY_USAGE *eku;
	char oid[128];
	int crit, i, n, rc = UC_OK;

	if ((eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL)) ==
	    NULL) {
		if (crit == -1)
			return UC_OK;
		return uc_seterr(UC_E_INVALID, "the issuing CA's extended key "
		    "usage is %s", crit == -2 ? "there twice" : "malformed");
	}
	if ((n = sk_ASN1_OBJECT_num(eku)) <= 0)
		rc = uc_seterr(UC_E_INVALID,
		    "the issuing CA's extended key usage is empty");
	for (i = 0; rc == UC_OK && i < n; i++) {
		int len = OBJ_obj2txt(oid, sizeof(oid),
		    sk_ASN1_OBJECT_value(eku, i), 1);

		/* Dotted digits only: it goes between single quotes. */
		if (len <= 0 || (size_t)len >= sizeof(oid) ||
		    strspn(oid, "0123456789.") != (size_t)len)
			rc = uc_seterr(UC_E_INVALID, "the issuing CA's "
			    "extended key usage holds an OID it cannot write");
		else
			ucbuf_printf(out, "%s'%s'", i > 0 ? ", " : "", oid);
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return rc;
}

/*
 * The root's enabled purposes: property 9 (CERT_ENHKEY_USAGE_PROP_ID) of its
 * certificate context in LocalMachine\Root, what certmgr's "Enable only the
 * following purposes" sets, becomes exactly the issuing CA's EKU (the DER of
 * an ExtKeyUsageSyntax, which .NET's X509EnhancedKeyUsageExtension makes).
 * Only the root found there by its thumbprint; skipped when already equal;
 * behind ShouldProcess.  crypt32 through a two-function Add-Type class; the
 * C# is indented so that no line of it starts or ends a PowerShell function
 * for the test's line-based checks.
 */
static const char ps_purposes_fn[] =
"# The root's enabled purposes (certificate property 9,\n"
"# CERT_ENHKEY_USAGE_PROP_ID: what certmgr's 'Enable only the following\n"
"# purposes' sets) become exactly what the issuing CA may issue for, its EKU.\n"
"# Only the root found in LocalMachine\\Root by its thumbprint is changed.\n"
"function Set-UsercaRootPurposes {\n"
"    [CmdletBinding(SupportsShouldProcess = $true)]\n"
"    param([string[]]$Purposes)\n"
"    $where = \"LocalMachine\\Root $RootThumbprint\"\n"
"    $names = $Purposes -join ', '\n"
"    if (-not ('UsercaCrypt32' -as [type])) {\n"
"        Add-Type -TypeDefinition @'\n"
"        using System;\n"
"        using System.Runtime.InteropServices;\n"
"        public static class UsercaCrypt32 {\n"
"            [StructLayout(LayoutKind.Sequential)]\n"
"            public struct CRYPT_DATA_BLOB { public uint cbData; public IntPtr pbData; }\n"
"            [DllImport(\"crypt32.dll\", SetLastError = true)]\n"
"            public static extern bool CertGetCertificateContextProperty(IntPtr pCertContext, uint dwPropId, byte[] pvData, ref uint pcbData);\n"
"            [DllImport(\"crypt32.dll\", SetLastError = true)]\n"
"            public static extern bool CertSetCertificateContextProperty(IntPtr pCertContext, uint dwPropId, uint dwFlags, ref CRYPT_DATA_BLOB pvData);\n"
"        }\n"
"'@\n"
"    }\n"
"    $oids = New-Object System.Security.Cryptography.OidCollection\n"
"    foreach ($o in $Purposes) { [void]$oids.Add((New-Object System.Security.Cryptography.Oid($o))) }\n"
"    $want = (New-Object System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension($oids, $false)).RawData\n"
"    $wantHex = ConvertTo-UsercaHex $want\n"
"\n"
"    $store = New-Object System.Security.Cryptography.X509Certificates.X509Store('Root', 'LocalMachine')\n"
"    $store.Open('ReadOnly')\n"
"    try { $found = @($store.Certificates.Find('FindByThumbprint', $RootThumbprint, $false)) } finally { $store.Close() }\n"
"    if ($found.Count -eq 0) {\n"
"        if ($Apply -and -not $WhatIfPreference) { throw \"$where is not there: its purposes were not set\" }\n"
"        Write-Output \"missing  $where purposes (-Apply imports the root, then sets them to $names)\"\n"
"        return\n"
"    }\n"
"    [uint32]$size = 0\n"
"    $now = 'none (all)'\n"
"    if ([UsercaCrypt32]::CertGetCertificateContextProperty($found[0].Handle, 9, $null, [ref]$size) -and $size -gt 0) {\n"
"        $buf = New-Object byte[] $size\n"
"        if (-not [UsercaCrypt32]::CertGetCertificateContextProperty($found[0].Handle, 9, $buf, [ref]$size)) { throw \"CertGetCertificateContextProperty failed on $where\" }\n"
"        $now = ConvertTo-UsercaHex $buf\n"
"    }\n"
"    if ($now -eq $wantHex) { Write-Output \"present  $where purposes $names\"; return }\n"
"    if (-not $Apply) { Write-Output \"differs  $where purposes differ from $names (-Apply sets them)\"; return }\n"
"    if (-not $PSCmdlet.ShouldProcess($where, \"set the enabled purposes to $names\")) { return }\n"
"    $store = New-Object System.Security.Cryptography.X509Certificates.X509Store('Root', 'LocalMachine')\n"
"    $store.Open('ReadWrite')\n"
"    $p = [IntPtr]::Zero\n"
"    try {\n"
"        $found = @($store.Certificates.Find('FindByThumbprint', $RootThumbprint, $false))\n"
"        if ($found.Count -ne 1) { throw \"$where is not there: its purposes were not set\" }\n"
"        $c = $found[0]\n"
"        if ($c.Thumbprint -ne $RootThumbprint) { throw \"thumbprint mismatch: $($c.Thumbprint) is not $RootThumbprint\" }\n"
"        $blob = New-Object UsercaCrypt32+CRYPT_DATA_BLOB\n"
"        $p = [System.Runtime.InteropServices.Marshal]::AllocHGlobal($want.Length)\n"
"        [System.Runtime.InteropServices.Marshal]::Copy($want, 0, $p, $want.Length)\n"
"        $blob.cbData = [uint32]$want.Length\n"
"        $blob.pbData = $p\n"
"        if (-not [UsercaCrypt32]::CertSetCertificateContextProperty($c.Handle, 9, 0, [ref]$blob)) {\n"
"            throw \"CertSetCertificateContextProperty: error $([System.Runtime.InteropServices.Marshal]::GetLastWin32Error()); the purposes of $where were not set\"\n"
"        }\n"
"    } finally {\n"
"        [System.Runtime.InteropServices.Marshal]::FreeHGlobal($p)\n"
"        $store.Close()\n"
"    }\n"
"    Write-Output \"set      $where purposes $names\"\n"
"}\n"
"\n";

/* The previous issuing CAs: checked with the others, then imported. */
static const char ps_prev_check[] =
"$previousCerts = @()\n"
"for ($i = 0; $i -lt $PreviousCers.Count; $i++) {\n"
"    $previousCerts += New-UsercaCert $PreviousCers[$i] $PreviousThumbprints[$i]\n"
"}\n";
static const char ps_prev_import[] =
"# The issuing CAs a rollover replaced: their users' certificates are\n"
"# valid until they expire.\n"
"foreach ($c in $previousCerts) {\n"
"    Add-UsercaCert $c 'CA'\n"
"    Add-UsercaCert $c 'ClientAuthIssuer'\n"
"}\n"
"\n";

/*
 * $PreviousThumbprints and $PreviousCers: the issuing CAs a rollover
 * replaced that are still in service; nothing when none.  Returns how
 * many, or a UC_E_* code.
 */
static int
ps_previous(struct authority *a, struct ucbuf *b)
{
	struct ucbuf t = UCBUF_INIT(0, 0), c = UCBUF_INIT(0, 0);
	int64_t now = uc_now();
	char *fp, *der;
	size_t i;
	int rc, n = 0;

	for (i = 0; i < a->nprev; i++) {
		if (!rollover_in_service(&a->prev[i], now))
			continue;
		if ((fp = cert_fingerprint(a->prev[i].cert, EVP_sha1())) ==
		    NULL || (der = b64_der(a->prev[i].cert)) == NULL) {
			free(fp);
			ucbuf_free(&t);
			ucbuf_free(&c);
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
		n++;
		ucbuf_printf(&t, "%s'%s'", ucbuf_len(&t) > 0 ? ", " : "", fp);
		ucbuf_printf(&c, "%s\n    '%s'", ucbuf_len(&c) > 0 ? "," : "",
		    der);
		free(fp);
		free(der);
	}
	if (n > 0)
		ucbuf_printf(b, "# Issuing CAs a rollover replaced, still in "
		    "service.\n$PreviousThumbprints = @(%s)\n"
		    "$PreviousCers = @(%s\n)\n\n", ucbuf_str(&t),
		    ucbuf_str(&c));
	rc = t.err != UC_OK ? t.err : c.err != UC_OK ? c.err : n;
	ucbuf_free(&t);
	ucbuf_free(&c);
	return rc;
}

/*
 * userca-trust.ps1 only ever adds: our root to Root, the issuing CA to
 * CA and ClientAuthIssuer.  Earlier versions removed every other trusted
 * root to keep the issuer list IIS sends short; that breaks Windows
 * (Microsoft's own roots are required) and was pointless, Schannel has not
 * sent that list by default since Windows Server 2012.  Narrowing client
 * authentication to ClientAuthIssuer is an opt-in registry setting.
 *
 * Written as UTF-8 with a BOM: Windows PowerShell 5.1 reads a file
 * without one in the ANSI code page, and the org name may not be ASCII.
 * Every string the script compares against is hex or base64, so only the
 * help comment carries the name.
 *
 * long-ok: nine tenths of it is the script's own text, kept in one piece
 * and in its order so it reads as the .ps1 does; the C around it is a
 * few lines.
 */
static int
write_powershell(struct authority *a)
{
	struct ucbuf b = UCBUF_INIT(0, 0), oids = UCBUF_INIT(0, 0);
	X509 *root = a->root != NULL ? a->root : a->issuing;
	char *rt = NULL, *it = NULL, *rb = NULL, *ib = NULL;
	int rc, live;

	if ((rc = eku_oids(a->issuing, &oids)) != UC_OK ||
	    (rc = oids.err) != UC_OK)
		goto out;
	if ((rt = cert_fingerprint(root, EVP_sha1())) == NULL ||
	    (it = cert_fingerprint(a->issuing, EVP_sha1())) == NULL ||
	    (rb = b64_der(root)) == NULL || (ib = b64_der(a->issuing)) ==
	    NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	ucbuf_addstr(&b,
"\xEF\xBB\xBF#Requires -RunAsAdministrator\n"
"<#\n"
".SYNOPSIS\n"
"  Trust the ");
	gateway_ps_comment(&b, a->conf.org);
	ucbuf_addstr(&b, " userca CA on this Windows server (IIS, Exchange).\n"
".DESCRIPTION\n"
"  Imports the userca root CA into LocalMachine\\Root and the issuing CA\n"
"  into LocalMachine\\CA and LocalMachine\\ClientAuthIssuer (a CA without\n"
"  an intermediate: the root goes into ClientAuthIssuer too), checking\n"
"  every thumbprint.  It never removes or changes any other certificate:\n"
"  certificates in LocalMachine\\Root that are not self-signed are only\n"
"  reported (while one is there, IIS answers client certificates with\n"
"  403.16).  Read-only unless -Apply; -Apply -WhatIf shows each change\n"
"  without making it.  Generated by 'userca publish'.\n"
".PARAMETER Apply\n"
"  Make the changes: the imports, and the Schannel settings when\n"
"  -RestrictClientAuthIssuers is given too.\n"
".PARAMETER ExpectedRootSha256\n"
"  The root's SHA-256 fingerprint, 64 hex digits (colons and spaces are\n"
"  ignored), obtained some other way than this script came: root.sha256\n"
"  in the CA's public/ca.json, or on the CA host\n"
"  'openssl x509 -in root/root.crt -noout -fingerprint -sha256'.  The\n"
"  script stops, changing nothing, when its root is not that one.\n"
".PARAMETER RestrictClientAuthIssuers\n"
"  Opt-in, for the whole machine: sets SendTrustedIssuerList=1 and\n"
"  ClientAuthTrustMode=2 under\n"
"  HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL.\n"
"  Schannel then accepts client certificates only when they chain to a\n"
"  CA in LocalMachine\\ClientAuthIssuer, and names those CAs to clients.\n"
"  Every site on this server that asks for client certificates is\n"
"  affected; Windows reads the values at boot.\n"
".PARAMETER KeepThumbprints\n"
"  Ignored, with a warning (older versions removed every trusted root not\n"
"  listed here).  Still checked: 40 hex digits each.\n"
".EXAMPLE\n"
"  Unblock-File .\\userca-trust.ps1\n"
"  .\\userca-trust.ps1 -ExpectedRootSha256 <root.sha256 from ca.json>\n"
"  .\\userca-trust.ps1 -ExpectedRootSha256 <root.sha256 from ca.json> -Apply -WhatIf\n"
"  .\\userca-trust.ps1 -ExpectedRootSha256 <root.sha256 from ca.json> -Apply\n"
".EXAMPLE\n"
"  powershell -ExecutionPolicy Bypass -File userca-trust.ps1 -ExpectedRootSha256 <root.sha256> -Apply -RestrictClientAuthIssuers\n"
"#>\n"
"[CmdletBinding(SupportsShouldProcess = $true)]\n"
"param(\n"
"    [switch]$Apply,\n"
"    [string]$ExpectedRootSha256 = '',\n"
"    [switch]$RestrictClientAuthIssuers,\n"
"    [string[]]$KeepThumbprints = @()\n"
")\n"
"$ErrorActionPreference = 'Stop'\n"
"Set-StrictMode -Version 2.0\n"
"\n");
	ucbuf_printf(&b,
"$RootThumbprint = '%s'\n"
"$IssuingThumbprint = '%s'\n"
"$RootCer = '%s'\n"
"$IssuingCer = '%s'\n"
"$SchannelKey = 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL'\n"
"\n",
	    rt, it, rb, ib);
	if ((live = ps_previous(a, &b)) < 0) {
		rc = live;
		goto out;
	}
	if (ucbuf_len(&oids) > 0)
		ucbuf_printf(&b,
"# What the issuing CA may issue for (its EKU): the root's enabled purposes.\n"
"$RootPurposes = @(%s)\n"
"\n", ucbuf_str(&oids));
	ucbuf_addstr(&b,
"function ConvertTo-UsercaHex([byte[]]$Bytes) {\n"
"    return ([BitConverter]::ToString($Bytes) -replace '-', '')\n"
"}\n"
"\n"
"# One argument or many: 'powershell -File' hands 'A,B' over as one string\n"
"# (quotes included when typed in cmd).  Each must be 40 hex digits.\n"
"function Split-UsercaThumbprints([string[]]$List, [string]$Name) {\n"
"    $out = @()\n"
"    foreach ($item in $List) {\n"
"        foreach ($t in ($item -split '[\\s,''\"]+')) {\n"
"            if ($t -eq '') { continue }\n"
"            if ($t -notmatch '^[0-9A-Fa-f]{40}$') { throw \"-${Name}: '$t' is not a thumbprint (40 hex digits)\" }\n"
"            $out += $t.ToUpperInvariant()\n"
"        }\n"
"    }\n"
"    return $out\n"
"}\n"
"\n"
"function New-UsercaCert([string]$Base64, [string]$Thumbprint) {\n"
"    $cert = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2(,[Convert]::FromBase64String($Base64))\n"
"    if ($cert.Thumbprint -ne $Thumbprint) { throw \"thumbprint mismatch: $($cert.Thumbprint) is not $Thumbprint\" }\n"
"    return $cert\n"
"}\n"
"\n"
"function Get-UsercaStore([string]$StoreName) {\n"
"    $store = New-Object System.Security.Cryptography.X509Certificates.X509Store($StoreName, 'LocalMachine')\n"
"    $store.Open('ReadOnly')\n"
"    try { return @($store.Certificates) } finally { $store.Close() }\n"
"}\n"
"\n");
	ucbuf_addstr(&b,
"# Adds one certificate to one store; never removes anything.\n"
"function Add-UsercaCert {\n"
"    [CmdletBinding(SupportsShouldProcess = $true)]\n"
"    param($Cert, [string]$StoreName)\n"
"    $where = \"LocalMachine\\$StoreName\"\n"
"    if (@(Get-UsercaStore $StoreName | Where-Object { $_.Thumbprint -eq $Cert.Thumbprint }).Count -gt 0) {\n"
"        Write-Output \"present  $where $($Cert.Thumbprint)\"\n"
"        return\n"
"    }\n"
"    if (-not $Apply) { Write-Output \"missing  $where $($Cert.Thumbprint) (-Apply imports it)\"; return }\n"
"    if (-not $PSCmdlet.ShouldProcess($where, \"import $($Cert.Subject) ($($Cert.Thumbprint))\")) { return }\n"
"    $Cert.FriendlyName = \"userca: $($Cert.GetNameInfo('SimpleName', $false))\"\n"
"    $store = New-Object System.Security.Cryptography.X509Certificates.X509Store($StoreName, 'LocalMachine')\n"
"    $store.Open('ReadWrite')\n"
"    try { $store.Add($Cert) } finally { $store.Close() }\n"
"    Write-Output \"imported $where $($Cert.Thumbprint)\"\n"
"}\n"
"\n"
"# Sets one DWORD under the SCHANNEL key (opt-in only).\n"
"function Set-UsercaSchannel {\n"
"    [CmdletBinding(SupportsShouldProcess = $true)]\n"
"    param([string]$Name, [int]$Value)\n"
"    $p = Get-ItemProperty -Path $SchannelKey -Name $Name -ErrorAction SilentlyContinue\n"
"    $now = if ($p) { [string]$p.$Name } else { 'unset' }\n"
"    if ($now -eq [string]$Value) { Write-Output \"present  $SchannelKey $Name=$Value\"; return }\n"
"    if (-not $Apply) { Write-Output \"differs  $SchannelKey $Name is $now, not $Value (-Apply sets it)\"; return }\n"
"    if (-not $PSCmdlet.ShouldProcess(\"$SchannelKey $Name\", \"set DWORD $Value (now $now)\")) { return }\n"
"    New-ItemProperty -Path $SchannelKey -Name $Name -Value $Value -PropertyType DWord -Force | Out-Null\n"
"    Write-Output \"set      $SchannelKey $Name=$Value (Windows reads it at boot: restart)\"\n"
"}\n"
"\n");
	if (ucbuf_len(&oids) > 0)
		ucbuf_addstr(&b, ps_purposes_fn);
	ucbuf_addstr(&b,
"# ---- checks: all before any change ----\n"
"if (@(Split-UsercaThumbprints $KeepThumbprints 'KeepThumbprints').Count -gt 0) {\n"
"    Write-Warning '-KeepThumbprints is ignored: this script never removes trusted roots.'\n"
"}\n"
"$rootCert = New-UsercaCert $RootCer $RootThumbprint\n"
"$issuingCert = New-UsercaCert $IssuingCer $IssuingThumbprint\n");
	if (live > 0)
		ucbuf_addstr(&b, ps_prev_check);
	ucbuf_addstr(&b,
"$sha = [System.Security.Cryptography.SHA256]::Create()\n"
"$rootSha256 = ConvertTo-UsercaHex ($sha.ComputeHash([Convert]::FromBase64String($RootCer)))\n"
"$sha.Dispose()\n"
"if ($ExpectedRootSha256 -ne '') {\n"
"    $want = ($ExpectedRootSha256 -replace '[\\s:''\"]', '').ToUpperInvariant()\n"
"    if ($want -notmatch '^[0-9A-F]{64}$') { throw \"-ExpectedRootSha256: '$ExpectedRootSha256' is not a SHA-256 fingerprint (64 hex digits)\" }\n"
"    if ($want -ne $rootSha256) { throw \"root SHA-256 mismatch: this script carries $rootSha256, not $want; nothing was changed\" }\n"
"    Write-Output \"checked  root SHA-256 $rootSha256 is the one expected\"\n"
"} else {\n"
"    Write-Output \"UNCHECKED: this script only checked its own copy of the root, SHA-256 $rootSha256.\"\n"
"    Write-Output '  Compare that with root.sha256 in public/ca.json on the CA host (or with'\n"
"    Write-Output \"  'openssl x509 -in root/root.crt -noout -fingerprint -sha256' there), obtained\"\n"
"    Write-Output '  some other way than this script came, and run again with -ExpectedRootSha256.'\n"
"}\n"
"\n"
"# ---- imports ----\n"
"Add-UsercaCert $rootCert 'Root'\n");
	/* The CA that signs user certificates is the one clients must chain to. */
	if (strcmp(rt, it) != 0)
		ucbuf_addstr(&b,
"Add-UsercaCert $issuingCert 'CA'\n"
"Add-UsercaCert $issuingCert 'ClientAuthIssuer'\n"
"\n");
	else
		ucbuf_addstr(&b,
"Add-UsercaCert $rootCert 'ClientAuthIssuer'\n"
"\n");
	if (live > 0)
		ucbuf_addstr(&b, ps_prev_import);
	if (ucbuf_len(&oids) > 0)
		ucbuf_addstr(&b,
"# ---- the root's enabled purposes: the issuing CA's EKU ----\n"
"Set-UsercaRootPurposes $RootPurposes\n"
"\n");
	else
		ucbuf_addstr(&b,
"Write-Output \"info     the issuing CA's certificate has no EKU: the root's enabled purposes are left as they are\"\n"
"\n");
	ucbuf_addstr(&b,
"# ---- reports: nothing below removes or changes a certificate ----\n"
"$roots = @(Get-UsercaStore 'Root')\n"
"Write-Output \"info     LocalMachine\\Root holds $($roots.Count) certificates; this script removes none\"\n"
"foreach ($c in $roots) {\n"
"    if ([Convert]::ToBase64String($c.SubjectName.RawData) -ne [Convert]::ToBase64String($c.IssuerName.RawData)) {\n"
"        Write-Warning \"LocalMachine\\Root holds $($c.Thumbprint) $($c.Subject), which is not self-signed: IIS answers client certificates with 403.16 while it is there (an intermediate belongs in LocalMachine\\CA; this script leaves it alone)\"\n"
"    }\n"
"}\n"
"if ($RestrictClientAuthIssuers) {\n"
"    Set-UsercaSchannel 'SendTrustedIssuerList' 1\n"
"    Set-UsercaSchannel 'ClientAuthTrustMode' 2\n"
"    foreach ($c in @(Get-UsercaStore 'ClientAuthIssuer')) {\n"
"        if ($c.Thumbprint -ne $IssuingThumbprint -and $c.Thumbprint -ne $RootThumbprint) {\n"
"            Write-Output \"other    LocalMachine\\ClientAuthIssuer $($c.Thumbprint) $($c.Subject) (also trusted for client authentication)\"\n"
"        }\n"
"    }\n"
"} else {\n"
"    Write-Output 'info     Schannel settings unchanged; -RestrictClientAuthIssuers trusts only LocalMachine\\ClientAuthIssuer for client certificates'\n"
"}\n");
	rc = write_buf(a, "public/gateway/userca-trust.ps1", &b);
out:
	ucbuf_free(&b);
	ucbuf_free(&oids);
	free(rt);
	free(it);
	free(rb);
	free(ib);
	return rc;
}

int
gateway_write(struct authority *a)
{
	char *dir;
	int rc;

	if ((dir = path_join(a->home, "public/gateway")) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = dir_make(dir, 0755);
	free(dir);
	if (rc != UC_OK)
		return rc;
	if ((rc = write_nginx(a)) != UC_OK || (rc = write_apache(a)) != UC_OK ||
	    (rc = write_powershell(a)) != UC_OK)
		return rc;
	/*
	 * Homes from before 'userca export --format iis-mapping --all' had
	 * every user's certificate here, rewritten on each revoke.
	 */
	if ((dir = path_join(a->home, "public/gateway/iis-mappings.csv")) ==
	    NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (unlink(dir) == -1 && errno != ENOENT)
		rc = uc_seterr(UC_E_IO, "%s: %s", dir, strerror(errno));
	free(dir);
	return rc;
}
