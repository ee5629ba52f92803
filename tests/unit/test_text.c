/* Validation of typed values: node ids, text, dates, event ids. Pure
 * functions, so no test here touches the file system. */
#include <errno.h>
#include <time.h>

#include "unit.h"
#include "xf/text.h"

static void test_node_id_accepts_letters_digits_dash(void **state)
{
	(void)state;
	assert_rc(xf_node_id_check("A"), 0);
	assert_rc(xf_node_id_check("township-3"), 0);
	assert_rc(xf_node_id_check("village-01-b"), 0);
	assert_rc(xf_node_id_check("0123456789abcdefghijklmnopqrstuv"), 0); /* 32 */
}

static void test_node_id_rejects_the_rest(void **state)
{
	(void)state;
	assert_rc(xf_node_id_check(NULL), -EINVAL);
	assert_rc(xf_node_id_check(""), -EINVAL);
	assert_rc(xf_node_id_check("-village"), -EINVAL);
	assert_rc(xf_node_id_check("0123456789abcdefghijklmnopqrstuvw"), -EINVAL); /* 33 */
	assert_rc(xf_node_id_check("a_b"), -EINVAL);
	assert_rc(xf_node_id_check("a:1"), -EINVAL);
	assert_rc(xf_node_id_check("a b"), -EINVAL);
	assert_rc(xf_node_id_check("a/b"), -EINVAL);
	assert_rc(xf_node_id_check("村委"), -EINVAL);
}

static void test_text_accepts_utf8_newline_and_tab(void **state)
{
	(void)state;
	assert_rc(xf_text_check("", 0), 0);
	assert_rc(xf_text_check("plain ascii", 100), 0);
	assert_rc(xf_text_check("张三反映宅基地纠纷，要求村委会答复。", 200), 0);
	assert_rc(xf_text_check("line one\nline two\tindented", 100), 0);
	assert_rc(xf_text_check("\xf0\x9f\x98\x80", 4), 0);     /* U+1F600, four bytes */
	assert_rc(xf_text_check("\xf4\x8f\xbf\xbf", 4), 0);     /* U+10FFFF, the last scalar */
	assert_rc(xf_text_check("\xef\xbf\xbd", 3), 0);         /* U+FFFD */
}

static void test_text_limit_counts_bytes(void **state)
{
	(void)state;
	assert_rc(xf_text_check("abcde", 5), 0);
	assert_rc(xf_text_check("abcdef", 5), XF_ETOOBIG);
	assert_rc(xf_text_check("信访", 6), 0); /* two characters, six bytes */
	assert_rc(xf_text_check("信访", 5), XF_ETOOBIG);
}

static void test_text_rejects_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\x80",                  /* continuation byte alone */
		"a\xbf" "b",
		"\xc0\xaf",              /* overlong '/' */
		"\xc1\xbf",
		"\xe0\x80\xaf",          /* overlong, three bytes */
		"\xf0\x80\x80\xaf",      /* overlong, four bytes */
		"\xed\xa0\x80",          /* U+D800, a surrogate */
		"\xed\xbf\xbf",          /* U+DFFF */
		"\xf4\x90\x80\x80",      /* U+110000, past the last scalar */
		"\xf5\x80\x80\x80",
		"\xff",
		"\xfe",
		"\xe4\xb8",              /* truncated at the end of the string */
		"\xe4\xb8" "a",          /* truncated in the middle */
		"\xf0\x9f\x98",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (xf_text_check(bad[i], 100) != XF_EUTF8)
			fail_msg("bad[%zu] accepted or misreported", i);
	}
}

static void test_text_rejects_c0_controls_and_delete(void **state)
{
	(void)state;
	assert_rc(xf_text_check("a\x01" "b", 10), XF_EUTF8);
	assert_rc(xf_text_check("a\rb", 10), XF_EUTF8);
	assert_rc(xf_text_check("a\x1b[31mred", 20), XF_EUTF8); /* terminal escape */
	assert_rc(xf_text_check("a\x7f", 10), XF_EUTF8);
}

/* The header promises "no control characters other than newline and tab".
 * U+0080..U+009F are control characters too (Unicode category Cc); U+009B
 * is CSI, which terminals may act on as ESC [ does. */
static void test_text_rejects_c1_controls(void **state)
{
	(void)state;
	assert_rc(xf_text_check("a\xc2\x85" "b", 10), XF_EUTF8); /* U+0085 NEL */
	assert_rc(xf_text_check("\xc2\x9b" "31mred", 20), XF_EUTF8); /* U+009B CSI */
}

/* Which of xf_text_check's rules refused text, for the message. */
static void test_text_is_utf8_tells_controls_from_bad_bytes(void **state)
{
	(void)state;
	assert_true(xf_text_is_utf8(""));
	assert_true(xf_text_is_utf8("张三\n\t"));
	assert_true(xf_text_is_utf8("a\x01" "b"));
	assert_true(xf_text_is_utf8("cr\rx"));
	assert_true(xf_text_is_utf8("x\x7f"));
	assert_true(xf_text_is_utf8("a\xc2\x9b" "b")); /* U+009B CSI */
	assert_false(xf_text_is_utf8("\xff"));
	assert_false(xf_text_is_utf8("a\x01\xc0\xaf")); /* a control, then an overlong '/' */
	assert_false(xf_text_is_utf8("\xed\xa0\x80"));
	assert_false(xf_text_is_utf8("\xe4\xb8"));
}

static void test_date_parse_known_days(void **state)
{
	int32_t days = -1;

	(void)state;
	assert_rc(xf_date_parse("1970-01-01", &days), 0);
	assert_int_equal(days, 0);
	assert_rc(xf_date_parse("2000-01-01", &days), 0);
	assert_int_equal(days, 10957);
	assert_rc(xf_date_parse("2024-02-29", &days), 0);
	assert_int_equal(days, 19782);
	assert_rc(xf_date_parse("1900-01-01", &days), 0);
	assert_int_equal(days, -25567);
}

static void test_date_parse_rejects_what_is_not_a_date(void **state)
{
	static const char *const bad[] = {
		"2023-02-29", "1900-02-29", "2100-02-29", "2024-04-31", "2024-13-01", "2024-00-10",
		"2024-01-00", "2024-01-32", "1899-12-31", "2024-1-01",  "2024/01/01", "20240101",
		"2024-01-011", " 2024-01-1", "2024-01-0a", "",          "yyyy-mm-dd", "+024-01-01",
	};
	int32_t days = 12345;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (xf_date_parse(bad[i], &days) != XF_EDATE)
			fail_msg("\"%s\" accepted as a date", bad[i]);
	}
	assert_rc(xf_date_parse(NULL, &days), XF_EDATE);
	assert_int_equal(days, 12345);
	assert_rc(xf_date_parse("2000-02-29", &days), 0);
}

static void test_date_format_and_parse_round_trip(void **state)
{
	char text[XF_DATE_LEN + 1];
	int32_t d, back;

	(void)state;
	xf_date_format(0, text);
	assert_string_equal(text, "1970-01-01");
	xf_date_format(-1, text);
	assert_string_equal(text, "1969-12-31");
	xf_date_format(19782, text);
	assert_string_equal(text, "2024-02-29");
	/* Every day from 1900 to 2199. */
	for (d = -25567; d < 84006; d++) {
		xf_date_format(d, text);
		assert_rc(xf_date_parse(text, &back), 0);
		assert_int_equal(back, d);
	}
}

static void test_date_today_uses_local_time(void **state)
{
	/* 2024-02-29 16:00:00 UTC, which is already 1 March in Beijing. */
	uint64_t wall_ms = 1709222400ull * 1000;

	(void)state;
	setenv("TZ", "UTC0", 1);
	tzset();
	assert_int_equal(xf_date_today(wall_ms), 19782);
	assert_int_equal(xf_date_today(wall_ms - 1), 19782);
	setenv("TZ", "CST-8", 1);
	tzset();
	assert_int_equal(xf_date_today(wall_ms), 19783);
	assert_int_equal(xf_date_today(wall_ms - 1), 19782);
	unsetenv("TZ");
	tzset();
}

static void test_event_id_parse_splits_origin_and_seq(void **state)
{
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq = 0;

	(void)state;
	assert_rc(xf_event_id_parse("village-1:42", origin, &seq), 0);
	assert_string_equal(origin, "village-1");
	assert_int_equal(seq, 42);
	assert_rc(xf_event_id_parse("t:18446744073709551615", origin, &seq), 0);
	assert_string_equal(origin, "t");
	assert_true(seq == UINT64_MAX);
	assert_rc(xf_event_id_parse("0123456789abcdefghijklmnopqrstuv:1", origin, &seq), 0);
}

static void test_event_id_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"village", ":5", "a:", "a:0", "a:01", "a:-1", "a:+1", "a: 1", "a:1 ", "a:1x",
		"a:18446744073709551616", "-a:1", "a_b:1", "a:b:1",
		"0123456789abcdefghijklmnopqrstuvw:1",
	};
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq = 7;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (xf_event_id_parse(bad[i], origin, &seq) != -EINVAL)
			fail_msg("\"%s\" accepted as an event id", bad[i]);
	}
	assert_int_equal(seq, 7);
}

static void test_entity_id_parse(void **state)
{
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq = 0;

	(void)state;
	assert_int_equal(xf_entity_id_parse("C-370102-001-12", origin, &seq), 0);
	assert_string_equal(origin, "370102-001");
	assert_int_equal(seq, 12);
	assert_int_equal(xf_entity_id_parse("V-x-7", origin, NULL), 0);
	assert_string_equal(origin, "x");
	assert_int_equal(xf_entity_id_parse("V--7", origin, NULL), -EINVAL);
	assert_int_equal(xf_entity_id_parse("V-x-", origin, &seq), -EINVAL);
	assert_int_equal(xf_entity_id_parse("V-x-7a", origin, &seq), -EINVAL);
	assert_int_equal(xf_entity_id_parse("Vx-7", origin, NULL), -EINVAL);
	assert_int_equal(xf_entity_id_parse("", origin, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_id_accepts_letters_digits_dash),
		cmocka_unit_test(test_node_id_rejects_the_rest),
		cmocka_unit_test(test_text_accepts_utf8_newline_and_tab),
		cmocka_unit_test(test_text_limit_counts_bytes),
		cmocka_unit_test(test_text_rejects_invalid_utf8),
		cmocka_unit_test(test_text_rejects_c0_controls_and_delete),
		cmocka_unit_test(test_text_rejects_c1_controls),
		cmocka_unit_test(test_text_is_utf8_tells_controls_from_bad_bytes),
		cmocka_unit_test(test_date_parse_known_days),
		cmocka_unit_test(test_date_parse_rejects_what_is_not_a_date),
		cmocka_unit_test(test_date_format_and_parse_round_trip),
		cmocka_unit_test(test_date_today_uses_local_time),
		cmocka_unit_test(test_event_id_parse_splits_origin_and_seq),
		cmocka_unit_test(test_event_id_parse_rejects_malformed),
		cmocka_unit_test(test_entity_id_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
