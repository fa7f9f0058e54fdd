/*
 * renew.c: userca renew, through the batch machinery.
 *
 * The users due are written to a private CSV (in the CA home, removed
 * afterwards) and run as a batch with renew_until set: batch.c then asks
 * renew_row_done() instead of "has a valid certificate?", and each record
 * checks again, inside its transaction, that the user is still due
 * (renew_record_check), so two runs, or a run and its resumption after a
 * kill, never renew a lineage twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "authority_int.h"
#include "renew.h"

/* ---- record_one's steps (issue.c), mu held, in the transaction ------------- */

int
renew_record_check(struct authority *a, struct record *r, int64_t now,
    struct store_due *due)
{
	int rc, pending = 0;

	rc = store_due_user(a->st, r->id->username, now, r->renew_until, due);
	/* A pending link (renewal or enrollment) is a renewal under way. */
	if (rc == UC_OK)
		rc = store_user_pending_token(a->st, r->id->username, now,
		    &pending);
	if (rc == UC_E_NOTFOUND || (rc == UC_OK && pending)) {
		store_due_clear(due);
		r->already = 1;
		return uc_seterr(UC_E_STATE, "%s: %s", r->id->username,
		    pending ? "a renewal link is pending" : "already renewed "
		    "(or no certificate due)");
	}
	return rc;
}

int
renew_record_done(struct authority *a, struct record *r, int64_t now,
    const struct store_due *due)
{
	int rc;

	if (r->token_hash != NULL)
		return store_token_set_renews(a->st, r->token_hash,
		    due->cert_id, r->revoke_old);
	if (r->cert_id == 0)
		return UC_OK;
	if ((rc = store_cert_supersede(a->st, due->serial, r->cert_id)) !=
	    UC_OK || (rc = store_audit(a->st, now, a->actor, "renew",
	    r->id->username, due->serial)) != UC_OK)
		return rc;
	if (!r->revoke_old)
		return UC_OK;
	if ((rc = store_cert_revoke(a->st, due->serial, now, 4)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "revoke", due->serial,
	    "superseded")) != UC_OK)
		return rc;
	r->revoked++;
	return UC_OK;
}

int
renew_redeemed(struct authority *a, const unsigned char hash[32],
    int64_t cert_id, int64_t now, int *revoked)
{
	struct store_renewal rn;
	int rc;

	*revoked = 0;
	if ((rc = store_token_renews(a->st, hash, &rn)) == UC_E_NOTFOUND)
		return UC_OK;
	if (rc != UC_OK || (rc = store_cert_supersede(a->st, rn.serial,
	    cert_id)) != UC_OK || !rn.revoke_old)
		goto out;
	rc = store_cert_revoke(a->st, rn.serial, now, REASON_SUPERSEDED);
	if (rc == UC_E_STATE) {
		/* Revoked meanwhile (by an administrator): not a second time. */
		rc = UC_OK;
		goto out;
	}
	if (rc == UC_OK && (rc = store_audit(a->st, now, a->actor, "revoke",
	    rn.serial, "superseded")) == UC_OK)
		*revoked = 1;
out:
	store_renewal_clear(&rn);
	return rc;
}

int
renew_row_done(struct authority *a, const char *username, int64_t now,
    int64_t until, int tokens, int *skip, int64_t *expires)
{
	struct store_due due;
	int rc, pending = 0;

	(void)tokens;
	*skip = 1;
	*expires = 0;
	pthread_mutex_lock(&a->mu);
	rc = store_due_user(a->st, username, now, until, &due);
	if (rc == UC_OK)
		rc = store_user_pending_token(a->st, username, now, &pending);
	pthread_mutex_unlock(&a->mu);
	if (rc == UC_E_NOTFOUND)
		return UC_OK;
	if (rc == UC_OK && !pending) {
		*skip = 0;
		*expires = due.not_after;
	}
	store_due_clear(&due);
	return rc;
}

int
authority_due_count(struct authority *a, int seconds, long *n)
{
	struct store *st;
	int64_t now = uc_now();
	int rc;

	/* Not under mu: a scrape must not wait for a group commit's fsync. */
	pthread_mutex_lock(&a->rmu);
	if ((rc = auth_reader_store(a, &st)) == UC_OK)
		rc = store_due_count(st, now, now + seconds, n);
	pthread_mutex_unlock(&a->rmu);
	return rc;
}

/* ---- the users due, as a CSV for the batch ------------------------------------- */

struct due_list {
	char	**users;
	size_t	  n, cap;
};

static int
due_collect(const struct store_due *d, void *arg)
{
	struct due_list *l = arg;
	char **nu;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((nu = realloc(l->users, l->cap * sizeof(*nu))) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		l->users = nu;
	}
	if ((l->users[l->n] = strdup(d->username)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	l->n++;
	return 0;
}

static void
due_list_free(struct due_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->users[i]);
	free(l->users);
	memset(l, 0, sizeof(*l));
}

/* 1 if the certificate is an S/MIME one (EKU emailProtection). */
static int
cert_is_smime(const struct store_cert *c)
{
	X509 *x = NULL;
	int smime;

	if (cert_parse(c->der, c->derlen, &x) != UC_OK)
		return 0;
	smime = (X509_get_extended_key_usage(x) & XKU_SMIME) != 0;
	X509_free(x);
	return smime;
}

static int
put_fields(FILE *f, const char *const *v, size_t n)
{
	char buf[2 * 1024 + 3];
	size_t i, w;

	for (i = 0; i < n; i++) {
		const char *s = v[i] != NULL ? v[i] : "";

		if (strlen(s) > 1024)
			return uc_seterr(UC_E_INVALID, "field too long");
		w = csv_write(buf, sizeof(buf), s, strlen(s));
		if ((i > 0 && fputc(',', f) == EOF) ||
		    fwrite(buf, 1, w, f) != w)
			return uc_seterr(UC_E_IO, "renewal list: %s",
			    strerror(errno));
	}
	if (fputc('\n', f) == EOF)
		return uc_seterr(UC_E_IO, "renewal list: %s", strerror(errno));
	return UC_OK;
}

/* One row per user due: what the records and the certificate say. */
static int
write_rows(struct authority *a, FILE *f, int64_t now, int64_t until,
    long *rows)
{
	static const char *const hdr[] = {
		"username", "email", "name", "upn", "ou", "sid", "smime",
	};
	struct due_list l;
	struct store_due due;
	struct store_user u;
	struct store_cert c;
	size_t i;
	int rc;

	memset(&l, 0, sizeof(l));
	*rows = 0;
	if ((rc = put_fields(f, hdr, 7)) != UC_OK)
		return rc;
	pthread_mutex_lock(&a->mu);
	rc = store_due_list(a->st, now, until, due_collect, &l);
	pthread_mutex_unlock(&a->mu);
	for (i = 0; rc == UC_OK && i < l.n; i++) {
		const char *v[7];

		memset(&u, 0, sizeof(u));
		memset(&c, 0, sizeof(c));
		pthread_mutex_lock(&a->mu);
		if ((rc = store_due_user(a->st, l.users[i], now, until, &due)) ==
		    UC_OK) {
			/* Only a CA made with --smime has S/MIME users. */
			if ((rc = store_user_get(a->st, l.users[i], &u)) ==
			    UC_OK && authority_conf(a)->smime)
				rc = store_cert_get(a->st, due.serial, &c);
		}
		pthread_mutex_unlock(&a->mu);
		if (rc == UC_E_NOTFOUND) {	/* renewed meanwhile */
			rc = UC_OK;
			goto next;
		}
		if (rc != UC_OK)
			goto next;
		v[0] = u.username;
		v[1] = u.email;
		v[2] = u.name;
		v[3] = u.upn;
		v[4] = u.ou;
		v[5] = u.sid;
		v[6] = c.der != NULL && u.email != NULL && cert_is_smime(&c) ?
		    "yes" : "no";
		if ((rc = put_fields(f, v, 7)) == UC_OK)
			(*rows)++;
next:
		store_due_clear(&due);
		store_user_clear(&u);
		store_cert_clear(&c);
	}
	due_list_free(&l);
	return rc;
}

int
authority_renew(struct authority *a, const struct renew_opts *o,
    struct batch_stats *st)
{
	const struct ca_conf *conf = authority_conf(a);
	struct batch_opts bo;
	char *tmp = NULL, *jpath = NULL;
	FILE *f = NULL;
	int64_t now = uc_now();
	long rows = 0;
	int fd = -1, rc;

	memset(st, 0, sizeof(*st));
	if ((tmp = home_path(a->home, ".renew-XXXXXX")) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	/* mkstemp: 0600, a fresh name; the list names users, not secrets. */
	if ((fd = mkstemp(tmp)) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		rc = uc_seterr(UC_E_IO, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	rc = write_rows(a, f, now, now + (o->window > 0 ? o->window :
	    conf->renew_window), &rows);
	if (fclose(f) != 0 && rc == UC_OK)
		rc = uc_seterr(UC_E_IO, "%s: %s", tmp, strerror(errno));
	if (rc != UC_OK)
		goto out;

	/*
	 * Nobody due: done, unless a killed run left its journal (batch.h)
	 * there, whose renewals still need their manifest and bundles.
	 */
	if (rows == 0 && !o->dry_run && (o->out == NULL ||
	    (jpath = path_join(o->out, ".userca-batch.journal")) == NULL ||
	    access(jpath, F_OK) != 0))
		goto out;
	memset(&bo, 0, sizeof(bo));
	bo.csv = tmp;
	bo.csv_name = "renewal list";
	bo.out = o->out;
	bo.jobs = o->jobs;
	bo.format = o->format;
	bo.tokens = o->tokens;
	bo.dry_run = o->dry_run;
	bo.renew_until = now + (o->window > 0 ? o->window :
	    conf->renew_window);
	bo.revoke_old = o->revoke_old >= 0 ? o->revoke_old :
	    conf->renew_revoke_old;
	bo.on_error = o->on_error;
	bo.on_progress = o->on_progress;
	bo.arg = o->arg;
	rc = authority_batch(a, &bo, st);
out:
	(void)unlink(tmp);
	free(tmp);
	free(jpath);
	return rc;
}

/* ---- renewal by the certificate itself (SCEP, EST) -------------------------------- */

/*
 * The rules every door shares, on old's record c at now: a user
 * certificate, valid, not expired, and for a renewal with [renew]
 * refuse_early within the window of its expiry.  Whether it was renewed before is decided in
 * the transaction (store_cert_supersede_once).
 */
static int
renew_rules(struct authority *a, const struct store_cert *c, int64_t now,
    int renew)
{
	if (strcmp(c->kind, "user") != 0 || c->username == NULL)
		return uc_seterr(UC_E_NOTFOUND, "certificate %s is not a user "
		    "certificate", c->serial);
	if (strcmp(c->status, "valid") != 0)
		return uc_seterr(UC_E_STATE, "certificate %s is revoked: a "
		    "revoked certificate cannot renew", c->serial);
	if (c->not_after <= now)
		return uc_seterr(UC_E_STATE, "certificate %s has expired: "
		    "enroll again with a new link", c->serial);
	if (renew && a->conf.renew_refuse_early && c->not_after - now >
	    a->conf.renew_window)
		return uc_seterr(UC_E_STATE, "certificate %s is not due: "
		    "renewal opens %d days before it expires", c->serial,
		    a->conf.renew_window / 86400);
	return UC_OK;
}

/* old is ours (signed by the issuing CA) and is the certificate of *c. */
static int
renew_old_record(struct authority *a, const unsigned char *der, size_t len,
    struct store_cert *c, int *smime)
{
	X509 *x = NULL;
	char *serial = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = cert_parse(der, len, &x)) != UC_OK)
		return rc;
	if (X509_check_issued(a->issuing, x) != X509_V_OK ||
	    X509_verify(x, X509_get0_pubkey(a->issuing)) != 1) {
		ERR_clear_error();
		rc = uc_seterr(UC_E_NOTFOUND, "the certificate to renew was "
		    "not issued by this CA");
		goto out;
	}
	*smime = (X509_get_extended_key_usage(x) & XKU_SMIME) != 0;
	if ((serial = serial_hex(X509_get0_serialNumber(x))) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&a->mu);
	rc = store_cert_get(a->st, serial, c);
	pthread_mutex_unlock(&a->mu);
	if (rc == UC_E_NOTFOUND)
		rc = uc_seterr(UC_E_NOTFOUND, "certificate %s is not in the "
		    "records", serial);
	else if (rc == UC_OK && (c->derlen != len || memcmp(c->der, der,
	    len) != 0))
		rc = uc_seterr(UC_E_NOTFOUND, "certificate %s differs from "
		    "the recorded one", serial);
out:
	if (rc != UC_OK)
		store_cert_clear(c);
	free(serial);
	X509_free(x);
	return rc;
}

/* Insert m, supersede old (once), revoke it with revoke_old; commit. */
static int
renew_commit(struct authority *a, const struct store_cert *old,
    const struct mint *m, const char *method, int renew,
    const struct scep_txn *t, int64_t *cid, int *revoked)
{
	struct store_cert c;
	int64_t now = uc_now();
	int rc, done = 0;

	*revoked = 0;
	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&a->mu);
	if ((rc = store_begin(a->st)) != UC_OK)
		goto unlock;
	/* Again, inside the transaction: a revocation may have come. */
	if ((rc = store_cert_get(a->st, old->serial, &c)) != UC_OK ||
	    (rc = renew_rules(a, &c, now, renew)) != UC_OK ||
	    (rc = records_cert_insert(a->st, m->cert, a->issuing,
	    old->user_id, "user", method, cid)) != UC_OK)
		goto fail;
	if (renew && (rc = store_cert_supersede_once(a->st, old->serial, *cid,
	    &done)) != UC_OK)
		goto fail;
	if (renew && !done) {
		rc = uc_seterr(UC_E_STATE, "certificate %s was already "
		    "renewed", old->serial);
		goto fail;
	}
	if ((renew && (rc = store_audit(a->st, now, a->actor, "renew",
	    old->username, old->serial)) != UC_OK) ||
	    (rc = store_audit(a->st, now, a->actor, method, old->username,
	    m->serial)) != UC_OK)
		goto fail;
	if (renew && a->conf.renew_revoke_old) {
		if ((rc = store_cert_revoke(a->st, old->serial, now, 4)) !=
		    UC_OK || (rc = store_audit(a->st, now, a->actor, "revoke",
		    old->serial, "superseded")) != UC_OK)
			goto fail;
		*revoked = 1;
	}
	if (t != NULL && (rc = ascep_record(a, t, m->cert, *cid, now)) !=
	    UC_OK)
		goto fail;
	if ((rc = store_commit(a->st)) == UC_OK)
		goto unlock;
fail:
	store_rollback(a->st);
	*revoked = 0;
unlock:
	pthread_mutex_unlock(&a->mu);
	store_cert_clear(&c);
	return rc;
}

static int
by_cert(struct authority *a, const unsigned char *old, size_t oldlen,
    const unsigned char *csr, size_t csrlen, const char *method, int renew,
    const struct scep_txn *t, struct issue_result *res)
{
	struct store_cert c;
	struct store_user su;
	struct identity id;
	struct mint m;
	X509_REQ *req = NULL;
	int64_t cid = 0;
	int rc, smime = 0, revoked = 0;

	memset(res, 0, sizeof(*res));
	memset(&su, 0, sizeof(su));
	memset(&m, 0, sizeof(m));
	if ((rc = renew_old_record(a, old, oldlen, &c, &smime)) != UC_OK)
		return rc;
	if ((rc = renew_rules(a, &c, uc_now(), renew)) != UC_OK)
		goto out;
	/* The request's own problems come before any work is done. */
	if ((rc = csr_check_req(csr, csrlen, &req)) != UC_OK)
		goto out;
	pthread_mutex_lock(&a->mu);
	rc = store_user_get(a->st, c.username, &su);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		goto out;
	memset(&id, 0, sizeof(id));
	id.username = su.username;
	id.email = su.email;
	id.name = su.name;
	id.upn = su.upn;
	id.ou = su.ou;
	id.sid = su.sid;
	id.smime = smime && id.email != NULL && a->conf.smime;
	if ((rc = issue_mint_req(a, &id, req, &m)) != UC_OK ||
	    (rc = renew_commit(a, &c, &m, method, renew, t, &cid,
	    &revoked)) != UC_OK)
		goto out;
	/* Committed: release. */
	if ((rc = issue_release(a, &m, cid, res)) == UC_OK)
		res->superseded = revoked;
out:
	mint_clear(&m);
	X509_REQ_free(req);
	store_user_clear(&su);
	store_cert_clear(&c);
	if (rc != UC_OK)
		issue_result_clear(res);
	return rc;
}

int
authority_renew_by_cert(struct authority *a, const unsigned char *old,
    size_t oldlen, const unsigned char *csr, size_t csrlen,
    const char *method, struct issue_result *res)
{
	return by_cert(a, old, oldlen, csr, csrlen, method, 1, NULL, res);
}

int
renew_by_cert_txn(struct authority *a, const unsigned char *old,
    size_t oldlen, const unsigned char *csr, size_t csrlen,
    const char *method, const struct scep_txn *t, struct issue_result *res)
{
	return by_cert(a, old, oldlen, csr, csrlen, method, 1, t, res);
}

int
authority_enroll_by_cert(struct authority *a, const unsigned char *old,
    size_t oldlen, const unsigned char *csr, size_t csrlen,
    const char *method, struct issue_result *res)
{
	return by_cert(a, old, oldlen, csr, csrlen, method, 0, NULL, res);
}
