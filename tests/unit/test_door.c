/*
 * test_door.c: the messages between userca-enrolld's monitor and its
 * network child (enroll/door.c).  Headers: version, known types, length
 * limit and the reserved word are checked.  Requests: each field's limit,
 * token and serial shapes, methods, nothing missing and nothing left over
 * (every truncation of a good message is refused); SCEP and EST's
 * REDEEM_CSR, BY_CERT and CERT the same.  Answers: the child's side
 * through door_local() (LOOKUP with a renewal link's certificate, the
 * protocol doors' redemptions, CERT), and a malformed answer is an error.
 * EPOCH: one non-zero number, a push only (never an answer nor a request).
 * The child's OCSP cache (ocspcache.c): off until the first epoch, keeps
 * only nonce-less successful answers whose two epochs equal its own, a
 * newer epoch (pushed or on an answer) hides every older entry, max-age
 * ends an entry, a different request never matches.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
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

/* A REDEEM_CSR body: token, door, has_user, user, CSR. */
static void
redeem_csr(struct ucbuf *b, const char *tok, uint64_t door, uint64_t has,
    const char *user, size_t csrlen)
{
	static const unsigned char csr[64] = { 0x30 };

	ucbuf_reset(b);
	door_put_str(b, tok);
	door_put_u64(b, door);
	door_put_u64(b, has);
	door_put_str(b, user);
	door_put_bytes(b, csr, csrlen);
}

/* A BY_CERT body: kind, certificate, CSR. */
static void
by_cert(struct ucbuf *b, uint64_t kind, size_t certlen, size_t csrlen)
{
	static const unsigned char der[64] = { 0x30 };

	ucbuf_reset(b);
	door_put_u64(b, kind);
	door_put_bytes(b, der, certlen);
	door_put_bytes(b, der, csrlen);
}

static void
test_protocol(void **state)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct door_request q;
	char longuser[DOOR_USER_MAX + 2];
	size_t n;

	(void)state;
	redeem_csr(&b, TOK, DOOR_EST, 1, "alice", 64);
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_OK);
	assert_string_equal(q.token, TOK);
	assert_int_equal(q.method, DOOR_EST);
	assert_int_equal(q.has_user, 1);
	assert_string_equal(q.user, "alice");
	assert_int_equal(q.csrlen, 64);
	door_request_clear(&q);
	for (n = 0; n < b.len; n++)
		assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, n,
		    &q), UC_E_INVALID);
	/* EST Basic with an empty user stays a user (never "anyone"). */
	redeem_csr(&b, TOK, DOOR_EST, 1, "", 64);
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_OK);
	assert_int_equal(q.has_user, 1);
	door_request_clear(&q);
	redeem_csr(&b, TOK, DOOR_SCEP, 1, "alice", 64);	/* SCEP: no user */
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem_csr(&b, TOK, DOOR_EST, 0, "alice", 64);	/* a user, unflagged */
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem_csr(&b, TOK, 0, 0, "", 64);
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem_csr(&b, TOK, DOOR_EST + 1, 0, "", 64);
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem_csr(&b, TOK, DOOR_SCEP, 0, "", 0);		/* no CSR */
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_E_INVALID);
	redeem_csr(&b, "to/ken", DOOR_SCEP, 0, "", 64);
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_E_INVALID);
	memset(longuser, 'u', sizeof(longuser) - 1);
	longuser[sizeof(longuser) - 1] = '\0';
	redeem_csr(&b, TOK, DOOR_EST, 1, longuser, 64);
	assert_int_equal(door_parse_request(DOOR_REDEEM_CSR, b.p, b.len, &q),
	    UC_E_INVALID);
	by_cert(&b, DOOR_EST_RENEW, 64, 64);
	assert_int_equal(door_parse_request(DOOR_BY_CERT, b.p, b.len, &q),
	    UC_OK);
	assert_int_equal(q.method, DOOR_EST_RENEW);
	assert_int_equal(q.certlen, 64);
	assert_int_equal(q.csrlen, 64);
	door_request_clear(&q);
	for (n = 0; n < b.len; n++)
		assert_int_equal(door_parse_request(DOOR_BY_CERT, b.p, n, &q),
		    UC_E_INVALID);
	by_cert(&b, 0, 64, 64);
	assert_int_equal(door_parse_request(DOOR_BY_CERT, b.p, b.len, &q),
	    UC_E_INVALID);
	by_cert(&b, DOOR_EST_CERT + 1, 64, 64);
	assert_int_equal(door_parse_request(DOOR_BY_CERT, b.p, b.len, &q),
	    UC_E_INVALID);
	by_cert(&b, DOOR_SCEP_RENEW, 0, 64);		/* no certificate */
	assert_int_equal(door_parse_request(DOOR_BY_CERT, b.p, b.len, &q),
	    UC_E_INVALID);
	by_cert(&b, DOOR_SCEP_RENEW, 64, 0);		/* no CSR */
	assert_int_equal(door_parse_request(DOOR_BY_CERT, b.p, b.len, &q),
	    UC_E_INVALID);
	ucbuf_reset(&b);
	door_put_str(&b, "0A1B2C");
	assert_int_equal(door_parse_request(DOOR_CERT, b.p, b.len, &q), UC_OK);
	assert_string_equal(q.serial, "0A1B2C");
	door_request_clear(&q);
	ucbuf_reset(&b);
	door_put_str(&b, "0A1B2Z");
	assert_int_equal(door_parse_request(DOOR_CERT, b.p, b.len, &q),
	    UC_E_INVALID);
	ucbuf_free(&b);
}

/* A SCEP_TX body: transactionID, token, signer certificate, CSR. */
static void
scep_tx(struct ucbuf *b, const char *tid, const char *tok, size_t certlen,
    size_t csrlen)
{
	static const unsigned char der[64] = { 0x30 };

	ucbuf_reset(b);
	door_put_str(b, tid);
	door_put_str(b, tok);
	door_put_bytes(b, der, certlen);
	door_put_bytes(b, der, csrlen);
}

/* SCEP_TX: exactly one of token and certificate; SCEP_POLL: 32 bytes. */
static void
test_scep(void **state)
{
	static const unsigned char key[33];
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct door_request q;
	char longtid[DOOR_TID_MAX + 2];
	size_t n;

	(void)state;
	scep_tx(&b, "tx-1", TOK, 0, 64);		/* PKCSReq */
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_OK);
	assert_string_equal(q.tid, "tx-1");
	assert_string_equal(q.token, TOK);
	assert_int_equal(q.certlen, 0);
	assert_int_equal(q.csrlen, 64);
	door_request_clear(&q);
	for (n = 0; n < b.len; n++)
		assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, n, &q),
		    UC_E_INVALID);
	scep_tx(&b, "tx 2 (renewal)", "", 64, 64);	/* RenewalReq */
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_OK);
	assert_null(q.token);
	assert_int_equal(q.certlen, 64);
	door_request_clear(&q);
	scep_tx(&b, "tx-3", TOK, 64, 64);		/* both */
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_E_INVALID);
	scep_tx(&b, "tx-3", "", 0, 64);			/* neither */
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_E_INVALID);
	scep_tx(&b, "tx-3", TOK, 0, 0);			/* no CSR */
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_E_INVALID);
	scep_tx(&b, "", TOK, 0, 64);			/* no tid */
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_E_INVALID);
	scep_tx(&b, "tx\n4", TOK, 0, 64);		/* not printable */
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_E_INVALID);
	scep_tx(&b, "tx-5", "to/ken", 0, 64);
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_E_INVALID);
	memset(longtid, 't', sizeof(longtid) - 1);
	longtid[sizeof(longtid) - 1] = '\0';
	scep_tx(&b, longtid, TOK, 0, 64);
	assert_int_equal(door_parse_request(DOOR_SCEP_TX, b.p, b.len, &q),
	    UC_E_INVALID);
	ucbuf_reset(&b);
	door_put_str(&b, "tx-1");
	door_put_bytes(&b, key, 32);
	assert_int_equal(door_parse_request(DOOR_SCEP_POLL, b.p, b.len, &q),
	    UC_OK);
	assert_string_equal(q.tid, "tx-1");
	assert_non_null(q.keyhash);
	door_request_clear(&q);
	for (n = 0; n < b.len; n++)
		assert_int_equal(door_parse_request(DOOR_SCEP_POLL, b.p, n, &q),
		    UC_E_INVALID);
	ucbuf_reset(&b);
	door_put_str(&b, "tx-1");
	door_put_bytes(&b, key, 33);
	assert_int_equal(door_parse_request(DOOR_SCEP_POLL, b.p, b.len, &q),
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
	door_put_str(&b, "0A1B");		/* a renewal link */
	door_put_u64(&b, 1790000000);
	door_put_u64(&b, 1);
	reply = b.p;
	reply_len = b.len;
	/* A token of another shape goes as "!" (unknown), never as is. */
	assert_int_equal(door_lookup(d, "bad token/..", &ti), UC_OK);
	assert_int_equal(ti.state, TOKEN_VALID);
	assert_string_equal(ti.user.username, "alice");
	assert_string_equal(ti.user.email, "alice@example.org");
	assert_null(ti.user.name);
	assert_int_equal(ti.expires_at, 1800000000);
	assert_string_equal(ti.renews, "0A1B");
	assert_int_equal(ti.renews_not_after, 1790000000);
	assert_int_equal(ti.renews_revoke_old, 1);
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

/* The answer a redemption gets: issued, with a chain. */
static void
issued_answer(struct ucbuf *b, int superseded)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\n";

	ucbuf_reset(b);
	door_put_u64(b, 0);
	door_put_u64(b, TOKEN_VALID);
	door_put_str(b, "");
	door_put_str(b, "0A1B");
	door_put_u64(b, 1800000000);
	door_put_bytes(b, pem, sizeof(pem) - 1);
	door_put_str(b, "");
	door_put_u64(b, 0);
	door_put_u64(b, (uint64_t)superseded);
	door_put_u64(b, 0);
	door_put_str(b, "");
	door_put_str(b, "");
	door_put_str(b, "");
	door_put_str(b, "");
}

static void
test_protocol_answers(void **state)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct door_redeem_out o;
	static const unsigned char csr[8] = { 0x30, 6 }, cert[8] = { 0x30, 6 };
	unsigned char *der = NULL;
	char longuser[DOOR_USER_MAX + 2];
	size_t len = 0;
	struct door *d;

	(void)state;
	assert_non_null(d = door_local(canned, NULL));
	issued_answer(&b, 1);
	reply = b.p;
	reply_len = b.len;
	/* What the child sends parses (canned() checks), answers come back. */
	assert_int_equal(door_redeem_csr(d, TOK, "alice", DOOR_EST, csr,
	    sizeof(csr), &o), UC_OK);
	assert_int_equal(o.rc, UC_OK);
	assert_string_equal(o.serial, "0A1B");
	assert_int_equal(o.superseded, 1);
	door_redeem_out_clear(&o);
	/* SCEP's challenge of another shape goes as "!". */
	assert_int_equal(door_redeem_csr(d, "not a token", NULL, DOOR_SCEP, csr,
	    sizeof(csr), &o), UC_OK);
	door_redeem_out_clear(&o);
	assert_int_equal(door_redeem_csr(d, TOK, "", DOOR_EST, csr,
	    sizeof(csr), &o), UC_OK);
	door_redeem_out_clear(&o);
	/* A user no account has is refused here, nothing sent. */
	memset(longuser, 'u', sizeof(longuser) - 1);
	longuser[sizeof(longuser) - 1] = '\0';
	reply_len = 0;
	assert_int_equal(door_redeem_csr(d, TOK, longuser, DOOR_EST, csr,
	    sizeof(csr), &o), UC_OK);
	assert_int_equal(o.rc, UC_E_NOTFOUND);
	door_redeem_out_clear(&o);
	reply_len = b.len;
	assert_int_equal(door_by_cert(d, DOOR_SCEP_RENEW, cert, sizeof(cert),
	    csr, sizeof(csr), &o), UC_OK);
	assert_string_equal(o.serial, "0A1B");
	door_redeem_out_clear(&o);
	/* Issued without a chain: malformed. */
	reply_len = b.len - 1;
	assert_int_equal(door_by_cert(d, DOOR_EST_CERT, cert, sizeof(cert),
	    csr, sizeof(csr), &o), UC_E_IO);
	/* CERT: found, not found, and a serial of another shape. */
	ucbuf_reset(&b);
	door_put_u64(&b, 1);
	door_put_bytes(&b, cert, sizeof(cert));
	reply = b.p;
	reply_len = b.len;
	assert_int_equal(door_cert(d, "0A1B", &der, &len), UC_OK);
	assert_int_equal(len, sizeof(cert));
	assert_memory_equal(der, cert, sizeof(cert));
	free(der);
	assert_int_equal(door_cert(d, "../x", &der, &len), UC_E_NOTFOUND);
	ucbuf_reset(&b);
	door_put_u64(&b, 0);
	door_put_bytes(&b, NULL, 0);
	reply = b.p;
	reply_len = b.len;
	assert_int_equal(door_cert(d, "0A1B", &der, &len), UC_E_NOTFOUND);
	assert_null(der);
	door_free(d);
	ucbuf_free(&b);
}

static void
test_epoch(void **state)
{
	struct ucbuf b = UCBUF_INIT(0, 0);
	struct door_request q;
	struct door_hdr h;
	unsigned char hb[DOOR_HDRLEN], extra[9] = { 0 };
	uint64_t e;

	(void)state;
	door_epoch_put(&b, 42);
	assert_int_equal(door_epoch_parse(b.p, b.len, &e), UC_OK);
	assert_true(e == 42);
	assert_int_not_equal(door_epoch_parse(b.p, b.len - 1, &e), UC_OK);
	assert_int_not_equal(door_epoch_parse(extra, 9, &e), UC_OK);
	assert_int_not_equal(door_epoch_parse(extra, 8, &e), UC_OK); /* 0 */
	/* A push: never an answer, never the child's request. */
	hdr(DOOR_VERSION, DOOR_EPOCH, 8, 0, hb);
	assert_int_equal(door_hdr_parse(hb, DOOR_MAX_BODY, &h), UC_OK);
	hdr(DOOR_VERSION, DOOR_EPOCH | DOOR_ANSWER, 8, 0, hb);
	assert_int_not_equal(door_hdr_parse(hb, DOOR_MAX_BODY, &h), UC_OK);
	assert_int_not_equal(door_parse_request(DOOR_EPOCH, b.p, b.len, &q),
	    UC_OK);
	hdr(1, DOOR_OCSP, 8, 0, hb);	/* the layout before epochs */
	assert_int_not_equal(door_hdr_parse(hb, DOOR_MAX_BODY, &h), UC_OK);
	ucbuf_free(&b);
}

static void
answer_of(struct ocsp_answer *a, uint64_t e0, uint64_t e1, int nonce)
{
	static unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };

	memset(a, 0, sizeof(*a));
	a->der = der;
	a->len = sizeof(der);
	a->status = AOCSP_SUCCESSFUL;
	a->nonce = nonce;
	a->good = 1;
	a->this_update = 1000;
	a->next_update = 4600;
	a->max_age = 60;
	a->epoch = e0;
	a->epoch_after = e1;
	snprintf(a->etag, sizeof(a->etag), "\"e\"");
}

static void
test_ocsp_cache(void **state)
{
	static const unsigned char req[] = "request-1", req2[] = "request-2";
	struct ocsp_cache *c;
	struct ocsp_answer a;
	struct ocsp_hit h;

	(void)state;
	assert_non_null(c = ocsp_cache_new());
	/* Off until the monitor's first epoch. */
	answer_of(&a, 5, 5, 0);
	ocsp_cache_put(c, req, sizeof(req), &a, 1000);
	assert_false(ocsp_cache_get(c, req, sizeof(req), 1000, &h));
	assert_true(ocsp_cache_current(c) == 0);
	ocsp_cache_epoch(c, 5);
	ocsp_cache_put(c, req, sizeof(req), &a, 1000);
	assert_true(ocsp_cache_get(c, req, sizeof(req), 1010, &h));
	assert_int_equal(h.max_age, 50);
	assert_int_equal(h.good, 1);
	assert_string_equal(h.etag, "\"e\"");
	assert_int_equal(memcmp(h.ans->data, a.der, a.len), 0);
	blob_unref(h.ans);
	/* Another request, the same bytes but shorter: no match. */
	assert_false(ocsp_cache_get(c, req2, sizeof(req2), 1010, &h));
	assert_false(ocsp_cache_get(c, req, sizeof(req) - 1, 1010, &h));
	/* max-age over. */
	assert_false(ocsp_cache_get(c, req, sizeof(req), 1060, &h));
	/* Not kept: a commit seen during the lookup, a nonce, an old epoch. */
	ocsp_cache_put(c, req2, sizeof(req2), (answer_of(&a, 5, 5, 1), &a),
	    1000);
	assert_false(ocsp_cache_get(c, req2, sizeof(req2), 1000, &h));
	answer_of(&a, 4, 4, 0);
	ocsp_cache_put(c, req2, sizeof(req2), &a, 1000);
	assert_false(ocsp_cache_get(c, req2, sizeof(req2), 1000, &h));
	answer_of(&a, 5, 6, 0);
	ocsp_cache_put(c, req2, sizeof(req2), &a, 1000);
	assert_false(ocsp_cache_get(c, req2, sizeof(req2), 1000, &h));
	/* ... and that answer moved the epoch: what was kept is gone. */
	assert_true(ocsp_cache_current(c) == 6);
	assert_false(ocsp_cache_get(c, req, sizeof(req), 1000, &h));
	answer_of(&a, 6, 6, 0);
	ocsp_cache_put(c, req, sizeof(req), &a, 1000);
	assert_true(ocsp_cache_get(c, req, sizeof(req), 1000, &h));
	blob_unref(h.ans);
	/* A push moves it on; an older one never moves it back. */
	ocsp_cache_epoch(c, 7);
	assert_false(ocsp_cache_get(c, req, sizeof(req), 1000, &h));
	ocsp_cache_epoch(c, 3);
	assert_true(ocsp_cache_current(c) == 7);
	ocsp_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_redeem),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_protocol),
		cmocka_unit_test(test_scep),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_protocol_answers),
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_ocsp_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
