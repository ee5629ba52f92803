/* What travels between nodes below the sync protocol: deflate and inflate
 * with limits, request authentication by the node's key, and the bounds
 * check run on msgpack from peers before msgpack-c sees it. Tests that
 * need a key have their own directory. */
#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <sodium.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

#include "internal.h"
#include "unit.h"
#include "xf/key.h"
#include "xf/wire.h"

#define T0 1717000000000ull /* 2024-05-29, a fixed clock */
#define MIB (1024u * 1024u)

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Bytes that compress like text: a repeated phrase with a counter. */
static uint8_t *text_bytes(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)("petition recorded at the village office "[i % 40] + (i / 4000) % 3);
	return p;
}

/* Bytes that do not compress. */
static uint8_t *noise_bytes(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);
	size_t i;

	assert_non_null(p);
	srand(seed);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rand();
	return p;
}

static void assert_round_trip(const uint8_t *data, size_t len)
{
	xf_buf z = { 0 }, back = { 0 };

	assert_rc(xf_deflate(data, len, &z), 0);
	assert_non_null(z.data);
	/* A zlib stream: CMF says deflate with a 32 KiB window, and the
	 * header checksum holds. */
	assert_true(z.len >= 6);
	assert_int_equal(z.data[0], 0x78);
	assert_int_equal(((unsigned)z.data[0] << 8 | z.data[1]) % 31, 0);
	assert_rc(xf_inflate(z.data, z.len, len + 1, true, &back), 0);
	assert_int_equal(back.len, len);
	if (len)
		assert_memory_equal(back.data, data, len);
	xf_buf_dispose(&back);
	/* A limit of exactly the size is enough. */
	assert_rc(xf_inflate(z.data, z.len, len, true, &back), 0);
	assert_int_equal(back.len, len);
	xf_buf_dispose(&back);
	xf_buf_dispose(&z);
	assert_null(z.data);
	assert_int_equal(z.len, 0);
}

static void test_deflate_inflate_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 127, 128, 4096, 100000, 3 * MIB };
	size_t i;

	(void)state;
	for (i = 0; i < XF_ARRAY_SIZE(sizes); i++) {
		uint8_t *t = text_bytes(sizes[i]), *n = noise_bytes(sizes[i], (unsigned)i + 1);

		assert_round_trip(t, sizes[i]);
		assert_round_trip(n, sizes[i]);
		free(t);
		free(n);
	}
}

/* A body fed to the deflater in pieces, as msgpack's packer feeds it (a
 * few header bytes, then a bin), inflates back to the whole. */
static void test_deflater_takes_pieces(void **state)
{
	static const size_t pieces[] = { 1, 5, 3, 70000, 2 };
	const size_t len = 2 * MIB;
	uint8_t *inputs[2] = { text_bytes(len), noise_bytes(len, 7) };
	struct deflater d;
	xf_buf z = { 0 }, back = { 0 };
	size_t i, at, n;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_rc(deflater_init(&d), 0);
		for (at = 0, n = 0; at < len; at += pieces[n++ % XF_ARRAY_SIZE(pieces)]) {
			size_t piece = pieces[n % XF_ARRAY_SIZE(pieces)];

			assert_rc(deflater_write(&d, (const char *)inputs[i] + at, piece < len - at ? piece : len - at), 0);
		}
		assert_rc(deflater_finish(&d, &z), 0);
		deflater_dispose(&d);
		assert_rc(xf_inflate(z.data, z.len, len, true, &back), 0);
		assert_int_equal(back.len, len);
		assert_memory_equal(back.data, inputs[i], len);
		xf_buf_dispose(&back);
		xf_buf_dispose(&z);
		free(inputs[i]);
	}
}

static void test_deflate_compresses_text(void **state)
{
	uint8_t *t = text_bytes(100000);
	xf_buf z = { 0 };

	(void)state;
	assert_rc(xf_deflate(t, 100000, &z), 0);
	assert_true(z.len < 100000 / 10);
	xf_buf_dispose(&z);
	free(t);
}

static void test_buf_dispose_accepts_empty(void **state)
{
	xf_buf b = { 0 };

	(void)state;
	xf_buf_dispose(&b);
	xf_buf_dispose(NULL);
	assert_null(b.data);
}

/* IN compressed as a gzip stream (windowBits 31), as a client sending
 * "Content-Encoding: gzip" would. */
static void gzip(const uint8_t *in, size_t len, xf_buf *out)
{
	z_stream zs = { 0 };
	size_t cap;

	assert_int_equal(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	cap = deflateBound(&zs, len) + 32;
	out->data = malloc(cap);
	assert_non_null(out->data);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out->data;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	out->len = zs.total_out;
	deflateEnd(&zs);
}

static void test_inflate_reads_gzip(void **state)
{
	uint8_t *t = text_bytes(50000);
	xf_buf gz = { 0 }, back = { 0 };

	(void)state;
	gzip(t, 50000, &gz);
	/* The gzip magic, not a zlib header. */
	assert_int_equal(gz.data[0], 0x1f);
	assert_int_equal(gz.data[1], 0x8b);
	assert_rc(xf_inflate(gz.data, gz.len, 4 * MIB, true, &back), 0);
	assert_int_equal(back.len, 50000);
	assert_memory_equal(back.data, t, 50000);
	xf_buf_dispose(&back);
	/* The same limits hold for gzip. */
	assert_rc(xf_inflate(gz.data, gz.len, 49999, true, &back), XF_ETOOBIG);
	assert_null(back.data);
	/* Damage in the gzip trailer (CRC-32) is found. */
	gz.data[gz.len - 5] ^= 0x01;
	assert_rc(xf_inflate(gz.data, gz.len, 4 * MIB, true, &back), XF_EPROTO);
	xf_buf_dispose(&gz);
	free(t);
}

static void test_inflate_limit_is_exact(void **state)
{
	uint8_t *t = text_bytes(10000);
	xf_buf z = { 0 }, back = { 0 };

	(void)state;
	assert_rc(xf_deflate(t, 10000, &z), 0);
	assert_rc(xf_inflate(z.data, z.len, 10000, true, &back), 0);
	assert_int_equal(back.len, 10000);
	xf_buf_dispose(&back);
	assert_rc(xf_inflate(z.data, z.len, 9999, true, &back), XF_ETOOBIG);
	assert_null(back.data);
	assert_rc(xf_inflate(z.data, z.len, 1, true, &back), XF_ETOOBIG);
	assert_null(back.data);
	xf_buf_dispose(&z);
	free(t);
}

/* Every limit near the first guess at the size (four times the input)
 * holds: a limit just above the guess once let the buffer shrink under
 * what was already written, and zlib wrote past its end. */
static void test_inflate_limit_holds_near_the_first_guess(void **state)
{
	uint8_t *noise = noise_bytes(1000, 7), *data = calloc(1, 100000);
	xf_buf z = { 0 }, back = { 0 };
	size_t max;

	(void)state;
	assert_non_null(data);
	memcpy(data, noise, 1000);
	assert_rc(xf_deflate(data, 100000, &z), 0);
	assert_true(z.len * 4 + 100 < 100000);
	for (max = z.len * 4 - 100; max <= z.len * 4 + 100; max++) {
		int r = xf_inflate(z.data, z.len, max, true, &back);

		if (r != XF_ETOOBIG)
			fail_msg("a limit of %zu for %zu bytes in gave %d (%s)", max, z.len, r, xf_strerror(r));
		assert_null(back.data);
	}
	xf_buf_dispose(&z);
	free(data);
	free(noise);
}

static long maxrss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* A deflate bomb: 64 MiB of zeros, some 64 KiB on the wire, made in
 * small steps so that the test itself never holds 64 MiB. */
static void make_bomb(xf_buf *out)
{
	static uint8_t zeros[MIB];
	z_stream zs = { 0 };
	size_t cap = 1 * MIB;
	int i, zr;

	assert_int_equal(deflateInit(&zs, 9), Z_OK);
	out->data = malloc(cap);
	assert_non_null(out->data);
	zs.next_out = out->data;
	zs.avail_out = (uInt)cap;
	for (i = 0; i < 64; i++) {
		zs.next_in = zeros;
		zs.avail_in = sizeof(zeros);
		zr = deflate(&zs, i == 63 ? Z_FINISH : Z_NO_FLUSH);
		assert_int_equal(zs.avail_in, 0);
		assert_true(zr == Z_OK || zr == Z_STREAM_END);
	}
	assert_int_equal(zr, Z_STREAM_END);
	assert_int_equal(zs.total_in, 64ull * MIB);
	out->len = zs.total_out;
	deflateEnd(&zs);
}

/* Run first, while the process is small: its peak memory shows whether
 * the whole bomb was inflated. */
static void test_inflate_stops_a_deflate_bomb(void **state)
{
	xf_buf bomb = { 0 }, out = { 0 };
	long rss_before, rss_after;
	double t0, t;

	(void)state;
	make_bomb(&bomb);
	assert_true(bomb.len < 256 * 1024);
	rss_before = maxrss_kib();
	t0 = now_s();
	assert_rc(xf_inflate(bomb.data, bomb.len, 4 * MIB, true, &out), XF_ETOOBIG);
	t = now_s() - t0;
	rss_after = maxrss_kib();
	assert_null(out.data);
	assert_int_equal(out.len, 0);
	/* It stopped at the limit: it neither inflated 64 MiB into memory nor
	 * spent the time doing so. Both bounds are loose (ASan is slow and
	 * its allocator keeps freed memory), yet far from a whole bomb. */
	assert_true(rss_after - rss_before < 40 * 1024);
	assert_true(t < 2.0);
	xf_buf_dispose(&bomb);
}

static void test_inflate_refuses_truncated_stream(void **state)
{
	uint8_t *t = text_bytes(3000);
	xf_buf z = { 0 }, back = { 0 };
	size_t cut;

	(void)state;
	assert_rc(xf_deflate(t, 3000, &z), 0);
	for (cut = 0; cut < z.len; cut++) {
		int r = xf_inflate(z.data, cut, 1 * MIB, true, &back);

		if (r != XF_EPROTO)
			fail_msg("a stream cut at %zu of %zu bytes gave %d (%s)", cut, z.len, r, xf_strerror(r));
		assert_null(back.data);
	}
	xf_buf_dispose(&z);
	free(t);
}

static void test_inflate_refuses_trailing_garbage(void **state)
{
	uint8_t *t = text_bytes(3000), *p;
	xf_buf z = { 0 }, gz = { 0 }, back = { 0 };

	(void)state;
	assert_rc(xf_deflate(t, 3000, &z), 0);
	p = realloc(z.data, z.len + 1);
	assert_non_null(p);
	z.data = p;
	z.data[z.len] = 0;
	assert_rc(xf_inflate(z.data, z.len + 1, 1 * MIB, true, &back), XF_EPROTO);
	assert_null(back.data);
	/* Two streams back to back are one too many. */
	p = realloc(z.data, 2 * z.len);
	assert_non_null(p);
	z.data = p;
	memcpy(z.data + z.len, z.data, z.len);
	assert_rc(xf_inflate(z.data, 2 * z.len, 1 * MIB, true, &back), XF_EPROTO);
	assert_null(back.data);

	gzip(t, 3000, &gz);
	p = realloc(gz.data, gz.len + 3);
	assert_non_null(p);
	gz.data = p;
	memcpy(gz.data + gz.len, "xyz", 3);
	assert_rc(xf_inflate(gz.data, gz.len + 3, 1 * MIB, true, &back), XF_EPROTO);
	assert_null(back.data);
	xf_buf_dispose(&z);
	xf_buf_dispose(&gz);
	free(t);
}

static void test_inflate_refuses_what_is_not_zlib(void **state)
{
	static const char text[] = "{\"v\":1,\"cur\":[0,0]} this is not compressed";
	uint8_t *noise = noise_bytes(1000, 7), *t = text_bytes(3000);
	xf_buf back = { 0 }, z = { 0 };

	(void)state;
	assert_rc(xf_inflate((const uint8_t *)text, sizeof(text) - 1, 1 * MIB, true, &back), XF_EPROTO);
	assert_null(back.data);
	/* Start with a valid zlib header so that it is not refused at once. */
	noise[0] = 0x78;
	noise[1] = 0x9c;
	assert_rc(xf_inflate(noise, 1000, 1 * MIB, true, &back), XF_EPROTO);
	assert_null(back.data);
	/* Raw deflate without the zlib wrapper is not accepted either. */
	assert_rc(xf_deflate(t, 3000, &z), 0);
	assert_rc(xf_inflate(z.data + 2, z.len - 2, 1 * MIB, true, &back), XF_EPROTO);
	assert_null(back.data);
	/* A damaged Adler-32 trailer: refused when checked; when the caller
	 * has a signature to check instead, the same bytes come out, and
	 * trailing bytes are still refused. */
	z.data[z.len - 1] ^= 0x80;
	assert_rc(xf_inflate(z.data, z.len, 1 * MIB, true, &back), XF_EPROTO);
	assert_null(back.data);
	assert_rc(xf_inflate(z.data, z.len, 1 * MIB, false, &back), 0);
	assert_int_equal(back.len, 3000);
	assert_memory_equal(back.data, t, 3000);
	xf_buf_dispose(&back);
	assert_rc(xf_inflate(z.data, z.len - 1, 1 * MIB, false, &back), XF_EPROTO);
	assert_null(back.data);
	xf_buf_dispose(&z);
	free(noise);
	free(t);
}

/* ---- request authentication ---- */

struct keys {
	xf_key *key, *other;
};

static void load_keys(const char *dir, struct keys *k)
{
	char path[PATH_MAX];

	unit_path(path, sizeof(path), dir, "node.key");
	assert_rc(xf_key_generate(path), 0);
	assert_rc(xf_key_load(&k->key, path), 0);
	unit_path(path, sizeof(path), dir, "other.key");
	assert_rc(xf_key_generate(path), 0);
	assert_rc(xf_key_load(&k->other, path), 0);
}

static void free_keys(struct keys *k)
{
	xf_key_free(k->key);
	xf_key_free(k->other);
}

static const uint8_t body[] = { 0x82, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00 };

static void test_auth_round_trip(void **state)
{
	struct keys k;
	char header[XF_AUTH_HEADER_MAX];
	xf_auth a;

	load_keys(*state, &k);
	assert_rc(xf_auth_make(k.key, "370102001001", "POST", "/v1/sync", T0, body, sizeof(body), header), 0);
	assert_true(strncmp(header, "XF 370102001001 1717000000000 ", 30) == 0);
	/* 64 bytes of signature: 86 base64url characters, no padding. */
	assert_int_equal(strlen(header), 30 + 86);
	assert_null(strpbrk(header + 30, "=+/ "));
	memset(&a, 0xff, sizeof(a));
	assert_rc(xf_auth_parse(header, &a), 0);
	assert_string_equal(a.node, "370102001001");
	assert_int_equal(a.time_ms, T0);
	assert_rc(xf_auth_check(&a, xf_key_public(k.key), "POST", "/v1/sync", body, sizeof(body), T0), 0);
	/* The signature is over the message PROTOCOL.md describes. */
	{
		uint8_t digest[32];
		char hex[65], msg[200];
		int n;

		crypto_generichash(digest, sizeof(digest), body, sizeof(body), NULL, 0);
		for (n = 0; n < 32; n++)
			snprintf(hex + 2 * n, 3, "%02x", digest[n]);
		n = snprintf(msg, sizeof(msg), "XF1 POST /v1/sync %llu %s", (unsigned long long)T0, hex);
		assert_rc(xf_sig_verify(xf_key_public(k.key), (const uint8_t *)msg, (size_t)n, a.sig), 0);
	}
	/* An empty body is signed too. */
	assert_rc(xf_auth_make(k.key, "v-1", "POST", "/v1/sync", T0, NULL, 0, header), 0);
	assert_rc(xf_auth_parse(header, &a), 0);
	assert_rc(xf_auth_check(&a, xf_key_public(k.key), "POST", "/v1/sync", NULL, 0, T0), 0);
	/* A node id that is not one is refused when making a header. */
	assert_rc(xf_auth_make(k.key, "bad id", "POST", "/v1/sync", T0, body, sizeof(body), header), -EINVAL);
	free_keys(&k);
}

static void test_auth_check_refuses_what_was_not_signed(void **state)
{
	struct keys k;
	char header[XF_AUTH_HEADER_MAX];
	uint8_t other_body[sizeof(body)];
	xf_auth a, forged;
	const uint8_t *pub;

	load_keys(*state, &k);
	pub = xf_key_public(k.key);
	assert_rc(xf_auth_make(k.key, "village-1", "POST", "/v1/sync", T0, body, sizeof(body), header), 0);
	assert_rc(xf_auth_parse(header, &a), 0);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0), 0);

	memcpy(other_body, body, sizeof(body));
	other_body[sizeof(body) - 1] = 0x01;
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", other_body, sizeof(body), T0), XF_EBADSIG);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body) - 1, T0), XF_EBADSIG);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", NULL, 0, T0), XF_EBADSIG);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync2", body, sizeof(body), T0), XF_EBADSIG);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/Sync", body, sizeof(body), T0), XF_EBADSIG);
	assert_rc(xf_auth_check(&a, pub, "PUT", "/v1/sync", body, sizeof(body), T0), XF_EBADSIG);
	assert_rc(xf_auth_check(&a, pub, "GET", "/v1/sync", body, sizeof(body), T0), XF_EBADSIG);
	assert_rc(xf_auth_check(&a, xf_key_public(k.other), "POST", "/v1/sync", body, sizeof(body), T0),
		  XF_EBADSIG);

	/* The time is signed: moving it breaks the signature. */
	forged = a;
	forged.time_ms = T0 + 1;
	assert_rc(xf_auth_check(&forged, pub, "POST", "/v1/sync", body, sizeof(body), T0), XF_EBADSIG);
	/* So is every bit of the signature. */
	forged = a;
	forged.sig[17] ^= 0x04;
	assert_rc(xf_auth_check(&forged, pub, "POST", "/v1/sync", body, sizeof(body), T0), XF_EBADSIG);

	/* Another node's key signing this node's header does not pass. */
	assert_rc(xf_auth_make(k.other, "village-1", "POST", "/v1/sync", T0, body, sizeof(body), header), 0);
	assert_rc(xf_auth_parse(header, &forged), 0);
	assert_rc(xf_auth_check(&forged, pub, "POST", "/v1/sync", body, sizeof(body), T0), XF_EBADSIG);
	free_keys(&k);
}

static void test_auth_check_time_window(void **state)
{
	const uint64_t minute = 60 * 1000;
	struct keys k;
	char header[XF_AUTH_HEADER_MAX];
	xf_auth a;
	const uint8_t *pub;

	load_keys(*state, &k);
	pub = xf_key_public(k.key);
	assert_rc(xf_auth_make(k.key, "village-1", "POST", "/v1/sync", T0, body, sizeof(body), header), 0);
	assert_rc(xf_auth_parse(header, &a), 0);
	/* The client's clock 6 minutes behind or ahead of the server's. */
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 + 6 * minute), XF_ESKEW);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 - 6 * minute), XF_ESKEW);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 + 4 * minute), 0);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 - 4 * minute), 0);
	/* The edge of the window is inside it; a millisecond more is not. */
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 + XF_AUTH_WINDOW_MS), 0);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 - XF_AUTH_WINDOW_MS), 0);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 + XF_AUTH_WINDOW_MS + 1),
		  XF_ESKEW);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), T0 - XF_AUTH_WINDOW_MS - 1),
		  XF_ESKEW);
	/* Skew is only told to the real node: a forgery is a bad signature
	 * whatever its time. */
	assert_rc(xf_auth_check(&a, xf_key_public(k.other), "POST", "/v1/sync", body, sizeof(body),
				T0 + 60 * minute),
		  XF_EBADSIG);
	/* A server whose clock is near zero, or near the end of time. */
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), 0), XF_ESKEW);
	assert_rc(xf_auth_check(&a, pub, "POST", "/v1/sync", body, sizeof(body), UINT64_MAX), XF_ESKEW);
	free_keys(&k);
}

static void test_auth_parse_refuses_malformed_headers(void **state)
{
	struct keys k;
	char good[XF_AUTH_HEADER_MAX], sig[100], buf[512];
	const char *node33 = "a23456789012345678901234567890123";
	const char *node32 = "a2345678901234567890123456789012";
	xf_auth a;
	size_t i;

	load_keys(*state, &k);
	assert_rc(xf_auth_make(k.key, "village-1", "POST", "/v1/sync", T0, body, sizeof(body), good), 0);
	assert_rc(xf_auth_parse(good, &a), 0);
	snprintf(sig, sizeof(sig), "%s", strrchr(good, ' ') + 1);
	assert_int_equal(strlen(sig), 86);

	{
		const char *bad[] = {
			"",
			"XF",
			"XF ",
			"XF village-1",
			"XF village-1 1717000000000",
			"XF village-1 1717000000000 ",
			"XF village-1 notatime AAAA",
			"Bearer village-1",
		};

		for (i = 0; i < XF_ARRAY_SIZE(bad); i++)
			if (xf_auth_parse(bad[i], &a) != XF_EPROTO)
				fail_msg("accepted malformed header \"%s\"", bad[i]);
	}
	assert_rc(xf_auth_parse(NULL, &a), XF_EPROTO);

	/* Missing parts: the time, the node. */
	snprintf(buf, sizeof(buf), "XF village-1 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF 1717000000000 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	/* Another scheme name. */
	snprintf(buf, sizeof(buf), "XG village-1 1717000000000 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);

	/* Bad base64: standard alphabet, padding, a character outside it, a
	 * signature one byte short, one byte long. */
	snprintf(buf, sizeof(buf), "XF village-1 1717000000000 +/%s", sig + 2);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF village-1 1717000000000 %s==", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF village-1 1717000000000 %.40s*%s", sig, sig + 41);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF village-1 1717000000000 %.84s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF village-1 1717000000000 %sAA", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);

	/* A node id of 32 characters is one; 33 is not, nor are other
	 * characters. */
	snprintf(buf, sizeof(buf), "XF %s 1717000000000 %s", node32, sig);
	assert_rc(xf_auth_parse(buf, &a), 0);
	assert_string_equal(a.node, node32);
	snprintf(buf, sizeof(buf), "XF %s 1717000000000 %s", node33, sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF village_1 1717000000000 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF -village 1717000000000 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);

	/* Trailing text, even a space. */
	snprintf(buf, sizeof(buf), "%s extra", good);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "%s ", good);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "%s\n", good);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);

	/* Too long for a header at all. */
	memset(buf, 'A', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "XF v 1 ", 7);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	free_keys(&k);
}

/* The time is decimal digits that fit 64 bits: a sign is no time, even
 * if the C library's number parser would take it. */
static void test_auth_parse_refuses_signed_time(void **state)
{
	struct keys k;
	char good[XF_AUTH_HEADER_MAX], buf[256];
	const char *sig;
	xf_auth a;

	load_keys(*state, &k);
	assert_rc(xf_auth_make(k.key, "village-1", "POST", "/v1/sync", T0, body, sizeof(body), good), 0);
	sig = strrchr(good, ' ') + 1;
	snprintf(buf, sizeof(buf), "XF village-1 -1 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	snprintf(buf, sizeof(buf), "XF village-1 +1717000000000 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	/* Nor is a time past 2^64-1 (strtoull would give 2^64-1). */
	snprintf(buf, sizeof(buf), "XF village-1 99999999999999999999999 %s", sig);
	assert_rc(xf_auth_parse(buf, &a), XF_EPROTO);
	free_keys(&k);
}

/* ---- answer signatures ---- */

static void test_reply_signature_binds_answer_to_request(void **state)
{
	static const uint8_t answer[] = { 0x81, 0xa1, 'v', 0x01 };
	uint8_t altered[sizeof(answer)];
	char header[XF_AUTH_HEADER_MAX], sig[XF_REPLY_SIG_MAX], text[200], hex[65], b64[100];
	xf_auth request, later;
	const uint8_t *pub;
	uint8_t digest[32];
	struct keys k;
	int n;

	load_keys(*state, &k);
	pub = xf_key_public(k.key);
	assert_rc(xf_auth_make(k.other, "village-1", "POST", "/v1/sync", T0, body, sizeof(body), header), 0);
	assert_rc(xf_auth_parse(header, &request), 0);
	assert_rc(xf_reply_sign(k.key, &request, answer, sizeof(answer), sig), 0);
	assert_int_equal(strlen(sig), 86);
	assert_rc(xf_reply_check(sig, pub, &request, answer, sizeof(answer)), 0);
	/* Over the message PROTOCOL.md describes. */
	{
		uint8_t raw[XF_SIG_BYTES];
		size_t raw_len;

		crypto_generichash(digest, sizeof(digest), answer, sizeof(answer), NULL, 0);
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		sodium_bin2base64(b64, sizeof(b64), request.sig, XF_SIG_BYTES,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		assert_string_equal(b64, strrchr(header, ' ') + 1);
		n = snprintf(text, sizeof(text), "XF1 REPLY %s %s", b64, hex);
		assert_int_equal(sodium_base642bin(raw, sizeof(raw), sig, strlen(sig), NULL, &raw_len, NULL,
						   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
				 0);
		assert_rc(xf_sig_verify(pub, (const uint8_t *)text, (size_t)n, raw), 0);
	}

	/* Another body, another request, another key, no signature. */
	memcpy(altered, answer, sizeof(answer));
	altered[3] = 0x02;
	assert_rc(xf_reply_check(sig, pub, &request, altered, sizeof(altered)), XF_EBADSIG);
	assert_rc(xf_reply_check(sig, pub, &request, answer, sizeof(answer) - 1), XF_EBADSIG);
	assert_rc(xf_auth_make(k.other, "village-1", "POST", "/v1/sync", T0 + 1, body, sizeof(body), header), 0);
	assert_rc(xf_auth_parse(header, &later), 0);
	assert_rc(xf_reply_check(sig, pub, &later, answer, sizeof(answer)), XF_EBADSIG);
	assert_rc(xf_reply_check(sig, xf_key_public(k.other), &request, answer, sizeof(answer)), XF_EBADSIG);
	assert_rc(xf_reply_check(NULL, pub, &request, answer, sizeof(answer)), XF_EBADSIG);
	assert_rc(xf_reply_check("", pub, &request, answer, sizeof(answer)), XF_EBADSIG);
	/* Malformed: cut short, one character too many, not base64url,
	 * padded. */
	snprintf(text, sizeof(text), "%.85s", sig);
	assert_rc(xf_reply_check(text, pub, &request, answer, sizeof(answer)), XF_EBADSIG);
	snprintf(text, sizeof(text), "%sA", sig);
	assert_rc(xf_reply_check(text, pub, &request, answer, sizeof(answer)), XF_EBADSIG);
	snprintf(text, sizeof(text), "%s", sig);
	text[10] = '+';
	assert_rc(xf_reply_check(text, pub, &request, answer, sizeof(answer)), XF_EBADSIG);
	snprintf(text, sizeof(text), "%s==", sig);
	assert_rc(xf_reply_check(text, pub, &request, answer, sizeof(answer)), XF_EBADSIG);
	/* An empty answer is signed too. */
	assert_rc(xf_reply_sign(k.key, &request, NULL, 0, sig), 0);
	assert_rc(xf_reply_check(sig, pub, &request, NULL, 0), 0);
	free_keys(&k);
}

/* ---- the msgpack bounds check ---- */

struct packed {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void packed_init(struct packed *p)
{
	msgpack_sbuffer_init(&p->sb);
	msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void pack_str_n(msgpack_packer *pk, size_t n, char fill)
{
	char *s = malloc(n ? n : 1);

	assert_non_null(s);
	memset(s, fill, n);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
	free(s);
}

static void pack_bin_n(msgpack_packer *pk, size_t n)
{
	uint8_t *b = noise_bytes(n, (unsigned)n);

	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, b, n);
	free(b);
}

static void pack_ext_n(msgpack_packer *pk, size_t n, int8_t type)
{
	uint8_t *b = noise_bytes(n, (unsigned)n + 99);

	msgpack_pack_ext(pk, n, type);
	msgpack_pack_ext_body(pk, b, n);
	free(b);
}

/* One value of each msgpack format, and the type byte it must start with. */
struct format {
	uint8_t type;
	void (*pack)(msgpack_packer *pk);
};

#define FORMAT(t, body)                                   \
	static void pack_##t(msgpack_packer *pk)          \
	{                                                 \
		body;                                     \
	}
FORMAT(nil, msgpack_pack_nil(pk))
FORMAT(false, msgpack_pack_false(pk))
FORMAT(true, msgpack_pack_true(pk))
FORMAT(pfixint, msgpack_pack_uint64(pk, 100))
FORMAT(nfixint, msgpack_pack_int64(pk, -7))
FORMAT(u8, msgpack_pack_uint64(pk, 200))
FORMAT(u16, msgpack_pack_uint64(pk, 0xfff0))
FORMAT(u32, msgpack_pack_uint64(pk, 0xfffffff0ull))
FORMAT(u64, msgpack_pack_uint64(pk, UINT64_MAX))
FORMAT(i8, msgpack_pack_int64(pk, -100))
FORMAT(i16, msgpack_pack_int64(pk, -30000))
FORMAT(i32, msgpack_pack_int64(pk, -2000000000))
FORMAT(i64, msgpack_pack_int64(pk, INT64_MIN))
FORMAT(f32, msgpack_pack_float(pk, 1.5f))
FORMAT(f64, msgpack_pack_double(pk, -2.25))
FORMAT(fixstr, pack_str_n(pk, 31, 's'))
FORMAT(str0, pack_str_n(pk, 0, 's'))
FORMAT(str8, pack_str_n(pk, 200, 's'))
FORMAT(str16, pack_str_n(pk, 4000, 's'))
FORMAT(str32, pack_str_n(pk, 70000, 's'))
FORMAT(bin8, pack_bin_n(pk, 5))
FORMAT(bin16, pack_bin_n(pk, 300))
FORMAT(bin32, pack_bin_n(pk, 70000))
FORMAT(fixext1, pack_ext_n(pk, 1, 1))
FORMAT(fixext2, pack_ext_n(pk, 2, 2))
FORMAT(fixext4, pack_ext_n(pk, 4, -3))
FORMAT(fixext8, pack_ext_n(pk, 8, 4))
FORMAT(fixext16, pack_ext_n(pk, 16, 5))
FORMAT(ext8, pack_ext_n(pk, 3, 6))
FORMAT(ext16, pack_ext_n(pk, 300, 7))
FORMAT(ext32, pack_ext_n(pk, 70000, 8))
FORMAT(fixarray0, msgpack_pack_array(pk, 0))
FORMAT(fixmap0, msgpack_pack_map(pk, 0))

static void pack_fixarray(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_nil(pk);
	pack_str_n(pk, 3, 'x');
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	pack_str_n(pk, 1, 'k');
	msgpack_pack_true(pk);
}

static void pack_array16(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 20);
	for (int i = 0; i < 20; i++)
		msgpack_pack_int64(pk, -i * 1000);
}

static void pack_fixmap(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	pack_str_n(pk, 1, 'a');
	msgpack_pack_array(pk, 0);
	msgpack_pack_uint64(pk, 5);
	pack_bin_n(pk, 2);
}

static void pack_map16(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 17);
	for (int i = 0; i < 17; i++) {
		msgpack_pack_uint64(pk, (uint64_t)i);
		msgpack_pack_double(pk, i / 3.0);
	}
}

static void pack_array32(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 70000);
	for (int i = 0; i < 70000; i++)
		msgpack_pack_nil(pk);
}

static void pack_map32(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 70000);
	for (int i = 0; i < 70000; i++) {
		msgpack_pack_uint64(pk, (uint64_t)i);
		msgpack_pack_false(pk);
	}
}

static const struct format formats[] = {
	{ 0xc0, pack_nil },	  { 0xc2, pack_false },	      { 0xc3, pack_true },	   { 0x64, pack_pfixint },
	{ 0xf9, pack_nfixint },	  { 0xcc, pack_u8 },	      { 0xcd, pack_u16 },	   { 0xce, pack_u32 },
	{ 0xcf, pack_u64 },	  { 0xd0, pack_i8 },	      { 0xd1, pack_i16 },	   { 0xd2, pack_i32 },
	{ 0xd3, pack_i64 },	  { 0xca, pack_f32 },	      { 0xcb, pack_f64 },	   { 0xbf, pack_fixstr },
	{ 0xa0, pack_str0 },	  { 0xd9, pack_str8 },	      { 0xda, pack_str16 },	   { 0xdb, pack_str32 },
	{ 0xc4, pack_bin8 },	  { 0xc5, pack_bin16 },	      { 0xc6, pack_bin32 },	   { 0xd4, pack_fixext1 },
	{ 0xd5, pack_fixext2 },	  { 0xd6, pack_fixext4 },     { 0xd7, pack_fixext8 },	   { 0xd8, pack_fixext16 },
	{ 0xc7, pack_ext8 },	  { 0xc8, pack_ext16 },	      { 0xc9, pack_ext32 },	   { 0x90, pack_fixarray0 },
	{ 0x80, pack_fixmap0 },	  { 0x93, pack_fixarray },    { 0xdc, pack_array16 },	   { 0x82, pack_fixmap },
	{ 0xde, pack_map16 },	  { 0xdd, pack_array32 },     { 0xdf, pack_map32 },
};

/* Check P as a whole object, and with bytes after it: *used is its
 * length either way. */
static void assert_accepted(const uint8_t *p, size_t len)
{
	uint8_t *more = malloc(len + 3);
	size_t used = 0;

	assert_non_null(more);
	assert_rc(xf_msgpack_check(p, len, &used), 0);
	assert_int_equal(used, len);
	memcpy(more, p, len);
	memcpy(more + len, "\xc0\xc1\x93", 3);
	used = 0;
	assert_rc(xf_msgpack_check(more, len + 3, &used), 0);
	assert_int_equal(used, len);
	free(more);
}

/* msgpack-c itself reads what the check accepted, to the same length. */
static void assert_msgpack_agrees(const uint8_t *p, size_t len)
{
	msgpack_zone zone;
	msgpack_object obj;
	size_t off = 0;

	assert_true(msgpack_zone_init(&zone, 4096));
	assert_int_equal(msgpack_unpack((const char *)p, len, &off, &zone, &obj), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, len);
	msgpack_zone_destroy(&zone);
}

static void test_msgpack_check_accepts_every_format(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < XF_ARRAY_SIZE(formats); i++) {
		struct packed p;

		packed_init(&p);
		formats[i].pack(&p.pk);
		if ((uint8_t)p.sb.data[0] != formats[i].type)
			fail_msg("format %zu: msgpack-c packed 0x%02x, expected 0x%02x", i, (uint8_t)p.sb.data[0],
				 formats[i].type);
		assert_msgpack_agrees((const uint8_t *)p.sb.data, p.sb.size);
		assert_accepted((const uint8_t *)p.sb.data, p.sb.size);
		msgpack_sbuffer_destroy(&p.sb);
	}
}

/* Formats whose values here are large: 32-bit lengths and counts. */
static bool is_large(uint8_t type)
{
	return type == 0xdb || type == 0xc6 || type == 0xc9 || type == 0xdd || type == 0xdf;
}

static bool is_container32(uint8_t type)
{
	return type == 0xdd || type == 0xdf;
}

enum everything { SMALL_ONLY, NO_CONTAINER32, ALL };

static bool included(enum everything which, uint8_t type)
{
	return which == ALL || (which == NO_CONTAINER32 ? !is_container32(type) : !is_large(type));
}

/* Every format at once (or those WHICH says), nested in arrays and maps. */
static void pack_everything(struct packed *p, enum everything which)
{
	size_t i, n = 0;

	for (i = 0; i < XF_ARRAY_SIZE(formats); i++)
		if (included(which, formats[i].type))
			n++;
	msgpack_pack_map(&p->pk, 2);
	pack_str_n(&p->pk, 3, 'v');
	msgpack_pack_uint64(&p->pk, 1);
	pack_str_n(&p->pk, 3, 'a');
	msgpack_pack_array(&p->pk, 2);
	msgpack_pack_array(&p->pk, n);
	for (i = 0; i < XF_ARRAY_SIZE(formats); i++)
		if (included(which, formats[i].type))
			formats[i].pack(&p->pk);
	/* A map whose keys are of other types than strings. */
	msgpack_pack_map(&p->pk, 3);
	msgpack_pack_nil(&p->pk);
	pack_fixarray(&p->pk);
	pack_bin_n(&p->pk, 4);
	pack_map16(&p->pk);
	msgpack_pack_int64(&p->pk, -1);
	pack_ext_n(&p->pk, 16, 0);
}

static void test_msgpack_check_accepts_nested_objects(void **state)
{
	struct packed p;

	(void)state;
	packed_init(&p);
	pack_everything(&p, ALL);
	assert_msgpack_agrees((const uint8_t *)p.sb.data, p.sb.size);
	assert_accepted((const uint8_t *)p.sb.data, p.sb.size);
	msgpack_sbuffer_destroy(&p.sb);
}

static void assert_refused(const uint8_t *p, size_t len, const char *what, size_t cut)
{
	size_t used = 12345;
	int r = xf_msgpack_check(p, len, &used);

	if (r != XF_EPROTO)
		fail_msg("%s cut at %zu: %d (%s)", what, cut, r, xf_strerror(r));
	assert_int_equal(used, 12345);
}

/* Every cut of P: copied to the end of an allocation of its own size, so
 * that ASan sees a read past the cut (COPY), or checked in place (the
 * result alone tells). */
static void assert_every_cut_refused(const struct packed *p, const char *what, bool copy, size_t stride)
{
	uint8_t *buf = copy ? malloc(p->sb.size) : NULL;
	size_t cut;

	assert_true(!copy || buf);
	for (cut = 0; cut < p->sb.size; cut += cut > 16 && cut + 16 < p->sb.size ? stride : 1) {
		if (copy) {
			uint8_t *end = buf + p->sb.size - cut;

			memcpy(end, p->sb.data, cut);
			assert_refused(end, cut, what, cut);
		} else {
			assert_refused((const uint8_t *)p->sb.data, cut, what, cut);
		}
	}
	free(buf);
}

static void test_msgpack_check_refuses_every_truncation(void **state)
{
	struct packed p;
	size_t i;

	(void)state;
	/* Each format alone. Each check of a 32-bit container walks all it
	 * holds, so those are cut at a stride (and at every byte near both
	 * ends). */
	for (i = 0; i < XF_ARRAY_SIZE(formats); i++) {
		packed_init(&p);
		formats[i].pack(&p.pk);
		assert_every_cut_refused(&p, "a single value", !is_large(formats[i].type),
					 is_container32(formats[i].type) ? 997 : 1);
		msgpack_sbuffer_destroy(&p.sb);
	}
	/* Everything nested, cut at every byte: the small formats with ASan
	 * watching, then with the 32-bit strings, bins and exts too. */
	packed_init(&p);
	pack_everything(&p, SMALL_ONLY);
	assert_every_cut_refused(&p, "small nested objects", true, 1);
	msgpack_sbuffer_destroy(&p.sb);
	packed_init(&p);
	pack_everything(&p, NO_CONTAINER32);
	assert_every_cut_refused(&p, "nested objects", false, 1);
	msgpack_sbuffer_destroy(&p.sb);
}

static void test_msgpack_check_refuses_c1(void **state)
{
	static const uint8_t alone[] = { 0xc1 };
	static const uint8_t in_array[] = { 0x93, 0x01, 0xc1, 0x02 };
	static const uint8_t as_key[] = { 0x81, 0xc1, 0x00 };
	static const uint8_t as_value[] = { 0x81, 0xa1, 'k', 0xc1 };
	static const uint8_t after_str[] = { 0x92, 0xd9, 0x02, 'h', 'i', 0xc1 };
	size_t used = 0;

	(void)state;
	assert_rc(xf_msgpack_check(alone, sizeof(alone), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(in_array, sizeof(in_array), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(as_key, sizeof(as_key), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(as_value, sizeof(as_value), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(after_str, sizeof(after_str), &used), XF_EPROTO);
	/* 0xc1 after a whole object is not part of it. */
	assert_rc(xf_msgpack_check((const uint8_t *)"\x01\xc1", 2, &used), 0);
	assert_int_equal(used, 1);
}

static void test_msgpack_check_refuses_impossible_counts(void **state)
{
	/* Claims 2^32-1 items, or pairs, with a handful of bytes behind. */
	static const uint8_t array32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0, 0xc0, 0xc0 };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0, 0xc0, 0xc0 };
	static const uint8_t array16[] = { 0xdc, 0xff, 0xff, 0xc0 };
	static const uint8_t map16[] = { 0xde, 0x00, 0x02, 0x01, 0x02, 0x03 };
	static const uint8_t str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b' };
	static const uint8_t bin32[] = { 0xc6, 0x80, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t ext32[] = { 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00 };
	/* A count that fits the bytes left but not with the items its items
	 * hold: [ [nil nil nil], nil ] in 6 bytes, with one byte missing. */
	static const uint8_t nested_short[] = { 0x92, 0x93, 0xc0, 0xc0, 0xc0 };
	uint8_t deep[16 * 5 + 8];
	size_t used = 0, i;
	double t0;

	(void)state;
	assert_rc(xf_msgpack_check(array32, sizeof(array32), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(map32, sizeof(map32), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(array16, sizeof(array16), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(map16, sizeof(map16), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(str32, sizeof(str32), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(bin32, sizeof(bin32), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(ext32, sizeof(ext32), &used), XF_EPROTO);
	assert_rc(xf_msgpack_check(nested_short, sizeof(nested_short), &used), XF_EPROTO);

	/* 16 nested headers each claiming 2^32-1 items (arrays and maps in
	 * turn): msgpack-c would ask for terabytes. */
	for (i = 0; i < 16; i++) {
		deep[5 * i] = i % 2 ? 0xdf : 0xdd;
		memset(deep + 5 * i + 1, 0xff, 4);
	}
	memset(deep + 16 * 5, 0xc0, 8);
	t0 = now_s();
	for (i = 0; i < 100000; i++)
		assert_rc(xf_msgpack_check(deep, sizeof(deep), &used), XF_EPROTO);
	/* 100,000 refusals: each must cost a few steps, not a walk over
	 * claimed items. */
	assert_true(now_s() - t0 < 2.0);

	/* The same depth with honest counts is fine: arrays and maps of one,
	 * each map keyed by nil. */
	{
		struct packed p;
		size_t n;

		packed_init(&p);
		for (n = 0; n < 16; n++) {
			if (n % 2) {
				msgpack_pack_map(&p.pk, 1);
				msgpack_pack_nil(&p.pk);
			} else {
				msgpack_pack_array(&p.pk, 1);
			}
		}
		msgpack_pack_nil(&p.pk);
		assert_accepted((const uint8_t *)p.sb.data, p.sb.size);
		msgpack_sbuffer_destroy(&p.sb);
	}
}

/* A count the bytes could hold on their own, but not once the items of
 * the enclosing containers are counted too. */
static void test_msgpack_check_counts_pending_items(void **state)
{
	/* [ array16(4)[1,2,3,4], 5, 6 ] is 10 bytes: one byte short makes the
	 * outer array's last item missing. */
	static const uint8_t ok[] = { 0x93, 0xdc, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06 };
	size_t used = 0;

	(void)state;
	assert_rc(xf_msgpack_check(ok, sizeof(ok), &used), 0);
	assert_int_equal(used, sizeof(ok));
	assert_rc(xf_msgpack_check(ok, sizeof(ok) - 1, &used), XF_EPROTO);
	/* The inner array claims 5 of the 6 bytes left; with the outer's two
	 * pending items that is 7. */
	{
		static const uint8_t liar[] = { 0x93, 0xdc, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06 };

		assert_rc(xf_msgpack_check(liar, sizeof(liar), &used), XF_EPROTO);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflate_stops_a_deflate_bomb),
		cmocka_unit_test(test_deflate_inflate_round_trip),
		cmocka_unit_test(test_deflate_compresses_text),
		cmocka_unit_test(test_deflater_takes_pieces),
		cmocka_unit_test(test_buf_dispose_accepts_empty),
		cmocka_unit_test(test_inflate_reads_gzip),
		cmocka_unit_test(test_inflate_limit_is_exact),
		cmocka_unit_test(test_inflate_limit_holds_near_the_first_guess),
		cmocka_unit_test(test_inflate_refuses_truncated_stream),
		cmocka_unit_test(test_inflate_refuses_trailing_garbage),
		cmocka_unit_test(test_inflate_refuses_what_is_not_zlib),
		TMPDIR_TEST(test_auth_round_trip),
		TMPDIR_TEST(test_auth_check_refuses_what_was_not_signed),
		TMPDIR_TEST(test_auth_check_time_window),
		TMPDIR_TEST(test_auth_parse_refuses_malformed_headers),
		TMPDIR_TEST(test_auth_parse_refuses_signed_time),
		TMPDIR_TEST(test_reply_signature_binds_answer_to_request),
		cmocka_unit_test(test_msgpack_check_accepts_every_format),
		cmocka_unit_test(test_msgpack_check_accepts_nested_objects),
		cmocka_unit_test(test_msgpack_check_refuses_every_truncation),
		cmocka_unit_test(test_msgpack_check_refuses_c1),
		cmocka_unit_test(test_msgpack_check_refuses_impossible_counts),
		cmocka_unit_test(test_msgpack_check_counts_pending_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
