/*
 * main.c: userca-enrolld.  libmicrohttpd glue and the network child's
 * loop (the monitor's is monproc.c).
 *
 * One thread per connection, so a slow request (RSA key generation for a
 * PKCS#12) never stalls another; bodies are bounded; SIGTERM stops
 * accepting and lets in-flight requests finish; SIGHUP reloads the
 * config's limits, the TLS certificate and the published files.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <malloc.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "door.h"
#include "enrolld.h"

struct listener {
	struct enrolld		*d;
	struct MHD_Daemon	*mhd;
	int			 tls;
	int			 est;		/* the [est] listener: asks for
						 * a client certificate */
	const char		*addr;
	int			 lfd;		/* the monitor's bound socket */
	char			*cert, *key;	/* TLS pair (C strings) */
	struct conns		*conns;		/* shared by a reload's old and
						 * new daemon */
	unsigned int		 max_connections;
};

struct rstate {
	struct conn	*conn;		/* conns.c's entry, or NULL */
	unsigned char	*body;
	size_t		 len, cap;
	int		 too_big;
	int		 answered;
	int		 status;
	char		 deliver[68];	/* resp's: tell the monitor */
	struct timespec	 t0;
};

struct secret_body {
	unsigned char	*p;
	size_t		 len;
};

static int		 quiet;		/* atomic: a HELLO sets it */
/* Cores, known before the sandbox (it has no /sys to read them from). */
static long		 ncpu = 1;

static void
free_body(void *cls)
{
	struct secret_body *sb = cls;

	OPENSSL_cleanse(sb->p, sb->len);
	free(sb->p);
	free(sb);
}

static const char *
client_addr(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(buf, len, "unknown");
	if ((ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS)) == NULL ||
	    (sa = ci->client_addr) == NULL)
		return buf;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, buf, (socklen_t)len);
	return buf;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static struct conn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/* The deadline of a request starting to arrive now; SIGHUP may change it. */
static double
request_deadline(struct enrolld *d)
{
	return uc_mono() + (double)__atomic_load_n(&d->conf.request_timeout,
	    __ATOMIC_RELAXED);
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct listener *l = cls;
	const union MHD_ConnectionInfo *fd, *ca;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conns_close(l->conns, *socket_context);
		*socket_context = NULL;
		return;
	}
	if ((fd = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CONNECTION_FD)) == NULL)
		return;
	ca = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	*socket_context = conns_open(l->conns, fd->connect_fd,
	    ca != NULL ? ca->client_addr : NULL,
	    __atomic_load_n(&l->d->conf.per_address, __ATOMIC_RELAXED),
	    request_deadline(l->d));
}

/* {"error": ERROR, "detail": DETAIL} (caller frees), NULL: out of memory. */
static char *
json_error_body(const char *error, const char *detail)
{
	json_t *o;
	char *s;

	if ((o = json_pack("{s:s, s:s}", "error", error, "detail", detail)) ==
	    NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

struct framing {
	int		 cl, te;	/* Content-Length, Transfer-Encoding lines */
	int		 cl_differ;	/* two Content-Length values differ */
	int		 te_other;	/* a coding other than "chunked" */
	const char	*clv;
};

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;

	if (key == NULL)
		return MHD_YES;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (f->cl++ == 0)
			f->clv = value;
		else if (value == NULL || f->clv == NULL ||
		    strcmp(value, f->clv) != 0)
			f->cl_differ = 1;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->te++;
		if (value == NULL || strcasecmp(value, "chunked") != 0)
			f->te_other = 1;
	}
	return MHD_YES;
}

/*
 * Why a request's body framing is ambiguous, or NULL.  A proxy in front
 * of us may pick the other length than libmicrohttpd (which prefers
 * Transfer-Encoding, and the first Content-Length), and the rest of the
 * body would then be read as a second, smuggled request.
 */
static const char *
ambiguous_framing(struct MHD_Connection *c)
{
	struct framing f;

	memset(&f, 0, sizeof(f));
	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
	if (f.cl > 0 && f.te > 0)
		return "both Content-Length and Transfer-Encoding";
	if (f.cl_differ)
		return "Content-Length values that differ";
	if (f.te > 1)
		return "more than one Transfer-Encoding";
	if (f.te_other)
		return "a Transfer-Encoding other than chunked";
	return NULL;
}

static enum MHD_Result
send_resp(struct listener *l, struct MHD_Connection *c, struct resp *r,
    const char *method, const char *url, const char *client,
    struct rstate *rs)
{
	const struct timespec *t0 = &rs->t0;
	struct MHD_Response *mr;
	struct secret_body *sb;
	enum MHD_Result ret;
	char red[256];
	size_t i;

	if (r->blob != NULL) {
		mr = MHD_create_response_from_buffer_with_free_callback_cls(
		    r->blob->len, r->blob->data, blob_unref, r->blob);
		if (mr != NULL)
			r->blob = NULL;	/* now owned by the response */
	} else if (r->body != NULL && r->status != 304) {
		if ((sb = malloc(sizeof(*sb))) == NULL) {
			resp_clear(r);
			return MHD_NO;
		}
		sb->p = r->body;
		sb->len = r->len;
		mr = MHD_create_response_from_buffer_with_free_callback_cls(
		    r->len, r->body, free_body, sb);
		if (mr != NULL)
			r->body = NULL;	/* now owned by the response */
		else
			free(sb);
	} else
		mr = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	if (mr == NULL) {
		resp_clear(r);
		return MHD_NO;
	}
	if (r->type != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
		    r->type);
	if (r->etag[0] != '\0')
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, r->etag);
	if (r->last_modified[0] != '\0')
		MHD_add_response_header(mr, MHD_HTTP_HEADER_LAST_MODIFIED,
		    r->last_modified);
	if (r->cache_control[0] != '\0')
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
		    r->cache_control);
	if (r->disposition[0] != '\0')
		MHD_add_response_header(mr, "Content-Disposition",
		    r->disposition);
	if (r->allow[0] != '\0')
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->hdr_name[0] != '\0')
		MHD_add_response_header(mr, r->hdr_name, r->hdr_value);
	for (i = 0; i < sizeof(r->xhdr) / sizeof(r->xhdr[0]); i++)
		if (r->xhdr[i].name[0] != '\0')
			MHD_add_response_header(mr, r->xhdr[i].name,
			    r->xhdr[i].value);
	/* The token is in the URL: never let it leak in a Referer. */
	MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	if (r->type != NULL && strncmp(r->type, "text/html", 9) == 0) {
		MHD_add_response_header(mr, "Content-Security-Policy",
		    "default-src 'self'; img-src 'self' data:; "
		    "frame-ancestors 'none'");
		MHD_add_response_header(mr, "X-Frame-Options", "DENY");
	}
	if (l->tls)
		MHD_add_response_header(mr, "Strict-Transport-Security",
		    "max-age=31536000");
	/* Delivered or not, on_completed() tells the monitor. */
	rs->status = r->status;
	memcpy(rs->deliver, r->deliver, sizeof(rs->deliver));
	ret = MHD_queue_response(c, (unsigned int)r->status, mr);
	MHD_destroy_response(mr);
	metrics_request(l->d->m, r->route != NULL ? r->route : "other",
	    r->status);
	if (!__atomic_load_n(&quiet, __ATOMIC_RELAXED)) {
		redact_path(url, red, sizeof(red));
		fprintf(stderr, "%s %s %s %s %d %.1fms\n", client,
		    l->est ? "est" : l->tls ? "https" : "http", method, red, r->status,
		    ms_since(t0));
	}
	resp_clear(r);
	return ret;
}

/*
 * The client certificate of a TLS connection (DER, borrowed for the
 * connection's life), or NULL.  GnuTLS checked in the handshake that the
 * client holds its key; who issued it is the authority's to check.
 */
static const unsigned char *
peer_cert(struct MHD_Connection *c, size_t *len)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *certs;
	unsigned int n = 0;

	*len = 0;
	if ((ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION)) == NULL ||
	    ci->tls_session == NULL)
		return NULL;
	if (gnutls_certificate_type_get(ci->tls_session) != GNUTLS_CRT_X509 ||
	    (certs = gnutls_certificate_get_peers(ci->tls_session, &n)) ==
	    NULL || n == 0)
		return NULL;
	*len = certs[0].size;
	return certs[0].data;
}

/* r: a JSON error answered before the request is read (close: and close
 * the connection). */
static void
early_error(struct resp *r, int status, const char *code, const char *why,
    int close)
{
	memset(r, 0, sizeof(*r));
	r->route = "other";
	r->status = status;
	r->type = "application/json";
	if (close) {
		snprintf(r->hdr_name, sizeof(r->hdr_name), "Connection");
		snprintf(r->hdr_value, sizeof(r->hdr_value), "close");
	}
	if ((r->body = (unsigned char *)json_error_body(code, why)) != NULL)
		r->len = strlen((char *)r->body);
}

/*
 * A new request: the reason to refuse it before reading its body (its
 * framing is ambiguous, or it declares a body over max_body) in r, 1; 0
 * to read on.
 */
static int
refuse_early(struct MHD_Connection *c, size_t max_body, struct resp *r)
{
	const char *cl, *why;
	char *end;
	unsigned long long n;

	/* Read no body whose length is ambiguous: answer, and close. */
	if ((why = ambiguous_framing(c)) != NULL) {
		early_error(r, 400, "bad_request", why, 1);
		return 1;
	}
	/* Refuse a declared oversize body before reading any of it. */
	if ((cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH)) == NULL)
		return 0;
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (errno == 0 && *end == '\0' && n <= max_body)
		return 0;
	early_error(r, 413, "too_large", "the request body is over the limit",
	    0);
	return 1;
}

/* Append a piece of the body to rs, or drop it all once over max_body. */
static int
take_upload(struct rstate *rs, const char *upload, size_t n,
    size_t max_body)
{
	unsigned char *nb;
	size_t cap;

	if (rs->answered || rs->too_big)
		return 0;
	if (rs->len + n > max_body) {
		rs->too_big = 1;
		OPENSSL_cleanse(rs->body, rs->len);
		free(rs->body);
		rs->body = NULL;
		rs->len = rs->cap = 0;
		return 0;
	}
	if (rs->len + n > rs->cap) {
		for (cap = rs->cap ? rs->cap : 4096; cap < rs->len + n;)
			cap *= 2;
		if ((nb = realloc(rs->body, cap)) == NULL)
			return -1;
		rs->body = nb;
		rs->cap = cap;
	}
	memcpy(rs->body + rs->len, upload, n);
	rs->len += n;
	return 0;
}

/* q: the request as handle_request() reads it (borrowed from c and rs). */
static void
req_fill(struct listener *l, struct MHD_Connection *c, struct rstate *rs,
    const char *method, const char *url, const char *client, struct req *q)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->path = url;
	q->accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	q->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	q->if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	q->if_modified_since = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	q->user_agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_USER_AGENT);
	q->retry = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Userca-Retry");
	q->operation = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "operation");
	q->message = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "message");
	q->body = rs->body;
	q->bodylen = rs->len;
	q->client = client;
	q->tls = l->tls;
	if ((q->est = l->est)) {
		q->authorization = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		q->peer_cert = peer_cert(c, &q->peer_certlen);
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct enrolld *d = l->d;
	struct rstate *rs = *con_cls;
	struct req q;
	struct resp r;
	char client[64];
	/* SIGHUP may change it while requests run. */
	size_t max_body = __atomic_load_n(&d->conf.max_body, __ATOMIC_RELAXED);

	(void)version;
	if (rs == NULL) {
		if ((rs = calloc(1, sizeof(*rs))) == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &rs->t0);
		rs->conn = conn_of(c);
		*con_cls = rs;
		if (!refuse_early(c, max_body, &r))
			return MHD_YES;
		rs->answered = 1;
		return send_resp(l, c, &r, method, url, client_addr(c, client,
		    sizeof(client)), rs);
	}
	if (*upload_size > 0) {
		if (take_upload(rs, upload, *upload_size, max_body) != 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (rs->answered)
		return MHD_YES;
	rs->answered = 1;
	/* The whole request is in: its deadline no longer applies. */
	conns_received(l->conns, rs->conn);
	client_addr(c, client, sizeof(client));
	if (rs->too_big)
		early_error(&r, 413, "too_large", "the request body is over "
		    "the limit", 0);
	else {
		req_fill(l, c, rs, method, url, client, &q);
		handle_request(d, &q, &r);
	}
	return send_resp(l, c, &r, method, url, client, rs);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct listener *l = cls;
	struct rstate *rs = *con_cls;

	/* A kept-alive connection now waits for its next request. */
	conns_receiving(l->conns, conn_of(c), request_deadline(l->d));
	if (rs == NULL)
		return;
	/* A server-made key: reached the client, or the monitor undoes. */
	if (rs->deliver[0] != '\0')
		door_delivered(l->d->door, rs->deliver, rs->status == 200 &&
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (rs->body != NULL) {
		OPENSSL_cleanse(rs->body, rs->len);	/* may hold a password */
		free(rs->body);
	}
	free(rs);
	*con_cls = NULL;
}

static void	mhd_log(void *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	fputs("userca-enrolld: libmicrohttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/*
 * The CA certificates to trust for EST client certificates, as a PEM
 * string (free()): the published bundle, /ca.pem (the issuing CA, those a
 * rollover replaced that are still in service, the root).
 */
static int
trust_pem(struct enrolld *d, char **out)
{
	struct pubset *ps;
	const struct blob *b;
	int rc = UC_OK;

	*out = NULL;
	if ((ps = pub_get(d)) == NULL)
		return uc_seterr(UC_E_STATE, "nothing published yet");
	b = ps->f[0].body;
	if (b == NULL || b->len == 0 || ps->issuing == NULL)
		rc = uc_seterr(UC_E_STATE, "no CA certificate to trust");
	else if ((*out = malloc(b->len + 1)) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else {
		memcpy(*out, b->data, b->len);
		(*out)[b->len] = '\0';
	}
	pub_put(ps);
	return rc;
}

/*
 * Serve on the listening socket the monitor bound (a duplicate, which
 * libmicrohttpd closes when it stops): a reload's new HTTPS daemon takes
 * the same socket while the old one drains.
 */
static int
start(struct listener *l)
{
	struct enrolld *d = l->d;
	unsigned int flags;
	char *ts = NULL;
	int fd, rc;

	/*
	 * HTTPS carries enrollments, where one request may spend a second
	 * generating an RSA key: a thread per connection, so it stalls no
	 * one else.  Plain HTTP serves the public files from memory (and
	 * enrollment only in tests): epoll and a pool of one thread per core,
	 * which keeps up with nginx at many connections.
	 */
	if (l->tls)
		flags = MHD_USE_INTERNAL_POLLING_THREAD |
		    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	else
		flags = MHD_USE_EPOLL_INTERNAL_THREAD;
	flags |= MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (l->addr[0] == '[')
		flags |= MHD_USE_IPv6;
	if ((fd = fcntl(l->lfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return uc_seterr(UC_E_IO, "listening socket: %s",
		    strerror(errno));
	if (l->tls) {
		flags |= MHD_USE_TLS;
		/* The [est] listener asks for a client certificate (optional). */
		if (l->est && (rc = trust_pem(d, &ts)) != UC_OK) {
			close(fd);
			return rc;
		}
		l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		    MHD_OPTION_LISTEN_SOCKET, fd,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)
		    __atomic_load_n(&d->conf.timeout, __ATOMIC_RELAXED),
		    MHD_OPTION_CONNECTION_LIMIT, l->max_connections,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (unsigned int)__atomic_load_n(&d->conf.per_address,
		    __ATOMIC_RELAXED),
		    MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
		    MHD_OPTION_HTTPS_MEM_CERT, l->cert,
		    MHD_OPTION_HTTPS_MEM_KEY, l->key,
		    MHD_OPTION_HTTPS_PRIORITIES, d->conf.tls_priorities,
		    ts != NULL ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, ts,
		    MHD_OPTION_END);
		free(ts);
	} else
		l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)ncpu,
		    MHD_OPTION_LISTEN_SOCKET, fd,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)
		    __atomic_load_n(&d->conf.timeout, __ATOMIC_RELAXED),
		    MHD_OPTION_CONNECTION_LIMIT, l->max_connections,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (unsigned int)__atomic_load_n(&d->conf.per_address,
		    __ATOMIC_RELAXED),
		    MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
		    MHD_OPTION_END);
	if (l->mhd == NULL) {
		close(fd);
		return uc_seterr(UC_E_IO, "cannot serve %s%s", l->addr,
		    l->tls ? " (TLS: check [https] cert, key and priorities)" :
		    "");
	}
	return UC_OK;
}

/* ---- --check: every problem, not only the first ------------------------------------ */

struct problems {
	int	n;
};

static void problem(struct problems *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct problems *p, const char *fmt, ...)
{
	va_list ap;

	if (p->n++ == 0)
		fputs("userca-enrolld: --check failed:\n", stderr);
	fputs("  ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* strerror(), first letter lower-case, to follow "what: ". */
static const char *
errstr(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/*
 * Bind addr as the daemon will: 0, or -1 with why (address in use, no
 * such address, not allowed) in buf.
 */
static int
listen_probe(const char *addr, char *why, size_t len)
{
	int fd;

	if ((fd = listen_socket(addr, why, len)) == -1)
		return -1;
	close(fd);
	return 0;
}

/* The TLS certificate and key: readable, PEM, one pair, not expired. */
static void
check_tls(const struct econf *c, struct problems *p)
{
	static char nopass[] = "";
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	FILE *f;
	char why[128];

	if ((f = fopen(c->tls_cert, "r")) == NULL)
		problem(p, "[https] cert %s: %s", c->tls_cert,
		    errstr(errno, why, sizeof(why)));
	else {
		if ((x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
			problem(p, "[https] cert %s: not a PEM certificate",
			    c->tls_cert);
		fclose(f);
	}
	if ((f = fopen(c->tls_key, "r")) == NULL)
		problem(p, "[https] key %s: %s", c->tls_key,
		    errstr(errno, why, sizeof(why)));
	else {
		/* An empty passphrase: the daemon cannot ask for one. */
		if ((k = PEM_read_PrivateKey(f, NULL, NULL, nopass)) == NULL)
			problem(p, "[https] key %s: not an unencrypted PEM "
			    "private key", c->tls_key);
		fclose(f);
	}
	ERR_clear_error();
	if (x != NULL && k != NULL && X509_check_private_key(x, k) != 1)
		problem(p, "[https] key %s does not match the certificate %s",
		    c->tls_key, c->tls_cert);
	ERR_clear_error();
	if (x != NULL && X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		problem(p, "[https] cert %s has expired ('userca issue-server' "
		    "makes a new one)", c->tls_cert);
	X509_free(x);
	EVP_PKEY_free(k);
}

/*
 * userca-enrolld --check: what the daemon needs before it serves, each
 * problem listed (exit 1), or one line saying what was checked (exit 0).
 */
static int
preflight(const char *config)
{
	struct problems p = { 0 };
	struct econf c;
	struct enrolld d;
	struct stat sb;
	char why[128], *page;
	int ex = 1;

	memset(&c, 0, sizeof(c));
	if (econf_load(config, &c) != UC_OK) {
		/* Without the settings nothing else can be looked at. */
		problem(&p, "%s", uc_errmsg());
		return 1;
	}
	if (c.http_listen != NULL && listen_probe(c.http_listen, why,
	    sizeof(why)) != 0)
		problem(&p, "[http] listen %s: %s", c.http_listen, why);
	if (c.https_listen != NULL && listen_probe(c.https_listen, why,
	    sizeof(why)) != 0)
		problem(&p, "[https] listen %s: %s", c.https_listen, why);
	if (c.est_listen != NULL && listen_probe(c.est_listen, why,
	    sizeof(why)) != 0)
		problem(&p, "[est] listen %s: %s", c.est_listen, why);
	if (c.https_listen != NULL || c.est_listen != NULL)
		check_tls(&c, &p);
	if (stat(c.web_root, &sb) == -1)
		problem(&p, "[enroll] web_root %s: %s", c.web_root,
		    errstr(errno, why, sizeof(why)));
	else if (!S_ISDIR(sb.st_mode))
		problem(&p, "[enroll] web_root %s: not a folder", c.web_root);
	else if ((page = path_join(c.web_root, "enroll.html")) != NULL) {
		if (access(page, R_OK) == -1)
			problem(&p, "[enroll] web_root %s has no readable "
			    "enroll.html: %s", c.web_root,
			    errstr(errno, why, sizeof(why)));
		free(page);
	}
	/* The CA home, its database and the issuing key, as at start. */
	if (enrolld_init(&d, config) != UC_OK)
		problem(&p, "[ca] home %s: %s", c.home, uc_errmsg());
	else if (p.n == 0) {
		crl_watch(&d);
		printf("config ok: %s%s%s%s%s, web_root %s, CA home %s; CRL "
		    "%s\n", c.http_listen ? "[http] " : "", c.http_listen ?
		    c.http_listen : "", c.http_listen && c.https_listen ?
		    ", " : "", c.https_listen ? "[https] " : "",
		    c.https_listen ? c.https_listen : "", c.web_root, c.home,
		    d.healthy ? "healthy" : d.health_why);
		ex = 0;
	}
	enrolld_free(&d);
	econf_clear(&c);
	return ex;
}

/* Stop accepting, let in-flight requests finish (up to drain s), stop. */
static void
stop(struct listener *l, int drain)
{
	const union MHD_DaemonInfo *di;
	MHD_socket s;
	int i;

	if (l->mhd == NULL)
		return;
	/*
	 * Stop accepting at once, but close our duplicate of the listening
	 * socket only after the daemon has stopped: its epoll workers may
	 * still be taking it out of their sets, and a closed number could
	 * already be another file's.  No shutdown(): the socket is shared
	 * with a reload's new daemon and the monitor, which keep it open.
	 */
	s = MHD_quiesce_daemon(l->mhd);
	for (i = 0; i < drain * 10; i++) {
		di = MHD_get_daemon_info(l->mhd,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (di == NULL || di->num_connections == 0)
			break;
		usleep(100000);
	}
	MHD_stop_daemon(l->mhd);
	l->mhd = NULL;
	if (s != MHD_INVALID_SOCKET)
		close(s);
}

/*
 * jansson holds request bodies (a user's chosen PKCS#12 password) and
 * responses (a generated one): wipe every block it frees.
 */
static void
json_wipe_free(void *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

static void
usage(FILE *f)
{
	fprintf(f,
"Usage: userca-enrolld --config FILE [--check] [--quiet]\n"
"\n"
"The userca enrollment daemon: devices redeem one-time enrollment links\n"
"over HTTPS; gateways fetch the CA bundle and CRLs over plain HTTP.\n"
"\n"
"  --config FILE  the settings (INI, below)\n"
"  --check        load the settings and the CA home, then exit\n"
"  --quiet        no request log\n"
"  --version      print the version and exit\n"
"\n"
"Settings (durations: 30s, 5m, 72h, 7d; sizes: 64k, 1m):\n"
"  [ca]     home = DIR              the CA home (userca init --intermediate)\n"
"           issuing_warn_before = 90d  /healthz says \"warning\" (200) when\n"
"                                   the issuing CA's certificate expires\n"
"                                   this soon (userca intermediate rollover)\n"
"  [http]   listen = ADDR:PORT      public files, plain HTTP; empty: off\n"
"  [https]  listen = ADDR:PORT      enrollment and public files; empty: off\n"
"           cert = FILE             TLS chain (userca issue-server)\n"
"           key = FILE              TLS key\n"
"           priorities = ...        GnuTLS priority string; the default:\n"
"                                   TLS 1.3 and 1.2, ECDHE, AEAD only\n"
"  [enroll] allow_plain_http = false  enrollment over plain HTTP (tests)\n"
"           token_ttl = 7d          lifetime of tokens made here\n"
"           default_p12_format = legacy  what devices get unless they ask\n"
"           web_root = DIR          the enrollment page's files\n"
"  [scep]   allow_des = false       single DES envelopes (old clients)\n"
"  [est]    listen = ADDR:PORT      EST over HTTPS ([https] cert, key)\n"
"  [crl]    validity = 7d           nextUpdate of CRLs the daemon signs\n"
"           refresh_before = 3d     re-sign when nextUpdate is this near\n"
"           poll = 5s               how often to look for revocations\n"
"           root_warn_before = 30d  /healthz fails when the root CRL (and\n"
"                                   every pre-signed one after it) is this\n"
"                                   near its nextUpdate\n"
"           runway_min = 0          /healthz fails when fewer pre-signed\n"
"                                   root CRLs remain (userca crl --root\n"
"                                   --runway N at the key ceremony)\n"
"  [limits] max_body = 64k          larger request bodies get 413\n"
"           max_connections = 1024  per listener\n"
"           per_address = 32        connections per client address (IPv6:\n"
"                                   per /64), per listener\n"
"           timeout = 30s           idle connection timeout\n"
"           request_timeout = 10s   each request (TLS handshake, headers,\n"
"                                   body) must arrive within this; also the\n"
"                                   longest a kept-alive connection idles\n"
"           rate_limit = 10         failed token attempts per address per\n"
"                                   minute before 429\n"
"           drain = 10s             how long SIGTERM waits for requests\n"
"  [daemon] user = NAME             the network process's account (not\n"
"                                   root; default userca, else nobody)\n"
"\n"
"Routes: GET /ca.pem /ca.crt /ca.json /crl.der /crl.pem /root.crl /healthz\n"
"/crl-GEN.der /crl-GEN.pem /issuing-GEN.crt (each issuing CA, GEN 1-16)\n"
"/metrics; GET /enroll/TOKEN (page); GET /api/v1/enroll/TOKEN;\n"
"POST /api/v1/enroll/TOKEN/csr; POST /api/v1/enroll/TOKEN/p12;\n"
"GET|POST /api/v1/enroll/TOKEN/mobileconfig; SCEP at /scep and\n"
"/cgi-bin/pkiclient.exe; EST at /.well-known/est/ on [est] listen.\n"
"Signals: SIGTERM/SIGINT drain and exit; SIGHUP reloads settings, TLS\n"
"certificate and published files.\n"
"\n"
"Starts as root: the monitor keeps the CA key and the records; the network\n"
"runs in a confined process as [daemon] user (userca-enrolld(8)).\n");
}

/* ---- the network child --------------------------------------------------------------- */

struct child {
	struct enrolld	 d;
	struct listener	 http, https, est;
	pthread_mutex_t	 mu;		/* the pair below */
	char		*cert, *key;	/* a new TLS pair from a HELLO */
	int		 serving;	/* atomic: read by the door thread */
};

/* 1 when a and b (published sets) name other CA certificates. */
static int
cas_changed(const struct pubset *a, const struct pubset *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	if ((a->issuing == NULL) != (b->issuing == NULL) ||
	    (a->root == NULL) != (b->root == NULL))
		return 1;
	return (a->issuing != NULL && X509_cmp(a->issuing, b->issuing) != 0) ||
	    (a->root != NULL && X509_cmp(a->root, b->root) != 0);
}

/*
 * PUBLISHED: the new public files.  When the CA certificates changed (a
 * rollover, a renewed root), the [est] listener must trust the new ones:
 * the main loop starts the TLS listeners again, as for a new TLS pair.
 * Non-zero ends the child (a malformed message).
 */
static int
child_published_push(struct child *c, const unsigned char *body, size_t len)
{
	struct pubset *before, *after;
	int changed;

	before = pub_get(&c->d);
	if (child_published(&c->d, body, len) != UC_OK) {
		pub_put(before);
		return 1;
	}
	after = pub_get(&c->d);
	changed = cas_changed(before, after);
	pub_put(before);
	pub_put(after);
	if (changed && __atomic_load_n(&c->serving, __ATOMIC_ACQUIRE) &&
	    c->d.conf.est_listen != NULL)
		(void)kill(getpid(), SIGUSR1);
	return 0;
}

/* The monitor's pushes, on the door's reader thread. */
static int
child_push(void *arg, uint16_t type, const unsigned char *body, size_t len)
{
	struct child *c = arg;
	unsigned char *cert = NULL, *key = NULL;
	size_t cl = 0, kl = 0;
	char *cs = NULL, *ks = NULL;
	int q;

	switch (type) {
	case DOOR_HELLO:
		if (child_hello(&c->d, body, len, &q, &cert, &cl, &key, &kl) !=
		    UC_OK)
			return 1;
		__atomic_store_n(&quiet, q, __ATOMIC_RELAXED);
		if (cert != NULL && key != NULL &&
		    (cs = calloc(1, cl + 1)) != NULL &&
		    (ks = calloc(1, kl + 1)) != NULL) {
			/* libmicrohttpd wants C strings. */
			memcpy(cs, cert, cl);
			memcpy(ks, key, kl);
			pthread_mutex_lock(&c->mu);
			free(c->cert);
			secret_free(c->key);
			c->cert = cs;
			c->key = ks;
			cs = ks = NULL;	/* now owned by c */
			pthread_mutex_unlock(&c->mu);
			/* The main loop starts HTTPS with the new pair. */
			if (__atomic_load_n(&c->serving, __ATOMIC_ACQUIRE))
				(void)kill(getpid(), SIGUSR1);
		}
		free(cs);
		free(cert);
		secret_free_buf(key, kl);
		return 0;
	case DOOR_PUBLISHED:
		return child_published_push(c, body, len);
	case DOOR_EPOCH: {
		uint64_t e;

		if (door_epoch_parse(body, len, &e) != UC_OK)
			return 1;
		ocsp_cache_epoch(c->d.ocache, e);
		return 0;
	}
	default:
		/* The monitor is gone: stop serving. */
		(void)kill(getpid(), SIGTERM);
		return 1;
	}
}

/* A TLS listener again with the newest pair; the old daemon drains. */
static void
rekey_one(struct child *c, struct listener *l, const char *what)
{
	struct listener old = *l;
	char *cert = NULL, *key = NULL;

	if (l->mhd == NULL)
		return;
	/* Copies: the door's thread may bring the next pair meanwhile. */
	pthread_mutex_lock(&c->mu);
	if (c->cert != NULL && c->key != NULL) {
		cert = strdup(c->cert);
		key = strdup(c->key);
	}
	pthread_mutex_unlock(&c->mu);
	if (cert == NULL || key == NULL) {
		free(cert);
		secret_free(key);
		return;
	}
	l->cert = cert;
	l->key = key;
	if (start(l) != UC_OK) {
		fprintf(stderr, "userca-enrolld: %s: keeping the old "
		    "certificate: %s\n", what, uc_errmsg());
		*l = old;
	} else
		stop(&old, __atomic_load_n(&c->d.conf.drain, __ATOMIC_RELAXED));
	/* libmicrohttpd keeps its own copies. */
	l->cert = l->key = NULL;
	free(cert);
	secret_free(key);
}

/* HTTPS and EST again with the newest pair (and the CA certificates). */
static void
child_rekey(struct child *c)
{
	rekey_one(c, &c->https, "HTTPS");
	rekey_one(c, &c->est, "EST");
}

/*
 * Start the listeners on the inherited sockets fds (HTTP, HTTPS, EST;
 * -1: none).
 */
static int
child_listen(struct child *c, const int fds[3], unsigned long nofile)
{
	struct enrolld *d = &c->d;
	unsigned long lanes = d->conf.est_listen != NULL ? 6 : 4;

	c->http.d = c->https.d = c->est.d = d;
	c->https.tls = c->est.tls = c->est.est = 1;
	/* The listeners, HTTPS and EST twice while a reload drains. */
	c->http.max_connections = c->https.max_connections =
	    c->est.max_connections = (unsigned int)(nofile > 256 ?
	    (nofile - 256) / lanes : 1);
	if ((c->http.conns = conns_new()) == NULL ||
	    (c->https.conns = conns_new()) == NULL ||
	    (c->est.conns = conns_new()) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	c->http.lfd = fds[0];
	c->https.lfd = fds[1];
	c->est.lfd = fds[2];
	c->http.addr = d->conf.http_listen;
	c->https.addr = d->conf.https_listen;
	c->est.addr = d->conf.est_listen;
	c->https.cert = c->est.cert = c->cert;
	c->https.key = c->est.key = c->key;
	if ((fds[0] >= 0 && c->http.addr != NULL && start(&c->http) !=
	    UC_OK) || (fds[1] >= 0 && c->https.addr != NULL &&
	    (c->cert == NULL || start(&c->https) != UC_OK)) ||
	    (fds[2] >= 0 && c->est.addr != NULL && (c->cert == NULL ||
	    start(&c->est) != UC_OK)))
		return uc_seterr(UC_E_IO, "%s", uc_errmsg());
	return UC_OK;
}

/* Descriptors the child may hold: its listeners' budget and some. */
static unsigned long
child_nofile(int want, int est)
{
	struct rlimit rl;
	unsigned long lanes = est ? 6 : 4;
	/* Room for connections turned away after accept() at a burst. */
	unsigned long n = (unsigned long)want * lanes + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max !=
	    RLIM_INFINITY && n > rl.rlim_max) {
		fprintf(stderr, "userca-enrolld: max_connections %d is more "
		    "than %llu open files allow; using %llu per listener\n",
		    want, (unsigned long long)rl.rlim_max,
		    (unsigned long long)(rl.rlim_max > 256 ?
		    (rl.rlim_max - 256) / lanes : 1));
		n = rl.rlim_max;
	}
	return n;
}

/*
 * userca-enrolld --child: the network side.  Drops to its user first,
 * takes the monitor's HELLO and public files, confines itself, then
 * serves until SIGTERM (from the monitor) or the monitor's end.
 */
static int
child_main(int sock, const int fds[3], uid_t uid, gid_t gid)
{
	static struct child c;
	struct timespec ts;
	sigset_t set;
	EVP_PKEY *k = NULL;
	enum key_type kt;
	unsigned long nofile;
	char what[256];
	int sig, ex = 1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_init(&c.mu, NULL);
	if (sandbox_drop(uid, gid) != UC_OK || enrolld_child_init(&c.d) !=
	    UC_OK || (c.d.door = door_open(sock, child_push, &c)) == NULL ||
	    door_read_push(c.d.door, DOOR_HELLO) != UC_OK ||
	    door_read_push(c.d.door, DOOR_PUBLISHED) != UC_OK)
		goto fail;
	/* OpenSSL reads its configuration once, before the files go. */
	if (key_type_parse(c.d.user_key, &kt) != UC_OK ||
	    key_generate(kt, &k) != UC_OK)
		goto fail;
	EVP_PKEY_free(k);
	/* SCEP's table, and DES's provider while files can be read. */
	if (scep_init(&c.d) != UC_OK)
		goto fail;
	if ((ncpu = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		ncpu = 1;
	nofile = child_nofile(__atomic_load_n(&c.d.conf.max_connections,
	    __ATOMIC_RELAXED),
	    c.d.conf.est_listen != NULL);
	if (sandbox_enter(nofile, what, sizeof(what)) != UC_OK ||
	    door_start(c.d.door) != UC_OK ||
	    child_listen(&c, fds, nofile) != UC_OK)
		goto fail;
	__atomic_store_n(&c.serving, 1, __ATOMIC_RELEASE);
	fprintf(stderr, "userca-enrolld: network child %d: %s\n",
	    (int)getpid(), what);
	for (;;) {
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGUSR1)
			child_rekey(&c);
		(void)conns_sweep(c.http.conns, uc_mono());
		(void)conns_sweep(c.https.conns, uc_mono());
		(void)conns_sweep(c.est.conns, uc_mono());
	}
	stop(&c.http, __atomic_load_n(&c.d.conf.drain, __ATOMIC_RELAXED));
	stop(&c.https, __atomic_load_n(&c.d.conf.drain, __ATOMIC_RELAXED));
	stop(&c.est, __atomic_load_n(&c.d.conf.drain, __ATOMIC_RELAXED));
	ex = 0;
	goto out;
fail:
	fprintf(stderr, "userca-enrolld: network child: %s\n", uc_errmsg());
out:
	stop(&c.http, 0);
	stop(&c.https, 0);
	stop(&c.est, 0);
	conns_free(c.http.conns);
	conns_free(c.https.conns);
	conns_free(c.est.conns);
	enrolld_free(&c.d);
	free(c.cert);
	secret_free(c.key);
	return ex;
}

/* A descriptor number or -1 from --child's arguments; -2: bad. */
static long
child_arg(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < -1 || v > max)
		return -2;
	return v;
}

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct enrolld d;
	sigset_t set;
	const char *config = NULL;
	int c, check = 0, ex;

	/* Internal: the network child, started by the monitor. */
	if (argc == 8 && strcmp(argv[1], "--child") == 0) {
		long v[6];
		int i, fds[3];

		for (i = 0; i < 6; i++)
			if ((v[i] = child_arg(argv[2 + i], i < 4 ? 6 :
			    UINT32_MAX)) == -2 || (i >= 4 && v[i] < 1))
				return 2;
		umask(077);
		json_set_alloc_funcs(malloc, json_wipe_free);
		signal(SIGPIPE, SIG_IGN);
		for (i = 0; i < 3; i++)
			fds[i] = (int)v[1 + i];
		return child_main((int)v[0], fds, (uid_t)v[4], (gid_t)v[5]);
	}
	while ((c = getopt_long(argc, argv, "c:hkqV", lo, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': check = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V':
			printf("userca-enrolld %s (%s)\n", uc_version(),
			    OpenSSL_version(OPENSSL_VERSION));
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (config == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	umask(077);
	/* The issuing key and users' passwords are in this memory. */
	if (proc_nocore() != UC_OK) {
		fprintf(stderr, "userca-enrolld: %s\n", uc_errmsg());
		return 1;
	}
	json_set_alloc_funcs(malloc, json_wipe_free);
	/* Signals go to the main loop alone, through sigtimedwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (check)
		return preflight(config);
	if (enrolld_init(&d, config) != UC_OK) {
		fprintf(stderr, "userca-enrolld: %s\n", uc_errmsg());
		enrolld_free(&d);
		return 1;
	}
	/* Health is known before the first request is answered. */
	crl_watch(&d);
	ex = monitor_run(&d, config, quiet);
	enrolld_free(&d);
	return ex;
}
