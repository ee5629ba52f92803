/* The configuration file: what a valid file yields, and that every mistake
 * is XF_ECONFIG with a message naming file and line. */
#include <errno.h>
#include <limits.h>

#include "unit.h"
#include "xf/config.h"

struct loaded {
	char path[PATH_MAX];
	xf_config cfg;
	char err[512];
	int r;
};

/* Write TEXT to DIR/xinfang.conf and load it. */
static void load_text(const char *dir, const char *text, struct loaded *out)
{
	memset(out, 0, sizeof(*out));
	unit_path(out->path, sizeof(out->path), dir, "xinfang.conf");
	unit_write_file(out->path, text, strlen(text), 0644);
	out->r = xf_config_load(out->path, &out->cfg, out->err, sizeof(out->err));
}

/* The load failed with XF_ECONFIG and a one-line message that starts with
 * "PATH:LINE:" and contains WORD. CALLER is the test's line, for failures. */
static void check_error_at(const struct loaded *l, int line, const char *word, int caller)
{
	char prefix[PATH_MAX + 32];

	if (l->r != XF_ECONFIG)
		fail_msg("line %d: load returned %d (%s), expected XF_ECONFIG", caller, l->r, xf_strerror(l->r));
	snprintf(prefix, sizeof(prefix), "%s:%d:", l->path, line);
	if (strncmp(l->err, prefix, strlen(prefix)) != 0)
		fail_msg("line %d: message \"%s\" does not start with \"%s\"", caller, l->err, prefix);
	if (word && !strstr(l->err, word))
		fail_msg("line %d: message \"%s\" does not mention \"%s\"", caller, l->err, word);
	if (strchr(l->err, '\n'))
		fail_msg("line %d: message \"%s\" is not one line", caller, l->err);
}

#define assert_error_at(l, line, word) check_error_at(l, line, word, __LINE__)

static void test_valid_file(void **state)
{
	struct loaded l;

	load_text(*state,
		  "; township office, Dongxiang\n"
		  "[node]\n"
		  "id = township-3\n"
		  "role = township\n"
		  "data_dir = /var/lib/xinfang\n"
		  "author = 王主任\n"
		  "\n"
		  "[upstream]\n"
		  "url = https://county.example.gov.cn:8443/xinfang\n"
		  "interval = 30\n"
		  "upload_limit = 64\n"
		  "\n"
		  "[server]\n"
		  "listen = 0.0.0.0:8440\n"
		  "admin_token_file = /etc/xinfang/admin.token\n"
		  "stale_after = 3600\n",
		  &l);
	assert_rc(l.r, 0);
	assert_string_equal(l.cfg.node_id, "township-3");
	assert_string_equal(l.cfg.role, "township");
	assert_string_equal(l.cfg.data_dir, "/var/lib/xinfang");
	assert_string_equal(l.cfg.author, "王主任");
	assert_string_equal(l.cfg.upstream_url, "https://county.example.gov.cn:8443/xinfang");
	assert_string_equal(l.cfg.listen, "0.0.0.0:8440");
	assert_int_equal(l.cfg.sync_interval_s, 30);
	assert_int_equal(l.cfg.upload_limit_kib, 64);
	assert_string_equal(l.cfg.admin_token_file, "/etc/xinfang/admin.token");
	assert_int_equal(l.cfg.stale_after_s, 3600);
}

static void test_minimal_village_file(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=village-07\nrole=village\ndata_dir=/srv/x\n", &l);
	assert_rc(l.r, 0);
	assert_string_equal(l.cfg.node_id, "village-07");
	assert_string_equal(l.cfg.role, "village");
	assert_string_equal(l.cfg.data_dir, "/srv/x");
	assert_string_equal(l.cfg.author, "");
	assert_string_equal(l.cfg.upstream_url, "");
	assert_string_equal(l.cfg.listen, "");
	assert_int_equal(l.cfg.sync_interval_s, XF_SYNC_INTERVAL_DEFAULT);
	assert_int_equal(l.cfg.upload_limit_kib, 0);
	assert_int_equal(l.cfg.stale_after_s, XF_STALE_AFTER_DEFAULT);
}

static void test_unknown_key(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nbogus=1\nrole=village\ndata_dir=/x\n", &l);
	assert_error_at(&l, 3, "bogus");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nurl=http://t:1\nport=80\n", &l);
	assert_error_at(&l, 7, "port");
	/* A key of one section is unknown in another. */
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\nlisten=127.0.0.1:80\n", &l);
	assert_error_at(&l, 5, "listen");
}

static void test_unknown_section(void **state)
{
	char prefix5[PATH_MAX + 8], prefix6[PATH_MAX + 8];
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upsteam]\nurl=http://t:1\n", &l);
	assert_rc(l.r, XF_ECONFIG);
	/* Either the section header or its first key is a fair line to name. */
	snprintf(prefix5, sizeof(prefix5), "%s:5:", l.path);
	snprintf(prefix6, sizeof(prefix6), "%s:6:", l.path);
	if (strncmp(l.err, prefix5, strlen(prefix5)) && strncmp(l.err, prefix6, strlen(prefix6)))
		fail_msg("message \"%s\" names neither line 5 nor 6", l.err);
	assert_non_null(strstr(l.err, "upsteam"));
}

/* The header: "Unknown sections or keys and bad values are errors naming
 * file and line", whether or not the section has keys yet. */
static void test_unknown_empty_section(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[sever]\n", &l);
	assert_error_at(&l, 5, "sever");
}

/* A key given twice, or continued on an indented line, would take its
 * last value without a word; a '#' after a value would become part of it
 * (an author's name in every event signed after); a relative data dir
 * would depend on where each command was started. */
static void test_values_that_would_silently_differ(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\nrole=township\n", &l);
	assert_error_at(&l, 5, "role is given twice");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n  /y\n", &l);
	assert_error_at(&l, 5, "data_dir is given twice");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\nauthor = 张三 # 村文书\n", &l);
	assert_error_at(&l, 5, "starts with ';'");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=ledger\n", &l);
	assert_error_at(&l, 4, "data_dir must be an absolute path");
	/* A ';' comment is a comment. */
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\nauthor = 张三 ; 村文书\n", &l);
	assert_rc(l.r, 0);
	assert_string_equal(l.cfg.author, "张三");
}

static void test_bad_role(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nrole=county\ndata_dir=/x\n", &l);
	assert_error_at(&l, 3, "role");
	load_text(*state, "[node]\nid=v1\nrole=Village\ndata_dir=/x\n", &l);
	assert_error_at(&l, 3, "role");
	load_text(*state, "[node]\nid=v1\nrole=\ndata_dir=/x\n", &l);
	assert_error_at(&l, 3, "role");
}

static void test_bad_node_id(void **state)
{
	static const char *const bad[] = {
		"-v1", "v_1", "村一", "v 1", "0123456789abcdefghijklmnopqrstuvw",
	};
	char text[256];
	struct loaded l;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[node]\nrole=village\nid=%s\ndata_dir=/x\n", bad[i]);
		load_text(*state, text, &l);
		assert_error_at(&l, 3, "node id");
	}
	load_text(*state, "[node]\nrole=village\nid=\ndata_dir=/x\n", &l);
	assert_error_at(&l, 3, NULL);
}

static void test_missing_required_key(void **state)
{
	static const struct {
		const char *text;
		const char *missing;
	} cases[] = {
		{ "[node]\nrole=village\ndata_dir=/x\n", "id" },
		{ "[node]\nid=v1\ndata_dir=/x\n", "role" },
		{ "[node]\nid=v1\nrole=village\n", "data_dir" },
		{ "", "id" },
	};
	struct loaded l;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_text(*state, cases[i].text, &l);
		assert_rc(l.r, XF_ECONFIG);
		assert_true(strncmp(l.err, l.path, strlen(l.path)) == 0);
		if (!strstr(l.err, cases[i].missing))
			fail_msg("case %zu: \"%s\" does not name %s", i, l.err, cases[i].missing);
	}
}

static void test_bad_values(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nurl=ftp://t/\n", &l);
	assert_error_at(&l, 6, "url");
	/* No host, or a space curl would not send. */
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nurl=http://\n", &l);
	assert_error_at(&l, 6, "url");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nurl=https:///sync\n", &l);
	assert_error_at(&l, 6, "url");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nurl=http://a b:80/\n", &l);
	assert_error_at(&l, 6, "url");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nurl=http://[::1]:8470\n", &l);
	assert_rc(l.r, 0);
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[server]\nlisten=0.0.0.0\n", &l);
	assert_error_at(&l, 6, "listen");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[server]\nlisten=0.0.0.0:0\n", &l);
	assert_error_at(&l, 6, "listen");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[server]\nlisten=0.0.0.0:65536\n", &l);
	assert_error_at(&l, 6, "listen");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[server]\nlisten=:80\n", &l);
	assert_error_at(&l, 6, "listen");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\nauthor=bad\x01name\n", &l);
	assert_error_at(&l, 5, "author");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nupload_limit=8\n", &l);
	assert_error_at(&l, 6, "upload_limit");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\nupload_limit=64k\n", &l);
	assert_error_at(&l, 6, "upload_limit");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[server]\nstale_after=10\n", &l);
	assert_error_at(&l, 6, "stale_after");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[server]\nadmin_token_file=token\n", &l);
	assert_error_at(&l, 6, "admin_token_file");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=/x\n[upstream]\ninterval=0\n", &l);
	assert_error_at(&l, 6, "interval");
	load_text(*state, "[node]\nid=v1\nrole=village\ndata_dir=\n", &l);
	assert_error_at(&l, 4, NULL);
}

static void test_syntax_error(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nthis line has no equals sign\nrole=village\ndata_dir=/x\n", &l);
	assert_error_at(&l, 3, NULL);
}

/* inih reads 199 bytes of a line at a time and takes the rest for a line
 * of its own: a long comment is refused by its own number, one of 198
 * bytes (66 Chinese characters) is read whole. */
static void test_long_line(void **state)
{
	char text[1024], comment[512];
	struct loaded l;

	memset(comment, 'x', sizeof(comment));
	comment[0] = ';';
	snprintf(text, sizeof(text), "%.199s\n[node]\nid=v1\nrole=village\ndata_dir=/x\n", comment);
	load_text(*state, text, &l);
	assert_error_at(&l, 1, "198 bytes");
	snprintf(text, sizeof(text), "[node]\n%.198s\nid=v1\nrole=village\nbogus=1\n", comment);
	load_text(*state, text, &l);
	assert_error_at(&l, 5, "bogus");
}

/* With two mistakes the message must describe the line it names. */
static void test_two_errors_report_the_first_with_its_reason(void **state)
{
	struct loaded l;

	load_text(*state, "[node]\nid=v1\nbogus=1\nrole=chief\ndata_dir=/x\n", &l);
	assert_error_at(&l, 3, "bogus");
	if (strstr(l.err, "role"))
		fail_msg("message \"%s\" gives line 4's reason for line 3", l.err);
}

static void test_output_untouched_on_failure(void **state)
{
	static const char text[] = "[node]\nid=v1\nrole=nobody\ndata_dir=/x\n";
	struct loaded l;
	xf_config before;

	memset(&before, 0x5a, sizeof(before));
	memset(&l, 0, sizeof(l));
	unit_path(l.path, sizeof(l.path), *state, "xinfang.conf");
	unit_write_file(l.path, text, strlen(text), 0644);
	l.cfg = before;
	assert_rc(xf_config_load(l.path, &l.cfg, l.err, sizeof(l.err)), XF_ECONFIG);
	assert_memory_equal(&l.cfg, &before, sizeof(before));
}

static void test_missing_file(void **state)
{
	char path[PATH_MAX], err[512] = "";
	xf_config cfg;

	unit_path(path, sizeof(path), *state, "absent.conf");
	assert_rc(xf_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMPDIR_TEST(test_valid_file),
		TMPDIR_TEST(test_minimal_village_file),
		TMPDIR_TEST(test_unknown_key),
		TMPDIR_TEST(test_unknown_section),
		TMPDIR_TEST(test_unknown_empty_section),
		TMPDIR_TEST(test_values_that_would_silently_differ),
		TMPDIR_TEST(test_bad_role),
		TMPDIR_TEST(test_bad_node_id),
		TMPDIR_TEST(test_missing_required_key),
		TMPDIR_TEST(test_bad_values),
		TMPDIR_TEST(test_syntax_error),
		TMPDIR_TEST(test_long_line),
		TMPDIR_TEST(test_two_errors_report_the_first_with_its_reason),
		TMPDIR_TEST(test_output_untouched_on_failure),
		TMPDIR_TEST(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
