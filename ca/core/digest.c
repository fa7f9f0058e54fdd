/*
 * digest.c: one SHA-256, so db/ can chain its audit rows without
 * knowing OpenSSL (the row's id and the previous row's hash are only
 * known inside the store's write transaction).
 */
#include <openssl/sha.h>

#include "core.h"

int
uc_sha256(const void *buf, size_t len, unsigned char out[UC_SHA256_LEN])
{
	if (SHA256(buf, len, out) == NULL)
		return uc_seterr_ssl(UC_E_CRYPTO, "SHA-256");
	return UC_OK;
}
