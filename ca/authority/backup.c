/*
 * backup.c: backup, verify and restore of a CA home (backup.h).
 *
 * The archive's plaintext, sealed by pki_seal.h:
 *   4 bytes    manifest length (big-endian)
 *   manifest   JSON: format "userca-backup", version 1, created, userca,
 *              root_key, dirs [{path, mode}], members [{path, mode, size,
 *              sha256}]
 *   members    each member's bytes, in the manifest's order, nothing after
 *
 * What is archived: userca.conf, a snapshot of userca.db, and every file
 * under root/, issuing/ and public/ (not dot-files: locks; not temporary
 * files of an atomic write); root/root.key only when asked.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "authority_int.h"
#include "backup.h"
#include "pki_seal.h"
#include "snapshot.h"
#include "ucbuf.h"

#define BK_FORMAT	"userca-backup"
#define BK_VERSION	1
#define BK_FILE_MAX	((size_t)256 << 20)	/* one member */
#define BK_MEMBERS_MAX	100000
#define BK_PATH_MAX	255

struct bk_member {
	char			*path;
	mode_t			 mode;
	const unsigned char	*data;	/* own, or into the plaintext */
	size_t			 len;
	unsigned char		*own;	/* read from the home; wiped */
};

struct bk_dir {
	char			*path;
	mode_t			 mode;
};

struct bk_set {
	struct bk_member	*m;
	size_t			 n, cap;
	struct bk_dir		*d;
	size_t			 nd, capd;
};

static void
bk_set_free(struct bk_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->m[i].path);
		secret_free_buf(s->m[i].own, s->m[i].len);
	}
	for (i = 0; i < s->nd; i++)
		free(s->d[i].path);
	free(s->m);
	free(s->d);
	memset(s, 0, sizeof(*s));
}

/* Add a member; data is taken when own (wiped and freed with the set). */
static int
bk_add(struct bk_set *s, const char *path, mode_t mode,
    const unsigned char *data, size_t len, unsigned char *own)
{
	struct bk_member *nm;
	char *p;

	if (s->n == BK_MEMBERS_MAX)
		return uc_seterr(UC_E_INVALID, "more than %d members",
		    BK_MEMBERS_MAX);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		if ((nm = reallocarray(s->m, s->cap, sizeof(*nm))) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		s->m = nm;
	}
	if ((p = strdup(path)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	s->m[s->n].path = p;
	s->m[s->n].mode = mode;
	s->m[s->n].data = data;
	s->m[s->n].len = len;
	s->m[s->n].own = own;
	s->n++;
	return UC_OK;
}

static int
bk_add_dir(struct bk_set *s, const char *path, mode_t mode)
{
	struct bk_dir *nd;
	char *p;

	if (s->nd == BK_MEMBERS_MAX)
		return uc_seterr(UC_E_INVALID, "more than %d folders",
		    BK_MEMBERS_MAX);
	if (s->nd == s->capd) {
		s->capd = s->capd ? s->capd * 2 : 8;
		if ((nd = reallocarray(s->d, s->capd, sizeof(*nd))) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		s->d = nd;
	}
	if ((p = strdup(path)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	s->d[s->nd].path = p;
	s->d[s->nd].mode = mode;
	s->nd++;
	return UC_OK;
}

static int
bk_has_dir(const struct bk_set *s, const char *path, size_t len)
{
	size_t i;

	for (i = 0; i < s->nd; i++)
		if (strlen(s->d[i].path) == len &&
		    memcmp(s->d[i].path, path, len) == 0)
			return 1;
	return 0;
}

static void
sha256_hex(const unsigned char *buf, size_t len, char out[65])
{
	static const char hx[] = "0123456789abcdef";
	unsigned char md[UC_SHA256_LEN];
	size_t i;

	out[0] = '\0';
	if (uc_sha256(buf, len, md) != UC_OK)
		return;
	for (i = 0; i < UC_SHA256_LEN; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = '\0';
}

/* Not archived: dot-files (locks), an atomic write's temporary files. */
static int
bk_skip_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' || strstr(name, ".tmp-") != NULL ||
	    (n > 4 && strcmp(name + n - 4, ".new") == 0);
}

static int
bk_walk(struct bk_set *s, const char *home, const char *rel,
    int include_root)
{
	struct dirent **ents = NULL;
	struct stat sb;
	unsigned char *buf = NULL;
	char *dir = NULL, *abs = NULL, child[PATH_MAX];
	size_t len;
	int i, n = -1, rc = UC_E_INTERNAL;

	if ((dir = home_path(home, rel)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (bk_skip_name(ents[i]->d_name))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", rel,
		    ents[i]->d_name) >= sizeof(child) ||
		    strlen(child) > BK_PATH_MAX) {
			rc = uc_seterr(UC_E_INVALID, "%s/%s: path too long",
			    dir, ents[i]->d_name);
			goto out;
		}
		free(abs);
		if ((abs = home_path(home, child)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		if (lstat(abs, &sb) == -1) {
			rc = uc_seterr(UC_E_IO, "%s: %s", abs,
			    strerror(errno));
			goto out;
		}
		if (S_ISDIR(sb.st_mode)) {
			if ((rc = bk_add_dir(s, child, sb.st_mode & 0777)) !=
			    UC_OK ||
			    (rc = bk_walk(s, home, child, include_root)) !=
			    UC_OK)
				goto out;
			continue;
		}
		if (!S_ISREG(sb.st_mode)) {
			rc = uc_seterr(UC_E_INVALID, "%s: neither a file nor "
			    "a folder (a symlink?); a CA home holds only "
			    "files and folders", abs);
			goto out;
		}
		if (strcmp(child, P_ROOT_KEY) == 0 && !include_root)
			continue;
		if ((rc = file_read(abs, BK_FILE_MAX, &buf, &len)) != UC_OK)
			goto out;
		if ((rc = bk_add(s, child, sb.st_mode & 0777, buf, len,
		    buf)) != UC_OK) {
			secret_free_buf(buf, len);
			goto out;
		}
		buf = NULL;	/* now owned by the set */
	}
	rc = UC_OK;
out:
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(abs);
	free(dir);
	return rc;
}

/* A private folder under $TMPDIR (or /tmp) for a database copy. */
static int
bk_tmpdir(const char *what, char *buf, size_t len)
{
	const char *t = getenv("TMPDIR");

	if (t == NULL || *t != '/')
		t = "/tmp";
	if ((size_t)snprintf(buf, len, "%s/userca-%s.XXXXXX", t, what) >=
	    len)
		return uc_seterr(UC_E_INVALID, "$TMPDIR is too long");
	if (mkdtemp(buf) == NULL)
		return uc_seterr(UC_E_IO, "%s: %s", buf, strerror(errno));
	return UC_OK;
}

/* The database, through the online backup API, as a member. */
static int
bk_add_db(struct bk_set *s, const char *home)
{
	char tmp[PATH_MAX], *src = NULL, *dst = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = bk_tmpdir("backup", tmp, sizeof(tmp))) != UC_OK)
		return rc;
	if ((src = home_path(home, P_DB)) == NULL ||
	    (dst = path_join(tmp, P_DB)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = snapshot_take(src, dst)) != UC_OK ||
	    (rc = file_read(dst, SEAL_MAX, &buf, &len)) != UC_OK)
		goto out;
	if ((rc = bk_add(s, P_DB, 0600, buf, len, buf)) != UC_OK)
		goto out;
	buf = NULL;	/* now owned by the set */
out:
	secret_free_buf(buf, len);
	dir_rmtree(tmp);
	free(src);
	free(dst);
	return rc;
}

static void
bk_info(const struct bk_set *s, const char *created, const char *version,
    struct backup_info *info)
{
	size_t i;

	memset(info, 0, sizeof(*info));
	info->members = s->n;
	for (i = 0; i < s->n; i++) {
		info->bytes += s->m[i].len;
		if (strcmp(s->m[i].path, P_ROOT_KEY) == 0)
			info->root_key = 1;
		if (strcmp(s->m[i].path, "issuing/ocsp.key") == 0)
			info->ocsp_key = 1;
	}
	snprintf(info->created, sizeof(info->created), "%s", created);
	snprintf(info->version, sizeof(info->version), "%s", version);
}

/* The plaintext: manifest length, manifest, members (wiping buffer). */
static int
bk_pack(const struct bk_set *s, const char *created, int include_root,
    struct ucbuf *b)
{
	json_t *man = NULL, *dirs = NULL, *mem = NULL;
	char mode[8], sum[65], *js = NULL;
	unsigned char be[4];
	size_t i, jl;
	int rc = UC_E_INTERNAL;

	if ((dirs = json_array()) == NULL || (mem = json_array()) == NULL)
		goto oom;
	for (i = 0; i < s->nd; i++) {
		snprintf(mode, sizeof(mode), "%04o", (unsigned)s->d[i].mode);
		if (json_array_append_new(dirs, json_pack("{s:s, s:s}",
		    "path", s->d[i].path, "mode", mode)) != 0)
			goto oom;
	}
	for (i = 0; i < s->n; i++) {
		snprintf(mode, sizeof(mode), "%04o", (unsigned)s->m[i].mode);
		sha256_hex(s->m[i].data, s->m[i].len, sum);
		if (sum[0] == '\0') {
			rc = uc_seterr(UC_E_CRYPTO, "SHA-256 of %s",
			    s->m[i].path);
			goto out;
		}
		if (json_array_append_new(mem, json_pack("{s:s, s:s, s:I, "
		    "s:s}", "path", s->m[i].path, "mode", mode, "size",
		    (json_int_t)s->m[i].len, "sha256", sum)) != 0)
			goto oom;
	}
	man = json_pack("{s:s, s:i, s:s, s:s, s:b, s:O, s:O}", "format",
	    BK_FORMAT, "version", BK_VERSION, "created", created, "userca",
	    uc_version(), "root_key", include_root, "dirs", dirs, "members",
	    mem);
	if (man == NULL ||
	    (js = json_dumps(man, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) ==
	    NULL)
		goto oom;
	jl = strlen(js);
	be[0] = (unsigned char)(jl >> 24);
	be[1] = (unsigned char)(jl >> 16);
	be[2] = (unsigned char)(jl >> 8);
	be[3] = (unsigned char)jl;
	ucbuf_add(b, be, 4);
	ucbuf_add(b, js, jl);
	for (i = 0; i < s->n; i++)
		ucbuf_add(b, s->m[i].data, s->m[i].len);
	if ((rc = b->err) != UC_OK)
		goto out;
	rc = UC_OK;
	goto out;
oom:
	rc = uc_seterr(UC_E_INTERNAL, "out of memory");
out:
	free(js);
	json_decref(man);
	json_decref(dirs);
	json_decref(mem);
	return rc;
}

int
backup_create(const char *home, const char *out, int include_root,
    int force, const char *pass, struct backup_info *info)
{
	struct bk_set s;
	struct ucbuf b = UCBUF_INIT(SEAL_MAX, 1);
	struct uc_lock *lk = NULL;
	struct afile af;
	struct stat sb;
	unsigned char *sealed = NULL, *conf = NULL;
	size_t sealedlen = 0, conflen = 0;
	char created[32], *p = NULL;
	static const char *const tops[] = { "root", "issuing", "public" };
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(info, 0, sizeof(*info));
	if (!home_has(home, P_CONF) || !home_has(home, P_DB))
		return uc_seterr(UC_E_NOTFOUND, "%s: not a CA home (no %s or "
		    "%s)", home, P_CONF, P_DB);
	if (include_root && !home_has(home, P_ROOT_KEY))
		return uc_seterr(UC_E_NOTFOUND, "%s/%s: no root key in this "
		    "home (is it the online half of an air gap?); leave out "
		    "--include-root", home, P_ROOT_KEY);
	if (!force && path_exists(out))
		return uc_seterr(UC_E_EXISTS, "%s: already exists (--force "
		    "replaces it)", out);
	/*
	 * Files first, then the database, under the publish lock: every CRL
	 * in public/ is then also in the database, so the restored CA's next
	 * CRL number is above all of them.
	 */
	if ((rc = uc_lock_take(home, ".publish.lock", "userca backup", 1,
	    &lk)) != UC_OK)
		goto out;
	if ((p = home_path(home, P_CONF)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if (lstat(p, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		rc = uc_seterr(UC_E_INVALID, "%s: not a plain file", p);
		goto out;
	}
	if ((rc = file_read(p, BK_FILE_MAX, &conf, &conflen)) != UC_OK)
		goto out;
	if ((rc = bk_add(&s, P_CONF, sb.st_mode & 0777, conf, conflen,
	    conf)) != UC_OK) {
		secret_free_buf(conf, conflen);
		goto out;
	}
	for (i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		free(p);
		if ((p = home_path(home, tops[i])) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		if (lstat(p, &sb) == -1 && errno == ENOENT)
			continue;
		if (!S_ISDIR(sb.st_mode)) {
			rc = uc_seterr(UC_E_INVALID, "%s: not a folder", p);
			goto out;
		}
		if ((rc = bk_add_dir(&s, tops[i], sb.st_mode & 0777)) !=
		    UC_OK ||
		    (rc = bk_walk(&s, home, tops[i], include_root)) != UC_OK)
			goto out;
	}
	if ((rc = bk_add_db(&s, home)) != UC_OK)
		goto out;
	uc_lock_release(lk);
	lk = NULL;

	uc_time_iso(uc_now(), created, sizeof(created));
	if ((rc = bk_pack(&s, created, include_root, &b)) != UC_OK ||
	    (rc = seal_encrypt(pass, b.p, b.len, &sealed, &sealedlen)) !=
	    UC_OK)
		goto out;
	if (!force && path_exists(out)) {
		rc = uc_seterr(UC_E_EXISTS, "%s: already exists (--force "
		    "replaces it)", out);
		goto out;
	}
	if ((rc = afile_open(&af, out, 0600)) != UC_OK)
		goto out;
	if ((rc = afile_write(&af, sealed, sealedlen)) != UC_OK ||
	    (rc = afile_commit(&af)) != UC_OK)
		goto out;	/* both unlink the temporary file themselves */
	bk_info(&s, created, uc_version(), info);
	rc = UC_OK;
out:
	uc_lock_release(lk);
	free(p);
	free(sealed);
	ucbuf_free(&b);
	bk_set_free(&s);
	return rc;
}

/* ---- reading an archive ------------------------------------------------- */

/*
 * A member's or folder's path: relative, at most BK_PATH_MAX bytes of
 * printable ASCII, no empty, "." or ".." step, no dot-file, and under one
 * of the home's own places.
 */
static int
bk_path_ok(const json_t *js, int dir)
{
	const char *p = json_string_value(js), *c, *top_end;
	size_t len = json_string_length(js), i, tl;

	if (p == NULL || len == 0 || len > BK_PATH_MAX || strlen(p) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '\\')
			return 0;
	for (c = p; ; c++) {
		/* c: the start of a step */
		if (*c == '/' || *c == '\0' || *c == '.')
			return 0;
		if ((c = strchr(c, '/')) == NULL)
			break;
	}
	top_end = strchr(p, '/');
	tl = top_end != NULL ? (size_t)(top_end - p) : len;
	if (top_end == NULL)	/* a top-level name */
		return dir ? (strcmp(p, "root") == 0 ||
		    strcmp(p, "issuing") == 0 || strcmp(p, "public") == 0) :
		    (strcmp(p, P_CONF) == 0 || strcmp(p, P_DB) == 0);
	return (tl == 4 && strncmp(p, "root", 4) == 0) ||
	    (tl == 7 && strncmp(p, "issuing", 7) == 0) ||
	    (tl == 6 && strncmp(p, "public", 6) == 0);
}

static int
bk_mode(const json_t *js, mode_t *mode)
{
	const char *s = json_string_value(js);
	char *end;
	long v;

	if (s == NULL || strlen(s) != 4 || s[0] != '0')
		return 0;
	errno = 0;
	v = strtol(s, &end, 8);
	if (errno != 0 || *end != '\0' || v < 0 || v > 0777)
		return 0;
	*mode = (mode_t)v;
	return 1;
}

/* 1 if path's folder is listed (or it is at the top) and path is not. */
static int
bk_placed(const struct bk_set *s, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash != NULL ? (size_t)(slash - path) : 0;

	return (plen == 0 || bk_has_dir(s, path, plen)) &&
	    !bk_has_dir(s, path, strlen(path));
}

/* Manifest folder i (e): a new path under a listed parent, a mode. */
static int
bk_parse_dir(json_t *e, size_t i, struct bk_set *s)
{
	json_t *jp = json_object_get(e, "path");
	const char *path;
	mode_t mode;

	if (!bk_path_ok(jp, 1) || !bk_mode(json_object_get(e, "mode"), &mode))
		return uc_seterr(UC_E_INVALID, "manifest: folder %zu: a bad "
		    "path or mode", i);
	path = json_string_value(jp);
	if (!bk_placed(s, path))
		return uc_seterr(UC_E_INVALID, "manifest: folder %s: twice, or "
		    "before its parent", path);
	return bk_add_dir(s, path, mode);
}

/*
 * Manifest member i (e): a new path in a listed folder, its bytes at
 * pt + *off (within ptlen) matching its size and SHA-256; *off moves past.
 */
static int
bk_parse_member(json_t *e, size_t i, const unsigned char *pt, size_t ptlen,
    size_t *off, struct bk_set *s)
{
	json_t *jp = json_object_get(e, "path");
	const char *path, *sum;
	char got[65];
	json_int_t size;
	size_t j;
	mode_t mode;
	int rc;

	if (!bk_path_ok(jp, 0) || !bk_mode(json_object_get(e, "mode"), &mode) ||
	    json_unpack(e, "{s:I, s:s}", "size", &size, "sha256", &sum) != 0 ||
	    size < 0)
		return uc_seterr(UC_E_INVALID, "manifest: member %zu: a bad "
		    "path, mode, size or sha256", i);
	path = json_string_value(jp);
	if (!bk_placed(s, path))
		return uc_seterr(UC_E_INVALID, "manifest: %s: not in a listed "
		    "folder, or a folder itself", path);
	for (j = 0; j < s->n; j++)
		if (strcmp(s->m[j].path, path) == 0)
			return uc_seterr(UC_E_INVALID, "manifest: %s twice",
			    path);
	if ((uint64_t)size > ptlen - *off)
		return uc_seterr(UC_E_INVALID, "%s: %lld bytes listed, %zu "
		    "left: truncated", path, (long long)size, ptlen - *off);
	sha256_hex(pt + *off, (size_t)size, got);
	if (strcmp(got, sum) != 0)
		return uc_seterr(UC_E_INVALID, "%s: SHA-256 %s, the manifest "
		    "says %s", path, got, sum);
	if ((rc = bk_add(s, path, mode, pt + *off, (size_t)size, NULL)) !=
	    UC_OK)
		return rc;
	*off += (size_t)size;
	return UC_OK;
}

/*
 * Check the plaintext pt against its manifest: members point into pt,
 * which must outlive s.
 */
static int
bk_parse(const unsigned char *pt, size_t ptlen, struct bk_set *s,
    struct backup_info *info)
{
	json_t *man = NULL, *dirs, *mem, *e;
	json_error_t jerr;
	const char *fmt, *created = "", *ver = "";
	size_t mlen, off, i, j;
	int rc = UC_E_INVALID, version = 0;

	if (ptlen < 4)
		return uc_seterr(UC_E_INVALID, "no manifest");
	mlen = (size_t)pt[0] << 24 | (size_t)pt[1] << 16 |
	    (size_t)pt[2] << 8 | pt[3];
	if (mlen > ptlen - 4)
		return uc_seterr(UC_E_INVALID, "the manifest runs past the "
		    "end");
	if ((man = json_loadb((const char *)pt + 4, mlen,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		rc = uc_seterr(UC_E_INVALID, "manifest: %s (line %d)",
		    jerr.text, jerr.line);
		goto out;
	}
	if (json_unpack_ex(man, &jerr, 0, "{s:s, s:i, s?s, s?s, s:o, s:o}",
	    "format", &fmt, "version", &version, "created", &created,
	    "userca", &ver, "dirs", &dirs, "members", &mem) != 0 ||
	    strcmp(fmt, BK_FORMAT) != 0 || !json_is_array(dirs) ||
	    !json_is_array(mem)) {
		rc = uc_seterr(UC_E_INVALID, "manifest: not a userca backup "
		    "manifest");
		goto out;
	}
	if (version != BK_VERSION) {
		rc = uc_seterr(UC_E_INVALID, "manifest version %d: this "
		    "userca reads version %d", version, BK_VERSION);
		goto out;
	}
	json_array_foreach(dirs, i, e)
		if ((rc = bk_parse_dir(e, i, s)) != UC_OK)
			goto out;
	off = 4 + mlen;
	json_array_foreach(mem, i, e)
		if ((rc = bk_parse_member(e, i, pt, ptlen, &off, s)) != UC_OK)
			goto out;
	if (off != ptlen) {
		rc = uc_seterr(UC_E_INVALID, "%zu bytes after the last member",
		    ptlen - off);
		goto out;
	}
	for (i = 0, j = 0; i < s->n; i++)
		if (strcmp(s->m[i].path, P_CONF) == 0 ||
		    strcmp(s->m[i].path, P_DB) == 0)
			j++;
	if (j != 2) {
		rc = uc_seterr(UC_E_INVALID, "no %s or no %s in it", P_CONF,
		    P_DB);
		goto out;
	}
	bk_info(s, created, ver, info);
	rc = UC_OK;
out:
	json_decref(man);
	return rc;
}

static const struct bk_member *
bk_find(const struct bk_set *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->m[i].path, path) == 0)
			return &s->m[i];
	return NULL;
}

/* Read, open and check the archive; *pt (the plaintext) backs s. */
static int
bk_open(const char *file, const char *pass, unsigned char **pt,
    size_t *ptlen, struct bk_set *s, struct backup_info *info)
{
	unsigned char *in = NULL;
	size_t inlen = 0;
	int rc;

	*pt = NULL;
	*ptlen = 0;
	if ((rc = file_read(file, SEAL_HDR_LEN + SEAL_MAX + SEAL_TAG_LEN, &in,
	    &inlen)) != UC_OK)
		return rc;
	rc = seal_decrypt(pass, in, inlen, pt, ptlen);
	free(in);
	if (rc != UC_OK)
		return uc_errprefix(rc, file);
	if ((rc = bk_parse(*pt, *ptlen, s, info)) != UC_OK) {
		bk_set_free(s);
		secret_free_buf(*pt, *ptlen);
		*pt = NULL;
		*ptlen = 0;
		return uc_errprefix(rc, file);
	}
	return UC_OK;
}

int
backup_verify(const char *file, const char *pass, struct backup_info *info)
{
	struct bk_set s;
	const struct bk_member *db;
	unsigned char *pt = NULL;
	size_t ptlen = 0;
	char tmp[PATH_MAX], *dst = NULL;
	int rc, made = 0;

	memset(&s, 0, sizeof(s));
	if ((rc = bk_open(file, pass, &pt, &ptlen, &s, info)) != UC_OK)
		return rc;
	db = bk_find(&s, P_DB);
	if ((rc = bk_tmpdir("verify", tmp, sizeof(tmp))) != UC_OK)
		goto out;
	made = 1;
	if ((dst = path_join(tmp, P_DB)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = file_write_excl(dst, db->data, db->len, 0600)) != UC_OK)
		goto out;
	if ((rc = snapshot_check(dst)) != UC_OK) {
		rc = uc_errprefix(rc, file);
		goto out;
	}
	rc = UC_OK;
out:
	if (made)
		dir_rmtree(tmp);
	free(dst);
	bk_set_free(&s);
	secret_free_buf(pt, ptlen);
	return rc;
}

/* UC_OK when home does not exist or is an empty folder. */
static int
bk_home_empty(const char *home)
{
	struct stat sb;
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (lstat(home, &sb) == -1) {
		if (errno == ENOENT)
			return UC_OK;
		return uc_seterr(UC_E_IO, "%s: %s", home, strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return uc_seterr(UC_E_EXISTS, "%s: exists and is not a "
		    "folder; restore writes only into an empty or new folder",
		    home);
	if ((d = opendir(home)) == NULL)
		return uc_seterr(UC_E_IO, "%s: %s", home, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	if (n > 0)
		return uc_seterr(UC_E_EXISTS, "%s: not empty; restore writes "
		    "only into an empty or new folder", home);
	return UC_OK;
}

/* home's parent folder and the staging template beside it. */
static int
bk_staging(const char *home, char *parent, size_t plen, char *tmpl,
    size_t tlen)
{
	char name[NAME_MAX + 1];
	int rc;

	if ((rc = path_split(home, parent, plen, name, sizeof(name))) != UC_OK)
		return rc;
	if ((size_t)snprintf(tmpl, tlen, "%s/.%s.restore-XXXXXX", parent,
	    name) >= tlen)
		return uc_seterr(UC_E_INVALID, "%s: path too long", home);
	return UC_OK;
}

int
backup_restore(const char *file, const char *pass, const char *home,
    struct backup_info *info)
{
	struct bk_set s;
	struct authority *a = NULL;
	unsigned char *pt = NULL;
	size_t ptlen = 0, i;
	char parent[PATH_MAX], stage[PATH_MAX], *p = NULL;
	int rc, staged = 0;

	memset(&s, 0, sizeof(s));
	if ((rc = bk_home_empty(home)) != UC_OK ||
	    (rc = bk_staging(home, parent, sizeof(parent), stage,
	    sizeof(stage))) != UC_OK)
		return rc;
	/* Everything is checked before the first byte is written. */
	if ((rc = bk_open(file, pass, &pt, &ptlen, &s, info)) != UC_OK)
		return rc;
	if (mkdtemp(stage) == NULL) {
		rc = uc_seterr(UC_E_IO, "%s: %s", stage, strerror(errno));
		goto out;
	}
	staged = 1;
	for (i = 0; i < s.nd; i++) {
		free(p);
		if ((p = path_join(stage, s.d[i].path)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		if (mkdir(p, 0700) == -1 || chmod(p, s.d[i].mode) == -1) {
			rc = uc_seterr(UC_E_IO, "%s: %s", p, strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < s.n; i++) {
		free(p);
		if ((p = path_join(stage, s.m[i].path)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		if ((rc = file_write_excl(p, s.m[i].data, s.m[i].len,
		    s.m[i].mode)) != UC_OK)
			goto out;
	}
	/* The copy on disk, then the home as the CA will open it. */
	free(p);
	if ((p = path_join(stage, P_DB)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = snapshot_check(p)) != UC_OK)
		goto out;
	if ((rc = authority_open(stage, &a)) != UC_OK) {
		rc = uc_errprefix(rc, "the restored home does not open");
		goto out;
	}
	authority_free(a);
	a = NULL;
	for (i = 0; i < s.nd; i++) {
		free(p);
		if ((p = path_join(stage, s.d[i].path)) == NULL) {
			rc = uc_seterr(UC_E_INTERNAL, "out of memory");
			goto out;
		}
		if ((rc = dir_fsync(p)) != UC_OK)
			goto out;
	}
	if ((rc = dir_fsync(stage)) != UC_OK)
		goto out;
	/* An empty folder is replaced; one that filled up meanwhile is not. */
	if (rename(stage, home) == -1) {
		rc = uc_seterr(errno == ENOTEMPTY || errno == EEXIST ?
		    UC_E_EXISTS : UC_E_IO, "%s: %s", home, strerror(errno));
		goto out;
	}
	staged = 0;
	rc = dir_fsync(parent);
out:
	authority_free(a);
	if (staged)
		dir_rmtree(stage);
	free(p);
	bk_set_free(&s);
	secret_free_buf(pt, ptlen);
	return rc;
}
