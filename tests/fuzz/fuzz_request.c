/*
 * fuzz_request.c: libFuzzer harness for handle_request() (enroll/http.c),
 * the daemon's whole request handling without a socket: routing, public
 * files with ETag/If-Modified-Since, token lookup and redemption (CSR and
 * PKCS#12), error JSON, rate limits, health and metrics.
 *
 * LLVMFuzzerInitialize makes a scratch CA home (authority_init, modern,
 * root + intermediate) under $TMPDIR (/dev/shm when it exists), a daemon
 * config, and the struct enrolld with enrolld_init(), as the daemon does.
 * The clock is frozen (uc_clock_set) so a run is reproducible.
 *
 * Input: lines separated by '\n'; a missing or empty line is "no header".
 *   0 method          1 path               2 Content-Type
 *   3 Accept          4 If-None-Match      5 If-Modified-Since
 *   6 flags: 't' TLS, 'p' plain HTTP, 'e' the EST listener (default TLS);
 *     the rest of the line is the client address (default 127.0.0.1)
 *   the rest: the body (binary)
 * In the path, "{T}" becomes a fresh valid token (minted for this input),
 * "{U}" a used one, "{E}" an expired one and "{K}" the token minted for
 * the previous "{T}" input (used or not), so inputs reach real token states
 * although tokens are random.  "?operation=..&message=..&auth=.." after the
 * path gives SCEP's query arguments and EST's Authorization header.
 * FUZZ_VERBOSE=1 prints each request and its
 * status; FUZZ_KEEP=1 keeps the scratch home.
 *
 * Invariants checked (abort() = a finding):
 *   - a status in 200..599, never 500 (bad input is never a server error;
 *     FUZZ_ALLOW_500=1 turns this off);
 *   - every response but 304 has a Content-Type; error bodies are JSON
 *     objects with a string "error" (SCEP's and EST's: plain text);
 *   - a token state answer is consistent with the route (token_* errors
 *     only on /enroll routes).
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>

#include "enrolld.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct enrolld	 D;
static int		 ready;
static int64_t		 frozen;
static char		*used_tok, *expired_tok, *prev_tok;
static unsigned		 nuser;
static int		 allow_500, verbose;
static char		 scratch[256];

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

/* The scratch home goes when the fuzzer exits normally (not on a crash). */
static void
cleanup(void)
{
	if (scratch[0] != '\0' && getenv("FUZZ_KEEP") == NULL)
		(void)nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t
fixed_clock(void)
{
	return frozen;
}

static int
getpass_cb(void *arg, int confirm, char **pass)
{
	*pass = strdup("fuzz passphrase, not secret");
	return *pass != NULL ? UC_OK : UC_E_INTERNAL;
}

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_request: init: %s: %s\n", what, uc_errmsg());
	exit(1);
}

static char *
mint_token(int ttl)
{
	struct identity id;
	char user[32], *tok = NULL;
	int64_t exp;

	memset(&id, 0, sizeof(id));
	snprintf(user, sizeof(user), "fuzz%u", nuser++);
	id.username = user;
	id.email = "fuzz@example.test";
	if (authority_token(D.a, &id, ttl, &tok, &exp) != UC_OK)
		return NULL;
	return tok;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct init_opts o;
	struct req q;
	struct resp r;
	const char *tmp;
	char dir[256], home[300], conf[300], path[400];
	FILE *f;
	char *tok;

	allow_500 = getenv("FUZZ_ALLOW_500") != NULL;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	frozen = (int64_t)time(NULL);
	uc_clock_set(fixed_clock);
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_request.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(scratch, sizeof(scratch), "%s", dir);
	atexit(cleanup);
	snprintf(home, sizeof(home), "%s/pki", dir);
	snprintf(conf, sizeof(conf), "%s/enrolld.ini", dir);

	memset(&o, 0, sizeof(o));
	o.home = home;
	o.org = "Fuzz Org";
	o.base_url = "https://127.0.0.1:8443";
	o.profile = "modern";
	o.intermediate = 1;
	if (authority_init(&o, getpass_cb, NULL) != UC_OK)
		die("authority_init");

	if ((f = fopen(conf, "w")) == NULL) {
		perror(conf);
		exit(1);
	}
	fprintf(f, "[ca]\nhome = %s\n[http]\nlisten = 127.0.0.1:1\n"
	    "[enroll]\nallow_plain_http = false\n"
	    "[limits]\nrate_limit = 1000000\nmax_body = 64k\n", home);
	fclose(f);

	if (enrolld_init(&D, conf) != UC_OK)
		die("enrolld_init");
	crl_watch(&D);

	/* An expired token: made two days ago with a one-minute life. */
	frozen -= 2 * 86400;
	expired_tok = mint_token(60);
	frozen += 2 * 86400;
	/* A used token: redeemed once through handle_request itself. */
	if ((used_tok = mint_token(0)) == NULL || expired_tok == NULL)
		die("authority_token");
	snprintf(path, sizeof(path), "/api/v1/enroll/%s/p12", used_tok);
	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.path = path;
	q.client = "127.0.0.1";
	q.tls = 1;
	handle_request(&D, &q, &r);
	if (r.status != 200) {
		fprintf(stderr, "fuzz_request: init: redeeming a token: %d "
		    "%.*s\n", r.status, (int)r.len, (const char *)r.body);
		exit(1);
	}
	resp_clear(&r);
	if ((tok = mint_token(0)) == NULL)
		die("authority_token");
	prev_tok = tok;
	if (verbose)
		fprintf(stderr, "fuzz_request: CA home %s\n", home);
	ready = 1;
	ERR_clear_error();
	uc_clearerr();
	return 0;
}

/* The next '\n'-terminated line of [*p, end) as a new C string. */
static char *
line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl;
	size_t n;
	char *s;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	n = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

/* Replace the placeholders in the path; returns a new string. */
static char *
expand(const char *path, char **fresh)
{
	size_t cap = strlen(path) * 2 + 1, n = 0;
	char *out, *tok;
	const char *s;

	*fresh = NULL;
	for (s = path; (s = strchr(s, '{')) != NULL; s++)
		cap += 64;
	if ((out = malloc(cap)) == NULL)
		abort();
	for (s = path; *s != '\0'; s++) {
		tok = NULL;
		if (s[0] == '{' && s[1] != '\0' && s[2] == '}') {
			switch (s[1]) {
			case 'T':
				if (*fresh == NULL)
					*fresh = mint_token(0);
				tok = *fresh;
				break;
			case 'U': tok = used_tok; break;
			case 'E': tok = expired_tok; break;
			case 'K': tok = prev_tok; break;
			default: break;
			}
		}
		if (tok != NULL && n + strlen(tok) < cap) {
			memcpy(out + n, tok, strlen(tok));
			n += strlen(tok);
			s += 2;
		} else if (n + 1 < cap)
			out[n++] = *s;
	}
	out[n] = '\0';
	return out;
}

/*
 * "path?operation=X&message=Y&auth=Z": the path is cut at '?' and the
 * values go where main.c puts them (SCEP's query arguments; auth is the
 * EST Authorization header as is).  Values point into path.
 */
static void
query(char *path, struct req *q)
{
	char *qs, *kv, *next;

	if ((qs = strchr(path, '?')) == NULL)
		return;
	*qs++ = '\0';
	for (kv = qs; kv != NULL; kv = next) {
		if ((next = strchr(kv, '&')) != NULL)
			*next++ = '\0';
		if (strncmp(kv, "operation=", 10) == 0)
			q->operation = kv + 10;
		else if (strncmp(kv, "message=", 8) == 0)
			q->message = kv + 8;
		else if (strncmp(kv, "auth=", 5) == 0)
			q->authorization = kv + 5;
	}
}

static void
check(const struct req *q, const struct resp *r)
{
	json_t *j, *e;

	if (r->status < 200 || r->status > 599) {
		fprintf(stderr, "status %d\n", r->status);
		abort();
	}
	if (r->status == 500 && !allow_500) {
		fprintf(stderr, "500 for %s %s: %.*s\n", q->method, q->path,
		    (int)r->len, r->body != NULL ? (const char *)r->body : "");
		abort();
	}
	if (r->status == 304)
		return;
	if (r->type == NULL) {
		fprintf(stderr, "status %d without a Content-Type\n",
		    r->status);
		abort();
	}
	if (r->body == NULL && r->blob == NULL) {
		fprintf(stderr, "status %d without a body\n", r->status);
		abort();
	}
	if (r->status < 400)
		return;
	/* SCEP and EST answer errors in plain text (RFC 8894, RFC 7030). */
	if (r->route != NULL && (strcmp(r->route, "/scep") == 0 ||
	    strcmp(r->route, "/.well-known/est") == 0)) {
		if (strncmp(r->type, "text/plain", 10) != 0) {
			fprintf(stderr, "%s error %d as %s\n", r->route,
			    r->status, r->type);
			abort();
		}
		return;
	}
	if (strcmp(r->type, "application/json") != 0) {
		fprintf(stderr, "error %d as %s\n", r->status, r->type);
		abort();
	}
	if ((j = json_loadb((const char *)r->body, r->len, 0, NULL)) == NULL ||
	    !json_is_object(j) || (e = json_object_get(j, "error")) == NULL ||
	    !json_is_string(e)) {
		fprintf(stderr, "error %d body is not {\"error\": ...}: %.*s\n",
		    r->status, (int)r->len, (const char *)r->body);
		abort();
	}
	if (strncmp(json_string_value(e), "token_", 6) == 0 &&
	    strstr(q->path, "/enroll/") == NULL) {
		fprintf(stderr, "%s outside /enroll/: %s\n",
		    json_string_value(e), q->path);
		abort();
	}
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *f[7], *path, *fresh;
	struct req q;
	struct resp r;
	int i;

	if (!ready)
		return 0;
	for (i = 0; i < 7; i++)
		f[i] = line(&p, end);
	if (f[0] == NULL || f[1] == NULL) {
		for (i = 0; i < 7; i++)
			free(f[i]);
		return 0;
	}
	path = expand(f[1], &fresh);
	memset(&q, 0, sizeof(q));
	q.method = f[0];
	q.path = path;
	query(path, &q);
#define OPT(s)	((s) != NULL && (s)[0] != '\0' ? (s) : NULL)
	q.content_type = OPT(f[2]);
	q.accept = OPT(f[3]);
	q.if_none_match = OPT(f[4]);
	q.if_modified_since = OPT(f[5]);
	q.tls = 1;
	q.client = "127.0.0.1";
	if (f[6] != NULL && f[6][0] != '\0') {
		q.tls = f[6][0] != 'p';
		q.est = f[6][0] == 'e';
		if (f[6][1] != '\0')
			q.client = f[6] + 1;
	}
	q.user_agent = "fuzz";
	q.body = p;
	q.bodylen = (size_t)(end - p);

	handle_request(&D, &q, &r);
	if (verbose)
		fprintf(stderr, "fuzz_request: %s %s -> %d %s %.*s\n", q.method,
		    q.path, r.status, r.type != NULL ? r.type : "-",
		    r.type != NULL && strcmp(r.type, "application/json") == 0 ?
		    (int)(r.len > 120 ? 120 : r.len) : 0,
		    r.body != NULL ? (const char *)r.body : "");
	check(&q, &r);
	resp_clear(&r);

	if (fresh != NULL) {
		free(prev_tok);
		prev_tok = fresh;
	}
	free(path);
	for (i = 0; i < 7; i++)
		free(f[i]);
	ERR_clear_error();
	uc_clearerr();
	return 0;
}
