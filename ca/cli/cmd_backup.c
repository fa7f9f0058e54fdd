/*
 * cmd_backup.c: userca backup (and backup --verify) and userca restore.
 * The archive's passphrase comes from --passphrase-file or
 * $USERCA_BACKUP_PASSPHRASE, never from the command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "cli.h"
#include "core.h"

enum { O_HOME = 256, O_OUT, O_ROOT, O_PASSFILE, O_FORCE, O_VERIFY, O_JSON,
    O_HELP };

/* Shortest passphrase a new archive accepts: it guards the issuing key. */
#define BK_PASS_MIN	12

#define BACKUP_USAGE "backup --out FILE [--include-root] " \
	"[--passphrase-file F] [--force] [--json] [--home DIR]\n" \
	"       userca backup --verify FILE [--passphrase-file F] [--json]"
#define BACKUP_EXAMPLES \
	"  USERCA_BACKUP_PASSPHRASE=... userca backup --out /mnt/b/ca.ucbk\n" \
	"  userca backup --out ca.ucbk --passphrase-file /root/bk.pass\n" \
	"  userca backup --verify ca.ucbk --passphrase-file /root/bk.pass\n"
#define BACKUP_TEXT \
	"A consistent snapshot of a live CA home (the database through " \
	"SQLite's\nonline backup API, so a running daemon or batch does not " \
	"matter): userca.conf,\nthe database, issuing/ (keys included), " \
	"root/ (root.key only with\n--include-root) and public/, in one file " \
	"encrypted with AES-256-GCM under a\nkey from the passphrase " \
	"(PBKDF2-HMAC-SHA256, 600,000 iterations).\n\n" \
	"  --out FILE            the archive (0600); an existing one is " \
	"kept unless --force\n" \
	"  --include-root        also the root key (it belongs offline)\n" \
	"  --passphrase-file F   the archive passphrase, first line of F " \
	"(else\n" \
	"                        $USERCA_BACKUP_PASSPHRASE; at least 12 " \
	"characters)\n" \
	"  --verify FILE         decrypt and check FILE (every checksum, " \
	"the database's\n" \
	"                        integrity) without restoring it\n" \
	"  --force               replace an existing --out FILE\n"

#define RESTORE_USAGE "restore FILE --home DIR [--passphrase-file F] [--json]"
#define RESTORE_EXAMPLES \
	"  userca restore ca.ucbk --home /srv/userca --passphrase-file bk.pass\n"
#define RESTORE_TEXT \
	"Restore a backup into DIR, which must be empty or not exist.  " \
	"Everything is\nchecked (passphrase, every checksum, the database's " \
	"integrity) before\nanything is written; the files go to a private " \
	"folder beside DIR, which\nbecomes DIR only when the restored home " \
	"opens.\n\n" \
	"  --home DIR            where to restore (or $USERCA_HOME)\n" \
	"  --passphrase-file F   the archive passphrase, first line of F " \
	"(else\n" \
	"                        $USERCA_BACKUP_PASSPHRASE)\n"

static int
backup_pass(const char *file, int creating, char **pass)
{
	const char *env;
	int rc;

	*pass = NULL;
	if (file != NULL)
		rc = cli_read_secret_file(file, pass);
	else if ((env = getenv("USERCA_BACKUP_PASSPHRASE")) != NULL &&
	    *env != '\0')
		rc = (*pass = strdup(env)) != NULL ? UC_OK :
		    uc_seterr(UC_E_INTERNAL, "out of memory");
	else
		rc = uc_seterr(UC_E_PASSPHRASE, "the archive passphrase is "
		    "needed: --passphrase-file F or $USERCA_BACKUP_PASSPHRASE "
		    "(never on the command line)");
	if (rc == UC_OK && creating && strlen(*pass) < BK_PASS_MIN) {
		secret_free(*pass);
		*pass = NULL;
		rc = uc_seterr(UC_E_PASSPHRASE, "the archive passphrase has "
		    "fewer than %d characters", BK_PASS_MIN);
	}
	return rc;
}

/*
 * getopt_long takes "--passphrase X" as "--passphrase-file X" (a prefix)
 * and would then name X, the secret, in its error: refuse any spelling
 * but the whole option before parsing, without echoing what followed.
 */
static int
pass_option_exact(int argc, char **argv, const char *usage)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strncmp(argv[i], "--pass", 6) != 0 ||
		    strcmp(argv[i], "--passphrase-file") == 0 ||
		    strncmp(argv[i], "--passphrase-file=", 18) == 0)
			continue;
		cli_err("%.*s: not an option; the archive passphrase comes "
		    "only from --passphrase-file F or "
		    "$USERCA_BACKUP_PASSPHRASE", (int)strcspn(argv[i], "="),
		    argv[i]);
		return cli_usage(usage);
	}
	return 0;
}

static json_t *
info_json(const struct backup_info *in, const char *file, const char *home)
{
	return json_pack("{s:s, s:s*, s:I, s:I, s:b, s:b, s:s, s:s}", "file",
	    file, "home", home, "members", (json_int_t)in->members, "bytes",
	    (json_int_t)in->bytes, "root_key", in->root_key, "ocsp_key",
	    in->ocsp_key, "created", in->created, "userca", in->version);
}

static void
info_print(const struct backup_info *in)
{
	printf("members: %zu (%llu bytes)\nroot key: %s\ncreated: %s by "
	    "userca %s\n", in->members, (unsigned long long)in->bytes,
	    in->root_key ? "included" : "not included", in->created,
	    in->version);
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "out", required_argument, NULL, O_OUT },
		{ "include-root", no_argument, NULL, O_ROOT },
		{ "passphrase-file", required_argument, NULL, O_PASSFILE },
		{ "force", no_argument, NULL, O_FORCE },
		{ "verify", required_argument, NULL, O_VERIFY },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct backup_info info;
	const char *home = NULL, *out = NULL, *passfile = NULL, *verify = NULL;
	char *pass = NULL;
	int c, root = 0, force = 0, json = 0, rc;

	if ((rc = pass_option_exact(argc, argv, BACKUP_USAGE)) != 0)
		return rc;
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_OUT: out = optarg; break;
		case O_ROOT: root = 1; break;
		case O_PASSFILE: passfile = optarg; break;
		case O_FORCE: force = 1; break;
		case O_VERIFY: verify = optarg; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(BACKUP_USAGE, BACKUP_EXAMPLES,
			    BACKUP_TEXT);
		default:
			return cli_badopt(c, argv, lo, BACKUP_USAGE);
		}
	}
	/* Not echoed: it may be a passphrase someone tried to pass. */
	if (optind < argc) {
		cli_err("backup takes no arguments (and never a passphrase)");
		return cli_usage(BACKUP_USAGE);
	}
	if (verify != NULL) {
		if (out != NULL || root || force)
			return cli_badval("--verify", verify, "checks an "
			    "archive; --out, --include-root and --force make "
			    "one", BACKUP_USAGE);
		if ((rc = backup_pass(passfile, 0, &pass)) != UC_OK)
			return cli_fail(rc, "backup --verify");
		rc = backup_verify(verify, pass, &info);
		secret_free(pass);
		if (rc != UC_OK)
			return cli_fail(rc, "backup --verify");
		if (json)
			return cli_json_print(info_json(&info, verify, NULL));
		printf("%s: ok\n", verify);
		info_print(&info);
		return 0;
	}
	if (out == NULL)
		return cli_required("--out FILE", BACKUP_USAGE);
	if (cli_out_preflight("--out", out, force) != 0)
		return 1;
	home = cli_home(home);
	if ((rc = backup_pass(passfile, 1, &pass)) != UC_OK)
		return cli_fail(rc, "backup");
	rc = backup_create(home, out, root, force, pass, &info);
	secret_free(pass);
	if (rc != UC_OK)
		return cli_fail(rc, "backup");
	if (json)
		return cli_json_print(info_json(&info, out, home));
	printf("backup: %s\n", out);
	info_print(&info);
	return 0;
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "passphrase-file", required_argument, NULL, O_PASSFILE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct backup_info info;
	const char *home = NULL, *passfile = NULL, *file;
	char *pass = NULL;
	int c, json = 0, rc;

	if ((rc = pass_option_exact(argc, argv, RESTORE_USAGE)) != 0)
		return rc;
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_PASSFILE: passfile = optarg; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(RESTORE_USAGE, RESTORE_EXAMPLES,
			    RESTORE_TEXT);
		default:
			return cli_badopt(c, argv, lo, RESTORE_USAGE);
		}
	}
	if (optind >= argc)
		return cli_required("FILE", RESTORE_USAGE);
	if (optind + 1 < argc) {
		cli_err("restore takes one archive (and never a passphrase)");
		return cli_usage(RESTORE_USAGE);
	}
	file = argv[optind];
	if (home == NULL && ((home = getenv("USERCA_HOME")) == NULL ||
	    *home == '\0'))
		return cli_required("--home DIR", RESTORE_USAGE);
	if ((rc = backup_pass(passfile, 0, &pass)) != UC_OK)
		return cli_fail(rc, "restore");
	rc = backup_restore(file, pass, home, &info);
	secret_free(pass);
	if (rc != UC_OK)
		return cli_fail(rc, "restore");
	if (json)
		return cli_json_print(info_json(&info, file, home));
	printf("restored: %s\n", home);
	info_print(&info);
	return 0;
}
