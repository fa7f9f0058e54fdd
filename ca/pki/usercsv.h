/*
 * usercsv.h: the users CSV (RFC 4180, UTF-8, optional BOM, CRLF or LF),
 * parsed with libcsv and validated row by row.
 *
 * Push parser: feed it bytes as they come; it calls back once per valid
 * row and once per bad row (with the line the row starts on), so one bad
 * row never stops the others.  A bad header is fatal: without it no row
 * can be read.  No I/O, no allocation that grows with the file beyond the
 * row being parsed.
 */
#ifndef UC_USERCSV_H
#define UC_USERCSV_H

#include <stddef.h>

#include "pki.h"

#define USERCSV_FIELD_MAX	1024	/* bytes in one field */

struct user_row {
	long		 line;		/* where the row starts (1-based) */
	struct identity	 id;		/* borrowed for the callback only */
	int		 p12_format;	/* -1: not given, else enum p12_format */
	int		 smime;		/* -1: not given, 0: no, 1: yes */
};

typedef void (*usercsv_row_fn)(const struct user_row *, void *arg);
/* msg names what is wrong; borrowed for the callback only. */
typedef void (*usercsv_err_fn)(long line, const char *msg, void *arg);

struct usercsv;

int	usercsv_new(usercsv_row_fn, usercsv_err_fn, void *arg,
	    struct usercsv **out);
/*
 * Feed the next bytes.  UC_E_INVALID (detail set, with the line) for a
 * fatal problem: a missing, duplicate or unknown header column.
 */
int	usercsv_feed(struct usercsv *, const unsigned char *buf, size_t len);
/* End of input: flushes the last row.  UC_E_INVALID for an empty file. */
int	usercsv_finish(struct usercsv *);
/* Rows seen so far (valid and bad, header excluded). */
long	usercsv_rows(const struct usercsv *);
void	usercsv_free(struct usercsv *);

#endif /* UC_USERCSV_H */
