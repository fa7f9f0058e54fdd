/*
 * ucbuf.c: the one growable buffer (see ucbuf.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ucbuf.h"

void
ucbuf_init(struct ucbuf *b, size_t max, int wipe)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->wipe = wipe != 0;
}

int
ucbuf_reserve(struct ucbuf *b, size_t n)
{
	unsigned char *np;
	size_t need, cap;

	if (b->err != UC_OK)
		return b->err;
	if (n > SIZE_MAX - 1 - b->len)
		return b->err = uc_seterr(UC_E_INTERNAL, "buffer size overflow");
	need = b->len + n + 1;			/* the NUL */
	if (b->max != 0 && need - 1 > b->max)
		return b->err = uc_seterr(UC_E_INVALID, "more than %zu bytes",
		    b->max);
	if (need <= b->cap)
		return UC_OK;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->wipe) {
		/* realloc could leave a copy behind: move it by hand. */
		if ((np = malloc(cap)) == NULL)
			return b->err = uc_seterr(UC_E_INTERNAL,
			    "out of memory");
		if (b->p != NULL) {
			memcpy(np, b->p, b->len + 1);
			OPENSSL_cleanse(b->p, b->cap);
			free(b->p);
		}
	} else if ((np = realloc(b->p, cap)) == NULL)
		return b->err = uc_seterr(UC_E_INTERNAL, "out of memory");
	b->p = np;
	b->cap = cap;
	b->p[b->len] = '\0';
	return UC_OK;
}

int
ucbuf_add(struct ucbuf *b, const void *data, size_t len)
{
	int rc;

	if ((rc = ucbuf_reserve(b, len)) != UC_OK)
		return rc;
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return UC_OK;
}

int
ucbuf_addstr(struct ucbuf *b, const char *s)
{
	return ucbuf_add(b, s, strlen(s));
}

int
ucbuf_printf(struct ucbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n, rc;

	if (b->err != UC_OK)
		return b->err;
	room = b->cap > b->len ? b->cap - b->len : 0;
	va_start(ap, fmt);
	n = vsnprintf(room > 0 ? (char *)b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return b->err = uc_seterr(UC_E_INTERNAL, "printf failed");
	if ((size_t)n < room) {
		if (b->max != 0 && b->len + (size_t)n > b->max) {
			b->p[b->len] = '\0';
			return b->err = uc_seterr(UC_E_INVALID,
			    "more than %zu bytes", b->max);
		}
		b->len += (size_t)n;
		return UC_OK;
	}
	if ((rc = ucbuf_reserve(b, (size_t)n)) != UC_OK) {
		if (b->p != NULL)
			b->p[b->len] = '\0';
		return rc;
	}
	va_start(ap, fmt);
	n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		return b->err = uc_seterr(UC_E_INTERNAL, "printf failed");
	}
	b->len += (size_t)n;
	return UC_OK;
}

const char *
ucbuf_str(const struct ucbuf *b)
{
	return b->p != NULL ? (const char *)b->p : "";
}

size_t
ucbuf_len(const struct ucbuf *b)
{
	return b->len;
}

void
ucbuf_reset(struct ucbuf *b)
{
	b->err = UC_OK;
	if (b->p == NULL)
		return;
	if (b->wipe)
		OPENSSL_cleanse(b->p, b->len);
	b->len = 0;
	b->p[0] = '\0';
}

int
ucbuf_take(struct ucbuf *b, unsigned char **out, size_t *len)
{
	int rc;

	*out = NULL;
	if (b->err != UC_OK)
		return b->err;
	if (b->p == NULL && (rc = ucbuf_reserve(b, 0)) != UC_OK)
		return rc;
	*out = b->p;			/* now owned by the caller */
	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return UC_OK;
}

void
ucbuf_free(struct ucbuf *b)
{
	if (b == NULL)
		return;
	b->err = UC_OK;
	if (b->p == NULL)
		return;
	if (b->wipe)
		OPENSSL_cleanse(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
