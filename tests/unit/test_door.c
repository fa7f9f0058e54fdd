/*
 * test_door.c: the messages between userca-enrolld's monitor and its
 * network child (enroll/door.c).  Headers: version, known types, length
 * limit and the reserved word are checked.  Requests: each field's limit,
 * token and serial shapes, methods, nothing missing and nothing left over
 * (every truncation of a good message is refused).  Answers: the child's
 * side through door_local(), and a malformed answer is an error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "door.h"
#include "enrolld.h"

#define TOK	"AbCdEfGhIjKlMnOpQrStUv"

static void
hdr(uint16_t ver, uint16_t type, uint32_t len, uint32_t zero,
    unsigned char out[DOOR_HDRLEN])
{
	struct door_hdr h = { ver, type, 7, len, zero };

	door_hdr_put(&h, out);
	if (zero != 0) {
		out[12] = (unsigned char)(zero >> 24);
		out[15] = (unsigned char)zero;
	}
}

static void
test_header(void **state)
{
	unsigned char b[DOOR_HDRLEN];
	struct door_hdr h;

	(void)state;
	hdr(DOOR_VERSION, DOOR_REDEEM, 100, 0, b);
	assert_int_equal(door_hdr_parse(b, 1000, &h), UC_OK);
	assert_int_equal(h.type, DOOR_REDEEM);
	assert_int_equal(h.id, 7);
	assert_int_equal(h.len, 100);
	hdr(DOOR_VERSION + 1, DOOR_REDEEM, 100, 0, b);
	assert_int_equal(door_hdr_parse(b, 1000, &h), UC_E_INVALID);
	hdr(DOOR_VERSION, 0, 100, 0, b);
	assert_int_equal(door_hdr_parse(b, 1000, &h), UC_E_INVALID);
	hdr(DOOR_VERSION, 0x42, 100, 0, b);
	assert_int_equal(door_hdr_parse(b, 1000, &h), UC_E_INVALID);
	hdr(DOOR_VERSION, DOOR_ANSWER | DOOR_HELLO, 1, 0, b);
	assert_int_equal(door_hdr_parse(b, 1000, &h), UC_E_INVALID);
	hdr(DOOR_VERSION, DOOR_REDEEM, 1001, 0, b);
	assert_int_equal(door_hdr_parse(b, 1000, &h), UC_E_INVALID);
	hdr(DOOR_VERSION, DOOR_REDEEM, 10, 1, b);
	assert_int_equal(door_hdr_parse(b, 1000, &h), UC_E_INVALID);
}

/* A REDEEM body: token, method, key, retry. */
static void
redeem(struct ucbuf *b, const char *tok, uint64_t method, size_t keylen,
    const char *retry)
{
	static const unsigned char key[64] = { 0x30 };

	ucbuf_reset(b);
	door_put_str(b, tok);
	door_put_u64(b, method);
	door_put_bytes(b, key, keylen);
	door_put_str(b, retry);
}

static void
test_redeem(void **state)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct door_request q;
	size_t n;

	(void)state;
	redeem(&b, TOK, DOOR_P12, 64, "ZZZZZZZZZZZZZZZZZZZZZZ");
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_OK);
	assert_string_equal(q.token, TOK);
	assert_int_equal(q.method, DOOR_P12);
	assert_int_equal(q.spkilen, 64);
	assert_string_equal(q.retry, "ZZZZZZZZZZZZZZZZZZZZZZ");
	door_request_clear(&q);
	/* Every truncation, and one byte too many, is malformed. */
	for (n = 0; n < b.len; n++)
		assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, n, &q),
		    UC_E_INVALID);
	ucbuf_add(&b, "x", 1);
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	/* The same body is not another type's. */
	redeem(&b, TOK, DOOR_CSR, 64, "");
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_OK);
	door_request_clear(&q);
	assert_int_equal(door_parse_request(DOOR_LOOKUP, b.p, b.len, &q),
	    UC_E_INVALID);
	assert_int_equal(door_parse_request(DOOR_HELLO, b.p, b.len, &q),
	    UC_E_INVALID);
	/* Fields the monitor refuses. */
	redeem(&b, TOK, 0, 64, "");
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem(&b, TOK, DOOR_PROFILE + 1, 64, "");
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem(&b, TOK, DOOR_CSR, 0, "");		/* no key */
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem(&b, TOK, DOOR_CSR, 64, TOK);		/* retry of a CSR */
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem(&b, "to/ken", DOOR_P12, 64, "");	/* not base64url */
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem(&b, "", DOOR_P12, 64, "");
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem(&b, TOK TOK TOK, DOOR_P12, 64, "");	/* 66 characters */
	assert_int_equal(door_parse_request(DOOR_REDEEM, b.p, b.len, &q),
	    UC_E_INVALID);
	ucbuf_free(&b);
}

static void
test_small(void **state)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct door_request q;
	static const unsigned char nul[] = { 0, 0, 0, 3, 'a', 0, 'b' };

	(void)state;
	door_put_str(&b, "0A1B2C");
	door_put_u64(&b, 1);
	assert_int_equal(door_parse_request(DOOR_DELIVERED, b.p, b.len, &q),
	    UC_OK);
	assert_string_equal(q.serial, "0A1B2C");
	assert_int_equal(q.delivered, 1);
	door_request_clear(&q);
	ucbuf_reset(&b);
	door_put_str(&b, "0a1b2c");			/* our serials: upper */
	door_put_u64(&b, 1);
	assert_int_equal(door_parse_request(DOOR_DELIVERED, b.p, b.len, &q),
	    UC_E_INVALID);
	ucbuf_reset(&b);
	door_put_str(&b, "0A1B2C");
	door_put_u64(&b, 2);				/* a flag */
	assert_int_equal(door_parse_request(DOOR_DELIVERED, b.p, b.len, &q),
	    UC_E_INVALID);
	/* A string with a NUL inside. */
	assert_int_equal(door_parse_request(DOOR_LOOKUP, nul, sizeof(nul), &q),
	    UC_E_INVALID);
	/* METRICS has no body. */
	assert_int_equal(door_parse_request(DOOR_METRICS, NULL, 0, &q), UC_OK);
	assert_int_equal(door_parse_request(DOOR_METRICS, nul, 1, &q),
	    UC_E_INVALID);
	ucbuf_free(&b);
}

static const unsigned char	*reply;
static size_t			 reply_len;

static int
canned(void *arg, uint16_t type, const unsigned char *body, size_t len,
    struct ucbuf *out)
{
	struct door_request q;
	int rc;

	(void)arg;
	/* What the child sent parses as the monitor would parse it. */
	if ((rc = door_parse_request(type, body, len, &q)) != UC_OK)
		return rc;
	door_request_clear(&q);
	return ucbuf_add(out, reply, reply_len);
}

static void
test_answers(void **state)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct token_info ti;
	struct door *d;

	(void)state;
	assert_non_null(d = door_local(canned, NULL));
	door_put_u64(&b, TOKEN_VALID);
	door_put_u64(&b, 1800000000);
	door_put_u64(&b, 0);
	door_put_str(&b, "alice");
	door_put_str(&b, "alice@example.org");
	door_put_str(&b, "");
	door_put_str(&b, "");
	reply = b.p;
	reply_len = b.len;
	/* A token of another shape goes as "!" (unknown), never as is. */
	assert_int_equal(door_lookup(d, "bad token/..", &ti), UC_OK);
	assert_int_equal(ti.state, TOKEN_VALID);
	assert_string_equal(ti.user.username, "alice");
	assert_string_equal(ti.user.email, "alice@example.org");
	assert_null(ti.user.name);
	assert_int_equal(ti.expires_at, 1800000000);
	token_info_clear(&ti);
	/* One byte short, or a state out of range: an error. */
	reply_len = b.len - 1;
	assert_int_equal(door_lookup(d, TOK, &ti), UC_E_IO);
	b.p[7] = 9;
	reply_len = b.len;
	assert_int_equal(door_lookup(d, TOK, &ti), UC_E_IO);
	door_free(d);
	ucbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_redeem),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
