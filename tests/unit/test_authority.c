/*
 * test_authority.c: the authority layer's contract, through authority.h
 * only (what the front doors see):
 *   - issue -> record -> release: a certificate handed out has its row;
 *   - revoke -> the published CRL holds the serial;
 *   - a failed issue or record releases nothing and records nothing (an
 *     invalid identity; a duplicate serial; an INSERT the database
 *     refuses, for an issue and for a token's redemption, which leaves
 *     the token unused).
 * One CA home (modern profile, root + issuing CA) under a mkdtemp()
 * folder, shared by the tests, removed at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <sqlite3.h>

#include "authority.h"

struct fixture {
	char			 dir[PATH_MAX];
	char			 home[PATH_MAX + 8];
	struct authority	*a;
};

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

static int
getpass_cb(void *arg, int confirm, char **pass)
{
	*pass = strdup("unit test passphrase, not secret");
	return *pass != NULL ? UC_OK : UC_E_INTERNAL;
}

static int
setup(void **state)
{
	struct fixture *f;
	struct init_opts o;
	const char *tmp = getenv("TMPDIR");

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_authority.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->home, sizeof(f->home), "%s/pki", f->dir);
	memset(&o, 0, sizeof(o));
	o.home = f->home;
	o.org = "Unit Org";
	o.base_url = "https://pki.example.test";
	o.profile = "modern";
	o.intermediate = 1;
	if (authority_init(&o, getpass_cb, NULL) != UC_OK ||
	    authority_open(f->home, &f->a) != UC_OK) {
		fprintf(stderr, "setup: %s\n", uc_errmsg());
		(void)nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(f);
		return -1;
	}
	authority_set_getpass(f->a, getpass_cb, NULL);
	authority_set_actor(f->a, "unit");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	authority_free(f->a);
	(void)nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int
count_cb(const struct authority_cert *c, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

static long
cert_count(struct authority *a, const char *username)
{
	struct authority_cert_filter flt;
	long n = 0;

	memset(&flt, 0, sizeof(flt));
	flt.username = username;
	assert_int_equal(authority_cert_list(a, &flt, count_cb, &n), UC_OK);
	return n;
}

static void
issue_one(struct authority *a, const char *user, struct issue_result *res)
{
	struct issue_req req;

	memset(&req, 0, sizeof(req));
	req.id.username = user;
	req.id.email = "someone@example.test";
	req.p12_format = P12_MODERN;
	req.p12_password = "correct horse battery";
	req.method = "unit";
	memset(res, 0, sizeof(*res));
	if (authority_issue(a, &req, res) != UC_OK)
		fail_msg("authority_issue: %s", uc_errmsg());
}

/* The leaf (first certificate) of a PEM chain. */
static X509 *
leaf_of(const unsigned char *pem, size_t len)
{
	X509 *x = NULL;

	assert_int_equal(cert_parse(pem, len, &x), UC_OK);
	return x;
}

/* A PKCS#12 request for user, as the CLI makes one. */
static void
p12_req(struct issue_req *req, const char *user)
{
	memset(req, 0, sizeof(*req));
	req->id.username = user;
	req->p12_format = P12_MODERN;
	req->p12_password = "correct horse battery";
	req->method = "unit";
}

/* Nothing handed out. */
static void
assert_released_nothing(const struct issue_result *res)
{
	assert_null(res->serial);
	assert_null(res->cert_pem);
	assert_null(res->p12);
	assert_null(res->retry);
	assert_int_equal(res->cert_id, 0);
}

static void
test_issue_record_release(void **state)
{
	struct fixture *f = *state;
	struct issue_result res;
	struct authority_cert rec;
	struct authority_user u;
	X509 *leaf;
	unsigned char *der = NULL;
	size_t derlen = 0;

	issue_one(f->a, "alice", &res);
	/* Released: serial, chain and the PKCS#12 (a key was made here). */
	assert_non_null(res.serial);
	assert_non_null(res.cert_pem);
	assert_non_null(res.p12);
	assert_true(res.cert_id > 0);
	assert_int_equal(p12_check(res.p12, res.p12_len,
	    "correct horse battery", leaf = leaf_of(res.cert_pem,
	    res.cert_pem_len)), UC_OK);

	/* Recorded: the row holds exactly the certificate handed out. */
	assert_int_equal(authority_cert_get(f->a, res.serial, &rec), UC_OK);
	assert_int_equal(rec.id, res.cert_id);
	assert_string_equal(rec.status, "valid");
	assert_string_equal(rec.username, "alice");
	assert_string_equal(rec.method, "unit");
	assert_int_equal(rec.not_after, res.not_after);
	assert_int_equal(cert_der(leaf, &der, &derlen), UC_OK);
	assert_int_equal(rec.derlen, derlen);
	assert_memory_equal(rec.der, der, derlen);

	/* And the user behind it. */
	assert_int_equal(authority_user_get(f->a, "alice", &u), UC_OK);
	assert_int_equal(u.id, rec.user_id);
	assert_string_equal(u.email, "someone@example.test");
	assert_int_equal(cert_count(f->a, "alice"), 1);

	free(der);
	X509_free(leaf);
	authority_user_clear(&u);
	authority_cert_clear(&rec);
	issue_result_clear(&res);
}

static void
test_revoke_crl_holds_it(void **state)
{
	struct fixture *f = *state;
	struct issue_result res;
	struct authority_cert rec;
	char path[PATH_MAX + 32];
	unsigned char *buf = NULL;
	size_t len = 0;
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	X509 *leaf;
	int count = 0;

	issue_one(f->a, "bob", &res);
	leaf = leaf_of(res.cert_pem, res.cert_pem_len);
	assert_int_equal(authority_revoke(f->a, res.serial, NULL, 1, &count),
	    UC_OK);
	assert_int_equal(count, 1);

	assert_int_equal(authority_cert_get(f->a, res.serial, &rec), UC_OK);
	assert_string_equal(rec.status, "revoked");
	assert_int_equal(rec.reason, 1);

	/* What gateways fetch holds it, signed by the issuing CA. */
	snprintf(path, sizeof(path), "%s/public/crl.der", f->home);
	assert_int_equal(file_read(path, 1 << 20, &buf, &len), UC_OK);
	assert_int_equal(crl_parse(buf, len, &crl), UC_OK);
	assert_int_equal(X509_CRL_verify(crl,
	    X509_get0_pubkey(authority_issuing_cert(f->a))), 1);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev,
	    X509_get0_serialNumber(leaf)), 1);
	assert_non_null(rev);

	/* Twice is refused, and changes nothing. */
	assert_int_equal(authority_revoke(f->a, res.serial, NULL, 1, &count),
	    UC_E_STATE);

	X509_CRL_free(crl);
	free(buf);
	X509_free(leaf);
	authority_cert_clear(&rec);
	issue_result_clear(&res);
}

static void
test_invalid_identity_releases_nothing(void **state)
{
	struct fixture *f = *state;
	struct issue_req req;
	struct issue_result res;
	struct authority_user u;
	long before = cert_count(f->a, NULL);

	p12_req(&req, "carol\nroot");	/* control character */
	memset(&res, 0, sizeof(res));
	assert_int_equal(authority_issue(f->a, &req, &res), UC_E_INVALID);
	assert_released_nothing(&res);
	assert_int_equal(cert_count(f->a, NULL), before);
	assert_int_equal(authority_user_get(f->a, "carol\nroot", &u),
	    UC_E_NOTFOUND);
	issue_result_clear(&res);
}

static void
test_duplicate_serial_records_nothing(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	struct mint m;
	struct record r[2];
	long before;

	memset(&id, 0, sizeof(id));
	id.username = "dave";
	memset(&m, 0, sizeof(m));
	assert_int_equal(authority_ready(f->a), UC_OK);
	assert_int_equal(authority_mint(f->a, &id, NULL, P12_MODERN,
	    "correct horse battery", 0, 0, &m), UC_OK);
	before = cert_count(f->a, NULL);

	/* The same certificate twice in one group: the second fails alone. */
	memset(r, 0, sizeof(r));
	r[0].id = r[1].id = &id;
	r[0].cert = r[1].cert = m.cert;
	r[0].method = r[1].method = "unit";
	assert_int_equal(authority_record(f->a, r, 2), UC_OK);
	assert_int_equal(r[0].rc, UC_OK);
	assert_true(r[0].cert_id > 0);
	assert_int_equal(r[1].rc, UC_E_EXISTS);
	assert_int_equal(r[1].cert_id, 0);
	assert_int_equal(cert_count(f->a, NULL), before + 1);

	/* Again in a later transaction: refused, nothing new recorded. */
	memset(r, 0, sizeof(r));
	r[0].id = &id;
	r[0].cert = m.cert;
	r[0].method = "unit";
	assert_int_equal(authority_record(f->a, r, 1), UC_OK);
	assert_int_equal(r[0].rc, UC_E_EXISTS);
	assert_int_equal(cert_count(f->a, NULL), before + 1);
	mint_clear(&m);
}

/* Make the home's database refuse (on) or take (off) certificate rows. */
static void
refuse_inserts(struct fixture *f, int on)
{
	char path[PATH_MAX + 32], *err = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/userca.db", f->home);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, on ? "CREATE TRIGGER unit_refuse BEFORE INSERT "
	    "ON certificates BEGIN SELECT RAISE(ABORT, 'refused by the "
	    "test'); END;" : "DROP TRIGGER unit_refuse;", NULL, NULL, &err) !=
	    SQLITE_OK)
		fail_msg("sqlite3_exec: %s", err);
	sqlite3_close(db);
}

static void
test_failed_record_releases_nothing(void **state)
{
	struct fixture *f = *state;
	struct issue_req req;
	struct redeem_req rr;
	struct issue_result res;
	struct token_info ti;
	struct identity id;
	struct authority_user u;
	enum token_state ts;
	char *token = NULL;
	int64_t expires;
	long before = cert_count(f->a, NULL);

	memset(&id, 0, sizeof(id));
	id.username = "frank";
	assert_int_equal(authority_token(f->a, &id, 3600, &token, &expires),
	    UC_OK);
	refuse_inserts(f, 1);

	/* An issue whose INSERT fails hands out nothing, user included. */
	p12_req(&req, "erin");
	memset(&res, 0, sizeof(res));
	assert_int_not_equal(authority_issue(f->a, &req, &res), UC_OK);
	assert_released_nothing(&res);
	assert_int_equal(authority_user_get(f->a, "erin", &u), UC_E_NOTFOUND);
	issue_result_clear(&res);

	/* A redemption whose INSERT fails: nothing out, the token unused. */
	memset(&rr, 0, sizeof(rr));
	rr.token = token;
	rr.p12_format = P12_MODERN;
	rr.p12_password = "correct horse battery";
	memset(&res, 0, sizeof(res));
	assert_int_not_equal(authority_redeem(f->a, &rr, &res, &ts), UC_OK);
	assert_released_nothing(&res);
	issue_result_clear(&res);
	memset(&ti, 0, sizeof(ti));
	assert_int_equal(authority_token_lookup(f->a, token, &ti), UC_OK);
	assert_int_equal(ti.state, TOKEN_VALID);
	token_info_clear(&ti);
	assert_int_equal(cert_count(f->a, NULL), before);

	/* Nothing is stuck: with the database taking rows again, both work. */
	refuse_inserts(f, 0);
	issue_one(f->a, "erin", &res);
	issue_result_clear(&res);
	memset(&res, 0, sizeof(res));
	assert_int_equal(authority_redeem(f->a, &rr, &res, &ts), UC_OK);
	assert_non_null(res.p12);
	issue_result_clear(&res);
	assert_int_equal(cert_count(f->a, NULL), before + 2);
	secret_free(token);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_record_release),
		cmocka_unit_test(test_revoke_crl_holds_it),
		cmocka_unit_test(test_invalid_identity_releases_nothing),
		cmocka_unit_test(test_duplicate_serial_records_nothing),
		cmocka_unit_test(test_failed_record_releases_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
