/*
 * gateway.c: public/gateway/, the material gateway admins copy:
 *
 *   nginx-userca.conf   ssl_verify_client with our bundle and CRLs
 *   apache-userca.conf  the same for Apache httpd (mod_ssl)
 *   userca-trust.ps1    imports our root and issuing CA into the Windows
 *                       stores and lists (-Apply: removes) every other
 *                       trusted root, thumbprints filled in
 *   iis-mappings.csv    one line per valid user certificate: the base64
 *                       DER IIS one-to-one mapping wants
 *
 * The nginx and Apache snippets point at the folder userca-gateway-sync
 * keeps up to date (/etc/userca-gateway).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authority_int.h"

#define SYNC_DIR	"/etc/userca-gateway"

struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 oom;
};

static void sb_printf(struct sbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *np;
	int n;

	if (b->oom)
		return;
	for (;;) {
		if (b->cap - b->len < 2) {
			size_t cap = b->cap ? b->cap * 2 : 4096;

			if ((np = realloc(b->p, cap)) == NULL) {
				b->oom = 1;
				return;
			}
			b->p = np;
			b->cap = cap;
		}
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if ((np = realloc(b->p, b->cap * 2 + (size_t)n)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

static int
sb_write(struct authority *a, const char *rel, struct sbuf *b)
{
	char *path;
	int rc;

	if (b->oom)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((path = path_join(a->home, rel)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = file_write_atomic(path, b->p != NULL ? b->p : "", b->len, 0644);
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
	OPENSSL_free(der);
	return out;
}

static int
write_nginx(struct authority *a)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	int rc;

	sb_printf(&b,
"# userca: TLS client certificates for %s users.\n"
"# Include inside a 'server { listen 443 ssl; ... }' block.  The files in\n"
"# %s are kept current by userca-gateway-sync (cron or its\n"
"# systemd timer), which checks every CRL before installing it and runs\n"
"# 'nginx -s reload' when something changed:\n"
"#   userca-gateway-sync --url %s --dir %s \\\n"
"#       --pin-sha256 <root sha256 from ca.json> --reload 'nginx -s reload'\n"
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
	    a->conf.org, SYNC_DIR, a->conf.base_url, SYNC_DIR, SYNC_DIR,
	    SYNC_DIR);
	rc = sb_write(a, "public/gateway/nginx-userca.conf", &b);
	free(b.p);
	return rc;
}

static int
write_apache(struct authority *a)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	int rc;

	sb_printf(&b,
"# userca: TLS client certificates for %s users (Apache httpd, mod_ssl,\n"
"# mod_headers).  Inside the <VirtualHost *:443> with SSLEngine on.  The\n"
"# files in %s are kept current by userca-gateway-sync\n"
"# (--reload 'apachectl graceful').\n"
"\n"
"SSLCACertificateFile %s/ca.pem\n"
"SSLVerifyClient require\n"
"SSLVerifyDepth 2\n"
"SSLCARevocationFile %s/crls.pem\n"
"SSLCARevocationCheck chain no_crl_for_cert_ok\n"
"\n"
"RequestHeader set X-SSL-Client-Verify \"%%{SSL_CLIENT_VERIFY}s\"\n"
"RequestHeader set X-SSL-Client-S-DN \"%%{SSL_CLIENT_S_DN}s\"\n"
"RequestHeader set X-SSL-Client-Serial \"%%{SSL_CLIENT_M_SERIAL}s\"\n",
	    a->conf.org, SYNC_DIR, SYNC_DIR, SYNC_DIR);
	rc = sb_write(a, "public/gateway/apache-userca.conf", &b);
	free(b.p);
	return rc;
}

static int
write_powershell(struct authority *a)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	X509 *root = a->root != NULL ? a->root : a->issuing;
	char *rt = NULL, *it = NULL, *rb = NULL, *ib = NULL;
	int rc;

	if ((rt = cert_fingerprint(root, EVP_sha1())) == NULL ||
	    (it = cert_fingerprint(a->issuing, EVP_sha1())) == NULL ||
	    (rb = b64_der(root)) == NULL || (ib = b64_der(a->issuing)) ==
	    NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	sb_printf(&b,
"<#\n"
".SYNOPSIS\n"
"  Trust the %s userca CA on this Windows server (IIS, Exchange).\n"
".DESCRIPTION\n"
"  Imports the root CA into LocalMachine\\Root and the issuing CA into\n"
"  LocalMachine\\CA, checking their thumbprints, and lists every other\n"
"  trusted root.  IIS sends the names of all trusted roots when it asks for\n"
"  a client certificate: too many, or a stranger's, and clients pick the\n"
"  wrong certificate or are trusted by the wrong CA.  Read-only unless\n"
"  -Apply: then it imports and REMOVES every trusted root that is neither\n"
"  ours nor in -KeepThumbprints (keep the roots Windows Update and your\n"
"  server's own TLS certificate need).  Generated by 'userca publish'.\n"
".EXAMPLE\n"
"  powershell -ExecutionPolicy Bypass -File userca-trust.ps1\n"
"  powershell -ExecutionPolicy Bypass -File userca-trust.ps1 -Apply -KeepThumbprints 'A1B2...','C3D4...'\n"
"#>\n"
"[CmdletBinding()]\n"
"param(\n"
"    [switch]$Apply,\n"
"    [string[]]$KeepThumbprints = @()\n"
")\n"
"$ErrorActionPreference = 'Stop'\n"
"\n"
"$RootThumbprint = '%s'\n"
"$IssuingThumbprint = '%s'\n"
"$RootCer = '%s'\n"
"$IssuingCer = '%s'\n"
"\n"
"function Import-UsercaCert([string]$Base64, [string]$StoreName, [string]$Thumbprint) {\n"
"    $have = Get-ChildItem \"Cert:\\LocalMachine\\$StoreName\" | Where-Object { $_.Thumbprint -eq $Thumbprint }\n"
"    if ($have) { Write-Output \"present  LocalMachine\\$StoreName $Thumbprint\"; return }\n"
"    if (-not $Apply) { Write-Output \"missing  LocalMachine\\$StoreName $Thumbprint (-Apply imports it)\"; return }\n"
"    $cert = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2(,[Convert]::FromBase64String($Base64))\n"
"    if ($cert.Thumbprint -ne $Thumbprint) { throw \"thumbprint mismatch: $($cert.Thumbprint) is not $Thumbprint\" }\n"
"    $store = New-Object System.Security.Cryptography.X509Certificates.X509Store($StoreName, 'LocalMachine')\n"
"    $store.Open('ReadWrite'); $store.Add($cert); $store.Close()\n"
"    Write-Output \"imported LocalMachine\\$StoreName $Thumbprint\"\n"
"}\n"
"\n"
"Import-UsercaCert $RootCer 'Root' $RootThumbprint\n"
"if ($IssuingThumbprint -ne $RootThumbprint) { Import-UsercaCert $IssuingCer 'CA' $IssuingThumbprint }\n"
"\n"
"$keep = @($RootThumbprint) + ($KeepThumbprints | ForEach-Object { ($_ -replace '[^0-9A-Fa-f]', '').ToUpper() })\n"
"Get-ChildItem Cert:\\LocalMachine\\Root | Where-Object { $keep -notcontains $_.Thumbprint } | ForEach-Object {\n"
"    if ($Apply) {\n"
"        Remove-Item -Path $_.PSPath\n"
"        Write-Output \"removed  LocalMachine\\Root $($_.Thumbprint) $($_.Subject)\"\n"
"    } else {\n"
"        Write-Output \"other    LocalMachine\\Root $($_.Thumbprint) $($_.Subject)\"\n"
"    }\n"
"}\n",
	    a->conf.org, rt, it, rb, ib);
	rc = sb_write(a, "public/gateway/userca-trust.ps1", &b);
out:
	free(b.p);
	free(rt);
	free(it);
	free(rb);
	free(ib);
	return rc;
}

/*
 * One line per valid user certificate, streamed to the file through a
 * 64 KB buffer: a home of 50,000 users must not need 70 MB to publish.
 */
struct iis {
	struct sbuf	 b;
	struct afile	 f;
};

static int
iis_flush(struct iis *m)
{
	int rc;

	if (m->b.oom)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = afile_write(&m->f, m->b.p != NULL ? m->b.p : "", m->b.len);
	m->b.len = 0;
	return rc;
}

static int
iis_cb(const struct store_cert *c, void *arg)
{
	struct iis *m = arg;
	char *b64;
	char when[32];
	int n;

	if (c->der == NULL || c->username == NULL)
		return 0;
	if ((b64 = malloc((c->derlen + 2) / 3 * 4 + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	n = EVP_EncodeBlock((unsigned char *)b64, c->der, (int)c->derlen);
	b64[n] = '\0';
	uc_time_iso(c->not_after, when, sizeof(when));
	/* Usernames are [A-Za-z0-9._@-]: nothing to quote. */
	sb_printf(&m->b, "%s,%s,%s,%s\n", c->username, c->serial, when, b64);
	free(b64);
	return m->b.len >= 65536 || m->b.oom ? iis_flush(m) : 0;
}

static int
write_iis(struct authority *a)
{
	struct store_cert_filter f;
	struct iis m;
	char *path;
	int rc;

	memset(&m, 0, sizeof(m));
	memset(&f, 0, sizeof(f));
	f.kind = "user";
	f.status = "valid";
	f.now = uc_now();
	f.with_der = 1;
	if ((path = path_join(a->home, "public/gateway/iis-mappings.csv")) ==
	    NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = afile_open(&m.f, path, 0644);
	free(path);
	if (rc != UC_OK)
		return rc;
	sb_printf(&m.b, "username,serial,not_after,certificate\n");
	if ((rc = store_cert_list(a->st, &f, iis_cb, &m)) == UC_OK &&
	    (rc = iis_flush(&m)) == UC_OK)
		rc = afile_commit(&m.f);
	/* A failed write or commit gave up the file already; not the rest. */
	if (rc != UC_OK && m.f.fd != -1)
		afile_abort(&m.f);
	free(m.b.p);
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
	    (rc = write_powershell(a)) != UC_OK || (rc = write_iis(a)) != UC_OK)
		return rc;
	return UC_OK;
}
