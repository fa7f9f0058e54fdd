/*
 * test_ucbuf.c: the one growable buffer (ca/core/ucbuf.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ucbuf.h"

static void
test_append_printf_take(void **state)
{
	struct ucbuf b;
	unsigned char *out = NULL;
	size_t len = 0;
	int i;

	ucbuf_init(&b, 0, 0);
	assert_string_equal(ucbuf_str(&b), "");
	assert_int_equal(ucbuf_addstr(&b, "abc"), UC_OK);
	assert_int_equal(ucbuf_add(&b, "\0d", 2), UC_OK);
	assert_int_equal(ucbuf_len(&b), 5);
	for (i = 0; i < 1000; i++)		/* grows past its first block */
		assert_int_equal(ucbuf_printf(&b, "%04d,", i), UC_OK);
	assert_int_equal(ucbuf_len(&b), 5 + 5000);
	assert_int_equal(ucbuf_take(&b, &out, &len), UC_OK);
	assert_int_equal(len, 5005);
	assert_memory_equal(out, "abc\0d0000,0001,", 15);
	assert_memory_equal(out + 5000, "0999,", 5);
	assert_int_equal(out[len], '\0');
	free(out);
	/* Empty after take, and reusable. */
	assert_int_equal(ucbuf_len(&b), 0);
	assert_int_equal(ucbuf_take(&b, &out, NULL), UC_OK);
	assert_string_equal((char *)out, "");
	free(out);
	ucbuf_free(&b);
}

static void
test_sticky_take(void **state)
{
	struct ucbuf b = UCBUF_INIT(4, 0);
	static unsigned char dummy;
	unsigned char *out = &dummy;

	assert_int_equal(ucbuf_addstr(&b, "12345"), UC_E_INVALID);
	assert_int_equal(ucbuf_take(&b, &out, NULL), UC_E_INVALID);
	assert_null(out);
	ucbuf_free(&b);
}

static void
test_cap(void **state)
{
	struct ucbuf b;

	ucbuf_init(&b, 8, 1);
	assert_int_equal(ucbuf_addstr(&b, "12345678"), UC_OK);
	assert_int_equal(ucbuf_addstr(&b, "9"), UC_E_INVALID);
	assert_int_equal(ucbuf_printf(&b, "%d", 9), UC_E_INVALID);
	assert_string_equal(ucbuf_str(&b), "12345678");
	ucbuf_reset(&b);
	assert_int_equal(ucbuf_printf(&b, "%s", "too long for it"),
	    UC_E_INVALID);
	assert_string_equal(ucbuf_str(&b), "");
	/* The failure sticks until a reset. */
	assert_int_equal(ucbuf_addstr(&b, "x"), UC_E_INVALID);
	ucbuf_reset(&b);
	assert_int_equal(ucbuf_printf(&b, "%s", "fits"), UC_OK);
	assert_string_equal(ucbuf_str(&b), "fits");
	ucbuf_free(&b);
	ucbuf_free(&b);				/* twice is harmless */
	ucbuf_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_printf_take),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_sticky_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
