/*
 * passwd.c: generated passwords people can read aloud and type on a phone.
 */
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pki.h"

/* 31 symbols: no 0/o, 1/l/i look-alikes, lower case only. */
static const char alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";
#define ALPHA	(sizeof(alphabet) - 1)
#define GROUPS	3
#define GLEN	6	/* 18 symbols * log2(31) = 89 bits */

int
password_generate(char **out)
{
	unsigned char r;
	char *s;
	size_t i = 0, n = 0;

	*out = NULL;
	if ((s = malloc(GROUPS * (GLEN + 1))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	while (n < GROUPS * GLEN) {
		if (RAND_bytes(&r, 1) != 1) {
			secret_free(s);
			return uc_seterr_ssl(UC_E_CRYPTO, "RAND_bytes");
		}
		/* Rejection sampling keeps every symbol equally likely. */
		if (r >= 256 - (256 % ALPHA))
			continue;
		if (n > 0 && n % GLEN == 0)
			s[i++] = '-';
		s[i++] = alphabet[r % ALPHA];
		n++;
	}
	s[i] = '\0';
	OPENSSL_cleanse(&r, sizeof(r));
	*out = s;
	return UC_OK;
}
