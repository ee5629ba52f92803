#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "status.h"

/* Each worker holds one request, its batch decoded, until the writer has
 * stored it: four keep a 2-core township busy; six ingested no faster in
 * tests/bench/sync.sh and held 2 to 6 MiB more. */
#define THREADS 4
#define CONNECTIONS_MAX 256
#define CONNECTIONS_PER_IP 64
#define CONNECTION_TIMEOUT_S 30
#define STATUS_PATH "/v1/status"
#define METRICS_PATH "/metrics"
#define ADMIN_TOKEN_MIN 16
#define ADMIN_TOKEN_MAX 512
/* Children whose request rate is tracked; a table this size holds a
 * county's townships or a township's villages many times over. */
#define RATE_SLOTS 4096

struct server {
	struct MHD_Daemon *mhd;
	xf_store *store;
	const xf_key *key;
	const xf_config *cfg;
	uint8_t admin_token_hash[32]; /* of the admin token; all zero: none */
	bool admin;
	metrics metrics;
	char *tls_cert, *tls_key; /* PEM, when serving HTTPS */
	/* A token bucket per child: cfg->rate_limit requests a second, in
	 * bursts of ten times that. */
	pthread_mutex_t rate_lock;
	struct rate_slot {
		char node[XF_NODE_ID_MAX + 1];
		double tokens;
		uint64_t last_ms;
	} *rates;
};

/* A request being received. */
struct upload {
	xf_buf body;
	size_t cap;
	bool too_big;
	struct timespec start;
};

/* HEADER_NAME: NULL, or one more header to send. */
static enum MHD_Result respond(server *srv, struct MHD_Connection *conn, unsigned status, const char *content_type,
			       const uint8_t *body, size_t len, bool deflated, const char *header_name,
			       const char *header_value)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	metrics_response(&srv->metrics, status);
	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (deflated)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "deflate");
	if (header_name)
		MHD_add_response_header(resp, header_name, header_value);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A refusal: a status and one line saying why. */
static enum MHD_Result refuse(server *srv, struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum MHD_Result refuse(server *srv, struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg) - 1)
		n = (int)strlen(msg);
	msg[n++] = '\n';
	return respond(srv, conn, status, "text/plain; charset=utf-8", (const uint8_t *)msg, (size_t)n, false, NULL,
		       NULL);
}

static unsigned status_for(int r)
{
	switch (r) {
	case XF_ETOOBIG: return MHD_HTTP_CONTENT_TOO_LARGE;
	case XF_EPROTO: return MHD_HTTP_BAD_REQUEST;
	case -EPERM: return MHD_HTTP_FORBIDDEN;
	default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* May NODE make one more request now? Only enrolled nodes get here, so
 * the table fills only with them; when it is full (it never should be)
 * the least recently seen slot is taken over. */
static bool rate_ok(server *srv, const char *node)
{
	double burst = 10.0 * srv->cfg->rate_limit;
	uint64_t now = xf_wall_ms(), h = 5381;
	struct rate_slot *slot = NULL, *oldest = NULL;
	const char *p;
	size_t i;
	bool ok;

	for (p = node; *p; p++)
		h = h * 33 + (unsigned char)*p;
	pthread_mutex_lock(&srv->rate_lock);
	for (i = 0; i < 8 && !slot; i++) { /* a short probe, then evict */
		struct rate_slot *s = &srv->rates[(h + i) % RATE_SLOTS];

		if (strcmp(s->node, node) == 0 || !s->node[0])
			slot = s;
		else if (!oldest || s->last_ms < oldest->last_ms)
			oldest = s;
	}
	if (!slot)
		slot = oldest;
	if (strcmp(slot->node, node) != 0) {
		snprintf(slot->node, sizeof(slot->node), "%s", node);
		slot->tokens = burst;
		slot->last_ms = now;
	}
	slot->tokens += (double)(now > slot->last_ms ? now - slot->last_ms : 0) / 1000 * srv->cfg->rate_limit;
	if (slot->tokens > burst)
		slot->tokens = burst;
	slot->last_ms = now;
	ok = slot->tokens >= 1;
	if (ok)
		slot->tokens -= 1;
	pthread_mutex_unlock(&srv->rate_lock);
	return ok;
}

/* Keep why an enrolled child was refused, for status. Its signature held,
 * so no stranger can make us write (and the core keeps one note a second
 * per node, so no replay can either). */
static void note_refusal(server *srv, const char *node, const char *why)
{
	if (xf_status_note_refusal(srv->store, node, xf_wall_ms(), why) < 0)
		log_warning("cannot keep the refusal of '%s' for status", node);
}

/* Authenticate the complete request; 0 and the node in AUTH, or a
 * response already queued (returned through *ret). */
static int authenticate(server *srv, struct MHD_Connection *conn, const struct upload *up, xf_auth *auth,
			enum MHD_Result *ret)
{
	const char *header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t pubkey[XF_PUBKEY_BYTES];
	uint64_t now = xf_wall_ms();
	int r;

	if (!header || xf_auth_parse(header, auth) < 0) {
		*ret = refuse(srv, conn, MHD_HTTP_UNAUTHORIZED, "missing or malformed Authorization: XF node time signature");
		return -EACCES;
	}
	r = xf_store_peer_key(srv->store, auth->node, pubkey);
	if (r < 0) {
		*ret = refuse(srv, conn, MHD_HTTP_FORBIDDEN, "node '%s' is not enrolled here", auth->node);
		return -EACCES;
	}
	r = xf_auth_check(auth, pubkey, "POST", XF_SYNC_PATH, up->body.data, up->body.len, now);
	if (r == XF_ESKEW) {
		char why[128], server_time[24];

		snprintf(why, sizeof(why), "clock %+.0f s off the township's", ((double)auth->time_ms - (double)now) / 1000);
		log_notice("refused '%s': its clock is %+.0f s off ours", auth->node,
			   ((double)auth->time_ms - (double)now) / 1000);
		note_refusal(srv, auth->node, why);
		snprintf(server_time, sizeof(server_time), "%" PRIu64, now);
		*ret = respond(srv, conn, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
			       (const uint8_t *)"clock skew: see X-Xf-Time\n", 26, false, "X-Xf-Time", server_time);
		return -EACCES;
	}
	if (r < 0) {
		*ret = refuse(srv, conn, MHD_HTTP_UNAUTHORIZED, "signature of '%s' does not verify", auth->node);
		return -EACCES;
	}
	return 0;
}

static enum MHD_Result serve_sync(server *srv, struct MHD_Connection *conn, struct upload *up)
{
	const char *encoding = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	xf_buf inflated = { 0 }, answer = { 0 }, wire = { 0 };
	const xf_buf *req = &up->body, *out;
	char sig[XF_REPLY_SIG_MAX];
	enum MHD_Result ret = MHD_NO;
	xf_sync_stats st;
	xf_auth auth;
	int r;

	if (up->too_big)
		return refuse(srv, conn, MHD_HTTP_CONTENT_TOO_LARGE, "body over %u bytes", XF_SYNC_WIRE_MAX);
	if (up->body.len == 0)
		return refuse(srv, conn, MHD_HTTP_BAD_REQUEST, "empty body: a sync request is a msgpack map");
	if (authenticate(srv, conn, up, &auth, &ret) < 0)
		return ret;
	if (!rate_ok(srv, auth.node)) {
		log_notice("refused '%s': over %u requests a second", auth.node, srv->cfg->rate_limit);
		return refuse(srv, conn, MHD_HTTP_TOO_MANY_REQUESTS, "over %u sync requests a second: try later",
			      srv->cfg->rate_limit);
	}
	if (encoding && (strcmp(encoding, "deflate") == 0 || strcmp(encoding, "gzip") == 0)) {
		r = xf_inflate(up->body.data, up->body.len, XF_SYNC_BODY_MAX, false, &inflated);
		if (r < 0) {
			log_warning("refused '%s': body %s", auth.node, xf_strerror(r));
			return refuse(srv, conn, status_for(r), "body does not inflate within %u bytes: %s", XF_SYNC_BODY_MAX,
				      xf_strerror(r));
		}
		req = &inflated;
	} else if (encoding && strcmp(encoding, "identity") != 0) {
		return refuse(srv, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Encoding must be deflate, gzip or identity");
	}
	r = xf_sync_serve(srv->store, srv->key, &auth, req->data, req->len, xf_wall_ms(), &answer, sig, &st);
	if (r < 0) {
		log_warning("refused sync from '%s': %s", auth.node, xf_strerror(r));
		if (r != -EPERM)
			note_refusal(srv, auth.node, xf_strerror(r));
		ret = refuse(srv, conn, status_for(r), "%s", r == -EPERM ? "only enrolled children sync here" : xf_strerror(r));
		goto cleanup;
	}
	/* Every client of this protocol reads deflate (PROTOCOL.md). */
	out = &answer;
	if (answer.len >= XF_SYNC_DEFLATE_MIN && xf_deflate(answer.data, answer.len, &wire) == 0)
		out = &wire;
	log_info("sync '%s': pushed %zu, new %zu, refused %zu, pulled %zu%s; %zu bytes in, %zu out, %.1f ms",
		 auth.node, st.pushed, st.stored, st.rejected, st.pulled, st.more ? ", more" : "", up->body.len,
		 out->len, ms_since(&up->start));
	metrics_sync(&srv->metrics, ms_since(&up->start) / 1000, st.stored, st.rejected, st.first_error);
	if (st.rollback) {
		char why[200];

		snprintf(why, sizeof(why), "rollback: its log ends at seq %llu, the township holds %llu of it",
			 (unsigned long long)st.claimed_head, (unsigned long long)st.held_head);
		log_warning("'%s': %s (the township keeps its copy)", auth.node, why);
		note_refusal(srv, auth.node, why);
	}
	if (st.rejected) {
		char why[200];

		snprintf(why, sizeof(why), "%zu events that were refused, first %s: %s", st.rejected, st.first_rejected,
			 xf_strerror(st.first_error));
		log_warning("'%s' pushed %s", auth.node, why);
		note_refusal(srv, auth.node, why);
	}
	if (st.unkept)
		log_warning("'%s': %zu events of evidence not kept: the township keeps at most %d forged or damaged "
			    "events from one child and %d of each kind in all",
			    auth.node, st.unkept, XF_EVIDENCE_NODE_MAX, XF_EVIDENCE_MAX);
	ret = respond(srv, conn, MHD_HTTP_OK, XF_SYNC_CONTENT_TYPE, out->data, out->len, out == &wire, XF_REPLY_HEADER,
		      sig);
	xf_store_trim(srv->store);
cleanup:
	xf_buf_dispose(&inflated);
	xf_buf_dispose(&answer);
	xf_buf_dispose(&wire);
	return ret;
}

/* Does the request carry "Authorization: Bearer <the admin token>"? */
static bool admin_ok(server *srv, struct MHD_Connection *conn)
{
	const char *header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t hash[sizeof(srv->admin_token_hash)];

	if (!header || strncmp(header, "Bearer ", 7) != 0)
		return false;
	/* Hashes compared in constant time: neither length nor content leaks. */
	crypto_generichash(hash, sizeof(hash), (const uint8_t *)header + 7, strlen(header + 7), NULL, 0);
	return sodium_memcmp(hash, srv->admin_token_hash, sizeof(hash)) == 0;
}

/* GET /v1/status (what `xinfangctl status --json` prints) and GET
 * /metrics, for the administrator only. */
static enum MHD_Result serve_admin(server *srv, struct MHD_Connection *conn, const char *url)
{
	enum MHD_Result ret;
	daemon_live live;
	json_t *st;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r = 0;

	if (!srv->admin)
		return refuse(srv, conn, MHD_HTTP_FORBIDDEN, "this township has no [server] admin_token_file");
	if (!admin_ok(srv, conn))
		return refuse(srv, conn, MHD_HTTP_UNAUTHORIZED, "Authorization: Bearer <admin token> required");
	if (strcmp(url, STATUS_PATH) == 0) {
		daemon_probe(srv->cfg->data_dir, &live);
		st = status_json(srv->store, srv->cfg, &live, xf_wall_ms(), &r);
		text = st ? json_dumps(st, JSON_INDENT(2)) : NULL;
		json_decref(st);
		if (!text)
			return refuse(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", xf_strerror(r ? r : -ENOMEM));
		ret = respond(srv, conn, MHD_HTTP_OK, "application/json", (const uint8_t *)text, strlen(text), false, NULL,
			      NULL);
		free(text);
		return ret;
	}
	out = open_memstream(&text, &len);
	if (!out)
		return refuse(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	r = metrics_write(&srv->metrics, srv->store, out);
	if (fclose(out) != 0 && r == 0)
		r = -EIO;
	ret = r < 0 ? refuse(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", xf_strerror(r))
		    : respond(srv, conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", (const uint8_t *)text,
			      len, false, NULL, NULL);
	free(text);
	return ret;
}

/* The first call for a request: refuse early what can be refused on its
 * headers, before any body is read. */
static enum MHD_Result begin(server *srv, struct MHD_Connection *conn, const char *url, const char *method,
			     void **con_cls)
{
	const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct upload *up;

	if (strcmp(url, STATUS_PATH) == 0 || strcmp(url, METRICS_PATH) == 0) {
		if (strcmp(method, "GET") != 0)
			return refuse(srv, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return serve_admin(srv, conn, url);
	}
	if (strcmp(url, XF_SYNC_PATH) != 0)
		return refuse(srv, conn, MHD_HTTP_NOT_FOUND, "no such path");
	if (strcmp(method, "POST") != 0)
		return refuse(srv, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
	if (!type || strncmp(type, XF_SYNC_CONTENT_TYPE, strlen(XF_SYNC_CONTENT_TYPE)) != 0 ||
	    (type[strlen(XF_SYNC_CONTENT_TYPE)] != '\0' && type[strlen(XF_SYNC_CONTENT_TYPE)] != ';'))
		return refuse(srv, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be %s", XF_SYNC_CONTENT_TYPE);
	if (length && strtoull(length, NULL, 10) > XF_SYNC_WIRE_MAX)
		return refuse(srv, conn, MHD_HTTP_CONTENT_TOO_LARGE, "body over %u bytes", XF_SYNC_WIRE_MAX);
	up = calloc(1, sizeof(*up));
	if (!up)
		return MHD_NO;
	/* Sized once from Content-Length, so a body is never copied as it
	 * grows. */
	if (length && (up->cap = strtoull(length, NULL, 10)) > 0 && !(up->body.data = malloc(up->cap))) {
		free(up);
		return MHD_NO;
	}
	clock_gettime(CLOCK_MONOTONIC, &up->start);
	*con_cls = up;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *data, size_t *data_size, void **con_cls)
{
	server *srv = cls;
	struct upload *up = *con_cls;
	uint8_t *p;

	(void)version;
	if (!up)
		return begin(srv, conn, url, method, con_cls);
	if (*data_size) {
		if (up->too_big) {
			*data_size = 0;
			return MHD_YES;
		}
		if (up->body.len + *data_size > XF_SYNC_WIRE_MAX) {
			/* The rest is read and dropped, so that the client hears
			 * the 413 rather than a reset; the connection timeout
			 * bounds how long that may take. */
			up->too_big = true;
			*data_size = 0;
			return MHD_YES;
		}
		if (up->body.len + *data_size > up->cap) {
			size_t cap = up->cap * 2 > up->body.len + *data_size ? up->cap * 2 : up->body.len + *data_size;

			p = realloc(up->body.data, cap);
			if (!p)
				return MHD_NO;
			up->body.data = p;
			up->cap = cap;
		}
		memcpy(up->body.data + up->body.len, data, *data_size);
		up->body.len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	return serve_sync(srv, conn, up);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	(void)cls, (void)conn, (void)toe;
	if (!up)
		return;
	xf_buf_dispose(&up->body);
	free(up);
	*con_cls = NULL;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Its "Failed to bind to port 0" names no port we gave: server_start
	 * says why it cannot listen, naming the address. */
	if (strncmp(msg, "Failed to bind to port", 22) == 0)
		return;
	log_warning("http: %s", msg);
}

/* Why a listening socket cannot have ADDR: bind one of our own there. */
static int bind_error(const struct sockaddr_storage *addr)
{
	socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, 1) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int resolve(const char *listen, struct sockaddr_storage *addr)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM }, *ai;
	size_t n;
	int r;

	if (!colon || (n = (size_t)(colon - listen)) >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 1 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if ((r = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai)) != 0) {
		log_error("cannot serve on %s: %s: %s", listen, host, gai_strerror(r));
		return XF_ECONFIG;
	}
	memcpy(addr, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

/* The admin token from PATH: a file only its owner may read, one line of
 * ADMIN_TOKEN_MIN to ADMIN_TOKEN_MAX characters. Kept only as a hash. A
 * longer line is refused rather than cut: its prefix would open status. */
static int load_admin_token(server *srv, const char *path)
{
	char token[ADMIN_TOKEN_MAX + 2]; /* a character more than a token may have: a longer line shows */
	struct stat st;
	FILE *f = fopen(path, "re");
	size_t len = 0;
	int r = 0;

	if (!f)
		return log_error_errno(-errno, "%s", path);
	if (fstat(fileno(f), &st) < 0 || (st.st_mode & 077) || st.st_uid != geteuid()) {
		log_error("%s: the admin token must be a file of this user's, closed to others (chmod 600)", path);
		r = XF_EUNSAFE;
	} else if (!fgets(token, sizeof(token), f) || (len = strcspn(token, "\r\n")) < ADMIN_TOKEN_MIN) {
		log_error("%s: the admin token must be one line of at least %d characters", path, ADMIN_TOKEN_MIN);
		r = XF_ECONFIG;
	} else if (len > ADMIN_TOKEN_MAX) {
		log_error("%s: the admin token must be one line of at most %d characters", path, ADMIN_TOKEN_MAX);
		r = XF_ECONFIG;
	} else {
		token[len] = '\0';
		crypto_generichash(srv->admin_token_hash, sizeof(srv->admin_token_hash), (const uint8_t *)token,
				   strlen(token), NULL, 0);
		srv->admin = true;
	}
	sodium_memzero(token, sizeof(token));
	fclose(f);
	return r;
}

/* A whole PEM file into *out (NUL-terminated, the caller frees it). A
 * private key must be closed to others. */
static int read_pem(const char *path, bool secret, char **out)
{
	struct stat st;
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	int r = 0;

	if (!f)
		return log_error_errno(-errno, "%s", path);
	if (fstat(fileno(f), &st) < 0 || st.st_size <= 0 || st.st_size > 1 << 20) {
		log_error("%s: not a PEM file", path);
		r = XF_ECONFIG;
	} else if (secret && (st.st_mode & 077)) {
		log_error("%s: a TLS key must be closed to others (chmod 600)", path);
		r = XF_EUNSAFE;
	} else if (!(buf = calloc(1, (size_t)st.st_size + 1)) || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		r = log_error_errno(buf ? -EIO : -ENOMEM, "%s", path);
	}
	fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}

/* libmicrohttpd fails to start on a certificate or key it cannot use just
 * as it does on a port in use, and says which only in passing: try the
 * pair first the way it will (GnuTLS), to name the fault. */
static int check_tls_pair(const server *srv)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = { (unsigned char *)srv->tls_cert, (unsigned)strlen(srv->tls_cert) };
	gnutls_datum_t key = { (unsigned char *)srv->tls_key, (unsigned)strlen(srv->tls_key) };
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return log_error_errno(-ENOMEM, "cannot set up TLS");
	r = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cred);
	if (r < 0) {
		log_error("%s, %s: not a TLS certificate and its key: %s", srv->cfg->tls_cert, srv->cfg->tls_key,
			  gnutls_strerror(r));
		return XF_ECONFIG;
	}
	return 0;
}

static void server_free(server *srv)
{
	pthread_mutex_destroy(&srv->rate_lock);
	free(srv->rates);
	if (srv->tls_key) {
		sodium_memzero(srv->tls_key, strlen(srv->tls_key));
		free(srv->tls_key);
	}
	free(srv->tls_cert);
	metrics_destroy(&srv->metrics);
	free(srv);
}

int server_start(server **out, const xf_config *cfg, xf_store *s, const xf_key *key, bool check_only)
{
	struct sockaddr_storage addr = { 0 };
	server *srv;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_USE_SUPPRESS_DATE_NO_CLOCK;
	int r;

	r = resolve(cfg->listen, &addr);
	if (r == XF_ECONFIG)
		return r;
	if (r < 0)
		return log_error_errno(r, "cannot serve on %s", cfg->listen);
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return log_error_errno(-ENOMEM, "cannot serve on %s", cfg->listen);
	srv->store = s;
	srv->key = key;
	srv->cfg = cfg;
	metrics_init(&srv->metrics);
	pthread_mutex_init(&srv->rate_lock, NULL);
	srv->rates = calloc(RATE_SLOTS, sizeof(*srv->rates));
	if (!srv->rates) {
		server_free(srv);
		return log_error_errno(-ENOMEM, "cannot serve on %s", cfg->listen);
	}
	if (cfg->admin_token_file[0] && sodium_init() < 0) {
		server_free(srv);
		return log_error_errno(-ENOMEM, "cannot set up libsodium");
	}
	if (cfg->admin_token_file[0] && (r = load_admin_token(srv, cfg->admin_token_file)) < 0) {
		server_free(srv);
		return r;
	}
	if (cfg->tls_cert[0]) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_error("this libmicrohttpd has no TLS: serve plain HTTP or install one built with GnuTLS");
			r = XF_ECONFIG;
		} else if ((r = read_pem(cfg->tls_cert, false, &srv->tls_cert)) == 0 &&
			   (r = read_pem(cfg->tls_key, true, &srv->tls_key)) == 0) {
			r = check_tls_pair(srv);
		}
		if (r < 0) {
			server_free(srv);
			return r;
		}
		flags |= MHD_USE_TLS;
	}
	if (check_only) {
		server_free(srv);
		*out = NULL;
		return 0;
	}
	/* Without TLS the certificate options are left out: the list ends at
	 * the first MHD_OPTION_END. */
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
				    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, srv,
				    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
				    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONNECTIONS_PER_IP,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
				    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
				    srv->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->tls_cert,
				    MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key,
				    MHD_OPTION_END);
	/* The TLS pair held above: what is left to fail is the address. */
	if (!srv->mhd) {
		server_free(srv);
		r = bind_error(&addr);
		return log_error_errno(r < 0 ? r : -EADDRINUSE, "cannot serve on %s", cfg->listen);
	}
	*out = srv;
	return 0;
}

void server_stop(server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->mhd);
	server_free(srv);
}
