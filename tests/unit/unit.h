/* What every unit test binary shares: cmocka, a private temporary directory
 * per test, and an assertion that names error codes when it fails. */
#ifndef XF_TESTS_UNIT_H
#define XF_TESTS_UNIT_H

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "xf/error.h"
#include "xf/event.h"

/* Does the borrowed string S hold exactly C? */
static inline int str_is(xf_str s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* Compare return codes and, on a mismatch, say what both codes mean. */
#define assert_rc(expr, expected)                                                            \
	do {                                                                                 \
		int got_ = (expr), want_ = (expected);                                       \
		if (got_ != want_)                                                           \
			fail_msg("%s returned %d (%s), expected %d (%s)", #expr, got_,        \
				 xf_strerror(got_), want_, xf_strerror(want_));              \
	} while (0)

static inline int unit_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* cmocka setup: *state becomes the path of a new, empty directory. */
static inline int unit_tmpdir_setup(void **state)
{
	char template[] = "/tmp/xf-unit-XXXXXX";

	if (!mkdtemp(template))
		return -1;
	*state = strdup(template);
	return *state ? 0 : -1;
}

/* cmocka teardown: remove the directory and everything in it. */
static inline int unit_tmpdir_teardown(void **state)
{
	char *dir = *state;

	if (dir) {
		nftw(dir, unit_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(dir);
	}
	return 0;
}

#define TMPDIR_TEST(f) cmocka_unit_test_setup_teardown(f, unit_tmpdir_setup, unit_tmpdir_teardown)

static inline void unit_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

static inline void unit_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

#endif
