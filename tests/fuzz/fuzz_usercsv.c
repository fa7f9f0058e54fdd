/*
 * fuzz_usercsv.c: libFuzzer harness for the users CSV parser
 * (usercsv_new / usercsv_feed / usercsv_finish).
 *
 * Every input is parsed twice: once in one piece, once cut into a few
 * chunks at points taken from the data (or byte by byte), which exercises
 * partial lines, a BOM split across reads and quoted fields that span
 * reads.  The callbacks touch every field (strlen) so that ASan sees any
 * bad pointer, and fold what they get into a digest; the two parses must
 * produce the same digest (how the bytes arrive must not change the
 * result) and as many callbacks as usercsv_rows() says there were rows.
 *
 * USERCA_FUZZ_STRICT=1 also traps on a reported line number below 1 or
 * going backwards.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usercsv.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct tally {
	uint64_t	digest;
	long		rows, errs, lastline;
	int		strict;
};

static void
mix(struct tally *t, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	/* FNV-1a: order-sensitive, enough to tell two parses apart */
	for (i = 0; i < len; i++) {
		t->digest ^= b[i];
		t->digest *= 0x100000001b3ULL;
	}
}

static void
field(struct tally *t, const char *s)
{
	size_t len;

	if (s == NULL) {
		mix(t, "\1", 1);
		return;
	}
	len = strlen(s);
	mix(t, &len, sizeof(len));
	mix(t, s, len);
}

static void
check_line(struct tally *t, long line)
{
	if (t->strict && (line < 1 || line < t->lastline))
		abort();
	t->lastline = line;
}

static void
on_row(const struct user_row *r, void *arg)
{
	struct tally *t = arg;

	t->rows++;
	check_line(t, r->line);
	mix(t, "R", 1);
	mix(t, &r->line, sizeof(r->line));
	mix(t, &r->p12_format, sizeof(r->p12_format));
	/* a row that reaches this callback has passed validation */
	if (r->id.username == NULL || r->id.username[0] == '\0')
		abort();
	field(t, r->id.username);
	field(t, r->id.email);
	field(t, r->id.name);
	field(t, r->id.upn);
	field(t, r->id.ou);
}

static void
on_err(long line, const char *msg, void *arg)
{
	struct tally *t = arg;

	t->errs++;
	check_line(t, line);
	mix(t, "E", 1);
	mix(t, &line, sizeof(line));
	field(t, msg);
}

/* Parse data fed in the given pieces (cuts: sorted offsets). */
static void
parse(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts,
    struct tally *t)
{
	struct usercsv *u;
	size_t i, at = 0, next;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->digest = 0xcbf29ce484222325ULL;
	t->strict = getenv("USERCA_FUZZ_STRICT") != NULL;
	if (usercsv_new(on_row, on_err, t, &u) != 0)
		abort();
	for (i = 0; i <= ncuts && rc == 0; i++) {
		next = i < ncuts ? cuts[i] : size;
		if (next < at)
			next = at;
		rc = usercsv_feed(u, data + at, next - at);
		at = next;
	}
	if (rc == 0)
		rc = usercsv_finish(u);
	mix(t, &rc, sizeof(rc));
	/* one callback per data row, valid or not (not after a fatal error:
	 * the row in hand when it struck is counted but never reported) */
	if (rc == 0 && usercsv_rows(u) != t->rows + t->errs)
		abort();
	usercsv_free(u);
}

#define MAXCUTS	4

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally whole, pieces;
	size_t cuts[MAXCUTS], *many = NULL, n = 0, i, j, c;

	parse(data, size, NULL, 0, &whole);

	if (size >= 1 && (data[0] & 0xe0) == 0xe0 && size <= 4096) {
		/* byte by byte */
		if ((many = malloc(size * sizeof(*many))) == NULL)
			return 0;
		for (i = 0; i < size; i++)
			many[i] = i + 1;
		parse(data, size, many, size, &pieces);
		free(many);
	} else {
		/* up to four cuts, from the first bytes */
		if (size >= 1)
			n = data[0] % (MAXCUTS + 1);
		for (i = 0; i < n; i++) {
			c = 0;
			if (size > 2 * i + 2)
				c = (size_t)data[2 * i + 1] << 8 | data[2 * i + 2];
			cuts[i] = size > 0 ? c % (size + 1) : 0;
		}
		for (i = 1; i < n; i++)		/* insertion sort */
			for (j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				c = cuts[j];
				cuts[j] = cuts[j - 1];
				cuts[j - 1] = c;
			}
		parse(data, size, cuts, n, &pieces);
	}
	/* how the bytes arrive must not change what is parsed */
	if (whole.digest != pieces.digest || whole.rows != pieces.rows ||
	    whole.errs != pieces.errs)
		abort();
	return 0;
}
