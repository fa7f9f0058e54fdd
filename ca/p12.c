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

/*
 * The read-back after building, without the full parse: the MAC is
 * checked once, the key bag decrypted and compared with the key's own
 * PKCS#8, the certificate bags decrypted and the leaf found by its DER.
 * Everything a device will do with the password is done; what is skipped
 * is decoding objects we just encoded (60% of the cost of PKCS12_parse).
 */
static int
p12_readback(const unsigned char *der, size_t len, const char *pass,
    EVP_PKEY *key, X509 *cert)
{
	const unsigned char *p = der;
	PKCS12 *p12 = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	PKCS8_PRIV_KEY_INFO *want = NULL, *got = NULL;
	X509 *x = NULL;
	unsigned char *wder = NULL, *gder = NULL;
	int wlen = 0, glen = 0, i, j, key_ok = 0, cert_ok = 0, rc;

	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = uc_seterr_ssl(UC_E_INVALID, "not a PKCS#12 file");
		goto out;
	}
	if (!PKCS12_verify_mac(p12, pass, -1)) {
		rc = uc_seterr_ssl(UC_E_PASSPHRASE, "the PKCS#12 MAC does not "
		    "verify with the password");
		goto out;
	}
	if ((want = EVP_PKEY2PKCS8(key)) == NULL ||
	    (wlen = i2d_PKCS8_PRIV_KEY_INFO(want, &wder)) <= 0 ||
	    (safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "PKCS#12 read-back");
		goto out;
	}
	for (i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);

		switch (OBJ_obj2nid(p7->type)) {
		case NID_pkcs7_data:
			bags = PKCS12_unpack_p7data(p7);
			break;
		case NID_pkcs7_encrypted:
			bags = PKCS12_unpack_p7encdata(p7, pass, -1);
			break;
		default:
			bags = NULL;
			break;
		}
		if (bags == NULL) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "PKCS#12 read-back: a "
			    "safe does not open");
			goto out;
		}
		for (j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);

			switch (PKCS12_SAFEBAG_get_nid(bag)) {
			case NID_pkcs8ShroudedKeyBag:
				PKCS8_PRIV_KEY_INFO_free(got);
				if (gder != NULL) {
					OPENSSL_cleanse(gder, (size_t)glen);
					OPENSSL_free(gder);
				}
				gder = NULL;
				glen = 0;
				if ((got = PKCS12_decrypt_skey(bag, pass,
				    -1)) != NULL && (glen =
				    i2d_PKCS8_PRIV_KEY_INFO(got, &gder)) ==
				    wlen && memcmp(gder, wder, (size_t)wlen) ==
				    0)
					key_ok = 1;
				break;
			case NID_certBag:
				/* Only the leaf carries the key's localKeyID. */
				if (cert_ok || PKCS12_get_attr_gen(
				    PKCS12_SAFEBAG_get0_attrs(bag),
				    NID_localKeyID) == NULL)
					break;
				if ((x = PKCS12_SAFEBAG_get1_cert(bag)) !=
				    NULL && X509_cmp(x, cert) == 0)
					cert_ok = 1;
				X509_free(x);
				x = NULL;
				break;
			default:
				break;
			}
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		bags = NULL;
	}
	if (!key_ok || !cert_ok) {
		rc = uc_seterr(UC_E_INVALID, "the PKCS#12 file does not hold "
		    "the %s", !key_ok ? "key" : "certificate");
		goto out;
	}
	ERR_clear_error();
	rc = UC_OK;
out:
	if (wder != NULL) {
		OPENSSL_cleanse(wder, (size_t)wlen);
		OPENSSL_free(wder);
	}
	if (gder != NULL) {
		OPENSSL_cleanse(gder, (size_t)glen);
		OPENSSL_free(gder);
	}
	PKCS8_PRIV_KEY_INFO_free(want);
	PKCS8_PRIV_KEY_INFO_free(got);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
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
	if ((rc = p12_readback(buf, (size_t)n, pass, key, cert)) != UC_OK) {
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
