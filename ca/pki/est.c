/*
 * est.c: EST (RFC 7030) encodings: base64 bodies (one line: RFC 7030
 * 4.1.3) and the CsrAttrs we answer /csrattrs with.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "pki_est.h"

int
est_b64_encode(const unsigned char *in, size_t len, char **out,
    size_t *outlen)
{
	char *s;

	*out = NULL;
	if (len > INT_MAX / 2 || (s = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	*outlen = (size_t)EVP_EncodeBlock((unsigned char *)s, in, (int)len);
	*out = s;
	return UC_OK;
}

int
est_b64_decode(const unsigned char *in, size_t len, unsigned char **out,
    size_t *outlen)
{
	EVP_ENCODE_CTX *ctx;
	unsigned char *b;
	int n = 0, m = 0, ok;

	*out = NULL;
	*outlen = 0;
	if (len == 0 || len > INT_MAX / 2)
		return uc_seterr(UC_E_INVALID, "empty or oversized base64");
	if ((b = malloc(len / 4 * 3 + 3)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((ctx = EVP_ENCODE_CTX_new()) == NULL) {
		free(b);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	EVP_DecodeInit(ctx);
	ok = EVP_DecodeUpdate(ctx, b, &n, in, (int)len) >= 0 &&
	    EVP_DecodeFinal(ctx, b + n, &m) == 1 && n + m > 0;
	EVP_ENCODE_CTX_free(ctx);
	if (!ok) {
		free(b);
		return uc_seterr(UC_E_INVALID, "the body is not base64");
	}
	*out = b;
	*outlen = (size_t)(n + m);
	return UC_OK;
}

/* One OBJECT IDENTIFIER into the sequence. */
static int
push_oid(STACK_OF(ASN1_TYPE) *seq, int nid)
{
	ASN1_TYPE *t;
	ASN1_OBJECT *o;

	if ((o = OBJ_nid2obj(nid)) == NULL || (t = ASN1_TYPE_new()) == NULL)
		return 0;
	ASN1_TYPE_set(t, V_ASN1_OBJECT, OBJ_dup(o));
	if (t->value.object == NULL || !sk_ASN1_TYPE_push(seq, t)) {
		ASN1_TYPE_free(t);
		return 0;
	}
	return 1;
}

int
est_csrattrs(enum key_type t, unsigned char **der, size_t *len)
{
	STACK_OF(ASN1_TYPE) *seq;
	unsigned char *p = NULL;
	int n, ok, rsa = t == KT_RSA2048 || t == KT_RSA3072 ||
	    t == KT_RSA4096;

	*der = NULL;
	if ((seq = sk_ASN1_TYPE_new_null()) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (rsa)
		ok = push_oid(seq, NID_rsaEncryption) &&
		    push_oid(seq, NID_sha256WithRSAEncryption);
	else if (t == KT_ED25519)
		ok = push_oid(seq, NID_ED25519);
	else
		ok = push_oid(seq, NID_X9_62_id_ecPublicKey) &&
		    push_oid(seq, t == KT_EC_P384 ? NID_secp384r1 :
		    NID_X9_62_prime256v1) &&
		    push_oid(seq, t == KT_EC_P384 ? NID_ecdsa_with_SHA384 :
		    NID_ecdsa_with_SHA256);
	if (!ok || (n = i2d_ASN1_SEQUENCE_ANY(seq, &p)) <= 0) {
		sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
		return uc_seterr_ssl(UC_E_CRYPTO, "encoding CsrAttrs");
	}
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	if ((*der = malloc((size_t)n)) != NULL)
		memcpy(*der, p, (size_t)n);
	OPENSSL_free(p);
	if (*der == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	*len = (size_t)n;
	return UC_OK;
}
