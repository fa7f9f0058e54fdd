/*
 * revoke.c: revoking one certificate or every valid certificate of a
 * user, then re-signing the affected CRL and publishing.
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

struct serials {
	char	**s;
	size_t	  n;
};

static int
serials_cb(const struct store_cert *c, void *arg)
{
	struct serials *ss = arg;
	char **ns;

	if ((ns = reallocarray(ss->s, ss->n + 1, sizeof(*ns))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	ss->s = ns;
	if ((ss->s[ss->n] = strdup(c->serial)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	ss->n++;
	return 0;
}

/*
 * A fresh CRL at once: the root's (root), the one of the CA behind ski
 * (sig), or with ski NULL every issuing CA's (a user's certificates may
 * come from previous issuing CAs too); then public/.
 */
static int
revoke_publish(struct authority *a, struct signer *sig, int root,
    const char *ski, struct revoke_result *res)
{
	unsigned char *der = NULL;
	size_t derlen;
	int64_t next;
	int rc;

	if ((rc = root ? crls_sign_root(a, sig, a->conf.root_crl_days) :
	    crls_sign(a, sig, a->conf.crl_days)) != UC_OK)
		return rc;
	if (ski == NULL && (rc = rollover_sign_crls(a, a->conf.crl_days)) !=
	    UC_OK)
		return rc;
	res->crl_root = root;
	if (store_crl_latest(a->st, root ? a->root_ski : ski != NULL ? ski :
	    a->issuing_ski, &der, &derlen, &res->crl_number, &next) == UC_OK)
		free(der);
	return publish_locked(a);
}

static int
revoke_locked(struct authority *a, const char *serial, const char *username,
    int reason, struct revoke_result *res)
{
	struct store_cert c;
	struct store_user u;
	struct serials ss;
	struct signer *isig = NULL, *rsig = NULL;
	int64_t now = uc_now();
	size_t i;
	int64_t uid;
	char *crl_ski = NULL;	/* the CRL to sign; NULL: every issuing CA's */
	int rc, need_root = 0, ntok = 0;

	memset(&ss, 0, sizeof(ss));
	memset(&c, 0, sizeof(c));
	if (serial != NULL) {
		if ((rc = store_cert_get(a->st, serial, &c)) != UC_OK)
			return rc;
		if (strcmp(c.status, "revoked") == 0) {
			rc = uc_seterr(UC_E_STATE, "certificate %s is already "
			    "revoked (%s)", serial, crl_reason_name(c.reason));
			store_cert_clear(&c);
			return rc;
		}
		need_root = a->root_ski != NULL &&
		    strcmp(c.issuer_ski, a->root_ski) == 0 &&
		    a->conf.intermediate;
		/* A previous issuing CA's certificate goes on its CRL. */
		crl_ski = c.issuer_ski;
		c.issuer_ski = NULL;
		store_cert_clear(&c);
		if ((rc = serials_cb(&(struct store_cert){ .serial =
		    (char *)(uintptr_t)serial }, &ss)) != UC_OK)
			goto out;
	} else {
		if ((rc = store_user_get(a->st, username, &u)) != UC_OK)
			return rc;
		uid = u.id;
		/* Offboarding: links not yet used die with the user's access. */
		rc = store_user_expire_tokens_count(a->st, uid, now, &ntok);
		if (rc == UC_OK && ntok > 0)
			rc = store_audit(a->st, now, a->actor, "token-cancel",
			    username, "revoke --user");
		store_user_clear(&u);
		if (rc != UC_OK)
			return rc;
		res->tokens_cancelled = ntok;
		/*
		 * The valid ones, then expired but unrevoked ones (they go on
		 * the CRL too); indexed by user, not a scan of every user.
		 */
		if ((rc = store_cert_list_unrevoked(a->st, uid, now, serials_cb,
		    &ss)) != UC_OK)
			goto out;
		if (ss.n == 0) {
			/* Nothing to revoke: the caller says so (idempotent). */
			rc = UC_OK;
			goto out;
		}
	}
	/* The CRL signer first: without it nothing is revoked. */
	if ((rc = auth_issuing_signer(a, &isig)) != UC_OK)
		goto out;
	if (crl_ski != NULL && (rc = rollover_signer_for(a, crl_ski, &isig)) !=
	    UC_OK)
		goto out;
	if (need_root && (rc = auth_root_signer(a, &rsig)) != UC_OK)
		goto out;
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	for (i = 0; i < ss.n; i++) {
		if ((rc = store_cert_revoke(a->st, ss.s[i], now, reason)) !=
		    UC_OK || (rc = store_audit(a->st, now, a->actor, "revoke",
		    ss.s[i], crl_reason_name(reason))) != UC_OK) {
			store_rollback(a->st);
			goto out;
		}
	}
	if ((rc = store_commit(a->st)) != UC_OK)
		goto out;
	/* The serials are the caller's now. */
	res->serials = ss.s;
	res->n = ss.n;
	memset(&ss, 0, sizeof(ss));
	rc = revoke_publish(a, need_root ? rsig : isig, need_root, crl_ski,
	    res);
out:
	for (i = 0; i < ss.n; i++)
		free(ss.s[i]);
	free(ss.s);
	free(crl_ski);
	return rc;
}

void
revoke_result_clear(struct revoke_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->n; i++)
		free(res->serials[i]);
	free(res->serials);
	memset(res, 0, sizeof(*res));
}

int
authority_revoke_ex(struct authority *a, const char *serial,
    const char *username, int reason, struct revoke_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&a->mu);
	rc = revoke_locked(a, serial, username, reason, res);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
authority_revoke(struct authority *a, const char *serial, const char *username,
    int reason, int *count)
{
	struct revoke_result res;
	int rc;

	rc = authority_revoke_ex(a, serial, username, reason, &res);
	*count = (int)res.n;
	if (rc == UC_OK && res.n == 0)
		rc = uc_seterr(UC_E_STATE, "user '%s' has no unrevoked "
		    "certificate", username);
	revoke_result_clear(&res);
	return rc;
}
