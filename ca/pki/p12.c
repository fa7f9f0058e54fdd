/*
 * p12.c: PKCS#12 bundles that devices can import.
 *
 * modern: PBES2 (AES-256-CBC, PBKDF2-HMAC-SHA256, 2048 iterations) for
 *         key and certs, HMAC-SHA256 MAC.
 * legacy: pbeWithSHAAnd3-KeyTripleDES-CBC for key and certs, HMAC-SHA1 MAC,
 *         for clients that cannot read AES PKCS#12 (older Windows, iOS,
 *         Android).  Never RC2-40: OpenSSL 3 cannot read it back without
 *         the legacy provider.
 *
 * Both are assembled from OpenSSL's PKCS#12 pieces rather than made by
 * PKCS12_create_ex(), so that the read-back need not derive every key
 * again, and a modern file needs one key derivation, not two (see the
 * comment above struct sealer).
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
 * Both formats are built here from OpenSSL's PKCS#12 pieces rather than
 * with PKCS12_create_ex(), which derives a fresh key for every safe it
 * encrypts (and a read-back through the password derives each again):
 * 2048-iteration derivations were 80% of the CPU of a batch.
 *
 * modern: the key bag and the certificate safe share one salt, so one
 *         PBKDF2-HMAC-SHA256 result K serves both, each with its own
 *         random IV, as AES-CBC requires.  Passwords go to PBKDF2 as their
 *         bytes, as OpenSSL does for PBES2.
 * legacy: pbeWithSHAAnd3-KeyTripleDES-CBC derives the IV from the salt
 *         too, so each safe has its own salt, key and IV (four PKCS#12
 *         KDF runs, as before); only the read-back's are saved.
 *
 * A reader derives each safe's key from the salt, iteration count and
 * algorithm written in its AlgorithmIdentifier, so the files are ordinary
 * PKCS#12, laid out as PKCS12_create_ex() lays them out: the certificates
 * in one encrypted safe, then the shrouded key bag in a plain one, with
 * friendlyName and localKeyID on the key and the leaf.
 */
#define P12_SALT_LEN	16	/* modern; legacy keeps OpenSSL's 8 */
#define P12_KEY_MAX	32	/* AES-256; 3DES is 24 */
#define P12_IV_MAX	16	/* AES; 3DES is 8 */

/* The key and IV one safe was sealed with. */
struct seal {
	unsigned char	 key[P12_KEY_MAX];
	unsigned char	 iv[P12_IV_MAX];
	X509_ALGOR	*alg;		/* borrowed from the bag or safe */
};

struct sealer {
	enum p12_format	 f;
	const EVP_CIPHER *cipher;
	const char	*pass;
	unsigned char	 k[P12_KEY_MAX];	/* modern: the one PBKDF2 */
	unsigned char	 salt[P12_SALT_LEN];	/* modern: its salt */
	struct seal	 keybag, certs;
};

static int
sealer_init(struct sealer *sr, enum p12_format f, const char *pass)
{
	memset(sr, 0, sizeof(*sr));
	sr->f = f;
	sr->pass = pass;
	if (f == P12_LEGACY) {
		sr->cipher = EVP_des_ede3_cbc();
		return 1;
	}
	sr->cipher = EVP_aes_256_cbc();
	return RAND_bytes(sr->salt, sizeof(sr->salt)) > 0 &&
	    PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), sr->salt,
	    sizeof(sr->salt), P12_ITER, EVP_sha256(), 32, sr->k);
}

/* Key, IV and AlgorithmIdentifier for a new safe. */
static int
seal_new(struct sealer *sr, struct seal *se, X509_ALGOR **alg)
{
	unsigned char salt[PKCS5_SALT_LEN];
	const int nid = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
	int plen = (int)strlen(sr->pass);

	*alg = NULL;
	if (sr->f == P12_MODERN) {
		memcpy(se->key, sr->k, sizeof(se->key));
		if (RAND_bytes(se->iv, 16) <= 0)
			return 0;
		*alg = PKCS5_pbe2_set_iv_ex(sr->cipher, P12_ITER, sr->salt,
		    sizeof(sr->salt), se->iv, NID_hmacWithSHA256, NULL);
		return *alg != NULL;
	}
	/* What PKCS12_PBE_keyivgen_ex() derives from this salt. */
	if (RAND_bytes(salt, sizeof(salt)) <= 0 ||
	    !PKCS12_key_gen_utf8_ex(sr->pass, plen, salt, sizeof(salt),
	    PKCS12_KEY_ID, P12_ITER, EVP_CIPHER_get_key_length(sr->cipher),
	    se->key, EVP_sha1(), NULL, NULL) ||
	    !PKCS12_key_gen_utf8_ex(sr->pass, plen, salt, sizeof(salt),
	    PKCS12_IV_ID, P12_ITER, EVP_CIPHER_get_iv_length(sr->cipher),
	    se->iv, EVP_sha1(), NULL, NULL))
		return 0;
	*alg = PKCS5_pbe_set_ex(nid, P12_ITER, salt, sizeof(salt), NULL);
	return *alg != NULL;
}

/* in en- or decrypted with se's key and IV, into a new buffer. */
static int
seal_cipher(const struct sealer *sr, const struct seal *se, int enc,
    const unsigned char *in, int inlen, unsigned char **out, int *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	int n = 0, fin = 0, ok = 0;

	*out = NULL;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    (buf = OPENSSL_malloc((size_t)inlen + P12_IV_MAX)) == NULL)
		goto out;
	if (EVP_CipherInit_ex2(ctx, sr->cipher, se->key, se->iv, enc,
	    NULL) <= 0 || EVP_CipherUpdate(ctx, buf, &n, in, inlen) <= 0 ||
	    EVP_CipherFinal_ex(ctx, buf + n, &fin) <= 0)
		goto out;
	*out = buf;
	*outlen = n + fin;
	buf = NULL;	/* now owned by the caller */
	ok = 1;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)inlen + P12_IV_MAX);
		OPENSSL_free(buf);
	}
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* A new safe's AlgorithmIdentifier, and pt encrypted under it. */
static int
seal(struct sealer *sr, struct seal *se, const unsigned char *pt, int ptlen,
    X509_ALGOR **alg, ASN1_OCTET_STRING **ct)
{
	unsigned char *buf = NULL;
	int n = 0;

	*ct = NULL;
	if (!seal_new(sr, se, alg))
		return 0;
	if (!seal_cipher(sr, se, 1, pt, ptlen, &buf, &n) ||
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

/* 1 if ct, found under alg, is what se sealed: exactly want. */
static int
seal_opens_to(const struct sealer *sr, const struct seal *se,
    const X509_ALGOR *alg, const ASN1_OCTET_STRING *ct,
    const unsigned char *want, int wantlen)
{
	unsigned char *pt = NULL;
	int n = 0, ok;

	/*
	 * The same algorithm, salt, iterations (PRF and IV) as se's key was
	 * derived for, so that key is what a reader derives from the
	 * password.
	 */
	if (alg == NULL || ct == NULL || !algor_same(alg, se->alg))
		return 0;
	if (!seal_cipher(sr, se, 0, ASN1_STRING_get0_data(ct),
	    ASN1_STRING_length(ct), &pt, &n))
		return 0;
	ok = n == wantlen && CRYPTO_memcmp(pt, want, (size_t)n) == 0;
	OPENSSL_cleanse(pt, (size_t)n);
	OPENSSL_free(pt);
	return ok;
}

/*
 * Per format, whether OpenSSL's reader has been seen to derive, from a
 * password and a file's parameters, the key this code derives: checked on
 * the first file of each format a process makes (see p12_readback()).
 */
static atomic_int reader_agrees[2];

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
 * 1 if the key's PKCS#8 and the certificate safe's contents decode, whole,
 * into a PKCS#8 and into ncerts certificate bags.
 */
static int
sealed_decodes(const unsigned char *p8, int p8len, const unsigned char *certs,
    int certslen, int ncerts)
{
	const unsigned char *p;
	PKCS8_PRIV_KEY_INFO *k;
	STACK_OF(PKCS12_SAFEBAG) *bags;
	int i, ok;

	p = p8;
	k = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, p8len);
	ok = k != NULL && p == p8 + p8len;
	PKCS8_PRIV_KEY_INFO_free(k);
	if (!ok)
		return 0;
	p = certs;
	bags = (STACK_OF(PKCS12_SAFEBAG) *)ASN1_item_d2i(NULL, &p, certslen,
	    ASN1_ITEM_rptr(PKCS12_SAFEBAGS));
	ok = bags != NULL && p == certs + certslen &&
	    sk_PKCS12_SAFEBAG_num(bags) == ncerts;
	for (i = 0; ok && i < ncerts; i++)
		ok = PKCS12_SAFEBAG_get_bag_nid(sk_PKCS12_SAFEBAG_value(bags,
		    i)) == NID_x509Certificate;
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return ok;
}

/*
 * The read-back: the file parsed from its bytes, its MAC checked with the
 * password by OpenSSL, then each safe's parameters compared with the ones
 * its key was derived for and each safe decrypted and compared byte for
 * byte with what was sealed (the key's PKCS#8, the certificate bags).
 *
 * What was sealed is itself decoded again, since a byte-for-byte match
 * only says the file holds what the encoder wrote (OpenSSL 3.0's encoder
 * can report success after a failed allocation inside a SET OF).
 *
 * The keys are not derived again: each is a function of the password and
 * of the parameters just compared.  What that leaves unchecked is whether
 * OpenSSL's reader derives them the way this file's code asks it to (the
 * digest, the key and IV IDs, the password's encoding); that is checked
 * through the reader itself (the key bag opened with the password: one
 * more derivation) on the first file of each format a process makes, and
 * for every password with bytes outside printable ASCII, whose encoding
 * (UTF-8 bytes for PBKDF2, BMPString for the PKCS#12 KDF) is the part
 * most likely to go wrong.
 */
static int
p12_readback(const unsigned char *der, size_t len, const struct sealer *sr,
    const unsigned char *p8, int p8len, const unsigned char *certs,
    int certslen, int ncerts, const unsigned char *keyid, int keyidlen)
{
	const char *pass = sr->pass;
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
	    !seal_opens_to(sr, &sr->certs, cs->d.encrypted->enc_data->algorithm,
	    cs->d.encrypted->enc_data->enc_data, certs, certslen)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: the "
		    "certificate safe does not open to the certificates");
		goto out;
	}
	if (!sealed_decodes(p8, p8len, certs, certslen, ncerts)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: what was "
		    "sealed does not decode");
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
	if (!seal_opens_to(sr, &sr->keybag, kalg, kct, p8, p8len)) {
		rc = uc_seterr_ssl(UC_E_INVALID, "PKCS#12 read-back: the key "
		    "bag does not open to the key");
		goto out;
	}
	full = !atomic_load(&reader_agrees[sr->f]) || !pass_ascii(pass);
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
		atomic_store(&reader_agrees[sr->f], 1);
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

/*
 * The key as a shrouded key bag (sealed with sr) in *kbags; its PKCS#8 DER
 * stays in *p8der for the read-back (caller wipes and frees both).  1 on
 * success; 0 with OpenSSL's error queue set.
 */
static int
p12_key_bags(struct sealer *sr, EVP_PKEY *key, const char *friendly,
    unsigned char *keyid, int keyidlen, STACK_OF(PKCS12_SAFEBAG) **kbags,
    unsigned char **p8der, int *p8len)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *sig = NULL;
	X509_ALGOR *alg = NULL, *salg;
	ASN1_OCTET_STRING *ct = NULL, *sct;
	PKCS12_SAFEBAG *bag = NULL;
	int ok = 0;

	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    (*p8len = i2d_PKCS8_PRIV_KEY_INFO(p8, p8der)) <= 0 ||
	    !seal(sr, &sr->keybag, *p8der, *p8len, &alg, &ct) ||
	    (sig = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(sig, &salg, &sct);
	if (!X509_ALGOR_copy(salg, alg) || !ASN1_STRING_copy(sct, ct))
		goto out;
	sr->keybag.alg = salg;	/* lives in the bag, for the read-back */
	if ((bag = PKCS12_SAFEBAG_create0_pkcs8(sig)) == NULL)
		goto out;
	sig = NULL;	/* now owned by the bag */
	if (!bag_attrs(bag, friendly, keyid, keyidlen) ||
	    (*kbags = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    !sk_PKCS12_SAFEBAG_push(*kbags, bag))
		goto out;
	bag = NULL;	/* now owned by kbags */
	ok = 1;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	X509_ALGOR_free(alg);
	ASN1_OCTET_STRING_free(ct);
	PKCS12_SAFEBAG_free(bag);
	return ok;
}

/*
 * The leaf and the chain as one encrypted safe (sealed with sr) in *p7;
 * the bags' DER stays in *certsder for the read-back (caller frees both).
 * 1 on success; 0 with OpenSSL's error queue set.
 */
static int
p12_cert_safe(struct sealer *sr, X509 *cert, STACK_OF(X509) *chain,
    const char *friendly, unsigned char *keyid, int keyidlen, PKCS7 **p7,
    unsigned char **certsder, int *certslen)
{
	STACK_OF(PKCS12_SAFEBAG) *cbags = NULL;
	PKCS12_SAFEBAG *bag = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_OCTET_STRING *ct = NULL;
	int i, ok = 0;

	if ((cbags = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    (bag = PKCS12_SAFEBAG_create_cert(cert)) == NULL ||
	    !bag_attrs(bag, friendly, keyid, keyidlen) ||
	    !sk_PKCS12_SAFEBAG_push(cbags, bag))
		goto out;
	bag = NULL;	/* now owned by cbags */
	for (i = 0; i < sk_X509_num(chain); i++) {
		if ((bag = PKCS12_SAFEBAG_create_cert(sk_X509_value(chain,
		    i))) == NULL || !sk_PKCS12_SAFEBAG_push(cbags, bag))
			goto out;
		bag = NULL;	/* now owned by cbags */
	}
	if ((*certslen = ASN1_item_i2d((ASN1_VALUE *)cbags, certsder,
	    ASN1_ITEM_rptr(PKCS12_SAFEBAGS))) <= 0 ||
	    (*p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(*p7, NID_pkcs7_encrypted) ||
	    !seal(sr, &sr->certs, *certsder, *certslen, &alg, &ct))
		goto out;
	X509_ALGOR_free((*p7)->d.encrypted->enc_data->algorithm);
	(*p7)->d.encrypted->enc_data->algorithm = alg;
	sr->certs.alg = alg;	/* lives in p7, for the read-back */
	alg = NULL;	/* now owned by p7 */
	ASN1_OCTET_STRING_free((*p7)->d.encrypted->enc_data->enc_data);
	(*p7)->d.encrypted->enc_data->enc_data = ct;
	ct = NULL;	/* now owned by p7 */
	ok = 1;
out:
	X509_ALGOR_free(alg);
	ASN1_OCTET_STRING_free(ct);
	PKCS12_SAFEBAG_free(bag);
	sk_PKCS12_SAFEBAG_pop_free(cbags, PKCS12_SAFEBAG_free);
	return ok;
}

int
p12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *friendly, const char *pass, enum p12_format f,
    unsigned char **der, size_t *len)
{
	struct sealer sr;
	unsigned char keyid[EVP_MAX_MD_SIZE], *p8der = NULL, *certsder = NULL;
	unsigned char *buf = NULL;
	unsigned int keyidlen = 0;
	STACK_OF(PKCS12_SAFEBAG) *kbags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS7 *p7 = NULL;
	PKCS12 *p12 = NULL;
	int p8len = 0, certslen = 0, ncerts, n = 0, rc = UC_E_CRYPTO;

	*der = NULL;
	memset(&sr, 0, sizeof(sr));
	if (f != P12_MODERN && f != P12_LEGACY)
		return uc_seterr(UC_E_INVALID, "unknown PKCS#12 format %d",
		    (int)f);
	if (!key_matches_cert(key, cert)) {
		ERR_clear_error();
		return uc_seterr(UC_E_INVALID, "the key does not belong to the "
		    "certificate");
	}
	if (!sealer_init(&sr, f, pass) ||
	    !X509_digest(cert, EVP_sha1(), keyid, &keyidlen) ||
	    !p12_key_bags(&sr, key, friendly, keyid, (int)keyidlen, &kbags,
	    &p8der, &p8len) ||
	    !p12_cert_safe(&sr, cert, chain, friendly, keyid, (int)keyidlen,
	    &p7, &certsder, &certslen))
		goto fail;

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
	    !PKCS12_set_mac(p12, pass, -1, NULL, 0, P12_ITER,
	    f == P12_LEGACY ? EVP_sha1() : EVP_sha256()) ||
	    (n = i2d_PKCS12(p12, &buf)) <= 0)
		goto fail;

	/* Read it back: a file that does not open must never be handed out. */
	ncerts = 1 + (chain != NULL ? sk_X509_num(chain) : 0);
	if ((rc = p12_readback(buf, (size_t)n, &sr, p8der, p8len, certsder,
	    certslen, ncerts, keyid, (int)keyidlen)) != UC_OK) {
		rc = uc_errprefix(UC_E_CRYPTO, "PKCS#12 read-back check");
		goto out;
	}
	/* Ours from here: malloc'd (pki.h), the OpenSSL copy wiped. */
	rc = ossl_take(buf, n, 1, der, len, "a PKCS#12 file");
	buf = NULL;	/* freed by ossl_take */
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
	OPENSSL_cleanse(&sr, sizeof(sr));
	PKCS7_free(p7);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(kbags, PKCS12_SAFEBAG_free);
	PKCS12_free(p12);
	return rc;
}
