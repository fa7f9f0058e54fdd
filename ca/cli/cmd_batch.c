/*
 * cmd_batch.c: userca batch and userca token.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"

enum {
	O_HOME = 256, O_OUT, O_JOBS, O_P12FMT, O_TOKENS, O_REISSUE, O_DRY,
	O_DAYS, O_TTL, O_PASSF, O_USER, O_EMAIL, O_UPN, O_NAME, O_OU, O_JSON,
	O_HELP, O_SMIME, O_SID, O_LIST, O_CANCEL, O_ALLEXP, O_DELIM, O_ENC,
	O_MAP
};

#define TTL_HINT "a lifetime with a unit, from 1m to 366d, e.g. 72h or 7d"

struct ui {
	const char	*csv;
	int		 tty;
	double		 t0;
	double		 last;
	double		 every;		/* seconds between lines without a TTY */
	long		 errors;
};

/* Lines for cron logs and '| tee': every 10 s (tests may ask sooner). */
static double
ui_interval(void)
{
#ifdef USERCA_TEST_CLOCK
	const char *e = getenv("USERCA_TEST_PROGRESS_INTERVAL");
	char *end;
	double v;

	if (e != NULL && (v = strtod(e, &end)) > 0 && *end == '\0')
		return v;
#endif
	return 10.0;
}

/* "2m45s", "1h05m", "9s". */
static void
ui_eta(double secs, char *buf, size_t len)
{
	long s = secs > 0 && secs < 1e7 ? (long)(secs + 0.5) : 0;

	if (s >= 3600)
		snprintf(buf, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lds", s);
}

static void
ui_error(void *arg, long line, const char *msg)
{
	struct ui *u = arg;

	if (u->tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s:%ld: %s\n", u->csv, line, msg);
	u->errors++;
}

static void
ui_progress(void *arg, long done, long total)
{
	struct ui *u = arg;
	double now = uc_mono(), rate, eta;
	char etas[32];
	int w = 30, fill;

	if (u->tty ? now - u->last < 0.1 && done < total :
	    now - u->last < u->every || done >= total)
		return;
	u->last = now;
	rate = done / (now - u->t0 > 0.001 ? now - u->t0 : 0.001);
	eta = rate > 0 ? (total - done) / rate : 0;
	ui_eta(eta, etas, sizeof(etas));
	if (!u->tty) {
		/* The summary line follows the last one. */
		fprintf(stderr, "batch: %ld/%ld users, %.0f/s, ETA %s\n", done,
		    total, rate, etas);
		return;
	}
	fill = total > 0 ? (int)((double)w * done / total) : w;
	if (fill > w)
		fill = w;
	fprintf(stderr, "\r\033[K[%.*s%*s] %ld/%ld  %.0f users/s  ETA %s",
	    fill, "##############################", w - fill, "", done,
	    total, rate, etas);
	fflush(stderr);
}

/* A token lifetime: a minute to a year. */
static int
parse_ttl(const char *s, int *out)
{
	return parse_duration(s, out) && *out >= 60 && *out <= 366 * 86400;
}

#define BATCH_USAGE "batch USERS.csv --out DIR [--jobs N] " \
	"[--p12-format modern|legacy] [--tokens] [--ttl 7d] [--reissue] " \
	"[--dry-run] [--days N] [--smime] [--delimiter ';'] " \
	"[--encoding cp1252] [--map COL=Header,...] [--json] " \
	"[--passphrase-file F] [--home DIR]"
#define BATCH_EXAMPLES \
	"  userca batch staff.csv --dry-run\n" \
	"  userca batch excel.csv --delimiter ';' --encoding cp1252 --dry-run\n" \
	"  userca batch ad.csv --out ./out --map username=SamAccountName," \
	"upn=UserPrincipalName,\n      email=mail,name=DisplayName," \
	"ou=Department\n" \
	"  userca batch staff.csv --out ./out\n" \
	"  userca batch staff.csv --out ./links --tokens --ttl 7d\n"
#define BATCH_HELP \
	"Issues for every user in a CSV file: one PKCS#12 " \
	"(DIR/<username>.p12, 0600)\nwith its own generated " \
	"password, or with --tokens a one-time enrollment " \
	"URL.\nDIR/manifest.csv (0600) lists username, email, " \
	"serial, not_after, p12_file,\npassword, enroll_url, " \
	"token_expires.\n\n" \
	"CSV: UTF-8 (BOM tolerated), RFC 4180 quoting, a " \
	"header row naming the columns:\n" \
	"  username (required), email, name, upn, ou, " \
	"p12_format (modern|legacy),\n" \
	"  smime (yes|no; blank: --smime), sid (AD SID " \
	"S-1-5-21-...)\n" \
	"From Excel or Active Directory: UTF-16 with a byte " \
	"order mark is converted and\nPowerShell's '#TYPE' " \
	"first line skipped; the whole file is refused, " \
	"naming the\noption, when it needs one of:\n" \
	"  --delimiter ';'    fields separated by ';' (or " \
	"tab, |)\n" \
	"  --encoding cp1252  Windows-1252 / Latin-1 text " \
	"(Excel's 'CSV (Comma delimited)')\n" \
	"  --map COL=Header,...  read our columns from other " \
	"headers; the rest are\n" \
	"                     ignored (e.g. username=" \
	"SamAccountName,upn=UserPrincipalName,\n" \
	"                     email=mail,name=DisplayName," \
	"ou=Department)\n\n" \
	"A bad row is reported as FILE:LINE: what is wrong " \
	"and skipped; the rest goes\non (exit status 3). " \
	"Users who already have a valid certificate (or " \
	"with\n--tokens a pending token) are skipped unless " \
	"--reissue, which revokes the old\ncertificate " \
	"(reason superseded) once the new one is " \
	"committed.  A user whose row\nhas another email or " \
	"UPN than the certificate is reported ('use " \
	"--reissue').\n\n" \
	"Safe to re-run: a killed batch resumes where it " \
	"stopped; nobody is issued twice.\n" \
	"  --jobs N     worker threads (default: the number " \
	"of cores)\n" \
	"  --dry-run    check the whole file, report every " \
	"problem, issue nothing\n" \
	"  --tokens     links, not files; refused when the " \
	"CA's enrollment URL is not\n" \
	"               https (init --enroll-url) and the CA " \
	"was not made with\n" \
	"               --allow-http-links\n" \
	"  --ttl T      token lifetime: 7d, 72h, ... " \
	"(default: userca.conf)\n" \
	"  --smime      S/MIME certificates for rows whose " \
	"smime column is blank\n" \
	"               (as 'userca issue --smime')\n"

/* u reports o's errors and progress from now on. */
static void
ui_attach(struct ui *u, struct batch_opts *o)
{
	u->csv = o->csv;
	u->tty = isatty(STDERR_FILENO);
	u->t0 = u->last = uc_mono();
	u->every = ui_interval();
	o->on_error = ui_error;
	o->on_progress = ui_progress;
	o->arg = u;
}

/* batch's file argument and options checked: -1 to go on, else 2. */
static int
batch_args(int argc, char **argv, const char *fmt, struct batch_opts *o)
{
	const char *flag, *bad;

	if (argc - optind == 0)
		return cli_required("USERS.csv (the file to read)", BATCH_USAGE);
	if (argc - optind > 1)
		return cli_badval("argument", argv[optind + 1], "one CSV file "
		    "per run", BATCH_USAGE);
	if (o->out == NULL && !o->dry_run)
		return cli_required("--out DIR (or --dry-run)", BATCH_USAGE);
	if (p12_format_parse(fmt, &o->format) != UC_OK)
		return cli_badval("--p12-format", fmt, "use modern or legacy",
		    BATCH_USAGE);
	if (authority_batch_check(o, &flag) != UC_OK) {
		bad = strcmp(flag, "--map") == 0 ? o->map : strcmp(flag,
		    "--encoding") == 0 ? o->encoding : o->delimiter;
		return cli_badval(flag, bad, uc_errmsg(), BATCH_USAGE);
	}
	return -1;
}

/* The run's counts on stdout (JSON with json). */
static void
batch_report(const struct batch_opts *o, const struct batch_stats *st,
    double secs, int json)
{
	if (json)
		cli_json_print(json_pack("{s:s, s:b, s:i, s:i, s:i, s:i, s:i, "
		    "s:i, s:f, s:s*}", "csv", o->csv, "dry_run", o->dry_run,
		    "rows", (int)st->rows, "issued", (int)st->issued, "skipped",
		    (int)st->skipped, "failed", (int)st->failed, "superseded",
		    (int)st->superseded, "changed", (int)st->changed, "seconds",
		    secs, "manifest", o->dry_run ? NULL : o->out));
	else if (o->dry_run)
		printf("%s: %ld rows: %ld would be issued, %ld skipped "
		    "(already issued), %ld with errors\n", o->csv, st->rows,
		    st->issued, st->skipped, st->failed);
	else
		printf("%s: %ld rows: %ld issued, %ld skipped (already "
		    "issued), %ld failed, %ld superseded; %.1f s, %.0f "
		    "users/s; manifest: %s/manifest.csv\n", o->csv, st->rows,
		    st->issued, st->skipped, st->failed, st->superseded, secs,
		    secs > 0 ? st->issued / secs : 0.0, o->out);
	if (st->changed > 0 && !json)
		printf("%ld user%s not issued: the CSV changed since the "
		    "certificate was issued (use --reissue)\n", st->changed,
		    st->changed == 1 ? "" : "s");
}

int
cmd_batch(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "out", required_argument, NULL, O_OUT },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "p12-format", required_argument, NULL, O_P12FMT },
		{ "tokens", no_argument, NULL, O_TOKENS },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "reissue", no_argument, NULL, O_REISSUE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "days", required_argument, NULL, O_DAYS },
		{ "smime", no_argument, NULL, O_SMIME },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "delimiter", required_argument, NULL, O_DELIM },
		{ "encoding", required_argument, NULL, O_ENC },
		{ "map", required_argument, NULL, O_MAP },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct batch_opts o;
	struct batch_stats st;
	struct ui u;
	const char *home = NULL, *passfile = NULL, *fmt = "modern";
	int c, rc, ex, json = 0;
	double secs;

	memset(&o, 0, sizeof(o));
	memset(&u, 0, sizeof(u));
	o.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_OUT: o.out = optarg; break;
		case O_JOBS:
			if (!parse_int(optarg, 1, 256, &o.jobs))
				return cli_badval("--jobs", optarg, "a number of "
				    "threads from 1 to 256", BATCH_USAGE);
			break;
		case O_P12FMT: fmt = optarg; break;
		case O_TOKENS: o.tokens = 1; break;
		case O_TTL:
			if (!parse_ttl(optarg, &o.ttl))
				return cli_badval("--ttl", optarg, TTL_HINT,
				    BATCH_USAGE);
			break;
		case O_REISSUE: o.reissue = 1; break;
		case O_SMIME: o.smime = 1; break;
		case O_DRY: o.dry_run = 1; break;
		case O_DAYS:
			if (!parse_int(optarg, 1, 3650, &o.days))
				return cli_badval("--days", optarg, "a number of "
				    "days from 1 to 3650", BATCH_USAGE);
			break;
		case O_PASSF: passfile = optarg; break;
		case O_DELIM: o.delimiter = optarg; break;
		case O_ENC: o.encoding = optarg; break;
		case O_MAP: o.map = optarg; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(BATCH_USAGE, BATCH_EXAMPLES,
			    BATCH_HELP);
		default:
			return cli_badopt(c, argv, lo, BATCH_USAGE);
		}
	}
	if ((ex = batch_args(argc, argv, fmt, &o)) != -1)
		return ex;
	o.csv = o.csv_name = argv[optind];
	ui_attach(&u, &o);
	if ((ex = cli_open(cli_home(home), passfile, &a)) != 0)
		return ex;
	if (o.tokens && (rc = authority_enroll_check(a)) != UC_OK) {
		ex = cli_fail(rc, "batch --tokens");
		goto out;
	}
	rc = authority_batch(a, &o, &st);
	secs = uc_mono() - u.t0;
	if (u.tty)
		fputs("\r\033[K", stderr);
	if (rc != UC_OK) {
		ex = cli_fail(rc, "batch");
		if (st.issued > 0 && !o.dry_run)
			fprintf(stderr, "userca: batch: so far: %ld issued, "
			    "%ld skipped, %ld failed; re-run the same command "
			    "to resume\n", st.issued, st.skipped, st.failed);
		goto out;
	}
	batch_report(&o, &st, secs, json);
	ex = st.failed > 0 || st.changed > 0 ? 3 : 0;
out:
	authority_free(a);
	return ex;
}

#define TOKEN_USAGE "token --user U [--email E] [--upn P] [--name N] " \
	"[--ou OU] [--sid S-1-5-21-...] [--ttl 72h] [--json] [--home DIR]\n" \
	"       userca token --list [--user U] [--json] [--home DIR]\n" \
	"       userca token --cancel (--user U | --all-expired) [--json] " \
	"[--home DIR]"
#define TOKEN_EXAMPLES \
	"  userca token --user kim --ttl 72h\n" \
	"  userca token --list --user kim\n" \
	"  userca token --cancel --user kim\n" \
	"  userca token --cancel --all-expired\n"
#define TOKEN_HELP \
	"Creates a one-time enrollment token for the user " \
	"and prints the enrollment\nURL (<enroll-url>/enroll/" \
	"<token>).  Only the token's SHA-256 is stored; the " \
	"URL\nis shown once.  Refused when the CA's " \
	"enrollment URL is not https (userca init\n" \
	"--enroll-url), unless the CA was made with " \
	"--allow-http-links.\n\n" \
	"  --list         the tokens (of --user U): status " \
	"pending, used or expired,\n" \
	"                 created, expires, the certificate " \
	"a used one became\n" \
	"  --cancel --user U     end the user's unused tokens " \
	"now ('userca revoke\n" \
	"                 --user' does it too)\n" \
	"  --cancel --all-expired  forget the tokens that " \
	"expired unused\n"

static const char *
token_status(const struct authority_token *t, int64_t now)
{
	if (t->used_at != 0)
		return "used";
	return t->expires_at <= now ? "expired" : "pending";
}

struct token_ctx {
	json_t	*arr;
	int64_t	 now;
	int	 n;
};

static int
token_cb(const struct authority_token *t, void *arg)
{
	struct token_ctx *tc = arg;
	char cr[32], ex[32], us[32];
	json_t *o;

	uc_time_iso(t->created_at, cr, sizeof(cr));
	uc_time_iso(t->expires_at, ex, sizeof(ex));
	if (t->used_at != 0)
		uc_time_iso(t->used_at, us, sizeof(us));
	if (tc->arr == NULL) {
		if (tc->n++ == 0)
			printf("%-6s  %-16s  %-7s  %-20s  %-20s  %s\n", "ID",
			    "USER", "STATUS", "CREATED", "EXPIRES", "SERIAL");
		printf("%-6lld  %-16s  %-7s  %-20s  %-20s  %s\n",
		    (long long)t->id, t->username, token_status(t, tc->now), cr,
		    ex, t->serial != NULL ? t->serial : "-");
		return 0;
	}
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s*, s:s*}", "id",
	    (json_int_t)t->id, "user", t->username, "status",
	    token_status(t, tc->now), "created", cr, "expires", ex, "used",
	    t->used_at != 0 ? us : NULL, "serial", t->serial);
	if (o == NULL || json_array_append_new(tc->arr, o) != 0)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	return 0;
}

/* token --list / --cancel: the records, never a token's text. */
static int
token_admin(const char *home, const char *user, int list, int allexp,
    int json)
{
	struct authority *a = NULL;
	struct token_ctx tc;
	int rc, ex, n = 0;

	memset(&tc, 0, sizeof(tc));
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		return ex;
	if (list) {
		tc.now = uc_now();
		if (json && (tc.arr = json_array()) == NULL) {
			ex = cli_fail(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		if ((rc = authority_token_list(a, user, token_cb, &tc)) !=
		    UC_OK) {
			ex = cli_fail(rc, user != NULL ? user : "token --list");
			goto out;
		}
		if (json) {
			ex = cli_json_print(tc.arr);
			tc.arr = NULL;
		} else if (tc.n == 0)
			fprintf(stderr, "userca: token: no tokens%s%s\n",
			    user != NULL ? " for " : "",
			    user != NULL ? user : "");
		goto out;
	}
	if ((rc = authority_token_cancel(a, allexp ? NULL : user, &n)) !=
	    UC_OK) {
		ex = cli_fail(rc, user != NULL ? user : "token --cancel");
		goto out;
	}
	if (json)
		ex = cli_json_print(json_pack("{s:s*, s:i, s:b}", "user",
		    allexp ? NULL : user, "cancelled", n, "all_expired",
		    allexp));
	else if (allexp)
		printf("%d expired token%s forgotten\n", n, n == 1 ? "" : "s");
	else
		printf("%d unused token%s of %s cancelled\n", n,
		    n == 1 ? "" : "s", user);
out:
	json_decref(tc.arr);
	authority_free(a);
	return ex;
}

int
cmd_token(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "user", required_argument, NULL, O_USER },
		{ "email", required_argument, NULL, O_EMAIL },
		{ "upn", required_argument, NULL, O_UPN },
		{ "name", required_argument, NULL, O_NAME },
		{ "ou", required_argument, NULL, O_OU },
		{ "sid", required_argument, NULL, O_SID },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "json", no_argument, NULL, O_JSON },
		{ "list", no_argument, NULL, O_LIST },
		{ "cancel", no_argument, NULL, O_CANCEL },
		{ "all-expired", no_argument, NULL, O_ALLEXP },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct identity id;
	const char *home = NULL;
	char *tok = NULL, *url = NULL, when[32];
	int64_t expires;
	int c, rc, ex, ttl = 0, json = 0, list = 0, cancel = 0, allexp = 0;

	memset(&id, 0, sizeof(id));
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_USER: id.username = optarg; break;
		case O_EMAIL: id.email = optarg; break;
		case O_UPN: id.upn = optarg; break;
		case O_NAME: id.name = optarg; break;
		case O_OU: id.ou = optarg; break;
		case O_SID: id.sid = optarg; break;
		case O_TTL:
			if (!parse_ttl(optarg, &ttl))
				return cli_badval("--ttl", optarg, TTL_HINT,
				    TOKEN_USAGE);
			break;
		case O_JSON: json = 1; break;
		case O_LIST: list = 1; break;
		case O_CANCEL: cancel = 1; break;
		case O_ALLEXP: allexp = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(TOKEN_USAGE, TOKEN_EXAMPLES,
			    TOKEN_HELP);
		default:
			return cli_badopt(c, argv, lo, TOKEN_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "token takes no "
		    "arguments; did you mean --user?", TOKEN_USAGE);
	if (list && cancel)
		return cli_badval("--cancel", "", "give --list or --cancel, "
		    "not both", TOKEN_USAGE);
	if (allexp && !cancel)
		return cli_required("--cancel (with --all-expired)",
		    TOKEN_USAGE);
	if (cancel && (id.username == NULL) == !allexp)
		return cli_required("--user U or --all-expired (one of them)",
		    TOKEN_USAGE);
	if (list || cancel)
		return token_admin(home, id.username, list, allexp, json);
	if (id.username == NULL)
		return cli_required("--user U", TOKEN_USAGE);
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		return ex;
	/* Before the token is recorded: a refused link leaves nothing. */
	if ((rc = authority_enroll_check(a)) != UC_OK) {
		ex = cli_fail(rc, "token");
		goto out;
	}
	if ((rc = authority_token(a, &id, ttl, &tok, &expires)) != UC_OK) {
		ex = cli_fail(rc, id.username);
		goto out;
	}
	uc_time_iso(expires, when, sizeof(when));
	if ((url = authority_enroll_url(a, tok)) == NULL) {
		ex = cli_fail(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if (json)
		cli_json_print(json_pack("{s:s, s:s, s:s}", "user",
		    id.username, "url", url, "expires", when));
	else
		printf("%s\nexpires: %s\n", url, when);
	ex = 0;
out:
	secret_free(tok);
	secret_free(url);
	authority_free(a);
	return ex;
}
