/*
 * test_ratelimit.c: the daemon's failed-token counter (enroll/ratelimit.c,
 * compiled in here: it needs nothing of the daemon but its header).
 * Clients are IPv4 addresses and IPv6 /64s; a window lasts a minute; no
 * flood of failures from other addresses resets a blocked client; clients
 * that find the table full are limited together.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../enroll/ratelimit.c"

#define T0	1700000000

static void
test_ratelimit_key(void **state)
{
	unsigned char a[RL_KEYLEN], b[RL_KEYLEN];

	(void)state;
	assert_int_equal(ratelimit_key("192.0.2.1", a), 1);
	assert_int_equal(ratelimit_key("192.0.2.2", b), 1);
	assert_memory_not_equal(a, b, RL_KEYLEN);
	/* An IPv4-mapped IPv6 address is that IPv4 address. */
	assert_int_equal(ratelimit_key("::ffff:192.0.2.1", b), 1);
	assert_memory_equal(a, b, RL_KEYLEN);
	/* One /64, any interface identifier. */
	assert_int_equal(ratelimit_key("2001:db8:1:2::1", a), 1);
	assert_int_equal(ratelimit_key("2001:db8:1:2:dead:beef:0:7", b), 1);
	assert_memory_equal(a, b, RL_KEYLEN);
	assert_int_equal(ratelimit_key("2001:db8:1:3::1", b), 1);
	assert_memory_not_equal(a, b, RL_KEYLEN);
	assert_int_equal(ratelimit_key("unknown", a), 0);
}

static void
test_ratelimit_ipv4(void **state)
{
	struct ratelimit *rl;
	int i;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	for (i = 0; i < 3; i++) {
		assert_int_equal(ratelimit_blocked(rl, "198.51.100.7", 3, T0), 0);
		ratelimit_fail(rl, "198.51.100.7", T0 + i);
	}
	assert_int_equal(ratelimit_blocked(rl, "198.51.100.7", 3, T0 + 3), 1);
	assert_int_equal(ratelimit_blocked(rl, "198.51.100.8", 3, T0 + 3), 0);
	/* The window is a minute from the first failure. */
	assert_int_equal(ratelimit_blocked(rl, "198.51.100.7", 3, T0 + 59), 1);
	assert_int_equal(ratelimit_blocked(rl, "198.51.100.7", 3, T0 + 60), 0);
	ratelimit_free(rl);
}

static void
test_ratelimit_ipv6_per_64(void **state)
{
	struct ratelimit *rl;
	char a[64];
	int i;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	/* Each failure from another address of the same /64. */
	for (i = 1; i <= 5; i++) {
		snprintf(a, sizeof(a), "2001:db8:aa:bb:%x::%x", i * 7, i);
		assert_int_equal(ratelimit_blocked(rl, a, 5, T0), 0);
		ratelimit_fail(rl, a, T0);
	}
	assert_int_equal(ratelimit_blocked(rl, "2001:db8:aa:bb::9", 5, T0), 1);
	assert_int_equal(ratelimit_blocked(rl, "2001:db8:aa:bb:ffff:ffff:ffff:ffff",
	    5, T0), 1);
	/* The next /64 is someone else. */
	assert_int_equal(ratelimit_blocked(rl, "2001:db8:aa:bc::1", 5, T0), 0);
	ratelimit_free(rl);
}

/*
 * The old table kept one client per slot and gave the slot to whoever
 * failed next: failing once from an address that hashed to the same slot
 * reset a blocked client.  Here 200,000 other clients fail (each set of
 * the table sees ~200 of them) and the blocked one stays blocked.
 */
static void
test_ratelimit_no_reset_by_collision(void **state)
{
	struct ratelimit *rl;
	char a[64];
	int i;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	for (i = 0; i < 10; i++)
		ratelimit_fail(rl, "203.0.113.5", T0);
	assert_int_equal(ratelimit_blocked(rl, "203.0.113.5", 10, T0), 1);
	for (i = 0; i < 200000; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		ratelimit_fail(rl, a, T0 + 1);
		if (i % 997 == 0)
			assert_int_equal(ratelimit_blocked(rl, "203.0.113.5", 10,
			    T0 + 1), 1);
	}
	assert_int_equal(ratelimit_blocked(rl, "203.0.113.5", 10, T0 + 2), 1);
	/* Clients that found no entry of their own share the overflow: after
	 * ~200 failures per set they are all limited, a newcomer too. */
	assert_int_equal(ratelimit_blocked(rl, "10.200.0.1", 10, T0 + 2), 1);
	/* The window ends for everyone alike. */
	assert_int_equal(ratelimit_blocked(rl, "203.0.113.5", 10, T0 + 60), 0);
	assert_int_equal(ratelimit_blocked(rl, "10.200.0.1", 10, T0 + 62), 0);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit_key),
		cmocka_unit_test(test_ratelimit_ipv4),
		cmocka_unit_test(test_ratelimit_ipv6_per_64),
		cmocka_unit_test(test_ratelimit_no_reset_by_collision),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
