/*
 * cmd_cert.c: userca issue, revoke, list, export.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "cli.h"

enum {
	O_HOME = 256, O_USER, O_EMAIL, O_UPN, O_NAME, O_OU, O_DAYS, O_EPROT,
	O_CSR, O_OUT, O_P12, O_P12FMT, O_PWF, O_PASSF, O_JSON, O_SERIAL,
	O_REASON, O_STATUS, O_EXPIRING, O_FORMAT, O_SUPERSEDE, O_FORCE, O_YES,
	O_HELP, O_SID, O_ALL, O_CSV, O_DRYRUN
};

static int
write_out(const char *path, const void *buf, size_t len, mode_t mode)
{
	if (path == NULL || strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
			return uc_seterr(UC_E_IO, "stdout: write failed");
		return UC_OK;
	}
	return file_write_atomic(path, buf, len, mode);
}

#define ISSUE_USAGE "issue --user U [--email E] [--upn P] [--name N] " \
	"[--ou OU] [--sid S-1-5-21-...] [--days N] [--smime]\n" \
	"       (--csr FILE [--out CERT.pem] | --p12 OUT [--p12-format " \
	"modern|legacy] [--password-file F])\n" \
	"       [--supersede] [--force] [--passphrase-file F] [--json] " \
	"[--home DIR]"
#define ISSUE_EXAMPLES \
	"  userca issue --user kim --p12 kim.p12\n" \
	"  userca issue --user kim --email kim@example.com --upn " \
	"kim@corp.example.com --p12 kim.p12\n" \
	"  userca issue --user kim --csr kim.csr --out kim.pem " \
	"--supersede\n"
#define ISSUE_HELP \
	"Issues one client certificate (EKU clientAuth) for " \
	"user U.  The identity\n(CN, SAN email, Microsoft UPN " \
	"otherName) comes from these options and the\nuser " \
	"record, never from the CSR: what an option leaves " \
	"out is taken from the\nrecord, so a re-issue keeps " \
	"the SAN.\n\n" \
	"  --supersede     revoke the user's other valid " \
	"certificates (reason\n" \
	"                  superseded) once this one is " \
	"recorded; without it they\n" \
	"                  stay valid and a warning names " \
	"them\n" \
	"  --force         replace an existing --out file\n" \
	"  --sid SID       the user's AD SID: the SID " \
	"extension (1.3.6.1.4.1.311.25.2)\n" \
	"                  and SAN URL AD strong mapping " \
	"needs; kept in the record\n" \
	"  --smime         also for S/MIME mail (EKU " \
	"emailProtection, the key usages\n" \
	"                  mail needs, SMIMECapabilities); " \
	"needs an email address\n" \
	"                  and a CA made with 'userca init " \
	"--smime'\n" \
	"  --csr FILE      sign this PKCS#10 request (PEM or " \
	"DER); its self-signature\n" \
	"                  and key (RSA >= 2048, EC P-256/384/" \
	"521) are checked;\n" \
	"                  the certificate and chain go to " \
	"--out (or stdout)\n" \
	"  --p12 OUT       generate the key and write a " \
	"PKCS#12 (0600) to OUT\n" \
	"  --p12-format F  modern (AES-256, PBKDF2, SHA-256 " \
	"MAC) or legacy (3DES,\n" \
	"                  SHA-1 MAC) for older Windows, iOS " \
	"and Android\n" \
	"  --password-file F  PKCS#12 password; else one is " \
	"generated and printed once\n"

/* issue's options that are not part of the request. */
struct issue_opts {
	const char	*home, *csrfile, *out, *p12, *fmt, *pwfile, *passfile;
	int		 json, force;
};

/*
 * Parse issue's command line into r and o and check it: -1 to go on, else
 * the exit status (help, or a usage error already reported).
 */
static int
issue_parse(int argc, char **argv, struct issue_req *r, struct issue_opts *o)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "user", required_argument, NULL, O_USER },
		{ "email", required_argument, NULL, O_EMAIL },
		{ "upn", required_argument, NULL, O_UPN },
		{ "name", required_argument, NULL, O_NAME },
		{ "ou", required_argument, NULL, O_OU },
		{ "sid", required_argument, NULL, O_SID },
		{ "days", required_argument, NULL, O_DAYS },
		{ "smime", no_argument, NULL, O_EPROT },
		/* the name before S/MIME had its own option */
		{ "email-protection", no_argument, NULL, O_EPROT },
		{ "csr", required_argument, NULL, O_CSR },
		{ "out", required_argument, NULL, O_OUT },
		{ "p12", required_argument, NULL, O_P12 },
		{ "p12-format", required_argument, NULL, O_P12FMT },
		{ "password-file", required_argument, NULL, O_PWF },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "json", no_argument, NULL, O_JSON },
		{ "supersede", no_argument, NULL, O_SUPERSEDE },
		{ "force", no_argument, NULL, O_FORCE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	o->fmt = "modern";
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: o->home = optarg; break;
		case O_USER: r->id.username = optarg; break;
		case O_EMAIL: r->id.email = optarg; break;
		case O_UPN: r->id.upn = optarg; break;
		case O_NAME: r->id.name = optarg; break;
		case O_OU: r->id.ou = optarg; break;
		case O_SID: r->id.sid = optarg; break;
		case O_DAYS:
			if (!parse_int(optarg, 1, 36500, &r->days))
				return cli_badval("--days", optarg, "a number of "
				    "days from 1 to 36500", ISSUE_USAGE);
			break;
		case O_EPROT: r->email_protection = 1; break;
		case O_CSR: o->csrfile = optarg; break;
		case O_OUT: o->out = optarg; break;
		case O_P12: o->p12 = optarg; break;
		case O_P12FMT: o->fmt = optarg; break;
		case O_PWF: o->pwfile = optarg; break;
		case O_PASSF: o->passfile = optarg; break;
		case O_JSON: o->json = 1; break;
		case O_SUPERSEDE: r->supersede = 1; break;
		case O_FORCE: o->force = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(ISSUE_USAGE, ISSUE_EXAMPLES,
			    ISSUE_HELP);
		default:
			return cli_badopt(c, argv, lo, ISSUE_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "issue takes no "
		    "arguments; did you mean --csr or --p12?", ISSUE_USAGE);
	if (r->id.username == NULL)
		return cli_required("--user U", ISSUE_USAGE);
	if (o->csrfile == NULL && o->p12 == NULL)
		return cli_required("--csr FILE or --p12 OUT", ISSUE_USAGE);
	if (o->csrfile != NULL && o->p12 != NULL)
		return cli_badval("--p12", o->p12, "give --csr or --p12, not "
		    "both", ISSUE_USAGE);
	if (o->p12 != NULL && o->out != NULL)
		return cli_badval("--out", o->out, "the PKCS#12 goes to --p12; "
		    "--out is for --csr", ISSUE_USAGE);
	if (p12_format_parse(o->fmt, &r->p12_format) != UC_OK)
		return cli_badval("--p12-format", o->fmt, "use modern or "
		    "legacy", ISSUE_USAGE);
	/* A PKCS#12 holds a key: never replaced, even with --force. */
	if (o->p12 != NULL && path_exists(o->p12)) {
		cli_err("--p12 %s: already exists; not overwriting it", o->p12);
		return 1;
	}
	if (cli_out_preflight("--p12", o->p12, 0) != 0 ||
	    cli_out_preflight("--out", o->out, o->force) != 0)
		return 1;
	return -1;
}

/* What the record gave and what stays valid, on stderr. */
static void
issue_notes(const struct issue_req *r, const struct issue_result *res)
{
	if (res->filled != 0)
		fprintf(stderr, "userca: issue: %s%s%s%s taken from the record "
		    "of %s\n", res->filled & ID_FROM_EMAIL ? "email " : "",
		    res->filled & ID_FROM_UPN ? "upn " : "",
		    res->filled & ID_FROM_NAME ? "name " : "",
		    res->filled & ID_FROM_OU ? "ou " : "", r->id.username);
	if (res->others > 0)
		fprintf(stderr, "userca: issue: warning: %s has %d other valid "
		    "certificate%s; %s valid (--supersede revokes them)\n",
		    r->id.username, res->others, res->others == 1 ? "" : "s",
		    res->others == 1 ? "it stays" : "they stay");
}

/* The recorded and written certificate on stdout (pw: a generated one). */
static void
issue_report(const struct issue_req *r, const struct issue_result *res,
    const struct issue_opts *o, const char *pw)
{
	const char *file = o->p12 != NULL ? o->p12 : o->out;
	char when[32];
	json_t *j;

	uc_time_iso(res->not_after, when, sizeof(when));
	if (o->json) {
		j = json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:i}", "user",
		    r->id.username, "serial", res->serial, "not_after", when,
		    "file", file, "password", pw, "superseded",
		    res->superseded);
		if (j != NULL) {
			json_dumpf(j, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(j);
		}
	} else if (file != NULL) {
		printf("serial: %s\nnot_after: %s\nfile: %s\n", res->serial,
		    when, file);
		if (pw != NULL)
			printf("password: %s\n", pw);
	}
}

int
cmd_issue(int argc, char **argv)
{
	struct authority *a = NULL;
	struct issue_req r;
	struct issue_result res;
	struct issue_opts o;
	unsigned char *csr = NULL;
	char *pw = NULL;
	int rc, ex, generated = 0;

	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	memset(&o, 0, sizeof(o));
	if ((ex = issue_parse(argc, argv, &r, &o)) != -1)
		return ex;
	if (o.csrfile != NULL) {
		if ((rc = file_read(o.csrfile, 64 * 1024, &csr, &r.csrlen)) !=
		    UC_OK)
			return cli_fail(rc, "reading the CSR");
		r.csr = csr;
		r.method = "csr";
	} else {
		r.method = "p12";
		if (o.pwfile != NULL)
			rc = cli_read_secret_file(o.pwfile, &pw);
		else {
			rc = password_generate(&pw);
			generated = 1;
		}
		if (rc != UC_OK)
			return cli_fail(rc, "PKCS#12 password");
		r.p12_password = pw;
	}
	if ((ex = cli_open(cli_home(o.home), o.passfile, &a)) != 0)
		goto out;
	if ((rc = authority_issue(a, &r, &res)) != UC_OK) {
		ex = cli_fail(rc, o.csrfile != NULL ? o.csrfile :
		    r.id.username);
		goto out;
	}
	issue_notes(&r, &res);
	/* The row is committed: now, and only now, release the result. */
	if (o.p12 != NULL)
		rc = file_write_excl(o.p12, res.p12, res.p12_len, 0600);
	else
		rc = write_out(o.out, res.cert_pem, res.cert_pem_len, 0644);
	if (rc != UC_OK) {
		ex = cli_fail(rc, "certificate recorded but not written "
		    "(revoke it or export it)");
		fprintf(stderr, "serial: %s\n", res.serial);
		goto out;
	}
	if (res.superseded > 0) {
		fprintf(stderr, "userca: issue: %d certificate%s of %s revoked "
		    "(superseded)\n", res.superseded, res.superseded == 1 ?
		    "" : "s", r.id.username);
		if ((rc = authority_crl(a, 0, 0)) != UC_OK) {
			ex = cli_fail(rc, "the CRL was not re-signed; run "
			    "'userca crl'");
			goto out;
		}
	}
	issue_report(&r, &res, &o, generated ? pw : NULL);
	ex = 0;
out:
	issue_result_clear(&res);
	secret_free(pw);
	free(csr);
	authority_free(a);
	return ex;
}

#define REVOKE_USAGE "revoke (--serial HEX | --user U | --csv FILE) " \
	"[--reason R] [--dry-run] [--yes] [--json] [--passphrase-file F] " \
	"[--home DIR]"
#define REVOKE_EXAMPLES \
	"  userca revoke --csv leavers.csv --reason affiliationChanged " \
	"--dry-run\n" \
	"  userca revoke --user fobrien --reason affiliationChanged --yes\n" \
	"  userca revoke --serial 4F3A9C... --reason keyCompromise\n" \
	"  for u in $(cat leavers.txt); do userca revoke --user \"$u\" " \
	"--yes --json; done\n"
#define REVOKE_HELP \
	"Revokes one certificate, or every unrevoked " \
	"certificate of a user, then\nsigns and publishes a " \
	"fresh CRL at once, and lists what it revoked.\n" \
	"Revoking a user also cancels the user's unused " \
	"enrollment tokens.  Revoking\nwhat is already " \
	"revoked is not an error: a notice, exit status 0 " \
	"(so an\noffboarding script can run twice).\n" \
	"  --yes       do not ask (on a terminal, revoking " \
	"more than one certificate\n" \
	"              asks first)\n" \
	"  --reason R  unspecified, keyCompromise, " \
	"cACompromise, affiliationChanged,\n" \
	"              superseded, cessationOfOperation, " \
	"certificateHold,\n" \
	"              privilegeWithdrawn, aACompromise\n" \
	"  --json      {\"revoked\": [serials], " \
	"\"crl_number\": N, \"tokens_cancelled\": N, ...}\n" \
	"  --csv FILE  every user (column username) or " \
	"certificate (column serial)\n" \
	"              of FILE, in one transaction and one " \
	"CRL; each failing line is\n" \
	"              named FILE:LINE and the others still " \
	"go through (exit 3)\n" \
	"  --dry-run   with --csv: say what would be revoked, " \
	"change nothing\n"

struct pending {
	json_t	*serials;
	int	 n;
	char	 shown[20][200];	/* what the question lists */
};

static int
pending_cb(const struct authority_cert *c, void *arg)
{
	struct pending *p = arg;
	char na[32];

	uc_time_iso(c->not_after, na, sizeof(na));
	if (json_array_append_new(p->serials, json_string(c->serial)) != 0)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if (p->n++ < 20)
		snprintf(p->shown[p->n - 1], sizeof(p->shown[0]), "%s  %s  "
		    "expires %s", c->serial, c->subject, na);
	return 0;
}

/* revoke --csv's last lines without --json. */
static void
revoke_csv_summary(const struct revoke_bulk_result *res, const char *path,
    int code, int dry_run)
{
	if (dry_run)
		printf("dry run: %zu certificate%s of %zu line%s would be "
		    "revoked (%s); nothing was changed\n", res->certificates,
		    res->certificates == 1 ? "" : "s", res->revoked,
		    res->revoked == 1 ? "" : "s", crl_reason_name(code));
	else if (res->certificates > 0)
		printf("%zu certificate%s revoked (%s); issuing CRL number "
		    "%lld published\n", res->certificates,
		    res->certificates == 1 ? "" : "s", crl_reason_name(code),
		    (long long)res->crl_number);
	if (res->errors > 0)
		fprintf(stderr, "userca: revoke: %zu of %zu line%s of %s "
		    "failed%s\n", res->errors, res->n, res->n == 1 ? "" : "s",
		    path, res->revoked + res->notices > 0 ? "; the others "
		    "went through" : "");
}

/*
 * revoke --csv: the whole file in one transaction and one CRL.  Each line's
 * outcome is named FILE:LINE; exit 3 when some lines failed and others
 * did not, 1 when every line failed.
 */
static int
revoke_csv(struct authority *a, const char *path, int code, int dry_run,
    int yes, int json)
{
	struct revoke_bulk_result res;
	struct revoke_bulk_line *l;
	unsigned char *buf = NULL;
	json_t *done = NULL, *notes = NULL, *errs = NULL, *ser;
	size_t len, i, j;
	char q[200];
	int rc, ex = 1;

	memset(&res, 0, sizeof(res));
	if ((rc = file_read(path, 64 * 1024 * 1024, &buf, &len)) != UC_OK)
		return cli_fail(rc, path);
	if (!dry_run && !yes && isatty(STDIN_FILENO)) {
		snprintf(q, sizeof(q), "Revoke every certificate %s names "
		    "(%s)?", path, crl_reason_name(code));
		if (!cli_confirm(q)) {
			fprintf(stderr, "userca: revoke: nothing revoked "
			    "(--yes does not ask; --dry-run shows what would "
			    "be)\n");
			goto out;
		}
	}
	if ((rc = authority_revoke_csv(a, buf, len, code, dry_run, &res)) !=
	    UC_OK) {
		ex = cli_fail(rc, path);
		goto out;
	}
	if (json && ((done = json_array()) == NULL ||
	    (notes = json_array()) == NULL || (errs = json_array()) == NULL)) {
		ex = cli_fail(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < res.n; i++) {
		l = &res.l[i];
		if (l->status == REVOKE_LINE_ERROR) {
			if (json)
				json_array_append_new(errs, json_pack("{s:i, "
				    "s:s, s:s}", "line", (int)l->line, "key",
				    l->key, "error", l->msg != NULL ? l->msg :
				    "error"));
			else
				fprintf(stderr, "userca: revoke: %s:%ld: %s\n",
				    path, l->line, l->msg != NULL ? l->msg :
				    "error");
			continue;
		}
		if (l->msg != NULL) {
			if (json)
				json_array_append_new(notes, json_pack("{s:i, "
				    "s:s, s:s}", "line", (int)l->line, "key",
				    l->key, "notice", l->msg));
			else
				fprintf(stderr, "userca: revoke: %s:%ld: %s; "
				    "nothing to do\n", path, l->line, l->msg);
		}
		if (l->n == 0)
			continue;
		if (json) {
			if ((ser = json_array()) == NULL)
				continue;
			for (j = 0; j < l->n; j++)
				json_array_append_new(ser,
				    json_string(l->serials[j]));
			json_array_append_new(done, json_pack("{s:i, s:s, "
			    "s:o, s:i}", "line", (int)l->line, "key", l->key,
			    "serials", ser, "tokens_cancelled",
			    l->tokens_cancelled));
			continue;
		}
		for (j = 0; j < l->n; j++)
			printf("%s %s (%s:%ld %s)\n", dry_run ? "would revoke" :
			    "revoked", l->serials[j], path, l->line, l->key);
	}
	if (json) {
		(void)cli_json_print(json_pack("{s:o, s:o, s:o, s:s, s:I, "
		    "s:I, s:b}", "revoked", done, "notices", notes, "errors",
		    errs, "reason", crl_reason_name(code), "certificates",
		    (json_int_t)res.certificates, "crl_number",
		    (json_int_t)res.crl_number, "dry_run", dry_run));
		done = notes = errs = NULL;	/* taken by json_pack */
	} else
		revoke_csv_summary(&res, path, code, dry_run);
	if (res.errors == 0)
		ex = 0;
	else
		ex = res.revoked + res.notices > 0 ? 3 : 1;
out:
	json_decref(done);
	json_decref(notes);
	json_decref(errs);
	revoke_bulk_result_clear(&res);
	free(buf);
	return ex;
}

/*
 * The user's unrevoked certificates into p and, when there are several
 * and stdin is a terminal, the question (unless yes): -1 to go on, else
 * the exit status.
 */
static int
revoke_user_confirm(struct authority *a, const char *user, int code, int yes,
    struct pending *p)
{
	struct authority_cert_filter f;
	char q[160];
	size_t i;
	int rc;

	/*
	 * Only when someone may be asked: this list is not by the user's
	 * index, a scan that grew with the user base.
	 */
	if (yes || !isatty(STDIN_FILENO))
		return -1;
	memset(&f, 0, sizeof(f));
	f.username = user;
	f.now = uc_now();
	f.status = "valid";
	if ((rc = authority_cert_list(a, &f, pending_cb, p)) == UC_OK) {
		f.status = "expired";
		rc = authority_cert_list(a, &f, pending_cb, p);
	}
	if (rc != UC_OK)
		return cli_fail(rc, user);
	if (p->n <= 1)
		return -1;
	for (i = 0; i < (size_t)p->n && i < 20; i++)
		fprintf(stderr, "  %s\n", p->shown[i]);
	snprintf(q, sizeof(q), "Revoke these %d certificates of %s (%s)?",
	    p->n, user, crl_reason_name(code));
	if (cli_confirm(q))
		return -1;
	fprintf(stderr, "userca: revoke: nothing revoked (--yes does not "
	    "ask)\n");
	return 1;
}

/* revoke --csv: open the home and run revoke_csv(); the exit status. */
static int
revoke_csv_home(const char *home, const char *passfile, const char *csv,
    int code, int dry_run, int yes, int json)
{
	struct authority *a = NULL;
	int ex;

	if ((ex = cli_open(cli_home(home), passfile, &a)) != 0)
		return ex;
	ex = revoke_csv(a, csv, code, dry_run, yes, json);
	authority_free(a);
	return ex;
}

/* revoke's options checked, *code the reason: -1 to go on, else 2. */
static int
revoke_args(const char *serial, const char *user, const char *csv,
    int dry_run, const char *reason, int *code)
{
	if (serial == NULL && user == NULL && csv == NULL)
		return cli_required("--serial HEX, --user U or --csv FILE",
		    REVOKE_USAGE);
	if ((serial != NULL) + (user != NULL) + (csv != NULL) > 1)
		return cli_badval(csv != NULL ? "--csv" : "--serial",
		    csv != NULL ? csv : serial, "give one of --serial, --user "
		    "and --csv", REVOKE_USAGE);
	if (dry_run && csv == NULL)
		return cli_badval("--dry-run", "", "goes with --csv FILE",
		    REVOKE_USAGE);
	if (crl_reason_parse(reason, code) != UC_OK)
		return cli_badval("--reason", reason, "use one of "
		    "unspecified, keyCompromise, affiliationChanged, superseded, "
		    "cessationOfOperation, ...", REVOKE_USAGE);
	return -1;
}

/* What a --user revocation found, on stderr. */
static void
revoke_notes(const struct revoke_result *res, const char *user)
{
	if (res->n == 0 && user != NULL)
		fprintf(stderr, "userca: revoke: %s has no unrevoked "
		    "certificate; nothing to do\n", user);
	if (res->tokens_cancelled > 0)
		fprintf(stderr, "userca: revoke: %d unused enrollment token%s "
		    "of %s cancelled\n", res->tokens_cancelled,
		    res->tokens_cancelled == 1 ? "" : "s", user);
}

/* What was revoked, on stdout (JSON with json); the exit status. */
static int
revoke_report(const struct revoke_result *res, int code, int json)
{
	json_t *arr;
	size_t i;

	if (json) {
		if ((arr = json_array()) == NULL)
			return cli_fail(UC_E_INTERNAL, "out of memory");
		for (i = 0; i < res->n; i++)
			json_array_append_new(arr, json_string(res->serials[i]));
		return cli_json_print(json_pack("{s:o, s:s, s:I, s:i, s:b}",
		    "revoked", arr, "reason", crl_reason_name(code),
		    "crl_number", res->n > 0 ? (json_int_t)res->crl_number : 0,
		    "tokens_cancelled", res->tokens_cancelled,
		    "already_revoked", res->n == 0));
	}
	for (i = 0; i < res->n; i++)
		printf("revoked %s (%s)\n", res->serials[i],
		    crl_reason_name(code));
	if (res->n > 0)
		printf("%s CRL number %lld published\n", res->crl_root ? "root" :
		    "issuing", (long long)res->crl_number);
	return 0;
}

int
cmd_revoke(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "user", required_argument, NULL, O_USER },
		{ "reason", required_argument, NULL, O_REASON },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "yes", no_argument, NULL, O_YES },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", required_argument, NULL, O_CSV },
		{ "dry-run", no_argument, NULL, O_DRYRUN },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct authority_cert sc;
	struct revoke_result res;
	const char *csv = NULL;
	int dry_run = 0;
	struct pending p;
	const char *home = NULL, *serial = NULL, *user = NULL;
	const char *passfile = NULL, *reason = "unspecified";
	char *norm = NULL;
	int c, rc, ex, code, yes = 0, json = 0;

	memset(&res, 0, sizeof(res));
	memset(&sc, 0, sizeof(sc));
	memset(&p, 0, sizeof(p));
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_SERIAL: serial = optarg; break;
		case O_USER: user = optarg; break;
		case O_REASON: reason = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_YES: yes = 1; break;
		case O_JSON: json = 1; break;
		case O_CSV: csv = optarg; break;
		case O_DRYRUN: dry_run = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(REVOKE_USAGE, REVOKE_EXAMPLES,
			    REVOKE_HELP);
		default:
			return cli_badopt(c, argv, lo, REVOKE_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "revoke takes no "
		    "arguments; use --serial HEX or --user U", REVOKE_USAGE);
	if ((ex = revoke_args(serial, user, csv, dry_run, reason, &code)) !=
	    -1)
		return ex;
	if (csv != NULL)
		return revoke_csv_home(home, passfile, csv, code, dry_run, yes,
		    json);
	if (serial != NULL && (rc = serial_normalize(serial, &norm)) != UC_OK)
		return cli_badval("--serial", serial, "a hexadecimal serial "
		    "number, as 'userca list' shows it", REVOKE_USAGE);
	if ((p.serials = json_array()) == NULL) {
		free(norm);
		return cli_fail(UC_E_INTERNAL, "out of memory");
	}
	if ((ex = cli_open(cli_home(home), passfile, &a)) != 0)
		goto out;
	if (norm != NULL) {
		if ((rc = authority_cert_get(a, norm, &sc)) != UC_OK) {
			ex = cli_fail(rc, norm);
			goto out;
		}
		if (strcmp(sc.status, "revoked") == 0) {
			fprintf(stderr, "userca: revoke: %s is already revoked "
			    "(%s); nothing to do\n", norm,
			    crl_reason_name(sc.reason));
			goto done;
		}
	} else if ((ex = revoke_user_confirm(a, user, code, yes, &p)) != -1)
		goto out;
	if ((rc = authority_revoke_ex(a, norm, user, code, &res)) != UC_OK) {
		ex = cli_fail(rc, norm != NULL ? norm : user);
		if (res.n > 0)
			fprintf(stderr, "userca: revoke: %zu certificate(s) "
			    "were revoked but the CRL was not published; run "
			    "'userca crl'\n", res.n);
		goto out;
	}
	revoke_notes(&res, user);
done:
	ex = revoke_report(&res, code, json);
out:
	json_decref(p.serials);
	revoke_result_clear(&res);
	authority_cert_clear(&sc);
	free(norm);
	authority_free(a);
	return ex;
}

#define LIST_USAGE "list [--user U] [--status valid|revoked|expired] " \
	"[--expiring DAYS] [--json] [--home DIR]"
#define LIST_EXAMPLES \
	"  userca list --status valid\n" \
	"  userca list --user kim\n" \
	"  userca list --expiring 30 --json\n"
#define LIST_HELP \
	"Lists recorded certificates, oldest first.\n" \
	"  --expiring N  valid certificates whose notAfter " \
	"is within N days\n" \
	"  --json        an array of objects (serial, user, " \
	"kind, subject, status,\n" \
	"                not_before, not_after, sha256, " \
	"method, revoked_at, reason,\n" \
	"                email, upn)\n"

struct list_ctx {
	json_t	*arr;
	int	 n;
	int64_t	 now;
};

/* The email and UPN the certificate carries (SAN), as issued. */
static void
cert_san(const struct authority_cert *c, char *email, char *upn, size_t len)
{
	GENERAL_NAMES *gens = NULL;
	const GENERAL_NAME *g;
	const unsigned char *p = c->der;
	ASN1_OBJECT *oid = NULL;
	ASN1_TYPE *v;
	X509 *x;
	int i;

	snprintf(email, len, "-");
	snprintf(upn, len, "-");
	if (c->der == NULL || (x = d2i_X509(NULL, &p, (long)c->derlen)) ==
	    NULL)
		return;
	if ((gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL)) != NULL && (oid = OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3",
	    1)) != NULL) {
		for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
			g = sk_GENERAL_NAME_value(gens, i);
			if (g->type == GEN_EMAIL)
				snprintf(email, len, "%.*s",
				    ASN1_STRING_length(g->d.rfc822Name),
				    (const char *)ASN1_STRING_get0_data(
				    g->d.rfc822Name));
			else if (g->type == GEN_OTHERNAME &&
			    OBJ_cmp(g->d.otherName->type_id, oid) == 0 &&
			    (v = g->d.otherName->value) != NULL &&
			    v->type == V_ASN1_UTF8STRING)
				snprintf(upn, len, "%.*s",
				    ASN1_STRING_length(v->value.utf8string),
				    (const char *)ASN1_STRING_get0_data(
				    v->value.utf8string));
		}
	}
	ASN1_OBJECT_free(oid);
	GENERAL_NAMES_free(gens);
	X509_free(x);
}

static const char *
shown_status(const struct authority_cert *c, int64_t now)
{
	if (strcmp(c->status, "revoked") == 0)
		return "revoked";
	return c->not_after <= now ? "expired" : "valid";
}

static int
list_cb(const struct authority_cert *c, void *arg)
{
	struct list_ctx *lc = arg;
	char nb[32], na[32], ra[32], email[256], upn[256];
	json_t *o;

	uc_time_iso(c->not_before, nb, sizeof(nb));
	uc_time_iso(c->not_after, na, sizeof(na));
	cert_san(c, email, upn, sizeof(email));
	if (lc->arr == NULL) {
		if (lc->n++ == 0)
			printf("%-32s  %-7s  %-20s  %-16s  %-28s  %-28s  %s\n",
			    "SERIAL", "STATUS", "NOT_AFTER", "USER", "EMAIL",
			    "UPN", "SUBJECT");
		printf("%-32s  %-7s  %-20s  %-16s  %-28s  %-28s  %s\n",
		    c->serial, shown_status(c, lc->now), na,
		    c->username != NULL ? c->username : "-", email, upn,
		    c->subject);
		return 0;
	}
	lc->n++;
	if (c->revoked_at != 0)
		uc_time_iso(c->revoked_at, ra, sizeof(ra));
	o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, "
	    "s:s?}",
	    "serial", c->serial, "user", c->username, "kind", c->kind,
	    "subject", c->subject, "status", shown_status(c, lc->now),
	    "not_before", nb, "not_after", na, "sha256", c->sha256,
	    "method", c->method,
	    "revoked_at", c->revoked_at != 0 ? ra : NULL,
	    "reason", c->reason >= 0 ? crl_reason_name(c->reason) : NULL);
	if (o != NULL) {
		json_object_set_new(o, "email", strcmp(email, "-") != 0 ?
		    json_string(email) : json_null());
		json_object_set_new(o, "upn", strcmp(upn, "-") != 0 ?
		    json_string(upn) : json_null());
	}
	if (o == NULL || json_array_append_new(lc->arr, o) != 0)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	return 0;
}

int
cmd_list(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "user", required_argument, NULL, O_USER },
		{ "status", required_argument, NULL, O_STATUS },
		{ "expiring", required_argument, NULL, O_EXPIRING },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct authority_cert_filter f;
	struct authority_user u;
	struct list_ctx lc;
	const char *home = NULL;
	int c, rc, ex, json = 0, days = 0;

	memset(&f, 0, sizeof(f));
	memset(&lc, 0, sizeof(lc));
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_USER: f.username = optarg; break;
		case O_STATUS:
			if (strcmp(optarg, "valid") != 0 &&
			    strcmp(optarg, "revoked") != 0 &&
			    strcmp(optarg, "expired") != 0)
				return cli_badval("--status", optarg, "use "
				    "valid, revoked or expired", LIST_USAGE);
			f.status = optarg;
			break;
		case O_EXPIRING:
			if (!parse_int(optarg, 1, 36500, &days))
				return cli_badval("--expiring", optarg, "a number "
				    "of days, e.g. 30", LIST_USAGE);
			break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(LIST_USAGE, LIST_EXAMPLES,
			    LIST_HELP);
		default:
			return cli_badopt(c, argv, lo, LIST_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "list takes no "
		    "arguments; did you mean --user?", LIST_USAGE);
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		return ex;
	f.with_der = 1;
	lc.now = f.now = uc_now();
	if (days > 0)
		f.expiring_before = f.now + (int64_t)days * 86400;
	if (f.username != NULL) {
		if ((rc = authority_user_get(a, f.username, &u)) !=
		    UC_OK) {
			ex = cli_fail(rc, "--user");
			goto out;
		}
		authority_user_clear(&u);
	}
	if (json && (lc.arr = json_array()) == NULL) {
		ex = cli_fail(UC_E_INTERNAL, "json");
		goto out;
	}
	if ((rc = authority_cert_list(a, &f, list_cb, &lc)) !=
	    UC_OK) {
		ex = cli_fail(rc, "list");
		goto out;
	}
	if (json) {
		json_dumpf(lc.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	ex = 0;
out:
	json_decref(lc.arr);
	authority_free(a);
	return ex;
}

/*
 * export --all: the IIS one-to-one mapping material of every user, made
 * from the records now (authority_iis_export).  It names every user and
 * holds every certificate, so a file is written 0600.
 */
struct export_sink {
	struct afile	f;
	int		file;
};

static int
export_sink_write(const void *buf, size_t len, void *arg)
{
	struct export_sink *s = arg;

	if (s->file)
		return afile_write(&s->f, buf, len);
	if (fwrite(buf, 1, len, stdout) != len)
		return uc_seterr(UC_E_IO, "stdout: write failed");
	return UC_OK;
}

static int
export_all(const char *home, const char *fmt, const char *out, int force,
    int json)
{
	struct authority *a = NULL;
	struct export_sink s;
	enum iis_format f;
	int rc, ex;

	if (strcmp(fmt, "iis-mapping") == 0)
		f = IIS_CSV;
	else
		f = IIS_PS1;
	memset(&s, 0, sizeof(s));
	s.f.fd = -1;
	s.file = out != NULL && strcmp(out, "-") != 0;
	if (cli_out_preflight("--out", out, force) != 0)
		return 1;
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		return ex;
	if (s.file && (rc = afile_open(&s.f, out, 0600)) != UC_OK) {
		ex = cli_fail(rc, "export");
		goto out;
	}
	rc = authority_iis_export(a, f, export_sink_write, &s);
	if (rc == UC_OK && s.file)
		rc = afile_commit(&s.f);
	else if (rc == UC_OK && fflush(stdout) != 0)
		rc = uc_seterr(UC_E_IO, "stdout: write failed");
	/* A failed write or commit gave up the file already. */
	if (rc != UC_OK && s.file && s.f.fd != -1)
		afile_abort(&s.f);
	ex = rc == UC_OK ? 0 : cli_fail(rc, "export");
	if (ex == 0 && json)
		cli_json_print(json_pack("{s:s, s:s}", "format", fmt, "file",
		    out));
out:
	authority_free(a);
	return ex;
}

#define EXPORT_USAGE "export (--serial HEX --format pem|der|iis-mapping|altsecid " \
	"| --all --format iis-mapping|iis-ps1) " \
	"[--out FILE [--force]] [--json] [--home DIR]"
#define EXPORT_EXAMPLES \
	"  userca export --serial 4F3A9C... --format pem --out kim.pem\n" \
	"  userca export --serial 4F3A9C... --format iis-mapping\n" \
	"  userca export --serial 4F3A9C... --format altsecid\n" \
	"  userca export --all --format iis-ps1 --out userca-iis-mappings.ps1\n"
#define EXPORT_HELP \
	"Writes a recorded certificate to --out (or " \
	"stdout).\n" \
	"  pem          PEM\n" \
	"  der          DER\n" \
	"  iis-mapping  base64 of the DER on one line, no " \
	"header: what IIS one-to-one\n" \
	"               client certificate mapping wants\n" \
	"  altsecid     the AD altSecurityIdentities strong " \
	"mappings, one a line:\n" \
	"               X509:<I>issuer<SR>serial (bytes " \
	"reversed) and\n" \
	"               X509:<SHA1-PUKEY>key hash " \
	"(Set-ADUser -Add @{altSecurityIdentities=...})\n" \
	"With --all (instead of --serial): every user's IIS " \
	"one-to-one mapping\n" \
	"material, made from the records now (written 0600 " \
	"with --out):\n" \
	"  iis-mapping  CSV: username,account,serial," \
	"not_after,certificate, one\n" \
	"               line per valid, unsuperseded user " \
	"certificate; account is\n" \
	"               the UPN, else [iis] domain\\username, " \
	"else username\n" \
	"  iis-ps1      userca-iis-mappings.ps1: adds those " \
	"mappings, removes the\n" \
	"               ones of revoked or superseded " \
	"certificates; -ADStrongMapping\n" \
	"               also sets the users' AD " \
	"altSecurityIdentities (Set-ADUser)\n"

/* One recorded certificate to out in fmt (pem, der, altsecid, iis-mapping). */
static int
export_one(const struct authority_cert *sc, const char *fmt, const char *out)
{
	const unsigned char *p;
	unsigned char *buf = NULL;
	X509 *x = NULL;
	size_t len;
	int n, rc;

	if (strcmp(fmt, "der") == 0)
		rc = write_out(out, sc->der, sc->derlen, 0644);
	else if (strcmp(fmt, "pem") == 0) {
		p = sc->der;
		if ((x = d2i_X509(NULL, &p, (long)sc->derlen)) == NULL ||
		    (rc = cert_to_pem(x, &buf, &len)) != UC_OK)
			rc = uc_seterr(UC_E_CRYPTO, "stored DER does not parse");
		else
			rc = write_out(out, buf, len, 0644);
	} else if (strcmp(fmt, "altsecid") == 0) {
		char *isr = NULL, *pk = NULL;

		p = sc->der;
		if ((x = d2i_X509(NULL, &p, (long)sc->derlen)) == NULL)
			rc = uc_seterr(UC_E_CRYPTO, "stored DER does not parse");
		else if ((rc = altsecid_strings(x, &isr, &pk)) == UC_OK) {
			len = strlen(isr) + strlen(pk) + 3;
			if ((buf = malloc(len)) == NULL)
				rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			else {
				n = snprintf((char *)buf, len, "%s\n%s\n", isr,
				    pk);
				rc = write_out(out, buf, (size_t)n, 0644);
			}
		}
		free(isr);
		free(pk);
	} else {
		/* 4 output bytes per 3 input, plus NUL and a newline. */
		len = ((sc->derlen + 2) / 3) * 4 + 2;
		if ((buf = malloc(len)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		} else {
			n = EVP_EncodeBlock(buf, sc->der, (int)sc->derlen);
			buf[n] = '\n';
			rc = write_out(out, buf, (size_t)n + 1, 0644);
		}
	}
	X509_free(x);
	free(buf);
	return rc;
}

int
cmd_export(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "all", no_argument, NULL, O_ALL },
		{ "out", required_argument, NULL, O_OUT },
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int force = 0, json = 0, all = 0;
	struct authority *a = NULL;
	struct authority_cert sc;
	const char *home = NULL, *serial = NULL, *fmt = NULL, *out = NULL;
	char *norm = NULL;
	int c, rc, ex;

	memset(&sc, 0, sizeof(sc));
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_SERIAL: serial = optarg; break;
		case O_FORMAT: fmt = optarg; break;
		case O_ALL: all = 1; break;
		case O_OUT: out = optarg; break;
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(EXPORT_USAGE, EXPORT_EXAMPLES,
			    EXPORT_HELP);
		default:
			return cli_badopt(c, argv, lo, EXPORT_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "export takes no "
		    "arguments; use --serial HEX", EXPORT_USAGE);
	if (all) {
		if (serial != NULL)
			return cli_badval("--serial", serial, "--all exports "
			    "every user; give one or the other", EXPORT_USAGE);
		if (fmt == NULL)
			return cli_required("--format iis-mapping|iis-ps1",
			    EXPORT_USAGE);
		if (strcmp(fmt, "iis-mapping") != 0 &&
		    strcmp(fmt, "iis-ps1") != 0)
			return cli_badval("--format", fmt, "with --all, use "
			    "iis-mapping or iis-ps1", EXPORT_USAGE);
		if (json && (out == NULL || strcmp(out, "-") == 0))
			return cli_required("--out FILE (with --json, stdout "
			    "is for the JSON)", EXPORT_USAGE);
		return export_all(home, fmt, out, force, json);
	}
	if (serial == NULL)
		return cli_required("--serial HEX", EXPORT_USAGE);
	if (fmt == NULL)
		return cli_required("--format pem|der|iis-mapping|altsecid",
		    EXPORT_USAGE);
	if (strcmp(fmt, "pem") != 0 && strcmp(fmt, "der") != 0 &&
	    strcmp(fmt, "iis-mapping") != 0 && strcmp(fmt, "altsecid") != 0)
		return cli_badval("--format", fmt, "use pem, der, "
		    "iis-mapping or altsecid", EXPORT_USAGE);
	if (json && (out == NULL || strcmp(out, "-") == 0))
		return cli_required("--out FILE (with --json, stdout is for "
		    "the JSON)", EXPORT_USAGE);
	if ((rc = serial_normalize(serial, &norm)) != UC_OK)
		return cli_badval("--serial", serial, "a hexadecimal serial "
		    "number, as 'userca list' shows it", EXPORT_USAGE);
	if (cli_out_preflight("--out", out, force) != 0) {
		free(norm);
		return 1;
	}
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		goto out;
	if ((rc = authority_cert_get(a, norm, &sc)) != UC_OK) {
		ex = cli_fail(rc, "export");
		goto out;
	}
	rc = export_one(&sc, fmt, out);
	ex = rc == UC_OK ? 0 : cli_fail(rc, "export");
	if (ex == 0 && json)
		cli_json_print(json_pack("{s:s, s:s, s:s}", "serial", norm,
		    "format", fmt, "file", out));
out:
	free(norm);
	authority_cert_clear(&sc);
	authority_free(a);
	return ex;
}

#define SERVER_USAGE "issue-server --dns NAME [--dns NAME...] [--ip IP...] " \
	"--out DIR [--force] [--json] [--passphrase-file F] [--home DIR]"
#define SERVER_EXAMPLES \
	"  userca issue-server --dns pki.example.com --out /etc/userca\n" \
	"  userca issue-server --dns pki.example.com --ip 10.0.0.5 --out " \
	"/etc/userca --force   (renew)\n"
#define SERVER_HELP \
	"Issues the enrollment daemon's own TLS certificate " \
	"(EKU serverAuth) from the\nissuing CA, so devices " \
	"and curl trust it with public/ca-bundle.pem.\n" \
	"Writes DIR/tls.crt (server then issuing CA) and " \
	"DIR/tls.key (0600); refuses to replace them " \
	"without --force.\n"

int
cmd_issue_server(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "dns", required_argument, NULL, O_USER },
		{ "ip", required_argument, NULL, O_EMAIL },
		{ "out", required_argument, NULL, O_OUT },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int force = 0, json = 0;
	struct authority *a = NULL;
	const char *dns[17], *ip[17];
	const char *home = NULL, *out = NULL, *passfile = NULL;
	unsigned char *chain = NULL, *key = NULL;
	size_t chainlen = 0, keylen = 0;
	char *serial = NULL, *crt = NULL, *kp = NULL;
	int c, rc, ex, nd = 0, ni = 0;

	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_USER:
			if (nd == 16)
				return cli_badval("--dns", optarg, "at most 16 "
				    "names", SERVER_USAGE);
			dns[nd++] = optarg;
			break;
		case O_EMAIL:
			if (ni == 16)
				return cli_badval("--ip", optarg, "at most 16 "
				    "addresses", SERVER_USAGE);
			ip[ni++] = optarg;
			break;
		case O_OUT: out = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(SERVER_USAGE, SERVER_EXAMPLES,
			    SERVER_HELP);
		default:
			return cli_badopt(c, argv, lo, SERVER_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "issue-server "
		    "takes no arguments; did you mean --dns?", SERVER_USAGE);
	if (nd == 0 && ni == 0)
		return cli_required("--dns NAME (or --ip IP)", SERVER_USAGE);
	if (out == NULL)
		return cli_required("--out DIR", SERVER_USAGE);
	dns[nd] = NULL;
	ip[ni] = NULL;
	if ((rc = dir_make(out, 0700)) != UC_OK)
		return cli_fail(rc, out);
	if ((crt = path_join(out, "tls.crt")) == NULL ||
	    (kp = path_join(out, "tls.key")) == NULL) {
		ex = cli_fail(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if (cli_out_preflight("--out", crt, force) != 0 ||
	    cli_out_preflight("--out", kp, force) != 0) {
		ex = 1;
		goto out;
	}
	if ((ex = cli_open(cli_home(home), passfile, &a)) != 0)
		goto out;
	if ((rc = authority_issue_server(a, dns, ip, &chain, &chainlen, &key,
	    &keylen, &serial)) != UC_OK) {
		ex = cli_fail(rc, "issue-server");
		goto out;
	}
	if ((rc = file_write_atomic(kp, key, keylen, 0600)) != UC_OK ||
	    (rc = file_write_atomic(crt, chain, chainlen, 0644)) != UC_OK) {
		ex = cli_fail(rc, "writing the TLS files");
		goto out;
	}
	if (json)
		cli_json_print(json_pack("{s:s, s:s, s:s}", "serial", serial,
		    "file", crt, "key_file", kp));
	else
		printf("serial: %s\ncert: %s\nkey: %s\n", serial, crt, kp);
	ex = 0;
out:
	free(crt);
	free(kp);
	free(serial);
	free(chain);
	secret_free_buf(key, keylen);
	authority_free(a);
	return ex;
}
