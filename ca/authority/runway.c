/*
 * runway.c: the root CRL runway: CRLs pre-signed by a root whose key stays
 * offline, carried to the online home and imported there.
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

int
authority_crl_runway(struct authority *a, int n, int days, unsigned char **pem,
    size_t *pemlen)
{
	struct signer *sig;
	struct ucbuf all = UCBUF_INIT(0, 0);
	unsigned char *one;
	size_t olen;
	int64_t now = uc_now(), period, overlap;
	int k, rc;

	*pem = NULL;
	*pemlen = 0;
	if (n < 1 || n > 100)
		return uc_seterr(UC_E_INVALID, "--runway takes 1 to 100 periods");
	period = (int64_t)(days > 0 ? days : a->conf.root_crl_days) * 86400;
	/* Consecutive CRLs overlap so a gateway that syncs late still has a
	 * valid one. */
	overlap = period / 2 < 14 * 86400 ? period / 2 : 14 * 86400;
	pthread_mutex_lock(&a->mu);
	if ((rc = auth_root_signer(a, &sig)) != UC_OK)
		goto out;
	/* All N or none. */
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	for (k = 0; k < n; k++) {
		if ((rc = crls_sign_at(a, sig, now + k * period - 300,
		    now + (k + 1) * period + overlap, &one, &olen)) != UC_OK) {
			store_rollback(a->st);
			goto out;
		}
		rc = ucbuf_add(&all, one, olen);
		free(one);
		if (rc != UC_OK) {
			store_rollback(a->st);
			goto out;
		}
	}
	if ((rc = store_commit(a->st)) != UC_OK ||
	    (rc = publish_locked(a)) != UC_OK)
		goto out;
	rc = ucbuf_take(&all, pem, pemlen);	/* now owned by the caller */
out:
	pthread_mutex_unlock(&a->mu);
	ucbuf_free(&all);
	return rc;
}

/* Check and record one root CRL (not yet published). */
static int
import_one(struct authority *a, X509_CRL *crl)
{
	unsigned char *der = NULL;
	size_t derlen;
	const ASN1_TIME *nu;
	ASN1_INTEGER *num = NULL;
	int64_t number, this_update, next_update, latest = 0, ln;
	unsigned char *old = NULL;
	size_t oldlen;
	int rc, crit;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(a->root)) != 0 ||
	    X509_CRL_verify(crl, X509_get0_pubkey(a->root)) != 1) {
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the CRL is not signed by "
		    "this home's root");
		goto out;
	}
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL)) ==
	    NULL || !ASN1_INTEGER_get_int64(&number, num)) {
		rc = uc_seterr(UC_E_INVALID, "the CRL has no CRL number");
		goto out;
	}
	if ((nu = X509_CRL_get0_nextUpdate(crl)) == NULL ||
	    (rc = uc_asn1_time(nu, &next_update)) != UC_OK ||
	    (rc = uc_asn1_time(X509_CRL_get0_lastUpdate(crl), &this_update)) !=
	    UC_OK) {
		rc = uc_seterr(UC_E_INVALID, "the CRL has no valid "
		    "thisUpdate/nextUpdate");
		goto out;
	}
	if (next_update <= uc_now()) {
		rc = uc_seterr(UC_E_STATE, "the CRL expired (nextUpdate is in "
		    "the past)");
		goto out;
	}
	if ((rc = store_crl_latest(a->st, a->root_ski, &old, &oldlen, &ln,
	    NULL)) == UC_OK)
		latest = ln;
	else if (rc != UC_E_NOTFOUND)
		goto out;
	free(old);
	if (number <= latest) {
		rc = uc_seterr(UC_E_STATE, "CRL number %lld is not newer than "
		    "the installed %lld", (long long)number, (long long)latest);
		goto out;
	}
	if ((rc = crl_der(crl, &der, &derlen)) != UC_OK ||
	    (rc = store_crl_insert(a->st, a->root_ski, number, this_update,
	    next_update, der, derlen)) != UC_OK)
		goto out;
out:
	ASN1_INTEGER_free(num);
	free(der);
	return rc;
}

static int
crl_number_cmp(const X509_CRL *const *x, const X509_CRL *const *y)
{
	ASN1_INTEGER *a, *b;
	int64_t na = 0, nb = 0;

	a = X509_CRL_get_ext_d2i(*x, NID_crl_number, NULL, NULL);
	b = X509_CRL_get_ext_d2i(*y, NID_crl_number, NULL, NULL);
	if (a != NULL)
		(void)ASN1_INTEGER_get_int64(&na, a);
	if (b != NULL)
		(void)ASN1_INTEGER_get_int64(&nb, b);
	ASN1_INTEGER_free(a);
	ASN1_INTEGER_free(b);
	return na < nb ? -1 : na > nb;
}

/*
 * One CRL (PEM or DER) or several PEM CRLs (a runway): each checked
 * against the root, recorded in order of number, then published.
 */
int
authority_import_root_crl(struct authority *a, const unsigned char *buf,
    size_t len)
{
	STACK_OF(X509_CRL) *sk = NULL;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	int i, rc;

	if (a->root == NULL)
		return uc_seterr(UC_E_STATE, "this home has no root "
		    "certificate");
	if ((sk = sk_X509_CRL_new(crl_number_cmp)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (len > 0 && buf[0] == 0x30) {
		if ((rc = crl_parse(buf, len, &crl)) != UC_OK)
			goto out;
		if (!sk_X509_CRL_push(sk, crl)) {
			X509_CRL_free(crl);
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
	} else {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) !=
		    NULL) {
			if (!sk_X509_CRL_push(sk, crl)) {
				X509_CRL_free(crl);
				rc = uc_seterr(UC_E_INTERNAL, "out of memory");
				goto out;
			}
		}
		/* The loop ends at the end of input, or at a damaged block. */
		if (ERR_GET_REASON(ERR_peek_last_error()) !=
		    PEM_R_NO_START_LINE) {
			rc = uc_seterr_ssl(UC_E_INVALID, "CRL %d in the file is "
			    "damaged; nothing imported",
			    sk_X509_CRL_num(sk) + 1);
			goto out;
		}
		ERR_clear_error();
		if (sk_X509_CRL_num(sk) == 0) {
			rc = uc_seterr(UC_E_INVALID, "not a PEM or DER CRL");
			goto out;
		}
	}
	sk_X509_CRL_sort(sk);
	/* All or nothing: one transaction for the whole runway. */
	pthread_mutex_lock(&a->mu);
	if ((rc = store_begin(a->st)) != UC_OK) {
		pthread_mutex_unlock(&a->mu);
		goto out;
	}
	for (i = 0; i < sk_X509_CRL_num(sk) && rc == UC_OK; i++)
		if ((rc = import_one(a, sk_X509_CRL_value(sk, i))) != UC_OK &&
		    sk_X509_CRL_num(sk) > 1) {
			char what[48];

			snprintf(what, sizeof(what), "CRL %d of %d", i + 1,
			    sk_X509_CRL_num(sk));
			rc = uc_errprefix(rc, what);
		}
	if (rc == UC_OK)
		rc = store_commit(a->st);
	else
		store_rollback(a->st);
	if (rc == UC_OK)
		rc = publish_locked(a);
	pthread_mutex_unlock(&a->mu);
out:
	BIO_free(bio);
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	return rc;
}
