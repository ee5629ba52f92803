/* The configuration file both binaries read (INI, through inih):
 *
 *   [node]     id, role (village | township), data_dir, author
 *   [upstream] url, interval (seconds between syncs when idle; default 60),
 *              upload_limit (KiB/s the sync may send; default 0, no limit),
 *              ca_file (PEM CAs that vouch for an https upstream),
 *              pinned_key (sha256//BASE64 of the upstream's public key)
 *   [server]   listen, tls_cert and tls_key (PEM files: serve HTTPS), admin_token_file (a file holding the token that opens
 *              GET /v1/status and /metrics), stale_after (seconds without a
 *              sync after which status flags a child; default 86400),
 *              rate_limit (sync requests a second one child may make, in
 *              bursts of ten times that; default 10)
 *
 * Unknown sections or keys and bad values are errors naming file and line. */
#ifndef XF_CONFIG_H
#define XF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "xf/text.h"

#define XF_CONFIG_DEFAULT "/etc/xinfang/xinfang.conf"
#define XF_CONFIG_PATH_MAX 1024
#define XF_SYNC_INTERVAL_DEFAULT 60
/* The sync client allows a request 120 s; a full batch (1 MiB) must fit. */
#define XF_UPLOAD_LIMIT_MIN 16
#define XF_STALE_AFTER_DEFAULT 86400
#define XF_RATE_LIMIT_DEFAULT 10

typedef struct xf_config {
	char node_id[XF_NODE_ID_MAX + 1];
	char role[16];
	char data_dir[XF_CONFIG_PATH_MAX];
	char author[64];
	char upstream_url[1024];
	unsigned sync_interval_s;
	unsigned upload_limit_kib;    /* 0: no limit */
	char ca_file[XF_CONFIG_PATH_MAX];
	char pinned_key[128];
	char listen[256];
	char tls_cert[XF_CONFIG_PATH_MAX];
	char tls_key[XF_CONFIG_PATH_MAX];
	char admin_token_file[XF_CONFIG_PATH_MAX];
	unsigned stale_after_s;
	unsigned rate_limit;          /* sync requests a second per child */
	bool server_keys;             /* a [server] key was given at all */
} xf_config;

/* Read PATH into *out. On failure returns XF_ECONFIG (or -errno when the
 * file cannot be read) and writes a one-line reason naming file and line
 * into ERR. */
int xf_config_load(const char *path, xf_config *out, char *err, size_t err_size);

#endif
