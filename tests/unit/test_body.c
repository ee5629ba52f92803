/* Event bodies: the builder, xf_fields_parse, and what each refuses. Bodies
 * live in memory only, so no test here touches the file system. */
#include <errno.h>
#include <msgpack.h>

#include "unit.h"
#include "xf/body.h"

struct parsed {
	xf_body *body;
	const uint8_t *bytes;
	size_t len;
	xf_fields *fields;
};

static void parse_body(struct parsed *p)
{
	assert_rc(xf_body_bytes(p->body, &p->bytes, &p->len), 0);
	assert_rc(xf_fields_parse(p->bytes, p->len, &p->fields), 0);
}

static void parsed_free(struct parsed *p)
{
	xf_fields_free(p->fields);
	xf_body_free(p->body);
}

static void assert_str_value(const xf_value *v, const char *expected)
{
	assert_non_null(v);
	assert_int_equal(v->type, XF_VALUE_STR);
	assert_int_equal(v->len, strlen(expected));
	assert_memory_equal(v->s, expected, v->len);
}

static void test_round_trip_every_kind_of_value(void **state)
{
	static const char *const names[] = { "张三", "李四", "" };
	struct parsed p = { 0 };
	const xf_value *v;
	size_t len;
	char buf[64];

	(void)state;
	assert_rc(xf_body_new(&p.body), 0);
	assert_rc(xf_body_put_str(p.body, "summary", "宅基地纠纷，要求答复", 100), 0);
	assert_rc(xf_body_put_int(p.body, "people", 6), 0);
	assert_rc(xf_body_put_int(p.body, "negative", -40000), 0);
	assert_rc(xf_body_put_int(p.body, "max", INT64_MAX), 0);
	assert_rc(xf_body_put_int(p.body, "min", INT64_MIN), 0);
	assert_rc(xf_body_put_bool(p.body, "escalated", true), 0);
	assert_rc(xf_body_put_bool(p.body, "collective", false), 0);
	assert_rc(xf_body_put_strv(p.body, "names", names, 3, 20), 0);
	assert_rc(xf_body_put_strv(p.body, "none", NULL, 0, 20), 0);
	assert_rc(xf_body_put_str(p.body, "empty", "", 0), 0);
	parse_body(&p);

	assert_int_equal(xf_fields_count(p.fields), 10);
	/* Keys come back in the order they were put. */
	assert_memory_equal(xf_fields_key(p.fields, 0, &len), "summary", 7);
	assert_int_equal(len, 7);
	assert_memory_equal(xf_fields_key(p.fields, 9, &len), "empty", 5);
	assert_int_equal(len, 5);
	assert_ptr_equal(xf_fields_value(p.fields, 1), xf_fields_get(p.fields, "people"));

	assert_str_value(xf_fields_get(p.fields, "summary"), "宅基地纠纷，要求答复");
	v = xf_fields_get(p.fields, "people");
	assert_int_equal(v->type, XF_VALUE_INT);
	assert_int_equal(v->i, 6);
	assert_true(xf_fields_get(p.fields, "negative")->i == -40000);
	assert_true(xf_fields_get(p.fields, "max")->i == INT64_MAX);
	assert_true(xf_fields_get(p.fields, "min")->i == INT64_MIN);
	v = xf_fields_get(p.fields, "escalated");
	assert_int_equal(v->type, XF_VALUE_BOOL);
	assert_true(v->b);
	v = xf_fields_get(p.fields, "collective");
	assert_int_equal(v->type, XF_VALUE_BOOL);
	assert_false(v->b);
	v = xf_fields_get(p.fields, "names");
	assert_int_equal(v->type, XF_VALUE_ARRAY);
	assert_int_equal(v->len, 3);
	assert_str_value(&v->items[0], "张三");
	assert_str_value(&v->items[1], "李四");
	assert_str_value(&v->items[2], "");
	v = xf_fields_get(p.fields, "none");
	assert_int_equal(v->type, XF_VALUE_ARRAY);
	assert_int_equal(v->len, 0);
	assert_str_value(xf_fields_get(p.fields, "empty"), "");
	assert_string_equal(xf_value_str(xf_fields_get(p.fields, "summary"), buf, sizeof(buf)),
			    "宅基地纠纷，要求答复");
	parsed_free(&p);
}

static void test_get_matches_whole_keys_only(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	assert_rc(xf_body_new(&p.body), 0);
	assert_rc(xf_body_put_str(p.body, "name", "x", 10), 0);
	parse_body(&p);
	assert_non_null(xf_fields_get(p.fields, "name"));
	assert_null(xf_fields_get(p.fields, "nam"));
	assert_null(xf_fields_get(p.fields, "names"));
	assert_null(xf_fields_get(p.fields, ""));
	parsed_free(&p);
}

static void test_empty_body_is_an_empty_map(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	assert_rc(xf_body_new(&p.body), 0);
	parse_body(&p);
	assert_int_equal(p.len, 1);
	assert_int_equal(p.bytes[0], 0x80); /* fixmap of size 0 */
	assert_int_equal(xf_fields_count(p.fields), 0);
	parsed_free(&p);
}

static void test_bytes_follow_later_puts(void **state)
{
	const uint8_t *bytes;
	size_t len, first_len;
	uint8_t first[64];
	xf_body *b = NULL;

	(void)state;
	assert_rc(xf_body_new(&b), 0);
	assert_rc(xf_body_put_int(b, "a", 1), 0);
	assert_rc(xf_body_bytes(b, &bytes, &first_len), 0);
	assert_true(first_len <= sizeof(first));
	memcpy(first, bytes, first_len);
	assert_rc(xf_body_bytes(b, &bytes, &len), 0);
	assert_int_equal(len, first_len);
	assert_memory_equal(bytes, first, len);
	assert_rc(xf_body_put_int(b, "b", 2), 0);
	assert_rc(xf_body_bytes(b, &bytes, &len), 0);
	assert_true(len > first_len);
	assert_int_equal(bytes[0], 0x82); /* fixmap of size 2 */
	xf_body_free(b);
	xf_body_free(NULL);
}

/* How many fields B holds, as a reader of its bytes sees them; SIZE_MAX if
 * they do not parse. */
static size_t body_count(xf_body *b)
{
	const uint8_t *bytes;
	size_t len, n;
	xf_fields *f = NULL;

	if (xf_body_bytes(b, &bytes, &len) < 0 || xf_fields_parse(bytes, len, &f) < 0)
		return SIZE_MAX;
	n = xf_fields_count(f);
	xf_fields_free(f);
	return n;
}

/* A rejected field leaves no trace: the count is unchanged and its key is
 * still free to use. */
static void test_invalid_utf8_rejected(void **state)
{
	static const char *const bad_items[] = { "ok", "\xe4\xb8" };
	xf_body *b = NULL;

	(void)state;
	assert_rc(xf_body_new(&b), 0);
	assert_rc(xf_body_put_str(b, "text", "bad \xff byte", 100), XF_EUTF8);
	assert_rc(xf_body_put_str(b, "text", "surrogate \xed\xa0\x80", 100), XF_EUTF8);
	assert_rc(xf_body_put_str(b, "text", "escape \x1b[2J", 100), XF_EUTF8);
	assert_rc(xf_body_put_strv(b, "names", bad_items, 2, 100), XF_EUTF8);
	assert_int_equal(body_count(b), 0);
	assert_rc(xf_body_put_str(b, "text", "fine", 100), 0);
	assert_rc(xf_body_put_strv(b, "names", bad_items, 1, 100), 0);
	assert_int_equal(body_count(b), 2);
	xf_body_free(b);
}

static void test_duplicate_key_rejected(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	assert_rc(xf_body_new(&p.body), 0);
	assert_rc(xf_body_put_str(p.body, "phone", "13800000000", 20), 0);
	assert_rc(xf_body_put_str(p.body, "phone", "13900000000", 20), -EINVAL);
	assert_rc(xf_body_put_int(p.body, "phone", 1), -EINVAL);
	assert_rc(xf_body_put_bool(p.body, "phone", true), -EINVAL);
	assert_rc(xf_body_put_strv(p.body, "phone", NULL, 0, 20), -EINVAL);
	parse_body(&p);
	assert_int_equal(xf_fields_count(p.fields), 1);
	assert_str_value(xf_fields_get(p.fields, "phone"), "13800000000");
	parsed_free(&p);
}

/* Nothing in the header asks callers to keep a key alive after the put: a
 * key formatted into a reused buffer is a different key each time. */
static void test_keys_from_a_reused_buffer(void **state)
{
	char key[24];
	int r[3];
	size_t count;
	xf_body *b = NULL;
	int i;

	(void)state;
	assert_rc(xf_body_new(&b), 0);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "field%d", i);
		r[i] = xf_body_put_int(b, key, i);
	}
	count = body_count(b);
	xf_body_free(b);
	for (i = 0; i < 3; i++)
		assert_rc(r[i], 0);
	assert_int_equal(count, 3);
}

static void test_oversize_rejected(void **state)
{
	static const char *const items[] = { "short", "much too long" };
	xf_body *b = NULL;

	(void)state;
	assert_rc(xf_body_new(&b), 0);
	assert_rc(xf_body_put_str(b, "a", "12345", 5), 0);
	assert_rc(xf_body_put_str(b, "b", "123456", 5), XF_ETOOBIG);
	assert_rc(xf_body_put_str(b, "c", "信访", 5), XF_ETOOBIG); /* six bytes */
	assert_rc(xf_body_put_strv(b, "d", items, 2, 5), XF_ETOOBIG);
	assert_int_equal(body_count(b), 1);
	xf_body_free(b);
}

static void test_key_limits(void **state)
{
	static char keys[33][16];
	xf_body *b = NULL;
	int i;

	(void)state;
	assert_rc(xf_body_new(&b), 0);
	assert_rc(xf_body_put_int(b, "", 1), -EINVAL);
	for (i = 0; i < 33; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
	for (i = 0; i < 32; i++)
		assert_rc(xf_body_put_int(b, keys[i], i), 0);
	assert_rc(xf_body_put_int(b, keys[32], 32), -EINVAL);
	assert_int_equal(body_count(b), 32);
	xf_body_free(b);
}

/* Pack a msgpack value with FILL and parse it as a body. */
static int parse_packed(void (*fill)(msgpack_packer *pk))
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	xf_fields *f = NULL;
	int r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fill(&pk);
	r = xf_fields_parse((const uint8_t *)sb.data, sb.size, &f);
	xf_fields_free(f);
	msgpack_sbuffer_destroy(&sb);
	return r;
}

static void pack_key(msgpack_packer *pk, const char *key)
{
	size_t n = strlen(key);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, key, n);
}

static void pack_array(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_int(pk, 1);
}

static void pack_int_key(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	msgpack_pack_int(pk, 1);
	msgpack_pack_int(pk, 2);
}

static void pack_str(msgpack_packer *pk)
{
	pack_key(pk, "abc");
}

static void test_parse_rejects_what_is_not_a_body(void **state)
{
	static const uint8_t trailing[] = { 0x81, 0xa1, 'a', 0x01, 0x00 };
	static const uint8_t truncated[] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'b' };
	static const uint8_t short_str[] = { 0x81, 0xa5, 'a', 'b' };
	xf_fields *f = NULL;

	(void)state;
	assert_rc(parse_packed(pack_array), XF_EPROTO);
	assert_rc(parse_packed(pack_int_key), XF_EPROTO);
	assert_rc(parse_packed(pack_str), XF_EPROTO);
	assert_rc(xf_fields_parse(trailing, sizeof(trailing), &f), XF_EPROTO);
	assert_rc(xf_fields_parse(trailing, sizeof(trailing) - 1, &f), 0);
	xf_fields_free(f);
	f = NULL;
	assert_rc(xf_fields_parse(truncated, sizeof(truncated), &f), XF_EPROTO);
	assert_rc(xf_fields_parse(short_str, sizeof(short_str), &f), XF_EPROTO);
	assert_rc(xf_fields_parse(truncated, 0, &f), XF_EPROTO);
	assert_null(f);
}

/* Values a newer version may send: kept, marked as not understood. */
static void test_parse_keeps_unknown_values_opaque(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	xf_fields *f = NULL;
	const xf_value *v;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	pack_key(&pk, "f");
	msgpack_pack_double(&pk, 1.5);
	pack_key(&pk, "b");
	msgpack_pack_bin(&pk, 2);
	msgpack_pack_bin_body(&pk, "\x00\x01", 2);
	pack_key(&pk, "m");
	msgpack_pack_map(&pk, 0);
	pack_key(&pk, "n");
	msgpack_pack_nil(&pk);
	pack_key(&pk, "u");
	msgpack_pack_uint64(&pk, UINT64_MAX);
	pack_key(&pk, "a");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 7);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_map(&pk, 0);

	assert_rc(xf_fields_parse((const uint8_t *)sb.data, sb.size, &f), 0);
	assert_int_equal(xf_fields_count(f), 6);
	assert_int_equal(xf_fields_get(f, "f")->type, XF_VALUE_OTHER);
	assert_int_equal(xf_fields_get(f, "b")->type, XF_VALUE_OTHER);
	assert_int_equal(xf_fields_get(f, "m")->type, XF_VALUE_OTHER);
	assert_int_equal(xf_fields_get(f, "n")->type, XF_VALUE_NIL);
	assert_int_equal(xf_fields_get(f, "u")->type, XF_VALUE_OTHER);
	v = xf_fields_get(f, "a");
	assert_int_equal(v->type, XF_VALUE_ARRAY);
	assert_int_equal(v->len, 3);
	assert_int_equal(v->items[0].type, XF_VALUE_INT);
	assert_int_equal(v->items[0].i, 7);
	assert_int_equal(v->items[1].type, XF_VALUE_OTHER);
	assert_int_equal(v->items[2].type, XF_VALUE_OTHER);
	xf_fields_free(f);
	msgpack_sbuffer_destroy(&sb);
}

static void test_value_str_copies_and_truncates(void **state)
{
	xf_value str = { .type = XF_VALUE_STR, .s = "abcdef", .len = 6 };
	xf_value num = { .type = XF_VALUE_INT, .i = 5 };
	char buf[4] = "zzz";

	(void)state;
	assert_ptr_equal(xf_value_str(&str, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "abc");
	assert_string_equal(xf_value_str(&num, buf, sizeof(buf)), "");
	assert_string_equal(xf_value_str(NULL, buf, sizeof(buf)), "");
	buf[0] = 'q';
	xf_value_str(&str, buf, 0);
	assert_int_equal(buf[0], 'q');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_kind_of_value),
		cmocka_unit_test(test_get_matches_whole_keys_only),
		cmocka_unit_test(test_empty_body_is_an_empty_map),
		cmocka_unit_test(test_bytes_follow_later_puts),
		cmocka_unit_test(test_invalid_utf8_rejected),
		cmocka_unit_test(test_duplicate_key_rejected),
		cmocka_unit_test(test_keys_from_a_reused_buffer),
		cmocka_unit_test(test_oversize_rejected),
		cmocka_unit_test(test_key_limits),
		cmocka_unit_test(test_parse_rejects_what_is_not_a_body),
		cmocka_unit_test(test_parse_keeps_unknown_values_opaque),
		cmocka_unit_test(test_value_str_copies_and_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
