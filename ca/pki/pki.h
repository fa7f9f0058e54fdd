/*
 * pki.h: the PKI layer of userca (keys, profiles, serials, certificates,
 * CSR checks, CRLs, PKCS#12, fingerprints, passwords, tokens, the signer).
 *
 * It knows nothing of SQLite, HTTP or our records.  Every int-returning function
 * returns UC_OK or a negative UC_E_* code with the detail set (uc_err.h);
 * OpenSSL's error queue is drained into that detail where a call fails.
 * Functions that hand back an object say who frees it.
 */
#ifndef UC_PKI_H
#define UC_PKI_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core.h"
#include "uc_err.h"

/* ---- ossl.c: small OpenSSL helpers --------------------------------------- */

/* ASN1_TIME to Unix seconds; UC_E_INVALID for a malformed time. */
int		 uc_asn1_time(const ASN1_TIME *t, int64_t *out);
/*
 * The allocator rule: every buffer this header (and authority.h) hands
 * out is malloc'd and freed with free() (or secret_free_buf() where it
 * says so), never OPENSSL_free().  These two make OpenSSL's memory ours,
 * once, where it is produced.
 *
 * ossl_bio_take(): the contents of a memory BIO in a new buffer (caller
 * frees); the BIO is freed whatever happens.  ossl_take(): n bytes of
 * OpenSSL's obuf (an i2d result; n <= 0 or NULL: that i2d failed) in a new
 * buffer (caller frees); obuf is freed whatever happens, cleansed first
 * with wipe.  what names the object for the error message.
 */
int		 ossl_bio_take(BIO *bio, unsigned char **buf, size_t *len,
		    const char *what);
int		 ossl_take(unsigned char *obuf, int n, int wipe,
		    unsigned char **out, size_t *len, const char *what);

/* ---- profile.c: key types and profiles ------------------------------------ */

enum key_type {
	KT_RSA2048, KT_RSA3072, KT_RSA4096, KT_EC_P256, KT_EC_P384, KT_ED25519
};

struct profile {
	const char	*name;
	enum key_type	 root;
	enum key_type	 issuing;
	enum key_type	 user;
};

/* NULL when unknown.  Static storage. */
const struct profile	*profile_find(const char *name);
int		 key_type_parse(const char *s, enum key_type *out);
const char	*key_type_name(enum key_type);

/* ---- key.c ------------------------------------------------------------------- */

/* New key of type t (caller frees). */
int		 key_generate(enum key_type t, EVP_PKEY **out);
/*
 * Policy for keys we certify: RSA >= 2048 bits (<= 8192), EC on P-256,
 * P-384 or P-521, Ed25519.  UC_E_POLICY with the reason otherwise.
 */
int		 key_check_policy(const EVP_PKEY *k);
/*
 * The full check of a public key someone else made, before we certify it:
 * key_check_policy(), RSA or EC only (UC_E_POLICY for Ed25519: gateways
 * do not take it and its keys cannot be validated), then OpenSSL's
 * validation (UC_E_INVALID): EC points on their curve and not at
 * infinity; RSA moduli odd, without small factors, neither prime nor a
 * prime power (a Miller-Rabin round: milliseconds for RSA-2048).
 */
int		 key_check_public(EVP_PKEY *k);
/* "rsa-2048", "ec-p256", ... into buf. */
void		 key_describe(const EVP_PKEY *k, char *buf, size_t len);
/*
 * PBKDF2-HMAC-SHA256 iterations for a key encrypted at rest (the root
 * key): OWASP's 2023 figure for PBKDF2-HMAC-SHA256.  Files written with
 * fewer (2,048 before) still open.
 */
#define KEY_PBKDF2_ITER	600000
/*
 * Write k as PKCS#8 PEM to a new file (exclusive create, 0600); encrypted
 * with AES-256-CBC (PBES2, PBKDF2-HMAC-SHA256, KEY_PBKDF2_ITER
 * iterations, 16-byte salt) when pass is non-NULL.
 */
int		 key_write(const char *path, EVP_PKEY *k, const char *pass);
/* Private key in a PEM buffer (caller frees with secret_free_buf). */
int		 key_to_pem(EVP_PKEY *k, unsigned char **buf, size_t *len);
/* Read a PEM private key; UC_E_PASSPHRASE when pass does not open it. */
int		 key_read(const char *path, const char *pass, EVP_PKEY **out);

/* ---- serial.c --------------------------------------------------------------- */

/* Random positive serial, 16 octets with 127 random bits (caller frees). */
int		 serial_random(ASN1_INTEGER **out);
/* Upper-case hex of a serial, no colons (caller frees); NULL on error. */
char		*serial_hex(const ASN1_INTEGER *s);
/*
 * Normalise a serial typed by a person ("0a:1B", "0x0A1B") to upper-case
 * hex with no leading zeros (caller frees).  UC_E_INVALID otherwise.
 */
int		 serial_normalize(const char *in, char **out);

/* ---- cert.c: certificate templates per profile --------------------------- */

enum cert_kind { CK_ROOT, CK_ISSUING, CK_USER, CK_SERVER };

struct identity {
	const char	*username;	/* CN */
	const char	*email;		/* SAN rfc822Name; may be NULL */
	const char	*name;		/* not in the cert; for records */
	const char	*upn;		/* SAN otherName UPN; may be NULL */
	const char	*ou;		/* subject OU; may be NULL */
	const char	*sid;		/* AD SID (S-1-5-21-...): the SID
					 * extension and SAN URL; may be NULL */
	int		 smime;		/* S/MIME: emailProtection, needs
					 * email (also cert_req's flag) */
};

struct cert_req {
	enum cert_kind		 kind;
	const char		*org;		/* subject O */
	const char		*cn;		/* CA or server CN */
	const struct identity	*id;		/* CK_USER */
	const char		*base_url;	/* CRL DP, AIA; may be NULL */
	const char		*ocsp_url;	/* CK_USER: AIA OCSP; may be
						 * NULL */
	const char		*crl_name;	/* CK_USER, CK_SERVER: the
						 * issuing CA's CRL under
						 * base_url (NULL: crl.der) */
	const char		*ca_name;	/* ... and its certificate
						 * (NULL: ca.crt) */
	const char *const	*dns;		/* CK_SERVER: NULL-terminated */
	const char *const	*ip;		/* CK_SERVER: NULL-terminated */
	int			 email_protection; /* CK_USER: add EKU */
	int			 smime;		/* CK_ISSUING: the CA may
						 * issue S/MIME (EKU
						 * emailProtection too) */
	X509_PUBKEY		*spki;		/* optional: pub as a CSR
						 * encoded it (copied as is) */
	int64_t			 not_before;
	int64_t			 not_after;	/* clipped to the issuer's */
};

/*
 * Username, email, UPN and OU syntax check (charset, length, no control
 * characters).  UC_E_INVALID naming the field.
 */
int		 identity_check(const struct identity *id);
/* 1 if sid is a SID's string form, S-1-<authority>-<sub>[-<sub>...]. */
int		 sid_valid(const char *sid);
/*
 * adsid.c: add szOID_NTDS_CA_SECURITY_EXT for sid exactly as AD CS encodes
 * it (1 on success); the SAN URL tag:microsoft.com,2022-09-14:sid:<sid>
 * into buf (1 when it fits).
 */
int		 adsid_ext_add(X509 *x, const char *sid);
int		 adsid_san_url(const char *sid, char *buf, size_t len);
/*
 * The altSecurityIdentities strong mappings of x (KB5014754), new strings
 * the caller frees: "X509:<I>issuer<SR>serial, bytes reversed, hex" and
 * "X509:<SHA1-PUKEY>SHA-1 of the subject public key, hex".
 */
int		 altsecid_strings(X509 *x, char **issuer_serial,
		    char **sha1_pukey);
/* smime.c: add SMIMECapabilities (AES-256/192/128-CBC); 1 on success. */
int		 smime_caps_add(X509 *x);
/* 1 if u is an http(s) URL safe to put into certificate extensions. */
int		 url_valid(const char *u);

/*
 * An unsigned certificate for pub per req, issued by issuer (NULL: self-
 * issued, for a root).  Serial random, version 3, all extensions of the
 * profile.  An issuing CA carries the EKUs of what it issues, so that its
 * key cannot mint certificates for anything else that chain to the root:
 * clientAuth, serverAuth (the daemon's certificate), OCSPSigning (a
 * delegated OCSP responder), emailProtection when req->smime.  A root has
 * no EKU.  Caller frees; sign it with signer_sign_cert().
 */
int		 cert_build(const struct cert_req *req, EVP_PKEY *pub,
		    X509 *issuer, X509 **out);
/* Hex SHA-256 / SHA-1 of the DER into a new string (caller frees). */
char		*cert_fingerprint(X509 *x, const EVP_MD *md);
/* Hex SHA-256 of the DER SubjectPublicKeyInfo (the key pin: the same
 * for a root re-signed with its own key); caller frees. */
char		*cert_spki_sha256(X509 *x);
/* Hex SubjectKeyIdentifier (caller frees); NULL if absent. */
char		*cert_ski_hex(X509 *x);
/* One-line RFC 2253 subject (caller frees). */
char		*cert_subject(X509 *x);
/*
 * The SAN email and UPN of x as issued: new strings (caller frees), NULL
 * when absent.  UC_E_INVALID for a SAN that does not parse or a name with
 * a NUL byte; UC_E_INTERNAL when out of memory.
 */
int		 cert_san_identity(X509 *x, char **email, char **upn);
/* DER of x (caller frees). */
int		 cert_der(X509 *x, unsigned char **der, size_t *len);
/* PEM or DER certificate from a buffer / file (caller frees). */
int		 cert_parse(const unsigned char *buf, size_t len, X509 **out);
int		 cert_load(const char *path, X509 **out);
int		 cert_to_pem(X509 *x, unsigned char **buf, size_t *len);

/* ---- signer.c: the only holder of CA private keys ------------------------- */

struct signer;

/*
 * Open the CA whose certificate is at certpath and key at keypath (pass
 * may be NULL for an unencrypted key).  Checks that key and certificate
 * match.  UC_E_PASSPHRASE for a wrong passphrase.
 */
int		 signer_open(const char *certpath, const char *keypath,
		    const char *pass, struct signer **out);
/*
 * A signer for a key this process just generated.  Takes ownership of
 * key (and of cert, which may be NULL until signer_set_cert()), also when
 * it fails: the caller forgets both either way.
 */
int		 signer_from_key(EVP_PKEY *key, X509 *cert,
		    struct signer **out);
/* Give the signer its certificate (ownership taken). */
int		 signer_set_cert(struct signer *, X509 *cert);
/* The CA certificate; borrowed. */
X509		*signer_cert(const struct signer *);
/* A new reference to the public half (caller frees). */
EVP_PKEY	*signer_pubkey(const struct signer *);
/* Sign with the CA key (SHA-256, or none for Ed25519).  Thread-safe. */
int		 signer_sign_cert(struct signer *, X509 *x);
int		 signer_sign_crl(struct signer *, X509_CRL *crl);
int		 signer_sign_req(struct signer *, X509_REQ *req);
/*
 * Sign the bytes data (an audit checkpoint) with the CA key: SHA-256
 * with RSA PKCS#1 v1.5 or ECDSA, or Ed25519.  *sig is new (caller frees).
 */
int		 signer_sign_data(struct signer *, const void *data,
		    size_t len, unsigned char **sig, size_t *siglen);
/*
 * Check sig over data with cert's public key, as signer_sign_data()
 * made it: UC_OK, or UC_E_SIGNATURE when it does not verify.
 */
int		 pki_verify_data(X509 *cert, const void *data, size_t len,
		    const unsigned char *sig, size_t siglen);
/* Store the key at path (exclusive, 0600), encrypted if pass != NULL. */
int		 signer_save_key(struct signer *, const char *path,
		    const char *pass);
void		 signer_free(struct signer *);

/* ---- csr.c --------------------------------------------------------------------- */

/* Parse a PEM or DER PKCS#10 request (caller frees); UC_E_INVALID. */
int		 csr_parse(const unsigned char *buf, size_t len,
		    X509_REQ **out);
/*
 * Parse, verify the self-signature (UC_E_SIGNATURE) and check the key
 * against policy (UC_E_POLICY).  On success *pub is the request's public
 * key (caller frees).  The subject and extensions are ignored: identity
 * comes from our records.
 */
int		 csr_check(const unsigned char *buf, size_t len,
		    EVP_PKEY **pub);
/* Like csr_check() but hands back the whole request (caller frees). */
int		 csr_check_req(const unsigned char *buf, size_t len,
		    X509_REQ **out);
/*
 * Like csr_check_req(), for a caller that needs only the key: the
 * request's SubjectPublicKeyInfo, DER, in *spki (malloc'd, caller frees).
 * The same checks and the same answers as csr_check_req() (an ECDSA
 * request with an RFC 5480 P-256/P-384/P-521 key takes a shorter road to
 * them: its key is made from the point and its signature checked over
 * the request's bytes, without OpenSSL's search for a key decoder).
 */
int		 csr_check_spki(const unsigned char *buf, size_t len,
		    unsigned char **spki, size_t *spkilen);
/*
 * A DER SubjectPublicKeyInfo from another process, checked as a CSR's key
 * is (named curves, RSA parameters NULL, key_check_public()): *xpk and
 * *pub on success (caller frees both).  *xpk is NULL when the bytes are
 * exactly the RFC 5480 encoding of a P-256/P-384/P-521 key (what every
 * client sends): the certificate then encodes the key itself, the same
 * bytes.
 */
int		 spki_parse(const unsigned char *der, size_t len,
		    X509_PUBKEY **xpk, EVP_PKEY **pub);
/*
 * The DER SubjectPublicKeyInfo of k (malloc'd, caller frees): for an EC
 * key on P-256/P-384/P-521 the RFC 5480 encoding (named curve, point
 * uncompressed) that spki_parse() takes on its short road, made from the
 * point (i2d_PUBKEY() goes through OpenSSL's search for an encoder); any
 * other key as i2d_PUBKEY() encodes it.
 */
int		 spki_encode(EVP_PKEY *k, unsigned char **der, size_t *len);
/* A CSR for key with subject O=org, CN=cn, PEM (caller frees). */
int		 csr_make(struct signer *, const char *org, const char *cn,
		    unsigned char **pem, size_t *len);

/* ---- crl.c ---------------------------------------------------------------------- */

struct crl_entry {
	const char	*serial;	/* hex */
	int64_t		 revoked_at;
	int		 reason;	/* RFC 5280 CRLReason, -1 for none */
};

/*
 * An unsigned v2 CRL of issuer with the entries, CRL number, AKI and
 * reason codes (caller frees; sign with signer_sign_crl()).
 */
int		 crl_build(X509 *issuer, const struct crl_entry *e, size_t n,
		    int64_t number, int64_t this_update, int64_t next_update,
		    X509_CRL **out);
/* RFC 5280 reason names ("keyCompromise", ...) <-> codes. */
/*
 * Add Microsoft's Next CRL Publish extension (1.3.6.1.4.1.311.21.4, a
 * UTCTime, non-critical): when Windows should fetch the next CRL.  Before
 * signing; UC_E_CRYPTO when when does not fit a UTCTime.
 */
int		 crl_add_next_publish(X509_CRL *crl, int64_t when);
int		 crl_reason_parse(const char *s, int *code);
const char	*crl_reason_name(int code);
/* DER / PEM of crl (caller frees). */
int		 crl_der(X509_CRL *crl, unsigned char **der, size_t *len);
int		 crl_to_pem(X509_CRL *crl, unsigned char **pem, size_t *len);
int		 crl_parse(const unsigned char *buf, size_t len,
		    X509_CRL **out);

/* ---- p12.c ---------------------------------------------------------------------- */

enum p12_format { P12_MODERN, P12_LEGACY };

int		 p12_format_parse(const char *s, enum p12_format *out);
const char	*p12_format_name(enum p12_format f);
/*
 * PKCS#12 of key + cert + chain (may be NULL), friendly name set,
 * protected with pass in format f, as DER (caller frees with
 * secret_free_buf(): it holds the key).  The result is parsed back with pass and compared with
 * key and cert before it is returned.
 */
int		 p12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
		    const char *friendly, const char *pass,
		    enum p12_format f, unsigned char **der, size_t *len);
/*
 * Open der with pass: UC_OK when it opens and holds cert and its key,
 * UC_E_PASSPHRASE for a wrong password, UC_E_INVALID otherwise.
 */
int		 p12_check(const unsigned char *der, size_t len,
		    const char *pass, X509 *cert);

/* ---- passwd.c ------------------------------------------------------------------- */

/*
 * A new password with >= 80 bits from an alphabet without look-alikes
 * (no 0/O/1/l/i), in dash-separated groups (caller frees with
 * secret_free()).
 */
int		 password_generate(char **out);

/* ---- token.c: one-time enrollment tokens ------------------------------- */

/*
 * A new token (22 base64url characters, 128 random bits; caller frees
 * with secret_free()) and the SHA-256 of its text, which is all we store.
 */
int		 token_new(char **token, unsigned char hash[32]);
int		 token_hash(const char *token, unsigned char hash[32]);
/* 1 if s[0..len) has the shape of a token (length, alphabet). */
int		 token_syntax_ok(const char *s, size_t len);

#endif /* UC_PKI_H */
