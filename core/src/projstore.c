/* Projections kept in the store: each entity's, refreshed in the write
 * transaction that adds one of its events, so a projection never differs
 * from its events as committed. A late event with an earlier clock
 * re-folds its own entity and nothing else.
 *
 * Most entities have one event (a visit, a letter, a risk report): stored
 * folded, its projection would copy the event, doubling what a township
 * writes. Such a lone entity has no row: it is folded from its event when
 * read, and its ingest writes nothing here. Which entities have rows
 * follows from the events alone, so equal logs still store equal bytes;
 * the digest names a lone entity by LONE_MARK and its event's key. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_impl.h"
#include "xf/error.h"
#include "xf/mem.h"
#include "xf/project.h"

/* The first byte of a lone entity's form in the digest; an encoded
 * projection starts with its array's header (projcodec.c), never with
 * this. */
#define LONE_MARK 0x00

/* The key of the event an entity index value REF names. */
static int ref_event_key(const MDB_val *ref, MDB_val *key)
{
	if (ref->mv_size < 8 + 10 || ref->mv_size - 8 > EVENT_KEY_MAX)
		return XF_ECORRUPT;
	*key = (MDB_val){ ref->mv_size - 8, (uint8_t *)ref->mv_data + 8 };
	return 0;
}

/* ENTITY's projection folded from its one event, which REF names. */
static int lone_fold(xf_store *s, MDB_txn *txn, const char *entity, const MDB_val *ref, xf_entity **out)
{
	MDB_val key, bytes;
	xf_event ev;
	int r;

	if ((r = ref_event_key(ref, &key)) < 0)
		return r;
	r = mdb_rc(mdb_get(txn, s->events, &key, &bytes));
	if (r < 0)
		return r == MDB_NOTFOUND ? XF_ECORRUPT : r;
	if (xf_event_decode(bytes.mv_data, bytes.mv_size, &ev) < 0 || strcmp(ev.entity, entity) != 0)
		return XF_ECORRUPT;
	return xf_entity_fold(entity, &ev, 1, out);
}

int projection_touch(xf_store *s, const xf_event *ev)
{
	struct touch *t;

	if (xf_grow(&s->touched, &s->cap_touched, s->n_touched, sizeof(*s->touched)) < 0)
		return -ENOMEM;
	t = &s->touched[s->n_touched];
	t->ev = ev;
	t->order = s->n_touched++;
	return 0;
}

/* ENTITY's row in the projections table, decoded; XF_ENOTFOUND if it has
 * none. */
static int row_get(xf_store *s, MDB_txn *txn, const char *entity, xf_entity **out)
{
	MDB_val k = val_str(entity), v;
	int r = mdb_rc(mdb_get(txn, s->projections, &k, &v));

	if (r == MDB_NOTFOUND)
		return XF_ENOTFOUND;
	return r < 0 ? r : xf_entity_decode(v.mv_data, v.mv_size, out);
}

int projection_at(xf_store *s, MDB_txn *txn, MDB_cursor *cur, const char *entity, const MDB_val *ref,
		  xf_entity **out)
{
	size_t count;
	int r = mdb_rc(mdb_cursor_count(cur, &count));

	if (r < 0 || count == 1)
		return r < 0 ? r : lone_fold(s, txn, entity, ref, out);
	return row_get(s, txn, entity, out);
}

int projection_get(xf_store *s, MDB_txn *txn, const char *entity, xf_entity **out)
{
	MDB_val k = val_str(entity), ref;
	MDB_cursor *cur;
	int r = mdb_rc(mdb_cursor_open(txn, s->entities, &cur));

	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &ref, MDB_SET_KEY));
	if (r == 0)
		r = projection_at(s, txn, cur, entity, &ref, out);
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? XF_ENOTFOUND : r;
}

static int collect_event(xf_store *s, MDB_txn *txn, const xf_event *ev, void *vctx)
{
	entity_events *c = vctx;

	(void)s, (void)txn;
	if (xf_grow(&c->evs, &c->cap, c->n, sizeof(*c->evs)) < 0)
		return -ENOMEM;
	c->evs[c->n++] = *ev;
	return 0;
}

int entity_collect(xf_store *s, MDB_txn *txn, const char *entity, entity_events *out)
{
	memset(out, 0, sizeof(*out));
	return entity_walk(s, txn, entity, collect_event, out);
}

/* Store BYTES (NULL: none) as ENTITY's projection, and whether it is in
 * conflict; WAS_CONFLICTED says what the index held. */
static int projection_put(xf_store *s, MDB_txn *txn, const char *entity, const uint8_t *bytes, size_t len,
			  bool conflicted, bool was_conflicted)
{
	MDB_val k = val_str(entity), v = { len, (void *)bytes };
	int r;

	r = mdb_rc(bytes ? mdb_put(txn, s->projections, &k, &v, 0) : mdb_del(txn, s->projections, &k, NULL));
	if (r < 0 && r != MDB_NOTFOUND)
		return r;
	if (conflicted == was_conflicted)
		return 0;
	v = (MDB_val){ 0, "" };
	r = mdb_rc(conflicted ? mdb_put(txn, s->conflicted, &k, &v, 0) : mdb_del(txn, s->conflicted, &k, NULL));
	return r == MDB_NOTFOUND ? 0 : r;
}

static int is_conflicted(xf_store *s, MDB_txn *txn, const char *entity, bool *yes)
{
	MDB_val k = val_str(entity), v;
	int r = mdb_rc(mdb_get(txn, s->conflicted, &k, &v));

	*yes = r == 0;
	return r == MDB_NOTFOUND ? 0 : r;
}

/* Fold ENTITY afresh and store the result; *DIFFERED, if not NULL, says
 * whether it differs from what was stored. An entity with no events left
 * has no projection. */
static int projection_update(xf_store *s, MDB_txn *txn, const char *entity, bool *differed)
{
	MDB_val k = val_str(entity), old;
	entity_events evs;
	xf_entity *e = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	bool was_conflicted, same, row;
	int r;

	r = entity_collect(s, txn, entity, &evs);
	/* A lone entity has no row, nor one with no events. */
	row = evs.n > 1;
	if (r == 0 && row && (r = xf_entity_fold(entity, evs.evs, evs.n, &e)) == 0)
		r = xf_entity_encode(e, &bytes, &len);
	if (r < 0)
		goto cleanup;
	if ((r = is_conflicted(s, txn, entity, &was_conflicted)) < 0)
		goto cleanup;
	r = mdb_rc(mdb_get(txn, s->projections, &k, &old));
	if (r < 0 && r != MDB_NOTFOUND)
		goto cleanup;
	same = r == MDB_NOTFOUND ? !row && !was_conflicted
				 : row && old.mv_size == len && memcmp(old.mv_data, bytes, len) == 0 &&
					   was_conflicted == (e->n_conflicts > 0);
	if (differed)
		*differed = !same;
	/* Unchanged, as after most rebuilds: nothing to write. */
	r = same ? 0 : projection_put(s, txn, entity, bytes, len, row && e->n_conflicts, was_conflicted);
cleanup:
	free(bytes);
	free(evs.evs);
	xf_entity_free(e);
	return r;
}

static int touch_order(const void *pa, const void *pb)
{
	const struct touch *a = pa, *b = pb;
	int c = strcmp(a->ev->entity, b->ev->entity);

	return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* Does the entity index hold exactly N events of ENTITY? */
static int holds_exactly(xf_store *s, MDB_txn *txn, const char *entity, size_t n, bool *yes)
{
	MDB_cursor *cur;
	MDB_val k = val_str(entity), v;
	size_t count = 0;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->entities, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_KEY));
	if (r == 0)
		r = mdb_rc(mdb_cursor_count(cur, &count));
	mdb_cursor_close(cur);
	*yes = r == 0 && count == n;
	return r == MDB_NOTFOUND ? 0 : r;
}

/* Bring ENTITY's projection up to date with its N new events T, in the
 * order they arrived. The usual case, an event that has seen all the
 * entity's others, folds onto the stored projection; anything else (a
 * late event, a concurrent one) folds the entity afresh. */
static int projection_advance(xf_store *s, MDB_txn *txn, const struct touch *t, size_t n)
{
	const char *entity = t[0].ev->entity;
	xf_entity *e = NULL;
	uint8_t *bytes = NULL;
	size_t i, len;
	bool fresh, was_conflicted;
	int r;

	/* A new entity, the usual case, is one whose new events are all the
	 * index holds of it. One event cannot be in conflict with itself. */
	r = holds_exactly(s, txn, entity, n, &fresh);
	if (r == 0 && fresh && n == 1)
		return 0; /* lone: no row */
	/* Not fresh, the index holds at least two of its events: what to fold
	 * onto is its row (a lone entity gaining its second has none, and is
	 * folded afresh). */
	if (r == 0 && fresh)
		r = xf_entity_fold(entity, NULL, 0, &e);
	else if (r == 0 && (r = row_get(s, txn, entity, &e)) == XF_ENOTFOUND)
		r = XF_ESTATE;
	was_conflicted = r == 0 && e->n_conflicts;
	for (i = 0; r == 0 && i < n; i++)
		r = xf_entity_fold_next(e, t[i].ev);
	if (r == 0)
		r = xf_entity_encode(e, &bytes, &len);
	if (r == 0)
		r = projection_put(s, txn, entity, bytes, len, e->n_conflicts > 0, was_conflicted);
	else if (r == XF_ESTATE || r == XF_ECORRUPT)
		r = projection_update(s, txn, entity, NULL);
	free(bytes);
	xf_entity_free(e);
	return r;
}

int projections_refresh(xf_store *s, MDB_txn *txn)
{
	size_t i, j;
	int r = 0;

	if (s->n_touched == 0 || s->projections_off) {
		s->n_touched = 0;
		return 0;
	}
	qsort(s->touched, s->n_touched, sizeof(*s->touched), touch_order);
	for (i = 0; i < s->n_touched && r == 0; i = j) {
		for (j = i + 1; j < s->n_touched && strcmp(s->touched[j].ev->entity, s->touched[i].ev->entity) == 0; j++)
			;
		r = projection_advance(s, txn, &s->touched[i], j - i);
	}
	s->n_touched = 0;
	return r;
}

struct load_ctx {
	const char *id;
	xf_entity *e;
};

static int load_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct load_ctx *c = vctx;

	return projection_get(s, txn, c->id, &c->e);
}

int xf_entity_load(xf_store *s, const char *id, xf_entity **out)
{
	struct load_ctx c = { id, NULL };
	int r;

	if (!s || !id || !*id || strlen(id) > XF_ENTITY_ID_MAX || !out)
		return -EINVAL;
	r = store_read(s, load_txn, &c);
	if (r < 0)
		return r;
	*out = c.e;
	return 0;
}

struct rebuild_ctx {
	xf_rebuild_report report;
	char (*gone)[XF_ENTITY_ID_MAX + 1];
	size_t n_gone, cap_gone;
};

static int rebuild_one(xf_store *s, MDB_txn *txn, const char *entity, void *vctx)
{
	struct rebuild_ctx *c = vctx;
	bool differed;
	int r;

	r = projection_update(s, txn, entity, &differed);
	if (r < 0)
		return r;
	c->report.entities++;
	c->report.differed += differed;
	return 0;
}

/* A projection whose entity has no events: noted, dropped after the walk. */
static int note_orphan(xf_store *s, MDB_txn *txn, const char *entity, void *vctx)
{
	struct rebuild_ctx *c = vctx;
	MDB_val k = val_str(entity), v;
	int r = mdb_rc(mdb_get(txn, s->entities, &k, &v));

	if (r != MDB_NOTFOUND)
		return r;
	if (xf_grow(&c->gone, &c->cap_gone, c->n_gone, sizeof(*c->gone)) < 0)
		return -ENOMEM;
	snprintf(c->gone[c->n_gone++], XF_ENTITY_ID_MAX + 1, "%s", entity);
	return 0;
}

static int rebuild_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct rebuild_ctx *c = vctx;
	size_t i;
	int r;

	c->report = (xf_rebuild_report){ 0 };
	c->n_gone = 0;
	r = walk_keys(s, txn, s->projections, XF_ENTITY_ID_MAX, note_orphan, c);
	for (i = 0; r == 0 && i < c->n_gone; i++) {
		r = projection_update(s, txn, c->gone[i], NULL);
		c->report.differed++;
	}
	if (r == 0)
		r = walk_keys(s, txn, s->entities, XF_ENTITY_ID_MAX, rebuild_one, c);
	return r;
}

int xf_store_rebuild(xf_store *s, xf_rebuild_report *report)
{
	struct rebuild_ctx c = { 0 };
	int r;

	if (!s)
		return -EINVAL;
	r = store_write(s, rebuild_txn, &c);
	free(c.gone);
	if (r == 0 && report)
		*report = c.report;
	return r;
}

static void digest_field(crypto_generichash_state *h, const void *data, size_t n)
{
	uint8_t len[8];

	be64_put(len, n);
	crypto_generichash_update(h, len, sizeof(len));
	crypto_generichash_update(h, data, n);
}

/* Every entity in key order: its row, or, lone, LONE_MARK and its event's
 * key. */
static int digest_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	crypto_generichash_state *h = vctx;
	uint8_t lone[1 + EVENT_KEY_MAX] = { LONE_MARK };
	MDB_cursor *cur;
	MDB_val k, v, key;
	size_t count;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->entities, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST));
	while (r == 0) {
		if ((r = mdb_rc(mdb_cursor_count(cur, &count))) < 0)
			break;
		if (count == 1) {
			if ((r = ref_event_key(&v, &key)) < 0)
				break;
			memcpy(lone + 1, key.mv_data, key.mv_size);
			digest_field(h, k.mv_data, k.mv_size);
			digest_field(h, lone, 1 + key.mv_size);
		} else if ((r = mdb_rc(mdb_get(txn, s->projections, &k, &v))) == 0) {
			digest_field(h, k.mv_data, k.mv_size);
			digest_field(h, v.mv_data, v.mv_size);
		} else if (r != MDB_NOTFOUND) {
			break;
		}
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

int xf_store_digest(xf_store *s, uint8_t digest[XF_HASH_BYTES])
{
	crypto_generichash_state h;
	int r;

	if (!s || !digest)
		return -EINVAL;
	if ((r = xf_crypto_init()) < 0)
		return r;
	crypto_generichash_init(&h, NULL, 0, XF_HASH_BYTES);
	r = store_read(s, digest_txn, &h);
	if (r == 0)
		crypto_generichash_final(&h, digest, XF_HASH_BYTES);
	return r;
}

struct conflicts_ctx {
	int (*cb)(const char *entity, void *ctx);
	void *ctx;
};

static int conflicted_key(xf_store *s, MDB_txn *txn, const char *entity, void *vctx)
{
	struct conflicts_ctx *c = vctx;

	(void)s, (void)txn;
	return c->cb(entity, c->ctx);
}

static int conflicts_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	return walk_keys(s, txn, s->conflicted, XF_ENTITY_ID_MAX, conflicted_key, vctx);
}

int xf_store_conflicts(xf_store *s, int (*cb)(const char *entity, void *ctx), void *ctx)
{
	struct conflicts_ctx c = { cb, ctx };

	if (!s || !cb)
		return -EINVAL;
	return store_read(s, conflicts_txn, &c);
}
