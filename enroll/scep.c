/*
 * scep.c: SCEP (RFC 8894) at /scep and /cgi-bin/pkiclient.exe, over
 * HTTP and HTTPS (the messages are signed and encrypted themselves).
 *
 * GetCACaps and GetCACert are answered here; a PKIOperation is taken
 * apart by ca/pki (scep_parse) with the RA key, which the network child
 * holds (a transport key, like the TLS key: HELLO brings it); GetCert
 * asks the monitor for the record (door CERT), GetCRL takes the published
 * CRL; what it asks to issue goes to the monitor in one message with
 * plain bytes (SCEP_TX, answered by authority_scep_enroll): the
 * transactionID, the CSR and either its challenge (a PKCSReq, redeemed as
 * authority_redeem_csr does) or the certificate that signed the request
 * (a RenewalReq, checked whole as authority_renew_by_cert does).
 * Every refusal is a CertRep FAILURE with its failInfo once the message
 * is good enough to answer; before that, a plain-text 400.
 *
 * Transactions: the monitor records each issuance with its
 * transactionID (authority_scep_enroll: the request's and the signer
 * key's hashes, in the certificate's own database transaction), so a
 * client that lost the answer and sends the same request again, or polls
 * (CertPoll), gets the same certificate, also after a restart: the same
 * request never issues twice, and the same transactionID with another
 * request is refused (badRequest).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "door.h"
#include "enrolld.h"
#include "pki_scep.h"

#define SCEP_GET_MAX	(48 * 1024)	/* base64 of a message in a URL */
#define PKI_TYPE	"application/x-pki-message"

struct scep_state {
	int		 des;		/* single DES was enabled */
};

static const char caps[] =
    "POSTPKIOperation\nSHA-1\nSHA-224\nSHA-256\nSHA-384\nSHA-512\nAES\nDES3\n"
    "SCEPStandard\n"
    "Renewal\n";

static int
method_get(const struct req *q)
{
	return strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
}

int
scep_route(const char *path)
{
	return strcmp(path, "/scep") == 0 ||
	    strcmp(path, "/cgi-bin/pkiclient.exe") == 0;
}

int
scep_init(struct enrolld *d)
{
	struct scep_state *t;
	int rc;

	if (d->conf.scep_allow_des && (rc = scep_enable_des()) != UC_OK)
		return rc;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	t->des = d->conf.scep_allow_des;
	d->scep = t;
	/* The network child gets the RA from the monitor's HELLO. */
	return ed_auth(d) != NULL ? authority_scep_refresh(ed_auth(d)) : UC_OK;
}

void
scep_watch(struct enrolld *d)
{
	if (d->scep != NULL && ed_auth(d) != NULL &&
	    authority_scep_refresh(ed_auth(d)) != UC_OK)
		fprintf(stderr, "userca-enrolld: SCEP RA: %s\n", uc_errmsg());
}

void
scep_free(struct enrolld *d)
{
	free(d->scep);
	d->scep = NULL;
}

static int
key_hash(X509 *x, unsigned char out[32])
{
	unsigned int n = 32;

	return X509_pubkey_digest(x, EVP_sha256(), out, &n) == 1;
}

/* ---- answers -------------------------------------------------------------------- */

static void
text(struct resp *r, int status, const char *msg)
{
	char *s;

	r->status = status;
	r->type = "text/plain; charset=utf-8";
	if ((s = strdup(msg)) != NULL) {
		r->body = (unsigned char *)s;
		r->len = strlen(s);
	}
}

struct op {
	struct enrolld		*d;
	const struct req	*q;
	struct resp		*r;
	X509			*ra;
	EVP_PKEY		*rakey;
	struct scep_req		 m;
};

/* A CertRep for cert, or for certder (DER, certlen bytes) when cert is
 * NULL and status SUCCESS. */
static void
reply_with(struct op *o, int status, int info, X509 *cert,
    const unsigned char *certder, size_t certlen)
{
	unsigned char *der = NULL;
	size_t len;
	int rc;

	if (status == SCEP_SUCCESS && cert == NULL)
		rc = scep_reply_der(&o->m, o->ra, o->rakey, certder, certlen,
		    &der, &len);
	else
		rc = scep_reply(&o->m, o->ra, o->rakey, status, info, cert,
		    &der, &len);
	if (rc != UC_OK) {
		fprintf(stderr, "userca-enrolld: SCEP CertRep: %s\n",
		    uc_errmsg());
		text(o->r, 503, "the answer could not be made; try again\n");
		return;
	}
	o->r->status = 200;
	o->r->type = PKI_TYPE;
	o->r->body = der;
	o->r->len = len;
	snprintf(o->r->cache_control, sizeof(o->r->cache_control),
	    "no-store");
}

static void
reply(struct op *o, int status, int info, X509 *cert)
{
	reply_with(o, status, info, cert, NULL, 0);
}

static void
refuse(struct op *o, int info, const char *why)
{
	fprintf(stderr, "userca-enrolld: SCEP %d refused (failInfo %d): %s\n",
	    o->m.type, info, why);
	reply(o, SCEP_FAILURE, info, NULL);
}

/* The recorded certificate with this serial, as an X509 (the monitor's). */
static X509 *
recorded(struct enrolld *d, const char *serial)
{
	unsigned char *der = NULL;
	size_t len = 0;
	X509 *x = NULL;

	if (door_cert(d->door, serial, &der, &len) != UC_OK) {
		uc_clearerr();
		return NULL;
	}
	if (cert_parse(der, len, &x) != UC_OK)
		uc_clearerr();
	free(der);
	return x;
}

/* 1 when x was issued by the issuing CA published now. */
static int
ours(struct enrolld *d, X509 *x)
{
	struct pubset *ps;
	int yes;

	if ((ps = pub_get(d)) == NULL)
		return 0;
	yes = ps->issuing != NULL && X509_check_issued(ps->issuing, x) ==
	    X509_V_OK;
	pub_put(ps);
	return yes;
}

/* The leaf of a PEM chain as DER (free()), not decoded. */
static unsigned char *
leaf_der(const unsigned char *pem, size_t len, size_t *outlen)
{
	BIO *b;
	char *name = NULL, *hdr = NULL;
	unsigned char *data = NULL, *der = NULL;
	long n = 0;

	*outlen = 0;
	if (len <= INT_MAX && (b = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		if (PEM_read_bio(b, &name, &hdr, &data, &n) == 1 &&
		    strcmp(name, PEM_STRING_X509) == 0 && n > 0 &&
		    (der = malloc((size_t)n)) != NULL) {
			memcpy(der, data, (size_t)n);
			*outlen = (size_t)n;
		}
		BIO_free(b);
	}
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(hdr);
	OPENSSL_free(data);
	return der;
}

/* An authority refusal as a failInfo. */
static int
info_of(int rc, int renewal)
{
	if (rc == UC_E_NOTFOUND || rc == UC_E_STATE)
		return renewal ? SCEP_BADCERTID : SCEP_BADREQUEST;
	if (rc == UC_E_SIGNATURE)
		return SCEP_BADMESSAGECHECK;
	return SCEP_BADREQUEST;
}

static int
client_error(int rc)
{
	return rc == UC_E_NOTFOUND || rc == UC_E_STATE || rc == UC_E_INVALID ||
	    rc == UC_E_POLICY || rc == UC_E_SIGNATURE;
}

/*
 * The monitor's issuance for a PKCSReq (with its challenge) or a renewal
 * (signed by one of our certificates): UC_OK when it answered (o->rc
 * says how, with uc_errmsg() set for a refusal); else r holds the error.
 */
static int
issue(struct op *o, int renewal, struct door_redeem_out *out)
{
	struct enrolld *d = o->d;
	unsigned char *der = NULL;
	char *token = NULL;
	int n, rc;

	if (renewal) {
		if ((n = i2d_X509(o->m.signer, &der)) <= 0) {
			text(o->r, 503, "try again\n");
			return UC_E_CRYPTO;
		}
		rc = door_scep_tx(d->door, o->m.tid, NULL, der, (size_t)n,
		    o->m.inner, o->m.inner_len, out);
		OPENSSL_free(der);
	} else if (o->m.type == SCEP_RENEWALREQ) {
		refuse(o, SCEP_BADREQUEST, "RenewalReq not signed by a "
		    "certificate of this CA");
		return UC_E_STATE;
	} else if ((rc = scep_csr_challenge(o->m.inner, o->m.inner_len,
	    o->m.signer, &token)) == UC_E_SIGNATURE) {
		refuse(o, SCEP_BADMESSAGECHECK, uc_errmsg());
		return rc;
	} else if (rc != UC_OK) {
		ratelimit_fail(d->rl, o->q->client, uc_now());
		refuse(o, SCEP_BADREQUEST, uc_errmsg());
		return UC_E_INVALID;
	} else if (!token_may_try(d, o->q->client, token)) {
		secret_free(token);
		refuse(o, SCEP_BADREQUEST, "too many failed attempts from this "
		    "address; wait a minute");
		return UC_E_POLICY;
	} else {
		rc = door_scep_tx(d->door, o->m.tid, token, NULL, 0,
		    o->m.inner, o->m.inner_len, out);
		secret_free(token);
		if (rc == UC_OK && (out->rc == UC_E_NOTFOUND ||
		    out->rc == UC_E_STATE)) {
			ratelimit_fail(d->rl, o->q->client, uc_now());
			metrics_token_failure(d->m, out->state == TOKEN_USED ?
			    "used" : out->state == TOKEN_EXPIRED ? "expired" :
			    "unknown");
		}
	}
	if (rc != UC_OK) {
		fprintf(stderr, "userca-enrolld: SCEP: %s\n", uc_errmsg());
		text(o->r, 503, "issuance failed; try again later\n");
		return rc;
	}
	if (out->rc != UC_OK)
		(void)uc_seterr(out->rc, "%s", out->errmsg != NULL ?
		    out->errmsg : "refused");
	return UC_OK;
}

/*
 * PKCSReq with a token, or a renewal signed by one of our certificates.
 * The same request again (a client that lost the answer) gets the same
 * certificate from the monitor's record of the transaction (res.again).
 */
static void
enroll(struct op *o)
{
	struct enrolld *d = o->d;
	struct door_redeem_out res;
	unsigned char *cert = NULL;
	size_t len = 0;
	int renewal;

	memset(&res, 0, sizeof(res));
	renewal = ours(d, o->m.signer);
	if (issue(o, renewal, &res) != UC_OK)
		goto out;
	if (client_error(res.rc)) {
		refuse(o, info_of(res.rc, renewal), uc_errmsg());
		goto out;
	}
	if (res.rc != UC_OK || (cert = leaf_der(res.chain, res.chainlen,
	    &len)) == NULL) {
		fprintf(stderr, "userca-enrolld: SCEP: %s\n", uc_errmsg());
		text(o->r, 503, "issuance failed; try again later\n");
		goto out;
	}
	if (!res.again)
		metrics_issue(d->m, renewal ? "scep-renew" : "scep");
	reply_with(o, SCEP_SUCCESS, 0, NULL, cert, len);
	free(cert);
out:
	door_redeem_out_clear(&res);
}

/* CertPoll (GetCertInitial): the transaction's certificate, if any. */
static void
poll(struct op *o)
{
	unsigned char key[32], *der = NULL;
	size_t len = 0;

	if (!key_hash(o->m.signer, key) || door_scep_poll(o->d->door,
	    o->m.tid, key, &der, &len) != UC_OK) {
		uc_clearerr();
		refuse(o, SCEP_BADCERTID, "no such transaction");
	} else
		reply_with(o, SCEP_SUCCESS, 0, NULL, der, len);
	free(der);
}

/* GetCert: one of our certificates by issuer and serial. */
static void
get_cert(struct op *o)
{
	const unsigned char *p = o->m.inner;
	PKCS7_ISSUER_AND_SERIAL *is;
	X509 *cert = NULL;
	char *serial = NULL;

	if ((is = d2i_PKCS7_ISSUER_AND_SERIAL(NULL, &p,
	    (long)o->m.inner_len)) == NULL ||
	    (serial = serial_hex(is->serial)) == NULL ||
	    (cert = recorded(o->d, serial)) == NULL ||
	    X509_NAME_cmp(is->issuer, X509_get_issuer_name(cert)) != 0)
		refuse(o, SCEP_BADCERTID, "no such certificate");
	else
		reply(o, SCEP_SUCCESS, 0, cert);
	ERR_clear_error();
	X509_free(cert);
	free(serial);
	PKCS7_ISSUER_AND_SERIAL_free(is);
}

/* GetCRL: the published CRL of the CA named (issuing CA or root). */
static void
get_crl(struct op *o)
{
	const unsigned char *p = o->m.inner;
	PKCS7_ISSUER_AND_SERIAL *is = NULL;
	struct pubset *ps;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	size_t len;
	const char *route = NULL;
	int i;

	if ((ps = pub_get(o->d)) != NULL && ps->issuing != NULL &&
	    (is = d2i_PKCS7_ISSUER_AND_SERIAL(NULL, &p,
	    (long)o->m.inner_len)) != NULL) {
		if (X509_NAME_cmp(is->issuer, X509_get_subject_name(
		    ps->issuing)) == 0)
			route = "/crl.der";
		else if (ps->root != NULL && X509_NAME_cmp(is->issuer,
		    X509_get_subject_name(ps->root)) == 0)
			route = "/root.crl";
	}
	for (i = 0; route != NULL && i < NPUB; i++) {
		if (strcmp(ps->f[i].route, route) != 0 ||
		    ps->f[i].body == NULL)
			continue;
		p = ps->f[i].body->data;
		crl = d2i_X509_CRL(NULL, &p, (long)ps->f[i].body->len);
	}
	pub_put(ps);
	if (crl == NULL)
		refuse(o, SCEP_BADCERTID, "no CRL for that issuer");
	else if (scep_reply_crl(&o->m, o->ra, o->rakey, crl, &der, &len) !=
	    UC_OK)
		text(o->r, 503, "the answer could not be made; try again\n");
	else {
		o->r->status = 200;
		o->r->type = PKI_TYPE;
		o->r->body = der;
		o->r->len = len;
	}
	ERR_clear_error();
	X509_CRL_free(crl);
	PKCS7_ISSUER_AND_SERIAL_free(is);
}

static void
pki_operation(struct enrolld *d, const struct req *q, struct resp *r)
{
	struct op o;
	unsigned char *msg = NULL;
	const unsigned char *der;
	size_t len;
	int rc;

	memset(&o, 0, sizeof(o));
	o.d = d;
	o.q = q;
	o.r = r;
	if (method_get(q)) {
		if (q->message == NULL || (msg = get_decode(q->message,
		    SCEP_GET_MAX, &len)) == NULL) {
			text(r, 400, "PKIOperation: message= is missing or not "
			    "base64\n");
			return;
		}
		der = msg;
	} else {
		der = q->body;
		len = q->bodylen;
	}
	if (enrolld_scep_ra(d, &o.ra, &o.rakey) != UC_OK) {
		uc_clearerr();
		text(r, 503, "the SCEP RA is not ready\n");
		goto out;
	}
	rc = scep_parse(der, len, o.ra, o.rakey, d->conf.scep_allow_des,
	    &o.m);
	if (rc != UC_OK) {
		if (o.m.replyable)
			refuse(&o, o.m.fail_info, uc_errmsg());
		else {
			fprintf(stderr, "userca-enrolld: SCEP: %s\n",
			    uc_errmsg());
			text(r, 400, "PKIOperation: not a SCEP pkiMessage we "
			    "can read\n");
		}
		goto out;
	}
	switch (o.m.type) {
	case SCEP_PKCSREQ:
	case SCEP_RENEWALREQ:
		enroll(&o);
		break;
	case SCEP_CERTPOLL:
		poll(&o);
		break;
	case SCEP_GETCERT:
		get_cert(&o);
		break;
	default:
		get_crl(&o);
		break;
	}
out:
	scep_req_clear(&o.m);
	X509_free(o.ra);
	EVP_PKEY_free(o.rakey);
	free(msg);
}

/* GetCACert: the RA, the issuing CA and the root, certs-only. */
static void
ca_cert(struct enrolld *d, struct resp *r)
{
	struct pubset *ps = NULL;
	X509 *c[3];
	EVP_PKEY *k = NULL;
	size_t n = 0;

	if (enrolld_scep_ra(d, &c[0], &k) != UC_OK) {
		uc_clearerr();
		text(r, 503, "the SCEP RA is not ready\n");
		return;
	}
	n = 1;
	if ((ps = pub_get(d)) != NULL && ps->issuing != NULL) {
		c[n++] = ps->issuing;
		if (ps->root != NULL)
			c[n++] = ps->root;
	}
	if (n == 1 || pki_certs_p7(c, n, NULL, &r->body, &r->len) != UC_OK)
		text(r, 503, "GetCACert failed\n");
	else {
		r->status = 200;
		r->type = "application/x-x509-ca-ra-cert";
	}
	pub_put(ps);
	X509_free(c[0]);
	EVP_PKEY_free(k);
}

void
scep_serve(struct enrolld *d, const struct req *q, struct resp *r)
{
	const char *op = q->operation;

	r->route = "/scep";
	if (d->scep == NULL) {
		text(r, 503, "SCEP is not ready\n");
		return;
	}
	if (!method_get(q) && strcmp(q->method, "POST") != 0) {
		snprintf(r->allow, sizeof(r->allow), "GET, HEAD, POST");
		text(r, 405, "use GET or POST\n");
		return;
	}
	if (op == NULL) {
		text(r, 400, "operation= is missing (GetCACaps, GetCACert, "
		    "PKIOperation)\n");
		return;
	}
	if (strcmp(op, "PKIOperation") == 0) {
		pki_operation(d, q, r);
		return;
	}
	if (!method_get(q)) {
		snprintf(r->allow, sizeof(r->allow), "GET, HEAD");
		text(r, 405, "only PKIOperation is POSTed\n");
		return;
	}
	if (strcmp(op, "GetCACaps") == 0)
		text(r, 200, caps);
	else if (strcmp(op, "GetCACert") == 0)
		ca_cert(d, r);
	else
		text(r, 400, "unknown operation\n");
}
