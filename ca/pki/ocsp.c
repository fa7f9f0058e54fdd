/*
 * ocsp.c: OCSP requests and responses (RFC 6960, and the RFC 5019
 * lightweight profile for caches), and the delegated responder's
 * certificate template.  What a certificate's status is comes from the
 * caller; this file only speaks the protocol.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "pki_ocsp.h"

/* The hashes we accept in a CertID: SHA-1 (most clients) and SHA-2. */
static const EVP_MD *
certid_md(const ASN1_OBJECT *alg, int *nid)
{
	*nid = OBJ_obj2nid(alg);
	switch (*nid) {
	case NID_sha1:
		return EVP_sha1();
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* 1 if the CertID's issuer hashes are those of issuer under md. */
static int
issuer_match(X509 *issuer, const EVP_MD *md, const ASN1_OCTET_STRING *nh,
    const ASN1_OCTET_STRING *kh)
{
	unsigned char name[EVP_MAX_MD_SIZE], key[EVP_MAX_MD_SIZE];
	unsigned int nlen, klen;

	if (!X509_NAME_digest(X509_get_subject_name(issuer), md, name,
	    &nlen) || !X509_pubkey_digest(issuer, md, key, &klen))
		return 0;
	return ASN1_STRING_length(nh) == (int)nlen &&
	    ASN1_STRING_length(kh) == (int)klen &&
	    CRYPTO_memcmp(ASN1_STRING_get0_data(nh), name, nlen) == 0 &&
	    CRYPTO_memcmp(ASN1_STRING_get0_data(kh), key, klen) == 0;
}

/* Upper-case hex of a positive serial of at most 20 octets into out. */
static void
serial_of(const ASN1_INTEGER *s, char *out, size_t outlen)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;

	out[0] = '\0';
	if (s == NULL || ASN1_STRING_type(s) != V_ASN1_INTEGER ||
	    ASN1_STRING_length(s) < 1 || ASN1_STRING_length(s) > 21 ||
	    (bn = ASN1_INTEGER_to_BN(s, NULL)) == NULL)
		goto out;
	if (BN_is_zero(bn) || BN_is_negative(bn) || BN_num_bytes(bn) > 20)
		goto out;
	if ((hex = BN_bn2hex(bn)) != NULL && strlen(hex) < outlen)
		memcpy(out, hex, strlen(hex) + 1);
out:
	OPENSSL_free(hex);
	BN_free(bn);
}

int
ocsp_request_parse(const unsigned char *buf, size_t len, X509 *issuer,
    OCSP_REQUEST **out, struct ocsp_query **qout, size_t *nout, int *nonce)
{
	const unsigned char *p = buf;
	OCSP_REQUEST *req = NULL;
	OCSP_ONEREQ *one;
	OCSP_CERTID *cid;
	ASN1_OCTET_STRING *nh, *kh;
	ASN1_OBJECT *alg;
	ASN1_INTEGER *serial;
	struct ocsp_query *q = NULL;
	const EVP_MD *md;
	int i, n, rc = UC_E_INVALID;

	*out = NULL;
	*qout = NULL;
	*nout = 0;
	*nonce = 0;
	if (len == 0 || len > OCSP_REQ_MAX) {
		rc = uc_seterr(UC_E_INVALID, "OCSP request of %zu bytes "
		    "(1 to %d)", len, OCSP_REQ_MAX);
		goto out;
	}
	if ((req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL) {
		rc = uc_seterr_ssl(UC_E_INVALID, "not a DER OCSP request");
		goto out;
	}
	if (p != buf + len) {
		rc = uc_seterr(UC_E_INVALID, "trailing data after the OCSP "
		    "request");
		goto out;
	}
	n = OCSP_request_onereq_count(req);
	if (n < 1 || n > OCSP_IDS_MAX) {
		rc = uc_seterr(UC_E_INVALID, "OCSP request with %d "
		    "certificates (1 to %d)", n, OCSP_IDS_MAX);
		goto out;
	}
	if ((q = calloc((size_t)n, sizeof(*q))) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((one = OCSP_request_onereq_get0(req, i)) == NULL ||
		    (cid = OCSP_onereq_get0_id(one)) == NULL ||
		    !OCSP_id_get0_info(&nh, &alg, &kh, &serial, cid) ||
		    nh == NULL || alg == NULL || kh == NULL) {
			rc = uc_seterr(UC_E_INVALID, "OCSP request: CertID %d "
			    "is incomplete", i);
			goto out;
		}
		if ((md = certid_md(alg, &q[i].md_nid)) == NULL) {
			rc = uc_seterr(UC_E_INVALID, "OCSP request: CertID %d "
			    "is hashed with an algorithm we do not take", i);
			goto out;
		}
		q[i].ours = issuer_match(issuer, md, nh, kh);
		serial_of(serial, q[i].serial, sizeof(q[i].serial));
	}
	*nonce = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1)
	    >= 0;
	*out = req;
	req = NULL;	/* now owned by the caller */
	*qout = q;
	q = NULL;	/* now owned by the caller */
	*nout = (size_t)n;
	rc = UC_OK;
out:
	ERR_clear_error();
	OCSP_REQUEST_free(req);
	free(q);
	return rc;
}

static int
response_der(OCSP_RESPONSE *resp, unsigned char **der, size_t *len)
{
	unsigned char *obuf = NULL;
	int n;

	n = i2d_OCSP_RESPONSE(resp, &obuf);
	return ossl_take(obuf, n, 0, der, len, "an OCSP response");
}

int
ocsp_response_error(int status, unsigned char **der, size_t *len)
{
	OCSP_RESPONSE *resp;
	int rc;

	*der = NULL;
	if (status == OCSP_RESPONSE_STATUS_SUCCESSFUL)
		return uc_seterr(UC_E_INVALID, "an OCSP error response needs "
		    "an error status");
	if ((resp = OCSP_response_create(status, NULL)) == NULL)
		return uc_seterr_ssl(UC_E_CRYPTO, "OCSP error response");
	rc = response_der(resp, der, len);
	OCSP_RESPONSE_free(resp);
	return rc;
}

int
ocsp_response_sign(OCSP_REQUEST *req, const struct ocsp_status *st, size_t n,
    struct signer *responder, X509 *extra, int64_t this_update,
    int64_t next_update, unsigned char **der, size_t *len)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_CERTID *cid;
	ASN1_TIME *tu = NULL, *nu = NULL, *rt = NULL;
	STACK_OF(X509) *certs = NULL;
	size_t i;
	int rc = UC_E_CRYPTO;

	*der = NULL;
	if (n != (size_t)OCSP_request_onereq_count(req))
		return uc_seterr(UC_E_INTERNAL, "OCSP: %zu statuses for %d "
		    "CertIDs", n, OCSP_request_onereq_count(req));
	if ((bs = OCSP_BASICRESP_new()) == NULL ||
	    (tu = ASN1_GENERALIZEDTIME_set(NULL, (time_t)this_update)) ==
	    NULL || (next_update != 0 && (nu = ASN1_GENERALIZEDTIME_set(NULL,
	    (time_t)next_update)) == NULL))
		goto fail;
	for (i = 0; i < n; i++) {
		cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req,
		    (int)i));
		ASN1_TIME_free(rt);
		rt = NULL;
		if (st[i].status == V_OCSP_CERTSTATUS_REVOKED &&
		    (rt = ASN1_GENERALIZEDTIME_set(NULL,
		    (time_t)st[i].revoked_at)) == NULL)
			goto fail;
		/* "unspecified" is said by leaving the reason out. */
		if (OCSP_basic_add1_status(bs, cid, st[i].status,
		    st[i].status == V_OCSP_CERTSTATUS_REVOKED &&
		    st[i].reason > 0 ? st[i].reason : -1, rt, tu, nu) == NULL)
			goto fail;
	}
	/* 1: the nonce copied when the request has one; 2: it has none. */
	if (OCSP_copy_nonce(bs, req) <= 0)
		goto fail;
	if (extra != NULL) {
		if ((certs = sk_X509_new_null()) == NULL ||
		    !sk_X509_push(certs, extra))
			goto fail;
	}
	if ((rc = signer_sign_ocsp(responder, bs, certs)) != UC_OK)
		goto out;
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
	    bs)) == NULL)
		goto fail;
	rc = response_der(resp, der, len);
	goto out;
fail:
	rc = uc_seterr_ssl(UC_E_CRYPTO, "building an OCSP response");
out:
	sk_X509_free(certs);	/* extra is borrowed */
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(rt);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return rc;
}

static int
ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

int
ocsp_responder_build(X509 *issuer, EVP_PKEY *pub, const char *org,
    const char *cn, int64_t not_before, int64_t not_after, X509 **out)
{
	return pki_delegate_build(issuer, pub, org, cn, not_before, not_after,
	    "critical,digitalSignature", "OCSPSigning", 1, out);
}

int
pki_delegate_build(X509 *issuer, EVP_PKEY *pub, const char *org,
    const char *cn, int64_t not_before, int64_t not_after, const char *ku,
    const char *eku, int nocheck, X509 **out)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_NULL *null = NULL;
	X509V3_CTX ctx;
	int64_t iss_after;
	int rc = UC_E_CRYPTO;

	*out = NULL;
	if (uc_asn1_time(X509_get0_notAfter(issuer), &iss_after) != UC_OK)
		return uc_seterr(UC_E_INVALID, "the issuing CA's notAfter");
	if (not_after > iss_after)
		not_after = iss_after;
	if (not_after <= not_before)
		return uc_seterr(UC_E_STATE, "the issuing CA expires before "
		    "'%s' could be valid", cn);
	if ((rc = serial_random(&serial)) != UC_OK)
		return rc;
	rc = UC_E_CRYPTO;
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_serialNumber(x, serial) ||
	    (name = X509_NAME_new()) == NULL ||
	    (org != NULL && !X509_NAME_add_entry_by_txt(name, "O",
	    MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0)) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer)) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) ==
	    NULL || ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) ==
	    NULL || !X509_set_pubkey(x, pub))
		goto fail;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if (!ext_add(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !ext_add(x, &ctx, NID_key_usage, ku) ||
	    (eku != NULL && !ext_add(x, &ctx, NID_ext_key_usage, eku)) ||
	    !ext_add(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !ext_add(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto fail;
	/* id-pkix-ocsp-nocheck: NULL (RFC 6960 4.2.2.2.1). */
	if (nocheck && ((null = ASN1_NULL_new()) == NULL ||
	    !X509_add1_ext_i2d(x, NID_id_pkix_OCSP_noCheck, null, 0, 0)))
		goto fail;
	*out = x;
	x = NULL;	/* now owned by the caller */
	rc = UC_OK;
	goto out;
fail:
	rc = uc_seterr_ssl(UC_E_CRYPTO, "building the certificate '%s'", cn);
out:
	ASN1_NULL_free(null);
	ASN1_INTEGER_free(serial);
	X509_NAME_free(name);
	X509_free(x);
	return rc;
}
