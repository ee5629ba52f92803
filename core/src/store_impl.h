/* The store's insides, shared by store.c, peers.c and feed.c only. Every
 * MDB_* type and code stays behind this header.
 *
 * Named databases:
 *   events      origin \0 seq(be64)          -> event bytes, exactly as signed
 *   heads       origin                       -> seq(be64) hash(32) flags(1)
 *   entities    entity (dupsort)             -> hlc(be64) origin \0 seq(be64)
 *   forks       origin \0 seq(be64) hash(32) -> the competing event's bytes
 *   quarantine  origin \0 seq(be64) hash(32) -> reason(be32) event bytes
 *   peers       node id                      -> public key(32) relation(1) parent id
 *   feeds       feed \0 pos(be64)            -> origin \0 seq(be64)
 *   state       key                          -> value (sync cursors, receipts)
 *   meta        "schema" | "node" | "hlc" | "feed:NAME" | "evidence:NODE" -> value
 *   projections entity                       -> the projection's stored form (projcodec.c),
 *                                               for an entity of more than one event
 *                                               (projstore.c)
 *   conflicted  entity                       -> "" while the entity is in conflict
 *
 * The entity index sorts an entity's events by (hlc, origin, seq), the
 * order in which projections fold them. */
#ifndef XF_STORE_IMPL_H
#define XF_STORE_IMPL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>

#include "xf/project.h"
#include "xf/store.h"

#define EVENT_KEY_MAX (XF_NODE_ID_MAX + 1 + 8)

struct xf_store {
	MDB_env *env;
	MDB_dbi events, heads, entities, forks, quarantine, peers, feeds, state, meta;
	MDB_dbi projections, conflicted;
	char node[XF_NODE_ID_MAX + 1];
	/* Growing the map needs every transaction of this process closed:
	 * transactions hold it shared, growth exclusively. */
	pthread_rwlock_t resize_lock;
	/* Group commit: batches ingested while a write transaction is under
	 * way wait, oldest first, and the next transaction takes several at
	 * once, one fsync for many villages' pushes (store.c). */
	pthread_mutex_t group_lock;
	pthread_cond_t group_done;
	struct ingest_ctx *group_queue, **group_tail;
	bool group_busy;
	size_t group_bytes; /* a group's budget of event bytes (GROUP_BYTES) */
	/* The entities the write transaction under way added events to; their
	 * projections are refreshed before it commits. Only the writer, who
	 * holds LMDB's write lock, touches this. */
	struct touch *touched;
	size_t n_touched, cap_touched;
	/* Set only by tests/bench/bench_project.c, to measure what keeping
	 * projections costs; nothing else may, or they go stale. */
	bool projections_off;
};

/* What this node holds of one origin's chain. A sparse origin is one this
 * node receives only part of (its upstream's events about this node's
 * entities): each of its events is proven by its own signature. */
typedef struct head {
	uint64_t seq;
	uint8_t hash[XF_HASH_BYTES];
	bool sparse;
} head;

typedef int (*write_fn)(xf_store *s, MDB_txn *txn, void *ctx);

/* LMDB reports errno values as positive numbers and its own codes as
 * negative ones; inside the store everything is negative. public_rc()
 * turns LMDB codes into ours at the API boundary. */
int mdb_rc(int rc);
int public_rc(int r);

void be64_put(uint8_t *p, uint64_t v);
uint64_t be64_get(const uint8_t *p);
MDB_val val_str(const char *s);
size_t event_key(uint8_t *buf, const char *origin, uint64_t seq);
int event_key_parse(const MDB_val *k, char origin[XF_NODE_ID_MAX + 1], uint64_t *seq);

/* FN inside one write (or read) transaction; see store.c. */
int store_write(xf_store *s, write_fn fn, void *ctx);
int store_read(xf_store *s, write_fn fn, void *ctx);

/* Call FN with each key of DBI (a database keyed by strings of at most
 * MAX bytes), in order, once per key. */
typedef int (*key_fn)(xf_store *s, MDB_txn *txn, const char *key, void *ctx);
int walk_keys(xf_store *s, MDB_txn *txn, MDB_dbi dbi, size_t max, key_fn fn, void *ctx);

/* An entity's events in fold order, as views borrowed from the
 * transaction they were read in; free(evs) when done. */
typedef struct entity_events {
	xf_event *evs;
	size_t n, cap;
} entity_events;

typedef int (*txn_event_cb)(xf_store *s, MDB_txn *txn, const xf_event *ev, void *ctx);
int entity_walk(xf_store *s, MDB_txn *txn, const char *entity, txn_event_cb cb, void *ctx);
int entity_collect(xf_store *s, MDB_txn *txn, const char *entity, entity_events *out);

/* Note that EV was added in this write transaction; bring the stored
 * projection of every entity so noted up to date (projstore.c). */
struct touch {
	const xf_event *ev; /* borrowed: stays valid until projections_refresh() */
	size_t order;       /* of arrival */
};
int projection_touch(xf_store *s, const xf_event *ev);
int projections_refresh(xf_store *s, MDB_txn *txn);

/* ENTITY's projection: folded from its event if it has only one, its row
 * decoded otherwise; XF_ENOTFOUND if it has neither. *out is the caller's
 * to free with xf_entity_free(). */
int projection_get(xf_store *s, MDB_txn *txn, const char *entity, xf_entity **out);
/* The same where CUR, a cursor on the entity index, is at ENTITY's first
 * event, REF its value: for walks over the index. */
int projection_at(xf_store *s, MDB_txn *txn, MDB_cursor *cur, const char *entity, const MDB_val *ref,
		  xf_entity **out);

int meta_get_u64(xf_store *s, MDB_txn *txn, const char *name, uint64_t *out);
int meta_put_u64(xf_store *s, MDB_txn *txn, const char *name, uint64_t value);
int head_get(xf_store *s, MDB_txn *txn, const char *origin, head *out);
int head_put(xf_store *s, MDB_txn *txn, const char *origin, const head *h);
int event_get(xf_store *s, MDB_txn *txn, const char *origin, uint64_t seq, MDB_val *out);

/* peers.c */
int peer_get(xf_store *s, MDB_txn *txn, const char *node, xf_peer *out);
/* Judge a node.enrolled event that is being stored: LOCAL ones are this
 * node's own decisions; others are trusted only from the nodes entitled
 * to make them. */
int peer_index(xf_store *s, MDB_txn *txn, const xf_event *ev, bool local);

/* feed.c: file a stored event under the feeds its children pull. */
int feed_file(xf_store *s, MDB_txn *txn, const xf_event *ev);
/* 1 when NODE is in the subtree of one of this node's children, that
 * child into CHILD; 0 when it is in none. */
int feed_below(xf_store *s, MDB_txn *txn, const char *node, char child[XF_NODE_ID_MAX + 1]);
/* EV, about to be stored, came from the subtree of child SENDER (see
 * feed_below): 0 when it acts within that subtree, XF_ESCOPE when not
 * (see feed.c). */
int feed_scope_check(xf_store *s, MDB_txn *txn, const xf_event *ev, const char *sender);

#endif
