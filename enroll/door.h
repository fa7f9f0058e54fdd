/*
 * door.h: the messages between userca-enrolld's monitor (which holds the
 * authority: CA signers and records) and its network child (HTTP, TLS,
 * parsing, user keys and PKCS#12), over one socketpair.
 *
 * Every message is a fixed 16-byte header (version, type, request id,
 * body length, a zero word) and a body of fields in a fixed order per
 * type: integers as 8 bytes, byte strings as a 4-byte length and the
 * bytes, each with its own maximum.  No pointers, no offsets, nothing
 * optional but an empty string.  The monitor parses everything the child
 * sends with door_parse_request(); anything malformed ends the child.
 *
 * The child's side is one function per request (door_lookup, door_redeem,
 * door_ocsp, door_metrics, door_delivered, door_redeem_csr, door_by_cert,
 * door_cert, door_scep_tx, door_scep_poll): adding a request is one message type, its parser case, one
 * function here and its answer in monitor.c.
 */
#ifndef UC_DOOR_H
#define UC_DOOR_H

#include <stddef.h>
#include <stdint.h>

#include "authority.h"
#include "authority_ocsp.h"
#include "ucbuf.h"

#define DOOR_VERSION	2	/* 2: EPOCH, OCSP answers' epochs, SCEP_TX, SCEP_POLL */
#define DOOR_HDRLEN	16
/* The public files can be large (a CRL of many revocations). */
#define DOOR_MAX_BODY	(256u * 1024 * 1024)
/* A user name in REDEEM_CSR (EST's HTTP Basic), at most. */
#define DOOR_USER_MAX	256
/* A SCEP transactionID (printable ASCII), at most. */
#define DOOR_TID_MAX	128
/* What the child may send at most: a request is small. */
#define DOOR_MAX_REQUEST (256u * 1024)

enum door_type {
	/* monitor -> child, id 0 */
	DOOR_HELLO = 1,		/* settings, TLS pair, web files, CA certs */
	DOOR_PUBLISHED = 2,	/* the public files and health */
	/* child -> monitor, answered with the same id and type | 0x80 */
	DOOR_LOOKUP = 3,	/* token -> who it is for, its state */
	DOOR_REDEEM = 4,	/* token, method, key -> chain or refusal */
	DOOR_OCSP = 5,		/* DER OCSPRequest -> signed OCSPResponse */
	DOOR_METRICS = 6,	/* -> the monitor's /metrics lines */
	/* child -> monitor, no answer */
	DOOR_DELIVERED = 7,	/* a server-made key reached its owner (or not) */
	/* child -> monitor, answered (SCEP, EST) */
	DOOR_REDEEM_CSR = 8,	/* token, user, door, CSR -> as REDEEM */
	DOOR_BY_CERT = 9,	/* kind, our certificate, CSR -> as REDEEM */
	DOOR_CERT = 10,		/* serial -> the recorded certificate */
	DOOR_SCEP_TX = 11,	/* SCEP PKCSReq or RenewalReq under a
				 * transactionID -> as REDEEM */
	DOOR_SCEP_POLL = 12,	/* transactionID, signer key -> as CERT */
	/* monitor -> child, id 0 */
	DOOR_EPOCH = 13,	/* the OCSP status epoch moved */
	DOOR_LAST = DOOR_EPOCH,
	DOOR_ANSWER = 0x80
};

struct door_hdr {
	uint16_t	version;
	uint16_t	type;
	uint32_t	id;
	uint32_t	len;
	uint32_t	zero;
};

/* Header bytes <-> struct; parse: UC_E_INVALID for a bad version, type,
 * length over max or a non-zero reserved word. */
void	door_hdr_put(const struct door_hdr *, unsigned char out[DOOR_HDRLEN]);
int	door_hdr_parse(const unsigned char in[DOOR_HDRLEN], size_t max,
	    struct door_hdr *);

/* ---- body fields ---------------------------------------------------------- */

void	door_put_u64(struct ucbuf *, uint64_t);
void	door_put_bytes(struct ucbuf *, const void *, size_t);
void	door_put_str(struct ucbuf *, const char *);	/* NULL: "" */

/* A body being read: a failed get sets bad and every later get fails. */
struct door_rd {
	const unsigned char	*p;
	size_t			 len, off;
	int			 bad;
};
void	door_rd_init(struct door_rd *, const unsigned char *, size_t);
uint64_t door_get_u64(struct door_rd *, uint64_t max);
/* Borrowed bytes (into the body) of at most max; *len set. */
const unsigned char *door_get_bytes(struct door_rd *, size_t max,
	    size_t *len);
/* A text field without NUL bytes of at most max, as a new C string
 * (caller frees; "" stays "" ); NULL when bad. */
char	*door_get_str(struct door_rd *, size_t max);
/* UC_OK when every field was read and nothing is left over. */
int	door_rd_end(struct door_rd *);

/* ---- requests, as the monitor parses them ------------------------------------ */

enum door_method { DOOR_CSR = 1, DOOR_P12 = 2, DOOR_PROFILE = 3 };
/* REDEEM_CSR: which door the CSR came through (recorded as the method). */
enum door_csr_door { DOOR_SCEP = 1, DOOR_EST = 2 };
/*
 * BY_CERT: SCEP RenewalReq ("scep-renew"), EST simplereenroll
 * ("est-renew"): a renewal; EST simpleenroll by a client certificate
 * ("est-cert"): one more certificate for its user.
 */
enum door_by_cert { DOOR_SCEP_RENEW = 1, DOOR_EST_RENEW = 2,
	DOOR_EST_CERT = 3 };

struct door_request {
	uint16_t	 type;
	char		*token;		/* LOOKUP, REDEEM */
	uint32_t	 method;	/* REDEEM: enum door_method;
					 * REDEEM_CSR: enum door_csr_door;
					 * BY_CERT: enum door_by_cert */
	const unsigned char *spki;	/* REDEEM: DER, borrowed */
	size_t		 spkilen;
	char		*retry;		/* REDEEM: "" or the retry secret */
	const unsigned char *der;	/* OCSP: the request, borrowed */
	size_t		 derlen;
	char		*serial;	/* DELIVERED, CERT */
	int		 delivered;	/* DELIVERED: 1 reached its owner */
	int		 has_user;	/* REDEEM_CSR: EST Basic's user */
	char		*user;		/* REDEEM_CSR: the user, or "" */
	const unsigned char *csr;	/* REDEEM_CSR, BY_CERT: DER, borrowed */
	size_t		 csrlen;
	const unsigned char *cert;	/* BY_CERT, SCEP_TX: DER, borrowed */
	size_t		 certlen;
	char		*tid;		/* SCEP_TX, SCEP_POLL */
	const unsigned char *keyhash;	/* SCEP_POLL: 32 bytes, borrowed */
};
/*
 * Parse a child's request body of type (borrowing from body, which must
 * outlive req).  UC_E_INVALID for anything malformed: wrong type, field
 * too long, a token or serial of the wrong shape, bytes left over.
 */
int	door_parse_request(uint16_t type, const unsigned char *body,
	    size_t len, struct door_request *req);
void	door_request_clear(struct door_request *);

/* ---- the child's side ------------------------------------------------------- */

struct door;
/*
 * A push from the monitor (HELLO, PUBLISHED, EPOCH): called on the door's reader
 * thread with the body; a non-zero return ends the child.
 */
typedef int (*door_push_fn)(void *arg, uint16_t type,
	    const unsigned char *body, size_t len);
/*
 * In-process answers (tests, fuzzers, --check): the monitor's function
 * answering one request body into reply; a non-OK return is what a
 * malformed message does to a child.
 */
typedef int (*door_local_fn)(void *arg, uint16_t type,
	    const unsigned char *body, size_t len, struct ucbuf *reply);

/* Over the socketpair fd (owned from now on). */
struct door *door_open(int fd, door_push_fn push, void *arg);
/* Read and hand one push to push() (start-up: HELLO, then PUBLISHED). */
int	door_read_push(struct door *, uint16_t want);
/* Start the thread that reads answers and later pushes. */
int	door_start(struct door *);
struct door *door_local(door_local_fn fn, void *arg);
void	door_free(struct door *);

/* What a redemption said; strings and buffers are the struct's. */
struct door_redeem_out {
	int		 rc;		/* UC_OK: issued (or again) */
	enum token_state state;		/* rc NOTFOUND/STATE: why */
	char		*errmsg;	/* rc != UC_OK: for the log/answer */
	char		*serial;
	int64_t		 not_after;
	unsigned char	*chain;		/* PEM, leaf first */
	size_t		 chainlen;
	char		*retry;		/* NULL: no retry window */
	int64_t		 retry_until;
	int		 superseded;
	int		 again;
	struct authority_user user;	/* the token's user (server-made
					 * keys only) */
};
void	door_redeem_out_clear(struct door_redeem_out *);

/* Each returns UC_OK when the monitor answered (the answer says more). */
int	door_lookup(struct door *, const char *token, struct token_info *);
int	door_redeem(struct door *, const char *token, enum door_method,
	    const unsigned char *spki, size_t spkilen, const char *retry,
	    struct door_redeem_out *);
int	door_ocsp(struct door *, const unsigned char *req, size_t len,
	    struct ocsp_answer *);
/* EPOCH's body: the status epoch (authority_ocsp_epoch()); parse:
 * UC_E_INVALID unless it is exactly one non-zero number. */
void	door_epoch_put(struct ucbuf *, uint64_t epoch);
int	door_epoch_parse(const unsigned char *body, size_t len,
	    uint64_t *epoch);
/* The monitor's part of /metrics (caller frees); NULL on failure. */
char	*door_metrics(struct door *);
/* A server-made key's answer was sent (delivered 1) or lost (0). */
void	door_delivered(struct door *, const char *serial, int delivered);

/*
 * SCEP and EST (the answer as a redemption's; o->user stays empty).
 * door_redeem_csr: a CSR (DER) with a one-time token; user, when not
 * NULL, must be the token's (EST's HTTP Basic).  door_by_cert: a CSR
 * (DER) with a certificate of ours (DER) the client proved it holds;
 * the monitor re-checks it whole.
 */
int	door_redeem_csr(struct door *, const char *token, const char *user,
	    enum door_csr_door, const unsigned char *csr, size_t csrlen,
	    struct door_redeem_out *);
int	door_by_cert(struct door *, enum door_by_cert,
	    const unsigned char *cert, size_t certlen,
	    const unsigned char *csr, size_t csrlen, struct door_redeem_out *);
/* The recorded certificate with serial (DER, caller frees): UC_OK, or
 * UC_E_NOTFOUND when there is none. */
int	door_cert(struct door *, const char *serial, unsigned char **der,
	    size_t *len);
/*
 * SCEP transactions (authority_scep_enroll, authority_scep_poll): a
 * PKCSReq (token, cert NULL) or a RenewalReq (cert: the signer, DER;
 * token NULL) and its CSR under transactionID tid, answered as a
 * redemption (o->again: tid's recorded certificate); CertPoll: tid's
 * certificate (DER, caller frees) when key, the SHA-256 of the poller's
 * public key bits, is the transaction's signer's, else UC_E_NOTFOUND.
 */
int	door_scep_tx(struct door *, const char *tid, const char *token,
	    const unsigned char *cert, size_t certlen,
	    const unsigned char *csr, size_t csrlen, struct door_redeem_out *);
int	door_scep_poll(struct door *, const char *tid,
	    const unsigned char key[32], unsigned char **der, size_t *len);

/* Send one message (monitor side too); UC_OK or UC_E_IO. */
int	door_send(int fd, uint16_t type, uint32_t id, const unsigned char *body,
	    size_t len);
/*
 * One side's reading of a socketpair, through a buffer: one system call
 * brings every message that has arrived (under load, many).  One reader
 * per socket.
 */
struct door_in {
	int		 fd;
	size_t		 off, len;	/* buffered: b[off..len) */
	unsigned char	 b[16 * 1024];
};
void	door_in_init(struct door_in *, int fd);
/* Read one whole message; *body malloc'd (caller frees).  UC_E_NOTFOUND
 * at a clean end of file, UC_E_INVALID for a malformed header. */
int	door_recv(struct door_in *, size_t max, struct door_hdr *,
	    unsigned char **body);

#endif /* UC_DOOR_H */
