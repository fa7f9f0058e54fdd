/*
 * pki_ocsp.h: OCSP (RFC 6960) in the PKI layer: parse a request, answer
 * it with a BasicOCSPResponse signed by a delegated responder, and the
 * responder's certificate template.  No records here: the caller says
 * what each certificate's status is.
 *
 * Every int-returning function returns UC_OK or a negative UC_E_* code
 * with the detail set (uc_err.h).
 */
#ifndef UC_PKI_OCSP_H
#define UC_PKI_OCSP_H

#include <openssl/ocsp.h>

#include "pki.h"

/* The largest request we read, and the most CertIDs in one. */
#define OCSP_REQ_MAX	(16 * 1024)
#define OCSP_IDS_MAX	64

/* One CertID of a request, as ocsp_request_parse() found it. */
struct ocsp_query {
	char	 serial[48];	/* upper-case hex; "" when not a valid
				 * serial (zero, negative, > 20 octets) */
	int	 ours;		/* issuer name and key hash match issuer */
	int	 md_nid;	/* the CertID's hash: NID_sha1, NID_sha256 */
};

/* What the caller answers for one CertID. */
struct ocsp_status {
	int	 status;	/* V_OCSP_CERTSTATUS_GOOD, _REVOKED, _UNKNOWN */
	int64_t	 revoked_at;
	int	 reason;	/* RFC 5280 CRLReason; -1 or 0: none given */
};

/*
 * Parse a DER OCSPRequest of at most OCSP_REQ_MAX bytes, with 1 to
 * OCSP_IDS_MAX CertIDs hashed with SHA-1, SHA-256, SHA-384 or SHA-512 and
 * nothing after it.  Each CertID is compared with issuer (name hash and
 * key hash under the CertID's own hash).  On success *req (caller frees
 * with OCSP_REQUEST_free) and *q (caller frees), *n CertIDs, *nonce 1 when
 * the request carries a nonce.  UC_E_INVALID for anything else: answer it
 * with malformedRequest.
 */
int	ocsp_request_parse(const unsigned char *buf, size_t len, X509 *issuer,
	    OCSP_REQUEST **req, struct ocsp_query **q, size_t *n, int *nonce);

/*
 * A successful OCSPResponse answering req: one SingleResponse per CertID
 * with st[i] (n == the request's CertIDs), thisUpdate this_update and
 * nextUpdate next_update (0: none), the nonce copied when the request has
 * one, responder ID by key hash, signed by responder (a delegated
 * responder's signer) and carrying its certificate and extra (the issuing
 * CA, may be NULL) so clients can build the chain.  DER in *der (caller
 * frees).
 */
int	ocsp_response_sign(OCSP_REQUEST *req, const struct ocsp_status *st,
	    size_t n, struct signer *responder, X509 *extra,
	    int64_t this_update, int64_t next_update, unsigned char **der,
	    size_t *len);

/*
 * An unsuccessful OCSPResponse (OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
 * _INTERNALERROR, _TRYLATER, _UNAUTHORIZED): no body, not signed.  DER in
 * *der (caller frees).
 */
int	ocsp_response_error(int status, unsigned char **der, size_t *len);

/*
 * An unsigned delegated responder certificate for pub, issued by issuer:
 * subject O=org, CN=cn, CA:FALSE, keyUsage digitalSignature, EKU
 * OCSPSigning, id-pkix-ocsp-nocheck (clients do not ask about the
 * responder itself), SKI/AKI, random serial, valid not_before to
 * not_after.  Caller frees; sign it with signer_sign_cert().
 */
int	ocsp_responder_build(X509 *issuer, EVP_PKEY *pub, const char *org,
	    const char *cn, int64_t not_before, int64_t not_after, X509 **out);

/*
 * The template behind ocsp_responder_build() and scep_ra_build(): a
 * delegated certificate for pub with CA:FALSE, keyUsage ku, EKU eku (NULL:
 * none), id-pkix-ocsp-nocheck when nocheck, SKI/AKI, random serial,
 * not_after cut to the issuer's.  Caller frees.
 */
int	pki_delegate_build(X509 *issuer, EVP_PKEY *pub, const char *org,
	    const char *cn, int64_t not_before, int64_t not_after,
	    const char *ku, const char *eku, int nocheck, X509 **out);

/*
 * signer.c: sign a BasicOCSPResponse with the signer's key and
 * certificate (SHA-256; responder ID by key hash), adding its certificate
 * and certs (may be NULL).  Thread-safe.  (OpenSSL sets producedAt from
 * the system clock.)
 */
int	signer_sign_ocsp(struct signer *, OCSP_BASICRESP *bs,
	    STACK_OF(X509) *certs);

#endif /* UC_PKI_OCSP_H */
