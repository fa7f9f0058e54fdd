/*
 * cmd_log.c: userca log: the audit log, and checking its chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core.h"

enum { O_HOME = 256, O_USER, O_SINCE, O_JSON, O_VERIFY, O_CP, O_HELP };

#define LOG_USAGE "log [--user U] [--since DATE|Nd] [--json] [--home DIR]\n" \
	"       userca log --verify [--checkpoint FILE] [--json] [--home DIR]"
#define LOG_EXAMPLES \
	"  userca log --since 7d\n" \
	"  userca log --user kim --json\n" \
	"  userca log --verify\n" \
	"  userca log --verify --checkpoint audit-checkpoint.json\n"
#define LOG_HELP \
	"Shows the audit log, oldest first: every issuance, " \
	"renewal, revocation,\ntoken, CRL and CA change, " \
	"by whom (cli, enrolld) and when.\n" \
	"  --user U      rows naming U or one of U's " \
	"certificates\n" \
	"  --since D     rows written at or after D\n" \
	"  --json        an array of objects (id, at, " \
	"at_unix, actor, action,\n" \
	"                subject, detail, prev_hash, hash)\n" \
	"  --verify      check the hash chain and the signed " \
	"checkpoints; names\n" \
	"                each edited, inserted or deleted " \
	"row; exit 1 if any\n" \
	"  --checkpoint FILE  also check against this copy " \
	"of\n" \
	"                public/audit-checkpoint.json (e.g. " \
	"the web server's)\n"

/* DATE (2026-11-30), DATE THH:MM:SSZ, or N[d|h|m|s] back from now. */
static int
parse_since(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;
	int secs;

	if (parse_duration(s, &secs)) {
		*out = uc_now() - secs;
		return 1;
	}
	memset(&tm, 0, sizeof(tm));
	if (((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL &&
	    *end == '\0') || (memset(&tm, 0, sizeof(tm)),
	    (end = strptime(s, "%Y-%m-%d", &tm)) != NULL && *end == '\0')) {
		*out = (int64_t)timegm(&tm);
		return 1;
	}
	return 0;
}

struct show {
	json_t	*arr;
	long	 n;
};

static int
show_cb(const struct authority_log_row *r, void *arg)
{
	struct show *sh = arg;
	char when[32];
	json_t *o;

	uc_time_iso(r->at, when, sizeof(when));
	sh->n++;
	if (sh->arr == NULL) {
		printf("%-6lld %-20s %-8s %-18s %-24s %s\n", (long long)r->id,
		    when, r->actor != NULL ? r->actor : "-",
		    r->action != NULL ? r->action : "-",
		    r->subject != NULL ? r->subject : "-",
		    r->detail != NULL ? r->detail : "");
		return 0;
	}
	if ((o = json_pack("{s:I, s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, "
	    "s:s?}", "id", (json_int_t)r->id, "at", when,
	    "at_unix", (json_int_t)r->at, "actor", r->actor,
	    "action", r->action, "subject", r->subject, "detail", r->detail,
	    "prev_hash", r->prev_hash, "hash", r->hash)) == NULL ||
	    json_array_append_new(sh->arr, o) != 0)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	return 0;
}

struct problems {
	json_t	*arr;
};

static void
problem_cb(int64_t id, const char *msg, void *arg)
{
	struct problems *p = arg;

	if (p->arr != NULL) {
		json_array_append_new(p->arr, json_pack("{s:I, s:s}", "row",
		    (json_int_t)id, "problem", msg));
		return;
	}
	fprintf(stderr, "userca log --verify: %s\n", msg);
}

static int
verify(struct authority *a, const char *cpfile, int json)
{
	struct authority_log_report rep;
	struct problems p = { NULL };
	int rc;

	if (json && (p.arr = json_array()) == NULL)
		return cli_fail(UC_E_INTERNAL, "json");
	if ((rc = authority_log_verify(a, cpfile, problem_cb, &p, &rep)) !=
	    UC_OK) {
		json_decref(p.arr);
		return cli_fail(rc, "log --verify");
	}
	if (json) {
		(void)cli_json_print(json_pack("{s:b, s:I, s:I, s:I, s:s, s:o}",
		    "ok", rep.problems == 0, "rows", (json_int_t)rep.rows,
		    "checkpoints", (json_int_t)rep.checkpoints,
		    "anchored_rows", (json_int_t)rep.anchored,
		    "head_hash", rep.head_hash, "problems", p.arr));
		return rep.problems == 0 ? 0 : 1;
	}
	if (rep.problems > 0) {
		fprintf(stderr, "userca log --verify: %lld problem%s in %lld "
		    "rows: the log was tampered with\n",
		    (long long)rep.problems, rep.problems == 1 ? "" : "s",
		    (long long)rep.rows);
		return 1;
	}
	printf("ok: %lld rows, the chain is intact; %lld signed checkpoint%s "
	    "verified, the newest covers %lld rows\nhead %s\n",
	    (long long)rep.rows, (long long)rep.checkpoints,
	    rep.checkpoints == 1 ? "" : "s", (long long)rep.anchored,
	    rep.head_hash);
	return 0;
}

int
cmd_log(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "user", required_argument, NULL, O_USER },
		{ "since", required_argument, NULL, O_SINCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "checkpoint", required_argument, NULL, O_CP },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct show sh = { NULL, 0 };
	const char *home = NULL, *user = NULL, *cpfile = NULL;
	int64_t since = INT64_MIN;
	int c, rc, ex, json = 0, check = 0;

	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_USER: user = optarg; break;
		case O_SINCE:
			if (!parse_since(optarg, &since))
				return cli_badval("--since", optarg, "a date "
				    "(2026-11-30 or 2026-11-30T08:00:00Z) or "
				    "an age such as 7d or 12h", LOG_USAGE);
			break;
		case O_JSON: json = 1; break;
		case O_VERIFY: check = 1; break;
		case O_CP: cpfile = optarg; break;
		case 'h':
		case O_HELP:
			return cli_help(LOG_USAGE, LOG_EXAMPLES,
			    LOG_HELP);
		default:
			return cli_badopt(c, argv, lo, LOG_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "log takes no "
		    "arguments; did you mean --user?", LOG_USAGE);
	if (check && (user != NULL || since != INT64_MIN))
		return cli_badval("--verify", "", "checks the whole log; "
		    "leave out --user and --since", LOG_USAGE);
	if (!check && cpfile != NULL)
		return cli_badval("--checkpoint", cpfile, "goes with --verify",
		    LOG_USAGE);
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		return ex;
	if (check) {
		ex = verify(a, cpfile, json);
		goto out;
	}
	if (json && (sh.arr = json_array()) == NULL) {
		ex = cli_fail(UC_E_INTERNAL, "json");
		goto out;
	}
	if (!json)
		printf("%-6s %-20s %-8s %-18s %-24s %s\n", "ID", "AT", "ACTOR",
		    "ACTION", "SUBJECT", "DETAIL");
	if ((rc = authority_log_list(a, user, since, show_cb, &sh)) != UC_OK) {
		ex = cli_fail(rc, "log");
		goto out;
	}
	if (json) {
		json_dumpf(sh.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	ex = 0;
out:
	json_decref(sh.arr);
	authority_free(a);
	return ex;
}
