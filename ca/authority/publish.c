/*
 * publish.c: public/, what gateways fetch: ca-bundle.pem, ca.crt,
 * crl.der, crl.pem, root.crl, ca.json and audit-checkpoint.json, each
 * replaced atomically; then the gateway kit (gateway.c).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "authority_int.h"
#include "ucbuf.h"

static json_t *
cert_json(X509 *x, const char *url)
{
	char *subj = NULL, *sha1 = NULL, *sha256 = NULL, *spki = NULL;
	char when[32];
	int64_t na;
	json_t *o = NULL;

	if (uc_asn1_time(X509_get0_notAfter(x), &na) != UC_OK)
		return NULL;
	uc_time_iso(na, when, sizeof(when));
	if ((subj = cert_subject(x)) != NULL &&
	    (sha1 = cert_fingerprint(x, EVP_sha1())) != NULL &&
	    (sha256 = cert_fingerprint(x, EVP_sha256())) != NULL &&
	    (spki = cert_spki_sha256(x)) != NULL)
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s*}", "subject",
		    subj, "sha1", sha1, "sha256", sha256, "spki_sha256", spki,
		    "not_after", when, "url", url);
	free(spki);
	free(subj);
	free(sha1);
	free(sha256);
	return o;
}

static json_t *
crl_json(struct authority *a, const char *ski, const char *url)
{
	unsigned char *der = NULL;
	size_t len;
	int64_t number, next;
	char when[32];
	json_t *o;

	if (ski == NULL ||
	    store_crl_current(a->st, ski, uc_now(), &der, &len, &number,
	    &next) != UC_OK)
		return json_null();
	free(der);
	uc_time_iso(next, when, sizeof(when));
	o = json_pack("{s:I, s:s, s:s}", "number", (json_int_t)number,
	    "next_update", when, "url", url);
	return o != NULL ? o : json_null();
}

/*
 * The newest recorded CRL of ski: written as DER to der_name and as PEM
 * to pem_name (either may be NULL), its PEM appended to b and b2 (either
 * may be NULL).
 */
static int
publish_crl(struct authority *a, const char *ski, const char *der_name,
    const char *pem_name, struct ucbuf *b, struct ucbuf *b2)
{
	X509_CRL *crl = NULL;
	unsigned char *der = NULL, *pem = NULL;
	size_t len, pemlen;
	int rc;

	if ((rc = store_crl_current(a->st, ski, uc_now(), &der, &len, NULL,
	    NULL)) != UC_OK)
		return rc;
	if (der_name != NULL && (rc = home_write(a->home, der_name, der, len,
	    0644, 0)) != UC_OK)
		goto out;
	if (pem_name != NULL || b != NULL) {
		if ((rc = crl_parse(der, len, &crl)) != UC_OK ||
		    (rc = crl_to_pem(crl, &pem, &pemlen)) != UC_OK ||
		    (pem_name != NULL && (rc = home_write(a->home, pem_name,
		    pem, pemlen, 0644, 0)) != UC_OK) ||
		    (b != NULL && (rc = ucbuf_add(b, pem, pemlen)) != UC_OK) ||
		    (b2 != NULL && (rc = ucbuf_add(b2, pem, pemlen)) != UC_OK))
			goto out;
	}
out:
	free(der);
	free(pem);
	X509_CRL_free(crl);
	return rc;
}

/* Append x as PEM to b. */
static int
add_cert_pem(struct ucbuf *b, X509 *x)
{
	unsigned char *pem = NULL;
	size_t len;
	int rc;

	if ((rc = cert_to_pem(x, &pem, &len)) == UC_OK)
		rc = ucbuf_add(b, pem, len);
	free(pem);
	return rc;
}

/*
 * After a rollover: the previous issuing CAs in service go into the
 * bundle (after the current one, before the root) and their CRLs into
 * crl.pem and crls.pem (but first_ski's, which the caller put first);
 * each also under its own name: issuing-<gen>.crt, crl-<gen>.der,
 * crl-<gen>.pem (the current CA too, once there is a previous one, so
 * each name always means one CA).
 */
static int
publish_previous(struct authority *a, const char *first_ski,
    struct ucbuf *bundle, struct ucbuf *crlpem, struct ucbuf *all)
{
	unsigned char *der = NULL;
	size_t len;
	char name[64], pname[64];
	int64_t now = uc_now();
	size_t i;
	int rc = UC_OK, gen = rollover_current_gen(a), first;

	if (a->nprev == 0)
		return UC_OK;
	snprintf(name, sizeof(name), "public/issuing-%d.crt", gen);
	if ((rc = cert_der(a->issuing, &der, &len)) != UC_OK ||
	    (rc = home_write(a->home, name, der, len, 0644, 0)) != UC_OK)
		goto out;
	snprintf(name, sizeof(name), "public/crl-%d.der", gen);
	snprintf(pname, sizeof(pname), "public/crl-%d.pem", gen);
	if ((rc = publish_crl(a, a->issuing_ski, name, pname, NULL, NULL)) !=
	    UC_OK)
		goto out;
	for (i = 0; i < a->nprev; i++) {
		const struct prev_ca *p = &a->prev[i];

		if (!rollover_in_service(p, now))
			continue;
		first = strcmp(p->ski, first_ski) == 0;
		free(der);
		der = NULL;
		snprintf(name, sizeof(name), "public/issuing-%d.crt", p->gen);
		if ((rc = add_cert_pem(bundle, p->cert)) != UC_OK ||
		    (rc = cert_der(p->cert, &der, &len)) != UC_OK ||
		    (rc = home_write(a->home, name, der, len, 0644, 0)) !=
		    UC_OK)
			goto out;
		snprintf(name, sizeof(name), "public/crl-%d.der", p->gen);
		snprintf(pname, sizeof(pname), "public/crl-%d.pem", p->gen);
		if ((rc = publish_crl(a, p->ski, name, pname,
		    first ? NULL : crlpem, first ? NULL : all)) != UC_OK)
			goto out;
	}
out:
	free(der);
	return rc;
}

/* ca.json's "previous": each previous issuing CA in service, its CRL. */
static json_t *
previous_json(struct authority *a)
{
	json_t *arr, *o;
	char url[1200], crl[32], crt[32];
	int64_t now = uc_now();
	size_t i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < a->nprev; i++) {
		if (!rollover_in_service(&a->prev[i], now))
			continue;
		rollover_names(a->prev[i].gen, crl, sizeof(crl), crt,
		    sizeof(crt));
		snprintf(url, sizeof(url), "%s/%s", a->conf.base_url, crt);
		if ((o = cert_json(a->prev[i].cert, url)) == NULL)
			continue;
		json_object_set_new(o, "generation",
		    json_integer(a->prev[i].gen));
		snprintf(url, sizeof(url), "%s/%s", a->conf.base_url, crl);
		json_object_set_new(o, "crl", crl_json(a, a->prev[i].ski, url));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* root.crl (public/ and root/) and public/crls.pem: all (the issuing
 * CRLs so far) and the root CRL after them. */
static int
publish_root_crl(struct authority *a, struct ucbuf *all)
{
	unsigned char *der = NULL, *buf = NULL;
	size_t len;
	int rc = UC_OK;

	if (a->root_ski != NULL &&
	    (rc = store_crl_current(a->st, a->root_ski, uc_now(), &der, &len,
	    NULL, NULL)) != UC_OK && rc != UC_E_NOTFOUND)
		return rc;
	free(der);
	if (a->root_ski != NULL && rc == UC_OK &&
	    ((rc = publish_crl(a, a->root_ski, "public/root.crl", NULL, NULL,
	    NULL)) != UC_OK ||
	    (rc = publish_crl(a, a->root_ski, P_ROOT_CRL, NULL,
	    a->root_distinct ? all : NULL, NULL)) != UC_OK))
		return rc;
	if ((rc = ucbuf_take(all, &buf, &len)) != UC_OK)
		return rc;
	rc = home_write(a->home, "public/crls.pem", buf, len, 0644, 0);
	free(buf);
	return rc;
}

/* public/ca.json: what a gateway admin pins and where to fetch it. */
static int
publish_json(struct authority *a)
{
	char url[1200], crl[32], crt[32], *js = NULL;
	json_t *root, *o;
	int rc, gen = rollover_current_gen(a);

	if ((root = json_object()) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	json_object_set_new(root, "org", json_string(a->conf.org));
	json_object_set_new(root, "base_url", json_string(a->conf.base_url));
	json_object_set_new(root, "enroll_url", json_string(
	    a->conf.enroll_url != NULL ? a->conf.enroll_url :
	    a->conf.base_url));
	/* The current issuing CA under the names its certificates carry. */
	rollover_names(gen, crl, sizeof(crl), crt, sizeof(crt));
	snprintf(url, sizeof(url), "%s/%s", a->conf.base_url, crt);
	if ((o = cert_json(a->issuing, url)) != NULL) {
		json_object_set_new(o, "generation", json_integer(gen));
		json_object_set_new(root, "issuing", o);
	}
	if (a->root != NULL) {
		snprintf(url, sizeof(url), "%s/ca.pem", a->conf.base_url);
		if ((o = cert_json(a->root, url)) != NULL)
			json_object_set_new(root, "root", o);
	}
	snprintf(url, sizeof(url), "%s/%s", a->conf.base_url, crl);
	json_object_set_new(root, "crl", crl_json(a, a->issuing_ski, url));
	snprintf(url, sizeof(url), "%s/root.crl", a->conf.base_url);
	json_object_set_new(root, "root_crl", crl_json(a, a->root_ski, url));
	if (a->nprev > 0 && (o = previous_json(a)) != NULL)
		json_object_set_new(root, "previous", o);
	if ((js = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else
		rc = home_write(a->home, "public/ca.json", js, strlen(js), 0644,
		    0);
	free(js);
	json_decref(root);
	return rc;
}

/*
 * public/: the bundle (current issuing CA, previous ones in service,
 * root); ca.crt and crl.der: the first issuing CA's certificate and CRL
 * while it is in service (its certificates name them as caIssuers and
 * CRL distribution point), the current CA's otherwise; crl.pem (crl.der's
 * CRL first, then the other issuing CAs'), crls.pem (every CRL, the
 * root's last: nginx ssl_crl), root.crl, the per-generation names (which
 * the later CAs' certificates name), ca.json, the kit.
 */
static int
publish_files(struct authority *a)
{
	struct ucbuf bb = UCBUF_INIT(0, 0), cb = UCBUF_INIT(0, 0),
	    ab = UCBUF_INIT(0, 0);
	unsigned char *cbuf = NULL, *der = NULL, *bundle = NULL;
	size_t cblen, derlen, blen;
	const char *first_ski;
	X509 *first;
	int rc;

	/*
	 * A process that opened the home before a rollover must not put the
	 * old issuing CA back in public/ (the daemon follows the rollover).
	 */
	if (authority_issuing_changed(a)) {
		rc = uc_seterr(UC_E_STATE, "%s/%s is not the issuing CA this "
		    "process opened (a rollover happened since): restart it",
		    a->home, P_ISS_CRT);
		goto out;
	}
	first = rollover_first(a, &first_ski);
	/* CA bundle: the issuing CA(s), then the root. */
	if ((rc = add_cert_pem(&bb, a->issuing)) != UC_OK ||
	    (rc = publish_crl(a, first_ski, NULL, NULL, &cb, &ab)) != UC_OK ||
	    (first != a->issuing && (rc = publish_crl(a, a->issuing_ski, NULL,
	    NULL, &cb, &ab)) != UC_OK) ||
	    (rc = publish_previous(a, first_ski, &bb, &cb, &ab)) != UC_OK ||
	    (a->root_distinct && (rc = add_cert_pem(&bb, a->root)) != UC_OK) ||
	    (rc = ucbuf_take(&bb, &bundle, &blen)) != UC_OK ||
	    (rc = ucbuf_take(&cb, &cbuf, &cblen)) != UC_OK)
		goto out;
	if ((rc = home_write(a->home, "public/ca-bundle.pem", bundle, blen,
	    0644, 0)) != UC_OK ||
	    (rc = cert_der(first, &der, &derlen)) != UC_OK ||
	    (rc = home_write(a->home, "public/ca.crt", der, derlen, 0644, 0)) !=
	    UC_OK)
		goto out;
	/*
	 * CRLs: the newest recorded ones; crl.pem before crl.der, so that a
	 * daemon that reads both between the two writes sees a PEM no older
	 * than the DER (it serves crl.pem only when its first CRL is crl.der).
	 */
	if ((rc = home_write(a->home, "public/crl.pem", cbuf, cblen, 0644,
	    0)) != UC_OK ||
	    (rc = publish_crl(a, first_ski, "public/crl.der", NULL, NULL,
	    NULL)) != UC_OK ||
	    (rc = publish_root_crl(a, &ab)) != UC_OK ||
	    (rc = publish_json(a)) != UC_OK ||
	    (rc = auditlog_publish(a)) != UC_OK)
		goto out;
	rc = gateway_write(a);
out:
	free(bundle);
	free(cbuf);
	ucbuf_free(&bb);
	ucbuf_free(&cb);
	ucbuf_free(&ab);
	free(der);
	return rc;
}

/*
 * Two processes publishing at once (a CLI revoke beside the daemon's CRL
 * refresh) would each write what the database held when they read it; the
 * slower one could put an older CRL back.  The home's publish lock orders
 * them, and each writes what is current once it holds the lock.
 */
int
publish_locked(struct authority *a)
{
	struct uc_lock *l = NULL;
	int rc;

	if ((rc = uc_lock_take(a->home, ".publish.lock", "userca publish", 1,
	    &l)) != UC_OK)
		return rc;
	rc = publish_files(a);
	uc_lock_release(l);
	return rc;
}

int
authority_publish(struct authority *a)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = publish_locked(a);
	pthread_mutex_unlock(&a->mu);
	return rc;
}
