/* The sync protocol over buffers; see xf/sync.h and daemon/PROTOCOL.md.
 *
 * Client state kept beside the log:
 *   "up:ORIGIN"    the upstream holds ORIGIN's events up to this seq (be64)
 *   "cur:own"      position in this node's feed at the upstream (be64)
 *   "cur:bcast"    position in the upstream's broadcast feed (be64)
 *   "receipt:SEQ"  every signed receipt, by the head seq it vouches for (20 digits)
 * Server state: "seen:NODE" -> [time, node's own head, software, node's clock (0: unknown),
 * our clock when that was read (a bundle is a contact without a clock)];
 * "refused:NODE" -> [time, reason] and "clash:NODE" (status.c, peers.c). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xf/error.h"
#include "xf/mem.h"
#include "xf/sync.h"
#include "xf/text.h"
#include "xf/wire.h"

#define RECEIPT_TAG "xf-receipt"

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p, size_t len)
{
	uint64_t v = 0;

	if (len != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t state_u64(xf_store *s, const char *key)
{
	uint8_t *v = NULL;
	size_t len = 0;
	uint64_t out = 0;

	if (xf_store_state_get(s, key, &v, &len) == 0)
		out = get_be64(v, len);
	free(v);
	return out;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_key(msgpack_packer *pk, const char *key)
{
	pack_str(pk, key);
}

/* A msgpack map's value under KEY, or NULL. */
static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
	size_t n = strlen(key);
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

static bool get_uint(const msgpack_object *map, const char *key, uint64_t *out)
{
	const msgpack_object *o = map_get(map, key);

	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = o->via.u64;
	return true;
}

/* A client's clock offset (the request's "off"): an integer of at most
 * XF_CLOCK_OFFSET_MAX_MS either way. */
static bool get_clock_offset(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)XF_CLOCK_OFFSET_MAX_MS)
		*out = (int64_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= -XF_CLOCK_OFFSET_MAX_MS)
		*out = o->via.i64;
	else
		return false;
	return true;
}

/* Copy a msgpack str into DST (SIZE bytes); false if it is not one or
 * does not fit. */
static bool get_str(const msgpack_object *o, char *dst, size_t size)
{
	if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size ||
	    (o->via.str.size && memchr(o->via.str.ptr, '\0', o->via.str.size)))
		return false;
	/* msgpack-c may give an empty string a NULL pointer. */
	if (o->via.str.size)
		memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = '\0';
	return true;
}

/* Parse one message: a msgpack map and nothing after it. */
static int parse_message(const uint8_t *body, size_t len, msgpack_zone *zone, msgpack_object *root)
{
	size_t off = 0;
	uint64_t v;

	if (len > XF_SYNC_BODY_MAX)
		return XF_ETOOBIG;
	if (!body || xf_msgpack_check(body, len, &off) < 0 || off != len)
		return XF_EPROTO;
	off = 0;
	if (msgpack_unpack((const char *)body, len, &off, zone, root) != MSGPACK_UNPACK_SUCCESS || off != len ||
	    root->type != MSGPACK_OBJECT_MAP || !get_uint(root, "v", &v) || v != XF_SYNC_VERSION)
		return XF_EPROTO;
	return 0;
}

/* The events of a "push" or "pull" array, referenced in place. */
static int get_events(const msgpack_object *map, const char *key, xf_blob **out, size_t *n)
{
	const msgpack_object *a = map_get(map, key);
	xf_blob *blobs;
	uint32_t i;

	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (a->type != MSGPACK_OBJECT_ARRAY)
		return XF_EPROTO;
	if (a->via.array.size > XF_SYNC_BATCH_EVENTS)
		return XF_ETOOBIG;
	if (a->via.array.size == 0)
		return 0;
	blobs = calloc(a->via.array.size, sizeof(*blobs));
	if (!blobs)
		return -ENOMEM;
	for (i = 0; i < a->via.array.size; i++) {
		const msgpack_object *e = &a->via.array.ptr[i];

		if (e->type != MSGPACK_OBJECT_BIN) {
			free(blobs);
			return XF_EPROTO;
		}
		blobs[i].data = (const uint8_t *)e->via.bin.ptr;
		blobs[i].len = e->via.bin.size;
	}
	*out = blobs;
	*n = a->via.array.size;
	return 0;
}

/* ---- origins, each with a seq ---- */

/* A table of origins, as many as the log names (a county holds every
 * village of every township), each with a seq and, for acknowledgements,
 * the hash of the event at it. An entry's address holds until the next
 * origins_add. */
struct origin_seq {
	char id[XF_NODE_ID_MAX + 1];
	uint64_t seq;
	uint8_t hash[XF_HASH_BYTES];
};

struct origins {
	size_t n, cap;
	struct origin_seq *at;
};

static struct origin_seq *origins_find(const struct origins *o, const char *id)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->at[i].id, id) == 0)
			return &o->at[i];
	return NULL;
}

/* A new entry for ID, its seq 0; NULL when out of memory. */
static struct origin_seq *origins_add(struct origins *o, const char *id)
{
	struct origin_seq *grown;
	size_t cap;

	if (o->n == o->cap) {
		cap = o->cap ? 2 * o->cap : 16;
		grown = realloc(o->at, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		o->at = grown;
		o->cap = cap;
	}
	memset(&o->at[o->n], 0, sizeof(o->at[0]));
	snprintf(o->at[o->n].id, sizeof(o->at[0].id), "%s", id);
	return &o->at[o->n++];
}

static void origins_dispose(struct origins *o)
{
	free(o->at);
	*o = (struct origins){ 0 };
}

/* ---- client: the request ---- */

static uint64_t acknowledged(xf_store *s, const char *origin);

/* How far the pushes being built have got, per origin (PROGRESS): a
 * request starts where the upstream's acknowledgement left off, a
 * bundle's next frame where its previous frame stopped. */
static uint64_t *progress_slot(struct origins *progress, xf_store *s, const char *origin)
{
	struct origin_seq *e = origins_find(progress, origin);

	if (!e && (e = origins_add(progress, origin)))
		e->seq = acknowledged(s, origin);
	return e ? &e->seq : NULL;
}

static int origins_copy(struct origins *dst, const struct origins *src)
{
	*dst = (struct origins){ 0 };
	if (!src->n)
		return 0;
	dst->at = malloc(src->n * sizeof(*dst->at));
	if (!dst->at)
		return -ENOMEM;
	memcpy(dst->at, src->at, src->n * sizeof(*dst->at));
	dst->n = dst->cap = src->n;
	return 0;
}

/* A push is walked twice: once to measure the batch (its count heads the
 * array in the body, which goes through deflate as it is packed), once to
 * pack the events the measure took, and no others. */
struct push_ctx {
	msgpack_packer *pk;        /* NULL while measuring */
	const xf_sync_skip *skip;  /* origins left out; NULL: none */
	xf_sync_push *push;
	uint64_t *sent;            /* the origin's progress */
	const struct origins *ends; /* packing: where the measure stopped, per origin */
	uint64_t until;            /* packing: the origin's end */
};

static int push_event(const uint8_t *bytes, size_t len, uint64_t seq, void *vctx)
{
	struct push_ctx *c = vctx;

	if (c->pk ? seq > c->until
		  : c->push->events == XF_SYNC_BATCH_EVENTS || c->push->bytes + len > XF_SYNC_BATCH_BYTES) {
		c->push->full = !c->pk;
		return 1;
	}
	if (c->pk) {
		msgpack_pack_bin(c->pk, len);
		msgpack_pack_bin_body(c->pk, bytes, len);
	}
	c->push->events++;
	c->push->bytes += len;
	*c->sent = seq;
	return 0;
}

/* Origins whose whole chain this node holds, with their heads: those it
 * may push. The sparse ones came from above and are there already. */
static int list_origin(const char *origin, uint64_t seq, bool sparse, void *vctx)
{
	struct origin_seq *e;

	if (sparse)
		return 0;
	if (!(e = origins_add(vctx, origin)))
		return -ENOMEM;
	e->seq = seq;
	return 0;
}

static int push_origin(xf_store *s, struct origins *p, const char *origin, uint64_t head, struct push_ctx *c)
{
	int r;

	c->sent = progress_slot(p, s, origin);
	if (!c->sent)
		return -ENOMEM;
	if (c->ends)
		c->until = origins_find(c->ends, origin)->seq;
	if (head <= *c->sent || (c->ends && c->until <= *c->sent))
		return 0;
	r = xf_store_scan_bytes(s, origin, *c->sent + 1, push_event, c);
	return r == 1 ? 0 : r;
}

static bool skipped(const xf_sync_skip *skip, const char *origin)
{
	size_t i;

	for (i = 0; skip && i < skip->n; i++)
		if (strcmp(skip->origin[i], origin) == 0)
			return true;
	return false;
}

/* Walk the events the upstream lacks, origin by origin of HEADS from
 * progress P: this node's own first, since its enrolments must land
 * before the events of the nodes they enrol. */
static int push_walk(xf_store *s, const struct origins *heads, struct origins *p, struct push_ctx *c)
{
	size_t i, pass;
	int r = 0;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; r == 0 && i < heads->n && !c->push->full; i++)
			if ((strcmp(heads->at[i].id, xf_store_node(s)) == 0) == (pass == 0) &&
			    !skipped(c->skip, heads->at[i].id))
				r = push_origin(s, p, heads->at[i].id, heads->at[i].seq, c);
	return r;
}

/* Measure the batch from progress P into PUSH, moving P to its end; the
 * start is left in *START, a slot for every origin of *HEADS, so that
 * packing reads no acknowledgement the measure did not. */
static int push_measure(xf_store *s, const xf_sync_skip *skip, struct origins *p, struct origins *heads,
			struct origins *start, xf_sync_push *push)
{
	struct push_ctx c = { .skip = skip, .push = push };
	size_t i;
	int r;

	r = xf_store_heads(s, list_origin, heads);
	for (i = 0; r == 0 && i < heads->n; i++)
		if (!progress_slot(p, s, heads->at[i].id))
			r = -ENOMEM;
	if (r == 0)
		r = origins_copy(start, p);
	if (r == 0)
		r = push_walk(s, heads, p, &c);
	return r;
}

/* Pack as bins what the measure took: from START to ENDS, PUSH's events.
 * The log only grows, so the same events are there; fewer would leave the
 * array's count a lie. */
static int push_pack(xf_store *s, const xf_sync_skip *skip, const struct origins *heads, struct origins *start,
		     const struct origins *ends, const xf_sync_push *push, msgpack_packer *pk)
{
	xf_sync_push packed = { 0 };
	struct push_ctx c = { .pk = pk, .skip = skip, .push = &packed, .ends = ends };
	int r = push_walk(s, heads, start, &c);

	if (r == 0 && (packed.events != push->events || packed.bytes != push->bytes))
		r = XF_ECORRUPT;
	return r;
}

/* Fill in the count of the array32 header written as "\xdd\0\0\0\0" at AT. */
static void set_array32_count(msgpack_sbuffer *sb, size_t at, size_t count)
{
	put_be32((uint8_t *)sb->data + at + 1, (uint32_t)count);
}

static void pack_request_fields(msgpack_packer *pk, xf_store *s, const char *software, int64_t clock_offset_ms,
				uint64_t head, bool pushing)
{
	msgpack_pack_map(pk, 4 + pushing + (clock_offset_ms != 0));
	pack_key(pk, "v");
	msgpack_pack_uint8(pk, XF_SYNC_VERSION);
	pack_key(pk, "cur");
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, state_u64(s, "cur:own"));
	msgpack_pack_uint64(pk, state_u64(s, "cur:bcast"));
	pack_key(pk, "head");
	msgpack_pack_uint64(pk, head);
	pack_key(pk, "sw");
	pack_str(pk, software);
	if (clock_offset_ms) {
		pack_key(pk, "off");
		msgpack_pack_int64(pk, clock_offset_ms);
	}
}

/* The request as it travels, into OUT. With nothing to push it is a few
 * plain bytes; with a batch, the whole body goes through deflate as it is
 * packed (*DEFLATED set), so that a village holds its batch compressed
 * only, not twice. P is the progress the batch starts from, moved to its
 * end; the origins in SKIP are left out. */
static int build_request(xf_store *s, const char *software, int64_t clock_offset_ms, const xf_sync_skip *skip,
			 struct origins *p, xf_buf *out, bool *deflated, xf_sync_push *push)
{
	struct origins heads = { 0 }, start = { 0 };
	struct deflater d;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint64_t head;
	uint8_t hash[XF_HASH_BYTES];
	int r;

	memset(push, 0, sizeof(*push));
	*deflated = false;
	r = xf_store_head(s, xf_store_node(s), &head, hash);
	if (r == 0)
		r = push_measure(s, skip, p, &heads, &start, push);
	if (r < 0)
		goto cleanup;
	if (!push->events) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		pack_request_fields(&pk, s, software, clock_offset_ms, head, false);
		if (!sb.data) {
			r = -ENOMEM;
			goto cleanup;
		}
		out->data = (uint8_t *)sb.data;
		out->len = sb.size;
		goto cleanup;
	}
	if ((r = deflater_init(&d)) < 0)
		goto cleanup;
	msgpack_packer_init(&pk, &d, deflater_write);
	pack_request_fields(&pk, s, software, clock_offset_ms, head, true);
	pack_key(&pk, "push");
	msgpack_pack_array(&pk, (uint32_t)push->events);
	r = push_pack(s, skip, &heads, &start, p, push, &pk);
	if (r == 0)
		r = deflater_finish(&d, out);
	deflater_dispose(&d);
	*deflated = r == 0;
cleanup:
	origins_dispose(&heads);
	origins_dispose(&start);
	return r;
}

bool xf_sync_skip_add(xf_sync_skip *skip, const char *event_id)
{
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq;

	if (!skip || !event_id || xf_event_id_parse(event_id, origin, &seq) < 0 || skip->n == XF_SYNC_SKIP_MAX ||
	    skipped(skip, origin))
		return false;
	snprintf(skip->origin[skip->n++], sizeof(skip->origin[0]), "%s", origin);
	return true;
}

int xf_sync_request(xf_store *s, const char *software, int64_t clock_offset_ms, const xf_sync_skip *skip,
		    xf_buf *out, bool *deflated, xf_sync_push *push)
{
	struct origins progress = { 0 };
	int r;

	if (!s || !software || !out || !deflated || !push || clock_offset_ms > XF_CLOCK_OFFSET_MAX_MS ||
	    clock_offset_ms < -XF_CLOCK_OFFSET_MAX_MS)
		return -EINVAL;
	r = build_request(s, software, clock_offset_ms, skip, &progress, out, deflated, push);
	origins_dispose(&progress);
	return r;
}

int xf_sync_pending(xf_store *s, uint64_t *events)
{
	struct origins heads = { 0 };
	uint64_t acked, n = 0;
	size_t i;
	int r;

	if (!s || !events)
		return -EINVAL;
	/* The origins first, then each one's acknowledgement: the reads are
	 * not nested in the walk's transaction. */
	r = xf_store_heads(s, list_origin, &heads);
	for (i = 0; r == 0 && i < heads.n; i++) {
		acked = acknowledged(s, heads.at[i].id);
		if (heads.at[i].seq > acked)
			n += heads.at[i].seq - acked;
	}
	origins_dispose(&heads);
	if (r == 0)
		*events = n;
	return r;
}

/* ---- receipts ---- */

static int receipt_make(const xf_key *key, const xf_receipt *rc, xf_buf *out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t *p;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	pack_str(&pk, RECEIPT_TAG);
	pack_str(&pk, rc->upstream);
	pack_str(&pk, rc->node);
	msgpack_pack_uint64(&pk, rc->seq);
	msgpack_pack_bin(&pk, XF_HASH_BYTES);
	msgpack_pack_bin_body(&pk, rc->hash, XF_HASH_BYTES);
	msgpack_pack_uint64(&pk, rc->time_ms);
	p = sb.data ? realloc(sb.data, sb.size + XF_SIG_BYTES) : NULL;
	if (!p) {
		msgpack_sbuffer_destroy(&sb);
		return -ENOMEM;
	}
	xf_key_sign(key, p, sb.size, p + sb.size);
	out->data = p;
	out->len = sb.size + XF_SIG_BYTES;
	return 0;
}

/* The fields of receipt BYTES, whoever signed them. */
static int receipt_decode(const uint8_t *bytes, size_t len, xf_receipt *out)
{
	msgpack_zone zone;
	msgpack_object root;
	const msgpack_object *f;
	char tag[16];
	xf_receipt rc = { 0 };
	size_t off = 0;
	int r = XF_EPROTO;

	if (!bytes || len <= XF_SIG_BYTES || len > 512 || !out || xf_msgpack_check(bytes, len - XF_SIG_BYTES, &off) < 0)
		return XF_EPROTO;
	off = 0;
	if (!msgpack_zone_init(&zone, 512))
		return -ENOMEM;
	if (msgpack_unpack((const char *)bytes, len - XF_SIG_BYTES, &off, &zone, &root) != MSGPACK_UNPACK_SUCCESS ||
	    off != len - XF_SIG_BYTES || root.type != MSGPACK_OBJECT_ARRAY || root.via.array.size != 6)
		goto cleanup;
	f = root.via.array.ptr;
	if (!get_str(&f[0], tag, sizeof(tag)) || strcmp(tag, RECEIPT_TAG) != 0 ||
	    !get_str(&f[1], rc.upstream, sizeof(rc.upstream)) || !get_str(&f[2], rc.node, sizeof(rc.node)) ||
	    f[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[4].type != MSGPACK_OBJECT_BIN ||
	    f[4].via.bin.size != XF_HASH_BYTES || f[5].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		goto cleanup;
	rc.seq = f[3].via.u64;
	memcpy(rc.hash, f[4].via.bin.ptr, XF_HASH_BYTES);
	rc.time_ms = f[5].via.u64;
	*out = rc;
	r = 0;
cleanup:
	msgpack_zone_destroy(&zone);
	return r;
}

int xf_receipt_check(const uint8_t *bytes, size_t len, const uint8_t *pubkey, xf_receipt *out)
{
	xf_receipt rc;
	int r = receipt_decode(bytes, len, &rc);

	if (r == 0)
		r = xf_sig_verify(pubkey, bytes, len - XF_SIG_BYTES, bytes + len - XF_SIG_BYTES);
	if (r == 0)
		*out = rc;
	return r;
}

struct receipts_ctx {
	xf_buf *kept;
	uint64_t *seqs;
	size_t n, cap;
};

static int keep_receipt(const char *key, const uint8_t *value, size_t len, void *vctx)
{
	struct receipts_ctx *c = vctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		xf_buf *kept = realloc(c->kept, cap * sizeof(*kept));
		uint64_t *seqs = kept ? realloc(c->seqs, cap * sizeof(*seqs)) : NULL;

		if (kept)
			c->kept = kept;
		if (!seqs)
			return -ENOMEM;
		c->seqs = seqs;
		c->cap = cap;
	}
	c->kept[c->n] = (xf_buf){ 0 };
	if (!(c->kept[c->n].data = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(c->kept[c->n].data, value, len);
	c->kept[c->n].len = len;
	c->seqs[c->n++] = strtoull(key + strlen("receipt:"), NULL, 10);
	return 0;
}

struct event_hash_ctx {
	uint64_t seq;
	uint8_t hash[XF_HASH_BYTES];
	bool found;
};

static int hash_first(const uint8_t *bytes, size_t len, uint64_t seq, void *vctx)
{
	struct event_hash_ctx *c = vctx;

	if (seq == c->seq) {
		xf_event_hash(bytes, len, c->hash);
		c->found = true;
	}
	return 1; /* the first event from seq is the only one wanted */
}

static void receipt_status(xf_store *s, const xf_buf *bytes, uint64_t seq, xf_receipt_status *st)
{
	struct event_hash_ctx h = { 0 };
	uint8_t pubkey[XF_PUBKEY_BYTES];
	xf_receipt checked;
	int r;

	memset(st, 0, sizeof(*st));
	st->receipt.seq = seq;
	/* Whose key checks it is named inside. */
	if (receipt_decode(bytes->data, bytes->len, &st->receipt) < 0) {
		st->signature = st->held = XF_EPROTO;
		return;
	}
	h.seq = st->receipt.seq;
	r = xf_store_peer_key(s, st->receipt.upstream, pubkey);
	st->signature = r < 0 ? r : xf_receipt_check(bytes->data, bytes->len, pubkey, &checked);
	r = xf_store_scan_bytes(s, xf_store_node(s), st->receipt.seq, hash_first, &h);
	if (r < 0)
		st->held = r;
	else
		st->held = !h.found ? XF_ENOTFOUND : memcmp(h.hash, st->receipt.hash, XF_HASH_BYTES) ? XF_EFORK : 0;
}

int xf_receipts_scan(xf_store *s, int (*cb)(const xf_receipt_status *r, void *ctx), void *ctx)
{
	struct receipts_ctx c = { 0 };
	xf_receipt_status st;
	size_t i;
	int r;

	if (!s || !cb)
		return -EINVAL;
	/* Collected first: the checks read the store, which may not nest in
	 * the scan's transaction. */
	r = xf_store_state_scan(s, "receipt:", keep_receipt, &c);
	for (i = 0; r == 0 && i < c.n; i++) {
		receipt_status(s, &c.kept[i], c.seqs[i], &st);
		r = cb(&st, ctx);
	}
	for (i = 0; i < c.n; i++)
		xf_buf_dispose(&c.kept[i]);
	free(c.kept);
	free(c.seqs);
	return r;
}

struct matching_ctx {
	uint64_t head, best;
};

static int newest_matching(const xf_receipt_status *st, void *vctx)
{
	struct matching_ctx *c = vctx;

	if (st->signature == 0 && st->held == 0 && st->receipt.seq <= c->head && st->receipt.seq > c->best)
		c->best = st->receipt.seq;
	return 0;
}

/* How far the upstream holds ORIGIN's chain as this node has it: its
 * acknowledgement. Unless this node's own log diverged below that (an old
 * backup restored, a disk that lost its end): then only as far as the
 * newest receipt whose event the log still holds as it was, so that what
 * was recorded since is pushed (and lands upstream as evidence of the
 * fork) rather than taken for acknowledged. */
static uint64_t acknowledged(xf_store *s, const char *origin)
{
	char key[XF_NODE_ID_MAX + 16];
	struct event_hash_ctx h = { 0 };
	struct matching_ctx m = { 0, 0 };
	uint8_t hash[XF_HASH_BYTES], *bytes = NULL;
	uint64_t acked;
	xf_receipt rc;
	size_t len = 0;
	bool diverged;

	snprintf(key, sizeof(key), "up:%s", origin);
	acked = state_u64(s, key);
	if (acked == 0 || strcmp(origin, xf_store_node(s)) != 0 || xf_store_head(s, origin, &m.head, hash) < 0)
		return acked;
	diverged = m.head < acked;
	snprintf(key, sizeof(key), "receipt:%020" PRIu64, acked);
	if (!diverged && xf_store_state_get(s, key, &bytes, &len) == 0 && receipt_decode(bytes, len, &rc) == 0) {
		h.seq = acked;
		diverged = xf_store_scan_bytes(s, origin, acked, hash_first, &h) >= 0 &&
			   (!h.found || memcmp(h.hash, rc.hash, XF_HASH_BYTES) != 0);
	}
	free(bytes);
	if (!diverged || xf_receipts_scan(s, newest_matching, &m) < 0)
		return acked;
	return m.best;
}

/* ---- client: the response ---- */

/* The state to write with the pulled events: one u64 per key, as many as
 * the response names, then at most one raw value (the receipt). */
struct kv_list {
	size_t n, cap;
	struct kv_u64 {
		char key[XF_NODE_ID_MAX + 24];
		uint8_t val[8];
	} *u64;
	xf_kv *kv; /* made by kv_finish() */
};

static int kv_set_u64(struct kv_list *l, const char *key, uint64_t v)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->u64[i].key, key) == 0)
			break;
	if (i == l->n) {
		if (xf_grow(&l->u64, &l->cap, l->n, sizeof(*l->u64)) < 0)
			return -ENOMEM;
		snprintf(l->u64[l->n++].key, sizeof(l->u64[0].key), "%s", key);
	}
	put_be64(l->u64[i].val, v);
	return 0;
}

/* L's values as xf_kv, and RAW (NULL: none) after them; *N says how many. */
static int kv_finish(struct kv_list *l, const xf_kv *raw, size_t *n)
{
	size_t i;

	l->kv = calloc(l->n + 1, sizeof(*l->kv));
	if (!l->kv)
		return -ENOMEM;
	for (i = 0; i < l->n; i++)
		l->kv[i] = (xf_kv){ l->u64[i].key, l->u64[i].val, sizeof(l->u64[i].val) };
	if (raw)
		l->kv[i++] = *raw;
	*n = i;
	return 0;
}

static void kv_dispose(struct kv_list *l)
{
	free(l->u64);
	free(l->kv);
}

/* Pulled events of sparse origins: the upstream holds them, so they are
 * never pushed back. */
static int note_pulled(struct kv_list *l, xf_store *s, const xf_blob *pull, size_t n)
{
	char key[XF_NODE_ID_MAX + 8];
	xf_event ev;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (xf_event_decode(pull[i].data, pull[i].len, &ev) < 0 || strcmp(ev.origin, xf_store_node(s)) == 0)
			continue;
		snprintf(key, sizeof(key), "up:%s", ev.origin);
		if (ev.seq > state_u64(s, key) && (r = kv_set_u64(l, key, ev.seq)) < 0)
			return r;
	}
	return 0;
}

static int read_acks(struct kv_list *l, const msgpack_object *root)
{
	const msgpack_object *acks = map_get(root, "ack");
	char origin[XF_NODE_ID_MAX + 1], key[XF_NODE_ID_MAX + 8];
	uint32_t i;
	int r;

	if (!acks)
		return 0;
	if (acks->type != MSGPACK_OBJECT_MAP)
		return XF_EPROTO;
	for (i = 0; i < acks->via.map.size; i++) {
		const msgpack_object_kv *kv = &acks->via.map.ptr[i];

		if (!get_str(&kv->key, origin, sizeof(origin)) || xf_node_id_check(origin) < 0 ||
		    kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return XF_EPROTO;
		snprintf(key, sizeof(key), "up:%s", origin);
		r = kv_set_u64(l, key, kv->val.via.u64);
		if (r < 0)
			return r;
	}
	return 0;
}

int xf_sync_apply(xf_store *s, const xf_sync_push *push, const xf_auth *request, const uint8_t *resp, size_t len,
		  const char *sig, uint64_t wall_ms, xf_sync_stats *stats)
{
	/* Pulled events refused as come too early (the key of a county above
	 * not here yet) must come again: the cursors wait for them. */
	xf_ingest_opts opts = { .sparse = true, .state_needs_all = true };
	xf_ingest_stats in;
	msgpack_zone zone;
	msgpack_object root;
	const msgpack_object *cur, *rcpt, *o;
	struct kv_list l = { 0 };
	xf_blob *pull = NULL;
	xf_receipt receipt;
	xf_peer upstream;
	xf_kv kept;
	char receipt_key[48];
	size_t n_pull = 0;
	uint64_t v;
	int r;

	if (!s || !push || !request || !resp || !stats)
		return -EINVAL;
	memset(stats, 0, sizeof(*stats));
	stats->pushed = push->events;
	if (!msgpack_zone_init(&zone, 4096))
		return -ENOMEM;
	r = parse_message(resp, len, &zone, &root);
	if (r < 0)
		goto cleanup;
	/* The answer names who signed it; only this node's upstream may. */
	r = XF_EPROTO;
	if (!get_str(map_get(&root, "node"), stats->peer, sizeof(stats->peer)))
		goto cleanup;
	r = xf_store_peer(s, stats->peer, &upstream);
	if (r == XF_ENOTFOUND || (r == 0 && upstream.relation != XF_PEER_UPSTREAM))
		r = XF_EUNKNOWNNODE;
	if (r < 0 || (r = xf_reply_check(sig, upstream.pubkey, request, resp, len)) < 0)
		goto cleanup;
	r = XF_EPROTO;
	cur = map_get(&root, "cur");
	if (!cur || cur->type != MSGPACK_OBJECT_ARRAY || cur->via.array.size != 2 ||
	    cur->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    cur->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		goto cleanup;
	get_uint(&root, "time", &stats->server_ms);
	if (get_uint(&root, "stored", &v))
		stats->stored = v;
	if (get_uint(&root, "rej", &v))
		stats->rejected = v;
	if ((o = map_get(&root, "err")) && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		stats->first_error = (int)o->via.i64;
	get_str(map_get(&root, "bad"), stats->first_rejected, sizeof(stats->first_rejected));
	if (stats->rejected)
		memcpy(stats->first_refused_up, stats->first_rejected, sizeof(stats->first_refused_up));
	o = map_get(&root, "more");
	stats->more = push->full || (o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean);
	if ((r = get_events(&root, "pull", &pull, &n_pull)) < 0 || (r = read_acks(&l, &root)) < 0 ||
	    (r = note_pulled(&l, s, pull, n_pull)) < 0 ||
	    (r = kv_set_u64(&l, "cur:own", cur->via.array.ptr[0].via.u64)) < 0 ||
	    (r = kv_set_u64(&l, "cur:bcast", cur->via.array.ptr[1].via.u64)) < 0)
		goto cleanup;
	rcpt = map_get(&root, "rcpt");
	if (rcpt) {
		r = rcpt->type == MSGPACK_OBJECT_BIN
			    ? xf_receipt_check((const uint8_t *)rcpt->via.bin.ptr, rcpt->via.bin.size, upstream.pubkey, &receipt)
			    : XF_EPROTO;
		if (r == 0 && (strcmp(receipt.node, xf_store_node(s)) || strcmp(receipt.upstream, stats->peer)))
			r = XF_EBADSIG;
		if (r < 0)
			goto cleanup;
		snprintf(receipt_key, sizeof(receipt_key), "receipt:%020" PRIu64, receipt.seq);
		kept = (xf_kv){ receipt_key, rcpt->via.bin.ptr, rcpt->via.bin.size };
		stats->receipt = true;
	}
	if ((r = kv_finish(&l, stats->receipt ? &kept : NULL, &opts.n_state)) < 0)
		goto cleanup;
	opts.state = l.kv;
	r = xf_store_ingest(s, pull, n_pull, wall_ms, &opts, &in);
	if (r < 0)
		goto cleanup;
	stats->pulled = in.stored;
	if (in.rejected && !stats->first_error) {
		stats->first_error = in.first_error;
		snprintf(stats->first_rejected, sizeof(stats->first_rejected), "%s", in.first_rejected);
	}
	stats->rejected += in.rejected;
cleanup:
	kv_dispose(&l);
	free(pull);
	msgpack_zone_destroy(&zone);
	return r;
}

/* ---- server ---- */

/* Called inside the ingest transaction, perhaps more than once for an
 * origin if the transaction is retried: the last word counts. Out of
 * memory, the origin goes unacknowledged this time, and the client sends
 * its events again. */
static void record_ack(const char *origin, uint64_t seq, const uint8_t hash[XF_HASH_BYTES], void *vctx)
{
	struct origin_seq *e = origins_find(vctx, origin);

	if (!e && !(e = origins_add(vctx, origin)))
		return;
	e->seq = seq;
	memcpy(e->hash, hash, XF_HASH_BYTES);
}

struct pull_ctx {
	msgpack_packer *pk;
	size_t events, bytes;
	uint64_t pos;
	bool full;
};

static int pull_event(const uint8_t *bytes, size_t len, uint64_t pos, void *vctx)
{
	struct pull_ctx *c = vctx;

	if (c->events == XF_SYNC_BATCH_EVENTS || c->bytes + len > XF_SYNC_BATCH_BYTES) {
		c->full = true;
		return 1;
	}
	msgpack_pack_bin(c->pk, len);
	msgpack_pack_bin_body(c->pk, bytes, len);
	c->events++;
	c->bytes += len;
	c->pos = pos;
	return 0;
}

/* The events CLIENT may see after its cursors, packed as bins by C; the
 * new cursors into CUR. */
static int pack_pull(xf_store *s, const char *client, uint64_t cur[2], struct pull_ctx *c)
{
	char feed[XF_NODE_ID_MAX + 2];
	int r;

	/* Broadcast first: it carries the upstream keys that the events of
	 * the child's own feed may need to be verified with. */
	c->pos = cur[1];
	r = xf_store_feed_scan(s, XF_FEED_BROADCAST, cur[1], pull_event, c);
	cur[1] = c->pos;
	if (r < 0 || c->full)
		return r < 0 ? r : 0;
	xf_feed_name(client, feed);
	c->pos = cur[0];
	r = xf_store_feed_scan(s, feed, cur[0], pull_event, c);
	cur[0] = c->pos;
	return r < 0 ? r : 0;
}

/* SEEN as stored under "seen:CLIENT" (KEY) into SB. */
static int seen_record(const char *client, const struct seen *seen, msgpack_sbuffer *sb,
		       char key[XF_NODE_ID_MAX + 8])
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint64(&pk, seen->time_ms);
	msgpack_pack_uint64(&pk, seen->head);
	pack_str(&pk, seen->software);
	msgpack_pack_uint64(&pk, seen->client_ms);
	msgpack_pack_uint64(&pk, seen->clock_at_ms);
	msgpack_pack_int64(&pk, seen->clock_offset_ms);
	snprintf(key, XF_NODE_ID_MAX + 8, "seen:%s", client);
	return sb->data ? 0 : -ENOMEM;
}

int seen_get(xf_store *s, const char *node, struct seen *out)
{
	char key[XF_NODE_ID_MAX + 8];
	msgpack_unpacked u;
	uint8_t *v = NULL;
	size_t len = 0, off = 0;
	int r;

	snprintf(key, sizeof(key), "seen:%s", node);
	if ((r = xf_store_state_get(s, key, &v, &len)) < 0)
		return r;
	memset(out, 0, sizeof(*out));
	r = XF_ECORRUPT;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)v, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size >= 3) {
		const msgpack_object *f = u.data.via.array.ptr;

		if (f[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			out->time_ms = f[0].via.u64;
		if (f[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			out->head = f[1].via.u64;
		if (f[2].type == MSGPACK_OBJECT_STR)
			snprintf(out->software, sizeof(out->software), "%.*s", (int)f[2].via.str.size, f[2].via.str.ptr);
		if (u.data.via.array.size >= 4 && f[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			out->client_ms = f[3].via.u64;
		/* Written before bundles kept it apart: read at the contact. */
		out->clock_at_ms = out->time_ms;
		if (u.data.via.array.size >= 5 && f[4].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			out->clock_at_ms = f[4].via.u64;
		if (u.data.via.array.size >= 6 && !get_clock_offset(&f[5], &out->clock_offset_ms))
			out->clock_offset_ms = 0;
		r = 0;
	}
	msgpack_unpacked_destroy(&u);
	free(v);
	return r;
}

/* Was this request signed before the last one served to CLIENT? Then it
 * is a replay (a duplicate on the wire, a captured request sent again):
 * its events are stored at most once as ever, but its old head says
 * nothing about the client's log now, and it must not undo what the
 * newer request recorded. */
static int is_stale(xf_store *s, const char *client, uint64_t client_ms, bool *stale)
{
	struct seen last;
	int r = seen_get(s, client, &last);

	/* A replay passes the signature's time check only while that is
	 * within the window of the server's clock: a request signed longer
	 * before the last one is no replay but a client whose clock (or the
	 * offset it learnt from ours) was set back, and is judged as new. */
	*stale = r == 0 && client_ms && client_ms < last.client_ms &&
		 last.client_ms - client_ms <= 2 * (uint64_t)XF_AUTH_WINDOW_MS;
	return r == XF_ENOTFOUND || r == XF_ECORRUPT ? 0 : r;
}

/* A client whose own head is below what this node holds of it has lost
 * events it sent. */
static int rollback_check(xf_store *s, const char *client, uint64_t head, xf_sync_stats *stats)
{
	uint8_t hash[XF_HASH_BYTES];
	uint64_t held = 0;
	int r = xf_store_head(s, client, &held, hash);

	if (r < 0 && r != XF_ENOTFOUND)
		return r;
	stats->rollback = head < held;
	stats->claimed_head = head;
	stats->held_head = held;
	return 0;
}

int xf_sync_serve(xf_store *s, const xf_key *key, const xf_auth *request, const uint8_t *req, size_t len,
		  uint64_t wall_ms, xf_buf *out, char sig[XF_REPLY_SIG_MAX], xf_sync_stats *stats)
{
	const char *client = request ? request->node : NULL;
	uint64_t client_ms = request ? request->time_ms : 0;
	msgpack_zone zone;
	msgpack_object root;
	msgpack_sbuffer sb, pulled, seen;
	msgpack_packer pk, ppk;
	const msgpack_object *curo;
	struct pull_ctx pc = { &ppk, 0, 0, 0, false };
	xf_ingest_opts opts = { 0 };
	xf_ingest_stats in = { 0 };
	xf_buf receipt = { 0 };
	struct origins acks = { 0 };
	const struct origin_seq *own;
	xf_blob *push = NULL;
	xf_peer peer;
	xf_kv seen_kv;
	char software[64] = "", seen_key[XF_NODE_ID_MAX + 8];
	uint64_t cur[2], head = 0;
	int64_t clock_offset_ms = 0;
	size_t n_push = 0, i;
	struct seen contact;
	bool stale = false;
	int r;

	if (!s || !key || !request || !req || !out || !sig || !stats)
		return -EINVAL;
	memset(stats, 0, sizeof(*stats));
	snprintf(stats->peer, sizeof(stats->peer), "%s", client);
	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&pulled);
	msgpack_sbuffer_init(&seen);
	msgpack_packer_init(&ppk, &pulled, msgpack_sbuffer_write);
	if (!msgpack_zone_init(&zone, 4096))
		return -ENOMEM;
	r = xf_store_peer(s, client, &peer);
	if (r == XF_ENOTFOUND || (r == 0 && !xf_relation_is_child(peer.relation)))
		r = -EPERM;
	if (r < 0)
		goto cleanup;
	if ((r = parse_message(req, len, &zone, &root)) < 0)
		goto cleanup;
	r = XF_EPROTO;
	curo = map_get(&root, "cur");
	if (!curo || curo->type != MSGPACK_OBJECT_ARRAY || curo->via.array.size != 2 ||
	    curo->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    curo->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		goto cleanup;
	cur[0] = curo->via.array.ptr[0].via.u64;
	cur[1] = curo->via.array.ptr[1].via.u64;
	get_uint(&root, "head", &head);
	if (map_get(&root, "off") && !get_clock_offset(map_get(&root, "off"), &clock_offset_ms))
		goto cleanup;
	if ((r = is_stale(s, client, client_ms, &stale)) < 0 || (!stale && (r = rollback_check(s, client, head, stats)) < 0))
		goto cleanup;
	/* The software string is shown in status: jansson drops a key whose
	 * value is not UTF-8, and control characters garble a terminal. */
	r = XF_EPROTO;
	if (map_get(&root, "sw") && (!get_str(map_get(&root, "sw"), software, sizeof(software)) ||
				     xf_text_check(software, sizeof(software) - 1) < 0))
		goto cleanup;
	if ((r = get_events(&root, "push", &push, &n_push)) < 0)
		goto cleanup;
	contact = (struct seen){ .time_ms = wall_ms, .head = head, .client_ms = client_ms, .clock_at_ms = wall_ms,
				 .clock_offset_ms = clock_offset_ms };
	snprintf(contact.software, sizeof(contact.software), "%s", software);
	if ((r = seen_record(client, &contact, &seen, seen_key)) < 0)
		goto cleanup;
	seen_kv = (xf_kv){ seen_key, seen.data, seen.size };
	opts.state = &seen_kv;
	opts.n_state = stale ? 0 : 1;
	opts.on_head = record_ack;
	opts.ctx = &acks;
	opts.sender = client;
	r = xf_store_ingest(s, push, n_push, wall_ms, &opts, &in);
	if (r < 0)
		goto cleanup;
	stats->pushed = n_push;
	stats->stored = in.stored;
	stats->rejected = in.rejected;
	stats->unkept = in.unkept;
	stats->first_error = in.first_error;
	snprintf(stats->first_rejected, sizeof(stats->first_rejected), "%s", in.first_rejected);
	own = origins_find(&acks, client);
	if (own) {
		xf_receipt rc = { .seq = own->seq, .time_ms = wall_ms };

		snprintf(rc.upstream, sizeof(rc.upstream), "%s", xf_store_node(s));
		snprintf(rc.node, sizeof(rc.node), "%s", client);
		memcpy(rc.hash, own->hash, XF_HASH_BYTES);
		if ((r = receipt_make(key, &rc, &receipt)) < 0)
			goto cleanup;
	}
	if ((r = pack_pull(s, client, cur, &pc)) < 0)
		goto cleanup;
	stats->pulled = pc.events;
	stats->more = pc.full;
	stats->server_ms = wall_ms;

	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4 + (acks.n ? 1 : 0) + (in.stored ? 1 : 0) + (in.rejected ? 3 : 0) +
				      (receipt.data ? 1 : 0) + (pc.events ? 1 : 0) + (pc.full ? 1 : 0));
	pack_key(&pk, "v");
	msgpack_pack_uint8(&pk, XF_SYNC_VERSION);
	pack_key(&pk, "node");
	pack_str(&pk, xf_store_node(s));
	pack_key(&pk, "time");
	msgpack_pack_uint64(&pk, wall_ms);
	pack_key(&pk, "cur");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, cur[0]);
	msgpack_pack_uint64(&pk, cur[1]);
	if (acks.n) {
		pack_key(&pk, "ack");
		msgpack_pack_map(&pk, acks.n);
		for (i = 0; i < acks.n; i++) {
			pack_str(&pk, acks.at[i].id);
			msgpack_pack_uint64(&pk, acks.at[i].seq);
		}
	}
	if (in.stored) {
		pack_key(&pk, "stored");
		msgpack_pack_uint64(&pk, in.stored);
	}
	if (in.rejected) {
		pack_key(&pk, "rej");
		msgpack_pack_uint64(&pk, in.rejected);
		pack_key(&pk, "err");
		msgpack_pack_int(&pk, in.first_error);
		pack_key(&pk, "bad");
		pack_str(&pk, in.first_rejected);
	}
	if (receipt.data) {
		pack_key(&pk, "rcpt");
		msgpack_pack_bin(&pk, receipt.len);
		msgpack_pack_bin_body(&pk, receipt.data, receipt.len);
	}
	if (pc.events) {
		pack_key(&pk, "pull");
		msgpack_pack_array(&pk, pc.events);
		msgpack_sbuffer_write(&sb, pulled.data, pulled.size);
	}
	if (pc.full) {
		pack_key(&pk, "more");
		msgpack_pack_true(&pk);
	}
	if (!sb.data) {
		r = -ENOMEM;
		goto cleanup;
	}
	if ((r = xf_reply_sign(key, request, (const uint8_t *)sb.data, sb.size, sig)) < 0)
		goto cleanup;
	out->data = (uint8_t *)sb.data;
	out->len = sb.size;
	sb.data = NULL;
	r = 0;
cleanup:
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&pulled);
	msgpack_sbuffer_destroy(&seen);
	msgpack_zone_destroy(&zone);
	xf_buf_dispose(&receipt);
	origins_dispose(&acks);
	free(push);
	return r;
}

/* ---- bundles ----
 *
 * "XFBUNDLE1\n", then frames: a 4-byte big-endian length and that many
 * bytes of a deflated request body, exactly as it would travel over HTTP. */

#define BUNDLE_MAGIC "XFBUNDLE1\n"
#define BUNDLE_FRAMES_MAX 100000

static int write_all(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -EIO;
}

static int write_frame(FILE *f, const xf_buf *wire)
{
	uint8_t len[4];
	int r;

	put_be32(len, (uint32_t)wire->len);
	r = write_all(f, len, 4);
	if (r == 0)
		r = write_all(f, wire->data, wire->len);
	return r;
}

/* Builds a bundle's next frame into WIRE, deflated (nothing when it has
 * no events); clears *more after the last. */
typedef int (*frame_fn)(xf_store *s, void *ctx, xf_buf *wire, size_t *events, bool *more);

/* A new file only this user may read, the magic, then NEXT's frames; no
 * file at all if anything fails. */
static int bundle_write(xf_store *s, const char *path, frame_fn next, void *ctx, size_t *events)
{
	xf_buf wire = { 0 };
	size_t n;
	bool more = true;
	FILE *f;
	int fd, r;

	*events = 0;
	/* Petitioners' names and phone numbers: for this user only, like
	 * the data dir. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = write_all(f, BUNDLE_MAGIC, strlen(BUNDLE_MAGIC));
	while (r == 0 && more) {
		n = 0;
		r = next(s, ctx, &wire, &n, &more);
		if (r == 0 && n)
			r = write_frame(f, &wire);
		*events += n;
		xf_buf_dispose(&wire);
	}
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

static int next_push_frame(xf_store *s, void *ctx, xf_buf *wire, size_t *events, bool *more)
{
	xf_sync_push push;
	bool deflated;
	int r = build_request(s, "bundle", 0, NULL, ctx, wire, &deflated, &push);

	*events = push.events;
	*more = r == 0 && push.full;
	return r;
}

/* Export moves nothing in the store: what the upstream has taken is
 * learnt at the next sync, and a bundle made twice carries the same. */
int xf_bundle_export(xf_store *s, const char *path, size_t *events)
{
	struct origins progress = { 0 };
	int r;

	if (!s || !path || !events)
		return -EINVAL;
	r = bundle_write(s, path, next_push_frame, &progress, events);
	origins_dispose(&progress);
	return r;
}

struct down {
	const char *child;
	uint64_t cur[2]; /* where the next frame starts in the broadcast and the child's feeds */
};

/* {"v", "node": this node, "for": the child, "pull": [events]}: what an
 * answer to the child's sync would carry, from the start of its feeds. */
static int next_pull_frame(xf_store *s, void *ctx, xf_buf *wire, size_t *events, bool *more)
{
	struct down *d = ctx;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct pull_ctx pc = { &pk, 0, 0, 0, false };
	size_t count_at;
	int r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pack_key(&pk, "v");
	msgpack_pack_uint8(&pk, XF_SYNC_VERSION);
	pack_key(&pk, "node");
	pack_str(&pk, xf_store_node(s));
	pack_key(&pk, "for");
	pack_str(&pk, d->child);
	pack_key(&pk, "pull");
	count_at = sb.size;
	msgpack_sbuffer_write(&sb, "\xdd\0\0\0\0", 5);
	r = pack_pull(s, d->child, d->cur, &pc);
	if (r == 0 && !sb.data)
		r = -ENOMEM;
	if (r < 0) {
		msgpack_sbuffer_destroy(&sb);
		return r;
	}
	set_array32_count(&sb, count_at, pc.events);
	r = xf_deflate((const uint8_t *)sb.data, sb.size, wire);
	msgpack_sbuffer_destroy(&sb);
	*events = pc.events;
	*more = pc.full;
	return r;
}

int xf_bundle_export_for(xf_store *s, const char *child, const char *path, size_t *events)
{
	struct down d = { child, { 0, 0 } };
	xf_peer peer;
	int r;

	if (!s || !child || !path || !events)
		return -EINVAL;
	r = xf_store_peer(s, child, &peer);
	if (r == 0 && !xf_relation_is_child(peer.relation))
		r = XF_ENOTFOUND;
	if (r < 0)
		return r;
	return bundle_write(s, path, next_pull_frame, &d, events);
}

static int read_frame(FILE *f, xf_buf *out)
{
	uint8_t len[4];
	size_t n, got;
	int r;

	got = fread(len, 1, 4, f);
	if (got == 0 && feof(f))
		return 1;
	if (got != 4)
		return XF_EPROTO;
	n = (size_t)len[0] << 24 | (size_t)len[1] << 16 | (size_t)len[2] << 8 | len[3];
	if (n == 0 || n > XF_SYNC_WIRE_MAX)
		return n ? XF_ETOOBIG : XF_EPROTO;
	out->data = malloc(n);
	if (!out->data)
		return -ENOMEM;
	out->len = n;
	r = fread(out->data, 1, n, f) == n ? 0 : XF_EPROTO;
	if (r < 0)
		xf_buf_dispose(out);
	return r;
}

static void add_stats(xf_ingest_stats *sum, const xf_ingest_stats *in)
{
	sum->stored += in->stored;
	sum->duplicates += in->duplicates;
	sum->forks += in->forks;
	sum->rejected += in->rejected;
	sum->quarantined += in->quarantined;
	sum->unkept += in->unkept;
	if (!sum->first_error && in->first_error) {
		sum->first_error = in->first_error;
		memcpy(sum->first_rejected, in->first_rejected, sizeof(sum->first_rejected));
	}
}

/* A frame from below was heard from the children whose events in it
 * agree with what this node holds (AGREED: those it would acknowledge),
 * as a sync is: their "seen:" records, each head at least what is held
 * now. Written after the frame's transaction, being status, not log. */
static int bundle_seen(xf_store *s, const struct origins *agreed, uint64_t wall_ms)
{
	char key[XF_NODE_ID_MAX + 8];
	msgpack_sbuffer sb;
	struct seen last;
	xf_peer peer;
	xf_kv kv;
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < agreed->n; i++) {
		const struct origin_seq *e = &agreed->at[i];

		if (xf_store_peer(s, e->id, &peer) < 0 || !xf_relation_is_child(peer.relation))
			continue;
		last = (struct seen){ 0 };
		r = seen_get(s, e->id, &last);
		if (r < 0 && r != XF_ENOTFOUND && r != XF_ECORRUPT)
			break;
		/* Heard from now; its clock still as last read over HTTP. */
		last.time_ms = wall_ms;
		last.head = e->seq > last.head ? e->seq : last.head;
		if (!last.software[0])
			snprintf(last.software, sizeof(last.software), "bundle");
		msgpack_sbuffer_init(&sb);
		r = seen_record(e->id, &last, &sb, key);
		kv = (xf_kv){ key, sb.data, sb.size };
		if (r == 0)
			r = xf_store_state_put(s, &kv, 1);
		msgpack_sbuffer_destroy(&sb);
	}
	return r;
}

/* A frame from below ("push": at a township or county), or one this
 * node's upstream made for it ("for" this node, and "pull"). */
static int frame_ingest(xf_store *s, const msgpack_object *root, bool village, uint64_t wall_ms,
			xf_ingest_stats *in, char made_for[XF_NODE_ID_MAX + 1])
{
	static const xf_ingest_opts above = { .sparse = true, .from_above = true };
	struct origins agreed = { 0 };
	xf_ingest_opts below = { .from_below = true, .on_head = record_ack, .ctx = &agreed };
	const msgpack_object *to = map_get(root, "for");
	xf_blob *events = NULL;
	size_t n;
	int r;

	made_for[0] = '\0';
	if (to && !get_str(to, made_for, XF_NODE_ID_MAX + 1))
		return XF_EPROTO;
	if (to ? strcmp(made_for, xf_store_node(s)) != 0 : village)
		return XF_ESCOPE;
	r = get_events(root, to ? "pull" : "push", &events, &n);
	if (r == 0)
		r = xf_store_ingest(s, events, n, wall_ms, to ? &above : &below, in);
	/* A frame of nothing but refusals is no word from anyone. */
	if (r == 0 && !to && in->stored + in->duplicates > 0)
		r = bundle_seen(s, &agreed, wall_ms);
	origins_dispose(&agreed);
	free(events);
	return r;
}

/* Each frame lands in its own transaction, like each HTTP batch: a bad
 * frame stops the import, and what landed before it stays (and would land
 * again, unchanged, if the file is imported twice). */
int xf_bundle_import(xf_store *s, const char *path, uint64_t wall_ms, xf_ingest_stats *stats,
		     char made_for[XF_NODE_ID_MAX + 1])
{
	char magic[sizeof(BUNDLE_MAGIC) - 1], role[XF_ROLE_MAX], addressee[XF_NODE_ID_MAX + 1] = "";
	xf_buf wire = { 0 }, body = { 0 };
	xf_ingest_stats in;
	msgpack_zone zone;
	msgpack_object root;
	size_t frames = 0;
	FILE *f;
	int r;

	if (!s || !path || !stats)
		return -EINVAL;
	memset(stats, 0, sizeof(*stats));
	if ((r = xf_store_role(s, role)) < 0)
		return r;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	errno = 0;
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) || memcmp(magic, BUNDLE_MAGIC, sizeof(magic)) != 0) {
		/* A file that cannot be read (a directory opens) is not a damaged bundle. */
		r = ferror(f) ? (errno ? -errno : -EIO) : XF_EPROTO;
		fclose(f);
		return r;
	}
	while ((r = read_frame(f, &wire)) == 0) {
		if (++frames > BUNDLE_FRAMES_MAX) {
			r = XF_ETOOBIG;
			break;
		}
		r = xf_inflate(wire.data, wire.len, XF_SYNC_BODY_MAX, true, &body);
		xf_buf_dispose(&wire);
		if (r < 0)
			break;
		if (!msgpack_zone_init(&zone, 4096)) {
			r = -ENOMEM;
			break;
		}
		r = parse_message(body.data, body.len, &zone, &root);
		if (r == 0)
			r = frame_ingest(s, &root, strcmp(role, "village") == 0, wall_ms, &in, addressee);
		if (r == 0)
			add_stats(stats, &in);
		msgpack_zone_destroy(&zone);
		xf_buf_dispose(&body);
		if (r < 0)
			break;
	}
	fclose(f);
	if (made_for)
		snprintf(made_for, XF_NODE_ID_MAX + 1, "%s", addressee);
	return r == 1 ? 0 : r;
}
