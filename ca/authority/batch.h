/*
 * batch.h: issuing for a whole CSV of users, resumably and in parallel.
 *
 * Output folder:
 *   <username>.p12          one per user (0600), only ever for a committed
 *                           certificate row
 *   manifest.csv            username, email, serial, not_after, p12_file,
 *                           password, enroll_url, token_expires (0600,
 *                           replaced atomically, spreadsheet-safe)
 *   .userca-batch.journal   append-only record of what each run made,
 *                           written and synced before the rows commit, so
 *                           a killed run loses no password (0600)
 *   .partial/               bundles written before their rows commit;
 *                           moved into place or deleted on the next run
 */
#ifndef UC_BATCH_H
#define UC_BATCH_H

#include "authority.h"

struct batch_opts {
	const char	*csv;		/* path of the users CSV */
	const char	*csv_name;	/* name used in messages */
	const char	*out;		/* output folder */
	int		 jobs;		/* worker threads */
	enum p12_format	 format;	/* unless the row says otherwise */
	int		 tokens;	/* enrollment tokens, not PKCS#12 */
	int		 reissue;	/* replace valid certificates */
	int		 dry_run;
	int		 days;		/* 0: conf */
	int		 ttl;		/* token lifetime, 0: conf */
	int		 smime;		/* S/MIME unless the row says no */
	/* How the CSV is written (authority_batch_check() says if valid). */
	const char	*delimiter;	/* ",", ";", "tab", "|"; NULL: "," */
	const char	*encoding;	/* "cp1252", "utf-8"; NULL: UTF-8 */
	const char	*map;		/* "username=SamAccountName,..."; NULL:
					 * the header names our columns */
	/*
	 * renew (renew.c): not 0, only users whose newest certificate is
	 * due before this are issued, the new one superseding it (with
	 * revoke_old, revoking it); a link lives until it expires.
	 */
	int64_t		 renew_until;
	int		 revoke_old;
	/* Called from the calling thread only. */
	void		(*on_error)(void *arg, long line, const char *msg);
	void		(*on_progress)(void *arg, long done, long total);
	void		*arg;
};

struct batch_stats {
	long	rows;		/* data rows in the file */
	long	issued;		/* certificates or tokens made now */
	long	skipped;	/* already had a certificate / token */
	long	failed;		/* bad rows, duplicates, issuance errors */
	long	superseded;	/* old certificates revoked by --reissue */
	long	changed;	/* not issued: the row's email or UPN is not
				 * what the user's certificate carries */
};

/*
 * UC_OK when o's delimiter, encoding and map are valid; else UC_E_INVALID
 * with the detail, *flag naming the option ("--map", ...).
 */
int	authority_batch_check(const struct batch_opts *, const char **flag);

/*
 * Run the batch.  UC_OK when the file was read to the end (rows may have
 * failed: see stats->failed); an error for what stops everything (no
 * header, unreadable file, database failure).
 */
int	authority_batch(struct authority *, const struct batch_opts *,
	    struct batch_stats *);

#endif /* UC_BATCH_H */
