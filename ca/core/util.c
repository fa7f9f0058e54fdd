/*
 * util.c: atomic files, hex, secret wiping.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core.h"

int
file_read(const char *path, size_t max, unsigned char **buf, size_t *len)
{
	unsigned char *b = NULL;
	struct stat sb;
	size_t have = 0;
	ssize_t n;
	int fd, rc = UC_E_IO;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return uc_seterr(errno == ENOENT ? UC_E_NOTFOUND : UC_E_IO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = uc_seterr(UC_E_INVALID, "%s: is a directory", path);
		goto out;
	}
	if ((b = malloc(max + 1)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	/* Read up to max + 1 so an oversized file is told, not truncated. */
	while (have <= max) {
		n = read(fd, b + have, max + 1 - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = uc_seterr(UC_E_IO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > max) {
		rc = uc_seterr(UC_E_INVALID, "%s: larger than %zu bytes",
		    path, max);
		goto out;
	}
	*buf = b;
	*len = have;
	b = NULL;	/* now owned by the caller */
	rc = UC_OK;
out:
	if (b != NULL)
		secret_free_buf(b, max + 1);
	close(fd);
	return rc;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash;
	int fd;

	if ((slash = strrchr(path, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
}

int
afile_open(struct afile *f, const char *path, mode_t mode)
{
	unsigned char rnd[8];
	char *hex = NULL;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    (hex = hex_encode(rnd, sizeof(rnd))) == NULL)
		return uc_seterr_ssl(UC_E_INTERNAL, "random temp name");
	if ((size_t)snprintf(f->tmp, sizeof(f->tmp), "%s.tmp-%s", path, hex) >=
	    sizeof(f->tmp) || (size_t)snprintf(f->path, sizeof(f->path), "%s",
	    path) >= sizeof(f->path)) {
		free(hex);
		f->tmp[0] = '\0';	/* nothing of ours to unlink */
		return uc_seterr(UC_E_INVALID, "%s: path too long", path);
	}
	free(hex);
	if ((f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) == -1) {
		int rc = uc_seterr(UC_E_IO, "%s: %s", f->tmp, strerror(errno));

		f->tmp[0] = '\0';	/* not ours: never unlink it */
		return rc;
	}
	if (fchmod(f->fd, mode) == -1) {
		int rc = uc_seterr(UC_E_IO, "%s: %s", f->tmp, strerror(errno));

		afile_abort(f);
		return rc;
	}
	return UC_OK;
}

int
afile_write(struct afile *f, const void *buf, size_t len)
{
	int rc;

	if (write_all(f->fd, buf, len) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", f->tmp, strerror(errno));
		afile_abort(f);
		return rc;
	}
	return UC_OK;
}

int
afile_commit(struct afile *f)
{
	int rc;

	if (fsync(f->fd) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", f->tmp, strerror(errno));
		afile_abort(f);
		return rc;
	}
	if (close(f->fd) == -1) {
		f->fd = -1;
		rc = uc_seterr(UC_E_IO, "%s: %s", f->tmp, strerror(errno));
		afile_abort(f);
		return rc;
	}
	f->fd = -1;
	if (rename(f->tmp, f->path) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", f->path, strerror(errno));
		afile_abort(f);
		return rc;
	}
	f->tmp[0] = '\0';
	fsync_dir_of(f->path);
	return UC_OK;
}

void
afile_abort(struct afile *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	if (f->tmp[0] != '\0')
		(void)unlink(f->tmp);
	f->tmp[0] = '\0';
}

int
file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct afile f;
	int rc;

	if ((rc = afile_open(&f, path, mode)) != UC_OK ||
	    (rc = afile_write(&f, buf, len)) != UC_OK)
		return rc;
	return afile_commit(&f);
}

int
file_write_excl(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd, rc;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) == -1)
		return uc_seterr(errno == EEXIST ? UC_E_EXISTS : UC_E_IO,
		    "%s: %s", path, strerror(errno));
	if (fchmod(fd, mode) == -1 || write_all(fd, buf, len) == -1 ||
	    fsync(fd) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
		close(fd);
		(void)unlink(path);
		return rc;
	}
	if (close(fd) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
		(void)unlink(path);
		return rc;
	}
	fsync_dir_of(path);
	return UC_OK;
}

int
dir_fsync(const char *path)
{
	int fd, rc = UC_OK;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
	if (fsync(fd) == -1)
		rc = uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

void
dir_rmtree(const char *path)
{
	struct dirent *e;
	struct stat sb;
	char child[PATH_MAX];
	DIR *d;

	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(child, sizeof(child), "%s/%s",
			    path, e->d_name) >= sizeof(child))
				continue;
			if (lstat(child, &sb) == 0 && S_ISDIR(sb.st_mode))
				dir_rmtree(child);
			else
				(void)unlink(child);
		}
		closedir(d);
	}
	(void)rmdir(path);
}

int
path_split(const char *path, char *parent, size_t plen, char *name,
    size_t nlen)
{
	char h[PATH_MAX], *slash, *last;
	size_t n;
	int w;

	if ((size_t)snprintf(h, sizeof(h), "%s", path) >= sizeof(h))
		return uc_seterr(UC_E_INVALID, "%s: path too long", path);
	for (n = strlen(h); n > 1 && h[n - 1] == '/'; n--)
		h[n - 1] = '\0';
	if ((slash = strrchr(h, '/')) == NULL) {
		w = snprintf(parent, plen, ".");
		last = h;
	} else {
		w = slash == h ? snprintf(parent, plen, "/") :
		    snprintf(parent, plen, "%.*s", (int)(slash - h), h);
		last = slash + 1;
	}
	if (w < 0 || (size_t)w >= plen)
		return uc_seterr(UC_E_INVALID, "%s: path too long", path);
	if (*last == '\0' || strcmp(last, ".") == 0 || strcmp(last, "..") == 0)
		return uc_seterr(UC_E_INVALID, "%s: name a new folder", path);
	if ((size_t)snprintf(name, nlen, "%s", last) >= nlen)
		return uc_seterr(UC_E_INVALID, "%s: path too long", path);
	return UC_OK;
}

int
dir_make(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return uc_seterr(UC_E_INVALID, "%s: path too long", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return uc_seterr(UC_E_IO, "%s: %s", buf,
			    strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, mode) == -1) {
		if (errno != EEXIST)
			return uc_seterr(UC_E_IO, "%s: %s", buf,
			    strerror(errno));
		return UC_OK;
	}
	/* mkdir(2) honours the umask; a new folder gets exactly mode. */
	if (chmod(buf, mode) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", buf, strerror(errno));
	return UC_OK;
}

int
path_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

char *
path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p;

	if ((p = malloc(len)) == NULL)
		return NULL;
	snprintf(p, len, "%s/%s", dir, name);
	return p;
}

char *
hex_encode(const unsigned char *buf, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	char *s;
	size_t i;

	if ((s = malloc(len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[buf[i] >> 4];
		s[2 * i + 1] = digits[buf[i] & 0xf];
	}
	s[len * 2] = '\0';
	return s;
}

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
secret_free_buf(unsigned char *b, size_t len)
{
	if (b == NULL)
		return;
	OPENSSL_cleanse(b, len);
	free(b);
}

int
parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max ||
	    v < INT_MIN || v > INT_MAX)
		return 0;
	*out = (int)v;
	return 1;
}

int
parse_duration(const char *s, int *seconds)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0 || v > 3650LL * 86400)
		return 0;
	switch (*end) {
	case 'd': v *= 86400; end++; break;
	case 'h': v *= 3600; end++; break;
	case 'm': v *= 60; end++; break;
	case 's': end++; break;
	default: break;
	}
	if (*end != '\0' || v > 3650LL * 86400)
		return 0;
	*seconds = (int)v;
	return 1;
}

/*
 * Keys and passwords live in this process's memory: no core file may
 * carry them to disk, and no other process of the same user may attach.
 * LeakSanitizer stops the world through ptrace, so sanitizer builds keep
 * the process dumpable (they still get no core file).
 */
int
proc_nocore(void)
{
	struct rlimit rl = { 0, 0 };
	int rc = UC_OK;

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		rc = uc_seterr(UC_E_INTERNAL, "setrlimit(RLIMIT_CORE): %s",
		    strerror(errno));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && \
    !defined(USERCA_SANITIZE)
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		rc = uc_seterr(UC_E_INTERNAL, "prctl(PR_SET_DUMPABLE): %s",
		    strerror(errno));
#endif
	return rc;
}
