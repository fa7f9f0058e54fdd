/*
 * seal.c: PBKDF2-HMAC-SHA256 + AES-256-GCM around one byte string; the
 * layout is in pki_seal.h.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "pki_seal.h"

static const unsigned char seal_magic[8] = { 'U', 'C', 'S', 'E', 'A', 'L',
    '\r', '\n' };

#define SEAL_VERSION	1
#define SEAL_KDF_PBKDF2	1
#define SEAL_SALT_LEN	16
#define SEAL_NONCE_LEN	12
#define SEAL_KEY_LEN	32
#define SEAL_CHUNK	(1 << 20)	/* EVP lengths are ints */

static void
put_be(unsigned char *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int
seal_key(const char *pass, const unsigned char *salt, unsigned iter,
    unsigned char key[SEAL_KEY_LEN])
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	int rc = UC_E_CRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_PBKDF2, NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "PBKDF2");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)(uintptr_t)pass, strlen(pass));
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(uintptr_t)salt, SEAL_SALT_LEN);
	params[2] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter);
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)(uintptr_t)"SHA256", 0);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, key, SEAL_KEY_LEN, params) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "PBKDF2");
		goto out;
	}
	rc = UC_OK;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* AES-256-GCM over len bytes in chunks; enc 1 seals, 0 opens. */
static int
seal_gcm(int enc, const unsigned char *key, const unsigned char *hdr,
    const unsigned char *in, size_t len, unsigned char *out,
    unsigned char *tag)
{
	EVP_CIPHER *c = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	const unsigned char *nonce = hdr + 32;
	size_t off, n;
	int outl, rc = UC_E_CRYPTO;

	if ((c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex2(ctx, c, key, nonce, enc, NULL) <= 0 ||
	    EVP_CipherUpdate(ctx, NULL, &outl, hdr, SEAL_HDR_LEN) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "AES-256-GCM");
		goto out;
	}
	for (off = 0; off < len; off += n) {
		n = len - off > SEAL_CHUNK ? SEAL_CHUNK : len - off;
		if (EVP_CipherUpdate(ctx, out + off, &outl, in + off,
		    (int)n) <= 0 || (size_t)outl != n) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "AES-256-GCM");
			goto out;
		}
	}
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
	    SEAL_TAG_LEN, tag) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "AES-256-GCM tag");
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, out + len, &outl) <= 0) {
		if (enc)
			rc = uc_seterr_ssl(UC_E_CRYPTO, "AES-256-GCM");
		else
			rc = uc_seterr_ssl(UC_E_PASSPHRASE, "wrong passphrase, "
			    "or the file was changed or damaged (the "
			    "authentication tag does not match)");
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
	    SEAL_TAG_LEN, tag) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "AES-256-GCM tag");
		goto out;
	}
	rc = UC_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
	return rc;
}

int
seal_encrypt(const char *pass, const unsigned char *pt, size_t ptlen,
    unsigned char **out, size_t *outlen)
{
	unsigned char key[SEAL_KEY_LEN], *buf = NULL;
	size_t len;
	int rc = UC_E_INTERNAL;

	*out = NULL;
	*outlen = 0;
	if (pass == NULL || *pass == '\0')
		return uc_seterr(UC_E_PASSPHRASE, "an empty passphrase");
	if (ptlen > SEAL_MAX)
		return uc_seterr(UC_E_INVALID, "%zu bytes: more than the %zu "
		    "a sealed file holds", ptlen, SEAL_MAX);
	len = SEAL_HDR_LEN + ptlen + SEAL_TAG_LEN;
	/* +1: EVP_CipherFinal_ex writes nothing for GCM, but gets a pointer */
	if ((buf = malloc(len + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	memcpy(buf, seal_magic, sizeof(seal_magic));
	buf[8] = SEAL_VERSION;
	buf[9] = SEAL_KDF_PBKDF2;
	buf[10] = buf[11] = 0;
	put_be(buf + 12, SEAL_ITER, 4);
	if (RAND_bytes(buf + 16, SEAL_SALT_LEN + SEAL_NONCE_LEN) != 1) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "RAND_bytes");
		goto out;
	}
	put_be(buf + 44, ptlen, 8);
	if ((rc = seal_key(pass, buf + 16, SEAL_ITER, key)) != UC_OK)
		goto out;
	rc = seal_gcm(1, key, buf, pt, ptlen, buf + SEAL_HDR_LEN,
	    buf + SEAL_HDR_LEN + ptlen);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != UC_OK)
		goto out;
	*out = buf;
	*outlen = len;
	buf = NULL;		/* now owned by the caller */
out:
	free(buf);
	return rc;
}

int
seal_decrypt(const char *pass, const unsigned char *in, size_t inlen,
    unsigned char **pt, size_t *ptlen)
{
	unsigned char key[SEAL_KEY_LEN], tag[SEAL_TAG_LEN], *buf = NULL;
	uint64_t n;
	unsigned iter;
	int rc;

	*pt = NULL;
	*ptlen = 0;
	if (inlen < SEAL_HDR_LEN ||
	    memcmp(in, seal_magic, sizeof(seal_magic)) != 0)
		return uc_seterr(UC_E_INVALID, "not a userca backup (no "
		    "UCSEAL header)");
	if (in[8] != SEAL_VERSION || in[9] != SEAL_KDF_PBKDF2 ||
	    in[10] != 0 || in[11] != 0)
		return uc_seterr(UC_E_INVALID, "container version %u, KDF %u: "
		    "not one this userca reads (version %d, KDF %d)",
		    in[8], in[9], SEAL_VERSION, SEAL_KDF_PBKDF2);
	iter = (unsigned)get_be(in + 12, 4);
	if (iter < SEAL_ITER_MIN || iter > SEAL_ITER_MAX)
		return uc_seterr(UC_E_INVALID, "%u PBKDF2 iterations: outside "
		    "%d..%d", iter, SEAL_ITER_MIN, SEAL_ITER_MAX);
	n = get_be(in + 44, 8);
	if (n > SEAL_MAX)
		return uc_seterr(UC_E_INVALID, "a plaintext length of %llu: "
		    "more than %zu", (unsigned long long)n, SEAL_MAX);
	if (inlen != SEAL_HDR_LEN + n + SEAL_TAG_LEN)
		return uc_seterr(UC_E_INVALID, "%zu bytes where the header "
		    "says %llu: %s", inlen,
		    (unsigned long long)(SEAL_HDR_LEN + n + SEAL_TAG_LEN),
		    inlen < SEAL_HDR_LEN + n + SEAL_TAG_LEN ? "truncated" :
		    "trailing bytes");
	if (pass == NULL || *pass == '\0')
		return uc_seterr(UC_E_PASSPHRASE, "an empty passphrase");
	if ((buf = malloc((size_t)n + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	memcpy(tag, in + SEAL_HDR_LEN + n, SEAL_TAG_LEN);
	if ((rc = seal_key(pass, in + 16, iter, key)) == UC_OK)
		rc = seal_gcm(0, key, in, in + SEAL_HDR_LEN, (size_t)n, buf,
		    tag);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != UC_OK) {
		secret_free_buf(buf, (size_t)n + 1);
		return rc;
	}
	*pt = buf;		/* now owned by the caller */
	*ptlen = (size_t)n;
	return UC_OK;
}
