/*
 * authority_int.h: what the files of the authority layer share; not for
 * the front doors.
 */
#ifndef UC_AUTHORITY_INT_H
#define UC_AUTHORITY_INT_H

#include <pthread.h>

#include "authority.h"
#include "store.h"

struct authority {
	char			*home;
	struct ca_conf		 conf;
	const struct profile	*prof;
	struct store		*st;
	X509			*root;		/* may be NULL (online home) */
	X509			*issuing;
	int			 root_distinct;	/* root set and not the
						 * issuing CA: chains hold it */
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
	 * Group commit for redemptions: the first waiter leads, commits
	 * everything queued in one transaction (one fsync), and wakes the
	 * others.  Each item has its own savepoint.
	 */
	/*
	 * A second connection for token lookups: in WAL mode it reads the
	 * last committed state while a group commit holds mu over its fsync.
	 */
	pthread_mutex_t		 rmu;
	struct store		*rst;		/* opened when first needed */
	pthread_mutex_t		 gcmu;
	pthread_cond_t		 gccv;
	struct gc_item		*gc_pending;
	int			 gc_leading;
};

struct gc_item {
	struct gc_item		*next;
	X509			*cert;
	int64_t			 user_id;
	const char		*method;
	const char		*username;
	const char		*serial;
	const unsigned char	*hash;
	/* results */
	int			 done;
	int			 rc;
	char			 err[256];
	int			 consumed;
	int64_t			 cert_id;
};

/* Build from req and sign with sig (caller frees *out). */
int	sign_new_cert(struct signer *sig, const struct cert_req *req,
	    EVP_PKEY *pub, X509 **out);
/* INSERT a certificate row; UC_E_EXISTS when the serial is taken. */
int	record_cert(struct store *st, X509 *x, X509 *issuer, int64_t user_id,
	    const char *kind, const char *method, int64_t *id);
/* The CA signers, opened once (the root asks for the passphrase). */
int	issuing_signer(struct authority *a, struct signer **out);
int	root_signer(struct authority *a, struct signer **out);
/* Sign, record and commit the next CRL of the CA behind sig. */
int	sign_crl(struct authority *a, struct signer *sig, int days);
int	sign_crl_at(struct authority *a, struct signer *sig,
	    int64_t this_update, int64_t next_update, unsigned char **pem,
	    size_t *pemlen);
/* Leaf PEM then chain to the root (caller frees). */
int	chain_pem(struct authority *a, X509 *leaf, unsigned char **out,
	    size_t *len);
/* PKCS#12 with the chain (caller OPENSSL_free()s *der). */
int	p12_for(struct authority *a, EVP_PKEY *key, X509 *cert,
	    const char *friendly, const char *pass, enum p12_format f,
	    unsigned char **der, size_t *len);

/* The reading connection (rmu held by the caller); UC_OK or an error. */
int	reader_store(struct authority *a, struct store **out);

/* A store row's strings moved into u (su is left empty); records.c. */
void	records_user_take(struct store_user *su, struct authority_user *u);

/* public/gateway/: nginx, Apache, PowerShell, IIS mappings (gateway.c). */
int	gateway_write(struct authority *a);

#endif /* UC_AUTHORITY_INT_H */
