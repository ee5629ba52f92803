/* xf_grow: the array every list in core, daemon and tools grows by. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "unit.h"
#include "xf/mem.h"

struct item {
	uint64_t a, b;
};

static void test_grows_only_when_full_and_keeps_what_it_held(void **state)
{
	struct item *items = NULL;
	size_t n, cap = 0;

	(void)state;
	for (n = 0; n < 1000; n++) {
		size_t before = cap;

		assert_int_equal(xf_grow(&items, &cap, n, sizeof(*items)), 0);
		assert_true(cap > n);
		/* Only a full array grows, and then twice as big (16 at first). */
		assert_int_equal(cap, n < before ? before : before ? before * 2 : 16);
		items[n] = (struct item){ n, ~(uint64_t)n };
	}
	for (n = 0; n < 1000; n++) {
		assert_int_equal(items[n].a, n);
		assert_int_equal(items[n].b, ~(uint64_t)n);
	}
	free(items);
}

static void test_an_impossible_size_is_refused_and_changes_nothing(void **state)
{
	struct item *items = NULL;
	struct item *held;
	size_t cap = 0;

	(void)state;
	assert_int_equal(xf_grow(&items, &cap, 0, sizeof(*items)), 0);
	held = items;
	assert_int_equal(xf_grow(&items, &cap, cap, SIZE_MAX / 8), -ENOMEM);
	assert_ptr_equal(items, held);
	assert_int_equal(cap, 16);
	cap = SIZE_MAX / 2 + 1;
	assert_int_equal(xf_grow(&items, &cap, cap, 1), -ENOMEM);
	assert_ptr_equal(items, held);
	free(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_only_when_full_and_keeps_what_it_held),
		cmocka_unit_test(test_an_impossible_size_is_refused_and_changes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
