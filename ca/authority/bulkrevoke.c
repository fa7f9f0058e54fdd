/*
 * bulkrevoke.c: revoke --csv: every user or serial of a CSV file in one
 * transaction, then one CRL for all of them.
 *
 * A line that names nothing revocable (no such user, an unknown serial) is
 * an error of that line only; one already revoked is a notice, as for a
 * single revoke.  The database sees all of the file's revocations or none.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>

#include "authority_int.h"

/* The CSV file: the key column's value per row, with its line number. */
struct bulk_csv {
	struct csv_parser	 p;
	long			 line;		/* physical line being fed */
	long			 rowline;	/* where the current row began */
	size_t			 nf;		/* fields seen in this row */
	int			 header_done;
	int			 col;		/* key column (-1: not found) */
	int			 by_serial;
	char			*val;		/* the row's key value */
	struct revoke_bulk_result *res;
	int			 err;
};

static void
csv_field(void *s, size_t len, void *arg)
{
	struct bulk_csv *b = arg;
	char *f;

	if (b->err != UC_OK)
		return;
	if ((f = strndup(s != NULL ? s : "", len)) == NULL) {
		b->err = uc_seterr(UC_E_INTERNAL, "out of memory");
		return;
	}
	/* Excel's byte order mark on the header's first field. */
	if (!b->header_done && b->nf == 0 && len >= 3 &&
	    memcmp(f, "\xef\xbb\xbf", 3) == 0)
		memmove(f, f + 3, len - 2);
	if (!b->header_done) {
		if (strcasecmp(f, "username") == 0 && b->col < 0) {
			b->col = (int)b->nf;
			b->by_serial = 0;
		} else if (strcasecmp(f, "serial") == 0 && b->col < 0) {
			b->col = (int)b->nf;
			b->by_serial = 1;
		}
		free(f);
	} else if ((int)b->nf == b->col) {
		free(b->val);
		b->val = f;
	} else
		free(f);
	b->nf++;
}

static int
line_add(struct revoke_bulk_result *r, long line, const char *key)
{
	struct revoke_bulk_line *n;

	if ((n = reallocarray(r->l, r->n + 1, sizeof(*n))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	r->l = n;
	memset(&r->l[r->n], 0, sizeof(r->l[0]));
	r->l[r->n].line = line;
	if ((r->l[r->n].key = strdup(key)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	r->n++;
	return UC_OK;
}

static void
csv_row(int c, void *arg)
{
	struct bulk_csv *b = arg;
	const char *v;

	(void)c;
	if (b->err != UC_OK)
		goto out;
	if (!b->header_done) {
		b->header_done = 1;
		if (b->col < 0)
			b->err = uc_seterr(UC_E_INVALID, "line %ld: the header "
			    "has neither a username nor a serial column",
			    b->rowline);
		goto out;
	}
	v = b->val != NULL ? b->val : "";
	if ((b->err = line_add(b->res, b->rowline, v)) != UC_OK)
		goto out;
	if ((int)b->nf <= b->col || *v == '\0') {
		b->res->l[b->res->n - 1].status = REVOKE_LINE_ERROR;
		b->res->l[b->res->n - 1].msg = strdup(b->by_serial ?
		    "no serial on this line" : "no username on this line");
	}
out:
	free(b->val);
	b->val = NULL;
	b->nf = 0;
}

static int
csv_read(const unsigned char *buf, size_t len, struct revoke_bulk_result *res,
    int *by_serial)
{
	struct bulk_csv b;
	const unsigned char *s = buf, *nl, *end = buf + len;
	size_t n;
	int rc;

	memset(&b, 0, sizeof(b));
	b.col = -1;
	b.res = res;
	b.err = UC_OK;
	if (csv_init(&b.p, CSV_APPEND_NULL) != 0)
		return uc_seterr(UC_E_INTERNAL, "csv_init");
	/* One physical line at a time, so every row knows its line. */
	while (s < end && b.err == UC_OK) {
		nl = memchr(s, '\n', (size_t)(end - s));
		n = nl != NULL ? (size_t)(nl - s) + 1 : (size_t)(end - s);
		b.line++;
		if (b.p.pstate == 0 && b.nf == 0)
			b.rowline = b.line;
		if (csv_parse(&b.p, s, n, csv_field, csv_row, &b) != n) {
			b.err = uc_seterr(UC_E_INVALID, "line %ld: %s", b.line,
			    csv_strerror(csv_error(&b.p)));
			break;
		}
		s += n;
	}
	if (b.err == UC_OK)
		csv_fini(&b.p, csv_field, csv_row, &b);
	rc = b.err;
	if (rc == UC_OK && !b.header_done)
		rc = uc_seterr(UC_E_INVALID, "the file is empty: it needs a "
		    "header line with a username or serial column");
	*by_serial = b.by_serial;
	free(b.val);
	csv_free(&b.p);
	return rc;
}

/* ---- revoking -------------------------------------------------------------- */

static int
set_msg(struct revoke_bulk_line *l, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
set_msg(struct revoke_bulk_line *l, int status, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	l->status = status;
	free(l->msg);
	if ((l->msg = strdup(buf)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	return UC_OK;
}

static int
add_serial(struct revoke_bulk_line *l, const char *serial)
{
	char **n;

	if ((n = reallocarray(l->serials, l->n + 1, sizeof(*n))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	l->serials = n;
	if ((l->serials[l->n] = strdup(serial)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	l->n++;
	return UC_OK;
}

/* The issuing CA's certificates of a user (the CRL is the issuing CA's). */
struct user_serials {
	struct revoke_bulk_line	*l;
	struct authority	*a;
};

static int
user_serial_cb(const struct store_cert *c, void *arg)
{
	struct user_serials *us = arg;

	/* The current issuing CA's, or a previous one's in service. */
	if (c->issuer_ski == NULL || rollover_issuer(us->a, c->issuer_ski) < 0)
		return 0;
	return add_serial(us->l, c->serial);
}

static int
revoke_one(struct authority *a, struct revoke_bulk_line *l, int by_serial,
    int reason, int64_t now)
{
	struct user_serials us;
	struct store_cert c;
	struct store_user u;
	char *norm = NULL;
	int64_t uid;
	size_t i;
	int rc, ntok = 0;

	memset(&c, 0, sizeof(c));
	memset(&u, 0, sizeof(u));
	if (by_serial) {
		if (serial_normalize(l->key, &norm) != UC_OK)
			return set_msg(l, REVOKE_LINE_ERROR, "'%s' is not a "
			    "hexadecimal serial number", l->key);
		if ((rc = store_cert_get(a->st, norm, &c)) == UC_E_NOTFOUND)
			rc = set_msg(l, REVOKE_LINE_ERROR, "no certificate "
			    "with serial %s", norm);
		else if (rc != UC_OK)
			;
		else if (strcmp(c.status, "revoked") == 0)
			rc = set_msg(l, REVOKE_LINE_NOTICE, "%s is already "
			    "revoked (%s)", norm, crl_reason_name(c.reason));
		else if (rollover_issuer(a, c.issuer_ski) < 0)
			rc = set_msg(l, REVOKE_LINE_ERROR, "%s was not issued "
			    "by the issuing CA (an intermediate?): revoke it "
			    "with userca revoke --serial", norm);
		else
			rc = add_serial(l, norm);
		store_cert_clear(&c);
		free(norm);
	} else {
		if ((rc = store_user_get(a->st, l->key, &u)) == UC_E_NOTFOUND)
			return set_msg(l, REVOKE_LINE_ERROR, "no such user "
			    "'%s'", l->key);
		if (rc != UC_OK)
			return rc;
		/* Offboarding: links not yet used die with the user's access. */
		uid = u.id;
		rc = store_user_expire_tokens_count(a->st, uid, now, &ntok);
		store_user_clear(&u);
		if (rc == UC_OK && ntok > 0)
			rc = store_audit(a->st, now, a->actor, "token-cancel",
			    l->key, "revoke --csv");
		if (rc != UC_OK)
			return rc;
		l->tokens_cancelled = ntok;
		/*
		 * The valid ones, then expired but unrevoked ones (they go on
		 * the CRL too): by the user's index, not a scan of every
		 * certificate per line.
		 */
		us.l = l;
		us.a = a;
		if ((rc = store_cert_list_unrevoked(a->st, uid, now,
		    user_serial_cb, &us)) != UC_OK)
			return rc;
		if (l->n == 0)
			rc = set_msg(l, REVOKE_LINE_NOTICE, "%s has no "
			    "unrevoked certificate", l->key);
	}
	for (i = 0; rc == UC_OK && i < l->n; i++) {
		/* A serial named twice in the file: the second is a notice. */
		if ((rc = store_cert_revoke(a->st, l->serials[i], now,
		    reason)) == UC_E_STATE) {
			rc = set_msg(l, REVOKE_LINE_NOTICE, "%s is already "
			    "revoked (earlier in this file)", l->serials[i]);
			free(l->serials[i]);
			l->serials[i--] = l->serials[--l->n];
			continue;
		}
		if (rc == UC_OK)
			rc = store_audit(a->st, now, a->actor, "revoke",
			    l->serials[i], crl_reason_name(reason));
	}
	return rc;
}

static int
bulk_locked(struct authority *a, const unsigned char *csv, size_t len,
    int reason, int dry_run, struct revoke_bulk_result *res)
{
	struct signer *isig = NULL;
	unsigned char *der = NULL;
	size_t derlen, i, nserials = 0;
	int64_t now = uc_now(), next;
	int rc, by_serial = 0;

	if ((rc = csv_read(csv, len, res, &by_serial)) != UC_OK)
		return rc;
	res->by_serial = by_serial;
	/* The CRL signer first: without it nothing is revoked. */
	if (!dry_run && (rc = auth_issuing_signer(a, &isig)) != UC_OK)
		return rc;
	if ((rc = store_begin(a->st)) != UC_OK)
		return rc;
	for (i = 0; i < res->n; i++) {
		if (res->l[i].status == REVOKE_LINE_ERROR)
			continue;
		if ((rc = revoke_one(a, &res->l[i], by_serial, reason, now)) !=
		    UC_OK)
			goto fail;
		nserials += res->l[i].n;
	}
	for (i = 0; i < res->n; i++) {
		if (res->l[i].status == REVOKE_LINE_ERROR)
			res->errors++;
		else if (res->l[i].n > 0)
			res->revoked++;
		else
			res->notices++;
	}
	res->certificates = nserials;
	if (dry_run) {
		store_rollback(a->st);	/* what would happen, nothing more */
		return UC_OK;
	}
	/* One CRL per issuing CA for the whole file, in the same transaction. */
	if (nserials > 0 && ((rc = crls_sign(a, isig, a->conf.crl_days)) !=
	    UC_OK || (rc = rollover_sign_crls(a, a->conf.crl_days)) != UC_OK))
		goto fail;
	if ((rc = store_commit(a->st)) != UC_OK)
		return rc;
	if (nserials == 0)
		return UC_OK;
	if (store_crl_latest(a->st, a->issuing_ski, &der, &derlen,
	    &res->crl_number, &next) == UC_OK)
		free(der);
	return publish_locked(a);
fail:
	store_rollback(a->st);
	for (i = 0; i < res->n; i++) {	/* nothing of it was kept */
		while (res->l[i].n > 0)
			free(res->l[i].serials[--res->l[i].n]);
	}
	res->revoked = res->certificates = 0;
	return rc;
}

int
authority_revoke_csv(struct authority *a, const unsigned char *csv,
    size_t len, int reason, int dry_run, struct revoke_bulk_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&a->mu);
	rc = bulk_locked(a, csv, len, reason, dry_run, res);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void
revoke_bulk_result_clear(struct revoke_bulk_result *res)
{
	size_t i, j;

	if (res == NULL)
		return;
	for (i = 0; i < res->n; i++) {
		free(res->l[i].key);
		free(res->l[i].msg);
		for (j = 0; j < res->l[i].n; j++)
			free(res->l[i].serials[j]);
		free(res->l[i].serials);
	}
	free(res->l);
	memset(res, 0, sizeof(*res));
}
