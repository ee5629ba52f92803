/* Sync status as one JSON object: what `xinfangctl status --json` prints
 * and the township's GET /v1/status serves, built from the store, the
 * config and the daemon's live state. Linked into both binaries, like
 * client.c.
 *
 * The daemon holds DATA_DIR/xinfangd.pid locked while it runs and keeps
 * its state in words (the sd_notify STATUS line) in DATA_DIR/xinfangd.state,
 * so the CLI can tell whether it runs and what it is doing. */
#ifndef XFD_STATUS_H
#define XFD_STATUS_H

#include <jansson.h>
#include <stdbool.h>

#include "xf/xf.h"

typedef struct daemon_live {
	bool running;
	long pid;
	char state[256];
} daemon_live;

/* The daemon: take DATA_DIR/xinfangd.pid for this process, for its whole
 * life (the descriptor stays open). -EEXIST, with *OTHER set, when
 * another daemon holds it. */
int daemon_claim(const char *data_dir, long *other);
/* The daemon: publish its state in words. */
void daemon_publish(const char *data_dir, const char *state);
/* The CLI: whether a daemon runs on DATA_DIR, and its state. */
void daemon_probe(const char *data_dir, daemon_live *out);

/* The status of the node S belongs to, as a new JSON object (NULL when
 * out of memory or the store fails; *err says which). */
json_t *status_json(xf_store *s, const xf_config *cfg, const daemon_live *live, uint64_t now_ms, int *err);

#endif
