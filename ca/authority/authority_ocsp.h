/*
 * authority_ocsp.h: the authority's OCSP responder (RFC 6960) for the
 * front doors: the delegated responder certificate, kept in the CA home
 * and renewed by authority_ocsp_refresh(), and answers built from the
 * records as they are at the moment of the request.
 *
 * Freshness: every answer reads each certificate's status from the
 * committed records (the reading connection, under the authority's
 * reader lock) when the request arrives.  Signed answers to nonce-less
 * requests are kept for at most [ocsp] max_age seconds, keyed by the
 * request, the responder certificate AND the statuses just read, so a
 * kept answer is only ever handed out for the statuses it states: after a
 * revocation commits, no request can be answered "good" again.
 */
#ifndef UC_AUTHORITY_OCSP_H
#define UC_AUTHORITY_OCSP_H

#include "authority.h"

/* OCSPResponseStatus values (RFC 6960 4.2.1). */
#define AOCSP_SUCCESSFUL	0
#define AOCSP_MALFORMED		1
#define AOCSP_INTERNAL		2
#define AOCSP_TRYLATER		3
#define AOCSP_UNAUTHORIZED	6

struct ocsp_answer {
	unsigned char	*der;		/* the OCSPResponse (caller frees
					 * with ocsp_answer_clear) */
	size_t		 len;
	int		 status;	/* AOCSP_* */
	int		 nonce;		/* the request had a nonce */
	int		 cached;	/* served from the kept answers */
	int		 good, revoked, unknown;	/* SingleResponses */
	int64_t		 this_update;	/* successful answers only */
	int64_t		 next_update;
	int		 max_age;	/* seconds a cache may keep it: at most
					 * [ocsp] max_age, never past
					 * nextUpdate; 0: must not keep it */
	char		 etag[48];	/* "\"...\"" of the DER (answers
					 * without a nonce only) */
	uint64_t	 epoch;		/* authority_ocsp_epoch() read before
					 * the statuses */
	uint64_t	 epoch_after;	/* and read again after them */
};
void	ocsp_answer_clear(struct ocsp_answer *);

/*
 * Answer one DER OCSPRequest.  Returns UC_OK with a DER response in *ans
 * whatever the request was (malformedRequest for garbage, unauthorized
 * when no CertID is about the issuing CA or an issuing CA a rollover
 * replaced (that one signs its own answer), internalError when the records
 * cannot be read, tryLater before the responder is loaded); an error only
 * when not even that could be built.  Thread-safe.
 */
int	authority_ocsp_respond(struct authority *, const unsigned char *req,
	    size_t len, struct ocsp_answer *ans);

/*
 * Load the responder certificate and key (issuing/ocsp.crt, ocsp.key),
 * renewing them first when less than half their validity ([ocsp]
 * responder_days) remains or they are missing: a new key, a certificate
 * issued by the issuing CA, written under a lock file so the CLI and the
 * daemon never renew at once.  Cheap when nothing is due.  UC_OK at once
 * when [ocsp] url = off.  Thread-safe against authority_ocsp_respond().
 */
int	authority_ocsp_refresh(struct authority *);

/*
 * The responder in use: 1 and its validity when one is loaded, 0 when
 * none.
 */
int	authority_ocsp_responder(struct authority *, int64_t *not_before,
	    int64_t *not_after);

/*
 * The status epoch: a number that changes whenever a certificate's status
 * may have changed in the records (a commit by any connection: the CLI's
 * revoke, batch, renew; the daemon's own enrollments and revocations), and
 * never decreases within the process (a rollover's new authority
 * included).  This call reads the database (one PRAGMA on the reading
 * connection): every commit made before it counts.  Every answer of
 * authority_ocsp_respond() carries the epoch handed out before its lookup
 * (ans->epoch) and after it (ans->epoch_after), which cost nothing.
 *
 * Caches of signed answers outside the authority key them on it (the
 * network child's: enroll/ocspcache.c gives the ordering argument): an
 * answer whose two epochs are both E may be served while the epoch is E;
 * a value handed out after the first call that saw a commit is larger
 * than every value before it.  UC_OK with *epoch, or UC_E_DB.
 */
int	authority_ocsp_epoch(struct authority *, uint64_t *epoch);

/* 1 when [ocsp] url is not "off". */
int	authority_ocsp_enabled(struct authority *);

#endif /* UC_AUTHORITY_OCSP_H */
