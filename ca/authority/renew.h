/*
 * renew.h: renewal before expiry (userca renew) and reminders (userca
 * notify).  Settings come from userca.conf [renew]; the options here
 * override them for one run.
 *
 * A user is due when their newest valid certificate expires within the
 * window and nothing superseded it yet (store_due_list): revoked users
 * are never due, and a renewed lineage is not due again.
 */
#ifndef UC_RENEW_H
#define UC_RENEW_H

#include "authority.h"
#include "batch.h"

struct renew_opts {
	int		 window;	/* seconds; 0: [renew] window */
	const char	*out;		/* output folder (batch.h's layout) */
	int		 jobs;
	enum p12_format	 format;
	int		 tokens;	/* renewal links, not PKCS#12 */
	int		 revoke_old;	/* -1: [renew] revoke_old */
	int		 dry_run;
	/* As in struct batch_opts; line is the user's row in the run. */
	void		(*on_error)(void *arg, long line, const char *msg);
	void		(*on_progress)(void *arg, long done, long total);
	void		*arg;
};

/*
 * Renew every due user through the batch machinery (journal, resume,
 * manifest, folder lock, workers): a new PKCS#12 or a renewal link (valid
 * until the old certificate expires, once) each.  Email, UPN, name, OU,
 * SID and S/MIME are the user's as recorded and certified.  The new
 * certificate supersedes the old (superseded_by), which stays valid
 * unless revoke_old.  stats as authority_batch's (rows: users due).
 */
int	authority_renew(struct authority *, const struct renew_opts *,
	    struct batch_stats *);

struct notify_opts {
	int		 window;	/* seconds; 0: [renew] window */
	const char	*sendmail;	/* NULL: [renew] sendmail, else
					 * /usr/sbin/sendmail */
	const char	*template_path;	/* NULL: the built-in message */
	const char	*admin;		/* NULL: [renew] admin; "" none */
	int		 dry_run;
	int		 revoke_old;	/* -1: [renew] revoke_old; 1: the
					 * link revokes the old certificate
					 * when redeemed; 0: it keeps it */
	/* Called for each user mailed (or, dry run, to be mailed). */
	void		(*on_user)(void *arg, const char *username,
			    const char *email, int64_t not_after);
	void		(*on_error)(void *arg, const char *username,
			    const char *msg);
	void		*arg;
};

struct notify_stats {
	long	due;		/* users due in the window */
	long	mailed;		/* mailed now (dry run: would be) */
	long	already;	/* mailed before for this certificate and
				 * threshold */
	long	failed;		/* no address, or the mailer failed */
	int	admin_mailed;	/* the summary went out */
};

/*
 * Mail each due user a renewal link (a new token, valid until the
 * certificate expires) and the date, once per certificate and threshold
 * (the window in days; table reminders); then the admin a summary when
 * anyone was mailed or the mailer refused someone (users without an
 * address alone do not make a summary: they are listed when one goes).
 * Messages go to "SENDMAIL -t -oi" on stdin.  UC_OK unless something stops the run (stats->failed counts
 * users who were not mailed; they are tried again next run).
 */
int	authority_notify(struct authority *, const struct notify_opts *,
	    struct notify_stats *);

/*
 * Check a template: UC_E_INVALID naming the problem (no Subject: line,
 * no blank line before the body, a header other than Subject).
 */
int	notify_template_check(const char *path);

/*
 * How many users are due within seconds from now and not renewed (for
 * /metrics): *n.  Reads on the daemon's reading connection.
 */
int	authority_due_count(struct authority *, int seconds, long *n);

#endif /* UC_RENEW_H */
