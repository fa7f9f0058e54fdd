/*
 * scep.c: the SCEP RA certificate (issuing/scep-ra.crt) and its RSA key
 * (issuing/scep-ra.key, 0600).  SCEP clients encrypt their request to it
 * and check our CertRep's signature with it; it is a transport key like
 * the TLS key (the CA may be EC: SCEP envelopes need RSA).  Made or
 * renewed at half its life, under a lock file, as the OCSP responder is.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "authority_int.h"
#include "pki_scep.h"

#define P_RA_CRT	"issuing/scep-ra.crt"
#define P_RA_KEY	"issuing/scep-ra.key"
#define P_RA_TMP	"issuing/scep-ra.key.new"
#define RA_LOCK		".scep.lock"

struct ascep {
	pthread_rwlock_t	 rw;
	X509			*cert;
	EVP_PKEY		*key;
	int64_t			 not_before, not_after;
};

void
ascep_free(struct ascep *s)
{
	if (s == NULL)
		return;
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	pthread_rwlock_destroy(&s->rw);
	free(s);
}

/* Due when less than half of its validity is left (or it is odd). */
static int
ra_due(int64_t nb, int64_t na, int64_t now)
{
	return na <= nb || now >= nb + (na - nb) / 2;
}

/* The RA on disk when whole, ours, its key's, and not due. */
static int
ra_load(struct authority *a, X509 **cert, EVP_PKEY **key, int64_t *nb,
    int64_t *na)
{
	char *cp = NULL, *kp = NULL;
	int ok = 0;

	*cert = NULL;
	*key = NULL;
	if (!home_has(a->home, P_RA_CRT) || !home_has(a->home, P_RA_KEY))
		return 0;
	if ((cp = home_path(a->home, P_RA_CRT)) == NULL ||
	    (kp = home_path(a->home, P_RA_KEY)) == NULL ||
	    cert_load(cp, cert) != UC_OK || key_read(kp, NULL, key) != UC_OK)
		goto out;
	ok = X509_check_issued(a->issuing, *cert) == X509_V_OK &&
	    X509_check_private_key(*cert, *key) == 1 &&
	    EVP_PKEY_is_a(*key, "RSA") &&
	    uc_asn1_time(X509_get0_notBefore(*cert), nb) == UC_OK &&
	    uc_asn1_time(X509_get0_notAfter(*cert), na) == UC_OK &&
	    !ra_due(*nb, *na, uc_now());
out:
	uc_clearerr();
	ERR_clear_error();
	if (!ok) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
	}
	free(cp);
	free(kp);
	return ok;
}

/* A new RSA-2048 key and RA certificate, written to the CA home. */
/* home_put_delegated()'s key writer: k, unencrypted, 0600. */
static int
ra_save_key(void *k, const char *path)
{
	return key_write(path, k, NULL);
}

static int
ra_make(struct authority *a, X509 **cert, EVP_PKEY **key, int64_t *nb,
    int64_t *na)
{
	struct signer *isig;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	char cn[128];
	int64_t now = uc_now();
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = auth_issuing_signer(a, &isig);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		return rc;
	if ((rc = key_generate(KT_RSA2048, &k)) != UC_OK)
		return rc;
	*nb = now - 300;
	*na = now + (int64_t)a->conf.server_days * 86400;
	snprintf(cn, sizeof(cn), "%.100s SCEP RA", a->conf.issuing_cn !=
	    NULL ? a->conf.issuing_cn : "userca");
	if ((rc = scep_ra_build(a->issuing, k, a->conf.org, cn, *nb, *na,
	    &x)) != UC_OK || (rc = signer_sign_cert(isig, x)) != UC_OK ||
	    (rc = uc_asn1_time(X509_get0_notAfter(x), na)) != UC_OK ||
	    (rc = home_put_delegated(a, ra_save_key, k, P_RA_TMP, P_RA_KEY,
	    P_RA_CRT, x, "scep-ra", now)) != UC_OK)
		goto out;
	*cert = x;
	*key = k;
	x = NULL;	/* now owned by the caller */
	k = NULL;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

int
authority_scep_refresh(struct authority *a)
{
	struct ascep *s = a->scep;
	struct uc_lock *l = NULL;
	X509 *cert = NULL, *oc;
	EVP_PKEY *key = NULL, *ok;
	char *dir = NULL;
	int64_t nb = 0, na = 0;
	int rc;

	/* The first caller is single-threaded (daemon start). */
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		pthread_rwlock_init(&s->rw, NULL);
		a->scep = s;
	}
	pthread_rwlock_rdlock(&s->rw);
	rc = s->cert != NULL && !ra_due(s->not_before, s->not_after,
	    uc_now());
	pthread_rwlock_unlock(&s->rw);
	if (rc)
		return UC_OK;
	if ((dir = home_path(a->home, "issuing")) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = uc_lock_take(dir, RA_LOCK, "userca SCEP RA renewal", 1, &l);
	free(dir);
	if (rc != UC_OK)
		return rc;
	if (!ra_load(a, &cert, &key, &nb, &na) &&
	    (rc = ra_make(a, &cert, &key, &nb, &na)) != UC_OK)
		goto out;
	pthread_rwlock_wrlock(&s->rw);
	oc = s->cert;
	ok = s->key;
	s->cert = cert;
	s->key = key;
	s->not_before = nb;
	s->not_after = na;
	pthread_rwlock_unlock(&s->rw);
	cert = oc;	/* the old ones: callers hold their own references */
	key = ok;
	rc = UC_OK;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	uc_lock_release(l);
	return rc;
}

int
authority_scep_ra(struct authority *a, X509 **cert, EVP_PKEY **key)
{
	struct ascep *s = a->scep;
	int rc = UC_OK;

	*cert = NULL;
	*key = NULL;
	if (s == NULL)
		return uc_seterr(UC_E_STATE, "the SCEP RA is not loaded");
	pthread_rwlock_rdlock(&s->rw);
	if (s->cert != NULL && X509_up_ref(s->cert)) {
		if (EVP_PKEY_up_ref(s->key)) {
			*cert = s->cert;
			*key = s->key;
		} else
			X509_free(s->cert);
	}
	pthread_rwlock_unlock(&s->rw);
	if (*cert == NULL)
		rc = uc_seterr(UC_E_STATE, "the SCEP RA is not loaded");
	return rc;
}

/* ---- transactions ------------------------------------------------------------------ */

/* SHA-256 of x's public key bits (what X509_pubkey_digest() hashes). */
static int
key_sha256(X509 *x, unsigned char out[32])
{
	unsigned int n = 32;

	if (X509_pubkey_digest(x, EVP_sha256(), out, &n) != 1 || n != 32)
		return uc_seterr_ssl(UC_E_CRYPTO, "hashing a public key");
	return UC_OK;
}

int
ascep_record(struct authority *a, const struct scep_txn *t, X509 *cert,
    int64_t cert_id, int64_t now)
{
	unsigned char key[32];
	int rc;

	if (t->key_set)
		memcpy(key, t->key, sizeof(key));
	else if ((rc = key_sha256(cert, key)) != UC_OK)
		return rc;
	return store_scep_tx_insert(a->st, t->tid, t->req, key, cert_id, now);
}

/* tid's row, on the reading connection (it does not wait for a commit). */
static int
txn_get(struct authority *a, const char *tid, struct store_scep_tx *row)
{
	struct store *st;
	int rc;

	pthread_mutex_lock(&a->rmu);
	if ((rc = auth_reader_store(a, &st)) == UC_OK)
		rc = store_scep_tx_get(st, tid, row);
	pthread_mutex_unlock(&a->rmu);
	return rc;
}

/*
 * tid is recorded: the same request (and, for a renewal, the same
 * signer) gets the recorded certificate again; another is refused.
 */
static int
txn_again(struct authority *a, const struct scep_txn *t,
    const struct store_scep_tx *row, struct issue_result *res)
{
	const unsigned char *p = row->der;
	X509 *x;
	int rc;

	memset(res, 0, sizeof(*res));
	if (CRYPTO_memcmp(row->req, t->req, 32) != 0 ||
	    (t->key_set && CRYPTO_memcmp(row->key, t->key, 32) != 0))
		return uc_seterr(UC_E_INVALID, "transactionID %s was used for "
		    "another request", t->tid);
	if ((x = d2i_X509(NULL, &p, (long)row->derlen)) == NULL)
		return uc_seterr_ssl(UC_E_DB, "SCEP transaction %s: its "
		    "certificate", t->tid);
	rc = issue_again(a, x, res);
	X509_free(x);
	return rc;
}

/* The transaction t describes (old: a renewal's signer, DER). */
static int
txn_make(struct scep_txn *t, const char *tid, const unsigned char *old,
    size_t oldlen, const unsigned char *csr, size_t csrlen)
{
	const unsigned char *p = old;
	X509 *x = NULL;
	int rc;

	memset(t, 0, sizeof(*t));
	t->tid = tid;
	if (tid == NULL || tid[0] == '\0' || csr == NULL || csrlen == 0)
		return uc_seterr(UC_E_INVALID, "a SCEP request without a "
		    "transactionID or a CSR");
	if (!EVP_Digest(csr, csrlen, t->req, NULL, EVP_sha256(), NULL))
		return uc_seterr_ssl(UC_E_CRYPTO, "hashing the SCEP request");
	if (old == NULL)
		return UC_OK;
	if (oldlen > LONG_MAX || (x = d2i_X509(NULL, &p, (long)oldlen)) ==
	    NULL) {
		ERR_clear_error();
		return uc_seterr(UC_E_NOTFOUND, "the RenewalReq's signer is "
		    "not a certificate");
	}
	rc = key_sha256(x, t->key);
	t->key_set = rc == UC_OK;
	X509_free(x);
	return rc;
}

int
authority_scep_enroll(struct authority *a, const char *tid,
    const char *token, const unsigned char *old, size_t oldlen,
    const unsigned char *csr, size_t csrlen, int smime,
    struct issue_result *res, enum token_state *state)
{
	struct store_scep_tx row;
	struct redeem_req rr;
	struct scep_txn t;
	char why[256];
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&row, 0, sizeof(row));
	*state = TOKEN_UNKNOWN;
	if ((rc = txn_make(&t, tid, old, oldlen, csr, csrlen)) != UC_OK)
		return rc;
	if ((rc = txn_get(a, tid, &row)) == UC_OK) {
		rc = txn_again(a, &t, &row, res);
		goto out;
	}
	if (rc != UC_E_NOTFOUND)
		goto out;
	uc_clearerr();
	if (old != NULL)
		rc = renew_by_cert_txn(a, old, oldlen, csr, csrlen,
		    "scep-renew", &t, res);
	else {
		memset(&rr, 0, sizeof(rr));
		rr.token = token;
		rr.csr = csr;
		rr.csrlen = csrlen;
		rr.method = "scep";
		rr.smime = smime;
		rc = issue_redeem_txn(a, &rr, &t, res, state);
	}
	/*
	 * The same request twice at once: the other one won (it used the
	 * token, renewed the certificate or recorded tid first); its answer.
	 */
	if (rc == UC_E_STATE || rc == UC_E_EXISTS) {
		snprintf(why, sizeof(why), "%s", uc_errmsg());
		if (txn_get(a, tid, &row) == UC_OK &&
		    txn_again(a, &t, &row, res) == UC_OK) {
			*state = TOKEN_UNKNOWN;
			rc = UC_OK;
		} else
			rc = uc_seterr(rc, "%s", why);
	}
out:
	store_scep_tx_clear(&row);
	return rc;
}

int
authority_scep_poll(struct authority *a, const char *tid,
    const unsigned char key[32], unsigned char **der, size_t *len)
{
	struct store_scep_tx row;
	int rc;

	*der = NULL;
	*len = 0;
	memset(&row, 0, sizeof(row));
	if ((rc = txn_get(a, tid, &row)) != UC_OK)
		return rc;
	if (CRYPTO_memcmp(row.key, key, 32) != 0)
		rc = uc_seterr(UC_E_NOTFOUND, "no SCEP transaction %s of this "
		    "signer", tid);
	else {
		*der = row.der;
		*len = row.derlen;
		row.der = NULL;	/* now owned by the caller */
	}
	store_scep_tx_clear(&row);
	return rc;
}
