/*
 * test_serial.c: random serial numbers, their hex form, and normalising
 * serials typed by people.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>

#include "pki.h"

#define NSERIALS	1000
#define SERIAL_OCTETS	16

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_serial_random(void **state)
{
	static char *hex[NSERIALS];
	static unsigned char raw[NSERIALS][SERIAL_OCTETS];
	unsigned int ones[SERIAL_OCTETS * 8];
	ASN1_INTEGER *s = NULL;
	unsigned char *der = NULL;
	char *norm = NULL;
	size_t i, j, varying = 0;
	int n;

	(void)state;
	memset(ones, 0, sizeof(ones));
	for (i = 0; i < NSERIALS; i++) {
		assert_int_equal(serial_random(&s), UC_OK);
		assert_non_null(s);
		/* Positive: V_ASN1_INTEGER, not V_ASN1_NEG_INTEGER. */
		assert_int_equal(ASN1_STRING_type(s), V_ASN1_INTEGER);

		/* DER: 02 10 <16 content octets>, top bit clear. */
		der = NULL;
		n = i2d_ASN1_INTEGER(s, &der);
		assert_int_equal(n, 2 + SERIAL_OCTETS);
		assert_int_equal(der[0], V_ASN1_INTEGER);
		assert_int_equal(der[1], SERIAL_OCTETS);
		assert_true(der[1] <= 20);
		assert_int_equal(der[2] & 0x80, 0);	/* positive */
		assert_true(der[2] != 0);		/* minimal */
		memcpy(raw[i], der + 2, SERIAL_OCTETS);
		OPENSSL_free(der);
		der = NULL;

		hex[i] = serial_hex(s);
		assert_non_null(hex[i]);
		assert_int_equal(strlen(hex[i]), 2 * SERIAL_OCTETS);
		assert_true(strncmp(hex[i], "00", 2) != 0);
		assert_int_equal(strspn(hex[i], "0123456789ABCDEF"),
		    strlen(hex[i]));

		/* normalize(hex(s)) == hex(s) */
		assert_int_equal(serial_normalize(hex[i], &norm), UC_OK);
		assert_string_equal(norm, hex[i]);
		free(norm);
		norm = NULL;

		ASN1_INTEGER_free(s);
		s = NULL;
	}

	/* All unique. */
	qsort(hex, NSERIALS, sizeof(hex[0]), cmp_str);
	for (i = 1; i < NSERIALS; i++)
		assert_true(strcmp(hex[i - 1], hex[i]) != 0);

	/*
	 * Entropy: count how often each bit is set.  A random bit is set
	 * about 500 times in 1000 (sd 16); [350, 650] is > 9 sd wide.  At
	 * least 64 bit positions must behave like that.
	 */
	for (i = 0; i < NSERIALS; i++)
		for (j = 0; j < SERIAL_OCTETS * 8; j++)
			if (raw[i][j / 8] & (0x80 >> (j % 8)))
				ones[j]++;
	assert_int_equal(ones[0], 0);	/* the sign bit is never set */
	for (j = 0; j < SERIAL_OCTETS * 8; j++)
		if (ones[j] >= 350 && ones[j] <= 650)
			varying++;
	assert_true(varying >= 64);
	/* 127 random bits are promised; all but the two fixed ones vary. */
	assert_true(varying >= SERIAL_OCTETS * 8 - 2);

	for (i = 0; i < NSERIALS; i++)
		free(hex[i]);
}

static void
test_serial_hex(void **state)
{
	ASN1_INTEGER *s;
	char *h;

	(void)state;
	s = ASN1_INTEGER_new();
	assert_non_null(s);
	assert_int_equal(ASN1_INTEGER_set_int64(s, 0xa1b), 1);
	h = serial_hex(s);
	assert_non_null(h);
	assert_string_equal(h, "0A1B");
	free(h);

	assert_int_equal(ASN1_INTEGER_set_int64(s, 0xabcdef), 1);
	h = serial_hex(s);
	assert_non_null(h);
	assert_string_equal(h, "ABCDEF");
	free(h);

	/* A top bit set needs a 00 pad in DER, but not in the hex. */
	assert_int_equal(ASN1_INTEGER_set_int64(s, 0x80), 1);
	h = serial_hex(s);
	assert_non_null(h);
	assert_string_equal(h, "80");
	free(h);
	ASN1_INTEGER_free(s);
}

static void
expect_norm(const char *in, const char *want)
{
	char *out = NULL;
	int rc;

	rc = serial_normalize(in, &out);
	if (rc != UC_OK)
		print_error("serial_normalize('%s'): %d %s\n", in, rc,
		    uc_errmsg());
	assert_int_equal(rc, UC_OK);
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void
expect_bad(const char *in)
{
	char *out = NULL;
	int rc;

	rc = serial_normalize(in, &out);
	if (rc != UC_E_INVALID)
		print_error("serial_normalize('%s'): %d, '%s'\n", in, rc,
		    out != NULL ? out : "(none)");
	assert_int_equal(rc, UC_E_INVALID);
	assert_null(out);
}

static void
test_serial_normalize(void **state)
{
	char buf[64];

	(void)state;
	expect_norm("0a:1b", "0A1B");
	expect_norm("0x0A1B", "0A1B");
	expect_norm("0X0a1b", "0A1B");
	expect_norm("a1b", "0A1B");
	expect_norm("A1B", "0A1B");
	expect_norm("00:0a:1b", "0A1B");
	expect_norm("7f", "7F");
	expect_norm("1", "01");
	expect_norm("DEADBEEF", "DEADBEEF");

	/* 40 hex digits (20 octets) is the longest, with the sign bit clear. */
	memset(buf, 'a', 40);
	buf[0] = '7';
	buf[40] = '\0';
	expect_norm(buf, "7AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	/* 20 octets with the top bit set need 21 in DER: refused. */
	buf[0] = 'a';
	expect_bad(buf);

	expect_bad("");
	expect_bad("xyz");
	expect_bad("0x");
	expect_bad("::");
	expect_bad("00");
	expect_bad("0a 1b");
	expect_bad("0a-1b");
	expect_bad("-0a1b");
	expect_bad("g1");
	expect_bad("0x0x1");

	/* 41 and 42 significant hex digits. */
	buf[0] = '1';
	memset(buf + 1, 'a', 40);
	buf[41] = '\0';
	expect_bad(buf);
	memset(buf, 'b', 42);
	buf[42] = '\0';
	expect_bad(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_random),
		cmocka_unit_test(test_serial_hex),
		cmocka_unit_test(test_serial_normalize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
