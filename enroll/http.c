/*
 * http.c: one request in, one response out.  No sockets here: main.c feeds
 * this from libmicrohttpd, and the fuzzer feeds it directly.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "door.h"
#include "enrolld.h"
#include "pki_mobileconfig.h"

#define TOKEN_LEN	22

void
resp_clear(struct resp *r)
{
	if (r->body != NULL) {
		if (r->secret)
			OPENSSL_cleanse(r->body, r->len);
		free(r->body);
	}
	blob_unref(r->blob);
	memset(r, 0, sizeof(*r));
}

static void
set_body(struct resp *r, int status, const char *type, char *body,
    size_t len)
{
	r->status = status;
	r->type = type;
	r->body = (unsigned char *)body;
	r->len = len;
}

/* {"error": "...", "detail": "..."} */
void
json_error(struct resp *r, int status, const char *error, const char *fmt, ...)
{
	char detail[512];
	json_t *o;
	char *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s, s:s}", "error", error, "detail", detail);
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		s = strdup("{\"error\":\"internal\"}");
	set_body(r, status, "application/json", s, s != NULL ? strlen(s) : 0);
}

static void
json_ok(struct resp *r, int status, json_t *o, int secret)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (s == NULL) {
		json_error(r, 500, "internal", "out of memory");
		return;
	}
	set_body(r, status, "application/json", s, strlen(s));
	r->secret = secret;
}

/* ---- dates ------------------------------------------------------------------ */

void
http_date(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		buf[0] = '\0';
}

int64_t
parse_http_date(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

/* ---- publication -------------------------------------------------------------- */

/* An If-None-Match list ("a", "b" or *) that names etag. */
/*
 * If-None-Match is "*" or a comma-separated list of entity tags, each
 * possibly weak (W/"..."): a match is one whole tag equal to ours, never
 * a substring of something longer.
 */
int
etag_match(const char *inm, const char *etag)
{
	size_t el = strlen(etag), n;
	const char *p = inm, *e;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strcmp(p, "*") == 0)
		return 1;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"')
			return 0;	/* malformed: no match */
		if ((e = strchr(p + 1, '"')) == NULL)
			return 0;
		n = (size_t)(e - p) + 1;
		if (n == el && memcmp(p, etag, el) == 0)
			return 1;
		p = e + 1;
	}
	return 0;
}

/* ps: a reference the caller holds, so no lock is needed. */
static void
serve_pub(const struct pubset *ps, const struct req *q, struct resp *r,
    int idx)
{
	const struct pubfile *f = &ps->f[idx];
	int64_t now = uc_now(), ims, age;

	if (f->body == NULL) {
		json_error(r, 404, "not_published", "%s has not been published "
		    "yet (userca publish)", q->path);
		return;
	}
	snprintf(r->etag, sizeof(r->etag), "%s", f->etag);
	http_date(f->mtime, r->last_modified, sizeof(r->last_modified));
	/*
	 * Caches may keep a CRL until its nextUpdate but no longer (and at
	 * most an hour, so a fresh revocation is seen soon); an expired CRL
	 * must be fetched again every time.
	 */
	if (f->next_update != 0) {
		age = f->next_update - now;
		if (age <= 0)
			snprintf(r->cache_control, sizeof(r->cache_control),
			    "no-cache");
		else
			snprintf(r->cache_control, sizeof(r->cache_control),
			    "public, max-age=%lld", (long long)(age < 300 ?
			    age : 300));
	} else
		snprintf(r->cache_control, sizeof(r->cache_control),
		    "public, max-age=300");
	r->type = f->type;
	if ((q->if_none_match != NULL && etag_match(q->if_none_match,
	    f->etag)) || (q->if_none_match == NULL &&
	    q->if_modified_since != NULL &&
	    (ims = parse_http_date(q->if_modified_since)) >= 0 &&
	    f->mtime <= ims)) {
		r->status = 304;
		return;
	}
	r->status = 200;
	r->blob = blob_ref(f->body);
}

static void
serve_health(struct enrolld *d, struct resp *r)
{
	json_t *o;
	int healthy;

	/* crl_watch() rewrites both under the write lock. */
	pthread_rwlock_rdlock(&d->publock);
	healthy = d->healthy;
	/* A warning (the issuing CA expires soon) is not an outage: 200. */
	o = json_pack("{s:s, s:s}", "status", !healthy ? "unhealthy" :
	    d->health_warn[0] != '\0' ? "warning" : "ok", "detail",
	    healthy && d->health_warn[0] != '\0' ? d->health_warn :
	    d->health_why);
	pthread_rwlock_unlock(&d->publock);
	json_ok(r, healthy ? 200 : 503, o, 0);
}

static void
serve_metrics(struct enrolld *d, struct resp *r)
{
	char *s;

	if ((s = metrics_render(d->m, d)) == NULL) {
		json_error(r, 500, "internal", "out of memory");
		return;
	}
	set_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", s,
	    strlen(s));
}

/* ---- static files of the enrollment page ------------------------------------------ */

/* From memory: the monitor read them before the child started. */
static void
serve_web(struct enrolld *d, struct resp *r, int which, const char *name,
    const char *type)
{
	struct blob *b;

	pthread_rwlock_rdlock(&d->publock);
	b = d->web[which] != NULL ? blob_ref(d->web[which]) : NULL;
	pthread_rwlock_unlock(&d->publock);
	if (b == NULL) {
		json_error(r, 404, "not_found", "%s is not installed", name);
		return;
	}
	r->status = 200;
	r->type = type;
	r->blob = b;	/* now owned by the response */
	snprintf(r->cache_control, sizeof(r->cache_control), "no-store");
}

/* ---- enrollment ------------------------------------------------------------------------ */

static void
token_error(struct enrolld *d, const struct req *q, struct resp *r,
    enum token_state st)
{
	ratelimit_fail(d->rl, q->client, uc_now());
	switch (st) {
	case TOKEN_EXPIRED:
		metrics_token_failure(d->m, "expired");
		json_error(r, 401, "token_expired", "this enrollment link has "
		    "expired; ask your administrator for a new one");
		break;
	case TOKEN_USED:
		metrics_token_failure(d->m, "used");
		json_error(r, 403, "token_used", "this enrollment link was "
		    "already used; each link works once");
		break;
	default:
		metrics_token_failure(d->m, "unknown");
		json_error(r, 404, "token_unknown", "no such enrollment link; "
		    "check that it was copied whole");
		break;
	}
}

/* 1 with ti filled (token_info_clear()) when the token is valid; else r
 * holds the refusal. */
static int
token_valid(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token, struct token_info *ti)
{
	if (door_lookup(d->door, token, ti) != UC_OK) {
		json_error(r, 500, "internal", "token lookup failed");
		return 0;
	}
	if (ti->state != TOKEN_VALID) {
		token_error(d, q, r, ti->state);
		token_info_clear(ti);
		return 0;
	}
	return 1;
}

static void
token_json(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token)
{
	struct token_info ti;
	char when[32], old[32];
	json_t *o, *renewal = NULL;

	if (!token_valid(d, q, r, token, &ti))
		return;
	uc_time_iso(ti.expires_at, when, sizeof(when));
	/* A renewal link: the certificate it replaces, and its fate. */
	if (ti.renews != NULL) {
		uc_time_iso(ti.renews_not_after, old, sizeof(old));
		renewal = json_pack("{s:s, s:s, s:b}", "serial", ti.renews,
		    "not_after", old, "revokes_old", ti.renews_revoke_old);
		if (renewal == NULL) {
			token_info_clear(&ti);
			json_error(r, 500, "internal", "out of memory");
			return;
		}
	}
	o = json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:[s,s], s:o?}",
	    "user", ti.user.username, "email", ti.user.email,
	    "name", ti.user.name, "expires", when,
	    "default_p12_format", d->conf.default_p12_format,
	    "p12_formats", "legacy", "modern", "renewal", renewal);
	token_info_clear(&ti);
	json_ok(r, 200, o, 0);
	snprintf(r->cache_control, sizeof(r->cache_control), "no-store");
}

/* The type of the body, without parameters, lower case. */
static void
media_type(const char *ct, char *out, size_t len)
{
	size_t i;

	out[0] = '\0';
	if (ct == NULL)
		return;
	for (i = 0; i + 1 < len && ct[i] != '\0' && ct[i] != ';' &&
	    !isspace((unsigned char)ct[i]); i++)
		out[i] = (char)tolower((unsigned char)ct[i]);
	out[i] = '\0';
}

static int
accepts(const char *accept, const char *type)
{
	return accept != NULL && strstr(accept, type) != NULL;
}

/* Certs-only PKCS#7 (DER) of a PEM chain. */
static int
chain_p7(const unsigned char *pem, size_t len, unsigned char **der,
    size_t *dlen)
{
	STACK_OF(X509) *certs = NULL;
	PKCS7 *p7 = NULL;
	BIO *bio = NULL;
	X509 *x;
	int n, rc = UC_E_CRYPTO;

	*der = NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (certs = sk_X509_new_null()) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			goto out;
		}
	}
	ERR_clear_error();
	if ((p7 = PKCS7_new()) == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data))
		goto out;
	for (n = 0; n < sk_X509_num(certs); n++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, n)))
			goto out;
	if ((n = i2d_PKCS7(p7, der)) <= 0)
		goto out;
	*dlen = (size_t)n;
	rc = UC_OK;
out:
	PKCS7_free(p7);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	return rc;
}

static int
is_client_error(int rc)
{
	return rc == UC_E_INVALID || rc == UC_E_POLICY ||
	    rc == UC_E_SIGNATURE;
}

/* A refusal from the monitor, or 500: the answer to a redemption. */
static void
redeem_error(struct enrolld *d, const struct req *q, struct resp *r,
    const struct door_redeem_out *o, const char *what)
{
	char msg[256], *p;

	if (o->rc == UC_E_NOTFOUND || o->rc == UC_E_STATE) {
		token_error(d, q, r, o->state);
		return;
	}
	if (is_client_error(o->rc)) {
		/* A sentence for people; OpenSSL's codes stay in our logs. */
		snprintf(msg, sizeof(msg), "%s", o->errmsg != NULL ?
		    o->errmsg : "refused");
		if ((p = strstr(msg, " (error:")) != NULL)
			*p = '\0';
		json_error(r, 400, o->rc == UC_E_POLICY ? "weak_key" :
		    o->rc == UC_E_SIGNATURE ? "bad_signature" : "bad_csr", "%s",
		    msg);
		return;
	}
	json_error(r, 500, "internal", "issuance failed");
	fprintf(stderr, "userca-enrolld: %s: %s: %s\n", what,
	    uc_strerror(o->rc), o->errmsg != NULL ? o->errmsg : "");
}

/*
 * A CSR the monitor will not see: the token's state decides first (as
 * when the monitor parsed CSRs), then the CSR's own problem.
 */
static void
csr_refused(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token, int rc, const char *why)
{
	struct door_redeem_out o;
	struct token_info ti;

	memset(&o, 0, sizeof(o));
	if (door_lookup(d->door, token, &ti) != UC_OK) {
		json_error(r, 500, "internal", "token lookup failed");
		return;
	}
	o.rc = ti.state == TOKEN_VALID ? rc : ti.state == TOKEN_UNKNOWN ?
	    UC_E_NOTFOUND : UC_E_STATE;
	o.state = ti.state;
	o.errmsg = (char *)(uintptr_t)why;
	token_info_clear(&ti);
	redeem_error(d, q, r, &o, "enroll-csr");
}

static void
enroll_csr(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token)
{
	struct door_redeem_out o;
	unsigned char *p7 = NULL, *spki = NULL;
	size_t p7len, spkilen = 0;
	char mt[64], why[256];
	int rc;

	memset(&o, 0, sizeof(o));
	media_type(q->content_type, mt, sizeof(mt));
	if (strcmp(mt, "application/pkcs10") != 0 &&
	    strcmp(mt, "application/x-pem-file") != 0 &&
	    strcmp(mt, "text/plain") != 0 &&
	    strcmp(mt, "application/octet-stream") != 0) {
		json_error(r, 415, "unsupported_media_type", "send the CSR as "
		    "application/pkcs10 (PEM or DER), not '%.60s'",
		    q->content_type != NULL ? q->content_type : "(none)");
		return;
	}
	if (q->bodylen == 0) {
		json_error(r, 400, "bad_csr", "the request body is empty: send "
		    "a PKCS#10 certificate request");
		return;
	}
	/* Parsed and verified here; the monitor checks the key again. */
	if ((rc = csr_check_spki(q->body, q->bodylen, &spki, &spkilen)) !=
	    UC_OK) {
		snprintf(why, sizeof(why), "%s", uc_errmsg());
		csr_refused(d, q, r, token, rc, why);
		goto out;
	}
	if ((rc = door_redeem(d->door, token, DOOR_CSR, spki, spkilen, NULL,
	    &o)) != UC_OK) {
		json_error(r, 500, "internal", "issuance failed");
		fprintf(stderr, "userca-enrolld: enroll-csr: %s\n",
		    uc_errmsg());
		goto out;
	}
	if (o.rc != UC_OK) {
		redeem_error(d, q, r, &o, "enroll-csr");
		goto out;
	}
	if (!o.again)
		metrics_issue(d->m, "csr");
	if (accepts(q->accept, "application/pkcs7-mime")) {
		if (chain_p7(o.chain, o.chainlen, &p7, &p7len) != UC_OK) {
			json_error(r, 500, "internal", "PKCS#7 encoding");
			goto out;
		}
		/* i2d's buffer is OPENSSL_malloc'd: copy to ours. */
		if ((r->body = malloc(p7len)) != NULL) {
			memcpy(r->body, p7, p7len);
			r->len = p7len;
		}
		OPENSSL_free(p7);
		r->status = r->body != NULL ? 200 : 500;
		r->type = "application/pkcs7-mime; smime-type=certs-only";
	} else {
		r->status = 200;
		r->type = "application/x-pem-file";
		r->body = o.chain;
		r->len = o.chainlen;
		o.chain = NULL;	/* now owned by the response */
	}
	snprintf(r->hdr_name, sizeof(r->hdr_name), "X-Userca-Serial");
	snprintf(r->hdr_value, sizeof(r->hdr_value), "%s", o.serial);
	snprintf(r->cache_control, sizeof(r->cache_control), "no-store");
out:
	door_redeem_out_clear(&o);
	free(spki);
}

#define PROFILE_TYPE	"application/x-apple-aspen-config"

/*
 * What both Apple profiles hold for the token's user u: the top of the
 * chain top (*root: OPENSSL_free()), its name, and Exchange ActiveSync when
 * userca.conf has [eas] host.  name and user are the caller's buffers.
 */
static int
profile_base(struct enrolld *d, const struct authority_user *u, X509 *top,
    struct mobileconfig *mc, unsigned char **root, char name[256],
    char user[512])
{
	int n;

	*root = NULL;
	if (u->username == NULL)
		return uc_seterr(UC_E_NOTFOUND, "the token's user is gone");
	if (top == NULL)
		return uc_seterr(UC_E_STATE, "no CA certificate published");
	if ((n = i2d_X509(top, root)) <= 0)
		return uc_seterr(UC_E_CRYPTO, "encoding the root");
	name[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(top), NID_commonName,
	    name, 256);
	memset(mc, 0, sizeof(*mc));
	mc->org = d->org;
	mc->username = u->username;
	mc->root_der = *root;
	mc->root_len = (size_t)n;
	mc->root_name = name[0] != '\0' ? name : NULL;
	if (d->eas_host != NULL) {
		mc->eas_host = d->eas_host;
		mc->eas_email = u->email;
		if (u->upn != NULL)
			snprintf(user, 512, "%s", u->upn);
		else if (d->eas_domain != NULL)
			snprintf(user, 512, "%s\\%s", d->eas_domain,
			    u->username);
		else
			snprintf(user, 512, "%s", u->username);
		mc->eas_user = user;
	}
	return UC_OK;
}

/*
 * The identity profile (DESIGN 22) of a redeemed token: the PKCS#12, the
 * top of the chain, and Exchange ActiveSync when userca.conf has [eas]
 * host.  The password stays out of the profile: the file alone (left in
 * Downloads, forwarded by mail) must not be enough to use the key; the
 * device asks for it while installing.  *out: secret_free_buf().
 */
static int
identity_profile(struct enrolld *d, const struct authority_user *u,
    X509 *top, const unsigned char *p12, size_t p12len, unsigned char **out,
    size_t *len)
{
	struct mobileconfig mc;
	unsigned char *der = NULL;
	char user[512], name[256];
	int rc;

	*out = NULL;
	if ((rc = profile_base(d, u, top, &mc, &der, name, user)) ==
	    UC_OK) {
		mc.p12 = p12;
		mc.p12_len = p12len;
		rc = mobileconfig_identity(&mc, out, len);
	}
	/* Signed with the TLS pair, as iOS shows a signed profile. */
	if (rc == UC_OK && (rc = enrolld_profile_sign(d, out, len)) != UC_OK) {
		secret_free_buf(*out, *len);
		*out = NULL;
	}
	OPENSSL_free(der);
	return rc;
}

/*
 * The certificates above the leaf in the monitor's answers, decoded once:
 * they stay the same from one enrollment to the next (until the issuing
 * CA changes), and OpenSSL 3 decodes a certificate's key through a search
 * for a decoder, about 0.1 ms each on a PKCS#12's latency.  Keyed by
 * their PEM.
 */
static struct {
	pthread_mutex_t	 mu;
	char		*pem;
	size_t		 len;
	STACK_OF(X509)	*certs;
} chain_cache = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, NULL };

/*
 * The PEM certificates in pem (len bytes, up to the first that does not
 * decode), in order, in a new *out (sk_X509_pop_free()): 0, or -1.
 */
static int
chain_certs(const char *pem, size_t len, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk = NULL;
	BIO *bio = NULL;
	X509 *x;
	char *copy;

	pthread_mutex_lock(&chain_cache.mu);
	if (chain_cache.pem != NULL && chain_cache.len == len &&
	    memcmp(chain_cache.pem, pem, len) == 0)
		sk = X509_chain_up_ref(chain_cache.certs);
	pthread_mutex_unlock(&chain_cache.mu);
	if ((*out = sk) != NULL)
		return 0;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (sk = sk_X509_new_null()) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	ERR_clear_error();
	BIO_free(bio);
	/* Remembered for the next one; a failure here only costs time. */
	if ((copy = malloc(len)) != NULL) {
		memcpy(copy, pem, len);
		pthread_mutex_lock(&chain_cache.mu);
		free(chain_cache.pem);
		sk_X509_pop_free(chain_cache.certs, X509_free);
		chain_cache.pem = copy;
		chain_cache.len = len;
		if ((chain_cache.certs = X509_chain_up_ref(sk)) == NULL) {
			free(chain_cache.pem);
			chain_cache.pem = NULL;
		}
		pthread_mutex_unlock(&chain_cache.mu);
	}
	*out = sk;	/* now owned by the caller */
	return 0;
fail:
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	return -1;
}

/*
 * The PKCS#12 of a key made here and the chain the monitor answered
 * (leaf first); *top: the last certificate of the chain (caller frees).
 * *der: secret_free_buf().
 */
static int
bundle(EVP_PKEY *key, const struct door_redeem_out *o, enum p12_format f,
    const char *pw, X509 **top, unsigned char **der, size_t *len)
{
	STACK_OF(X509) *chain = NULL;
	BIO *bio = NULL;
	X509 *leaf = NULL;
	unsigned char *p = NULL;
	char *rest;
	size_t n = 0;
	long restlen;
	int rc = UC_E_CRYPTO;

	*top = NULL;
	*der = NULL;
	/* The leaf, then what the read-only BIO has not given out yet. */
	if ((bio = BIO_new_mem_buf(o->chain, (int)o->chainlen)) == NULL ||
	    (leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    (restlen = BIO_get_mem_data(bio, &rest)) <= 0 ||
	    chain_certs(rest, (size_t)restlen, &chain) != 0)
		goto out;
	if (sk_X509_num(chain) < 1)
		goto out;
	if ((rc = p12_build(key, leaf, chain, o->user.username, pw, f, &p,
	    &n)) != UC_OK)
		goto out;
	if ((*der = malloc(n)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(*der, p, n);
	*len = n;
	*top = sk_X509_pop(chain);	/* now owned by the caller */
	rc = UC_OK;
out:
	if (p != NULL) {
		OPENSSL_cleanse(p, n);
		OPENSSL_free(p);
	}
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	BIO_free(bio);
	return rc;
}

/*
 * A new key for a server-made bundle, and its redemption: the key stays
 * here, only its public half goes to the monitor.  UC_OK with *key set
 * when the monitor answered (o says how); else r holds the error.
 */
static int
p12_redeem(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token, int profile, EVP_PKEY **key,
    struct door_redeem_out *o)
{
	enum key_type kt;
	unsigned char *spki = NULL;
	size_t spkilen = 0;
	int rc;

	*key = NULL;
	if (key_type_parse(d->user_key, &kt) != UC_OK) {
		json_error(r, 500, "internal", "key type");
		return UC_E_INTERNAL;
	}
	while (sem_wait(&d->keygen) == -1) {
		if (errno != EINTR) {
			json_error(r, 500, "internal", "key generation slot: %s",
			    strerror(errno));
			return UC_E_INTERNAL;
		}
	}
	rc = key_generate(kt, key);
	sem_post(&d->keygen);
	if (rc != UC_OK || (rc = spki_encode(*key, &spki, &spkilen)) !=
	    UC_OK) {
		json_error(r, 500, "internal", "key generation");
		EVP_PKEY_free(*key);
		*key = NULL;
		return rc;
	}
	rc = door_redeem(d->door, token, profile ? DOOR_PROFILE : DOOR_P12,
	    spki, spkilen, q->retry, o);
	free(spki);
	if (rc != UC_OK) {
		json_error(r, 500, "internal", "issuance failed");
		fprintf(stderr, "userca-enrolld: enroll-p12: %s\n",
		    uc_errmsg());
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	return rc;
}

/*
 * GET mobileconfig: the SCEP profile (DESIGN 22).  The token goes in as
 * the SCEP challenge and is not consumed here: the device's SCEP
 * enrollment consumes it.  No key material; the key is made on the
 * device.
 */
static void
scep_profile(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token)
{
	struct mobileconfig mc;
	struct token_info ti;
	struct pubset *ps = NULL;
	unsigned char *der = NULL, *body = NULL, fp[EVP_MAX_MD_SIZE];
	unsigned int fplen = 0;
	char user[512], name[256], url[1100];
	size_t len = 0;

	if (!token_valid(d, q, r, token, &ti))
		return;
	snprintf(url, sizeof(url), "%s/scep", d->base_url);
	if ((ps = pub_get(d)) == NULL || ps->issuing == NULL ||
	    profile_base(d, &ti.user, ps->root != NULL ? ps->root :
	    ps->issuing, &mc, &der, name, user) != UC_OK ||
	    !X509_digest(ps->issuing, EVP_sha1(), fp, &fplen)) {
		json_error(r, 500, "internal", "the profile could not be made");
		goto out;
	}
	mc.scep_url = url;
	mc.scep_challenge = token;
	mc.ca_fingerprint = fp;
	mc.ca_fingerprint_len = fplen;
	if (mobileconfig_scep(&mc, &body, &len) != UC_OK ||
	    enrolld_profile_sign(d, &body, &len) != UC_OK) {
		fprintf(stderr, "userca-enrolld: SCEP profile: %s\n",
		    uc_errmsg());
		secret_free_buf(body, len);
		json_error(r, 500, "internal", "the profile could not be made");
		goto out;
	}
	r->status = 200;
	r->type = PROFILE_TYPE;
	r->body = body;
	r->len = len;
	r->secret = 1;
	snprintf(r->disposition, sizeof(r->disposition),
	    "attachment; filename=\"%s.mobileconfig\"", "userca-scep");
	snprintf(r->cache_control, sizeof(r->cache_control), "no-store");
out:
	pub_put(ps);
	OPENSSL_free(der);
	token_info_clear(&ti);
}

/* The retry secret and its deadline as response headers. */
static void
retry_headers(struct resp *r, const struct door_redeem_out *o)
{
	if (o->retry == NULL)
		return;
	snprintf(r->xhdr[0].name, sizeof(r->xhdr[0].name), "X-Userca-Retry");
	snprintf(r->xhdr[0].value, sizeof(r->xhdr[0].value), "%s", o->retry);
	snprintf(r->xhdr[1].name, sizeof(r->xhdr[1].name),
	    "X-Userca-Retry-Until");
	uc_time_iso(o->retry_until, r->xhdr[1].value,
	    sizeof(r->xhdr[1].value));
}

/* The bundle as the body itself (Accept asked for it). */
static void
bundle_raw(struct resp *r, const struct door_redeem_out *o, int profile,
    unsigned char **body, size_t len, const char *pw, int generated)
{
	r->status = 200;
	r->type = profile ? PROFILE_TYPE : "application/x-pkcs12";
	r->body = *body;
	r->len = len;
	r->secret = 1;
	*body = NULL;	/* now owned by the response */
	snprintf(r->disposition, sizeof(r->disposition),
	    "attachment; filename=\"%s\"", profile ? "userca.mobileconfig" :
	    "certificate.p12");
	if (generated) {
		snprintf(r->hdr_name, sizeof(r->hdr_name), "X-Userca-Password");
		snprintf(r->hdr_value, sizeof(r->hdr_value), "%s", pw);
	}
	retry_headers(r, o);
	snprintf(r->xhdr[2].name, sizeof(r->xhdr[2].name), "X-Userca-Serial");
	snprintf(r->xhdr[2].value, sizeof(r->xhdr[2].value), "%s", o->serial);
}

/* The bundle in JSON, base64, with the password when we made it. */
static void
bundle_json(struct resp *r, const struct door_redeem_out *o, int profile,
    const unsigned char *body, size_t len, const char *fmt, const char *pw,
    int generated)
{
	char *b64, when[32], rwhen[32];
	json_t *obj;
	int n;

	if ((b64 = malloc((len + 2) / 3 * 4 + 1)) == NULL) {
		json_error(r, 500, "internal", "out of memory");
		return;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, body, (int)len);
	b64[n] = '\0';
	uc_time_iso(o->not_after, when, sizeof(when));
	rwhen[0] = '\0';
	if (o->retry != NULL)
		uc_time_iso(o->retry_until, rwhen, sizeof(rwhen));
	obj = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b}",
	    "serial", o->serial, "not_after", when, "p12_format", fmt,
	    profile ? "mobileconfig" : "p12", b64,
	    "password", generated ? pw : NULL,
	    "retry", o->retry,
	    "retry_until", o->retry != NULL ? rwhen : NULL,
	    "superseded", o->superseded != 0);
	json_ok(r, 200, obj, 1);
	OPENSSL_cleanse(b64, (size_t)n);
	free(b64);
}

/* p12_format and password of a /p12 or /mobileconfig body; 0: r is set. */
static int
p12_options(const struct req *q, struct resp *r, json_t **in,
    const char **fmt, const char **pw)
{
	json_error_t jerr;
	char mt[64];

	media_type(q->content_type, mt, sizeof(mt));
	if (q->bodylen == 0)
		return 1;
	if (strcmp(mt, "application/json") != 0) {
		json_error(r, 415, "unsupported_media_type", "send options as "
		    "application/json, not '%.60s'", q->content_type != NULL ?
		    q->content_type : "(none)");
		return 0;
	}
	if ((*in = json_loadb((const char *)q->body, q->bodylen,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL || !json_is_object(*in)) {
		/*
		 * Only where: jansson's text quotes the body near the error,
		 * and the body may hold a password.
		 */
		json_error(r, 400, "bad_json", "the body is not a JSON object "
		    "(error at byte %d)", *in == NULL ? jerr.position : 0);
		return 0;
	}
	if (json_unpack_ex(*in, &jerr, JSON_STRICT, "{s?s, s?s}",
	    "p12_format", fmt, "password", pw) != 0) {
		json_error(r, 400, "bad_json", "%s (known fields: p12_format, "
		    "password)", jerr.text);
		return 0;
	}
	return 1;
}

/*
 * POST /p12 and POST /mobileconfig (profile): a server-made key, made
 * here; the monitor certifies its public half.  With X-Userca-Retry, a
 * used token may be redeemed once more within the retry window (DESIGN
 * 25).
 */
static void
enroll_p12(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token, int profile)
{
	struct door_redeem_out o;
	enum p12_format pf;
	EVP_PKEY *key = NULL;
	X509 *top = NULL;
	json_t *in = NULL;
	const char *fmt = profile ? "legacy" : d->conf.default_p12_format,
	    *pw = NULL;
	char *gen = NULL;
	unsigned char *p12 = NULL, *body = NULL;
	size_t p12len = 0, bodylen = 0;
	int generated = 0;

	memset(&o, 0, sizeof(o));
	if (!p12_options(q, r, &in, &fmt, &pw))
		goto out;
	if (profile && strcmp(fmt, "legacy") != 0) {
		json_error(r, 400, "bad_format", "Apple devices read only the "
		    "legacy format: leave p12_format out or say legacy");
		goto out;
	}
	if (p12_format_parse(fmt, &pf) != UC_OK) {
		json_error(r, 400, "bad_format", "p12_format must be legacy or "
		    "modern");
		goto out;
	}
	if (pw != NULL && (strlen(pw) < 8 || strlen(pw) > 128)) {
		json_error(r, 400, "bad_password", "the password must be 8 to "
		    "128 characters");
		goto out;
	}
	if (pw == NULL) {
		if (password_generate(&gen) != UC_OK) {
			json_error(r, 500, "internal", "password");
			goto out;
		}
		pw = gen;
		generated = 1;
	}
	if (p12_redeem(d, q, r, token, profile, &key, &o) != UC_OK)
		goto out;
	if (o.rc != UC_OK) {
		redeem_error(d, q, r, &o, "enroll-p12");
		goto out;
	}
	/* Committed: from here the monitor waits to hear it was sent. */
	snprintf(r->deliver, sizeof(r->deliver), "%s", o.serial);
	if (bundle(key, &o, pf, pw, &top, &p12, &p12len) != UC_OK ||
	    (profile && identity_profile(d, &o.user, top, p12, p12len, &body,
	    &bodylen) != UC_OK)) {
		fprintf(stderr, "userca-enrolld: bundle for %s: %s\n",
		    o.serial, uc_errmsg());
		json_error(r, 500, "internal", "the bundle could not be made");
		goto out;
	}
	if (!profile) {
		body = p12;
		bodylen = p12len;
		p12 = NULL;	/* now owned by body */
	}
	metrics_issue(d->m, profile ? "mobileconfig" : "p12");
	if (accepts(q->accept, profile ? PROFILE_TYPE : "application/x-pkcs12"))
		bundle_raw(r, &o, profile, &body, bodylen, pw, generated);
	else
		bundle_json(r, &o, profile, body, bodylen, fmt, pw, generated);
	snprintf(r->cache_control, sizeof(r->cache_control), "no-store");
out:
	EVP_PKEY_free(key);
	X509_free(top);
	secret_free_buf(p12, p12len);
	secret_free_buf(body, bodylen);
	door_redeem_out_clear(&o);
	secret_free(gen);
	json_decref(in);	/* the caller's password string lived in it */
}

/* ---- routing ---------------------------------------------------------------------------- */

void
redact_path(const char *path, char *out, size_t len)
{
	const char *p;
	size_t i;

	if ((p = strstr(path, "/enroll/")) != NULL) {
		const char *rest = p + 8, *slash = strchr(rest, '/');

		snprintf(out, len, "%.*s/enroll/<token>%.100s",
		    (int)(p - path) > 100 ? 100 : (int)(p - path), path,
		    slash != NULL ? slash : "");
	} else
		snprintf(out, len, "%.200s", path);
	/* The path is decoded: a %0A must not forge a log line. */
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] == 0x7f)
			out[i] = '?';
}

int
token_may_try(struct enrolld *d, const char *client, const char *token)
{
	struct token_info ti;
	int valid;

	if (!ratelimit_blocked(d->rl, client, __atomic_load_n(
	    &d->conf.rate_limit, __ATOMIC_RELAXED), uc_now()))
		return 1;
	memset(&ti, 0, sizeof(ti));
	valid = token != NULL && door_lookup(d->door, token, &ti) == UC_OK &&
	    ti.state == TOKEN_VALID;
	token_info_clear(&ti);
	return valid;
}

/*
 * A client over the failure limit is refused, unless the token it brings
 * is valid and unused: others behind the same address (a NAT) failing
 * must not stop a user with a good link.  Returns 1 when the request may
 * go on; else r holds the 429.
 */
static int
limit_pass(struct enrolld *d, const struct req *q, struct resp *r,
    const char *token, int limited)
{
	if (!limited || token_may_try(d, q->client, token))
		return 1;
	json_error(r, 429, "rate_limited", "too many failed enrollment "
	    "attempts from this address; wait a minute");
	return 0;
}

/* "/prefix<token>suffix" -> token (copied) if the path has that shape. */
static int
take_token(const char *path, const char *prefix, const char *suffix,
    char tok[TOKEN_LEN + 1])
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = strlen(path), tl;

	if (len < pl + sl + 1 || strncmp(path, prefix, pl) != 0 ||
	    strcmp(path + len - sl, suffix) != 0)
		return 0;
	tl = len - pl - sl;
	if (memchr(path + pl, '/', tl) != NULL)
		return 0;
	/* A token of the wrong shape is an unknown token, not another route. */
	if (tl != TOKEN_LEN)
		snprintf(tok, TOKEN_LEN + 1, "!");
	else {
		memcpy(tok, path + pl, TOKEN_LEN);
		tok[TOKEN_LEN] = '\0';
	}
	return 1;
}

static int
method_is(const struct req *q, const char *m)
{
	return strcmp(q->method, m) == 0;
}

/* 405 for a route that only answers GET and HEAD. */
static void
only_get(struct resp *r)
{
	snprintf(r->allow, sizeof(r->allow), "GET, HEAD");
	json_error(r, 405, "method_not_allowed", "use GET");
}

/*
 * Public files, health, metrics and the page's static files (any
 * transport): 1 when q was one of them (r holds the answer), else 0.
 */
static int
serve_public_routes(struct enrolld *d, const struct req *q, struct resp *r,
    int get)
{
	struct pubset *ps;
	int i, js;

	if ((ps = pub_get(d)) == NULL) {
		json_error(r, 503, "not_ready", "the public files are not "
		    "loaded");
		return 1;
	}
	for (i = 0; i < NPUB; i++) {
		if (strcmp(q->path, ps->f[i].route) != 0)
			continue;
		r->route = ps->f[i].route;	/* static: outlives ps */
		if (!get)
			only_get(r);
		else
			serve_pub(ps, q, r, i);
		pub_put(ps);
		return 1;
	}
	pub_put(ps);
	if (strcmp(q->path, "/healthz") == 0 || strcmp(q->path, "/metrics") ==
	    0) {
		r->route = strcmp(q->path, "/healthz") == 0 ? "/healthz" :
		    "/metrics";
		if (!get)
			only_get(r);
		else if (r->route[1] == 'h')
			serve_health(d, r);
		else
			serve_metrics(d, r);
		return 1;
	}
	if (strcmp(q->path, "/static/enroll.js") != 0 &&
	    strcmp(q->path, "/static/enroll.css") != 0)
		return 0;
	r->route = "/static";
	js = strcmp(q->path, "/static/enroll.js") == 0;
	if (!get)
		only_get(r);
	else
		serve_web(d, r, js ? WEB_JS : WEB_CSS, q->path + 8, js ?
		    "text/javascript; charset=utf-8" :
		    "text/css; charset=utf-8");
	return 1;
}

/*
 * The token routes (page, lookup, /csr, /p12, /mobileconfig), behind the
 * HTTPS and rate-limit gate (limited: this client failed too often).
 */
static void
serve_token_routes(struct enrolld *d, const struct req *q, struct resp *r,
    int get, int limited)
{
	char tok[TOKEN_LEN + 1];
	int csr;

	if (take_token(q->path, "/enroll/", "", tok)) {
		r->route = "/enroll/:token";
		if (!get)
			only_get(r);
		/* The page itself asks the API; it needs no token check. */
		else if (limit_pass(d, q, r, tok, limited))
			serve_web(d, r, WEB_HTML, "enroll.html",
			    "text/html; charset=utf-8");
	} else if (take_token(q->path, "/api/v1/enroll/", "", tok)) {
		r->route = "/api/v1/enroll/:token";
		if (!get)
			only_get(r);
		else if (limit_pass(d, q, r, tok, limited))
			token_json(d, q, r, tok);
	} else if (take_token(q->path, "/api/v1/enroll/", "/csr", tok) ||
	    take_token(q->path, "/api/v1/enroll/", "/p12", tok)) {
		csr = q->path[strlen(q->path) - 1] == 'r';
		r->route = csr ? "/api/v1/enroll/:token/csr" :
		    "/api/v1/enroll/:token/p12";
		if (!method_is(q, "POST")) {
			snprintf(r->allow, sizeof(r->allow), "POST");
			json_error(r, 405, "method_not_allowed", "use POST");
		} else if (!limit_pass(d, q, r, tok, limited))
			;	/* answered */
		else if (csr)
			enroll_csr(d, q, r, tok);
		else
			enroll_p12(d, q, r, tok, 0);
	} else if (take_token(q->path, "/api/v1/enroll/", "/mobileconfig",
	    tok)) {
		r->route = "/api/v1/enroll/:token/mobileconfig";
		if (!get && !method_is(q, "POST")) {
			snprintf(r->allow, sizeof(r->allow), "GET, HEAD, POST");
			json_error(r, 405, "method_not_allowed", "use POST (or "
			    "GET for the SCEP profile)");
		} else if (!limit_pass(d, q, r, tok, limited))
			;	/* answered */
		else if (get)
			scep_profile(d, q, r, tok);
		else
			enroll_p12(d, q, r, tok, 1);
	} else
		json_error(r, 404, "not_found", "no such resource");
}

void
handle_request(struct enrolld *d, const struct req *q, struct resp *r)
{
	int limited = 0, get = method_is(q, "GET") || method_is(q, "HEAD");

	memset(r, 0, sizeof(*r));
	r->route = "other";
	if (serve_public_routes(d, q, r, get))
		return;
	/* EST: its own listener (DESIGN 6). */
	if (est_route(q->path)) {
		est_serve(d, q, r);
		return;
	}
	/* SCEP: signed and encrypted itself; any transport (DESIGN 7). */
	if (scep_route(q->path)) {
		scep_serve(d, q, r);
		return;
	}
	/* OCSP: signed, not secret; any transport (clients use http). */
	if (strcmp(q->path, "/ocsp") == 0 || strncmp(q->path, "/ocsp/", 6) ==
	    0) {
		ocsp_serve(d, q, r);
		return;
	}
	/* Enrollment: HTTPS, unless the config allows plain HTTP (tests). */
	if (strncmp(q->path, "/enroll/", 8) == 0 ||
	    strncmp(q->path, "/api/v1/enroll/", 15) == 0) {
		r->route = "/enroll";
		/* SIGHUP may change these while requests run. */
		if (!q->tls && !__atomic_load_n(&d->conf.allow_plain_http,
		    __ATOMIC_RELAXED)) {
			json_error(r, 403, "https_required", "enrollment is "
			    "only served over HTTPS");
			return;
		}
		limited = ratelimit_blocked(d->rl, q->client,
		    __atomic_load_n(&d->conf.rate_limit, __ATOMIC_RELAXED),
		    uc_now());
	}
	serve_token_routes(d, q, r, get, limited);
}
