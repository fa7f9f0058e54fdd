/*
 * test_p12.c: PKCS#12 bundles in the modern and legacy formats, taken apart
 * with OpenSSL to check the algorithms actually used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "pki.h"

#define T0		INT64_C(1767225600)	/* 2026-01-01T00:00:00Z */
#define DAY		INT64_C(86400)
#define PASS		"correct-horse-battery"
#define FRIENDLY	"alice (Example Org)"

struct fixture {
	struct signer	*ca;
	X509		*ca_cert;	/* borrowed from ca */
	EVP_PKEY	*key;		/* the user's */
	X509		*cert;
	STACK_OF(X509)	*chain;
};

static int
setup(void **state)
{
	struct fixture *f;
	struct cert_req req;
	struct identity id;
	EVP_PKEY *cakey = NULL;
	X509 *x = NULL;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;

	memset(&req, 0, sizeof(req));
	req.kind = CK_ROOT;
	req.org = "Example Org";
	req.cn = "Example Root CA";
	req.not_before = T0 - DAY;
	req.not_after = T0 + 3650 * DAY;
	assert_int_equal(key_generate(KT_EC_P256, &cakey), UC_OK);
	assert_int_equal(cert_build(&req, cakey, NULL, &x), UC_OK);
	assert_int_equal(signer_from_key(cakey, NULL, &f->ca), UC_OK);
	assert_int_equal(signer_sign_cert(f->ca, x), UC_OK);
	assert_int_equal(signer_set_cert(f->ca, x), UC_OK);
	f->ca_cert = signer_cert(f->ca);

	memset(&id, 0, sizeof(id));
	id.username = "alice";
	id.email = "alice@example.org";
	id.upn = "alice@corp.example.org";
	id.name = "Alice Example";
	memset(&req, 0, sizeof(req));
	req.kind = CK_USER;
	req.org = "Example Org";
	req.id = &id;
	req.base_url = "https://ca.example.org/pki";
	req.not_before = T0;
	req.not_after = T0 + 365 * DAY;
	assert_int_equal(key_generate(KT_EC_P256, &f->key), UC_OK);
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &f->cert),
	    UC_OK);
	assert_int_equal(signer_sign_cert(f->ca, f->cert), UC_OK);

	f->chain = sk_X509_new_null();
	assert_non_null(f->chain);
	assert_int_equal(X509_up_ref(f->ca_cert), 1);
	assert_true(sk_X509_push(f->chain, f->ca_cert) > 0);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	sk_X509_pop_free(f->chain, X509_free);
	X509_free(f->cert);
	EVP_PKEY_free(f->key);
	signer_free(f->ca);
	free(f);
	return 0;
}

/* What a PKCS#12 file is made of, as far as these tests care. */
struct p12_info {
	int	 mac_md;		/* NID of the MAC digest */
	int	 key_alg;		/* NID of the shrouded key bag's PBE */
	int	 key_cipher;		/* PBES2: NID of the cipher, else 0 */
	int	 key_prf;		/* PBES2: NID of the PBKDF2 PRF */
	int	 certs_alg;		/* NID of the encrypted certs' PBE */
	int	 certs_cipher;		/* PBES2: the cipher */
	int	 nkeys;
	int	 ncerts;
	int	 other_bags;
	char	*key_name;		/* friendlyName of the key bag */
	char	*leaf_name;		/* ... of the bag holding the leaf */
};

static void
info_clear(struct p12_info *in)
{
	OPENSSL_free(in->key_name);
	OPENSSL_free(in->leaf_name);
	memset(in, 0, sizeof(*in));
}

/* NID of a PBE algorithm; for PBES2 also its cipher and PRF. */
static int
pbe_nid(const X509_ALGOR *alg, int *cipher, int *prf)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, nid;
	PBE2PARAM *pbe2;
	PBKDF2PARAM *kdf;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	nid = OBJ_obj2nid(obj);
	if (cipher != NULL)
		*cipher = 0;
	if (prf != NULL)
		*prf = 0;
	if (nid != NID_pbes2)
		return nid;
	assert_int_equal(ptype, V_ASN1_SEQUENCE);
	pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
	    alg->parameter);
	assert_non_null(pbe2);
	if (cipher != NULL)
		*cipher = OBJ_obj2nid(pbe2->encryption->algorithm);
	assert_int_equal(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_pbkdf2);
	kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
	    pbe2->keyfunc->parameter);
	assert_non_null(kdf);
	/* As many iterations as OpenSSL's own export, a salt of >= 16. */
	assert_true(ASN1_INTEGER_get(kdf->iter) >= PKCS12_DEFAULT_ITER);
	assert_int_equal(kdf->salt->type, V_ASN1_OCTET_STRING);
	assert_true(ASN1_STRING_length(kdf->salt->value.octet_string) >= 16);
	if (prf != NULL)
		/* An absent PRF means HMAC-SHA1 (RFC 8018). */
		*prf = kdf->prf != NULL ? OBJ_obj2nid(kdf->prf->algorithm) :
		    NID_hmacWithSHA1;
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(pbe2);
	return nid;
}

static void
walk_bags(const STACK_OF(PKCS12_SAFEBAG) *bags, X509 *leaf,
    struct p12_info *in)
{
	const PKCS12_SAFEBAG *bag;
	const X509_ALGOR *alg;
	X509 *x;
	int i;

	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		bag = sk_PKCS12_SAFEBAG_value(bags, i);
		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_pkcs8ShroudedKeyBag:
			in->nkeys++;
			X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg,
			    NULL);
			in->key_alg = pbe_nid(alg, &in->key_cipher,
			    &in->key_prf);
			in->key_name = PKCS12_get_friendlyname(
			    (PKCS12_SAFEBAG *)(uintptr_t)bag);
			break;
		case NID_certBag:
			in->ncerts++;
			assert_int_equal(PKCS12_SAFEBAG_get_bag_nid(bag),
			    NID_x509Certificate);
			x = PKCS12_SAFEBAG_get1_cert(bag);
			assert_non_null(x);
			if (X509_cmp(x, leaf) == 0)
				in->leaf_name = PKCS12_get_friendlyname(
				    (PKCS12_SAFEBAG *)(uintptr_t)bag);
			X509_free(x);
			break;
		default:
			in->other_bags++;
			break;
		}
	}
}

static void
p12_inspect(const unsigned char *der, size_t len, const char *pass,
    X509 *leaf, struct p12_info *in)
{
	const unsigned char *p = der;
	PKCS12 *p12;
	STACK_OF(PKCS7) *safes;
	STACK_OF(PKCS12_SAFEBAG) *bags;
	const X509_ALGOR *macalg = NULL;
	const ASN1_OBJECT *obj;
	PKCS7 *p7;
	int i, cipher;

	memset(in, 0, sizeof(*in));
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	assert_non_null(p12);
	assert_ptr_equal(p, der + len);

	PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
	assert_non_null(macalg);
	X509_ALGOR_get0(&obj, NULL, NULL, macalg);
	in->mac_md = OBJ_obj2nid(obj);

	safes = PKCS12_unpack_authsafes(p12);
	assert_non_null(safes);
	for (i = 0; i < sk_PKCS7_num(safes); i++) {
		p7 = sk_PKCS7_value(safes, i);
		switch (OBJ_obj2nid(p7->type)) {
		case NID_pkcs7_data:
			bags = PKCS12_unpack_p7data(p7);
			break;
		case NID_pkcs7_encrypted:
			in->certs_alg = pbe_nid(
			    p7->d.encrypted->enc_data->algorithm, &cipher,
			    NULL);
			in->certs_cipher = cipher;
			bags = PKCS12_unpack_p7encdata(p7, pass, -1);
			break;
		default:
			fail_msg("unexpected authsafe type %d",
			    OBJ_obj2nid(p7->type));
			return;
		}
		assert_non_null(bags);
		walk_bags(bags, leaf, in);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
}

/* Open with PKCS12_parse: key, leaf with its friendly name, one CA. */
static void
p12_open(const unsigned char *der, size_t len, const char *pass,
    struct fixture *f)
{
	const unsigned char *p = der;
	PKCS12 *p12;
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	STACK_OF(X509) *ca = NULL;
	const unsigned char *alias;
	int alen = 0;

	p12 = d2i_PKCS12(NULL, &p, (long)len);
	assert_non_null(p12);
	assert_int_equal(PKCS12_verify_mac(p12, pass, -1), 1);
	assert_int_equal(PKCS12_parse(p12, pass, &k, &c, &ca), 1);
	assert_non_null(k);
	assert_non_null(c);
	assert_int_equal(EVP_PKEY_eq(k, f->key), 1);
	assert_int_equal(X509_cmp(c, f->cert), 0);
	alias = X509_alias_get0(c, &alen);
	assert_non_null(alias);
	assert_int_equal(alen, strlen(FRIENDLY));
	assert_memory_equal(alias, FRIENDLY, strlen(FRIENDLY));
	assert_non_null(ca);
	assert_int_equal(sk_X509_num(ca), 1);
	assert_int_equal(X509_cmp(sk_X509_value(ca, 0), f->ca_cert), 0);
	sk_X509_pop_free(ca, X509_free);
	X509_free(c);
	EVP_PKEY_free(k);
	PKCS12_free(p12);
}

static void
build(struct fixture *f, enum p12_format fmt, unsigned char **der,
    size_t *len)
{
	int rc;

	*der = NULL;
	rc = p12_build(f->key, f->cert, f->chain, FRIENDLY, PASS, fmt, der,
	    len);
	if (rc != UC_OK)
		print_error("p12_build: %s\n", uc_errmsg());
	assert_int_equal(rc, UC_OK);
	assert_non_null(*der);
	assert_true(*len > 0);
}

static void
check_passwords(struct fixture *f, const unsigned char *der, size_t len)
{
	assert_int_equal(p12_check(der, len, PASS, f->cert), UC_OK);
	uc_clearerr();
	assert_int_equal(p12_check(der, len, "wrong", f->cert),
	    UC_E_PASSPHRASE);
	assert_true(uc_errmsg()[0] != '\0');
	assert_int_equal(p12_check(der, len, "", f->cert), UC_E_PASSPHRASE);
	assert_int_equal(p12_check(der, len, PASS "x", f->cert),
	    UC_E_PASSPHRASE);
	/* Opens, but holds another certificate. */
	assert_int_equal(p12_check(der, len, PASS, f->ca_cert), UC_E_INVALID);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_p12_modern(void **state)
{
	struct fixture *f = *state;
	struct p12_info in;
	unsigned char *der;
	size_t len;

	build(f, P12_MODERN, &der, &len);
	check_passwords(f, der, len);
	p12_open(der, len, PASS, f);

	p12_inspect(der, len, PASS, f->cert, &in);
	assert_int_equal(in.mac_md, NID_sha256);
	assert_int_equal(in.key_alg, NID_pbes2);
	assert_int_equal(in.key_cipher, NID_aes_256_cbc);
	assert_int_equal(in.key_prf, NID_hmacWithSHA256);
	assert_int_equal(in.certs_alg, NID_pbes2);
	assert_int_equal(in.certs_cipher, NID_aes_256_cbc);
	assert_int_equal(in.nkeys, 1);
	assert_int_equal(in.ncerts, 2);		/* leaf + CA */
	assert_int_equal(in.other_bags, 0);
	assert_non_null(in.key_name);
	assert_string_equal(in.key_name, FRIENDLY);
	assert_non_null(in.leaf_name);
	assert_string_equal(in.leaf_name, FRIENDLY);
	info_clear(&in);
	free(der);
}

static void
test_p12_legacy(void **state)
{
	struct fixture *f = *state;
	struct p12_info in;
	unsigned char *der;
	size_t len;

	build(f, P12_LEGACY, &der, &len);
	check_passwords(f, der, len);
	p12_open(der, len, PASS, f);

	p12_inspect(der, len, PASS, f->cert, &in);
	assert_int_equal(in.mac_md, NID_sha1);
	assert_int_equal(in.key_alg, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
	assert_int_not_equal(in.key_alg, NID_pbe_WithSHA1And40BitRC2_CBC);
	assert_int_not_equal(in.key_alg, NID_pbe_WithSHA1And128BitRC2_CBC);
	/* The certificates are not under RC2-40 either. */
	assert_int_equal(in.certs_alg, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
	assert_int_not_equal(in.certs_alg, NID_pbe_WithSHA1And40BitRC2_CBC);
	assert_int_equal(in.nkeys, 1);
	assert_int_equal(in.ncerts, 2);
	assert_int_equal(in.other_bags, 0);
	assert_non_null(in.key_name);
	assert_string_equal(in.key_name, FRIENDLY);
	assert_non_null(in.leaf_name);
	assert_string_equal(in.leaf_name, FRIENDLY);
	info_clear(&in);
	free(der);
}

/* Without a chain: only the leaf. */
static void
test_p12_no_chain(void **state)
{
	struct fixture *f = *state;
	struct p12_info in;
	unsigned char *der = NULL;
	size_t len;

	assert_int_equal(p12_build(f->key, f->cert, NULL, FRIENDLY, PASS,
	    P12_MODERN, &der, &len), UC_OK);
	assert_int_equal(p12_check(der, len, PASS, f->cert), UC_OK);
	p12_inspect(der, len, PASS, f->cert, &in);
	assert_int_equal(in.ncerts, 1);
	assert_int_equal(in.nkeys, 1);
	info_clear(&in);
	free(der);
}

/*
 * A password with bytes outside ASCII (the read-back then also opens the
 * key bag through OpenSSL's reader): the file opens with exactly that
 * password through PKCS12_parse(), in both formats, and not with its
 * ASCII look-alike.
 */
static void
test_p12_utf8_password(void **state)
{
	struct fixture *f = *state;
	const char *pw = "p\xc3\xa4ssw\xc3\xb6rd-\xe2\x82\xac-42";
	const enum p12_format fmts[] = { P12_MODERN, P12_LEGACY };
	unsigned char *der = NULL;
	size_t len = 0, i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		assert_int_equal(p12_build(f->key, f->cert, f->chain, FRIENDLY,
		    pw, fmts[i], &der, &len), UC_OK);
		p12_open(der, len, pw, f);
		assert_int_equal(p12_check(der, len, pw, f->cert), UC_OK);
		assert_int_equal(p12_check(der, len, "password-E-42",
		    f->cert), UC_E_PASSPHRASE);
		free(der);
		der = NULL;
	}
	ERR_clear_error();
}

/* A key that does not belong to the certificate is refused. */
static void
test_p12_wrong_key(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = NULL;
	unsigned char *der = (unsigned char *)(uintptr_t)1;
	size_t len = 0;
	int rc;

	assert_int_equal(key_generate(KT_EC_P256, &other), UC_OK);
	rc = p12_build(other, f->cert, NULL, FRIENDLY, PASS, P12_MODERN, &der,
	    &len);
	assert_int_not_equal(rc, UC_OK);
	assert_null(der);
	EVP_PKEY_free(other);
	ERR_clear_error();
}

static void
test_p12_check_garbage(void **state)
{
	struct fixture *f = *state;
	unsigned char *der;
	size_t len;

	assert_int_equal(p12_check((const unsigned char *)"junk", 4, PASS,
	    f->cert), UC_E_INVALID);
	assert_int_equal(p12_check((const unsigned char *)"", 0, PASS,
	    f->cert), UC_E_INVALID);
	/* Truncated. */
	build(f, P12_MODERN, &der, &len);
	assert_int_equal(p12_check(der, len / 2, PASS, f->cert), UC_E_INVALID);
	free(der);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_p12_format_names(void **state)
{
	enum p12_format fmt;

	(void)state;
	assert_int_equal(p12_format_parse("modern", &fmt), UC_OK);
	assert_int_equal(fmt, P12_MODERN);
	assert_int_equal(p12_format_parse("legacy", &fmt), UC_OK);
	assert_int_equal(fmt, P12_LEGACY);
	assert_string_equal(p12_format_name(P12_MODERN), "modern");
	assert_string_equal(p12_format_name(P12_LEGACY), "legacy");
	assert_int_equal(p12_format_parse("rc2", &fmt), UC_E_INVALID);
	assert_int_equal(p12_format_parse("", &fmt), UC_E_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_p12_modern, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_p12_legacy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_p12_no_chain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_p12_utf8_password, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_p12_wrong_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_p12_check_garbage, setup,
		    teardown),
		cmocka_unit_test(test_p12_format_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
