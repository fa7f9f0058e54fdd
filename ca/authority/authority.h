/*
 * authority.h: the one place that issues, revokes and publishes, and the
 * only door onto it for the front doors (ca/cli/, enroll/).
 *
 * It combines the PKI layer (pki.h) with the records (db/store.h) and
 * keeps the issuance contract: validate -> identity from our records ->
 * random serial -> sign -> INSERT + COMMIT -> only then release.  The CLI
 * and the daemon are thin front doors onto these functions.
 *
 * The store is not part of this interface: front doors do not have db/ on
 * their include path.  What they read of the records comes as the
 * authority's own value types (struct authority_user, authority_cert),
 * filled under the authority's lock; their strings and DER are malloc'd
 * and owned by the struct until its *_clear().  Buffers handed out are
 * freed as each function says (or by the result's *_clear()).
 */
#ifndef UC_AUTHORITY_H
#define UC_AUTHORITY_H

#include "conf.h"
#include "pki.h"

/*
 * Asks for the root passphrase when a command needs it.  Returns UC_OK
 * with a new string in *pass (freed by the caller with secret_free()).
 */
typedef int (*authority_getpass_fn)(void *arg, int confirm, char **pass);

struct authority;

struct init_opts {
	const char	*home;
	const char	*org;
	const char	*base_url;
	const char	*enroll_url;	/* https; NULL: base_url when that
					 * is https, else none */
	const char	*profile;	/* NULL: compatible */
	const char	*root_cn;	/* NULL: "<org> Root CA" */
	const char	*issuing_cn;	/* NULL: "<org> Issuing CA" */
	int		 intermediate;
	int		 allow_http_links; /* http enrollment links allowed */
	int		 smime;		/* issuing CA EKU with emailProtection */
};

/* Create a new CA home (refuses, UC_E_EXISTS, if one is there). */
int	authority_init(const struct init_opts *o, authority_getpass_fn,
	    void *arg);

/* Open an existing CA home. */
int	authority_open(const char *home, struct authority **out);
void	authority_free(struct authority *);
void	authority_set_getpass(struct authority *, authority_getpass_fn,
	    void *arg);
/* "cli", "enrolld": recorded in the audit table. */
void	authority_set_actor(struct authority *, const char *actor);
/* A user's record. */
struct authority_user {
	int64_t	 id;
	char	*username;
	char	*email;		/* each of these may be NULL */
	char	*name;
	char	*upn;
	char	*ou;
	char	*sid;		/* AD SID for strong mapping */
};
void	authority_user_clear(struct authority_user *);	/* NULL-safe */

/* A certificate's record. */
struct authority_cert {
	int64_t		 id;
	char		*serial;	/* upper-case hex */
	int64_t		 user_id;	/* 0: none */
	char		*username;	/* NULL if none */
	char		*kind;		/* user, server, intermediate */
	char		*issuer_ski;	/* hex */
	char		*subject;
	int64_t		 not_before;
	int64_t		 not_after;
	char		*sha256;	/* hex */
	unsigned char	*der;		/* with_der only */
	size_t		 derlen;
	char		*status;	/* valid, revoked */
	int64_t		 revoked_at;	/* 0 unless revoked */
	int		 reason;	/* -1 unless revoked */
	char		*method;
	int64_t		 created_at;
};
void	authority_cert_clear(struct authority_cert *);	/* NULL-safe */

struct authority_cert_filter {
	const char	*username;	/* NULL: all */
	const char	*issuer_ski;	/* NULL: all */
	const char	*kind;		/* NULL: all */
	const char	*status;	/* NULL, "valid", "revoked", "expired" */
	int64_t		 now;		/* for valid/expired/expiring */
	int64_t		 expiring_before; /* 0: none; else valid and
					  * not_after < this */
	int		 with_der;	/* fill der/derlen */
};

/*
 * The records, read under the authority's lock like every other database
 * step.  Results are the caller's to clear with authority_user_clear() /
 * authority_cert_clear(); UC_E_NOTFOUND when absent.
 */
int	authority_user_get(struct authority *, const char *username,
	    struct authority_user *);
int	authority_cert_get(struct authority *, const char *serial,
	    struct authority_cert *);
/*
 * cb for each matching certificate, oldest first; the struct is borrowed
 * for the call only.  cb runs under the lock: it must not call back into
 * the authority.  A non-zero return from cb stops the walk and is
 * returned.
 */
int	authority_cert_list(struct authority *,
	    const struct authority_cert_filter *,
	    int (*cb)(const struct authority_cert *, void *), void *arg);
const struct ca_conf	*authority_conf(struct authority *);

/*
 * IIS one-to-one mapping material, made from the records (never
 * published): IIS_CSV, a header and one line per user certificate to map
 * (username,account,serial,not_after,certificate; account is the UPN, or
 * [iis] domain\username, or username); IIS_PS1, userca-iis-mappings.ps1,
 * which adds those mappings and removes the ones of revoked or superseded
 * certificates.  The text goes to out() in pieces; a non-zero return from
 * out() stops the export and is returned.
 */
enum iis_format { IIS_CSV, IIS_PS1 };
int	authority_iis_export(struct authority *, enum iis_format,
	    int (*out)(const void *buf, size_t len, void *arg), void *arg);
/* Borrowed CA certificates; root may be NULL on an online-only home. */
X509	*authority_issuing_cert(struct authority *);
X509	*authority_root_cert(struct authority *);

struct issue_req {
	struct identity	 id;
	const unsigned char *csr;	/* NULL: generate a key (p12) */
	size_t		 csrlen;
	enum p12_format	 p12_format;
	const char	*p12_password;	/* required when csr == NULL */
	int		 days;		/* 0: the configured user_days */
	int		 email_protection;
	int		 supersede;	/* revoke the user's other valid
					 * certificates when this one is in */
	const char	*method;	/* recorded: csr, p12, batch, ... */
};

/* Which identity fields came from the user record (issue_result.filled). */
#define ID_FROM_EMAIL	0x1
#define ID_FROM_UPN	0x2
#define ID_FROM_NAME	0x4
#define ID_FROM_OU	0x8
#define ID_FROM_SID	0x10

struct issue_result {
	char		*serial;
	int64_t		 not_after;
	int64_t		 cert_id;
	unsigned char	*cert_pem;	/* leaf then chain to the root */
	size_t		 cert_pem_len;
	unsigned char	*p12;		/* when a key was generated */
	size_t		 p12_len;
	unsigned	 filled;	/* ID_FROM_*: taken from the record */
	int		 others;	/* the user's other valid certificates,
					 * left valid (no supersede) */
	int		 superseded;	/* revoked by supersede: the caller
					 * re-signs the CRL */
	char		*retry;		/* authority_redeem(): the retry
					 * secret; NULL: none */
	int64_t		 retry_until;
	int		 again;		/* authority_redeem(): the stored
					 * certificate of a used token, for
					 * the same key */
	struct authority_user user;	/* authority_redeem(): the token's
					 * user, as looked up for it */
};
void	issue_result_clear(struct issue_result *);

/*
 * Issue one user certificate.  When this returns UC_OK the certificate's
 * row is committed, and only then may the caller release the result.
 * Identity fields the request leaves NULL are taken from the user's
 * record (res->filled says which), so a re-issue keeps the SAN.
 */
int	authority_issue(struct authority *, const struct issue_req *,
	    struct issue_result *);

/*
 * The pieces of authority_issue(), for front doors that issue many at
 * once (batch, daemon).  authority_ready() opens the issuing signer (it may
 * ask for the root passphrase when the root issues directly); after it,
 * authority_mint() is safe to call from several threads at once.
 */
struct mint {
	X509		*cert;		/* signed, not yet recorded */
	char		*serial;
	int64_t		 not_after;
	unsigned char	*p12;		/* when the key was generated here */
	size_t		 p12_len;
};
int	authority_ready(struct authority *);
/* pub: the CSR's key, or NULL to generate one and build a PKCS#12. */
int	authority_mint(struct authority *, const struct identity *,
	    EVP_PKEY *pub, enum p12_format, const char *p12_password,
	    int days, int email_protection, struct mint *);
void	mint_clear(struct mint *);

struct record {
	const struct identity	*id;
	X509			*cert;		/* NULL: a token only */
	const char		*method;
	int			 supersede;	/* revoke the user's other
						 * valid certificates */
	int			 only_new;	/* record nothing if the user
						 * already has a valid
						 * certificate (or, for a
						 * token, an unused token) */
	const unsigned char	*token_hash;	/* 32 bytes, or NULL */
	int64_t			 token_expires;
	/*
	 * Renewal: not 0, the user's newest certificate must expire before
	 * this and not be superseded yet (else already, UC_E_STATE); the
	 * new certificate (or the token, once redeemed) supersedes it, and
	 * with revoke_old revokes it (revoked counts it).
	 */
	int64_t			 renew_until;
	int			 revoke_old;
	/* results */
	int			 rc;		/* UC_OK once committed */
	char			 errmsg[256];
	int64_t			 cert_id;
	int			 revoked;	/* superseded and revoked */
	int			 others;	/* the user's other valid
						 * certificates, left valid */
	int			 already;	/* only_new and the user had
						 * one: rc is UC_E_STATE */
};
/*
 * Record n items in one transaction, each in its own savepoint: an item
 * that fails (r[i].rc, r[i].errmsg) is undone alone.  Returns UC_OK when
 * the transaction committed; then every r[i].rc == UC_OK is durable and
 * may be released.  The check behind only_new and the insert are one
 * transaction (BEGIN IMMEDIATE), so of two processes racing for a user
 * exactly one records.  Does not re-sign the CRL after supersede revocations:
 * call authority_crl() once afterwards.
 */
int	authority_record(struct authority *, struct record *r, size_t n);

enum token_state {
	TOKEN_VALID, TOKEN_UNKNOWN, TOKEN_EXPIRED, TOKEN_USED
};

struct token_info {
	enum token_state	 state;
	struct authority_user	 user;		/* when the token is known */
	int64_t			 expires_at;
	int64_t			 used_at;
	/* A renewal link (renew --tokens, notify): the certificate it
	 * replaces, when that one expires, and whether redeeming the link
	 * revokes it at once (superseded).  renews NULL: a first link. */
	char			*renews;
	int64_t			 renews_not_after;
	int			 renews_revoke_old;
};
/*
 * Who a token is for and whether it can still be redeemed.  Returns UC_OK
 * whatever the state (a malformed token is TOKEN_UNKNOWN); only the
 * token's SHA-256 is looked up.
 */
int	authority_token_lookup(struct authority *, const char *token,
	    struct token_info *);
void	token_info_clear(struct token_info *);

struct redeem_req {
	const char		*token;
	const unsigned char	*csr;		/* NULL: generate, PKCS#12 */
	size_t			 csrlen;
	enum p12_format		 p12_format;
	const char		*p12_password;	/* required without csr */
	int			 smime;		/* S/MIME when the user has an
						 * email address */
	int			 retry_window;	/* s: > 0 hands out a retry
						 * secret with a PKCS#12 */
	const char		*retry;		/* the secret of a first
						 * answer: a second try */
	/*
	 * The privilege-separated daemon: the key to certify as a DER
	 * SubjectPublicKeyInfo (csr NULL), checked here against the key
	 * policy.  server_key: the front door made the key (a PKCS#12 it
	 * builds itself); else it came from the owner's CSR.  No PKCS#12
	 * is built here then (res->p12 stays NULL).
	 */
	const unsigned char	*spki;
	size_t			 spkilen;
	int			 server_key;
	const char		*method;	/* recorded; NULL: enroll-csr
						 * or enroll-p12 */
	const char		*username;	/* not NULL: must be the
						 * token's user */
};
/*
 * Redeem a token: the certificate for the token's user (identity from
 * the record, never from the CSR).  The token is consumed and the row
 * inserted in one transaction, so of racing requests exactly one wins.
 * *state says why a token was refused (UC_E_NOTFOUND: unknown,
 * UC_E_STATE: used or expired); other errors are about the request and
 * leave the token unused.
 *
 * The retry window (DESIGN 25): a PKCS#12 redemption with retry_window
 * set also returns res->retry (a secret, freed by issue_result_clear())
 * and res->retry_until.  A used token with r->retry, before retry_until
 * and for the first time, issues once more (a new key and PKCS#12) and
 * revokes the first certificate (superseded; res->superseded is 1, and
 * the CRL is re-signed by the caller or the daemon's CRL watch); the
 * answer carries no further retry.  Otherwise the used token is refused
 * as ever (UC_E_STATE, TOKEN_USED).
 */
int	authority_redeem(struct authority *, const struct redeem_req *,
	    struct issue_result *, enum token_state *state);
/*
 * Idempotent redemption (with r->spki from a CSR, not server_key): a used
 * token whose still-valid certificate certifies the same public key is
 * answered with that certificate again (res->again = 1), so a client that
 * lost the answer can retry.
 *
 * authority_redeem_undo(): the certificate serial was committed for a
 * server-made key that never reached its owner (the process holding the
 * key died): revoke it (cessationOfOperation) and make its token usable
 * again, in one transaction.  *rearmed: the token was re-armed.  The CRL
 * is re-signed by the caller or the daemon's CRL watch.
 */
int	authority_redeem_undo(struct authority *, const char *serial,
	    int *rearmed);
/* The key type the CA's profile gives users ("ec-p256", "rsa-2048", ...). */
const char	*authority_user_key_type(struct authority *);

/* ---- the protocol doors: SCEP, EST (one call per issuance) ------------------ */

/*
 * A CSR (DER or PEM) redeemed with a one-time token, exactly as the web
 * API's: identity from the token's user, the key checked by the key
 * policy, the token consumed with the row.  method is recorded ("scep",
 * "est").  username, when not NULL, must be the token's user (EST's HTTP
 * Basic): another is refused as an unknown token.  Results and errors as
 * authority_redeem().
 */
int	authority_redeem_csr(struct authority *, const char *token,
	    const char *username, const unsigned char *csr, size_t csrlen,
	    const char *method, int smime, struct issue_result *res,
	    enum token_state *state);

/*
 * Renewal by a certificate the client proved it holds (SCEP RenewalReq
 * signed with it, EST simplereenroll over TLS with it): old is that
 * certificate (DER), csr the new request (DER or PEM).  The rules of
 * every door ([renew] in userca.conf): old must be one of ours and
 * recorded, a user certificate, valid (not revoked, not expired), not
 * renewed before, and with [renew] refuse_early inside [renew] window of
 * its expiry.  The new certificate goes to old's user (identity from the
 * record, never the CSR), with the profile's validity, and supersedes
 * old, which stays valid unless [renew] revoke_old (then revoked,
 * superseded; res->superseded is 1 and the CRL is the caller's to
 * re-sign).  UC_E_NOTFOUND: old is not ours or not recorded; UC_E_STATE:
 * revoked, expired, already renewed or too early; CSR errors as
 * authority_redeem().
 */
int	authority_renew_by_cert(struct authority *, const unsigned char *old,
	    size_t oldlen, const unsigned char *csr, size_t csrlen,
	    const char *method, struct issue_result *res);

/*
 * EST simpleenroll by a TLS client certificate: as
 * authority_renew_by_cert() (the same checks of old), but the new
 * certificate is one more for old's user (another device) and supersedes
 * nothing.
 */
int	authority_enroll_by_cert(struct authority *, const unsigned char *old,
	    size_t oldlen, const unsigned char *csr, size_t csrlen,
	    const char *method, struct issue_result *res);

/*
 * The SCEP RA (a transport key, like the TLS key): an RSA-2048 key and a
 * certificate from the issuing CA (digitalSignature, keyEncipherment) in
 * issuing/scep-ra.crt and scep-ra.key (0600), made or renewed at half
 * its life ([ca] server_days) under a lock file, like the OCSP
 * responder.  authority_scep_refresh() is cheap when nothing is due.
 * authority_scep_ra(): new references to the certificate and key in use
 * (caller frees both); UC_E_STATE before the first refresh.
 */
int	authority_scep_refresh(struct authority *);
int	authority_scep_ra(struct authority *, X509 **cert, EVP_PKEY **key);

/*
 * SCEP transactions (RFC 8894 transactionID), kept in the database with
 * the certificate they issued (recorded in its transaction), so they
 * outlive the daemon.  authority_scep_enroll(): a PKCSReq (old NULL: the
 * CSR with its challenge token, as authority_redeem_csr() with method
 * "scep") or a RenewalReq (old: the certificate of ours that signed it,
 * DER, as authority_renew_by_cert() with "scep-renew") under tid.  A tid
 * already recorded with the same CSR (and, for a renewal, the same
 * signer's key) is answered with its certificate again (res->again),
 * nothing issued; with another request it is refused (UC_E_INVALID).
 * authority_scep_poll(): CertPoll: the certificate (DER, caller frees)
 * of transaction tid when key, the SHA-256 of the poller's public key
 * bits, is its signer's; UC_E_NOTFOUND otherwise.
 */
int	authority_scep_enroll(struct authority *, const char *tid,
	    const char *token, const unsigned char *old, size_t oldlen,
	    const unsigned char *csr, size_t csrlen, int smime,
	    struct issue_result *res, enum token_state *state);
int	authority_scep_poll(struct authority *, const char *tid,
	    const unsigned char key[32], unsigned char **der, size_t *len);

/*
 * The enrollment daemon's own TLS certificate (EKU serverAuth) for the
 * DNS names and IP addresses (NULL-terminated lists; at least one name):
 * chain PEM (server then issuing CA) and its private key PEM (caller
 * frees the key with secret_free_buf()).
 */
int	authority_issue_server(struct authority *, const char *const *dns,
	    const char *const *ip, unsigned char **chain, size_t *chainlen,
	    unsigned char **key, size_t *keylen, char **serial);

/* The newest recorded CRL of the issuing CA (root != 0: the root). */
struct crl_state {
	int	 have;		/* 0: none recorded */
	int64_t	 number;
	int64_t	 next_update;
	long	 entries;	/* revoked serials on it */
	long	 revoked;	/* revoked in the records now */
	long	 runway;	/* pre-signed CRLs not yet in force */
	int64_t	 runway_until;	/* the last nextUpdate of them all */
};
int	authority_crl_state(struct authority *, int root, struct crl_state *);

/* "<enroll_url or base_url>/enroll/<token>" (caller frees). */
char	*authority_enroll_url(struct authority *, const char *token);
/*
 * UC_OK when enrollment links may be handed out: the CA's enrollment URL
 * is https, or userca.conf allows http links (allow_http_links, for tests
 * and labs).  UC_E_POLICY naming --enroll-url otherwise.  Call it before
 * making a token: a link is a password, never sent in clear.
 */
int	authority_enroll_check(struct authority *);

/* A one-time enrollment token for the user (ttl seconds; 0: conf). */
int	authority_token(struct authority *, const struct identity *, int ttl,
	    char **token, int64_t *expires);

/*
 * Revoke one certificate (serial) or every valid certificate of a user,
 * then re-sign the affected CRL and publish.  *count: how many.
 */
int	authority_revoke(struct authority *, const char *serial,
	    const char *username, int reason, int *count);

struct revoke_result {
	char		**serials;	/* revoked by this call */
	size_t		  n;
	int64_t		  crl_number;	/* of the CRL signed after (n > 0) */
	int		  crl_root;	/* that CRL is the root's */
	int		  tokens_cancelled; /* the user's unused tokens */
};
void	revoke_result_clear(struct revoke_result *);	/* NULL-safe */
/*
 * As authority_revoke(), telling what was done.  For a user it also
 * cancels the user's unused enrollment tokens, and a user with nothing
 * left to revoke is UC_OK with res->n == 0 (offboarding scripts re-run).
 * A serial already revoked is UC_E_STATE.  Clear res in every case.
 */
int	authority_revoke_ex(struct authority *, const char *serial,
	    const char *username, int reason, struct revoke_result *res);

/* One line of a revoke --csv file and what became of it. */
enum { REVOKE_LINE_OK = 0, REVOKE_LINE_NOTICE = 1, REVOKE_LINE_ERROR = -1 };
struct revoke_bulk_line {
	long		  line;		/* in the file, from 1 (the header) */
	char		 *key;		/* the username or serial as written */
	int		  status;	/* REVOKE_LINE_* */
	char		 *msg;		/* the notice or error; NULL if none */
	char		**serials;	/* revoked for this line */
	size_t		  n;
	int		  tokens_cancelled;
};
struct revoke_bulk_result {
	struct revoke_bulk_line	*l;	/* every data line, in file order */
	size_t			 n;
	int			 by_serial;	/* the key column is serial */
	size_t			 revoked;	/* lines that revoked something */
	size_t			 notices;	/* lines with nothing to revoke */
	size_t			 errors;	/* lines in error */
	size_t			 certificates;	/* serials revoked in all */
	int64_t			 crl_number;	/* the one CRL signed after */
};
/*
 * revoke --csv: the users (column username) or certificates (column
 * serial) of a CSV file, with reason, in one transaction, then one CRL of
 * the issuing CA and a publish.  A line naming nothing known is an error
 * of that line (the others still go through); one already revoked is a
 * notice.  dry_run: what would happen, nothing written.  UC_OK when the
 * file was handled (res says how each line went); UC_E_INVALID for a file
 * that is not such a CSV; other errors revoke nothing.  Clear res in
 * every case.
 */
int	authority_revoke_csv(struct authority *, const unsigned char *csv,
	    size_t len, int reason, int dry_run,
	    struct revoke_bulk_result *res);
void	revoke_bulk_result_clear(struct revoke_bulk_result *);	/* NULL-safe */

/* An enrollment token's record (never the token itself). */
struct authority_token {
	int64_t		 id;
	char		*username;
	int64_t		 created_at;
	int64_t		 expires_at;
	int64_t		 used_at;	/* 0: unused */
	char		*serial;	/* the certificate it became, or NULL */
};
/*
 * cb for each token (of username, or all when NULL), oldest first; the
 * struct is borrowed for the call, under the lock.  A non-zero return
 * from cb stops the walk and is returned.
 */
int	authority_token_list(struct authority *, const char *username,
	    int (*cb)(const struct authority_token *, void *), void *arg);
/*
 * Cancel the unused, unexpired tokens of username (they expire now), or
 * with username NULL forget every token that expired unused.  *count:
 * how many.  UC_E_NOTFOUND for an unknown user.
 */
int	authority_token_cancel(struct authority *, const char *username,
	    int *count);

/*
 * Re-sign the issuing CA's CRL (days: validity, 0 for the configured
 * one) and, with root != 0, the root's CRL; then publish.
 */
int	authority_crl(struct authority *, int root, int days);

/*
 * The root CRL runway, for a root whose key stays offline: n CRLs signed
 * now, CRL k in force from now + k periods to now + (k+1) periods plus an
 * overlap (days: the period; 0: root_crl_days).  Whoever publishes serves
 * the one in force.  *pem: all of them, to carry to an online home
 * (caller frees).
 */
int	authority_crl_runway(struct authority *, int n, int days,
	    unsigned char **pem, size_t *pemlen);

/* Write public/: ca-bundle.pem, ca.crt, crl.der, crl.pem, root.crl, ca.json. */
int	authority_publish(struct authority *);

/* Air gap: sign an issuing CA's CSR with the root (PEM out). */
int	authority_sign_intermediate(struct authority *,
	    const unsigned char *csr, size_t len, const char *cn,
	    unsigned char **pem, size_t *pemlen);
/* Air gap, online side: new home with an issuing key and its CSR. */
int	authority_intermediate_request(const struct init_opts *o,
	    unsigned char **csr_pem, size_t *len);
/* Air gap, online side: install the signed issuing CA and the root. */
int	authority_intermediate_install(const char *home,
	    const unsigned char *ca, size_t calen,
	    const unsigned char *root, size_t rootlen);
/* ---- rollover and root renewal (rollover.c) ------------------------------- */

struct rollover_result {
	int	 gen;		/* the new issuing CA's generation (2, 3...) */
	char	*subject;	/* its subject (caller frees: rollover_result_clear) */
	char	*sha256;	/* hex SHA-256 of its certificate */
	char	*key_sha256;	/* request only: hex SHA-256 of its public key */
	int	 resumed;	/* an interrupted switch was finished instead */
};
void	rollover_result_clear(struct rollover_result *);
/*
 * Online rollover on a home that holds the root key: a new issuing key
 * and certificate (CN cn, or the configured issuing_cn with the
 * generation appended), signed by the root; the current issuing CA moves
 * to issuing/previous/<gen>.* and keeps signing its CRL until it expires;
 * new CRLs, public/ and the gateway kit.  a is freed (the home changed
 * under it).
 */
int	authority_rollover(struct authority *a, const char *cn,
	    struct rollover_result *res);
/*
 * Air gap, online side of a rollover: a new issuing key in
 * issuing/next.key and its request (PEM, caller frees), for 'root
 * sign-intermediate' on the offline host; authority_intermediate_install()
 * then switches to it.
 */
int	authority_rollover_request(struct authority *a, const char *cn,
	    unsigned char **csr_pem, size_t *len, struct rollover_result *res);
/*
 * The root re-signed with its own key: same subject and key (so the same
 * key identifier), new serial and validity (days; 0: root_days).  The old
 * root certificate stays in root/root-<serial>.crt; root/root.crt and
 * public/ get the new one.  *pem: the new root (caller frees).
 */
int	authority_root_renew(struct authority *a, int days, unsigned char **pem,
	    size_t *pemlen);
/*
 * On an online home: install a renewed root (same subject and key as
 * root/root.crt, self-signed, valid longer) and publish.
 */
int	authority_root_install(struct authority *a, const unsigned char *pem,
	    size_t len);
/* The issuing CA's certificate on disk is not the one a was opened with (a
 * rollover happened since): 1, else 0. */
int	authority_issuing_changed(struct authority *a);

/* ---- the audit log (auditlog.c) ------------------------------------------ */

/* A row as authority_log_list() hands it: strings borrowed for the call. */
struct authority_log_row {
	int64_t		 id;
	int64_t		 at;
	const char	*actor;
	const char	*action;
	const char	*subject;	/* may be NULL */
	const char	*detail;	/* may be NULL */
	const char	*prev_hash;	/* NULL for the first row */
	const char	*hash;
};
/*
 * cb per audit row, oldest first: all (username NULL) or those naming
 * the user or one of the user's serials, written at or after since.  A
 * non-zero return from cb stops the walk and is returned.
 */
int	authority_log_list(struct authority *, const char *username,
	    int64_t since, int (*cb)(const struct authority_log_row *, void *),
	    void *arg);

struct authority_log_report {
	int64_t		 rows;		/* rows in the log */
	int64_t		 problems;	/* each one told to problem() */
	int64_t		 checkpoints;	/* signed checkpoints checked */
	int64_t		 anchored;	/* rows covered by the newest good one */
	char		 head_hash[65];
};
/*
 * Check the log: each row's hash against its contents, each row's
 * prev_hash against the row before it, no missing ids, then every signed
 * checkpoint (the table's, and checkpoint_file or, when NULL,
 * public/audit-checkpoint.json if present): its signature with the CA
 * certificate, and that the chain's first rows reproduce its head hash
 * (a truncated or recomputed chain does not).  Each finding goes to
 * problem(row id or 0, message); UC_OK when the check ran, whatever it
 * found (rep->problems says), else an error.
 */
int	authority_log_verify(struct authority *, const char *checkpoint_file,
	    void (*problem)(int64_t id, const char *msg, void *), void *arg,
	    struct authority_log_report *rep);

/* Install a root CRL signed offline (checked against the root). */
int	authority_import_root_crl(struct authority *,
	    const unsigned char *crl, size_t len);

#endif /* UC_AUTHORITY_H */
