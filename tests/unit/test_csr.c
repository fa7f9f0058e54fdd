/*
 * test_csr.c: csr_check() on requests made here, good and hostile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pki.h"

#define CSR_MAX		(64 * 1024)

/* A CSR for k (CN=cn), signed with k; DER (pem = 0) or PEM. */
static void
make_csr(EVP_PKEY *k, const char *cn, int pem, unsigned char **out,
    size_t *len)
{
	X509_REQ *req;
	X509_NAME *n;
	BIO *bio;
	char *data;
	unsigned char *der = NULL;
	long blen;
	int dlen;

	req = X509_REQ_new();
	assert_non_null(req);
	n = X509_REQ_get_subject_name(req);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"Example Org", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
	assert_true(X509_REQ_sign(req, k, EVP_PKEY_is_a(k, "ED25519") ?
	    NULL : EVP_sha256()) > 0);
	if (pem) {
		bio = BIO_new(BIO_s_mem());
		assert_non_null(bio);
		assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
		blen = BIO_get_mem_data(bio, &data);
		assert_true(blen > 0);
		*out = malloc((size_t)blen);
		assert_non_null(*out);
		memcpy(*out, data, (size_t)blen);
		*len = (size_t)blen;
		BIO_free(bio);
	} else {
		dlen = i2d_X509_REQ(req, &der);
		assert_true(dlen > 0);
		*out = malloc((size_t)dlen);
		assert_non_null(*out);
		memcpy(*out, der, (size_t)dlen);
		*len = (size_t)dlen;
		OPENSSL_free(der);
	}
	X509_REQ_free(req);
}

static EVP_PKEY *
ec_key(void)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(key_generate(KT_EC_P256, &k), UC_OK);
	return k;
}

/*
 * Expect csr_check to refuse buf with rc, leaving *pub NULL, and
 * csr_check_spki() to refuse it the same way, with the same message.
 */
static void
expect_refused(const unsigned char *buf, size_t len, int want)
{
	EVP_PKEY *pub = (EVP_PKEY *)(uintptr_t)1;
	unsigned char *spki = (unsigned char *)(uintptr_t)1;
	size_t spkilen = 1;
	char msg[1024];
	int rc;

	uc_clearerr();
	rc = csr_check(buf, len, &pub);
	if (rc != want)
		print_error("csr_check: %d, want %d (%s)\n", rc, want,
		    uc_errmsg());
	if (rc == UC_OK)
		EVP_PKEY_free(pub);
	assert_int_equal(rc, want);
	assert_null(pub);
	assert_true(uc_errmsg()[0] != '\0');
	/* The OpenSSL error queue was drained into the message. */
	assert_int_equal(ERR_peek_error(), 0);
	snprintf(msg, sizeof(msg), "%s", uc_errmsg());

	uc_clearerr();
	assert_int_equal(csr_check_spki(buf, len, &spki, &spkilen), want);
	assert_null(spki);
	assert_int_equal(spkilen, 0);
	assert_string_equal(uc_errmsg(), msg);
	assert_int_equal(ERR_peek_error(), 0);
}

/*
 * csr_check_spki() accepts buf, as csr_check_req() does, and hands back
 * the request's SubjectPublicKeyInfo as the request encodes it.
 */
static void
expect_spki(const unsigned char *buf, size_t len)
{
	X509_REQ *req = NULL;
	unsigned char *spki = NULL, *want = NULL;
	size_t spkilen = 0;
	int n, rc;

	assert_int_equal(csr_check_req(buf, len, &req), UC_OK);
	n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &want);
	assert_true(n > 0);
	rc = csr_check_spki(buf, len, &spki, &spkilen);
	if (rc != UC_OK)
		print_error("csr_check_spki: %s\n", uc_errmsg());
	assert_int_equal(rc, UC_OK);
	assert_int_equal(spkilen, (size_t)n);
	assert_memory_equal(spki, want, spkilen);
	assert_int_equal(ERR_peek_error(), 0);
	free(spki);
	OPENSSL_free(want);
	X509_REQ_free(req);
}

static void
test_csr_valid(void **state)
{
	EVP_PKEY *k, *pub = NULL;
	unsigned char *pem = NULL, *der = NULL;
	size_t pemlen, derlen;

	(void)state;
	k = ec_key();
	make_csr(k, "alice", 1, &pem, &pemlen);
	make_csr(k, "alice", 0, &der, &derlen);

	assert_int_equal(csr_check(pem, pemlen, &pub), UC_OK);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	EVP_PKEY_free(pub);
	pub = NULL;

	assert_int_equal(csr_check(der, derlen, &pub), UC_OK);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	EVP_PKEY_free(pub);
	pub = NULL;

	expect_spki(pem, pemlen);
	expect_spki(der, derlen);
	free(pem);
	free(der);
	EVP_PKEY_free(k);
}

/*
 * Ed25519 requests are refused (README, key policy): gateways do not take
 * them, and OpenSSL cannot tell a small-order key from a good one.
 */
static void
test_csr_refuses_ed25519(void **state)
{
	EVP_PKEY *k = NULL;
	unsigned char *der = NULL;
	size_t derlen;

	(void)state;
	assert_int_equal(key_generate(KT_ED25519, &k), UC_OK);
	make_csr(k, "bob", 0, &der, &derlen);
	expect_refused(der, derlen, UC_E_POLICY);
	assert_non_null(strstr(uc_errmsg(), "Ed25519"));
	free(der);
	EVP_PKEY_free(k);
}

/* ---- the hostile corpus (tests/data/csr-hostile, gen_csr_hostile.py) ---- */

static unsigned char *
corpus_read(const char *name, size_t *len)
{
	const char *dir = getenv("USERCA_TESTDATA");
	char path[4096];
	unsigned char *buf = NULL;

	assert_non_null(dir);
	assert_true(snprintf(path, sizeof(path), "%s/csr-hostile/%s", dir,
	    name) < (int)sizeof(path));
	if (file_read(path, 64 * 1024, &buf, len) != UC_OK)
		print_error("%s: %s\n", path, uc_errmsg());
	assert_non_null(buf);
	return buf;
}

/* Refused with rc, and the message names the problem (want, lower case). */
static void
expect_corpus_refused(const char *name, int rc, const char *want)
{
	unsigned char *buf;
	size_t len;
	char msg[1024];
	size_t i;

	buf = corpus_read(name, &len);
	expect_refused(buf, len, rc);
	snprintf(msg, sizeof(msg), "%s", uc_errmsg());
	for (i = 0; msg[i] != '\0'; i++)
		if (msg[i] >= 'A' && msg[i] <= 'Z')
			msg[i] = (char)(msg[i] - 'A' + 'a');
	if (strstr(msg, want) == NULL)
		print_error("%s: '%s' does not say '%s'\n", name, msg, want);
	assert_non_null(strstr(msg, want));
	free(buf);
}

static void
test_csr_hostile_refused(void **state)
{
	(void)state;
	/* The forged signature verifies: only the key check stops it. */
	expect_corpus_refused("ec_infinity.der", UC_E_INVALID, "infinity");
	expect_corpus_refused("ec_offcurve.der", UC_E_INVALID, "public key");
	expect_corpus_refused("ec_params_null.der", UC_E_INVALID,
	    "public key");
	expect_corpus_refused("ec_explicit.der", UC_E_POLICY, "explicit");
	expect_corpus_refused("rsa_params_junk.der", UC_E_INVALID,
	    "parameters");
	expect_corpus_refused("rsa_params_octets.der", UC_E_INVALID,
	    "parameters");
	expect_corpus_refused("rsa_trailing.der", UC_E_INVALID, "not der");
	expect_corpus_refused("rsa_int_padded.der", UC_E_INVALID, "not der");
	expect_corpus_refused("rsa_e_huge.der", UC_E_POLICY, "exponent");
	expect_corpus_refused("rsa_e_even.der", UC_E_POLICY, "exponent");
	expect_corpus_refused("rsa_e_one.der", UC_E_POLICY, "exponent");
	expect_corpus_refused("rsa_n_prime.der", UC_E_INVALID, "modulus");
	expect_corpus_refused("ed25519.der", UC_E_POLICY, "ed25519");
}

/*
 * Unusual but sound encodings pass csr_check_req(); cert_build() writes
 * them canonically (test_cert.c, it_hostile_csr.sh).
 */
static void
test_csr_hostile_accepted(void **state)
{
	static const char *const names[] = {
		"ec_ok.der", "ec_compressed.der", "ec_hybrid.der",
		"rsa_ok.der", "rsa_params_absent.der",
	};
	unsigned char *buf;
	X509_REQ *req = NULL;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		buf = corpus_read(names[i], &len);
		rc = csr_check_req(buf, len, &req);
		if (rc != UC_OK)
			print_error("%s: %s\n", names[i], uc_errmsg());
		assert_int_equal(rc, UC_OK);
		X509_REQ_free(req);
		req = NULL;
		expect_spki(buf, len);
		free(buf);
	}
}

static void
test_csr_bad_signature(void **state)
{
	EVP_PKEY *k;
	unsigned char *der = NULL, *p;
	size_t derlen;

	(void)state;
	k = ec_key();

	/* Last octet: the end of the ECDSA signature's s value. */
	make_csr(k, "alice", 0, &der, &derlen);
	der[derlen - 1] ^= 0x01;
	expect_refused(der, derlen, UC_E_SIGNATURE);
	free(der);

	/* The signed content changed: "alice" -> "alicf" in the subject. */
	make_csr(k, "alice", 0, &der, &derlen);
	p = memmem(der, derlen, "alice", 5);
	assert_non_null(p);
	p[4] = 'f';
	expect_refused(der, derlen, UC_E_SIGNATURE);
	free(der);

	/* Signed by another key than the one it carries. */
	{
		EVP_PKEY *other = ec_key();
		X509_REQ *req = X509_REQ_new();
		unsigned char *d = NULL;
		int dlen;

		assert_non_null(req);
		assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
		assert_true(X509_REQ_sign(req, other, EVP_sha256()) > 0);
		/* X509_REQ_sign sets no key: the request still carries k. */
		dlen = i2d_X509_REQ(req, &d);
		assert_true(dlen > 0);
		expect_refused(d, (size_t)dlen, UC_E_SIGNATURE);
		OPENSSL_free(d);
		X509_REQ_free(req);
		EVP_PKEY_free(other);
	}
	EVP_PKEY_free(k);
}

static void
test_csr_weak_keys(void **state)
{
	EVP_PKEY *k;
	unsigned char *der = NULL;
	size_t derlen;

	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(k);
	make_csr(k, "weak", 0, &der, &derlen);
	expect_refused(der, derlen, UC_E_POLICY);
	assert_non_null(strstr(uc_errmsg(), "1024"));
	free(der);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k);
	make_csr(k, "koblitz", 1, &der, &derlen);
	expect_refused(der, derlen, UC_E_POLICY);
	free(der);
	EVP_PKEY_free(k);
}

static void
test_csr_malformed(void **state)
{
	static const unsigned char garbage[] = "this is not a certificate "
	    "request\n";
	static const unsigned char derish[] = { 0x30, 0x82, 0x01, 0x00, 0x02,
	    0x01, 0x00 };
	static const unsigned char pem_empty[] =
	    "-----BEGIN CERTIFICATE REQUEST-----\n"
	    "-----END CERTIFICATE REQUEST-----\n";
	unsigned char *buf, *der = NULL, *pem = NULL;
	size_t derlen, pemlen;
	EVP_PKEY *k;

	(void)state;
	expect_refused(garbage, sizeof(garbage) - 1, UC_E_INVALID);
	expect_refused(derish, sizeof(derish), UC_E_INVALID);
	expect_refused(pem_empty, sizeof(pem_empty) - 1, UC_E_INVALID);
	expect_refused(garbage, 0, UC_E_INVALID);
	expect_refused((const unsigned char *)"", 0, UC_E_INVALID);
	assert_non_null(strstr(uc_errmsg(), "empty"));
	/* An empty heap buffer: not even its first byte may be read. */
	buf = malloc(1);
	assert_non_null(buf);
	buf[0] = 0x30;
	expect_refused(buf, 0, UC_E_INVALID);
	assert_non_null(strstr(uc_errmsg(), "empty"));
	free(buf);

	k = ec_key();

	/* 70000 bytes: a valid PEM CSR padded with newlines. */
	make_csr(k, "big", 1, &pem, &pemlen);
	buf = malloc(70000);
	assert_non_null(buf);
	memset(buf, '\n', 70000);
	memcpy(buf, pem, pemlen);
	expect_refused(buf, 70000, UC_E_INVALID);
	/* The same CSR with the padding cut to the limit is fine. */
	{
		EVP_PKEY *pub = NULL;

		assert_int_equal(csr_check(buf, CSR_MAX, &pub), UC_OK);
		EVP_PKEY_free(pub);
		expect_refused(buf, CSR_MAX + 1, UC_E_INVALID);
	}
	free(buf);
	free(pem);

	/* DER with trailing junk; truncated DER. */
	make_csr(k, "trail", 0, &der, &derlen);
	buf = malloc(derlen + 4);
	assert_non_null(buf);
	memcpy(buf, der, derlen);
	memcpy(buf + derlen, "JUNK", 4);
	expect_refused(buf, derlen + 4, UC_E_INVALID);
	expect_refused(buf, derlen + 1, UC_E_INVALID);
	expect_refused(buf, derlen - 1, UC_E_INVALID);
	expect_refused(buf, 1, UC_E_INVALID);
	free(buf);
	free(der);
	EVP_PKEY_free(k);
}

/* csr_make: a CSR from the signer's key that csr_check accepts. */
static void
test_csr_make(void **state)
{
	struct signer *s = NULL;
	EVP_PKEY *k = NULL, *pub = NULL, *spub;
	X509_REQ *req = NULL;
	unsigned char *pem = NULL;
	size_t len;
	char cn[64];

	(void)state;
	assert_int_equal(key_generate(KT_EC_P384, &k), UC_OK);
	assert_int_equal(signer_from_key(k, NULL, &s), UC_OK);
	assert_int_equal(csr_make(s, "Example Org", "Example Issuing CA", &pem,
	    &len), UC_OK);
	assert_non_null(pem);
	assert_int_equal(csr_check(pem, len, &pub), UC_OK);
	spub = signer_pubkey(s);
	assert_non_null(spub);
	assert_int_equal(EVP_PKEY_eq(pub, spub), 1);

	assert_int_equal(csr_parse(pem, len, &req), UC_OK);
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
	    NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "Example Issuing CA");
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
	    NID_organizationName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "Example Org");

	X509_REQ_free(req);
	EVP_PKEY_free(spub);
	EVP_PKEY_free(pub);
	free(pem);
	signer_free(s);
}

/*
 * spki_parse(): the RFC 5480 encodings of P-256/384/521 keys take the fast
 * path (no X509_PUBKEY back) and give the same key; a point moved off its
 * curve is refused there as on the slow path; other encodings (RSA, a
 * compressed point) still parse through OpenSSL's decoder.
 * spki_encode() gives the bytes i2d_PUBKEY() gives, except for a key set to
 * compressed points: uncompressed, the fast path's encoding, the same key.
 */
static void
expect_spki_encode(EVP_PKEY *k, const unsigned char *want, size_t wantlen)
{
	X509_PUBKEY *xpk;
	EVP_PKEY *pub;
	unsigned char *der;
	size_t len;

	assert_int_equal(spki_encode(k, &der, &len), UC_OK);
	if (want != NULL) {
		assert_int_equal(len, wantlen);
		assert_memory_equal(der, want, len);
	}
	assert_int_equal(spki_parse(der, len, &xpk, &pub), UC_OK);
	if (EVP_PKEY_is_a(k, "EC"))
		assert_null(xpk);	/* the fast path */
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	X509_PUBKEY_free(xpk);
	EVP_PKEY_free(pub);
	free(der);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_spki_parse(void **state)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };
	X509_PUBKEY *xpk;
	EVP_PKEY *k, *pub;
	unsigned char *der;
	size_t i;
	int len;

	(void)state;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		assert_non_null(k);
		der = NULL;
		len = i2d_PUBKEY(k, &der);
		assert_true(len > 0);
		assert_int_equal(spki_parse(der, (size_t)len, &xpk, &pub),
		    UC_OK);
		assert_null(xpk);	/* the fast path */
		assert_int_equal(EVP_PKEY_eq(pub, k), 1);
		EVP_PKEY_free(pub);
		expect_spki_encode(k, der, (size_t)len);
		/* The point's last byte changed: off the curve. */
		der[len - 1] ^= 0x01;
		assert_int_not_equal(spki_parse(der, (size_t)len, &xpk, &pub),
		    UC_OK);
		assert_null(pub);
		/* One byte short: not the known encoding, nor DER. */
		der[len - 1] ^= 0x01;
		assert_int_not_equal(spki_parse(der, (size_t)len - 1, &xpk,
		    &pub), UC_OK);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
	/* A compressed P-256 point: the decoder's path, the same key. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_set_utf8_string_param(k,
	    "point-format", "compressed"), 1);
	der = NULL;
	len = i2d_PUBKEY(k, &der);
	assert_int_equal(len, 59);
	assert_int_equal(spki_parse(der, (size_t)len, &xpk, &pub), UC_OK);
	assert_non_null(xpk);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	X509_PUBKEY_free(xpk);
	EVP_PKEY_free(pub);
	OPENSSL_free(der);
	expect_spki_encode(k, NULL, 0);		/* 91 bytes, uncompressed */
	EVP_PKEY_free(k);
	/* RSA: the decoder's path. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(k);
	der = NULL;
	len = i2d_PUBKEY(k, &der);
	assert_true(len > 0);
	assert_int_equal(spki_parse(der, (size_t)len, &xpk, &pub), UC_OK);
	assert_non_null(xpk);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	X509_PUBKEY_free(xpk);
	EVP_PKEY_free(pub);
	expect_spki_encode(k, der, (size_t)len);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/*
 * csr_check_spki(): the requests most clients send (ECDSA with SHA-2 over
 * P-256/384/521, DER or PEM under either label) give the key as encoded;
 * a signature with unused bits is refused as csr_check() refuses it.
 */
static void
test_csr_check_spki(void **state)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };
	static const char *const mds[] = { "SHA256", "SHA384", "SHA512" };
	const ASN1_BIT_STRING *sig;
	EVP_PKEY *k;
	X509_REQ *req;
	BIO *bio;
	unsigned char *der, *pem;
	char *data;
	size_t i, j;
	long blen;
	int len;

	(void)state;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		assert_non_null(k);
		for (j = 0; j < sizeof(mds) / sizeof(mds[0]); j++) {
			req = X509_REQ_new();
			assert_non_null(req);
			assert_int_equal(X509_NAME_add_entry_by_txt(
			    X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
			    (const unsigned char *)"carol", -1, -1, 0), 1);
			assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
			assert_true(X509_REQ_sign(req, k,
			    EVP_get_digestbyname(mds[j])) > 0);
			der = NULL;
			len = i2d_X509_REQ(req, &der);
			assert_true(len > 0);
			expect_spki(der, (size_t)len);

			/* The old PEM label, as PEM_read_bio_X509_REQ takes. */
			bio = BIO_new(BIO_s_mem());
			assert_non_null(bio);
			assert_int_equal(PEM_write_bio_X509_REQ_NEW(bio, req),
			    1);
			blen = BIO_get_mem_data(bio, &data);
			assert_true(blen > 0);
			assert_non_null(memmem(data, (size_t)blen,
			    "NEW CERTIFICATE REQUEST", 23));
			pem = malloc((size_t)blen);
			assert_non_null(pem);
			memcpy(pem, data, (size_t)blen);
			expect_spki(pem, (size_t)blen);
			free(pem);
			BIO_free(bio);

			/*
			 * The signature's BIT STRING (last in the request:
			 * its unused-bits octet right before the bytes) says
			 * 3 bits are unused.
			 */
			X509_REQ_get0_signature(req, &sig, NULL);
			assert_int_equal(der[len - ASN1_STRING_length(sig) - 1],
			    0x00);
			der[len - ASN1_STRING_length(sig) - 1] = 0x03;
			expect_refused(der, (size_t)len, UC_E_SIGNATURE);
			OPENSSL_free(der);
			X509_REQ_free(req);
		}
		EVP_PKEY_free(k);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_valid),
		cmocka_unit_test(test_csr_refuses_ed25519),
		cmocka_unit_test(test_csr_hostile_refused),
		cmocka_unit_test(test_csr_hostile_accepted),
		cmocka_unit_test(test_csr_bad_signature),
		cmocka_unit_test(test_csr_weak_keys),
		cmocka_unit_test(test_csr_malformed),
		cmocka_unit_test(test_csr_make),
		cmocka_unit_test(test_spki_parse),
		cmocka_unit_test(test_csr_check_spki),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
