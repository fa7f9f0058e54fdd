/*
 * issue.c: the issuance contract, written once for every front door.
 *
 *   mint    validate, identity from our records, random serial, sign,
 *           build the bundle (no DB; thread-safe once the signer is open)
 *   record  INSERT the rows (and tokens) in one transaction, COMMIT
 *   release only after record() said so, the caller hands the result out
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "authority_int.h"
#include "ucbuf.h"

int
issue_chain_tail(struct authority *a)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	X509 *chain[2];
	unsigned char *pem;
	size_t n = 0, plen;
	int rc = UC_OK;

	chain[n++] = a->issuing;
	if (a->root_distinct)
		chain[n++] = a->root;
	for (size_t i = 0; i < n; i++) {
		if ((rc = cert_to_pem(chain[i], &pem, &plen)) != UC_OK)
			break;
		rc = ucbuf_add(&b, pem, plen);
		free(pem);
		if (rc != UC_OK)
			break;
	}
	free(a->chain_pem);
	a->chain_pem = NULL;
	if (rc == UC_OK)
		rc = ucbuf_take(&b, &a->chain_pem, &a->chain_pem_len);
	ucbuf_free(&b);
	return rc;
}

/* Leaf PEM followed by the chain up to and including the root. */
int
issue_chain_pem(struct authority *a, X509 *leaf, unsigned char **out, size_t *len)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	unsigned char *pem;
	size_t plen;
	int rc;

	if ((rc = cert_to_pem(leaf, &pem, &plen)) != UC_OK)
		return rc;
	rc = ucbuf_add(&b, pem, plen);
	free(pem);
	if (rc == UC_OK)
		rc = ucbuf_add(&b, a->chain_pem, a->chain_pem_len);
	if (rc == UC_OK)
		rc = ucbuf_take(&b, out, len);	/* now owned by the caller */
	ucbuf_free(&b);
	return rc;
}

int
issue_p12(struct authority *a, EVP_PKEY *key, X509 *cert, const char *friendly,
    const char *pass, enum p12_format f, unsigned char **der, size_t *len)
{
	STACK_OF(X509) *chain;
	int rc;

	if ((chain = sk_X509_new_null()) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (!sk_X509_push(chain, a->issuing) || (a->root_distinct &&
	    !sk_X509_push(chain, a->root))) {
		sk_X509_free(chain);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	rc = p12_build(key, cert, chain, friendly, pass, f, der, len);
	sk_X509_free(chain);	/* borrowed certificates: not freed */
	return rc;
}

void
mint_clear(struct mint *m)
{
	if (m == NULL)
		return;
	X509_free(m->cert);
	free(m->serial);
	secret_free_buf(m->p12, m->p12_len);
	memset(m, 0, sizeof(*m));
}

int
authority_ready(struct authority *a)
{
	struct signer *sig;
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = auth_issuing_signer(a, &sig);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/*
 * Hand a committed mint to res: serial and PKCS#12 move over (m keeps the
 * certificate), the chain is encoded as PEM.
 */
int
issue_release(struct authority *a, struct mint *m, int64_t cert_id,
    struct issue_result *res)
{
	res->cert_id = cert_id;
	res->not_after = m->not_after;
	res->serial = m->serial;
	m->serial = NULL;	/* now owned by res */
	res->p12 = m->p12;
	res->p12_len = m->p12_len;
	m->p12 = NULL;		/* now owned by res */
	if (issue_chain_pem(a, m->cert, &res->cert_pem, &res->cert_pem_len) != UC_OK)
		return uc_seterr(UC_E_INTERNAL, "certificate %s was recorded "
		    "but could not be encoded", res->serial);
	return UC_OK;
}

/* authority_mint(), with the CSR's encoding of pub when there is one. */
static int
mint_spki(struct authority *a, const struct identity *id, EVP_PKEY *pub,
    X509_PUBKEY *spki, enum p12_format f, const char *pass, int days,
    int email_protection, struct mint *m)
{
	struct signer *sig;
	struct cert_req cr;
	EVP_PKEY *key = NULL;
	char ocsp_url[1100], crl[32], crt[32];
	int64_t now = uc_now();
	int rc;

	memset(m, 0, sizeof(m[0]));
	if ((rc = identity_check(id)) != UC_OK)
		return rc;
	email_protection = email_protection || id->smime;
	/* The issuing CA's EKU would make such a certificate unusable. */
	if (email_protection && !a->conf.smime)
		return uc_seterr(UC_E_POLICY, "S/MIME for %s: this CA was not "
		    "made for S/MIME (its issuing CA lacks the emailProtection "
		    "EKU); create it with 'userca init --smime'", id->username);
	if (email_protection && id->email == NULL)
		return uc_seterr(UC_E_INVALID, "S/MIME for %s needs an email "
		    "address (--email, or the CSV column email)", id->username);
	if (pub == NULL && pass == NULL)
		return uc_seterr(UC_E_INVALID, "a PKCS#12 password is needed");
	if ((rc = auth_issuing_signer(a, &sig)) != UC_OK)
		return rc;
	if (pub == NULL) {
		if ((rc = key_generate(a->prof->user, &key)) != UC_OK)
			return rc;
		pub = key;
	}
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_USER;
	cr.org = a->conf.org;
	cr.id = id;
	cr.base_url = a->conf.base_url;
	cr.ocsp_url = aocsp_url(a, ocsp_url, sizeof(ocsp_url));
	rollover_names(rollover_current_gen(a), crl, sizeof(crl), crt,
	    sizeof(crt));
	cr.crl_name = crl;
	cr.ca_name = crt;
	cr.email_protection = email_protection;
	cr.spki = key == NULL ? spki : NULL;
	cr.not_before = now - 300;	/* tolerate clients' clock skew */
	cr.not_after = now + (int64_t)(days > 0 ? days : a->conf.user_days) *
	    86400;
	if ((rc = auth_sign_cert(sig, &cr, pub, &m->cert)) != UC_OK)
		goto out;
	if ((m->serial = serial_hex(X509_get0_serialNumber(m->cert))) ==
	    NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = uc_asn1_time(X509_get0_notAfter(m->cert), &m->not_after)) !=
	    UC_OK)
		goto out;
	/* The bundle is made (and read back) before anything is recorded. */
	if (key != NULL) {
		if ((rc = issue_p12(a, key, m->cert, id->username, pass, f,
		    &m->p12, &m->p12_len)) != UC_OK)
			goto out;
	}
	rc = UC_OK;
out:
	EVP_PKEY_free(key);
	if (rc != UC_OK)
		mint_clear(m);
	return rc;
}

int
authority_mint(struct authority *a, const struct identity *id, EVP_PKEY *pub,
    enum p12_format f, const char *pass, int days, int email_protection,
    struct mint *m)
{
	return mint_spki(a, id, pub, NULL, f, pass, days, email_protection, m);
}

int
issue_mint_req(struct authority *a, const struct identity *id, X509_REQ *req,
    struct mint *m)
{
	return mint_spki(a, id, X509_REQ_get0_pubkey(req),
	    X509_REQ_get_X509_PUBKEY(req), P12_LEGACY, NULL, 0, 0, m);
}

int
authority_redeem_csr(struct authority *a, const char *token,
    const char *username, const unsigned char *csr, size_t csrlen,
    const char *method, int smime, struct issue_result *res,
    enum token_state *state)
{
	struct redeem_req rr;

	memset(&rr, 0, sizeof(rr));
	rr.token = token;
	rr.csr = csr;
	rr.csrlen = csrlen;
	rr.method = method;
	rr.username = username;
	rr.smime = smime;
	if (csr == NULL || csrlen == 0) {
		memset(res, 0, sizeof(*res));
		*state = TOKEN_UNKNOWN;
		return uc_seterr(UC_E_INVALID, "no certificate request");
	}
	return authority_redeem(a, &rr, res, state);
}

/* One record inside the open transaction. */
static int
record_one(struct authority *a, struct record *r, int64_t now)
{
	struct store_user u;
	struct store_due due;
	char **old = NULL;
	size_t nold = 0, i;
	char *serial = NULL;
	int64_t uid;
	int rc;

	memset(&u, 0, sizeof(u));
	memset(&due, 0, sizeof(due));
	u.username = (char *)(uintptr_t)r->id->username;
	u.email = (char *)(uintptr_t)r->id->email;
	u.name = (char *)(uintptr_t)r->id->name;
	u.upn = (char *)(uintptr_t)r->id->upn;
	u.ou = (char *)(uintptr_t)r->id->ou;
	u.sid = (char *)(uintptr_t)r->id->sid;
	u.created_at = now;
	/*
	 * Inside the transaction, so another process cannot record the same
	 * user between this check and the insert below.
	 */
	if (r->cert != NULL && (rc = store_user_valid_serials(a->st,
	    r->id->username, now, &old, &nold)) != UC_OK)
		return rc;
	if (r->only_new) {
		int pending = 0;

		if (r->cert == NULL && (rc = store_user_pending_token(a->st,
		    r->id->username, now, &pending)) != UC_OK)
			goto out;
		if (nold > 0 || pending) {
			r->already = 1;
			rc = uc_seterr(UC_E_STATE, "%s already has %s",
			    r->id->username, nold > 0 ? "a valid certificate" :
			    "an unused enrollment token");
			goto out;
		}
	}
	if (r->renew_until != 0 &&
	    (rc = renew_record_check(a, r, now, &due)) != UC_OK)
		goto out;
	/* Certificates are superseded by a certificate, not by a token. */
	if (!r->supersede) {
		r->others = (int)nold;
		for (i = 0; i < nold; i++)
			free(old[i]);
		free(old);
		old = NULL;
		nold = 0;
	}
	if ((rc = store_user_upsert(a->st, &u, &uid)) != UC_OK)
		goto out;
	if (r->cert != NULL) {
		if ((rc = records_cert_insert(a->st, r->cert, a->issuing, uid, "user",
		    r->method, &r->cert_id)) != UC_OK)
			goto out;
		if ((serial = serial_hex(X509_get0_serialNumber(r->cert))) ==
		    NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		if ((rc = store_audit(a->st, now, a->actor, "issue",
		    r->id->username, serial)) != UC_OK)
			goto out;
	}
	if (r->token_hash != NULL) {
		/* A new token replaces the user's unused ones. */
		if (r->supersede && (rc = store_user_expire_tokens(a->st, uid,
		    now)) != UC_OK)
			goto out;
		if ((rc = store_token_insert(a->st, uid, r->token_hash, now,
		    r->token_expires, NULL)) != UC_OK ||
		    (rc = store_audit(a->st, now, a->actor, "token",
		    r->id->username, NULL)) != UC_OK)
			goto out;
	}
	/* Only now that the new one is in: the old ones are superseded. */
	for (i = 0; i < nold; i++) {
		if (r->cert_id != 0 && (rc = store_cert_supersede(a->st,
		    old[i], r->cert_id)) != UC_OK)
			goto out;
		if ((rc = store_cert_revoke(a->st, old[i], now, 4)) != UC_OK ||
		    (rc = store_audit(a->st, now, a->actor, "revoke", old[i],
		    "superseded")) != UC_OK)
			goto out;
		r->revoked++;
	}
	if (r->renew_until != 0)
		rc = renew_record_done(a, r, now, &due);
out:
	for (i = 0; i < nold; i++)
		free(old[i]);
	free(old);
	free(serial);
	store_due_clear(&due);
	return rc;
}

int
authority_record(struct authority *a, struct record *r, size_t n)
{
	int64_t now = uc_now();
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		r[i].rc = UC_E_STATE;
		r[i].cert_id = 0;
		r[i].revoked = 0;
		r[i].others = 0;
		r[i].already = 0;
	}
	pthread_mutex_lock(&a->mu);
	if ((rc = store_begin(a->st)) != UC_OK) {
		pthread_mutex_unlock(&a->mu);
		return rc;
	}
	for (i = 0; i < n; i++) {
		if ((rc = store_savepoint(a->st)) != UC_OK)
			goto fail;
		if ((r[i].rc = record_one(a, &r[i], now)) != UC_OK) {
			/* Keep this record's reason; undo only its rows. */
			snprintf(r[i].errmsg, sizeof(r[i].errmsg), "%s",
			    uc_errmsg());
			r[i].cert_id = 0;
			r[i].revoked = 0;
			/* SQLite may have undone everything (disk full). */
			if ((rc = store_rollback_to(a->st)) != UC_OK)
				goto fail;
			continue;
		}
		if ((rc = store_release(a->st)) != UC_OK)
			goto fail;
	}
	if ((rc = store_commit(a->st)) != UC_OK)
		goto fail;
	pthread_mutex_unlock(&a->mu);
	return UC_OK;
fail:
	store_rollback(a->st);
	pthread_mutex_unlock(&a->mu);
	for (i = 0; i < n; i++) {
		if (r[i].rc == UC_OK)
			r[i].rc = rc;
		r[i].cert_id = 0;
		r[i].revoked = 0;
	}
	return rc;
}

void
issue_result_clear(struct issue_result *r)
{
	if (r == NULL)
		return;
	free(r->serial);
	free(r->cert_pem);
	secret_free_buf(r->p12, r->p12_len);
	secret_free(r->retry);
	authority_user_clear(&r->user);
	memset(r, 0, sizeof(*r));
}

int
authority_issue(struct authority *a, const struct issue_req *r,
    struct issue_result *res)
{
	struct mint m;
	struct record rec;
	struct store_user u;
	struct identity id = r->id;
	X509_REQ *csr = NULL;
	unsigned filled = 0;
	int rc, tries;

	memset(res, 0, sizeof(*res));
	memset(&m, 0, sizeof(m));
	memset(&u, 0, sizeof(u));
	if ((rc = identity_check(&r->id)) != UC_OK)
		return rc;
	/* A re-issue keeps what the record knows unless told otherwise. */
	pthread_mutex_lock(&a->mu);
	rc = store_user_get(a->st, r->id.username, &u);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK && rc != UC_E_NOTFOUND)
		return rc;
	if (rc == UC_OK) {
		if (id.email == NULL && u.email != NULL) {
			id.email = u.email;
			filled |= ID_FROM_EMAIL;
		}
		if (id.upn == NULL && u.upn != NULL) {
			id.upn = u.upn;
			filled |= ID_FROM_UPN;
		}
		if (id.name == NULL && u.name != NULL) {
			id.name = u.name;
			filled |= ID_FROM_NAME;
		}
		if (id.ou == NULL && u.ou != NULL) {
			id.ou = u.ou;
			filled |= ID_FROM_OU;
		}
		if (id.sid == NULL && u.sid != NULL) {
			id.sid = u.sid;
			filled |= ID_FROM_SID;
		}
		if ((rc = identity_check(&id)) != UC_OK)
			goto out;
	}
	if (r->csr != NULL && (rc = csr_check_req(r->csr, r->csrlen, &csr)) !=
	    UC_OK)
		goto out;
	/*
	 * A serial collision (2^-126) is caught by the UNIQUE constraint and
	 * retried with a fresh serial; anything else fails the issuance.
	 */
	for (tries = 0; tries < 3; tries++) {
		mint_clear(&m);
		if ((rc = mint_spki(a, &id, csr != NULL ?
		    X509_REQ_get0_pubkey(csr) : NULL, csr != NULL ?
		    X509_REQ_get_X509_PUBKEY(csr) : NULL, r->p12_format,
		    r->p12_password, r->days, r->email_protection, &m)) !=
		    UC_OK)
			goto out;
		memset(&rec, 0, sizeof(rec));
		rec.id = &id;
		rec.cert = m.cert;
		rec.supersede = r->supersede;
		rec.method = r->method != NULL ? r->method : "cli";
		if ((rc = authority_record(a, &rec, 1)) != UC_OK)
			goto out;
		if ((rc = rec.rc) != UC_E_EXISTS)
			break;
	}
	if (rc != UC_OK) {
		rc = uc_seterr(rc, "%s", rec.errmsg);
		goto out;
	}
	/* Committed: from here on the certificate exists and may be released. */
	if ((rc = issue_release(a, &m, rec.cert_id, res)) != UC_OK)
		goto out;
	res->filled = filled;
	res->others = rec.others;
	res->superseded = rec.revoked;
out:
	mint_clear(&m);
	store_user_clear(&u);
	X509_REQ_free(csr);
	if (rc != UC_OK)
		issue_result_clear(res);
	return rc;
}

int
authority_token(struct authority *a, const struct identity *id, int ttl,
    char **token, int64_t *expires)
{
	struct record rec;
	unsigned char hash[32];
	int rc;

	*token = NULL;
	if ((rc = identity_check(id)) != UC_OK)
		return rc;
	if ((rc = token_new(token, hash)) != UC_OK)
		return rc;
	memset(&rec, 0, sizeof(rec));
	rec.id = id;
	rec.method = "token";
	rec.token_hash = hash;
	rec.token_expires = uc_now() + (ttl > 0 ? ttl : a->conf.token_ttl);
	*expires = rec.token_expires;
	if ((rc = authority_record(a, &rec, 1)) == UC_OK)
		rc = rec.rc != UC_OK ? uc_seterr(rec.rc, "%s", rec.errmsg) :
		    UC_OK;
	if (rc != UC_OK) {
		secret_free(*token);
		*token = NULL;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/* ---- enrollment tokens ---------------------------------------------------- */

void
token_info_clear(struct token_info *ti)
{
	if (ti == NULL)
		return;
	authority_user_clear(&ti->user);
	free(ti->renews);
	memset(ti, 0, sizeof(*ti));
}

static int
lookup_on(struct store *st, const char *token, struct token_info *ti,
    unsigned char hash[32])
{
	struct store_token t;
	struct store_user su;
	struct store_renewal rn;
	int64_t now = uc_now();
	int rc;

	memset(ti, 0, sizeof(*ti));
	ti->state = TOKEN_UNKNOWN;
	if (!token_syntax_ok(token, strlen(token)))
		return UC_OK;
	if ((rc = token_hash(token, hash)) != UC_OK)
		return rc;
	/*
	 * The lookup is by SHA-256: its timing tells nothing about any
	 * token's text, so no token is ever compared byte by byte.
	 */
	if ((rc = store_token_get(st, hash, &t)) == UC_E_NOTFOUND)
		return UC_OK;
	if (rc != UC_OK)
		return rc;
	if ((rc = store_user_get_id(st, t.user_id, &su)) != UC_OK)
		return rc;
	records_user_take(&su, &ti->user);
	/* A renewal link: the page says so, and what happens to the old one. */
	if ((rc = store_token_renews(st, hash, &rn)) == UC_OK) {
		ti->renews = rn.serial;
		rn.serial = NULL;	/* now owned by ti */
		ti->renews_not_after = rn.not_after;
		ti->renews_revoke_old = rn.revoke_old;
		store_renewal_clear(&rn);
	} else if (rc != UC_E_NOTFOUND)
		return rc;
	ti->expires_at = t.expires_at;
	ti->used_at = t.used_at;
	if (t.used_at != 0)
		ti->state = TOKEN_USED;
	else if (t.expires_at <= now)
		ti->state = TOKEN_EXPIRED;
	else
		ti->state = TOKEN_VALID;
	return UC_OK;
}

/* On the writer connection; mu held. */
static int
lookup_locked(struct authority *a, const char *token, struct token_info *ti,
    unsigned char hash[32])
{
	return lookup_on(a->st, token, ti, hash);
}

/* On the reading connection: does not wait for a commit's fsync. */
static int
lookup_reader(struct authority *a, const char *token, struct token_info *ti,
    unsigned char hash[32])
{
	struct store *st;
	int rc;

	pthread_mutex_lock(&a->rmu);
	if ((rc = auth_reader_store(a, &st)) == UC_OK)
		rc = lookup_on(st, token, ti, hash);
	pthread_mutex_unlock(&a->rmu);
	return rc;
}

int
authority_token_lookup(struct authority *a, const char *token,
    struct token_info *ti)
{
	unsigned char hash[32];
	int rc;

	rc = lookup_reader(a, token, ti, hash);
	if (rc != UC_OK)
		token_info_clear(ti);
	return rc;
}

static int
token_refused(enum token_state st)
{
	switch (st) {
	case TOKEN_UNKNOWN:
		return uc_seterr(UC_E_NOTFOUND, "unknown enrollment token");
	case TOKEN_EXPIRED:
		return uc_seterr(UC_E_STATE, "the enrollment token has "
		    "expired");
	case TOKEN_USED:
		return uc_seterr(UC_E_STATE, "the enrollment token was "
		    "already used");
	default:
		return UC_OK;
	}
}

/* Commit one leader's batch: every item in its own savepoint. */
static void
gc_commit(struct authority *a, struct gc_item *list)
{
	struct gc_item *it;
	int64_t now;
	int rc;

	pthread_mutex_lock(&a->mu);
	now = uc_now();
	if ((rc = store_begin(a->st)) != UC_OK)
		goto fail;
	for (it = list; it != NULL; it = it->next) {
		it->consumed = 0;
		it->cert_id = 0;
		it->revoked_old = 0;
		if ((rc = store_savepoint(a->st)) != UC_OK)
			goto fail;
		it->rc = records_cert_insert(a->st, it->cert, a->issuing, it->user_id,
		    "user", it->method, &it->cert_id);
		if (it->rc == UC_OK)
			it->rc = store_token_consume(a->st, it->hash, now,
			    it->cert_id, &it->consumed);
		if (it->rc == UC_OK && it->consumed && it->retry_hash != NULL)
			it->rc = store_token_set_retry(a->st, it->hash,
			    it->retry_hash, it->retry_until);
		if (it->rc == UC_OK && it->consumed)
			it->rc = store_audit(a->st, now, a->actor, it->method,
			    it->username, it->serial);
		if (it->rc == UC_OK && it->consumed)
			it->rc = renew_redeemed(a, it->hash, it->cert_id, now,
			    &it->revoked_old);
		if (it->rc == UC_OK && it->consumed && it->scep != NULL)
			it->rc = ascep_record(a, it->scep, it->cert,
			    it->cert_id, now);
		if (it->rc != UC_OK || !it->consumed) {
			/* Used or expired meanwhile: undo its row only. */
			it->cert_id = 0;
			it->revoked_old = 0;
			if (it->rc != UC_OK)
				snprintf(it->err, sizeof(it->err), "%s",
				    uc_errmsg());
			if ((rc = store_rollback_to(a->st)) != UC_OK)
				goto fail;
			continue;
		}
		if ((rc = store_release(a->st)) != UC_OK)
			goto fail;
	}
	if ((rc = store_commit(a->st)) != UC_OK)
		goto fail;
	pthread_mutex_unlock(&a->mu);
	return;
fail:
	store_rollback(a->st);
	pthread_mutex_unlock(&a->mu);
	for (it = list; it != NULL; it = it->next) {
		snprintf(it->err, sizeof(it->err), "%s", uc_errmsg());
		it->rc = rc;
		it->consumed = 0;
		it->cert_id = 0;
		it->revoked_old = 0;
	}
}

/*
 * Queue it and wait until a leader has committed it.  The first waiter
 * leads: while it commits (one fsync), newcomers queue up and go in the
 * next transaction, so the commit rate is not bounded by fsync latency.
 * A leader wakes the items it committed, each on its own condition, and
 * the newest item queued meanwhile to lead the next round: one broadcast
 * to all waited-on items woke the next round's too, for nothing, each
 * round (a context switch each, a tenth of the monitor's CPU).
 */
static void
group_commit(struct authority *a, struct gc_item *it)
{
	struct gc_item *batch, *p;

	pthread_cond_init(&it->cv, NULL);
	pthread_mutex_lock(&a->gcmu);
	it->next = a->gc_pending;
	a->gc_pending = it;
	while (!it->done) {
		if (a->gc_leading) {
			pthread_cond_wait(&it->cv, &a->gcmu);
			continue;
		}
		/* Lead one round (it holds our own item), then hand over. */
		a->gc_leading = 1;
		batch = a->gc_pending;
		a->gc_pending = NULL;
		pthread_mutex_unlock(&a->gcmu);
		gc_commit(a, batch);
		pthread_mutex_lock(&a->gcmu);
		/* Under gcmu: no item is gone before it has seen done. */
		for (p = batch; p != NULL; p = p->next) {
			p->done = 1;
			if (p != it)
				pthread_cond_signal(&p->cv);
		}
		a->gc_leading = 0;
		if (a->gc_pending != NULL)
			pthread_cond_signal(&a->gc_pending->cv);
	}
	pthread_mutex_unlock(&a->gcmu);
	pthread_cond_destroy(&it->cv);
}

static int	redeem_again(struct authority *, const struct redeem_req *,
		    const unsigned char [32], struct issue_result *);

/* The identity of a token's user, from the record (never the request). */
static void
redeem_identity(const struct authority_user *u, int smime,
    struct identity *id)
{
	memset(id, 0, sizeof(*id));
	id->username = u->username;
	id->email = u->email;
	id->name = u->name;
	id->upn = u->upn;
	id->ou = u->ou;
	id->sid = u->sid;
	id->smime = smime && id->email != NULL;
}

/* Why a redemption whose commit did not consume the token lost. */
static enum token_state
redeem_lost(struct authority *a, const char *token, unsigned char hash[32])
{
	struct token_info again;
	enum token_state st = TOKEN_USED;

	memset(&again, 0, sizeof(again));
	pthread_mutex_lock(&a->mu);
	if (lookup_locked(a, token, &again, hash) == UC_OK &&
	    again.state != TOKEN_VALID)
		st = again.state;
	token_info_clear(&again);
	pthread_mutex_unlock(&a->mu);
	return st;
}

/*
 * A used token: a second try of a server-made key (its retry secret), or
 * the same key from a CSR again (DESIGN 3).  1 with *rc and *state when it
 * was one of them; 0: refuse the token as used.
 */
static int
redeem_used(struct authority *a, const struct redeem_req *r,
    const struct token_info *ti, const unsigned char hash[32],
    struct issue_result *res, enum token_state *state, int *rc)
{
	if (ti->state != TOKEN_USED)
		return 0;
	if (r->retry != NULL && r->csr == NULL && (r->spki == NULL ||
	    r->server_key)) {
		*rc = retry_redeem(a, r, ti, hash, res, state);
		return 1;
	}
	if (r->spki != NULL && !r->server_key &&
	    (*rc = redeem_again(a, r, hash, res)) != UC_E_NOTFOUND) {
		*state = TOKEN_USED;
		return 1;
	}
	return 0;
}

/*
 * The key a redemption certifies: the CSR's (borrowed from csr) or the
 * checked SubjectPublicKeyInfo another process sent (*ownpub and *ownxpk
 * set, the caller frees them); none for a key made here.
 */
static int
redeem_key(const struct redeem_req *r, X509_REQ *csr, EVP_PKEY **pub,
    X509_PUBKEY **xpk, EVP_PKEY **ownpub, X509_PUBKEY **ownxpk)
{
	int rc;

	*pub = NULL;
	*xpk = NULL;
	if (csr != NULL) {
		*pub = X509_REQ_get0_pubkey(csr);
		*xpk = X509_REQ_get_X509_PUBKEY(csr);
		return UC_OK;
	}
	if (r->spki == NULL)
		return UC_OK;
	if ((rc = spki_parse(r->spki, r->spkilen, ownxpk, ownpub)) != UC_OK)
		return rc;
	*pub = *ownpub;
	*xpk = *ownxpk;
	return UC_OK;
}

/*
 * The token of a redemption, read (a stale read only costs work: the
 * commit re-checks it).  1 with *rc when that already answers it (a
 * refusal, or a retry that gets its stored certificate); 0: go on with
 * a valid token in *ti.
 */
static int
redeem_token(struct authority *a, const struct redeem_req *r,
    struct token_info *ti, unsigned char hash[32], struct issue_result *res,
    enum token_state *state, int *rc)
{
	if ((*rc = lookup_reader(a, r->token, ti, hash)) != UC_OK)
		return 1;
	/* Another user's token is no token for this one. */
	if (r->username != NULL && ti->state != TOKEN_UNKNOWN &&
	    (ti->user.username == NULL || strcmp(ti->user.username,
	    r->username) != 0))
		ti->state = TOKEN_UNKNOWN;
	if (redeem_used(a, r, ti, hash, res, state, rc))
		return 1;
	if ((*state = ti->state) != TOKEN_VALID) {
		*rc = token_refused(ti->state);
		return 1;
	}
	return 0;
}

static int
redeem(struct authority *a, const struct redeem_req *r,
    const struct scep_txn *txn, struct issue_result *res,
    enum token_state *state)
{
	struct token_info ti;
	struct identity id;
	struct mint m;
	X509_REQ *csr = NULL;
	struct gc_item gi;
	X509_PUBKEY *xpk, *ownxpk = NULL;
	EVP_PKEY *pub, *ownpub = NULL;
	unsigned char hash[32], retry_hash[32];
	char *retry = NULL;
	int64_t cid = 0;
	int rc, consumed = 0, server_key = r->csr == NULL &&
	    (r->spki == NULL || r->server_key);

	memset(res, 0, sizeof(*res));
	memset(retry_hash, 0, sizeof(retry_hash));
	memset(&m, 0, sizeof(m));
	memset(&ti, 0, sizeof(ti));
	*state = TOKEN_UNKNOWN;
	if (redeem_token(a, r, &ti, hash, res, state, &rc))
		goto out;
	/* The request's own problems leave the token as it was. */
	if (r->csr != NULL && (rc = csr_check_req(r->csr, r->csrlen,
	    &csr)) != UC_OK)
		goto out;
	if ((rc = redeem_key(r, csr, &pub, &xpk, &ownpub, &ownxpk)) != UC_OK)
		goto out;
	redeem_identity(&ti.user, r->smime, &id);
	if ((rc = mint_spki(a, &id, pub, xpk, r->p12_format, r->p12_password,
	    0, 0, &m)) != UC_OK)
		goto out;

	/* One transaction: the token is consumed iff the row is in. */
	memset(&gi, 0, sizeof(gi));
	gi.cert = m.cert;
	gi.user_id = ti.user.id;
	gi.method = r->method != NULL ? r->method : server_key ?
	    "enroll-p12" : "enroll-csr";
	gi.username = ti.user.username;
	gi.serial = m.serial;
	gi.hash = hash;
	gi.scep = txn;
	if (server_key && r->retry_window > 0) {
		if ((rc = retry_new(&retry, retry_hash)) != UC_OK)
			goto out;
		gi.retry_hash = retry_hash;
		gi.retry_until = uc_now() + r->retry_window;
	}
	group_commit(a, &gi);
	if ((rc = gi.rc) != UC_OK) {
		/* The leader thread ran the transaction: its message, here. */
		rc = uc_seterr(rc, "%s", gi.err);
		goto out;
	}
	cid = gi.cert_id;
	consumed = gi.consumed;
	if (!consumed) {
		/* Another request won the race, or the token just expired. */
		*state = redeem_lost(a, r->token, hash);
		rc = token_refused(*state);
		goto out;
	}
	/* Committed: release. */
	if ((rc = issue_release(a, &m, cid, res)) == UC_OK)
		res->superseded = gi.revoked_old;
	if (rc == UC_OK && retry != NULL) {
		res->retry = retry;
		retry = NULL;	/* now owned by res */
		res->retry_until = gi.retry_until;
	}
out:
	if (rc == UC_OK) {
		res->user = ti.user;	/* now owned by res: no 2nd lookup */
		memset(&ti.user, 0, sizeof(ti.user));
	}
	secret_free(retry);
	OPENSSL_cleanse(retry_hash, sizeof(retry_hash));
	OPENSSL_cleanse(hash, sizeof(hash));
	token_info_clear(&ti);
	mint_clear(&m);
	X509_REQ_free(csr);
	EVP_PKEY_free(ownpub);
	X509_PUBKEY_free(ownxpk);
	if (rc != UC_OK)
		issue_result_clear(res);
	return rc;
}

int
authority_redeem(struct authority *a, const struct redeem_req *r,
    struct issue_result *res, enum token_state *state)
{
	return redeem(a, r, NULL, res, state);
}

int
issue_redeem_txn(struct authority *a, const struct redeem_req *r,
    const struct scep_txn *txn, struct issue_result *res,
    enum token_state *state)
{
	return redeem(a, r, txn, res, state);
}

int
issue_again(struct authority *a, X509 *x, struct issue_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if ((res->serial = serial_hex(X509_get0_serialNumber(x))) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else if ((rc = uc_asn1_time(X509_get0_notAfter(x),
	    &res->not_after)) == UC_OK && (rc = issue_chain_pem(a, x,
	    &res->cert_pem, &res->cert_pem_len)) == UC_OK)
		res->again = 1;
	if (rc != UC_OK)
		issue_result_clear(res);
	return rc;
}

/*
 * A used token, and the same key again: the stored certificate, if it is
 * still valid and certifies that key.  UC_E_NOTFOUND: not such a retry
 * (the caller refuses the token as used).
 */
static int
redeem_again(struct authority *a, const struct redeem_req *r,
    const unsigned char hash[32], struct issue_result *res)
{
	struct store *st;
	X509_PUBKEY *xpk = NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	const unsigned char *p;
	unsigned char *der = NULL;
	size_t len = 0;
	int rc, valid = 0;

	if (spki_parse(r->spki, r->spkilen, &xpk, &pub) != UC_OK)
		return uc_seterr(UC_E_NOTFOUND, "not a key");
	pthread_mutex_lock(&a->rmu);
	if ((rc = auth_reader_store(a, &st)) == UC_OK)
		rc = store_token_cert(st, hash, &der, &len, &valid);
	pthread_mutex_unlock(&a->rmu);
	if (rc != UC_OK)
		goto out;
	p = der;
	if (!valid || (x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1) {
		ERR_clear_error();
		rc = uc_seterr(UC_E_NOTFOUND, "another key");
		goto out;
	}
	rc = issue_again(a, x, res);
out:
	X509_free(x);
	free(der);
	EVP_PKEY_free(pub);
	X509_PUBKEY_free(xpk);
	return rc;
}

#define REASON_CESSATION	5	/* RFC 5280 cessationOfOperation */

int
authority_redeem_undo(struct authority *a, const char *serial, int *rearmed)
{
	struct store_cert sc;
	int64_t now;
	int rc;

	*rearmed = 0;
	memset(&sc, 0, sizeof(sc));
	pthread_mutex_lock(&a->mu);
	now = uc_now();
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	if ((rc = store_cert_get(a->st, serial, &sc)) != UC_OK ||
	    (rc = store_token_rearm(a->st, sc.id, rearmed)) != UC_OK)
		goto fail;
	rc = store_cert_revoke(a->st, serial, now, REASON_CESSATION);
	if (rc == UC_E_STATE)
		rc = UC_OK;	/* revoked meanwhile: the token still re-arms */
	if (rc != UC_OK || (rc = store_audit(a->st, now, a->actor, "revoke",
	    serial, "cessationOfOperation (key lost with the network "
	    "process; token re-armed)")) != UC_OK ||
	    (rc = store_commit(a->st)) != UC_OK)
		goto fail;
	goto out;
fail:
	store_rollback(a->st);
	*rearmed = 0;
out:
	pthread_mutex_unlock(&a->mu);
	store_cert_clear(&sc);
	return rc;
}

const char *
authority_user_key_type(struct authority *a)
{
	return key_type_name(a->prof->user);
}

/* ---- the daemon's TLS certificate -------------------------------------------- */

int
authority_issue_server(struct authority *a, const char *const *dns,
    const char *const *ip, unsigned char **chain, size_t *chainlen,
    unsigned char **key, size_t *keylen, char **serial)
{
	struct signer *sig;
	struct cert_req cr;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	unsigned char *pem = NULL, *ipem = NULL;
	size_t plen, ilen;
	int64_t now = uc_now(), cid;
	char crl[32], crt[32];
	int rc;

	*chain = *key = NULL;
	*serial = NULL;
	if ((dns == NULL || dns[0] == NULL) && (ip == NULL || ip[0] == NULL))
		return uc_seterr(UC_E_INVALID, "a DNS name or an IP address "
		    "is needed");
	if ((rc = authority_ready(a)) != UC_OK)
		return rc;
	pthread_mutex_lock(&a->mu);
	rc = auth_issuing_signer(a, &sig);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		return rc;
	if ((rc = key_generate(a->prof->user, &k)) != UC_OK)
		return rc;
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_SERVER;
	cr.org = a->conf.org;
	cr.cn = dns != NULL && dns[0] != NULL ? dns[0] : ip[0];
	cr.dns = dns;
	cr.ip = ip;
	cr.base_url = a->conf.base_url;
	rollover_names(rollover_current_gen(a), crl, sizeof(crl), crt,
	    sizeof(crt));
	cr.crl_name = crl;
	cr.ca_name = crt;
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)a->conf.server_days * 86400;
	if ((rc = auth_sign_cert(sig, &cr, k, &x)) != UC_OK)
		goto out;
	pthread_mutex_lock(&a->mu);
	if ((rc = store_begin(a->st)) == UC_OK) {
		if ((rc = records_cert_insert(a->st, x, a->issuing, 0, "server",
		    "issue-server", &cid)) != UC_OK ||
		    (rc = store_audit(a->st, now, a->actor, "issue-server",
		    cr.cn, NULL)) != UC_OK ||
		    (rc = store_commit(a->st)) != UC_OK)
			store_rollback(a->st);
	}
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		goto out;
	if ((rc = cert_to_pem(x, &pem, &plen)) != UC_OK ||
	    (rc = cert_to_pem(a->issuing, &ipem, &ilen)) != UC_OK)
		goto out;
	if ((*chain = malloc(plen + ilen)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(*chain, pem, plen);
	memcpy(*chain + plen, ipem, ilen);
	*chainlen = plen + ilen;
	if ((rc = key_to_pem(k, key, keylen)) != UC_OK ||
	    (*serial = serial_hex(X509_get0_serialNumber(x))) == NULL) {
		if (rc == UC_OK)
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		free(*chain);
		*chain = NULL;
		if (*key != NULL)
			secret_free_buf(*key, *keylen);
		*key = NULL;
	}
out:
	free(pem);
	free(ipem);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}
