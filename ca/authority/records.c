/*
 * records.c: the records as the front doors see them, and the one
 * certificate INSERT.  The store's rows become the authority's own value
 * types (authority.h) by moving their pointers, never by copying the
 * bytes; every read holds the authority's lock like every other database
 * step.  records_cert_insert() turns a signed certificate into its row.
 */
#include <stdlib.h>
#include <string.h>

#include "authority_int.h"

void
authority_user_clear(struct authority_user *u)
{
	if (u == NULL)
		return;
	free(u->username);
	free(u->email);
	free(u->name);
	free(u->upn);
	free(u->ou);
	free(u->sid);
	memset(u, 0, sizeof(*u));
}

void
authority_cert_clear(struct authority_cert *c)
{
	if (c == NULL)
		return;
	free(c->serial);
	free(c->username);
	free(c->kind);
	free(c->issuer_ski);
	free(c->subject);
	free(c->sha256);
	free(c->der);
	free(c->status);
	free(c->method);
	memset(c, 0, sizeof(*c));
}

/* The fields of a store row, shared (borrowed by view, moved by take). */
static void
cert_view(const struct store_cert *sc, struct authority_cert *c)
{
	c->id = sc->id;
	c->serial = sc->serial;
	c->user_id = sc->user_id;
	c->username = sc->username;
	c->kind = sc->kind;
	c->issuer_ski = sc->issuer_ski;
	c->subject = sc->subject;
	c->not_before = sc->not_before;
	c->not_after = sc->not_after;
	c->sha256 = sc->sha256;
	c->der = sc->der;
	c->derlen = sc->derlen;
	c->status = sc->status;
	c->revoked_at = sc->revoked_at;
	c->reason = sc->reason;
	c->method = sc->method;
	c->created_at = sc->created_at;
}

void
records_user_take(struct store_user *su, struct authority_user *u)
{
	u->id = su->id;
	u->username = su->username;
	u->email = su->email;
	u->name = su->name;
	u->upn = su->upn;
	u->ou = su->ou;
	u->sid = su->sid;
	memset(su, 0, sizeof(*su));	/* now owned by u */
}

int
authority_user_get(struct authority *a, const char *username,
    struct authority_user *u)
{
	struct store_user su;
	int rc;

	memset(u, 0, sizeof(*u));
	pthread_mutex_lock(&a->mu);
	rc = store_user_get(a->st, username, &su);
	pthread_mutex_unlock(&a->mu);
	if (rc == UC_OK)
		records_user_take(&su, u);
	return rc;
}

int
authority_cert_get(struct authority *a, const char *serial,
    struct authority_cert *c)
{
	struct store_cert sc;
	int rc;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&a->mu);
	rc = store_cert_get(a->st, serial, &sc);
	pthread_mutex_unlock(&a->mu);
	if (rc == UC_OK) {
		cert_view(&sc, c);
		memset(&sc, 0, sizeof(sc));	/* now owned by c */
	}
	return rc;
}

struct list_ctx {
	int	(*cb)(const struct authority_cert *, void *);
	void	*arg;
};

static int
list_cb(const struct store_cert *sc, void *arg)
{
	struct list_ctx *ctx = arg;
	struct authority_cert c;

	cert_view(sc, &c);
	return ctx->cb(&c, ctx->arg);
}

int
authority_cert_list(struct authority *a,
    const struct authority_cert_filter *af,
    int (*cb)(const struct authority_cert *, void *), void *arg)
{
	struct store_cert_filter f;
	struct list_ctx ctx = { cb, arg };
	int rc;

	memset(&f, 0, sizeof(f));
	f.username = af->username;
	f.issuer_ski = af->issuer_ski;
	f.kind = af->kind;
	f.status = af->status;
	f.now = af->now;
	f.expiring_before = af->expiring_before;
	f.with_der = af->with_der;
	pthread_mutex_lock(&a->mu);
	rc = store_cert_list(a->st, &f, list_cb, &ctx);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* The fields of a certificate row that come from the certificate. */
static int
cert_row(X509 *x, X509 *issuer, struct store_cert *c)
{
	memset(c, 0, sizeof(*c));
	c->serial = serial_hex(X509_get0_serialNumber(x));
	c->issuer_ski = cert_ski_hex(issuer);
	c->subject = cert_subject(x);
	c->sha256 = cert_fingerprint(x, EVP_sha256());
	if (c->serial == NULL || c->issuer_ski == NULL || c->subject == NULL ||
	    c->sha256 == NULL) {
		store_cert_clear(c);
		return uc_seterr(UC_E_INTERNAL, "certificate fields");
	}
	if (uc_asn1_time(X509_get0_notBefore(x), &c->not_before) != UC_OK ||
	    uc_asn1_time(X509_get0_notAfter(x), &c->not_after) != UC_OK ||
	    cert_der(x, &c->der, &c->derlen) != UC_OK) {
		store_cert_clear(c);
		return UC_E_CRYPTO;
	}
	return UC_OK;
}

int
records_cert_insert(struct store *st, X509 *x, X509 *issuer, int64_t user_id,
    const char *kind, const char *method, int64_t *id)
{
	struct store_cert c;
	int rc;

	if ((rc = cert_row(x, issuer, &c)) != UC_OK)
		return rc;
	c.user_id = user_id;
	c.kind = (char *)(uintptr_t)kind;
	c.method = (char *)(uintptr_t)method;
	c.created_at = uc_now();
	rc = store_cert_insert(st, &c, id);
	c.kind = NULL;
	c.method = NULL;
	store_cert_clear(&c);
	return rc;
}
