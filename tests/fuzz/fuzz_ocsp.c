/*
 * fuzz_ocsp.c: libFuzzer harness for the OCSP request parser and the
 * answer built from it (ca/pki/ocsp.c): bytes from anyone on the network.
 *
 * A CA and a delegated responder are made once, in memory.  Whatever
 * ocsp_request_parse() accepts is answered (statuses cycling through good,
 * revoked, unknown) and the signed answer must parse back with one
 * SingleResponse per CertID; whatever it refuses must hand out nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "pki_ocsp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct signer	*ca, *responder;

static void
setup(void)
{
	struct cert_req req;
	EVP_PKEY *key = NULL, *pub;
	X509 *x = NULL;
	int64_t now = uc_now();

	memset(&req, 0, sizeof(req));
	req.kind = CK_ROOT;
	req.org = "Fuzz";
	req.cn = "Fuzz CA";
	req.not_before = now - 86400;
	req.not_after = now + 86400 * 365;
	if (key_generate(KT_EC_P256, &key) != UC_OK ||
	    cert_build(&req, key, NULL, &x) != UC_OK ||
	    signer_from_key(key, NULL, &ca) != UC_OK ||
	    signer_sign_cert(ca, x) != UC_OK || signer_set_cert(ca, x) != UC_OK)
		abort();
	key = NULL;
	x = NULL;
	if (key_generate(KT_EC_P256, &key) != UC_OK ||
	    signer_from_key(key, NULL, &responder) != UC_OK ||
	    (pub = signer_pubkey(responder)) == NULL ||
	    ocsp_responder_build(signer_cert(ca), pub, "Fuzz", "Responder",
	    now - 60, now + 86400, &x) != UC_OK ||
	    signer_sign_cert(ca, x) != UC_OK ||
	    signer_set_cert(responder, x) != UC_OK)
		abort();
	EVP_PKEY_free(pub);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocsp_query *q = NULL;
	struct ocsp_status *st = NULL;
	OCSP_REQUEST *req = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t n = 0, i, len;
	int nonce = 0;
	int64_t now = uc_now();

	if (ca == NULL)
		setup();
	if (ocsp_request_parse(data, size, signer_cert(ca), &req, &q, &n,
	    &nonce) != UC_OK) {
		if (req != NULL || q != NULL || n != 0)
			abort();	/* a refusal hands out nothing */
		goto out;
	}
	if (n == 0 || n > OCSP_IDS_MAX || (st = calloc(n, sizeof(*st))) ==
	    NULL)
		abort();
	for (i = 0; i < n; i++) {
		st[i].status = (int)(i % 3);
		st[i].revoked_at = now - 60;
		st[i].reason = (int)(i % 11);
	}
	if (ocsp_response_sign(req, st, n, responder, NULL, now, now + 3600,
	    &der, &len) != UC_OK)
		goto out;	/* e.g. a CertID OpenSSL cannot copy */
	p = der;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL ||
	    OCSP_resp_count(bs) != (int)n)
		abort();
out:
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	free(der);
	OCSP_REQUEST_free(req);
	free(q);
	free(st);
	ERR_clear_error();
	uc_clearerr();
	return 0;
}
