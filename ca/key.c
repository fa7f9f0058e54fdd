/*
 * key.c: key generation, key policy, PKCS#8 on disk.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "pki.h"

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
	char group[64];
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
		rc = BN_is_odd(e) && BN_num_bits(e) >= 17 ? UC_OK :
		    uc_seterr(UC_E_POLICY, "RSA public exponent must be odd "
		    "and at least 65537");
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
		/* PBES2: AES-256-CBC, PBKDF2 with HMAC-SHA256. */
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(),
		    NULL, 0, NULL, (void *)(uintptr_t)pass);
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
