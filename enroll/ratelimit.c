/*
 * ratelimit.c: failed token attempts per client, in a fixed table (an
 * attacker with many addresses never grows memory).
 *
 * A client is an IPv4 address or an IPv6 /64 (one subscriber holds a whole
 * /64, so counting single IPv6 addresses would count nothing).  The table
 * is set-associative and a client's entry is never evicted while its
 * window runs: failing from other addresses that hash to the same set
 * cannot reset anyone's counter, the attacker's own included.  When every
 * entry of a set is busy, clients without one share the set's overflow
 * counter, so they are limited together rather than not at all.  The
 * hash is seeded at random, so which addresses share a set cannot be
 * worked out from outside.
 */
#include <arpa/inet.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "enrolld.h"

#define SETS	1024
#define WAYS	8
#define WINDOW	60

struct rlentry {
	unsigned char	key[RL_KEYLEN];
	int64_t		start;		/* 0: free */
	int		count;
};

struct rlset {
	struct rlentry	e[WAYS];
	struct rlentry	overflow;	/* clients that found no entry */
};

struct ratelimit {
	pthread_mutex_t	mu;
	uint32_t	seed;
	struct rlset	s[SETS];
};

int
ratelimit_key(const char *addr, unsigned char key[RL_KEYLEN])
{
	unsigned char a[16];

	memset(key, 0, RL_KEYLEN);
	if (inet_pton(AF_INET, addr, a) == 1) {
		key[0] = 4;
		memcpy(key + 1, a, 4);
		return 1;
	}
	if (inet_pton(AF_INET6, addr, a) == 1) {
		static const unsigned char v4mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};

		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 8);		/* the /64 */
		}
		return 1;
	}
	return 0;	/* "unknown": all such clients share one key */
}

static struct rlset *
set_of(struct ratelimit *rl, const unsigned char key[RL_KEYLEN])
{
	uint32_t h = 2166136261u ^ rl->seed;
	size_t i;

	for (i = 0; i < RL_KEYLEN; i++)
		h = (h ^ key[i]) * 16777619u;
	h ^= h >> 15;
	return &rl->s[h % SETS];
}

static int
live(const struct rlentry *e, int64_t now)
{
	return e->start != 0 && now - e->start < WINDOW && now >= e->start;
}

/* The client's entry: its own, or the set's overflow when none is free.
 * claim: take a free or expired entry for it. */
static struct rlentry *
entry_of(struct ratelimit *rl, const char *addr, int64_t now, int claim)
{
	unsigned char key[RL_KEYLEN];
	struct rlset *s;
	struct rlentry *free_e = NULL;
	size_t i;

	(void)ratelimit_key(addr, key);
	s = set_of(rl, key);
	for (i = 0; i < WAYS; i++) {
		if (!live(&s->e[i], now)) {
			if (free_e == NULL)
				free_e = &s->e[i];
			continue;
		}
		if (memcmp(s->e[i].key, key, RL_KEYLEN) == 0)
			return &s->e[i];
	}
	if (free_e != NULL) {
		if (!claim)
			return NULL;		/* no failures counted */
		memcpy(free_e->key, key, RL_KEYLEN);
		free_e->start = now;
		free_e->count = 0;
		return free_e;
	}
	if (!live(&s->overflow, now)) {
		if (!claim)
			return NULL;
		s->overflow.start = now;
		s->overflow.count = 0;
	}
	return &s->overflow;
}

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if (RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->mu, NULL);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

int
ratelimit_blocked(struct ratelimit *rl, const char *addr, int limit,
    int64_t now)
{
	struct rlentry *e;
	int blocked;

	pthread_mutex_lock(&rl->mu);
	e = entry_of(rl, addr, now, 0);
	blocked = e != NULL && e->count >= limit;
	pthread_mutex_unlock(&rl->mu);
	return blocked;
}

void
ratelimit_fail(struct ratelimit *rl, const char *addr, int64_t now)
{
	struct rlentry *e;

	pthread_mutex_lock(&rl->mu);
	if ((e = entry_of(rl, addr, now, 1)) != NULL && e->count < 1000000000)
		e->count++;
	pthread_mutex_unlock(&rl->mu);
}
