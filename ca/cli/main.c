/*
 * main.c: userca, the offline CA manager.  A thin front door onto the
 * authority layer: parse arguments, get secrets, print results, exit.
 *
 * Exit status: 0 success, 1 error, 2 usage, 3 partial success.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "authority.h"
#include "cli.h"

#define EX_OK		0
#define EX_ERR		1
#define EX_USAGE	2

static const char *cmdname = "userca";
static const char *home_from = "no --home, $USERCA_HOME unset";

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "userca: %s: ", cmdname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Report a library failure: what we were doing, then the detail. */
int
cli_fail(int rc, const char *what)
{
	const char *d = uc_errmsg();

	/* "userca: crl: wrong passphrase: ..." rather than "crl: crl: ..." */
	if (strcmp(what, cmdname) == 0)
		cli_err("%s%s%s", uc_strerror(rc), *d ? ": " : "", d);
	else
		cli_err("%s: %s%s%s", what, uc_strerror(rc), *d ? ": " : "",
		    d);
	return EX_ERR;
}

int
cli_usage(const char *usage)
{
	fprintf(stderr, "usage: userca %s\n(see userca %s --help)\n", usage,
	    cmdname);
	return EX_USAGE;
}

int
cli_required(const char *what, const char *usage)
{
	fprintf(stderr, "userca: %s: %s is required\n", cmdname, what);
	return cli_usage(usage);
}

int
cli_badval(const char *flag, const char *val, const char *hint,
    const char *usage)
{
	fprintf(stderr, "userca: %s: %s '%s': %s\n", cmdname, flag, val, hint);
	return cli_usage(usage);
}

/*
 * Edit distance with transpositions (optimal string alignment), for "did
 * you mean": "lsit" is one step from "list".  Short strings only.
 */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[33][33], v;

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The closest of names (NULL-terminated) to s, or NULL when none is near. */
static const char *
closest(const char *s, const char *const *names)
{
	const char *best = NULL;
	size_t d, bd = SIZE_MAX, len = strlen(s);

	for (; *names != NULL; names++) {
		if (strncmp(*names, s, len) == 0 && len >= 2)
			d = 1;		/* a prefix of it */
		else
			d = edit_distance(s, *names);
		if (d < bd) {
			bd = d;
			best = *names;
		}
	}
	return bd <= (len < 6 ? 2 : len / 3 + 1) ? best : NULL;
}

int
cli_badopt(int c, char **argv, const struct option *lo, const char *usage)
{
	const char *names[64], *arg = argv[optind - 1], *near;
	char flag[64];
	size_t n = 0, i;

	if (c == ':') {
		for (i = 0; lo[i].name != NULL; i++)
			if (lo[i].val == optopt)
				break;
		fprintf(stderr, "userca: %s: %s%s needs a value\n", cmdname,
		    lo[i].name != NULL ? "--" : "-",
		    lo[i].name != NULL ? lo[i].name : (char[]){ (char)optopt,
		    '\0' });
		return cli_usage(usage);
	}
	for (i = 0; lo[i].name != NULL && n < 63; i++)
		names[n++] = lo[i].name;
	names[n] = NULL;
	if (optopt != 0 || arg == NULL || strncmp(arg, "--", 2) != 0) {
		fprintf(stderr, "userca: %s: unknown option '-%c'\n", cmdname,
		    optopt != 0 ? optopt : '?');
		return cli_usage(usage);
	}
	snprintf(flag, sizeof(flag), "%.*s", (int)strcspn(arg + 2, "="),
	    arg + 2);
	near = closest(flag, names);
	fprintf(stderr, "userca: %s: unknown option '--%s'", cmdname, flag);
	if (near != NULL)
		fprintf(stderr, "; did you mean '--%s'?", near);
	fputc('\n', stderr);
	return cli_usage(usage);
}

int
cli_help(const char *usage, const char *examples, const char *text)
{
	printf("Usage: userca %s\n\n%s", usage, text);
	printf("\nCommon options:\n"
	    "  --home DIR   CA home (default: $USERCA_HOME, else ./pki)\n"
	    "  --json       machine-readable output on stdout\n"
	    "  -h, --help   this text\n"
	    "Exit status: 0 ok, 1 error, 2 usage, 3 partial success.\n");
	if (examples != NULL)
		printf("\nExamples:\n%s", examples);
	return EX_OK;
}

int
cli_json_print(json_t *j)
{
	if (j == NULL) {
		cli_err("out of memory");
		return EX_ERR;
	}
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
	return EX_OK;
}

int
cli_confirm(const char *question)
{
	char buf[16];
	FILE *tty;
	int yes = 0;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return 0;
	fprintf(tty, "%s [y/N] ", question);
	fflush(tty);
	if (fgets(buf, sizeof(buf), tty) != NULL)
		yes = buf[0] == 'y' || buf[0] == 'Y';
	fclose(tty);
	return yes;
}

/*
 * Refuse an output path before anything is recorded: a certificate that
 * is committed and then cannot be written is a key lost (p12) or a
 * revocation to make.  "-" and NULL are stdout.
 */
int
cli_out_preflight(const char *flag, const char *path, int force)
{
	char *dir = NULL, *slash;
	int ok;

	if (path == NULL || strcmp(path, "-") == 0)
		return 0;
	if (path_exists(path) && !force) {
		cli_err("%s %s: already exists; not overwriting it (--force "
		    "replaces it)", flag, path);
		return 1;
	}
	if ((dir = strdup(path)) == NULL) {
		cli_err("out of memory");
		return 1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		ok = access(".", W_OK | X_OK) == 0;
	else {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		ok = access(dir, W_OK | X_OK) == 0;
	}
	if (!ok)
		cli_err("%s %s: cannot write there (%s); nothing was done",
		    flag, path, strerror(errno));
	free(dir);
	return ok ? 0 : 1;
}

const char *
cli_home(const char *opt)
{
	const char *h;

	if (opt != NULL) {
		home_from = "from --home";
		return opt;
	}
	if ((h = getenv("USERCA_HOME")) != NULL && *h != '\0') {
		home_from = "from $USERCA_HOME";
		return h;
	}
	home_from = "no --home, $USERCA_HOME unset";
	return "./pki";
}

/* ---- secrets ------------------------------------------------------------ */

/* First line of a file, without its line ending (caller secret_free()s). */
int
cli_read_secret_file(const char *path, char **out)
{
	unsigned char *buf = NULL;
	size_t len, n;
	char *s;
	int rc;

	*out = NULL;
	if ((rc = file_read(path, 4096, &buf, &len)) != UC_OK)
		return rc;
	for (n = 0; n < len && buf[n] != '\n' && buf[n] != '\r'; n++)
		if (buf[n] == '\0')
			break;
	if ((s = malloc(n + 1)) == NULL) {
		secret_free_buf(buf, len);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	memcpy(s, buf, n);
	s[n] = '\0';
	secret_free_buf(buf, len);
	if (n == 0) {
		free(s);
		return uc_seterr(UC_E_INVALID, "%s: empty secret", path);
	}
	*out = s;
	return UC_OK;
}

static int
tty_read(const char *prompt, char **out)
{
	struct termios t, saved;
	char buf[1024];
	FILE *tty;
	size_t n;
	int rc = UC_E_PASSPHRASE;

	*out = NULL;
	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return uc_seterr(UC_E_PASSPHRASE, "the root key passphrase is "
		    "needed: use --passphrase-file or $USERCA_PASSPHRASE");
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &saved) == 0) {
		t = saved;
		t.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fileno(tty), TCSAFLUSH, &t);
	}
	if (fgets(buf, sizeof(buf), tty) != NULL) {
		n = strcspn(buf, "\r\n");
		buf[n] = '\0';
		if ((*out = strdup(buf)) != NULL)
			rc = UC_OK;
	}
	(void)tcsetattr(fileno(tty), TCSAFLUSH, &saved);
	fputc('\n', tty);
	fclose(tty);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc == UC_OK ? UC_OK : uc_seterr(rc, "no passphrase read");
}

int
cli_getpass(void *arg, int confirm, char **pass)
{
	const char *file = arg, *env;
	char *again = NULL;
	int rc;

	*pass = NULL;
	if (file != NULL)
		return cli_read_secret_file(file, pass);
	if ((env = getenv("USERCA_PASSPHRASE")) != NULL && *env != '\0') {
		if ((*pass = strdup(env)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		return UC_OK;
	}
	if ((rc = tty_read("Root key passphrase: ", pass)) != UC_OK)
		return rc;
	if (!confirm)
		return UC_OK;
	if ((rc = tty_read("Again: ", &again)) != UC_OK) {
		secret_free(*pass);
		*pass = NULL;
		return rc;
	}
	rc = strcmp(*pass, again) == 0 ? UC_OK :
	    uc_seterr(UC_E_PASSPHRASE, "the passphrases differ");
	secret_free(again);
	if (rc != UC_OK) {
		secret_free(*pass);
		*pass = NULL;
	}
	return rc;
}

int
cli_open(const char *home, const char *passfile, struct authority **a)
{
	int rc;

	if ((rc = authority_open(home, a)) != UC_OK) {
		if (rc != UC_E_NOTFOUND)
			return cli_fail(rc, "opening the CA home");
		cli_err("%s is not a CA home (%s); create one with 'userca "
		    "init --home %s ...', or point at it with --home DIR or "
		    "$USERCA_HOME", home, home_from, home);
		return EX_ERR;
	}
	authority_set_getpass(*a, cli_getpass, (void *)(uintptr_t)passfile);
	return EX_OK;
}

/* ---- dispatch -------------------------------------------------------------- */

static const struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*what;
} cmds[] = {
	{ "init", cmd_init, "create the root CA (and an issuing CA)" },
	{ "root", cmd_root,
	    "root sign-intermediate|renew|install: the root's side" },
	{ "intermediate", cmd_intermediate,
	    "intermediate request|install|rollover: the issuing CA's side" },
	{ "issue", cmd_issue, "issue a user certificate (CSR or PKCS#12)" },
	{ "batch", cmd_batch, "issue for every user in a CSV file" },
	{ "token", cmd_token, "a one-time enrollment URL for a user" },
	{ "renew", cmd_renew, "renew everyone whose certificate expires soon" },
	{ "notify", cmd_notify, "mail renewal links before certificates expire" },
	{ "issue-server", cmd_issue_server,
	    "the enrollment daemon's own TLS certificate" },
	{ "revoke", cmd_revoke, "revoke by serial or user; publishes a CRL" },
	{ "crl", cmd_crl, "re-sign and publish the CRLs" },
	{ "publish", cmd_publish, "write public/: CA bundle, CRLs, ca.json" },
	{ "list", cmd_list, "list certificates" },
	{ "export", cmd_export, "export a certificate (pem, der, iis-mapping)" },
	{ "log", cmd_log, "the audit log; --verify checks its hash chain" },
	{ "backup", cmd_backup, "an encrypted archive of the CA home; --verify" },
	{ "restore", cmd_restore, "a backup into an empty folder" },
};

static int
usage_all(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: userca COMMAND [options]   (userca COMMAND --help)\n"
	    "\nuserca is a per-user certificate authority: an offline root, "
	    "an issuing CA,\nper-user client certificates, CRLs and the "
	    "files gateways pin.\n\nCommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-13s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "\nExit status: 0 ok, 1 error, 2 usage, 3 partial "
	    "success.\n");
	return f == stdout ? EX_OK : EX_USAGE;
}

static int
unknown_cmd(const char *name)
{
	const char *names[sizeof(cmds) / sizeof(cmds[0]) + 1], *near;
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		names[i] = cmds[i].name;
	names[i] = NULL;
	near = closest(name, names);
	fprintf(stderr, "userca: unknown command '%s'", name);
	if (near != NULL)
		fprintf(stderr, "; did you mean '%s'?", near);
	fprintf(stderr, "\n(userca --help lists the commands)\n");
	return EX_USAGE;
}

/*
 * userca completion bash: the commands come from cmds[] above; each
 * command's flags from its own usage and help text ('userca help CMD'),
 * read when completing, so the script never lists a flag the command
 * does not print.
 */
static int
completion(int argc, char **argv)
{
	size_t i;

	if (argc != 3 || strcmp(argv[2], "bash") != 0) {
		fprintf(stderr, "userca: completion: %s%s%s\nusage: userca "
		    "completion bash   (e.g. source <(userca completion "
		    "bash))\n", argc < 3 ? "the shell is required" :
		    "unknown shell '", argc < 3 ? "" : argv[2],
		    argc < 3 ? "" : "': only bash");
		return EX_USAGE;
	}
	printf("# bash completion for userca: source <(userca completion "
	    "bash)\n"
	    "_userca_flags() {\n"
	    "\t# the usage lines and the option lines of the help\n"
	    "\t\"${COMP_WORDS[0]}\" help \"$1\" 2>/dev/null |\n"
	    "\t    awk 'NR == 1, /^$/ { print; next } /^  --/' |\n"
	    "\t    grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u\n"
	    "\techo --help\n"
	    "}\n"
	    "_userca() {\n"
	    "\tlocal cur=${COMP_WORDS[COMP_CWORD]} cmds='");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("%s ", cmds[i].name);
	printf("help completion'\n"
	    "\tCOMPREPLY=()\n"
	    "\tif [[ $COMP_CWORD -eq 1 ]]; then\n"
	    "\t\tCOMPREPLY=($(compgen -W \"$cmds --help --version\" -- "
	    "\"$cur\"))\n"
	    "\t\treturn 0\n"
	    "\tfi\n"
	    "\tcase ${COMP_WORDS[1]} in\n"
	    "\thelp) [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "
	    "\"$cmds\" -- \"$cur\")); return 0 ;;\n"
	    "\tcompletion) COMPREPLY=($(compgen -W bash -- \"$cur\")); "
	    "return 0 ;;\n"
	    "\tesac\n"
	    "\tif [[ $cur == -* ]]; then\n"
	    "\t\tCOMPREPLY=($(compgen -W \"$(_userca_flags "
	    "\"${COMP_WORDS[1]}\")\" -- \"$cur\"))\n"
	    "\telse\n"
	    "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	    "\tfi\n"
	    "\treturn 0\n"
	    "}\n"
	    "complete -o filenames -F _userca userca\n");
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	size_t i;
	int rc;

	umask(077);
	if (proc_nocore() != UC_OK) {
		fprintf(stderr, "userca: %s\n", uc_errmsg());
		return EX_ERR;
	}
	opterr = 0;
	if (argc < 2)
		return usage_all(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2))
		return usage_all(stdout);
	if (strcmp(argv[1], "--version") == 0) {
		printf("userca %s (%s)\n", uc_version(),
		    OpenSSL_version(OPENSSL_VERSION));
		return EX_OK;
	}
	if (strcmp(argv[1], "completion") == 0)
		return completion(argc, argv);
	/* "userca help CMD" is "userca CMD --help". */
	if (strcmp(argv[1], "help") == 0) {
		argv[1] = argv[2];
		argv[2] = (char *)(uintptr_t)"--help";
		argc = 3;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			cmdname = cmds[i].name;
			rc = cmds[i].fn(argc - 1, argv + 1);
			return rc;
		}
	}
	return unknown_cmd(argv[1]);
}
