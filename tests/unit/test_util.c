/*
 * test_util.c: files, passwords, the clock, hex and error helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>

#include "pki.h"

#define ALPHABET	"23456789abcdefghjkmnpqrstuvwxyz"
#define NPASS		1000
/* Enough symbols to see a modulo bias (about 12% on 8 symbols). */
#define NPASS_DIST	20000

struct fixture {
	char	dir[PATH_MAX];
};

static void
rm_rf(const char *dir)
{
	char p[PATH_MAX * 2];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			rm_rf(p);
		else
			(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

static int
setup(void **state)
{
	struct fixture *f;
	const char *tmp = getenv("TMPDIR");

	umask(022);
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;
	if ((size_t)snprintf(f->dir, sizeof(f->dir), "%s/uc-util-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= sizeof(f->dir))
		return -1;
	assert_non_null(mkdtemp(f->dir));
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	rm_rf(f->dir);
	free(f);
	return 0;
}

static char *
in_dir(struct fixture *f, const char *name)
{
	char *p = path_join(f->dir, name);

	assert_non_null(p);
	return p;
}

/* The file holds exactly want[0..len) and has mode (permission bits). */
static void
assert_file(const char *path, const char *want, size_t len, mode_t mode)
{
	unsigned char *buf = NULL;
	size_t got = 0;
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, mode);
	assert_int_equal(file_read(path, 1 << 20, &buf, &got), UC_OK);
	assert_int_equal(got, len);
	if (len > 0)
		assert_memory_equal(buf, want, len);
	free(buf);
}

/* Names in dir other than . and .., space separated and sorted. */
static void
dir_listing(const char *dir, char *out, size_t outlen)
{
	char names[16][256];
	struct dirent *de;
	DIR *d;
	size_t n = 0, i, j;
	char tmp[256];

	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		assert_true(n < 16);
		snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			memcpy(tmp, names[j], sizeof(tmp));
			memcpy(names[j], names[j - 1], sizeof(tmp));
			memcpy(names[j - 1], tmp, sizeof(tmp));
		}
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t l = strlen(out);

		snprintf(out + l, outlen - l, "%s%s", i > 0 ? " " : "",
		    names[i]);
	}
}

static void
test_write_atomic(void **state)
{
	struct fixture *f = *state;
	char *a = in_dir(f, "a.pem"), *b = in_dir(f, "b.crl");
	char listing[1024];
	static const char bin[] = { 'x', '\0', 'y', '\n', '\0' };

	assert_int_equal(file_write_atomic(a, "secret\n", 7, 0600), UC_OK);
	assert_file(a, "secret\n", 7, 0600);
	assert_int_equal(file_write_atomic(b, bin, sizeof(bin), 0644), UC_OK);
	assert_file(b, bin, sizeof(bin), 0644);

	/* Replace: new content, new mode, shorter than before. */
	assert_int_equal(file_write_atomic(b, "new", 3, 0600), UC_OK);
	assert_file(b, "new", 3, 0600);
	assert_int_equal(file_write_atomic(a, "a much longer replacement\n",
	    26, 0644), UC_OK);
	assert_file(a, "a much longer replacement\n", 26, 0644);
	/* Empty content is a valid file. */
	assert_int_equal(file_write_atomic(b, "", 0, 0644), UC_OK);
	assert_file(b, "", 0, 0644);

	/* The umask does not widen or narrow the mode. */
	umask(077);
	assert_int_equal(file_write_atomic(b, "pub", 3, 0644), UC_OK);
	umask(022);
	assert_file(b, "pub", 3, 0644);

	/* No temp files left behind. */
	dir_listing(f->dir, listing, sizeof(listing));
	assert_string_equal(listing, "a.pem b.crl");
	free(a);
	free(b);
}

static void
test_write_atomic_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	char *p = in_dir(f, "missing/sub/file"), *d = in_dir(f, "adir");
	char *inner = in_dir(f, "adir/inner");
	char listing[1024];

	uc_clearerr();
	assert_int_equal(file_write_atomic(p, "x", 1, 0644), UC_E_IO);
	assert_true(uc_errmsg()[0] != '\0');
	assert_int_equal(access(p, F_OK), -1);

	/* A directory in the way: rename fails, the temp file goes. */
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(mkdir(inner, 0755), 0);
	assert_int_equal(file_write_atomic(d, "x", 1, 0644), UC_E_IO);
	dir_listing(f->dir, listing, sizeof(listing));
	assert_string_equal(listing, "adir");
	assert_int_equal(rmdir(inner), 0);
	assert_int_equal(rmdir(d), 0);
	free(inner);
	free(d);
	free(p);
}

/*
 * afile_*: written in pieces, the file appears only at commit; abort
 * leaves the old file and no temp file.
 */
static void
test_afile(void **state)
{
	struct fixture *f = *state;
	char *a = in_dir(f, "map.csv");
	char listing[1024];
	struct afile af;

	assert_int_equal(file_write_atomic(a, "old\n", 4, 0644), UC_OK);
	assert_int_equal(afile_open(&af, a, 0644), UC_OK);
	assert_int_equal(afile_write(&af, "one,", 4), UC_OK);
	assert_int_equal(afile_write(&af, "two\n", 4), UC_OK);
	/* Not yet: readers still see the old file. */
	assert_file(a, "old\n", 4, 0644);
	assert_int_equal(afile_commit(&af), UC_OK);
	assert_file(a, "one,two\n", 8, 0644);
	dir_listing(f->dir, listing, sizeof(listing));
	assert_string_equal(listing, "map.csv");

	assert_int_equal(afile_open(&af, a, 0600), UC_OK);
	assert_int_equal(afile_write(&af, "half", 4), UC_OK);
	afile_abort(&af);
	assert_file(a, "one,two\n", 8, 0644);
	dir_listing(f->dir, listing, sizeof(listing));
	assert_string_equal(listing, "map.csv");
	free(a);
}

static void
test_parse_numbers(void **state)
{
	int v = -7;

	(void)state;
	assert_int_equal(parse_int("1", 1, 10, &v), 1);
	assert_int_equal(v, 1);
	assert_int_equal(parse_int("10", 1, 10, &v), 1);
	assert_int_equal(v, 10);
	v = -7;
	assert_int_equal(parse_int("0", 1, 10, &v), 0);
	assert_int_equal(parse_int("11", 1, 10, &v), 0);
	assert_int_equal(parse_int("", 1, 10, &v), 0);
	assert_int_equal(parse_int("5x", 1, 10, &v), 0);
	assert_int_equal(parse_int("99999999999999999999999", 1, 10, &v), 0);
	assert_int_equal(v, -7);	/* untouched on failure */
	assert_int_equal(parse_int("-3", -5, 5, &v), 1);
	assert_int_equal(v, -3);

	assert_int_equal(parse_duration("90", &v), 1);
	assert_int_equal(v, 90);
	assert_int_equal(parse_duration("30s", &v), 1);
	assert_int_equal(v, 30);
	assert_int_equal(parse_duration("5m", &v), 1);
	assert_int_equal(v, 300);
	assert_int_equal(parse_duration("72h", &v), 1);
	assert_int_equal(v, 72 * 3600);
	assert_int_equal(parse_duration("7d", &v), 1);
	assert_int_equal(v, 7 * 86400);
	assert_int_equal(parse_duration("3650d", &v), 1);
	v = -7;
	assert_int_equal(parse_duration("3651d", &v), 0);
	assert_int_equal(parse_duration("-1", &v), 0);
	assert_int_equal(parse_duration("7w", &v), 0);
	assert_int_equal(parse_duration("7dd", &v), 0);
	assert_int_equal(parse_duration("", &v), 0);
	assert_int_equal(parse_duration("d", &v), 0);
	assert_int_equal(parse_duration("99999999999999999999d", &v), 0);
	assert_int_equal(v, -7);
}

static void
test_write_excl(void **state)
{
	struct fixture *f = *state;
	char *p = in_dir(f, "key.pem"), *q = in_dir(f, "nodir/key.pem");

	assert_int_equal(file_write_excl(p, "first", 5, 0600), UC_OK);
	assert_file(p, "first", 5, 0600);
	uc_clearerr();
	assert_int_equal(file_write_excl(p, "second", 6, 0644), UC_E_EXISTS);
	assert_non_null(strstr(uc_errmsg(), "key.pem"));
	assert_file(p, "first", 5, 0600);	/* untouched */
	assert_int_equal(file_write_excl(q, "x", 1, 0600), UC_E_IO);

	/* A dangling symlink is not followed. */
	free(q);
	q = in_dir(f, "link.pem");
	free(p);
	p = in_dir(f, "target.pem");
	assert_int_equal(symlink(p, q), 0);
	assert_int_not_equal(file_write_excl(q, "x", 1, 0600), UC_OK);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	free(q);
}

static void
test_file_read(void **state)
{
	struct fixture *f = *state;
	char *p = in_dir(f, "data"), *e = in_dir(f, "empty");
	char *m = in_dir(f, "missing");
	unsigned char data[100], *buf = NULL;
	size_t len = 99, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)i;
	assert_int_equal(file_write_atomic(p, data, sizeof(data), 0644),
	    UC_OK);

	assert_int_equal(file_read(p, 100, &buf, &len), UC_OK);
	assert_int_equal(len, 100);
	assert_memory_equal(buf, data, 100);
	free(buf);
	buf = NULL;
	assert_int_equal(file_read(p, 1000, &buf, &len), UC_OK);
	assert_int_equal(len, 100);
	free(buf);
	buf = NULL;

	uc_clearerr();
	assert_int_equal(file_read(p, 99, &buf, &len), UC_E_INVALID);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_non_null(strstr(uc_errmsg(), "data"));
	assert_int_equal(file_read(p, 0, &buf, &len), UC_E_INVALID);
	assert_null(buf);

	assert_int_equal(file_write_atomic(e, "", 0, 0644), UC_OK);
	assert_int_equal(file_read(e, 10, &buf, &len), UC_OK);
	assert_int_equal(len, 0);
	free(buf);
	buf = NULL;

	assert_int_equal(file_read(m, 10, &buf, &len), UC_E_NOTFOUND);
	assert_null(buf);
	assert_int_equal(file_read(f->dir, 10, &buf, &len), UC_E_INVALID);
	assert_null(buf);
	free(p);
	free(e);
	free(m);
}

static void
test_dirs_and_paths(void **state)
{
	struct fixture *f = *state;
	char *p = in_dir(f, "x/y/z"), *j;
	struct stat sb;

	assert_int_equal(path_exists(p), 0);
	assert_int_equal(dir_make(p, 0700), UC_OK);
	assert_int_equal(path_exists(p), 1);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	/* Again: fine, it exists. */
	assert_int_equal(dir_make(p, 0700), UC_OK);
	/* A file in the way is an error. */
	j = in_dir(f, "file");
	assert_int_equal(file_write_excl(j, "x", 1, 0644), UC_OK);
	free(p);
	p = in_dir(f, "file/sub");
	assert_int_not_equal(dir_make(p, 0700), UC_OK);
	free(p);
	free(j);

	j = path_join("/a/b", "c.pem");
	assert_non_null(j);
	assert_string_equal(j, "/a/b/c.pem");
	free(j);
}

static void
test_hex_and_secrets(void **state)
{
	static const unsigned char b[] = { 0x00, 0x0f, 0xa5, 0xff };
	unsigned char *buf;
	char *s;

	(void)state;
	s = hex_encode(b, sizeof(b));
	assert_non_null(s);
	assert_string_equal(s, "000FA5FF");
	free(s);
	s = hex_encode(b, 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	secret_free(NULL);
	secret_free_buf(NULL, 10);
	s = strdup("hunter2");
	assert_non_null(s);
	secret_free(s);
	buf = malloc(8);
	assert_non_null(buf);
	memset(buf, 'k', 8);
	secret_free_buf(buf, 8);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* xxxxxx-xxxxxx-xxxxxx from the alphabet; counts symbols into count. */
static void
check_password(const char *pw, unsigned int count[256])
{
	size_t j;

	assert_non_null(pw);
	if (strlen(pw) != 20)
		fail_msg("password '%s': length %zu", pw, strlen(pw));
	for (j = 0; j < 20; j++) {
		if (j == 6 || j == 13) {
			if (pw[j] != '-')
				fail_msg("password '%s': no '-' at %zu", pw, j);
			continue;
		}
		if (pw[j] == '\0' || strchr(ALPHABET, pw[j]) == NULL)
			fail_msg("password '%s': bad character at %zu", pw, j);
		count[(unsigned char)pw[j]]++;
	}
}

static void
test_password_generate(void **state)
{
	static char *pw[NPASS];
	unsigned int count[256];
	size_t i, j, nsym = 0;
	double space = 1, bits80 = 1;

	(void)state;
	memset(count, 0, sizeof(count));
	for (i = 0; i < NPASS; i++) {
		pw[i] = NULL;
		assert_int_equal(password_generate(&pw[i]), UC_OK);
		check_password(pw[i], count);
	}

	/* Symbols per password and the entropy they give: >= 80 bits. */
	for (j = 0; pw[0][j] != '\0'; j++)
		if (pw[0][j] != '-')
			nsym++;
	assert_int_equal(nsym, 18);
	assert_int_equal(strlen(ALPHABET), 31);
	for (j = 0; j < nsym; j++)
		space *= (double)strlen(ALPHABET);	/* 31^18 */
	for (j = 0; j < 80; j++)
		bits80 *= 2;
	assert_true(space >= bits80);

	/* All unique. */
	qsort(pw, NPASS, sizeof(pw[0]), cmp_str);
	for (i = 1; i < NPASS; i++)
		assert_true(strcmp(pw[i - 1], pw[i]) != 0);
	for (i = 0; i < NPASS; i++)
		secret_free(pw[i]);
}

static void
test_password_distribution(void **state)
{
	unsigned int count[256];
	double chi2 = 0, expect, d;
	const char *c;
	char *pw;
	size_t i, total = 0;

	(void)state;
	memset(count, 0, sizeof(count));
	for (i = 0; i < NPASS_DIST; i++) {
		pw = NULL;
		assert_int_equal(password_generate(&pw), UC_OK);
		check_password(pw, count);
		secret_free(pw);
	}
	/*
	 * Every symbol appears, about equally often: chi-square over 31
	 * symbols (30 degrees of freedom) stays below 90, which a fair
	 * generator exceeds with a chance of about 1e-7.  Without rejection
	 * sampling (r % 31 of a byte) the expected value is near 1000.
	 */
	expect = (double)NPASS_DIST * 18.0 / 31.0;
	for (c = ALPHABET; *c != '\0'; c++) {
		assert_true(count[(unsigned char)*c] > 0);
		d = (double)count[(unsigned char)*c] - expect;
		chi2 += d * d / expect;
	}
	if (chi2 >= 90.0)
		print_error("chi-square %.1f\n", chi2);
	assert_true(chi2 < 90.0);
	for (i = 0; i < 256; i++)
		total += count[i];
	assert_int_equal(total, (size_t)NPASS_DIST * 18);
}

/* ---- clock -------------------------------------------------------------- */

static int64_t
fixed_clock(void)
{
	return INT64_C(1234567890);
}

static int64_t
other_clock(void)
{
	return INT64_C(4102444800);	/* 2100-01-01 */
}

static void
test_clock(void **state)
{
	int64_t now, sys;

	(void)state;
	unsetenv("USERCA_NOW");
	uc_clock_set(NULL);
	sys = (int64_t)time(NULL);
	now = uc_now();
	assert_true(now >= sys && now <= sys + 5);

	uc_clock_set(fixed_clock);
	assert_true(uc_now() == INT64_C(1234567890));
	uc_clock_set(other_clock);
	assert_true(uc_now() == INT64_C(4102444800));

	/* The hook wins over the environment. */
	assert_int_equal(setenv("USERCA_NOW", "1000000", 1), 0);
	assert_true(uc_now() == INT64_C(4102444800));
	uc_clock_set(NULL);
#ifdef USERCA_TEST_CLOCK
	assert_true(uc_now() == INT64_C(1000000));
#else
	/* Not a test build: the variable has no effect. */
	now = uc_now();
	assert_true(now >= sys && now <= sys + 5);
#endif
	/* A malformed value is ignored. */
	assert_int_equal(setenv("USERCA_NOW", "12abc", 1), 0);
	now = uc_now();
	assert_true(now >= sys && now <= sys + 5);
	assert_int_equal(setenv("USERCA_NOW", "-5", 1), 0);
	now = uc_now();
	assert_true(now >= sys && now <= sys + 5);
	unsetenv("USERCA_NOW");
}

static void
test_asn1_time(void **state)
{
	static const int64_t ts[] = {
		0,			/* 1970, UTCTime */
		INT64_C(951782400),	/* 2000-02-29 */
		INT64_C(1767225600),	/* 2026-01-01 */
		INT64_C(2524607999),	/* 2049-12-31T23:59:59, UTCTime */
		INT64_C(2524608000),	/* 2050, GeneralizedTime */
		INT64_C(253402300799),	/* 9999-12-31T23:59:59 */
	};
	ASN1_TIME *t;
	ASN1_STRING *bad;
	int64_t v;
	size_t i;

	(void)state;
	/* UTC whatever the local zone is (POSIX TZ: no tzdata needed). */
	assert_int_equal(setenv("TZ", "XST+05:30", 1), 0);
	tzset();
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		t = ASN1_TIME_set(NULL, (time_t)ts[i]);
		assert_non_null(t);
		v = -1;
		assert_int_equal(uc_asn1_time(t, &v), UC_OK);
		assert_true(v == ts[i]);
		ASN1_TIME_free(t);
	}
	/* A zone-less GeneralizedTime string. */
	t = ASN1_TIME_new();
	assert_non_null(t);
	assert_int_equal(ASN1_TIME_set_string(t, "20260101000000Z"), 1);
	assert_int_equal(uc_asn1_time(t, &v), UC_OK);
	assert_true(v == INT64_C(1767225600));
	ASN1_TIME_free(t);

	assert_int_equal(uc_asn1_time(NULL, &v), UC_E_INVALID);
	bad = ASN1_STRING_type_new(V_ASN1_UTCTIME);
	assert_non_null(bad);
	assert_int_equal(ASN1_STRING_set(bad, "not a time", -1), 1);
	v = 77;
	assert_int_equal(uc_asn1_time(bad, &v), UC_E_INVALID);
	assert_true(v == 77);	/* no fallback value written */
	ASN1_STRING_free(bad);
	unsetenv("TZ");
	tzset();
}

static void
test_time_iso(void **state)
{
	char buf[32], small[8];

	(void)state;
	assert_int_equal(setenv("TZ", "XST-09", 1), 0);
	tzset();
	uc_time_iso(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	uc_time_iso(INT64_C(1767225600), buf, sizeof(buf));
	assert_string_equal(buf, "2026-01-01T00:00:00Z");
	uc_time_iso(INT64_C(1795391999), buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-22T23:59:59Z");
	uc_time_iso(INT64_C(2524608000), buf, sizeof(buf));
	assert_string_equal(buf, "2050-01-01T00:00:00Z");
	assert_int_equal(strlen(buf), 20);
	/* 21 bytes is enough; fewer gives "" rather than a cut string. */
	uc_time_iso(INT64_C(1767225600), buf, 21);
	assert_string_equal(buf, "2026-01-01T00:00:00Z");
	memset(small, 'x', sizeof(small));
	uc_time_iso(INT64_C(1767225600), small, sizeof(small));
	assert_string_equal(small, "");
	unsetenv("TZ");
	tzset();
}

static void
test_errors(void **state)
{
	(void)state;
	uc_clearerr();
	assert_string_equal(uc_errmsg(), "");
	assert_int_equal(uc_seterr(UC_E_IO, "%s: %d", "file", 3), UC_E_IO);
	assert_string_equal(uc_errmsg(), "file: 3");
	assert_int_equal(uc_errprefix(UC_E_IO, "ctx"), UC_E_IO);
	assert_string_equal(uc_errmsg(), "ctx: file: 3");
	uc_clearerr();
	assert_string_equal(uc_errmsg(), "");
	assert_string_equal(uc_strerror(UC_OK), "success");
	assert_string_equal(uc_strerror(UC_E_PASSPHRASE), "passphrase");
	assert_string_equal(uc_strerror(12345), "unknown error");
}

/* path_split: parent and last name, for a staging folder beside a home. */
static void
test_path_split(void **state)
{
	static const struct {
		const char *in, *parent, *name;
	} ok[] = {
		{ "pki", ".", "pki" },		/* no slash at all */
		{ "pki/", ".", "pki" },
		{ "/pki", "/", "pki" },
		{ "/srv/ca/pki//", "/srv/ca", "pki" },
		{ "a/b", "a", "b" },
	};
	static const char *const bad[] = { "", "/", ".", "..", "a/.", "a/..",
	    "//" };
	char parent[PATH_MAX], name[NAME_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(path_split(ok[i].in, parent, sizeof(parent),
		    name, sizeof(name)), UC_OK);
		assert_string_equal(parent, ok[i].parent);
		assert_string_equal(name, ok[i].name);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(path_split(bad[i], parent, sizeof(parent),
		    name, sizeof(name)), UC_E_INVALID);
	/* A name that does not fit is refused, not cut. */
	assert_int_equal(path_split("a/abcdef", parent, sizeof(parent), name,
	    4), UC_E_INVALID);
	uc_clearerr();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_atomic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_fails_cleanly,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_afile, setup, teardown),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test_setup_teardown(test_write_excl, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_read, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dirs_and_paths, setup,
		    teardown),
		cmocka_unit_test(test_hex_and_secrets),
		cmocka_unit_test(test_password_generate),
		cmocka_unit_test(test_password_distribution),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_asn1_time),
		cmocka_unit_test(test_time_iso),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_path_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
