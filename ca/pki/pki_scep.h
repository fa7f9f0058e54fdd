/*
 * pki_scep.h: SCEP (RFC 8894) messages (scep.c): the pkiMessage a client
 * sends (a SignedData whose content is an EnvelopedData for our RA
 * certificate) taken apart, the CertRep we answer built, the RA
 * certificate's template, and certs-only PKCS#7 bundles (GetCACert, EST
 * cacerts).  OpenSSL's PKCS7 API does the CMS work; this file knows the
 * SCEP attributes and the rules on them.
 */
#ifndef UC_PKI_SCEP_H
#define UC_PKI_SCEP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/* messageType (RFC 8894 3.2.1.2). */
#define SCEP_CERTREP		3
#define SCEP_RENEWALREQ		17
#define SCEP_PKCSREQ		19
#define SCEP_CERTPOLL		20	/* GetCertInitial */
#define SCEP_GETCERT		21
#define SCEP_GETCRL		22

/* pkiStatus (3.2.1.3). */
#define SCEP_SUCCESS		0
#define SCEP_FAILURE		2
#define SCEP_PENDING		3

/* failInfo (3.2.1.4). */
#define SCEP_BADALG		0
#define SCEP_BADMESSAGECHECK	1
#define SCEP_BADREQUEST		2
#define SCEP_BADTIME		3
#define SCEP_BADCERTID		4

#define SCEP_TID_MAX		128	/* transactionID characters kept */
#define SCEP_NONCE_MAX		64

/* A client's pkiMessage, taken apart by scep_parse(). */
struct scep_req {
	int		 type;			/* SCEP_PKCSREQ ... */
	char		 tid[SCEP_TID_MAX + 1];	/* transactionID */
	unsigned char	 nonce[SCEP_NONCE_MAX];	/* senderNonce */
	size_t		 nonce_len;
	X509		*signer;		/* the signer's certificate */
	int		 md_nid;		/* its digest, for the reply */
	int		 cipher_nid;		/* the envelope's cipher */
	unsigned char	*inner;			/* the decrypted content: a
						 * PKCS#10 (PKCSReq,
						 * RenewalReq), an
						 * IssuerAndSubject or an
						 * IssuerAndSerialNumber */
	size_t		 inner_len;
	int		 replyable;		/* enough is known (signer,
						 * transactionID, nonce,
						 * signature good) to answer
						 * with a CertRep */
	int		 fail_info;		/* SCEP_BAD*: why it failed */
};
void	scep_req_clear(struct scep_req *);	/* NULL-safe; wipes inner */

/*
 * Take a pkiMessage (DER or BER) apart: check the signature with the
 * signer certificate it carries, read the SCEP attributes, check the
 * digest (SHA-1 or SHA-2) and the envelope's cipher (AES-128/192/256-CBC,
 * 3DES, and DES-CBC only with allow_des), and decrypt the envelope with
 * the RA key.  UC_OK with q filled; otherwise an error naming the
 * problem, q->fail_info says which failInfo fits and q->replyable
 * whether a CertRep FAILURE can be sent (else only an HTTP error).  Clear
 * q with scep_req_clear() in every case.
 */
int	scep_parse(const unsigned char *der, size_t len, X509 *ra_cert,
	    EVP_PKEY *ra_key, int allow_des, struct scep_req *q);

/*
 * The challengePassword of a PKCS#10 (DER): a new string in *out (free
 * with secret_free()), or UC_E_NOTFOUND when it has none.  With signer
 * (a PKCSReq's), its key must be the CSR's first (else UC_E_SIGNATURE):
 * the CSR is parsed once for both.
 */
int	scep_csr_challenge(const unsigned char *csr, size_t len, X509 *signer,
	    char **out);

/* 1 when the CSR's public key is the signer certificate's. */
int	scep_csr_matches(const unsigned char *csr, size_t len, X509 *signer);

/*
 * The CertRep for q, signed with the RA key (q's digest) and carrying
 * the RA certificate.  SCEP_SUCCESS: cert (the issued one) goes in a
 * certs-only PKCS#7 enveloped for q's signer with q's cipher.
 * SCEP_FAILURE: fail_info, no envelope.  DER in *der (free()).
 */
int	scep_reply(const struct scep_req *q, X509 *ra_cert, EVP_PKEY *ra_key,
	    int status, int fail_info, X509 *cert, unsigned char **der,
	    size_t *len);

/*
 * As scep_reply() SUCCESS, for the certificate's DER (cert, certlen) as
 * it is: nothing decoded (OpenSSL 3 decodes the key of every certificate
 * it reads).  scep_certs_p7_der(): that certs-only PKCS#7 alone, the
 * bytes pki_certs_p7() makes for one certificate (free()).
 */
int	scep_reply_der(const struct scep_req *q, X509 *ra_cert,
	    EVP_PKEY *ra_key, const unsigned char *cert, size_t certlen,
	    unsigned char **der, size_t *len);
int	scep_certs_p7_der(const unsigned char *cert, size_t certlen,
	    unsigned char **der, size_t *len);

/* GetCRL's CertRep: SUCCESS with the CRL in the envelope. */
int	scep_reply_crl(const struct scep_req *q, X509 *ra_cert,
	    EVP_PKEY *ra_key, X509_CRL *crl, unsigned char **der,
	    size_t *len);

/*
 * A certs-only ("degenerate") PKCS#7 SignedData of the n certificates, in
 * that order, and the crl when not NULL.  DER in *der (free()).
 */
int	pki_certs_p7(X509 *const *certs, size_t n, X509_CRL *crl,
	    unsigned char **der, size_t *len);

/*
 * An unsigned SCEP RA certificate for the RSA key pub, issued by issuer:
 * subject O=org, CN=cn, CA:FALSE, keyUsage digitalSignature and
 * keyEncipherment (critical), SKI/AKI, random serial, not_before to
 * not_after (never past the issuer).  Caller frees; sign it with
 * signer_sign_cert().
 */
int	scep_ra_build(X509 *issuer, EVP_PKEY *pub, const char *org,
	    const char *cn, int64_t not_before, int64_t not_after, X509 **out);

/*
 * Make single DES available (OpenSSL's legacy provider, with the default
 * one).  Only for [scep] allow_des; once per process.
 */
int	scep_enable_des(void);

#endif /* UC_PKI_SCEP_H */
