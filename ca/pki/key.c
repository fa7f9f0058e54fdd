/*
 * key.c: key generation, key policy, PKCS#8 on disk.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>

#include "pki_int.h"

#define KEY_FILE_MAX	(64 * 1024)

int
key_generate(enum key_type t, EVP_PKEY **out)
{
	EVP_PKEY *k = NULL;

	switch (t) {
	case KT_RSA2048:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case KT_RSA3072:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case KT_RSA4096:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case KT_EC_P256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case KT_EC_P384:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case KT_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (k == NULL)
		return uc_seterr_ssl(UC_E_CRYPTO, "generating a %s key",
		    key_type_name(t));
	*out = k;
	return UC_OK;
}

int
key_check_policy(const EVP_PKEY *k)
{
	static const char *const curves[] = {
		"prime256v1", "P-256", "secp384r1", "P-384", "secp521r1",
		"P-521",
	};
	char group[64], enc[32];
	BIGNUM *e = NULL;
	size_t glen, i;
	int bits, rc;

	if (k == NULL)
		return uc_seterr(UC_E_INVALID, "no public key");
	bits = EVP_PKEY_get_bits(k);
	if (EVP_PKEY_is_a(k, "RSA")) {
		if (bits < 2048)
			return uc_seterr(UC_E_POLICY, "RSA key of %d bits is "
			    "too weak (at least 2048)", bits);
		if (bits > 8192)
			return uc_seterr(UC_E_POLICY, "RSA key of %d bits is "
			    "too large (at most 8192)", bits);
		if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e))
			return uc_seterr_ssl(UC_E_INVALID, "RSA key without "
			    "a public exponent");
		/* SP 800-56B: odd, 2^16 < e < 2^256. */
		if (!BN_is_odd(e))
			rc = uc_seterr(UC_E_POLICY, "RSA public exponent "
			    "must be odd");
		else if (BN_num_bits(e) < 17 || BN_num_bits(e) > 256)
			rc = uc_seterr(UC_E_POLICY, "RSA public exponent of "
			    "%d bits: it must be at least 65537 and below "
			    "2^256", BN_num_bits(e));
		else
			rc = UC_OK;
		BN_free(e);
		return rc;
	}
	if (EVP_PKEY_is_a(k, "EC")) {
		if (!EVP_PKEY_get_utf8_string_param(k,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen)) {
			ERR_clear_error();
			return uc_seterr(UC_E_POLICY, "EC key with explicit or "
			    "unnamed curve parameters");
		}
		/*
		 * Explicit parameters that happen to match a named curve
		 * decode with that curve's name: ask how they were encoded.
		 */
		if (!EVP_PKEY_get_utf8_string_param(k,
		    OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc), &glen) ||
		    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
			ERR_clear_error();
			return uc_seterr(UC_E_POLICY, "EC key with explicit "
			    "curve parameters (only named curves are allowed)");
		}
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
			if (strcmp(group, curves[i]) == 0)
				return UC_OK;
		return uc_seterr(UC_E_POLICY, "EC curve %s is not allowed "
		    "(P-256, P-384, P-521)", group);
	}
	if (EVP_PKEY_is_a(k, "ED25519"))
		return UC_OK;
	return uc_seterr(UC_E_POLICY, "key type %s is not allowed (RSA, EC, "
	    "Ed25519)", EVP_PKEY_get0_type_name(k) != NULL ?
	    EVP_PKEY_get0_type_name(k) : "unknown");
}

int
key_check_public(EVP_PKEY *k)
{
	EVP_PKEY_CTX *ctx = NULL;
	int rc, ok;

	if ((rc = key_check_policy(k)) != UC_OK)
		return rc;
	/*
	 * Ed25519 is refused: TLS client authentication at the gateways we
	 * serve (IIS/Windows, most VPNs and phones) does not take Ed25519
	 * certificates, and OpenSSL's check of an Ed25519 public key only
	 * looks at its length, so a small-order key (for which anyone can
	 * make signatures) could not be refused.
	 */
	if (!EVP_PKEY_is_a(k, "RSA") && !EVP_PKEY_is_a(k, "EC"))
		return uc_seterr(UC_E_POLICY, "%s keys are not certified "
		    "(RSA or EC keys only)",
		    EVP_PKEY_is_a(k, "ED25519") ? "Ed25519" : "these");
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL)
		return uc_seterr_ssl(UC_E_CRYPTO, "checking a public key");
	/*
	 * EC: on the curve, not the point at infinity, coordinates in range.
	 * The quick check leaves out n*Q == O, which holds for every such
	 * point on our curves (cofactor 1); the full one costs 3x as much.
	 * RSA: odd modulus without small factors, not a prime or a prime
	 * power, exponent in range (a Miller-Rabin round on n: milliseconds).
	 */
	if (EVP_PKEY_is_a(k, "EC"))
		ok = EVP_PKEY_public_check_quick(ctx);
	else
		ok = EVP_PKEY_public_check(ctx);
	if (ok != 1)
		rc = uc_seterr_ssl(UC_E_INVALID, "the %s public key is not "
		    "valid (%s)", EVP_PKEY_is_a(k, "EC") ? "EC" : "RSA",
		    EVP_PKEY_is_a(k, "EC") ? "point at infinity or not on "
		    "its curve" : "bad modulus or exponent");
	else
		rc = UC_OK;
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* Append the DER of the non-negative b as an INTEGER at *p. */
static void
der_uint(unsigned char **p, const BIGNUM *b, int blen, int pad)
{
	ASN1_put_object(p, 0, blen + pad, V_ASN1_INTEGER, V_ASN1_UNIVERSAL);
	if (pad)
		*(*p)++ = 0x00;
	BN_bn2bin(b, *p);
	*p += blen;
}

int
key_rsa_pub_der(const EVP_PKEY *k, unsigned char **der, size_t *len)
{
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *buf = NULL, *p;
	int nlen, elen, npad, epad, inner, total, rc = UC_E_CRYPTO;

	*der = NULL;
	if (!EVP_PKEY_is_a(k, "RSA") ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) ||
	    BN_is_negative(n) || BN_is_negative(e) || BN_is_zero(n) ||
	    BN_is_zero(e)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "not an RSA public key");
		goto out;
	}
	/* A leading 0x00 keeps an INTEGER whose top bit is set positive. */
	nlen = BN_num_bytes(n);
	elen = BN_num_bytes(e);
	npad = BN_num_bits(n) % 8 == 0;
	epad = BN_num_bits(e) % 8 == 0;
	inner = ASN1_object_size(0, nlen + npad, V_ASN1_INTEGER) +
	    ASN1_object_size(0, elen + epad, V_ASN1_INTEGER);
	if ((total = ASN1_object_size(1, inner, V_ASN1_SEQUENCE)) <= 0 ||
	    (buf = OPENSSL_malloc((size_t)total)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	p = buf;
	ASN1_put_object(&p, 1, inner, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	der_uint(&p, n, nlen, npad);
	der_uint(&p, e, elen, epad);
	if (p != buf + total) {
		rc = uc_seterr(UC_E_INTERNAL, "RSAPublicKey length");
		goto out;
	}
	*der = buf;
	buf = NULL;	/* now owned by the caller */
	*len = (size_t)total;
	rc = UC_OK;
out:
	OPENSSL_free(buf);
	BN_free(n);
	BN_free(e);
	return rc;
}

int
key_ec_point(EVP_PKEY *k, unsigned char **pt, size_t *len, int *nid)
{
	char group[64], form[32];
	BIGNUM *x = NULL, *y = NULL;
	unsigned char *buf = NULL;
	size_t glen, flen, fsize;
	int rc = UC_E_CRYPTO;

	*pt = NULL;
	if (!EVP_PKEY_is_a(k, "EC") ||
	    !EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) ||
	    (*nid = OBJ_txt2nid(group)) == NID_undef) {
		ERR_clear_error();
		rc = uc_seterr(UC_E_INVALID, "not an EC key on a named curve");
		goto out;
	}
	/* The key's own encoding when it is already uncompressed. */
	if (EVP_PKEY_get_utf8_string_param(k,
	    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form, sizeof(form),
	    &flen) && strcmp(form, "uncompressed") == 0) {
		if ((*len = EVP_PKEY_get1_encoded_public_key(k, pt)) == 0) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding an EC point");
			goto out;
		}
		rc = UC_OK;
		goto out;
	}
	ERR_clear_error();
	/* Prime curves of cofactor 1: the field is as wide as the order. */
	fsize = ((size_t)EVP_PKEY_get_bits(k) + 7) / 8;
	if (fsize == 0 || fsize > 66 ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "an EC key without a point");
		goto out;
	}
	if ((buf = OPENSSL_malloc(1 + 2 * fsize)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	buf[0] = POINT_CONVERSION_UNCOMPRESSED;
	if (BN_bn2binpad(x, buf + 1, (int)fsize) < 0 ||
	    BN_bn2binpad(y, buf + 1 + fsize, (int)fsize) < 0) {
		rc = uc_seterr_ssl(UC_E_INVALID, "EC point coordinates");
		goto out;
	}
	*pt = buf;
	buf = NULL;	/* now owned by the caller */
	*len = 1 + 2 * fsize;
	rc = UC_OK;
out:
	OPENSSL_free(buf);
	BN_free(x);
	BN_free(y);
	return rc;
}

void
key_describe(const EVP_PKEY *k, char *buf, size_t len)
{
	char group[64];
	size_t glen;

	if (EVP_PKEY_is_a(k, "RSA"))
		snprintf(buf, len, "rsa-%d", EVP_PKEY_get_bits(k));
	else if (EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_utf8_string_param(k,
	    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen))
		snprintf(buf, len, "ec-%s", group);
	else if (EVP_PKEY_is_a(k, "ED25519"))
		snprintf(buf, len, "ed25519");
	else
		snprintf(buf, len, "unknown");
	ERR_clear_error();
}

int
key_to_pem(EVP_PKEY *k, unsigned char **buf, size_t *len)
{
	BIO *bio = NULL;
	char *data;
	long n;
	int rc = UC_E_CRYPTO;

	*buf = NULL;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding a private key");
		goto out;
	}
	if ((n = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*buf = malloc((size_t)n)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(*buf, data, (size_t)n);
	*len = (size_t)n;
	rc = UC_OK;
out:
	BIO_free(bio);
	return rc;
}

/*
 * PKCS#8 EncryptedPrivateKeyInfo of k: PBES2, AES-256-CBC, PBKDF2 with
 * HMAC-SHA256, KEY_PBKDF2_ITER iterations and a 16-byte salt, as PEM
 * into bio.  PEM_write_bio_PKCS8PrivateKey() would use 2,048 iterations.
 */
static int
key_encrypt_pem(BIO *bio, EVP_PKEY *k, const char *pass)
{
	PKCS8_PRIV_KEY_INFO *p8inf = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *p8 = NULL;
	unsigned char salt[16];
	size_t plen = strlen(pass);
	int ok = 0;

	if (plen > INT_MAX || RAND_bytes(salt, sizeof(salt)) <= 0 ||
	    (p8inf = EVP_PKEY2PKCS8(k)) == NULL ||
	    (pbe = PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), KEY_PBKDF2_ITER,
	    salt, (int)sizeof(salt), NULL, NID_hmacWithSHA256, NULL)) == NULL)
		goto out;
	if ((p8 = PKCS8_set0_pbe_ex(pass, (int)plen, p8inf, pbe, NULL,
	    NULL)) == NULL)
		goto out;
	pbe = NULL;	/* now owned by p8 */
	ok = PEM_write_bio_PKCS8(bio, p8) == 1;
out:
	X509_SIG_free(p8);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8inf);
	OPENSSL_cleanse(salt, sizeof(salt));
	return ok;
}

int
key_write(const char *path, EVP_PKEY *k, const char *pass)
{
	BIO *bio = NULL;
	char *data;
	long n;
	int ok, rc = UC_E_CRYPTO;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return uc_seterr_ssl(UC_E_INTERNAL, "BIO_new");
	if (pass != NULL)
		ok = key_encrypt_pem(bio, k, pass);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0,
		    NULL, NULL);
	if (!ok) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "%s: encoding the key", path);
		goto out;
	}
	if ((n = BIO_get_mem_data(bio, &data)) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "%s: encoding the key", path);
		goto out;
	}
	rc = file_write_excl(path, data, (size_t)n, 0600);
out:
	BIO_free(bio);	/* secure heap: wiped on free */
	return rc;
}

/* Never prompt: the passphrase is given or the read fails. */
static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pass = u;
	size_t len;

	if (pass == NULL)
		return -1;
	len = strlen(pass);
	if (len > (size_t)size)
		return -1;
	memcpy(buf, pass, len);
	return (int)len;
}

int
key_read(const char *path, const char *pass, EVP_PKEY **out)
{
	unsigned char *buf = NULL;
	size_t len;
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	int rc, encrypted;

	*out = NULL;
	if ((rc = file_read(path, KEY_FILE_MAX, &buf, &len)) != UC_OK)
		return rc;
	encrypted = len > 0 && memmem(buf, len, "ENCRYPTED", 9) != NULL;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		rc = uc_seterr_ssl(UC_E_INTERNAL, "BIO_new_mem_buf");
		goto out;
	}
	k = PEM_read_bio_PrivateKey(bio, NULL, pass_cb,
	    (void *)(uintptr_t)pass);
	if (k == NULL) {
		if (encrypted && pass == NULL)
			rc = uc_seterr(UC_E_PASSPHRASE, "%s: key is encrypted "
			    "and no passphrase was given", path);
		else if (encrypted) {
			ERR_clear_error();
			rc = uc_seterr(UC_E_PASSPHRASE, "%s: wrong passphrase",
			    path);
		} else
			rc = uc_seterr_ssl(UC_E_INVALID, "%s: not a PEM "
			    "private key", path);
		goto out;
	}
	*out = k;
	rc = UC_OK;
out:
	BIO_free(bio);
	secret_free_buf(buf, len);
	return rc;
}
