/*
 * home.c: a CA home's lifecycle: its folder layout, init, and the air gap
 * (sign an issuing CA with the root; request and install one on the
 * online side).  init and install write through stage.c, so the home
 * appears whole or not at all.
 */
#include <sys/stat.h>

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "authority_int.h"

char *
home_path(const char *home, const char *rel)
{
	return path_join(home, rel);
}

int
home_has(const char *home, const char *rel)
{
	char *p;
	int r;

	if ((p = home_path(home, rel)) == NULL)
		return 0;
	r = path_exists(p);
	free(p);
	return r;
}

int
home_write(const char *home, const char *rel, const void *buf, size_t len,
    mode_t mode, int excl)
{
	char *p;
	int rc;

	if ((p = home_path(home, rel)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = excl ? file_write_excl(p, buf, len, mode) :
	    file_write_atomic(p, buf, len, mode);
	free(p);
	return rc;
}

static int
write_cert_rel(const char *home, const char *rel, X509 *x, int excl)
{
	unsigned char *pem = NULL;
	size_t len;
	int rc;

	if ((rc = cert_to_pem(x, &pem, &len)) != UC_OK)
		return rc;
	rc = home_write(home, rel, pem, len, 0644, excl);
	free(pem);
	return rc;
}

static int
home_dirs(const char *home)
{
	static const char *const sub[] = { "root", "issuing", "public" };
	char *p;
	size_t i;
	int rc;

	if ((rc = dir_make(home, 0700)) != UC_OK)
		return rc;
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if ((p = home_path(home, sub[i])) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		rc = dir_make(p, strcmp(sub[i], "public") == 0 ? 0755 : 0700);
		free(p);
		if (rc != UC_OK)
			return rc;
	}
	return UC_OK;
}

static int
refuse_existing(const char *home)
{
	static const char *const any[] = {
		P_CONF, P_DB, P_ROOT_CRT, P_ROOT_KEY, P_ISS_CRT, P_ISS_KEY,
	};
	size_t i;

	for (i = 0; i < sizeof(any) / sizeof(any[0]); i++)
		if (home_has(home, any[i]))
			return uc_seterr(UC_E_EXISTS, "%s already holds a CA "
			    "(%s exists); refusing to overwrite it", home,
			    any[i]);
	return UC_OK;
}

static int
fill_conf(const struct init_opts *o, int intermediate, struct ca_conf *c)
{
	char cn[200];
	const char *p;

	conf_defaults(c);
	if (o->org == NULL || o->base_url == NULL)
		return uc_seterr(UC_E_INVALID, "--org and --base-url are "
		    "required");
	/* These go into an INI file: no line breaks or comment markers. */
	for (p = o->org; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == ';' || *p == '#')
			return uc_seterr(UC_E_INVALID, "--org must not contain "
			    "control characters, ';' or '#'");
	if (strlen(o->base_url) > 1 &&
	    o->base_url[strlen(o->base_url) - 1] == '/')
		return uc_seterr(UC_E_INVALID, "--base-url '%s' must not end "
		    "with '/'", o->base_url);
	if (profile_find(o->profile != NULL ? o->profile : "compatible") ==
	    NULL)
		return uc_seterr(UC_E_INVALID, "unknown profile '%s' "
		    "(compatible or modern)", o->profile);
	c->org = strdup(o->org);
	c->base_url = strdup(o->base_url);
	/* Links are one-time credentials: https, unless a lab asks. */
	if (o->enroll_url != NULL) {
		if (!url_valid(o->enroll_url) ||
		    o->enroll_url[strlen(o->enroll_url) - 1] == '/')
			return uc_seterr(UC_E_INVALID, "--enroll-url '%.100s' "
			    "must be an http(s) URL, no trailing '/'",
			    o->enroll_url);
		if (strncmp(o->enroll_url, "https://", 8) != 0 &&
		    !o->allow_http_links)
			return uc_seterr(UC_E_POLICY, "--enroll-url '%.100s' "
			    "is not https (plain http links only with "
			    "--allow-http-links, for tests and labs)",
			    o->enroll_url);
		if ((c->enroll_url = strdup(o->enroll_url)) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
	} else if (strncmp(o->base_url, "https://", 8) == 0 &&
	    (c->enroll_url = strdup(o->base_url)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	c->allow_http_links = o->allow_http_links != 0;
	c->smime = o->smime != 0;
	c->profile = strdup(o->profile != NULL ? o->profile : "compatible");
	snprintf(cn, sizeof(cn), "%.60s Root CA", o->org);
	c->root_cn = strdup(o->root_cn != NULL ? o->root_cn : cn);
	snprintf(cn, sizeof(cn), "%.60s Issuing CA", o->org);
	c->issuing_cn = strdup(o->issuing_cn != NULL ? o->issuing_cn : cn);
	c->intermediate = intermediate;
	if (c->org == NULL || c->base_url == NULL || c->profile == NULL ||
	    c->root_cn == NULL || c->issuing_cn == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	for (p = c->root_cn; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == ';' || *p == '#')
			return uc_seterr(UC_E_INVALID, "CA names must not "
			    "contain control characters, ';' or '#'");
	for (p = c->issuing_cn; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == ';' || *p == '#')
			return uc_seterr(UC_E_INVALID, "CA names must not "
			    "contain control characters, ';' or '#'");
	return UC_OK;
}

static int
new_store(const char *home, struct store **st)
{
	char *p;
	int rc;

	if ((p = home_path(home, P_DB)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = store_open(p, 1, st);
	free(p);
	return rc;
}

/*
 * A new CA: a key of type t and a certificate from cr, signed by parent
 * (NULL: by itself).  *out holds both (caller frees).
 */
static int
init_new_ca(enum key_type t, const struct cert_req *cr, struct signer *parent,
    struct signer **out)
{
	struct signer *s = NULL;
	EVP_PKEY *key = NULL, *pub = NULL;
	X509 *x = NULL;
	int rc;

	*out = NULL;
	if ((rc = key_generate(t, &key)) != UC_OK)
		return rc;
	rc = signer_from_key(key, NULL, &s);
	key = NULL;	/* taken by signer_from_key, even on failure */
	if (rc != UC_OK)
		return rc;
	if ((pub = signer_pubkey(s)) == NULL) {
		rc = uc_seterr_ssl(UC_E_CRYPTO, "%s public key", cr->kind ==
		    CK_ROOT ? "root" : "issuing");
		goto out;
	}
	if ((rc = auth_sign_cert(parent != NULL ? parent : s, cr, pub, &x)) !=
	    UC_OK)
		goto out;
	rc = signer_set_cert(s, x);
	x = NULL;	/* owned by s, or freed by signer_set_cert */
	if (rc != UC_OK)
		goto out;
	*out = s;
	s = NULL;	/* now owned by the caller */
out:
	EVP_PKEY_free(pub);
	signer_free(s);
	return rc;
}

/* The root and, for an intermediate home, the issuing CA it signs. */
static int
init_make_cas(const struct ca_conf *c, int64_t now, struct signer **rsig,
    struct signer **isig)
{
	const struct profile *prof = profile_find(c->profile);
	struct cert_req cr;
	int rc;

	*rsig = *isig = NULL;
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_ROOT;
	cr.org = c->org;
	cr.cn = c->root_cn;
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)c->root_days * 86400;
	if ((rc = init_new_ca(prof->root, &cr, NULL, rsig)) != UC_OK ||
	    !c->intermediate)
		return rc;
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_ISSUING;
	cr.org = c->org;
	cr.cn = c->issuing_cn;
	cr.base_url = c->base_url;
	cr.smime = c->smime;
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)c->issuing_days * 86400;
	if ((rc = init_new_ca(prof->issuing, &cr, *rsig, isig)) != UC_OK) {
		signer_free(*rsig);
		*rsig = NULL;
	}
	return rc;
}

/* Save sig's key as dir/rel, encrypted with pass (NULL: in the clear). */
static int
save_key_rel(const char *dir, const char *rel, struct signer *sig,
    const char *pass)
{
	char *p;
	int rc;

	if ((p = home_path(dir, rel)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = signer_save_key(sig, p, pass);
	free(p);
	return rc;
}

/*
 * A new home's files in dir: keys first and exclusively, certificates,
 * userca.conf, then the records.
 */
static int
init_write(const char *dir, const struct ca_conf *c, struct signer *rsig,
    struct signer *isig, const char *pass, int64_t now)
{
	struct store *st = NULL;
	char *p;
	int rc;

	if ((rc = home_dirs(dir)) != UC_OK ||
	    (rc = save_key_rel(dir, P_ROOT_KEY, rsig, pass)) != UC_OK ||
	    (rc = write_cert_rel(dir, P_ROOT_CRT, signer_cert(rsig), 1)) !=
	    UC_OK)
		return rc;
	/* The daemon signs with it unattended: 0600, not encrypted. */
	if (isig != NULL &&
	    (rc = save_key_rel(dir, P_ISS_KEY, isig, NULL)) != UC_OK)
		return rc;
	if ((rc = write_cert_rel(dir, P_ISS_CRT, signer_cert(isig != NULL ?
	    isig : rsig), 1)) != UC_OK)
		return rc;
	if ((p = home_path(dir, P_CONF)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = conf_save(p, c);
	free(p);
	if (rc != UC_OK || (rc = new_store(dir, &st)) != UC_OK)
		return rc;
	if (isig != NULL)
		rc = records_cert_insert(st, signer_cert(isig),
		    signer_cert(rsig), 0, "intermediate", "init", NULL);
	if (rc == UC_OK)
		rc = store_audit(st, now, "cli", "init", c->org, c->profile);
	store_close(st);
	return rc;
}

/*
 * The first CRLs of the home in dir, signed while the root key is at
 * hand, and its public files.  Takes *rsig and *isig (set to NULL).
 */
static int
init_publish(const char *dir, const struct ca_conf *c, struct signer **rsig,
    struct signer **isig)
{
	struct authority *a = NULL;
	int rc;

	if ((rc = authority_open(dir, &a)) != UC_OK)
		return rc;
	a->rsig = *rsig;
	*rsig = NULL;	/* now owned by a */
	a->isig = *isig;
	*isig = NULL;
	if ((rc = crls_sign(a, a->rsig, c->intermediate ? c->root_crl_days :
	    c->crl_days)) == UC_OK && (!c->intermediate ||
	    (rc = crls_sign(a, a->isig, c->crl_days)) == UC_OK))
		rc = authority_publish(a);
	authority_free(a);	/* the database is closed before it moves */
	return rc;
}

int
authority_init(const struct init_opts *o, authority_getpass_fn getpass,
    void *arg)
{
	struct ca_conf c;
	struct stage stg;
	struct signer *rsig = NULL, *isig = NULL;
	char *pass = NULL;
	int64_t now = uc_now();
	int rc;

	memset(&c, 0, sizeof(c));
	memset(&stg, 0, sizeof(stg));
	stg.fd = -1;
	if ((rc = fill_conf(o, o->intermediate, &c)) != UC_OK)
		goto out;
	if (!url_valid(c.base_url)) {
		rc = uc_seterr(UC_E_INVALID, "--base-url '%.100s' must be an "
		    "http(s) URL without spaces or commas", c.base_url);
		goto out;
	}
	if ((rc = stage_recover(o->home, P_DB)) != UC_OK ||
	    (rc = refuse_existing(o->home)) != UC_OK)
		goto out;
	if (getpass == NULL) {
		rc = uc_seterr(UC_E_PASSPHRASE, "a root key passphrase is "
		    "needed");
		goto out;
	}
	if ((rc = getpass(arg, 1, &pass)) != UC_OK)
		goto out;
	if (strlen(pass) < 8) {
		rc = uc_seterr(UC_E_PASSPHRASE, "the root key passphrase must "
		    "be at least 8 characters");
		goto out;
	}
	if ((rc = init_make_cas(&c, now, &rsig, &isig)) != UC_OK)
		goto out;
	/* Everything is made; written out of place, then moved in. */
	if ((rc = stage_open(&stg, o->home, "init", 0)) != UC_OK ||
	    (rc = init_write(stg.path, &c, rsig, isig, pass, now)) != UC_OK ||
	    (rc = init_publish(stg.path, &c, &rsig, &isig)) != UC_OK)
		goto out;
	rc = stage_commit(&stg, P_DB, 0);
out:
	stage_abort(&stg);
	signer_free(rsig);
	signer_free(isig);
	secret_free(pass);
	conf_clear(&c);
	return rc;
}

/* The first CN of a name as UTF-8 (caller frees); NULL if none. */
static char *
name_cn(const X509_NAME *n)
{
	const X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	char *s;
	int i, len;

	if ((i = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) < 0 ||
	    (e = X509_NAME_get_entry(n, i)) == NULL ||
	    (len = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(e))) < 0)
		return NULL;
	/* Embedded NULs: refuse rather than truncate. */
	if ((int)strlen((char *)utf8) != len) {
		OPENSSL_free(utf8);
		return NULL;
	}
	s = strdup((char *)utf8);
	OPENSSL_free(utf8);
	return s;
}

int
authority_sign_intermediate(struct authority *a, const unsigned char *csr,
    size_t len, const char *cn, unsigned char **pem, size_t *pemlen)
{
	struct signer *rsig;
	struct cert_req cr;
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	char *reqcn = NULL;
	int64_t now = uc_now();
	int rc;

	*pem = NULL;
	if ((rc = csr_check(csr, len, &pub)) != UC_OK)
		return rc;
	if (cn == NULL) {
		if ((rc = csr_parse(csr, len, &req)) != UC_OK)
			goto out;
		if ((reqcn = name_cn(X509_REQ_get_subject_name(req))) == NULL) {
			rc = uc_seterr(UC_E_INVALID, "the request has no "
			    "usable CN; give --cn");
			goto out;
		}
		cn = reqcn;
	}
	if ((rc = auth_root_signer(a, &rsig)) != UC_OK)
		goto out;
	memset(&cr, 0, sizeof(cr));
	cr.kind = CK_ISSUING;
	cr.org = a->conf.org;
	cr.cn = cn;
	cr.base_url = a->conf.base_url;
	cr.smime = a->conf.smime;	/* the root's home decides */
	cr.not_before = now - 300;
	cr.not_after = now + (int64_t)a->conf.issuing_days * 86400;
	if ((rc = auth_sign_cert(rsig, &cr, pub, &x)) != UC_OK)
		goto out;
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	if ((rc = records_cert_insert(a->st, x, signer_cert(rsig), 0, "intermediate",
	    "sign-intermediate", NULL)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "sign-intermediate", cn,
	    NULL)) != UC_OK ||
	    (rc = store_commit(a->st)) != UC_OK) {
		store_rollback(a->st);
		goto out;
	}
	rc = cert_to_pem(x, pem, pemlen);
out:
	free(reqcn);
	X509_REQ_free(req);
	X509_free(x);
	EVP_PKEY_free(pub);
	return rc;
}

int
authority_intermediate_request(const struct init_opts *o,
    unsigned char **csr_pem, size_t *len)
{
	struct ca_conf c;
	const struct profile *prof;
	struct signer *isig = NULL;
	EVP_PKEY *key = NULL;
	char *p = NULL;
	int rc;

	*csr_pem = NULL;
	memset(&c, 0, sizeof(c));
	if ((rc = fill_conf(o, 1, &c)) != UC_OK)
		goto out;
	if (!url_valid(c.base_url)) {
		rc = uc_seterr(UC_E_INVALID, "--base-url '%.100s' must be an "
		    "http(s) URL without spaces or commas", c.base_url);
		goto out;
	}
	prof = profile_find(c.profile);
	if ((rc = refuse_existing(o->home)) != UC_OK)
		goto out;
	if (home_has(o->home, P_ISS_CSR)) {
		rc = uc_seterr(UC_E_EXISTS, "%s already has a pending request "
		    "(%s)", o->home, P_ISS_CSR);
		goto out;
	}
	if ((rc = key_generate(prof->issuing, &key)) != UC_OK)
		goto out;
	rc = signer_from_key(key, NULL, &isig);
	key = NULL;	/* taken by signer_from_key, even on failure */
	if (rc != UC_OK)
		goto out;
	if ((rc = csr_make(isig, c.org, c.issuing_cn, csr_pem, len)) != UC_OK)
		goto out;
	if ((rc = home_dirs(o->home)) != UC_OK)
		goto out;
	if ((p = home_path(o->home, P_ISS_KEY)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = signer_save_key(isig, p, NULL)) != UC_OK ||
	    (rc = home_write(o->home, P_ISS_CSR, *csr_pem, *len, 0644, 1)) !=
	    UC_OK)
		goto out;
	free(p);
	if ((p = home_path(o->home, P_CONF)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = conf_save(p, &c);
out:
	if (rc != UC_OK) {
		free(*csr_pem);
		*csr_pem = NULL;
	}
	free(p);
	signer_free(isig);
	EVP_PKEY_free(key);
	conf_clear(&c);
	return rc;
}

/*
 * The issuing certificate and root handed to intermediate install, parsed
 * and checked: the root a self-signed CA, the CA signed by it and matching
 * the home's issuing key (caller frees all three).
 */
static int
install_check(const char *home, const unsigned char *ca, size_t calen,
    const unsigned char *root, size_t rootlen, X509 **cax, X509 **rootx,
    struct signer **isig)
{
	EVP_PKEY *rpub, *k = NULL;
	X509 *dup;
	char *keyp = NULL;
	int rc;

	*cax = *rootx = NULL;
	*isig = NULL;
	if ((rc = cert_parse(ca, calen, cax)) != UC_OK ||
	    (rc = cert_parse(root, rootlen, rootx)) != UC_OK)
		return rc;
	if ((rpub = X509_get0_pubkey(*rootx)) == NULL ||
	    X509_verify(*rootx, rpub) != 1 || X509_check_ca(*rootx) == 0)
		return uc_seterr_ssl(UC_E_SIGNATURE, "the root certificate is "
		    "not a self-signed CA");
	if (X509_check_issued(*rootx, *cax) != X509_V_OK ||
	    X509_verify(*cax, rpub) != 1)
		return uc_seterr_ssl(UC_E_SIGNATURE, "the issuing certificate "
		    "was not signed by this root");
	if (X509_check_ca(*cax) == 0)
		return uc_seterr(UC_E_INVALID, "the issuing certificate is not "
		    "a CA certificate");
	if ((keyp = home_path(home, P_ISS_KEY)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	rc = key_read(keyp, NULL, &k);
	free(keyp);
	if (rc != UC_OK)
		return rc;
	/* Takes k, also when it fails. */
	if ((rc = signer_from_key(k, NULL, isig)) != UC_OK)
		return rc;
	if ((dup = X509_dup(*cax)) == NULL)
		return uc_seterr_ssl(UC_E_INTERNAL, "X509_dup");
	if (signer_set_cert(*isig, dup) != UC_OK)	/* takes dup */
		return uc_seterr(UC_E_INVALID, "the certificate does not "
		    "match this home's issuing key (%s)", P_ISS_KEY);
	return UC_OK;
}

/*
 * The installed home in the staging folder dir (which holds links to the
 * home's userca.conf and issuing key): certificates, records, first CRL
 * and public files.
 */
static int
install_write(const char *dir, X509 *cax, X509 *rootx)
{
	struct authority *a = NULL;
	struct store *st = NULL;
	int rc;

	if ((rc = write_cert_rel(dir, P_ROOT_CRT, rootx, 1)) != UC_OK ||
	    (rc = write_cert_rel(dir, P_ISS_CRT, cax, 1)) != UC_OK ||
	    (rc = new_store(dir, &st)) != UC_OK)
		return rc;
	rc = store_audit(st, uc_now(), "cli", "intermediate-install", NULL,
	    NULL);
	store_close(st);
	if (rc != UC_OK || (rc = authority_open(dir, &a)) != UC_OK)
		return rc;
	rc = authority_crl(a, 0, 0);
	authority_free(a);	/* the database is closed before it moves */
	return rc;
}

/*
 * The home's database is the mark of an installed CA: it moves in last,
 * so an issuing/ca.crt without it is what an interrupted install left.
 */
int
authority_intermediate_install(const char *home, const unsigned char *ca,
    size_t calen, const unsigned char *root, size_t rootlen)
{
	struct stage stg;
	struct signer *isig = NULL;
	X509 *cax = NULL, *rootx = NULL;
	int rc;

	memset(&stg, 0, sizeof(stg));
	stg.fd = -1;
	/* A rollover's certificate (rollover.c). */
	if (home_has(home, P_ISS_NEXT_KEY) && home_has(home, P_ISS_CRT))
		return rollover_install(home, ca, calen, root, rootlen);
	if ((rc = stage_recover(home, P_DB)) != UC_OK)
		return rc;
	if (home_has(home, P_DB))
		return uc_seterr(UC_E_EXISTS, "%s already has an issuing CA "
		    "installed", home);
	if (!home_has(home, P_ISS_KEY))
		return uc_seterr(UC_E_NOTFOUND, "%s has no issuing key: run "
		    "'userca intermediate request' there first", home);
	if ((rc = install_check(home, ca, calen, root, rootlen, &cax, &rootx,
	    &isig)) != UC_OK)
		goto out;
	if ((rc = stage_open(&stg, home, "install", 1)) != UC_OK ||
	    (rc = home_dirs(stg.path)) != UC_OK ||
	    (rc = stage_link(&stg, P_CONF)) != UC_OK ||
	    (rc = stage_link(&stg, P_ISS_KEY)) != UC_OK ||
	    (rc = install_write(stg.path, cax, rootx)) != UC_OK)
		goto out;
	rc = stage_commit(&stg, P_DB, 1);
out:
	stage_abort(&stg);
	signer_free(isig);
	X509_free(cax);
	X509_free(rootx);
	return rc;
}

/*
 * A delegated certificate (OCSP responder, SCEP RA) and its key into the
 * home: the key through save() to tmp_rel, renamed onto key_rel first (a
 * certificate never names a key not yet on disk), then x as PEM at crt_rel
 * (0644), then an audit row event with its serial.
 */
int
home_put_delegated(struct authority *a, int (*save)(void *, const char *),
    void *key, const char *tmp_rel, const char *key_rel, const char *crt_rel,
    X509 *x, const char *event, int64_t now)
{
	unsigned char *pem = NULL;
	size_t pemlen;
	char *tmp = NULL, *kp = NULL, *serial = NULL;
	int rc;

	if ((rc = cert_to_pem(x, &pem, &pemlen)) != UC_OK)
		return rc;
	if ((tmp = home_path(a->home, tmp_rel)) == NULL ||
	    (kp = home_path(a->home, key_rel)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	(void)unlink(tmp);
	if ((rc = save(key, tmp)) != UC_OK)
		goto out;
	if (rename(tmp, kp) == -1) {
		rc = uc_seterr(UC_E_IO, "%s: %s", kp, strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	if ((rc = home_write(a->home, crt_rel, pem, pemlen, 0644, 0)) !=
	    UC_OK)
		goto out;
	if ((serial = serial_hex(X509_get0_serialNumber(x))) != NULL) {
		pthread_mutex_lock(&a->mu);
		(void)store_audit(a->st, now, a->actor, event, serial, NULL);
		pthread_mutex_unlock(&a->mu);
	}
out:
	free(serial);
	free(pem);
	free(tmp);
	free(kp);
	return rc;
}
