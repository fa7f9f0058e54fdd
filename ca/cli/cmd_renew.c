/*
 * cmd_renew.c: userca renew.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "renew.h"

enum {
	O_HOME = 256, O_OUT, O_JOBS, O_P12FMT, O_TOKENS, O_REVOKE, O_DRY,
	O_EXPIRING, O_PASSF, O_JSON, O_HELP
};

#define WINDOW_HINT "a window with a unit, from 1d to 366d, e.g. 30d"

static void
renew_error(void *arg, long line, const char *msg)
{
	(void)arg;
	(void)line;
	fprintf(stderr, "userca: renew: %s\n", msg);
}

#define RENEW_USAGE "renew --expiring 30d --out DIR [--tokens] " \
	"[--p12-format modern|legacy] [--revoke-old] [--dry-run] [--jobs N] " \
	"[--json] [--passphrase-file F] [--home DIR]"
#define RENEW_EXAMPLES \
	"  userca renew --expiring 30d --dry-run\n" \
	"  userca renew --expiring 30d --out ./renewed\n" \
	"  userca renew --expiring 14d --out ./links --tokens\n" \
	"  userca renew --expiring 30d --out ./renewed --revoke-old\n"
#define RENEW_HELP \
	"Renews every user whose newest valid certificate " \
	"expires within the window\n(--expiring, default " \
	"userca.conf [renew] window, 30d): a new PKCS#12 " \
	"each\n(DIR/<username>.p12, 0600, password in " \
	"DIR/manifest.csv), or with --tokens a\nrenewal " \
	"link that lives until the old certificate expires " \
	"and works once.\nUsers whose certificates are all " \
	"revoked are not renewed; a renewed\ncertificate is " \
	"not renewed again.  Email, UPN, name, OU, SID and " \
	"S/MIME are\nkept from the user's record and " \
	"certificate.\n\n" \
	"The new certificate supersedes the old one in the " \
	"records (superseded_by); the\nold one stays valid " \
	"until it expires, unless --revoke-old (or [renew]\n" \
	"revoke_old = true), which revokes it (reason " \
	"superseded) and publishes a CRL;\nfor a renewal " \
	"link, when the link is used.\n\n" \
	"Like batch: a journal, a folder lock, and a killed " \
	"run resumes with the same\ncommand; nobody is " \
	"renewed twice.\n" \
	"  --jobs N     worker threads (default: the number " \
	"of cores)\n" \
	"  --dry-run    say how many would be renewed; " \
	"nothing is made\n"

/* The run's counts on stdout (JSON with json). */
static void
renew_report(const struct renew_opts *o, const struct batch_stats *st,
    double secs, int json)
{
	if (json)
		cli_json_print(json_pack("{s:b, s:i, s:i, s:i, s:i, s:i, s:f, "
		    "s:s*}", "dry_run", o->dry_run, "due", (int)st->rows,
		    "renewed", (int)st->issued, "skipped", (int)st->skipped,
		    "failed", (int)st->failed, "revoked", (int)st->superseded,
		    "seconds", secs, "manifest", o->dry_run || st->rows == 0 ?
		    NULL : o->out));
	else if (o->dry_run)
		printf("renew: %ld due: %ld would be renewed, %ld skipped\n",
		    st->rows, st->issued, st->skipped);
	else if (st->rows == 0)
		printf("renew: nobody is due\n");
	else
		printf("renew: %ld due: %ld renewed, %ld skipped, %ld failed, "
		    "%ld old revoked; %.1f s; manifest: %s/manifest.csv\n",
		    st->rows, st->issued, st->skipped, st->failed,
		    st->superseded, secs, o->out);
}

int
cmd_renew(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "out", required_argument, NULL, O_OUT },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "p12-format", required_argument, NULL, O_P12FMT },
		{ "tokens", no_argument, NULL, O_TOKENS },
		{ "revoke-old", no_argument, NULL, O_REVOKE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "expiring", required_argument, NULL, O_EXPIRING },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct renew_opts o;
	struct batch_stats st;
	const char *home = NULL, *passfile = NULL, *fmt = "modern";
	int c, rc, ex, json = 0;
	double t0, secs;

	memset(&o, 0, sizeof(o));
	o.revoke_old = -1;
	o.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_OUT: o.out = optarg; break;
		case O_JOBS:
			if (!parse_int(optarg, 1, 256, &o.jobs))
				return cli_badval("--jobs", optarg, "a number of "
				    "threads from 1 to 256", RENEW_USAGE);
			break;
		case O_P12FMT: fmt = optarg; break;
		case O_TOKENS: o.tokens = 1; break;
		case O_REVOKE: o.revoke_old = 1; break;
		case O_DRY: o.dry_run = 1; break;
		case O_EXPIRING:
			if (!parse_duration(optarg, &o.window) ||
			    o.window < 86400 || o.window > 366 * 86400)
				return cli_badval("--expiring", optarg,
				    WINDOW_HINT, RENEW_USAGE);
			break;
		case O_PASSF: passfile = optarg; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(RENEW_USAGE, RENEW_EXAMPLES,
			    RENEW_HELP);
		default:
			return cli_badopt(c, argv, lo, RENEW_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "renew takes no "
		    "arguments; did you mean --expiring 30d?", RENEW_USAGE);
	if (o.out == NULL && !o.dry_run)
		return cli_required("--out DIR (or --dry-run)", RENEW_USAGE);
	if (p12_format_parse(fmt, &o.format) != UC_OK)
		return cli_badval("--p12-format", fmt, "use modern or legacy",
		    RENEW_USAGE);
	o.on_error = renew_error;
	if ((ex = cli_open(cli_home(home), passfile, &a)) != 0)
		return ex;
	if (o.tokens && (rc = authority_enroll_check(a)) != UC_OK) {
		ex = cli_fail(rc, "renew --tokens");
		goto out;
	}
	t0 = uc_mono();
	rc = authority_renew(a, &o, &st);
	secs = uc_mono() - t0;
	if (rc != UC_OK) {
		ex = cli_fail(rc, "renew");
		if (st.issued > 0 && !o.dry_run)
			fprintf(stderr, "userca: renew: so far: %ld renewed; "
			    "re-run the same command to resume\n", st.issued);
		goto out;
	}
	renew_report(&o, &st, secs, json);
	ex = st.failed > 0 ? 3 : 0;
out:
	authority_free(a);
	return ex;
}
