/*
 * ocsp.c: the OCSP routes of the daemon (RFC 6960 appendix A): POST /ocsp
 * with an application/ocsp-request body, GET /ocsp/<base64 request> for
 * caches (RFC 5019), the responder's renewal and health, and its metrics.
 * The answers themselves come from the authority (authority_ocsp.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/ocsp.h>

#include "authority_ocsp.h"
#include "door.h"
#include "enrolld.h"
#include "pki_ocsp.h"
#include "ucbuf.h"

/* A GET request's base64 is at most this long (a 16 KiB request). */
#define OCSP_GET_MAX	(22 * 1024)

static const char *const status_names[] = {
	"successful", "malformedRequest", "internalError", "tryLater",
	"unknown4", "sigRequired", "unauthorized",
};

/* Counters for /metrics; one daemon per process. */
static unsigned long	by_status[7];
static unsigned long	by_cert[3];	/* good, revoked, unknown */
static unsigned long	kept_hits;
static unsigned long	child_hits;

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')	/* base64url too */
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * The request in a GET path: URL-decoded (%XX; a space is a '+' some
 * client failed to encode), base64 or base64url, padding optional, line
 * breaks ignored.
 * Returns a new buffer (caller frees) or NULL when it is not base64.
 */
unsigned char *
get_decode(const char *s, size_t max, size_t *outlen)
{
	size_t len = strlen(s), i, n = 0, o = 0;
	unsigned char *out = NULL;
	char *t = NULL;
	unsigned acc = 0;
	int bits = 0, v, pad = 0, h1, h2;

	if (len == 0 || len > max || (t = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    (h1 = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (h2 = hexval((unsigned char)s[i + 2])) >= 0) {
			t[n++] = (char)(h1 << 4 | h2);
			i += 2;
		} else
			t[n++] = s[i] == ' ' ? '+' : s[i];
	}
	if ((out = malloc(n / 4 * 3 + 3)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		/* Line breaks (%0A every 64 characters: sscep, strongSwan). */
		if (t[i] == '\n' || t[i] == '\r')
			continue;
		if (t[i] == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val((unsigned char)t[i])) < 0)
			goto fail;	/* data after padding, or not base64 */
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6 || o == 0)
		goto fail;
	free(t);
	*outlen = o;
	return out;
fail:
	free(t);
	free(out);
	return NULL;
}

static int
content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' ||
	    ct[n] == ';' || ct[n] == ' ');
}

/* One answer for /metrics; hits: the monitor's kept answers, or ours. */
static void
count_answer(int status, int good, int revoked, int unknown,
    unsigned long *hits)
{
	if (status >= 0 && status < 7)
		__atomic_add_fetch(&by_status[status], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&by_cert[0], (unsigned long)good, __ATOMIC_RELAXED);
	__atomic_add_fetch(&by_cert[1], (unsigned long)revoked,
	    __ATOMIC_RELAXED);
	__atomic_add_fetch(&by_cert[2], (unsigned long)unknown,
	    __ATOMIC_RELAXED);
	if (hits != NULL)
		__atomic_add_fetch(hits, 1, __ATOMIC_RELAXED);
}

/*
 * What the pre-check makes of a request: AOCSP_MALFORMED, or
 * AOCSP_SUCCESSFUL when a CertID names a certificate of an issuing CA in
 * service (the current one, or one a rollover replaced: the monitor
 * answers for it), else AOCSP_UNAUTHORIZED.
 */
static int
precheck_status(const struct pubset *ps, const unsigned char *body,
    size_t len, int *nonce)
{
	OCSP_REQUEST *req = NULL;
	struct ocsp_query *oq = NULL;
	size_t n = 0, i;
	int c, ours = 0, status = AOCSP_UNAUTHORIZED;

	for (c = -1; c < ps->nprev && ours == 0; c++) {
		if (ocsp_request_parse(body, len, c < 0 ? ps->issuing :
		    ps->prev[c], &req, &oq, &n, nonce) != UC_OK) {
			uc_clearerr();
			return AOCSP_MALFORMED;
		}
		for (i = 0; i < n; i++)
			ours += oq[i].ours;
		OCSP_REQUEST_free(req);
		free(oq);
		req = NULL;
		oq = NULL;
	}
	if (ours > 0)
		status = AOCSP_SUCCESSFUL;
	return status;
}

/*
 * The child parses the request first: one that is malformed, or about no
 * certificate of an issuing CA in service, is answered here (unsigned,
 * as the monitor would) and never reaches the monitor.  1 when ans holds
 * that answer; 0: ask the monitor.
 */
static int
precheck(struct enrolld *d, const unsigned char *body, size_t len,
    struct ocsp_answer *ans)
{
	struct pubset *ps;
	unsigned char *der = NULL;
	size_t dlen;
	int nonce = 0, status;

	if ((ps = pub_get(d)) == NULL || ps->issuing == NULL) {
		pub_put(ps);
		return 0;	/* the monitor knows */
	}
	status = precheck_status(ps, body, len, &nonce);
	pub_put(ps);
	if (status == AOCSP_SUCCESSFUL ||
	    ocsp_response_error(status, &der, &dlen) != UC_OK)
		return 0;
	memset(ans, 0, sizeof(*ans));
	if ((ans->der = malloc(dlen)) == NULL) {
		OPENSSL_free(der);
		return 0;
	}
	memcpy(ans->der, der, dlen);
	ans->len = dlen;
	ans->status = status;
	ans->nonce = nonce;
	OPENSSL_free(der);
	return 1;
}

/*
 * The caching headers of a successful answer without a nonce (RFC 5019
 * 6.2: max-age never past nextUpdate); 1 when a GET's condition holds
 * and the answer is a 304.
 */
static int
cache_headers(const struct req *q, struct resp *r, int get,
    int64_t this_update, int max_age, const char *etag, int64_t now)
{
	int64_t ims;

	snprintf(r->cache_control, sizeof(r->cache_control),
	    "public, max-age=%d, no-transform", max_age);
	snprintf(r->etag, sizeof(r->etag), "%s", etag);
	http_date(this_update, r->last_modified, sizeof(r->last_modified));
	snprintf(r->hdr_name, sizeof(r->hdr_name), "Expires");
	http_date(now + max_age, r->hdr_value, sizeof(r->hdr_value));
	return get && ((q->if_none_match != NULL &&
	    etag_match(q->if_none_match, etag)) ||
	    (q->if_none_match == NULL && q->if_modified_since != NULL &&
	    (ims = parse_http_date(q->if_modified_since)) >= 0 &&
	    this_update <= ims));
}

/* A kept answer (ocspcache.c): no parse, no monitor. */
static void
serve_hit(const struct req *q, struct resp *r, int get, struct ocsp_hit *h,
    int64_t now)
{
	count_answer(AOCSP_SUCCESSFUL, h->good, h->revoked, h->unknown,
	    &child_hits);
	r->status = 200;
	r->type = "application/ocsp-response";
	if (cache_headers(q, r, get, h->this_update, h->max_age, h->etag,
	    now)) {
		r->status = 304;
		blob_unref(h->ans);
	} else
		r->blob = h->ans;	/* now owned by the response */
	h->ans = NULL;
}

/*
 * The request's DER: a POST's body, a GET's decoded path (*dec, caller
 * frees).  0 when r already holds an HTTP error.
 */
static int
request_der(const struct req *q, struct resp *r, int get,
    const unsigned char **body, size_t *len, unsigned char **dec)
{
	*dec = NULL;
	if (strcmp(q->path, "/ocsp") == 0 || strcmp(q->path, "/ocsp/") == 0) {
		r->route = "/ocsp";
		if (strcmp(q->method, "POST") != 0) {
			snprintf(r->allow, sizeof(r->allow), "POST");
			json_error(r, 405, "method_not_allowed", "POST an "
			    "application/ocsp-request, or GET /ocsp/<base64 "
			    "request>");
			return 0;
		}
		if (!content_type_is(q->content_type,
		    "application/ocsp-request")) {
			json_error(r, 415, "unsupported_media_type", "the "
			    "body must be an application/ocsp-request");
			return 0;
		}
		*body = q->body;
		*len = q->bodylen;
		return 1;
	}
	r->route = "/ocsp/:request";
	if (!get) {
		snprintf(r->allow, sizeof(r->allow), "GET, HEAD");
		json_error(r, 405, "method_not_allowed", "GET "
		    "/ocsp/<base64 request>, or POST /ocsp");
		return 0;
	}
	if (strlen(q->path + 6) > OCSP_GET_MAX) {
		json_error(r, 414, "too_long", "the request is too "
		    "long for a GET: POST it to /ocsp");
		return 0;
	}
	/* Not base64: an empty body, answered malformedRequest. */
	*dec = get_decode(q->path + 6, OCSP_GET_MAX, len);
	*body = *dec != NULL ? *dec : (const unsigned char *)"";
	if (*dec == NULL)
		*len = 0;
	return 1;
}

void
ocsp_serve(struct enrolld *d, const struct req *q, struct resp *r)
{
	struct ocsp_answer ans;
	struct ocsp_hit hit;
	unsigned char *dec = NULL;
	const unsigned char *body = NULL;
	size_t len = 0;
	int64_t now = uc_now();
	int get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") ==
	    0;

	memset(&ans, 0, sizeof(ans));
	if (!request_der(q, r, get, &body, &len, &dec))
		return;
	/* GET and POST of the same request share the entry. */
	if (ocsp_cache_get(d->ocache, body, len, now, &hit)) {
		free(dec);
		serve_hit(q, r, get, &hit, now);
		return;
	}
	/* The responder's key and the records are the monitor's. */
	if (!precheck(d, body, len, &ans) &&
	    door_ocsp(d->door, body, len, &ans) != UC_OK) {
		free(dec);
		json_error(r, 500, "internal", "the OCSP answer could not "
		    "be built");
		return;
	}
	/* Before it is sent: a newer epoch first empties the cache. */
	ocsp_cache_put(d->ocache, body, len, &ans, now);
	free(dec);
	count_answer(ans.status, ans.good, ans.revoked, ans.unknown,
	    ans.cached ? &kept_hits : NULL);
	r->status = 200;
	r->type = "application/ocsp-response";
	if (ans.status != AOCSP_SUCCESSFUL || ans.nonce || ans.max_age <= 0)
		snprintf(r->cache_control, sizeof(r->cache_control),
		    "no-cache, no-store");
	else if (cache_headers(q, r, get, ans.this_update, ans.max_age,
	    ans.etag, now)) {
		r->status = 304;
		ocsp_answer_clear(&ans);
		return;
	}
	r->body = ans.der;
	r->len = ans.len;
	ans.der = NULL;		/* now owned by the response */
	ocsp_answer_clear(&ans);
}

void
ocsp_watch(struct enrolld *d)
{
	char why[200] = "";
	int64_t nb, na, now;
	size_t len;

	if (!authority_ocsp_enabled(ed_auth(d)))
		return;
	if (authority_ocsp_refresh(ed_auth(d)) != UC_OK)
		fprintf(stderr, "userca-enrolld: OCSP responder: %s\n",
		    uc_errmsg());
	now = uc_now();
	if (!authority_ocsp_responder(ed_auth(d), &nb, &na))
		snprintf(why, sizeof(why), "no OCSP responder certificate "
		    "(issuing/ocsp.crt could not be made)");
	else if (na <= now)
		snprintf(why, sizeof(why), "the OCSP responder certificate "
		    "expired %lld s ago", (long long)(now - na));
	else if (now >= nb + (na - nb) / 2)
		snprintf(why, sizeof(why), "the OCSP responder certificate "
		    "expires in %lld s and could not be renewed",
		    (long long)(na - now));
	if (why[0] == '\0')
		return;
	pthread_rwlock_wrlock(&d->publock);
	d->healthy = 0;
	len = strlen(d->health_why);
	snprintf(d->health_why + len, sizeof(d->health_why) - len, "%s%s",
	    len > 0 ? "; " : "", why);
	pthread_rwlock_unlock(&d->publock);
}

void
ocsp_metrics(struct ucbuf *b)
{
	size_t i;

	ucbuf_printf(b, "# HELP userca_ocsp_responses_total OCSP responses "
	    "by responseStatus.\n# TYPE userca_ocsp_responses_total "
	    "counter\n");
	for (i = 0; i < 7; i++) {
		if (i == 4 || i == 5)
			continue;
		ucbuf_printf(b, "userca_ocsp_responses_total{status=\"%s\"} "
		    "%lu\n", status_names[i], __atomic_load_n(&by_status[i],
		    __ATOMIC_RELAXED));
	}
	ucbuf_printf(b, "# HELP userca_ocsp_cert_status_total Certificate "
	    "statuses answered.\n# TYPE userca_ocsp_cert_status_total "
	    "counter\n"
	    "userca_ocsp_cert_status_total{cert=\"good\"} %lu\n"
	    "userca_ocsp_cert_status_total{cert=\"revoked\"} %lu\n"
	    "userca_ocsp_cert_status_total{cert=\"unknown\"} %lu\n",
	    __atomic_load_n(&by_cert[0], __ATOMIC_RELAXED),
	    __atomic_load_n(&by_cert[1], __ATOMIC_RELAXED),
	    __atomic_load_n(&by_cert[2], __ATOMIC_RELAXED));
	ucbuf_printf(b, "# HELP userca_ocsp_kept_hits_total Nonce-less "
	    "requests answered with a kept signed answer.\n"
	    "# TYPE userca_ocsp_kept_hits_total counter\n"
	    "userca_ocsp_kept_hits_total %lu\n",
	    __atomic_load_n(&kept_hits, __ATOMIC_RELAXED));
	ucbuf_printf(b, "# HELP userca_ocsp_child_hits_total Nonce-less "
	    "requests answered by the network process from its own kept "
	    "answers, without the monitor.\n"
	    "# TYPE userca_ocsp_child_hits_total counter\n"
	    "userca_ocsp_child_hits_total %lu\n",
	    __atomic_load_n(&child_hits, __ATOMIC_RELAXED));
}
