/*
 * stage.c: a CA home built out of place.  init and intermediate install
 * write everything into a staging folder, open it as a CA home, and only
 * then move it into the home, so a run that fails or is killed half-way
 * never leaves a half home that the next run refuses.  A staging folder is
 * flock'd while its run lives: the next run removes the ones nobody holds
 * (a killed run's).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authority_int.h"
#include "ucbuf.h"

#define STAGE_MAXFILES	256
/* In a home a merge moves files into: the names it moves (stage_merge). */
#define STAGE_JOURNAL	".userca-merge"

/*
 * Remove the staging folders under dir named prefix* that are ours (this
 * user's, not symlinks) and that nobody holds.
 */
static void
stage_sweep(const char *dir, const char *prefix)
{
	struct dirent *e;
	struct stat sb;
	char p[PATH_MAX];
	DIR *d;
	int fd;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    (size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >=
		    sizeof(p))
			continue;
		if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1)
			continue;
		if (fstat(fd, &sb) == 0 && sb.st_uid == geteuid() &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0)
			dir_rmtree(p);
		close(fd);
	}
	closedir(d);
}

/* 1 if home (sb) is an empty folder on the same filesystem as parent. */
static int
stage_replaceable(const char *parent, const char *home, const struct stat *sb)
{
	struct dirent *e;
	struct stat psb;
	DIR *d;
	int empty = 1;

	if (stat(parent, &psb) == -1 || psb.st_dev != sb->st_dev ||
	    (d = opendir(home)) == NULL)
		return 0;
	while (empty && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

int
stage_open(struct stage *s, const char *home, const char *what, int inside)
{
	char name[NAME_MAX + 1], prefix[NAME_MAX + 1];
	struct stat sb;
	int rc, w;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if ((rc = path_split(home, s->parent, sizeof(s->parent), name,
	    sizeof(name))) != UC_OK)
		return rc;
	if ((size_t)snprintf(s->home, sizeof(s->home), "%s", home) >=
	    sizeof(s->home))
		return uc_seterr(UC_E_INVALID, "%s: path too long", home);
	/*
	 * Beside the home when it is new or an empty folder (not a mount
	 * point): then one rename puts it in place.
	 */
	if (lstat(home, &sb) == -1) {
		if (errno != ENOENT)
			return uc_seterr(UC_E_IO, "%s: %s", home,
			    strerror(errno));
		s->beside = !inside;
	} else if (!S_ISDIR(sb.st_mode))
		return uc_seterr(UC_E_EXISTS, "%s exists and is not a folder",
		    home);
	else if (!inside && stage_replaceable(s->parent, home, &sb)) {
		s->beside = 1;
		s->replace = 1;
		s->mode = sb.st_mode & 07777;
		s->uid = sb.st_uid;
		s->gid = sb.st_gid;
	}
	if (s->beside) {
		if ((rc = dir_make(s->parent, 0755)) != UC_OK)
			return rc;
		snprintf(prefix, sizeof(prefix), ".%.200s.%s-", name, what);
		stage_sweep(s->parent, prefix);
		w = snprintf(s->path, sizeof(s->path), "%s/%sXXXXXX",
		    s->parent, prefix);
	} else {
		snprintf(prefix, sizeof(prefix), ".%s-", what);
		stage_sweep(home, prefix);
		w = snprintf(s->path, sizeof(s->path), "%s/%sXXXXXX", home,
		    prefix);
	}
	if (w < 0 || (size_t)w >= sizeof(s->path))
		return uc_seterr(UC_E_INVALID, "%s: path too long", home);
	if (mkdtemp(s->path) == NULL) {
		rc = uc_seterr(UC_E_IO, "%s: %s", s->path, strerror(errno));
		s->path[0] = '\0';	/* nothing made: nothing to remove */
		return rc;
	}
	if ((s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || flock(s->fd, LOCK_EX | LOCK_NB) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", s->path, strerror(errno));
		stage_abort(s);
		return rc;
	}
	return UC_OK;
}

void
stage_abort(struct stage *s)
{
	if (s->path[0] != '\0')
		dir_rmtree(s->path);
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->path[0] = '\0';
}

int
stage_link(struct stage *s, const char *rel)
{
	char src[PATH_MAX], dst[PATH_MAX];

	if ((size_t)snprintf(src, sizeof(src), "%s/%s", s->home, rel) >=
	    sizeof(src) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", s->path, rel) >=
	    sizeof(dst))
		return uc_seterr(UC_E_INVALID, "%s: path too long", rel);
	if (link(src, dst) == -1)
		return uc_seterr(errno == ENOENT ? UC_E_NOTFOUND : UC_E_IO,
		    "%s: %s", src, strerror(errno));
	return UC_OK;
}

/* The files under s->path/rel (relative names), folders first made in home. */
static int
stage_list(struct stage *s, const char *rel, char **files, size_t *n)
{
	char src[PATH_MAX], dst[PATH_MAX], sub[PATH_MAX];
	struct dirent *e;
	struct stat sb;
	DIR *d;
	int rc = UC_OK;

	if ((size_t)snprintf(src, sizeof(src), "%s%s%s", s->path, *rel ?
	    "/" : "", rel) >= sizeof(src))
		return uc_seterr(UC_E_INVALID, "%s: path too long", rel);
	if ((d = opendir(src)) == NULL)
		return uc_seterr(UC_E_IO, "%s: %s", src, strerror(errno));
	while (rc == UC_OK && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel,
		    *rel ? "/" : "", e->d_name) >= sizeof(sub) ||
		    (size_t)snprintf(src, sizeof(src), "%s/%s", s->path, sub) >=
		    sizeof(src) ||
		    (size_t)snprintf(dst, sizeof(dst), "%s/%s", s->home, sub) >=
		    sizeof(dst)) {
			rc = uc_seterr(UC_E_INVALID, "%s: path too long", sub);
			break;
		}
		if (lstat(src, &sb) == -1) {
			rc = uc_seterr(UC_E_IO, "%s: %s", src, strerror(errno));
			break;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (mkdir(dst, sb.st_mode & 07777) == -1 &&
			    errno != EEXIST)
				rc = uc_seterr(UC_E_IO, "%s: %s", dst,
				    strerror(errno));
			else if (chmod(dst, sb.st_mode & 07777) == -1)
				rc = uc_seterr(UC_E_IO, "%s: %s", dst,
				    strerror(errno));
			else
				rc = stage_list(s, sub, files, n);
		} else if (*n == STAGE_MAXFILES)
			rc = uc_seterr(UC_E_INTERNAL, "%s: too many files",
			    s->path);
		else if ((files[(*n)++] = strdup(sub)) == NULL)
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	closedir(d);
	return rc;
}

/* Move stage/rel to home/rel (back: the other way). */
static int
stage_move(struct stage *s, const char *rel, int back, int replace)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat a, b;

	if ((size_t)snprintf(src, sizeof(src), "%s/%s", back ? s->home :
	    s->path, rel) >= sizeof(src) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", back ? s->path :
	    s->home, rel) >= sizeof(dst))
		return uc_seterr(UC_E_INVALID, "%s: path too long", rel);
	if (lstat(dst, &b) == 0) {
		/* A file linked into the stage from the home: already there. */
		if (lstat(src, &a) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return UC_OK;
		if (!replace && !back)
			return uc_seterr(UC_E_EXISTS, "%s exists; refusing to "
			    "overwrite it", dst);
	}
	if (rename(src, dst) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", dst, strerror(errno));
	return UC_OK;
}

/* fsync home/rel's folder. */
static int
stage_fsync_dir_of(const char *home, const char *rel)
{
	char p[PATH_MAX];
	const char *slash = strrchr(rel, '/');

	if ((size_t)snprintf(p, sizeof(p), "%s/%.*s", home, slash != NULL ?
	    (int)(slash - rel) : 0, rel) >= sizeof(p))
		return uc_seterr(UC_E_INVALID, "%s: path too long", rel);
	return dir_fsync(p);
}

/*
 * home/.userca-merge: the files (names, one a line) a merge is about to
 * move in that were not there already, synced before the first move, so
 * that a run killed half-way is undone by the next (stage_recover()).
 */
static int
stage_journal(struct stage *s, char **files, size_t n)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat a, c;
	size_t i;
	int rc = UC_OK;

	for (i = 0; i < n && rc == UC_OK; i++) {
		if ((size_t)snprintf(src, sizeof(src), "%s/%s", s->path,
		    files[i]) >= sizeof(src) ||
		    (size_t)snprintf(dst, sizeof(dst), "%s/%s", s->home,
		    files[i]) >= sizeof(dst)) {
			rc = uc_seterr(UC_E_INVALID, "%s: path too long",
			    files[i]);
			break;
		}
		/* Linked in from the home (install): not ours to undo. */
		if (lstat(dst, &c) == 0 && lstat(src, &a) == 0 &&
		    a.st_dev == c.st_dev && a.st_ino == c.st_ino)
			continue;
		rc = ucbuf_printf(&b, "%s\n", files[i]);
	}
	if (rc == UC_OK)
		rc = home_write(s->home, STAGE_JOURNAL, (unsigned char *)b.p,
		    ucbuf_len(&b), 0600, 0);
	if (rc == UC_OK)
		rc = dir_fsync(s->home);
	ucbuf_free(&b);
	return rc;
}

/* A journal name: relative, no "..", no empty part. */
static int
stage_name_ok(const char *n)
{
	const char *p;

	if (*n == '\0' || *n == '/' || strstr(n, "//") != NULL)
		return 0;
	for (p = n; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return 0;
	}
	return 1;
}

int
stage_recover(const char *home, const char *last)
{
	char p[PATH_MAX], line[PATH_MAX];
	struct stat sb;
	size_t len;
	FILE *f;
	int fd, rc = UC_OK;

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", home, STAGE_JOURNAL) >=
	    sizeof(p))
		return uc_seterr(UC_E_INVALID, "%s: path too long", home);
	if ((fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? UC_OK : uc_seterr(UC_E_IO, "%s: %s",
		    p, strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return uc_seterr(UC_E_STATE, "%s is not a journal of ours; "
		    "remove it by hand", p);
	}
	/* last moved in last: present, the merge had finished its moves. */
	if (!home_has(home, last))
		while (rc == UC_OK && fgets(line, sizeof(line), f) != NULL) {
			if ((len = strlen(line)) > 0 && line[len - 1] == '\n')
				line[--len] = '\0';
			if (!stage_name_ok(line) ||
			    (size_t)snprintf(p, sizeof(p), "%s/%s", home,
			    line) >= sizeof(p))
				rc = uc_seterr(UC_E_STATE, "%s/%s: a bad name "
				    "'%.60s'", home, STAGE_JOURNAL, line);
			else if (unlink(p) == -1 && errno != ENOENT)
				rc = uc_seterr(UC_E_IO, "%s: %s", p,
				    strerror(errno));
		}
	fclose(f);
	if (rc != UC_OK)
		return rc;
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", home, STAGE_JOURNAL) >=
	    sizeof(p) || unlink(p) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", p, strerror(errno));
	return dir_fsync(home);
}

/*
 * Into the home that existed: file by file, last (the file whose presence
 * says the home is complete) last; moved back when one fails.  Ends the
 * stage when all moved.
 */
static int
stage_merge(struct stage *s, const char *last, int replace)
{
	char *files[STAGE_MAXFILES];
	size_t n = 0, i, done = 0;
	int rc;

	if ((rc = stage_list(s, "", files, &n)) != UC_OK)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(files[i], last) == 0 && i != n - 1) {
			char *t = files[i];

			files[i] = files[n - 1];
			files[n - 1] = t;
			break;
		}
	if ((rc = stage_journal(s, files, n)) != UC_OK)
		goto out;
	for (done = 0; done < n; done++)
		if ((rc = stage_move(s, files[done], 0, replace)) != UC_OK)
			break;
	if (rc != UC_OK) {
		while (done-- > 0)
			(void)stage_move(s, files[done], 1, 1);
		(void)stage_recover(s->home, last);
		goto out;
	}
	/* The stage goes first: a run killed now has left a whole home. */
	stage_abort(s);
	for (i = 0; i < n && rc == UC_OK; i++)
		rc = stage_fsync_dir_of(s->home, files[i]);
	if (rc == UC_OK)
		rc = dir_fsync(s->home);
	/* Everything is in and synced: the journal has done its job. */
	if (rc == UC_OK)
		rc = stage_recover(s->home, last);
out:
	for (i = 0; i < n; i++)
		free(files[i]);
	return rc;
}

int
stage_commit(struct stage *s, const char *last, int replace)
{
	int rc;

	if ((rc = dir_fsync(s->path)) != UC_OK)
		goto out;
	if (!s->beside) {
		rc = stage_merge(s, last, replace);
		goto out;
	}
	/* An empty folder it replaces keeps its mode and owner. */
	if (s->replace && (chmod(s->path, s->mode) == -1 || (geteuid() == 0 &&
	    chown(s->path, s->uid, s->gid) == -1))) {
		rc = uc_seterr(UC_E_IO, "%s: %s", s->path, strerror(errno));
		goto out;
	}
	if (rename(s->path, s->home) == -1) {
		rc = uc_seterr(errno == ENOTEMPTY || errno == EEXIST ?
		    UC_E_EXISTS : UC_E_IO, "%s: %s", s->home, strerror(errno));
		goto out;
	}
	s->path[0] = '\0';	/* it is the home now */
	rc = dir_fsync(s->parent);
out:
	stage_abort(s);
	return rc;
}
