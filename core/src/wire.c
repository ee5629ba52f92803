#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"
#include "xf/error.h"
#include "xf/wire.h"

void xf_buf_dispose(xf_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* The first output buffer: an idle request's body fits, a batch grows it. */
#define DEFLATE_OUT_FIRST (16u << 10)

int deflater_init(struct deflater *d)
{
	memset(d, 0, sizeof(*d));
	if (deflateInit(&d->zs, Z_DEFAULT_COMPRESSION) != Z_OK)
		return -ENOMEM;
	return 0;
}

/* Run deflate over what it has been given with FLUSH, growing the output
 * buffer as it fills. */
static int deflater_run(struct deflater *d, int flush)
{
	uint8_t *grown;
	size_t cap;
	int zr;

	do {
		if (d->out.len == d->cap) {
			cap = d->cap ? d->cap * 2 : DEFLATE_OUT_FIRST;
			grown = realloc(d->out.data, cap);
			if (!grown)
				return -ENOMEM;
			d->out.data = grown;
			d->cap = cap;
		}
		d->zs.next_out = d->out.data + d->out.len;
		d->zs.avail_out = (uInt)(d->cap - d->out.len);
		zr = deflate(&d->zs, flush);
		d->out.len = d->cap - d->zs.avail_out;
		if (zr == Z_STREAM_ERROR)
			return XF_EPROTO;
	} while (d->zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

int deflater_write(void *vd, const char *p, size_t n)
{
	struct deflater *d = vd;

	while (d->err == 0 && n) {
		/* avail_in is 32 bits wide */
		uInt piece = n > UINT32_MAX ? UINT32_MAX : (uInt)n;

		d->zs.next_in = (Bytef *)p;
		d->zs.avail_in = piece;
		d->err = deflater_run(d, Z_NO_FLUSH);
		p += piece;
		n -= piece;
	}
	return d->err;
}

int deflater_finish(struct deflater *d, xf_buf *out)
{
	if (d->err == 0)
		d->err = deflater_run(d, Z_FINISH);
	if (d->err < 0)
		return d->err;
	*out = d->out;
	d->out = (xf_buf){ 0 };
	d->cap = 0;
	return 0;
}

void deflater_dispose(struct deflater *d)
{
	deflateEnd(&d->zs);
	xf_buf_dispose(&d->out);
	d->cap = 0;
}

int xf_deflate(const uint8_t *in, size_t len, xf_buf *out)
{
	struct deflater d;
	int r;

	if ((r = deflater_init(&d)) < 0)
		return r;
	deflater_write(&d, (const char *)in, len);
	r = deflater_finish(&d, out);
	deflater_dispose(&d);
	return r;
}

int xf_inflate(const uint8_t *in, size_t len, size_t max, bool checksum, xf_buf *out)
{
	z_stream zs = { 0 };
	uint8_t *data = NULL, *p;
	size_t cap;
	int zr, r;

	if (len > UINT32_MAX)
		return XF_ETOOBIG;
	/* The buffer never outgrows MAX: were it to start above it, the first
	 * growth would shrink it under what is already written. */
	cap = len * 4 + 64 < max ? len * 4 + 64 : max;
	/* 15 + 32: a zlib or a gzip stream, told apart by its header. */
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return -ENOMEM;
	if (!checksum && inflateValidate(&zs, 0) != Z_OK) {
		r = -ENOMEM;
		goto cleanup;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	do {
		if (!data || zs.total_out == cap) {
			if (data && cap == max) {
				r = XF_ETOOBIG;
				goto cleanup;
			}
			if (data)
				cap = cap * 2 < max ? cap * 2 : max;
			p = realloc(data, cap ? cap : 1);
			if (!p) {
				r = -ENOMEM;
				goto cleanup;
			}
			data = p;
		}
		zs.next_out = data + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		zr = inflate(&zs, Z_NO_FLUSH);
	} while (zr == Z_OK);
	if (zr != Z_STREAM_END || zs.avail_in != 0) {
		/* Z_BUF_ERROR here means the input ended mid-stream. */
		r = zr == Z_MEM_ERROR ? -ENOMEM : XF_EPROTO;
		goto cleanup;
	}
	out->data = data;
	out->len = zs.total_out;
	data = NULL;
	r = 0;
cleanup:
	inflateEnd(&zs);
	free(data);
	return r;
}

#define SIG_B64_LEN sodium_base64_ENCODED_LEN(XF_SIG_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)
_Static_assert(XF_REPLY_SIG_MAX >= SIG_B64_LEN, "XF_REPLY_SIG_MAX holds a signature");

static void body_digest_hex(const uint8_t *body, size_t len, char hex[65])
{
	uint8_t digest[32];

	crypto_generichash(digest, sizeof(digest), body, len, NULL, 0);
	sodium_bin2hex(hex, 65, digest, sizeof(digest));
}

/* The bytes a request signature covers. */
static int auth_message(char *buf, size_t size, const char *method, const char *path, uint64_t time_ms,
			const uint8_t *body, size_t len)
{
	char hex[65];
	int n;

	body_digest_hex(body, len, hex);
	n = snprintf(buf, size, "XF1 %s %s %" PRIu64 " %s", method, path, time_ms, hex);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

/* The bytes an answer's signature covers. */
static int reply_message(char *buf, size_t size, const xf_auth *request, const uint8_t *body, size_t len)
{
	char hex[65], b64[SIG_B64_LEN];
	int n;

	body_digest_hex(body, len, hex);
	sodium_bin2base64(b64, sizeof(b64), request->sig, XF_SIG_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = snprintf(buf, size, "XF1 REPLY %s %s", b64, hex);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

int xf_auth_make(const xf_key *key, const char *node, const char *method, const char *path, uint64_t time_ms,
		 const uint8_t *body, size_t len, char out[XF_AUTH_HEADER_MAX])
{
	char msg[512], b64[SIG_B64_LEN];
	uint8_t sig[XF_SIG_BYTES];
	int n;

	if (xf_node_id_check(node) < 0)
		return -EINVAL;
	n = auth_message(msg, sizeof(msg), method, path, time_ms, body, len);
	if (n < 0)
		return n;
	xf_key_sign(key, (const uint8_t *)msg, (size_t)n, sig);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = snprintf(out, XF_AUTH_HEADER_MAX, "XF %s %" PRIu64 " %s", node, time_ms, b64);
	return n < 0 || n >= XF_AUTH_HEADER_MAX ? -ENAMETOOLONG : 0;
}

int xf_auth_parse(const char *header, xf_auth *out)
{
	char node[XF_NODE_ID_MAX + 2], time[24], b64[100];
	unsigned long long t;
	size_t sig_len = 0;
	xf_auth a;
	int used = 0;
	char *end;

	if (!header || strlen(header) >= XF_AUTH_HEADER_MAX)
		return XF_EPROTO;
	/* Exactly "XF node time sig", single spaces, the time all digits. */
	if (sscanf(header, "XF %33[^ ] %23[^ ] %99[^ ]%n", node, time, b64, &used) != 3 || header[used] != '\0' ||
	    strncmp(header, "XF ", 3) != 0 || xf_node_id_check(node) < 0 ||
	    strspn(time, "0123456789") != strlen(time) || strlen(time) > 19 ||
	    (size_t)used != 3 + strlen(node) + 1 + strlen(time) + 1 + strlen(b64))
		return XF_EPROTO;
	errno = 0;
	t = strtoull(time, &end, 10);
	if (errno || *end)
		return XF_EPROTO;
	if (sodium_base642bin(a.sig, sizeof(a.sig), b64, strlen(b64), NULL, &sig_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    sig_len != XF_SIG_BYTES)
		return XF_EPROTO;
	strcpy(a.node, node);
	a.time_ms = (uint64_t)t;
	*out = a;
	return 0;
}

int xf_auth_check(const xf_auth *auth, const uint8_t *pubkey, const char *method, const char *path,
		  const uint8_t *body, size_t len, uint64_t now_ms)
{
	char msg[512];
	uint64_t diff;
	int n, r;

	n = auth_message(msg, sizeof(msg), method, path, auth->time_ms, body, len);
	if (n < 0)
		return n;
	r = xf_sig_verify(pubkey, (const uint8_t *)msg, (size_t)n, auth->sig);
	if (r < 0)
		return r;
	diff = auth->time_ms > now_ms ? auth->time_ms - now_ms : now_ms - auth->time_ms;
	return diff > XF_AUTH_WINDOW_MS ? XF_ESKEW : 0;
}

int xf_reply_sign(const xf_key *key, const xf_auth *request, const uint8_t *body, size_t len,
		  char out[XF_REPLY_SIG_MAX])
{
	uint8_t sig[XF_SIG_BYTES];
	char msg[256];
	int n;

	if (!key || !request || (!body && len) || !out)
		return -EINVAL;
	n = reply_message(msg, sizeof(msg), request, body, len);
	if (n < 0)
		return n;
	xf_key_sign(key, (const uint8_t *)msg, (size_t)n, sig);
	sodium_bin2base64(out, XF_REPLY_SIG_MAX, sig, sizeof(sig), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int xf_reply_check(const char *sig, const uint8_t *pubkey, const xf_auth *request, const uint8_t *body, size_t len)
{
	uint8_t raw[XF_SIG_BYTES];
	size_t raw_len = 0;
	char msg[256];
	int n;

	if (!pubkey || !request || (!body && len))
		return -EINVAL;
	if (!sig || sodium_base642bin(raw, sizeof(raw), sig, strlen(sig), NULL, &raw_len, NULL,
				      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    raw_len != XF_SIG_BYTES)
		return XF_EBADSIG;
	n = reply_message(msg, sizeof(msg), request, body, len);
	if (n < 0)
		return n;
	return xf_sig_verify(pubkey, (const uint8_t *)msg, (size_t)n, raw);
}
