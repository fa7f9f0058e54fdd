/*
 * enrolld.c: the daemon's state, set up and torn down: settings, the CA
 * home through the authority's interface, rate limits, metrics and the
 * public files.  main.c (sockets) and the fuzz harness both start here.
 */
#include <string.h>
#include <unistd.h>

#include "enrolld.h"

int
enrolld_init(struct enrolld *d, const char *config)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	memset(d, 0, sizeof(*d));
	pthread_rwlock_init(&d->publock, NULL);
	sem_init(&d->keygen, 0, ncpu > 0 ? (unsigned int)ncpu : 1);
	if ((rc = econf_load(config, &d->conf)) != UC_OK)
		return rc;
	if ((rc = authority_open(d->conf.home, &d->a)) != UC_OK)
		return rc;
	authority_set_actor(d->a, "enrolld");
	if (!authority_conf(d->a)->intermediate)
		return uc_seterr(UC_E_STATE, "%s has no issuing CA apart from "
		    "the root; the daemon never holds the root key (userca "
		    "init --intermediate)", d->conf.home);
	if (d->conf.smime && !authority_conf(d->a)->smime)
		return uc_seterr(UC_E_POLICY, "%s: [enroll] smime = true, but "
		    "%s was not made for S/MIME ('userca init --smime')",
		    d->conf.path, d->conf.home);
	if ((rc = authority_ready(d->a)) != UC_OK)
		return rc;
	if ((d->rl = ratelimit_new()) == NULL ||
	    (d->m = metrics_new()) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((rc = pub_reload(d)) != UC_OK)
		return rc;
	return scep_init(d);
}

void
enrolld_free(struct enrolld *d)
{
	scep_free(d);
	authority_free(d->a);
	while (d->nretired > 0)
		authority_free(d->retired[--d->nretired]);
	ratelimit_free(d->rl);
	metrics_free(d->m);
	pub_put(d->pub);
	d->pub = NULL;
	pthread_rwlock_destroy(&d->publock);
	sem_destroy(&d->keygen);
	econf_clear(&d->conf);
}
