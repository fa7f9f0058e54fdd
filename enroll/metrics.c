/*
 * metrics.c: counters for /metrics (Prometheus text format 0.0.4).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "door.h"
#include "enrolld.h"
#include "ucbuf.h"

#define MAXSERIES	128

struct series {
	char		 labels[96];
	unsigned long	 n;
};

struct metrics {
	pthread_mutex_t	 mu;
	struct series	 req[MAXSERIES];
	struct series	 issue[16];
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
	bump(m->issue, 16, l);
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

static void
family(struct ucbuf *b, const char *name, const char *help, const char *type,
    const struct series *s, size_t n)
{
	size_t i;

	ucbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < n && s[i].labels[0] != '\0'; i++)
		ucbuf_printf(b, "%s{%s} %lu\n", name, s[i].labels, s[i].n);
}

char *
metrics_render(struct metrics *m, struct enrolld *d)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	unsigned char *out = NULL;
	const struct pubfile *f;
	int64_t now = uc_now();
	char *mon;
	int i;

	pthread_mutex_lock(&m->mu);
	family(&b, "userca_http_requests_total", "HTTP requests by route "
	    "and status.", "counter", m->req, MAXSERIES);
	family(&b, "userca_issued_total", "Certificates issued by the "
	    "daemon, by kind.", "counter", m->issue, 16);
	family(&b, "userca_token_failures_total", "Refused enrollment "
	    "token attempts, by reason.", "counter", m->tokfail, 8);
	pthread_mutex_unlock(&m->mu);

	pthread_rwlock_rdlock(&d->publock);
	ucbuf_printf(&b, "# HELP userca_crl_next_update_seconds Seconds until the "
	    "CRL's nextUpdate (negative: expired).\n"
	    "# TYPE userca_crl_next_update_seconds gauge\n");
	for (i = 0; i < NPUB_BASE; i++) {
		f = &d->pub->f[i];
		if (f->next_update != 0 && strcmp(f->route, "/crl.pem") != 0)
			ucbuf_printf(&b, "userca_crl_next_update_seconds{crl=\"%s\"} "
			    "%lld\n", strcmp(f->route, "/root.crl") == 0 ?
			    "root" : "issuing", (long long)(f->next_update -
			    now));
	}
	ucbuf_printf(&b, "# HELP userca_crl_number The published CRL's number.\n"
	    "# TYPE userca_crl_number gauge\n");
	for (i = 0; i < NPUB_BASE; i++) {
		f = &d->pub->f[i];
		if (f->next_update != 0 && strcmp(f->route, "/crl.pem") != 0)
			ucbuf_printf(&b, "userca_crl_number{crl=\"%s\"} %lld\n",
			    strcmp(f->route, "/root.crl") == 0 ? "root" :
			    "issuing", (long long)f->crl_number);
	}
	ucbuf_printf(&b, "# HELP userca_root_crl_runway Pre-signed root CRLs not yet "
	    "in force.\n# TYPE userca_root_crl_runway gauge\n"
	    "userca_root_crl_runway %ld\n", d->runway);
	ucbuf_printf(&b, "# HELP userca_root_crl_runway_seconds Seconds until the "
	    "last root CRL's nextUpdate.\n"
	    "# TYPE userca_root_crl_runway_seconds gauge\n"
	    "userca_root_crl_runway_seconds %lld\n", (long long)
	    (d->runway_until != 0 ? d->runway_until - now : 0));
	ucbuf_printf(&b, "# HELP userca_healthy 1 when /healthz is ok.\n"
	    "# TYPE userca_healthy gauge\nuserca_healthy %d\n", d->healthy);
	pthread_rwlock_unlock(&d->publock);
	ocsp_metrics(&b);
	/* Due certificates and the OCSP responder: the monitor knows. */
	if ((mon = door_metrics(d->door)) != NULL) {
		ucbuf_addstr(&b, mon);
		free(mon);
	}
	if (ucbuf_take(&b, &out, NULL) != UC_OK)
		ucbuf_free(&b);
	return (char *)out;
}
