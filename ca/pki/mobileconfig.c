/*
 * mobileconfig.c: Apple's identity configuration profile (an XML plist,
 * unsigned): the PKCS#12 identity (com.apple.security.pkcs12), the root
 * (com.apple.security.root) and, when an Exchange host is set, an
 * Exchange ActiveSync account (com.apple.eas.account) whose
 * PayloadCertificateUUID names the identity, so iOS Mail signs in with
 * the certificate.  Every value is XML-escaped; binary data is base64.
 * The daemon signs what it serves (mobileconfig_sign: CMS SignedData with
 * the plist inside, as `openssl smime -sign -nodetach -outform DER`).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pki.h"
#include "pki_mobileconfig.h"
#include "ucbuf.h"

/* A random (version 4) UUID, upper case as Apple writes them. */
static int
uuid_new(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) <= 0)
		return uc_seterr(UC_E_CRYPTO, "no randomness for a UUID");
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
	    "%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return UC_OK;
}

/*
 * s as XML character data: markup characters escaped; characters XML 1.0
 * does not allow (controls other than tab and newline) become '?'.
 */
static void
add_esc(struct ucbuf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			ucbuf_addstr(b, "&amp;");
			break;
		case '<':
			ucbuf_addstr(b, "&lt;");
			break;
		case '>':
			ucbuf_addstr(b, "&gt;");
			break;
		case '"':
			ucbuf_addstr(b, "&quot;");
			break;
		case '\'':
			ucbuf_addstr(b, "&apos;");
			break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n') ||
			    *p == 0x7f)
				ucbuf_addstr(b, "?");
			else
				ucbuf_add(b, p, 1);
			break;
		}
	}
}

static void
kv_str(struct ucbuf *b, const char *ind, const char *key, const char *val)
{
	ucbuf_printf(b, "%s<key>", ind);
	add_esc(b, key);
	ucbuf_addstr(b, "</key>\n");
	ucbuf_printf(b, "%s<string>", ind);
	add_esc(b, val);
	ucbuf_addstr(b, "</string>\n");
}

static void
kv_int(struct ucbuf *b, const char *ind, const char *key, long v)
{
	ucbuf_printf(b, "%s<key>%s</key>\n%s<integer>%ld</integer>\n", ind,
	    key, ind, v);
}

static void
kv_bool(struct ucbuf *b, const char *ind, const char *key, int v)
{
	ucbuf_printf(b, "%s<key>%s</key>\n%s<%s/>\n", ind, key, ind,
	    v ? "true" : "false");
}

/* <data> in lines of 64 base64 characters. */
static int
kv_data(struct ucbuf *b, const char *ind, const char *key,
    const unsigned char *d, size_t len)
{
	char *b64;
	size_t n, i;
	int rc;

	if (len > 16 * 1024 * 1024)
		return uc_seterr(UC_E_INVALID, "profile data too large");
	if ((b64 = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	n = (size_t)EVP_EncodeBlock((unsigned char *)b64, d, (int)len);
	ucbuf_printf(b, "%s<key>%s</key>\n%s<data>\n", ind, key, ind);
	for (i = 0; i < n; i += 64)
		ucbuf_printf(b, "%s%.*s\n", ind, (int)(n - i < 64 ? n - i :
		    64), b64 + i);
	rc = ucbuf_printf(b, "%s</data>\n", ind);
	OPENSSL_cleanse(b64, n);
	free(b64);
	return rc;
}

/* Letters, digits, '-' and '.' for a reverse-DNS identifier. */
static void
add_ident(struct ucbuf *b, const char *s)
{
	const unsigned char *p;
	char c;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		c = (char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			c = '-';
		ucbuf_add(b, &c, 1);
	}
}

static void
payload_head(struct ucbuf *b, const struct mobileconfig *mc,
    const char *type, const char *suffix, const char *uuid,
    const char *name, const char *desc)
{
	const char *ind = "\t\t\t";

	kv_str(b, ind, "PayloadType", type);
	kv_int(b, ind, "PayloadVersion", 1);
	ucbuf_printf(b, "%s<key>PayloadIdentifier</key>\n%s<string>", ind,
	    ind);
	ucbuf_addstr(b, "userca.identity.");
	add_ident(b, mc->username);
	ucbuf_printf(b, ".%s</string>\n", suffix);
	kv_str(b, ind, "PayloadUUID", uuid);
	kv_str(b, ind, "PayloadDisplayName", name);
	kv_str(b, ind, "PayloadDescription", desc);
}

static void
doc_head(struct ucbuf *b)
{
	ucbuf_addstr(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	    "<plist version=\"1.0\">\n<dict>\n"
	    "\t<key>PayloadContent</key>\n\t<array>\n");
}

/* com.apple.security.root */
static int
root_payload(struct ucbuf *b, const struct mobileconfig *mc, const char *uuid)
{
	char name[512];
	int rc;

	ucbuf_addstr(b, "\t\t<dict>\n");
	snprintf(name, sizeof(name), "%s", mc->root_name != NULL ?
	    mc->root_name : "Root CA");
	payload_head(b, mc, "com.apple.security.root", "root", uuid, name,
	    "The certificate authority that issued your certificate");
	kv_str(b, "\t\t\t", "PayloadCertificateFileName", "root.cer");
	if ((rc = kv_data(b, "\t\t\t", "PayloadContent", mc->root_der,
	    mc->root_len)) != UC_OK)
		return rc;
	ucbuf_addstr(b, "\t\t</dict>\n");
	return UC_OK;
}

/* com.apple.eas.account signing in with the identity payload cert. */
static void
eas_payload(struct ucbuf *b, const struct mobileconfig *mc,
    const char *uuid, const char *cert)
{
	const char *ind = "\t\t\t";

	ucbuf_addstr(b, "\t\t<dict>\n");
	payload_head(b, mc, "com.apple.eas.account", "eas", uuid, "Exchange",
	    "Your mail, signed in with your certificate");
	kv_str(b, ind, "Host", mc->eas_host);
	kv_bool(b, ind, "SSL", 1);
	if (mc->eas_user != NULL)
		kv_str(b, ind, "UserName", mc->eas_user);
	if (mc->eas_email != NULL)
		kv_str(b, ind, "EmailAddress", mc->eas_email);
	kv_str(b, ind, "PayloadCertificateUUID", cert);
	ucbuf_addstr(b, "\t\t</dict>\n");
}

/* The profile's own keys, and the end of the document. */
static void
doc_tail(struct ucbuf *b, const struct mobileconfig *mc, const char *top,
    const char *desc)
{
	const char *ind = "\t";
	char name[512];

	ucbuf_addstr(b, "\t</array>\n");
	snprintf(name, sizeof(name), "%s%scertificate for %s",
	    mc->org != NULL ? mc->org : "", mc->org != NULL ? " " : "",
	    mc->username);
	kv_str(b, ind, "PayloadDisplayName", name);
	kv_str(b, ind, "PayloadDescription", desc);
	ucbuf_addstr(b, "\t<key>PayloadIdentifier</key>\n\t<string>"
	    "userca.identity.");
	add_ident(b, mc->username);
	ucbuf_addstr(b, "</string>\n");
	if (mc->org != NULL)
		kv_str(b, ind, "PayloadOrganization", mc->org);
	kv_bool(b, ind, "PayloadRemovalDisallowed", 0);
	kv_str(b, ind, "PayloadType", "Configuration");
	kv_str(b, ind, "PayloadUUID", top);
	kv_int(b, ind, "PayloadVersion", 1);
	ucbuf_addstr(b, "</dict>\n</plist>\n");
}

/* com.apple.security.pkcs12: the identity with its key. */
static int
identity_payload(struct ucbuf *b, const struct mobileconfig *mc,
    const char *uuid)
{
	const char *ind = "\t\t\t";
	char name[512];
	int rc;

	if (mc->p12 == NULL)
		return uc_seterr(UC_E_INVALID, "profile: missing identity");
	ucbuf_addstr(b, "\t\t<dict>\n");
	snprintf(name, sizeof(name), "Certificate of %s", mc->username);
	payload_head(b, mc, "com.apple.security.pkcs12", "pkcs12", uuid, name,
	    "Your client certificate and its key");
	kv_str(b, ind, "PayloadCertificateFileName", "certificate.p12");
	if (mc->p12_password != NULL)
		kv_str(b, ind, "Password", mc->p12_password);
	if ((rc = kv_data(b, ind, "PayloadContent", mc->p12,
	    mc->p12_len)) != UC_OK)
		return rc;
	ucbuf_addstr(b, "\t\t</dict>\n");
	return UC_OK;
}

/* com.apple.security.scep: the device makes the key and asks for it. */
static int
scep_payload(struct ucbuf *b, const struct mobileconfig *mc,
    const char *uuid)
{
	const char *ind = "\t\t\t\t";
	char name[512];
	int rc;

	if (mc->scep_url == NULL || mc->scep_challenge == NULL ||
	    mc->ca_fingerprint == NULL)
		return uc_seterr(UC_E_INVALID, "profile: missing SCEP settings");
	ucbuf_addstr(b, "\t\t<dict>\n");
	snprintf(name, sizeof(name), "Certificate of %s", mc->username);
	payload_head(b, mc, "com.apple.security.scep", "scep", uuid, name,
	    "Your client certificate, its key made on this device");
	ucbuf_addstr(b, "\t\t\t<key>PayloadContent</key>\n\t\t\t<dict>\n");
	kv_str(b, ind, "URL", mc->scep_url);
	kv_str(b, ind, "Name", mc->org != NULL ? mc->org : "userca");
	ucbuf_addstr(b, "\t\t\t\t<key>Subject</key>\n\t\t\t\t<array><array>"
	    "<array><string>CN</string><string>");
	add_esc(b, mc->username);
	ucbuf_addstr(b, "</string></array></array></array>\n");
	kv_str(b, ind, "Challenge", mc->scep_challenge);
	kv_int(b, ind, "Keysize", 2048);
	kv_str(b, ind, "Key Type", "RSA");
	/* signing (1) and encryption (4) */
	kv_int(b, ind, "Key Usage", 5);
	if ((rc = kv_data(b, ind, "CAFingerprint", mc->ca_fingerprint,
	    mc->ca_fingerprint_len)) != UC_OK)
		return rc;
	ucbuf_addstr(b, "\t\t\t</dict>\n\t\t</dict>\n");
	return UC_OK;
}

/* Either profile: its certificate payload, the root, Exchange. */
static int
profile_build(const struct mobileconfig *mc, int scep, unsigned char **out,
    size_t *len)
{
	struct ucbuf b;
	char top[37], id[37], root[37], eas[37];
	int rc;

	*out = NULL;
	*len = 0;
	/* Key material or a one-time challenge: wiped as it grows. */
	ucbuf_init(&b, 0, 1);
	if (mc->username == NULL || mc->root_der == NULL)
		return uc_seterr(UC_E_INVALID, "profile: missing identity");
	if ((rc = uuid_new(top)) != UC_OK || (rc = uuid_new(id)) != UC_OK ||
	    (rc = uuid_new(root)) != UC_OK || (rc = uuid_new(eas)) != UC_OK)
		goto out;
	doc_head(&b);
	if ((rc = scep ? scep_payload(&b, mc, id) : identity_payload(&b, mc,
	    id)) != UC_OK || (rc = root_payload(&b, mc, root)) != UC_OK)
		goto out;
	if (mc->eas_host != NULL)
		eas_payload(&b, mc, eas, id);
	doc_tail(&b, mc, top, scep ? "Makes your client certificate on this "
	    "device (SCEP) and installs the certificate authority" :
	    mc->eas_host != NULL ? "Installs your client certificate, the "
	    "certificate authority and your Exchange account" : "Installs "
	    "your client certificate and the certificate authority");
	if ((rc = b.err) != UC_OK)
		goto out;
	rc = ucbuf_take(&b, out, len);
out:
	ucbuf_free(&b);
	return rc;
}

int
mobileconfig_identity(const struct mobileconfig *mc, unsigned char **out,
    size_t *len)
{
	return profile_build(mc, 0, out, len);
}

int
mobileconfig_scep(const struct mobileconfig *mc, unsigned char **out,
    size_t *len)
{
	return profile_build(mc, 1, out, len);
}

/*
 * CMS_sign() copies the content into the SignedData: wipe that copy (the
 * profile holds a challenge or a PKCS#12) before freeing it.
 */
static void
signed_free(CMS_ContentInfo *cms)
{
	ASN1_OCTET_STRING **os;

	if (cms == NULL)
		return;
	if ((os = CMS_get0_content(cms)) != NULL && *os != NULL &&
	    (*os)->data != NULL && (*os)->length > 0)
		OPENSSL_cleanse((*os)->data, (size_t)(*os)->length);
	CMS_ContentInfo_free(cms);
}

int
mobileconfig_sign(const unsigned char *plist, size_t len, X509 *cert,
    EVP_PKEY *key, STACK_OF(X509) *chain, unsigned char **out,
    size_t *outlen)
{
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	unsigned char *p;
	int n, rc;

	*out = NULL;
	*outlen = 0;
	if (len == 0 || len > INT_MAX)
		return uc_seterr(UC_E_INVALID, "no profile to sign");
	/* The plist as it is (binary), embedded; the chain after cert. */
	if ((in = BIO_new_mem_buf(plist, (int)len)) == NULL ||
	    (cms = CMS_sign(cert, key, chain, in, CMS_BINARY)) == NULL ||
	    (n = i2d_CMS_ContentInfo(cms, NULL)) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "signing the profile");
		goto out;
	}
	if ((*out = malloc((size_t)n)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	p = *out;
	if (i2d_CMS_ContentInfo(cms, &p) != n) {
		secret_free_buf(*out, (size_t)n);
		*out = NULL;
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding the signed profile");
		goto out;
	}
	*outlen = (size_t)n;
	rc = UC_OK;
out:
	signed_free(cms);
	BIO_free(in);
	return rc;
}
