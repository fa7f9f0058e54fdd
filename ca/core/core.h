/*
 * core.h: what every layer of userca may use: the one clock, atomic
 * files, the lock file, number parsing, hex, secret wiping.  (Errors are
 * in uc_err.h, growable buffers in ucbuf.h.)
 *
 * No OpenSSL objects cross this header and nothing here knows SQLite,
 * HTTP or certificates.  Every int-returning function returns UC_OK or a
 * negative UC_E_* code with the detail set (uc_err.h).
 */
#ifndef UC_CORE_H
#define UC_CORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uc_err.h"

/* ---- clock.c: the one clock, injectable for tests ------------------------ */

/*
 * Seconds since the epoch.  Reads the hook set by uc_clock_set() if any,
 * else $USERCA_NOW (a test hook: Unix seconds; only in builds configured
 * with USERCA_TEST_CLOCK), else time(2).
 */
int64_t		 uc_now(void);
void		 uc_clock_set(int64_t (*fn)(void));
/* Seconds on the monotonic clock, for measuring durations (never hooked). */
double		 uc_mono(void);
/* Unix seconds to "2026-11-22T00:00:00Z" into buf (at least 21 bytes). */
void		 uc_time_iso(int64_t t, char *buf, size_t len);

/* ---- digest.c ------------------------------------------------------------ */

#define UC_SHA256_LEN	32
/* SHA-256 of buf into out (UC_E_CRYPTO if libcrypto fails). */
int		 uc_sha256(const void *buf, size_t len,
		    unsigned char out[UC_SHA256_LEN]);

/* ---- version.c ----------------------------------------------------------- */

/* "0.1.0": the project VERSION in CMakeLists.txt; static storage. */
const char	*uc_version(void);

/* ---- util.c: files, numbers, hex, secrets --------------------------------- */

/* Read at most max bytes of path into a new buffer (caller frees). */
int		 file_read(const char *path, size_t max, unsigned char **buf,
		    size_t *len);
/*
 * Replace path atomically: temp file in the same folder, fchmod(mode),
 * write, fsync, rename, fsync of the folder; the temp file is unlinked on
 * failure.  Readers see the old file or the new one, never half of one.
 */
int		 file_write_atomic(const char *path, const void *buf,
		    size_t len, mode_t mode);
/*
 * The same, written in pieces: afile_open() creates the temp file,
 * afile_write() appends, afile_commit() fsyncs and renames it into place.
 * Each of them unlinks the temp file itself when it fails; afile_abort()
 * gives up a file that was opened and not committed.
 */
struct afile {
	int	 fd;
	char	 tmp[PATH_MAX];
	char	 path[PATH_MAX];
};

int		 afile_open(struct afile *f, const char *path, mode_t mode);
int		 afile_write(struct afile *f, const void *buf, size_t len);
int		 afile_commit(struct afile *f);
void		 afile_abort(struct afile *f);
/* Create path exclusively (O_EXCL) with mode, write, fsync. */
int		 file_write_excl(const char *path, const void *buf, size_t len,
		    mode_t mode);
/*
 * 1 and *out set if s is, as a whole, a decimal number in [min, max];
 * 0 otherwise (empty, trailing text, overflow).
 */
int		 parse_int(const char *s, long min, long max, int *out);
/*
 * 1 and *seconds set if s is N, Ns, Nm, Nh or Nd (N decimal, at most
 * 3,650 days in all); 0 otherwise.
 */
int		 parse_duration(const char *s, int *seconds);
/*
 * lock.c: an exclusive advisory lock on DIR/name (created 0600, never
 * through a symlink, refused unless a plain file with one link), held
 * until uc_lock_release() or the process ends.  what names the holder in
 * the message another run is given ("userca batch").  wait: block until it is
 * free; else fail at once with UC_E_STATE "DIR is being written by
 * userca batch, pid 1234".  *out is the caller's to release.
 */
struct uc_lock;
int		 uc_lock_take(const char *dir, const char *name,
		    const char *what, int wait, struct uc_lock **out);
void		 uc_lock_release(struct uc_lock *);	/* NULL-safe */
/* mkdir -p with mode for the last component; ok if it exists. */
int		 dir_make(const char *path, mode_t mode);
/* fsync(2) a folder, so the entries made or renamed in it stay. */
int		 dir_fsync(const char *path);
/*
 * Remove path and what is in it, never following a symlink; for folders
 * this process made (mkdtemp).  Best effort: what cannot go stays.
 */
void		 dir_rmtree(const char *path);
/*
 * path's parent folder ("." or "/" when it has none) and its last name,
 * trailing slashes ignored.  UC_E_INVALID when the last name is empty,
 * "." or "..", or a part does not fit.
 */
int		 path_split(const char *path, char *parent, size_t plen,
		    char *name, size_t nlen);
/* 1 if path exists. */
int		 path_exists(const char *path);
/* "dir/name" in a new string (caller frees); NULL on overflow/oom. */
char		*path_join(const char *dir, const char *name);
/* Upper-case hex of buf in a new string (caller frees). */
char		*hex_encode(const unsigned char *buf, size_t len);
/* No core dumps (RLIMIT_CORE 0) and not dumpable (no ptrace, no core). */
int		 proc_nocore(void);
/* OPENSSL_cleanse then free; NULL-safe. */
void		 secret_free(char *s);
void		 secret_free_buf(unsigned char *b, size_t len);

#endif /* UC_CORE_H */
