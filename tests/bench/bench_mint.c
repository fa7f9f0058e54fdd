/*
 * bench_mint.c: the in-process limit of batch issuance.
 *
 * Opens an existing CA home and does exactly the per-user work a batch
 * worker does (password_generate, then authority_mint: key_generate,
 * cert_build + signer_sign_cert with the issuing signer, p12_build with
 * the same chain and format, read-back included), from one thread per
 * core, in a tight loop: no database writes, no files, no journal.
 *
 *   bench_mint --home DIR [-n N] [-j THREADS] [--p12-format modern|legacy]
 *              [--breakdown]
 *
 * Prints one line "mint users=N threads=T secs=S users_per_sec=R" (for
 * scripts/bench).  With --breakdown it first times each piece on its own
 * (one thread) and prints the per-user cost of each, so a slow batch can
 * be compared piece by piece.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "authority.h"
#include "pki.h"

struct bench {
	struct authority	*a;
	enum p12_format		 fmt;
	long			 n;
	atomic_long		 next;
	atomic_long		 failed;
};

static void
ident(long i, char *user, size_t ulen, char *mail, size_t mlen, char *name,
    size_t nlen, struct identity *id)
{
	/* The same shape of row as scripts/bench writes into its CSV. */
	snprintf(user, ulen, "user%06ld", i);
	snprintf(mail, mlen, "user%06ld@example.com", i);
	snprintf(name, nlen, "User %ld", i);
	memset(id, 0, sizeof(*id));
	id->username = user;
	id->email = mail;
	id->name = name;
}

static void *
worker(void *arg)
{
	struct bench *b = arg;
	struct identity id;
	struct mint m;
	char user[32], mail[64], name[32], *pw;
	long i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
		ident(i, user, sizeof(user), mail, sizeof(mail), name,
		    sizeof(name), &id);
		pw = NULL;
		if (password_generate(&pw) != UC_OK ||
		    authority_mint(b->a, &id, NULL, b->fmt, pw, 0, 0, &m) !=
		    UC_OK) {
			if (atomic_fetch_add(&b->failed, 1) == 0)
				fprintf(stderr, "bench_mint: %s\n",
				    uc_errmsg());
			secret_free(pw);
			continue;
		}
		mint_clear(&m);
		secret_free(pw);
	}
	return NULL;
}

/* ---- --breakdown: each piece alone, one thread ---------------------------------- */

static void
piece(const char *what, double secs, long n, double total)
{
	printf("  %-34s %8.3f ms/user  %5.1f%%\n", what, 1e3 * secs / n,
	    total > 0 ? 100.0 * secs / total : 0.0);
}

static int
breakdown(struct authority *a, const char *home, enum p12_format fmt, long n)
{
	const struct ca_conf *conf = authority_conf(a);
	const struct profile *prof;
	X509 *iss = authority_issuing_cert(a), *root = authority_root_cert(a);
	struct signer *sig = NULL;
	STACK_OF(X509) *chain = NULL;
	struct identity id;
	struct cert_req cr;
	EVP_PKEY **keys = NULL;
	X509 **certs = NULL;
	unsigned char **ders = NULL;
	size_t *lens = NULL;
	char **pws = NULL, user[32], mail[64], name[32], crt[4096], key[4096];
	double t, tp, tk, tc, ts, tb, tr, tm, sum;
	long i;
	int rc = UC_E_INTERNAL;
	int64_t now = uc_now();

	snprintf(crt, sizeof(crt), "%s/issuing/ca.crt", home);
	snprintf(key, sizeof(key), "%s/issuing/ca.key", home);
	if ((rc = signer_open(crt, key, NULL, &sig)) != UC_OK)
		goto out;
	rc = UC_E_INTERNAL;
	if ((chain = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(chain, iss) || (root != NULL &&
	    X509_cmp(root, iss) != 0 && !sk_X509_push(chain, root)))
		goto out;
	if ((keys = calloc((size_t)n, sizeof(*keys))) == NULL ||
	    (certs = calloc((size_t)n, sizeof(*certs))) == NULL ||
	    (ders = calloc((size_t)n, sizeof(*ders))) == NULL ||
	    (lens = calloc((size_t)n, sizeof(*lens))) == NULL ||
	    (pws = calloc((size_t)n, sizeof(*pws))) == NULL)
		goto out;

	t = uc_mono();
	for (i = 0; i < n; i++)
		if ((rc = password_generate(&pws[i])) != UC_OK)
			goto out;
	tp = uc_mono() - t;

	/* The profile's user key type, as authority_mint() makes it. */
	if ((prof = profile_find(conf->profile)) == NULL)
		goto out;
	t = uc_mono();
	for (i = 0; i < n; i++)
		if ((rc = key_generate(prof->user, &keys[i])) != UC_OK)
			goto out;
	tk = uc_mono() - t;

	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_USER;
	cr.org = conf->org;
	cr.base_url = conf->base_url;
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)conf->user_days * 86400;
	cr.id = &id;
	t = uc_mono();
	for (i = 0; i < n; i++) {
		ident(i, user, sizeof(user), mail, sizeof(mail), name,
		    sizeof(name), &id);
		if ((rc = cert_build(&cr, keys[i], iss, &certs[i])) != UC_OK)
			goto out;
	}
	tc = uc_mono() - t;

	t = uc_mono();
	for (i = 0; i < n; i++)
		if ((rc = signer_sign_cert(sig, certs[i])) != UC_OK)
			goto out;
	ts = uc_mono() - t;

	t = uc_mono();
	for (i = 0; i < n; i++) {
		snprintf(user, sizeof(user), "user%06ld", i);
		if ((rc = p12_build(keys[i], certs[i], chain, user, pws[i],
		    fmt, &ders[i], &lens[i])) != UC_OK)
			goto out;
	}
	tb = uc_mono() - t;

	/*
	 * What a device's full open costs (p12_check(): PKCS12_parse()), for
	 * comparison with the read-back inside p12_build(); not in the sum.
	 */
	t = uc_mono();
	for (i = 0; i < n; i++)
		if ((rc = p12_check(ders[i], lens[i], pws[i], certs[i])) !=
		    UC_OK)
			goto out;
	tr = uc_mono() - t;

	/* The whole of authority_mint(), same thread, for comparison. */
	t = uc_mono();
	for (i = 0; i < n; i++) {
		struct mint m;

		ident(i, user, sizeof(user), mail, sizeof(mail), name,
		    sizeof(name), &id);
		if ((rc = authority_mint(a, &id, NULL, fmt, pws[i], 0, 0,
		    &m)) != UC_OK)
			goto out;
		mint_clear(&m);
	}
	tm = uc_mono() - t;

	sum = tp + tk + tc + ts + tb;
	printf("breakdown (%s profile, p12 %s, 1 thread, %ld users):\n",
	    conf->profile, p12_format_name(fmt), n);
	piece("password_generate", tp, n, sum);
	piece("key_generate", tk, n, sum);
	piece("cert_build", tc, n, sum);
	piece("signer_sign_cert", ts, n, sum);
	piece("p12_build (incl. read-back)", tb, n, sum);
	piece("(p12_check: a full PKCS12_parse)", tr, n, sum);
	piece("sum of the pieces", sum, n, sum);
	piece("authority_mint (whole)", tm, n, sum);
	rc = UC_OK;
out:
	if (rc != UC_OK)
		fprintf(stderr, "bench_mint: breakdown: %s\n", uc_errmsg());
	for (i = 0; i < n; i++) {
		if (keys != NULL)
			EVP_PKEY_free(keys[i]);
		if (certs != NULL)
			X509_free(certs[i]);
		if (ders != NULL && ders[i] != NULL) {
			OPENSSL_cleanse(ders[i], lens[i]);
			free(ders[i]);
		}
		if (pws != NULL)
			secret_free(pws[i]);
	}
	free(keys);
	free(certs);
	free(ders);
	free(lens);
	free(pws);
	sk_X509_free(chain);	/* borrowed certificates */
	signer_free(sig);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_mint --home DIR [-n N] [-j THREADS] "
	    "[--p12-format modern|legacy] [--breakdown]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct bench b;
	pthread_t *th = NULL;
	const char *home = NULL;
	long threads = sysconf(_SC_NPROCESSORS_ONLN), i, started = 0;
	int rc, brk = 0, ex = 1;
	double t0, secs;

	memset(&b, 0, sizeof(b));
	b.n = 1000;
	b.fmt = P12_MODERN;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
			home = argv[++i];
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			b.n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
			threads = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--p12-format") == 0 && i + 1 < argc) {
			if (p12_format_parse(argv[++i], &b.fmt) != UC_OK)
				usage();
		} else if (strcmp(argv[i], "--breakdown") == 0)
			brk = 1;
		else
			usage();
	}
	if (home == NULL || b.n < 1 || threads < 1 || threads > 1024)
		usage();

	if ((rc = authority_open(home, &b.a)) != UC_OK ||
	    (rc = authority_ready(b.a)) != UC_OK) {
		fprintf(stderr, "bench_mint: %s: %s\n", home, uc_errmsg());
		goto out;
	}
	if (brk && breakdown(b.a, home, b.fmt, b.n < 200 ? b.n : 200) !=
	    UC_OK)
		goto out;

	if ((th = calloc((size_t)threads, sizeof(*th))) == NULL)
		goto out;
	atomic_init(&b.next, 0);
	atomic_init(&b.failed, 0);
	t0 = uc_mono();
	for (i = 0; i < threads; i++) {
		if (pthread_create(&th[i], NULL, worker, &b) != 0) {
			fprintf(stderr, "bench_mint: pthread_create failed\n");
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	secs = uc_mono() - t0;
	if (started == 0 || atomic_load(&b.failed) > 0) {
		fprintf(stderr, "bench_mint: %ld of %ld failed\n",
		    atomic_load(&b.failed), b.n);
		goto out;
	}
	printf("mint users=%ld threads=%ld secs=%.3f users_per_sec=%.1f\n",
	    b.n, started, secs, (double)b.n / secs);
	fflush(stdout);
	ex = 0;
out:
	free(th);
	authority_free(b.a);
	return ex;
}
