/* The store: one node's signed, hash-chained, append-only event log in an
 * LMDB environment in its data dir, with the indexes built beside it.
 *
 * Every change (a local append of one or many events, a remote batch) is
 * one LMDB write transaction: it lands whole or not at all. LMDB serialises
 * writers across processes, so two processes appending at once never lose
 * or duplicate a seq. The map grows when full instead of failing.
 *
 * Events read from the store are handed to callbacks as xf_event views
 * whose bytes are *borrowed*: valid only until the callback returns. */
#ifndef XF_STORE_H
#define XF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xf/event.h"
#include "xf/key.h"

/* 2: projections kept in the store; 3: a case's accepted_on and the
 * case.extended act; 4: a note, work group or extension its status
 * forbids is a status conflict; 5: a reopening clears the extension of
 * the handling it ends; 6: an entity of one event keeps its event's key,
 * not its projection; 7: nor that (a log of an earlier version is
 * re-folded when first opened). */
#define XF_SCHEMA_VERSION 7
#define XF_KEY_FILE "node.key"
/* Quarantine and fork evidence keep at most this many events each: a
 * node that keeps sending forgeries must not fill the disk. Past it,
 * events are still refused and counted, no longer kept. Of the quarantine
 * (forged, damaged, out of scope), what one sender brings
 * (xf_ingest_opts.sender) is kept up to XF_EVIDENCE_NODE_MAX, so that a
 * child flooding forgeries leaves room for the others'. Forks are signed
 * by their origins, and may be a rollback's only copy of its records:
 * only the whole cap limits them. */
#define XF_EVIDENCE_MAX 20000
#define XF_EVIDENCE_NODE_MAX 2000

typedef struct xf_store xf_store;

/* Create DIR (0700; its parent must exist) and in it the node key and the
 * log, whose first event enrols this node's own public key. XF_EEXIST if
 * DIR already holds a key or a log. On success PUBKEY holds the new public
 * key. */
int xf_store_init(const char *dir, const char *node_id, const char *role, uint64_t wall_ms,
		  uint8_t pubkey[XF_PUBKEY_BYTES]);

/* Open the log in DIR for node NODE_ID. The caller closes it with
 * xf_store_close(). XF_ENOTFOUND if DIR holds no log, XF_EUNSAFE if DIR is
 * open to group or others or owned by another user, XF_ENODE if the log
 * belongs to another node id, XF_ESCHEMA if a newer version wrote it. */
int xf_store_open(xf_store **out, const char *dir, const char *node_id);
void xf_store_close(xf_store *s);

const char *xf_store_node(const xf_store *s);

/* Let go of the log's pages this process has read: they stay in the page
 * cache, but stop counting in its resident memory, so that a daemon that
 * walked a long log in a catch-up shrinks back. Safe at any time; the next
 * read faults them in again. */
int xf_store_trim(xf_store *s);

/* A local act to record. ENTITY names an existing entity; or it is NULL
 * and NEW_KIND (an upper-case letter) makes a new entity "K-origin-seq",
 * unique across nodes without coordination. The new event's parents are
 * the entity's current heads: the latest events of it this node holds. */
typedef struct xf_draft {
	const char *type;
	const char *entity;
	char new_kind;
	const char *author;
	const uint8_t *body; /* an encoded xf_body */
	size_t body_len;
} xf_draft;

typedef struct xf_appended {
	uint64_t seq;
	char entity[XF_ENTITY_ID_MAX + 1];
} xf_appended;

/* Sign and append N drafts in one transaction: all land or none does.
 * OUT, if not NULL, receives N results. XF_ENOTFOUND if a draft names an
 * entity the log does not hold, XF_EEXIST when enrolling a node already
 * enrolled, -EINVAL for a malformed draft. */
int xf_store_append(xf_store *s, const xf_key *key, const xf_draft *drafts, size_t n,
		    uint64_t wall_ms, xf_appended *out);

/* One event's bytes as received. */
typedef struct xf_blob {
	const uint8_t *data;
	size_t len;
} xf_blob;

typedef struct xf_ingest_stats {
	size_t stored;     /* new events now in the log */
	size_t duplicates; /* already held, byte for byte */
	size_t forks;      /* a different, validly signed event for a held origin:seq: kept as evidence */
	size_t rejected;   /* not stored: see first_error and first_rejected */
	size_t quarantined; /* of the rejected, those kept aside as evidence of damage or forgery */
	size_t early;      /* of the rejected, those that came too early and will come again: an
			    * origin not enrolled here yet, a gap in its chain */
	size_t unkept;     /* evidence (forks, and rejected events worth keeping) not kept: its
			    * store full, or the sender's share of the quarantine */
	int first_error;
	char first_rejected[XF_EVENT_ID_MAX + 1];
} xf_ingest_stats;

/* A named value kept beside the log (sync cursors, receipts). */
typedef struct xf_kv {
	const char *key;
	const void *value;
	size_t len;
} xf_kv;

typedef struct xf_ingest_opts {
	/* The events are a scoped part of their origins' logs (what a node
	 * pulls from its upstream): each is proven by its own signature, and
	 * gaps in seq are expected. Otherwise every origin's chain must be
	 * continued without a gap. */
	bool sparse;
	/* Written in the same transaction as the events they describe. */
	const xf_kv *state;
	size_t n_state;
	/* STATE is left unwritten if an event came too early (see
	 * xf_ingest_stats.early): state that says the batch was taken, such
	 * as a pull cursor, must not pass events that are to come again. */
	bool state_needs_all;
	/* The events come up from below (a bundle a child carried): those of
	 * an origin outside every child's subtree are refused (XF_ESCOPE). */
	bool from_below;
	/* The events come down from above (a bundle the upstream made for
	 * this node): only those of the upstream and the nodes above it are
	 * taken, the others refused (XF_ESCOPE). */
	bool from_above;
	/* Told, inside the transaction, the head this node holds of each
	 * origin the batch named, after the batch. */
	void (*on_head)(const char *origin, uint64_t seq, const uint8_t hash[XF_HASH_BYTES], void *ctx);
	void *ctx;
	/* The node that delivered the batch (the child whose signed request
	 * pushed it), whose quarantined events count against its own share
	 * (XF_EVIDENCE_NODE_MAX); NULL: only the whole cap applies. */
	const char *sender;
} xf_ingest_opts;

/* Ingest N events received from elsewhere in one transaction. Each must be
 * signed by its origin's enrolled key and decode; unless OPTS->sparse it
 * must continue its origin's chain (seq one past the head, prev = hash of
 * the head), and a contiguous run of one origin's events is proven by its
 * links and the signature of the run's last event. Events that fail are
 * rejected and counted, and the rest of their origin's run with them;
 * other origins' events still land. Damaged or forged events are kept in
 * quarantine. OPTS may be NULL.
 * Returns 0 when the batch was processed (even if some events were
 * rejected: see STATS), negative only when nothing could be written. */
int xf_store_ingest(xf_store *s, const xf_blob *events, size_t n, uint64_t wall_ms,
		    const xf_ingest_opts *opts, xf_ingest_stats *stats);

/* Write named values in one transaction. */
int xf_store_state_put(xf_store *s, const xf_kv *kv, size_t n);

/* A copy of the value under KEY into *out (the caller disposes of it).
 * XF_ENOTFOUND if there is none. */
int xf_store_state_get(xf_store *s, const char *key, uint8_t **value, size_t *len);

/* Every named value whose key starts with PREFIX, in key order; key and
 * value borrowed until CB returns. */
int xf_store_state_scan(xf_store *s, const char *prefix,
			int (*cb)(const char *key, const uint8_t *value, size_t len, void *ctx), void *ctx);

/* Callback over events; EV and its bytes are borrowed until it returns. A
 * non-zero return stops the walk and is returned by the walk. */
typedef int (*xf_event_cb)(const xf_event *ev, void *ctx);

/* Every event of ORIGIN (or of all origins when NULL) from seq FROM on, in
 * (origin, seq) order. */
int xf_store_scan(xf_store *s, const char *origin, uint64_t from, xf_event_cb cb, void *ctx);

/* The same walk over ORIGIN's events from FROM, giving only each event's
 * bytes (borrowed) and seq: what sending needs, without decoding. */
int xf_store_scan_bytes(xf_store *s, const char *origin, uint64_t from,
			int (*cb)(const uint8_t *bytes, size_t len, uint64_t seq, void *ctx), void *ctx);

/* Every event of ENTITY in (hlc, origin, seq) order. XF_ENOTFOUND if the
 * log holds none. */
int xf_store_entity_scan(xf_store *s, const char *entity, xf_event_cb cb, void *ctx);

/* Entity ids whose first letter is KIND (any when 0), in id order. CB gets
 * each id, borrowed. */
int xf_store_entities(xf_store *s, char kind, int (*cb)(const char *entity, void *ctx), void *ctx);

/* The last seq and hash held for ORIGIN; seq 0 and zero hash when none. */
int xf_store_head(xf_store *s, const char *origin, uint64_t *seq, uint8_t hash[XF_HASH_BYTES]);

/* How a node stands to this one. A node trusts the keys it enrolled itself
 * (its children, its upstream), the enrolments made by its child
 * townships (their villages), and those of its upstream (the upstream's
 * own upstream). A village child's enrolments are never trusted: a
 * village has no children, and one that claims some is claiming ids. */
typedef enum xf_relation {
	XF_PEER_SELF = 's',
	XF_PEER_CHILD = 'c',      /* enrolled here: a village of this township */
	XF_PEER_TOWNSHIP = 't',   /* enrolled here: a township of this county, speaking for its villages */
	XF_PEER_DESCENDANT = 'd', /* enrolled by a child township */
	XF_PEER_UPSTREAM = 'u',   /* enrolled here: the node this one syncs with */
	XF_PEER_ANCESTOR = 'a',   /* enrolled by the upstream as its own upstream */
} xf_relation;

typedef struct xf_peer {
	char node[XF_NODE_ID_MAX + 1];
	uint8_t pubkey[XF_PUBKEY_BYTES];
	char relation;                     /* an xf_relation */
	char parent[XF_NODE_ID_MAX + 1];   /* who enrolled a child or descendant */
} xf_peer;

/* Is a peer of this relation a child, whom this node serves? */
static inline int xf_relation_is_child(char relation)
{
	return relation == XF_PEER_CHILD || relation == XF_PEER_TOWNSHIP;
}

/* The enrolled key of NODE. XF_ENOTFOUND if not enrolled. */
int xf_store_peer(xf_store *s, const char *node, xf_peer *out);
int xf_store_peer_key(xf_store *s, const char *node, uint8_t pubkey[XF_PUBKEY_BYTES]);

/* Every enrolled node, in id order; borrowed until CB returns. */
int xf_store_peers(xf_store *s, int (*cb)(const xf_peer *peer, void *ctx), void *ctx);

/* The role ("village", "township", "county") this node's log was
 * initialised with, which the first event, the enrolment of the node's
 * own key, names; "" when it names none. */
#define XF_ROLE_MAX 16
int xf_store_role(xf_store *s, char role[XF_ROLE_MAX]);

/* Every origin this node holds events of, with its head. */
int xf_store_heads(xf_store *s, int (*cb)(const char *origin, uint64_t seq, bool sparse, void *ctx), void *ctx);

/* The name of the feed a child node pulls, and of the broadcast feed. */
#define XF_FEED_BROADCAST "*"
void xf_feed_name(const char *child, char name[XF_NODE_ID_MAX + 2]);

/* Events filed under FEED after position AFTER, in filing order; CB gets
 * each event's bytes (borrowed) and its position. */
int xf_store_feed_scan(xf_store *s, const char *feed, uint64_t after,
		       int (*cb)(const uint8_t *bytes, size_t len, uint64_t pos, void *ctx), void *ctx);

/* How many events the log holds, of every origin. */
int xf_store_count_events(xf_store *s, uint64_t *events);

/* How many events are held in quarantine and as fork evidence. */
int xf_store_evidence(xf_store *s, size_t *quarantined, size_t *forks);

typedef struct xf_verify_report {
	uint64_t events;
	size_t origins;
	size_t forks;
	int error;                            /* 0 when the whole log is sound */
	char bad_event[XF_EVENT_ID_MAX + 1];  /* the first event at fault */
} xf_verify_report;

/* Check every event's decoding, signature, seq and chain link, the heads,
 * and that no fork evidence is held. Returns 0 when the log is sound, else
 * the first fault's code (also in REPORT->error, with the event named). */
int xf_store_verify(xf_store *s, xf_verify_report *report);

#endif
