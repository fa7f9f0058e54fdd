/*
 * ossl.c: the small OpenSSL helpers the PKI files share (ASN.1 times,
 * memory BIOs, OpenSSL's buffers made ours); core/ stays free of OpenSSL
 * objects.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "pki.h"

int
uc_asn1_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return uc_seterr_ssl(UC_E_INVALID, "malformed ASN.1 time");
	*out = (int64_t)timegm(&tm);
	return UC_OK;
}

int
ossl_take(unsigned char *obuf, int n, int wipe, unsigned char **out,
    size_t *len, const char *what)
{
	int rc = UC_OK;

	*out = NULL;
	if (obuf == NULL || n <= 0)
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding %s", what);
	else if ((*out = malloc((size_t)n)) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else {
		memcpy(*out, obuf, (size_t)n);
		*len = (size_t)n;
	}
	if (obuf != NULL && n > 0 && wipe)
		OPENSSL_cleanse(obuf, (size_t)n);
	OPENSSL_free(obuf);
	return rc;
}

int
ossl_bio_take(BIO *bio, unsigned char **buf, size_t *len, const char *what)
{
	char *data;
	long n;
	int rc = UC_OK;

	*buf = NULL;
	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		rc = uc_seterr_ssl(UC_E_CRYPTO, "encoding %s", what);
	else if ((*buf = malloc((size_t)n)) == NULL)
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	else {
		memcpy(*buf, data, (size_t)n);
		*len = (size_t)n;
	}
	BIO_free(bio);
	return rc;
}
