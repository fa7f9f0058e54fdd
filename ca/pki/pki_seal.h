/*
 * pki_seal.h: a byte string sealed under a passphrase, for backup
 * archives (README.md "Backup and restore": the container).
 *
 *   offset  size  field
 *   0       8     magic "UCSEAL\r\n"
 *   8       1     version, 1
 *   9       1     KDF, 1 = PBKDF2-HMAC-SHA256
 *   10      2     reserved, 0
 *   12      4     KDF iterations (big-endian), at least SEAL_ITER_MIN
 *   16      16    salt (random)
 *   32      12    AES-256-GCM nonce (random)
 *   44      8     plaintext length (big-endian)
 *   52      n     ciphertext (AES-256-GCM, n = plaintext length)
 *   52+n    16    GCM tag
 *
 * The 52 header bytes are the GCM additional data, so every parameter is
 * authenticated with the contents.  The key is PBKDF2-HMAC-SHA256 of the
 * passphrase and salt, 32 bytes, wiped after use.
 *
 * Every int-returning function returns UC_OK or a negative UC_E_* code
 * with the detail set (uc_err.h).
 */
#ifndef UC_PKI_SEAL_H
#define UC_PKI_SEAL_H

#include <stddef.h>

#include "core.h"

#define SEAL_HDR_LEN	52
#define SEAL_TAG_LEN	16
#define SEAL_ITER	600000		/* what seal_encrypt() uses */
#define SEAL_ITER_MIN	600000		/* what seal_decrypt() accepts */
#define SEAL_ITER_MAX	10000000
/* The largest plaintext either side handles (held in memory). */
#define SEAL_MAX	((size_t)1 << 30)

/*
 * Seal pt under pass into a new buffer *out (*outlen = SEAL_HDR_LEN +
 * ptlen + SEAL_TAG_LEN; caller frees).
 */
int	seal_encrypt(const char *pass, const unsigned char *pt, size_t ptlen,
	    unsigned char **out, size_t *outlen);
/*
 * Open what seal_encrypt() made.  UC_E_INVALID when it is not a sealed
 * file or is cut short or has bytes after the tag; UC_E_PASSPHRASE when
 * the tag does not verify (a wrong passphrase and a changed byte look the
 * same).  On success *pt is a new buffer the caller releases with
 * secret_free_buf(*pt, *ptlen); on failure nothing is handed out.
 */
int	seal_decrypt(const char *pass, const unsigned char *in, size_t inlen,
	    unsigned char **pt, size_t *ptlen);

#endif /* UC_PKI_SEAL_H */
