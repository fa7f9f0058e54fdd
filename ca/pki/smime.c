/*
 * smime.c: the SMIMECapabilities extension (RFC 4262) of S/MIME users.
 *
 * It tells a sender which content ciphers the holder's mail client reads,
 * so that encrypting to a certificate found in an address book does not
 * fall back to 3DES.  Strongest first.
 */
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "pki.h"

int
smime_caps_add(X509 *x)
{
	static const int nids[] = {
		NID_aes_256_cbc, NID_aes_192_cbc, NID_aes_128_cbc,
	};
	STACK_OF(X509_ALGOR) *caps = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	size_t i;
	int len, ok = 0;

	if ((caps = sk_X509_ALGOR_new_null()) == NULL)
		return 0;
	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++)
		if (!PKCS7_simple_smimecap(caps, nids[i], 0))
			goto out;
	if ((len = i2d_X509_ALGORS(caps, &der)) <= 0 ||
	    (os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, der, len) ||
	    (ext = X509_EXTENSION_create_by_NID(NULL, NID_SMIMECapabilities, 0,
	    os)) == NULL)
		goto out;
	ok = X509_add_ext(x, ext, -1) == 1;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
	return ok;
}
