/*
 * sslerr.c: OpenSSL's error queue into the project error detail.
 */
#include <stdarg.h>
#include <stdio.h>

#include <openssl/err.h>

#include "uc_err.h"

int
uc_seterr_ssl(int code, const char *fmt, ...)
{
	char msg[512], ssl[256];
	unsigned long e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The first error is the root cause; the rest only repeat it. */
	if ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, ssl, sizeof(ssl));
		ERR_clear_error();
		return uc_seterr(code, "%s (%s)", msg, ssl);
	}
	return uc_seterr(code, "%s", msg);
}
