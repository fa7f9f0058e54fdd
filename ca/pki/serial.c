/*
 * serial.c: certificate serial numbers (RFC 5280 4.1.2.2: positive, at
 * most 20 octets; CA/B forum: at least 64 bits of entropy).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>

#include "pki.h"

int
serial_random(ASN1_INTEGER **out)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *s = NULL;
	int rc = UC_E_CRYPTO;

	*out = NULL;
	if (RAND_bytes(b, sizeof(b)) != 1)
		return uc_seterr_ssl(UC_E_CRYPTO, "RAND_bytes");
	/*
	 * Clear the top bit so the DER INTEGER needs no leading zero and
	 * stays at 16 octets; set the next one so it never shrinks.
	 */
	b[0] = (b[0] & 0x7f) | 0x40;
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL ||
	    (s = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "serial number");
		goto out;
	}
	*out = s;
	rc = UC_OK;
out:
	BN_free(bn);
	return rc;
}

char *
serial_hex(const ASN1_INTEGER *s)
{
	BIGNUM *bn;
	char *hex, *dup;

	if ((bn = ASN1_INTEGER_to_BN(s, NULL)) == NULL)
		return NULL;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (hex == NULL)
		return NULL;
	dup = strdup(hex);
	OPENSSL_free(hex);
	return dup;
}

int
serial_normalize(const char *in, char **out)
{
	char *s;
	size_t i, j = 0, len = strlen(in);

	*out = NULL;
	if (len > 2 && in[0] == '0' && (in[1] == 'x' || in[1] == 'X')) {
		in += 2;
		len -= 2;
	}
	if ((s = malloc(len + 2)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	for (i = 0; i < len; i++) {
		if (in[i] == ':')
			continue;
		if (!isxdigit((unsigned char)in[i])) {
			free(s);
			return uc_seterr(UC_E_INVALID, "serial '%s' is not "
			    "hexadecimal", in);
		}
		if (j == 0 && in[i] == '0')
			continue;	/* leading zeros */
		s[j++] = (char)toupper((unsigned char)in[i]);
	}
	s[j] = '\0';
	/* BN_bn2hex writes whole octets: "0A1B", not "A1B". */
	if (j % 2 == 1) {
		memmove(s + 1, s, j + 1);
		s[0] = '0';
		j++;
	}
	/* At most 20 octets of DER, which has a sign bit. */
	if (j == 0 || j > 40 || (j == 40 && strchr("89ABCDEF", s[0]))) {
		free(s);
		return uc_seterr(UC_E_INVALID, "serial '%s' is empty or longer "
		    "than 20 octets", in);
	}
	*out = s;
	return UC_OK;
}
