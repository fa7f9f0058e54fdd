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

static json_t *
cert_json(X509 *x, const char *url)
{
	char *subj = NULL, *sha1 = NULL, *sha256 = NULL;
	char when[32];
	int64_t na;
	json_t *o = NULL;

	if (uc_asn1_time(X509_get0_notAfter(x), &na) != UC_OK)
		return NULL;
	uc_time_iso(na, when, sizeof(when));
	if ((subj = cert_subject(x)) != NULL &&
	    (sha1 = cert_fingerprint(x, EVP_sha1())) != NULL &&
	    (sha256 = cert_fingerprint(x, EVP_sha256())) != NULL)
		o = json_pack("{s:s, s:s, s:s, s:s, s:s*}", "subject", subj,
		    "sha1", sha1, "sha256", sha256, "not_after", when,
		    "url", url);
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

static int
publish_crl(struct authority *a, const char *ski, const char *der_name,
    const char *pem_name)
{
	X509_CRL *crl = NULL;
	unsigned char *der = NULL, *pem = NULL;
	size_t len, pemlen;
	int rc;

	if ((rc = store_crl_current(a->st, ski, uc_now(), &der, &len, NULL,
	    NULL)) != UC_OK)
		return rc;
	if ((rc = home_write(a->home, der_name, der, len, 0644, 0)) != UC_OK)
		goto out;
	if (pem_name != NULL) {
		if ((rc = crl_parse(der, len, &crl)) != UC_OK ||
		    (rc = crl_to_pem(crl, &pem, &pemlen)) != UC_OK ||
		    (rc = home_write(a->home, pem_name, pem, pemlen, 0644, 0)) !=
		    UC_OK)
			goto out;
	}
out:
	free(der);
	free(pem);
	X509_CRL_free(crl);
	return rc;
}

static int
publish_files(struct authority *a)
{
	unsigned char *pem = NULL, *der = NULL, *rpem = NULL;
	size_t pemlen, derlen, rpemlen, blen;
	unsigned char *bundle = NULL, *der2 = NULL;
	size_t der2len;
	char url[1200], *js = NULL;
	json_t *root = NULL, *o;
	int rc, same = !a->root_distinct;

	/* CA bundle: the issuing CA, then the root. */
	if ((rc = cert_to_pem(a->issuing, &pem, &pemlen)) != UC_OK)
		goto out;
	if (!same && (rc = cert_to_pem(a->root, &rpem, &rpemlen)) != UC_OK)
		goto out;
	blen = pemlen + (same ? 0 : rpemlen);
	if ((bundle = malloc(blen)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(bundle, pem, pemlen);
	if (!same)
		memcpy(bundle + pemlen, rpem, rpemlen);
	if ((rc = home_write(a->home, "public/ca-bundle.pem", bundle, blen,
	    0644, 0)) != UC_OK ||
	    (rc = cert_der(a->issuing, &der, &derlen)) != UC_OK ||
	    (rc = home_write(a->home, "public/ca.crt", der, derlen, 0644, 0)) !=
	    UC_OK)
		goto out;

	/* CRLs: the newest recorded ones. */
	if ((rc = publish_crl(a, a->issuing_ski, "public/crl.der",
	    "public/crl.pem")) != UC_OK)
		goto out;
	if (a->root_ski != NULL &&
	    (rc = store_crl_current(a->st, a->root_ski, uc_now(), &der2,
	    &der2len, NULL, NULL)) != UC_OK && rc != UC_E_NOTFOUND)
		goto out;
	if (a->root_ski != NULL && rc == UC_OK) {
		free(der2);
		der2 = NULL;
		if ((rc = publish_crl(a, a->root_ski, "public/root.crl",
		    NULL)) != UC_OK ||
		    (rc = publish_crl(a, a->root_ski, P_ROOT_CRL, NULL)) !=
		    UC_OK)
			goto out;
	}

	/* ca.json: what a gateway admin pins and where to fetch it. */
	if ((root = json_object()) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	json_object_set_new(root, "org", json_string(a->conf.org));
	json_object_set_new(root, "base_url", json_string(a->conf.base_url));
	json_object_set_new(root, "enroll_url", json_string(
	    a->conf.enroll_url != NULL ? a->conf.enroll_url :
	    a->conf.base_url));
	snprintf(url, sizeof(url), "%s/ca.crt", a->conf.base_url);
	if ((o = cert_json(a->issuing, url)) != NULL)
		json_object_set_new(root, "issuing", o);
	if (a->root != NULL) {
		snprintf(url, sizeof(url), "%s/ca.pem", a->conf.base_url);
		if ((o = cert_json(a->root, url)) != NULL)
			json_object_set_new(root, "root", o);
	}
	snprintf(url, sizeof(url), "%s/crl.der", a->conf.base_url);
	json_object_set_new(root, "crl", crl_json(a, a->issuing_ski, url));
	snprintf(url, sizeof(url), "%s/root.crl", a->conf.base_url);
	json_object_set_new(root, "root_crl", crl_json(a, a->root_ski, url));
	if ((js = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = home_write(a->home, "public/ca.json", js, strlen(js), 0644,
	    0)) != UC_OK || (rc = auditlog_publish(a)) != UC_OK)
		goto out;
	rc = gateway_write(a);
out:
	/* the json and buffers below are freed on every path */
	free(js);
	json_decref(root);
	free(bundle);
	free(pem);
	free(rpem);
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
