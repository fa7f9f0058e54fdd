/*
 * store.h: userca's records in SQLite (WAL, prepared statements only).
 *
 * Every function returns UC_OK or a negative UC_E_* code with the detail
 * set (see uc_err.h).  Strings handed out in structs are owned by the
 * struct and freed by the matching *_clear() function.  A struct store is
 * one connection: use it from one thread at a time.
 */
#ifndef UC_STORE_H
#define UC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "uc_err.h"

struct store;

/* Open (create with create != 0) the database at path and migrate it. */
int	store_open(const char *path, int create, struct store **out);
void	store_close(struct store *);
/* Schema version (PRAGMA user_version) of an open store. */
int	store_schema_version(struct store *, int *version);

/* Explicit transactions.  begin is BEGIN IMMEDIATE (takes the write lock). */
int	store_begin(struct store *);
int	store_commit(struct store *);
void	store_rollback(struct store *);

/*
 * A savepoint inside the current transaction, so one record's failure can
 * be undone without losing the others.  Not nestable.
 */
int	store_savepoint(struct store *);
int	store_release(struct store *);
/*
 * Undo to the savepoint.  UC_E_DB when that is impossible because SQLite
 * already rolled the whole transaction back (disk full, I/O error): the
 * caller must then treat every record of the transaction as failed.
 */
int	store_rollback_to(struct store *);
/* 1 while a transaction is open on this connection. */
int	store_in_transaction(struct store *);

/*
 * A number that changes whenever the records this connection reads may
 * have changed: SQLite's data version of its pager (moved by a commit of
 * any connection or process, seen when a read begins) plus this process's
 * COMMITs through store_commit(), counted after they succeeded.  Never
 * decreases on one connection.  fresh: begin (and end) a read first, so
 * every commit made before the call counts; 0: no I/O at all, the version
 * of the records this connection's last read saw.
 */
int	store_data_version(struct store *, int fresh, uint64_t *version);

struct store_user {
	int64_t	 id;
	char	*username;
	char	*email;		/* each of these may be NULL */
	char	*name;
	char	*upn;
	char	*ou;
	char	*sid;		/* AD SID (migration 0002) */
	int64_t	 created_at;	/* for a new user (upsert) */
};

/* UC_E_NOTFOUND when there is no such user. */
int	store_user_get(struct store *, const char *username,
	    struct store_user *out);
/*
 * Insert the user, or update the optional fields that are non-NULL in u
 * when the username exists.  *id receives the row id.
 */
int	store_user_upsert(struct store *, const struct store_user *u,
	    int64_t *id);
void	store_user_clear(struct store_user *);

struct store_cert {
	int64_t		 id;
	char		*serial;	/* upper-case hex */
	int64_t		 user_id;	/* 0: none */
	char		*username;	/* filled by get/list; NULL if none */
	char		*kind;		/* user, server, intermediate */
	char		*issuer_ski;	/* hex */
	char		*subject;
	int64_t		 not_before;
	int64_t		 not_after;
	char		*sha256;	/* hex */
	unsigned char	*der;
	size_t		 derlen;
	char		*status;	/* valid, revoked */
	int64_t		 revoked_at;	/* 0 unless revoked */
	int		 reason;	/* -1 unless revoked */
	char		*method;
	int64_t		 created_at;
};

/* UC_E_EXISTS when the serial is taken.  *id may be NULL. */
int	store_cert_insert(struct store *, const struct store_cert *,
	    int64_t *id);
int	store_cert_get(struct store *, const char *serial,
	    struct store_cert *out);
/*
 * An OCSP status: the certificate with serial issued by the CA whose key
 * identifier is issuer_ski; UC_E_NOTFOUND when there is none (never
 * issued, or another CA's).  *revoked 1 with *at and *reason (-1: none
 * recorded), else 0.  One indexed row, nothing copied but these.
 */
int	store_cert_status(struct store *, const char *serial,
	    const char *issuer_ski, int *revoked, int64_t *at, int *reason);
/* 1 in *exists if the serial is recorded, else 0. */
int	store_cert_serial_exists(struct store *, const char *serial,
	    int *exists);
/* UC_E_NOTFOUND, or UC_E_STATE when it is already revoked. */
int	store_cert_revoke(struct store *, const char *serial, int64_t at,
	    int reason);
/* Record that old was replaced by the certificate with row id new_id. */
int	store_cert_supersede(struct store *, const char *old_serial,
	    int64_t new_id);
/* As store_cert_supersede(), only when nothing superseded old yet:
 * *done is 1 when it did. */
int	store_cert_supersede_once(struct store *, const char *old_serial,
	    int64_t new_id, int *done);
void	store_cert_clear(struct store_cert *);
/*
 * Serials of the user's certificates that are not revoked and not expired
 * at now: a new array of new strings in *serials (free each, then the
 * array).  Prepared once per store: cheap enough to call per CSV row.
 */
int	store_user_valid_serials(struct store *, const char *username,
	    int64_t now, char ***serials, size_t *n);

/*
 * Renewal (migration 0005).  A candidate is a user's newest unexpired
 * certificate when it is valid, expires before until, and nothing
 * superseded it (its lineage was not renewed).  Borrowed in cb.
 */
struct store_due {
	int64_t		 cert_id;
	char		*serial;
	char		*username;
	int64_t		 not_after;
};
typedef int (*store_due_cb)(const struct store_due *, void *arg);
/* cb per candidate, by username; non-zero from cb stops and is returned. */
int	store_due_list(struct store *, int64_t now, int64_t until,
	    store_due_cb cb, void *arg);
/* The user's candidate into *out (store_due_clear); UC_E_NOTFOUND: none. */
int	store_due_user(struct store *, const char *username, int64_t now,
	    int64_t until, struct store_due *out);
void	store_due_clear(struct store_due *);
/* How many candidates (for the daemon's gauges). */
int	store_due_count(struct store *, int64_t now, int64_t until, long *n);
/*
 * The certificate a renewal token replaces (tokens.renews), and whether
 * redeeming it revokes that one (tokens.revoke_old, migration 0007).
 */
int	store_token_set_renews(struct store *, const unsigned char hash[32],
	    int64_t cert_id, int revoke_old);
struct store_renewal {
	char	*serial;	/* the certificate it replaces */
	int64_t	 not_after;	/* when that one expires */
	int	 revoke_old;
};
/* Into *out (store_renewal_clear); UC_E_NOTFOUND: not a renewal token. */
int	store_token_renews(struct store *, const unsigned char hash[32],
	    struct store_renewal *out);
void	store_renewal_clear(struct store_renewal *);
/*
 * Reminders mailed, by certificate and threshold (days).  _add sets
 * *added to 1 only if no such row existed (of two runs, one wins).
 */
int	store_reminder_add(struct store *, int64_t cert_id, int threshold,
	    int64_t at, int *added);
int	store_reminder_sent(struct store *, int64_t cert_id, int threshold,
	    int *sent);
int	store_reminder_drop(struct store *, int64_t cert_id, int threshold);
/* End the token with this hash now, if it is unused and unexpired. */
int	store_token_end(struct store *, const unsigned char hash[32],
	    int64_t now);

struct store_cert_filter {
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
 * Call cb for each matching certificate, oldest first.  The struct passed
 * to cb is borrowed for the call only.  A non-zero return from cb stops
 * the walk and is returned.
 */
typedef int (*store_cert_cb)(const struct store_cert *, void *arg);
int	store_cert_list(struct store *, const struct store_cert_filter *,
	    store_cert_cb, void *arg);
/*
 * The walks on the revocation path, each one indexed lookup (not a scan of
 * every certificate; tests/unit/test_store.c checks the query plans), so a
 * revoke costs the same at 100 users as at 100,000:
 * store_cert_list_revoked: the certificates issuer_ski revoked, for its
 * CRL, oldest first, without their DER.
 * store_cert_list_unrevoked: user_id's certificates not revoked, the
 * valid ones (not_after > now) first, then the expired, each oldest first,
 * without their DER.
 * Same callback rule as store_cert_list.
 */
int	store_cert_list_revoked(struct store *, const char *issuer_ski,
	    store_cert_cb, void *arg);
int	store_cert_list_unrevoked(struct store *, int64_t user_id, int64_t now,
	    store_cert_cb, void *arg);
/* The SQL of those two walks, for EXPLAIN QUERY PLAN in the tests. */
extern const char store_sql_cert_revoked[];
extern const char store_sql_cert_unrevoked[];
/* A user's unused tokens: expired by a revoke, looked for by renew. */
extern const char store_sql_tokens_expire[];
extern const char store_sql_user_pending[];

/* The next CRL number for an issuer: one more than the highest recorded. */
int	store_crl_next_number(struct store *, const char *issuer_ski,
	    int64_t *number);
int	store_crl_insert(struct store *, const char *issuer_ski,
	    int64_t number, int64_t this_update, int64_t next_update,
	    const unsigned char *der, size_t derlen);

/*
 * The newest CRL recorded for an issuer (highest number): its DER (caller
 * frees), number and nextUpdate.  UC_E_NOTFOUND when there is none.
 */
int	store_crl_latest(struct store *, const char *issuer_ski,
	    unsigned char **der, size_t *derlen, int64_t *number,
	    int64_t *next_update);

/* Record an enrollment token by the SHA-256 of its text. */
int	store_token_insert(struct store *, int64_t user_id,
	    const unsigned char hash[32], int64_t created_at,
	    int64_t expires_at, int64_t *id);

struct store_token {
	int64_t		 id;
	int64_t		 user_id;
	int64_t		 created_at;
	int64_t		 expires_at;
	int64_t		 used_at;	/* 0: unused */
	int64_t		 cert_id;	/* 0: none */
};
/* The token with this hash; UC_E_NOTFOUND when there is none. */
int	store_token_get(struct store *, const unsigned char hash[32],
	    struct store_token *out);
/*
 * Mark the token used by cert_id, only if it is unused and unexpired at
 * now: *consumed is 1 if this call did it, 0 if it was already used or
 * expired (so of two racing requests exactly one gets 1).
 */
int	store_token_consume(struct store *, const unsigned char hash[32],
	    int64_t now, int64_t cert_id, int *consumed);
/*
 * The certificate a used token became: its DER (caller frees) and whether
 * it is still valid.  UC_E_NOTFOUND when the token has none.
 */
int	store_token_cert(struct store *, const unsigned char hash[32],
	    unsigned char **der, size_t *derlen, int *valid);
/*
 * Make the token that cert_id consumed usable again (unused, no retry
 * window); *rearmed is 1 when there was one.  For a certificate whose
 * key never reached its owner (the privilege-separated daemon).
 */
int	store_token_rearm(struct store *, int64_t cert_id, int *rearmed);
/* The user with this row id; UC_E_NOTFOUND when there is none. */
int	store_user_get_id(struct store *, int64_t id, struct store_user *out);

/* 1 in *pending if the user has an unused token not yet expired at now. */
int	store_user_pending_token(struct store *, const char *username,
	    int64_t now, int *pending);
/* 1 in *pending if the token with this hash is unused and unexpired. */
int	store_token_pending(struct store *, const unsigned char hash[32],
	    int64_t now, int *pending);
/* End the user's unused tokens (expires_at = now). */
int	store_user_expire_tokens(struct store *, int64_t user_id, int64_t now);
/* The same, telling how many it ended. */
int	store_user_expire_tokens_count(struct store *, int64_t user_id,
	    int64_t now, int *count);
/* Forget the tokens that expired unused before now; *count: how many. */
int	store_tokens_forget_expired(struct store *, int64_t now, int *count);

/* A token row as store_token_list() hands it: strings borrowed. */
struct store_token_row {
	int64_t		 id;
	const char	*username;
	int64_t		 created_at;
	int64_t		 expires_at;
	int64_t		 used_at;	/* 0: unused */
	const char	*serial;	/* NULL: no certificate */
};
/* cb per token (of username, NULL: all), oldest first; non-zero stops. */
int	store_token_list(struct store *, const char *username,
	    int (*cb)(const struct store_token_row *, void *), void *arg);

/*
 * The retry window (DESIGN 25): a used token may be redeemed once more
 * with a secret handed out with its first answer; only the secret's
 * SHA-256 is kept.  store_token_set_retry() arms it (in the transaction
 * that consumed the token).
 */
int	store_token_set_retry(struct store *, const unsigned char hash[32],
	    const unsigned char retry_hash[32], int64_t retry_until);
struct store_token_retry {
	int		 has_retry;	/* retry_hash is set */
	unsigned char	 retry_hash[32];
	int64_t		 retry_until;	/* 0: none */
	int64_t		 retry_used_at;	/* 0: not yet */
	char		*serial;	/* the token's certificate (caller
					 * frees); NULL: none */
};
/* The retry state of the token with this hash; UC_E_NOTFOUND: none. */
int	store_token_retry_get(struct store *, const unsigned char hash[32],
	    struct store_token_retry *out);
/*
 * Spend the retry: only if retry_hash matches, it is unused and
 * retry_until is after now; the token then points at cert_id.  *used is
 * 1 if this call did it (of two racing retries exactly one gets 1).
 */
int	store_token_retry_use(struct store *, const unsigned char hash[32],
	    const unsigned char retry_hash[32], int64_t now, int64_t cert_id,
	    int *used);

/* How many certificates of this issuer are revoked. */
int	store_cert_count_revoked(struct store *, const char *issuer_ski,
	    long *n);

/*
 * Like store_crl_latest() but only among CRLs already in force at now
 * (thisUpdate <= now): pre-signed, future-dated CRLs wait their turn.
 */
int	store_crl_current(struct store *, const char *issuer_ski, int64_t now,
	    unsigned char **der, size_t *derlen, int64_t *number,
	    int64_t *next_update);
/* Forget this issuer's CRLs not yet in force (a voided runway). */
int	store_crl_drop_future(struct store *, const char *issuer_ski,
	    int64_t now, long *dropped);
/* Pre-signed CRLs not yet in force at now, and the last nextUpdate of all. */
int	store_crl_runway(struct store *, const char *issuer_ski, int64_t now,
	    long *future, int64_t *last_next_update);

/*
 * IIS one-to-one mapping material: user certificates with their owner's
 * record.  Strings and DER are borrowed for the call only.
 */
struct store_mapping {
	const char		*serial;
	const char		*username;
	const char		*upn;		/* NULL if none */
	const char		*sha256;	/* hex, of the DER */
	int64_t			 not_after;
	int			 gone;		/* revoked or superseded */
	int			 reason;	/* -1 unless revoked */
	const unsigned char	*der;		/* NULL when gone */
	size_t			 derlen;
};
/*
 * cb for every user certificate to map (valid at now, not superseded:
 * gone 0), then for every revoked or superseded one (gone 1), each oldest
 * first; expired ones that are neither come in neither list.  A non-zero
 * return from cb stops the walk and is returned.
 */
int	store_mapping_list(struct store *, int64_t now,
	    int (*cb)(const struct store_mapping *, void *), void *arg);

/*
 * Append to the audit log.  subject and detail may be NULL.  The row is
 * chained: it records the previous row's hash (prev_hash) and its own,
 * store_audit_hash() of its fields, in the caller's transaction or, when
 * there is none, in one of its own (the write lock orders writers).
 */
int	store_audit(struct store *, int64_t at, const char *actor,
	    const char *action, const char *subject, const char *detail);

#define STORE_HASH_HEX	65	/* 64 lower-case hex digits and a NUL */
/*
 * A row's hash: SHA-256 over "userca-audit-v1", id, at (decimal), actor,
 * action, subject, detail and prev_hash, each field encoded as one byte
 * (0: NULL, 1: present), then, if present, a 4-byte big-endian length
 * and the bytes.  out gets lower-case hex.
 */
int	store_audit_hash(int64_t id, int64_t at, const char *actor,
	    const char *action, const char *subject, const char *detail,
	    const char *prev_hash, char out[STORE_HASH_HEX]);

/* An audit row as store_audit_list() hands it: strings borrowed. */
struct store_audit_row {
	int64_t		 id;
	int64_t		 at;
	const char	*actor;
	const char	*action;
	const char	*subject;	/* each of these may be NULL */
	const char	*detail;
	const char	*prev_hash;
	const char	*hash;
};
struct store_audit_filter {
	const char	*username;	/* NULL: all; else rows naming the
					 * user or one of its serials */
	int64_t		 since;		/* at >= since */
};
void	store_audit_filter_init(struct store_audit_filter *);
/* cb per row (f may be NULL: all), by id; non-zero from cb stops. */
int	store_audit_list(struct store *, const struct store_audit_filter *f,
	    int (*cb)(const struct store_audit_row *, void *), void *arg);
/* How many rows, and the newest one's id and hash (UC_E_NOTFOUND: none). */
int	store_audit_head(struct store *, int64_t *rows, int64_t *head_id,
	    char head_hash[STORE_HASH_HEX]);

/* A signed anchor of the log (audit_checkpoints); borrowed when listed. */
struct store_checkpoint {
	int64_t			 id;
	int64_t			 at;
	const char		*issuer_ski;	/* the CA that signed */
	int64_t			 crl_number;	/* the CRL signed with it */
	int64_t			 rows;		/* rows in the log then */
	int64_t			 head_id;
	const char		*head_hash;
	const unsigned char	*sig;
	size_t			 siglen;
};
int	store_checkpoint_insert(struct store *,
	    const struct store_checkpoint *);
/* cb per checkpoint, newest first (only the newest with newest_only). */
int	store_checkpoint_list(struct store *, int newest_only,
	    int (*cb)(const struct store_checkpoint *, void *), void *arg);

/*
 * SCEP transactions (scep_transactions): tid with the SHA-256 of its
 * request and of its signer's public key, and the certificate it issued
 * (cert_id).  insert: UC_E_EXISTS when tid is already there.  get: the
 * hashes and the certificate's DER (out->der malloc'd, free with
 * store_scep_tx_clear()); UC_E_NOTFOUND when tid is unknown.
 */
struct store_scep_tx {
	unsigned char	 req[32];
	unsigned char	 key[32];
	unsigned char	*der;
	size_t		 derlen;
};
int	store_scep_tx_insert(struct store *, const char *tid,
	    const unsigned char req[32], const unsigned char key[32],
	    int64_t cert_id, int64_t now);
int	store_scep_tx_get(struct store *, const char *tid,
	    struct store_scep_tx *out);
void	store_scep_tx_clear(struct store_scep_tx *);

#endif /* UC_STORE_H */
