/*
 * cli.h: shared pieces of the userca command-line front door.
 */
#ifndef UC_CLI_H
#define UC_CLI_H

#include "authority.h"

void	cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "what: <error>: <detail>" and return exit status 1. */
int	cli_fail(int rc, const char *what);
/* Print a usage line and return exit status 2. */
int	cli_usage(const char *usage);
/* Print the command's help text and return 0. */
int	cli_help(const char *usage, const char *text);
const char *cli_home(const char *opt);
int	cli_read_secret_file(const char *path, char **out);
int	cli_getpass(void *arg, int confirm, char **pass);
/* Open the home with the passphrase source set; exit status. */
int	cli_open(const char *home, const char *passfile, struct authority **a);

int	cmd_init(int, char **);
int	cmd_root(int, char **);
int	cmd_intermediate(int, char **);
int	cmd_issue(int, char **);
int	cmd_revoke(int, char **);
int	cmd_crl(int, char **);
int	cmd_publish(int, char **);
int	cmd_list(int, char **);
int	cmd_export(int, char **);
int	cmd_batch(int, char **);
int	cmd_token(int, char **);
int	cmd_issue_server(int, char **);

#endif /* UC_CLI_H */
