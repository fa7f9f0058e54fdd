/*
 * usercsv.c: the users CSV over libcsv.
 */
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
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
#define C_IGNORED	(-1)	/* a column a map does not name */
#define MAP_NAME_MAX	64

struct usercsv_map {
	char	 src[C_NCOLS][MAP_NAME_MAX + 1];	/* "": not mapped */
};

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
	char			 delim;
	enum usercsv_encoding	 enc;
	const struct usercsv_map *cmap;
	iconv_t			 cd;		/* (iconv_t)-1: UTF-8 in */
	const char		*cdname;	/* what cd converts from */
	unsigned char		 cv[8];		/* a character cut by a read */
	size_t			 cvlen;
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
	    (u->map[u->nf] == C_IGNORED ? NULL : colnames[u->map[u->nf]]) :
	    "field";
	/*
	 * Not UTF-8 where nothing was converted: the whole file is in
	 * another encoding (Excel's "CSV" is Windows-1252), not one bad row.
	 */
	if (data != NULL && u->cd == (iconv_t)-1 && !utf8_ok(data, len)) {
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: %s is "
		    "not valid UTF-8; if Excel or another Windows program "
		    "saved the file, use --encoding cp1252 (or save it as "
		    "'CSV UTF-8')", u->line, name != NULL ? name : "a field");
		u->fatal = 1;
		return;
	}
	if (name == NULL) {
		/* A column the map ignores: neither checked nor kept. */
		u->f[u->nf] = NULL;
		u->flen[u->nf++] = 0;
		return;
	}
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

/* The column a header name stands for: C_NCOLS if none. */
static int
header_col(const struct usercsv *u, const char *h)
{
	int c;

	if (u->cmap != NULL) {
		for (c = 0; c < C_NCOLS; c++)
			if (u->cmap->src[c][0] != '\0' &&
			    strcasecmp(h, u->cmap->src[c]) == 0)
				return c;
	}
	for (c = 0; c < C_NCOLS; c++)
		if (strcasecmp(h, colnames[c]) == 0)
			break;
	/* With a map, a mapped column's own name is another column. */
	if (c < C_NCOLS && u->cmap != NULL && u->cmap->src[c][0] != '\0')
		return C_IGNORED;
	if (c == C_NCOLS && u->cmap != NULL)
		return C_IGNORED;
	return c;
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
	/*
	 * One column holding the delimiter of another convention: Excel
	 * saves "CSV" with ';' where ',' is the decimal mark.
	 */
	if (u->nf == 1 && u->delim != ';' && strchr(u->f[0], ';') != NULL) {
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: the "
		    "header is separated by ';', not '%c' (Excel does so "
		    "where ',' is the decimal mark): use --delimiter ';'",
		    u->rowline, u->delim);
		u->fatal = 1;
		return;
	}
	if (u->nf == 1 && u->delim != '\t' && strchr(u->f[0], '\t') != NULL) {
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: the "
		    "header is separated by tabs, not '%c': use --delimiter "
		    "tab", u->rowline, u->delim);
		u->fatal = 1;
		return;
	}
	for (i = 0; i < u->nf; i++) {
		if ((c = header_col(u, u->f[i])) == C_IGNORED) {
			u->map[i] = C_IGNORED;
			continue;
		}
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
		    "upn, ou, p12_format, smime, sid)%s", u->rowline, unknown,
		    strcasestr(unknown, "'SamAccountName'") != NULL ||
		    strcasestr(unknown, "'UserPrincipalName'") != NULL ?
		    "; an Active Directory export? name its columns with --map "
		    "username=SamAccountName,upn=UserPrincipalName,email=mail,"
		    "name=DisplayName,ou=Department" : "");
		u->fatal = 1;
		return;
	}
	for (c = 0; u->cmap != NULL && c < C_NCOLS; c++) {
		if (u->cmap->src[c][0] == '\0' || seen[c])
			continue;
		snprintf(u->fatalmsg, sizeof(u->fatalmsg), "line %ld: --map "
		    "%s=%s: the header has no column '%s'", u->rowline,
		    colnames[c], u->cmap->src[c], u->cmap->src[c]);
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
		if (u->map[i] != C_IGNORED)
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

/* ---- options ------------------------------------------------------------------ */

int
usercsv_encoding_parse(const char *s, enum usercsv_encoding *out)
{
	static const struct {
		const char		*name;
		enum usercsv_encoding	 enc;
	} names[] = {
		{ "cp1252", USERCSV_CP1252 }, { "windows1252", USERCSV_CP1252 },
		{ "latin1", USERCSV_CP1252 }, { "iso88591", USERCSV_CP1252 },
		{ "utf8", USERCSV_UTF8 },
	};
	char k[16];
	size_t i, n = 0;

	for (; *s != '\0'; s++) {
		if (*s == '-' || *s == '_')
			continue;
		if (n + 1 >= sizeof(k))
			goto bad;
		k[n++] = *s;
	}
	k[n] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(k, names[i].name) == 0) {
			*out = names[i].enc;
			return UC_OK;
		}
bad:
	return uc_seterr(UC_E_INVALID, "use cp1252 (Windows-1252, also for "
	    "Latin-1) or utf-8; UTF-16 with a byte order mark is read as it "
	    "is");
}

int
usercsv_delimiter_parse(const char *s, char *out)
{
	if (strcmp(s, ",") == 0 || strcmp(s, ";") == 0 || strcmp(s, "|") == 0)
		*out = s[0];
	else if (strcmp(s, "\t") == 0 || strcasecmp(s, "tab") == 0)
		*out = '\t';
	else
		return uc_seterr(UC_E_INVALID, "use ',', ';', '|' or tab");
	return UC_OK;
}

int
usercsv_map_parse(const char *spec, struct usercsv_map **out)
{
	struct usercsv_map *m;
	const char *p, *eq, *end;
	size_t tl, sl;
	int c, i, rc = UC_E_INVALID;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	for (p = spec; ; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL) {
			uc_seterr(rc, "'%.*s' is not COLUMN=Header (e.g. "
			    "username=SamAccountName)", (int)(end - p), p);
			goto out;
		}
		tl = (size_t)(eq - p);
		sl = (size_t)(end - eq - 1);
		for (c = 0; c < C_NCOLS; c++)
			if (strlen(colnames[c]) == tl &&
			    strncasecmp(p, colnames[c], tl) == 0)
				break;
		if (c == C_NCOLS) {
			uc_seterr(rc, "'%.*s' is not a column (username, email, "
			    "name, upn, ou, p12_format, smime, sid)", (int)tl, p);
			goto out;
		}
		if (sl == 0 || sl > MAP_NAME_MAX) {
			uc_seterr(rc, "%s: the header name must be 1 to %d "
			    "characters", colnames[c], MAP_NAME_MAX);
			goto out;
		}
		if (m->src[c][0] != '\0') {
			uc_seterr(rc, "%s is mapped twice", colnames[c]);
			goto out;
		}
		for (i = 0; i < C_NCOLS; i++)
			if (strlen(m->src[i]) == sl &&
			    strncasecmp(m->src[i], eq + 1, sl) == 0) {
				uc_seterr(rc, "header '%.*s' is mapped twice",
				    (int)sl, eq + 1);
				goto out;
			}
		memcpy(m->src[c], eq + 1, sl);
		m->src[c][sl] = '\0';
		if (*end == '\0')
			break;
	}
	*out = m;
	m = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	free(m);
	return rc;
}

void
usercsv_map_free(struct usercsv_map *m)
{
	free(m);
}

static int
parser_init(struct usercsv *u)
{
	if (csv_init(&u->p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return uc_seterr(UC_E_INTERNAL, "csv_init");
	csv_set_delim(&u->p, (unsigned char)u->delim);
	return UC_OK;
}

int
usercsv_new_ex(const struct usercsv_opts *o, usercsv_row_fn on_row,
    usercsv_err_fn on_err, void *arg, struct usercsv **out)
{
	struct usercsv *u;
	int rc;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	u->delim = o != NULL && o->delimiter != '\0' ? o->delimiter : ',';
	u->enc = o != NULL ? o->encoding : USERCSV_UTF8;
	u->cmap = o != NULL ? o->map : NULL;
	u->cd = (iconv_t)-1;
	if ((rc = parser_init(u)) != UC_OK) {
		free(u);
		return rc;
	}
	u->on_row = on_row;
	u->on_err = on_err;
	u->arg = arg;
	*out = u;
	return UC_OK;
}

int
usercsv_new(usercsv_row_fn on_row, usercsv_err_fn on_err, void *arg,
    struct usercsv **out)
{
	return usercsv_new_ex(NULL, on_row, on_err, arg, out);
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
		/* PowerShell's Export-Csv: "#TYPE System.Object..." first. */
		if (u->line == 1 && len >= 5 && memcmp(s, "#TYPE", 5) == 0)
			return UC_OK;
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
	return parser_init(u);
}

/* UTF-8 text, split into lines. */
static int
feed_text(struct usercsv *u, const unsigned char *buf, size_t len)
{
	const unsigned char *nl;
	unsigned char *np;
	size_t take;
	int rc;

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

/* Bytes in another encoding, converted to UTF-8 as they come. */
static int
feed_conv(struct usercsv *u, const unsigned char *buf, size_t len)
{
	unsigned char *joined = NULL;
	char out[4096], *ip, *op;
	size_t il, ol, r;
	int rc = UC_OK, e;

	if (u->cvlen > 0) {
		/* The start of a character cut off by the last read. */
		if ((joined = malloc(u->cvlen + len)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		memcpy(joined, u->cv, u->cvlen);
		if (len > 0)
			memcpy(joined + u->cvlen, buf, len);
		buf = joined;
		len += u->cvlen;
		u->cvlen = 0;
	}
	ip = (char *)(uintptr_t)buf;
	il = len;
	while (il > 0) {
		op = out;
		ol = sizeof(out);
		r = iconv(u->cd, &ip, &il, &op, &ol);
		e = r == (size_t)-1 ? errno : 0;
		/* What converted goes first: an error names the next line. */
		if (op > out && (rc = feed_text(u, (unsigned char *)out,
		    (size_t)(op - out))) != UC_OK)
			goto out;
		if (e == 0 || e == E2BIG)
			continue;
		if (e == EINVAL && il < sizeof(u->cv)) {
			memcpy(u->cv, ip, il);
			u->cvlen = il;
			break;
		}
		if (u->enc == USERCSV_CP1252 && strcmp(u->cdname, "UTF-16LE")
		    != 0 && strcmp(u->cdname, "UTF-16BE") != 0)
			rc = uc_seterr(UC_E_INVALID, "line %ld: byte 0x%02x is "
			    "not Windows-1252 text", u->line + 1,
			    (unsigned char)*ip);
		else
			rc = uc_seterr(UC_E_INVALID, "line %ld: not valid %s "
			    "(the file starts with its byte order mark)",
			    u->line + 1, u->cdname);
		goto out;
	}
out:
	free(joined);
	return rc;
}

static int
conv_open(struct usercsv *u, const char *from)
{
	if ((u->cd = iconv_open("UTF-8", from)) == (iconv_t)-1)
		return uc_seterr(UC_E_INTERNAL, "iconv_open %s: %s", from,
		    strerror(errno));
	u->cdname = from;
	return UC_OK;
}

int
usercsv_feed(struct usercsv *u, const unsigned char *buf, size_t len)
{
	int rc;

	/*
	 * The first bytes say the encoding: a UTF-8 byte order mark is
	 * dropped, a UTF-16 one (PowerShell's -Encoding Unicode, Excel's
	 * "Unicode Text") turns conversion on.
	 */
	while (!u->bom_checked && len > 0) {
		u->bom[u->bomlen++] = *buf++;
		len--;
		if (u->bomlen == 2 && (memcmp(u->bom, "\xff\xfe", 2) == 0 ||
		    memcmp(u->bom, "\xfe\xff", 2) == 0)) {
			u->bom_checked = 1;
			if ((rc = conv_open(u, u->bom[0] == 0xff ? "UTF-16LE" :
			    "UTF-16BE")) != UC_OK)
				return rc;
		} else if (memcmp(u->bom, "\xef\xbb\xbf", u->bomlen) != 0 &&
		    memcmp(u->bom, "\xff\xfe", u->bomlen) != 0 &&
		    memcmp(u->bom, "\xfe\xff", u->bomlen) != 0) {
			u->bom_checked = 1;
			if (u->enc == USERCSV_CP1252 &&
			    (rc = conv_open(u, "WINDOWS-1252")) != UC_OK)
				return rc;
			if ((rc = usercsv_feed(u, u->bom, u->bomlen)) != UC_OK)
				return rc;
		} else if (u->bomlen == 3)
			u->bom_checked = 1;	/* UTF-8, whatever was asked */
	}
	if (len == 0)
		return UC_OK;
	return u->cd != (iconv_t)-1 ? feed_conv(u, buf, len) :
	    feed_text(u, buf, len);
}

int
usercsv_finish(struct usercsv *u)
{
	int rc;

	if (!u->bom_checked && u->bomlen > 0) {
		u->bom_checked = 1;
		if (u->enc == USERCSV_CP1252 &&
		    (rc = conv_open(u, "WINDOWS-1252")) != UC_OK)
			return rc;
		if ((rc = usercsv_feed(u, u->bom, u->bomlen)) != UC_OK)
			return rc;
	}
	if (u->cvlen > 0)
		return uc_seterr(UC_E_INVALID, "line %ld: the file ends inside "
		    "a %s character", u->line + 1, u->cdname);
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
	if (u->cd != (iconv_t)-1)
		iconv_close(u->cd);
	free(u->pend);
	free(u);
}
