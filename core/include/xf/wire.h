/* What travels between nodes, below the sync protocol: compression with
 * limits, and request authentication by the node's own key.
 *
 * A request carries "Authorization: XF <node> <time-ms> <signature>", the
 * signature (base64url, no padding) being the node's Ed25519 signature
 * over "XF1 <method> <path> <time-ms> <hex BLAKE2b-256 of the body as
 * sent>". No secret is shared: the server checks it with the node's
 * enrolled public key and refuses a time too far from its own.
 *
 * The answer carries "X-Xf-Sig: <signature>", the server's signature over
 * "XF1 REPLY <the request's signature, base64url> <hex BLAKE2b-256 of the
 * answer's body, inflated>". The client checks it with the key it enrolled
 * for its upstream before it believes a word: an answer altered on the way,
 * or an old one passed off as the answer to this request, is refused. */
#ifndef XF_WIRE_H
#define XF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xf/key.h"
#include "xf/text.h"

#define XF_AUTH_HEADER_MAX 192
#define XF_AUTH_WINDOW_MS (5 * 60 * 1000)

/* An owned byte buffer. */
typedef struct xf_buf {
	uint8_t *data;
	size_t len;
} xf_buf;

/* Frees the bytes and empties the buffer; accepts an empty one. */
void xf_buf_dispose(xf_buf *b);

/* zlib-wrapped deflate ("Content-Encoding: deflate"). */
int xf_deflate(const uint8_t *in, size_t len, xf_buf *out);

/* Inflate IN (zlib or gzip), refusing to produce more than MAX bytes: XF_ETOOBIG for a
 * body that would (a deflate bomb stops there, having cost MAX bytes),
 * XF_EPROTO for input that is not zlib data or is truncated or followed by
 * trailing bytes. CHECKSUM false skips the stream's Adler-32 or CRC-32, for
 * a body whose signature is checked over these bytes or what they inflate
 * to: the signature proves more than the checksum could, at no extra cost. */
int xf_inflate(const uint8_t *in, size_t len, size_t max, bool checksum, xf_buf *out);

/* Write the Authorization header value for a request into OUT. */
int xf_auth_make(const xf_key *key, const char *node, const char *method, const char *path, uint64_t time_ms,
		 const uint8_t *body, size_t len, char out[XF_AUTH_HEADER_MAX]);

typedef struct xf_auth {
	char node[XF_NODE_ID_MAX + 1];
	uint64_t time_ms;
	uint8_t sig[XF_SIG_BYTES];
} xf_auth;

/* Parse an Authorization header value. XF_EPROTO when malformed. */
int xf_auth_parse(const char *header, xf_auth *out);

/* Check a parsed header against the node's PUBKEY and the request. Returns
 * 0, XF_EBADSIG, or XF_ESKEW when the time is more than XF_AUTH_WINDOW_MS
 * from NOW_MS (the signature is checked first, so a skew refusal is only
 * given to the real node). */
int xf_auth_check(const xf_auth *auth, const uint8_t *pubkey, const char *method, const char *path,
		  const uint8_t *body, size_t len, uint64_t now_ms);

#define XF_REPLY_HEADER  "X-Xf-Sig"
#define XF_REPLY_SIG_MAX 88

/* Sign BODY, the answer to REQUEST, into OUT (base64url, no padding). */
int xf_reply_sign(const xf_key *key, const xf_auth *request, const uint8_t *body, size_t len,
		  char out[XF_REPLY_SIG_MAX]);

/* Check SIG, the header value that came with BODY, as the signature of
 * PUBKEY's owner over BODY as the answer to REQUEST. XF_EBADSIG when it is
 * missing (NULL or empty), malformed or does not verify. */
int xf_reply_check(const char *sig, const uint8_t *pubkey, const xf_auth *request, const uint8_t *body, size_t len);

#endif
