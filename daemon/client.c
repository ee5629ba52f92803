#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

/* Between tries for the sync lock: short beside any watchdog period, and a
 * try is one system call. */
#define LOCK_RETRY_MS 100

struct client {
	CURL *curl;
	const xf_config *cfg;
	void (*alive)(void);
	const xf_key *key;
	volatile sig_atomic_t *stop;
	int64_t offset_ms;     /* added to our clock when signing: learnt from the upstream */
	char url[1100];
	xf_auth request;       /* the Authorization of the request under way */
	/* the response being received */
	xf_buf body;
	uint64_t server_time;
	char sig[XF_REPLY_SIG_MAX];
	bool deflated;
};

static int curl_ready;

/* curl_global_init initialises libssh2 for scp:// and sftp://, and libssh2
 * built on OpenSSL then loads every cipher and engine: 1.8 MiB resident, a
 * fifth of a village daemon's budget, for protocols CURLOPT_PROTOCOLS_STR
 * never allows. libssh2 counts its initialisations and sets up its crypto
 * only in the first, so one made here without crypto leaves curl's with
 * nothing to do. Looked up rather than linked: a libcurl built without
 * libssh2 simply has no such symbol. */
static void skip_ssh_crypto_init(void)
{
	const int libssh2_init_no_crypto = 0x0001;
	int (*ssh_init)(int);

	*(void **)&ssh_init = dlsym(RTLD_DEFAULT, "libssh2_init");
	if (ssh_init)
		ssh_init(libssh2_init_no_crypto);
}

int client_new(client **out, const xf_config *cfg, const xf_key *key, volatile sig_atomic_t *stop)
{
	client *c;

	if (!cfg->upstream_url[0])
		return -EINVAL;
	if (!curl_ready) {
		skip_ssh_crypto_init();
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return -ENOMEM;
		curl_ready = 1;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return -ENOMEM;
	}
	c->cfg = cfg;
	c->key = key;
	c->stop = stop;
	snprintf(c->url, sizeof(c->url), "%s%s", cfg->upstream_url, XF_SYNC_PATH);
	/* A trailing slash in the configured URL must not double up. */
	if (strstr(c->url, "/" XF_SYNC_PATH))
		snprintf(c->url, sizeof(c->url), "%.*s%s", (int)strlen(cfg->upstream_url) - 1, cfg->upstream_url,
			 XF_SYNC_PATH);
	*out = c;
	return 0;
}

void client_set_alive(client *c, void (*alive)(void))
{
	c->alive = alive;
}

void client_free(client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	xf_buf_dispose(&c->body);
	free(c);
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	client *c = userdata;
	size_t len = size * n;
	uint8_t *p;

	/* Refuse a response over the limit before holding it. */
	if (c->body.len + len > XF_SYNC_WIRE_MAX)
		return 0;
	p = realloc(c->body.data, c->body.len + len);
	if (!p)
		return 0;
	memcpy(p + c->body.len, data, len);
	c->body.data = p;
	c->body.len += len;
	return len;
}

/* The X-Xf-Time value in DATA (LEN bytes, not NUL-terminated), or 0 when it
 * is not a time in ms between 2020 and 2100: the refusal that carries it is
 * not signed, and a clock offset taken from an absurd time would leave the
 * client unable to sign a request at all. */
static uint64_t header_time(const char *data, size_t len)
{
	const uint64_t from = 1577836800000ULL, to = 4102444800000ULL;
	uint64_t t = 0;
	size_t i = 0, digits = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\t'))
		i++;
	for (; i < len && data[i] >= '0' && data[i] <= '9' && digits < 14; i++, digits++)
		t = t * 10 + (uint64_t)(data[i] - '0');
	while (i < len && strchr(" \t\r\n", data[i]))
		i++;
	return i == len && digits && t >= from && t < to ? t : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	client *c = userdata;
	size_t len = size * n;

	if (len > 17 && strncasecmp(data, "Content-Encoding:", 17) == 0)
		c->deflated = strstr(data + 17, "deflate") != NULL;
	if (len > 10 && strncasecmp(data, "X-Xf-Time:", 10) == 0)
		c->server_time = header_time(data + 10, len - 10);
	if (len > 9 && strncasecmp(data, XF_REPLY_HEADER ":", 9) == 0) {
		/* curl's header line is not NUL-terminated. */
		size_t at = 9, sig_len = 0;

		while (at < len && (data[at] == ' ' || data[at] == '\t'))
			at++;
		while (at + sig_len < len && !strchr(" \t\r\n", data[at + sig_len]))
			sig_len++;
		/* One that does not fit is left empty: the answer is refused. */
		if (sig_len < sizeof(c->sig)) {
			memcpy(c->sig, data + at, sig_len);
			c->sig[sig_len] = '\0';
		}
	}
	return len;
}

/* Every byte on the wire, headers and bodies, both ways: what the village
 * pays for on a metered link. */
static int on_debug(CURL *handle, curl_infotype type, char *data, size_t size, void *userdata)
{
	client_report *rep = userdata;

	(void)handle, (void)data;
	if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
		rep->bytes_sent += size;
	else if (type == CURLINFO_HEADER_IN || type == CURLINFO_DATA_IN)
		rep->bytes_received += size;
	return 0;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	client *c = userdata;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (c->alive)
		c->alive();
	return c->stop && *c->stop;
}

/* One POST of WIRE (the request body, DEFLATED or not). The response body
 * is left in c->body, inflated. */
static int post(client *c, const xf_buf *wire, bool deflated, client_report *rep, long *status)
{
	char auth[XF_AUTH_HEADER_MAX + 32], auth_value[XF_AUTH_HEADER_MAX];
	struct curl_slist *headers = NULL;
	xf_buf inflated = { 0 };
	CURLcode cr;
	int r;

	xf_buf_dispose(&c->body);
	c->server_time = 0;
	c->sig[0] = '\0';
	c->deflated = false;
	r = xf_auth_make(c->key, c->cfg->node_id, "POST", XF_SYNC_PATH, (uint64_t)((int64_t)xf_wall_ms() + c->offset_ms),
			 wire->data, wire->len, auth_value);
	if (r == 0)
		r = xf_auth_parse(auth_value, &c->request);
	if (r < 0) {
		snprintf(rep->error, sizeof(rep->error), "cannot sign the request: %s", xf_strerror(r));
		return r;
	}
	snprintf(auth, sizeof(auth), "Authorization: %s", auth_value);
	headers = curl_slist_append(headers, auth);
	headers = curl_slist_append(headers, "Content-Type: " XF_SYNC_CONTENT_TYPE);
	if (deflated)
		headers = curl_slist_append(headers, "Content-Encoding: deflate");
	/* Nothing the server does not read: every byte counts on a slow link. */
	headers = curl_slist_append(headers, "Accept:");
	headers = curl_slist_append(headers, "Expect:");
	if (!headers)
		return -ENOMEM;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, wire->data);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)wire->len);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)c->cfg->upload_limit_kib * 1024);
	/* https: the system's CAs, or those of ca_file; and, with pinned_key,
	 * only the upstream whose public key that is. A pin without ca_file
	 * is the whole trust, whoever signed the certificate (a township's
	 * own, most often): no CA is asked. */
	if (c->cfg->ca_file[0])
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cfg->ca_file);
	if (c->cfg->pinned_key[0])
		curl_easy_setopt(c->curl, CURLOPT_PINNEDPUBLICKEY, c->cfg->pinned_key);
	if (c->cfg->pinned_key[0] && !c->cfg->ca_file[0])
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(c->curl, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(c->curl, CURLOPT_DEBUGDATA, rep);
	cr = curl_easy_perform(c->curl);
	curl_slist_free_all(headers);
	rep->requests++;
	if (cr == CURLE_SSL_CACERT_BADFILE && c->cfg->ca_file[0]) {
		/* curl says "problem with the SSL CA cert" and never which file */
		snprintf(rep->error, sizeof(rep->error), "[upstream] ca_file %.160s cannot be read as PEM certificates",
			 c->cfg->ca_file);
		return -EHOSTUNREACH;
	}
	if (cr != CURLE_OK) {
		snprintf(rep->error, sizeof(rep->error), "upstream %.120s: %s", c->cfg->upstream_url,
			 cr == CURLE_ABORTED_BY_CALLBACK ? "stopped" : curl_easy_strerror(cr));
		return cr == CURLE_ABORTED_BY_CALLBACK ? -EINTR : -EHOSTUNREACH;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	rep->http_status = *status;
	if (c->deflated && c->body.len) {
		/* A 200 is believed only once its X-Xf-Sig holds over the
		 * inflated body; nothing signs a refusal. */
		r = xf_inflate(c->body.data, c->body.len, XF_SYNC_BODY_MAX, *status != 200, &inflated);
		if (r < 0) {
			snprintf(rep->error, sizeof(rep->error), "upstream sent a body that does not inflate: %s",
				 xf_strerror(r));
			return r;
		}
		xf_buf_dispose(&c->body);
		c->body = inflated;
	}
	return 0;
}

/* The server's plain-text reason for a refusal, made safe to print. */
static void refusal(client *c, long status, client_report *rep)
{
	char reason[160] = "";
	size_t i, n = c->body.len < sizeof(reason) - 1 ? c->body.len : sizeof(reason) - 1;

	for (i = 0; i < n && c->body.data[i] != '\n'; i++)
		reason[i] = c->body.data[i] >= 0x20 && c->body.data[i] != 0x7f ? (char)c->body.data[i] : '?';
	reason[i] = '\0';
	snprintf(rep->error, sizeof(rep->error), "upstream refused (HTTP %ld): %s", status,
		 reason[0] ? reason : "no reason given");
}

static bool own_event(const client *c, const char *event_id)
{
	char origin[XF_NODE_ID_MAX + 1];
	uint64_t seq;

	return xf_event_id_parse(event_id, origin, &seq) == 0 && strcmp(origin, c->cfg->node_id) == 0;
}

/* One round: push a batch, pull a batch, leaving out the origins in
 * REFUSED. Sets *more when another round has work. */
static int round_trip(client *c, xf_store *s, xf_sync_skip *refused, client_report *rep, bool *more)
{
	xf_buf wire = { 0 };
	xf_sync_push push;
	xf_sync_stats st;
	long status = 0;
	bool deflated;
	int r, tries;

	/* A refusal for clock skew carries the server's time: correct the
	 * offset and try once more, with a request that tells it. */
	for (tries = 0; tries < 2; tries++) {
		xf_buf_dispose(&wire);
		r = xf_sync_request(s, XF_SOFTWARE, c->offset_ms, refused, &wire, &deflated, &push);
		if (r < 0) {
			snprintf(rep->error, sizeof(rep->error), "cannot build a request: %s", xf_strerror(r));
			return r;
		}
		r = post(c, &wire, deflated, rep, &status);
		if (r < 0 || status != 401 || !c->server_time)
			break;
		c->offset_ms = (int64_t)c->server_time - (int64_t)xf_wall_ms();
		rep->skew_ms = c->offset_ms;
		rep->skew_known = true;
	}
	xf_buf_dispose(&wire);
	if (r < 0)
		return r;
	if (status != 200) {
		refusal(c, status, rep);
		return status == 413 ? XF_ETOOBIG : -EACCES;
	}
	r = xf_sync_apply(s, &push, &c->request, c->body.data, c->body.len, c->sig, xf_wall_ms(), &st);
	if (r < 0) {
		if (r == XF_EUNKNOWNNODE)
			snprintf(rep->error, sizeof(rep->error),
				 "upstream '%s' is not enrolled here as this node's upstream (xinfangctl enroll)", st.peer);
		else if (r == XF_EBADSIG && !c->sig[0])
			snprintf(rep->error, sizeof(rep->error),
				 "upstream '%s' sent an unsigned answer (its software is older than this node's, "
				 "or the answer was altered on the way); nothing applied", st.peer);
		else if (r == XF_EBADSIG)
			snprintf(rep->error, sizeof(rep->error),
				 "upstream '%s': its answer or receipt is not signed by its key for this request "
				 "(altered on the way, or an old answer); nothing applied", st.peer);
		else
			snprintf(rep->error, sizeof(rep->error), "cannot apply the upstream's answer: %s", xf_strerror(r));
		return r;
	}
	if (st.server_ms) {
		rep->skew_ms = (int64_t)st.server_ms - (int64_t)xf_wall_ms();
		rep->skew_known = true;
	}
	rep->pushed += st.pushed;
	rep->pulled += st.pulled;
	rep->rejected += st.rejected;
	rep->receipt |= st.receipt;
	*more = st.more;
	if (st.rejected) {
		snprintf(rep->error, sizeof(rep->error), "%zu events refused, first %s: %s", st.rejected,
			 st.first_rejected, xf_strerror(st.first_error));
		/* Pushed events refused stay pending, for the next sync: this
		 * one goes on without their origin, or stops when that is
		 * nothing new, or is this node's own (the enrolments the other
		 * origins need may be behind it). Pulled ones refused here come
		 * again next time. */
		*more = st.first_refused_up[0] && !own_event(c, st.first_refused_up) &&
			xf_sync_skip_add(refused, st.first_refused_up);
	}
	return 0;
}

static void record_outcome(xf_store *s, int r, const client_report *rep)
{
	char key_attempt[] = "sync:last_attempt", key_ok[] = "sync:last_ok", key_err[] = "sync:last_error",
	     key_skew[] = "sync:skew";
	uint8_t now[8], skew[8];
	uint64_t t = xf_wall_ms(), sk = (uint64_t)rep->skew_ms;
	xf_kv kv[3];
	size_t n = 0;

	for (int i = 7; i >= 0; i--, t >>= 8, sk >>= 8) {
		now[i] = (uint8_t)t;
		skew[i] = (uint8_t)sk;
	}
	kv[n++] = (xf_kv){ key_attempt, now, 8 };
	kv[n++] = (xf_kv){ r == 0 ? key_ok : key_err, r == 0 ? (const void *)now : rep->error,
			   r == 0 ? 8 : strlen(rep->error) };
	/* A sync that heard nothing from the upstream leaves the skew last
	 * measured: an unreachable upstream says nothing of our clock. */
	if (rep->skew_known)
		kv[n++] = (xf_kv){ key_skew, skew, 8 };
	xf_store_state_put(s, kv, n);
}

/* One sync at a time per node: the daemon's and `xinfangctl sync` take
 * turns, so acknowledgements and cursors are never interleaved. The lock
 * is tried again and again rather than waited for: the other's sync may
 * take minutes, through which the daemon must keep feeding systemd's
 * watchdog and hearing SIGTERM. */
static int lock_sync(const client *c)
{
	const struct timespec retry = { .tv_nsec = LOCK_RETRY_MS * 1000000L };
	char path[1100];
	int fd, r;

	snprintf(path, sizeof(path), "%s/sync.lock", c->cfg->data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		r = -errno;
		if (r != -EWOULDBLOCK && r != -EINTR)
			break;
		if (c->stop && *c->stop) {
			r = -EINTR;
			break;
		}
		if (c->alive)
			c->alive();
		nanosleep(&retry, NULL);
	}
	close(fd);
	return r;
}

int client_sync(client *c, xf_store *s, client_report *rep)
{
	xf_sync_skip refused = { 0 };
	bool more = true;
	int r = 0, rounds, lock;

	memset(rep, 0, sizeof(*rep));
	lock = lock_sync(c);
	if (lock < 0) {
		snprintf(rep->error, sizeof(rep->error), "cannot lock %.160s/sync.lock: %s", c->cfg->data_dir,
			 xf_strerror(lock));
		return lock;
	}
	for (rounds = 0; more && rounds < CLIENT_ROUNDS_MAX; rounds++) {
		if (c->stop && *c->stop) {
			r = -EINTR;
			snprintf(rep->error, sizeof(rep->error), "stopped");
			break;
		}
		r = round_trip(c, s, &refused, rep, &more);
		xf_store_trim(s);
		if (r < 0)
			break;
	}
	if (r == 0 && rep->rejected)
		r = XF_EPROTO;
	record_outcome(s, r, rep);
	close(lock);
	return r;
}
