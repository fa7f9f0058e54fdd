/*
 * conns.c: the daemon's own account of its open connections, so that one
 * client cannot hold them all.
 *
 * libmicrohttpd's timeout is idle-only: a client that sends one header
 * byte every few seconds keeps a connection forever, and a thousand of
 * them fill the listener.  Here every connection has a deadline for
 * receiving a whole request (TLS handshake, headers and body); the main
 * loop sweeps once a second and shuts down the overdue ones, which makes
 * libmicrohttpd see end-of-file and close them.  Connections are also
 * counted per client (an IPv4 address, or an IPv6 /64: one subscriber
 * gets a whole /64), and one over the limit is shut down at once.
 *
 * libmicrohttpd tells us a connection closed before it closes the socket,
 * and we only shut sockets down under our lock, so a descriptor we shut
 * down is always still that connection's.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "enrolld.h"

#define NBUCKET	1024

struct conn {
	struct conn	*prev, *next;		/* all connections */
	struct conn	*bprev, *bnext;		/* same bucket */
	int		 fd;
	unsigned char	 key[CONN_KEYLEN];
	int		 receiving;		/* a request is coming in */
	double		 deadline;		/* uc_mono() */
	int		 cut;			/* shut down by us */
};

struct conns {
	pthread_mutex_t	 mu;
	struct conn	*head;
	struct conn	*bucket[NBUCKET];
	size_t		 open;
};

void
conn_key(const struct sockaddr *sa, unsigned char key[CONN_KEYLEN])
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	memset(key, 0, CONN_KEYLEN);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		/* An IPv4-mapped address is that IPv4 address. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			key[0] = 4;
			memcpy(key + 1, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);  /* /64 */
		}
	}
}

static size_t
bucket_of(const unsigned char key[CONN_KEYLEN])
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < CONN_KEYLEN; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % NBUCKET;
}

struct conns *
conns_new(void)
{
	struct conns *cs;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	pthread_mutex_init(&cs->mu, NULL);
	return cs;
}

void
conns_free(struct conns *cs)
{
	struct conn *c, *next;

	if (cs == NULL)
		return;
	for (c = cs->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	pthread_mutex_destroy(&cs->mu);
	free(cs);
}

struct conn *
conns_open(struct conns *cs, int fd, const struct sockaddr *sa, int limit,
    double deadline)
{
	struct conn *c, *o;
	size_t b;
	int n = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)shutdown(fd, SHUT_RDWR);
		return NULL;
	}
	c->fd = fd;
	conn_key(sa, c->key);
	c->receiving = 1;
	c->deadline = deadline;
	b = bucket_of(c->key);
	pthread_mutex_lock(&cs->mu);
	for (o = cs->bucket[b]; o != NULL; o = o->bnext)
		if (!o->cut && memcmp(o->key, c->key, CONN_KEYLEN) == 0)
			n++;
	if (limit > 0 && n >= limit) {
		c->cut = 1;
		(void)shutdown(fd, SHUT_RDWR);
	}
	c->next = cs->head;
	if (cs->head != NULL)
		cs->head->prev = c;
	cs->head = c;
	c->bnext = cs->bucket[b];
	if (cs->bucket[b] != NULL)
		cs->bucket[b]->bprev = c;
	cs->bucket[b] = c;
	cs->open++;
	pthread_mutex_unlock(&cs->mu);
	return c;
}

void
conns_close(struct conns *cs, struct conn *c)
{
	size_t b;

	if (c == NULL)
		return;
	b = bucket_of(c->key);
	pthread_mutex_lock(&cs->mu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->bprev != NULL)
		c->bprev->bnext = c->bnext;
	else
		cs->bucket[b] = c->bnext;
	if (c->bnext != NULL)
		c->bnext->bprev = c->bprev;
	cs->open--;
	pthread_mutex_unlock(&cs->mu);
	free(c);
}

void
conns_receiving(struct conns *cs, struct conn *c, double deadline)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	c->receiving = 1;
	c->deadline = deadline;
	pthread_mutex_unlock(&cs->mu);
}

void
conns_received(struct conns *cs, struct conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	c->receiving = 0;
	pthread_mutex_unlock(&cs->mu);
}

size_t
conns_sweep(struct conns *cs, double now)
{
	struct conn *c;
	size_t n = 0;

	pthread_mutex_lock(&cs->mu);
	for (c = cs->head; c != NULL; c = c->next) {
		if (c->cut || !c->receiving || now < c->deadline)
			continue;
		c->cut = 1;
		(void)shutdown(c->fd, SHUT_RDWR);
		n++;
	}
	pthread_mutex_unlock(&cs->mu);
	return n;
}

size_t
conns_open_count(struct conns *cs, const struct sockaddr *sa)
{
	unsigned char key[CONN_KEYLEN];
	struct conn *c;
	size_t n = 0;

	pthread_mutex_lock(&cs->mu);
	if (sa == NULL)
		n = cs->open;
	else {
		conn_key(sa, key);
		for (c = cs->bucket[bucket_of(key)]; c != NULL; c = c->bnext)
			if (!c->cut && memcmp(c->key, key, CONN_KEYLEN) == 0)
				n++;
	}
	pthread_mutex_unlock(&cs->mu);
	return n;
}
