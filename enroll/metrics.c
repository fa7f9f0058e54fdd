/*
 * metrics.c: counters for /metrics (Prometheus text format 0.0.4).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrolld.h"

#define MAXSERIES	128

struct series {
	char		 labels[96];
	unsigned long	 n;
};

struct metrics {
	pthread_mutex_t	 mu;
	struct series	 req[MAXSERIES];
	struct series	 issue[8];
	struct series	 tokfail[8];
};

struct metrics *
metrics_new(void)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void
bump(struct series *s, size_t n, const char *labels)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i].labels[0] == '\0')
			snprintf(s[i].labels, sizeof(s[i].labels), "%s",
			    labels);
		if (strcmp(s[i].labels, labels) == 0) {
			s[i].n++;
			return;
		}
	}
}

void
metrics_request(struct metrics *m, const char *route, int status)
{
	char l[96];

	/* Routes are our own fixed templates, never raw paths. */
	snprintf(l, sizeof(l), "route=\"%s\",status=\"%d\"", route, status);
	pthread_mutex_lock(&m->mu);
	bump(m->req, MAXSERIES, l);
	pthread_mutex_unlock(&m->mu);
}

void
metrics_issue(struct metrics *m, const char *kind)
{
	char l[96];

	snprintf(l, sizeof(l), "kind=\"%s\"", kind);
	pthread_mutex_lock(&m->mu);
	bump(m->issue, 8, l);
	pthread_mutex_unlock(&m->mu);
}

void
metrics_token_failure(struct metrics *m, const char *why)
{
	char l[96];

	snprintf(l, sizeof(l), "reason=\"%s\"", why);
	pthread_mutex_lock(&m->mu);
	bump(m->tokfail, 8, l);
	pthread_mutex_unlock(&m->mu);
}

struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *np;

	if (b->p == NULL && b->cap == 0) {
		if ((b->p = malloc(4096)) == NULL)
			return;
		b->cap = 4096;
	}
	for (;;) {
		if (b->p == NULL)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if ((np = realloc(b->p, b->cap * 2)) == NULL) {
			free(b->p);
			b->p = NULL;
			return;
		}
		b->p = np;
		b->cap *= 2;
	}
}

static void
family(struct buf *b, const char *name, const char *help, const char *type,
    const struct series *s, size_t n)
{
	size_t i;

	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < n && s[i].labels[0] != '\0'; i++)
		bprintf(b, "%s{%s} %lu\n", name, s[i].labels, s[i].n);
}

char *
metrics_render(struct metrics *m, struct enrolld *d)
{
	struct buf b = { NULL, 0, 0 };
	const struct pubfile *f;
	int64_t now = uc_now();
	int i;

	pthread_mutex_lock(&m->mu);
	family(&b, "userca_http_requests_total", "HTTP requests by route "
	    "and status.", "counter", m->req, MAXSERIES);
	family(&b, "userca_issued_total", "Certificates issued by the "
	    "daemon, by kind.", "counter", m->issue, 8);
	family(&b, "userca_token_failures_total", "Refused enrollment "
	    "token attempts, by reason.", "counter", m->tokfail, 8);
	pthread_mutex_unlock(&m->mu);

	pthread_rwlock_rdlock(&d->publock);
	bprintf(&b, "# HELP userca_crl_next_update_seconds Seconds until the "
	    "CRL's nextUpdate (negative: expired).\n"
	    "# TYPE userca_crl_next_update_seconds gauge\n");
	for (i = 0; i < NPUB; i++) {
		f = &d->pub->f[i];
		if (f->next_update != 0 && strcmp(f->route, "/crl.pem") != 0)
			bprintf(&b, "userca_crl_next_update_seconds{crl=\"%s\"} "
			    "%lld\n", strcmp(f->route, "/root.crl") == 0 ?
			    "root" : "issuing", (long long)(f->next_update -
			    now));
	}
	bprintf(&b, "# HELP userca_crl_number The published CRL's number.\n"
	    "# TYPE userca_crl_number gauge\n");
	for (i = 0; i < NPUB; i++) {
		f = &d->pub->f[i];
		if (f->next_update != 0 && strcmp(f->route, "/crl.pem") != 0)
			bprintf(&b, "userca_crl_number{crl=\"%s\"} %lld\n",
			    strcmp(f->route, "/root.crl") == 0 ? "root" :
			    "issuing", (long long)f->crl_number);
	}
	bprintf(&b, "# HELP userca_root_crl_runway Pre-signed root CRLs not yet "
	    "in force.\n# TYPE userca_root_crl_runway gauge\n"
	    "userca_root_crl_runway %ld\n", d->runway);
	bprintf(&b, "# HELP userca_root_crl_runway_seconds Seconds until the "
	    "last root CRL's nextUpdate.\n"
	    "# TYPE userca_root_crl_runway_seconds gauge\n"
	    "userca_root_crl_runway_seconds %lld\n", (long long)
	    (d->runway_until != 0 ? d->runway_until - now : 0));
	bprintf(&b, "# HELP userca_healthy 1 when /healthz is ok.\n"
	    "# TYPE userca_healthy gauge\nuserca_healthy %d\n", d->healthy);
	pthread_rwlock_unlock(&d->publock);
	return b.p;
}
