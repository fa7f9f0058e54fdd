/*
 * lock.c: advisory locks on a folder, so two runs of a command that writes
 * there never interleave.
 *
 * The lock is flock(2) on a file in the folder.  The kernel drops it when
 * the holder exits, however it exits, so a crash never leaves a stale
 * lock to take over.  The file itself is never unlinked: a process that
 * opened it just before the unlink would lock an inode nobody else sees.
 * It holds the holder's name and pid, for the message the next run prints.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

struct uc_lock {
	int	 fd;
};

/* The holder line of a lock file, printable, without its newline. */
static void
holder_read(int fd, char *buf, size_t len)
{
	ssize_t n;
	size_t i;

	buf[0] = '\0';
	if ((n = pread(fd, buf, len - 1, 0)) <= 0)
		return;
	buf[n] = '\0';
	for (i = 0; buf[i] != '\0'; i++) {
		if (buf[i] == '\n') {
			buf[i] = '\0';
			break;
		}
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = '?';
	}
}

int
uc_lock_take(const char *dir, const char *name, const char *what, int wait,
    struct uc_lock **out)
{
	struct uc_lock *l = NULL;
	struct stat sb;
	char *path = NULL, line[160];
	int fd = -1, n, rc;

	*out = NULL;
	if ((path = path_join(dir, name)) == NULL ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK, 0600)) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	/*
	 * Not a plain file, or a hard link to some other file: never write
	 * into it.  (Its owner may differ: the daemon's user and root share
	 * the home's publish lock.)
	 */
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_nlink != 1) {
		rc = uc_seterr(UC_E_STATE, "%s: not a lock file; remove it",
		    path);
		goto out;
	}
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			holder_read(fd, line, sizeof(line));
			rc = uc_seterr(UC_E_STATE, "%s is being written by %s; "
			    "wait for it to finish", dir, line[0] != '\0' ?
			    line : "another process");
		} else
			rc = uc_seterr(UC_E_IO, "%s: lock: %s", path,
			    strerror(errno));
		goto out;
	}
	n = snprintf(line, sizeof(line), "%s, pid %ld\n", what,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	/* The name is only for messages: failing to write it is harmless. */
	if (ftruncate(fd, 0) == 0 && n > 0 &&
	    pwrite(fd, line, (size_t)n, 0) != (ssize_t)n)
		n = 0;
	l->fd = fd;
	fd = -1;
	*out = l;
	l = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	if (fd != -1)
		close(fd);
	free(l);
	free(path);
	return rc;
}

void
uc_lock_release(struct uc_lock *l)
{
	if (l == NULL)
		return;
	/* Empty it first: a reader never names a holder that is gone. */
	if (ftruncate(l->fd, 0) == -1) {
		/* Harmless: the lock itself goes with the descriptor. */
	}
	close(l->fd);
	free(l);
}
