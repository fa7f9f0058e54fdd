/*
 * adsid.c: Active Directory strong certificate mapping (KB5014754).
 *
 * The SID extension szOID_NTDS_CA_SECURITY_EXT (1.3.6.1.4.1.311.25.2), as
 * AD CS writes it, is GeneralNames holding one otherName whose type is
 * 1.3.6.1.4.1.311.25.2.1 and whose value is the SID's string form as an
 * OCTET STRING:
 *
 *   SEQUENCE { [0] { OID 1.3.6.1.4.1.311.25.2.1, [0] { OCTET STRING } } }
 *
 * and the altSecurityIdentities strings an AD admin sets on the account
 * instead (or as well).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define OID_NTDS_CA_SECURITY_EXT	"1.3.6.1.4.1.311.25.2"
#define OID_NTDS_OBJECTSID		"1.3.6.1.4.1.311.25.2.1"
#define SID_MAX_SUBAUTH			15

/* One decimal number <= max, no leading zero; returns its end. */
static const char *
dec(const char *p, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *s = p;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > max || p - s > 20)
			return NULL;
	}
	*out = v;
	return p;
}

int
sid_valid(const char *sid)
{
	unsigned long long v;
	const char *p;
	int n = 0;

	if (sid == NULL || strncmp(sid, "S-1-", 4) != 0 || strlen(sid) > 184)
		return 0;
	/* Identifier authority: 48 bits. */
	if ((p = dec(sid + 4, 0xffffffffffffULL, &v)) == NULL)
		return 0;
	while (*p == '-') {
		if (++n > SID_MAX_SUBAUTH ||
		    (p = dec(p + 1, 0xffffffffULL, &v)) == NULL)
			return 0;
	}
	return *p == '\0' && n >= 1;
}

int
adsid_ext_add(X509 *x, const char *sid)
{
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *g = NULL;
	ASN1_OBJECT *oid = NULL, *extoid = NULL;
	ASN1_TYPE *val = NULL;
	ASN1_OCTET_STRING *os = NULL, *extval = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int len, ok = 0;

	if (!sid_valid(sid))
		return 0;
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL ||
	    (g = GENERAL_NAME_new()) == NULL ||
	    (oid = OBJ_txt2obj(OID_NTDS_OBJECTSID, 1)) == NULL ||
	    (val = ASN1_TYPE_new()) == NULL ||
	    (os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, (const unsigned char *)sid,
	    (int)strlen(sid)))
		goto out;
	ASN1_TYPE_set(val, V_ASN1_OCTET_STRING, os);
	os = NULL;	/* now owned by val */
	if (!GENERAL_NAME_set0_othername(g, oid, val))
		goto out;
	oid = NULL;	/* now owned by g */
	val = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto out;
	g = NULL;	/* now owned by gens */
	if ((len = i2d_GENERAL_NAMES(gens, &der)) <= 0)
		goto out;
	if ((extoid = OBJ_txt2obj(OID_NTDS_CA_SECURITY_EXT, 1)) == NULL ||
	    (extval = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(extval, der, len) ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, extoid, 0, extval)) ==
	    NULL)
		goto out;
	ok = X509_add_ext(x, ext, -1) == 1;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(extval);
	ASN1_OBJECT_free(extoid);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(os);
	ASN1_TYPE_free(val);
	ASN1_OBJECT_free(oid);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return ok;
}

int
adsid_san_url(const char *sid, char *buf, size_t len)
{
	int n;

	if (!sid_valid(sid))
		return 0;
	n = snprintf(buf, len, "tag:microsoft.com,2022-09-14:sid:%s", sid);
	return n > 0 && (size_t)n < len;
}

/*
 * The issuer in X.500 order (most significant RDN first, as AD writes
 * it: "DC=com,DC=contoso,CN=CA"), RFC 2253 escaping.
 */
static char *
issuer_forward(X509 *x)
{
	BIO *b = NULL;
	BUF_MEM *bm;
	char *s = NULL;
	unsigned long flags = (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV);

	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, flags) < 0)
		goto out;
	BIO_get_mem_ptr(b, &bm);
	if ((s = malloc(bm->length + 1)) == NULL)
		goto out;
	memcpy(s, bm->data, bm->length);
	s[bm->length] = '\0';
out:
	BIO_free(b);
	return s;
}

int
altsecid_strings(X509 *x, char **issuer_serial, char **sha1_pukey)
{
	const ASN1_INTEGER *sn;
	const unsigned char *sp;
	unsigned char md[EVP_MAX_MD_SIZE], *rev = NULL;
	unsigned int mdlen;
	char *issuer = NULL, *srhex = NULL, *khex = NULL;
	size_t n, i, need;
	int rc = UC_E_INTERNAL;

	*issuer_serial = *sha1_pukey = NULL;
	sn = X509_get0_serialNumber(x);
	if ((n = (size_t)ASN1_STRING_length(sn)) == 0 || n > 20 ||
	    (sp = ASN1_STRING_get0_data(sn)) == NULL)
		return uc_seterr(UC_E_INVALID, "certificate serial is empty or "
		    "too long");
	/* AD compares the serial as Windows stores it: little-endian. */
	if ((rev = malloc(n)) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		rev[i] = sp[n - 1 - i];
	/* SHA-1 of the subjectPublicKey BIT STRING's value (RFC 5280 4.2.1.2). */
	if (!X509_pubkey_digest(x, EVP_sha1(), md, &mdlen))
		goto out;
	if ((issuer = issuer_forward(x)) == NULL ||
	    (srhex = hex_encode(rev, n)) == NULL ||
	    (khex = hex_encode(md, mdlen)) == NULL)
		goto out;
	need = strlen("X509:<I>") + strlen(issuer) + strlen("<SR>") +
	    strlen(srhex) + 1;
	if ((*issuer_serial = malloc(need)) == NULL)
		goto out;
	snprintf(*issuer_serial, need, "X509:<I>%s<SR>%s", issuer, srhex);
	need = strlen("X509:<SHA1-PUKEY>") + strlen(khex) + 1;
	if ((*sha1_pukey = malloc(need)) == NULL)
		goto out;
	snprintf(*sha1_pukey, need, "X509:<SHA1-PUKEY>%s", khex);
	rc = UC_OK;
out:
	if (rc != UC_OK) {
		free(*issuer_serial);
		*issuer_serial = NULL;
		rc = uc_seterr(rc, "out of memory");
	}
	free(rev);
	free(issuer);
	free(srhex);
	free(khex);
	return rc;
}
