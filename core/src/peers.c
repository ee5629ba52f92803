/* Enrolled nodes and whom to trust for what. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store_impl.h"
#include "xf/body.h"
#include "xf/error.h"
#include "xf/hlc.h"

int peer_get(xf_store *s, MDB_txn *txn, const char *node, xf_peer *out)
{
	MDB_val k = val_str(node), v;
	size_t parent_len;
	int r = mdb_rc(mdb_get(txn, s->peers, &k, &v));

	if (r < 0)
		return r == MDB_NOTFOUND ? XF_EUNKNOWNNODE : r;
	if (v.mv_size < XF_PUBKEY_BYTES + 1 || (parent_len = v.mv_size - XF_PUBKEY_BYTES - 1) > XF_NODE_ID_MAX)
		return XF_ECORRUPT;
	snprintf(out->node, sizeof(out->node), "%s", node);
	memcpy(out->pubkey, v.mv_data, XF_PUBKEY_BYTES);
	out->relation = ((const char *)v.mv_data)[XF_PUBKEY_BYTES];
	memcpy(out->parent, (const char *)v.mv_data + XF_PUBKEY_BYTES + 1, parent_len);
	out->parent[parent_len] = '\0';
	return 0;
}

static int peer_put(xf_store *s, MDB_txn *txn, const xf_peer *p, bool replace)
{
	uint8_t buf[XF_PUBKEY_BYTES + 1 + XF_NODE_ID_MAX];
	size_t n = strlen(p->parent);
	MDB_val k = val_str(p->node), v = { XF_PUBKEY_BYTES + 1 + n, buf };
	int r;

	memcpy(buf, p->pubkey, XF_PUBKEY_BYTES);
	buf[XF_PUBKEY_BYTES] = (uint8_t)p->relation;
	memcpy(buf + XF_PUBKEY_BYTES + 1, p->parent, n);
	r = mdb_rc(mdb_put(txn, s->peers, &k, &v, replace ? 0 : MDB_NOOVERWRITE));
	return r == MDB_KEYEXIST ? XF_EEXIST : r;
}

/* The relation an enrolment event's body declares, as this node would
 * record it were it its own decision. */
static int enrolment_read(const xf_event *ev, xf_peer *p, char *relation, size_t size)
{
	char hex[XF_PUBKEY_HEX];
	xf_fields *f = NULL;
	int r;

	r = xf_fields_parse(ev->body, ev->body_len, &f);
	if (r < 0)
		return r;
	memset(p, 0, sizeof(*p));
	xf_value_str(xf_fields_get(f, "node"), p->node, sizeof(p->node));
	xf_value_str(xf_fields_get(f, "pubkey"), hex, sizeof(hex));
	xf_value_str(xf_fields_get(f, "relation"), relation, size);
	xf_fields_free(f);
	if (xf_node_id_check(p->node) < 0 || xf_pubkey_from_hex(hex, p->pubkey) < 0)
		return -EINVAL;
	if (!*relation)
		snprintf(relation, size, "child");
	return 0;
}

/* EV, from elsewhere, enrols P, a node already known here. With the same
 * key that is only news of it; with another, two townships have given one
 * id to two villages, and the second's events under it will be refused
 * here as forged: the administrator reads why in the status row of the
 * node that sent the enrolment ("clash:NODE", shown before its refusals,
 * status.c), dated by the enrolment's clock. */
static int enrolment_clash(xf_store *s, MDB_txn *txn, const xf_event *ev, const xf_peer *p)
{
	char key[XF_NODE_ID_MAX + 16];
	uint8_t value[8 + 200];
	xf_peer known;
	MDB_val k, v;
	int n, r;

	if ((r = peer_get(s, txn, p->node, &known)) < 0)
		return r == XF_EUNKNOWNNODE ? 0 : r;
	if (memcmp(known.pubkey, p->pubkey, XF_PUBKEY_BYTES) == 0)
		return 0;
	be64_put(value, xf_hlc_physical(ev->hlc));
	n = snprintf((char *)value + 8, sizeof(value) - 8,
		     "enrolled %s with another key than %s gave it first: its events through here are refused",
		     p->node, known.parent[0] ? known.parent : s->node);
	snprintf(key, sizeof(key), "clash:%s", ev->origin);
	k = (MDB_val){ strlen(key), key };
	v = (MDB_val){ 8 + (size_t)(n < (int)sizeof(value) - 8 ? n : (int)sizeof(value) - 9), value };
	return mdb_rc(mdb_put(txn, s->state, &k, &v, 0));
}

int peer_index(xf_store *s, MDB_txn *txn, const xf_event *ev, bool local)
{
	char relation[16];
	xf_peer p, origin;
	int r;

	r = enrolment_read(ev, &p, relation, sizeof(relation));
	if (r < 0)
		return local ? r : 0;
	if (local) {
		xf_peer known;

		if (strcmp(relation, "self") == 0) {
			if (strcmp(p.node, s->node) != 0)
				return -EINVAL;
			p.relation = XF_PEER_SELF;
		} else if (strcmp(relation, "upstream") == 0) {
			p.relation = XF_PEER_UPSTREAM;
		} else if (strcmp(relation, "child") == 0 || strcmp(relation, "township") == 0) {
			p.relation = relation[0] == 'c' ? XF_PEER_CHILD : XF_PEER_TOWNSHIP;
			snprintf(p.parent, sizeof(p.parent), "%s", s->node);
		} else {
			return -EINVAL;
		}
		if (strcmp(p.node, s->node) == 0 && p.relation != XF_PEER_SELF)
			return XF_EEXIST;
		/* A node is enrolled once: a second key for it would let
		 * whoever holds that key speak for the node. Only what was
		 * learnt from elsewhere gives way to this node's own word. */
		r = peer_get(s, txn, p.node, &known);
		if (r == 0 && known.relation != XF_PEER_DESCENDANT && known.relation != XF_PEER_ANCESTOR)
			return XF_EEXIST;
		if (r < 0 && r != XF_EUNKNOWNNODE)
			return r;
		return peer_put(s, txn, &p, r == 0);
	}
	/* From elsewhere: a child township speaks for its villages, the
	 * upstream for its own upstream; nobody else's enrolments are
	 * trusted. */
	if (peer_get(s, txn, ev->origin, &origin) < 0)
		return 0;
	if (strcmp(relation, "child") == 0 && origin.relation == XF_PEER_TOWNSHIP) {
		p.relation = XF_PEER_DESCENDANT;
		snprintf(p.parent, sizeof(p.parent), "%s", ev->origin);
	} else if (strcmp(relation, "upstream") == 0 &&
		   (origin.relation == XF_PEER_UPSTREAM || origin.relation == XF_PEER_ANCESTOR)) {
		p.relation = XF_PEER_ANCESTOR;
	} else {
		return 0;
	}
	r = peer_put(s, txn, &p, false);
	return r == XF_EEXIST ? enrolment_clash(s, txn, ev, &p) : r;
}

struct peer_ctx {
	const char *node;
	xf_peer *out;
	int (*cb)(const xf_peer *peer, void *ctx);
	void *ctx;
};

static int peer_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct peer_ctx *c = vctx;

	return peer_get(s, txn, c->node, c->out);
}

static int first_role(const xf_event *ev, void *vctx)
{
	char relation[16] = "", *role = vctx;
	xf_fields *f = NULL;

	if (strcmp(ev->type, "node.enrolled") == 0 && xf_fields_parse(ev->body, ev->body_len, &f) == 0) {
		xf_value_str(xf_fields_get(f, "relation"), relation, sizeof(relation));
		if (strcmp(relation, "self") == 0)
			xf_value_str(xf_fields_get(f, "role"), role, XF_ROLE_MAX);
	}
	xf_fields_free(f);
	return 1; /* the first event is all there is to read */
}

int xf_store_role(xf_store *s, char role[XF_ROLE_MAX])
{
	int r;

	if (!s || !role)
		return -EINVAL;
	role[0] = '\0';
	r = xf_store_scan(s, s->node, 1, first_role, role);
	return r < 0 ? r : 0;
}

int xf_store_peer(xf_store *s, const char *node, xf_peer *out)
{
	struct peer_ctx c = { node, out, NULL, NULL };
	int r;

	if (!node || xf_node_id_check(node) < 0 || !out)
		return -EINVAL;
	r = store_read(s, peer_txn, &c);
	return r == XF_EUNKNOWNNODE ? XF_ENOTFOUND : r;
}

int xf_store_peer_key(xf_store *s, const char *node, uint8_t pubkey[XF_PUBKEY_BYTES])
{
	xf_peer p;
	int r = xf_store_peer(s, node, &p);

	if (r == 0)
		memcpy(pubkey, p.pubkey, XF_PUBKEY_BYTES);
	return r;
}

static int peer_key(xf_store *s, MDB_txn *txn, const char *node, void *vctx)
{
	struct peer_ctx *c = vctx;
	xf_peer p;
	int r = peer_get(s, txn, node, &p);

	return r < 0 ? r : c->cb(&p, c->ctx);
}

static int peers_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	return walk_keys(s, txn, s->peers, XF_NODE_ID_MAX, peer_key, vctx);
}

int xf_store_peers(xf_store *s, int (*cb)(const xf_peer *peer, void *ctx), void *ctx)
{
	struct peer_ctx c = { NULL, NULL, cb, ctx };

	if (!cb)
		return -EINVAL;
	return store_read(s, peers_txn, &c);
}
