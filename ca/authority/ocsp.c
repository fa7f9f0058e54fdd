/*
 * ocsp.c: the authority's OCSP responder: the delegated responder
 * certificate (issuing/ocsp.crt and its key issuing/ocsp.key, 0600, beside
 * the issuing key), renewed at half its life, and answers from the
 * records.  Statuses are read per request from the committed records; a
 * signed nonce-less answer is kept only under a key that includes the
 * statuses it states (authority_ocsp.h says why that keeps it fresh).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "authority_int.h"
#include "authority_ocsp.h"
#include "pki_ocsp.h"

#define P_OCSP_CRT	"issuing/ocsp.crt"
#define P_OCSP_KEY	"issuing/ocsp.key"
#define P_OCSP_TMP	"issuing/ocsp.key.new"
#define OCSP_LOCK	".ocsp.lock"
#define CACHE_SLOTS	4096

struct kept {
	unsigned char	 key[32];	/* SHA-256(responder, request,
					 * statuses); all zero: empty */
	unsigned char	*der;
	size_t		 len;
	int64_t		 this_update;
	int64_t		 next_update;
	int		 good, revoked, unknown;
	char		 etag[48];
};

struct aocsp {
	/* The responder: read-locked while signing, write-locked to swap. */
	pthread_rwlock_t	 rw;
	struct signer		*rsig;
	int64_t			 not_before;
	int64_t			 not_after;
	unsigned char		 rid[32];	/* SHA-256 of its certificate */
	pthread_mutex_t		 kmu;		/* the kept answers */
	struct kept		*kept;		/* CACHE_SLOTS */
};

static struct aocsp *
state(struct authority *a)
{
	struct aocsp *o;

	/* The first caller is single-threaded (open, daemon start). */
	if (a->ocsp != NULL)
		return a->ocsp;
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->kept = calloc(CACHE_SLOTS, sizeof(*o->kept))) == NULL) {
		free(o);
		return NULL;
	}
	pthread_rwlock_init(&o->rw, NULL);
	pthread_mutex_init(&o->kmu, NULL);
	a->ocsp = o;
	return o;
}

static void
kept_clear(struct aocsp *o)
{
	size_t i;

	for (i = 0; i < CACHE_SLOTS; i++) {
		free(o->kept[i].der);
		memset(&o->kept[i], 0, sizeof(o->kept[i]));
	}
}

void
aocsp_free(struct aocsp *o)
{
	if (o == NULL)
		return;
	kept_clear(o);
	free(o->kept);
	signer_free(o->rsig);
	pthread_rwlock_destroy(&o->rw);
	pthread_mutex_destroy(&o->kmu);
	free(o);
}

void
ocsp_answer_clear(struct ocsp_answer *ans)
{
	if (ans == NULL)
		return;
	free(ans->der);
	memset(ans, 0, sizeof(*ans));
}

int
authority_ocsp_enabled(struct authority *a)
{
	return a->conf.ocsp_url == NULL || strcmp(a->conf.ocsp_url, "off") !=
	    0;
}

const char *
aocsp_url(struct authority *a, char *buf, size_t len)
{
	if (!authority_ocsp_enabled(a))
		return NULL;
	if (a->conf.ocsp_url != NULL)
		return a->conf.ocsp_url;
	snprintf(buf, len, "%s/ocsp", a->conf.base_url);
	return buf;
}

int
authority_ocsp_responder(struct authority *a, int64_t *nb, int64_t *na)
{
	struct aocsp *o = a->ocsp;
	int have;

	*nb = *na = 0;
	if (o == NULL)
		return 0;
	pthread_rwlock_rdlock(&o->rw);
	if ((have = o->rsig != NULL)) {
		*nb = o->not_before;
		*na = o->not_after;
	}
	pthread_rwlock_unlock(&o->rw);
	return have;
}

/* Renewal is due when less than half the validity remains. */
static int
due(int64_t nb, int64_t na, int64_t now)
{
	return na <= nb || now >= nb + (na - nb) / 2;
}

/*
 * The responder on disk, if it is whole, issued by our issuing CA and not
 * yet due; else *out stays NULL.
 */
static void
load_disk(struct authority *a, struct signer **out, int64_t *nb, int64_t *na)
{
	struct signer *s = NULL;
	char *crt = NULL, *key = NULL;
	X509 *x;

	*out = NULL;
	if (!home_has(a->home, P_OCSP_CRT) || !home_has(a->home, P_OCSP_KEY))
		return;
	if ((crt = home_path(a->home, P_OCSP_CRT)) == NULL ||
	    (key = home_path(a->home, P_OCSP_KEY)) == NULL ||
	    signer_open(crt, key, NULL, &s) != UC_OK)
		goto out;
	x = signer_cert(s);
	if (X509_check_issued(a->issuing, x) != X509_V_OK ||
	    uc_asn1_time(X509_get0_notBefore(x), nb) != UC_OK ||
	    uc_asn1_time(X509_get0_notAfter(x), na) != UC_OK ||
	    due(*nb, *na, uc_now()))
		goto out;
	*out = s;
	s = NULL;	/* now owned by the caller */
out:
	uc_clearerr();
	ERR_clear_error();
	signer_free(s);
	free(crt);
	free(key);
}

/* A new responder key and certificate, written to the CA home. */
/* home_put_delegated()'s key writer: the responder signer's key, 0600. */
static int
responder_save_key(void *s, const char *path)
{
	return signer_save_key(s, path, NULL);
}

static int
renew(struct authority *a, struct signer **out, int64_t *nb, int64_t *na)
{
	struct signer *isig = NULL, *s = NULL;
	EVP_PKEY *key = NULL, *pub = NULL;
	X509 *x = NULL;
	char cn[128];
	int64_t now = uc_now();
	int rc;

	*out = NULL;
	/* The issuing signer is opened once, under the authority's lock. */
	pthread_mutex_lock(&a->mu);
	rc = auth_issuing_signer(a, &isig);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		return rc;
	/* ECDSA P-256 signs in tens of microseconds; RSA CAs keep RSA. */
	if ((rc = key_generate(EVP_PKEY_is_a(X509_get0_pubkey(a->issuing),
	    "RSA") ? KT_RSA2048 : KT_EC_P256, &key)) != UC_OK)
		return rc;
	if ((rc = signer_from_key(key, NULL, &s)) != UC_OK)
		return rc;	/* key freed by signer_from_key */
	if ((pub = signer_pubkey(s)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "the responder's public key");
		goto out;
	}
	/* notBefore a few minutes back for clients whose clock is behind. */
	*nb = now - 300;
	*na = now + (int64_t)a->conf.ocsp_days * 86400;
	snprintf(cn, sizeof(cn), "%.100s OCSP Responder",
	    a->conf.issuing_cn != NULL ? a->conf.issuing_cn : "userca");
	if ((rc = ocsp_responder_build(a->issuing, pub, a->conf.org, cn, *nb,
	    *na, &x)) != UC_OK)
		goto out;
	if ((rc = signer_sign_cert(isig, x)) != UC_OK ||
	    (rc = home_put_delegated(a, responder_save_key, s, P_OCSP_TMP,
	    P_OCSP_KEY, P_OCSP_CRT, x, "ocsp-responder", now)) != UC_OK)
		goto out;
	if ((rc = signer_set_cert(s, x)) != UC_OK) {
		x = NULL;	/* freed by signer_set_cert */
		goto out;
	}
	x = NULL;	/* now owned by the signer */
	*out = s;
	s = NULL;	/* now owned by the caller */
out:
	X509_free(x);
	EVP_PKEY_free(pub);
	signer_free(s);
	return rc;
}

int
authority_ocsp_refresh(struct authority *a)
{
	struct aocsp *o;
	struct signer *s = NULL, *old;
	struct uc_lock *l = NULL;
	unsigned char *der = NULL;
	char *dir = NULL;
	size_t len;
	int64_t nb = 0, na = 0;
	int rc;

	if (!authority_ocsp_enabled(a))
		return UC_OK;
	if ((o = state(a)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	pthread_rwlock_rdlock(&o->rw);
	rc = o->rsig != NULL && !due(o->not_before, o->not_after, uc_now());
	pthread_rwlock_unlock(&o->rw);
	if (rc)
		return UC_OK;
	/* One renewer per CA home: the CLI and the daemon take turns. */
	if ((dir = home_path(a->home, "issuing")) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = uc_lock_take(dir, OCSP_LOCK, "userca OCSP responder renewal", 1,
	    &l);
	free(dir);
	if (rc != UC_OK)
		return rc;
	load_disk(a, &s, &nb, &na);
	if (s == NULL && (rc = renew(a, &s, &nb, &na)) != UC_OK)
		goto out;
	if ((rc = cert_der(signer_cert(s), &der, &len)) != UC_OK)
		goto out;
	pthread_rwlock_wrlock(&o->rw);
	old = o->rsig;
	o->rsig = s;
	s = old;	/* freed below, after no signing holds it */
	o->not_before = nb;
	o->not_after = na;
	rc = EVP_Digest(der, len, o->rid, NULL, EVP_sha256(), NULL) ? UC_OK :
	    uc_seterr_ssl(UC_E_CRYPTO, "SHA-256");
	pthread_rwlock_unlock(&o->rw);
	pthread_mutex_lock(&o->kmu);
	kept_clear(o);
	pthread_mutex_unlock(&o->kmu);
out:
	free(der);
	signer_free(s);
	uc_lock_release(l);
	return rc;
}

/* ---- answers ------------------------------------------------------------- */

static int
error_answer(int status, struct ocsp_answer *ans)
{
	unsigned char *der = NULL;
	size_t len;
	int rc;

	if ((rc = ocsp_response_error(status, &der, &len)) != UC_OK)
		return rc;
	ans->der = der;	/* now owned by ans */
	ans->len = len;
	ans->status = status;
	return UC_OK;
}

/*
 * The status epoch of the whole process: one counter for every authority
 * (a rollover opens a new one while requests may still hold the old), so
 * it never goes back.  It moves when an authority's reading connection
 * sees the records changed since it last looked.
 */
static uint64_t epoch_seq = 1;

/*
 * authority_ocsp_epoch() with rmu held and rs the reading connection.
 * fresh: look at the database (the monitor's poll); 0: the version of the
 * records the connection's last read saw, which costs nothing (around a
 * lookup: the one before it is the last lookup's, the one after it is
 * this lookup's own).  The counter is read before the version: an epoch
 * handed out is never newer than the records read after it.
 */
static int
epoch_locked(struct authority *a, struct store *rs, int fresh,
    uint64_t *epoch)
{
	uint64_t v;
	int rc;

	if ((rc = store_data_version(rs, fresh, &v)) != UC_OK)
		return rc;
	if (!a->rst_versioned || v != a->rst_version) {
		a->rst_version = v;
		a->rst_versioned = 1;
		*epoch = __atomic_add_fetch(&epoch_seq, 1, __ATOMIC_SEQ_CST);
	} else
		*epoch = __atomic_load_n(&epoch_seq, __ATOMIC_SEQ_CST);
	return UC_OK;
}

int
authority_ocsp_epoch(struct authority *a, uint64_t *epoch)
{
	struct store *rs;
	int rc;

	*epoch = 0;
	pthread_mutex_lock(&a->rmu);
	if ((rc = auth_reader_store(a, &rs)) == UC_OK)
		rc = epoch_locked(a, rs, 1, epoch);
	pthread_mutex_unlock(&a->rmu);
	return rc;
}

/*
 * The statuses of the CertIDs from the committed records, for the CA
 * whose key identifier is ski, and the status epoch read before and
 * after them (ans->epoch, ans->epoch_after).
 */
static int
lookup(struct authority *a, const char *ski, const struct ocsp_query *q,
    size_t n, struct ocsp_status *st, struct ocsp_answer *ans)
{
	struct store *rs;
	size_t i;
	int rc = UC_OK, revoked;

	pthread_mutex_lock(&a->rmu);
	if ((rc = auth_reader_store(a, &rs)) != UC_OK ||
	    (rc = epoch_locked(a, rs, 0, &ans->epoch)) != UC_OK)
		goto out;
	for (i = 0; i < n; i++) {
		st[i].status = V_OCSP_CERTSTATUS_UNKNOWN;
		st[i].reason = -1;
		if (!q[i].ours || q[i].serial[0] == '\0')
			continue;
		/* A serial of another CA of this home is not ours to tell. */
		rc = store_cert_status(rs, q[i].serial, ski, &revoked,
		    &st[i].revoked_at, &st[i].reason);
		if (rc == UC_E_NOTFOUND) {
			rc = UC_OK;	/* never issued by this CA */
			continue;
		}
		if (rc != UC_OK)
			goto out;
		st[i].status = revoked ? V_OCSP_CERTSTATUS_REVOKED :
		    V_OCSP_CERTSTATUS_GOOD;
	}
	rc = epoch_locked(a, rs, 0, &ans->epoch_after);
out:
	pthread_mutex_unlock(&a->rmu);
	return rc;
}

static void
count(struct ocsp_answer *ans, const struct ocsp_status *st, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (st[i].status == V_OCSP_CERTSTATUS_GOOD)
			ans->good++;
		else if (st[i].status == V_OCSP_CERTSTATUS_REVOKED)
			ans->revoked++;
		else
			ans->unknown++;
	}
}

/* SHA-256(responder certificate, request, statuses). */
static int
kept_key(const unsigned char rid[32], const unsigned char *req, size_t len,
    const struct ocsp_status *st, size_t n, unsigned char key[32])
{
	EVP_MD_CTX *ctx;
	int64_t v[3];
	size_t i;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, rid, 32) &&
	    EVP_DigestUpdate(ctx, &len, sizeof(len)) &&
	    EVP_DigestUpdate(ctx, req, len);
	for (i = 0; ok && i < n; i++) {
		v[0] = st[i].status;
		v[1] = st[i].revoked_at;
		v[2] = st[i].reason;
		ok = EVP_DigestUpdate(ctx, v, sizeof(v));
	}
	ok = ok && EVP_DigestFinal_ex(ctx, key, NULL);
	EVP_MD_CTX_free(ctx);
	if (ok && key[0] == 0 && memcmp(key, key + 1, 31) == 0)
		key[0] = 1;	/* all zero marks an empty slot */
	return ok;
}

static size_t
slot_of(const unsigned char key[32])
{
	return ((size_t)key[0] << 8 | key[1]) % CACHE_SLOTS;
}

static int
max_age(struct authority *a, int64_t this_update, int64_t next_update,
    int64_t now)
{
	int64_t m = this_update + a->conf.ocsp_max_age - now;

	if (next_update - now < m)
		m = next_update - now;
	return m > 0 ? (int)m : 0;
}

/* 1 and *ans filled when an answer for key is kept and young enough. */
static int
kept_get(struct authority *a, struct aocsp *o, const unsigned char key[32],
    struct ocsp_answer *ans, int64_t now)
{
	struct kept *k = &o->kept[slot_of(key)];
	int hit = 0;

	pthread_mutex_lock(&o->kmu);
	if (k->der != NULL && memcmp(k->key, key, 32) == 0 &&
	    max_age(a, k->this_update, k->next_update, now) > 0 &&
	    (ans->der = malloc(k->len)) != NULL) {
		memcpy(ans->der, k->der, k->len);
		ans->len = k->len;
		ans->this_update = k->this_update;
		ans->next_update = k->next_update;
		memcpy(ans->etag, k->etag, sizeof(ans->etag));
		hit = 1;
	}
	pthread_mutex_unlock(&o->kmu);
	return hit;
}

static void
kept_put(struct aocsp *o, const unsigned char key[32],
    const struct ocsp_answer *ans)
{
	struct kept *k = &o->kept[slot_of(key)];
	unsigned char *der;

	if ((der = malloc(ans->len)) == NULL)
		return;		/* only a cache */
	memcpy(der, ans->der, ans->len);
	pthread_mutex_lock(&o->kmu);
	free(k->der);
	memcpy(k->key, key, 32);
	k->der = der;
	k->len = ans->len;
	k->this_update = ans->this_update;
	k->next_update = ans->next_update;
	memcpy(k->etag, ans->etag, sizeof(k->etag));
	pthread_mutex_unlock(&o->kmu);
}

/* Signed by the delegated responder of o, or by ca (a previous issuing
 * CA answering itself) when o is NULL. */
static int
sign_answer(struct authority *a, struct aocsp *o, struct signer *ca,
    OCSP_REQUEST *req, const struct ocsp_status *st, size_t n,
    struct ocsp_answer *ans, int64_t now)
{
	unsigned char md[32];
	char *hex;
	int rc;

	ans->this_update = now;
	ans->next_update = now + a->conf.ocsp_next_update;
	if (o == NULL)
		rc = ocsp_response_sign(req, st, n, ca, NULL, ans->this_update,
		    ans->next_update, &ans->der, &ans->len);
	else {
		pthread_rwlock_rdlock(&o->rw);
		rc = ocsp_response_sign(req, st, n, o->rsig, a->root_distinct ?
		    a->issuing : NULL, ans->this_update, ans->next_update,
		    &ans->der, &ans->len);
		pthread_rwlock_unlock(&o->rw);
	}
	if (rc != UC_OK || ans->nonce)
		return rc;	/* a nonce's answer is never cached: no ETag */
	if (!EVP_Digest(ans->der, ans->len, md, NULL, EVP_sha256(), NULL) ||
	    (hex = hex_encode(md, 16)) == NULL)
		return uc_seterr_ssl(UC_E_CRYPTO, "SHA-256 of an OCSP answer");
	snprintf(ans->etag, sizeof(ans->etag), "\"%s\"", hex);
	free(hex);
	return UC_OK;
}

/*
 * A request about an issuing CA that a rollover replaced: answered from
 * the records and signed by that CA itself (RFC 6960 4.2.2.2 lets a CA
 * sign its own answers; it needs no responder certificate), not kept.
 * *asked: 0 when the request is about none of them.
 */
static int
respond_previous(struct authority *a, const unsigned char *buf, size_t len,
    struct ocsp_answer *ans, int *asked)
{
	OCSP_REQUEST *req = NULL;
	struct ocsp_query *q = NULL;
	struct ocsp_status *st = NULL;
	struct signer *sig;
	int64_t now = uc_now();
	size_t i, k, n = 0;
	int rc = UC_OK, ours = 0;

	*asked = 0;
	for (k = 0; k < a->nprev && ours == 0; k++) {
		OCSP_REQUEST_free(req);
		req = NULL;
		free(q);
		q = NULL;
		if (!rollover_in_service(&a->prev[k], now) ||
		    ocsp_request_parse(buf, len, a->prev[k].cert, &req, &q, &n,
		    &ans->nonce) != UC_OK)
			continue;
		for (i = 0; i < n; i++)
			ours += q[i].ours;
	}
	if (ours == 0)
		goto out;
	*asked = 1;
	k--;
	pthread_mutex_lock(&a->mu);	/* opens the signer once */
	rc = rollover_signer_for(a, a->prev[k].ski, &sig);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK || (st = calloc(n, sizeof(*st))) == NULL ||
	    lookup(a, a->prev[k].ski, q, n, st, ans) != UC_OK) {
		uc_clearerr();
		rc = error_answer(AOCSP_INTERNAL, ans);
		goto out;
	}
	count(ans, st, n);
	ans->status = AOCSP_SUCCESSFUL;
	if ((rc = sign_answer(a, NULL, sig, req, st, n, ans, now)) == UC_OK &&
	    !ans->nonce)
		ans->max_age = max_age(a, ans->this_update, ans->next_update,
		    now);
out:
	OCSP_REQUEST_free(req);
	free(q);
	free(st);
	return rc;
}

int
authority_ocsp_respond(struct authority *a, const unsigned char *buf,
    size_t len, struct ocsp_answer *ans)
{
	struct aocsp *o = a->ocsp;
	OCSP_REQUEST *req = NULL;
	struct ocsp_query *q = NULL;
	struct ocsp_status *st = NULL;
	unsigned char key[32], rid[32];
	int64_t now = uc_now();
	size_t n = 0, i;
	int rc, ours = 0, loaded;

	memset(ans, 0, sizeof(*ans));
	if (ocsp_request_parse(buf, len, a->issuing, &req, &q, &n,
	    &ans->nonce) != UC_OK) {
		uc_clearerr();
		return error_answer(AOCSP_MALFORMED, ans);
	}
	for (i = 0; i < n; i++)
		ours += q[i].ours;
	if (ours == 0) {
		rc = respond_previous(a, buf, len, ans, &ours);
		if (rc == UC_OK && !ours)
			rc = error_answer(AOCSP_UNAUTHORIZED, ans);
		goto out;
	}
	loaded = 0;
	if (o != NULL) {
		pthread_rwlock_rdlock(&o->rw);
		if ((loaded = o->rsig != NULL))
			memcpy(rid, o->rid, sizeof(rid));
		pthread_rwlock_unlock(&o->rw);
	}
	if (!loaded) {
		rc = error_answer(AOCSP_TRYLATER, ans);
		goto out;
	}
	if ((st = calloc(n, sizeof(*st))) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	/* Read now, after whatever revocation committed before we got here. */
	if (lookup(a, a->issuing_ski, q, n, st, ans) != UC_OK) {
		uc_clearerr();
		rc = error_answer(AOCSP_INTERNAL, ans);
		goto out;
	}
	count(ans, st, n);
	ans->status = AOCSP_SUCCESSFUL;
	if (!ans->nonce) {
		if (!kept_key(rid, buf, len, st, n, key)) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "SHA-256");
			goto out;
		}
		if (kept_get(a, o, key, ans, now)) {
			ans->cached = 1;
			ans->max_age = max_age(a, ans->this_update,
			    ans->next_update, now);
			rc = UC_OK;
			goto out;
		}
	}
	if ((rc = sign_answer(a, o, NULL, req, st, n, ans, now)) != UC_OK)
		goto out;
	if (!ans->nonce) {
		ans->max_age = max_age(a, ans->this_update, ans->next_update,
		    now);
		kept_put(o, key, ans);
	}
out:
	if (rc != UC_OK) {
		free(ans->der);
		ans->der = NULL;
	}
	OCSP_REQUEST_free(req);
	free(q);
	free(st);
	return rc;
}
