/*
 * bench_door.c: what the privilege separation adds to one enrollment, the
 * round trip of a REDEEM over the monitor's socketpair (scripts/bench
 * http).  The child's side is the real door_redeem() (encode, send, its
 * reader thread, decode); the monitor's side reads, parses
 * (door_parse_request) and answers a chain of the size a real one has,
 * without signing or recording.  Prints "door n=N threads=T us=...
 * cpu_us=..." (microseconds per round trip, wall clock / calls, and the
 * CPU time of both sides / calls: what the round trip costs the cores).
 *
 *   bench_door [-n N] [-t THREADS]
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "door.h"

static struct door	*D;
static int		 N = 20000;

static int
no_push(void *arg, uint16_t type, const unsigned char *body, size_t len)
{
	(void)arg;
	(void)type;
	(void)body;
	(void)len;
	return 0;
}

static double
tv_us(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

/* The monitor: parse each request, answer like answer_redeem(). */
static void *
monitor(void *arg)
{
	static unsigned char chain[2400];
	static struct door_in in;
	int fd = *(int *)arg;
	struct door_request q;
	struct door_hdr h;
	unsigned char *body;

	memset(chain, 'A', sizeof(chain));
	door_in_init(&in, fd);
	while (door_recv(&in, DOOR_MAX_REQUEST, &h, &body) == UC_OK) {
		struct ucbuf b = UCBUF_INIT(0, 0);

		if (door_parse_request(h.type, body, h.len, &q) != UC_OK)
			abort();
		door_put_u64(&b, 0);
		door_put_u64(&b, 0);
		door_put_str(&b, "");
		door_put_str(&b, "5C107BA55859FA54B925C963E7270128");
		door_put_u64(&b, 1800000000);
		door_put_bytes(&b, chain, sizeof(chain));
		door_put_str(&b, "");
		door_put_u64(&b, 0);
		door_put_u64(&b, 0);
		door_put_u64(&b, 0);
		door_put_str(&b, "alice");
		door_put_str(&b, "alice@example.org");
		door_put_str(&b, "Alice");
		door_put_str(&b, "");
		if (door_send(fd, (uint16_t)(h.type | DOOR_ANSWER), h.id, b.p,
		    b.len) != UC_OK)
			abort();
		ucbuf_free(&b);
		door_request_clear(&q);
		free(body);
	}
	return NULL;
}

static void *
client(void *arg)
{
	static const unsigned char spki[91] = { 0x30 };
	struct door_redeem_out o;
	int i, n = *(int *)arg;

	for (i = 0; i < n; i++) {
		if (door_redeem(D, "AbCdEfGhIjKlMnOpQrStUv", DOOR_CSR, spki,
		    sizeof(spki), NULL, &o) != UC_OK || o.rc != UC_OK)
			abort();
		door_redeem_out_clear(&o);
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	pthread_t mt, ct[64];
	struct timespec t0, t1;
	struct rusage r0, r1;
	int sv[2], c, i, threads = 1, per;

	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		if (c == 'n')
			N = (int)strtol(optarg, NULL, 10);
		else if (c == 't')
			threads = (int)strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (N < 1 || threads < 1 || threads > 64 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 2;
	if ((D = door_open(sv[1], no_push, NULL)) == NULL ||
	    door_start(D) != UC_OK ||
	    pthread_create(&mt, NULL, monitor, &sv[0]) != 0)
		return 1;
	per = N / threads;
	getrusage(RUSAGE_SELF, &r0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < threads; i++)
		pthread_create(&ct[i], NULL, client, &per);
	for (i = 0; i < threads; i++)
		pthread_join(ct[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &r1);
	printf("door n=%d threads=%d us=%.2f cpu_us=%.2f\n", per * threads,
	    threads, ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / (per * threads),
	    (tv_us(&r1.ru_utime) - tv_us(&r0.ru_utime) +
	    tv_us(&r1.ru_stime) - tv_us(&r0.ru_stime)) / (per * threads));
	door_free(D);
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(mt, NULL);
	close(sv[0]);
	return 0;
}
