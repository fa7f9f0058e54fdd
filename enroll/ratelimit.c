/*
 * ratelimit.c: failed token attempts per client address, in a fixed
 * table (an attacker with many addresses evicts slots but never grows
 * memory).
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "enrolld.h"

#define SLOTS	4096
#define WINDOW	60

struct slot {
	char	addr[48];
	int64_t	start;
	int	count;
};

struct ratelimit {
	pthread_mutex_t	mu;
	struct slot	s[SLOTS];
};

static size_t
slot_of(const char *addr)
{
	uint32_t h = 2166136261u;

	for (; *addr != '\0'; addr++)
		h = (h ^ (unsigned char)*addr) * 16777619u;
	return h % SLOTS;
}

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
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
	struct slot *s;
	int blocked;

	pthread_mutex_lock(&rl->mu);
	s = &rl->s[slot_of(addr)];
	blocked = strcmp(s->addr, addr) == 0 && now - s->start < WINDOW &&
	    s->count >= limit;
	pthread_mutex_unlock(&rl->mu);
	return blocked;
}

void
ratelimit_fail(struct ratelimit *rl, const char *addr, int64_t now)
{
	struct slot *s;

	pthread_mutex_lock(&rl->mu);
	s = &rl->s[slot_of(addr)];
	if (strcmp(s->addr, addr) != 0 || now - s->start >= WINDOW) {
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
		s->start = now;
		s->count = 0;
	}
	s->count++;
	pthread_mutex_unlock(&rl->mu);
}
