/*
 * pki_est.h: the pieces of EST (RFC 7030) that are encodings (est.c):
 * base64 bodies and the CSR attributes we ask for.  The certs-only
 * PKCS#7 of /cacerts and /simpleenroll is pki_certs_p7() (pki_scep.h).
 */
#ifndef UC_PKI_EST_H
#define UC_PKI_EST_H

#include <stddef.h>

#include "pki.h"

/* base64 in one line, no line break (strongSwan 5.9.8 decodes a CR or
 * LF as data); a new NUL-terminated string in *out (free()). */
int	est_b64_encode(const unsigned char *in, size_t len, char **out,
	    size_t *outlen);
/* base64 with any white space (CR, LF, space, tab); a new buffer in *out
 * (free()).  UC_E_INVALID when it is not base64. */
int	est_b64_decode(const unsigned char *in, size_t len,
	    unsigned char **out, size_t *outlen);
/*
 * CsrAttrs (RFC 7030 4.5.2) for the key type we issue to: the key
 * algorithm (with its curve for EC) and the signature algorithm, DER in
 * *der (free()).
 */
int	est_csrattrs(enum key_type t, unsigned char **der, size_t *len);

#endif /* UC_PKI_EST_H */
