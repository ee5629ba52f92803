/* Sync status from what the sync keeps in the store. Client state: see
 * daemon/client.c ("sync:*") and sync.c ("up:*"); server state: sync.c
 * ("seen:NODE") and here ("refused:NODE" -> [time, reason]; "clash:NODE",
 * the same for an enrolment that clashed, peers.c). */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_impl.h"
#include "xf/error.h"
#include "xf/mem.h"
#include "xf/status.h"
#include "xf/sync.h"

static uint64_t be64_value(const uint8_t *v, size_t len)
{
	return len == 8 ? be64_get(v) : 0;
}

/* The state value KEY as a big-endian u64 (0 when absent), or copied as
 * text into TEXT. */
static int state_u64(xf_store *s, const char *key, uint64_t *out, bool *found)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int r = xf_store_state_get(s, key, &v, &len);

	*out = r == 0 ? be64_value(v, len) : 0;
	if (found)
		*found = r == 0;
	free(v);
	return r == XF_ENOTFOUND ? 0 : r;
}

static int state_text(xf_store *s, const char *key, char *text, size_t size)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int r = xf_store_state_get(s, key, &v, &len);

	text[0] = '\0';
	if (r == 0)
		snprintf(text, size, "%.*s", (int)len, (const char *)v);
	free(v);
	return r == XF_ENOTFOUND ? 0 : r;
}

struct count_ctx {
	const char *self;
	xf_status *st;
};

static int count_head(const char *origin, uint64_t seq, bool sparse, void *vctx)
{
	struct count_ctx *c = vctx;

	(void)sparse;
	if (strcmp(origin, c->self) == 0)
		c->st->own = seq;
	return 0;
}

static int count_conflict(const char *entity, void *ctx)
{
	(void)entity;
	++*(size_t *)ctx;
	return 0;
}

int xf_status_read(xf_store *s, xf_status *out)
{
	struct count_ctx c = { NULL, out };
	uint64_t ok, err_ms, skew;
	int r;

	if (!s || !out)
		return -EINVAL;
	c.self = xf_store_node(s);
	memset(out, 0, sizeof(*out));
	if ((r = xf_store_heads(s, count_head, &c)) < 0 || (r = xf_store_count_events(s, &out->events)) < 0)
		return r;
	out->received = out->events - out->own;
	if ((r = xf_sync_pending(s, &out->pending)) < 0 ||
	    (r = state_u64(s, "sync:last_attempt", &out->last_attempt_ms, NULL)) < 0 ||
	    (r = state_u64(s, "sync:last_ok", &ok, NULL)) < 0 ||
	    (r = state_u64(s, "sync:skew", &skew, &out->skew_known)) < 0 ||
	    (r = state_text(s, "sync:last_error", out->last_error, sizeof(out->last_error))) < 0 ||
	    (r = xf_store_evidence(s, &out->quarantined, &out->forks)) < 0 ||
	    (r = xf_store_conflicts(s, count_conflict, &out->conflicts)) < 0)
		return r;
	out->last_ok_ms = ok;
	out->skew_ms = (int64_t)skew;
	/* An error is news only while no sync has succeeded since. */
	err_ms = out->last_attempt_ms;
	if (out->last_ok_ms && out->last_ok_ms >= err_ms)
		out->last_error[0] = '\0';
	return 0;
}

static void read_refused(const uint8_t *v, size_t len, xf_peer_status *p)
{
	if (len < 8)
		return;
	p->refused_ms = be64_get(v);
	snprintf(p->last_error, sizeof(p->last_error), "%.*s", (int)(len - 8), (const char *)v + 8);
}

struct peers_ctx {
	xf_store *s;
	int (*cb)(const xf_peer_status *p, void *ctx);
	void *ctx;
	xf_peer *children;
	size_t n, cap;
};

struct forks_ctx {
	const char *origin;
	size_t n;
};

static int forks_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct forks_ctx *c = vctx;
	size_t on = strlen(c->origin);
	MDB_cursor *cur;
	MDB_val k = { on + 1, (void *)c->origin }, v;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->forks, &cur));
	if (r < 0)
		return r;
	/* Keys are origin \0 seq hash: those of ORIGIN are contiguous. */
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (r == 0 && k.mv_size > on && memcmp(k.mv_data, c->origin, on + 1) == 0) {
		c->n++;
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

static int peer_row(struct peers_ctx *c, const xf_peer *peer)
{
	xf_peer_status p = { 0 };
	struct forks_ctx forks = { peer->node, 0 };
	struct seen seen;
	char key[XF_NODE_ID_MAX + 16];
	uint8_t hash[XF_HASH_BYTES], *v = NULL;
	size_t len = 0;
	int r;

	snprintf(p.node, sizeof(p.node), "%s", peer->node);
	p.relation = peer->relation;
	r = seen_get(c->s, peer->node, &seen);
	if (r == 0) {
		p.last_seen_ms = seen.time_ms;
		p.head = seen.head;
		snprintf(p.software, sizeof(p.software), "%s", seen.software);
		p.skew_known = seen.client_ms != 0;
		/* The child's own clock: what it signed with, less the offset
		 * it learnt from a refusal. */
		p.skew_ms = (int64_t)seen.client_ms - seen.clock_offset_ms - (int64_t)seen.clock_at_ms;
	} else if (r != XF_ENOTFOUND && r != XF_ECORRUPT) {
		return r;
	}
	/* An enrolment that clashed with another child's (peers.c) stays the
	 * row's error: every refusal it causes would otherwise hide it. */
	snprintf(key, sizeof(key), "clash:%s", peer->node);
	if ((r = xf_store_state_get(c->s, key, &v, &len)) == XF_ENOTFOUND) {
		snprintf(key, sizeof(key), "refused:%s", peer->node);
		r = xf_store_state_get(c->s, key, &v, &len);
	}
	if (r == 0)
		read_refused(v, len, &p);
	free(v);
	if (r < 0 && r != XF_ENOTFOUND)
		return r;
	r = xf_store_head(c->s, peer->node, &p.held, hash);
	if (r < 0 && r != XF_ENOTFOUND)
		return r;
	p.lag = p.head > p.held ? p.head - p.held : 0;
	if ((r = store_read(c->s, forks_txn, &forks)) < 0)
		return r;
	p.forks = forks.n;
	return c->cb(&p, c->ctx);
}

static int note_child(const xf_peer *peer, void *vctx)
{
	struct peers_ctx *c = vctx;

	if (!xf_relation_is_child(peer->relation))
		return 0;
	if (xf_grow(&c->children, &c->cap, c->n, sizeof(*c->children)) < 0)
		return -ENOMEM;
	c->children[c->n++] = *peer;
	return 0;
}

int xf_status_peers(xf_store *s, int (*cb)(const xf_peer_status *p, void *ctx), void *ctx)
{
	struct peers_ctx c = { s, cb, ctx, NULL, 0, 0 };
	size_t i;
	int r;

	if (!s || !cb)
		return -EINVAL;
	/* The children first, then each one's rows: reads are not nested in
	 * the walk's transaction (a nested one cannot adopt a grown map). */
	r = xf_store_peers(s, note_child, &c);
	for (i = 0; r == 0 && i < c.n; i++)
		r = peer_row(&c, &c.children[i]);
	free(c.children);
	return r;
}

int xf_status_note_refusal(xf_store *s, const char *node, uint64_t wall_ms, const char *reason)
{
	char key[XF_NODE_ID_MAX + 16];
	uint8_t value[8 + 200];
	size_t n = reason && strlen(reason) < 200 ? strlen(reason) : 200;
	xf_kv kv = { key, value, 8 + n };
	uint8_t *last = NULL;
	size_t last_len = 0;
	bool recent;

	if (!s || !node || !reason || strlen(node) > XF_NODE_ID_MAX)
		return -EINVAL;
	snprintf(key, sizeof(key), "refused:%s", node);
	/* One note a second per node: a replayed request cannot make the
	 * township write at will. */
	recent = xf_store_state_get(s, key, &last, &last_len) == 0 && last_len >= 8 && wall_ms < be64_get(last) + 1000;
	free(last);
	if (recent)
		return 0;
	be64_put(value, wall_ms);
	memcpy(value + 8, reason, n);
	return xf_store_state_put(s, &kv, 1);
}
