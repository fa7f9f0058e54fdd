/*
 * cert.c: certificate templates per profile, and helpers to read them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki_int.h"

#define CERT_FILE_MAX	(256 * 1024)
#define OID_MS_UPN	"1.3.6.1.4.1.311.20.2.3"

/* ---- identity syntax -------------------------------------------------- */

/* Valid UTF-8 without control characters (C0, DEL, C1). */
static int
text_ok(const char *s, size_t maxlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	int extra, extra_len;
	unsigned int cp;

	for (; *p != '\0'; n++) {
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			extra = 3;
		} else
			return 0;
		extra_len = extra;
		p++;
		while (extra-- > 0) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (*p++ & 0x3f);
		}
		if (cp < 0xa0 || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp > 0x10ffff)
			return 0;	/* C1, surrogate, too big */
		if ((extra_len == 2 && cp < 0x800) ||
		    (extra_len == 3 && cp < 0x10000))
			return 0;	/* overlong */
	}
	return n > 0 && n <= maxlen;
}

/* local@domain in the ASCII subset mail systems and UPNs agree on. */
static int
mailbox_ok(const char *s)
{
	const char *at, *p;
	size_t len = strlen(s);

	if (len < 3 || len > 254 || (at = strchr(s, '@')) == NULL ||
	    strchr(at + 1, '@') != NULL || at == s || at[1] == '\0' ||
	    at - s > 64)
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (p == at)
			continue;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			continue;
		if (p < at && strchr(".!#$%&'*+/=?^_`{|}~-", *p) != NULL)
			continue;
		if (p > at && (*p == '.' || *p == '-'))
			continue;
		return 0;
	}
	if (at[1] == '.' || s[len - 1] == '.' || strstr(s, "..") != NULL ||
	    s[0] == '.' || at[-1] == '.')
		return 0;
	return 1;
}

int
identity_check(const struct identity *id)
{
	const char *p;
	size_t len;

	if (id->username == NULL || (len = strlen(id->username)) == 0)
		return uc_seterr(UC_E_INVALID, "username is empty");
	if (len > 64)
		return uc_seterr(UC_E_INVALID, "username is longer than 64 "
		    "characters");
	for (p = id->username; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-' || *p == '@')
			continue;
		return uc_seterr(UC_E_INVALID, "username '%.64s' may hold only "
		    "letters, digits and . _ - @", id->username);
	}
	if (id->username[0] == '.' || id->username[0] == '-')
		return uc_seterr(UC_E_INVALID, "username '%s' must not start "
		    "with '.' or '-'", id->username);
	if (id->email != NULL && !mailbox_ok(id->email))
		return uc_seterr(UC_E_INVALID, "email '%.80s' is not a valid "
		    "address", id->email);
	if (id->upn != NULL && !mailbox_ok(id->upn))
		return uc_seterr(UC_E_INVALID, "upn '%.80s' is not of the form "
		    "user@domain", id->upn);
	if (id->name != NULL && !text_ok(id->name, 128))
		return uc_seterr(UC_E_INVALID, "name is not 1 to 128 characters "
		    "of UTF-8 text without control characters");
	if (id->ou != NULL && !text_ok(id->ou, 64))
		return uc_seterr(UC_E_INVALID, "ou is not 1 to 64 characters "
		    "of UTF-8 text without control characters");
	if (id->sid != NULL && !sid_valid(id->sid))
		return uc_seterr(UC_E_INVALID, "sid '%.80s' is not a Windows "
		    "SID (S-1-5-21-<domain>-<RID>)", id->sid);
	return UC_OK;
}

/* ---- building -------------------------------------------------------------- */

static int
name_add(X509_NAME *n, const char *field, const char *value)
{
	if (value == NULL)
		return 1;
	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8,
	    (const unsigned char *)value, -1, -1, 0);
}

static int
ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A URL safe to put in an extension config string and a certificate. */
int
url_valid(const char *u)
{
	const char *p;

	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return 0;
	p = u + (u[4] == 's' ? 8 : 7);
	if (*p == '\0' || *p == '/' || *p == ':')
		return 0;	/* no host */
	for (p = u; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == ',' || *p == '"' ||
		    *p == '\\')
			return 0;
	return strlen(u) < 1024;
}

static int
san_add_name(GENERAL_NAMES *gens, int type, const char *value)
{
	GENERAL_NAME *g = NULL;
	ASN1_IA5STRING *ia5 = NULL;

	if ((g = GENERAL_NAME_new()) == NULL ||
	    (ia5 = ASN1_IA5STRING_new()) == NULL ||
	    !ASN1_STRING_set(ia5, value, -1))
		goto fail;
	GENERAL_NAME_set0_value(g, type, ia5);
	ia5 = NULL;	/* now owned by g */
	if (!sk_GENERAL_NAME_push(gens, g))
		goto fail;
	return 1;
fail:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(g);
	return 0;
}

static int
san_add_upn(GENERAL_NAMES *gens, const char *upn)
{
	GENERAL_NAME *g = NULL;
	ASN1_OBJECT *oid = NULL;
	ASN1_TYPE *val = NULL;
	ASN1_UTF8STRING *utf8 = NULL;

	if ((g = GENERAL_NAME_new()) == NULL ||
	    (oid = OBJ_txt2obj(OID_MS_UPN, 1)) == NULL ||
	    (val = ASN1_TYPE_new()) == NULL ||
	    (utf8 = ASN1_UTF8STRING_new()) == NULL ||
	    !ASN1_STRING_set(utf8, upn, -1))
		goto fail;
	ASN1_TYPE_set(val, V_ASN1_UTF8STRING, utf8);
	utf8 = NULL;	/* now owned by val */
	if (!GENERAL_NAME_set0_othername(g, oid, val))
		goto fail;
	oid = NULL;	/* now owned by g */
	val = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto fail;
	return 1;
fail:
	ASN1_UTF8STRING_free(utf8);
	ASN1_TYPE_free(val);
	ASN1_OBJECT_free(oid);
	GENERAL_NAME_free(g);
	return 0;
}

static int
san_add_ip(GENERAL_NAMES *gens, const char *ip)
{
	GENERAL_NAME *g = NULL;
	ASN1_OCTET_STRING *os = NULL;

	if ((os = a2i_IPADDRESS(ip)) == NULL)
		return 0;
	if ((g = GENERAL_NAME_new()) == NULL) {
		ASN1_OCTET_STRING_free(os);
		return 0;
	}
	GENERAL_NAME_set0_value(g, GEN_IPADD, os);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return 0;
	}
	return 1;
}

static int
add_san(X509 *x, const struct cert_req *req)
{
	GENERAL_NAMES *gens = NULL;
	char sid[256];
	size_t i;
	int ok = 0;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		return 0;
	if (req->kind == CK_USER) {
		if (req->id->email != NULL &&
		    !san_add_name(gens, GEN_EMAIL, req->id->email))
			goto out;
		if (req->id->upn != NULL && !san_add_upn(gens, req->id->upn))
			goto out;
		if (req->id->sid != NULL && (!adsid_san_url(req->id->sid, sid,
		    sizeof(sid)) || !san_add_name(gens, GEN_URI, sid)))
			goto out;
	} else if (req->kind == CK_SERVER) {
		for (i = 0; req->dns != NULL && req->dns[i] != NULL; i++)
			if (!san_add_name(gens, GEN_DNS, req->dns[i]))
				goto out;
		for (i = 0; req->ip != NULL && req->ip[i] != NULL; i++)
			if (!san_add_ip(gens, req->ip[i]))
				goto out;
	}
	ok = sk_GENERAL_NAME_num(gens) == 0 ||
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) == 1;
out:
	GENERAL_NAMES_free(gens);
	return ok;
}

static int
add_extensions(X509 *x, X509 *issuer, const struct cert_req *req,
    int is_rsa)
{
	X509V3_CTX ctx;
	const char *crl, *ca;
	char buf[1200];

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	switch (req->kind) {
	case CK_ROOT:
		return ext_add(x, &ctx, NID_basic_constraints,
		    "critical,CA:TRUE") &&
		    ext_add(x, &ctx, NID_key_usage,
		    "critical,keyCertSign,cRLSign") &&
		    ext_add(x, &ctx, NID_subject_key_identifier, "hash");
	case CK_ISSUING:
		/*
		 * Relying parties (OpenSSL, GnuTLS, Windows CryptoAPI) take a
		 * CA's EKU as the limit of what certificates below it may be
		 * used for.  Not critical: RFC 5280 defines EKU for end
		 * entities only.
		 */
		if (!ext_add(x, &ctx, NID_basic_constraints,
		    "critical,CA:TRUE,pathlen:0") ||
		    !ext_add(x, &ctx, NID_key_usage,
		    "critical,keyCertSign,cRLSign") ||
		    !ext_add(x, &ctx, NID_ext_key_usage, req->smime ?
		    "clientAuth,serverAuth,OCSPSigning,emailProtection" :
		    "clientAuth,serverAuth,OCSPSigning") ||
		    !ext_add(x, &ctx, NID_subject_key_identifier, "hash") ||
		    !ext_add(x, &ctx, NID_authority_key_identifier,
		    "keyid:always"))
			return 0;
		if (req->base_url != NULL) {
			snprintf(buf, sizeof(buf), "URI:%s/root.crl",
			    req->base_url);
			if (!ext_add(x, &ctx, NID_crl_distribution_points, buf))
				return 0;
		}
		return 1;
	case CK_USER:
	case CK_SERVER:
		if (!ext_add(x, &ctx, NID_basic_constraints,
		    "critical,CA:FALSE") ||
		    !ext_add(x, &ctx, NID_key_usage, is_rsa ?
		    "critical,digitalSignature,keyEncipherment" :
		    req->email_protection ? /* S/MIME: ECDH key agreement */
		    "critical,digitalSignature,keyAgreement" :
		    "critical,digitalSignature") ||
		    !ext_add(x, &ctx, NID_ext_key_usage,
		    req->kind == CK_SERVER ? "serverAuth" :
		    req->email_protection ? "clientAuth,emailProtection" :
		    "clientAuth") ||
		    !ext_add(x, &ctx, NID_subject_key_identifier, "hash") ||
		    !ext_add(x, &ctx, NID_authority_key_identifier,
		    "keyid:always") ||
		    !add_san(x, req))
			return 0;
		if (req->kind == CK_USER && ((req->email_protection &&
		    !smime_caps_add(x)) || (req->id->sid != NULL &&
		    !adsid_ext_add(x, req->id->sid))))
			return 0;
		if (req->base_url != NULL) {
			crl = req->crl_name != NULL ? req->crl_name : "crl.der";
			ca = req->ca_name != NULL ? req->ca_name : "ca.crt";
			snprintf(buf, sizeof(buf), "URI:%s/%s", req->base_url,
			    crl);
			if (!ext_add(x, &ctx, NID_crl_distribution_points, buf))
				return 0;
			/* The OCSP responder beside caIssuers (RFC 5280
			 * 4.2.2.1), when the CA runs one. */
			if (req->kind == CK_USER && req->ocsp_url != NULL)
				snprintf(buf, sizeof(buf), "OCSP;URI:%s,"
				    "caIssuers;URI:%s/%s", req->ocsp_url,
				    req->base_url, ca);
			else
				snprintf(buf, sizeof(buf), "caIssuers;URI:%s/"
				    "%s", req->base_url, ca);
			if (!ext_add(x, &ctx, NID_info_access, buf))
				return 0;
		}
		return 1;
	}
	return 0;
}

/*
 * The subject key exactly as the CSR encoded it.  X509_set_pubkey() would
 * re-encode and re-decode it through OpenSSL 3's provider machinery, a
 * quarter of an enrollment's CPU time.
 */
static int
spki_copy(X509 *x, X509_PUBKEY *src)
{
	ASN1_OBJECT *alg, *algdup = NULL;
	const ASN1_OBJECT *pobj;
	const unsigned char *pk;
	const void *pval;
	X509_ALGOR *pa;
	unsigned char *enc = NULL;
	void *pdup = NULL;
	int pklen, ptype;

	if (!X509_PUBKEY_get0_param(&alg, &pk, &pklen, &pa, src) || pklen < 0)
		return 0;
	X509_ALGOR_get0(&pobj, &ptype, &pval, pa);
	if (ptype == V_ASN1_OBJECT)
		pdup = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		pdup = ASN1_STRING_dup(pval);
	else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		return 0;
	if ((ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE) &&
	    pdup == NULL)
		return 0;
	if ((algdup = OBJ_dup(alg)) == NULL ||
	    (enc = OPENSSL_memdup(pk, (size_t)pklen)) == NULL)
		goto fail;
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), algdup, ptype, pdup,
	    enc, pklen))
		return 1;	/* all now owned by the certificate */
fail:
	ASN1_OBJECT_free(algdup);
	OPENSSL_free(enc);
	if (ptype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(pdup);
	else
		ASN1_STRING_free(pdup);
	return 0;
}

/*
 * The SubjectPublicKeyInfo of an EC key as RFC 5480 wants it: named curve,
 * uncompressed point, built from the key's curve and point however they
 * were encoded.  X509_set_pubkey() in OpenSSL 3.0 runs the key through an
 * encoder and decodes the result again, a sixth of a modern mint; it would
 * also keep a compressed point compressed.  The certificate's X509_PUBKEY
 * is then not decoded (X509_get0_pubkey() gives NULL until the certificate
 * is parsed from DER), as with spki_copy(), so it is used for user
 * certificates only: CA certificates are checked against their key as
 * soon as they are built.
 */
static int
spki_ec(X509 *x, EVP_PKEY *pub)
{
	unsigned char *pt = NULL;
	size_t ptlen;
	int nid;

	if (key_ec_point(pub, &pt, &ptlen, &nid) != UC_OK || ptlen > INT_MAX)
		goto fail;
	/* nid2obj objects are static: nothing to free if this fails. */
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),
	    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(nid), pt, (int)ptlen))
		return 1;	/* pt now owned by the certificate */
fail:
	OPENSSL_free(pt);
	return 0;
}

/* RFC 3279: rsaEncryption, NULL parameters, RSAPublicKey from n and e. */
static int
spki_rsa(X509 *x, const EVP_PKEY *pub)
{
	unsigned char *der = NULL;
	size_t len;

	if (key_rsa_pub_der(pub, &der, &len) != UC_OK || len > INT_MAX)
		goto fail;
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),
	    OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL, NULL, der, (int)len))
		return 1;	/* der now owned by the certificate */
fail:
	OPENSSL_free(der);
	return 0;
}

/*
 * The subject key of a user certificate: src (the CSR's encoding of pub)
 * as it is when it is already what spki_ec() would write, which is what
 * every client sends; otherwise our own encoding.  Nothing of src that we
 * did not choose is signed: parameters, point format and bytes after the
 * key are rebuilt from pub.  Other key types (refused in CSRs) go through
 * OpenSSL's encoder.
 */
static int
spki_user(X509 *x, EVP_PKEY *pub, X509_PUBKEY *src)
{
	ASN1_OBJECT *alg;
	const ASN1_OBJECT *pobj;
	const unsigned char *pk;
	const void *pval;
	X509_ALGOR *pa;
	char group[64];
	size_t glen;
	int pklen, ptype, fsize;

	/* Our own RSA keys keep a decoded key for p12_build()'s read-back. */
	if (EVP_PKEY_is_a(pub, "RSA"))
		return src != NULL ? spki_rsa(x, pub) : X509_set_pubkey(x, pub);
	if (!EVP_PKEY_is_a(pub, "EC"))
		return X509_set_pubkey(x, pub);
	if (src == NULL)
		return spki_ec(x, pub);
	fsize = (EVP_PKEY_get_bits(pub) + 7) / 8;
	if (!X509_PUBKEY_get0_param(&alg, &pk, &pklen, &pa, src) ||
	    !EVP_PKEY_get_group_name(pub, group, sizeof(group), &glen)) {
		ERR_clear_error();
		return spki_ec(x, pub);
	}
	X509_ALGOR_get0(&pobj, &ptype, &pval, pa);
	if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey &&
	    ptype == V_ASN1_OBJECT && OBJ_obj2nid(pval) == OBJ_txt2nid(group) &&
	    fsize > 0 && pklen == 1 + 2 * fsize &&
	    pk[0] == POINT_CONVERSION_UNCOMPRESSED)
		return spki_copy(x, src);
	return spki_ec(x, pub);
}

/*
 * A CA's or server's key through OpenSSL's encoder (the certificate keeps
 * a decoded key), as a named curve and an uncompressed point whatever the
 * request used.
 */
static int
spki_set(X509 *x, EVP_PKEY *pub)
{
	EVP_PKEY *dup = NULL;
	int ok;

	if (!EVP_PKEY_is_a(pub, "EC"))
		return X509_set_pubkey(x, pub);
	ok = (dup = EVP_PKEY_dup(pub)) != NULL &&
	    EVP_PKEY_set_utf8_string_param(dup,
	    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed") &&
	    EVP_PKEY_set_utf8_string_param(dup, OSSL_PKEY_PARAM_EC_ENCODING,
	    OSSL_PKEY_EC_ENCODING_GROUP) &&
	    X509_set_pubkey(x, dup);
	EVP_PKEY_free(dup);
	return ok;
}

int
cert_build(const struct cert_req *req, EVP_PKEY *pub, X509 *issuer,
    X509 **out)
{
	X509 *x = NULL;
	X509_NAME *subj = NULL;
	ASN1_INTEGER *serial = NULL;
	int64_t not_after = req->not_after, issuer_end;
	const char *cn;
	int rc;

	*out = NULL;
	if (req->base_url != NULL && !url_valid(req->base_url))
		return uc_seterr(UC_E_INVALID, "base URL '%.100s' must be an "
		    "http(s) URL without spaces or commas", req->base_url);
	if (req->ocsp_url != NULL && (!url_valid(req->ocsp_url) ||
	    strlen(req->ocsp_url) > 500))
		return uc_seterr(UC_E_INVALID, "OCSP URL '%.80s' is not an "
		    "http(s) URL without spaces or commas", req->ocsp_url);
	if (req->org == NULL || !text_ok(req->org, 64))
		return uc_seterr(UC_E_INVALID, "organisation name must be 1 "
		    "to 64 characters of text");
	if (req->kind == CK_USER) {
		if ((rc = identity_check(req->id)) != UC_OK)
			return rc;
		cn = req->id->username;
	} else
		cn = req->cn;
	if (cn == NULL || !text_ok(cn, 64))
		return uc_seterr(UC_E_INVALID, "common name must be 1 to 64 "
		    "characters of text");
	if (issuer != NULL) {
		if ((rc = uc_asn1_time(X509_get0_notAfter(issuer),
		    &issuer_end)) != UC_OK)
			return rc;
		if (not_after > issuer_end)
			not_after = issuer_end;	/* never outlive the issuer */
	}
	if (not_after <= req->not_before)
		return uc_seterr(UC_E_STATE, "the issuing CA expires before "
		    "the certificate would start");
	if ((rc = serial_random(&serial)) != UC_OK)
		return rc;
	rc = UC_E_CRYPTO;
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_serialNumber(x, serial) ||
	    (subj = X509_NAME_new()) == NULL ||
	    !name_add(subj, "O", req->org) ||
	    !name_add(subj, "OU", req->kind == CK_USER ? req->id->ou : NULL) ||
	    !name_add(subj, "CN", cn) ||
	    !X509_set_subject_name(x, subj) ||
	    !X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : subj) ||
	    ASN1_TIME_set(X509_getm_notBefore(x),
	    (time_t)req->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) == NULL ||
	    !(req->kind == CK_USER ? spki_user(x, pub, req->spki) :
	    spki_set(x, pub))) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "building certificate for %s",
		    cn);
		goto out;
	}
	if (!add_extensions(x, issuer, req, EVP_PKEY_is_a(pub, "RSA"))) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "extensions for %s", cn);
		goto out;
	}
	*out = x;
	x = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	X509_free(x);
	X509_NAME_free(subj);
	ASN1_INTEGER_free(serial);
	return rc;
}

/* ---- reading ------------------------------------------------------------------ */

char *
cert_fingerprint(X509 *x, const EVP_MD *md)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int len;

	if (!X509_digest(x, md, buf, &len))
		return NULL;
	return hex_encode(buf, len);
}

char *
cert_spki_sha256(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen;
	char *out = NULL;
	int len;

	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) <= 0)
		return NULL;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL))
		out = hex_encode(md, mdlen);
	OPENSSL_free(der);
	return out;
}

char *
cert_ski_hex(X509 *x)
{
	const ASN1_OCTET_STRING *ski;

	if ((ski = X509_get0_subject_key_id(x)) == NULL)
		return NULL;
	return hex_encode(ASN1_STRING_get0_data(ski),
	    (size_t)ASN1_STRING_length(ski));
}

char *
cert_subject(X509 *x)
{
	BIO *bio;
	char *data, *s = NULL;
	long n;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(bio, &data)) >= 0 &&
	    (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(bio);
	return s;
}

/* A copy of an ASN.1 string that must hold text: no NUL inside. */
static int
san_text(const ASN1_STRING *as, char **out)
{
	const unsigned char *d = ASN1_STRING_get0_data(as);
	int n = ASN1_STRING_length(as);

	if (n < 0 || (n > 0 && memchr(d, '\0', (size_t)n) != NULL))
		return uc_seterr(UC_E_INVALID, "a SAN name holds a NUL byte");
	free(*out);
	if ((*out = malloc((size_t)n + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	memcpy(*out, d, (size_t)n);
	(*out)[n] = '\0';
	return UC_OK;
}

int
cert_san_identity(X509 *x, char **email, char **upn)
{
	GENERAL_NAMES *gens = NULL;
	const GENERAL_NAME *g;
	ASN1_OBJECT *oid = NULL;
	const ASN1_TYPE *v;
	int crit = -1, i, rc = UC_OK;

	*email = *upn = NULL;
	if ((gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit,
	    NULL)) == NULL) {
		if (crit == -1)
			return UC_OK;	/* no SAN */
		return uc_seterr_ssl(UC_E_INVALID, "subjectAltName");
	}
	if ((oid = OBJ_txt2obj(OID_MS_UPN, 1)) == NULL) {
		rc = uc_seterr_ssl(UC_E_INTERNAL, "OBJ_txt2obj");
		goto out;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens) && rc == UC_OK; i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL)
			rc = san_text(g->d.rfc822Name, email);
		else if (g->type == GEN_OTHERNAME &&
		    OBJ_cmp(g->d.otherName->type_id, oid) == 0 &&
		    (v = g->d.otherName->value) != NULL &&
		    v->type == V_ASN1_UTF8STRING)
			rc = san_text(v->value.utf8string, upn);
	}
out:
	if (rc != UC_OK) {
		free(*email);
		free(*upn);
		*email = *upn = NULL;
	}
	ASN1_OBJECT_free(oid);
	GENERAL_NAMES_free(gens);
	return rc;
}

int
cert_der(X509 *x, unsigned char **der, size_t *len)
{
	unsigned char *obuf = NULL;
	int n;

	n = i2d_X509(x, &obuf);
	return ossl_take(obuf, n, 0, der, len, "a certificate");
}

int
cert_to_pem(X509 *x, unsigned char **buf, size_t *len)
{
	BIO *bio;

	*buf = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return uc_seterr_ssl(UC_E_INTERNAL, "BIO_new");
	if (!PEM_write_bio_X509(bio, x)) {
		BIO_free(bio);
		return uc_seterr_ssl(UC_E_CRYPTO, "encoding a certificate");
	}
	return ossl_bio_take(bio, buf, len, "a certificate");
}

int
cert_parse(const unsigned char *buf, size_t len, X509 **out)
{
	const unsigned char *p = buf;
	BIO *bio = NULL;
	X509 *x = NULL;

	*out = NULL;
	if (len > 0 && buf[0] == 0x30)
		x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != buf + len) {
		X509_free(x);
		return uc_seterr(UC_E_INVALID, "trailing data after the DER "
		    "certificate");
	}
	if (x == NULL && len <= INT32_MAX &&
	    (bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (x == NULL)
		return uc_seterr_ssl(UC_E_INVALID, "not a PEM or DER "
		    "certificate");
	ERR_clear_error();
	*out = x;
	return UC_OK;
}

int
cert_load(const char *path, X509 **out)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	if ((rc = file_read(path, CERT_FILE_MAX, &buf, &len)) != UC_OK)
		return rc;
	if ((rc = cert_parse(buf, len, out)) != UC_OK)
		rc = uc_errprefix(rc, path);
	free(buf);
	return rc;
}
