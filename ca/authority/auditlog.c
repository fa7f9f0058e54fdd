/*
 * auditlog.c: the audit log as a hash chain, anchored by checkpoints.
 *
 * db/ chains each row as it writes it (store_audit).  Here: at every CRL
 * signing, a checkpoint (row count, head row and head hash) signed by the
 * CA that signed the CRL, stored and published as
 * public/audit-checkpoint.json; reading the log; and checking it.  An
 * edited, inserted or deleted row breaks the chain at that row; a chain
 * recomputed after an edit, or cut short, no longer reproduces a signed
 * checkpoint, which cannot be re-signed without the CA key.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "authority_int.h"

#define CP_FORMAT	"userca-audit-checkpoint-v1"
#define CP_FILE		"public/audit-checkpoint.json"
#define CP_MAX_FILE	(64 * 1024)

/* The bytes a checkpoint's signature covers: fixed lines, in this order. */
static int
cp_message(const struct store_checkpoint *c, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s\nissuer_ski=%s\ncrl_number=%lld\n"
	    "at=%lld\nrows=%lld\nhead_id=%lld\nhead_hash=%s\n", CP_FORMAT,
	    c->issuer_ski, (long long)c->crl_number, (long long)c->at,
	    (long long)c->rows, (long long)c->head_id, c->head_hash);
	if (n < 0 || (size_t)n >= len)
		return uc_seterr(UC_E_INVALID, "audit checkpoint too long");
	return n;
}

int
auditlog_checkpoint(struct authority *a, struct signer *sig, int64_t at,
    const char *issuer_ski, int64_t crl_number)
{
	struct store_checkpoint c;
	char head[STORE_HASH_HEX], msg[512];
	unsigned char *s = NULL;
	size_t slen;
	int rc, n;

	memset(&c, 0, sizeof(c));
	c.at = at;
	c.issuer_ski = issuer_ski;
	c.crl_number = crl_number;
	c.head_hash = head;
	if ((rc = store_audit_head(a->st, &c.rows, &c.head_id, head)) != UC_OK)
		return rc;
	if ((n = cp_message(&c, msg, sizeof(msg))) < 0)
		return n;
	if ((rc = signer_sign_data(sig, msg, (size_t)n, &s, &slen)) != UC_OK)
		return rc;
	c.sig = s;
	c.siglen = slen;
	rc = store_checkpoint_insert(a->st, &c);
	free(s);
	return rc;
}

/* ---- the published checkpoint -------------------------------------------- */

static char *
hex_lower(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s;
	size_t i;

	if ((s = malloc(2 * n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

static int
hex_val(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Hex to a new buffer; NULL if s is not even-length hex. */
static unsigned char *
hex_decode(const char *s, size_t *len)
{
	unsigned char *p;
	size_t i, n = strlen(s);
	int hi, lo;

	if (n % 2 != 0 || n == 0 || (p = malloc(n / 2)) == NULL)
		return NULL;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hex_val(s[2 * i])) < 0 ||
		    (lo = hex_val(s[2 * i + 1])) < 0) {
			free(p);
			return NULL;
		}
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return p;
}

static int
publish_cb(const struct store_checkpoint *c, void *arg)
{
	json_t **out = arg;
	char when[32], *sig;

	if ((sig = hex_lower(c->sig, c->siglen)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	uc_time_iso(c->at, when, sizeof(when));
	*out = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:s, s:s}",
	    "format", CP_FORMAT, "issuer_ski", c->issuer_ski,
	    "crl_number", (json_int_t)c->crl_number, "at", (json_int_t)c->at,
	    "at_iso", when, "rows", (json_int_t)c->rows,
	    "head_id", (json_int_t)c->head_id, "head_hash", c->head_hash,
	    "signature", sig);
	free(sig);
	return *out != NULL ? 0 : uc_seterr(UC_E_INTERNAL, "out of memory");
}

int
auditlog_publish(struct authority *a)
{
	json_t *o = NULL;
	char *js = NULL;
	int rc;

	if ((rc = store_checkpoint_list(a->st, 1, publish_cb, &o)) != UC_OK)
		goto out;
	if (o == NULL)
		goto out;	/* no CRL signed since the chain began */
	if ((js = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = home_write(a->home, CP_FILE, js, strlen(js), 0644, 0);
out:
	free(js);
	json_decref(o);
	return rc;
}

/* ---- reading -------------------------------------------------------------- */

struct list_arg {
	int	(*cb)(const struct authority_log_row *, void *);
	void	*arg;
};

static int
list_cb(const struct store_audit_row *r, void *arg)
{
	struct list_arg *la = arg;
	struct authority_log_row o;

	o.id = r->id;
	o.at = r->at;
	o.actor = r->actor;
	o.action = r->action;
	o.subject = r->subject;
	o.detail = r->detail;
	o.prev_hash = r->prev_hash;
	o.hash = r->hash;
	return la->cb(&o, la->arg);
}

int
authority_log_list(struct authority *a, const char *username, int64_t since,
    int (*cb)(const struct authority_log_row *, void *), void *arg)
{
	struct store_audit_filter f;
	struct list_arg la = { cb, arg };
	int rc;

	store_audit_filter_init(&f);
	f.username = username;
	f.since = since;
	pthread_mutex_lock(&a->mu);
	rc = store_audit_list(a->st, &f, list_cb, &la);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* ---- checking ------------------------------------------------------------- */

/* A checkpoint held for the walk: its own copies. */
struct cp {
	struct store_checkpoint	 c;
	char			 where[96];	/* "checkpoint 12", "public/..." */
	int			 good;		/* signature verified */
	int			 seen;		/* its row count was reached */
};

struct verify {
	struct authority		*a;
	void				(*problem)(int64_t, const char *,
					    void *);
	void				*arg;
	struct authority_log_report	*rep;
	struct cp			*cps;
	size_t				 ncps;
	/* the walk */
	int64_t				 pos;
	int64_t				 prev_id;
	char				 prev_hash[STORE_HASH_HEX];
	int				 have_prev;
	int64_t				 chain_start;	/* id of audit-chain */
	int				 crl_after_start;
	int64_t				 good_rows;	/* newest matching cp */
	int64_t				 good_id;
};

static void
report(struct verify *v, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct verify *v, int64_t id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->rep->problems++;
	if (v->problem != NULL)
		v->problem(id, msg, v->arg);
}

static void
cp_free(struct cp *p)
{
	free((char *)(uintptr_t)p->c.issuer_ski);
	free((char *)(uintptr_t)p->c.head_hash);
	free((unsigned char *)(uintptr_t)p->c.sig);
}

static int
cp_add(struct verify *v, const struct store_checkpoint *c, const char *where)
{
	struct cp *n, *p;
	unsigned char *sig;

	if ((n = reallocarray(v->cps, v->ncps + 1, sizeof(*n))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	v->cps = n;
	p = &v->cps[v->ncps];
	memset(p, 0, sizeof(*p));
	p->c = *c;
	p->c.issuer_ski = strdup(c->issuer_ski);
	p->c.head_hash = strdup(c->head_hash);
	if ((sig = malloc(c->siglen > 0 ? c->siglen : 1)) != NULL)
		memcpy(sig, c->sig, c->siglen);
	p->c.sig = sig;
	if (p->c.issuer_ski == NULL || p->c.head_hash == NULL || sig == NULL) {
		cp_free(p);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	snprintf(p->where, sizeof(p->where), "%s", where);
	v->ncps++;
	return 0;
}

static int
db_cp_cb(const struct store_checkpoint *c, void *arg)
{
	char where[96];

	snprintf(where, sizeof(where), "checkpoint %lld", (long long)c->id);
	return cp_add(arg, c, where);
}

/* The published checkpoint (or a copy of it): UC_E_NOTFOUND if absent. */
static int
file_cp(struct verify *v, const char *path, int required)
{
	struct store_checkpoint c;
	unsigned char *buf = NULL, *sig = NULL;
	json_t *o = NULL;
	json_error_t je;
	const char *fmt = NULL, *ski = NULL, *head = NULL, *sighex = NULL;
	json_int_t num = 0, at = 0, rows = 0, hid = 0;
	size_t len, slen;
	int rc;

	if (!required && !path_exists(path))
		return UC_OK;
	if ((rc = file_read(path, CP_MAX_FILE, &buf, &len)) != UC_OK)
		return rc;
	if ((o = json_loadb((const char *)buf, len, 0, &je)) == NULL ||
	    json_unpack(o, "{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}",
	    "format", &fmt, "issuer_ski", &ski, "crl_number", &num,
	    "at", &at, "rows", &rows, "head_id", &hid, "head_hash", &head,
	    "signature", &sighex) != 0 || strcmp(fmt, CP_FORMAT) != 0 ||
	    (sig = hex_decode(sighex, &slen)) == NULL) {
		/* A damaged anchor is a finding, not a reason to stop. */
		report(v, 0, "%s: not a userca audit checkpoint", path);
		rc = UC_OK;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.issuer_ski = ski;
	c.crl_number = num;
	c.at = at;
	c.rows = rows;
	c.head_id = hid;
	c.head_hash = head;
	c.sig = sig;
	c.siglen = slen;
	rc = cp_add(v, &c, path);
out:
	free(sig);
	free(buf);
	json_decref(o);
	return rc;
}

/* Check each checkpoint's signature with the certificate of its CA. */
static int
cp_check_sigs(struct verify *v)
{
	struct authority *a = v->a;
	struct cp *p;
	char msg[512], when[32];
	X509 *ca;
	size_t i;
	int n, rc;

	for (i = 0; i < v->ncps; i++) {
		p = &v->cps[i];
		uc_time_iso(p->c.at, when, sizeof(when));
		ca = NULL;
		if (a->issuing_ski != NULL &&
		    strcmp(p->c.issuer_ski, a->issuing_ski) == 0)
			ca = a->issuing;
		else if (a->root_ski != NULL &&
		    strcmp(p->c.issuer_ski, a->root_ski) == 0)
			ca = a->root;
		if (ca == NULL) {
			report(v, p->c.head_id, "%s (CRL %lld, %s): signed by "
			    "%s, not a CA of this home", p->where,
			    (long long)p->c.crl_number, when, p->c.issuer_ski);
			continue;
		}
		if ((n = cp_message(&p->c, msg, sizeof(msg))) < 0)
			return n;
		rc = pki_verify_data(ca, msg, (size_t)n, p->c.sig, p->c.siglen);
		if (rc == UC_E_SIGNATURE) {
			report(v, p->c.head_id, "%s (CRL %lld, %s): its "
			    "signature does not verify with the CA certificate "
			    "(the checkpoint was altered)", p->where,
			    (long long)p->c.crl_number, when);
			continue;
		}
		if (rc != UC_OK)
			return rc;
		p->good = 1;
		v->rep->checkpoints++;
	}
	return UC_OK;
}

/* The walk reached position v->pos at row r: the checkpoints that end here. */
static void
cp_at(struct verify *v, const struct store_audit_row *r)
{
	struct cp *p;
	char when[32];
	size_t i;

	for (i = 0; i < v->ncps; i++) {
		p = &v->cps[i];
		if (!p->good || p->c.rows != v->pos)
			continue;
		p->seen = 1;
		uc_time_iso(p->c.at, when, sizeof(when));
		if (r->hash != NULL && strcmp(r->hash, p->c.head_hash) == 0 &&
		    r->id == p->c.head_id) {
			if (p->c.rows > v->good_rows) {
				v->good_rows = p->c.rows;
				v->good_id = r->id;
			}
			continue;
		}
		if (v->good_rows > 0 && v->good_rows < p->c.rows)
			report(v, r->id, "%s (CRL %lld, %s) signed %lld rows "
			    "ending at row %lld with hash %.16s...; the log's "
			    "row %lld there has hash %.16s...: rows after row "
			    "%lld and up to row %lld were rewritten and the "
			    "chain recomputed", p->where,
			    (long long)p->c.crl_number, when,
			    (long long)p->c.rows, (long long)p->c.head_id,
			    p->c.head_hash, (long long)r->id,
			    r->hash != NULL ? r->hash : "(none)",
			    (long long)v->good_id, (long long)r->id);
		else
			report(v, r->id, "%s (CRL %lld, %s) signed %lld rows "
			    "ending at row %lld with hash %.16s...; the log's "
			    "row %lld there has hash %.16s...: rows up to row "
			    "%lld were rewritten and the chain recomputed",
			    p->where, (long long)p->c.crl_number, when,
			    (long long)p->c.rows, (long long)p->c.head_id,
			    p->c.head_hash, (long long)r->id,
			    r->hash != NULL ? r->hash : "(none)",
			    (long long)r->id);
	}
}

static const char *
nz(const char *s)
{
	return s != NULL ? s : "-";
}

static int
verify_cb(const struct store_audit_row *r, void *arg)
{
	struct verify *v = arg;
	char h[STORE_HASH_HEX];
	int rc;

	v->pos++;
	if ((rc = store_audit_hash(r->id, r->at, r->actor, r->action,
	    r->subject, r->detail, r->prev_hash, h)) != UC_OK)
		return rc;
	if (r->hash == NULL || strcmp(h, r->hash) != 0)
		report(v, r->id, "row %lld (%s %s %s): its contents do not "
		    "match its hash: the row was edited, or inserted",
		    (long long)r->id, nz(r->actor), nz(r->action),
		    nz(r->subject));
	if (v->have_prev && r->id == v->prev_id + 2)
		report(v, r->id, "row %lld: row %lld before it is missing: "
		    "deleted", (long long)r->id, (long long)(v->prev_id + 1));
	else if (v->have_prev && r->id > v->prev_id + 2)
		report(v, r->id, "row %lld: rows %lld to %lld before it are "
		    "missing: deleted", (long long)r->id,
		    (long long)(v->prev_id + 1), (long long)(r->id - 1));
	else if (v->have_prev && (r->prev_hash == NULL ||
	    strcmp(r->prev_hash, v->prev_hash) != 0))
		report(v, r->id, "row %lld: does not follow row %lld (its "
		    "previous-row hash differs): a row between them was "
		    "deleted or inserted", (long long)r->id,
		    (long long)v->prev_id);
	else if (!v->have_prev && r->prev_hash != NULL)
		report(v, r->id, "row %lld, the first row, follows a row the "
		    "log no longer has: the rows before it were deleted",
		    (long long)r->id);
	if (r->action != NULL && strcmp(r->action, "audit-chain") == 0) {
		/* Migration 0003 (again, on a home that was rolled back). */
		v->chain_start = r->id;
		v->crl_after_start = 0;
	} else if (r->action != NULL && strcmp(r->action, "crl") == 0 &&
	    v->chain_start != 0)
		v->crl_after_start = 1;
	cp_at(v, r);
	v->prev_id = r->id;
	if (r->hash != NULL && strlen(r->hash) == STORE_HASH_HEX - 1)
		memcpy(v->prev_hash, r->hash, STORE_HASH_HEX);
	else
		v->prev_hash[0] = '\0';
	v->have_prev = 1;
	return 0;
}

static int
verify_locked(struct verify *v, const char *cpfile)
{
	struct authority *a = v->a;
	struct cp *p;
	char *path = NULL, when[32];
	size_t i;
	int rc;

	if ((rc = store_checkpoint_list(a->st, 0, db_cp_cb, v)) != UC_OK)
		return rc;
	if (cpfile != NULL)
		rc = file_cp(v, cpfile, 1);
	else if ((path = home_path(a->home, CP_FILE)) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else
		rc = file_cp(v, path, 0);
	free(path);
	if (rc != UC_OK || (rc = cp_check_sigs(v)) != UC_OK ||
	    (rc = store_audit_list(a->st, NULL, verify_cb, v)) != UC_OK)
		return rc;
	v->rep->rows = v->pos;
	v->rep->anchored = v->good_rows;
	if (v->have_prev)
		memcpy(v->rep->head_hash, v->prev_hash, STORE_HASH_HEX);
	for (i = 0; i < v->ncps; i++) {
		p = &v->cps[i];
		if (!p->good || p->seen)
			continue;
		uc_time_iso(p->c.at, when, sizeof(when));
		report(v, p->c.head_id, "%s (CRL %lld, %s) signed %lld rows "
		    "ending at row %lld, but the log has %lld rows: rows after "
		    "row %lld were deleted (truncated)", p->where,
		    (long long)p->c.crl_number, when, (long long)p->c.rows,
		    (long long)p->c.head_id, (long long)v->pos,
		    (long long)(v->pos > 0 ? v->prev_id : 0));
	}
	if (v->ncps == 0 && v->crl_after_start)
		report(v, 0, "CRLs were signed since the chain began (row "
		    "%lld), but no signed checkpoint is left: checkpoints and "
		    "%s were deleted", (long long)v->chain_start, CP_FILE);
	return UC_OK;
}

int
authority_log_verify(struct authority *a, const char *checkpoint_file,
    void (*problem)(int64_t, const char *, void *), void *arg,
    struct authority_log_report *rep)
{
	struct verify v;
	size_t i;
	int rc;

	memset(rep, 0, sizeof(*rep));
	memset(&v, 0, sizeof(v));
	v.a = a;
	v.problem = problem;
	v.arg = arg;
	v.rep = rep;
	pthread_mutex_lock(&a->mu);
	rc = verify_locked(&v, checkpoint_file);
	pthread_mutex_unlock(&a->mu);
	for (i = 0; i < v.ncps; i++)
		cp_free(&v.cps[i]);
	free(v.cps);
	return rc;
}
