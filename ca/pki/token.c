/*
 * token.c: one-time enrollment tokens.  128 random bits, written as 22
 * characters of unpadded base64url so they sit in a URL untouched; only
 * the SHA-256 of that text is ever stored.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pki.h"

#define TOKEN_BYTES	16
#define TOKEN_CHARS	22

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
token_hash(const char *token, unsigned char hash[32])
{
	unsigned int len = 32;

	if (!EVP_Digest(token, strlen(token), hash, &len, EVP_sha256(), NULL))
		return uc_seterr_ssl(UC_E_CRYPTO, "hashing a token");
	return UC_OK;
}

int
token_syntax_ok(const char *s, size_t len)
{
	size_t i;

	if (len != TOKEN_CHARS)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(b64url, s[i]) == NULL)
			return 0;
	return 1;
}

int
token_new(char **token, unsigned char hash[32])
{
	unsigned char r[TOKEN_BYTES + 2];
	unsigned int v;
	char *t;
	size_t i, o = 0;
	int rc;

	*token = NULL;
	if ((t = malloc(TOKEN_CHARS + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	memset(r, 0, sizeof(r));
	if (RAND_bytes(r, TOKEN_BYTES) != 1) {
		free(t);
		return uc_seterr_ssl(UC_E_CRYPTO, "RAND_bytes");
	}
	/* 3 bytes -> 4 symbols; 16 bytes give 22 symbols (128 bits). */
	for (i = 0; i < TOKEN_BYTES; i += 3) {
		v = (unsigned int)r[i] << 16 | (unsigned int)r[i + 1] << 8 |
		    r[i + 2];
		t[o++] = b64url[(v >> 18) & 63];
		t[o++] = b64url[(v >> 12) & 63];
		if (o < TOKEN_CHARS)
			t[o++] = b64url[(v >> 6) & 63];
		if (o < TOKEN_CHARS)
			t[o++] = b64url[v & 63];
	}
	t[TOKEN_CHARS] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	if ((rc = token_hash(t, hash)) != UC_OK) {
		secret_free(t);
		return rc;
	}
	*token = t;
	return UC_OK;
}
