/*
 * monproc.c: the monitor process.  It binds the listeners, reads the TLS
 * pair and the web files, and fork+execs the network child (this binary
 * with --child: it never inherits the monitor's memory, keys included,
 * also after a restart), handing it the socketpair (descriptor 3) and the
 * listening sockets (4, 5 and 6: HTTP, HTTPS, EST).  It answers the
 * child's requests on one reader thread (OCSP) and a pool of workers (the
 * rest: so group commit batches them), pushes the public files when they
 * change (and a new HELLO when the SCEP RA is renewed) and the OCSP
 * status epoch when it moved (polled every 100 ms), restarts a child that
 * died within a second, and keeps SIGTERM and SIGHUP as they were.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "door.h"
#include "enrolld.h"
#include "ucbuf.h"

/* One child's socketpair and what it was given. */
struct link {
	struct enrolld	*d;
	int		 fd;
	pid_t		 pid;
	int		 refs;		/* atomic: reader, workers, monitor */
	pthread_mutex_t	 wmu;		/* one writer at a time */
	struct pending	*p;		/* server-made keys not delivered */
};

struct job {
	struct job	*next;
	struct link	*l;
	struct door_hdr	 h;
	unsigned char	*body;
};

/*
 * The monitor's workers: each answers one request at a time, so that
 * redemptions waiting for a commit go into the same group commit.  More
 * queued than a child can have in flight is a child gone wrong.
 */
#define NWORKERS	64
#define MAXQUEUED	8192

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct job	*head, *tail;
	size_t		 n;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL,
	0 };

struct mon {
	struct enrolld	*d;
	const char	*config;
	int		 quiet;
	int		 http_fd, https_fd, est_fd;
	uid_t		 uid;
	gid_t		 gid;
	unsigned char	*cert, *key;	/* the TLS pair, for each child */
	size_t		 certlen, keylen;
	struct link	*cur;
	X509		*sent_ra;	/* the SCEP RA of the last HELLO */
	uint64_t	 sent_gen;
	int		 sent_healthy;
	char		 sent_why[512];
	char		 sent_warn[256];
	uint64_t	 sent_epoch;	/* the last EPOCH sent to cur */
};

/* How often the monitor looks at the OCSP status epoch (ms). */
#define EPOCH_POLL_MS	100

int
listen_parse(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;
	char host[128];
	const char *colon;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if ((colon = strrchr(s, ':')) == NULL || (size_t)(colon - s) >=
	    sizeof(host))
		return 0;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return 0;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) == 1;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1;
}

/* strerror(), first letter lower-case, to follow "what: ". */
static void
errstr(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

int
listen_socket(const char *addr, char *why, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	if (!listen_parse(addr, &ss)) {
		snprintf(why, len, "not host:port (e.g. 127.0.0.1:8080 or "
		    "[::1]:8443)");
		return -1;
	}
	sl = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		errstr(errno, why, len);
		return -1;
	}
	/* As libmicrohttpd does: a port in TIME_WAIT is not in use. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		errstr(errno, why, len);
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- one child's link ----------------------------------------------------------- */

static void
link_put(struct link *l)
{
	if (l == NULL || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_SEQ_CST) > 0)
		return;
	close(l->fd);
	pending_free(l->p);
	pthread_mutex_destroy(&l->wmu);
	free(l);
}

static int
link_send(struct link *l, uint16_t type, uint32_t id,
    const unsigned char *body, size_t len)
{
	int rc;

	pthread_mutex_lock(&l->wmu);
	rc = door_send(l->fd, type, id, body, len);
	pthread_mutex_unlock(&l->wmu);
	return rc;
}

static void	answer_job(struct job *);
static void	answer_job_inline(struct job *);

static void *
worker(void *arg)
{
	struct job *j;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pool.mu);
		while ((j = pool.head) == NULL)
			pthread_cond_wait(&pool.cv, &pool.mu);
		if ((pool.head = j->next) == NULL)
			pool.tail = NULL;
		pool.n--;
		pthread_mutex_unlock(&pool.mu);
		answer_job(j);
	}
	return NULL;
}

static int
pool_start(void)
{
	pthread_attr_t at;
	pthread_t th;
	int i, rc = UC_OK;

	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < NWORKERS && rc == UC_OK; i++)
		if (pthread_create(&th, &at, worker, NULL) != 0)
			rc = uc_seterr(UC_E_INTERNAL, "worker threads: %s",
			    strerror(errno));
	pthread_attr_destroy(&at);
	return rc;
}

/* 0, or -1 when too much is queued already. */
static int
pool_add(struct job *j)
{
	pthread_mutex_lock(&pool.mu);
	if (pool.n >= MAXQUEUED) {
		pthread_mutex_unlock(&pool.mu);
		return -1;
	}
	j->next = NULL;
	if (pool.tail != NULL)
		pool.tail->next = j;
	else
		pool.head = j;
	pool.tail = j;
	pool.n++;
	pthread_cond_signal(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	return 0;
}

/* Answer j and free what it holds (not j itself). */
static void
answer_job_inline(struct job *j)
{
	struct ucbuf reply = UCBUF_INIT(0, 1);

	/* Parsed once already by the reader: it cannot fail here. */
	if (monitor_answer_for(j->l->d, j->l->p, j->h.type, j->body, j->h.len,
	    &reply) == UC_OK && reply.err == UC_OK)
		(void)link_send(j->l, (uint16_t)(j->h.type | DOOR_ANSWER),
		    j->h.id, reply.p, reply.len);
	ucbuf_free(&reply);
	OPENSSL_cleanse(j->body, j->h.len);
	free(j->body);
	link_put(j->l);
}

static void
answer_job(struct job *j)
{
	answer_job_inline(j);
	free(j);
}

/* A message the child may send, well-formed: 1; else kill it. */
static int
acceptable(struct link *l, const struct door_hdr *h,
    const unsigned char *body)
{
	struct door_request q;

	if (h->type < DOOR_LOOKUP || h->type > DOOR_LAST ||
	    door_parse_request(h->type, body, h->len, &q) != UC_OK) {
		fprintf(stderr, "userca-enrolld: malformed message (type %u, "
		    "%u bytes) from the network child %d: killing it\n",
		    h->type, h->len, (int)l->pid);
		(void)kill(l->pid, SIGKILL);
		return 0;
	}
	door_request_clear(&q);
	return 1;
}

static void *
reader(void *arg)
{
	struct link *l = arg;
	struct door_hdr h;
	struct door_in *in;
	struct job *j;
	unsigned char *body;
	int rc;

	if ((in = malloc(sizeof(*in))) == NULL) {
		(void)kill(l->pid, SIGKILL);
		pending_fail(l->d, l->p);
		link_put(l);
		return NULL;
	}
	door_in_init(in, l->fd);
	for (;;) {
		rc = door_recv(in, DOOR_MAX_REQUEST, &h, &body);
		if (rc == UC_E_INVALID) {
			fprintf(stderr, "userca-enrolld: malformed message "
			    "header from the network child %d (%s): killing "
			    "it\n", (int)l->pid, uc_errmsg());
			(void)kill(l->pid, SIGKILL);
		}
		if (rc != UC_OK)
			break;
		if (!acceptable(l, &h, body)) {
			free(body);
			break;
		}
		/*
		 * OCSP answers on this thread: they read under the reader
		 * lock and sign (tens of microseconds), never wait for a
		 * commit, and the hop to a worker and back cost as much as
		 * the answer (issue 12's profile).  Anything else goes to
		 * the workers, in order behind them.
		 */
		if (h.type == DOOR_OCSP) {
			struct job oj;

			memset(&oj, 0, sizeof(oj));
			oj.l = l;
			oj.h = h;
			oj.body = body;
			__atomic_add_fetch(&l->refs, 1, __ATOMIC_SEQ_CST);
			answer_job_inline(&oj);
			continue;
		}
		if (h.type == DOOR_DELIVERED) {
			struct ucbuf none = UCBUF_INIT(0, 0);

			(void)monitor_answer_for(l->d, l->p, h.type, body,
			    h.len, &none);
			ucbuf_free(&none);
			free(body);
			continue;
		}
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			free(body);
			(void)kill(l->pid, SIGKILL);
			break;
		}
		j->l = l;
		j->h = h;
		j->body = body;
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_SEQ_CST);
		if (pool_add(j) != 0) {
			fprintf(stderr, "userca-enrolld: the network child %d "
			    "has more than %d requests waiting: killing it\n",
			    (int)l->pid, MAXQUEUED);
			link_put(l);
			free(j->body);
			free(j);
			(void)kill(l->pid, SIGKILL);
			break;
		}
	}
	/* The child is gone: what it was still to deliver never will be. */
	OPENSSL_cleanse(in, sizeof(*in));	/* requests: tokens, keys */
	free(in);
	pending_fail(l->d, l->p);
	link_put(l);
	return NULL;
}

/* ---- starting a child ------------------------------------------------------------------ */

/* A HELLO of now to l, and remember which SCEP RA it carried. */
static int
hello(struct mon *m, struct link *l)
{
	struct ucbuf b = UCBUF_INIT(0, 1);
	X509 *ra = NULL;
	EVP_PKEY *rakey = NULL;
	int rc;

	if (authority_scep_ra(ed_auth(m->d), &ra, &rakey) != UC_OK)
		uc_clearerr();	/* SCEP answers 503 until there is one */
	if ((rc = monitor_hello(m->d, m->quiet, m->cert, m->certlen, m->key,
	    m->keylen, ra, rakey, &b)) == UC_OK)
		rc = link_send(l, DOOR_HELLO, 0, b.p, b.len);
	ucbuf_free(&b);
	EVP_PKEY_free(rakey);
	if (rc == UC_OK) {
		X509_free(m->sent_ra);
		m->sent_ra = ra;
		ra = NULL;
	}
	X509_free(ra);
	return rc;
}

/* The HELLO and PUBLISHED of now, to l. */
static int
greet(struct mon *m, struct link *l)
{
	struct ucbuf b = UCBUF_INIT(0, 1);
	int rc;

	if ((rc = hello(m, l)) != UC_OK)
		return rc;
	if ((rc = monitor_published(m->d, &b)) == UC_OK)
		rc = link_send(l, DOOR_PUBLISHED, 0, b.p, b.len);
	ucbuf_free(&b);
	return rc;
}

/* The SCEP RA was renewed (scep_watch): the child gets it in a HELLO. */
static void
rehello(struct mon *m)
{
	X509 *ra = NULL;
	EVP_PKEY *rakey = NULL;
	int same;

	if (m->cur == NULL || authority_scep_ra(ed_auth(m->d), &ra, &rakey) !=
	    UC_OK) {
		uc_clearerr();
		return;
	}
	same = m->sent_ra != NULL && X509_cmp(ra, m->sent_ra) == 0;
	X509_free(ra);
	EVP_PKEY_free(rakey);
	if (!same && hello(m, m->cur) != UC_OK)
		fprintf(stderr, "userca-enrolld: the new SCEP RA to the "
		    "network child: %s\n", uc_errmsg());
}

/* fd at a number of at least 10 (or -1), for the child to dup2 from. */
static int
high(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

static pid_t
fork_exec(int sock, const int fds[3], uid_t uid, gid_t gid)
{
	static char name[] = "userca-enrolld", child[] = "--child",
	    num[4][2] = { "3", "4", "5", "6" }, nofd[] = "-1";
	char u[16], g[16], *argv[9];
	int hs = high(sock), h[3], i, bad = hs == -1;
	pid_t pid;

	for (i = 0; i < 3; i++)
		if ((h[i] = high(fds[i])) == -1 && fds[i] >= 0)
			bad = 1;
	snprintf(u, sizeof(u), "%u", (unsigned)uid);
	snprintf(g, sizeof(g), "%u", (unsigned)gid);
	argv[0] = name;
	argv[1] = child;
	argv[2] = num[0];
	for (i = 0; i < 3; i++)
		argv[3 + i] = fds[i] >= 0 ? num[1 + i] : nofd;
	argv[6] = u;
	argv[7] = g;
	argv[8] = NULL;
	if (bad)
		pid = -1;
	else if ((pid = fork()) == 0) {
		sigset_t none;

		/* Only async-signal-safe calls until exec. */
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(hs, 3) == -1)
			_exit(127);
		for (i = 0; i < 3; i++)
			if (h[i] >= 0 && dup2(h[i], 4 + i) == -1)
				_exit(127);
		for (i = 7; i < 1024; i++)
			(void)close(i);
		(void)close_range(1024, ~0U, 0);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (hs >= 0)
		close(hs);
	for (i = 0; i < 3; i++)
		if (h[i] >= 0)
			close(h[i]);
	return pid;
}

static int
spawn(struct mon *m)
{
	struct link *l;
	pthread_t th;
	int sv[2], fds[3];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return uc_seterr(UC_E_IO, "socketpair: %s", strerror(errno));
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->p = pending_new()) == NULL) {
		free(l);
		close(sv[0]);
		close(sv[1]);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	l->d = m->d;
	l->fd = sv[0];
	l->refs = 1;		/* m->cur's */
	pthread_mutex_init(&l->wmu, NULL);
	fds[0] = m->http_fd;
	fds[1] = m->https_fd;
	fds[2] = m->est_fd;
	l->pid = fork_exec(sv[1], fds, m->uid, m->gid);
	close(sv[1]);
	if (l->pid == -1) {
		link_put(l);
		return uc_seterr(UC_E_IO, "fork: %s", strerror(errno));
	}
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_SEQ_CST);	/* reader's */
	if (pthread_create(&th, NULL, reader, l) != 0) {
		(void)kill(l->pid, SIGKILL);
		link_put(l);
		link_put(l);
		return uc_seterr(UC_E_INTERNAL, "thread: %s", strerror(errno));
	}
	pthread_detach(th);
	m->cur = l;
	m->sent_epoch = 0;
	m->sent_gen = m->d->generation;
	m->sent_healthy = m->d->healthy;
	snprintf(m->sent_why, sizeof(m->sent_why), "%s", m->d->health_why);
	snprintf(m->sent_warn, sizeof(m->sent_warn), "%s", m->d->health_warn);
	/* A child that cannot take its HELLO dies of it; we restart it. */
	if (greet(m, l) != UC_OK)
		fprintf(stderr, "userca-enrolld: greeting the network child: "
		    "%s\n", uc_errmsg());
	return UC_OK;
}

/* Push the public files and health when they changed since the last. */
static void
publish(struct mon *m)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct enrolld *d = m->d;

	if (m->cur == NULL || (m->sent_gen == d->generation &&
	    m->sent_healthy == d->healthy &&
	    strcmp(m->sent_why, d->health_why) == 0 &&
	    strcmp(m->sent_warn, d->health_warn) == 0))
		return;
	if (monitor_published(d, &b) == UC_OK &&
	    link_send(m->cur, DOOR_PUBLISHED, 0, b.p, b.len) == UC_OK) {
		m->sent_gen = d->generation;
		m->sent_healthy = d->healthy;
		snprintf(m->sent_why, sizeof(m->sent_why), "%s",
		    d->health_why);
		snprintf(m->sent_warn, sizeof(m->sent_warn), "%s",
		    d->health_warn);
	}
	ucbuf_free(&b);
}

/*
 * The OCSP status epoch to the child when it moved (ocspcache.c says why
 * this keeps its kept answers fresh): every EPOCH_POLL_MS, so a
 * revocation by the CLI on the same database reaches the child's cache
 * within about that.
 */
static void
push_epoch(struct mon *m)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct authority *a = ed_auth(m->d);
	uint64_t e;

	if (m->cur == NULL || !authority_ocsp_enabled(a))
		return;
	if (authority_ocsp_epoch(a, &e) != UC_OK) {
		uc_clearerr();	/* the next poll tries again */
		return;
	}
	if (e == m->sent_epoch)
		return;
	door_epoch_put(&b, e);
	if (b.err == UC_OK && link_send(m->cur, DOOR_EPOCH, 0, b.p, b.len) ==
	    UC_OK)
		m->sent_epoch = e;
	ucbuf_free(&b);
}

static int
read_tls(struct mon *m)
{
	unsigned char *c = NULL, *k = NULL;
	size_t cl = 0, kl = 0;
	int rc;

	if (m->d->conf.https_listen == NULL && m->d->conf.est_listen == NULL)
		return UC_OK;
	if ((rc = file_read(m->d->conf.tls_cert, 1024 * 1024, &c, &cl)) !=
	    UC_OK || (rc = file_read(m->d->conf.tls_key, 64 * 1024, &k,
	    &kl)) != UC_OK) {
		free(c);
		return rc;
	}
	free(m->cert);
	secret_free_buf(m->key, m->keylen);
	m->cert = c;
	m->certlen = cl;
	m->key = k;
	m->keylen = kl;
	return UC_OK;
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* A child ended: log how, and forget its link (its reader undoes). */
static void
reap(struct mon *m)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (m->cur == NULL || pid != m->cur->pid)
			continue;
		if (WIFSIGNALED(st))
			fprintf(stderr, "userca-enrolld: the network child %d "
			    "was killed by signal %d%s; restarting it\n",
			    (int)pid, WTERMSIG(st), WTERMSIG(st) == SIGSYS ?
			    " (a system call outside its seccomp filter)" :
			    "");
		else
			fprintf(stderr, "userca-enrolld: the network child %d "
			    "exited with status %d; restarting it\n", (int)pid,
			    WEXITSTATUS(st));
		link_put(m->cur);
		m->cur = NULL;
	}
}

/* SIGHUP: limits, CRL timing, the TLS pair, web and public files. */
static void
reload(struct mon *m)
{
	struct enrolld *d = m->d;
	struct econf nc;
	int kept = 0;

	fprintf(stderr, "userca-enrolld: SIGHUP: reloading\n");
	if (econf_load(m->config, &nc) != UC_OK) {
		fprintf(stderr, "userca-enrolld: keeping the old settings: "
		    "%s\n", uc_errmsg());
		kept = 1;
	} else {
		/* Listen, home and user need a restart. */
		d->conf.max_body = nc.max_body;
		d->conf.rate_limit = nc.rate_limit;
		d->conf.request_timeout = nc.request_timeout;
		d->conf.per_address = nc.per_address;
		d->conf.refresh_before = nc.refresh_before;
		d->conf.crl_validity = nc.crl_validity;
		d->conf.root_warn_before = nc.root_warn_before;
		d->conf.issuing_warn_before = nc.issuing_warn_before;
		d->conf.runway_min = nc.runway_min;
		d->conf.poll = nc.poll;
		__atomic_store_n(&d->conf.retry_window, nc.retry_window,
		    __ATOMIC_RELAXED);
		d->conf.allow_plain_http = nc.allow_plain_http;
		econf_clear(&nc);
	}
	if (read_tls(m) != UC_OK) {
		fprintf(stderr, "userca-enrolld: HTTPS: keeping the old "
		    "certificate: %s\n", uc_errmsg());
		kept = 1;
	}
	if (web_load(&d->conf, d->web) != UC_OK || pub_reload(d) != UC_OK) {
		fprintf(stderr, "userca-enrolld: %s\n", uc_errmsg());
		kept = 1;
	}
	if (m->cur != NULL)
		(void)hello(m, m->cur);
	fprintf(stderr, "userca-enrolld: reloaded%s\n", kept ?
	    " (in part: see above)" : " (settings, TLS certificate, public "
	    "files)");
}

/* SIGTERM the child, let it drain, and reap it. */
static void
stop_child(struct mon *m, const sigset_t *set)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	pid_t pid;
	int i, st;

	if (m->cur == NULL)
		return;
	pid = m->cur->pid;
	(void)kill(pid, SIGTERM);
	for (i = 0; i < (m->d->conf.drain + 5) * 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			goto out;
		(void)sigtimedwait(set, NULL, &ts);
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &st, 0);
out:
	/* Its reader and workers finish with the authority still open. */
	for (i = 0; i < 100 && __atomic_load_n(&m->cur->refs,
	    __ATOMIC_SEQ_CST) > 1; i++)
		(void)sigtimedwait(set, NULL, &ts);
	link_put(m->cur);
	m->cur = NULL;
}

/* Bind, read the TLS pair, pick the child's user. */
static int
prepare(struct mon *m)
{
	struct enrolld *d = m->d;
	char why[128];

	if (geteuid() != 0)
		return uc_seterr(UC_E_POLICY, "start as root: the monitor "
		    "keeps the CA key and runs the network side as [daemon] "
		    "user");
	if (sandbox_user(d->conf.user, &m->uid, &m->gid) != UC_OK)
		return UC_E_POLICY;
	if (d->conf.http_listen != NULL && (m->http_fd = listen_socket(
	    d->conf.http_listen, why, sizeof(why))) == -1)
		return uc_seterr(UC_E_IO, "[http] listen %s: %s",
		    d->conf.http_listen, why);
	if (d->conf.https_listen != NULL && (m->https_fd = listen_socket(
	    d->conf.https_listen, why, sizeof(why))) == -1)
		return uc_seterr(UC_E_IO, "[https] listen %s: %s",
		    d->conf.https_listen, why);
	if (d->conf.est_listen != NULL && (m->est_fd = listen_socket(
	    d->conf.est_listen, why, sizeof(why))) == -1)
		return uc_seterr(UC_E_IO, "[est] listen %s: %s",
		    d->conf.est_listen, why);
	if (read_tls(m) != UC_OK)
		return uc_seterr(UC_E_IO, "[https]: %s", uc_errmsg());
	return pool_start();
}

int
monitor_run(struct enrolld *d, const char *config, int quiet)
{
	struct mon m;
	struct timespec ts;
	sigset_t set;
	double spawned[5] = { 0 }, next_watch = 0;
	int sig, ex = 1, n = 0;

	memset(&m, 0, sizeof(m));
	m.d = d;
	m.config = config;
	m.quiet = quiet;
	m.http_fd = m.https_fd = m.est_fd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (prepare(&m) != UC_OK) {
		fprintf(stderr, "userca-enrolld: %s\n", uc_errmsg());
		goto out;
	}
	fprintf(stderr, "userca-enrolld: serving %s%s%s%s%s (CA home %s)\n",
	    d->conf.http_listen ? "http://" : "", d->conf.http_listen ?
	    d->conf.http_listen : "", d->conf.http_listen &&
	    d->conf.https_listen ? " and " : "", d->conf.https_listen ?
	    "https://" : "", d->conf.https_listen ? d->conf.https_listen : "",
	    d->conf.home);
	if (d->conf.est_listen != NULL)
		fprintf(stderr, "userca-enrolld: EST on https://%s/.well-known/"
		    "est/\n", d->conf.est_listen);
	for (;;) {
		reap(&m);
		/* At once; if it keeps dying, at most 5 starts in 5 s. */
		if (m.cur == NULL && uc_mono() - spawned[n % 5] >= 5.0) {
			spawned[n++ % 5] = uc_mono();
			if (spawn(&m) != UC_OK)
				fprintf(stderr, "userca-enrolld: starting the "
				    "network child: %s\n", uc_errmsg());
		}
		/* By the monotonic clock: a wall clock stepped back (or a
		 * frozen test clock) must not stop the watch. */
		if (uc_mono() >= next_watch) {
			crl_watch(d);
			rehello(&m);
			next_watch = uc_mono() + d->conf.poll;
		}
		publish(&m);
		push_epoch(&m);
		ts.tv_sec = 0;
		ts.tv_nsec = EPOCH_POLL_MS * 1000 * 1000;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			fprintf(stderr, "userca-enrolld: %s: draining\n",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP) {
			reload(&m);
			next_watch = 0;
		}
	}
	stop_child(&m, &set);
	fprintf(stderr, "userca-enrolld: stopped\n");
	ex = 0;
out:
	if (m.cur != NULL) {
		(void)kill(m.cur->pid, SIGKILL);
		(void)waitpid(m.cur->pid, NULL, 0);
		link_put(m.cur);
	}
	if (m.http_fd != -1)
		close(m.http_fd);
	if (m.https_fd != -1)
		close(m.https_fd);
	if (m.est_fd != -1)
		close(m.est_fd);
	X509_free(m.sent_ra);
	free(m.cert);
	secret_free_buf(m.key, m.keylen);
	return ex;
}
