/*
 * ucbuf.h: the one growable buffer of userca.
 *
 * A struct ucbuf starts with ucbuf_init() (or UCBUF_INIT, or all zeros: an
 * empty buffer without cap or wipe) and ends with ucbuf_free() (or
 * ucbuf_take(), which hands its bytes to the caller).  It always keeps a
 * NUL after its contents, so text built in it is a C string.  Memory is
 * malloc'd: whoever takes it frees it with free() (or secret_free_buf()
 * for a wiping buffer).  An append that would pass the size cap fails
 * with UC_E_INVALID and leaves the buffer as it was; out of memory is
 * UC_E_INTERNAL.  The first failure sticks: later appends do nothing and
 * return it, and ucbuf_take() refuses, so a caller may append many times
 * and check once.  A buffer with wipe set cleanses every block it lets go
 * (growth, reset, free), for keys and passwords.
 */
#ifndef UC_UCBUF_H
#define UC_UCBUF_H

#include <stddef.h>

#include "uc_err.h"

struct ucbuf {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
	size_t		 max;	/* most bytes it may hold; 0: no cap */
	int		 wipe;	/* cleanse memory it lets go */
	int		 err;	/* the first failure, UC_OK if none */
};

#define UCBUF_INIT(max, wipe)	{ NULL, 0, 0, (max), (wipe), UC_OK }

void	 ucbuf_init(struct ucbuf *, size_t max, int wipe);
/* Append len bytes / a string / printf output. */
int	 ucbuf_add(struct ucbuf *, const void *data, size_t len);
int	 ucbuf_addstr(struct ucbuf *, const char *s);
int	 ucbuf_printf(struct ucbuf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Make room for n more bytes without appending. */
int	 ucbuf_reserve(struct ucbuf *, size_t n);
/* Borrowed view of the contents (never NULL: "" when empty). */
const char *ucbuf_str(const struct ucbuf *);
size_t	 ucbuf_len(const struct ucbuf *);
/* Empty it, keeping its memory (wiped first with wipe); clears err. */
void	 ucbuf_reset(struct ucbuf *);
/*
 * Hand the contents (NUL-terminated) to the caller, who frees them; the
 * buffer is empty afterwards and may be reused.  *len may be NULL.  An
 * empty buffer gives a one-byte allocation holding "".  Fails with err
 * when an append failed (the buffer is left to ucbuf_free()).
 */
int	 ucbuf_take(struct ucbuf *, unsigned char **out, size_t *len);
/* Free (wiping with wipe); NULL-safe, the buffer may be reused after init. */
void	 ucbuf_free(struct ucbuf *);

#endif /* UC_UCBUF_H */
