/*
 * test_cert.c: identity syntax, URL checks and the user certificate
 * profile, read back with OpenSSL's accessors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define T0		INT64_C(1767225600)	/* 2026-01-01T00:00:00Z */
#define DAY		INT64_C(86400)
#define ORG		"Example Org"
#define BASE_URL	"https://ca.example.org/pki"
#define OID_MS_UPN	"1.3.6.1.4.1.311.20.2.3"

/* ---- identity_check ---------------------------------------------------- */

static struct identity
good_id(void)
{
	struct identity id;

	memset(&id, 0, sizeof(id));
	id.username = "alice";
	id.email = "alice@example.org";
	id.name = "Alice Example";
	id.upn = "alice@corp.example.org";
	id.ou = "Engineering";
	return id;
}

static void
expect_id_ok(const struct identity *id)
{
	int rc = identity_check(id);

	if (rc != UC_OK)
		print_error("identity_check(%s): %s\n", id->username,
		    uc_errmsg());
	assert_int_equal(rc, UC_OK);
}

/* Refused with UC_E_INVALID and a message naming the field. */
static void
expect_id_bad(const struct identity *id, const char *field)
{
	int rc;

	uc_clearerr();
	rc = identity_check(id);
	if (rc != UC_E_INVALID || strstr(uc_errmsg(), field) == NULL)
		print_error("identity_check: %d '%s' (want field %s)\n", rc,
		    uc_errmsg(), field);
	assert_int_equal(rc, UC_E_INVALID);
	assert_non_null(strstr(uc_errmsg(), field));
}

static void
test_identity_good(void **state)
{
	struct identity id = good_id();
	char u64[65];

	(void)state;
	expect_id_ok(&id);

	/* Only a username is needed. */
	memset(&id, 0, sizeof(id));
	id.username = "bob";
	expect_id_ok(&id);

	id = good_id();
	id.username = "first.last_2-x@corp";
	expect_id_ok(&id);
	id.username = "A";
	expect_id_ok(&id);
	memset(u64, 'u', 64);
	u64[64] = '\0';
	id.username = u64;
	expect_id_ok(&id);

	id = good_id();
	id.name = "Zoë Ångström 山田";	/* UTF-8 */
	expect_id_ok(&id);
	id.email = "o'brien+tag@mail.example.co.uk";
	expect_id_ok(&id);
	id.ou = "Forschung & Entwicklung";
	expect_id_ok(&id);
}

static void
test_identity_bad(void **state)
{
	struct identity id;
	char u65[66], ou65[66], ou64[65];

	(void)state;
	id = good_id();
	id.username = "";
	expect_id_bad(&id, "username");
	id.username = NULL;
	expect_id_bad(&id, "username");

	memset(u65, 'u', 65);
	u65[65] = '\0';
	id.username = u65;
	expect_id_bad(&id, "username");

	id.username = "alice smith";
	expect_id_bad(&id, "username");
	id.username = "alice/smith";
	expect_id_bad(&id, "username");
	id.username = "-alice";
	expect_id_bad(&id, "username");
	id.username = ".alice";
	expect_id_bad(&id, "username");
	id.username = "al,ice";
	expect_id_bad(&id, "username");
	id.username = "alïce";
	expect_id_bad(&id, "username");

	id = good_id();
	id.email = "alice.example.org";
	expect_id_bad(&id, "email");
	id.email = "alice@@example.org";
	expect_id_bad(&id, "email");
	id.email = "alice@corp@example.org";
	expect_id_bad(&id, "email");
	id.email = "@example.org";
	expect_id_bad(&id, "email");
	id.email = "alice@";
	expect_id_bad(&id, "email");
	id.email = "alice@exa mple.org";
	expect_id_bad(&id, "email");
	id.email = "alice@example.org,bob@example.org";
	expect_id_bad(&id, "email");

	id = good_id();
	id.upn = "alice@corp,example.org";
	expect_id_bad(&id, "upn");
	id.upn = "alice,x@corp.example.org";
	expect_id_bad(&id, "upn");
	id.upn = "alice";
	expect_id_bad(&id, "upn");

	id = good_id();
	id.name = "Alice\x01";
	expect_id_bad(&id, "name");
	id.name = "Alice\nExample";
	expect_id_bad(&id, "name");
	id.name = "Alice\x7f";
	expect_id_bad(&id, "name");
	id.name = "\xc3\x28";		/* invalid UTF-8 */
	expect_id_bad(&id, "name");
	id.name = "Alice\xc3";		/* truncated sequence */
	expect_id_bad(&id, "name");
	id.name = "\xc2\x85";		/* C1 control (NEL) */
	expect_id_bad(&id, "name");
	id.name = "\xc0\xaf";		/* overlong '/' */
	expect_id_bad(&id, "name");
	id.name = "\xed\xa0\x80";	/* surrogate */
	expect_id_bad(&id, "name");
	id.name = "\xe0\x82\xa0";	/* overlong 3-byte U+00A0 */
	expect_id_bad(&id, "name");
	id.name = "\xf0\x80\x82\xa0";	/* overlong 4-byte U+00A0 */
	expect_id_bad(&id, "name");
	id.name = "\xe2\x82\xac\xf0\x9f\x94\x91";	/* euro, key: fine */
	expect_id_ok(&id);
	id.name = "Alice";
	id.name = "";
	expect_id_bad(&id, "name");

	id = good_id();
	memset(ou65, 'o', 65);
	ou65[65] = '\0';
	id.ou = ou65;
	expect_id_bad(&id, "ou");
	memset(ou64, 'o', 64);
	ou64[64] = '\0';
	id.ou = ou64;
	expect_id_ok(&id);
}

/* ---- url_valid -------------------------------------------------------- */

static void
test_url_valid(void **state)
{
	char u[1100];

	(void)state;
	assert_int_equal(url_valid("https://ca.example.org"), 1);
	assert_int_equal(url_valid("http://"), 0);
	assert_int_equal(url_valid("https:///path"), 0);
	assert_int_equal(url_valid("https://ca.example.org/pki"), 1);
	assert_int_equal(url_valid("http://10.0.0.1:8080/ca"), 1);
	assert_int_equal(url_valid("https://ca.example.org/a?b=c&d=%20"), 1);

	assert_int_equal(url_valid(""), 0);
	assert_int_equal(url_valid("ftp://ca.example.org"), 0);
	assert_int_equal(url_valid("ca.example.org"), 0);
	assert_int_equal(url_valid("HTTPS://ca.example.org"), 0);
	assert_int_equal(url_valid("https://ca.example.org/a b"), 0);
	assert_int_equal(url_valid("https://ca.example.org/a,b"), 0);
	assert_int_equal(url_valid("https://ca.example.org/a\"b"), 0);
	assert_int_equal(url_valid("https://ca.example.org/a\\b"), 0);
	assert_int_equal(url_valid("https://ca.example.org/\n"), 0);
	assert_int_equal(url_valid("https://ca.example.org/\t"), 0);
	assert_int_equal(url_valid("https://ca.example.org/\x7f"), 0);
	assert_int_equal(url_valid("https://ca.exämple.org"), 0);
	/* An extension-config injection attempt. */
	assert_int_equal(url_valid("https://x/,URI:https://evil"), 0);

	/* Length: < 1024 characters. */
	memcpy(u, "https://", 8);
	memset(u + 8, 'a', 1023 - 8);
	u[1023] = '\0';
	assert_int_equal(url_valid(u), 1);
	u[1023] = 'a';
	u[1024] = '\0';
	assert_int_equal(url_valid(u), 0);
}

/* ---- cert_build ----------------------------------------------------------- */

struct fixture {
	struct signer	*ca;
	X509		*ca_cert;	/* borrowed from ca */
	EVP_PKEY	*ca_pub;
	EVP_PKEY	*key;		/* the user's */
};

static int
setup(void **state)
{
	struct fixture *f;
	struct cert_req req;
	EVP_PKEY *cakey = NULL;
	X509 *x = NULL;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;
	memset(&req, 0, sizeof(req));
	req.kind = CK_ROOT;
	req.org = ORG;
	req.cn = "Example Root CA";
	req.not_before = T0 - DAY;
	req.not_after = T0 + 1000 * DAY;
	assert_int_equal(key_generate(KT_EC_P256, &cakey), UC_OK);
	assert_int_equal(cert_build(&req, cakey, NULL, &x), UC_OK);
	assert_int_equal(signer_from_key(cakey, NULL, &f->ca), UC_OK);
	assert_int_equal(signer_sign_cert(f->ca, x), UC_OK);
	assert_int_equal(signer_set_cert(f->ca, x), UC_OK);
	f->ca_cert = signer_cert(f->ca);
	f->ca_pub = signer_pubkey(f->ca);
	assert_non_null(f->ca_pub);
	assert_int_equal(key_generate(KT_EC_P256, &f->key), UC_OK);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->ca_pub);
	signer_free(f->ca);
	free(f);
	return 0;
}

static void
user_req(struct cert_req *req, const struct identity *id)
{
	memset(req, 0, sizeof(*req));
	req->kind = CK_USER;
	req->org = ORG;
	req->id = id;
	req->base_url = BASE_URL;
	req->not_before = T0;
	req->not_after = T0 + 365 * DAY;
}

static X509 *
build_signed(struct fixture *f, const struct cert_req *req)
{
	X509 *x = NULL;
	int rc;

	rc = cert_build(req, f->key, f->ca_cert, &x);
	if (rc != UC_OK)
		print_error("cert_build: %s\n", uc_errmsg());
	assert_int_equal(rc, UC_OK);
	assert_non_null(x);
	assert_int_equal(signer_sign_cert(f->ca, x), UC_OK);
	return x;
}

static int64_t
t_of(const ASN1_TIME *t)
{
	int64_t v = -1;

	assert_int_equal(uc_asn1_time(t, &v), UC_OK);
	return v;
}

/* The one value of nid in name; fails if absent or repeated. */
static void
assert_name_entry(const X509_NAME *name, int nid, const char *want)
{
	const X509_NAME_ENTRY *e;
	const ASN1_STRING *s;
	int i;

	i = X509_NAME_get_index_by_NID(name, nid, -1);
	assert_true(i >= 0);
	assert_int_equal(X509_NAME_get_index_by_NID(name, nid, i), -1);
	e = X509_NAME_get_entry(name, i);
	s = X509_NAME_ENTRY_get_data(e);
	assert_int_equal(ASN1_STRING_length(s), strlen(want));
	assert_memory_equal(ASN1_STRING_get0_data(s), want, strlen(want));
}

/* The single URI among gens. */
static void
assert_uri(const GENERAL_NAMES *gens, const char *want)
{
	const GENERAL_NAME *g;
	const ASN1_IA5STRING *uri;

	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, GEN_URI);
	uri = g->d.uniformResourceIdentifier;
	assert_int_equal(ASN1_STRING_length(uri), strlen(want));
	assert_memory_equal(ASN1_STRING_get0_data(uri), want, strlen(want));
}

static void
check_eku(X509 *x, int email_protection)
{
	EXTENDED_KEY_USAGE *eku;
	int crit = -2;

	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	assert_non_null(eku);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), email_protection ? 2 : 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)),
	    NID_client_auth);
	if (email_protection)
		assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 1)),
		    NID_email_protect);
	EXTENDED_KEY_USAGE_free(eku);
	assert_int_equal(X509_get_extended_key_usage(x), email_protection ?
	    (XKU_SSL_CLIENT | XKU_SMIME) : XKU_SSL_CLIENT);
}

/*
 * An issuing CA's EKU: exactly what it issues, in this order, not
 * critical; emailProtection only for an S/MIME CA.  OpenSSL then refuses,
 * for the S/MIME purpose, anything the issuing CA signs unless smime.
 */
static void
test_cert_issuing_eku(void **state)
{
	struct fixture *f = *state;
	static const int want[] = {
		NID_client_auth, NID_server_auth, NID_OCSP_sign,
		NID_email_protect
	};
	struct cert_req req;
	EXTENDED_KEY_USAGE *eku;
	X509 *x;
	int crit, i, smime;

	for (smime = 0; smime <= 1; smime++) {
		memset(&req, 0, sizeof(req));
		req.kind = CK_ISSUING;
		req.org = ORG;
		req.cn = "Example Issuing CA";
		req.base_url = BASE_URL;
		req.smime = smime;
		req.not_before = T0;
		req.not_after = T0 + 365 * DAY;
		x = build_signed(f, &req);
		crit = -2;
		eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
		assert_non_null(eku);
		assert_int_equal(crit, 0);
		assert_int_equal(sk_ASN1_OBJECT_num(eku), smime ? 4 : 3);
		for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
			assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku,
			    i)), want[i]);
		EXTENDED_KEY_USAGE_free(eku);
		assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT,
		    1), 1);
		assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER,
		    1), 1);
		assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SMIME_SIGN,
		    1), smime ? 1 : 0);
		X509_free(x);
	}
	/* The root (the fixture's CA) has none: it limits nothing. */
	crit = -2;
	assert_null(X509_get_ext_d2i(f->ca_cert, NID_ext_key_usage, &crit,
	    NULL));
	assert_int_equal(crit, -1);
	ERR_clear_error();
}

static void
test_cert_user_profile(void **state)
{
	struct fixture *f = *state;
	struct identity id = good_id();
	struct cert_req req;
	X509 *x;
	const X509_NAME *subj;
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	ASN1_OBJECT *oid;
	ASN1_TYPE *val;
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	CRL_DIST_POINTS *dps;
	DIST_POINT *dp;
	AUTHORITY_INFO_ACCESS *aia;
	ACCESS_DESCRIPTION *ad;
	AUTHORITY_KEYID *akid;
	const ASN1_INTEGER *serial;
	char oidtxt[64];
	int crit, i, nemail = 0, nupn = 0;

	user_req(&req, &id);
	x = build_signed(f, &req);

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	serial = X509_get0_serialNumber(x);
	assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
	assert_true(ASN1_STRING_length(serial) <= 20);

	/* Subject: O, OU, CN; issuer is the CA. */
	subj = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_entry_count(subj), 3);
	assert_name_entry(subj, NID_commonName, "alice");
	assert_name_entry(subj, NID_organizationName, ORG);
	assert_name_entry(subj, NID_organizationalUnitName, "Engineering");
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(f->ca_cert)), 0);

	/* Validity as asked. */
	assert_true(t_of(X509_get0_notBefore(x)) == T0);
	assert_true(t_of(X509_get0_notAfter(x)) == T0 + 365 * DAY);

	/* SAN: rfc822Name and the UPN otherName (UTF8String). */
	crit = -2;
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL) {
			nemail++;
			assert_int_equal(ASN1_STRING_length(g->d.rfc822Name),
			    strlen(id.email));
			assert_memory_equal(ASN1_STRING_get0_data(
			    g->d.rfc822Name), id.email, strlen(id.email));
		} else if (g->type == GEN_OTHERNAME) {
			nupn++;
			assert_int_equal(GENERAL_NAME_get0_otherName(g, &oid,
			    &val), 1);
			assert_true(OBJ_obj2txt(oidtxt, sizeof(oidtxt), oid,
			    1) > 0);
			assert_string_equal(oidtxt, OID_MS_UPN);
			assert_int_equal(val->type, V_ASN1_UTF8STRING);
			assert_int_equal(ASN1_STRING_length(
			    val->value.utf8string), strlen(id.upn));
			assert_memory_equal(ASN1_STRING_get0_data(
			    val->value.utf8string), id.upn, strlen(id.upn));
		} else
			fail_msg("unexpected SAN type %d", g->type);
	}
	assert_int_equal(nemail, 1);
	assert_int_equal(nupn, 1);
	GENERAL_NAMES_free(gens);

	check_eku(x, 0);

	/* basicConstraints CA:FALSE, critical. */
	crit = -2;
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_int_equal(bc->ca, 0);
	assert_null(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);

	/* keyUsage critical; EC: digitalSignature only. */
	crit = -2;
	ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	assert_non_null(ku);
	assert_int_equal(crit, 1);
	ASN1_BIT_STRING_free(ku);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);

	/* CRL DP = base_url/crl.der */
	crit = -2;
	dps = X509_get_ext_d2i(x, NID_crl_distribution_points, &crit, NULL);
	assert_non_null(dps);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_DIST_POINT_num(dps), 1);
	dp = sk_DIST_POINT_value(dps, 0);
	assert_non_null(dp->distpoint);
	assert_int_equal(dp->distpoint->type, 0);	/* fullName */
	assert_uri(dp->distpoint->name.fullname, BASE_URL "/crl.der");
	CRL_DIST_POINTS_free(dps);

	/* AIA caIssuers = base_url/ca.crt, and nothing else. */
	crit = -2;
	aia = X509_get_ext_d2i(x, NID_info_access, &crit, NULL);
	assert_non_null(aia);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 1);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
	assert_int_equal(ad->location->type, GEN_URI);
	assert_int_equal(ASN1_STRING_length(
	    ad->location->d.uniformResourceIdentifier),
	    strlen(BASE_URL "/ca.crt"));
	assert_memory_equal(ASN1_STRING_get0_data(
	    ad->location->d.uniformResourceIdentifier), BASE_URL "/ca.crt",
	    strlen(BASE_URL "/ca.crt"));
	AUTHORITY_INFO_ACCESS_free(aia);

	/* SKI present; AKI = the CA's SKI. */
	assert_non_null(X509_get0_subject_key_id(x));
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, &crit, NULL);
	assert_non_null(akid);
	assert_non_null(akid->keyid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid,
	    X509_get0_subject_key_id(f->ca_cert)), 0);
	AUTHORITY_KEYID_free(akid);

	/* Signed by the CA. */
	assert_int_equal(X509_verify(x, f->ca_pub), 1);
	assert_int_equal(X509_verify(x, f->key), 0);
	ERR_clear_error();
	X509_free(x);
}

static void
test_cert_email_protection(void **state)
{
	struct fixture *f = *state;
	struct identity id = good_id();
	struct cert_req req;
	X509 *x;

	user_req(&req, &id);
	req.email_protection = 1;
	x = build_signed(f, &req);
	check_eku(x, 1);
	assert_int_equal(X509_verify(x, f->ca_pub), 1);
	X509_free(x);
}

/* No email, UPN, OU, base URL: no SAN, CRL DP, AIA or OU. */
static void
test_cert_minimal(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	struct cert_req req;
	X509 *x;
	int crit;

	memset(&id, 0, sizeof(id));
	id.username = "bob";
	user_req(&req, &id);
	req.base_url = NULL;
	x = build_signed(f, &req);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 2);
	assert_int_equal(X509_NAME_get_index_by_NID(X509_get_subject_name(x),
	    NID_organizationalUnitName, -1), -1);
	crit = -2;
	assert_null(X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL));
	assert_int_equal(crit, -1);
	assert_int_equal(X509_get_ext_by_NID(x, NID_crl_distribution_points,
	    -1), -1);
	assert_int_equal(X509_get_ext_by_NID(x, NID_info_access, -1), -1);
	assert_int_equal(X509_verify(x, f->ca_pub), 1);
	X509_free(x);
}

static void
test_cert_clipped(void **state)
{
	struct fixture *f = *state;
	struct identity id = good_id();
	struct cert_req req;
	X509 *x, *y = (X509 *)(uintptr_t)1;
	int64_t ca_end;

	ca_end = t_of(X509_get0_notAfter(f->ca_cert));
	assert_true(ca_end == T0 + 1000 * DAY);

	/* Asked for longer than the CA lives: cut to the CA's end. */
	user_req(&req, &id);
	req.not_after = T0 + 5000 * DAY;
	x = build_signed(f, &req);
	assert_true(t_of(X509_get0_notAfter(x)) == ca_end);
	assert_true(t_of(X509_get0_notBefore(x)) == T0);
	X509_free(x);

	/* Exactly the CA's end is kept. */
	req.not_after = ca_end;
	x = build_signed(f, &req);
	assert_true(t_of(X509_get0_notAfter(x)) == ca_end);
	X509_free(x);

	/* Starting after the CA expires: refused. */
	req.not_before = ca_end + DAY;
	req.not_after = ca_end + 2 * DAY;
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &y),
	    UC_E_STATE);
	assert_null(y);
}

static void
test_cert_refusals(void **state)
{
	struct fixture *f = *state;
	struct identity id = good_id();
	struct cert_req req;
	X509 *x;

	user_req(&req, &id);
	req.base_url = "https://ca.example.org/a,URI:https://evil";
	x = (X509 *)(uintptr_t)1;
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &x),
	    UC_E_INVALID);
	assert_null(x);
	assert_non_null(strstr(uc_errmsg(), "URL"));

	req.base_url = "ftp://ca.example.org";
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &x),
	    UC_E_INVALID);

	user_req(&req, &id);
	id.username = "bad user";
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &x),
	    UC_E_INVALID);
	assert_null(x);

	id = good_id();
	user_req(&req, &id);
	req.org = "";
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &x),
	    UC_E_INVALID);
	req.org = NULL;
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &x),
	    UC_E_INVALID);
	req.org = "Org\x01";
	assert_int_equal(cert_build(&req, f->key, f->ca_cert, &x),
	    UC_E_INVALID);
	assert_null(x);
}

/* The certificate as a device or gateway sees it: parsed from its DER. */
static X509 *
reparse(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y;
	int n;

	n = i2d_X509(x, &der);
	assert_true(n > 0);
	p = der;
	y = d2i_X509(NULL, &p, n);
	assert_non_null(y);
	assert_ptr_equal(p, der + n);
	OPENSSL_free(der);
	X509_free(x);
	return y;
}

/*
 * A user certificate for an EC key carries the SubjectPublicKeyInfo that
 * OpenSSL's own encoder writes for the key as a named curve with an
 * uncompressed point (cert_build() writes it from the curve and point), on
 * both curves the profiles use, also when the key itself is set to
 * compressed points.
 */
static void
test_cert_ec_spki(void **state)
{
	struct fixture *f = *state;
	struct identity id = good_id();
	struct cert_req req;
	/* The third: P-256 set to compressed points, which the SPKI drops. */
	const enum key_type kts[] = { KT_EC_P256, KT_EC_P384, KT_EC_P256 };
	unsigned char *want = NULL, *got = NULL, *comp = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	size_t i;
	int wn, gn;

	user_req(&req, &id);
	for (i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
		assert_int_equal(key_generate(kts[i], &k), UC_OK);
		wn = i2d_PUBKEY(k, &want);
		if (i == 2) {
			assert_int_equal(EVP_PKEY_set_utf8_string_param(k,
			    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			    "compressed"), 1);
			/* 59 bytes: 0x02 or 0x03 || X */
			assert_int_equal(i2d_PUBKEY(k, &comp), 59);
			OPENSSL_free(comp);
			comp = NULL;
		}
		assert_int_equal(cert_build(&req, k, f->ca_cert, &x), UC_OK);
		assert_int_equal(signer_sign_cert(f->ca, x), UC_OK);
		gn = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);
		assert_true(wn > 0);
		/* SPKI sizes: P-256 91 bytes (0x04 || X || Y), P-384 120. */
		assert_int_equal(wn, i == 1 ? 120 : 91);
		assert_int_equal(want[wn - (i == 1 ? 97 : 65)], 0x04);
		assert_int_equal(gn, wn);
		assert_memory_equal(got, want, (size_t)wn);
		x = reparse(x);
		assert_non_null(X509_get0_pubkey(x));
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
		OPENSSL_free(want);
		OPENSSL_free(got);
		want = got = NULL;
		X509_free(x);
		EVP_PKEY_free(k);
		x = NULL;
		k = NULL;
	}
}

/* ---- canonical keys from hostile requests (tests/data/csr-hostile) ------ */

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

/*
 * cert_build() of kind for the request in csr (parsed only: csr_check_req()
 * refuses some of these, cert_build() must not depend on that) gives the
 * SubjectPublicKeyInfo in want, byte for byte.
 */
static void
expect_spki(struct fixture *f, enum cert_kind kind, const char *csr,
    const char *want)
{
	struct identity id = good_id();
	struct cert_req req;
	unsigned char *buf, *exp, *got = NULL;
	size_t len, elen;
	X509_REQ *r = NULL;
	X509 *x = NULL;
	int gn;

	buf = corpus_read(csr, &len);
	exp = corpus_read(want, &elen);
	assert_int_equal(csr_parse(buf, len, &r), UC_OK);
	user_req(&req, &id);
	req.kind = kind;
	req.cn = "Example Issuing CA";
	if (kind == CK_USER)
		req.spki = X509_REQ_get_X509_PUBKEY(r);
	assert_int_equal(cert_build(&req, X509_REQ_get0_pubkey(r),
	    f->ca_cert, &x), UC_OK);
	assert_int_equal(signer_sign_cert(f->ca, x), UC_OK);
	gn = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);
	if (gn != (int)elen || memcmp(got, exp, elen) != 0)
		print_error("%s: the certificate's SPKI is not %s\n", csr,
		    want);
	assert_int_equal(gn, (int)elen);
	assert_memory_equal(got, exp, elen);
	/* What a relying party decodes is the request's key. */
	x = reparse(x);
	assert_non_null(X509_get0_pubkey(x));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x),
	    X509_REQ_get0_pubkey(r)), 1);
	OPENSSL_free(got);
	X509_free(x);
	X509_REQ_free(r);
	free(exp);
	free(buf);
}

static void
test_cert_canonical_spki(void **state)
{
	struct fixture *f = *state;

	/* Canonical already: kept. */
	expect_spki(f, CK_USER, "ec_ok.der", "ec_ok.spki.der");
	expect_spki(f, CK_USER, "rsa_ok.der", "rsa_ok.spki.der");
	/* Sound keys, other encodings: named curve, 0x04, NULL. */
	expect_spki(f, CK_USER, "ec_compressed.der", "ec_compressed.spki.der");
	expect_spki(f, CK_USER, "ec_hybrid.der", "ec_hybrid.spki.der");
	expect_spki(f, CK_USER, "rsa_params_absent.der",
	    "rsa_params_absent.spki.der");
	/*
	 * csr_check_req() refuses these; were one to reach cert_build(), no
	 * byte of its encoding would be signed.
	 */
	expect_spki(f, CK_USER, "ec_explicit.der", "ec_ok.spki.der");
	expect_spki(f, CK_USER, "rsa_params_junk.der", "rsa_ok.spki.der");
	expect_spki(f, CK_USER, "rsa_trailing.der", "rsa_ok.spki.der");
	expect_spki(f, CK_USER, "rsa_int_padded.der", "rsa_ok.spki.der");
	/* An issuing CA from a request (root sign-intermediate). */
	expect_spki(f, CK_ISSUING, "ec_compressed.der", "ec_ok.spki.der");
	expect_spki(f, CK_ISSUING, "ec_ok.der", "ec_ok.spki.der");
}

/* OpenSSL's own path validation accepts the chain as a TLS client. */
static void
test_cert_chain_verifies(void **state)
{
	struct fixture *f = *state;
	struct identity id = good_id();
	struct cert_req req;
	X509_STORE *store;
	X509_STORE_CTX *ctx;
	X509 *x;
	int ok;

	user_req(&req, &id);
	x = reparse(build_signed(f, &req));
	store = X509_STORE_new();
	assert_non_null(store);
	assert_int_equal(X509_STORE_add_cert(store, f->ca_cert), 1);
	ctx = X509_STORE_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
	X509_STORE_CTX_set_time(ctx, 0, (time_t)(T0 + DAY));
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx,
	    X509_PURPOSE_SSL_CLIENT), 1);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_error("verify: %s\n", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	assert_int_equal(ok, 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(x);
}

static void
test_cert_readers(void **state)
{
	struct fixture *f = *state;
	struct identity id = good_id();
	struct cert_req req;
	X509 *x, *back = NULL;
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL, *pem = NULL;
	unsigned char *junk;
	unsigned int mdlen;
	size_t derlen, pemlen;
	char *fp, *hex, *s;
	const ASN1_OCTET_STRING *ski;

	user_req(&req, &id);
	x = build_signed(f, &req);

	/* Fingerprints equal X509_digest, upper-case hex. */
	fp = cert_fingerprint(x, EVP_sha256());
	assert_non_null(fp);
	assert_int_equal(strlen(fp), 64);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
	assert_int_equal(mdlen, 32);
	hex = hex_encode(md, mdlen);
	assert_string_equal(fp, hex);
	assert_int_equal(strspn(fp, "0123456789ABCDEF"), 64);
	free(hex);
	free(fp);
	fp = cert_fingerprint(x, EVP_sha1());
	assert_non_null(fp);
	assert_int_equal(strlen(fp), 40);
	assert_int_equal(X509_digest(x, EVP_sha1(), md, &mdlen), 1);
	hex = hex_encode(md, mdlen);
	assert_string_equal(fp, hex);
	free(hex);
	free(fp);

	/* SKI hex. */
	ski = X509_get0_subject_key_id(x);
	assert_non_null(ski);
	hex = hex_encode(ASN1_STRING_get0_data(ski),
	    (size_t)ASN1_STRING_length(ski));
	s = cert_ski_hex(x);
	assert_non_null(s);
	assert_string_equal(s, hex);
	free(s);
	free(hex);

	/* RFC 2253 subject, most specific first. */
	s = cert_subject(x);
	assert_non_null(s);
	assert_string_equal(s, "CN=alice,OU=Engineering,O=" ORG);
	free(s);

	/* DER and PEM round trips; trailing junk refused. */
	assert_int_equal(cert_der(x, &der, &derlen), UC_OK);
	assert_int_equal(cert_parse(der, derlen, &back), UC_OK);
	assert_int_equal(X509_cmp(back, x), 0);
	X509_free(back);
	back = NULL;
	assert_int_equal(cert_to_pem(x, &pem, &pemlen), UC_OK);
	assert_int_equal(cert_parse(pem, pemlen, &back), UC_OK);
	assert_int_equal(X509_cmp(back, x), 0);
	X509_free(back);
	back = NULL;
	junk = malloc(derlen + 1);
	assert_non_null(junk);
	memcpy(junk, der, derlen);
	junk[derlen] = 0;
	assert_int_equal(cert_parse(junk, derlen + 1, &back), UC_E_INVALID);
	assert_null(back);
	assert_int_equal(cert_parse(junk, derlen - 1, &back), UC_E_INVALID);
	assert_null(back);
	assert_int_equal(cert_parse((const unsigned char *)"x", 1, &back),
	    UC_E_INVALID);
	assert_int_equal(cert_parse(junk, 0, &back), UC_E_INVALID);
	assert_int_equal(ERR_peek_error(), 0);
	free(junk);
	free(pem);
	free(der);
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_good),
		cmocka_unit_test(test_identity_bad),
		cmocka_unit_test(test_url_valid),
		cmocka_unit_test_setup_teardown(test_cert_user_profile, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_issuing_eku, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_email_protection,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_minimal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_clipped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_canonical_spki, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_ec_spki, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_chain_verifies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_readers, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
