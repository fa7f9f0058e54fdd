/*
 * fuzz_scep.c: libFuzzer harness for SCEP PKIOperation parsing
 * (ca/pki/scep.c): a pkiMessage from anyone on the network, and the
 * CertRep built for it.
 *
 * The RA key and certificate come from tests/fuzz/scep-ra.pem (under
 * $USERCA_SRC), which the corpus messages are encrypted to, so mutations
 * reach the envelope and its content; single DES is allowed, as with
 * [scep] allow_des.  Whatever scep_parse() accepts must carry a signer, a
 * transactionID, a nonce and a content, and is answered (SUCCESS with the
 * signer's own certificate, and FAILURE); whatever it refuses must hand
 * out no content, and is answered FAILURE only when it says so.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pki.h"
#include "pki_scep.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static X509	*ra;
static EVP_PKEY	*rakey;

static void
setup(void)
{
	const char *src = getenv("USERCA_SRC");
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/fuzz/scep-ra.pem",
	    src != NULL ? src : ".");
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "fuzz_scep: %s: set USERCA_SRC\n", path);
		abort();
	}
	rakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	ra = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (rakey == NULL || ra == NULL || scep_enable_des() != UC_OK)
		abort();
}

static void
answer(const struct scep_req *q, int status)
{
	unsigned char *der = NULL;
	size_t len = 0;

	if (scep_reply(q, ra, rakey, status, SCEP_BADREQUEST, q->signer, &der,
	    &len) == UC_OK && (der == NULL || len == 0))
		abort();
	free(der);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scep_req q;
	char *challenge = NULL;

	if (ra == NULL)
		setup();
	if (scep_parse(data, size, ra, rakey, 1, &q) == UC_OK) {
		if (q.signer == NULL || q.tid[0] == '\0' || q.nonce_len == 0 ||
		    q.inner == NULL || !q.replyable)
			abort();
		if (scep_csr_challenge(q.inner, q.inner_len, q.signer, &challenge) ==
		    UC_OK && challenge == NULL)
			abort();
		secret_free(challenge);
		(void)scep_csr_matches(q.inner, q.inner_len, q.signer);
		answer(&q, SCEP_SUCCESS);
		answer(&q, SCEP_FAILURE);
	} else {
		if (q.inner != NULL)
			abort();	/* a refusal hands out no content */
		if (q.replyable)
			answer(&q, SCEP_FAILURE);
	}
	scep_req_clear(&q);
	ERR_clear_error();
	uc_clearerr();
	return 0;
}
