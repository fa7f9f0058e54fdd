/*
 * fuzz_door.c: libFuzzer harness for the monitor's parser of the network
 * child's messages (enroll/door.c), and for the child's parsers of the
 * monitor's answers and pushes.
 *
 * The input is read as the monitor reads its socketpair: headers
 * (door_hdr_parse) and bodies (door_parse_request), one message after the
 * other.  The same bytes then stand in for the monitor's answer to each
 * request (a door_local() whose answer is the input: LOOKUP, REDEEM,
 * REDEEM_CSR, BY_CERT, CERT, SCEP_TX, SCEP_POLL, OCSP, METRICS) and for HELLO,
 * PUBLISHED
 * and EPOCH bodies.  Invariants: nothing crashes or leaks; a request that
 * parses has the fields its type needs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "door.h"
#include "enrolld.h"

static const uint8_t	*answer;
static size_t		 answer_len;

static int
local_answer(void *arg, uint16_t type, const unsigned char *body, size_t len,
    struct ucbuf *reply)
{
	(void)arg;
	(void)type;
	(void)body;
	(void)len;
	return ucbuf_add(reply, answer, answer_len);
}

static void
requests(const uint8_t *p, size_t n)
{
	struct door_request q;
	struct door_hdr h;

	while (n >= DOOR_HDRLEN) {
		if (door_hdr_parse(p, DOOR_MAX_REQUEST, &h) != UC_OK)
			return;	/* the monitor kills the child here */
		p += DOOR_HDRLEN;
		n -= DOOR_HDRLEN;
		if (h.len > n)
			return;
		if (door_parse_request(h.type, p, h.len, &q) == UC_OK) {
			if ((q.type == DOOR_LOOKUP || q.type == DOOR_REDEEM) &&
			    (q.token == NULL || q.token[0] == '\0'))
				abort();
			if (q.type == DOOR_REDEEM && (q.spkilen == 0 ||
			    q.retry == NULL))
				abort();
			if ((q.type == DOOR_DELIVERED || q.type == DOOR_CERT) &&
			    q.serial == NULL)
				abort();
			if ((q.type == DOOR_REDEEM_CSR ||
			    q.type == DOOR_BY_CERT) && (q.csrlen == 0 ||
			    q.method == 0))
				abort();
			if (q.type == DOOR_REDEEM_CSR && (q.token == NULL ||
			    q.user == NULL))
				abort();
			if (q.type == DOOR_BY_CERT && q.certlen == 0)
				abort();
			if ((q.type == DOOR_SCEP_TX ||
			    q.type == DOOR_SCEP_POLL) && (q.tid == NULL ||
			    q.tid[0] == '\0'))
				abort();
			if (q.type == DOOR_SCEP_TX && (q.csrlen == 0 ||
			    (q.token == NULL) == (q.certlen == 0)))
				abort();
			if (q.type == DOOR_SCEP_POLL && q.keyhash == NULL)
				abort();
			door_request_clear(&q);
		}
		p += h.len;
		n -= h.len;
	}
}

static void
answers(const uint8_t *data, size_t size)
{
	struct door_redeem_out o;
	struct ocsp_answer a;
	struct ocsp_cache *c;
	struct ocsp_hit h;
	struct token_info ti;
	struct door *d;
	unsigned char *der;
	size_t derlen;

	answer = data;
	answer_len = size;
	if ((d = door_local(local_answer, NULL)) == NULL)
		return;
	if (door_lookup(d, "AAAAAAAAAAAAAAAAAAAAAA", &ti) == UC_OK)
		token_info_clear(&ti);
	if (door_redeem(d, "AAAAAAAAAAAAAAAAAAAAAA", DOOR_P12,
	    (const unsigned char *)"k", 1, NULL, &o) == UC_OK) {
		if (o.rc == UC_OK && (o.chain == NULL || o.serial == NULL))
			abort();
		door_redeem_out_clear(&o);
	}
	if (door_redeem_csr(d, "AAAAAAAAAAAAAAAAAAAAAA", "alice", DOOR_EST,
	    (const unsigned char *)"c", 1, &o) == UC_OK) {
		if (o.rc == UC_OK && (o.chain == NULL || o.serial == NULL))
			abort();
		door_redeem_out_clear(&o);
	}
	if (door_by_cert(d, DOOR_SCEP_RENEW, (const unsigned char *)"x", 1,
	    (const unsigned char *)"c", 1, &o) == UC_OK) {
		if (o.rc == UC_OK && (o.chain == NULL || o.serial == NULL))
			abort();
		door_redeem_out_clear(&o);
	}
	if (door_scep_tx(d, "tx-1", "AAAAAAAAAAAAAAAAAAAAAA", NULL, 0,
	    (const unsigned char *)"c", 1, &o) == UC_OK) {
		if (o.rc == UC_OK && (o.chain == NULL || o.serial == NULL))
			abort();
		door_redeem_out_clear(&o);
	}
	if (door_scep_poll(d, "tx-1", (const unsigned char *)
	    "0123456789abcdef0123456789abcdef", &der, &derlen) == UC_OK) {
		if (der == NULL || derlen == 0)
			abort();
		free(der);
	}
	if (door_cert(d, "0A1B", &der, &derlen) == UC_OK) {
		if (der == NULL || derlen == 0)
			abort();
		free(der);
	}
	if (door_ocsp(d, (const unsigned char *)"r", 1, &a) == UC_OK) {
		if (a.der == NULL)
			abort();
		/* Whatever the monitor said, the child's cache takes it. */
		if ((c = ocsp_cache_new()) != NULL) {
			ocsp_cache_epoch(c, 1);
			ocsp_cache_put(c, (const unsigned char *)"r", 1, &a,
			    a.this_update);
			if (ocsp_cache_get(c, (const unsigned char *)"r", 1,
			    a.this_update, &h)) {
				if (h.ans == NULL || h.max_age <= 0)
					abort();
				blob_unref(h.ans);
			}
			ocsp_cache_free(c);
		}
		ocsp_answer_clear(&a);
	}
	free(door_metrics(d));
	door_free(d);
}

static void
pushes(const uint8_t *data, size_t size)
{
	struct enrolld d;
	unsigned char *cert, *key;
	size_t cl, kl;
	uint64_t e;
	int quiet;

	if (enrolld_child_init(&d) != UC_OK)
		abort();
	if (child_hello(&d, data, size, &quiet, &cert, &cl, &key, &kl) ==
	    UC_OK) {
		free(cert);
		secret_free_buf(key, kl);
	}
	(void)child_published(&d, data, size);
	if (door_epoch_parse(data, size, &e) == UC_OK) {
		if (e == 0)
			abort();
		ocsp_cache_epoch(d.ocache, e);
	}
	enrolld_free(&d);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	requests(data, size);
	answers(data, size);
	pushes(data, size);
	return 0;
}
