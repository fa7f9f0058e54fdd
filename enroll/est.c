/*
 * est.c: EST (RFC 7030) at /.well-known/est/ on the [est] listener
 * (HTTPS, a client certificate asked for but optional; DESIGN 6).
 *
 *   GET  cacerts         the issuing CA and the root, certs-only PKCS#7
 *   GET  csrattrs        the key and signature algorithms we expect
 *   POST simpleenroll    HTTP Basic (user + one-time token), or a TLS
 *                        client certificate of ours: one more certificate
 *                        for its user
 *   POST simplereenroll  the TLS client certificate being renewed
 *
 * Bodies are base64 (RFC 7030 4.1.3) both ways, errors plain text, a
 * missing credential 401 with WWW-Authenticate.  Identity always comes
 * from the token or the certificate's record, never from the CSR; the
 * authority checks the client certificate again (ours, recorded, valid,
 * not revoked) whatever GnuTLS did in the handshake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "enrolld.h"
#include "pki_est.h"
#include "pki_scep.h"

#define EST_PREFIX	"/.well-known/est/"
#define P7_TYPE		"application/pkcs7-mime; smime-type=certs-only"

int
est_route(const char *path)
{
	return strncmp(path, EST_PREFIX, sizeof(EST_PREFIX) - 1) == 0;
}

/* A plain-text answer: msg and a newline. */
static void
text(struct resp *r, int status, const char *msg)
{
	size_t n = strlen(msg);
	char *s;

	r->status = status;
	r->type = "text/plain; charset=utf-8";
	if ((s = malloc(n + 2)) != NULL) {
		memcpy(s, msg, n);
		s[n] = '\n';
		s[n + 1] = '\0';
		r->body = (unsigned char *)s;
		r->len = n + 1;
	}
}

static void
need_auth(struct resp *r, const char *why)
{
	text(r, 401, why);
	snprintf(r->xhdr[0].name, sizeof(r->xhdr[0].name),
	    "WWW-Authenticate");
	snprintf(r->xhdr[0].value, sizeof(r->xhdr[0].value),
	    "Basic realm=\"userca EST\"");
}

/* der as a base64 body of the given type. */
static void
b64_body(struct resp *r, const char *type, const unsigned char *der,
    size_t len)
{
	char *b64;
	size_t n;

	if (est_b64_encode(der, len, &b64, &n) != UC_OK) {
		text(r, 503, "out of memory");
		return;
	}
	r->status = 200;
	r->type = type;
	r->body = (unsigned char *)b64;
	r->len = n;
	snprintf(r->hdr_name, sizeof(r->hdr_name),
	    "Content-Transfer-Encoding");
	snprintf(r->hdr_value, sizeof(r->hdr_value), "base64");
	snprintf(r->cache_control, sizeof(r->cache_control), "no-store");
}

static void
cacerts(struct enrolld *d, struct resp *r)
{
	X509 *c[2];
	unsigned char *der = NULL;
	size_t n = 0, len;

	c[n++] = authority_issuing_cert(ed_auth(d));
	if (authority_root_cert(ed_auth(d)) != NULL &&
	    authority_root_cert(ed_auth(d)) != c[0])
		c[n++] = authority_root_cert(ed_auth(d));
	if (pki_certs_p7(c, n, NULL, &der, &len) != UC_OK) {
		text(r, 503, "cacerts could not be made");
		return;
	}
	b64_body(r, P7_TYPE, der, len);
	free(der);
}

static void
csrattrs(struct enrolld *d, struct resp *r)
{
	const struct profile *p = profile_find(authority_conf(ed_auth(d))->profile);
	unsigned char *der = NULL;
	size_t len;

	if (est_csrattrs(p != NULL ? p->user : KT_EC_P256, &der, &len) !=
	    UC_OK) {
		text(r, 503, "csrattrs could not be made");
		return;
	}
	b64_body(r, "application/csrattrs", der, len);
	free(der);
}

/*
 * "Basic base64(user:password)" into *user and *pass (one buffer: free
 * *user with secret_free_buf(*user, *len)).  0 when it is not that.
 */
static int
basic_auth(const char *h, char **user, char **pass, size_t *len)
{
	unsigned char *dec = NULL;
	char *colon;
	size_t n, at;

	*user = *pass = NULL;
	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	if (est_b64_decode((const unsigned char *)h + 6, strlen(h + 6), &dec,
	    &n) != UC_OK) {
		uc_clearerr();
		return 0;
	}
	/* As a C string: no NUL inside, one added. */
	if (memchr(dec, '\0', n) != NULL ||
	    (colon = memchr(dec, ':', n)) == NULL) {
		secret_free_buf(dec, n);
		return 0;
	}
	/* A copy, not realloc(): the old buffer would be freed unwiped. */
	at = (size_t)(colon - (char *)dec);
	if ((*user = malloc(n + 1)) == NULL) {
		secret_free_buf(dec, n);
		return 0;
	}
	memcpy(*user, dec, n);
	secret_free_buf(dec, n);
	colon = *user + at;
	(*user)[n] = '\0';
	*colon = '\0';
	*pass = colon + 1;
	*len = n + 1;
	return 1;
}

/* The CSR of the body: base64 (RFC 7030) or, tolerated, DER. */
static int
body_csr(const struct req *q, unsigned char **csr, size_t *len)
{
	*csr = NULL;
	if (q->bodylen == 0)
		return uc_seterr(UC_E_INVALID, "the body is empty: send a "
		    "base64 PKCS#10");
	if (q->body[0] == 0x30) {
		if ((*csr = malloc(q->bodylen)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		memcpy(*csr, q->body, q->bodylen);
		*len = q->bodylen;
		return UC_OK;
	}
	return est_b64_decode(q->body, q->bodylen, csr, len);
}

/* The leaf of res as a certs-only PKCS#7, base64. */
static void
issued(struct enrolld *d, struct resp *r, struct issue_result *res,
    const char *kind)
{
	BIO *b;
	X509 *x = NULL;
	unsigned char *der = NULL;
	size_t len;

	if ((b = BIO_new_mem_buf(res->cert_pem, (int)res->cert_pem_len)) !=
	    NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL || pki_certs_p7(&x, 1, NULL, &der, &len) != UC_OK) {
		text(r, 503, "the certificate could not be encoded");
		X509_free(x);
		return;
	}
	metrics_issue(d->m, kind);
	b64_body(r, P7_TYPE, der, len);
	snprintf(r->xhdr[1].name, sizeof(r->xhdr[1].name), "X-Userca-Serial");
	snprintf(r->xhdr[1].value, sizeof(r->xhdr[1].value), "%s",
	    res->serial);
	free(der);
	X509_free(x);
}

/*
 * An authority refusal as a status and a sentence: a bad token 401 (used
 * or expired 403), a certificate that may not enroll 403, a bad CSR 400.
 */
static void
refused(struct enrolld *d, const struct req *q, struct resp *r, int rc,
    int basic)
{
	char msg[256], *p;

	snprintf(msg, sizeof(msg), "%s", uc_errmsg());
	/* A sentence for people; OpenSSL's codes stay in our logs. */
	if ((p = strstr(msg, " (error:")) != NULL)
		*p = '\0';
	if (rc == UC_E_NOTFOUND || rc == UC_E_STATE) {
		ratelimit_fail(d->rl, q->client, uc_now());
		if (basic && rc == UC_E_NOTFOUND)
			need_auth(r, msg);
		else
			text(r, 403, msg);
	} else if (rc == UC_E_INVALID || rc == UC_E_POLICY ||
	    rc == UC_E_SIGNATURE)
		text(r, 400, msg);
	else {
		fprintf(stderr, "userca-enrolld: EST: %s: %s\n",
		    uc_strerror(rc), uc_errmsg());
		text(r, 503, "issuance failed; try again later");
	}
}

static void
enroll(struct enrolld *d, const struct req *q, struct resp *r, int renew)
{
	struct issue_result res;
	enum token_state st;
	unsigned char *csr = NULL;
	char *user = NULL, *pass = NULL;
	size_t csrlen = 0, ulen = 0;
	int rc, basic;

	memset(&res, 0, sizeof(res));
	basic = !renew && basic_auth(q->authorization, &user, &pass, &ulen);
	if (!basic && q->peer_cert == NULL) {
		need_auth(r, renew ? "simplereenroll needs the TLS client "
		    "certificate being renewed" : "credentials needed: HTTP "
		    "Basic (user and enrollment token) or a TLS client "
		    "certificate");
		goto out;
	}
	/* A certificate client is not limited: the handshake proved it. */
	if (basic && !token_may_try(d, q->client, pass)) {
		text(r, 429, "too many failed attempts from this "
		    "address; wait a minute");
		goto out;
	}
	if ((rc = body_csr(q, &csr, &csrlen)) != UC_OK) {
		text(r, 400, uc_errmsg());
		goto out;
	}
	if (basic)
		rc = authority_redeem_csr(ed_auth(d), pass, user, csr, csrlen, "est",
		    d->conf.smime, &res, &st);
	else if (renew)
		rc = authority_renew_by_cert(ed_auth(d), q->peer_cert,
		    q->peer_certlen, csr, csrlen, "est-renew", &res);
	else
		rc = authority_enroll_by_cert(ed_auth(d), q->peer_cert,
		    q->peer_certlen, csr, csrlen, "est-cert", &res);
	if (rc != UC_OK) {
		refused(d, q, r, rc, basic);
		goto out;
	}
	issued(d, r, &res, basic ? "est" : renew ? "est-renew" : "est-cert");
out:
	issue_result_clear(&res);
	free(csr);
	secret_free_buf((unsigned char *)user, ulen);
}

void
est_serve(struct enrolld *d, const struct req *q, struct resp *r)
{
	const char *op = q->path + sizeof(EST_PREFIX) - 1;
	int get = strcmp(q->method, "GET") == 0 ||
	    strcmp(q->method, "HEAD") == 0;
	int post = strcmp(q->method, "POST") == 0;

	r->route = "/.well-known/est";
	if (!q->est) {
		text(r, 404, "EST is served on its own listener "
		    "([est] listen)");
		return;
	}
	if (strcmp(op, "cacerts") == 0 || strcmp(op, "csrattrs") == 0) {
		if (!get) {
			snprintf(r->allow, sizeof(r->allow), "GET, HEAD");
			text(r, 405, "use GET");
		} else if (op[1] == 'a')
			cacerts(d, r);
		else
			csrattrs(d, r);
		return;
	}
	if (strcmp(op, "simpleenroll") == 0 ||
	    strcmp(op, "simplereenroll") == 0) {
		if (!post) {
			snprintf(r->allow, sizeof(r->allow), "POST");
			text(r, 405, "use POST");
		} else
			enroll(d, q, r, op[6] == 'r');
		return;
	}
	text(r, 404, "no such EST operation (cacerts, csrattrs, "
	    "simpleenroll, simplereenroll)");
}
