/*
 * enrolld.h: userca-enrolld, the enrollment daemon.
 *
 * The request handling (routing, enrollment, publication, health, metrics)
 * is a pure function of a parsed request, so it is unit-testable and
 * fuzzable without a socket; main.c is the only file that knows
 * libmicrohttpd.
 */
#ifndef UC_ENROLLD_H
#define UC_ENROLLD_H

#include <sys/types.h>

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "authority.h"

/* ---- config.c ------------------------------------------------------------ */

struct econf {
	char	*path;			/* the file it came from */
	char	*home;			/* [ca] home */
	char	*http_listen;		/* [http] listen; NULL: off */
	char	*https_listen;		/* [https] listen; NULL: off */
	char	*tls_cert;		/* [https] cert */
	char	*tls_key;		/* [https] key */
	char	*tls_priorities;	/* [https] priorities (GnuTLS) */
	int	 allow_plain_http;	/* [enroll] allow_plain_http */
	int	 token_ttl;		/* [enroll] token_ttl (s) */
	int	 retry_window;		/* [enroll] retry_window (s): a second
					 * try of a server-made PKCS#12;
					 * 0: off */
	char	*web_root;		/* [enroll] web_root */
	char	*default_p12_format;	/* [enroll] default_p12_format */
	int	 smime;			/* [enroll] smime: S/MIME for users
					 * with an email address */
	int	 crl_validity;		/* [crl] validity (s) */
	int	 refresh_before;	/* [crl] refresh_before (s) */
	int	 poll;			/* [crl] poll (s) */
	int	 root_warn_before;	/* [crl] root_warn_before (s) */
	int	 issuing_warn_before;	/* [ca] issuing_warn_before (s): warn
					 * this long before the issuing CA's
					 * certificate expires */
	int	 runway_min;		/* [crl] runway_min: pre-signed root
					 * CRLs that must remain */
	size_t	 max_body;		/* [limits] max_body (bytes) */
	int	 max_connections;	/* [limits] max_connections */
	int	 timeout;		/* [limits] timeout (s): idle */
	int	 request_timeout;	/* [limits] request_timeout (s): the
					 * whole request must arrive in it */
	int	 per_address;		/* [limits] per_address: connections
					 * from one address (IPv6: /64) */
	int	 rate_limit;		/* [limits] rate_limit: failed token
					 * attempts per address per minute */
	int	 drain;			/* [limits] drain (s) on SIGTERM */
	char	*user;			/* [daemon] user of the network
					 * child; NULL: userca or nobody */
	int	 scep_allow_des;	/* [scep] allow_des: single DES
					 * envelopes (old clients) */
	char	*est_listen;		/* [est] listen; NULL: off (HTTPS,
					 * [https] cert and key) */
};

/*
 * TLS 1.3 and 1.2 only; forward-secret key exchange (ECDHE; TLS 1.3's
 * groups) and AEAD ciphers only: no static RSA, no CBC, no SHA-1 MAC.
 * SECURE128 already refuses SHA-1 signatures and small groups.
 */
#define ECONF_TLS_PRIORITIES \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

int	econf_load(const char *path, struct econf *c);
void	econf_clear(struct econf *c);
/* Durations ("30s", "5m", "72h", "7d"): parse_duration() in ca/pki.h. */
/* "64k", "1m", or plain bytes. */
int	parse_size(const char *s, size_t *bytes);

/* ---- publish.c: the public files, from memory ------------------------------ */

struct blob {
	int		 refs;		/* atomic */
	unsigned char	*data;
	size_t		 len;
};
void	blob_unref(void *blob);
struct blob *blob_ref(struct blob *);

struct pubfile {
	const char	*route;		/* "/crl.der" */
	const char	*file;		/* in public/ */
	const char	*type;		/* Content-Type */
	struct blob	*body;		/* NULL: not published */
	char		 etag[48];
	int64_t		 mtime;		/* Last-Modified */
	int64_t		 mtime_ns;	/* change detection: atomic */
	uint64_t	 ino;		/* replace means a new inode */
	int64_t		 next_update;	/* CRLs: 0 otherwise */
	int64_t		 crl_number;
	long		 crl_entries;
};

#define NPUB_BASE 6	/* /ca.pem ... /root.crl; then per generation: */
#define NPUB_GENS 16	/* issuing CAs served by name (crl-<gen>.der...) */
#define NPUB	(NPUB_BASE + 3 * NPUB_GENS)

/*
 * One generation of the public files, never changed once published.
 * Readers take a reference (pub_get) and may use it without the lock;
 * a reload swaps in a new set, and the old one goes when its last
 * reader puts it back.
 */
struct pubset {
	int		 refs;		/* atomic: d->pub's, and each reader's */
	struct pubfile	 f[NPUB];
	X509		*issuing;	/* the current issuing CA: the first
					 * certificate of /ca.pem (the child's
					 * OCSP pre-check, SCEP, EST); NULL:
					 * not published */
	X509		*root;		/* the root, the last of /ca.pem,
					 * when it is not the issuing CA */
	X509		*prev[NPUB_GENS]; /* issuing CAs a rollover replaced,
					 * still in service (between them) */
	int		 nprev;
};
/* The routes, files and types of every public file into ps->f. */
void	pub_names(struct pubset *ps);
/* Parse /ca.pem of ps (the issuing CA, those before it still in service,
 * the root) into ps->issuing, prev and root (NULL when absent or bad). */
void	pub_issuing(struct pubset *ps);

/* ---- the daemon's state ------------------------------------------------------- */

struct ratelimit;
struct metrics;
struct door;
struct ocsp_cache;

#define ED_RETIRED	8	/* rollovers one run of the daemon follows */

#define WEB_HTML	0
#define WEB_JS		1
#define WEB_CSS		2
#define NWEB		3

/*
 * Both processes use this struct.  The monitor (and the in-process mode of
 * tests, fuzzers and --check) has a; the network child has door only and
 * gets everything else from the monitor's HELLO and PUBLISHED messages.
 */
struct enrolld {
	struct econf		 conf;
	/*
	 * The monitor's CA home (NULL in the network child), opened anew
	 * when a rollover changes its issuing CA (crl_watch): threads read
	 * it once per use with ed_auth(); the authorities before stay open
	 * (requests may still hold them) until enrolld_free().
	 */
	struct authority	*a;
	struct authority	*retired[ED_RETIRED];
	int			 nretired;
	struct door		*door;		/* requests to the monitor */
	int			 child;		/* 1 in the network child */
	uint64_t		 generation;	/* pub_reload()s so far */
	/* What the network child needs to build bundles (HELLO). */
	struct blob		*web[NWEB];	/* enroll.html, .js, .css */
	char			*user_key;	/* key type of server-made keys */
	char			*org;
	char			*eas_host;	/* userca.conf [eas], or NULL */
	char			*eas_domain;
	struct pending		*pending;	/* in-process: server-made
						 * keys answered, not yet
						 * delivered */
	pthread_rwlock_t	 publock;
	struct pubset		*pub;		/* replaced whole on reload,
						 * under publock (write) */
	struct ratelimit	*rl;
	struct metrics		*m;
	char			 health_why[512];
	int			 healthy;
	char			 health_warn[256];	/* healthy, but: */
	int			 stale;		/* the issuing CA changed on
						 * disk and could not be
						 * followed */
	sem_t			 keygen;	/* server-side key generations
						 * at once: one per core, so
						 * RSA never starves the rest */
	struct scep_state	*scep;		/* scep.c: NULL until ready */
	char			*base_url;	/* userca.conf [ca] base_url */
	pthread_mutex_t		 ralock;	/* the pair below */
	X509			*ra;		/* the SCEP RA (HELLO); the
						 * monitor asks the authority */
	EVP_PKEY		*rakey;
	X509			*pcert;		/* the TLS pair (HELLO), which
						 * signs Apple profiles (ralock);
						 * NULL: unsigned */
	STACK_OF(X509)		*pchain;	/* pcert's issuers */
	EVP_PKEY		*pkey;
	long			 runway;	/* pre-signed root CRLs left */
	int64_t			 runway_until;	/* last root nextUpdate */
	struct ocsp_cache	*ocache;	/* the network child's signed
						 * OCSP answers (ocspcache.c);
						 * NULL elsewhere */
};

/*
 * enrolld.c: zero d, load the settings at config, open the CA home (an
 * issuing CA apart from the root, or UC_E_STATE), its issuing signer, rate
 * limits, metrics and public/.  Call enrolld_free() whatever it returns.
 */
int	enrolld_init(struct enrolld *d, const char *config);
/* The network child's empty state, filled by HELLO and PUBLISHED. */
int	enrolld_child_init(struct enrolld *d);
/*
 * The SCEP RA certificate and key in use (new references, caller frees
 * both): the authority's in the monitor and in-process, HELLO's in the
 * network child.  UC_E_STATE when there is none yet.
 */
int	enrolld_scep_ra(struct enrolld *d, X509 **cert, EVP_PKEY **key);
/* Replace the network child's RA pair (HELLO); takes both. */
void	enrolld_set_scep_ra(struct enrolld *d, X509 *cert, EVP_PKEY *key);
/*
 * The network child's TLS pair (HELLO's PEM: the certificate, its chain
 * after it, and the key) as the signer of Apple profiles; a pair that
 * does not parse or match leaves the one before.  enrolld_profile_sign():
 * *body (a plist of *len bytes, secret_free_buf()) replaced by itself
 * signed (mobileconfig_sign); left as it is when there is no signer (the
 * in-process daemon).
 */
void	enrolld_set_profile_signer(struct enrolld *d, const unsigned char *cert,
	    size_t certlen, const unsigned char *key, size_t keylen);
int	enrolld_profile_sign(struct enrolld *d, unsigned char **body,
	    size_t *len);
/* The authority in use now (see struct enrolld). */
static inline struct authority *
ed_auth(struct enrolld *d)
{
	return __atomic_load_n(&d->a, __ATOMIC_ACQUIRE);
}
void	enrolld_free(struct enrolld *d);
/* The web files from [enroll] web_root into d->web (missing: NULL). */
int	web_load(const struct econf *, struct blob *web[NWEB]);
/* Swap in a public file set made elsewhere (the child's PUBLISHED). */
void	pub_swap(struct enrolld *, struct pubset *);
/* Load public/ into memory (again) and swap it in. */
int	pub_reload(struct enrolld *);
/* The set in force with a reference the caller gives back with pub_put();
 * NULL before the first pub_reload(). */
struct pubset *pub_get(struct enrolld *);
/* Drop a reference; the last one frees the set.  NULL-safe. */
void	pub_put(struct pubset *);
/*
 * The periodic job: re-sign the issuing CRL when nextUpdate comes within
 * refresh_before or a revocation is not yet on it (the CLI may revoke on
 * the same database), reload what changed, and update health.
 */
void	crl_watch(struct enrolld *);

/* ---- http.c: requests ------------------------------------------------------------ */

struct req {
	const char		*method;
	const char		*path;
	const char		*accept;
	const char		*content_type;
	const char		*if_none_match;
	const char		*if_modified_since;
	const char		*user_agent;
	const char		*retry;		/* X-Userca-Retry */
	const unsigned char	*body;
	size_t			 bodylen;
	const char		*client;	/* address, for rate limits */
	int			 tls;
	const char		*operation;	/* ?operation= (SCEP) */
	const char		*message;	/* ?message= (SCEP GET) */
	const char		*authorization;	/* Authorization (EST) */
	const unsigned char	*peer_cert;	/* the TLS client certificate
						 * (DER), EST listener only */
	size_t			 peer_certlen;
	int			 est;		/* on the EST listener */
};

struct resp {
	int		 status;
	const char	*type;
	unsigned char	*body;		/* owned; or blob */
	size_t		 len;
	struct blob	*blob;		/* a published file (ref held) */
	int		 secret;	/* wipe body after sending */
	char		 etag[48];
	char		 last_modified[40];
	char		 cache_control[48];
	char		 disposition[160];
	char		 allow[32];
	char		 hdr_name[32];	/* one extra header, if set */
	char		 hdr_value[160];
	struct {
		char	 name[32];
		char	 value[64];
	}		 xhdr[3];	/* more headers, if name is set */
	const char	*route;		/* for metrics and the log */
	char		 deliver[68];	/* the serial of a server-made key
					 * in this answer: tell the monitor
					 * whether it was sent */
};

/*
 * 1 when client may try token: it is under [limits] rate_limit failures
 * this minute, or the token is valid and unused (others failing behind
 * the same NAT must not stop a good link).  Every door asks this.
 */
int	token_may_try(struct enrolld *, const char *client, const char *token);
/* Answer one request.  Never fails: errors are JSON responses. */
void	handle_request(struct enrolld *, const struct req *, struct resp *);
void	resp_clear(struct resp *);
/* The path with any token replaced by "<token>", for logs. */
void	redact_path(const char *path, char *out, size_t len);
/* HTTP dates (RFC 9110): t into buf; -1 when s is not one. */
void	http_date(int64_t t, char *buf, size_t len);
int64_t	parse_http_date(const char *s);
/* 1 if an If-None-Match list (or "*") names etag, a whole tag. */
int	etag_match(const char *inm, const char *etag);

/* ---- monitor.c: the monitor's answers (door.h) ------------------------------ */

struct ucbuf;
struct pending;
/*
 * Answer one request of the network child: a door_local_fn (arg is the
 * struct enrolld).  UC_E_INVALID for a malformed message.
 */
int	monitor_answer(void *arg, uint16_t type, const unsigned char *body,
	    size_t len, struct ucbuf *reply);
/* As monitor_answer(), for one child whose undelivered keys are p. */
int	monitor_answer_for(struct enrolld *, struct pending *p, uint16_t type,
	    const unsigned char *body, size_t len, struct ucbuf *reply);
struct pending *pending_new(void);
/* Revoke and re-arm every server-made key still undelivered (the child
 * died); any added later is undone at once.  NULL-safe. */
void	pending_fail(struct enrolld *, struct pending *p);
/* Forget p without undoing anything (in-process mode).  NULL-safe. */
void	pending_free(struct pending *p);
/* HELLO and PUBLISHED bodies of the monitor's current state. */
int	monitor_hello(struct enrolld *, int quiet, const unsigned char *cert,
	    size_t certlen, const unsigned char *key, size_t keylen, X509 *ra,
	    EVP_PKEY *rakey, struct ucbuf *out);
int	monitor_published(struct enrolld *, struct ucbuf *out);
/* The child's side of the same two: UC_E_INVALID when malformed. */
int	child_hello(struct enrolld *, const unsigned char *body, size_t len,
	    int *quiet, unsigned char **cert, size_t *certlen,
	    unsigned char **key, size_t *keylen);
int	child_published(struct enrolld *, const unsigned char *body,
	    size_t len);
/* The monitor's /metrics lines (due certificates, OCSP responder). */
void	monitor_metrics(struct enrolld *, struct ucbuf *);

/* ---- monproc.c: the monitor process ------------------------------------------ */

/* Bind addr ("host:port", "[v6]:port"): a listening socket, or -1 with
 * why in buf. */
int	listen_socket(const char *addr, char *why, size_t len);
/* "host:port" or "[v6]:port" into a socket address: 1, or 0. */
struct sockaddr_storage;
int	listen_parse(const char *s, struct sockaddr_storage *ss);
/*
 * userca-enrolld as monitor: d is set up (enrolld_init) and healthy is
 * known; bind the listeners, read the TLS pair, start the network child
 * (self with --child) and keep one running; SIGTERM, SIGHUP as ever.
 * Returns the exit status.
 */
int	monitor_run(struct enrolld *d, const char *config, int quiet);

/* ---- sandbox.c: the network child's confinement ------------------------------ */

/*
 * Look up [daemon] user (NULL: "userca" if it exists, else "nobody",
 * with a warning on stderr).  UC_E_POLICY for root.
 */
int	sandbox_user(const char *user, uid_t *uid, gid_t *gid);
/* Become uid/gid (no supplementary groups), for good. */
int	sandbox_drop(uid_t uid, gid_t gid);
/*
 * No new privileges, no core files, nofile descriptors at most, chdir /,
 * Landlock (no file access, no TCP bind/connect) where the kernel has
 * it, and the seccomp filter.  *what says what was applied.
 */
int	sandbox_enter(unsigned long nofile, char *what, size_t len);

/* ---- ocsp.c: POST /ocsp, GET /ocsp/<base64> (authority_ocsp.h) ------------- */

struct ucbuf;
/* Answer an OCSP request (path /ocsp or /ocsp/...). */
void	ocsp_serve(struct enrolld *, const struct req *, struct resp *);
/* Renew the responder certificate when due; unhealthy if it is not. */
void	ocsp_watch(struct enrolld *);
/* The network child's OCSP counters for /metrics. */
void	ocsp_metrics(struct ucbuf *);

/* ---- ocspcache.c: the child's kept OCSP answers (the freshness rule) ------- */

struct ocsp_answer;
struct ocsp_hit {
	struct blob	*ans;		/* the DER answer, a reference */
	int64_t		 this_update;
	int		 max_age;	/* seconds left, > 0 */
	int		 good, revoked, unknown;
	char		 etag[48];
};
/* NULL when out of memory or without randomness. */
struct ocsp_cache *ocsp_cache_new(void);
void	ocsp_cache_free(struct ocsp_cache *);
/* The monitor's EPOCH push: the cache serves only answers of epoch (or
 * later) from now on.  The first one turns the cache on. */
void	ocsp_cache_epoch(struct ocsp_cache *, uint64_t epoch);
/* The epoch in force; 0: the cache is off.  NULL-safe. */
uint64_t ocsp_cache_current(struct ocsp_cache *);
/* 1 and *hit (caller unrefs hit->ans) when an answer to exactly req is
 * kept and young at now; NULL-safe. */
int	ocsp_cache_get(struct ocsp_cache *, const unsigned char *req,
	    size_t len, int64_t now, struct ocsp_hit *hit);
/* Every answer of the monitor to req, before it is sent: moves the epoch
 * up to its epoch_after, and keeps it when it may be (ocspcache.c). */
void	ocsp_cache_put(struct ocsp_cache *, const unsigned char *req,
	    size_t len, const struct ocsp_answer *, int64_t now);

/*
 * ocsp.c: a base64 (or base64url) value of a GET request, at most max
 * characters, URL-decoded, a space read as '+', CR and LF skipped.  A new buffer (caller
 * frees), NULL when it is not base64.
 */
unsigned char *get_decode(const char *s, size_t max, size_t *outlen);

/* ---- scep.c: /scep and /cgi-bin/pkiclient.exe (RFC 8894) ------------------- */

/* 1 when the path is a SCEP route. */
int	scep_route(const char *path);
void	scep_serve(struct enrolld *, const struct req *, struct resp *);
/*
 * SCEP's state (and DES when [scep] allow_des), at start; in the
 * monitor and in-process also the RA (authority_scep_refresh), again
 * when due (scep_watch).
 */
int	scep_init(struct enrolld *);
void	scep_watch(struct enrolld *);
void	scep_free(struct enrolld *);

/* ---- est.c: /.well-known/est/ (RFC 7030) on the [est] listener ---------------- */

int	est_route(const char *path);
void	est_serve(struct enrolld *, const struct req *, struct resp *);

/* ---- ratelimit.c ---------------------------------------------------------------- */

#define RL_KEYLEN	9	/* family + IPv4 address or IPv6 /64 */

/* NULL: out of memory (or no randomness for the hash seed). */
struct ratelimit *ratelimit_new(void);
void	ratelimit_free(struct ratelimit *);
/* The client addr (text) counts as: IPv4 address or IPv6 /64.  Returns 0
 * (key all zero, one shared client) when addr is not an address. */
int	ratelimit_key(const char *addr, unsigned char key[RL_KEYLEN]);
/* 1 if addr's client has had limit or more failures in its current
 * one-minute window. */
int	ratelimit_blocked(struct ratelimit *, const char *addr, int limit,
	    int64_t now);
/* Count one failure for addr's client. */
void	ratelimit_fail(struct ratelimit *, const char *addr, int64_t now);

/* ---- conns.c: open connections, per-client limits, request deadlines ---- */

#define CONN_KEYLEN	9	/* family + IPv4 address or IPv6 /64 */

struct sockaddr;
struct conns;
struct conn;

struct conns *conns_new(void);
/* Frees the registry and any entries still in it (after the listeners). */
void	conns_free(struct conns *);
/* The client an address counts as: IPv4 address, IPv6 /64. */
void	conn_key(const struct sockaddr *, unsigned char key[CONN_KEYLEN]);
/*
 * A new connection on socket fd from sa, receiving its first request until
 * deadline (uc_mono()).  When the client already has limit (> 0) open
 * connections, the socket is shut down at once.  Returns the entry, which
 * stays registered until conns_close(); NULL when out of memory (the
 * socket is then shut down too).
 */
struct conn *conns_open(struct conns *, int fd, const struct sockaddr *sa,
	    int limit, double deadline);
/* The connection closes (before its socket does).  NULL-safe; frees c. */
void	conns_close(struct conns *, struct conn *);
/* A (next) request starts arriving: it must be in by deadline. */
void	conns_receiving(struct conns *, struct conn *, double deadline);
/* The request is in; answering it has no deadline here. */
void	conns_received(struct conns *, struct conn *);
/* Shut down every connection still receiving past its deadline; returns
 * how many. */
size_t	conns_sweep(struct conns *, double now);
/* Open connections of sa's client not shut down by us; sa NULL: every
 * registered one. */
size_t	conns_open_count(struct conns *, const struct sockaddr *sa);

/* ---- metrics.c ---------------------------------------------------------------------- */

struct metrics *metrics_new(void);
void	metrics_free(struct metrics *);
void	metrics_request(struct metrics *, const char *route, int status);
void	metrics_issue(struct metrics *, const char *kind);
void	metrics_token_failure(struct metrics *, const char *why);
/* Prometheus text exposition (caller frees). */
char	*metrics_render(struct metrics *, struct enrolld *);

/*
 * Every error of every route, OCSP's HTTP errors included, is this JSON:
 * {"error": "<code>", "detail": "<printf fmt>"} with the given status.
 */
void	json_error(struct resp *, int status, const char *error,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* UC_ENROLLD_H */
