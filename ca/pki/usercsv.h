/*
 * usercsv.h: the users CSV (RFC 4180, UTF-8, optional BOM, CRLF or LF),
 * parsed with libcsv and validated row by row.
 *
 * Also what Excel and PowerShell write: UTF-16 with a byte order mark
 * (converted), Windows-1252 when asked (converted; otherwise invalid UTF-8
 * stops the file, naming the option), another delimiter when asked (a
 * header split by ';' alone stops the file, naming the option), the
 * "#TYPE ..." first line of Export-Csv (skipped), and Active Directory
 * column names through a map (username=SamAccountName,...).
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

enum usercsv_encoding {
	USERCSV_UTF8,		/* UTF-16 too, when the file starts with a BOM */
	USERCSV_CP1252,		/* Windows-1252 (and so Latin-1's text) */
};

struct usercsv_map;

struct usercsv_opts {
	char			 delimiter;	/* 0: ',' */
	enum usercsv_encoding	 encoding;
	const struct usercsv_map *map;		/* NULL: the header's names */
};

/*
 * "cp1252", "windows-1252", "latin1", "iso-8859-1", "utf-8" (any case,
 * '-' or '_' optional).  UC_E_INVALID for anything else.
 */
int	usercsv_encoding_parse(const char *s, enum usercsv_encoding *out);
/* ",", ";", "tab" (or a tab), "|".  UC_E_INVALID for anything else. */
int	usercsv_delimiter_parse(const char *s, char *out);
/*
 * "column=Header,..." (username, email, name, upn, ou, p12_format, smime,
 * sid): each column read from the header named (case-insensitive); with a
 * map, header columns it does not name are ignored.  UC_E_INVALID with the
 * detail; *out is freed with usercsv_map_free().
 */
int	usercsv_map_parse(const char *spec, struct usercsv_map **out);
void	usercsv_map_free(struct usercsv_map *);

typedef void (*usercsv_row_fn)(const struct user_row *, void *arg);
/* msg names what is wrong; borrowed for the callback only. */
typedef void (*usercsv_err_fn)(long line, const char *msg, void *arg);

struct usercsv;

/* As usercsv_new_ex() with the defaults (UTF-8, ',', no map). */
int	usercsv_new(usercsv_row_fn, usercsv_err_fn, void *arg,
	    struct usercsv **out);
/* opts (may be NULL) and its map are borrowed until usercsv_free(). */
int	usercsv_new_ex(const struct usercsv_opts *opts, usercsv_row_fn,
	    usercsv_err_fn, void *arg, struct usercsv **out);
/*
 * Feed the next bytes.  UC_E_INVALID (detail set, with the line) for a
 * fatal problem: a missing, duplicate or unknown header column, a header
 * split by another delimiter, text that is not in the file's encoding.
 */
int	usercsv_feed(struct usercsv *, const unsigned char *buf, size_t len);
/* End of input: flushes the last row.  UC_E_INVALID for an empty file. */
int	usercsv_finish(struct usercsv *);
/* Rows seen so far (valid and bad, header excluded). */
long	usercsv_rows(const struct usercsv *);
void	usercsv_free(struct usercsv *);

#endif /* UC_USERCSV_H */
