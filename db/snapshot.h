/*
 * snapshot.h: a consistent copy of a live database and its integrity
 * check, for backups (ca/authority/backup.c).  Each function opens its own
 * connection; neither needs the store's.
 *
 * Every function returns UC_OK or a negative UC_E_* code with the detail
 * set (uc_err.h).
 */
#ifndef UC_SNAPSHOT_H
#define UC_SNAPSHOT_H

#include "uc_err.h"

/*
 * Copy the database at src (which must exist) into dst, a new file
 * (created 0600, exclusively), through SQLite's online backup API in one
 * step: one read transaction, so dst is the state of one commit even
 * while a daemon and batches write (WAL readers do not block them).  dst
 * is left in rollback-journal mode, one self-contained file.
 */
int	snapshot_take(const char *src, const char *dst);

/*
 * PRAGMA integrity_check on the database file at path, opened read-only:
 * UC_OK for "ok", UC_E_INVALID naming the first problem otherwise (or
 * when path is not a database at all).
 */
int	snapshot_check(const char *path);

#endif /* UC_SNAPSHOT_H */
