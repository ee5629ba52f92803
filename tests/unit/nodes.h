/* Test nodes: a store and its key in a directory of the test's own, as
 * test_store and test_sync both need them. Include after unit.h. */
#ifndef XF_TESTS_NODES_H
#define XF_TESTS_NODES_H

#include <limits.h>

#include "xf/body.h"
#include "xf/store.h"

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

#endif
