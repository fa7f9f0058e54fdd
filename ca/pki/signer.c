/*
 * signer.c: the one holder of a CA's private key.
 *
 * Callers hand it something to sign and get it back signed; they never
 * see the key.  The interface is shaped so the key can move into a
 * separate process or onto a PKCS#11 token without touching callers.
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "pki.h"
#include "pki_ocsp.h"

struct signer {
	EVP_PKEY	*key;
	X509		*cert;	/* NULL until known */
};

/* SHA-256 for RSA and ECDSA; Ed25519 signs without a separate digest. */
static const EVP_MD *
sign_md(const EVP_PKEY *k)
{
	return EVP_PKEY_is_a(k, "ED25519") ? NULL : EVP_sha256();
}

int
signer_from_key(EVP_PKEY *key, X509 *cert, struct signer **out)
{
	struct signer *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		EVP_PKEY_free(key);
		X509_free(cert);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	s->key = key;
	s->cert = cert;
	*out = s;
	return UC_OK;
}

int
signer_set_cert(struct signer *s, X509 *cert)
{
	if (X509_check_private_key(cert, s->key) != 1) {
		X509_free(cert);
		return uc_seterr_ssl(UC_E_INVALID, "the certificate does not "
		    "match the CA key");
	}
	X509_free(s->cert);
	s->cert = cert;
	return UC_OK;
}

int
signer_open(const char *certpath, const char *keypath, const char *pass,
    struct signer **out)
{
	struct signer *s = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc;

	*out = NULL;
	if ((rc = cert_load(certpath, &cert)) != UC_OK)
		return rc;
	if ((rc = key_read(keypath, pass, &key)) != UC_OK) {
		X509_free(cert);
		return rc;
	}
	if (X509_check_private_key(cert, key) != 1) {
		rc = uc_seterr_ssl(UC_E_INVALID, "%s: the key does not match "
		    "the certificate %s", keypath, certpath);
		goto fail;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto fail;
	}
	s->key = key;
	s->cert = cert;
	*out = s;	/* key and cert now owned by the signer */
	return UC_OK;
fail:
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

X509 *
signer_cert(const struct signer *s)
{
	return s->cert;
}

EVP_PKEY *
signer_pubkey(const struct signer *s)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int len;

	/* A copy of the public half only, so the key never leaves here. */
	if ((len = i2d_PUBKEY(s->key, &der)) <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return pub;
}

int
signer_sign_cert(struct signer *s, X509 *x)
{
	if (X509_sign(x, s->key, sign_md(s->key)) <= 0)
		return uc_seterr_ssl(UC_E_CRYPTO, "signing a certificate");
	return UC_OK;
}

int
signer_sign_crl(struct signer *s, X509_CRL *crl)
{
	if (X509_CRL_sign(crl, s->key, sign_md(s->key)) <= 0)
		return uc_seterr_ssl(UC_E_CRYPTO, "signing a CRL");
	return UC_OK;
}

int
signer_sign_req(struct signer *s, X509_REQ *req)
{
	if (!X509_REQ_set_pubkey(req, s->key) ||
	    X509_REQ_sign(req, s->key, sign_md(s->key)) <= 0)
		return uc_seterr_ssl(UC_E_CRYPTO, "signing a request");
	return UC_OK;
}

int
signer_sign_data(struct signer *s, const void *data, size_t len,
    unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	size_t n = 0;
	int rc = UC_E_CRYPTO;

	*sig = NULL;
	*siglen = 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, sign_md(s->key), NULL, s->key) <= 0 ||
	    EVP_DigestSign(ctx, NULL, &n, data, len) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "signing a checkpoint");
		goto out;
	}
	if ((buf = malloc(n)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if (EVP_DigestSign(ctx, buf, &n, data, len) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "signing a checkpoint");
		goto out;
	}
	*sig = buf;
	*siglen = n;
	buf = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
pki_verify_data(X509 *cert, const void *data, size_t len,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *pub;
	int rc = UC_E_CRYPTO, v;

	if ((pub = X509_get0_pubkey(cert)) == NULL)
		return uc_seterr_ssl(UC_E_INVALID, "CA certificate without a "
		    "usable public key");
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, sign_md(pub), NULL, pub) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "checking a signature");
		goto out;
	}
	/* 1 good, 0 bad, < 0 malformed: both of the latter are "does not". */
	v = EVP_DigestVerify(ctx, sig, siglen, data, len);
	ERR_clear_error();
	rc = v == 1 ? UC_OK : uc_seterr(UC_E_SIGNATURE, "the signature does "
	    "not verify with the CA certificate");
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
signer_sign_ocsp(struct signer *s, OCSP_BASICRESP *bs, STACK_OF(X509) *certs)
{
	if (s->cert == NULL)
		return uc_seterr(UC_E_STATE, "the OCSP responder has no "
		    "certificate");
	/* Responder ID by key hash, as RFC 5019 asks. */
	if (OCSP_basic_sign(bs, s->cert, s->key, sign_md(s->key), certs,
	    OCSP_RESPID_KEY) <= 0)
		return uc_seterr_ssl(UC_E_CRYPTO, "signing an OCSP response");
	return UC_OK;
}

int
signer_save_key(struct signer *s, const char *path, const char *pass)
{
	return key_write(path, s->key, pass);
}

void
signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s);
}
