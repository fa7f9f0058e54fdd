/*
 * authority.c: an open authority: opening and freeing a CA home (its
 * settings, certificates and store), the CA signers (opened once; the
 * root asks for its passphrase), signing a new certificate, the
 * enrollment URL and the accessors of authority.h.
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

int
auth_sign_cert(struct signer *sig, const struct cert_req *req, EVP_PKEY *pub,
    X509 **out)
{
	X509 *x = NULL;
	int rc;

	*out = NULL;
	if ((rc = cert_build(req, pub, signer_cert(sig), &x)) != UC_OK)
		return rc;
	if ((rc = signer_sign_cert(sig, x)) != UC_OK) {
		X509_free(x);
		return rc;
	}
	*out = x;
	return UC_OK;
}

static int
ask_pass(struct authority *a, char **pass)
{
	if (a->getpass == NULL)
		return uc_seterr(UC_E_PASSPHRASE, "the root key passphrase is "
		    "needed and none was given");
	return a->getpass(a->getpass_arg, 0, pass);
}

int
auth_root_signer(struct authority *a, struct signer **out)
{
	char *crt = NULL, *key = NULL, *pass = NULL;
	int rc;

	*out = NULL;
	if (a->rsig != NULL) {
		*out = a->rsig;
		return UC_OK;
	}
	if (!home_has(a->home, P_ROOT_KEY))
		return uc_seterr(UC_E_STATE, "%s has no root key (this is an "
		    "online home: the root key stays on the offline host)",
		    a->home);
	if ((rc = ask_pass(a, &pass)) != UC_OK)
		return rc;
	if ((crt = home_path(a->home, P_ROOT_CRT)) == NULL ||
	    (key = home_path(a->home, P_ROOT_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = signer_open(crt, key, pass, &a->rsig)) != UC_OK)
		goto out;
	*out = a->rsig;
out:
	secret_free(pass);
	free(crt);
	free(key);
	return rc;
}

int
auth_issuing_signer(struct authority *a, struct signer **out)
{
	char *crt = NULL, *key = NULL;
	int rc;

	*out = NULL;
	if (a->isig != NULL) {
		*out = a->isig;
		return UC_OK;
	}
	if (!a->conf.intermediate)
		return auth_root_signer(a, out);	/* the root issues directly */
	if ((crt = home_path(a->home, P_ISS_CRT)) == NULL ||
	    (key = home_path(a->home, P_ISS_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = signer_open(crt, key, NULL, &a->isig)) != UC_OK)
		goto out;
	*out = a->isig;
out:
	free(crt);
	free(key);
	return rc;
}

static int
load_certs(struct authority *a)
{
	char *p = NULL;
	int rc;

	if ((p = home_path(a->home, P_ISS_CRT)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = cert_load(p, &a->issuing);
	free(p);
	if (rc != UC_OK)
		return rc;
	if (home_has(a->home, P_ROOT_CRT)) {
		if ((p = home_path(a->home, P_ROOT_CRT)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		rc = cert_load(p, &a->root);
		free(p);
		if (rc != UC_OK)
			return rc;
		if ((a->root_ski = cert_ski_hex(a->root)) == NULL)
			return uc_seterr(UC_E_INVALID, "the root certificate "
			    "has no subject key identifier");
	}
	if ((a->issuing_ski = cert_ski_hex(a->issuing)) == NULL)
		return uc_seterr(UC_E_INVALID, "the issuing certificate has no "
		    "subject key identifier");
	a->root_distinct = a->root != NULL && X509_cmp(a->root, a->issuing) !=
	    0;
	if ((rc = issue_chain_tail(a)) != UC_OK)
		return rc;
	return rollover_load(a);
}

int
authority_open(const char *home, struct authority **out)
{
	struct authority *a = NULL;
	char *p = NULL;
	int rc;

	*out = NULL;
	if (!home_has(home, P_CONF) || !home_has(home, P_DB))
		return uc_seterr(UC_E_NOTFOUND, "%s is not a CA home (no %s "
		    "or %s); run 'userca init' first", home, P_CONF, P_DB);
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->home = strdup(home)) == NULL) {
		free(a);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	a->actor = "cli";
	{
		pthread_mutexattr_t attr;

		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&a->mu, &attr);
		pthread_mutexattr_destroy(&attr);
		pthread_mutex_init(&a->gcmu, NULL);
		pthread_mutex_init(&a->rmu, NULL);
	}
	if ((p = home_path(home, P_CONF)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto fail;
	}
	rc = conf_load(p, &a->conf);
	free(p);
	if (rc != UC_OK)
		goto fail;
	if ((a->prof = profile_find(a->conf.profile)) == NULL) {
		rc = uc_seterr(UC_E_INVALID, "unknown profile '%s' in %s",
		    a->conf.profile, P_CONF);
		goto fail;
	}
	if ((rc = load_certs(a)) != UC_OK)
		goto fail;
	if ((p = home_path(home, P_DB)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto fail;
	}
	rc = store_open(p, 0, &a->st);
	free(p);
	if (rc != UC_OK)
		goto fail;
	*out = a;
	return UC_OK;
fail:
	authority_free(a);
	return rc;
}

void
authority_free(struct authority *a)
{
	if (a == NULL)
		return;
	store_close(a->st);
	signer_free(a->isig);
	signer_free(a->rsig);
	X509_free(a->root);
	X509_free(a->issuing);
	free(a->chain_pem);
	free(a->root_ski);
	free(a->issuing_ski);
	conf_clear(&a->conf);
	free(a->home);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->gcmu);
	pthread_mutex_destroy(&a->rmu);
	store_close(a->rst);
	aocsp_free(a->ocsp);
	ascep_free(a->scep);
	rollover_free(a);
	free(a);
}

void
authority_set_getpass(struct authority *a, authority_getpass_fn fn, void *arg)
{
	a->getpass = fn;
	a->getpass_arg = arg;
}

void
authority_set_actor(struct authority *a, const char *actor)
{
	a->actor = actor;
}

char *
authority_enroll_url(struct authority *a, const char *token)
{
	const char *base = a->conf.enroll_url != NULL ? a->conf.enroll_url :
	    a->conf.base_url;
	size_t len = strlen(base) + strlen(token) + 16;
	char *u;

	if ((u = malloc(len)) != NULL)
		snprintf(u, len, "%s/enroll/%s", base, token);
	return u;
}

int
authority_enroll_check(struct authority *a)
{
	const char *u = a->conf.enroll_url;

	if ((u != NULL && strncmp(u, "https://", 8) == 0) ||
	    a->conf.allow_http_links)
		return UC_OK;
	return uc_seterr(UC_E_POLICY, "%s%.100s%s is not https, and an "
	    "enrollment link is a one-time credential: give the CA an https "
	    "--enroll-url (userca init --enroll-url https://HOST:PORT; on "
	    "this home: enroll_url in userca.conf); plain http links only "
	    "on a test or lab CA made with --allow-http-links",
	    u != NULL ? "the enrollment URL '" : "the CA has no enrollment "
	    "URL and its base URL '", u != NULL ? u : a->conf.base_url, "'");
}

int
auth_reader_store(struct authority *a, struct store **out)
{
	char *p;
	int rc;

	if (a->rst == NULL) {
		if ((p = home_path(a->home, P_DB)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		rc = store_open(p, 0, &a->rst);
		free(p);
		if (rc != UC_OK)
			return rc;
	}
	*out = a->rst;
	return UC_OK;
}

const struct ca_conf *
authority_conf(struct authority *a)
{
	return &a->conf;
}

X509 *
authority_issuing_cert(struct authority *a)
{
	return a->issuing;
}

X509 *
authority_root_cert(struct authority *a)
{
	return a->root;
}
