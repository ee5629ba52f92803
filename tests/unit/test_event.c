/* Events: the codec, what decoding refuses, signatures and hashes. Each
 * test has its own directory holding two node keys. */
#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <sodium.h>

#include "unit.h"
#include "xf/event.h"
#include "xf/hlc.h"

struct fixture {
	char *dir;
	xf_key *key;   /* the origin's */
	xf_key *other; /* some other node's */
};

static int load_key(const char *dir, const char *name, xf_key **key)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (xf_key_generate(path) < 0 || xf_key_load(key, path) < 0)
		return -1;
	return 0;
}

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	void *dir = NULL;

	if (!f || unit_tmpdir_setup(&dir) < 0)
		return -1;
	f->dir = dir;
	*state = f;
	if (load_key(f->dir, "origin.key", &f->key) < 0 || load_key(f->dir, "other.key", &f->other) < 0)
		return -1;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	void *dir = f->dir;

	xf_key_free(f->key);
	xf_key_free(f->other);
	unit_tmpdir_teardown(&dir);
	free(f);
	return 0;
}

static const uint8_t sample_body[] = { 0x81, 0xa4, 't', 'e', 'x', 't', 0xa6, 0xe4, 0xbf, 0xa1, 0xe8, 0xae, 0xbf };

static void sample_event(xf_event *ev)
{
	size_t i;

	memset(ev, 0, sizeof(*ev));
	strcpy(ev->origin, "village-1");
	ev->seq = 7;
	ev->hlc = xf_hlc_make(1717000000000ull, 3);
	for (i = 0; i < XF_HASH_BYTES; i++)
		ev->prev[i] = (uint8_t)(0xc0 + i);
	strcpy(ev->type, "case.noted");
	strcpy(ev->entity, "C-village-1-2");
	ev->n_parents = 2;
	ev->parents[0] = (xf_str){ "village-1:5", 11 };
	ev->parents[1] = (xf_str){ "township:12", 11 };
	strcpy(ev->author, "李会计");
	ev->body = sample_body;
	ev->body_len = sizeof(sample_body);
}

static void encode_sample(const struct fixture *f, uint8_t **bytes, size_t *len)
{
	xf_event ev;

	sample_event(&ev);
	assert_rc(xf_event_encode(&ev, f->key, bytes, len), 0);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	xf_event in, out;
	uint8_t *bytes, *again;
	size_t len, again_len, i;

	sample_event(&in);
	assert_rc(xf_event_encode(&in, f->key, &bytes, &len), 0);
	assert_rc(xf_event_decode(bytes, len, &out), 0);
	assert_string_equal(out.origin, in.origin);
	assert_int_equal(out.seq, in.seq);
	assert_int_equal(out.hlc, in.hlc);
	assert_memory_equal(out.prev, in.prev, XF_HASH_BYTES);
	assert_string_equal(out.type, in.type);
	assert_string_equal(out.entity, in.entity);
	assert_int_equal(out.n_parents, 2);
	for (i = 0; i < in.n_parents; i++)
		assert_true(str_is(out.parents[i], in.parents[i].ptr));
	assert_string_equal(out.author, in.author);
	assert_int_equal(out.body_len, sizeof(sample_body));
	assert_memory_equal(out.body, sample_body, sizeof(sample_body));
	/* The view borrows the bytes it was decoded from. */
	assert_ptr_equal(out.bytes, bytes);
	assert_int_equal(out.len, len);
	assert_true(out.body > bytes && out.body + out.body_len <= bytes + out.signed_len);
	assert_int_equal(out.signed_len, len - XF_SIG_BYTES);
	assert_ptr_equal(out.sig, bytes + out.signed_len);
	assert_rc(xf_event_verify(&out, xf_key_public(f->key)), 0);

	/* Encoding what was decoded gives the same bytes: nothing is lost. */
	assert_rc(xf_event_encode(&out, f->key, &again, &again_len), 0);
	assert_int_equal(again_len, len);
	assert_memory_equal(again, bytes, len);
	free(again);
	free(bytes);
}

static void test_round_trip_parent_and_body_extremes(void **state)
{
	struct fixture *f = *state;
	xf_event in, out;
	char ids[XF_PARENTS_MAX][XF_EVENT_ID_MAX + 1];
	uint8_t *bytes;
	size_t len, i;

	sample_event(&in);
	in.n_parents = 0;
	in.body = NULL;
	in.body_len = 0;
	in.author[0] = '\0';
	in.seq = UINT64_MAX;
	in.hlc = UINT64_MAX;
	assert_rc(xf_event_encode(&in, f->key, &bytes, &len), 0);
	assert_rc(xf_event_decode(bytes, len, &out), 0);
	assert_int_equal(out.n_parents, 0);
	assert_int_equal(out.body_len, 0);
	assert_string_equal(out.author, "");
	assert_true(out.seq == UINT64_MAX && out.hlc == UINT64_MAX);
	free(bytes);

	sample_event(&in);
	in.n_parents = XF_PARENTS_MAX;
	for (i = 0; i < XF_PARENTS_MAX; i++) {
		xf_event_id("0123456789abcdefghijklmnopqrstuv", UINT64_MAX - i, ids[i]);
		in.parents[i] = (xf_str){ ids[i], strlen(ids[i]) };
	}
	assert_rc(xf_event_encode(&in, f->key, &bytes, &len), 0);
	assert_rc(xf_event_decode(bytes, len, &out), 0);
	assert_int_equal(out.n_parents, XF_PARENTS_MAX);
	assert_true(str_is(out.parents[15], "0123456789abcdefghijklmnopqrstuv:18446744073709551600"));
	free(bytes);
}

static void test_encode_rejects_invalid_envelope(void **state)
{
	struct fixture *f = *state;
	uint8_t *bytes = NULL;
	size_t len = 0;
	xf_event ev;

	sample_event(&ev);
	ev.seq = 0;
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), -EINVAL);
	sample_event(&ev);
	strcpy(ev.origin, "-village");
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), -EINVAL);
	sample_event(&ev);
	ev.type[0] = '\0';
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), -EINVAL);
	sample_event(&ev);
	ev.entity[0] = '\0';
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), -EINVAL);
	sample_event(&ev);
	ev.n_parents = XF_PARENTS_MAX + 1;
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), -EINVAL);
	assert_null(bytes);
	assert_int_equal(len, 0);
}

/* The limit is on the whole event, signature included: find the largest
 * body that fits and check both sides of the line. */
static void test_encode_limit_is_exact(void **state)
{
	struct fixture *f = *state;
	uint8_t *body = calloc(1, XF_EVENT_MAX), *bytes;
	size_t len, overhead, fits;
	xf_event ev, out;

	assert_non_null(body);
	sample_event(&ev);
	ev.body = body;
	ev.body_len = 1000; /* bin 16 header, as for the largest bodies */
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), 0);
	free(bytes);
	overhead = len - ev.body_len;
	fits = XF_EVENT_MAX - overhead;

	ev.body_len = fits;
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), 0);
	assert_int_equal(len, XF_EVENT_MAX);
	assert_rc(xf_event_decode(bytes, len, &out), 0);
	assert_rc(xf_event_verify(&out, xf_key_public(f->key)), 0);
	free(bytes);

	ev.body_len = fits + 1;
	assert_rc(xf_event_encode(&ev, f->key, &bytes, &len), XF_ETOOBIG);
	free(body);
}

static void test_decode_rejects_oversized_input(void **state)
{
	struct fixture *f = *state;
	uint8_t *big = calloc(1, XF_EVENT_MAX + 1), *bytes;
	size_t len;
	xf_event ev;

	assert_non_null(big);
	/* A real event at the front does not make the whole acceptable. */
	encode_sample(f, &bytes, &len);
	memcpy(big, bytes, len);
	assert_rc(xf_event_decode(big, XF_EVENT_MAX + 1, &ev), XF_ETOOBIG);
	assert_rc(xf_event_decode(big, SIZE_MAX, &ev), XF_ETOOBIG);
	free(bytes);
	free(big);
}

static void test_decode_rejects_every_truncation(void **state)
{
	struct fixture *f = *state;
	uint8_t *bytes;
	size_t len, cut;
	xf_event ev;

	encode_sample(f, &bytes, &len);
	for (cut = 0; cut < len; cut++) {
		if (xf_event_decode(bytes, cut, &ev) != XF_EPROTO)
			fail_msg("event cut to %zu of %zu bytes was not XF_EPROTO", cut, len);
	}
	assert_rc(xf_event_decode(NULL, len, &ev), -EINVAL);
	assert_rc(xf_event_decode(bytes, len, NULL), -EINVAL);
	free(bytes);
}

static void test_decode_rejects_trailing_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t *bytes, *longer;
	size_t len;
	xf_event ev;

	encode_sample(f, &bytes, &len);
	longer = calloc(1, len + XF_SIG_BYTES);
	assert_non_null(longer);
	memcpy(longer, bytes, len);
	assert_rc(xf_event_decode(longer, len + 1, &ev), XF_EPROTO);
	/* A second signature after the first. */
	memcpy(longer + len, bytes + len - XF_SIG_BYTES, XF_SIG_BYTES);
	assert_rc(xf_event_decode(longer, len + XF_SIG_BYTES, &ev), XF_EPROTO);
	free(longer);
	free(bytes);
}

static void test_decode_leaves_output_alone_on_failure(void **state)
{
	struct fixture *f = *state;
	uint8_t *bytes;
	size_t len;
	xf_event ev, before;

	encode_sample(f, &bytes, &len);
	memset(&ev, 0x5a, sizeof(ev));
	before = ev;
	assert_rc(xf_event_decode(bytes, len - 1, &ev), XF_EPROTO);
	assert_memory_equal(&ev, &before, sizeof(ev));
	free(bytes);
}

/* An envelope packed by hand, to build what xf_event_encode() never would.
 * valid_raw() is a good one; each case changes one thing. */
struct raw {
	bool as_map;
	size_t n_fields;
	uint64_t format;
	const char *origin;
	int64_t seq;
	uint64_t hlc;
	size_t prev_len;
	bool prev_as_str;
	const char *type;
	bool type_with_nul;
	const char *entity;
	bool parents_as_str;
	size_t n_parents;
	const char *parent;
	const char *author;
	bool body_as_str;
};

static struct raw valid_raw(void)
{
	return (struct raw){
		.n_fields = 10, .format = 1, .origin = "village-1", .seq = 3, .hlc = 99,
		.prev_len = XF_HASH_BYTES, .type = "case.noted", .entity = "C-village-1-2",
		.n_parents = 1, .parent = "village-1:2", .author = "clerk",
	};
}

static void pack_text(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* Pack R, append a zero "signature" and decode. */
static int decode_raw(const struct raw *r)
{
	static const uint8_t zeros[64] = { 0 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	xf_event ev;
	size_t i;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (r->as_map) {
		msgpack_pack_map(&pk, 1);
		pack_text(&pk, "origin");
		pack_text(&pk, r->origin);
	} else {
		msgpack_pack_array(&pk, r->n_fields);
		msgpack_pack_uint64(&pk, r->format);
		pack_text(&pk, r->origin);
		msgpack_pack_int64(&pk, r->seq);
		msgpack_pack_uint64(&pk, r->hlc);
		if (r->prev_as_str) {
			msgpack_pack_str(&pk, r->prev_len);
			msgpack_pack_str_body(&pk, zeros, r->prev_len);
		} else {
			msgpack_pack_bin(&pk, r->prev_len);
			msgpack_pack_bin_body(&pk, zeros, r->prev_len);
		}
		if (r->type_with_nul) {
			msgpack_pack_str(&pk, strlen(r->type) + 2);
			msgpack_pack_str_body(&pk, r->type, strlen(r->type));
			msgpack_pack_str_body(&pk, "\0x", 2);
		} else {
			pack_text(&pk, r->type);
		}
		pack_text(&pk, r->entity);
		if (r->parents_as_str) {
			pack_text(&pk, r->parent);
		} else {
			msgpack_pack_array(&pk, r->n_parents);
			for (i = 0; i < r->n_parents; i++)
				pack_text(&pk, r->parent);
		}
		pack_text(&pk, r->author);
		if (r->body_as_str) {
			pack_text(&pk, "\x80");
		} else {
			msgpack_pack_bin(&pk, 1);
			msgpack_pack_bin_body(&pk, "\x80", 1);
		}
		for (i = 10; i < r->n_fields; i++)
			msgpack_pack_nil(&pk);
	}
	msgpack_sbuffer_write(&sb, (const char *)zeros, XF_SIG_BYTES);
	rc = xf_event_decode((const uint8_t *)sb.data, sb.size, &ev);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void test_decode_rejects_malformed_envelopes(void **state)
{
	static const char long_node[] = "0123456789abcdefghijklmnopqrstuvw";                                  /* 33 */
	static const char long_type[] = "case.noted.with.a.very.long.name1";                                  /* 33 */
	static const char long_text[] = "C-0123456789abcdefghijklmnopqrstuv-0123456789012345678901234567890"; /* 65 */
	struct raw r;

	(void)state;
	r = valid_raw();
	assert_rc(decode_raw(&r), 0);

	r = valid_raw(), r.as_map = true;
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.n_fields = 11;
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.format = 2;
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.format = 0;
	assert_rc(decode_raw(&r), XF_EPROTO);

	r = valid_raw(), r.origin = "-village";
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.origin = "village:1";
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.origin = long_node;
	assert_rc(decode_raw(&r), XF_ETOOBIG);

	r = valid_raw(), r.seq = 0;
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.seq = -1;
	assert_rc(decode_raw(&r), XF_EPROTO);

	r = valid_raw(), r.prev_len = XF_HASH_BYTES - 1;
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.prev_len = XF_HASH_BYTES + 1;
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.prev_as_str = true;
	assert_rc(decode_raw(&r), XF_EPROTO);

	r = valid_raw(), r.type = "";
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.type = long_type;
	assert_rc(decode_raw(&r), XF_ETOOBIG);
	r = valid_raw(), r.type_with_nul = true;
	assert_rc(decode_raw(&r), XF_EPROTO);

	r = valid_raw(), r.entity = "";
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.entity = long_text;
	assert_rc(decode_raw(&r), XF_ETOOBIG);

	r = valid_raw(), r.author = long_text;
	assert_rc(decode_raw(&r), XF_ETOOBIG);
	r = valid_raw(), r.author = "";
	assert_rc(decode_raw(&r), 0);

	r = valid_raw(), r.n_parents = XF_PARENTS_MAX;
	assert_rc(decode_raw(&r), 0);
	r = valid_raw(), r.n_parents = XF_PARENTS_MAX + 1;
	assert_rc(decode_raw(&r), XF_ETOOBIG);
	r = valid_raw(), r.parent = "village-1";
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.parent = "village-1:0";
	assert_rc(decode_raw(&r), XF_EPROTO);
	r = valid_raw(), r.parents_as_str = true;
	assert_rc(decode_raw(&r), XF_EPROTO);

	r = valid_raw(), r.body_as_str = true;
	assert_rc(decode_raw(&r), XF_EPROTO);
}

/* msgpack-c hands back a NULL pointer for an empty str read before any other
 * value with a payload, which is where the origin sits. Decoding must not
 * pass that pointer to memchr()/memcpy(): under the sanitizers that aborts
 * the whole binary, so this test runs last. */
static void test_decode_rejects_empty_origin(void **state)
{
	struct raw r = valid_raw();

	(void)state;
	r.origin = "";
	assert_rc(decode_raw(&r), XF_EPROTO);
}

static void test_decode_rejects_garbage(void **state)
{
	uint8_t buf[256];
	xf_event ev;
	size_t i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_rc(xf_event_decode(buf, sizeof(buf), &ev), XF_EPROTO);
	memset(buf, 0xff, sizeof(buf));
	assert_rc(xf_event_decode(buf, sizeof(buf), &ev), XF_EPROTO);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	assert_rc(xf_event_decode(buf, sizeof(buf), &ev), XF_EPROTO);
}

static void test_verify_with_wrong_key_fails(void **state)
{
	struct fixture *f = *state;
	uint8_t *bytes;
	size_t len;
	xf_event ev;

	encode_sample(f, &bytes, &len);
	assert_rc(xf_event_decode(bytes, len, &ev), 0);
	assert_rc(xf_event_verify(&ev, xf_key_public(f->key)), 0);
	assert_rc(xf_event_verify(&ev, xf_key_public(f->other)), XF_EBADSIG);
	free(bytes);
}

/* Whatever single bit is flipped, in the signed part or the signature, the
 * result either fails to decode or fails to verify, and its hash changes. */
static void test_any_flipped_bit_fails_verify_and_changes_hash(void **state)
{
	struct fixture *f = *state;
	uint8_t *bytes, *copy, hash[XF_HASH_BYTES], flipped_hash[XF_HASH_BYTES];
	size_t len, i, still_decoded = 0;
	unsigned bit;
	xf_event ev;

	encode_sample(f, &bytes, &len);
	copy = malloc(len);
	assert_non_null(copy);
	xf_event_hash(bytes, len, hash);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, bytes, len);
			copy[i] ^= (uint8_t)(1u << bit);
			xf_event_hash(copy, len, flipped_hash);
			if (memcmp(hash, flipped_hash, XF_HASH_BYTES) == 0)
				fail_msg("flipping bit %u of byte %zu left the hash unchanged", bit, i);
			if (xf_event_decode(copy, len, &ev) < 0)
				continue;
			still_decoded++;
			if (xf_event_verify(&ev, xf_key_public(f->key)) != XF_EBADSIG)
				fail_msg("flipping bit %u of byte %zu still verifies", bit, i);
		}
	}
	/* Every signature bit, and many a body or text bit, leave a decodable
	 * event: the verify path above was really taken. */
	assert_true(still_decoded >= 8 * XF_SIG_BYTES);
	free(copy);
	free(bytes);
}

static void test_signature_of_another_event_fails(void **state)
{
	struct fixture *f = *state;
	uint8_t *a, *b;
	size_t a_len, b_len;
	xf_event ev;

	sample_event(&ev);
	assert_rc(xf_event_encode(&ev, f->key, &a, &a_len), 0);
	ev.seq++;
	assert_rc(xf_event_encode(&ev, f->key, &b, &b_len), 0);
	assert_int_equal(a_len, b_len);
	memcpy(b + b_len - XF_SIG_BYTES, a + a_len - XF_SIG_BYTES, XF_SIG_BYTES);
	assert_rc(xf_event_decode(b, b_len, &ev), 0);
	assert_rc(xf_event_verify(&ev, xf_key_public(f->key)), XF_EBADSIG);
	free(a);
	free(b);
}

static void test_hash_is_blake2b_256_over_all_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t *bytes, hash[XF_HASH_BYTES], expected[XF_HASH_BYTES], again[XF_HASH_BYTES];
	size_t len;

	encode_sample(f, &bytes, &len);
	xf_event_hash(bytes, len, hash);
	crypto_generichash(expected, sizeof(expected), bytes, len, NULL, 0);
	assert_memory_equal(hash, expected, XF_HASH_BYTES);
	xf_event_hash(bytes, len, again);
	assert_memory_equal(hash, again, XF_HASH_BYTES);
	/* The signature is inside the hash, not only the signed part. */
	xf_event_hash(bytes, len - XF_SIG_BYTES, again);
	assert_memory_not_equal(hash, again, XF_HASH_BYTES);
	free(bytes);
}

static void test_hash_differs_between_events(void **state)
{
	struct fixture *f = *state;
	uint8_t *a, *b, ha[XF_HASH_BYTES], hb[XF_HASH_BYTES];
	size_t a_len, b_len;
	xf_event ev;

	sample_event(&ev);
	assert_rc(xf_event_encode(&ev, f->key, &a, &a_len), 0);
	ev.hlc++;
	assert_rc(xf_event_encode(&ev, f->key, &b, &b_len), 0);
	xf_event_hash(a, a_len, ha);
	xf_event_hash(b, b_len, hb);
	assert_memory_not_equal(ha, hb, XF_HASH_BYTES);
	free(b);
	/* The same envelope signed by another node is another event. */
	sample_event(&ev);
	assert_rc(xf_event_encode(&ev, f->other, &b, &b_len), 0);
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, a_len - XF_SIG_BYTES);
	xf_event_hash(b, b_len, hb);
	assert_memory_not_equal(ha, hb, XF_HASH_BYTES);
	free(a);
	free(b);
}

static void test_event_id_format(void **state)
{
	char id[XF_EVENT_ID_MAX + 1], origin[XF_NODE_ID_MAX + 1];
	uint64_t seq;

	(void)state;
	xf_event_id("village-1", 42, id);
	assert_string_equal(id, "village-1:42");
	xf_event_id("0123456789abcdefghijklmnopqrstuv", UINT64_MAX, id);
	assert_string_equal(id, "0123456789abcdefghijklmnopqrstuv:18446744073709551615");
	assert_rc(xf_event_id_parse(id, origin, &seq), 0);
	assert_string_equal(origin, "0123456789abcdefghijklmnopqrstuv");
	assert_true(seq == UINT64_MAX);
}

#define FIXTURE_TEST(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_round_trip),
		FIXTURE_TEST(test_round_trip_parent_and_body_extremes),
		FIXTURE_TEST(test_encode_rejects_invalid_envelope),
		FIXTURE_TEST(test_encode_limit_is_exact),
		FIXTURE_TEST(test_decode_rejects_oversized_input),
		FIXTURE_TEST(test_decode_rejects_every_truncation),
		FIXTURE_TEST(test_decode_rejects_trailing_bytes),
		FIXTURE_TEST(test_decode_leaves_output_alone_on_failure),
		cmocka_unit_test(test_decode_rejects_malformed_envelopes),
		cmocka_unit_test(test_decode_rejects_garbage),
		FIXTURE_TEST(test_verify_with_wrong_key_fails),
		FIXTURE_TEST(test_any_flipped_bit_fails_verify_and_changes_hash),
		FIXTURE_TEST(test_signature_of_another_event_fails),
		FIXTURE_TEST(test_hash_is_blake2b_256_over_all_bytes),
		FIXTURE_TEST(test_hash_differs_between_events),
		cmocka_unit_test(test_event_id_format),
		cmocka_unit_test(test_decode_rejects_empty_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
