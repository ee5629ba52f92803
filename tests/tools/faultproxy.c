/* faultproxy: a TCP proxy that breaks HTTP exchanges on purpose, for the
 * network-fault tests (tests/integration/test_faults.bats).
 *
 *   faultproxy --listen HOST:PORT --to HOST:PORT [--seed N] [--faults LIST]
 *              [--rate PERCENT] [--max-run N] [--log FILE] [--port-file FILE]
 *
 * Each exchange (one request and its response; a kept-alive connection
 * carries several) is forwarded cleanly or, with probability --rate
 * (default 50), suffers one fault of LIST (default: all of them):
 *
 *   drop                the request is read and the connection closed:
 *                       nothing reaches the upstream
 *   truncate-request    the upstream gets only a prefix of the request,
 *                       cut inside the body (inside the headers when there
 *                       is no body), then, 0.2 s later, both sides are closed
 *   truncate-response   the request goes through whole; the client gets a
 *                       prefix of the response cut inside its body
 *   delay               the request, or the response, is held 0.5-3 s
 *   reset               the client gets a TCP RST (SO_LINGER 0) before the
 *                       request is forwarded, or after the upstream answered
 *   duplicate-request   a copy of the request goes over a connection of its
 *                       own, its response thrown away: at once, to race the
 *                       original in the upstream, or 0.5-3 s later, a replay
 *                       when the client has moved on
 *   duplicate-response  the client gets the response twice in a row: bytes
 *                       after a complete response, on a connection it may
 *                       want to reuse
 *   stale-response      the request goes through whole, but the client gets
 *                       the last response the proxy passed on before, not
 *                       this one: an old answer passed off as new (until
 *                       there is one, the real response goes down)
 *   unsigned-response   the response goes down without its X-Xf-Sig header,
 *                       as a township older than signed answers sends it
 *   forged-skew         the request goes nowhere; the client gets a refusal
 *                       for clock skew (401, unsigned like every refusal)
 *                       whose X-Xf-Time no clock can show
 *
 * Faults are dealt from a shuffled deck of LIST, so that every one of them
 * comes up once in each len(LIST) faulty exchanges; with --max-run N no
 * more than N exchanges in a row are faulty, which bounds a client's
 * backoff. Everything random comes from --seed (default 1): one client
 * making its requests one after the other sees the same faults each run.
 *
 * The proxy reads whole messages, framed by Content-Length (a response
 * without one runs to the end of the connection); nothing else of HTTP
 * is understood, and no message is altered but by unsigned-response. One line per exchange goes to --log
 * (default stderr); on SIGTERM or SIGINT it closes its connections (a
 * late copy not yet sent is cancelled), writes a summary line with the
 * count of each fault, and exits 0. With
 * --port-file the bound port (useful with port 0) is written there once
 * it listens.
 *
 * Errors: one line on stderr, exit 1; usage: exit 2. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX (64u << 10)
#define MSG_MAX (16u << 20)     /* per message, per direction */
#define IO_TIMEOUT_MS (60 * 1000)
#define CONNS_MAX 64
#define DELAY_MIN_MS 500
#define DELAY_MAX_MS 3000
#define TRUNC_CLOSE_DELAY_MS 200

enum fault {
	CLEAN, DROP, TRUNC_REQ, TRUNC_RESP, DELAY, RESET, DUP_REQ, DUP_RESP, STALE_RESP, UNSIGNED_RESP, FORGED_SKEW,
	FAULTS
};

static const char *const fault_names[FAULTS] = {
	"clean", "drop", "truncate-request", "truncate-response",
	"delay", "reset", "duplicate-request", "duplicate-response", "stale-response", "unsigned-response",
	"forged-skew",
};

static const char forged_skew[] = "HTTP/1.1 401 Unauthorized\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "X-Xf-Time: 18000000000000000000\r\n"
				  "Content-Length: 26\r\n"
				  "\r\n"
				  "clock skew: see X-Xf-Time\n";

static const char *arg_listen, *arg_to, *arg_log, *arg_port_file;
static uint64_t arg_seed = 1;
static unsigned arg_rate = 50, arg_max_run = UINT32_MAX;
static enum fault arg_faults[FAULTS];
static size_t arg_n_faults;

static struct sockaddr_storage upstream_addr;
static socklen_t upstream_len;
static int stop_pipe[2] = { -1, -1 };
static FILE *log_file;

/* Under lock: the random state, the deck, the counts and the log. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static uint64_t rng;
static enum fault deck[FAULTS];
static size_t deck_pos;
static unsigned run;
static unsigned long connections, exchanges, counts[FAULTS], active;

/* Bytes read from one side and not yet passed on. */
struct buf {
	uint8_t *data;
	size_t len, cap;
};

/* Under lock: the last response passed on whole, for stale-response. */
static struct buf last_response;

/* A client's connection, and the proxy's own to the upstream for it. */
struct conn {
	unsigned long id;
	int client, upstream;
	struct buf in, out;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lock);
	fputs("faultproxy: ", log_file);
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fputc('\n', log_file);
	fflush(log_file);
	pthread_mutex_unlock(&lock);
}

/* splitmix64: small, and the same numbers for the same seed everywhere. */
static uint64_t next_random(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
	return z ^ (z >> 31);
}

/* The fault for the next exchange, and a random number for its details. */
static enum fault choose(uint64_t *param)
{
	enum fault f = CLEAN;
	size_t i, j;

	pthread_mutex_lock(&lock);
	if (next_random() % 100 < arg_rate && arg_n_faults && run < arg_max_run) {
		if (deck_pos == 0) {
			memcpy(deck, arg_faults, arg_n_faults * sizeof(deck[0]));
			for (i = arg_n_faults - 1; i > 0; i--) {
				enum fault t = deck[i];

				j = next_random() % (i + 1);
				deck[i] = deck[j];
				deck[j] = t;
			}
		}
		f = deck[deck_pos];
		deck_pos = (deck_pos + 1) % arg_n_faults;
	}
	run = f == CLEAN ? 0 : run + 1;
	*param = next_random();
	exchanges++;
	counts[f]++;
	pthread_mutex_unlock(&lock);
	return f;
}

/* ---- I/O on non-blocking sockets, cut short when the proxy stops ---- */

/* Wait until FD is ready for EVENTS: 0, -ETIMEDOUT, or -ECANCELED when the
 * proxy is stopping. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = stop_pipe[0], .events = POLLIN }, { .fd = fd, .events = events } };
	int n;

	for (;;) {
		n = poll(p, fd >= 0 ? 2 : 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[0].revents)
			return -ECANCELED;
		return n == 0 ? -ETIMEDOUT : 0;
	}
}

static int sleep_ms(int ms)
{
	int r = wait_fd(-1, 0, ms);

	return r == -ETIMEDOUT ? 0 : r;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;
	int r;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if ((r = wait_fd(fd, POLLOUT, IO_TIMEOUT_MS)) < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read what FD has into B: the count, 0 at the end of the stream. */
static ssize_t read_some(int fd, struct buf *b, int timeout_ms)
{
	size_t cap;
	ssize_t n;
	uint8_t *p;
	int r;

	if (b->len == b->cap) {
		if (b->cap >= MSG_MAX + HEAD_MAX)
			return -EMSGSIZE;
		cap = b->cap ? b->cap * 2 : 16384;
		if (cap > MSG_MAX + HEAD_MAX)
			cap = MSG_MAX + HEAD_MAX;
		if (!(p = realloc(b->data, cap)))
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	for (;;) {
		n = recv(fd, b->data + b->len, b->cap - b->len, 0);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if ((r = wait_fd(fd, POLLIN, timeout_ms)) < 0)
			return r;
	}
	b->len += (size_t)n;
	return n;
}

/* The value of Content-Length in the headers HEAD[0..len), or -1. */
static long long content_length(const uint8_t *head, size_t len)
{
	static const char name[] = "\r\ncontent-length:";
	size_t i, k = sizeof(name) - 1;
	long long v = 0;

	for (i = 0; i + k <= len; i++) {
		if (strncasecmp((const char *)head + i, name, k) != 0)
			continue;
		for (i += k; i < len && (head[i] == ' ' || head[i] == '\t'); i++)
			;
		if (i == len || head[i] < '0' || head[i] > '9')
			return -1;
		for (; i < len && head[i] >= '0' && head[i] <= '9' && v <= MSG_MAX; i++)
			v = v * 10 + (head[i] - '0');
		return v;
	}
	return -1;
}

/* Read one whole message from FD into B: its size, and the size of its
 * headers in *head; 0 when the stream ends before a message starts.
 * *until_close tells a response that runs to the end of the stream. */
static ssize_t read_message(int fd, struct buf *b, bool response, size_t *head, bool *until_close, int timeout_ms)
{
	long long body = -1;
	ssize_t n;
	uint8_t *end;

	*head = 0;
	*until_close = false;
	for (;;) {
		if (!*head && b->len >= 4 && (end = memmem(b->data, b->len, "\r\n\r\n", 4))) {
			*head = (size_t)(end - b->data) + 4;
			body = content_length(b->data, *head);
			if (body > (long long)MSG_MAX)
				return -EMSGSIZE;
			if (body < 0 && !response)
				body = 0;
		}
		if (*head && body >= 0 && b->len >= *head + (size_t)body)
			return (ssize_t)(*head + (size_t)body);
		if (!*head && b->len > HEAD_MAX)
			return -EMSGSIZE;
		n = read_some(fd, b, timeout_ms);
		if (n < 0)
			return n;
		if (n == 0 && *head && body < 0) {
			*until_close = true;
			return (ssize_t)b->len;
		}
		if (n == 0)
			return b->len ? -ECONNRESET : 0;
	}
}

static void consume(struct buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

/* Take the header line NAME ("\r\nName:") out of the message at the start
 * of B, whose headers are HEAD bytes: how many bytes went. */
static size_t drop_header(struct buf *b, size_t head, const char *name)
{
	size_t i, k = strlen(name), eol;

	for (i = 0; i + k <= head; i++) {
		if (strncasecmp((const char *)b->data + i, name, k) != 0)
			continue;
		for (eol = i + 2; eol + 1 < head && memcmp(b->data + eol, "\r\n", 2) != 0; eol++)
			;
		memmove(b->data + i, b->data + eol, b->len - eol);
		b->len -= eol - i;
		return eol - i;
	}
	return 0;
}

/* Keep a copy of response P (LEN bytes) as the last one passed on. */
static int keep_response(const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, len);
	pthread_mutex_lock(&lock);
	free(last_response.data);
	last_response = (struct buf){ copy, len, len };
	pthread_mutex_unlock(&lock);
	return 0;
}

/* A copy of the last response passed on into *OUT, which the caller frees:
 * 0, or -ENOENT when none was yet. */
static int copy_last_response(struct buf *out)
{
	int r = -ENOENT;

	pthread_mutex_lock(&lock);
	if (last_response.len) {
		out->data = malloc(last_response.len);
		r = out->data ? 0 : -ENOMEM;
		if (r == 0) {
			memcpy(out->data, last_response.data, last_response.len);
			out->len = out->cap = last_response.len;
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

static int connect_upstream(void)
{
	socklen_t len = sizeof(int);
	int fd, r = 0, err = 0;

	fd = socket(upstream_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&upstream_addr, upstream_len) < 0) {
		if (errno != EINPROGRESS)
			r = -errno;
		else if ((r = wait_fd(fd, POLLOUT, IO_TIMEOUT_MS)) == 0 &&
			 (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err))
			r = err ? -err : -errno;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Close FD with a TCP RST rather than a FIN. */
static void reset_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Until the client sends its next request: 1 when it has, 0 when either
 * side closed the connection meanwhile (an upstream that times out an
 * idle connection closes the client's too, as a plain TCP proxy would). */
static int wait_request(struct conn *c)
{
	struct pollfd p[3] = { { .fd = stop_pipe[0], .events = POLLIN },
			       { .fd = c->client, .events = POLLIN },
			       { .fd = c->upstream, .events = POLLIN } };
	int n;

	if (c->in.len)
		return 1;
	do
		n = poll(p, 3, -1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (p[0].revents)
		return -ECANCELED;
	return p[2].revents ? 0 : 1;
}

/* Connection and replay threads are counted, so that the proxy can wait
 * for them all as it stops. */
static int spawn(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	pthread_mutex_lock(&lock);
	active++;
	pthread_mutex_unlock(&lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		pthread_mutex_lock(&lock);
		active--;
		pthread_mutex_unlock(&lock);
	}
	return r;
}

static void finished(void)
{
	pthread_mutex_lock(&lock);
	active--;
	pthread_cond_signal(&idle_cond);
	pthread_mutex_unlock(&lock);
}

struct replay {
	unsigned long conn;
	int after_ms;
	size_t len;
	uint8_t req[];
};

/* The copy of a request, sent AFTER_MS after the original over a
 * connection of its own; the response is read and thrown away. */
static void *replay_main(void *arg)
{
	struct replay *rp = arg;
	struct buf b = { 0 };
	ssize_t n = 0;
	size_t head;
	bool until_close;
	int fd = -1, r;

	if ((r = sleep_ms(rp->after_ms)) == 0 && (r = fd = connect_upstream()) >= 0 &&
	    (r = write_all(fd, rp->req, rp->len)) == 0)
		r = (int)(n = read_message(fd, &b, true, &head, &until_close, IO_TIMEOUT_MS));
	say("conn %lu: the copy of its request, %d ms later: %zd response bytes back, thrown away%s", rp->conn,
	    rp->after_ms, n > 0 ? n : 0, r == -ECANCELED ? " (cancelled: stopping)" : r < 0 ? " (the copy failed)" : "");
	if (fd >= 0)
		close(fd);
	free(b.data);
	free(rp);
	finished();
	return NULL;
}

static int replay(unsigned long conn, const uint8_t *req, size_t len, int after_ms)
{
	struct replay *rp = malloc(sizeof(*rp) + len);
	int r;

	if (!rp)
		return -ENOMEM;
	*rp = (struct replay){ .conn = conn, .after_ms = after_ms, .len = len };
	memcpy(rp->req, req, len);
	if ((r = spawn(replay_main, rp)) < 0)
		free(rp);
	return r;
}

/* One exchange on C: 1 when the connection goes on, 0 when it is over,
 * negative on an error. */
static int exchange(struct conn *c)
{
	char what[96] = "";
	struct buf stale = { 0 };
	size_t req_len, resp_len = 0, head, up = 0, down = 0, cut;
	uint64_t p;
	enum fault f;
	ssize_t n;
	bool until_close, early;
	int delay_ms, r;

	if ((r = wait_request(c)) <= 0)
		return r;
	n = read_message(c->client, &c->in, false, &head, &until_close, IO_TIMEOUT_MS);
	if (n <= 0)
		return (int)n;
	req_len = (size_t)n;
	f = choose(&p);
	/* The details: where to cut, how long to wait, before or after. */
	delay_ms = DELAY_MIN_MS + (int)(p % (DELAY_MAX_MS - DELAY_MIN_MS + 1));
	early = p >> 63;
	if (f == DROP) {
		r = 0;
		goto done;
	}
	if (f == FORGED_SKEW) {
		if ((r = write_all(c->client, (const uint8_t *)forged_skew, sizeof(forged_skew) - 1)) < 0)
			goto done;
		down = sizeof(forged_skew) - 1;
		consume(&c->in, req_len);
		r = until_close ? 0 : 1;
		goto done;
	}
	if (f == TRUNC_REQ) {
		/* Inside the body; inside the headers when there is none. */
		up = req_len > head ? head + p % (req_len - head) : 1 + p % (head - 1);
		r = write_all(c->upstream, c->in.data, up);
		snprintf(what, sizeof(what), " (cut at %zu of %zu)", up, req_len);
		/* As when a link drops mid-upload: the upstream has read the
		 * prefix before it sees the close, not both in one read. */
		if (r >= 0)
			r = sleep_ms(TRUNC_CLOSE_DELAY_MS);
		r = r < 0 ? r : 0;
		goto done;
	}
	if (f == RESET && early) {
		reset_close(c->client);
		c->client = -1;
		snprintf(what, sizeof(what), " (before the request)");
		r = 0;
		goto done;
	}
	if (f == DELAY && early) {
		snprintf(what, sizeof(what), " (the request held %d ms)", delay_ms);
		if ((r = sleep_ms(delay_ms)) < 0)
			goto done;
	}
	if ((r = write_all(c->upstream, c->in.data, req_len)) < 0)
		goto done;
	up = req_len;
	/* The copy goes at once, to race the original in the upstream, or
	 * late, when the client has moved on. */
	if (f == DUP_REQ) {
		if ((r = replay(c->id, c->in.data, req_len, early ? 0 : delay_ms)) < 0)
			goto done;
		snprintf(what, sizeof(what), " (a copy follows %d ms later)", early ? 0 : delay_ms);
	}
	n = read_message(c->upstream, &c->out, true, &head, &until_close, IO_TIMEOUT_MS);
	if (n <= 0) {
		r = n < 0 ? (int)n : -ECONNRESET;
		goto done;
	}
	resp_len = (size_t)n;
	switch (f) {
	case RESET:
		reset_close(c->client);
		c->client = -1;
		snprintf(what, sizeof(what), " (after the upstream answered)");
		r = 0;
		goto done;
	case TRUNC_RESP:
		cut = resp_len > head ? head + p % (resp_len - head) : 1 + p % (head - 1);
		r = write_all(c->client, c->out.data, cut);
		down = cut;
		snprintf(what, sizeof(what), " (cut at %zu of %zu)", cut, resp_len);
		r = r < 0 ? r : 0;
		goto done;
	case DELAY:
		if (!early) {
			snprintf(what, sizeof(what), " (the response held %d ms)", delay_ms);
			if ((r = sleep_ms(delay_ms)) < 0)
				goto done;
		}
		break;
	case UNSIGNED_RESP:
		cut = drop_header(&c->out, head, "\r\nX-Xf-Sig:");
		resp_len -= cut;
		snprintf(what, sizeof(what), " (%zu bytes of X-Xf-Sig taken out)", cut);
		break;
	case STALE_RESP:
		r = copy_last_response(&stale);
		if (r == -ENOENT) {
			snprintf(what, sizeof(what), " (none passed on yet: this one went down)");
			break;
		}
		if (r < 0 || (r = write_all(c->client, stale.data, stale.len)) < 0)
			goto done;
		down = stale.len;
		snprintf(what, sizeof(what), " (an earlier one of %zu bytes went down)", stale.len);
		consume(&c->in, req_len);
		consume(&c->out, resp_len);
		r = until_close ? 0 : 1;
		goto done;
	default:
		break;
	}
	if ((r = write_all(c->client, c->out.data, resp_len)) < 0 || (r = keep_response(c->out.data, resp_len)) < 0)
		goto done;
	down = resp_len;
	if (f == DUP_RESP) {
		if ((r = write_all(c->client, c->out.data, resp_len)) < 0)
			goto done;
		down += resp_len;
	}
	consume(&c->in, req_len);
	consume(&c->out, resp_len);
	r = until_close ? 0 : 1;
done:
	free(stale.data);
	say("conn %lu: %s%s: %zu of %zu request bytes up, %zu of %zu response bytes down%s", c->id, fault_names[f],
	    what, up, req_len, down, resp_len, r < 0 ? " (the exchange failed)" : "");
	return r;
}

static void conn_free(struct conn *c)
{
	if (c->client >= 0)
		close(c->client);
	if (c->upstream >= 0)
		close(c->upstream);
	free(c->in.data);
	free(c->out.data);
	free(c);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	int r;

	c->upstream = connect_upstream();
	if (c->upstream < 0)
		say("conn %lu: cannot reach the upstream %s: %s", c->id, arg_to, strerror(-c->upstream));
	else
		while ((r = exchange(c)) > 0)
			;
	conn_free(c);
	finished();
	return NULL;
}

/* ---- the listener ---- */

static void on_stop(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(stop_pipe[1], "x", 1) < 0) {
		/* already written: the pipe is readable either way */
	}
	errno = saved;
}

static int resolve(const char *hostport, struct sockaddr_storage *addr, socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM }, *ai;
	size_t n;

	if (!colon || (n = (size_t)(colon - hostport)) == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, n);
	host[n] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EADDRNOTAVAIL;
	memcpy(addr, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int bound_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
					     : ((struct sockaddr_in *)&a)->sin_port);
}

static int write_port_file(int port)
{
	char tmp[4096];
	FILE *f;

	/* Renamed into place, so that a reader never sees half of it. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", arg_port_file);
	if (!(f = fopen(tmp, "we")))
		return -errno;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, arg_port_file) < 0)
		return -errno;
	return 0;
}

static int listen_on(const char *hostport)
{
	struct sockaddr_storage a;
	socklen_t len;
	int fd, one = 1, r;

	if ((r = resolve(hostport, &a, &len)) < 0)
		return r;
	fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int serve(int lfd)
{
	struct pollfd p[2] = { { .fd = stop_pipe[0], .events = POLLIN }, { .fd = lfd, .events = POLLIN } };
	struct conn *c;
	bool full;
	int fd, n;

	for (;;) {
		pthread_mutex_lock(&lock);
		full = active >= CONNS_MAX;
		pthread_mutex_unlock(&lock);
		n = poll(p, full ? 1 : 2, full ? 100 : -1);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (p[0].revents)
			break;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* Out of descriptors, say: not a busy loop. */
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				sleep_ms(100);
			continue;
		}
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->client = fd;
		c->upstream = -1;
		pthread_mutex_lock(&lock);
		c->id = ++connections;
		pthread_mutex_unlock(&lock);
		if (spawn(conn_main, c) < 0)
			conn_free(c);
	}
	/* Each connection sees the stop pipe too, and ends at once. */
	pthread_mutex_lock(&lock);
	while (active)
		pthread_cond_wait(&idle_cond, &lock);
	pthread_mutex_unlock(&lock);
	return 0;
}

/* ---- arguments ---- */

static int usage(void)
{
	fputs("usage: faultproxy --listen HOST:PORT --to HOST:PORT [--seed N] [--faults LIST] [--rate PERCENT]\n"
	      "                  [--max-run N] [--log FILE] [--port-file FILE] (see tests/tools/faultproxy.c)\n",
	      stderr);
	return 2;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_faults(const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;
	bool ok = copy != NULL;
	size_t i;
	int f;

	arg_n_faults = 0;
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; ok && tok; tok = strtok_r(NULL, ",", &save)) {
		for (f = DROP; f < FAULTS && strcmp(tok, fault_names[f]) != 0; f++)
			;
		for (i = 0; i < arg_n_faults && arg_faults[i] != (enum fault)f; i++)
			;
		if (f == FAULTS || i < arg_n_faults) {
			fprintf(stderr, "faultproxy: unknown or repeated fault '%s'\n", tok);
			ok = false;
		} else {
			arg_faults[arg_n_faults++] = (enum fault)f;
		}
	}
	free(copy);
	return ok;
}

static int parse_args(int argc, char **argv)
{
	uint64_t v;
	int i;

	for (i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return usage();
		i++;
		if (strcmp(opt, "--listen") == 0) {
			arg_listen = val;
		} else if (strcmp(opt, "--to") == 0) {
			arg_to = val;
		} else if (strcmp(opt, "--seed") == 0 && parse_uint(val, UINT64_MAX, &v)) {
			arg_seed = v;
		} else if (strcmp(opt, "--rate") == 0 && parse_uint(val, 100, &v)) {
			arg_rate = (unsigned)v;
		} else if (strcmp(opt, "--max-run") == 0 && parse_uint(val, UINT32_MAX, &v)) {
			arg_max_run = (unsigned)v;
		} else if (strcmp(opt, "--faults") == 0) {
			if (!parse_faults(val))
				return 2;
		} else if (strcmp(opt, "--log") == 0) {
			arg_log = val;
		} else if (strcmp(opt, "--port-file") == 0) {
			arg_port_file = val;
		} else {
			fprintf(stderr, "faultproxy: bad option '%s %s'\n", opt, val);
			return usage();
		}
	}
	if (!arg_listen || !arg_to)
		return usage();
	if (!arg_n_faults)
		for (i = DROP; i < FAULTS; i++)
			arg_faults[arg_n_faults++] = (enum fault)i;
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop };
	char line[512];
	size_t i, off;
	int lfd, port = 0, r = 0;

	if ((r = parse_args(argc, argv)) != 0)
		return r;
	rng = arg_seed;
	log_file = arg_log ? fopen(arg_log, "ae") : stderr;
	if (!log_file) {
		fprintf(stderr, "faultproxy: %s: %s\n", arg_log, strerror(errno));
		return 1;
	}
	if ((r = resolve(arg_to, &upstream_addr, &upstream_len)) < 0) {
		fprintf(stderr, "faultproxy: --to %s: %s\n", arg_to, strerror(-r));
		goto fail;
	}
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		fprintf(stderr, "faultproxy: pipe: %s\n", strerror(errno));
		goto fail;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = listen_on(arg_listen)) < 0 || (port = bound_port(lfd)) < 0 ||
	    (arg_port_file && (r = write_port_file(port)) < 0)) {
		fprintf(stderr, "faultproxy: --listen %s: %s\n", arg_listen,
			strerror(lfd < 0 ? -lfd : port < 0 ? -port : -r));
		if (lfd >= 0)
			close(lfd);
		goto fail;
	}
	off = (size_t)snprintf(line, sizeof(line), "listening on port %d, forwarding to %s; seed %" PRIu64
			       ", %u%% of exchanges faulty", port, arg_to, arg_seed, arg_rate);
	if (arg_max_run != UINT32_MAX)
		off += (size_t)snprintf(line + off, sizeof(line) - off, ", at most %u in a row", arg_max_run);
	off += (size_t)snprintf(line + off, sizeof(line) - off, ":");
	for (i = 0; i < arg_n_faults && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s", i ? "," : " ", fault_names[arg_faults[i]]);
	say("%s", line);
	serve(lfd);
	close(lfd);
	off = (size_t)snprintf(line, sizeof(line), "%lu exchanges on %lu connections:", exchanges, connections);
	for (i = 0; i < FAULTS && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s %lu %s", i ? "," : "", counts[i], fault_names[i]);
	say("%s", line);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	if (log_file != stderr)
		fclose(log_file);
	return 0;
fail:
	if (log_file != stderr)
		fclose(log_file);
	return 1;
}
