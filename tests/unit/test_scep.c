/*
 * test_scep.c: SCEP messages (ca/pki/scep.c) and EST encodings
 * (ca/pki/est.c).  Requests are built here with OpenSSL's PKCS7 API the
 * way a client does (envelope for the RA, signed with the SCEP
 * attributes); answers are opened with OpenSSL's client-side calls
 * (PKCS7_verify with the RA certificate, PKCS7_decrypt with the client's
 * key).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "pki_est.h"
#include "pki_scep.h"

#define DAY	INT64_C(86400)

static int64_t	t0;
static struct signer *ca;
static X509	*ra;
static EVP_PKEY	*rakey;

static int
nid_of(const char *oid)
{
	int n = OBJ_txt2nid(oid);

	if (n == NID_undef)
		n = OBJ_create(oid, NULL, NULL);
	assert_int_not_equal(n, NID_undef);
	return n;
}

static int
setup(void **state)
{
	struct cert_req req;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	(void)state;
	t0 = uc_now();
	memset(&req, 0, sizeof(req));
	req.kind = CK_ROOT;
	req.org = "Example Org";
	req.cn = "Example CA";
	req.not_before = t0 - DAY;
	req.not_after = t0 + 3650 * DAY;
	assert_int_equal(key_generate(KT_EC_P256, &key), UC_OK);
	assert_int_equal(cert_build(&req, key, NULL, &x), UC_OK);
	assert_int_equal(signer_from_key(key, NULL, &ca), UC_OK);
	assert_int_equal(signer_sign_cert(ca, x), UC_OK);
	assert_int_equal(signer_set_cert(ca, x), UC_OK);
	assert_int_equal(key_generate(KT_RSA2048, &rakey), UC_OK);
	assert_int_equal(scep_ra_build(signer_cert(ca), rakey, "Example Org",
	    "RA", t0 - 60, t0 + 30 * DAY, &ra), UC_OK);
	assert_int_equal(signer_sign_cert(ca, ra), UC_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(ra);
	EVP_PKEY_free(rakey);
	signer_free(ca);
	return 0;
}

/* A client: an RSA key, its self-signed certificate, a CSR. */
struct client {
	EVP_PKEY	*key;
	X509		*cert;
	unsigned char	*csr;
	size_t		 csrlen;
};

static void
client_make(struct client *c, const char *challenge)
{
	X509_REQ *req;
	X509_NAME *n;
	int len;

	memset(c, 0, sizeof(*c));
	assert_int_equal(key_generate(KT_RSA2048, &c->key), UC_OK);
	assert_non_null(c->cert = X509_new());
	assert_non_null(n = X509_NAME_new());
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"device", -1, -1, 0));
	assert_true(X509_set_subject_name(c->cert, n));
	assert_true(X509_set_issuer_name(c->cert, n));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(c->cert), 7));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c->cert), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c->cert), 3600));
	assert_true(X509_set_pubkey(c->cert, c->key));
	assert_true(X509_sign(c->cert, c->key, EVP_sha256()) > 0);
	assert_non_null(req = X509_REQ_new());
	assert_true(X509_REQ_set_subject_name(req, n));
	assert_true(X509_REQ_set_pubkey(req, c->key));
	if (challenge != NULL)
		assert_true(X509_REQ_add1_attr_by_NID(req,
		    NID_pkcs9_challengePassword, MBSTRING_ASC,
		    (const unsigned char *)challenge, -1));
	assert_true(X509_REQ_sign(req, c->key, EVP_sha256()) > 0);
	c->csr = NULL;
	assert_true((len = i2d_X509_REQ(req, &c->csr)) > 0);
	c->csrlen = (size_t)len;
	X509_REQ_free(req);
	X509_NAME_free(n);
}

static void
client_free(struct client *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	OPENSSL_free(c->csr);
}

static void
add_str(PKCS7_SIGNER_INFO *si, const char *oid, const char *v)
{
	ASN1_STRING *s = ASN1_STRING_type_new(V_ASN1_PRINTABLESTRING);

	assert_true(ASN1_STRING_set(s, v, -1));
	assert_true(PKCS7_add_signed_attribute(si, nid_of(oid),
	    V_ASN1_PRINTABLESTRING, s));
}

/*
 * A pkiMessage of type mtype: content enveloped for to with cipher,
 * signed by (cert, key) with md.  DER in *der (OPENSSL_free).
 */
static void
request(const unsigned char *content, size_t clen, X509 *to,
    const EVP_CIPHER *cipher, X509 *cert, EVP_PKEY *key, const EVP_MD *md,
    const char *mtype, unsigned char **der, size_t *len)
{
	STACK_OF(X509) *rcpt = sk_X509_new_null();
	ASN1_OCTET_STRING *nonce;
	PKCS7 *env, *p7;
	PKCS7_SIGNER_INFO *si;
	BIO *in, *b;
	unsigned char *envder = NULL;
	int n;

	assert_true(sk_X509_push(rcpt, to));
	assert_non_null(in = BIO_new_mem_buf(content, (int)clen));
	assert_non_null(env = PKCS7_encrypt(rcpt, in, cipher, PKCS7_BINARY));
	assert_true((n = i2d_PKCS7(env, &envder)) > 0);
	assert_non_null(p7 = PKCS7_new());
	assert_true(PKCS7_set_type(p7, NID_pkcs7_signed));
	assert_non_null(si = PKCS7_add_signature(p7, cert, key, md));
	assert_true(PKCS7_add_certificate(p7, cert));
	assert_true(PKCS7_add_attrib_content_type(si, NULL));
	add_str(si, "2.16.840.1.113733.1.9.2", mtype);
	add_str(si, "2.16.840.1.113733.1.9.7", "tx-1");
	assert_non_null(nonce = ASN1_OCTET_STRING_new());
	assert_true(ASN1_OCTET_STRING_set(nonce,
	    (const unsigned char *)"0123456789abcdef", 16));
	assert_true(PKCS7_add_signed_attribute(si,
	    nid_of("2.16.840.1.113733.1.9.5"), V_ASN1_OCTET_STRING, nonce));
	assert_true(PKCS7_content_new(p7, NID_pkcs7_data));
	assert_non_null(b = PKCS7_dataInit(p7, NULL));
	assert_int_equal(BIO_write(b, envder, n), n);
	assert_true(PKCS7_dataFinal(p7, b));
	*der = NULL;
	assert_true((n = i2d_PKCS7(p7, der)) > 0);
	*len = (size_t)n;
	BIO_free_all(b);
	BIO_free(in);
	PKCS7_free(p7);
	PKCS7_free(env);
	OPENSSL_free(envder);
	sk_X509_free(rcpt);
}

static void
test_ra_template(void **state)
{
	(void)state;
	assert_int_equal(X509_check_issued(signer_cert(ca), ra), X509_V_OK);
	assert_int_equal(X509_get_key_usage(ra), KU_DIGITAL_SIGNATURE |
	    KU_KEY_ENCIPHERMENT);
	assert_int_equal(X509_check_ca(ra), 0);
	assert_int_equal(X509_get_extension_flags(ra) & EXFLAG_XKUSAGE, 0);
}

static void
test_parse_and_reply(void **state)
{
	struct client c;
	struct scep_req q;
	STACK_OF(X509) *trust;
	PKCS7 *rep, *env;
	PKCS7_SIGNER_INFO *si;
	ASN1_TYPE *t;
	BIO *data, *plain;
	unsigned char *der, *ans = NULL;
	const unsigned char *p;
	size_t len, alen;
	char *ch = NULL, *mem;
	long n;

	(void)state;
	client_make(&c, "one-time-token");
	request(c.csr, c.csrlen, ra, EVP_aes_128_cbc(), c.cert, c.key,
	    EVP_sha512(), "19", &der, &len);
	assert_int_equal(scep_parse(der, len, ra, rakey, 0, &q), UC_OK);
	assert_int_equal(q.type, SCEP_PKCSREQ);
	assert_string_equal(q.tid, "tx-1");
	assert_int_equal(q.nonce_len, 16);
	assert_int_equal(q.md_nid, NID_sha512);
	assert_int_equal(q.cipher_nid, NID_aes_128_cbc);
	assert_int_equal(q.inner_len, c.csrlen);
	assert_memory_equal(q.inner, c.csr, c.csrlen);
	assert_true(scep_csr_matches(q.inner, q.inner_len, q.signer));
	assert_int_equal(scep_csr_challenge(q.inner, q.inner_len, q.signer, &ch), UC_OK);
	assert_string_equal(ch, "one-time-token");
	secret_free(ch);

	/* SUCCESS: signed by the RA, the certificate enveloped for us. */
	assert_int_equal(scep_reply(&q, ra, rakey, SCEP_SUCCESS, 0, c.cert,
	    &ans, &alen), UC_OK);
	p = ans;
	assert_non_null(rep = d2i_PKCS7(NULL, &p, (long)alen));
	assert_non_null(trust = sk_X509_new_null());
	assert_true(sk_X509_push(trust, ra));
	assert_non_null(data = BIO_new(BIO_s_mem()));
	assert_int_equal(PKCS7_verify(rep, trust, NULL, NULL, data,
	    PKCS7_NOVERIFY | PKCS7_NOINTERN | PKCS7_BINARY), 1);
	si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(rep), 0);
	assert_int_equal(OBJ_obj2nid(si->digest_alg->algorithm), NID_sha512);
	t = PKCS7_get_signed_attribute(si, nid_of("2.16.840.1.113733.1.9.3"));
	assert_non_null(t);
	assert_memory_equal(ASN1_STRING_get0_data(t->value.printablestring),
	    "0", 1);
	t = PKCS7_get_signed_attribute(si, nid_of("2.16.840.1.113733.1.9.6"));
	assert_non_null(t);
	assert_memory_equal(ASN1_STRING_get0_data(t->value.octet_string),
	    "0123456789abcdef", 16);
	n = BIO_get_mem_data(data, &mem);
	p = (const unsigned char *)mem;
	assert_non_null(env = d2i_PKCS7(NULL, &p, n));
	assert_int_equal(OBJ_obj2nid(env->d.enveloped->enc_data->algorithm->
	    algorithm), NID_aes_128_cbc);
	assert_non_null(plain = BIO_new(BIO_s_mem()));
	assert_int_equal(PKCS7_decrypt(env, c.key, c.cert, plain,
	    PKCS7_BINARY), 1);
	n = BIO_get_mem_data(plain, &mem);
	p = (const unsigned char *)mem;
	PKCS7_free(rep);
	assert_non_null(rep = d2i_PKCS7(NULL, &p, n));
	assert_int_equal(X509_cmp(sk_X509_value(rep->d.sign->cert, 0),
	    c.cert), 0);

	PKCS7_free(rep);
	PKCS7_free(env);
	BIO_free(data);
	BIO_free(plain);
	sk_X509_free(trust);
	free(ans);
	scep_req_clear(&q);
	OPENSSL_free(der);
	client_free(&c);
}

static void
test_refusals(void **state)
{
	struct client c, other;
	struct scep_req q;
	unsigned char *der, *ans = NULL;
	size_t len, alen;

	(void)state;
	client_make(&c, "tok");
	client_make(&other, NULL);
	/* 3DES and SHA-1 are accepted. */
	request(c.csr, c.csrlen, ra, EVP_des_ede3_cbc(), c.cert, c.key,
	    EVP_sha1(), "19", &der, &len);
	assert_int_equal(scep_parse(der, len, ra, rakey, 0, &q), UC_OK);
	assert_int_equal(q.cipher_nid, NID_des_ede3_cbc);
	assert_int_equal(q.md_nid, NID_sha1);
	scep_req_clear(&q);
	OPENSSL_free(der);
	/* Single DES: badAlg, answerable, unless allowed. */
	assert_int_equal(scep_enable_des(), UC_OK);
	request(c.csr, c.csrlen, ra, EVP_des_cbc(), c.cert, c.key,
	    EVP_sha256(), "19", &der, &len);
	assert_int_not_equal(scep_parse(der, len, ra, rakey, 0, &q), UC_OK);
	assert_true(q.replyable);
	assert_int_equal(q.fail_info, SCEP_BADALG);
	assert_null(q.inner);
	scep_req_clear(&q);
	assert_int_equal(scep_parse(der, len, ra, rakey, 1, &q), UC_OK);
	assert_int_equal(q.cipher_nid, NID_des_cbc);
	scep_req_clear(&q);
	OPENSSL_free(der);
	/* An envelope for someone else: badMessageCheck, answerable. */
	request(c.csr, c.csrlen, other.cert, EVP_aes_256_cbc(), c.cert,
	    c.key, EVP_sha256(), "19", &der, &len);
	assert_int_not_equal(scep_parse(der, len, ra, rakey, 1, &q), UC_OK);
	assert_true(q.replyable);
	assert_int_equal(q.fail_info, SCEP_BADMESSAGECHECK);
	assert_null(q.inner);
	assert_int_equal(scep_reply(&q, ra, rakey, SCEP_FAILURE, q.fail_info,
	    NULL, &ans, &alen), UC_OK);
	assert_true(alen > 0);
	free(ans);
	scep_req_clear(&q);
	OPENSSL_free(der);
	/* Signed with another key than the certificate it carries. */
	request(c.csr, c.csrlen, ra, EVP_aes_256_cbc(), c.cert, other.key,
	    EVP_sha256(), "19", &der, &len);
	assert_int_not_equal(scep_parse(der, len, ra, rakey, 1, &q), UC_OK);
	assert_int_equal(q.fail_info, SCEP_BADMESSAGECHECK);
	scep_req_clear(&q);
	OPENSSL_free(der);
	/* An unknown messageType: badRequest. */
	request(c.csr, c.csrlen, ra, EVP_aes_256_cbc(), c.cert, c.key,
	    EVP_sha256(), "99", &der, &len);
	assert_int_not_equal(scep_parse(der, len, ra, rakey, 1, &q), UC_OK);
	assert_int_equal(q.fail_info, SCEP_BADREQUEST);
	scep_req_clear(&q);
	/* Truncated: nothing to answer. */
	assert_int_not_equal(scep_parse(der, len / 2, ra, rakey, 1, &q),
	    UC_OK);
	assert_false(q.replyable);
	scep_req_clear(&q);
	OPENSSL_free(der);
	/* The CSR's key is not the signer's; no challenge. */
	assert_false(scep_csr_matches(c.csr, c.csrlen, other.cert));
	{
		char *ch = NULL;

		assert_int_equal(scep_csr_challenge(other.csr, other.csrlen,
		    NULL, &ch), UC_E_NOTFOUND);
		assert_null(ch);
		/* A PKCSReq whose signer is not the CSR's key. */
		assert_int_equal(scep_csr_challenge(c.csr, c.csrlen,
		    other.cert, &ch), UC_E_SIGNATURE);
		assert_null(ch);
	}
	client_free(&c);
	client_free(&other);
}

static void
test_est_encodings(void **state)
{
	unsigned char in[200], *dec = NULL, *der = NULL;
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) *seq;
	char *b64 = NULL;
	size_t n, i, dlen;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7);
	assert_int_equal(est_b64_encode(in, sizeof(in), &b64, &n), UC_OK);
	assert_null(strchr(b64, '\n'));		/* one line */
	assert_int_equal(strlen(b64), n);
	/* Line breaks and CRs on the way in are fine. */
	{
		char wrapped[400];

		snprintf(wrapped, sizeof(wrapped), "%.64s\r\n%s\n", b64,
		    b64 + 64);
		assert_int_equal(est_b64_decode((unsigned char *)wrapped,
		    strlen(wrapped), &dec, &dlen), UC_OK);
	}
	assert_int_equal(dlen, sizeof(in));
	assert_memory_equal(dec, in, sizeof(in));
	free(dec);
	assert_int_not_equal(est_b64_decode((const unsigned char *)"*!*", 3,
	    &dec, &dlen), UC_OK);
	free(b64);

	assert_int_equal(est_csrattrs(KT_EC_P256, &der, &dlen), UC_OK);
	p = der;
	assert_non_null(seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)dlen));
	assert_int_equal(sk_ASN1_TYPE_num(seq), 3);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_TYPE_value(seq, 0)->value.object),
	    NID_X9_62_id_ecPublicKey);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_TYPE_value(seq, 1)->value.object),
	    NID_X9_62_prime256v1);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	free(der);
	assert_int_equal(est_csrattrs(KT_RSA2048, &der, &dlen), UC_OK);
	p = der;
	assert_non_null(seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)dlen));
	assert_int_equal(OBJ_obj2nid(sk_ASN1_TYPE_value(seq, 0)->value.object),
	    NID_rsaEncryption);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	free(der);
}

static void
test_certs_p7(void **state)
{
	X509 *certs[2];
	unsigned char *der = NULL;
	const unsigned char *p;
	PKCS7 *p7;
	size_t len;

	(void)state;
	certs[0] = ra;
	certs[1] = signer_cert(ca);
	assert_int_equal(pki_certs_p7(certs, 2, NULL, &der, &len), UC_OK);
	p = der;
	assert_non_null(p7 = d2i_PKCS7(NULL, &p, (long)len));
	assert_true(PKCS7_type_is_signed(p7));
	assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
	assert_int_equal(X509_cmp(sk_X509_value(p7->d.sign->cert, 0), ra), 0);
	assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	PKCS7_free(p7);
	free(der);
}

/* The hand-made certs-only PKCS#7 is byte for byte OpenSSL's. */
static void
test_certs_p7_der(void **state)
{
	X509 *one[1];
	unsigned char *want = NULL, *got = NULL, *cert = NULL;
	size_t wlen, glen;
	int n;

	(void)state;
	one[0] = ra;
	assert_int_equal(pki_certs_p7(one, 1, NULL, &want, &wlen), UC_OK);
	assert_true((n = i2d_X509(ra, &cert)) > 0);
	assert_int_equal(scep_certs_p7_der(cert, (size_t)n, &got, &glen),
	    UC_OK);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	/* A certificate of over 64 KiB: longer length octets. */
	{
		unsigned char *big = calloc(1, 70000);

		assert_non_null(big);
		big[0] = 0x30;
		assert_int_equal(scep_certs_p7_der(big, 70000, &got, &glen),
		    UC_OK);
		assert_true(glen > 70000 + 20);
		{
			const unsigned char *p = got;
			long plen;
			int tag, xclass;

			assert_int_equal(ASN1_get_object(&p, &plen, &tag,
			    &xclass, (long)glen) & 0x80, 0);
			assert_int_equal((size_t)(p - got) + (size_t)plen,
			    glen);
		}
		free(got);
		free(big);
	}
	assert_int_equal(scep_certs_p7_der(NULL, 0, &got, &glen),
	    UC_E_INVALID);
	OPENSSL_free(cert);
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ra_template),
		cmocka_unit_test(test_parse_and_reply),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_certs_p7_der),
		cmocka_unit_test(test_est_encodings),
		cmocka_unit_test(test_certs_p7),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
