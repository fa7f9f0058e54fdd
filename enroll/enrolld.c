/*
 * enrolld.c: the daemon's state, set up and torn down.  The monitor (and
 * the in-process mode of tests, fuzzers and --check) opens the CA home
 * through the authority's interface and answers its own door; the network
 * child starts empty and is filled by the monitor's messages.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "door.h"
#include "enrolld.h"
#include "pki_mobileconfig.h"

static void
common_init(struct enrolld *d)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(d, 0, sizeof(*d));
	pthread_rwlock_init(&d->publock, NULL);
	pthread_mutex_init(&d->ralock, NULL);
	sem_init(&d->keygen, 0, ncpu > 0 ? (unsigned int)ncpu : 1);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

int
enrolld_init(struct enrolld *d, const char *config)
{
	const struct ca_conf *cc;
	int rc;

	common_init(d);
	if ((rc = econf_load(config, &d->conf)) != UC_OK)
		return rc;
	if ((rc = authority_open(d->conf.home, &d->a)) != UC_OK)
		return rc;
	authority_set_actor(d->a, "enrolld");
	cc = authority_conf(d->a);
	if (!cc->intermediate)
		return uc_seterr(UC_E_STATE, "%s has no issuing CA apart from "
		    "the root; the daemon never holds the root key (userca "
		    "init --intermediate)", d->conf.home);
	if (d->conf.smime && !cc->smime)
		return uc_seterr(UC_E_POLICY, "%s: [enroll] smime = true, but "
		    "%s was not made for S/MIME ('userca init --smime')",
		    d->conf.path, d->conf.home);
	if ((rc = authority_ready(d->a)) != UC_OK)
		return rc;
	if ((d->rl = ratelimit_new()) == NULL ||
	    (d->m = metrics_new()) == NULL ||
	    (d->pending = pending_new()) == NULL ||
	    (d->door = door_local(monitor_answer, d)) == NULL ||
	    (d->user_key = strdup(authority_user_key_type(d->a))) == NULL ||
	    (d->org = strdup(cc->org)) == NULL ||
	    (d->base_url = strdup(cc->base_url)) == NULL ||
	    (cc->eas_host != NULL && (d->eas_host = strdup(cc->eas_host)) ==
	    NULL) || (cc->eas_domain != NULL &&
	    (d->eas_domain = dup_or_null(cc->eas_domain)) == NULL))
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((rc = web_load(&d->conf, d->web)) != UC_OK)
		return rc;
	if ((rc = pub_reload(d)) != UC_OK)
		return rc;
	return scep_init(d);
}

int
enrolld_child_init(struct enrolld *d)
{
	common_init(d);
	d->child = 1;
	if ((d->rl = ratelimit_new()) == NULL ||
	    (d->m = metrics_new()) == NULL ||
	    (d->ocache = ocsp_cache_new()) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	return UC_OK;
}

int
enrolld_scep_ra(struct enrolld *d, X509 **cert, EVP_PKEY **key)
{
	int rc = UC_OK;

	*cert = NULL;
	*key = NULL;
	if (ed_auth(d) != NULL)
		return authority_scep_ra(ed_auth(d), cert, key);
	pthread_mutex_lock(&d->ralock);
	if (d->ra == NULL || d->rakey == NULL)
		rc = uc_seterr(UC_E_STATE, "no SCEP RA yet");
	else if (!X509_up_ref(d->ra))
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else if (!EVP_PKEY_up_ref(d->rakey)) {
		X509_free(d->ra);
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	} else {
		*cert = d->ra;
		*key = d->rakey;
	}
	pthread_mutex_unlock(&d->ralock);
	return rc;
}

void
enrolld_set_scep_ra(struct enrolld *d, X509 *cert, EVP_PKEY *key)
{
	X509 *oc;
	EVP_PKEY *ok;

	pthread_mutex_lock(&d->ralock);
	oc = d->ra;
	ok = d->rakey;
	d->ra = cert;
	d->rakey = key;
	pthread_mutex_unlock(&d->ralock);
	X509_free(oc);
	EVP_PKEY_free(ok);
}

/* PEM_read_bio_PrivateKey() would prompt for a passphrase: never. */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

void
enrolld_set_profile_signer(struct enrolld *d, const unsigned char *cert,
    size_t certlen, const unsigned char *key, size_t keylen)
{
	STACK_OF(X509) *chain = NULL, *oc;
	X509 *leaf = NULL, *x, *ol;
	EVP_PKEY *k = NULL, *ok;
	BIO *b = NULL;

	if (certlen > INT_MAX || keylen > INT_MAX ||
	    (b = BIO_new_mem_buf(cert, (int)certlen)) == NULL ||
	    (leaf = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) == NULL ||
	    (chain = sk_X509_new_null()) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL)
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			goto out;
		}
	BIO_free(b);
	if ((b = BIO_new_mem_buf(key, (int)keylen)) == NULL ||
	    (k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)) ==
	    NULL || X509_check_private_key(leaf, k) != 1)
		goto out;
	pthread_mutex_lock(&d->ralock);
	ol = d->pcert;
	oc = d->pchain;
	ok = d->pkey;
	d->pcert = leaf;
	d->pchain = chain;
	d->pkey = k;
	pthread_mutex_unlock(&d->ralock);
	leaf = ol;	/* the old ones, freed below */
	chain = oc;
	k = ok;
out:
	ERR_clear_error();
	BIO_free(b);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(k);
}

int
enrolld_profile_sign(struct enrolld *d, unsigned char **body, size_t *len)
{
	STACK_OF(X509) *chain = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL;
	size_t dlen = 0;
	int rc = UC_OK;

	pthread_mutex_lock(&d->ralock);
	if (d->pcert != NULL && X509_up_ref(d->pcert)) {
		cert = d->pcert;
		if (EVP_PKEY_up_ref(d->pkey))
			key = d->pkey;
		chain = X509_chain_up_ref(d->pchain);
	}
	pthread_mutex_unlock(&d->ralock);
	if (cert == NULL)
		return UC_OK;	/* no TLS pair: unsigned */
	if (key == NULL || chain == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else if ((rc = mobileconfig_sign(*body, *len, cert, key, chain, &der,
	    &dlen)) == UC_OK) {
		secret_free_buf(*body, *len);
		*body = der;
		*len = dlen;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

void
enrolld_free(struct enrolld *d)
{
	int i;

	door_free(d->door);
	ocsp_cache_free(d->ocache);	/* after the door's push thread */
	pending_free(d->pending);
	scep_free(d);
	authority_free(d->a);
	while (d->nretired > 0)
		authority_free(d->retired[--d->nretired]);
	ratelimit_free(d->rl);
	metrics_free(d->m);
	pub_put(d->pub);
	d->pub = NULL;
	for (i = 0; i < NWEB; i++)
		blob_unref(d->web[i]);
	free(d->user_key);
	free(d->org);
	free(d->eas_host);
	free(d->eas_domain);
	free(d->base_url);
	X509_free(d->ra);
	EVP_PKEY_free(d->rakey);
	X509_free(d->pcert);
	sk_X509_pop_free(d->pchain, X509_free);
	EVP_PKEY_free(d->pkey);
	pthread_mutex_destroy(&d->ralock);
	pthread_rwlock_destroy(&d->publock);
	sem_destroy(&d->keygen);
	econf_clear(&d->conf);
}
