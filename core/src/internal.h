/* Helpers shared by core modules; not part of the public API. */
#ifndef XF_INTERNAL_H
#define XF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

#include "xf/wire.h"

/* sodium_init(), idempotent. */
int xf_crypto_init(void);

/* Write a file so that it survives a crash whole or not at all: temporary
 * file, fsync, rename, fsync of the directory. Unless REPLACE, an existing
 * file is left alone and -EEXIST returned. */
int xf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool replace);

/* 0 if P holds one well-formed msgpack object within LEN bytes whose
 * array and map counts are possible in those bytes (*USED: its length);
 * XF_EPROTO otherwise. Run on anything from a peer before msgpack-c,
 * which allocates for claimed counts. */
int xf_msgpack_check(const uint8_t *p, size_t len, size_t *used);

/* A zlib-wrapped deflate stream fed piece by piece (wire.c): a body
 * packed straight through one is never held uncompressed. The output is
 * what xf_deflate makes of the same bytes, give or take block boundaries.
 * deflater_write has the shape of msgpack's packer callback: a write
 * after a failure does nothing, and deflater_finish reports the first
 * failure. deflater_finish hands the stream's bytes to OUT (the caller
 * owns them then); deflater_dispose frees what is left either way. */
struct deflater {
	z_stream zs;
	xf_buf out;
	size_t cap;
	int err;
};
int deflater_init(struct deflater *d);
int deflater_write(void *d, const char *p, size_t n);
int deflater_finish(struct deflater *d, xf_buf *out);
void deflater_dispose(struct deflater *d);

/* Projection values (project.c): free what A holds and leave it empty;
 * deep-copy SRC into DST (which holds nothing yet). */
struct xf_attr;
void attr_clear(struct xf_attr *a);
int attr_copy(struct xf_attr *dst, const struct xf_attr *src);

/* What a township keeps of a child's latest sync, "seen:NODE" in its
 * state (written by sync.c, read by status.c too). */
struct seen {
	uint64_t time_ms;    /* when it was served */
	uint64_t head;       /* the child's own head, as it said */
	char software[64];
	uint64_t client_ms;  /* the child's clock when it signed; 0: unknown */
	int64_t clock_offset_ms; /* what the child added to its own clock to sign */
	uint64_t clock_at_ms; /* our clock then: a bundle is a contact, but
			       * carries no clock to compare */
};
/* 0 with *out filled, XF_ENOTFOUND if never seen, XF_ECORRUPT if unreadable. */
struct xf_store;
int seen_get(struct xf_store *s, const char *node, struct seen *out);

#define XF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
