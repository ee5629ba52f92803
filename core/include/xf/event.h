/* Events: the immutable, signed unit of the log.
 *
 * An event's bytes are the msgpack encoding of its envelope, followed by the
 * 64-byte Ed25519 signature of the origin node over that encoding:
 *
 *   [format=1, origin, seq, hlc, prev, type, entity, [parents...], author, body]
 *   ++ signature
 *
 * origin, type, entity, author and each parent ("origin:seq") are msgpack
 * str; seq and hlc uint; prev the 32-byte BLAKE2b hash of the origin's
 * previous event (zeros for seq 1); body a msgpack bin holding a msgpack map.
 * An event's hash is BLAKE2b-256 over all its bytes, signature included, so
 * the signature at the head of a chain vouches for every earlier event.
 *
 * These bytes are what is stored, hashed, sent and relayed; nothing here
 * re-encodes a received event. */
#ifndef XF_EVENT_H
#define XF_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "xf/key.h"
#include "xf/text.h"

#define XF_EVENT_FORMAT   1
#define XF_EVENT_MAX      (64 * 1024) /* bytes of one event, signature included */
#define XF_HASH_BYTES     32
#define XF_TYPE_MAX       32
#define XF_AUTHOR_MAX     64
#define XF_PARENTS_MAX    16

/* A string borrowed from elsewhere, not NUL-terminated. */
typedef struct xf_str {
	const char *ptr;
	size_t len;
} xf_str;

typedef struct xf_event {
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq;
	uint64_t hlc;
	uint8_t prev[XF_HASH_BYTES];
	char type[XF_TYPE_MAX + 1];
	char entity[XF_ENTITY_ID_MAX + 1];
	size_t n_parents;
	xf_str parents[XF_PARENTS_MAX]; /* event ids; borrowed like body */
	char author[XF_AUTHOR_MAX + 1];
	/* Borrowed from the bytes given to xf_event_decode(). */
	const uint8_t *body;
	size_t body_len;
	const uint8_t *bytes; /* the whole event */
	size_t len;
	size_t signed_len;    /* bytes[0..signed_len) is what the signature covers */
	const uint8_t *sig;   /* bytes + signed_len */
} xf_event;

/* Decode BYTES into *out, checking the structure and every limit above but
 * not the signature. *out borrows BYTES. XF_EPROTO for malformed input,
 * XF_ETOOBIG for a field or event over its limit. */
int xf_event_decode(const uint8_t *bytes, size_t len, xf_event *out);

/* Encode and sign a new event from the envelope fields of *ev (origin, seq,
 * hlc, prev, type, entity, parents, author, body; the other fields are
 * ignored) with KEY. On success *out holds malloc'ed bytes the caller frees,
 * and *out_len their length. */
int xf_event_encode(const xf_event *ev, const xf_key *key, uint8_t **out, size_t *out_len);

/* BLAKE2b-256 over an event's bytes. */
void xf_event_hash(const uint8_t *bytes, size_t len, uint8_t hash[XF_HASH_BYTES]);

/* 0 if EV's signature verifies with PUBKEY, XF_EBADSIG otherwise. */
int xf_event_verify(const xf_event *ev, const uint8_t *pubkey);

/* "origin:seq" into BUF. */
void xf_event_id(const char *origin, uint64_t seq, char buf[XF_EVENT_ID_MAX + 1]);

#endif
