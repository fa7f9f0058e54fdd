/*
 * authority.c: issuance, revocation, CRLs and publication over the core
 * and the records.  The only place that does any of these.
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

#define CSR_FILE_MAX	(64 * 1024)



static int	publish_locked(struct authority *);
static int	publish_files(struct authority *);

/* ---- paths ----------------------------------------------------------------- */

static char *
hpath(const char *home, const char *rel)
{
	return path_join(home, rel);
}

#define P_CONF		"userca.conf"
#define P_DB		"userca.db"
#define P_ROOT_CRT	"root/root.crt"
#define P_ROOT_KEY	"root/root.key"
#define P_ROOT_CRL	"root/root.crl"
#define P_ISS_CRT	"issuing/ca.crt"
#define P_ISS_KEY	"issuing/ca.key"
#define P_ISS_CSR	"issuing/ca.csr"

static int
home_has(const char *home, const char *rel)
{
	char *p;
	int r;

	if ((p = hpath(home, rel)) == NULL)
		return 0;
	r = path_exists(p);
	free(p);
	return r;
}

static int
write_rel(const char *home, const char *rel, const void *buf, size_t len,
    mode_t mode, int excl)
{
	char *p;
	int rc;

	if ((p = hpath(home, rel)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = excl ? file_write_excl(p, buf, len, mode) :
	    file_write_atomic(p, buf, len, mode);
	free(p);
	return rc;
}

static int
write_cert_rel(const char *home, const char *rel, X509 *x, int excl)
{
	unsigned char *pem = NULL;
	size_t len;
	int rc;

	if ((rc = cert_to_pem(x, &pem, &len)) != UC_OK)
		return rc;
	rc = write_rel(home, rel, pem, len, 0644, excl);
	free(pem);
	return rc;
}

static int
home_dirs(const char *home)
{
	static const char *const sub[] = { "root", "issuing", "public" };
	char *p;
	size_t i;
	int rc;

	if ((rc = dir_make(home, 0700)) != UC_OK)
		return rc;
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if ((p = hpath(home, sub[i])) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		rc = dir_make(p, strcmp(sub[i], "public") == 0 ? 0755 : 0700);
		free(p);
		if (rc != UC_OK)
			return rc;
	}
	return UC_OK;
}

static int
refuse_existing(const char *home)
{
	static const char *const any[] = {
		P_CONF, P_DB, P_ROOT_CRT, P_ROOT_KEY, P_ISS_CRT, P_ISS_KEY,
	};
	size_t i;

	for (i = 0; i < sizeof(any) / sizeof(any[0]); i++)
		if (home_has(home, any[i]))
			return uc_seterr(UC_E_EXISTS, "%s already holds a CA "
			    "(%s exists); refusing to overwrite it", home,
			    any[i]);
	return UC_OK;
}

/* ---- small helpers ------------------------------------------------------------ */

int
sign_new_cert(struct signer *sig, const struct cert_req *req, EVP_PKEY *pub,
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

/* The fields of a certificate row that come from the certificate. */
static int
cert_row(X509 *x, X509 *issuer, struct store_cert *c)
{
	memset(c, 0, sizeof(*c));
	c->serial = serial_hex(X509_get0_serialNumber(x));
	c->issuer_ski = cert_ski_hex(issuer);
	c->subject = cert_subject(x);
	c->sha256 = cert_fingerprint(x, EVP_sha256());
	if (c->serial == NULL || c->issuer_ski == NULL || c->subject == NULL ||
	    c->sha256 == NULL) {
		store_cert_clear(c);
		return uc_seterr(UC_E_INTERNAL, "certificate fields");
	}
	if (uc_asn1_time(X509_get0_notBefore(x), &c->not_before) != UC_OK ||
	    uc_asn1_time(X509_get0_notAfter(x), &c->not_after) != UC_OK ||
	    cert_der(x, &c->der, &c->derlen) != UC_OK) {
		store_cert_clear(c);
		return UC_E_CRYPTO;
	}
	return UC_OK;
}

/* cert_row's DER is OPENSSL_malloc'ed; give it back the same way. */
static void
cert_row_clear(struct store_cert *c)
{
	OPENSSL_free(c->der);
	c->der = NULL;
	store_cert_clear(c);
}

int
record_cert(struct store *st, X509 *x, X509 *issuer, int64_t user_id,
    const char *kind, const char *method, int64_t *id)
{
	struct store_cert c;
	int rc;

	if ((rc = cert_row(x, issuer, &c)) != UC_OK)
		return rc;
	c.user_id = user_id;
	c.kind = (char *)(uintptr_t)kind;
	c.method = (char *)(uintptr_t)method;
	c.created_at = uc_now();
	rc = store_cert_insert(st, &c, id);
	c.kind = NULL;
	c.method = NULL;
	cert_row_clear(&c);
	return rc;
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
root_signer(struct authority *a, struct signer **out)
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
	if ((crt = hpath(a->home, P_ROOT_CRT)) == NULL ||
	    (key = hpath(a->home, P_ROOT_KEY)) == NULL) {
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
issuing_signer(struct authority *a, struct signer **out)
{
	char *crt = NULL, *key = NULL;
	int rc;

	*out = NULL;
	if (a->isig != NULL) {
		*out = a->isig;
		return UC_OK;
	}
	if (!a->conf.intermediate)
		return root_signer(a, out);	/* the root issues directly */
	if ((crt = hpath(a->home, P_ISS_CRT)) == NULL ||
	    (key = hpath(a->home, P_ISS_KEY)) == NULL) {
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

/* ---- open / free --------------------------------------------------------------- */

static int
load_certs(struct authority *a)
{
	char *p = NULL;
	int rc;

	if ((p = hpath(a->home, P_ISS_CRT)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = cert_load(p, &a->issuing);
	free(p);
	if (rc != UC_OK)
		return rc;
	if (home_has(a->home, P_ROOT_CRT)) {
		if ((p = hpath(a->home, P_ROOT_CRT)) == NULL)
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
	return UC_OK;
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
		pthread_cond_init(&a->gccv, NULL);
	}
	if ((p = hpath(home, P_CONF)) == NULL) {
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
	if ((p = hpath(home, P_DB)) == NULL) {
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
	free(a->root_ski);
	free(a->issuing_ski);
	conf_clear(&a->conf);
	free(a->home);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->gcmu);
	pthread_mutex_destroy(&a->rmu);
	store_close(a->rst);
	pthread_cond_destroy(&a->gccv);
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

int
authority_crl_state(struct authority *a, int root, struct crl_state *cs)
{
	const char *ski = root ? a->root_ski : a->issuing_ski;
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
reader_store(struct authority *a, struct store **out)
{
	char *p;
	int rc;

	if (a->rst == NULL) {
		if ((p = hpath(a->home, P_DB)) == NULL)
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

/* ---- CRLs ------------------------------------------------------------------------ */

struct crl_collect {
	struct crl_entry	*e;
	size_t			 n;
	size_t			 cap;
};

static int
collect_cb(const struct store_cert *c, void *arg)
{
	struct crl_collect *cc = arg;
	struct crl_entry *ne;
	char *serial;

	if (cc->n == cc->cap) {
		cc->cap = cc->cap ? cc->cap * 2 : 64;
		if ((ne = reallocarray(cc->e, cc->cap, sizeof(*ne))) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		cc->e = ne;
	}
	if ((serial = strdup(c->serial)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	cc->e[cc->n].serial = serial;
	cc->e[cc->n].revoked_at = c->revoked_at;
	cc->e[cc->n].reason = c->reason;
	cc->n++;
	return 0;
}

static void
collect_free(struct crl_collect *cc)
{
	size_t i;

	for (i = 0; i < cc->n; i++)
		free((char *)(uintptr_t)cc->e[i].serial);
	free(cc->e);
	memset(cc, 0, sizeof(*cc));
}

/*
 * Sign and record the next CRL of the CA behind sig.  The number is taken
 * inside the write transaction, so it only ever goes up.
 */
int
sign_crl(struct authority *a, struct signer *sig, int days)
{
	int64_t now = uc_now();

	/*
	 * thisUpdate a few minutes back: a gateway whose clock is behind
	 * ours would otherwise see "CRL is not yet valid" and lock every
	 * user out.
	 */
	return sign_crl_at(a, sig, now - 300, now + (int64_t)days * 86400,
	    NULL, NULL);
}

/*
 * The CRL valid from this_update to next_update (this_update may be in
 * the future: a pre-signed root CRL).  *pem, if asked, gets its PEM.
 * Inside a caller's transaction it joins it (the caller commits);
 * otherwise it is its own transaction.
 */
int
sign_crl_at(struct authority *a, struct signer *sig, int64_t this_update,
    int64_t next_update, unsigned char **pem, size_t *pemlen)
{
	struct store_cert_filter f;
	struct crl_collect cc;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	size_t derlen;
	char *ski = NULL;
	int64_t number, now = uc_now();
	int rc, own = !store_in_transaction(a->st);

	memset(&cc, 0, sizeof(cc));
	memset(&f, 0, sizeof(f));
	if ((ski = cert_ski_hex(signer_cert(sig))) == NULL)
		return uc_seterr(UC_E_INVALID, "CA without a key identifier");
	if (own && (rc = store_begin(a->st)) != UC_OK)
		goto out;
	f.issuer_ski = ski;
	f.status = "revoked";
	f.now = now;
	if ((rc = store_cert_list(a->st, &f, collect_cb, &cc)) != UC_OK ||
	    (rc = store_crl_next_number(a->st, ski, &number)) != UC_OK ||
	    (rc = crl_build(signer_cert(sig), cc.e, cc.n, number, this_update,
	    next_update, &crl)) != UC_OK ||
	    (rc = signer_sign_crl(sig, crl)) != UC_OK ||
	    (rc = crl_der(crl, &der, &derlen)) != UC_OK ||
	    (rc = store_crl_insert(a->st, ski, number, this_update,
	    next_update, der, derlen)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "crl", ski, NULL)) != UC_OK)
		goto fail;
	if ((!own || (rc = store_commit(a->st)) == UC_OK) && pem != NULL)
		rc = crl_to_pem(crl, pem, pemlen);
	goto out;
fail:
	if (own)
		store_rollback(a->st);
out:
	OPENSSL_free(der);
	X509_CRL_free(crl);
	collect_free(&cc);
	free(ski);
	return rc;
}

/*
 * A root CRL signed outside a runway has the highest number, so it would
 * hide the pre-signed ones after it expires: they would never be served
 * again and gateways would end up with an expired root CRL.  Void the
 * runway instead (health then says how soon it runs out).
 */
static int
sign_root_crl(struct authority *a, struct signer *sig, int days)
{
	long dropped;
	int rc;

	/* One transaction: the runway is voided only if the CRL is in. */
	if ((rc = store_begin(a->st)) != UC_OK)
		return rc;
	if ((a->root_ski != NULL && (rc = store_crl_drop_future(a->st,
	    a->root_ski, uc_now(), &dropped)) != UC_OK) ||
	    (rc = sign_crl(a, sig, days)) != UC_OK) {
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
	if (root && (rc = root_signer(a, &sig)) != UC_OK)
		return rc;
	if ((rc = issuing_signer(a, &sig)) != UC_OK)
		return rc;
	if ((rc = sign_crl(a, sig, days > 0 ? days : a->conf.crl_days)) !=
	    UC_OK)
		return rc;
	if (root && a->conf.intermediate) {
		if ((rc = root_signer(a, &sig)) != UC_OK ||
		    (rc = sign_root_crl(a, sig, days > 0 ? days :
		    a->conf.root_crl_days)) != UC_OK)
			return rc;
	}
	return publish_locked(a);
}

int
authority_crl_runway(struct authority *a, int n, int days, unsigned char **pem,
    size_t *pemlen)
{
	struct signer *sig;
	unsigned char *all = NULL, *one, *nb;
	size_t len = 0, olen;
	int64_t now = uc_now(), period, overlap;
	int k, rc;

	*pem = NULL;
	*pemlen = 0;
	if (n < 1 || n > 100)
		return uc_seterr(UC_E_INVALID, "--runway takes 1 to 100 periods");
	period = (int64_t)(days > 0 ? days : a->conf.root_crl_days) * 86400;
	/* Consecutive CRLs overlap so a gateway that syncs late still has a
	 * valid one. */
	overlap = period / 2 < 14 * 86400 ? period / 2 : 14 * 86400;
	pthread_mutex_lock(&a->mu);
	if ((rc = root_signer(a, &sig)) != UC_OK)
		goto out;
	/* All N or none. */
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	for (k = 0; k < n; k++) {
		if ((rc = sign_crl_at(a, sig, now + k * period - 300,
		    now + (k + 1) * period + overlap, &one, &olen)) != UC_OK) {
			store_rollback(a->st);
			goto out;
		}
		if ((nb = realloc(all, len + olen)) == NULL) {
			free(one);
			store_rollback(a->st);
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		all = nb;
		memcpy(all + len, one, olen);
		len += olen;
		free(one);
	}
	if ((rc = store_commit(a->st)) != UC_OK ||
	    (rc = publish_locked(a)) != UC_OK)
		goto out;
	*pem = all;
	*pemlen = len;
	all = NULL;	/* now owned by the caller */
out:
	pthread_mutex_unlock(&a->mu);
	free(all);
	return rc;
}

int
authority_crl(struct authority *a, int root, int days)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = crl_locked(a, root, days);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* ---- publication ------------------------------------------------------------------- */

static json_t *
cert_json(X509 *x, const char *url)
{
	char *subj = NULL, *sha1 = NULL, *sha256 = NULL;
	char when[32];
	int64_t na;
	json_t *o = NULL;

	if (uc_asn1_time(X509_get0_notAfter(x), &na) != UC_OK)
		return NULL;
	uc_time_iso(na, when, sizeof(when));
	if ((subj = cert_subject(x)) != NULL &&
	    (sha1 = cert_fingerprint(x, EVP_sha1())) != NULL &&
	    (sha256 = cert_fingerprint(x, EVP_sha256())) != NULL)
		o = json_pack("{s:s, s:s, s:s, s:s, s:s*}", "subject", subj,
		    "sha1", sha1, "sha256", sha256, "not_after", when,
		    "url", url);
	free(subj);
	free(sha1);
	free(sha256);
	return o;
}

static json_t *
crl_json(struct authority *a, const char *ski, const char *url)
{
	unsigned char *der = NULL;
	size_t len;
	int64_t number, next;
	char when[32];
	json_t *o;

	if (ski == NULL ||
	    store_crl_current(a->st, ski, uc_now(), &der, &len, &number,
	    &next) != UC_OK)
		return json_null();
	free(der);
	uc_time_iso(next, when, sizeof(when));
	o = json_pack("{s:I, s:s, s:s}", "number", (json_int_t)number,
	    "next_update", when, "url", url);
	return o != NULL ? o : json_null();
}

static int
publish_crl(struct authority *a, const char *ski, const char *der_name,
    const char *pem_name)
{
	X509_CRL *crl = NULL;
	unsigned char *der = NULL, *pem = NULL;
	size_t len, pemlen;
	int rc;

	if ((rc = store_crl_current(a->st, ski, uc_now(), &der, &len, NULL,
	    NULL)) != UC_OK)
		return rc;
	if ((rc = write_rel(a->home, der_name, der, len, 0644, 0)) != UC_OK)
		goto out;
	if (pem_name != NULL) {
		if ((rc = crl_parse(der, len, &crl)) != UC_OK ||
		    (rc = crl_to_pem(crl, &pem, &pemlen)) != UC_OK ||
		    (rc = write_rel(a->home, pem_name, pem, pemlen, 0644, 0)) !=
		    UC_OK)
			goto out;
	}
out:
	free(der);
	free(pem);
	X509_CRL_free(crl);
	return rc;
}

static int
publish_files(struct authority *a)
{
	unsigned char *pem = NULL, *der = NULL, *rpem = NULL;
	size_t pemlen, derlen, rpemlen, blen;
	unsigned char *bundle = NULL, *der2 = NULL;
	size_t der2len;
	char url[1200], *js = NULL;
	json_t *root = NULL, *o;
	int rc, same = !a->root_distinct;

	/* CA bundle: the issuing CA, then the root. */
	if ((rc = cert_to_pem(a->issuing, &pem, &pemlen)) != UC_OK)
		goto out;
	if (!same && (rc = cert_to_pem(a->root, &rpem, &rpemlen)) != UC_OK)
		goto out;
	blen = pemlen + (same ? 0 : rpemlen);
	if ((bundle = malloc(blen)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(bundle, pem, pemlen);
	if (!same)
		memcpy(bundle + pemlen, rpem, rpemlen);
	if ((rc = write_rel(a->home, "public/ca-bundle.pem", bundle, blen,
	    0644, 0)) != UC_OK ||
	    (rc = cert_der(a->issuing, &der, &derlen)) != UC_OK ||
	    (rc = write_rel(a->home, "public/ca.crt", der, derlen, 0644, 0)) !=
	    UC_OK)
		goto out;

	/* CRLs: the newest recorded ones. */
	if ((rc = publish_crl(a, a->issuing_ski, "public/crl.der",
	    "public/crl.pem")) != UC_OK)
		goto out;
	if (a->root_ski != NULL &&
	    (rc = store_crl_current(a->st, a->root_ski, uc_now(), &der2,
	    &der2len, NULL, NULL)) != UC_OK && rc != UC_E_NOTFOUND)
		goto out;
	if (a->root_ski != NULL && rc == UC_OK) {
		free(der2);
		der2 = NULL;
		if ((rc = publish_crl(a, a->root_ski, "public/root.crl",
		    NULL)) != UC_OK ||
		    (rc = publish_crl(a, a->root_ski, P_ROOT_CRL, NULL)) !=
		    UC_OK)
			goto out;
	}

	/* ca.json: what a gateway admin pins and where to fetch it. */
	if ((root = json_object()) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	json_object_set_new(root, "org", json_string(a->conf.org));
	json_object_set_new(root, "base_url", json_string(a->conf.base_url));
	json_object_set_new(root, "enroll_url", json_string(
	    a->conf.enroll_url != NULL ? a->conf.enroll_url :
	    a->conf.base_url));
	snprintf(url, sizeof(url), "%s/ca.crt", a->conf.base_url);
	if ((o = cert_json(a->issuing, url)) != NULL)
		json_object_set_new(root, "issuing", o);
	if (a->root != NULL) {
		snprintf(url, sizeof(url), "%s/ca.pem", a->conf.base_url);
		if ((o = cert_json(a->root, url)) != NULL)
			json_object_set_new(root, "root", o);
	}
	snprintf(url, sizeof(url), "%s/crl.der", a->conf.base_url);
	json_object_set_new(root, "crl", crl_json(a, a->issuing_ski, url));
	snprintf(url, sizeof(url), "%s/root.crl", a->conf.base_url);
	json_object_set_new(root, "root_crl", crl_json(a, a->root_ski, url));
	if ((js = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = write_rel(a->home, "public/ca.json", js, strlen(js), 0644,
	    0)) != UC_OK)
		goto out;
	rc = gateway_write(a);
out:
	/* the json and buffers below are freed on every path */
	free(js);
	json_decref(root);
	free(bundle);
	free(pem);
	free(rpem);
	OPENSSL_free(der);
	return rc;
}

/*
 * Two processes publishing at once (a CLI revoke beside the daemon's CRL
 * refresh) would each write what the database held when they read it; the
 * slower one could put an older CRL back.  The home's publish lock orders
 * them, and each writes what is current once it holds the lock.
 */
static int
publish_locked(struct authority *a)
{
	struct uc_lock *l = NULL;
	int rc;

	if ((rc = uc_lock_take(a->home, ".publish.lock", "userca publish", 1,
	    &l)) != UC_OK)
		return rc;
	rc = publish_files(a);
	uc_lock_release(l);
	return rc;
}

int
authority_publish(struct authority *a)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = publish_locked(a);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* ---- issuance ---------------------------------------------------------------------- */

/* ---- revocation -------------------------------------------------------------------- */

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

static int
revoke_locked(struct authority *a, const char *serial, const char *username,
    int reason, int *count)
{
	struct store_cert_filter f;
	struct store_cert c;
	struct store_user u;
	struct serials ss;
	struct signer *isig = NULL, *rsig = NULL;
	int64_t now = uc_now();
	size_t i;
	int rc, need_root = 0;

	*count = 0;
	memset(&ss, 0, sizeof(ss));
	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
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
		store_cert_clear(&c);
		if ((rc = serials_cb(&(struct store_cert){ .serial =
		    (char *)(uintptr_t)serial }, &ss)) != UC_OK)
			goto out;
	} else {
		if ((rc = store_user_get(a->st, username, &u)) != UC_OK)
			return rc;
		store_user_clear(&u);
		f.username = username;
		f.status = "valid";
		f.now = now;
		if ((rc = store_cert_list(a->st, &f, serials_cb, &ss)) != UC_OK)
			goto out;
		/* Expired but unrevoked certificates go on the CRL too. */
		f.status = "expired";
		if ((rc = store_cert_list(a->st, &f, serials_cb, &ss)) != UC_OK)
			goto out;
		if (ss.n == 0) {
			rc = uc_seterr(UC_E_STATE, "user '%s' has no "
			    "unrevoked certificate", username);
			goto out;
		}
	}
	/* The CRL signer first: without it nothing is revoked. */
	if ((rc = issuing_signer(a, &isig)) != UC_OK)
		goto out;
	if (need_root && (rc = root_signer(a, &rsig)) != UC_OK)
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
	*count = (int)ss.n;
	/* Publish a fresh CRL at once. */
	if ((rc = need_root ? sign_root_crl(a, rsig, a->conf.root_crl_days) :
	    sign_crl(a, isig, a->conf.crl_days)) != UC_OK)
		goto out;
	rc = publish_locked(a);
out:
	for (i = 0; i < ss.n; i++)
		free(ss.s[i]);
	free(ss.s);
	return rc;
}

int
authority_revoke(struct authority *a, const char *serial, const char *username,
    int reason, int *count)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = revoke_locked(a, serial, username, reason, count);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* ---- CA lifecycle: init, air gap ------------------------------------------------ */

static int
fill_conf(const struct init_opts *o, int intermediate, struct ca_conf *c)
{
	char cn[200];
	const char *p;

	conf_defaults(c);
	if (o->org == NULL || o->base_url == NULL)
		return uc_seterr(UC_E_INVALID, "--org and --base-url are "
		    "required");
	/* These go into an INI file: no line breaks or comment markers. */
	for (p = o->org; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == ';' || *p == '#')
			return uc_seterr(UC_E_INVALID, "--org must not contain "
			    "control characters, ';' or '#'");
	if (strlen(o->base_url) > 1 &&
	    o->base_url[strlen(o->base_url) - 1] == '/')
		return uc_seterr(UC_E_INVALID, "--base-url '%s' must not end "
		    "with '/'", o->base_url);
	if (profile_find(o->profile != NULL ? o->profile : "compatible") ==
	    NULL)
		return uc_seterr(UC_E_INVALID, "unknown profile '%s' "
		    "(compatible or modern)", o->profile);
	c->org = strdup(o->org);
	c->base_url = strdup(o->base_url);
	/* Links are one-time credentials: https, unless a lab asks. */
	if (o->enroll_url != NULL) {
		if (!url_valid(o->enroll_url) ||
		    o->enroll_url[strlen(o->enroll_url) - 1] == '/')
			return uc_seterr(UC_E_INVALID, "--enroll-url '%.100s' "
			    "must be an http(s) URL, no trailing '/'",
			    o->enroll_url);
		if (strncmp(o->enroll_url, "https://", 8) != 0 &&
		    !o->allow_http_links)
			return uc_seterr(UC_E_POLICY, "--enroll-url '%.100s' "
			    "is not https (plain http links only with "
			    "--allow-http-links, for tests and labs)",
			    o->enroll_url);
		if ((c->enroll_url = strdup(o->enroll_url)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
	} else if (strncmp(o->base_url, "https://", 8) == 0 &&
	    (c->enroll_url = strdup(o->base_url)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	c->allow_http_links = o->allow_http_links != 0;
	c->smime = o->smime != 0;
	c->profile = strdup(o->profile != NULL ? o->profile : "compatible");
	snprintf(cn, sizeof(cn), "%.60s Root CA", o->org);
	c->root_cn = strdup(o->root_cn != NULL ? o->root_cn : cn);
	snprintf(cn, sizeof(cn), "%.60s Issuing CA", o->org);
	c->issuing_cn = strdup(o->issuing_cn != NULL ? o->issuing_cn : cn);
	c->intermediate = intermediate;
	if (c->org == NULL || c->base_url == NULL || c->profile == NULL ||
	    c->root_cn == NULL || c->issuing_cn == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	for (p = c->root_cn; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == ';' || *p == '#')
			return uc_seterr(UC_E_INVALID, "CA names must not "
			    "contain control characters, ';' or '#'");
	for (p = c->issuing_cn; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == ';' || *p == '#')
			return uc_seterr(UC_E_INVALID, "CA names must not "
			    "contain control characters, ';' or '#'");
	return UC_OK;
}

static int
new_store(const char *home, struct store **st)
{
	char *p;
	int rc;

	if ((p = hpath(home, P_DB)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = store_open(p, 1, st);
	free(p);
	return rc;
}

int
authority_init(const struct init_opts *o, authority_getpass_fn getpass,
    void *arg)
{
	struct ca_conf c;
	const struct profile *prof;
	struct signer *rsig = NULL, *isig = NULL;
	struct authority *a = NULL;
	struct cert_req cr;
	EVP_PKEY *key = NULL, *pub = NULL;
	X509 *x = NULL;
	char *pass = NULL, *p = NULL;
	int64_t now = uc_now();
	int rc;

	memset(&c, 0, sizeof(c));
	if ((rc = fill_conf(o, o->intermediate, &c)) != UC_OK)
		goto out;
	if (!url_valid(c.base_url)) {
		rc = uc_seterr(UC_E_INVALID, "--base-url '%.100s' must be an "
		    "http(s) URL without spaces or commas", c.base_url);
		goto out;
	}
	prof = profile_find(c.profile);
	if ((rc = refuse_existing(o->home)) != UC_OK)
		goto out;
	if (getpass == NULL) {
		rc = uc_seterr(UC_E_PASSPHRASE, "a root key passphrase is "
		    "needed");
		goto out;
	}
	if ((rc = getpass(arg, 1, &pass)) != UC_OK)
		goto out;
	if (strlen(pass) < 8) {
		rc = uc_seterr(UC_E_PASSPHRASE, "the root key passphrase must "
		    "be at least 8 characters");
		goto out;
	}

	/* Root: key, self-signed certificate. */
	if ((rc = key_generate(prof->root, &key)) != UC_OK)
		goto out;
	rc = signer_from_key(key, NULL, &rsig);
	key = NULL;	/* taken by signer_from_key, even on failure */
	if (rc != UC_OK)
		goto out;
	if ((pub = signer_pubkey(rsig)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "root public key");
		goto out;
	}
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_ROOT;
	cr.org = c.org;
	cr.cn = c.root_cn;
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)c.root_days * 86400;
	if ((rc = cert_build(&cr, pub, NULL, &x)) != UC_OK ||
	    (rc = signer_sign_cert(rsig, x)) != UC_OK)
		goto out;
	EVP_PKEY_free(pub);
	pub = NULL;
	if ((rc = signer_set_cert(rsig, x)) != UC_OK) {
		x = NULL;	/* freed by signer_set_cert */
		goto out;
	}
	x = NULL;	/* now owned by rsig */

	/* Issuing CA, signed by the root. */
	if (c.intermediate) {
		if ((rc = key_generate(prof->issuing, &key)) != UC_OK)
			goto out;
		rc = signer_from_key(key, NULL, &isig);
		key = NULL;	/* taken by signer_from_key, even on failure */
		if (rc != UC_OK)
			goto out;
		if ((pub = signer_pubkey(isig)) == NULL) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "issuing public key");
			goto out;
		}
		memset(&cr, 0, sizeof(cr));
		cr.kind = CK_ISSUING;
		cr.org = c.org;
		cr.cn = c.issuing_cn;
		cr.base_url = c.base_url;
		cr.smime = c.smime;
		cr.not_before = now - 300;
		cr.not_after = now + (int64_t)c.issuing_days * 86400;
		if ((rc = sign_new_cert(rsig, &cr, pub, &x)) != UC_OK)
			goto out;
		if ((rc = signer_set_cert(isig, x)) != UC_OK) {
			x = NULL;
			goto out;
		}
		x = NULL;	/* now owned by isig */
	}

	/* Everything is made; now write it, keys first and exclusively. */
	if ((rc = home_dirs(o->home)) != UC_OK)
		goto out;
	if ((p = hpath(o->home, P_ROOT_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = signer_save_key(rsig, p, pass)) != UC_OK)
		goto out;
	free(p);
	p = NULL;
	if ((rc = write_cert_rel(o->home, P_ROOT_CRT, signer_cert(rsig), 1)) !=
	    UC_OK)
		goto out;
	if (isig != NULL) {
		if ((p = hpath(o->home, P_ISS_KEY)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		/* The daemon signs with it unattended: 0600, not encrypted. */
		if ((rc = signer_save_key(isig, p, NULL)) != UC_OK)
			goto out;
		free(p);
		p = NULL;
	}
	if ((rc = write_cert_rel(o->home, P_ISS_CRT, signer_cert(isig != NULL ?
	    isig : rsig), 1)) != UC_OK)
		goto out;
	if ((p = hpath(o->home, P_CONF)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = conf_save(p, &c)) != UC_OK)
		goto out;
	free(p);
	p = NULL;
	{
		struct store *st = NULL;

		if ((rc = new_store(o->home, &st)) != UC_OK)
			goto out;
		if (isig != NULL)
			rc = record_cert(st, signer_cert(isig),
			    signer_cert(rsig), 0, "intermediate", "init", NULL);
		if (rc == UC_OK)
			rc = store_audit(st, now, "cli", "init", c.org,
			    c.profile);
		store_close(st);
		if (rc != UC_OK)
			goto out;
	}

	/* First CRLs, signed while the root key is at hand, and publish. */
	if ((rc = authority_open(o->home, &a)) != UC_OK)
		goto out;
	a->rsig = rsig;
	rsig = NULL;	/* now owned by a */
	a->isig = isig;
	isig = NULL;
	if ((rc = sign_crl(a, a->rsig, c.intermediate ? c.root_crl_days :
	    c.crl_days)) != UC_OK)
		goto out;
	if (c.intermediate && (rc = sign_crl(a, a->isig, c.crl_days)) != UC_OK)
		goto out;
	rc = authority_publish(a);
out:
	authority_free(a);
	signer_free(rsig);
	signer_free(isig);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	X509_free(x);
	secret_free(pass);
	free(p);
	conf_clear(&c);
	return rc;
}

/* The first CN of a name as UTF-8 (caller frees); NULL if none. */
static char *
name_cn(const X509_NAME *n)
{
	const X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	char *s;
	int i, len;

	if ((i = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) < 0 ||
	    (e = X509_NAME_get_entry(n, i)) == NULL ||
	    (len = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(e))) < 0)
		return NULL;
	/* Embedded NULs: refuse rather than truncate. */
	if ((int)strlen((char *)utf8) != len) {
		OPENSSL_free(utf8);
		return NULL;
	}
	s = strdup((char *)utf8);
	OPENSSL_free(utf8);
	return s;
}

int
authority_sign_intermediate(struct authority *a, const unsigned char *csr,
    size_t len, const char *cn, unsigned char **pem, size_t *pemlen)
{
	struct signer *rsig;
	struct cert_req cr;
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	char *reqcn = NULL;
	int64_t now = uc_now();
	int rc;

	*pem = NULL;
	if ((rc = csr_check(csr, len, &pub)) != UC_OK)
		return rc;
	if (cn == NULL) {
		if ((rc = csr_parse(csr, len, &req)) != UC_OK)
			goto out;
		if ((reqcn = name_cn(X509_REQ_get_subject_name(req))) == NULL) {
			rc = uc_seterr(UC_E_INVALID, "the request has no "
			    "usable CN; give --cn");
			goto out;
		}
		cn = reqcn;
	}
	if ((rc = root_signer(a, &rsig)) != UC_OK)
		goto out;
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_ISSUING;
	cr.org = a->conf.org;
	cr.cn = cn;
	cr.base_url = a->conf.base_url;
	cr.smime = a->conf.smime;	/* the root's home decides */
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)a->conf.issuing_days * 86400;
	if ((rc = sign_new_cert(rsig, &cr, pub, &x)) != UC_OK)
		goto out;
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	if ((rc = record_cert(a->st, x, signer_cert(rsig), 0, "intermediate",
	    "sign-intermediate", NULL)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "sign-intermediate", cn,
	    NULL)) != UC_OK ||
	    (rc = store_commit(a->st)) != UC_OK) {
		store_rollback(a->st);
		goto out;
	}
	rc = cert_to_pem(x, pem, pemlen);
out:
	free(reqcn);
	X509_REQ_free(req);
	X509_free(x);
	EVP_PKEY_free(pub);
	return rc;
}

int
authority_intermediate_request(const struct init_opts *o,
    unsigned char **csr_pem, size_t *len)
{
	struct ca_conf c;
	const struct profile *prof;
	struct signer *isig = NULL;
	EVP_PKEY *key = NULL;
	char *p = NULL;
	int rc;

	*csr_pem = NULL;
	memset(&c, 0, sizeof(c));
	if ((rc = fill_conf(o, 1, &c)) != UC_OK)
		goto out;
	if (!url_valid(c.base_url)) {
		rc = uc_seterr(UC_E_INVALID, "--base-url '%.100s' must be an "
		    "http(s) URL without spaces or commas", c.base_url);
		goto out;
	}
	prof = profile_find(c.profile);
	if ((rc = refuse_existing(o->home)) != UC_OK)
		goto out;
	if (home_has(o->home, P_ISS_CSR)) {
		rc = uc_seterr(UC_E_EXISTS, "%s already has a pending request "
		    "(%s)", o->home, P_ISS_CSR);
		goto out;
	}
	if ((rc = key_generate(prof->issuing, &key)) != UC_OK)
		goto out;
	rc = signer_from_key(key, NULL, &isig);
	key = NULL;	/* taken by signer_from_key, even on failure */
	if (rc != UC_OK)
		goto out;
	if ((rc = csr_make(isig, c.org, c.issuing_cn, csr_pem, len)) != UC_OK)
		goto out;
	if ((rc = home_dirs(o->home)) != UC_OK)
		goto out;
	if ((p = hpath(o->home, P_ISS_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = signer_save_key(isig, p, NULL)) != UC_OK ||
	    (rc = write_rel(o->home, P_ISS_CSR, *csr_pem, *len, 0644, 1)) !=
	    UC_OK)
		goto out;
	free(p);
	if ((p = hpath(o->home, P_CONF)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = conf_save(p, &c);
out:
	if (rc != UC_OK) {
		free(*csr_pem);
		*csr_pem = NULL;
	}
	free(p);
	signer_free(isig);
	EVP_PKEY_free(key);
	conf_clear(&c);
	return rc;
}

int
authority_intermediate_install(const char *home, const unsigned char *ca,
    size_t calen, const unsigned char *root, size_t rootlen)
{
	struct authority *a = NULL;
	struct store *st = NULL;
	struct signer *isig = NULL;
	X509 *cax = NULL, *rootx = NULL;
	EVP_PKEY *rpub;
	char *keyp = NULL;
	int rc;

	if (home_has(home, P_ISS_CRT) || home_has(home, P_DB))
		return uc_seterr(UC_E_EXISTS, "%s already has an issuing CA "
		    "installed", home);
	if (!home_has(home, P_ISS_KEY))
		return uc_seterr(UC_E_NOTFOUND, "%s has no issuing key: run "
		    "'userca intermediate request' there first", home);
	if ((rc = cert_parse(ca, calen, &cax)) != UC_OK ||
	    (rc = cert_parse(root, rootlen, &rootx)) != UC_OK)
		goto out;
	/* The root must be a self-signed CA, and the CA signed by it. */
	if ((rpub = X509_get0_pubkey(rootx)) == NULL ||
	    X509_verify(rootx, rpub) != 1 || X509_check_ca(rootx) == 0) {
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the root certificate is "
		    "not a self-signed CA");
		goto out;
	}
	if (X509_check_issued(rootx, cax) != X509_V_OK ||
	    X509_verify(cax, rpub) != 1) {
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the issuing certificate "
		    "was not signed by this root");
		goto out;
	}
	if (X509_check_ca(cax) == 0) {
		rc = uc_seterr(UC_E_INVALID, "the issuing certificate is not "
		    "a CA certificate");
		goto out;
	}
	if ((keyp = hpath(home, P_ISS_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	{
		EVP_PKEY *k = NULL;

		if ((rc = key_read(keyp, NULL, &k)) != UC_OK)
			goto out;
		if ((rc = signer_from_key(k, NULL, &isig)) != UC_OK)
			goto out;
	}
	{
		X509 *dup;

		if ((dup = X509_dup(cax)) == NULL) {
			rc = uc_seterr_ssl(UC_E_INTERNAL, "X509_dup");
			goto out;
		}
		if ((rc = signer_set_cert(isig, dup)) != UC_OK) {
			rc = uc_seterr(UC_E_INVALID, "the certificate does not "
			    "match this home's issuing key (%s)", P_ISS_KEY);
			goto out;
		}
	}
	if ((rc = write_cert_rel(home, P_ROOT_CRT, rootx, 0)) != UC_OK ||
	    (rc = write_cert_rel(home, P_ISS_CRT, cax, 0)) != UC_OK ||
	    (rc = new_store(home, &st)) != UC_OK ||
	    (rc = store_audit(st, uc_now(), "cli", "intermediate-install",
	    NULL, NULL)) != UC_OK)
		goto out;
	store_close(st);
	st = NULL;
	if ((rc = authority_open(home, &a)) != UC_OK ||
	    (rc = authority_crl(a, 0, 0)) != UC_OK)
		goto out;
out:
	free(keyp);
	authority_free(a);
	store_close(st);
	signer_free(isig);
	X509_free(cax);
	X509_free(rootx);
	return rc;
}

/* Check and record one root CRL (not yet published). */
static int
import_one(struct authority *a, X509_CRL *crl)
{
	unsigned char *der = NULL;
	size_t derlen;
	const ASN1_TIME *nu;
	ASN1_INTEGER *num = NULL;
	int64_t number, this_update, next_update, latest = 0, ln;
	unsigned char *old = NULL;
	size_t oldlen;
	int rc, crit;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(a->root)) != 0 ||
	    X509_CRL_verify(crl, X509_get0_pubkey(a->root)) != 1) {
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the CRL is not signed by "
		    "this home's root");
		goto out;
	}
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL)) ==
	    NULL || !ASN1_INTEGER_get_int64(&number, num)) {
		rc = uc_seterr(UC_E_INVALID, "the CRL has no CRL number");
		goto out;
	}
	if ((nu = X509_CRL_get0_nextUpdate(crl)) == NULL ||
	    (rc = uc_asn1_time(nu, &next_update)) != UC_OK ||
	    (rc = uc_asn1_time(X509_CRL_get0_lastUpdate(crl), &this_update)) !=
	    UC_OK) {
		rc = uc_seterr(UC_E_INVALID, "the CRL has no valid "
		    "thisUpdate/nextUpdate");
		goto out;
	}
	if (next_update <= uc_now()) {
		rc = uc_seterr(UC_E_STATE, "the CRL expired (nextUpdate is in "
		    "the past)");
		goto out;
	}
	if ((rc = store_crl_latest(a->st, a->root_ski, &old, &oldlen, &ln,
	    NULL)) == UC_OK)
		latest = ln;
	else if (rc != UC_E_NOTFOUND)
		goto out;
	free(old);
	if (number <= latest) {
		rc = uc_seterr(UC_E_STATE, "CRL number %lld is not newer than "
		    "the installed %lld", (long long)number, (long long)latest);
		goto out;
	}
	if ((rc = crl_der(crl, &der, &derlen)) != UC_OK ||
	    (rc = store_crl_insert(a->st, a->root_ski, number, this_update,
	    next_update, der, derlen)) != UC_OK)
		goto out;
out:
	ASN1_INTEGER_free(num);
	OPENSSL_free(der);
	return rc;
}

static int
crl_number_cmp(const X509_CRL *const *x, const X509_CRL *const *y)
{
	ASN1_INTEGER *a, *b;
	int64_t na = 0, nb = 0;

	a = X509_CRL_get_ext_d2i(*x, NID_crl_number, NULL, NULL);
	b = X509_CRL_get_ext_d2i(*y, NID_crl_number, NULL, NULL);
	if (a != NULL)
		(void)ASN1_INTEGER_get_int64(&na, a);
	if (b != NULL)
		(void)ASN1_INTEGER_get_int64(&nb, b);
	ASN1_INTEGER_free(a);
	ASN1_INTEGER_free(b);
	return na < nb ? -1 : na > nb;
}

/*
 * One CRL (PEM or DER) or several PEM CRLs (a runway): each checked
 * against the root, recorded in order of number, then published.
 */
int
authority_import_root_crl(struct authority *a, const unsigned char *buf,
    size_t len)
{
	STACK_OF(X509_CRL) *sk = NULL;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	int i, rc;

	if (a->root == NULL)
		return uc_seterr(UC_E_STATE, "this home has no root "
		    "certificate");
	if ((sk = sk_X509_CRL_new(crl_number_cmp)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (len > 0 && buf[0] == 0x30) {
		if ((rc = crl_parse(buf, len, &crl)) != UC_OK)
			goto out;
		if (!sk_X509_CRL_push(sk, crl)) {
			X509_CRL_free(crl);
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
	} else {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) !=
		    NULL) {
			if (!sk_X509_CRL_push(sk, crl)) {
				X509_CRL_free(crl);
				rc = uc_seterr(UC_E_INTERNAL, "out of memory");
				goto out;
			}
		}
		/* The loop ends at the end of input, or at a damaged block. */
		if (ERR_GET_REASON(ERR_peek_last_error()) !=
		    PEM_R_NO_START_LINE) {
			rc = uc_seterr_ssl(UC_E_INVALID, "CRL %d in the file is "
			    "damaged; nothing imported",
			    sk_X509_CRL_num(sk) + 1);
			goto out;
		}
		ERR_clear_error();
		if (sk_X509_CRL_num(sk) == 0) {
			rc = uc_seterr(UC_E_INVALID, "not a PEM or DER CRL");
			goto out;
		}
	}
	sk_X509_CRL_sort(sk);
	/* All or nothing: one transaction for the whole runway. */
	pthread_mutex_lock(&a->mu);
	if ((rc = store_begin(a->st)) != UC_OK) {
		pthread_mutex_unlock(&a->mu);
		goto out;
	}
	for (i = 0; i < sk_X509_CRL_num(sk) && rc == UC_OK; i++)
		if ((rc = import_one(a, sk_X509_CRL_value(sk, i))) != UC_OK &&
		    sk_X509_CRL_num(sk) > 1) {
			char what[48];

			snprintf(what, sizeof(what), "CRL %d of %d", i + 1,
			    sk_X509_CRL_num(sk));
			rc = uc_errprefix(rc, what);
		}
	if (rc == UC_OK)
		rc = store_commit(a->st);
	else
		store_rollback(a->st);
	if (rc == UC_OK)
		rc = publish_locked(a);
	pthread_mutex_unlock(&a->mu);
out:
	BIO_free(bio);
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	return rc;
}
