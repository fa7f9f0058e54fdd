/*
 * iis.c: IIS one-to-one mapping material, made from the records when an
 * admin asks for it (userca export --format iis-mapping|iis-ps1 --all):
 *
 *   iis-mapping  CSV, one line per user certificate to map:
 *                username,account,serial,not_after,certificate
 *   iis-ps1      userca-iis-mappings.ps1: adds those mappings with
 *                Add-WebConfigurationProperty and removes the ones of
 *                revoked or superseded certificates; with -ADStrongMapping
 *                also the AD strong mappings (altSecurityIdentities,
 *                X509IssuerSerialNumber) with Set-ADUser, the optional
 *                step of KB5014754 for certificates without the SID
 *
 * Nothing here is published: the material names every user and holds
 * every certificate, and rewriting it on each revoke made revocation cost
 * grow with the user base.
 *
 * The account is what IIS stores as the mapping's userName: the user's
 * UPN when the record has one, else [iis] domain\username, else the bare
 * username (a local account of the IIS server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "authority_int.h"
#include "ucbuf.h"

struct iis {
	struct authority	*a;
	enum iis_format		 fmt;
	struct ucbuf		 b;
	int			 gone;	/* the removal list has begun */
	long			 nadd, nremove;
	int			(*out)(const void *, size_t, void *);
	void			*arg;
};

static int
iis_flush(struct iis *m)
{
	int rc;

	if (m->b.err != UC_OK)
		return m->b.err;
	rc = m->out(ucbuf_str(&m->b), ucbuf_len(&m->b), m->arg);
	ucbuf_reset(&m->b);
	return rc;
}

/*
 * Inside a PowerShell single-quoted string only the quote is special, but
 * PowerShell takes the typographic single quotes (U+2018..U+201B) for one
 * too: each is doubled.
 */
static void
ps_quote(struct ucbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	ucbuf_addstr(b, "'");
	for (; *p != '\0'; p++) {
		if (*p == '\'')
			ucbuf_addstr(b, "''");
		else if (p[0] == 0xE2 && p[1] == 0x80 && p[2] >= 0x98 &&
		    p[2] <= 0x9B) {
			ucbuf_add(b, p, 3);
			ucbuf_add(b, p, 3);
			p += 2;
		} else
			ucbuf_add(b, p, 1);
	}
	ucbuf_addstr(b, "'");
}

/* RFC 4180: quoted only when it holds a comma, a quote or a line break. */
static void
csv_field(struct ucbuf *b, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		ucbuf_addstr(b, s);
		return;
	}
	ucbuf_addstr(b, "\"");
	for (; *s != '\0'; s++)
		ucbuf_addstr(b, *s == '"' ? "\"\"" : (char[]){ *s, '\0' });
	ucbuf_addstr(b, "\"");
}

static void
account(struct iis *m, const struct store_mapping *c, struct ucbuf *to)
{
	if (c->upn != NULL && c->upn[0] != '\0')
		ucbuf_addstr(to, c->upn);
	else if (m->a->conf.iis_domain != NULL)
		ucbuf_printf(to, "%s\\%s", m->a->conf.iis_domain, c->username);
	else
		ucbuf_addstr(to, c->username);
}

/* X509IssuerSerialNumber of a certificate to map (KB5014754). */
static int
altsecid_of(const struct store_mapping *c, char **out)
{
	X509 *x = NULL;
	char *pukey = NULL;
	int rc;

	*out = NULL;
	if ((rc = cert_parse(c->der, c->derlen, &x)) != UC_OK)
		return rc;
	rc = altsecid_strings(x, out, &pukey);
	free(pukey);
	X509_free(x);
	return rc;
}

/*
 * The serial's bytes reversed, in hex: how the X509IssuerSerialNumber
 * mapping of a certificate that is gone ends ("<SR>" and this), whichever
 * issuing CA signed it.
 */
static void
serial_reversed(struct ucbuf *b, const char *hex)
{
	size_t i = strlen(hex);

	/* From the last byte to the first; an odd length has a leading 0. */
	while (i >= 2) {
		ucbuf_add(b, hex + i - 2, 2);
		i -= 2;
	}
	if (i == 1)
		ucbuf_printf(b, "0%c", hex[0]);
}

static int
iis_cb(const struct store_mapping *c, void *arg)
{
	struct iis *m = arg;
	struct ucbuf acct = UCBUF_INIT(0, 0);
	char *b64 = NULL, *asid = NULL, when[32];
	int n, rc;

	if (c->gone && m->fmt == IIS_CSV)
		return 0;	/* the CSV lists what to map */
	if (!c->gone) {
		if ((b64 = malloc((c->derlen + 2) / 3 * 4 + 1)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		n = EVP_EncodeBlock((unsigned char *)b64, c->der,
		    (int)c->derlen);
		b64[n] = '\0';
		account(m, c, &acct);
		if (m->fmt == IIS_PS1 && (rc = altsecid_of(c, &asid)) != UC_OK)
			goto out;
	}
	uc_time_iso(c->not_after, when, sizeof(when));
	if ((rc = acct.err) != UC_OK)
		goto out;
	if (m->fmt == IIS_CSV) {
		/* Usernames are [A-Za-z0-9._@-]; a UPN may need quotes. */
		ucbuf_printf(&m->b, "%s,", c->username);
		csv_field(&m->b, ucbuf_str(&acct));
		ucbuf_printf(&m->b, ",%s,%s,%s\n", c->serial, when, b64);
		m->nadd++;
	} else if (!c->gone) {
		ucbuf_addstr(&m->b, "    [pscustomobject]@{ Account = ");
		ps_quote(&m->b, ucbuf_str(&acct));
		ucbuf_printf(&m->b, "; User = '%s'; Serial = '%s'; "
		    "NotAfter = '%s'; Sha256 = '%s';\n"
		    "        AltSecId = ", c->username, c->serial, when,
		    c->sha256);
		ps_quote(&m->b, asid);
		ucbuf_printf(&m->b, ";\n        Certificate = '%s' }\n", b64);
		m->nadd++;
	} else {
		if (!m->gone) {
			ucbuf_addstr(&m->b, ")\n$Remove = @(\n");
			m->gone = 1;
		}
		ucbuf_printf(&m->b, "    [pscustomobject]@{ User = '%s'; "
		    "Serial = '%s'; Why = '%s'; Sha256 = '%s'; SR = '",
		    c->username, c->serial, c->reason >= 0 ?
		    crl_reason_name(c->reason) : "superseded", c->sha256);
		serial_reversed(&m->b, c->serial);
		ucbuf_addstr(&m->b, "' }\n");
		m->nremove++;
	}
	if (ucbuf_len(&m->b) >= 65536 || m->b.err != UC_OK)
		rc = iis_flush(m);
out:
	ucbuf_free(&acct);
	free(b64);
	free(asid);
	return rc;
}

/* Written as UTF-8 with a BOM, like userca-trust.ps1 (gateway.c). */
static void
ps1_head(struct iis *m)
{
	char when[32];

	uc_time_iso(uc_now(), when, sizeof(when));
	ucbuf_addstr(&m->b,
"\xEF\xBB\xBF#Requires -RunAsAdministrator\n"
"<#\n"
".SYNOPSIS\n"
"  IIS one-to-one client certificate mappings for the ");
	gateway_ps_comment(&m->b, m->a->conf.org);
	ucbuf_printf(&m->b, " userca users.\n"
".DESCRIPTION\n"
"  Adds a one-to-one mapping (Add-WebConfigurationProperty) for each valid\n"
"  user certificate in $Add that the site does not map yet, and removes the\n"
"  mappings of the revoked or superseded certificates in $Remove.  Mappings\n"
"  of any other certificate are left alone.  Asks for each account's\n"
"  password once (Get-Credential): IIS stores it, encrypted, in\n"
"  applicationHost.config.  -WhatIf shows each change without making it.\n"
"  Optional: -ADStrongMapping also puts each certificate's strong mapping\n"
"  (altSecurityIdentities X509:<I>issuer<SR>serial, KB5014754) on the AD\n"
"  user of the same sAMAccountName with Set-ADUser and removes those of\n"
"  revoked or superseded certificates: needed for AD mapping, Exchange CBA\n"
"  and Kerberos when the certificates carry no SID (issue --sid).  Needs the\n"
"  ActiveDirectory module (RSAT) and rights on those users; -NoIIS does only\n"
"  that step.\n"
"  Made by 'userca export --format iis-ps1 --all' at %s: make it\n"
"  again after issuing or revoking, and keep it private (it names every\n"
"  user and holds every certificate).\n"
".PARAMETER Site\n"
"  The IIS site (or site/application) whose mappings change.\n"
".PARAMETER PSPath\n"
"  The configuration path, MACHINE/WEBROOT/APPHOST by default.\n"
".PARAMETER ADStrongMapping\n"
"  Also set the users' altSecurityIdentities in Active Directory.\n"
".PARAMETER NoIIS\n"
"  Leave IIS alone (with -ADStrongMapping: only the AD step).\n"
".EXAMPLE\n"
"  Unblock-File .\\userca-iis-mappings.ps1\n"
"  .\\userca-iis-mappings.ps1 -Site 'Default Web Site' -WhatIf\n"
"  .\\userca-iis-mappings.ps1 -Site 'Default Web Site'\n"
"  .\\userca-iis-mappings.ps1 -NoIIS -ADStrongMapping -WhatIf\n"
"#>\n"
"[CmdletBinding(SupportsShouldProcess = $true)]\n"
"param(\n"
"    [string]$Site = 'Default Web Site',\n"
"    [string]$PSPath = 'MACHINE/WEBROOT/APPHOST',\n"
"    [switch]$ADStrongMapping,\n"
"    [switch]$NoIIS\n"
")\n"
"$ErrorActionPreference = 'Stop'\n"
"Set-StrictMode -Version 2.0\n"
"$Filter = 'system.webServer/security/authentication/iisClientCertificateMappingAuthentication/oneToOneMappings'\n"
"\n"
"# ---- from the userca records ----\n"
"# To map: valid, unexpired, not superseded user certificates.\n"
"$Add = @(\n", when);
}

static void
ps1_tail(struct iis *m)
{
	if (!m->gone)
		ucbuf_addstr(&m->b, ")\n$Remove = @(\n");
	ucbuf_printf(&m->b, ")\n"
"# %ld to map, %ld revoked or superseded.\n"
"\n", m->nadd, m->nremove);
	ucbuf_addstr(&m->b,
"function Get-UsercaSha256([string]$Base64) {\n"
"    $sha = [System.Security.Cryptography.SHA256]::Create()\n"
"    try { return ([BitConverter]::ToString($sha.ComputeHash([Convert]::FromBase64String($Base64))) -replace '-', '') }\n"
"    finally { $sha.Dispose() }\n"
"}\n"
"\n"
"function Update-UsercaIIS {\n"
"Import-Module WebAdministration\n"
"# What the site maps now: the SHA-256 of each mapped certificate -> the\n"
"# certificate string as IIS stores it (the key to remove it by).\n"
"$mapped = @{}\n"
"foreach ($e in @(Get-WebConfiguration -PSPath $PSPath -Location $Site -Filter \"$Filter/add\")) {\n"
"    $stored = [string]$e.certificate\n"
"    try { $mapped[(Get-UsercaSha256 $stored)] = $stored }\n"
"    catch { Write-Warning \"a mapping of $($e.userName) holds no base64 certificate; left alone\" }\n"
"}\n"
"\n"
"# ---- removals: revoked or superseded certificates ----\n"
"foreach ($r in $Remove) {\n"
"    if (-not $mapped.ContainsKey($r.Sha256)) { continue }\n"
"    if (-not $PSCmdlet.ShouldProcess(\"$Site one-to-one mapping of $($r.User) $($r.Serial)\", \"remove ($($r.Why))\")) { continue }\n"
"    Remove-WebConfigurationProperty -PSPath $PSPath -Location $Site -Filter $Filter -Name '.' -AtElement @{ certificate = $mapped[$r.Sha256] }\n"
"    $mapped.Remove($r.Sha256)\n"
"    Write-Output \"removed  $($r.User) $($r.Serial) ($($r.Why))\"\n"
"}\n"
"\n"
"# ---- additions: one password prompt per account ----\n"
"$credentials = @{}\n"
"foreach ($a in $Add) {\n"
"    if ($mapped.ContainsKey($a.Sha256)) { Write-Output \"present  $($a.Account) $($a.Serial)\"; continue }\n"
"    if (-not $PSCmdlet.ShouldProcess(\"$Site one-to-one mapping of $($a.User) $($a.Serial) (until $($a.NotAfter))\", \"map to $($a.Account)\")) { continue }\n"
"    if (-not $credentials.ContainsKey($a.Account)) {\n"
"        $c = $null\n"
"        try { $c = Get-Credential -UserName $a.Account -Message \"Password of $($a.Account) (IIS keeps it, encrypted, with the mapping)\" } catch { $c = $null }\n"
"        $credentials[$a.Account] = $c\n"
"    }\n"
"    $c = $credentials[$a.Account]\n"
"    if ($null -eq $c) { Write-Warning \"skipped  $($a.Account) $($a.Serial): no password given\"; continue }\n"
"    Add-WebConfigurationProperty -PSPath $PSPath -Location $Site -Filter $Filter -Name '.' -Value @{\n"
"        enabled = $true; userName = $c.UserName; password = $c.GetNetworkCredential().Password; certificate = $a.Certificate }\n"
"    $mapped[$a.Sha256] = $a.Certificate\n"
"    Write-Output \"added    $($a.Account) $($a.Serial)\"\n"
"}\n"
"}\n"
"\n"
"# ---- optional: AD strong mappings (altSecurityIdentities) ----\n"
"function Update-UsercaAD {\n"
"Import-Module ActiveDirectory\n"
"foreach ($r in $Remove) {\n"
"    try { $u = Get-ADUser -Identity $r.User -Properties altSecurityIdentities } catch { continue }\n"
"    foreach ($v in @($u.altSecurityIdentities)) {\n"
"        if ($v -notlike \"X509:<I>*<SR>$($r.SR)\") { continue }\n"
"        if (-not $PSCmdlet.ShouldProcess(\"AD user $($r.User)\", \"remove altSecurityIdentities $v ($($r.Why))\")) { continue }\n"
"        Set-ADUser -Identity $r.User -Remove @{ altSecurityIdentities = $v }\n"
"        Write-Output \"ad-removed $($r.User) $($r.Serial) ($($r.Why))\"\n"
"    }\n"
"}\n"
"foreach ($a in $Add) {\n"
"    try { $u = Get-ADUser -Identity $a.User -Properties altSecurityIdentities }\n"
"    catch { Write-Warning \"skipped  $($a.User) $($a.Serial): no such AD user\"; continue }\n"
"    if (@($u.altSecurityIdentities) -contains $a.AltSecId) { Write-Output \"ad-present $($a.User) $($a.Serial)\"; continue }\n"
"    if (-not $PSCmdlet.ShouldProcess(\"AD user $($a.User)\", \"add altSecurityIdentities $($a.AltSecId)\")) { continue }\n"
"    Set-ADUser -Identity $a.User -Add @{ altSecurityIdentities = $a.AltSecId }\n"
"    Write-Output \"ad-added   $($a.User) $($a.Serial)\"\n"
"}\n"
"}\n"
"\n"
"if (-not $NoIIS) { Update-UsercaIIS }\n"
"if ($ADStrongMapping) { Update-UsercaAD }\n");
}

int
authority_iis_export(struct authority *a, enum iis_format fmt,
    int (*out)(const void *, size_t, void *), void *arg)
{
	struct iis m;
	int rc;

	memset(&m, 0, sizeof(m));
	ucbuf_init(&m.b, 0, 0);
	m.a = a;
	m.fmt = fmt;
	m.out = out;
	m.arg = arg;
	if (fmt == IIS_CSV)
		ucbuf_addstr(&m.b,
		    "username,account,serial,not_after,certificate\n");
	else
		ps1_head(&m);
	pthread_mutex_lock(&a->mu);
	rc = store_mapping_list(a->st, uc_now(), iis_cb, &m);
	pthread_mutex_unlock(&a->mu);
	if (rc == UC_OK) {
		if (fmt == IIS_PS1)
			ps1_tail(&m);
		rc = iis_flush(&m);
	}
	ucbuf_free(&m.b);
	return rc;
}
