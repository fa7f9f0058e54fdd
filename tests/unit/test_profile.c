/*
 * test_profile.c: profiles, key types, key generation and key policy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "pki.h"

static void
test_profile_find(void **state)
{
	const struct profile *p;

	(void)state;
	p = profile_find("compatible");
	assert_non_null(p);
	assert_string_equal(p->name, "compatible");
	assert_int_equal(p->root, KT_RSA4096);
	assert_int_equal(p->issuing, KT_RSA3072);
	assert_int_equal(p->user, KT_RSA2048);

	p = profile_find("modern");
	assert_non_null(p);
	assert_string_equal(p->name, "modern");
	assert_int_equal(p->root, KT_EC_P384);
	assert_int_equal(p->issuing, KT_EC_P256);
	assert_int_equal(p->user, KT_EC_P256);

	assert_null(profile_find("unknown"));
	assert_null(profile_find(""));
	assert_null(profile_find("Modern"));	/* exact names only */
	assert_null(profile_find("modern "));
}

static void
test_key_type_round_trip(void **state)
{
	static const enum key_type all[] = {
		KT_RSA2048, KT_RSA3072, KT_RSA4096, KT_EC_P256, KT_EC_P384,
		KT_ED25519,
	};
	static const char *const names[] = {
		"rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384",
		"ed25519",
	};
	enum key_type t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_string_equal(key_type_name(all[i]), names[i]);
		t = (enum key_type)-1;
		assert_int_equal(key_type_parse(names[i], &t), UC_OK);
		assert_int_equal(t, all[i]);
		assert_int_equal(key_type_parse(key_type_name(all[i]), &t),
		    UC_OK);
		assert_int_equal(t, all[i]);
	}

	uc_clearerr();
	assert_int_equal(key_type_parse("rsa-1024", &t), UC_E_INVALID);
	assert_non_null(strstr(uc_errmsg(), "rsa-1024"));
	assert_int_equal(key_type_parse("", &t), UC_E_INVALID);
	assert_int_equal(key_type_parse("EC-P256", &t), UC_E_INVALID);
	assert_int_equal(key_type_parse("ec-p256x", &t), UC_E_INVALID);
}

/* Group name of an EC key, or "" */
static void
ec_group(const EVP_PKEY *k, char *buf, size_t len)
{
	size_t glen;

	if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
	    buf, len, &glen))
		buf[0] = '\0';
}

static void
test_key_generate(void **state)
{
	EVP_PKEY *k = NULL;
	char group[64], desc[64];

	(void)state;
	assert_int_equal(key_generate(KT_EC_P256, &k), UC_OK);
	assert_non_null(k);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(k), 256);
	ec_group(k, group, sizeof(group));
	assert_string_equal(group, "prime256v1");
	key_describe(k, desc, sizeof(desc));
	assert_string_equal(desc, "ec-prime256v1");
	assert_int_equal(key_check_policy(k), UC_OK);
	EVP_PKEY_free(k);
	k = NULL;

	assert_int_equal(key_generate(KT_EC_P384, &k), UC_OK);
	assert_non_null(k);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(k), 384);
	ec_group(k, group, sizeof(group));
	assert_string_equal(group, "secp384r1");
	assert_int_equal(key_check_policy(k), UC_OK);
	EVP_PKEY_free(k);
	k = NULL;

	assert_int_equal(key_generate(KT_ED25519, &k), UC_OK);
	assert_non_null(k);
	assert_true(EVP_PKEY_is_a(k, "ED25519"));
	assert_false(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(k), 256);
	assert_int_equal(EVP_PKEY_get_security_bits(k), 128);
	key_describe(k, desc, sizeof(desc));
	assert_string_equal(desc, "ed25519");
	assert_int_equal(key_check_policy(k), UC_OK);
	EVP_PKEY_free(k);
}

/* The one RSA-2048 generation of this binary. */
static void
test_policy_rsa2048(void **state)
{
	EVP_PKEY *k = NULL;
	char desc[64];

	(void)state;
	assert_int_equal(key_generate(KT_RSA2048, &k), UC_OK);
	assert_non_null(k);
	assert_true(EVP_PKEY_is_a(k, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(k), 2048);
	key_describe(k, desc, sizeof(desc));
	assert_string_equal(desc, "rsa-2048");
	assert_int_equal(key_check_policy(k), UC_OK);
	EVP_PKEY_free(k);
}

static void
test_policy_accepts_p521(void **state)
{
	EVP_PKEY *k;

	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	assert_non_null(k);
	assert_int_equal(key_check_policy(k), UC_OK);
	EVP_PKEY_free(k);
}

/* Expect UC_E_POLICY with a message holding each of the words. */
static void
expect_refused(EVP_PKEY *k, const char *word1, const char *word2)
{
	int rc;

	uc_clearerr();
	rc = key_check_policy(k);
	if (rc != UC_E_POLICY || strstr(uc_errmsg(), word1) == NULL ||
	    (word2 != NULL && strstr(uc_errmsg(), word2) == NULL))
		print_error("key_check_policy: rc %d, message '%s'\n", rc,
		    uc_errmsg());
	assert_int_equal(rc, UC_E_POLICY);
	assert_non_null(strstr(uc_errmsg(), word1));
	if (word2 != NULL)
		assert_non_null(strstr(uc_errmsg(), word2));
}

static void
test_policy_refuses_rsa1024(void **state)
{
	EVP_PKEY *k;

	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(k);
	expect_refused(k, "RSA", "1024");
	EVP_PKEY_free(k);
}

static void
test_policy_refuses_secp256k1(void **state)
{
	EVP_PKEY *k;

	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_bits(k), 256);	/* size is not enough */
	expect_refused(k, "secp256k1", NULL);
	EVP_PKEY_free(k);
}

static void
test_policy_refuses_other_types(void **state)
{
	EVP_PKEY *k;

	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(k);
	expect_refused(k, "X25519", NULL);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	assert_non_null(k);
	expect_refused(k, "ED448", NULL);
	EVP_PKEY_free(k);

	uc_clearerr();
	assert_int_equal(key_check_policy(NULL), UC_E_INVALID);
	assert_true(uc_errmsg()[0] != '\0');
}

/* The OpenSSL error queue is left empty by a refusal. */
static void
test_policy_leaves_no_ssl_errors(void **state)
{
	EVP_PKEY *k;

	(void)state;
	ERR_clear_error();
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k);
	assert_int_equal(key_check_policy(k), UC_E_POLICY);
	assert_int_equal(ERR_peek_error(), 0);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_find),
		cmocka_unit_test(test_key_type_round_trip),
		cmocka_unit_test(test_key_generate),
		cmocka_unit_test(test_policy_rsa2048),
		cmocka_unit_test(test_policy_accepts_p521),
		cmocka_unit_test(test_policy_refuses_rsa1024),
		cmocka_unit_test(test_policy_refuses_secp256k1),
		cmocka_unit_test(test_policy_refuses_other_types),
		cmocka_unit_test(test_policy_leaves_no_ssl_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
