/*
 * p12.c: PKCS#12 bundles that devices can import.
 *
 * modern: PBES2 (AES-256-CBC, PBKDF2-HMAC-SHA256, 2048 iterations) for
 *         key and certs, HMAC-SHA256 MAC.  Built here from OpenSSL's
 *         PKCS#12 pieces rather than PKCS12_create_ex(), so that one key
 *         derivation serves both safes (see p12_build_modern()).
 * legacy: pbeWithSHAAnd3-KeyTripleDES-CBC for key and certs, HMAC-SHA1 MAC,
 *         for clients that cannot read AES PKCS#12 (older Windows, iOS,
 *         Android).  Never RC2-40: OpenSSL 3 cannot read it back without
 *         the legacy provider.
 */
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>

#include "pki.h"

#define P12_ITER	PKCS12_DEFAULT_ITER

int
p12_format_parse(const char *s, enum p12_format *out)
{
	if (strcasecmp(s, "modern") == 0)
		*out = P12_MODERN;
	else if (strcasecmp(s, "legacy") == 0)
		*out = P12_LEGACY;
	else
		return uc_seterr(UC_E_INVALID, "unknown PKCS#12 format '%.40s' "
		    "(modern or legacy)", s);
	return UC_OK;
}

const char *
p12_format_name(enum p12_format f)
{
	return f == P12_LEGACY ? "legacy" : "modern";
}

int
p12_check(const unsigned char *der, size_t len, const char *pass, X509 *cert)
{
	const unsigned char *p = der;
	PKCS12 *p12 = NULL;
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	STACK_OF(X509) *ca = NULL;
	int rc;

	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = uc_seterr_ssl(UC_E_INVALID, "not a PKCS#12 file");
		goto out;
	}
	if (!PKCS12_verify_mac(p12, pass, -1)) {
		ERR_clear_error();
		rc = uc_seterr(UC_E_PASSPHRASE, "the PKCS#12 password is wrong");
		goto out;
	}
	if (!PKCS12_parse(p12, pass, &k, &c, &ca) || k == NULL || c == NULL) {
		rc = uc_seterr_ssl(UC_E_INVALID, "the PKCS#12 file does not "
		    "open");
		goto out;
	}
	if (X509_cmp(c, cert) != 0 || X509_check_private_key(c, k) != 1) {
		rc = uc_seterr_ssl(UC_E_INVALID, "the PKCS#12 file does not "
		    "hold the expected certificate and key");
		goto out;
	}
	rc = UC_OK;
out:
	PKCS12_free(p12);
	EVP_PKEY_free(k);
	X509_free(c);
	sk_X509_pop_free(ca, X509_free);
	return rc;
}

/*
 * der parsed whole into *out, its MAC checked with pass by OpenSSL: the
 * first step of both read-backs.
 */
static int
p12_parse_mac(const unsigned char *der, size_t len, const char *pass,
    PKCS12 **out)
{
	const unsigned char *p = der;
	PKCS12 *p12;

	*out = NULL;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL || p != der + len) {
		PKCS12_free(p12);
		return uc_seterr_ssl(UC_E_INVALID, "not a PKCS#12 file");
	}
	if (!PKCS12_verify_mac(p12, pass, -1)) {
		PKCS12_free(p12);
		return uc_seterr_ssl(UC_E_PASSPHRASE, "the PKCS#12 MAC does not "
		    "verify with the password");
	}
	*out = p12;
	return UC_OK;
}

/*
 * The read-back after building, without the full parse: the MAC is
 * checked once, the key bag decrypted and compared with the key's own
 * PKCS#8, the certificate bags decrypted and the leaf found by its DER.
 * Everything a device will do with the password is done; what is skipped
 * is decoding objects we just encoded (60% of the cost of PKCS12_parse).
 */
static int
p12_readback(const unsigned char *der, size_t len, const char *pass,
    EVP_PKEY *key, X509 *cert)
{
	PKCS12 *p12 = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	PKCS8_PRIV_KEY_INFO *want = NULL, *got = NULL;
	X509 *x = NULL;
	unsigned char *wder = NULL, *gder = NULL;
	int wlen = 0, glen = 0, i, j, key_ok = 0, cert_ok = 0, rc;

	if ((rc = p12_parse_mac(der, len, pass, &p12)) != UC_OK)
		goto out;
	if ((want = EVP_PKEY2PKCS8(key)) == NULL ||
	    (wlen = i2d_PKCS8_PRIV_KEY_INFO(want, &wder)) <= 0 ||
	    (safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "PKCS#12 read-back");
		goto out;
	}
	for (i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);

		switch (OBJ_obj2nid(p7->type)) {
		case NID_pkcs7_data:
			bags = PKCS12_unpack_p7data(p7);
			break;
		case NID_pkcs7_encrypted:
			bags = PKCS12_unpack_p7encdata(p7, pass, -1);
			break;
		default:
			bags = NULL;
			break;
		}
		if (bags == NULL) {
			rc = uc_seterr_ssl(UC_E_CRYPTO, "PKCS#12 read-back: a "
			    "safe does not open");
			goto out;
		}
		for (j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);

			switch (PKCS12_SAFEBAG_get_nid(bag)) {
			case NID_pkcs8ShroudedKeyBag:
				PKCS8_PRIV_KEY_INFO_free(got);
				if (gder != NULL) {
					OPENSSL_cleanse(gder, (size_t)glen);
					OPENSSL_free(gder);
				}
				gder = NULL;
				glen = 0;
				if ((got = PKCS12_decrypt_skey(bag, pass,
				    -1)) != NULL && (glen =
				    i2d_PKCS8_PRIV_KEY_INFO(got, &gder)) ==
				    wlen && memcmp(gder, wder, (size_t)wlen) ==
				    0)
					key_ok = 1;
				break;
			case NID_certBag:
				/* Only the leaf carries the key's localKeyID. */
				if (cert_ok || PKCS12_get_attr_gen(
				    PKCS12_SAFEBAG_get0_attrs(bag),
				    NID_localKeyID) == NULL)
					break;
				if ((x = PKCS12_SAFEBAG_get1_cert(bag)) !=
				    NULL && X509_cmp(x, cert) == 0)
					cert_ok = 1;
				X509_free(x);
				x = NULL;
				break;
			default:
				break;
			}
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		bags = NULL;
	}
	if (!key_ok || !cert_ok) {
		rc = uc_seterr(UC_E_INVALID, "the PKCS#12 file does not hold "
		    "the %s", !key_ok ? "key" : "certificate");
		goto out;
	}
	ERR_clear_error();
	rc = UC_OK;
out:
	if (wder != NULL) {
		OPENSSL_cleanse(wder, (size_t)wlen);
		OPENSSL_free(wder);
	}
	if (gder != NULL) {
		OPENSSL_cleanse(gder, (size_t)glen);
		OPENSSL_free(gder);
	}
	PKCS8_PRIV_KEY_INFO_free(want);
	PKCS8_PRIV_KEY_INFO_free(got);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	return rc;
}

/*
 * modern: one PBKDF2 for both safes.
 *
 * PKCS12_create_ex() derives a fresh key for every safe it encrypts, and a
 * read-back through PKCS12_parse() derives each again: four PBKDF2 runs of
 * 2048 HMAC-SHA256 iterations, 80% of the CPU time of a batch.  Here the
 * key bag and the certificate safe use one salt, so one derivation K
 * serves both (each with its own random IV, as AES-CBC requires); a reader
 * still derives K from the salt, iteration count and PRF written in each
 * AlgorithmIdentifier, so the files are ordinary PBES2 PKCS#12.  Passwords
 * are handed to PBKDF2 as their bytes, as OpenSSL does for PBES2.
 */
#define P12_SALT_LEN	16
#define P12_KEY_LEN	32	/* AES-256 */
#define P12_IV_LEN	16

struct pbes2 {
	unsigned char	 k[P12_KEY_LEN];
	unsigned char	 salt[P12_SALT_LEN];
	unsigned char	 key_iv[P12_IV_LEN];	/* the key bag's */
	unsigned char	 cert_iv[P12_IV_LEN];	/* the certificate safe's */
	X509_ALGOR	*key_alg;		/* borrowed from the key bag */
	X509_ALGOR	*cert_alg;		/* borrowed from the cert safe */
};

/* AES-256-CBC of in under the derived key and iv, into a new buffer. */
static int
pbes2_cipher(const struct pbes2 *pb, const unsigned char *iv, int enc,
    const unsigned char *in, int inlen, unsigned char **out, int *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	int n = 0, fin = 0, ok = 0;

	*out = NULL;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    (buf = OPENSSL_malloc((size_t)inlen + P12_IV_LEN)) == NULL)
		goto out;
	if (EVP_CipherInit_ex2(ctx, EVP_aes_256_cbc(), pb->k, iv, enc,
	    NULL) <= 0 || EVP_CipherUpdate(ctx, buf, &n, in, inlen) <= 0 ||
	    EVP_CipherFinal_ex(ctx, buf + n, &fin) <= 0)
		goto out;
	*out = buf;
	*outlen = n + fin;
	buf = NULL;	/* now owned by the caller */
	ok = 1;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)inlen + P12_IV_LEN);
		OPENSSL_free(buf);
	}
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/*
 * The PBES2 AlgorithmIdentifier for iv (salt, iterations and PRF from pb)
 * and pt encrypted under it.
 */
static int
pbes2_seal(struct pbes2 *pb, unsigned char *iv, const unsigned char *pt,
    int ptlen, X509_ALGOR **alg, ASN1_OCTET_STRING **ct)
{
	unsigned char *buf = NULL;
	int n = 0;

	*ct = NULL;
	if ((*alg = PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), P12_ITER, pb->salt,
	    P12_SALT_LEN, iv, NID_hmacWithSHA256, NULL)) == NULL)
		return 0;
	if (!pbes2_cipher(pb, iv, 1, pt, ptlen, &buf, &n) ||
	    (*ct = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(*ct, buf, n)) {
		OPENSSL_free(buf);
		ASN1_OCTET_STRING_free(*ct);
		X509_ALGOR_free(*alg);
		*alg = NULL;
		*ct = NULL;
		return 0;
	}
	OPENSSL_free(buf);	/* ciphertext: nothing to wipe */
	return 1;
}

/*
 * 1 if a and b encode to the same DER.  X509_ALGOR_cmp() is no use here:
 * both hold their parameters as an ASN1_TYPE of type SEQUENCE, but the
 * ASN1_STRING inside is typed OCTET STRING by PKCS5_pbe2_set_iv_ex() and
 * SEQUENCE by the decoder, and the comparison looks at that type too.
 */
static int
algor_same(const X509_ALGOR *a, const X509_ALGOR *b)
{
	unsigned char *da = NULL, *db = NULL;
	int na, nb, same;

	na = i2d_X509_ALGOR(a, &da);
	nb = i2d_X509_ALGOR(b, &db);
	same = na > 0 && na == nb && memcmp(da, db, (size_t)na) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

/* 1 if ct, sealed under alg, decrypts with pb and iv to exactly want. */
static int
pbes2_opens_to(const struct pbes2 *pb, const X509_ALGOR *alg,
    const X509_ALGOR *ours, const unsigned char *iv,
    const ASN1_OCTET_STRING *ct, const unsigned char *want, int wantlen)
{
	unsigned char *pt = NULL;
	int n = 0, ok;

	/*
	 * Same salt, iterations, PRF, cipher and IV as we derived K for, so
	 * K is what a reader derives from the password.
	 */
	if (alg == NULL || ct == NULL || !algor_same(alg, ours))
		return 0;
	if (!pbes2_cipher(pb, iv, 0, ASN1_STRING_get0_data(ct),
	    ASN1_STRING_length(ct), &pt, &n))
		return 0;
	ok = n == wantlen && CRYPTO_memcmp(pt, want, (size_t)n) == 0;
	OPENSSL_cleanse(pt, (size_t)n);
	OPENSSL_free(pt);
	return ok;
}

/*
 * Whether OpenSSL's reader has been seen to derive, from a password and a
 * file's parameters, the K this code derives: checked on the first modern
 * file a process makes (see p12_readback_modern()).
 */
static atomic_int reader_agrees;

/* 1 if every byte of pass is printable ASCII (all generated passwords). */
static int
pass_ascii(const char *pass)
{
	const unsigned char *p;

	for (p = (const unsigned char *)pass; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return 0;
	return 1;
}

/*
 * The read-back of a modern file: parsed from its bytes, MAC checked with
 * the password by OpenSSL, then each safe's parameters compared with the
 * ones K was derived for and each safe decrypted and compared byte for
 * byte with what was sealed (the key's PKCS#8, the certificate bags).
 *
 * K itself is not derived again: it is a function of the password and of
 * the parameters just compared.  What that leaves unchecked is whether a
 * reader's derivation is the same function as ours, and that is checked
 * through OpenSSL's own PKCS#12 reader (the key bag opened with the
 * password, one more PBKDF2) on the first file of each process and on
 * every file whose password has bytes outside printable ASCII, the one
 * place PKCS#12 implementations differ.
 */
static int
p12_readback_modern(const unsigned char *der, size_t len, const char *pass,
    const struct pbes2 *pb, const unsigned char *p8, int p8len,
    const unsigned char *certs, int certslen, const unsigned char *keyid,
    int keyidlen)
{
	PKCS8_PRIV_KEY_INFO *rp8 = NULL;
	unsigned char *rder = NULL;
	int rlen = 0, full;
	PKCS12 *p12 = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	PKCS7 *cs, *ks;
	PKCS12_SAFEBAG *kb;
	const X509_ALGOR *kalg;
	const ASN1_OCTET_STRING *kct;
	const ASN1_TYPE *id;
	int rc = UC_E_CRYPTO;

	if ((rc = p12_parse_mac(der, len, pass, &p12)) != UC_OK)
		goto out;
	if ((safes = PKCS12_unpack_authsafes(p12)) == NULL ||
	    sk_PKCS7_num(safes) != 2) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: not the "
		    "two safes written");
		goto out;
	}
	cs = sk_PKCS7_value(safes, 0);
	ks = sk_PKCS7_value(safes, 1);
	if (OBJ_obj2nid(cs->type) != NID_pkcs7_encrypted ||
	    cs->d.encrypted == NULL || cs->d.encrypted->enc_data == NULL ||
	    !pbes2_opens_to(pb, cs->d.encrypted->enc_data->algorithm,
	    pb->cert_alg, pb->cert_iv, cs->d.encrypted->enc_data->enc_data,
	    certs, certslen)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: the "
		    "certificate safe does not open to the certificates");
		goto out;
	}
	if (OBJ_obj2nid(ks->type) != NID_pkcs7_data ||
	    (bags = PKCS12_unpack_p7data(ks)) == NULL ||
	    sk_PKCS12_SAFEBAG_num(bags) != 1 ||
	    PKCS12_SAFEBAG_get_nid(kb = sk_PKCS12_SAFEBAG_value(bags, 0)) !=
	    NID_pkcs8ShroudedKeyBag) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: no key "
		    "bag");
		goto out;
	}
	X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(kb), &kalg, &kct);
	if (!pbes2_opens_to(pb, kalg, pb->key_alg, pb->key_iv, kct, p8,
	    p8len)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: the key "
		    "bag does not open to the key");
		goto out;
	}
	full = !atomic_load(&reader_agrees) || !pass_ascii(pass);
	if (full && ((rp8 = PKCS12_decrypt_skey(kb, pass, -1)) == NULL ||
	    (rlen = i2d_PKCS8_PRIV_KEY_INFO(rp8, &rder)) != p8len ||
	    CRYPTO_memcmp(rder, p8, (size_t)p8len) != 0)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: the key "
		    "bag does not open with the password through OpenSSL's "
		    "reader");
		goto out;
	}
	/* Devices pair the key with its certificate by localKeyID. */
	if ((id = PKCS12_get_attr_gen(PKCS12_SAFEBAG_get0_attrs(kb),
	    NID_localKeyID)) == NULL || id->type != V_ASN1_OCTET_STRING ||
	    ASN1_STRING_length(id->value.octet_string) != keyidlen ||
	    memcmp(ASN1_STRING_get0_data(id->value.octet_string), keyid,
	    (size_t)keyidlen) != 0) {
		rc = uc_seterr(UC_E_INVALID, "PKCS#12 read-back: the key "
		    "bag's localKeyID is not the certificate's");
		goto out;
	}
	if (full)
		atomic_store(&reader_agrees, 1);
	ERR_clear_error();
	rc = UC_OK;
out:
	if (rder != NULL) {
		OPENSSL_cleanse(rder, (size_t)rlen);
		OPENSSL_free(rder);
	}
	PKCS8_PRIV_KEY_INFO_free(rp8);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	return rc;
}

/*
 * 1 if key is the private half of cert's public key.  A user certificate
 * fresh from cert_build() carries its EC key only as encoded (see
 * spki_ec()), so for EC the curve and point are compared as encoded.
 */
static int
key_matches_cert(EVP_PKEY *key, X509 *cert)
{
	X509_PUBKEY *xpk;
	ASN1_OBJECT *alg;
	const ASN1_OBJECT *aobj;
	const unsigned char *bits;
	const void *pval;
	X509_ALGOR *pa;
	EVP_PKEY *cpub;
	unsigned char *pt = NULL;
	char group[80];
	size_t ptlen, glen = 0;
	int nbits, ptype, ok;

	if (!EVP_PKEY_is_a(key, "EC")) {
		ok = (cpub = X509_get0_pubkey(cert)) != NULL &&
		    EVP_PKEY_eq(key, cpub) == 1;
		return ok;
	}
	if ((xpk = X509_get_X509_PUBKEY(cert)) == NULL ||
	    !X509_PUBKEY_get0_param(&alg, &bits, &nbits, &pa, xpk) ||
	    OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey)
		return 0;
	X509_ALGOR_get0(&aobj, &ptype, &pval, pa);	/* pval: the curve */
	if (ptype != V_ASN1_OBJECT ||
	    !EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) ||
	    OBJ_txt2nid(group) == NID_undef ||
	    OBJ_obj2nid(pval) != OBJ_txt2nid(group) ||
	    (ptlen = EVP_PKEY_get1_encoded_public_key(key, &pt)) == 0) {
		OPENSSL_free(pt);
		return 0;
	}
	ok = nbits >= 0 && ptlen == (size_t)nbits &&
	    memcmp(pt, bits, ptlen) == 0;
	OPENSSL_free(pt);
	return ok;
}

/* A bag with the friendly name and localKeyID PKCS12_create_ex() sets. */
static int
bag_attrs(PKCS12_SAFEBAG *bag, const char *friendly, unsigned char *keyid,
    int keyidlen)
{
	return (friendly == NULL ||
	    PKCS12_add_friendlyname_utf8(bag, friendly, -1)) &&
	    PKCS12_add_localkeyid(bag, keyid, keyidlen);
}

static int
p12_build_modern(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *friendly, const char *pass, unsigned char **der,
    size_t *len)
{
	struct pbes2 pb;
	unsigned char keyid[EVP_MAX_MD_SIZE], *p8der = NULL, *certsder = NULL;
	unsigned char *buf = NULL;
	unsigned int keyidlen = 0;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *sig = NULL;
	X509_ALGOR *alg = NULL, *salg;
	ASN1_OCTET_STRING *ct = NULL, *sct;
	STACK_OF(PKCS12_SAFEBAG) *kbags = NULL, *cbags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12_SAFEBAG *bag = NULL;
	PKCS7 *p7 = NULL;
	PKCS12 *p12 = NULL;
	int p8len = 0, certslen = 0, n = 0, i, rc = UC_E_CRYPTO;

	memset(&pb, 0, sizeof(pb));
	if (!key_matches_cert(key, cert)) {
		ERR_clear_error();
		return uc_seterr(UC_E_INVALID, "the key does not belong to the "
		    "certificate");
	}
	if (RAND_bytes(pb.salt, sizeof(pb.salt)) <= 0 ||
	    RAND_bytes(pb.key_iv, sizeof(pb.key_iv)) <= 0 ||
	    RAND_bytes(pb.cert_iv, sizeof(pb.cert_iv)) <= 0 ||
	    !PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), pb.salt,
	    sizeof(pb.salt), P12_ITER, EVP_sha256(), sizeof(pb.k), pb.k) ||
	    !X509_digest(cert, EVP_sha1(), keyid, &keyidlen))
		goto fail;

	/* The key: a shrouded key bag in a plain data safe. */
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    (p8len = i2d_PKCS8_PRIV_KEY_INFO(p8, &p8der)) <= 0 ||
	    !pbes2_seal(&pb, pb.key_iv, p8der, p8len, &alg, &ct) ||
	    (sig = X509_SIG_new()) == NULL)
		goto fail;
	X509_SIG_getm(sig, &salg, &sct);
	if (!X509_ALGOR_copy(salg, alg) || !ASN1_STRING_copy(sct, ct))
		goto fail;
	pb.key_alg = salg;
	if ((bag = PKCS12_SAFEBAG_create0_pkcs8(sig)) == NULL)
		goto fail;
	sig = NULL;	/* now owned by the bag */
	if (!bag_attrs(bag, friendly, keyid, (int)keyidlen) ||
	    (kbags = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    !sk_PKCS12_SAFEBAG_push(kbags, bag))
		goto fail;
	bag = NULL;	/* now owned by kbags */
	X509_ALGOR_free(alg);
	ASN1_OCTET_STRING_free(ct);
	alg = NULL;
	ct = NULL;

	/* The leaf and the chain: one encrypted safe. */
	if ((cbags = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    (bag = PKCS12_SAFEBAG_create_cert(cert)) == NULL ||
	    !bag_attrs(bag, friendly, keyid, (int)keyidlen) ||
	    !sk_PKCS12_SAFEBAG_push(cbags, bag))
		goto fail;
	bag = NULL;	/* now owned by cbags */
	for (i = 0; i < sk_X509_num(chain); i++) {
		if ((bag = PKCS12_SAFEBAG_create_cert(sk_X509_value(chain,
		    i))) == NULL || !sk_PKCS12_SAFEBAG_push(cbags, bag))
			goto fail;
		bag = NULL;	/* now owned by cbags */
	}
	if ((certslen = ASN1_item_i2d((ASN1_VALUE *)cbags, &certsder,
	    ASN1_ITEM_rptr(PKCS12_SAFEBAGS))) <= 0 ||
	    (p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_encrypted) ||
	    !pbes2_seal(&pb, pb.cert_iv, certsder, certslen, &alg, &ct))
		goto fail;
	X509_ALGOR_free(p7->d.encrypted->enc_data->algorithm);
	p7->d.encrypted->enc_data->algorithm = alg;
	pb.cert_alg = alg;
	alg = NULL;	/* now owned by p7 */
	ASN1_OCTET_STRING_free(p7->d.encrypted->enc_data->enc_data);
	p7->d.encrypted->enc_data->enc_data = ct;
	ct = NULL;	/* now owned by p7 */

	/* Certificates first, then the key, as PKCS12_create_ex() does. */
	if ((safes = sk_PKCS7_new_null()) == NULL ||
	    !sk_PKCS7_push(safes, p7))
		goto fail;
	p7 = NULL;	/* now owned by safes */
	if ((p7 = PKCS12_pack_p7data(kbags)) == NULL ||
	    !sk_PKCS7_push(safes, p7))
		goto fail;
	p7 = NULL;	/* now owned by safes */
	if ((p12 = PKCS12_add_safes(safes, 0)) == NULL ||
	    !PKCS12_set_mac(p12, pass, -1, NULL, 0, P12_ITER, EVP_sha256()) ||
	    (n = i2d_PKCS12(p12, &buf)) <= 0)
		goto fail;

	/* Read it back: a file that does not open must never be handed out. */
	if ((rc = p12_readback_modern(buf, (size_t)n, pass, &pb, p8der, p8len,
	    certsder, certslen, keyid, (int)keyidlen)) != UC_OK) {
		rc = uc_errprefix(UC_E_CRYPTO, "PKCS#12 read-back check");
		goto out;
	}
	*der = buf;
	*len = (size_t)n;
	buf = NULL;	/* now owned by the caller */
	rc = UC_OK;
	goto out;
fail:
	rc = uc_seterr_ssl(UC_E_CRYPTO, "building the PKCS#12 file");
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)n);
		OPENSSL_free(buf);
	}
	if (p8der != NULL) {
		OPENSSL_cleanse(p8der, (size_t)p8len);
		OPENSSL_free(p8der);
	}
	OPENSSL_free(certsder);
	OPENSSL_cleanse(&pb, sizeof(pb));
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	X509_ALGOR_free(alg);
	ASN1_OCTET_STRING_free(ct);
	PKCS12_SAFEBAG_free(bag);
	PKCS7_free(p7);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(kbags, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(cbags, PKCS12_SAFEBAG_free);
	PKCS12_free(p12);
	return rc;
}

int
p12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *friendly, const char *pass, enum p12_format f,
    unsigned char **der, size_t *len)
{
	PKCS12 *p12 = NULL;
	X509 *full = NULL;
	unsigned char *buf = NULL;
	int n = 0, rc = UC_E_CRYPTO;
	const int nid = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;

	*der = NULL;
	if (f == P12_MODERN)
		return p12_build_modern(key, cert, chain, friendly, pass, der,
		    len);
	/*
	 * legacy.  PKCS12_create_ex() matches the key with the certificate's
	 * decoded public key, which a certificate fresh from cert_build() may
	 * not have yet: a copy parsed from DER has it.  mac_iter -1: no MAC
	 * here, we set it below with SHA-1.
	 */
	if ((full = X509_dup(cert)) == NULL ||
	    (p12 = PKCS12_create_ex(pass, friendly, key, full, chain, nid, nid,
	    P12_ITER, -1, 0, NULL, NULL)) == NULL ||
	    !PKCS12_set_mac(p12, pass, -1, NULL, 0, P12_ITER, EVP_sha1())) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "building the PKCS#12 file");
		goto out;
	}
	if ((n = i2d_PKCS12(p12, &buf)) <= 0) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding the PKCS#12 file");
		goto out;
	}
	/* Read it back: a file that does not open must never be handed out. */
	if ((rc = p12_readback(buf, (size_t)n, pass, key, full)) != UC_OK) {
		rc = uc_errprefix(UC_E_CRYPTO, "PKCS#12 read-back check");
		goto out;
	}
	*der = buf;
	*len = (size_t)n;
	buf = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)n);
		OPENSSL_free(buf);
	}
	X509_free(full);
	PKCS12_free(p12);
	return rc;
}
