/*
 * test_store.c: the SQLite store on a temporary file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core.h"
#include "store.h"

/* Embedded by db/embed.cmake: one entry per schema step. */
extern const int store_nmigrations;

#define NOW	INT64_C(1767225600)	/* 2026-01-01T00:00:00Z */
#define DAY	INT64_C(86400)

struct fixture {
	char		 dir[PATH_MAX];
	char		 path[PATH_MAX];
	struct store	*st;
};

static void
rm_rf(const char *dir)
{
	char p[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

static int
setup(void **state)
{
	struct fixture *f;
	const char *tmp = getenv("TMPDIR");

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;
	if ((size_t)snprintf(f->dir, sizeof(f->dir), "%s/uc-store-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= sizeof(f->dir))
		return -1;
	assert_non_null(mkdtemp(f->dir));
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s/userca.db",
	    f->dir) >= sizeof(f->path))
		return -1;
	if (store_open(f->path, 1, &f->st) != UC_OK) {
		/* cmocka skips the teardown when the setup fails. */
		print_error("store_open: %s\n", uc_errmsg());
		rm_rf(f->dir);
		free(f);
		*state = NULL;
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	store_close(f->st);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* One text value of a query on a separate connection (new string). */
static char *
query_text(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char *v = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_non_null(v);
	return v;
}

static void
test_store_open(void **state)
{
	struct fixture *f = *state;
	struct store *st = (struct store *)(uintptr_t)1;
	char missing[PATH_MAX * 2];
	char *mode;
	int v = -1;

	assert_true(store_nmigrations > 0);
	assert_int_equal(store_schema_version(f->st, &v), UC_OK);
	assert_true(v > 0);
	assert_int_equal(v, store_nmigrations);

	mode = query_text(f->path, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	mode = query_text(f->path, "PRAGMA user_version");
	assert_int_equal(strtol(mode, NULL, 10), store_nmigrations);
	free(mode);

	/* Reopening keeps the version (and migrates nothing twice). */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->path, 0, &f->st), UC_OK);
	v = -1;
	assert_int_equal(store_schema_version(f->st, &v), UC_OK);
	assert_int_equal(v, store_nmigrations);

	/* Without create, a missing file is not created. */
	snprintf(missing, sizeof(missing), "%s/missing.db", f->dir);
	assert_int_not_equal(store_open(missing, 0, &st), UC_OK);
	assert_null(st);
	assert_int_equal(access(missing, F_OK), -1);
}

/* A database from a newer program is refused, not downgraded. */
static void
test_store_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct store *st = NULL;
	sqlite3 *db = NULL;
	char sql[64];

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	/* style-ok: PRAGMA takes no bound parameters; the value is our int. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    store_nmigrations + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, 0, &st), UC_E_STATE);
	assert_null(st);
}

static void
test_store_users(void **state)
{
	struct fixture *f = *state;
	struct store_user u, got;
	int64_t id = 0, id2 = 0, id3 = 0;

	memset(&u, 0, sizeof(u));
	u.username = (char *)(uintptr_t)"alice";
	u.email = (char *)(uintptr_t)"alice@example.org";
	u.name = (char *)(uintptr_t)"Alice Example";
	u.upn = (char *)(uintptr_t)"alice@corp.example.org";
	u.ou = (char *)(uintptr_t)"Engineering";
	assert_int_equal(store_user_upsert(f->st, &u, &id), UC_OK);
	assert_true(id > 0);

	assert_int_equal(store_user_get(f->st, "alice", &got), UC_OK);
	assert_true(got.id == id);
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.email, "alice@example.org");
	assert_string_equal(got.name, "Alice Example");
	assert_string_equal(got.upn, "alice@corp.example.org");
	assert_string_equal(got.ou, "Engineering");
	store_user_clear(&got);
	assert_null(got.username);

	/* Update the email only: the other fields are kept. */
	memset(&u, 0, sizeof(u));
	u.username = (char *)(uintptr_t)"alice";
	u.email = (char *)(uintptr_t)"a.example@example.org";
	assert_int_equal(store_user_upsert(f->st, &u, &id2), UC_OK);
	assert_true(id2 == id);
	assert_int_equal(store_user_get(f->st, "alice", &got), UC_OK);
	assert_string_equal(got.email, "a.example@example.org");
	assert_string_equal(got.name, "Alice Example");
	assert_string_equal(got.upn, "alice@corp.example.org");
	assert_string_equal(got.ou, "Engineering");
	store_user_clear(&got);

	/* Then the OU only: the new email stays. */
	memset(&u, 0, sizeof(u));
	u.username = (char *)(uintptr_t)"alice";
	u.ou = (char *)(uintptr_t)"Research";
	assert_int_equal(store_user_upsert(f->st, &u, NULL), UC_OK);
	assert_int_equal(store_user_get(f->st, "alice", &got), UC_OK);
	assert_true(got.id == id);
	assert_string_equal(got.email, "a.example@example.org");
	assert_string_equal(got.name, "Alice Example");
	assert_string_equal(got.upn, "alice@corp.example.org");
	assert_string_equal(got.ou, "Research");
	store_user_clear(&got);

	/* A second user with no optional fields: NULLs come back. */
	memset(&u, 0, sizeof(u));
	u.username = (char *)(uintptr_t)"bob";
	assert_int_equal(store_user_upsert(f->st, &u, &id3), UC_OK);
	assert_true(id3 > 0 && id3 != id);
	assert_int_equal(store_user_get(f->st, "bob", &got), UC_OK);
	assert_null(got.email);
	assert_null(got.name);
	assert_null(got.upn);
	assert_null(got.ou);
	store_user_clear(&got);

	/* Unknown user; the struct is left cleared. */
	memset(&got, 0xa5, sizeof(got));
	assert_int_equal(store_user_get(f->st, "carol", &got), UC_E_NOTFOUND);
	assert_null(got.username);
	assert_null(got.email);
	/* Names are exact, not patterns. */
	assert_int_equal(store_user_get(f->st, "ALICE", &got), UC_E_NOTFOUND);
	assert_int_equal(store_user_get(f->st, "%", &got), UC_E_NOTFOUND);
}

/* A certificate row; the strings point into static storage. */
static void
cert_row(struct store_cert *c, const char *serial, int64_t user_id,
    int64_t not_after, unsigned char *der, size_t derlen)
{
	static char sha[8][65];
	static int n;
	char *s = sha[n++ % 8];
	size_t i;

	/* A distinct "fingerprint" per row, derived from the serial. */
	for (i = 0; i < 64; i++)
		s[i] = "0123456789ABCDEF"[(serial[i % strlen(serial)] + i) % 16];
	s[64] = '\0';
	memcpy(s, serial, strlen(serial) < 64 ? strlen(serial) : 64);
	memset(c, 0, sizeof(*c));
	c->serial = (char *)(uintptr_t)serial;
	c->user_id = user_id;
	c->kind = (char *)(uintptr_t)"user";
	c->issuer_ski = (char *)(uintptr_t)"AABBCC";
	c->subject = (char *)(uintptr_t)"CN=someone,O=Example Org";
	c->not_before = NOW - 10 * DAY;
	c->not_after = not_after;
	c->sha256 = s;
	c->der = der;
	c->derlen = derlen;
	c->method = (char *)(uintptr_t)"csr";
	c->created_at = NOW - 10 * DAY;
}

static int64_t
add_user(struct store *st, const char *name)
{
	struct store_user u;
	int64_t id = 0;

	memset(&u, 0, sizeof(u));
	u.username = (char *)(uintptr_t)name;
	assert_int_equal(store_user_upsert(st, &u, &id), UC_OK);
	return id;
}

static void
test_store_certs(void **state)
{
	struct fixture *f = *state;
	struct store_cert c, got;
	unsigned char der[300];
	int64_t uid, cid = 0, cid2 = 0;
	size_t i;
	int exists = -1;

	for (i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(i * 7);	/* holds NULs */
	uid = add_user(f->st, "alice");
	cert_row(&c, "0A1B", uid, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, &cid), UC_OK);
	assert_true(cid > 0);

	assert_int_equal(store_cert_get(f->st, "0A1B", &got), UC_OK);
	assert_true(got.id == cid);
	assert_string_equal(got.serial, "0A1B");
	assert_true(got.user_id == uid);
	assert_non_null(got.username);
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.kind, "user");
	assert_string_equal(got.issuer_ski, "AABBCC");
	assert_string_equal(got.subject, c.subject);
	assert_true(got.not_before == c.not_before);
	assert_true(got.not_after == c.not_after);
	assert_string_equal(got.sha256, c.sha256);
	assert_int_equal(got.derlen, sizeof(der));
	assert_non_null(got.der);
	assert_memory_equal(got.der, der, sizeof(der));
	assert_string_equal(got.status, "valid");
	assert_true(got.revoked_at == 0);
	assert_int_equal(got.reason, -1);
	assert_string_equal(got.method, "csr");
	assert_true(got.created_at == c.created_at);
	store_cert_clear(&got);
	assert_null(got.der);

	assert_int_equal(store_cert_serial_exists(f->st, "0A1B", &exists),
	    UC_OK);
	assert_int_equal(exists, 1);
	assert_int_equal(store_cert_serial_exists(f->st, "0A1C", &exists),
	    UC_OK);
	assert_int_equal(exists, 0);
	assert_int_equal(store_cert_get(f->st, "0A1C", &got), UC_E_NOTFOUND);

	/* The same serial again (different fingerprint): refused. */
	cert_row(&c, "0A1B", uid, NOW + 100 * DAY, der, sizeof(der));
	c.sha256 = (char *)(uintptr_t)"FFFF";
	assert_int_equal(store_cert_insert(f->st, &c, &cid2), UC_E_EXISTS);
	assert_non_null(strstr(uc_errmsg(), "0A1B"));

	/* A row the schema refuses for another reason is not "exists". */
	cert_row(&c, "0B00", uid, NOW + DAY, der, sizeof(der));
	c.kind = (char *)(uintptr_t)"bogus";
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_E_DB);
	assert_int_equal(store_cert_serial_exists(f->st, "0B00", &exists),
	    UC_OK);
	assert_int_equal(exists, 0);

	/* No user: user_id 0 is stored as none. */
	cert_row(&c, "0C00", 0, NOW + DAY, der, sizeof(der));
	c.kind = (char *)(uintptr_t)"server";
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_cert_get(f->st, "0C00", &got), UC_OK);
	assert_true(got.user_id == 0);
	assert_null(got.username);
	store_cert_clear(&got);
}

static void
test_store_revoke(void **state)
{
	struct fixture *f = *state;
	struct store_cert c, got;
	unsigned char der[16] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	int64_t uid;

	uid = add_user(f->st, "alice");
	cert_row(&c, "0A1B", uid, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);

	assert_int_equal(store_cert_revoke(f->st, "0A1B", NOW, 1), UC_OK);
	assert_int_equal(store_cert_get(f->st, "0A1B", &got), UC_OK);
	assert_string_equal(got.status, "revoked");
	assert_true(got.revoked_at == NOW);
	assert_int_equal(got.reason, 1);
	store_cert_clear(&got);

	/* Again: wrong state, and the first revocation is kept. */
	assert_int_equal(store_cert_revoke(f->st, "0A1B", NOW + DAY, 4),
	    UC_E_STATE);
	assert_int_equal(store_cert_get(f->st, "0A1B", &got), UC_OK);
	assert_true(got.revoked_at == NOW);
	assert_int_equal(got.reason, 1);
	store_cert_clear(&got);

	assert_int_equal(store_cert_revoke(f->st, "0A1C", NOW, 1),
	    UC_E_NOTFOUND);

	/* OCSP's view: revoked with time and reason, for its issuer only. */
	{
		int revoked, reason;
		int64_t at;

		assert_int_equal(store_cert_status(f->st, "0A1B", "AABBCC",
		    &revoked, &at, &reason), UC_OK);
		assert_int_equal(revoked, 1);
		assert_true(at == NOW);
		assert_int_equal(reason, 1);
		assert_int_equal(store_cert_status(f->st, "0A1B", "DDEEFF",
		    &revoked, &at, &reason), UC_E_NOTFOUND);
		assert_int_equal(store_cert_status(f->st, "0A1C", "AABBCC",
		    &revoked, &at, &reason), UC_E_NOTFOUND);
		cert_row(&c, "0A1E", uid, NOW + 100 * DAY, der, sizeof(der));
		assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
		assert_int_equal(store_cert_status(f->st, "0A1E", "AABBCC",
		    &revoked, &at, &reason), UC_OK);
		assert_int_equal(revoked, 0);
		assert_int_equal(reason, -1);
	}

	/* Reason 0 (unspecified) is a reason, not "none". */
	cert_row(&c, "0A1D", uid, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_cert_revoke(f->st, "0A1D", NOW, 0), UC_OK);
	assert_int_equal(store_cert_get(f->st, "0A1D", &got), UC_OK);
	assert_int_equal(got.reason, 0);
	store_cert_clear(&got);
}

/*
 * store_data_version: a fresh one moves for a commit by another connection
 * (the CLI's revoke while the daemon reads), autocommit or explicit, and
 * for an explicit COMMIT of this process, and stays put when nothing was
 * written; without fresh it is the version of the connection's last read.
 */
static void
test_store_data_version(void **state)
{
	struct fixture *f = *state;
	struct store *rd = NULL;
	struct store_cert c, got;
	unsigned char der[16] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	uint64_t v0, v1, v2, v3, v4;
	int64_t uid;

	uid = add_user(f->st, "alice");
	cert_row(&c, "0B1B", uid, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_open(f->path, 0, &rd), UC_OK);
	assert_int_equal(store_data_version(rd, 1, &v0), UC_OK);
	assert_int_equal(store_data_version(rd, 1, &v1), UC_OK);
	assert_true(v1 == v0);
	/* Another connection, no explicit transaction. */
	assert_int_equal(store_cert_revoke(f->st, "0B1B", NOW, 1), UC_OK);
	/* Not read yet: the last read's version. */
	assert_int_equal(store_data_version(rd, 0, &v2), UC_OK);
	assert_true(v2 == v1);
	/* A read of the records sees it, and so does the version after. */
	assert_int_equal(store_cert_get(rd, "0B1B", &got), UC_OK);
	assert_string_equal(got.status, "revoked");
	store_cert_clear(&got);
	assert_int_equal(store_data_version(rd, 0, &v2), UC_OK);
	assert_true(v2 > v1);
	assert_int_equal(store_data_version(rd, 1, &v3), UC_OK);
	assert_true(v3 == v2);
	assert_int_equal(store_cert_revoke(f->st, "0B1B", NOW, 1), UC_E_STATE);
	/* An explicit transaction: only its COMMIT counts, fresh or not. */
	cert_row(&c, "0B1C", uid, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_begin(f->st), UC_OK);
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_data_version(rd, 1, &v3), UC_OK);
	assert_true(v3 == v2);		/* not committed yet */
	assert_int_equal(store_commit(f->st), UC_OK);
	assert_int_equal(store_data_version(rd, 0, &v3), UC_OK);
	assert_true(v3 > v2);		/* the process's COMMIT */
	assert_int_equal(store_data_version(rd, 1, &v4), UC_OK);
	assert_true(v4 > v3);		/* and the pager's */
	store_close(rd);
}

/* Collects serials in order. */
struct collect {
	char	 buf[512];
	int	 n;
	int	 stop_after;
	int	 with_der;
};

static int
collect_cb(const struct store_cert *c, void *arg)
{
	struct collect *cc = arg;

	{
		size_t l = strlen(cc->buf);

		snprintf(cc->buf + l, sizeof(cc->buf) - l, "%s%s",
		    l > 0 ? " " : "", c->serial);
	}
	cc->n++;
	if (cc->with_der)
		assert_true(c->der != NULL && c->derlen > 0);
	else
		assert_null(c->der);
	if (cc->stop_after > 0 && cc->n == cc->stop_after)
		return 42;
	return 0;
}

static const char *
list(struct store *st, const struct store_cert_filter *flt,
    struct collect *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->with_der = flt->with_der;
	assert_int_equal(store_cert_list(st, flt, collect_cb, cc), UC_OK);
	return cc->buf;
}

static void
test_store_list(void **state)
{
	struct fixture *f = *state;
	struct store_cert_filter flt;
	struct store_cert c;
	struct collect cc;
	unsigned char der[4] = { 1, 2, 3, 4 };
	int64_t alice, bob;

	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");
	/* 01: alice, valid; 02: alice, expired; 03: bob, expiring soon;
	 * 04: alice, revoked; 05: server of another issuer. */
	cert_row(&c, "01", alice, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "02", alice, NOW - DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "03", bob, NOW + 5 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "04", alice, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_cert_revoke(f->st, "04", NOW - DAY, 1), UC_OK);
	cert_row(&c, "05", 0, NOW + 100 * DAY, der, sizeof(der));
	c.kind = (char *)(uintptr_t)"server";
	c.issuer_ski = (char *)(uintptr_t)"DDEEFF";
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);

	memset(&flt, 0, sizeof(flt));
	flt.now = NOW;
	assert_string_equal(list(f->st, &flt, &cc), "01 02 03 04 05");

	flt.username = "alice";
	assert_string_equal(list(f->st, &flt, &cc), "01 02 04");
	flt.username = "bob";
	assert_string_equal(list(f->st, &flt, &cc), "03");
	flt.username = "nobody";
	assert_string_equal(list(f->st, &flt, &cc), "");
	flt.username = NULL;

	flt.status = "valid";
	assert_string_equal(list(f->st, &flt, &cc), "01 03 05");
	flt.status = "revoked";
	assert_string_equal(list(f->st, &flt, &cc), "04");
	flt.status = "expired";
	assert_string_equal(list(f->st, &flt, &cc), "02");
	/* "valid" and "expired" follow now. */
	flt.now = NOW + 6 * DAY;
	assert_string_equal(list(f->st, &flt, &cc), "02 03");
	flt.status = "valid";
	assert_string_equal(list(f->st, &flt, &cc), "01 05");
	flt.now = NOW;

	/* At not_after itself a certificate is expired, not valid. */
	flt.now = NOW + 5 * DAY;
	flt.status = "expired";
	assert_string_equal(list(f->st, &flt, &cc), "02 03");
	flt.status = "valid";
	assert_string_equal(list(f->st, &flt, &cc), "01 05");
	flt.now = NOW + 5 * DAY - 1;
	assert_string_equal(list(f->st, &flt, &cc), "01 03 05");
	flt.now = NOW;

	flt.username = "alice";
	flt.status = "valid";
	assert_string_equal(list(f->st, &flt, &cc), "01");
	flt.username = NULL;
	flt.status = NULL;

	flt.expiring_before = NOW + 10 * DAY;
	assert_string_equal(list(f->st, &flt, &cc), "03");
	flt.expiring_before = NOW + 200 * DAY;
	assert_string_equal(list(f->st, &flt, &cc), "01 03 05");
	flt.expiring_before = 0;

	flt.kind = "server";
	assert_string_equal(list(f->st, &flt, &cc), "05");
	flt.kind = NULL;
	flt.issuer_ski = "AABBCC";
	assert_string_equal(list(f->st, &flt, &cc), "01 02 03 04");
	flt.issuer_ski = NULL;

	flt.with_der = 1;
	assert_string_equal(list(f->st, &flt, &cc), "01 02 03 04 05");
	flt.with_der = 0;

	/* A non-zero return from the callback stops the walk. */
	memset(&cc, 0, sizeof(cc));
	cc.stop_after = 2;
	assert_int_equal(store_cert_list(f->st, &flt, collect_cb, &cc), 42);
	assert_int_equal(cc.n, 2);
	assert_string_equal(cc.buf, "01 02");
}

/*
 * A callback that walks the same list again while the outer walk holds
 * its statement: the inner walk gets a statement of its own (and gives
 * it back), and both see every row.
 */
struct nest {
	struct store			*st;
	const struct store_cert_filter	*flt;
	int				 outer, inner;
};

static int
inner_cb(const struct store_cert *c, void *arg)
{
	struct nest *n = arg;

	(void)c;
	n->inner++;
	return 0;
}

static int
outer_cb(const struct store_cert *c, void *arg)
{
	struct nest *n = arg;
	struct store_cert got;

	n->outer++;
	assert_int_equal(store_cert_list(n->st, n->flt, inner_cb, n), UC_OK);
	assert_int_equal(store_cert_get(n->st, c->serial, &got), UC_OK);
	assert_string_equal(got.serial, c->serial);
	store_cert_clear(&got);
	return 0;
}

static void
test_store_nested(void **state)
{
	struct fixture *f = *state;
	struct store_cert_filter flt;
	struct store_cert c;
	struct collect cc;
	struct nest n;
	unsigned char der[4] = { 1, 2, 3, 4 };
	int64_t alice;
	int round;

	alice = add_user(f->st, "alice");
	cert_row(&c, "01", alice, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "02", alice, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "03", alice, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);

	memset(&flt, 0, sizeof(flt));
	flt.now = NOW;
	/* Twice: the statements given back by the first round are reused. */
	for (round = 0; round < 2; round++) {
		memset(&n, 0, sizeof(n));
		n.st = f->st;
		n.flt = &flt;
		assert_int_equal(store_cert_list(f->st, &flt, outer_cb, &n),
		    UC_OK);
		assert_int_equal(n.outer, 3);
		assert_int_equal(n.inner, 9);
	}
	/* And a plain walk afterwards still sees the rows in order. */
	assert_string_equal(list(f->st, &flt, &cc), "01 02 03");
	/* A write between walks is not blocked by a statement left open. */
	assert_int_equal(store_cert_revoke(f->st, "02", NOW, 1), UC_OK);
	flt.status = "valid";
	assert_string_equal(list(f->st, &flt, &cc), "01 03");
}

static void
test_store_crls(void **state)
{
	struct fixture *f = *state;
	unsigned char der1[] = { 0x30, 0x01, 0x01 }, der2[] = { 0x30, 0x01,
	    0x02, 0x00 }, *der = NULL;
	size_t derlen = 0;
	int64_t n = 0, num = 0, next = 0;

	assert_int_equal(store_crl_next_number(f->st, "AA", &n), UC_OK);
	assert_true(n == 1);
	assert_int_equal(store_crl_insert(f->st, "AA", n, NOW, NOW + DAY,
	    der1, sizeof(der1)), UC_OK);
	assert_int_equal(store_crl_next_number(f->st, "AA", &n), UC_OK);
	assert_true(n == 2);
	assert_int_equal(store_crl_insert(f->st, "AA", n, NOW + 1,
	    NOW + 2 * DAY, der2, sizeof(der2)), UC_OK);
	assert_int_equal(store_crl_next_number(f->st, "AA", &n), UC_OK);
	assert_true(n == 3);

	/* Per issuer. */
	assert_int_equal(store_crl_next_number(f->st, "BB", &n), UC_OK);
	assert_true(n == 1);
	assert_int_equal(store_crl_insert(f->st, "BB", 1, NOW, NOW + DAY,
	    der1, sizeof(der1)), UC_OK);
	assert_int_equal(store_crl_next_number(f->st, "AA", &n), UC_OK);
	assert_true(n == 3);

	/* Latest is the highest number. */
	assert_int_equal(store_crl_latest(f->st, "AA", &der, &derlen, &num,
	    &next), UC_OK);
	assert_true(num == 2);
	assert_true(next == NOW + 2 * DAY);
	assert_int_equal(derlen, sizeof(der2));
	assert_memory_equal(der, der2, sizeof(der2));
	free(der);
	der = NULL;

	/* Even when a higher number was recorded before a lower one. */
	assert_int_equal(store_crl_insert(f->st, "BB", 9, NOW, NOW + 9 * DAY,
	    der2, sizeof(der2)), UC_OK);
	assert_int_equal(store_crl_insert(f->st, "BB", 5, NOW + 5,
	    NOW + 5 * DAY, der1, sizeof(der1)), UC_OK);
	assert_int_equal(store_crl_latest(f->st, "BB", &der, &derlen, &num,
	    NULL), UC_OK);
	assert_true(num == 9);
	assert_memory_equal(der, der2, sizeof(der2));
	free(der);
	der = NULL;
	assert_int_equal(store_crl_next_number(f->st, "BB", &n), UC_OK);
	assert_true(n == 10);

	/* A number is used once per issuer. */
	assert_int_not_equal(store_crl_insert(f->st, "AA", 2, NOW, NOW + DAY,
	    der1, sizeof(der1)), UC_OK);

	assert_int_equal(store_crl_latest(f->st, "CC", &der, &derlen, NULL,
	    NULL), UC_E_NOTFOUND);
	assert_null(der);
}

static void
test_store_transactions(void **state)
{
	struct fixture *f = *state;
	struct store_cert c;
	unsigned char der[4] = { 9, 9, 9, 9 };
	int64_t uid;
	int exists = -1;

	uid = add_user(f->st, "alice");

	assert_int_equal(store_begin(f->st), UC_OK);
	cert_row(&c, "0D01", uid, NOW + DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_cert_serial_exists(f->st, "0D01", &exists),
	    UC_OK);
	assert_int_equal(exists, 1);
	store_rollback(f->st);
	assert_int_equal(store_cert_serial_exists(f->st, "0D01", &exists),
	    UC_OK);
	assert_int_equal(exists, 0);

	assert_int_equal(store_begin(f->st), UC_OK);
	cert_row(&c, "0D02", uid, NOW + DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_commit(f->st), UC_OK);

	/* Committed rows survive a reopen. */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->path, 0, &f->st), UC_OK);
	assert_int_equal(store_cert_serial_exists(f->st, "0D02", &exists),
	    UC_OK);
	assert_int_equal(exists, 1);
	assert_int_equal(store_cert_serial_exists(f->st, "0D01", &exists),
	    UC_OK);
	assert_int_equal(exists, 0);

	/* rollback outside a transaction is harmless. */
	store_rollback(f->st);
	assert_int_equal(store_cert_serial_exists(f->st, "0D02", &exists),
	    UC_OK);
	assert_int_equal(exists, 1);
}

/*
 * The query plan of sql (EXPLAIN QUERY PLAN) on a separate connection, its
 * steps' details joined by "; ".
 */
static void
query_plan(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char *eqp;

	out[0] = '\0';
	assert_true(asprintf(&eqp, "EXPLAIN QUERY PLAN %s", sql) > 0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, eqp, -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		size_t l = strlen(out);

		snprintf(out + l, len - l, "%s%s", l > 0 ? "; " : "",
		    (const char *)sqlite3_column_text(s, 3));
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(eqp);
}

/*
 * The revocation path's walks (CRL entries of one issuer, a user's
 * unrevoked certificates) return the right rows and are indexed lookups,
 * never a scan of the certificates table: a revoke must cost the same at
 * 100 users as at 100,000 (issue 14, item 4).  The plan, not a timing.
 */
static void
test_store_revoked_indexed(void **state)
{
	struct fixture *f = *state;
	struct store_cert c;
	struct collect cc;
	unsigned char der[16] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	char plan[1024];
	int64_t alice, bob;

	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");
	cert_row(&c, "01", alice, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "02", alice, NOW - DAY, der, sizeof(der)); /* expired */
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "03", alice, NOW + 200 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "04", bob, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "05", bob, NOW + 100 * DAY, der, sizeof(der));
	c.issuer_ski = (char *)(uintptr_t)"DDEEFF";	/* another CA */
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	cert_row(&c, "06", alice, NOW + 100 * DAY, der, sizeof(der));
	assert_int_equal(store_cert_insert(f->st, &c, NULL), UC_OK);
	assert_int_equal(store_cert_revoke(f->st, "04", NOW, 1), UC_OK);
	assert_int_equal(store_cert_revoke(f->st, "05", NOW, 1), UC_OK);
	assert_int_equal(store_cert_revoke(f->st, "06", NOW, 1), UC_OK);

	memset(&cc, 0, sizeof(cc));
	assert_int_equal(store_cert_list_revoked(f->st, "AABBCC", collect_cb,
	    &cc), UC_OK);
	assert_string_equal(cc.buf, "04 06");
	memset(&cc, 0, sizeof(cc));
	assert_int_equal(store_cert_list_revoked(f->st, "DDEEFF", collect_cb,
	    &cc), UC_OK);
	assert_string_equal(cc.buf, "05");
	/* alice: valid ones first, then the expired one; 06 is revoked. */
	memset(&cc, 0, sizeof(cc));
	assert_int_equal(store_cert_list_unrevoked(f->st, alice, NOW,
	    collect_cb, &cc), UC_OK);
	assert_string_equal(cc.buf, "01 03 02");
	memset(&cc, 0, sizeof(cc));
	assert_int_equal(store_cert_list_unrevoked(f->st, bob, NOW,
	    collect_cb, &cc), UC_OK);
	assert_string_equal(cc.buf, "");
	/* A non-zero return stops the walk and is returned. */
	memset(&cc, 0, sizeof(cc));
	cc.stop_after = 1;
	assert_int_equal(store_cert_list_unrevoked(f->st, alice, NOW,
	    collect_cb, &cc), 42);

	query_plan(f->path, store_sql_cert_revoked, plan, sizeof(plan));
	assert_non_null(strstr(plan, "USING INDEX certificates_issuer "
	    "(issuer_ski=? AND status=?)"));
	assert_null(strstr(plan, "SCAN c"));
	query_plan(f->path, store_sql_cert_unrevoked, plan, sizeof(plan));
	assert_non_null(strstr(plan, "USING INDEX certificates_user "
	    "(user_id=? AND status=?)"));
	assert_null(strstr(plan, "SCAN c"));
	/* A user's tokens (revoke, renew): by tokens_user, not a scan. */
	query_plan(f->path, store_sql_tokens_expire, plan, sizeof(plan));
	assert_non_null(strstr(plan, "USING INDEX tokens_user (user_id=?)"));
	assert_null(strstr(plan, "SCAN tokens"));
	query_plan(f->path, store_sql_user_pending, plan, sizeof(plan));
	assert_non_null(strstr(plan, "USING INDEX tokens_user (user_id=?)"));
	assert_null(strstr(plan, "SCAN t"));
}

static void
test_store_audit(void **state)
{
	struct fixture *f = *state;
	char *v;

	assert_int_equal(store_audit(f->st, NOW, "cli", "revoke", "0A1B",
	    NULL), UC_OK);
	assert_int_equal(store_audit(f->st, NOW + 1, "enrolld", "issue", NULL,
	    "method=p12"), UC_OK);
	/* Row 1 marks where the chain starts (migration 0003). */
	v = query_text(f->path, "SELECT count(*) FROM audit");
	assert_string_equal(v, "3");
	free(v);
	v = query_text(f->path, "SELECT action FROM audit WHERE id = 1");
	assert_string_equal(v, "audit-chain");
	free(v);
	v = query_text(f->path, "SELECT actor || '/' || action || '/' || "
	    "coalesce(subject, '-') || '/' || coalesce(detail, '-') "
	    "FROM audit ORDER BY id DESC LIMIT 1");
	assert_string_equal(v, "enrolld/issue/-/method=p12");
	free(v);
}

/* Each row holds the previous row's hash and its own, as documented. */
static void
test_store_audit_chain(void **state)
{
	struct fixture *f = *state;
	char h[STORE_HASH_HEX], *v, *prev;

	assert_int_equal(store_audit(f->st, NOW, "cli", "revoke", "0A1B",
	    NULL), UC_OK);
	prev = query_text(f->path, "SELECT hash FROM audit WHERE id = 1");
	v = query_text(f->path, "SELECT prev_hash FROM audit WHERE id = 2");
	assert_string_equal(v, prev);
	free(v);
	assert_int_equal(store_audit_hash(2, NOW, "cli", "revoke", "0A1B",
	    NULL, prev, h), UC_OK);
	v = query_text(f->path, "SELECT hash FROM audit WHERE id = 2");
	assert_string_equal(v, h);
	free(v);
	/* NULL and "" differ, and so do fields split differently. */
	assert_int_equal(store_audit_hash(2, NOW, "cli", "revoke", "0A1B",
	    "", prev, h), UC_OK);
	v = query_text(f->path, "SELECT hash FROM audit WHERE id = 2");
	assert_string_not_equal(v, h);
	free(v);
	assert_int_equal(store_audit_hash(2, NOW, "cli", "revoke0", "A1B",
	    NULL, prev, h), UC_OK);
	v = query_text(f->path, "SELECT hash FROM audit WHERE id = 2");
	assert_string_not_equal(v, h);
	free(v);
	/* The empty string's digest, hashed apart from the store. */
	assert_int_equal(uc_sha256("", 0, (unsigned char *)h), UC_OK);
	assert_int_equal((unsigned char)h[0], 0xe3);
	assert_int_equal((unsigned char)h[31], 0x55);
	free(prev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_open, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_newer_schema, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_users, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_certs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_revoke, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_data_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_nested, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_list, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_crls, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_transactions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_audit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_audit_chain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_revoked_indexed,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
