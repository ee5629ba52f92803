/* Hybrid logical clock: pure functions of (last, remote, wall clock), so
 * no test here touches the file system. */
#include <time.h>

#include "unit.h"
#include "xf/hlc.h"

static void test_layout_orders_by_physical_then_logical(void **state)
{
	uint64_t t = xf_hlc_make(1700000000123ull, 42);

	(void)state;
	assert_int_equal(xf_hlc_physical(t), 1700000000123ull);
	assert_int_equal(xf_hlc_logical(t), 42);
	assert_true(xf_hlc_make(1000, 0xffff) < xf_hlc_make(1001, 0));
	assert_true(xf_hlc_make(1000, 1) < xf_hlc_make(1000, 2));
}

static void test_next_takes_wall_clock_when_it_is_ahead(void **state)
{
	(void)state;
	assert_int_equal(xf_hlc_next(xf_hlc_make(1000, 7), 2000), xf_hlc_make(2000, 0));
	assert_int_equal(xf_hlc_next(0, 5), xf_hlc_make(5, 0));
}

static void test_next_counts_when_wall_clock_is_level_or_behind(void **state)
{
	uint64_t last = xf_hlc_make(2000, 5);

	(void)state;
	assert_int_equal(xf_hlc_next(last, 2000), xf_hlc_make(2000, 6));
	assert_int_equal(xf_hlc_next(last, 1500), xf_hlc_make(2000, 6));
	assert_int_equal(xf_hlc_next(last, 0), xf_hlc_make(2000, 6));
}

static void test_next_borrows_a_millisecond_when_counter_is_full(void **state)
{
	(void)state;
	assert_int_equal(xf_hlc_next(xf_hlc_make(2000, 0xffff), 1000), xf_hlc_make(2001, 0));
}

static void test_next_always_increases_while_wall_clock_runs_backwards(void **state)
{
	uint64_t last = xf_hlc_make(100000, 0), t;
	uint64_t wall = 100000;
	int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		/* A clock that jumps back a little now and then, as NTP does. */
		wall = (i % 7 == 0) ? wall - 3 : wall + (uint64_t)(i % 2);
		t = xf_hlc_next(last, wall);
		assert_true(t > last);
		last = t;
	}
}

static void test_recv_follows_remote_within_bound(void **state)
{
	uint64_t wall = 1000000;
	uint64_t remote = xf_hlc_make(wall + 60000, 3);

	(void)state;
	assert_int_equal(xf_hlc_recv(xf_hlc_make(wall, 0), remote, wall), xf_hlc_make(wall + 60000, 4));
}

static void test_recv_caps_remote_far_ahead(void **state)
{
	uint64_t wall = 1000000;
	uint64_t three_days = 3ull * 24 * 3600 * 1000;
	uint64_t t = xf_hlc_recv(xf_hlc_make(wall, 0), xf_hlc_make(wall + three_days, 0), wall);

	(void)state;
	assert_int_equal(xf_hlc_physical(t), wall + XF_HLC_MAX_FORWARD_MS);
	assert_true(t > xf_hlc_make(wall, 0));
}

static void test_recv_never_goes_backwards(void **state)
{
	uint64_t last = xf_hlc_make(5000, 7);

	(void)state;
	assert_int_equal(xf_hlc_recv(last, xf_hlc_make(100, 0), 1000), xf_hlc_make(5000, 8));
	assert_int_equal(xf_hlc_recv(last, xf_hlc_make(5000, 9), 1000), xf_hlc_make(5000, 10));
	assert_int_equal(xf_hlc_recv(last, xf_hlc_make(5000, 9), 4000), xf_hlc_make(5000, 10));
}

static void test_recv_takes_wall_clock_when_it_leads_both(void **state)
{
	(void)state;
	assert_int_equal(xf_hlc_recv(xf_hlc_make(900, 4), xf_hlc_make(950, 2), 1000), xf_hlc_make(1000, 0));
}

static void test_recv_counter_overflow_borrows_a_millisecond(void **state)
{
	(void)state;
	assert_int_equal(xf_hlc_recv(xf_hlc_make(2000, 0xffff), xf_hlc_make(1999, 0), 1000),
			 xf_hlc_make(2001, 0));
}

static void test_wall_ms_is_realtime(void **state)
{
	uint64_t before = (uint64_t)time(NULL) * 1000;
	uint64_t now = xf_wall_ms();
	uint64_t after = ((uint64_t)time(NULL) + 1) * 1000;

	(void)state;
	assert_in_range(now, before, after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_orders_by_physical_then_logical),
		cmocka_unit_test(test_next_takes_wall_clock_when_it_is_ahead),
		cmocka_unit_test(test_next_counts_when_wall_clock_is_level_or_behind),
		cmocka_unit_test(test_next_borrows_a_millisecond_when_counter_is_full),
		cmocka_unit_test(test_next_always_increases_while_wall_clock_runs_backwards),
		cmocka_unit_test(test_recv_follows_remote_within_bound),
		cmocka_unit_test(test_recv_caps_remote_far_ahead),
		cmocka_unit_test(test_recv_never_goes_backwards),
		cmocka_unit_test(test_recv_takes_wall_clock_when_it_leads_both),
		cmocka_unit_test(test_recv_counter_overflow_borrows_a_millisecond),
		cmocka_unit_test(test_wall_ms_is_realtime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
