/* The sync protocol over buffers: what a node sends its upstream, what the
 * upstream answers, and how each side applies the other's message. The
 * daemon moves these bodies over HTTP (see daemon/PROTOCOL.md); a bundle
 * file carries the same bodies on a USB stick. Nothing here knows HTTP.
 *
 * A request pushes, per origin, the events the upstream has not yet
 * acknowledged (the node's own events first, so that its enrolments arrive
 * before the events of the nodes they enrol), and carries the node's
 * cursors in its two feeds at the upstream: its own and the broadcast one.
 * The response acknowledges, per origin pushed, the head the upstream now
 * holds; returns what the node may see after its cursors; signs a receipt
 * for the node's own head; and says whether there is more. An idle sync is
 * one small request and one small response. */
#ifndef XF_SYNC_H
#define XF_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xf/key.h"
#include "xf/store.h"
#include "xf/wire.h"

#define XF_SYNC_PATH          "/v1/sync"
#define XF_SYNC_CONTENT_TYPE  "application/msgpack"
/* Answers smaller than this travel uncompressed: deflate would add bytes.
 * (A request is deflated when it pushes events, never when idle.) */
#define XF_SYNC_DEFLATE_MIN   128
#define XF_SYNC_VERSION       1
/* Events of one push or one pull, before compression: a lost connection
 * costs at most this much work, and a node's memory stays small. */
#define XF_SYNC_BATCH_BYTES   (1u << 20)
#define XF_SYNC_BATCH_EVENTS  4096
/* Limits on what a peer may send, checked before and after inflating. */
#define XF_SYNC_WIRE_MAX      (2u << 20)
#define XF_SYNC_BODY_MAX      (4u << 20)

typedef struct xf_sync_stats {
	size_t pushed;       /* events sent up */
	size_t stored;       /* of those, new to the upstream (server: to us) */
	size_t pulled;       /* events received and new here */
	size_t rejected;     /* events refused by the receiving side */
	size_t unkept;       /* server: evidence in the push it had no room to keep
			      * (xf_ingest_stats) */
	int first_error;
	char first_rejected[XF_EVENT_ID_MAX + 1];
	/* Client: the first of its pushed events the upstream refused, "" if
	 * none (FIRST_REJECTED may be a pulled one this node refused). */
	char first_refused_up[XF_EVENT_ID_MAX + 1];
	bool more;           /* more to push or pull: call again */
	bool receipt;        /* a signed receipt for our head came back and holds */
	uint64_t server_ms;  /* the upstream's clock when it answered */
	char peer[XF_NODE_ID_MAX + 1]; /* the other side */
	/* Server: the client said its log ends at CLAIMED_HEAD, below the
	 * HELD_HEAD this node holds of it: it lost events it had sent (a
	 * restored backup, a damaged disk). This node keeps its copy. */
	bool rollback;
	uint64_t claimed_head, held_head;
} xf_sync_stats;

/* What a request pushed: the client needs it to read the response. */
typedef struct xf_sync_push {
	size_t events;
	size_t bytes;
	bool full;  /* the batch limit stopped it: more is waiting */
} xf_sync_push;

/* Origins a client leaves out of the rest of a sync: those whose events
 * the upstream refused in it. Refused events stay pending (they are sent
 * again at the next sync), but one refused origin must not take every
 * batch and hold back the origins behind it. */
#define XF_SYNC_SKIP_MAX 16
typedef struct xf_sync_skip {
	size_t n;
	char origin[XF_SYNC_SKIP_MAX][XF_NODE_ID_MAX + 1];
} xf_sync_skip;

/* Add the origin of event EVENT_ID ("origin:seq") to SKIP. False when it
 * is there already, is no event id, or SKIP is full: nothing new to try. */
bool xf_sync_skip_add(xf_sync_skip *skip, const char *event_id);

/* Client: the next request as it travels into *out, which the caller
 * disposes of; what it pushes into *push, leaving out the origins in
 * SKIP (NULL: none). CLOCK_OFFSET_MS is what the client adds to its clock
 * to sign (learnt from a refusal for skew; at most XF_CLOCK_OFFSET_MAX_MS
 * either way), told to the upstream so that it can show the clock's own
 * skew. A request that pushes is deflated (*deflated set:
 * "Content-Encoding: deflate"), packed through deflate as it is read
 * from the log, so that its batch is never held uncompressed; one that
 * does not is a few plain bytes. */
#define XF_CLOCK_OFFSET_MAX_MS (1000ll * 366 * 24 * 3600 * 1000)
int xf_sync_request(xf_store *s, const char *software, int64_t clock_offset_ms, const xf_sync_skip *skip,
		    xf_buf *out, bool *deflated, xf_sync_push *push);

/* Client: apply the upstream's response RESP (inflated) to REQUEST, the
 * request that pushed PUSH, in one transaction: pulled events,
 * acknowledged heads, cursors, receipt. SIG is the response's X-Xf-Sig
 * (wire.h): nothing is believed before it holds. XF_EPROTO for a
 * malformed response, XF_EUNKNOWNNODE when the upstream is not enrolled
 * here as this node's upstream, XF_EBADSIG for a response or a receipt
 * its key did not sign; nothing is written then. */
int xf_sync_apply(xf_store *s, const xf_sync_push *push, const xf_auth *request, const uint8_t *resp, size_t len,
		  const char *sig, uint64_t wall_ms, xf_sync_stats *stats);

/* Server: answer REQ (inflated), the request REQUEST's node made and signed
 * at its clock REQUEST->time_ms, into *out, and sign the answer into SIG
 * and the receipt in it with KEY. The client's clock (0: not known) is kept
 * with when it was seen, for status. XF_EPROTO for a malformed request,
 * XF_ETOOBIG for one over the limits, -EPERM when the node is not a child
 * of this node. */
int xf_sync_serve(xf_store *s, const xf_key *key, const xf_auth *request, const uint8_t *req, size_t len,
		  uint64_t wall_ms, xf_buf *out, char sig[XF_REPLY_SIG_MAX], xf_sync_stats *stats);

/* How many events this node holds that its upstream has not acknowledged:
 * the exact count, from the heads and the acknowledgements. */
int xf_sync_pending(xf_store *s, uint64_t *events);

/* A receipt: what the upstream UPSTREAM held of NODE's log at TIME. */
typedef struct xf_receipt {
	char upstream[XF_NODE_ID_MAX + 1];
	char node[XF_NODE_ID_MAX + 1];
	uint64_t seq;
	uint8_t hash[XF_HASH_BYTES];
	uint64_t time_ms;
} xf_receipt;

/* Decode receipt bytes and check the signature with PUBKEY. */
int xf_receipt_check(const uint8_t *bytes, size_t len, const uint8_t *pubkey, xf_receipt *out);

/* A kept receipt, checked twice: its signature, against the enrolled key
 * of the upstream it names; and this node's log, which must still hold
 * the event the receipt vouches for, with the same hash. */
typedef struct xf_receipt_status {
	xf_receipt receipt;  /* zero but for seq when the bytes do not decode */
	int signature;       /* 0, or why the signature does not hold */
	int held;            /* 0; XF_ENOTFOUND: the event is gone (rolled back); XF_EFORK: it changed */
} xf_receipt_status;

/* CB for every receipt S keeps, by the seq it vouches for. */
int xf_receipts_scan(xf_store *s, int (*cb)(const xf_receipt_status *r, void *ctx), void *ctx);

/* Bundles, for a village whose only link is a USB stick: what a sync
 * would carry, in a file only this user may read.
 *
 * xf_bundle_export writes everything the upstream has not acknowledged,
 * as the request bodies a sync would send. xf_bundle_export_for, on a
 * township or county, writes everything its enrolled CHILD may pull (the
 * broadcast feed and the child's own, from their start): the township's
 * decisions on a village's cases, for a village it never reaches by HTTP.
 * Neither moves anything in the store: the same file can be made again.
 *
 * xf_bundle_import ingests either kind, idempotently, each frame in one
 * transaction. A bundle from below is taken only by a township or county,
 * and its events only from a child's subtree; one made for a node, only by
 * that node, and its events only from its upstream and the nodes above.
 * Anything else is XF_ESCOPE. MADE_FOR (may be NULL) gets the node the
 * last frame read was made for, "" for a bundle from below. */
int xf_bundle_export(xf_store *s, const char *path, size_t *events);
int xf_bundle_export_for(xf_store *s, const char *child, const char *path, size_t *events);
int xf_bundle_import(xf_store *s, const char *path, uint64_t wall_ms, xf_ingest_stats *stats,
		     char made_for[XF_NODE_ID_MAX + 1]);

#endif
