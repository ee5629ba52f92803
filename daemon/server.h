/* The township's HTTP server (libmicrohttpd): children sync with it, the
 * administrator reads its status and metrics. */
#ifndef XFD_SERVER_H
#define XFD_SERVER_H

#include "xf/xf.h"

typedef struct server server;

/* Serve S (and sign receipts with KEY) on CFG's [server] listen; CFG, S
 * and KEY are borrowed for the server's life. Children sync on POST
 * /v1/sync; with an admin_token_file, GET /v1/status and /metrics answer
 * the administrator's bearer token. On failure, logs why in one line and
 * returns a negative code. CHECK_ONLY: read the address, the token and
 * the TLS pair as a start would, then stop short of listening (*out is
 * left NULL). */
int server_start(server **out, const xf_config *cfg, xf_store *s, const xf_key *key, bool check_only);
void server_stop(server *srv);

#endif
