/*
 * pki_mobileconfig.h: Apple configuration profiles (mobileconfig.c).
 */
#ifndef UC_PKI_MOBILECONFIG_H
#define UC_PKI_MOBILECONFIG_H

#include <stddef.h>

#include <openssl/x509.h>

/* What goes into an identity profile; every pointer is borrowed. */
struct mobileconfig {
	const char		*org;		/* PayloadOrganization; NULL:
						 * none */
	const char		*username;	/* names and identifiers */
	const unsigned char	*p12;		/* the identity (legacy
						 * PKCS#12, DER) */
	size_t			 p12_len;
	const char		*p12_password;	/* NULL: not in the profile,
						 * the device asks for it */
	const unsigned char	*root_der;	/* the root certificate */
	size_t			 root_len;
	const char		*root_name;	/* its display name */
	const char		*eas_host;	/* NULL: no Exchange payload */
	const char		*eas_user;	/* UPN or DOMAIN\user; NULL:
						 * the device asks */
	const char		*eas_email;	/* NULL: the device asks */
	/* The SCEP profile (mobileconfig_scep) */
	const char		*scep_url;
	const char		*scep_challenge; /* the one-time token */
	const unsigned char	*ca_fingerprint; /* SHA-1 of the issuing CA */
	size_t			 ca_fingerprint_len;
};

/*
 * An unsigned XML plist holding the identity (com.apple.security.pkcs12),
 * the root (com.apple.security.root) and, with eas_host, an Exchange
 * ActiveSync account (com.apple.eas.account) whose PayloadCertificateUUID
 * is the identity payload's PayloadUUID.  UUIDs are random (version 4);
 * every string is XML-escaped.  *out is NUL-terminated, holds key
 * material and is the caller's to free with secret_free_buf(*out, *len).
 */
int	mobileconfig_identity(const struct mobileconfig *mc,
	    unsigned char **out, size_t *len);

/*
 * The SCEP profile (DESIGN 22): com.apple.security.scep (URL, Name,
 * Subject CN=username, Challenge, Keysize 2048, Key Type RSA, Key Usage
 * 5, CAFingerprint), the root (com.apple.security.root) and, with
 * eas_host, Exchange signing in with the certificate the SCEP payload
 * makes.  No key material: the key is made on the device.  *out as
 * mobileconfig_identity()'s (it holds the challenge).
 */
int	mobileconfig_scep(const struct mobileconfig *mc, unsigned char **out,
	    size_t *len);

/*
 * A profile signed for the device: a DER CMS SignedData whose content is
 * the plist (len bytes, embedded as they are), signed with key by cert,
 * which goes in with chain (its issuers; NULL: none).  iOS shows such a
 * profile as Verified when cert chains to a root it trusts, else as Not
 * Verified (the plist inside is the same).  *out holds the profile:
 * secret_free_buf(*out, *outlen).
 */
int	mobileconfig_sign(const unsigned char *plist, size_t len, X509 *cert,
	    EVP_PKEY *key, STACK_OF(X509) *chain, unsigned char **out,
	    size_t *outlen);

#endif /* UC_PKI_MOBILECONFIG_H */
