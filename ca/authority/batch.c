/*
 * batch.c: a CSV of users in, one PKCS#12 (or enrollment token) each out.
 *
 * Two passes over the file.  The first validates every row, reports every
 * problem and finds duplicate usernames; the second issues.  Workers mint
 * (key, certificate, bundle) in parallel; the calling thread records them
 * in groups, and for each group:
 *
 *   1. bundles go to .partial/ and the journal gets a line per user (with
 *      the password), then both are synced;
 *   2. the rows are inserted and committed in one transaction;
 *   3. only then are the bundles renamed to <username>.p12.
 *
 * Killed at any point, a re-run finds either nothing of a user (not
 * committed: the journal line is ignored, the partial bundle deleted) or
 * a committed certificate whose bundle and password are on disk (the
 * bundle is moved into place, the manifest carries the password).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "authority_int.h"
#include "batch.h"
#include "ucbuf.h"
#include "usercsv.h"

#define GROUP		128		/* records per transaction */
#define INFLIGHT	(4 * GROUP)	/* jobs queued, being minted or done */
#define JOURNAL		".userca-batch.journal"
#define PARTIAL		".partial"
#define MANIFEST	"manifest.csv"
#define LOCKFILE	".userca.lock"
#define TICK_MS		100		/* progress while waiting on workers */

/* ---- username set: duplicates and resumed users ---------------------------- */

struct uset {
	uint64_t	*key;	/* 0: empty */
	long		*line;
	size_t		 cap, n;
};

/*
 * *h: a keyless but collision-resistant hash of s (a crafted CSV can't fake
 * a duplicate); never 0, the empty slot.
 */
static int
uhash(const char *s, uint64_t *h)
{
	unsigned char md[32];
	unsigned int len = sizeof(md);
	int i;

	if (!EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL))
		return uc_seterr(UC_E_CRYPTO, "sha256 of a username failed");
	for (*h = 0, i = 0; i < 8; i++)
		*h = *h << 8 | md[i];
	if (*h == 0)
		*h = 1;
	return UC_OK;
}

static int
uset_grow(struct uset *u)
{
	struct uset nu;
	size_t i, j;

	nu.cap = u->cap ? u->cap * 2 : 1024;
	nu.n = 0;
	if ((nu.key = calloc(nu.cap, sizeof(*nu.key))) == NULL ||
	    (nu.line = calloc(nu.cap, sizeof(*nu.line))) == NULL) {
		free(nu.key);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	for (i = 0; i < u->cap; i++) {
		if (u->key[i] == 0)
			continue;
		for (j = u->key[i] & (nu.cap - 1); nu.key[j] != 0;
		    j = (j + 1) & (nu.cap - 1))
			;
		nu.key[j] = u->key[i];
		nu.line[j] = u->line[i];
		nu.n++;
	}
	free(u->key);
	free(u->line);
	*u = nu;
	return UC_OK;
}

/*
 * The line stored for key s, or 0; with add, store line if absent.  On an
 * error (no memory, or the digest failed) a uc_err code (< 0), uc_err set.
 */
static long
uset_get(struct uset *u, const char *s, long add)
{
	uint64_t h = 0;
	size_t j;
	int rc;

	if ((rc = uhash(s, &h)) != UC_OK)
		return rc;
	if (u->cap > 0) {
		for (j = h & (u->cap - 1); u->key[j] != 0;
		    j = (j + 1) & (u->cap - 1))
			if (u->key[j] == h)
				return u->line[j];
	}
	if (add == 0)
		return 0;
	if ((u->n + 1) * 2 > u->cap && uset_grow(u) != UC_OK)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	for (j = h & (u->cap - 1); u->key[j] != 0; j = (j + 1) & (u->cap - 1))
		;
	u->key[j] = h;
	u->line[j] = add;
	u->n++;
	return 0;
}

static void
uset_free(struct uset *u)
{
	free(u->key);
	free(u->line);
	memset(u, 0, sizeof(*u));
}

/* ---- the records, read under the authority's lock (authority_int.h) ------------ */

/* 1 if serial is recorded, valid, unexpired at now, and user's (if given). */
static int
cert_current(struct authority *a, const char *serial, const char *user,
    int64_t now)
{
	struct store_cert c;
	int rc, cur = 0;

	pthread_mutex_lock(&a->mu);
	rc = store_cert_get(a->st, serial, &c);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		return 0;
	cur = strcmp(c.status, "valid") == 0 && c.not_after > now &&
	    (user == NULL || (c.username != NULL &&
	    strcmp(c.username, user) == 0));
	store_cert_clear(&c);
	return cur;
}

/* 1 if the token at the end of an enrollment URL is unused and unexpired. */
static int
url_pending(struct authority *a, const char *url, int64_t now)
{
	unsigned char hash[32];
	const char *tok = strrchr(url, '/');
	int pending = 0, rc;

	if (tok == NULL || token_hash(tok + 1, hash) != UC_OK)
		return 0;
	pthread_mutex_lock(&a->mu);
	rc = store_token_pending(a->st, hash, now, &pending);
	pthread_mutex_unlock(&a->mu);
	return rc == UC_OK && pending;
}

/* ---- jobs and the worker pool ------------------------------------------------ */

struct job {
	struct job	*next;
	long		 line;
	char		*username, *email, *name, *upn, *ou, *sid;
	int		 smime;
	enum p12_format	 format;
	int		 supersede;
	int		 token;		/* a token job: no minting */
	/* results */
	int		 rc;
	int		 already;	/* recorded by another run */
	char		 err[256];
	struct mint	 m;
	char		*password;
	char		*tok;		/* token text */
	unsigned char	 hash[32];
	int64_t		 expires;
	char		*partial;	/* path of the bundle in .partial */
};

struct pool {
	pthread_mutex_t	 mu;
	pthread_cond_t	 work;		/* todo not empty, or stop */
	pthread_cond_t	 done_cv;	/* a job finished */
	struct job	*todo, *todo_tail;
	struct job	*done, *done_tail;
	long		 ndone;
	long		 inflight;	/* queued + minting + done */
	/*
	 * Users handled in pass 2 (minted, made a token, or skipped): what
	 * progress shows.  Workers add to it without a lock; only the
	 * calling thread reads it.
	 */
	atomic_long	 handled;
	int		 stop;
	struct authority *a;
	int		 days;
};

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->username);
	free(j->email);
	free(j->name);
	free(j->upn);
	free(j->ou);
	free(j->sid);
	mint_clear(&j->m);
	secret_free(j->password);
	secret_free(j->tok);
	free(j->partial);
	free(j);
}

static void
job_identity(const struct job *j, struct identity *id)
{
	id->username = j->username;
	id->email = j->email;
	id->name = j->name;
	id->upn = j->upn;
	id->ou = j->ou;
	id->sid = j->sid;
	id->smime = j->smime;
}

static void
push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
worker(void *arg)
{
	struct pool *p = arg;
	struct identity id;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->todo == NULL && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->todo == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		j = p->todo;
		if ((p->todo = j->next) == NULL)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->mu);

		job_identity(j, &id);
		if ((j->rc = password_generate(&j->password)) == UC_OK)
			j->rc = authority_mint(p->a, &id, NULL, j->format,
			    j->password, p->days, 0, &j->m);
		if (j->rc != UC_OK)
			snprintf(j->err, sizeof(j->err), "%s", uc_errmsg());
		atomic_fetch_add_explicit(&p->handled, 1, memory_order_relaxed);

		pthread_mutex_lock(&p->mu);
		push(&p->done, &p->done_tail, j);
		p->ndone++;
		/* Wake the recorder only when it has something to do. */
		if (p->ndone >= GROUP || p->todo == NULL)
			pthread_cond_signal(&p->done_cv);
		pthread_mutex_unlock(&p->mu);
	}
}

/* ---- the run ----------------------------------------------------------------------- */

/* flush()'s room for one group, allocated once per run. */
struct group {
	struct job	*js[GROUP];
	struct record	 pk[GROUP];	/* the records to commit */
	size_t		 map[GROUP];	/* pk[i] is js[map[i]]'s */
	struct identity	 ids[GROUP];
};

struct run {
	struct authority	*a;
	const struct batch_opts	*o;
	struct batch_stats	*st;
	struct pool		 pool;
	pthread_t		*threads;
	int			 nthreads;
	struct uset		 seen;		/* username -> first line */
	struct uset		 resumed;	/* made by the interrupted run */
	int			 pass;
	int			 resuming;	/* journal: this run, unfinished */
	int			 fatal;		/* rc that stops the run */
	int			 dirfd, partfd, jfd;
	struct uc_lock		*lock;		/* the output folder's */
	char			*dir, *partdir;
	long			 done;		/* rows recorded in pass 2 */
	long			 total;		/* rows pass 2 handles */
	int			 finished;	/* journal ends with "E" */
	struct uset		 listed;	/* manifest rows, by serial/URL */
	struct usercsv_opts	 copts;		/* how the CSV is written */
	struct usercsv_map	*cmap;
	int			 need_crl;
	char			 runid[65];
	int64_t			 now;
	int64_t			 renew_exp;	/* renew: the row's old
						 * certificate's not_after */
	struct group		*grp;
	struct ucbuf		 jbuf;		/* a group's journal lines */
};

static void
report(struct run *r, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct run *r, long line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->o->on_error != NULL)
		r->o->on_error(r->o->arg, line, msg);
}

/* Users minted or skipped so far, not only those recorded. */
static void
progress(struct run *r)
{
	if (r->o->on_progress != NULL)
		r->o->on_progress(r->o->arg, atomic_load_explicit(
		    &r->pool.handled, memory_order_relaxed), r->total);
}

/* ---- journal lines (CSV, quoted by libcsv) ---------------------------------------- */

/* One CSV line of n fields (quoted by libcsv) appended to b. */
static int
jline(struct ucbuf *b, const char *const *f, size_t n)
{
	size_t i, vl;
	int rc;

	for (i = 0; i < n; i++) {
		const char *v = f[i] != NULL ? f[i] : "";

		vl = strlen(v);
		/* Quoted, every quote doubled, then ',' or '\n'. */
		if ((rc = ucbuf_reserve(b, 2 * vl + 3)) != UC_OK)
			return rc;
		if (i > 0)
			b->p[b->len++] = ',';
		b->len += csv_write(b->p + b->len, b->cap - b->len, v, vl);
		b->p[b->len] = '\0';
	}
	return ucbuf_add(b, "\n", 1);
}

static int
journal_append(struct run *r, const char *buf, size_t len)
{
	if (write_all(r->jfd, buf, len) == -1 || fsync(r->jfd) == -1)
		return uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, JOURNAL,
		    strerror(errno));
	return UC_OK;
}

/*
 * A line cut short by a kill or a full disk was never committed; cut it
 * off, or the next line appended would be read as its continuation.
 */
static int
journal_trim(struct run *r)
{
	struct stat sb;
	char buf[4096];
	off_t end, pos;
	ssize_t n, i;

	if (fstat(r->jfd, &sb) == -1)
		goto fail;
	for (end = sb.st_size; end > 0; end = pos) {
		pos = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		if ((n = pread(r->jfd, buf, (size_t)(end - pos), pos)) !=
		    end - pos)
			goto fail;
		for (i = n; i > 0; i--)
			if (buf[i - 1] == '\n')
				break;
		if (i > 0) {
			end = pos + i;
			break;
		}
		if (pos == 0) {
			end = 0;
			break;
		}
	}
	if (end == sb.st_size)
		return UC_OK;
	if (ftruncate(r->jfd, end) == -1 || fsync(r->jfd) == -1)
		goto fail;
	return UC_OK;
fail:
	return uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, JOURNAL,
	    strerror(errno));
}

static int
journal_marker(struct run *r, const char *kind)
{
	const char *f[2] = { kind, r->runid };
	struct ucbuf b = UCBUF_INIT(0, 0);
	int rc;

	if ((rc = jline(&b, f, 2)) == UC_OK)
		rc = journal_append(r, ucbuf_str(&b), ucbuf_len(&b));
	ucbuf_free(&b);
	return rc;
}

/* ---- recording a group ------------------------------------------------------------ */

static void
iso(int64_t t, char *buf, size_t len)
{
	uc_time_iso(t, buf, len);
}

static int
job_line_cmp(const void *a, const void *b)
{
	const struct job *x = *(const struct job *const *)a;
	const struct job *y = *(const struct job *const *)b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* The journal's line for a job that made a certificate or a token. */
static int
job_jline(struct run *r, const struct job *j, struct ucbuf *b)
{
	const char *f[10];
	char *url = NULL, when[32], file[PATH_MAX], ln[24];
	int rc;

	snprintf(ln, sizeof(ln), "%ld", j->line);
	f[0] = j->token ? "T" : "I";
	f[1] = j->username;
	f[2] = j->email;
	f[3] = f[4] = f[5] = f[6] = f[7] = f[8] = "";
	f[9] = ln;
	if (j->token) {
		if ((url = authority_enroll_url(r->a, j->tok)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		iso(j->expires, when, sizeof(when));
		f[7] = url;
		f[8] = when;
	} else {
		snprintf(file, sizeof(file), "%s.p12", j->username);
		iso(j->m.not_after, when, sizeof(when));
		f[3] = j->m.serial;
		f[4] = when;
		f[5] = file;
		f[6] = j->password;
	}
	rc = jline(b, f, 10);
	secret_free(url);
	return rc;
}

/* The job's bundle to .partial/<username>.<serial>.p12 (0600, made here). */
static int
bundle_write(struct run *r, struct job *j)
{
	char path[PATH_MAX];
	int fd, rc = UC_OK;

	snprintf(path, sizeof(path), "%s.%s.p12", j->username, j->m.serial);
	(void)unlinkat(r->partfd, path, 0);
	if ((fd = openat(r->partfd, path, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) == -1 ||
	    write_all(fd, (const char *)j->m.p12, j->m.p12_len) == -1)
		rc = uc_seterr(UC_E_IO, "%s/%s: %s", r->partdir, path,
		    strerror(errno));
	if (fd != -1 && close(fd) == -1 && rc == UC_OK)
		rc = uc_seterr(UC_E_IO, "%s/%s: %s", r->partdir, path,
		    strerror(errno));
	if (rc == UC_OK && (j->partial = strdup(path)) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	if (rc != UC_OK && fd != -1)
		(void)unlinkat(r->partfd, path, 0);	/* ours, half written */
	return rc;
}

/*
 * 1. Bundles to .partial/ and the group's lines (passwords, links) in the
 * journal, both synced.  Written here, one at a time: two workers making
 * files in one folder wait on each other inside ext4 and burn the CPU
 * they would mint with.
 */
static int
flush_journal(struct run *r, struct job **js, size_t n)
{
	struct ucbuf *b = &r->jbuf;
	struct job *j;
	size_t i;
	int rc = UC_OK;

	ucbuf_reset(b);
	for (i = 0; i < n && rc == UC_OK; i++) {
		if ((j = js[i])->rc == UC_OK && !j->token &&
		    (j->rc = bundle_write(r, j)) != UC_OK) {
			snprintf(j->err, sizeof(j->err), "%s", uc_errmsg());
			continue;
		}
		if (j->rc == UC_OK)
			rc = job_jline(r, j, b);
	}
	if (rc != UC_OK || ucbuf_len(b) == 0)
		goto out;
	if (syncfs(r->partfd) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: sync: %s", r->partdir,
		    strerror(errno));
		goto out;
	}
	rc = journal_append(r, ucbuf_str(b), ucbuf_len(b));
out:
	ucbuf_reset(b);		/* wipes: it held passwords */
	return rc;
}

/* 2. One transaction for the group's certificates and tokens. */
static void
flush_record(struct run *r, struct job **js, size_t n)
{
	struct group *g = r->grp;
	struct record *rec;
	struct job *j;
	size_t i, m = 0;

	memset(g->pk, 0, n * sizeof(g->pk[0]));
	for (i = 0; i < n; i++) {
		if ((j = js[i])->rc != UC_OK)
			continue;	/* nothing to record */
		rec = &g->pk[m];
		g->map[m++] = i;
		job_identity(j, &g->ids[i]);
		rec->id = &g->ids[i];
		rec->supersede = j->supersede;
		/* Another run may have issued since already_done() looked. */
		rec->only_new = !j->supersede && r->o->renew_until == 0;
		rec->renew_until = r->o->renew_until;
		rec->revoke_old = r->o->revoke_old;
		if (j->token) {
			rec->method = r->o->renew_until != 0 ?
			    "renew-token" : "batch-token";
			rec->token_hash = j->hash;
			rec->token_expires = j->expires;
		} else {
			rec->method = r->o->renew_until != 0 ? "renew" :
			    "batch";
			rec->cert = j->m.cert;
		}
	}
	if (m > 0 && authority_record(r->a, g->pk, m) != UC_OK) {
		for (i = 0; i < m; i++)
			snprintf(g->pk[i].errmsg, sizeof(g->pk[i].errmsg),
			    "%s", uc_errmsg());
	}
	/* Per-row failures are reported by flush_settle(). */
	for (i = 0; i < m; i++) {
		j = js[g->map[i]];
		j->already = g->pk[i].already;
		if (g->pk[i].rc != UC_OK) {
			j->rc = g->pk[i].rc;
			snprintf(j->err, sizeof(j->err), "%s",
			    g->pk[i].errmsg);
		}
		if (g->pk[i].revoked > 0) {
			r->st->superseded += g->pk[i].revoked;
			r->need_crl = 1;
		}
	}
}

/* 3. Committed: bundles into place; failures reported. */
static void
flush_settle(struct run *r, struct job **js, size_t n)
{
	struct job *j;
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		j = js[i];
		if (j->rc == UC_OK && !j->token) {
			snprintf(path, sizeof(path), "%s.p12", j->username);
			if (renameat(r->partfd, j->partial, r->dirfd, path) ==
			    -1) {
				report(r, j->line, "%s: certificate %s recorded "
				    "but its bundle could not be moved into "
				    "place (%s); re-run to retry", j->username,
				    j->m.serial, strerror(errno));
				r->st->failed++;
				continue;
			}
		} else if (j->partial != NULL)
			(void)unlinkat(r->partfd, j->partial, 0);
		if (j->rc == UC_OK)
			r->st->issued++;
		else if (j->already)
			r->st->skipped++;	/* by a run beside this one */
		else {
			report(r, j->line, "%s: %s", j->username, j->err);
			r->st->failed++;
		}
	}
	(void)fsync(r->dirfd);
	r->done += (long)n;
	progress(r);
}

/* Record a group of at most GROUP finished jobs (module comment: 1-3). */
static int
flush(struct run *r, struct job *list)
{
	struct job **js = r->grp->js, *j;
	size_t n = 0;
	int rc;

	for (j = list; j != NULL && n < GROUP; j = j->next)
		js[n++] = j;
	/* Workers finish in any order; journal and manifest follow the CSV. */
	qsort(js, n, sizeof(js[0]), job_line_cmp);
	if ((rc = flush_journal(r, js, n)) != UC_OK)
		return rc;
	flush_record(r, js, n);
	flush_settle(r, js, n);
	return UC_OK;
}

/* Take finished jobs off the pool (waiting for at least min) and record. */
static int
drain(struct run *r, long min)
{
	struct job *list, *j;
	long n;
	int rc;

	pthread_mutex_lock(&r->pool.mu);
	while (r->pool.ndone < min) {
		struct timespec ts;

		/* Wake now and then to show the workers' progress. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&r->pool.done_cv, &r->pool.mu,
		    &ts) != 0 && r->pool.ndone < min) {
			pthread_mutex_unlock(&r->pool.mu);
			progress(r);
			pthread_mutex_lock(&r->pool.mu);
		}
	}
	list = r->pool.done;
	n = r->pool.ndone;
	r->pool.done = r->pool.done_tail = NULL;
	r->pool.ndone = 0;
	r->pool.inflight -= n;
	pthread_mutex_unlock(&r->pool.mu);
	while (list != NULL) {
		struct job *rest = list, *cut;
		long k;

		/* At most GROUP per transaction. */
		for (k = 1, cut = list; k < GROUP && cut->next != NULL; k++)
			cut = cut->next;
		list = cut->next;
		cut->next = NULL;
		rc = flush(r, rest);
		while (rest != NULL) {
			j = rest->next;
			job_free(rest);
			rest = j;
		}
		if (rc != UC_OK) {
			while (list != NULL) {
				j = list->next;
				job_free(list);
				list = j;
			}
			return rc;
		}
	}
	return UC_OK;
}

/* ---- CSV callbacks ---------------------------------------------------------------- */

/* 1 if a and b (either may be NULL) name the same address. */
static int
same_name(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcasecmp(a, b) == 0;
}

/*
 * What of the row's email and UPN none of the user's valid certificates
 * carries: 0, or 1 (email) | 2 (UPN) for the newest.  Columns the row
 * leaves blank are not compared.
 */
static int
row_changed(struct run *r, const struct identity *id, char **serials,
    size_t n, int *what)
{
	struct store_cert c;
	X509 *x = NULL;
	char *email = NULL, *upn = NULL;
	size_t i;
	int rc = UC_OK, diff;

	*what = 0;
	if (id->email == NULL && id->upn == NULL)
		return UC_OK;
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&r->a->mu);
		rc = store_cert_get(r->a->st, serials[i], &c);
		pthread_mutex_unlock(&r->a->mu);
		if (rc != UC_OK)
			return rc;
		rc = cert_parse(c.der, c.derlen, &x);
		store_cert_clear(&c);
		if (rc != UC_OK || (rc = cert_san_identity(x, &email, &upn)) !=
		    UC_OK)
			return uc_errprefix(rc, serials[i]);
		diff = (id->email != NULL && !same_name(id->email, email)) |
		    (id->upn != NULL && !same_name(id->upn, upn)) << 1;
		X509_free(x);
		x = NULL;
		free(email);
		free(upn);
		if (diff == 0) {
			*what = 0;
			return UC_OK;
		}
		if (*what == 0)
			*what = diff;
	}
	return UC_OK;
}

/*
 * *skip: the user has what the run would make.  *changed (1 email, 2 UPN)
 * when it is a certificate that no longer says what the row does.
 */
static int
already_done(struct run *r, const struct identity *id, int *skip,
    int *changed)
{
	long seen;
	char **serials = NULL;
	size_t n = 0, i;
	int rc, pending = 0;

	*skip = *changed = 0;
	if (r->o->renew_until != 0)
		return renew_row_done(r->a, id->username, r->now,
		    r->o->renew_until, r->o->tokens, skip, &r->renew_exp);
	pthread_mutex_lock(&r->a->mu);
	rc = store_user_valid_serials(r->a->st, id->username, r->now,
	    &serials, &n);
	if (rc == UC_OK && r->o->tokens)
		rc = store_user_pending_token(r->a->st, id->username, r->now,
		    &pending);
	pthread_mutex_unlock(&r->a->mu);
	if (rc != UC_OK)
		goto out;
	/* Made by the run this one resumes: never again, even with reissue. */
	if ((seen = uset_get(&r->resumed, id->username, 0)) != 0) {
		if (seen < 0)
			rc = (int)seen;
		*skip = 1;
		goto out;
	}
	if (!r->o->reissue && (n > 0 || pending)) {
		*skip = 1;
		if (n > 0)
			rc = row_changed(r, id, serials, n, changed);
	}
out:
	for (i = 0; i < n; i++)
		free(serials[i]);
	free(serials);
	return rc;
}

/* Report a user skipped although the row says something new. */
static void
report_changed(struct run *r, const struct user_row *row, int changed)
{
	report(r, row->line, "%s: %s differ%s from the issued certificate; "
	    "use --reissue", row->id.username, changed == 3 ? "email and upn" :
	    changed == 1 ? "email" : "upn", changed == 3 ? "" : "s");
	r->st->changed++;
}

/* A job for the row; NULL when out of memory. */
static struct job *
job_new(struct run *r, const struct user_row *row)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->username = strdup(row->id.username)) == NULL ||
	    (row->id.email && (j->email = strdup(row->id.email)) == NULL) ||
	    (row->id.name && (j->name = strdup(row->id.name)) == NULL) ||
	    (row->id.upn && (j->upn = strdup(row->id.upn)) == NULL) ||
	    (row->id.ou && (j->ou = strdup(row->id.ou)) == NULL) ||
	    (row->id.sid && (j->sid = strdup(row->id.sid)) == NULL)) {
		job_free(j);
		return NULL;
	}
	j->line = row->line;
	j->smime = row->smime >= 0 ? row->smime : r->o->smime;
	j->format = row->p12_format >= 0 ? (enum p12_format)row->p12_format :
	    r->o->format;
	j->supersede = r->o->reissue;
	return j;
}

static void
on_row(const struct user_row *row, void *arg)
{
	struct run *r = arg;
	struct job *j;
	long first;
	int skip, changed, rc;

	if (r->fatal != UC_OK)
		return;
	if (r->pass == 1) {
		if ((first = uset_get(&r->seen, row->id.username,
		    row->line)) < 0) {
			r->fatal = (int)first;
			return;
		}
		if (first > 0) {
			report(r, row->line, "duplicate username '%s' (first "
			    "on line %ld); row skipped", row->id.username,
			    first);
			r->st->failed++;
			return;
		}
		if (r->o->dry_run) {
			if ((rc = already_done(r, &row->id, &skip, &changed)) !=
			    UC_OK) {
				r->fatal = rc;
				return;
			}
			if (changed)
				report_changed(r, row, changed);
			else if (skip)
				r->st->skipped++;
			else
				r->st->issued++;	/* would issue */
		}
		return;
	}
	/* pass 2: only each username's first row; errors were reported. */
	if ((first = uset_get(&r->seen, row->id.username, 0)) < 0) {
		r->fatal = (int)first;
		return;
	}
	if (first != row->line)
		return;
	if ((rc = already_done(r, &row->id, &skip, &changed)) != UC_OK) {
		r->fatal = rc;
		return;
	}
	if (changed)
		report_changed(r, row, changed);
	if (skip) {
		if (!changed)
			r->st->skipped++;
		r->done++;
		atomic_fetch_add_explicit(&r->pool.handled, 1,
		    memory_order_relaxed);
		progress(r);
		return;
	}
	if ((j = job_new(r, row)) == NULL) {
		r->fatal = uc_seterr(UC_E_INTERNAL, "out of memory");
		return;
	}
	if (r->o->tokens) {
		j->token = 1;
		j->expires = r->now + (r->o->ttl > 0 ? r->o->ttl :
		    authority_conf(r->a)->token_ttl);
		if (r->o->renew_until != 0)
			j->expires = r->renew_exp;	/* DESIGN 20 */
		if ((j->rc = token_new(&j->tok, j->hash)) != UC_OK)
			snprintf(j->err, sizeof(j->err), "%s", uc_errmsg());
		atomic_fetch_add_explicit(&r->pool.handled, 1,
		    memory_order_relaxed);
		pthread_mutex_lock(&r->pool.mu);
		push(&r->pool.done, &r->pool.done_tail, j);
		r->pool.ndone++;
		r->pool.inflight++;
		pthread_mutex_unlock(&r->pool.mu);
		if (r->pool.ndone >= GROUP && (rc = drain(r, 0)) != UC_OK)
			r->fatal = rc;
		return;
	}
	pthread_mutex_lock(&r->pool.mu);
	push(&r->pool.todo, &r->pool.todo_tail, j);
	r->pool.inflight++;
	pthread_cond_signal(&r->pool.work);
	pthread_mutex_unlock(&r->pool.mu);
	/* Bounded memory: record a group before queueing more. */
	if (r->pool.inflight >= INFLIGHT && (rc = drain(r, GROUP)) != UC_OK)
		r->fatal = rc;
}

static void
on_err(long line, const char *msg, void *arg)
{
	struct run *r = arg;

	if (r->pass != 1)
		return;
	report(r, line, "%s", msg);
	r->st->failed++;
}

/* One pass over the file.  Pass 1 also computes the run id. */
static int
read_pass(struct run *r)
{
	struct usercsv *u = NULL;
	unsigned char buf[65536];
	EVP_MD_CTX *md = NULL;
	unsigned char digest[32];
	unsigned int dlen;
	ssize_t n;
	int fd, rc;
	long rows = 0;

	if ((fd = open(r->o->csv, O_RDONLY | O_CLOEXEC)) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", r->o->csv_name,
		    strerror(errno));
	if ((rc = usercsv_new_ex(&r->copts, on_row, on_err, r, &u)) != UC_OK)
		goto out;
	if (r->pass == 1 && ((md = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(md, EVP_sha256(), NULL))) {
		rc = uc_seterr_ssl(UC_E_INTERNAL, "sha256");
		goto out;
	}
	for (;;) {
		if ((n = read(fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			rc = uc_seterr(UC_E_IO, "%s: %s", r->o->csv_name,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (md != NULL && !EVP_DigestUpdate(md, buf, (size_t)n)) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "sha256");
			goto out;
		}
		if ((rc = usercsv_feed(u, buf, (size_t)n)) != UC_OK)
			goto fatal;
		if (r->fatal != UC_OK) {
			rc = r->fatal;
			goto out;
		}
	}
	if ((rc = usercsv_finish(u)) != UC_OK)
		goto fatal;
	rc = r->fatal;
	rows = usercsv_rows(u);
	if (r->pass == 1) {
		r->st->rows = rows;
		dlen = sizeof(digest);
		/* The run id decides what is resumed: never from a failed hash. */
		if (!EVP_DigestFinal_ex(md, digest, &dlen) || dlen != 32) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "sha256");
			goto out;
		}
		for (unsigned int i = 0; i < 32; i++)
			snprintf(r->runid + 2 * i, 3, "%02x", digest[i]);
		/* The flags that change what a run makes are part of its id. */
		snprintf(r->runid + 48, sizeof(r->runid) - 48, "-%c%c%d",
		    r->o->tokens ? 't' : 'p', r->o->reissue ? 'r' : 'n',
		    (int)r->o->format);
	}
	goto out;
fatal:
	rc = uc_errprefix(rc, r->o->csv_name);
out:
	EVP_MD_CTX_free(md);
	usercsv_free(u);
	close(fd);
	return rc;
}

/* ---- start-up: folder, journal replay, partial bundles ------------------------------ */

/*
 * The folder receives every password and enrollment link: it must be ours
 * and closed to others, or a local user who made it first reads them all.
 */
static int
dir_private(int fd, const char *path)
{
	struct stat sb;

	if (fstat(fd, &sb) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
	if (sb.st_uid != geteuid())
		return uc_seterr(UC_E_POLICY, "%s belongs to uid %ld, not to "
		    "this user; batch writes passwords there: use a folder of "
		    "your own", path, (long)sb.st_uid);
	if ((sb.st_mode & 022) != 0)
		return uc_seterr(UC_E_POLICY, "%s is writable by %s; batch "
		    "writes passwords there: chmod 700 it or use a new folder",
		    path, (sb.st_mode & 002) != 0 ? "everyone" : "its group");
	return UC_OK;
}

/* A file about to hold secrets: a plain file of ours, one link, 0600. */
static int
file_private(int fd, const char *dir, const char *name)
{
	struct stat sb;

	if (fstat(fd, &sb) == -1)
		return uc_seterr(UC_E_IO, "%s/%s: %s", dir, name,
		    strerror(errno));
	if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    sb.st_nlink != 1 || (sb.st_mode & 077) != 0)
		return uc_seterr(UC_E_POLICY, "%s/%s is not a private file of "
		    "this user (owner, mode or links); batch will not write "
		    "passwords into it: remove it", dir, name);
	return UC_OK;
}

static int
journal_open(struct run *r)
{
	int rc;

	if ((r->jfd = openat(r->dirfd, JOURNAL, O_RDWR | O_APPEND | O_CREAT |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		return uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, JOURNAL,
		    strerror(errno));
	if ((rc = file_private(r->jfd, r->dir, JOURNAL)) != UC_OK) {
		close(r->jfd);
		r->jfd = -1;
	}
	return rc;
}

/*
 * A finished run's journal holds every password and link, which the
 * manifest now has: overwrite it, then unlink it.
 */
static int
journal_remove(struct run *r)
{
	static const char zero[4096];
	struct stat sb;
	off_t off;
	size_t n;

	if (fstat(r->jfd, &sb) == -1)
		goto fail;
	for (off = 0; off < sb.st_size; off += (off_t)n) {
		n = sb.st_size - off < (off_t)sizeof(zero) ?
		    (size_t)(sb.st_size - off) : sizeof(zero);
		if (pwrite(r->jfd, zero, n, off) != (ssize_t)n)
			goto fail;
	}
	if (fsync(r->jfd) == -1 || unlinkat(r->dirfd, JOURNAL, 0) == -1)
		goto fail;
	close(r->jfd);
	r->jfd = -1;
	(void)fsync(r->dirfd);
	return UC_OK;
fail:
	return uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, JOURNAL,
	    strerror(errno));
}

struct jrow {
	char	*f[10];
	int	 nf;
};

typedef int (*jrow_fn)(struct run *, struct jrow *);

struct jparse {
	struct run	*r;
	struct jrow	 row;
	jrow_fn		 fn;
	int		 rc;
};

static void
jp_field(void *data, size_t len, void *arg)
{
	struct jparse *jp = arg;
	char *s;

	if (jp->row.nf >= 10)
		return;
	if ((s = malloc(len + 1)) == NULL) {
		jp->rc = UC_E_INTERNAL;
		return;
	}
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	jp->row.f[jp->row.nf++] = s;
}

static void
jp_row(int c, void *arg)
{
	struct jparse *jp = arg;
	int i;

	if (jp->rc == UC_OK && jp->row.nf > 0)
		jp->rc = jp->fn(jp->r, &jp->row);
	for (i = 0; i < jp->row.nf; i++)
		secret_free(jp->row.f[i]);
	jp->row.nf = 0;
}

/* Read the CSV file name of the folder (journal, manifest), fn per line. */
static int
csv_walk(struct run *r, const char *name, jrow_fn fn)
{
	struct csv_parser p;
	struct jparse jp;
	char buf[65536];
	ssize_t n;
	int fd, rc = UC_OK;

	if ((fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return errno == ENOENT ? UC_OK : uc_seterr(UC_E_IO, "%s/%s: %s",
		    r->dir, name, strerror(errno));
	memset(&jp, 0, sizeof(jp));
	jp.r = r;
	jp.fn = fn;
	if (csv_init(&p, 0) != 0) {
		close(fd);
		return uc_seterr(UC_E_INTERNAL, "csv_init");
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 && jp.rc == UC_OK)
		(void)csv_parse(&p, buf, (size_t)n, jp_field, jp_row, &jp);
	/* A line cut short by a crash is dropped: it was never committed. */
	if (jp.rc == UC_OK && n >= 0) {
		int i;

		for (i = 0; i < jp.row.nf; i++)
			secret_free(jp.row.f[i]);
		jp.row.nf = 0;
	}
	if (n == -1)
		rc = uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, name,
		    strerror(errno));
	else
		rc = jp.rc;
	/* The journal holds passwords: wipe what passed through here. */
	OPENSSL_cleanse(buf, sizeof(buf));
	if (p.entry_buf != NULL)
		OPENSSL_cleanse(p.entry_buf, p.entry_size);
	csv_free(&p);
	{
		int i;

		for (i = 0; i < jp.row.nf; i++)
			secret_free(jp.row.f[i]);
	}
	close(fd);
	return rc;
}

static int
journal_walk(struct run *r, jrow_fn fn)
{
	return csv_walk(r, JOURNAL, fn);
}

/* Collect the users made after the last unfinished start of this run. */
static int
scan_resume(struct run *r, struct jrow *row)
{
	long seen;
	if (row->nf >= 2 && strcmp(row->f[0], "B") == 0) {
		uset_free(&r->resumed);
		r->resuming = strcmp(row->f[1], r->runid) == 0;
		r->finished = 0;
		return UC_OK;
	}
	if (row->nf >= 2 && strcmp(row->f[0], "E") == 0) {
		uset_free(&r->resumed);
		r->resuming = 0;
		r->finished = 1;
		return UC_OK;
	}
	if (!r->resuming || row->nf < 9)
		return UC_OK;
	/*
	 * Done by the interrupted run only if what it journaled was
	 * committed and is still current: with --reissue the user's other
	 * valid certificate is the old one, which must not count.
	 */
	if ((strcmp(row->f[0], "I") == 0 && cert_current(r->a, row->f[3],
	    row->f[1], r->now)) || (strcmp(row->f[0], "T") == 0 &&
	    url_pending(r->a, row->f[7], r->now))) {
		if ((seen = uset_get(&r->resumed, row->f[1], 1)) < 0)
			return (int)seen;
	}
	return UC_OK;
}

/* Move committed partial bundles into place; delete the others. */
static int
recover_partials(struct run *r)
{
	struct dirent *de;
	DIR *d;
	char *dot, name[NAME_MAX + 1], final[PATH_MAX];
	int dfd, ok;

	if ((dfd = dup(r->partfd)) == -1 || (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		return uc_seterr(UC_E_IO, "%s: %s", r->partdir,
		    strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%s", de->d_name);
		ok = 0;
		/* <username>.<serial>.p12 */
		if (strlen(name) > 4 &&
		    strcmp(name + strlen(name) - 4, ".p12") == 0) {
			name[strlen(name) - 4] = '\0';
			if ((dot = strrchr(name, '.')) != NULL) {
				*dot = '\0';
				ok = cert_current(r->a, dot + 1, name, r->now);
			}
		}
		if (ok) {
			snprintf(final, sizeof(final), "%s.p12", name);
			if (renameat(r->partfd, de->d_name, r->dirfd, final) ==
			    -1) {
				closedir(d);
				return uc_seterr(UC_E_IO, "%s/%s: %s", r->dir,
				    final, strerror(errno));
			}
		} else
			(void)unlinkat(r->partfd, de->d_name, 0);
	}
	closedir(d);
	(void)fsync(r->dirfd);
	return UC_OK;
}

/* A manifest temp file left by a kill holds passwords: remove it. */
static int
remove_stale_manifests(struct run *r)
{
	struct dirent *de;
	DIR *d;
	int dfd;

	if ((dfd = dup(r->dirfd)) == -1 || (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		return uc_seterr(UC_E_IO, "%s: %s", r->dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, MANIFEST ".tmp-",
		    strlen(MANIFEST ".tmp-")) == 0)
			(void)unlinkat(r->dirfd, de->d_name, 0);
	closedir(d);
	return UC_OK;
}

/* ---- the manifest --------------------------------------------------------------- */

/*
 * The manifest is streamed to a temp file and renamed into place, so its
 * memory does not grow with the number of users.  Rows come in journal
 * order, which is the CSV's order within each group.
 */
struct manifest {
	int		 fd;
	struct ucbuf	 buf;	/* wiping: passwords */
	long		 rows;
};

static struct manifest	*cur_manifest;	/* set only during render */

static int
manifest_flush(struct run *r, struct manifest *m)
{
	if (ucbuf_len(&m->buf) > 0 && write_all(m->fd, ucbuf_str(&m->buf),
	    ucbuf_len(&m->buf)) == -1)
		return uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, MANIFEST,
		    strerror(errno));
	ucbuf_reset(&m->buf);
	return UC_OK;
}

/* A spreadsheet must not run a cell as a formula. */
static const char *
neutral(const char *v, char *tmp, size_t len)
{
	if (v != NULL && v[0] != '\0' && strchr("=+-@\t\r", v[0]) != NULL) {
		snprintf(tmp, len, "'%s", v);
		return tmp;
	}
	return v;
}

static int
render_row(struct run *r, struct jrow *row)
{
	struct manifest *m = cur_manifest;
	const char *f[8];
	char t[8][1100];
	int keep = 0, i, rc;

	if (row->nf < 9)
		return UC_OK;
	if (strcmp(row->f[0], "I") == 0)
		keep = cert_current(r->a, row->f[3], row->f[1], r->now);
	else if (strcmp(row->f[0], "T") == 0)
		keep = url_pending(r->a, row->f[7], r->now);
	if (!keep)
		return UC_OK;
	for (i = 0; i < 8; i++)
		f[i] = neutral(row->f[i + 1], t[i], sizeof(t[i]));
	m->rows++;
	rc = jline(&m->buf, f, 8);
	OPENSSL_cleanse(t, sizeof(t));
	if (rc != UC_OK)
		return rc;
	return ucbuf_len(&m->buf) >= 65536 ? manifest_flush(r, m) : UC_OK;
}

/* Remember what the journal will list, so an old row is not listed twice. */
static int
list_row(struct run *r, struct jrow *row)
{
	long seen;
	const char *key;

	if (row->nf < 9 || (strcmp(row->f[0], "I") != 0 &&
	    strcmp(row->f[0], "T") != 0))
		return UC_OK;
	key = row->f[0][0] == 'I' ? row->f[3] : row->f[7];
	if ((seen = uset_get(&r->listed, key, 1)) < 0)
		return (int)seen;
	return UC_OK;
}

/*
 * A row of the manifest an earlier run wrote (its journal is gone): kept
 * while its certificate is valid or its token unused.  Its fields were
 * made safe for spreadsheets when it was first written.
 */
static int
carry_row(struct run *r, struct jrow *row)
{
	long seen;
	struct manifest *m = cur_manifest;
	const char *key, *f[8];
	int keep, i;

	if (row->nf < 8 || (strcmp(row->f[0], "username") == 0 &&
	    strcmp(row->f[2], "serial") == 0))
		return UC_OK;
	key = row->f[2][0] != '\0' ? row->f[2] : row->f[6];
	if (key[0] == '\0' || (seen = uset_get(&r->listed, key, 0)) > 0)
		return UC_OK;
	if (seen < 0)
		return (int)seen;
	/* The username may carry a spreadsheet guard ("'"): not compared. */
	keep = row->f[2][0] != '\0' ? cert_current(r->a, row->f[2], NULL,
	    r->now) : url_pending(r->a, row->f[6], r->now);
	if (!keep)
		return UC_OK;
	if ((seen = uset_get(&r->listed, key, 1)) < 0)
		return (int)seen;
	for (i = 0; i < 8; i++)
		f[i] = row->f[i];
	m->rows++;
	if ((i = jline(&m->buf, f, 8)) != UC_OK)
		return i;
	return ucbuf_len(&m->buf) >= 65536 ? manifest_flush(r, m) : UC_OK;
}

static int
render_manifest(struct run *r)
{
	static const char *const hdr[8] = {
		"username", "email", "serial", "not_after", "p12_file",
		"password", "enroll_url", "token_expires",
	};
	struct manifest m;
	unsigned char rnd[8];
	char tmp[PATH_MAX];
	int rc;

	memset(&m, 0, sizeof(m));
	ucbuf_init(&m.buf, 0, 1);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return uc_seterr_ssl(UC_E_CRYPTO, "RAND_bytes");
	snprintf(tmp, sizeof(tmp), MANIFEST ".tmp-%02x%02x%02x%02x%02x%02x%02x"
	    "%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
	    rnd[7]);
	if ((m.fd = openat(r->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		return uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, tmp,
		    strerror(errno));
	if ((rc = jline(&m.buf, hdr, 8)) != UC_OK)
		goto fail;
	/* Earlier runs' rows first (their journals are gone), then this one's. */
	cur_manifest = &m;
	if ((rc = journal_walk(r, list_row)) == UC_OK &&
	    (rc = csv_walk(r, MANIFEST, carry_row)) == UC_OK)
		rc = journal_walk(r, render_row);
	cur_manifest = NULL;
	if (rc != UC_OK || (rc = manifest_flush(r, &m)) != UC_OK)
		goto fail;
	if (fsync(m.fd) == -1 || close(m.fd) == -1) {
		m.fd = -1;
		rc = uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, tmp,
		    strerror(errno));
		goto fail;
	}
	m.fd = -1;
	if (renameat(r->dirfd, tmp, r->dirfd, MANIFEST) == -1) {
		rc = uc_seterr(UC_E_IO, "%s/%s: %s", r->dir, MANIFEST,
		    strerror(errno));
		goto fail;
	}
	(void)fsync(r->dirfd);
	ucbuf_free(&m.buf);
	return UC_OK;
fail:
	if (m.fd != -1)
		close(m.fd);
	(void)unlinkat(r->dirfd, tmp, 0);
	ucbuf_free(&m.buf);
	return rc;
}

/* ---- entry point -------------------------------------------------------------------- */

/* How o says the CSV is written; *map (may be NULL) is the caller's. */
static int
csv_opts(const struct batch_opts *o, struct usercsv_opts *co,
    struct usercsv_map **map, const char **flag)
{
	int rc = UC_OK;

	memset(co, 0, sizeof(*co));
	*map = NULL;
	*flag = NULL;
	if (o->delimiter != NULL &&
	    (rc = usercsv_delimiter_parse(o->delimiter, &co->delimiter)) !=
	    UC_OK)
		*flag = "--delimiter";
	else if (o->encoding != NULL &&
	    (rc = usercsv_encoding_parse(o->encoding, &co->encoding)) != UC_OK)
		*flag = "--encoding";
	else if (o->map != NULL &&
	    (rc = usercsv_map_parse(o->map, map)) != UC_OK)
		*flag = "--map";
	co->map = *map;
	return rc;
}

int
authority_batch_check(const struct batch_opts *o, const char **flag)
{
	struct usercsv_opts co;
	struct usercsv_map *map;
	int rc;

	rc = csv_opts(o, &co, &map, flag);
	usercsv_map_free(map);
	return rc;
}

/* The folder, its lock, .partial/, the journal and what an interrupted
 * run left there. */
static int
open_folder(struct run *r)
{
	const struct batch_opts *o = r->o;
	int rc;

	if ((rc = dir_make(o->out, 0700)) != UC_OK)
		return rc;
	if ((r->dir = strdup(o->out)) == NULL ||
	    (r->partdir = path_join(o->out, PARTIAL)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((r->dirfd = open(o->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return uc_seterr(UC_E_IO, "%s: %s", o->out, strerror(errno));
	if ((rc = dir_private(r->dirfd, r->dir)) != UC_OK)
		return rc;
	/* One run per folder: two would share the journal and manifest. */
	if ((rc = uc_lock_take(o->out, LOCKFILE, o->tokens ? "userca batch "
	    "--tokens" : "userca batch", 0, &r->lock)) != UC_OK)
		return rc;
	if (mkdirat(r->dirfd, PARTIAL, 0700) == -1 && errno != EEXIST)
		return uc_seterr(UC_E_IO, "%s: %s", r->partdir,
		    strerror(errno));
	if ((r->partfd = openat(r->dirfd, PARTIAL, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC | O_NOFOLLOW)) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", r->partdir,
		    strerror(errno));
	if ((rc = dir_private(r->partfd, r->partdir)) != UC_OK)
		return rc;
	if ((rc = journal_walk(r, scan_resume)) != UC_OK ||
	    (rc = recover_partials(r)) != UC_OK ||
	    (rc = remove_stale_manifests(r)) != UC_OK ||
	    (rc = journal_open(r)) != UC_OK)
		return rc;
	/* Killed after its manifest was in place: the journal is done with. */
	if (r->finished && ((rc = journal_remove(r)) != UC_OK ||
	    (rc = journal_open(r)) != UC_OK))
		return rc;
	if ((rc = journal_trim(r)) != UC_OK)
		return rc;
	if (!r->resuming && (rc = journal_marker(r, "B")) != UC_OK)
		return rc;
	return UC_OK;
}

/* The signer (it may ask for a passphrase) opened, then the workers. */
static int
start_workers(struct run *r)
{
	int rc, i;

	if ((rc = authority_ready(r->a)) != UC_OK)
		return rc;
	r->nthreads = r->o->jobs > 0 ? r->o->jobs : 1;
	if ((r->threads = calloc((size_t)r->nthreads,
	    sizeof(*r->threads))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	for (i = 0; i < r->nthreads; i++) {
		if (pthread_create(&r->threads[i], NULL, worker,
		    &r->pool) != 0) {
			r->nthreads = i;
			return uc_seterr(UC_E_INTERNAL, "pthread_create");
		}
	}
	return UC_OK;
}

/*
 * After pass 2: superseded certificates go on a CRL now (also those of an
 * earlier, interrupted run whose CRL was never signed), public/ is made
 * current, then the manifest; "E" says the whole run, manifest included,
 * is done, and the journal goes.
 */
static int
finish_run(struct run *r)
{
	struct crl_state cs;
	int rc;

	if ((rc = authority_crl_state(r->a, 0, &cs)) != UC_OK)
		return rc;
	if ((r->need_crl || cs.revoked > cs.entries) &&
	    (rc = authority_crl(r->a, 0, 0)) != UC_OK)
		return rc;
	/* A kill between signing and publishing left public/ old. */
	if ((rc = authority_publish(r->a)) != UC_OK ||
	    (rc = render_manifest(r)) != UC_OK ||
	    (rc = journal_marker(r, "E")) != UC_OK)
		return rc;
	return journal_remove(r);
}

static void
jobs_free(struct job *j)
{
	struct job *next;

	for (; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
}

/* Workers stopped, everything freed and closed, the folder's lock last. */
static void
run_clear(struct run *r)
{
	int i;

	if (r->threads != NULL) {
		pthread_mutex_lock(&r->pool.mu);
		r->pool.stop = 1;
		pthread_cond_broadcast(&r->pool.work);
		pthread_mutex_unlock(&r->pool.mu);
		for (i = 0; i < r->nthreads; i++)
			pthread_join(r->threads[i], NULL);
		free(r->threads);
	}
	jobs_free(r->pool.todo);
	jobs_free(r->pool.done);
	pthread_mutex_destroy(&r->pool.mu);
	pthread_cond_destroy(&r->pool.work);
	pthread_cond_destroy(&r->pool.done_cv);
	uset_free(&r->seen);
	uset_free(&r->resumed);
	uset_free(&r->listed);
	usercsv_map_free(r->cmap);
	ucbuf_free(&r->jbuf);
	free(r->grp);
	if (r->jfd != -1)
		close(r->jfd);
	if (r->partfd != -1)
		close(r->partfd);
	if (r->dirfd != -1)
		close(r->dirfd);
	free(r->dir);
	free(r->partdir);
	uc_lock_release(r->lock);
}

int
authority_batch(struct authority *a, const struct batch_opts *o,
    struct batch_stats *st)
{
	struct run r;
	const char *flag;
	int rc, rc2;

	memset(st, 0, sizeof(*st));
	memset(&r, 0, sizeof(r));
	r.a = a;
	r.o = o;
	r.st = st;
	r.dirfd = r.partfd = r.jfd = -1;
	r.now = uc_now();
	r.fatal = UC_OK;
	pthread_mutex_init(&r.pool.mu, NULL);
	pthread_cond_init(&r.pool.work, NULL);
	pthread_cond_init(&r.pool.done_cv, NULL);
	r.pool.a = a;
	r.pool.days = o->days;
	ucbuf_init(&r.jbuf, 0, 1);	/* passwords: wiped */

	if ((rc = csv_opts(o, &r.copts, &r.cmap, &flag)) != UC_OK) {
		rc = uc_errprefix(rc, flag);
		goto out;
	}
	/* Pass 1: every problem in the file, before anything is issued. */
	r.pass = 1;
	if ((rc = read_pass(&r)) != UC_OK || o->dry_run)
		goto out;
	/* renew: nobody left, but a killed run's folder still to settle. */
	if (st->rows - st->failed <= 0 && o->renew_until == 0)
		goto out;	/* nothing valid to issue */
	if ((r.grp = calloc(1, sizeof(*r.grp))) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = open_folder(&r)) != UC_OK ||
	    (!o->tokens && (rc = start_workers(&r)) != UC_OK))
		goto out;

	/* Pass 2: issue.  Rows that failed pass 1 are not handled again. */
	r.total = st->rows - st->failed;
	atomic_init(&r.pool.handled, 0);
	r.pass = 2;
	rc = read_pass(&r);
	/* Whatever was minted is recorded, even after an error. */
	rc2 = drain(&r, r.pool.inflight);
	if (rc == UC_OK)
		rc = rc2;
	if (rc == UC_OK)
		rc = finish_run(&r);
out:
	run_clear(&r);
	return rc;
}
