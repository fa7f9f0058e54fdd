/*
 * backup.h: backup, verify and restore of a CA home (README.md "Backup
 * and restore").  An archive is one file sealed under a passphrase
 * (pki_seal.h); inside, a JSON manifest (every member's path, mode, size
 * and SHA-256) and then the members, in the manifest's order.
 *
 * Every function returns UC_OK or a negative UC_E_* code with the detail
 * set (uc_err.h).  The passphrase is borrowed: the caller wipes it.
 */
#ifndef UC_BACKUP_H
#define UC_BACKUP_H

#include <stddef.h>
#include <stdint.h>

/* What an archive holds (filled by each function on success). */
struct backup_info {
	size_t		 members;	/* files, the database included */
	uint64_t	 bytes;		/* their sizes added up */
	int		 root_key;	/* root/root.key is one of them */
	int		 ocsp_key;	/* issuing/ocsp.key is one of them */
	char		 created[32];	/* when it was made, ISO 8601 UTC */
	char		 version[32];	/* the userca that made it */
};

/*
 * Archive the CA home at home into out (0600, replaced atomically; an
 * existing out is refused with UC_E_EXISTS unless force).  The database
 * is copied through SQLite's online backup API, so the archive is
 * consistent while a daemon or a batch writes; the files are read under
 * the home's publish lock first, so the database is never older than the
 * CRLs beside it.  root/root.key only with include_root (UC_E_NOTFOUND
 * when asked for and absent).
 */
int	backup_create(const char *home, const char *out, int include_root,
	    int force, const char *pass, struct backup_info *info);

/*
 * Open the archive at file and check everything restore would: the seal
 * (UC_E_PASSPHRASE: wrong passphrase or a changed byte; UC_E_INVALID: not
 * an archive, truncated), the manifest, every member's size and SHA-256,
 * and PRAGMA integrity_check on a private temporary copy of the
 * database.  Writes nothing that outlives the call.
 */
int	backup_verify(const char *file, const char *pass,
	    struct backup_info *info);

/*
 * Restore the archive at file into home, which must not exist or be an
 * empty folder (UC_E_EXISTS otherwise).  Everything is checked as
 * backup_verify() does before anything is written; the files go to a
 * private folder beside home, the database there is checked again and
 * the home is opened once, and only then is that folder renamed to home.
 * On failure nothing is left behind.
 */
int	backup_restore(const char *file, const char *pass, const char *home,
	    struct backup_info *info);

#endif /* UC_BACKUP_H */
