/*
 * fuzz_csr.c: libFuzzer harness for csr_check() (PEM or DER PKCS#10 from
 * an untrusted source: parse, key policy, self-signature).
 *
 * The input is tried as given, and once more with a PEM armour put around
 * it when it looks like DER, so that mutations of the DER structure also
 * reach the PEM path.  A request csr_check() accepts must have a key and
 * parse again with csr_parse().  csr_check_spki() (the daemon's, with its
 * own decoding of ECDSA requests) must agree with csr_check() on every
 * input: the same verdict and code, and when it accepts, the same key DER
 * as the parsed request's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * 1 if csr_check() (spki 0) or csr_check_spki() (spki 1) answers buf with
 * want in one of a few more tries.  OpenSSL's check of an RSA modulus
 * (EVP_PKEY_public_check: enhanced Miller-Rabin with random bases)
 * refuses some composite moduli only when a base happens to reveal a
 * factor: the same request is refused as an invalid modulus once in a few
 * hundred tries, and for its signature otherwise.  Such a difference is
 * OpenSSL's, not one between the two functions (both call it the same).
 */
static int
may_answer(const unsigned char *buf, size_t len, int spki, int want)
{
	EVP_PKEY *pub;
	unsigned char *der;
	size_t derlen;
	int i, rc;

	for (i = 0; i < 64; i++) {
		pub = NULL;
		der = NULL;
		rc = spki ? csr_check_spki(buf, len, &der, &derlen) :
		    csr_check(buf, len, &pub);
		EVP_PKEY_free(pub);
		free(der);
		if (rc == want)
			return 1;
	}
	return 0;
}

static void
one(const unsigned char *buf, size_t len)
{
	EVP_PKEY *pub = NULL;
	X509_REQ *req = NULL;
	unsigned char *spki = NULL, *want = NULL;
	size_t spkilen = 0;
	int rc, rc2, n;

	rc = csr_check(buf, len, &pub);
	rc2 = csr_check_spki(buf, len, &spki, &spkilen);
	if (rc2 != rc && !may_answer(buf, len, 0, rc2) &&
	    !may_answer(buf, len, 1, rc))
		abort();	/* the two disagree */
	if (rc == UC_OK && pub == NULL)
		abort();
	if (rc == UC_OK && rc2 == UC_OK) {
		if (pub == NULL || EVP_PKEY_get_bits(pub) <= 0)
			abort();
		if (csr_parse(buf, len, &req) != UC_OK || req == NULL)
			abort();
		n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &want);
		if (n <= 0 || spki == NULL || spkilen != (size_t)n ||
		    memcmp(spki, want, spkilen) != 0)
			abort();
		OPENSSL_free(want);
		X509_REQ_free(req);
	} else if ((rc != UC_OK && pub != NULL) ||
	    (rc2 != UC_OK && spki != NULL))
		abort();	/* failure must not hand out a key */
	EVP_PKEY_free(pub);
	free(spki);
	ERR_clear_error();
	uc_clearerr();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hd[] = "-----BEGIN CERTIFICATE REQUEST-----\n";
	static const char ft[] = "-----END CERTIFICATE REQUEST-----\n";
	EVP_ENCODE_CTX *ctx;
	unsigned char *pem;
	size_t off;
	int n;

	one(data, size);
	if (size == 0 || data[0] != 0x30 || size > 8192)
		return 0;
	/* the same bytes, base64 in 64-column lines in a PEM armour */
	if ((ctx = EVP_ENCODE_CTX_new()) == NULL)
		return 0;
	if ((pem = malloc(sizeof(hd) + EVP_ENCODE_LENGTH(size) +
	    sizeof(ft))) == NULL) {
		EVP_ENCODE_CTX_free(ctx);
		return 0;
	}
	memcpy(pem, hd, sizeof(hd) - 1);
	off = sizeof(hd) - 1;
	EVP_EncodeInit(ctx);
	if (EVP_EncodeUpdate(ctx, pem + off, &n, data, (int)size) == 1) {
		off += (size_t)n;
		EVP_EncodeFinal(ctx, pem + off, &n);
		off += (size_t)n;
		memcpy(pem + off, ft, sizeof(ft) - 1);
		off += sizeof(ft) - 1;
		one(pem, off);
	}
	EVP_ENCODE_CTX_free(ctx);
	free(pem);
	return 0;
}
