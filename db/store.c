/*
 * store.c: userca's records in SQLite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core.h"
#include "store.h"
#include "ucbuf.h"

extern const char *const store_migrations[];
extern const int store_nmigrations;

/*
 * Compiled statements are kept for the life of the connection: a batch
 * runs the same few statements thousands of times, and compiling each
 * anew was a third of its bookkeeping CPU.
 */
#define STMT_CACHE	48

struct stmt_slot {
	const char	*sql;	/* the caller's literal: the key */
	sqlite3_stmt	*s;
	int		 busy;	/* handed out, not yet released */
};

struct store {
	sqlite3		*db;
	struct stmt_slot cache[STMT_CACHE];
	size_t		 ncache;
};

static int
dberr(struct store *st, const char *what)
{
	return uc_seterr(UC_E_DB, "%s: %s", what,
	    st != NULL && st->db != NULL ? sqlite3_errmsg(st->db) : "no db");
}

static int
exec(struct store *st, const char *sql, const char *what)
{
	char *msg = NULL;
	int rc;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		rc = uc_seterr(UC_E_DB, "%s: %s", what,
		    msg != NULL ? msg : "unknown");
		sqlite3_free(msg);
		return rc;
	}
	return UC_OK;
}

/*
 * A statement for sql, from the cache when one is free (sql is a string
 * literal; its text is compared too, so a reused buffer cannot match the
 * wrong statement).  A statement already handed out (a caller inside
 * another's loop) gets a fresh one that release() finalizes.
 */
static int
prepare(struct store *st, const char *sql, sqlite3_stmt **stmt)
{
	struct stmt_slot *c;
	size_t i;
	int known = 0;

	for (i = 0; i < st->ncache; i++) {
		c = &st->cache[i];
		if (c->sql != sql || strcmp(sqlite3_sql(c->s), sql) != 0)
			continue;
		known = 1;
		if (!c->busy) {
			c->busy = 1;
			*stmt = c->s;
			return UC_OK;
		}
	}
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
		return dberr(st, "prepare");
	if (!known && st->ncache < STMT_CACHE) {
		c = &st->cache[st->ncache++];
		c->sql = sql;
		c->s = *stmt;
		c->busy = 1;
	}
	return UC_OK;
}

/* Done with s: a cached statement is reset for its next use. */
static void
release(struct store *st, sqlite3_stmt *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < st->ncache; i++)
		if (st->cache[i].s == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			st->cache[i].busy = 0;
			return;
		}
	sqlite3_finalize(s);	/* an uncached one */
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

static char *
col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *v;

	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return NULL;
	v = sqlite3_column_text(s, i);
	return v == NULL ? NULL : strdup((const char *)v);
}

int
store_schema_version(struct store *st, int *version)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "PRAGMA user_version", &s)) != UC_OK)
		return rc;
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = dberr(st, "user_version");
		goto out;
	}
	*version = sqlite3_column_int(s, 0);
	rc = UC_OK;
out:
	release(st, s);
	return rc;
}

static int	audit_chain_existing(struct store *);

/* Apply the embedded migrations this database has not seen yet. */
static int
migrate(struct store *st)
{
	char pragma[64];
	int rc, v, i;

	if ((rc = store_begin(st)) != UC_OK)
		return rc;
	if ((rc = store_schema_version(st, &v)) != UC_OK)
		goto fail;
	if (v > store_nmigrations) {
		rc = uc_seterr(UC_E_STATE, "database schema version %d is "
		    "newer than this program (%d)", v, store_nmigrations);
		goto fail;
	}
	for (i = v; i < store_nmigrations; i++) {
		if ((rc = exec(st, store_migrations[i], "migration")) != UC_OK)
			goto fail;
		/* Step 3 is 0003_audit_chain (schema.sql is step 1): SQL cannot
		 * hash the rows written before it. */
		if (i + 1 == 3 && (rc = audit_chain_existing(st)) != UC_OK)
			goto fail;
		/* style-ok: PRAGMA takes no bound parameters; the value is our int. */
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    i + 1);
		if ((rc = exec(st, pragma, "user_version")) != UC_OK)
			goto fail;
	}
	return store_commit(st);
fail:
	store_rollback(st);
	return rc;
}

int
store_open(const char *path, int create, struct store **out)
{
	struct store *st = NULL;
	int flags, rc = UC_E_INTERNAL;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
	if (create)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		rc = uc_seterr(create ? UC_E_IO : UC_E_NOTFOUND, "%s: %s",
		    path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (sqlite3_busy_timeout(st->db, 10000) != SQLITE_OK) {
		rc = dberr(st, path);
		goto out;
	}
	if ((rc = exec(st, "PRAGMA journal_mode = WAL", path)) != UC_OK ||
	    (rc = exec(st, "PRAGMA synchronous = FULL", path)) != UC_OK ||
	    (rc = exec(st, "PRAGMA foreign_keys = ON", path)) != UC_OK)
		goto out;
	if ((rc = migrate(st)) != UC_OK)
		goto out;
	*out = st;
	st = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].s);
	sqlite3_close(st->db);
	free(st);
}

int
store_begin(struct store *st)
{
	return exec(st, "BEGIN IMMEDIATE", "begin");
}

/* COMMITs of this process that succeeded (store_data_version). */
static uint64_t commits;

int
store_commit(struct store *st)
{
	int rc;

	if ((rc = exec(st, "COMMIT", "commit")) != UC_OK)
		store_rollback(st);
	else
		__atomic_add_fetch(&commits, 1, __ATOMIC_SEQ_CST);
	return rc;
}

int
store_data_version(struct store *st, int fresh, uint64_t *version)
{
	sqlite3_stmt *s = NULL;
	unsigned int dv = 0;
	uint64_t own;
	int rc;

	/* Our own count first: a commit between the two reads only makes
	 * the number newer than the records read after it. */
	own = __atomic_load_n(&commits, __ATOMIC_SEQ_CST);
	if (fresh) {
		/* A read: the pager notices the commits made meanwhile. */
		if ((rc = prepare(st, "PRAGMA data_version", &s)) != UC_OK)
			return rc;
		rc = sqlite3_step(s);
		release(st, s);
		if (rc != SQLITE_ROW)
			return dberr(st, "data_version");
	}
	if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_DATA_VERSION,
	    &dv) != SQLITE_OK)
		return dberr(st, "data version");
	*version = (uint64_t)dv + own;
	return UC_OK;
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int
store_savepoint(struct store *st)
{
	return exec(st, "SAVEPOINT rec", "savepoint");
}

int
store_release(struct store *st)
{
	return exec(st, "RELEASE rec", "release");
}

int
store_rollback_to(struct store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return uc_seterr(UC_E_DB, "the transaction was rolled back");
	return exec(st, "ROLLBACK TO rec; RELEASE rec", "rollback to");
}

int
store_in_transaction(struct store *st)
{
	return !sqlite3_get_autocommit(st->db);
}

/* ---- users ----------------------------------------------------------- */

void
store_user_clear(struct store_user *u)
{
	if (u == NULL)
		return;
	free(u->username);
	free(u->email);
	free(u->name);
	free(u->upn);
	free(u->ou);
	free(u->sid);
	memset(u, 0, sizeof(*u));
}

int
store_user_get(struct store *st, const char *username, struct store_user *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT id, username, email, name, upn, ou, sid "
	    "FROM users WHERE username = ?1", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, username);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		out->id = sqlite3_column_int64(s, 0);
		out->username = col_strdup(s, 1);
		out->email = col_strdup(s, 2);
		out->name = col_strdup(s, 3);
		out->upn = col_strdup(s, 4);
		out->ou = col_strdup(s, 5);
		out->sid = col_strdup(s, 6);
		rc = out->username != NULL ? UC_OK :
		    uc_seterr(UC_E_INTERNAL, "out of memory");
		break;
	case SQLITE_DONE:
		rc = uc_seterr(UC_E_NOTFOUND, "unknown user '%s'", username);
		break;
	default:
		rc = dberr(st, "user lookup");
		break;
	}
	release(st, s);
	if (rc != UC_OK)
		store_user_clear(out);
	return rc;
}

int
store_user_upsert(struct store *st, const struct store_user *u, int64_t *id)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "INSERT INTO users "
	    "(username, email, name, upn, ou, created_at, sid) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	    "ON CONFLICT (username) DO UPDATE SET "
	    "email = coalesce(excluded.email, email), "
	    "name = coalesce(excluded.name, name), "
	    "upn = coalesce(excluded.upn, upn), "
	    "ou = coalesce(excluded.ou, ou), "
	    "sid = coalesce(excluded.sid, sid) "
	    "RETURNING id", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, u->username);
	bind_text(s, 2, u->email);
	bind_text(s, 3, u->name);
	bind_text(s, 4, u->upn);
	bind_text(s, 5, u->ou);
	sqlite3_bind_int64(s, 6, u->created_at);
	bind_text(s, 7, u->sid);
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = dberr(st, "user insert");
		goto out;
	}
	if (id != NULL)
		*id = sqlite3_column_int64(s, 0);
	(void)sqlite3_step(s);
	rc = UC_OK;
out:
	release(st, s);
	return rc;
}

/* ---- certificates ------------------------------------------------------ */

void
store_cert_clear(struct store_cert *c)
{
	if (c == NULL)
		return;
	free(c->serial);
	free(c->username);
	free(c->kind);
	free(c->issuer_ski);
	free(c->subject);
	free(c->sha256);
	free(c->der);
	free(c->status);
	free(c->method);
	memset(c, 0, sizeof(*c));
}

int
store_cert_insert(struct store *st, const struct store_cert *c, int64_t *id)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "INSERT INTO certificates (serial, user_id, "
	    "kind, issuer_ski, subject, not_before, not_after, sha256, der, "
	    "method, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10, ?11)", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, c->serial);
	if (c->user_id > 0)
		sqlite3_bind_int64(s, 2, c->user_id);
	else
		sqlite3_bind_null(s, 2);
	bind_text(s, 3, c->kind);
	bind_text(s, 4, c->issuer_ski);
	bind_text(s, 5, c->subject);
	sqlite3_bind_int64(s, 6, c->not_before);
	sqlite3_bind_int64(s, 7, c->not_after);
	bind_text(s, 8, c->sha256);
	sqlite3_bind_blob(s, 9, c->der, (int)c->derlen, SQLITE_TRANSIENT);
	bind_text(s, 10, c->method);
	sqlite3_bind_int64(s, 11, c->created_at);
	switch (sqlite3_step(s)) {
	case SQLITE_DONE:
		if (id != NULL)
			*id = sqlite3_last_insert_rowid(st->db);
		rc = UC_OK;
		break;
	case SQLITE_CONSTRAINT:
	case SQLITE_CONSTRAINT_UNIQUE:
		rc = uc_seterr(UC_E_EXISTS, "serial %s (or a certificate with "
		    "the same SHA-256) is already recorded", c->serial);
		break;
	default:
		rc = dberr(st, "certificate insert");
		break;
	}
	release(st, s);
	return rc;
}

#define CERT_COLS "c.id, c.serial, c.user_id, u.username, c.kind, " \
	"c.issuer_ski, c.subject, c.not_before, c.not_after, c.sha256, " \
	"c.status, c.revoked_at, c.reason, c.method, c.created_at, c.der " \
	"FROM certificates c LEFT JOIN users u ON u.id = c.user_id "

static int
cert_from_row(sqlite3_stmt *s, struct store_cert *c, int with_der)
{
	const void *der;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(s, 0);
	c->serial = col_strdup(s, 1);
	c->user_id = sqlite3_column_int64(s, 2);
	c->username = col_strdup(s, 3);
	c->kind = col_strdup(s, 4);
	c->issuer_ski = col_strdup(s, 5);
	c->subject = col_strdup(s, 6);
	c->not_before = sqlite3_column_int64(s, 7);
	c->not_after = sqlite3_column_int64(s, 8);
	c->sha256 = col_strdup(s, 9);
	c->status = col_strdup(s, 10);
	c->revoked_at = sqlite3_column_int64(s, 11);
	c->reason = sqlite3_column_type(s, 12) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(s, 12);
	c->method = col_strdup(s, 13);
	c->created_at = sqlite3_column_int64(s, 14);
	if (with_der) {
		der = sqlite3_column_blob(s, 15);
		c->derlen = (size_t)sqlite3_column_bytes(s, 15);
		if (der != NULL && c->derlen > 0) {
			if ((c->der = malloc(c->derlen)) == NULL)
				goto oom;
			memcpy(c->der, der, c->derlen);
		}
	}
	if (c->serial == NULL || c->kind == NULL || c->issuer_ski == NULL ||
	    c->subject == NULL || c->sha256 == NULL || c->status == NULL ||
	    c->method == NULL)
		goto oom;
	return UC_OK;
oom:
	store_cert_clear(c);
	return uc_seterr(UC_E_INTERNAL, "out of memory");
}

/*
 * Step s, bound to look up one certificate by serial: 1 at its row (*rc
 * UC_OK); 0 with *rc UC_E_NOTFOUND when there is none, or the database's
 * error for what.
 */
static int
serial_row(struct store *st, sqlite3_stmt *s, const char *serial,
    const char *what, int *rc)
{
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		*rc = UC_OK;
		return 1;
	case SQLITE_DONE:
		*rc = uc_seterr(UC_E_NOTFOUND, "no certificate with serial %s",
		    serial);
		return 0;
	default:
		*rc = dberr(st, what);
		return 0;
	}
}

int
store_cert_get(struct store *st, const char *serial, struct store_cert *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT " CERT_COLS "WHERE c.serial = ?1",
	    &s)) != UC_OK)
		return rc;
	bind_text(s, 1, serial);
	if (serial_row(st, s, serial, "certificate lookup", &rc))
		rc = cert_from_row(s, out, 1);
	release(st, s);
	return rc;
}

int
store_cert_status(struct store *st, const char *serial, const char *issuer_ski,
    int *revoked, int64_t *at, int *reason)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*revoked = 0;
	*at = 0;
	*reason = -1;
	if ((rc = prepare(st, "SELECT status = 'revoked', revoked_at, reason "
	    "FROM certificates WHERE serial = ?1 AND issuer_ski = ?2",
	    &s)) != UC_OK)
		return rc;
	bind_text(s, 1, serial);
	bind_text(s, 2, issuer_ski);
	if (serial_row(st, s, serial, "certificate status", &rc) &&
	    (*revoked = sqlite3_column_int(s, 0)) != 0) {
		*at = sqlite3_column_int64(s, 1);
		*reason = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(s, 2);
	}
	release(st, s);
	return rc;
}

int
store_cert_serial_exists(struct store *st, const char *serial, int *exists)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "SELECT 1 FROM certificates WHERE serial = ?1",
	    &s)) != UC_OK)
		return rc;
	bind_text(s, 1, serial);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		*exists = 1;
		rc = UC_OK;
		break;
	case SQLITE_DONE:
		*exists = 0;
		rc = UC_OK;
		break;
	default:
		rc = dberr(st, "serial lookup");
		break;
	}
	release(st, s);
	return rc;
}

int
store_cert_revoke(struct store *st, const char *serial, int64_t at, int reason)
{
	struct store_cert c;
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = store_cert_get(st, serial, &c)) != UC_OK)
		return rc;
	if (strcmp(c.status, "revoked") == 0) {
		rc = uc_seterr(UC_E_STATE, "certificate %s is already revoked",
		    serial);
		goto out;
	}
	if ((rc = prepare(st, "UPDATE certificates SET status = 'revoked', "
	    "revoked_at = ?2, reason = ?3 WHERE serial = ?1 AND "
	    "status = 'valid'", &s)) != UC_OK)
		goto out;
	bind_text(s, 1, serial);
	sqlite3_bind_int64(s, 2, at);
	sqlite3_bind_int(s, 3, reason);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = dberr(st, "revoke");
		goto out;
	}
	rc = sqlite3_changes(st->db) == 1 ? UC_OK :
	    uc_seterr(UC_E_STATE, "certificate %s is already revoked", serial);
out:
	release(st, s);
	store_cert_clear(&c);
	return rc;
}

int
store_user_valid_serials(struct store *st, const char *username, int64_t now,
    char ***serials, size_t *n)
{
	sqlite3_stmt *s;
	char **v = NULL, **nv;
	size_t cnt = 0, i;
	int rc, step;

	*serials = NULL;
	*n = 0;
	if ((rc = prepare(st, "SELECT c.serial "
	    "FROM certificates c JOIN users u ON u.id = c.user_id WHERE "
	    "u.username = ?1 AND c.status = 'valid' AND c.not_after > ?2 "
	    "ORDER BY c.id", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, username);
	sqlite3_bind_int64(s, 2, now);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL)
			goto oom;
		v = nv;
		if ((v[cnt] = col_strdup(s, 0)) == NULL)
			goto oom;
		cnt++;
	}
	if (step != SQLITE_DONE) {
		rc = dberr(st, "valid serials");
		goto fail;
	}
	release(st, s);
	*serials = v;
	*n = cnt;
	return UC_OK;
oom:
	rc = uc_seterr(UC_E_INTERNAL, "out of memory");
fail:
	release(st, s);
	for (i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return rc;
}

int
store_cert_supersede(struct store *st, const char *old_serial, int64_t new_id)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "UPDATE certificates SET superseded_by = ?2 "
	    "WHERE serial = ?1", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, old_serial);
	sqlite3_bind_int64(s, 2, new_id);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK : dberr(st, "supersede");
	release(st, s);
	return rc;
}

int
store_cert_supersede_once(struct store *st, const char *old_serial,
    int64_t new_id, int *done)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*done = 0;
	if ((rc = prepare(st, "UPDATE certificates SET superseded_by = ?2 "
	    "WHERE serial = ?1 AND superseded_by IS NULL", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, old_serial);
	sqlite3_bind_int64(s, 2, new_id);
	if (sqlite3_step(s) == SQLITE_DONE) {
		*done = sqlite3_changes(st->db) > 0;
		rc = UC_OK;
	} else
		rc = dberr(st, "supersede");
	release(st, s);
	return rc;
}

/* ---- renewal and reminders (migration 0005) -------------------------------- */

/*
 * A renewal candidate: the user's newest unexpired certificate (highest
 * not_after, then id) if it is valid, expires before ?2 and nothing
 * superseded it.  A revoked newest certificate is no candidate, nor is an
 * older one behind it.
 */
#define DUE_SQL "SELECT c.id, c.serial, u.username, c.not_after " \
	"FROM certificates c JOIN users u ON u.id = c.user_id " \
	"WHERE c.kind = 'user' AND c.status = 'valid' AND c.not_after > ?1 " \
	"AND c.not_after < ?2 AND c.superseded_by IS NULL AND " \
	"(?3 IS NULL OR u.username = ?3) AND NOT EXISTS (SELECT 1 FROM " \
	"certificates d INDEXED BY certificates_user WHERE d.user_id = " \
	"c.user_id AND d.kind = 'user' AND " \
	"d.status = 'valid' AND d.not_after > ?1 AND (d.not_after > c.not_after OR " \
	"(d.not_after = c.not_after AND d.id > c.id))) "

void
store_due_clear(struct store_due *d)
{
	if (d == NULL)
		return;
	free(d->serial);
	free(d->username);
	memset(d, 0, sizeof(*d));
}

static int
due_walk(struct store *st, const char *username, int64_t now, int64_t until,
    store_due_cb cb, void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_due d;
	int rc, step;

	if ((rc = prepare(st, DUE_SQL "ORDER BY u.username", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, until);
	bind_text(s, 3, username);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&d, 0, sizeof(d));
		d.cert_id = sqlite3_column_int64(s, 0);
		d.not_after = sqlite3_column_int64(s, 3);
		if ((d.serial = col_strdup(s, 1)) == NULL ||
		    (d.username = col_strdup(s, 2)) == NULL) {
			store_due_clear(&d);
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		rc = cb(&d, arg);
		store_due_clear(&d);
		if (rc != 0)
			goto out;
	}
	rc = step == SQLITE_DONE ? UC_OK : dberr(st, "renewal candidates");
out:
	release(st, s);
	return rc;
}

int
store_due_list(struct store *st, int64_t now, int64_t until, store_due_cb cb,
    void *arg)
{
	return due_walk(st, NULL, now, until, cb, arg);
}

/*
 * One user: the newest valid unexpired certificate by the user index
 * (certificates_user), due if it expires before until and nothing
 * superseded it.  The same predicate as DUE_SQL, without its scan: batch
 * asks for every row.
 */
int
store_due_user(struct store *st, const char *username, int64_t now,
    int64_t until, struct store_due *out)
{
	sqlite3_stmt *s = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT c.id, c.serial, u.username, c.not_after, "
	    "c.superseded_by IS NULL FROM users u JOIN certificates c INDEXED BY "
	    "certificates_user ON "
	    "c.user_id = u.id WHERE u.username = ?1 AND c.status = 'valid' AND "
	    "c.kind = 'user' AND c.not_after > ?2 ORDER BY c.not_after DESC, "
	    "c.id DESC LIMIT 1", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, username);
	sqlite3_bind_int64(s, 2, now);
	if ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_int64(s, 3) >= until ||
		    sqlite3_column_int(s, 4) == 0)
			rc = UC_E_NOTFOUND;
		else {
			out->cert_id = sqlite3_column_int64(s, 0);
			out->not_after = sqlite3_column_int64(s, 3);
			if ((out->serial = col_strdup(s, 1)) == NULL ||
			    (out->username = col_strdup(s, 2)) == NULL) {
				store_due_clear(out);
				rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			}
		}
	} else if (step == SQLITE_DONE)
		rc = UC_E_NOTFOUND;
	else
		rc = dberr(st, "renewal candidate");
	release(st, s);
	return rc;
}

int
store_due_count(struct store *st, int64_t now, int64_t until, long *n)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*n = 0;
	if ((rc = prepare(st, "SELECT count(*) FROM (" DUE_SQL ")", &s)) !=
	    UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, until);
	sqlite3_bind_null(s, 3);
	if (sqlite3_step(s) == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(s, 0);
	else
		rc = dberr(st, "renewal candidates");
	release(st, s);
	return rc;
}

int
store_token_set_renews(struct store *st, const unsigned char hash[32],
    int64_t cert_id, int revoke_old)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "UPDATE tokens SET renews = ?2, revoke_old = ?3 "
	    "WHERE hash = ?1", &s)) != UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, cert_id);
	sqlite3_bind_int(s, 3, revoke_old != 0);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK : dberr(st, "token renews");
	release(st, s);
	return rc;
}

int
store_token_renews(struct store *st, const unsigned char hash[32],
    struct store_renewal *out)
{
	sqlite3_stmt *s = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT c.serial, c.not_after, t.revoke_old "
	    "FROM tokens t JOIN certificates c ON c.id = t.renews "
	    "WHERE t.hash = ?1", &s)) != UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	if ((step = sqlite3_step(s)) == SQLITE_ROW) {
		out->not_after = sqlite3_column_int64(s, 1);
		out->revoke_old = sqlite3_column_int(s, 2) != 0;
		if ((out->serial = col_strdup(s, 0)) == NULL)
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	} else if (step == SQLITE_DONE)
		rc = UC_E_NOTFOUND;
	else
		rc = dberr(st, "token renews");
	release(st, s);
	return rc;
}

void
store_renewal_clear(struct store_renewal *r)
{
	if (r == NULL)
		return;
	free(r->serial);
	memset(r, 0, sizeof(*r));
}

int
store_reminder_add(struct store *st, int64_t cert_id, int threshold,
    int64_t at, int *added)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*added = 0;
	if ((rc = prepare(st, "INSERT OR IGNORE INTO reminders (cert_id, "
	    "threshold, sent_at) VALUES (?1, ?2, ?3)", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, cert_id);
	sqlite3_bind_int(s, 2, threshold);
	sqlite3_bind_int64(s, 3, at);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "reminder");
	else
		*added = sqlite3_changes(st->db) == 1;
	release(st, s);
	return rc;
}

int
store_reminder_sent(struct store *st, int64_t cert_id, int threshold,
    int *sent)
{
	sqlite3_stmt *s = NULL;
	int rc, step;

	*sent = 0;
	if ((rc = prepare(st, "SELECT 1 FROM reminders WHERE cert_id = ?1 AND "
	    "threshold = ?2", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, cert_id);
	sqlite3_bind_int(s, 2, threshold);
	if ((step = sqlite3_step(s)) == SQLITE_ROW)
		*sent = 1;
	else if (step != SQLITE_DONE)
		rc = dberr(st, "reminder");
	release(st, s);
	return rc;
}

int
store_token_end(struct store *st, const unsigned char hash[32], int64_t now)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "UPDATE tokens SET expires_at = ?2 WHERE hash = "
	    "?1 AND used_at IS NULL AND expires_at > ?2", &s)) != UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK : dberr(st, "token end");
	release(st, s);
	return rc;
}

int
store_reminder_drop(struct store *st, int64_t cert_id, int threshold)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "DELETE FROM reminders WHERE cert_id = ?1 AND "
	    "threshold = ?2", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, cert_id);
	sqlite3_bind_int(s, 2, threshold);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK : dberr(st, "reminder");
	release(st, s);
	return rc;
}

int
store_cert_list(struct store *st, const struct store_cert_filter *f,
    store_cert_cb cb, void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_cert c;
	const char *status = f->status;
	int rc, step;

	/*
	 * One statement with optional filters: a NULL parameter disables
	 * its condition, so no SQL is ever assembled at run time.
	 */
	if ((rc = prepare(st, "SELECT " CERT_COLS "WHERE "
	    "(?1 IS NULL OR u.username = ?1) AND "
	    "(?2 IS NULL OR c.issuer_ski = ?2) AND "
	    "(?3 IS NULL OR c.kind = ?3) AND "
	    "(?4 IS NULL OR "
	    " (?4 = 'revoked' AND c.status = 'revoked') OR "
	    " (?4 = 'valid' AND c.status = 'valid' AND c.not_after > ?5) OR "
	    " (?4 = 'expired' AND c.status = 'valid' AND c.not_after <= ?5)) "
	    "AND (?6 IS NULL OR (c.status = 'valid' AND c.not_after > ?5 AND "
	    " c.not_after < ?6)) "
	    "ORDER BY c.id", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, f->username);
	bind_text(s, 2, f->issuer_ski);
	bind_text(s, 3, f->kind);
	bind_text(s, 4, status);
	sqlite3_bind_int64(s, 5, f->now);
	if (f->expiring_before != 0)
		sqlite3_bind_int64(s, 6, f->expiring_before);
	else
		sqlite3_bind_null(s, 6);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = cert_from_row(s, &c, f->with_der)) != UC_OK)
			goto out;
		rc = cb(&c, arg);
		store_cert_clear(&c);
		if (rc != 0)
			goto out;
	}
	rc = step == SQLITE_DONE ? UC_OK : dberr(st, "certificate list");
out:
	release(st, s);
	return rc;
}

/*
 * certificates_issuer (issuer_ski, status) and certificates_user (user_id,
 * status) answer these; the generic query above cannot use either, since
 * each condition there may be switched off.
 */
const char store_sql_cert_revoked[] = "SELECT " CERT_COLS
    "WHERE c.issuer_ski = ?1 AND c.status = 'revoked' ORDER BY c.id";
const char store_sql_cert_unrevoked[] = "SELECT " CERT_COLS
    "WHERE c.user_id = ?1 AND c.status = 'valid' "
    "ORDER BY c.not_after <= ?2, c.id";

/* Step s (bound, prepared here) through cb; releases s. */
static int
cert_walk(struct store *st, sqlite3_stmt *s, store_cert_cb cb, void *arg,
    const char *what)
{
	struct store_cert c;
	int rc, step;

	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = cert_from_row(s, &c, 0)) != UC_OK)
			goto out;
		rc = cb(&c, arg);
		store_cert_clear(&c);
		if (rc != 0)
			goto out;
	}
	rc = step == SQLITE_DONE ? UC_OK : dberr(st, what);
out:
	release(st, s);
	return rc;
}

int
store_cert_list_revoked(struct store *st, const char *issuer_ski,
    store_cert_cb cb, void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, store_sql_cert_revoked, &s)) != UC_OK)
		return rc;
	bind_text(s, 1, issuer_ski);
	return cert_walk(st, s, cb, arg, "revoked certificates");
}

int
store_cert_list_unrevoked(struct store *st, int64_t user_id, int64_t now,
    store_cert_cb cb, void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, store_sql_cert_unrevoked, &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, now);
	return cert_walk(st, s, cb, arg, "a user's certificates");
}

/* ---- CRLs and audit ------------------------------------------------------ */

/* The one integer a query keyed by issuer_ski answers. */
static int
issuer_int(struct store *st, const char *sql, const char *issuer_ski,
    int64_t *out, const char *what)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, sql, &s)) != UC_OK)
		return rc;
	bind_text(s, 1, issuer_ski);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = UC_OK;
	} else
		rc = dberr(st, what);
	release(st, s);
	return rc;
}

int
store_crl_next_number(struct store *st, const char *issuer_ski,
    int64_t *number)
{
	return issuer_int(st, "SELECT coalesce(max(number), 0) + 1 FROM crls "
	    "WHERE issuer_ski = ?1", issuer_ski, number, "crl number");
}

int
store_crl_insert(struct store *st, const char *issuer_ski, int64_t number,
    int64_t this_update, int64_t next_update, const unsigned char *der,
    size_t derlen)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "INSERT INTO crls (issuer_ski, number, "
	    "this_update, next_update, der, created_at) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?3)", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, issuer_ski);
	sqlite3_bind_int64(s, 2, number);
	sqlite3_bind_int64(s, 3, this_update);
	sqlite3_bind_int64(s, 4, next_update);
	sqlite3_bind_blob(s, 5, der, (int)derlen, SQLITE_TRANSIENT);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK : dberr(st, "crl insert");
	release(st, s);
	return rc;
}

int
store_crl_latest(struct store *st, const char *issuer_ski, unsigned char **der,
    size_t *derlen, int64_t *number, int64_t *next_update)
{
	return store_crl_current(st, issuer_ski, INT64_MAX, der, derlen, number,
	    next_update);
}

int
store_crl_current(struct store *st, const char *issuer_ski, int64_t now,
    unsigned char **der, size_t *derlen, int64_t *number, int64_t *next_update)
{
	sqlite3_stmt *s = NULL;
	const void *blob;
	int rc, n;

	*der = NULL;
	*derlen = 0;
	if ((rc = prepare(st, "SELECT der, number, next_update FROM crls "
	    "WHERE issuer_ski = ?1 AND this_update <= ?2 ORDER BY number DESC "
	    "LIMIT 1", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, issuer_ski);
	sqlite3_bind_int64(s, 2, now);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		blob = sqlite3_column_blob(s, 0);
		n = sqlite3_column_bytes(s, 0);
		if (blob == NULL || n <= 0 || (*der = malloc((size_t)n)) ==
		    NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			break;
		}
		memcpy(*der, blob, (size_t)n);
		*derlen = (size_t)n;
		if (number != NULL)
			*number = sqlite3_column_int64(s, 1);
		if (next_update != NULL)
			*next_update = sqlite3_column_int64(s, 2);
		rc = UC_OK;
		break;
	case SQLITE_DONE:
		rc = uc_seterr(UC_E_NOTFOUND, "no CRL recorded for issuer %s",
		    issuer_ski);
		break;
	default:
		rc = dberr(st, "crl lookup");
		break;
	}
	release(st, s);
	return rc;
}

int
store_crl_drop_future(struct store *st, const char *issuer_ski, int64_t now,
    long *dropped)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*dropped = 0;
	if ((rc = prepare(st, "DELETE FROM crls WHERE issuer_ski = ?1 AND "
	    "this_update > ?2", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, issuer_ski);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "drop future CRLs");
	else
		*dropped = (long)sqlite3_changes(st->db);
	release(st, s);
	return rc;
}

int
store_crl_runway(struct store *st, const char *issuer_ski, int64_t now,
    long *future, int64_t *last_next_update)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "SELECT count(CASE WHEN this_update > ?2 THEN 1 "
	    "END), coalesce(max(next_update), 0) FROM crls WHERE "
	    "issuer_ski = ?1", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, issuer_ski);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*future = (long)sqlite3_column_int64(s, 0);
		*last_next_update = sqlite3_column_int64(s, 1);
		rc = UC_OK;
	} else
		rc = dberr(st, "crl runway");
	release(st, s);
	return rc;
}

int
store_token_insert(struct store *st, int64_t user_id,
    const unsigned char hash[32], int64_t created_at, int64_t expires_at,
    int64_t *id)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "INSERT INTO tokens (user_id, hash, created_at, "
	    "expires_at) VALUES (?1, ?2, ?3, ?4)", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_blob(s, 2, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, created_at);
	sqlite3_bind_int64(s, 4, expires_at);
	switch (sqlite3_step(s)) {
	case SQLITE_DONE:
		if (id != NULL)
			*id = sqlite3_last_insert_rowid(st->db);
		rc = UC_OK;
		break;
	case SQLITE_CONSTRAINT:
	case SQLITE_CONSTRAINT_UNIQUE:
		rc = uc_seterr(UC_E_EXISTS, "token already recorded");
		break;
	default:
		rc = dberr(st, "token insert");
		break;
	}
	release(st, s);
	return rc;
}

int
store_token_get(struct store *st, const unsigned char hash[32],
    struct store_token *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT id, user_id, created_at, expires_at, "
	    "coalesce(used_at, 0), coalesce(cert_id, 0) FROM tokens WHERE "
	    "hash = ?1", &s)) != UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		out->id = sqlite3_column_int64(s, 0);
		out->user_id = sqlite3_column_int64(s, 1);
		out->created_at = sqlite3_column_int64(s, 2);
		out->expires_at = sqlite3_column_int64(s, 3);
		out->used_at = sqlite3_column_int64(s, 4);
		out->cert_id = sqlite3_column_int64(s, 5);
		rc = UC_OK;
		break;
	case SQLITE_DONE:
		rc = uc_seterr(UC_E_NOTFOUND, "unknown token");
		break;
	default:
		rc = dberr(st, "token lookup");
		break;
	}
	release(st, s);
	return rc;
}

int
store_token_consume(struct store *st, const unsigned char hash[32],
    int64_t now, int64_t cert_id, int *consumed)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*consumed = 0;
	if ((rc = prepare(st, "UPDATE tokens SET used_at = ?2, cert_id = ?3 "
	    "WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2", &s)) !=
	    UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	if (cert_id > 0)
		sqlite3_bind_int64(s, 3, cert_id);
	else
		sqlite3_bind_null(s, 3);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "token consume");
	else
		*consumed = sqlite3_changes(st->db) == 1;
	release(st, s);
	return rc;
}

int
store_token_cert(struct store *st, const unsigned char hash[32],
    unsigned char **der, size_t *derlen, int *valid)
{
	sqlite3_stmt *s = NULL;
	const void *blob;
	int rc, n;

	*der = NULL;
	*derlen = 0;
	*valid = 0;
	if ((rc = prepare(st, "SELECT c.der, c.status = 'valid' FROM tokens t "
	    "JOIN certificates c ON c.id = t.cert_id WHERE t.hash = ?1",
	    &s)) != UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		blob = sqlite3_column_blob(s, 0);
		n = sqlite3_column_bytes(s, 0);
		if (blob == NULL || n <= 0 || (*der = malloc((size_t)n)) ==
		    NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "token certificate: out "
			    "of memory");
			break;
		}
		memcpy(*der, blob, (size_t)n);
		*derlen = (size_t)n;
		*valid = sqlite3_column_int(s, 1) != 0;
		rc = UC_OK;
		break;
	case SQLITE_DONE:
		rc = uc_seterr(UC_E_NOTFOUND, "the token has no certificate");
		break;
	default:
		rc = dberr(st, "token certificate");
		break;
	}
	release(st, s);
	return rc;
}

int
store_token_rearm(struct store *st, int64_t cert_id, int *rearmed)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*rearmed = 0;
	if ((rc = prepare(st, "UPDATE tokens SET used_at = NULL, cert_id = "
	    "NULL, retry_hash = NULL, retry_until = NULL, retry_used_at = "
	    "NULL WHERE cert_id = ?1", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, cert_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "token re-arm");
	else
		*rearmed = sqlite3_changes(st->db) >= 1;
	release(st, s);
	return rc;
}

int
store_user_get_id(struct store *st, int64_t id, struct store_user *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT username FROM users WHERE id = ?1",
	    &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		{
			char *name = col_strdup(s, 0);

			release(st, s);
			if (name == NULL)
				return uc_seterr(UC_E_INTERNAL, "out of memory");
			rc = store_user_get(st, name, out);
			free(name);
			return rc;
		}
	case SQLITE_DONE:
		rc = uc_seterr(UC_E_NOTFOUND, "no user with id %lld",
		    (long long)id);
		break;
	default:
		rc = dberr(st, "user lookup");
		break;
	}
	release(st, s);
	return rc;
}

/* tokens_user (migration 0007) answers both: no scan of every token. */
const char store_sql_tokens_expire[] = "UPDATE tokens SET expires_at = ?2 "
    "WHERE user_id = ?1 AND used_at IS NULL AND expires_at > ?2";
const char store_sql_user_pending[] = "SELECT 1 FROM tokens t JOIN users u "
    "ON u.id = t.user_id WHERE u.username = ?1 AND t.used_at IS NULL AND "
    "t.expires_at > ?2 LIMIT 1";

int
store_user_pending_token(struct store *st, const char *username, int64_t now,
    int *pending)
{
	sqlite3_stmt *s;
	int rc, step;

	if ((rc = prepare(st, store_sql_user_pending,
	    &s)) != UC_OK)
		return rc;
	bind_text(s, 1, username);
	sqlite3_bind_int64(s, 2, now);
	step = sqlite3_step(s);
	*pending = step == SQLITE_ROW;
	rc = step == SQLITE_ROW || step == SQLITE_DONE ? UC_OK :
	    dberr(st, "pending token");
	release(st, s);
	return rc;
}

int
store_token_pending(struct store *st, const unsigned char hash[32],
    int64_t now, int *pending)
{
	sqlite3_stmt *s = NULL;
	int rc, step;

	if ((rc = prepare(st, "SELECT 1 FROM tokens WHERE hash = ?1 AND "
	    "used_at IS NULL AND expires_at > ?2", &s)) != UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	step = sqlite3_step(s);
	*pending = step == SQLITE_ROW;
	rc = step == SQLITE_ROW || step == SQLITE_DONE ? UC_OK :
	    dberr(st, "token lookup");
	release(st, s);
	return rc;
}

int
store_user_expire_tokens(struct store *st, int64_t user_id, int64_t now)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, store_sql_tokens_expire, &s)) !=
	    UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, now);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK :
	    dberr(st, "expire tokens");
	release(st, s);
	return rc;
}

int
store_user_expire_tokens_count(struct store *st, int64_t user_id, int64_t now,
    int *count)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*count = 0;
	if ((rc = prepare(st, store_sql_tokens_expire, &s)) !=
	    UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) == SQLITE_DONE) {
		*count = sqlite3_changes(st->db);
		rc = UC_OK;
	} else
		rc = dberr(st, "cancel tokens");
	release(st, s);
	return rc;
}

int
store_tokens_forget_expired(struct store *st, int64_t now, int *count)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*count = 0;
	if ((rc = prepare(st, "DELETE FROM tokens WHERE used_at IS NULL AND "
	    "expires_at <= ?1", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, now);
	if (sqlite3_step(s) == SQLITE_DONE) {
		*count = sqlite3_changes(st->db);
		rc = UC_OK;
	} else
		rc = dberr(st, "forget expired tokens");
	release(st, s);
	return rc;
}

int
store_token_list(struct store *st, const char *username,
    int (*cb)(const struct store_token_row *, void *), void *arg)
{
	struct store_token_row r;
	sqlite3_stmt *s = NULL;
	int rc, step;

	if ((rc = prepare(st, "SELECT t.id, u.username, t.created_at, "
	    "t.expires_at, coalesce(t.used_at, 0), c.serial FROM tokens t "
	    "JOIN users u ON u.id = t.user_id LEFT JOIN certificates c ON "
	    "c.id = t.cert_id WHERE ?1 IS NULL OR u.username = ?1 "
	    "ORDER BY t.id", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, username);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		r.id = sqlite3_column_int64(s, 0);
		r.username = (const char *)sqlite3_column_text(s, 1);
		r.created_at = sqlite3_column_int64(s, 2);
		r.expires_at = sqlite3_column_int64(s, 3);
		r.used_at = sqlite3_column_int64(s, 4);
		r.serial = (const char *)sqlite3_column_text(s, 5);
		if ((rc = cb(&r, arg)) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = dberr(st, "token list");
	release(st, s);
	return rc;
}

int
store_cert_count_revoked(struct store *st, const char *issuer_ski, long *n)
{
	int64_t v = 0;
	int rc;

	rc = issuer_int(st, "SELECT count(*) FROM certificates WHERE "
	    "issuer_ski = ?1 AND status = 'revoked'", issuer_ski, &v,
	    "count revoked");
	*n = (long)v;
	return rc;
}

/* ---- the audit chain (migration 0003) ------------------------------------ */

/* One field: 0 for NULL, else 1, a 4-byte big-endian length and the bytes. */
static int
chain_field(struct ucbuf *b, const char *v)
{
	unsigned char hdr[5];
	size_t n = v != NULL ? strlen(v) : 0;

	if (n > 0xffffffffUL)
		return uc_seterr(UC_E_INVALID, "audit field too long");
	hdr[0] = v != NULL;
	hdr[1] = (unsigned char)(n >> 24);
	hdr[2] = (unsigned char)(n >> 16);
	hdr[3] = (unsigned char)(n >> 8);
	hdr[4] = (unsigned char)n;
	(void)ucbuf_add(b, hdr, v != NULL ? sizeof(hdr) : 1);
	if (n > 0)
		(void)ucbuf_add(b, v, n);
	return b->err;	/* the first failure sticks */
}

int
store_audit_hash(int64_t id, int64_t at, const char *actor,
    const char *action, const char *subject, const char *detail,
    const char *prev_hash, char out[STORE_HASH_HEX])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[UC_SHA256_LEN];
	char ids[24], ats[24];
	struct ucbuf b;
	size_t i;
	int rc;

	ucbuf_init(&b, 0, 0);
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	snprintf(ats, sizeof(ats), "%lld", (long long)at);
	if ((rc = chain_field(&b, "userca-audit-v1")) != UC_OK ||
	    (rc = chain_field(&b, ids)) != UC_OK ||
	    (rc = chain_field(&b, ats)) != UC_OK ||
	    (rc = chain_field(&b, actor)) != UC_OK ||
	    (rc = chain_field(&b, action)) != UC_OK ||
	    (rc = chain_field(&b, subject)) != UC_OK ||
	    (rc = chain_field(&b, detail)) != UC_OK ||
	    (rc = chain_field(&b, prev_hash)) != UC_OK ||
	    (rc = uc_sha256(ucbuf_str(&b), ucbuf_len(&b), md)) != UC_OK)
		goto out;
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * sizeof(md)] = '\0';
out:
	ucbuf_free(&b);
	return rc;
}

/* The newest row's id and hash (0 and NULL prev when the log is empty). */
static int
audit_last(struct store *st, int64_t *id, char hash[STORE_HASH_HEX],
    int *has_hash)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *h;
	int rc = UC_OK, step;

	*id = 0;
	*has_hash = 0;
	if ((rc = prepare(st, "SELECT id, hash FROM audit ORDER BY id DESC "
	    "LIMIT 1", &s)) != UC_OK)
		return rc;
	if ((step = sqlite3_step(s)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		if ((h = sqlite3_column_text(s, 1)) != NULL &&
		    strlen((const char *)h) == STORE_HASH_HEX - 1) {
			memcpy(hash, h, STORE_HASH_HEX);
			*has_hash = 1;
		}
	} else if (step != SQLITE_DONE)
		rc = dberr(st, "audit head");
	release(st, s);
	return rc;
}

static int
audit_insert(struct store *st, int64_t id, int64_t at, const char *actor,
    const char *action, const char *subject, const char *detail,
    const char *prev)
{
	sqlite3_stmt *s = NULL;
	char hash[STORE_HASH_HEX];
	int rc;

	if ((rc = store_audit_hash(id, at, actor, action, subject, detail,
	    prev, hash)) != UC_OK)
		return rc;
	if ((rc = prepare(st, "INSERT INTO audit (id, at, actor, action, "
	    "subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8)", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, at);
	bind_text(s, 3, actor);
	bind_text(s, 4, action);
	bind_text(s, 5, subject);
	bind_text(s, 6, detail);
	bind_text(s, 7, prev);
	bind_text(s, 8, hash);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK : dberr(st, "audit");
	release(st, s);
	return rc;
}

int
store_audit(struct store *st, int64_t at, const char *actor,
    const char *action, const char *subject, const char *detail)
{
	char prev[STORE_HASH_HEX];
	int64_t id;
	int rc, has, own = !store_in_transaction(st);

	/*
	 * Reading the head and appending must be one write transaction
	 * (BEGIN IMMEDIATE holds the write lock), or the CLI and the
	 * daemon could both chain onto the same row.
	 */
	if (own && (rc = store_begin(st)) != UC_OK)
		return rc;
	if ((rc = audit_last(st, &id, prev, &has)) != UC_OK ||
	    (rc = audit_insert(st, id + 1, at, actor, action, subject, detail,
	    has ? prev : NULL)) != UC_OK) {
		if (own)
			store_rollback(st);
		return rc;
	}
	return own ? store_commit(st) : UC_OK;
}

/* Migration 0003: chain the rows written before it, oldest first. */
static int
audit_chain_existing(struct store *st)
{
	sqlite3_stmt *s = NULL, *u = NULL;
	char prev[STORE_HASH_HEX], hash[STORE_HASH_HEX];
	int rc = UC_OK, step, has = 0;

	if ((rc = prepare(st, "SELECT id, at, actor, action, subject, detail "
	    "FROM audit ORDER BY id", &s)) != UC_OK ||
	    (rc = prepare(st, "UPDATE audit SET prev_hash = ?2, hash = ?3 "
	    "WHERE id = ?1", &u)) != UC_OK)
		goto out;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = store_audit_hash(sqlite3_column_int64(s, 0),
		    sqlite3_column_int64(s, 1),
		    (const char *)sqlite3_column_text(s, 2),
		    (const char *)sqlite3_column_text(s, 3),
		    (const char *)sqlite3_column_text(s, 4),
		    (const char *)sqlite3_column_text(s, 5),
		    has ? prev : NULL, hash)) != UC_OK)
			goto out;
		sqlite3_bind_int64(u, 1, sqlite3_column_int64(s, 0));
		bind_text(u, 2, has ? prev : NULL);
		bind_text(u, 3, hash);
		if (sqlite3_step(u) != SQLITE_DONE) {
			rc = dberr(st, "audit chain");
			goto out;
		}
		sqlite3_reset(u);
		memcpy(prev, hash, sizeof(prev));
		has = 1;
	}
	if (step != SQLITE_DONE) {
		rc = dberr(st, "audit chain");
		goto out;
	}
	release(st, u);
	release(st, s);
	u = s = NULL;
	/*
	 * Mark where the chain starts: from here on every CRL signing has
	 * a signed checkpoint, so their absence is itself a finding.
	 */
	rc = store_audit(st, uc_now(), "userca", "audit-chain", NULL,
	    "the log is a hash chain from here (migration 0003)");
out:
	release(st, u);
	release(st, s);
	return rc;
}

void
store_audit_filter_init(struct store_audit_filter *f)
{
	memset(f, 0, sizeof(*f));
}

int
store_audit_list(struct store *st, const struct store_audit_filter *f,
    int (*cb)(const struct store_audit_row *, void *), void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_audit_row r;
	int rc = UC_OK, step;

	/*
	 * A user's rows: those naming the user, and those naming one of
	 * the user's certificates by serial.
	 */
	if ((rc = prepare(st, "SELECT id, at, actor, action, subject, detail, "
	    "prev_hash, hash FROM audit WHERE at >= ?2 AND (?1 IS NULL OR "
	    "subject = ?1 OR subject IN (SELECT c.serial FROM certificates c "
	    "JOIN users u ON u.id = c.user_id WHERE u.username = ?1)) "
	    "ORDER BY id", &s)) != UC_OK)
		return rc;
	bind_text(s, 1, f != NULL ? f->username : NULL);
	sqlite3_bind_int64(s, 2, f != NULL ? f->since : INT64_MIN);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(s, 0);
		r.at = sqlite3_column_int64(s, 1);
		r.actor = (const char *)sqlite3_column_text(s, 2);
		r.action = (const char *)sqlite3_column_text(s, 3);
		r.subject = (const char *)sqlite3_column_text(s, 4);
		r.detail = (const char *)sqlite3_column_text(s, 5);
		r.prev_hash = (const char *)sqlite3_column_text(s, 6);
		r.hash = (const char *)sqlite3_column_text(s, 7);
		if ((rc = cb(&r, arg)) != 0)
			goto out;
	}
	rc = step == SQLITE_DONE ? UC_OK : dberr(st, "audit list");
out:
	release(st, s);
	return rc;
}

int
store_audit_head(struct store *st, int64_t *rows, int64_t *head_id,
    char head_hash[STORE_HASH_HEX])
{
	sqlite3_stmt *s = NULL;
	const unsigned char *h;
	int rc;

	/*
	 * rows: the last checkpoint's count plus the rows after its head (a
	 * rowid range), not count(*) of the whole log, which made every CRL
	 * signing, so every revoke, cost in proportion to the history.  A
	 * row deleted before that head is the chain's to catch; then this
	 * count is the one the log should have.  No checkpoint yet: count.
	 */
	if ((rc = prepare(st, "SELECT coalesce((SELECT c.rows + (SELECT "
	    "count(*) FROM audit WHERE id > c.head_id) FROM audit_checkpoints "
	    "c ORDER BY c.id DESC LIMIT 1), (SELECT count(*) FROM audit)), id, "
	    "hash FROM audit ORDER BY id DESC LIMIT 1", &s)) != UC_OK)
		return rc;
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = uc_seterr(UC_E_NOTFOUND, "the audit log is empty");
		goto out;
	}
	*rows = sqlite3_column_int64(s, 0);
	*head_id = sqlite3_column_int64(s, 1);
	if ((h = sqlite3_column_text(s, 2)) == NULL ||
	    strlen((const char *)h) != STORE_HASH_HEX - 1) {
		rc = uc_seterr(UC_E_STATE, "audit row %lld has no hash",
		    (long long)*head_id);
		goto out;
	}
	memcpy(head_hash, h, STORE_HASH_HEX);
	rc = UC_OK;
out:
	release(st, s);
	return rc;
}

int
store_checkpoint_insert(struct store *st, const struct store_checkpoint *c)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "INSERT INTO audit_checkpoints (at, issuer_ski, "
	    "crl_number, rows, head_id, head_hash, signature) VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6, ?7)", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, c->at);
	bind_text(s, 2, c->issuer_ski);
	sqlite3_bind_int64(s, 3, c->crl_number);
	sqlite3_bind_int64(s, 4, c->rows);
	sqlite3_bind_int64(s, 5, c->head_id);
	bind_text(s, 6, c->head_hash);
	sqlite3_bind_blob(s, 7, c->sig, (int)c->siglen, SQLITE_TRANSIENT);
	rc = sqlite3_step(s) == SQLITE_DONE ? UC_OK :
	    dberr(st, "audit checkpoint");
	release(st, s);
	return rc;
}

int
store_checkpoint_list(struct store *st, int newest_only,
    int (*cb)(const struct store_checkpoint *, void *), void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_checkpoint c;
	int rc = UC_OK, step;

	if ((rc = prepare(st, "SELECT id, at, issuer_ski, crl_number, rows, "
	    "head_id, head_hash, signature FROM audit_checkpoints "
	    "ORDER BY id DESC LIMIT ?1", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, newest_only ? 1 : -1);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&c, 0, sizeof(c));
		c.id = sqlite3_column_int64(s, 0);
		c.at = sqlite3_column_int64(s, 1);
		c.issuer_ski = (const char *)sqlite3_column_text(s, 2);
		c.crl_number = sqlite3_column_int64(s, 3);
		c.rows = sqlite3_column_int64(s, 4);
		c.head_id = sqlite3_column_int64(s, 5);
		c.head_hash = (const char *)sqlite3_column_text(s, 6);
		c.sig = sqlite3_column_blob(s, 7);
		c.siglen = (size_t)sqlite3_column_bytes(s, 7);
		if (c.issuer_ski == NULL || c.head_hash == NULL) {
			rc = uc_seterr(UC_E_STATE, "audit checkpoint %lld is "
			    "incomplete", (long long)c.id);
			goto out;
		}
		if ((rc = cb(&c, arg)) != 0)
			goto out;
	}
	rc = step == SQLITE_DONE ? UC_OK : dberr(st, "audit checkpoints");
out:
	release(st, s);
	return rc;
}

int
store_mapping_list(struct store *st, int64_t now,
    int (*cb)(const struct store_mapping *, void *), void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_mapping m;
	int rc = UC_OK, step;

	if ((rc = prepare(st, "SELECT c.serial, u.username, u.upn, c.sha256, "
	    "c.not_after, c.status = 'revoked' OR c.superseded_by IS NOT NULL "
	    "AS gone, coalesce(c.reason, -1), c.der "
	    "FROM certificates c JOIN users u ON u.id = c.user_id "
	    "WHERE c.kind = 'user' AND (c.status = 'revoked' OR "
	    "c.superseded_by IS NOT NULL OR c.not_after > ?1) "
	    "ORDER BY gone, c.id", &s)) != UC_OK)
		return rc;
	sqlite3_bind_int64(s, 1, now);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.serial = (const char *)sqlite3_column_text(s, 0);
		m.username = (const char *)sqlite3_column_text(s, 1);
		m.upn = (const char *)sqlite3_column_text(s, 2);
		m.sha256 = (const char *)sqlite3_column_text(s, 3);
		m.not_after = sqlite3_column_int64(s, 4);
		m.gone = sqlite3_column_int(s, 5) != 0;
		m.reason = sqlite3_column_int(s, 6);
		if (!m.gone) {
			m.der = sqlite3_column_blob(s, 7);
			m.derlen = (size_t)sqlite3_column_bytes(s, 7);
		}
		if (m.serial == NULL || m.username == NULL ||
		    m.sha256 == NULL || (!m.gone && m.der == NULL)) {
			rc = uc_seterr(UC_E_INTERNAL, "mapping list: out of "
			    "memory");
			goto out;
		}
		if ((rc = cb(&m, arg)) != 0)
			goto out;
	}
	rc = step == SQLITE_DONE ? UC_OK : dberr(st, "mapping list");
out:
	release(st, s);
	return rc;
}

/* ---- the retry window (migration 0004) ------------------------------------ */

int
store_token_set_retry(struct store *st, const unsigned char hash[32],
    const unsigned char retry_hash[32], int64_t retry_until)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "UPDATE tokens SET retry_hash = ?2, "
	    "retry_until = ?3, retry_used_at = NULL WHERE hash = ?1", &s)) !=
	    UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 2, retry_hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, retry_until);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "token retry");
	else if (sqlite3_changes(st->db) != 1)
		rc = uc_seterr(UC_E_NOTFOUND, "unknown token");
	release(st, s);
	return rc;
}

int
store_token_retry_get(struct store *st, const unsigned char hash[32],
    struct store_token_retry *out)
{
	sqlite3_stmt *s = NULL;
	const void *h;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT t.retry_hash, coalesce(t.retry_until, 0), "
	    "coalesce(t.retry_used_at, 0), c.serial FROM tokens t LEFT JOIN "
	    "certificates c ON c.id = t.cert_id WHERE t.hash = ?1", &s)) !=
	    UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		h = sqlite3_column_blob(s, 0);
		if (h != NULL && sqlite3_column_bytes(s, 0) == 32) {
			memcpy(out->retry_hash, h, 32);
			out->has_retry = 1;
		}
		out->retry_until = sqlite3_column_int64(s, 1);
		out->retry_used_at = sqlite3_column_int64(s, 2);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL &&
		    (out->serial = col_strdup(s, 3)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			break;
		}
		rc = UC_OK;
		break;
	case SQLITE_DONE:
		rc = uc_seterr(UC_E_NOTFOUND, "unknown token");
		break;
	default:
		rc = dberr(st, "token retry lookup");
		break;
	}
	release(st, s);
	return rc;
}

int
store_token_retry_use(struct store *st, const unsigned char hash[32],
    const unsigned char retry_hash[32], int64_t now, int64_t cert_id,
    int *used)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*used = 0;
	if ((rc = prepare(st, "UPDATE tokens SET retry_used_at = ?3, "
	    "cert_id = ?4 WHERE hash = ?1 AND retry_hash = ?2 AND "
	    "retry_used_at IS NULL AND retry_until > ?3", &s)) != UC_OK)
		return rc;
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 2, retry_hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int64(s, 4, cert_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "token retry use");
	else
		*used = sqlite3_changes(st->db) == 1;
	release(st, s);
	return rc;
}

/* ---- SCEP transactions ---------------------------------------------------------- */

int
store_scep_tx_insert(struct store *st, const char *tid,
    const unsigned char req[32], const unsigned char key[32], int64_t cert_id,
    int64_t now)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "INSERT INTO scep_transactions (tid, "
	    "req_sha256, key_sha256, cert_id, created_at) VALUES (?1, ?2, ?3, "
	    "?4, ?5)", &s)) != UC_OK)
		return rc;
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 2, req, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 3, key, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, cert_id);
	sqlite3_bind_int64(s, 5, now);
	switch (sqlite3_step(s)) {
	case SQLITE_DONE:
		break;
	case SQLITE_CONSTRAINT:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		rc = uc_seterr(UC_E_EXISTS, "SCEP transaction %s is already "
		    "recorded", tid);
		break;
	default:
		rc = dberr(st, "SCEP transaction");
		break;
	}
	release(st, s);
	return rc;
}

void
store_scep_tx_clear(struct store_scep_tx *t)
{
	if (t == NULL)
		return;
	free(t->der);
	memset(t, 0, sizeof(*t));
}

int
store_scep_tx_get(struct store *st, const char *tid,
    struct store_scep_tx *out)
{
	sqlite3_stmt *s = NULL;
	const void *req, *key, *der;
	int rc, n;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT t.req_sha256, t.key_sha256, c.der FROM "
	    "scep_transactions t JOIN certificates c ON c.id = t.cert_id "
	    "WHERE t.tid = ?1", &s)) != UC_OK)
		return rc;
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		req = sqlite3_column_blob(s, 0);
		key = sqlite3_column_blob(s, 1);
		der = sqlite3_column_blob(s, 2);
		n = sqlite3_column_bytes(s, 2);
		if (req == NULL || sqlite3_column_bytes(s, 0) != 32 ||
		    key == NULL || sqlite3_column_bytes(s, 1) != 32 ||
		    der == NULL || n <= 0) {
			rc = uc_seterr(UC_E_DB, "SCEP transaction %s: a "
			    "malformed row", tid);
			break;
		}
		if ((out->der = malloc((size_t)n)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			break;
		}
		memcpy(out->req, req, 32);
		memcpy(out->key, key, 32);
		memcpy(out->der, der, (size_t)n);
		out->derlen = (size_t)n;
		break;
	case SQLITE_DONE:
		rc = uc_seterr(UC_E_NOTFOUND, "no SCEP transaction %s", tid);
		break;
	default:
		rc = dberr(st, "SCEP transaction");
		break;
	}
	release(st, s);
	return rc;
}
