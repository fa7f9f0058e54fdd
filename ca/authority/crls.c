/*
 * crls.c: the CRLs of the issuing CA and the root: collect the revoked
 * serials, sign, record and commit, and report their state.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "authority_int.h"
#include "ucbuf.h"
#include "authority_ocsp.h"

static int
crl_state_ski(struct authority *a, const char *ski, struct crl_state *cs)
{
	unsigned char *der = NULL;
	size_t len;
	X509_CRL *crl = NULL;
	STACK_OF(X509_REVOKED) *rev;
	int rc;

	memset(cs, 0, sizeof(*cs));
	if (ski == NULL)
		return UC_OK;
	pthread_mutex_lock(&a->mu);
	rc = store_crl_current(a->st, ski, uc_now(), &der, &len, &cs->number,
	    &cs->next_update);
	if (rc == UC_OK)
		rc = store_crl_runway(a->st, ski, uc_now(), &cs->runway,
		    &cs->runway_until);
	if (rc == UC_OK)
		rc = store_cert_count_revoked(a->st, ski, &cs->revoked);
	pthread_mutex_unlock(&a->mu);
	/* der is ours as soon as the first lookup found a CRL. */
	if (rc != UC_OK) {
		free(der);
		return rc == UC_E_NOTFOUND ? UC_OK : rc;
	}
	if ((rc = crl_parse(der, len, &crl)) == UC_OK) {
		rev = X509_CRL_get_REVOKED(crl);
		cs->entries = rev != NULL ? sk_X509_REVOKED_num(rev) : 0;
		cs->have = 1;
	}
	X509_CRL_free(crl);
	free(der);
	return rc;
}

/*
 * The issuing CA's state, with the previous issuing CAs still in service
 * folded in: the earliest nextUpdate, and revoked/entries summed, so that
 * the daemon re-signs when any of their CRLs needs it.
 */
int
authority_crl_state(struct authority *a, int root, struct crl_state *cs)
{
	struct crl_state ps;
	int64_t now = uc_now();
	size_t i;
	int rc;

	if ((rc = crl_state_ski(a, root ? a->root_ski : a->issuing_ski, cs)) !=
	    UC_OK || root)
		return rc;
	for (i = 0; i < a->nprev; i++) {
		if (!rollover_in_service(&a->prev[i], now))
			continue;
		if ((rc = crl_state_ski(a, a->prev[i].ski, &ps)) != UC_OK)
			return rc;
		if (!ps.have) {
			/* Never signed: make the daemon sign it. */
			cs->next_update = now;
			continue;
		}
		if (ps.next_update < cs->next_update)
			cs->next_update = ps.next_update;
		cs->entries += ps.entries;
		cs->revoked += ps.revoked;
	}
	return UC_OK;
}

/*
 * The revoked certificates as an array of struct crl_entry grown in a
 * ucbuf (the serials strdup'd): crls_collect_cb() appends one,
 * crls_entries() views them, crls_collect_free() lets them go.
 */
static int
crls_collect_cb(const struct store_cert *c, void *arg)
{
	struct ucbuf *b = arg;
	struct crl_entry e;
	int rc;

	if ((e.serial = strdup(c->serial)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	e.revoked_at = c->revoked_at;
	e.reason = c->reason;
	if ((rc = ucbuf_add(b, &e, sizeof(e))) != UC_OK)
		free((char *)(uintptr_t)e.serial);
	return rc;
}

static const struct crl_entry *
crls_entries(const struct ucbuf *b, size_t *n)
{
	*n = ucbuf_len(b) / sizeof(struct crl_entry);
	return (const struct crl_entry *)(const void *)b->p;
}

static void
crls_collect_free(struct ucbuf *b)
{
	const struct crl_entry *e;
	size_t i, n;

	e = crls_entries(b, &n);
	for (i = 0; i < n; i++)
		free((char *)(uintptr_t)e[i].serial);
	ucbuf_free(b);
}

/*
 * Sign and record the next CRL of the CA behind sig.  The number is taken
 * inside the write transaction, so it only ever goes up.
 */
int
crls_sign(struct authority *a, struct signer *sig, int days)
{
	int64_t now = uc_now();

	/*
	 * thisUpdate a few minutes back: a gateway whose clock is behind
	 * ours would otherwise see "CRL is not yet valid" and lock every
	 * user out.
	 */
	return crls_sign_at(a, sig, now - 300, now + (int64_t)days * 86400,
	    NULL, NULL);
}

/*
 * When Windows should fetch the issuing CA's next CRL (Next CRL Publish):
 * 3 days before nextUpdate, when userca-enrolld re-signs it with its
 * default [crl] refresh_before, but never before the middle of a shorter
 * CRL's validity.
 */
static int64_t
crls_next_publish(int64_t this_update, int64_t next_update)
{
	int64_t ahead = 3 * 86400;

	if (ahead > (next_update - this_update) / 2)
		ahead = (next_update - this_update) / 2;
	return next_update - ahead;
}

/*
 * The CRL valid from this_update to next_update (this_update may be in
 * the future: a pre-signed root CRL).  *pem, if asked, gets its PEM.
 * Inside a caller's transaction it joins it (the caller commits);
 * otherwise it is its own transaction.
 */
int
crls_sign_at(struct authority *a, struct signer *sig, int64_t this_update,
    int64_t next_update, unsigned char **pem, size_t *pemlen)
{
	struct ucbuf cc = UCBUF_INIT(0, 0);
	const struct crl_entry *e;
	size_t n;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	size_t derlen;
	char *ski = NULL;
	int64_t number, now = uc_now();
	int rc, own = !store_in_transaction(a->st);

	if ((ski = cert_ski_hex(signer_cert(sig))) == NULL)
		return uc_seterr(UC_E_INVALID, "CA without a key identifier");
	if (own && (rc = store_begin(a->st)) != UC_OK)
		goto out;
	/* Indexed: a revoke must not read every user's certificate. */
	if ((rc = store_cert_list_revoked(a->st, ski, crls_collect_cb, &cc)) !=
	    UC_OK)
		goto fail;
	e = crls_entries(&cc, &n);
	if ((rc = store_crl_next_number(a->st, ski, &number)) != UC_OK ||
	    (rc = crl_build(signer_cert(sig), e, n, number, this_update,
	    next_update, &crl)) != UC_OK ||
	    (a->issuing_ski != NULL && strcmp(ski, a->issuing_ski) == 0 &&
	    (rc = crl_add_next_publish(crl,
	    crls_next_publish(this_update, next_update))) != UC_OK) ||
	    (rc = signer_sign_crl(sig, crl)) != UC_OK ||
	    (rc = crl_der(crl, &der, &derlen)) != UC_OK ||
	    (rc = store_crl_insert(a->st, ski, number, this_update,
	    next_update, der, derlen)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "crl", ski, NULL)) != UC_OK ||
	    (rc = auditlog_checkpoint(a, sig, now, ski, number)) != UC_OK)
		goto fail;
	if ((!own || (rc = store_commit(a->st)) == UC_OK) && pem != NULL)
		rc = crl_to_pem(crl, pem, pemlen);
	goto out;
fail:
	if (own)
		store_rollback(a->st);
out:
	free(der);
	X509_CRL_free(crl);
	crls_collect_free(&cc);
	free(ski);
	return rc;
}

/*
 * A root CRL signed outside a runway has the highest number, so it would
 * hide the pre-signed ones after it expires: they would never be served
 * again and gateways would end up with an expired root CRL.  Void the
 * runway instead (health then says how soon it runs out).
 */
int
crls_sign_root(struct authority *a, struct signer *sig, int days)
{
	long dropped;
	int rc;

	/* One transaction: the runway is voided only if the CRL is in. */
	if ((rc = store_begin(a->st)) != UC_OK)
		return rc;
	if ((a->root_ski != NULL && (rc = store_crl_drop_future(a->st,
	    a->root_ski, uc_now(), &dropped)) != UC_OK) ||
	    (rc = crls_sign(a, sig, days)) != UC_OK) {
		store_rollback(a->st);
		return rc;
	}
	return store_commit(a->st);
}

static int
crl_locked(struct authority *a, int root, int days)
{
	struct signer *sig;
	int rc;

	/* Open every signer first: a wrong passphrase changes nothing. */
	if (root && (rc = auth_root_signer(a, &sig)) != UC_OK)
		return rc;
	if ((rc = auth_issuing_signer(a, &sig)) != UC_OK)
		return rc;
	if ((rc = crls_sign(a, sig, days > 0 ? days : a->conf.crl_days)) !=
	    UC_OK)
		return rc;
	/* The issuing CAs a rollover replaced, while they are in service. */
	if ((rc = rollover_sign_crls(a, days > 0 ? days : a->conf.crl_days)) !=
	    UC_OK)
		return rc;
	if (root && a->conf.intermediate) {
		if ((rc = auth_root_signer(a, &sig)) != UC_OK ||
		    (rc = crls_sign_root(a, sig, days > 0 ? days :
		    a->conf.root_crl_days)) != UC_OK)
			return rc;
	}
	return publish_locked(a);
}

int
authority_crl(struct authority *a, int root, int days)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = crl_locked(a, root, days);
	pthread_mutex_unlock(&a->mu);
	/* The OCSP responder certificate is renewed on the same schedule. */
	if (rc == UC_OK)
		rc = authority_ocsp_refresh(a);
	return rc;
}
