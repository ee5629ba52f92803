/* The sync client: a node's side of the protocol over HTTP (libcurl).
 * xinfangd runs it in a loop; `xinfangctl sync` runs it once. */
#ifndef XFD_CLIENT_H
#define XFD_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xf/xf.h"

#define XF_SOFTWARE "0.1.0"
/* A sync that would go on longer than this many rounds (each one batch)
 * stops and resumes at the next attempt. */
#define CLIENT_ROUNDS_MAX 1000

typedef struct client_report {
	size_t requests;
	size_t bytes_sent, bytes_received; /* bodies plus HTTP headers */
	size_t pushed, pulled, rejected;
	bool receipt;
	int64_t skew_ms;              /* upstream clock minus ours, */
	bool skew_known;              /* if an answer or a refusal told it */
	long http_status;             /* of the last response; 0 if none */
	char error[256];              /* the last failure in plain words; "" if none */
} client_report;

typedef struct client client;

/* A client of CFG's upstream for the node whose KEY is given (borrowed
 * for the life of the client). STOP, if not NULL, is polled during
 * transfers and while waiting for the sync lock: non-zero aborts the
 * sync. */
int client_new(client **out, const xf_config *cfg, const xf_key *key, volatile sig_atomic_t *stop);
void client_free(client *c);

/* ALIVE, if set, is called often while a sync is under way (from libcurl's
 * progress callback) or waits for another to end: how the daemon keeps
 * systemd's watchdog fed through a long catch-up without feeding it from
 * a thread that cannot hang. */
void client_set_alive(client *c, void (*alive)(void));

/* Sync until nothing is left to push or pull: one request when idle, one
 * per batch otherwise. Returns 0 when in sync; on failure a negative code,
 * with the reason in REPORT->error. Records the outcome in the store for
 * `xinfangctl status`. */
int client_sync(client *c, xf_store *s, client_report *report);

#endif
