/*
 * authority_int.h: what the files of the authority layer share; not for
 * the front doors.
 */
#ifndef UC_AUTHORITY_INT_H
#define UC_AUTHORITY_INT_H

#include <sys/types.h>

#include <limits.h>

#include <pthread.h>

#include "authority.h"
#include "store.h"

/* The CA home's layout, relative to its folder (README.md "The CA home"). */
#define P_CONF		"userca.conf"
#define P_DB		"userca.db"
#define P_ROOT_CRT	"root/root.crt"
#define P_ROOT_KEY	"root/root.key"
#define P_ROOT_CRL	"root/root.crl"
#define P_ISS_CRT	"issuing/ca.crt"
#define P_ISS_KEY	"issuing/ca.key"
#define P_ISS_CSR	"issuing/ca.csr"
/* rollover.c: the issuing CAs before the current one, and a rollover's
 * key and certificate until they replace issuing/ca.* */
#define P_ISS_PREV	"issuing/previous"
#define P_ISS_NEXT_KEY	"issuing/next.key"
#define P_ISS_NEXT_CSR	"issuing/next.csr"
#define P_ISS_NEXT_CRT	"issuing/next.crt"

/* An issuing CA that a rollover replaced: issuing/previous/<gen>.crt and
 * <gen>.key.  It signs CRLs (never certificates) until it expires. */
struct prev_ca {
	X509			*cert;
	char			*ski;
	int			 gen;		/* 1: the first issuing CA */
	struct signer		*sig;		/* opened when first needed */
};

struct authority {
	char			*home;
	struct ca_conf		 conf;
	const struct profile	*prof;
	struct store		*st;
	X509			*root;		/* may be NULL (online home) */
	X509			*issuing;
	int			 root_distinct;	/* root set and not the
						 * issuing CA: chains hold it */
	unsigned char		*chain_pem;	/* issuing (and root when
						 * distinct) as PEM: what
						 * follows every leaf */
	size_t			 chain_pem_len;
	char			*root_ski;
	char			*issuing_ski;
	struct signer		*isig;		/* opened when first needed */
	struct signer		*rsig;
	authority_getpass_fn	 getpass;
	void			*getpass_arg;
	const char		*actor;
	/*
	 * One connection, shared by the daemon's threads: every database
	 * step holds mu (recursive: crl -> publish), readers included, in
	 * the CLI too (batch.c's cert_current/url_pending; the front doors
	 * read through authority_user_get/cert_get/cert_list).  Crypto runs
	 * outside.  Token lookups use rst under rmu instead.
	 */
	pthread_mutex_t		 mu;
	/*
	 * A second connection for token lookups: in WAL mode it reads the
	 * last committed state while a group commit holds mu over its fsync.
	 */
	pthread_mutex_t		 rmu;
	struct store		*rst;		/* opened when first needed */
	uint64_t		 rst_version;	/* under rmu: rst's
						 * store_data_version() when
						 * the OCSP epoch last moved */
	int			 rst_versioned;
	/*
	 * Group commit for redemptions: the first waiter leads, commits
	 * everything queued in one transaction (one fsync), and wakes the
	 * others, each on its own condition (items that queued meanwhile
	 * sleep on), and one of those to lead next.  Each item has its own
	 * savepoint.
	 */
	pthread_mutex_t		 gcmu;
	struct gc_item		*gc_pending;
	int			 gc_leading;
	struct aocsp		*ocsp;		/* ocsp.c: the responder */
	struct ascep		*scep;		/* scep.c: the RA */
	struct prev_ca		*prev;		/* rollover.c: newest first */
	size_t			 nprev;
};

struct gc_item {
	struct gc_item		*next;
	X509			*cert;
	int64_t			 user_id;
	const char		*method;
	const char		*username;
	const char		*serial;
	const unsigned char	*hash;
	const unsigned char	*retry_hash;	/* 32 bytes: arm the retry
						 * window; NULL: none */
	int64_t			 retry_until;
	const struct scep_txn	*scep;		/* recorded with it; NULL: none */
	pthread_cond_t		 cv;		/* group_commit(): its wake */
	/* results */
	int			 done;
	int			 rc;
	char			 err[256];
	int			 consumed;
	int64_t			 cert_id;
	int			 revoked_old;	/* a renewal link revoked
						 * the certificate it renews */
};

#define REASON_SUPERSEDED	4	/* RFC 5280 CRLReason */

/*
 * Shared by the files of this layer; each name says its file:
 * auth_ authority.c, home_ home.c, stage_ stage.c, records_ records.c,
 * crls_ crls.c, publish_ publish.c, issue_ issue.c, gateway_ gateway.c,
 * auditlog_ auditlog.c, retry_ retry.c, renew_ renew.c, aocsp_ ocsp.c.
 */

/* authority.c: build from req and sign with sig (caller frees *out). */
int	auth_sign_cert(struct signer *sig, const struct cert_req *req,
	    EVP_PKEY *pub, X509 **out);
/* authority.c: the CA signers, opened once (the root asks for the
 * passphrase); borrowed. */
int	auth_issuing_signer(struct authority *a, struct signer **out);
int	auth_root_signer(struct authority *a, struct signer **out);
/* authority.c: the reading connection (rmu held by the caller). */
int	auth_reader_store(struct authority *a, struct store **out);

/* home.c: "home/rel" (caller frees); 1 if it exists; write it atomically
 * (or exclusively with excl). */
char	*home_path(const char *home, const char *rel);
int	 home_has(const char *home, const char *rel);
int	 home_write(const char *home, const char *rel, const void *buf,
	    size_t len, mode_t mode, int excl);

/*
 * stage.c: a CA home built out of place.  stage_open() makes a staging
 * folder: beside home (".<name>.<what>-XXXXXX" in its parent) when home
 * does not exist yet or is an empty folder, else (or with inside) in it
 * (".<what>-XXXXXX"),
 * and first removes the ones a killed run left.  Write into s->path as
 * into the home; stage_commit() renames it onto the new home, or moves
 * its files into the existing one (folders merged, replace: over files
 * already there, else UC_E_EXISTS), last (relative name) last, moved back
 * if one fails.  Both end the stage; stage_abort() removes it unmoved.
 * stage_link() hard-links the home's rel into the stage (its folder must
 * be there), for files the staged home shares with the home.
 */
struct stage {
	char	 home[PATH_MAX];
	char	 parent[PATH_MAX];
	char	 path[PATH_MAX];	/* the staging folder */
	int	 beside;		/* renamed onto home as a whole */
	int	 replace;		/* home: an empty folder (mode, uid,
					 * gid) the rename replaces */
	mode_t	 mode;
	uid_t	 uid;
	gid_t	 gid;
	int	 fd;			/* path, flock'd while we build */
};
int	stage_open(struct stage *s, const char *home, const char *what,
	    int inside);
int	stage_commit(struct stage *s, const char *last, int replace);
void	stage_abort(struct stage *s);
int	stage_link(struct stage *s, const char *rel);
/*
 * home.c: a delegated certificate (OCSP responder, SCEP RA) and its key
 * into the home: save(key, path) writes the key to tmp_rel, renamed onto
 * key_rel before x goes to crt_rel; then an audit row event.
 */
int	home_put_delegated(struct authority *a,
	    int (*save)(void *, const char *), void *key, const char *tmp_rel,
	    const char *key_rel, const char *crt_rel, X509 *x,
	    const char *event, int64_t now);
/*
 * A merge into home that a killed run left half-way (its journal, with
 * last not yet moved in): remove the files it moved, then the journal.
 * Call before looking at what home holds.
 */
int	stage_recover(const char *home, const char *last);

/* records.c: INSERT a certificate row; UC_E_EXISTS when the serial is
 * taken. */
int	records_cert_insert(struct store *st, X509 *x, X509 *issuer,
	    int64_t user_id, const char *kind, const char *method,
	    int64_t *id);
/* records.c: a store row's strings moved into u (su is left empty). */
void	records_user_take(struct store_user *su, struct authority_user *u);

/* auditlog.c: a checkpoint of the log as it stands, signed by sig, in the
 * caller's transaction (after the CRL's audit row); public/
 * audit-checkpoint.json from the newest one (publish.c calls it). */
int	auditlog_checkpoint(struct authority *a, struct signer *sig,
	    int64_t at, const char *issuer_ski, int64_t crl_number);
int	auditlog_publish(struct authority *a);

/* crls.c: sign, record and commit the next CRL of the CA behind sig (the
 * root's with crls_sign_root); crls_sign_at for a given window. */
int	crls_sign(struct authority *a, struct signer *sig, int days);
int	crls_sign_root(struct authority *a, struct signer *sig, int days);
int	crls_sign_at(struct authority *a, struct signer *sig,
	    int64_t this_update, int64_t next_update, unsigned char **pem,
	    size_t *pemlen);

/* publish.c: write public/ and the gateway kit; mu held. */
int	publish_locked(struct authority *a);

/* issue.c: leaf PEM then chain to the root (caller frees). */
int	issue_chain_pem(struct authority *a, X509 *leaf, unsigned char **out,
	    size_t *len);
/* issue.c: a->chain_pem from a->issuing (and a->root), at load. */
int	issue_chain_tail(struct authority *a);
/* issue.c: PKCS#12 with the chain (caller OPENSSL_free()s *der). */
int	issue_p12(struct authority *a, EVP_PKEY *key, X509 *cert,
	    const char *friendly, const char *pass, enum p12_format f,
	    unsigned char **der, size_t *len);

/* issue.c: a recorded certificate answered again: res's serial,
 * notAfter and chain PEM, res->again set (UC_OK), else res cleared. */
int	issue_again(struct authority *a, X509 *x, struct issue_result *res);
/* issue.c: hand a committed mint to res (serial, PKCS#12, chain PEM). */
int	issue_release(struct authority *a, struct mint *m, int64_t cert_id,
	    struct issue_result *res);
/* issue.c: mint for the CSR's key, keeping its SPKI encoding. */
int	issue_mint_req(struct authority *a, const struct identity *id,
	    X509_REQ *req, struct mint *m);

/* retry.c: a retry secret for a redemption (*secret freed with
 * secret_free(); hash its SHA-256). */
int	retry_new(char **secret, unsigned char hash[32]);
/* retry.c: the second try of a used token (authority_redeem()); ti is
 * the token's, hash its SHA-256. */
int	retry_redeem(struct authority *a, const struct redeem_req *r,
	    const struct token_info *ti, const unsigned char hash[32],
	    struct issue_result *res, enum token_state *state);

/*
 * renew.c: record_one()'s renewal steps, in its transaction (mu held).
 * renew_record_check: the user's certificate r renews into *due
 * (store_due_clear), or UC_E_STATE with r->already when it was renewed
 * or a link is pending.  renew_record_done: after the
 * insert, supersede (and with r->revoke_old revoke) *due.
 * renew_redeemed: a redeemed token that renews a certificate supersedes
 * it with cert_id, and revokes it (superseded) when the link was made so
 * (tokens.revoke_old); *revoked is then 1.
 */
struct store_due;
int	renew_record_check(struct authority *a, struct record *r, int64_t now,
	    struct store_due *due);
int	renew_record_done(struct authority *a, struct record *r, int64_t now,
	    const struct store_due *due);
int	renew_redeemed(struct authority *a, const unsigned char hash[32],
	    int64_t cert_id, int64_t now, int *revoked);
/* renew.c: for batch.c: *skip unless username's certificate is due before
 * until and no link is pending; *expires: its not_after.  tokens is
 * unused (links and bundles skip alike). */
int	renew_row_done(struct authority *a, const char *username, int64_t now,
	    int64_t until, int tokens, int *skip, int64_t *expires);

/* scep.c: the RA's state (authority_free). */
void	ascep_free(struct ascep *);
/*
 * scep.c: a SCEP transaction, recorded by ascep_record() with the
 * certificate it issued, inside that certificate's transaction (mu held):
 * tid, the request's SHA-256 and the signer key's (key_set 0: the key of
 * cert, as a PKCSReq is signed with the key it asks to certify).
 */
struct scep_txn {
	const char	*tid;
	unsigned char	 req[32];
	unsigned char	 key[32];
	int		 key_set;
};
int	ascep_record(struct authority *a, const struct scep_txn *t, X509 *cert,
	    int64_t cert_id, int64_t now);
/* issue.c, renew.c: authority_redeem() and authority_renew_by_cert()
 * recording t with the certificate they issue. */
int	issue_redeem_txn(struct authority *a, const struct redeem_req *r,
	    const struct scep_txn *t, struct issue_result *res,
	    enum token_state *state);
int	renew_by_cert_txn(struct authority *a, const unsigned char *old,
	    size_t oldlen, const unsigned char *csr, size_t csrlen,
	    const char *method, const struct scep_txn *t,
	    struct issue_result *res);
/* ocsp.c: the responder's state (authority_free). */
void	aocsp_free(struct aocsp *);
/* ocsp.c: the AIA OCSP URL of new user certificates into buf ([ocsp]
 * url, or <base_url>/ocsp); NULL when url = off. */
const char *aocsp_url(struct authority *a, char *buf, size_t len);

/*
 * rollover.c: the previous issuing CAs (load at open, free), whether one
 * is still in service (not expired: it signs its CRL and is published),
 * the signer for a certificate's issuer (the root's, a previous CA's or
 * the current one's), the CRLs of the previous CAs in service (mu held),
 * the generation of the current issuing CA, and the install of a
 * rollover's certificate (authority_intermediate_install).
 */
int	rollover_load(struct authority *a);
void	rollover_free(struct authority *a);
int	rollover_in_service(const struct prev_ca *p, int64_t now);
int	rollover_signer_for(struct authority *a, const char *ski,
	    struct signer **out);
int	rollover_sign_crls(struct authority *a, int days);
int	rollover_current_gen(const struct authority *a);
/*
 * rollover.c: the names under public/ (and the base URL) of issuing CA
 * gen's CRL and certificate, which its certificates carry as CRL
 * distribution point and caIssuers, for the CA's whole life: the first
 * CA's are crl.der and ca.crt (what its certificates always carried),
 * a later one's crl-<gen>.der and issuing-<gen>.crt.
 */
void	rollover_names(int gen, char *crl, size_t crllen, char *crt,
	    size_t crtlen);
/*
 * rollover.c: the first issuing CA (generation 1) while it is in service,
 * whose CRL and certificate public/crl.der and ca.crt hold; the current
 * CA once it is not.  *ski is its key identifier.
 */
X509	*rollover_first(const struct authority *a, const char **ski);
/* rollover.c: 0 when ski is the current issuing CA's, 1 + its index when
 * a previous one's in service, -1 otherwise; the key identifier of the
 * current CA (k == -1) or of previous CA k, NULL past the last. */
int	rollover_issuer(const struct authority *a, const char *ski);
const char *rollover_issuer_ski(const struct authority *a, long k);
int	rollover_install(const char *home, const unsigned char *ca,
	    size_t calen, const unsigned char *root, size_t rootlen);

/* gateway.c: public/gateway/: nginx, Apache, PowerShell. */
int	gateway_write(struct authority *a);
/* s for a PowerShell <# #> help comment ("#>" defused). */
struct ucbuf;
void	gateway_ps_comment(struct ucbuf *b, const char *s);

#endif /* UC_AUTHORITY_INT_H */
