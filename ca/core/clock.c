/*
 * clock.c: the one clock of userca, so expiry can be tested.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

static int64_t (*clock_hook)(void);

void
uc_clock_set(int64_t (*fn)(void))
{
	clock_hook = fn;
}

int64_t
uc_now(void)
{
	const char *s;
	char *end;
	long long v;

	if (clock_hook != NULL)
		return clock_hook();
#ifdef USERCA_TEST_CLOCK
	/* Test builds only (cmake -DUSERCA_TEST_CLOCK=ON). */
	if ((s = getenv("USERCA_NOW")) != NULL && *s != '\0') {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0)
			return (int64_t)v;
	}
#else
	(void)s;
	(void)end;
	(void)v;
#endif
	return (int64_t)time(NULL);
}

void
uc_time_iso(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (len > 0)
			buf[0] = '\0';
	}
}

double
uc_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
