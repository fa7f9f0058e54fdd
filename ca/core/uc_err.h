/*
 * uc_err.h: the one error type of userca's libraries (db/ and ca/).
 *
 * Library functions return UC_OK (0) or a negative UC_E_* code and never
 * print or exit.  The code says what kind of failure it was; a
 * thread-local detail string says which input it concerned (file name,
 * CSV line, serial, SQLite or OpenSSL message).  Only the front doors
 * (CLI main, daemon main) decide what to print and how to exit.
 */
#ifndef UC_ERR_H
#define UC_ERR_H

enum uc_err {
	UC_OK = 0,
	UC_E_INTERNAL = -1,	/* a bug or an allocation failure */
	UC_E_IO = -2,		/* file system */
	UC_E_DB = -3,		/* SQLite */
	UC_E_CRYPTO = -4,	/* OpenSSL failed on valid input */
	UC_E_INVALID = -5,	/* bad input: malformed file, bad argument */
	UC_E_NOTFOUND = -6,	/* unknown user, serial, file */
	UC_E_EXISTS = -7,	/* would overwrite something that exists */
	UC_E_POLICY = -8,	/* input refused by policy (weak key, ...) */
	UC_E_PASSPHRASE = -9,	/* wrong passphrase or password */
	UC_E_STATE = -10,	/* wrong state: already revoked, no CA, ... */
	UC_E_SIGNATURE = -11,	/* a signature does not verify */
};

/* Short generic text for a code; static storage. */
const char	*uc_strerror(int code);

/*
 * Set the calling thread's detail message (printf format) and return
 * code, so that callers can write "return uc_seterr(UC_E_IO, ...)".
 */
int		 uc_seterr(int code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * Like uc_seterr() but appends the first OpenSSL error on this thread's
 * queue (if any) and drains the queue.  Defined in ca/ (the only layer
 * that links OpenSSL); declared here so every layer sees one error API.
 */
int		 uc_seterr_ssl(int code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* Prepend "prefix: " to the detail message; returns code. */
int		 uc_errprefix(int code, const char *prefix);

/* The calling thread's last detail message ("" if none); borrowed. */
const char	*uc_errmsg(void);

/* Forget the calling thread's detail message. */
void		 uc_clearerr(void);

#endif /* UC_ERR_H */
