/* The log: events, heads, the entity index, verification. The layout of
 * the databases is described in store_impl.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "store_impl.h"
#include "xf/error.h"
#include "xf/body.h"
#include "xf/hlc.h"
#include "xf/project.h"
#include "xf/store.h"

#define MAP_SIZE_INITIAL (32u << 20)
#define ENTITY_REF_MAX (8 + XF_NODE_ID_MAX + 1 + 8)

int mdb_rc(int rc)
{
	return rc > 0 ? -rc : rc;
}

/* At the API boundary: LMDB codes become ours. */
int public_rc(int r)
{
	switch (r) {
	case MDB_NOTFOUND:
		return XF_ENOTFOUND;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return XF_ECORRUPT;
	default:
		if (r >= MDB_KEYEXIST && r <= MDB_LAST_ERRCODE)
			return XF_ESTORE;
		return r;
	}
}

void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

size_t event_key(uint8_t *buf, const char *origin, uint64_t seq)
{
	size_t n = strlen(origin);

	memcpy(buf, origin, n + 1);
	be64_put(buf + n + 1, seq);
	return n + 1 + 8;
}

/* Split an events key back into origin and seq. */
int event_key_parse(const MDB_val *k, char origin[XF_NODE_ID_MAX + 1], uint64_t *seq)
{
	const uint8_t *p = k->mv_data;
	size_t n;

	if (k->mv_size < 10 || k->mv_size > EVENT_KEY_MAX)
		return XF_ECORRUPT;
	n = k->mv_size - 9;
	if (p[n] != '\0' || memchr(p, '\0', n))
		return XF_ECORRUPT;
	memcpy(origin, p, n);
	origin[n] = '\0';
	*seq = be64_get(p + n + 1);
	return 0;
}

MDB_val val_str(const char *s)
{
	return (MDB_val){ .mv_size = strlen(s), .mv_data = (void *)s };
}

/* Every transaction holds the resize lock shared until it ends. */
static int txn_begin(xf_store *s, unsigned flags, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&s->resize_lock);
	rc = mdb_txn_begin(s->env, NULL, flags, txn);

	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size, with no other
		 * transaction of ours open. */
		pthread_rwlock_unlock(&s->resize_lock);
		pthread_rwlock_wrlock(&s->resize_lock);
		rc = mdb_env_set_mapsize(s->env, 0);
		pthread_rwlock_unlock(&s->resize_lock);
		pthread_rwlock_rdlock(&s->resize_lock);
		if (rc == 0)
			rc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	if (rc != 0)
		pthread_rwlock_unlock(&s->resize_lock);
	return mdb_rc(rc);
}

static int txn_commit(xf_store *s, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);

	pthread_rwlock_unlock(&s->resize_lock);
	return mdb_rc(rc);
}

static void txn_abort(xf_store *s, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->resize_lock);
}

static int grow_map(xf_store *s)
{
	MDB_envinfo info;
	int rc;

	pthread_rwlock_wrlock(&s->resize_lock);
	rc = mdb_env_info(s->env, &info);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
	pthread_rwlock_unlock(&s->resize_lock);
	return mdb_rc(rc);
}

/* Run FN in one write transaction and commit it. When the map is full the
 * transaction is aborted, the map doubled and FN run again from the start,
 * so FN must not change anything outside the transaction but its output. */
int store_write(xf_store *s, write_fn fn, void *ctx)
{
	MDB_txn *txn;
	int r;

	for (;;) {
		r = txn_begin(s, 0, &txn);
		if (r < 0)
			return public_rc(r);
		s->n_touched = 0;
		r = fn(s, txn, ctx);
		if (r == 0)
			r = projections_refresh(s, txn);
		if (r == 0)
			r = txn_commit(s, txn);
		else
			txn_abort(s, txn);
		if (r != MDB_MAP_FULL)
			return public_rc(r);
		r = grow_map(s);
		if (r < 0)
			return public_rc(r);
	}
}

int meta_get_u64(xf_store *s, MDB_txn *txn, const char *name, uint64_t *out)
{
	MDB_val k = val_str(name), v;
	int r = mdb_rc(mdb_get(txn, s->meta, &k, &v));

	if (r == MDB_NOTFOUND) {
		*out = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (v.mv_size != 8)
		return XF_ECORRUPT;
	*out = be64_get(v.mv_data);
	return 0;
}

int meta_put_u64(xf_store *s, MDB_txn *txn, const char *name, uint64_t value)
{
	uint8_t buf[8];
	MDB_val k = val_str(name), v = { 8, buf };

	be64_put(buf, value);
	return mdb_rc(mdb_put(txn, s->meta, &k, &v, 0));
}

int head_get(xf_store *s, MDB_txn *txn, const char *origin, head *out)
{
	MDB_val k = val_str(origin), v;
	int r = mdb_rc(mdb_get(txn, s->heads, &k, &v));

	memset(out, 0, sizeof(*out));
	if (r == MDB_NOTFOUND)
		return 0;
	if (r < 0)
		return r;
	if (v.mv_size != 8 + XF_HASH_BYTES + 1)
		return XF_ECORRUPT;
	out->seq = be64_get(v.mv_data);
	memcpy(out->hash, (uint8_t *)v.mv_data + 8, XF_HASH_BYTES);
	out->sparse = ((uint8_t *)v.mv_data)[8 + XF_HASH_BYTES] & 1;
	return 0;
}

int head_put(xf_store *s, MDB_txn *txn, const char *origin, const head *h)
{
	uint8_t buf[8 + XF_HASH_BYTES + 1];
	MDB_val k = val_str(origin), v = { sizeof(buf), buf };

	be64_put(buf, h->seq);
	memcpy(buf + 8, h->hash, XF_HASH_BYTES);
	buf[8 + XF_HASH_BYTES] = h->sparse ? 1 : 0;
	return mdb_rc(mdb_put(txn, s->heads, &k, &v, 0));
}

int event_get(xf_store *s, MDB_txn *txn, const char *origin, uint64_t seq, MDB_val *out)
{
	uint8_t kbuf[EVENT_KEY_MAX];
	MDB_val k = { event_key(kbuf, origin, seq), kbuf };

	return mdb_rc(mdb_get(txn, s->events, &k, out));
}

/* Store one verified event and everything derived from it. */
static int put_event(xf_store *s, MDB_txn *txn, const xf_event *ev, bool local)
{
	uint8_t kbuf[EVENT_KEY_MAX], ref[ENTITY_REF_MAX];
	MDB_val k = { event_key(kbuf, ev->origin, ev->seq), kbuf };
	MDB_val v = { ev->len, (void *)ev->bytes };
	size_t on = strlen(ev->origin);
	int r;

	r = mdb_rc(mdb_put(txn, s->events, &k, &v, MDB_NOOVERWRITE));
	if (r < 0)
		return r == MDB_KEYEXIST ? XF_ECORRUPT : r;
	be64_put(ref, ev->hlc);
	memcpy(ref + 8, ev->origin, on + 1);
	be64_put(ref + 8 + on + 1, ev->seq);
	k = val_str(ev->entity);
	v = (MDB_val){ 8 + on + 1 + 8, ref };
	r = mdb_rc(mdb_put(txn, s->entities, &k, &v, 0));
	if (r == 0)
		r = projection_touch(s, ev);
	if (r < 0)
		return r;
	if (strcmp(ev->type, "node.enrolled") == 0) {
		r = peer_index(s, txn, ev, local);
		if (r < 0)
			return r;
	}
	return feed_file(s, txn, ev);
}

static int entity_ref_parse(const MDB_val *v, char origin[XF_NODE_ID_MAX + 1], uint64_t *seq)
{
	MDB_val k = { v->mv_size - 8, (uint8_t *)v->mv_data + 8 };

	if (v->mv_size < 8 + 10)
		return XF_ECORRUPT;
	return event_key_parse(&k, origin, seq);
}

/* Walk ENTITY's events inside TXN, in fold order. */
int entity_walk(xf_store *s, MDB_txn *txn, const char *entity, txn_event_cb cb, void *ctx)
{
	MDB_cursor *cur = NULL;
	MDB_val k = val_str(entity), v, ev_bytes;
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq;
	xf_event ev;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->entities, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_KEY));
	while (r == 0) {
		if ((r = entity_ref_parse(&v, origin, &seq)) < 0 ||
		    (r = event_get(s, txn, origin, seq, &ev_bytes)) < 0)
			break;
		r = xf_event_decode(ev_bytes.mv_data, ev_bytes.mv_size, &ev);
		if (r < 0) {
			r = XF_ECORRUPT;
			break;
		}
		r = cb(s, txn, &ev, ctx);
		if (r != 0)
			break;
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

/* Check that EV's act is allowed in its entity's state, and make the
 * entity's heads (its events no other names as a parent) EV's parents:
 * how a later fold tells concurrent edits from sequential ones without
 * trusting clocks. */
static int entity_prepare(xf_store *s, MDB_txn *txn, xf_event *ev, char parents[][XF_EVENT_ID_MAX + 1])
{
	xf_entity *state = NULL;
	size_t i;
	int r;

	r = projection_get(s, txn, ev->entity, &state);
	if (r == 0)
		r = xf_entity_allows(state, state->kind, ev->type);
	if (r == 0 && state->n_heads > XF_PARENTS_MAX)
		r = XF_ETOOBIG;
	for (i = 0; r == 0 && i < state->n_heads; i++) {
		strcpy(parents[i], state->heads[i]);
		ev->parents[i] = (xf_str){ parents[i], strlen(parents[i]) };
	}
	ev->n_parents = r == 0 ? state->n_heads : 0;
	xf_entity_free(state);
	return r;
}

struct append_ctx {
	const xf_key *key;
	const xf_draft *drafts;
	size_t n;
	uint64_t wall_ms;
	xf_appended *out;
};

static int draft_check(const xf_draft *d)
{
	if (!d->type || !*d->type || strlen(d->type) > XF_TYPE_MAX || !d->author ||
	    strlen(d->author) > XF_AUTHOR_MAX || (!d->body && d->body_len))
		return -EINVAL;
	if (!d->entity && (d->new_kind < 'A' || d->new_kind > 'Z'))
		return -EINVAL;
	if (d->entity && strlen(d->entity) > XF_ENTITY_ID_MAX)
		return -EINVAL;
	return xf_text_check(d->author, XF_AUTHOR_MAX);
}

static int append_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct append_ctx *c = vctx;
	char parents[XF_PARENTS_MAX][XF_EVENT_ID_MAX + 1];
	uint64_t hlc;
	uint8_t *bytes = NULL;
	size_t len, i;
	xf_event ev, stored;
	head h;
	int r;

	if ((r = head_get(s, txn, s->node, &h)) < 0 ||
	    (r = meta_get_u64(s, txn, "hlc", &hlc)) < 0)
		return r;
	for (i = 0; i < c->n; i++) {
		const xf_draft *d = &c->drafts[i];

		memset(&ev, 0, sizeof(ev));
		strcpy(ev.origin, s->node);
		ev.seq = ++h.seq;
		ev.hlc = hlc = xf_hlc_next(hlc, c->wall_ms);
		memcpy(ev.prev, h.hash, XF_HASH_BYTES);
		strcpy(ev.type, d->type);
		strcpy(ev.author, d->author);
		ev.body = d->body;
		ev.body_len = d->body_len;
		if (d->entity) {
			strcpy(ev.entity, d->entity);
			r = entity_prepare(s, txn, &ev, parents);
			if (r < 0)
				return r;
		} else {
			r = xf_entity_allows(NULL, d->new_kind, d->type);
			if (r < 0)
				return r;
			snprintf(ev.entity, sizeof(ev.entity), "%c-%s-%llu", d->new_kind, s->node,
				 (unsigned long long)h.seq);
		}
		r = xf_event_encode(&ev, c->key, &bytes, &len);
		if (r < 0)
			return r;
		r = xf_event_decode(bytes, len, &stored);
		if (r == 0)
			r = put_event(s, txn, &stored, true);
		/* The next draft may act on the same entity: its projection,
		 * which gives the state and the heads, must be current. */
		if (r == 0)
			r = projections_refresh(s, txn);
		if (r == 0)
			xf_event_hash(bytes, len, h.hash);
		free(bytes);
		if (r < 0)
			return r;
		if (c->out) {
			c->out[i].seq = ev.seq;
			strcpy(c->out[i].entity, ev.entity);
		}
	}
	if ((r = head_put(s, txn, s->node, &h)) < 0)
		return r;
	return meta_put_u64(s, txn, "hlc", hlc);
}

int xf_store_append(xf_store *s, const xf_key *key, const xf_draft *drafts, size_t n,
		    uint64_t wall_ms, xf_appended *out)
{
	struct append_ctx c = { key, drafts, n, wall_ms, out };
	uint8_t pubkey[XF_PUBKEY_BYTES];
	size_t i;
	int r;

	if (!s || !key || (!drafts && n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		r = draft_check(&drafts[i]);
		if (r < 0)
			return r;
	}
	/* Signing with a key that is not this node's would write a log
	 * nobody can verify. */
	r = xf_store_peer_key(s, s->node, pubkey);
	if (r == 0 && memcmp(pubkey, xf_key_public(key), XF_PUBKEY_BYTES) != 0)
		return XF_EBADSIG;
	if (r < 0 && r != XF_ENOTFOUND)
		return r;
	return store_write(s, append_txn, &c);
}

/* What can be known of a batch without the log is worked out before the
 * write transaction, where concurrent batches run in parallel: decoding,
 * hashing and the signature at the end of each run. The transaction then
 * only links and stores. */
struct ingest_ctx {
	const xf_blob *blobs;
	size_t n;
	uint64_t wall_ms;
	const xf_ingest_opts *opts;
	xf_event *evs;   /* decoded, one per blob */
	int *decoded;    /* per blob: 0, or why it does not decode */
	uint8_t (*hash)[XF_HASH_BYTES];
	signed char *sig; /* per blob: 1 checked good, -1 checked bad, 0 not checked */
	int *status;     /* per blob: 0 to store (or stored), HELD_SAME, HELD_OTHER, <0 rejected */
	xf_ingest_stats *stats;
	uint64_t hlc;
	size_t bytes;            /* of the events in BLOBS */
	struct ingest_ctx *next; /* in the group commit queue */
	int result;
	bool done;
};

/* An event already held here at its seq: the same bytes, or others (a
 * fork, kept as evidence). */
#define HELD_SAME  1
#define HELD_OTHER 2

/* Runs of one origin's consecutive events, [from, *to). */
static size_t run_end(const struct ingest_ctx *c, size_t from)
{
	size_t j;

	for (j = from + 1; j < c->n && c->decoded[j] == 0 && strcmp(c->evs[j].origin, c->evs[from].origin) == 0; j++)
		;
	return j;
}

static int verify_run_ends(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct ingest_ctx *c = vctx;
	xf_peer origin;
	size_t i, j;

	for (i = 0; i < c->n; i = j) {
		j = run_end(c, i);
		if (c->decoded[i] != 0 || peer_get(s, txn, c->evs[i].origin, &origin) < 0)
			continue;
		c->sig[j - 1] = xf_event_verify(&c->evs[j - 1], origin.pubkey) == 0 ? 1 : -1;
	}
	return 0;
}

static int ingest_prepare(xf_store *s, struct ingest_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		c->decoded[i] = xf_event_decode(c->blobs[i].data, c->blobs[i].len, &c->evs[i]);
		if (c->decoded[i] < 0) {
			memset(&c->evs[i], 0, sizeof(c->evs[i]));
			continue;
		}
		xf_event_hash(c->evs[i].bytes, c->evs[i].len, c->hash[i]);
	}
	return store_read(s, verify_run_ends, c);
}

static int signature_ok(const struct ingest_ctx *c, size_t i, const uint8_t *pubkey)
{
	if (c->sig[i])
		return c->sig[i] > 0;
	return xf_event_verify(&c->evs[i], pubkey) == 0;
}

/* Damage and forgery are kept aside as evidence; a gap or an unknown
 * origin is only an event that came too early, and will come again. */
static bool worth_quarantine(int err)
{
	return err != XF_ESEQ && err != XF_EUNKNOWNNODE;
}

static int reject_as(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t i, int err, bool evidence);

/* Room for one more piece of evidence under KEY in DBI: 1 when there is,
 * 0 when DBI holds it already or is full (XF_EVIDENCE_MAX), or, when
 * SHARED, C's sender has brought its share (XF_EVIDENCE_NODE_MAX), which
 * is then counted as taken. The caller puts it next, and nothing else
 * between (a value reserved must be filled before the next update). */
static int evidence_room(xf_store *s, MDB_txn *txn, const struct ingest_ctx *c, MDB_dbi dbi, MDB_val *key,
			 bool shared)
{
	char share[sizeof("evidence:") + XF_NODE_ID_MAX];
	uint64_t brought = 0;
	MDB_val held;
	MDB_stat st;
	int r = mdb_rc(mdb_get(txn, dbi, key, &held));

	if (r != MDB_NOTFOUND)
		return r < 0 ? r : 0;
	if ((r = mdb_rc(mdb_stat(txn, dbi, &st))) < 0)
		return r;
	if (st.ms_entries >= XF_EVIDENCE_MAX)
		goto full;
	if (!shared || !c->opts->sender)
		return 1;
	snprintf(share, sizeof(share), "evidence:%s", c->opts->sender);
	if ((r = meta_get_u64(s, txn, share, &brought)) < 0)
		return r;
	if (brought >= XF_EVIDENCE_NODE_MAX)
		goto full;
	r = meta_put_u64(s, txn, share, brought + 1);
	return r < 0 ? r : 1;
full:
	c->stats->unkept++;
	return 0;
}

static int reject(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t i, int err)
{
	return reject_as(s, txn, c, i, err, worth_quarantine(err));
}

static int reject_as(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t i, int err, bool evidence)
{
	const xf_event *ev = &c->evs[i];
	uint8_t key[EVENT_KEY_MAX + XF_HASH_BYTES], *val;
	MDB_val k, v;
	size_t kn;
	int r;

	c->status[i] = err;
	c->stats->rejected++;
	c->stats->early += !worth_quarantine(err);
	if (c->stats->first_error == 0) {
		c->stats->first_error = err;
		if (ev->origin[0])
			xf_event_id(ev->origin, ev->seq, c->stats->first_rejected);
	}
	if (!ev->origin[0] || !evidence)
		return 0;
	kn = event_key(key, ev->origin, ev->seq);
	xf_event_hash(ev->bytes, ev->len, key + kn);
	k = (MDB_val){ kn + XF_HASH_BYTES, key };
	v = (MDB_val){ 4 + ev->len, NULL };
	if ((r = evidence_room(s, txn, c, s->quarantine, &k, true)) <= 0 ||
	    (r = mdb_rc(mdb_put(txn, s->quarantine, &k, &v, MDB_RESERVE))) < 0)
		return r;
	val = v.mv_data;
	val[0] = (uint8_t)((uint32_t)-err >> 24);
	val[1] = (uint8_t)((uint32_t)-err >> 16);
	val[2] = (uint8_t)((uint32_t)-err >> 8);
	val[3] = (uint8_t)(uint32_t)-err;
	memcpy(val + 4, ev->bytes, ev->len);
	c->stats->quarantined++;
	return 0;
}

/* An event for an origin:seq already held: the same bytes are a duplicate,
 * validly signed different bytes a fork kept as evidence. */
static int held_event(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t i, const uint8_t *pubkey,
		      const MDB_val *have)
{
	const xf_event *ev = &c->evs[i];
	uint8_t kbuf[EVENT_KEY_MAX + XF_HASH_BYTES];
	MDB_val k, v;
	size_t kn;
	int r;

	c->status[i] = HELD_SAME;
	if (have->mv_size == ev->len && memcmp(have->mv_data, ev->bytes, ev->len) == 0) {
		c->stats->duplicates++;
		return 0;
	}
	c->status[i] = HELD_OTHER;
	r = xf_event_verify(ev, pubkey);
	if (r < 0)
		return reject(s, txn, c, i, r);
	c->stats->forks++;
	kn = event_key(kbuf, ev->origin, ev->seq);
	xf_event_hash(ev->bytes, ev->len, kbuf + kn);
	k = (MDB_val){ kn + XF_HASH_BYTES, kbuf };
	v = (MDB_val){ ev->len, (void *)ev->bytes };
	/* A fork is signed by its origin: after a rollback, it may be the
	 * only copy of what a village recorded. No share limits it. */
	if ((r = evidence_room(s, txn, c, s->forks, &k, false)) <= 0)
		return r;
	return mdb_rc(mdb_put(txn, s->forks, &k, &v, 0));
}

static int store_received(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t i)
{
	int r = put_event(s, txn, &c->evs[i], false);

	if (r < 0)
		return r;
	c->hlc = xf_hlc_recv(c->hlc, c->evs[i].hlc, c->wall_ms);
	c->stats->stored++;
	return 0;
}

/* Sparse: each event stands on its own signature; gaps are expected. */
static int ingest_sparse(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t from, size_t to,
			 const uint8_t *pubkey, head *h)
{
	MDB_val have;
	size_t i, stored = 0;
	int r;

	/* This node's own chain stays whole, whatever comes back to it. */
	h->sparse = strcmp(c->evs[from].origin, s->node) != 0;
	for (i = from; i < to; i++) {
		const xf_event *ev = &c->evs[i];

		r = event_get(s, txn, ev->origin, ev->seq, &have);
		if (r == 0) {
			r = held_event(s, txn, c, i, pubkey, &have);
			if (r < 0)
				return r;
			continue;
		}
		if (r != MDB_NOTFOUND)
			return r;
		/* This node's own events are never new to it: an unknown
		 * one means its log lost what it once wrote. */
		if (strcmp(ev->origin, s->node) == 0 || (r = xf_event_verify(ev, pubkey)) < 0) {
			r = reject(s, txn, c, i, r < 0 ? r : XF_EFORK);
			if (r < 0)
				return r;
			continue;
		}
		r = store_received(s, txn, c, i);
		if (r < 0)
			return r;
		if (ev->seq > h->seq) {
			h->seq = ev->seq;
			memcpy(h->hash, c->hash[i], XF_HASH_BYTES);
		}
		stored++;
	}
	return stored ? head_put(s, txn, c->evs[from].origin, h) : 0;
}

/* Full: the run must continue the origin's chain. Its links prove every
 * event up to the last one whose signature holds. */
static int ingest_chain(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t from, size_t to,
			const uint8_t *pubkey, head *h)
{
	uint8_t prev[XF_HASH_BYTES];
	uint64_t next = h->seq + 1;
	size_t i, last = SIZE_MAX, broken, stored;
	char sender[XF_NODE_ID_MAX + 1];
	int broken_err = 0, below;
	MDB_val have;
	int r;

	memcpy(prev, h->hash, XF_HASH_BYTES);
	for (i = from; i < to; i++) {
		const xf_event *ev = &c->evs[i];

		if (ev->seq <= h->seq) {
			if ((r = event_get(s, txn, ev->origin, ev->seq, &have)) < 0 ||
			    (r = held_event(s, txn, c, i, pubkey, &have)) < 0)
				return r == MDB_NOTFOUND ? XF_ECORRUPT : r;
			continue;
		}
		if (ev->seq != next || memcmp(ev->prev, prev, XF_HASH_BYTES) != 0) {
			broken_err = ev->seq != next ? XF_ESEQ : XF_ECHAIN;
			break;
		}
		memcpy(prev, c->hash[i], XF_HASH_BYTES);
		next++;
		last = i;
	}
	broken = i;
	/* If the last signature fails, find the latest event whose own
	 * signature holds: everything before it is proven by the links,
	 * everything after is forged or damaged. This comes before the
	 * refusal of a broken link, which is often only the echo of a
	 * damaged event just before it. */
	while (last != SIZE_MAX && !signature_ok(c, last, pubkey)) {
		if ((r = reject(s, txn, c, last, XF_EBADSIG)) < 0)
			return r;
		do {
			last = last == from ? SIZE_MAX : last - 1;
		} while (last != SIZE_MAX && c->status[last] != 0);
	}
	/* Only the event that breaks the chain may be damaged: those after it
	 * merely cannot be linked, and will come again. */
	for (i = broken; i < to; i++)
		if (c->status[i] == 0 &&
		    (r = i == broken ? reject(s, txn, c, i, broken_err) : reject_as(s, txn, c, i, broken_err, false)) < 0)
			return r;
	if (last == SIZE_MAX)
		return 0;
	/* Signed, but acting outside its node's subtree: kept as evidence,
	 * and what follows it can no longer be linked. One origin's run comes
	 * from one child's subtree, or from none. */
	if ((below = feed_below(s, txn, c->evs[from].origin, sender)) < 0)
		return below;
	stored = SIZE_MAX;
	for (i = from; i <= last; i++) {
		if (c->status[i] != 0)
			continue;
		r = below ? feed_scope_check(s, txn, &c->evs[i], sender) : 0;
		if (r == XF_ESCOPE) {
			if ((r = reject(s, txn, c, i, XF_ESCOPE)) < 0)
				return r;
			for (i++; i <= last; i++)
				if (c->status[i] == 0 && (r = reject_as(s, txn, c, i, XF_ECHAIN, false)) < 0)
					return r;
			break;
		}
		if (r < 0 || (r = store_received(s, txn, c, i)) < 0)
			return r;
		stored = i;
	}
	if (stored == SIZE_MAX)
		return 0;
	h->seq = c->evs[stored].seq;
	memcpy(h->hash, c->hash[stored], XF_HASH_BYTES);
	return head_put(s, txn, c->evs[from].origin, h);
}

/* Whether the sender's run [from, to) tells the history this node holds
 * of its origin, up to HELD, the head before the run; if not, *H is set
 * back to the run's last event before they part. False when they part at
 * once: the run is another history under the same name (a node id
 * enrolled under two townships, a log put back from a backup), and
 * acknowledging this node's head would tell the sender its events are
 * held. Events past HELD that were refused part nothing: the head still
 * says where the sender should go on from. */
static bool run_agrees(const struct ingest_ctx *c, size_t from, size_t to, uint64_t held, head *h)
{
	size_t i, agreed = SIZE_MAX;

	for (i = from; i < to && c->evs[i].seq <= held; i++) {
		if (c->status[i] != HELD_SAME) {
			if (agreed == SIZE_MAX)
				return false;
			h->seq = c->evs[agreed].seq;
			memcpy(h->hash, c->hash[agreed], XF_HASH_BYTES);
			return true;
		}
		agreed = i;
	}
	return true;
}

/* One origin's run of events, blobs [from, to). */
static int ingest_run(xf_store *s, MDB_txn *txn, struct ingest_ctx *c, size_t from, size_t to)
{
	char child[XF_NODE_ID_MAX + 1];
	xf_peer origin;
	uint64_t held;
	head h;
	size_t i;
	int r;

	r = peer_get(s, txn, c->evs[from].origin, &origin);
	if (r == XF_EUNKNOWNNODE) {
		for (i = from; i < to; i++)
			if ((r = reject(s, txn, c, i, XF_EUNKNOWNNODE)) < 0)
				return r;
		return 0;
	}
	if (r == 0 && ((c->opts->from_below && (r = feed_below(s, txn, c->evs[from].origin, child)) == 0) ||
		       (c->opts->from_above && origin.relation != XF_PEER_UPSTREAM &&
			origin.relation != XF_PEER_ANCESTOR))) {
		for (i = from; i < to; i++)
			if ((r = reject_as(s, txn, c, i, XF_ESCOPE, false)) < 0)
				return r;
		return 0;
	}
	if (r < 0 || (r = head_get(s, txn, c->evs[from].origin, &h)) < 0)
		return r;
	held = h.seq;
	/* This node's own events can only come back as duplicates or forks. */
	if (h.sparse || c->opts->sparse || strcmp(c->evs[from].origin, s->node) == 0)
		r = ingest_sparse(s, txn, c, from, to, origin.pubkey, &h);
	else
		r = ingest_chain(s, txn, c, from, to, origin.pubkey, &h);
	if (r == 0 && c->opts->on_head && run_agrees(c, from, to, held, &h))
		c->opts->on_head(c->evs[from].origin, h.seq, h.hash, c->opts->ctx);
	return r;
}

static int state_put(xf_store *s, MDB_txn *txn, const xf_kv *kv, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		MDB_val k = val_str(kv[i].key), v = { kv[i].len, (void *)kv[i].value };

		r = mdb_rc(mdb_put(txn, s->state, &k, &v, 0));
		if (r < 0)
			return r;
	}
	return 0;
}

static int ingest_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct ingest_ctx *c = vctx;
	size_t i, j;
	int r;

	memset(c->stats, 0, sizeof(*c->stats));
	memset(c->status, 0, c->n * sizeof(*c->status));
	r = meta_get_u64(s, txn, "hlc", &c->hlc);
	if (r < 0)
		return r;
	for (i = 0; i < c->n; i++)
		if (c->decoded[i] < 0 && (r = reject(s, txn, c, i, c->decoded[i])) < 0)
			return r;
	for (i = 0; i < c->n; i = j) {
		j = run_end(c, i);
		if (c->decoded[i] == 0 && (r = ingest_run(s, txn, c, i, j)) < 0)
			return r;
	}
	if (!(c->opts->state_needs_all && c->stats->early) &&
	    (r = state_put(s, txn, c->opts->state, c->opts->n_state)) < 0)
		return r;
	return meta_put_u64(s, txn, "hlc", c->hlc);
}

static int group_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct ingest_ctx *c;
	int r;

	for (c = vctx; c; c = c->next)
		if ((r = ingest_txn(s, txn, c)) < 0)
			return r;
	return 0;
}

/* A write transaction keeps every page it dirties in memory until it
 * commits: a group takes the oldest waiting batches while their events come
 * to at most this many bytes (the first whatever its size), so the
 * township's memory stays bounded however many villages push at once. */
#define GROUP_BYTES ((size_t)2 << 20)

/* Unlink the next group from the queue; group_lock held, queue not empty. */
static struct ingest_ctx *group_take(xf_store *s)
{
	struct ingest_ctx *group = s->group_queue, *last = group;
	size_t bytes = group->bytes;

	while (last->next && bytes + last->next->bytes <= s->group_bytes) {
		last = last->next;
		bytes += last->bytes;
	}
	s->group_queue = last->next;
	if (!s->group_queue)
		s->group_tail = &s->group_queue;
	last->next = NULL;
	return group;
}

/* Write C's batch, together with other batches waiting. The first to find
 * no transaction under way writes the next group (group_take) in one
 * transaction, and goes on until its own batch is written; if a group
 * fails, each of its batches is tried alone, so that one batch's failure
 * is its own. */
static int ingest_grouped(xf_store *s, struct ingest_ctx *c)
{
	struct ingest_ctx *group, *g, *next;
	int r;

	pthread_mutex_lock(&s->group_lock);
	c->next = NULL;
	*s->group_tail = c;
	s->group_tail = &c->next;
	while (!c->done) {
		if (s->group_busy) {
			pthread_cond_wait(&s->group_done, &s->group_lock);
			continue;
		}
		s->group_busy = true;
		group = group_take(s);
		pthread_mutex_unlock(&s->group_lock);
		r = store_write(s, group_txn, group);
		for (g = group; g; g = g->next)
			g->result = r;
		if (r < 0 && group->next)
			for (g = group; g; g = next) {
				next = g->next;
				g->next = NULL;
				g->result = store_write(s, ingest_txn, g);
				g->next = next;
			}
		pthread_mutex_lock(&s->group_lock);
		for (g = group; g; g = g->next)
			g->done = true;
		s->group_busy = false;
		pthread_cond_broadcast(&s->group_done);
	}
	pthread_mutex_unlock(&s->group_lock);
	return c->result;
}

int xf_store_ingest(xf_store *s, const xf_blob *events, size_t n, uint64_t wall_ms,
		    const xf_ingest_opts *opts, xf_ingest_stats *stats)
{
	static const xf_ingest_opts defaults = { 0 };
	struct ingest_ctx c = { .blobs = events, .n = n, .wall_ms = wall_ms, .opts = opts ? opts : &defaults,
				.stats = stats };
	size_t m = n ? n : 1, i;
	int r;

	if (!s || !stats || (!events && n) || (c.opts->n_state && !c.opts->state))
		return -EINVAL;
	for (i = 0; i < n; i++)
		c.bytes += events[i].len;
	c.evs = malloc(m * sizeof(*c.evs));
	c.decoded = malloc(m * sizeof(*c.decoded));
	c.hash = malloc(m * sizeof(*c.hash));
	c.sig = calloc(m, sizeof(*c.sig));
	c.status = malloc(m * sizeof(*c.status));
	if (!c.evs || !c.decoded || !c.hash || !c.sig || !c.status)
		r = -ENOMEM;
	else if ((r = ingest_prepare(s, &c)) == 0)
		r = ingest_grouped(s, &c);
	free(c.evs);
	free(c.decoded);
	free(c.hash);
	free(c.sig);
	free(c.status);
	return r;
}

/* Run FN inside a read transaction. */
int store_read(xf_store *s, write_fn fn, void *ctx)
{
	MDB_txn *txn;
	int r;

	if (!s)
		return -EINVAL;
	r = txn_begin(s, MDB_RDONLY, &txn);
	if (r < 0)
		return public_rc(r);
	r = fn(s, txn, ctx);
	txn_abort(s, txn);
	return public_rc(r);
}

int walk_keys(xf_store *s, MDB_txn *txn, MDB_dbi dbi, size_t max, key_fn fn, void *ctx)
{
	char key[XF_ENTITY_ID_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v;
	int r;

	if (max >= sizeof(key))
		return -EINVAL;
	r = mdb_rc(mdb_cursor_open(txn, dbi, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST));
	while (r == 0) {
		if (k.mv_size == 0 || k.mv_size > max) {
			r = XF_ECORRUPT;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		r = fn(s, txn, key, ctx);
		if (r != 0)
			break;
		/* In a dupsort database, the next key, not the next value. */
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

/* A scan lets go of the whole map this often, so that walking a long log
 * (a catch-up's push, a verify) keeps about half a MiB of it resident,
 * not all of it: the kernel maps neighbouring pages of other tables with
 * each one read. More often costs more than it saves: pages read again
 * are faulted in again. */
#define SCAN_TRIM_BYTES (32u << 10)

/* Where the data file is mapped: one range, or a few if the kernel shows
 * it split. */
struct map_range {
	uintptr_t start, end;
};
struct map_ranges {
	size_t n;
	struct map_range at[4];
};

static int map_find(xf_store *s, struct map_ranges *out);
static int map_drop(const struct map_ranges *m);

struct scan_ctx {
	const char *origin;
	uint64_t from;
	xf_event_cb cb;
	int (*bytes_cb)(const uint8_t *bytes, size_t len, uint64_t seq, void *ctx);
	void *ctx;
};

static int scan_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct scan_ctx *c = vctx;
	uint8_t kbuf[EVENT_KEY_MAX];
	char origin[XF_NODE_ID_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t seq;
	size_t unread_since_trim = 0;
	struct map_ranges map = { 0 };
	bool map_looked_for = false;
	xf_event ev;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->events, &cur));
	if (r < 0)
		return r;
	if (c->origin) {
		k = (MDB_val){ event_key(kbuf, c->origin, c->from), kbuf };
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	} else {
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST));
	}
	while (r == 0) {
		if ((r = event_key_parse(&k, origin, &seq)) < 0)
			break;
		if (c->origin && strcmp(origin, c->origin) != 0)
			break;
		if (seq >= c->from) {
			if (c->bytes_cb) {
				r = c->bytes_cb(v.mv_data, v.mv_size, seq, c->ctx);
			} else if (xf_event_decode(v.mv_data, v.mv_size, &ev) < 0) {
				r = XF_ECORRUPT;
			} else {
				r = c->cb(&ev, c->ctx);
			}
			if (r != 0)
				break;
		}
		unread_since_trim += v.mv_size;
		/* Only memory: a map that cannot be found or let go of (no
		 * /proc) leaves the scan as it was. */
		if (unread_since_trim >= SCAN_TRIM_BYTES) {
			unread_since_trim = 0;
			if (!map_looked_for) {
				map_looked_for = true;
				map_find(s, &map);
			}
			map_drop(&map);
		}
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

int xf_store_scan(xf_store *s, const char *origin, uint64_t from, xf_event_cb cb, void *ctx)
{
	struct scan_ctx c = { origin, from, cb, NULL, ctx };

	if (!cb || (origin && xf_node_id_check(origin) < 0))
		return -EINVAL;
	return store_read(s, scan_txn, &c);
}

int xf_store_scan_bytes(xf_store *s, const char *origin, uint64_t from,
			int (*cb)(const uint8_t *bytes, size_t len, uint64_t seq, void *ctx), void *ctx)
{
	struct scan_ctx c = { origin, from, NULL, cb, ctx };

	if (!cb || !origin || xf_node_id_check(origin) < 0)
		return -EINVAL;
	return store_read(s, scan_txn, &c);
}

struct entity_scan_ctx {
	const char *entity;
	xf_event_cb cb;
	void *ctx;
	bool seen;
};

static int entity_scan_one(xf_store *s, MDB_txn *txn, const xf_event *ev, void *vctx)
{
	struct entity_scan_ctx *c = vctx;

	(void)s, (void)txn;
	c->seen = true;
	return c->cb(ev, c->ctx);
}

static int entity_scan_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct entity_scan_ctx *c = vctx;
	int r = entity_walk(s, txn, c->entity, entity_scan_one, c);

	return r == 0 && !c->seen ? XF_ENOTFOUND : r;
}

int xf_store_entity_scan(xf_store *s, const char *entity, xf_event_cb cb, void *ctx)
{
	struct entity_scan_ctx c = { entity, cb, ctx, false };

	if (!entity || !*entity || strlen(entity) > XF_ENTITY_ID_MAX || !cb)
		return -EINVAL;
	return store_read(s, entity_scan_txn, &c);
}

struct entities_ctx {
	char kind;
	int (*cb)(const char *entity, void *ctx);
	void *ctx;
};

static int entity_key(xf_store *s, MDB_txn *txn, const char *id, void *vctx)
{
	struct entities_ctx *c = vctx;

	(void)s, (void)txn;
	return !c->kind || id[0] == c->kind ? c->cb(id, c->ctx) : 0;
}

static int entities_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	return walk_keys(s, txn, s->entities, XF_ENTITY_ID_MAX, entity_key, vctx);
}

int xf_store_entities(xf_store *s, char kind, int (*cb)(const char *entity, void *ctx), void *ctx)
{
	struct entities_ctx c = { kind, cb, ctx };

	if (!cb)
		return -EINVAL;
	return store_read(s, entities_txn, &c);
}

struct head_ctx {
	const char *origin;
	head h;
};

static int head_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct head_ctx *c = vctx;

	return head_get(s, txn, c->origin, &c->h);
}

int xf_store_head(xf_store *s, const char *origin, uint64_t *seq, uint8_t hash[XF_HASH_BYTES])
{
	struct head_ctx c = { origin, { 0 } };
	int r;

	if (!origin || xf_node_id_check(origin) < 0 || !seq || !hash)
		return -EINVAL;
	r = store_read(s, head_txn, &c);
	if (r < 0)
		return r;
	*seq = c.h.seq;
	memcpy(hash, c.h.hash, XF_HASH_BYTES);
	return 0;
}

struct heads_ctx {
	int (*cb)(const char *origin, uint64_t seq, bool sparse, void *ctx);
	void *ctx;
};

static int head_key(xf_store *s, MDB_txn *txn, const char *origin, void *vctx)
{
	struct heads_ctx *c = vctx;
	head h;
	int r = head_get(s, txn, origin, &h);

	return r < 0 ? r : c->cb(origin, h.seq, h.sparse, c->ctx);
}

static int heads_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	return walk_keys(s, txn, s->heads, XF_NODE_ID_MAX, head_key, vctx);
}

int xf_store_heads(xf_store *s, int (*cb)(const char *origin, uint64_t seq, bool sparse, void *ctx), void *ctx)
{
	struct heads_ctx c = { cb, ctx };

	if (!cb)
		return -EINVAL;
	return store_read(s, heads_txn, &c);
}

struct verify_ctx {
	xf_verify_report *report;
	char origin[XF_NODE_ID_MAX + 1];
	xf_peer peer;
	head head;           /* as recorded for the origin being walked */
	uint64_t seq;        /* the last event walked, and its hash */
	uint8_t prev[XF_HASH_BYTES];
};

static int verify_fail(struct verify_ctx *c, const char *origin, uint64_t seq, int err)
{
	c->report->error = err;
	xf_event_id(origin, seq, c->report->bad_event);
	return err;
}

/* The heads entry of the origin just walked must name its last event. */
static int verify_head(struct verify_ctx *c)
{
	if (!c->origin[0])
		return 0;
	if (c->head.seq != c->seq || memcmp(c->head.hash, c->prev, XF_HASH_BYTES) != 0)
		return verify_fail(c, c->origin, c->head.seq, c->head.seq > c->seq ? XF_ESEQ : XF_ECHAIN);
	return 0;
}

static int verify_event(xf_store *s, MDB_txn *txn, struct verify_ctx *c, const MDB_val *k, const MDB_val *v)
{
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq;
	xf_event ev;
	int r;

	r = event_key_parse(k, origin, &seq);
	if (r < 0)
		return verify_fail(c, "?", 0, r);
	if (strcmp(origin, c->origin) != 0) {
		r = verify_head(c);
		if (r < 0)
			return r;
		strcpy(c->origin, origin);
		c->seq = 0;
		memset(c->prev, 0, XF_HASH_BYTES);
		c->report->origins++;
		if ((r = head_get(s, txn, origin, &c->head)) < 0 || (r = peer_get(s, txn, origin, &c->peer)) < 0)
			return verify_fail(c, origin, seq, r);
	}
	if (xf_event_decode(v->mv_data, v->mv_size, &ev) < 0 || strcmp(ev.origin, origin) != 0 ||
	    ev.seq != seq)
		return verify_fail(c, origin, seq, XF_ECORRUPT);
	/* A sparse origin may have gaps; wherever two of its events are
	 * adjacent, they must still link. */
	if (seq != c->seq + 1 && !(c->head.sparse && seq > c->seq))
		return verify_fail(c, origin, c->seq + 1, XF_ESEQ);
	if (seq == c->seq + 1 && memcmp(ev.prev, c->prev, XF_HASH_BYTES) != 0)
		return verify_fail(c, origin, seq, XF_ECHAIN);
	r = xf_event_verify(&ev, c->peer.pubkey);
	if (r < 0)
		return verify_fail(c, origin, seq, r);
	xf_event_hash(ev.bytes, ev.len, c->prev);
	c->seq = seq;
	c->report->events++;
	return 0;
}

static int verify_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct verify_ctx *c = vctx;
	char origin[XF_NODE_ID_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat st;
	uint64_t seq;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->events, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST));
	while (r == 0) {
		r = verify_event(s, txn, c, &k, &v);
		if (r < 0)
			break;
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	if (r == MDB_NOTFOUND)
		r = verify_head(c);
	if (r < 0)
		return r;
	/* Every head must belong to events walked above. */
	r = mdb_rc(mdb_stat(txn, s->heads, &st));
	if (r < 0)
		return r;
	if (st.ms_entries != c->report->origins)
		return verify_fail(c, "?", 0, XF_ECORRUPT);
	r = mdb_rc(mdb_stat(txn, s->forks, &st));
	if (r < 0)
		return r;
	c->report->forks = st.ms_entries;
	if (st.ms_entries == 0)
		return 0;
	r = mdb_rc(mdb_cursor_open(txn, s->forks, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST));
	if (r == 0) {
		k.mv_size -= XF_HASH_BYTES;
		r = event_key_parse(&k, origin, &seq);
	}
	mdb_cursor_close(cur);
	if (r < 0)
		return verify_fail(c, "?", 0, XF_ECORRUPT);
	return verify_fail(c, origin, seq, XF_EFORK);
}

int xf_store_verify(xf_store *s, xf_verify_report *report)
{
	struct verify_ctx c;
	int r;

	if (!s || !report)
		return -EINVAL;
	memset(report, 0, sizeof(*report));
	memset(&c, 0, sizeof(c));
	c.report = report;
	r = store_read(s, verify_txn, &c);
	if (r < 0 && report->error == 0)
		report->error = r;
	return r;
}

static int open_dbis(xf_store *s, MDB_txn *txn)
{
	static const struct {
		const char *name;
		size_t offset;
		unsigned flags;
	} dbs[] = {
		{ "events", offsetof(xf_store, events), 0 },
		{ "heads", offsetof(xf_store, heads), 0 },
		{ "entities", offsetof(xf_store, entities), MDB_DUPSORT },
		{ "forks", offsetof(xf_store, forks), 0 },
		{ "quarantine", offsetof(xf_store, quarantine), 0 },
		{ "peers", offsetof(xf_store, peers), 0 },
		{ "feeds", offsetof(xf_store, feeds), 0 },
		{ "state", offsetof(xf_store, state), 0 },
		{ "meta", offsetof(xf_store, meta), 0 },
		{ "projections", offsetof(xf_store, projections), 0 },
		{ "conflicted", offsetof(xf_store, conflicted), 0 },
	};
	size_t i;
	int r;

	for (i = 0; i < XF_ARRAY_SIZE(dbs); i++) {
		r = mdb_rc(mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | MDB_CREATE,
					(MDB_dbi *)((char *)s + dbs[i].offset)));
		if (r < 0)
			return r;
	}
	return 0;
}

/* A data dir holds secrets about people: only its owner may enter it. */
static int dir_check(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 077) || st.st_uid != geteuid())
		return XF_EUNSAFE;
	return 0;
}

static int env_open(xf_store **out, const char *dir)
{
	xf_store *s;
	MDB_txn *txn = NULL;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_rwlock_init(&s->resize_lock, NULL);
	pthread_mutex_init(&s->group_lock, NULL);
	pthread_cond_init(&s->group_done, NULL);
	s->group_tail = &s->group_queue;
	s->group_bytes = GROUP_BYTES;
	if ((r = mdb_rc(mdb_env_create(&s->env))) < 0) {
		s->env = NULL;
		goto cleanup;
	}
	if ((r = mdb_rc(mdb_env_set_maxdbs(s->env, 16))) < 0 ||
	    (r = mdb_rc(mdb_env_set_mapsize(s->env, MAP_SIZE_INITIAL))) < 0 ||
	    (r = mdb_rc(mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600))) < 0)
		goto cleanup;
	/* A dead process may have left a reader slot behind. */
	mdb_reader_check(s->env, NULL);
	if ((r = txn_begin(s, 0, &txn)) < 0)
		goto cleanup;
	r = open_dbis(s, txn);
	if (r == 0)
		r = txn_commit(s, txn);
	else
		txn_abort(s, txn);
	if (r < 0)
		goto cleanup;
	*out = s;
	return 0;
cleanup:
	if (s->env)
		mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->resize_lock);
	pthread_mutex_destroy(&s->group_lock);
	pthread_cond_destroy(&s->group_done);
	free(s->touched);
	free(s);
	return public_rc(r);
}

static int read_identity(xf_store *s, MDB_txn *txn, void *vctx)
{
	MDB_val k = val_str("schema"), v;
	uint64_t schema, *out = vctx;
	int r;

	r = meta_get_u64(s, txn, "schema", &schema);
	*out = schema;
	if (r < 0)
		return r;
	if (schema == 0)
		return XF_ENOTFOUND;
	if (schema > XF_SCHEMA_VERSION)
		return XF_ESCHEMA;
	k = val_str("node");
	r = mdb_rc(mdb_get(txn, s->meta, &k, &v));
	if (r < 0)
		return r == MDB_NOTFOUND ? XF_ECORRUPT : r;
	if (v.mv_size != strlen(s->node) || memcmp(v.mv_data, s->node, v.mv_size) != 0)
		return XF_ENODE;
	return 0;
}

static int write_schema(xf_store *s, MDB_txn *txn, void *vctx)
{
	(void)vctx;
	return meta_put_u64(s, txn, "schema", XF_SCHEMA_VERSION);
}

int xf_store_open(xf_store **out, const char *dir, const char *node_id)
{
	char path[PATH_MAX];
	xf_store *s = NULL;
	uint64_t schema = 0;
	int r;

	if (!out || !dir || xf_node_id_check(node_id) < 0)
		return -EINVAL;
	if ((r = xf_crypto_init()) < 0 || (r = dir_check(dir)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (access(path, F_OK) < 0)
		return XF_ENOTFOUND;
	r = env_open(&s, dir);
	if (r < 0)
		return r;
	strcpy(s->node, node_id);
	r = store_read(s, read_identity, &schema);
	/* Version 1 kept no projections: derive them once, then say so. */
	if (r == 0 && schema < XF_SCHEMA_VERSION && (r = xf_store_rebuild(s, NULL)) == 0)
		r = store_write(s, write_schema, NULL);
	if (r < 0) {
		xf_store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void xf_store_close(xf_store *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->resize_lock);
	pthread_mutex_destroy(&s->group_lock);
	pthread_cond_destroy(&s->group_done);
	free(s->touched);
	free(s);
}

const char *xf_store_node(const xf_store *s)
{
	return s->node;
}

/* LMDB does not say where it mapped the file (mdb_env_info's address is
 * only meaningful with MDB_FIXEDMAP), so the kernel's list of this
 * process's mappings is asked instead. The caller holds the resize lock,
 * shared: the map cannot move meanwhile. */
static int map_find(xf_store *s, struct map_ranges *out)
{
	char path[PATH_MAX + 16], line[PATH_MAX + 128], real[PATH_MAX], *name;
	const char *dir;
	unsigned long start, end;
	FILE *maps;

	out->n = 0;
	if (mdb_env_get_path(s->env, &dir) != 0 || !realpath(dir, real))
		return XF_ESTORE;
	snprintf(path, sizeof(path), "%s/data.mdb", real);
	maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return -errno;
	while (out->n < XF_ARRAY_SIZE(out->at) && fgets(line, sizeof(line), maps)) {
		name = strchr(line, '/');
		if (!name || sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, path) == 0)
			out->at[out->n++] = (struct map_range){ start, end };
	}
	fclose(maps);
	return out->n ? 0 : XF_ESTORE;
}

/* The map is read-only and shared: dropping its pages loses nothing. */
static int map_drop(const struct map_ranges *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (madvise((void *)m->at[i].start, m->at[i].end - m->at[i].start, MADV_DONTNEED) < 0)
			return -errno;
	return 0;
}

int xf_store_trim(xf_store *s)
{
	struct map_ranges map;
	int r;

	if (!s)
		return -EINVAL;
	pthread_rwlock_rdlock(&s->resize_lock);
	if ((r = map_find(s, &map)) == 0)
		r = map_drop(&map);
	pthread_rwlock_unlock(&s->resize_lock);
	return r;
}

static int write_identity(xf_store *s, MDB_txn *txn, void *vctx)
{
	MDB_val k = val_str("node"), v = val_str(s->node);
	int r;

	(void)vctx;
	r = mdb_rc(mdb_put(txn, s->meta, &k, &v, MDB_NOOVERWRITE));
	if (r < 0)
		return r == MDB_KEYEXIST ? XF_EEXIST : r;
	return meta_put_u64(s, txn, "schema", XF_SCHEMA_VERSION);
}

int xf_store_init(const char *dir, const char *node_id, const char *role, uint64_t wall_ms,
		  uint8_t pubkey[XF_PUBKEY_BYTES])
{
	char path[PATH_MAX], hex[XF_PUBKEY_HEX];
	xf_store *s = NULL;
	xf_key *key = NULL;
	xf_body *body = NULL;
	const uint8_t *bytes;
	size_t len;
	xf_draft d;
	int r;

	if (!dir || !role || !pubkey || xf_node_id_check(node_id) < 0)
		return -EINVAL;
	if ((r = xf_crypto_init()) < 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if ((r = dir_check(dir)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (access(path, F_OK) == 0)
		return XF_EEXIST;
	snprintf(path, sizeof(path), "%s/%s", dir, XF_KEY_FILE);
	if ((r = xf_key_generate(path)) < 0 || (r = xf_key_load(&key, path)) < 0)
		return r;
	if ((r = env_open(&s, dir)) < 0)
		goto cleanup;
	strcpy(s->node, node_id);
	if ((r = store_write(s, write_identity, NULL)) < 0)
		goto cleanup;
	/* The log's first event enrols the node's own key, so that the log
	 * carries what is needed to verify it. */
	xf_pubkey_to_hex(xf_key_public(key), hex);
	if ((r = xf_body_new(&body)) < 0 || (r = xf_body_put_str(body, "node", node_id, XF_NODE_ID_MAX)) < 0 ||
	    (r = xf_body_put_str(body, "pubkey", hex, 64)) < 0 || (r = xf_body_put_str(body, "role", role, 15)) < 0 ||
	    (r = xf_body_put_str(body, "relation", "self", 8)) < 0 ||
	    (r = xf_body_bytes(body, &bytes, &len)) < 0)
		goto cleanup;
	d = (xf_draft){ .type = "node.enrolled", .new_kind = 'N', .author = "xinfang", .body = bytes, .body_len = len };
	if ((r = xf_store_append(s, key, &d, 1, wall_ms, NULL)) < 0)
		goto cleanup;
	memcpy(pubkey, xf_key_public(key), XF_PUBKEY_BYTES);
cleanup:
	xf_body_free(body);
	xf_store_close(s);
	xf_key_free(key);
	return r;
}

struct state_ctx {
	const xf_kv *kv;
	size_t n;
	const char *key;
	uint8_t *value;
	size_t len;
	int (*cb)(const char *key, const uint8_t *value, size_t len, void *ctx);
	void *ctx;
};

static int state_put_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct state_ctx *c = vctx;

	return state_put(s, txn, c->kv, c->n);
}

int xf_store_state_put(xf_store *s, const xf_kv *kv, size_t n)
{
	struct state_ctx c = { .kv = kv, .n = n };

	if (!s || (!kv && n))
		return -EINVAL;
	return store_write(s, state_put_txn, &c);
}

static int state_get_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct state_ctx *c = vctx;
	MDB_val k = val_str(c->key), v;
	int r = mdb_rc(mdb_get(txn, s->state, &k, &v));

	if (r < 0)
		return r;
	c->value = malloc(v.mv_size ? v.mv_size : 1);
	if (!c->value)
		return -ENOMEM;
	memcpy(c->value, v.mv_data, v.mv_size);
	c->len = v.mv_size;
	return 0;
}

int xf_store_state_get(xf_store *s, const char *key, uint8_t **value, size_t *len)
{
	struct state_ctx c = { .key = key };
	int r;

	if (!s || !key || !*key || !value || !len)
		return -EINVAL;
	r = store_read(s, state_get_txn, &c);
	if (r < 0)
		return r;
	*value = c.value;
	*len = c.len;
	return 0;
}

static int state_scan_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct state_ctx *c = vctx;
	size_t n = strlen(c->key);
	char key[512];
	MDB_cursor *cur;
	MDB_val k = val_str(c->key), v;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->state, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (r == 0 && k.mv_size >= n && memcmp(k.mv_data, c->key, n) == 0) {
		if (k.mv_size >= sizeof(key)) {
			r = XF_ECORRUPT;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		r = c->cb(key, v.mv_data, v.mv_size, c->ctx);
		if (r != 0)
			break;
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

int xf_store_state_scan(xf_store *s, const char *prefix,
			int (*cb)(const char *key, const uint8_t *value, size_t len, void *ctx), void *ctx)
{
	struct state_ctx c = { .key = prefix, .cb = cb, .ctx = ctx };

	if (!s || !prefix || !cb)
		return -EINVAL;
	return store_read(s, state_scan_txn, &c);
}

struct evidence_ctx {
	size_t quarantined, forks;
};

static int evidence_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct evidence_ctx *c = vctx;
	MDB_stat st;
	int r;

	if ((r = mdb_rc(mdb_stat(txn, s->quarantine, &st))) < 0)
		return r;
	c->quarantined = st.ms_entries;
	if ((r = mdb_rc(mdb_stat(txn, s->forks, &st))) < 0)
		return r;
	c->forks = st.ms_entries;
	return 0;
}

int xf_store_evidence(xf_store *s, size_t *quarantined, size_t *forks)
{
	struct evidence_ctx c = { 0, 0 };
	int r;

	if (!s || !quarantined || !forks)
		return -EINVAL;
	r = store_read(s, evidence_txn, &c);
	if (r < 0)
		return r;
	*quarantined = c.quarantined;
	*forks = c.forks;
	return 0;
}

static int count_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	MDB_stat st;
	int r = mdb_rc(mdb_stat(txn, s->events, &st));

	if (r == 0)
		*(uint64_t *)vctx = st.ms_entries;
	return r;
}

int xf_store_count_events(xf_store *s, uint64_t *events)
{
	if (!s || !events)
		return -EINVAL;
	return store_read(s, count_txn, events);
}
