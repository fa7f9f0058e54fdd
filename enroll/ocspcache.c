/*
 * ocspcache.c: the network child's cache of signed OCSP answers to
 * requests without a nonce, so a repeated request (a gateway's, a CDN's,
 * every Windows client's) needs no parse and no round trip to the monitor.
 *
 * Direct-mapped: OCACHE_SLOTS entries, each found by a seeded hash of the
 * request's DER and matched by a full byte compare; a new answer replaces
 * whatever held its slot.  Bounded: requests and answers over a few KiB
 * are not kept.  Slots are guarded by OCACHE_LOCKS striped read-write
 * locks (MHD's threads answer at once; a hit only reads, so a thread
 * preempted during one never holds up the others, all asking for the same
 * hot entry); a hit takes a reference to the answer's bytes.
 *
 * Freshness (authority_ocsp.h, authority_ocsp_epoch()).  Every entry is
 * tagged with the status epoch its answer was made in, and is served only
 * while the cache's epoch is still that one:
 *   - an answer is kept only when the epoch the monitor read before its
 *     lookup equals the one it read after (no commit was seen during it)
 *     and equals the cache's epoch when it is put in;
 *   - the cache's epoch moves up (never down) on the monitor's EPOCH push
 *     (the monitor polls the epoch every 100 ms) and on every answer
 *     whose epoch_after is newer; entries of older epochs are then never
 *     served again (and freed at the next push).
 * Why a revoked certificate is never answered "good" once the revocation
 * is seen.  The epoch is one counter for the process; a call hands out
 * its value after reading the connection's data version and moves it when
 * that version moved (authority_ocsp.c).  Let C be the revocation's
 * commit and E the value handed out by the first call whose version
 * includes C: that call came after C, and every value >= E was handed out
 * after it, every value < E before it.
 *   - A lookup reads its first epoch, then begins its reads.  If that
 *     epoch is >= E, its reads began after C: they say "revoked".
 *   - A "good" answer's reads began before C, so its first epoch is < E.
 *     If its second (after the reads) is >= E, the two differ and it is
 *     never kept; else its tag is < E.
 *   - A "revoked" answer's reads saw C, and its second epoch comes from a
 *     version that includes C: it is >= E.  The child moves the cache to
 *     it (ocsp_cache_put) before it sends that answer, and from then on no
 *     entry tagged < E matches again.
 *   - The monitor's poll reads the database itself every 100 ms: within
 *     that of C it hands out a value >= E and pushes it.
 * So after the first "revoked" answer, and at the latest 100 ms after C
 * (and the push's way to the child), "good" is never served again, from
 * the cache or otherwise.  The cache's epoch only moves up, so an old
 * answer arriving late cannot move it back.
 *
 * The cache is off (epoch 0) until the first EPOCH push: without a monitor
 * polling (in-process mode: tests, fuzzers) nothing would tell it of a
 * commit that no answer saw.
 */
#include <sys/random.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "authority_ocsp.h"
#include "enrolld.h"

#define OCACHE_SLOTS	4096		/* a power of two */
#define OCACHE_LOCKS	64
#define OCACHE_REQ_MAX	1024		/* a request of a few CertIDs */
#define OCACHE_ANS_MAX	(8 * 1024)

struct oentry {
	uint64_t	 epoch;		/* 0: empty */
	unsigned char	*req;
	size_t		 reqlen;
	struct blob	*ans;
	int64_t		 this_update;
	int64_t		 expires;	/* served while now < expires */
	int		 good, revoked, unknown;
	char		 etag[48];
};

struct ocsp_cache {
	uint64_t	 epoch;		/* atomic; 0: off */
	uint64_t	 seed;
	pthread_rwlock_t lk[OCACHE_LOCKS];
	struct oentry	 e[OCACHE_SLOTS];
};

struct ocsp_cache *
ocsp_cache_new(void)
{
	struct ocsp_cache *c;
	size_t i;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	/* A seed an attacker cannot guess: no chosen collisions. */
	if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed)) {
		free(c);
		return NULL;
	}
	for (i = 0; i < OCACHE_LOCKS; i++)
		pthread_rwlock_init(&c->lk[i], NULL);
	return c;
}

static void
entry_clear(struct oentry *e)
{
	free(e->req);
	blob_unref(e->ans);
	memset(e, 0, sizeof(*e));
}

void
ocsp_cache_free(struct ocsp_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < OCACHE_SLOTS; i++)
		entry_clear(&c->e[i]);
	for (i = 0; i < OCACHE_LOCKS; i++)
		pthread_rwlock_destroy(&c->lk[i]);
	free(c);
}

/* FNV-1a over the request, from the seed. */
static size_t
slot_of(const struct ocsp_cache *c, const unsigned char *p, size_t len)
{
	uint64_t h = 14695981039346656037ULL ^ c->seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	return (size_t)(h & (OCACHE_SLOTS - 1));
}

uint64_t
ocsp_cache_current(struct ocsp_cache *c)
{
	return c == NULL ? 0 : __atomic_load_n(&c->epoch, __ATOMIC_SEQ_CST);
}

/* Move the epoch up to e; 1 when it moved. */
static int
advance(struct ocsp_cache *c, uint64_t e)
{
	uint64_t cur = __atomic_load_n(&c->epoch, __ATOMIC_SEQ_CST);

	while (cur < e)
		if (__atomic_compare_exchange_n(&c->epoch, &cur, e, 0,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return 1;
	return 0;
}

void
ocsp_cache_epoch(struct ocsp_cache *c, uint64_t e)
{
	uint64_t cur;
	size_t i;

	if (c == NULL)
		return;
	(void)advance(c, e);
	/* Free what can no longer be served (the push's thread). */
	cur = ocsp_cache_current(c);
	for (i = 0; i < OCACHE_SLOTS; i++) {
		pthread_rwlock_wrlock(&c->lk[i % OCACHE_LOCKS]);
		if (c->e[i].epoch != 0 && c->e[i].epoch != cur)
			entry_clear(&c->e[i]);
		pthread_rwlock_unlock(&c->lk[i % OCACHE_LOCKS]);
	}
}

int
ocsp_cache_get(struct ocsp_cache *c, const unsigned char *req, size_t len,
    int64_t now, struct ocsp_hit *h)
{
	struct oentry *e;
	uint64_t cur;
	size_t i;
	int hit = 0;

	memset(h, 0, sizeof(*h));
	if (c == NULL || (cur = ocsp_cache_current(c)) == 0 || len == 0 ||
	    len > OCACHE_REQ_MAX)
		return 0;
	i = slot_of(c, req, len);
	e = &c->e[i];
	pthread_rwlock_rdlock(&c->lk[i % OCACHE_LOCKS]);
	if (e->epoch == cur && e->reqlen == len && now < e->expires &&
	    memcmp(e->req, req, len) == 0) {
		h->ans = blob_ref(e->ans);
		h->this_update = e->this_update;
		h->max_age = (int)(e->expires - now);
		h->good = e->good;
		h->revoked = e->revoked;
		h->unknown = e->unknown;
		memcpy(h->etag, e->etag, sizeof(h->etag));
		hit = 1;
	}
	pthread_rwlock_unlock(&c->lk[i % OCACHE_LOCKS]);
	return hit;
}

void
ocsp_cache_put(struct ocsp_cache *c, const unsigned char *req, size_t len,
    const struct ocsp_answer *a, int64_t now)
{
	struct oentry *e, ne;
	size_t i;

	if (c == NULL || ocsp_cache_current(c) == 0)
		return;
	/* A newer epoch than ours: what we hold is older than this answer. */
	(void)advance(c, a->epoch_after);
	if (a->status != AOCSP_SUCCESSFUL || a->nonce || a->max_age <= 0 ||
	    a->epoch == 0 || a->epoch != a->epoch_after || len == 0 ||
	    len > OCACHE_REQ_MAX || a->len == 0 || a->len > OCACHE_ANS_MAX)
		return;
	memset(&ne, 0, sizeof(ne));
	if ((ne.req = malloc(len)) == NULL ||
	    (ne.ans = calloc(1, sizeof(*ne.ans))) == NULL ||
	    (ne.ans->data = malloc(a->len)) == NULL) {
		entry_clear(&ne);
		return;		/* only a cache */
	}
	memcpy(ne.req, req, len);
	ne.reqlen = len;
	ne.ans->refs = 1;
	memcpy(ne.ans->data, a->der, a->len);
	ne.ans->len = a->len;
	ne.epoch = a->epoch;
	ne.this_update = a->this_update;
	ne.expires = now + a->max_age;
	ne.good = a->good;
	ne.revoked = a->revoked;
	ne.unknown = a->unknown;
	memcpy(ne.etag, a->etag, sizeof(ne.etag));
	i = slot_of(c, req, len);
	e = &c->e[i];
	pthread_rwlock_wrlock(&c->lk[i % OCACHE_LOCKS]);
	/* Checked under the slot's lock: a push that moved on since makes
	 * this entry unreachable at once. */
	if (ne.epoch == ocsp_cache_current(c)) {
		struct oentry old = *e;

		*e = ne;
		memset(&ne, 0, sizeof(ne));	/* now owned by the slot */
		ne = old;	/* freed below, outside the lock */
	}
	pthread_rwlock_unlock(&c->lk[i % OCACHE_LOCKS]);
	entry_clear(&ne);
}
