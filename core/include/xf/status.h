/* Sync status, read from the store: what `xinfangctl status`, the
 * township's GET /v1/status and its metrics report. Everything here is
 * kept beside the log by the sync itself, so it reads the same whether or
 * not the daemon runs. Times are wall-clock milliseconds, 0 for never. */
#ifndef XF_STATUS_H
#define XF_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xf/store.h"

/* This node, as a client of its upstream. */
typedef struct xf_status {
	uint64_t events;           /* held, of every origin */
	uint64_t own;              /* recorded here: this node's head seq */
	uint64_t pending;          /* own or relayed events the upstream has not acknowledged */
	uint64_t received;         /* held from other nodes (pulled, or pushed by children) */
	uint64_t last_attempt_ms;  /* of a sync with the upstream */
	uint64_t last_ok_ms;
	char last_error[256];      /* of the last failed sync; "" if none has failed */
	bool skew_known;
	int64_t skew_ms;           /* the upstream's clock minus ours, at the last sync */
	size_t forks, quarantined, conflicts;
} xf_status;

int xf_status_read(xf_store *s, xf_status *out);

/* A child node as this one sees it. */
typedef struct xf_peer_status {
	char node[XF_NODE_ID_MAX + 1];
	char relation;             /* XF_PEER_CHILD or XF_PEER_TOWNSHIP */
	uint64_t last_seen_ms;     /* of its last sync request here */
	uint64_t head;             /* its own head, as it said then */
	uint64_t held;             /* how far this node holds its log */
	uint64_t lag;              /* head - held, when it is ahead */
	char software[64];
	bool skew_known;
	int64_t skew_ms;           /* its clock minus ours, at its last request */
	uint64_t refused_ms;       /* when a request of it was last refused */
	char last_error[200];      /* why; "" if never */
	size_t forks;              /* competing events of its log kept as evidence */
} xf_peer_status;

/* CB for every child enrolled here, in id order. */
int xf_status_peers(xf_store *s, int (*cb)(const xf_peer_status *p, void *ctx), void *ctx);

/* Server: remember why a request of enrolled child NODE was refused (at
 * most one note a second per node; more are dropped). */
int xf_status_note_refusal(xf_store *s, const char *node, uint64_t wall_ms, const char *reason);

#endif
