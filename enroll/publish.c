/*
 * publish.c: the files gateways poll, served from memory, and the CRL
 * watch that keeps them fresh.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "authority_ocsp.h"
#include "enrolld.h"

static const struct {
	const char	*route;
	const char	*file;
	const char	*type;
} pubs[NPUB] = {
	{ "/ca.pem", "public/ca-bundle.pem", "application/x-pem-file" },
	{ "/ca.crt", "public/ca.crt", "application/pkix-cert" },
	{ "/ca.json", "public/ca.json", "application/json" },
	{ "/crl.der", "public/crl.der", "application/pkix-crl" },
	{ "/crl.pem", "public/crl.pem", "application/x-pem-file" },
	{ "/root.crl", "public/root.crl", "application/pkix-crl" },
	/*
	 * Each issuing CA's CRL and certificate under the name its
	 * certificates carry as CRL distribution point and caIssuers (the
	 * first CA's are /crl.der and /ca.crt above), whichever CA is
	 * current; PEM forms for scripts.  Absent until a rollover.
	 */
#define GEN(n) \
	{ "/crl-" #n ".der", "public/crl-" #n ".der", "application/pkix-crl" }, \
	{ "/crl-" #n ".pem", "public/crl-" #n ".pem", "application/x-pem-file" }, \
	{ "/issuing-" #n ".crt", "public/issuing-" #n ".crt", \
	    "application/pkix-cert" }
	GEN(1), GEN(2), GEN(3), GEN(4), GEN(5), GEN(6), GEN(7), GEN(8),
	GEN(9), GEN(10), GEN(11), GEN(12), GEN(13), GEN(14), GEN(15), GEN(16),
#undef GEN
};

void
pub_names(struct pubset *ps)
{
	int i;

	for (i = 0; i < NPUB; i++) {
		ps->f[i].route = pubs[i].route;
		ps->f[i].file = pubs[i].file;
		ps->f[i].type = pubs[i].type;
	}
}

struct blob *
blob_ref(struct blob *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_SEQ_CST);
	return b;
}

void
blob_unref(void *arg)
{
	struct blob *b = arg;

	if (b == NULL || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_SEQ_CST) > 0)
		return;
	free(b->data);
	free(b);
}

static void
pubset_free(struct pubset *ps)
{
	int i;

	if (ps == NULL)
		return;
	for (i = 0; i < NPUB; i++)
		blob_unref(ps->f[i].body);
	X509_free(ps->issuing);
	X509_free(ps->root);
	for (i = 0; i < ps->nprev; i++)
		X509_free(ps->prev[i]);
	free(ps);
}

void
pub_issuing(struct pubset *ps)
{
	const struct pubfile *b = &ps->f[0];	/* /ca.pem */
	X509 *x, *all[NPUB_GENS + 2];
	BIO *bio;
	int n = 0, i;

	if (b->body == NULL || (bio = BIO_new_mem_buf(b->body->data,
	    (int)b->body->len)) == NULL)
		return;
	while (n < NPUB_GENS + 2 &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		all[n++] = x;
	ERR_clear_error();
	BIO_free(bio);
	if (n == 0)
		return;
	/* The current issuing CA first, the root last (unless it issues). */
	ps->issuing = all[0];
	if (n > 1 && X509_check_issued(all[n - 1], all[n - 1]) ==
	    X509_V_OK)
		ps->root = all[--n];
	for (i = 1; i < n; i++)
		ps->prev[ps->nprev++] = all[i];
}

struct pubset *
pub_get(struct enrolld *d)
{
	struct pubset *ps;

	pthread_rwlock_rdlock(&d->publock);
	if ((ps = d->pub) != NULL)
		__atomic_add_fetch(&ps->refs, 1, __ATOMIC_SEQ_CST);
	pthread_rwlock_unlock(&d->publock);
	return ps;
}

void
pub_put(struct pubset *ps)
{
	if (ps == NULL || __atomic_sub_fetch(&ps->refs, 1, __ATOMIC_SEQ_CST) >
	    0)
		return;
	pubset_free(ps);
}

/* CRL facts for health, metrics and Cache-Control. */
static void
crl_facts(struct pubfile *f)
{
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num;
	STACK_OF(X509_REVOKED) *rev;
	int crit;

	if (crl_parse(f->body->data, f->body->len, &crl) != UC_OK)
		return;
	if (X509_CRL_get0_nextUpdate(crl) != NULL)
		(void)uc_asn1_time(X509_CRL_get0_nextUpdate(crl),
		    &f->next_update);
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit,
	    NULL)) != NULL) {
		(void)ASN1_INTEGER_get_int64(&f->crl_number, num);
		ASN1_INTEGER_free(num);
	}
	rev = X509_CRL_get_REVOKED(crl);
	f->crl_entries = rev != NULL ? sk_X509_REVOKED_num(rev) : 0;
	X509_CRL_free(crl);
}

/* Replace pem's contents with the PEM form of the CRL in der. */
static int
pem_of_der(const struct blob *der, struct blob *pem)
{
	X509_CRL *crl = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	if ((rc = crl_parse(der->data, der->len, &crl)) != UC_OK ||
	    (rc = crl_to_pem(crl, &buf, &len)) != UC_OK) {
		X509_CRL_free(crl);
		return rc;
	}
	X509_CRL_free(crl);
	free(pem->data);
	pem->data = buf;
	pem->len = len;
	return UC_OK;
}

/*
 * 1 if the first CRL of pem is der: then crl.pem (the current issuing
 * CA's CRL, then those of the issuing CAs a rollover replaced) is served
 * as written.
 */
static int
pem_starts_with(const struct blob *pem, const struct blob *der)
{
	X509_CRL *crl = NULL;
	unsigned char *d = NULL;
	size_t len;
	int same;

	if (crl_parse(pem->data, pem->len, &crl) != UC_OK)
		return 0;
	same = crl_der(crl, &d, &len) == UC_OK && len == der->len &&
	    memcmp(d, der->data, len) == 0;
	OPENSSL_free(d);
	X509_CRL_free(crl);
	return same;
}

int
pub_reload(struct enrolld *d)
{
	struct pubset *ps;
	struct pubfile *f;
	struct stat sb;
	unsigned char md[32];
	unsigned int mdlen;
	char *path;
	int i, rc;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	ps->refs = 1;		/* d->pub's, once swapped in */
	pub_names(ps);
	for (i = 0; i < NPUB; i++) {
		f = &ps->f[i];
		if ((path = path_join(d->conf.home, f->file)) == NULL) {
			pubset_free(ps);
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
		if (stat(path, &sb) == -1) {
			free(path);
			continue;	/* not published (yet) */
		}
		if ((f->body = calloc(1, sizeof(*f->body))) == NULL) {
			free(path);
			pubset_free(ps);
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
		f->body->refs = 1;
		rc = file_read(path, 64 * 1024 * 1024, &f->body->data,
		    &f->body->len);
		free(path);
		if (rc != UC_OK) {
			pubset_free(ps);
			return rc;
		}
		f->mtime = (int64_t)sb.st_mtime;
		f->mtime_ns = (int64_t)sb.st_mtim.tv_nsec;
		f->ino = (uint64_t)sb.st_ino;
		/*
		 * /crl.pem is made from the /crl.der just loaded, not read
		 * from its own file: the CLI replaces the two one after the
		 * other, and a gateway must never get a PEM older than the DER.
		 */
		if (strcmp(f->route, "/crl.pem") == 0 && ps->f[3].body != NULL &&
		    !pem_starts_with(f->body, ps->f[3].body) &&
		    (rc = pem_of_der(ps->f[3].body, f->body)) != UC_OK) {
			pubset_free(ps);
			return rc;
		}
		mdlen = sizeof(md);
		/* A failed digest would give every version the same ETag. */
		if (!EVP_Digest(f->body->data, f->body->len, md, &mdlen,
		    EVP_sha256(), NULL)) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "%s: sha256",
			    f->route);
			pubset_free(ps);
			return rc;
		}
		snprintf(f->etag, sizeof(f->etag),
		    "\"%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x\"",
		    md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7],
		    md[8], md[9], md[10], md[11]);
		if (strstr(f->route, "crl") != NULL)
			crl_facts(f);
	}
	pub_issuing(ps);
	pub_swap(d, ps);
	__atomic_add_fetch(&d->generation, 1, __ATOMIC_SEQ_CST);
	return UC_OK;
}

void
pub_swap(struct enrolld *d, struct pubset *ps)
{
	struct pubset *old;

	pthread_rwlock_wrlock(&d->publock);
	old = d->pub;
	d->pub = ps;
	pthread_rwlock_unlock(&d->publock);
	/* Requests still reading the old set hold their own references. */
	pub_put(old);
}

int
web_load(const struct econf *c, struct blob *web[NWEB])
{
	static const char *const names[NWEB] = { "enroll.html", "enroll.js",
	    "enroll.css" };
	char *path;
	int i, rc;

	for (i = 0; i < NWEB; i++) {
		blob_unref(web[i]);
		web[i] = NULL;
		if ((path = path_join(c->web_root, names[i])) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		if ((web[i] = calloc(1, sizeof(*web[i]))) == NULL) {
			free(path);
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
		web[i]->refs = 1;
		rc = file_read(path, 1024 * 1024, &web[i]->data, &web[i]->len);
		free(path);
		if (rc != UC_OK) {
			/* Answered 404 "not installed", as before. */
			free(web[i]);
			web[i] = NULL;
		}
	}
	return UC_OK;
}

/* 1 if any public file differs (size, mtime, presence) from memory. */
static int
pub_changed(struct enrolld *d)
{
	struct stat sb;
	char *path;
	int i, changed = 0, exists;

	pthread_rwlock_rdlock(&d->publock);
	for (i = 0; i < NPUB && !changed; i++) {
		const struct pubfile *f = &d->pub->f[i];

		if ((path = path_join(d->conf.home, f->file)) == NULL)
			break;
		exists = stat(path, &sb) == 0;
		free(path);
		if (exists != (f->body != NULL) || (exists &&
		    ((size_t)sb.st_size != f->body->len ||
		    (int64_t)sb.st_mtime != f->mtime ||
		    (int64_t)sb.st_mtim.tv_nsec != f->mtime_ns ||
		    (uint64_t)sb.st_ino != f->ino)))
			changed = 1;
	}
	pthread_rwlock_unlock(&d->publock);
	return changed;
}

/*
 * A warning, not an outage: the issuing CA's own certificate expires
 * within [ca] issuing_warn_before.  Nothing it issues outlives it, so
 * users get ever shorter certificates and then none: roll it over.
 */
static void
issuing_warn(struct enrolld *d, int64_t now)
{
	X509 *iss = authority_issuing_cert(ed_auth(d));
	char when[32];
	int64_t na;

	d->health_warn[0] = '\0';
	if (iss == NULL || uc_asn1_time(X509_get0_notAfter(iss), &na) !=
	    UC_OK || na - now >= d->conf.issuing_warn_before)
		return;
	uc_time_iso(na, when, sizeof(when));
	snprintf(d->health_warn, sizeof(d->health_warn), "the issuing CA's "
	    "certificate expires in %lld days (%s): roll it over "
	    "(userca intermediate rollover)", (long long)((na - now) / 86400),
	    when);
}

static void
health(struct enrolld *d)
{
	char why[512] = "";
	int64_t now = uc_now(), left;
	size_t n = 0;
	int i, ok = 1;

	pthread_rwlock_wrlock(&d->publock);
	for (i = 0; i < NPUB; i++) {
		const struct pubfile *f = &d->pub->f[i];
		int root = strcmp(f->route, "/root.crl") == 0;

		if (strcmp(f->route, "/crl.der") != 0 && !root)
			continue;
		if (f->body == NULL) {
			ok = 0;
			n += (size_t)snprintf(why + n, n < sizeof(why) ?
			    sizeof(why) - n : 0, "%s is not published; ",
			    f->route);
			continue;
		}
		left = f->next_update - now;
		if (left <= 0) {
			ok = 0;
			n += (size_t)snprintf(why + n, n < sizeof(why) ?
			    sizeof(why) - n : 0, "%s expired %lld s ago; ",
			    f->route, (long long)-left);
		} else if (left < (root ? d->conf.root_warn_before :
		    d->conf.refresh_before)) {
			ok = 0;
			n += (size_t)snprintf(why + n, n < sizeof(why) ?
			    sizeof(why) - n : 0, "%s expires in %lld s%s; ",
			    f->route, (long long)left, root ? " (sign a new "
			    "root CRL on the offline host: userca crl --root)" :
			    " and could not be re-signed");
		}
	}
	/* The root CRL's runway: pre-signed CRLs still to come. */
	if (d->runway_until != 0 && d->runway_until - now <
	    d->conf.root_warn_before) {
		ok = 0;
		n += (size_t)snprintf(why + n, n < sizeof(why) ? sizeof(why) - n :
		    0, "the last root CRL expires in %lld s (sign more on the "
		    "offline host: userca crl --root --runway N); ",
		    (long long)(d->runway_until - now));
	}
	if (d->conf.runway_min > 0 && d->runway < d->conf.runway_min) {
		ok = 0;
		n += (size_t)snprintf(why + n, n < sizeof(why) ? sizeof(why) - n :
		    0, "%ld pre-signed root CRL(s) left, fewer than runway_min "
		    "%d; ", d->runway, d->conf.runway_min);
	}
	if (d->stale) {
		ok = 0;
		n += (size_t)snprintf(why + n, n < sizeof(why) ? sizeof(why) - n :
		    0, "the issuing CA was rolled over since this daemon "
		    "started: restart userca-enrolld; ");
	}
	if (n >= sizeof(why))
		n = sizeof(why) - 1;
	if (n >= 2 && why[n - 2] == ';')
		why[n - 2] = '\0';
	d->healthy = ok;
	snprintf(d->health_why, sizeof(d->health_why), "%s", why);
	issuing_warn(d, now);
	pthread_rwlock_unlock(&d->publock);
}

/*
 * The CA home's issuing CA changed (userca intermediate rollover): open it
 * again, ready its signer and OCSP responder, and make it the one new
 * requests use; requests under way finish with the one they hold, which
 * stays open.  When that fails, or after ED_RETIRED rollovers, nothing is
 * signed or published any more and /healthz asks for a restart.
 */
static void
follow_rollover(struct enrolld *d)
{
	struct authority *na = NULL;
	char *subj;

	if (d->nretired >= ED_RETIRED ||
	    authority_open(d->conf.home, &na) != UC_OK ||
	    authority_ready(na) != UC_OK ||
	    authority_ocsp_refresh(na) != UC_OK) {
		fprintf(stderr, "userca-enrolld: the issuing CA was rolled "
		    "over on disk and could not be followed (%s): restart "
		    "userca-enrolld\n", d->nretired >= ED_RETIRED ?
		    "too many rollovers in one run" : uc_errmsg());
		authority_free(na);
		d->stale = 1;
		return;
	}
	authority_set_actor(na, "enrolld");
	d->retired[d->nretired++] = ed_auth(d);
	__atomic_store_n(&d->a, na, __ATOMIC_RELEASE);
	subj = cert_subject(authority_issuing_cert(na));
	fprintf(stderr, "userca-enrolld: the issuing CA was rolled over: "
	    "issuing as %s now\n", subj != NULL ? subj : "the new one");
	free(subj);
	if (pub_reload(d) != UC_OK)
		fprintf(stderr, "userca-enrolld: reloading public/: %s\n",
		    uc_errmsg());
}

void
crl_watch(struct enrolld *d)
{
	struct crl_state cs;
	int64_t now = uc_now();
	int days, resign = 0;

	if (pub_changed(d) && pub_reload(d) != UC_OK)
		fprintf(stderr, "userca-enrolld: reloading public/: %s\n",
		    uc_errmsg());
	/*
	 * The root CRL in force changes by itself when a pre-signed one's
	 * thisUpdate comes: publish it and serve it.
	 */
	if (authority_crl_state(ed_auth(d), 1, &cs) == UC_OK && cs.have) {
		int64_t served;

		pthread_rwlock_wrlock(&d->publock);
		served = d->pub->f[5].crl_number;
		d->runway = cs.runway;
		d->runway_until = cs.runway_until;
		pthread_rwlock_unlock(&d->publock);
		if (cs.number != served) {
			if (authority_publish(ed_auth(d)) != UC_OK ||
			    pub_reload(d) != UC_OK)
				fprintf(stderr, "userca-enrolld: publishing the "
				    "root CRL: %s\n", uc_errmsg());
			else
				fprintf(stderr, "userca-enrolld: root CRL %lld "
				    "is now in force\n", (long long)cs.number);
		}
	}
	/* A rollover: issue, sign and publish as the new issuing CA. */
	if (!d->stale && authority_issuing_changed(ed_auth(d)))
		follow_rollover(d);
	if (d->stale) {
		health(d);
		return;
	}
	if (authority_crl_state(ed_auth(d), 0, &cs) != UC_OK) {
		fprintf(stderr, "userca-enrolld: CRL state: %s\n",
		    uc_errmsg());
	} else if (cs.have) {
		if (cs.next_update - now <= d->conf.refresh_before)
			resign = 1;	/* nextUpdate is near */
		if (cs.revoked > cs.entries)
			resign = 1;	/* a revocation is not on it yet */
	} else
		resign = 1;	/* a new issuing CA whose rollover stopped
				 * before its first CRL */
	if (resign) {
		days = (d->conf.crl_validity + 86399) / 86400;
		if (authority_crl(ed_auth(d), 0, days) != UC_OK)
			fprintf(stderr, "userca-enrolld: re-signing the CRL: "
			    "%s\n", uc_errmsg());
		else {
			fprintf(stderr, "userca-enrolld: CRL re-signed (%s)\n",
			    !cs.have ? "none yet" : cs.revoked > cs.entries ?
			    "new revocation" : "nextUpdate near");
			if (pub_reload(d) != UC_OK)
				fprintf(stderr, "userca-enrolld: reloading "
				    "public/: %s\n", uc_errmsg());
		}
	}
	health(d);
	ocsp_watch(d);
	scep_watch(d);
}
