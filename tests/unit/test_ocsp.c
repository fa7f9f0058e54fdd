/*
 * test_ocsp.c: OCSP requests parsed and answered by ca/pki/ocsp.c, the
 * answers checked with OpenSSL's own client-side functions (the responder
 * must chain to the CA, the nonce come back, the statuses be ours).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "pki_ocsp.h"

#define DAY	INT64_C(86400)

struct ca {
	struct signer	*sig;
	X509		*cert;		/* borrowed from sig */
};

static int64_t	t0;

static void
ca_make(struct ca *ca, const char *cn)
{
	struct cert_req req;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	memset(ca, 0, sizeof(*ca));
	memset(&req, 0, sizeof(req));
	req.kind = CK_ROOT;
	req.org = "Example Org";
	req.cn = cn;
	req.not_before = t0 - DAY;
	req.not_after = t0 + 3650 * DAY;
	assert_int_equal(key_generate(KT_EC_P256, &key), UC_OK);
	assert_int_equal(cert_build(&req, key, NULL, &x), UC_OK);
	assert_int_equal(signer_from_key(key, NULL, &ca->sig), UC_OK);
	assert_int_equal(signer_sign_cert(ca->sig, x), UC_OK);
	assert_int_equal(signer_set_cert(ca->sig, x), UC_OK);
	ca->cert = signer_cert(ca->sig);
}

/* A delegated responder issued by ca. */
static struct signer *
responder_make(struct ca *ca)
{
	struct signer *rs = NULL;
	EVP_PKEY *key = NULL, *pub;
	X509 *x = NULL;

	assert_int_equal(key_generate(KT_EC_P256, &key), UC_OK);
	assert_int_equal(signer_from_key(key, NULL, &rs), UC_OK);
	pub = signer_pubkey(rs);
	assert_int_equal(ocsp_responder_build(ca->cert, pub, "Example Org",
	    "OCSP responder", t0 - 60, t0 + 7 * DAY, &x), UC_OK);
	EVP_PKEY_free(pub);
	assert_int_equal(signer_sign_cert(ca->sig, x), UC_OK);
	assert_int_equal(signer_set_cert(rs, x), UC_OK);
	return rs;
}

/* A DER request for serials (hex) of ca's certificates, hashed with md. */
static unsigned char *
request_make(X509 *issuer, const char *const *serials, size_t n,
    const EVP_MD *md, int nonce, size_t *len)
{
	OCSP_REQUEST *req;
	OCSP_CERTID *cid;
	ASN1_INTEGER *ai;
	BIGNUM *bn;
	unsigned char *der = NULL;
	size_t i;
	int l;

	assert_non_null(req = OCSP_REQUEST_new());
	for (i = 0; i < n; i++) {
		bn = NULL;
		assert_true(BN_hex2bn(&bn, serials[i]) > 0);
		assert_non_null(ai = BN_to_ASN1_INTEGER(bn, NULL));
		assert_non_null(cid = OCSP_cert_id_new(md,
		    X509_get_subject_name(issuer),
		    X509_get0_pubkey_bitstr(issuer), ai));
		assert_non_null(OCSP_request_add0_id(req, cid));
		ASN1_INTEGER_free(ai);
		BN_free(bn);
	}
	if (nonce)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, -1), 1);
	assert_true((l = i2d_OCSP_REQUEST(req, &der)) > 0);
	*len = (size_t)l;
	OCSP_REQUEST_free(req);
	return der;
}

static void
test_answer(void **state)
{
	static const char *const serials[] = { "0A1B", "0C", "7F01" };
	struct ca ca, other;
	struct signer *rs;
	struct ocsp_query *q = NULL;
	struct ocsp_status st[3];
	OCSP_REQUEST *req = NULL, *creq;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_SINGLERESP *sr;
	ASN1_GENERALIZEDTIME *rev, *tu, *nu;
	X509_STORE *store;
	STACK_OF(X509) *untrusted;
	unsigned char *reqder, *der = NULL;
	const unsigned char *p;
	size_t reqlen, n, len;
	int nonce, reason, md, k;
	const EVP_MD *mds[2];

	(void)state;
	mds[0] = EVP_sha1();
	mds[1] = EVP_sha256();
	ca_make(&ca, "Example CA");
	ca_make(&other, "Other CA");
	rs = responder_make(&ca);
	for (md = 0; md < 2; md++) {
		reqder = request_make(ca.cert, serials, 3, mds[md], 1, &reqlen);
		assert_int_equal(ocsp_request_parse(reqder, reqlen, ca.cert,
		    &req, &q, &n, &nonce), UC_OK);
		assert_int_equal(n, 3);
		assert_int_equal(nonce, 1);
		assert_string_equal(q[0].serial, "0A1B");
		assert_string_equal(q[1].serial, "0C");
		assert_true(q[0].ours && q[1].ours && q[2].ours);
		assert_int_equal(q[0].md_nid, md ? NID_sha256 : NID_sha1);
		/* The same request is not about the other CA. */
		free(q);
		OCSP_REQUEST_free(req);
		assert_int_equal(ocsp_request_parse(reqder, reqlen, other.cert,
		    &req, &q, &n, &nonce), UC_OK);
		assert_false(q[0].ours);
		free(q);
		OCSP_REQUEST_free(req);
		assert_int_equal(ocsp_request_parse(reqder, reqlen, ca.cert,
		    &req, &q, &n, &nonce), UC_OK);

		memset(st, 0, sizeof(st));
		st[0].status = V_OCSP_CERTSTATUS_GOOD;
		st[1].status = V_OCSP_CERTSTATUS_REVOKED;
		st[1].revoked_at = t0 - 3600;
		st[1].reason = 1;	/* keyCompromise */
		st[2].status = V_OCSP_CERTSTATUS_UNKNOWN;
		assert_int_equal(ocsp_response_sign(req, st, 3, rs, NULL, t0,
		    t0 + 3600, &der, &len), UC_OK);

		p = der;
		assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len));
		assert_int_equal(OCSP_response_status(resp),
		    OCSP_RESPONSE_STATUS_SUCCESSFUL);
		assert_non_null(bs = OCSP_response_get1_basic(resp));
		/* The client's own request: its nonce must come back. */
		p = reqder;
		assert_non_null(creq = d2i_OCSP_REQUEST(NULL, &p,
		    (long)reqlen));
		assert_int_equal(OCSP_check_nonce(creq, bs), 1);
		/* The responder chains to the CA and may sign for it. */
		assert_non_null(store = X509_STORE_new());
		assert_int_equal(X509_STORE_add_cert(store, ca.cert), 1);
		untrusted = sk_X509_new_null();
		assert_int_equal(OCSP_basic_verify(bs, untrusted, store, 0), 1);
		for (k = 0; k < 3; k++) {
			assert_non_null(sr = OCSP_resp_get0(bs, k));
			assert_int_equal(OCSP_single_get0_status(sr, &reason,
			    &rev, &tu, &nu), st[k].status);
			assert_non_null(tu);
			assert_non_null(nu);
			assert_int_equal(OCSP_check_validity(tu, nu, 300, -1),
			    1);
			if (k == 1) {
				assert_int_equal(reason, 1);
				assert_non_null(rev);
			}
		}
		sk_X509_free(untrusted);
		X509_STORE_free(store);
		OCSP_REQUEST_free(creq);
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(resp);
		free(der);
		OPENSSL_free(reqder);
		OCSP_REQUEST_free(req);
		free(q);
	}
	signer_free(rs);
	signer_free(ca.sig);
	signer_free(other.sig);
}

static void
test_responder_cert(void **state)
{
	struct ca ca;
	struct signer *rs;
	X509 *x;
	int crit = 0;
	ASN1_NULL *nc;

	(void)state;
	ca_make(&ca, "Example CA");
	rs = responder_make(&ca);
	x = signer_cert(rs);
	assert_true(X509_get_extended_key_usage(x) & XKU_OCSP_SIGN);
	assert_non_null(nc = X509_get_ext_d2i(x, NID_id_pkix_OCSP_noCheck,
	    &crit, NULL));
	ASN1_NULL_free(nc);
	assert_int_equal(X509_check_purpose(x, X509_PURPOSE_OCSP_HELPER, 0),
	    1);
	assert_int_equal(X509_check_issued(ca.cert, x), X509_V_OK);
	signer_free(rs);
	signer_free(ca.sig);
}

static void
test_malformed(void **state)
{
	static const char *const one[] = { "01" };
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	struct ca ca;
	struct ocsp_query *q = NULL;
	OCSP_REQUEST *req = NULL;
	OCSP_RESPONSE *resp;
	unsigned char *reqder, *big, *der = NULL;
	const unsigned char *p;
	size_t reqlen, n, len;
	int nonce;

	(void)state;
	ca_make(&ca, "Example CA");
	assert_int_equal(ocsp_request_parse(junk, sizeof(junk), ca.cert, &req,
	    &q, &n, &nonce), UC_E_INVALID);
	assert_null(req);
	assert_int_equal(ocsp_request_parse(junk, 0, ca.cert, &req, &q, &n,
	    &nonce), UC_E_INVALID);
	reqder = request_make(ca.cert, one, 1, EVP_sha1(), 0, &reqlen);
	/* Truncated, and with trailing bytes. */
	assert_int_equal(ocsp_request_parse(reqder, reqlen - 1, ca.cert, &req,
	    &q, &n, &nonce), UC_E_INVALID);
	assert_non_null(big = calloc(1, OCSP_REQ_MAX + 1));
	memcpy(big, reqder, reqlen);
	assert_int_equal(ocsp_request_parse(big, reqlen + 1, ca.cert, &req,
	    &q, &n, &nonce), UC_E_INVALID);
	assert_int_equal(ocsp_request_parse(big, OCSP_REQ_MAX + 1, ca.cert,
	    &req, &q, &n, &nonce), UC_E_INVALID);
	free(big);
	/* An MD5 CertID is refused. */
	OPENSSL_free(reqder);
	reqder = request_make(ca.cert, one, 1, EVP_md5(), 0, &reqlen);
	assert_int_equal(ocsp_request_parse(reqder, reqlen, ca.cert, &req,
	    &q, &n, &nonce), UC_E_INVALID);
	OPENSSL_free(reqder);
	/* A nonce-less request parses without one. */
	reqder = request_make(ca.cert, one, 1, EVP_sha256(), 0, &reqlen);
	assert_int_equal(ocsp_request_parse(reqder, reqlen, ca.cert, &req,
	    &q, &n, &nonce), UC_OK);
	assert_int_equal(nonce, 0);
	OCSP_REQUEST_free(req);
	free(q);
	OPENSSL_free(reqder);

	assert_int_equal(ocsp_response_error(
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, &der, &len), UC_OK);
	p = der;
	assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len));
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OCSP_RESPONSE_free(resp);
	free(der);
	signer_free(ca.sig);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_responder_cert),
		cmocka_unit_test(test_malformed),
	};

	t0 = uc_now();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
