/*
 * pki_int.h: what the files of the PKI layer share and no other layer
 * sees.  The buffers here are OpenSSL's (OPENSSL_malloc), the exception to
 * pki.h's allocator rule: they are made to be handed to
 * X509_PUBKEY_set0_param(), which frees them with OPENSSL_free().
 */
#ifndef UC_PKI_INT_H
#define UC_PKI_INT_H

#include "pki.h"

/*
 * The DER RSAPublicKey { n, e } of k, built from its numbers (caller frees
 * with OPENSSL_free).  UC_E_INVALID when k is not RSA.
 */
int		 key_rsa_pub_der(const EVP_PKEY *k, unsigned char **der,
		    size_t *len);
/*
 * The uncompressed point (04 || X || Y) of the EC key k, however the key
 * was encoded, and the NID of its named curve (caller frees *pt with
 * OPENSSL_free).  UC_E_INVALID when k is not EC on a named curve.
 */
int		 key_ec_point(EVP_PKEY *k, unsigned char **pt, size_t *len,
		    int *nid);

#endif /* UC_PKI_INT_H */
