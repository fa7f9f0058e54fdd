/*
 * retry.c: the retry window (DESIGN 25).  A server-made PKCS#12 (or
 * identity profile) comes with a secret; within the window, one more
 * redemption of the used token with that secret issues again (another
 * format, a new password) and revokes the first certificate, superseded.
 * Only the secret's SHA-256 is stored; the window is spent once.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "authority_int.h"


int
retry_new(char **secret, unsigned char hash[32])
{
	/* The same shape as a token: 128 random bits, base64url. */
	return token_new(secret, hash);
}

static int
refused(enum token_state *state)
{
	*state = TOKEN_USED;
	return uc_seterr(UC_E_STATE, "the enrollment token was already used");
}

/* Read the token's retry state on the reading connection. */
static int
retry_state(struct authority *a, const unsigned char hash[32],
    struct store_token_retry *tr)
{
	struct store *st;
	int rc;

	pthread_mutex_lock(&a->rmu);
	if ((rc = auth_reader_store(a, &st)) == UC_OK)
		rc = store_token_retry_get(st, hash, tr);
	pthread_mutex_unlock(&a->rmu);
	return rc;
}

/*
 * In one transaction: the new row, the retry spent (only if still
 * unspent and in time), the first certificate revoked and superseded.
 * *ok is 0 when the retry was no longer there to spend.
 */
static int
retry_commit(struct authority *a, const struct token_info *ti,
    const unsigned char hash[32], const unsigned char rhash[32],
    const char *old_serial, struct mint *m, int64_t *cid, int *ok)
{
	int64_t now;
	int rc, used = 0;

	*ok = 0;
	pthread_mutex_lock(&a->mu);
	now = uc_now();
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	if ((rc = records_cert_insert(a->st, m->cert, a->issuing, ti->user.id,
	    "user", "enroll-retry", cid)) != UC_OK ||
	    (rc = store_token_retry_use(a->st, hash, rhash, now, *cid,
	    &used)) != UC_OK)
		goto fail;
	if (!used)
		goto fail;	/* spent or late meanwhile: not an error */
	rc = store_cert_revoke(a->st, old_serial, now, REASON_SUPERSEDED);
	if (rc == UC_E_STATE) {
		/* Revoked meanwhile (by an administrator): no second one. */
		rc = UC_OK;
		goto fail;
	}
	if (rc != UC_OK ||
	    (rc = store_cert_supersede(a->st, old_serial, *cid)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "enroll-retry",
	    ti->user.username, m->serial)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "revoke", old_serial,
	    "superseded")) != UC_OK ||
	    (rc = store_commit(a->st)) != UC_OK)
		goto fail;
	*ok = 1;
	goto out;
fail:
	store_rollback(a->st);
	*cid = 0;
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
retry_redeem(struct authority *a, const struct redeem_req *r,
    const struct token_info *ti, const unsigned char hash[32],
    struct issue_result *res, enum token_state *state)
{
	struct store_token_retry tr;
	struct identity id;
	struct mint m;
	X509_PUBKEY *xpk = NULL;
	EVP_PKEY *pub = NULL;
	unsigned char rhash[32];
	int64_t cid = 0;
	int rc, ok = 0;

	memset(&tr, 0, sizeof(tr));
	memset(&m, 0, sizeof(m));
	*state = TOKEN_USED;
	if (!token_syntax_ok(r->retry, strlen(r->retry)) ||
	    token_hash(r->retry, rhash) != UC_OK) {
		rc = refused(state);
		goto out;
	}
	if ((rc = retry_state(a, hash, &tr)) != UC_OK)
		goto out;
	/* A cheap answer first; the commit checks the window again. */
	if (!tr.has_retry || tr.retry_used_at != 0 ||
	    tr.retry_until <= uc_now() || tr.serial == NULL ||
	    CRYPTO_memcmp(rhash, tr.retry_hash, sizeof(rhash)) != 0) {
		rc = refused(state);
		goto out;
	}
	memset(&id, 0, sizeof(id));
	id.username = ti->user.username;
	id.email = ti->user.email;
	id.name = ti->user.name;
	id.upn = ti->user.upn;
	id.ou = ti->user.ou;
	id.sid = ti->user.sid;
	id.smime = r->smime && id.email != NULL;
	if (r->spki != NULL && (rc = spki_parse(r->spki, r->spkilen, &xpk,
	    &pub)) != UC_OK)
		goto out;
	if ((rc = authority_mint(a, &id, pub, r->p12_format, r->p12_password,
	    0, 0, &m)) != UC_OK)
		goto out;
	if ((rc = retry_commit(a, ti, hash, rhash, tr.serial, &m, &cid,
	    &ok)) != UC_OK)
		goto out;
	if (!ok) {
		rc = refused(state);
		goto out;
	}
	/* Committed: release (no further retry). */
	res->cert_id = cid;
	res->not_after = m.not_after;
	res->serial = m.serial;
	m.serial = NULL;	/* now owned by res */
	res->p12 = m.p12;
	res->p12_len = m.p12_len;
	m.p12 = NULL;		/* now owned by res */
	res->superseded = 1;
	if (issue_chain_pem(a, m.cert, &res->cert_pem, &res->cert_pem_len) !=
	    UC_OK) {
		rc = uc_seterr(UC_E_INTERNAL, "certificate %s was recorded "
		    "but could not be encoded", res->serial);
		goto out;
	}
	rc = UC_OK;
out:
	OPENSSL_cleanse(rhash, sizeof(rhash));
	OPENSSL_cleanse(tr.retry_hash, sizeof(tr.retry_hash));
	free(tr.serial);
	mint_clear(&m);
	EVP_PKEY_free(pub);
	X509_PUBKEY_free(xpk);
	return rc;
}
