/* Feeds: what each child node may pull, filed as events land.
 *
 * A node with children files every event it or a node above it signed
 * under the feed of the child whose subtree the event's entity belongs to
 * (the entity id names the node that created it; a case opened above from
 * a record below belongs where that record does); enrolments of upstream
 * nodes go to the broadcast feed, so that every node below can verify
 * events from above. What came up from a child's subtree is filed nowhere:
 * no child can check another's key, and no child's act is another's
 * business. A child's pull then walks its own feed from its cursor: scope
 * costs nothing at read time, and no child ever sees another's records.
 *
 * The same subtrees bound what comes up: an event from a child's subtree
 * may act only on an entity of that subtree, and may create an entity
 * only under its own name (feed_scope_check). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_impl.h"
#include "xf/body.h"
#include "xf/error.h"
#include "xf/text.h"

/* The tree is shallow (village, township, county); a longer parent chain
 * is damage, not a deeper tree. */
#define DEPTH_MAX 8

void xf_feed_name(const char *child, char name[XF_NODE_ID_MAX + 2])
{
	snprintf(name, XF_NODE_ID_MAX + 2, "@%s", child);
}

/* The child of this node whose subtree NODE is in, into CHILD; 1 if
 * found, 0 if NODE is in no child's subtree. */
static int child_above(xf_store *s, MDB_txn *txn, const char *node, char child[XF_NODE_ID_MAX + 1])
{
	xf_peer p;
	int depth, r;

	snprintf(child, XF_NODE_ID_MAX + 1, "%s", node);
	for (depth = 0; depth < DEPTH_MAX; depth++) {
		r = peer_get(s, txn, child, &p);
		if (r == XF_EUNKNOWNNODE)
			return 0;
		if (r < 0)
			return r;
		if (xf_relation_is_child(p.relation))
			return 1;
		if (p.relation != XF_PEER_DESCENDANT)
			return 0;
		snprintf(child, XF_NODE_ID_MAX + 1, "%s", p.parent);
	}
	return 0;
}

static int feed_append(xf_store *s, MDB_txn *txn, const char *feed, const xf_event *ev)
{
	char meta[XF_NODE_ID_MAX + 8];
	uint8_t key[XF_NODE_ID_MAX + 2 + 8], ref[EVENT_KEY_MAX];
	size_t n = strlen(feed);
	uint64_t pos;
	MDB_val k, v;
	int r;

	snprintf(meta, sizeof(meta), "feed:%s", feed);
	r = meta_get_u64(s, txn, meta, &pos);
	if (r < 0)
		return r;
	pos++;
	memcpy(key, feed, n + 1);
	be64_put(key + n + 1, pos);
	k = (MDB_val){ n + 1 + 8, key };
	v = (MDB_val){ event_key(ref, ev->origin, ev->seq), ref };
	r = mdb_rc(mdb_put(txn, s->feeds, &k, &v, 0));
	if (r < 0)
		return r;
	return meta_put_u64(s, txn, meta, pos);
}

/* Is this this node's or an ancestor's enrolment of its own upstream?
 * Everyone below needs that key to verify what comes from above. */
static bool upstream_enrolment(xf_store *s, MDB_txn *txn, const xf_event *ev)
{
	char relation[16];
	xf_fields *f = NULL;
	xf_peer origin;

	if (strcmp(ev->type, "node.enrolled") != 0 || peer_get(s, txn, ev->origin, &origin) < 0 ||
	    (origin.relation != XF_PEER_SELF && origin.relation != XF_PEER_UPSTREAM &&
	     origin.relation != XF_PEER_ANCESTOR) ||
	    xf_fields_parse(ev->body, ev->body_len, &f) < 0)
		return false;
	xf_value_str(xf_fields_get(f, "relation"), relation, sizeof(relation));
	xf_fields_free(f);
	return strcmp(relation, "upstream") == 0;
}

/* Is EV's entity the one EV created, "K-<its origin>-<its seq>"? */
static bool own_creation(const xf_event *ev)
{
	char home[XF_NODE_ID_MAX + 1];
	uint64_t n;

	return xf_entity_id_parse(ev->entity, home, &n) == 0 && strcmp(home, ev->origin) == 0 && n == ev->seq;
}

/* The node the first record a case was opened from belongs to, found
 * from the act that opens it. */
struct case_source {
	char home[XF_NODE_ID_MAX + 1];
	bool found;
};

static int case_source(xf_store *s, MDB_txn *txn, const xf_event *ev, void *vctx)
{
	struct case_source *c = vctx;
	char id[XF_ENTITY_ID_MAX + 1];
	const xf_value *from;
	xf_fields *f = NULL;

	(void)s, (void)txn;
	/* Only the creator's act opens the case: "C-<origin>-<seq>". */
	if (strcmp(ev->type, "case.opened") != 0 || !own_creation(ev))
		return 0;
	if (xf_fields_parse(ev->body, ev->body_len, &f) == 0) {
		from = xf_fields_get(f, "from");
		if (from && from->type == XF_VALUE_ARRAY && from->len > 0 && from->items[0].type == XF_VALUE_STR) {
			xf_value_str(&from->items[0], id, sizeof(id));
			c->found = xf_entity_id_parse(id, c->home, NULL) == 0;
		}
		xf_fields_free(f);
	}
	return 1; /* a case has one act that opens it */
}

/* The child of this node whose subtree EV's entity belongs to, into CHILD:
 * that of the node the entity id names or, for a case opened here or above
 * from a record below, that of the first record it was opened from (a
 * case the township opens from a village's visit is that village's, as
 * its reports count it). 1 if found, 0 if none. */
static int entity_child(xf_store *s, MDB_txn *txn, const xf_event *ev, char child[XF_NODE_ID_MAX + 1])
{
	char home[XF_NODE_ID_MAX + 1];
	struct case_source source = { .found = false };
	int r;

	if (xf_entity_id_parse(ev->entity, home, NULL) < 0)
		return 0;
	r = child_above(s, txn, home, child);
	if (r != 0 || ev->entity[0] != 'C')
		return r;
	/* The act that opens the case is in the entity index by now, this
	 * event's own included. */
	r = entity_walk(s, txn, ev->entity, case_source, &source);
	if (r < 0)
		return r;
	return source.found ? child_above(s, txn, source.home, child) : 0;
}

int feed_file(xf_store *s, MDB_txn *txn, const xf_event *ev)
{
	char child[XF_NODE_ID_MAX + 1], feed[XF_NODE_ID_MAX + 2];
	xf_peer origin;
	int r;

	r = peer_get(s, txn, ev->origin, &origin);
	if (r == XF_EUNKNOWNNODE)
		return 0;
	if (r < 0)
		return r;
	if (origin.relation != XF_PEER_SELF && origin.relation != XF_PEER_UPSTREAM &&
	    origin.relation != XF_PEER_ANCESTOR)
		return 0;
	if (ev->entity[0] == 'N')
		return upstream_enrolment(s, txn, ev) ? feed_append(s, txn, XF_FEED_BROADCAST, ev) : 0;
	if (ev->entity[0] == 'B')
		return feed_append(s, txn, XF_FEED_BROADCAST, ev);
	r = entity_child(s, txn, ev, child);
	if (r <= 0)
		return r;
	xf_feed_name(child, feed);
	return feed_append(s, txn, feed, ev);
}

int feed_below(xf_store *s, MDB_txn *txn, const char *node, char child[XF_NODE_ID_MAX + 1])
{
	return child_above(s, txn, node, child);
}

/* 0 if every record case.opened EV names in "from" lies in SENDER's
 * subtree, XF_ESCOPE if one does not: a village that opened a case on
 * another village's visit would have it counted, closed and answered
 * under that village's name, and the township's decisions on it filed to
 * the wrong feed. Asked of villages only: a township has checked its own,
 * and a refusal of one of its own events would stop its log there, every
 * event after it refused as a broken chain (a village id enrolled by two
 * townships makes a case look so). */
static int sources_below(xf_store *s, MDB_txn *txn, const xf_event *ev, const char *sender)
{
	char id[XF_ENTITY_ID_MAX + 1], home[XF_NODE_ID_MAX + 1], child[XF_NODE_ID_MAX + 1];
	const xf_value *from;
	xf_fields *f = NULL;
	xf_peer peer;
	size_t i;
	int r;

	if ((r = peer_get(s, txn, sender, &peer)) < 0)
		return r;
	if (peer.relation != XF_PEER_CHILD)
		return 0;
	if (xf_fields_parse(ev->body, ev->body_len, &f) < 0)
		return XF_ESCOPE;
	from = xf_fields_get(f, "from");
	r = from && from->type != XF_VALUE_ARRAY ? XF_ESCOPE : 0;
	for (i = 0; r == 0 && from && i < from->len; i++) {
		if (from->items[i].type != XF_VALUE_STR) {
			r = XF_ESCOPE;
			break;
		}
		xf_value_str(&from->items[i], id, sizeof(id));
		if (xf_entity_id_parse(id, home, NULL) < 0)
			r = XF_ESCOPE;
		else if ((r = child_above(s, txn, home, child)) >= 0)
			r = r == 1 && strcmp(child, sender) == 0 ? 0 : XF_ESCOPE;
	}
	xf_fields_free(f);
	return r;
}

int feed_scope_check(xf_store *s, MDB_txn *txn, const xf_event *ev, const char *sender)
{
	char owner[XF_NODE_ID_MAX + 1];
	int r;

	if (xf_entity_allows(NULL, ev->entity[0], ev->type) == 0) {
		if (!own_creation(ev))
			return XF_ESCOPE;
		return strcmp(ev->type, "case.opened") == 0 ? sources_below(s, txn, ev, sender) : 0;
	}
	r = entity_child(s, txn, ev, owner);
	if (r < 0)
		return r;
	return r == 1 && strcmp(owner, sender) == 0 ? 0 : XF_ESCOPE;
}

struct feed_scan_ctx {
	const char *feed;
	uint64_t after;
	int (*cb)(const uint8_t *bytes, size_t len, uint64_t pos, void *ctx);
	void *ctx;
};

static int feed_scan_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct feed_scan_ctx *c = vctx;
	uint8_t key[XF_NODE_ID_MAX + 2 + 8];
	size_t n = strlen(c->feed);
	char origin[XF_NODE_ID_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v, bytes;
	uint64_t seq;
	int r;

	memcpy(key, c->feed, n + 1);
	be64_put(key + n + 1, c->after + 1);
	k = (MDB_val){ n + 1 + 8, key };
	r = mdb_rc(mdb_cursor_open(txn, s->feeds, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (r == 0) {
		if (k.mv_size != n + 1 + 8 || memcmp(k.mv_data, c->feed, n + 1) != 0)
			break;
		if ((r = event_key_parse(&v, origin, &seq)) < 0 ||
		    (r = event_get(s, txn, origin, seq, &bytes)) < 0)
			break;
		r = c->cb(bytes.mv_data, bytes.mv_size, be64_get((const uint8_t *)k.mv_data + n + 1), c->ctx);
		if (r != 0)
			break;
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

int xf_store_feed_scan(xf_store *s, const char *feed, uint64_t after,
		       int (*cb)(const uint8_t *bytes, size_t len, uint64_t pos, void *ctx), void *ctx)
{
	struct feed_scan_ctx c = { feed, after, cb, ctx };

	if (!feed || !*feed || strlen(feed) > XF_NODE_ID_MAX + 1 || !cb)
		return -EINVAL;
	return store_read(s, feed_scan_txn, &c);
}
