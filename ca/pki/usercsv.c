/*
 * usercsv.c: the users CSV over libcsv.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "usercsv.h"

enum col { C_USERNAME, C_EMAIL, C_NAME, C_UPN, C_OU, C_P12FMT, C_SMIME,
	C_SID, C_NCOLS };
static const char *const colnames[C_NCOLS] = {
	"username", "email", "name", "upn", "ou", "p12_format", "smime", "sid",
};
#define MAXFIELDS	32

struct usercsv {
	struct csv_parser	 p;
	usercsv_row_fn		 on_row;
	usercsv_err_fn		 on_err;
	void			*arg;
	int			 have_header;
	int			 ncols;			/* header width */
	int			 map[MAXFIELDS];	/* field -> enum col */
	char			*f[MAXFIELDS];		/* current row */
	size_t			 flen[MAXFIELDS];
	int			 nf;
	int			 toomany;
	char			 err[256];		/* first problem in row */
	int			 fatal;
	char			 fatalmsg[512];
	long			 line;			/* physical line fed */
	long			 rowline;		/* current row's first */
	long			 rows;
	int			 bom_checked;
	unsigned char		 bom[3];
	size_t			 bomlen;
	int			 prev_cr;		/* last byte fed: CR */
	unsigned char		*pend;			/* partial line */
	size_t			 pendlen, pendcap;
};

/* ---- field checks ----------------------------------------------------- */

static int
utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;
	unsigned int cp;
	int extra;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			cp = s[i] & 0x1f;
			extra = 1;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0f;
			extra = 2;
		} else if ((s[i] & 0xf8) == 0xf0) {
			cp = s[i] & 0x07;
			extra = 3;
		} else
			return 0;
		if (len - i <= (size_t)extra)
			return 0;	/* truncated sequence */
		for (i++; extra > 0; extra--, i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < 0x80 || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp > 0x10ffff)
			return 0;
	}
	return 1;
}

static void row_err(struct usercsv *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Keep the first problem of a row: later ones are often its echo. */
static void
row_err(struct usercsv *u, const char *fmt, ...)
{
	va_list ap;

	if (u->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(u->err, sizeof(u->err), fmt, ap);
	va_end(ap);
}

static void
row_reset(struct usercsv *u)
{
	int i;

	for (i = 0; i < u->nf; i++) {
		free(u->f[i]);
		u->f[i] = NULL;
	}
	u->nf = 0;
	u->toomany = 0;
	u->err[0] = '\0';
}

/* ---- libcsv callbacks ------------------------------------------------------ */

static void
cb_field(void *data, size_t len, void *arg)
{
	struct usercsv *u = arg;
	const char *name;

	if (u->fatal)
		return;
	if (u->nf >= MAXFIELDS) {
		u->toomany = 1;
		return;
	}
	name = u->have_header && u->nf < u->ncols ?
	    colnames[u->map[u->nf]] : "field";
	if (len > USERCSV_FIELD_MAX)
		row_err(u, "%s is longer than %d bytes", name,
		    USERCSV_FIELD_MAX);
	else if (data != NULL && memchr(data, '\0', len) != NULL)
		row_err(u, "%s contains a NUL byte", name);
	else if (data != NULL && !utf8_ok(data, len))
		row_err(u, "%s is not valid UTF-8", name);
	if (u->err[0] != '\0') {
		u->f[u->nf] = NULL;
		u->flen[u->nf++] = 0;
		return;
	}
	if ((u->f[u->nf] = malloc(len + 1)) == NULL) {
		row_err(u, "out of memory");
		return;
	}
	if (len > 0)
		memcpy(u->f[u->nf], data, len);
	u->f[u->nf][len] = '\0';
	u->flen[u->nf++] = len;
}

static void
header_row(struct usercsv *u)
{
	int seen[C_NCOLS] = { 0 }, i, c;
	char unknown[256] = "";
	size_t ul = 0;

	if (u->err[0] != '\0') {
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: header: "
		    "%s", u->rowline, u->err);
		u->fatal = 1;
		return;
	}
	if (u->toomany) {
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: header "
		    "has more than %d columns", u->rowline, MAXFIELDS);
		u->fatal = 1;
		return;
	}
	for (i = 0; i < u->nf; i++) {
		for (c = 0; c < C_NCOLS; c++)
			if (strcasecmp(u->f[i], colnames[c]) == 0)
				break;
		if (c == C_NCOLS) {
			ul += (size_t)snprintf(unknown + ul, sizeof(unknown) -
			    (ul < sizeof(unknown) ? ul : sizeof(unknown)),
			    "%s'%.40s'", ul ? ", " : "", u->f[i]);
			if (ul >= sizeof(unknown))
				ul = sizeof(unknown);
			continue;
		}
		if (seen[c]++) {
			snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: "
			    "header names column '%s' twice", u->rowline,
			    colnames[c]);
			u->fatal = 1;
			return;
		}
		u->map[i] = c;
	}
	if (unknown[0] != '\0') {
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: unknown "
		    "column(s) %s in the header (known: username, email, name, "
		    "upn, ou, p12_format, smime, sid)", u->rowline, unknown);
		u->fatal = 1;
		return;
	}
	if (!seen[C_USERNAME]) {
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: the "
		    "header has no 'username' column (is the header row "
		    "missing?)", u->rowline);
		u->fatal = 1;
		return;
	}
	u->ncols = u->nf;
	u->have_header = 1;
}

/* Empty or all-blank field: treated as absent. */
static const char *
opt_field(const char *s)
{
	return s == NULL || s[0] == '\0' ? NULL : s;
}

static void
data_row(struct usercsv *u)
{
	struct user_row r;
	const char *v[C_NCOLS] = { NULL };
	char msg[320];
	enum p12_format f;
	int i;

	u->rows++;
	if (u->err[0] == '\0' && u->toomany)
		snprintf(u->err, sizeof(u->err), "more than %d fields",
		    MAXFIELDS);
	if (u->err[0] == '\0' && u->nf != u->ncols)
		snprintf(u->err, sizeof(u->err), "%d field(s) where the header "
		    "has %d", u->nf, u->ncols);
	if (u->err[0] != '\0') {
		u->on_err(u->rowline, u->err, u->arg);
		return;
	}
	for (i = 0; i < u->nf; i++)
		v[u->map[i]] = u->f[i];
	memset(&r, 0, sizeof(r));
	r.line = u->rowline;
	r.id.username = v[C_USERNAME] != NULL ? v[C_USERNAME] : "";
	r.id.email = opt_field(v[C_EMAIL]);
	r.id.name = opt_field(v[C_NAME]);
	r.id.upn = opt_field(v[C_UPN]);
	r.id.ou = opt_field(v[C_OU]);
	r.id.sid = opt_field(v[C_SID]);
	r.p12_format = -1;
	r.smime = -1;
	if (opt_field(v[C_SMIME]) != NULL) {
		if (strcasecmp(v[C_SMIME], "yes") == 0 ||
		    strcasecmp(v[C_SMIME], "true") == 0 ||
		    strcmp(v[C_SMIME], "1") == 0)
			r.smime = 1;
		else if (strcasecmp(v[C_SMIME], "no") == 0 ||
		    strcasecmp(v[C_SMIME], "false") == 0 ||
		    strcmp(v[C_SMIME], "0") == 0)
			r.smime = 0;
		else {
			snprintf(msg, sizeof(msg), "smime '%.40s' is not yes "
			    "or no", v[C_SMIME]);
			u->on_err(u->rowline, msg, u->arg);
			return;
		}
		r.id.smime = r.smime;
	}
	if (identity_check(&r.id) != UC_OK) {
		snprintf(msg, sizeof(msg), "%s", uc_errmsg());
		u->on_err(u->rowline, msg, u->arg);
		return;
	}
	if (opt_field(v[C_P12FMT]) != NULL) {
		if (p12_format_parse(v[C_P12FMT], &f) != UC_OK) {
			snprintf(msg, sizeof(msg), "p12_format '%.40s' is not "
			    "modern or legacy", v[C_P12FMT]);
			u->on_err(u->rowline, msg, u->arg);
			return;
		}
		r.p12_format = (int)f;
	}
	u->on_row(&r, u->arg);
}

static void
cb_row(int c, void *arg)
{
	struct usercsv *u = arg;
	int i;

	if (u->fatal)
		return;
	/* A row of empty fields (",,," from a spreadsheet) is blank. */
	for (i = 0; i < u->nf && u->err[0] == '\0' && !u->toomany; i++)
		if (u->f[i] != NULL && u->f[i][0] != '\0')
			break;
	if (i == u->nf && u->err[0] == '\0' && !u->toomany)
		goto done;
	if (!u->have_header)
		header_row(u);
	else
		data_row(u);
done:
	row_reset(u);
	u->rowline = 0;
}

/* ---- feeding ------------------------------------------------------------------ */

int
usercsv_new(usercsv_row_fn on_row, usercsv_err_fn on_err, void *arg,
    struct usercsv **out)
{
	struct usercsv *u;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (csv_init(&u->p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(u);
		return uc_seterr(UC_E_INTERNAL, "csv_init");
	}
	u->on_row = on_row;
	u->on_err = on_err;
	u->arg = arg;
	*out = u;
	return UC_OK;
}

/*
 * Parse one physical line with its terminator (LF, CR, or the CR of a
 * CRLF); count == 0 for the LF of a CRLF, which starts no line.
 */
static int
feed_line(struct usercsv *u, const unsigned char *s, size_t len, int count)
{
	size_t n;

	if (count) {
		u->line++;
		/*
		 * A row starts on the first line fed while libcsv has not
		 * begun one (pstate 0 is its ROW_NOT_BEGUN); blank lines keep
		 * it there.
		 */
		if (u->p.pstate == 0 && u->nf == 0)
			u->rowline = u->line;
	}
	n = csv_parse(&u->p, s, len, cb_field, cb_row, u);
	if (u->fatal)
		return uc_seterr(UC_E_INVALID, "%s", u->fatalmsg);
	if (n == len)
		return UC_OK;
	if (csv_error(&u->p) != CSV_EPARSE)
		return uc_seterr(UC_E_INTERNAL, "line %ld: %s", u->line,
		    csv_strerror(csv_error(&u->p)));
	/*
	 * Malformed quoting: report the row, drop it, and start afresh on
	 * the next line so the rest of the file is still read.
	 */
	if (!u->have_header) {
		return uc_seterr(UC_E_INVALID, "line %ld: header: malformed "
		    "quoting", u->line);
	}
	u->rows++;
	u->on_err(u->rowline ? u->rowline : u->line, "malformed quoting "
	    "(a '\"' inside an unquoted field, or text after a closing "
	    "quote)", u->arg);
	row_reset(u);
	u->rowline = 0;
	csv_free(&u->p);
	if (csv_init(&u->p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return uc_seterr(UC_E_INTERNAL, "csv_init");
	return UC_OK;
}

int
usercsv_feed(struct usercsv *u, const unsigned char *buf, size_t len)
{
	const unsigned char *nl;
	unsigned char *np;
	size_t take;
	int rc;

	/* A UTF-8 byte order mark is tolerated at the very start. */
	while (!u->bom_checked && len > 0) {
		u->bom[u->bomlen++] = *buf++;
		len--;
		if (memcmp(u->bom, "\xef\xbb\xbf", u->bomlen) != 0) {
			u->bom_checked = 1;
			if ((rc = usercsv_feed(u, u->bom, u->bomlen)) != UC_OK)
				return rc;
		} else if (u->bomlen == 3)
			u->bom_checked = 1;
	}
	while (len > 0) {
		/* Lines end at LF, CR or CRLF, as libcsv's rows do. */
		for (nl = NULL, take = 0; take < len; take++) {
			if (buf[take] == '\n' || buf[take] == '\r') {
				nl = buf + take;
				break;
			}
		}
		take = nl != NULL ? (size_t)(nl - buf) + 1 : len;
		if (nl != NULL && take == 1 && *nl == '\n' && u->prev_cr &&
		    u->pendlen == 0) {
			/* The LF of a CRLF split from its CR. */
			u->prev_cr = 0;
			if ((rc = feed_line(u, buf, 1, 0)) != UC_OK)
				return rc;
			buf++;
			len--;
			continue;
		}
		u->prev_cr = nl != NULL && *nl == '\r';
		if (nl == NULL || u->pendlen > 0) {
			/* Keep a partial line until its end arrives. */
			if (u->pendlen + take > u->pendcap) {
				size_t cap = u->pendcap ? u->pendcap : 256;

				while (cap < u->pendlen + take)
					cap *= 2;
				if ((np = realloc(u->pend, cap)) == NULL)
					return uc_seterr(UC_E_INTERNAL,
					    "out of memory");
				u->pend = np;
				u->pendcap = cap;
			}
			memcpy(u->pend + u->pendlen, buf, take);
			u->pendlen += take;
			if (nl != NULL) {
				rc = feed_line(u, u->pend, u->pendlen, 1);
				u->pendlen = 0;
				if (rc != UC_OK)
					return rc;
			}
		} else if ((rc = feed_line(u, buf, take, 1)) != UC_OK)
			return rc;
		buf += take;
		len -= take;
	}
	return UC_OK;
}

int
usercsv_finish(struct usercsv *u)
{
	int rc;

	if (!u->bom_checked && u->bomlen > 0) {
		u->bom_checked = 1;
		if ((rc = usercsv_feed(u, u->bom, u->bomlen)) != UC_OK)
			return rc;
	}
	if (u->pendlen > 0) {
		rc = feed_line(u, u->pend, u->pendlen, 1);
		u->pendlen = 0;
		if (rc != UC_OK)
			return rc;
	}
	if (csv_fini(&u->p, cb_field, cb_row, u) != 0) {
		if (u->fatal)
			return uc_seterr(UC_E_INVALID, "%s", u->fatalmsg);
		if (!u->have_header)
			return uc_seterr(UC_E_INVALID, "line %ld: header: "
			    "unterminated quoted field", u->rowline);
		u->rows++;
		u->on_err(u->rowline, "unterminated quoted field at the end "
		    "of the file", u->arg);
		row_reset(u);
	}
	if (u->fatal)
		return uc_seterr(UC_E_INVALID, "%s", u->fatalmsg);
	if (!u->have_header)
		return uc_seterr(UC_E_INVALID, "the file is empty (no header "
		    "row)");
	return UC_OK;
}

long
usercsv_rows(const struct usercsv *u)
{
	return u->rows;
}

void
usercsv_free(struct usercsv *u)
{
	if (u == NULL)
		return;
	row_reset(u);
	csv_free(&u->p);
	free(u->pend);
	free(u);
}
