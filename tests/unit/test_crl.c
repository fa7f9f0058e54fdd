/*
 * test_crl.c: v2 CRLs built by crl_build() and signed by the signer,
 * checked with OpenSSL's own accessors.
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
#include <openssl/x509v3.h>

#include "pki.h"

#define T0		INT64_C(1767225600)	/* 2026-01-01T00:00:00Z */
#define DAY		INT64_C(86400)

/* A self-signed CA held in memory. */
struct ca {
	struct signer	*sig;
	X509		*cert;		/* borrowed from sig */
	EVP_PKEY	*pub;
};

static void
ca_make(struct ca *ca, enum key_type t, const char *cn)
{
	struct cert_req req;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	memset(ca, 0, sizeof(*ca));
	memset(&req, 0, sizeof(req));
	req.kind = CK_ROOT;
	req.org = "Example Org";
	req.cn = cn;
	req.not_before = T0 - DAY;
	req.not_after = T0 + 3650 * DAY;
	assert_int_equal(key_generate(t, &key), UC_OK);
	assert_int_equal(cert_build(&req, key, NULL, &x), UC_OK);
	assert_int_equal(signer_from_key(key, NULL, &ca->sig), UC_OK);
	key = NULL;	/* now owned by the signer */
	assert_int_equal(signer_sign_cert(ca->sig, x), UC_OK);
	assert_int_equal(signer_set_cert(ca->sig, x), UC_OK);
	ca->cert = signer_cert(ca->sig);
	assert_ptr_equal(ca->cert, x);
	ca->pub = signer_pubkey(ca->sig);
	assert_non_null(ca->pub);
}

static void
ca_free(struct ca *ca)
{
	EVP_PKEY_free(ca->pub);
	signer_free(ca->sig);
	memset(ca, 0, sizeof(*ca));
}

static int
setup_ec(void **state)
{
	struct ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return -1;
	ca_make(ca, KT_EC_P256, "Example CRL Test CA");
	*state = ca;
	return 0;
}

static int
setup_ed25519(void **state)
{
	struct ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return -1;
	ca_make(ca, KT_ED25519, "Example Ed25519 CA");
	*state = ca;
	return 0;
}

static int
teardown(void **state)
{
	struct ca *ca = *state;

	if (ca != NULL) {
		ca_free(ca);
		free(ca);
	}
	return 0;
}

static const struct crl_entry entries[] = {
	{ "0A1B", T0 - 3 * DAY, 1 },		/* keyCompromise */
	{ "7F00FF00112233445566778899AABBCC", T0 - 2 * DAY, 4 },	/* superseded */
	{ "01", T0 - DAY, 0 },			/* unspecified */
};
#define NENTRIES	(sizeof(entries) / sizeof(entries[0]))

static X509_CRL *
build_signed(struct ca *ca, int64_t number, int64_t this_update,
    int64_t next_update)
{
	X509_CRL *crl = NULL;
	int rc;

	rc = crl_build(ca->cert, entries, NENTRIES, number, this_update,
	    next_update, &crl);
	if (rc != UC_OK)
		print_error("crl_build: %s\n", uc_errmsg());
	assert_int_equal(rc, UC_OK);
	assert_non_null(crl);
	assert_int_equal(signer_sign_crl(ca->sig, crl), UC_OK);
	return crl;
}

static int64_t
t_of(const ASN1_TIME *t)
{
	int64_t v = -1;

	assert_non_null(t);
	assert_int_equal(uc_asn1_time(t, &v), UC_OK);
	return v;
}

static ASN1_INTEGER *
serial_of(const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *s;

	assert_true(BN_hex2bn(&bn, hex) > 0);
	s = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	assert_non_null(s);
	return s;
}

static void
check_crl(struct ca *ca, X509_CRL *crl, int64_t number, int64_t this_update,
    int64_t next_update)
{
	STACK_OF(X509_REVOKED) *revs;
	X509_REVOKED *rev;
	ASN1_INTEGER *serial, *num;
	ASN1_ENUMERATED *reason;
	AUTHORITY_KEYID *akid;
	const ASN1_OCTET_STRING *ski;
	size_t i;
	int crit;

	assert_int_equal(X509_CRL_get_version(crl), 1);	/* v2 */
	assert_int_equal(X509_CRL_verify(crl, ca->pub), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(ca->cert)), 0);
	assert_true(t_of(X509_CRL_get0_lastUpdate(crl)) == this_update);
	assert_true(t_of(X509_CRL_get0_nextUpdate(crl)) == next_update);

	/* The entries: serials, dates, reasons. */
	revs = X509_CRL_get_REVOKED(crl);
	assert_non_null(revs);
	assert_int_equal(sk_X509_REVOKED_num(revs), NENTRIES);
	for (i = 0; i < NENTRIES; i++) {
		serial = serial_of(entries[i].serial);
		rev = NULL;
		assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, serial),
		    1);
		assert_non_null(rev);
		assert_int_equal(ASN1_INTEGER_cmp(
		    X509_REVOKED_get0_serialNumber(rev), serial), 0);
		ASN1_INTEGER_free(serial);
		assert_true(t_of(X509_REVOKED_get0_revocationDate(rev)) ==
		    entries[i].revoked_at);

		crit = -2;
		reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit,
		    NULL);
		if (entries[i].reason <= 0) {
			/* unspecified is expressed by leaving it out */
			assert_null(reason);
			assert_int_equal(crit, -1);
			assert_int_equal(X509_REVOKED_get_ext_count(rev), 0);
		} else {
			assert_non_null(reason);
			assert_int_equal(crit, 0);
			assert_int_equal(ASN1_ENUMERATED_get(reason),
			    entries[i].reason);
			ASN1_ENUMERATED_free(reason);
		}
	}
	/* A serial that was not revoked is not listed. */
	serial = serial_of("0A1C");
	rev = NULL;
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, serial), 0);
	ASN1_INTEGER_free(serial);

	/* CRL number, non-critical. */
	crit = -2;
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	assert_non_null(num);
	assert_int_equal(crit, 0);
	assert_int_equal(ASN1_INTEGER_get(num), number);
	ASN1_INTEGER_free(num);

	/* AKI keyid == the CA's SKI. */
	crit = -2;
	akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit,
	    NULL);
	assert_non_null(akid);
	assert_int_equal(crit, 0);
	ski = X509_get0_subject_key_id(ca->cert);
	assert_non_null(ski);
	assert_non_null(akid->keyid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, ski), 0);
	AUTHORITY_KEYID_free(akid);

	/* Nothing else: number and AKI only. */
	assert_int_equal(X509_CRL_get_ext_count(crl), 2);
}

static void
test_crl_contents(void **state)
{
	struct ca *ca = *state;
	X509_CRL *crl;

	crl = build_signed(ca, 7, T0, T0 + 7 * DAY);
	check_crl(ca, crl, 7, T0, T0 + 7 * DAY);
	X509_CRL_free(crl);
}

static void
test_crl_contents_ed25519(void **state)
{
	test_crl_contents(state);
}

/* The signature is over what is in the CRL: a different key fails. */
static void
test_crl_wrong_key(void **state)
{
	struct ca *ca = *state, other;
	X509_CRL *crl;

	ca_make(&other, KT_EC_P256, "Other CA");
	crl = build_signed(ca, 1, T0, T0 + DAY);
	assert_int_equal(X509_CRL_verify(crl, other.pub), 0);
	ERR_clear_error();
	assert_int_equal(X509_CRL_verify(crl, ca->pub), 1);
	X509_CRL_free(crl);
	ca_free(&other);
}

/* Times past 2049 are GeneralizedTime and must still round trip. */
static void
test_crl_far_times(void **state)
{
	struct ca *ca = *state;
	X509_CRL *crl;
	const int64_t t2049 = INT64_C(2524607999);	/* 2049-12-31T23:59:59Z */
	const int64_t t2051 = INT64_C(2556144000);	/* 2051-01-01T00:00:00Z */

	crl = build_signed(ca, INT64_C(4294967296), t2049, t2051);
	assert_int_equal(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl)),
	    V_ASN1_UTCTIME);
	assert_int_equal(ASN1_STRING_type(X509_CRL_get0_nextUpdate(crl)),
	    V_ASN1_GENERALIZEDTIME);
	assert_true(t_of(X509_CRL_get0_lastUpdate(crl)) == t2049);
	assert_true(t_of(X509_CRL_get0_nextUpdate(crl)) == t2051);
	X509_CRL_free(crl);
}

static void
test_crl_empty(void **state)
{
	struct ca *ca = *state;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num;

	assert_int_equal(crl_build(ca->cert, NULL, 0, 1, T0, T0 + DAY, &crl),
	    UC_OK);
	assert_int_equal(signer_sign_crl(ca->sig, crl), UC_OK);
	assert_int_equal(X509_CRL_verify(crl, ca->pub), 1);
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), 1);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
}

static void
test_crl_encodings(void **state)
{
	struct ca *ca = *state;
	X509_CRL *crl, *back = NULL;
	unsigned char *der = NULL, *der2 = NULL, *pem = NULL, *junk = NULL;
	size_t derlen = 0, der2len = 0, pemlen = 0;

	crl = build_signed(ca, 7, T0, T0 + 7 * DAY);

	/* DER round trip. */
	assert_int_equal(crl_der(crl, &der, &derlen), UC_OK);
	assert_non_null(der);
	assert_true(derlen > 0);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(crl_parse(der, derlen, &back), UC_OK);
	assert_non_null(back);
	assert_int_equal(crl_der(back, &der2, &der2len), UC_OK);
	assert_int_equal(der2len, derlen);
	assert_memory_equal(der2, der, derlen);
	check_crl(ca, back, 7, T0, T0 + 7 * DAY);
	X509_CRL_free(back);
	back = NULL;
	free(der2);
	der2 = NULL;

	/* PEM round trip. */
	assert_int_equal(crl_to_pem(crl, &pem, &pemlen), UC_OK);
	assert_non_null(pem);
	assert_true(pemlen > 30);
	assert_memory_equal(pem, "-----BEGIN X509 CRL-----\n", 25);
	assert_int_equal(crl_parse(pem, pemlen, &back), UC_OK);
	assert_non_null(back);
	assert_int_equal(crl_der(back, &der2, &der2len), UC_OK);
	assert_int_equal(der2len, derlen);
	assert_memory_equal(der2, der, derlen);
	X509_CRL_free(back);
	back = NULL;
	free(der2);
	free(pem);

	/* DER with trailing junk, truncated DER, garbage, empty. */
	junk = malloc(derlen + 1);
	assert_non_null(junk);
	memcpy(junk, der, derlen);
	junk[derlen] = 0;
	assert_int_equal(crl_parse(junk, derlen + 1, &back), UC_E_INVALID);
	assert_null(back);
	assert_int_equal(crl_parse(junk, derlen - 1, &back), UC_E_INVALID);
	assert_null(back);
	free(junk);
	assert_int_equal(crl_parse((const unsigned char *)"garbage", 7, &back),
	    UC_E_INVALID);
	assert_null(back);
	assert_int_equal(crl_parse(der, 0, &back), UC_E_INVALID);
	assert_null(back);
	assert_int_equal(ERR_peek_error(), 0);	/* queue drained */

	free(der);
	X509_CRL_free(crl);
}

static void
test_crl_bad_times(void **state)
{
	struct ca *ca = *state;
	X509_CRL *crl = (X509_CRL *)(uintptr_t)1;

	assert_int_equal(crl_build(ca->cert, entries, NENTRIES, 1, T0, T0,
	    &crl), UC_E_INVALID);
	assert_null(crl);
	crl = (X509_CRL *)(uintptr_t)1;
	assert_int_equal(crl_build(ca->cert, entries, NENTRIES, 1, T0,
	    T0 - 1, &crl), UC_E_INVALID);
	assert_null(crl);
	assert_non_null(strstr(uc_errmsg(), "nextUpdate"));
}

static void
test_crl_reasons(void **state)
{
	static const struct {
		const char	*name;
		int		 code;
	} known[] = {
		{ "unspecified", 0 }, { "keyCompromise", 1 },
		{ "cACompromise", 2 }, { "affiliationChanged", 3 },
		{ "superseded", 4 }, { "cessationOfOperation", 5 },
		{ "certificateHold", 6 }, { "privilegeWithdrawn", 9 },
		{ "aACompromise", 10 },
	};
	size_t i;
	int code;

	(void)state;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		code = -100;
		assert_int_equal(crl_reason_parse(known[i].name, &code), UC_OK);
		assert_int_equal(code, known[i].code);
		assert_string_equal(crl_reason_name(code), known[i].name);
	}
	/* Names are matched without regard to case. */
	assert_int_equal(crl_reason_parse("KEYCOMPROMISE", &code), UC_OK);
	assert_int_equal(code, 1);

	uc_clearerr();
	assert_int_equal(crl_reason_parse("stolen", &code), UC_E_INVALID);
	assert_non_null(strstr(uc_errmsg(), "stolen"));
	assert_int_equal(crl_reason_parse("", &code), UC_E_INVALID);
	/* 7 is unused; removeFromCRL (8) only belongs in delta CRLs. */
	assert_int_equal(crl_reason_parse("removeFromCRL", &code),
	    UC_E_INVALID);
	assert_string_equal(crl_reason_name(7), "none");
	assert_string_equal(crl_reason_name(-1), "none");
	assert_string_equal(crl_reason_name(11), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crl_contents, setup_ec,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_contents_ed25519,
		    setup_ed25519, teardown),
		cmocka_unit_test_setup_teardown(test_crl_wrong_key, setup_ec,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_far_times, setup_ec,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_empty, setup_ec,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_encodings, setup_ec,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_bad_times, setup_ec,
		    teardown),
		cmocka_unit_test(test_crl_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
