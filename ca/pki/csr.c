/*
 * csr.c: PKCS#10 requests from untrusted sources.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "pki_int.h"

#define CSR_MAX	(64 * 1024)

int
csr_parse(const unsigned char *buf, size_t len, X509_REQ **out)
{
	const unsigned char *p = buf;
	X509_REQ *req = NULL;
	BIO *bio = NULL;

	*out = NULL;
	if (len == 0)
		return uc_seterr(UC_E_INVALID, "the CSR is empty");
	if (len > CSR_MAX)
		return uc_seterr(UC_E_INVALID, "the CSR is larger than %d "
		    "bytes", CSR_MAX);
	if (buf[0] == 0x30) {
		req = d2i_X509_REQ(NULL, &p, (long)len);
		if (req != NULL && p != buf + len) {
			X509_REQ_free(req);
			return uc_seterr(UC_E_INVALID, "trailing data after "
			    "the DER CSR");
		}
	} else if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (req == NULL)
		return uc_seterr_ssl(UC_E_INVALID, "not a PEM or DER PKCS#10 "
		    "certificate request");
	*out = req;
	return UC_OK;
}

/*
 * What the request's SubjectPublicKeyInfo may hold besides the key itself.
 * EC: a named curve (explicit parameters matching P-256 decode as P-256);
 * the point may be in any form, cert_build() re-encodes it uncompressed.
 * RSA: NULL or absent parameters (cert_build() writes NULL) and exactly
 * the DER of the key's numbers: no trailing bytes, no padded integers.
 * The self-signature covers these bytes, but says nothing about them.
 */
static int
spki_check(X509_PUBKEY *xpk, const EVP_PKEY *k)
{
	ASN1_OBJECT *alg;
	const ASN1_OBJECT *pobj;
	const unsigned char *pk;
	const void *pval;
	X509_ALGOR *pa;
	unsigned char *der = NULL;
	size_t dlen;
	int pklen, ptype, rc;

	if (!X509_PUBKEY_get0_param(&alg, &pk, &pklen, &pa, xpk) ||
	    pklen <= 0)
		return uc_seterr_ssl(UC_E_INVALID, "the CSR's public key "
		    "cannot be read");
	X509_ALGOR_get0(&pobj, &ptype, &pval, pa);
	if (EVP_PKEY_is_a(k, "EC")) {
		if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey ||
		    ptype != V_ASN1_OBJECT)
			return uc_seterr(UC_E_POLICY, "the CSR's EC key has "
			    "explicit curve parameters (only named curves are "
			    "allowed)");
		return UC_OK;
	}
	if (!EVP_PKEY_is_a(k, "RSA"))
		return UC_OK;	/* key_check_public() decides */
	if (OBJ_obj2nid(alg) != NID_rsaEncryption)
		return uc_seterr(UC_E_POLICY, "the CSR's RSA key is not "
		    "rsaEncryption");
	if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		return uc_seterr(UC_E_INVALID, "the CSR's RSA key has "
		    "parameters other than NULL");
	if ((rc = key_rsa_pub_der(k, &der, &dlen)) != UC_OK)
		return rc;
	if (dlen != (size_t)pklen || memcmp(der, pk, dlen) != 0)
		rc = uc_seterr(UC_E_INVALID, "the CSR's RSA key is not DER "
		    "(padded integers or trailing bytes)");
	OPENSSL_free(der);
	return rc;
}

int
spki_parse(const unsigned char *der, size_t len, X509_PUBKEY **xpk,
    EVP_PKEY **pub)
{
	const unsigned char *p = der;
	X509_PUBKEY *x = NULL;
	EVP_PKEY *k;
	int rc;

	*xpk = NULL;
	*pub = NULL;
	if (len == 0 || len > CSR_MAX)
		return uc_seterr(UC_E_INVALID, "the public key is empty or "
		    "too large");
	if ((x = d2i_X509_PUBKEY(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		X509_PUBKEY_free(x);
		return uc_seterr_ssl(UC_E_INVALID, "not a DER "
		    "SubjectPublicKeyInfo");
	}
	if ((k = X509_PUBKEY_get(x)) == NULL) {
		X509_PUBKEY_free(x);
		return uc_seterr_ssl(UC_E_INVALID, "the public key cannot be "
		    "decoded");
	}
	if ((rc = spki_check(x, k)) != UC_OK ||
	    (rc = key_check_public(k)) != UC_OK) {
		EVP_PKEY_free(k);
		X509_PUBKEY_free(x);
		return rc;
	}
	*xpk = x;	/* now owned by the caller */
	*pub = k;	/* now owned by the caller */
	return UC_OK;
}

int
csr_check_req(const unsigned char *buf, size_t len, X509_REQ **out)
{
	X509_REQ *req = NULL;
	EVP_PKEY *k;
	int rc;

	*out = NULL;
	if ((rc = csr_parse(buf, len, &req)) != UC_OK)
		return rc;
	if ((k = X509_REQ_get0_pubkey(req)) == NULL) {
		rc = uc_seterr_ssl(UC_E_INVALID, "the CSR's public key cannot "
		    "be decoded");
		goto out;
	}
	/*
	 * The key first: a 512-bit RSA "signature" proves nothing, and one
	 * for the point at infinity can be made without any private key
	 * (u1*G + u2*O = u1*G: r = x(k*G), s = hash/k verify for any k).
	 */
	if ((rc = spki_check(X509_REQ_get_X509_PUBKEY(req), k)) != UC_OK ||
	    (rc = key_check_public(k)) != UC_OK)
		goto out;
	switch (X509_REQ_verify(req, k)) {
	case 1:
		break;
	case 0:
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the CSR's self-signature "
		    "does not verify (forged or corrupted request)");
		goto out;
	default:
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the CSR's self-signature "
		    "cannot be checked");
		goto out;
	}
	*out = req;
	req = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	X509_REQ_free(req);
	return rc;
}

int
csr_check(const unsigned char *buf, size_t len, EVP_PKEY **pub)
{
	X509_REQ *req = NULL;
	EVP_PKEY *k;
	int rc;

	*pub = NULL;
	if ((rc = csr_check_req(buf, len, &req)) != UC_OK)
		return rc;
	if ((k = X509_REQ_get0_pubkey(req)) == NULL || !EVP_PKEY_up_ref(k))
		rc = uc_seterr_ssl(UC_E_INTERNAL, "the CSR's public key");
	else
		*pub = k;
	X509_REQ_free(req);
	return rc;
}

int
csr_make(struct signer *s, const char *org, const char *cn,
    unsigned char **pem, size_t *len)
{
	X509_REQ *req = NULL;
	X509_NAME *n = NULL;
	BIO *bio = NULL;
	char *data;
	long blen;
	int rc = UC_E_CRYPTO;

	*pem = NULL;
	if ((req = X509_REQ_new()) == NULL || (n = X509_NAME_new()) == NULL ||
	    !X509_REQ_set_version(req, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)org, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(req, n)) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "building a CSR");
		goto out;
	}
	if ((rc = signer_sign_req(s, req)) != UC_OK)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(bio, req) ||
	    (blen = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*pem = malloc((size_t)blen)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding a CSR");
		goto out;
	}
	memcpy(*pem, data, (size_t)blen);
	*len = (size_t)blen;
	rc = UC_OK;
out:
	BIO_free(bio);
	X509_NAME_free(n);
	X509_REQ_free(req);
	return rc;
}
