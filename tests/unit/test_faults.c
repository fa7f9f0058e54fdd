/*
 * test_faults.c: the authority under injected faults, checked for what
 * it reports and (in the ASan+UBSan build, scripts/test) for double
 * frees and leaks on the paths that only failures take:
 *   - every allocation failure while authority_init() and
 *     authority_intermediate_request() build keys, signers and
 *     certificates in memory (malloc/calloc/realloc/strdup of our code
 *     through the linker's --wrap, OpenSSL's through
 *     CRYPTO_set_mem_functions, for the request), failing the Nth
 *     allocation and every one after it, for each N up to the first
 *     folder written;
 *   - authority_crl_state() when the revoked-count query fails after the
 *     current CRL was read (the table renamed under the open authority);
 *   - a batch whose SHA-256 fails (a provider that fails on demand,
 *     preferred by property): an error naming sha256 and nothing written,
 *     never a run id made of whatever the digest buffer held;
 *   - the daemon's public files reloaded with SHA-256 failing: an error
 *     naming sha256 and the set in force kept, never an ETag made of
 *     whatever the digest buffer held.
 * The executable is linked with --wrap (tests/CMakeLists.txt).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <ftw.h>
#include <limits.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <sqlite3.h>

#include "authority.h"
#if __has_include("authority_ocsp.h")
#include "authority_ocsp.h"
#endif
#include "batch.h"
#if __has_include("enrolld.h")
#include "enrolld.h"	/* the daemon's public files (pub_reload) */
#endif

/* ---- allocation faults ------------------------------------------------------- */

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
char	*__real_strdup(const char *);
int	 __real_mkdir(const char *, mode_t);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
char	*__wrap_strdup(const char *);
int	 __wrap_mkdir(const char *, mode_t);

static atomic_int	fi_armed;	/* counting allocations */
static atomic_long	fi_count;	/* allocations since armed */
static long		fi_fail_at;	/* fail this one and all after; 0: none */
static atomic_long	fi_mkdir_at;	/* fi_count at the first mkdir; -1 */
static atomic_int	fi_ossl = 1;	/* OpenSSL's allocations count too */

static int
fi_fail(void)
{
	long n;

	if (!atomic_load(&fi_armed))
		return 0;
	n = atomic_fetch_add(&fi_count, 1) + 1;
	return fi_fail_at > 0 && n >= fi_fail_at;
}

static void
fi_arm(long fail_at)
{
	fi_fail_at = fail_at;
	atomic_store(&fi_count, 0);
	atomic_store(&fi_mkdir_at, -1);
	atomic_store(&fi_armed, 1);
}

static void	fq_release(void);

static void
fi_disarm(void)
{
	atomic_store(&fi_armed, 0);
	fi_fail_at = 0;
	fq_release();
}

void *
__wrap_malloc(size_t n)
{
	return fi_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t sz)
{
	return fi_fail() ? NULL : __real_calloc(n, sz);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fi_fail() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return fi_fail() ? NULL : __real_strdup(s);
}

/* The first folder written ends the in-memory part of init. */
int
__wrap_mkdir(const char *path, mode_t mode)
{
	long none = -1;

	if (atomic_load(&fi_armed))
		atomic_compare_exchange_strong(&fi_mkdir_at, &none,
		    atomic_load(&fi_count));
	return __real_mkdir(path, mode);
}

static void *
ossl_malloc(size_t n, const char *file, int line)
{
	return atomic_load(&fi_ossl) && fi_fail() ? NULL : __real_malloc(n);
}

static void *
ossl_realloc(void *p, size_t n, const char *file, int line)
{
	return atomic_load(&fi_ossl) && fi_fail() ? NULL :
	    __real_realloc(p, n);
}

/*
 * What OpenSSL frees during a faulted run is scribbled over (0xa5, as
 * glibc's MALLOC_PERTURB_ does) and only really freed when the run ends
 * (fi_disarm): an object freed a second time then faults at once on a
 * wild pointer inside it.  Freed at once, ASan's own bookkeeping would
 * overwrite its first bytes, and such a free can wait forever on a lock
 * it finds there (libcrypto is not instrumented: ASan cannot see those
 * reads).
 */
static void		**fq;		/* freed while armed */
static size_t		  fq_n, fq_cap;

static int
fq_keep(void *p)
{
	void **n;

	if (fq_n == fq_cap) {
		fq_cap = fq_cap ? fq_cap * 2 : 1024;
		if ((n = __real_realloc(fq, fq_cap * sizeof(*fq))) == NULL)
			return 0;
		fq = n;
	}
	fq[fq_n++] = p;
	return 1;
}

static void
fq_release(void)
{
	while (fq_n > 0)
		free(fq[--fq_n]);
}

static void
ossl_free(void *p, const char *file, int line)
{
	if (p == NULL)
		return;
	memset(p, 0xa5, malloc_usable_size(p));
	if (!atomic_load(&fi_armed) || !fq_keep(p))
		free(p);
}

/* ---- a SHA-256 that fails on demand ------------------------------------------ */

static atomic_int	 sha_fail;
static EVP_MD		*real_sha256;

struct fsctx {
	EVP_MD_CTX	*c;
};

static void *
fs_newctx(void *prov)
{
	struct fsctx *x;

	if ((x = OPENSSL_zalloc(sizeof(*x))) == NULL)
		return NULL;
	if ((x->c = EVP_MD_CTX_new()) == NULL) {
		OPENSSL_free(x);
		return NULL;
	}
	return x;
}

static void
fs_freectx(void *v)
{
	struct fsctx *x = v;

	if (x == NULL)
		return;
	EVP_MD_CTX_free(x->c);
	OPENSSL_free(x);
}

static void *
fs_dupctx(void *v)
{
	struct fsctx *x = v, *y;

	if ((y = fs_newctx(NULL)) != NULL &&
	    !EVP_MD_CTX_copy_ex(y->c, x->c)) {
		fs_freectx(y);
		y = NULL;
	}
	return y;
}

/* Init works: a caller that checks nothing after it sees no error. */
static int
fs_init(void *v, const OSSL_PARAM params[])
{
	struct fsctx *x = v;

	return EVP_DigestInit_ex2(x->c, real_sha256, NULL);
}

static int
fs_update(void *v, const unsigned char *in, size_t n)
{
	struct fsctx *x = v;

	if (atomic_load(&sha_fail))
		return 0;
	return EVP_DigestUpdate(x->c, in, n);
}

static int
fs_final(void *v, unsigned char *out, size_t *outl, size_t outsz)
{
	struct fsctx *x = v;
	unsigned int n;

	if (atomic_load(&sha_fail) || outsz < 32 ||
	    !EVP_DigestFinal_ex(x->c, out, &n))
		return 0;
	*outl = n;
	return 1;
}

static int
fs_get_params(OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_BLOCK_SIZE)) !=
	    NULL && !OSSL_PARAM_set_size_t(p, 64))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_SIZE)) != NULL &&
	    !OSSL_PARAM_set_size_t(p, 32))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_XOF)) != NULL &&
	    !OSSL_PARAM_set_int(p, 0))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_ALGID_ABSENT)) !=
	    NULL && !OSSL_PARAM_set_int(p, 0))
		return 0;
	return 1;
}

static const OSSL_PARAM *
fs_gettable(void *prov)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_BLOCK_SIZE, NULL),
		OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_SIZE, NULL),
		OSSL_PARAM_int(OSSL_DIGEST_PARAM_XOF, NULL),
		OSSL_PARAM_int(OSSL_DIGEST_PARAM_ALGID_ABSENT, NULL),
		OSSL_PARAM_END
	};

	return t;
}

static const OSSL_DISPATCH fs_sha256[] = {
	{ OSSL_FUNC_DIGEST_NEWCTX, (void (*)(void))fs_newctx },
	{ OSSL_FUNC_DIGEST_FREECTX, (void (*)(void))fs_freectx },
	{ OSSL_FUNC_DIGEST_DUPCTX, (void (*)(void))fs_dupctx },
	{ OSSL_FUNC_DIGEST_INIT, (void (*)(void))fs_init },
	{ OSSL_FUNC_DIGEST_UPDATE, (void (*)(void))fs_update },
	{ OSSL_FUNC_DIGEST_FINAL, (void (*)(void))fs_final },
	{ OSSL_FUNC_DIGEST_GET_PARAMS, (void (*)(void))fs_get_params },
	{ OSSL_FUNC_DIGEST_GETTABLE_PARAMS, (void (*)(void))fs_gettable },
	{ 0, NULL }
};

static const OSSL_ALGORITHM fs_digests[] = {
	{ "SHA2-256:SHA-256:SHA256:2.16.840.1.101.3.4.2.1",
	    "provider=failsha", fs_sha256, "SHA-256, failing on demand" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
fs_query(void *prov, int op, int *no_cache)
{
	*no_cache = 0;
	return op == OSSL_OP_DIGEST ? fs_digests : NULL;
}

static const OSSL_DISPATCH fs_provider[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))fs_query },
	{ 0, NULL }
};

static int
fs_provider_init(const OSSL_CORE_HANDLE *h, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	*out = fs_provider;
	*provctx = NULL;
	return 1;
}

/* SHA-256 fails from now on, everywhere in this process, until sha_ok(). */
static void
sha_broken(void)
{
	assert_int_equal(EVP_set_default_properties(NULL, "?provider=failsha"), 1);
	atomic_store(&sha_fail, 1);
}

static void
sha_ok(void)
{
	atomic_store(&sha_fail, 0);
	assert_int_equal(EVP_set_default_properties(NULL, "?provider=default"),
	    1);
}

/* ---- fixture ---------------------------------------------------------------------- */

struct fixture {
	char	dir[PATH_MAX - 64];
	char	home[PATH_MAX + 16];
};

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

static void
rm_tree(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
getpass_cb(void *arg, int confirm, char **pass)
{
	*pass = strdup("unit test passphrase, not secret");
	return *pass != NULL ? UC_OK : UC_E_INTERNAL;
}

/* The passphrase read, the faults begin: what follows builds the CA. */
static int
getpass_arm(void *arg, int confirm, char **pass)
{
	if ((*pass = strdup("unit test passphrase, not secret")) == NULL)
		return UC_E_INTERNAL;
	fi_arm(*(long *)arg);
	return UC_OK;
}

static void
init_opts(struct init_opts *o, const char *home)
{
	memset(o, 0, sizeof(*o));
	o->home = home;
	o->org = "Fault Org";
	o->base_url = "https://pki.example.test";
	o->profile = "modern";
	o->intermediate = 1;
}

static int
setup(void **state)
{
	struct fixture *f;
	const char *tmp = getenv("TMPDIR");

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_faults.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fi_disarm();
	atomic_store(&fi_ossl, 1);
	free(fq);
	fq = NULL;
	fq_cap = 0;
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* A home made without faults, opened. */
static struct authority *
home_open(struct fixture *f, const char *name)
{
	struct init_opts o;
	struct authority *a = NULL;

	snprintf(f->home, sizeof(f->home), "%s/%s", f->dir, name);
	init_opts(&o, f->home);
	if (authority_init(&o, getpass_cb, NULL) != UC_OK ||
	    authority_open(f->home, &a) != UC_OK)
		fail_msg("home: %s", uc_errmsg());
	authority_set_getpass(a, getpass_cb, NULL);
	authority_set_actor(a, "unit");
	return a;
}

/* ---- tests ------------------------------------------------------------------------- */

/*
 * authority_init: root and issuing keys, signers and certificates are made
 * in memory before the first folder.  Each allocation of ours there fails
 * in turn (and every one after it); each run must fail cleanly.  A signer
 * that frees the key it was given while the caller frees it again is a
 * double free that ASan stops here.  OpenSSL's own allocations (some
 * 14,000 here) are left alone: the request below sweeps those too.
 */
static void
test_init_allocation_failures(void **state)
{
	struct fixture *f = *state;
	struct init_opts o;
	long n, last, zero = 0;
	int rc;

	atomic_store(&fi_ossl, 0);
	snprintf(f->home, sizeof(f->home), "%s/dry", f->dir);
	init_opts(&o, f->home);
	rc = authority_init(&o, getpass_arm, &zero);
	last = atomic_load(&fi_mkdir_at);
	fi_disarm();
	assert_int_equal(rc, UC_OK);
	assert_true(last >= 2);	/* two signers at least */
	print_message("init: %ld allocations before the first folder\n", last);
	for (n = 1; n <= last; n++) {
		snprintf(f->home, sizeof(f->home), "%s/h%ld", f->dir, n);
		init_opts(&o, f->home);
		rc = authority_init(&o, getpass_arm, &n);
		fi_disarm();
		if (rc == UC_OK)
			fail_msg("init succeeded with allocation %ld of %ld "
			    "failing", n, last);
		rm_tree(f->home);
	}
	atomic_store(&fi_ossl, 1);
}

/* The air gap's first half: the issuing key and its request. */
static void
test_request_allocation_failures(void **state)
{
	struct fixture *f = *state;
	struct init_opts o;
	unsigned char *csr = NULL;
	size_t len;
	long n, last;
	int rc;

	snprintf(f->home, sizeof(f->home), "%s/rdry", f->dir);
	init_opts(&o, f->home);
	fi_arm(0);
	rc = authority_intermediate_request(&o, &csr, &len);
	last = atomic_load(&fi_mkdir_at);
	fi_disarm();
	assert_int_equal(rc, UC_OK);
	free(csr);
	assert_true(last > 50);
	print_message("request: %ld allocations before the first folder\n",
	    last);
	for (n = 1; n <= last; n++) {
		snprintf(f->home, sizeof(f->home), "%s/r%ld", f->dir, n);
		init_opts(&o, f->home);
		csr = NULL;
		fi_arm(n);
		rc = authority_intermediate_request(&o, &csr, &len);
		fi_disarm();
		if (rc == UC_OK)
			fail_msg("request made with allocation %ld of %ld "
			    "failing", n, last);
		free(csr);
		rm_tree(f->home);
	}
}

#ifdef UC_AUTHORITY_OCSP_H
/*
 * The OCSP responder's key, made when its certificate is missing: each of
 * our allocations in authority_ocsp_refresh() fails in turn (its signer
 * takes the key it is given even when it fails), until one run gets
 * through.
 */
static void
test_ocsp_allocation_failures(void **state)
{
	struct fixture *f = *state;
	struct authority *a = home_open(f, "ocsp");
	char crt[PATH_MAX + 64], key[PATH_MAX + 64];
	long n;
	int rc = !UC_OK;

	authority_free(a);
	snprintf(crt, sizeof(crt), "%s/issuing/ocsp.crt", f->home);
	snprintf(key, sizeof(key), "%s/issuing/ocsp.key", f->home);
	atomic_store(&fi_ossl, 0);
	for (n = 1; n < 1000 && rc != UC_OK; n++) {
		(void)unlink(crt);
		(void)unlink(key);
		assert_int_equal(authority_open(f->home, &a), UC_OK);
		fi_arm(n);
		rc = authority_ocsp_refresh(a);
		fi_disarm();
		authority_free(a);
	}
	atomic_store(&fi_ossl, 1);
	assert_int_equal(rc, UC_OK);
	assert_true(n > 2);	/* some runs failed first */
	print_message("ocsp: through with allocation %ld failing\n", n - 1);
	assert_int_equal(access(crt, R_OK), 0);
}
#endif

static void
db_exec(const char *home, const char *sql)
{
	char path[PATH_MAX + 32];
	sqlite3 *db = NULL;
	char *err = NULL;

	snprintf(path, sizeof(path), "%s/userca.db", home);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err != NULL ? err : "?");
	sqlite3_close(db);
}

/*
 * The current CRL is read first, then the runway and the revoked count:
 * when a later query fails, the CRL already read is freed (LeakSanitizer
 * checks), and the failure is reported, not a state without a CRL.
 */
static void
test_crl_state_query_fails(void **state)
{
	struct fixture *f = *state;
	struct authority *a = home_open(f, "crlstate");
	struct crl_state cs;

	assert_int_equal(authority_crl(a, 0, 0), UC_OK);
	assert_int_equal(authority_crl_state(a, 0, &cs), UC_OK);
	assert_true(cs.have);
	db_exec(f->home, "ALTER TABLE certificates RENAME TO hidden_certs");
	assert_int_not_equal(authority_crl_state(a, 0, &cs), UC_OK);
	db_exec(f->home, "ALTER TABLE hidden_certs RENAME TO certificates");
	assert_int_equal(authority_crl_state(a, 0, &cs), UC_OK);
	assert_true(cs.have);
	authority_free(a);
}

static void
on_error(void *arg, long line, const char *msg)
{
	(*(long *)arg)++;
}

/*
 * The run id is the SHA-256 of the file (and flags): it names what a
 * re-run resumes.  With SHA-256 failing, the batch stops before its
 * output folder exists, and says why.
 */
static void
test_batch_digest_fails(void **state)
{
	struct fixture *f = *state;
	struct authority *a = home_open(f, "batch");
	struct batch_opts bo;
	struct batch_stats st;
	struct stat sb;
	char csv[PATH_MAX + 16], out[PATH_MAX + 16];
	long errors = 0;
	FILE *fp;
	int rc;

	snprintf(csv, sizeof(csv), "%s/users.csv", f->dir);
	snprintf(out, sizeof(out), "%s/out", f->dir);
	assert_non_null(fp = fopen(csv, "w"));
	fputs("username,email,name\nalice,alice@example.test,Alice\n"
	    "bob,bob@example.test,Bob\n", fp);
	assert_int_equal(fclose(fp), 0);
	memset(&bo, 0, sizeof(bo));
	bo.csv = csv;
	bo.csv_name = "users.csv";
	bo.out = out;
	bo.jobs = 1;
	bo.on_error = on_error;
	bo.arg = &errors;
	sha_broken();
	rc = authority_batch(a, &bo, &st);
	sha_ok();
	assert_int_not_equal(rc, UC_OK);
	if (strcasestr(uc_errmsg(), "sha256") == NULL)
		fail_msg("batch error does not name the digest: %s",
		    uc_errmsg());
	assert_int_equal(st.issued, 0);
	assert_int_equal(stat(out, &sb), -1);
	/* SHA-256 back: the same batch runs. */
	assert_int_equal(authority_batch(a, &bo, &st), UC_OK);
	assert_int_equal(st.issued, 2);
	authority_free(a);
}

#ifdef UC_SHA256_LEN
/* The audit chain's one SHA-256 reports its failure. */
static void
test_core_digest_fails(void **state)
{
	unsigned char md[UC_SHA256_LEN];

	assert_int_equal(uc_sha256("abc", 3, md), UC_OK);
	sha_broken();
	assert_int_equal(uc_sha256("abc", 3, md), UC_E_CRYPTO);
	sha_ok();
	assert_int_equal(uc_sha256("abc", 3, md), UC_OK);
	assert_int_equal(md[0], 0xba);	/* SHA-256("abc") = ba7816bf... */
}
#endif

#ifdef UC_ENROLLD_H
/* The ETag the set in force gives route, copied into etag (48 bytes). */
static void
etag_of(struct enrolld *d, const char *route, char *etag)
{
	struct pubset *ps;
	int i;

	assert_non_null(ps = pub_get(d));
	for (i = 0; i < NPUB; i++)
		if (ps->f[i].route != NULL && strcmp(ps->f[i].route,
		    route) == 0)
			break;
	assert_true(i < NPUB);
	assert_non_null(ps->f[i].body);
	memcpy(etag, ps->f[i].etag, sizeof(ps->f[i].etag));
	pub_put(ps);
}

/*
 * The daemon's ETags are SHA-256 prefixes of the public files (If-None-
 * Match and 304 rest on them).  With SHA-256 failing, pub_reload() must
 * fail naming the digest and keep the set in force, never publish an
 * ETag made of whatever the digest buffer held (9ebd352 ignored
 * EVP_Digest()'s result and answered UC_OK).
 */
static void
test_etag_digest_fails(void **state)
{
	struct fixture *f = *state;
	struct authority *a = home_open(f, "etag");
	struct enrolld d;
	char before[48], after[48];
	uint64_t gen;
	int rc;

	memset(&d, 0, sizeof(d));
	assert_int_equal(pthread_rwlock_init(&d.publock, NULL), 0);
	d.conf.home = f->home;
	assert_int_equal(pub_reload(&d), UC_OK);
	etag_of(&d, "/ca.pem", before);
	/* "\"" + the first 12 bytes of SHA-256, hex + "\"" */
	assert_int_equal(strlen(before), 26);
	gen = d.generation;

	sha_broken();
	uc_clearerr();
	rc = pub_reload(&d);
	sha_ok();
	assert_int_not_equal(rc, UC_OK);
	if (strcasestr(uc_errmsg(), "sha256") == NULL)
		fail_msg("pub_reload error does not name the digest: %s",
		    uc_errmsg());
	assert_int_equal(d.generation, gen);
	etag_of(&d, "/ca.pem", after);
	assert_string_equal(after, before);

	/* SHA-256 back: the same files, the same ETag. */
	assert_int_equal(pub_reload(&d), UC_OK);
	etag_of(&d, "/ca.pem", after);
	assert_string_equal(after, before);
	pub_put(d.pub);
	pthread_rwlock_destroy(&d.publock);
	authority_free(a);
}
#endif

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_allocation_failures,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_request_allocation_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_state_query_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_digest_fails,
		    setup, teardown),
#ifdef UC_SHA256_LEN
		cmocka_unit_test(test_core_digest_fails),
#endif
#ifdef UC_ENROLLD_H
		cmocka_unit_test_setup_teardown(test_etag_digest_fails,
		    setup, teardown),
#endif
#ifdef UC_AUTHORITY_OCSP_H
		cmocka_unit_test_setup_teardown(test_ocsp_allocation_failures,
		    setup, teardown),
#endif
	};

	OSSL_PROVIDER *def, *fs;
	int rc;

	/* Before OpenSSL allocates anything. */
	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
		return 1;
	if ((def = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
	    !OSSL_PROVIDER_add_builtin(NULL, "failsha", fs_provider_init) ||
	    (fs = OSSL_PROVIDER_load(NULL, "failsha")) == NULL ||
	    (real_sha256 = EVP_MD_fetch(NULL, "SHA2-256",
	    "provider=default")) == NULL ||
	    !EVP_set_default_properties(NULL, "?provider=default"))
		return 1;
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);	/* e.g. "*crl*" */
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	/*
	 * Given back here, not left to OpenSSL's exit handler: with the
	 * daemon's libraries linked in, LeakSanitizer reported the failing
	 * provider as leaked otherwise.
	 */
	EVP_MD_free(real_sha256);
	OSSL_PROVIDER_unload(fs);
	OSSL_PROVIDER_unload(def);
	return rc;
}
