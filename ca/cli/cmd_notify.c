/*
 * cmd_notify.c: userca notify.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "renew.h"

enum {
	O_HOME = 256, O_EXPIRING, O_SENDMAIL, O_TEMPLATE, O_ADMIN, O_DRY,
	O_JSON, O_REVOKE, O_KEEP, O_HELP
};

struct notify_ui {
	json_t	*users;		/* --json: what was mailed */
	int	 dry_run;
};

static void
notify_user(void *arg, const char *username, const char *email,
    int64_t not_after)
{
	struct notify_ui *u = arg;
	char when[32];

	uc_time_iso(not_after, when, sizeof(when));
	if (u->users != NULL)
		json_array_append_new(u->users, json_pack("{s:s, s:s, s:s}",
		    "user", username, "email", email, "not_after", when));
	else
		printf("%s %s <%s>, expires %s\n", u->dry_run ? "would mail" :
		    "mailed", username, email, when);
}

static void
notify_error(void *arg, const char *username, const char *msg)
{
	(void)arg;
	fprintf(stderr, "userca: notify: %s: %s\n", username, msg);
}

#define NOTIFY_USAGE "notify [--expiring 30d] [--sendmail PATH] " \
	"[--template FILE] [--admin ADDR] [--revoke-old | --keep-old] " \
	"[--dry-run] [--json] [--home DIR]"
#define NOTIFY_EXAMPLES \
	"  userca notify --expiring 30d --dry-run\n" \
	"  userca notify --expiring 30d --admin pki-admins@example.com\n" \
	"  userca notify --expiring 7d --template /etc/userca/reminder.txt\n" \
	"  userca notify --sendmail /usr/bin/msmtp\n"
#define NOTIFY_HELP \
	"Mails each user whose newest valid certificate " \
	"expires within the window\n(--expiring, default " \
	"userca.conf [renew] window, 30d) a renewal link " \
	"and the\ndate, and the admin (--admin, or [renew] " \
	"admin) a summary.  The link is new,\nworks once and " \
	"lives until the certificate expires.  A user is " \
	"never mailed\ntwice for the same certificate and " \
	"window (in days): run it daily from a timer\n" \
	"(scripts/userca-notify.timer), with 30d and again " \
	"with 7d for a second reminder.\n\n" \
	"Mail goes through the sendmail(8) interface: " \
	"'SENDMAIL -t -oi', the message on\nstdin " \
	"(--sendmail, or [renew] sendmail, default " \
	"/usr/sbin/sendmail; msmtp and\nPostfix's sendmail " \
	"both work).  [renew] from sets From:.  A user the " \
	"mailer\nrefuses is named, not recorded, and tried " \
	"again next run (exit status 3).\n\n" \
	"--template FILE: a 'Subject: ...' line, a blank " \
	"line, then the body (UTF-8).\nPlaceholders in both: " \
	"{name} (the username when there is none), " \
	"{username},\n{email}, {not_after} (UTC, " \
	"2027-11-20T10:38:14Z), {url} (the renewal link),\n" \
	"{days} (days left).  Other text in braces is kept " \
	"as it is.\n\n" \
	"--revoke-old: redeeming the link revokes the old " \
	"certificate (superseded) in\nthe same step; " \
	"--keep-old: it stays valid until it expires.  " \
	"Default: userca.conf\n[renew] revoke_old (false).\n"

int
cmd_notify(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "expiring", required_argument, NULL, O_EXPIRING },
		{ "sendmail", required_argument, NULL, O_SENDMAIL },
		{ "template", required_argument, NULL, O_TEMPLATE },
		{ "admin", required_argument, NULL, O_ADMIN },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "revoke-old", no_argument, NULL, O_REVOKE },
		{ "keep-old", no_argument, NULL, O_KEEP },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct notify_opts o;
	struct notify_stats st;
	struct notify_ui u;
	const char *home = NULL;
	int c, rc, ex, json = 0;

	memset(&o, 0, sizeof(o));
	o.revoke_old = -1;
	memset(&u, 0, sizeof(u));
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_EXPIRING:
			if (!parse_duration(optarg, &o.window) ||
			    o.window < 86400 || o.window > 366 * 86400)
				return cli_badval("--expiring", optarg,
				    "a window with a unit, from 1d to 366d, e.g. "
				    "30d", NOTIFY_USAGE);
			break;
		case O_SENDMAIL:
			if (optarg[0] != '/')
				return cli_badval("--sendmail", optarg, "an "
				    "absolute path, e.g. /usr/sbin/sendmail",
				    NOTIFY_USAGE);
			o.sendmail = optarg;
			break;
		case O_TEMPLATE: o.template_path = optarg; break;
		case O_ADMIN: o.admin = optarg; break;
		case O_DRY: o.dry_run = 1; break;
		case O_REVOKE: o.revoke_old = 1; break;
		case O_KEEP: o.revoke_old = 0; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(NOTIFY_USAGE, NOTIFY_EXAMPLES,
			    NOTIFY_HELP);
		default:
			return cli_badopt(c, argv, lo, NOTIFY_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "notify takes no "
		    "arguments; did you mean --expiring 30d?", NOTIFY_USAGE);
	if (o.template_path != NULL &&
	    notify_template_check(o.template_path) != UC_OK)
		return cli_badval("--template", o.template_path, uc_errmsg(),
		    NOTIFY_USAGE);
	u.dry_run = o.dry_run;
	if (json && (u.users = json_array()) == NULL)
		return cli_fail(UC_E_INTERNAL, "out of memory");
	o.on_user = notify_user;
	o.on_error = notify_error;
	o.arg = &u;
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		goto out;
	if ((rc = authority_notify(a, &o, &st)) != UC_OK) {
		ex = cli_fail(rc, "notify");
		if (st.mailed > 0)
			fprintf(stderr, "userca: notify: %ld mailed before "
			    "that; a re-run mails only the others\n",
			    st.mailed);
		goto out;
	}
	if (json) {
		cli_json_print(json_pack("{s:b, s:i, s:i, s:i, s:i, s:b, s:O}",
		    "dry_run", o.dry_run, "due", (int)st.due, "mailed",
		    (int)st.mailed, "already", (int)st.already, "failed",
		    (int)st.failed, "admin_mailed", st.admin_mailed, "users",
		    u.users));
	} else
		printf("notify: %ld due: %ld %s, %ld mailed before, %ld "
		    "failed%s\n", st.due, st.mailed, o.dry_run ? "would be "
		    "mailed" : "mailed", st.already, st.failed,
		    st.admin_mailed ? "; summary sent to the admin" : "");
	ex = st.failed > 0 ? 3 : 0;
out:
	json_decref(u.users);
	authority_free(a);
	return ex;
}
