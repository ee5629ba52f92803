/* Node keys: generation, the permission and format checks on load, signing,
 * and the hex form of public keys. Each test has its own directory. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>

#include "unit.h"
#include "xf/key.h"

#define KEY_FILE_BYTES 64 /* Ed25519 seed ++ public key */

static void read_whole(const char *path, uint8_t *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size);
	assert_true(n >= 0);
	*len = (size_t)n;
	close(fd);
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void generate_and_read(const char *dir, const char *name, uint8_t secret[KEY_FILE_BYTES])
{
	char path[PATH_MAX];
	size_t len;

	unit_path(path, sizeof(path), dir, name);
	assert_rc(xf_key_generate(path), 0);
	read_whole(path, secret, KEY_FILE_BYTES, &len);
	assert_int_equal(len, KEY_FILE_BYTES);
}

static void test_generate_creates_private_file(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX];
	uint8_t bytes[2 * KEY_FILE_BYTES];
	struct stat st;
	size_t len;
	xf_key *key = NULL;

	unit_path(path, sizeof(path), dir, "node.key");
	assert_rc(xf_key_generate(path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	read_whole(path, bytes, sizeof(bytes), &len);
	assert_int_equal(len, KEY_FILE_BYTES);
	/* No temporary file is left beside it. */
	assert_int_equal(dir_entries(dir), 1);
	assert_rc(xf_key_load(&key, path), 0);
	assert_memory_equal(xf_key_public(key), bytes + 32, XF_PUBKEY_BYTES);
	xf_key_free(key);
}

static void test_generate_ignores_umask(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX];
	struct stat st;
	mode_t old = umask(0);

	unit_path(path, sizeof(path), dir, "node.key");
	assert_rc(xf_key_generate(path), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_generate_makes_different_keys(void **state)
{
	uint8_t a[KEY_FILE_BYTES], b[KEY_FILE_BYTES];

	generate_and_read(*state, "a.key", a);
	generate_and_read(*state, "b.key", b);
	assert_memory_not_equal(a, b, KEY_FILE_BYTES);
}

static void test_generate_refuses_existing_file(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX];
	uint8_t before[KEY_FILE_BYTES], after[KEY_FILE_BYTES];
	size_t len;

	generate_and_read(dir, "node.key", before);
	unit_path(path, sizeof(path), dir, "node.key");
	assert_rc(xf_key_generate(path), XF_EEXIST);
	read_whole(path, after, sizeof(after), &len);
	assert_int_equal(len, KEY_FILE_BYTES);
	assert_memory_equal(before, after, KEY_FILE_BYTES);

	/* Not even over a file that is not a key. */
	unit_path(path, sizeof(path), dir, "notes.txt");
	unit_write_file(path, "keep me", 7, 0600);
	assert_rc(xf_key_generate(path), XF_EEXIST);
	read_whole(path, after, sizeof(after), &len);
	assert_int_equal(len, 7);
	assert_memory_equal(after, "keep me", 7);
}

static void test_load_refuses_file_others_can_read(void **state)
{
	static const mode_t unsafe[] = { 0644, 0640, 0604, 0660, 0602, 0620 };
	const char *dir = *state;
	char path[PATH_MAX];
	xf_key *key = NULL;
	size_t i;

	unit_path(path, sizeof(path), dir, "node.key");
	assert_rc(xf_key_generate(path), 0);
	for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		assert_int_equal(chmod(path, unsafe[i]), 0);
		assert_rc(xf_key_load(&key, path), XF_EUNSAFE);
		assert_null(key);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_rc(xf_key_load(&key, path), 0);
	xf_key_free(key);
}

static void test_load_missing_file(void **state)
{
	char path[PATH_MAX];
	xf_key *key = NULL;

	unit_path(path, sizeof(path), *state, "absent.key");
	assert_rc(xf_key_load(&key, path), -ENOENT);
	assert_null(key);
}

static void test_load_refuses_symlink(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX], link[PATH_MAX];
	xf_key *key = NULL;

	unit_path(path, sizeof(path), dir, "real.key");
	unit_path(link, sizeof(link), dir, "node.key");
	assert_rc(xf_key_generate(path), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_true(xf_key_load(&key, link) < 0);
	assert_null(key);
}

static void test_load_refuses_corrupt_files(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX];
	uint8_t secret[KEY_FILE_BYTES], longer[KEY_FILE_BYTES + 1] = { 0 };
	xf_key *key = NULL;

	generate_and_read(dir, "good.key", secret);
	unit_path(path, sizeof(path), dir, "bad.key");

	unit_write_file(path, "", 0, 0600);
	assert_rc(xf_key_load(&key, path), XF_ECORRUPT);
	unit_write_file(path, secret, KEY_FILE_BYTES - 1, 0600);
	assert_rc(xf_key_load(&key, path), XF_ECORRUPT);
	memcpy(longer, secret, KEY_FILE_BYTES);
	unit_write_file(path, longer, sizeof(longer), 0600);
	assert_rc(xf_key_load(&key, path), XF_ECORRUPT);
	/* Right size, but the public half is not the one the seed derives. */
	secret[KEY_FILE_BYTES - 1] ^= 0x01;
	unit_write_file(path, secret, KEY_FILE_BYTES, 0600);
	assert_rc(xf_key_load(&key, path), XF_ECORRUPT);
	secret[KEY_FILE_BYTES - 1] ^= 0x01;
	secret[0] ^= 0x01;
	unit_write_file(path, secret, KEY_FILE_BYTES, 0600);
	assert_rc(xf_key_load(&key, path), XF_ECORRUPT);
	assert_null(key);
}

static void load_new_key(const char *dir, const char *name, xf_key **key)
{
	char path[PATH_MAX];

	unit_path(path, sizeof(path), dir, name);
	assert_rc(xf_key_generate(path), 0);
	assert_rc(xf_key_load(key, path), 0);
}

static void test_sign_and_verify(void **state)
{
	static const uint8_t msg[] = "visit recorded: 张三, 宅基地纠纷";
	uint8_t sig[XF_SIG_BYTES], tampered[sizeof(msg)];
	xf_key *key = NULL, *other = NULL;

	load_new_key(*state, "a.key", &key);
	load_new_key(*state, "b.key", &other);
	xf_key_sign(key, msg, sizeof(msg), sig);
	assert_rc(xf_sig_verify(xf_key_public(key), msg, sizeof(msg), sig), 0);
	assert_rc(xf_sig_verify(xf_key_public(other), msg, sizeof(msg), sig), XF_EBADSIG);
	assert_rc(xf_sig_verify(xf_key_public(key), msg, sizeof(msg) - 1, sig), XF_EBADSIG);
	memcpy(tampered, msg, sizeof(msg));
	tampered[3] ^= 0x20;
	assert_rc(xf_sig_verify(xf_key_public(key), tampered, sizeof(tampered), sig), XF_EBADSIG);
	sig[10] ^= 0x01;
	assert_rc(xf_sig_verify(xf_key_public(key), msg, sizeof(msg), sig), XF_EBADSIG);
	xf_key_free(key);
	xf_key_free(other);
	xf_key_free(NULL);
}

static void test_key_survives_reload(void **state)
{
	static const uint8_t msg[] = "same key twice";
	char path[PATH_MAX];
	uint8_t sig1[XF_SIG_BYTES], sig2[XF_SIG_BYTES];
	xf_key *first = NULL, *second = NULL;

	unit_path(path, sizeof(path), *state, "node.key");
	assert_rc(xf_key_generate(path), 0);
	assert_rc(xf_key_load(&first, path), 0);
	assert_rc(xf_key_load(&second, path), 0);
	assert_memory_equal(xf_key_public(first), xf_key_public(second), XF_PUBKEY_BYTES);
	xf_key_sign(first, msg, sizeof(msg), sig1);
	xf_key_sign(second, msg, sizeof(msg), sig2);
	assert_memory_equal(sig1, sig2, XF_SIG_BYTES); /* Ed25519 is deterministic */
	xf_key_free(first);
	xf_key_free(second);
}

static void test_pubkey_hex_round_trip(void **state)
{
	uint8_t pub[XF_PUBKEY_BYTES], back[XF_PUBKEY_BYTES];
	char hex[XF_PUBKEY_HEX];
	xf_key *key = NULL;
	size_t i;

	for (i = 0; i < XF_PUBKEY_BYTES; i++)
		pub[i] = (uint8_t)(i * 9 + 0xa0);
	xf_pubkey_to_hex(pub, hex);
	assert_string_equal(hex, "a0a9b2bbc4cdd6dfe8f1fa030c151e273039424b545d666f78818a939ca5aeb7");
	assert_rc(xf_pubkey_from_hex(hex, back), 0);
	assert_memory_equal(pub, back, XF_PUBKEY_BYTES);

	load_new_key(*state, "node.key", &key);
	xf_pubkey_to_hex(xf_key_public(key), hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
	assert_rc(xf_pubkey_from_hex(hex, back), 0);
	assert_memory_equal(xf_key_public(key), back, XF_PUBKEY_BYTES);
	xf_key_free(key);
}

static void test_pubkey_from_hex_rejects_bad_input(void **state)
{
	static const char *const bad[] = {
		"",
		"a0",
		"a0a9b2bbc4cdd6dfe8f1fa030c151e273039424b545d666f78818a939ca5aeb",   /* 63 */
		"a0a9b2bbc4cdd6dfe8f1fa030c151e273039424b545d666f78818a939ca5aeb70", /* 65 */
		"a0a9b2bbc4cdd6dfe8f1fa030c151e273039424b545d666f78818a939ca5aezz",
		"0xa9b2bbc4cdd6dfe8f1fa030c151e273039424b545d666f78818a939ca5aeb7",
		"a0a9b2bbc4cdd6dfe8f1fa030c151e27 039424b545d666f78818a939ca5aeb7",
		"a0a9b2bbc4cdd6dfe8f1fa030c151e27:039424b545d666f78818a939ca5aeb7",
		"g0a9b2bbc4cdd6dfe8f1fa030c151e273039424b545d666f78818a939ca5aeb7",
	};
	uint8_t out[XF_PUBKEY_BYTES];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (xf_pubkey_from_hex(bad[i], out) != -EINVAL)
			fail_msg("\"%s\" accepted as a public key", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMPDIR_TEST(test_generate_creates_private_file),
		TMPDIR_TEST(test_generate_ignores_umask),
		TMPDIR_TEST(test_generate_makes_different_keys),
		TMPDIR_TEST(test_generate_refuses_existing_file),
		TMPDIR_TEST(test_load_refuses_file_others_can_read),
		TMPDIR_TEST(test_load_missing_file),
		TMPDIR_TEST(test_load_refuses_symlink),
		TMPDIR_TEST(test_load_refuses_corrupt_files),
		TMPDIR_TEST(test_sign_and_verify),
		TMPDIR_TEST(test_key_survives_reload),
		TMPDIR_TEST(test_pubkey_hex_round_trip),
		TMPDIR_TEST(test_pubkey_from_hex_rejects_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
