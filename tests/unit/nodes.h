/* Test nodes: a store and its key in a directory of the test's own, as
 * test_store, test_sync and test_merge need them, and in-process sync
 * between them. Include after unit.h. */
#ifndef XF_TESTS_NODES_H
#define XF_TESTS_NODES_H

#include <limits.h>

#include "xf/body.h"
#include "xf/store.h"
#include "xf/sync.h"

#define WALL 1717000000000ull /* 2024-05-29, a fixed clock for every test */

/* An empty map: the body of an act that needs no fields. */
static const uint8_t empty_body[] = { 0x80 };

struct node {
	char id[XF_NODE_ID_MAX + 1];
	char dir[PATH_MAX];
	xf_store *store;
	xf_key *key;
	uint8_t pubkey[XF_PUBKEY_BYTES];
};

static inline void node_open(struct node *n)
{
	char path[PATH_MAX];

	assert_rc(xf_store_open(&n->store, n->dir, n->id), 0);
	unit_path(path, sizeof(path), n->dir, XF_KEY_FILE);
	assert_rc(xf_key_load(&n->key, path), 0);
}

/* A new node ID of ROLE with its data dir inside PARENT, opened. */
static inline void node_create(struct node *n, const char *parent, const char *id, const char *role)
{
	snprintf(n->id, sizeof(n->id), "%s", id);
	unit_path(n->dir, sizeof(n->dir), parent, id);
	assert_rc(xf_store_init(n->dir, id, role, WALL, n->pubkey), 0);
	node_open(n);
}

static inline void node_close(struct node *n)
{
	xf_store_close(n->store);
	xf_key_free(n->key);
	n->store = NULL;
	n->key = NULL;
}

/* Record on ON a node.enrolled event for PEER with RELATION ("child",
 * "township", "upstream"), as `xinfangctl enroll` does. */
static inline int enrol(struct node *on, const struct node *peer, const char *relation)
{
	char hex[XF_PUBKEY_HEX];
	const uint8_t *bytes;
	xf_body *body = NULL;
	xf_draft d;
	size_t len;
	int r;

	xf_pubkey_to_hex(peer->pubkey, hex);
	assert_rc(xf_body_new(&body), 0);
	assert_rc(xf_body_put_str(body, "node", peer->id, XF_NODE_ID_MAX), 0);
	assert_rc(xf_body_put_str(body, "pubkey", hex, 64), 0);
	assert_rc(xf_body_put_str(body, "relation", relation, 15), 0);
	assert_rc(xf_body_bytes(body, &bytes, &len), 0);
	d = (xf_draft){ .type = "node.enrolled", .new_kind = 'N', .author = "admin", .body = bytes, .body_len = len };
	r = xf_store_append(on->store, on->key, &d, 1, WALL, NULL);
	xf_body_free(body);
	return r;
}

/* UP takes CHILD as a village ("child") or a township ("township"); CHILD
 * takes UP as its upstream. */
static inline void link_nodes(struct node *up, struct node *child, const char *relation)
{
	assert_rc(enrol(up, child, relation), 0);
	assert_rc(enrol(child, up, "upstream"), 0);
}

struct round {
	xf_sync_push push;
	xf_sync_stats served, applied;
	size_t req_len, resp_len;
};

/* What binds an answer to its request: the request's Authorization, as
 * the client made it, and the server's signature over the answer. */
struct seal {
	xf_auth request;
	char sig[XF_REPLY_SIG_MAX];
};

/* CHILD's Authorization of REQ, signed at its clock CHILD_MS. */
static inline xf_auth request_auth(const struct node *child, uint64_t child_ms, const xf_buf *req)
{
	char header[XF_AUTH_HEADER_MAX];
	xf_auth auth;

	assert_rc(xf_auth_make(child->key, child->id, "POST", XF_SYNC_PATH, child_ms, req->data, req->len, header), 0);
	assert_rc(xf_auth_parse(header, &auth), 0);
	return auth;
}

/* Make SEAL's request an Authorization from NODE at its clock MS, its
 * signature blank (the daemon checks a request's signature; the core only
 * answers it). Returns &seal->request. */
static inline const xf_auth *seal_from(struct seal *seal, const char *node, uint64_t ms)
{
	memset(seal, 0, sizeof(*seal));
	assert_true(strlen(node) < sizeof(seal->request.node));
	memcpy(seal->request.node, node, strlen(node) + 1);
	seal->request.time_ms = ms;
	return &seal->request;
}

/* Sign RESP again with UP's key, as UP's answer to SEAL's request: a test
 * that alters an answer reaches past the signature this way. */
static inline void reseal(const struct node *up, struct seal *seal, const xf_buf *resp)
{
	assert_rc(xf_reply_sign(up->key, &seal->request, resp->data, resp->len, seal->sig), 0);
}

/* STORE's next request body, inflated as the server would have it. */
static inline void request_body(xf_store *store, xf_buf *body, xf_sync_push *push)
{
	xf_buf wire = { 0 };
	bool deflated;

	assert_rc(xf_sync_request(store, "test/1", 0, NULL, &wire, &deflated, push), 0);
	if (!deflated) {
		*body = wire;
		return;
	}
	assert_rc(xf_inflate(wire.data, wire.len, XF_SYNC_BODY_MAX, true, body), 0);
	xf_buf_dispose(&wire);
}

/* One sync of CHILD with UP, as xinfangd does it, but in process, with
 * each side's wall clock given. */
static inline int sync_round_at(struct node *child, uint64_t child_wall, struct node *up, uint64_t up_wall,
				struct round *rd)
{
	xf_buf req = { 0 }, resp = { 0 };
	struct seal seal;
	int r;

	memset(rd, 0, sizeof(*rd));
	request_body(child->store, &req, &rd->push);
	rd->req_len = req.len;
	seal.request = request_auth(child, child_wall, &req);
	r = xf_sync_serve(up->store, up->key, &seal.request, req.data, req.len, up_wall, &resp, seal.sig, &rd->served);
	if (r == 0) {
		rd->resp_len = resp.len;
		r = xf_sync_apply(child->store, &rd->push, &seal.request, resp.data, resp.len, seal.sig, child_wall,
				  &rd->applied);
	}
	xf_buf_dispose(&req);
	xf_buf_dispose(&resp);
	return r;
}

static inline int sync_round(struct node *child, struct node *up, struct round *rd)
{
	return sync_round_at(child, WALL, up, WALL, rd);
}

/* Sync until nothing is left to push or pull; the number of rounds. */
static inline size_t sync_all_at(struct node *child, uint64_t child_wall, struct node *up, uint64_t up_wall)
{
	struct round rd;
	size_t rounds = 0;

	do {
		assert_rc(sync_round_at(child, child_wall, up, up_wall, &rd), 0);
		assert_int_equal(rd.applied.rejected, 0);
		assert_true(++rounds < 20);
	} while (rd.applied.more);
	return rounds;
}

static inline size_t sync_all(struct node *child, struct node *up)
{
	return sync_all_at(child, WALL, up, WALL);
}

#endif
