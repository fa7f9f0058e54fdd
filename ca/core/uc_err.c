/*
 * uc_err.c: thread-local error detail for the libraries.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "uc_err.h"

static _Thread_local char errbuf[1024];

const char *
uc_strerror(int code)
{
	switch (code) {
	case UC_OK:
		return "success";
	case UC_E_INTERNAL:
		return "internal error";
	case UC_E_IO:
		return "file error";
	case UC_E_DB:
		return "database error";
	case UC_E_CRYPTO:
		return "cryptographic error";
	case UC_E_INVALID:
		return "invalid input";
	case UC_E_NOTFOUND:
		return "not found";
	case UC_E_EXISTS:
		return "already exists";
	case UC_E_POLICY:
		return "refused by policy";
	case UC_E_PASSPHRASE:
		return "passphrase";
	case UC_E_STATE:
		return "wrong state";
	case UC_E_SIGNATURE:
		return "bad signature";
	default:
		return "unknown error";
	}
}

int
uc_seterr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return code;
}

int
uc_errprefix(int code, const char *prefix)
{
	size_t pl = strlen(prefix), ol = strlen(errbuf);

	if (pl + 2 >= sizeof(errbuf))
		pl = sizeof(errbuf) - 3;
	if (ol > sizeof(errbuf) - 1 - pl - 2)
		ol = sizeof(errbuf) - 1 - pl - 2;
	memmove(errbuf + pl + 2, errbuf, ol);
	memcpy(errbuf, prefix, pl);
	errbuf[pl] = ':';
	errbuf[pl + 1] = ' ';
	errbuf[pl + 2 + ol] = '\0';
	return code;
}

const char *
uc_errmsg(void)
{
	return errbuf;
}

void
uc_clearerr(void)
{
	errbuf[0] = '\0';
}
