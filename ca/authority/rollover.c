/*
 * rollover.c: issuing CA rollover and root renewal.
 *
 * A rollover puts a new issuing key and certificate under the same root.
 * The current issuing CA moves to issuing/previous/<gen>.crt and .key
 * (hard links, then renames, so each step is atomic and a re-run finishes
 * an interrupted switch); it signs no certificate any more but keeps
 * signing its CRL, and public/ keeps publishing it and its CRL, until its
 * own certificate expires (no certificate it issued outlives it).  Online
 * (root key in the home) it is one command; over the air gap the new key
 * waits in issuing/next.key, its request goes to the offline root, and
 * 'intermediate install' switches to the certificate that comes back.
 *
 * Root renewal re-signs the root with its own key: same subject, same
 * key and key identifier, new serial and validity.  Chains of every
 * issuing CA verify with the old or the new root certificate as anchor.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "authority_int.h"

void
rollover_result_clear(struct rollover_result *r)
{
	if (r == NULL)
		return;
	free(r->subject);
	free(r->sha256);
	free(r->key_sha256);
	memset(r, 0, sizeof(*r));
}

static int
prev_cmp(const void *x, const void *y)
{
	const struct prev_ca *p = x, *q = y;

	return q->gen - p->gen;		/* newest first */
}

/* "<gen>.crt" with gen 1..9999: the generation, else 0. */
static int
prev_name_gen(const char *name)
{
	char *end;
	long g;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	g = strtol(name, &end, 10);
	if (g < 1 || g > 9999 || strcmp(end, ".crt") != 0)
		return 0;
	return (int)g;
}

static char *
prev_path(const char *home, int gen, const char *ext)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%s/%d.%s", P_ISS_PREV, gen, ext);
	return home_path(home, rel);
}

int
rollover_load(struct authority *a)
{
	struct prev_ca *np;
	struct dirent *de;
	DIR *d = NULL;
	char *dir = NULL, *p = NULL;
	int gen, rc = UC_OK;

	if ((dir = home_path(a->home, P_ISS_PREV)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((d = opendir(dir)) == NULL) {
		rc = errno == ENOENT ? UC_OK : uc_seterr(UC_E_IO, "%s: %s",
		    dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if ((gen = prev_name_gen(de->d_name)) == 0)
			continue;
		if ((np = reallocarray(a->prev, a->nprev + 1,
		    sizeof(*np))) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		a->prev = np;
		memset(&a->prev[a->nprev], 0, sizeof(*np));
		a->prev[a->nprev].gen = gen;
		if ((p = prev_path(a->home, gen, "crt")) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		rc = cert_load(p, &a->prev[a->nprev].cert);
		a->nprev++;	/* freed by rollover_free() from here on */
		free(p);
		p = NULL;
		if (rc != UC_OK)
			goto out;
		if ((a->prev[a->nprev - 1].ski =
		    cert_ski_hex(a->prev[a->nprev - 1].cert)) == NULL) {
			rc = uc_seterr(UC_E_INVALID, "%s/%d.crt has no subject "
			    "key identifier", P_ISS_PREV, gen);
			goto out;
		}
	}
	if (a->nprev > 1)
		qsort(a->prev, a->nprev, sizeof(*a->prev), prev_cmp);
out:
	if (d != NULL)
		closedir(d);
	free(dir);
	return rc;
}

void
rollover_free(struct authority *a)
{
	size_t i;

	for (i = 0; i < a->nprev; i++) {
		X509_free(a->prev[i].cert);
		free(a->prev[i].ski);
		signer_free(a->prev[i].sig);
	}
	free(a->prev);
	a->prev = NULL;
	a->nprev = 0;
}

int
rollover_in_service(const struct prev_ca *p, int64_t now)
{
	int64_t na;

	return uc_asn1_time(X509_get0_notAfter(p->cert), &na) == UC_OK &&
	    na > now;
}

int
rollover_current_gen(const struct authority *a)
{
	return a->nprev > 0 ? a->prev[0].gen + 1 : 1;
}

void
rollover_names(int gen, char *crl, size_t crllen, char *crt, size_t crtlen)
{
	if (gen <= 1) {
		snprintf(crl, crllen, "crl.der");
		snprintf(crt, crtlen, "ca.crt");
	} else {
		snprintf(crl, crllen, "crl-%d.der", gen);
		snprintf(crt, crtlen, "issuing-%d.crt", gen);
	}
}

X509 *
rollover_first(const struct authority *a, const char **ski)
{
	int64_t now = uc_now();
	size_t i;

	for (i = 0; i < a->nprev; i++)
		if (a->prev[i].gen == 1 && rollover_in_service(&a->prev[i],
		    now)) {
			*ski = a->prev[i].ski;
			return a->prev[i].cert;
		}
	*ski = a->issuing_ski;
	return a->issuing;
}

int
rollover_issuer(const struct authority *a, const char *ski)
{
	int64_t now = uc_now();
	size_t i;

	if (ski == NULL)
		return -1;
	if (a->issuing_ski != NULL && strcmp(ski, a->issuing_ski) == 0)
		return 0;
	for (i = 0; i < a->nprev; i++)
		if (strcmp(ski, a->prev[i].ski) == 0)
			return rollover_in_service(&a->prev[i], now) ?
			    (int)i + 1 : -1;
	return -1;
}

const char *
rollover_issuer_ski(const struct authority *a, long k)
{
	if (k < 0)
		return a->issuing_ski;
	return (size_t)k < a->nprev ? a->prev[k].ski : NULL;
}

static int
prev_signer(struct authority *a, struct prev_ca *p, struct signer **out)
{
	char *crt = NULL, *key = NULL;
	int rc;

	if (p->sig == NULL) {
		if ((crt = prev_path(a->home, p->gen, "crt")) == NULL ||
		    (key = prev_path(a->home, p->gen, "key")) == NULL) {
			free(crt);
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
		rc = signer_open(crt, key, NULL, &p->sig);
		free(crt);
		free(key);
		if (rc != UC_OK)
			return rc;
	}
	*out = p->sig;
	return UC_OK;
}

int
rollover_signer_for(struct authority *a, const char *ski, struct signer **out)
{
	size_t i;

	*out = NULL;
	if (ski != NULL && a->root_ski != NULL && a->conf.intermediate &&
	    strcmp(ski, a->root_ski) == 0)
		return auth_root_signer(a, out);
	for (i = 0; ski != NULL && i < a->nprev; i++)
		if (strcmp(ski, a->prev[i].ski) == 0)
			return prev_signer(a, &a->prev[i], out);
	return auth_issuing_signer(a, out);
}

int
rollover_sign_crls(struct authority *a, int days)
{
	struct signer *sig;
	int64_t now = uc_now();
	size_t i;
	int rc;

	/* Every signer first: a missing key changes nothing. */
	for (i = 0; i < a->nprev; i++)
		if (rollover_in_service(&a->prev[i], now) &&
		    (rc = prev_signer(a, &a->prev[i], &sig)) != UC_OK)
			return rc;
	for (i = 0; i < a->nprev; i++)
		if (rollover_in_service(&a->prev[i], now) &&
		    (rc = crls_sign(a, a->prev[i].sig, days)) != UC_OK)
			return rc;
	return UC_OK;
}

int
authority_issuing_changed(struct authority *a)
{
	X509 *x = NULL;
	char *p;
	int changed;

	if ((p = home_path(a->home, P_ISS_CRT)) == NULL)
		return 0;
	changed = cert_load(p, &x) == UC_OK && X509_cmp(x, a->issuing) != 0;
	free(p);
	X509_free(x);
	return changed;
}

static int
dir_sync(const char *home, const char *rel)
{
	char *p;
	int fd, rc = UC_OK;

	if ((p = home_path(home, rel)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		rc = uc_seterr(UC_E_IO, "%s: %s", p, strerror(errno));
	if (fd != -1)
		close(fd);
	free(p);
	return rc;
}

/*
 * home/from to home/to: a hard link (an existing to is kept) when lnk,
 * else a rename.
 */
static int
move_rel(const char *home, const char *from, const char *to, int lnk)
{
	char *f = NULL, *t = NULL;
	int rc = UC_OK;

	if ((f = home_path(home, from)) == NULL ||
	    (t = home_path(home, to)) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else if (lnk ? link(f, t) == -1 && errno != EEXIST :
	    rename(f, t) == -1)
		rc = uc_seterr(UC_E_IO, "%s -> %s: %s", f, t, strerror(errno));
	free(f);
	free(t);
	return rc;
}

/*
 * The generation the current issuing/ca.crt gets in issuing/previous/:
 * one above the newest there, or the newest itself when it already holds
 * ca.crt (a switch interrupted after its links).
 */
static int
switch_gen(const char *home, int *gen)
{
	struct authority tmp;
	X509 *cur = NULL, *last = NULL;
	char *p = NULL;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	tmp.home = (char *)(uintptr_t)home;
	if ((rc = rollover_load(&tmp)) != UC_OK)
		goto out;
	*gen = rollover_current_gen(&tmp);
	if (tmp.nprev == 0)
		goto out;
	if ((p = home_path(home, P_ISS_CRT)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = cert_load(p, &cur)) != UC_OK)
		goto out;
	last = tmp.prev[0].cert;
	if (X509_cmp(cur, last) == 0)
		*gen = tmp.prev[0].gen;
out:
	rollover_free(&tmp);
	X509_free(cur);
	free(p);
	return rc;
}

/*
 * issuing/next.crt (and next.key) become issuing/ca.crt (ca.key); the
 * current pair is kept as issuing/previous/<gen>.*.  Each step is atomic
 * and a re-run after a crash goes on where it stopped; in between, the
 * key and certificate of issuing/ may disagree, and then nothing signs
 * (the signer refuses a key that is not the certificate's).
 */
static int
rollover_switch(const char *home)
{
	char crt[64], key[64], *dir = NULL;
	int gen, rc;

	if ((dir = home_path(home, P_ISS_PREV)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = dir_make(dir, 0700);
	free(dir);
	if (rc != UC_OK || (rc = switch_gen(home, &gen)) != UC_OK)
		return rc;
	snprintf(crt, sizeof(crt), "%s/%d.crt", P_ISS_PREV, gen);
	snprintf(key, sizeof(key), "%s/%d.key", P_ISS_PREV, gen);
	/* The key first: a previous/<gen>.crt always has its key. */
	if (home_has(home, P_ISS_NEXT_KEY) &&
	    (rc = move_rel(home, P_ISS_KEY, key, 1)) != UC_OK)
		return rc;
	if ((rc = move_rel(home, P_ISS_CRT, crt, 1)) != UC_OK ||
	    (rc = dir_sync(home, P_ISS_PREV)) != UC_OK)
		return rc;
	if (home_has(home, P_ISS_NEXT_KEY) &&
	    (rc = move_rel(home, P_ISS_NEXT_KEY, P_ISS_KEY, 0)) != UC_OK)
		return rc;
	if ((rc = move_rel(home, P_ISS_NEXT_CRT, P_ISS_CRT, 0)) != UC_OK)
		return rc;
	if ((dir = home_path(home, P_ISS_NEXT_CSR)) != NULL)
		(void)unlink(dir);	/* the request served its purpose */
	free(dir);
	return dir_sync(home, "issuing");
}

/*
 * After a switch or a root renewal: the audit row, every CRL (new CA and
 * previous ones; the root's too with root), public/ and the gateway kit,
 * from the home as it is now.  from (may be NULL) lends its passphrase
 * source and hands over its open root signer (on a root-only home the
 * root signs the CRLs).
 */
static int
rollover_after(const char *home, struct authority *from, int root,
    const char *action, const char *subject)
{
	struct authority *b = NULL;
	int rc;

	if ((rc = authority_open(home, &b)) != UC_OK)
		return rc;
	if (from != NULL) {
		authority_set_actor(b, from->actor);
		authority_set_getpass(b, from->getpass, from->getpass_arg);
		b->rsig = from->rsig;
		from->rsig = NULL;	/* now owned by b */
	}
	pthread_mutex_lock(&b->mu);
	rc = store_audit(b->st, uc_now(), b->actor, action, subject, NULL);
	pthread_mutex_unlock(&b->mu);
	if (rc == UC_OK)
		rc = authority_crl(b, root, 0);
	authority_free(b);
	return rc;
}

static int
result_fill(struct rollover_result *res, X509 *x, int gen)
{
	res->gen = gen;
	if ((res->subject = cert_subject(x)) == NULL ||
	    (res->sha256 = cert_fingerprint(x, EVP_sha256())) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	return UC_OK;
}

/* The new CA's CN: cn, or issuing_cn with the generation appended. */
static const char *
next_cn(struct authority *a, const char *cn, int gen, char *buf, size_t len)
{
	if (cn != NULL)
		return cn;
	snprintf(buf, len, "%.150s %d", a->conf.issuing_cn, gen);
	return buf;
}

static int
rollover_refuse(struct authority *a)
{
	if (!a->conf.intermediate)
		return uc_seterr(UC_E_STATE, "%s issues from its root (made "
		    "without --intermediate): there is no issuing CA to roll "
		    "over", a->home);
	if (home_has(a->home, P_ISS_NEXT_KEY) && !home_has(a->home,
	    P_ISS_NEXT_CRT))
		return uc_seterr(UC_E_EXISTS, "%s has a rollover request "
		    "pending (%s): install its certificate with 'userca "
		    "intermediate install CA.crt --root ROOT.crt', or delete "
		    "%s and %s to start again", a->home, P_ISS_NEXT_KEY,
		    P_ISS_NEXT_KEY, P_ISS_NEXT_CSR);
	return UC_OK;
}

/* A new issuing key of the home's profile: its signer and public key
 * (caller frees both). */
static int
new_key(struct authority *a, struct signer **sig, EVP_PKEY **pub)
{
	EVP_PKEY *key = NULL;
	int rc;

	*sig = NULL;
	*pub = NULL;
	if ((rc = key_generate(a->prof->issuing, &key)) != UC_OK)
		return rc;
	rc = signer_from_key(key, NULL, sig);
	key = NULL;	/* taken by signer_from_key, even on failure */
	if (rc != UC_OK)
		return rc;
	if ((*pub = signer_pubkey(*sig)) == NULL) {
		signer_free(*sig);
		*sig = NULL;
		return uc_seterr_ssl(UC_E_CRYPTO, "issuing public key");
	}
	return UC_OK;
}

/* An interrupted switch (issuing/next.crt is there): finish it. */
static int
rollover_resume(struct authority *a, struct rollover_result *res)
{
	X509 *x = NULL;
	char *p;
	int rc;

	if ((p = home_path(a->home, P_ISS_NEXT_CRT)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = cert_load(p, &x);
	free(p);
	if (rc == UC_OK && (rc = rollover_switch(a->home)) == UC_OK &&
	    (rc = result_fill(res, x, rollover_current_gen(a) + 1)) == UC_OK)
		rc = rollover_after(a->home, a, 0, "rollover", res->subject);
	res->resumed = 1;
	X509_free(x);
	return rc;
}

int
authority_rollover(struct authority *a, const char *cn,
    struct rollover_result *res)
{
	struct signer *rsig, *nsig = NULL;
	struct uc_lock *l = NULL;
	struct cert_req cr;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	char cnbuf[200], *p = NULL;
	int64_t now = uc_now();
	int rc, gen = rollover_current_gen(a) + 1;

	memset(res, 0, sizeof(*res));
	if ((rc = rollover_refuse(a)) != UC_OK)
		return rc;
	if ((rc = uc_lock_take(a->home, ".rollover.lock", "userca "
	    "intermediate rollover", 0, &l)) != UC_OK)
		return rc;
	if (home_has(a->home, P_ISS_NEXT_CRT)) {
		rc = rollover_resume(a, res);
		goto out;
	}
	if ((rc = auth_root_signer(a, &rsig)) != UC_OK ||
	    (rc = new_key(a, &nsig, &pub)) != UC_OK)
		goto out;
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_ISSUING;
	cr.org = a->conf.org;
	cr.cn = next_cn(a, cn, gen, cnbuf, sizeof(cnbuf));
	cr.base_url = a->conf.base_url;
	cr.smime = a->conf.smime;
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)a->conf.issuing_days * 86400;
	if ((rc = auth_sign_cert(rsig, &cr, pub, &x)) != UC_OK)
		goto out;
	/* Recorded before it exists anywhere else: the root can revoke it. */
	pthread_mutex_lock(&a->mu);
	if ((rc = store_begin(a->st)) == UC_OK) {
		if ((rc = records_cert_insert(a->st, x, signer_cert(rsig), 0,
		    "intermediate", "rollover", NULL)) != UC_OK ||
		    (rc = store_commit(a->st)) != UC_OK)
			store_rollback(a->st);
	}
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		goto out;
	if ((p = home_path(a->home, P_ISS_NEXT_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	/* The daemon signs with it unattended: 0600, not encrypted. */
	if ((rc = signer_save_key(nsig, p, NULL)) != UC_OK)
		goto out;
	{
		unsigned char *pem = NULL;
		size_t len;

		if ((rc = cert_to_pem(x, &pem, &len)) != UC_OK)
			goto out;
		rc = home_write(a->home, P_ISS_NEXT_CRT, pem, len, 0644, 0);
		free(pem);
		if (rc != UC_OK)
			goto out;
	}
	if ((rc = rollover_switch(a->home)) != UC_OK ||
	    (rc = result_fill(res, x, gen)) != UC_OK)
		goto out;
	rc = rollover_after(a->home, a, 0, "rollover", res->subject);
out:
	uc_lock_release(l);
	signer_free(nsig);
	EVP_PKEY_free(pub);
	X509_free(x);
	free(p);
	return rc;
}

/* Hex SHA-256 of x's SubjectPublicKeyInfo (caller frees). */
static char *
spki_sha256(EVP_PKEY *k)
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = sizeof(md);
	char *s = NULL;
	int len;

	if ((len = i2d_PUBKEY(k, &der)) > 0 &&
	    EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL))
		s = hex_encode(md, mdlen);
	OPENSSL_free(der);
	return s;
}

int
authority_rollover_request(struct authority *a, const char *cn,
    unsigned char **csr_pem, size_t *len, struct rollover_result *res)
{
	struct signer *nsig = NULL;
	EVP_PKEY *pub = NULL;
	char cnbuf[200], *p = NULL;
	int rc, gen = rollover_current_gen(a) + 1;

	*csr_pem = NULL;
	memset(res, 0, sizeof(*res));
	if ((rc = rollover_refuse(a)) != UC_OK)
		return rc;
	if (home_has(a->home, P_ISS_NEXT_KEY))
		return uc_seterr(UC_E_EXISTS, "%s: an interrupted rollover "
		    "(%s and %s): run 'userca intermediate rollover' to finish "
		    "it", a->home, P_ISS_NEXT_KEY, P_ISS_NEXT_CRT);
	if ((rc = new_key(a, &nsig, &pub)) != UC_OK)
		goto out;
	if ((res->key_sha256 = spki_sha256(pub)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "issuing public key");
		goto out;
	}
	res->gen = gen;
	if ((rc = csr_make(nsig, a->conf.org, next_cn(a, cn, gen, cnbuf,
	    sizeof(cnbuf)), csr_pem, len)) != UC_OK)
		goto out;
	if ((p = home_path(a->home, P_ISS_NEXT_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = signer_save_key(nsig, p, NULL)) != UC_OK ||
	    (rc = home_write(a->home, P_ISS_NEXT_CSR, *csr_pem, *len, 0644,
	    0)) != UC_OK)
		goto out;
	pthread_mutex_lock(&a->mu);
	rc = store_audit(a->st, uc_now(), a->actor, "rollover-request",
	    res->key_sha256, NULL);
	pthread_mutex_unlock(&a->mu);
out:
	if (rc != UC_OK) {
		free(*csr_pem);
		*csr_pem = NULL;
	}
	signer_free(nsig);
	EVP_PKEY_free(pub);
	free(p);
	return rc;
}

/* Same subject and same public key: the same root, maybe re-signed. */
static int
same_root(X509 *x, X509 *y)
{
	return X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_subject_name(y)) == 0 &&
	    EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(y)) == 1;
}

static int
self_signed_ca(X509 *x, const char *what)
{
	EVP_PKEY *k;

	if ((k = X509_get0_pubkey(x)) == NULL || X509_verify(x, k) != 1 ||
	    X509_check_ca(x) == 0)
		return uc_seterr_ssl(UC_E_SIGNATURE, "%s is not a self-signed "
		    "CA", what);
	return UC_OK;
}

/*
 * The checks of a rollover's certificate: the root is this home's (same
 * subject and key; a renewed root certificate replaces root/root.crt),
 * it signed cax, a CA for the key in issuing/next.key.
 */
static int
install_check(const char *home, X509 *cax, X509 *rootx, int *new_root)
{
	struct signer *nsig = NULL;
	EVP_PKEY *k = NULL;
	X509 *cur = NULL, *dup = NULL;
	char *p = NULL;
	int rc;

	*new_root = 0;
	if ((rc = self_signed_ca(rootx, "the root certificate")) != UC_OK)
		return rc;
	if ((p = home_path(home, P_ROOT_CRT)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((rc = cert_load(p, &cur)) != UC_OK)
		goto out;
	if (!same_root(cur, rootx)) {
		rc = uc_seterr(UC_E_SIGNATURE, "the root certificate is not "
		    "this home's root (%s: another subject or key)",
		    P_ROOT_CRT);
		goto out;
	}
	*new_root = X509_cmp(cur, rootx) != 0;
	if (X509_check_issued(rootx, cax) != X509_V_OK ||
	    X509_verify(cax, X509_get0_pubkey(rootx)) != 1 ||
	    X509_check_ca(cax) == 0) {
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the issuing certificate "
		    "is not a CA certificate signed by this root");
		goto out;
	}
	free(p);
	if ((p = home_path(home, P_ISS_NEXT_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = key_read(p, NULL, &k)) != UC_OK)
		goto out;
	rc = signer_from_key(k, NULL, &nsig);
	k = NULL;	/* taken by signer_from_key, even on failure */
	if (rc != UC_OK)
		goto out;
	if ((dup = X509_dup(cax)) == NULL) {
		rc = uc_seterr_ssl(UC_E_INTERNAL, "X509_dup");
		goto out;
	}
	rc = signer_set_cert(nsig, dup);
	dup = NULL;	/* taken (or freed) by signer_set_cert */
	if (rc != UC_OK)
		rc = uc_seterr(UC_E_INVALID, "the certificate does not match "
		    "the rollover's key (%s)", P_ISS_NEXT_KEY);
out:
	signer_free(nsig);
	X509_free(cur);
	free(p);
	return rc;
}

int
rollover_install(const char *home, const unsigned char *ca, size_t calen,
    const unsigned char *root, size_t rootlen)
{
	struct uc_lock *l = NULL;
	X509 *cax = NULL, *rootx = NULL;
	unsigned char *pem = NULL;
	char *subj = NULL;
	size_t len;
	int rc, new_root;

	if ((rc = uc_lock_take(home, ".rollover.lock", "userca intermediate "
	    "install", 0, &l)) != UC_OK)
		return rc;
	if ((rc = cert_parse(ca, calen, &cax)) != UC_OK ||
	    (rc = cert_parse(root, rootlen, &rootx)) != UC_OK ||
	    (rc = install_check(home, cax, rootx, &new_root)) != UC_OK)
		goto out;
	if (new_root) {
		if ((rc = cert_to_pem(rootx, &pem, &len)) != UC_OK ||
		    (rc = home_write(home, P_ROOT_CRT, pem, len, 0644, 0)) !=
		    UC_OK)
			goto out;
		free(pem);
		pem = NULL;
	}
	if ((rc = cert_to_pem(cax, &pem, &len)) != UC_OK ||
	    (rc = home_write(home, P_ISS_NEXT_CRT, pem, len, 0644, 0)) !=
	    UC_OK || (rc = rollover_switch(home)) != UC_OK)
		goto out;
	if ((subj = cert_subject(cax)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = rollover_after(home, NULL, 0, "rollover-install", subj);
out:
	uc_lock_release(l);
	X509_free(cax);
	X509_free(rootx);
	free(pem);
	free(subj);
	return rc;
}

/* A copy of the root certificate, named by its serial, beside it. */
static int
root_keep_old(struct authority *a)
{
	unsigned char *pem = NULL;
	char rel[128], *serial;
	size_t len;
	int rc;

	if ((serial = serial_hex(X509_get0_serialNumber(a->root))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	snprintf(rel, sizeof(rel), "root/root-%.40s.crt", serial);
	free(serial);
	if ((rc = cert_to_pem(a->root, &pem, &len)) != UC_OK)
		return rc;
	rc = home_write(a->home, rel, pem, len, 0644, 0);
	free(pem);
	return rc;
}

/*
 * The renewed root x in place of a's: the old certificate kept, x as
 * root/root.crt (and issuing/ca.crt on a home whose root issues), *pem
 * its PEM (caller frees).
 */
static int
root_write(struct authority *a, X509 *x, unsigned char **pem, size_t *len)
{
	int rc;

	if ((rc = root_keep_old(a)) != UC_OK ||
	    (rc = cert_to_pem(x, pem, len)) != UC_OK ||
	    (!a->root_distinct && (rc = home_write(a->home, P_ISS_CRT, *pem,
	    *len, 0644, 0)) != UC_OK))
		return rc;
	return home_write(a->home, P_ROOT_CRT, *pem, *len, 0644, 0);
}

int
authority_root_renew(struct authority *a, int days, unsigned char **pem,
    size_t *pemlen)
{
	struct signer *rsig;
	struct cert_req cr;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	char *subj = NULL;
	int64_t now = uc_now();
	int rc;

	*pem = NULL;
	if (a->root == NULL)
		return uc_seterr(UC_E_STATE, "%s has no root certificate",
		    a->home);
	if ((rc = auth_root_signer(a, &rsig)) != UC_OK)
		return rc;
	if ((pub = signer_pubkey(rsig)) == NULL)
		return uc_seterr_ssl(UC_E_CRYPTO, "root public key");
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_ROOT;
	cr.org = a->conf.org;
	cr.cn = a->conf.root_cn;
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)(days > 0 ? days : a->conf.root_days) *
	    86400;
	if ((rc = cert_build(&cr, pub, NULL, &x)) != UC_OK)
		goto out;
	/* The old root's names exactly, whatever userca.conf says now. */
	if (!X509_set_subject_name(x, X509_get_subject_name(a->root)) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(a->root))) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "root names");
		goto out;
	}
	if ((rc = signer_sign_cert(rsig, x)) != UC_OK ||
	    (rc = root_write(a, x, pem, pemlen)) != UC_OK)
		goto out;
	{
		X509 *dup;

		/* The CRLs signed next name the renewed certificate's key. */
		if ((dup = X509_dup(x)) == NULL) {
			rc = uc_seterr_ssl(UC_E_INTERNAL, "X509_dup");
			goto out;
		}
		if ((rc = signer_set_cert(rsig, dup)) != UC_OK)
			goto out;
	}
	if ((subj = cert_fingerprint(x, EVP_sha256())) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = rollover_after(a->home, a, 1, "root-renew", subj);
out:
	if (rc != UC_OK) {
		free(*pem);
		*pem = NULL;
	}
	free(subj);
	EVP_PKEY_free(pub);
	X509_free(x);
	return rc;
}

int
authority_root_install(struct authority *a, const unsigned char *buf,
    size_t len)
{
	X509 *x = NULL;
	unsigned char *pem = NULL;
	size_t plen;
	char *fp = NULL;
	int64_t na_new, na_old;
	int rc;

	if (a->root == NULL)
		return uc_seterr(UC_E_STATE, "%s has no root certificate",
		    a->home);
	if ((rc = cert_parse(buf, len, &x)) != UC_OK ||
	    (rc = self_signed_ca(x, "the root certificate")) != UC_OK)
		goto out;
	if (!same_root(a->root, x)) {
		rc = uc_seterr(UC_E_SIGNATURE, "not this home's root renewed: "
		    "another subject or key than %s", P_ROOT_CRT);
		goto out;
	}
	if ((rc = uc_asn1_time(X509_get0_notAfter(x), &na_new)) != UC_OK ||
	    (rc = uc_asn1_time(X509_get0_notAfter(a->root), &na_old)) !=
	    UC_OK)
		goto out;
	if (na_new <= na_old) {
		rc = uc_seterr(UC_E_STATE, "the root certificate is not valid "
		    "longer than the installed one");
		goto out;
	}
	if ((rc = root_write(a, x, &pem, &plen)) != UC_OK)
		goto out;
	if ((fp = cert_fingerprint(x, EVP_sha256())) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = rollover_after(a->home, a, 0, "root-install", fp);
out:
	free(fp);
	free(pem);
	X509_free(x);
	return rc;
}
