/*
 * cli.h: shared pieces of the userca command-line front door.
 */
#ifndef UC_CLI_H
#define UC_CLI_H

#include <getopt.h>

#include <jansson.h>

#include "authority.h"

/* getopt_long's option string for every command: -h, errors are ours. */
#define CLI_OPTS	":h"

void	cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "what: <error>: <detail>" and return exit status 1. */
int	cli_fail(int rc, const char *what);
/* Print a usage line and return exit status 2. */
int	cli_usage(const char *usage);
/* "CMD: WHAT is required", the usage line; exit status 2. */
int	cli_required(const char *what, const char *usage);
/* "CMD: FLAG 'VAL': HINT", the usage line; exit status 2. */
int	cli_badval(const char *flag, const char *val, const char *hint,
	    const char *usage);
/*
 * getopt_long returned '?' or ':' (c): name the option, suggest the
 * closest of lo; exit status 2.
 */
int	cli_badopt(int c, char **argv, const struct option *lo,
	    const char *usage);
/* Print the command's help text, then the examples; return 0. */
int	cli_help(const char *usage, const char *examples, const char *text);
/* Print j (taken) on stdout; exit status. */
int	cli_json_print(json_t *j);
/* Ask yes/no on the terminal; 0 without one. */
int	cli_confirm(const char *question);
/*
 * 0 when path (flag names it in messages) may be written: it does not
 * exist (or force) and its folder is writable; else says why, returns 1.
 */
int	cli_out_preflight(const char *flag, const char *path, int force);
const char *cli_home(const char *opt);
int	cli_read_secret_file(const char *path, char **out);
int	cli_getpass(void *arg, int confirm, char **pass);
/* Open the home with the passphrase source set; exit status. */
int	cli_open(const char *home, const char *passfile, struct authority **a);

int	cmd_init(int, char **);
int	cmd_root(int, char **);
/* cmd_rollover.c: intermediate rollover; root renew and root install
 * (argv[0] is the subcommand). */
int	cmd_rollover(int, char **);
int	cmd_root_renew(int, char **);
int	cmd_intermediate(int, char **);
int	cmd_issue(int, char **);
int	cmd_revoke(int, char **);
int	cmd_crl(int, char **);
int	cmd_publish(int, char **);
int	cmd_list(int, char **);
int	cmd_export(int, char **);
int	cmd_batch(int, char **);
int	cmd_token(int, char **);
int	cmd_renew(int, char **);
int	cmd_notify(int, char **);
int	cmd_issue_server(int, char **);
int	cmd_log(int, char **);
int	cmd_backup(int, char **);
int	cmd_restore(int, char **);

#endif /* UC_CLI_H */
