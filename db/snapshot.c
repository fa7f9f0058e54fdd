/*
 * snapshot.c: sqlite3_backup_* into a new file, and integrity_check.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "snapshot.h"

static int
snap_err(sqlite3 *db, const char *path, int code)
{
	return uc_seterr(code, "%s: %s", path,
	    db != NULL ? sqlite3_errmsg(db) : "cannot open");
}

int
snapshot_take(const char *src, const char *dst)
{
	sqlite3 *sdb = NULL, *ddb = NULL;
	sqlite3_backup *bk = NULL;
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int fd, step, tries, rc = UC_E_DB;

	if (sqlite3_open_v2(src, &sdb, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		rc = snap_err(sdb, src, UC_E_NOTFOUND);
		goto out;
	}
	if (sqlite3_busy_timeout(sdb, 10000) != SQLITE_OK) {
		rc = snap_err(sdb, src, UC_E_DB);
		goto out;
	}
	/* Ours alone from the start: 0600, never someone else's file. */
	if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", dst, strerror(errno));
		goto out;
	}
	close(fd);
	if (sqlite3_open_v2(dst, &ddb, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		rc = snap_err(ddb, dst, UC_E_IO);
		goto out;
	}
	if ((bk = sqlite3_backup_init(ddb, "main", sdb, "main")) == NULL) {
		rc = snap_err(ddb, dst, UC_E_DB);
		goto out;
	}
	/*
	 * -1: every page in one step, under one read transaction.  A writer
	 * holding the database (rollback mode) makes it BUSY: try again.
	 */
	for (tries = 0; tries < 200; tries++) {
		step = sqlite3_backup_step(bk, -1);
		if (step != SQLITE_BUSY && step != SQLITE_LOCKED)
			break;
		nanosleep(&pause, NULL);
	}
	if (sqlite3_backup_finish(bk) != SQLITE_OK || step != SQLITE_DONE) {
		bk = NULL;
		rc = uc_seterr(UC_E_DB, "backup of %s: %s", src,
		    sqlite3_errstr(step == SQLITE_DONE ? sqlite3_errcode(ddb) :
		    step));
		goto out;
	}
	bk = NULL;
	/* The copy says WAL in its header, as the source does: one file. */
	if (sqlite3_exec(ddb, "PRAGMA journal_mode = DELETE", NULL, NULL,
	    NULL) != SQLITE_OK) {
		rc = snap_err(ddb, dst, UC_E_DB);
		goto out;
	}
	if (sqlite3_close(ddb) != SQLITE_OK) {
		rc = snap_err(ddb, dst, UC_E_DB);
		goto out;
	}
	ddb = NULL;
	rc = UC_OK;
out:
	if (bk != NULL)
		sqlite3_backup_finish(bk);
	sqlite3_close(ddb);
	sqlite3_close(sdb);
	return rc;
}

int
snapshot_check(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	const unsigned char *msg;
	int step, rc = UC_E_INVALID;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rc = snap_err(db, path, UC_E_INVALID);
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) !=
	    SQLITE_OK) {
		rc = snap_err(db, path, UC_E_INVALID);
		goto out;
	}
	step = sqlite3_step(s);
	if (step != SQLITE_ROW) {
		rc = snap_err(db, path, UC_E_INVALID);
		goto out;
	}
	msg = sqlite3_column_text(s, 0);
	if (msg == NULL || strcmp((const char *)msg, "ok") != 0) {
		rc = uc_seterr(UC_E_INVALID, "%s: integrity_check: %s", path,
		    msg != NULL ? (const char *)msg : "no answer");
		goto out;
	}
	rc = UC_OK;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}
