/*
 * scep.c: SCEP pkiMessages (RFC 8894) over OpenSSL's PKCS7 API.
 *
 * A request is SignedData(EnvelopedData(content)): the signature is
 * checked with the certificate the client put in the message (self-signed
 * for a first request, ours for a renewal: deciding which is the caller's
 * job), the envelope is opened with the RA key.  The answer, CertRep, is
 * signed by the RA key and, on success, envelopes a certs-only PKCS#7 for
 * the client's signer certificate with the client's own cipher.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "pki.h"
#include "pki_ocsp.h"
#include "pki_scep.h"

/* The SCEP attributes (Verisign's arc; RFC 8894 3.2.1). */
static struct {
	const char	*oid, *sn;
	int		 nid;
} attr[] = {
	{ "2.16.840.1.113733.1.9.2", "scepMessageType", 0 },
	{ "2.16.840.1.113733.1.9.3", "scepPkiStatus", 0 },
	{ "2.16.840.1.113733.1.9.4", "scepFailInfo", 0 },
	{ "2.16.840.1.113733.1.9.5", "scepSenderNonce", 0 },
	{ "2.16.840.1.113733.1.9.6", "scepRecipientNonce", 0 },
	{ "2.16.840.1.113733.1.9.7", "scepTransactionID", 0 },
};
enum { A_TYPE, A_STATUS, A_FAIL, A_SNONCE, A_RNONCE, A_TID, A_N };

static pthread_once_t	 attr_once = PTHREAD_ONCE_INIT;
static int		 attr_ok;

static void
attr_init(void)
{
	int i;

	for (i = 0; i < A_N; i++) {
		if ((attr[i].nid = OBJ_txt2nid(attr[i].oid)) == NID_undef)
			attr[i].nid = OBJ_create(attr[i].oid, attr[i].sn,
			    attr[i].sn);
		if (attr[i].nid == NID_undef)
			return;
	}
	attr_ok = 1;
}

static int
attrs_ready(void)
{
	pthread_once(&attr_once, attr_init);
	return attr_ok ? UC_OK : uc_seterr_ssl(UC_E_CRYPTO, "registering the "
	    "SCEP attribute OIDs");
}

void
scep_req_clear(struct scep_req *q)
{
	if (q == NULL)
		return;
	X509_free(q->signer);
	secret_free_buf(q->inner, q->inner_len);
	memset(q, 0, sizeof(*q));
}

int
scep_enable_des(void)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	/* Kept for the process's life (and for LeakSanitizer to see). */
	static OSSL_PROVIDER *deflt, *legacy;
	int rc = UC_OK;

	pthread_mutex_lock(&mu);
	/* Naming a provider turns off the implicit default: load both. */
	if (deflt == NULL)
		deflt = OSSL_PROVIDER_load(NULL, "default");
	if (legacy == NULL)
		legacy = OSSL_PROVIDER_load(NULL, "legacy");
	if (deflt == NULL || legacy == NULL)
		rc = uc_seterr_ssl(UC_E_CRYPTO, "loading OpenSSL's legacy "
		    "provider for single DES ([scep] allow_des)");
	pthread_mutex_unlock(&mu);
	return rc;
}

/* ---- requests ---------------------------------------------------------------- */

/* A PrintableString attribute as a C string (no embedded NUL). */
static int
attr_string(PKCS7_SIGNER_INFO *si, int i, char *out, size_t len)
{
	ASN1_TYPE *t;
	const ASN1_STRING *s;
	int n;

	if ((t = PKCS7_get_signed_attribute(si, attr[i].nid)) == NULL ||
	    t->type != V_ASN1_PRINTABLESTRING)
		return 0;
	s = t->value.printablestring;
	n = ASN1_STRING_length(s);
	if (n <= 0 || (size_t)n >= len ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)n) != NULL)
		return 0;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
	out[n] = '\0';
	return 1;
}

static int
md_allowed(int nid)
{
	return nid == NID_sha1 || nid == NID_sha224 || nid == NID_sha256 ||
	    nid == NID_sha384 || nid == NID_sha512;
}

static int
cipher_allowed(int nid, int allow_des)
{
	return nid == NID_aes_128_cbc || nid == NID_aes_192_cbc ||
	    nid == NID_aes_256_cbc || nid == NID_des_ede3_cbc ||
	    (allow_des && nid == NID_des_cbc);
}

static int
fail(struct scep_req *q, int info, int code, const char *what)
{
	q->fail_info = info;
	return uc_seterr_ssl(code, "SCEP request: %s", what);
}

/* The signed attributes of the one signer. */
static int
read_attrs(struct scep_req *q, PKCS7_SIGNER_INFO *si)
{
	ASN1_TYPE *t;
	char type[8], *end;
	long v;
	int n;

	if (!attr_string(si, A_TID, q->tid, sizeof(q->tid)))
		return fail(q, SCEP_BADREQUEST, UC_E_INVALID, "no usable "
		    "transactionID");
	if ((t = PKCS7_get_signed_attribute(si, attr[A_SNONCE].nid)) == NULL ||
	    t->type != V_ASN1_OCTET_STRING ||
	    (n = ASN1_STRING_length(t->value.octet_string)) <= 0 ||
	    n > SCEP_NONCE_MAX)
		return fail(q, SCEP_BADREQUEST, UC_E_INVALID, "no usable "
		    "senderNonce");
	memcpy(q->nonce, ASN1_STRING_get0_data(t->value.octet_string),
	    (size_t)n);
	q->nonce_len = (size_t)n;
	if (!attr_string(si, A_TYPE, type, sizeof(type)))
		return fail(q, SCEP_BADREQUEST, UC_E_INVALID, "no "
		    "messageType");
	v = strtol(type, &end, 10);
	if (*end != '\0' || (v != SCEP_PKCSREQ && v != SCEP_RENEWALREQ &&
	    v != SCEP_CERTPOLL && v != SCEP_GETCERT && v != SCEP_GETCRL))
		return fail(q, SCEP_BADREQUEST, UC_E_INVALID, "unknown "
		    "messageType");
	q->type = (int)v;
	return UC_OK;
}

/* Open the EnvelopedData (DER in env) with the RA key into q->inner. */
static int
open_envelope(struct scep_req *q, const unsigned char *env, size_t len,
    X509 *ra_cert, EVP_PKEY *ra_key, int allow_des)
{
	const unsigned char *p = env;
	PKCS7 *p7 = NULL;
	BIO *out = NULL;
	int rc;

	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL ||
	    !PKCS7_type_is_enveloped(p7) || p7->d.enveloped == NULL ||
	    p7->d.enveloped->enc_data == NULL) {
		rc = fail(q, SCEP_BADREQUEST, UC_E_INVALID, "the content is "
		    "not an EnvelopedData");
		goto out;
	}
	q->cipher_nid = OBJ_obj2nid(p7->d.enveloped->enc_data->algorithm->
	    algorithm);
	if (!cipher_allowed(q->cipher_nid, allow_des)) {
		rc = fail(q, SCEP_BADALG, UC_E_POLICY, q->cipher_nid ==
		    NID_des_cbc ? "single DES envelope ([scep] allow_des is "
		    "off)" : "envelope cipher not offered");
		goto out;
	}
	if ((out = BIO_new(BIO_s_mem())) == NULL ||
	    !PKCS7_decrypt(p7, ra_key, ra_cert, out, PKCS7_BINARY)) {
		BIO_free(out);
		rc = fail(q, SCEP_BADMESSAGECHECK, UC_E_INVALID, "the envelope "
		    "does not open with our RA key");
		goto out;
	}
	rc = ossl_bio_take(out, &q->inner, &q->inner_len, "the SCEP content");
	if (rc != UC_OK)
		q->fail_info = SCEP_BADREQUEST;
out:
	PKCS7_free(p7);
	return rc;
}

int
scep_parse(const unsigned char *der, size_t len, X509 *ra_cert,
    EVP_PKEY *ra_key, int allow_des, struct scep_req *q)
{
	STACK_OF(PKCS7_SIGNER_INFO) *sis;
	STACK_OF(X509) *signers = NULL;
	PKCS7_SIGNER_INFO *si;
	const unsigned char *p = der;
	PKCS7 *p7 = NULL;
	BIO *content = NULL;
	unsigned char *env = NULL;
	size_t envlen = 0;
	int rc;

	memset(q, 0, sizeof(*q));
	q->fail_info = SCEP_BADREQUEST;
	if ((rc = attrs_ready()) != UC_OK)
		return rc;
	if (len == 0 || len > LONG_MAX ||
	    (p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL ||
	    !PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
	    (sis = PKCS7_get_signer_info(p7)) == NULL ||
	    sk_PKCS7_SIGNER_INFO_num(sis) != 1) {
		rc = fail(q, SCEP_BADREQUEST, UC_E_INVALID, "not a SignedData "
		    "with one signer");
		goto out;
	}
	si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	if ((rc = read_attrs(q, si)) != UC_OK)
		goto out;
	q->md_nid = OBJ_obj2nid(si->digest_alg->algorithm);
	/* The signer certificate must be in the message (RFC 8894 3.2). */
	if ((signers = PKCS7_get0_signers(p7, NULL, 0)) == NULL ||
	    sk_X509_num(signers) != 1) {
		rc = fail(q, SCEP_BADREQUEST, UC_E_INVALID, "the signer's "
		    "certificate is not in the message");
		goto out;
	}
	q->signer = sk_X509_value(signers, 0);
	if (!X509_up_ref(q->signer)) {
		q->signer = NULL;
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	/*
	 * transactionID, nonce and signer known: a CertRep FAILURE (not
	 * enveloped, so nothing is revealed) can answer from here on.
	 */
	q->replyable = 1;
	if (!md_allowed(q->md_nid)) {
		rc = fail(q, SCEP_BADALG, UC_E_POLICY, "digest not offered");
		goto out;
	}
	if ((content = BIO_new(BIO_s_mem())) == NULL ||
	    PKCS7_verify(p7, NULL, NULL, NULL, content, PKCS7_NOVERIFY |
	    PKCS7_BINARY) <= 0) {
		rc = fail(q, SCEP_BADMESSAGECHECK, UC_E_SIGNATURE, "the "
		    "signature does not verify");
		goto out;
	}
	rc = ossl_bio_take(content, &env, &envlen, "the SCEP envelope");
	content = NULL;		/* freed by ossl_bio_take */
	if (rc != UC_OK)
		goto out;
	rc = open_envelope(q, env, envlen, ra_cert, ra_key, allow_des);
out:
	if (rc != UC_OK) {
		secret_free_buf(q->inner, q->inner_len);
		q->inner = NULL;
		q->inner_len = 0;
	}
	ERR_clear_error();
	free(env);
	BIO_free(content);
	sk_X509_free(signers);
	PKCS7_free(p7);
	return rc;
}

/* The challengePassword attribute of req as a new C string. */
static int
csr_challenge(X509_REQ *req, char **out)
{
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	const ASN1_STRING *s;
	int i, n;

	if ((i = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword,
	    -1)) < 0 || (a = X509_REQ_get_attr(req, i)) == NULL ||
	    X509_ATTRIBUTE_count(a) != 1 ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL)
		return uc_seterr(UC_E_NOTFOUND, "the CSR has no "
		    "challengePassword");
	switch (t->type) {
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_UTF8STRING:
	case V_ASN1_IA5STRING:
	case V_ASN1_T61STRING:
		break;
	default:
		return uc_seterr(UC_E_INVALID, "the challengePassword is not "
		    "a string");
	}
	s = t->value.asn1_string;
	n = ASN1_STRING_length(s);
	if (n <= 0 || n > 256 || memchr(ASN1_STRING_get0_data(s), '\0',
	    (size_t)n) != NULL)
		return uc_seterr(UC_E_INVALID, "the challengePassword is empty "
		    "or malformed");
	if ((*out = malloc((size_t)n + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	memcpy(*out, ASN1_STRING_get0_data(s), (size_t)n);
	(*out)[n] = '\0';
	return UC_OK;
}

int
scep_csr_challenge(const unsigned char *csr, size_t len, X509 *signer,
    char **out)
{
	const unsigned char *p = csr;
	X509_REQ *req = NULL;
	EVP_PKEY *a, *b;
	int rc;

	*out = NULL;
	/* One parse: OpenSSL 3 decodes the key of every CSR it reads. */
	if (len > LONG_MAX || (req = d2i_X509_REQ(NULL, &p,
	    (long)len)) == NULL)
		rc = uc_seterr_ssl(UC_E_INVALID, "the SCEP CSR");
	else if (signer != NULL && ((a = X509_REQ_get0_pubkey(req)) == NULL ||
	    (b = X509_get0_pubkey(signer)) == NULL || EVP_PKEY_eq(a, b) != 1))
		rc = uc_seterr(UC_E_SIGNATURE, "the PKCSReq is signed with a "
		    "key other than the CSR's");
	else
		rc = csr_challenge(req, out);
	ERR_clear_error();
	X509_REQ_free(req);
	return rc;
}

int
scep_csr_matches(const unsigned char *csr, size_t len, X509 *signer)
{
	const unsigned char *p = csr;
	X509_REQ *req;
	EVP_PKEY *a, *b;
	int eq = 0;

	if (len > LONG_MAX || (req = d2i_X509_REQ(NULL, &p, (long)len)) ==
	    NULL) {
		ERR_clear_error();
		return 0;
	}
	if ((a = X509_REQ_get0_pubkey(req)) != NULL &&
	    (b = X509_get0_pubkey(signer)) != NULL)
		eq = EVP_PKEY_eq(a, b) == 1;
	ERR_clear_error();
	X509_REQ_free(req);
	return eq;
}

/* ---- answers ---------------------------------------------------------------------- */

/* p7's DER in a new buffer (free()). */
static int
p7_der(PKCS7 *p7, unsigned char **der, size_t *len)
{
	unsigned char *p;
	int n;

	*der = NULL;
	*len = 0;
	if ((n = i2d_PKCS7(p7, NULL)) <= 0)
		return uc_seterr_ssl(UC_E_CRYPTO, "encoding a PKCS#7");
	if ((*der = malloc((size_t)n)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	p = *der;
	if (i2d_PKCS7(p7, &p) != n) {
		free(*der);
		*der = NULL;
		return uc_seterr_ssl(UC_E_CRYPTO, "encoding a PKCS#7");
	}
	*len = (size_t)n;
	return UC_OK;
}

int
pki_certs_p7(X509 *const *certs, size_t n, X509_CRL *crl,
    unsigned char **der, size_t *len)
{
	PKCS7 *p7 = NULL;
	size_t i;
	int rc;

	*der = NULL;
	*len = 0;
	if ((p7 = PKCS7_new()) == NULL || !PKCS7_set_type(p7,
	    NID_pkcs7_signed) || !PKCS7_content_new(p7, NID_pkcs7_data))
		goto fail;
	for (i = 0; i < n; i++)
		if (!PKCS7_add_certificate(p7, certs[i]))
			goto fail;
	if (crl != NULL && !PKCS7_add_crl(p7, crl))
		goto fail;
	rc = p7_der(p7, der, len);
	PKCS7_free(p7);
	return rc;
fail:
	PKCS7_free(p7);
	return uc_seterr_ssl(UC_E_CRYPTO, "a certs-only PKCS#7");
}

static int
add_string(PKCS7_SIGNER_INFO *si, int i, const char *v)
{
	ASN1_STRING *s;

	if ((s = ASN1_STRING_type_new(V_ASN1_PRINTABLESTRING)) == NULL ||
	    !ASN1_STRING_set(s, v, -1) ||
	    !PKCS7_add_signed_attribute(si, attr[i].nid,
	    V_ASN1_PRINTABLESTRING, s)) {
		ASN1_STRING_free(s);
		return 0;
	}
	return 1;	/* s now owned by si */
}

static int
add_octets(PKCS7_SIGNER_INFO *si, int i, const unsigned char *v, size_t n)
{
	ASN1_OCTET_STRING *s;

	if ((s = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(s, v, (int)n) ||
	    !PKCS7_add_signed_attribute(si, attr[i].nid, V_ASN1_OCTET_STRING,
	    s)) {
		ASN1_OCTET_STRING_free(s);
		return 0;
	}
	return 1;	/* s now owned by si */
}

/* inner (a certs-only PKCS#7) enveloped for the requester. */
static int
envelope(const struct scep_req *q, const unsigned char *inner, size_t ilen,
    unsigned char **der, size_t *len)
{
	STACK_OF(X509) *to = NULL;
	const EVP_CIPHER *c;
	PKCS7 *p7 = NULL;
	BIO *in = NULL;
	int rc;

	*der = NULL;
	if (ilen > INT_MAX ||
	    (c = EVP_get_cipherbynid(q->cipher_nid)) == NULL ||
	    (to = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(to, q->signer) ||
	    (in = BIO_new_mem_buf(inner, (int)ilen)) == NULL ||
	    (p7 = PKCS7_encrypt(to, in, c, PKCS7_BINARY)) == NULL)
		rc = uc_seterr_ssl(UC_E_CRYPTO, "enveloping the answer for "
		    "the SCEP client");
	else
		rc = p7_der(p7, der, len);
	PKCS7_free(p7);
	BIO_free(in);
	sk_X509_free(to);	/* the certificate stays q's */
	return rc;
}

/* The CertRep's attributes (RFC 8894 3.3.2). */
static int
reply_attrs(PKCS7_SIGNER_INFO *si, const struct scep_req *q, int status,
    int fail_info)
{
	unsigned char nonce[16];
	char num[12];

	if (RAND_bytes(nonce, sizeof(nonce)) <= 0 ||
	    !PKCS7_add_attrib_content_type(si, NULL) ||
	    !add_string(si, A_TID, q->tid) ||
	    !add_string(si, A_TYPE, "3") ||
	    !add_octets(si, A_SNONCE, nonce, sizeof(nonce)) ||
	    !add_octets(si, A_RNONCE, q->nonce, q->nonce_len))
		return 0;
	snprintf(num, sizeof(num), "%d", status);
	if (!add_string(si, A_STATUS, num))
		return 0;
	snprintf(num, sizeof(num), "%d", fail_info);
	return status != SCEP_FAILURE || add_string(si, A_FAIL, num);
}

/* The CertRep; SUCCESS envelopes inner (ilen bytes) for the client. */
static int
reply(const struct scep_req *q, X509 *ra_cert, EVP_PKEY *ra_key, int status,
    int fail_info, const unsigned char *inner, size_t ilen,
    unsigned char **der, size_t *len)
{
	PKCS7 *p7 = NULL;
	PKCS7_SIGNER_INFO *si;
	const EVP_MD *md;
	unsigned char *env = NULL;
	size_t envlen = 0;
	BIO *b = NULL;
	int rc;

	*der = NULL;
	*len = 0;
	if ((rc = attrs_ready()) != UC_OK)
		return rc;
	if (status == SCEP_SUCCESS && (rc = envelope(q, inner, ilen, &env,
	    &envlen)) != UC_OK)
		return rc;
	/* Answer in the client's digest; SHA-256 when it used none we know. */
	if ((md = EVP_get_digestbynid(md_allowed(q->md_nid) ? q->md_nid :
	    NID_sha256)) == NULL ||
	    (p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    (si = PKCS7_add_signature(p7, ra_cert, ra_key, md)) == NULL ||
	    !PKCS7_add_certificate(p7, ra_cert) ||
	    !reply_attrs(si, q, status, fail_info) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) ||
	    (b = PKCS7_dataInit(p7, NULL)) == NULL ||
	    (envlen > 0 && BIO_write(b, env, (int)envlen) != (int)envlen) ||
	    BIO_flush(b) <= 0 || !PKCS7_dataFinal(p7, b))
		rc = uc_seterr_ssl(UC_E_CRYPTO, "signing the SCEP CertRep");
	else
		rc = p7_der(p7, der, len);
	BIO_free_all(b);
	PKCS7_free(p7);
	free(env);
	return rc;
}

int
scep_reply(const struct scep_req *q, X509 *ra_cert, EVP_PKEY *ra_key,
    int status, int fail_info, X509 *cert, unsigned char **der, size_t *len)
{
	unsigned char *inner = NULL;
	size_t ilen = 0;
	int rc;

	if (status == SCEP_SUCCESS && (rc = pki_certs_p7(&cert, 1, NULL,
	    &inner, &ilen)) != UC_OK)
		return rc;
	rc = reply(q, ra_cert, ra_key, status, fail_info, inner, ilen, der,
	    len);
	free(inner);
	return rc;
}

/* ASN.1 header of tag (universal or context class) and length at *p. */
static void
put_hdr(unsigned char **p, int tag, int xclass, size_t len)
{
	ASN1_put_object(p, 1, (int)len, tag, xclass);
}

int
scep_certs_p7_der(const unsigned char *cert, size_t certlen,
    unsigned char **der, size_t *len)
{
	/* version 1, digestAlgorithms {}, contentInfo { data, [0] "" } */
	static const unsigned char head[] = { 0x02, 0x01, 0x01, 0x31, 0x00,
	    0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	    0x07, 0x01, 0xa0, 0x02, 0x04, 0x00 };
	static const unsigned char oid_signed[] = { 0x06, 0x09, 0x2a, 0x86,
	    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
	size_t certs, sd, expl, ci;
	unsigned char *p;

	*der = NULL;
	*len = 0;
	if (cert == NULL || certlen == 0 || certlen > INT_MAX / 2)
		return uc_seterr(UC_E_INVALID, "no certificate");
	/* [0] IMPLICIT certificates, then signerInfos {} */
	certs = (size_t)ASN1_object_size(1, (int)certlen, 0);
	sd = (size_t)ASN1_object_size(1, (int)(sizeof(head) + certs + 2),
	    V_ASN1_SEQUENCE);
	expl = (size_t)ASN1_object_size(1, (int)sd, 0);
	ci = (size_t)ASN1_object_size(1, (int)(sizeof(oid_signed) + expl),
	    V_ASN1_SEQUENCE);
	if ((*der = malloc(ci)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	p = *der;
	put_hdr(&p, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, sizeof(oid_signed) +
	    expl);
	memcpy(p, oid_signed, sizeof(oid_signed));
	p += sizeof(oid_signed);
	put_hdr(&p, 0, V_ASN1_CONTEXT_SPECIFIC, sd);
	put_hdr(&p, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, sizeof(head) + certs +
	    2);
	memcpy(p, head, sizeof(head));
	p += sizeof(head);
	put_hdr(&p, 0, V_ASN1_CONTEXT_SPECIFIC, certlen);
	memcpy(p, cert, certlen);
	p += certlen;
	*p++ = 0x31;
	*p++ = 0x00;
	*len = (size_t)(p - *der);
	return UC_OK;
}

int
scep_reply_der(const struct scep_req *q, X509 *ra_cert, EVP_PKEY *ra_key,
    const unsigned char *cert, size_t certlen, unsigned char **der,
    size_t *len)
{
	unsigned char *inner = NULL;
	size_t ilen = 0;
	int rc;

	if ((rc = scep_certs_p7_der(cert, certlen, &inner, &ilen)) != UC_OK)
		return rc;
	rc = reply(q, ra_cert, ra_key, SCEP_SUCCESS, 0, inner, ilen, der,
	    len);
	free(inner);
	return rc;
}

int
scep_reply_crl(const struct scep_req *q, X509 *ra_cert, EVP_PKEY *ra_key,
    X509_CRL *crl, unsigned char **der, size_t *len)
{
	unsigned char *inner = NULL;
	size_t ilen = 0;
	int rc;

	if ((rc = pki_certs_p7(NULL, 0, crl, &inner, &ilen)) != UC_OK)
		return rc;
	rc = reply(q, ra_cert, ra_key, SCEP_SUCCESS, 0, inner, ilen, der,
	    len);
	free(inner);
	return rc;
}

int
scep_ra_build(X509 *issuer, EVP_PKEY *pub, const char *org, const char *cn,
    int64_t not_before, int64_t not_after, X509 **out)
{
	/* Clients encrypt to it and check its signature on CertRep. */
	return pki_delegate_build(issuer, pub, org, cn, not_before, not_after,
	    "critical,digitalSignature,keyEncipherment", NULL, 0, out);
}
