/*
 * p12.c: PKCS#12 bundles that devices can import.
 *
 * modern: PBES2 (AES-256-CBC, PBKDF2-HMAC-SHA256) for key and certs,
 *         HMAC-SHA256 MAC.
 * legacy: pbeWithSHAAnd3-KeyTripleDES-CBC for key and certs, HMAC-SHA1 MAC,
 *         for clients that cannot read AES PKCS#12 (older Windows, iOS,
 *         Android).  Never RC2-40: OpenSSL 3 cannot read it back without
 *         the legacy provider.
 */
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "pki.h"

#define P12_ITER	PKCS12_DEFAULT_ITER

int
p12_format_parse(const char *s, enum p12_format *out)
{
	if (strcasecmp(s, "modern") == 0)
		*out = P12_MODERN;
	else if (strcasecmp(s, "legacy") == 0)
		*out = P12_LEGACY;
	else
		return uc_seterr(UC_E_INVALID, "unknown PKCS#12 format '%.40s' "
		    "(modern or legacy)", s);
	return UC_OK;
}

const char *
p12_format_name(enum p12_format f)
{
	return f == P12_LEGACY ? "legacy" : "modern";
}

int
p12_check(const unsigned char *der, size_t len, const char *pass, X509 *cert)
{
	const unsigned char *p = der;
	PKCS12 *p12 = NULL;
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	STACK_OF(X509) *ca = NULL;
	int rc;

	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = uc_seterr_ssl(UC_E_INVALID, "not a PKCS#12 file");
		goto out;
	}
	if (!PKCS12_verify_mac(p12, pass, -1)) {
		ERR_clear_error();
		rc = uc_seterr(UC_E_PASSPHRASE, "the PKCS#12 password is wrong");
		goto out;
	}
	if (!PKCS12_parse(p12, pass, &k, &c, &ca) || k == NULL || c == NULL) {
		rc = uc_seterr_ssl(UC_E_INVALID, "the PKCS#12 file does not "
		    "open");
		goto out;
	}
	if (X509_cmp(c, cert) != 0 || X509_check_private_key(c, k) != 1) {
		rc = uc_seterr_ssl(UC_E_INVALID, "the PKCS#12 file does not "
		    "hold the expected certificate and key");
		goto out;
	}
	rc = UC_OK;
out:
	PKCS12_free(p12);
	EVP_PKEY_free(k);
	X509_free(c);
	sk_X509_pop_free(ca, X509_free);
	return rc;
}

int
p12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *friendly, const char *pass, enum p12_format f,
    unsigned char **der, size_t *len)
{
	PKCS12 *p12 = NULL;
	unsigned char *buf = NULL;
	int nid, n = 0, rc = UC_E_CRYPTO;
	const EVP_MD *mac;

	*der = NULL;
	if (f == P12_LEGACY) {
		nid = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
		mac = EVP_sha1();
	} else {
		nid = NID_aes_256_cbc;
		mac = EVP_sha256();
	}
	/* mac_iter -1: no MAC here, we set it below with our digest. */
	if ((p12 = PKCS12_create_ex(pass, friendly, key, cert, chain, nid, nid,
	    P12_ITER, -1, 0, NULL, NULL)) == NULL ||
	    !PKCS12_set_mac(p12, pass, -1, NULL, 0, P12_ITER, mac)) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "building the PKCS#12 file");
		goto out;
	}
	if ((n = i2d_PKCS12(p12, &buf)) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding the PKCS#12 file");
		goto out;
	}
	/* Read it back: a file that does not open must never be handed out. */
	if ((rc = p12_check(buf, (size_t)n, pass, cert)) != UC_OK) {
		rc = uc_errprefix(UC_E_CRYPTO, "PKCS#12 read-back check");
		goto out;
	}
	*der = buf;
	*len = (size_t)n;
	buf = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)n);
		OPENSSL_free(buf);
	}
	PKCS12_free(p12);
	return rc;
}
