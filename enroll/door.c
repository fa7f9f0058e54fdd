/*
 * door.c: the message format between the monitor and the network child
 * (door.h), the monitor's parser of the child's requests, and the child's
 * side of each request.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "door.h"

/* ---- header ----------------------------------------------------------------- */

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

void
door_hdr_put(const struct door_hdr *h, unsigned char out[DOOR_HDRLEN])
{
	put16(out, h->version);
	put16(out + 2, h->type);
	put32(out + 4, h->id);
	put32(out + 8, h->len);
	put32(out + 12, 0);
}

static int
type_known(uint16_t t)
{
	uint16_t base = t & (uint16_t)~DOOR_ANSWER;

	if (t & DOOR_ANSWER)
		return base >= DOOR_LOOKUP && base <= DOOR_LAST &&
		    base != DOOR_DELIVERED && base != DOOR_EPOCH;
	return base >= DOOR_HELLO && base <= DOOR_LAST;
}

int
door_hdr_parse(const unsigned char in[DOOR_HDRLEN], size_t max,
    struct door_hdr *h)
{
	h->version = (uint16_t)(in[0] << 8 | in[1]);
	h->type = (uint16_t)(in[2] << 8 | in[3]);
	h->id = get32(in + 4);
	h->len = get32(in + 8);
	h->zero = get32(in + 12);
	if (h->version != DOOR_VERSION)
		return uc_seterr(UC_E_INVALID, "message version %u, not %u",
		    h->version, DOOR_VERSION);
	if (!type_known(h->type))
		return uc_seterr(UC_E_INVALID, "unknown message type %u",
		    h->type);
	if (h->len > max)
		return uc_seterr(UC_E_INVALID, "message of %u bytes (at most "
		    "%zu)", h->len, max);
	if (h->zero != 0)
		return uc_seterr(UC_E_INVALID, "reserved header word not 0");
	return UC_OK;
}

/* ---- fields ------------------------------------------------------------------ */

void
door_put_u64(struct ucbuf *b, uint64_t v)
{
	unsigned char p[8];
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
	(void)ucbuf_add(b, p, sizeof(p));
}

void
door_put_bytes(struct ucbuf *b, const void *p, size_t len)
{
	unsigned char l[4];

	if (len > UINT32_MAX) {
		b->err = UC_E_INVALID;
		return;
	}
	put32(l, (uint32_t)len);
	(void)ucbuf_add(b, l, sizeof(l));
	if (len > 0)
		(void)ucbuf_add(b, p, len);
}

void
door_put_str(struct ucbuf *b, const char *s)
{
	door_put_bytes(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void
door_rd_init(struct door_rd *r, const unsigned char *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = 0;
}

uint64_t
door_get_u64(struct door_rd *r, uint64_t max)
{
	uint64_t v = 0;
	int i;

	if (r->bad || r->len - r->off < 8) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v = v << 8 | r->p[r->off + (size_t)i];
	r->off += 8;
	if (v > max) {
		r->bad = 1;
		return 0;
	}
	return v;
}

const unsigned char *
door_get_bytes(struct door_rd *r, size_t max, size_t *len)
{
	const unsigned char *p;
	uint32_t n;

	*len = 0;
	if (r->bad || r->len - r->off < 4) {
		r->bad = 1;
		return NULL;
	}
	n = get32(r->p + r->off);
	if (n > max || r->len - r->off - 4 < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off + 4;
	r->off += 4 + (size_t)n;
	*len = n;
	return p;
}

char *
door_get_str(struct door_rd *r, size_t max)
{
	const unsigned char *p;
	size_t n;
	char *s;

	if ((p = door_get_bytes(r, max, &n)) == NULL && r->bad)
		return NULL;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		r->bad = 1;
		return NULL;
	}
	if ((s = malloc(n + 1)) == NULL) {
		r->bad = 1;
		return NULL;
	}
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
door_rd_end(struct door_rd *r)
{
	if (r->bad || r->off != r->len)
		return uc_seterr(UC_E_INVALID, "malformed message body");
	return UC_OK;
}

/* ---- the monitor's parser --------------------------------------------------------- */

/* Our tokens are base64url; "!" is the child's word for a malformed one. */
static int
token_shape(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > 64)
		return 0;
	if (strcmp(t, "!") == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' &&
		    t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
		    t[i] == '-' || t[i] == '_'))
			return 0;
	return 1;
}

/* A SCEP transactionID: printable ASCII, not empty. */
static int
tid_shape(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > DOOR_TID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (t[i] < 0x20 || t[i] > 0x7e)
			return 0;
	return 1;
}

static int
serial_shape(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' &&
		    s[i] <= 'F')))
			return 0;
	return 1;
}

void
door_request_clear(struct door_request *q)
{
	if (q == NULL)
		return;
	free(q->token);
	if (q->retry != NULL) {
		OPENSSL_cleanse(q->retry, strlen(q->retry));
		free(q->retry);
	}
	free(q->serial);
	free(q->user);
	free(q->tid);
	memset(q, 0, sizeof(*q));
}

/*
 * SCEP and EST: a CSR with a token (and EST's user), or with a
 * certificate of ours.  Bytes are checked by the authority (CSR, chain,
 * record); here only their sizes, the kinds and the token's shape.
 */
static void
parse_protocol(uint16_t type, struct door_rd *r, struct door_request *q)
{
	if (type == DOOR_REDEEM_CSR) {
		q->token = door_get_str(r, 64);
		q->method = (uint32_t)door_get_u64(r, DOOR_EST);
		q->has_user = (int)door_get_u64(r, 1);
		q->user = door_get_str(r, DOOR_USER_MAX);
		q->csr = door_get_bytes(r, 64 * 1024, &q->csrlen);
		/* SCEP has no user; a user is never given as "" but to EST. */
		if (!r->bad && ((q->method == DOOR_SCEP && q->has_user) ||
		    (!q->has_user && q->user[0] != '\0')))
			r->bad = 1;
	} else {
		q->method = (uint32_t)door_get_u64(r, DOOR_EST_CERT);
		q->cert = door_get_bytes(r, 64 * 1024, &q->certlen);
		q->csr = door_get_bytes(r, 64 * 1024, &q->csrlen);
		if (!r->bad && q->certlen == 0)
			r->bad = 1;
	}
	if (!r->bad && (q->method < 1 || q->csrlen == 0))
		r->bad = 1;
}

/*
 * SCEP_TX: transactionID, token ("" for a renewal), the signer
 * certificate (empty for a PKCSReq), CSR; exactly one of token and
 * certificate.  SCEP_POLL: transactionID, the signer key's SHA-256.
 */
static void
parse_scep(uint16_t type, struct door_rd *r, struct door_request *q)
{
	size_t n = 0;

	q->tid = door_get_str(r, DOOR_TID_MAX);
	if (type == DOOR_SCEP_POLL) {
		q->keyhash = door_get_bytes(r, 32, &n);
		if (!r->bad && (n != 32 || !tid_shape(q->tid)))
			r->bad = 1;
		return;
	}
	q->token = door_get_str(r, 64);
	q->cert = door_get_bytes(r, 64 * 1024, &q->certlen);
	q->csr = door_get_bytes(r, 64 * 1024, &q->csrlen);
	if (r->bad)
		return;
	if (!tid_shape(q->tid) || q->csrlen == 0 ||
	    (q->token[0] == '\0') == (q->certlen == 0))
		r->bad = 1;
	else if (q->token[0] == '\0') {
		free(q->token);		/* a renewal: no token */
		q->token = NULL;
	}
}

int
door_parse_request(uint16_t type, const unsigned char *body, size_t len,
    struct door_request *q)
{
	struct door_rd r;

	memset(q, 0, sizeof(*q));
	q->type = type;
	door_rd_init(&r, body, len);
	switch (type) {
	case DOOR_LOOKUP:
		q->token = door_get_str(&r, 64);
		break;
	case DOOR_REDEEM:
		q->token = door_get_str(&r, 64);
		q->method = (uint32_t)door_get_u64(&r, DOOR_PROFILE);
		q->spki = door_get_bytes(&r, 16 * 1024, &q->spkilen);
		q->retry = door_get_str(&r, 64);
		if (!r.bad && (q->method < DOOR_CSR || q->spkilen == 0 ||
		    (q->retry[0] != '\0' && (q->method == DOOR_CSR ||
		    !token_shape(q->retry)))))
			r.bad = 1;
		break;
	case DOOR_OCSP:
		q->der = door_get_bytes(&r, 64 * 1024, &q->derlen);
		break;
	case DOOR_METRICS:
		break;
	case DOOR_DELIVERED:
		q->serial = door_get_str(&r, 64);
		q->delivered = (int)door_get_u64(&r, 1);
		if (!r.bad && !serial_shape(q->serial))
			r.bad = 1;
		break;
	case DOOR_REDEEM_CSR:
	case DOOR_BY_CERT:
		parse_protocol(type, &r, q);
		break;
	case DOOR_CERT:
		q->serial = door_get_str(&r, 64);
		if (!r.bad && !serial_shape(q->serial))
			r.bad = 1;
		break;
	case DOOR_SCEP_TX:
	case DOOR_SCEP_POLL:
		parse_scep(type, &r, q);
		break;
	default:
		r.bad = 1;
		break;
	}
	if (!r.bad && q->token != NULL && !token_shape(q->token))
		r.bad = 1;
	if (door_rd_end(&r) != UC_OK) {
		door_request_clear(q);
		return uc_seterr(UC_E_INVALID, "malformed message of type %u",
		    type);
	}
	return UC_OK;
}

/* ---- sending and receiving whole messages --------------------------------------- */

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return uc_seterr(UC_E_IO, "send: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return UC_OK;
}

static int
read_all(int fd, unsigned char *p, size_t len, int *eof)
{
	ssize_t n;

	*eof = 0;
	while (len > 0) {
		if ((n = read(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return uc_seterr(UC_E_IO, "read: %s", strerror(errno));
		}
		if (n == 0) {
			*eof = 1;
			return uc_seterr(UC_E_IO, "end of file");
		}
		p += n;
		len -= (size_t)n;
	}
	return UC_OK;
}

int
door_send(int fd, uint16_t type, uint32_t id, const unsigned char *body,
    size_t len)
{
	struct door_hdr h;
	struct msghdr m;
	struct iovec iov[2];
	unsigned char hb[DOOR_HDRLEN];
	ssize_t n;
	int rc;

	if (len > DOOR_MAX_BODY)
		return uc_seterr(UC_E_INVALID, "message too large");
	memset(&h, 0, sizeof(h));
	h.version = DOOR_VERSION;
	h.type = type;
	h.id = id;
	h.len = (uint32_t)len;
	door_hdr_put(&h, hb);
	/* Header and body in one system call (an OCSP round trip is a few
	 * of them); the rest, if the socket took only part, as it comes. */
	memset(&m, 0, sizeof(m));
	iov[0].iov_base = hb;
	iov[0].iov_len = sizeof(hb);
	iov[1].iov_base = (void *)(uintptr_t)body;
	iov[1].iov_len = len;
	m.msg_iov = iov;
	m.msg_iovlen = len > 0 ? 2 : 1;
	while ((n = sendmsg(fd, &m, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return uc_seterr(UC_E_IO, "send: %s", strerror(errno));
	if ((size_t)n < sizeof(hb)) {
		if ((rc = write_all(fd, hb + n, sizeof(hb) - (size_t)n)) !=
		    UC_OK)
			return rc;
		n = 0;
	} else
		n -= (ssize_t)sizeof(hb);
	return (size_t)n < len ? write_all(fd, body + n, len - (size_t)n) :
	    UC_OK;
}

void
door_in_init(struct door_in *in, int fd)
{
	in->fd = fd;
	in->off = in->len = 0;
}

/* At least want (<= sizeof(in->b)) bytes buffered; one read brings what
 * has arrived. */
static int
in_fill(struct door_in *in, size_t want, int *eof)
{
	size_t old;
	ssize_t n;

	*eof = 0;
	if (in->len - in->off >= want)
		return UC_OK;
	/* Consumed bytes were wiped by door_recv(); wipe the moved ones'
	 * old place too (a HELLO carries keys, a REDEEM a retry secret). */
	old = in->len;
	memmove(in->b, in->b + in->off, in->len - in->off);
	in->len -= in->off;
	in->off = 0;
	OPENSSL_cleanse(in->b + in->len, old - in->len);
	while (in->len < want) {
		if ((n = read(in->fd, in->b + in->len, sizeof(in->b) -
		    in->len)) == -1) {
			if (errno == EINTR)
				continue;
			return uc_seterr(UC_E_IO, "read: %s", strerror(errno));
		}
		if (n == 0) {
			*eof = in->len == 0;
			return uc_seterr(UC_E_IO, "end of file");
		}
		in->len += (size_t)n;
	}
	return UC_OK;
}

int
door_recv(struct door_in *in, size_t max, struct door_hdr *h,
    unsigned char **body)
{
	size_t have, start;
	int rc, eof;

	*body = NULL;
	if ((rc = in_fill(in, DOOR_HDRLEN, &eof)) != UC_OK)
		return eof ? UC_E_NOTFOUND : rc;
	if ((rc = door_hdr_parse(in->b + in->off, max, h)) != UC_OK)
		return rc;
	start = in->off;
	in->off += DOOR_HDRLEN;
	/* One more byte: an empty body is still a buffer. */
	if ((*body = malloc((size_t)h->len + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	/* What is buffered, then the rest of a large one straight in. */
	have = in->len - in->off < h->len ? in->len - in->off : h->len;
	memcpy(*body, in->b + in->off, have);
	in->off += have;
	OPENSSL_cleanse(in->b + start, in->off - start);
	if (have < h->len && (rc = read_all(in->fd, *body + have, h->len -
	    have, &eof)) != UC_OK) {
		free(*body);
		*body = NULL;
		return rc;
	}
	return UC_OK;
}

/* ---- the child's side ------------------------------------------------------------------ */

struct waiter {
	struct waiter	*next;
	uint32_t	 id;
	int		 done;
	pthread_cond_t	 cv;		/* its own: an answer wakes one */
	unsigned char	*body;
	size_t		 len;
};

struct door {
	int		 fd;
	struct door_in	 in;		/* the reader's (door_read_push first) */
	door_push_fn	 push;
	void		*arg;
	door_local_fn	 local;
	void		*larg;
	pthread_mutex_t	 wmu;		/* one writer at a time */
	pthread_mutex_t	 mu;		/* waiters, next, dead */
	struct waiter	*w;
	uint32_t	 next;
	int		 dead;
	int		 started;
	pthread_t	 th;
};

static struct door *
door_new(void)
{
	struct door *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->fd = -1;
	pthread_mutex_init(&d->wmu, NULL);
	pthread_mutex_init(&d->mu, NULL);
	return d;
}

struct door *
door_open(int fd, door_push_fn push, void *arg)
{
	struct door *d;

	if ((d = door_new()) == NULL)
		return NULL;
	d->fd = fd;
	door_in_init(&d->in, fd);
	d->push = push;
	d->arg = arg;
	return d;
}

struct door *
door_local(door_local_fn fn, void *arg)
{
	struct door *d;

	if ((d = door_new()) == NULL)
		return NULL;
	d->local = fn;
	d->larg = arg;
	return d;
}

/* A push's body: a HELLO holds the TLS and SCEP RA keys, wiped. */
static void
push_free(const struct door_hdr *h, unsigned char *body)
{
	if (body != NULL && h->type == DOOR_HELLO)
		OPENSSL_cleanse(body, h->len);
	free(body);
}

int
door_read_push(struct door *d, uint16_t want)
{
	struct door_hdr h;
	unsigned char *body = NULL;
	int rc;

	if ((rc = door_recv(&d->in, DOOR_MAX_BODY, &h, &body)) != UC_OK)
		return rc;
	if (h.type != want)
		rc = uc_seterr(UC_E_INVALID, "message %u where %u was due",
		    h.type, want);
	else if (d->push(d->arg, h.type, body, h.len) != 0)
		rc = uc_seterr(UC_E_INVALID, "message %u refused", h.type);
	push_free(&h, body);
	return rc;
}

static void *
reader(void *arg)
{
	struct door *d = arg;
	struct door_hdr h;
	struct waiter *w;
	unsigned char *body;

	for (;;) {
		if (door_recv(&d->in, DOOR_MAX_BODY, &h, &body) != UC_OK)
			break;
		if (!(h.type & DOOR_ANSWER)) {
			if (d->push(d->arg, h.type, body, h.len) != 0) {
				push_free(&h, body);
				break;
			}
			push_free(&h, body);
			continue;
		}
		pthread_mutex_lock(&d->mu);
		for (w = d->w; w != NULL && w->id != h.id; w = w->next)
			;
		if (w != NULL && !w->done) {
			w->body = body;
			w->len = h.len;
			w->done = 1;
			body = NULL;	/* now owned by the waiter */
			pthread_cond_signal(&w->cv);
		}
		pthread_mutex_unlock(&d->mu);
		free(body);
	}
	pthread_mutex_lock(&d->mu);
	d->dead = 1;
	for (w = d->w; w != NULL; w = w->next)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&d->mu);
	/* The monitor is gone (or spoke nonsense): tell the child. */
	(void)d->push(d->arg, 0, NULL, 0);
	return NULL;
}

int
door_start(struct door *d)
{
	if (pthread_create(&d->th, NULL, reader, d) != 0)
		return uc_seterr(UC_E_INTERNAL, "door thread: %s",
		    strerror(errno));
	d->started = 1;
	return UC_OK;
}

void
door_free(struct door *d)
{
	if (d == NULL)
		return;
	if (d->fd != -1) {
		(void)shutdown(d->fd, SHUT_RDWR);
		if (d->started)
			pthread_join(d->th, NULL);
		close(d->fd);
	}
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->wmu);
	free(d);
}

/*
 * One request, one answer: *ans (caller frees) of *alen bytes.  UC_E_IO
 * when the monitor cannot be reached.
 */
static int
door_call(struct door *d, uint16_t type, struct ucbuf *req,
    unsigned char **ans, size_t *alen)
{
	struct ucbuf reply = UCBUF_INIT(0, 1);
	struct waiter w, **pp;
	int rc;

	*ans = NULL;
	*alen = 0;
	if (req->err != UC_OK)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (d->local != NULL) {
		if ((rc = d->local(d->larg, type, req->p, req->len, &reply)) !=
		    UC_OK || reply.err != UC_OK) {
			ucbuf_free(&reply);
			return rc != UC_OK ? rc : uc_seterr(UC_E_INTERNAL,
			    "out of memory");
		}
		*alen = reply.len;
		if (ucbuf_take(&reply, ans, NULL) != UC_OK ||
		    (*ans == NULL && (*ans = calloc(1, 1)) == NULL)) {
			ucbuf_free(&reply);
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
		return UC_OK;
	}
	memset(&w, 0, sizeof(w));
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&d->mu);
	if (d->dead) {
		pthread_mutex_unlock(&d->mu);
		pthread_cond_destroy(&w.cv);
		return uc_seterr(UC_E_IO, "the monitor is gone");
	}
	if (++d->next == 0)
		d->next = 1;
	w.id = d->next;
	w.next = d->w;
	d->w = &w;
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_lock(&d->wmu);
	rc = door_send(d->fd, type, w.id, req->p, req->len);
	pthread_mutex_unlock(&d->wmu);
	pthread_mutex_lock(&d->mu);
	while (rc == UC_OK && !w.done && !d->dead)
		pthread_cond_wait(&w.cv, &d->mu);
	for (pp = &d->w; *pp != NULL; pp = &(*pp)->next)
		if (*pp == &w) {
			*pp = w.next;
			break;
		}
	pthread_mutex_unlock(&d->mu);
	pthread_cond_destroy(&w.cv);
	if (rc == UC_OK && !w.done)
		rc = uc_seterr(UC_E_IO, "the monitor is gone");
	if (rc != UC_OK) {
		free(w.body);
		return rc;
	}
	*ans = w.body;
	*alen = w.len;
	return UC_OK;
}

static int
bad_answer(void)
{
	return uc_seterr(UC_E_IO, "malformed answer from the monitor");
}

/* A string field that may be empty: NULL for "". */
static char *
opt_str(struct door_rd *r, size_t max)
{
	char *s = door_get_str(r, max);

	if (s != NULL && s[0] == '\0') {
		free(s);
		return NULL;
	}
	return s;
}

static void
get_user(struct door_rd *r, struct authority_user *u)
{
	u->username = opt_str(r, 1024);
	u->email = opt_str(r, 1024);
	u->name = opt_str(r, 1024);
	u->upn = opt_str(r, 1024);
}

int
door_lookup(struct door *d, const char *token, struct token_info *ti)
{
	struct ucbuf req = UCBUF_INIT(0, 1);
	struct door_rd r;
	unsigned char *ans = NULL;
	size_t alen;
	int rc;

	memset(ti, 0, sizeof(*ti));
	/* Whatever the URL held: the monitor takes only our tokens' shape. */
	door_put_str(&req, token_shape(token) ? token : "!");
	rc = door_call(d, DOOR_LOOKUP, &req, &ans, &alen);
	ucbuf_free(&req);
	if (rc != UC_OK)
		return rc;
	door_rd_init(&r, ans, alen);
	ti->state = (enum token_state)door_get_u64(&r, TOKEN_USED);
	ti->expires_at = (int64_t)door_get_u64(&r, INT64_MAX);
	ti->used_at = (int64_t)door_get_u64(&r, INT64_MAX);
	get_user(&r, &ti->user);
	ti->renews = opt_str(&r, 64);
	ti->renews_not_after = (int64_t)door_get_u64(&r, INT64_MAX);
	ti->renews_revoke_old = (int)door_get_u64(&r, 1);
	free(ans);
	if (door_rd_end(&r) != UC_OK) {
		token_info_clear(ti);
		return bad_answer();
	}
	return UC_OK;
}

void
door_redeem_out_clear(struct door_redeem_out *o)
{
	if (o == NULL)
		return;
	free(o->errmsg);
	free(o->serial);
	free(o->chain);
	secret_free(o->retry);
	authority_user_clear(&o->user);
	memset(o, 0, sizeof(*o));
}

/* A redemption's answer (REDEEM, REDEEM_CSR, BY_CERT) into o; frees ans. */
static int
redeem_answer(unsigned char *ans, size_t alen, struct door_redeem_out *o)
{
	struct door_rd r;
	const unsigned char *chain;

	door_rd_init(&r, ans, alen);
	o->rc = -(int)door_get_u64(&r, 255);	/* sent as -rc */
	o->state = (enum token_state)door_get_u64(&r, TOKEN_USED);
	o->errmsg = opt_str(&r, 512);
	o->serial = opt_str(&r, 64);
	o->not_after = (int64_t)door_get_u64(&r, INT64_MAX);
	if ((chain = door_get_bytes(&r, 1024 * 1024, &o->chainlen)) != NULL &&
	    o->chainlen > 0) {
		if ((o->chain = malloc(o->chainlen)) == NULL)
			r.bad = 1;
		else
			memcpy(o->chain, chain, o->chainlen);
	}
	o->retry = opt_str(&r, 64);
	o->retry_until = (int64_t)door_get_u64(&r, INT64_MAX);
	o->superseded = (int)door_get_u64(&r, 1);
	o->again = (int)door_get_u64(&r, 1);
	get_user(&r, &o->user);
	OPENSSL_cleanse(ans, alen);	/* the retry secret */
	free(ans);
	if (door_rd_end(&r) != UC_OK || (o->rc == UC_OK && (o->serial == NULL ||
	    o->chain == NULL))) {
		door_redeem_out_clear(o);
		return bad_answer();
	}
	return UC_OK;
}

/* One redemption's request req (freed here) and its answer into o. */
static int
redeem_call(struct door *d, uint16_t type, struct ucbuf *req,
    struct door_redeem_out *o)
{
	unsigned char *ans = NULL;
	size_t alen;
	int rc;

	rc = door_call(d, type, req, &ans, &alen);
	ucbuf_free(req);
	if (rc != UC_OK)
		return rc;
	return redeem_answer(ans, alen, o);
}

int
door_redeem(struct door *d, const char *token, enum door_method method,
    const unsigned char *spki, size_t spkilen, const char *retry,
    struct door_redeem_out *o)
{
	struct ucbuf req = UCBUF_INIT(0, 1);
	int rc;

	memset(o, 0, sizeof(*o));
	door_put_str(&req, token_shape(token) ? token : "!");
	door_put_u64(&req, (uint64_t)method);
	door_put_bytes(&req, spki, spkilen);
	/* A retry secret of the wrong shape is refused as a wrong one. */
	door_put_str(&req, retry == NULL || method == DOOR_CSR ? "" :
	    token_shape(retry) ? retry : "!");
	rc = redeem_call(d, DOOR_REDEEM, &req, o);
	/* A server-made key's bundle names the user; a CSR's needs no one. */
	if (rc == UC_OK && o->rc == UC_OK && method != DOOR_CSR &&
	    o->user.username == NULL) {
		door_redeem_out_clear(o);
		return bad_answer();
	}
	return rc;
}

int
door_redeem_csr(struct door *d, const char *token, const char *user,
    enum door_csr_door door, const unsigned char *csr, size_t csrlen,
    struct door_redeem_out *o)
{
	struct ucbuf req = UCBUF_INIT(0, 1);

	memset(o, 0, sizeof(*o));
	/* No user of ours has a longer name: no such token for it. */
	if (user != NULL && strlen(user) > DOOR_USER_MAX) {
		o->rc = UC_E_NOTFOUND;
		o->state = TOKEN_UNKNOWN;
		if ((o->errmsg = strdup("unknown token")) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		return UC_OK;
	}
	/* The monitor takes only our tokens' shape; "!" is refused. */
	door_put_str(&req, token != NULL && token_shape(token) ? token : "!");
	door_put_u64(&req, (uint64_t)door);
	door_put_u64(&req, (uint64_t)(user != NULL));
	door_put_str(&req, user);
	door_put_bytes(&req, csr, csrlen);
	return redeem_call(d, DOOR_REDEEM_CSR, &req, o);
}

int
door_by_cert(struct door *d, enum door_by_cert kind,
    const unsigned char *cert, size_t certlen, const unsigned char *csr,
    size_t csrlen, struct door_redeem_out *o)
{
	struct ucbuf req = UCBUF_INIT(0, 0);

	memset(o, 0, sizeof(*o));
	door_put_u64(&req, (uint64_t)kind);
	door_put_bytes(&req, cert, certlen);
	door_put_bytes(&req, csr, csrlen);
	return redeem_call(d, DOOR_BY_CERT, &req, o);
}

/* CERT's and SCEP_POLL's answer: found, DER (frees ans). */
static int
cert_answer(unsigned char *ans, size_t n, unsigned char **der, size_t *len)
{
	struct door_rd r;
	const unsigned char *p;
	int found;

	door_rd_init(&r, ans, n);
	found = (int)door_get_u64(&r, 1);
	p = door_get_bytes(&r, 64 * 1024, &n);
	if (!r.bad && found && n > 0 && (*der = malloc(n)) != NULL) {
		memcpy(*der, p, n);
		*len = n;
	}
	free(ans);
	if (door_rd_end(&r) != UC_OK || (found && *der == NULL)) {
		free(*der);
		*der = NULL;
		return found ? uc_seterr(UC_E_INTERNAL, "out of memory") :
		    bad_answer();
	}
	return found ? UC_OK : uc_seterr(UC_E_NOTFOUND, "no such "
	    "certificate");
}

int
door_cert(struct door *d, const char *serial, unsigned char **der,
    size_t *len)
{
	struct ucbuf req = UCBUF_INIT(0, 0);
	unsigned char *ans = NULL;
	size_t n = 0;
	int rc;

	*der = NULL;
	*len = 0;
	if (serial == NULL || !serial_shape(serial))
		return uc_seterr(UC_E_NOTFOUND, "no such certificate");
	door_put_str(&req, serial);
	rc = door_call(d, DOOR_CERT, &req, &ans, &n);
	ucbuf_free(&req);
	if (rc != UC_OK)
		return rc;
	return cert_answer(ans, n, der, len);
}

int
door_scep_tx(struct door *d, const char *tid, const char *token,
    const unsigned char *cert, size_t certlen, const unsigned char *csr,
    size_t csrlen, struct door_redeem_out *o)
{
	struct ucbuf req = UCBUF_INIT(0, 1);

	memset(o, 0, sizeof(*o));
	/* The monitor would take another shape for a child gone wrong. */
	if (tid == NULL || !tid_shape(tid)) {
		ucbuf_free(&req);
		o->rc = UC_E_INVALID;
		if ((o->errmsg = strdup("the transactionID is not printable "
		    "text of at most 128 characters")) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		return UC_OK;
	}
	door_put_str(&req, tid);
	/* The monitor takes only our tokens' shape; "!" is refused. */
	door_put_str(&req, cert != NULL ? "" : token != NULL &&
	    token_shape(token) ? token : "!");
	door_put_bytes(&req, cert, cert != NULL ? certlen : 0);
	door_put_bytes(&req, csr, csrlen);
	return redeem_call(d, DOOR_SCEP_TX, &req, o);
}

int
door_scep_poll(struct door *d, const char *tid, const unsigned char key[32],
    unsigned char **der, size_t *len)
{
	struct ucbuf req = UCBUF_INIT(0, 0);
	unsigned char *ans = NULL;
	size_t n = 0;
	int rc;

	*der = NULL;
	*len = 0;
	if (tid == NULL || !tid_shape(tid))
		return uc_seterr(UC_E_NOTFOUND, "no such transaction");
	door_put_str(&req, tid);
	door_put_bytes(&req, key, 32);
	rc = door_call(d, DOOR_SCEP_POLL, &req, &ans, &n);
	ucbuf_free(&req);
	if (rc != UC_OK)
		return rc;
	return cert_answer(ans, n, der, len);
}

int
door_ocsp(struct door *d, const unsigned char *der, size_t len,
    struct ocsp_answer *a)
{
	struct ucbuf req = UCBUF_INIT(0, 0);
	struct door_rd r;
	unsigned char *ans = NULL;
	const unsigned char *p;
	char *etag;
	size_t alen;
	int rc;

	memset(a, 0, sizeof(*a));
	door_put_bytes(&req, der, len);
	rc = door_call(d, DOOR_OCSP, &req, &ans, &alen);
	ucbuf_free(&req);
	if (rc != UC_OK)
		return rc;
	door_rd_init(&r, ans, alen);
	a->status = (int)door_get_u64(&r, 6);
	a->nonce = (int)door_get_u64(&r, 1);
	a->cached = (int)door_get_u64(&r, 1);
	a->good = (int)door_get_u64(&r, INT32_MAX);
	a->revoked = (int)door_get_u64(&r, INT32_MAX);
	a->unknown = (int)door_get_u64(&r, INT32_MAX);
	a->this_update = (int64_t)door_get_u64(&r, INT64_MAX);
	a->next_update = (int64_t)door_get_u64(&r, INT64_MAX);
	a->max_age = (int)door_get_u64(&r, INT32_MAX);
	a->epoch = door_get_u64(&r, UINT64_MAX);
	a->epoch_after = door_get_u64(&r, UINT64_MAX);
	if ((etag = door_get_str(&r, sizeof(a->etag) - 1)) != NULL)
		snprintf(a->etag, sizeof(a->etag), "%s", etag);
	free(etag);
	if ((p = door_get_bytes(&r, 1024 * 1024, &a->len)) != NULL &&
	    a->len > 0) {
		if ((a->der = malloc(a->len)) == NULL)
			r.bad = 1;
		else
			memcpy(a->der, p, a->len);
	}
	free(ans);
	if (door_rd_end(&r) != UC_OK || a->der == NULL) {
		ocsp_answer_clear(a);
		return bad_answer();
	}
	return UC_OK;
}

void
door_epoch_put(struct ucbuf *b, uint64_t epoch)
{
	door_put_u64(b, epoch);
}

int
door_epoch_parse(const unsigned char *body, size_t len, uint64_t *epoch)
{
	struct door_rd r;

	door_rd_init(&r, body, len);
	*epoch = door_get_u64(&r, UINT64_MAX);
	if (door_rd_end(&r) != UC_OK || *epoch == 0)
		return uc_seterr(UC_E_INVALID, "malformed EPOCH");
	return UC_OK;
}

char *
door_metrics(struct door *d)
{
	struct ucbuf req = UCBUF_INIT(0, 0);
	struct door_rd r;
	unsigned char *ans = NULL;
	size_t alen;
	char *s;
	int rc;

	rc = door_call(d, DOOR_METRICS, &req, &ans, &alen);
	ucbuf_free(&req);
	if (rc != UC_OK)
		return NULL;
	door_rd_init(&r, ans, alen);
	s = door_get_str(&r, 1024 * 1024);
	free(ans);
	if (door_rd_end(&r) != UC_OK) {
		free(s);
		return NULL;
	}
	return s;
}

void
door_delivered(struct door *d, const char *serial, int delivered)
{
	struct ucbuf req = UCBUF_INIT(0, 0);
	unsigned char *ans = NULL;
	size_t alen;

	door_put_str(&req, serial);
	door_put_u64(&req, delivered ? 1 : 0);
	if (req.err != UC_OK) {
		ucbuf_free(&req);
		return;
	}
	if (d->local != NULL) {
		(void)door_call(d, DOOR_DELIVERED, &req, &ans, &alen);
		free(ans);
	} else {
		pthread_mutex_lock(&d->wmu);
		(void)door_send(d->fd, DOOR_DELIVERED, 0, req.p, req.len);
		pthread_mutex_unlock(&d->wmu);
	}
	ucbuf_free(&req);
}
