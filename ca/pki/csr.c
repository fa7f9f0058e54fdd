/*
 * csr.c: PKCS#10 requests from untrusted sources.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "pki_int.h"

#define CSR_MAX	(64 * 1024)

int
csr_parse(const unsigned char *buf, size_t len, X509_REQ **out)
{
	const unsigned char *p = buf;
	X509_REQ *req = NULL;
	BIO *bio = NULL;

	*out = NULL;
	if (len == 0)
		return uc_seterr(UC_E_INVALID, "the CSR is empty");
	if (len > CSR_MAX)
		return uc_seterr(UC_E_INVALID, "the CSR is larger than %d "
		    "bytes", CSR_MAX);
	if (buf[0] == 0x30) {
		req = d2i_X509_REQ(NULL, &p, (long)len);
		if (req != NULL && p != buf + len) {
			X509_REQ_free(req);
			return uc_seterr(UC_E_INVALID, "trailing data after "
			    "the DER CSR");
		}
	} else if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (req == NULL)
		return uc_seterr_ssl(UC_E_INVALID, "not a PEM or DER PKCS#10 "
		    "certificate request");
	*out = req;
	return UC_OK;
}

/*
 * What the request's SubjectPublicKeyInfo may hold besides the key itself.
 * EC: a named curve (explicit parameters matching P-256 decode as P-256);
 * the point may be in any form, cert_build() re-encodes it uncompressed.
 * RSA: NULL or absent parameters (cert_build() writes NULL) and exactly
 * the DER of the key's numbers: no trailing bytes, no padded integers.
 * The self-signature covers these bytes, but says nothing about them.
 */
static int
spki_check(X509_PUBKEY *xpk, const EVP_PKEY *k)
{
	ASN1_OBJECT *alg;
	const ASN1_OBJECT *pobj;
	const unsigned char *pk;
	const void *pval;
	X509_ALGOR *pa;
	unsigned char *der = NULL;
	size_t dlen;
	int pklen, ptype, rc;

	if (!X509_PUBKEY_get0_param(&alg, &pk, &pklen, &pa, xpk) ||
	    pklen <= 0)
		return uc_seterr_ssl(UC_E_INVALID, "the CSR's public key "
		    "cannot be read");
	X509_ALGOR_get0(&pobj, &ptype, &pval, pa);
	if (EVP_PKEY_is_a(k, "EC")) {
		if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey ||
		    ptype != V_ASN1_OBJECT)
			return uc_seterr(UC_E_POLICY, "the CSR's EC key has "
			    "explicit curve parameters (only named curves are "
			    "allowed)");
		return UC_OK;
	}
	if (!EVP_PKEY_is_a(k, "RSA"))
		return UC_OK;	/* key_check_public() decides */
	if (OBJ_obj2nid(alg) != NID_rsaEncryption)
		return uc_seterr(UC_E_POLICY, "the CSR's RSA key is not "
		    "rsaEncryption");
	if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		return uc_seterr(UC_E_INVALID, "the CSR's RSA key has "
		    "parameters other than NULL");
	if ((rc = key_rsa_pub_der(k, &der, &dlen)) != UC_OK)
		return rc;
	if (dlen != (size_t)pklen || memcmp(der, pk, dlen) != 0)
		rc = uc_seterr(UC_E_INVALID, "the CSR's RSA key is not DER "
		    "(padded integers or trailing bytes)");
	OPENSSL_free(der);
	return rc;
}

/*
 * RFC 5480 SubjectPublicKeyInfo of the named curves we take, up to the
 * uncompressed point's 0x04: SEQUENCE { SEQUENCE { id-ecPublicKey, curve
 * OID }, BIT STRING (no unused bits) }.
 */
static const unsigned char spki_p256[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
	0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
	0x42, 0x00, 0x04
};
static const unsigned char spki_p384[] = {
	0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
	0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04
};
static const unsigned char spki_p521[] = {
	0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x81, 0x86,
	0x00, 0x04
};
static const struct {
	const unsigned char	*prefix;
	size_t			 plen;
	size_t			 len;	/* the whole SPKI */
	const char		*group;
	int			 nid;
} spki_ec_known[] = {
	{ spki_p256, sizeof(spki_p256), 91, "P-256", NID_X9_62_prime256v1 },
	{ spki_p384, sizeof(spki_p384), 120, "P-384", NID_secp384r1 },
	{ spki_p521, sizeof(spki_p521), 158, "P-521", NID_secp521r1 },
};

#define N_EC_KNOWN	(sizeof(spki_ec_known) / sizeof(spki_ec_known[0]))

/*
 * Per curve of spki_ec_known, a key holding only the curve, made once:
 * a key of ours is a copy of it with the point set.  EVP_PKEY_fromdata()
 * builds the curve again for every key (four times the cost).  NULL when
 * it could not be made.  Never freed: a few hundred bytes a process.
 */
static EVP_PKEY *ec_curve[N_EC_KNOWN];
static CRYPTO_ONCE ec_curve_once = CRYPTO_ONCE_STATIC_INIT;

static void
ec_curve_init(void)
{
	OSSL_PARAM params[2];
	EVP_PKEY_CTX *ctx;
	size_t i;

	for (i = 0; i < N_EC_KNOWN; i++) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t)
		    spki_ec_known[i].group, 0);
		params[1] = OSSL_PARAM_construct_end();
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ==
		    NULL)
			continue;
		if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
		    EVP_PKEY_fromdata(ctx, &ec_curve[i],
		    EVP_PKEY_KEY_PARAMETERS, params) <= 0)
			ec_curve[i] = NULL;
		EVP_PKEY_CTX_free(ctx);
	}
}

/*
 * The key of an SPKI that is exactly one of spki_ec_known, made from its
 * point (EVP_PKEY_set1_encoded_public_key(), which refuses a point off
 * the curve): 1 and *pub, 0 when der is not such an SPKI, or a UC_E_*
 * code.  OpenSSL 3's d2i_X509_PUBKEY() finds a decoder for every key it
 * reads, about ten times the cost of this on an enrollment's hot path.
 */
static int
spki_ec_fast(const unsigned char *der, size_t len, EVP_PKEY **pub)
{
	EVP_PKEY *k;
	size_t i;

	*pub = NULL;
	for (i = 0; i < N_EC_KNOWN; i++)
		if (len == spki_ec_known[i].len &&
		    memcmp(der, spki_ec_known[i].prefix,
		    spki_ec_known[i].plen) == 0)
			break;
	if (i == N_EC_KNOWN)
		return 0;
	if (!CRYPTO_THREAD_run_once(&ec_curve_once, ec_curve_init) ||
	    ec_curve[i] == NULL || (k = EVP_PKEY_dup(ec_curve[i])) == NULL)
		return uc_seterr_ssl(UC_E_CRYPTO, "EC key on %s",
		    spki_ec_known[i].group);
	/* The point from its 0x04 on, the prefix's last byte. */
	if (EVP_PKEY_set1_encoded_public_key(k,
	    der + spki_ec_known[i].plen - 1,
	    len - spki_ec_known[i].plen + 1) != 1) {
		EVP_PKEY_free(k);
		return uc_seterr_ssl(UC_E_INVALID, "the public key is not a "
		    "point on %s", spki_ec_known[i].group);
	}
	*pub = k;	/* now owned by the caller */
	return 1;
}

int
spki_parse(const unsigned char *der, size_t len, X509_PUBKEY **xpk,
    EVP_PKEY **pub)
{
	const unsigned char *p = der;
	X509_PUBKEY *x = NULL;
	EVP_PKEY *k;
	int rc;

	*xpk = NULL;
	*pub = NULL;
	if (len == 0 || len > CSR_MAX)
		return uc_seterr(UC_E_INVALID, "the public key is empty or "
		    "too large");
	if ((rc = spki_ec_fast(der, len, &k)) != 0) {
		if (rc < 0)
			return rc;
		if ((rc = key_check_public(k)) != UC_OK) {
			EVP_PKEY_free(k);
			return rc;
		}
		*pub = k;	/* now owned by the caller */
		return UC_OK;
	}
	if ((x = d2i_X509_PUBKEY(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		X509_PUBKEY_free(x);
		return uc_seterr_ssl(UC_E_INVALID, "not a DER "
		    "SubjectPublicKeyInfo");
	}
	if ((k = X509_PUBKEY_get(x)) == NULL) {
		X509_PUBKEY_free(x);
		return uc_seterr_ssl(UC_E_INVALID, "the public key cannot be "
		    "decoded");
	}
	if ((rc = spki_check(x, k)) != UC_OK ||
	    (rc = key_check_public(k)) != UC_OK) {
		EVP_PKEY_free(k);
		X509_PUBKEY_free(x);
		return rc;
	}
	*xpk = x;	/* now owned by the caller */
	*pub = k;	/* now owned by the caller */
	return UC_OK;
}

int
spki_encode(EVP_PKEY *k, unsigned char **der, size_t *len)
{
	unsigned char *pt = NULL, *obuf = NULL;
	size_t ptlen = 0, i = N_EC_KNOWN;
	int nid = NID_undef, n;

	*der = NULL;
	*len = 0;
	if (EVP_PKEY_is_a(k, "EC")) {
		if (key_ec_point(k, &pt, &ptlen, &nid) != UC_OK)
			uc_clearerr();	/* i2d_PUBKEY() below decides */
		for (i = 0; i < N_EC_KNOWN; i++)
			if (nid == spki_ec_known[i].nid && ptlen ==
			    spki_ec_known[i].len - spki_ec_known[i].plen + 1)
				break;
	}
	if (i < N_EC_KNOWN) {
		/* The prefix up to its 0x04, then the point from its 0x04. */
		if ((*der = malloc(spki_ec_known[i].len)) == NULL) {
			OPENSSL_free(pt);
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
		memcpy(*der, spki_ec_known[i].prefix, spki_ec_known[i].plen - 1);
		memcpy(*der + spki_ec_known[i].plen - 1, pt, ptlen);
		*len = spki_ec_known[i].len;
		OPENSSL_free(pt);
		return UC_OK;
	}
	OPENSSL_free(pt);
	n = i2d_PUBKEY(k, &obuf);
	return ossl_take(obuf, n, 0, der, len, "a public key");
}

int
csr_check_req(const unsigned char *buf, size_t len, X509_REQ **out)
{
	X509_REQ *req = NULL;
	EVP_PKEY *k;
	int rc;

	*out = NULL;
	if ((rc = csr_parse(buf, len, &req)) != UC_OK)
		return rc;
	if ((k = X509_REQ_get0_pubkey(req)) == NULL) {
		rc = uc_seterr_ssl(UC_E_INVALID, "the CSR's public key cannot "
		    "be decoded");
		goto out;
	}
	/*
	 * The key first: a 512-bit RSA "signature" proves nothing, and one
	 * for the point at infinity can be made without any private key
	 * (u1*G + u2*O = u1*G: r = x(k*G), s = hash/k verify for any k).
	 */
	if ((rc = spki_check(X509_REQ_get_X509_PUBKEY(req), k)) != UC_OK ||
	    (rc = key_check_public(k)) != UC_OK)
		goto out;
	switch (X509_REQ_verify(req, k)) {
	case 1:
		break;
	case 0:
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the CSR's self-signature "
		    "does not verify (forged or corrupted request)");
		goto out;
	default:
		rc = uc_seterr_ssl(UC_E_SIGNATURE, "the CSR's self-signature "
		    "cannot be checked");
		goto out;
	}
	*out = req;
	req = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	X509_REQ_free(req);
	return rc;
}

int
csr_check(const unsigned char *buf, size_t len, EVP_PKEY **pub)
{
	X509_REQ *req = NULL;
	EVP_PKEY *k;
	int rc;

	*pub = NULL;
	if ((rc = csr_check_req(buf, len, &req)) != UC_OK)
		return rc;
	if ((k = X509_REQ_get0_pubkey(req)) == NULL || !EVP_PKEY_up_ref(k))
		rc = uc_seterr_ssl(UC_E_INTERNAL, "the CSR's public key");
	else
		*pub = k;
	X509_REQ_free(req);
	return rc;
}

/*
 * A PKCS#10 request as OpenSSL's templates decode it, except that the
 * CertificationRequestInfo (what the signature covers) and the key's
 * SubjectPublicKeyInfo stay the DER they came as (ANY keeps a SEQUENCE's
 * whole encoding): X509_REQ's own template makes an EVP_PKEY of the key
 * through OpenSSL 3's search for a decoder, most of the cost of a CSR.
 */
typedef struct {
	ASN1_TYPE		*info;
	X509_ALGOR		*alg;
	ASN1_BIT_STRING		*sig;
} CSR_RAW;

ASN1_SEQUENCE(CSR_RAW) = {
	ASN1_SIMPLE(CSR_RAW, info, ASN1_ANY),
	ASN1_SIMPLE(CSR_RAW, alg, X509_ALGOR),
	ASN1_SIMPLE(CSR_RAW, sig, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(CSR_RAW)

/* The fields and tags of X509_REQ_INFO, with the key as its DER. */
typedef struct {
	ASN1_INTEGER		*version;
	X509_NAME		*subject;
	ASN1_TYPE		*spki;
	STACK_OF(X509_ATTRIBUTE) *attrs;
} CSR_RAW_INFO;

ASN1_SEQUENCE(CSR_RAW_INFO) = {
	ASN1_SIMPLE(CSR_RAW_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(CSR_RAW_INFO, subject, X509_NAME),
	ASN1_SIMPLE(CSR_RAW_INFO, spki, ASN1_ANY),
	ASN1_IMP_SET_OF_OPT(CSR_RAW_INFO, attrs, X509_ATTRIBUTE, 0)
} static_ASN1_SEQUENCE_END(CSR_RAW_INFO)

/*
 * The DER inside buf (as csr_parse() finds it: DER, or one PEM block
 * "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") decoded whole as
 * CSR_RAW and its info as CSR_RAW_INFO: 1 and *raw, *info; 0 otherwise.
 */
static int
csr_raw_decode(const unsigned char *buf, size_t len, CSR_RAW **raw,
    CSR_RAW_INFO **info)
{
	const unsigned char *p, *der;
	unsigned char *pem = NULL;
	const ASN1_STRING *is;
	BIO *bio;
	long dlen = (long)len;
	int ok = 0;

	*raw = NULL;
	*info = NULL;
	der = buf;
	if (buf[0] != 0x30) {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
			return 0;
		ok = PEM_bytes_read_bio(&pem, &dlen, NULL, PEM_STRING_X509_REQ,
		    bio, NULL, NULL);
		BIO_free(bio);
		if (!ok)
			return 0;
		der = pem;
		ok = 0;
	}
	p = der;
	*raw = (CSR_RAW *)ASN1_item_d2i(NULL, &p, dlen,
	    ASN1_ITEM_rptr(CSR_RAW));
	if (*raw == NULL || p != der + dlen ||
	    (*raw)->info->type != V_ASN1_SEQUENCE)
		goto out;
	is = (*raw)->info->value.sequence;
	p = is->data;
	*info = (CSR_RAW_INFO *)ASN1_item_d2i(NULL, &p, is->length,
	    ASN1_ITEM_rptr(CSR_RAW_INFO));
	ok = *info != NULL && p == is->data + is->length &&
	    (*info)->spki->type == V_ASN1_SEQUENCE;
out:
	OPENSSL_free(pem);
	return ok;
}

/*
 * 1 with *spki (malloc'd) when buf is an ECDSA request with an RFC 5480
 * key that passes key_check_public() and whose self-signature verifies
 * over the info's bytes, as X509_REQ_verify() checks it (ASN1_item_verify:
 * the digest and key type from the algorithm, no unused bits in the
 * signature); 0 for anything else, which csr_check_req() then decides.
 */
static int
csr_fast(const unsigned char *buf, size_t len, unsigned char **spki,
    size_t *spkilen)
{
	CSR_RAW *raw = NULL;
	CSR_RAW_INFO *info = NULL;
	const ASN1_STRING *is, *ks;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *k = NULL;
	int mdnid, pknid, ok = 0;

	if (!csr_raw_decode(buf, len, &raw, &info) ||
	    !OBJ_find_sigid_algs(OBJ_obj2nid(raw->alg->algorithm), &mdnid,
	    &pknid) || mdnid == NID_undef ||
	    pknid != NID_X9_62_id_ecPublicKey ||
	    (raw->sig->flags & 0x7) != 0)
		goto out;
	is = raw->info->value.sequence;
	ks = info->spki->value.sequence;
	if (spki_ec_fast(ks->data, (size_t)ks->length, &k) != 1 ||
	    key_check_public(k) != UC_OK)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, NULL, OBJ_nid2sn(mdnid), NULL, NULL,
	    k, NULL) <= 0 || EVP_DigestVerify(md, raw->sig->data,
	    (size_t)raw->sig->length, is->data, (size_t)is->length) != 1)
		goto out;
	if ((*spki = malloc((size_t)ks->length)) == NULL)
		goto out;
	memcpy(*spki, ks->data, (size_t)ks->length);
	*spkilen = (size_t)ks->length;
	ok = 1;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	ASN1_item_free((ASN1_VALUE *)info, ASN1_ITEM_rptr(CSR_RAW_INFO));
	ASN1_item_free((ASN1_VALUE *)raw, ASN1_ITEM_rptr(CSR_RAW));
	return ok;
}

int
csr_check_spki(const unsigned char *buf, size_t len, unsigned char **spki,
    size_t *spkilen)
{
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	int rc, n;

	*spki = NULL;
	*spkilen = 0;
	if (len > 0 && len <= CSR_MAX) {
		ERR_set_mark();
		if (csr_fast(buf, len, spki, spkilen)) {
			ERR_pop_to_mark();
			return UC_OK;
		}
		/* Not for the short road: the long one decides and says why. */
		ERR_pop_to_mark();
		uc_clearerr();
	}
	if ((rc = csr_check_req(buf, len, &req)) != UC_OK)
		return rc;
	n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &der);
	X509_REQ_free(req);
	return ossl_take(der, n, 0, spki, spkilen, "the CSR's public key");
}

int
csr_make(struct signer *s, const char *org, const char *cn,
    unsigned char **pem, size_t *len)
{
	X509_REQ *req = NULL;
	X509_NAME *n = NULL;
	BIO *bio = NULL;
	char *data;
	long blen;
	int rc = UC_E_CRYPTO;

	*pem = NULL;
	if ((req = X509_REQ_new()) == NULL || (n = X509_NAME_new()) == NULL ||
	    !X509_REQ_set_version(req, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)org, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(req, n)) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "building a CSR");
		goto out;
	}
	if ((rc = signer_sign_req(s, req)) != UC_OK)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(bio, req) ||
	    (blen = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*pem = malloc((size_t)blen)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding a CSR");
		goto out;
	}
	memcpy(*pem, data, (size_t)blen);
	*len = (size_t)blen;
	rc = UC_OK;
out:
	BIO_free(bio);
	X509_NAME_free(n);
	X509_REQ_free(req);
	return rc;
}
