/*
 * monitor.c: the privileged side of userca-enrolld.  It answers the
 * network child's requests (door.h) with the authority, deciding the
 * identity from the token itself and checking every key against the key
 * policy (authority_redeem() does both); it never signs anything the
 * child chose but the public key.  It also encodes the HELLO and
 * PUBLISHED pushes, which the child decodes here too (child_*).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "authority_ocsp.h"
#include "door.h"
#include "enrolld.h"
#include "renew.h"
#include "ucbuf.h"

/* ---- server-made keys answered but not yet delivered ----------------------------- */

struct pend {
	struct pend	*next;
	char		 serial[68];
};

struct pending {
	pthread_mutex_t	 mu;
	struct pend	*list;
	int		 dead;		/* the child is gone: undo at once */
};

struct pending *
pending_new(void)
{
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

static void
undo(struct enrolld *d, const char *serial, const char *why)
{
	int rearmed = 0;

	if (authority_redeem_undo(ed_auth(d), serial, &rearmed) != UC_OK)
		fprintf(stderr, "userca-enrolld: %s: could not revoke %s: %s\n",
		    why, serial, uc_errmsg());
	else
		fprintf(stderr, "userca-enrolld: %s: revoked %s "
		    "(cessationOfOperation)%s\n", why, serial, rearmed ?
		    ", its enrollment link works again" : "");
}

/* Track serial; when the child is already gone, undo it now. */
static void
pending_add(struct enrolld *d, struct pending *p, const char *serial)
{
	struct pend *e;
	int dead;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		undo(d, serial, "out of memory");
		return;
	}
	snprintf(e->serial, sizeof(e->serial), "%s", serial);
	pthread_mutex_lock(&p->mu);
	if (!(dead = p->dead)) {
		e->next = p->list;
		p->list = e;
	}
	pthread_mutex_unlock(&p->mu);
	if (dead) {
		undo(d, serial, "the network child died before the answer");
		free(e);
	}
}

/* 1 when serial was pending (and now is not). */
static int
pending_take(struct pending *p, const char *serial)
{
	struct pend **pp, *e;

	pthread_mutex_lock(&p->mu);
	for (pp = &p->list; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->serial, serial) == 0)
			break;
	e = *pp;
	if (e != NULL)
		*pp = e->next;
	pthread_mutex_unlock(&p->mu);
	free(e);
	return e != NULL;
}

void
pending_free(struct pending *p)
{
	struct pend *e;

	if (p == NULL)
		return;
	while ((e = p->list) != NULL) {
		p->list = e->next;
		free(e);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void
pending_fail(struct enrolld *d, struct pending *p)
{
	struct pend *e, *list;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->dead = 1;
	list = p->list;
	p->list = NULL;
	pthread_mutex_unlock(&p->mu);
	while ((e = list) != NULL) {
		list = e->next;
		undo(d, e->serial, "the network child died with a server-made "
		    "key");
		free(e);
	}
}

/* ---- answers ----------------------------------------------------------------------- */

static void
put_user(struct ucbuf *b, const struct authority_user *u)
{
	door_put_str(b, u->username);
	door_put_str(b, u->email);
	door_put_str(b, u->name);
	door_put_str(b, u->upn);
}

static void
answer_lookup(struct enrolld *d, const struct door_request *q,
    struct ucbuf *b)
{
	struct token_info ti;

	memset(&ti, 0, sizeof(ti));
	if (authority_token_lookup(ed_auth(d), q->token, &ti) != UC_OK) {
		fprintf(stderr, "userca-enrolld: token lookup: %s\n",
		    uc_errmsg());
		/* The child answers 404 for an unknown token. */
		ti.state = TOKEN_UNKNOWN;
	}
	door_put_u64(b, (uint64_t)ti.state);
	door_put_u64(b, (uint64_t)(ti.expires_at > 0 ? ti.expires_at : 0));
	door_put_u64(b, (uint64_t)(ti.used_at > 0 ? ti.used_at : 0));
	put_user(b, &ti.user);
	/* A renewal link: the certificate it replaces, and its fate. */
	door_put_str(b, ti.renews);
	door_put_u64(b, (uint64_t)(ti.renews != NULL &&
	    ti.renews_not_after > 0 ? ti.renews_not_after : 0));
	door_put_u64(b, (uint64_t)(ti.renews != NULL &&
	    ti.renews_revoke_old != 0));
	token_info_clear(&ti);
}

/* 1 for a refusal of the client's request (not logged as a failure). */
static int
refusal(int rc)
{
	return rc == UC_E_NOTFOUND || rc == UC_E_STATE || rc == UC_E_INVALID ||
	    rc == UC_E_POLICY || rc == UC_E_SIGNATURE;
}

/*
 * A redemption's answer (REDEEM, REDEEM_CSR, BY_CERT): rc, the token's
 * state, the error message, what was issued, and u (the user of a
 * server-made key; NULL: none).
 */
static void
put_answer(struct ucbuf *b, int rc, enum token_state st, const char *msg,
    const struct issue_result *res, const struct authority_user *u,
    const char *what)
{
	static const struct authority_user none;

	door_put_u64(b, (uint64_t)-rc);		/* UC_E_* are negative */
	door_put_u64(b, (uint64_t)st);
	door_put_str(b, msg);
	door_put_str(b, rc == UC_OK ? res->serial : NULL);
	door_put_u64(b, (uint64_t)(rc == UC_OK ? res->not_after : 0));
	door_put_bytes(b, res->cert_pem, rc == UC_OK ? res->cert_pem_len : 0);
	door_put_str(b, rc == UC_OK ? res->retry : NULL);
	door_put_u64(b, (uint64_t)(rc == UC_OK && res->retry != NULL ?
	    res->retry_until : 0));
	door_put_u64(b, (uint64_t)(rc == UC_OK && res->superseded != 0));
	door_put_u64(b, (uint64_t)(rc == UC_OK && res->again != 0));
	put_user(b, u != NULL ? u : &none);
	if (rc == UC_OK && res->superseded)
		fprintf(stderr, "userca-enrolld: %s issued %s and revoked the "
		    "certificate it replaces (superseded)\n", what,
		    res->serial);
	if (rc != UC_OK && !refusal(rc))
		fprintf(stderr, "userca-enrolld: %s: %s: %s\n", what,
		    uc_strerror(rc), msg);
}

/* A protocol door's issuance (rc, res) as its answer; clears res. */
static void
answer_issued(struct ucbuf *b, int rc, enum token_state st,
    struct issue_result *res, const char *method)
{
	char msg[512];

	msg[0] = '\0';
	if (rc != UC_OK)
		snprintf(msg, sizeof(msg), "%s", uc_errmsg());
	put_answer(b, rc, st, msg, res, NULL, method);
	issue_result_clear(res);
}

/* REDEEM_CSR: SCEP PKCSReq, EST simpleenroll with HTTP Basic. */
static void
answer_redeem_csr(struct enrolld *d, const struct door_request *q,
    struct ucbuf *b)
{
	struct issue_result res;
	enum token_state st = TOKEN_UNKNOWN;
	const char *method = q->method == DOOR_SCEP ? "scep" : "est";
	int rc;

	memset(&res, 0, sizeof(res));
	rc = authority_redeem_csr(ed_auth(d), q->token, q->has_user ? q->user :
	    NULL, q->csr, q->csrlen, method, d->conf.smime, &res, &st);
	answer_issued(b, rc, st, &res, method);
}

/* BY_CERT: SCEP RenewalReq, EST simplereenroll, EST simpleenroll. */
static void
answer_by_cert(struct enrolld *d, const struct door_request *q,
    struct ucbuf *b)
{
	static const char *const methods[] = { "", "scep-renew", "est-renew",
	    "est-cert" };
	struct issue_result res;
	const char *method = methods[q->method];
	int rc;

	memset(&res, 0, sizeof(res));
	/* The authority checks q->cert whole: ours, recorded, valid. */
	if (q->method == DOOR_EST_CERT)
		rc = authority_enroll_by_cert(ed_auth(d), q->cert, q->certlen, q->csr,
		    q->csrlen, method, &res);
	else
		rc = authority_renew_by_cert(ed_auth(d), q->cert, q->certlen, q->csr,
		    q->csrlen, method, &res);
	answer_issued(b, rc, TOKEN_UNKNOWN, &res, method);
}

/* CERT: the recorded certificate with a serial (SCEP GetCert, CertPoll). */
static void
answer_cert(struct enrolld *d, const struct door_request *q,
    struct ucbuf *b)
{
	struct authority_cert c;
	int found;

	memset(&c, 0, sizeof(c));
	found = authority_cert_get(ed_auth(d), q->serial, &c) == UC_OK &&
	    c.der != NULL && c.derlen > 0;
	if (!found)
		uc_clearerr();
	door_put_u64(b, (uint64_t)found);
	door_put_bytes(b, found ? c.der : NULL, found ? c.derlen : 0);
	authority_cert_clear(&c);
}

/* SCEP_TX: a PKCSReq or RenewalReq under its transactionID. */
static void
answer_scep_tx(struct enrolld *d, const struct door_request *q,
    struct ucbuf *b)
{
	struct issue_result res;
	enum token_state st = TOKEN_UNKNOWN;
	int rc;

	memset(&res, 0, sizeof(res));
	/* The authority checks q->cert whole (ours, recorded, valid). */
	rc = authority_scep_enroll(ed_auth(d), q->tid, q->token, q->certlen > 0 ?
	    q->cert : NULL, q->certlen, q->csr, q->csrlen, d->conf.smime, &res,
	    &st);
	answer_issued(b, rc, st, &res, q->certlen > 0 ? "scep-renew" : "scep");
}

/* SCEP_POLL: CertPoll's certificate, for the transaction's signer only. */
static void
answer_scep_poll(struct enrolld *d, const struct door_request *q,
    struct ucbuf *b)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int found;

	found = authority_scep_poll(ed_auth(d), q->tid, q->keyhash, &der,
	    &len) == UC_OK;
	if (!found)
		uc_clearerr();
	door_put_u64(b, (uint64_t)found);
	door_put_bytes(b, der, len);
	free(der);
}

static void
answer_redeem(struct enrolld *d, struct pending *p,
    const struct door_request *q, struct ucbuf *b)
{
	struct redeem_req rr;
	struct issue_result res;
	enum token_state st = TOKEN_UNKNOWN;
	char msg[512];
	int rc;

	memset(&rr, 0, sizeof(rr));
	rr.token = q->token;
	rr.spki = q->spki;
	rr.spkilen = q->spkilen;
	rr.server_key = q->method != DOOR_CSR;
	rr.smime = d->conf.smime;
	rr.p12_format = P12_LEGACY;	/* no PKCS#12 is built here */
	rr.retry_window = rr.server_key ? __atomic_load_n(
	    &d->conf.retry_window, __ATOMIC_RELAXED) : 0;
	rr.retry = q->retry[0] != '\0' ? q->retry : NULL;
	rc = authority_redeem(ed_auth(d), &rr, &res, &st);
	msg[0] = '\0';
	if (rc != UC_OK)
		snprintf(msg, sizeof(msg), "%s", uc_errmsg());
	else if (rr.server_key && res.user.username == NULL) {
		/* The bundle's friendly name and profile need the user. */
		/* Committed, but whose?  Not released: undone here. */
		snprintf(msg, sizeof(msg), "the token's user could not be "
		    "read");
		undo(d, res.serial, "a redemption without its user");
		issue_result_clear(&res);
		rc = UC_E_INTERNAL;
	}
	if (rc == UC_OK && rr.server_key)
		pending_add(d, p, res.serial);
	put_answer(b, rc, st, msg, &res, rc == UC_OK && rr.server_key ?
	    &res.user : NULL, q->retry[0] != '\0' ? "a retry" : "enroll");
	if (rc == UC_OK)
		issue_result_clear(&res);
}

static void
answer_ocsp(struct enrolld *d, const struct door_request *q, struct ucbuf *b)
{
	struct ocsp_answer ans;

	memset(&ans, 0, sizeof(ans));
	if (authority_ocsp_respond(ed_auth(d), q->der, q->derlen, &ans) != UC_OK) {
		/* The child answers 500 for an empty response. */
		ocsp_answer_clear(&ans);
		memset(&ans, 0, sizeof(ans));
		ans.status = AOCSP_INTERNAL;
	}
	door_put_u64(b, (uint64_t)(ans.status >= 0 && ans.status <= 6 ?
	    ans.status : AOCSP_INTERNAL));
	door_put_u64(b, (uint64_t)(ans.nonce != 0));
	door_put_u64(b, (uint64_t)(ans.cached != 0));
	door_put_u64(b, (uint64_t)ans.good);
	door_put_u64(b, (uint64_t)ans.revoked);
	door_put_u64(b, (uint64_t)ans.unknown);
	door_put_u64(b, (uint64_t)ans.this_update);
	door_put_u64(b, (uint64_t)ans.next_update);
	door_put_u64(b, (uint64_t)(ans.max_age > 0 ? ans.max_age : 0));
	/* Read before and after the statuses: the child's cache rule. */
	door_put_u64(b, ans.epoch);
	door_put_u64(b, ans.epoch_after);
	door_put_str(b, ans.etag);
	door_put_bytes(b, ans.der, ans.len);
	ocsp_answer_clear(&ans);
}

void
monitor_metrics(struct enrolld *d, struct ucbuf *b)
{
	static const int days[] = { 7, 30 };
	X509 *iss;
	int64_t nb, na;
	long n;
	size_t i;

	ucbuf_printf(b, "# HELP userca_certificates_expiring Users whose "
	    "newest valid certificate expires within the window, not "
	    "renewed yet.\n# TYPE userca_certificates_expiring gauge\n");
	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		if (authority_due_count(ed_auth(d), days[i] * 86400, &n) == UC_OK)
			ucbuf_printf(b, "userca_certificates_expiring{within="
			    "\"%dd\"} %ld\n", days[i], n);
	iss = authority_issuing_cert(ed_auth(d));
	/* Roll the issuing CA over well before this reaches 0. */
	if (iss != NULL && uc_asn1_time(X509_get0_notAfter(iss), &na) == UC_OK)
		ucbuf_printf(b, "# HELP userca_issuing_ca_expiry_seconds "
		    "Seconds until the issuing CA's certificate expires.\n"
		    "# TYPE userca_issuing_ca_expiry_seconds gauge\n"
		    "userca_issuing_ca_expiry_seconds %lld\n",
		    (long long)(na - uc_now()));
	if (authority_ocsp_responder(ed_auth(d), &nb, &na))
		ucbuf_printf(b, "# HELP userca_ocsp_responder_expiry_seconds "
		    "Seconds until the OCSP responder certificate expires.\n"
		    "# TYPE userca_ocsp_responder_expiry_seconds gauge\n"
		    "userca_ocsp_responder_expiry_seconds %lld\n",
		    (long long)(na - uc_now()));
}

int
monitor_answer_for(struct enrolld *d, struct pending *p, uint16_t type,
    const unsigned char *body, size_t len, struct ucbuf *b)
{
	struct door_request q;
	struct ucbuf text = UCBUF_INIT(0, 0);
	int rc;

	if ((rc = door_parse_request(type, body, len, &q)) != UC_OK)
		return rc;
	switch (type) {
	case DOOR_LOOKUP:
		answer_lookup(d, &q, b);
		break;
	case DOOR_REDEEM:
		answer_redeem(d, p, &q, b);
		break;
	case DOOR_OCSP:
		answer_ocsp(d, &q, b);
		break;
	case DOOR_METRICS:
		monitor_metrics(d, &text);
		door_put_bytes(b, text.p, text.err == UC_OK ? text.len : 0);
		ucbuf_free(&text);
		break;
	case DOOR_REDEEM_CSR:
		answer_redeem_csr(d, &q, b);
		break;
	case DOOR_BY_CERT:
		answer_by_cert(d, &q, b);
		break;
	case DOOR_CERT:
		answer_cert(d, &q, b);
		break;
	case DOOR_SCEP_TX:
		answer_scep_tx(d, &q, b);
		break;
	case DOOR_SCEP_POLL:
		answer_scep_poll(d, &q, b);
		break;
	case DOOR_DELIVERED:
		/* Only a serial this child was given can be undone. */
		if (pending_take(p, q.serial) && !q.delivered)
			undo(d, q.serial, "the answer did not reach the "
			    "client");
		break;
	}
	door_request_clear(&q);
	return UC_OK;
}

int
monitor_answer(void *arg, uint16_t type, const unsigned char *body,
    size_t len, struct ucbuf *reply)
{
	struct enrolld *d = arg;

	return monitor_answer_for(d, d->pending, type, body, len, reply);
}

/* ---- HELLO and PUBLISHED ------------------------------------------------------------- */

/* A PEM of x (or k) as a bytes field; empty when there is none. */
static void
put_pem(struct ucbuf *b, X509 *x, EVP_PKEY *k)
{
	unsigned char *pem = NULL;
	size_t len = 0;

	if ((x != NULL && cert_to_pem(x, &pem, &len) != UC_OK) ||
	    (k != NULL && key_to_pem(k, &pem, &len) != UC_OK)) {
		b->err = UC_E_INTERNAL;
		return;
	}
	door_put_bytes(b, pem, len);
	if (k != NULL)
		secret_free_buf(pem, len);
	else
		free(pem);
}

int
monitor_hello(struct enrolld *d, int quiet, const unsigned char *cert,
    size_t certlen, const unsigned char *key, size_t keylen, X509 *ra,
    EVP_PKEY *rakey, struct ucbuf *b)
{
	const struct ca_conf *cc = authority_conf(ed_auth(d));
	const struct econf *c = &d->conf;
	int i;

	door_put_u64(b, c->max_body);
	door_put_u64(b, (uint64_t)c->rate_limit);
	door_put_u64(b, (uint64_t)c->request_timeout);
	door_put_u64(b, (uint64_t)c->per_address);
	door_put_u64(b, (uint64_t)c->timeout);
	door_put_u64(b, (uint64_t)c->drain);
	door_put_u64(b, (uint64_t)c->max_connections);
	door_put_u64(b, (uint64_t)c->allow_plain_http);
	door_put_u64(b, (uint64_t)(quiet != 0));
	door_put_u64(b, (uint64_t)(c->scep_allow_des != 0));
	door_put_str(b, c->default_p12_format);
	door_put_str(b, c->tls_priorities);
	door_put_str(b, authority_user_key_type(ed_auth(d)));
	door_put_str(b, cc->org);
	door_put_str(b, cc->eas_host);
	door_put_str(b, cc->eas_domain);
	door_put_str(b, c->http_listen);
	door_put_str(b, c->https_listen);
	door_put_str(b, c->home);
	door_put_str(b, c->est_listen);
	door_put_str(b, cc->base_url);
	door_put_bytes(b, cert, certlen);
	door_put_bytes(b, key, keylen);
	/* The SCEP RA: a transport key, the child's like the TLS key. */
	put_pem(b, ra != NULL && rakey != NULL ? ra : NULL, NULL);
	put_pem(b, NULL, ra != NULL && rakey != NULL ? rakey : NULL);
	for (i = 0; i < NWEB; i++)
		door_put_bytes(b, d->web[i] != NULL ? d->web[i]->data : NULL,
		    d->web[i] != NULL ? d->web[i]->len : 0);
	return b->err;
}

/* A string setting from a HELLO: replace *dst (never NULL after). */
static void
take_str(struct door_rd *r, size_t max, char **dst, int empty_null)
{
	char *s = door_get_str(r, max);

	if (s == NULL)
		return;
	if (empty_null && s[0] == '\0') {
		free(s);
		s = NULL;
	}
	free(*dst);
	*dst = s;
}

static struct blob *
blob_of(const unsigned char *p, size_t len)
{
	struct blob *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->refs = 1;
	if ((b->data = malloc(len > 0 ? len : 1)) == NULL) {
		free(b);
		return NULL;
	}
	if (len > 0)
		memcpy(b->data, p, len);
	b->len = len;
	return b;
}

/* An unencrypted PEM private key from memory, or NULL. */
static EVP_PKEY *
pem_key(const unsigned char *p, size_t len)
{
	static char nopass[] = "";
	BIO *b;
	EVP_PKEY *k = NULL;

	if (len > INT32_MAX || (b = BIO_new_mem_buf(p, (int)len)) == NULL)
		return NULL;
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, nopass);
	BIO_free(b);
	ERR_clear_error();
	return k;
}

/* HELLO's SCEP RA pair (both NULL when it has none; r->bad if odd). */
static void
hello_ra(struct door_rd *r, X509 **ra, EVP_PKEY **rakey)
{
	const unsigned char *cp, *kp;
	size_t cn = 0, kn = 0;

	*ra = NULL;
	*rakey = NULL;
	cp = door_get_bytes(r, 64 * 1024, &cn);
	kp = door_get_bytes(r, 64 * 1024, &kn);
	if (r->bad || (cn == 0 && kn == 0))
		return;
	if (cn == 0 || kn == 0 || cert_parse(cp, cn, ra) != UC_OK ||
	    (*rakey = pem_key(kp, kn)) == NULL) {
		uc_clearerr();
		X509_free(*ra);
		*ra = NULL;
		r->bad = 1;
	}
}

int
child_hello(struct enrolld *d, const unsigned char *body, size_t len,
    int *quiet, unsigned char **cert, size_t *certlen, unsigned char **key,
    size_t *keylen)
{
	struct econf *c = &d->conf;
	struct door_rd r;
	const unsigned char *p;
	struct blob *web[NWEB];
	X509 *ra = NULL;
	EVP_PKEY *rakey = NULL;
	size_t n;
	int i, des;

	*cert = *key = NULL;
	*certlen = *keylen = 0;
	door_rd_init(&r, body, len);
	__atomic_store_n(&c->max_body, (size_t)door_get_u64(&r, 1 << 30),
	    __ATOMIC_RELAXED);
	__atomic_store_n(&c->rate_limit, (int)door_get_u64(&r, 1000000),
	    __ATOMIC_RELAXED);
	__atomic_store_n(&c->request_timeout, (int)door_get_u64(&r,
	    INT32_MAX), __ATOMIC_RELAXED);
	__atomic_store_n(&c->per_address, (int)door_get_u64(&r, 65536),
	    __ATOMIC_RELAXED);
	/* The main thread reads them when it starts a listener again. */
	__atomic_store_n(&c->timeout, (int)door_get_u64(&r, INT32_MAX),
	    __ATOMIC_RELAXED);
	__atomic_store_n(&c->drain, (int)door_get_u64(&r, INT32_MAX),
	    __ATOMIC_RELAXED);
	__atomic_store_n(&c->max_connections, (int)door_get_u64(&r, 65536),
	    __ATOMIC_RELAXED);
	__atomic_store_n(&c->allow_plain_http, (int)door_get_u64(&r, 1),
	    __ATOMIC_RELAXED);
	*quiet = (int)door_get_u64(&r, 1);
	des = (int)door_get_u64(&r, 1);
	/* Read by request threads only after the first HELLO. */
	if (d->user_key == NULL) {
		take_str(&r, 32, &c->default_p12_format, 0);
		take_str(&r, 4096, &c->tls_priorities, 0);
		take_str(&r, 32, &d->user_key, 0);
		take_str(&r, 1024, &d->org, 0);
		take_str(&r, 1024, &d->eas_host, 1);
		take_str(&r, 1024, &d->eas_domain, 1);
		take_str(&r, 256, &c->http_listen, 1);
		take_str(&r, 256, &c->https_listen, 1);
		take_str(&r, 4096, &c->home, 0);
		take_str(&r, 256, &c->est_listen, 1);
		take_str(&r, 1024, &d->base_url, 0);
		c->scep_allow_des = des;
	} else
		for (i = 0; i < 11; i++)
			free(door_get_str(&r, 4096));
	if ((p = door_get_bytes(&r, 1024 * 1024, &n)) != NULL && n > 0 &&
	    (*cert = malloc(n)) != NULL) {
		memcpy(*cert, p, n);
		*certlen = n;
	}
	if ((p = door_get_bytes(&r, 64 * 1024, &n)) != NULL && n > 0 &&
	    (*key = malloc(n)) != NULL) {
		memcpy(*key, p, n);
		*keylen = n;
	}
	hello_ra(&r, &ra, &rakey);
	for (i = 0; i < NWEB; i++) {
		web[i] = NULL;
		if ((p = door_get_bytes(&r, 4 * 1024 * 1024, &n)) != NULL &&
		    n > 0)
			web[i] = blob_of(p, n);
	}
	if (door_rd_end(&r) != UC_OK || d->user_key == NULL) {
		X509_free(ra);
		EVP_PKEY_free(rakey);
		for (i = 0; i < NWEB; i++)
			blob_unref(web[i]);
		free(*cert);
		secret_free_buf(*key, *keylen);
		*cert = *key = NULL;
		return uc_seterr(UC_E_INVALID, "malformed HELLO");
	}
	/* Swapped under publock: requests read them with a reference. */
	pthread_rwlock_wrlock(&d->publock);
	for (i = 0; i < NWEB; i++) {
		struct blob *old = d->web[i];

		d->web[i] = web[i];
		web[i] = old;
	}
	pthread_rwlock_unlock(&d->publock);
	for (i = 0; i < NWEB; i++)
		blob_unref(web[i]);
	if (ra != NULL)
		enrolld_set_scep_ra(d, ra, rakey);
	if (*cert != NULL && *key != NULL)
		enrolld_set_profile_signer(d, *cert, *certlen, *key, *keylen);
	return UC_OK;
}

int
monitor_published(struct enrolld *d, struct ucbuf *b)
{
	struct pubset *ps;
	const struct pubfile *f;
	int i;

	pthread_rwlock_rdlock(&d->publock);
	door_put_u64(b, d->generation);
	door_put_u64(b, (uint64_t)(d->healthy != 0));
	door_put_u64(b, (uint64_t)(d->runway > 0 ? d->runway : 0));
	door_put_u64(b, (uint64_t)(d->runway_until > 0 ? d->runway_until :
	    0));
	door_put_str(b, d->health_why);
	door_put_str(b, d->health_warn);
	pthread_rwlock_unlock(&d->publock);
	if ((ps = pub_get(d)) == NULL)
		return uc_seterr(UC_E_STATE, "nothing published yet");
	for (i = 0; i < NPUB; i++) {
		f = &ps->f[i];
		door_put_u64(b, (uint64_t)(f->body != NULL));
		door_put_u64(b, (uint64_t)f->mtime);
		door_put_u64(b, (uint64_t)f->next_update);
		door_put_u64(b, (uint64_t)f->crl_number);
		door_put_u64(b, (uint64_t)f->crl_entries);
		door_put_str(b, f->etag);
		door_put_bytes(b, f->body != NULL ? f->body->data : NULL,
		    f->body != NULL ? f->body->len : 0);
	}
	pub_put(ps);
	return b->err;
}

int
child_published(struct enrolld *d, const unsigned char *body, size_t len)
{
	struct door_rd r;
	struct pubset *ps;
	struct pubfile *f;
	const unsigned char *p;
	char *why = NULL, *warn = NULL, *etag;
	uint64_t gen;
	size_t n;
	int i, healthy, present;
	long runway;
	int64_t runway_until;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	ps->refs = 1;
	pub_names(ps);
	door_rd_init(&r, body, len);
	gen = door_get_u64(&r, UINT64_MAX);
	healthy = (int)door_get_u64(&r, 1);
	runway = (long)door_get_u64(&r, INT32_MAX);
	runway_until = (int64_t)door_get_u64(&r, INT64_MAX);
	why = door_get_str(&r, 511);
	warn = door_get_str(&r, 255);
	for (i = 0; i < NPUB; i++) {
		f = &ps->f[i];
		present = (int)door_get_u64(&r, 1);
		f->mtime = (int64_t)door_get_u64(&r, INT64_MAX);
		f->next_update = (int64_t)door_get_u64(&r, INT64_MAX);
		f->crl_number = (int64_t)door_get_u64(&r, INT64_MAX);
		f->crl_entries = (long)door_get_u64(&r, INT32_MAX);
		if ((etag = door_get_str(&r, sizeof(f->etag) - 1)) != NULL)
			snprintf(f->etag, sizeof(f->etag), "%s", etag);
		free(etag);
		p = door_get_bytes(&r, DOOR_MAX_BODY, &n);
		if (present && !r.bad && (f->body = blob_of(p, n)) == NULL)
			r.bad = 1;
	}
	if (door_rd_end(&r) != UC_OK) {
		free(why);
		free(warn);
		pub_put(ps);	/* the old set stays */
		return uc_seterr(UC_E_INVALID, "malformed PUBLISHED");
	}
	pthread_rwlock_wrlock(&d->publock);
	d->generation = gen;
	d->healthy = healthy;
	d->runway = runway;
	d->runway_until = runway_until;
	snprintf(d->health_why, sizeof(d->health_why), "%s", why);
	snprintf(d->health_warn, sizeof(d->health_warn), "%s", warn);
	pthread_rwlock_unlock(&d->publock);
	free(why);
	free(warn);
	pub_issuing(ps);
	pub_swap(d, ps);
	return UC_OK;
}
