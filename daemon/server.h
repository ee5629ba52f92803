/* The township's HTTP server (libmicrohttpd): children sync with it. */
#ifndef XFD_SERVER_H
#define XFD_SERVER_H

#include "xf/xf.h"

typedef struct server server;

/* Serve S (and sign receipts with KEY; both borrowed for the server's
 * life) on LISTEN ("host:port"). */
int server_start(server **out, const char *listen, xf_store *s, const xf_key *key);
void server_stop(server *srv);

#endif
