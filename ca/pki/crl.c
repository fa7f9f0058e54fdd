/*
 * crl.c: version 2 CRLs (RFC 5280 section 5).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define CRL_MAX	(64 * 1024 * 1024)

static const char *const reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
};
#define NREASONS	(int)(sizeof(reasons) / sizeof(reasons[0]))

int
crl_reason_parse(const char *s, int *code)
{
	int i;

	for (i = 0; i < NREASONS; i++) {
		/* removeFromCRL only makes sense in delta CRLs. */
		if (reasons[i] != NULL && i != 8 &&
		    strcasecmp(reasons[i], s) == 0) {
			*code = i;
			return UC_OK;
		}
	}
	return uc_seterr(UC_E_INVALID, "unknown revocation reason '%.40s' "
	    "(unspecified, keyCompromise, cACompromise, affiliationChanged, "
	    "superseded, cessationOfOperation, certificateHold, "
	    "privilegeWithdrawn, aACompromise)", s);
}

const char *
crl_reason_name(int code)
{
	if (code < 0 || code >= NREASONS || reasons[code] == NULL)
		return "none";
	return reasons[code];
}

static int
add_entry(X509_CRL *crl, const struct crl_entry *e)
{
	X509_REVOKED *r = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	BIGNUM *bn = NULL;
	int ok = 0;

	/* Whole, positive hex only: BN_hex2bn would take a prefix or "-". */
	if (e->serial == NULL || e->serial[0] == '\0' ||
	    strspn(e->serial, "0123456789abcdefABCDEF") != strlen(e->serial) ||
	    strlen(e->serial) > 40 || e->reason > 10 || e->reason == 7 ||
	    e->reason == 8)
		goto out;
	if (BN_hex2bn(&bn, e->serial) != (int)strlen(e->serial) ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (r = X509_REVOKED_new()) == NULL ||
	    !X509_REVOKED_set_serialNumber(r, serial) ||
	    (when = ASN1_TIME_set(NULL, (time_t)e->revoked_at)) == NULL ||
	    !X509_REVOKED_set_revocationDate(r, when))
		goto out;
	/* "unspecified" SHOULD be expressed by leaving the code out. */
	if (e->reason > 0) {
		if ((reason = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(reason, e->reason) ||
		    !X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0))
			goto out;
	}
	if (!X509_CRL_add0_revoked(crl, r))
		goto out;
	r = NULL;	/* now owned by crl */
	ok = 1;
out:
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	ASN1_ENUMERATED_free(reason);
	X509_REVOKED_free(r);
	return ok;
}

int
crl_build(X509 *issuer, const struct crl_entry *e, size_t n, int64_t number,
    int64_t this_update, int64_t next_update, X509_CRL **out)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	size_t i;
	int rc = UC_E_CRYPTO;

	*out = NULL;
	if (next_update <= this_update)
		return uc_seterr(UC_E_INVALID, "CRL nextUpdate must be after "
		    "thisUpdate");
	if ((crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    (t = ASN1_TIME_set(NULL, (time_t)this_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    ASN1_TIME_set(t, (time_t)next_update) == NULL ||
	    !X509_CRL_set1_nextUpdate(crl, t))
		goto fail;
	for (i = 0; i < n; i++) {
		if (!add_entry(crl, &e[i])) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "CRL entry for serial "
			    "%s", e[i].serial);
			goto out;
		}
	}
	if ((num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		goto fail;
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_authority_key_identifier, "keyid:always")) == NULL ||
	    !X509_CRL_add_ext(crl, aki, -1))
		goto fail;
	if (!X509_CRL_sort(crl))
		goto fail;
	*out = crl;
	crl = NULL;	/* now owned by the caller */
	rc = UC_OK;
	goto out;
fail:
	rc = uc_seterr_ssl(UC_E_CRYPTO, "building CRL number %lld",
	    (long long)number);
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return rc;
}

/*
 * Microsoft's Next CRL Publish (szOID_CRL_NEXT_PUBLISH): a UTCTime,
 * non-critical.  CryptoAPI fetches a new CRL from that time on, instead of
 * serving the cached one until nextUpdate.  Other verifiers ignore it.
 */
#define OID_NEXT_CRL_PUBLISH	"1.3.6.1.4.1.311.21.4"

int
crl_add_next_publish(X509_CRL *crl, int64_t when)
{
	ASN1_UTCTIME *t = NULL;
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int n, rc = UC_E_CRYPTO;

	if ((t = ASN1_UTCTIME_set(NULL, (time_t)when)) == NULL ||
	    (n = i2d_ASN1_UTCTIME(t, &der)) <= 0 ||
	    (os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, der, n) ||
	    (obj = OBJ_txt2obj(OID_NEXT_CRL_PUBLISH, 1)) == NULL ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL ||
	    !X509_CRL_add_ext(crl, ext, -1)) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "CRL Next CRL Publish "
		    "extension");
		goto out;
	}
	rc = UC_OK;
out:
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	ASN1_UTCTIME_free(t);
	return rc;
}

int
crl_der(X509_CRL *crl, unsigned char **der, size_t *len)
{
	unsigned char *obuf = NULL;
	int n;

	n = i2d_X509_CRL(crl, &obuf);
	return ossl_take(obuf, n, 0, der, len, "a CRL");
}

int
crl_to_pem(X509_CRL *crl, unsigned char **pem, size_t *len)
{
	BIO *bio;

	*pem = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return uc_seterr_ssl(UC_E_INTERNAL, "BIO_new");
	if (!PEM_write_bio_X509_CRL(bio, crl)) {
		BIO_free(bio);
		return uc_seterr_ssl(UC_E_CRYPTO, "encoding a CRL");
	}
	return ossl_bio_take(bio, pem, len, "a CRL");
}

int
crl_parse(const unsigned char *buf, size_t len, X509_CRL **out)
{
	const unsigned char *p = buf;
	X509_CRL *crl = NULL;
	BIO *bio;

	*out = NULL;
	if (len == 0 || len > CRL_MAX)
		return uc_seterr(UC_E_INVALID, "CRL is empty or too large");
	if (buf[0] == 0x30) {
		crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl != NULL && p != buf + len) {
			X509_CRL_free(crl);
			return uc_seterr(UC_E_INVALID, "trailing data after "
			    "the DER CRL");
		}
	} else if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (crl == NULL)
		return uc_seterr_ssl(UC_E_INVALID, "not a PEM or DER CRL");
	*out = crl;
	return UC_OK;
}
